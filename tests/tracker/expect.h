/* expect.h: the tracker test programs' own count of the allocator calls they make.
 *
 * Each program calls the allocator through these wrappers, which count successful calls
 * exactly as docs/analysis.md defines them, and prints one "expect ..." line at the end. The
 * preload check compares it with what the tracker recorded for calls made from the program's
 * own code (the caller frame in the program's module). Counters are atomics: many threads. */
#ifndef MS_TEST_EXPECT_H
#define MS_TEST_EXPECT_H
#define _GNU_SOURCE
#include <alloca.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* always_inline: the tracker attributes a call to the function that made it; these wrappers
 * must not appear as that function in any build type. */
#define EX_INLINE static inline __attribute__((always_inline))

static _Atomic long ex_allocs, ex_frees, ex_reallocs, ex_bytes, ex_live_blocks, ex_live_bytes;
/* Set on a thread whose calls the tracker is expected not to record (selective tracking). */
static __thread int ex_untracked;

static inline void ex_alloc(size_t n) {
  if (ex_untracked)
    return;
  ex_allocs++;
  ex_bytes += (long)n;
  ex_live_blocks++;
  ex_live_bytes += (long)n;
}
static inline void ex_release(size_t n) {
  if (ex_untracked)
    return;
  ex_live_blocks--;
  ex_live_bytes -= (long)n;
}

/* Blocks carry their requested size in a side header-free way: callers pass it back. */
EX_INLINE void *t_malloc(size_t n) {
  void *p = malloc(n);
  if (p) ex_alloc(n);
  return p;
}
EX_INLINE void *t_calloc(size_t a, size_t b) {
  void *p = calloc(a, b);
  if (p) ex_alloc(a * b);
  return p;
}
EX_INLINE void t_free(void *p, size_t n) {
  if (!p) { free(p); return; } /* free(NULL) is not a free call that counts */
  free(p);
  if (!ex_untracked)
    ex_frees++;
  ex_release(n);
}
/* realloc: p of old_n bytes to n bytes. */
EX_INLINE void *t_realloc(void *p, size_t old_n, size_t n) {
  void *q = realloc(p, n);
  if (p && n == 0) { /* glibc frees p and returns NULL */
    ex_frees += !ex_untracked;
    ex_release(old_n);
    return q;
  }
  if (q) {
    ex_reallocs += !ex_untracked;
    if (p) ex_release(old_n);
    ex_alloc(n);
  }
  return q;
}
EX_INLINE void *t_reallocarray(void *p, size_t old_n, size_t a, size_t b) {
  void *q = reallocarray(p, a, b);
  if (q) {
    ex_reallocs += !ex_untracked;
    if (p) ex_release(old_n);
    ex_alloc(a * b);
  }
  return q;
}
EX_INLINE void *t_memalign(size_t al, size_t n) {
  void *p = memalign(al, n);
  if (p) ex_alloc(n);
  return p;
}
EX_INLINE void *t_aligned_alloc(size_t al, size_t n) {
  void *p = aligned_alloc(al, n);
  if (p) ex_alloc(n);
  return p;
}
EX_INLINE void *t_posix_memalign(size_t al, size_t n) {
  void *p = NULL;
  if (posix_memalign(&p, al, n) == 0) {
    ex_alloc(n);
    return p;
  }
  return NULL;
}
EX_INLINE void *t_valloc(size_t n) {
  void *p = valloc(n);
  if (p) ex_alloc(n);
  return p;
}

/* The line the preload check reads; written with write(2) so stdio allocates nothing after
 * the counts are taken. */
static inline void ex_print(void) {
  char line[256];
  int n = snprintf(line, sizeof line,
                   "expect allocations=%ld frees=%ld reallocs=%ld allocated_bytes=%ld "
                   "leaked_blocks=%ld leaked_bytes=%ld\n",
                   (long)ex_allocs, (long)ex_frees, (long)ex_reallocs, (long)ex_bytes,
                   (long)ex_live_blocks, (long)ex_live_bytes);
  if (write(STDOUT_FILENO, line, (size_t)n) != n)
    _exit(99);
}
/* One malloc and free of n bytes at a stack pointer of its own: pad bytes of alloca first,
 * so that each pad is a new stack-cache key and the call walks (the tests of what a walk
 * does). noinline: the alloca stays in this frame, below the caller's. */
static __attribute__((noinline, unused)) void ex_alloc_at_pad(size_t pad, size_t n) {
  volatile char *room = alloca(pad);
  room[0] = 1;
  t_free(t_malloc(n), n);
  __asm__ volatile("" ::"r"(room) : "memory");
}

/* Runs fn on a new thread and waits for it; a failure ends the program (exit 1). */
static __attribute__((unused)) void ex_thread(void *(*fn)(void *)) {
  pthread_t th;
  if (pthread_create(&th, NULL, fn, NULL) != 0 || pthread_join(th, NULL) != 0) {
    fprintf(stderr, "FAIL thread create/join\n");
    exit(1);
  }
}
#endif
