/* hs_cli.c: memscope-harness's command table and options (ms_cli.h): every option once, the
 * options each command takes, its help, and the parse of the values into hs_opts_t for the
 * commands that share it (scenario, all, run, report, gate; fuzz parses its own values in
 * hs_fuzz.c from the same table). No children, no files written: the fuzz target
 * fuzz_options calls hs_cli_parse directly.
 *
 * Adding an option: a key in hs.h (enum hs_opt_key), a row in hs_options[] (name, value
 * placeholder, help), its key in the lists of the commands that take it below (with a help
 * text of its own where it means something else there), a case in apply() (or in hs_fuzz.c's
 * parse_args for fuzz), and the expected sets in tests/harness/cli_test.sh. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs.h"

/* ---- every option of memscope-harness ---- */

static const ms_cli_opt_t hs_options[] = {
    {HS_O_OUT, "out", "DIR", "reports (and the trace, DIR/trace) go here; default a new\n"
                             "out/NAME/<time>-<pid>, with out/NAME/latest pointing to it"},
    {HS_O_SCALE, "scale", "S", "the scenario's work, times S (1 to 1000000, default 1)"},
    {HS_O_SEED, "seed", "N", "the scenario's random seed (default 1)"},
    {HS_O_SAMPLE, "sample", "MODE", "all | size-classes | bytes:N (MEMSCOPE_SAMPLE)"},
    {HS_O_STACK_DEPTH, "stack-depth", "N", "frames per event, 0 = none (MEMSCOPE_STACK_DEPTH)"},
    {HS_O_THREADS, "threads", "SEL", "all | none | even | odd | GLOB on thread names"},
    {HS_O_MAX_LEAK, "max-leak-bytes", "SIZE", "fail when more bytes leak (pytest-memray limit_leaks)"},
    {HS_O_MAX_LEAK_STACK, "max-leak-bytes-per-stack", "SIZE", "the same, per allocation stack"},
    {HS_O_MAX_PEAK, "max-peak-bytes", "SIZE", "fail when peak live heap exceeds SIZE (limit_memory)"},
    {HS_O_MAX_SCOPE_PEAK, "max-scope-peak", "NAME=SIZE",
     "the same for a memscope_scope_begin/end region\n(repeatable)"},
    {HS_O_MAX_OVERHEAD, "max-overhead", "RATIO", "fail when tracked/untracked CPU time exceeds RATIO"},
    {HS_O_REPEAT, "repeat", "N", "overhead: N interleaved tracked/untracked pairs"},
    {HS_O_OVERHEAD_MODE, "overhead-mode", "MODE", "time (default) or callgrind (instruction counts)"},
    {HS_O_BASELINE, "baseline", "FILE", "gate the overhead against FILE (ci/overhead-baseline.json)"},
    {HS_O_CURRENT, "current", "FILE", "the overhead to gate: overhead.json, or a summary.json\n"
                                      "with overhead (required)"},
    {HS_O_TOLERANCE, "tolerance", "PCT", "gate tolerance in percent (default 20)"},
    {HS_O_HISTORY, "history", "FILE", "append the measured overhead ratios to FILE (JSON Lines) and\n"
                                      "chart them across runs in DIR/plots/overhead_history (--plots)"},
    {HS_O_JUNIT, "junit", "FILE", "JUnit XML (also written to DIR/junit.xml)"},
    {HS_O_HTML, "html", NULL, "DIR/report.html, self-contained"},
    {HS_O_PLOTS, "plots", NULL, "gnuplot scripts, data, PNG and SVG in DIR/plots"},
    {HS_O_EXPORTS, "exports", NULL, "DIR/stacks.collapsed (flamegraph.pl), massif.out (ms_print)"},
    {HS_O_SUPPRESSIONS, "suppressions", "FILE", "leak suppressions (leak:PATTERN lines)"},
    {HS_O_LIB, "lib", "PATH", "libmemscope.so to preload (default: next to the harness)"},
    {HS_O_TIMEOUT, "timeout", "SECONDS", "kill the target's whole process tree when it runs longer"},
    {HS_O_RESOURCES_HZ, "resources-hz", "N", "/proc sampling rate after the fast start, 0 to 1000; 0 = no\n"
                                             "timeline (default: MEMSCOPE_RESOURCES_HZ, else 10)"},
    {HS_O_PROCESS, "process", "NAME|PID|main", "assertions on these processes only (default: the whole tree)"},
    {HS_O_ALLOW_PARTIAL, "allow-partial", NULL, "a partial trace (events lost) is reported, not failed"},
    {HS_O_ROLE_THRESHOLD, "role-threshold", "KEY=VALUE", "a thread role/alert threshold, e.g. cpu_percent=50\n"
                                                         "(repeatable; keys and defaults: docs/analysis.md)"},
    {HS_O_ROLE_THRESHOLDS, "role-thresholds", "FILE", "thresholds from a JSON file: {\"io_ops\": 500, ...}\n"
                                                      "(later options override earlier ones)"},
    {HS_O_NO_PROGRESS, "no-progress", NULL, "no progress line on a TTY"},
    /* Hidden, test-only: MEMSCOPE_TEST_SLOWDOWN=K in tracked runs (tests of the gate). */
    {HS_O_TEST_SLOWDOWN, "test-slowdown", "K", NULL},
    /* Hidden, test-only: the same in the first measurement only, not in the gate's
     * confirmation (a regression that does not repeat, as a burst of load looks). */
    {HS_O_TEST_SLOWDOWN_FIRST, "test-slowdown-first", "K", NULL},
    {HS_O_TIME, "time", "T", "how long to fuzz: 90, 90s, 5m, 1h (required)"},
    {HS_O_JOBS, "jobs", "N", "afl-fuzz instances: one -M main, N-1 -S secK (default 1)"},
    {HS_O_MEMORY_FEEDBACK, "memory-feedback", NULL, "inputs reaching a new power of two of peak heap count as\n"
                                                    "new coverage (MEMSCOPE_FUZZ_FEEDBACK)"},
    {HS_O_DICT, "dict", "F", "afl-fuzz dictionary (-x F)"},
    {HS_O_CORPUS, "corpus", "DIR", "seed inputs (required, at least one non-empty file)"},
    {HS_O_MAIN_NAME, "main-name", "NAME", "name of the -M instance (default main; main-$HOST when\n"
                                          "several machines sync one campaign)"},
    {HS_O_REPLAY_TIMEOUT, "replay-timeout", "SECONDS", "per replayed input (default 10)"},
    {0, NULL, NULL, NULL}};

/* ---- the options of each command ---- */

/* What a tracked run takes (scenario, all: these and --scale, --seed). */
#define HS_TRACKED_RUN_OPTIONS                                                                    \
  {HS_O_OUT, NULL}, {HS_O_SAMPLE, NULL}, {HS_O_STACK_DEPTH, NULL}, {HS_O_THREADS, NULL},           \
      {HS_O_MAX_LEAK, NULL}, {HS_O_MAX_LEAK_STACK, NULL}, {HS_O_MAX_PEAK, NULL},                   \
      {HS_O_MAX_SCOPE_PEAK, NULL}, {HS_O_MAX_OVERHEAD, NULL}, {HS_O_REPEAT, NULL},                 \
      {HS_O_OVERHEAD_MODE, NULL}, {HS_O_BASELINE, NULL}, {HS_O_TOLERANCE, NULL},                   \
      {HS_O_HISTORY, NULL}, {HS_O_JUNIT, NULL}, {HS_O_HTML, NULL}, {HS_O_PLOTS, NULL},             \
      {HS_O_EXPORTS, NULL},                                                                       \
      {HS_O_SUPPRESSIONS, NULL}, {HS_O_LIB, NULL}, {HS_O_TIMEOUT, NULL},                           \
      {HS_O_RESOURCES_HZ, NULL}, {HS_O_PROCESS, NULL}, {HS_O_ALLOW_PARTIAL, NULL},                 \
      {HS_O_ROLE_THRESHOLD, NULL}, {HS_O_ROLE_THRESHOLDS, NULL}, {HS_O_NO_PROGRESS, NULL},         \
      {HS_O_TEST_SLOWDOWN, NULL}, {HS_O_TEST_SLOWDOWN_FIRST, NULL}

static const ms_cli_use_t list_options[] = {{0, NULL}};
static const ms_cli_use_t scenario_options[] = {
    {HS_O_SCALE, NULL}, {HS_O_SEED, NULL}, HS_TRACKED_RUN_OPTIONS, {0, NULL}};
static const ms_cli_use_t run_options[] = {HS_TRACKED_RUN_OPTIONS, {0, NULL}};
static const ms_cli_use_t report_options[] = {
    {HS_O_OUT, "reports go here (default: TRACE_DIR/.. when TRACE_DIR is a\n"
               "harness trace dir, else TRACE_DIR)"},
    {HS_O_MAX_LEAK, NULL},
    {HS_O_MAX_LEAK_STACK, NULL},
    {HS_O_MAX_PEAK, NULL},
    {HS_O_MAX_SCOPE_PEAK, NULL},
    {HS_O_JUNIT, NULL},
    {HS_O_HTML, NULL},
    {HS_O_PLOTS, NULL},
    {HS_O_EXPORTS, NULL},
    {HS_O_HISTORY, "with --plots: chart the overhead history in FILE (JSON Lines)\n"
                   "in DIR/plots/overhead_history; nothing is appended"},
    {HS_O_BASELINE, "with --plots: that chart shows FILE's levels too"},
    {HS_O_SUPPRESSIONS, NULL},
    {HS_O_PROCESS, NULL},
    {HS_O_ALLOW_PARTIAL, NULL},
    {HS_O_ROLE_THRESHOLD, NULL},
    {HS_O_ROLE_THRESHOLDS, NULL},
    {HS_O_NO_PROGRESS, NULL},
    {0, NULL}};
static const ms_cli_use_t gate_options[] = {
    {HS_O_BASELINE, "the baseline: overhead.json (all --repeat N) or a summary.json\n"
                    "with overhead (required)"},
    {HS_O_CURRENT, NULL},
    {HS_O_TOLERANCE, "a rise of the median ratio above PCT percent (default 20)\n"
                     "can regress"},
    {HS_O_HISTORY, "append the current ratios to FILE (one JSON line per scenario)"},
    {HS_O_PLOTS, "chart the history in DIR/plots/overhead_history (needs --out)"},
    {HS_O_OUT, "where --plots draws"},
    {0, NULL}};
static const ms_cli_use_t fuzz_options[] = {
    {HS_O_TIME, NULL},
    {HS_O_JOBS, NULL},
    {HS_O_MAX_LEAK, "bytes one input may leak (default 0; 'none': no leak check)"},
    {HS_O_MAX_PEAK, "live heap one input may add above its start (default: no limit)"},
    {HS_O_MEMORY_FEEDBACK, NULL},
    {HS_O_DICT, NULL},
    {HS_O_SUPPRESSIONS, NULL},
    {HS_O_CORPUS, NULL},
    {HS_O_OUT, "campaign, findings and reports (required; DIR/afl must not exist)"},
    {HS_O_MAIN_NAME, NULL},
    {HS_O_REPLAY_TIMEOUT, NULL},
    {HS_O_LIB, NULL},
    {HS_O_NO_PROGRESS, NULL},
    {0, NULL}};

#define SIZE_FOOTER                                                                               \
  "SIZE: 4096, 24MB (10^6), 24MiB (2^20), 1.5GiB; units B kB MB GB TB KiB MiB GiB TiB.\n"
#define EXIT_FOOTER "Exit status: 0 all assertions held, 1 an assertion failed, 2 usage or runtime error.\n"

static const ms_cli_cmd_t hs_commands[] = {
    {"list", hs_cmd_list, list_options, "", "the scenarios",
     "Prints the scenarios memscope-scenario provides.\n", NULL},
    {"scenario", hs_cmd_scenario, scenario_options, "NAME [options]",
     "run one scenario under the tracker, assert, report",
     "Runs memscope-scenario NAME under the tracker. Assertions by default: the\n"
     "scenario's self-check, exact_counts (its tracked calls equal its stated counts),\n"
     "max_leak_bytes 0 (for leaks from the scenario's own code).\n",
     SIZE_FOOTER EXIT_FOOTER},
    {"all", hs_cmd_all, scenario_options, "[options]", "every scenario, one report set",
     "Runs every scenario (reports in DIR/NAME, one JUnit testsuite). leak_demo is\n"
     "expected to leak: unless --max-leak-bytes is given, its check is that the leak\n"
     "is found in leak_demo_leaky_function. With --repeat N, DIR/overhead.json holds\n"
     "the per-scenario overhead samples (the gate's input).\n",
     SIZE_FOOTER EXIT_FOOTER},
    {"run", hs_cmd_run, run_options, "[options] -- PROGRAM [ARGS...]",
     "any program, via LD_PRELOAD",
     "Runs PROGRAM under the tracker (LD_PRELOAD). Assertions: the exit status, and\n"
     "the limits given.\n",
     SIZE_FOOTER EXIT_FOOTER},
    {"report", hs_cmd_report, report_options, "TRACE_DIR [options]",
     "analyze an existing trace again",
     "Analyzes an existing trace (a run directory or a MEMSCOPE_OUT directory) again\n"
     "and writes the reports. Leak/peak/scope limits apply.\n",
     SIZE_FOOTER EXIT_FOOTER},
    {"gate", hs_cmd_gate, gate_options, "--baseline FILE --current FILE [options]",
     "overhead regression gate",
     "Compares per-scenario CPU overhead ratio samples (overhead.json written by\n"
     "`all --repeat N`, or a summary.json with overhead) with a baseline. A scenario\n"
     "regresses when its median ratio rose more than PCT percent (default 20) and a\n"
     "one-sided Mann-Whitney U test on the per-run ratios gives p < 0.01.\n",
     "Exit status: 0 no regression, 1 a scenario regressed, 2 bad input.\n"},
    {"fuzz", hs_fuzz_main, fuzz_options, "--time T --corpus DIR --out DIR [options] -- TARGET [ARGS]",
     "AFL++ with the leak/peak oracle",
     "Fuzzes TARGET (an LLVMFuzzerTestOneInput target built with afl-cc and memscope's\n"
     "driver, docs/fuzz.md) with afl-fuzz for T, every input checked for leaks and its\n"
     "peak by libmemscope.so, then replays what afl-fuzz saved under the same oracle and\n"
     "writes the distinct findings to DIR/findings.json and DIR/junit.xml.\n",
     "TARGET is run as 'TARGET ARGS FILE' when replaying (ARGS' @@ is replaced by FILE).\n"
     "SIZE: as for the other commands (4096, 24MB, 24MiB).\n"
     "Exit status: 0 nothing found, 1 findings, 2 usage or runtime error.\n"},
};

const ms_cli_prog_t hs_cli_prog = {
    "memscope-harness", hs_options, hs_commands, sizeof hs_commands / sizeof hs_commands[0],
    "memscope-harness COMMAND --help describes a command. Docs: docs/harness.md\n"
    "Exit status: 0 all assertions held, 1 an assertion failed, 2 usage or runtime error.\n"};

/* ---- option values into hs_opts_t ---- */

/* One option's value; 0 or HS_EXIT_USAGE after one line. */
static int apply(const ms_cli_t *it, int key, const char *val, hs_opts_t *o) {
  char err[300];
  long long n;
  switch (key) {
  case HS_O_OUT:
    if (!*val) return ms_cli_error(it, "--out needs a directory");
    o->out = val;
    break;
  case HS_O_PROCESS:
    if (!*val || strlen(val) > 63 || strchr(val, '/'))
      return ms_cli_error(it, "--process '%s': give a program name (no '/'), a pid or 'main'", val);
    o->process = val;
    break;
  case HS_O_SCALE:
    if (hs_parse_int(val, 1, 1000000, &n))
      return ms_cli_error(it, "--scale '%s': give an integer from 1 to 1000000", val);
    o->scale = (int)n;
    break;
  case HS_O_SEED: {
    char *end;
    errno = 0;
    if (!*val || *val == '-' || *val == '+') return ms_cli_error(it, "--seed '%s': give a non-negative integer", val);
    unsigned long long s = strtoull(val, &end, 10);
    if (errno || *end) return ms_cli_error(it, "--seed '%s': give a non-negative integer", val);
    o->seed = s;
    o->have_seed = 1;
    break;
  }
  case HS_O_SAMPLE:
    if (strcmp(val, "all") && strcmp(val, "size-classes") &&
        (strncmp(val, "bytes:", 6) || hs_parse_int(val + 6, 1, (long long)1 << 40, &n)))
      return ms_cli_error(it, "--sample '%s': give all, size-classes or bytes:N (N > 0)", val);
    o->sample = val;
    break;
  case HS_O_STACK_DEPTH:
    if (hs_parse_int(val, 0, 256, &n)) return ms_cli_error(it, "--stack-depth '%s': give an integer from 0 to 256", val);
    o->stack_depth = (int)n;
    break;
  case HS_O_THREADS:
    if (!*val) return ms_cli_error(it, "--threads needs all, none, even, odd or a glob");
    o->threads = val;
    break;
  case HS_O_MAX_LEAK:
    if (hs_parse_size(val, &o->max_leak_bytes, err, sizeof err)) return ms_cli_error(it, "--max-leak-bytes: %s", err);
    o->have_max_leak = 1;
    break;
  case HS_O_MAX_LEAK_STACK:
    if (hs_parse_size(val, &o->max_leak_bytes_per_stack, err, sizeof err))
      return ms_cli_error(it, "--max-leak-bytes-per-stack: %s", err);
    o->have_max_leak_stack = 1;
    break;
  case HS_O_MAX_PEAK:
    if (hs_parse_size(val, &o->max_peak_bytes, err, sizeof err)) return ms_cli_error(it, "--max-peak-bytes: %s", err);
    o->have_max_peak = 1;
    break;
  case HS_O_MAX_SCOPE_PEAK: {
    /* The last '=' splits: a scope's name may hold one. */
    const char *e = strrchr(val, '=');
    if (!e || e == val || (size_t)(e - val) >= sizeof o->scope_limits[0].name)
      return ms_cli_error(it, "--max-scope-peak '%s': give NAME=SIZE, e.g. work_stealing=64KiB", val);
    if (o->nscope_limits >= HS_MAX_SCOPE_LIMITS)
      return ms_cli_error(it, "at most %d --max-scope-peak options", HS_MAX_SCOPE_LIMITS);
    hs_scope_limit_t *sl = &o->scope_limits[o->nscope_limits];
    hs_fmt(sl->name, sizeof sl->name, "%.*s", (int)(e - val), val);
    if (hs_parse_size(e + 1, &sl->bytes, err, sizeof err)) return ms_cli_error(it, "--max-scope-peak: %s", err);
    o->nscope_limits++;
    break;
  }
  case HS_O_MAX_OVERHEAD:
    if (hs_parse_double(val, 1e-9, 1e9, &o->max_overhead))
      return ms_cli_error(it, "--max-overhead '%s': give a positive ratio such as 3 or 2.5", val);
    o->have_max_overhead = 1;
    break;
  case HS_O_REPEAT:
    if (hs_parse_int(val, 1, 1000, &n)) return ms_cli_error(it, "--repeat '%s': give an integer from 1 to 1000", val);
    o->repeat = (int)n;
    break;
  case HS_O_OVERHEAD_MODE:
    if (strcmp(val, "time") && strcmp(val, "callgrind")) return ms_cli_error(it, "--overhead-mode '%s': give time or callgrind", val);
    o->overhead_mode = val;
    break;
  case HS_O_BASELINE: o->baseline = val; break;
  case HS_O_HISTORY:
    if (!*val) return ms_cli_error(it, "--history needs a file name");
    o->history = val;
    break;
  case HS_O_CURRENT: o->current = val; break;
  case HS_O_TOLERANCE:
    if (hs_parse_double(val, 0, 1e6, &o->tolerance_pct)) return ms_cli_error(it, "--tolerance '%s': give a percentage such as 20", val);
    break;
  case HS_O_JUNIT:
    if (!*val) return ms_cli_error(it, "--junit needs a file name");
    o->junit = val;
    break;
  case HS_O_LIB: o->lib = val; break;
  case HS_O_SUPPRESSIONS:
    if (access(val, R_OK) != 0) return ms_cli_error(it, "--suppressions %s: %s", val, strerror(errno));
    o->suppressions = val;
    break;
  case HS_O_TEST_SLOWDOWN:
    if (hs_parse_int(val, 0, 100, &n)) return ms_cli_error(it, "--test-slowdown '%s': give 0 to 100", val);
    o->test_slowdown = (int)n;
    o->test_slowdown_first = 0;
    break;
  case HS_O_TEST_SLOWDOWN_FIRST:
    if (hs_parse_int(val, 0, 100, &n))
      return ms_cli_error(it, "--test-slowdown-first '%s': give 0 to 100", val);
    o->test_slowdown = (int)n;
    o->test_slowdown_first = 1;
    break;
  case HS_O_ROLE_THRESHOLD:
  case HS_O_ROLE_THRESHOLDS: {
    char rerr[1024]; /* room for the list of keys and a path */
    if (key == HS_O_ROLE_THRESHOLDS ? ms_role_thresholds_load(&o->roles, val, rerr, sizeof rerr)
                                    : ms_role_thresholds_set(&o->roles, val, rerr, sizeof rerr))
      return ms_cli_error(it, "%s", rerr);
    break;
  }
  case HS_O_RESOURCES_HZ:
    if (hs_parse_int(val, 0, 1000, &n))
      return ms_cli_error(it, "--resources-hz '%s': give an integer from 0 (no timeline) to 1000", val);
    o->resources_hz = (double)n;
    break;
  case HS_O_TIMEOUT:
    if (hs_parse_double(val, 0.001, 1e7, &o->timeout_s)) return ms_cli_error(it, "--timeout '%s': give seconds", val);
    break;
  case HS_O_HTML: o->html = 1; break;
  case HS_O_PLOTS: o->plots = 1; break;
  case HS_O_EXPORTS: o->exports = 1; break;
  case HS_O_ALLOW_PARTIAL: o->allow_partial = 1; break;
  case HS_O_NO_PROGRESS: o->no_progress = 1; break;
  default: /* an option of the table that apply() does not know: a table error */
    return ms_cli_error(it, "option %s is not handled here (a memscope bug)", it->opt);
  }
  return 0;
}

int hs_cli_parse(const char *cmd, int argc, char **argv, hs_opts_t *o, char **pos, int *npos,
                 int maxpos, int *rest) {
  *npos = 0;
  *rest = -1;
  const ms_cli_cmd_t *c = ms_cli_find(&hs_cli_prog, cmd);
  if (!c) {
    fprintf(stderr, "memscope-harness: unknown command '%s'; try 'memscope-harness --help'\n", cmd);
    return HS_EXIT_USAGE;
  }
  ms_cli_t it;
  ms_cli_begin(&it, &hs_cli_prog, c, argc, argv);
  for (;;) {
    int k = ms_cli_next(&it);
    if (k == MS_CLI_END) break;
    if (k == MS_CLI_DONE) return -1;
    if (k == MS_CLI_ERROR) return HS_EXIT_USAGE;
    if (k == MS_CLI_POS) {
      if (*npos >= maxpos)
        return ms_cli_error(&it, "unexpected argument '%s' (see %s --help)", it.arg, it.prefix);
      pos[(*npos)++] = (char *)it.arg;
      continue;
    }
    int rc = apply(&it, k, it.arg, o);
    if (rc) return rc;
  }
  *rest = it.rest;
  return 0;
}
