/* res_threads.c: three threads of about 50 ms each, a CPU-bound spinner, an I/O-bound writer
 * (thousands of small write(2) calls to a file, with an fdatasync every 32) and an
 * allocation-heavy thread (a 20 MB peak, many malloc/free), each measuring itself just before
 * it ends: utime + stime from /proc/self/task/<tid>/stat (clock ticks), sum_exec_runtime from
 * .../schedstat (ns) and rchar/wchar/syscr/syscw from /proc/thread-self/io. It writes one
 * line per thread to DIR/side.txt with these figures and what the thread itself did:
 *
 *   ROLE tid=T utime=U stime=S clk_tck=H sched_ns=N rchar=.. wchar=.. syscr=.. syscw=..
 *        writes=W write_bytes=B mallocs=M peak_bytes=P own_reads=R own_writes=1
 *        own_cpu_pct=C
 *
 * own_reads/own_writes: the /proc reads and the side.txt write made after the measurement
 * is taken (the tracker's last record of the thread comes after them, so they are in it).
 * own_cpu_pct: the thread's CPU time over its wall time from its first allocator call to its
 * measurement (CLOCK_THREAD_CPUTIME_ID): its share of a CPU, whatever the machine's load.
 *
 * Usage: res_threads DIR. Run under LD_PRELOAD=libmemscope.so by test_resources. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LIFE_NS 50000000ull /* each thread's life */

static const char *dir;
static int side_fd;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads a small /proc file with one read(2) call; returns the bytes read (counted by the
 * caller as one read call). */
static long read_file(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    buf[0] = 0;
    return -1;
  }
  long n = read(fd, buf, cap - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  return n;
}

static unsigned long long kv(const char *buf, const char *key) {
  const char *p = strstr(buf, key);
  return p ? strtoull(p + strlen(key) + 1, NULL, 10) : 0;
}

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct work_s {
  const char *role;
  unsigned long long writes, write_bytes, mallocs, peak_bytes;
  uint64_t wall0, cpu0; /* after the thread's first allocator call */
} work_t;

/* The thread's first allocator call (where the tracker starts tracking it), then the start
 * of its own CPU-share measurement. */
static void start(work_t *w) {
  free(malloc(16));
  w->mallocs++;
  w->wall0 = now_ns();
  w->cpu0 = cpu_ns();
}

/* The thread's own figures at its end, then one line to side.txt. */
static void report(const work_t *w) {
  double own_pct = 100.0 * (double)(cpu_ns() - w->cpu0) / (double)(now_ns() - w->wall0);
  pid_t tid = (pid_t)syscall(SYS_gettid);
  char path[128], stat[1024], sched[256], io[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
  long sr = read_file(path, sched, sizeof sched);
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  read_file(path, stat, sizeof stat);
  read_file("/proc/thread-self/io", io, sizeof io);
  unsigned long long ut = 0, st = 0;
  const char *p = strrchr(stat, ')');
  if (p) /* fields 3.. after "pid (comm)": utime and stime are fields 14 and 15 */
    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st);
  char line[512];
  int n = snprintf(line, sizeof line,
                   "%s tid=%d utime=%llu stime=%llu clk_tck=%ld sched_ns=%llu rchar=%llu "
                   "wchar=%llu syscr=%llu syscw=%llu writes=%llu write_bytes=%llu mallocs=%llu "
                   "peak_bytes=%llu own_reads=%d own_writes=1 own_cpu_pct=%.2f\n",
                   w->role, (int)tid, ut, st, sysconf(_SC_CLK_TCK),
                   sr > 0 ? strtoull(sched, NULL, 10) : 0ull, kv(io, "rchar"), kv(io, "wchar"),
                   kv(io, "syscr"), kv(io, "syscw"), w->writes, w->write_bytes, w->mallocs,
                   w->peak_bytes, sr > 0 ? 3 : 2, own_pct);
  if (write(side_fd, line, (size_t)n) != n)
    abort();
}

static void *spinner(void *arg) {
  work_t *w = arg;
  start(w);
  uint64_t t0 = now_ns();
  volatile uint64_t x = 1;
  while (now_ns() - t0 < LIFE_NS)
    for (int i = 0; i < 1000; i++)
      x = x * 6364136223846793005ull + 1442695040888963407ull;
  report(w);
  return NULL;
}

static void *writer(void *arg) {
  work_t *w = arg;
  start(w);
  char path[4096];
  snprintf(path, sizeof path, "%s/io.dat", dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    abort();
  static const char rec[16] = "0123456789abcde";
  uint64_t t0 = now_ns();
  /* Small writes, and a data sync every 32 of them: the thread waits on the disk. */
  while (w->writes < 2500 || now_ns() - t0 < LIFE_NS) {
    if (write(fd, rec, sizeof rec) != (ssize_t)sizeof rec)
      abort();
    w->writes++;
    w->write_bytes += sizeof rec;
    if (w->writes % 32 == 0)
      fdatasync(fd);
    if (w->writes >= 200000)
      break;
  }
  close(fd);
  report(w);
  return NULL;
}

static void *allocator(void *arg) {
  work_t *w = arg;
  enum { N = 2500 };
  static void *blocks[N];
  start(w);
  uint64_t t0 = now_ns();
  /* At least 5 rounds (25,000 records: the buffer is written about 16 times). */
  for (int round = 0; round < 5 || now_ns() - t0 < LIFE_NS; round++) {
    unsigned long long live = 0;
    for (int i = 0; i < N; i++) {
      size_t sz = 16 + (size_t)(i * 7919u % 16000u);
      blocks[i] = malloc(sz);
      if (!blocks[i])
        abort();
      memset(blocks[i], 1, 8);
      live += sz;
      w->mallocs++;
    }
    if (live > w->peak_bytes)
      w->peak_bytes = live;
    for (int i = 0; i < N; i++)
      free(blocks[i]);
  }
  report(w);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: res_threads DIR\n");
    return 2;
  }
  dir = argv[1];
  char path[4096];
  snprintf(path, sizeof path, "%s/side.txt", dir);
  side_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (side_fd < 0) {
    perror(path);
    return 2;
  }
  work_t w[3] = {{.role = "cpu"}, {.role = "io"}, {.role = "alloc"}};
  void *(*fn[3])(void *) = {spinner, writer, allocator};
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    if (pthread_create(&th[i], NULL, fn[i], &w[i]) != 0)
      return 1;
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  close(side_fd);
  return 0;
}
