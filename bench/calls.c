/* calls.c: ms-bench-calls, the per-call cost and per-thread memory probes of memscope-bench.
 *
 * Two modes, both deterministic and both meant to be run by the driver once natively and
 * once under LD_PRELOAD=libmemscope.so, the difference being the tracker's cost:
 *
 *   ms-bench-calls calls PAIRS ROUNDS [--untrack]
 *       Recurses through MS_BENCH_DEPTH noinline frames, then makes PAIRS malloc/free pairs
 *       of 16-4096 bytes (xorshift sizes), ROUNDS times after one untimed warm-up round,
 *       each round timed with clock_gettime. Prints ns_per_call= (the median round's thread
 *       CPU time / its allocator calls; a malloc and a free are two calls),
 *       ns_per_call_wall= (the same by CLOCK_MONOTONIC), ns_per_call_wall_mean= (all
 *       rounds' wall time / all calls), calls= and checksum=. --untrack calls
 *       memscope_thread_track(0) first, so the loop runs on an untracked thread (a no-op
 *       without the tracker).
 *
 *   ms-bench-calls threads T
 *       Reads VmRSS, starts T threads that each make a few allocations and wait on a
 *       barrier, reads VmRSS again while all T are parked, then releases and joins them.
 *       Prints rss_before_kb=, rss_threads_kb=, threads=.
 *
 * Output is key=value lines on stdout; errors are one line on stderr and exit status 2. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_common.h"
#include "memscope.h"

/* Frames between main and the allocation loop. With main, run_calls and the libc start
 * frames the allocator is called at a depth of a little over 16, so a 16-frame capture is
 * always full, as in a real program where allocations happen deep in a call tree. */
#define MS_BENCH_DEPTH 16

#define MS_BENCH_MAX_ROUNDS 1000
#define MS_BENCH_MAX_THREADS 4096
#define MS_BENCH_BLOCKS_PER_THREAD 8

typedef struct calls_args_s {
  uint64_t pairs;  /* malloc/free pairs per round */
  uint64_t rounds; /* timed rounds */
  int untrack;     /* run the loop with memscope_thread_track(0) */
} calls_args_t;

/* The measured loop. The volatile store makes each block observably used, so the compiler
 * may not delete the malloc/free pair (GCC removes unused pairs at -O2). */
static __attribute__((noinline)) uint64_t alloc_loop(uint64_t pairs, uint64_t *rng) {
  uint64_t checksum = 0;
  for (uint64_t i = 0; i < pairs; i++) {
    size_t size = ms_bench_size(rng);
    char *p = malloc(size);
    if (p == NULL) {
      fprintf(stderr, "ms-bench-calls: malloc(%zu) failed\n", size);
      exit(2);
    }
    *(volatile char *)p = (char)size;
    checksum += (uintptr_t)p & 0xfff;
    free(p);
  }
  return checksum;
}

/* Recurse depth frames, then run the loop. The empty asm on the result after the call keeps
 * GCC from turning the recursion into a loop (tail-recursion elimination with an
 * accumulator), so every level is a real frame on the stack. */
static __attribute__((noinline)) uint64_t descend(int depth, uint64_t pairs, uint64_t *rng) {
  if (depth == 0)
    return alloc_loop(pairs, rng);
  uint64_t r = descend(depth - 1, pairs, rng);
  __asm__ volatile("" : "+r"(r));
  return r;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Median of n values (sorts them in place). */
static double median_of(double *values, size_t n) {
  qsort(values, n, sizeof values[0], cmp_double);
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

static int run_calls(const calls_args_t *args) {
  uint64_t rng = ms_bench_seed(1);
  if (args->untrack)
    (void)memscope_thread_track(0); /* MEMSCOPE_UNAVAILABLE without the tracker: fine */

  /* Warm-up: faults in the allocator's pages and lets the tracker set up this thread, so
   * the timed rounds see the steady state. */
  uint64_t checksum = descend(MS_BENCH_DEPTH, args->pairs, &rng);

  /* Each round is timed on its own, by this thread's CPU clock and by the wall clock, and
   * the median round is reported. The CPU clock does not run while the thread is
   * descheduled, so other load on the machine (shared with other work) barely moves it;
   * the wall clock also shows time the thread spends blocked (e.g. waiting on a write).
   * The median drops short bursts of interference, while the tracker's own periodic work
   * (buffer flushes, many per round) is spread over all rounds and so stays in. */
  double cpu_ns[MS_BENCH_MAX_ROUNDS], wall_ns[MS_BENCH_MAX_ROUNDS];
  uint64_t total_wall_ns = 0;
  double per_round_calls = (double)(2 * args->pairs);
  for (uint64_t r = 0; r < args->rounds; r++) {
    uint64_t c0 = ms_bench_thread_cpu_ns(), w0 = ms_bench_now_ns();
    checksum += descend(MS_BENCH_DEPTH, args->pairs, &rng);
    uint64_t w1 = ms_bench_now_ns(), c1 = ms_bench_thread_cpu_ns();
    total_wall_ns += w1 - w0;
    cpu_ns[r] = (double)(c1 - c0) / per_round_calls;
    wall_ns[r] = (double)(w1 - w0) / per_round_calls;
  }

  uint64_t calls = 2 * args->pairs * args->rounds;
  printf("ns_per_call=%.4f\nns_per_call_wall=%.4f\nns_per_call_wall_mean=%.4f\ncalls=%" PRIu64
         "\nchecksum=%" PRIu64 "\n",
         median_of(cpu_ns, args->rounds), median_of(wall_ns, args->rounds),
         (double)total_wall_ns / (double)calls, calls, checksum);
  return 0;
}

/* Resident set size of this process in KiB from /proc/self/status, or -1. Read with
 * open/read into a stack buffer so the probe itself does not allocate. */
static long read_rss_kb(void) {
  char buf[8192];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t len = 0;
  ssize_t n;
  while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
    len += (size_t)n;
  close(fd);
  buf[len] = '\0';
  const char *line = strstr(buf, "\nVmRSS:");
  if (line == NULL)
    return -1;
  return strtol(line + strlen("\nVmRSS:"), NULL, 10);
}

typedef struct threads_shared_s {
  pthread_barrier_t parked;   /* all threads allocated: main may measure */
  pthread_barrier_t released; /* main has measured: threads may finish */
} threads_shared_t;

typedef struct thread_slot_s {
  threads_shared_t *shared;
  uint64_t seed;
} thread_slot_t;

static void *parked_thread(void *arg) {
  thread_slot_t *slot = arg;
  uint64_t rng = ms_bench_seed(slot->seed);
  void *blocks[MS_BENCH_BLOCKS_PER_THREAD];
  for (int i = 0; i < MS_BENCH_BLOCKS_PER_THREAD; i++) {
    size_t size = ms_bench_size(&rng);
    blocks[i] = malloc(size);
    if (blocks[i] != NULL)
      memset(blocks[i], i, size);
  }
  pthread_barrier_wait(&slot->shared->parked);
  pthread_barrier_wait(&slot->shared->released);
  for (int i = 0; i < MS_BENCH_BLOCKS_PER_THREAD; i++)
    free(blocks[i]);
  return NULL;
}

static int run_threads(uint64_t nthreads) {
  threads_shared_t shared;
  pthread_t *tids = calloc(nthreads, sizeof *tids);
  thread_slot_t *slots = calloc(nthreads, sizeof *slots);
  if (tids == NULL || slots == NULL) {
    fprintf(stderr, "ms-bench-calls: out of memory for %" PRIu64 " threads\n", nthreads);
    return 2;
  }
  /* Allocate and free a little on the main thread first, so the tracker's one-off setup
   * (main thread buffer, stack table) is already in rss_before and only the per-thread
   * cost shows up in the difference. */
  uint64_t rng = ms_bench_seed(7);
  (void)alloc_loop(64, &rng);
  pthread_barrier_init(&shared.parked, NULL, (unsigned)nthreads + 1);
  pthread_barrier_init(&shared.released, NULL, (unsigned)nthreads + 1);

  long rss_before = read_rss_kb();
  for (uint64_t i = 0; i < nthreads; i++) {
    slots[i].shared = &shared;
    slots[i].seed = 100 + i;
    int err = pthread_create(&tids[i], NULL, parked_thread, &slots[i]);
    if (err != 0) {
      fprintf(stderr, "ms-bench-calls: pthread_create failed after %" PRIu64 " threads: %s\n",
              i, strerror(err));
      exit(2); /* parked threads would wait forever; exiting ends them */
    }
  }
  pthread_barrier_wait(&shared.parked);
  long rss_threads = read_rss_kb();
  pthread_barrier_wait(&shared.released);
  for (uint64_t i = 0; i < nthreads; i++)
    pthread_join(tids[i], NULL);
  pthread_barrier_destroy(&shared.parked);
  pthread_barrier_destroy(&shared.released);
  free(tids);
  free(slots);

  if (rss_before < 0 || rss_threads < 0) {
    fprintf(stderr, "ms-bench-calls: cannot read VmRSS from /proc/self/status\n");
    return 2;
  }
  printf("rss_before_kb=%ld\nrss_threads_kb=%ld\nthreads=%" PRIu64 "\n", rss_before,
         rss_threads, nthreads);
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: ms-bench-calls calls PAIRS ROUNDS [--untrack]\n"
                  "       ms-bench-calls threads T\n");
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "calls") == 0) {
    calls_args_t args = {0};
    if (ms_bench_parse_count(argv[2], UINT64_MAX / 4, &args.pairs) != 0 ||
        ms_bench_parse_count(argv[3], MS_BENCH_MAX_ROUNDS, &args.rounds) != 0) {
      fprintf(stderr,
              "ms-bench-calls: PAIRS must be a positive whole number, ROUNDS one from 1 to %d\n",
              MS_BENCH_MAX_ROUNDS);
      return 2;
    }
    if (argc == 5 && strcmp(argv[4], "--untrack") == 0)
      args.untrack = 1;
    else if (argc != 4) {
      usage();
      return 2;
    }
    return run_calls(&args);
  }
  if (argc == 3 && strcmp(argv[1], "threads") == 0) {
    uint64_t nthreads;
    if (ms_bench_parse_count(argv[2], MS_BENCH_MAX_THREADS, &nthreads) != 0) {
      fprintf(stderr, "ms-bench-calls: T must be a whole number from 1 to %d\n",
              MS_BENCH_MAX_THREADS);
      return 2;
    }
    return run_threads(nthreads);
  }
  usage();
  return 2;
}
