/* workload.c: ms-bench-workload, the whole-program workload memscope-bench times natively,
 * under memscope and under heaptrack.
 *
 *   ms-bench-workload THREADS PAIRS [LIVE]
 *
 * Each of THREADS threads makes PAIRS mallocs and PAIRS frees of 16-4096 bytes (its own
 * xorshift sequence, so runs are identical), a few call levels below the thread's entry.
 * A thread keeps a window of LIVE live blocks (default 64) and replaces a random one at each
 * step, so a free usually releases a block allocated some steps earlier, not the one just
 * allocated. The default keeps the heap small (0.6 MB for 4 threads), as in a malloc-heavy
 * loop; a large LIVE gives a program with a large heap (sampled-mode accuracy depends on it:
 * bench/sampled_accuracy.py). Small and large blocks come from different call paths, so a stack-capturing
 * tracker sees a few distinct stacks rather than one. Prints checksum=; errors are one line
 * on stderr and exit status 2. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"

#define MS_BENCH_WINDOW 64 /* default LIVE */
#define MS_BENCH_MAX_LIVE (1u << 24)
#define MS_BENCH_MAX_THREADS 256
#define MS_BENCH_SMALL_LIMIT 256u /* blocks up to this size take the "small" path */

typedef struct worker_s {
  uint64_t rng;                  /* this thread's xorshift state */
  uint64_t pairs;                /* malloc/free pairs to make */
  uint64_t checksum;             /* folds in addresses and contents: keeps the work used */
  uint64_t live;                 /* window size */
  void **window;                 /* the live blocks */
} worker_t;

static void die_oom(size_t size) {
  fprintf(stderr, "ms-bench-workload: malloc(%zu) failed\n", size);
  exit(2);
}

static __attribute__((noinline)) void *make_small(size_t size) {
  unsigned char *p = malloc(size);
  if (p == NULL)
    die_oom(size);
  p[0] = (unsigned char)size;
  return p;
}

static __attribute__((noinline)) void *make_large(size_t size) {
  unsigned char *p = malloc(size);
  if (p == NULL)
    die_oom(size);
  p[0] = (unsigned char)size;
  p[size - 1] = (unsigned char)(size >> 8);
  return p;
}

static __attribute__((noinline)) void *make_block(worker_t *w) {
  size_t size = ms_bench_size(&w->rng);
  return size <= MS_BENCH_SMALL_LIMIT ? make_small(size) : make_large(size);
}

/* One step: free a random live block and put a new one in its place. */
static __attribute__((noinline)) void replace_one(worker_t *w) {
  size_t slot = (size_t)(ms_bench_next(&w->rng) % w->live);
  unsigned char *old = w->window[slot];
  w->checksum += old[0];
  free(old);
  w->window[slot] = make_block(w);
}

static __attribute__((noinline)) void churn(worker_t *w, uint64_t steps) {
  for (uint64_t i = 0; i < steps; i++)
    replace_one(w);
}

static void *worker_main(void *arg) {
  worker_t *w = arg;
  uint64_t fill = w->pairs < w->live ? w->pairs : w->live;
  for (uint64_t i = 0; i < fill; i++)
    w->window[i] = make_block(w);
  churn(w, w->pairs - fill);
  for (uint64_t i = 0; i < fill; i++) {
    w->checksum += (uintptr_t)w->window[i] & 0xff;
    free(w->window[i]);
  }
  return NULL;
}

int main(int argc, char **argv) {
  uint64_t nthreads, pairs, live = MS_BENCH_WINDOW;
  if ((argc != 3 && argc != 4) ||
      ms_bench_parse_count(argv[1], MS_BENCH_MAX_THREADS, &nthreads) != 0 ||
      ms_bench_parse_count(argv[2], UINT64_MAX / 4, &pairs) != 0 ||
      (argc == 4 && ms_bench_parse_count(argv[3], MS_BENCH_MAX_LIVE, &live) != 0)) {
    fprintf(stderr,
            "usage: ms-bench-workload THREADS PAIRS [LIVE] (THREADS 1-%d, PAIRS >= 1, "
            "LIVE 1-%u, default %d)\n",
            MS_BENCH_MAX_THREADS, MS_BENCH_MAX_LIVE, MS_BENCH_WINDOW);
    return 2;
  }
  worker_t *workers = calloc(nthreads, sizeof *workers);
  pthread_t *tids = calloc(nthreads, sizeof *tids);
  if (workers == NULL || tids == NULL)
    die_oom(nthreads * sizeof *workers);
  for (uint64_t i = 0; i < nthreads; i++) {
    workers[i].rng = ms_bench_seed(1000 + i);
    workers[i].pairs = pairs;
    workers[i].live = live;
    workers[i].window = malloc(live * sizeof *workers[i].window);
    if (workers[i].window == NULL)
      die_oom(live * sizeof *workers[i].window);
    int err = pthread_create(&tids[i], NULL, worker_main, &workers[i]);
    if (err != 0) {
      fprintf(stderr, "ms-bench-workload: pthread_create: %s\n", strerror(err));
      return 2;
    }
  }
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < nthreads; i++) {
    pthread_join(tids[i], NULL);
    checksum += workers[i].checksum;
    free(workers[i].window);
  }
  free(workers);
  free(tids);
  printf("checksum=%" PRIu64 "\n", checksum);
  return 0;
}
