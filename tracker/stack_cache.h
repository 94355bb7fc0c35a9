/* stack_cache.h: the per-thread stack cache's layout and its lookup (a hit), inlined into
 * the hooks through ms__stack_capture; learning, misses and the test modes are in stacks.c
 * (docs/tracker.md, "Stack cache"). Included by ms_internal.h only. */
#ifndef MS_STACK_CACHE_H
#define MS_STACK_CACHE_H

/* The lookup's functions are expanded into every hook body: a hit makes no call (GCC would
 * otherwise keep the grown lookup out of line). */
#define SC_INLINE static inline __attribute__((always_inline))

#define SC_WAYS 2
#define SC_BYTES (40 * 1024) /* most a thread's entries and header map (touched as entries
                                fill); the learn's buffers follow (stacks.c, sc_scratch_t) */
#define SC_MAX_GAP (256 * 1024) /* larger jumps between slots: another stack, not cached */
#define SC_MEMO_BITS 8          /* sc_cache_t.fp_memo: 256 return addresses, 2 KiB */
#define SC_MEMO (1u << SC_MEMO_BITS)

enum { SC_EMPTY = 0, SC_SEEN, SC_CACHED, SC_NEVER };

/* Two stack words a walk read: at loc[i] (addresses in the program's stack, fixed for a key:
 * the key's stack pointer is part of it) the values val[i]. In pairs, the values side by
 * side and 16-byte aligned, so that a hit compares both in one SSE2 register. */
typedef struct sc_check_s {
  uintptr_t loc[2];
  uint64_t val[2];
} __attribute__((aligned(16))) sc_check_t;

typedef struct sc_entry_s {
  uintptr_t site, cfa, fp; /* the key; fp counts only when fp_matters */
  uint32_t id;             /* the stack's id (never 0) when CACHED */
  uint8_t state;           /* SC_* */
  uint8_t nchecks;         /* words, even: chk holds nchecks / 2 pairs */
  uint8_t fp_matters;      /* the walk depends on the key's rbp: it must match too */
  uint8_t variant_misses;  /* misses before a learn (stacks.c): SEEN, the key's after its
                            * first; CACHED, its key's with other stack words */
  sc_check_t chk[];        /* at most SC_CHECKS(depth) / 2 pairs */
} sc_entry_t;

/* Words: return slots of frames 1..depth-1 and the stack's end, saved-rbp slots of frames
 * 1..depth-1, and one to make the count even (SC_CHECKS / 2 pairs). */
#define SC_CHECKS(depth) (2 * (depth) + 2)

typedef struct sc_cache_s {
  uint64_t gen;     /* ms__stack_cache_gen when the entries were last valid */
  pid_t tid;        /* the thread that filled them */
  uint32_t stride;  /* bytes per entry */
  uint32_t sets;    /* a power of two */
  uint32_t bytes;   /* of the mapping */
  uint32_t set_shift; /* 64 - log2(sets): a hash's top bits pick the set */
  uint64_t set_bytes; /* stride * SC_WAYS */
  /* The owner thread's own stack, [stk_lo, stk_hi): a key is cached only when every word it
   * checks lies there, between its stack pointer and the top. A thread's stack never moves
   * and is mapped from any stack pointer in it up to the top, so a hit (same thread, same
   * stack pointer) only reads mapped memory. Stacks the program switches to itself
   * (makecontext coroutines, sigaltstack) are outside: never cached. */
  uintptr_t stk_lo, stk_hi;
  uint8_t stk_state;   /* 0 not read yet, 1 known, 2 unknown (nothing is cached) */
  uint8_t victim[256]; /* per set: the way the next insertion replaces */
  /* Per return address, whether the step out of a frame at it reads rbp (stacks.c,
   * sc_step_reads_fp): (ip << 2) | reads << 1 | 1, 0 for none; direct-mapped by a hash of
   * the address. A fact about the code at ip (its unwind rule), so it stays valid across
   * owner threads and is dropped with the entries when a dlclose or fork bumps the
   * generation (other code may then be at ip). Learning only: a hit never reads it. */
  uint64_t fp_memo[SC_MEMO];
} __attribute__((aligned(16))) sc_cache_t; /* its size too: the entries follow it */

/* Bumped to drop every thread's entries (fork, dlclose); a cache is valid for one value. */
extern _Atomic uint64_t ms__stack_cache_gen MS_HIDDEN;

/* Fibonacci hashing of site ^ cfa: one multiply, the top bits (both vary in their low and
 * middle bits; the multiply carries those up). */
static inline uint32_t sc_set(const sc_cache_t *c, uintptr_t site, uintptr_t cfa) {
  uint64_t h = ((uint64_t)site ^ ((uint64_t)cfa << 7)) * 0x9e3779b97f4a7c15ull;
  return (uint32_t)(h >> c->set_shift); /* sets >= 2: the shift is < 64 */
}

/* Reads the program's stack above the hook: the words a walk from this key read moments ago
 * on this same thread (between the key's CFA and the thread's stack top, checked when
 * learned: every one is mapped, so all are read, with no branch per word). With SSE2 a pair
 * is two loads into one register, one XOR with the pair's values and one OR into the
 * differences; the scalar form does the same a word at a time. The loads go through
 * pointers loaded from the entry: the compiler cannot keep an earlier read. */
#if defined(__SSE2__)
#include <emmintrin.h>
/* One pair's differences from its values: zero when both words hold. */
SC_INLINE __m128i sc_pair_diff(const sc_check_t *c) {
  __m128d w = _mm_castsi128_pd(_mm_loadl_epi64((const __m128i *)c->loc[0]));
  w = _mm_loadh_pd(w, (const double *)c->loc[1]);
  return _mm_xor_si128(_mm_castpd_si128(w), _mm_load_si128((const __m128i *)c->val));
}
/* The first pair alone, with a branch: when a key has two entries (variants), its first pair
 * holds a word that tells them apart (stacks.c, sc_split_first), so the wrong one stops
 * there. Then two pairs an iteration into two registers (an odd pair first): one loop test
 * per four words. */
SC_INLINE int sc_words_hold(const sc_entry_t *e) {
  const sc_check_t *c = e->chk, *end = e->chk + e->nchecks / 2;
  if (((*(const uint64_t *)c->loc[0] ^ c->val[0]) |
       (*(const uint64_t *)c->loc[1] ^ c->val[1])) != 0)
    return 0;
  c++;
  __m128i d0 = _mm_setzero_si128(), d1 = _mm_setzero_si128();
  if (!(e->nchecks & 2)) /* an even count of pairs: after the first, an odd count */
    d0 = sc_pair_diff(c++);
  for (; c < end; c += 2) {
    d0 = _mm_or_si128(d0, sc_pair_diff(c));
    d1 = _mm_or_si128(d1, sc_pair_diff(c + 1));
  }
  d0 = _mm_or_si128(d0, d1);
  return _mm_movemask_epi8(_mm_cmpeq_epi32(d0, _mm_setzero_si128())) == 0xffff;
}
#else
SC_INLINE int sc_words_hold(const sc_entry_t *e) {
  const sc_check_t *c = e->chk, *end = e->chk + e->nchecks / 2;
  uint64_t diff = 0;
  for (; c < end; c++)
    diff |= (*(const uint64_t *)c->loc[0] ^ c->val[0]) |
            (*(const uint64_t *)c->loc[1] ^ c->val[1]);
  return diff == 0;
}
#endif

/* The lookup of a hit, inlined into the hook body (ms__stack_capture) so that a hit costs no
 * call: the id a walk would give, or 0 (a miss). Only the normal mode: the test modes count
 * and verify in stacks.c (ms__stack_cached). fp is never MS_STACK_NO_KEY here. */
SC_INLINE uint32_t ms__stack_cache_hit(ms_thread_t *t, uintptr_t site, uintptr_t cfa,
                                       uintptr_t fp) {
  const sc_cache_t *c = (const sc_cache_t *)t->stack_cache;
  if (MS_UNLIKELY(!c) ||
      c->gen != atomic_load_explicit(&ms__stack_cache_gen, memory_order_relaxed) ||
      c->tid != t->tid)
    return 0;
  const sc_entry_t *e = (const sc_entry_t *)(const void *)((const char *)c + sizeof(sc_cache_t) +
                                                           sc_set(c, site, cfa) * c->set_bytes);
  for (int w = 0; w < SC_WAYS; w++, e = (const sc_entry_t *)(const void *)((const char *)e +
                                                                          c->stride)) {
    if (e->site != site || e->cfa != cfa || e->state != SC_CACHED ||
        (e->fp_matters && e->fp != fp))
      continue;
    if (sc_words_hold(e))
      return e->id;
  }
  return 0;
}

#endif /* MS_STACK_CACHE_H */
