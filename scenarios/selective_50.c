/* selective_50.c: the seed's 50-thread selective-tracking demo, with real blocks and real I/O.
 *
 * Thread i runs 1000 + 10*i iterations; each allocates a block of 1, 4, 16 or 8 KiB (by
 * i mod 4) and keeps it until the end of the thread's round; every 50 iterations it writes,
 * reads back and removes a temp file; every 100 it sleeps 1 ms. Even threads switch tracking
 * on, odd threads off, in-thread (memscope_thread_track), as the seed's worker does.
 *
 * Kept blocks are chained through their own first bytes, so the scenario makes no allocation
 * besides the blocks themselves: 31,000 on tracked threads and 62,250 in all at scale 1.
 * --scale S runs S rounds per thread (each round frees its blocks at its end), so counts
 * grow S-fold while peak memory stays that of scale 1 (~451 MB requested in all). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memscope.h"
#include "scenarios.h"

#define SEL_THREADS 50
#define SEL_BASE_ITERS 1000
#define SEL_ITERS_STEP 10
#define SEL_FILE_EVERY 50
#define SEL_SLEEP_EVERY 100
#define SEL_FILE_BYTES 512
#define SEL_STACK_BYTES (512 * 1024)

static const size_t block_size_by_mod4[4] = {1024, 4096, 16384, 8192};

/* The start of every kept block: the chain of the thread's live blocks. */
typedef struct sel_block_s {
  struct sel_block_s *prev;
  uint64_t stamp; /* checked when the block is freed */
} sel_block_t;

typedef struct sel_shared_s {
  const char *tmpdir;
  int pid;
  int rounds;
  uint64_t seed;
} sel_shared_t;

typedef struct sel_thread_s {
  sc_counts_t counts; /* first: cache-line aligned */
  sel_shared_t *shared;
  unsigned id;
  int track_previous; /* what memscope_thread_track returned (-38: tracker not loaded) */
  uint64_t iterations, files, io_ops, io_bytes, sleeps;
  uint64_t peak_live_bytes; /* requested bytes of the blocks it held at once */
} sel_thread_t;

static uint64_t iterations_per_round(unsigned i) {
  return SEL_BASE_ITERS + SEL_ITERS_STEP * (uint64_t)i;
}

/* Write SEL_FILE_BYTES to a new temp file, read them back, compare, remove it: real I/O with
 * raw syscalls (stdio would allocate). Returns 0 or -1 (after sc_fail). */
static int temp_file_io(sel_thread_t *t, uint64_t index, uint64_t stamp) {
  char path[512], data[SEL_FILE_BYTES], back[SEL_FILE_BYTES];
  snprintf(path, sizeof path, "%s/memscope-sel-%d-%02u-%" PRIu64 ".tmp", t->shared->tmpdir,
           t->shared->pid, t->id, index);
  for (size_t k = 0; k < sizeof data; k++) data[k] = (char)(stamp >> (k % 8 * 8)) ^ (char)k;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    int err = errno;
    char why[128];
    sc_fail("thread %u: cannot create %s: %s (set TMPDIR to a writable directory)", t->id, path,
            strerror_r(err, why, sizeof why)); /* GNU strerror_r: no allocation */
    return -1;
  }
  ssize_t w = write(fd, data, sizeof data);
  close(fd);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t r = fd < 0 ? -1 : read(fd, back, sizeof back);
  if (fd >= 0) close(fd);
  unlink(path);
  if (w != (ssize_t)sizeof data || r != (ssize_t)sizeof back || memcmp(data, back, sizeof data)) {
    sc_fail("thread %u: temp file %s did not read back what was written", t->id, path);
    return -1;
  }
  t->files++;
  t->io_ops += 2;
  t->io_bytes += 2 * sizeof data;
  return 0;
}

static void *selective_main(void *arg) {
  sel_thread_t *t = arg;
  sel_shared_t *sh = t->shared;
  sc_name_thread("sel-worker-%02u", t->id);
  /* Switched in-thread before the first allocation: even threads tracked, odd not. */
  t->track_previous = memscope_thread_track(t->id % 2 == 0);

  size_t size = block_size_by_mod4[t->id % 4];
  uint64_t n = iterations_per_round(t->id);
  for (int round = 0; round < sh->rounds && !sc_failed(); round++) {
    sel_block_t *kept = NULL;
    uint64_t live = 0, made = 0;
    for (uint64_t j = 0; j < n; j++) {
      uint64_t it = (uint64_t)round * n + j;
      sel_block_t *block = SC_MALLOC(&t->counts, size);
      if (!block) {
        sc_fail("thread %u: out of memory at iteration %" PRIu64, t->id, it);
        break;
      }
      block->prev = kept;
      block->stamp = sc_rand(sh->seed, 700 + t->id, it);
      kept = block;
      made++;
      live += size;
      if (live > t->peak_live_bytes) t->peak_live_bytes = live;
      t->iterations++;
      if ((j + 1) % SEL_FILE_EVERY == 0 && temp_file_io(t, it, block->stamp)) break;
      if ((j + 1) % SEL_SLEEP_EVERY == 0) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        t->sleeps++;
      }
    }
    /* End of the round: check and free what was kept, newest first. */
    while (kept) {
      sel_block_t *prev = kept->prev;
      uint64_t it = (uint64_t)round * n + --made;
      if (kept->stamp != sc_rand(sh->seed, 700 + t->id, it) && !sc_failed())
        sc_fail("thread %u: block of iteration %" PRIu64 " was overwritten", t->id, it);
      SC_FREE(&t->counts, kept, size);
      kept = prev;
    }
  }
  return NULL;
}

/* The counts of threads with id % 2 == parity (0 even, 1 odd), or all threads (parity < 0). */
static void sel_counts(const sc_params_t *p, int parity, sc_expect_t *e) {
  memset(e, 0, sizeof *e);
  for (unsigned i = 0; i < SEL_THREADS; i++) {
    if (parity >= 0 && (int)(i % 2) != parity) continue;
    uint64_t blocks = iterations_per_round(i) * (uint64_t)p->scale;
    e->allocations += blocks;
    e->frees += blocks;
    e->allocated_bytes += blocks * block_size_by_mod4[i % 4];
  }
}

/* "expected" is what a tracker sees with the in-thread switches: the even threads' calls. */
static void sel_expect(const sc_params_t *p, sc_expect_t *e) { sel_counts(p, 0, e); }

static int sel_run(const sc_params_t *p) {
  const char *tmpdir = getenv("TMPDIR");
  sel_shared_t sh = {
      .tmpdir = tmpdir && *tmpdir ? tmpdir : "/tmp",
      .pid = (int)getpid(),
      .rounds = p->scale,
      .seed = p->seed,
  };
  static sel_thread_t threads[SEL_THREADS]; /* static: the scenario's only blocks are its own */
  pthread_t tid[SEL_THREADS];
  memset(threads, 0, sizeof threads);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, SEL_STACK_BYTES);
  memscope_mark("selective_start");
  unsigned started = 0;
  for (; started < SEL_THREADS; started++) {
    threads[started].shared = &sh;
    threads[started].id = started;
    if (pthread_create(&tid[started], &attr, selective_main, &threads[started])) {
      sc_fail("pthread_create failed for thread %u", started);
      break;
    }
  }
  pthread_attr_destroy(&attr);
  for (unsigned i = 0; i < started; i++) pthread_join(tid[i], NULL);
  memscope_mark("selective_done");
  if (started != SEL_THREADS) return -1;

  sc_counts_t tracked = {0}, all = {0};
  uint64_t files = 0, io_ops = 0, io_bytes = 0, sleeps = 0;
  uint64_t peak16_min = UINT64_MAX, peak16_max = 0, peak_min = UINT64_MAX, peak_max = 0;
  for (unsigned i = 0; i < SEL_THREADS; i++) {
    sel_thread_t *t = &threads[i];
    sc_counts_add(&all, &t->counts);
    if (i % 2 == 0) {
      sc_counts_add(&tracked, &t->counts);
      if (t->peak_live_bytes < peak_min) peak_min = t->peak_live_bytes;
      if (t->peak_live_bytes > peak_max) peak_max = t->peak_live_bytes;
      if (i % 4 == 2) {
        if (t->peak_live_bytes < peak16_min) peak16_min = t->peak_live_bytes;
        if (t->peak_live_bytes > peak16_max) peak16_max = t->peak_live_bytes;
      }
    }
    files += t->files;
    io_ops += t->io_ops;
    io_bytes += t->io_bytes;
    sleeps += t->sleeps;
    uint64_t per_round = iterations_per_round(i), rounds = (uint64_t)p->scale;
    uint64_t want_files = per_round / SEL_FILE_EVERY * rounds;
    uint64_t want_sleeps = per_round / SEL_SLEEP_EVERY * rounds;
    if (!sc_failed() && (t->iterations != per_round * rounds || t->files != want_files ||
                         t->sleeps != want_sleeps))
      sc_fail("thread %u: %" PRIu64 " iterations, %" PRIu64 " files, %" PRIu64
              " sleeps; expected %" PRIu64 ", %" PRIu64 ", %" PRIu64,
              i, t->iterations, t->files, t->sleeps, per_round * rounds, want_files,
              want_sleeps);
  }
  sc_expect_t want_tracked, want_all;
  sel_counts(p, 0, &want_tracked);
  sel_counts(p, -1, &want_all);
  if (!sc_failed()) sc_check_counts("selective_50 (tracked threads)", &tracked, &want_tracked);
  if (!sc_failed()) sc_check_counts("selective_50 (all threads)", &all, &want_all);

  sc_out("\"threads\":%d,\"tracked_threads\":%d,\"untracked_threads\":%d,\"rounds\":%d,"
         "\"tracker_loaded\":%s,",
         SEL_THREADS, SEL_THREADS / 2, SEL_THREADS / 2, p->scale,
         threads[0].track_previous == MEMSCOPE_UNAVAILABLE ? "false" : "true");
  sc_out("\"tracked\":{\"allocations\":%" PRIu64 ",\"frees\":%" PRIu64
         ",\"allocated_bytes\":%" PRIu64 "},",
         tracked.allocations, tracked.frees, tracked.allocated_bytes);
  sc_out("\"all_threads\":{\"allocations\":%" PRIu64 ",\"frees\":%" PRIu64
         ",\"allocated_bytes\":%" PRIu64 "},",
         all.allocations, all.frees, all.allocated_bytes);
  sc_out("\"tracked_peak_live_bytes\":{\"min\":%" PRIu64 ",\"max\":%" PRIu64
         ",\"min_16k\":%" PRIu64 ",\"max_16k\":%" PRIu64 "},",
         peak_min, peak_max, peak16_min, peak16_max);
  sc_out("\"temp_files\":%" PRIu64 ",\"io_ops\":%" PRIu64 ",\"io_bytes\":%" PRIu64
         ",\"sleeps\":%" PRIu64 ",\"per_thread\":[",
         files, io_ops, io_bytes, sleeps);
  for (unsigned i = 0; i < SEL_THREADS; i++)
    sc_out("%s{\"thread\":%u,\"tracked\":%s,\"iterations\":%" PRIu64 ",\"block_bytes\":%zu"
           ",\"peak_live_bytes\":%" PRIu64 ",\"temp_files\":%" PRIu64 ",\"sleeps\":%" PRIu64 "}",
           i ? "," : "", i, i % 2 == 0 ? "true" : "false", threads[i].iterations,
           block_size_by_mod4[i % 4], threads[i].peak_live_bytes, threads[i].files,
           threads[i].sleeps);
  sc_out("]");
  return sc_failed() ? -1 : 0;
}

const sc_scenario_t sc_selective_50 = {
    .name = "selective_50",
    .description = "50 threads, 1000+10i blocks of 1/4/16/8 KiB each, temp-file I/O, even ones tracked",
    .expect = sel_expect,
    .run = sel_run,
};
