/* stack_adversary.c: allocations the stack cache (tracker/stacks.c) could get wrong if it
 * trusted its key alone. Run under MEMSCOPE_TEST_STACK_VERIFY=1 every cached stack is
 * compared with a fresh walk (stack_verify.sh asserts no difference); under =weak, which
 * skips the cache's stack-word check, the first case below must produce differences.
 *
 *   1. One allocating helper called by two callers of identical code and frame size,
 *      alternating: the helper's malloc has the same call site, stack pointer and frame
 *      pointer both times, but a different caller above.
 *   2. Recursion to varying depths (more than MEMSCOPE_STACK_DEPTH=16 frames at times).
 *   3. alloca of varying size above the allocating call.
 *   4. A signal handler that allocates (raised synchronously, so malloc is not re-entered).
 *   5. All of it on several threads at once.
 *
 * Usage: ms_t_stack_adversary [THREADS] [ITER]. Built with frame pointers and -O1. */
#include <alloca.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uintptr_t sink;

static __attribute__((noinline)) void helper(size_t n) {
  char *p = malloc(n);
  if (p)
    p[0] = 1;
  sink += (uintptr_t)p;
  free(p);
}

/* Two callers with the same code: same frame size, so helper runs at the same stack
 * pointer and frame pointer under either; only the return address into them differs. */
static __attribute__((noinline)) void caller_a(size_t n) {
  helper(n);
  __asm__ volatile("" ::: "memory"); /* not a tail call */
}
static __attribute__((noinline)) void caller_b(size_t n) {
  helper(n);
  __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void recurse(int depth, size_t n) {
  if (depth == 0) {
    helper(n);
    return;
  }
  recurse(depth - 1, n + 1);
  __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void with_alloca(size_t k) {
  char *pad = alloca(16 * (k % 7) + 16);
  memset(pad, 0, 16);
  sink += (uintptr_t)pad[0];
  caller_a(24);
  caller_b(24);
}

static void on_signal(int sig) {
  (void)sig;
  caller_a(40); /* malloc inside a signal frame: never cached, always right */
  caller_b(40);
}

static void *run(void *arg) {
  long iter = (long)(intptr_t)arg;
  for (long i = 0; i < iter; i++) {
    if (i & 1)
      caller_a(32);
    else
      caller_b(32);
    recurse((int)(i % 24), 8);
    with_alloca((size_t)i);
    if (i % 64 == 0)
      raise(SIGUSR1);
  }
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  long iter = argc > 2 ? atol(argv[2]) : 2000;
  if (threads < 1 || threads > 64 || iter < 1) {
    fprintf(stderr, "usage: ms_t_stack_adversary [THREADS 1-64] [ITER >= 1]\n");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t tid[64];
  for (int t = 1; t < threads; t++)
    if (pthread_create(&tid[t], NULL, run, (void *)(intptr_t)iter) != 0) {
      fprintf(stderr, "ms_t_stack_adversary: pthread_create failed\n");
      return 2;
    }
  run((void *)(intptr_t)iter);
  for (int t = 1; t < threads; t++)
    pthread_join(tid[t], NULL);
  return 0;
}
