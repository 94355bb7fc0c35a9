/* hs_units.c: parsing of the harness's option values (sizes with units, ratios, integers).
 *
 * Written by hand: the grammar is small and the messages must say what to write instead.
 * Size units (docs/harness.md): B; kB/KB, MB, GB, TB are powers of 1000 (SI, as `df -H` and
 * disk vendors use them); KiB, MiB, GiB, TiB powers of 1024. A bare K/M/G is refused as
 * ambiguous rather than guessed. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hs.h"

typedef struct unit_s {
  const char *name;
  double factor;
} unit_t;

static const unit_t units[] = {
    {"B", 1.0},
    {"kB", 1e3},  {"KB", 1e3},  {"MB", 1e6},  {"GB", 1e9},  {"TB", 1e12},
    {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
};

/* Accepts the unit case-insensitively except that the binary units need their 'i'. */
static const unit_t *find_unit(const char *u) {
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (strcasecmp(units[i].name, u) == 0) return &units[i];
  return NULL;
}

int hs_parse_size(const char *s, uint64_t *out, char *err, size_t errlen) {
  const char *hint = "write e.g. 24MB, 24MiB, 1.5GiB or 4096 (bytes)";
  if (!s || !*s) {
    hs_fmt(err, errlen, "empty size; %s", hint);
    return -1;
  }
  const char *p = s;
  while (isspace((unsigned char)*p)) p++;
  if (*p == '-' || *p == '+') {
    hs_fmt(err, errlen, "size '%s' must not be signed; %s", s, hint);
    return -1;
  }
  /* Digits with at most one '.', parsed ourselves: strtod would also take "inf", "0x1p3". */
  const char *num = p;
  int digits = 0, dots = 0;
  while (isdigit((unsigned char)*p) || *p == '.') {
    if (*p == '.') dots++;
    else digits++;
    p++;
  }
  if (digits == 0 || dots > 1) {
    hs_fmt(err, errlen, "size '%s' does not start with a number; %s", s, hint);
    return -1;
  }
  char numbuf[64];
  size_t nlen = (size_t)(p - num);
  if (nlen >= sizeof numbuf) {
    hs_fmt(err, errlen, "size '%s' is too long; %s", s, hint);
    return -1;
  }
  memcpy(numbuf, num, nlen);
  numbuf[nlen] = 0;
  while (*p == ' ') p++;
  double factor = 1.0;
  if (*p) {
    char ubuf[8];
    size_t ulen = strlen(p);
    while (ulen > 0 && isspace((unsigned char)p[ulen - 1])) ulen--;
    if (ulen >= sizeof ubuf) {
      hs_fmt(err, errlen, "size '%s' has an unknown unit; %s", s, hint);
      return -1;
    }
    memcpy(ubuf, p, ulen);
    ubuf[ulen] = 0;
    const unit_t *u = find_unit(ubuf);
    if (!u) {
      hs_fmt(err, errlen, "size '%s' has an unknown unit '%s'; %s", s, ubuf, hint);
      return -1;
    }
    factor = u->factor;
  }
  errno = 0;
  double v = strtod(numbuf, NULL);
  if (errno || !isfinite(v)) {
    hs_fmt(err, errlen, "size '%s' is out of range; %s", s, hint);
    return -1;
  }
  long double bytes = (long double)v * (long double)factor;
  if (bytes >= 18446744073709551615.0L) {
    hs_fmt(err, errlen, "size '%s' is too large (max 16 EiB)", s);
    return -1;
  }
  if (factor == 1.0 && dots) {
    hs_fmt(err, errlen, "size '%s' is a fraction of a byte; %s", s, hint);
    return -1;
  }
  *out = (uint64_t)floorl(bytes);
  return 0;
}

void hs_format_bytes(uint64_t b, char *buf, size_t len) {
  if (b >= 1000000000ull) hs_fmt(buf, len, "%.2f GB", (double)b / 1e9);
  else if (b >= 1000000ull) hs_fmt(buf, len, "%.2f MB", (double)b / 1e6);
  else if (b >= 1000ull) hs_fmt(buf, len, "%.2f kB", (double)b / 1e3);
  else hs_fmt(buf, len, "%llu B", (unsigned long long)b);
}

int hs_parse_double(const char *s, double lo, double hi, double *out) {
  if (!s || !*s || isspace((unsigned char)*s)) return -1;
  for (const char *p = s; *p; p++)
    if (!isdigit((unsigned char)*p) && *p != '.') return -1; /* no sign, exponent, inf, nan */
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v) || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int hs_parse_int(const char *s, long long lo, long long hi, long long *out) {
  if (!s || !*s) return -1;
  for (const char *p = s; *p; p++)
    if (!isdigit((unsigned char)*p)) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int hs_parse_duration(const char *s, uint64_t *seconds, char *err, size_t errlen) {
  const char *hint = "write e.g. 90 (seconds), 90s, 5m or 1h";
  if (!s || !*s) {
    hs_fmt(err, errlen, "empty duration; %s", hint);
    return -1;
  }
  /* Digits with at most one '.', as in hs_parse_size: no sign, exponent, "inf" or hex. */
  const char *p = s;
  int digits = 0, dots = 0;
  while (isdigit((unsigned char)*p) || *p == '.') {
    if (*p == '.') dots++;
    else digits++;
    p++;
  }
  if (digits == 0 || dots > 1 || p - s > 20) {
    hs_fmt(err, errlen, "duration '%s' does not start with a number; %s", s, hint);
    return -1;
  }
  double factor;
  if (!*p || !strcmp(p, "s")) factor = 1;
  else if (!strcmp(p, "m")) factor = 60;
  else if (!strcmp(p, "h")) factor = 3600;
  else {
    hs_fmt(err, errlen, "duration '%s' has an unknown unit '%s' (s, m and h are known); %s", s, p, hint);
    return -1;
  }
  double v = strtod(s, NULL) * factor;
  /* afl-fuzz -V takes whole seconds; a fraction of one is a typo rather than a wish. */
  if (!isfinite(v) || v < 1) {
    hs_fmt(err, errlen, "duration '%s' is shorter than a second; %s", s, hint);
    return -1;
  }
  if (v > 366.0 * 86400) {
    hs_fmt(err, errlen, "duration '%s' is longer than a year; %s", s, hint);
    return -1;
  }
  *seconds = (uint64_t)floor(v);
  return 0;
}
