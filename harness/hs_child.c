/* hs_child.c: runs a scenario or program in a child process (tracked under LD_PRELOAD, or the
 * untracked baseline) and has its resources sampled from outside, in /proc (SPEC §7).
 *
 * The sampler (hs_monitor.c) runs in the harness's own thread of control while the child
 * runs: the wait loop sleeps in ppoll on a pidfd (and the child's stdout pipe) until the next
 * sample is due, so the tracked program pays nothing for it. The first sample follows exec,
 * the last one is of the exited child held as a zombie (waitid WNOWAIT) before wait4. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"

extern char **environ;

#define HS_TREE_GRACE_S 10.0 /* how long the tree may outlive its main process */

/* ---- progress on a TTY ---- */

static int progress_on;
static int progress_shown;

void hs_progress_enable(int on) { progress_on = on && isatty(STDERR_FILENO); }

void hs_progress(const char *fmt, ...) {
  if (!progress_on) return;
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\r\033[K%s", line);
  fflush(stderr);
  progress_shown = 1;
}

void hs_progress_clear(void) {
  if (progress_on && progress_shown) {
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
  }
  progress_shown = 0;
}

/* ---- finding and starting the program ---- */

int hs_find_program(const char *prog, char *buf, size_t len) {
  if (!prog || !*prog) return -ENOENT;
  if (strchr(prog, '/')) {
    if (access(prog, X_OK) != 0) return -errno;
    struct stat sb;
    if (stat(prog, &sb) == 0 && S_ISDIR(sb.st_mode)) return -EISDIR;
    hs_fmt(buf, len, "%s", prog);
    return 0;
  }
  const char *path = getenv("PATH");
  if (!path) path = "/usr/local/bin:/usr/bin:/bin";
  int last = -ENOENT;
  while (*path) {
    const char *colon = strchr(path, ':');
    size_t n = colon ? (size_t)(colon - path) : strlen(path);
    char cand[PATH_MAX];
    if (n == 0) hs_fmt(cand, sizeof cand, "./%s", prog);
    else hs_fmt(cand, sizeof cand, "%.*s/%s", (int)n, path, prog);
    struct stat sb;
    if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode)) {
      if (access(cand, X_OK) == 0) {
        hs_fmt(buf, len, "%s", cand);
        return 0;
      }
      last = -EACCES;
    }
    path += n;
    if (*path == ':') path++;
  }
  return last;
}

static void set_env_num(const char *k, long v) {
  char b[32];
  hs_fmt(b, sizeof b, "%ld", v);
  setenv(k, b, 1);
}

/* In the child, before exec: the tracker's environment (or its absence). Only async-signal-
 * unsafe calls that are fine in a single-threaded forked harness (setenv allocates). */
static void child_env(const hs_child_spec_t *sp) {
  /* The harness's own MEMSCOPE_* settings must not leak into a baseline run, nor override
   * what the options say for a tracked run. */
  unsetenv("MEMSCOPE_OUT");
  /* The harness's own variables are not the tracker's: it refuses unknown MEMSCOPE_* ones
   * (and then tracks nothing), so they stop here. */
  unsetenv("MEMSCOPE_LIB");
  unsetenv("MEMSCOPE_SCENARIO");
  unsetenv("MEMSCOPE_GNUPLOT");
  if (!sp->preload_lib) {
    unsetenv("MEMSCOPE_TEST_SLOWDOWN");
    const char *lp = getenv("LD_PRELOAD");
    if (lp && strstr(lp, "libmemscope")) unsetenv("LD_PRELOAD");
    return;
  }
  const char *old = getenv("LD_PRELOAD");
  if (old && *old) {
    char *v = malloc(strlen(sp->preload_lib) + strlen(old) + 2);
    if (v) {
      sprintf(v, "%s:%s", sp->preload_lib, old);
      setenv("LD_PRELOAD", v, 1);
    }
  } else {
    setenv("LD_PRELOAD", sp->preload_lib, 1);
  }
  setenv("MEMSCOPE_OUT", sp->trace_dir, 1);
  const hs_opts_t *o = sp->opts;
  if (o) {
    if (o->sample) setenv("MEMSCOPE_SAMPLE", o->sample, 1);
    if (o->stack_depth >= 0) set_env_num("MEMSCOPE_STACK_DEPTH", o->stack_depth);
    if (o->threads) setenv("MEMSCOPE_THREADS", o->threads, 1);
    if (o->test_slowdown > 0) set_env_num("MEMSCOPE_TEST_SLOWDOWN", o->test_slowdown);
  }
  /* Resource sampling is done by this harness from outside; the in-process one stays off. */
  setenv("MEMSCOPE_RESOURCES_HZ", "0", 1);
}

/* ---- the process tree ----------------------------------------------------------------------
 * The target runs in a process group of its own, and the harness is a child subreaper
 * (PR_SET_CHILD_SUBREAPER): every process of the tree whose parent ends is handed to the
 * harness instead of init, so "the tree" is every live process whose parent chain reaches
 * the harness. That finds descendants that left the process group (setsid) too. */

/* Parent pid and state of /proc/<pid>/stat; 0 or -1. comm may hold ')' and blanks: the
 * fields after it start after the last ')'. */
static int proc_ppid(pid_t pid, pid_t *ppid, char *state) {
  char path[64], buf[1024];
  hs_fmt(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  char *rp = strrchr(buf, ')');
  int pp;
  if (!rp || sscanf(rp + 1, " %c %d", state, &pp) != 2) return -1;
  *ppid = (pid_t)pp;
  return 0;
}

/* Live (not zombie) descendants of the harness, up to cap, with their command names. */
static size_t tree_pids(pid_t *out, size_t cap) {
  pid_t self = getpid();
  size_t n = 0, nall = 0, allcap = 4096;
  pid_t(*all)[2] = malloc(allcap * sizeof *all);
  if (!all) return 0;
  DIR *d = opendir("/proc");
  struct dirent *de;
  while (d && (de = readdir(d)) && nall < allcap) {
    char *end;
    long v = strtol(de->d_name, &end, 10);
    pid_t pp;
    char st;
    if (*end || v <= 0 || proc_ppid((pid_t)v, &pp, &st) || st == 'Z') continue;
    all[nall][0] = (pid_t)v;
    all[nall][1] = pp;
    nall++;
  }
  if (d) closedir(d);
  for (size_t i = 0; i < nall && n < cap; i++) {
    pid_t p = all[i][1];
    for (int depth = 0; depth < 64 && p > 1 && p != self; depth++) {
      size_t k = 0;
      while (k < nall && all[k][0] != p) k++;
      p = k < nall ? all[k][1] : 0;
    }
    if (p == self) out[n++] = all[i][0];
  }
  free(all);
  return n;
}

/* Reaps every child that has ended (the tree's orphans come to the harness). */
static void reap_orphans(void) {
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

/* Sends SIGKILL to the group and to every process of the tree until none is left (a
 * process may fork while it is being killed), at most ~2 s. Returns how many were killed. */
static int tree_kill(pid_t pgid, char *names, size_t nlen) {
  int killed = 0;
  if (pgid > 0) kill(-pgid, SIGKILL);
  for (int round = 0; round < 100; round++) {
    pid_t pids[512];
    size_t n = tree_pids(pids, 512);
    reap_orphans();
    if (n == 0) break;
    for (size_t i = 0; i < n; i++) {
      if (names && round == 0 && strlen(names) + 40 < nlen) {
        char path[64], comm[32] = "";
        hs_fmt(path, sizeof path, "/proc/%d/comm", (int)pids[i]);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t r = fd >= 0 ? read(fd, comm, sizeof comm - 1) : -1;
        if (fd >= 0) close(fd);
        comm[r > 0 ? r : 0] = '\0';
        comm[strcspn(comm, "\n")] = '\0';
        size_t l = strlen(names);
        hs_fmt(names + l, nlen - l, "%s%d (%s)", l ? ", " : "", (int)pids[i], comm);
      }
      if (kill(pids[i], SIGKILL) == 0 && round == 0) killed++;
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  reap_orphans();
  return killed;
}

/* After the target's main process ended: waits for the rest of its tree until `deadline`
 * (hs_now_s), then kills what is left. Returns how many were killed. */
static int tree_finish(double deadline, char *names, size_t nlen) {
  for (;;) {
    reap_orphans();
    pid_t pids[1];
    if (tree_pids(pids, 1) == 0) return 0;
    if (hs_now_s() >= deadline) return tree_kill(0, names, nlen);
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static int pidfd_open_compat(pid_t pid) {
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  errno = ENOSYS;
  return -1;
#endif
}

/* ---- one run, phase by phase ---------------------------------------------------------------
 * hs_child_run calls one function per phase, in this order: spawn_child (child_exec on the
 * child's side), wait_loop, drain_stdout, reap_child, collect_result. What one phase hands to
 * the next is a child_run_t; each phase's contract is above it. */

typedef struct child_run_s {
  pid_t pid;                  /* the target's main process, leader of its process group */
  double t0;                  /* hs_now_s just before fork: the run's time origin */
  int out_fd;                 /* read end of the stdout pipe, -1 without capture_stdout */
  int pfd;                    /* pidfd of pid, -1 where there is none (poll waitid instead) */
  hs_monitor_t *mon;          /* the sampler, NULL when this run is not sampled */
  char *obuf;                 /* captured stdout; NUL-terminated only by collect_result */
  size_t olen, ocap;          /* bytes in obuf, and its size */
  struct rusage self0, self1; /* the harness's own usage when the child starts and ends */
  struct rusage ru;           /* the child's, from wait4 */
  int status;                 /* wait4's status */
} child_run_t;

/* The child's side of the fork: its own process group, stdout, environment, the valgrind
 * wrapper in callgrind mode, then exec. Never returns: a failed exec writes its errno into
 * errpipe (which exec closes when it works) and exits 127. */
static __attribute__((noreturn)) void child_exec(const hs_child_spec_t *sp, const int errpipe[2],
                                                 const int outpipe[2]) {
  setpgid(0, 0); /* a group of its own: --timeout ends the whole tree with one kill */
  close(errpipe[0]);
  if (outpipe[1] >= 0) {
    dup2(outpipe[1], STDOUT_FILENO);
  } else if (sp->quiet_stdout) {
    int nul = open("/dev/null", O_WRONLY);
    if (nul >= 0) dup2(nul, STDOUT_FILENO);
  }
  signal(SIGPIPE, SIG_DFL);
  child_env(sp);
  char *const *argv = sp->argv;
  char **vargv = NULL;
  if (sp->wrapper_valgrind_out) {
    size_t n = 0;
    while (argv[n]) n++;
    vargv = calloc(n + 8, sizeof *vargv);
    if (vargv) {
      static char outopt[4200];
      hs_fmt(outopt, sizeof outopt, "--callgrind-out-file=%s", sp->wrapper_valgrind_out);
      size_t k = 0;
      vargv[k++] = "valgrind";
      vargv[k++] = "--tool=callgrind";
      vargv[k++] = "-q";
      vargv[k++] = outopt;
      for (size_t i = 0; i < n; i++) vargv[k++] = argv[i];
      vargv[k] = NULL;
      argv = vargv;
    }
  }
  execvp(argv[0], argv);
  int e = errno;
  ssize_t w = write(errpipe[1], &e, sizeof e);
  (void)w;
  _exit(127);
}

/* Starts the child: the error pipe (and the stdout pipe when capturing), the sampler's
 * baselines, fork, and on the harness's side whether exec worked (res->exec_errno). On return
 * run has pid, t0, out_fd, mon (NULL unless sampled and started) and self0. 0, or -errno when
 * a pipe or fork failed; then nothing is left open. */
static int spawn_child(const hs_child_spec_t *sp, hs_child_result_t *res, child_run_t *run) {
  int errpipe[2], outpipe[2] = {-1, -1};
  if (pipe2(errpipe, O_CLOEXEC) != 0) return -errno;
  if (sp->capture_stdout && pipe2(outpipe, O_CLOEXEC) != 0) {
    int e = errno;
    close(errpipe[0]);
    close(errpipe[1]);
    return -e;
  }
  fflush(stdout);
  fflush(stderr);
  /* The sampler reads the host's baselines before the fork (so the first sample's CPU % has
   * an interval). */
  hs_monitor_t *mon_pre = sp->monitor && sp->resources_hz > 0 ? hs_monitor_new(sp->resources_hz) : NULL;
  double t0 = hs_now_s();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    hs_monitor_free(mon_pre);
    close(errpipe[0]);
    close(errpipe[1]);
    if (outpipe[0] >= 0) close(outpipe[0]), close(outpipe[1]);
    return -e;
  }
  if (pid == 0) child_exec(sp, errpipe, outpipe);
  setpgid(pid, pid); /* also here: whichever of the two runs first, the group exists */
  close(errpipe[1]);
  if (outpipe[1] >= 0) close(outpipe[1]);
  int e = 0;
  ssize_t n;
  do n = read(errpipe[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  if (n == (ssize_t)sizeof e) res->exec_errno = e;

  hs_monitor_t *mon = sp->monitor && sp->resources_hz > 0 && !res->exec_errno ? mon_pre : NULL;
  if (mon_pre && !mon) hs_monitor_free(mon_pre);
  getrusage(RUSAGE_SELF, &run->self0);
  /* The first sample, right after exec (the error pipe closed on exec). */
  if (mon) hs_monitor_start(mon, pid, t0);
  run->pid = pid;
  run->t0 = t0;
  run->out_fd = outpipe[0];
  run->mon = mon;
  return 0;
}

/* Appends n bytes of the child's stdout to run->obuf, keeping one byte for the final NUL.
 * 0, or -1 when the buffer could not grow: the bytes are dropped. */
static int out_append(child_run_t *run, const char *b, size_t n) {
  if (run->olen + n + 1 > run->ocap) {
    size_t cap = (run->olen + n + 1) * 2;
    char *nb = realloc(run->obuf, cap);
    if (nb) run->obuf = nb, run->ocap = cap;
  }
  if (run->olen + n + 1 > run->ocap) return -1;
  memcpy(run->obuf + run->olen, b, n);
  run->olen += n;
  return 0;
}

/* While the main process runs: samples when due, the progress line, the timeout (which kills
 * the whole tree), and the child's stdout into run->obuf. Returns once the main process has
 * exited (not yet reaped) or ppoll failed; run->pfd is left open for the caller to close. */
static void wait_loop(const hs_child_spec_t *sp, hs_child_result_t *res, child_run_t *run) {
  hs_monitor_t *mon = run->mon;
  pid_t pid = run->pid;
  double t0 = run->t0;
  int pfd = pidfd_open_compat(pid);
  run->pfd = pfd;
  int out_open = run->out_fd >= 0;
  for (;;) {
    if (mon && hs_now_s() >= hs_monitor_next_due(mon)) hs_monitor_sample(mon, 0);
    if (sp->progress_label) {
      double el = hs_now_s() - t0;
      long long peak_kb = mon ? hs_monitor_peak_rss_kb(mon) : -1;
      if (peak_kb > 0)
        hs_progress("%s: running %.1f s, peak RSS %.1f MB", sp->progress_label, el,
                    (double)peak_kb / 1000.0);
      else
        hs_progress("%s: running %.1f s", sp->progress_label, el);
    }
    if (sp->timeout_s > 0 && hs_now_s() - t0 > sp->timeout_s && !res->timed_out) {
      res->timed_out = 1;
      kill(pid, SIGKILL);
      res->tree_killed = tree_kill(pid, res->tree_killed_names, sizeof res->tree_killed_names);
    }
    struct pollfd fds[2];
    int nf = 0;
    if (pfd >= 0) fds[nf].fd = pfd, fds[nf].events = POLLIN, nf++;
    if (out_open) fds[nf].fd = run->out_fd, fds[nf].events = POLLIN, nf++;
    /* ppoll: the 1 kHz start needs sub-millisecond deadlines. */
    double wait = 0.1;
    if (mon) {
      wait = hs_monitor_next_due(mon) - hs_now_s();
      if (wait < 0) wait = 0;
    }
    if (pfd < 0) {
      /* No pidfd: poll the child's state instead. */
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) break;
      if (wait > 0.02) wait = 0.02;
    }
    struct timespec tmo = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    int pr = ppoll(fds, (nfds_t)nf, &tmo, NULL);
    if (pr < 0 && errno != EINTR) break;
    int exited = 0;
    for (int i = 0; i < nf && pr > 0; i++) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == pfd) {
        exited = 1;
      } else {
        char tmp[8192];
        ssize_t r = read(run->out_fd, tmp, sizeof tmp);
        /* A chunk that does not fit is dropped, but reading goes on: the child must never
         * block on a full pipe. */
        if (r > 0) {
          out_append(run, tmp, (size_t)r);
        } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
          out_open = 0;
        }
      }
    }
    if (exited) break;
  }
}

/* Drain what is left of stdout (the child has exited; its writes are all in the pipe unless
 * a grandchild keeps it open, so do not block on it). Closes run->out_fd. */
static void drain_stdout(child_run_t *run) {
  if (run->out_fd < 0) return;
  int fl = fcntl(run->out_fd, F_GETFL);
  fcntl(run->out_fd, F_SETFL, fl | O_NONBLOCK);
  for (;;) {
    char tmp[8192];
    ssize_t r = read(run->out_fd, tmp, sizeof tmp);
    if (r <= 0) break;
    if (out_append(run, tmp, (size_t)r) != 0) break;
  }
  close(run->out_fd);
}

/* After the main process exited: the harness's own usage (run->self1), the last sample, wait4
 * (run->status, run->ru, res->wall_s), then the end of the rest of the tree. */
static void reap_child(const hs_child_spec_t *sp, hs_child_result_t *res, child_run_t *run) {
  pid_t pid = run->pid;
  /* The last sample: the child has exited; waitid with WNOWAIT leaves it a zombie, so
   * /proc/<pid> is still there (what the kernel no longer reports is marked as such). */
  getrusage(RUSAGE_SELF, &run->self1);
  if (run->mon) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int wr;
    do wr = waitid(P_PID, pid, &si, WEXITED | WNOWAIT);
    while (wr < 0 && errno == EINTR);
    if (wr == 0) hs_monitor_sample(run->mon, 1);
  }
  run->status = 0;
  memset(&run->ru, 0, sizeof run->ru);
  pid_t w;
  do w = wait4(pid, &run->status, 0, &run->ru);
  while (w < 0 && errno == EINTR);
  res->wall_s = hs_now_s() - run->t0;
  /* The rest of the tree: nothing of it may run (and write into the trace) after the harness
   * has read the trace. Processes still running are waited for until the timeout, or
   * HS_TREE_GRACE_S when there is none, then killed and named. */
  double deadline = sp->timeout_s > 0 ? run->t0 + sp->timeout_s : hs_now_s() + HS_TREE_GRACE_S;
  if (deadline < hs_now_s()) deadline = hs_now_s();
  int late = tree_finish(deadline, res->tree_killed_names + strlen(res->tree_killed_names),
                         sizeof res->tree_killed_names - strlen(res->tree_killed_names));
  res->tree_killed += late;
  res->tree_outlived = late;
}

/* res->resources for a monitored run: the sampler's document (or the "monitor off" one when
 * there was no timeline) completed from wait4's rusage and the harness's own CPU time. */
static void resources_finish(hs_child_result_t *res, const child_run_t *run) {
  const struct rusage *ru = &run->ru;
  res->resources =
      run->mon ? hs_monitor_finish(run->mon, res->wall_s) : hs_monitor_off_json(res->wall_s);
  /* wait4's maximum RSS covers what fell between two samples. */
  cJSON *pk = cJSON_GetObjectItemCaseSensitive(res->resources, "peak_rss_bytes");
  double ru_peak = (double)ru->ru_maxrss * 1024.0;
  if (ru->ru_maxrss > 0 && (!cJSON_IsNumber(pk) || pk->valuedouble < ru_peak))
    cJSON_ReplaceItemInObjectCaseSensitive(res->resources, "peak_rss_bytes",
                                           cJSON_CreateNumber(ru_peak));
  cJSON *sj = cJSON_GetObjectItemCaseSensitive(res->resources, "sampler");
  if (sj) {
    /* Everything the harness did while the child ran: the samples and the wait loop. */
    const struct rusage *s0 = &run->self0, *s1 = &run->self1;
    double self_s = (double)(s1->ru_utime.tv_sec - s0->ru_utime.tv_sec) +
                    (double)(s1->ru_stime.tv_sec - s0->ru_stime.tv_sec) +
                    (double)(s1->ru_utime.tv_usec - s0->ru_utime.tv_usec) / 1e6 +
                    (double)(s1->ru_stime.tv_usec - s0->ru_stime.tv_usec) / 1e6;
    cJSON_AddNumberToObject(sj, "harness_cpu_s_while_running", self_s);
  }
  cJSON_AddNumberToObject(res->resources, "rusage_user_s", res->user_s);
  cJSON_AddNumberToObject(res->resources, "rusage_sys_s", res->sys_s);
  cJSON_AddNumberToObject(res->resources, "rusage_max_rss_bytes", (double)ru->ru_maxrss * 1024.0);
  cJSON_AddNumberToObject(res->resources, "rusage_minflt", (double)ru->ru_minflt);
  cJSON_AddNumberToObject(res->resources, "rusage_majflt", (double)ru->ru_majflt);
  cJSON_AddNumberToObject(res->resources, "rusage_inblock", (double)ru->ru_inblock);
  cJSON_AddNumberToObject(res->resources, "rusage_oublock", (double)ru->ru_oublock);
  cJSON_AddNumberToObject(res->resources, "rusage_nvcsw", (double)ru->ru_nvcsw);
  cJSON_AddNumberToObject(res->resources, "rusage_nivcsw", (double)ru->ru_nivcsw);
}

/* The reaped child's figures into res: pid, rusage, how it ended, the captured stdout (which
 * res now owns) and, when monitored, the resources document. */
static void collect_result(const hs_child_spec_t *sp, hs_child_result_t *res, child_run_t *run) {
  const struct rusage *ru = &run->ru;
  res->pid = run->pid;
  res->user_s = (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec / 1e6;
  res->sys_s = (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec / 1e6;
  res->max_rss_kb = ru->ru_maxrss;
  if (WIFEXITED(run->status)) {
    res->exited = 1;
    res->exit_code = WEXITSTATUS(run->status);
  } else if (WIFSIGNALED(run->status)) {
    res->term_signal = WTERMSIG(run->status);
  }
  if (run->obuf) {
    run->obuf[run->olen] = 0;
    res->out_stdout = run->obuf;
  } else if (sp->capture_stdout) {
    res->out_stdout = strdup("");
  }
  if (run->mon || (sp->monitor && !res->exec_errno)) resources_finish(res, run);
}

int hs_child_run(const hs_child_spec_t *sp, hs_child_result_t *res) {
  memset(res, 0, sizeof *res);
  /* Orphans of the target's tree come to the harness, so it can wait for them and end them. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  child_run_t run;
  memset(&run, 0, sizeof run);
  int rc = spawn_child(sp, res, &run);
  if (rc != 0) return rc;
  wait_loop(sp, res, &run);
  drain_stdout(&run);
  if (run.pfd >= 0) close(run.pfd);
  reap_child(sp, res, &run);
  hs_progress_clear();
  collect_result(sp, res, &run);
  return 0;
}

void hs_child_result_free(hs_child_result_t *res) {
  free(res->out_stdout);
  cJSON_Delete(res->resources);
  memset(res, 0, sizeof *res);
}
