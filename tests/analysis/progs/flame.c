/* flame.c: ms_a_flame, the flame-graph test's program: 3 worker threads, worker i makes
 * 10 * (i + 1) allocations through plain_alloc (a function of its own) and 7 * (i + 1) through
 * inl_alloc, always inlined into holder, so the allocation's return address lies in code
 * inlined there (built with -g: the debug info says so). Every block is freed.
 *
 * Prints (after joining, with write(2)): wI_tid=T wI_plain=N wI_inlined=M for I = 0..2. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKERS 3

typedef struct worker_s {
  int index;
  long tid;
  int plain, inlined;
} worker_t;

__attribute__((noinline)) static void *plain_alloc(size_t n) {
  void *p = malloc(n);
  __asm__ volatile("" ::: "memory"); /* keep the call a call, not a tail call */
  return p;
}

static inline __attribute__((always_inline)) void *inl_alloc(size_t n) {
  void *p = malloc(n);
  if (p)
    memset(p, 1, n);
  return p;
}

__attribute__((noinline)) static void holder(int count) {
  for (int i = 0; i < count; i++) {
    void *p = inl_alloc(64 + (size_t)i);
    __asm__ volatile("" ::: "memory");
    free(p);
  }
}

static void *work(void *arg) {
  worker_t *w = arg;
  w->tid = syscall(SYS_gettid);
  w->plain = 10 * (w->index + 1);
  w->inlined = 7 * (w->index + 1);
  for (int i = 0; i < w->plain; i++)
    free(plain_alloc(100));
  holder(w->inlined);
  return NULL;
}

int main(void) {
  pthread_t t[WORKERS];
  worker_t w[WORKERS];
  for (int i = 0; i < WORKERS; i++) {
    w[i] = (worker_t){.index = i};
    if (pthread_create(&t[i], NULL, work, &w[i]))
      return 1;
    pthread_join(t[i], NULL); /* one at a time: each thread its own tid */
  }
  char buf[512];
  int n = 0;
  for (int i = 0; i < WORKERS; i++)
    n += snprintf(buf + n, sizeof buf - (size_t)n, "w%d_tid=%ld w%d_plain=%d w%d_inlined=%d\n", i,
                  w[i].tid, i, w[i].plain, i, w[i].inlined);
  return write(1, buf, (size_t)n) == n ? 0 : 1;
}
