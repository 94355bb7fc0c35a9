/* test_analyze_detail.c: the per-thread detail (threads[i].timeline, size_histogram,
 * lifetime_histogram_log2_ns) and the flame graph of summary.json (docs/dashboard-data.md §2
 * and §3), on traces written by tracegen. Every expected figure is computed here from the
 * events the test itself generated (a simulation of the live set written for the test), not
 * taken from the engine's other outputs. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"
#include "ms_analyze.h"
#include "ms_format.h"
#include "test_util.h"
#include "tracegen.h"

#define PID 5151u
#define RUN_ID 91u
#define T0 1000000u /* clock=monotonic: ns == ts */

static const char *MAPS = "# maps 1\n"
                          "00001000-00002000 r-xp 00000000 08:01 11 /usr/lib/libfoo.so\n"
                          "00005000-00006000 r-xp 00000000 08:01 22 /usr/bin/app\n";

static ms_analysis_t *analyze(const char *dir) {
  ms_analysis_t *a = NULL;
  char err[512] = "";
  int rc = ms_analyze_run(dir, NULL, &a, err, sizeof err);
  if (rc)
    fprintf(stderr, "ms_analyze_run: %d %s\n", rc, err);
  T_EQ_INT(0, rc);
  return a;
}

static uint64_t num(const cJSON *o, const char *k) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(x)) {
    fprintf(stderr, "no number \"%s\"\n", k);
    exit(1);
  }
  return (uint64_t)x->valuedouble;
}

static const cJSON *get(const cJSON *o, const char *k) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!x) {
    fprintf(stderr, "no key \"%s\"\n", k);
    exit(1);
  }
  return x;
}

static int bucket(uint64_t v) { /* [2^k, 2^(k+1)), 0 also in bucket 0: written apart */
  int k = 0;
  while (k < 63 && v >> (k + 1))
    k++;
  return k;
}

/* A histogram array [{min, max, count}] against expected counts per log2 bucket: buckets
 * listed from 0 up to the last non-empty one, each with its bounds. */
static void check_histogram(const cJSON *arr, const uint64_t *expect) {
  int last = -1;
  for (int k = 0; k < 64; k++)
    if (expect[k])
      last = k;
  T_EQ_INT(last + 1, cJSON_GetArraySize(arr));
  for (int k = 0; k <= last; k++) {
    const cJSON *b = cJSON_GetArrayItem(arr, k);
    T_EQ_U64(k ? (uint64_t)1 << k : 0, num(b, "min"));
    T_EQ_U64(expect[k], num(b, "count"));
  }
}

/* ---- a random multi-threaded trace and its simulation ----------------------------------------
 * NT threads; stacks 1..NSTACKS defined (frames in libfoo and app), 0 = no stack, 99 never
 * defined. Every event has its own timestamp, so the reader's merge order is the order made
 * here. Frees and reallocs pick any live block, so blocks are often freed by another thread
 * than their owner; a few allocations reuse a live block's address (a lost free). */
#define NT 6
#define NSTACKS 8
#define NEVENTS 60000
#define UNDEF_STACK 99

typedef struct sim_block_s {
  uint64_t addr, size, t;
  int owner;
  uint64_t stack; /* as written */
} sim_block_t;

typedef struct sim_s {
  uint64_t allocs[NT], bytes[NT], live[NT], peak[NT];
  uint64_t size_hist[NT][64], life_hist[NT][64];
  uint64_t all_size[64], all_life[64];
  /* per stack key (0..NSTACKS, NSTACKS + 1 = undefined) and thread */
  uint64_t st_allocs[NSTACKS + 2][NT], st_bytes[NSTACKS + 2][NT];
  uint64_t total_allocs, total_bytes;
  uint64_t proc_live, proc_peak; /* process-wide */
  uint64_t first_ts, last_ts;
} sim_t;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) { /* xorshift64 */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static int stack_key(uint64_t stack) {
  return stack == UNDEF_STACK ? NSTACKS + 1 : (int)stack;
}

static void sim_alloc(sim_t *s, int t, uint64_t size, uint64_t stack) {
  s->allocs[t]++;
  s->bytes[t] += size;
  s->total_allocs++;
  s->total_bytes += size;
  s->size_hist[t][bucket(size)]++;
  s->all_size[bucket(size)]++;
  s->st_allocs[stack_key(stack)][t]++;
  s->st_bytes[stack_key(stack)][t] += size;
  s->live[t] += size;
  if (s->live[t] > s->peak[t])
    s->peak[t] = s->live[t];
  s->proc_live += size;
  if (s->proc_live > s->proc_peak)
    s->proc_peak = s->proc_live;
}

static void sim_release(sim_t *s, const sim_block_t *b, uint64_t now) {
  s->live[b->owner] -= b->size;
  s->proc_live -= b->size;
  s->life_hist[b->owner][bucket(now - b->t)]++;
  s->all_life[bucket(now - b->t)]++;
}

static char *random_trace(sim_t *s) {
  memset(s, 0, sizeof *s);
  char *dir = tg_mkdtemp("an-detail");
  tg_write_meta(dir, PID, RUN_ID, "monotonic", NULL, 1);
  tg_write_text(dir, "maps.txt", MAPS);
  tg_file_t *f[NT];
  uint64_t chunk_events[NT] = {0};
  for (int t = 0; t < NT; t++) {
    char name[64];
    snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, 100 + t);
    f[t] = tg_open(dir, name, 1, PID, 100 + (uint32_t)t, (uint32_t)t, RUN_ID);
    tg_chunk(f[t], T0, 0, 0);
  }
  for (uint64_t id = 1; id <= NSTACKS; id++) { /* innermost first: libfoo under app */
    uint64_t fr[3] = {0x1100 + 0x10 * id, 0x5100 + 0x10 * (id % 3), 0x5800};
    tg_stack(f[0], id, 1 + id % 3, fr);
  }
  sim_block_t *live = malloc(NEVENTS * sizeof *live);
  size_t nlive = 0;
  uint64_t ts = T0, next_addr = 0x10000;
  for (int i = 0; i < NEVENTS; i++) {
    ts += 1 + rnd() % 3000; /* ~90 ms in all: the per-thread series compact and decimate */
    int t = (int)(rnd() % NT);
    uint64_t r = rnd() % 100;
    uint64_t stack = rnd() % (NSTACKS + 2);
    if (stack == NSTACKS + 1)
      stack = UNDEF_STACK;
    uint64_t size = (rnd() % 5 == 0) ? rnd() % 2 : (uint64_t)1 << (rnd() % 16);
    size += rnd() % (size + 1);
    if (!nlive || r < 50) {
      uint64_t addr = next_addr += 16;
      tg_alloc(f[t], ts, addr, size, stack);
      sim_alloc(s, t, size, stack);
      live[nlive++] = (sim_block_t){addr, size, ts, t, stack};
    } else {
      size_t k = (size_t)(rnd() % nlive);
      sim_block_t b = live[k];
      if (r < 53) { /* an allocation at a live address (its free was lost): the old block
                     * is dropped, from its owner's live bytes, with no lifetime */
        tg_alloc(f[t], ts, b.addr, size, stack);
        s->live[b.owner] -= b.size;
        s->proc_live -= b.size;
        sim_alloc(s, t, size, stack);
        live[k] = (sim_block_t){b.addr, size, ts, t, stack};
      } else if (r < 85) {
        tg_free(f[t], ts, b.addr);
        sim_release(s, &b, ts);
        live[k] = live[--nlive];
      } else { /* realloc to a new address */
        uint64_t addr = next_addr += 16;
        tg_realloc(f[t], ts, b.addr, addr, size, stack);
        sim_release(s, &b, ts);
        sim_alloc(s, t, size, stack);
        live[k] = (sim_block_t){addr, size, ts, t, stack};
      }
    }
    if (!s->first_ts)
      s->first_ts = ts;
    s->last_ts = ts;
    if (++chunk_events[t] % 500 == 0) {
      tg_end_chunk(f[t]);
      tg_chunk(f[t], ts, 0, 0);
    }
  }
  for (int t = 0; t < NT; t++) {
    tg_end_chunk(f[t]);
    tg_close(f[t]);
  }
  free(live);
  return dir;
}

/* The thread object of tid 100 + t. */
static const cJSON *thread_of(const cJSON *sum, int t) {
  const cJSON *x;
  cJSON_ArrayForEach(x, get(sum, "threads")) if (num(x, "tid") == 100u + (unsigned)t) return x;
  fprintf(stderr, "no thread %d\n", 100 + t);
  exit(1);
}

/* A timeline object: n points (lo <= n <= hi), times non-decreasing from 0 and within the
 * trace, maximum `peak`, last point `end`. */
static void check_timeline(const cJSON *tl, const sim_t *s, int lo, int hi, uint64_t peak,
                           uint64_t end) {
  const cJSON *tv = get(tl, "t_ns"), *lv = get(tl, "live_bytes");
  int n = cJSON_GetArraySize(tv);
  T_EQ_INT(n, cJSON_GetArraySize(lv));
  T_TRUE(n >= lo && n <= hi);
  uint64_t mx = 0, prev = 0;
  for (int i = 0; i < n; i++) {
    uint64_t ti = (uint64_t)cJSON_GetArrayItem(tv, i)->valuedouble;
    uint64_t v = (uint64_t)cJSON_GetArrayItem(lv, i)->valuedouble;
    T_TRUE(ti >= prev);
    T_TRUE(ti <= s->last_ts - s->first_ts);
    prev = ti;
    if (v > mx)
      mx = v;
  }
  T_EQ_U64(0, (uint64_t)cJSON_GetArrayItem(tv, 0)->valuedouble);
  T_EQ_U64(peak, mx);
  T_EQ_U64(end, (uint64_t)cJSON_GetArrayItem(lv, n - 1)->valuedouble);
}

/* threads[i].timeline: <= 256 points, times on the top-level timeline's clock (ns since the
 * first event, non-decreasing, within the trace), maximum = the thread's peak, last point =
 * its live bytes at the end. The top-level timeline likewise, <= 2000 points. */
static void thread_timelines(void) {
  sim_t s;
  char *dir = random_trace(&s);
  ms_analysis_t *a = analyze(dir);
  cJSON *sum = ms_analysis_summary_json(a);
  T_TRUE(sum != NULL);
  for (int t = 0; t < NT; t++) {
    const cJSON *th = thread_of(sum, t);
    /* thousands of events each: decimated, not sparse */
    check_timeline(get(th, "timeline"), &s, 100, 256, s.peak[t], s.live[t]);
    T_EQ_U64(s.peak[t], num(th, "peak_live_bytes"));
    T_EQ_U64(s.live[t], num(th, "live_bytes"));
  }
  check_timeline(get(sum, "timeline"), &s, 1000, 2000, s.proc_peak, s.proc_live);
  T_EQ_U64(s.proc_peak, num(get(sum, "totals"), "peak_live_bytes"));
  cJSON_Delete(sum);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* threads[i].size_histogram and lifetime_histogram_log2_ns: this thread's allocation sizes
 * and the lifetimes of the blocks it allocated (freed by any thread), in the top-level
 * buckets; over the threads they add up to the top-level histograms. */
static void thread_histograms(void) {
  sim_t s;
  char *dir = random_trace(&s);
  ms_analysis_t *a = analyze(dir);
  cJSON *sum = ms_analysis_summary_json(a);
  for (int t = 0; t < NT; t++) {
    const cJSON *th = thread_of(sum, t);
    T_EQ_U64(s.allocs[t], num(th, "allocations"));
    check_histogram(get(th, "size_histogram"), s.size_hist[t]);
    check_histogram(get(th, "lifetime_histogram_log2_ns"), s.life_hist[t]);
  }
  /* The sums over threads are the top-level histograms, computed here from every event. */
  uint64_t size_sum[64] = {0}, life_sum[64] = {0};
  for (int t = 0; t < NT; t++)
    for (int k = 0; k < 64; k++) {
      size_sum[k] += s.size_hist[t][k];
      life_sum[k] += s.life_hist[t][k];
    }
  T_EQ_INT(0, memcmp(size_sum, s.all_size, sizeof size_sum));
  T_EQ_INT(0, memcmp(life_sum, s.all_life, sizeof life_sum));
  check_histogram(get(sum, "size_histogram"), s.all_size);
  check_histogram(get(get(sum, "lifetimes"), "histogram_log2_ns"), s.all_life);
  cJSON_Delete(sum);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* The stack key of a flamegraph stack: its id, NSTACKS + 1 for the undefined one. */
static int fg_key(const cJSON *st) {
  if (!cJSON_IsTrue(get(st, "stack_known")))
    return NSTACKS + 1;
  return (int)num(st, "stack_id");
}

/* flamegraph with no cut: every stack with its allocations and bytes, per thread exactly as
 * generated; sums over stacks are the totals; frames root first. */
static void flamegraph_sums(void) {
  sim_t s;
  char *dir = random_trace(&s);
  ms_analysis_t *a = analyze(dir);
  cJSON *sum = ms_analysis_summary_json(a);
  const cJSON *fg = get(sum, "flamegraph"), *frames = get(fg, "frames");
  int used = 0;
  for (int k = 0; k < NSTACKS + 2; k++) {
    uint64_t n = 0;
    for (int t = 0; t < NT; t++)
      n += s.st_allocs[k][t];
    used += n > 0;
  }
  T_EQ_U64((uint64_t)used, num(fg, "stacks_total"));
  T_EQ_U64((uint64_t)used, num(fg, "stacks_shown"));
  T_EQ_U64(0, num(get(fg, "not_shown"), "allocations"));
  T_TRUE(cJSON_IsFalse(get(fg, "estimated")));
  uint64_t all_a = 0, all_b = 0, thr_a[NT] = {0}, thr_b[NT] = {0}, prev_bytes = UINT64_MAX;
  int seen[NSTACKS + 2] = {0};
  const cJSON *st;
  cJSON_ArrayForEach(st, get(fg, "stacks")) {
    int k = fg_key(st);
    T_TRUE(!seen[k]);
    seen[k] = 1;
    uint64_t ea = 0, eb = 0;
    for (int t = 0; t < NT; t++) {
      ea += s.st_allocs[k][t];
      eb += s.st_bytes[k][t];
    }
    T_EQ_U64(ea, num(st, "allocations"));
    T_EQ_U64(eb, num(st, "allocated_bytes"));
    T_TRUE(eb <= prev_bytes); /* largest first */
    prev_bytes = eb;
    all_a += ea;
    all_b += eb;
    uint64_t sa = 0, sb = 0;
    const cJSON *te;
    cJSON_ArrayForEach(te, get(st, "threads")) {
      int t = (int)num(te, "tid") - 100;
      T_TRUE(t >= 0 && t < NT);
      T_EQ_U64(s.st_allocs[k][t], num(te, "allocations"));
      T_EQ_U64(s.st_bytes[k][t], num(te, "allocated_bytes"));
      sa += num(te, "allocations");
      sb += num(te, "allocated_bytes");
      thr_a[t] += num(te, "allocations");
      thr_b[t] += num(te, "allocated_bytes");
    }
    T_EQ_U64(ea, sa);
    T_EQ_U64(eb, sb);
    /* Frames, root first: stack id k was written innermost first as
     * {libfoo 0x1100+16k, app 0x5100+16(k%3), app 0x5800}, 1 + k % 3 of them. */
    const cJSON *fr = get(st, "frames");
    int nf = cJSON_GetArraySize(fr);
    if (k == 0 || k == NSTACKS + 1) {
      T_EQ_INT(0, nf);
      continue;
    }
    T_EQ_INT(1 + k % 3, nf);
    const cJSON *leaf = cJSON_GetArrayItem(frames, (int)cJSON_GetArrayItem(fr, nf - 1)->valuedouble);
    T_STR_EQ("/usr/lib/libfoo.so", get(leaf, "module")->valuestring);
    T_EQ_U64(0x1100 + 0x10 * (uint64_t)k - 1 - 0x1000, num(leaf, "module_offset"));
    if (nf == 3) {
      const cJSON *root = cJSON_GetArrayItem(frames, (int)cJSON_GetArrayItem(fr, 0)->valuedouble);
      T_STR_EQ("/usr/bin/app", get(root, "module")->valuestring);
      T_EQ_U64(0x5800 - 1 - 0x5000, num(root, "module_offset"));
    }
  }
  T_EQ_U64(s.total_allocs, all_a);
  T_EQ_U64(s.total_bytes, all_b);
  T_EQ_U64(s.total_allocs, num(get(sum, "totals"), "allocations"));
  for (int t = 0; t < NT; t++) {
    T_EQ_U64(s.allocs[t], thr_a[t]);
    T_EQ_U64(s.bytes[t], thr_b[t]);
  }
  /* One frame per distinct address used: NSTACKS leaf addresses, 0x5110 and 0x5120 (second
   * frames of the stacks with k % 3 = 1 and 2) and 0x5800 (the
   * unsymbolized frames are told apart by module offset). */
  T_EQ_INT(NSTACKS + 2 + 1, cJSON_GetArraySize(frames));
  cJSON_Delete(sum);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* ---- the cut --------------------------------------------------------------------------------
 * NTC threads each allocate from every one of NSC stacks, 1 to 3 calls of (k + 1) * 64 bytes
 * to stack k + 1. 100 entries per stack: the size budget cuts well before
 * MS__FLAME_MAX_STACKS. */
#define NTC 100
#define NSC 150

static void flamegraph_cut(void) {
  char *dir = tg_mkdtemp("an-fgcut");
  tg_write_meta(dir, PID, RUN_ID, "monotonic", NULL, 1);
  tg_write_text(dir, "maps.txt", MAPS);
  uint64_t ts = T0, addr = 0x10000, calls[NSC] = {0};
  for (int t = 0; t < NTC; t++) {
    char name[64];
    snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, 1000 + t);
    tg_file_t *f = tg_open(dir, name, 1, PID, 1000 + (uint32_t)t, (uint32_t)t, RUN_ID);
    tg_chunk(f, ts, 0, 0);
    if (t == 0)
      for (uint64_t id = 1; id <= NSC; id++) {
        uint64_t fr[2] = {0x1000 + 8 * id, 0x5000 + 8 * id};
        tg_stack(f, id, 2, fr);
      }
    for (int k = 0; k < NSC; k++) {
      int reps = 1 + (t + k) % 3; /* per-thread figures differ */
      for (int r = 0; r < reps; r++) {
        tg_alloc(f, ++ts, addr += 16, (uint64_t)(k + 1) * 64, (uint64_t)k + 1);
        tg_free(f, ++ts, addr);
        calls[k]++;
      }
    }
    tg_end_chunk(f);
    tg_close(f);
  }
  ms_analysis_t *a = analyze(dir);
  cJSON *sum = ms_analysis_summary_json(a);
  const cJSON *fg = get(sum, "flamegraph");
  uint64_t shown = num(fg, "stacks_shown");
  T_EQ_U64(NSC, num(fg, "stacks_total"));
  T_TRUE(shown >= 10 && shown < NSC); /* the budget cut it */
  T_EQ_U64(NSC - shown, num(get(fg, "not_shown"), "stacks"));
  /* The shown stacks are the `shown` largest by bytes, largest first. */
  uint64_t sa = 0, sb = 0, ta = 0, tb = 0, bytes[NSC];
  for (int k = 0; k < NSC; k++) {
    bytes[k] = calls[k] * (uint64_t)(k + 1) * 64;
    ta += calls[k];
    tb += bytes[k];
  }
  int i = 0, is_shown[NSC] = {0};
  uint64_t prev = UINT64_MAX, min_shown = UINT64_MAX;
  const cJSON *st;
  cJSON_ArrayForEach(st, get(fg, "stacks")) {
    i++;
    int k = (int)num(st, "stack_id") - 1;
    T_TRUE(k >= 0 && k < NSC && !is_shown[k]);
    is_shown[k] = 1;
    T_EQ_U64(calls[k], num(st, "allocations"));
    T_EQ_U64(bytes[k], num(st, "allocated_bytes"));
    T_TRUE(bytes[k] <= prev);
    prev = min_shown = bytes[k];
    T_EQ_INT(NTC, cJSON_GetArraySize(get(st, "threads")));
    T_EQ_U64(NTC, num(st, "threads_total"));
    sa += calls[k];
    sb += bytes[k];
  }
  for (int k = 0; k < NSC; k++)
    if (!is_shown[k])
      T_TRUE(bytes[k] <= min_shown);
  T_EQ_U64(shown, (uint64_t)i);
  T_EQ_U64(ta - sa, num(get(fg, "not_shown"), "allocations"));
  T_EQ_U64(tb - sb, num(get(fg, "not_shown"), "allocated_bytes"));
  /* The budget holds: the flame graph's compact JSON stays near MS__FLAME_MAX_BYTES. */
  char *text = cJSON_PrintUnformatted(fg);
  T_TRUE(strlen(text) <= MS__FLAME_MAX_BYTES);
  T_TRUE(strlen(text) >= MS__FLAME_MAX_BYTES / 2);
  free(text);
  cJSON_Delete(sum);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* More stacks than MS__FLAME_MAX_STACKS from one thread (small entries): the count limit
 * cuts, and what is shown plus not_shown is the whole. */
static void flamegraph_max_stacks(void) {
  char *dir = tg_mkdtemp("an-fgmax");
  tg_write_meta(dir, PID, RUN_ID, "monotonic", NULL, 1);
  tg_write_text(dir, "maps.txt", MAPS);
  char name[64];
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, 7);
  tg_file_t *f = tg_open(dir, name, 1, PID, 7, 0, RUN_ID);
  tg_chunk(f, T0, 0, 0);
  const int nst = MS__FLAME_MAX_STACKS + 100;
  uint64_t total = 0;
  for (int k = 0; k < nst; k++) {
    uint64_t fr[1] = {0x1000 + 4 * (uint64_t)k};
    tg_stack(f, (uint64_t)k + 1, 1, fr);
    tg_alloc(f, T0 + 1 + (uint64_t)k, 0x100000 + 16 * (uint64_t)k, (uint64_t)k + 1,
             (uint64_t)k + 1);
    total += (uint64_t)k + 1;
  }
  tg_end_chunk(f);
  tg_close(f);
  ms_analysis_t *a = analyze(dir);
  cJSON *sum = ms_analysis_summary_json(a);
  const cJSON *fg = get(sum, "flamegraph");
  T_EQ_U64(nst, num(fg, "stacks_total"));
  T_EQ_U64(MS__FLAME_MAX_STACKS, num(fg, "stacks_shown"));
  uint64_t shown_bytes = 0;
  const cJSON *st;
  cJSON_ArrayForEach(st, get(fg, "stacks")) shown_bytes += num(st, "allocated_bytes");
  /* the largest: sizes nst down to nst - MAX + 1 */
  uint64_t expect = 0;
  for (int k = nst - MS__FLAME_MAX_STACKS; k < nst; k++)
    expect += (uint64_t)k + 1;
  T_EQ_U64(expect, shown_bytes);
  T_EQ_U64(total - expect, num(get(fg, "not_shown"), "allocated_bytes"));
  T_EQ_U64(nst - MS__FLAME_MAX_STACKS, num(get(fg, "not_shown"), "allocations"));
  cJSON_Delete(sum);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

/* Sampled mode (size-classes, integer weights): the figures are the weighted estimates, said
 * so; per stack and per thread the sums of weight and weight * size. */
static void flamegraph_sampled(void) {
  char *dir = tg_mkdtemp("an-fgsampled");
  tg_write_meta(dir, PID, RUN_ID, "monotonic", "sample=size-classes\n", 1);
  tg_write_text(dir, "maps.txt", MAPS);
  char name[64];
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, 1);
  tg_file_t *f1 = tg_open(dir, name, 1, PID, 1, 0, RUN_ID);
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, 2);
  tg_file_t *f2 = tg_open(dir, name, 1, PID, 2, 1, RUN_ID);
  tg_chunk(f1, T0, 0, 0);
  tg_chunk(f2, T0, 0, 0);
  uint64_t fr[1] = {0x1500};
  tg_stack(f1, 1, 1, fr);
  /* stack 1: thread 1 weight 100 x 10 B and weight 1 x 5000 B; thread 2 weight 100 x 20 B */
  tg_alloc_ex(f1, 0x20, T0 + 10, 0x100, 10, 1, 0, 100);
  tg_alloc_ex(f1, 0x20, T0 + 20, 0x200, 5000, 1, 0, 1);
  tg_alloc_ex(f2, 0x20, T0 + 30, 0x300, 20, 1, 0, 100);
  tg_end_chunk(f1);
  tg_end_chunk(f2);
  tg_close(f1);
  tg_close(f2);
  ms_analysis_t *a = analyze(dir);
  cJSON *sum = ms_analysis_summary_json(a);
  const cJSON *fg = get(sum, "flamegraph");
  T_TRUE(cJSON_IsTrue(get(fg, "estimated")));
  T_CONTAINS(get(fg, "basis")->valuestring, "estimates");
  const cJSON *st = cJSON_GetArrayItem(get(fg, "stacks"), 0);
  T_EQ_U64(201, num(st, "allocations"));
  T_EQ_U64(1000 + 5000 + 2000, num(st, "allocated_bytes"));
  const cJSON *t0 = cJSON_GetArrayItem(get(st, "threads"), 0);
  const cJSON *t1 = cJSON_GetArrayItem(get(st, "threads"), 1);
  T_EQ_U64(1, num(t0, "tid")); /* 6000 bytes before 2000 */
  T_EQ_U64(101, num(t0, "allocations"));
  T_EQ_U64(6000, num(t0, "allocated_bytes"));
  T_EQ_U64(2, num(t1, "tid"));
  T_EQ_U64(100, num(t1, "allocations"));
  T_EQ_U64(2000, num(t1, "allocated_bytes"));
  cJSON_Delete(sum);
  ms_analysis_free(a);
  tg_rmrf(dir);
  free(dir);
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {
      T_CASE(thread_timelines),   T_CASE(thread_histograms),  T_CASE(flamegraph_sums),
      T_CASE(flamegraph_cut),     T_CASE(flamegraph_max_stacks), T_CASE(flamegraph_sampled),
  };
  return t_main(argc, argv, cases, sizeof cases / sizeof *cases);
}
