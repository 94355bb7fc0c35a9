/* hs.h: the memscope-harness internals shared by its source files (one subsystem per file).
 *
 * Layering: the harness drives the tracker (by LD_PRELOAD into a child, never linked) and the
 * analysis library (linked); plots/ gets analysis results from it. Names: hs_ for this
 * executable's internal functions (STYLE's ms__ is for the libraries). */
#ifndef MEMSCOPE_HS_H
#define MEMSCOPE_HS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "ms_analyze.h" /* ms_role_thresholds_t */
#include "ms_cli.h"     /* the command table */

/* Exit statuses (SPEC §6). */
enum { HS_EXIT_OK = 0, HS_EXIT_FAILED = 1, HS_EXIT_USAGE = 2 };

#define HS_MAX_SCOPE_LIMITS 16

typedef struct hs_scope_limit_s {
  char name[128];
  uint64_t bytes;
} hs_scope_limit_t;

/* Every option of every command (SPEC §6); a command uses the ones that apply to it. */
typedef struct hs_opts_s {
  const char *out;            /* --out DIR */
  int scale;                  /* --scale, >= 1 */
  uint64_t seed;              /* --seed */
  int have_seed;
  const char *sample;         /* --sample: all | size-classes | bytes:N */
  int stack_depth;            /* --stack-depth, -1 = tracker default */
  const char *threads;        /* --threads: all | none | even | odd | GLOB */
  int have_max_leak, have_max_leak_stack, have_max_peak, have_max_overhead;
  uint64_t max_leak_bytes, max_leak_bytes_per_stack, max_peak_bytes;
  double max_overhead;        /* CPU-time ratio tracked / untracked */
  size_t nscope_limits;
  hs_scope_limit_t scope_limits[HS_MAX_SCOPE_LIMITS];
  int repeat;                 /* --repeat N overhead pairs, 0 = no overhead runs */
  const char *overhead_mode;  /* --overhead-mode: time (default) | callgrind */
  const char *baseline;       /* --baseline FILE (scenario/all: gate the overhead against it) */
  const char *current;        /* gate --current FILE */
  double tolerance_pct;       /* gate --tolerance PCT */
  const char *junit;          /* --junit FILE */
  int html, plots, no_progress;
  const char *lib;            /* --lib PATH to libmemscope.so */
  const char *suppressions;   /* --suppressions FILE */
  int test_slowdown;          /* hidden --test-slowdown K: MEMSCOPE_TEST_SLOWDOWN in tracked runs */
  int test_slowdown_first;    /* hidden --test-slowdown-first K: the same, in the first
                               * measurement only (not in the gate's confirmation) */
  double timeout_s;           /* --timeout SECONDS for each child, 0 = none */
  int allow_partial;          /* --allow-partial: a partial trace is reported, not failed */
  const char *process;        /* --process NAME|PID|main: assertions on these processes only */
  ms_role_thresholds_t roles; /* --role-thresholds FILE, --role-threshold KEY=VALUE */
  double resources_hz;        /* --resources-hz / MEMSCOPE_RESOURCES_HZ: steady /proc sampling
                                 rate, 0 = no timeline; < 0 = not given (default 10) */
  const char *history;        /* --history FILE: overhead history, JSON Lines (hs_history.c) */
  int exports;                /* --exports: DIR/stacks.collapsed, stacks_count.collapsed and
                               * massif.out (ms_export.c, docs/exports.md) */
} hs_opts_t;

/* ---- hs_units.c: option values ---- */

/* Parses a byte size: an unsigned decimal number (fraction allowed), optional blank, optional
 * unit: B; kB KB MB GB TB (powers of 1000); KiB MiB GiB TiB (powers of 1024); case of the
 * letters before B is not significant except that "Ki"/"Mi" need the i. 0 or -1 with a
 * message (what was wrong, what to write instead) in err. */
int hs_parse_size(const char *s, uint64_t *out, char *err, size_t errlen);
/* Formats bytes as "23.9 MB (23920640 B)"-style short text: "23.92 MB". */
void hs_format_bytes(uint64_t b, char *buf, size_t len);
/* Parses a positive finite decimal number (ratios, percentages). 0 or -1. */
int hs_parse_double(const char *s, double lo, double hi, double *out);
/* Parses an integer in [lo, hi]. 0 or -1. */
int hs_parse_int(const char *s, long long lo, long long hi, long long *out);
/* Parses a duration: a decimal number (fraction allowed) with an optional unit s (default),
 * m or h; at least 1 s, at most a year; floored to whole seconds. 0 or -1 with a message. */
int hs_parse_duration(const char *s, uint64_t *seconds, char *err, size_t errlen);

/* ---- hs_child.c: running a child under the tracker, and the resource monitor ---- */

typedef struct hs_child_spec_s {
  char *const *argv;          /* program and arguments (argv[0] resolved through PATH) */
  const char *preload_lib;    /* NULL: untracked (baseline) run */
  const char *trace_dir;      /* MEMSCOPE_OUT when tracked */
  const hs_opts_t *opts;      /* MEMSCOPE_SAMPLE / STACK_DEPTH / THREADS / TEST_SLOWDOWN */
  int capture_stdout;         /* 1: collect the child's stdout into out_stdout */
  int quiet_stdout;           /* 1: child's stdout to /dev/null (overhead repeats) */
  int monitor;                /* 1: sample /proc (resources.json) at resources_hz */
  double resources_hz;        /* steady rate; 0 = no timeline (hs_monitor.c: rate policy) */
  const char *progress_label; /* shown on a TTY while it runs, NULL = no progress */
  const char *wrapper_valgrind_out; /* callgrind mode: run under valgrind, this out file */
  double timeout_s;
} hs_child_spec_t;

typedef struct hs_child_result_s {
  int exec_errno;           /* the program could not be started (errno), else 0 */
  int exited;               /* 1: exited normally with exit_code; 0: killed by term_signal */
  int exit_code, term_signal;
  int timed_out;
  pid_t pid;
  double wall_s;            /* fork to reap, monotonic */
  double user_s, sys_s;     /* wait4 rusage of the child (and its reaped descendants) */
  long max_rss_kb;
  char *out_stdout;         /* captured stdout (NUL-terminated, malloc'd) or NULL */
  cJSON *resources;         /* the samples (memscope.resources/1) when monitored, else NULL */
  int tree_killed;          /* processes of the tree the harness killed (timeout, or alive
                               after the main process ended and the grace period) */
  int tree_outlived;        /* of those: killed because they outlived the main process */
  char tree_killed_names[512]; /* "pid (comm), ..." of the killed processes */
} hs_child_result_t;

/* Runs one child to completion. 0, or -errno for a harness-side failure (fork, pipe). A
 * program that cannot be executed is not an error here: exec_errno says so. */
int hs_child_run(const hs_child_spec_t *spec, hs_child_result_t *res);
void hs_child_result_free(hs_child_result_t *res);
/* Looks `prog` up like execvp would; writes the path into buf. 0 or -errno. */
int hs_find_program(const char *prog, char *buf, size_t len);
/* Progress lines go to stderr when it is a TTY and --no-progress was not given. */
void hs_progress_enable(int on);
void hs_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hs_progress_clear(void);

/* ---- hs_monitor.c: the /proc sampler (resources.json, docs/harness.md) ---- */

typedef struct hs_monitor_s hs_monitor_t;
/* A sampler with steady rate hz (1..1000); reads the host's baselines now, before the fork.
 * NULL when out of memory. */
hs_monitor_t *hs_monitor_new(double hz);
/* The child `pid` (forked at t0, hs_now_s) has exec'd: opens its /proc files and takes the
 * first sample. */
void hs_monitor_start(hs_monitor_t *m, pid_t pid, double t0);
/* When (hs_now_s) the next sample is due. */
double hs_monitor_next_due(const hs_monitor_t *m);
/* Takes a sample now; last = 1 for the exited, not yet reaped child (the final sample). */
void hs_monitor_sample(hs_monitor_t *m, int last);
long long hs_monitor_peak_rss_kb(const hs_monitor_t *m);
/* memscope.resources/1 from the samples; frees m. */
cJSON *hs_monitor_finish(hs_monitor_t *m, double wall_s);
/* The document of a run with the sampler off (no timeline). */
cJSON *hs_monitor_off_json(double wall_s);
void hs_monitor_free(hs_monitor_t *m);

/* Shared by hs_report.c and hs_tree.c: leak groups as assertions and messages see them. */
#define HS_MAX_LEAK_GROUPS 100
struct ms_leak_s;
int hs_leak_counts(const struct ms_leak_s *lk, const char *module);
const char *hs_leak_top_function(const struct ms_leak_s *lk);
/* "function (file.c:42)" of a leak's top user frame (the first outside libc, the loader, the
 * C++ runtime and the tracker), with the module instead when the line is not known. */
void hs_leak_top_site(const struct ms_leak_s *lk, char *buf, size_t len);
void hs_format_stack(const struct ms_leak_s *lk, char *buf, size_t len, int max_frames);

/* ---- hs_tree.c: the process tree of a run ---- */

struct ms_analysis_s;
#include "ms_analyze.h" /* ms_completeness_t */

typedef struct hs_proc_s {
  char run_dir[4096];
  char name[64];            /* the executable's base name */
  char cmdline[512];        /* meta.txt's, %XX-escaped */
  char origin[16], end_reason[16];
  long pid, ppid;
  int counts_leaks;         /* 0 for an image that ended in exec */
  uint64_t start_mono_ns, end_mono_ns; /* meta.txt's (0: absent), to find an exec's next image */
  int selected;             /* --process matches it */
  long long threads_tracked; /* meta.txt's threads_registered (threads given a buffer); -1:
                              * not known (no end part) */
  char threads_sel[64];     /* meta.txt's threads= (MEMSCOPE_THREADS as the tracker read it) */
  long *kids;               /* children started by vfork or posix_spawn (meta.txt's
                             * untracked_child= and spawned_child= lines; malloc'd) ... */
  unsigned char *kids_env;  /* ... 1: without the tracker in their environment */
  size_t nkids;
  long long kids_lost;      /* child_lines_lost=: children that could not be named */
  long long threads_untracked; /* threads_untracked=: threads left untracked (the policy,
                              * memscope_thread_track(0)); -1: not known */
  uint64_t allocations, frees, peak_live_bytes;
  uint64_t leaked_bytes;    /* unsuppressed (and module-filtered for a scenario's main) */
  uint64_t exec_live_bytes; /* live when the image was replaced by exec: not leaks */
  int sampled;              /* a sampled run: leak and peak are estimates ... */
  uint64_t leak_high, peak_high; /* ... and these their 95 % upper ends (= the figure in
                                  * full mode): what the assertions compare */
  uint64_t top_bytes, top_blocks; /* the largest leak group */
  char top_function[128];
  char top_site[640];       /* "function (file:line)" of the largest leak (hs_leak_top_site) */
  char top_stack[2048];
  ms_completeness_t comp;
} hs_proc_t;

typedef struct hs_tree_s {
  hs_proc_t *p;
  size_t n;
  size_t main;              /* index of the image analyzed in full */
} hs_tree_t;

typedef struct hs_tree_sum_s {
  const char *selector;
  size_t selected;
  uint64_t allocations, frees, leaked_bytes, peak;
  uint64_t leak_high, peak_high; /* the 95 % upper ends, for sampled processes */
  int sampled;              /* a selected process was sampled */
  const hs_proc_t *peak_proc, *top_leak_proc, *first_incomplete, *stopped;
  int complete, allow_partial;
  long long events_lost;    /* of the incomplete processes; -1 when not known */
  long long threads_tracked; /* over the selected processes; -1 when one is not known */
} hs_tree_sum_t;

ms_analysis_opts_t hs_analysis_opts(const hs_opts_t *o, const char *module, size_t top_stacks);
/* Analyzes every run dir but main_idx (whose analysis main_a the caller holds). 0 or -errno. */
int hs_tree_load(hs_tree_t *t, char **dirs, size_t n, size_t main_idx,
                 const struct ms_analysis_s *main_a, const char *main_module, const hs_opts_t *o,
                 char *err, size_t errlen);
void hs_tree_sum(hs_tree_t *t, const char *selector, pid_t child_pid, int allow_partial,
                 hs_tree_sum_t *s);
int hs_proc_selected(const hs_proc_t *p, const char *sel, pid_t child_pid);
cJSON *hs_tree_json(const hs_tree_t *t, const hs_tree_sum_t *sum);
void hs_tree_free(hs_tree_t *t);

/* ---- hs_report.c: analysis, assertions, summary.json, JUnit ---- */

typedef struct hs_assert_s {
  char name[160];          /* e.g. "max_leak_bytes", "max_scope_peak[work_stealing]" */
  char limit_text[64];     /* the limit as given, for messages */
  double limit, value;     /* bytes or ratio */
  int passed;
  char message[1024];      /* one line: measured, limit, top leak stack where it applies */
  char details[4096];      /* multi-line: the stack, for the JUnit failure body */
} hs_assert_t;

/* One analyzed target (a scenario or a program run). */
typedef struct hs_case_s {
  char name[128];          /* scenario name, or the program's base name */
  char out_dir[4096];
  int ok;                  /* the run and its analysis went through (else error text) */
  char error[512];
  size_t nasserts;
  hs_assert_t *asserts;
  cJSON *summary;          /* summary.json tree (owned) */
  double time_s;
  hs_tree_t tree;          /* every process of the run (owned) */
  hs_tree_sum_t sum;       /* the processes the assertions apply to */
  char partial_text[512];  /* "partial trace: ..." when the tree is not complete, else "" */
} hs_case_t;

/* Everything about one tracked target run: child, analysis, assertions, reports. Writes the
 * reports into c->out_dir. `module` (scenario binary) enables exact_counts against
 * `expected` (a cJSON object from the scenario line, may be NULL). Returns 0 (assertions
 * may still have failed), or -1 with c->error set (runtime error, exit 2). */
int hs_case_run(hs_case_t *c, const hs_opts_t *o, char *const *argv, const char *module,
                int is_scenario);
/* Re-analyzes an existing trace directory into c (report command). */
int hs_case_report(hs_case_t *c, const hs_opts_t *o, const char *trace_dir);
void hs_case_free(hs_case_t *c);
/* Writes a JUnit file with one testsuite named `suite` holding every case's assertions. */
int hs_write_junit(const char *path, const char *suite, hs_case_t *cases, size_t ncases,
                   double time_s, char *err, size_t errlen);
/* Writes `    <testcase classname="memscope.PREFIX BASE" name="BASE.NAME" time="T">` and a newline
 * (BASE and NAME escaped; no ".NAME" when name is NULL). */
void hs_junit_case_open(FILE *f, const char *prefix, const char *base, const char *name,
                        double time_s);
/* Writes `      <ELEMENT type="TYPE" message="MESSAGE">` (failure or error); the caller writes
 * the body and closes the element. */
void hs_junit_problem_open(FILE *f, const char *element, const char *type, const char *message);
/* Text for XML: markup characters as entities, forbidden control characters as '?'. */
void hs_xml_escape(FILE *f, const char *s);
/* o[k] as a number (also a raw JSON number: the analysis writes 64-bit counts raw), else dflt. */
double hs_jnum(const cJSON *o, const char *k, double dflt);
/* Prints the short human summary of a case to stdout. */
void hs_print_case(const hs_case_t *c);

/* ---- hs_overhead.c: overhead repeats, statistics, the gate ---- */

/* Runs o->repeat interleaved (untracked, tracked) pairs of argv and returns the overhead
 * object for summary.json (NULL on a runtime error with err set). */
cJSON *hs_overhead_measure(const hs_opts_t *o, char *const *argv, const char *lib,
                           const char *scratch_dir, char *err, size_t errlen);
/* hs_overhead_measure in a new scratch directory under dir, removed afterwards. */
cJSON *hs_overhead_measure_in(const hs_opts_t *o, char *const *argv, const char *lib,
                              const char *dir, char *err, size_t errlen);
/* The machine this process runs on ({"cpu", "ncpu", "kernel", "build_type"}), recorded with
 * every overhead measurement so that the gate compares CPU times of like machines only. */
cJSON *hs_host_json(void);
/* gate command: 0 no regression, 1 regression, 2 bad input. */
int hs_gate(const char *baseline, const char *current, double tolerance_pct, int *nregressed);
/* Measures target `name`'s overhead again (a fresh set of o->repeat pairs): the overhead object
 * (caller frees), or NULL when it cannot. */
typedef cJSON *(*hs_remeasure_fn)(void *ctx, const char *name);
/* hs_gate for a caller that can measure again (run, scenario, all with --baseline): a target
 * whose CPU-time ratio regressed is re-measured once with `remeasure`, and fails only when the
 * fresh measurement regressed too (docs/harness.md, "Gate"). remeasure NULL = hs_gate. */
int hs_gate_confirmed(const char *baseline, const char *current, double tolerance_pct,
                      int *nregressed, hs_remeasure_fn remeasure, void *ctx);
/* One-sided Mann–Whitney U test, H1: x tends to be larger than y. Returns the p-value
 * (normal approximation with tie and continuity correction; exact for n, m <= 10 and no ties). */
double hs_mann_whitney_greater(const double *x, size_t nx, const double *y, size_t ny);
double hs_median(const double *v, size_t n);
double hs_quantile(const double *v, size_t n, double q);

/* ---- hs_history.c: the overhead history across runs (docs/plots.md) ---- */

/* After the overhead of a run was measured (doc: an overhead.json document, memscope.overhead/1,
 * or a summary.json with "overhead"; NULL when none was measured): appends one entry per
 * scenario to o->history (when given) and, with o->plots, draws out_dir/plots/overhead_history
 * from the whole history (or from this run's entries alone without --history), with the levels
 * of o->baseline when given. `name` names a
 * summary's overhead (the program for `run`); `source` is the command. Returns HS_EXIT_OK, or
 * HS_EXIT_USAGE after one line on stderr. */
int hs_history_update(const hs_opts_t *o, const char *out_dir, const cJSON *doc, const char *name,
                      const char *source);

/* ---- hs_fuzz.c: the fuzz command (AFL++ with the per-input oracle, docs/harness.md) ---- */

/* memscope-harness fuzz ...: argv[0] is "fuzz" (a command handler, hs_cli.c). Returns the
 * exit status: 0 nothing found, 1 findings, 2 usage or runtime error (one line said why). */
int hs_fuzz_main(int argc, char **argv);

/* ---- hs_fuzz_report.c: a campaign's findings, deduplicated; findings.json, JUnit ---- */

/* An afl-fuzz instance's figures from its fuzzer_stats (-1 where absent). */
typedef struct hs_fuzz_stats_s {
  double execs, execs_per_s, corpus, crashes, hangs, run_time_s, exec_timeout_ms;
  char version[32];
} hs_fuzz_stats_t;
/* Reads INST_DIR/fuzzer_stats. 0, or -1 when it is missing or has no execs_done. */
int hs_fuzz_read_stats(const char *inst_dir, hs_fuzz_stats_t *st);

/* One input afl-fuzz saved, and what its replay under the oracle did. */
typedef struct hs_fuzz_input_s {
  const char *path;          /* the file */
  const char *rel;           /* its path relative to --out (afl/NAME/crashes/id:...) */
  const char *instance;      /* the instance directory it came from */
  int from_hangs, from_seed; /* hangs/, or a seed afl-fuzz skipped because it crashed */
  double found_s;            /* seconds after its instance started (name's time:), -1 unknown */
  size_t size;
  int exited, code, sig, timed_out; /* the replay's end */
  const char *err;           /* the replay's stderr (its start) */
  cJSON *report;             /* memscope.fuzz_report/1 it wrote, or NULL; taken over */
} hs_fuzz_input_t;

/* What findings.json says about the campaign besides the findings. */
typedef struct hs_fuzz_campaign_s {
  const char *out;           /* absolute --out */
  char *const *target;       /* TARGET ARGS as given */
  const char *target_path, *afl_fuzz, *dict, *suppressions;
  uint64_t time_s, max_leak, max_peak; /* max_peak 0: none */
  int jobs, feedback;
  double replay_timeout_s;
  const char *const *instances; /* names of the instances this run started ([0]: -M) */
  int ninstances;
  double fuzz_wall_s, replay_wall_s;
  int interrupted, overran;
  time_t started;
} hs_fuzz_campaign_t;

typedef struct hs_fuzz_findings_s hs_fuzz_findings_t;
hs_fuzz_findings_t *hs_fuzz_findings_new(void);
/* Adds one replayed input: a new finding, or one more input of the finding with the same
 * kind and first named frames (function, file, line). 0 or -ENOMEM. */
int hs_fuzz_add(hs_fuzz_findings_t *fs, hs_fuzz_input_t *in);
/* Writes OUT/findings/ID/{input,report.json}, OUT/findings.json (memscope.findings/1,
 * docs/findings-schema.md) and OUT/junit.xml, and prints one line per finding. Returns the
 * number of findings, or -1 with err set. */
int hs_fuzz_write(hs_fuzz_findings_t *fs, const hs_fuzz_campaign_t *c, char *err, size_t errlen);
void hs_fuzz_findings_free(hs_fuzz_findings_t *fs);

/* ---- hs_cli.c: the command table and the options (ms_cli.h) ---- */

/* The key of every option of memscope-harness (hs_cli.c, hs_options[]). */
enum hs_opt_key {
  HS_O_OUT = 256, HS_O_SCALE, HS_O_SEED, HS_O_SAMPLE, HS_O_STACK_DEPTH, HS_O_THREADS,
  HS_O_MAX_LEAK, HS_O_MAX_LEAK_STACK, HS_O_MAX_PEAK, HS_O_MAX_SCOPE_PEAK, HS_O_MAX_OVERHEAD,
  HS_O_REPEAT, HS_O_OVERHEAD_MODE, HS_O_BASELINE, HS_O_CURRENT, HS_O_TOLERANCE, HS_O_HISTORY,
  HS_O_JUNIT, HS_O_HTML, HS_O_PLOTS, HS_O_SUPPRESSIONS, HS_O_LIB, HS_O_TIMEOUT,
  HS_O_RESOURCES_HZ, HS_O_PROCESS, HS_O_ALLOW_PARTIAL, HS_O_ROLE_THRESHOLD,
  HS_O_ROLE_THRESHOLDS, HS_O_NO_PROGRESS, HS_O_TEST_SLOWDOWN, HS_O_TEST_SLOWDOWN_FIRST,
  HS_O_EXPORTS,
  /* fuzz's own */
  HS_O_TIME, HS_O_JOBS, HS_O_MEMORY_FEEDBACK, HS_O_DICT, HS_O_CORPUS, HS_O_MAIN_NAME,
  HS_O_REPLAY_TIMEOUT,
};

/* The program: its options and its command table. */
extern const ms_cli_prog_t hs_cli_prog;
/* Parses the options of command `cmd` (scenario, all, run, report, gate) from argv[1..]
 * (argv[0]: the command) into o, which the caller set to its defaults. Positional arguments
 * go to pos[] (at most maxpos); *rest is the index in argv after "--", or -1. Returns 0,
 * HS_EXIT_USAGE after one line on stderr, or -1 when --help, --version or --list-options
 * was printed (exit 0). Touches no file but --suppressions' and --role-thresholds'. */
int hs_cli_parse(const char *cmd, int argc, char **argv, hs_opts_t *o, char **pos, int *npos,
                 int maxpos, int *rest);

/* ---- main.c: the command handlers (argv[0] is the command) ---- */

int hs_cmd_list(int argc, char **argv);
int hs_cmd_scenario(int argc, char **argv);
int hs_cmd_all(int argc, char **argv);
int hs_cmd_run(int argc, char **argv);
int hs_cmd_report(int argc, char **argv);
int hs_cmd_gate(int argc, char **argv);
extern char hs_lib_path[4096];      /* the tracker library */
extern char hs_scenario_path[4096]; /* memscope-scenario */
/* Finds the tracker (--lib PATH, $MEMSCOPE_LIB, next to the harness) into hs_lib_path. 0, or
 * -1 after one line on stderr saying what to do. */
int hs_find_lib(const char *opt);

/* ---- hs_util.c: small helpers shared by every file ---- */

/* Reads a whole file into a malloc'd NUL-terminated buffer; NULL with errno on failure. */
char *hs_read_file(const char *path, size_t *len);
/* Removes a directory tree (the harness's own trace scratch). 0 or -errno. */
int hs_rmtree(const char *path);
/* Writes a cJSON tree to path atomically. 0 or -errno. */
int hs_write_json(const char *path, const cJSON *json);
double hs_now_s(void);
/* snprintf through vsnprintf: -1 when the text did not fit (it is cut, NUL-terminated), else 0.
 * Used for every fixed buffer, so a too-long path or message is a checked case. */
int hs_fmt(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* MEMSCOPE_HS_H */
