/* test_roles.c: ms_roles_apply on crafted summary.json trees (roles and their precedence,
 * alerts at their boundaries, thresholds from a file and KEY=VALUE and their errors, the
 * correlation against an independent computation, the bottleneck order). One test per
 * process: test_roles NAME. */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ms_analyze.h"
#include "test_util.h"

/* One thread object. cpu/io < 0 write null (unknown). */
static char *thread_text(int tid, const char *name, double peak, double allocs, double cpu,
                         double io) {
  char cpu_s[32] = "null", io_s[32] = "null";
  if (cpu >= 0)
    snprintf(cpu_s, sizeof cpu_s, "%.17g", cpu);
  if (io >= 0)
    snprintf(io_s, sizeof io_s, "%.17g", io);
  char *s = NULL;
  if (asprintf(&s,
               "{\"tid\": %d, \"name\": \"%s\", \"tracked\": true, \"allocations\": %.17g, "
               "\"frees\": 0, \"allocated_bytes\": 100, \"peak_live_bytes\": %.17g, "
               "\"alloc_rate_per_s\": 10, \"allocated_bytes_per_s\": 1000, "
               "\"cpu_percent\": %s, \"io_ops\": %s}",
               tid, name, allocs, peak, cpu_s, io_s) < 0)
    abort();
  return s;
}

/* A summary with the given thread objects (JSON texts, freed here). */
static cJSON *summary_of(char **threads, size_t n) {
  size_t len = 64;
  for (size_t i = 0; i < n; i++)
    len += strlen(threads[i]) + 2;
  char *text = malloc(len);
  T_TRUE(text != NULL);
  strcpy(text, "{\"threads\": [");
  for (size_t i = 0; i < n; i++) {
    if (i)
      strcat(text, ",");
    strcat(text, threads[i]);
    free(threads[i]);
  }
  strcat(text, "]}");
  cJSON *s = cJSON_Parse(text);
  free(text);
  T_TRUE(s != NULL);
  return s;
}

static cJSON *thread_at(const cJSON *s, int i) {
  return cJSON_GetArrayItem(cJSON_GetObjectItem(s, "threads"), i);
}
static const char *str_at(const cJSON *s, int i, const char *k) {
  return cJSON_GetStringValue(cJSON_GetObjectItem(thread_at(s, i), k));
}
static const cJSON *path2(const cJSON *s, const char *a, const char *b) {
  return cJSON_GetObjectItem(cJSON_GetObjectItem(s, a), b);
}

/* ---- roles ---------------------------------------------------------------------------- */

static void role_each_class_and_precedence(void) {
  char *t[] = {
      /* 0: everything passed: memory comes first */
      thread_text(1, "all", 18000001, 1201, 99, 5000),
      /* 1: I/O and CPU: I/O before CPU */
      thread_text(2, "io_cpu", 100, 5000, 99, 2001),
      /* 2: CPU only (I/O at its threshold: not above) */
      thread_text(3, "cpu", 100, 5000, 25.001, 2000),
      /* 3: peak passed, allocations at 1200 (not above): not memory; balanced by count */
      thread_text(4, "peak_only", 18000001, 1200, 25, 0),
      /* 4: allocations passed, peak at 18 MB (not above): balanced */
      thread_text(5, "allocs_only", 18000000, 1201, 0, 0),
      /* 5: balanced at exactly 1000 allocations */
      thread_text(6, "balanced", 0, 1000, 10, 10),
      /* 6: light */
      thread_text(7, "light", 0, 999, 10, 10),
      /* 7: unknown CPU and I/O with everything else light */
      thread_text(8, "unknown", 0, 3, -1, -1),
      /* 8: memory intensive with unknown CPU/I/O */
      thread_text(9, "mem_unknown", 30000000, 5000, -1, -1),
  };
  cJSON *s = summary_of(t, sizeof t / sizeof *t);
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  const char *want[] = {"memory_intensive", "io_intensive", "cpu_intensive", "balanced",
                        "balanced", "balanced", "light", "light", "memory_intensive"};
  for (int i = 0; i < 9; i++)
    T_STR_EQ(want[i], str_at(s, i, "role"));
  /* Counts by role agree with the threads. */
  const cJSON *c = path2(s, "roles", "counts");
  T_EQ_INT(2, cJSON_GetObjectItem(c, "memory_intensive")->valueint);
  T_EQ_INT(1, cJSON_GetObjectItem(c, "io_intensive")->valueint);
  T_EQ_INT(1, cJSON_GetObjectItem(c, "cpu_intensive")->valueint);
  T_EQ_INT(3, cJSON_GetObjectItem(c, "balanced")->valueint);
  T_EQ_INT(2, cJSON_GetObjectItem(c, "light")->valueint);
  T_STR_EQ("defaults", cJSON_GetStringValue(path2(s, "roles", "thresholds_source")));
  const cJSON *pre = path2(s, "roles", "precedence");
  T_STR_EQ("memory_intensive", cJSON_GetArrayItem(pre, 0)->valuestring);
  T_STR_EQ("io_intensive", cJSON_GetArrayItem(pre, 1)->valuestring);
  T_STR_EQ("cpu_intensive", cJSON_GetArrayItem(pre, 2)->valuestring);
  /* role_basis says which figures were known. */
  T_STR_EQ("known: peak_live_bytes, allocations, cpu_percent, io_ops", str_at(s, 0, "role_basis"));
  T_STR_EQ("known: peak_live_bytes, allocations; unknown: cpu_percent, io_ops",
           str_at(s, 7, "role_basis"));
  T_CONTAINS(str_at(s, 1, "role_reason"), "io_ops 2001 > 2000");
  /* 25.001 is not written as 25 beside the threshold 25. */
  T_STR_EQ("cpu_percent 25.001 > 25", str_at(s, 2, "role_reason"));
  T_STR_EQ("peak_live_bytes 18000001 > 18000000 and allocations 1201 > 1200",
           str_at(s, 0, "role_reason"));
  /* A second call replaces, never duplicates. */
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  int n = 0;
  const cJSON *k;
  cJSON_ArrayForEach(k, thread_at(s, 0)) n += !strcmp(k->string, "role");
  T_EQ_INT(1, n);
  n = 0;
  cJSON_ArrayForEach(k, s) n += !strcmp(k->string, "roles");
  T_EQ_INT(1, n);
  cJSON_Delete(s);
}

/* Unknown figures: a missing key is unknown as null is; CPU and I/O from threads[].resources
 * when the flat keys are null; a thread with no memory figures (seen by /proc only). */
static void role_unknown_and_resources(void) {
  cJSON *s = cJSON_Parse(
      "{\"threads\": ["
      "{\"tid\": 1, \"tracked\": true, \"allocations\": 5, \"peak_live_bytes\": 10,"
      " \"cpu_percent\": null, \"io_ops\": null,"
      " \"resources\": {\"source\": \"tracker\", \"cpu_percent\": 80, \"io_ops\": 3}},"
      "{\"tid\": 2, \"tracked\": false, \"resources\": {\"source\": \"proc\", \"io_ops\": 9000}},"
      "{\"tid\": 3, \"tracked\": false}]}");
  T_TRUE(s != NULL);
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  T_STR_EQ("cpu_intensive", str_at(s, 0, "role"));
  T_STR_EQ("high", str_at(s, 0, "alert"));
  T_STR_EQ("known: peak_live_bytes, allocations, cpu_percent, io_ops; resources: tracker",
           str_at(s, 0, "role_basis"));
  T_STR_EQ("io_intensive", str_at(s, 1, "role"));
  T_STR_EQ("known: io_ops; unknown: peak_live_bytes, allocations, cpu_percent; resources: proc",
           str_at(s, 1, "role_basis"));
  T_STR_EQ("light", str_at(s, 2, "role"));
  T_STR_EQ("normal", str_at(s, 2, "alert"));
  T_STR_EQ("unknown: peak_live_bytes, allocations, cpu_percent, io_ops", str_at(s, 2, "role_basis"));
  cJSON_Delete(s);
}

/* Alerts: strictly greater than each limit. */
static void alert_boundaries(void) {
  struct {
    double peak, cpu;
    const char *want;
  } c[] = {
      {20000001, -1, "high"},  {20000000, -1, "medium"}, {15000001, -1, "medium"},
      {15000000, -1, "normal"}, {0, 30.000001, "high"},  {0, 30, "medium"},
      {0, 20.000001, "medium"}, {0, 20, "normal"},      {0, -1, "normal"},
      {15000000, 20, "normal"}, {16000000, 31, "high"},
  };
  size_t n = sizeof c / sizeof *c;
  char *t[sizeof c / sizeof *c];
  for (size_t i = 0; i < n; i++)
    t[i] = thread_text((int)i + 1, "x", c[i].peak, 1, c[i].cpu, 0);
  cJSON *s = summary_of(t, n);
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  for (size_t i = 0; i < n; i++) {
    const char *got = str_at(s, (int)i, "alert");
    if (!got || strcmp(got, c[i].want))
      fprintf(stderr, "case %zu: peak %.0f cpu %g\n", i, c[i].peak, c[i].cpu);
    T_STR_EQ(c[i].want, got);
  }
  T_CONTAINS(str_at(s, 0, "alert_reason"), "peak_live_bytes 20000001 > 20000000");
  const cJSON *ac = path2(s, "roles", "alert_counts");
  T_EQ_INT(3, cJSON_GetObjectItem(ac, "high")->valueint);
  T_EQ_INT(4, cJSON_GetObjectItem(ac, "medium")->valueint);
  T_EQ_INT(4, cJSON_GetObjectItem(ac, "normal")->valueint);
  cJSON_Delete(s);
}

/* ---- thresholds --------------------------------------------------------------------------- */

static void thresholds_cli(void) {
  ms_role_thresholds_t th;
  memset(&th, 0, sizeof th);
  char err[1024];
  T_EQ_INT(0, ms_role_thresholds_set(&th, "cpu_percent=50", err, sizeof err));
  /* 0 given is kept: any I/O at all makes a thread I/O-intensive. */
  T_EQ_INT(0, ms_role_thresholds_set(&th, "io_ops=0", err, sizeof err));
  T_EQ_INT(0, ms_role_thresholds_set(&th, "memory_peak_bytes=1e3", err, sizeof err));
  T_EQ_INT(0, ms_role_thresholds_set(&th, "alert_high_cpu=45.5", err, sizeof err));
  char *t[] = {
      thread_text(1, "cpu40", 0, 1, 40, 0),   /* 40 % no longer above the CPU threshold */
      thread_text(2, "io1", 0, 1, 10, 1),     /* 1 I/O operation > 0 */
      thread_text(3, "cpu51", 0, 1, 51, 0),
      thread_text(4, "mem", 1001, 1201, 0, 0), /* 1001 B > 1000 B, 1201 > 1200 (default) */
  };
  cJSON *s = summary_of(t, 4);
  T_EQ_INT(0, ms_roles_apply(s, &th));
  T_STR_EQ("light", str_at(s, 0, "role"));
  T_STR_EQ("io_intensive", str_at(s, 1, "role"));
  T_STR_EQ("cpu_intensive", str_at(s, 2, "role"));
  T_STR_EQ("memory_intensive", str_at(s, 3, "role"));
  /* cpu 51 > alert_high_cpu 45.5; cpu 40 > medium default 20. */
  T_STR_EQ("high", str_at(s, 2, "alert"));
  T_STR_EQ("medium", str_at(s, 0, "alert"));
  const cJSON *v = path2(s, "roles", "thresholds");
  T_NEAR(50, cJSON_GetObjectItem(v, "cpu_percent")->valuedouble, 0);
  T_TRUE(cJSON_GetObjectItem(v, "io_ops")->valuedouble == 0);
  T_NEAR(1000, cJSON_GetObjectItem(v, "memory_peak_bytes")->valuedouble, 0);
  T_NEAR(45.5, cJSON_GetObjectItem(v, "alert_high_cpu")->valuedouble, 0);
  T_NEAR(1200, cJSON_GetObjectItem(v, "memory_allocations")->valuedouble, 0); /* default */
  T_STR_EQ("command line", cJSON_GetStringValue(path2(s, "roles", "thresholds_source")));
  /* Set in C without a source: not called "defaults". */
  ms_role_thresholds_t c_set;
  memset(&c_set, 0, sizeof c_set);
  c_set.io_ops = 5;
  T_EQ_INT(0, ms_roles_apply(s, &c_set));
  T_STR_EQ("ms_analysis_opts_t.roles", cJSON_GetStringValue(path2(s, "roles", "thresholds_source")));
  T_STR_EQ("cpu_intensive", str_at(s, 0, "role")); /* 40 % > the default 25 again */
  T_STR_EQ("light", str_at(s, 1, "role"));         /* 1 I/O operation, not above 5 */
  cJSON_Delete(s);
}

static char *write_temp(const char *text) {
  char *path = strdup("/tmp/ms_roles_test.XXXXXX");
  int fd = mkstemp(path);
  T_TRUE(fd >= 0);
  size_t n = strlen(text);
  T_EQ_INT((long long)n, write(fd, text, n));
  close(fd);
  return path;
}

static void thresholds_file(void) {
  char *path = write_temp("{\"memory_peak_bytes\": 500, \"memory_allocations\": 2,\n"
                          " \"alert_medium_bytes\": 100, \"cpu_percent\": 0}\n");
  ms_role_thresholds_t th;
  memset(&th, 0, sizeof th);
  char err[1024];
  T_EQ_INT(0, ms_role_thresholds_load(&th, path, err, sizeof err));
  T_STR_EQ(path, th.source);
  char *t[] = {
      thread_text(1, "mem", 501, 3, 0, 0),
      thread_text(2, "cpu", 500, 3, 0.5, 0),
      thread_text(3, "zero_cpu", 101, 3, 0, 0),
  };
  cJSON *s = summary_of(t, 3);
  T_EQ_INT(0, ms_roles_apply(s, &th));
  T_STR_EQ("memory_intensive", str_at(s, 0, "role"));
  T_STR_EQ("cpu_intensive", str_at(s, 1, "role")); /* 0.5 % > 0 */
  T_STR_EQ("light", str_at(s, 2, "role"));          /* 0 % is not above 0 */
  T_STR_EQ("medium", str_at(s, 2, "alert"));         /* 101 B > 100 B */
  /* The command line after the file: overrides it, and both are named. */
  T_EQ_INT(0, ms_role_thresholds_set(&th, "cpu_percent=1", err, sizeof err));
  T_EQ_INT(0, ms_roles_apply(s, &th));
  T_STR_EQ("light", str_at(s, 1, "role"));
  char want[512];
  snprintf(want, sizeof want, "%s + command line", path);
  T_STR_EQ(want, cJSON_GetStringValue(path2(s, "roles", "thresholds_source")));
  cJSON_Delete(s);
  unlink(path);
  free(path);
}

/* Every bad input: -EINVAL (or -errno), one line naming the key, thresholds unchanged. */
static void thresholds_errors(void) {
  ms_role_thresholds_t th, before;
  memset(&th, 0, sizeof th);
  char err[1024];
  T_EQ_INT(0, ms_role_thresholds_set(&th, "io_ops=7", err, sizeof err));
  before = th;
  struct {
    const char *arg, *says;
  } cli[] = {
      {"cpu_percnt=5", "unknown key 'cpu_percnt'"},
      {"cpu_percent", "KEY=VALUE"},
      {"=5", "KEY=VALUE"},
      {"cpu_percent=-1", "cpu_percent: -1 is not a threshold"},
      {"cpu_percent=abc", "cpu_percent: 'abc' is not a number"},
      {"cpu_percent=", "cpu_percent: '' is not a number"},
      {"cpu_percent=nan", "cpu_percent"},
      {"memory_peak_bytes=1.5", "memory_peak_bytes: 1.5 is not a whole number"},
      {"io_ops=1e400", "io_ops"},
  };
  for (size_t i = 0; i < sizeof cli / sizeof *cli; i++) {
    err[0] = 0;
    T_EQ_INT(-EINVAL, ms_role_thresholds_set(&th, cli[i].arg, err, sizeof err));
    T_CONTAINS(err, cli[i].says);
    T_TRUE(!strchr(err, '\n'));
    T_TRUE(!memcmp(&th, &before, sizeof th));
  }
  struct {
    const char *text, *says;
  } file[] = {
      {"{\"cpu_percent\": 5, \"colour\": 1}", "unknown key 'colour'"},
      {"{\"cpu_percent\": \"5\"}", "cpu_percent: give a number, not a string"},
      {"{\"io_ops\": null}", "io_ops: give a number, not null"},
      {"{\"io_ops\": true}", "io_ops: give a number, not true/false"},
      {"{\"alert_high_cpu\": -3}", "alert_high_cpu: -3 is not a threshold"},
      {"{\"alert_high_bytes\": 2.5}", "alert_high_bytes: 2.5 is not a whole number"},
      {"[1, 2]", "not a JSON object"},
      {"{\"cpu_percent\": 5", "not JSON"},
      {"", "not JSON"},
  };
  for (size_t i = 0; i < sizeof file / sizeof *file; i++) {
    char *path = write_temp(file[i].text);
    err[0] = 0;
    T_EQ_INT(-EINVAL, ms_role_thresholds_load(&th, path, err, sizeof err));
    T_CONTAINS(err, file[i].says);
    T_CONTAINS(err, path);
    T_TRUE(!strchr(err, '\n'));
    /* The good key before the bad one was not applied either. */
    T_TRUE(!memcmp(&th, &before, sizeof th));
    unlink(path);
    free(path);
  }
  T_EQ_INT(-ENOENT, ms_role_thresholds_load(&th, "/nonexistent/roles.json", err, sizeof err));
  T_CONTAINS(err, "/nonexistent/roles.json");
  T_EQ_INT(-EINVAL, ms_role_thresholds_load(&th, "/tmp", err, sizeof err));
  T_CONTAINS(err, "not a regular file");
  T_TRUE(!memcmp(&th, &before, sizeof th));
}

/* ---- correlation ------------------------------------------------------------------------ */

/* A tracked thread with cpu_percent x and allocated_bytes_per_s y (x < 0: null). */
static char *point_text(int tid, double x, double y) {
  char xs[32] = "null";
  if (x >= 0)
    snprintf(xs, sizeof xs, "%.17g", x);
  char *s = NULL;
  if (asprintf(&s,
               "{\"tid\": %d, \"name\": \"p%d\", \"tracked\": true, \"allocations\": 10, "
               "\"frees\": 5, \"allocated_bytes\": 100, \"peak_live_bytes\": 10, "
               "\"alloc_rate_per_s\": 100, \"allocated_bytes_per_s\": %.17g, "
               "\"cpu_percent\": %s, \"io_ops\": 0}",
               tid, tid, y, xs) < 0)
    abort();
  return s;
}

/* The textbook one-pass formulas, written apart from ms_roles.c's two-pass ones. */
static void textbook(const double *x, const double *y, size_t n, double *r, double *slope,
                     double *icpt) {
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < n; i++) {
    sx += x[i];
    sy += y[i];
    sxx += x[i] * x[i];
    syy += y[i] * y[i];
    sxy += x[i] * y[i];
  }
  double dn = (double)n;
  *r = (dn * sxy - sx * sy) / sqrt((dn * sxx - sx * sx) * (dn * syy - sy * sy));
  *slope = (dn * sxy - sx * sy) / (dn * sxx - sx * sx);
  *icpt = (sy - *slope * sx) / dn;
}

static void correlation_r(void) {
  /* A known example first: x 1..5, y 2 4 5 4 5: r = 0.6/sqrt(0.6) = sqrt(0.6), slope 0.6,
   * intercept 2.2. */
  double kx[] = {1, 2, 3, 4, 5}, ky[] = {2, 4, 5, 4, 5};
  char *t[8];
  for (int i = 0; i < 5; i++)
    t[i] = point_text(i + 1, kx[i], ky[i]);
  t[5] = point_text(6, -1, 1e6); /* no CPU figure: left out */
  /* not tracked: left out */
  if (asprintf(&t[6], "{\"tid\": 7, \"tracked\": false, \"cpu_percent\": 99, "
                      "\"allocated_bytes_per_s\": 0}") < 0)
    abort();
  /* allocations but a rate of 0 (one timestamp): the rate is unknown, left out */
  if (asprintf(&t[7], "{\"tid\": 8, \"tracked\": true, \"cpu_percent\": 50, \"allocations\": 1, "
                      "\"allocated_bytes\": 64, \"allocated_bytes_per_s\": 0}") < 0)
    abort();
  cJSON *s = summary_of(t, 8);
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  const cJSON *c = cJSON_GetObjectItem(s, "correlation");
  T_EQ_INT(5, cJSON_GetObjectItem(c, "n")->valueint);
  T_NEAR(sqrt(0.6), cJSON_GetObjectItem(c, "r")->valuedouble, 1e-12);
  T_NEAR(0.6, cJSON_GetObjectItem(c, "slope")->valuedouble, 1e-12);
  T_NEAR(2.2, cJSON_GetObjectItem(c, "intercept")->valuedouble, 1e-12);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(c, "reason")));
  T_EQ_INT(1, path2(c, "excluded", "no_cpu_percent")->valueint);
  T_EQ_INT(1, path2(c, "excluded", "no_allocation_rate")->valueint);
  const cJSON *pts = cJSON_GetObjectItem(c, "points");
  T_EQ_INT(5, cJSON_GetArraySize(pts));
  T_EQ_INT(3, cJSON_GetObjectItem(cJSON_GetArrayItem(pts, 2), "tid")->valueint);
  T_NEAR(5, cJSON_GetObjectItem(cJSON_GetArrayItem(pts, 2), "y")->valuedouble, 0);
  T_STR_EQ("cpu_percent", cJSON_GetStringValue(cJSON_GetObjectItem(c, "x")));
  T_STR_EQ("allocated_bytes_per_s", cJSON_GetStringValue(cJSON_GetObjectItem(c, "y")));
  cJSON_Delete(s);

  /* Then 40 pseudo-random points (a fixed LCG) against the textbook formulas. */
  enum { N = 40 };
  double x[N], y[N];
  char *u[N];
  uint64_t st = 12345;
  for (int i = 0; i < N; i++) {
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    x[i] = (double)(st >> 40) / (double)(1 << 24) * 100.0;
    st = st * 6364136223846793005ull + 1442695040888963407ull;
    y[i] = 3e5 * x[i] + (double)(st >> 40) * 10.0;
    u[i] = point_text(i + 1, x[i], y[i]);
  }
  s = summary_of(u, N);
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  c = cJSON_GetObjectItem(s, "correlation");
  double r, slope, icpt;
  textbook(x, y, N, &r, &slope, &icpt);
  T_EQ_INT(N, cJSON_GetObjectItem(c, "n")->valueint);
  T_NEAR(r, cJSON_GetObjectItem(c, "r")->valuedouble, 1e-9);
  T_NEAR(slope, cJSON_GetObjectItem(c, "slope")->valuedouble, 1e-9);
  T_NEAR(icpt, cJSON_GetObjectItem(c, "intercept")->valuedouble, 1e-6);
  T_TRUE(r > -1 && r < 1 && r != 0);
  cJSON_Delete(s);
}

static void correlation_too_few(void) {
  for (int n = 0; n < 3; n++) {
    char *t[2];
    for (int i = 0; i < n; i++)
      t[i] = point_text(i + 1, 10.0 * (i + 1), 100.0 * (i + 1));
    cJSON *s = summary_of(t, (size_t)n);
    T_EQ_INT(0, ms_roles_apply(s, NULL));
    const cJSON *c = cJSON_GetObjectItem(s, "correlation");
    T_EQ_INT(n, cJSON_GetObjectItem(c, "n")->valueint);
    T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(c, "r")));
    T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(c, "slope")));
    T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(c, "intercept")));
    T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(c, "reason")), "at least 3");
    T_EQ_INT(n, cJSON_GetArraySize(cJSON_GetObjectItem(c, "points")));
    cJSON_Delete(s);
  }
}

static void correlation_zero_variance(void) {
  /* Same x (0.1 three times: its mean is not exactly 0.1 in binary, the test is exact). */
  char *t[] = {point_text(1, 0.1, 1), point_text(2, 0.1, 2), point_text(3, 0.1, 3)};
  cJSON *s = summary_of(t, 3);
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  const cJSON *c = cJSON_GetObjectItem(s, "correlation");
  T_EQ_INT(3, cJSON_GetObjectItem(c, "n")->valueint);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(c, "r")));
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(c, "slope")));
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(c, "reason")), "same x");
  cJSON_Delete(s);
  /* Same y: r undefined, the line flat through the mean. */
  char *u[] = {point_text(1, 1, 7), point_text(2, 2, 7), point_text(3, 3, 7)};
  s = summary_of(u, 3);
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  c = cJSON_GetObjectItem(s, "correlation");
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(c, "r")));
  T_TRUE(cJSON_GetObjectItem(c, "slope")->valuedouble == 0);
  T_NEAR(7, cJSON_GetObjectItem(c, "intercept")->valuedouble, 0);
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(c, "reason")), "same y");
  cJSON_Delete(s);
}

/* ---- bottlenecks -------------------------------------------------------------------------- */

static void bottlenecks_order(void) {
  /* 12 hot stacks in scrambled order (k * 5 mod 12), two leaks of which the largest is
   * suppressed, four threads of which one has a measured lifetime. */
  char text[16384];
  size_t off = (size_t)snprintf(text, sizeof text, "{\"hot_stacks\": {\"by_count\": [");
  for (int i = 0; i < 12; i++) {
    int k = (i * 5) % 12;
    off += (size_t)snprintf(text + off, sizeof text - off,
                            "%s{\"allocations\": %d, \"allocated_bytes\": %d, \"stack_id\": %d, "
                            "\"stack_known\": true, \"stack\": [{\"function\": \"\", \"address\": "
                            "\"0x1\"}, {\"function\": \"f%d\", \"address\": \"0x2\"}]}",
                            i ? "," : "", 100 + k, 1000 - k, k + 1, k);
  }
  off += (size_t)snprintf(text + off, sizeof text - off,
      "], \"by_bytes\": [{\"allocations\": 1, \"allocated_bytes\": 10, \"stack_id\": 1, \"stack\": []},"
      "{\"allocations\": 9, \"allocated_bytes\": 30, \"stack_id\": 2, \"stack\": []},"
      "{\"allocations\": 5, \"allocated_bytes\": 30, \"stack_id\": 3, \"stack\": []}]},"
      "\"leaks\": [{\"bytes\": 64, \"blocks\": 1, \"suppressed\": false, \"stack_id\": 4, \"stack\": []},"
      "{\"bytes\": 9999, \"blocks\": 3, \"suppressed\": true, \"stack_id\": 5, \"stack\": []},"
      "{\"bytes\": 128, \"blocks\": 2, \"suppressed\": false, \"stack_id\": 6, \"stack\": []}],"
      "\"threads\": ["
      /* 15 calls / (10 / 100 per s = 0.1 s) = 150 per s */
      "{\"tid\": 1, \"name\": \"a\", \"allocations\": 10, \"frees\": 5, \"alloc_rate_per_s\": 100},"
      /* 30 calls / 0.5 s (resources) = 60 per s, though its event span would say more */
      "{\"tid\": 2, \"name\": \"b\", \"allocations\": 20, \"frees\": 10, \"alloc_rate_per_s\": 1000,"
      " \"resources\": {\"lifetime_s\": 0.5}},"
      /* 4 calls / (2 / 1 per s = 2 s) = 2 per s */
      "{\"tid\": 3, \"name\": \"c\", \"allocations\": 2, \"frees\": 2, \"alloc_rate_per_s\": 1},"
      /* calls but no span (one timestamp): unknown */
      "{\"tid\": 4, \"name\": \"d\", \"allocations\": 1, \"frees\": 0, \"alloc_rate_per_s\": 0},"
      /* no calls: not ranked */
      "{\"tid\": 5, \"name\": \"e\", \"allocations\": 0, \"frees\": 0, \"alloc_rate_per_s\": 0}]}");
  T_TRUE(off < sizeof text);
  cJSON *s = cJSON_Parse(text);
  T_TRUE(s != NULL);
  T_EQ_INT(0, ms_roles_apply(s, NULL));
  const cJSON *b = cJSON_GetObjectItem(s, "bottlenecks");
  T_EQ_INT(10, cJSON_GetObjectItem(b, "limit")->valueint);
  const cJSON *hc = cJSON_GetObjectItem(b, "hot_stacks_by_count");
  T_EQ_INT(10, cJSON_GetArraySize(hc));
  for (int i = 0; i < 10; i++) {
    const cJSON *e = cJSON_GetArrayItem(hc, i);
    T_EQ_INT(111 - i, cJSON_GetObjectItem(e, "allocations")->valueint);
    T_EQ_INT(i + 1, cJSON_GetObjectItem(e, "rank")->valueint);
    char fn[16];
    snprintf(fn, sizeof fn, "f%d", 11 - i);
    T_STR_EQ(fn, cJSON_GetStringValue(path2(e, "top_frame", "function")));
  }
  /* By bytes: 30 (9 allocations), 30 (5), 10: ties broken by the other figure. */
  const cJSON *hb = cJSON_GetObjectItem(b, "hot_stacks_by_bytes");
  T_EQ_INT(3, cJSON_GetArraySize(hb));
  T_EQ_INT(2, cJSON_GetObjectItem(cJSON_GetArrayItem(hb, 0), "stack_id")->valueint);
  T_EQ_INT(3, cJSON_GetObjectItem(cJSON_GetArrayItem(hb, 1), "stack_id")->valueint);
  T_EQ_INT(1, cJSON_GetObjectItem(cJSON_GetArrayItem(hb, 2), "stack_id")->valueint);
  T_TRUE(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(hb, 2), "top_frame")));
  /* Leaks: the suppressed one is not a bottleneck. */
  const cJSON *lk = cJSON_GetObjectItem(b, "largest_leaks");
  T_EQ_INT(2, cJSON_GetArraySize(lk));
  T_EQ_INT(128, cJSON_GetObjectItem(cJSON_GetArrayItem(lk, 0), "bytes")->valueint);
  T_EQ_INT(64, cJSON_GetObjectItem(cJSON_GetArrayItem(lk, 1), "bytes")->valueint);
  /* Churn: a 150/s, b 60/s (resources), c 2/s; d unknown; e not ranked. */
  const cJSON *ch = cJSON_GetObjectItem(b, "churn_threads");
  T_EQ_INT(3, cJSON_GetArraySize(ch));
  double want[] = {150, 60, 2};
  int tids[] = {1, 2, 3};
  for (int i = 0; i < 3; i++) {
    const cJSON *e = cJSON_GetArrayItem(ch, i);
    T_EQ_INT(tids[i], cJSON_GetObjectItem(e, "tid")->valueint);
    T_NEAR(want[i], cJSON_GetObjectItem(e, "churn_per_s")->valuedouble, 1e-12);
  }
  T_STR_EQ("resources.lifetime_s",
           cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 1), "lifetime_basis")));
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(ch, 0), "lifetime_basis")),
             "allocator events");
  T_EQ_INT(1, cJSON_GetObjectItem(b, "churn_unknown_threads")->valueint);
  cJSON_Delete(s);
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {
      T_CASE(role_each_class_and_precedence), T_CASE(role_unknown_and_resources),
      T_CASE(alert_boundaries),               T_CASE(thresholds_cli),
      T_CASE(thresholds_file),                T_CASE(thresholds_errors),
      T_CASE(correlation_r),                  T_CASE(correlation_too_few),
      T_CASE(correlation_zero_variance),      T_CASE(bottlenecks_order),
  };
  return t_main(argc, argv, cases, sizeof cases / sizeof *cases);
}
