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
 * each on the guest measured). Now the tracker's stepped walks and learns are holds
 * (ms_prim_sig_hold/release; nested holds count once): a hold blocks the asynchronous signals
 * with one system call and its release restores the program's mask, and in between
 * libunwind's own calls are answered here without one (ms__prim_sigmask_emulated). The block
 * comes first, so no signal handler can run inside a hold (only a synchronous fault's, which
 * the hold leaves unblocked: below) and every libunwind call answered is the walk's own.
 * unw_backtrace with its trace cache warm takes no lock, so it is a hold only after a cold
 * one (ms__prim_traced_enter). Calls are known as libunwind's by their return
 * address, in the code segment of the first caller seen at start (ms__prim_sig_init). docs/
 * tracker.md, "Signals during a walk". Masks are the kernel's 64-bit word. */
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
/* libunwind's code segment: [unw_lo, unw_hi); empty until ms__prim_sig_init found it (then
 * nothing is answered here: every call goes to the kernel, as before). */
static uintptr_t unw_lo, unw_hi;
/* ms__prim_sig_init's probe: the return address of libunwind's first sigprocmask call. */
static int sig_probing;
static uintptr_t sig_probe_caller;

static int find_text(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t at = *(uintptr_t *)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X) && at >= lo && at < hi) {
      unw_lo = lo;
      unw_hi = hi;
      return 1;
    }
  }
  return 0;
}

/* libunwind's code is found by where its own sigprocmask calls come from: one stepped walk,
 * whose first step takes its cache lock (a function address would not do: a non-PIE program
 * that takes unw_backtrace's address makes that a PLT entry in the program). A libunwind
 * built without signal blocking makes no call: nothing to answer, and none is. */
void ms__prim_sig_init(void) {
  if (unw_hi != 0)
    return;
  void *frames[4];
  sig_probing = 1;
  ms_prim_backtrace_stepped(frames, 4);
  sig_probing = 0;
  uintptr_t at = sig_probe_caller;
  if (at != 0)
    dl_iterate_phdr(find_text, &at);
}

void ms__prim_sig_hold(void) {
  if (sig_depth++ != 0)
    return;
  uint64_t hold = SIG_HOLD_MASK, prev = 0;
  int saved_errno = errno;
  if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &hold, &prev, sizeof hold) == 0) {
    sig_saved = prev;
    sig_blocked = 1; /* after the block: a handler that ran before it saw no hold */
  }
  errno = saved_errno;
}

/* sig_blocked, not sig_depth: a handler that runs between the outermost hold's depth
 * increment and its block is not inside the hold, and its calls are the program's. */
int ms__prim_sig_holding(void) { return sig_blocked; }

void ms__prim_sig_release(void) {
  if (sig_depth == 0 || --sig_depth != 0 || !sig_blocked)
    return;
  sig_blocked = 0; /* before the restore: a handler that runs once it is done sees no hold */
  int saved_errno = errno;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &sig_saved, NULL, sizeof sig_saved);
  errno = saved_errno;
}

int ms__prim_in_walk(void) { return walk_depth != 0; }

/* Inside a walk, and from libunwind's code: a program's signal handler that runs during a
 * walk (a warm unw_backtrace holds no signals) is not libunwind. Before ms__prim_sig_init
 * found libunwind's code (its probe walk makes the first pipe), a call inside a walk is. */
int ms__prim_unwinder_call(uintptr_t caller) {
  return walk_depth != 0 && (unw_hi == 0 || caller - unw_lo < unw_hi - unw_lo);
}

/* libunwind's sigprocmask calls on this thread, answered or not (ms__prim_traced_enter). */
static __thread uint32_t unw_calls __attribute__((tls_model("initial-exec")));
/* Whether this thread's last unw_backtrace called sigprocmask (its trace cache was cold).
 * 1 before its first: that one makes the trace cache, and its pthread_setspecific may
 * allocate (a key past the first 32); inside a hold no signal handler runs, so the tracker
 * knows such a call for its own (ms__prim_sig_holding). */
static __thread int traced_cold __attribute__((tls_model("initial-exec"))) = 1;

int ms__prim_sigmask_emulated(uintptr_t caller, void *old) {
  if (__builtin_expect(sig_probing, 0)) {
    if (sig_probe_caller == 0)
      sig_probe_caller = caller;
    return 0;
  }
  if (caller - unw_lo >= unw_hi - unw_lo)
    return 0;
  unw_calls++;
  if (!sig_blocked)
    return 0;
  /* libunwind keeps the old mask only to give it back in its next call, answered here too:
   * the hold's mask, as the kernel would report it (8 bytes of the sigset_t). */
  if (old != NULL) {
    uint64_t hold = SIG_HOLD_MASK & ~(SIGBIT(SIGKILL) | SIGBIT(SIGSTOP));
    memcpy(old, &hold, sizeof hold);
  }
  return 1;
}

/* unw_backtrace with its trace cache warm makes no sigprocmask call, and a hold would add
 * two; with it cold (a thread's first walks, code not walked before) each frame new to it
 * takes libunwind's lock like a step. So an unw_backtrace is a hold when the thread's last
 * one was cold: cold walks come in runs (start-up, a new code path), and one warm walk after
 * a run costs its two calls once. Returns what ms__prim_traced_leave needs: whether this one
 * holds, and libunwind's calls so far. */
uint64_t ms__prim_traced_enter(void) {
  uint64_t held = traced_cold != 0;
  if (held)
    ms__prim_sig_hold();
  return held << 32 | unw_calls;
}

void ms__prim_traced_leave(uint64_t token) {
  if (token >> 32)
    ms__prim_sig_release();
  traced_cold = unw_calls != (uint32_t)token;
}
