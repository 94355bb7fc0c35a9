/* hs_overhead.c: tracking overhead (interleaved tracked/untracked repeats, or instruction counts
 * under callgrind), its statistics, and the regression gate against a committed baseline.
 *
 * Method (docs/harness.md): each pair runs the same command once without the tracker and once
 * under it, alternating which goes first so slow drift of the machine hits both sides; the CPU
 * time of each run is the child's rusage (user + system, wait4). Per-pair ratios tracked /
 * untracked are the samples; the summary gives their median, quartiles and range, and the
 * ratio of the medians of the two sides. The gate fails a scenario only when its median ratio
 * rose by more than the tolerance AND a one-sided Mann–Whitney U test says the current ratios
 * are larger than the baseline's at α = 0.01, so noise alone does not fail it. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hs.h"
#include "ms_analyze.h" /* ms_mkdirs */

#define HS_GATE_ALPHA 0.01
#define HS_GATE_MIN_SAMPLES 5

/* ---- statistics ---- */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Linear-interpolation quantile (type 7, R's and NumPy's default). */
double hs_quantile(const double *v, size_t n, double q) {
  if (n == 0) return NAN;
  double *s = malloc(n * sizeof *s);
  if (!s) return NAN;
  memcpy(s, v, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_double);
  double h = (double)(n - 1) * q;
  size_t lo = (size_t)floor(h);
  size_t hi = lo + 1 < n ? lo + 1 : lo;
  double r = s[lo] + (h - (double)lo) * (s[hi] - s[lo]);
  free(s);
  return r;
}

double hs_median(const double *v, size_t n) { return hs_quantile(v, n, 0.5); }

/* Exact null distribution of U for sizes (n, m) without ties: counts c[u] of the
 * arrangements with U = u, by the recurrence c(n,m,u) = c(n-1,m,u-m) + c(n,m-1,u). */
static double exact_upper_p(size_t n, size_t m, double u_obs) {
  size_t umax = n * m;
  /* dp[i][j][u] folded into a rolling table over i for all j: size (m+1)*(umax+1). */
  double *prev = calloc((m + 1) * (umax + 1), sizeof *prev);
  double *cur = calloc((m + 1) * (umax + 1), sizeof *cur);
  if (!prev || !cur) {
    free(prev);
    free(cur);
    return NAN;
  }
#define AT(t, j, u) (t)[(j) * (umax + 1) + (u)]
  for (size_t j = 0; j <= m; j++) AT(prev, j, 0) = 1.0; /* i = 0: one arrangement, U = 0 */
  for (size_t i = 1; i <= n; i++) {
    memset(cur, 0, (m + 1) * (umax + 1) * sizeof *cur);
    AT(cur, 0, 0) = 1.0;
    for (size_t j = 1; j <= m; j++)
      for (size_t u = 0; u <= i * j; u++) {
        double v = AT(cur, j - 1, u);               /* the largest value is a y */
        if (u >= j) v += AT(prev, j, u - j);        /* the largest value is an x: beats j ys */
        AT(cur, j, u) = v;
      }
    double *t = prev;
    prev = cur;
    cur = t;
  }
  double total = 0, upper = 0;
  for (size_t u = 0; u <= umax; u++) {
    double c = AT(prev, m, u);
    total += c;
    if ((double)u >= u_obs - 1e-9) upper += c;
  }
#undef AT
  free(prev);
  free(cur);
  return upper / total;
}

double hs_mann_whitney_greater(const double *x, size_t nx, const double *y, size_t ny) {
  if (nx == 0 || ny == 0) return NAN;
  double u = 0;
  int ties = 0;
  for (size_t i = 0; i < nx; i++)
    for (size_t j = 0; j < ny; j++) {
      if (x[i] > y[j]) u += 1.0;
      else if (x[i] == y[j]) u += 0.5, ties = 1;
    }
  if (!ties && nx <= 20 && ny <= 20) return exact_upper_p(nx, ny, u);
  /* Normal approximation with tie correction and continuity correction. */
  size_t n = nx + ny;
  double *all = malloc(n * sizeof *all);
  if (!all) return NAN;
  memcpy(all, x, nx * sizeof *all);
  memcpy(all + nx, y, ny * sizeof *all);
  qsort(all, n, sizeof *all, cmp_double);
  double tie_term = 0;
  for (size_t i = 0; i < n;) {
    size_t k = i;
    while (k < n && all[k] == all[i]) k++;
    double t = (double)(k - i);
    tie_term += t * t * t - t;
    i = k;
  }
  free(all);
  double mu = (double)nx * (double)ny / 2.0;
  double var = (double)nx * (double)ny / 12.0 *
               (((double)n + 1.0) - tie_term / ((double)n * ((double)n - 1.0)));
  if (var <= 0) return u > mu ? 0.0 : 1.0;
  double z = (u - mu - 0.5) / sqrt(var);
  return 0.5 * erfc(z / sqrt(2.0));
}

static cJSON *num_array(const double *v, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
  return a;
}

/* {"tracked": [...], "untracked": [...], "ratios": [...], median, q1, q3, min, max,
 *  ratio_of_medians} for one metric. */
static cJSON *metric_json(const char *unit, const double *tr, const double *un, size_t n) {
  double *r = malloc((n ? n : 1) * sizeof *r);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "unit", unit);
  if (!r) return o;
  for (size_t i = 0; i < n; i++) r[i] = un[i] > 0 ? tr[i] / un[i] : NAN;
  cJSON_AddItemToObject(o, "tracked", num_array(tr, n));
  cJSON_AddItemToObject(o, "untracked", num_array(un, n));
  cJSON_AddItemToObject(o, "ratios", num_array(r, n));
  double mt = hs_median(tr, n), mu = hs_median(un, n);
  cJSON_AddNumberToObject(o, "median_tracked", mt);
  cJSON_AddNumberToObject(o, "median_untracked", mu);
  cJSON_AddNumberToObject(o, "ratio_of_medians", mu > 0 ? mt / mu : 0);
  cJSON_AddNumberToObject(o, "median", hs_median(r, n));
  cJSON_AddNumberToObject(o, "q1", hs_quantile(r, n, 0.25));
  cJSON_AddNumberToObject(o, "q3", hs_quantile(r, n, 0.75));
  cJSON_AddNumberToObject(o, "min", hs_quantile(r, n, 0.0));
  cJSON_AddNumberToObject(o, "max", hs_quantile(r, n, 1.0));
  free(r);
  return o;
}

/* Instruction count of a callgrind output file: its "summary:" line (or "totals:"). */
static int callgrind_total(const char *path, double *out) {
  size_t len;
  char *txt = hs_read_file(path, &len);
  if (!txt) return -1;
  int rc = -1;
  for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
    if (strncmp(line, "summary:", 8) == 0 || (rc != 0 && strncmp(line, "totals:", 7) == 0)) {
      *out = strtod(strchr(line, ':') + 1, NULL);
      rc = 0;
    }
  }
  free(txt);
  return rc;
}

/* The machine a measurement was taken on (docs/harness.md, "Comparing like with like"): the
 * CPU model from /proc/cpuinfo ("model name", or "Hardware"/"cpu model" where x86's line is
 * missing; null when none), the online cores, the kernel release and the harness's build
 * type. CPU-time ratios are compared only between measurements of the same host. */
cJSON *hs_host_json(void) {
  cJSON *h = cJSON_CreateObject();
  char model[256] = "";
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f) {
    char line[512];
    while (!model[0] && fgets(line, sizeof line, f)) {
      if (strncmp(line, "model name", 10) && strncmp(line, "Hardware", 8) &&
          strncmp(line, "cpu model", 9))
        continue;
      char *v = strchr(line, ':');
      if (!v) continue;
      v++;
      while (*v == ' ' || *v == '\t') v++;
      v[strcspn(v, "\n")] = '\0';
      hs_fmt(model, sizeof model, "%s", v);
    }
    fclose(f);
  }
  if (model[0]) cJSON_AddStringToObject(h, "cpu", model);
  else cJSON_AddNullToObject(h, "cpu");
  cJSON_AddNumberToObject(h, "ncpu", (double)sysconf(_SC_NPROCESSORS_ONLN));
  struct utsname u;
  if (uname(&u) == 0) cJSON_AddStringToObject(h, "kernel", u.release);
  else cJSON_AddNullToObject(h, "kernel");
#ifdef MEMSCOPE_BUILD_TYPE
  cJSON_AddStringToObject(h, "build_type", MEMSCOPE_BUILD_TYPE);
#endif
  return h;
}

static int run_once(const hs_opts_t *o, char *const *argv, const char *lib, const char *trace,
                    const char *cg_out, double *cpu, double *wall, char *err, size_t errlen) {
  hs_child_spec_t sp = {.argv = argv, .preload_lib = lib, .trace_dir = trace, .opts = o,
                        .quiet_stdout = 1, .wrapper_valgrind_out = cg_out,
                        .timeout_s = o->timeout_s};
  hs_child_result_t res;
  int rc = hs_child_run(&sp, &res);
  if (rc) {
    hs_fmt(err, errlen, "cannot start a child: %s", strerror(-rc));
    return -1;
  }
  if (res.exec_errno) {
    hs_fmt(err, errlen, "cannot run '%s': %s", cg_out ? "valgrind" : argv[0],
             strerror(res.exec_errno));
    hs_child_result_free(&res);
    return -1;
  }
  if (!res.exited || res.exit_code != 0) {
    hs_fmt(err, errlen, "%s run of '%s' failed (%s %d); overhead needs runs that succeed",
             lib ? "a tracked" : "an untracked", argv[0], res.exited ? "exit" : "signal",
             res.exited ? res.exit_code : res.term_signal);
    hs_child_result_free(&res);
    return -1;
  }
  *cpu = res.user_s + res.sys_s;
  *wall = res.wall_s;
  hs_child_result_free(&res);
  return 0;
}

cJSON *hs_overhead_measure(const hs_opts_t *o, char *const *argv, const char *lib,
                           const char *scratch_dir, char *err, size_t errlen) {
  int n = o->repeat;
  int callgrind = o->overhead_mode && strcmp(o->overhead_mode, "callgrind") == 0;
  double *tc = calloc((size_t)n, sizeof *tc), *uc = calloc((size_t)n, sizeof *uc);
  double *tw = calloc((size_t)n, sizeof *tw), *uw = calloc((size_t)n, sizeof *uw);
  double *ti = calloc((size_t)n, sizeof *ti), *ui = calloc((size_t)n, sizeof *ui);
  cJSON *out = NULL;
  if (!tc || !uc || !tw || !uw || !ti || !ui) {
    hs_fmt(err, errlen, "out of memory");
    goto done;
  }
  int rc = ms_mkdirs(scratch_dir);
  if (rc) {
    hs_fmt(err, errlen, "cannot create %s: %s", scratch_dir, strerror(-rc));
    goto done;
  }
  for (int i = 0; i < n; i++) {
    char trace[PATH_MAX], cg_t[PATH_MAX], cg_u[PATH_MAX];
    hs_fmt(trace, sizeof trace, "%s/trace-%d", scratch_dir, i);
    hs_fmt(cg_t, sizeof cg_t, "%s/callgrind.tracked.%d", scratch_dir, i);
    hs_fmt(cg_u, sizeof cg_u, "%s/callgrind.untracked.%d", scratch_dir, i);
    hs_progress("overhead %s: pair %d of %d", argv[0], i + 1, n);
    /* Alternate the order so that drift and cache warm-up hit both sides alike. */
    for (int side = 0; side < 2; side++) {
      int tracked = (side == 0) == (i % 2 == 1);
      if (tracked) {
        if (run_once(o, argv, lib, trace, callgrind ? cg_t : NULL, &tc[i], &tw[i], err, errlen))
          goto done;
        hs_rmtree(trace);
      } else {
        if (run_once(o, argv, NULL, NULL, callgrind ? cg_u : NULL, &uc[i], &uw[i], err, errlen))
          goto done;
      }
    }
    if (callgrind) {
      if (callgrind_total(cg_t, &ti[i]) || callgrind_total(cg_u, &ui[i])) {
        hs_fmt(err, errlen, "cannot read the callgrind totals in %s", scratch_dir);
        goto done;
      }
      unlink(cg_t);
      unlink(cg_u);
    }
  }
  hs_progress_clear();
  out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "mode", callgrind ? "callgrind" : "time");
  cJSON_AddNumberToObject(out, "repeat", n);
  cJSON_AddStringToObject(out, "method",
                          "interleaved pairs (order alternating), child rusage user+sys via "
                          "wait4; ratio = tracked / untracked per pair");
  cJSON_AddItemToObject(out, "cpu", metric_json("s", tc, uc, (size_t)n));
  cJSON_AddItemToObject(out, "wall", metric_json("s", tw, uw, (size_t)n));
  if (callgrind) cJSON_AddItemToObject(out, "instructions", metric_json("Ir", ti, ui, (size_t)n));
  cJSON_AddItemToObject(out, "host", hs_host_json());
done:
  hs_progress_clear();
  free(tc);
  free(uc);
  free(tw);
  free(uw);
  free(ti);
  free(ui);
  return out;
}

cJSON *hs_overhead_measure_in(const hs_opts_t *o, char *const *argv, const char *lib,
                              const char *dir, char *err, size_t errlen) {
  /* A scratch directory of this measurement's own (mkdtemp: new, random, 0700), so that
   * removing it afterwards can never remove what another run, or a planted link, points at. */
  char scratch[PATH_MAX];
  hs_fmt(scratch, sizeof scratch, "%s/overhead-scratch.XXXXXX", dir);
  if (!mkdtemp(scratch)) {
    hs_fmt(err, errlen, "cannot create a scratch directory in %s: %s", dir, strerror(errno));
    return NULL;
  }
  cJSON *ov = hs_overhead_measure(o, argv, lib, scratch, err, errlen);
  if (!ov && !*err) hs_fmt(err, errlen, "overhead measurement failed");
  hs_rmtree(scratch);
  return ov;
}

/* ---- gate ---- */

/* The machine of one side (hs_host_json), empty strings / 0 when the file does not say. */
typedef struct gate_host_s {
  char cpu[256];
  char kernel[128];
  char build_type[32];
  int ncpu;
} gate_host_t;

typedef struct gate_entry_s {
  char name[128];
  double *cpu;      /* CPU-time ratios (NULL: none, or measured under valgrind) */
  size_t ncpu_s;
  double *ins;      /* callgrind instruction-count ratios (NULL: none) */
  size_t nins;
  gate_host_t host;
} gate_entry_t;

static void entries_free(gate_entry_t *e, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(e[i].cpu);
    free(e[i].ins);
  }
  free(e);
}

/* Copies a JSON array of positive finite numbers; -1 when it is not one. */
static int read_ratios(const cJSON *ratios, double **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!cJSON_IsArray(ratios)) return -1;
  size_t k = (size_t)cJSON_GetArraySize(ratios);
  double *v = calloc(k ? k : 1, sizeof *v);
  if (!v) return -1;
  const cJSON *x;
  cJSON_ArrayForEach(x, ratios) {
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble) || x->valuedouble <= 0) {
      free(v);
      return -1;
    }
    v[(*n)++] = x->valuedouble;
  }
  *out = v;
  return 0;
}

static void read_host(const cJSON *h, gate_host_t *out) {
  memset(out, 0, sizeof *out);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(h, "cpu");
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(h, "kernel");
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(h, "build_type");
  const cJSON *n = cJSON_GetObjectItemCaseSensitive(h, "ncpu");
  if (cJSON_IsString(c)) hs_fmt(out->cpu, sizeof out->cpu, "%s", c->valuestring);
  if (cJSON_IsString(k)) hs_fmt(out->kernel, sizeof out->kernel, "%s", k->valuestring);
  if (cJSON_IsString(b)) hs_fmt(out->build_type, sizeof out->build_type, "%s", b->valuestring);
  if (cJSON_IsNumber(n)) out->ncpu = n->valueint;
}

/* One scenario's samples. `ov` holds "cpu", "instructions" and maybe "host" and "mode";
 * `doc_host` / `doc_mode` are the file's top-level ones (overhead.json), used when `ov` has
 * none. CPU times taken under valgrind (mode callgrind) measure valgrind, not the program:
 * they are not gated. */
static int add_entry(gate_entry_t **es, size_t *n, const char *name, const cJSON *ov,
                     const cJSON *doc_host, const cJSON *doc_mode) {
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(ov, "mode");
  if (!cJSON_IsString(mode)) mode = doc_mode;
  int under_valgrind = cJSON_IsString(mode) && strcmp(mode->valuestring, "callgrind") == 0;
  const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ov, "cpu"), "ratios");
  const cJSON *ins = cJSON_GetObjectItemCaseSensitive(ov, "instructions");
  const cJSON *insr = cJSON_GetObjectItemCaseSensitive(ins, "ratios");
  gate_entry_t *ne = realloc(*es, (*n + 1) * sizeof *ne);
  if (!ne) return -1;
  *es = ne;
  gate_entry_t *e = &ne[*n];
  memset(e, 0, sizeof *e);
  hs_fmt(e->name, sizeof e->name, "%s", name);
  if ((!under_valgrind && cpu && read_ratios(cpu, &e->cpu, &e->ncpu_s)) ||
      (ins && read_ratios(insr, &e->ins, &e->nins)) || (!e->cpu && !e->ins)) {
    free(e->cpu);
    free(e->ins);
    return -1;
  }
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(ov, "host");
  read_host(h ? h : doc_host, &e->host);
  (*n)++;
  return 0;
}

/* Reads per-scenario ratio samples from an overhead file (memscope.overhead/1:
 * {"host": {...}, "scenarios": {NAME: {"cpu": {"ratios": [...]}, "instructions": {...}}}}) or
 * a summary.json with "overhead". */
static int load_ratios(const char *path, gate_entry_t **es, size_t *n, char *err, size_t errlen) {
  size_t len;
  char *txt = hs_read_file(path, &len);
  if (!txt) {
    hs_fmt(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  cJSON *j = cJSON_Parse(txt);
  free(txt);
  if (!j) {
    hs_fmt(err, errlen, "%s is not JSON; give a file written by memscope-harness (overhead.json)", path);
    return -1;
  }
  int rc = 0;
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(j, "scenarios");
  const cJSON *host = cJSON_GetObjectItemCaseSensitive(j, "host");
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(j, "mode");
  if (cJSON_IsObject(sc)) {
    const cJSON *s;
    cJSON_ArrayForEach(s, sc) {
      if (!s->string || add_entry(es, n, s->string, s, host, mode)) {
        hs_fmt(err, errlen, "%s: scenario '%s' has no valid cpu.ratios or instructions.ratios "
                            "(positive numbers)", path, s->string ? s->string : "?");
        rc = -1;
        break;
      }
    }
  } else {
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(j, "overhead");
    const cJSON *scen = cJSON_GetObjectItemCaseSensitive(j, "scenario");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(scen, "name");
    if (!cJSON_IsString(nm)) nm = cJSON_GetObjectItemCaseSensitive(ov, "name");
    if (!cJSON_IsObject(ov) || add_entry(es, n, cJSON_IsString(nm) ? nm->valuestring : "run", ov, NULL, NULL)) {
      hs_fmt(err, errlen, "%s has neither \"scenarios\" nor \"overhead.cpu.ratios\"; run with --repeat N", path);
      rc = -1;
    }
  }
  if (rc == 0 && *n == 0) {
    hs_fmt(err, errlen, "%s holds no overhead samples", path);
    rc = -1;
  }
  cJSON_Delete(j);
  return rc;
}

static void host_desc(const gate_host_t *h, char *buf, size_t len) {
  if (!h->cpu[0] && !h->ncpu && !h->kernel[0]) {
    hs_fmt(buf, len, "an unrecorded machine");
    return;
  }
  hs_fmt(buf, len, "'%s', %d cores, kernel %s%s%s", h->cpu[0] ? h->cpu : "unknown CPU", h->ncpu,
         h->kernel[0] ? h->kernel : "unknown", h->build_type[0] ? ", build " : "", h->build_type);
}

/* Same kind of machine: the same CPU model, core count and kernel, all recorded. A side that
 * does not say is another machine: CPU times are then never compared (no false verdict). */
static int same_host(const gate_host_t *a, const gate_host_t *b) {
  return a->cpu[0] && a->kernel[0] && a->ncpu > 0 && strcmp(a->cpu, b->cpu) == 0 &&
         strcmp(a->kernel, b->kernel) == 0 && a->ncpu == b->ncpu;
}

/* Gates one scenario: 0 compared (regressed set), HS_EXIT_USAGE when it cannot be compared
 * (the one-line reason is printed). */
/* The CPU-time test of one sample against the baseline's: regressed when the median rose by
 * more than tol percent and Mann-Whitney U says the rise is significant. */
typedef struct cpu_test_s {
  double median, base_median, change, p;
  int regressed;
} cpu_test_t;

static cpu_test_t cpu_test(const double *cur, size_t nc, const double *base, size_t nb, double tol) {
  cpu_test_t t;
  t.base_median = hs_median(base, nb);
  t.median = hs_median(cur, nc);
  t.change = (t.median / t.base_median - 1.0) * 100.0;
  t.p = hs_mann_whitney_greater(cur, nc, base, nb);
  t.regressed = t.change > tol && t.p < HS_GATE_ALPHA;
  return t;
}

/* A CPU-time regression is re-measured once before it fails (when the caller can measure):
 * the machine's load comes in bursts that can last a whole measurement and lift every pair's
 * ratio alike (pairing cancels load that hits both runs of a pair, not load that slows the
 * tracked run's memory-heavier work more), so a single set of pairs can look significant.
 * A real regression is in the code and shows again; a burst does not. Never passes a
 * regression by mistake: a confirmation that cannot be measured keeps REGRESSED. */
static int confirm_cpu(const gate_entry_t *c, const gate_entry_t *b, double tol,
                       hs_remeasure_fn remeasure, void *ctx) {
  cJSON *ov = remeasure(ctx, c->name);
  double *r = NULL;
  size_t n = 0;
  const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(ov, "cpu");
  if (!ov || read_ratios(cJSON_GetObjectItemCaseSensitive(cpu, "ratios"), &r, &n) ||
      n < HS_GATE_MIN_SAMPLES) {
    printf("gate: %s: confirmation: could not be measured; the first measurement stands: "
           "REGRESSED\n", c->name);
    free(r);
    cJSON_Delete(ov);
    return 1;
  }
  cpu_test_t t = cpu_test(r, n, b->cpu, b->ncpu_s, tol);
  printf("gate: %s: confirmation (a fresh set of %zu pairs): CPU overhead ratio %.3f vs baseline "
         "%.3f: %+.1f%%, p = %.4g: %s\n", c->name, n, t.median, t.base_median, t.change, t.p,
         t.regressed ? "REGRESSED (confirmed)"
                     : "ok (the first measurement did not repeat: machine noise, not the tracker)");
  free(r);
  cJSON_Delete(ov);
  return t.regressed;
}

static int gate_one(const gate_entry_t *c, const gate_entry_t *b, double tol, int *regressed,
                    hs_remeasure_fn remeasure, void *ctx) {
  char hb[512], hc[512];
  host_desc(&b->host, hb, sizeof hb);
  host_desc(&c->host, hc, sizeof hc);
  *regressed = 0;
  /* A Debug tracker against a Release baseline differs in instructions too: never compared. */
  if (b->host.build_type[0] && c->host.build_type[0] && strcmp(b->host.build_type, c->host.build_type)) {
    fprintf(stderr, "memscope-harness: gate: %s: cannot compare: the baseline's tracker was a %s "
                    "build, this one is %s; refresh the baseline with the same build type\n",
            c->name, b->host.build_type, c->host.build_type);
    return HS_EXIT_USAGE;
  }
  int same = same_host(&b->host, &c->host);
  if (same && c->cpu && b->cpu) {
    if (c->ncpu_s < HS_GATE_MIN_SAMPLES || b->ncpu_s < HS_GATE_MIN_SAMPLES) {
      fprintf(stderr,
              "memscope-harness: gate: %s: %zu current and %zu baseline samples; the test needs "
              "at least %d on each side (run with --repeat %d or more)\n",
              c->name, c->ncpu_s, b->ncpu_s, HS_GATE_MIN_SAMPLES, HS_GATE_MIN_SAMPLES);
      return HS_EXIT_USAGE;
    }
    cpu_test_t t = cpu_test(c->cpu, c->ncpu_s, b->cpu, b->ncpu_s, tol);
    printf("gate: %s: CPU overhead ratio %.3f (median of %zu) vs baseline %.3f (median of %zu): "
           "%+.1f%% (tolerance %.1f%%), Mann-Whitney U one-sided p = %.4g (alpha %.2g): %s\n",
           c->name, t.median, c->ncpu_s, t.base_median, b->ncpu_s, t.change, tol, t.p,
           HS_GATE_ALPHA,
           t.regressed ? (remeasure ? "above tolerance and significant; re-measuring to confirm"
                                    : "REGRESSED")
           : t.change > tol ? "ok (above tolerance but not significant: noise)"
                            : "ok");
    fflush(stdout); /* the confirmation's runs take a while */
    *regressed = t.regressed && (!remeasure || confirm_cpu(c, b, tol, remeasure, ctx));
    return 0;
  }
  if (c->ins && b->ins) {
    /* Instruction counts do not move with machine noise nor with the CPU model: the
     * tolerance alone decides. */
    double mb = hs_median(b->ins, b->nins), mc = hs_median(c->ins, c->nins);
    double change = (mc / mb - 1.0) * 100.0;
    *regressed = change > tol;
    printf("gate: %s: instruction-count overhead ratio %.3f vs baseline %.3f (callgrind%s): "
           "%+.1f%% (tolerance %.1f%%): %s\n", c->name, mc, mb,
           same ? "" : "; the baseline's CPU times are from another machine", change, tol,
           *regressed ? "REGRESSED" : "ok");
    return 0;
  }
  if (!same)
    fprintf(stderr, "memscope-harness: gate: %s: cannot compare: the baseline was measured on %s, "
                    "this run on %s, and %s no instruction counts; measure them with "
                    "--overhead-mode callgrind (ci/gate.sh does) or refresh the baseline on this "
                    "machine (ci/update-baseline.sh)\n",
            c->name, hb, hc, b->ins ? "this run has" : "the baseline has");
  else
    fprintf(stderr, "memscope-harness: gate: %s: one file has instruction counts (callgrind), the "
                    "other CPU times; measure both with the same --overhead-mode\n", c->name);
  return HS_EXIT_USAGE;
}

int hs_gate(const char *baseline, const char *current, double tol, int *nregressed) {
  return hs_gate_confirmed(baseline, current, tol, nregressed, NULL, NULL);
}

int hs_gate_confirmed(const char *baseline, const char *current, double tol, int *nregressed,
                      hs_remeasure_fn remeasure, void *ctx) {
  gate_entry_t *be = NULL, *ce = NULL;
  size_t nb = 0, nc = 0;
  char err[1024];
  *nregressed = 0;
  if (load_ratios(baseline, &be, &nb, err, sizeof err) ||
      load_ratios(current, &ce, &nc, err, sizeof err)) {
    fprintf(stderr, "memscope-harness: gate: %s\n", err);
    entries_free(be, nb);
    entries_free(ce, nc);
    return HS_EXIT_USAGE;
  }
  int compared = 0;
  for (size_t i = 0; i < nc; i++) {
    const gate_entry_t *c = &ce[i], *b = NULL;
    for (size_t k = 0; k < nb; k++)
      if (strcmp(be[k].name, c->name) == 0) b = &be[k];
    if (!b) {
      printf("gate: %s: not in the baseline, not gated (add it with ci/update-baseline.sh)\n",
             c->name);
      continue;
    }
    int regressed;
    if (gate_one(c, b, tol, &regressed, remeasure, ctx)) {
      entries_free(be, nb);
      entries_free(ce, nc);
      return HS_EXIT_USAGE;
    }
    compared++;
    if (regressed) (*nregressed)++;
  }
  entries_free(be, nb);
  entries_free(ce, nc);
  if (compared == 0) {
    fprintf(stderr, "memscope-harness: gate: no scenario of %s is in %s; nothing to compare\n",
            current, baseline);
    return HS_EXIT_USAGE;
  }
  if (*nregressed) {
    printf("gate: FAILED: %d scenario%s regressed\n", *nregressed, *nregressed > 1 ? "s" : "");
    return HS_EXIT_FAILED;
  }
  printf("gate: passed (%d scenario%s compared)\n", compared, compared > 1 ? "s" : "");
  return HS_EXIT_OK;
}
