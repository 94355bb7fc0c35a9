/* test_stats.c: the basic statistics pass and the memscope-tracestat CLI on hand-built
 * traces whose expected figures are worked out by hand below, not copied from output. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "ms_format.h"
#include "ms_trace.h"
#include "test_util.h"
#include "tracegen.h"

#define PID 31337u
#define RUN_ID 99u
#define T0 1000000u /* base time; clock=monotonic, so ns == ts */

/* Two modules: libfoo at [0x1000, 0x2000), app at [0x5000, 0x6000). */
static const char *MAPS = "# maps 1\n"
                          "00001000-00002000 r-xp 00000000 08:01 11 /usr/lib/libfoo.so\n"
                          "00005000-00006000 r-xp 00000000 08:01 22 /usr/bin/app\n";

/* The trace of the worked example (ts relative to T0, A..D the blocks):
 *
 *   t   thread  event                    live  T0.live T1.live  libfoo.live
 *   10  T0      alloc A 100  (stack 1)    100    100      0        100
 *   20  T0      alloc B  50  (stack 2)    150    150      0        100
 *   30  T1      alloc D 300  (stack 1)    450    150    300        400
 *   40  T0      free A                    350     50    300        300
 *   50  T1      free 0xdead (not live)    350     50    300        300
 *   60  T0      realloc B -> C 200 (s 1)  500    200    300        500
 *   70  T1      free C (allocated by T0)  300      0    300        300
 *
 * Stack 1's first frame is in libfoo; stack 2's first frame is in app (libfoo second).
 * Totals: allocations 4 (3 ALLOC + 1 REALLOC), frees 3, reallocs 1, allocated bytes
 * 100+50+300+200 = 650, peak 500 at t60, leaked D: 1 block, 300 bytes, unmatched frees 1.
 * T0: allocations 3, frees 1, reallocs 1, bytes 350, peak 200 (t60).
 * T1: allocations 1, frees 2, reallocs 0, bytes 300, peak 300 (t30).
 * libfoo.so: allocations 3 (A, D, C), reallocs 1, bytes 600, frees 2 (A, C), leaked 1/300,
 * peak 500 at t60. app: allocations 1 (B), bytes 50, frees 0 (B went by realloc), peak 50. */
static char *worked_example(int bad_crc_on_t1_second_chunk) {
  char *dir = tg_mkdtemp("stats");
  tg_write_meta(dir, PID, RUN_ID, "monotonic", NULL, 1);
  tg_write_text(dir, "maps.txt", MAPS);
  const uint64_t s1[2] = {0x1500, 0x5100};
  const uint64_t s2[2] = {0x5500, 0x1500};
  tg_file_t *a = tg_open(dir, "memscope_thread_31337_31337.bin", 1, PID, 31337, 0, RUN_ID);
  tg_chunk(a, T0, 0, 0);
  tg_stack(a, 1, 2, s1);
  tg_stack(a, 2, 2, s2);
  tg_mark(a, T0 + 1, MS_MARK_THREAD_NAME, "main");
  tg_alloc(a, T0 + 10, 0xa000, 100, 1);
  tg_alloc(a, T0 + 20, 0xb000, 50, 2);
  tg_end_chunk(a);
  tg_chunk(a, T0 + 40, 0, 0);
  tg_free(a, T0 + 40, 0xa000);
  tg_realloc(a, T0 + 60, 0xb000, 0xc000, 200, 1);
  tg_end_chunk(a);
  tg_close(a);
  tg_file_t *b = tg_open(dir, "memscope_thread_31337_31338.bin", 1, PID, 31338, 1, RUN_ID);
  tg_chunk(b, T0 + 30, 0, 0);
  tg_mark(b, T0 + 30, MS_MARK_THREAD_NAME, "worker");
  tg_alloc(b, T0 + 30, 0xd000, 300, 1);
  tg_free(b, T0 + 50, 0xdead);
  tg_end_chunk(b);
  tg_chunk(b, T0 + 70, 0, 0);
  tg_free(b, T0 + 70, 0xc000);
  if (bad_crc_on_t1_second_chunk)
    tg_end_chunk_ex(b, UINT64_MAX, 0x12345678, UINT64_MAX);
  else
    tg_end_chunk(b);
  tg_close(b);
  return dir;
}

static void stats_worked_example(void) {
  char *dir = worked_example(0);
  ms_run_t *run = open_ok(dir);
  T_EQ_INT(0, ms_run_partial(run));
  ms_stats_t *st;
  T_EQ_INT(0, ms_stats_compute(run, "libfoo.so", &st));
  const ms_stats_totals_t *t = &st->totals;
  T_EQ_U64(4, t->allocations);
  T_EQ_U64(3, t->frees);
  T_EQ_U64(1, t->reallocs);
  T_EQ_U64(650, t->allocated_bytes);
  T_EQ_U64(500, t->peak_live_bytes);
  T_EQ_U64(T0 + 60, t->peak_time_ns);
  T_EQ_U64(1, t->leaked_blocks);
  T_EQ_U64(300, t->leaked_bytes);
  T_EQ_U64(1, t->unmatched_frees);
  T_EQ_U64(0, t->unmatched_realloc_old);
  T_EQ_U64(0, t->alloc_over_live);
  T_EQ_U64(0, t->unknown_stack_refs);
  T_EQ_U64(2, t->marks);
  T_EQ_U64(9, t->events);
  T_EQ_U64(T0 + 1, t->first_ts_ns);
  T_EQ_U64(T0 + 70, t->last_ts_ns);

  T_EQ_U64(2, st->nthreads);
  const ms_stats_thread_t *a = &st->threads[0], *b = &st->threads[1];
  T_EQ_U64(31337, a->tid);
  T_STR_EQ("main", a->name);
  T_EQ_U64(3, a->allocations);
  T_EQ_U64(1, a->frees);
  T_EQ_U64(1, a->reallocs);
  T_EQ_U64(350, a->allocated_bytes);
  T_EQ_U64(200, a->peak_live_bytes);
  T_EQ_U64(T0 + 60, a->peak_time_ns);
  T_EQ_U64(0, a->live_bytes);
  T_EQ_U64(31338, b->tid);
  T_EQ_U64(1, b->thread_seq);
  T_STR_EQ("worker", b->name);
  T_EQ_U64(1, b->allocations);
  T_EQ_U64(2, b->frees);
  T_EQ_U64(0, b->reallocs);
  T_EQ_U64(300, b->allocated_bytes);
  T_EQ_U64(300, b->peak_live_bytes);
  T_EQ_U64(T0 + 30, b->peak_time_ns);
  T_EQ_U64(300, b->live_bytes);

  const ms_stats_module_t *m = &st->module;
  T_EQ_INT(1, m->enabled);
  T_STR_EQ("libfoo.so", m->module);
  T_EQ_U64(3, m->allocations);
  T_EQ_U64(1, m->reallocs);
  T_EQ_U64(600, m->allocated_bytes);
  T_EQ_U64(2, m->frees);
  T_EQ_U64(1, m->leaked_blocks);
  T_EQ_U64(300, m->leaked_bytes);
  T_EQ_U64(500, m->peak_live_bytes);
  T_EQ_U64(T0 + 60, m->peak_time_ns);
  ms_stats_free(st);

  /* The same by full path; and the other module. */
  T_EQ_INT(0, ms_stats_compute(run, "/usr/lib/libfoo.so", &st));
  T_EQ_U64(3, st->module.allocations);
  T_EQ_U64(600, st->module.allocated_bytes);
  T_EQ_U64(500, st->totals.peak_live_bytes); /* a second pass gives the same totals */
  ms_stats_free(st);
  T_EQ_INT(0, ms_stats_compute(run, "app", &st));
  T_EQ_U64(1, st->module.allocations);
  T_EQ_U64(0, st->module.reallocs);
  T_EQ_U64(50, st->module.allocated_bytes);
  T_EQ_U64(0, st->module.frees);
  T_EQ_U64(0, st->module.leaked_blocks);
  T_EQ_U64(50, st->module.peak_live_bytes);
  ms_stats_free(st);
  T_EQ_INT(0, ms_stats_compute(run, "libnothing.so", &st));
  T_EQ_U64(0, st->module.allocations);
  ms_stats_free(st);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* realloc in place, realloc(NULL, n), an address reused without a free. */
static void stats_realloc_edge_cases(void) {
  char *dir = tg_mkdtemp("stats-edge");
  tg_write_meta(dir, PID, RUN_ID, "monotonic", NULL, 1);
  tg_file_t *f = tg_open(dir, "memscope_thread_31337_1.bin", 1, PID, 1, 0, RUN_ID);
  tg_chunk(f, 0, 0, 0);
  tg_alloc(f, 1, 0x100, 10, 0);          /* live 10 */
  tg_realloc(f, 2, 0x100, 0x100, 30, 0); /* in place: live 30, not 40 */
  tg_realloc(f, 3, 0, 0x200, 5, 0);      /* realloc(NULL, 5): live 35 */
  tg_alloc(f, 4, 0x200, 7, 0);           /* 0x200 still live: replaced, live 37 */
  tg_realloc(f, 5, 0x999, 0x300, 1, 0);  /* old not live: live 38 */
  tg_free(f, 6, 0x100);                  /* live 8 */
  tg_end_chunk(f);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  ms_stats_t *st;
  T_EQ_INT(0, ms_stats_compute(run, NULL, &st));
  T_EQ_U64(5, st->totals.allocations);
  T_EQ_U64(3, st->totals.reallocs);
  T_EQ_U64(1, st->totals.frees);
  T_EQ_U64(10 + 30 + 5 + 7 + 1, st->totals.allocated_bytes);
  T_EQ_U64(38, st->totals.peak_live_bytes);
  T_EQ_U64(5, st->totals.peak_time_ns);
  T_EQ_U64(1, st->totals.alloc_over_live);
  T_EQ_U64(1, st->totals.unmatched_realloc_old);
  T_EQ_U64(0, st->totals.unmatched_frees);
  T_EQ_U64(2, st->totals.leaked_blocks);
  T_EQ_U64(8, st->totals.leaked_bytes);
  T_EQ_U64(8, st->threads[0].live_bytes);
  ms_stats_free(st);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* ---- the CLI -------------------------------------------------------------------------------- */

typedef struct cli_s {
  int status;
  char *out, *err;
} cli_t;

/* Runs the tracestat binary (t_argv[2]) with up to two arguments. */
static cli_t run_cli(const char *tmp, const char *a1, const char *a2) {
  T_TRUE(t_argc > 2);
  char *out = tg_path(tmp, "stdout.txt"), *err = tg_path(tmp, "stderr.txt");
  char cmd[8192];
  snprintf(cmd, sizeof cmd, "'%s' %s%s%s %s%s%s >'%s' 2>'%s'", t_argv[2], a1 ? "'" : "",
           a1 ? a1 : "", a1 ? "'" : "", a2 ? "'" : "", a2 ? a2 : "", a2 ? "'" : "", out, err);
  int rc = system(cmd);
  T_TRUE(rc != -1 && WIFEXITED(rc));
  cli_t r = {WEXITSTATUS(rc), tg_read_file(out, NULL), tg_read_file(err, NULL)};
  free(out);
  free(err);
  return r;
}

static void cli_free(cli_t *c) {
  free(c->out);
  free(c->err);
}

static uint64_t json_u64(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(v)) {
    fprintf(stderr, "json: no number \"%s\"\n", key);
    exit(1);
  }
  return (uint64_t)v->valuedouble;
}

static void cli_worked_example(void) {
  char *dir = worked_example(0);
  char *tmp = tg_mkdtemp("cli");
  cli_t r = run_cli(tmp, dir, "--module=libfoo.so");
  if (r.status)
    fprintf(stderr, "stderr: %s\n", r.err);
  T_EQ_INT(0, r.status);
  cJSON *root = cJSON_Parse(r.out);
  T_TRUE(root != NULL);
  const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
  T_EQ_INT(1, cJSON_GetArraySize(runs));
  const cJSON *run = cJSON_GetArrayItem(runs, 0);
  T_STR_EQ(dir, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(run, "dir")));
  T_EQ_U64(PID, json_u64(run, "pid"));
  T_TRUE(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(run, "partial")));
  T_EQ_INT(0, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(run, "damage")));
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(run, "meta");
  T_STR_EQ("exit", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(meta, "end_reason")));
  const cJSON *tot = cJSON_GetObjectItemCaseSensitive(run, "totals");
  T_EQ_U64(4, json_u64(tot, "allocations"));
  T_EQ_U64(3, json_u64(tot, "frees"));
  T_EQ_U64(1, json_u64(tot, "reallocs"));
  T_EQ_U64(650, json_u64(tot, "allocated_bytes"));
  T_EQ_U64(500, json_u64(tot, "peak_live_bytes"));
  T_EQ_U64(T0 + 60, json_u64(tot, "peak_time_ns"));
  T_EQ_U64(1, json_u64(tot, "leaked_blocks"));
  T_EQ_U64(300, json_u64(tot, "leaked_bytes"));
  T_EQ_U64(1, json_u64(tot, "unmatched_frees"));
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(run, "threads");
  T_EQ_INT(2, cJSON_GetArraySize(threads));
  const cJSON *th1 = cJSON_GetArrayItem(threads, 1);
  T_EQ_U64(31338, json_u64(th1, "tid"));
  T_STR_EQ("worker", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(th1, "name")));
  T_EQ_U64(300, json_u64(th1, "peak_live_bytes"));
  T_EQ_U64(2, json_u64(th1, "frees"));
  const cJSON *mod = cJSON_GetObjectItemCaseSensitive(run, "module");
  T_STR_EQ("libfoo.so", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(mod, "filter")));
  T_EQ_U64(3, json_u64(mod, "allocations"));
  T_EQ_U64(1, json_u64(mod, "reallocs"));
  T_EQ_U64(600, json_u64(mod, "allocated_bytes"));
  T_EQ_U64(2, json_u64(mod, "frees"));
  cJSON_Delete(root);
  cli_free(&r);

  /* Without --module the module is null. */
  r = run_cli(tmp, dir, NULL);
  T_EQ_INT(0, r.status);
  root = cJSON_Parse(r.out);
  run = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "runs"), 0);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(run, "module")));
  cJSON_Delete(root);
  cli_free(&r);
  tg_rmrf(tmp);
  free(tmp);
  tg_rmrf(dir);
  free(dir);
}

static void cli_damaged_is_partial(void) {
  char *dir = worked_example(1); /* T1's second chunk (the free of C) is lost */
  char *tmp = tg_mkdtemp("cli-dmg");
  cli_t r = run_cli(tmp, dir, NULL);
  T_EQ_INT(0, r.status);
  cJSON *root = cJSON_Parse(r.out);
  T_TRUE(root != NULL);
  const cJSON *run = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(root, "runs"), 0);
  T_TRUE(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(run, "partial")));
  const cJSON *damage = cJSON_GetObjectItemCaseSensitive(run, "damage");
  T_EQ_INT(1, cJSON_GetArraySize(damage));
  const cJSON *d = cJSON_GetArrayItem(damage, 0);
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "file")),
             "memscope_thread_31337_31338.bin");
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(d, "reason")), "CRC");
  /* Everything before the damage still counts: C (200) now leaks beside D (300). */
  const cJSON *tot = cJSON_GetObjectItemCaseSensitive(run, "totals");
  T_EQ_U64(2, json_u64(tot, "frees"));
  T_EQ_U64(2, json_u64(tot, "leaked_blocks"));
  T_EQ_U64(500, json_u64(tot, "leaked_bytes"));
  T_EQ_U64(500, json_u64(tot, "peak_live_bytes"));
  cJSON_Delete(root);
  cli_free(&r);
  tg_rmrf(tmp);
  free(tmp);
  tg_rmrf(dir);
  free(dir);
}

static void cli_bad_input(void) {
  char *tmp = tg_mkdtemp("cli-bad");
  /* Missing directory. */
  char *missing = tg_path(tmp, "no-such-dir");
  cli_t r = run_cli(tmp, missing, NULL);
  T_EQ_INT(2, r.status);
  T_TRUE(!strncmp(r.err, "memscope-tracestat: ", 20));
  T_CONTAINS(r.err, "no-such-dir");
  T_STR_EQ("", r.out);
  cli_free(&r);
  free(missing);
  /* Not a trace. */
  char *empty = tg_mkdtemp("cli-empty");
  r = run_cli(tmp, empty, NULL);
  T_EQ_INT(2, r.status);
  T_CONTAINS(r.err, "not a memscope trace");
  cli_free(&r);
  /* Wrong version. */
  tg_write_text(empty, "meta.txt", "format=memscope-trace\nversion=3\n");
  r = run_cli(tmp, empty, NULL);
  T_EQ_INT(2, r.status);
  T_CONTAINS(r.err, "version 3");
  T_EQ_INT(1, (int)(strchr(r.err, '\n') == r.err + strlen(r.err) - 1)); /* one line */
  cli_free(&r);
  /* Usage errors. */
  r = run_cli(tmp, "--bogus", NULL);
  T_EQ_INT(2, r.status);
  cli_free(&r);
  r = run_cli(tmp, empty, "--module");
  T_EQ_INT(2, r.status);
  cli_free(&r);
  r = run_cli(tmp, "--help", NULL);
  T_EQ_INT(0, r.status);
  T_CONTAINS(r.out, "usage:");
  cli_free(&r);
  tg_rmrf(empty);
  free(empty);
  tg_rmrf(tmp);
  free(tmp);
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {
      T_CASE(stats_worked_example),
      T_CASE(stats_realloc_edge_cases),
      T_CASE(cli_worked_example),
      T_CASE(cli_damaged_is_partial),
      T_CASE(cli_bad_input),
  };
  return t_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
