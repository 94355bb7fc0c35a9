/* ms_plots_util.c: helpers shared by the gnuplot plots (ms_gnuplot.c) and the HTML dashboard
 * (ms_html.c): reading numbers and strings of a summary tree, and report files written under a
 * temporary name and renamed into place. */
#define _GNU_SOURCE
#include "ms_plots_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_files.h"

/* snprintf for paths: through vsnprintf so that a too-long path is reported, not cut. */
int ms__pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int ms__pathf(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, len, fmt, ap);
  va_end(ap);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A number, or a raw number (the analysis writes 64-bit counts as raw text so that no
 * digit is lost to a double): NaN when neither. */
double ms__itemnum(const cJSON *v) {
  if (cJSON_IsNumber(v)) return v->valuedouble;
  if (cJSON_IsRaw(v) && v->valuestring) {
    char *end;
    double d = strtod(v->valuestring, &end);
    if (end != v->valuestring) return d;
  }
  return NAN;
}

double ms__num(const cJSON *o, const char *k, double dflt) {
  double d = ms__itemnum(cJSON_GetObjectItemCaseSensitive(o, k));
  return isnan(d) ? dflt : d;
}

const char *ms__str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- files ---- */

/* Opens dir/file for writing through ms_out_open (a random temporary name created with
 * O_EXCL|O_NOFOLLOW, renamed into place by out_commit). 0, or -1 with err. */
int ms__out_open(ms_out_file_t *of, const char *dir, const char *file, char *err, size_t errlen) {
  char path[PATH_MAX];
  if (ms__pathf(path, sizeof path, "%s/%s", dir, file)) {
    snprintf(err, errlen, "path too long: %s/%s; choose a shorter --out", dir, file);
    return -1;
  }
  int rc = ms_out_open(of, path);
  if (rc) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    return -1;
  }
  return 0;
}

int ms__out_commit(ms_out_file_t *of, char *err, size_t errlen) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s", of->path); /* ms_out_commit frees it */
  int rc = ms_out_commit(of);
  if (rc) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    return -1;
  }
  return 0;
}

