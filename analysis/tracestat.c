/* tracestat.c: memscope-tracestat, the basic statistics of one or more runs as JSON. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_cli.h"
#include "ms_trace.h"

#define PROG "memscope-tracestat"

/* The command line (cli/ms_cli.h): one command, its options. */
enum { O_MODULE = 256 };
static const ms_cli_opt_t options[] = {
    {O_MODULE, "module", "PATH_OR_BASENAME",
     "a second set of counts for allocations whose caller lies in that\n"
     "module (a full path, or a basename such as libfoo.so)"},
    {0, NULL, NULL, NULL}};
static const ms_cli_use_t uses[] = {{O_MODULE, NULL}, {0, NULL}};
static const ms_cli_cmd_t command = {
    NULL, NULL, uses, "RUN_DIR [options]", NULL,
    "Reads a memscope trace (a run directory holding meta.txt, or a directory of\n"
    "memscope.<pid>.<n> run directories) and prints its basic statistics as JSON.\n",
    "Exit status: 0 success (a damaged trace is reported as partial), 2 bad input.\n"};
static const ms_cli_prog_t program = {PROG, options, &command, 1, NULL};

/* Integers go in as raw decimal text: cJSON numbers are doubles and would round values
 * above 2^53 (nanosecond timestamps on a long-running machine). */
static int add_u64(cJSON *obj, const char *key, uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return cJSON_AddRawToObject(obj, key, buf) != NULL;
}

static cJSON *run_json(ms_run_t *run, const ms_stats_t *st) {
  cJSON *r = cJSON_CreateObject();
  if (!r)
    return NULL;
  const ms_meta_t *meta = ms_run_meta(run);
  int ok = cJSON_AddStringToObject(r, "dir", ms_run_dir(run)) != NULL;
  ok &= add_u64(r, "pid", meta->pid);
  ok &= cJSON_AddBoolToObject(r, "partial", ms_run_partial(run)) != NULL;
  ok &= cJSON_AddStringToObject(r, "calibration", ms_run_calibration(run)) != NULL;
  ok &= add_u64(r, "stacks", ms_run_nstacks(run));

  cJSON *damage = cJSON_AddArrayToObject(r, "damage");
  ok &= damage != NULL;
  for (size_t i = 0; ok && i < ms_run_ndamage(run); i++) {
    const ms_damage_t *d = ms_run_damage(run, i);
    cJSON *o = cJSON_CreateObject();
    ok &= o && cJSON_AddItemToArray(damage, o);
    ok &= ok && cJSON_AddStringToObject(o, "file", d->file) != NULL;
    ok &= ok && add_u64(o, "offset", d->offset);
    ok &= ok && cJSON_AddStringToObject(o, "reason", d->reason) != NULL;
  }

  cJSON *m = cJSON_AddObjectToObject(r, "meta");
  ok &= m != NULL;
  for (size_t i = 0; ok && i < meta->nkeys; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(m, meta->keys[i]); /* the last line wins */
    ok &= cJSON_AddStringToObject(m, meta->keys[i], meta->values[i]) != NULL;
  }

  const ms_stats_totals_t *t = &st->totals;
  cJSON *tot = cJSON_AddObjectToObject(r, "totals");
  ok &= tot != NULL;
  if (ok) {
    ok &= add_u64(tot, "allocations", t->allocations);
    ok &= add_u64(tot, "frees", t->frees);
    ok &= add_u64(tot, "reallocs", t->reallocs);
    ok &= add_u64(tot, "allocated_bytes", t->allocated_bytes);
    ok &= add_u64(tot, "peak_live_bytes", t->peak_live_bytes);
    ok &= add_u64(tot, "peak_time_ns", t->peak_time_ns);
    ok &= add_u64(tot, "leaked_blocks", t->leaked_blocks);
    ok &= add_u64(tot, "leaked_bytes", t->leaked_bytes);
    ok &= add_u64(tot, "unmatched_frees", t->unmatched_frees);
    ok &= add_u64(tot, "unmatched_realloc_old", t->unmatched_realloc_old);
    ok &= add_u64(tot, "alloc_over_live", t->alloc_over_live);
    ok &= add_u64(tot, "unknown_stack_refs", t->unknown_stack_refs);
    ok &= add_u64(tot, "marks", t->marks);
    ok &= add_u64(tot, "vars", t->vars);
    ok &= add_u64(tot, "events", t->events);
    ok &= add_u64(tot, "first_ts_ns", t->first_ts_ns);
    ok &= add_u64(tot, "last_ts_ns", t->last_ts_ns);
  }

  cJSON *threads = cJSON_AddArrayToObject(r, "threads");
  ok &= threads != NULL;
  for (size_t i = 0; ok && i < st->nthreads; i++) {
    const ms_stats_thread_t *th = &st->threads[i];
    const ms_thread_info_t *ti = ms_run_thread(run, i);
    cJSON *o = cJSON_CreateObject();
    ok &= o && cJSON_AddItemToArray(threads, o);
    if (!ok)
      break;
    ok &= add_u64(o, "tid", th->tid);
    ok &= add_u64(o, "thread_seq", th->thread_seq);
    ok &= cJSON_AddStringToObject(o, "name", th->name) != NULL;
    ok &= cJSON_AddStringToObject(o, "file", th->path) != NULL;
    ok &= cJSON_AddBoolToObject(o, "damaged", ti->damaged) != NULL;
    ok &= add_u64(o, "allocations", th->allocations);
    ok &= add_u64(o, "frees", th->frees);
    ok &= add_u64(o, "reallocs", th->reallocs);
    ok &= add_u64(o, "allocated_bytes", th->allocated_bytes);
    ok &= add_u64(o, "peak_live_bytes", th->peak_live_bytes);
    ok &= add_u64(o, "peak_time_ns", th->peak_time_ns);
    ok &= add_u64(o, "live_bytes_at_end", th->live_bytes);
  }

  if (ok && st->module.enabled) {
    const ms_stats_module_t *md = &st->module;
    cJSON *o = cJSON_AddObjectToObject(r, "module");
    ok &= o != NULL;
    ok &= ok && cJSON_AddStringToObject(o, "filter", md->module) != NULL;
    if (ok) {
      ok &= add_u64(o, "allocations", md->allocations);
      ok &= add_u64(o, "reallocs", md->reallocs);
      ok &= add_u64(o, "allocated_bytes", md->allocated_bytes);
      ok &= add_u64(o, "frees", md->frees);
      ok &= add_u64(o, "leaked_blocks", md->leaked_blocks);
      ok &= add_u64(o, "leaked_bytes", md->leaked_bytes);
      ok &= add_u64(o, "peak_live_bytes", md->peak_live_bytes);
      ok &= add_u64(o, "peak_time_ns", md->peak_time_ns);
    }
  } else if (ok) {
    ok &= cJSON_AddNullToObject(r, "module") != NULL;
  }
  if (!ok) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *module = NULL;
  ms_cli_t it;
  ms_cli_begin(&it, &program, &command, argc, argv);
  for (int k; (k = ms_cli_next(&it)) != MS_CLI_END;) {
    if (k == MS_CLI_DONE) return 0;
    if (k == MS_CLI_ERROR) return 2;
    if (k == O_MODULE) {
      module = it.arg;
    } else if (dir) {
      return ms_cli_error(&it, "one RUN_DIR only (got %s and %s)", dir, it.arg);
    } else {
      dir = it.arg;
    }
  }
  if (it.rest >= 0 && it.rest < argc) {
    if (dir || it.rest + 1 < argc)
      return ms_cli_error(&it, "one RUN_DIR only (see --help)");
    dir = argv[it.rest]; /* "-- -odd-name" */
  }
  if (!dir)
    return ms_cli_error(&it, "missing RUN_DIR (see --help)");

  char err[512] = "";
  char **dirs;
  size_t ndirs;
  int rc = ms_trace_find_runs(dir, &dirs, &ndirs, err, sizeof err);
  if (rc) {
    fprintf(stderr, PROG ": %s\n", err[0] ? err : ms_trace_strerror(rc));
    return 2;
  }
  cJSON *root = cJSON_CreateObject();
  cJSON *runs = root ? cJSON_AddArrayToObject(root, "runs") : NULL;
  int status = runs ? 0 : 2;
  if (!runs)
    snprintf(err, sizeof err, "out of memory");
  for (size_t i = 0; !status && i < ndirs; i++) {
    ms_run_t *run;
    err[0] = 0;
    rc = ms_run_open(dirs[i], &run, err, sizeof err);
    if (rc) {
      if (!err[0])
        snprintf(err, sizeof err, "%s: %s", dirs[i], ms_trace_strerror(rc));
      status = 2;
      break;
    }
    ms_stats_t *st;
    rc = ms_stats_compute(run, module, &st);
    cJSON *r = NULL;
    if (!rc) {
      r = run_json(run, st);
      ms_stats_free(st);
    }
    if (rc || !r) {
      snprintf(err, sizeof err, "%s: %s", dirs[i], ms_trace_strerror(rc ? rc : MS_TRACE_E_NOMEM));
      status = 2;
    } else {
      cJSON_AddItemToArray(runs, r);
    }
    ms_run_close(run);
  }
  ms_trace_free_dirs(dirs, ndirs);
  if (status) {
    fprintf(stderr, PROG ": %s\n", err);
    cJSON_Delete(root);
    return status;
  }
  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (!text) {
    fprintf(stderr, PROG ": out of memory\n");
    return 2;
  }
  int wrote = puts(text) >= 0 && fflush(stdout) == 0;
  free(text);
  if (!wrote) {
    fprintf(stderr, PROG ": cannot write to stdout\n");
    return 2;
  }
  return 0;
}
