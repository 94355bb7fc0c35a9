/* test_analyze_preload.c: the analysis engine on real traces: programs run under
 * LD_PRELOAD=libmemscope.so, their own printed counts held against summary figures.
 *
 * Usage: test_analyze_preload TEST LIB PROGRAM [TRACESTAT] */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_analyze.h"
#include "test_util.h"
#include "tracegen.h"

/* Runs argv under the tracker with MEMSCOPE_OUT=out and the extra VAR=VALUE settings;
 * returns its stdout (malloc'd). The program must exit 0. */
static char *run_traced(const char *out, const char *const *env, const char *const *argv) {
  int fd[2];
  T_EQ_INT(0, pipe(fd));
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    setenv("MEMSCOPE_OUT", out, 1);
    for (int i = 0; env && env[i]; i++)
      putenv((char *)env[i]);
    setenv("LD_PRELOAD", t_argv[2], 1);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(fd[1]);
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  ssize_t r;
  while ((r = read(fd[0], buf + n, cap - n - 1)) > 0) {
    n += (size_t)r;
    if (cap - n < 2)
      buf = realloc(buf, cap *= 2);
  }
  buf[n] = 0;
  close(fd[0]);
  int st;
  waitpid(pid, &st, 0);
  T_TRUE(WIFEXITED(st));
  T_EQ_INT(0, WEXITSTATUS(st));
  return buf;
}

static long field(const char *text, const char *key) {
  char k[64];
  snprintf(k, sizeof k, "%s=", key);
  const char *p = strstr(text, k);
  if (!p) {
    fprintf(stderr, "no %s in program output: %s\n", key, text);
    exit(1);
  }
  return strtol(p + strlen(k), NULL, 10);
}

static const char *base(const char *path) {
  const char *b = strrchr(path, '/');
  return b ? b + 1 : path;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && !strcmp(s + a - b, suffix);
}

static ms_analysis_t *analyze(const char *dir, const ms_analysis_opts_t *o) {
  ms_analysis_t *a = NULL;
  char err[512] = "";
  int rc = ms_analyze_run(dir, o, &a, err, sizeof err);
  if (rc)
    fprintf(stderr, "ms_analyze_run: %s\n", err);
  T_EQ_INT(0, rc);
  T_EQ_INT(0, ms_analysis_partial(a));
  return a;
}

/* The program's "expect ..." line against the module-filtered figures, and the engine's
 * totals against ms_stats_compute (what memscope-tracestat prints) on the same run. */
static void golden(const char *const *argv, const char *leak_function) {
  char *dir = tg_mkdtemp("an-golden");
  char *out = run_traced(dir, NULL, argv);
  fputs(out, stdout);
  ms_analysis_opts_t o = {0};
  o.module = base(argv[0]);
  o.symbolize = 1;
  ms_analysis_t *a = analyze(dir, &o);
  const ms_stats_module_t *m = ms_analysis_module(a);
  T_TRUE(m != NULL);
  T_EQ_U64(field(out, "allocations"), m->allocations);
  T_EQ_U64(field(out, "frees"), m->frees);
  T_EQ_U64(field(out, "reallocs"), m->reallocs);
  T_EQ_U64(field(out, "allocated_bytes"), m->allocated_bytes);
  T_EQ_U64(field(out, "leaked_blocks"), m->leaked_blocks);
  T_EQ_U64(field(out, "leaked_bytes"), m->leaked_bytes);

  ms_run_t *run;
  char err[256];
  T_EQ_INT(0, ms_run_open(ms_run_dir(ms_analysis_run(a)), &run, err, sizeof err));
  ms_stats_t *st;
  T_EQ_INT(0, ms_stats_compute(run, o.module, &st));
  const ms_stats_totals_t *x = &st->totals, *y = ms_analysis_totals(a);
  T_EQ_U64(x->allocations, y->allocations);
  T_EQ_U64(x->frees, y->frees);
  T_EQ_U64(x->reallocs, y->reallocs);
  T_EQ_U64(x->allocated_bytes, y->allocated_bytes);
  T_EQ_U64(x->peak_live_bytes, y->peak_live_bytes);
  T_EQ_U64(x->peak_time_ns, y->peak_time_ns);
  T_EQ_U64(x->leaked_blocks, y->leaked_blocks);
  T_EQ_U64(x->leaked_bytes, y->leaked_bytes);
  T_EQ_U64(st->module.peak_live_bytes, m->peak_live_bytes);
  T_EQ_U64(st->nthreads, ms_analysis_nthreads(a));
  for (size_t i = 0; i < st->nthreads; i++) {
    T_EQ_U64(st->threads[i].allocations, ms_analysis_thread(a, i)->allocations);
    T_EQ_U64(st->threads[i].peak_live_bytes, ms_analysis_thread(a, i)->peak_live_bytes);
  }
  /* Leak groups add up to the leak totals. */
  uint64_t bytes = 0, blocks = 0;
  for (size_t i = 0; i < ms_analysis_nleaks(a); i++) {
    bytes += ms_analysis_leak(a, i)->bytes;
    blocks += ms_analysis_leak(a, i)->blocks;
  }
  if (ms_analysis_nleak_groups(a) == ms_analysis_nleaks(a)) {
    T_EQ_U64(y->leaked_bytes, bytes);
    T_EQ_U64(y->leaked_blocks, blocks);
  }
  /* The program's own leak (if any) is a group whose first frame is in the program. */
  if (field(out, "leaked_bytes") > 0) {
    int found = 0;
    for (size_t i = 0; i < ms_analysis_nleaks(a); i++) {
      const ms_leak_t *l = ms_analysis_leak(a, i);
      if (l->nframes && ends_with(l->frames[0].module, base(argv[0])) &&
          l->bytes == (uint64_t)field(out, "leaked_bytes")) {
        T_STR_EQ(leak_function, l->frames[0].function);
        found = 1;
      }
    }
    T_TRUE(found);
  }
  ms_stats_free(st);
  ms_run_close(run);
  ms_analysis_free(a);
  free(out);
  tg_rmrf(dir);
  free(dir);
}

static void golden_alloc_family(void) {
  const char *argv[] = {t_argv[3], "4", NULL};
  golden(argv, "main");
}
static void golden_never_ends(void) {
  const char *argv[] = {t_argv[3], NULL};
  golden(argv, "forever");
}
static void golden_exit_thread(void) {
  const char *argv[] = {t_argv[3], NULL};
  golden(argv, "quitter");
}

/* ms_a_leaky: the top leak names leak_from_here at the malloc's file and line; the scope and
 * the variable are as the program states. */
static void leak_symbolized(void) {
  char *dir = tg_mkdtemp("an-leaky");
  const char *argv[] = {t_argv[3], NULL};
  char *out = run_traced(dir, NULL, argv);
  fputs(out, stdout);
  ms_analysis_t *a = analyze(dir, NULL);
  T_TRUE(ms_analysis_nleaks(a) >= 1);
  const ms_leak_t *l = ms_analysis_leak(a, 0);
  T_EQ_U64(field(out, "leak_bytes"), l->bytes);
  T_EQ_U64(field(out, "leak_blocks"), l->blocks);
  T_TRUE(l->nframes >= 2);
  T_STR_EQ("leak_from_here", l->frames[0].function);
  T_TRUE(ends_with(l->frames[0].file, "leaky.c"));
  T_EQ_INT(field(out, "leak_line"), l->frames[0].line);
  T_TRUE(ends_with(l->frames[0].module, "ms_a_leaky"));
  T_STR_EQ("main", l->frames[1].function);
  T_STR_EQ("keep[0]", l->var_name);
  T_STR_EQ("struct leak_demo", l->type_name);
  const ms_scope_t *s = ms_analysis_find_scope(a, "phase");
  T_TRUE(s != NULL);
  T_TRUE(s->end_ns > s->begin_ns);
  T_EQ_U64(field(out, "scope_allocs"), s->allocations);
  T_EQ_U64(field(out, "scope_frees"), s->frees);
  T_EQ_U64(field(out, "scope_bytes"), s->allocated_bytes);
  T_EQ_U64(field(out, "scope_peak"), s->peak_live_bytes);
  T_EQ_U64(field(out, "scope_leaked_blocks"), s->leaked_blocks);
  T_EQ_U64(field(out, "scope_leaked_bytes"), s->leaked_bytes);
  T_EQ_U64(2, ms_analysis_nmarks(a));
  T_STR_EQ("start", ms_analysis_mark(a, 0)->name);
  T_STR_EQ("end", ms_analysis_mark(a, 1)->name);
  T_TRUE(ms_analysis_mark(a, 1)->live_bytes >= (uint64_t)field(out, "leak_bytes"));
  ms_analysis_free(a);
  free(out);
  tg_rmrf(dir);
  free(dir);
}

/* Suppressions on the same program: by function, glob, anchored, file and module. */
static void suppressions(void) {
  char *dir = tg_mkdtemp("an-supp");
  const char *argv[] = {t_argv[3], NULL};
  char *out = run_traced(dir, NULL, argv);
  uint64_t leak = (uint64_t)field(out, "leak_bytes");
  ms_analysis_t *plain = analyze(dir, NULL);
  uint64_t total = ms_analysis_totals(plain)->leaked_bytes;
  ms_analysis_free(plain);
  const char *patterns[] = {"leak:leak_from_here\n", "leak:leak_*_here\n", "leak:^leak_from\n",
                            "leak:leaky.c\n", "leak:/ms_a_leaky$\n"};
  char *supp = tg_path(dir, "supp.txt");
  for (size_t k = 0; k < sizeof patterns / sizeof *patterns; k++) {
    tg_write_text(dir, "supp.txt", patterns[k]);
    ms_analysis_opts_t o = {0};
    o.suppressions = supp;
    o.symbolize = 1;
    ms_analysis_t *a = analyze(dir, &o);
    int found = 0;
    for (size_t i = 0; i < ms_analysis_nleaks(a); i++) {
      const ms_leak_t *l = ms_analysis_leak(a, i);
      if (l->nframes && !strcmp(l->frames[0].function, "leak_from_here")) {
        T_EQ_INT(1, l->suppressed);
        found = 1;
      }
    }
    T_TRUE(found);
    T_TRUE(ms_analysis_suppressed_bytes(a) >= leak);
    T_EQ_U64(total - ms_analysis_suppressed_bytes(a), ms_analysis_totals(a)->leaked_bytes);
    ms_analysis_free(a);
  }
  free(supp);
  free(out);
  tg_rmrf(dir);
  free(dir);
}

/* bytes:524288 on the 4-thread workload: allocated bytes and peak within 5 % of the full
 * run's, and the reported 95 % interval covers the full value in at least 3 of 5 runs (a
 * correct 95 % interval fails that with probability ~0.1 %). */
static void sampled_estimate(void) {
  const char *argv[] = {t_argv[3], NULL};
  char *dir = tg_mkdtemp("an-full");
  free(run_traced(dir, NULL, argv));
  ms_analysis_t *a = analyze(dir, NULL);
  double true_bytes = (double)ms_analysis_totals(a)->allocated_bytes;
  double true_peak = (double)ms_analysis_totals(a)->peak_live_bytes;
  double true_allocs = (double)ms_analysis_totals(a)->allocations;
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
  int cover_bytes = 0, cover_peak = 0;
  for (int r = 0; r < 5; r++) {
    dir = tg_mkdtemp("an-sampled");
    const char *env[] = {"MEMSCOPE_SAMPLE=bytes:524288", NULL};
    free(run_traced(dir, env, argv));
    a = analyze(dir, NULL);
    T_EQ_INT(1, ms_analysis_sampled(a));
    ms_estimate_t b = ms_analysis_estimate(a, MS_EST_ALLOCATED_BYTES);
    ms_estimate_t p = ms_analysis_estimate(a, MS_EST_PEAK_LIVE_BYTES);
    ms_estimate_t n = ms_analysis_estimate(a, MS_EST_ALLOCATIONS);
    printf("run %d: bytes %.0f (true %.0f, se %.0f)  peak %.0f (true %.0f, se %.0f)  "
           "allocations %.0f (true %.0f, se %.0f), %" PRIu64 " events\n",
           r, b.value, true_bytes, b.std_error, p.value, true_peak, p.std_error, n.value,
           true_allocs, n.std_error, ms_analysis_recorded_totals(a)->events);
    T_TRUE(fabs(b.value - true_bytes) <= 0.05 * true_bytes);
    T_TRUE(fabs(p.value - true_peak) <= 0.05 * true_peak);
    T_TRUE(b.std_error > 0 && p.std_error > 0);
    cover_bytes += b.ci95_low <= true_bytes && true_bytes <= b.ci95_high;
    cover_peak += p.ci95_low <= true_peak && true_peak <= p.ci95_high;
    T_EQ_U64((uint64_t)llround(b.value), ms_analysis_totals(a)->allocated_bytes);
    ms_analysis_free(a);
    tg_rmrf(dir);
    free(dir);
  }
  printf("interval covered the true value: bytes %d/5, peak %d/5\n", cover_bytes, cover_peak);
  T_TRUE(cover_bytes >= 3);
  T_TRUE(cover_peak >= 3);
}

/* Sampled leaks against the known truth: ms_a_leaky leaks 7 blocks of 1000 bytes, and the
 * full run says what the whole process leaked. Under bytes:524288 a 7000-byte leak is
 * sampled with probability 1.3 %, so the estimate is nearly always 0; the 95 % interval must
 * still reach the truth (it was [0, 0]): at least 8 runs of 10 (Fay-Feuer's interval misses
 * only when a leaked block was sampled and the lower end overshoots, about 1 % here).
 * Under bytes:4096 some leaked blocks are sampled: at least 17 of 20 cover (a 95 % interval
 * fails that with probability below 2 %). */
static int covers(ms_estimate_t e, double truth) {
  return e.ci95_low <= truth && truth <= e.ci95_high;
}

static void sampled_leak_interval(void) {
  const char *argv[] = {t_argv[3], NULL};
  char *dir = tg_mkdtemp("an-leak-full");
  char *out = run_traced(dir, NULL, argv);
  ms_analysis_t *a = analyze(dir, NULL);
  double true_bytes = (double)ms_analysis_totals(a)->leaked_bytes;
  double true_blocks = (double)ms_analysis_totals(a)->leaked_blocks;
  T_TRUE(true_bytes >= (double)field(out, "leak_bytes"));
  ms_analysis_free(a);
  free(out);
  tg_rmrf(dir);
  free(dir);
  const struct {
    const char *env;
    int runs, need;
  } modes[] = {{"MEMSCOPE_SAMPLE=bytes:524288", 10, 8}, {"MEMSCOPE_SAMPLE=bytes:4096", 20, 17}};
  for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
    int cover_bytes = 0, cover_blocks = 0;
    for (int r = 0; r < modes[m].runs; r++) {
      dir = tg_mkdtemp("an-leak-sampled");
      const char *env[] = {modes[m].env, NULL};
      free(run_traced(dir, env, argv));
      a = analyze(dir, NULL);
      ms_estimate_t b = ms_analysis_estimate(a, MS_EST_LEAKED_BYTES);
      ms_estimate_t k = ms_analysis_estimate(a, MS_EST_LEAKED_BLOCKS);
      printf("%s run %d: leaked bytes %.0f [%.0f, %.0f] (true %.0f), blocks %.1f [%.1f, %.1f] "
             "(true %.0f)\n",
             modes[m].env, r, b.value, b.ci95_low, b.ci95_high, true_bytes, k.value, k.ci95_low,
             k.ci95_high, true_blocks);
      T_TRUE(b.ci95_low <= b.value && b.value <= b.ci95_high);
      cover_bytes += covers(b, true_bytes);
      cover_blocks += covers(k, true_blocks);
      ms_analysis_free(a);
      tg_rmrf(dir);
      free(dir);
    }
    printf("%s: the interval covered the true leak in %d (bytes) and %d (blocks) of %d runs\n",
           modes[m].env, cover_bytes, cover_blocks, modes[m].runs);
    T_TRUE(cover_bytes >= modes[m].need);
    T_TRUE(cover_blocks >= modes[m].need);
  }
}

/* A C++ program's leaks are reported with demangled names: from DWARF's linkage name where
 * the program has debug info (its own functions), from the symbol table where it has not
 * (libstdc++'s operator new[]). The expected names are the C++ ABI's demanglings of the
 * functions in progs/cxx_leaky.cpp, written out here. */
static void cxx_demangled(void) {
  char *dir = tg_mkdtemp("an-cxx");
  const char *argv[] = {t_argv[3], NULL};
  char *out = run_traced(dir, NULL, argv);
  ms_analysis_opts_t o = {0};
  o.symbolize = 1;
  o.module = base(t_argv[3]); /* the program's own leaks, not the runtime's */
  ms_analysis_t *a = analyze(dir, &o);
  int saw_make = 0, saw_build = 0, saw_new = 0;
  for (size_t i = 0; i < ms_analysis_nleaks(a); i++) {
    const ms_leak_t *l = ms_analysis_leak(a, i);
    for (size_t k = 0; k < l->nframes; k++) {
      const char *f = l->frames[k].function;
      T_TRUE(strncmp(f, "_Z", 2) != 0); /* nothing left mangled */
      if (!strcmp(f, "memscope_test::Widget::make(int)")) {
        saw_make = 1;
        T_EQ_U64(field(out, "leak_make"), l->bytes);
      }
      if (!strcmp(f, "int* memscope_test::build<int>(int)")) {
        saw_build = 1;
        T_EQ_U64(field(out, "leak_build"), l->bytes);
      }
      /* libstdc++'s operator new[] (_Znam) may tail-call operator new (_Znwm): either. */
      saw_new |= !strcmp(f, "operator new[](unsigned long)") ||
                 !strcmp(f, "operator new(unsigned long)");
    }
  }
  T_TRUE(saw_make);
  T_TRUE(saw_build);
  T_TRUE(saw_new);
  ms_analysis_free(a);
  free(out);
  tg_rmrf(dir);
  free(dir);
}

/* ---- issue 10: the flame graph and the per-thread detail on a real run -----------------------
 * ms_a_flame's workers allocate through plain_alloc and through inl_alloc, always inlined into
 * holder. Per worker, the stacks through each hold exactly the program's own counts; the
 * inlined function is a frame of its own, right after (leafward of) the function it was
 * inlined into; the per-thread detail agrees with the thread's figures. */
static int stack_has(const cJSON *frames, const cJSON *st, const char *fn, int inlined,
                     const char *parent) {
  const cJSON *fr = cJSON_GetObjectItem(st, "frames");
  for (int i = 0; i < cJSON_GetArraySize(fr); i++) {
    const cJSON *f = cJSON_GetArrayItem(frames, cJSON_GetArrayItem(fr, i)->valueint);
    if (strcmp(cJSON_GetObjectItem(f, "function")->valuestring, fn) ||
        cJSON_IsTrue(cJSON_GetObjectItem(f, "inlined")) != inlined)
      continue;
    if (!parent)
      return 1;
    if (i == 0)
      return 0;
    const cJSON *p = cJSON_GetArrayItem(frames, cJSON_GetArrayItem(fr, i - 1)->valueint);
    return !strcmp(cJSON_GetObjectItem(p, "function")->valuestring, parent) &&
           cJSON_IsFalse(cJSON_GetObjectItem(p, "inlined"));
  }
  return 0;
}

static uint64_t jnum(const cJSON *o, const char *k) {
  const cJSON *x = cJSON_GetObjectItem(o, k);
  T_TRUE(cJSON_IsNumber(x));
  return (uint64_t)x->valuedouble;
}

static void flamegraph_real(void) {
  char *dir = tg_mkdtemp("an-flame");
  const char *argv[] = {t_argv[3], NULL};
  char *out = run_traced(dir, NULL, argv);
  fputs(out, stdout);
  ms_analysis_opts_t o = {0};
  o.symbolize = 1;
  ms_analysis_t *a = analyze(dir, &o);
  cJSON *sum = ms_analysis_summary_json(a);
  const cJSON *fg = cJSON_GetObjectItem(sum, "flamegraph");
  const cJSON *frames = cJSON_GetObjectItem(fg, "frames"), *stacks = cJSON_GetObjectItem(fg, "stacks");
  T_EQ_U64(jnum(fg, "stacks_total"), jnum(fg, "stacks_shown"));
  uint64_t all = 0;
  const cJSON *st;
  cJSON_ArrayForEach(st, stacks) all += jnum(st, "allocations");
  T_EQ_U64(ms_analysis_totals(a)->allocations, all);
  int saw_inlined_line = 0;
  for (int w = 0; w < 3; w++) {
    char k[32];
    snprintf(k, sizeof k, "w%d_tid", w);
    uint64_t tid = (uint64_t)field(out, k), plain = 0, inlined = 0;
    cJSON_ArrayForEach(st, stacks) {
      int is_plain = stack_has(frames, st, "plain_alloc", 0, NULL);
      int is_inl = stack_has(frames, st, "inl_alloc", 1, "holder");
      const cJSON *te;
      cJSON_ArrayForEach(te, cJSON_GetObjectItem(st, "threads")) {
        if (jnum(te, "tid") != tid)
          continue;
        plain += is_plain ? jnum(te, "allocations") : 0;
        inlined += is_inl ? jnum(te, "allocations") : 0;
      }
    }
    snprintf(k, sizeof k, "w%d_plain", w);
    T_EQ_U64(field(out, k), plain);
    snprintf(k, sizeof k, "w%d_inlined", w);
    T_EQ_U64(field(out, k), inlined);
  }
  /* inl_alloc's frame carries the inlined code's file and line (libc's own inlined frames,
   * with its debug info installed, are there too). */
  const cJSON *f;
  cJSON_ArrayForEach(f, frames) {
    if (cJSON_IsTrue(cJSON_GetObjectItem(f, "inlined")) &&
        !strcmp("inl_alloc", cJSON_GetObjectItem(f, "function")->valuestring)) {
      T_TRUE(ends_with(cJSON_GetObjectItem(f, "file")->valuestring, "flame.c"));
      T_TRUE(jnum(f, "line") > 0);
      saw_inlined_line = 1;
    }
  }
  T_TRUE(saw_inlined_line);
  /* Per-thread detail against the thread's own figures (the stats pass's, counted apart). */
  const cJSON *th;
  cJSON_ArrayForEach(th, cJSON_GetObjectItem(sum, "threads")) {
    const cJSON *tl = cJSON_GetObjectItem(th, "timeline");
    const cJSON *lv = cJSON_GetObjectItem(tl, "live_bytes");
    int n = cJSON_GetArraySize(lv);
    T_TRUE(n <= 256);
    T_EQ_INT(n, cJSON_GetArraySize(cJSON_GetObjectItem(tl, "t_ns")));
    uint64_t mx = 0, hs = 0;
    for (int i = 0; i < n; i++)
      if ((uint64_t)cJSON_GetArrayItem(lv, i)->valuedouble > mx)
        mx = (uint64_t)cJSON_GetArrayItem(lv, i)->valuedouble;
    T_EQ_U64(jnum(th, "peak_live_bytes"), mx);
    if (n)
      T_EQ_U64(jnum(th, "live_bytes"), (uint64_t)cJSON_GetArrayItem(lv, n - 1)->valuedouble);
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItem(th, "size_histogram")) hs += jnum(b, "count");
    T_EQ_U64(jnum(th, "allocations"), hs);
  }
  cJSON_Delete(sum);
  ms_analysis_free(a);
  free(out);
  tg_rmrf(dir);
  free(dir);
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {
      T_CASE(golden_alloc_family), T_CASE(golden_never_ends), T_CASE(golden_exit_thread),
      T_CASE(leak_symbolized),     T_CASE(suppressions),      T_CASE(sampled_estimate),
      T_CASE(cxx_demangled),       T_CASE(sampled_leak_interval), T_CASE(flamegraph_real),
  };
  if (argc > 1 && strcmp(argv[1], "--list") && argc < 4) {
    fprintf(stderr, "usage: %s TEST LIB PROGRAM\n", argv[0]);
    return 2;
  }
  return t_main(argc, argv, cases, sizeof cases / sizeof *cases);
}
