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
 * cache lock: two rt_sigprocmask calls a unw_step, and two more around dl_iterate_phdr when a
 * frame's unwind rule is not cached. A learning miss makes ~20 of them (19,704 in sqlite3's
 * 200k-row script, at ~0.32 us each on the guest this was measured on). The tracker now
 * blocks them once for its whole walk (ms_prim_sig_hold) and answers libunwind's own calls
 * in that window itself (ms_prim_sigmask_emulated): each asks to set the mask it already has,
 * so the answer (the old mask, and no change) is the kernel's without the system call. A
 * call that would change the mask still goes to the kernel. The program's own calls outside
 * a walk always go to the kernel, through the next sigprocmask. docs/tracker.md, "Signals
 * during a walk". The masks are the kernel's 64-bit word, as glibc passes it (_NSIG / 8). */
#define SIGBIT(s) (1ull << ((s) - 1))
/* glibc keeps SIGCANCEL (32) and SIGSETXID (33) unblocked whatever a caller asks, and the
 * kernel SIGKILL and SIGSTOP. */
#define SIG_GLIBC_OWN (SIGBIT(32) | SIGBIT(33))
#define SIG_UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))

static __thread unsigned sig_depth __attribute__((tls_model("initial-exec")));
static __thread int sig_held __attribute__((tls_model("initial-exec")));
static __thread uint64_t sig_saved __attribute__((tls_model("initial-exec")));
static __thread uint64_t sig_cur __attribute__((tls_model("initial-exec")));

void ms__prim_sig_hold(void) {
  if (sig_depth++ != 0)
    return;
  /* What sigfillset + sigprocmask(SIG_SETMASK) asks glibc for: the mask libunwind sets. */
  uint64_t all = ~SIG_GLIBC_OWN, old = 0;
  int saved_errno = errno;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, sizeof all) == 0) {
    sig_saved = old;
    sig_cur = all & ~SIG_UNBLOCKABLE;
    sig_held = 1; /* last: a handler that ran before the block saw the real path */
  }
  errno = saved_errno;
}

void ms__prim_sig_release(void) {
  if (sig_depth == 0 || --sig_depth != 0 || !sig_held)
    return;
  sig_held = 0; /* first: a handler that runs once the mask is restored takes the real path */
  int saved_errno = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &sig_saved, NULL, sizeof sig_saved);
  errno = saved_errno;
}

int ms__prim_sigmask_emulated(int how, const void *set, void *old) {
  if (!sig_held)
    return 0;
  uint64_t next = sig_cur;
  if (set != NULL) {
    uint64_t s;
    memcpy(&s, set, sizeof s);
    s &= ~SIG_GLIBC_OWN;
    if (how == SIG_BLOCK)
      next |= s;
    else if (how == SIG_UNBLOCK)
      next &= ~s;
    else if (how == SIG_SETMASK)
      next = s;
    else
      return 0; /* the kernel's EINVAL */
    next &= ~SIG_UNBLOCKABLE;
    if (next != sig_cur)
      return 0; /* a change: the kernel makes it (ms__prim_sigmask_changed follows) */
  }
  if (old != NULL)
    memcpy(old, &sig_cur, sizeof sig_cur); /* the kernel writes 8 bytes of the sigset_t too */
  return 1;
}

void ms__prim_sigmask_changed(void) {
  if (!sig_held)
    return;
  uint64_t cur = 0;
  int saved_errno = errno;
  if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &cur, sizeof cur) == 0)
    sig_cur = cur;
  errno = saved_errno;
}
