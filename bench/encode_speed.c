/* ms-bench-encode: the chunk encoder alone (format/ms_encode.h), on record streams shaped
 * like the tracker's, encoded in ring-sized windows as the tracker's flush does (issue 12:
 * the encoder was the largest part of the tracker's cost without stacks).
 *
 * Streams:
 *   workload  ms-bench-workload's: a window of 64 live blocks, each event freeing one at
 *             random and allocating 16..4096 bytes in its place; real malloc addresses and
 *             rdtsc stamps (--det: stamps from a fixed sequence, so with `setarch -R` the
 *             output hash is stable across builds).
 *   sqlite    realloc-heavy, shaped like sqlite3's (tests/analysis/test_encode_ident.c's
 *             generator without its extreme values): ALLOCs from 5-9 cycling call sites,
 *             FREEs of recent blocks, grow chains reallocated in place or moving (release
 *             first); fixed addresses and stamps, so always deterministic.
 *
 * Prints CPU ns per allocator event (over the run, and in its fastest repetition), encoded
 * bytes per event and a hash of every chunk's payload and counts (FNV-1a; only with --hash,
 * it costs more than the encoder). The encode call is a noinline function, enc_window, so
 * that cachegrind/callgrind attribute it separately.
 *
 * Two encoders in one process (A/B; on a shared machine, separate runs of two builds differ
 * by more than the change measured): this file compiled with -DMS_BENCH_ENCODE_SIDE=enc_a
 * against one format/ directory and with =enc_b against another gives two objects with one
 * function each; compiled with -DMS_BENCH_ENCODE_AB and linked with both, it alternates them
 * repetition by repetition (which goes first alternating too) and prints each one's fastest
 * repetition and the median of the per-repetition ratios b/a. The placement of the two
 * copies in the binary shifts the ratio by a few percent: link both orders and take the
 * geometric mean (docs/benchmarks.md, "Issue 12: third pass, encoder"). */
#ifdef MS_BENCH_ENCODE_SIDE
#include "ms_encode.h"

uint32_t MS_BENCH_ENCODE_SIDE(ms_encoder_t *e, const ms_rec_t *recs, uint32_t from, uint32_t to);
uint32_t MS_BENCH_ENCODE_SIDE(ms_encoder_t *e, const ms_rec_t *recs, uint32_t from, uint32_t to) {
  return ms_encode_range(e, recs, from, to);
}
#else
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

#include "ms_encode.h"

#define NSLOTS (1u << 20) /* records generated */
#define MAXREPS 100000
#define WINDOW 1536u      /* slots encoded a call: a flush's worth */

static uint64_t g_bytes, g_events, g_records;
static uint64_t g_hash[2] = {14695981039346656037ull, 14695981039346656037ull};
static int g_do_hash, g_side; /* g_side: the encoder running (A/B mode: 0 a, 1 b) */

static void emit(ms_encoder_t *e, uint32_t len, uint32_t nrec, uint32_t nev, uint64_t base_ts,
                 uint32_t end_slot, uint64_t last_ts) {
  (void)base_ts, (void)end_slot, (void)last_ts;
  g_bytes += len;
  g_events += nev;
  g_records += nrec;
  if (g_do_hash) {
    const uint8_t *p = e->out + MS_CHUNK_HEADER_SIZE;
    uint64_t h = g_hash[g_side];
    for (uint32_t i = 0; i < len; i++)
      h = (h ^ p[i]) * 1099511628211ull;
    g_hash[g_side] = (h ^ nrec ^ (uint64_t)nev << 32) * 1099511628211ull;
  }
}

static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return g_rng;
}
static uint64_t pick(uint64_t n) { return rnd() % n; }

static uint64_t g_fake = 1000;
static uint64_t stamp(int det) { return det ? (g_fake += 100 + (g_fake * 7) % 300) : __rdtsc(); }

static uint32_t gen_workload(ms_rec_t *recs, uint32_t n, int det) {
  void *win[64];
  uint32_t i = 0;
  for (int k = 0; k < 64; k++) {
    size_t sz = 16 + pick(4081);
    win[k] = malloc(sz);
    recs[i++] = (ms_rec_t){.kind = MS_REC_ALLOC, .ts = stamp(det), .addr = (uintptr_t)win[k],
                           .size = sz};
  }
  while (i + 2 <= n) {
    size_t k = pick(64), sz = 16 + pick(4081);
    recs[i++] = (ms_rec_t){.kind = MS_REC_FREE, .ts = stamp(det), .addr = (uintptr_t)win[k]};
    free(win[k]);
    win[k] = malloc(sz);
    recs[i++] = (ms_rec_t){.kind = MS_REC_ALLOC, .ts = stamp(det), .addr = (uintptr_t)win[k],
                           .size = sz};
  }
  for (int k = 0; k < 64; k++)
    free(win[k]);
  return i;
}

static uint32_t gen_sqlite(ms_rec_t *recs, uint32_t n) {
  static uint64_t live[4096];
  uint32_t nlive = 0, i = 0, cyc = 0;
  uint64_t ts = 5000, heap = 0x5600000010a0ull, chain = 0;
  static const uint32_t sites[9] = {11, 12, 13, 0, 14, 15, 0x80000001u, 16, 17};
  static const uint32_t rsites[9] = {21, 22, 21, 23, 24, 25, 26, 27, 0xfffffff0u};
  while (i + 4 < n) {
    ms_rec_t *r = &recs[i];
    memset(r, 0, 2 * sizeof *r);
    ts += 1 + pick(200);
    r->ts = ts;
    uint64_t t = pick(100);
    if (t < 38) { /* ALLOC */
      r->kind = MS_REC_ALLOC;
      heap += 16 * (1 + pick(40));
      r->addr = heap;
      r->size = 8 + pick(600);
      r->stack = sites[cyc++ % (5 + (uint32_t)pick(5))];
      live[nlive++ & 4095] = r->addr;
      i++;
    } else if (t < 62) { /* FREE of a recent block, sometimes an old one */
      r->kind = MS_REC_FREE;
      uint32_t back = pick(5) ? (uint32_t)pick(16) : (uint32_t)pick(400);
      r->addr = nlive > back ? live[(nlive - 1 - back) & 4095] : heap;
      i++;
    } else { /* REALLOC: the current chain's block or another live one */
      uint64_t old = chain && pick(4)
                         ? chain
                         : nlive ? live[(nlive - 1 - (uint32_t)pick(nlive < 300 ? nlive : 300)) &
                                        4095]
                                 : 0;
      int moving = !old || pick(2);
      if (moving && old) { /* its release first */
        r->kind = MS_REC_FREE;
        r->aux = MS_FLAG_REALLOC_RELEASE;
        r->addr = old;
        r = &recs[++i];
        memset(r, 0, 2 * sizeof *r);
        r->ts = ts + pick(3);
        r->aux = MS_FLAG_REALLOC_RELEASE;
      }
      r->kind = MS_REC_REALLOC;
      heap += 16 * (1 + pick(60));
      r->addr = moving ? heap : old;
      r->size = 64 + pick(9000);
      r->stack = rsites[pick(9)];
      r[1].kind = MS_REC_CONT;
      r[1].addr = old;
      chain = r->addr;
      live[nlive++ & 4095] = r->addr;
      i += 2;
    }
  }
  return i;
}

#ifdef MS_BENCH_ENCODE_AB
uint32_t enc_a(ms_encoder_t *e, const ms_rec_t *recs, uint32_t from, uint32_t to);
uint32_t enc_b(ms_encoder_t *e, const ms_rec_t *recs, uint32_t from, uint32_t to);
#define NSIDES 2
#else
static __attribute__((noinline)) uint32_t enc_window(ms_encoder_t *e, const ms_rec_t *recs,
                                                     uint32_t from, uint32_t to) {
  return ms_encode_range(e, recs, from, to);
}
#define NSIDES 1
#endif

/* Encodes the stream once, window by window, with encoder side; returns the CPU ns taken. */
static double encode_all(const ms_rec_t *recs, uint32_t n, int side) {
  static uint8_t out[16384]; /* the tracker's chunk buffer size */
  struct timespec t0, t1;
  uint64_t last_ts = 0;
  g_side = side;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  for (uint32_t w = 0; w < n;) {
    uint32_t to = w + WINDOW < n ? w + WINDOW : n;
    ms_encoder_t e = {.out = out, .cap = sizeof out, .last_ts = last_ts, .emit = emit};
#ifdef MS_BENCH_ENCODE_AB
    uint32_t end = side ? enc_b(&e, recs, w, to) : enc_a(&e, recs, w, to);
#else
    uint32_t end = enc_window(&e, recs, w, to);
#endif
    last_ts = e.last_ts;
    /* a REALLOC cut by the window's end is left for the next call, as in the tracker */
    w = end > w ? end : to;
  }
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
  return (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int usage(void) {
  fprintf(stderr, "usage: ms-bench-encode workload|sqlite REPS [--det] [--hash]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 3)
    return usage();
  int sqlite = !strcmp(argv[1], "sqlite"), det = 0;
  if (!sqlite && strcmp(argv[1], "workload"))
    return usage();
  char *endp;
  long reps = strtol(argv[2], &endp, 10);
  if (*endp || reps < 1 || reps > 100000)
    return usage();
  for (int a = 3; a < argc; a++) {
    if (!strcmp(argv[a], "--det"))
      det = 1;
    else if (!strcmp(argv[a], "--hash"))
      g_do_hash = 1;
    else
      return usage();
  }
  ms_rec_t *recs = calloc(NSLOTS, sizeof *recs);
  static double ns[NSIDES][MAXREPS];
  if (!recs) {
    fprintf(stderr, "ms-bench-encode: out of memory\n");
    return 2;
  }
  uint32_t n = sqlite ? gen_sqlite(recs, NSLOTS) : gen_workload(recs, NSLOTS, det);
  /* CPU time of the whole run, and of its fastest repetition: on a shared machine the
   * fastest is the steadier figure for comparing two builds */
  double total = 0, best[NSIDES];
  uint64_t events_per_rep = 0;
  for (long k = 0; k < reps; k++) {
    for (int i = 0; i < NSIDES; i++) {
      int side = (int)((k + i) % NSIDES);
      uint64_t ev0 = g_events;
      ns[side][k] = encode_all(recs, n, side);
      total += ns[side][k];
      best[side] = k == 0 || ns[side][k] < best[side] ? ns[side][k] : best[side];
      events_per_rep = g_events - ev0;
    }
  }
#ifdef MS_BENCH_ENCODE_AB
  static double ratio[MAXREPS];
  for (long k = 0; k < reps; k++)
    ratio[k] = ns[1][k] / ns[0][k];
  qsort(ratio, (size_t)reps, sizeof *ratio, cmp_double);
  printf("a best rep %.3f  b best rep %.3f ns/event  b/a: median %.3f, bests %.3f  "
         "hash a %016llx b %016llx\n",
         best[0] / (double)events_per_rep, best[1] / (double)events_per_rep,
         ratio[reps / 2], best[1] / best[0], (unsigned long long)g_hash[0],
         (unsigned long long)g_hash[1]);
#else
  (void)cmp_double;
  printf("%.3f ns/event  best rep %.3f  %.3f B/event  %llu events  %llu records  hash %016llx\n",
         total / (double)g_events, best[0] / (double)events_per_rep,
         (double)g_bytes / (double)g_events, (unsigned long long)g_events,
         (unsigned long long)g_records, (unsigned long long)g_hash[0]);
#endif
  free(recs);
  return 0;
}
#endif /* MS_BENCH_ENCODE_SIDE */
