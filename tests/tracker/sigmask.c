/* sigmask.c: the program's signal mask and signals are its own while the tracker walks
 * stacks. The tracker blocks every signal for the length of a walk and answers libunwind's
 * own sigprocmask calls itself (docs/tracker.md, "Signals during a walk"); none of that may
 * show. Many distinct stacks (each a chain of calls chosen by the bits of a number) make
 * the tracker walk and learn hundreds of times while:
 *   1. SIGUSR1 is blocked and pending: it must stay pending through every walk and arrive
 *      exactly once when the program unblocks it;
 *   2. another thread sends SIGUSR2 200 times, each time waiting for the handler: every one
 *      must arrive (a signal that lands during a walk arrives after it), and the handler,
 *      which walks with libunwind itself, must see the thread's own mask;
 *   3. the mask at the end is the one at the start (SigBlk in /proc/self/status too);
 *   4. sigprocmask itself behaves as glibc's: EINVAL for a bad `how`, only the kernel's 8
 *      bytes of an old set written.
 * Prints "calls=N" (sigprocmask and pthread_sigmask calls the program made itself) and exits
 * 0, or prints what failed and exits 1. Same result with and without the tracker.
 * `sigmask walks` only walks every stack twice, `sigmask depths` allocates once at each of
 * 4,000 stack depths, a new stack-cache key each time, never learnt (sigmask.sh counts
 * their system calls). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#define DEPTH 9 /* 512 distinct stacks */
static volatile sig_atomic_t usr1, usr2;
static int fails, calls;
static _Atomic int helper_done;
static pthread_t main_thread;

static void on_usr1(int s) { (void)s; usr1++; }
static volatile sig_atomic_t handler_saw_hold;
/* Its own mask, asked from the handler: SIGUSR1 is unblocked in phase 2, so a mask with it
 * blocked is not the thread's (an answer meant for libunwind inside a tracker walk). And a
 * walk of its own with libunwind, as a sampling profiler's or a crash reporter's handler
 * makes: its libunwind calls must reach the kernel, or the handler runs with signals
 * blocked and its signal can stay blocked after it (a review found both with a hold that
 * blocked only at libunwind's first call). */
static void on_usr2(int s) {
  (void)s;
  sigset_t m;
  void *frames[8];
  unw_backtrace(frames, 8);
  if (sigprocmask(SIG_BLOCK, NULL, &m) == 0 && sigismember(&m, SIGUSR1))
    handler_saw_hold = 1;
  usr2++;
}

#define FAIL(...) (printf("FAIL: " __VA_ARGS__), printf("\n"), fails++)

static void *leaf(unsigned i) {
  void *p = malloc(16 + i % 64);
  if (p)
    memset(p, 1, 16);
  return p;
}
/* Two call sites a level: the path of calls spells the bits of i. noinline and a use of the
 * result after the call keep every level a real frame with its own return address. */
static __attribute__((noinline)) void *step_a(unsigned i, int d);
static __attribute__((noinline)) void *step_b(unsigned i, int d);
static __attribute__((noinline)) void *step_a(unsigned i, int d) {
  void *p = d == 0 ? leaf(i) : (i >> d & 1) ? step_b(i, d - 1) : step_a(i, d - 1);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}
static __attribute__((noinline)) void *step_b(unsigned i, int d) {
  void *p = d == 0 ? leaf(i) : (i >> d & 1) ? step_a(i, d - 1) : step_b(i, d - 1);
  __asm__ volatile("" : : "r"(p) : "memory");
  return p;
}

/* Every stack, twice (a key's first miss walks, a later one learns). */
static void walk_all(void) {
  for (int round = 0; round < 2; round++)
    for (unsigned i = 0; i < (1u << DEPTH); i++)
      free(step_a(i, DEPTH));
}

static long sigblk(void) { /* SigBlk of /proc/self/status: the calling thread's mask */
  FILE *f = fopen("/proc/thread-self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "SigBlk:", 7) == 0)
      v = strtol(line + 7, NULL, 16);
  if (f)
    fclose(f);
  return v;
}

static void *sender(void *arg) {
  (void)arg;
  for (int k = 0; k < 200; k++) {
    int before = usr2;
    pthread_kill(main_thread, SIGUSR2);
    struct timespec t0, now, pause = {0, 100000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
      nanosleep(&pause, NULL);
      clock_gettime(CLOCK_MONOTONIC, &now);
    } while (usr2 == before && now.tv_sec - t0.tv_sec < 5);
    if (usr2 == before) {
      printf("FAIL: SIGUSR2 %d never arrived\n", k);
      break;
    }
  }
  atomic_store(&helper_done, 1);
  return NULL;
}

/* One allocation at depth d below here: a new stack pointer for every d. */
static __attribute__((noinline)) void at_depth(int d) {
  if (d == 0)
    free(malloc(8));
  else
    at_depth(d - 1);
  __asm__ volatile("" : : : "memory");
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "walks") == 0) {
    walk_all();
    return 0;
  }
  if (argc > 1 && strcmp(argv[1], "depths") == 0) {
    for (int d = 1; d <= 4000; d++)
      at_depth(d);
    return 0;
  }
  main_thread = pthread_self();
  signal(SIGUSR1, on_usr1);
  signal(SIGUSR2, on_usr2);
  sigset_t start, now, one;
  sigprocmask(SIG_BLOCK, NULL, &start), calls++;
  long blk_start = sigblk();

  /* 1. a blocked, pending SIGUSR1 through every walk */
  sigemptyset(&one);
  sigaddset(&one, SIGUSR1);
  sigprocmask(SIG_BLOCK, &one, NULL), calls++;
  raise(SIGUSR1);
  walk_all();
  sigset_t pend;
  sigpending(&pend);
  if (usr1 != 0)
    FAIL("SIGUSR1 arrived while blocked (%d)", (int)usr1);
  if (!sigismember(&pend, SIGUSR1))
    FAIL("SIGUSR1 no longer pending after the walks");
  sigprocmask(SIG_BLOCK, NULL, &now), calls++;
  if (!sigismember(&now, SIGUSR1))
    FAIL("SIGUSR1 no longer blocked after the walks");
  sigprocmask(SIG_UNBLOCK, &one, NULL), calls++;
  if (usr1 != 1)
    FAIL("SIGUSR1 arrived %d times after unblocking, expected 1", (int)usr1);

  /* 2. signals landing during walks */
  pthread_t th;
  pthread_create(&th, NULL, sender, NULL);
  unsigned i = 0;
  while (!atomic_load(&helper_done)) /* new stacks all the time: the shift varies the path */
    free(step_b(i++ * 7919u, DEPTH));
  pthread_join(th, NULL);
  if (usr2 != 200)
    FAIL("SIGUSR2 arrived %d times of 200", (int)usr2);
  if (handler_saw_hold)
    FAIL("the handler's sigprocmask saw a mask that is not the thread's");

  /* 3. the mask is the program's */
  sigprocmask(SIG_BLOCK, NULL, &now), calls++;
  if (memcmp(&now, &start, 8) != 0 || sigblk() != blk_start)
    FAIL("the mask changed: SigBlk %lx, was %lx", sigblk(), blk_start);

  /* 4. sigprocmask's own behaviour */
  errno = 0;
  if (sigprocmask(12345, &one, NULL) != -1 || errno != EINVAL)
    FAIL("a bad how: expected -1/EINVAL, got errno %d", errno);
  calls++;
  sigset_t big;
  memset(&big, 0xab, sizeof big);
  sigprocmask(SIG_BLOCK, NULL, &big), calls++;
  for (size_t k = 8; k < sizeof big; k++)
    if (((unsigned char *)&big)[k] != 0xab) {
      FAIL("byte %zu of the old set written", k);
      break;
    }
  if (memcmp(&big, &start, 8) != 0)
    FAIL("the old set's first 8 bytes are not the mask");
  printf("calls=%d\n", calls);
  return fails ? 1 : 0;
}
