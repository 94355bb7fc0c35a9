/* resources.c: each tracked thread's CPU time, context switches and I/O counters, measured by
 * the thread itself and written into its trace as MS_MARK_RESOURCES records, and the count of
 * the tracker's own reads and writes on each thread, which the analysis subtracts.
 *
 * Records are written at a thread's attach, after a write of its full buffer when its last
 * record is 10 ms old or more (MS_RES_FLUSH_GAP_NS), at memscope_flush, at its exit and at
 * process end (docs/tracker.md, "Per-thread resources"). Never on the per-event path.
 * Everything here is allocation-free: figures from clock_gettime and getrusage, /proc files
 * read with raw syscalls (not cancellation points: this runs inside malloc) into stack
 * buffers and parsed in place. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ms_internal.h"

int ms__res_enabled = 1;
static uint64_t us_per_tick = 10000; /* /proc/.../stat's clock ticks, set from _SC_CLK_TCK */

void ms__res_init(void) {
  long hz = sysconf(_SC_CLK_TCK);
  if (hz > 0 && hz <= 1000000)
    us_per_tick = (uint64_t)(1000000 / hz);
}

/* ---- the tracker's own I/O ------------------------------------------------------------- */

/* The kernel counts a read or write call in syscr/syscw once it reached the file (even when
 * the file then fails it); a bad descriptor, a bad length or buffer is refused before. */
static int reached_kernel_count(long n) {
  return n >= 0 || (errno != EBADF && errno != EINVAL && errno != EFAULT);
}

/* Publishes the thread's counters where another thread measuring it at exit reads them.
 * Relaxed stores of whole words: that reader takes them racily, as the kernel's figures. */
static void tio_publish(ms_tls_t *tl) {
  ms_thread_t *t = tl->t;
  if (!t)
    return;
  __atomic_store_n(&t->owner_tio.read_ops, tl->tio.read_ops, __ATOMIC_RELAXED);
  __atomic_store_n(&t->owner_tio.write_ops, tl->tio.write_ops, __ATOMIC_RELAXED);
  __atomic_store_n(&t->owner_tio.read_bytes, tl->tio.read_bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&t->owner_tio.write_bytes, tl->tio.write_bytes, __ATOMIC_RELAXED);
}

void ms__tio_read(long n) {
  if (!reached_kernel_count(n))
    return;
  ms_tls_t *tl = &ms__tls;
  tl->tio.read_ops++;
  if (n > 0)
    tl->tio.read_bytes += (uint64_t)n;
  tio_publish(tl);
}

void ms__tio_write(long n) {
  if (!reached_kernel_count(n))
    return;
  ms_tls_t *tl = &ms__tls;
  tl->tio.write_ops++;
  if (n > 0)
    tl->tio.write_bytes += (uint64_t)n;
  tio_publish(tl);
}

/* ---- reading /proc without allocating ---------------------------------------------------- */

/* Reads up to cap - 1 bytes of a /proc file into buf, NUL-terminated, with one read call
 * (the files read here are a few hundred bytes to 1.5 KiB, generated whole at the first read).
 * Returns the bytes read, or -1 (errno set). The read call is counted as the tracker's own
 * once it returned: a caller that records the tracker's counters takes them before (the
 * figures a read of an io file returns do not include that read). */
static long proc_read(const char *path, char *buf, size_t cap) {
  buf[0] = '\0';
  long fd = ms_prim_sys_open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1; /* no read call made */
  long n = ms_prim_sys_read((int)fd, buf, cap - 1);
  ms__tio_read(n);
  int e = errno;
  ms_prim_sys_close((int)fd);
  errno = e;
  buf[n > 0 ? n : 0] = '\0';
  return n;
}

/* "/proc/self/task/<tid>/<leaf>" into p (64 bytes). */
static void task_path(char *p, pid_t tid, const char *leaf) {
  static const char head[] = "/proc/self/task/";
  memcpy(p, head, sizeof head - 1);
  size_t o = (size_t)(ms__put_dec(p + sizeof head - 1, (uint32_t)tid) - p);
  p[o++] = '/';
  size_t ll = strlen(leaf);
  memcpy(p + o, leaf, ll + 1);
}

static uint64_t parse_u64_at(const char *s, const char **end) {
  uint64_t v = 0;
  while (*s == ' ' || *s == '\t')
    s++;
  while (*s >= '0' && *s <= '9')
    v = v * 10 + (uint64_t)(*s++ - '0');
  if (end)
    *end = s;
  return v;
}

/* The value of "key: N" in a /proc key-value file; 0 with *found unchanged when absent. */
static uint64_t kv_get(const char *buf, const char *key, int *found) {
  size_t kl = strlen(key);
  for (const char *line = buf; *line;) {
    if (!strncmp(line, key, kl) && line[kl] == ':') {
      (*found)++;
      return parse_u64_at(line + kl + 1, NULL);
    }
    const char *nl = strchr(line, '\n');
    if (!nl)
      break;
    line = nl + 1;
  }
  return 0;
}

/* Parses an io file (rchar, wchar, syscr, syscw) into f. Returns 1 when all four were there. */
static int parse_io(const char *buf, uint64_t *f) {
  int found = 0;
  f[MS_RES_RCHAR] = kv_get(buf, "rchar", &found);
  f[MS_RES_WCHAR] = kv_get(buf, "wchar", &found);
  f[MS_RES_SYSCR] = kv_get(buf, "syscr", &found);
  f[MS_RES_SYSCW] = kv_get(buf, "syscw", &found);
  return found == 4;
}

/* ---- measuring -------------------------------------------------------------------------- */

/* The calling thread's own figures. */
static void measure_self(uint64_t *f) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0) {
    f[MS_RES_CPU_NS] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    f[MS_RES_HAVE] |= MS_RES_HAVE_CPU;
  }
  struct rusage ru;
  if (getrusage(RUSAGE_THREAD, &ru) == 0) {
    f[MS_RES_UTIME_US] = (uint64_t)ru.ru_utime.tv_sec * 1000000u + (uint64_t)ru.ru_utime.tv_usec;
    f[MS_RES_STIME_US] = (uint64_t)ru.ru_stime.tv_sec * 1000000u + (uint64_t)ru.ru_stime.tv_usec;
    f[MS_RES_NVCSW] = (uint64_t)ru.ru_nvcsw;
    f[MS_RES_NIVCSW] = (uint64_t)ru.ru_nivcsw;
    f[MS_RES_HAVE] |= MS_RES_HAVE_UTIME | MS_RES_HAVE_CTXT;
  }
  /* The tracker's counters as they are before this read: the figures it returns do not
   * include it (the kernel counts a read when it returns). */
  ms_tls_t *tl = &ms__tls;
  f[MS_RES_OWN_READ_OPS] = tl->tio.read_ops;
  f[MS_RES_OWN_WRITE_OPS] = tl->tio.write_ops;
  f[MS_RES_OWN_READ_BYTES] = tl->tio.read_bytes;
  f[MS_RES_OWN_WRITE_BYTES] = tl->tio.write_bytes;
  char buf[512];
  long n = proc_read("/proc/thread-self/io", buf, sizeof buf);
  if (n < 0 && errno == ENOENT) { /* before Linux 3.17 */
    char path[64];
    task_path(path, ms_prim_tid(), "io");
    n = proc_read(path, buf, sizeof buf);
  }
  if (n > 0 && parse_io(buf, f))
    f[MS_RES_HAVE] |= MS_RES_HAVE_IO;
}

/* Another live thread's figures, from outside: its CPU clock (Linux's per-thread CPU clock
 * id, what pthread_getcpuclockid returns, made from the tid: the pthread_t is not known here),
 * user and system time from /proc/self/task/<tid>/stat (clock ticks), context switches from
 * its status and I/O from its io file. Every read is the caller's own I/O. The tracker's
 * counters are the ones the owner last published in its buffer. */
static void measure_other(const ms_thread_t *o, uint64_t *f) {
  pid_t tid = o->tid;
  struct timespec ts;
  clockid_t cid = (clockid_t)((~(unsigned)tid << 3) | 6u); /* CPUCLOCK_PERTHREAD | SCHED */
  if (clock_gettime(cid, &ts) == 0) {
    f[MS_RES_CPU_NS] = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    f[MS_RES_HAVE] |= MS_RES_HAVE_CPU;
  }
  char path[64], buf[2048];
  task_path(path, tid, "stat");
  long n = proc_read(path, buf, sizeof buf);
  const char *p = n > 0 ? strrchr(buf, ')') : NULL;
  if (p) {
    /* After "pid (comm)": field 3 (state) first; utime and stime are fields 14 and 15. */
    p++;
    for (int field = 3; field < 14 && *p; field++) {
      while (*p == ' ')
        p++;
      while (*p && *p != ' ')
        p++;
    }
    const char *q;
    uint64_t ut = parse_u64_at(p, &q);
    uint64_t st = parse_u64_at(q, &q);
    if (q != p) {
      f[MS_RES_UTIME_US] = ut * us_per_tick;
      f[MS_RES_STIME_US] = st * us_per_tick;
      f[MS_RES_HAVE] |= MS_RES_HAVE_UTIME;
    }
  }
  task_path(path, tid, "status");
  n = proc_read(path, buf, sizeof buf);
  if (n > 0) {
    int found = 0;
    f[MS_RES_NVCSW] = kv_get(buf, "voluntary_ctxt_switches", &found);
    f[MS_RES_NIVCSW] = kv_get(buf, "nonvoluntary_ctxt_switches", &found);
    if (found == 2)
      f[MS_RES_HAVE] |= MS_RES_HAVE_CTXT;
  }
  task_path(path, tid, "io");
  n = proc_read(path, buf, sizeof buf);
  if (n > 0 && parse_io(buf, f))
    f[MS_RES_HAVE] |= MS_RES_HAVE_IO;
  f[MS_RES_OWN_READ_OPS] = __atomic_load_n(&o->owner_tio.read_ops, __ATOMIC_RELAXED);
  f[MS_RES_OWN_WRITE_OPS] = __atomic_load_n(&o->owner_tio.write_ops, __ATOMIC_RELAXED);
  f[MS_RES_OWN_READ_BYTES] = __atomic_load_n(&o->owner_tio.read_bytes, __ATOMIC_RELAXED);
  f[MS_RES_OWN_WRITE_BYTES] = __atomic_load_n(&o->owner_tio.write_bytes, __ATOMIC_RELAXED);
}

/* ---- writing ---------------------------------------------------------------------------- */

/* Appends the record to t (owner only). The commit does not clear ring.pending, unlike
 * ms__commit: this may run between an allocation's return and its record's commit (a full
 * buffer's flush), and that event is still pending. */
static void put_record(ms_thread_t *t, const uint64_t *f, uint64_t ts) {
  uint8_t payload[MS_RES_MAX_PAYLOAD];
  size_t len = ms_res_encode(payload, f);
  uint32_t slots = 1 + (uint32_t)((len + 31) / 32);
  ms_rec_t *r = ms__reserve(t, slots); /* after a flush there is room: no recursion */
  r->kind = MS_REC_MARK;
  r->aux = MS_MARK_RESOURCES;
  r->weight = 0;
  r->stack = 0;
  r->ts = ts;
  r->addr = 0;
  r->size = len;
  memcpy(&r[1], payload, len);
  uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
  __atomic_store_n(&t->ring.pos, pos + slots, __ATOMIC_RELEASE);
}

static int recording(void) {
  return ms__res_enabled && atomic_load_explicit(&ms__g.recording, memory_order_relaxed);
}

void ms__res_record(ms_thread_t *t, int reason) { ms__res_record_at(t, reason, ms__now()); }

void ms__res_record_at(ms_thread_t *t, int reason, uint64_t ts) {
  if (!t || !recording() || ms__buffer_abandoned(t))
    return;
  int saved_errno = errno; /* this runs inside the program's malloc and free */
  uint64_t f[MS_RES_NFIELDS] = {0};
  f[MS_RES_REASON] = (uint64_t)reason;
  f[MS_RES_TID] = (uint64_t)(uint32_t)t->tid;
  f[MS_RES_SEQ] = t->seq;
  measure_self(f);
  put_record(t, f, ts);
  t->res_last_ns = ms__mono_ns();
  errno = saved_errno;
}

void ms__res_record_others(ms_thread_t *t) {
  if (!t || !recording() || ms__buffer_abandoned(t))
    return;
  int saved_errno = errno;
  for (ms_thread_t *o = atomic_load(&ms__g.threads_list); o; o = o->next) {
    /* Buffers of ended threads are not owned; a buffer from before a fork has no ring of
     * this run until a thread of the child takes it. */
    if (o == t || !atomic_load(&o->owned) || o->ring_run != ms__g.run_id || o->tid <= 0)
      continue;
    uint64_t f[MS_RES_NFIELDS] = {0};
    f[MS_RES_REASON] = MS_RES_AT_END_OTHER;
    f[MS_RES_TID] = (uint64_t)(uint32_t)o->tid;
    f[MS_RES_SEQ] = o->seq;
    measure_other(o, f);
    if (f[MS_RES_HAVE]) /* nothing at all: the thread ended meanwhile */
      put_record(t, f, ms__now());
  }
  errno = saved_errno;
}
