/* ms_roles.c: SPEC §8's thread roles and alerts, the CPU-against-allocation-rate correlation
 * and the bottleneck list, computed from a finished summary.json tree (docs/analysis.md,
 * "Roles, alerts, correlation, bottlenecks"); and the role thresholds read from a JSON file
 * or KEY=VALUE text.
 *
 * Everything here reads the summary tree, not the analysis: the harness calls it again after
 * it merged its /proc figures, so that roles rest on every figure measured by then. A null
 * or missing figure is unknown, never 0. */
#define _GNU_SOURCE /* strdup */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_analysis_int.h"

/* ---- thresholds --------------------------------------------------------------------------- */

/* Every threshold by the name the file, the command line and summary.json use: the struct's
 * field name. Order = bit of ms_role_thresholds_t.given. */
typedef struct field_s {
  const char *name;
  size_t off;
  int is_u64;      /* uint64_t field (bytes, counts); else double (percent, operations) */
  double dflt;     /* SPEC §8 */
} field_t;

#define F(name, u, d) {#name, offsetof(ms_role_thresholds_t, name), u, d}
static const field_t fields[] = {
    F(memory_peak_bytes, 1, 18e6),  F(memory_allocations, 1, 1200), F(cpu_percent, 0, 25),
    F(io_ops, 0, 2000),             F(balanced_allocations, 1, 1000),
    F(alert_high_bytes, 1, 20e6),   F(alert_high_cpu, 0, 30),
    F(alert_medium_bytes, 1, 15e6), F(alert_medium_cpu, 0, 20),
};
#undef F
#define NFIELDS (sizeof fields / sizeof *fields)

static double field_get(const ms_role_thresholds_t *t, const field_t *f) {
  const char *p = (const char *)t + f->off;
  return f->is_u64 ? (double)*(const uint64_t *)p : *(const double *)p;
}

static void field_put(ms_role_thresholds_t *t, const field_t *f, double v) {
  char *p = (char *)t + f->off;
  if (f->is_u64)
    *(uint64_t *)p = (uint64_t)v;
  else
    *(double *)p = v;
}

ms_role_thresholds_t ms__role_defaults(const ms_role_thresholds_t *in) {
  ms_role_thresholds_t t;
  if (in)
    t = *in;
  else
    memset(&t, 0, sizeof t);
  /* A field that was not given and is 0 (or, for a percentage, not above 0) takes its
   * default: ms_analysis_opts_t callers set only what they change. A given field keeps its
   * value, 0 included ("any CPU use at all"). */
  for (size_t i = 0; i < NFIELDS; i++)
    if (!(t.given & (1u << i)) && !(field_get(&t, &fields[i]) > 0))
      field_put(&t, &fields[i], fields[i].dflt);
  return t;
}

static const char *known_keys(void) {
  return "memory_peak_bytes, memory_allocations, cpu_percent, io_ops, balanced_allocations, "
         "alert_high_bytes, alert_high_cpu, alert_medium_bytes, alert_medium_cpu";
}

/* Appends `what` to t->source (" + " between parts), once. */
static void add_source(ms_role_thresholds_t *t, const char *what) {
  size_t n = strlen(t->source), w = strlen(what);
  if (n >= w && !strcmp(t->source + n - w, what))
    return;
  snprintf(t->source + n, sizeof t->source - n, "%s%s", n ? " + " : "", what);
}

/* Checks v for field f and stores it. 0, or -EINVAL with "KEY ..." in err. */
static int set_field(ms_role_thresholds_t *t, size_t i, double v, const char *where, char *err,
                     size_t errlen) {
  const field_t *f = &fields[i];
  if (!isfinite(v) || v < 0) {
    snprintf(err, errlen, "%s%s: %g is not a threshold (give a number >= 0)", where, f->name, v);
    return -EINVAL;
  }
  /* Bytes and counts are whole numbers; 2^53 keeps every one exact in a JSON number. */
  if (f->is_u64 && (v != floor(v) || v > 9007199254740992.0)) {
    snprintf(err, errlen, "%s%s: %g is not a whole number from 0 to 2^53", where, f->name, v);
    return -EINVAL;
  }
  field_put(t, f, v);
  t->given |= 1u << i;
  return 0;
}

static long find_field(const char *name, size_t len) {
  for (size_t i = 0; i < NFIELDS; i++)
    if (strlen(fields[i].name) == len && !strncmp(fields[i].name, name, len))
      return (long)i;
  return -1;
}

int ms_role_thresholds_set(ms_role_thresholds_t *t, const char *assignment, char *err,
                           size_t errlen) {
  const char *eq = strchr(assignment, '=');
  if (!eq || eq == assignment) {
    snprintf(err, errlen, "role threshold '%s': write KEY=VALUE, KEY one of %s", assignment,
             known_keys());
    return -EINVAL;
  }
  long i = find_field(assignment, (size_t)(eq - assignment));
  if (i < 0) {
    snprintf(err, errlen, "role threshold: unknown key '%.*s' (known: %s)",
             (int)(eq - assignment), assignment, known_keys());
    return -EINVAL;
  }
  const char *val = eq + 1;
  char *end;
  errno = 0;
  double v = strtod(val, &end);
  if (!*val || *end || errno == ERANGE) {
    snprintf(err, errlen, "role threshold %s: '%s' is not a number (bytes, counts and percents "
             "are plain numbers: 18000000, 25)", fields[i].name, val);
    return -EINVAL;
  }
  int rc = set_field(t, (size_t)i, v, "role threshold ", err, errlen);
  if (!rc)
    add_source(t, "command line");
  return rc;
}

/* A thresholds file larger than this is not one. */
#define MAX_FILE_BYTES (1 << 20)

int ms_role_thresholds_load(ms_role_thresholds_t *t, const char *path, char *err, size_t errlen) {
  /* O_NONBLOCK and the regular-file check: a FIFO or device named here is refused, never
   * waited on. */
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0) {
    int e = errno;
    snprintf(err, errlen, "role thresholds %s: %s", path, strerror(e));
    if (fd >= 0)
      close(fd);
    return -e;
  }
  if (!S_ISREG(st.st_mode) || st.st_size > MAX_FILE_BYTES) {
    snprintf(err, errlen, "role thresholds %s: %s", path,
             !S_ISREG(st.st_mode) ? "not a regular file" : "larger than 1 MiB: not a thresholds file");
    close(fd);
    return -EINVAL;
  }
  char *text = malloc((size_t)st.st_size + 1);
  size_t n = 0;
  while (text && n < (size_t)st.st_size) {
    ssize_t r = read(fd, text + n, (size_t)st.st_size - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  if (!text) {
    snprintf(err, errlen, "role thresholds %s: out of memory", path);
    return -ENOMEM;
  }
  text[n] = 0;
  const char *bad_at = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, n, &bad_at, 0);
  if (!root || !cJSON_IsObject(root)) {
    if (root)
      snprintf(err, errlen, "role thresholds %s: not a JSON object ({\"cpu_percent\": 50, ...})",
               path);
    else
      snprintf(err, errlen, "role thresholds %s: not JSON (error at byte %ld)", path,
               bad_at ? (long)(bad_at - text) : 0L);
    cJSON_Delete(root);
    free(text);
    return -EINVAL;
  }
  free(text);
  char where[300];
  snprintf(where, sizeof where, "role thresholds %s: ", path);
  /* Into a copy: a file with one bad key changes nothing. */
  ms_role_thresholds_t next = *t;
  int rc = 0;
  const cJSON *k;
  cJSON_ArrayForEach(k, root) {
    long i = k->string ? find_field(k->string, strlen(k->string)) : -1;
    if (i < 0) {
      snprintf(err, errlen, "%sunknown key '%s' (known: %s)", where, k->string ? k->string : "",
               known_keys());
      rc = -EINVAL;
      break;
    }
    if (!cJSON_IsNumber(k)) {
      snprintf(err, errlen, "%s%s: give a number, not %s", where, k->string,
               cJSON_IsString(k) ? "a string" : cJSON_IsNull(k) ? "null"
               : cJSON_IsBool(k) ? "true/false" : "an array or object");
      rc = -EINVAL;
      break;
    }
    if ((rc = set_field(&next, (size_t)i, k->valuedouble, where, err, errlen)) != 0)
      break;
  }
  cJSON_Delete(root);
  if (rc)
    return rc;
  *t = next;
  add_source(t, path);
  return 0;
}

/* ---- one thread ------------------------------------------------------------------------- */

const char *ms_thread_role(const ms_role_thresholds_t *th, uint64_t peak, uint64_t allocations,
                           double cpu_percent, double io_ops) {
  ms_role_thresholds_t t = ms__role_defaults(th);
  /* Precedence (docs/analysis.md): memory first, the figure this tool measures exactly; then
   * I/O before CPU, because a thread making thousands of write(2) calls also spends CPU in
   * them, while a CPU-bound thread does not make I/O calls. */
  if (peak > t.memory_peak_bytes && allocations > t.memory_allocations)
    return "memory_intensive";
  if (io_ops >= 0 && io_ops > t.io_ops)
    return "io_intensive";
  if (cpu_percent >= 0 && cpu_percent > t.cpu_percent)
    return "cpu_intensive";
  if (allocations >= t.balanced_allocations)
    return "balanced";
  return "light";
}

const char *ms_thread_alert(const ms_role_thresholds_t *th, uint64_t peak, double cpu_percent) {
  ms_role_thresholds_t t = ms__role_defaults(th);
  if (peak > t.alert_high_bytes || (cpu_percent >= 0 && cpu_percent > t.alert_high_cpu))
    return "high";
  if (peak > t.alert_medium_bytes || (cpu_percent >= 0 && cpu_percent > t.alert_medium_cpu))
    return "medium";
  return "normal";
}

/* ---- reading the tree --------------------------------------------------------------------- */

/* A number of o[k]: a JSON number, or raw decimal text (the analysis writes integers above
 * 2^53 raw). 1 with *v set, 0 when missing, null or not a finite number (unknown). */
static int num(const cJSON *o, const char *k, double *v) {
  const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
  if (cJSON_IsNumber(x) && isfinite(x->valuedouble)) {
    *v = x->valuedouble;
    return 1;
  }
  if (cJSON_IsRaw(x) && x->valuestring) {
    char *end;
    double d = strtod(x->valuestring, &end);
    if (end != x->valuestring && isfinite(d)) {
      *v = d;
      return 1;
    }
  }
  return 0;
}

/* A figure of a thread: its flat key, else the same key of threads[i].resources (the flat
 * keys carry the resources' values, docs/dashboard-data.md §1; a writer may fill only one). */
static int thread_num(const cJSON *t, const char *k, double *v) {
  return num(t, k, v) || num(cJSON_GetObjectItemCaseSensitive(t, "resources"), k, v);
}

static const char *str_of(const cJSON *o, const char *k) {
  const cJSON *x = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
  return cJSON_IsString(x) && x->valuestring ? x->valuestring : NULL;
}

/* Replaces (or adds) o[k]. 0 or -1 (out of memory: v freed). */
static int put(cJSON *o, const char *k, cJSON *v) {
  if (!v)
    return -1;
  if (cJSON_GetObjectItemCaseSensitive(o, k))
    return cJSON_ReplaceItemInObjectCaseSensitive(o, k, v) ? 0 : (cJSON_Delete(v), -1);
  return cJSON_AddItemToObject(o, k, v) ? 0 : (cJSON_Delete(v), -1);
}
static int put_num(cJSON *o, const char *k, double v) {
  return put(o, k, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}
static int put_str(cJSON *o, const char *k, const char *v) {
  return put(o, k, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

/* ---- roles of every thread ------------------------------------------------------------ */

static const char *const role_names[] = {"memory_intensive", "io_intensive", "cpu_intensive",
                                         "balanced", "light"};
static const char *const alert_names[] = {"high", "medium", "normal"};

typedef struct thread_figs_s {
  int have_peak, have_allocs, have_cpu, have_io;
  double peak, allocs, cpu, io;
} thread_figs_t;

/* role_basis: the figures the decision used and those that were unknown, and where CPU and
 * I/O came from ("known: peak_live_bytes, allocations, cpu_percent; unknown: io_ops;
 * resources: tracker"). */
static void basis_text(const cJSON *t, const thread_figs_t *f, char *buf, size_t len) {
  const char *names[] = {"peak_live_bytes", "allocations", "cpu_percent", "io_ops"};
  int have[] = {f->have_peak, f->have_allocs, f->have_cpu, f->have_io};
  size_t off = 0;
  buf[0] = 0;
  for (int pass = 1; pass >= 0; pass--) {
    int first = 1;
    for (int i = 0; i < 4; i++) {
      if (have[i] != pass)
        continue;
      int n = snprintf(buf + off, len - off, "%s%s", first ? (off ? "; unknown: " : pass ? "known: " : "unknown: ") : ", ", names[i]);
      if (n < 0 || (size_t)n >= len - off)
        return;
      off += (size_t)n;
      first = 0;
    }
  }
  const char *src = str_of(cJSON_GetObjectItemCaseSensitive(t, "resources"), "source");
  if (src && (f->have_cpu || f->have_io))
    snprintf(buf + off, len - off, "; resources: %s", src);
}

/* v as the shortest %g text that reads back as v: a reason never says "25 > 25" for a CPU
 * figure of 25.0001. */
typedef struct numtext_s {
  char s[32];
} numtext_t;
static numtext_t nt(double v) {
  numtext_t t;
  if (v == floor(v) && fabs(v) < 1e17) { /* bytes and counts in full, never 1.8e+07 */
    snprintf(t.s, sizeof t.s, "%.0f", v);
    return t;
  }
  for (int p = 6; p <= 17; p++) {
    snprintf(t.s, sizeof t.s, "%.*g", p, v);
    if (strtod(t.s, NULL) == v)
      break;
  }
  return t;
}

/* Why the role: the threshold the thread passed, or that it passed none. */
static void role_reason(const char *role, const thread_figs_t *f, const ms_role_thresholds_t *t,
                        char *buf, size_t len) {
  if (!strcmp(role, "memory_intensive"))
    snprintf(buf, len, "peak_live_bytes %s > %s and allocations %s > %s", nt(f->peak).s,
             nt((double)t->memory_peak_bytes).s, nt(f->allocs).s,
             nt((double)t->memory_allocations).s);
  else if (!strcmp(role, "io_intensive"))
    snprintf(buf, len, "io_ops %s > %s", nt(f->io).s, nt(t->io_ops).s);
  else if (!strcmp(role, "cpu_intensive"))
    snprintf(buf, len, "cpu_percent %s > %s", nt(f->cpu).s, nt(t->cpu_percent).s);
  else if (!strcmp(role, "balanced"))
    snprintf(buf, len, "allocations %s >= %s, no other threshold passed", nt(f->allocs).s,
             nt((double)t->balanced_allocations).s);
  else if (f->have_allocs)
    snprintf(buf, len, "no threshold passed (allocations %s < %s)", nt(f->allocs).s,
             nt((double)t->balanced_allocations).s);
  else
    snprintf(buf, len, "no threshold passed");
}

static void alert_reason(const char *alert, const thread_figs_t *f, const ms_role_thresholds_t *t,
                         char *buf, size_t len) {
  int high = !strcmp(alert, "high");
  double lim_b = (double)(high ? t->alert_high_bytes : t->alert_medium_bytes);
  double lim_c = high ? t->alert_high_cpu : t->alert_medium_cpu;
  if (!strcmp(alert, "normal")) {
    char cpu[80];
    if (f->have_cpu)
      snprintf(cpu, sizeof cpu, "cpu_percent %s <= %s", nt(f->cpu).s, nt(t->alert_medium_cpu).s);
    else
      snprintf(cpu, sizeof cpu, "cpu_percent unknown");
    if (f->have_peak)
      snprintf(buf, len, "peak_live_bytes %s <= %s, %s", nt(f->peak).s,
               nt((double)t->alert_medium_bytes).s, cpu);
    else
      snprintf(buf, len, "peak_live_bytes unknown, %s", cpu);
  } else if (f->have_peak && f->peak > lim_b) {
    snprintf(buf, len, "peak_live_bytes %s > %s", nt(f->peak).s, nt(lim_b).s);
  } else {
    snprintf(buf, len, "cpu_percent %s > %s", nt(f->cpu).s, nt(lim_c).s);
  }
}

static int thread_roles(cJSON *t, const ms_role_thresholds_t *th, size_t *role_count,
                        size_t *alert_count) {
  thread_figs_t f;
  memset(&f, 0, sizeof f);
  f.have_peak = num(t, "peak_live_bytes", &f.peak);
  f.have_allocs = num(t, "allocations", &f.allocs);
  f.have_cpu = thread_num(t, "cpu_percent", &f.cpu) && f.cpu >= 0;
  f.have_io = thread_num(t, "io_ops", &f.io) && f.io >= 0;
  /* Unknown memory figures can pass no memory threshold: 0 stands for them in the decision
   * only, and role_basis says they were unknown. */
  uint64_t peak = f.have_peak && f.peak > 0 ? (uint64_t)f.peak : 0;
  uint64_t allocs = f.have_allocs && f.allocs > 0 ? (uint64_t)f.allocs : 0;
  const char *role = ms_thread_role(th, peak, allocs, f.have_cpu ? f.cpu : -1,
                                    f.have_io ? f.io : -1);
  const char *alert = ms_thread_alert(th, peak, f.have_cpu ? f.cpu : -1);
  for (size_t i = 0; i < 5; i++)
    role_count[i] += !strcmp(role, role_names[i]);
  for (size_t i = 0; i < 3; i++)
    alert_count[i] += !strcmp(alert, alert_names[i]);
  char basis[200], why[200], awhy[200];
  basis_text(t, &f, basis, sizeof basis);
  role_reason(role, &f, th, why, sizeof why);
  alert_reason(alert, &f, th, awhy, sizeof awhy);
  /* One after the other (not `|`, whose operands may run in any order): the keys' order in
   * the file stays the same from build to build. */
  int bad = put_str(t, "role", role);
  bad |= put_str(t, "alert", alert);
  bad |= put_str(t, "role_basis", basis);
  bad |= put_str(t, "role_reason", why);
  bad |= put_str(t, "alert_reason", awhy);
  return bad;
}

static int roles_json(cJSON *summary, const ms_role_thresholds_t *th, const size_t *role_count,
                      const size_t *alert_count) {
  cJSON *r = cJSON_CreateObject();
  if (!r || put(summary, "roles", r))
    return -1;
  cJSON *tv = cJSON_AddObjectToObject(r, "thresholds");
  int bad = !tv;
  for (size_t i = 0; tv && i < NFIELDS; i++)
    bad |= put_num(tv, fields[i].name, field_get(th, &fields[i]));
  /* A C caller may set fields without naming a source: then say so, not "defaults". */
  int all_default = 1;
  for (size_t i = 0; i < NFIELDS; i++)
    all_default &= field_get(th, &fields[i]) == fields[i].dflt;
  bad |= put_str(r, "thresholds_source", th->source[0] ? th->source
                                         : all_default ? "defaults"
                                                       : "ms_analysis_opts_t.roles");
  cJSON *pre = cJSON_AddArrayToObject(r, "precedence");
  bad |= !pre;
  for (size_t i = 0; pre && i < 5; i++) {
    cJSON *s = cJSON_CreateString(role_names[i]);
    bad |= !s || !cJSON_AddItemToArray(pre, s);
  }
  cJSON *c = cJSON_AddObjectToObject(r, "counts"), *a = cJSON_AddObjectToObject(r, "alert_counts");
  bad |= !c || !a;
  for (size_t i = 0; c && i < 5; i++)
    bad |= put_num(c, role_names[i], (double)role_count[i]);
  for (size_t i = 0; a && i < 3; i++)
    bad |= put_num(a, alert_names[i], (double)alert_count[i]);
  bad |= put_str(r, "comparison", "strictly greater than each threshold, except balanced "
                                  "(allocations >= balanced_allocations)");
  return bad ? -1 : 0;
}

/* ---- correlation ------------------------------------------------------------------------ */

static int pearson(const double *x, const double *y, size_t n, double *r, double *slope,
               double *intercept, const char **why) {
  *r = *slope = *intercept = NAN;
  *why = NULL;
  if (n < 3) {
    *why = "fewer than 3 points";
    return -1;
  }
  /* Two passes (means, then sums of squared deviations): no cancellation of large sums. */
  double mx = 0, my = 0;
  int x_const = 1, y_const = 1;
  for (size_t i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
    x_const &= x[i] == x[0];
    y_const &= y[i] == y[0];
  }
  mx /= (double)n;
  my /= (double)n;
  double sxx = 0, syy = 0, sxy = 0;
  for (size_t i = 0; i < n; i++) {
    double dx = x[i] - mx, dy = y[i] - my;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
  }
  /* Equal values, tested exactly (their computed variance may be a rounding residue). */
  if (x_const || !(sxx > 0)) {
    *why = "every point has the same x: no variance, no r and no fitted line";
    return -1;
  }
  *slope = sxy / sxx;
  *intercept = my - *slope * mx;
  if (y_const || !(syy > 0)) {
    *why = "every point has the same y: no variance, no r (the fitted line is flat)";
    return -1;
  }
  *r = sxy / sqrt(sxx * syy);
  if (*r > 1)
    *r = 1;
  if (*r < -1)
    *r = -1;
  return 0;
}

/* The thread's allocation rate is a measurement, not the 0 the analysis writes for a thread
 * whose allocator events all share one timestamp (no span to divide by). */
static int alloc_rate(const cJSON *t, double *y) {
  double allocs = 0, bytes = 0;
  if (!num(t, "allocated_bytes_per_s", y))
    return 0;
  if (*y == 0 && num(t, "allocations", &allocs) && allocs > 0 && num(t, "allocated_bytes", &bytes) &&
      bytes > 0)
    return 0;
  return 1;
}

static int correlation_json(cJSON *summary) {
  cJSON *threads = cJSON_GetObjectItemCaseSensitive(summary, "threads");
  size_t cap = (size_t)cJSON_GetArraySize(threads) + 1;
  double *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
  cJSON *c = cJSON_CreateObject();
  cJSON *pts = cJSON_CreateArray();
  int bad = !x || !y || !c || !pts;
  size_t n = 0, no_cpu = 0, no_rate = 0;
  const cJSON *t, *from = bad ? NULL : threads;
  cJSON_ArrayForEach(t, from) {
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(t, "tracked")))
      continue;
    double xv, yv;
    int hx = thread_num(t, "cpu_percent", &xv) && xv >= 0, hy = alloc_rate(t, &yv);
    no_cpu += !hx;
    no_rate += hx && !hy;
    if (!hx || !hy)
      continue;
    x[n] = xv;
    y[n] = yv;
    n++;
    cJSON *p = cJSON_CreateObject();
    bad |= !p || !cJSON_AddItemToArray(pts, p);
    double tid = 0;
    num(t, "tid", &tid);
    bad = bad || put_num(p, "tid", tid) || put_str(p, "name", str_of(t, "name") ? str_of(t, "name") : "") ||
           put_num(p, "x", xv) || put_num(p, "y", yv);
  }
  double r = NAN, slope = NAN, icpt = NAN;
  const char *why = NULL;
  char reason[200] = "";
  if (!bad && pearson(x, y, n, &r, &slope, &icpt, &why) != 0) {
    if (n < 3)
      snprintf(reason, sizeof reason,
               "%zu tracked thread%s with both cpu_percent and allocated_bytes_per_s: r needs at "
               "least 3", n, n == 1 ? "" : "s");
    else
      snprintf(reason, sizeof reason, "%s (%zu threads)", why, n);
  }
  if (!bad && n < 3)
    slope = icpt = NAN; /* a line through 2 points says nothing (docs/dashboard-data.md §4) */
  free(x);
  free(y);
  if (bad) {
    cJSON_Delete(c);
    cJSON_Delete(pts);
    return -1;
  }
  if (put(summary, "correlation", c)) {
    cJSON_Delete(pts);
    return -1;
  }
  bad |= put_str(c, "x", "cpu_percent");
  bad |= put_str(c, "y", "allocated_bytes_per_s");
  bad |= put_str(c, "x_unit", "%");
  bad |= put_str(c, "y_unit", "B/s");
  bad |= put_num(c, "n", (double)n);
  bad |= put_num(c, "r", r);
  bad |= put_num(c, "slope", slope);
  bad |= put_num(c, "intercept", icpt);
  bad |= put_str(c, "method", "Pearson r and least-squares line y = slope * x + intercept over "
                              "tracked threads with both figures");
  cJSON *ex = cJSON_AddObjectToObject(c, "excluded");
  bad |= !ex || put_num(ex, "no_cpu_percent", (double)no_cpu) ||
         put_num(ex, "no_allocation_rate", (double)no_rate);
  bad |= put(c, "points", pts);
  bad |= put_str(c, "reason", reason[0] ? reason : NULL);
  return bad ? -1 : 0;
}

/* ---- bottlenecks ------------------------------------------------------------------------ */

#define BOTTLENECKS 10

typedef struct rank_s {
  const cJSON *item;
  double key, key2;
  size_t index;
  double lifetime_s;  /* churn only */
  int from_resources; /* churn only */
} rank_t;

/* Larger key first, then larger key2, then the earlier item: the order never depends on
 * qsort's. */
static int cmp_rank(const void *pa, const void *pb) {
  const rank_t *a = pa, *b = pb;
  if (a->key != b->key)
    return a->key > b->key ? -1 : 1;
  if (a->key2 != b->key2)
    return a->key2 > b->key2 ? -1 : 1;
  return a->index < b->index ? -1 : a->index > b->index;
}

/* The frame that names the code: the first with a function name, else the first. */
static cJSON *top_frame(const cJSON *group) {
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(group, "stack"), *f, *first = NULL;
  cJSON_ArrayForEach(f, st) {
    if (!first)
      first = f;
    const char *fn = str_of(f, "function");
    if (fn && *fn)
      return cJSON_Duplicate(f, 1);
  }
  return first ? cJSON_Duplicate(first, 1) : cJSON_CreateNull();
}

static const char *const stack_keys[] = {"allocations", "allocated_bytes", "bytes", "blocks",
                                         "stack_id", "stack_known", "var_name", "type_name"};

/* The first BOTTLENECKS groups of `from` ranked by key (key2 next), as short entries: the
 * figures, stack_id and the top frame (the full stack stays in hot_stacks / leaks). */
static int stack_list(cJSON *b, const char *name, const cJSON *from, const char *key,
                      const char *key2, int skip_suppressed) {
  cJSON *arr = cJSON_AddArrayToObject(b, name);
  if (!arr)
    return -1;
  size_t cap = (size_t)cJSON_GetArraySize(from), n = 0;
  rank_t *rk = malloc((cap ? cap : 1) * sizeof *rk);
  if (!rk)
    return -1;
  const cJSON *g;
  cJSON_ArrayForEach(g, from) {
    double v = 0, v2 = 0;
    if (skip_suppressed && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "suppressed")))
      continue;
    if (!num(g, key, &v))
      continue;
    num(g, key2, &v2);
    rk[n] = (rank_t){g, v, v2, n, 0, 0};
    n++;
  }
  qsort(rk, n, sizeof *rk, cmp_rank);
  int bad = 0;
  for (size_t i = 0; !bad && i < n && i < BOTTLENECKS; i++) {
    cJSON *o = cJSON_CreateObject();
    bad |= !o || !cJSON_AddItemToArray(arr, o);
    if (!bad)
      bad |= put_num(o, "rank", (double)(i + 1));
    for (size_t k = 0; !bad && k < sizeof stack_keys / sizeof *stack_keys; k++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(rk[i].item, stack_keys[k]);
      if (v)
        bad |= put(o, stack_keys[k], cJSON_Duplicate(v, 1));
    }
    if (!bad)
      bad |= put(o, "top_frame", top_frame(rk[i].item));
  }
  free(rk);
  return bad ? -1 : 0;
}

/* Seconds the thread lived: threads[].resources.lifetime_s (first to last resource record,
 * measured by the tracker or the harness), else the span of its allocator events, which the
 * summary holds as allocations / alloc_rate_per_s. 0 when neither is known. */
static double thread_lifetime(const cJSON *t, int *from_resources) {
  double v = 0, allocs = 0, rate = 0;
  *from_resources = 0;
  if (num(cJSON_GetObjectItemCaseSensitive(t, "resources"), "lifetime_s", &v) && v > 0) {
    *from_resources = 1;
    return v;
  }
  if (num(t, "allocations", &allocs) && allocs > 0 && num(t, "alloc_rate_per_s", &rate) && rate > 0)
    return allocs / rate;
  return 0;
}

static int churn_list(cJSON *b, const cJSON *threads, size_t *unknown) {
  cJSON *arr = cJSON_AddArrayToObject(b, "churn_threads");
  size_t cap = (size_t)cJSON_GetArraySize(threads), n = 0;
  rank_t *rk = malloc((cap ? cap : 1) * sizeof *rk);
  if (!arr || !rk) {
    free(rk);
    return -1;
  }
  *unknown = 0;
  const cJSON *t;
  size_t idx = 0;
  cJSON_ArrayForEach(t, threads) {
    double allocs = 0, frees = 0;
    num(t, "allocations", &allocs);
    num(t, "frees", &frees);
    idx++;
    if (allocs + frees <= 0)
      continue; /* no allocator call: no churn to rank */
    int from_res;
    double life = thread_lifetime(t, &from_res);
    if (!(life > 0)) {
      (*unknown)++;
      continue;
    }
    rk[n] = (rank_t){t, (allocs + frees) / life, allocs + frees, idx, life, from_res};
    n++;
  }
  qsort(rk, n, sizeof *rk, cmp_rank);
  int bad = 0;
  for (size_t i = 0; !bad && i < n && i < BOTTLENECKS; i++) {
    const cJSON *x = rk[i].item;
    double tid = 0, allocs = 0, frees = 0;
    num(x, "tid", &tid);
    num(x, "allocations", &allocs);
    num(x, "frees", &frees);
    cJSON *o = cJSON_CreateObject();
    bad |= !o || !cJSON_AddItemToArray(arr, o);
    bad = bad || put_num(o, "rank", (double)(i + 1)) || put_num(o, "tid", tid) ||
           put_str(o, "name", str_of(x, "name") ? str_of(x, "name") : "") ||
           put_num(o, "allocations", allocs) || put_num(o, "frees", frees) ||
           put_num(o, "churn_per_s", rk[i].key) || put_num(o, "lifetime_s", rk[i].lifetime_s) ||
           put_str(o, "lifetime_basis", rk[i].from_resources
                                            ? "resources.lifetime_s"
                                            : "allocator events span (allocations / alloc_rate_per_s)");
  }
  free(rk);
  return bad ? -1 : 0;
}

static int bottlenecks_json(cJSON *summary) {
  cJSON *b = cJSON_CreateObject();
  if (!b || put(summary, "bottlenecks", b))
    return -1;
  const cJSON *hs = cJSON_GetObjectItemCaseSensitive(summary, "hot_stacks");
  int bad = put_num(b, "limit", BOTTLENECKS);
  bad |= stack_list(b, "hot_stacks_by_count", cJSON_GetObjectItemCaseSensitive(hs, "by_count"),
                    "allocations", "allocated_bytes", 0);
  bad |= stack_list(b, "hot_stacks_by_bytes", cJSON_GetObjectItemCaseSensitive(hs, "by_bytes"),
                    "allocated_bytes", "allocations", 0);
  bad |= stack_list(b, "largest_leaks", cJSON_GetObjectItemCaseSensitive(summary, "leaks"),
                    "bytes", "blocks", 1);
  size_t unknown = 0;
  bad |= churn_list(b, cJSON_GetObjectItemCaseSensitive(summary, "threads"), &unknown);
  bad |= put_num(b, "churn_unknown_threads", (double)unknown);
  bad |= put_str(b, "churn_basis", "(allocations + frees) / lifetime_s; lifetime_s from "
                                   "threads[].resources.lifetime_s when measured, else the span "
                                   "of the thread's allocator events");
  return bad ? -1 : 0;
}

/* ---- entry point -------------------------------------------------------------------------- */

int ms_roles_apply(cJSON *summary, const ms_role_thresholds_t *thresholds) {
  if (!cJSON_IsObject(summary))
    return -EINVAL;
  ms_role_thresholds_t th = ms__role_defaults(thresholds);
  size_t role_count[5] = {0}, alert_count[3] = {0};
  cJSON *t;
  int bad = 0;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(summary, "threads")) {
    if (cJSON_IsObject(t))
      bad |= thread_roles(t, &th, role_count, alert_count);
  }
  bad |= roles_json(summary, &th, role_count, alert_count);
  bad |= correlation_json(summary);
  bad |= bottlenecks_json(summary);
  return bad ? -ENOMEM : 0;
}
