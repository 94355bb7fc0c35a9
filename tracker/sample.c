/* sample.c: the two sampled modes, and the set of sampled blocks whose frees are recorded.
 *
 * bytes:N is byte-based Poisson sampling as in tcmalloc and jemalloc: every allocated byte is
 * sampled with probability 1/N, so a block of s bytes is recorded with probability
 * 1 - exp(-s/N), and the analysis weights it by the inverse. The distance to the next sampled
 * byte is drawn from an exponential distribution with mean N; a per-thread xorshift generator
 * drives the draws (a sampling decision, not a figure: every reported value is computed from
 * the recorded events and this known probability).
 *
 * size-classes is the seed's policy: >= 64 KiB always, 2–64 KiB one call in 2, < 2 KiB one in
 * 100, and a call site seen more than 10 times on the thread samples twice as often. Each
 * call is drawn on its own with probability 1/k (the same generator), and each sampled event
 * records k as its weight. It counted once (every k-th call of the class): a program whose
 * calls repeat with a period, as a request loop does, then sampled the same places of every
 * period, and a leak at any other place was never seen while the interval, which assumes
 * independent draws, said it could not be there (a 2 MB leak passed a 1 MB limit). */
#define _GNU_SOURCE
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ms_internal.h"

#define MS_SET_SLOTS (1u << 21)
#define MS_SET_PROBES 64
#define MS_TOMB ((uintptr_t)1) /* a removed entry; never a block address (they are aligned) */

static _Atomic uintptr_t *set; /* open addressing, MS_SET_SLOTS entries, lazily touched */

/* Every free in a sampled mode asks "was this block sampled?", and almost always the answer
 * is no. The set's slots are spread over 16 MiB, so asking it costs a cache and TLB miss.
 * A 64 KiB table of counters, one per hash bucket, answers most of those no's from L2: a
 * bucket whose counter is 0 holds no sampled block. */
#define MS_FILTER_SLOTS (1u << 16)
static _Atomic uint8_t filter[MS_FILTER_SLOTS];

static inline uint32_t filter_of(uintptr_t p) {
  return (uint32_t)(((p >> 4) * 0xc2b2ae3d27d4eb4full) >> 48);
}

static void map_set(void) {
  void *p = mmap(NULL, sizeof(uintptr_t) * MS_SET_SLOTS, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  set = p == MAP_FAILED ? NULL : p;
}

void ms__sample_init(void) {
  if (ms__g.sample != MS_SAMPLE_ALL)
    map_set();
}

void ms__sample_reset_after_fork(void) {
  /* The child's live sampled blocks are the parent's: keep the set so their frees are
   * recorded consistently (the child's analysis sees them as unmatched frees). */
}

static inline uint32_t slot_of(uintptr_t p) {
  return (uint32_t)(((p >> 4) * 0x9e3779b97f4a7c15ull) >> 43) & (MS_SET_SLOTS - 1);
}

int ms__sample_remember(void *p) {
  uintptr_t a = (uintptr_t)p;
  if (!set)
    return 0;
  for (uint32_t k = 0, i = slot_of(a); k < MS_SET_PROBES; k++, i = (i + 1) & (MS_SET_SLOTS - 1)) {
    uintptr_t cur = atomic_load_explicit(&set[i], memory_order_relaxed);
    if ((cur == 0 || cur == MS_TOMB) &&
        atomic_compare_exchange_strong_explicit(&set[i], &cur, a, memory_order_relaxed,
                                                memory_order_relaxed)) {
      /* Saturates at 255: a saturated bucket then always asks the set, which stays exact. */
      uint8_t c = atomic_load_explicit(&filter[filter_of(a)], memory_order_relaxed);
      while (c < 255 && !atomic_compare_exchange_weak_explicit(&filter[filter_of(a)], &c,
                                                               (uint8_t)(c + 1),
                                                               memory_order_release,
                                                               memory_order_relaxed))
        ;
      return 1;
    }
  }
  atomic_fetch_add(&ms__g.sample_set_full, 1);
  return 0; /* not remembered: not recorded either, so its free is not missed */
}

int ms__sample_forget(void *p) {
  uintptr_t a = (uintptr_t)p;
  /* Acquire pairs with the release in remember: a block sampled on another thread and handed
   * over through the program's own synchronization is seen here with its bucket counted. */
  if (!set || atomic_load_explicit(&filter[filter_of(a)], memory_order_acquire) == 0)
    return 0;
  for (uint32_t k = 0, i = slot_of(a); k < MS_SET_PROBES; k++, i = (i + 1) & (MS_SET_SLOTS - 1)) {
    uintptr_t cur = atomic_load_explicit(&set[i], memory_order_relaxed);
    if (cur == 0)
      return 0;
    /* Only the thread freeing a block removes it, and a block is freed once: plain CAS. */
    if (cur == a &&
        atomic_compare_exchange_strong_explicit(&set[i], &cur, MS_TOMB, memory_order_relaxed,
                                                memory_order_relaxed)) {
      uint8_t c = atomic_load_explicit(&filter[filter_of(a)], memory_order_relaxed);
      while (c < 255 && !atomic_compare_exchange_weak_explicit(&filter[filter_of(a)], &c,
                                                               (uint8_t)(c - 1),
                                                               memory_order_relaxed,
                                                               memory_order_relaxed))
        ;
      return 1;
    }
  }
  return 0;
}

static inline uint64_t prng_next(ms_tls_t *tl) {
  if (tl->prng == 0) /* seeded per thread from its tid: reproducible for a given thread */
    tl->prng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)ms_prim_tid() * 0xbf58476d1ce4e5b9ull);
  uint64_t x = tl->prng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  tl->prng = x;
  return x * 0x2545f4914f6cdd1dull;
}

static int64_t next_interval(ms_tls_t *tl) {
  /* U in (0, 1]; -ln(U) * N is exponential with mean N. */
  double u = (double)((prng_next(tl) >> 11) + 1) * (1.0 / 9007199254740992.0);
  double d = -log(u) * (double)ms__g.sample_bytes;
  return d < 1.0 ? 1 : (int64_t)d;
}

uint32_t ms__sample_alloc(ms_tls_t *tl, size_t n, uintptr_t site) {
  if (ms__g.sample == MS_SAMPLE_BYTES) {
    if (tl->sample_left < 0)
      tl->sample_left = next_interval(tl);
    tl->sample_left -= (int64_t)n;
    if (tl->sample_left > 0)
      return 0;
    /* Draw until the next sample point lies beyond this block (a block can hold several). */
    while (tl->sample_left <= 0)
      tl->sample_left += next_interval(tl);
    return 1;
  }
  /* size-classes */
  if (n >= 64 * 1024)
    return 1;
  int cls = n >= 2048;
  uint32_t period = cls ? 2 : 100;
  uint32_t h = (uint32_t)((site >> 2) * 0x9e3779b1u) >> 26; /* 64 entries */
  if (tl->sites[h].site != site) {
    tl->sites[h].site = site;
    tl->sites[h].count = 0;
  }
  if (++tl->sites[h].count > 10)
    period /= 2; /* the frequency boost */
  /* The top 32 bits scaled to [0, period): 0 with probability 1/period (to 2^-32). */
  if (((prng_next(tl) >> 32) * period) >> 32 != 0)
    return 0;
  return period;
}
