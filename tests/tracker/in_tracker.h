/* in_tracker.h: for test programs whose signal handlers act only when they interrupted the
 * tracker's own code (tests/tracker/nested.c, tests/fuzz_oracle/signal_inside_alloc.h).
 * in_tracker_find() locates the executable segment of the loaded module whose name contains
 * "libmemscope" (none: nothing is ever inside it); in_tracker(uc) says whether the
 * interrupted instruction of a SA_SIGINFO handler's context is in it. alarm_every(us, fn)
 * installs fn for SIGALRM (SA_RESTART) and arms the interval timer (0: off). */
#ifndef IN_TRACKER_H
#define IN_TRACKER_H

#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>

static uintptr_t in_tracker_lo, in_tracker_hi;

static int in_tracker_phdr(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size, (void)arg;
  if (!info->dlpi_name || !strstr(info->dlpi_name, "libmemscope"))
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
      in_tracker_lo = info->dlpi_addr + ph->p_vaddr;
      in_tracker_hi = in_tracker_lo + ph->p_memsz;
    }
  }
  return 1;
}

static __attribute__((unused)) void in_tracker_find(void) {
  dl_iterate_phdr(in_tracker_phdr, NULL);
}

static __attribute__((unused)) int in_tracker(void *uc) {
  uintptr_t ip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
  return ip >= in_tracker_lo && ip < in_tracker_hi;
}

static __attribute__((unused)) void alarm_every(long us, void (*fn)(int, siginfo_t *, void *)) {
  if (fn) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sigaction(SIGALRM, &sa, NULL);
  }
  struct itimerval it = {{0, us}, {0, us}};
  setitimer(ITIMER_REAL, &it, NULL);
}

#endif
