/* fuzz_options.c: fuzz target for the harness's command line: an input is an argument vector
 * (arguments separated by NUL bytes or newlines), parsed by hs_cli_parse (harness/hs_cli.c,
 * the parser memscope-harness runs, over getopt_long) as the options of every command that
 * shares it: scenario, all, run, report, gate and list. A parse that succeeds must leave
 * every value in its option's range and every option the command does not take untouched
 * (report has no --repeat, gate no --scale, ...); a parse that fails returns 2.
 *
 * The fuzz command parses its own values (hs_fuzz.c, parse_args, static in the file that
 * runs afl-fuzz): its three value options with their ranges are in the table below, and each
 * argument is also tried as their value, through the parsers they call (hs_units.c). */
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

/* The fuzz command's value options that hs_cli_parse does not reach (hs_fuzz.c, parse_args):
 * keep in step with it. */
static const option_t options[] = {
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

/* The commands whose options hs_cli_parse fills, and what each may not touch. */
static const char *const commands[] = {"scenario", "all", "run", "report", "gate", "list"};

/* Parses argv (argv[0] set to each command in turn) and checks the result. */
static void parse_as_commands(int argc, char **argv) {
  for (size_t k = 0; k < sizeof commands / sizeof *commands; k++) {
    const char *cmd = commands[k];
    hs_opts_t o = {.scale = 1, .seed = 1, .stack_depth = -1, .tolerance_pct = 20, .resources_hz = -1};
    char *pos[2];
    int npos = -7, rest = -7, maxpos = !strcmp(cmd, "scenario") || !strcmp(cmd, "report");
    argv[0] = (char *)cmd;
    fz_quiet_begin(); /* --help and every refusal print */
    int rc = hs_cli_parse(cmd, argc, argv, &o, pos, &npos, maxpos, &rest);
    fz_quiet_end();
    FZ_CHECK(rc == 0 || rc == -1 || rc == HS_EXIT_USAGE, "%s: hs_cli_parse returned %d", cmd, rc);
    if (rc != 0)
      continue;
    FZ_CHECK(npos >= 0 && npos <= maxpos, "%s: %d positional arguments, at most %d", cmd, npos, maxpos);
    FZ_CHECK(rest == -1 || (rest >= 1 && rest <= argc && !strcmp(argv[rest - 1], "--")),
             "%s: rest %d of %d is not after a \"--\"", cmd, rest, argc);
    FZ_CHECK(o.scale >= 1 && o.scale <= 1000000, "%s: scale %d", cmd, o.scale);
    FZ_CHECK(o.stack_depth >= -1 && o.stack_depth <= 256, "%s: stack depth %d", cmd, o.stack_depth);
    FZ_CHECK(o.repeat >= 0 && o.repeat <= 1000, "%s: repeat %d", cmd, o.repeat);
    FZ_CHECK(o.resources_hz == -1 || (o.resources_hz >= 0 && o.resources_hz <= 1000),
             "%s: resources_hz %g", cmd, o.resources_hz);
    FZ_CHECK(o.tolerance_pct >= 0 && o.tolerance_pct <= 1e6, "%s: tolerance %g", cmd, o.tolerance_pct);
    FZ_CHECK(o.timeout_s == 0 || (o.timeout_s >= 0.001 && o.timeout_s <= 1e7), "%s: timeout %g", cmd,
             o.timeout_s);
    FZ_CHECK(!o.have_max_overhead || (o.max_overhead >= 1e-9 && o.max_overhead <= 1e9),
             "%s: max_overhead %g", cmd, o.max_overhead);
    FZ_CHECK(o.test_slowdown >= 0 && o.test_slowdown <= 100, "%s: test_slowdown %d", cmd, o.test_slowdown);
    FZ_CHECK(o.nscope_limits <= HS_MAX_SCOPE_LIMITS, "%s: %zu scope limits", cmd, o.nscope_limits);
    for (size_t i = 0; i < o.nscope_limits; i++)
      FZ_CHECK(o.scope_limits[i].name[0] && memchr(o.scope_limits[i].name, 0, sizeof o.scope_limits[i].name),
               "%s: scope limit %zu has no name", cmd, i);
    FZ_CHECK(!o.sample || !strcmp(o.sample, "all") || !strcmp(o.sample, "size-classes") ||
                 !strncmp(o.sample, "bytes:", 6), "%s: sample '%s'", cmd, o.sample);
    FZ_CHECK(!o.process || (o.process[0] && !strchr(o.process, '/')), "%s: process '%s'", cmd, o.process);
    /* Options a command does not take never reach its hs_opts_t. */
    int tracked = !strcmp(cmd, "scenario") || !strcmp(cmd, "all") || !strcmp(cmd, "run");
    int scen = !strcmp(cmd, "scenario") || !strcmp(cmd, "all");
    if (!scen)
      FZ_CHECK(o.scale == 1 && o.seed == 1 && !o.have_seed, "%s took --scale/--seed", cmd);
    if (!tracked)
      FZ_CHECK(!o.repeat && !o.sample && o.stack_depth == -1 && !o.threads && !o.lib &&
                   !o.have_max_overhead && !o.overhead_mode && !o.timeout_s && o.resources_hz == -1 &&
                   !o.test_slowdown,
               "%s took an option of a tracked run", cmd);
    if (strcmp(cmd, "gate"))
      FZ_CHECK(!o.current, "%s took --current", cmd);
    if (!strcmp(cmd, "gate") || !strcmp(cmd, "list"))
      FZ_CHECK(!o.have_max_leak && !o.have_max_peak && !o.have_max_leak_stack && !o.nscope_limits &&
                   !o.junit && !o.html && !o.suppressions && !o.process && !o.allow_partial,
               "%s took a limit or report option", cmd);
    if (!strcmp(cmd, "list"))
      FZ_CHECK(!o.out && !o.plots && !o.baseline && !o.history && o.tolerance_pct == 20,
               "list took an option");
  }
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
  /* The parser's vector: the command, the arguments, NULL (as main's argv ends). */
  char **pargv = malloc((argc + 2) * sizeof *pargv);
  if (pargv) {
    memcpy(pargv + 1, argv, argc * sizeof *argv);
    pargv[argc + 1] = NULL;
    parse_as_commands((int)argc + 1, pargv);
    free(pargv);
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
