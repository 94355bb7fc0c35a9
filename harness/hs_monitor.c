/* hs_monitor.c: the harness's resource sampler. It reads /proc/<pid> of a running child from
 * outside (SPEC §7), so the tracked program pays nothing for it, on an adaptive schedule (fast
 * at the start, then the steady rate), keeps the samples in flat arrays while the child runs
 * and turns them into resources.json (memscope.resources/1) when it has been reaped.
 *
 * Rate policy (docs/harness.md, "Resource monitor"): a first sample right after exec, then
 * HS_FAST_SAMPLES samples at HS_FAST_HZ, then each interval HS_RAMP_GROWTH times the one
 * before until it reaches 1/hz, then hz; a last sample of the zombie right before the reap.
 * So a run of 20 ms or more has at least 20 samples, and a long run is sampled at hz.
 *
 * CPU %: the kernel counts /proc/<pid>/stat's utime/stime and /proc/stat in 10 ms clock ticks,
 * so a percentage between two samples 1 ms apart would be quantization noise. Every CPU % of a
 * sample (the process's, the machine's, each core's) is taken over a window reaching back to
 * the most recent earlier reading at least HS_CPU_WINDOW_S before it (readings of every sample
 * taken, stored or not, kept in a small ring), and the window is recorded with the figure. The
 * process's CPU time itself is read in ns from its POSIX CPU clock (clock_getcpuclockid: the
 * kernel's sum_exec_runtime of all its threads, live and exited), so its % is exact over the
 * window; only when that clock cannot be read do the stat ticks stand in.
 *
 * Cost: the files of the process and of each thread are opened once and re-read with pread
 * (a /proc seq file regenerates its text at offset 0), the thread table is hashed by tid,
 * and nothing is formatted or allocated per sample except when an array doubles. A figure
 * that cannot be read is null in the output, never estimated. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"

#define HS_FAST_HZ 1000.0      /* the rate of the first samples, and the highest rate */
#define HS_FAST_SAMPLES 20     /* samples at HS_FAST_HZ after the first one */
#define HS_RAMP_GROWTH 1.1     /* then each interval is this much longer than the last */
#define HS_COST_FACTOR 4.0     /* an interval is at least this many times the last sample's
                                  wall time: the sampler stays under 1/4 of a core */
#define HS_KEEP_SAMPLES 4096   /* stored samples before the steady part is thinned ... */
#define HS_KEEP_THREAD_RECS 400000 /* ... or stored per-thread records (~100 B each) */
#define HS_MAX_CPUS 1024
#define HS_FD_RESERVE 256      /* descriptors left to the rest of the harness */
#define HS_CPU_WINDOW_S 0.050  /* a CPU % covers at least this long: 5 ticks of 10 ms, so a tick
                                  counter's change is known to +-1 tick in 5 (docs/harness.md) */
#define HS_RING 64             /* readings kept for the windows: > 1 kHz x HS_CPU_WINDOW_S + 1 */

enum { PH_FIRST, PH_RAMP, PH_STEADY, PH_LAST };
static const char *const phase_names[] = {"first", "ramp", "steady", "last"};

/* What a sample could read (bit set = read). */
enum {
  R_STAT = 1, R_MEM = 2, R_IO = 4, R_LOAD = 8, R_NET = 16, R_DISK = 32, R_SCHED = 64,
  R_ZOMBIE = 128, R_HWM = 256
};

typedef struct io_s {
  uint64_t rchar, wchar, syscr, syscw, read_bytes, write_bytes;
} io_t;

/* One thread in one sample. */
typedef struct tsamp_s {
  uint32_t thr;           /* index into the thread table */
  uint32_t flags;         /* R_STAT, R_IO, R_SCHED */
  uint64_t utime, stime;  /* clock ticks */
  uint64_t run_ns;        /* schedstat: time on a CPU, ns */
  io_t io;
  char comm[16];
} tsamp_t;

/* One sample of the process, the host and (t_off, t_n) its threads. */
typedef struct psamp_s {
  double t_s;             /* since fork, monotonic */
  uint32_t phase, flags;
  uint64_t utime, stime, minflt, majflt, nthreads, vsize;
  int64_t rss_bytes;      /* -1: unreadable */
  io_t io;
  double load[3];
  int64_t net_rx, net_tx, d_ro, d_wo, d_rs, d_ws;
  int cpu_why;            /* 0: per-core % stored; 1: no reading HS_CPU_WINDOW_S earlier;
                             2: a core had no tick */
  double host_win;        /* the machine CPU %'s window, s */
  int64_t pcpu_ns;        /* the process's CPU clock, ns; -1: unreadable */
  double pcpu_pct, pcpu_win; /* its CPU % of one core over pcpu_win s */
  int pcpu_why;           /* 0: pcpu_pct set; 1: no reading HS_CPU_WINDOW_S earlier; 2: unreadable */
  size_t t_off;
  uint32_t t_n;
} psamp_t;

/* One thread ever seen. */
typedef struct thr_s {
  int tid;
  char name[16];
  int fd_stat, fd_io, fd_sched; /* -1: not open (closed, or over the descriptor budget) */
  uint32_t nseen;
  double first_s, last_s;
  uint64_t ut0, st0, run0, ut, st, run; /* at first and at last sight */
  int have_run0, have_run, have_io;
  io_t io0, io;
  uint64_t gen;           /* the sample it was last listed in */
} thr_t;

typedef struct cpu_times_s {
  int ncpu;               /* -1: unreadable */
  unsigned long long busy[HS_MAX_CPUS + 1], total[HS_MAX_CPUS + 1]; /* [0] = all */
} cpu_times_t;

/* One reading of the CPU counters (a sample's, or the baseline before the fork), for the
 * windows of later samples. */
typedef struct reading_s {
  double t;               /* hs_now_s */
  int64_t pcpu_ns;        /* the process's CPU clock, ns; -1: unreadable */
  int64_t pticks;         /* its utime + stime, ticks; -1: unreadable */
  int host;               /* busy/total of /proc/stat are in the ring's host slot */
} reading_t;

struct hs_monitor_s {
  pid_t pid;
  double t0;              /* fork time, hs_now_s */
  double hz;              /* steady rate */
  long clk_tck, page_size;
  /* schedule */
  double next_due, iv;    /* absolute hs_now_s of the next sample; the current interval */
  int phase;              /* phase of the next sample */
  uint64_t gen;           /* samples taken */
  double ramp_end_s;      /* t_s of the first steady sample, -1 before */
  double cpu_s, wall_s;   /* the sampler's own CPU and wall time over all samples */
  double wall_max_s;      /* the longest sample */
  uint64_t nsampled;      /* samples taken (stored or not, the child gone or not) */
  uint64_t max_threads;   /* the most threads one sample read */
  uint32_t stride, stride_count; /* steady samples: store one in `stride` */
  /* stored samples */
  psamp_t *s;
  size_t ns, caps;
  tsamp_t *ts;
  size_t nts, capts;
  float *cpu_pct;         /* per stored sample: cpu_stride values (total, core 0, ...), NAN = 0/0 */
  size_t cpu_stride, capcpu; /* capcpu counts samples */
  /* threads */
  thr_t *thr;
  size_t nthr, capthr;
  int32_t *hash;          /* open addressing, tid -> index, -1 empty */
  size_t hcap;
  int fd_budget;          /* per-thread descriptors that may still be opened */
  /* files kept open */
  int fd_stat, fd_status, fd_io, fd_task, fd_cpu, fd_load, fd_net, fd_disk;
  DIR *task_dir;
  /* host baselines and last values */
  cpu_times_t *cur_cpu;    /* scratch for this sample's /proc/stat */
  reading_t ring[HS_RING]; /* the latest readings, oldest overwritten */
  unsigned long long *ring_host; /* per ring slot: busy[cpu_stride], total[cpu_stride] */
  size_t ring_n, ring_head; /* readings held; the slot the next one goes to */
  clockid_t pclock;       /* the child's process CPU clock */
  int have_pclock;
  long long peak_rss_kb;
  int64_t net0[2], disk0[4], net[2], disk[4];
  char disk_names[64][32];
  signed char disk_whole[64]; /* per cached name: 1 whole disk, 0 not */
  size_t ndisk_names;
  char *big;              /* scratch for /proc/stat and /proc/diskstats */
  size_t big_len;
};

/* ---- reading ---- */

/* Re-reads an open /proc file from offset 0. Bytes read (NUL-terminated), or -1. */
static ssize_t pread_all(int fd, char *buf, size_t len) {
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < len) {
    ssize_t n = pread(fd, buf + got, len - 1 - got, (off_t)got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  buf[got] = 0;
  return (ssize_t)got;
}

static int open_ro(int dirfd, const char *path) {
  return openat(dirfd, path, O_RDONLY | O_CLOEXEC);
}

static void close_fd(int *fd) {
  if (*fd >= 0) close(*fd);
  *fd = -1;
}

typedef struct stat_fields_s {
  char comm[16];
  char state;
  uint64_t minflt, majflt, utime, stime, num_threads, vsize, rss_pages;
} stat_fields_t;

/* Parses /proc/.../stat: the comm is between the first '(' and the last ')' (it may hold
 * blanks and parentheses); fields from 3 (state) on follow the last ')'. */
static int parse_stat(char *buf, stat_fields_t *f) {
  char *l = strchr(buf, '('), *r = strrchr(buf, ')');
  if (!l || !r || r < l) return -1;
  size_t n = (size_t)(r - l - 1);
  if (n >= sizeof f->comm) n = sizeof f->comm - 1;
  memcpy(f->comm, l + 1, n);
  f->comm[n] = 0;
  char *p = r + 1;
  uint64_t v[26] = {0};
  int idx = 3;
  while (*p && idx < 26) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (idx == 3) f->state = *p;
    else v[idx] = strtoull(p, NULL, 10);
    while (*p && *p != ' ') p++;
    idx++;
  }
  if (idx < 25) return -1;
  f->minflt = v[10];
  f->majflt = v[12];
  f->utime = v[14];
  f->stime = v[15];
  f->num_threads = v[20];
  f->vsize = v[23];
  f->rss_pages = v[24];
  return 0;
}

/* Parses the text of /proc/.../io. 0, or -1 when fewer than 4 of its keys are there. */
static int parse_io(const char *buf, io_t *io) {
  memset(io, 0, sizeof *io);
  int seen = 0;
  for (const char *line = buf; line && *line;) {
    const char *colon = strchr(line, ':');
    const char *nl = strchr(line, '\n');
    if (colon && (!nl || colon < nl)) {
      uint64_t val = strtoull(colon + 1, NULL, 10);
      size_t k = (size_t)(colon - line);
#define IO_KEY(name) (k == sizeof #name - 1 && !memcmp(line, #name, k)) { io->name = val; seen++; }
      if IO_KEY(rchar) else if IO_KEY(wchar) else if IO_KEY(syscr) else if IO_KEY(syscw)
      else if IO_KEY(read_bytes) else if IO_KEY(write_bytes)
#undef IO_KEY
    }
    line = nl ? nl + 1 : NULL;
  }
  return seen >= 4 ? 0 : -1;
}

static int read_io(int fd, io_t *io) {
  char buf[512];
  if (pread_all(fd, buf, sizeof buf) <= 0) return -1;
  return parse_io(buf, io);
}

static void read_cpu_times(hs_monitor_t *m, cpu_times_t *c) {
  c->ncpu = -1;
  if (pread_all(m->fd_cpu, m->big, m->big_len) <= 0) return;
  int n = 0;
  for (char *line = m->big; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    if (strncmp(line, "cpu", 3) != 0) break;
    unsigned long long f[10] = {0};
    char name[16];
    int k = sscanf(line, "%15s %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", name, &f[0],
                   &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9]);
    if (k >= 5) {
      int slot = strcmp(name, "cpu") == 0 ? 0 : atoi(name + 3) + 1;
      if (slot <= HS_MAX_CPUS) {
        unsigned long long idle = f[3] + f[4]; /* idle + iowait */
        unsigned long long total = 0;
        for (int i = 0; i < 8; i++) total += f[i]; /* guest time is inside user already */
        c->busy[slot] = total - idle;
        c->total[slot] = total;
        if (slot > n) n = slot;
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  c->ncpu = n;
}

/* Sums of the host's network interfaces (except lo). -1 when unreadable. */
static void read_net(hs_monitor_t *m, int64_t out[2]) {
  char buf[16384];
  out[0] = out[1] = -1;
  if (pread_all(m->fd_net, buf, sizeof buf) <= 0) return;
  int64_t r = 0, t = 0;
  char *line = strchr(buf, '\n');
  if (line) line = strchr(line + 1, '\n'); /* two header lines */
  while (line && *++line) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    char ifname[64];
    unsigned long long v[16];
    char *colon = strchr(line, ':');
    if (colon) {
      *colon = ' ';
      if (sscanf(line, "%63s %llu %llu %llu %llu %llu %llu %llu %llu %llu", ifname, &v[0], &v[1],
                 &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 10 &&
          strcmp(ifname, "lo") != 0) {
        r += (int64_t)v[0];
        t += (int64_t)v[8];
      }
    }
    line = nl;
  }
  out[0] = r;
  out[1] = t;
}

/* Whole disks only (a partition's counts are inside its disk's): /sys/block/<dev> exists.
 * The answer per device name is kept, so a sample makes no access() call. */
static int disk_is_whole(hs_monitor_t *m, const char *dev) {
  for (size_t i = 0; i < m->ndisk_names; i++)
    if (!strcmp(m->disk_names[i], dev)) return m->disk_whole[i];
  char sys[128];
  int whole = hs_fmt(sys, sizeof sys, "/sys/block/%s", dev) == 0 && access(sys, F_OK) == 0 &&
              strncmp(dev, "loop", 4) != 0 && strncmp(dev, "ram", 3) != 0;
  if (m->ndisk_names < sizeof m->disk_names / sizeof *m->disk_names &&
      strlen(dev) < sizeof m->disk_names[0]) {
    strcpy(m->disk_names[m->ndisk_names], dev);
    m->disk_whole[m->ndisk_names++] = (signed char)whole;
  }
  return whole;
}

/* Read ops, write ops, read sectors, write sectors of the whole disks; -1 when unreadable. */
static void read_disk(hs_monitor_t *m, int64_t out[4]) {
  out[0] = out[1] = out[2] = out[3] = -1;
  if (pread_all(m->fd_disk, m->big, m->big_len) <= 0) return;
  int64_t a = 0, b = 0, c = 0, d = 0;
  for (char *line = m->big; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    unsigned maj, min;
    char dev[64];
    unsigned long long f[8];
    if (sscanf(line, " %u %u %63s %llu %llu %llu %llu %llu %llu %llu", &maj, &min, dev, &f[0],
               &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]) == 10 &&
        disk_is_whole(m, dev)) {
      a += (int64_t)f[0];
      c += (int64_t)f[2];
      b += (int64_t)f[4];
      d += (int64_t)f[6];
    }
    line = nl ? nl + 1 : NULL;
  }
  out[0] = a;
  out[1] = b;
  out[2] = c;
  out[3] = d;
}

/* ---- the thread table ---- */

static size_t tid_slot(size_t hcap, int tid) {
  return ((uint32_t)tid * 2654435761u) & (hcap - 1);
}

static int rehash(hs_monitor_t *m, size_t hcap) {
  int32_t *h = malloc(hcap * sizeof *h);
  if (!h) return -1;
  memset(h, 0xff, hcap * sizeof *h);
  for (size_t i = 0; i < m->nthr; i++) {
    size_t k = tid_slot(hcap, m->thr[i].tid);
    while (h[k] >= 0) k = (k + 1) & (hcap - 1);
    h[k] = (int32_t)i;
  }
  free(m->hash);
  m->hash = h;
  m->hcap = hcap;
  return 0;
}

/* The thread's entry, created (with its files opened if the budget allows) when new. */
static thr_t *thr_get(hs_monitor_t *m, int tid) {
  size_t k = tid_slot(m->hcap, tid);
  for (; m->hash[k] >= 0; k = (k + 1) & (m->hcap - 1))
    if (m->thr[m->hash[k]].tid == tid) return &m->thr[m->hash[k]];
  if (m->nthr == m->capthr) {
    size_t cap = m->capthr * 2;
    thr_t *n = realloc(m->thr, cap * sizeof *n);
    if (!n) return NULL;
    m->thr = n;
    m->capthr = cap;
  }
  if ((m->nthr + 1) * 2 > m->hcap) {
    if (rehash(m, m->hcap * 2)) return NULL;
    k = tid_slot(m->hcap, tid);
    while (m->hash[k] >= 0) k = (k + 1) & (m->hcap - 1);
  }
  thr_t *t = &m->thr[m->nthr];
  memset(t, 0, sizeof *t);
  t->tid = tid;
  t->fd_stat = t->fd_io = t->fd_sched = -1;
  m->hash[k] = (int32_t)m->nthr++;
  return t;
}

/* Opens (or re-reads) one per-thread file: kept open while the budget lasts, else opened
 * and closed for this read. Bytes read or -1. */
static ssize_t thr_read(hs_monitor_t *m, int *fd, int tid, const char *leaf, char *buf,
                        size_t len) {
  if (*fd < 0) {
    char rel[48];
    hs_fmt(rel, sizeof rel, "%d/%s", tid, leaf);
    int f = open_ro(m->fd_task, rel);
    if (f < 0) return -1;
    if (m->fd_budget > 0) {
      m->fd_budget--;
      *fd = f;
    } else {
      ssize_t n = pread_all(f, buf, len);
      close(f);
      return n;
    }
  }
  return pread_all(*fd, buf, len);
}

static void thr_close(hs_monitor_t *m, thr_t *t) {
  int *fds[] = {&t->fd_stat, &t->fd_io, &t->fd_sched};
  for (size_t i = 0; i < 3; i++)
    if (*fds[i] >= 0) {
      close_fd(fds[i]);
      m->fd_budget++;
    }
}

/* ---- storage ---- */

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t c = *cap ? *cap : 64;
  while (c < need) c *= 2;
  void *n = realloc(*p, c * elem);
  if (!n) return -1;
  *p = n;
  *cap = c;
  return 0;
}

/* Over HS_KEEP_SAMPLES stored samples (or HS_KEEP_THREAD_RECS thread records): drops every
 * other steady sample (first, ramp and last ones stay) and stores one steady sample in twice
 * as many from now on, so a long run's timeline stays bounded and evenly spaced. The
 * per-thread figures use every sample taken, stored or not. */
static void thin_steady(hs_monitor_t *m) {
  size_t w = 0, wt = 0, keep_odd = 0;
  for (size_t r = 0; r < m->ns; r++) {
    psamp_t *s = &m->s[r];
    int drop = 0;
    if (s->phase == PH_STEADY) drop = (keep_odd++ % 2) == 1;
    if (drop) continue;
    if (s->t_n) memmove(&m->ts[wt], &m->ts[s->t_off], s->t_n * sizeof *m->ts);
    if (m->cpu_stride)
      memmove(&m->cpu_pct[w * m->cpu_stride], &m->cpu_pct[r * m->cpu_stride],
              m->cpu_stride * sizeof *m->cpu_pct);
    m->s[w] = *s;
    m->s[w].t_off = wt;
    wt += s->t_n;
    w++;
  }
  m->ns = w;
  m->nts = wt;
  m->stride *= 2;
}

/* ---- the CPU windows ---- */

/* The most recent reading at least HS_CPU_WINDOW_S before t that has the figure `want`
 * (0: the process's CPU time, 1: /proc/stat), or NULL. */
static const reading_t *window_start(const hs_monitor_t *m, double t, int want, size_t *slot) {
  for (size_t k = 0; k < m->ring_n; k++) {
    size_t i = (m->ring_head + HS_RING - 1 - k) % HS_RING;
    const reading_t *r = &m->ring[i];
    if (t - r->t < HS_CPU_WINDOW_S) continue;
    if (want ? !r->host : (r->pcpu_ns < 0 && r->pticks < 0)) continue;
    *slot = i;
    return r;
  }
  return NULL;
}

/* Adds this sample's reading to the ring (the baseline's too: host only). */
static void ring_push(hs_monitor_t *m, const reading_t *r, const cpu_times_t *c) {
  size_t i = m->ring_head;
  m->ring[i] = *r;
  if (r->host) {
    unsigned long long *h = &m->ring_host[i * 2 * m->cpu_stride];
    memcpy(h, c->busy, m->cpu_stride * sizeof *h);
    memcpy(h + m->cpu_stride, c->total, m->cpu_stride * sizeof *h);
  }
  m->ring_head = (i + 1) % HS_RING;
  if (m->ring_n < HS_RING) m->ring_n++;
}

/* ---- the schedule ---- */

/* After a sample that started at `started` and ended at `now` (hs_now_s) and took cost_s:
 * the next deadline and phase (rate policy, file header). */
static void schedule_next(hs_monitor_t *m, double started, double now, double cost_s) {
  double steady = 1.0 / m->hz;
  if (m->phase != PH_STEADY) {
    if (m->gen <= HS_FAST_SAMPLES) m->iv = 1.0 / HS_FAST_HZ;
    else m->iv *= HS_RAMP_GROWTH;
    if (m->iv >= steady) {
      m->iv = steady;
      m->phase = PH_STEADY;
    } else {
      m->phase = PH_RAMP;
    }
  }
  double iv = m->iv;
  if (iv < HS_COST_FACTOR * cost_s) iv = HS_COST_FACTOR * cost_s;
  /* Absolute deadlines, so that the wake-up's own lateness (a fraction of a millisecond)
   * does not shift every later sample. A sample more than half an interval late (the harness
   * was not scheduled) starts the grid again from its own start, so that no two samples come
   * back to back; grid points already past when it ends are skipped. */
  if (started - m->next_due > iv / 2) m->next_due = started;
  m->next_due += iv;
  if (m->next_due < now) m->next_due += ceil((now - m->next_due) / iv) * iv;
}

/* ---- public ---- */

hs_monitor_t *hs_monitor_new(double hz) {
  hs_monitor_t *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  m->hz = hz > HS_FAST_HZ ? HS_FAST_HZ : hz;
  m->clk_tck = sysconf(_SC_CLK_TCK);
  m->page_size = sysconf(_SC_PAGESIZE);
  m->ramp_end_s = -1;
  m->stride = 1;
  m->peak_rss_kb = -1;
  m->phase = PH_FIRST;
  m->fd_stat = m->fd_status = m->fd_io = m->fd_task = -1;
  m->fd_cpu = m->fd_load = m->fd_net = m->fd_disk = -1;
  m->big_len = 1 << 16;
  m->big = malloc(m->big_len);
  m->capthr = 64;
  m->thr = malloc(m->capthr * sizeof *m->thr);
  m->fd_cpu = open_ro(AT_FDCWD, "/proc/stat");
  m->fd_load = open_ro(AT_FDCWD, "/proc/loadavg");
  m->fd_net = open_ro(AT_FDCWD, "/proc/net/dev");
  m->fd_disk = open_ro(AT_FDCWD, "/proc/diskstats");
  if (!m->big || !m->thr || rehash(m, 128)) {
    hs_monitor_free(m);
    return NULL;
  }
  struct rlimit rl;
  long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                 ? (long)rl.rlim_cur : 1024;
  m->fd_budget = lim > 2 * HS_FD_RESERVE ? (int)(lim - HS_FD_RESERVE) : 0;
  if (m->fd_budget > 3 * 1024) m->fd_budget = 3 * 1024;
  /* Host baselines before the child runs (a /proc/stat reading for the CPU windows too). */
  read_net(m, m->net0);
  read_disk(m, m->disk0);
  m->cur_cpu = malloc(sizeof *m->cur_cpu);
  if (!m->cur_cpu) {
    hs_monitor_free(m);
    return NULL;
  }
  read_cpu_times(m, m->cur_cpu);
  m->cpu_stride = m->cur_cpu->ncpu > 0 ? (size_t)m->cur_cpu->ncpu + 1 : 0;
  if (m->cpu_stride) {
    m->ring_host = malloc(HS_RING * 2 * m->cpu_stride * sizeof *m->ring_host);
    if (!m->ring_host) m->cpu_stride = 0;
  }
  if (m->cpu_stride) {
    reading_t base = {.t = hs_now_s(), .pcpu_ns = -1, .pticks = -1, .host = 1};
    ring_push(m, &base, m->cur_cpu);
  }
  memcpy(m->net, m->net0, sizeof m->net);
  memcpy(m->disk, m->disk0, sizeof m->disk);
  return m;
}

/* The child has exec'd: opens its files and takes the first sample. */
void hs_monitor_start(hs_monitor_t *m, pid_t pid, double t0) {
  char p[64];
  m->pid = pid;
  m->t0 = t0;
  hs_fmt(p, sizeof p, "/proc/%d/stat", (int)m->pid);
  m->fd_stat = open_ro(AT_FDCWD, p);
  hs_fmt(p, sizeof p, "/proc/%d/status", (int)m->pid);
  m->fd_status = open_ro(AT_FDCWD, p);
  hs_fmt(p, sizeof p, "/proc/%d/io", (int)m->pid);
  m->fd_io = open_ro(AT_FDCWD, p);
  hs_fmt(p, sizeof p, "/proc/%d/task", (int)m->pid);
  m->fd_task = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  m->have_pclock = clock_getcpuclockid(pid, &m->pclock) == 0;
  /* A second descriptor for readdir: fdopendir takes over the one it is given. */
  int dfd = m->fd_task >= 0 ? open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  m->task_dir = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!m->task_dir && dfd >= 0) close(dfd);
  m->next_due = hs_now_s();
  hs_monitor_sample(m, 0);
}

double hs_monitor_next_due(const hs_monitor_t *m) { return m->next_due; }

long long hs_monitor_peak_rss_kb(const hs_monitor_t *m) { return m->peak_rss_kb; }

/* The threads listed in task/ now: one tsamp_t each (when `store`), their table entries
 * updated. Threads that left the list have their files closed. */
static void sample_threads(hs_monitor_t *m, psamp_t *s, double t, int store) {
  if (!m->task_dir) return;
  rewinddir(m->task_dir);
  struct dirent *de;
  char buf[1024];
  uint64_t listed = 0;
  while ((de = readdir(m->task_dir))) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
    int tid = atoi(de->d_name);
    listed++;
    thr_t *th = thr_get(m, tid);
    if (!th) continue;
    stat_fields_t ts;
    if (thr_read(m, &th->fd_stat, tid, "stat", buf, sizeof buf) <= 0 || parse_stat(buf, &ts))
      continue; /* ended between the listing and the read */
    tsamp_t rec;
    memset(&rec, 0, sizeof rec);
    rec.thr = (uint32_t)(th - m->thr);
    rec.flags = R_STAT;
    rec.utime = ts.utime;
    rec.stime = ts.stime;
    memcpy(rec.comm, ts.comm, sizeof rec.comm);
    char *end;
    if (thr_read(m, &th->fd_sched, tid, "schedstat", buf, sizeof buf) > 0) {
      rec.run_ns = strtoull(buf, &end, 10);
      if (end != buf) rec.flags |= R_SCHED;
    }
    if (thr_read(m, &th->fd_io, tid, "io", buf, sizeof buf) > 0 && parse_io(buf, &rec.io) == 0)
      rec.flags |= R_IO;
    if (th->nseen == 0) {
      th->first_s = t;
      th->ut0 = rec.utime;
      th->st0 = rec.stime;
      th->run0 = rec.run_ns;
      th->have_run0 = (rec.flags & R_SCHED) != 0;
      th->io0 = rec.io;
    }
    th->nseen++;
    th->last_s = t;
    th->ut = rec.utime;
    th->st = rec.stime;
    th->run = rec.run_ns;
    th->have_run = (rec.flags & R_SCHED) != 0;
    if (rec.flags & R_IO) th->io = rec.io, th->have_io = 1;
    memcpy(th->name, ts.comm, sizeof th->name);
    th->gen = m->gen;
    if (store && !grow((void **)&m->ts, &m->capts, m->nts + 1, sizeof *m->ts)) {
      m->ts[m->nts++] = rec;
      s->t_n++;
    }
  }
  if (listed > m->max_threads) m->max_threads = listed;
  for (size_t i = 0; i < m->nthr; i++)
    if (m->thr[i].gen != m->gen) thr_close(m, &m->thr[i]);
}

/* The process's CPU % of one core and the per-core and total CPU % of the machine over the
 * window since the most recent reading at least HS_CPU_WINDOW_S earlier (of any sample, stored
 * or not): s->pcpu_*, s->host_win and row (cpu_stride floats; NAN where a core counted no
 * tick: 0/0 is unknown). now: the sample's hs_now_s; pticks: utime + stime or -1. */
static void sample_cpu(hs_monitor_t *m, psamp_t *s, float *row, double now, int64_t pticks) {
  reading_t cur = {.t = now, .pcpu_ns = s->pcpu_ns, .pticks = pticks, .host = 0};
  size_t slot;
  const reading_t *w = window_start(m, now, 0, &slot);
  s->pcpu_why = s->pcpu_ns < 0 && pticks < 0 ? 2 : 1;
  if (w && s->pcpu_ns >= 0 && w->pcpu_ns >= 0) {
    s->pcpu_win = now - w->t;
    s->pcpu_pct = 100.0 * (double)(s->pcpu_ns - w->pcpu_ns) / 1e9 / s->pcpu_win;
    s->pcpu_why = 0;
  } else if (w && pticks >= 0 && w->pticks >= 0 && s->pcpu_ns < 0) {
    s->pcpu_win = now - w->t;
    s->pcpu_pct = 100.0 * (double)(pticks - w->pticks) / (double)m->clk_tck / s->pcpu_win;
    s->pcpu_why = 0;
  }
  cpu_times_t *c = m->cur_cpu;
  read_cpu_times(m, c);
  cur.host = c->ncpu > 0 && (size_t)c->ncpu + 1 == m->cpu_stride;
  w = cur.host ? window_start(m, now, 1, &slot) : NULL;
  if (w) {
    const unsigned long long *busy0 = &m->ring_host[slot * 2 * m->cpu_stride];
    const unsigned long long *total0 = busy0 + m->cpu_stride;
    s->host_win = now - w->t;
    for (size_t i = 0; i < m->cpu_stride; i++) {
      unsigned long long dt = c->total[i] - total0[i], db = c->busy[i] - busy0[i];
      if (!dt) s->cpu_why = 2;
      if (row) row[i] = dt ? (float)(100.0 * (double)db / (double)dt) : NAN;
    }
  } else {
    s->cpu_why = 1;
  }
  ring_push(m, &cur, c);
}

/* Takes one sample now. last: the child is a zombie (exited, not yet reaped); what the
 * kernel no longer reports for it is recorded as unreadable. */
void hs_monitor_sample(hs_monitor_t *m, int last) {
  struct timespec c0, c1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
  double w0 = hs_now_s();
  double t = w0 - m->t0;
  /* The process's CPU clock right after the time stamp, so that the two go together (a
   * syscall, about a microsecond). It still reads for a zombie, until the reap. */
  struct timespec pc;
  int64_t pcpu_ns = m->have_pclock && clock_gettime(m->pclock, &pc) == 0
                        ? (int64_t)pc.tv_sec * 1000000000 + pc.tv_nsec : -1;
  char buf[4096];
  stat_fields_t st;
  memset(&st, 0, sizeof st);
  int have_stat = pread_all(m->fd_stat, buf, sizeof buf) > 0 && parse_stat(buf, &st) == 0;
  m->gen++;
  if (!have_stat && !last) goto out; /* gone: nothing of it to record */
  int phase = last ? PH_LAST : m->phase;
  int store = phase != PH_STEADY || (m->stride_count++ % m->stride) == 0;
  psamp_t tmp, *s = &tmp;
  float *row = NULL;
  if (store && !grow((void **)&m->s, &m->caps, m->ns + 1, sizeof *m->s) &&
      (!m->cpu_stride || !grow((void **)&m->cpu_pct, &m->capcpu, (m->ns + 1) * m->cpu_stride,
                               sizeof *m->cpu_pct))) {
    s = &m->s[m->ns];
    if (m->cpu_stride) row = &m->cpu_pct[m->ns * m->cpu_stride];
  } else {
    store = 0;
  }
  memset(s, 0, sizeof *s);
  s->t_s = t;
  s->phase = (uint32_t)phase;
  s->t_off = m->nts;
  s->rss_bytes = -1;
  s->pcpu_ns = pcpu_ns;
  int zombie = !have_stat || st.state == 'Z' || st.state == 'X';
  if (have_stat) {
    s->flags |= R_STAT;
    s->utime = st.utime;
    s->stime = st.stime;
    s->minflt = st.minflt;
    s->majflt = st.majflt;
    s->nthreads = st.num_threads;
    s->vsize = st.vsize;
  }
  if (zombie) {
    s->flags |= R_ZOMBIE;
  } else {
    if (pread_all(m->fd_status, buf, sizeof buf) > 0) {
      char *p;
      long long rss = -1, hwm = -1;
      if ((p = strstr(buf, "VmRSS:"))) rss = strtoll(p + 6, NULL, 10);
      if ((p = strstr(buf, "VmHWM:"))) hwm = strtoll(p + 6, NULL, 10);
      if (rss >= 0) {
        s->rss_bytes = rss * 1024;
        s->flags |= R_MEM;
        if (rss > m->peak_rss_kb) m->peak_rss_kb = rss;
      }
      if (hwm > m->peak_rss_kb) m->peak_rss_kb = hwm;
    }
    /* No VmRSS line and vsize 0: the process has dropped its address space (it is exiting,
     * not yet a zombie); stat's rss is then 0 for no memory reason, so it is unknown, not 0. */
    if (!(s->flags & R_MEM) && have_stat && st.vsize > 0) {
      s->rss_bytes = (int64_t)st.rss_pages * m->page_size;
      s->flags |= R_MEM;
    }
    if (read_io(m->fd_io, &s->io) == 0) s->flags |= R_IO;
    sample_threads(m, s, t, store);
  }
  sample_cpu(m, s, row, w0, have_stat ? (int64_t)(st.utime + st.stime) : -1);
  char la[256];
  if (pread_all(m->fd_load, la, sizeof la) > 0 &&
      sscanf(la, "%lf %lf %lf", &s->load[0], &s->load[1], &s->load[2]) == 3)
    s->flags |= R_LOAD;
  read_net(m, m->net);
  read_disk(m, m->disk);
  s->net_rx = m->net[0];
  s->net_tx = m->net[1];
  s->d_ro = m->disk[0];
  s->d_wo = m->disk[1];
  s->d_rs = m->disk[2];
  s->d_ws = m->disk[3];
  if (phase == PH_STEADY && m->ramp_end_s < 0) m->ramp_end_s = t;
  if (store) {
    m->ns++;
    if (m->ns > HS_KEEP_SAMPLES || m->nts > HS_KEEP_THREAD_RECS) thin_steady(m);
  }
out:;
  double w1 = hs_now_s();
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
  double cost = w1 - w0;
  if (cost > m->wall_max_s) m->wall_max_s = cost;
  m->nsampled++;
  m->cpu_s += (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
  m->wall_s += cost;
  if (!last) schedule_next(m, w0, w1, cost);
}

/* ---- resources.json ---- */

static void add_i64(cJSON *o, const char *k, int64_t v) {
  if (v < 0) cJSON_AddNullToObject(o, k);
  else cJSON_AddNumberToObject(o, k, (double)v);
}

static cJSON *io_json(const io_t *io) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "rchar", (double)io->rchar);
  cJSON_AddNumberToObject(o, "wchar", (double)io->wchar);
  cJSON_AddNumberToObject(o, "syscr", (double)io->syscr);
  cJSON_AddNumberToObject(o, "syscw", (double)io->syscw);
  cJSON_AddNumberToObject(o, "read_bytes", (double)io->read_bytes);
  cJSON_AddNumberToObject(o, "write_bytes", (double)io->write_bytes);
  return o;
}

static const char *const zombie_reason =
    "last sample: the process had exited and was not yet reaped (a zombie); the kernel no "
    "longer reports its memory, page faults, I/O or threads (it shows 0), only its CPU times";

/* Why a sample has no CPU %. */
static const char *no_window_reason(char *buf, size_t len) {
  hs_fmt(buf, len,
         "no earlier sample %.0f ms or more before this one: a CPU %% over a shorter window "
         "would be clock-tick noise (the kernel counts CPU time in 10 ms ticks)",
         HS_CPU_WINDOW_S * 1e3);
  return buf;
}

/* The process's CPU time in ns (cpu_s) and its CPU % of one core over cpu_window_s. */
static void process_cpu_json(const psamp_t *s, cJSON *p) {
  if (s->pcpu_ns >= 0) cJSON_AddNumberToObject(p, "cpu_s", (double)s->pcpu_ns / 1e9);
  else cJSON_AddNullToObject(p, "cpu_s");
  if (s->pcpu_why == 0) {
    cJSON_AddNumberToObject(p, "cpu_percent", round(s->pcpu_pct * 100) / 100);
    cJSON_AddNumberToObject(p, "cpu_window_s", round(s->pcpu_win * 1e6) / 1e6);
    return;
  }
  cJSON_AddNullToObject(p, "cpu_percent");
  cJSON_AddNullToObject(p, "cpu_window_s");
  char why[256];
  cJSON_AddStringToObject(p, "cpu_percent_reason",
                          s->pcpu_why == 2 ? "the process's CPU time was not readable (neither "
                                             "its CPU clock nor /proc/<pid>/stat)"
                                           : no_window_reason(why, sizeof why));
}

static cJSON *sample_json(const hs_monitor_t *m, size_t i) {
  const psamp_t *s = &m->s[i];
  double tck = (double)m->clk_tck;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "t_s", s->t_s);
  cJSON_AddStringToObject(o, "phase", phase_names[s->phase]);
  cJSON *p = cJSON_AddObjectToObject(o, "process");
  int zombie = (s->flags & R_ZOMBIE) != 0, st = (s->flags & R_STAT) != 0;
  if (st) {
    cJSON_AddNumberToObject(p, "utime_s", (double)s->utime / tck);
    cJSON_AddNumberToObject(p, "stime_s", (double)s->stime / tck);
  } else {
    cJSON_AddNullToObject(p, "utime_s");
    cJSON_AddNullToObject(p, "stime_s");
  }
  process_cpu_json(s, p);
  add_i64(p, "minflt", st && !zombie ? (int64_t)s->minflt : -1);
  add_i64(p, "majflt", st && !zombie ? (int64_t)s->majflt : -1);
  add_i64(p, "threads", st && !zombie ? (int64_t)s->nthreads : -1);
  add_i64(p, "vm_bytes", st && !zombie ? (int64_t)s->vsize : -1);
  add_i64(p, "rss_bytes", s->flags & R_MEM ? s->rss_bytes : -1);
  if (s->flags & R_IO) cJSON_AddItemToObject(p, "io", io_json(&s->io));
  else cJSON_AddNullToObject(p, "io");
  if (zombie) {
    cJSON_AddBoolToObject(o, "zombie", 1);
    cJSON *u = cJSON_AddArrayToObject(o, "unreadable");
    const char *names[] = {"minflt", "majflt", "threads", "vm_bytes", "rss_bytes", "io",
                           "per-thread figures"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++)
      cJSON_AddItemToArray(u, cJSON_CreateString(names[k]));
    if (!st) cJSON_AddItemToArray(u, cJSON_CreateString("utime_s, stime_s"));
    cJSON_AddStringToObject(o, "null_reason", zombie_reason);
    cJSON_AddNullToObject(o, "threads");
  } else {
    cJSON *arr = cJSON_AddArrayToObject(o, "threads");
    for (uint32_t k = 0; k < s->t_n; k++) {
      const tsamp_t *r = &m->ts[s->t_off + k];
      cJSON *tj = cJSON_CreateObject();
      cJSON_AddNumberToObject(tj, "tid", m->thr[r->thr].tid);
      cJSON_AddStringToObject(tj, "name", r->comm);
      cJSON_AddNumberToObject(tj, "utime_s", (double)r->utime / tck);
      cJSON_AddNumberToObject(tj, "stime_s", (double)r->stime / tck);
      if (r->flags & R_SCHED) cJSON_AddNumberToObject(tj, "cpu_s", (double)r->run_ns / 1e9);
      else cJSON_AddNullToObject(tj, "cpu_s");
      if (r->flags & R_IO) cJSON_AddItemToObject(tj, "io", io_json(&r->io));
      else cJSON_AddNullToObject(tj, "io");
      cJSON_AddItemToArray(arr, tj);
    }
  }
  cJSON *cpu = cJSON_AddObjectToObject(o, "cpu");
  if (s->cpu_why == 1 || !m->cpu_stride) {
    char why[256];
    cJSON_AddNullToObject(cpu, "total_percent");
    cJSON_AddNullToObject(cpu, "per_core_percent");
    cJSON_AddNullToObject(cpu, "window_s");
    cJSON_AddStringToObject(cpu, "null_reason",
                            m->cpu_stride ? no_window_reason(why, sizeof why)
                                          : "/proc/stat was not readable");
  } else {
    const float *row = &m->cpu_pct[i * m->cpu_stride];
    cJSON *cores = cJSON_CreateArray();
    for (size_t k = 0; k < m->cpu_stride; k++) {
      cJSON *v = isnan(row[k]) ? cJSON_CreateNull() : cJSON_CreateNumber(round(row[k] * 100) / 100);
      if (k == 0) cJSON_AddItemToObject(cpu, "total_percent", v);
      else cJSON_AddItemToArray(cores, v);
    }
    cJSON_AddItemToObject(cpu, "per_core_percent", cores);
    cJSON_AddNumberToObject(cpu, "window_s", round(s->host_win * 1e6) / 1e6);
    if (s->cpu_why == 2)
      cJSON_AddStringToObject(cpu, "null_reason",
                              "no clock tick elapsed on a core over the window (0/0)");
  }
  if (s->flags & R_LOAD) {
    cJSON *a = cJSON_AddArrayToObject(o, "loadavg");
    for (int k = 0; k < 3; k++) cJSON_AddItemToArray(a, cJSON_CreateNumber(s->load[k]));
  } else {
    cJSON_AddNullToObject(o, "loadavg");
  }
  cJSON *host = cJSON_AddObjectToObject(o, "host");
  add_i64(host, "net_rx_bytes", s->net_rx);
  add_i64(host, "net_tx_bytes", s->net_tx);
  add_i64(host, "disk_read_ops", s->d_ro);
  add_i64(host, "disk_write_ops", s->d_wo);
  return o;
}

static int64_t delta(int64_t end, int64_t start) {
  return (end < 0 || start < 0) ? -1 : end - start;
}

/* What the sampler saw of one thread over the samples it was listed in. */
static cJSON *thread_json(const hs_monitor_t *m, const thr_t *t) {
  double tck = (double)m->clk_tck;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "tid", t->tid);
  cJSON_AddStringToObject(o, "name", t->name);
  cJSON_AddNumberToObject(o, "samples", t->nseen);
  cJSON_AddNumberToObject(o, "first_seen_s", t->first_s);
  cJSON_AddNumberToObject(o, "last_seen_s", t->last_s);
  double seen = t->last_s - t->first_s;
  cJSON_AddNumberToObject(o, "seen_s", seen);
  cJSON_AddNumberToObject(o, "cpu_user_s", (double)t->ut / tck);
  cJSON_AddNumberToObject(o, "cpu_sys_s", (double)t->st / tck);
  /* schedstat's run time is in ns; utime + stime are in clock ticks (10 ms here). */
  int ns = t->have_run && t->have_run0;
  double cpu = ns ? (double)t->run / 1e9 : (double)(t->ut + t->st) / tck;
  double cpu0 = ns ? (double)t->run0 / 1e9 : (double)(t->ut0 + t->st0) / tck;
  cJSON_AddNumberToObject(o, "cpu_time_s", cpu);
  cJSON_AddStringToObject(o, "cpu_time_basis",
                          ns ? "schedstat run time (ns) at the last sample it was seen in"
                             : "stat utime + stime (clock ticks) at the last sample it was seen in");
  cJSON_AddNumberToObject(o, "cpu_seen_s", cpu - cpu0);
  if (t->nseen >= 2 && seen > 0) {
    cJSON_AddNumberToObject(o, "cpu_percent", 100.0 * (cpu - cpu0) / seen);
    cJSON_AddNullToObject(o, "cpu_percent_reason");
  } else {
    cJSON_AddNullToObject(o, "cpu_percent");
    cJSON_AddStringToObject(o, "cpu_percent_reason",
                            "seen in one sample only: no interval to divide its CPU time by");
  }
  if (t->have_io) {
    cJSON_AddNumberToObject(o, "io_read_ops", (double)t->io.syscr);
    cJSON_AddNumberToObject(o, "io_write_ops", (double)t->io.syscw);
    cJSON_AddNumberToObject(o, "io_ops", (double)(t->io.syscr + t->io.syscw));
    cJSON_AddNumberToObject(o, "io_read_bytes", (double)t->io.rchar);
    cJSON_AddNumberToObject(o, "io_write_bytes", (double)t->io.wchar);
    cJSON_AddNumberToObject(o, "storage_read_bytes", (double)t->io.read_bytes);
    cJSON_AddNumberToObject(o, "storage_write_bytes", (double)t->io.write_bytes);
  } else {
    const char *k[] = {"io_read_ops", "io_write_ops", "io_ops", "io_read_bytes",
                       "io_write_bytes", "storage_read_bytes", "storage_write_bytes"};
    for (size_t i = 0; i < sizeof k / sizeof *k; i++) cJSON_AddNullToObject(o, k[i]);
    cJSON_AddStringToObject(o, "io_reason", "task/<tid>/io was not readable");
  }
  return o;
}

static const char *const rate_text =
    "a first sample right after exec; then %d samples at %.0f Hz; then each interval %.2f "
    "times the one before until it reaches 1/hz; then hz on a fixed grid of deadlines (a late "
    "wake-up does not shift later samples); no interval shorter than %.0f times the wall time "
    "of the sample before it (the sampler's cost cap); a last sample of the exited, not yet "
    "reaped process (a zombie) right before the reap. Over %d stored samples every other "
    "steady sample is dropped and one in stored_every kept from then on (per-thread figures "
    "use every sample taken)";

static cJSON *policy_json(double hz, double ramp_end_s, unsigned stride) {
  cJSON *r = cJSON_CreateObject();
  char text[1024];
  hs_fmt(text, sizeof text, rate_text, HS_FAST_SAMPLES, HS_FAST_HZ, HS_RAMP_GROWTH,
         HS_COST_FACTOR, HS_KEEP_SAMPLES);
  cJSON_AddStringToObject(r, "description", hz > 0 ? text : "off: no timeline was asked for");
  cJSON_AddNumberToObject(r, "steady_hz", hz);
  cJSON_AddNumberToObject(r, "fast_hz", HS_FAST_HZ);
  cJSON_AddNumberToObject(r, "fast_samples", HS_FAST_SAMPLES);
  cJSON_AddNumberToObject(r, "growth_per_sample", HS_RAMP_GROWTH);
  cJSON_AddNumberToObject(r, "cost_factor", HS_COST_FACTOR);
  if (ramp_end_s >= 0) cJSON_AddNumberToObject(r, "ramp_end_s", ramp_end_s);
  else cJSON_AddNullToObject(r, "ramp_end_s");
  cJSON_AddNumberToObject(r, "stored_every", stride);
  return r;
}

static cJSON *doc_head(double hz, double wall_s) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "schema", "memscope.resources/1");
  cJSON_AddNumberToObject(r, "hz", hz);
  cJSON_AddStringToObject(r, "source", "harness: /proc/<pid> sampled from outside the child");
  cJSON_AddNumberToObject(r, "clk_tck", (double)sysconf(_SC_CLK_TCK));
  cJSON_AddNumberToObject(r, "ncpu", (double)sysconf(_SC_NPROCESSORS_ONLN));
  cJSON_AddStringToObject(r, "gpu", "unavailable");
  cJSON_AddStringToObject(r, "gpu_reason", "no GPU counter source is read (none is in /proc)");
  cJSON_AddNumberToObject(r, "wall_s", wall_s);
  cJSON_AddNumberToObject(r, "cpu_window_min_s", HS_CPU_WINDOW_S);
  return r;
}

cJSON *hs_monitor_off_json(double wall_s) {
  cJSON *r = doc_head(0, wall_s);
  cJSON_AddItemToObject(r, "rate_policy", policy_json(0, -1, 1));
  cJSON_AddNumberToObject(r, "nsamples", 0);
  cJSON_AddNullToObject(r, "peak_rss_bytes");
  cJSON_AddNullToObject(r, "process_io");
  cJSON_AddStringToObject(r, "timeline_reason",
                          "the sampler was off (MEMSCOPE_RESOURCES_HZ=0 or --resources-hz 0)");
  cJSON_AddArrayToObject(r, "threads");
  cJSON_AddArrayToObject(r, "samples");
  return r;
}

cJSON *hs_monitor_finish(hs_monitor_t *m, double wall_s) {
  cJSON *r = doc_head(m->hz, wall_s);
  /* t_s = 0: the fork, on CLOCK_MONOTONIC (to line the samples up with other clocks). */
  cJSON_AddNumberToObject(r, "t0_monotonic_s", m->t0);
  cJSON_AddItemToObject(r, "rate_policy", policy_json(m->hz, m->ramp_end_s, m->stride));
  cJSON_AddStringToObject(r, "process_cpu_basis",
                          m->have_pclock
                              ? "cpu_s: the process's POSIX CPU clock (clock_getcpuclockid), ns, "
                                "all its threads, live and exited; cpu_percent over cpu_window_s "
                                "from it"
                              : "the process's CPU clock was not readable: cpu_percent from "
                                "utime_s + stime_s (10 ms clock ticks) over cpu_window_s");
  cJSON_AddNumberToObject(r, "nsamples", (double)m->ns);
  cJSON *sp = cJSON_AddObjectToObject(r, "sampler");
  cJSON_AddNumberToObject(sp, "samples_taken", (double)m->nsampled);
  cJSON_AddNumberToObject(sp, "cpu_s", m->cpu_s);
  cJSON_AddNumberToObject(sp, "wall_s", m->wall_s);
  if (m->nsampled) {
    cJSON_AddNumberToObject(sp, "cpu_per_sample_s", m->cpu_s / (double)m->nsampled);
    cJSON_AddNumberToObject(sp, "wall_per_sample_s", m->wall_s / (double)m->nsampled);
  }
  cJSON_AddNumberToObject(sp, "wall_max_s", m->wall_max_s);
  cJSON_AddNumberToObject(sp, "max_threads", (double)m->max_threads);
  if (m->peak_rss_kb >= 0)
    cJSON_AddNumberToObject(r, "peak_rss_bytes", (double)m->peak_rss_kb * 1024.0);
  else cJSON_AddNullToObject(r, "peak_rss_bytes");
  /* The process's I/O: the last sample that could read it (the zombie cannot). */
  const psamp_t *io_s = NULL;
  for (size_t i = m->ns; i-- > 0;)
    if (m->s[i].flags & R_IO) {
      io_s = &m->s[i];
      break;
    }
  if (io_s) cJSON_AddItemToObject(r, "process_io", io_json(&io_s->io));
  else cJSON_AddNullToObject(r, "process_io");
  cJSON *host = cJSON_AddObjectToObject(r, "host_delta");
  add_i64(host, "net_rx_bytes", delta(m->net[0], m->net0[0]));
  add_i64(host, "net_tx_bytes", delta(m->net[1], m->net0[1]));
  add_i64(host, "disk_read_ops", delta(m->disk[0], m->disk0[0]));
  add_i64(host, "disk_write_ops", delta(m->disk[1], m->disk0[1]));
  add_i64(host, "disk_read_sectors", delta(m->disk[2], m->disk0[2]));
  add_i64(host, "disk_write_sectors", delta(m->disk[3], m->disk0[3]));
  cJSON *threads = cJSON_AddArrayToObject(r, "threads");
  for (size_t i = 0; i < m->nthr; i++)
    if (m->thr[i].nseen) cJSON_AddItemToArray(threads, thread_json(m, &m->thr[i]));
  cJSON *samples = cJSON_AddArrayToObject(r, "samples");
  for (size_t i = 0; i < m->ns; i++) cJSON_AddItemToArray(samples, sample_json(m, i));
  hs_monitor_free(m);
  return r;
}

void hs_monitor_free(hs_monitor_t *m) {
  if (!m) return;
  for (size_t i = 0; i < m->nthr; i++) thr_close(m, &m->thr[i]);
  int *fds[] = {&m->fd_stat, &m->fd_status, &m->fd_io, &m->fd_task,
                &m->fd_cpu, &m->fd_load, &m->fd_net, &m->fd_disk};
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) close_fd(fds[i]);
  if (m->task_dir) closedir(m->task_dir);
  free(m->s);
  free(m->ts);
  free(m->cpu_pct);
  free(m->cur_cpu);
  free(m->ring_host);
  free(m->thr);
  free(m->hash);
  free(m->big);
  free(m);
}
