/* signal_inside_alloc.h: a fuzz input whose signal handler calls the allocator inside an
 * allocator call, for the oracle's `partial` rule (docs/fuzz.md). Shared by
 * tests/fuzz_oracle/oracle_target.c ('S', 'F') and tests/harness/fuzz_partial.c ("SI").
 *
 * malloc/free pairs of 64 bytes (glibc's per-thread cache: never the arena's lock) under a
 * SIGALRM every 100 us whose handler, when it interrupted the tracker's code (the
 * interrupted instruction in libmemscope: inside a hook, never in glibc's allocator), leaks a
 * 4,093-byte block; until 20 such leaks, or 2 s. Without the tracker nothing is leaked. */
#ifndef SIGNAL_INSIDE_ALLOC_H
#define SIGNAL_INSIDE_ALLOC_H

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "../tracker/in_tracker.h"

static volatile sig_atomic_t sia_leaks;
static void *volatile sia_sink;

static void sia_on_alarm(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si;
  if (sia_leaks < 20 && in_tracker(uc)) {
    sia_sink = malloc(4093); /* leaked */
    sia_leaks++;
  }
}

static __attribute__((unused)) void signal_inside_alloc(void *(*alloc_in)(size_t),
                                                        void (*release_in)(void *)) {
  /* Through volatile pointers: the compiler may not remove a malloc/free pair. */
  void *(*volatile alloc)(size_t) = alloc_in;
  void (*volatile release)(void *) = release_in;
  in_tracker_find();
  time_t end = time(NULL) + 2;
  sia_leaks = 0;
  alarm_every(100, sia_on_alarm);
  while (sia_leaks < 20 && time(NULL) <= end)
    for (int i = 0; i < 1000; i++)
      release(alloc(64));
  alarm_every(0, NULL);
  sia_sink = NULL;
}

/* The peak variant (oracle_target 'F'): a handler that frees a block inside an allocator
 * call leaves the table counting it live, so the level it keeps is too high. Block A (600 kB)
 * is allocated and the handler frees it at its first signal inside the tracker, again with
 * a new A until the tracker has counted such a free (memscope__fuzz_unaccounted: the free
 * was inside a hook, not in the exported function before it), or 2 s. Then B (600 kB): the
 * live heap never went past ~600 kB above the start; the table says 1.2 MB. */
extern uint64_t memscope__fuzz_unaccounted(void) __attribute__((weak));
static void *volatile sia_a;

static void sia_free_a(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si;
  void *a = sia_a;
  if (a && in_tracker(uc)) {
    sia_a = NULL;
    free(a);
  }
}

static __attribute__((unused)) void signal_free_inside_alloc(void *(*alloc_in)(size_t),
                                                             void (*release_in)(void *)) {
  void *(*volatile alloc)(size_t) = alloc_in;
  void (*volatile release)(void *) = release_in;
  if (!memscope__fuzz_unaccounted)
    return;
  in_tracker_find();
  time_t end = time(NULL) + 2;
  alarm_every(100, sia_free_a);
  while (memscope__fuzz_unaccounted() == 0 && time(NULL) <= end) {
    if (!sia_a)
      sia_a = alloc(600000);
    for (int i = 0; i < 1000; i++)
      release(alloc(64));
  }
  alarm_every(0, NULL);
  void *a = sia_a; /* not freed by the handler (yet): freed here */
  sia_a = NULL;
  release(a);
  release(alloc(600000)); /* B */
}

#endif
