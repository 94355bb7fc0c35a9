/* fuzz_options.c: fuzz target for the harness's option values: an input is an argument
 * vector (arguments separated by NUL bytes or newlines), read as memscope-harness reads its
 * options ("--name=value" or "--name value"), and each value goes to the parser
 * memscope-harness uses for that option, with the same range (harness/hs_units.c).
 *
 * What this does not reach: the option loops themselves, parse_opts (harness/main.c) and the
 * fuzz command's parse_args (harness/hs_fuzz.c), both static in files that run children or
 * hold main(); docs/fuzz-targets.md says what exposing them would take. The table below is
 * their list of value options and ranges: keep it in step with them. An argument that names
 * no option is tried as the value of every option, so mutations of the names still
 * exercise the parsers. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_util.h"
#include "hs.h"

typedef enum { V_SIZE, V_INT, V_DOUBLE, V_SAMPLE, V_SCOPE_PEAK, V_DURATION } value_kind_t;

typedef struct option_s {
  const char *name;
  value_kind_t kind;
  double lo, hi; /* V_INT, V_DOUBLE: the range parse_opts gives the parser */
} option_t;

/* The value options that go through hs_units.c: parse_opts's (main.c, "option parsing"),
 * then the fuzz command's (hs_fuzz.c, parse_args; --max-leak-bytes and --max-peak-bytes are
 * in both). */
static const option_t options[] = {
    {"--scale", V_INT, 1, 1000000},
    {"--stack-depth", V_INT, 0, 256},
    {"--repeat", V_INT, 1, 1000},
    {"--test-slowdown", V_INT, 0, 100},
    {"--max-leak-bytes", V_SIZE, 0, 0},
    {"--max-leak-bytes-per-stack", V_SIZE, 0, 0},
    {"--max-peak-bytes", V_SIZE, 0, 0},
    {"--max-scope-peak", V_SCOPE_PEAK, 0, 0},
    {"--max-overhead", V_DOUBLE, 1e-9, 1e9},
    {"--tolerance", V_DOUBLE, 0, 1e6},
    {"--timeout", V_DOUBLE, 0.001, 1e7},
    {"--sample", V_SAMPLE, 1, 1099511627776.0},
    {"--time", V_DURATION, 1, 366.0 * 86400},
    {"--jobs", V_INT, 1, 64},
    {"--replay-timeout", V_DOUBLE, 0.1, 86400},
};
#define NOPTIONS (sizeof options / sizeof options[0])

static volatile uint64_t sink;

static void size_value(const char *val) {
  uint64_t v = 7;
  char err[300]; /* parse_opts's message buffer */
  memset(err, 0x7f, sizeof err);
  int rc = hs_parse_size(val, &v, err, sizeof err);
  FZ_CHECK(rc == 0 || (v == 7 && memchr(err, 0, sizeof err) && err[0]),
           "hs_parse_size('%s') failed without a message or wrote its output", val);
  sink += v;
}

static void int_value(const char *val, const option_t *o) {
  long long v = -7;
  if (hs_parse_int(val, (long long)o->lo, (long long)o->hi, &v) == 0)
    FZ_CHECK(v >= (long long)o->lo && v <= (long long)o->hi, "%s %s gave %lld", o->name, val, v);
  else
    FZ_CHECK(v == -7, "%s %s failed but wrote %lld", o->name, val, v);
  sink += (uint64_t)v;
}

static void double_value(const char *val, const option_t *o) {
  double v = -7;
  if (hs_parse_double(val, o->lo, o->hi, &v) == 0)
    FZ_CHECK(isfinite(v) && v >= o->lo && v <= o->hi, "%s %s gave %g", o->name, val, v);
  else
    FZ_CHECK(v == -7, "%s %s failed but wrote %g", o->name, val, v);
  sink += (uint64_t)v;
}

static void duration_value(const char *val, const option_t *o) {
  uint64_t v = 7;
  char err[300];
  if (hs_parse_duration(val, &v, err, sizeof err) == 0)
    FZ_CHECK(v >= o->lo && v <= o->hi, "%s %s gave %" PRIu64 " s", o->name, val, v);
  else
    FZ_CHECK(v == 7, "%s %s failed but wrote %" PRIu64, o->name, val, v);
  sink += v;
}

static void value(const char *val, const option_t *o) {
  switch (o->kind) {
  case V_SIZE:
    size_value(val);
    break;
  case V_INT:
    int_value(val, o);
    break;
  case V_DOUBLE:
    double_value(val, o);
    break;
  case V_DURATION:
    duration_value(val, o);
    break;
  case V_SAMPLE: /* all | size-classes | bytes:N, N an integer in [1, 2^40] */
    if (strcmp(val, "all") && strcmp(val, "size-classes") && !strncmp(val, "bytes:", 6))
      int_value(val + 6, o);
    break;
  case V_SCOPE_PEAK: { /* NAME=SIZE: the last '=' splits, as names may hold one */
    const char *e = strrchr(val, '=');
    if (e && e != val)
      size_value(e + 1);
    break;
  }
  }
}

static const option_t *find_option(const char *name, size_t len) {
  for (size_t i = 0; i < NOPTIONS; i++)
    if (strlen(options[i].name) == len && !memcmp(options[i].name, name, len))
      return &options[i];
  return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Split into C strings: every NUL and newline ends an argument. */
  char *buf = malloc(size + 1);
  char **argv = malloc((size + 1) * sizeof *argv);
  if (!buf || !argv) {
    free(buf);
    free(argv);
    return 0;
  }
  memcpy(buf, data, size);
  buf[size] = 0;
  size_t argc = 0;
  for (size_t i = 0, start = 0; i <= size; i++) {
    if (buf[i] == '\n' || buf[i] == 0) {
      buf[i] = 0;
      argv[argc++] = buf + start;
      start = i + 1;
    }
  }
  for (size_t i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *eq = strchr(a, '=');
    /* The name ends at the first '=', as in parse_opts: --max-scope-peak=NAME=SIZE keeps
     * NAME=SIZE as its value. */
    const option_t *o = find_option(a, eq ? (size_t)(eq - a) : strlen(a));
    if (o) {
      if (eq)
        value(eq + 1, o);
      else if (i + 1 < argc)
        value(argv[++i], o);
      continue;
    }
    for (size_t k = 0; k < NOPTIONS; k++)
      value(a, &options[k]);
  }
  free(argv);
  free(buf);
  return 0;
}
