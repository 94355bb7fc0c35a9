/* sampling.c: ms_a_sampling, the 4-thread workload of the sampled-mode estimate test.
 *
 * Each of 4 threads: (1) churn: 2000 malloc/free pairs of 16-4096 bytes and 40 of 8 MiB
 * blocks (never touched, so cheap); (2) barrier; (3) holds 8 blocks of 4-8 MiB; (4) barrier,
 * frees them. Deterministic sizes (a per-thread LCG), so a full run and a sampled run make
 * the same calls; the process-wide peak is the held blocks (about 192 MiB of address space: no block is
 * touched, so little of it is resident).
 *
 * Sizes against N = 512 KiB: a held block is missed with probability exp(-s/N) <= e^-8, so
 * the peak estimate is well inside its interval; the 8 MiB churn makes most allocated bytes
 * certain and the small blocks give the sampling noise. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 4
static pthread_barrier_t barrier;

static uint32_t next(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

static void *worker(void *arg) {
  uint32_t seed = 12345u + 7919u * (uint32_t)(uintptr_t)arg;
  for (int i = 0; i < 2000; i++) {
    size_t n = 16 + next(&seed) % 4081;
    void *p = malloc(n);
    if (!p)
      abort();
    free(p);
    if (i % 50 == 0) {
      void *big = malloc((size_t)8 << 20);
      if (!big)
        abort();
      free(big);
    }
  }
  pthread_barrier_wait(&barrier);
  void *held[8];
  for (int i = 0; i < 8; i++) {
    held[i] = malloc(((size_t)4 << 20) + next(&seed) % ((size_t)4 << 20));
    if (!held[i])
      abort();
  }
  pthread_barrier_wait(&barrier);
  for (int i = 0; i < 8; i++)
    free(held[i]);
  return NULL;
}

int main(void) {
  pthread_t th[THREADS];
  pthread_barrier_init(&barrier, NULL, THREADS);
  for (long i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, worker, (void *)i);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  puts("done");
  return 0;
}
