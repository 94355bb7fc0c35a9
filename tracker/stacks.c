/* stacks.c: call stacks from libunwind, interned in a process-wide lock-free table, and a
 * per-thread cache that gives a repeated stack's id without walking, exactly.
 *
 * Each distinct stack gets an id; its frames are written once (a STACK record in the buffer
 * of the thread that saw it first) and events carry only the id. The table is open
 * addressing over fixed, lazily-touched mappings: lookups of known stacks read shared
 * read-mostly lines and write nothing. The cache is at the end of the file. */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "ms_internal.h"

#define MS_STACK_SLOTS (1u << 20)         /* table slots; at most half are used */
#define MS_STACK_MAX (MS_STACK_SLOTS / 2) /* distinct stacks kept */
#define MS_FRAME_POOL (1u << 24)          /* frames stored, all stacks together */
#define MS_PROBE_MAX 128

typedef struct ms_stack_slot_s {
  _Atomic uint64_t hash; /* 0 = empty; set once by the inserting thread's CAS */
  _Atomic uint32_t id;   /* 0 until the frames are stored (release) */
  uint32_t nframes;
} ms_stack_slot_t;

typedef struct ms_stack_desc_s {
  uint32_t first; /* index in the frame pool */
  uint32_t nframes;
} ms_stack_desc_t;

static ms_stack_slot_t *slots;
static ms_stack_desc_t *descs; /* by id */
static uint64_t *pool;
static _Atomic uint32_t next_id = 1;
static _Atomic uint32_t pool_used;
static uintptr_t self_lo, self_hi; /* this library's code: frames to skip */

static void *map_noreserve(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t probe = (uintptr_t)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
      continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (probe >= lo && probe < hi) {
      self_lo = lo;
      self_hi = hi;
      return 1;
    }
  }
  return 0;
}

static void map_tables(void) {
  slots = map_noreserve(sizeof(ms_stack_slot_t) * MS_STACK_SLOTS);
  descs = map_noreserve(sizeof(ms_stack_desc_t) * (MS_STACK_MAX + 1));
  pool = map_noreserve(sizeof(uint64_t) * MS_FRAME_POOL);
  atomic_store(&next_id, 1);
  atomic_store(&pool_used, 0);
}

void ms__stacks_init(int walks) {
  dl_iterate_phdr(find_self, (void *)(uintptr_t)&ms__stack_intern);
  if (ms__g.depth) {
    ms__prim_sig_init(); /* before the first walk below; without stacks nothing walks */
    map_tables();
  }
  /* The first walk builds the unwinder's caches (libunwind's); do it now, not inside a hook.
   * This thread (the initial one: init runs from the library's constructor) walks with
   * unw_backtrace from the start, as before: its trace cache is one per process, not a cost
   * of each further thread, and a single-threaded program keeps its cheaper misses
   * (docs/tracker.md, "Stack cache": per-thread memory). */
  ms__prim_stepped_walks = MS_PRIM_STEPPED_WALKS;
  if (walks) { /* a trace without stacks never walks: libunwind is never started */
    void *warm[4];
    ms_prim_backtrace_traced(warm, 4);
  }
}

/* The child of fork re-emits every stack it uses into its own files, so it starts with a
 * fresh table; the parent's copy is dropped (the child is single-threaded here). */
static void sc_reset_counts(void);

void ms__stacks_reset_after_fork(void) {
  if (!ms__g.depth)
    return;
  sc_reset_counts();
  munmap(slots, sizeof(ms_stack_slot_t) * MS_STACK_SLOTS);
  munmap(descs, sizeof(ms_stack_desc_t) * (MS_STACK_MAX + 1));
  munmap(pool, sizeof(uint64_t) * MS_FRAME_POOL);
  map_tables();
  ms__stack_cache_invalidate(); /* cached ids were the parent's table's */
}

uint64_t ms__stacks_count(void) { return atomic_load(&next_id) - 1; }

int ms__own_code(uintptr_t addr) { return addr >= self_lo && addr < self_hi; }

static inline uint64_t hash_frames(void *const *f, int n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
  for (int i = 0; i < n; i++) {
    h ^= (uint64_t)(uintptr_t)f[i];
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h | 1; /* never 0: 0 marks an empty slot */
}

/* Writes a STACK record defining id into t's buffer. */
static void emit_stack(ms_thread_t *t, uint32_t id, void *const *f, int n) {
  uint32_t nslots = 1 + (uint32_t)((n + 3) / 4);
  ms_rec_t *r = ms__reserve(t, nslots);
  r->kind = MS_REC_STACK;
  r->stack = id;
  r->size = (uint64_t)n;
  uint64_t *frames = (uint64_t *)(void *)&r[1];
  for (int i = 0; i < n; i++)
    frames[i] = (uint64_t)(uintptr_t)f[i];
  uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
  __atomic_store_n(&t->ring.pos, pos + nslots, __ATOMIC_RELEASE);
}

__attribute__((noinline)) uint32_t ms__stack_intern(ms_thread_t *t, void **buf, int n) {
  int skip = 0;
  while (skip < n && (uintptr_t)buf[skip] >= self_lo && (uintptr_t)buf[skip] < self_hi)
    skip++;
  void **f = buf + skip;
  n -= skip;
  if (n > ms__g.depth)
    n = ms__g.depth;
  if (n <= 0 || !slots)
    return 0;
  uint64_t h = hash_frames(f, n);
  uint32_t mask = MS_STACK_SLOTS - 1;
  for (uint32_t probe = 0, i = (uint32_t)(h >> 20) & mask; probe < MS_PROBE_MAX;
       probe++, i = (i + 1) & mask) {
    ms_stack_slot_t *s = &slots[i];
    uint64_t cur = atomic_load_explicit(&s->hash, memory_order_acquire);
    if (cur == 0) {
      if (atomic_compare_exchange_strong(&s->hash, &cur, h)) {
        uint32_t id = atomic_fetch_add(&next_id, 1);
        uint32_t first = atomic_fetch_add(&pool_used, (uint32_t)n);
        if (id > MS_STACK_MAX || first + (uint32_t)n > MS_FRAME_POOL) {
          s->nframes = 0;
          atomic_store_explicit(&s->id, UINT32_MAX, memory_order_release);
          atomic_fetch_add(&ms__g.stack_table_full, 1);
          return 0;
        }
        memcpy(&pool[first], f, sizeof(uint64_t) * (size_t)n);
        descs[id].first = first;
        descs[id].nframes = (uint32_t)n;
        s->nframes = (uint32_t)n;
        /* Release: a thread that sees the id also sees the frames it compares against. */
        atomic_store_explicit(&s->id, id, memory_order_release);
        emit_stack(t, id, f, n);
        return id;
      }
      /* Lost the race for this slot: cur now holds the winner's hash; fall through. */
    }
    if (cur != h)
      continue;
    uint32_t id;
    while ((id = atomic_load_explicit(&s->id, memory_order_acquire)) == 0)
      ; /* the inserter is copying frames: a few dozen nanoseconds */
    if (id == UINT32_MAX)
      continue;
    const ms_stack_desc_t *d = &descs[id];
    if (d->nframes == (uint32_t)n && memcmp(&pool[d->first], f, sizeof(uint64_t) * (size_t)n) == 0)
      return id;
  }
  atomic_fetch_add(&ms__g.stack_table_full, 1);
  return 0;
}

/* ---- the per-thread stack cache (docs/tracker.md, "Stack cache") -------------------------
 * A walk by libunwind from a hook reads, besides the code's unwind tables, the hook's own
 * registers (fixed by the key: call site, stack pointer and frame pointer at the call) and,
 * in each program frame, the slot holding its return address and the slot holding the
 * caller's saved frame pointer. An entry keeps those slots' places and values; when the key
 * matches and every slot still holds its value, the walk would read the same values at the
 * same places and so return the same frames: the entry's id is the walk's id. The places
 * and values come from a walk with unw_step (ms_prim_walk), checked frame by frame against
 * unw_backtrace's own result; anything that walk cannot vouch for makes the key NEVER. */

/* A CACHED key's variant (other stack words) is learnt at its SC_VARIANT_LEARN-th miss: a
 * learn costs ~60,000 Ir on sqlite3, a miss's walk a few thousand. */
#define SC_VARIANT_LEARN 3
#define SC_KEY_LEARN 3 /* a new key is learnt at this miss (SEEN until then) */

int ms__stack_check;
/* ms_prim_backtrace's per-thread count (the backend's policy; it has no .c file of its own). */
__thread uint32_t ms__prim_stepped_walks __attribute__((tls_model("initial-exec")));
_Atomic uint64_t ms__stack_cache_gen = 1;
static _Atomic uint64_t sc_hits, sc_misses, sc_verified, sc_mismatches;
static _Atomic uint64_t sc_walks_compared, sc_walk_mismatches; /* stepped vs unw_backtrace */
static _Atomic uint64_t sc_fp_probes, sc_fp_memo_hits; /* sc_step_reads_fp: probed, memoized */

void ms__stack_cache_invalidate(void) { atomic_fetch_add(&ms__stack_cache_gen, 1); }

/* The child of fork counts only its own captures: the parent's meta.txt has the rest, and a
 * parent's thread caught between a hit and its verification (a walk) would otherwise leave
 * the child's sum one hit short of verified. */
static void sc_reset_counts(void) {
  atomic_store(&sc_hits, 0);
  atomic_store(&sc_misses, 0);
  atomic_store(&sc_verified, 0);
  atomic_store(&sc_mismatches, 0);
  atomic_store(&sc_walks_compared, 0);
  atomic_store(&sc_walk_mismatches, 0);
  atomic_store(&sc_fp_probes, 0);
  atomic_store(&sc_fp_memo_hits, 0);
}

static inline sc_entry_t *sc_entry(sc_cache_t *c, uint32_t i) {
  return (sc_entry_t *)(void *)((char *)c + sizeof(sc_cache_t) + (size_t)i * c->stride);
}

/* The test modes' part of a lookup (ms__stack_capture): hit_id is the inlined lookup's
 * result, the one the normal mode uses; a hit is counted. WEAK replaces it by a lookup that
 * trusts the key alone (no stack-word check), which the adversarial test shows wrong. */
uint32_t ms__stack_cached(ms_thread_t *t, uintptr_t site, uintptr_t cfa, uintptr_t fp,
                          uint32_t hit_id) {
  if (ms__stack_check == MS_STACK_CHECK_WEAK) {
    hit_id = 0;
    sc_cache_t *c = t->stack_cache;
    if (c && c->gen == atomic_load(&ms__stack_cache_gen) && c->tid == t->tid) {
      uint32_t set = sc_set(c, site, cfa);
      for (int w = 0; w < SC_WAYS && !hit_id; w++) {
        const sc_entry_t *e = sc_entry(c, set * SC_WAYS + (uint32_t)w);
        if (e->site == site && e->cfa == cfa && e->state == SC_CACHED &&
            (!e->fp_matters || e->fp == fp))
          hit_id = e->id;
      }
    }
  }
  if (hit_id)
    atomic_fetch_add_explicit(&sc_hits, 1, memory_order_relaxed);
  return hit_id;
}

/* The thread's cache, mapped at its first miss and emptied when it belonged to another
 * thread or a fork or dlclose happened since (ms__stack_cache_gen). NULL when it cannot be
 * mapped. */
_Static_assert(sizeof(sc_cache_t) + 2 * SC_WAYS * (sizeof(sc_entry_t) + sizeof(sc_check_t) *
                                                   (size_t)SC_CHECKS(MS_MAX_DEPTH) / 2) <= SC_BYTES,
               "two sets fit at the greatest depth");

/* A learn's buffers: the stepped walk, its IPs, and unw_backtrace's frames to compare. One
 * a thread (a learn runs inside the hook, with the thread HOOK: a signal handler's allocator
 * call is not recorded, so no learn nests in another), at the end of its cache's mapping
 * (sc_scratch). Kept off the stack: a learn runs in the program's thread, on whatever stack
 * it has (PTHREAD_STACK_MIN is 16 KiB), and under it come pthread_getattr_np, the chunk
 * writes and the dynamic linker's lazy binding, whose frame took 2,544 bytes with
 * AVX-512: in sc_walk_learn's frame (6,920 bytes with them) they overflowed such a stack
 * (tests/tracker/small_stack.c). Not a pointer in sc_cache_t: its size places the entries,
 * which start on a cache line. */
typedef struct sc_scratch_s {
  ms_prim_frame_t w[MS_MAX_DEPTH + 10];
  void *frames[MS_MAX_DEPTH + 10];
  void *bt[MS_MAX_DEPTH + 10];
} sc_scratch_t;

static inline sc_scratch_t *sc_scratch(sc_cache_t *c) {
  return (sc_scratch_t *)(void *)((char *)c + c->bytes - sizeof(sc_scratch_t));
}

static sc_cache_t *sc_get(ms_thread_t *t) {
  sc_cache_t *c = t->stack_cache;
  uint64_t gen = atomic_load(&ms__stack_cache_gen);
  if (!c) {
    uint32_t stride =
        (uint32_t)(sizeof(sc_entry_t) + sizeof(sc_check_t) * (size_t)SC_CHECKS(ms__g.depth) / 2);
    uint32_t sets = 128;
    while (sets > 2 && sizeof(sc_cache_t) + (size_t)sets * SC_WAYS * stride > SC_BYTES)
      sets /= 2;
    uint32_t bytes = (uint32_t)(sizeof(sc_cache_t) + (size_t)sets * SC_WAYS * stride);
    size_t scratch_at = (bytes + 15u) & ~(size_t)15u;
    c = map_noreserve(scratch_at + sizeof(sc_scratch_t)); /* zeroed: every entry EMPTY */
    if (!c)
      return NULL;
    c->stride = stride;
    c->sets = sets;
    c->set_bytes = (uint64_t)stride * SC_WAYS;
    c->set_shift = 64;
    for (uint32_t s = sets; s > 1; s /= 2)
      c->set_shift--;
    c->bytes = (uint32_t)(scratch_at + sizeof(sc_scratch_t)); /* the scratch ends it */
    c->gen = gen;
    c->tid = t->tid;
    t->stack_cache = c;
    return c;
  }
  if (c->gen != gen || c->tid != t->tid) {
    for (uint32_t i = 0; i < c->sets * SC_WAYS; i++)
      sc_entry(c, i)->state = SC_EMPTY;
    if (c->gen != gen) /* dlclose or fork: other code may be where the memo's was */
      memset(c->fp_memo, 0, sizeof c->fp_memo);
    if (c->tid != t->tid)
      c->stk_state = 0; /* another thread: its own stack */
    c->gen = gen;
    c->tid = t->tid;
  }
  return c;
}

/* The calling thread's stack, read once per owner (glibc's record of it; for the initial
 * thread glibc reads /proc/self/maps). Called only while learning, inside a signal hold
 * (ms__stack_learn_miss, before the walk; sc_learn): getattr's realloc and destroy's free
 * are then known for the tracker's (slow_enter). 1 when c's bounds are known. */
static int sc_stack_bounds(sc_cache_t *c) {
  if (c->stk_state == 0) {
    pthread_attr_t a;
    void *addr = NULL;
    size_t size = 0;
    c->stk_state = 2;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
      if (pthread_attr_getstack(&a, &addr, &size) == 0 && addr && size) {
        c->stk_lo = (uintptr_t)addr;
        c->stk_hi = (uintptr_t)addr + size;
        c->stk_state = 1;
      }
      pthread_attr_destroy(&a);
    }
  }
  return c->stk_state == 1;
}

/* A buffer's owner thread ends: the next owner (possibly given the same thread id) must not
 * find entries that check the old thread's stack, which may be unmapped by then. */
void ms__stack_cache_release(ms_thread_t *t) {
  sc_cache_t *c = t->stack_cache;
  if (c)
    c->tid = 0;
}

_Static_assert((int)MS_PRIM_GREG_RBP == (int)REG_RBP && (int)MS_PRIM_GREG_RSP == (int)REG_RSP &&
                   (int)MS_PRIM_GREG_RIP == (int)REG_RIP,
               "the x86-64 backend's register indices are glibc's");

/* sc_step_reads_fp's probe, without the memo. */
static int sc_step_probe(const ms_prim_frame_t *x, const ms_prim_frame_t *next) {
  uint64_t scratch[64] = {0};
  uintptr_t ip_a, sp_a, ip_b, sp_b;
  int rc_a = ms_prim_step_from(x->ip, x->sp, x->fp, &ip_a, &sp_a);
  if (next ? rc_a != 1 || ip_a != next->ip || sp_a != next->sp : rc_a != 0)
    return -1;
  int rc_b = ms_prim_step_from(x->ip, x->sp, (uintptr_t)&scratch[32], &ip_b, &sp_b);
  /* Both ended the stack: where x's code has unwind info its rule ended it (RIP undefined),
   * whatever rbp holds; where it has none, libunwind's frame-pointer fallback ended it
   * because of rbp's value (0, below the CFA, or far above it), which the zeroed buffer
   * below our frame happens to share, so the probe cannot tell: rbp counts (a review's
   * program: 7 cached stacks of one frame where the walk, with another rbp, went on).
   * ip - 1: x->ip is a return address, its call may be the function's last instruction. */
  if (!next && rc_b == 0)
    return ms_prim_has_unwind_info(x->ip - 1) != 1;
  return rc_b != rc_a || (rc_a == 1 && (ip_b != ip_a || sp_b != sp_a));
}

/* 1 when the step out of frame x reads its frame pointer: the same step with fp pointing into
 * a zeroed buffer of ours gives another result (a CFA computed from rbp, or libunwind's
 * frame-pointer fallback, now reads zeros). The buffer keeps every such read safe. -1 when
 * the step from x's IP, stack pointer and true fp does not give `next` (the walk disagrees
 * with itself: not cached). next is NULL for the stack's last frame (the step ended it).
 *
 * Memoized per IP (c->fp_memo) for frames that are not the last: the answer is a fact about
 * the unwind rule at x->ip, which libunwind itself caches by IP (its rs_cache). With CFI the
 * rule is fixed: the CFA and return address come from rsp, or from rbp (then the zeroed
 * buffer gives return address 0, never the walk's), and a rule through another register
 * fails the first step (those registers point at zeros too). Without CFI libunwind follows
 * rbp (its frame-chain fallback, src/x86_64/Gstep.c): the buffer lies below the program's
 * frames, so that step ends, while the walk's went on: reads, every time. So a probe at the
 * same IP gives the same answer; a -1 is not memoized (probed again). The probes are two
 * unw_init_local + unw_step, each step taking libunwind's cache lock between two
 * rt_sigprocmask calls: most of a learn's cost (docs/tracker.md, "Stack cache"). */
static int sc_step_reads_fp(sc_cache_t *c, const ms_prim_frame_t *x,
                            const ms_prim_frame_t *next) {
  uint64_t *memo = NULL;
  if (next) {
    memo = &c->fp_memo[(uint32_t)(((uint64_t)x->ip * 0x9e3779b97f4a7c15ull) >>
                                  (64 - SC_MEMO_BITS))];
    if (*memo >> 2 == (uint64_t)x->ip && (*memo & 1)) {
      atomic_fetch_add_explicit(&sc_fp_memo_hits, 1, memory_order_relaxed);
      return (int)(*memo >> 1 & 1);
    }
  }
  atomic_fetch_add_explicit(&sc_fp_probes, 1, memory_order_relaxed);
  int reads = sc_step_probe(x, next);
  if (memo && reads >= 0)
    *memo = (uint64_t)x->ip << 2 | (uint64_t)reads << 1 | 1;
  return reads;
}

/* Word k of e's list (stack_cache.h keeps them in pairs). */
static inline uintptr_t *sc_loc(sc_entry_t *e, int k) { return &e->chk[k / 2].loc[k % 2]; }
static inline uint64_t *sc_val(sc_entry_t *e, int k) { return &e->chk[k / 2].val[k % 2]; }
static inline void sc_swap(sc_entry_t *e, int i, int j) {
  uintptr_t loc = *sc_loc(e, i);
  uint64_t val = *sc_val(e, i);
  *sc_loc(e, i) = *sc_loc(e, j);
  *sc_val(e, i) = *sc_val(e, j);
  *sc_loc(e, j) = loc;
  *sc_val(e, j) = val;
}

/* Appends a check; the caller stays within SC_CHECKS(depth). */
static inline void sc_add(sc_entry_t *e, uintptr_t loc, uint64_t val) {
  e->chk[e->nchecks / 2].loc[e->nchecks % 2] = loc;
  e->chk[e->nchecks / 2].val[e->nchecks % 2] = val;
  e->nchecks++;
}

/* Fills e (key already set) from a stepped walk w[0, m) (ms_prim_walk; end its end flag),
 * or marks it NEVER. f[0, np) are the program's frames of the capture (this library's
 * dropped, cut to the depth), whose id is id: the walk's own IPs (sc_walk_learn). */
static void sc_learn(sc_cache_t *c, sc_entry_t *e, const ms_prim_frame_t *w, int m, int end,
                     void *const *f, int np, uint32_t id) {
  uintptr_t cfa = e->cfa;
  e->state = SC_NEVER;
  e->nchecks = 0;
  if (m < 0)
    return;
  int j = 0;
  while (j < m && ms__own_code(w[j].ip))
    j++;
  if (j + np > m || np < 1 || w[j].ip != e->site || w[j].sp != cfa || w[j].fp != e->fp)
    return;
  /* The walk must end where unw_backtrace's did: at the depth, or at the stack's end. */
  int ended = np < ms__g.depth;
  if (ended && !(end && m == j + np))
    return;
  const ms_prim_frame_t *x = &w[j];
  /* Pass 1: each frame an ordinary call frame, on one stack, as unw_backtrace saw it. */
  uintptr_t prev = cfa - 8;
  for (int k = 0; k < np; k++) {
    if (x[k].ip != (uintptr_t)f[k] || x[k].signal)
      return;
    /* The return address sits just below the caller's stack pointer, above the previous
     * slot and not far from it (the same stack). */
    if (x[k].ip_loc != x[k].sp - 8 || x[k].ip_loc < prev || x[k].ip_loc - prev > SC_MAX_GAP ||
        (k == 0 && x[k].ip_loc != cfa - 8))
      return;
    if (k > 0 && x[k].fp_loc >= cfa && x[k].fp_loc != x[k - 1].fp_loc) {
      /* rbp saved by frame k-1: the slot lies in that frame. */
      if (x[k].fp_loc < x[k - 1].sp || x[k].fp_loc >= x[k].ip_loc)
        return;
      /* A frame-pointer frame (its rbp points at the slot) must be the plain layout, saved
       * rbp right below the return address: GCC's realigned frames (DRAP) find their CFA
       * through another stack word that the slots here would not cover. */
      if (x[k - 1].fp == x[k].fp_loc && x[k].ip_loc != x[k].fp_loc + 8)
        return;
    } else if (x[k].fp != (k ? x[k - 1].fp : e->fp)) {
      return; /* not saved by a program frame: must be the inner frame's value */
    }
    prev = x[k].ip_loc;
    /* Frame 0's return slot (cfa - 8) is the key's call site, read from there: no check. */
    if (k > 0)
      sc_add(e, x[k].ip_loc, x[k].ip);
  }
  /* Pass 2, outermost first: which frames' rbp values the walk depends on. A frame's step
   * reads rbp (sc_step_reads_fp), or passes it on unsaved to an outer frame that needs it.
   * A needed value is checked at the slot it was loaded from, or is the key's own rbp. */
  int need = 0; /* the next outer frame's rbp value matters and is this frame's, unsaved */
  e->fp_matters = 0;
  for (int k = np - 1; k >= 0; k--) {
    int reads = 0;
    if (k < np - 1 || ended) {
      reads = sc_step_reads_fp(c, &x[k], k < np - 1 ? &x[k + 1] : NULL);
      if (reads < 0)
        return;
    }
    need |= reads;
    int loaded = k > 0 && x[k].fp_loc >= cfa && x[k].fp_loc != x[k - 1].fp_loc;
    if (need && loaded) {
      sc_add(e, x[k].fp_loc, x[k].fp);
      need = 0; /* the slot pins the value: inner frames' rbp no longer matters here */
    }
  }
  e->fp_matters = (uint8_t)need; /* still needed at frame 0: the key's rbp */
  if (ended && w[m].ip_loc != 0 && w[m].ip_loc != w[m - 1].ip_loc) {
    /* The last step read a return address (0, ending the stack): check that word too. */
    uintptr_t loc = w[m].ip_loc;
    if (loc < prev || loc - prev > SC_MAX_GAP)
      return;
    sc_add(e, loc, *(const volatile uint64_t *)loc);
  }
  if (e->nchecks == 0) /* a hit checks its first pair unconditionally: the key's own slot */
    sc_add(e, cfa - 8, e->site);
  if (e->nchecks & 1) /* pairs: repeat the first */
    sc_add(e, e->chk[0].loc[0], e->chk[0].val[0]);
  /* Every word a hit will read, on this thread's own stack (sc_cache_t.stk_lo): else none. */
  if (!sc_stack_bounds(c) || cfa - 8 < c->stk_lo || cfa > c->stk_hi)
    return;
  for (int k = 0; k < e->nchecks; k++)
    if (*sc_loc(e, k) < cfa - 8 || *sc_loc(e, k) > c->stk_hi - 8)
      return;
  e->id = id;
  e->state = SC_CACHED;
}

/* Test mode (MEMSCOPE_TEST_STACK_VERIFY=1): the program's frames of the hook's walk, f[0, n)
 * as ms_prim_backtrace gave them, against a fresh unw_backtrace from here. Both lists drop
 * this library's leading frames (here: this function, ms__stack_missed or sc_walk_learn and
 * ms__stack_learn_miss, the hook body; up to 8 are walked) and
 * are cut to the depth. noinline: a frame of ours, dropped like the others. */
static __attribute__((noinline)) void sc_compare_walk(void *const *f, int n) {
  void *fresh[MS_MAX_DEPTH + 8];
  int m = ms_prim_backtrace_traced(fresh, ms__g.depth + 8);
  int a = 0, b = 0;
  while (a < n && ms__own_code((uintptr_t)f[a]))
    a++;
  while (b < m && ms__own_code((uintptr_t)fresh[b]))
    b++;
  int na = n - a < ms__g.depth ? n - a : ms__g.depth;
  int nb = m - b < ms__g.depth ? m - b : ms__g.depth;
  atomic_fetch_add_explicit(&sc_walks_compared, 1, memory_order_relaxed);
  if (na != nb || memcmp(f + a, fresh + b, sizeof(void *) * (size_t)(na > 0 ? na : 0)) != 0)
    atomic_fetch_add_explicit(&sc_walk_mismatches, 1, memory_order_relaxed);
}

uint32_t ms__stack_missed(ms_thread_t *t, void **frames, int n, uint32_t hit_id) {
  if (MS_UNLIKELY(ms__stack_check >= MS_STACK_CHECK_ON)) {
    /* Every walk of the test mode is stepped (the count restarts) and compared with
     * unw_backtrace: the stepped walk must give exactly its frames. */
    sc_compare_walk(frames, n);
    ms__prim_stepped_walks = 0;
  }
  uint32_t id = ms__stack_intern(t, frames, n);
  if (MS_UNLIKELY(ms__stack_check)) {
    if (hit_id) { /* a verified hit: the walk is the truth, the cache is only compared */
      atomic_fetch_add_explicit(&sc_verified, 1, memory_order_relaxed);
      if (hit_id != id)
        atomic_fetch_add_explicit(&sc_mismatches, 1, memory_order_relaxed);
      return id;
    }
    atomic_fetch_add_explicit(&sc_misses, 1, memory_order_relaxed);
  }
  return id; /* the cache's part of a miss ran before the walk (ms__stack_learn_miss) */
}

/* The cache's part of a miss with key (site, cfa, fp), before any walk: finds the key's
 * entries and counts the miss. Returns the entry (keyed, NEVER until learnt) that this miss
 * learns into: the key's SC_KEY_LEARN-th miss, or a CACHED key's SC_VARIANT_LEARN-th miss
 * with other stack words (learnt into the other way, so that two callers alternating
 * through one key both hit). NULL when this miss only walks. */
static sc_entry_t *sc_on_miss(sc_cache_t *c, uintptr_t site, uintptr_t cfa, uintptr_t fp,
                              sc_entry_t **variant_of) {
  uint32_t set = sc_set(c, site, cfa);
  sc_entry_t *match = NULL;
  int match_way = -1;
  for (int w = 0; w < SC_WAYS; w++) {
    sc_entry_t *e = sc_entry(c, set * SC_WAYS + (uint32_t)w);
    if (e->state != SC_EMPTY && e->site == site && e->cfa == cfa) {
      match = e;
      match_way = w;
      if (e->state != SC_CACHED)
        break; /* SEEN or NEVER decides; a CACHED one is another caller's variant */
    }
  }
  if (match && match->state == SC_NEVER)
    return NULL;
  if (match && match->state == SC_SEEN) { /* the key's SC_KEY_LEARN-th miss: learn it */
    if (match->variant_misses + 2 < SC_KEY_LEARN) {
      match->variant_misses++; /* SEEN: the key's misses after its first */
      return NULL;
    }
    match->variant_misses = 0; /* CACHED from here: counts its variants' misses */
    match->fp = fp;
    match->state = SC_NEVER;
    return match;
  }
  /* A CACHED key whose stack words differ: the misses before its SC_VARIANT_LEARN-th only
   * count (a variant seen once or twice does not pay for a learn). */
  if (match && match->variant_misses + 1 < SC_VARIANT_LEARN) {
    match->variant_misses++;
    return NULL;
  }
  if (match)
    match->variant_misses = 0;
  /* New key (made SEEN), or a CACHED key's variant, learnt into the other way. */
  int way = match ? !match_way : c->victim[set];
  c->victim[set] = (uint8_t)!way;
  sc_entry_t *e = sc_entry(c, set * SC_WAYS + (uint32_t)way);
  e->site = site;
  e->cfa = cfa;
  e->fp = fp;
  e->nchecks = 0;
  e->variant_misses = 0;
  e->state = match ? SC_NEVER : SC_SEEN;
  *variant_of = match;
  return match ? e : NULL;
}

/* Two entries of one key (variants: the same call site and stack pointer reached from two
 * callers): moves a word that both check and that holds different values in them to the
 * front of both lists, so that a hit on one way, checked after the other, stops the other's
 * check at its first pair (on sqlite3 a third of the hits checked the wrong way first, up to
 * its third pair). The order of a list does not change what a hit checks. */
static void sc_split_first(sc_entry_t *a, sc_entry_t *b) {
  for (int i = 0; i < a->nchecks; i++)
    for (int j = 0; j < b->nchecks; j++)
      if (*sc_loc(a, i) == *sc_loc(b, j) && *sc_val(a, i) != *sc_val(b, j)) {
        sc_swap(a, i, 0);
        sc_swap(b, j, 0);
        return;
      }
}

/* A learning miss: one stepped walk (ms_prim_walk, with where each frame's return address
 * and rbp were read) gives both the capture's frames and what sc_learn needs. Before, the
 * miss took unw_backtrace's frames and the learn walked again. Within a thread's first
 * stepped walks the stepped walk is the thread's walk (ms_prim_backtrace); after them
 * unw_backtrace is asked too and must agree (below). The test modes compare every stepped
 * walk with a fresh unw_backtrace (sc_compare_walk). noinline: the walk starts in this
 * frame, ours. */
static __attribute__((noinline)) uint32_t sc_walk_learn(ms_thread_t *t, sc_cache_t *c,
                                                        sc_entry_t *e) {
  ms_prim_frame_t *w = sc_scratch(c)->w;
  void **frames = sc_scratch(c)->frames;
  /* our frames: this, ms__stack_learn_miss, the hook body */
  int end, max = ms__g.depth + 8;
  /* One hold for the walk and every probe (ms_prim_sig_hold: libunwind's signal blocking
   * done once, not twice a step). Released before the stack is interned: that may write the
   * thread's chunks, which is no work to do with the program's signals blocked. */
  ms_prim_sig_hold();
  int m = ms_prim_walk(w, max, &end);
  if (m < 0) { /* libunwind failed on the way: the capture takes the ordinary walk */
    e->state = SC_NEVER;
    int n = ms_prim_backtrace(frames, max);
    if (MS_UNLIKELY(ms__stack_check >= MS_STACK_CHECK_ON)) {
      sc_compare_walk(frames, n);
      ms__prim_stepped_walks = 0;
    }
    ms_prim_sig_release();
    return ms__stack_intern(t, frames, n);
  }
  for (int i = 0; i < m; i++)
    frames[i] = (void *)w[i].ip;
  if (MS_UNLIKELY(ms__stack_check >= MS_STACK_CHECK_ON))
    sc_compare_walk(frames, m);
  int skip = 0;
  while (skip < m && ms__own_code(w[skip].ip))
    skip++;
  int np = m - skip < ms__g.depth ? m - skip : ms__g.depth;
  if (ms__prim_stepped_walks >= MS_PRIM_STEPPED_WALKS) {
    /* Past its stepped walks a thread's stacks are unw_backtrace's, and unw_backtrace is
     * not always the stepped walk: its trace cache follows a frame without CFI that it met
     * with a real frame pointer as rbp+16 later too, where unw_step's fallback ends the
     * stack. So the walk's frames are recorded and learnt only when unw_backtrace agrees
     * (its cache is warm here: a few hundred instructions); otherwise its frames are the
     * stack and the key is never cached (a review's program: 38 of 40 calls recorded with
     * one frame of two). */
    void **bt = sc_scratch(c)->bt;
    int nb = ms_prim_backtrace_traced(bt, max), bskip = 0;
    while (bskip < nb && ms__own_code((uintptr_t)bt[bskip]))
      bskip++;
    int bp = nb - bskip < ms__g.depth ? nb - bskip : ms__g.depth;
    if (bp != np || memcmp(bt + bskip, frames + skip, sizeof(void *) * (size_t)np) != 0) {
      e->state = SC_NEVER;
      ms_prim_sig_release();
      return ms__stack_intern(t, bt, nb);
    }
  }
  /* Learnt with a stand-in id (sc_learn only stores it): the entry is this thread's, and no
   * hook of it runs before the real id is put in below. */
  sc_learn(c, e, w, m, end, frames + skip, np, UINT32_MAX - 1);
  ms_prim_sig_release();
  uint32_t id = ms__stack_intern(t, frames, m);
  if (id == 0 || id == UINT32_MAX)
    e->state = SC_NEVER;
  else if (e->state == SC_CACHED)
    e->id = id;
  return id;
}

int ms__stack_learn_miss(ms_thread_t *t, uintptr_t site, uintptr_t cfa, uintptr_t fp,
                         uint32_t *id) {
  sc_cache_t *c = sc_get(t);
  sc_entry_t *variant_of = NULL;
  sc_entry_t *e = c ? sc_on_miss(c, site, cfa, fp, &variant_of) : NULL;
  if (!e)
    return 0;
  if (MS_UNLIKELY(ms__stack_check))
    atomic_fetch_add_explicit(&sc_misses, 1, memory_order_relaxed);
  if (c->stk_state == 0) {
    /* The thread's stack bounds (sc_learn's) are read here, under this small frame, not under
     * sc_walk_learn's: pthread_getattr_np's first realloc and calloc go through glibc's lazy
     * binding, whose frame (2,544 bytes with AVX-512) overflowed a 16 KiB thread stack
     * below the walk's frame (tests/tracker/small_stack.c). In a hold, as there. */
    ms_prim_sig_hold();
    (void)sc_stack_bounds(c);
    ms_prim_sig_release();
  }
  *id = sc_walk_learn(t, c, e);
  if (variant_of && e->state == SC_CACHED && variant_of->state == SC_CACHED)
    sc_split_first(e, variant_of);
  return 1;
}

int ms__stack_cache_meta(char *buf, size_t cap) {
  if (!ms__stack_check)
    return 0;
  int n = snprintf(buf, cap,
                   "stack_cache_hits=%llu\nstack_cache_misses=%llu\nstack_cache_verified=%llu\n"
                   "stack_cache_mismatches=%llu\nstack_walks_compared=%llu\n"
                   "stack_walk_mismatches=%llu\nstack_fp_probes=%llu\n"
                   "stack_fp_memo_hits=%llu\n",
                   (unsigned long long)atomic_load(&sc_hits),
                   (unsigned long long)atomic_load(&sc_misses),
                   (unsigned long long)atomic_load(&sc_verified),
                   (unsigned long long)atomic_load(&sc_mismatches),
                   (unsigned long long)atomic_load(&sc_walks_compared),
                   (unsigned long long)atomic_load(&sc_walk_mismatches),
                   (unsigned long long)atomic_load(&sc_fp_probes),
                   (unsigned long long)atomic_load(&sc_fp_memo_hits));
  return n > 0 && (size_t)n < cap ? n : 0;
}
