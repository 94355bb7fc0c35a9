/* fuzz_sizes.c: fuzz target for the harness's value parsers (harness/hs_units.c):
 * hs_parse_size, hs_parse_double, hs_parse_int, hs_parse_duration and hs_format_bytes, on the
 * whole input as one NUL-terminated string and on each of its lines.
 *
 * Beyond "no crash, no leak", the target checks what the parsers promise (hs.h), so that a
 * wrong answer is a crash AFL++ keeps: a failure leaves the output untouched and says why in
 * a NUL-terminated message; a success is in range; a plain integer below 2^53 bytes parses to
 * itself, and with a unit to itself times the unit (exactly, in the range doubles hold
 * exactly), whatever the case of the unit's letters; the same for durations (s, m, h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_util.h"
#include "hs.h"

#define SENTINEL_U64 0x5a5a5a5a5a5a5a5aull
#define SENTINEL_LL 0x5a5a5a5a5a5a5a5all

/* The message of a failed parse: non-empty and NUL-terminated inside its buffer (the buffer
 * was filled with 0x7f first, so a missing NUL shows). */
static void check_err(const char *err, size_t errlen, const char *s) {
  if (errlen == 0)
    return;
  FZ_CHECK(memchr(err, 0, errlen) != NULL, "message not NUL-terminated for '%s'", s);
  FZ_CHECK(errlen == 1 || err[0] != 0, "empty message for '%s'", s);
}

/* hs_parse_size with a message buffer of errlen bytes; returns its rc, *out the value. */
static int size_once(const char *s, size_t errlen, uint64_t *out) {
  char err[300];
  memset(err, 0x7f, sizeof err);
  *out = SENTINEL_U64;
  int rc = hs_parse_size(s, out, err, errlen);
  FZ_CHECK(rc == 0 || rc == -1, "hs_parse_size('%s') returned %d", s, rc);
  if (rc) {
    FZ_CHECK(*out == SENTINEL_U64, "hs_parse_size('%s') failed but wrote %" PRIu64, s, *out);
    check_err(err, errlen, s);
  } else {
    FZ_CHECK(errlen == 0 || (unsigned char)err[0] == 0x7f,
             "hs_parse_size('%s') succeeded but wrote a message", s);
  }
  return rc;
}

/* A plain decimal integer, optionally surrounded by what the grammar allows around it
 * (leading white space, trailing blanks): its value, or -1 when s is not one or is >= 2^53. */
static long long plain_integer(const char *s) {
  while (isspace((unsigned char)*s))
    s++;
  if (!isdigit((unsigned char)*s))
    return -1;
  long long v = 0;
  const char *digits = s;
  for (; isdigit((unsigned char)*s); s++) {
    v = v * 10 + (*s - '0');
    if (v >= (1ll << 53))
      return -1;
  }
  if (s - digits >= 64)
    return -1; /* leading zeros: hs_parse_size refuses a number of 64 characters or more */
  while (*s == ' ')
    s++;
  return *s ? -1 : v;
}

static const struct {
  const char *unit;
  uint64_t factor;
} units[] = {{"B", 1}, {"kB", 1000}, {"KB", 1000}, {"mb", 1000000}, {"KiB", 1024},
             {"mib", 1048576}, {"GiB", 1073741824}, {"TB", 1000000000000ull}};

static void sizes(const char *s) {
  uint64_t v, v2;
  int rc = size_once(s, 300, &v);
  /* A short message buffer, and none: the messages hold the input, so they are cut. */
  FZ_CHECK(size_once(s, 7, &v2) == rc && (rc || v2 == v), "errlen 7 changes '%s'", s);
  FZ_CHECK(size_once(s, 1, &v2) == rc, "errlen 1 changes '%s'", s);
  if (rc == 0) {
    char buf[32];
    hs_format_bytes(v, buf, sizeof buf);
    FZ_CHECK(memchr(buf, 0, sizeof buf) && buf[0], "hs_format_bytes(%" PRIu64 ")", v);
    hs_format_bytes(v, buf, 4);
    FZ_CHECK(memchr(buf, 0, 4) != NULL, "hs_format_bytes(%" PRIu64 ", 4 bytes)", v);
  }
  long long n = plain_integer(s);
  if (n < 0)
    return;
  FZ_CHECK(rc == 0 && v == (uint64_t)n, "'%s' is %lld bytes, parsed rc %d value %" PRIu64, s,
           n, rc, v);
  /* The same number with each unit: exactly n * factor while that is below 2^53. */
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if ((uint64_t)n > (1ull << 53) / units[i].factor)
      continue;
    char t[96];
    snprintf(t, sizeof t, "%lld%s%s", n, i % 2 ? " " : "", units[i].unit);
    FZ_CHECK(size_once(t, 300, &v2) == 0 && v2 == (uint64_t)n * units[i].factor,
             "'%s' should be %" PRIu64 " bytes, got %" PRIu64, t,
             (uint64_t)n * units[i].factor, v2);
  }
}

static void doubles(const char *s) {
  static const double ranges[][2] = {{0, 1e6}, {1e-9, 1e9}, {0.001, 1e7}, {0, INFINITY}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    double d = -1.0;
    int rc = hs_parse_double(s, ranges[i][0], ranges[i][1], &d);
    FZ_CHECK(rc == 0 || rc == -1, "hs_parse_double('%s') returned %d", s, rc);
    if (rc) {
      FZ_CHECK(d == -1.0, "hs_parse_double('%s') failed but wrote %g", s, d);
      continue;
    }
    FZ_CHECK(isfinite(d) && d >= ranges[i][0] && d <= ranges[i][1],
             "hs_parse_double('%s') = %g outside [%g, %g]", s, d, ranges[i][0], ranges[i][1]);
    FZ_CHECK(strspn(s, "0123456789.") == strlen(s), "hs_parse_double took '%s'", s);
  }
}

static void ints(const char *s) {
  static const long long ranges[][2] = {
      {0, LLONG_MAX}, {1, 1000000}, {1, 1ll << 40}, {0, 256}, {LLONG_MIN, 0}};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    long long v = SENTINEL_LL;
    int rc = hs_parse_int(s, ranges[i][0], ranges[i][1], &v);
    FZ_CHECK(rc == 0 || rc == -1, "hs_parse_int('%s') returned %d", s, rc);
    if (rc) {
      FZ_CHECK(v == SENTINEL_LL, "hs_parse_int('%s') failed but wrote %lld", s, v);
      continue;
    }
    FZ_CHECK(v >= ranges[i][0] && v <= ranges[i][1], "hs_parse_int('%s') = %lld out of range",
             s, v);
    FZ_CHECK(*s && strspn(s, "0123456789") == strlen(s), "hs_parse_int took '%s'", s);
    FZ_CHECK((unsigned long long)v == strtoull(s, NULL, 10), "hs_parse_int('%s') = %lld", s, v);
  }
}

#define DURATION_MAX (366ull * 86400) /* hs_parse_duration's "at most a year" */

/* hs_parse_duration: 0 with seconds in [1 s, a year], or -1 with a message and no output. */
static int duration_once(const char *s, uint64_t *out) {
  char err[300];
  memset(err, 0x7f, sizeof err);
  *out = SENTINEL_U64;
  int rc = hs_parse_duration(s, out, err, sizeof err);
  FZ_CHECK(rc == 0 || rc == -1, "hs_parse_duration('%s') returned %d", s, rc);
  if (rc) {
    FZ_CHECK(*out == SENTINEL_U64, "hs_parse_duration('%s') failed but wrote %" PRIu64, s, *out);
    check_err(err, sizeof err, s);
  } else {
    FZ_CHECK(*out >= 1 && *out <= DURATION_MAX, "hs_parse_duration('%s') = %" PRIu64 " s", s,
             *out);
    FZ_CHECK((unsigned char)err[0] == 0x7f, "hs_parse_duration('%s') succeeded with a message",
             s);
  }
  return rc;
}

static void durations(const char *s) {
  uint64_t v;
  duration_once(s, &v);
  long long n = plain_integer(s);
  if (n < 0)
    return;
  /* The number alone is seconds; with s, m, h exactly n, 60 n, 3600 n while in range. */
  static const struct {
    const char *unit;
    uint64_t factor;
  } du[] = {{"", 1}, {"s", 1}, {"m", 60}, {"h", 3600}};
  for (size_t i = 0; i < sizeof du / sizeof du[0]; i++) {
    char t[64];
    snprintf(t, sizeof t, "%lld%s", n, du[i].unit);
    /* n < 2^53 times 3600 may wrap: anything above a year is just "too long". */
    uint64_t want = (uint64_t)n > DURATION_MAX ? DURATION_MAX + 1 : (uint64_t)n * du[i].factor;
    int rc = duration_once(t, &v);
    if (want >= 1 && want <= DURATION_MAX)
      FZ_CHECK(rc == 0 && v == want, "'%s' should be %" PRIu64 " s, got rc %d, %" PRIu64, t,
               want, rc, v);
    else
      FZ_CHECK(rc == -1, "'%s' (%" PRIu64 " s) is out of range but parsed", t, want);
  }
}

static void one(const char *s) {
  sizes(s);
  doubles(s);
  ints(s);
  durations(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* The parsers take C strings: the input with a NUL after it (a NUL inside ends it early,
   * as it would in argv). */
  char *s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = 0;
  one(s);
  /* Then line by line over all of it (past embedded NULs too): many values per input. */
  for (char *line = s, *end = s + size;;) {
    char *nl = memchr(line, '\n', (size_t)(end - line));
    if (nl)
      *nl = 0;
    one(line);
    if (!nl)
      break;
    line = nl + 1;
  }
  free(s);
  return 0;
}
