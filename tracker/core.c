/* core.c: the run directory and its meta.txt, the per-thread buffers (their rings and
 * owners), and the process events (thread exit, fork, exec, exit) that decide when buffers
 * are written. The files themselves are files.c's; encoding, staging and writing a buffer
 * is flush.c's.
 *
 * Nothing here runs on the per-event fast path (ms__flush_full, once per MS_REC_CAP records,
 * is flush.c's). Code here runs with the calling thread BUSY, so allocations made by libc on
 * its behalf (snprintf, fnmatch) pass through untracked instead of recursing. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "ms_encode.h"
#include "ms_internal.h"

#define MS_TRACKER_VERSION "0.1.0"

ms_global_t ms__g = {.dir = {.fd = -1}, .maps = {.fd = -1}, .meta = {.fd = -1},
                     .rings = {.fd = -1}};

static pthread_key_t thread_key;

/* ---- messages -------------------------------------------------------------------------- */

/* One line to stderr, "memscope: " first. Formats into a stack buffer; one write(2). */
void ms__msg(const char *fmt, ...) {
  char line[512];
  int n = snprintf(line, sizeof line, "memscope: ");
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (m < 0)
    m = 0;
  n += m;
  if (n > (int)sizeof line - 2)
    n = (int)sizeof line - 2;
  line[n++] = '\n';
  ms_work_t work = ms__work_enter(); /* may come from inside a hook: MS_WORK_STATE */
  /* stderr may be a pipe whose reader is gone (a daemon's, a closed log pipe): the write
   * must not raise SIGPIPE, which would end a program that never writes to stderr itself.
   * Blocked around the write; a SIGPIPE the write raised is taken back, one that was
   * already pending is left. */
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  int was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  int blocked = pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask) == 0;
  ssize_t w = write(STDERR_FILENO, line, (size_t)n);
  if (w < 0 && errno == EPIPE && blocked && !was_pending) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
      ;
  }
  if (blocked)
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
  ms__work_leave(work);
  ms__tio_write((long)w);
}

static void meta_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A runtime failure (cannot write the trace): stop recording, say so once. The program runs
 * on untouched; what was already written stays readable. */
void ms__warn_once(const char *what, int err) {
  atomic_store(&ms__g.stopped, err ? err : EIO);
  atomic_store(&ms__g.recording, 0);
  int expected = 0;
  if (atomic_compare_exchange_strong(&ms__g.warned, &expected, 1)) {
    const char *why = err == EBADF ? "the program closed or reused the trace's file descriptor"
                                   : ms__errstr(err);
    ms__msg("%s %s: %s; tracking stopped, the trace so far is kept", what, ms__g.run_dir, why);
    /* Said in meta.txt at once (its end part has reserved room), so that a process that then
     * dies without exit() still leaves a trace that says tracking had stopped. A failure here
     * calls this function again, which does nothing (warned is set). */
    meta_printf("stop_error=%s the run directory: %s\n", what, why);
  }
}

uint64_t ms__mono_ns(void) { return ms_prim_mono_ns(); }

/* ---- the run directory ----------------------------------------------------------------- */

/* mkdir -p with mode 0700 for what it creates. Returns 0 or -errno. */
static int make_dirs(const char *path) {
  static char buf[4096]; /* open_run's: one process at a time, its only thread (stack use) */
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf)
    return -ENAMETOOLONG;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0700) < 0 && errno != EEXIST)
        return -errno;
      buf[i] = c;
    }
  }
  struct stat st;
  if (stat(path, &st) < 0)
    return -errno;
  if (!S_ISDIR(st.st_mode))
    return -ENOTDIR;
  return 0;
}

/* Descriptors are moved up to here or above, out of the range programs open and close by
 * number (the identity check below is what makes it safe; this makes a clash rare). */
#define MS_FD_FLOOR 512

int ms__fd_raise(int fd) {
  int err = errno;
  int high = fcntl(fd, F_DUPFD_CLOEXEC, MS_FD_FLOOR);
  struct rlimit rl;
  /* An RLIMIT_NOFILE at or below the floor: the upper half of what is allowed instead. */
  if (high < 0 && errno == EINVAL && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
      rl.rlim_cur / 2 > (rlim_t)fd)
    high = fcntl(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur / 2));
  if (high >= 0) {
    close(fd);
    fd = high;
  }
  errno = err;
  return fd;
}

/* meta_printf's long-line buffer's owner (its &ms__tls), and the maps snapshot's flag: file
 * scope, so that a fork child, whose parent's other threads are gone, starts them at 0. */
static _Atomic uintptr_t long_owner;
static _Atomic int snapshot_busy;

static void meta_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void meta_printf(const char *fmt, ...) {
  if (ms__g.meta.fd < 0)
    return;
  /* Lines are written from any thread, inside a hook, and a thread's stack may be 16 KiB in
   * all: 1 KiB of stack, which the end part fits. A longer line (exe=, cmdline=: the run's
   * set-up) is formatted again into a static buffer, one thread at a time. Its owner is
   * known, so that a signal handler that interrupted it and writes a line (an _exit in a
   * fork child's set-up) gets the line cut to 1 KiB instead of waiting for itself. */
  static char long_line[8192];
  char line[1024];
  char *buf = line;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if (n >= (int)sizeof line) {
    uintptr_t me = (uintptr_t)&ms__tls, expected = 0;
    for (long spins = 0;
         spins < 100000 && !atomic_compare_exchange_weak(&long_owner, &expected, me); spins++) {
      if (expected == me)
        break;
      expected = 0;
      sched_yield(); /* the owner is writing one line */
    }
    if (atomic_load(&long_owner) == me && expected != me) {
      va_start(ap, fmt);
      n = vsnprintf(long_line, sizeof long_line, fmt, ap);
      va_end(ap);
      buf = long_line;
    }
    if (n >= (int)(buf == line ? sizeof line : sizeof long_line)) {
      n = (int)(buf == line ? sizeof line : sizeof long_line) - 1;
      buf[n - 1] = '\n'; /* a cut line still ends: the next key is not swallowed */
    }
  }
  ms_work_t work = ms__work_enter(); /* a thread's set-up writes here from inside a hook */
  /* meta.txt also grows by lines written through other descriptors (ms__meta_child_line):
   * the file's size, not the count of this descriptor's bytes, is what RLIMIT_FSIZE sees. */
  struct stat st;
  if (n > 0 && ms__g.meta.fd >= 0 && fstat(ms__g.meta.fd, &st) == 0 &&
      (uint64_t)st.st_size > ms__g.meta.bytes)
    ms__g.meta.bytes = (uint64_t)st.st_size;
  int rc = n > 0 ? ms__file_write(&ms__g.meta, buf, (size_t)n) : 0;
  ms__work_leave(work);
  if (buf == long_line)
    atomic_store(&long_owner, 0);
  if (rc < 0) {
    atomic_fetch_add(&ms__g.write_errors, 1);
    ms__warn_once("cannot write meta.txt in", -rc);
  }
}

/* The command line, %XX-escaped so it stays one line. */
static void meta_cmdline(void) {
  static char raw[4096], esc[8192]; /* open_run's, as make_dirs' buffer */
  int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
  if (fd >= 0) {
    ms__tio_read((long)n);
    close(fd);
  }
  size_t o = 0;
  for (ssize_t i = 0; i < n && o + 4 < sizeof esc; i++) {
    unsigned char c = (unsigned char)raw[i];
    if (c == 0) {
      if (i + 1 < n)
        esc[o++] = ' ';
    } else if (c > 0x20 && c < 0x7f && c != '%') {
      esc[o++] = (char)c;
    } else {
      o += (size_t)snprintf(esc + o, 4, "%%%02X", c);
    }
  }
  esc[o] = '\0';
  meta_printf("cmdline=%s\n", esc);
}

static uint64_t start_ticks;

/* Creates the run directory and its start files. Returns 0 or -errno (after a message). */
static int open_run(const char *origin, const char *parent_run) {
  /* An absolute path: the program may chdir, and files are reopened by path (file_reopen).
   * Resolved once, at start: a fork child takes its parent's, so that a relative
   * MEMSCOPE_OUT (docs/install.md's "out") means the directory the program started in, not
   * wherever the child's parent had gone (a daemon's chdir("/") before its second fork). */
  static char abs_out[4096];
  static int abs_ok;
  const char *out = parent_run && abs_ok ? abs_out : getenv("MEMSCOPE_OUT");
  int rc = make_dirs(out);
  if (rc < 0) {
    ms__msg("cannot create MEMSCOPE_OUT=%.200s: %s; tracking disabled", out, ms__errstr(-rc));
    return rc;
  }
  if (out != abs_out) {
    ms_prim_sig_hold(); /* realpath mallocs for a long path: a fork child's set-up runs HOOK */
    abs_ok = realpath(out, abs_out) != NULL;
    ms_prim_sig_release();
    if (abs_ok)
      out = abs_out;
  }
  ms__g.pid = getpid();
  for (int n = 0; n < 10000; n++) {
    snprintf(ms__g.run_name, sizeof ms__g.run_name, "memscope.%d.%d", (int)ms__g.pid, n);
    int len = snprintf(ms__g.run_dir, sizeof ms__g.run_dir, "%s/%s", out, ms__g.run_name);
    if (len >= (int)sizeof ms__g.run_dir) {
      ms__msg("MEMSCOPE_OUT=%.200s is too long; tracking disabled", out);
      return -ENAMETOOLONG;
    }
    if (mkdir(ms__g.run_dir, 0700) == 0)
      break;
    if (errno != EEXIST) {
      rc = -errno;
      ms__msg("cannot create a run directory in MEMSCOPE_OUT=%.200s: %s; tracking disabled",
              out, ms__errstr(errno));
      return rc;
    }
  }
  int dfd = open(ms__g.run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  ms__g.dir.name[0] = '\0';
  rc = dfd < 0 ? -errno : ms__file_adopt(&ms__g.dir, dfd);
  if (rc == 0)
    rc = ms__file_create(&ms__g.meta, "meta.txt");
  /* Appended to: a vfork child's line (ms__meta_child_line), written through a descriptor of
   * its own, then stays ahead of this process's next one instead of under it. */
  if (rc == 0 && fcntl(ms__g.meta.fd, F_SETFL, O_APPEND) != 0)
    rc = -errno;
  if (rc == 0) {
    /* Room for the end part reserved now (blocks past the end of the file, the size
     * unchanged): a disk that fills up during the run still takes the counts of what was
     * lost. Where the file system cannot reserve, the end part is written as before. */
    if (fallocate(ms__g.meta.fd, FALLOC_FL_KEEP_SIZE, 0, 64 * 1024) != 0 && ms__g.verbose > 1)
      ms__msg("meta.txt: no space reserved for its end part (%s)", ms__errstr(errno));
    /* Held while the process lives (the kernel drops it however the process ends): a salvage
     * of this run (analysis/ms_salvage.c) refuses to run while the lock is held. */
    (void)flock(ms__g.meta.fd, LOCK_EX | LOCK_NB);
    rc = ms__file_create(&ms__g.maps, "maps.txt");
  }
  /* One file for every buffer's ring (a segment each): creating a file costs about 1 ms of
   * CPU on this kind of machine's ext4, extending one by a segment ~50 us (docs/benchmarks.md).
   * Without it every ring stays private memory: tracked as before, not _exit-safe. */
  if (rc == 0 && ms__file_create_mode(&ms__g.rings, "memscope_rings.raw", 1) < 0)
    ms__g.rings.fd = -1;
  if (rc < 0) {
    ms__msg("cannot create files in %.200s: %s; tracking disabled", ms__g.run_dir,
            ms__errstr(-rc));
    return rc;
  }
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  uint64_t realtime_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
  /* An identifier, not data: it ties thread files to their meta.txt. */
  ms__g.run_id = realtime_ns ^ ((uint64_t)ms__g.pid << 40) ^ (uint64_t)getppid();
  static char exe[4096]; /* not on the stack: a fork child may be a thread's of 16 KiB */
  ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[el > 0 ? el : 0] = '\0';
  uint64_t mono = ms__mono_ns();
  start_ticks = ms__now();
  meta_printf("format=memscope-trace\nversion=%d\ntracker_version=%s\nrun_id=%llu\npid=%d\n"
              "ppid=%d\norigin=%s\n",
              ms__format_version, MS_TRACKER_VERSION, (unsigned long long)ms__g.run_id,
              (int)ms__g.pid, (int)getppid(), origin);
  if (parent_run)
    meta_printf("parent_run=%s\n", parent_run);
  meta_printf("exe=%s\n", exe);
  meta_cmdline();
  static const char *const sample_names[] = {"all", "size-classes", "bytes"};
  static const char *const thread_names[] = {"all", "none", "even", "odd", "glob:"};
  meta_printf("start_realtime_ns=%llu\nclock=%s\nstart_mono_ns=%llu\nstart_ticks=%llu\n"
              "sample=%s\nsample_bytes=%llu\nstack_depth=%d\nthreads=%s%s\nring_bytes=%zu\n",
              (unsigned long long)realtime_ns, ms__g.use_tsc ? "tsc" : "monotonic",
              (unsigned long long)mono,
              (unsigned long long)(ms__g.use_tsc ? start_ticks : mono),
              sample_names[ms__g.sample], (unsigned long long)ms__g.sample_bytes, ms__g.depth,
              thread_names[ms__g.threads], ms__g.threads == MS_THREADS_GLOB ? ms__g.glob : "",
              (size_t)MS_RING_BYTES);
  return 0;
}

/* Appends a copy of /proc/self/maps to maps.txt. */
void ms__snapshot_maps(void) {
  if (ms__g.maps.fd < 0 || !atomic_load(&ms__g.recording))
    return;
  int expected = 0; /* dlclose on two threads at once: one snapshot is enough */
  if (!atomic_compare_exchange_strong(&snapshot_busy, &expected, 1))
    return;
  static char buf[8192]; /* one snapshot at a time (busy): not on a thread's stack */
  int n = snprintf(buf, sizeof buf, "# maps %llu\n", (unsigned long long)ms__now());
  int rc = ms__file_write(&ms__g.maps, buf, (size_t)n);
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  ssize_t r;
  while (rc == 0 && fd >= 0) {
    r = read(fd, buf, sizeof buf);
    ms__tio_read((long)r);
    if (r <= 0)
      break;
    rc = ms__file_write(&ms__g.maps, buf, (size_t)r);
  }
  if (fd >= 0)
    close(fd);
  if (rc < 0) {
    atomic_fetch_add(&ms__g.write_errors, 1);
    ms__warn_once("cannot write maps.txt in", -rc);
  }
  atomic_store(&snapshot_busy, 0);
}

/* ---- threads ----------------------------------------------------------------------------- */

int ms__thread_policy_tracks(const char *name, pid_t tid) {
  switch (ms__g.threads) {
  case MS_THREADS_NONE:
    return 0;
  case MS_THREADS_EVEN:
    return (tid & 1) == 0;
  case MS_THREADS_ODD:
    return (tid & 1) == 1;
  case MS_THREADS_GLOB: {
    /* fnmatch may allocate: in a hold, where no signal handler runs, so that a call it makes
     * inside a hook is known for the tracker's (docs/tracker.md, "Calls inside a hook") */
    ms_prim_sig_hold();
    int match = fnmatch(ms__g.glob, name, 0) == 0;
    ms_prim_sig_release();
    return match;
  }
  default:
    return 1;
  }
}

/* Maps t's ring (header and records) onto a new segment of this run's memscope_rings.raw:
 * segment N at N * MS_RING_BYTES, its blocks reserved with fallocate (so that a store into
 * the mapping never needs a block the disk no longer has: that would be SIGBUS, in the
 * program), mapped MAP_SHARED elsewhere, then moved over the buffer's tail with mremap
 * (atomic: the tail is never unmapped, whatever fails). When any step fails the ring stays
 * private memory: the thread is traced as before, without the guarantee at _exit or a
 * signal, and meta.txt says so (ring_private=N). Returns 0 or -errno. */
static int ring_attach(ms_thread_t *t) {
  if (t->ring_run == ms__g.run_id)
    return 0;
  t->index = atomic_fetch_add(&ms__g.next_ring, 1);
  uint64_t off = (uint64_t)t->index * MS_RING_BYTES;
  int rc = ms__g.rings.fd < 0 ? -ENOENT : ms__file_check(&ms__g.rings);
  struct rlimit rl;
  if (rc == 0 && getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < off + MS_RING_BYTES)
    rc = -EFBIG; /* fallocate past the limit would raise SIGXFSZ */
  if (rc == 0 && fallocate(ms__g.rings.fd, 0, (off_t)off, MS_RING_BYTES) != 0)
    rc = -errno;
  void *m = MAP_FAILED;
  if (rc == 0) {
    m = mmap(NULL, MS_RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, ms__g.rings.fd, (off_t)off);
    if (m == MAP_FAILED)
      rc = -errno;
  }
  if (rc == 0 && mremap(m, MS_RING_BYTES, MS_RING_BYTES, MREMAP_MAYMOVE | MREMAP_FIXED,
                        &t->ring) == MAP_FAILED) {
    rc = -errno;
    munmap(m, MS_RING_BYTES);
  }
  /* meta.txt names every ring segment (or its absence): a salvage then knows a missing or
   * cut segment from a buffer that never existed. */
  meta_printf(rc == 0 ? "ring=%u\n" : "ring_private=%u\n", t->index);
  if (rc != 0) {
    atomic_fetch_add(&ms__g.rings_private, 1);
    if (ms__g.verbose)
      ms__msg("no ring segment for a thread buffer (%s): its records are lost if the process "
              "ends without exit()", ms__errstr(-rc));
  }
  memcpy(t->ring.magic, MS_RING_MAGIC, sizeof t->ring.magic);
  t->ring.version = MS_RING_VERSION;
  t->ring.rec_cap = MS_REC_CAP;
  t->ring.pid = (uint32_t)ms__g.pid;
  t->ring.run_id = ms__g.run_id;
  t->ring_run = ms__g.run_id;
  return rc;
}

/* Gives the thread a buffer (a released one if any, else a new mapping). NULL if mmap fails. */
static ms_thread_t *thread_buffer(ms_tls_t *tl);

ms_thread_t *ms__thread_buffer(ms_tls_t *tl) {
  if (tl->t)
    return tl->t;
  ms_work_t work = ms__work_enter(); /* ring_attach's fallocate and write: MS_WORK_STATE */
  ms_thread_t *t = thread_buffer(tl);
  ms__work_leave(work);
  return t;
}

static ms_thread_t *thread_buffer(ms_tls_t *tl) {
  ms_thread_t *t;
  for (t = atomic_load(&ms__g.threads_list); t; t = t->next) {
    int expected = 0;
    if (atomic_load_explicit(&t->owned, memory_order_relaxed) == 0 &&
        atomic_compare_exchange_strong(&t->owned, &expected, 1))
      break;
  }
  if (!t) {
    void *m = mmap(NULL, sizeof(ms_thread_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED)
      return NULL;
    t = m;
    t->owned = 1;
    t->file.fd = -1;
    ring_attach(t);
    ms_thread_t *head = atomic_load(&ms__g.threads_list);
    do
      t->next = head;
    while (!atomic_compare_exchange_weak(&ms__g.threads_list, &head, t));
  } else {
    ring_attach(t); /* a buffer from before a fork: its ring was made private */
  }
  int c = ms__lock_thread(t, 0);
  if (c < 0)
    return NULL; /* its lock abandoned (ms__lock_thread): never a new owner's buffer */
  ms__file_close(&t->file);
  /* pos first: a salvage of a ring caught half reset finds pos <= flushed, nothing to do. */
  __atomic_store_n(&t->ring.pos, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&t->ring.pending, 0, __ATOMIC_RELAXED);
  t->ring.flushed = 0;
  t->ring.last_ts = 0;
  t->ring.file_bytes = 0;
  t->ring.wr_busy = 0;
  t->ring.staged = t->ring.staged_rec = t->ring.staged_ev = 0; /* 0 already: see thread_exit */
  t->st_n = 0;
  t->ring.st_busy = 0;
  t->ring.file_name[0] = '\0';
  t->ring.n_alloc = t->ring.n_free = t->ring.n_bytes = 0;
  atomic_store(&t->loss_counted, 0);
  t->tid = ms_prim_tid();
  t->seq = atomic_fetch_add(&ms__g.next_seq, 1);
  t->ring.tid = (uint32_t)t->tid;
  t->ring.thread_seq = t->seq;
  t->owner_tio = tl->tio; /* what this thread did before it had a buffer (resources.c) */
  t->res_last_ns = 0;
  ms__unlock_thread(t, c);
  tl->t = t;
  /* The key's destructor runs at thread exit. setspecific allocates for a key past the
   * first 32 (a program that made many keys first): in a hold, known for the tracker's. */
  ms_prim_sig_hold();
  pthread_setspecific(thread_key, t);
  ms_prim_sig_release();
  return t;
}

/* First hook call on a thread: decide whether it is tracked. */
void ms__thread_setup(ms_tls_t *tl) {
  if (!atomic_load_explicit(&ms__g.init_done, memory_order_acquire))
    return; /* before the constructor: this call passes through, the next one asks again */
  /* In fuzz mode, and after an error stop, a thread that would be tracked gets no buffer but
   * is TRACKED: its calls reach ms__not_recording (the accounting, or the count). */
  int stopped = atomic_load(&ms__g.stopped) || ms__g.fuzz;
  if (!ms__g.active || (!atomic_load(&ms__g.recording) && !stopped)) {
    tl->state = MS_T_UNTRACKED;
    return;
  }
  /* HOOK, not BUSY: this runs inside the thread's first allocator call, and a signal
   * handler's call that arrives now is the program's (counted: docs/tracker.md, "Calls
   * inside a hook"). Its calls that may allocate (fnmatch here, pthread_setspecific in
   * ms__thread_buffer) run in a signal hold: no handler runs there, and an allocator call
   * that arrives is known for the tracker's own (slow_enter). */
  tl->state = MS_T_HOOK;
  ms_work_t work = ms__work_enter(); /* its writes and fallocate: MS_WORK_STATE */
  char name[16] = "";
  prctl(PR_GET_NAME, name, 0, 0, 0);
  /* Fuzz mode accounts every thread, whatever MEMSCOPE_THREADS or memscope_thread_track say:
   * a thread whose calls passed the table by would leak and grow the heap unseen. */
  int track = ms__g.fuzz           ? 1
              : tl->override ? tl->override == 1
                             : ms__thread_policy_tracks(name, ms_prim_tid());
  /* After an error stop, a thread that would be tracked gets no buffer but stays TRACKED,
   * so that its calls are counted as unrecorded (ms__not_recording). */
  if (track && !stopped && ms__thread_buffer(tl) == NULL)
    track = 0;
  tl->sample_left = -1; /* draw on first use */
  tl->state = track ? MS_T_TRACKED : MS_T_UNTRACKED;
  if (!track) /* meta.txt threads_untracked: a harness limit over none tracked fails */
    atomic_fetch_add(&ms__g.threads_untracked, 1);
  if (track && !stopped) {
    extern int memscope__mark(int, const char *);
    memscope__mark(MS_MARK_THREAD_NAME, name);
    tl->state = MS_T_HOOK;
    ms__res_record(tl->t, MS_RES_AT_ATTACH);
    tl->state = MS_T_TRACKED;
  }
  ms__work_leave(work);
}

/* pthread key destructor: write the thread's buffer. It asks to be called again (up to the
 * destructor rounds pthread allows) because other destructors may still free memory after
 * this one; after the last round the buffer is released for reuse by a new thread. */
static void thread_exit(void *arg) {
  ms_thread_t *t = arg;
  ms_tls_t *tl = &ms__tls;
  uint8_t saved = tl->state;
  tl->state = MS_T_HOOK; /* the tracker's own work: MS_WORK_STATE */
  ms_work_t work = ms__work_enter();
  /* The thread's figures at its end: in the first destructor round only (later rounds are
   * other destructors' last frees: no CPU time worth a record each). Before the flush, so
   * the record is in the file and the final write is in neither set of counters. */
  if (tl->dtor_rounds == 0 && tl->t == t && saved != MS_T_DEAD)
    ms__res_record(t, MS_RES_AT_EXIT);
  ms__flush_thread(t);
  if (++tl->dtor_rounds < 3 && saved != MS_T_DEAD) {
    ms_prim_sig_hold(); /* setspecific may allocate (a key past the first 32) */
    pthread_setspecific(thread_key, t);
    ms_prim_sig_release();
    tl->state = saved;
    ms__work_leave(work);
    return;
  }
  int c = ms__lock_thread(t, 0);
  if (c < 0) {
    /* Its lock abandoned by a longjmp out of a flush: the buffer is never given to another
     * thread (its lock would never be free); the exit flush counts what it holds as lost. */
    tl->t = NULL;
    tl->state = MS_T_DEAD;
    ms__work_leave(work);
    return;
  }
  ms__file_close(&t->file);
  /* meta's events= counts every thread that ever ran, not only the buffers' last owners. */
  atomic_fetch_add(&ms__g.released_alloc, t->ring.n_alloc);
  atomic_fetch_add(&ms__g.released_free, t->ring.n_free);
  atomic_fetch_add(&ms__g.released_bytes, t->ring.n_bytes);
  t->ring.n_alloc = t->ring.n_free = t->ring.n_bytes = 0;
  ms__stack_cache_release(t);
  ms__unlock_thread(t, c);
  tl->t = NULL;
  tl->state = MS_T_DEAD;
  atomic_store(&t->owned, 0);
  ms__work_leave(work);
}

/* One line `key=pid` into this run's meta.txt at once, from the process or from a vfork child
 * of it (tracker/preload.c, "children the tracker does not follow"). A vfork child's
 * descriptors may be closed already (Python closes them before exec), and a line kept in
 * memory for the end part would be lost with a parent killed first: so meta.txt is opened
 * again by the run's path (never through a link), written only when it is the run's own
 * (same device and inode) and appended to (the process's descriptor appends too). Open,
 * write and close only: no allocation, errno kept. */
void ms__meta_child_line(const char *key, pid_t pid) {
  char line[80];
  size_t n = strlen(key);
  if (!ms__g.active || n > 48)
    return;
  memcpy(line, key, n);
  line[n++] = '=';
  n = (size_t)(ms__put_dec(line + n, (uint32_t)pid) - line);
  line[n++] = '\n';
  int err = errno, written = 0;
  int dfd = open(ms__g.run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int fd = dfd < 0 ? -1 : openat(dfd, "meta.txt", O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  struct stat st;
  struct rlimit rl;
  /* Never past RLIMIT_FSIZE, which would raise SIGXFSZ and kill the program, and never into
   * the room the end part needs (MS_META_END_ROOM), which says what was lost. */
  if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_dev == ms__g.meta.dev &&
      (uint64_t)st.st_ino == ms__g.meta.ino && getrlimit(RLIMIT_FSIZE, &rl) == 0 &&
      (rl.rlim_cur == RLIM_INFINITY ||
       (uint64_t)st.st_size + n + MS_META_END_ROOM <= (uint64_t)rl.rlim_cur))
    written = write(fd, line, n) == (ssize_t)n;
  /* Not written (no descriptor left, a file size limit, a full disk, the directory gone): the
   * count goes into the end part (child_lines_lost; a vfork child's count is this process's,
   * the memory is shared), and an empty file says so at once, for a run whose end part is
   * never written (killed, or the limit reached anyway): the harness then takes the tree as
   * not complete. An empty file needs no room under the file size limit. */
  if (!written) {
    atomic_fetch_add(&ms__g.child_lines_lost, 1);
    if (dfd >= 0) {
      int lf = openat(dfd, MS_CHILDREN_LOST_FILE, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
                      0600);
      if (lf >= 0)
        close(lf);
    }
  }
  if (fd >= 0)
    close(fd);
  if (dfd >= 0)
    close(dfd);
  errno = err;
}

/* ---- process events ------------------------------------------------------------------------ */

static _Atomic int flush_all_busy;

/* Writes every thread's buffer and the end of meta.txt (exit, exec). Threads may still run. */
void ms__flush_all(const char *reason) {
  if (!ms__g.active)
    return;
  int expected = 0;
  if (!atomic_compare_exchange_strong(&flush_all_busy, &expected, 1))
    return;
  uint64_t events = 0, threads = 0;
  /* The calling thread's figures at the end, and those of every other thread still alive
   * (read from /proc/self/task/<tid>): in the caller's buffer, as only a buffer's owner may
   * append to it. A caller without a buffer (untracked) writes none: the other threads'
   * last records are those of their last flush (docs/tracker.md). */
  ms_tls_t *tl = &ms__tls;
  if (tl->t && atomic_load(&tl->t->owned)) {
    ms__res_record(tl->t, MS_RES_AT_END);
    ms__res_record_others(tl->t);
  }
  for (ms_thread_t *t = atomic_load(&ms__g.threads_list); t; t = t->next) {
    ms__flush_thread(t);
    threads++;
  }
  events = atomic_load(&ms__g.released_alloc) + atomic_load(&ms__g.released_free);
  for (ms_thread_t *t = atomic_load(&ms__g.threads_list); t; t = t->next)
    if (atomic_load_explicit(&t->owned, memory_order_relaxed))
      events += __atomic_load_n(&t->ring.n_alloc, __ATOMIC_RELAXED) +
                __atomic_load_n(&t->ring.n_free, __ATOMIC_RELAXED);
  ms__snapshot_maps();
  uint64_t mono = ms__mono_ns();
  /* events_lost: records whose write failed, records still in a ring when tracking had
   * stopped, and calls made after it stopped (events_unrecorded, also on its own line). */
  uint64_t unrecorded = atomic_load(&ms__g.unrecorded);
  int stopped = atomic_load(&ms__g.stopped);
  if (atomic_load(&ms__g.child_lines_lost))
    meta_printf("child_lines_lost=%u\n", atomic_load(&ms__g.child_lines_lost));
  meta_printf("threads_untracked=%u\n", atomic_load(&ms__g.threads_untracked));
  meta_printf("end_reason=%s\nend_mono_ns=%llu\nend_ticks=%llu\nthreads_registered=%u\n"
              "buffers=%llu\nrings_private=%u\nstopped=%s\nevents_unrecorded=%llu\n"
              "events=%llu\nevents_lost=%llu\nlate_events=%llu\nstacks=%llu\n"
              "stack_table_full=%llu\nsample_set_full=%llu\nwrite_errors=%llu\n"
              "events_nested=%llu\n",
              reason, (unsigned long long)mono,
              (unsigned long long)(ms__g.use_tsc ? ms__now() : mono),
              atomic_load(&ms__g.next_seq), (unsigned long long)threads,
              atomic_load(&ms__g.rings_private), stopped ? ms__errstr(stopped) : "no",
              (unsigned long long)unrecorded, (unsigned long long)events,
              (unsigned long long)(atomic_load(&ms__g.events_lost) + unrecorded),
              (unsigned long long)atomic_load(&ms__g.late_events),
              (unsigned long long)ms__stacks_count(),
              (unsigned long long)atomic_load(&ms__g.stack_table_full),
              (unsigned long long)atomic_load(&ms__g.sample_set_full),
              (unsigned long long)atomic_load(&ms__g.write_errors),
              (unsigned long long)atomic_load(&ms__g.nested));
  /* An ablated build (ms_internal.h) dropped what it did not write: never complete. */
  int inexact = atomic_load(&ms__g.loss_inexact) || MS_ABLATE != 0;
  if (inexact)
    meta_printf("events_lost_exact=0\n");
  if (MS_ABLATE != 0)
    meta_printf("ablate=%d\n", MS_ABLATE);
  char sc_line[256];
  if (ms__stack_cache_meta(sc_line, sizeof sc_line) > 0)
    meta_printf("%s", sc_line);
  /* With the end part written, the rings file holds nothing a reader needs. While it could
   * not be written (tracking stopped on an error) or a buffer could not be (its lock timed
   * out: inexact), it stays for a salvage or a look. */
  if (!atomic_load(&ms__g.stopped) && !inexact && ms__g.rings.fd >= 0 &&
      ms__file_check(&ms__g.dir) == 0 && ms__file_check(&ms__g.rings) == 0)
    unlinkat(ms__g.dir.fd, ms__g.rings.name, 0); /* the mappings stay valid */
  atomic_store(&flush_all_busy, 0);
}

/* An exec returned (failed) after ms__flush_all("exec") wrote the end part: the process goes
 * on, so that end part must not count. "exec_failed=ERRNO" after it says so: a reader takes
 * the run for unfinished until a later end part (exit, _exit) comes (docs/trace-format.md,
 * "meta.txt"). The rings file was removed with that end part, so a death from here on leaves
 * a run that cannot be salvaged, and never a complete one: its calls since are not known. */
void ms__exec_failed(int err) {
  meta_printf("exec_failed=%d\n", err);
}

/* A call not recorded: in fuzz mode, the per-input accounting; after tracking stopped on an
 * error, counted, so the trace says how many events it lacks. Calls after the final flush at
 * exit are not counted here. */
void ms__not_recording(ms_tls_t *tl, int kind, void *p, size_t n, void *old) {
  if (ms__g.fuzz) {
    ms__fuzz_event(kind, p, n, old);
    return;
  }
  if (!atomic_load_explicit(&ms__g.stopped, memory_order_relaxed))
    return;
  atomic_fetch_add_explicit(&ms__g.unrecorded, 1, memory_order_relaxed);
  if (tl->t)
    tl->t->ring.unrecorded++;
}

/* A call that reached a hook while the thread was inside a hook's body (MS_T_HOOK): a signal
 * handler's, or any call after a handler left a hook by longjmp. Not recorded (the hook it
 * interrupted may be halfway through its record), so counted as unrecorded: meta.txt's
 * events_lost includes it and the run is not complete. In the ring too, for a salvage (a
 * plain increment: only this thread writes it, and a handler interrupting the owner's own
 * increment of it is not worth an atomic on every count). */
void ms__nested_call(ms_tls_t *tl) {
  atomic_fetch_add_explicit(&ms__g.nested, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&ms__g.unrecorded, 1, memory_order_relaxed);
  if (tl->t)
    tl->t->ring.unrecorded++;
}

/* Child side of fork: only the forking thread exists. Parent's unwritten records belong to
 * the parent (it writes them); the child starts a run directory of its own. */
static void child_setup(void);

static void after_fork_child(void) {
  if (!ms__g.active)
    return;
  /* From the first close(): a cancellation point, where a thread that forked with a
   * cancellation pending was ended inside fork (MS_WORK_STATE). */
  ms_work_t work = ms__work_enter();
  if (ms__g.fuzz) /* no files: the accounting goes on in the child (AFL's forkserver) */
    ms__fuzz_after_fork();
  else
    child_setup();
  ms__work_leave(work);
}

static void child_setup(void) {
  ms_tls_t *tl = &ms__tls;
  char parent_run[64];
  memcpy(parent_run, ms__g.run_name, sizeof parent_run);
  for (ms_thread_t *t = atomic_load(&ms__g.threads_list); t; t = t->next) {
    ms__file_close(&t->file);
    atomic_store(&t->lock, 0);
    /* The ring is still the parent's file mapping: a store from here would write into the
     * parent's trace. Private memory in its place (MAP_FIXED replaces it in one step; only
     * this thread exists in the child); the buffer gets a ring segment of the child's run
     * when a thread takes it. */
    if (t->ring_run) {
      void *m = mmap(&t->ring, MS_RING_BYTES, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
      if (m == MAP_FAILED) /* cannot happen short of ENOMEM: never write the parent's ring */
        _exit(127);
      t->ring_run = 0;
    }
    t->ring.pos = 0;
    t->ring.flushed = 0;
    /* A private ring's stage holds the parent's chunks (the parent writes them). */
    t->ring.staged = t->ring.staged_rec = t->ring.staged_ev = 0;
    t->ring.wr_busy = t->ring.st_busy = 0;
    t->st_n = 0;
    atomic_store(&t->owned, 0);
  }
  ms__file_close(&ms__g.dir);
  ms__file_close(&ms__g.meta);
  ms__file_close(&ms__g.maps);
  ms__file_close(&ms__g.rings);
  atomic_store(&ms__g.next_seq, 0);
  atomic_store(&ms__g.threads_untracked, 0); /* the parent's, not this process's */
  atomic_store(&ms__g.child_lines_lost, 0);
  atomic_store(&ms__g.next_ring, 0);
  atomic_store(&ms__g.released_alloc, 0);
  atomic_store(&ms__g.released_free, 0);
  atomic_store(&ms__g.released_bytes, 0);
  atomic_store(&ms__g.loss_inexact, 0);
  /* The child's meta.txt counts the child's losses: the parent's are in the parent's. */
  atomic_store(&ms__g.events_lost, 0);
  atomic_store(&ms__g.late_events, 0);
  atomic_store(&ms__g.write_errors, 0);
  atomic_store(&ms__g.unrecorded, 0);
  atomic_store(&ms__g.nested, 0);
  atomic_store(&ms__g.stack_table_full, 0);
  atomic_store(&flush_all_busy, 0);
  atomic_store(&long_owner, 0);
  atomic_store(&snapshot_busy, 0);
  ms__stacks_reset_after_fork();
  ms__sample_reset_after_fork();
  uint8_t saved = tl->state;
  tl->state = MS_T_HOOK; /* the tracker's own work: MS_WORK_STATE */
  tl->t = NULL;
  /* The child is a new kernel task: its I/O counters start at zero, and so do ours. */
  memset(&tl->tio, 0, sizeof tl->tio);
  if (open_run("fork", parent_run) < 0) {
    ms__g.active = 0;
    atomic_store(&ms__g.recording, 0);
    tl->state = MS_T_UNTRACKED;
    return;
  }
  ms__snapshot_maps();
  if (saved == MS_T_TRACKED && ms__thread_buffer(tl) == NULL)
    saved = MS_T_UNTRACKED;
  ms__res_record(tl->t, MS_RES_AT_ATTACH); /* nothing when the child's thread has no buffer */
  tl->state = saved == MS_T_BUSY || saved == MS_T_HOOK ? MS_T_TRACKED : saved;
}

static void at_exit(void) {
  ms_tls_t *tl = &ms__tls;
  uint8_t saved = tl->state;
  if (!ms__g.active)
    return;
  /* libstdc++ keeps its exception emergency pool (72 KiB) to the end and frees it only when
   * asked: __gnu_cxx::__freeres, which Valgrind (--run-cxx-freeres=yes) and heaptrack call at
   * exit too. Calling it, with this thread still tracked, keeps the pool out of the leaks, as
   * in those tools. Looked up now because libstdc++ may have come with a later dlopen. */
  tl->state = MS_T_HOOK; /* dlsym may allocate: in a hold, known for the tracker's own */
  ms_prim_sig_hold();
  void *sym = dlsym(RTLD_DEFAULT, "_ZN9__gnu_cxx9__freeresEv");
  ms_prim_sig_release();
  tl->state = saved;
  if (sym) {
    void (*cxx_freeres)(void);
    memcpy(&cxx_freeres, &sym, sizeof cxx_freeres);
    cxx_freeres();
  }
  tl->state = MS_T_HOOK; /* the tracker's own work: MS_WORK_STATE */
  ms_work_t work = ms__work_enter();
  if (!atomic_exchange(&ms__g.finished, 1)) {
    ms__flush_all("exit");
    /* Calls after this point (later destructors) cannot be written any more. */
    atomic_store(&ms__g.recording, 0);
  }
  tl->state = saved;
  ms__work_leave(work);
}

/* The fast counter (ms_prim_ticks) is used when the platform says it runs at a constant rate;
 * the reader converts ticks with the calibration pairs. Otherwise CLOCK_MONOTONIC (slower). */
static int ticks_usable(void) {
  long n;
  int ok = ms_prim_ticks_usable(&n);
  ms__tio_read(n);
  return ok;
}

/* Fuzz mode (MEMSCOPE_FUZZ=1): the hooks keep the per-input accounting of fuzz.c and write
 * nothing; MEMSCOPE_OUT is ignored. */
static void init_fuzz(void) {
  ms__stacks_init(1); /* its leak and peak reports carry stacks whatever the depth */
  if (ms__fuzz_init() < 0) {
    ms__msg("no memory for the fuzz-mode table; tracking disabled");
    return;
  }
  ms__g.fuzz = 1;
  ms__g.active = 1;
  /* Registered first: its child handler must release the fork gate before after_fork_child
   * runs, since that may walk (ms_prim.h, "Stacks"). */
  if (ms_prim_fork_gate_install() < 0)
    ms__msg("pthread_atfork failed: a fork while another thread walks may hang the child");
  pthread_atfork(NULL, NULL, after_fork_child);
  if (ms__g.threads != MS_THREADS_ALL)
    ms__msg("fuzz mode accounts every thread: MEMSCOPE_THREADS is ignored");
  if (ms__g.verbose)
    ms__msg("fuzz mode: per-input accounting, no trace");
}

void ms__init(void) {
  ms__self_name_init();
  const char *out = getenv("MEMSCOPE_OUT");
  const char *fuzz = getenv("MEMSCOPE_FUZZ");
  if (fuzz && *fuzz && strcmp(fuzz, "0") != 0) {
    if (strcmp(fuzz, "1") != 0) {
      ms__msg("MEMSCOPE_FUZZ=%s is not 0 or 1; tracking disabled", ms__shown(fuzz));
      return;
    }
    if (ms__parse_config() == 0)
      init_fuzz();
    return;
  }
  if (!out || !*out)
    return; /* not asked to track: every hook passes through */
  if (ms__parse_config() < 0)
    return;
  const char *clock_knob = getenv("MEMSCOPE_TEST_CLOCK");
  ms__g.use_tsc = ticks_usable() && !(clock_knob && strcmp(clock_knob, "monotonic") == 0);
  ms__flush_init();
  ms__res_init();
  if (pthread_key_create(&thread_key, thread_exit) != 0) {
    ms__msg("no pthread key left; tracking disabled");
    return;
  }
  if (open_run("start", NULL) < 0)
    return;
  ms__stacks_init(ms__g.depth != 0);
  ms__sample_init();
  /* Fixed from here on: the hooks choose their bodies by it (preload.c). */
  ms__g.plain = ms__g.depth == 0 && ms__g.sample == MS_SAMPLE_ALL && ms__g.use_tsc &&
                ms__g.slowdown == 0;
  ms__g.active = 1;
  atomic_store(&ms__g.recording, 1);
  ms__snapshot_maps();
  /* Registered first: its child handler must release the fork gate before after_fork_child
   * runs, since that may walk (ms_prim.h, "Stacks"). */
  if (ms_prim_fork_gate_install() < 0)
    ms__msg("pthread_atfork failed: a fork while another thread walks may hang the child");
  pthread_atfork(NULL, NULL, after_fork_child);
  if (ms__g.verbose)
    ms__msg("tracing to %s (stack depth %d)", ms__g.run_dir, ms__g.depth);
  if (MS_ABLATE != 0)
    ms__msg("built with MS_ABLATE=%d for cost attribution: this trace is not complete",
            MS_ABLATE);
}

__attribute__((constructor(101))) static void ms_ctor(void) {
  ms_tls_t *tl = &ms__tls;
  ms_work_t work = ms__work_enter(); /* errno is 0 at main, as without the tracker */
  tl->state = MS_T_BUSY;
  ms__preload_ready();
  ms__init();
  atomic_store_explicit(&ms__g.init_done, 1, memory_order_release);
  tl->state = MS_T_UNINIT;
  ms__work_leave(work);
}

__attribute__((destructor(101))) static void ms_dtor(void) { at_exit(); }
