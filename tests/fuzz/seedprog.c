/* seedprog.c: ms_fz_seedprog, the small program whose real traces become the seeds of
 * fuzz_trace_reader (tests/fuzz/make_seeds.sh runs it under the tracker, pack_run.py packs
 * the run directory). Few events, but of every kind the format has: malloc, calloc, a
 * growing and a shrinking realloc, realloc(NULL, n) and realloc(p, 0), aligned allocations,
 * frees, marks, a scope, a snapshot, a tracked variable, a named thread, leaks.
 *
 * usage: ms_fz_seedprog [exit|kill|kill-noflush] [THREADS]
 *   exit          ends normally (meta.txt gets its end part; the rings file is removed)
 *   kill          flushes, allocates a little more, then SIGKILLs itself: the last records
 *                 are only in memscope_rings.raw and meta.txt has no end part (a seed for
 *                 the salvage)
 *   kill-noflush  the same without the flush: the main thread never wrote its file, so the
 *                 salvage creates it */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memscope.h"

static void *kept[4]; /* blocks lost on purpose: the traces' leaks */

static void *worker(void *arg) {
  int id = (int)(long)arg;
  char name[16];
  snprintf(name, sizeof name, "fz-worker-%d", id);
  pthread_setname_np(pthread_self(), name);
  for (int i = 0; i < 4; i++) {
    char *p = malloc(32 + (size_t)i * 16);
    if (p)
      p[0] = (char)i;
    free(p);
  }
  kept[1 + id % 3] = malloc(64); /* a leak from the thread */
  return NULL;
}

static __attribute__((noinline)) void work(void) {
  memscope_scope_begin("work");
  char *a = malloc(100);
  int *b = calloc(10, sizeof *b);
  MEMSCOPE_TRACK_VAR_AS(b, "int[10]");
  char *c = realloc(NULL, 40);
  char *d = realloc(a, 4000); /* grows: usually moves */
  d = realloc(d, 20);         /* shrinks */
  void *e = NULL;
  if (posix_memalign(&e, 64, 256))
    e = NULL;
  void *f = aligned_alloc(4096, 4096);
  memscope_snapshot_t snap;
  memscope_snapshot(&snap);
  free(b);
  free(d);
  free(e);
  free(f);
  c = realloc(c, 0); /* frees c (glibc returns NULL) */
  free(c);
  memscope_scope_end("work");
}

int main(int argc, char **argv) {
  const char *end = argc > 1 ? argv[1] : "exit";
  int nthreads = argc > 2 ? atoi(argv[2]) : 0;
  memscope_mark("start");
  work();
  kept[0] = malloc(1000); /* a leak from main */
  for (int i = 0; i < nthreads && i < 8; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker, (void *)(long)i) == 0)
      pthread_join(t, NULL);
  }
  memscope_mark("end");
  if (!strncmp(end, "kill", 4)) {
    if (strcmp(end, "kill-noflush"))
      memscope_flush();
    for (int i = 0; i < 5; i++)
      free(malloc(24 + (size_t)i)); /* in the ring only */
    kept[3] = malloc(77);
    raise(SIGKILL);
  }
  return 0;
}
