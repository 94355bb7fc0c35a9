/* ms_prim_x86_64_linux.c: the state of the x86-64 Linux backend's fork gate (ms_prim.h,
 * "Stacks"; docs/tracker.md, "Fork while another thread walks").
 *
 * unw_step takes a libunwind-internal mutex with all signals blocked. A thread that holds it
 * when another thread calls fork() leaves it locked in the child, forever: the child's first
 * stack-cache miss then blocks in unw_step. So every libunwind call of the tracker holds this
 * rwlock for reading (ms_prim_unw_enter, ms_prim_backtrace_traced), and a pthread_atfork
 * prepare handler takes it for writing: at the fork no tracker thread is inside libunwind,
 * and none can enter until the handlers release it. Writer-preferring, so that a stream of
 * walks from other threads cannot keep fork() waiting. Only misses pay (two atomic operations
 * on the lock): stack-cache hits never call libunwind. */
#define _GNU_SOURCE
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ms_prim.h"

static pthread_rwlock_t gate = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

/* Per thread: how deep it is in tracker walks (a signal handler can nest one), and whether
 * its outermost walk holds the gate. */
static __thread unsigned walk_depth __attribute__((tls_model("initial-exec")));
static __thread int gate_held __attribute__((tls_model("initial-exec")));
/* Per thread: this thread's prepare handler took the gate for writing (per thread, not
 * global: two threads may fork at once, and the second waits in the prepare handler). */
static __thread int fork_took_gate __attribute__((tls_model("initial-exec")));

void ms__prim_gate_enter(void) {
  /* depth first: a signal handler that runs before the lock is taken and walks (or forks)
   * sees this thread as inside a walk and does not take the gate again; with a writer
   * waiting, a second read lock from this thread would wait forever (writer-preferring). */
  if (walk_depth++ == 0)
    gate_held = pthread_rwlock_rdlock(&gate) == 0;
}

void ms__prim_gate_leave(void) {
  if (--walk_depth == 0 && gate_held) {
    gate_held = 0;
    pthread_rwlock_unlock(&gate);
  }
}

static void gate_prepare(void) {
  /* fork() from a signal handler that interrupted this thread inside a tracker walk: it holds
   * the gate for reading and would wait for itself. Skipped; the child may then still inherit
   * libunwind's mutex locked by another thread (the remaining risk, docs/tracker.md). */
  fork_took_gate = walk_depth == 0 && pthread_rwlock_wrlock(&gate) == 0;
}

static void gate_parent(void) {
  if (fork_took_gate) {
    fork_took_gate = 0;
    pthread_rwlock_unlock(&gate);
  }
}

static void gate_child(void) {
  /* Not unlocked: glibc decides between a writer's and a reader's unlock by the writer's
   * thread id, and the child's thread has a new one. The child is single-threaded here, so
   * a fresh lock is exact. */
  fork_took_gate = 0;
  pthread_rwlock_t fresh = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
  gate = fresh;
  /* The signal-handler case: the interrupted walk will leave and unlock; it holds the fresh
   * lock for reading so that the unlock balances. */
  if (walk_depth > 0 && gate_held)
    gate_held = pthread_rwlock_rdlock(&gate) == 0;
}

int ms_prim_fork_gate_install(void) {
  static int installed;
  if (installed)
    return 0;
  installed = 1;
  return pthread_atfork(gate_prepare, gate_parent, gate_child) == 0 ? 0 : -1;
}

/* ---- signals held across a walk ---------------------------------------------------------
 * libunwind (CONFIG_BLOCK_SIGNALS, Debian's build) blocks every signal around each use of its
 * cache lock: sigprocmask(SIG_SETMASK, <all>, &old), then sigprocmask(SIG_SETMASK, &old,
 * NULL); two a unw_step, two more around dl_iterate_phdr when a frame's unwind rule is not
 * cached. A learning miss made ~20 of them (19,704 in sqlite3's 200k-row script, at ~0.32 us
 * each on the guest measured). Now a walk of the tracker is a hold (ms_prim_sig_hold/release;
 * nested holds count once), and inside a hold libunwind's calls are answered here
 * (ms__prim_sigmask_emulated): the first one blocks the signals for the rest of the hold with
 * one system call, every one returns with nothing more to do, and the release restores the
 * program's mask. A hold in which libunwind never locks (unw_backtrace with its trace cache
 * warm) makes no system call. Only calls made from libunwind's code are answered: the
 * program's own (a signal handler that runs in a hold before the block, say) always go to the
 * kernel. docs/tracker.md, "Signals during a walk". Masks are the kernel's 64-bit word. */
#define SIGBIT(s) (1ull << ((s) - 1))
/* The mask of a hold: what libunwind's <all> blocks, but for glibc's own two (SIGCANCEL,
 * SIGSETXID: glibc never lets them be blocked; a setuid() in another thread waits on
 * SIGSETXID) and the synchronous fault signals. libunwind's stack reads ran with those
 * unblocked, so the program's handler sees a fault there as it did (a blocked SIGSEGV would
 * kill the program instead). What the hold is for, no asynchronous handler entering while
 * libunwind holds its lock, is kept. */
#define SIG_HOLD_MASK                                                                          \
  (~(SIGBIT(32) | SIGBIT(33) | SIGBIT(SIGSEGV) | SIGBIT(SIGBUS) | SIGBIT(SIGILL) |             \
     SIGBIT(SIGFPE) | SIGBIT(SIGTRAP) | SIGBIT(SIGSYS) | SIGBIT(SIGKILL) | SIGBIT(SIGSTOP)))

static __thread unsigned sig_depth __attribute__((tls_model("initial-exec")));
static __thread int sig_blocked __attribute__((tls_model("initial-exec")));
static __thread uint64_t sig_saved __attribute__((tls_model("initial-exec")));
/* libunwind's executable segment: [unw_lo, unw_hi); empty until ms__prim_sig_init found it
 * (then nothing is answered here: every call goes to the kernel, as before). */
static uintptr_t unw_lo, unw_hi;

static int find_unwind_text(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t fn = (uintptr_t)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && fn >= lo && fn < hi) {
      unw_lo = lo;
      unw_hi = hi;
      return 1;
    }
  }
  return 0;
}

void ms__prim_sig_init(void) {
  if (unw_hi == 0)
    dl_iterate_phdr(find_unwind_text, (void *)(uintptr_t)&unw_backtrace);
}

void ms__prim_sig_hold(void) { sig_depth++; }

void ms__prim_sig_release(void) {
  if (sig_depth == 0 || --sig_depth != 0 || !sig_blocked)
    return;
  sig_blocked = 0; /* first: a handler that runs once the mask is restored sees no hold */
  int saved_errno = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &sig_saved, NULL, sizeof sig_saved);
  errno = saved_errno;
}

int ms__prim_sigmask_emulated(uintptr_t caller, void *old) {
  if (sig_depth == 0 || caller - unw_lo >= unw_hi - unw_lo)
    return 0;
  uint64_t hold = SIG_HOLD_MASK;
  if (!sig_blocked) {
    uint64_t prev = 0;
    int saved_errno = errno;
    int rc = (int)syscall(SYS_rt_sigprocmask, SIG_SETMASK, &hold, &prev, sizeof hold);
    errno = saved_errno;
    if (rc != 0)
      return 0; /* libunwind's call goes to the kernel as before */
    sig_saved = prev;
    sig_blocked = 1;
  }
  /* libunwind keeps the old mask only to give it back in its next call, which is answered
   * here too: the hold's mask, as the kernel would report it (8 bytes of the sigset_t). */
  if (old != NULL) {
    hold &= ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
    memcpy(old, &hold, sizeof hold);
  }
  return 1;
}
