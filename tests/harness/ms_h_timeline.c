/* ms_h_timeline.c: a target for the resource sampler's tests (harness_test.sh timeline_*):
 * runs MS milliseconds (default 3000) with THREADS extra threads (default 0) that sleep until
 * the end, and a main thread that spins (MODE spin) or sleeps (MODE sleep, the default) in
 * between; a few allocations so the tracker has something to record. Exit 0, 1 when a thread
 * cannot be started. Prints when main started and ended (CLOCK_MONOTONIC, seconds).
 *   ms_h_timeline [MS [THREADS [MODE]]] */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct timespec end_at;

static int before_end(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec < end_at.tv_sec || (now.tv_sec == end_at.tv_sec && now.tv_nsec < end_at.tv_nsec);
}

static void *sleeper(void *arg) {
  (void)arg;
  void *p = malloc(64);
  clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end_at, NULL);
  free(p);
  return NULL;
}

int main(int argc, char **argv) {
  long ms = argc > 1 ? atol(argv[1]) : 3000;
  long nthreads = argc > 2 ? atol(argv[2]) : 0;
  int spin = argc > 3 && strcmp(argv[3], "spin") == 0;
  if (ms < 0 || nthreads < 0 || nthreads > 4096) {
    fprintf(stderr, "usage: ms_h_timeline [MS [THREADS [spin|sleep]]]\n");
    return 2;
  }
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  end_at = start;
  end_at.tv_sec += ms / 1000;
  end_at.tv_nsec += (ms % 1000) * 1000000L;
  if (end_at.tv_nsec >= 1000000000L) end_at.tv_sec++, end_at.tv_nsec -= 1000000000L;
  pthread_t *t = calloc((size_t)nthreads + 1, sizeof *t);
  if (!t) return 1;
  for (long i = 0; i < nthreads; i++)
    if (pthread_create(&t[i], NULL, sleeper, NULL) != 0) return 1;
  volatile unsigned long x = 0;
  while (before_end()) {
    if (spin) {
      for (int k = 0; k < 100000; k++) x += (unsigned long)k;
    } else {
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end_at, NULL);
    }
  }
  for (long i = 0; i < nthreads; i++) pthread_join(t[i], NULL);
  free(t);
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  /* The sampler's test lines its first and last samples up with these (CLOCK_MONOTONIC). */
  printf("ran %ld ms with %ld threads: main_start_s=%.6f main_end_s=%.6f\n", ms, nthreads,
         (double)start.tv_sec + (double)start.tv_nsec / 1e9,
         (double)end.tv_sec + (double)end.tv_nsec / 1e9);
  return 0;
}
