/* main.c: the memscope-harness CLI: list, scenario, all, run, report, gate, fuzz (SPEC §6).
 *
 * The harness is never tracked itself: it runs scenarios and programs in child processes
 * with LD_PRELOAD=libmemscope.so (hs_child.c), analyzes their traces (analysis/), asserts,
 * and writes the reports. Exit: 0 every assertion held, 1 one failed, 2 usage or runtime
 * error (one line on stderr saying what to do). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "ms_analyze.h"
#include "ms_files.h"

char hs_lib_path[4096];
char hs_scenario_path[4096];

/* ---- finding the tracker and the scenarios ---- */

static char exe_dir[PATH_MAX];

static void find_exe_dir(void) {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) {
    hs_fmt(exe_dir, sizeof exe_dir, ".");
    return;
  }
  buf[n] = 0;
  hs_fmt(exe_dir, sizeof exe_dir, "%s", dirname(buf));
}

/* --lib, then $MEMSCOPE_LIB, then the build tree (../tracker/), then an install (../lib/). */
static int find_lib(const char *opt) {
  const char *cands[4];
  char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
  size_t n = 0;
  if (opt) cands[n++] = opt;
  else if (getenv("MEMSCOPE_LIB") && *getenv("MEMSCOPE_LIB")) cands[n++] = getenv("MEMSCOPE_LIB");
  else {
    hs_fmt(a, sizeof a, "%s/../tracker/libmemscope.so", exe_dir);
    hs_fmt(b, sizeof b, "%s/../lib/libmemscope.so", exe_dir);
    hs_fmt(c, sizeof c, "%s/libmemscope.so", exe_dir);
    cands[n++] = a;
    cands[n++] = b;
    cands[n++] = c;
  }
  for (size_t i = 0; i < n; i++) {
    char real[PATH_MAX];
    if (access(cands[i], R_OK) == 0 && realpath(cands[i], real)) {
      hs_fmt(hs_lib_path, sizeof hs_lib_path, "%s", real);
      return 0;
    }
  }
  if (opt || getenv("MEMSCOPE_LIB"))
    fprintf(stderr, "memscope-harness: tracker library %s not found; give the path of libmemscope.so with --lib\n",
            cands[0]);
  else
    fprintf(stderr, "memscope-harness: libmemscope.so not found next to %s (../tracker, ../lib); "
                    "give its path with --lib or $MEMSCOPE_LIB\n", exe_dir);
  return -1;
}

int hs_find_lib(const char *opt) { return find_lib(opt); }

static int find_scenarios(void) {
  const char *env = getenv("MEMSCOPE_SCENARIO");
  char a[PATH_MAX], b[PATH_MAX];
  const char *cands[3];
  size_t n = 0;
  if (env && *env) cands[n++] = env;
  hs_fmt(a, sizeof a, "%s/../scenarios/memscope-scenario", exe_dir);
  hs_fmt(b, sizeof b, "%s/memscope-scenario", exe_dir);
  cands[n++] = a;
  cands[n++] = b;
  for (size_t i = 0; i < n; i++) {
    char real[PATH_MAX];
    if (access(cands[i], X_OK) == 0 && realpath(cands[i], real)) {
      hs_fmt(hs_scenario_path, sizeof hs_scenario_path, "%s", real);
      return 0;
    }
  }
  fprintf(stderr, "memscope-harness: memscope-scenario not found next to %s (../scenarios); "
                  "build it, or set $MEMSCOPE_SCENARIO\n", exe_dir);
  return -1;
}

#define MAX_SCENARIOS 64
static char scenario_names[MAX_SCENARIOS][64];
static char scenario_descr[MAX_SCENARIOS][160];
static size_t nscenarios;

static int load_scenarios(void) {
  if (find_scenarios()) return -1;
  char *argv[] = {hs_scenario_path, "list", NULL};
  hs_child_spec_t sp = {.argv = argv, .capture_stdout = 1};
  hs_child_result_t res;
  if (hs_child_run(&sp, &res) != 0 || res.exec_errno || !res.exited || res.exit_code != 0 ||
      !res.out_stdout) {
    fprintf(stderr, "memscope-harness: '%s list' failed; rebuild memscope-scenario\n", hs_scenario_path);
    hs_child_result_free(&res);
    return -1;
  }
  for (char *line = strtok(res.out_stdout, "\n"); line && nscenarios < MAX_SCENARIOS;
       line = strtok(NULL, "\n")) {
    char name[64];
    int off = 0;
    if (sscanf(line, "%63s %n", name, &off) < 1) continue;
    hs_fmt(scenario_names[nscenarios], sizeof scenario_names[0], "%s", name);
    hs_fmt(scenario_descr[nscenarios], sizeof scenario_descr[0], "%s", line + off);
    nscenarios++;
  }
  hs_child_result_free(&res);
  return nscenarios ? 0 : -1;
}

static int known_scenario(const char *name) {
  for (size_t i = 0; i < nscenarios; i++)
    if (strcmp(scenario_names[i], name) == 0) return 1;
  return 0;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("memscope-harness: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return HS_EXIT_USAGE;
}

/* ---- commands ---- */

/* The sampler's steady rate: --resources-hz, else MEMSCOPE_RESOURCES_HZ (documented as the
 * rate; the tracker accepts the same 0..1000), else 10 Hz. 0, or HS_EXIT_USAGE after one
 * line on stderr. */
static int resolve_resources_hz(hs_opts_t *o) {
  if (o->resources_hz >= 0) return 0;
  const char *env = getenv("MEMSCOPE_RESOURCES_HZ");
  long long n = 10;
  if (env && hs_parse_int(env, 0, 1000, &n))
    return usage_error("MEMSCOPE_RESOURCES_HZ='%.64s': give an integer from 0 (no timeline) to 1000, "
                       "or unset it (10 Hz)", env);
  o->resources_hz = (double)n;
  return 0;
}

/* The default report directory: a new out/NAME/<YYYYmmdd-HHMMSS>-<pid>[-n] for every run, so
 * that concurrent runs of the same program (ctest -j) never share one, and out/NAME/latest,
 * a symbolic link to the newest, replaced atomically (a link made under a random name, then
 * renamed over it). NAME comes from the command line: '/' and leading dots are not kept. */
static int default_out(const char *name, char *buf, size_t len) {
  char safe[128];
  size_t k = 0;
  for (const char *p = name; *p && k + 1 < sizeof safe; p++, k++)
    safe[k] = (*p == '/' || (k == 0 && *p == '.')) ? '_' : *p;
  safe[k] = 0;
  if (!k) hs_fmt(safe, sizeof safe, "run");
  char base[PATH_MAX];
  hs_fmt(base, sizeof base, "out/%s", safe);
  int rc = ms_mkdirs(base);
  if (rc) return rc;
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  char stamp[32], leaf[64];
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  for (int n = 0;; n++) {
    if (n == 0) hs_fmt(leaf, sizeof leaf, "%s-%d", stamp, (int)getpid());
    else hs_fmt(leaf, sizeof leaf, "%s-%d-%d", stamp, (int)getpid(), n);
    hs_fmt(buf, len, "%s/%s", base, leaf);
    if (mkdir(buf, 0755) == 0) break;
    if (errno != EEXIST || n > 100) return -errno;
  }
  char tmp[PATH_MAX], latest[PATH_MAX];
  hs_fmt(latest, sizeof latest, "%s/latest", base);
  for (int n = 0; n < 100; n++) {
    hs_fmt(tmp, sizeof tmp, "%s/.latest.%d.%d.%ld", base, (int)getpid(), n, (long)hs_now_s());
    if (symlink(leaf, tmp) == 0) {
      if (rename(tmp, latest) != 0) unlink(tmp); /* a directory planted there: leave it */
      break;
    }
    if (errno != EEXIST) break;
  }
  return 0;
}

static int finish_cases(const char *suite, hs_case_t *cases, size_t n, const hs_opts_t *o,
                        const char *out_dir, double t0) {
  int any_error = 0, any_fail = 0;
  for (size_t i = 0; i < n; i++) {
    if (!cases[i].ok) any_error = 1;
    for (size_t k = 0; k < cases[i].nasserts; k++) any_fail |= !cases[i].asserts[k].passed;
  }
  char err[600];
  double el = hs_now_s() - t0;
  int have_asserts = 0;
  for (size_t i = 0; i < n; i++) have_asserts |= cases[i].nasserts > 0;
  if (have_asserts || o->junit) {
    char path[PATH_MAX];
    hs_fmt(path, sizeof path, "%s/junit.xml", out_dir);
    if (hs_write_junit(path, suite, cases, n, el, err, sizeof err) != 0) {
      fprintf(stderr, "memscope-harness: %s\n", err);
      return HS_EXIT_USAGE;
    }
    if (o->junit && hs_write_junit(o->junit, suite, cases, n, el, err, sizeof err) != 0) {
      fprintf(stderr, "memscope-harness: %s; check the --junit path\n", err);
      return HS_EXIT_USAGE;
    }
  }
  if (any_error) {
    for (size_t i = 0; i < n; i++)
      if (!cases[i].ok) fprintf(stderr, "memscope-harness: %s: %s\n", cases[i].name, cases[i].error);
    return HS_EXIT_USAGE;
  }
  return any_fail ? HS_EXIT_FAILED : HS_EXIT_OK;
}

static void default_scenario_asserts(hs_opts_t *o) {
  if (!o->have_max_leak) {
    o->have_max_leak = 1;
    o->max_leak_bytes = 0;
  }
}

static char **scenario_argv(const char *name, const hs_opts_t *o, char *scale_buf, char *seed_buf) {
  static char *argv[8];
  hs_fmt(scale_buf, 32, "%d", o->scale);
  hs_fmt(seed_buf, 32, "%llu", (unsigned long long)o->seed);
  argv[0] = hs_scenario_path;
  argv[1] = (char *)name;
  argv[2] = "--scale";
  argv[3] = scale_buf;
  argv[4] = "--seed";
  argv[5] = seed_buf;
  argv[6] = NULL;
  return argv;
}

/* What the gate's confirmation needs to measure a target again (hs_gate_confirmed). */
typedef struct remeasure_ctx_s {
  const hs_opts_t *o;
  const hs_case_t *cases;
  size_t n;
  char *const *run_argv; /* run: the program and its arguments; NULL: scenarios */
} remeasure_ctx_t;

static cJSON *remeasure(void *vctx, const char *name) {
  const remeasure_ctx_t *x = vctx;
  const hs_case_t *c = NULL;
  for (size_t i = 0; i < x->n && !c; i++)
    if (strcmp(x->cases[i].name, name) == 0) c = &x->cases[i];
  if (!c) return NULL;
  hs_opts_t o = *x->o;
  if (o.test_slowdown_first) o.test_slowdown = 0;
  char sb[32], eb[32], err[512] = "";
  char *const *argv = x->run_argv ? x->run_argv : scenario_argv(name, &o, sb, eb);
  cJSON *ov = hs_overhead_measure_in(&o, argv, hs_lib_path, c->out_dir, err, sizeof err);
  if (!ov) fprintf(stderr, "memscope-harness: gate: %s: confirmation: %s\n", name, err);
  return ov;
}

/* Gates the overhead of `cases` against o->baseline; writes out_dir/overhead.json first, and
 * the overhead history (--history, --plots). */
static int overhead_file_and_gate(const hs_opts_t *o, hs_case_t *cases, size_t n,
                                  const char *out_dir, const char *cmd) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "schema", "memscope.overhead/1");
  cJSON_AddNumberToObject(doc, "scale", o->scale);
  cJSON_AddNumberToObject(doc, "repeat", o->repeat);
  cJSON_AddStringToObject(doc, "mode", o->overhead_mode ? o->overhead_mode : "time");
  cJSON_AddNumberToObject(doc, "ncpu", (double)sysconf(_SC_NPROCESSORS_ONLN));
  cJSON_AddItemToObject(doc, "host", hs_host_json()); /* the gate compares like machines only */
  cJSON *sc = cJSON_AddObjectToObject(doc, "scenarios");
  for (size_t i = 0; i < n; i++) {
    const cJSON *ov = cases[i].ok ? cJSON_GetObjectItemCaseSensitive(cases[i].summary, "overhead") : NULL;
    if (!cJSON_IsObject(ov)) continue;
    cJSON *e = cJSON_AddObjectToObject(sc, cases[i].name);
    cJSON_AddItemToObject(e, "cpu", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ov, "cpu"), 1));
    cJSON_AddItemToObject(e, "wall", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(ov, "wall"), 1));
    const cJSON *ins = cJSON_GetObjectItemCaseSensitive(ov, "instructions");
    if (ins) cJSON_AddItemToObject(e, "instructions", cJSON_Duplicate(ins, 1));
  }
  char path[PATH_MAX];
  hs_fmt(path, sizeof path, "%s/overhead.json", out_dir);
  int rc = hs_write_json(path, doc);
  if (rc) {
    cJSON_Delete(doc);
    fprintf(stderr, "memscope-harness: cannot write %s: %s\n", path, strerror(-rc));
    return HS_EXIT_USAGE;
  }
  rc = hs_history_update(o, out_dir, doc, "run", cmd);
  cJSON_Delete(doc);
  if (rc) return rc;
  if (!o->baseline) return HS_EXIT_OK;
  int nreg;
  remeasure_ctx_t ctx = {o, cases, n, NULL};
  return hs_gate_confirmed(o->baseline, path, o->tolerance_pct, &nreg, remeasure, &ctx);
}

static int scenario_or_all(int all, int argc, char **argv) {
  hs_opts_t o = {.scale = 1, .seed = 1, .stack_depth = -1, .tolerance_pct = 20, .resources_hz = -1};
  char *pos[2];
  int npos, dd;
  const char *cmd = all ? "all" : "scenario";
  int rc = hs_cli_parse(cmd, argc, argv, &o, pos, &npos, all ? 0 : 1, &dd);
  if (rc) return rc < 0 ? HS_EXIT_OK : rc;
  if (dd >= 0) return usage_error("%s: '--' is for 'run'; see 'memscope-harness %s --help'", cmd, cmd);
  if (!all && npos != 1) return usage_error("scenario: which one? 'memscope-harness list' names them");
  if (resolve_resources_hz(&o)) return HS_EXIT_USAGE;
  if (find_lib(o.lib) || load_scenarios()) return HS_EXIT_USAGE;
  if (!all && !known_scenario(pos[0]))
    return usage_error("unknown scenario '%s'; 'memscope-harness list' names them", pos[0]);
  if ((o.have_max_overhead || o.baseline) && o.repeat == 0) o.repeat = o.baseline ? 10 : 5;
  if (o.baseline && access(o.baseline, R_OK) != 0)
    return usage_error("--baseline %s: %s", o.baseline, strerror(errno));
  if (o.history && o.repeat == 0)
    return usage_error("%s: --history FILE records measured overhead; add --repeat N", cmd);
  hs_progress_enable(!o.no_progress);

  int user_leak_limit = o.have_max_leak;
  default_scenario_asserts(&o);
  char out_dir[PATH_MAX];
  if (o.out) hs_fmt(out_dir, sizeof out_dir, "%s", o.out);
  else if ((rc = default_out(all ? "all" : pos[0], out_dir, sizeof out_dir)) != 0)
    return usage_error("cannot create a report directory in out/%s: %s; give --out DIR",
                       all ? "all" : pos[0], strerror(-rc));
  if ((rc = ms_mkdirs(out_dir)) != 0)
    return usage_error("cannot create --out directory %s: %s; pick a writable directory", out_dir, strerror(-rc));

  size_t n = all ? nscenarios : 1;
  hs_case_t *cases = calloc(n, sizeof *cases);
  if (!cases) return usage_error("out of memory");
  double t0 = hs_now_s();
  for (size_t i = 0; i < n; i++) {
    const char *name = all ? scenario_names[i] : pos[0];
    hs_case_t *c = &cases[i];
    hs_fmt(c->name, sizeof c->name, "%s", name);
    if (all) hs_fmt(c->out_dir, sizeof c->out_dir, "%s/%s", out_dir, name);
    else hs_fmt(c->out_dir, sizeof c->out_dir, "%s", out_dir);
    char sb[32], eb[32];
    char **sargv = scenario_argv(name, &o, sb, eb);
    hs_opts_t co = o;
    /* In `all`, leak_demo is expected to leak: its check is that the leak is found (in the
     * known function) rather than a zero limit that it is designed to break. */
    int expect_leak = all && !user_leak_limit && strcmp(name, "leak_demo") == 0;
    if (all) hs_progress("[%zu/%zu] %s", i + 1, n, name);
    if (hs_case_run(c, &co, sargv, hs_scenario_path, 1) != 0) {
      hs_print_case(c);
      if (!all) break;
      continue;
    }
    if (expect_leak) {
      for (size_t k = 0; k < c->nasserts; k++) {
        hs_assert_t *a = &c->asserts[k];
        if (strcmp(a->name, "max_leak_bytes") != 0) continue;
        int found = !a->passed && strstr(a->details, "leak_demo_leaky_function") != NULL;
        hs_fmt(a->name, sizeof a->name, "expected_leak_detected");
        a->passed = found;
        char msg[sizeof a->message];
        hs_fmt(msg, sizeof msg, "expected_leak_detected: %s (%s)",
                 found ? "the intended leak was reported in leak_demo_leaky_function"
                       : "the intended leak of leak_demo_leaky_function was NOT reported",
                 a->message);
        hs_fmt(a->message, sizeof a->message, "%s", msg);
      }
      /* Keep summary.json's assertions in step. */
      char path[PATH_MAX];
      cJSON *arr = cJSON_GetObjectItemCaseSensitive(c->summary, "assertions");
      cJSON *x;
      size_t k = 0;
      cJSON_ArrayForEach(x, arr) {
        if (k < c->nasserts) {
          cJSON_ReplaceItemInObjectCaseSensitive(x, "name", cJSON_CreateString(c->asserts[k].name));
          cJSON_ReplaceItemInObjectCaseSensitive(x, "passed", cJSON_CreateBool(c->asserts[k].passed));
          cJSON_ReplaceItemInObjectCaseSensitive(x, "message", cJSON_CreateString(c->asserts[k].message));
        }
        k++;
      }
      hs_fmt(path, sizeof path, "%s/summary.json", c->out_dir);
      hs_write_json(path, c->summary);
    }
    hs_print_case(c);
  }
  hs_progress_clear();
  rc = finish_cases(all ? "memscope-harness all" : "memscope-harness scenario", cases, n, &o,
                    out_dir, t0);
  if (rc != HS_EXIT_USAGE && o.repeat > 0) {
    int g = overhead_file_and_gate(&o, cases, n, out_dir, cmd);
    if (g > rc) rc = g;
  } else if (rc != HS_EXIT_USAGE && o.plots) {
    /* No overhead measured: the chart says so (every --plots writes every chart). */
    int g = hs_history_update(&o, out_dir, NULL, NULL, cmd);
    if (g > rc) rc = g;
  }
  if (all) {
    /* One index of the set. */
    cJSON *idx = cJSON_CreateObject();
    cJSON_AddStringToObject(idx, "schema", "memscope.all/1");
    cJSON_AddNumberToObject(idx, "scale", o.scale);
    cJSON_AddNumberToObject(idx, "seed", (double)o.seed);
    cJSON_AddNumberToObject(idx, "time_s", hs_now_s() - t0);
    cJSON *arr = cJSON_AddArrayToObject(idx, "scenarios");
    for (size_t i = 0; i < n; i++) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "name", cases[i].name);
      cJSON_AddStringToObject(e, "dir", cases[i].name);
      int passed = cases[i].ok;
      for (size_t k = 0; k < cases[i].nasserts; k++) passed &= cases[i].asserts[k].passed;
      cJSON_AddBoolToObject(e, "passed", passed);
      if (!cases[i].ok) cJSON_AddStringToObject(e, "error", cases[i].error);
      if (cases[i].summary) {
        cJSON_AddItemToObject(e, "totals", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cases[i].summary, "totals"), 1));
        cJSON_AddItemToObject(e, "assertions", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(cases[i].summary, "assertions"), 1));
      }
      cJSON_AddItemToArray(arr, e);
    }
    char path[PATH_MAX];
    hs_fmt(path, sizeof path, "%s/summary.json", out_dir);
    hs_write_json(path, idx);
    if (o.html) {
      hs_fmt(path, sizeof path, "%s/index.html", out_dir);
      ms_out_file_t of;
      FILE *f = ms_out_open(&of, path) == 0 ? of.f : NULL;
      if (f) {
        fprintf(f, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>memscope: all scenarios</title>"
                   "<style>body{font-family:sans-serif;margin:2em}td,th{padding:4px 10px;border-bottom:1px solid #ddd}"
                   ".pass{color:#070}.fail{color:#b00}</style></head><body><h1>memscope: all scenarios</h1>"
                   "<table><tr><th>scenario</th><th>result</th><th>allocations</th><th>peak live bytes</th><th>leaked bytes</th></tr>\n");
        for (size_t i = 0; i < n; i++) {
          const cJSON *e = cJSON_GetArrayItem(arr, (int)i);
          const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "totals");
          int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "passed"));
          fprintf(f, "<tr><td><a href=\"%s/report.html\">%s</a></td><td class=\"%s\">%s</td><td>%.0f</td><td>%.0f</td><td>%.0f</td></tr>\n",
                  cases[i].name, cases[i].name, ok ? "pass" : "fail", ok ? "pass" : "FAIL",
                  hs_jnum(t, "allocations", 0), hs_jnum(t, "peak_live_bytes", 0), hs_jnum(t, "leaked_bytes", 0));
        }
        fprintf(f, "</table></body></html>\n");
        if (ms_out_commit(&of) != 0) fprintf(stderr, "memscope-harness: cannot write %s\n", path);
      }
    }
    cJSON_Delete(idx);
    printf("all: %zu scenarios, reports in %s (summary.json, junit.xml%s)\n", n, out_dir,
           o.repeat > 0 ? ", overhead.json" : "");
  }
  for (size_t i = 0; i < n; i++) hs_case_free(&cases[i]);
  free(cases);
  return rc;
}

int hs_cmd_scenario(int argc, char **argv) { return scenario_or_all(0, argc, argv); }

int hs_cmd_all(int argc, char **argv) { return scenario_or_all(1, argc, argv); }

int hs_cmd_run(int argc, char **argv) {
  hs_opts_t o = {.scale = 1, .seed = 1, .stack_depth = -1, .tolerance_pct = 20, .resources_hz = -1};
  char *pos[1];
  int npos, dd;
  int rc = hs_cli_parse("run", argc, argv, &o, pos, &npos, 0, &dd);
  if (rc) return rc < 0 ? HS_EXIT_OK : rc;
  if (dd < 0 || dd >= argc) return usage_error("run: which program? write 'memscope-harness run [options] -- PROGRAM ARGS'");
  if (resolve_resources_hz(&o)) return HS_EXIT_USAGE;
  char prog[PATH_MAX];
  int e = hs_find_program(argv[dd], prog, sizeof prog);
  if (e) return usage_error("run: cannot run '%s': %s; check the program name and PATH", argv[dd], strerror(-e));
  if (find_lib(o.lib)) return HS_EXIT_USAGE;
  if ((o.have_max_overhead || o.baseline) && o.repeat == 0) o.repeat = o.baseline ? 10 : 5;
  if (o.history && o.repeat == 0)
    return usage_error("run: --history FILE records measured overhead; add --repeat N");
  hs_progress_enable(!o.no_progress);
  const char *base = strrchr(argv[dd], '/');
  base = base ? base + 1 : argv[dd];
  hs_case_t c;
  memset(&c, 0, sizeof c);
  hs_fmt(c.name, sizeof c.name, "%s", base);
  if (o.out) hs_fmt(c.out_dir, sizeof c.out_dir, "%s", o.out);
  else if ((rc = default_out(base, c.out_dir, sizeof c.out_dir)) != 0)
    return usage_error("cannot create a report directory in out/%s: %s; give --out DIR", base,
                       strerror(-rc));
  double t0 = hs_now_s();
  hs_case_run(&c, &o, &argv[dd], NULL, 0);
  hs_print_case(&c);
  rc = finish_cases("memscope-harness run", &c, 1, &o, c.ok ? c.out_dir : ".", t0);
  if (rc != HS_EXIT_USAGE && c.ok && (o.history || o.plots)) {
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(c.summary, "overhead");
    int g = hs_history_update(&o, c.out_dir, cJSON_IsObject(ov) ? c.summary : NULL, c.name, "run");
    if (g > rc) rc = g;
  }
  if (rc != HS_EXIT_USAGE && o.repeat > 0 && o.baseline) {
    char path[PATH_MAX];
    hs_fmt(path, sizeof path, "%s/summary.json", c.out_dir);
    remeasure_ctx_t ctx = {&o, &c, 1, &argv[dd]};
    int nreg, g = hs_gate_confirmed(o.baseline, path, o.tolerance_pct, &nreg, remeasure, &ctx);
    if (g > rc) rc = g;
  }
  hs_case_free(&c);
  return rc;
}

int hs_cmd_report(int argc, char **argv) {
  hs_opts_t o = {.scale = 1, .seed = 1, .stack_depth = -1, .tolerance_pct = 20, .resources_hz = -1};
  char *pos[1];
  int npos, dd;
  int rc = hs_cli_parse("report", argc, argv, &o, pos, &npos, 1, &dd);
  if (rc) return rc < 0 ? HS_EXIT_OK : rc;
  if (dd >= 0) return usage_error("report: '--' is for 'run'; see 'memscope-harness report --help'");
  if (npos != 1) return usage_error("report: which trace? write 'memscope-harness report TRACE_DIR'");
  struct stat sb;
  if (stat(pos[0], &sb) != 0 || !S_ISDIR(sb.st_mode))
    return usage_error("report: %s is not a directory; give a trace directory (MEMSCOPE_OUT or OUT/trace)", pos[0]);
  hs_case_t c;
  memset(&c, 0, sizeof c);
  char tmp[PATH_MAX];
  hs_fmt(tmp, sizeof tmp, "%s", pos[0]);
  size_t l = strlen(tmp);
  while (l > 1 && tmp[l - 1] == '/') tmp[--l] = 0;
  const char *base = strrchr(tmp, '/');
  base = base ? base + 1 : tmp;
  if (o.out) hs_fmt(c.out_dir, sizeof c.out_dir, "%s", o.out);
  else if (strcmp(base, "trace") == 0) hs_fmt(c.out_dir, sizeof c.out_dir, "%s/..", tmp);
  else hs_fmt(c.out_dir, sizeof c.out_dir, "%s", tmp);
  /* Name the case after the directory that holds the trace. */
  char parent[PATH_MAX];
  hs_fmt(parent, sizeof parent, "%s", c.out_dir);
  char rp[PATH_MAX];
  const char *nm = realpath(parent, rp) ? strrchr(rp, '/') + 1 : base;
  hs_fmt(c.name, sizeof c.name, "%s", *nm ? nm : "trace");
  double t0 = hs_now_s();
  hs_case_report(&c, &o, tmp);
  hs_print_case(&c);
  rc = finish_cases("memscope-harness report", &c, 1, &o, c.ok ? c.out_dir : ".", t0);
  if (rc != HS_EXIT_USAGE && c.ok && o.plots) {
    /* A report measures no overhead: the chart shows --history FILE as it is, if given. */
    int g = hs_history_update(&o, c.out_dir, NULL, NULL, "report");
    if (g > rc) rc = g;
  }
  hs_case_free(&c);
  return rc;
}

int hs_cmd_gate(int argc, char **argv) {
  hs_opts_t o = {.tolerance_pct = 20, .stack_depth = -1, .resources_hz = -1};
  char *pos[1];
  int npos, dd;
  int rc = hs_cli_parse("gate", argc, argv, &o, pos, &npos, 0, &dd);
  if (rc) return rc < 0 ? HS_EXIT_OK : rc;
  if (dd >= 0) return usage_error("gate: '--' is for 'run'; see 'memscope-harness gate --help'");
  if (!o.baseline || !o.current) return usage_error("gate: give --baseline FILE and --current FILE");
  if (o.plots && !o.out) return usage_error("gate: --plots draws DIR/plots/overhead_history; give --out DIR");
  int nreg;
  int g = hs_gate(o.baseline, o.current, o.tolerance_pct, &nreg);
  if (g == HS_EXIT_USAGE || (!o.history && !o.plots)) return g;
  /* The gate read --current already (hs_gate said why when it could not): the entries of the
   * history are its figures, whether or not it regressed. */
  size_t len;
  char *txt = hs_read_file(o.current, &len);
  cJSON *doc = txt ? cJSON_Parse(txt) : NULL;
  free(txt);
  if (!doc) return usage_error("gate: cannot read %s again for --history", o.current);
  if (o.out && (rc = ms_mkdirs(o.out)) != 0) {
    cJSON_Delete(doc);
    return usage_error("gate: cannot create --out directory %s: %s", o.out, strerror(-rc));
  }
  int h = hs_history_update(&o, o.out, doc, "run", "gate");
  cJSON_Delete(doc);
  return h ? h : g;
}

int hs_cmd_list(int argc, char **argv) {
  hs_opts_t o = {.stack_depth = -1, .resources_hz = -1};
  char *pos[1];
  int npos, dd;
  int rc = hs_cli_parse("list", argc, argv, &o, pos, &npos, 0, &dd);
  if (rc) return rc < 0 ? HS_EXIT_OK : rc;
  if (dd >= 0) return usage_error("list takes no arguments");
  if (load_scenarios()) return HS_EXIT_USAGE;
  for (size_t i = 0; i < nscenarios; i++) printf("%-18s %s\n", scenario_names[i], scenario_descr[i]);
  return HS_EXIT_OK;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  find_exe_dir();
  return ms_cli_main(&hs_cli_prog, argc, argv);
}
