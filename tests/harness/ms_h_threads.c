/* ms_h_threads.c: a small allocation-heavy test program for the harness tests: THREADS
 * threads (default 200), each making ITERS malloc/free pairs of sizes 16..1039 bytes and
 * keeping KEEP blocks until it ends; prints the calls it made. Exit 0, or 1 when a thread
 * cannot be started. Used for the 200-thread `run` test and the overhead gate tests (its hot
 * path is the allocator, so the tracker's per-call cost dominates its overhead). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long iters = 200;
#define KEEP 4

static void *worker(void *arg) {
  unsigned long x = (unsigned long)(size_t)arg * 2654435761u + 1;
  void *keep[KEEP];
  for (int k = 0; k < KEEP; k++) keep[k] = malloc(64);
  for (long i = 0; i < iters; i++) {
    x = x * 6364136223846793005ul + 1442695040888963407ul;
    size_t n = 16 + (x >> 33) % 1024;
    char *p = malloc(n);
    if (!p) return (void *)1;
    p[0] = (char)i;
    p[n - 1] = (char)n;
    free(p);
  }
  for (int k = 0; k < KEEP; k++) free(keep[k]);
  return NULL;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 200;
  if (argc > 2) iters = atol(argv[2]);
  if (threads < 1 || threads > 10000 || iters < 0) {
    fprintf(stderr, "usage: ms_h_threads [THREADS (1-10000)] [ITERS]\n");
    return 2;
  }
  pthread_t *t = calloc((size_t)threads, sizeof *t);
  if (!t) return 1;
  int started = 0, failed = 0;
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&t[i], NULL, worker, (void *)(size_t)i) != 0) {
      failed = 1;
      break;
    }
    started++;
  }
  for (int i = 0; i < started; i++) {
    void *r;
    pthread_join(t[i], &r);
    if (r) failed = 1;
  }
  free(t);
  printf("threads=%d iters=%ld allocations=%ld\n", started, iters,
         (long)started * (iters + KEEP));
  return failed;
}
