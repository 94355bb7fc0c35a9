/* hs_history.c: the overhead history across runs (--history FILE): one JSON Lines entry per
 * scenario per run, appended after the overhead was measured (scenario, all, run) or gated
 * (gate), and the overhead_history chart drawn from it. CI keeps the file from run to run
 * (.github/workflows/ci.yml); docs/plots.md describes the entries and how history is kept. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "ms_plots.h"

/* The figures of one metric of an overhead object ({"ratios": [...]}): median, q1, q3 of the
 * per-pair ratios, computed here as the gate does (hs_quantile), so that a baseline file (which
 * keeps only the ratios the gate needs) gives the same figures. Adds PREFIX_ratio, _q1, _q3;
 * null when the metric has no ratio. Returns how many ratios there were. */
static int add_metric(cJSON *e, const char *prefix, const cJSON *metric) {
  const cJSON *ratios = cJSON_GetObjectItemCaseSensitive(metric, "ratios");
  int n = cJSON_GetArraySize(ratios), k = 0;
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  const cJSON *x;
  cJSON_ArrayForEach(x, ratios) if (v && cJSON_IsNumber(x) && isfinite(x->valuedouble)) v[k++] = x->valuedouble;
  char key[64];
  static const char *const suffix[] = {"_ratio", "_q1", "_q3"};
  static const double q[] = {0.5, 0.25, 0.75};
  for (int i = 0; i < 3; i++) {
    snprintf(key, sizeof key, "%s%s", prefix, suffix[i]);
    if (k > 0) cJSON_AddNumberToObject(e, key, hs_quantile(v, (size_t)k, q[i]));
    else cJSON_AddNullToObject(e, key);
  }
  free(v);
  return k;
}

/* An environment string as JSON (null when unset or empty). */
static void add_env(cJSON *e, const char *key, const char *var) {
  const char *v = getenv(var);
  if (v && *v) cJSON_AddStringToObject(e, key, v);
  else cJSON_AddNullToObject(e, key);
}

/* One history entry for scenario `name` from its overhead object ov. */
static cJSON *entry(const char *name, const cJSON *ov, const char *mode, const char *source,
                    const char *run, const char *when, double now) {
  cJSON *e = cJSON_CreateObject();
  cJSON_AddStringToObject(e, "schema", "memscope.overhead-history/1");
  cJSON_AddStringToObject(e, "time", when);
  cJSON_AddNumberToObject(e, "time_s", now);
  cJSON_AddStringToObject(e, "run", run);
  add_env(e, "commit", "GITHUB_SHA");
  add_env(e, "ref", "GITHUB_REF_NAME");
  add_env(e, "ci_run", "GITHUB_RUN_ID");
  cJSON_AddStringToObject(e, "source", source);
  cJSON_AddStringToObject(e, "scenario", name);
  cJSON_AddStringToObject(e, "mode", mode);
  int n = add_metric(e, "cpu", cJSON_GetObjectItemCaseSensitive(ov, "cpu"));
  add_metric(e, "wall", cJSON_GetObjectItemCaseSensitive(ov, "wall"));
  const cJSON *ins = cJSON_GetObjectItemCaseSensitive(ov, "instructions");
  if (ins) add_metric(e, "instructions", ins);
  cJSON_AddNumberToObject(e, "pairs", n);
  return e;
}

/* The entries of doc (an overhead.json, or a summary.json with "overhead"), one per scenario. */
static cJSON *entries_of(const cJSON *doc, const char *name, const char *source) {
  cJSON *arr = cJSON_CreateArray();
  double now = (double)time(NULL); /* seconds since the epoch, as "time" */
  time_t t = time(NULL);
  struct tm tm;
  gmtime_r(&t, &tm);
  char when[32], run[96];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  /* One id per run: a CI run's (so that `all` and `gate` of one CI run make one point), else
   * this invocation's. */
  const char *ci = getenv("GITHUB_RUN_ID"), *att = getenv("GITHUB_RUN_ATTEMPT");
  if (ci && *ci) snprintf(run, sizeof run, "gh-%.40s-%.10s", ci, att && *att ? att : "1");
  else snprintf(run, sizeof run, "%s-%ld", when, (long)getpid());
  const cJSON *sc = cJSON_GetObjectItemCaseSensitive(doc, "scenarios");
  const char *mode = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(doc, "mode"))
                         ? cJSON_GetObjectItemCaseSensitive(doc, "mode")->valuestring : "time";
  if (cJSON_IsObject(sc)) {
    const cJSON *s;
    cJSON_ArrayForEach(s, sc) if (s->string) cJSON_AddItemToArray(arr, entry(s->string, s, mode, source, run, when, now));
  } else {
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(doc, "overhead");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "scenario"), "name");
    const cJSON *om = cJSON_GetObjectItemCaseSensitive(ov, "mode");
    if (cJSON_IsObject(ov))
      cJSON_AddItemToArray(arr, entry(cJSON_IsString(nm) ? nm->valuestring : name, ov,
                                      cJSON_IsString(om) ? om->valuestring : mode, source, run, when, now));
  }
  return arr;
}

/* Appends the entries to path, one line each, in one write(2) with O_APPEND, so that two runs
 * appending at once do not interleave their lines. The file is the user's (CI restores it from
 * the previous run): a link there is refused rather than followed. 0, or -1 with err. */
static int append(const char *path, const cJSON *entries, char *err, size_t errlen) {
  size_t len = 0, cap = 4096;
  char *buf = malloc(cap);
  const cJSON *e;
  cJSON_ArrayForEach(e, entries) {
    char *line = cJSON_PrintUnformatted(e);
    size_t l = line ? strlen(line) : 0;
    char *grown = buf;
    if (buf && len + l + 2 > cap) {
      cap = (len + l + 2) * 2;
      if (!(grown = realloc(buf, cap))) free(buf);
    }
    buf = grown;
    if (!line || !buf) {
      free(line);
      free(buf);
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    memcpy(buf + len, line, l);
    len += l;
    buf[len++] = '\n';
    free(line);
  }
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(err, errlen, "cannot append to the history %s: %s; give a regular file (not a link) to --history",
             path, fd < 0 ? strerror(errno) : "not a regular file");
    if (fd >= 0) close(fd);
    free(buf);
    return -1;
  }
  ssize_t w = len ? write(fd, buf, len) : 0;
  int werr = errno;
  free(buf);
  if (close(fd) != 0 && w == (ssize_t)len) w = -1, werr = errno;
  if (w != (ssize_t)len) {
    snprintf(err, errlen, "cannot append to the history %s: %s", path, w < 0 ? strerror(werr) : "short write");
    return -1;
  }
  return 0;
}

int hs_history_update(const hs_opts_t *o, const char *out_dir, const cJSON *doc, const char *name,
                      const char *source) {
  char err[1024];
  cJSON *entries = doc ? entries_of(doc, name, source) : NULL;
  int rc = HS_EXIT_OK;
  if (o->history && cJSON_GetArraySize(entries) > 0 && append(o->history, entries, err, sizeof err)) {
    fprintf(stderr, "memscope-harness: %s\n", err);
    rc = HS_EXIT_USAGE;
  } else if (o->plots && out_dir) {
    /* The gate's baseline (--baseline, already read by the gate or checked readable), as
     * entries of the same form, for the chart's dashed levels. */
    cJSON *base_doc = NULL, *base = NULL;
    size_t len;
    char *txt = o->baseline ? hs_read_file(o->baseline, &len) : NULL;
    if (txt && (base_doc = cJSON_Parse(txt)) != NULL) base = entries_of(base_doc, "run", "baseline");
    free(txt);
    if (ms_plots_write_overhead_history(out_dir, o->history, o->history ? NULL : entries, base, err, sizeof err)) {
      fprintf(stderr, "memscope-harness: plots: %s\n", err);
      rc = HS_EXIT_USAGE;
    }
    cJSON_Delete(base);
    cJSON_Delete(base_doc);
  }
  cJSON_Delete(entries);
  return rc;
}
