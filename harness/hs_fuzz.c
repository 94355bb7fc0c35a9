/* hs_fuzz.c: `memscope-harness fuzz`: a time-bounded AFL++ campaign with memscope's per-input
 * leak and peak oracle (docs/fuzz.md), then every crash and hang it saved replayed under the
 * oracle, deduplicated and reported (findings.json, docs/findings-schema.md; junit.xml).
 *
 * Children follow the harness's conventions (hs_child.c): argv straight to execve (never a
 * shell), each child in a process group of its own, the harness a child subreaper so that
 * nothing a child started outlives the command. afl-fuzz ends itself at the deadline (-V);
 * the harness stops an instance that overruns, and every instance on SIGINT/SIGTERM/SIGHUP.
 * Reports, inputs and stack frames are data from the target: they go into JSON through
 * cJSON, into XML escaped, and never into a command line. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "ms_analyze.h"
#include "ms_files.h"

extern char **environ;

#define FZ_MAX_JOBS 64
#define FZ_STOP_GRACE_S 10.0   /* SIGINT to SIGKILL for an instance that does not stop */
#define FZ_STDERR_CAP 16384    /* stderr kept per replay */

/* ---- options --------------------------------------------------------------------------------- */

typedef struct fz_opts_s {
  uint64_t time_s;             /* --time */
  int jobs;                    /* --jobs: 1 main + jobs-1 secondaries */
  uint64_t max_leak, max_peak; /* byte limits; max_peak 0 = none */
  int no_leak_check;           /* --max-leak-bytes none */
  int feedback;                /* --memory-feedback */
  const char *dict, *suppressions, *lib, *main_name;
  char corpus[PATH_MAX], out[PATH_MAX]; /* absolute */
  double replay_timeout_s;
  int no_progress;
  char **target;               /* TARGET [ARGS], NULL-terminated; target[0] resolved below */
  char target_path[PATH_MAX];
  char afl_fuzz[PATH_MAX];
} fz_opts_t;

static int fz_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fz_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("memscope-harness fuzz: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return HS_EXIT_USAGE;
}

/* A name afl-fuzz accepts for -M/-S and that is safe as a directory name. */
static int valid_instance_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 40 || s[0] == '.' || s[0] == '-') return 0;
  for (const char *p = s; *p; p++)
    if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
        *p != '_' && *p != '-' && *p != '.')
      return 0;
  return 1;
}

/* Parses argv[1..] (argv[0] is "fuzz") with the fuzz command's row of the command table
 * (hs_cli.c): 0, HS_EXIT_USAGE after one line, or -1 when --help or --version was printed.
 * Options end at "--": TARGET's own options are never taken for ours. */
static int parse_args(int argc, char **argv, fz_opts_t *o, const char **corpus, const char **out) {
  char err[300];
  long long n;
  int have_time = 0, target_at = -1;
  ms_cli_t it;
  ms_cli_begin(&it, &hs_cli_prog, ms_cli_find(&hs_cli_prog, "fuzz"), argc, argv);
  for (int c; target_at < 0 && (c = ms_cli_next(&it)) != MS_CLI_END;) {
    const char *v = it.arg;
    switch (c) {
    case MS_CLI_DONE: return -1;
    case MS_CLI_ERROR: return HS_EXIT_USAGE;
    case MS_CLI_POS: /* TARGET without "--": the options end there, as they always did */
      target_at = it.next - 1;
      break;
    case HS_O_TIME:
      if (hs_parse_duration(v, &o->time_s, err, sizeof err)) return fz_error("--time: %s", err);
      have_time = 1;
      break;
    case HS_O_JOBS:
      if (hs_parse_int(v, 1, FZ_MAX_JOBS, &n))
        return fz_error("--jobs '%s': give the number of afl-fuzz instances, 1 to %d", v, FZ_MAX_JOBS);
      o->jobs = (int)n;
      break;
    case HS_O_MAX_LEAK:
      if (!strcmp(v, "none")) o->no_leak_check = 1;
      else if (hs_parse_size(v, &o->max_leak, err, sizeof err)) return fz_error("--max-leak-bytes: %s", err);
      break;
    case HS_O_MAX_PEAK:
      if (hs_parse_size(v, &o->max_peak, err, sizeof err)) return fz_error("--max-peak-bytes: %s", err);
      if (o->max_peak == 0) return fz_error("--max-peak-bytes 0 would fail every input; give a positive size");
      break;
    case HS_O_MEMORY_FEEDBACK: o->feedback = 1; break;
    case HS_O_DICT: o->dict = v; break;
    case HS_O_SUPPRESSIONS: o->suppressions = v; break;
    case HS_O_CORPUS: *corpus = v; break;
    case HS_O_OUT: *out = v; break;
    case HS_O_MAIN_NAME:
      if (!valid_instance_name(v))
        return fz_error("--main-name '%s': give up to 40 letters, digits, '_', '-' or '.'", v);
      o->main_name = v;
      break;
    case HS_O_REPLAY_TIMEOUT:
      if (hs_parse_double(v, 0.1, 86400, &o->replay_timeout_s))
        return fz_error("--replay-timeout '%s': give seconds, 0.1 to 86400", v);
      break;
    case HS_O_LIB: o->lib = v; break;
    case HS_O_NO_PROGRESS: o->no_progress = 1; break;
    default: return fz_error("option %s is not handled here (a memscope bug)", it.opt);
    }
  }
  if (!have_time) return fz_error("how long? give --time, e.g. --time 5m");
  if (target_at < 0) target_at = it.rest;
  if (target_at < 0 || target_at >= argc)
    return fz_error("which target? write 'memscope-harness fuzz --time T --corpus DIR --out DIR "
                    "-- TARGET [ARGS]'");
  o->target = argv + target_at;
  if (!*corpus) return fz_error("give --corpus DIR, a directory of seed inputs");
  if (!*out) return fz_error("give --out DIR, where the campaign and its findings go");
  return 0;
}

/* ---- checks before anything runs ------------------------------------------------------------- */

/* afl-fuzz's own test is that the binary holds "__AFL_SHM_ID", the variable naming its
 * coverage map. memscope's driver names it too (it checks whether it runs under afl-fuzz), so
 * a plain build of a target passes that test and then fails in afl-fuzz's fork-server
 * handshake. AFL++'s compiler runtime (afl-cc, afl-clang-fast/-lto, afl-gcc-fast) also
 * reads AFL_MAP_SIZE; both strings survive stripping. */
static int has_afl_instrumentation(const char *path) {
  int fd = ms_open_regular(path, 0);
  if (fd < 0) return 0;
  struct stat sb;
  int found = 0;
  if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
    void *m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m != MAP_FAILED) {
      found = memmem(m, (size_t)sb.st_size, "__AFL_SHM_ID", 12) &&
              memmem(m, (size_t)sb.st_size, "AFL_MAP_SIZE", 12);
      munmap(m, (size_t)sb.st_size);
    }
  }
  close(fd);
  return found;
}

/* Seeds afl-fuzz will take: regular, non-empty, not hidden. -errno, or their number. */
static int count_seeds(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -errno;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    struct stat sb;
    if (fstatat(dirfd(d), de->d_name, &sb, 0) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) n++;
  }
  closedir(d);
  return n;
}

static int check_inputs(fz_opts_t *o, const char *corpus) {
  int e = hs_find_program("afl-fuzz", o->afl_fuzz, sizeof o->afl_fuzz);
  if (e)
    return fz_error("afl-fuzz not found on PATH; install AFL++ (Debian: apt-get install afl++) or "
                    "add it to PATH");
  e = hs_find_program(o->target[0], o->target_path, sizeof o->target_path);
  if (e) return fz_error("cannot run '%s': %s; check the target's path", o->target[0], strerror(-e));
  char real[PATH_MAX];
  if (realpath(o->target_path, real)) hs_fmt(o->target_path, sizeof o->target_path, "%s", real);
  if (!has_afl_instrumentation(o->target_path))
    return fz_error("%s has no AFL++ instrumentation (AFL++'s compiler runtime is not in it); "
                    "build it with afl-cc (ms_add_fuzzer's NAME-afl, docs/fuzz.md)", o->target_path);
  struct stat sb;
  if (stat(corpus, &sb) != 0)
    return fz_error("--corpus %s: %s; give a directory of seed inputs", corpus, strerror(errno));
  if (!S_ISDIR(sb.st_mode))
    return fz_error("--corpus %s is not a directory; give a directory of seed inputs", corpus);
  int seeds = count_seeds(corpus);
  if (seeds < 0) return fz_error("--corpus %s: %s", corpus, strerror(-seeds));
  if (seeds == 0)
    return fz_error("--corpus %s holds no seed (no non-empty file); put at least one input in it", corpus);
  if (!realpath(corpus, o->corpus)) return fz_error("--corpus %s: %s", corpus, strerror(errno));
  if (o->dict && access(o->dict, R_OK) != 0) return fz_error("--dict %s: %s", o->dict, strerror(errno));
  if (o->suppressions) {
    ms_suppressions_t *sp = NULL;
    char err[512] = "";
    if (ms_suppressions_load(o->suppressions, &sp, err, sizeof err) != 0)
      return fz_error("--suppressions %s: %s", o->suppressions, err[0] ? err : strerror(errno));
    ms_suppressions_free(sp);
    /* The targets read it: afl-fuzz's and the replays' working directory is ours, but an
     * absolute path does not depend on that. */
    static char supp[PATH_MAX];
    if (realpath(o->suppressions, supp)) o->suppressions = supp;
  }
  return 0;
}

/* Creates --out (and OUT/logs) and makes its path absolute. A directory already holding a
 * campaign (OUT/afl) is refused: afl-fuzz would stop on it, and its findings are kept. */
static int prepare_out(fz_opts_t *o, const char *out) {
  int rc = ms_mkdirs(out);
  if (rc) return fz_error("cannot create --out directory %s: %s; pick a writable directory", out, strerror(-rc));
  if (!realpath(out, o->out)) return fz_error("--out %s: %s", out, strerror(errno));
  char p[PATH_MAX];
  struct stat sb;
  hs_fmt(p, sizeof p, "%s/afl", o->out);
  if (lstat(p, &sb) == 0)
    return fz_error("--out %s already holds a campaign (%s); give a new directory or remove it", out, p);
  hs_fmt(p, sizeof p, "%s/logs", o->out);
  if ((rc = ms_mkdirs(p)) != 0 || access(p, W_OK) != 0)
    return fz_error("cannot write into --out directory %s: %s; pick a writable directory", out,
                    strerror(rc ? -rc : errno));
  return 0;
}

/* ---- environment and children ---------------------------------------------------------------- */

typedef struct env_s {
  char **v;
  size_t n, cap;
} env_t;

static int env_put(env_t *e, char *entry) {
  if (!entry) return -ENOMEM;
  size_t klen = strcspn(entry, "=");
  for (size_t i = 0; i < e->n; i++)
    if (!strncmp(e->v[i], entry, klen + 1)) {
      free(e->v[i]);
      e->v[i] = entry;
      return 0;
    }
  if (e->n + 2 > e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 64;
    char **nv = realloc(e->v, cap * sizeof *nv);
    if (!nv) {
      free(entry);
      return -ENOMEM;
    }
    e->v = nv;
    e->cap = cap;
  }
  e->v[e->n++] = entry;
  e->v[e->n] = NULL;
  return 0;
}

static int env_set(env_t *e, const char *k, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int env_set(env_t *e, const char *k, const char *fmt, ...) {
  char val[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(val, sizeof val, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof val) return -E2BIG;
  char *entry = malloc(strlen(k) + (size_t)n + 2);
  if (entry) sprintf(entry, "%s=%s", k, val);
  return env_put(e, entry);
}

static const char *env_get(const env_t *e, const char *k) {
  size_t kl = strlen(k);
  for (size_t i = 0; i < e->n; i++)
    if (!strncmp(e->v[i], k, kl) && e->v[i][kl] == '=') return e->v[i] + kl + 1;
  return NULL;
}

static void env_free(env_t *e) {
  for (size_t i = 0; i < e->n; i++) free(e->v[i]);
  free(e->v);
  memset(e, 0, sizeof *e);
}

/* The harness's environment without MEMSCOPE_* (the tracker refuses names it does not know,
 * and the harness's own settings are not the target's) and without a preload of the tracker
 * (afl-fuzz itself must never be tracked). */
static int env_base(env_t *e) {
  memset(e, 0, sizeof *e);
  for (char **p = environ; *p; p++) {
    if (!strncmp(*p, "MEMSCOPE_", 9)) continue;
    if (!strncmp(*p, "LD_PRELOAD=", 11) && strstr(*p, "libmemscope")) continue;
    if (env_put(e, strdup(*p))) return -ENOMEM;
  }
  if (!e->v && !(e->v = calloc(1, sizeof *e->v))) return -ENOMEM; /* an empty environment */
  return 0;
}

/* The oracle's settings (docs/fuzz.md), shared by the fuzzing and the replays. */
static int env_oracle(env_t *e, const fz_opts_t *o, const char *report_dir) {
  int rc = env_set(e, "MEMSCOPE_FUZZ", "1");
  if (o->no_leak_check) rc |= env_set(e, "MEMSCOPE_FUZZ_MAX_LEAK_BYTES", "none");
  else rc |= env_set(e, "MEMSCOPE_FUZZ_MAX_LEAK_BYTES", "%llu", (unsigned long long)o->max_leak);
  rc |= env_set(e, "MEMSCOPE_FUZZ_MAX_PEAK_BYTES", "%llu", (unsigned long long)o->max_peak);
  rc |= env_set(e, "MEMSCOPE_FUZZ_REPORT_DIR", "%s", report_dir);
  if (o->suppressions) rc |= env_set(e, "MEMSCOPE_FUZZ_SUPPRESSIONS", "%s", o->suppressions);
  return rc ? -ENOMEM : 0;
}

/* Starts argv[0] (a path: no shell, no PATH search) with envp in a process group of its own,
 * stdin from /dev/null, stdout to out_fd and stderr to err_fd (-1: /dev/null). Returns the
 * pid, or -errno when it could not be started (the exec error comes back through a
 * close-on-exec pipe, as in hs_child_run). */
static pid_t spawn(char *const argv[], char *const envp[], int out_fd, int err_fd) {
  int ep[2];
  if (pipe2(ep, O_CLOEXEC) != 0) return -errno;
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(ep[0]);
    close(ep[1]);
    return -e;
  }
  if (pid == 0) {
    setpgid(0, 0);
    int nul = open("/dev/null", O_RDWR);
    dup2(nul, STDIN_FILENO);
    dup2(out_fd >= 0 ? out_fd : nul, STDOUT_FILENO);
    dup2(err_fd >= 0 ? err_fd : nul, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    execve(argv[0], argv, envp);
    int e = errno;
    ssize_t w = write(ep[1], &e, sizeof e);
    (void)w;
    _exit(127);
  }
  setpgid(pid, pid); /* here too: the group exists whichever side runs first */
  close(ep[1]);
  int e = 0;
  ssize_t n;
  do n = read(ep[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  close(ep[0]);
  if (n == (ssize_t)sizeof e) {
    waitpid(pid, NULL, 0);
    return -e;
  }
  return pid;
}

/* Kills what is left of the children's trees: processes that came to the harness as their
 * subreaper (a forkserver whose afl-fuzz was killed, a target's grandchild), and theirs. */
static void sweep_orphans(void) {
  pid_t self = getpid();
  for (int round = 0; round < 50; round++) {
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
    int found = 0;
    DIR *d = opendir("/proc");
    struct dirent *de;
    while (d && (de = readdir(d))) {
      char *end, path[64], buf[512];
      long pid = strtol(de->d_name, &end, 10);
      if (*end || pid <= 0) continue;
      hs_fmt(path, sizeof path, "/proc/%ld/stat", pid);
      int fd = open(path, O_RDONLY | O_CLOEXEC);
      ssize_t r = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
      if (fd >= 0) close(fd);
      if (r <= 0) continue;
      buf[r] = 0;
      char *rp = strrchr(buf, ')'), state;
      int ppid;
      if (!rp || sscanf(rp + 1, " %c %d", &state, &ppid) != 2 || ppid != self || state == 'Z') continue;
      kill((pid_t)pid, SIGKILL);
      found = 1;
    }
    if (d) closedir(d);
    if (!found) break;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

static volatile sig_atomic_t fz_interrupts; /* SIGINT, SIGTERM, SIGHUP received */
static sig_atomic_t fz_interrupts_seen;       /* of those, the ones the campaign handled */

static void on_signal(int sig) {
  (void)sig;
  fz_interrupts++;
}

static void catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: poll and nanosleep return EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
}

/* ---- afl-fuzz's figures ---------------------------------------------------------------------- */

/* Live figures: every instance sends its stats once a second to a UDP port of the harness
 * (AFL_STATSD, plain StatsD gauges "fuzzing.NAME:VALUE|g"), one slot per sending port. Used
 * for the progress line only; findings never depend on it. */
typedef struct fz_live_s {
  int fd;
  unsigned short port;
  struct {
    unsigned short from;
    double execs_per_s, corpus;
  } slot[FZ_MAX_JOBS];
  int nslots;
} fz_live_t;

static void live_open(fz_live_t *l) {
  memset(l, 0, sizeof *l);
  l->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(l->fd, (struct sockaddr *)&a, &al) != 0) {
    if (l->fd >= 0) close(l->fd);
    l->fd = -1;
    return;
  }
  l->port = ntohs(a.sin_port);
}

static void live_drain(fz_live_t *l) {
  char buf[4096];
  for (;;) {
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = l->fd >= 0 ? recvfrom(l->fd, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &fl) : -1;
    if (n <= 0) return;
    if (from.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) continue;
    buf[n] = 0;
    int k = 0;
    while (k < l->nslots && l->slot[k].from != from.sin_port) k++;
    if (k == l->nslots) {
      if (k == FZ_MAX_JOBS) continue;
      l->nslots++;
      l->slot[k].from = from.sin_port;
    }
    for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
      char *colon = strchr(line, ':');
      if (!colon) continue;
      double v = strtod(colon + 1, NULL);
      if (!strncmp(line, "fuzzing.execs_per_sec:", 22)) l->slot[k].execs_per_s = isfinite(v) ? v : 0;
      else if (!strncmp(line, "fuzzing.corpus_count:", 21)) l->slot[k].corpus = v;
    }
  }
}

/* Files named id:* in dir (crashes/, hangs/). */
static int count_ids(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir(d))) n += !strncmp(de->d_name, "id:", 3);
  if (d) closedir(d);
  return n;
}

/* ---- the campaign ---------------------------------------------------------------------------- */

typedef struct fz_inst_s {
  char name[64];
  pid_t pid;
  int running, status;
  ms_out_file_t log;
  char log_path[PATH_MAX];
} fz_inst_t;

typedef struct fz_run_s {
  fz_inst_t inst[FZ_MAX_JOBS];
  int n;
  double fuzz_wall_s;
  int interrupted, overran;
} fz_run_t;

static void progress_line(const fz_opts_t *o, const fz_run_t *r, fz_live_t *l, double left) {
  double eps = 0, corpus = 0;
  int crashes = 0, hangs = 0;
  for (int i = 0; i < r->n; i++) {
    char d[PATH_MAX];
    hs_fmt(d, sizeof d, "%s/afl/%s/crashes", o->out, r->inst[i].name);
    crashes += count_ids(d);
    hs_fmt(d, sizeof d, "%s/afl/%s/hangs", o->out, r->inst[i].name);
    hangs += count_ids(d);
    if (l->nslots == 0) { /* no StatsD: the last fuzzer_stats */
      hs_fuzz_stats_t st;
      hs_fmt(d, sizeof d, "%s/afl/%s", o->out, r->inst[i].name);
      if (hs_fuzz_read_stats(d, &st) == 0) eps += st.execs_per_s, corpus += st.corpus;
    }
  }
  for (int k = 0; k < l->nslots; k++) eps += l->slot[k].execs_per_s, corpus += l->slot[k].corpus;
  long s = left > 0 ? (long)ceil(left) : 0;
  hs_progress("fuzz: %d instance%s, %.0f execs/s, corpus %.0f, %d crash%s, %d hang%s saved, %ld:%02ld:%02ld left",
              r->n, r->n == 1 ? "" : "s", eps, corpus, crashes, crashes == 1 ? "" : "es", hangs,
              hangs == 1 ? "" : "s", s / 3600, s / 60 % 60, s % 60);
}

/* Reaps ended children: an instance's status is kept, anything else (an orphan that came to
 * the subreaper) is just reaped. waitid(WNOWAIT) first, so that no instance's status is lost
 * to a waitpid(-1). */
static void reap(fz_run_t *r) {
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 || si.si_pid == 0) return;
    int status = 0;
    if (waitpid(si.si_pid, &status, 0) < 0) return;
    for (int i = 0; i < r->n; i++)
      if (r->inst[i].running && r->inst[i].pid == si.si_pid) {
        r->inst[i].running = 0;
        r->inst[i].status = status;
      }
  }
}

static void signal_all(fz_run_t *r, int sig) {
  for (int i = 0; i < r->n; i++)
    if (r->inst[i].running) kill(-r->inst[i].pid, sig);
}

static int start_instances(const fz_opts_t *o, fz_run_t *r, const env_t *env) {
  char secs[32], afl_out[PATH_MAX];
  hs_fmt(secs, sizeof secs, "%llu", (unsigned long long)o->time_s);
  hs_fmt(afl_out, sizeof afl_out, "%s/afl", o->out);
  size_t nt = 0;
  while (o->target[nt]) nt++;
  char **argv = calloc(nt + 16, sizeof *argv);
  if (!argv) return fz_error("out of memory");
  for (int i = 0; i < o->jobs; i++) {
    fz_inst_t *in = &r->inst[i];
    if (i == 0) hs_fmt(in->name, sizeof in->name, "%s", o->main_name);
    else hs_fmt(in->name, sizeof in->name, "sec%d", i);
    hs_fmt(in->log_path, sizeof in->log_path, "%s/logs/%s.log", o->out, in->name);
    int rc = ms_out_open(&in->log, in->log_path);
    if (rc) {
      free(argv);
      return fz_error("cannot create %s: %s", in->log_path, strerror(-rc));
    }
    size_t k = 0;
    argv[k++] = (char *)o->afl_fuzz;
    argv[k++] = "-i";
    argv[k++] = (char *)o->corpus;
    argv[k++] = "-o";
    argv[k++] = afl_out;
    argv[k++] = "-V";
    argv[k++] = secs;
    argv[k++] = i == 0 ? "-M" : "-S";
    argv[k++] = in->name;
    if (o->dict) argv[k++] = "-x", argv[k++] = (char *)o->dict;
    argv[k++] = "--";
    argv[k++] = (char *)o->target_path;
    for (size_t a = 1; a < nt; a++) argv[k++] = o->target[a];
    argv[k] = NULL;
    int fd = fileno(in->log.f);
    pid_t pid = spawn(argv, env->v, fd, fd);
    r->n = i + 1;
    if (pid < 0) {
      free(argv);
      return fz_error("cannot start %s: %s", o->afl_fuzz, strerror((int)-pid));
    }
    in->pid = pid;
    in->running = 1;
  }
  free(argv);
  return 0;
}

/* The environment afl-fuzz runs with (docs/harness.md, "## fuzz"). */
static int campaign_env(const fz_opts_t *o, env_t *env, const fz_live_t *live) {
  char raw[PATH_MAX];
  hs_fmt(raw, sizeof raw, "%s/reports-raw", o->out);
  if (env_base(env) || env_oracle(env, o, raw)) return -ENOMEM;
  const char *old = env_get(env, "AFL_PRELOAD");
  int rc = old && *old ? env_set(env, "AFL_PRELOAD", "%s:%s", hs_lib_path, old)
                       : env_set(env, "AFL_PRELOAD", "%s", hs_lib_path);
  rc |= env_set(env, "AFL_NO_UI", "1");
  rc |= env_set(env, "AFL_SKIP_CPUFREQ", "1");
  /* core_pattern here is not AFL's ("core"); crashes are still seen through waitpid. */
  rc |= env_set(env, "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1");
  /* Cores are shared (CI runs tests in parallel, other instances run): afl-fuzz refuses to
   * start when it finds no free core to bind to, so it does not bind at all. */
  rc |= env_set(env, "AFL_NO_AFFINITY", "1");
  if (o->feedback) rc |= env_set(env, "MEMSCOPE_FUZZ_FEEDBACK", "1");
  if (live->fd >= 0 && !env_get(env, "AFL_STATSD")) {
    rc |= env_set(env, "AFL_STATSD", "1");
    rc |= env_set(env, "AFL_STATSD_HOST", "127.0.0.1");
    rc |= env_set(env, "AFL_STATSD_PORT", "%u", (unsigned)live->port);
  }
  return rc ? -ENOMEM : 0;
}

/* The line afl-fuzz stopped with ("PROGRAM ABORT : ..."), colours removed, or "". */
static void afl_abort_reason(const char *log_path, char *buf, size_t len) {
  buf[0] = 0;
  char *text = hs_read_file(log_path, NULL);
  if (!text) return;
  char *hit = NULL;
  for (char *p = strstr(text, "PROGRAM ABORT"); p; p = strstr(p + 1, "PROGRAM ABORT")) hit = p;
  if (hit) {
    hit += 13;
    size_t k = 0;
    for (const char *p = hit; *p && *p != '\n' && k + 1 < len; p++) {
      if (*p == '\033') { /* skip an ANSI sequence */
        while (p[1] && !((p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= 'a' && p[1] <= 'z'))) p++;
        if (p[1]) p++;
        continue;
      }
      if ((unsigned char)*p >= 0x20) buf[k++] = *p;
    }
    buf[k] = 0;
    char *s = buf;
    while (*s == ' ' || *s == ':') s++;
    memmove(buf, s, strlen(s) + 1);
  }
  free(text);
}

/* Runs the instances until they end: -V ends each at the deadline; one still running
 * max(15 s, 10 %) after it, or any on SIGINT/SIGTERM/SIGHUP, gets SIGINT (afl-fuzz's own
 * clean stop), and SIGKILL FZ_STOP_GRACE_S later. 0, or HS_EXIT_USAGE after one line. */
static int campaign(const fz_opts_t *o, fz_run_t *r) {
  fz_live_t live;
  live_open(&live);
  env_t env;
  if (campaign_env(o, &env, &live)) {
    env_free(&env);
    return fz_error("out of memory");
  }
  double t0 = hs_now_s(), deadline = t0 + (double)o->time_s;
  double overrun = fmax(15.0, 0.1 * (double)o->time_s), stop_at = 0, next_progress = t0;
  int rc = start_instances(o, r, &env);
  env_free(&env);
  if (rc) fz_interrupts = 1; /* stop what did start */
  for (;;) {
    reap(r);
    int running = 0;
    for (int i = 0; i < r->n; i++) running += r->inst[i].running;
    if (!running) break;
    double now = hs_now_s();
    if (!stop_at && (fz_interrupts || now > deadline + overrun)) {
      r->interrupted = fz_interrupts > 0;
      r->overran = !r->interrupted;
      signal_all(r, SIGINT);
      stop_at = now;
    }
    if (stop_at && (now > stop_at + FZ_STOP_GRACE_S || fz_interrupts > 1)) signal_all(r, SIGKILL);
    struct pollfd pf = {.fd = live.fd, .events = POLLIN};
    poll(&pf, live.fd >= 0 ? 1 : 0, 200);
    live_drain(&live);
    if (now >= next_progress) {
      progress_line(o, r, &live, deadline - now);
      next_progress = now + 1.0;
    }
  }
  hs_progress_clear();
  r->fuzz_wall_s = hs_now_s() - t0;
  sweep_orphans();
  if (live.fd >= 0) close(live.fd);
  for (int i = 0; i < r->n; i++) {
    int c = ms_out_commit(&r->inst[i].log);
    if (c && !rc) rc = fz_error("cannot write %s: %s", r->inst[i].log_path, strerror(-c));
  }
  if (rc) return rc;
  /* An instance that stopped before it fuzzed (no fuzzer_stats) is a runtime error: afl-fuzz
   * said why in its log. One that stopped later only ends its share early. */
  for (int i = 0; i < r->n; i++) {
    fz_inst_t *in = &r->inst[i];
    int ok = WIFEXITED(in->status) && WEXITSTATUS(in->status) == 0;
    char dir[PATH_MAX], reason[512];
    hs_fuzz_stats_t st;
    hs_fmt(dir, sizeof dir, "%s/afl/%s", o->out, in->name);
    int started = hs_fuzz_read_stats(dir, &st) == 0;
    if (ok || (r->interrupted && started)) continue;
    afl_abort_reason(in->log_path, reason, sizeof reason);
    const char *sig = WIFSIGNALED(in->status) ? sigabbrev_np(WTERMSIG(in->status)) : NULL;
    if (!reason[0] && WIFSIGNALED(in->status))
      hs_fmt(reason, sizeof reason, "ended by SIG%s", sig ? sig : "?");
    else if (!reason[0])
      hs_fmt(reason, sizeof reason, "exit status %d", WEXITSTATUS(in->status));
    /* Seeds that all crash stop afl-fuzz before it fuzzes; they are findings all the same
     * (the replay takes them from its log and queue/). */
    int seeds_crash = strstr(reason, "seed that does not crash") != NULL;
    if (!started && !seeds_crash)
      return fz_error("afl-fuzz (%s) stopped before fuzzing: %s; its output is in %s", in->name,
                      reason, in->log_path);
    fprintf(stderr, "memscope-harness: fuzz: warning: afl-fuzz (%s) %s (%s); %s; see %s\n", in->name,
            !started ? "did not fuzz" : r->overran ? "did not stop at the deadline" : "stopped early",
            reason,
            seeds_crash ? "every seed crashes or breaks a limit, and is replayed"
                        : "what it saved is replayed",
            in->log_path);
  }
  return 0;
}

/* ---- the files to replay ---------------------------------------------------------------------- */

enum { FZ_FROM_CRASHES, FZ_FROM_HANGS, FZ_FROM_SEED };

typedef struct fz_file_s {
  char path[PATH_MAX];
  char rel[PATH_MAX];   /* relative to --out: afl/NAME/crashes/id:... */
  char instance[64];
  int from;             /* FZ_FROM_* */
  double found_s;       /* the name's time: field (ms after the instance started) / 1000, -1 */
  size_t size;
} fz_file_t;

typedef struct fz_files_s {
  fz_file_t *v;
  size_t n, cap;
} fz_files_t;

static int files_add(fz_files_t *fs, const char *out, const char *inst, const char *sub,
                     const char *name, int from) {
  char path[PATH_MAX];
  struct stat sb;
  /* lstat: a campaign directory may come from another machine; only regular files count. */
  if (hs_fmt(path, sizeof path, "%s/afl/%s/%s/%s", out, inst, sub, name) || lstat(path, &sb) != 0 ||
      !S_ISREG(sb.st_mode))
    return 0;
  if (fs->n == fs->cap) {
    size_t cap = fs->cap ? fs->cap * 2 : 64;
    fz_file_t *nv = realloc(fs->v, cap * sizeof *nv);
    if (!nv) return -ENOMEM;
    fs->v = nv;
    fs->cap = cap;
  }
  fz_file_t *f = &fs->v[fs->n++];
  memset(f, 0, sizeof *f);
  hs_fmt(f->path, sizeof f->path, "%s", path);
  hs_fmt(f->rel, sizeof f->rel, "afl/%s/%s/%s", inst, sub, name);
  hs_fmt(f->instance, sizeof f->instance, "%s", inst);
  f->from = from;
  f->size = (size_t)sb.st_size;
  const char *t = strstr(name, ",time:");
  f->found_s = t ? strtod(t + 6, NULL) / 1000.0 : -1;
  return 0;
}

/* Seeds afl-fuzz skipped because they crash ("Test case 'NAME' results in a crash, skipping"
 * in the instance's log): they stay in its queue/, and break the oracle as much as a crash
 * found later does. The name is data from a log: used only as one file name in queue/. */
static int seed_crashes(fz_files_t *fs, const char *out, const char *inst) {
  char log[PATH_MAX];
  hs_fmt(log, sizeof log, "%s/logs/%s.log", out, inst);
  char *text = hs_read_file(log, NULL);
  if (!text) return 0;
  int rc = 0;
  for (char *p = strstr(text, "Test case '"); p && !rc; p = strstr(p + 1, "Test case '")) {
    char *name = p + 11, *q = strchr(name, '\'');
    if (!q || strncmp(q, "' results in a crash", 20)) continue;
    *q = 0;
    if (!strchr(name, '/') && strcmp(name, ".") && strcmp(name, ".."))
      rc = files_add(fs, out, inst, "queue", name, FZ_FROM_SEED);
    p = q;
  }
  free(text);
  return rc;
}

static int cmp_files(const void *a, const void *b) {
  const fz_file_t *x = a, *y = b;
  int c = strcmp(x->instance, y->instance);
  return c ? c : strcmp(x->rel, y->rel);
}

/* Every instance directory under OUT/afl (ours, and any synced in from other machines). */
static int collect_files(const char *out, fz_files_t *fs) {
  char dir[PATH_MAX];
  hs_fmt(dir, sizeof dir, "%s/afl", out);
  DIR *d = opendir(dir);
  if (!d) return errno == ENOENT ? 0 : -errno;
  struct dirent *de;
  int rc = 0;
  while (!rc && (de = readdir(d))) {
    struct stat sb;
    if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISDIR(sb.st_mode) || strlen(de->d_name) >= 64)
      continue;
    const char *subs[] = {"crashes", "hangs"};
    for (int s = 0; s < 2 && !rc; s++) {
      char sub[PATH_MAX];
      hs_fmt(sub, sizeof sub, "%s/%s/%s", dir, de->d_name, subs[s]);
      DIR *sd = opendir(sub);
      struct dirent *fe;
      while (sd && !rc && (fe = readdir(sd)))
        if (!strncmp(fe->d_name, "id:", 3))
          rc = files_add(fs, out, de->d_name, subs[s], fe->d_name, s == 0 ? FZ_FROM_CRASHES : FZ_FROM_HANGS);
      if (sd) closedir(sd);
    }
    if (!rc) rc = seed_crashes(fs, out, de->d_name);
  }
  closedir(d);
  if (fs->n) qsort(fs->v, fs->n, sizeof *fs->v, cmp_files);
  return rc;
}

/* ---- replaying one input under the oracle ---------------------------------------------------- */

typedef struct fz_outcome_s {
  int exited, code, sig, timed_out;
  char err[FZ_STDERR_CAP];
  size_t errlen;
  cJSON *report;       /* memscope.fuzz_report/1 the replay wrote, or NULL */
} fz_outcome_t;

/* TARGET ARGS FILE, or TARGET ARGS with @@ replaced by FILE (afl-fuzz's convention). */
static char **replay_argv(const fz_opts_t *o, const char *file) {
  size_t n = 0;
  int at = 0;
  while (o->target[n]) at |= !strcmp(o->target[n++], "@@");
  char **argv = calloc(n + 2, sizeof *argv);
  if (!argv) return NULL;
  argv[0] = (char *)o->target_path;
  for (size_t i = 1; i < n; i++) argv[i] = !strcmp(o->target[i], "@@") ? (char *)file : o->target[i];
  if (!at) argv[n] = (char *)file;
  return argv;
}

/* The report a replay wrote into its own directory (memscope-KIND-HASH.json), or NULL. */
static cJSON *read_report(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *de;
  cJSON *r = NULL;
  while (d && !r && (de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (strncmp(de->d_name, "memscope-", 9) || l < 14 || strcmp(de->d_name + l - 5, ".json")) continue;
    char p[PATH_MAX];
    hs_fmt(p, sizeof p, "%s/%s", dir, de->d_name);
    char *text = hs_read_file(p, NULL);
    r = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *schema = cJSON_GetObjectItemCaseSensitive(r, "schema");
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "kind"));
    if (!cJSON_IsString(schema) || strcmp(schema->valuestring, "memscope.fuzz_report/1") || !kind ||
        (strcmp(kind, "leak") && strcmp(kind, "peak") && strcmp(kind, "partial"))) {
      cJSON_Delete(r);
      r = NULL;
    }
  }
  if (d) closedir(d);
  return r;
}

/* Runs the target on one file with the oracle preloaded, MEMSCOPE_FUZZ_REPORT_DIR a fresh
 * directory, stderr kept (its first FZ_STDERR_CAP bytes), killed (its group) at the replay
 * timeout. 0 or -errno. */
static int replay_one(const fz_opts_t *o, const fz_file_t *f, const char *scratch, fz_outcome_t *out) {
  memset(out, 0, sizeof *out);
  char rdir[PATH_MAX];
  hs_fmt(rdir, sizeof rdir, "%s/r-XXXXXX", scratch);
  if (!mkdtemp(rdir)) return -errno;
  env_t env;
  int rc = env_base(&env) || env_oracle(&env, o, rdir) ? -ENOMEM : 0;
  const char *old = env_get(&env, "LD_PRELOAD");
  if (!rc) rc = old && *old ? env_set(&env, "LD_PRELOAD", "%s:%s", hs_lib_path, old)
                            : env_set(&env, "LD_PRELOAD", "%s", hs_lib_path);
  char **argv = replay_argv(o, f->path);
  int ep[2] = {-1, -1};
  if (rc || !argv || pipe2(ep, O_CLOEXEC) != 0) {
    env_free(&env);
    free(argv);
    return rc ? rc : -ENOMEM;
  }
  pid_t pid = spawn(argv, env.v, -1, ep[1]);
  close(ep[1]);
  env_free(&env);
  free(argv);
  if (pid < 0) {
    close(ep[0]);
    return (int)pid;
  }
  double t0 = hs_now_s();
  int status = 0, open_pipe = 1;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (!out->timed_out && (hs_now_s() - t0 > o->replay_timeout_s || fz_interrupts > fz_interrupts_seen)) {
      out->timed_out = hs_now_s() - t0 > o->replay_timeout_s;
      kill(-pid, SIGKILL);
    }
    struct pollfd pf = {.fd = ep[0], .events = POLLIN};
    if (poll(&pf, open_pipe ? 1 : 0, open_pipe ? 50 : 20) > 0) {
      char tmp[4096];
      ssize_t n = read(ep[0], tmp, sizeof tmp);
      if (n <= 0) open_pipe = 0; /* closed: the wait above ends the loop */
      size_t room = sizeof out->err - 1 - out->errlen;
      if (n > 0 && room) {
        memcpy(out->err + out->errlen, tmp, (size_t)n < room ? (size_t)n : room);
        out->errlen += (size_t)n < room ? (size_t)n : room;
      }
    }
  }
  close(ep[0]);
  kill(-pid, SIGKILL); /* whatever the target left running in its group */
  sweep_orphans();
  out->err[out->errlen] = 0;
  if (WIFEXITED(status)) out->exited = 1, out->code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status)) out->sig = WTERMSIG(status);
  out->report = read_report(rdir);
  return 0;
}

/* Replays every saved input into the findings. 0, or HS_EXIT_USAGE after one line. */
static int replay_all(const fz_opts_t *o, hs_fuzz_findings_t *fs, double *wall_s) {
  fz_files_t files = {0};
  double t0 = hs_now_s();
  int rc = collect_files(o->out, &files);
  if (rc) {
    free(files.v);
    return fz_error("cannot read %s/afl: %s", o->out, strerror(-rc));
  }
  char scratch[PATH_MAX];
  hs_fmt(scratch, sizeof scratch, "%s/.replay-XXXXXX", o->out);
  fz_outcome_t *oc = malloc(sizeof *oc);
  if (!oc || !mkdtemp(scratch)) {
    free(oc);
    free(files.v);
    return fz_error("cannot create a replay directory in %s: %s", o->out, strerror(errno));
  }
  /* An interrupt from here on ends the command: the campaign has had its stop. */
  fz_interrupts_seen = fz_interrupts;
  for (size_t i = 0; i < files.n && !rc; i++) {
    const fz_file_t *f = &files.v[i];
    hs_progress("fuzz: replaying %zu/%zu under the oracle", i + 1, files.n);
    int e = replay_one(o, f, scratch, oc);
    if (fz_interrupts > fz_interrupts_seen) {
      cJSON_Delete(oc->report);
      rc = fz_error("interrupted while replaying %s; the campaign is in %s/afl", f->rel, o->out);
      break;
    }
    if (e) {
      rc = fz_error("cannot replay %s: %s", f->path, strerror(-e));
      break;
    }
    hs_fuzz_input_t in = {.path = f->path, .rel = f->rel, .instance = f->instance,
                          .from_hangs = f->from == FZ_FROM_HANGS, .from_seed = f->from == FZ_FROM_SEED,
                          .found_s = f->found_s, .size = f->size, .exited = oc->exited, .code = oc->code,
                          .sig = oc->sig, .timed_out = oc->timed_out, .err = oc->err, .report = oc->report};
    if (hs_fuzz_add(fs, &in)) rc = fz_error("out of memory");
    cJSON_Delete(in.report); /* NULL when the findings took it */
  }
  hs_progress_clear();
  hs_rmtree(scratch);
  free(oc);
  free(files.v);
  *wall_s = hs_now_s() - t0;
  return rc;
}

int hs_fuzz_main(int argc, char **argv) {
  fz_opts_t o = {.jobs = 1, .main_name = "main", .replay_timeout_s = 10};
  const char *corpus = NULL, *out = NULL;
  int rc = parse_args(argc, argv, &o, &corpus, &out);
  if (rc) return rc < 0 ? HS_EXIT_OK : rc;
  if ((rc = check_inputs(&o, corpus)) != 0) return rc;
  if (hs_find_lib(o.lib)) return HS_EXIT_USAGE;
  if ((rc = prepare_out(&o, out)) != 0) return rc;
  hs_progress_enable(!o.no_progress);
  /* Orphans of the instances' and replays' trees come to the harness, which ends them. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  catch_signals();
  time_t started = time(NULL);
  fz_run_t *run = calloc(1, sizeof *run);
  hs_fuzz_findings_t *fs = hs_fuzz_findings_new();
  if (!run || !fs) {
    free(run);
    hs_fuzz_findings_free(fs);
    return fz_error("out of memory");
  }
  double replay_wall_s = 0;
  rc = campaign(&o, run);
  if (!rc) rc = replay_all(&o, fs, &replay_wall_s);
  if (!rc) {
    const char *names[FZ_MAX_JOBS];
    for (int i = 0; i < run->n; i++) names[i] = run->inst[i].name;
    hs_fuzz_campaign_t c = {.out = o.out, .target = o.target, .target_path = o.target_path,
                            .afl_fuzz = o.afl_fuzz, .dict = o.dict, .suppressions = o.suppressions,
                            .time_s = o.time_s, .max_leak = o.max_leak, .max_peak = o.max_peak,
                            .jobs = o.jobs, .feedback = o.feedback,
                            .replay_timeout_s = o.replay_timeout_s, .instances = names,
                            .ninstances = run->n, .fuzz_wall_s = run->fuzz_wall_s,
                            .replay_wall_s = replay_wall_s, .interrupted = run->interrupted,
                            .overran = run->overran, .started = started};
    char err[PATH_MAX + 100];
    int n = hs_fuzz_write(fs, &c, err, sizeof err);
    rc = n < 0 ? fz_error("%s", err) : n > 0 ? HS_EXIT_FAILED : HS_EXIT_OK;
  }
  hs_fuzz_findings_free(fs);
  free(run);
  return rc;
}
