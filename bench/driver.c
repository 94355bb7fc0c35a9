/* driver.c: memscope-bench, runs the benchmark programs natively, under libmemscope.so and
 * under heaptrack, side by side in one interleaved run, and reports the figures of SPEC §11.
 *
 * Every figure is a median over repeats of real runs on this machine; the programs are
 * forked and exec'd with and without LD_PRELOAD, CPU time comes from wait4()'s rusage (the
 * child and every descendant it waited for), wall time from CLOCK_MONOTONIC around
 * fork..wait4. See bench/README.md for what each figure means and how it is measured. */
#define _GNU_SOURCE /* pipe2, nftw, strsignal */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#ifndef MS_BENCH_DEFAULT_LIB
#define MS_BENCH_DEFAULT_LIB "libmemscope.so"
#endif
#define MS_BENCH_DEFAULT_HEAPTRACK "/usr/bin/heaptrack"

#define MS_BENCH_MAX_REPEAT 50
#define MS_BENCH_OUT_MAX 16384 /* bytes of a child's stdout kept; the rest is drained */
#define MS_BENCH_ENV_MAX 512

extern char **environ;

/* ---- what is run ---------------------------------------------------------------------- */

typedef enum bench_prog_e { PROG_CALLS, PROG_THREADS, PROG_WORKLOAD } bench_prog_t;

typedef enum bench_mode_e {
  MODE_NATIVE,        /* no tracker */
  MODE_FULL,          /* every call, 16-frame stacks */
  MODE_NOSTACK,       /* every call, MEMSCOPE_STACK_DEPTH=0 */
  MODE_SAMPLED,       /* MEMSCOPE_SAMPLE=bytes:524288, 16-frame stacks */
  MODE_UNTRACKED_ENV, /* MEMSCOPE_THREADS=none */
  MODE_UNTRACKED_API, /* the thread calls memscope_thread_track(0) */
  MODE_HEAPTRACK,     /* heaptrack -o DIR/ht PROG ARGS */
} bench_mode_t;

typedef struct bench_sizes_s {
  unsigned long calls_pairs;    /* malloc/free pairs per timed round of ms-bench-calls */
  unsigned long calls_rounds;   /* timed rounds per run */
  unsigned long threads;        /* T of the memory-per-thread probe */
  unsigned long wl_threads;     /* ms-bench-workload threads */
  unsigned long wl_pairs;       /* ms-bench-workload pairs per thread */
  unsigned long timeout_s;      /* a run taking longer is killed and the bench fails */
} bench_sizes_t;

static const bench_sizes_t full_sizes = {150000, 20, 64, 4, 1000000, 600};
static const bench_sizes_t quick_sizes = {20000, 10, 64, 4, 100000, 60};

/* The measurements of a series of runs, one entry per repeat (NAN where not applicable). */
typedef struct bench_series_s {
  double value[MS_BENCH_MAX_REPEAT];       /* ns/call by thread CPU time (calls), or VmRSS
                                              growth in KiB (threads) */
  double value_wall[MS_BENCH_MAX_REPEAT];  /* calls: ns/call by wall clock */
  double rss_threads[MS_BENCH_MAX_REPEAT]; /* threads: VmRSS with all T parked, KiB */
  double cpu_s[MS_BENCH_MAX_REPEAT];       /* user+sys of the child and its descendants */
  double wall_s[MS_BENCH_MAX_REPEAT];      /* fork to reaped */
  double events[MS_BENCH_MAX_REPEAT];      /* meta.txt events= (memscope modes) */
  double trace_bytes[MS_BENCH_MAX_REPEAT]; /* sum of the run dir's *.bin sizes */
} bench_series_t;

/* One program in one mode, run `repeats` times. Every run is paired with a native run of
 * the same program and arguments made just before it: this machine's speed drifts by tens
 * of percent over seconds (shared host), and a difference or ratio taken within a pair,
 * a second apart, cancels most of that drift where a difference of two medians does not. */
typedef struct bench_job_s {
  const char *id; /* short name used in JSON, e.g. "calls.full16" */
  bench_prog_t prog;
  bench_mode_t mode;
  int repeats;           /* pairs wanted */
  int runs;              /* pairs done */
  bench_series_t tool;   /* runs under memscope or heaptrack */
  bench_series_t native; /* the paired native runs */
} bench_job_t;

typedef struct bench_opts_s {
  const char *lib;
  const char *heaptrack;
  const char *json_path;
  char bindir[PATH_MAX];
  char scratch[PATH_MAX]; /* our private temporary directory */
  int repeat;
  int heaptrack_repeat;
  int quick;
  int no_heaptrack;
  bench_sizes_t sizes;
} bench_opts_t;

static bench_opts_t opts;

/* ---- small utilities ------------------------------------------------------------------ */

static void cleanup_scratch(void);

static __attribute__((format(printf, 1, 2), noreturn)) void die(const char *fmt, ...) {
  va_list ap;
  fputs("memscope-bench: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  cleanup_scratch();
  exit(1);
}

/* dst = dir/name; a path that does not fit ends the bench (never silently truncated). */
static void path_join(char *dst, size_t cap, const char *dir, const char *name) {
  int n = snprintf(dst, cap, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= cap)
    die("path too long: %s/%s", dir, name);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of the first n values (NAN when n is 0). */
static double median(const double *values, int n) {
  if (n <= 0)
    return NAN;
  double sorted[MS_BENCH_MAX_REPEAT];
  memcpy(sorted, values, (size_t)n * sizeof *sorted);
  qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
  return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Remove a directory tree (not following symbolic links). 0 or -errno. */
static int remove_tree(const char *path) {
  if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
    return -errno;
  return 0;
}

static void cleanup_scratch(void) {
  if (opts.scratch[0] != '\0') {
    (void)remove_tree(opts.scratch);
    opts.scratch[0] = '\0';
  }
}

static void on_fatal_signal(int sig) {
  /* Ctrl-C: remove the scratch tree (traces can be hundreds of MB), then die of the signal.
   * Not async-signal-safe in theory (nftw), acceptable for an interactive bench tool. */
  cleanup_scratch();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* The value of "key=" at the start of a line of text, as a double; NAN when absent. The
 * last occurrence wins (meta.txt appends its end part after the start part). */
static double find_value(const char *text, const char *key) {
  size_t klen = strlen(key);
  double value = NAN;
  for (const char *line = text; line != NULL && *line != '\0';) {
    if (strncmp(line, key, klen) == 0 && line[klen] == '=')
      value = strtod(line + klen + 1, NULL);
    line = strchr(line, '\n');
    if (line != NULL)
      line++;
  }
  return value;
}

/* Read up to cap-1 bytes of a file into buf, NUL-terminated. 0 or -errno. */
static int read_small_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  size_t len = 0;
  ssize_t n;
  while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
    len += (size_t)n;
  close(fd);
  buf[len] = '\0';
  return 0;
}

/* ---- running one child ---------------------------------------------------------------- */

typedef struct child_result_s {
  double cpu_s;
  double wall_s;
  char out[MS_BENCH_OUT_MAX]; /* its stdout (first MS_BENCH_OUT_MAX-1 bytes) */
} child_result_t;

/* The environment for a child: ours without LD_PRELOAD and MEMSCOPE_*, plus extra. */
static void build_env(char **env, char *const *extra) {
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < MS_BENCH_ENV_MAX - 16; e++)
    if (strncmp(*e, "LD_PRELOAD=", 11) != 0 && strncmp(*e, "MEMSCOPE_", 9) != 0)
      env[n++] = *e;
  for (; extra != NULL && *extra != NULL; extra++)
    env[n++] = *extra;
  env[n] = NULL;
}

/* The first line of a file (a child's stderr), for error messages; "" if none. */
static void first_line(const char *path, char *line, size_t cap) {
  if (read_small_file(path, line, cap) != 0)
    line[0] = '\0';
  line[strcspn(line, "\n")] = '\0';
}

/* Run argv with environment env, stdout captured into res->out, stderr into stderr_path.
 * The child gets its own process group so a timeout can kill it with all its helpers
 * (heaptrack's interpreter). Any failure ends the bench with a one-line message. */
static void run_child(const char *what, char *const *argv, char *const *env,
                      const char *stderr_path, child_result_t *res) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0)
    die("pipe: %s", strerror(errno));
  int errfd = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (errfd < 0)
    die("cannot create %s: %s", stderr_path, strerror(errno));

  fflush(NULL);
  double t0 = now_s();
  pid_t pid = fork();
  if (pid < 0)
    die("fork: %s", strerror(errno));
  if (pid == 0) {
    setpgid(0, 0);
    if (dup2(pipefd[1], STDOUT_FILENO) < 0 || dup2(errfd, STDERR_FILENO) < 0)
      _exit(126);
    execve(argv[0], argv, env);
    dprintf(STDERR_FILENO, "cannot execute %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid); /* also from the parent, so the group exists before any kill */
  close(pipefd[1]);
  close(errfd);

  size_t len = 0;
  double deadline = t0 + (double)opts.sizes.timeout_s;
  int timed_out = 0;
  for (;;) {
    double left = deadline - now_s();
    if (left <= 0) {
      timed_out = 1;
      break;
    }
    struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
    int ready = poll(&pfd, 1, (int)(left * 1000.0) + 1);
    if (ready < 0 && errno == EINTR)
      continue;
    if (ready <= 0)
      continue; /* timeout is checked at the top */
    char sink[4096];
    char *dst = len < sizeof res->out - 1 ? res->out + len : sink;
    size_t room = len < sizeof res->out - 1 ? sizeof res->out - 1 - len : sizeof sink;
    ssize_t n = read(pipefd[0], dst, room);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (dst != sink)
      len += (size_t)n;
  }
  close(pipefd[0]);
  res->out[len] = '\0';
  if (timed_out)
    kill(-pid, SIGKILL);

  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0)
    if (errno != EINTR)
      die("wait4: %s", strerror(errno));
  res->wall_s = now_s() - t0;
  res->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
               (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;

  char line[512];
  first_line(stderr_path, line, sizeof line);
  if (timed_out)
    die("%s: killed after %lu s without finishing (stderr: %s)", what, opts.sizes.timeout_s,
        line[0] ? line : "empty");
  if (WIFSIGNALED(status))
    die("%s: killed by signal %d (%s); stderr: %s", what, WTERMSIG(status),
        strsignal(WTERMSIG(status)), line[0] ? line : "empty");
  if (WEXITSTATUS(status) != 0)
    die("%s: exit status %d; stderr: %s", what, WEXITSTATUS(status),
        line[0] ? line : "empty");
}

/* Sum the events= of every run directory under outdir and the sizes of their *.bin files.
 * 0, or -ENOENT when the tracker left no run directory (it did not track). */
static int read_trace(const char *outdir, double *events, double *bytes) {
  DIR *top = opendir(outdir);
  if (top == NULL)
    return -ENOENT;
  int runs = 0;
  *events = 0;
  *bytes = 0;
  struct dirent *de;
  while ((de = readdir(top)) != NULL) {
    if (strncmp(de->d_name, "memscope.", 9) != 0)
      continue;
    char path[PATH_MAX], meta[65536];
    path_join(path, sizeof path, outdir, de->d_name);
    char meta_path[PATH_MAX];
    path_join(meta_path, sizeof meta_path, path, "meta.txt");
    if (read_small_file(meta_path, meta, sizeof meta) == 0) {
      double ev = find_value(meta, "events");
      if (!isnan(ev))
        *events += ev;
    }
    DIR *run = opendir(path);
    if (run == NULL)
      continue;
    runs++;
    struct dirent *fe;
    while ((fe = readdir(run)) != NULL) {
      size_t nlen = strlen(fe->d_name);
      if (nlen < 4 || strcmp(fe->d_name + nlen - 4, ".bin") != 0)
        continue;
      char file[PATH_MAX];
      struct stat st;
      path_join(file, sizeof file, path, fe->d_name);
      if (stat(file, &st) == 0)
        *bytes += (double)st.st_size;
    }
    closedir(run);
  }
  closedir(top);
  return runs > 0 ? 0 : -ENOENT;
}

static const char *prog_path_name(bench_prog_t prog) {
  return prog == PROG_WORKLOAD ? "ms-bench-workload" : "ms-bench-calls";
}

/* Run job's program once, natively (native != 0) or in the job's mode, and store its
 * measurements at index job->runs of the series. */
static void run_program(const bench_job_t *job, int native, bench_series_t *series) {
  char run_dir[PATH_MAX], trace_dir[PATH_MAX], err_path[PATH_MAX], ht_out[PATH_MAX];
  char prog[PATH_MAX], what[128];
  path_join(run_dir, sizeof run_dir, opts.scratch, "run");
  (void)remove_tree(run_dir);
  if (mkdir(run_dir, 0700) != 0)
    die("cannot create %s: %s", run_dir, strerror(errno));
  path_join(trace_dir, sizeof trace_dir, run_dir, "trace");
  path_join(err_path, sizeof err_path, run_dir, "stderr.txt");
  path_join(ht_out, sizeof ht_out, run_dir, "ht");
  path_join(prog, sizeof prog, opts.bindir, prog_path_name(job->prog));
  snprintf(what, sizeof what, "%s run %d%s", job->id, job->runs + 1,
           native ? " (its paired native run)" : "");
  bench_mode_t mode = native ? MODE_NATIVE : job->mode;

  /* Arguments of the program. */
  char a1[32], a2[32];
  char *args[8];
  int na = 0;
  switch (job->prog) {
  case PROG_CALLS:
    snprintf(a1, sizeof a1, "%lu", opts.sizes.calls_pairs);
    snprintf(a2, sizeof a2, "%lu", opts.sizes.calls_rounds);
    args[na++] = "calls";
    args[na++] = a1;
    args[na++] = a2;
    if (job->mode == MODE_UNTRACKED_API)
      args[na++] = "--untrack";
    break;
  case PROG_THREADS:
    snprintf(a1, sizeof a1, "%lu", opts.sizes.threads);
    args[na++] = "threads";
    args[na++] = a1;
    break;
  case PROG_WORKLOAD:
    snprintf(a1, sizeof a1, "%lu", opts.sizes.wl_threads);
    snprintf(a2, sizeof a2, "%lu", opts.sizes.wl_pairs);
    args[na++] = a1;
    args[na++] = a2;
    break;
  }

  char *argv[16];
  int n = 0;
  if (mode == MODE_HEAPTRACK) {
    argv[n++] = (char *)opts.heaptrack;
    argv[n++] = "-o";
    argv[n++] = ht_out;
  }
  argv[n++] = prog;
  for (int i = 0; i < na; i++)
    argv[n++] = args[i];
  argv[n] = NULL;

  /* Tracker configuration: every variable set explicitly so the user's own MEMSCOPE_*
   * settings (removed by build_env) cannot change what a mode means. */
  char preload[PATH_MAX + 16], out_var[PATH_MAX + 16];
  snprintf(preload, sizeof preload, "LD_PRELOAD=%s", opts.lib);
  snprintf(out_var, sizeof out_var, "MEMSCOPE_OUT=%s", trace_dir);
  char *extra[8] = {0};
  int ne = 0;
  int tracked = mode != MODE_NATIVE && mode != MODE_HEAPTRACK;
  if (tracked) {
    extra[ne++] = preload;
    extra[ne++] = out_var;
    extra[ne++] = mode == MODE_NOSTACK ? "MEMSCOPE_STACK_DEPTH=0" : "MEMSCOPE_STACK_DEPTH=16";
    extra[ne++] = mode == MODE_SAMPLED ? "MEMSCOPE_SAMPLE=bytes:524288" : "MEMSCOPE_SAMPLE=all";
    extra[ne++] = mode == MODE_UNTRACKED_ENV ? "MEMSCOPE_THREADS=none" : "MEMSCOPE_THREADS=all";
  }
  char *env[MS_BENCH_ENV_MAX];
  build_env(env, extra);

  static child_result_t res; /* 16 KiB: kept off the stack */
  run_child(what, argv, env, err_path, &res);

  int r = job->runs;
  series->cpu_s[r] = res.cpu_s;
  series->wall_s[r] = res.wall_s;
  series->value[r] = NAN;
  series->value_wall[r] = NAN;
  series->rss_threads[r] = NAN;
  if (job->prog == PROG_CALLS) {
    series->value[r] = find_value(res.out, "ns_per_call");
    series->value_wall[r] = find_value(res.out, "ns_per_call_wall");
    if (isnan(series->value[r]) || isnan(series->value_wall[r]))
      die("%s: no ns_per_call= / ns_per_call_wall= in its output", what);
  } else if (job->prog == PROG_THREADS) {
    double before = find_value(res.out, "rss_before_kb");
    series->rss_threads[r] = find_value(res.out, "rss_threads_kb");
    if (isnan(before) || isnan(series->rss_threads[r]))
      die("%s: no rss_before_kb= / rss_threads_kb= in its output", what);
    series->value[r] = series->rss_threads[r] - before;
  }
  series->events[r] = NAN;
  series->trace_bytes[r] = NAN;
  if (tracked) {
    if (read_trace(trace_dir, &series->events[r], &series->trace_bytes[r]) != 0) {
      char line[512];
      first_line(err_path, line, sizeof line);
      die("%s: the tracker wrote no run directory under MEMSCOPE_OUT, so it did not track "
          "(stderr: %s); check that %s is a working libmemscope.so",
          what, line[0] ? line : "empty", opts.lib);
    }
  }
  (void)remove_tree(run_dir); /* traces are large: never keep more than one run's */
}

/* One repeat of a job: its paired native run, then the run in its mode. */
static void run_job_once(bench_job_t *job) {
  run_program(job, 1, &job->native);
  run_program(job, 0, &job->tool);
  job->runs++;
}

/* ---- figures -------------------------------------------------------------------------- */

typedef enum target_op_e { TARGET_NONE, TARGET_LE, TARGET_GE } target_op_t;

typedef struct figure_s {
  const char *id;
  const char *label;
  double value;
  const char *unit;
  target_op_t op;
  double target;
} figure_t;

#define MS_BENCH_MAX_FIGURES 32
static figure_t figures[MS_BENCH_MAX_FIGURES];
static int nfigures;
static const char *sections[MS_BENCH_MAX_FIGURES]; /* heading printed before figure i */

static void add_figure(const char *id, const char *label, double value, const char *unit,
                       target_op_t op, double target) {
  if (nfigures < MS_BENCH_MAX_FIGURES)
    figures[nfigures++] = (figure_t){id, label, value, unit, op, target};
}

static void section(const char *heading) {
  if (nfigures < MS_BENCH_MAX_FIGURES)
    sections[nfigures] = heading;
}

/* "ok", "MISSED" or "" for a figure without a target or without a value. */
static const char *figure_status(const figure_t *f) {
  if (f->op == TARGET_NONE || isnan(f->value))
    return "";
  int met = f->op == TARGET_LE ? f->value <= f->target : f->value >= f->target;
  return met ? "ok" : "MISSED";
}

static bench_job_t *find_job(bench_job_t *jobs, int njobs, const char *id) {
  for (int i = 0; i < njobs; i++)
    if (strcmp(jobs[i].id, id) == 0)
      return &jobs[i];
  return NULL;
}

/* Median over a job's pairs of tool - native, or of tool / native, for one measurement
 * (field is e.g. offsetof(bench_series_t, cpu_s)); NAN when the job is absent. */
static double paired(const bench_job_t *job, size_t field, int ratio) {
  if (job == NULL)
    return NAN;
  const double *tool = (const double *)((const char *)&job->tool + field);
  const double *native = (const double *)((const char *)&job->native + field);
  double v[MS_BENCH_MAX_REPEAT];
  for (int i = 0; i < job->runs; i++)
    v[i] = ratio ? tool[i] / native[i] : tool[i] - native[i];
  return median(v, job->runs);
}
#define PAIRED_DIFF(job, field) paired((job), offsetof(bench_series_t, field), 0)
#define PAIRED_RATIO(job, field) paired((job), offsetof(bench_series_t, field), 1)

/* Median of one measurement over the native runs of every job of a program. */
static double pooled_native(const bench_job_t *jobs, int njobs, bench_prog_t prog,
                            size_t field) {
  double v[MS_BENCH_MAX_REPEAT * 8];
  int n = 0;
  for (int j = 0; j < njobs; j++) {
    if (jobs[j].prog != prog)
      continue;
    const double *native = (const double *)((const char *)&jobs[j].native + field);
    for (int i = 0; i < jobs[j].runs && n < (int)(sizeof v / sizeof v[0]); i++)
      v[n++] = native[i];
  }
  if (n == 0)
    return NAN;
  qsort(v, (size_t)n, sizeof v[0], cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double bytes_per_event(const bench_job_t *job) {
  if (job == NULL)
    return NAN;
  double ratio[MS_BENCH_MAX_REPEAT];
  for (int i = 0; i < job->runs; i++)
    ratio[i] = job->tool.events[i] > 0 ? job->tool.trace_bytes[i] / job->tool.events[i] : NAN;
  return median(ratio, job->runs);
}

/* heaptrack's added time over memscope's; NAN unless memscope's is measurably positive
 * (a ratio over a zero or negative difference is noise, not a figure). */
static double added_ratio(double heaptrack_added, double memscope_added) {
  return memscope_added > 0 ? heaptrack_added / memscope_added : NAN;
}

static void compute_figures(bench_job_t *jobs, int njobs) {
  static const struct {
    const char *job, *id, *label;
    double target;
  } added[] = {
      {"calls.full16", "added_ns_full16", "added: full, 16-frame stacks", 150},
      {"calls.nostack", "added_ns_nostack", "added: full, no stacks", 25},
      {"calls.sampled", "added_ns_sampled", "added: bytes:524288 sampling", NAN},
      {"calls.untracked_env", "added_ns_untracked_env",
       "added: untracked thread (MEMSCOPE_THREADS=none)", 2},
      {"calls.untracked_api", "added_ns_untracked_api",
       "added: untracked thread (memscope_thread_track(0))", 2},
  };
  section("per allocator call, ms-bench-calls (depth ~16 frames, thread CPU time)");
  add_figure("native_ns_per_call", "native malloc/free",
             pooled_native(jobs, njobs, PROG_CALLS, offsetof(bench_series_t, value)), "ns/call",
             TARGET_NONE, 0);
  for (size_t i = 0; i < sizeof added / sizeof added[0]; i++) {
    bench_job_t *j = find_job(jobs, njobs, added[i].job);
    add_figure(added[i].id, added[i].label, PAIRED_DIFF(j, value), "ns/call",
               isnan(added[i].target) ? TARGET_NONE : TARGET_LE, added[i].target);
  }
  /* The same pairs by wall clock: shows time the tracker spends blocked (which CPU time
   * hides), but on a loaded machine it also carries the preemptions of other work. */
  add_figure("added_ns_full16_wall", "added, wall clock: full, 16-frame stacks",
             PAIRED_DIFF(find_job(jobs, njobs, "calls.full16"), value_wall), "ns/call",
             TARGET_NONE, 0);
  add_figure("added_ns_nostack_wall", "added, wall clock: full, no stacks",
             PAIRED_DIFF(find_job(jobs, njobs, "calls.nostack"), value_wall), "ns/call",
             TARGET_NONE, 0);

  section("trace size (sum of *.bin / meta.txt events)");
  add_figure("bytes_per_event_calls_full16", "full, 16-frame stacks (ms-bench-calls)",
             bytes_per_event(find_job(jobs, njobs, "calls.full16")), "B/event", TARGET_LE, 12);
  add_figure("bytes_per_event_workload_full16", "full, 16-frame stacks (ms-bench-workload)",
             bytes_per_event(find_job(jobs, njobs, "workload.full16")), "B/event", TARGET_LE,
             12);
  add_figure("bytes_per_event_workload_nostack", "full, no stacks (ms-bench-workload)",
             bytes_per_event(find_job(jobs, njobs, "workload.nostack")), "B/event", TARGET_LE,
             12);
  add_figure("bytes_per_event_calls_sampled", "bytes:524288 sampling (ms-bench-calls)",
             bytes_per_event(find_job(jobs, njobs, "calls.sampled")), "B/event", TARGET_NONE,
             0);

  section("memory per tracked thread (T parked threads, VmRSS growth)");
  add_figure("kb_per_thread", "(tracked - native) / T",
             PAIRED_DIFF(find_job(jobs, njobs, "threads.full16"), value) /
                 (double)opts.sizes.threads,
             "KiB", TARGET_LE, 80);

  section("whole program, ms-bench-workload (ratio to native)");
  bench_job_t *w_full = find_job(jobs, njobs, "workload.full16");
  bench_job_t *w_nostack = find_job(jobs, njobs, "workload.nostack");
  bench_job_t *w_ht = find_job(jobs, njobs, "workload.heaptrack");
  add_figure("workload_native_cpu_s", "native CPU time",
             pooled_native(jobs, njobs, PROG_WORKLOAD, offsetof(bench_series_t, cpu_s)), "s",
             TARGET_NONE, 0);
  add_figure("workload_native_wall_s", "native wall time",
             pooled_native(jobs, njobs, PROG_WORKLOAD, offsetof(bench_series_t, wall_s)), "s",
             TARGET_NONE, 0);
  add_figure("cpu_ratio_full16", "memscope full, 16 frames: CPU", PAIRED_RATIO(w_full, cpu_s),
             "x", TARGET_NONE, 0);
  add_figure("wall_ratio_full16", "memscope full, 16 frames: wall",
             PAIRED_RATIO(w_full, wall_s), "x", TARGET_NONE, 0);
  add_figure("cpu_ratio_nostack", "memscope no stacks: CPU", PAIRED_RATIO(w_nostack, cpu_s),
             "x", TARGET_LE, 2);
  add_figure("wall_ratio_nostack", "memscope no stacks: wall", PAIRED_RATIO(w_nostack, wall_s),
             "x", TARGET_LE, 2);
  if (w_ht != NULL) {
    add_figure("cpu_ratio_heaptrack", "heaptrack: CPU", PAIRED_RATIO(w_ht, cpu_s), "x",
               TARGET_NONE, 0);
    add_figure("wall_ratio_heaptrack", "heaptrack: wall", PAIRED_RATIO(w_ht, wall_s), "x",
               TARGET_NONE, 0);
    add_figure("added_ratio_cpu", "heaptrack added / memscope(full) added: CPU",
               added_ratio(PAIRED_DIFF(w_ht, cpu_s), PAIRED_DIFF(w_full, cpu_s)), "x",
               TARGET_GE, 10);
    add_figure("added_ratio_wall", "heaptrack added / memscope(full) added: wall",
               added_ratio(PAIRED_DIFF(w_ht, wall_s), PAIRED_DIFF(w_full, wall_s)), "x",
               TARGET_GE, 10);
  }
}

/* Say so when a trace's event count does not fit the calls the program made: full modes
 * must record every call (SPEC §2: counts are exact), untracked threads none of the loop's.
 * Such a run's timing is not the cost of the mode it claims to be. */
static void check_event_counts(const bench_job_t *jobs, int njobs) {
  double loop_calls = 2.0 * (double)opts.sizes.calls_pairs * (double)(opts.sizes.calls_rounds + 1);
  double workload_calls = 2.0 * (double)opts.sizes.wl_threads * (double)opts.sizes.wl_pairs;
  for (int j = 0; j < njobs; j++) {
    const bench_job_t *job = &jobs[j];
    int full = job->mode == MODE_FULL || job->mode == MODE_NOSTACK;
    int untracked = job->mode == MODE_UNTRACKED_ENV || job->mode == MODE_UNTRACKED_API;
    double calls = job->prog == PROG_CALLS ? loop_calls
                   : job->prog == PROG_WORKLOAD ? workload_calls
                                                : NAN;
    if (isnan(calls) || (!full && !untracked))
      continue;
    for (int i = 0; i < job->runs; i++) {
      double ev = job->tool.events[i];
      if ((full && ev < calls) || (untracked && ev > 0.01 * calls)) {
        printf("note: %s run %d recorded %.0f events for %.0f allocator calls (expected %s)\n",
               job->id, i + 1, ev, calls, full ? "at least as many" : "almost none");
        break;
      }
    }
  }
}

static void format_target(const figure_t *f, char *buf, size_t cap) {
  if (f->op == TARGET_NONE)
    snprintf(buf, cap, "-");
  else
    snprintf(buf, cap, "%s %g %s", f->op == TARGET_LE ? "<=" : ">=", f->target, f->unit);
}

static void print_table(void) {
  printf("\n%-52s %12s %-8s  %-18s %s\n", "figure", "value", "", "target", "");
  for (int i = 0; i < nfigures; i++) {
    const figure_t *f = &figures[i];
    if (sections[i] != NULL)
      printf("%s\n", sections[i]);
    char target[64];
    format_target(f, target, sizeof target);
    if (isnan(f->value))
      printf("  %-50s %12s %-8s  %-18s %s\n", f->label, "n/a", "", target, "");
    else
      printf("  %-50s %12.2f %-8s  %-18s %s\n", f->label, f->value, f->unit, target,
             figure_status(f));
  }
}

/* ---- JSON ----------------------------------------------------------------------------- */

static cJSON *number_array(const double *values, int n) {
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < n; i++)
    cJSON_AddItemToArray(arr, isnan(values[i]) ? cJSON_CreateNull()
                                               : cJSON_CreateNumber(values[i]));
  return arr;
}

static void add_number_or_null(cJSON *obj, const char *key, double v) {
  if (isnan(v))
    cJSON_AddNullToObject(obj, key);
  else
    cJSON_AddNumberToObject(obj, key, v);
}

/* The series of one job as an object of arrays, one entry per run. */
static void add_series(cJSON *parent, const char *key, const bench_job_t *j,
                       const bench_series_t *series, int with_trace) {
  cJSON *o = cJSON_AddObjectToObject(parent, key);
  if (j->prog == PROG_CALLS) {
    cJSON_AddItemToObject(o, "ns_per_call", number_array(series->value, j->runs));
    cJSON_AddItemToObject(o, "ns_per_call_wall", number_array(series->value_wall, j->runs));
  }
  if (j->prog == PROG_THREADS) {
    cJSON_AddItemToObject(o, "rss_growth_kb", number_array(series->value, j->runs));
    cJSON_AddItemToObject(o, "rss_threads_kb", number_array(series->rss_threads, j->runs));
  }
  cJSON_AddItemToObject(o, "cpu_s", number_array(series->cpu_s, j->runs));
  cJSON_AddItemToObject(o, "wall_s", number_array(series->wall_s, j->runs));
  if (with_trace) {
    cJSON_AddItemToObject(o, "events", number_array(series->events, j->runs));
    cJSON_AddItemToObject(o, "trace_bytes", number_array(series->trace_bytes, j->runs));
  }
}

static void machine_info(char *cpu, size_t cap) {
  static char info[1 << 16];
  snprintf(cpu, cap, "unknown");
  if (read_small_file("/proc/cpuinfo", info, sizeof info) != 0)
    return;
  const char *p = strstr(info, "model name");
  if (p == NULL || (p = strchr(p, ':')) == NULL)
    return;
  p++;
  while (*p == ' ' || *p == '\t')
    p++;
  size_t len = strcspn(p, "\n");
  snprintf(cpu, cap, "%.*s", (int)len, p);
}

static int write_json(const char *path, bench_job_t *jobs, int njobs) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "tool", "memscope-bench");
  cJSON_AddStringToObject(root, "lib", opts.lib);
  cJSON_AddBoolToObject(root, "quick", opts.quick);
  cJSON_AddNumberToObject(root, "repeat", opts.repeat);
  cJSON_AddNumberToObject(root, "heaptrack_repeat", opts.no_heaptrack ? 0 : opts.heaptrack_repeat);

  cJSON *machine = cJSON_AddObjectToObject(root, "machine");
  char cpu[256];
  struct utsname un;
  machine_info(cpu, sizeof cpu);
  cJSON_AddStringToObject(machine, "cpu", cpu);
  cJSON_AddNumberToObject(machine, "online_cpus", (double)sysconf(_SC_NPROCESSORS_ONLN));
  if (uname(&un) == 0)
    cJSON_AddStringToObject(machine, "kernel", un.release);

  cJSON *sizes = cJSON_AddObjectToObject(root, "sizes");
  cJSON_AddNumberToObject(sizes, "calls_pairs_per_round", (double)opts.sizes.calls_pairs);
  cJSON_AddNumberToObject(sizes, "calls_rounds", (double)opts.sizes.calls_rounds);
  cJSON_AddNumberToObject(sizes, "threads_T", (double)opts.sizes.threads);
  cJSON_AddNumberToObject(sizes, "workload_threads", (double)opts.sizes.wl_threads);
  cJSON_AddNumberToObject(sizes, "workload_pairs_per_thread", (double)opts.sizes.wl_pairs);

  cJSON *figs = cJSON_AddArrayToObject(root, "figures");
  for (int i = 0; i < nfigures; i++) {
    const figure_t *f = &figures[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", f->id);
    cJSON_AddStringToObject(o, "label", f->label);
    add_number_or_null(o, "value", f->value);
    cJSON_AddStringToObject(o, "unit", f->unit);
    if (f->op != TARGET_NONE) {
      cJSON *t = cJSON_AddObjectToObject(o, "target");
      cJSON_AddStringToObject(t, "op", f->op == TARGET_LE ? "<=" : ">=");
      cJSON_AddNumberToObject(t, "value", f->target);
      if (!isnan(f->value))
        cJSON_AddBoolToObject(o, "met", strcmp(figure_status(f), "ok") == 0);
    }
    cJSON_AddItemToArray(figs, o);
  }

  cJSON *runs = cJSON_AddArrayToObject(root, "runs");
  for (int i = 0; i < njobs; i++) {
    const bench_job_t *j = &jobs[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job", j->id);
    add_series(o, "tool", j, &j->tool, j->mode != MODE_HEAPTRACK);
    add_series(o, "native", j, &j->native, 0);
    cJSON_AddItemToArray(runs, o);
  }

  char *text = cJSON_Print(root);
  cJSON_Delete(root);
  if (text == NULL)
    return -ENOMEM;
  FILE *fp = fopen(path, "w");
  int rc = 0;
  if (fp == NULL)
    rc = -errno;
  else {
    if (fputs(text, fp) < 0 || fputc('\n', fp) < 0)
      rc = -EIO;
    if (fclose(fp) != 0 && rc == 0)
      rc = -errno;
  }
  cJSON_free(text);
  return rc;
}

/* ---- options and main ----------------------------------------------------------------- */

static void usage(FILE *to) {
  fprintf(to,
          "usage: memscope-bench [--lib PATH] [--repeat N] [--heaptrack-repeat N] [--quick]\n"
          "                      [--json FILE] [--no-heaptrack] [--heaptrack PATH]\n"
          "                      [--bindir DIR]\n"
          "  --lib PATH            libmemscope.so to preload (default %s)\n"
          "  --repeat N            runs of each native/memscope configuration (default 5)\n"
          "  --heaptrack-repeat N  runs of the heaptrack configuration (default 3)\n"
          "  --quick               small sizes, a smoke test (3 repeats, 1 heaptrack run)\n"
          "  --json FILE           also write the figures and every run's raw values as JSON\n"
          "  --no-heaptrack        skip the heaptrack comparison\n"
          "  --heaptrack PATH      heaptrack launcher (default %s)\n"
          "  --bindir DIR          where ms-bench-calls and ms-bench-workload are (default:\n"
          "                        the directory of this program)\n",
          MS_BENCH_DEFAULT_LIB, MS_BENCH_DEFAULT_HEAPTRACK);
}

static int parse_repeat(const char *flag, const char *text) {
  char *end = NULL;
  long v = strtol(text, &end, 10);
  if (end == text || *end != '\0' || v < 1 || v > MS_BENCH_MAX_REPEAT)
    die("%s wants a whole number from 1 to %d, not '%s'", flag, MS_BENCH_MAX_REPEAT, text);
  return (int)v;
}

static void parse_options(int argc, char **argv) {
  enum { OPT_LIB = 256, OPT_REPEAT, OPT_HT_REPEAT, OPT_QUICK, OPT_JSON, OPT_NO_HT, OPT_HT,
         OPT_BINDIR, OPT_HELP };
  static const struct option long_opts[] = {
      {"lib", required_argument, NULL, OPT_LIB},
      {"repeat", required_argument, NULL, OPT_REPEAT},
      {"heaptrack-repeat", required_argument, NULL, OPT_HT_REPEAT},
      {"quick", no_argument, NULL, OPT_QUICK},
      {"json", required_argument, NULL, OPT_JSON},
      {"no-heaptrack", no_argument, NULL, OPT_NO_HT},
      {"heaptrack", required_argument, NULL, OPT_HT},
      {"bindir", required_argument, NULL, OPT_BINDIR},
      {"help", no_argument, NULL, OPT_HELP},
      {NULL, 0, NULL, 0},
  };
  int repeat = 0, ht_repeat = 0;
  const char *bindir = NULL;
  opts.lib = MS_BENCH_DEFAULT_LIB;
  opts.heaptrack = MS_BENCH_DEFAULT_HEAPTRACK;
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
    switch (c) {
    case OPT_LIB: opts.lib = optarg; break;
    case OPT_REPEAT: repeat = parse_repeat("--repeat", optarg); break;
    case OPT_HT_REPEAT: ht_repeat = parse_repeat("--heaptrack-repeat", optarg); break;
    case OPT_QUICK: opts.quick = 1; break;
    case OPT_JSON: opts.json_path = optarg; break;
    case OPT_NO_HT: opts.no_heaptrack = 1; break;
    case OPT_HT: opts.heaptrack = optarg; break;
    case OPT_BINDIR: bindir = optarg; break;
    case OPT_HELP: usage(stdout); exit(0);
    default:
      die("unknown or incomplete option '%s'; see memscope-bench --help", argv[optind - 1]);
    }
  }
  if (optind < argc)
    die("unexpected argument '%s'; see memscope-bench --help", argv[optind]);

  opts.sizes = opts.quick ? quick_sizes : full_sizes;
  opts.repeat = repeat ? repeat : opts.quick ? 3 : 5;
  opts.heaptrack_repeat = ht_repeat ? ht_repeat : opts.quick ? 1 : 3;

  if (bindir != NULL)
    snprintf(opts.bindir, sizeof opts.bindir, "%s", bindir);
  else {
    ssize_t n = readlink("/proc/self/exe", opts.bindir, sizeof opts.bindir - 1);
    if (n <= 0)
      die("cannot read /proc/self/exe to find the bench programs; pass --bindir DIR");
    opts.bindir[n] = '\0';
    char *slash = strrchr(opts.bindir, '/');
    if (slash != NULL)
      *slash = '\0';
  }
}

/* Fail early, with one line, on anything that would only fail half-way through. */
static void check_inputs(void) {
  if (access(opts.lib, R_OK) != 0)
    die("tracker library %s: %s; build it (cmake --build BUILD --target memscope) or pass "
        "--lib PATH",
        opts.lib, strerror(errno));
  const char *progs[] = {"ms-bench-calls", "ms-bench-workload"};
  for (size_t i = 0; i < 2; i++) {
    char path[PATH_MAX];
    path_join(path, sizeof path, opts.bindir, progs[i]);
    if (access(path, X_OK) != 0)
      die("bench program %s: %s; build target memscope-bench or pass --bindir DIR", path,
          strerror(errno));
  }
  if (!opts.no_heaptrack && access(opts.heaptrack, X_OK) != 0)
    die("heaptrack %s: %s; install it (apt-get install heaptrack), pass --heaptrack PATH, or "
        "skip the comparison with --no-heaptrack",
        opts.heaptrack, strerror(errno));
}

int main(int argc, char **argv) {
  parse_options(argc, argv);
  check_inputs();

  /* The tracker resolves LD_PRELOAD relative to the child's cwd: make the path absolute. */
  static char lib_abs[PATH_MAX];
  if (realpath(opts.lib, lib_abs) == NULL)
    die("tracker library %s: %s", opts.lib, strerror(errno));
  opts.lib = lib_abs;

  const char *tmp = getenv("TMPDIR");
  snprintf(opts.scratch, sizeof opts.scratch, "%s/memscope-bench.XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(opts.scratch) == NULL) {
    int err = errno;
    opts.scratch[0] = '\0';
    die("cannot create a temporary directory: %s; set TMPDIR to a writable directory",
        strerror(err));
  }
  signal(SIGINT, on_fatal_signal);
  signal(SIGTERM, on_fatal_signal);

  int r = opts.repeat, h = opts.heaptrack_repeat;
  bench_job_t jobs[] = {
      {.id = "calls.full16", .prog = PROG_CALLS, .mode = MODE_FULL, .repeats = r},
      {.id = "calls.nostack", .prog = PROG_CALLS, .mode = MODE_NOSTACK, .repeats = r},
      {.id = "calls.sampled", .prog = PROG_CALLS, .mode = MODE_SAMPLED, .repeats = r},
      {.id = "calls.untracked_env", .prog = PROG_CALLS, .mode = MODE_UNTRACKED_ENV, .repeats = r},
      {.id = "calls.untracked_api", .prog = PROG_CALLS, .mode = MODE_UNTRACKED_API, .repeats = r},
      {.id = "threads.full16", .prog = PROG_THREADS, .mode = MODE_FULL, .repeats = r},
      {.id = "workload.full16", .prog = PROG_WORKLOAD, .mode = MODE_FULL, .repeats = r},
      {.id = "workload.nostack", .prog = PROG_WORKLOAD, .mode = MODE_NOSTACK, .repeats = r},
      {.id = "workload.heaptrack", .prog = PROG_WORKLOAD, .mode = MODE_HEAPTRACK, .repeats = h},
  };
  int njobs = (int)(sizeof jobs / sizeof jobs[0]);
  if (opts.no_heaptrack)
    njobs--; /* heaptrack is last */

  int total = 0, max_rep = 0;
  for (int i = 0; i < njobs; i++) {
    total += jobs[i].repeats;
    if (jobs[i].repeats > max_rep)
      max_rep = jobs[i].repeats;
  }
  printf("memscope-bench: %d pairs of runs (native, then under the tool; %d repeats, %d for "
         "heaptrack), tracker %s\n",
         total, r, opts.no_heaptrack ? 0 : h, opts.lib);
  fflush(stdout);

  /* Interleave: every configuration once per round, the starting point rotated each round,
   * so slow drift of the machine (frequency, other load) spreads over all configurations
   * instead of landing on whichever ran last. */
  int done = 0;
  double t_start = now_s();
  for (int round = 0; round < max_rep; round++) {
    for (int k = 0; k < njobs; k++) {
      bench_job_t *job = &jobs[(k + round) % njobs];
      if (job->runs >= job->repeats)
        continue;
      run_job_once(job);
      done++;
      if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r  %d/%d pairs, %.0f s", done, total, now_s() - t_start);
    }
  }
  if (isatty(STDERR_FILENO))
    fputc('\n', stderr);

  compute_figures(jobs, njobs);
  printf("sizes: calls %lu pairs x %lu rounds; T=%lu threads; workload %lu threads x %lu "
         "pairs; medians over %d pairs (heaptrack %d); %.0f s in all\n",
         opts.sizes.calls_pairs, opts.sizes.calls_rounds, opts.sizes.threads,
         opts.sizes.wl_threads, opts.sizes.wl_pairs, r, opts.no_heaptrack ? 0 : h,
         now_s() - t_start);
  print_table();
  check_event_counts(jobs, njobs);

  int rc = 0;
  if (opts.json_path != NULL) {
    int err = write_json(opts.json_path, jobs, njobs);
    if (err != 0) {
      fprintf(stderr, "memscope-bench: cannot write %s: %s\n", opts.json_path, strerror(-err));
      rc = 1;
    }
  }
  cleanup_scratch();
  return rc;
}
