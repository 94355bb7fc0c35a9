/* cancel_walk.c: threads with a deferred cancellation pending keep allocating; the tracker's
 * work inside their calls must not act on it. Two ways it did:
 * - The walk. Each call comes from a stack the tracker has not seen (a new stack pointer: a
 *   stack-cache miss, so a walk). libunwind's unw_step reads and writes a pipe to check a
 *   stack word (read() and write() are cancellation points), so a walk that let cancellation
 *   through ended the thread inside malloc (at call 249, once past a thread's first 256
 *   walks, which are stepped), and the walk never left: the fork gate stayed held for
 *   reading, and the next fork() waited forever.
 * - A thread's set-up, in its first call: a new buffer's ring segment is reserved with
 *   fallocate() and named in meta.txt with write(), both cancellation points. Threads that
 *   another thread cancelled before their first malloc were each ended inside it.
 * Each thread must instead be cancelled where the program asks, at its pthread_testcancel,
 * and fork() must return. */
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include "expect.h"

#define CALLS 600

static volatile int reached = -1; /* the loop's index when the thread was cancelled */

static void note_cancel(void *arg) { reached = *(volatile int *)arg; }

static void *worker(void *arg) {
  (void)arg;
  volatile int i = 0;
  pthread_cleanup_push(note_cancel, (void *)&i);
  pthread_cancel(pthread_self()); /* deferred: pending until a cancellation point */
  for (i = 0; i < CALLS; i++)
    ex_alloc_at_pad(16 + 16 * (size_t)i, 40);
  pthread_testcancel(); /* the only cancellation point the program has in the loop */
  pthread_cleanup_pop(0);
  return NULL;
}

/* The set-up case: NSETUP threads, alive at once (so most get a new buffer, not a released
 * one), each cancelled by main before its first allocator call. */
#define NSETUP 8
#define SETUP_CALLS 10
static atomic_int go;
static volatile int setup_reached[NSETUP];

static void note_setup(void *arg) {
  volatile int *st = arg; /* {index, calls made} */
  setup_reached[st[0]] = st[1];
}

static void *setup_worker(void *arg) {
  volatile int st[2] = {(int)(intptr_t)arg, 0};
  pthread_cleanup_push(note_setup, (void *)st);
  while (!atomic_load(&go)) /* no cancellation point: the cancel stays pending */
    ;
  for (st[1] = 0; st[1] < SETUP_CALLS; st[1]++)
    t_free(t_malloc(24), 24);
  pthread_testcancel();
  pthread_cleanup_pop(0);
  return NULL;
}

int main(void) {
  pthread_t th;
  void *ret;
  if (pthread_create(&th, NULL, worker, NULL) != 0 || pthread_join(th, &ret) != 0) {
    fprintf(stderr, "FAIL thread create/join\n");
    return 1;
  }
  if (ret != PTHREAD_CANCELED || reached != CALLS) {
    fprintf(stderr, "FAIL the thread was cancelled inside the loop, at call %d of %d\n",
            reached, CALLS);
    return 1;
  }
  pthread_t ths[NSETUP];
  for (int i = 0; i < NSETUP; i++)
    if (pthread_create(&ths[i], NULL, setup_worker, (void *)(intptr_t)i) != 0) {
      fprintf(stderr, "FAIL thread create\n");
      return 1;
    }
  for (int i = 0; i < NSETUP; i++)
    pthread_cancel(ths[i]);
  atomic_store(&go, 1);
  for (int i = 0; i < NSETUP; i++)
    pthread_join(ths[i], NULL);
  for (int i = 0; i < NSETUP; i++)
    if (setup_reached[i] != SETUP_CALLS) {
      fprintf(stderr, "FAIL thread %d was cancelled inside its calls, at call %d of %d\n", i,
              setup_reached[i], SETUP_CALLS);
      return 1;
    }
  /* A walk left by cancellation would still hold the fork gate: fork() would wait forever. */
  alarm(20);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) { /* its own run directory: it made no calls of its own */
    ex_allocs = ex_frees = ex_reallocs = ex_bytes = ex_live_blocks = ex_live_bytes = 0;
    if (write(1, "child ", 6) != 6)
      _exit(99);
    ex_print();
    exit(0);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) {
    fprintf(stderr, "FAIL fork after the cancelled thread\n");
    return 1;
  }
  alarm(0);
  ex_print();
  return 0;
}
