/* res_cost.c: what resource records cost (docs/tracker.md, "Per-thread resources"). Run it
 * under LD_PRELOAD=libmemscope.so twice, with MEMSCOPE_TEST_RESOURCES=0 and without, and
 * compare the CPU time (CLOCK_THREAD_CPUTIME_ID) it prints. Not a ctest test: a measurement,
 * run by hand.
 *
 *   res_cost flush [ROUNDS]  each round makes one allocation and one free, then writes the
 *                            buffer with memscope_flush(): one chunk either way, and with
 *                            records on a measurement and a record too (per round)
 *   res_cost calls [CALLS]   malloc/free pairs only: the buffer is written when full, with a
 *                            record when the thread's last is 10 ms old (per call) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "memscope.h"

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  int flush = argc > 1 && !strcmp(argv[1], "flush");
  long n = argc > 2 ? strtol(argv[2], NULL, 10) : (flush ? 20000 : 4000000);
  free(malloc(1)); /* the thread's first call: it is tracked from here */
  if (argc < 2 || (!flush && strcmp(argv[1], "calls")) || n <= 0 || memscope_flush() != 0) {
    fprintf(stderr, "usage: res_cost flush|calls [N], under the tracker (LD_PRELOAD, "
                    "MEMSCOPE_OUT)\n");
    return 2;
  }
  double t0 = cpu_s();
  for (long i = 0; i < n; i++) {
    free(malloc(32));
    if (flush)
      memscope_flush();
  }
  double t1 = cpu_s();
  printf("%s n=%ld cpu_us_per_%s=%.4f\n", argv[1], n, flush ? "round" : "pair",
         (t1 - t0) / (double)n * 1e6);
  return 0;
}
