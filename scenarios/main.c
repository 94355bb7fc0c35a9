/* main.c: the memscope-scenario CLI (list, run one scenario, --expect-only) and shared helpers.
 *
 * Output is one JSON line, formatted by hand into a static buffer and written with write(2)
 * after the measured part: stdio would allocate its stdout buffer from libc, and nothing but the
 * scenario's own calls should appear in the run. Exit: 0 ok, 1 failed self-check, 2 usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memscope.h"
#include "ms_cli.h"
#include "scenarios.h"

static const sc_scenario_t *const registry[] = {
    &sc_producer_consumer, &sc_rwlock_cache, &sc_work_stealing,
    &sc_atomics,           &sc_selective_50, &sc_leak_demo,
};
#define REGISTRY_SIZE (sizeof registry / sizeof registry[0])

/* ---- failure reporting ---- */

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int fail_flag;
static char fail_msg[512];

void sc_fail(const char *fmt, ...) {
  pthread_mutex_lock(&fail_lock);
  if (!atomic_load_explicit(&fail_flag, memory_order_relaxed)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(fail_msg, sizeof fail_msg, fmt, ap); /* into a fixed buffer: no allocation */
    va_end(ap);
    atomic_store_explicit(&fail_flag, 1, memory_order_release);
  }
  pthread_mutex_unlock(&fail_lock);
}

int sc_failed(void) { return atomic_load_explicit(&fail_flag, memory_order_acquire); }

/* ---- results buffer ---- */

static char out_buf[1 << 16];
static size_t out_len;
static int out_truncated;

void sc_out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = sizeof out_buf - out_len;
  int n = vsnprintf(out_buf + out_len, room, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= room) {
    out_truncated = 1;
    out_len = sizeof out_buf - 1;
  } else {
    out_len += (size_t)n;
  }
}

void sc_name_thread(const char *fmt, ...) {
  char name[16]; /* the kernel keeps 15 bytes + NUL */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(name, sizeof name, fmt, ap);
  va_end(ap);
  pthread_setname_np(pthread_self(), name);
}

void sc_counts_add(sc_counts_t *sum, const sc_counts_t *add) {
  sum->allocations += add->allocations;
  sum->frees += add->frees;
  sum->reallocs += add->reallocs;
  sum->allocated_bytes += add->allocated_bytes;
  sum->live_blocks += add->live_blocks;
  sum->live_bytes += add->live_bytes;
}

int sc_check_counts(const char *what, const sc_counts_t *got, const sc_expect_t *want) {
#define CHECK_FIELD(field, value)                                                             \
  do {                                                                                        \
    if ((uint64_t)(value) != want->field) {                                                   \
      sc_fail("%s: counted %s = %" PRIu64 ", expected %" PRIu64, what, #field,                \
              (uint64_t)(value), want->field);                                                \
      return -1;                                                                              \
    }                                                                                         \
  } while (0)
  CHECK_FIELD(allocations, got->allocations);
  CHECK_FIELD(frees, got->frees);
  CHECK_FIELD(reallocs, got->reallocs);
  CHECK_FIELD(allocated_bytes, got->allocated_bytes);
  CHECK_FIELD(leaked_blocks, got->live_blocks);
  CHECK_FIELD(leaked_bytes, got->live_bytes);
#undef CHECK_FIELD
  return 0;
}

/* ---- CLI ---- */

static int write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    s += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The command line (cli/ms_cli.h): "list", or a scenario's NAME and its options. */
enum { O_SCALE = 256, O_SEED, O_EXPECT_ONLY };
static const ms_cli_opt_t options[] = {
    {O_SCALE, "scale", "S", "the work, times S (1 to 1000000, default 1)"},
    {O_SEED, "seed", "N", "the random seed (default 1)"},
    {O_EXPECT_ONLY, "expect-only", NULL, "print the stated counts only, without running"},
    {0, NULL, NULL, NULL}};
static const ms_cli_use_t uses[] = {{O_SCALE, NULL}, {O_SEED, NULL}, {O_EXPECT_ONLY, NULL}, {0, NULL}};
static const ms_cli_cmd_t command = {
    NULL, NULL, uses, "list | NAME [options]", NULL,
    "Runs one concurrency scenario, checks its own results, and prints one JSON line\n"
    "with the exact allocator calls it makes (\"expected\") and its figures (\"results\").\n",
    "Exit: 0 ok, 1 self-check failed, 2 usage error.\n"};
static const ms_cli_prog_t program = {"memscope-scenario", options, &command, 1, NULL};

static const sc_scenario_t *find_scenario(const char *name) {
  for (size_t i = 0; i < REGISTRY_SIZE; i++)
    if (strcmp(registry[i]->name, name) == 0) return registry[i];
  return NULL;
}

/* Parse a decimal integer in [lo, hi]; 0 on success. */
static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (!s || !*s || *s == '-' || *s == '+') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

static void format_expected(char *buf, size_t size, const sc_expect_t *e) {
  snprintf(buf, size,
           "{\"allocations\":%" PRIu64 ",\"frees\":%" PRIu64 ",\"reallocs\":%" PRIu64
           ",\"allocated_bytes\":%" PRIu64 ",\"leaked_blocks\":%" PRIu64
           ",\"leaked_bytes\":%" PRIu64 "}",
           e->allocations, e->frees, e->reallocs, e->allocated_bytes, e->leaked_blocks,
           e->leaked_bytes);
}

#define SCALE_MAX 1000000

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "memscope-scenario: missing command; try 'memscope-scenario list'\n");
    return 2;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    ms_cli_help(&program, &command, stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    ms_cli_version(&program);
    return 0;
  }
  if (strcmp(argv[1], "list") == 0) {
    if (argc != 2) {
      fprintf(stderr, "memscope-scenario: 'list' takes no arguments\n");
      return 2;
    }
    for (size_t i = 0; i < REGISTRY_SIZE; i++)
      printf("%-18s %s\n", registry[i]->name, registry[i]->description);
    return 0;
  }

  const sc_scenario_t *sc = find_scenario(argv[1]);
  if (!sc) {
    fprintf(stderr, "memscope-scenario: unknown scenario '%s'; run 'memscope-scenario list'\n",
            argv[1]);
    return 2;
  }
  sc_params_t params = {.scale = 1, .seed = 1};
  int expect_only = 0;
  /* getopt_long allocates nothing here (only, briefly, to look at an ambiguous abbreviation),
   * and all of it happens before the measured part. */
  ms_cli_t it;
  ms_cli_begin(&it, &program, &command, argc - 1, argv + 1);
  for (int k; (k = ms_cli_next(&it)) != MS_CLI_END;) {
    uint64_t v;
    switch (k) {
    case MS_CLI_DONE: return 0;
    case MS_CLI_ERROR: return 2;
    case O_EXPECT_ONLY: expect_only = 1; break;
    case O_SCALE:
      if (parse_u64(it.arg, 1, SCALE_MAX, &v))
        return ms_cli_error(&it, "--scale needs an integer from 1 to %d", SCALE_MAX);
      params.scale = (int)v;
      break;
    case O_SEED:
      if (parse_u64(it.arg, 0, UINT64_MAX, &v))
        return ms_cli_error(&it, "--seed needs a non-negative integer");
      params.seed = v;
      break;
    default: /* MS_CLI_POS */
      return ms_cli_error(&it, "unexpected argument '%s' (options: --scale S, --seed N, --expect-only)",
                          it.arg);
    }
  }
  if (it.rest >= 0 && it.rest < argc - 1)
    return ms_cli_error(&it, "unexpected argument '%s' (options: --scale S, --seed N, --expect-only)",
                        argv[1 + it.rest]);

  sc_expect_t expected;
  memset(&expected, 0, sizeof expected);
  sc->expect(&params, &expected);
  char expected_json[512];
  format_expected(expected_json, sizeof expected_json, &expected);

  char head[256];
  snprintf(head, sizeof head, "{\"scenario\":\"%s\",\"scale\":%d,\"seed\":%" PRIu64, sc->name,
           params.scale, params.seed);

  if (expect_only) {
    char line[1024];
    int n = snprintf(line, sizeof line, "%s,\"expect_only\":true,\"expected\":%s}\n", head,
                     expected_json);
    return write_all(1, line, (size_t)n) ? 2 : 0;
  }

  /* The measured part: every allocation the scenario makes happens inside this scope. */
  memscope_scope_begin(sc->name);
  int rc = sc->run(&params);
  memscope_scope_end(sc->name);

  if (rc != 0 || sc_failed()) {
    fprintf(stderr, "memscope-scenario: %s: self-check failed: %s\n", sc->name,
            sc_failed() ? fail_msg : "(no reason recorded)");
    return 1;
  }
  if (out_truncated) {
    fprintf(stderr, "memscope-scenario: %s: results too large for the output buffer\n",
            sc->name);
    return 1;
  }
  static char line[sizeof out_buf + 1024];
  int n = snprintf(line, sizeof line, "%s,\"ok\":true,\"expected\":%s,\"results\":{%.*s}}\n",
                   head, expected_json, (int)out_len, out_buf);
  if (n < 0 || (size_t)n >= sizeof line || write_all(1, line, (size_t)n)) {
    fprintf(stderr, "memscope-scenario: cannot write the result to stdout\n");
    return 1;
  }
  return 0;
}
