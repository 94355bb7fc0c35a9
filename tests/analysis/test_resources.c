/* test_resources.c: per-thread resources measured by the tracker (MARK subkind
 * MS_MARK_RESOURCES) held against what each thread of progs/res_threads.c measured itself in
 * /proc, through memscope-analyze's summary.json; and traces without resource records (a
 * trace of an older tracker, one written with the records off) still read, resources null.
 *
 * Usage: test_resources TEST LIB PROGRAM ANALYZE WORK_DIR SEED HARNESS;
 *        test_resources engine_records */
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

#include "ms_analyze.h"
#include "test_util.h"
#include "tracegen.h"

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
    if (!strcmp(roles[i], "io")) {
      T_TRUE(writes >= 2500);
      /* Over 2000 I/O operations: I/O-intensive by the default thresholds, whatever CPU the
       * writes cost (I/O takes precedence over CPU, docs/analysis.md). */
      T_STR_EQ("io_intensive", cJSON_GetStringValue(cJSON_GetObjectItem(t, "role")));
    }
    /* CPU share: the tracker's (first to last record) against the thread's own (first
     * allocator call to its measurement), nearly the same interval; on an idle machine the
     * spinner has a CPU to itself. */
    double own_pct = side(l, "own_cpu_pct");
    T_TRUE(fabs(num(r, "cpu_percent") - own_pct) <= 10);
    if (!strcmp(roles[i], "cpu") && own_pct > 90)
      T_TRUE(num(r, "cpu_percent") > 80);
    /* The spinner is CPU-intensive (> 25 % of a CPU) when it got that share by its own
     * measurement; on a machine so loaded that it did not (its own figure within 10 points
     * of the threshold), the role is not asserted, and the output says so. */
    if (!strcmp(roles[i], "cpu")) {
      if (own_pct > 35)
        T_STR_EQ("cpu_intensive", cJSON_GetStringValue(cJSON_GetObjectItem(t, "role")));
      else if (own_pct < 15)
        T_TRUE(strcmp("cpu_intensive", cJSON_GetStringValue(cJSON_GetObjectItem(t, "role"))));
      else
        printf("cpu: own share %.1f %% is within 10 points of the 25 %% threshold: role not "
               "asserted\n", own_pct);
    }
    if (!strcmp(roles[i], "alloc")) {
      /* Its buffer was written several times: the tracker's own writes were there to
       * subtract. Chunks go to the file a 64 KiB stage at a time (docs/tracker.md, "Staged
       * chunks"): its ~120 KB of trace are the file header, a full stage and the last one. */
      T_TRUE(num(tio, "write_ops") >= 3);
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

/* memscope-harness run: its /proc samples do not replace what the tracker measured (its
 * merge fills only figures the analysis left null). */
static void harness_run(void) {
  char work[4096], out[4200];
  fresh_dir(work, sizeof work, "harness_run");
  snprintf(out, sizeof out, "%s/out", work);
  const char *argv[] = {t_argv[7], "run", "--out", out, "--lib", ARG_LIB, "--no-progress",
                        "--", ARG_PROG, work, NULL};
  run(NULL, argv);
  char path[4300];
  snprintf(path, sizeof path, "%s/summary.json", out);
  char *json = slurp(path);
  cJSON *s = cJSON_Parse(json);
  T_TRUE(s != NULL);
  snprintf(path, sizeof path, "%s/side.txt", work);
  char *text = slurp(path);
  const char *roles[] = {"cpu", "io", "alloc"};
  for (int i = 0; i < 3; i++) {
    const cJSON *t = thread_by_tid(s, (long)side(side_line(text, roles[i]), "tid"));
    const cJSON *r = cJSON_GetObjectItem(t, "resources");
    T_STR_EQ("tracker", cJSON_GetStringValue(cJSON_GetObjectItem(r, "source")));
    T_NEAR(num(r, "cpu_time_s"), num(t, "cpu_time_s"), 1e-12);
    T_NEAR(num(r, "cpu_percent"), num(t, "cpu_percent"), 1e-12);
    T_NEAR(num(r, "io_ops"), num(t, "io_ops"), 1e-12);
    T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(t, "role_basis")), "tracker");
  }
  cJSON_Delete(s);
  free(json);
  free(text);
}

/* ---- the engine on a written trace: records given to the right threads ------------------ */

#define PID 4242u
#define RUN_ID 77u
#define MS 1000000ull /* clock=monotonic: ts in ns */

/* A resource record's payload, encoded here from docs/trace-format.md section 3.4 (LEB128),
 * not with format/ms_format.h: the reader is held to the document. f: the 17 fields. */
static size_t res_payload(uint8_t *out, const uint64_t *f, int nfields) {
  size_t o = 0;
  uint64_t vals[19];
  vals[0] = (uint64_t)nfields;
  memcpy(vals + 1, f, (size_t)nfields * sizeof *f);
  for (int i = 0; i <= nfields; i++) {
    uint64_t v = vals[i];
    do {
      out[o++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
      v >>= 7;
    } while (v);
  }
  return o;
}

/* reason, tid, seq, have, cpu_ns, utime_us, stime_us, nvcsw, nivcsw, rchar, wchar, syscr,
 * syscw, own_read_ops, own_write_ops, own_read_bytes, own_write_bytes */
static void res_mark(tg_file_t *f, uint64_t ts, const uint64_t *fields, int nfields) {
  uint8_t buf[256];
  tg_mark_bytes(f, ts, 6, buf, res_payload(buf, fields, nfields));
}

static tg_file_t *thread_file(const char *dir, uint32_t tid, uint32_t seq) {
  char name[64];
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, tid);
  tg_file_t *f = tg_open(dir, name, 1, PID, tid, seq, RUN_ID);
  tg_chunk(f, 0, 0, 0);
  return f;
}

static const cJSON *res_of(const cJSON *s, long tid) {
  return cJSON_GetObjectItem(thread_by_tid(s, tid), "resources");
}

/* Thread 100: attach and exit records. Thread 200: its attach, then a record taken by thread
 * 100 at process end (reason 5, in 100's file). Thread 300: one record. Thread 400: a
 * payload cut short (unreadable: counted, no figure). Thread 500: a record with fields of a
 * later tracker appended (skipped), and one without I/O figures. */
static void engine_records(void) {
  char *dir = tg_mkdtemp("an-resources");
  tg_write_meta(dir, PID, RUN_ID, "monotonic", NULL, 1);
  tg_write_text(dir, "maps.txt", "# maps 1\n00001000-00002000 r-xp 00000000 08:01 11 /x\n");
  tg_file_t *a = thread_file(dir, 100, 0), *b = thread_file(dir, 200, 1),
            *c = thread_file(dir, 300, 2), *d = thread_file(dir, 400, 3),
            *e = thread_file(dir, 500, 4);
  const uint64_t a0[17] = {1, 100, 0, 15, 1 * MS, 900, 100, 1, 0, 4000, 50, 10, 4, 3, 2, 3000, 40};
  const uint64_t a1[17] = {3, 100, 0, 15, 51 * MS, 40000, 11000, 7, 3, 9000, 200000, 30, 1110,
                           8, 6, 4000, 120000};
  const uint64_t b0[17] = {1, 200, 1, 15, 2 * MS, 2000, 0, 0, 0, 0, 7, 0, 1, 0, 1, 0, 7};
  const uint64_t b1[17] = {5, 200, 1, 15, 82 * MS, 70000, 10000, 2, 9, 93, 500, 1, 31, 1, 11, 93,
                           90000};
  const uint64_t c0[17] = {1, 300, 2, 15, 1 * MS, 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const uint64_t e0[18] = {1, 500, 4, 7, 3 * MS, 3000, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 12345};
  const uint64_t e1[18] = {3, 500, 4, 7, 13 * MS, 13000, 0, 2, 2, 5, 5, 5, 5, 0, 0, 0, 0, 99};
  tg_alloc(a, 1 * MS, 0xa0, 100, 0);
  res_mark(a, 1 * MS, a0, 17);
  tg_alloc(b, 50 * MS, 0xb0, 100, 0);
  res_mark(b, 50 * MS, b0, 17);
  res_mark(a, 101 * MS, a1, 17);
  res_mark(a, 150 * MS, b1, 17);
  tg_alloc(c, 5 * MS, 0xc0, 100, 0);
  res_mark(c, 5 * MS, c0, 17);
  tg_alloc(d, 6 * MS, 0xd0, 100, 0);
  const uint8_t cut[3] = {17, 1, 0x80}; /* 17 fields announced, a varint cut off */
  tg_mark_bytes(d, 6 * MS, 6, cut, sizeof cut);
  tg_alloc(e, 7 * MS, 0xe0, 100, 0);
  res_mark(e, 7 * MS, e0, 18);
  res_mark(e, 27 * MS, e1, 18);
  tg_end_chunk(a);
  tg_end_chunk(b);
  tg_end_chunk(c);
  tg_end_chunk(d);
  tg_end_chunk(e);
  tg_close(a);
  tg_close(b);
  tg_close(c);
  tg_close(d);
  tg_close(e);
  ms_analysis_t *an = NULL;
  char err[512] = "";
  T_EQ_INT(0, ms_analyze_run(dir, NULL, &an, err, sizeof err));
  cJSON *s = ms_analysis_summary_json(an);
  /* Resource records are not the program's marks. */
  T_EQ_INT(0, ms_analysis_totals(an)->marks);

  const cJSON *r = res_of(s, 100);
  T_STR_EQ("tracker", cJSON_GetStringValue(cJSON_GetObjectItem(r, "source")));
  T_NEAR(0.051, num(r, "cpu_time_s"), 1e-12);
  T_NEAR(0.040, num(r, "cpu_user_s"), 1e-12);
  T_NEAR(0.011, num(r, "cpu_sys_s"), 1e-12);
  T_NEAR(0.100, num(r, "lifetime_s"), 1e-12);
  T_NEAR(50.0, num(r, "cpu_percent"), 1e-9); /* (51 - 1) ms of CPU in 100 ms */
  T_EQ_INT(7, (long)num(r, "voluntary_ctxt_switches"));
  T_EQ_INT(3, (long)num(r, "involuntary_ctxt_switches"));
  T_EQ_INT(30 - 8, (long)num(r, "io_read_ops"));
  T_EQ_INT(1110 - 6, (long)num(r, "io_write_ops"));
  T_EQ_INT(22 + 1104, (long)num(r, "io_ops"));
  T_EQ_INT(9000 - 4000, (long)num(r, "io_read_bytes"));
  T_EQ_INT(200000 - 120000, (long)num(r, "io_write_bytes"));
  T_EQ_INT(6, (long)num(cJSON_GetObjectItem(r, "tracker_io"), "write_ops"));
  T_EQ_INT(2, (long)num(r, "samples"));
  T_STR_EQ("thread_exit", cJSON_GetStringValue(cJSON_GetObjectItem(r, "last_record")));
  const cJSON *t = thread_by_tid(s, 100);
  T_NEAR(50.0, num(t, "cpu_percent"), 1e-9);
  T_NEAR(0.051, num(t, "cpu_time_s"), 1e-12);
  T_EQ_INT(1126, (long)num(t, "io_ops"));

  r = res_of(s, 200); /* its attach, then the record thread 100 took of it */
  T_NEAR(0.082, num(r, "cpu_time_s"), 1e-12);
  T_NEAR(0.100, num(r, "lifetime_s"), 1e-12);
  T_NEAR(80.0, num(r, "cpu_percent"), 1e-9);
  T_EQ_INT(31 - 11, (long)num(r, "io_write_ops"));
  T_STR_EQ("attach", cJSON_GetStringValue(cJSON_GetObjectItem(r, "first_record")));
  T_STR_EQ("process_end_other", cJSON_GetStringValue(cJSON_GetObjectItem(r, "last_record")));

  t = thread_by_tid(s, 300);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(t, "resources")));
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(t, "resources_reason")),
             "one resource record only (at attach)");
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(t, "cpu_time_s")));

  t = thread_by_tid(s, 400);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(t, "resources")));
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(t, "resources_reason")),
             "no resource record");

  r = res_of(s, 500); /* have = 7: no I/O figures; an 18th field skipped */
  T_NEAR(0.013, num(r, "cpu_time_s"), 1e-12);
  T_NEAR(50.0, num(r, "cpu_percent"), 1e-9);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(r, "io_ops")));
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(thread_by_tid(s, 500), "io_ops")));
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(r, "missing")), "/proc/thread-self/io");
  cJSON_Delete(s);
  ms_analysis_free(an);
  tg_rmrf(dir);
  free(dir);
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {T_CASE(threads), T_CASE(records_off), T_CASE(older_tracker),
                                   T_CASE(engine_records), T_CASE(harness_run)};
  if (argc < 6 && !(argc == 2 && !strcmp(argv[1], "--list")) &&
      !(argc == 2 && !strcmp(argv[1], "engine_records"))) {
    fprintf(stderr, "usage: test_resources TEST LIB PROGRAM ANALYZE WORK_DIR SEED HARNESS\n");
    return 2;
  }
  return t_main(argc, argv, cases, sizeof cases / sizeof *cases);
}
