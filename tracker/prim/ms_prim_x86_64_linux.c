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
#include <pthread.h>

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
