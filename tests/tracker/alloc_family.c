/* alloc_family.c: every wrapped allocator function, in THREADS threads, with frees of blocks
 * allocated on another thread. Usage: alloc_family THREADS [ROUNDS] */
#include <pthread.h>
#include "expect.h"

#define PER 64
static int nthreads, rounds;
static void *blocks[256][PER];
static size_t sizes[256][PER];
static pthread_barrier_t barrier;

static void *worker(void *arg) {
  int id = (int)(long)arg;
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < PER; k++) {
      size_t n = (size_t)(16 + ((id * 131 + k * 37 + r) % 4000));
      void *p;
      switch (k % 8) {
      case 0: p = t_malloc(n); break;
      case 1: p = t_calloc(n, 3); n *= 3; break;
      case 2: p = t_posix_memalign(64, n); break;
      case 3: p = t_aligned_alloc(256, (n + 255) & ~(size_t)255); n = (n + 255) & ~(size_t)255; break;
      case 4: p = t_memalign(128, n); break;
      case 5: p = t_valloc(n); break;
      case 6: p = t_realloc(NULL, 0, n); break; /* realloc(NULL, n) */
      default: p = t_reallocarray(NULL, 0, n, 2); n *= 2; break;
      }
      /* grow, then shrink the odd ones */
      if (k % 2) {
        p = t_realloc(p, n, n * 4);
        n *= 4;
        p = t_realloc(p, n, n / 8 + 1);
        n = n / 8 + 1;
      }
      blocks[id][k] = p;
      sizes[id][k] = n;
    }
    /* realloc(p, 0) frees */
    void *z = t_malloc(40);
    t_realloc(z, 40, 0);
    free(NULL);
    pthread_barrier_wait(&barrier);
    /* free the next thread's blocks: a free on another thread than the allocation */
    int other = (id + 1) % nthreads;
    for (int k = 0; k < PER; k++)
      t_free(blocks[other][k], sizes[other][k]);
    pthread_barrier_wait(&barrier);
  }
  return NULL;
}

int main(int argc, char **argv) {
  nthreads = argc > 1 ? atoi(argv[1]) : 1;
  rounds = argc > 2 ? atoi(argv[2]) : 3;
  if (nthreads < 1 || nthreads > 256 || rounds < 1) {
    fprintf(stderr, "usage: alloc_family THREADS(1-256) [ROUNDS]\n");
    return 2;
  }
  pthread_t th[256];
  pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
  for (long i = 0; i < nthreads; i++)
    pthread_create(&th[i], NULL, worker, (void *)i);
  for (int i = 0; i < nthreads; i++)
    pthread_join(th[i], NULL);
  /* one deliberate leak of known size, so leak figures are tested too */
  void *leak = t_malloc(12345);
  (void)leak;
  ex_print();
  return 0;
}
