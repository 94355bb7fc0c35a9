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

#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <ucontext.h>

static uintptr_t sia_lo, sia_hi; /* the tracker's code */
static volatile sig_atomic_t sia_leaks;
static void *volatile sia_sink;

static int sia_find_lib(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size, (void)arg;
  if (!info->dlpi_name || !strstr(info->dlpi_name, "libmemscope"))
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
      sia_lo = info->dlpi_addr + ph->p_vaddr;
      sia_hi = sia_lo + ph->p_memsz;
    }
  }
  return 1;
}

static void sia_on_alarm(int sig, siginfo_t *si, void *uc) {
  (void)sig, (void)si;
  uintptr_t ip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
  if (sia_leaks < 20 && ip >= sia_lo && ip < sia_hi) {
    sia_sink = malloc(4093); /* leaked */
    sia_leaks++;
  }
}

static __attribute__((unused)) void signal_inside_alloc(void *(*alloc_in)(size_t),
                                                        void (*release_in)(void *)) {
  /* Through volatile pointers: the compiler may not remove a malloc/free pair. */
  void *(*volatile alloc)(size_t) = alloc_in;
  void (*volatile release)(void *) = release_in;
  dl_iterate_phdr(sia_find_lib, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = sia_on_alarm;
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval on = {{0, 100}, {0, 100}}, off = {{0, 0}, {0, 0}};
  time_t end = time(NULL) + 2;
  sia_leaks = 0;
  setitimer(ITIMER_REAL, &on, NULL);
  while (sia_leaks < 20 && time(NULL) <= end)
    for (int i = 0; i < 1000; i++)
      release(alloc(64));
  setitimer(ITIMER_REAL, &off, NULL);
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
  uintptr_t ip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
  void *a = sia_a;
  if (a && ip >= sia_lo && ip < sia_hi) {
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
  dl_iterate_phdr(sia_find_lib, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = sia_free_a;
  sa.sa_flags = SA_RESTART | SA_SIGINFO;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval on = {{0, 100}, {0, 100}}, off = {{0, 0}, {0, 0}};
  time_t end = time(NULL) + 2;
  setitimer(ITIMER_REAL, &on, NULL);
  while (memscope__fuzz_unaccounted() == 0 && time(NULL) <= end) {
    if (!sia_a)
      sia_a = alloc(600000);
    for (int i = 0; i < 1000; i++)
      release(alloc(64));
  }
  setitimer(ITIMER_REAL, &off, NULL);
  void *a = sia_a; /* not freed by the handler (yet): freed here */
  sia_a = NULL;
  release(a);
  release(alloc(600000)); /* B */
}

#endif
