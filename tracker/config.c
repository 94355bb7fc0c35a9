/* config.c: the tracker's environment variables (MEMSCOPE_*), parsed once at start
 * (ms__init). Split from core.c, which keeps the run directory, the buffers and their files. */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ms_internal.h"

/* ---- configuration ----------------------------------------------------------------------
 * Parsed once at start. A bad value disables tracking with one line naming the variable:
 * guessing what a user meant by "MEMSCOPE_SAMPLE=bytse:4096" would record the wrong thing. */

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
  if (!s || !*s)
    return -EINVAL;
  uint64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      return -EINVAL;
    if (v > (UINT64_MAX - 9) / 10)
      return -ERANGE;
    v = v * 10 + (uint64_t)(*p - '0');
  }
  if (v < lo || v > hi)
    return -ERANGE;
  *out = v;
  return 0;
}

/* A user's value as it may be shown in a one-line message: at most 32 bytes, controls as '?'. */
const char *ms__shown(const char *s) {
  static char buf[33];
  size_t i = 0;
  for (; s[i] && i < 32; i++)
    buf[i] = (s[i] > 0x1f && s[i] < 0x7f) ? s[i] : '?';
  buf[i] = '\0';
  return buf;
}

/* The trace format version written: MS_FORMAT_VERSION, or 1 under MEMSCOPE_TEST_FORMAT=1
 * (the readers' version-1 compatibility tests). */
int ms__format_version = MS_FORMAT_VERSION;

static const char *const known_vars[] = {
    "MEMSCOPE_OUT", "MEMSCOPE_STACK_DEPTH", "MEMSCOPE_SAMPLE", "MEMSCOPE_THREADS",
    "MEMSCOPE_RESOURCES_HZ", "MEMSCOPE_VERBOSE", "MEMSCOPE_TEST_SLOWDOWN",
    "MEMSCOPE_TEST_CLOCK", "MEMSCOPE_TEST_RESOURCES", "MEMSCOPE_FUZZ",
    "MEMSCOPE_TEST_STACK_VERIFY",
    /* the fuzz driver's (fuzz/ms_fuzz_driver.c): known here, so the tracker accepts them */
    "MEMSCOPE_FUZZ_MAX_LEAK_BYTES", "MEMSCOPE_FUZZ_MAX_PEAK_BYTES", "MEMSCOPE_FUZZ_FEEDBACK",
    "MEMSCOPE_FUZZ_REPORT_DIR", "MEMSCOPE_FUZZ_SUPPRESSIONS",
    "MEMSCOPE_TEST_FORMAT", /* the format version written (test knob, below) */
    NULL};

int ms__parse_config(void) {
  extern char **environ;
  for (char **e = environ; e && *e; e++) {
    if (strncmp(*e, "MEMSCOPE_", 9) != 0)
      continue;
    size_t len = strcspn(*e, "=");
    int known = 0;
    for (int i = 0; known_vars[i]; i++)
      known |= strlen(known_vars[i]) == len && strncmp(*e, known_vars[i], len) == 0;
    if (!known) {
      ms__msg("unknown variable %.*s (known: MEMSCOPE_OUT, _STACK_DEPTH, _SAMPLE, _THREADS, "
              "_RESOURCES_HZ, _VERBOSE, _FUZZ and _FUZZ_*); tracking disabled",
              (int)(len > 64 ? 64 : len), *e);
      return -1;
    }
  }
  uint64_t v;
  const char *s;
  ms__g.depth = 16;
  if ((s = getenv("MEMSCOPE_STACK_DEPTH")) != NULL) {
    if (parse_u64(s, 0, MS_MAX_DEPTH, &v) < 0) {
      ms__msg("MEMSCOPE_STACK_DEPTH=%s is not a frame count from 0 to %d; tracking disabled",
              s, MS_MAX_DEPTH);
      return -1;
    }
    ms__g.depth = (int)v;
  }
  ms__g.sample = MS_SAMPLE_ALL;
  if ((s = getenv("MEMSCOPE_SAMPLE")) != NULL && strcmp(s, "all") != 0) {
    if (strcmp(s, "size-classes") == 0) {
      ms__g.sample = MS_SAMPLE_CLASSES;
    } else if (strncmp(s, "bytes:", 6) == 0 && parse_u64(s + 6, 1, 1ull << 40, &v) == 0) {
      ms__g.sample = MS_SAMPLE_BYTES;
      ms__g.sample_bytes = v;
    } else {
      ms__msg("MEMSCOPE_SAMPLE=%s is not all, size-classes or bytes:N (N from 1 to 2^40); "
              "tracking disabled", ms__shown(s));
      return -1;
    }
  }
  ms__g.threads = MS_THREADS_ALL;
  if ((s = getenv("MEMSCOPE_THREADS")) != NULL && strcmp(s, "all") != 0) {
    if (strcmp(s, "none") == 0) {
      ms__g.threads = MS_THREADS_NONE;
    } else if (strcmp(s, "even") == 0) {
      ms__g.threads = MS_THREADS_EVEN;
    } else if (strcmp(s, "odd") == 0) {
      ms__g.threads = MS_THREADS_ODD;
    } else {
      size_t n = strlen(s);
      int printable = n > 0 && n <= MS_NAME_MAX;
      for (size_t i = 0; i < n; i++)
        printable &= s[i] > 0x20 && s[i] < 0x7f;
      if (!printable) {
        ms__msg("MEMSCOPE_THREADS=%s is not all, none, even, odd or a glob of 1 to %d "
                "printable characters; tracking disabled", ms__shown(s), MS_NAME_MAX);
        return -1;
      }
      ms__g.threads = MS_THREADS_GLOB;
      memcpy(ms__g.glob, s, n + 1);
    }
  }
  if ((s = getenv("MEMSCOPE_RESOURCES_HZ")) != NULL && parse_u64(s, 0, 1000, &v) < 0) {
    ms__msg("MEMSCOPE_RESOURCES_HZ=%s is not a rate from 0 to 1000; tracking disabled", ms__shown(s));
    return -1;
  }
  if ((s = getenv("MEMSCOPE_VERBOSE")) != NULL) {
    if (parse_u64(s, 0, 2, &v) < 0) {
      ms__msg("MEMSCOPE_VERBOSE=%s is not 0, 1 or 2; tracking disabled", ms__shown(s));
      return -1;
    }
    ms__g.verbose = (int)v;
  }
  if ((s = getenv("MEMSCOPE_TEST_SLOWDOWN")) != NULL) {
    if (parse_u64(s, 0, 100, &v) < 0) {
      ms__msg("MEMSCOPE_TEST_SLOWDOWN=%s is not a count from 0 to 100; tracking disabled", ms__shown(s));
      return -1;
    }
    ms__g.slowdown = (int)v;
  }
  /* Test knob for the stack cache (stacks.c): count (hits and misses in meta.txt), 1 (every
   * hit is also walked and compared), weak (as 1 with the cache's stack-word check off). */
  if ((s = getenv("MEMSCOPE_TEST_STACK_VERIFY")) != NULL) {
    if (!strcmp(s, "0"))
      ms__stack_check = MS_STACK_CHECK_OFF;
    else if (!strcmp(s, "count"))
      ms__stack_check = MS_STACK_CHECK_COUNT;
    else if (!strcmp(s, "1"))
      ms__stack_check = MS_STACK_CHECK_ON;
    else if (!strcmp(s, "weak"))
      ms__stack_check = MS_STACK_CHECK_WEAK;
    else {
      ms__msg("MEMSCOPE_TEST_STACK_VERIFY=%s is not 0, count, 1 or weak; tracking disabled",
              ms__shown(s));
      return -1;
    }
  }
  /* Test knob: MEMSCOPE_TEST_RESOURCES=0 writes no resource records (a trace as trackers
   * before them wrote it: the readers' compatibility tests, and the records' cost). */
  if ((s = getenv("MEMSCOPE_TEST_RESOURCES")) != NULL) {
    if (parse_u64(s, 0, 1, &v) < 0) {
      ms__msg("MEMSCOPE_TEST_RESOURCES=%s is not 0 or 1; tracking disabled", ms__shown(s));
      return -1;
    }
    ms__res_enabled = (int)v;
  }
  /* Test knob: MEMSCOPE_TEST_FORMAT=1 writes format version 1 (the reader must still read
   * it: tests compare a v1 and a v2 trace of the same program). */
  if ((s = getenv("MEMSCOPE_TEST_FORMAT")) != NULL) {
    if (parse_u64(s, MS_FORMAT_VERSION_MIN, MS_FORMAT_VERSION, &v) < 0) {
      ms__msg("MEMSCOPE_TEST_FORMAT=%s is not a format version from %d to %d; tracking disabled",
              ms__shown(s), MS_FORMAT_VERSION_MIN, MS_FORMAT_VERSION);
      return -1;
    }
    ms__format_version = (int)v;
  }
  /* Test knob: MEMSCOPE_TEST_CLOCK=monotonic takes the CLOCK_MONOTONIC path that machines
   * without a constant TSC use, so that path is tested on machines that have one. */
  if ((s = getenv("MEMSCOPE_TEST_CLOCK")) != NULL && strcmp(s, "monotonic") != 0 &&
      strcmp(s, "tsc") != 0) {
    ms__msg("MEMSCOPE_TEST_CLOCK=%s is not tsc or monotonic; tracking disabled", ms__shown(s));
    return -1;
  }
  return 0;
}
