/* test_analyze.c: the analysis engine (ms_analyze.h) on hand-built traces whose expected
 * figures are worked out by hand in the comments, not copied from output; suppression
 * matching; hostile traces; the detail files and their atomic writes. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_analysis_int.h"
#include "ms_analyze.h"
#include "ms_format.h"
#include "test_util.h"
#include "tracegen.h"

#define PID 4242u
#define RUN_ID 77u
#define T0 1000000u /* clock=monotonic: ns == ts */

static const char *MAPS = "# maps 1\n"
                          "00001000-00002000 r-xp 00000000 08:01 11 /usr/lib/libfoo.so\n"
                          "00005000-00006000 r-xp 00000000 08:01 22 /usr/bin/app\n";
static const uint64_t S1[1] = {0x1500}; /* stack 1: in libfoo */
static const uint64_t S2[1] = {0x5500}; /* stack 2: in app */

static char *new_run(const char *tag, const char *extra_meta) {
  char *dir = tg_mkdtemp(tag);
  tg_write_meta(dir, PID, RUN_ID, "monotonic", extra_meta, 1);
  tg_write_text(dir, "maps.txt", MAPS);
  return dir;
}

static tg_file_t *thread(const char *dir, uint32_t tid, uint32_t seq) {
  char name[64];
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, tid);
  tg_file_t *f = tg_open(dir, name, 1, PID, tid, seq, RUN_ID);
  tg_chunk(f, T0, 0, 0);
  return f;
}

static void done(tg_file_t *f) {
  tg_end_chunk(f);
  tg_close(f);
}

static ms_analysis_t *analyze(const char *dir, const ms_analysis_opts_t *o) {
  ms_analysis_t *a = NULL;
  char err[512] = "";
  int rc = ms_analyze_run(dir, o, &a, err, sizeof err);
  if (rc)
    fprintf(stderr, "ms_analyze_run: %d %s\n", rc, err);
  T_EQ_INT(0, rc);
  return a;
}

/* ---- the worked example ----------------------------------------------------------------------
 *   t    thread  event                    live   A.live  B.live  A.last / B.last
 *   10   A       alloc X 100 (s1)          100    100      0     X / -
 *   20   A       free X                      0      0      0     temporary (A's next event)
 *   30   A       alloc Y 200 (s2)          200    200      0     Y
 *   40   B       alloc Z  50 (s1)          250    200     50           Z
 *   50   A       alloc W 300 (s1)          550    500     50     W
 *   60   B       free Y                    350    300     50     not temporary (B's last is Z,
 *                                                               and Z's next event was this)
 *   70   A       free W                     50      0     50     temporary
 *   80   B       realloc Z -> V 80 (s2)     80      0     80     Z not temporary (see 60)
 *   90   B       free V                      0      0      0     temporary (B's last is V)
 *   100  A       alloc L 1000 (s2)        1000   1000      0
 *   110  A       mark "m1"                 (live 1000, 1 block)
 *   120  B       alloc M 10 (s1)          1010   1000     10
 * Totals: allocations 7 (6 ALLOC + 1 REALLOC), frees 4, reallocs 1, bytes 1740, peak 1010 at
 * 120, leaked 2 blocks / 1010 bytes, temporaries 3 (A: X, W; B: V).
 * Lifetimes: X 10, Y 30, W 20, Z 40, V 10: count 5, min 10, median 20, max 40, mean 22;
 * log2 buckets: [8,16) 2, [16,32) 2, [32,64) 1.
 * Leaks: stack 2 (L) 1000 bytes, then stack 1 (M) 10 bytes.
 * Hot by count: s1 4 allocations (X Z W M, 460 bytes), s2 3 (Y V L, 1280 bytes); by bytes
 * s2 first. Sizes: 10 -> bucket 3, 50 -> 5, 80 and 100 -> 6, 200 -> 7, 300 -> 8, 1000 -> 9.
 * Threads: A 4 allocations, 2 frees, 1600 bytes, peak 1000 at 100; B 3 allocations (one
 * realloc), 2 frees, 140 bytes, peak 80 at 80. */
static char *worked_example(void) {
  char *dir = new_run("an-worked", NULL);
  tg_file_t *a = thread(dir, 1, 0), *b = thread(dir, 2, 1);
  tg_stack(a, 1, 1, S1);
  tg_stack(a, 2, 1, S2);
  tg_alloc(a, T0 + 10, 0xa0, 100, 1);
  tg_free(a, T0 + 20, 0xa0);
  tg_alloc(a, T0 + 30, 0xb0, 200, 2);
  tg_alloc(b, T0 + 40, 0xc0, 50, 1);
  tg_alloc(a, T0 + 50, 0xd0, 300, 1);
  tg_free(b, T0 + 60, 0xb0);
  tg_free(a, T0 + 70, 0xd0);
  tg_realloc(b, T0 + 80, 0xc0, 0xe0, 80, 2);
  tg_free(b, T0 + 90, 0xe0);
  tg_alloc(a, T0 + 100, 0xf0, 1000, 2);
  tg_mark(a, T0 + 110, MS_MARK_POINT, "m1");
  tg_alloc(b, T0 + 120, 0x100, 10, 1);
  done(a);
  done(b);
  return dir;
}

/* The module filter on a stack whose STACK record comes later in merge order than a use of it:
 * thread B stamped its allocation (t50) before walking, and found the id that thread A had
 * just interned; A's record for it went into A's next chunk (its ring was full), behind A's
 * event at t60. A lazy open collects that chunk's stacks only when the merge gets there, so
 * B's allocation must not be judged before then (a CI run counted 1537 of 1549 this way).
 *   t10 A alloc 100 (no stack)   t50 B alloc 40 (s1, libfoo)   t60 A free
 *   chunk 2 of A: STACK s1; t100 A alloc 8 (s1) */
static void module_stack_defined_later(void) {
  char *dir = new_run("an-modlate", NULL);
  tg_file_t *a = thread(dir, 1, 0), *b = thread(dir, 2, 1);
  tg_alloc(a, T0 + 10, 0xa000, 100, 0);
  tg_free(a, T0 + 60, 0xa000);
  tg_end_chunk(a);
  tg_chunk(a, T0 + 100, 0, 0);
  tg_stack(a, 1, 1, S1);
  tg_alloc(a, T0 + 100, 0xc000, 8, 1);
  done(a);
  tg_alloc(b, T0 + 50, 0xb000, 40, 1);
  done(b);
  ms_analysis_opts_t o = {0};
  o.module = "libfoo.so";
  ms_analysis_t *an = analyze(dir, &o);
  const ms_stats_module_t *m = ms_analysis_module(an);
  T_TRUE(m != NULL);
  T_EQ_U64(2, m->allocations);
  T_EQ_U64(48, m->allocated_bytes);
  T_EQ_U64(2, m->leaked_blocks);
  T_EQ_U64(48, m->peak_live_bytes);
  T_EQ_U64(0, ms_analysis_totals(an)->unknown_stack_refs);
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);
}

static void worked_totals(void) {
  char *dir = worked_example();
  ms_analysis_t *a = analyze(dir, NULL);
  T_EQ_INT(0, ms_analysis_partial(a));
  T_EQ_INT(0, ms_analysis_sampled(a));
  const ms_stats_totals_t *t = ms_analysis_totals(a);
  T_EQ_U64(7, t->allocations);
  T_EQ_U64(4, t->frees);
  T_EQ_U64(1, t->reallocs);
  T_EQ_U64(1740, t->allocated_bytes);
  T_EQ_U64(1010, t->peak_live_bytes);
  T_EQ_U64(T0 + 120, t->peak_time_ns);
  T_EQ_U64(2, t->leaked_blocks);
  T_EQ_U64(1010, t->leaked_bytes);
  T_EQ_U64(3, ms_analysis_temporaries(a));
  T_EQ_U64(2, ms_analysis_nthreads(a));
  const ms_stats_thread_t *ta = ms_analysis_thread(a, 0), *tb = ms_analysis_thread(a, 1);
  T_EQ_U64(4, ta->allocations);
  T_EQ_U64(2, ta->frees);
  T_EQ_U64(1600, ta->allocated_bytes);
  T_EQ_U64(1000, ta->peak_live_bytes);
  T_EQ_U64(T0 + 100, ta->peak_time_ns);
  T_EQ_U64(3, tb->allocations);
  T_EQ_U64(1, tb->reallocs);
  T_EQ_U64(2, tb->frees);
  T_EQ_U64(140, tb->allocated_bytes);
  T_EQ_U64(80, tb->peak_live_bytes);
  T_EQ_U64(T0 + 80, tb->peak_time_ns);
  T_EQ_U64(2, ms_analysis_thread_temporaries(a, 0));
  T_EQ_U64(1, ms_analysis_thread_temporaries(a, 1));
  /* the estimate API in full mode: the figure itself, no error */
  ms_estimate_t e = ms_analysis_estimate(a, MS_EST_PEAK_LIVE_BYTES);
  T_EQ_U64(1010, (uint64_t)e.value);
  T_EQ_U64(0, (uint64_t)e.std_error);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

static void worked_lifetimes_sizes_marks(void) {
  char *dir = worked_example();
  ms_analysis_t *a = analyze(dir, NULL);
  const ms_lifetime_stats_t *l = ms_analysis_lifetimes(a);
  T_EQ_U64(5, l->count);
  T_EQ_U64(10, l->min_ns);
  T_EQ_U64(20, l->median_ns);
  T_EQ_U64(40, l->max_ns);
  T_EQ_U64(22, (uint64_t)l->mean_ns);
  T_EQ_U64(2, l->log2_buckets[3]);
  T_EQ_U64(2, l->log2_buckets[4]);
  T_EQ_U64(1, l->log2_buckets[5]);
  const uint64_t *h;
  T_EQ_U64(64, ms_analysis_size_histogram(a, &h));
  uint64_t want[10] = {0, 0, 0, 1, 0, 1, 2, 1, 1, 1};
  for (int k = 0; k < 10; k++)
    T_EQ_U64(want[k], h[k]);
  T_EQ_U64(1, ms_analysis_nmarks(a));
  const ms_mark_t *m = ms_analysis_mark(a, 0);
  T_STR_EQ("m1", m->name);
  T_EQ_U64(T0 + 110, m->t_ns);
  T_EQ_U64(1000, m->live_bytes);
  T_EQ_U64(1, m->live_blocks);
  T_EQ_U64(1, m->tid);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

static void worked_leaks_and_hot_stacks(void) {
  char *dir = worked_example();
  ms_analysis_opts_t o = {0};
  o.symbolize = 1;
  ms_analysis_t *a = analyze(dir, &o);
  T_EQ_U64(2, ms_analysis_nleaks(a));
  const ms_leak_t *l0 = ms_analysis_leak(a, 0), *l1 = ms_analysis_leak(a, 1);
  T_EQ_U64(2, l0->stack_id);
  T_EQ_U64(1000, l0->bytes);
  T_EQ_U64(1, l0->blocks);
  T_EQ_U64(1, l0->nframes);
  T_EQ_U64(0x5500, l0->frames[0].address);
  T_STR_EQ("/usr/bin/app", l0->frames[0].module); /* not on disk: module and offset only */
  T_STR_EQ("", l0->frames[0].function);
  T_EQ_U64(0x4ff, l0->frames[0].module_offset); /* 0x5500 - 1 - 0x5000 + offset 0 */
  T_EQ_U64(1, l1->stack_id);
  T_EQ_U64(10, l1->bytes);
  T_STR_EQ("/usr/lib/libfoo.so", l1->frames[0].module);
  T_EQ_U64(2, ms_analysis_nhot(a, 0));
  T_EQ_U64(1, ms_analysis_hot(a, 0, 0)->stack_id);
  T_EQ_U64(4, ms_analysis_hot(a, 0, 0)->blocks);
  T_EQ_U64(460, ms_analysis_hot(a, 0, 0)->bytes);
  T_EQ_U64(2, ms_analysis_hot(a, 1, 0)->stack_id);
  T_EQ_U64(1280, ms_analysis_hot(a, 1, 0)->bytes);
  T_EQ_U64(3, ms_analysis_hot(a, 1, 0)->blocks);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* Temporaries around realloc and marks, thread A alone:
 *   alloc X; realloc X -> Y (X temporary: the realloc releases A's last block);
 *   free Y (temporary); alloc Z; mark (not an allocator call); free Z (temporary);
 *   alloc P; alloc Q; free P (not: A's last is Q); free Q (not: A's last event was a free).
 * Temporaries 3. */
static void temporaries_realloc(void) {
  char *dir = new_run("an-temp", NULL);
  tg_file_t *a = thread(dir, 1, 0);
  tg_alloc(a, T0 + 10, 0x10, 8, 0);
  tg_realloc(a, T0 + 20, 0x10, 0x20, 16, 0);
  tg_free(a, T0 + 30, 0x20);
  tg_alloc(a, T0 + 40, 0x30, 8, 0);
  tg_mark(a, T0 + 50, MS_MARK_POINT, "between");
  tg_free(a, T0 + 60, 0x30);
  tg_alloc(a, T0 + 70, 0x40, 8, 0);
  tg_alloc(a, T0 + 80, 0x50, 8, 0);
  tg_free(a, T0 + 90, 0x40);
  tg_free(a, T0 + 100, 0x50);
  done(a);
  ms_analysis_t *an = analyze(dir, NULL);
  T_EQ_U64(3, ms_analysis_temporaries(an));
  T_EQ_U64(5, ms_analysis_lifetimes(an)->count); /* X (by realloc), Y, Z, P, Q */
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);
}

/* Timeline: every point is the max of its bucket; the series never loses the peak. With a
 * few events the buckets are fine enough to see each value. */
static void worked_timeline(void) {
  char *dir = worked_example();
  ms_analysis_t *a = analyze(dir, NULL);
  const ms_timeline_point_t *p;
  size_t n = ms_analysis_timeline(a, -1, &p);
  T_TRUE(n > 0 && n <= 2000);
  uint64_t mx = 0;
  for (size_t i = 0; i < n; i++)
    if (p[i].live_bytes > mx)
      mx = p[i].live_bytes;
  T_EQ_U64(1010, mx);
  T_EQ_U64(0, p[0].t_ns);
  /* relative time of the last point is at most the span of the trace (110 ns) */
  T_TRUE(p[n - 1].t_ns <= 110);
  n = ms_analysis_timeline(a, 1, &p);
  mx = 0;
  for (size_t i = 0; i < n; i++)
    if (p[i].live_bytes > mx)
      mx = p[i].live_bytes;
  T_EQ_U64(80, mx); /* thread B's own peak */
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* Many events over a long span: the series is downsampled to <= 2000 points and keeps the
 * single-event spike at its maximum. */
static void timeline_keeps_peak(void) {
  char *dir = new_run("an-timeline", NULL);
  tg_file_t *f = thread(dir, 1, 0);
  for (uint64_t i = 0; i < 50000; i++) {
    uint64_t t = T0 + i * 1000;
    uint64_t size = i == 31337 ? 1000000 : 10;
    tg_alloc(f, t, 0x1000 + i * 16, size, 0);
    tg_free(f, t + 500, 0x1000 + i * 16);
    if (i % 1000 == 999) {
      tg_end_chunk(f);
      tg_chunk(f, t + 500, 0, 0);
    }
  }
  done(f);
  ms_analysis_t *a = analyze(dir, NULL);
  const ms_timeline_point_t *p;
  size_t n = ms_analysis_timeline(a, -1, &p);
  /* Every bucket's maximum is 10 but the spike's: the runs of equal points are left out
   * (docs/analysis.md, "Timeline"), the spike and its two sides stay. */
  T_TRUE(n >= 3 && n <= 2000);
  uint64_t mx = 0, spike_t = 0;
  for (size_t i = 0; i < n; i++)
    if (p[i].live_bytes > mx) {
      mx = p[i].live_bytes;
      spike_t = p[i].t_ns;
    }
  T_EQ_U64(1000000, mx);
  T_TRUE(spike_t <= 31337000 && 31337000 - spike_t < 50000000 / 100);
  T_EQ_U64(1000000, ms_analysis_totals(a)->peak_live_bytes);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* ---- scopes ------------------------------------------------------------------------------
 *   t    thread event
 *   10   A   scope_begin outer
 *   20   A   alloc P 100
 *   30   A   scope_begin inner
 *   40   B   alloc Q 200
 *   50   A   free P                (inside inner's window, but P was allocated before it)
 *   60   B   scope_end inner       (scopes are process-wide: any thread may end them)
 *   70   A   alloc R 50
 *   80   A   scope_end outer
 *   90   A   free Q
 *   100  A   scope_begin never
 *   110  A   alloc S 7
 *   120  A   scope_end ghost       (no such scope: counted as unmatched)
 * outer [10,80]: allocations 3 (P Q R), frees 1, bytes 350, live inside 100, 300, 200, 250:
 *   peak 300, leaked Q + R = 2 blocks, 250 bytes.
 * inner [30,60]: allocations 1, frees 1 (P), bytes 200, peak 200, leaked Q 1/200.
 * never [100, -]: allocations 1, bytes 7, peak 7, leaked 1/7 at the end of the trace. */
static void scopes(void) {
  char *dir = new_run("an-scopes", NULL);
  tg_file_t *a = thread(dir, 1, 0), *b = thread(dir, 2, 1);
  tg_mark(a, T0 + 10, MS_MARK_SCOPE_BEGIN, "outer");
  tg_alloc(a, T0 + 20, 0x100, 100, 0);
  tg_mark(a, T0 + 30, MS_MARK_SCOPE_BEGIN, "inner");
  tg_alloc(b, T0 + 40, 0x200, 200, 0);
  tg_free(a, T0 + 50, 0x100);
  tg_mark(b, T0 + 60, MS_MARK_SCOPE_END, "inner");
  tg_alloc(a, T0 + 70, 0x300, 50, 0);
  tg_mark(a, T0 + 80, MS_MARK_SCOPE_END, "outer");
  tg_free(a, T0 + 90, 0x200);
  tg_mark(a, T0 + 100, MS_MARK_SCOPE_BEGIN, "never");
  tg_alloc(a, T0 + 110, 0x400, 7, 0);
  tg_mark(a, T0 + 120, MS_MARK_SCOPE_END, "ghost");
  done(a);
  done(b);
  ms_analysis_t *an = analyze(dir, NULL);
  T_EQ_U64(3, ms_analysis_nscopes(an));
  const ms_scope_t *o = ms_analysis_find_scope(an, "outer");
  T_TRUE(o != NULL);
  T_EQ_U64(T0 + 10, o->begin_ns);
  T_EQ_U64(T0 + 80, o->end_ns);
  T_EQ_U64(3, o->allocations);
  T_EQ_U64(1, o->frees);
  T_EQ_U64(350, o->allocated_bytes);
  T_EQ_U64(300, o->peak_live_bytes);
  T_EQ_U64(2, o->leaked_blocks);
  T_EQ_U64(250, o->leaked_bytes);
  const ms_scope_t *i = ms_analysis_find_scope(an, "inner");
  T_EQ_U64(T0 + 30, i->begin_ns);
  T_EQ_U64(T0 + 60, i->end_ns);
  T_EQ_U64(1, i->allocations);
  T_EQ_U64(1, i->frees);
  T_EQ_U64(200, i->allocated_bytes);
  T_EQ_U64(200, i->peak_live_bytes);
  T_EQ_U64(1, i->leaked_blocks);
  T_EQ_U64(200, i->leaked_bytes);
  const ms_scope_t *nv = ms_analysis_find_scope(an, "never");
  T_EQ_U64(0, nv->end_ns);
  T_EQ_U64(1, nv->allocations);
  T_EQ_U64(7, nv->peak_live_bytes);
  T_EQ_U64(1, nv->leaked_blocks);
  T_EQ_U64(7, nv->leaked_bytes);
  T_TRUE(ms_analysis_find_scope(an, "ghost") == NULL);
  cJSON *s = ms_analysis_summary_json(an);
  cJSON *arr = cJSON_GetObjectItem(s, "scopes");
  T_EQ_INT(3, cJSON_GetArraySize(arr));
  cJSON *never = cJSON_GetArrayItem(arr, 2);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(never, "end_ns")));
  cJSON_Delete(s);
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);
}

/* ---- variables ---------------------------------------------------------------------------
 *   10 alloc B1 64 (s1); 20 VAR B1 "buf" "char[64]" x.c:12; 30 alloc B2 32 (s1);
 *   40 VAR 0xdead (no block: unmatched); 50 realloc B1 -> B3 128 (s2): the variable follows.
 * Leaks: s2 128 bytes named buf/char[64]; s1 32 bytes unnamed. */
static void vars(void) {
  char *dir = new_run("an-vars", NULL);
  tg_file_t *a = thread(dir, 1, 0);
  tg_stack(a, 1, 1, S1);
  tg_stack(a, 2, 1, S2);
  tg_alloc(a, T0 + 10, 0x1000, 64, 1);
  tg_var(a, T0 + 20, 0x1000, 12, "buf", "char[64]", "x.c");
  tg_alloc(a, T0 + 30, 0x2000, 32, 1);
  tg_var(a, T0 + 40, 0xdead, 13, "nope", "", "x.c");
  tg_realloc(a, T0 + 50, 0x1000, 0x3000, 128, 2);
  done(a);
  ms_analysis_t *an = analyze(dir, NULL);
  T_EQ_U64(2, ms_analysis_nleaks(an));
  const ms_leak_t *l = ms_analysis_leak(an, 0);
  T_EQ_U64(128, l->bytes);
  T_STR_EQ("buf", l->var_name);
  T_STR_EQ("char[64]", l->type_name);
  T_STR_EQ("", ms_analysis_leak(an, 1)->var_name);
  T_EQ_U64(1, an->nvars);
  T_EQ_U64(1, an->vars_unmatched);
  T_EQ_U64(64, an->vars[0].bytes);
  T_EQ_U64(1, an->vars[0].live_blocks);
  T_EQ_U64(128, an->vars[0].live_bytes);
  T_EQ_U64(12, an->vars[0].line);
  cJSON *s = ms_analysis_summary_json(an);
  cJSON *l0 = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "leaks"), 0);
  T_STR_EQ("buf", cJSON_GetStringValue(cJSON_GetObjectItem(l0, "var_name")));
  cJSON_Delete(s);
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);
}

/* ---- sampled modes -----------------------------------------------------------------------
 * size-classes, weights as recorded: A 10 bytes w100, B 100000 w1, C 3000 w2, free A.
 *   allocations 100 + 1 + 2 = 103; bytes 1000 + 100000 + 6000 = 107000; frees 100;
 *   leaked B + C: 3 blocks, 106000 bytes; peak 107000 (after C).
 *   Var(allocations) = sum (w-1)w = 9900 + 0 + 2 = 9902;
 *   Var(bytes) = 9900 * 10^2 + 0 + 2 * 3000^2 = 18990000.
 * Intervals (Fay-Feuer, docs/analysis.md): low = the 2.5 % quantile of gamma(mean y, variance
 * v), high = the 97.5 % quantile of gamma(mean y + y_u, variance v + v_u), the unseen call of
 * size-classes being y_u = 100, v_u = 99 * 100 (bytes: times 2047 and 2047^2). The quantiles
 * were computed with mpmath (gammainc, findroot; 30 digits), not with the engine's code:
 *   allocations [3.21721638483, 557.146010980], bytes [98628.2835778, 819150.472902]. */
static void sampled_size_classes(void) {
  char *dir = new_run("an-sc", "sample=size-classes\n");
  tg_file_t *a = thread(dir, 1, 0);
  tg_alloc_ex(a, 0x20, T0 + 10, 0x100, 10, 0, 0, 100);
  tg_alloc_ex(a, 0x20, T0 + 20, 0x200, 100000, 0, 0, 1);
  tg_alloc_ex(a, 0x20, T0 + 30, 0x300, 3000, 0, 0, 2);
  tg_free(a, T0 + 40, 0x100);
  done(a);
  ms_analysis_t *an = analyze(dir, NULL);
  T_EQ_INT(1, ms_analysis_sampled(an));
  const ms_stats_totals_t *t = ms_analysis_totals(an);
  T_EQ_U64(103, t->allocations);
  T_EQ_U64(107000, t->allocated_bytes);
  T_EQ_U64(100, t->frees);
  T_EQ_U64(3, t->leaked_blocks);
  T_EQ_U64(106000, t->leaked_bytes);
  T_EQ_U64(107000, t->peak_live_bytes);
  T_EQ_U64(T0 + 30, t->peak_time_ns);
  T_EQ_U64(3, ms_analysis_recorded_totals(an)->allocations);
  ms_estimate_t e = ms_analysis_estimate(an, MS_EST_ALLOCATIONS);
  T_TRUE(fabs(e.std_error - sqrt(9902.0)) < 1e-9);
  T_NEAR(3.21721638483, e.ci95_low, 1e-9);
  T_NEAR(557.146010980, e.ci95_high, 1e-9);
  e = ms_analysis_estimate(an, MS_EST_ALLOCATED_BYTES);
  T_TRUE(fabs(e.std_error - sqrt(18990000.0)) < 1e-6);
  T_NEAR(98628.2835778, e.ci95_low, 1e-9);
  T_NEAR(819150.472902, e.ci95_high, 1e-9);
  cJSON *s = ms_analysis_summary_json(an);
  cJSON *mode = cJSON_GetObjectItem(s, "mode");
  T_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(mode, "estimated")));
  cJSON *est = cJSON_GetObjectItem(cJSON_GetObjectItem(mode, "estimates"), "allocated_bytes");
  T_TRUE(fabs(cJSON_GetObjectItem(est, "std_error")->valuedouble - sqrt(18990000.0)) < 1e-6);
  T_EQ_INT(2, cJSON_GetArraySize(cJSON_GetObjectItem(est, "ci95")));
  cJSON_Delete(s);
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);
}

/* bytes:N with N = 1000: a block of s bytes was sampled with p = 1 - exp(-s/N), weight 1/p.
 * Blocks 1000 and 250 bytes, the first freed. */
static void sampled_bytes(void) {
  char *dir = new_run("an-bytes", "sample=bytes\nsample_bytes=1000\n");
  tg_file_t *a = thread(dir, 1, 0);
  tg_alloc(a, T0 + 10, 0x100, 1000, 0);
  tg_alloc(a, T0 + 20, 0x200, 250, 0);
  tg_free(a, T0 + 30, 0x100);
  done(a);
  ms_analysis_t *an = analyze(dir, NULL);
  double p1 = 1 - exp(-1.0), p2 = 1 - exp(-0.25);
  double count = 1 / p1 + 1 / p2, bytes = 1000 / p1 + 250 / p2;
  double var_bytes = (1 - p1) / (p1 * p1) * 1e6 + (1 - p2) / (p2 * p2) * 62500.0;
  const ms_stats_totals_t *t = ms_analysis_totals(an);
  T_EQ_U64((uint64_t)llround(count), t->allocations);
  T_EQ_U64((uint64_t)llround(bytes), t->allocated_bytes);
  T_EQ_U64((uint64_t)llround(bytes), t->peak_live_bytes);
  T_EQ_U64((uint64_t)llround(250 / p2), t->leaked_bytes);
  T_EQ_U64((uint64_t)llround(1 / p1), t->frees);
  ms_estimate_t e = ms_analysis_estimate(an, MS_EST_ALLOCATED_BYTES);
  T_TRUE(fabs(e.value - bytes) < 1e-6);
  T_TRUE(fabs(e.std_error - sqrt(var_bytes)) < 1e-6);
  e = ms_analysis_estimate(an, MS_EST_PEAK_LIVE_BYTES);
  T_TRUE(fabs(e.std_error - sqrt(var_bytes)) < 1e-6);
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);
}


/* The cross-fitted sampled peak (ms_analyze.c, peak_crossfit), worked by hand. bytes:N with
 * N = 1000 and 80 blocks of 1000 bytes (p = 1 - e^-1, weight w = 1/p), allocated alternately
 * in the two halves (addresses chosen by the half rule: bit 63 of (addr >> 4) * golden), all
 * live at once, then freed. The series' maximum is 80 w 1000. Half 0 peaks at its 40th block,
 * the 79th overall, when half 1 holds 39 blocks; half 1 peaks at the 80th, when half 0 holds
 * 40. Each half's estimate doubles its weights: the value is (2*39 + 2*40) w 1000 / 2 =
 * 79 w 1000. The relative standard error at the maximum, sqrt(1-p)/sqrt(80) = 6.8 %, is
 * above the 1 % at which the cross-fit is used. */
static int half_of(uint64_t addr) {
  return (int)(((addr >> 4) * 0x9e3779b97f4a7c15ull) >> 63);
}

/* summary.json's mode.estimates.peak_live_bytes.method is `method`. */
static void expect_peak_method(ms_analysis_t *an, const char *method) {
  cJSON *s = ms_analysis_summary_json(an);
  cJSON *pk = cJSON_GetObjectItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(s, "mode"), "estimates"), "peak_live_bytes");
  T_STR_EQ(method, cJSON_GetStringValue(cJSON_GetObjectItem(pk, "method")));
  cJSON_Delete(s);
}

static void sampled_peak_crossfit(void) {
  char *dir = new_run("an-xfit", "sample=bytes\nsample_bytes=1000\n");
  tg_file_t *a = thread(dir, 1, 0);
  uint64_t addr[2][40];
  int n[2] = {0, 0};
  for (uint64_t x = 0x10000; n[0] < 40 || n[1] < 40; x += 0x1000) {
    int h = half_of(x);
    if (n[h] < 40)
      addr[h][n[h]++] = x;
  }
  uint64_t ts = T0;
  for (int k = 0; k < 40; k++)
    for (int h = 0; h < 2; h++)
      tg_alloc(a, ts++, addr[h][k], 1000, 0);
  for (int k = 0; k < 40; k++)
    for (int h = 0; h < 2; h++)
      tg_free(a, ts++, addr[h][k]);
  done(a);
  ms_analysis_t *an = analyze(dir, NULL);
  double p = 1 - exp(-1.0), w = 1 / p, vf = (1 - p) / (p * p);
  ms_estimate_t e = ms_analysis_estimate(an, MS_EST_PEAK_LIVE_BYTES);
  T_TRUE(fabs(e.value - 79 * w * 1000) < 1e-6);
  T_EQ_U64((uint64_t)llround(79 * w * 1000), ms_analysis_totals(an)->peak_live_bytes);
  /* The one thread's peak is cross-fitted the same way. */
  T_EQ_U64((uint64_t)llround(79 * w * 1000), ms_analysis_thread(an, 0)->peak_live_bytes);
  /* Error: the larger of the halves' (79 blocks' worth) and the series maximum's (80). */
  T_TRUE(fabs(e.std_error - sqrt(80 * vf * 1e6)) < 1e-6);
  T_TRUE(e.ci95_low <= e.value && e.value <= e.ci95_high);
  expect_peak_method(an, "cross-fitted");
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);

  /* Two blocks (sampled_bytes): too few per half to choose an instant, the maximum stays. */
  dir = new_run("an-xfit2", "sample=bytes\nsample_bytes=1000\n");
  a = thread(dir, 1, 0);
  tg_alloc(a, T0 + 10, 0x100, 1000, 0);
  tg_alloc(a, T0 + 20, 0x200, 1000, 0);
  done(a);
  an = analyze(dir, NULL);
  e = ms_analysis_estimate(an, MS_EST_PEAK_LIVE_BYTES);
  T_TRUE(fabs(e.value - 2 * w * 1000) < 1e-6);
  expect_peak_method(an, "series maximum");
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);
}

/* ---- suppressions ------------------------------------------------------------------------- */

static void template_match(void) {
  T_EQ_INT(1, ms__template_match("foo", "foo"));
  T_EQ_INT(1, ms__template_match("foo", "xfooy")); /* LSan: anywhere in the name */
  T_EQ_INT(0, ms__template_match("^foo", "xfoo"));
  T_EQ_INT(1, ms__template_match("^foo", "foobar"));
  T_EQ_INT(1, ms__template_match("foo$", "xfoo"));
  T_EQ_INT(0, ms__template_match("foo$", "foox"));
  T_EQ_INT(1, ms__template_match("foo$", "foofoo"));
  T_EQ_INT(1, ms__template_match("^foo$", "foo"));
  T_EQ_INT(0, ms__template_match("^foo$", "foo2"));
  T_EQ_INT(1, ms__template_match("leak_*_here", "leak_from_here"));
  T_EQ_INT(0, ms__template_match("leak_*_here", "leak_from_there_x"));
  T_EQ_INT(1, ms__template_match("leak_*_here", "leak_from_there_x_here"));
  T_EQ_INT(1, ms__template_match("*", "anything"));
  T_EQ_INT(0, ms__template_match("*", ""));  /* an unknown name never matches */
  T_EQ_INT(1, ms__template_match("libfoo.so", "/usr/lib/libfoo.so"));
  T_EQ_INT(1, ms__template_match("^/usr/lib/*.so$", "/usr/lib/libfoo.so"));
  T_EQ_INT(0, ms__template_match("^/usr/lib/*.so$", "/usr/lib/libfoo.so.6"));
}

/* Suppressing by module: the 10-byte leak of libfoo goes, listed after the unsuppressed. */
static void suppress_by_module(void) {
  char *dir = worked_example();
  char *supp = tg_path(dir, "supp.txt");
  tg_write_text(dir, "supp.txt",
                "# comment\n\ninterceptor_via_fun:ignored\nleak:libfoo.so\n  leak:nomatch  \n");
  ms_analysis_opts_t o = {0};
  o.suppressions = supp;
  ms_analysis_t *a = analyze(dir, &o);
  const ms_stats_totals_t *t = ms_analysis_totals(a);
  T_EQ_U64(1, t->leaked_blocks);
  T_EQ_U64(1000, t->leaked_bytes);
  T_EQ_U64(10, ms_analysis_suppressed_bytes(a));
  T_EQ_U64(1, ms_analysis_suppressed_blocks(a));
  T_EQ_U64(2, ms_analysis_nleaks(a));
  T_EQ_INT(0, ms_analysis_leak(a, 0)->suppressed);
  T_EQ_INT(1, ms_analysis_leak(a, 1)->suppressed);
  T_EQ_U64(10, ms_analysis_leak(a, 1)->bytes);
  ms_analysis_free(a);
  /* A suppressions file that cannot be read is an error naming it. */
  o.suppressions = "/nonexistent/supp.txt";
  ms_analysis_t *b = NULL;
  char err[256] = "";
  T_EQ_INT(-ENOENT, ms_analyze_run(dir, &o, &b, err, sizeof err));
  T_CONTAINS(err, "/nonexistent/supp.txt");
  T_TRUE(b == NULL);
  tg_rmrf(dir);
  free(supp);
  free(dir);
}

/* ---- hostile and damaged traces ----------------------------------------------------------- */

static void limit_memory(void) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return; /* the sanitizers reserve terabytes of shadow address space */
#endif
  struct rlimit rl = {(rlim_t)1 << 30, (rlim_t)1 << 30}; /* 1 GiB: bounded, or it fails */
  setrlimit(RLIMIT_AS, &rl);
}

/* Analyzes dir fully (summary and details into it): never a crash; returns the code. */
static int analyze_all(const char *dir, int *partial) {
  ms_analysis_t *a = NULL;
  char err[512] = "";
  int rc = ms_analyze_run(dir, NULL, &a, err, sizeof err);
  if (rc) {
    T_TRUE(err[0] != 0);
    return rc;
  }
  *partial = ms_analysis_partial(a);
  cJSON *s = ms_analysis_summary_json(a);
  T_TRUE(s != NULL);
  char *path = tg_path(dir, "summary.json");
  T_EQ_INT(0, ms_write_json_file(path, s));
  free(path);
  cJSON_Delete(s);
  T_EQ_INT(0, ms_analysis_write_details(a, dir, "x", err, sizeof err));
  ms_analysis_free(a);
  return 0;
}

static void hostile_traces(void) {
  limit_memory();
  int partial = 0;
  /* truncated in the middle of the second chunk: partial, first chunk's figures kept */
  char *dir = worked_example();
  char *p = tg_path(dir, "memscope_thread_4242_1.bin");
  tg_truncate(p, tg_file_size(p) - 3);
  T_EQ_INT(0, analyze_all(dir, &partial));
  T_EQ_INT(1, partial);
  free(p);
  tg_rmrf(dir);
  free(dir);
  /* zero-length thread file */
  dir = worked_example();
  p = tg_path(dir, "memscope_thread_4242_2.bin");
  tg_truncate(p, 0);
  T_EQ_INT(0, analyze_all(dir, &partial));
  T_EQ_INT(1, partial);
  free(p);
  tg_rmrf(dir);
  free(dir);
  /* bit flips everywhere: each gives an error or a (partial) result */
  dir = worked_example();
  p = tg_path(dir, "memscope_thread_4242_1.bin");
  uint64_t size = tg_file_size(p);
  char *orig = tg_read_file(p, NULL);
  for (uint64_t byte = 0; byte < size; byte += 3) {
    tg_flip_bit(p, byte, (int)(byte % 8));
    int rc = analyze_all(dir, &partial);
    T_TRUE(rc == 0 || rc == MS_TRACE_E_VERSION);
    tg_patch(p, 0, orig, size);
  }
  free(orig);
  free(p);
  tg_rmrf(dir);
  free(dir);
  /* wrong version: a clear error */
  dir = new_run("an-version", NULL);
  tg_file_t *f = tg_open(dir, "memscope_thread_4242_1.bin", 3, PID, 1, 0, RUN_ID);
  tg_close(f);
  ms_analysis_t *a = NULL;
  char err[512] = "";
  T_EQ_INT(MS_TRACE_E_VERSION, ms_analyze_run(dir, NULL, &a, err, sizeof err));
  T_CONTAINS(err, "version");
  tg_rmrf(dir);
  free(dir);
  /* not a trace */
  dir = tg_mkdtemp("an-empty");
  T_EQ_INT(MS_TRACE_E_NOTTRACE, ms_analyze_run(dir, NULL, &a, err, sizeof err));
  tg_rmrf(dir);
  free(dir);
  /* huge sizes, sparse and undefined stack ids, timestamps out of order, frees of nothing,
   * double allocations at one address, many marks and scopes: figures bounded */
  dir = new_run("an-hostile", NULL);
  f = thread(dir, 1, 0);
  uint64_t fr[3] = {0x1500, 0x1500, 0x1500}; /* a "cycle": one frame repeated */
  tg_stack(f, UINT64_MAX - 5, 3, fr);
  tg_stack(f, (uint64_t)1 << 60, 1, S1);
  tg_stack(f, 7, 1, S1);
  tg_stack(f, 7, 1, S2); /* defined twice */
  tg_alloc(f, T0 + 100, 0x10, UINT64_MAX / 2, UINT64_MAX - 5);
  tg_alloc(f, T0 + 50, 0x20, UINT64_MAX / 2, (uint64_t)1 << 60); /* backwards in time */
  tg_alloc(f, T0 + 60, 0x20, 5, 12345);                          /* over a live block */
  tg_free(f, T0 + 70, 0x999);
  tg_realloc(f, T0 + 80, 0x777, 0x30, 1, 7);
  tg_alloc(f, UINT64_MAX - 1, 0x40, 1, 0);
  tg_end_chunk(f);
  tg_chunk(f, T0, 0, 0);
  for (int i = 0; i < 150000; i++) {
    char name[16];
    snprintf(name, sizeof name, "s%d", i % 97);
    tg_mark(f, T0 + (uint64_t)i, (uint64_t)(1 + i % 5), name);
    if (i % 20000 == 19999) {
      tg_end_chunk(f);
      tg_chunk(f, T0 + (uint64_t)i, 0, 0);
    }
  }
  tg_var(f, T0 + 1, 0x40, UINT64_MAX, "v", "t", "f");
  done(f);
  T_EQ_INT(0, analyze_all(dir, &partial));
  a = NULL;
  T_EQ_INT(0, ms_analyze_run(dir, NULL, &a, err, sizeof err));
  T_TRUE(ms_analysis_nmarks(a) <= 100000);
  T_TRUE(ms_analysis_nscopes(a) <= 4096);
  T_EQ_U64(1, ms_analysis_totals(a)->unmatched_frees);
  T_EQ_U64(1, ms_analysis_totals(a)->alloc_over_live);
  const ms_timeline_point_t *pts;
  T_TRUE(ms_analysis_timeline(a, -1, &pts) <= 2000);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* Random payloads with valid CRCs exercise the decoder and the engine on garbage. */
static void random_payloads(void) {
  limit_memory();
  uint64_t s = 0x9e3779b97f4a7c15ull;
  for (int iter = 0; iter < 300; iter++) {
    char *dir = new_run("an-rand", NULL);
    tg_file_t *f = thread(dir, 1, 0);
    uint8_t buf[512];
    size_t n = 1 + (size_t)(s % sizeof buf);
    for (size_t i = 0; i < n; i++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      buf[i] = (uint8_t)s;
      if (i % 7 == 0)
        buf[i] = (uint8_t)(1 + s % 6); /* mostly valid tags */
    }
    tg_raw(f, buf, n, 1);
    done(f);
    int partial;
    int rc = analyze_all(dir, &partial);
    T_TRUE(rc == 0);
    tg_rmrf(dir);
    free(dir);
  }
}

/* ---- detail files ------------------------------------------------------------------------- */

static int count_entries(const char *dir, const char *needle) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir(d)))
    n += strstr(de->d_name, needle) != NULL;
  if (d)
    closedir(d);
  return n;
}

static void details_written(void) {
  char *dir = worked_example();
  ms_analysis_t *a = analyze(dir, NULL);
  char err[512] = "";
  T_EQ_INT(0, ms_analysis_write_details(a, dir, "run", err, sizeof err));
  const char *names[] = {"run_memory_analysis.json", "run_lifetime.json", "run_performance.json",
                         "run_comprehensive.json", "run_resource_rankings.json"};
  for (int i = 0; i < 5; i++) {
    char *p = tg_path(dir, names[i]);
    char *text = tg_read_file(p, NULL);
    cJSON *j = cJSON_Parse(text);
    if (!j)
      fprintf(stderr, "%s does not parse\n", names[i]);
    T_TRUE(j != NULL);
    T_TRUE(cJSON_GetObjectItem(j, "schema") != NULL);
    cJSON_Delete(j);
    free(text);
    free(p);
  }
  char *p = tg_path(dir, "run_resource_rankings.json");
  char *text = tg_read_file(p, NULL);
  cJSON *j = cJSON_Parse(text);
  cJSON *top = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "by_peak_live_bytes"), 0);
  T_EQ_INT(1, cJSON_GetObjectItem(top, "tid")->valueint); /* A: peak 1000 > B's 80 */
  cJSON_Delete(j);
  free(text);
  free(p);
  p = tg_path(dir, "run_memory_analysis.json");
  text = tg_read_file(p, NULL);
  j = cJSON_Parse(text);
  T_EQ_INT(2, cJSON_GetObjectItem(j, "live_blocks_at_end")->valueint);
  cJSON *lb = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "live_blocks"), 0);
  T_EQ_INT(1000, cJSON_GetObjectItem(lb, "size")->valueint); /* largest first */
  cJSON_Delete(j);
  free(text);
  free(p);
  T_EQ_INT(0, count_entries(dir, ".tmp."));

  /* A directory that is not there, or is a file: -errno, a message, nothing written. */
  char *missing = tg_path(dir, "missing");
  T_EQ_INT(-ENOENT, ms_analysis_write_details(a, missing, "run", err, sizeof err));
  T_CONTAINS(err, "missing");
  char *file = tg_path(dir, "run_lifetime.json");
  T_EQ_INT(-ENOTDIR, ms_analysis_write_details(a, file, "run", err, sizeof err));
  free(missing);
  free(file);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* A full disk (RLIMIT_FSIZE, SIGXFSZ ignored so write fails with EFBIG): -EFBIG, and no
 * file is left half-written, no temporary left behind. */
static void details_disk_full(void) {
  char *dir = worked_example();
  ms_analysis_t *a = analyze(dir, NULL);
  char *out = tg_path(dir, "out");
  mkdir(out, 0700);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit rl = {2000, 2000};
  T_EQ_INT(0, setrlimit(RLIMIT_FSIZE, &rl));
  char err[512] = "";
  int rc = ms_analysis_write_details(a, out, "run", err, sizeof err);
  T_EQ_INT(-EFBIG, rc);
  T_CONTAINS(err, "run_");
  T_EQ_INT(0, count_entries(out, ".tmp."));
  cJSON *s = ms_analysis_summary_json(a);
  char *sp = tg_path(out, "summary.json");
  T_EQ_INT(-EFBIG, ms_write_json_file(sp, s));
  struct stat st;
  T_TRUE(stat(sp, &st) < 0); /* never half-written */
  T_EQ_INT(0, count_entries(out, ".tmp."));
  cJSON_Delete(s);
  free(sp);
  free(out);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* summary.json carries every field SPEC §4 names, with the types docs/summary-schema.md
 * gives. */
static void summary_schema(void) {
  char *dir = worked_example();
  ms_analysis_t *a = analyze(dir, NULL);
  cJSON *s = ms_analysis_summary_json(a);
  T_STR_EQ("memscope.summary/1", cJSON_GetStringValue(cJSON_GetObjectItem(s, "schema")));
  const char *tot[] = {"allocations", "frees", "reallocs", "allocated_bytes", "peak_live_bytes",
                       "peak_time_ns", "leaked_blocks", "leaked_bytes", "temporary_allocations"};
  cJSON *t = cJSON_GetObjectItem(s, "totals");
  for (size_t i = 0; i < sizeof tot / sizeof *tot; i++)
    T_TRUE(cJSON_IsNumber(cJSON_GetObjectItem(t, tot[i])));
  T_EQ_INT(3, cJSON_GetObjectItem(t, "temporary_allocations")->valueint);
  const char *th[] = {"tid", "name", "tracked", "allocations", "frees", "allocated_bytes",
                      "peak_live_bytes", "avg_size", "alloc_rate_per_s", "cpu_percent", "io_ops",
                      "role", "alert"};
  cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "threads"), 0);
  for (size_t i = 0; i < sizeof th / sizeof *th; i++)
    T_TRUE(cJSON_GetObjectItem(t0, th[i]) != NULL);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(t0, "cpu_percent")));
  T_STR_EQ("light", cJSON_GetStringValue(cJSON_GetObjectItem(t0, "role")));
  T_STR_EQ("normal", cJSON_GetStringValue(cJSON_GetObjectItem(t0, "alert")));
  cJSON *l0 = cJSON_GetArrayItem(cJSON_GetObjectItem(s, "leaks"), 0);
  const char *lk[] = {"bytes", "blocks", "var_name", "stack"};
  for (size_t i = 0; i < sizeof lk / sizeof *lk; i++)
    T_TRUE(cJSON_GetObjectItem(l0, lk[i]) != NULL);
  cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(l0, "stack"), 0);
  const char *fr[] = {"address", "function", "file", "line", "module"};
  for (size_t i = 0; i < sizeof fr / sizeof *fr; i++)
    T_TRUE(cJSON_GetObjectItem(f0, fr[i]) != NULL);
  T_TRUE(cJSON_IsArray(cJSON_GetObjectItem(s, "assertions")));
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(s, "overhead")));
  T_STR_EQ("all", cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "mode"), "sample")));
  cJSON *tl = cJSON_GetObjectItem(s, "timeline");
  T_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(tl, "t_ns")),
           cJSON_GetArraySize(cJSON_GetObjectItem(tl, "live_bytes")));
  T_TRUE(cJSON_IsArray(cJSON_GetObjectItem(s, "size_histogram")));
  T_TRUE(cJSON_IsArray(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "hot_stacks"), "by_count")));
  T_TRUE(cJSON_IsArray(cJSON_GetObjectItem(s, "marks")));
  T_TRUE(cJSON_IsArray(cJSON_GetObjectItem(s, "scopes")));
  cJSON_Delete(s);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* threads[].tracked is whether the trace holds an allocator call of the thread, not whether
 * it has a file: the tracker writes a file for a thread that named itself while tracked and
 * then switched tracking off (selective_50's odd workers), holding only its name.
 *   full mode: 1 allocates (true), 2 only its name (false), 3 only a free (true),
 *              4 only a mark (false: no allocator call);
 *   bytes:1000: 1 a sampled allocation (true), 2 only its name (null: untracked, or tracked
 *              with no call sampled, the trace cannot say which). */
static const char *tracked_of(cJSON *threads, uint32_t tid) {
  cJSON *t;
  cJSON_ArrayForEach(t, threads) {
    if ((uint32_t)cJSON_GetNumberValue(cJSON_GetObjectItem(t, "tid")) != tid)
      continue;
    cJSON *v = cJSON_GetObjectItem(t, "tracked");
    return cJSON_IsTrue(v) ? "true" : cJSON_IsFalse(v) ? "false" : cJSON_IsNull(v) ? "null" : "?";
  }
  return "absent";
}

static void thread_tracked(void) {
  char *dir = new_run("an-tracked", NULL);
  tg_file_t *t1 = thread(dir, 1, 0), *t2 = thread(dir, 2, 1), *t3 = thread(dir, 3, 2),
            *t4 = thread(dir, 4, 3);
  tg_mark(t1, T0 + 1, MS_MARK_THREAD_NAME, "alloc");
  tg_stack(t1, 1, 1, S1);
  tg_alloc(t1, T0 + 10, 0xa0, 100, 1);
  tg_mark(t2, T0 + 2, MS_MARK_THREAD_NAME, "named-only");
  tg_free(t3, T0 + 20, 0xa0);
  tg_mark(t4, T0 + 30, MS_MARK_POINT, "just-a-mark");
  done(t1);
  done(t2);
  done(t3);
  done(t4);
  ms_analysis_t *a = analyze(dir, NULL);
  cJSON *s = ms_analysis_summary_json(a);
  cJSON *th = cJSON_GetObjectItem(s, "threads");
  T_EQ_INT(4, cJSON_GetArraySize(th));
  T_STR_EQ("true", tracked_of(th, 1));
  T_STR_EQ("false", tracked_of(th, 2));
  T_STR_EQ("true", tracked_of(th, 3));
  T_STR_EQ("false", tracked_of(th, 4));
  cJSON_Delete(s);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);

  dir = new_run("an-tracked-sampled", "sample=bytes\nsample_bytes=1000\n");
  t1 = thread(dir, 1, 0);
  t2 = thread(dir, 2, 1);
  tg_alloc(t1, T0 + 10, 0xa0, 5000, 0);
  tg_mark(t2, T0 + 2, MS_MARK_THREAD_NAME, "named-only");
  done(t1);
  done(t2);
  a = analyze(dir, NULL);
  s = ms_analysis_summary_json(a);
  th = cJSON_GetObjectItem(s, "threads");
  T_STR_EQ("true", tracked_of(th, 1));
  T_STR_EQ("null", tracked_of(th, 2));
  cJSON_Delete(s);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* bytes:N intervals where the normal one fails (N = 1000; values from mpmath, gammainc and
 * findroot at 30 digits, not from the engine's code):
 * - nothing leaked was sampled (one 2000-byte block, sampled and freed): leaked bytes 0 in
 *   [0, N ln 40 = 3688.87945411]; leaked blocks 0 in [0, 2.12751719873], the unseen block
 *   being as small as the smallest sampled one (2000 bytes: p = 1 - e^-2); the peak's high
 *   end is at least N ln 40 too;
 * - a leak of 100000 bytes (p = 1 to double precision: exact): [100000, 102969.324813], the
 *   upper end leaving room for one unseen sample point of N bytes (a gamma shape of 10201:
 *   Wilson-Hilferty's approximation in the engine). */
static void sampled_interval_unseen(void) {
  char *dir = new_run("an-unseen", "sample=bytes\nsample_bytes=1000\n");
  tg_file_t *t = thread(dir, 1, 0);
  tg_alloc(t, T0 + 10, 0xa0, 2000, 0);
  tg_free(t, T0 + 20, 0xa0);
  done(t);
  ms_analysis_t *a = analyze(dir, NULL);
  ms_estimate_t e = ms_analysis_estimate(a, MS_EST_LEAKED_BYTES);
  T_NEAR(0, e.value, 0);
  T_NEAR(0, e.ci95_low, 0);
  T_NEAR(3688.87945411, e.ci95_high, 1e-9);
  e = ms_analysis_estimate(a, MS_EST_LEAKED_BLOCKS);
  T_NEAR(0, e.ci95_low, 0);
  T_NEAR(2.12751719873, e.ci95_high, 1e-9);
  e = ms_analysis_estimate(a, MS_EST_PEAK_LIVE_BYTES);
  T_TRUE(e.ci95_high >= 3688.87945411);
  cJSON *s = ms_analysis_summary_json(a);
  cJSON *lb = cJSON_GetObjectItem(
      cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "mode"), "estimates"),
                          "leaked_bytes"),
      "ci95");
  T_NEAR(3688.87945411, cJSON_GetNumberValue(cJSON_GetArrayItem(lb, 1)), 1e-9);
  cJSON_Delete(s);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);

  dir = new_run("an-unseen-big", "sample=bytes\nsample_bytes=1000\n");
  t = thread(dir, 1, 0);
  tg_alloc(t, T0 + 10, 0xa0, 100000, 0);
  done(t);
  a = analyze(dir, NULL);
  e = ms_analysis_estimate(a, MS_EST_LEAKED_BYTES);
  T_NEAR(100000, e.value, 1e-12);
  T_NEAR(100000, e.ci95_low, 1e-12);
  T_NEAR(102969.324813, e.ci95_high, 1e-6);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

static void roles(void) {
  T_STR_EQ("memory_intensive", ms_thread_role(NULL, 18000001, 1201, -1, -1));
  T_STR_EQ("balanced", ms_thread_role(NULL, 18000001, 1200, -1, -1));
  T_STR_EQ("cpu_intensive", ms_thread_role(NULL, 100, 5000, 26, -1));
  T_STR_EQ("io_intensive", ms_thread_role(NULL, 100, 5000, 10, 2001));
  T_STR_EQ("balanced", ms_thread_role(NULL, 100, 1000, -1, -1));
  T_STR_EQ("light", ms_thread_role(NULL, 100, 999, -1, -1));
  T_STR_EQ("high", ms_thread_alert(NULL, 20000001, -1));
  T_STR_EQ("high", ms_thread_alert(NULL, 0, 31));
  T_STR_EQ("medium", ms_thread_alert(NULL, 15000001, -1));
  T_STR_EQ("medium", ms_thread_alert(NULL, 0, 21));
  T_STR_EQ("normal", ms_thread_alert(NULL, 15000000, 20));
  ms_role_thresholds_t t = {0};
  t.memory_peak_bytes = 10;
  t.memory_allocations = 1;
  T_STR_EQ("memory_intensive", ms_thread_role(&t, 11, 2, -1, -1));
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {
      T_CASE(worked_totals),       T_CASE(worked_lifetimes_sizes_marks),
      T_CASE(module_stack_defined_later),
      T_CASE(worked_leaks_and_hot_stacks), T_CASE(worked_timeline),
      T_CASE(timeline_keeps_peak), T_CASE(temporaries_realloc), T_CASE(scopes),
      T_CASE(vars),                T_CASE(sampled_size_classes),
      T_CASE(sampled_bytes),       T_CASE(sampled_peak_crossfit), T_CASE(template_match),
      T_CASE(suppress_by_module),  T_CASE(hostile_traces),
      T_CASE(random_payloads),     T_CASE(details_written),
      T_CASE(details_disk_full),   T_CASE(summary_schema),
      T_CASE(roles),               T_CASE(thread_tracked),
      T_CASE(sampled_interval_unseen),
  };
  return t_main(argc, argv, cases, sizeof cases / sizeof *cases);
}
