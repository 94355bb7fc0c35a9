/* bench_common.h: small helpers the benchmark programs share (PRNG, clock, argument parsing).
 *
 * Header-only and static so each program stays one file plus this; nothing here allocates,
 * because the programs run under the preloaded tracker and every allocation they make beyond
 * the measured ones would blur the figures. */
#ifndef MS_BENCH_COMMON_H
#define MS_BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* The smallest and largest block the programs allocate (the 16–4096 bytes). */
#define MS_BENCH_MIN_SIZE 16u
#define MS_BENCH_MAX_SIZE 4096u

/* xorshift64 (Marsaglia): deterministic for a seed, a few cycles a draw, no libc state.
 * The state must never be 0; ms_bench_seed() guarantees that. */
static inline uint64_t ms_bench_next(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

/* A non-zero xorshift state derived from a small integer (splitmix64 finaliser). */
static inline uint64_t ms_bench_seed(uint64_t n) {
  uint64_t z = n + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z ? z : 0x2545f4914f6cdd1dull;
}

/* A block size in [MS_BENCH_MIN_SIZE, MS_BENCH_MAX_SIZE]. */
static inline size_t ms_bench_size(uint64_t *state) {
  return MS_BENCH_MIN_SIZE +
         (size_t)(ms_bench_next(state) % (MS_BENCH_MAX_SIZE - MS_BENCH_MIN_SIZE + 1));
}

static inline uint64_t ms_bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of the calling thread: does not advance while the thread is descheduled. */
static inline uint64_t ms_bench_thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Parse a positive decimal count into *out. Returns 0, or -EINVAL if text is not a whole
 * number in [1, max]. */
static inline int ms_bench_parse_count(const char *text, uint64_t max, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v == 0 || v > max)
    return -EINVAL;
  *out = (uint64_t)v;
  return 0;
}

#endif /* MS_BENCH_COMMON_H */
