/* test_util.h: typed assertions (printing expected and actual) and a by-name test runner:
 * each test binary runs the one test named on its command line, so ctest gives every test
 * its own process and timeout. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T_FAIL_AT(file, line) (fflush(stdout), exit(1))

#define T_EQ_U64(expected, actual)                                                          \
  do {                                                                                      \
    uint64_t e_ = (uint64_t)(expected), a_ = (uint64_t)(actual);                            \
    if (e_ != a_) {                                                                         \
      fprintf(stderr,                                                                       \
              "%s:%d: %s == %s\n  expected: %" PRIu64 " (0x%" PRIx64 ")\n  actual:   %" PRIu64 \
              " (0x%" PRIx64 ")\n",                                                         \
              __FILE__, __LINE__, #expected, #actual, e_, e_, a_, a_);                      \
      T_FAIL_AT(__FILE__, __LINE__);                                                        \
    }                                                                                       \
  } while (0)

#define T_EQ_INT(expected, actual)                                                          \
  do {                                                                                      \
    long long e_ = (long long)(expected), a_ = (long long)(actual);                         \
    if (e_ != a_) {                                                                         \
      fprintf(stderr, "%s:%d: %s == %s\n  expected: %lld\n  actual:   %lld\n", __FILE__,    \
              __LINE__, #expected, #actual, e_, a_);                                        \
      T_FAIL_AT(__FILE__, __LINE__);                                                        \
    }                                                                                       \
  } while (0)

#define T_STR_EQ(expected, actual)                                                          \
  do {                                                                                      \
    const char *e_ = (expected), *a_ = (actual);                                            \
    if (!a_ || strcmp(e_, a_)) {                                                            \
      fprintf(stderr, "%s:%d: %s == %s\n  expected: \"%s\"\n  actual:   %s%s%s\n", __FILE__, \
              __LINE__, #expected, #actual, e_, a_ ? "\"" : "", a_ ? a_ : "NULL",           \
              a_ ? "\"" : "");                                                              \
      T_FAIL_AT(__FILE__, __LINE__);                                                        \
    }                                                                                       \
  } while (0)

#define T_CONTAINS(haystack, needle)                                                        \
  do {                                                                                      \
    const char *h_ = (haystack), *n_ = (needle);                                            \
    if (!h_ || !strstr(h_, n_)) {                                                           \
      fprintf(stderr, "%s:%d: %s contains \"%s\"\n  actual: \"%s\"\n", __FILE__, __LINE__,  \
              #haystack, n_, h_ ? h_ : "NULL");                                             \
      T_FAIL_AT(__FILE__, __LINE__);                                                        \
    }                                                                                       \
  } while (0)

/* |actual - expected| within rel * |expected| (doubles). */
#define T_NEAR(expected, actual, rel)                                                       \
  do {                                                                                      \
    double e_ = (double)(expected), a_ = (double)(actual);                                  \
    if (!(fabs(a_ - e_) <= (rel) * fabs(e_))) {                                             \
      fprintf(stderr, "%s:%d: %s ~= %s (relative %g)\n  expected: %.12g\n  actual:   %.12g\n", \
              __FILE__, __LINE__, #expected, #actual, (double)(rel), e_, a_);               \
      T_FAIL_AT(__FILE__, __LINE__);                                                        \
    }                                                                                       \
  } while (0)

#define T_TRUE(cond)                                                                        \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      fprintf(stderr, "%s:%d: expected true: %s\n", __FILE__, __LINE__, #cond);             \
      T_FAIL_AT(__FILE__, __LINE__);                                                        \
    }                                                                                       \
  } while (0)

typedef struct t_case_s {
  const char *name;
  void (*fn)(void);
} t_case_t;

#define T_CASE(fn) {#fn, fn}

/* argv[1]: the test to run, or --list. Extra arguments are left in t_argv for tests. */
static int t_argc;
static char **t_argv;

static inline int t_main(int argc, char **argv, const t_case_t *cases, size_t n) {
  t_argc = argc;
  t_argv = argv;
  if (argc < 2) {
    fprintf(stderr, "usage: %s TEST [ARGS] | --list\n", argv[0]);
    return 2;
  }
  for (size_t i = 0; i < n; i++) {
    if (!strcmp(argv[1], "--list")) {
      puts(cases[i].name);
      continue;
    }
    if (!strcmp(argv[1], cases[i].name)) {
      cases[i].fn();
      printf("ok %s\n", cases[i].name);
      return 0;
    }
  }
  if (!strcmp(argv[1], "--list"))
    return 0;
  fprintf(stderr, "%s: no test named %s\n", argv[0], argv[1]);
  return 2;
}

#ifdef MS_TRACE_H
/* Opens a run that must open (ms_run_open_flags); the reader's error line is printed when it
 * does not. */
static inline ms_run_t *open_flags_ok(const char *dir, unsigned flags) {
  ms_run_t *run = NULL;
  char err[256] = "";
  int rc = ms_run_open_flags(dir, flags, &run, err, sizeof err);
  if (rc)
    fprintf(stderr, "ms_run_open_flags: %s\n", err);
  T_EQ_INT(0, rc);
  return run;
}

static inline ms_run_t *open_ok(const char *dir) { return open_flags_ok(dir, 0); }
#endif

#endif /* TEST_UTIL_H */
