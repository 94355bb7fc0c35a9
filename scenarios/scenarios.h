/* scenarios.h: the scenario registry and the helpers every scenario shares (allocation
 * counting, a stateless PRNG, failure reporting, the results writer).
 *
 * A scenario is a real pthread / C11-atomics workload with a self-check. It states the exact
 * allocator calls its own code makes (sc_expect_t) from its parameters alone, counts the calls
 * it really makes with plain per-thread counters, and fails when the two differ. The counting
 * macros below (SC_MALLOC & co.) keep the malloc call inside the scenario's own function, so a
 * tracker that attributes calls by caller frame sees them in that function, not in a helper.
 *
 * Names: sc_ is this executable's internal prefix (STYLE's ms__ is for the libraries' internal
 * symbols; nothing here is exported from a library). */
#ifndef MEMSCOPE_SCENARIOS_H
#define MEMSCOPE_SCENARIOS_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Parameters of one run. scale multiplies sizes/iterations (1 = the seed's figures). */
typedef struct sc_params_s {
  int scale;     /* >= 1 */
  uint64_t seed; /* any value; same seed, same counts and contents */
} sc_params_t;

/* The allocator calls a scenario's own code makes (see docs/scenarios.md for definitions):
 * allocations = malloc + calloc + realloc calls (a realloc counts once), reallocs = the realloc
 * calls among them, frees = explicit free() calls, allocated_bytes = requested bytes summed over
 * allocation calls (realloc: the new size), leaked = blocks/bytes never freed. */
typedef struct sc_expect_s {
  uint64_t allocations;
  uint64_t frees;
  uint64_t reallocs;
  uint64_t allocated_bytes;
  uint64_t leaked_blocks;
  uint64_t leaked_bytes;
} sc_expect_t;

/* Per-thread allocation counters. Each thread owns one (padded to its own cache line, so
 * counting never contends); the scenario sums them after join. Blocks freed on another thread
 * make one thread's live figures negative and another's positive: only the sum matters. */
typedef struct sc_counts_s {
  alignas(64) uint64_t allocations;
  uint64_t frees;
  uint64_t reallocs;
  uint64_t allocated_bytes;
  int64_t live_blocks;
  int64_t live_bytes;
} sc_counts_t;

static inline void sc__count_alloc(sc_counts_t *c, size_t n) {
  c->allocations++;
  c->allocated_bytes += n;
  c->live_blocks++;
  c->live_bytes += (int64_t)n;
}
static inline void sc__count_realloc(sc_counts_t *c, size_t old_n, size_t n) {
  c->allocations++;
  c->reallocs++;
  c->allocated_bytes += n;
  c->live_bytes += (int64_t)n - (int64_t)old_n;
}
static inline void sc__count_free(sc_counts_t *c, size_t n) {
  c->frees++;
  c->live_blocks--;
  c->live_bytes -= (int64_t)n;
}

/* Counted allocator calls. The caller checks for NULL (and fails the scenario). SC_FREE takes
 * the block's requested size so live bytes (and so leaked bytes) can be checked too. */
#define SC_MALLOC(c, n) (sc__count_alloc((c), (n)), malloc(n))
#define SC_CALLOC(c, k, n) (sc__count_alloc((c), (size_t)(k) * (n)), calloc((k), (n)))
#define SC_REALLOC(c, p, old_n, n) (sc__count_realloc((c), (old_n), (n)), realloc((p), (n)))
#define SC_FREE(c, p, n) (sc__count_free((c), (n)), free(p))

/* sum += add (after join). */
void sc_counts_add(sc_counts_t *sum, const sc_counts_t *add);

/* Stateless PRNG: a splitmix64 hash of (seed, stream, index). Scenario code and the expect
 * functions call it with the same arguments, so sizes drawn from it are known in advance. */
static inline uint64_t sc_rand(uint64_t seed, uint64_t stream, uint64_t index) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (stream * 0x100000001b3ull + index + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Record a self-check failure (first one wins; thread-safe, allocation-free). Scenarios keep
 * running to a clean join where they can; main reports the message and exits 1. */
void sc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int sc_failed(void);

/* Append to the "results" JSON object body (a static buffer; no allocation). */
void sc_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Name the calling thread (<= 15 bytes shown by the kernel). */
void sc_name_thread(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Compare the counted calls with the expected figures; sc_fail on any difference. Returns 0
 * when they agree. `what` names the counted set in the message. */
int sc_check_counts(const char *what, const sc_counts_t *got, const sc_expect_t *want);

/* One scenario. expect() fills the expected figures from the parameters only. run() runs the
 * workload, self-checks (sc_fail on a wrong result), appends its figures with sc_out, and
 * returns 0 or -1. For selective_50, expect() gives the tracked (even) threads' calls. */
typedef struct sc_scenario_s {
  const char *name;
  const char *description;
  void (*expect)(const sc_params_t *p, sc_expect_t *out);
  int (*run)(const sc_params_t *p);
} sc_scenario_t;

/* The registered scenarios (one file each). */
extern const sc_scenario_t sc_producer_consumer;
extern const sc_scenario_t sc_rwlock_cache;
extern const sc_scenario_t sc_work_stealing;
extern const sc_scenario_t sc_atomics;
extern const sc_scenario_t sc_selective_50;
extern const sc_scenario_t sc_leak_demo;

/* leak_demo.c: the function the leak report must name. Not static and never inlined so the
 * symbol is in the stack of every leaked block. */
void leak_demo_leaky_function(int blocks, size_t block_size);

#endif /* MEMSCOPE_SCENARIOS_H */
