/* hs_child.c: runs a scenario or program in a child process (tracked under LD_PRELOAD, or the
 * untracked baseline) and samples its resources from outside, in /proc (SPEC §7).
 *
 * The monitor runs in the harness's own thread of control while the child runs: it waits on
 * a pidfd (and the child's stdout pipe) with a 100 ms timeout and reads /proc/<pid>/stat,
 * task/<tid>/stat, io, status, /proc/stat, /proc/loadavg, /proc/net/dev and /proc/diskstats
 * between waits, so the tracked program pays nothing for it. A figure that cannot be read is
 * written as null (never estimated). */
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

#define HS_SAMPLE_HZ 10
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

/* ---- small /proc readers ---- */

static int read_small(const char *path, char *buf, size_t len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t got = 0;
  while (got + 1 < len) {
    ssize_t n = read(fd, buf + got, len - 1 - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return -1;
    }
    if (n == 0) break;
    got += (size_t)n;
  }
  close(fd);
  buf[got] = 0;
  return (int)got;
}

typedef struct stat_fields_s {
  char comm[64];
  unsigned long long minflt, majflt, utime, stime, num_threads, vsize, rss_pages;
} stat_fields_t;

/* Parses /proc/.../stat: the comm is between the first '(' and the last ')'. */
static int read_stat(const char *path, stat_fields_t *f) {
  char buf[1024];
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  char *l = strchr(buf, '('), *r = strrchr(buf, ')');
  if (!l || !r || r < l) return -1;
  size_t n = (size_t)(r - l - 1);
  if (n >= sizeof f->comm) n = sizeof f->comm - 1;
  memcpy(f->comm, l + 1, n);
  f->comm[n] = 0;
  /* Fields from 3 (state) on. */
  char *save = NULL;
  char *tok = strtok_r(r + 1, " ", &save);
  unsigned long long v[60] = {0};
  int idx = 3;
  while (tok && idx < 60) {
    v[idx] = strtoull(tok, NULL, 10);
    tok = strtok_r(NULL, " ", &save);
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

typedef struct io_fields_s {
  unsigned long long rchar, wchar, syscr, syscw, read_bytes, write_bytes;
} io_fields_t;

static int read_io(const char *path, io_fields_t *io) {
  char buf[1024];
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  memset(io, 0, sizeof *io);
  int seen = 0;
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    unsigned long long val;
    char key[32];
    if (sscanf(line, "%31[^:]: %llu", key, &val) == 2) {
      if (!strcmp(key, "rchar")) io->rchar = val, seen++;
      else if (!strcmp(key, "wchar")) io->wchar = val, seen++;
      else if (!strcmp(key, "syscr")) io->syscr = val, seen++;
      else if (!strcmp(key, "syscw")) io->syscw = val, seen++;
      else if (!strcmp(key, "read_bytes")) io->read_bytes = val, seen++;
      else if (!strcmp(key, "write_bytes")) io->write_bytes = val, seen++;
    }
    line = nl ? nl + 1 : NULL;
  }
  return seen >= 4 ? 0 : -1;
}

static cJSON *io_json(const io_fields_t *io) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "rchar", (double)io->rchar);
  cJSON_AddNumberToObject(o, "wchar", (double)io->wchar);
  cJSON_AddNumberToObject(o, "syscr", (double)io->syscr);
  cJSON_AddNumberToObject(o, "syscw", (double)io->syscw);
  cJSON_AddNumberToObject(o, "read_bytes", (double)io->read_bytes);
  cJSON_AddNumberToObject(o, "write_bytes", (double)io->write_bytes);
  return o;
}

/* /proc/<pid>/status VmRSS / VmSize in kB. */
static int read_status_mem(const char *path, long long *rss_kb, long long *vm_kb,
                           long long *hwm_kb) {
  char buf[4096];
  if (read_small(path, buf, sizeof buf) <= 0) return -1;
  *rss_kb = *vm_kb = *hwm_kb = -1;
  char *p;
  if ((p = strstr(buf, "VmRSS:"))) *rss_kb = strtoll(p + 6, NULL, 10);
  if ((p = strstr(buf, "VmSize:"))) *vm_kb = strtoll(p + 7, NULL, 10);
  if ((p = strstr(buf, "VmHWM:"))) *hwm_kb = strtoll(p + 6, NULL, 10);
  return *rss_kb >= 0 ? 0 : -1;
}

#define HS_MAX_CPUS 1024

typedef struct cpu_times_s {
  int ncpu; /* -1 = unreadable */
  unsigned long long busy[HS_MAX_CPUS + 1], total[HS_MAX_CPUS + 1]; /* [0] = all */
} cpu_times_t;

static void read_cpu_times(cpu_times_t *c) {
  static char buf[1 << 16];
  c->ncpu = -1;
  if (read_small("/proc/stat", buf, sizeof buf) <= 0) return;
  int n = 0;
  for (char *line = buf; line && *line;) {
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

/* Sums of the host's network interfaces (except lo) and whole disks. -1 when unreadable. */
static void read_net(long long *rx, long long *tx) {
  char buf[16384];
  *rx = *tx = -1;
  if (read_small("/proc/net/dev", buf, sizeof buf) <= 0) return;
  long long r = 0, t = 0;
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
        r += (long long)v[0];
        t += (long long)v[8];
      }
    }
    line = nl;
  }
  *rx = r;
  *tx = t;
}

static void read_disk(long long *rd_ops, long long *wr_ops, long long *rd_sect,
                      long long *wr_sect) {
  static char buf[1 << 15];
  *rd_ops = *wr_ops = *rd_sect = *wr_sect = -1;
  if (read_small("/proc/diskstats", buf, sizeof buf) <= 0) return;
  long long a = 0, b = 0, c = 0, d = 0;
  for (char *line = buf; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    unsigned maj, min;
    char dev[64];
    unsigned long long f[8];
    if (sscanf(line, " %u %u %63s %llu %llu %llu %llu %llu %llu %llu", &maj, &min, dev, &f[0],
               &f[1], &f[2], &f[3], &f[4], &f[5], &f[6]) == 10) {
      /* Whole disks only (a partition's counts are inside its disk's): /sys/block/<dev>. */
      char sys[128];
      hs_fmt(sys, sizeof sys, "/sys/block/%s", dev);
      if (access(sys, F_OK) == 0 && strncmp(dev, "loop", 4) != 0 && strncmp(dev, "ram", 3) != 0) {
        a += (long long)f[0];
        c += (long long)f[2];
        b += (long long)f[4];
        d += (long long)f[6];
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  *rd_ops = a;
  *wr_ops = b;
  *rd_sect = c;
  *wr_sect = d;
}

static void add_num_or_null(cJSON *o, const char *k, long long v) {
  if (v < 0) cJSON_AddNullToObject(o, k);
  else cJSON_AddNumberToObject(o, k, (double)v);
}

/* ---- per-thread bookkeeping ---- */

typedef struct thr_s {
  int tid;
  char name[64];
  unsigned long long utime, stime; /* ticks, last seen */
  int have_io;
  io_fields_t io;
  double first_s, last_s;          /* since the child started */
} thr_t;

typedef struct monitor_s {
  pid_t pid;
  double t0;
  long clk_tck;
  long page_size;
  cJSON *samples;
  thr_t *thr;
  size_t nthr, capthr;
  cpu_times_t prev_cpu;
  int have_prev_cpu;
  long long peak_rss_kb;
  io_fields_t last_proc_io;
  int have_proc_io;
  unsigned long long last_utime, last_stime;
  long long net_rx0, net_tx0, d_ro0, d_wo0, d_rs0, d_ws0;
  long long net_rx, net_tx, d_ro, d_wo, d_rs, d_ws;
} monitor_t;

static thr_t *thr_get(monitor_t *m, int tid) {
  for (size_t i = 0; i < m->nthr; i++)
    if (m->thr[i].tid == tid) return &m->thr[i];
  if (m->nthr == m->capthr) {
    size_t cap = m->capthr ? m->capthr * 2 : 64;
    thr_t *n = realloc(m->thr, cap * sizeof *n);
    if (!n) return NULL;
    m->thr = n;
    m->capthr = cap;
  }
  thr_t *t = &m->thr[m->nthr++];
  memset(t, 0, sizeof *t);
  t->tid = tid;
  return t;
}

static void monitor_sample(monitor_t *m) {
  double now = hs_now_s() - m->t0;
  char path[256];
  stat_fields_t st;
  hs_fmt(path, sizeof path, "/proc/%d/stat", (int)m->pid);
  if (read_stat(path, &st) != 0) return; /* gone */
  cJSON *s = cJSON_CreateObject();
  cJSON_AddNumberToObject(s, "t_s", now);
  cJSON *proc = cJSON_AddObjectToObject(s, "process");
  cJSON_AddNumberToObject(proc, "utime_s", (double)st.utime / (double)m->clk_tck);
  cJSON_AddNumberToObject(proc, "stime_s", (double)st.stime / (double)m->clk_tck);
  m->last_utime = st.utime;
  m->last_stime = st.stime;
  cJSON_AddNumberToObject(proc, "minflt", (double)st.minflt);
  cJSON_AddNumberToObject(proc, "majflt", (double)st.majflt);
  cJSON_AddNumberToObject(proc, "threads", (double)st.num_threads);
  cJSON_AddNumberToObject(proc, "vm_bytes", (double)st.vsize);
  long long rss_kb, vm_kb, hwm_kb;
  hs_fmt(path, sizeof path, "/proc/%d/status", (int)m->pid);
  if (read_status_mem(path, &rss_kb, &vm_kb, &hwm_kb) == 0) {
    cJSON_AddNumberToObject(proc, "rss_bytes", (double)rss_kb * 1024.0);
    if (rss_kb > m->peak_rss_kb) m->peak_rss_kb = rss_kb;
    if (hwm_kb > m->peak_rss_kb) m->peak_rss_kb = hwm_kb;
  } else {
    cJSON_AddNumberToObject(proc, "rss_bytes", (double)st.rss_pages * (double)m->page_size);
  }
  io_fields_t io;
  hs_fmt(path, sizeof path, "/proc/%d/io", (int)m->pid);
  if (read_io(path, &io) == 0) {
    cJSON_AddItemToObject(proc, "io", io_json(&io));
    m->last_proc_io = io;
    m->have_proc_io = 1;
  } else {
    cJSON_AddNullToObject(proc, "io");
  }

  /* Threads. */
  cJSON *threads = cJSON_AddArrayToObject(s, "threads");
  hs_fmt(path, sizeof path, "/proc/%d/task", (int)m->pid);
  DIR *d = opendir(path);
  if (d) {
    struct dirent *de;
    while ((de = readdir(d))) {
      if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
      int tid = atoi(de->d_name);
      char tpath[300];
      stat_fields_t ts;
      hs_fmt(tpath, sizeof tpath, "/proc/%d/task/%d/stat", (int)m->pid, tid);
      if (read_stat(tpath, &ts) != 0) continue;
      thr_t *t = thr_get(m, tid);
      if (!t) continue;
      if (t->first_s == 0 && t->last_s == 0) t->first_s = now;
      t->last_s = now;
      hs_fmt(t->name, sizeof t->name, "%s", ts.comm);
      t->utime = ts.utime;
      t->stime = ts.stime;
      cJSON *tj = cJSON_CreateObject();
      cJSON_AddNumberToObject(tj, "tid", tid);
      cJSON_AddStringToObject(tj, "name", ts.comm);
      cJSON_AddNumberToObject(tj, "utime_s", (double)ts.utime / (double)m->clk_tck);
      cJSON_AddNumberToObject(tj, "stime_s", (double)ts.stime / (double)m->clk_tck);
      hs_fmt(tpath, sizeof tpath, "/proc/%d/task/%d/io", (int)m->pid, tid);
      io_fields_t tio;
      if (read_io(tpath, &tio) == 0) {
        t->io = tio;
        t->have_io = 1;
        cJSON_AddItemToObject(tj, "io", io_json(&tio));
      } else {
        cJSON_AddNullToObject(tj, "io");
      }
      cJSON_AddItemToArray(threads, tj);
    }
    closedir(d);
  }

  /* Host CPU per core, load, network, disks. */
  cpu_times_t cur;
  read_cpu_times(&cur);
  cJSON *cpu = cJSON_AddObjectToObject(s, "cpu");
  if (cur.ncpu > 0 && m->have_prev_cpu && m->prev_cpu.ncpu == cur.ncpu) {
    cJSON *cores = cJSON_AddArrayToObject(cpu, "per_core_percent");
    int no_tick = 0;
    for (int i = 0; i <= cur.ncpu; i++) {
      unsigned long long dt = cur.total[i] - m->prev_cpu.total[i];
      unsigned long long db = cur.busy[i] - m->prev_cpu.busy[i];
      /* dt = 0: the two reads of /proc/stat fell within one clock tick of the core (the
       * first sample comes right after the baseline read), so busy/total is 0/0: unknown,
       * null, not 0 %. */
      cJSON *pct = dt ? cJSON_CreateNumber(100.0 * (double)db / (double)dt) : cJSON_CreateNull();
      no_tick |= !dt;
      if (i == 0) cJSON_AddItemToObject(cpu, "total_percent", pct);
      else cJSON_AddItemToArray(cores, pct);
    }
    if (no_tick)
      cJSON_AddStringToObject(cpu, "null_reason",
                              "no clock tick elapsed on a core since the previous sample (0/0)");
  } else {
    cJSON_AddNullToObject(cpu, "total_percent"); /* the first sample has no interval yet */
    cJSON_AddNullToObject(cpu, "per_core_percent");
    cJSON_AddStringToObject(cpu, "null_reason", "no earlier reading of /proc/stat");
  }
  if (cur.ncpu > 0) {
    m->prev_cpu = cur;
    m->have_prev_cpu = 1;
  }
  char la[256];
  double l1, l5, l15;
  if (read_small("/proc/loadavg", la, sizeof la) > 0 && sscanf(la, "%lf %lf %lf", &l1, &l5, &l15) == 3) {
    cJSON *a = cJSON_AddArrayToObject(s, "loadavg");
    cJSON_AddItemToArray(a, cJSON_CreateNumber(l1));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(l5));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(l15));
  } else {
    cJSON_AddNullToObject(s, "loadavg");
  }
  read_net(&m->net_rx, &m->net_tx);
  read_disk(&m->d_ro, &m->d_wo, &m->d_rs, &m->d_ws);
  cJSON *host = cJSON_AddObjectToObject(s, "host");
  add_num_or_null(host, "net_rx_bytes", m->net_rx);
  add_num_or_null(host, "net_tx_bytes", m->net_tx);
  add_num_or_null(host, "disk_read_ops", m->d_ro);
  add_num_or_null(host, "disk_write_ops", m->d_wo);
  cJSON_AddItemToArray(m->samples, s);
}

static long long delta_or_null(long long end, long long start) {
  return (end < 0 || start < 0) ? -1 : end - start;
}

/* The resources document (memscope.resources/1, docs/harness.md). */
static cJSON *monitor_finish(monitor_t *m, double wall_s) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "schema", "memscope.resources/1");
  cJSON_AddNumberToObject(r, "hz", HS_SAMPLE_HZ);
  cJSON_AddStringToObject(r, "source", "harness: /proc/<pid> sampled from outside the child");
  cJSON_AddNumberToObject(r, "clk_tck", (double)m->clk_tck);
  cJSON_AddNumberToObject(r, "ncpu", (double)sysconf(_SC_NPROCESSORS_ONLN));
  cJSON_AddStringToObject(r, "gpu", "unavailable");
  cJSON_AddNumberToObject(r, "wall_s", wall_s);
  cJSON_AddNumberToObject(r, "nsamples", cJSON_GetArraySize(m->samples));
  if (m->peak_rss_kb >= 0) cJSON_AddNumberToObject(r, "peak_rss_bytes", (double)m->peak_rss_kb * 1024.0);
  else cJSON_AddNullToObject(r, "peak_rss_bytes");
  if (m->have_proc_io) cJSON_AddItemToObject(r, "process_io", io_json(&m->last_proc_io));
  else cJSON_AddNullToObject(r, "process_io");
  cJSON *host = cJSON_AddObjectToObject(r, "host_delta");
  add_num_or_null(host, "net_rx_bytes", delta_or_null(m->net_rx, m->net_rx0));
  add_num_or_null(host, "net_tx_bytes", delta_or_null(m->net_tx, m->net_tx0));
  add_num_or_null(host, "disk_read_ops", delta_or_null(m->d_ro, m->d_ro0));
  add_num_or_null(host, "disk_write_ops", delta_or_null(m->d_wo, m->d_wo0));
  add_num_or_null(host, "disk_read_sectors", delta_or_null(m->d_rs, m->d_rs0));
  add_num_or_null(host, "disk_write_sectors", delta_or_null(m->d_ws, m->d_ws0));
  /* Per thread: the last values seen. cpu_percent = thread CPU time / child wall time. */
  cJSON *threads = cJSON_AddArrayToObject(r, "threads");
  for (size_t i = 0; i < m->nthr; i++) {
    thr_t *t = &m->thr[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "tid", t->tid);
    cJSON_AddStringToObject(o, "name", t->name);
    double cpu_s = (double)(t->utime + t->stime) / (double)m->clk_tck;
    cJSON_AddNumberToObject(o, "cpu_time_s", cpu_s);
    /* No wall time measured: cpu_s / 0 is unknown (null), not 0 %. */
    if (wall_s > 0) cJSON_AddNumberToObject(o, "cpu_percent", 100.0 * cpu_s / wall_s);
    else cJSON_AddNullToObject(o, "cpu_percent");
    if (t->have_io) {
      cJSON_AddNumberToObject(o, "io_ops", (double)(t->io.syscr + t->io.syscw));
      cJSON_AddNumberToObject(o, "read_bytes", (double)t->io.rchar);
      cJSON_AddNumberToObject(o, "write_bytes", (double)t->io.wchar);
    } else {
      cJSON_AddNullToObject(o, "io_ops");
      cJSON_AddNullToObject(o, "read_bytes");
      cJSON_AddNullToObject(o, "write_bytes");
    }
    cJSON_AddNumberToObject(o, "first_seen_s", t->first_s);
    cJSON_AddNumberToObject(o, "last_seen_s", t->last_s);
    cJSON_AddItemToArray(threads, o);
  }
  cJSON_AddItemToObject(r, "samples", m->samples);
  m->samples = NULL;
  free(m->thr);
  m->thr = NULL;
  return r;
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

int hs_child_run(const hs_child_spec_t *sp, hs_child_result_t *res) {
  memset(res, 0, sizeof *res);
  /* Orphans of the target's tree come to the harness, so it can wait for them and end them. */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
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
  double t0 = hs_now_s();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(errpipe[0]);
    close(errpipe[1]);
    if (outpipe[0] >= 0) close(outpipe[0]), close(outpipe[1]);
    return -e;
  }
  if (pid == 0) {
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
  setpgid(pid, pid); /* also here: whichever of the two runs first, the group exists */
  close(errpipe[1]);
  if (outpipe[1] >= 0) close(outpipe[1]);
  int e = 0;
  ssize_t n;
  do n = read(errpipe[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  close(errpipe[0]);
  if (n == (ssize_t)sizeof e) res->exec_errno = e;

  monitor_t mon;
  memset(&mon, 0, sizeof mon);
  mon.pid = pid;
  mon.t0 = t0;
  mon.clk_tck = sysconf(_SC_CLK_TCK);
  mon.page_size = sysconf(_SC_PAGESIZE);
  mon.peak_rss_kb = -1;
  if (sp->monitor && !res->exec_errno) {
    mon.samples = cJSON_CreateArray();
    read_net(&mon.net_rx0, &mon.net_tx0);
    read_disk(&mon.d_ro0, &mon.d_wo0, &mon.d_rs0, &mon.d_ws0);
    read_cpu_times(&mon.prev_cpu);
    mon.have_prev_cpu = mon.prev_cpu.ncpu > 0;
  }

  int pfd = pidfd_open_compat(pid);
  char *obuf = NULL;
  size_t olen = 0, ocap = 0;
  int out_open = outpipe[0] >= 0;
  double next_sample = hs_now_s();
  for (;;) {
    if (mon.samples && hs_now_s() >= next_sample) {
      monitor_sample(&mon);
      next_sample += 1.0 / HS_SAMPLE_HZ;
    }
    if (sp->progress_label) {
      double el = hs_now_s() - t0;
      if (mon.peak_rss_kb > 0)
        hs_progress("%s: running %.1f s, peak RSS %.1f MB", sp->progress_label, el,
                    (double)mon.peak_rss_kb / 1000.0);
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
    if (out_open) fds[nf].fd = outpipe[0], fds[nf].events = POLLIN, nf++;
    int timeout_ms = 100;
    if (mon.samples) {
      double wait = next_sample - hs_now_s();
      timeout_ms = wait <= 0 ? 0 : (int)(wait * 1000.0) + 1;
    }
    if (pfd < 0) {
      /* No pidfd: poll the child's state instead. */
      siginfo_t si;
      memset(&si, 0, sizeof si);
      if (waitid(P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid) break;
      if (timeout_ms > 20) timeout_ms = 20;
    }
    int pr = poll(fds, (nfds_t)nf, timeout_ms);
    if (pr < 0 && errno != EINTR) break;
    int exited = 0;
    for (int i = 0; i < nf && pr > 0; i++) {
      if (!fds[i].revents) continue;
      if (fds[i].fd == pfd) {
        exited = 1;
      } else {
        char tmp[8192];
        ssize_t r = read(outpipe[0], tmp, sizeof tmp);
        if (r > 0) {
          if (olen + (size_t)r + 1 > ocap) {
            size_t cap = (olen + (size_t)r + 1) * 2;
            char *nb = realloc(obuf, cap);
            if (nb) obuf = nb, ocap = cap;
          }
          if (olen + (size_t)r + 1 <= ocap) {
            memcpy(obuf + olen, tmp, (size_t)r);
            olen += (size_t)r;
          }
        } else if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
          out_open = 0;
        }
      }
    }
    if (exited) break;
  }
  /* Drain what is left of stdout (the child has exited; its writes are all in the pipe unless
   * a grandchild keeps it open, so do not block on it). */
  if (outpipe[0] >= 0) {
    int fl = fcntl(outpipe[0], F_GETFL);
    fcntl(outpipe[0], F_SETFL, fl | O_NONBLOCK);
    for (;;) {
      char tmp[8192];
      ssize_t r = read(outpipe[0], tmp, sizeof tmp);
      if (r <= 0) break;
      if (olen + (size_t)r + 1 > ocap) {
        size_t cap = (olen + (size_t)r + 1) * 2;
        char *nb = realloc(obuf, cap);
        if (!nb) break;
        obuf = nb;
        ocap = cap;
      }
      memcpy(obuf + olen, tmp, (size_t)r);
      olen += (size_t)r;
    }
    close(outpipe[0]);
  }
  if (pfd >= 0) close(pfd);
  int status = 0;
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  pid_t w;
  do w = wait4(pid, &status, 0, &ru);
  while (w < 0 && errno == EINTR);
  res->wall_s = hs_now_s() - t0;
  /* The rest of the tree: nothing of it may run (and write into the trace) after the harness
   * has read the trace. Processes still running are waited for until the timeout, or
   * HS_TREE_GRACE_S when there is none, then killed and named. */
  double deadline = sp->timeout_s > 0 ? t0 + sp->timeout_s : hs_now_s() + HS_TREE_GRACE_S;
  if (deadline < hs_now_s()) deadline = hs_now_s();
  int late = tree_finish(deadline, res->tree_killed_names + strlen(res->tree_killed_names),
                         sizeof res->tree_killed_names - strlen(res->tree_killed_names));
  res->tree_killed += late;
  res->tree_outlived = late;
  hs_progress_clear();
  res->pid = pid;
  res->user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
  res->sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  res->max_rss_kb = ru.ru_maxrss;
  if (WIFEXITED(status)) {
    res->exited = 1;
    res->exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    res->term_signal = WTERMSIG(status);
  }
  if (obuf) {
    obuf[olen] = 0;
    res->out_stdout = obuf;
  } else if (sp->capture_stdout) {
    res->out_stdout = strdup("");
  }
  if (mon.samples) {
    if (ru.ru_maxrss > 0 && ru.ru_maxrss > mon.peak_rss_kb) mon.peak_rss_kb = ru.ru_maxrss;
    res->resources = monitor_finish(&mon, res->wall_s);
    cJSON_AddNumberToObject(res->resources, "rusage_user_s", res->user_s);
    cJSON_AddNumberToObject(res->resources, "rusage_sys_s", res->sys_s);
    cJSON_AddNumberToObject(res->resources, "rusage_max_rss_bytes", (double)ru.ru_maxrss * 1024.0);
    cJSON_AddNumberToObject(res->resources, "rusage_minflt", (double)ru.ru_minflt);
    cJSON_AddNumberToObject(res->resources, "rusage_majflt", (double)ru.ru_majflt);
    cJSON_AddNumberToObject(res->resources, "rusage_inblock", (double)ru.ru_inblock);
    cJSON_AddNumberToObject(res->resources, "rusage_oublock", (double)ru.ru_oublock);
    cJSON_AddNumberToObject(res->resources, "rusage_nvcsw", (double)ru.ru_nvcsw);
    cJSON_AddNumberToObject(res->resources, "rusage_nivcsw", (double)ru.ru_nivcsw);
  } else {
    free(mon.thr);
  }
  return 0;
}

void hs_child_result_free(hs_child_result_t *res) {
  free(res->out_stdout);
  cJSON_Delete(res->resources);
  memset(res, 0, sizeof *res);
}
