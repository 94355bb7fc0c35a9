/* oracle_target.c: a fuzz target whose inputs exercise each rule of the oracle (docs/fuzz.md);
 * oracle_test.sh replays chosen inputs through it with libmemscope.so in fuzz mode.
 * The first byte picks the behaviour:
 *   'N' nothing kept (a malloc/free pair)        'G' a one-time lazy global (a cache)
 *   'L' leaks 1 byte                              'C' leaks calloc(10, 10)
 *   'A' leaks a block grown by realloc to 300 B   'M' leaks posix_memalign(64, 200)
 *   'T' a block freed by another thread, joined   'R' keeps a ring of 2000 blocks of 600 B
 *                                                     (one replaced per input: the level
 *                                                     grows across inputs, not within one)
 *   'P' ten 100-kB blocks at once (peak_step), then all freed
 *   'B' a global buffer resized by realloc on every input (an object older than the input)
 *   'S' a signal handler's allocations inside allocator calls (signal_inside_alloc.h)
 *   'F' a signal handler's free inside an allocator call, then a block as large: the table's
 *       level is too high (signal_inside_alloc.h)
 *   'K' leaks 10,000 blocks of 100 B (more blocks than the driver lists)
 *   'X' leaks 100 B, then calls exit(0)              'E' calls exit(0), leaks nothing
 *   'O' prints a line on stdout (its first use), then calls exit(0): leaks nothing
 *   'U' memscope_thread_track(0), then leaks 1 byte
 *   'D' holds 330,000 blocks of 16 B, leaks 100 B, frees the 330,000: with OT_TABLE_FILL=1
 *       (LLVMFuzzerInitialize keeps 200,000 blocks and leaves 16 MB of address space) the
 *       tracker's table cannot grow during the input */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "memscope.h"

#include "signal_inside_alloc.h"

/* Through a volatile pointer: the compiler may not remove a pair or an unused block. */
static void *(*volatile alloc_fn)(size_t) = malloc;
static void (*volatile free_fn)(void *) = free;
static void *volatile sink;

static char *cache; /* 'G': built on first use and kept, as caches are */
static char *gbuf;  /* 'B' */
static void *ring[2000];
static unsigned ring_next;

static void *free_in_thread(void *p) {
  free_fn(p);
  return NULL;
}

static __attribute__((noinline)) void *peak_step(size_t n) {
  char *p = alloc_fn(n);
  if (p)
    memset(p, 7, n);
  return p;
}

static __attribute__((noinline)) void leak_one_byte(void) {
  char *p = alloc_fn(1);
  if (p)
    p[0] = 1;
  sink = p;
  sink = NULL;
}

static __attribute__((noinline)) void leak_many(void) {
  for (int i = 0; i < 10000; i++)
    sink = alloc_fn(100);
}

static __attribute__((noinline)) void leak_then_exit(void) {
  sink = alloc_fn(100);
  sink = NULL;
  exit(0);
}

/* OT_TABLE_FILL=1: 200,000 live blocks, then an address-space limit 16 MB above the
 * process's size (what afl-fuzz -m or ulimit -v sets), so that the tracker's table (sized
 * for them) cannot double during input 'D'. */
static void **fill;
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  const char *f = getenv("OT_TABLE_FILL");
  if (!f || strcmp(f, "1"))
    return 0;
  fill = malloc(200000 * sizeof *fill);
  for (int i = 0; fill && i < 200000; i++)
    fill[i] = alloc_fn(16);
  long pages = 0;
  FILE *st = fopen("/proc/self/statm", "r");
  if (st) {
    if (fscanf(st, "%ld", &pages) != 1)
      pages = 0;
    fclose(st);
  }
  struct rlimit rl = {.rlim_cur = (rlim_t)pages * 4096 + (16u << 20), .rlim_max = RLIM_INFINITY};
  if (pages)
    setrlimit(RLIMIT_AS, &rl);
  return 0;
}

static void hold_many_leak_one(void) {
  enum { N = 330000 };
  void **v = malloc(N * sizeof *v);
  if (!v)
    abort();
  for (int i = 0; i < N; i++)
    if (!(v[i] = alloc_fn(16)))
      abort(); /* the limit leaves room for these: a failure here is the test's own */
  leak_one_byte();
  for (int i = 0; i < N; i++)
    free_fn(v[i]);
  free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  switch (data[0]) {
  case 'N':
    free_fn(alloc_fn(64 + size));
    break;
  case 'G':
    if (!cache)
      cache = alloc_fn(100);
    break;
  case 'L':
    leak_one_byte();
    break;
  case 'C':
    sink = calloc(10, 10);
    break;
  case 'A': {
    void *p = realloc(NULL, 100);
    sink = realloc(p, 300);
    break;
  }
  case 'M': {
    void *p = NULL;
    if (posix_memalign(&p, 64, 200) == 0)
      sink = p;
    break;
  }
  case 'T': {
    void *p = alloc_fn(500);
    pthread_t th;
    if (pthread_create(&th, NULL, free_in_thread, p) == 0)
      pthread_join(th, NULL);
    else
      free_fn(p);
    break;
  }
  case 'R': {
    unsigned i = ring_next++ % 2000;
    free_fn(ring[i]);
    ring[i] = alloc_fn(600);
    break;
  }
  case 'B': {
    char *p = realloc(gbuf, 100 + size * 16);
    if (p)
      gbuf = p;
    break;
  }
  case 'S':
    signal_inside_alloc(alloc_fn, free_fn);
    break;
  case 'F':
    signal_free_inside_alloc(alloc_fn, free_fn);
    break;
  case 'K':
    leak_many();
    break;
  case 'X':
    leak_then_exit();
    break;
  case 'E':
    exit(0);
  case 'O':
    printf("bad input\n");
    exit(0);
  case 'U':
    memscope_thread_track(0);
    leak_one_byte();
    memscope_thread_track(1);
    break;
  case 'D':
    hold_many_leak_one();
    break;
  case 'P': {
    void *blocks[10];
    for (int i = 0; i < 10; i++)
      blocks[i] = peak_step(100000);
    for (int i = 0; i < 10; i++)
      free_fn(blocks[i]);
    break;
  }
  }
  sink = NULL;
  return 0;
}
