/* test_resources.c: per-thread resources measured by the tracker (MARK subkind
 * MS_MARK_RESOURCES) held against what each thread of progs/res_threads.c measured itself in
 * /proc, through memscope-analyze's summary.json; and traces without resource records (a
 * trace of an older tracker, one written with the records off) still read, resources null.
 *
 * Usage: test_resources TEST LIB PROGRAM ANALYZE WORK_DIR [SEED] */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#define ARG_LIB t_argv[2]
#define ARG_PROG t_argv[3]
#define ARG_ANALYZE t_argv[4]
#define ARG_WORK t_argv[5]

/* Runs argv with the extra VAR=VALUE settings; it must exit 0. */
static void run(const char *const *env, const char *const *argv) {
  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; env && env[i]; i++)
      putenv((char *)env[i]);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  int st;
  T_EQ_INT(pid, waitpid(pid, &st, 0));
  if (!WIFEXITED(st) || WEXITSTATUS(st))
    fprintf(stderr, "%s exited with status 0x%x\n", argv[0], st);
  T_TRUE(WIFEXITED(st));
  T_EQ_INT(0, WEXITSTATUS(st));
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f)
    fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
  T_TRUE(f != NULL);
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  size_t r;
  while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n < 2)
      buf = realloc(buf, cap *= 2);
  }
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* A fresh directory WORK/name. */
static void fresh_dir(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", ARG_WORK, name);
  const char *rm[] = {"/bin/rm", "-rf", out, NULL};
  run(NULL, rm);
  const char *mk[] = {"/bin/mkdir", "-p", out, NULL};
  run(NULL, mk);
}

/* memscope-analyze TRACE --out OUT --no-symbols; returns summary.json parsed. */
static cJSON *analyze(const char *trace, const char *out) {
  const char *argv[] = {ARG_ANALYZE, trace, "--out", out, "--no-symbols", NULL};
  run(NULL, argv);
  char path[4200];
  snprintf(path, sizeof path, "%s/summary.json", out);
  char *text = slurp(path);
  cJSON *s = cJSON_Parse(text);
  free(text);
  T_TRUE(s != NULL);
  return s;
}

static const cJSON *thread_by_tid(const cJSON *summary, long tid) {
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(summary, "threads")) {
    const cJSON *v = cJSON_GetObjectItem(t, "tid");
    if (cJSON_IsNumber(v) && (long)v->valuedouble == tid)
      return t;
  }
  fprintf(stderr, "no thread %ld in summary.json\n", tid);
  exit(1);
}

/* A number that must be there. */
static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  if (!cJSON_IsNumber(v)) {
    char *s = cJSON_Print(o);
    fprintf(stderr, "%s is not a number in %s\n", k, s);
    exit(1);
  }
  return v->valuedouble;
}

/* key=N in a side.txt line. */
static double side(const char *line, const char *key) {
  char k[64];
  snprintf(k, sizeof k, " %s=", key);
  const char *p = strstr(line, k);
  if (!p) {
    fprintf(stderr, "no %s in side.txt line: %s\n", key, line);
    exit(1);
  }
  return strtod(p + strlen(k), NULL);
}

static const char *side_line(const char *text, const char *role) {
  static char line[1024];
  for (const char *p = text; *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    if (n < sizeof line && !strncmp(p, role, strlen(role)) && p[strlen(role)] == ' ') {
      memcpy(line, p, n);
      line[n] = 0;
      return line;
    }
    if (!nl)
      break;
    p = nl + 1;
  }
  fprintf(stderr, "no %s line in side.txt:\n%s\n", role, text);
  exit(1);
}

/* Runs the program under the tracker and analyzes its trace. */
static cJSON *traced_run(const char *name, const char *extra_env, char **side_text) {
  char work[4096], trace[4200], out[4200];
  fresh_dir(work, sizeof work, name);
  snprintf(trace, sizeof trace, "%s/trace", work);
  snprintf(out, sizeof out, "%s/out", work);
  char e_out[4300], e_pre[4300];
  snprintf(e_out, sizeof e_out, "MEMSCOPE_OUT=%s", trace);
  snprintf(e_pre, sizeof e_pre, "LD_PRELOAD=%s", ARG_LIB);
  const char *env[] = {e_out, e_pre, extra_env, NULL};
  const char *argv[] = {ARG_PROG, work, NULL};
  run(env, argv);
  char path[4300];
  snprintf(path, sizeof path, "%s/side.txt", work);
  *side_text = slurp(path);
  return analyze(trace, out);
}

/* Every figure of the three threads against their own /proc readings. */
static void threads(void) {
  char *text;
  cJSON *s = traced_run("threads", NULL, &text);
  printf("side.txt:\n%s", text);
  const char *roles[] = {"cpu", "io", "alloc"};
  for (int i = 0; i < 3; i++) {
    const char *l = side_line(text, roles[i]);
    const cJSON *t = thread_by_tid(s, (long)side(l, "tid"));
    const cJSON *r = cJSON_GetObjectItem(t, "resources");
    T_TRUE(cJSON_IsObject(r));
    T_STR_EQ("tracker", cJSON_GetStringValue(cJSON_GetObjectItem(r, "source")));
    T_STR_EQ("thread_exit", cJSON_GetStringValue(cJSON_GetObjectItem(r, "last_record")));
    double cpu = num(r, "cpu_time_s"), hz = side(l, "clk_tck");
    double stat_s = (side(l, "utime") + side(l, "stime")) / hz;
    double sched_s = side(l, "sched_ns") / 1e9;
    const cJSON *tio = cJSON_GetObjectItem(r, "tracker_io");
    printf("%s: cpu_time_s %.6f (stat %.3f, schedstat %.6f), user %.6f sys %.6f, lifetime "
           "%.6f, cpu_percent %.1f, ctxt %g/%g, io_ops %g (read %g, write %g ops; %g / %g "
           "bytes), tracker_io %g/%g ops %g/%g bytes, samples %g, role %s\n",
           roles[i], cpu, stat_s, sched_s, num(r, "cpu_user_s"), num(r, "cpu_sys_s"),
           num(r, "lifetime_s"), num(r, "cpu_percent"), num(r, "voluntary_ctxt_switches"),
           num(r, "involuntary_ctxt_switches"), num(r, "io_ops"), num(r, "io_read_ops"),
           num(r, "io_write_ops"), num(r, "io_read_bytes"), num(r, "io_write_bytes"),
           num(tio, "read_ops"), num(tio, "write_ops"), num(tio, "read_bytes"),
           num(tio, "write_bytes"), num(r, "samples"),
           cJSON_GetStringValue(cJSON_GetObjectItem(t, "role")));
    /* /proc/.../stat: utime and stime each rounded down to a clock tick; the tracker's figure
     * is taken a little later (the thread's last record, at its exit). Within 10 ms of the
     * ticks' sum plus the rounding of each, and within 10 ms of the ns figure. */
    T_TRUE(cpu >= stat_s - 0.010 && cpu <= stat_s + 2.0 / hz + 0.010);
    if (sched_s > 0)
      T_TRUE(fabs(cpu - sched_s) <= 0.010);
    /* The flat keys carry the same figures. */
    T_NEAR(cpu, num(t, "cpu_time_s"), 1e-12);
    T_NEAR(num(r, "cpu_percent"), num(t, "cpu_percent"), 1e-12);
    T_NEAR(num(r, "io_ops"), num(t, "io_ops"), 1e-12);
    T_NEAR(num(r, "io_read_ops") + num(r, "io_write_ops"), num(r, "io_ops"), 1e-12);
    T_TRUE(num(r, "samples") >= 2);
    /* I/O: between the thread's own reading of /proc/thread-self/io and the tracker's last
     * record (at its exit) the thread made own_writes writes and one read (the io read itself,
     * which its figures do not include) and the tracker none, so the kernel's counters at
     * the record are known exactly: program figure + tracker's own = that. */
    double own_reads = side(l, "own_reads"), own_writes = side(l, "own_writes");
    double syscw = side(l, "syscw"), syscr = side(l, "syscr");
    T_EQ_INT((long)(syscw + own_writes), (long)(num(r, "io_write_ops") + num(tio, "write_ops")));
    T_EQ_INT((long)(syscr + 1), (long)(num(r, "io_read_ops") + num(tio, "read_ops")));
    /* The program's figures are what it did itself, not the tracker's writes of its trace:
     * at least the calls it counted, and not many more (libunwind's memory checks through
     * a pipe, a few 1-byte calls a thread, are the only other calls). */
    double writes = side(l, "writes");
    T_TRUE(num(r, "io_write_ops") >= writes + own_writes);
    T_TRUE(num(r, "io_write_ops") <= writes + own_writes + 16);
    T_TRUE(num(r, "io_read_ops") >= own_reads);
    T_TRUE(num(r, "io_read_ops") <= own_reads + 16);
    T_TRUE(num(r, "io_write_bytes") >= side(l, "write_bytes"));
    if (!strcmp(roles[i], "io"))
      T_TRUE(writes >= 2500);
    /* CPU share: the tracker's (first to last record) against the thread's own (first
     * allocator call to its measurement), nearly the same interval; on an idle machine the
     * spinner has a CPU to itself. */
    double own_pct = side(l, "own_cpu_pct");
    T_TRUE(fabs(num(r, "cpu_percent") - own_pct) <= 10);
    if (!strcmp(roles[i], "cpu") && own_pct > 90)
      T_TRUE(num(r, "cpu_percent") > 80);
    if (!strcmp(roles[i], "alloc")) {
      /* Its buffer was written many times: the tracker's own writes were there to subtract. */
      T_TRUE(num(tio, "write_ops") >= 10);
      T_TRUE(num(r, "samples") >= 3);
      T_TRUE(num(t, "allocations") >= side(l, "mallocs"));
      T_STR_EQ("memory_intensive", cJSON_GetStringValue(cJSON_GetObjectItem(t, "role")));
    }
  }
  cJSON_Delete(s);
  free(text);
}

/* Every thread of s has resources null, a reason, and null flat figures. */
static void all_null(const cJSON *s) {
  const cJSON *t;
  int n = 0;
  cJSON_ArrayForEach(t, cJSON_GetObjectItem(s, "threads")) {
    T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(t, "resources")));
    T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(t, "resources_reason")), "no resource record");
    T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(t, "cpu_percent")));
    T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(t, "cpu_time_s")));
    T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(t, "io_ops")));
    n++;
  }
  T_TRUE(n > 0);
}

/* A trace written with the records off (MEMSCOPE_TEST_RESOURCES=0): what a tracker before
 * them wrote. It reads; every thread is there with its counts, resources null. */
static void records_off(void) {
  char *text;
  cJSON *s = traced_run("records_off", "MEMSCOPE_TEST_RESOURCES=0", &text);
  all_null(s);
  const char *l = side_line(text, "alloc");
  const cJSON *t = thread_by_tid(s, (long)side(l, "tid"));
  T_TRUE(num(t, "allocations") >= side(l, "mallocs"));
  cJSON_Delete(s);
  free(text);
}

/* A trace of the tracker before resource records: a seed of the trace reader's fuzz corpus
 * (docs/fuzz-targets.md's container: a flags byte, then parts of a kind byte, a u32 LE
 * length and the bytes: M meta.txt, P maps.txt, T a thread file, R the rings file). */
static void older_tracker(void) {
  char work[4096], run_dir[4200], out[4200];
  fresh_dir(work, sizeof work, "older_tracker");
  snprintf(run_dir, sizeof run_dir, "%s/memscope.1.0", work);
  snprintf(out, sizeof out, "%s/out", work);
  T_EQ_INT(0, mkdir(run_dir, 0700));
  int fd = open(t_argv[6], O_RDONLY);
  T_TRUE(fd >= 0);
  static uint8_t buf[1 << 22];
  ssize_t size = read(fd, buf, sizeof buf);
  close(fd);
  T_TRUE(size > 1);
  int threads = 0;
  for (size_t off = 1; off + 5 <= (size_t)size;) {
    uint8_t kind = buf[off];
    uint32_t len;
    memcpy(&len, buf + off + 1, 4);
    off += 5;
    T_TRUE(len <= (size_t)size - off);
    char name[128] = "";
    if (kind == 'M')
      snprintf(name, sizeof name, "meta.txt");
    else if (kind == 'P')
      snprintf(name, sizeof name, "maps.txt");
    else if (kind == 'T') {
      uint32_t pid, tid;
      memcpy(&pid, buf + off + 12, 4);
      memcpy(&tid, buf + off + 16, 4);
      snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", pid, tid);
      threads++;
    }
    if (name[0]) {
      char path[4400];
      snprintf(path, sizeof path, "%s/%s", run_dir, name);
      int w = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
      T_TRUE(w >= 0);
      T_EQ_INT((ssize_t)len, write(w, buf + off, len));
      close(w);
    }
    off += len;
  }
  T_TRUE(threads >= 2);
  cJSON *s = analyze(run_dir, out);
  all_null(s);
  T_EQ_INT(threads, cJSON_GetArraySize(cJSON_GetObjectItem(s, "threads")));
  cJSON_Delete(s);
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {T_CASE(threads), T_CASE(records_off), T_CASE(older_tracker)};
  if (argc < 6 && !(argc == 2 && !strcmp(argv[1], "--list"))) {
    fprintf(stderr, "usage: test_resources TEST LIB PROGRAM ANALYZE WORK_DIR [SEED]\n");
    return 2;
  }
  return t_main(argc, argv, cases, sizeof cases / sizeof *cases);
}
