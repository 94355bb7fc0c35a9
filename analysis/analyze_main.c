/* analyze_main.c: memscope-analyze, the analysis engine on one run directory: writes
 * summary.json and the detail files (the harness's `report` command does the same inside
 * its own reports; this tool is for tests, benchmarks and by-hand use). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "ms_analyze.h"
#include "ms_cli.h"
#include "ms_files.h"
#include "ms_format.h"

#define PROG "memscope-analyze"

/* The command line (cli/ms_cli.h): one command, its options. */
enum {
  O_OUT = 256, O_PREFIX, O_SUPPRESSIONS, O_MODULE, O_NO_SYMBOLS, O_NO_DETAILS, O_STATS,
  O_EXPORT_COMPARE, O_NO_SALVAGE, O_ROLE_THRESHOLD, O_ROLE_THRESHOLDS, O_COLLAPSED,
  O_COLLAPSED_COUNT, O_MASSIF
};
static const ms_cli_opt_t options[] = {
    {O_OUT, "out", "DIR", "summary.json and the detail files go here (default: RUN_DIR)"},
    {O_PREFIX, "prefix", "NAME", "the detail files' names start with NAME (default memscope)"},
    {O_SUPPRESSIONS, "suppressions", "FILE", "LSan \"leak:PATTERN\" lines"},
    {O_MODULE, "module", "PATH_OR_BASENAME", "module-filtered counts for allocations called from it"},
    {O_NO_SYMBOLS, "no-symbols", NULL, "no function, file and line names"},
    {O_NO_DETAILS, "no-details", NULL, "summary.json only"},
    {O_STATS, "stats", NULL, "the pass's speed and peak memory on stderr"},
    {O_EXPORT_COMPARE, "export-compare", "DIR",
     "write every event into DIR twice, as memscope's binary records\n"
     "(events.bin) and as JSON lines (events.jsonl, cJSON), and print\n"
     "the time and size of each"},
    {O_NO_SALVAGE, "no-salvage", NULL, "never write into the trace; a run cut short is partial"},
    {O_ROLE_THRESHOLD, "role-threshold", "KEY=VALUE",
     "a thread role/alert threshold (repeatable; keys and defaults:\n"
     "docs/analysis.md)"},
    {O_ROLE_THRESHOLDS, "role-thresholds", "FILE",
     "thresholds from a JSON object of KEY: number (later options\n"
     "override earlier ones)"},
    {O_COLLAPSED, "collapsed", "FILE",
     "collapsed stacks \"root;...;leaf BYTES\" (flamegraph.pl, inferno,\n"
     "speedscope; docs/exports.md)"},
    {O_COLLAPSED_COUNT, "collapsed-count", "FILE", "the same by allocation calls"},
    {O_MASSIF, "massif", "FILE", "the live heap over time in Valgrind Massif's format (ms_print)"},
    {0, NULL, NULL, NULL}};
static const ms_cli_use_t uses[] = {
    {O_OUT, NULL},        {O_PREFIX, NULL},         {O_SUPPRESSIONS, NULL},   {O_MODULE, NULL},
    {O_NO_SYMBOLS, NULL}, {O_NO_DETAILS, NULL},     {O_STATS, NULL},          {O_EXPORT_COMPARE, NULL},
    {O_NO_SALVAGE, NULL}, {O_ROLE_THRESHOLD, NULL}, {O_ROLE_THRESHOLDS, NULL}, {O_COLLAPSED, NULL},
    {O_COLLAPSED_COUNT, NULL}, {O_MASSIF, NULL},  {0, NULL}};
static const ms_cli_cmd_t command = {
    NULL, NULL, uses, "RUN_DIR [options]", NULL,
    "Analyzes a memscope trace (a run directory memscope.<pid>.<n>, or a directory\n"
    "holding exactly one) and writes DIR/summary.json (schema memscope.summary/1) and\n"
    "DIR/NAME_memory_analysis.json, _lifetime.json, _performance.json,\n"
    "_comprehensive.json, _resource_rankings.json.\n"
    "A run that ended without exit() (a signal, SIGKILL) is salvaged first: the records\n"
    "left in its rings are appended to its thread files and meta.txt is ended\n"
    "(docs/tracker.md). --export-compare measures the seed's \"binary export is 80x\n"
    "faster than JSON\".\n",
    "Exit status: 0 success (a damaged trace is analyzed and marked partial), 2 error.\n"};
static const ms_cli_prog_t program = {PROG, options, &command, 1, NULL};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One warning line on stderr. Its text holds paths from the trace: control characters are
 * shown as '?', so a hostile path cannot move the cursor, clear the terminal or add lines. */
static void print_warning(const char *text) {
  fputs(PROG ": warning: ", stderr);
  for (const unsigned char *c = (const unsigned char *)text; *c; c++)
    fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, stderr);
  fputc('\n', stderr);
}

/* One event as the tracker's encoding writes it (docs/trace-format.md, 3.3), into o. */
static uint8_t *encode_event(uint8_t *o, const ms_event_t *e, uint64_t *prev_ts,
                             uint64_t *prev_addr) {
  *o++ = (uint8_t)e->kind;
  o = ms_put_varint(o, e->ts - *prev_ts);
  o = ms_put_svarint(o, (int64_t)(e->addr - *prev_addr));
  if (e->kind == MS_EV_ALLOC || e->kind == MS_EV_REALLOC) {
    o = ms_put_varint(o, e->size);
    o = ms_put_varint(o, e->stack_id);
  }
  *prev_ts = e->ts;
  *prev_addr = e->addr;
  return o;
}

static const char *kind_name(ms_event_kind_t k) {
  switch (k) {
  case MS_EV_ALLOC: return "alloc";
  case MS_EV_FREE: return "free";
  case MS_EV_REALLOC: return "realloc";
  case MS_EV_MARK: return "mark";
  default: return "var";
  }
}

/* --export-compare: every event written as binary records, then as JSON lines; time and size
 * of each on stderr. Returns 0 or 2 (after a message). */
static int export_compare(const char *run_dir, const char *dir) {
  char err[512] = "", bin_path[4096], json_path[4096];
  int rc = ms_mkdirs(dir);
  if (rc) {
    fprintf(stderr, PROG ": cannot create %s: %s\n", dir, strerror(-rc));
    return 2;
  }
  snprintf(bin_path, sizeof bin_path, "%s/events.bin", dir);
  snprintf(json_path, sizeof json_path, "%s/events.jsonl", dir);
  char **dirs = NULL;
  size_t ndirs = 0;
  if ((rc = ms_trace_find_runs(run_dir, &dirs, &ndirs, err, sizeof err)) < 0 || ndirs != 1) {
    fprintf(stderr, PROG ": %s: %s\n", run_dir,
            rc < 0 ? (err[0] ? err : ms_trace_strerror(rc)) : "holds several runs: name one");
    ms_trace_free_dirs(dirs, ndirs);
    return 2;
  }
  ms_run_t *run;
  rc = ms_run_open(dirs[0], &run, err, sizeof err);
  ms_trace_free_dirs(dirs, ndirs);
  if (rc < 0) {
    fprintf(stderr, PROG ": %s\n", err[0] ? err : ms_trace_strerror(rc));
    return 2;
  }
  double secs[2] = {0, 0};
  uint64_t bytes[2] = {0, 0}, events = 0;
  for (int pass = 0; pass < 2 && rc >= 0; pass++) {
    /* Under a random temporary name (O_EXCL), renamed into place when whole: a link planted at
     * DIR/events.bin or at any temporary name is replaced, never followed (ms_files.h). */
    const char *path = pass ? json_path : bin_path;
    ms_out_file_t of;
    int orc = ms_out_open(&of, path);
    if (orc < 0) {
      fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(-orc));
      rc = -1;
      break;
    }
    FILE *f = of.f;
    if (ms_run_rewind(run) < 0) {
      fprintf(stderr, PROG ": cannot read the trace again for %s\n", path);
      ms_out_abort(&of);
      rc = -1;
      break;
    }
    uint8_t buf[1 << 16];
    size_t used = 0;
    uint64_t prev_ts = 0, prev_addr = 0, n = 0;
    ms_event_t e;
    double t0 = now_s();
    while ((rc = ms_run_next(run, &e)) == 1) {
      n++;
      if (pass == 0) {
        if (used > sizeof buf - 64) {
          fwrite(buf, 1, used, f);
          used = 0;
        }
        used = (size_t)(encode_event(buf + used, &e, &prev_ts, &prev_addr) - buf);
        continue;
      }
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "kind", kind_name(e.kind));
      cJSON_AddNumberToObject(o, "ts_ns", (double)e.ts_ns);
      cJSON_AddNumberToObject(o, "tid", e.tid);
      cJSON_AddNumberToObject(o, "addr", (double)e.addr);
      if (e.kind == MS_EV_ALLOC || e.kind == MS_EV_REALLOC) {
        cJSON_AddNumberToObject(o, "size", (double)e.size);
        cJSON_AddNumberToObject(o, "stack", (double)e.stack_id);
      }
      if (e.kind == MS_EV_REALLOC)
        cJSON_AddNumberToObject(o, "old_addr", (double)e.old_addr);
      char *line = cJSON_PrintUnformatted(o);
      if (line) {
        fputs(line, f);
        fputc('\n', f);
        free(line);
      }
      cJSON_Delete(o);
    }
    fwrite(buf, 1, used, f);
    bytes[pass] = (uint64_t)ftell(f);
    if (rc < 0) {
      ms_out_abort(&of);
      break;
    }
    if ((orc = ms_out_commit(&of)) < 0) {
      fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(-orc));
      rc = -1;
      break;
    }
    secs[pass] = now_s() - t0;
    events = n;
  }
  ms_run_close(run);
  if (rc < 0)
    return 2;
  fprintf(stderr,
          PROG ": export of %llu events: binary %llu bytes in %.3f s, JSON lines %llu bytes in "
          "%.3f s (both including the same merged read of the trace): JSON is %.1fx larger "
          "and %.1fx slower\n",
          (unsigned long long)events, (unsigned long long)bytes[0], secs[0],
          (unsigned long long)bytes[1], secs[1], (double)bytes[1] / (double)(bytes[0] ? bytes[0] : 1),
          secs[1] / (secs[0] > 0 ? secs[0] : 1e-9));
  return 0;
}

int main(int argc, char **argv) {
  const char *run = NULL, *out = NULL, *prefix = "memscope";
  ms_analysis_opts_t o = {0};
  o.symbolize = 1;
  int details = 1, stats = 0;
  const char *export_dir = NULL, *collapsed = NULL, *collapsed_count = NULL, *massif = NULL;
  ms_cli_t it;
  ms_cli_begin(&it, &program, &command, argc, argv);
  for (int k; (k = ms_cli_next(&it)) != MS_CLI_END;) {
    const char *v = it.arg;
    switch (k) {
    case MS_CLI_DONE: return 0;
    case MS_CLI_ERROR: return 2;
    case MS_CLI_POS:
      if (run) return ms_cli_error(&it, "one RUN_DIR only (got %s and %s)", run, v);
      run = v;
      break;
    case O_OUT: out = v; break;
    case O_PREFIX: prefix = v; break;
    case O_SUPPRESSIONS: o.suppressions = v; break;
    case O_MODULE: o.module = v; break;
    case O_NO_SYMBOLS: o.symbolize = 0; break;
    case O_NO_SALVAGE: o.no_salvage = 1; break;
    case O_NO_DETAILS: details = 0; break;
    case O_STATS: stats = 1; break;
    case O_EXPORT_COMPARE: export_dir = v; break;
    case O_COLLAPSED: collapsed = v; break;
    case O_COLLAPSED_COUNT: collapsed_count = v; break;
    case O_MASSIF: massif = v; break;
    case O_ROLE_THRESHOLD:
    case O_ROLE_THRESHOLDS: {
      char rerr[1024];
      if (k == O_ROLE_THRESHOLDS ? ms_role_thresholds_load(&o.roles, v, rerr, sizeof rerr)
                                 : ms_role_thresholds_set(&o.roles, v, rerr, sizeof rerr))
        return ms_cli_error(&it, "%s", rerr);
      break;
    }
    default: return ms_cli_error(&it, "option %s is not handled (a memscope bug)", it.opt);
    }
  }
  if (it.rest >= 0 && it.rest < argc) {
    if (run || it.rest + 1 < argc) return ms_cli_error(&it, "one RUN_DIR only (see --help)");
    run = argv[it.rest];
  }
  if (!run) {
    ms_cli_help(&program, &command, stderr);
    return 2;
  }
  if (export_dir)
    return export_compare(run, export_dir);
  if (massif) /* the peak snapshot's heap tree: live bytes of every stack at the peak */
    o.peak_stacks = SIZE_MAX;
  char err[512] = "";
  ms_analysis_t *an = NULL;
  int rc = ms_analyze_run(run, &o, &an, err, sizeof err);
  if (rc) {
    fprintf(stderr, PROG ": %s\n", err[0] ? err : ms_analysis_strerror(rc));
    return 2;
  }
  if (ms_analysis_partial(an))
    fprintf(stderr, PROG ": %s: the trace is damaged or cut short: figures are partial\n", run);
  if (!out) /* the run directory itself, also when RUN_DIR was its parent */
    out = ms_run_dir(ms_analysis_run(an));
  else if ((rc = ms_mkdirs(out)) != 0) {
    fprintf(stderr, PROG ": cannot create --out %s: %s\n", out, strerror(-rc));
    return 2;
  }
  cJSON *sum = ms_analysis_summary_json(an);
  size_t n = strlen(out) + 16;
  char *path = malloc(n);
  if (!sum || !path) {
    fprintf(stderr, PROG ": out of memory\n");
    return 2;
  }
  /* Files of the trace left unread (a FIFO or device as a module or debug file): one line
   * each, also in summary.json (run.symbol_warnings). */
  const cJSON *w;
  cJSON_ArrayForEach(w, cJSON_GetObjectItem(cJSON_GetObjectItem(sum, "run"), "symbol_warnings"))
    if (cJSON_IsString(w))
      print_warning(w->valuestring);
  snprintf(path, n, "%s/summary.json", out);
  rc = ms_write_json_file(path, sum);
  if (rc) {
    fprintf(stderr, PROG ": %s: %s\n", path, strerror(-rc));
    return 2;
  }
  if (details && (rc = ms_analysis_write_details(an, out, prefix, err, sizeof err))) {
    fprintf(stderr, PROG ": %s\n", err);
    return 2;
  }
  if ((collapsed && (rc = ms_export_collapsed(an, collapsed, 0, err, sizeof err))) ||
      (collapsed_count && (rc = ms_export_collapsed(an, collapsed_count, 1, err, sizeof err))) ||
      (massif && (rc = ms_export_massif(an, massif, err, sizeof err)))) {
    fprintf(stderr, PROG ": %s\n", err);
    return 2;
  }
  if (stats) {
    cJSON *t = cJSON_GetObjectItem(sum, "totals");
    cJSON *ev = cJSON_GetObjectItem(t, "events");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, PROG ": events=%s peak_rss_kib=%ld\n", ev ? cJSON_PrintUnformatted(ev) : "?",
            ru.ru_maxrss);
  }
  free(path);
  cJSON_Delete(sum);
  ms_analysis_free(an);
  return 0;
}
