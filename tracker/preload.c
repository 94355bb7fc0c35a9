/* preload.c: the interposed allocator family (and exec/spawn/system/popen, dlclose, setname,
 * sigprocmask), and their fast path.
 *
 * Every hook reads one thread-local byte first. Untracked threads, nested calls and calls
 * before the tracker is ready go straight to the next allocator. Tracked calls call the real
 * function, then append one fixed-size record to the thread's own buffer: no lock, no shared
 * cache line written. What a hook returns is always exactly what the real call returned. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "ms_internal.h"

#define MS_EXPORT __attribute__((visibility("default")))

__thread ms_tls_t ms__tls __attribute__((tls_model("initial-exec")));

/* ---- the next allocator ---------------------------------------------------------------- */

typedef struct ms_real_s {
  void *(*malloc)(size_t);
  void (*free)(void *);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  void *(*reallocarray)(void *, size_t, size_t);
  int (*posix_memalign)(void **, size_t, size_t);
  void *(*aligned_alloc)(size_t, size_t);
  void *(*memalign)(size_t, size_t);
  void *(*valloc)(size_t);
  void *(*pvalloc)(size_t);
  size_t (*malloc_usable_size)(void *);
} ms_real_t;

static ms_real_t real;
/* The next sigprocmask (see sigprocmask below): resolved with the allocator, never in a call
 * of sigprocmask itself (dlsym is not async-signal-safe, sigprocmask is). */
static int (*next_sigprocmask)(int, const sigset_t *, sigset_t *);
/* The next pipe2 and close family (see pipe2 below), resolved with the allocator:
 * libunwind's calls come from inside a walk, where dlsym has no business. */
static int (*next_pipe2)(int *, int);
static int (*next_close)(int);
static int (*next_close_range)(unsigned, unsigned, int);
static void (*next_closefrom)(int);
static int (*next_dup2)(int, int);
static int (*next_dup3)(int, int, int);

/* dlsym returns an object pointer; POSIX guarantees it converts to a function pointer, ISO C
 * does not, so copy the bits (the form -Wpedantic accepts). */
#define NEXT_SYM(fp, name)                                                                     \
  do {                                                                                         \
    void *sym_ = dlsym(RTLD_NEXT, name);                                                       \
    memcpy(&(fp), &sym_, sizeof(fp));                                                          \
  } while (0)
static _Atomic int resolving; /* dlsym is running: its own allocations use the arena below */

/* dlsym allocates (dlerror state, a few bytes) before the real malloc is known. Those
 * requests are served from this static arena; its blocks are never freed or reused. */
static char boot_arena[64 * 1024] __attribute__((aligned(64)));
static _Atomic size_t boot_used;

static int is_boot(const void *p) {
  return (const char *)p >= boot_arena && (const char *)p < boot_arena + sizeof boot_arena;
}

static void *boot_alloc(size_t n, size_t align) {
  if (align < 16)
    align = 16;
  size_t cur = atomic_load(&boot_used), start;
  do {
    start = (cur + align - 1) & ~(align - 1);
    if (start + n > sizeof boot_arena || start + n < start)
      return NULL;
  } while (!atomic_compare_exchange_weak(&boot_used, &cur, start + n));
  return boot_arena + start;
}

static void resolve(void) {
  int expected = 0;
  if (!atomic_compare_exchange_strong(&resolving, &expected, 1))
    return; /* another thread is resolving; callers fall back to the arena meanwhile */
  ms_real_t r;
  NEXT_SYM(r.malloc, "malloc");
  NEXT_SYM(r.free, "free");
  NEXT_SYM(r.calloc, "calloc");
  NEXT_SYM(r.realloc, "realloc");
  NEXT_SYM(r.reallocarray, "reallocarray");
  NEXT_SYM(r.posix_memalign, "posix_memalign");
  NEXT_SYM(r.aligned_alloc, "aligned_alloc");
  NEXT_SYM(r.memalign, "memalign");
  NEXT_SYM(r.valloc, "valloc");
  NEXT_SYM(r.pvalloc, "pvalloc");
  NEXT_SYM(r.malloc_usable_size, "malloc_usable_size");
  int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
  NEXT_SYM(sigmask_fn, "sigprocmask");
  __atomic_store_n(&next_sigprocmask, sigmask_fn, __ATOMIC_RELAXED);
  int (*pipe2_fn)(int *, int);
  NEXT_SYM(pipe2_fn, "pipe2");
  __atomic_store_n(&next_pipe2, pipe2_fn, __ATOMIC_RELAXED);
  NEXT_SYM(next_close, "close");
  NEXT_SYM(next_close_range, "close_range");
  NEXT_SYM(next_closefrom, "closefrom");
  NEXT_SYM(next_dup2, "dup2");
  NEXT_SYM(next_dup3, "dup3");
  /* free is published last: a hook that sees real.malloc set may use every other pointer. */
  real.free = r.free;
  real.calloc = r.calloc;
  real.realloc = r.realloc;
  real.reallocarray = r.reallocarray;
  real.posix_memalign = r.posix_memalign;
  real.aligned_alloc = r.aligned_alloc;
  real.memalign = r.memalign;
  real.valloc = r.valloc;
  real.pvalloc = r.pvalloc;
  real.malloc_usable_size = r.malloc_usable_size;
  __atomic_store_n(&real.malloc, r.malloc, __ATOMIC_RELEASE);
}

static inline int ready(void) {
  if (MS_LIKELY(__atomic_load_n(&real.malloc, __ATOMIC_ACQUIRE) != NULL))
    return 1;
  resolve();
  return __atomic_load_n(&real.malloc, __ATOMIC_ACQUIRE) != NULL;
}

/* Resolves the next allocator now: the constructor calls this, so that a thread switched in
 * by memscope_thread_track before its first allocation finds it resolved. */
int ms__preload_ready(void) { return ready(); }

/* ---- recording --------------------------------------------------------------------------
 * Called with the thread HOOK. ts is taken by the caller at the moment that keeps the merged
 * order right: after the real allocator returned for allocations, before it runs for frees. */

/* Owner-only counters in the ring header (read racily by snapshots and meta.txt). */
static inline void count_alloc(ms_thread_t *t, size_t n) {
  __atomic_store_n(&t->ring.n_alloc, t->ring.n_alloc + 1, __ATOMIC_RELAXED);
  __atomic_store_n(&t->ring.n_bytes, t->ring.n_bytes + n, __ATOMIC_RELAXED);
}

/* Test knob (MEMSCOPE_TEST_SLOWDOWN=k): redo the stack capture and timestamp k more times,
 * so the harness's overhead gate can be shown to catch a slower hot path. */
static __attribute__((noinline)) void slowdown(ms_thread_t *t) {
  for (int i = 0; i < ms__g.slowdown; i++) {
    (void)ms__now();
    if (ms__g.depth)
      (void)ms__stack_capture(t, MS_STACK_NO_KEY);
  }
}

/* always_inline, here and below: stack capture drops a fixed count of our own frames, so the
 * hooks must not grow frames in a -O0 build. */
#define MS_INLINE static inline __attribute__((always_inline))

MS_INLINE void rec_alloc(ms_tls_t *tl, void *p, size_t n, size_t align, uintptr_t site,
                         uintptr_t fp) {
  if (MS_UNLIKELY(!atomic_load_explicit(&ms__g.recording, memory_order_relaxed))) {
    ms__not_recording(tl, MS_REC_ALLOC, p, n, NULL);
    return;
  }
  uint32_t weight = 1;
  if (ms__g.sample != MS_SAMPLE_ALL) {
    weight = ms__sample_alloc(tl, n, site);
    if (!weight || !ms__sample_remember(p))
      return;
  }
  ms_thread_t *t = tl->t;
  /* An allocation happened and is not in the ring yet: if the process dies before the
   * commit clears this, the salvage counts exactly one lost event for the thread. */
  __atomic_store_n(&t->ring.pending, 1, __ATOMIC_RELAXED);
  /* Stamped here, after the real allocator returned and only for a recorded event: a
   * timestamp costs ~20 ns on this kind of machine (rdtsc under KVM). */
  uint64_t ts = ms__now();
  uint32_t stack = ms__g.depth ? ms__stack_capture(t, fp) : 0;
  if (MS_UNLIKELY(ms__g.slowdown))
    slowdown(t);
  ms_rec_t *r = ms__reserve(t, 1);
  r->kind = MS_REC_ALLOC;
  r->aux = align ? (uint8_t)__builtin_ctzll(align) : 0;
  r->weight = ms__g.sample == MS_SAMPLE_CLASSES ? (uint16_t)weight : 0;
  r->stack = stack;
  r->ts = ts;
  r->addr = (uintptr_t)p;
  r->size = n;
  ms__commit(t, 1);
  count_alloc(t, n);
}

/* Writes a FREE record (no sampling question asked: the caller settled it). */
MS_INLINE void write_free(ms_tls_t *tl, void *p, uint64_t ts, uint8_t flags) {
  ms_thread_t *t = tl->t;
  ms_rec_t *r = ms__reserve(t, 1);
  r->kind = MS_REC_FREE;
  r->aux = flags;
  r->ts = ts;
  r->addr = (uintptr_t)p;
  ms__commit(t, 1);
  if (!flags)
    __atomic_store_n(&t->ring.n_free, t->ring.n_free + 1, __ATOMIC_RELAXED);
}

/* A free of p stamped ts (0: now). Called before the real free, so the stamp precedes the
 * block's release. */
MS_INLINE void rec_free(ms_tls_t *tl, void *p, uint64_t ts) {
  if (MS_UNLIKELY(!atomic_load_explicit(&ms__g.recording, memory_order_relaxed))) {
    ms__not_recording(tl, MS_REC_FREE, p, 0, NULL);
    return;
  }
  if (ms__g.sample != MS_SAMPLE_ALL && !ms__sample_forget(p))
    return;
  write_free(tl, p, ts ? ts : ms__now(), 0);
}

/* A realloc that returned p for old. ts_before was read before the real call: when the block
 * moved, old was released then (another thread may have been handed its address since), so
 * a FREE part is written at ts_before and the REALLOC says old is already released. */
MS_INLINE void rec_realloc(ms_tls_t *tl, void *old, void *p, size_t n, uint64_t ts_before,
                        uint64_t ts, uintptr_t site, uintptr_t fp) {
  if (MS_UNLIKELY(!atomic_load_explicit(&ms__g.recording, memory_order_relaxed))) {
    ms__not_recording(tl, MS_REC_REALLOC, p, n, old);
    return;
  }
  int old_tracked = old != NULL;
  uint32_t weight = 1;
  if (ms__g.sample != MS_SAMPLE_ALL) {
    old_tracked = old && ms__sample_forget(old);
    weight = ms__sample_alloc(tl, n, site);
    if (weight && !ms__sample_remember(p))
      weight = 0;
    if (!weight) {
      if (old_tracked) /* the sampled block went away inside an unsampled realloc */
        write_free(tl, old, ts_before, MS_REALLOC_OLD_RELEASED);
      return;
    }
  }
  ms_thread_t *t = tl->t;
  __atomic_store_n(&t->ring.pending, 1, __ATOMIC_RELAXED); /* as in rec_alloc */
  uint8_t flags = 0;
  if (old_tracked && p != old) {
    write_free(tl, old, ts_before, MS_REALLOC_OLD_RELEASED);
    flags = MS_REALLOC_OLD_RELEASED;
  }
  uint32_t stack = ms__g.depth ? ms__stack_capture(t, fp) : 0;
  ms_rec_t *r = ms__reserve(t, 2);
  r[0].kind = MS_REC_REALLOC;
  r[0].aux = flags;
  r[0].weight = ms__g.sample == MS_SAMPLE_CLASSES ? (uint16_t)weight : 0;
  r[0].stack = stack;
  r[0].ts = ts;
  r[0].addr = (uintptr_t)p;
  r[0].size = n;
  r[1].kind = MS_REC_CONT;
  r[1].addr = old_tracked ? (uintptr_t)old : 0;
  ms__commit(t, 2);
  count_alloc(t, n);
}

/* The slow path of every hook: first call on a thread, or tracker not ready. Returns 1 when
 * the caller should record (the thread is now TRACKED), 0 to pass through. */
static __attribute__((noinline)) int slow_enter(ms_tls_t *tl) {
  if (tl->state == MS_T_UNINIT) {
    if (!ready())
      return 0;
    ms__thread_setup(tl);
  } else if (tl->state == MS_T_DEAD && atomic_load_explicit(&ms__g.recording, memory_order_relaxed)) {
    atomic_fetch_add_explicit(&ms__g.late_events, 1, memory_order_relaxed);
  } else if (tl->state == MS_T_HOOK && !ms__prim_sig_holding()) {
    /* A signal handler's call inside a hook: counted, passed through. Inside a signal hold
     * (a walk, the set-up's allocating calls) no handler runs: the call is the tracker's. */
    ms__nested_call(tl);
  }
  return tl->state == MS_T_TRACKED;
}

#define SITE() ((uintptr_t)__builtin_return_address(0))

/* ---- the allocator family ----------------------------------------------------------------
 * Each hook is three pieces. The exported function only reads the state byte and jumps:
 * to NAME_tracked (a tail call, so the hook leaves no frame of its own on the stack), or
 * straight to the next allocator (UNTRACKED, BUSY), or to NAME_slow (which also counts a
 * call that arrives inside a hook body, HOOK: a signal handler's). Keeping the recording
 * out of the exported function keeps its prologue empty: an untracked thread pays a TLS byte
 * load, two compares and the jump, nothing more. NAME_tracked runs with the thread HOOK; the
 * stack it captures starts two frames up (NAME_tracked, ms__stack_capture), which is why
 * the tracker is always built with -O2 (sibling calls on). The exported function also passes
 * the program's rbp, read before anything of ours can change it (ms_prim_frame_reg): part of
 * the stack cache's key (stacks.c); slow paths pass MS_STACK_NO_KEY instead. */

#define PASS_THROUGH(tl) MS_LIKELY((tl)->state == MS_T_UNTRACKED || (tl)->state == MS_T_BUSY)
#define MS_TRACKED_FN static __attribute__((noinline, hot))
#define MS_SLOW_FN static __attribute__((noinline, cold))

/* ---- the plain bodies ------------------------------------------------------------------
 * Full mode, no stacks, TSC clock, no slowdown knob (ms__g.plain, fixed at init): the most
 * common cheap configuration gets hook bodies without the other modes' branches (sampling,
 * weight, stack depth, clock choice, slowdown) and without the stack-capture buffer, whose
 * 0x228-byte frame made the general bodies save six registers on every call. Same records,
 * same order of stores as rec_alloc and rec_free. The rare cases (buffer full, not
 * recording, NULL) leave through tail calls to cold functions, so that the fast path after
 * the real call is a leaf that needs no callee-saved register: malloc_plain saves one (n),
 * free_plain none. */

/* Writes a 32-byte record at slot pos as four 8-byte stores from one base: head (kind, aux,
 * weight, stack: little-endian, as ms_rec_t lays them out), ts, addr, size. */
_Static_assert(__builtin_offsetof(ms_rec_t, aux) == 1 && __builtin_offsetof(ms_rec_t, weight) == 2 &&
                   __builtin_offsetof(ms_rec_t, stack) == 4 && __builtin_offsetof(ms_rec_t, ts) == 8 &&
                   __builtin_offsetof(ms_rec_t, addr) == 16 && __builtin_offsetof(ms_rec_t, size) == 24,
               "ms_rec_t is four little-endian 8-byte words");
MS_INLINE void put_rec(ms_thread_t *t, uint32_t pos, uint64_t head, uint64_t ts, uint64_t addr,
                       uint64_t size, int with_size) {
  ms_u64_alias_t *w = (ms_u64_alias_t *)(void *)&t->recs[pos];
  w[0] = head;
  w[1] = ts;
  w[2] = addr;
  if (with_size) /* a FREE has no size (the encoder and the salvage never read it) */
    w[3] = size;
}

/* An ablated build's timestamp (MS_ABLATE_NO_RECORD): read, and kept from being optimized
 * away by an empty asm that takes it, with no store; none at MS_ABLATE_NO_CLOCK. */
MS_INLINE void ablate_clock(void) {
  if (MS_ABLATE < MS_ABLATE_NO_CLOCK) {
    uint64_t ts = ms_prim_ticks();
    __asm__ volatile("" : : "r"(ts));
  }
}

/* The ALLOC of p (n bytes, stamped ts, pending set) when the buffer is full: flush, then
 * write it where the flush left room. Returns p, with the thread TRACKED again. */
MS_SLOW_FN void *plain_alloc_full(ms_tls_t *tl, void *p, size_t n, uint64_t ts) {
  ms_thread_t *t = tl->t;
  uint32_t pos = ms__flush_full(t);
  put_rec(t, pos, MS_REC_ALLOC, ts, (uintptr_t)p, n, 1);
  ms__commit_to(t, pos + 1);
  count_alloc(t, n);
  tl->state = MS_T_TRACKED;
  return p;
}

/* An allocation that returned p (maybe NULL) while tracking stopped, or a NULL result. */
MS_SLOW_FN void *plain_alloc_other(ms_tls_t *tl, void *p, size_t n) {
  if (p != NULL)
    ms__not_recording(tl, MS_REC_ALLOC, p, n, NULL);
  tl->state = MS_T_TRACKED;
  return p;
}

/* The end of a plain allocation hook: records p (n bytes) stamped now, makes the thread
 * TRACKED again and returns p. */
MS_INLINE void *plain_alloc_done(ms_tls_t *tl, void *p, size_t n) {
  if (MS_UNLIKELY(p == NULL || !atomic_load_explicit(&ms__g.recording, memory_order_relaxed)))
    return plain_alloc_other(tl, p, n);
  ms_thread_t *t = tl->t;
  __atomic_store_n(&t->ring.pending, 1, __ATOMIC_RELAXED); /* as in rec_alloc */
  if (MS_ABLATE >= MS_ABLATE_NO_RECORD) { /* cost attribution only (ms_internal.h) */
    ablate_clock();
    __atomic_store_n(&t->ring.pending, 0, __ATOMIC_RELAXED);
    count_alloc(t, n);
    tl->state = MS_T_TRACKED;
    return p;
  }
  uint64_t ts = ms_prim_ticks();
  uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
  if (MS_UNLIKELY(pos >= MS_REC_CAP))
    return plain_alloc_full(tl, p, n, ts);
  put_rec(t, pos, MS_REC_ALLOC, ts, (uintptr_t)p, n, 1);
  ms__commit_to(t, pos + 1);
  count_alloc(t, n);
  tl->state = MS_T_TRACKED;
  return p;
}

MS_TRACKED_FN void *malloc_plain(ms_tls_t *tl, size_t n) {
  tl->state = MS_T_HOOK;
  return plain_alloc_done(tl, real.malloc(n), n);
}

MS_TRACKED_FN void *calloc_plain(ms_tls_t *tl, size_t nmemb, size_t size) {
  tl->state = MS_T_HOOK;
  return plain_alloc_done(tl, real.calloc(nmemb, size), nmemb * size);
}

/* The FREE of p stamped ts when the buffer is full: flush, then write it. */
MS_SLOW_FN void plain_free_full(ms_tls_t *tl, void *p, uint64_t ts) {
  ms_thread_t *t = tl->t;
  uint32_t pos = ms__flush_full(t);
  put_rec(t, pos, MS_REC_FREE, ts, (uintptr_t)p, 0, 0);
  ms__commit_to(t, pos + 1);
  __atomic_store_n(&t->ring.n_free, t->ring.n_free + 1, __ATOMIC_RELAXED);
}

/* A free of p while tracking stopped: counted, not written. */
MS_SLOW_FN void plain_free_stopped(ms_tls_t *tl, void *p) {
  ms__not_recording(tl, MS_REC_FREE, p, 0, NULL);
}

/* A free call of p, stamped before the real free as in rec_free. */
MS_INLINE void plain_free_rec(ms_tls_t *tl, void *p) {
  if (MS_UNLIKELY(!atomic_load_explicit(&ms__g.recording, memory_order_relaxed))) {
    plain_free_stopped(tl, p);
    return;
  }
  ms_thread_t *t = tl->t;
  if (MS_ABLATE >= MS_ABLATE_NO_RECORD) { /* cost attribution only (ms_internal.h) */
    ablate_clock();
    __atomic_store_n(&t->ring.n_free, t->ring.n_free + 1, __ATOMIC_RELAXED);
    return;
  }
  uint64_t ts = ms_prim_ticks();
  uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
  if (MS_UNLIKELY(pos >= MS_REC_CAP)) {
    plain_free_full(tl, p, ts);
    return;
  }
  put_rec(t, pos, MS_REC_FREE, ts, (uintptr_t)p, 0, 0);
  /* pending is 0 here (no allocation is between return and commit): clearing it again with
   * pos costs nothing and keeps one commit for all. */
  ms__commit_to(t, pos + 1);
  __atomic_store_n(&t->ring.n_free, t->ring.n_free + 1, __ATOMIC_RELAXED);
}

MS_TRACKED_FN void free_plain(ms_tls_t *tl, void *p) {
  tl->state = MS_T_HOOK;
  plain_free_rec(tl, p);
  real.free(p);
  tl->state = MS_T_TRACKED;
}

MS_TRACKED_FN void *malloc_tracked(ms_tls_t *tl, size_t n, uintptr_t fp) {
  tl->state = MS_T_HOOK;
  void *p = real.malloc(n);
  if (MS_LIKELY(p != NULL))
    rec_alloc(tl, p, n, 0, SITE(), fp);
  tl->state = MS_T_TRACKED;
  return p;
}

MS_SLOW_FN void *malloc_slow(ms_tls_t *tl, size_t n) {
  if (slow_enter(tl))
    return malloc_tracked(tl, n, MS_STACK_NO_KEY);
  if (MS_UNLIKELY(!ready()))
    return boot_alloc(n, 16);
  return real.malloc(n);
}

MS_EXPORT void *malloc(size_t n) {
  ms_tls_t *tl = &ms__tls;
  if (MS_LIKELY(tl->state == MS_T_TRACKED))
    return ms__g.plain ? malloc_plain(tl, n) : malloc_tracked(tl, n, ms_prim_frame_reg());
  if (PASS_THROUGH(tl))
    return real.malloc(n);
  return malloc_slow(tl, n);
}

MS_TRACKED_FN void free_tracked(ms_tls_t *tl, void *p) {
  tl->state = MS_T_HOOK;
  rec_free(tl, p, 0);
  real.free(p);
  tl->state = MS_T_TRACKED;
}

MS_SLOW_FN void free_slow(ms_tls_t *tl, void *p) {
  if (is_boot(p))
    return; /* arena blocks are never reused */
  if (p != NULL && slow_enter(tl)) {
    free_tracked(tl, p);
    return;
  }
  if (real.free != NULL) /* NULL only before the first resolve: nothing to free then */
    real.free(p);
}

MS_EXPORT void free(void *p) {
  ms_tls_t *tl = &ms__tls;
  /* Arena blocks (rare) and free(NULL) go the slow way; the test is one subtraction. */
  if (MS_LIKELY((uintptr_t)p - (uintptr_t)boot_arena >= sizeof boot_arena && p != NULL)) {
    if (MS_LIKELY(tl->state == MS_T_TRACKED)) {
      if (ms__g.plain)
        free_plain(tl, p);
      else
        free_tracked(tl, p);
      return;
    }
    if (PASS_THROUGH(tl)) {
      real.free(p);
      return;
    }
  }
  free_slow(tl, p);
}

MS_TRACKED_FN void *calloc_tracked(ms_tls_t *tl, size_t nmemb, size_t size, uintptr_t fp) {
  tl->state = MS_T_HOOK;
  void *p = real.calloc(nmemb, size);
  if (MS_LIKELY(p != NULL))
    rec_alloc(tl, p, nmemb * size, 0, SITE(), fp);
  tl->state = MS_T_TRACKED;
  return p;
}

MS_SLOW_FN void *calloc_slow(ms_tls_t *tl, size_t nmemb, size_t size) {
  if (slow_enter(tl))
    return calloc_tracked(tl, nmemb, size, MS_STACK_NO_KEY);
  if (MS_UNLIKELY(!ready())) {
    size_t total;
    if (__builtin_mul_overflow(nmemb, size, &total))
      return NULL;
    return boot_alloc(total, 16); /* the arena is static: already zero */
  }
  return real.calloc(nmemb, size);
}

MS_EXPORT void *calloc(size_t nmemb, size_t size) {
  ms_tls_t *tl = &ms__tls;
  if (MS_LIKELY(tl->state == MS_T_TRACKED))
    return ms__g.plain ? calloc_plain(tl, nmemb, size)
                       : calloc_tracked(tl, nmemb, size, ms_prim_frame_reg());
  if (PASS_THROUGH(tl))
    return real.calloc(nmemb, size);
  return calloc_slow(tl, nmemb, size);
}

/* realloc(p, 0) frees p in glibc and returns NULL: written as a FREE. realloc(NULL, n) is an
 * allocation: a REALLOC with no old block. A failed realloc leaves p alone: nothing written. */
MS_INLINE void *realloc_common(ms_tls_t *tl, void *old, size_t n, void *p, uint64_t ts_before,
                               uintptr_t site, uintptr_t fp) {
  if (p != NULL)
    rec_realloc(tl, old, p, n, ts_before, ms__now(), site, fp);
  else if (old != NULL && n == 0)
    rec_free(tl, old, ts_before);
  return p;
}

/* A block from the arena grows into a real one (or another arena block). */
static void *realloc_boot(void *old, size_t n) {
  void *p = ready() ? malloc(n) : boot_alloc(n, 16);
  if (p) {
    size_t avail = (size_t)(boot_arena + sizeof boot_arena - (char *)old);
    memcpy(p, old, n < avail ? n : avail);
  }
  return p;
}

MS_TRACKED_FN void *realloc_tracked(ms_tls_t *tl, void *old, size_t n, uintptr_t fp) {
  tl->state = MS_T_HOOK;
  uint64_t ts_before = old ? ms__now() : 0;
  void *p = realloc_common(tl, old, n, real.realloc(old, n), ts_before, SITE(), fp);
  tl->state = MS_T_TRACKED;
  return p;
}

MS_SLOW_FN void *realloc_slow(ms_tls_t *tl, void *old, size_t n) {
  if (is_boot(old))
    return realloc_boot(old, n);
  if (slow_enter(tl))
    return realloc_tracked(tl, old, n, MS_STACK_NO_KEY);
  if (MS_UNLIKELY(!ready()))
    return old ? NULL : boot_alloc(n, 16);
  return real.realloc(old, n);
}

MS_EXPORT void *realloc(void *old, size_t n) {
  ms_tls_t *tl = &ms__tls;
  if (MS_LIKELY(!is_boot(old))) {
    if (MS_LIKELY(tl->state == MS_T_TRACKED))
      return realloc_tracked(tl, old, n, ms_prim_frame_reg());
    if (PASS_THROUGH(tl))
      return real.realloc(old, n);
  }
  return realloc_slow(tl, old, n);
}

/* glibc's reallocarray is the overflow check and then a call of the public realloc, which
 * would come back here as a call inside a hook (counted as a signal handler's): the same
 * two steps are taken here, with the next realloc. */
MS_TRACKED_FN void *reallocarray_tracked(ms_tls_t *tl, void *old, size_t nmemb, size_t size,
                                         uintptr_t fp) {
  size_t total;
  if (__builtin_mul_overflow(nmemb, size, &total)) {
    errno = ENOMEM; /* old untouched: nothing to record */
    return NULL;
  }
  tl->state = MS_T_HOOK;
  uint64_t ts_before = old ? ms__now() : 0;
  void *p = realloc_common(tl, old, total, real.realloc(old, total), ts_before, SITE(), fp);
  tl->state = MS_T_TRACKED;
  return p;
}

MS_SLOW_FN void *reallocarray_slow(ms_tls_t *tl, void *old, size_t nmemb, size_t size) {
  size_t total;
  if (is_boot(old)) {
    if (__builtin_mul_overflow(nmemb, size, &total)) {
      errno = ENOMEM;
      return NULL;
    }
    return realloc_boot(old, total);
  }
  if (slow_enter(tl))
    return reallocarray_tracked(tl, old, nmemb, size, MS_STACK_NO_KEY);
  if (MS_UNLIKELY(!ready()))
    return NULL;
  /* As reallocarray_tracked: glibc's would call the public realloc, and a call counted here
   * (inside a hook, or late) would be counted again there. */
  if (__builtin_mul_overflow(nmemb, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return real.realloc(old, total);
}

MS_EXPORT void *reallocarray(void *old, size_t nmemb, size_t size) {
  ms_tls_t *tl = &ms__tls;
  if (MS_LIKELY(!is_boot(old))) {
    if (MS_LIKELY(tl->state == MS_T_TRACKED))
      return reallocarray_tracked(tl, old, nmemb, size, ms_prim_frame_reg());
    if (PASS_THROUGH(tl))
      return real.reallocarray(old, nmemb, size);
  }
  return reallocarray_slow(tl, old, nmemb, size);
}

MS_TRACKED_FN int posix_memalign_tracked(ms_tls_t *tl, void **out, size_t align, size_t n,
                                         uintptr_t fp) {
  tl->state = MS_T_HOOK;
  int rc = real.posix_memalign(out, align, n);
  if (rc == 0)
    rec_alloc(tl, *out, n, align, SITE(), fp);
  tl->state = MS_T_TRACKED;
  return rc;
}

MS_SLOW_FN int posix_memalign_slow(ms_tls_t *tl, void **out, size_t align, size_t n) {
  if (slow_enter(tl))
    return posix_memalign_tracked(tl, out, align, n, MS_STACK_NO_KEY);
  if (MS_UNLIKELY(!ready())) {
    void *p = boot_alloc(n, align);
    if (!p)
      return ENOMEM;
    *out = p;
    return 0;
  }
  return real.posix_memalign(out, align, n);
}

MS_EXPORT int posix_memalign(void **out, size_t align, size_t n) {
  ms_tls_t *tl = &ms__tls;
  if (MS_LIKELY(tl->state == MS_T_TRACKED))
    return posix_memalign_tracked(tl, out, align, n, ms_prim_frame_reg());
  if (PASS_THROUGH(tl))
    return real.posix_memalign(out, align, n);
  return posix_memalign_slow(tl, out, align, n);
}

/* aligned_alloc, memalign, valloc and pvalloc share one shape; ALIGN is the alignment the
 * call asks for, as an expression of its arguments. */
#define ALIGNED_HOOK(name, ALIGN, ...)                                                         \
  MS_TRACKED_FN void *name##_tracked(ms_tls_t *tl, size_t align, size_t n, uintptr_t fp) {     \
    (void)align; /* valloc, pvalloc: the page */                                               \
    tl->state = MS_T_HOOK;                                                                     \
    void *p = real.name(__VA_ARGS__);                                                          \
    if (MS_LIKELY(p != NULL))                                                                  \
      rec_alloc(tl, p, n, ALIGN, SITE(), fp);                                                 \
    tl->state = MS_T_TRACKED;                                                                  \
    return p;                                                                                  \
  }                                                                                            \
  MS_SLOW_FN void *name##_slow(ms_tls_t *tl, size_t align, size_t n) {                        \
    (void)align;                                                                               \
    if (slow_enter(tl))                                                                        \
      return name##_tracked(tl, align, n, MS_STACK_NO_KEY);                                    \
    if (MS_UNLIKELY(!ready()))                                                                 \
      return boot_alloc(n, ALIGN);                                                             \
    return real.name(__VA_ARGS__);                                                             \
  }

#define PAGE ((size_t)sysconf(_SC_PAGESIZE))
ALIGNED_HOOK(aligned_alloc, align, align, n)
ALIGNED_HOOK(memalign, align, align, n)
ALIGNED_HOOK(valloc, PAGE, n)
ALIGNED_HOOK(pvalloc, PAGE, n)

/* The exported entry points: (align, n) or (n) with the page as alignment (align unused). */
#define ALIGNED_ENTRY(name, params, align_arg, ...)                                            \
  MS_EXPORT void *name params {                                                                \
    ms_tls_t *tl = &ms__tls;                                                                   \
    if (MS_LIKELY(tl->state == MS_T_TRACKED))                                                  \
      return name##_tracked(tl, align_arg, n, ms_prim_frame_reg());                            \
    if (PASS_THROUGH(tl))                                                                      \
      return real.name(__VA_ARGS__);                                                           \
    return name##_slow(tl, align_arg, n);                                                      \
  }
ALIGNED_ENTRY(aligned_alloc, (size_t align, size_t n), align, align, n)
ALIGNED_ENTRY(memalign, (size_t align, size_t n), align, align, n)
ALIGNED_ENTRY(valloc, (size_t n), 0, n)
ALIGNED_ENTRY(pvalloc, (size_t n), 0, n)

MS_EXPORT size_t malloc_usable_size(void *p) {
  if (p == NULL)
    return 0;
  if (is_boot(p))
    return 0; /* unknown: the arena keeps no sizes; callers must not rely on it */
  if (!ready())
    return 0;
  return real.malloc_usable_size(p);
}

/* ---- exec, dlclose, thread names --------------------------------------------------------
 * exec replaces the image without running exit handlers: every thread's buffer is written
 * first. The new image loads the tracker again and starts a new run directory. */

/* Around the real exec (returned: 0 before it, 1 after it, when it failed): before, every
 * buffer is written and meta.txt ended (ms__flush_all); after a failure that end part is
 * void from here on (ms__exec_failed, with the exec's errno, which ms__work_leave keeps). A
 * vfork child shares the parent's memory: writing the parent's buffers and ending its
 * meta.txt from there would be wrong, so a process that is not the traced one does nothing
 * (a forked child has its own run, with ms__g.pid its own). */
static void exec_work(int returned) {
  if (!ms__g.active || getpid() != ms__g.pid)
    return;
  ms_tls_t *tl = &ms__tls;
  uint8_t saved = tl->state;
  tl->state = MS_T_HOOK; /* the tracker's own work: MS_WORK_STATE */
  ms_work_t work = ms__work_enter();
  if (returned)
    ms__exec_failed(work.err);
  else
    ms__flush_all("exec");
  tl->state = saved;
  ms__work_leave(work);
}

/* _exit and _Exit end the process without exit handlers (forked children do this as a
 * rule): the buffers are written here, as at exit, when the program calls them. Calls from
 * inside libc (exit's own _exit) do not come through here and need not. */
static void before_quick_exit(void) {
  if (!ms__g.active || getpid() != ms__g.pid)
    return; /* a vfork child: the parent's buffers are not its to end */
  ms_tls_t *tl = &ms__tls;
  tl->state = MS_T_HOOK; /* the tracker's own work (MS_WORK_STATE), to the end */
  ms__work_enter(); /* to the end too: _exit is no cancellation point */
  if (!atomic_exchange(&ms__g.finished, 1)) {
    ms__flush_all("_exit");
    atomic_store(&ms__g.recording, 0);
  }
}

MS_EXPORT void _exit(int status) {
  static void (*next)(int);
  if (!next)
    NEXT_SYM(next, "_exit");
  before_quick_exit();
  if (next)
    next(status);
  ms_prim_sys_exit_group(status);
}

MS_EXPORT void _Exit(int status) { _exit(status); }

/* ---- children started by vfork and posix_spawn ------------------------------------------
 * An image exec'd without this tracker in its environment (or a static or set-user-ID one)
 * writes no trace. When the process that execs is a traced one (the program, a forked child)
 * the harness sees its run end in exec with no successor (docs/harness.md, "Process trees").
 * A vfork child and a posix_spawn child have no run of their own: nothing would say they
 * existed, and a leak in them would pass. So every such child is named in meta.txt at once
 * (ms__meta_child_line): untracked_child=PID when its environment drops the tracker,
 * spawned_child=PID when it keeps it (then the harness expects a run of that pid: none
 * means the image wrote no trace). By the vfork child itself in the exec hooks, and by the
 * parent after posix_spawn (glibc's child runs its exec internally, past the hooks).
 * valgrind --trace-children=yes would follow them; the tracker cannot. */

/* This library's file name as the loader has it (dladdr at start): what LD_PRELOAD names
 * when the library is not called libmemscope*.so (memscope-harness --lib PATH). */
static char self_name[4096];

void ms__self_name_init(void) {
  Dl_info di;
  if (dladdr((const void *)self_name, &di) && di.dli_fname && *di.dli_fname &&
      strlen(di.dli_fname) < sizeof self_name)
    memcpy(self_name, di.dli_fname, strlen(di.dli_fname) + 1);
}

/* 1 when envp keeps this tracker in the exec'd image: LD_PRELOAD names this library (or a
 * libmemscope), and MEMSCOPE_OUT is this process's (another writes the new run elsewhere).
 * Only getenv and string compares: it runs in a vfork child. */
static int env_keeps_tracker(char *const envp[]) {
  const char *mine = getenv("MEMSCOPE_OUT");
  int preload = 0, same_out = mine == NULL;
  for (char *const *e = envp; e && *e; e++) {
    if (!strncmp(*e, "LD_PRELOAD=", 11) &&
        (strstr(*e + 11, "libmemscope") || (self_name[0] && strstr(*e + 11, self_name))))
      preload = 1;
    else if (!strncmp(*e, "MEMSCOPE_OUT=", 13))
      same_out = mine != NULL && !strcmp(*e + 13, mine);
  }
  return preload && same_out;
}

/* The meta.txt key that names a child whose exec gets envp. */
static const char *child_key(char *const envp[]) {
  return env_keeps_tracker(envp) ? "spawned_child" : "untracked_child";
}

/* Before an exec: a vfork child (not the traced process, yet in its memory) names itself.
 * Returns 1 when it did, for vfork_exec_failed. */
static int name_vfork_child(char *const envp[]) {
  if (!ms__g.active || ms__g.fuzz || getpid() == ms__g.pid)
    return 0;
  ms__meta_child_line(child_key(envp), getpid());
  return 1;
}

/* The exec returned (failed): the child runs no other program (it ends, as a rule), so the
 * line is taken back by another (the harness drops a pid named by both). */
static void vfork_exec_failed(int named) {
  if (named)
    ms__meta_child_line("child_exec_failed", getpid());
}

/* The body every exec hook shares: the next function of that name (ENOSYS when the C library
 * has none: fexecve, execveat on an old glibc), the child named when this is a vfork child
 * (name_vfork_child), the buffers written before (exec_work), and after a failed exec the
 * end part voided and the child's line taken back. CALL is the call of `next`. */
#define EXEC_HOOK(type, name, envp, call)                                                      \
  static type next;                                                                            \
  if (!next)                                                                                   \
    NEXT_SYM(next, name);                                                                      \
  if (!next) {                                                                                 \
    errno = ENOSYS;                                                                            \
    return -1;                                                                                 \
  }                                                                                            \
  int named_ = name_vfork_child(envp);                                                         \
  exec_work(0);                                                                                \
  int rc_ = (call);                                                                            \
  exec_work(1);                                                                                \
  vfork_exec_failed(named_);                                                                   \
  return rc_

typedef int (*exec_pae_fn)(const char *, char *const[], char *const[]);
typedef int (*exec_pa_fn)(const char *, char *const[]);

MS_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
  EXEC_HOOK(exec_pae_fn, "execve", envp, next(path, argv, envp));
}

MS_EXPORT int execv(const char *path, char *const argv[]) {
  EXEC_HOOK(exec_pa_fn, "execv", environ, next(path, argv));
}

MS_EXPORT int execvp(const char *file, char *const argv[]) {
  EXEC_HOOK(exec_pa_fn, "execvp", environ, next(file, argv));
}

MS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
  EXEC_HOOK(exec_pae_fn, "execvpe", envp, next(file, argv, envp));
}

typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*execveat_fn)(int, const char *, char *const[], char *const[], int);

MS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
  EXEC_HOOK(fexecve_fn, "fexecve", envp, next(fd, argv, envp));
}

MS_EXPORT int execveat(int dirfd, const char *path, char *const argv[], char *const envp[],
                       int flags) {
  EXEC_HOOK(execveat_fn, "execveat", envp, next(dirfd, path, argv, envp, flags));
}

/* A child about to start without the tracker in envp is named before the call, without its
 * pid (untracked_child=0, which no run can match): a process killed while the call runs (a
 * system() lasts as long as its command; the shell may kill it) has still said so, and the
 * tree is not complete. Named after the call, it was lost: a forked child killed by its
 * untracked shell left a complete tree, and the shell's 1 MB leak passed. A call known to
 * have started nothing takes the line back (child_exec_failed=0: the harness counts the
 * lines about pid 0, named less taken back). Returns 1 when it named one. */
static int name_untracked_before(char *const envp[]) {
  if (!ms__g.active || ms__g.fuzz || env_keeps_tracker(envp))
    return 0;
  ms__meta_child_line("untracked_child", 0);
  return 1;
}

static void take_back_untracked(int named) {
  if (named)
    ms__meta_child_line("child_exec_failed", 0);
}

/* system() and popen() start their shell through glibc's internal spawn, past every hook
 * here, with the program's own environment: when that environment has dropped the tracker
 * (unsetenv("LD_PRELOAD") before the call), the shell is named, without its pid (glibc
 * never gives it). A popen that returns NULL started nothing (a bad mode, no process): its
 * line is taken back. A system() never takes it back: -1 also means its waitpid failed
 * after the shell ran (SIGCHLD ignored, or another thread reaped it), and a shell that could
 * not start returns 127 like a command that is missing; so a system() that started nothing
 * leaves the tree not complete, the safe side. */
MS_EXPORT int system(const char *command) {
  static int (*next)(const char *);
  if (!next)
    NEXT_SYM(next, "system");
  if (command)
    (void)name_untracked_before(environ);
  return next ? next(command) : -1;
}

MS_EXPORT FILE *popen(const char *command, const char *type) {
  static FILE *(*next)(const char *, const char *);
  if (!next)
    NEXT_SYM(next, "popen");
  int named = command ? name_untracked_before(environ) : 0;
  FILE *f = next ? next(command, type) : NULL;
  if (f == NULL)
    take_back_untracked(named);
  return f;
}

typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const[], char *const[]);

/* posix_spawn and posix_spawnp: the child execs inside glibc, past the exec hooks; the
 * parent names it after the call, by pid. An untracked one is also named before the call
 * (name_untracked_before), and that line taken back after the pid's: killed in between,
 * the process has said too much (two children, not complete), never too little. */
static int spawn_common(spawn_fn next, pid_t *pid, const char *path,
                        const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
                        char *const argv[], char *const envp[]) {
  pid_t child = -1;
  int named = name_untracked_before(envp);
  int rc = next ? next(&child, path, fa, attr, argv, envp) : ENOSYS;
  if (pid && rc == 0)
    *pid = child;
  if (rc == 0 && ms__g.active && !ms__g.fuzz)
    ms__meta_child_line(child_key(envp), child);
  take_back_untracked(named);
  return rc;
}

MS_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  static spawn_fn next;
  if (!next)
    NEXT_SYM(next, "posix_spawn");
  return spawn_common(next, pid, path, fa, attr, argv, envp);
}

MS_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
  static spawn_fn next;
  if (!next)
    NEXT_SYM(next, "posix_spawnp");
  return spawn_common(next, pid, file, fa, attr, argv, envp);
}

/* execl* take their arguments inline; they are counted first, then collected into an
 * array of that size on the stack, as glibc's own execl does (no allocation; a fixed
 * 4096-entry array took 32 KiB of a thread's stack, which may be 16 KiB in all), and go
 * through the v-forms, which flush. */
static int count_args(const char *first, va_list ap) {
  int argc = 1; /* the NULL */
  for (const char *a = first; a != NULL; a = va_arg(ap, const char *))
    if (++argc == INT_MAX) {
      errno = E2BIG;
      return -1;
    }
  return argc;
}

static void collect_args(const char *first, va_list *ap, char **argv, int argc) {
  argv[0] = (char *)first;
  for (int i = 1; i < argc; i++)
    argv[i] = va_arg(*ap, char *);
}

/* The variadic part every execl form shares: argv[] collected, ap left after its NULL. */
#define EXECL_ARGS(arg, ap, argv)                                                              \
  va_list ap, count_ap_;                                                                       \
  va_start(ap, arg);                                                                           \
  va_copy(count_ap_, ap);                                                                      \
  int argc_ = count_args(arg, count_ap_);                                                      \
  va_end(count_ap_);                                                                           \
  if (argc_ < 0) {                                                                             \
    va_end(ap);                                                                                \
    return -1;                                                                                 \
  }                                                                                            \
  char *argv[argc_];                                                                           \
  collect_args(arg, &ap, argv, argc_)

MS_EXPORT int execl(const char *path, const char *arg, ...) {
  EXECL_ARGS(arg, ap, argv);
  va_end(ap);
  return execv(path, argv);
}

MS_EXPORT int execlp(const char *file, const char *arg, ...) {
  EXECL_ARGS(arg, ap, argv);
  va_end(ap);
  return execvp(file, argv);
}

MS_EXPORT int execle(const char *path, const char *arg, ...) {
  EXECL_ARGS(arg, ap, argv);
  char *const *envp = va_arg(ap, char *const *);
  va_end(ap);
  return execve(path, argv, envp);
}

MS_EXPORT int dlclose(void *handle) {
  static int (*next)(void *);
  if (!next)
    NEXT_SYM(next, "dlclose");
  ms_tls_t *tl = &ms__tls;
  uint8_t saved = tl->state;
  tl->state = MS_T_HOOK; /* the tracker's own work: MS_WORK_STATE */
  ms_work_t work = ms__work_enter();
  ms__snapshot_maps(); /* frames in the module stay symbolizable after it is gone */
  ms__stack_cache_invalidate(); /* other code may be loaded where the module's was */
  tl->state = saved;
  ms__work_leave(work);
  int rc = next(handle);
  /* Again once the module is gone: another thread may have learnt a key through its code
   * between the first bump and the unmapping. */
  ms__stack_cache_invalidate();
  return rc;
}

/* libunwind's calls during a tracker walk are answered by the platform backend
 * (ms_prim_sig_hold; docs/tracker.md, "Signals during a walk"): it knows them by the return
 * address, in libunwind's code. Every other call, the program's own, goes to the next
 * sigprocmask unchanged. Before the allocator is resolved, glibc's pthread_sigmask does the
 * same work (its sigprocmask is that call with the error in errno). noinline: the return
 * address is the caller's. */
MS_EXPORT __attribute__((noinline)) int sigprocmask(int how, const sigset_t *set, sigset_t *old) {
  if (ms__prim_sigmask_emulated((uintptr_t)__builtin_return_address(0), old))
    return 0;
  int (*next)(int, const sigset_t *, sigset_t *) =
      __atomic_load_n(&next_sigprocmask, __ATOMIC_RELAXED);
  if (next != NULL)
    return next(how, set, old);
  int err = pthread_sigmask(how, set, old);
  if (err != 0)
    errno = err;
  return err != 0 ? -1 : 0;
}

/* libunwind (1.6) checks a stack word before it reads it by writing it to a pipe of its own
 * (write_validate), made at its first walk and made again whenever a read of it fails. Made
 * at the lowest free numbers, 3 and 4 in most programs, it moved every descriptor the
 * program opened after by two, and a program that closed every descriptor and reopened
 * files or sockets there had them read, written, closed and replaced by libunwind in the
 * tracker's next walk (a socket's blocking read hung the program). A pipe that libunwind
 * makes inside a tracker walk gets its ends moved up out of the program's range, as the
 * tracker's own files are (ms__fd_raise), and where libunwind keeps the two numbers (the
 * array it passed) is remembered. Every other call is the program's and goes to the next
 * pipe2 unchanged (tests/tracker/fd_reuse.c). noinline: the return address is the caller's. */
static int *_Atomic unw_pipe;

MS_EXPORT __attribute__((noinline)) int pipe2(int fds[2], int flags) {
  int (*next)(int *, int) = __atomic_load_n(&next_pipe2, __ATOMIC_RELAXED);
  if (next == NULL) { /* before the allocator is resolved: the system call itself */
    long rc = syscall(SYS_pipe2, fds, flags);
    return rc < 0 ? -1 : 0;
  }
  int rc = next(fds, flags);
  if (rc == 0 && ms__prim_unwinder_call((uintptr_t)__builtin_return_address(0))) {
    fds[0] = ms__fd_raise(fds[0]);
    fds[1] = ms__fd_raise(fds[1]);
    atomic_store_explicit(&unw_pipe, fds, memory_order_release);
  }
  return rc;
}

/* The program closes (or duplicates over) descriptors [lo, hi]. When that takes an end of
 * libunwind's pipe, both numbers libunwind keeps become -1 and the other end is closed: its
 * next check then fails on -1, closes nothing of the program's, and makes a new pipe, moved
 * up again. Without it, a program that closed every descriptor and then opened more than
 * 512 had its files and sockets at those numbers read and written by libunwind (a stack byte
 * written into a file; a socket's read hung). libunwind's own closes, inside a walk, pass. */
static void unw_pipe_forget(unsigned lo, unsigned hi) {
  int *p = atomic_load_explicit(&unw_pipe, memory_order_acquire);
  if (p == NULL || ms__prim_in_walk())
    return;
  int r = __atomic_load_n(&p[0], __ATOMIC_RELAXED), w = __atomic_load_n(&p[1], __ATOMIC_RELAXED);
  int hit_r = r >= 0 && (unsigned)r >= lo && (unsigned)r <= hi;
  int hit_w = w >= 0 && (unsigned)w >= lo && (unsigned)w <= hi;
  /* A vfork child shares the parent's memory, not its descriptors: forgetting there would
   * lose the parent's pipe for good (two descriptors leaked at every such spawn). */
  if ((!hit_r && !hit_w) || getpid() != ms__g.pid)
    return;
  __atomic_store_n(&p[0], -1, __ATOMIC_RELAXED);
  __atomic_store_n(&p[1], -1, __ATOMIC_RELAXED);
  int other = hit_r ? (hit_w ? -1 : w) : r;
  if (other >= 0) {
    int err = errno;
    syscall(SYS_close, other);
    errno = err;
  }
}

MS_EXPORT int close(int fd) {
  if (fd >= 0)
    unw_pipe_forget((unsigned)fd, (unsigned)fd);
  int (*next)(int) = __atomic_load_n(&next_close, __ATOMIC_RELAXED);
  if (next == NULL) {
    long rc = syscall(SYS_close, fd);
    return rc < 0 ? -1 : 0;
  }
  return next(fd);
}

MS_EXPORT int close_range(unsigned first, unsigned last, int flags) {
  if (!(flags & CLOSE_RANGE_CLOEXEC)) /* only marked close-on-exec: the pipe already is */
    unw_pipe_forget(first, last);
  int (*next)(unsigned, unsigned, int) = __atomic_load_n(&next_close_range, __ATOMIC_RELAXED);
  if (next == NULL) {
    long rc = syscall(SYS_close_range, first, last, flags);
    return rc < 0 ? -1 : 0;
  }
  return next(first, last, flags);
}

MS_EXPORT void closefrom(int lowfd) {
  unw_pipe_forget(lowfd < 0 ? 0u : (unsigned)lowfd, UINT_MAX);
  void (*next)(int) = __atomic_load_n(&next_closefrom, __ATOMIC_RELAXED);
  if (next == NULL) {
    syscall(SYS_close_range, lowfd < 0 ? 0u : (unsigned)lowfd, UINT_MAX, 0);
    return;
  }
  next(lowfd);
}

MS_EXPORT int dup2(int oldfd, int newfd) {
  if (newfd >= 0 && oldfd != newfd)
    unw_pipe_forget((unsigned)newfd, (unsigned)newfd);
  int (*next)(int, int) = __atomic_load_n(&next_dup2, __ATOMIC_RELAXED);
  if (next == NULL) {
    long rc = syscall(SYS_dup2, oldfd, newfd);
    return rc < 0 ? -1 : (int)rc;
  }
  return next(oldfd, newfd);
}

MS_EXPORT int dup3(int oldfd, int newfd, int flags) {
  if (newfd >= 0 && oldfd != newfd)
    unw_pipe_forget((unsigned)newfd, (unsigned)newfd);
  int (*next)(int, int, int) = __atomic_load_n(&next_dup3, __ATOMIC_RELAXED);
  if (next == NULL) {
    long rc = syscall(SYS_dup3, oldfd, newfd, flags);
    return rc < 0 ? -1 : (int)rc;
  }
  return next(oldfd, newfd, flags);
}

/* A thread that names itself is re-checked against a MEMSCOPE_THREADS glob, and the name is
 * recorded. Names given to other threads are not seen (documented in docs/tracker.md). */
MS_EXPORT int pthread_setname_np(pthread_t thread, const char *name) {
  static int (*next)(pthread_t, const char *);
  if (!next)
    NEXT_SYM(next, "pthread_setname_np");
  int rc = next(thread, name);
  ms_tls_t *tl = &ms__tls;
  if (rc == 0 && pthread_equal(thread, pthread_self()) && tl->state != MS_T_BUSY &&
      tl->state != MS_T_HOOK && tl->state != MS_T_DEAD) {
    uint8_t saved = tl->state;
    tl->state = MS_T_HOOK; /* the tracker's own work: MS_WORK_STATE */
    ms_work_t work = ms__work_enter();
    if (saved == MS_T_UNINIT) {
      tl->state = MS_T_UNINIT;
      ms__thread_setup(tl); /* reads the new name itself */
    } else {
      if (tl->override == 0 && ms__g.threads == MS_THREADS_GLOB)
        saved = ms__thread_policy_tracks(name, 0) ? MS_T_TRACKED : MS_T_UNTRACKED;
      if (saved == MS_T_TRACKED && ms__thread_buffer(tl) == NULL)
        saved = MS_T_UNTRACKED;
      if (saved == MS_T_TRACKED) {
        extern int memscope__mark(int, const char *);
        tl->state = MS_T_TRACKED;
        memscope__mark(MS_MARK_THREAD_NAME, name);
      }
      tl->state = saved;
    }
    ms__work_leave(work);
  }
  return rc;
}
