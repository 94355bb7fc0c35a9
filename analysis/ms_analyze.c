/* ms_analyze.c: the analysis engine's pass: one merged, streaming pass over a run computing
 * every figure of ms_analyze.h, then the end-of-trace work (leak groups, suppressions,
 * symbolization of the stacks that are reported, rankings, timelines).
 *
 * The counting of totals, threads and peaks is ms_stats.c's, run event by event through
 * ms_stats_pass.h, and this file keeps its own per-block data (allocation time, stack, scope
 * epoch, variable) in the same live-block table. The hot path allocates nothing per event:
 * tables grow geometrically, stacks are aggregated in a dense array by id, and nothing is
 * symbolized before the end. Memory: live blocks + distinct stacks + threads + the bounded
 * lists (scopes, marks, variables), never the trace length. The pass's types are in
 * ms_pass.h; the leak and hot-stack phases of the end are in ms_leaks.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"
#include "ms_format.h"
#include "ms_hmap.h"
#include "ms_pass.h"
#include "ms_stats_pass.h"
#include "ms_trace_int.h"

double ms__now_s(void);

/* ---- the interval of a sampled total: ms__gamma_interval (ms_gamma.c) -------------------- */

/* The unseen sampled block of ms__gamma_interval, for counts (blocks, calls) and for bytes: what
 * one more sampled block could add to the estimate (y_u) and to its variance (v_u).
 * - bytes:N: a block of s bytes adds s/p and (1-p)/p^2 s^2 with p = 1 - exp(-s/N); in bytes,
 *   both are largest for the smallest blocks, towards N and N^2: a sample point stands for N
 *   bytes. In blocks they grow without bound as s shrinks, so the smallest size sampled in the
 *   run is taken as the smallest unseen block (1 byte when nothing was sampled): an assumption,
 *   stated in docs/analysis.md.
 * - size-classes: the tracker's policy (docs/tracker.md) records one call in 100 below
 *   2 KiB, so an unseen call is one of up to 100 of at most 2047 bytes: weight 100, variance
 *   (k-1)k for calls and the same times 2047^2 for bytes. */
static void sampled_unit(const pass_t *p, int bytes, double *y_u, double *v_u) {
  if (p->a->sampled == 2) {
    if (bytes) {
      *y_u = p->n_bytes;
      *v_u = p->n_bytes * p->n_bytes;
      return;
    }
    double s = p->min_sampled_size ? (double)p->min_sampled_size : 1.0;
    double prob = -expm1(-s / p->n_bytes);
    *y_u = 1.0 / prob;
    *v_u = (1.0 - prob) / (prob * prob);
    if (!(*v_u > 0))
      *v_u = 1.0; /* p rounded to 1: keep the interval defined */
    return;
  }
  double k = 100, size = bytes ? 2047 : 1;
  *y_u = k * size;
  *v_u = (k - 1) * k * size * size;
}

/* The sampled peak. The estimated live-bytes series is unbiased at every instant, but its
 * maximum is not: with few sampled blocks live, noise lifts it (on the bench workload, 0.6 MB
 * live against a 512 KiB interval, the maximum lands near 3.7 MB). A pointwise interval
 * around that maximum would not cover the truth, so the interval is built from the series:
 * - high: at the true peak's instant, live <= est + 1.96 se (97.5 %), and est + 1.96 se there
 *   is at most its maximum over the sampled allocations (frees only lower it);
 * - low: the true peak is >= live at every instant; est - z se <= live at all M sampled
 *   allocations at once with 97.5 % when z is Bonferroni's for M (z from 2 to 6).
 * The value stays the series' maximum, flagged as an upper-biased estimate in the docs. */
static void peak_interval(const pass_t *p, uint64_t sampled_allocs, ms_estimate_t *est) {
  /* One-sided normal tails at z = 2..6. */
  static const double tail[5] = {2.28e-2, 1.35e-3, 3.17e-5, 2.87e-7, 9.87e-10};
  double alpha = 0.025 / (double)(sampled_allocs ? sampled_allocs : 1);
  int z = 0;
  while (z < 4 && tail[z] > alpha)
    z++;
  est->ci95_low = fmax(0.0, p->peak_lo[z]);
  est->ci95_high = p->peak_hi;
}

/* The sampled peak's value, process-wide and per thread (live_est_t). The maximum of the
 * estimated series is biased upward (the noise at its highest point is selected): on bench's
 * workload with a 0.5 GB heap and bytes:524288, +5 to +10 % for a relative standard error of
 * 3 % at an instant. Cross-fitting removes that
 * bias: the sampled blocks are split in two halves by address; each half alone estimates the
 * live bytes (weights doubled) and picks the instant of its maximum, and the *other* half,
 * whose noise played no part in the choice, estimates the live bytes there. The value is the
 * mean of the two. Its own bias is downward, by how far below the peak those two instants
 * are: nothing on a heap that stays near its peak for a while, but a peak made in a burst
 * (blocks of both halves still arriving when one half peaks) comes out low; the test
 * workload of tests/analysis, 32 blocks allocated at once, came out 4-5 % low, where the
 * series' maximum, nearly noise-free (0.1 %), was right. So the cross-fit is used only where
 * the selection bias can be large, when the standard error at the series' maximum exceeds
 * CROSSFIT_MIN_RSE of it, and with at least MIN_HALF sampled allocations per half (fewer
 * cannot choose an instant). Returns 1 when it was used. Measured by bench/sampled_accuracy.py
 * (docs/analysis.md, "Sampled modes"). */
#define CROSSFIT_MIN_RSE 0.01
#define MIN_HALF 30
static int live_peak(const live_est_t *l, double *value, double *var) {
  *value = l->max;
  *var = l->var_at_max;
  if (l->h_n[0] < MIN_HALF || l->h_n[1] < MIN_HALF)
    return 0;
  if (!(l->max > 0) || sqrt(l->var_at_max) <= CROSSFIT_MIN_RSE * l->max)
    return 0;
  *value = 0.5 * (l->h_other[0] + l->h_other[1]);
  /* Its variance estimate is the halves' (about the whole sample's at an instant), but it is
   * zero when the other half had no sampled block live then, a Horvitz-Thompson blind spot;
   * the variance at the series' maximum, as large at least, keeps the error honest. */
  *var = fmax(0.25 * (l->h_other_var[0] + l->h_other_var[1]), l->var_at_max);
  return 1;
}

/* A sampled block of half h enters the live set: ws = weight * size, vs = its variance
 * term. Maxima only move on an allocation. */
static inline void live_add(live_est_t *l, int h, double ws, double vs, uint64_t ns) {
  l->live += ws;
  l->var += vs;
  if (l->live > l->max) {
    l->max = l->live;
    l->var_at_max = l->var;
    l->max_ns = ns;
  }
  l->h_n[h]++;
  l->h_live[h] += ws;
  l->h_var[h] += vs;
  if (2 * l->h_live[h] > l->h_max[h]) { /* each half estimates the whole: weights double */
    l->h_max[h] = 2 * l->h_live[h];
    l->h_other[h] = 2 * l->h_live[1 - h];
    l->h_other_var[h] = 4 * l->h_var[1 - h];
  }
}

static inline void live_remove(live_est_t *l, int h, double ws, double vs) {
  l->live -= ws;
  l->var -= vs;
  l->h_live[h] -= ws;
  l->h_var[h] -= vs;
}

/* ---- small helpers ------------------------------------------------------------------------ */

static int log2_floor(uint64_t v) { return v ? 63 - __builtin_clzll(v) : 0; }

static char *dup_name(const char *s) {
  size_t n = s ? strnlen(s, MAX_NAME) : 0;
  char *d = malloc(n + 1);
  if (d) {
    if (n)
      memcpy(d, s, n);
    d[n] = 0;
  }
  return d;
}

/* Keeps a string the analysis owns (scope and mark names); NULL when out of memory. */
static const char *own_name(ms_analysis_t *a, const char *s) {
  if (ms__grow(&a->strings, &a->capstrings, a->nstrings, sizeof *a->strings, 64))
    return NULL;
  char *d = dup_name(s);
  if (d)
    a->strings[a->nstrings++] = d;
  return d;
}

static uint32_t slot_new(pass_t *p, uint64_t id) __attribute__((noinline));

/* The aggregate slot of stack `id`, made at its first use: with a lazily opened run (the
 * normal case) the stack table fills during the pass, so slots cannot be laid out before it.
 * SLOT_NEW when memory runs out. */
static inline uint32_t slot_of(pass_t *p, uint64_t id) {
  if (__builtin_expect(id < p->ndense, 1)) {
    uint32_t s = p->dense[id];
    if (__builtin_expect(s != SLOT_NEW, 1))
      return s;
  }
  return slot_new(p, id);
}

/* ---- variables ---------------------------------------------------------------------------- */

static uint64_t hash_str(uint64_t h, const char *s) {
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++)
    h = (h ^ *p) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull;
}

/* Index of the variable (interned), or -1 when the table is full or memory runs out. */
static long var_index(pass_t *p, const ms_event_t *e) {
  ms_analysis_t *a = p->a;
  uint64_t h = hash_str(hash_str(hash_str(0xcbf29ce484222325ull, e->name), e->type_name),
                        e->file) ^ (e->line * 0x9e3779b97f4a7c15ull);
  uint32_t *idx = ms__hmap_get(&p->varidx, h);
  if (idx) {
    ms__var_t *v = &a->vars[*idx];
    if (v->line == e->line && !strncmp(v->name, e->name ? e->name : "", MAX_NAME) &&
        !strncmp(v->type, e->type_name ? e->type_name : "", MAX_NAME) &&
        !strncmp(v->file, e->file ? e->file : "", MAX_NAME))
      return *idx;
    /* a hash collision: fall through to a new entry that the index does not name */
  }
  if (a->nvars >= MAX_VARS)
    return -1;
  if (ms__grow(&a->vars, &p->capvars, a->nvars, sizeof *a->vars, 16))
    return -1;
  ms__var_t *v = &a->vars[a->nvars];
  memset(v, 0, sizeof *v);
  v->name = dup_name(e->name);
  v->type = dup_name(e->type_name);
  v->file = dup_name(e->file);
  v->line = e->line;
  if (!v->name || !v->type || !v->file) {
    free(v->name);
    free(v->type);
    free(v->file);
    return -1;
  }
  if (!idx) {
    uint32_t *slot = ms__hmap_put(&p->varidx, h, NULL);
    if (slot)
      *slot = (uint32_t)a->nvars;
  }
  return (long)a->nvars++;
}

/* ---- the pass ----------------------------------------------------------------------------- */

/* The half (0 or 1) a sampled block belongs to for the cross-fitted peak: a hash of its
 * address, so its allocation and its release agree, and independent of the sampling. */
static inline int addr_half(uint64_t addr) {
  return (int)(((addr >> 4) * 0x9e3779b97f4a7c15ull) >> 63);
}

/* Scope and lifetime accounting for a block that leaves the live set. `lifetime` is 0 for a
 * block dropped because its address was allocated again (its free was not recorded). */
static inline void block_gone(pass_t *p, const ms_event_t *e, uint64_t addr,
                              const unsigned char *blk, int lifetime) {
  const blk_extra_t *x = EXTRA(blk);
  uint64_t size = BLOCK(blk)->size;
  for (size_t k = 0; k < p->nopen; k++) {
    scope_int_t *si = &p->si[p->open[k]];
    if (x->epoch >= si->epoch) {
      si->live_bytes -= size;
      si->live_blocks--;
    }
  }
  if (lifetime) {
    ms_lifetime_stats_t *lt = &p->a->life;
    uint64_t d = e->ts_ns > x->alloc_ns ? e->ts_ns - x->alloc_ns : 0;
    if (!lt->count || d < lt->min_ns)
      lt->min_ns = d;
    if (d > lt->max_ns)
      lt->max_ns = d;
    lt->count++;
    p->lt_sum += (double)d;
    int k = log2_floor(d);
    unsigned sub = k >= 4 ? (unsigned)(d >> (k - 4)) & 15u : (unsigned)(d << (4 - k)) & 15u;
    p->lt_fine[k * MS__LT_SUB + sub]++;
    p->a->threads[BLOCK(blk)->thread].life_hist[k]++;
  }
  if (p->a->sampled) {
    double w, vf;
    block_weight(p, size, x->weight, &w, &vf);
    int h = addr_half(addr);
    double ws = w * (double)size, vs = vf * (double)size * (double)size;
    live_remove(&p->le, h, ws, vs);
    live_remove(&p->ts[BLOCK(blk)->thread].le, h, ws, vs);
    if (lifetime && e->kind == MS_EV_FREE && !(e->flags & MS_FLAG_REALLOC_RELEASE)) {
      p->w_frees += w;
      p->ts[e->thread].w_frees += w;
    }
  }
}

static inline uint64_t cur_live(const pass_t *p) {
  return p->a->sampled ? (p->le.live > 0 ? (uint64_t)llround(p->le.live) : 0) : p->ps.live_bytes;
}

static inline uint64_t thread_live(const pass_t *p, uint32_t t) {
  if (p->a->sampled)
    return p->ts[t].le.live > 0 ? (uint64_t)llround(p->ts[t].le.live) : 0;
  return p->ps.st->threads[t].live_bytes;
}

static void on_mark(pass_t *p, const ms_event_t *e) {
  ms_analysis_t *a = p->a;
  const char *name = e->name ? e->name : "";
  switch (e->mark_kind) {
  case MS_MARK_SCOPE_BEGIN: {
    if (a->nscopes >= MAX_SCOPES || p->nopen >= MAX_OPEN_SCOPES) {
      a->scopes_dropped++;
      return;
    }
    const char *n = own_name(a, name);
    if (!n) {
      a->scopes_dropped++;
      return;
    }
    size_t i = a->nscopes++;
    memset(&a->scopes[i], 0, sizeof a->scopes[i]);
    a->scopes[i].name = n;
    a->scopes[i].begin_ns = e->ts_ns;
    p->si[i] = (scope_int_t){++p->epoch, 1, 0, 0};
    p->open[p->nopen++] = (uint32_t)i;
    return;
  }
  case MS_MARK_SCOPE_END:
    /* The most recent open scope of that name ends (scopes of one name nest). */
    for (size_t k = p->nopen; k-- > 0;) {
      ms_scope_t *s = &a->scopes[p->open[k]];
      if (strncmp(s->name, name, MAX_NAME))
        continue;
      scope_int_t *si = &p->si[p->open[k]];
      s->end_ns = e->ts_ns ? e->ts_ns : 1;
      s->leaked_blocks = si->live_blocks;
      s->leaked_bytes = si->live_bytes;
      si->open = 0;
      memmove(&p->open[k], &p->open[k + 1], (p->nopen - k - 1) * sizeof p->open[0]);
      p->nopen--;
      return;
    }
    a->scope_ends_unmatched++;
    return;
  case MS_MARK_POINT:
  case MS_MARK_SNAPSHOT: {
    if (a->nmarks >= MAX_MARKS) {
      a->marks_dropped++;
      return;
    }
    if (ms__grow(&a->marks, &p->capmarks, a->nmarks, sizeof *a->marks, 64)) {
      a->marks_dropped++;
      return;
    }
    const char *n = own_name(a, name);
    if (!n) {
      a->marks_dropped++;
      return;
    }
    ms_mark_t *m = &a->marks[a->nmarks++];
    m->name = n;
    m->kind = e->mark_kind;
    m->tid = e->tid;
    m->t_ns = e->ts_ns;
    m->live_bytes = cur_live(p);
    m->live_blocks = p->ps.live.count;
    return;
  }
  default:
    return; /* thread names: the stats pass keeps them */
  }
}

/* A block released by the thread's very next allocator call after its allocation: a
 * temporary (heaptrack's definition), weighted in sampled modes. */
static void count_temporary(pass_t *p, ms__thread_t *th, const unsigned char *blk) {
  p->a->temporaries++;
  th->temporaries++;
  slot_t *s = &p->slots[EXTRA(blk)->slot]; /* per stack, for heaptrack's per-site list */
  s->temps++;
  if (p->a->sampled) {
    double w, vf;
    block_weight(p, BLOCK(blk)->size, EXTRA(blk)->weight, &w, &vf);
    p->w_temps += w;
    s->w_temps += w;
  }
}

/* The sampled estimates' share of an allocation (weights and Horvitz–Thompson variances). */
static void sampled_alloc(pass_t *p, const ms_event_t *e, slot_t *s, thr_state_t *ts,
                          const blk_extra_t *x, ms__fg_cell_t *c) {
  double w, vf;
  block_weight(p, e->size, x->weight, &w, &vf);
  double sz = (double)e->size;
  s->w_allocs += w;
  s->w_bytes += w * sz;
  c->w_allocs += w;
  c->w_bytes += w * sz;
  p->w_allocs += w;
  p->var_allocs += vf;
  p->w_bytes += w * sz;
  p->var_bytes += vf * sz * sz;
  if (e->size && (!p->min_sampled_size || e->size < p->min_sampled_size))
    p->min_sampled_size = e->size;
  int h = addr_half(e->addr);
  live_add(&p->le, h, w * sz, vf * sz * sz, e->ts_ns);
  live_add(&ts->le, h, w * sz, vf * sz * sz, e->ts_ns);
  double se_live = sqrt(p->le.var);
  if (p->le.live + 1.96 * se_live > p->peak_hi)
    p->peak_hi = p->le.live + 1.96 * se_live;
  for (int z = 0; z < 5; z++)
    if (p->le.live - (z + 2) * se_live > p->peak_lo[z])
      p->peak_lo[z] = p->le.live - (z + 2) * se_live;
  ts->w_allocs += w;
  ts->w_bytes += w * sz;
  if (e->kind == MS_EV_REALLOC) {
    ts->w_reallocs += w;
    p->w_reallocs += w;
  }
}

/* What every event does to its thread's span; returns the event's time since the first. */
static inline uint64_t event_time(pass_t *p, const ms_event_t *e, ms__thread_t *th) {
  if (__builtin_expect(!p->have_t0, 0)) {
    p->t0 = e->ts_ns;
    p->have_t0 = 1;
  }
  if (__builtin_expect(!th->have_ts, 0)) {
    th->first_ns = e->ts_ns;
    th->have_ts = 1;
  }
  th->last_ns = e->ts_ns;
  return e->ts_ns > p->t0 ? e->ts_ns - p->t0 : 0;
}

static ms__fg_cell_t *fg_cell_slow(pass_t *p, thr_state_t *ts, uint32_t slot,
                                   uint32_t thread) __attribute__((noinline));

/* The flame-graph cell of (slot, thread): the thread's cache, else the map (a new cell at the
 * pair's first allocation). NULL when memory runs out. */
static ms__fg_cell_t *fg_cell_slow(pass_t *p, thr_state_t *ts, uint32_t slot, uint32_t thread) {
  int existed;
  uint32_t *idx = ms__hmap_put(&p->cellidx, (uint64_t)slot << 32 | thread, &existed);
  if (!idx)
    return NULL;
  if (!existed) {
    if (p->ncells >= UINT32_MAX - 1 ||
        ms__grow(&p->cells, &p->capcells, p->ncells, sizeof *p->cells, 256)) {
      ms__hmap_del(&p->cellidx, (uint64_t)slot << 32 | thread, NULL);
      return NULL;
    }
    p->cells[p->ncells] = (ms__fg_cell_t){.stack_id = slot, .thread = thread};
    *idx = (uint32_t)p->ncells++;
  }
  ts->fg_slot[slot % FG_CACHE] = slot;
  ts->fg_cell[slot % FG_CACHE] = *idx + 1;
  return &p->cells[*idx];
}

static inline ms__fg_cell_t *fg_cell(pass_t *p, thr_state_t *ts, uint32_t slot,
                                     uint32_t thread) {
  uint32_t c = ts->fg_cell[slot % FG_CACHE];
  if (__builtin_expect(c && ts->fg_slot[slot % FG_CACHE] == slot, 1))
    return &p->cells[c - 1];
  return fg_cell_slow(p, ts, slot, thread);
}

/* ALLOC and REALLOC. */
static inline __attribute__((always_inline)) int on_alloc(pass_t *p, const ms_event_t *e) {
  ms_analysis_t *a = p->a;
  uint32_t slot = slot_of(p, e->stack_id);
  if (slot == SLOT_NEW)
    return MS_TRACE_E_NOMEM;
  ms__stats_effect_t fx = {0};
  /* Undefined stack ids are counted at the end (fold_undefined), when the table is whole. */
  int rc = ms__stats_alloc(&p->ps, e, &fx, 1);
  if (rc)
    return rc;
  ms__thread_t *th = &a->threads[e->thread];
  uint64_t rel = event_time(p, e, th);
  thr_state_t *ts = &p->ts[e->thread];
  slot_t *s = &p->slots[slot];
  s->allocs++;
  s->bytes += e->size;
  ms__fg_cell_t *cell = fg_cell(p, ts, slot, e->thread);
  if (!cell)
    return MS_TRACE_E_NOMEM;
  cell->allocs++;
  cell->bytes += e->size;
  int sk = log2_floor(e->size);
  a->size_hist[sk]++;
  th->size_hist[sk]++;
  uint32_t var = 0;
  if (fx.released) { /* realloc's old block */
    var = EXTRA(fx.released_block)->var;
    if (ts->has_last && e->old_addr == ts->last_alloc)
      count_temporary(p, th, fx.released_block);
    block_gone(p, e, e->old_addr, fx.released_block, 1);
    uint32_t owner = BLOCK(fx.released_block)->thread;
    if (owner != e->thread)
      ms__series_update(&a->threads[owner].series, rel, thread_live(p, owner));
  } else if (e->kind == MS_EV_REALLOC && (e->flags & MS_FLAG_REALLOC_RELEASE)) {
    var = ts->release_var;
  }
  ts->release_var = 0;
  if (fx.replaced) {
    block_gone(p, e, e->addr, fx.replaced_block, 0);
    /* Its owner's live bytes dropped: its series must end on the value at the end. */
    uint32_t owner = BLOCK(fx.replaced_block)->thread;
    if (owner != e->thread)
      ms__series_update(&a->threads[owner].series, rel, thread_live(p, owner));
  }
  blk_extra_t *x = EXTRA(fx.added);
  x->alloc_ns = e->ts_ns;
  x->slot = slot;
  x->var = var;
  x->epoch = p->epoch;
  x->weight = e->weight > UINT32_MAX ? UINT32_MAX : (uint32_t)e->weight;
  ts->last_alloc = e->addr;
  ts->has_last = 1;
  for (size_t k = 0; k < p->nopen; k++) {
    uint32_t i = p->open[k];
    ms_scope_t *sc = &a->scopes[i];
    scope_int_t *si = &p->si[i];
    sc->allocations++;
    sc->allocated_bytes += e->size;
    si->live_bytes += e->size;
    si->live_blocks++;
    if (si->live_bytes > sc->peak_live_bytes)
      sc->peak_live_bytes = si->live_bytes;
  }
  if (a->sampled)
    sampled_alloc(p, e, s, ts, x, cell);
  ms__series_update(&a->series, rel, cur_live(p));
  ms__series_update(&th->series, rel, thread_live(p, e->thread));
  return 0;
}

/* FREE (a free call, or the release of a moving realloc's old block). */
static int on_free(pass_t *p, const ms_event_t *e) {
  ms_analysis_t *a = p->a;
  ms__stats_effect_t fx = {0};
  ms__stats_free(&p->ps, e, &fx);
  ms__thread_t *th = &a->threads[e->thread];
  uint64_t rel = event_time(p, e, th);
  thr_state_t *ts = &p->ts[e->thread];
  int release = (e->flags & MS_FLAG_REALLOC_RELEASE) != 0;
  if (!release)
    for (size_t k = 0; k < p->nopen; k++)
      a->scopes[p->open[k]].frees++;
  if (fx.released) {
    if (ts->has_last && e->addr == ts->last_alloc)
      count_temporary(p, th, fx.released_block);
    if (release)
      ts->release_var = EXTRA(fx.released_block)->var;
    block_gone(p, e, e->addr, fx.released_block, 1);
    uint32_t owner = BLOCK(fx.released_block)->thread;
    ms__series_update(&a->series, rel, cur_live(p));
    ms__series_update(&a->threads[owner].series, rel, thread_live(p, owner));
  }
  ts->has_last = 0;
  return 0;
}

/* MARK and VAR (and kinds this reader does not know). */
static __attribute__((noinline)) int on_other(pass_t *p, const ms_event_t *e) {
  ms_analysis_t *a = p->a;
  ms__stats_other(&p->ps, e);
  (void)event_time(p, e, &a->threads[e->thread]);
  if (e->kind == MS_EV_MARK) {
    if (e->mark_kind == MS_MARK_RESOURCES)
      return ms__res_on_mark(a, e);
    on_mark(p, e);
  } else if (e->kind == MS_EV_VAR) {
    unsigned char *blk = ms__hmap_get(&p->ps.live, e->addr);
    if (!blk) {
      a->vars_unmatched++;
      return 0;
    }
    long v = var_index(p, e);
    if (v < 0) {
      a->vars_dropped++;
      return 0;
    }
    EXTRA(blk)->var = (uint32_t)v + 1;
    a->vars[v].blocks++;
    a->vars[v].bytes += BLOCK(blk)->size;
  }
  return 0;
}

/* One dispatch on the kind per event: the kinds arrive in no predictable order. */
static inline __attribute__((always_inline)) int on_event(pass_t *p, const ms_event_t *e) {
  if (e->kind == MS_EV_FREE)
    return on_free(p, e);
  if (e->kind == MS_EV_ALLOC || e->kind == MS_EV_REALLOC)
    return on_alloc(p, e);
  return on_other(p, e);
}

/* The stack-id -> slot map starts with the two fixed slots; slot_of adds the rest. */
static int setup_slots(pass_t *p) {
  p->capslots = 64;
  p->nslots = 2;
  p->slots = calloc(p->capslots, sizeof *p->slots);
  p->ndense = 1024;
  p->dense = malloc(p->ndense * sizeof *p->dense);
  if (!p->slots || !p->dense)
    return MS_TRACE_E_NOMEM;
  for (uint64_t i = 0; i < p->ndense; i++)
    p->dense[i] = SLOT_NEW;
  p->dense[0] = SLOT_NONE;
  p->slots[SLOT_NONE] = (slot_t){.stack_id = 0, .real = SLOT_NONE};
  p->slots[SLOT_UNKNOWN] = (slot_t){.stack_id = UINT64_MAX, .real = SLOT_UNKNOWN};
  return 0;
}

/* slot_of's slow path: the id's slot in the sparse map, or a new slot. Ids live in an array
 * while they stay dense (the tracker numbers stacks from 1), in a hash map when a (hostile)
 * trace makes them sparse. An id that no STACK record has defined yet gets a slot of its own
 * too, as its definition may come later in the merge (another thread's file); at most
 * MAX_PENDING_SLOTS of those, then such ids share SLOT_UNKNOWN. */
static uint32_t slot_new(pass_t *p, uint64_t id) {
  uint32_t *sp = NULL;
  if (id >= p->ndense) {
    if (id < 65536 + 4 * (uint64_t)p->nslots) { /* still dense: grow the array */
      uint64_t n = p->ndense;
      while (n <= id)
        n *= 2;
      uint32_t *d = realloc(p->dense, n * sizeof *d);
      if (!d)
        return SLOT_NEW;
      for (uint64_t i = p->ndense; i < n; i++)
        d[i] = SLOT_NEW;
      p->dense = d;
      p->ndense = n;
    } else {
      uint32_t *v = ms__hmap_get(&p->sparse, id);
      if (v)
        return *v;
      if (!(sp = ms__hmap_put(&p->sparse, id, NULL)))
        return SLOT_NEW;
    }
  }
  uint32_t s;
  if (!ms_run_stack(p->a->run, id) && p->pending_slots >= MAX_PENDING_SLOTS) {
    s = SLOT_UNKNOWN;
  } else if (p->nslots >= UINT32_MAX - 1 ||
             ms__grow(&p->slots, &p->capslots, p->nslots, sizeof *p->slots, 64)) {
    if (sp)
      ms__hmap_del(&p->sparse, id, NULL);
    return SLOT_NEW;
  } else {
    p->pending_slots += !ms_run_stack(p->a->run, id);
    s = (uint32_t)p->nslots++;
    p->slots[s] = (slot_t){.stack_id = id, .real = s};
  }
  if (sp)
    *sp = s;
  else
    p->dense[id] = s;
  return s;
}

/* Once the pass is over the stack table is complete: a slot whose id it lacks joins
 * SLOT_UNKNOWN, and its allocations count as references to undefined stacks. */
static void fold_undefined(pass_t *p) {
  slot_t *u = &p->slots[SLOT_UNKNOWN];
  for (size_t i = 2; i < p->nslots; i++) {
    slot_t *s = &p->slots[i];
    if (ms_run_stack(p->a->run, s->stack_id))
      continue;
    u->allocs += s->allocs;
    u->bytes += s->bytes;
    u->w_allocs += s->w_allocs;
    u->w_bytes += s->w_bytes;
    u->temps += s->temps;
    u->w_temps += s->w_temps;
    s->allocs = s->bytes = s->temps = 0;
    s->w_allocs = s->w_bytes = s->w_temps = 0;
    s->real = SLOT_UNKNOWN;
  }
  p->ps.st->totals.unknown_stack_refs = u->allocs;
}

/* ---- end of trace ------------------------------------------------------------------------- */

/* Phase: the stats pass's own end (the rest reads its totals), undefined stacks folded, and
 * the stats handed over to the analysis. */
static void finish_stats(pass_t *p) {
  ms_analysis_t *a = p->a;
  ms__stats_finish(&p->ps);
  fold_undefined(p);
  a->stats = p->ps.st;
  p->ps.st = NULL;
}

/* Phase: totals and threads as reported; in sampled mode the counts are replaced by their
 * weighted estimates, which needs the leak sums and the peak first. */
static void report_totals(pass_t *p, end_sums_t *e) {
  ms_analysis_t *a = p->a;
  a->totals = a->stats->totals;
  for (size_t i = 0; i < a->nthreads; i++)
    a->threads[i].rep = a->stats->threads[i];
  a->peak_crossfit = live_peak(&p->le, &e->peak_value, &e->peak_var);
  if (a->sampled) {
    ms_stats_totals_t *t = &a->totals;
    t->allocations = round_u64(p->w_allocs);
    t->frees = round_u64(p->w_frees);
    t->reallocs = round_u64(p->w_reallocs);
    t->allocated_bytes = round_u64(p->w_bytes);
    t->peak_live_bytes = round_u64(e->peak_value);
    t->peak_time_ns = p->le.max_ns; /* the series' maximum: the instant the peak is near */
    t->leaked_blocks = round_u64(e->w_leak_blocks);
    t->leaked_bytes = round_u64(e->w_leak_bytes);
    for (size_t i = 0; i < a->nthreads; i++) {
      ms_stats_thread_t *r = &a->threads[i].rep;
      thr_state_t *ts = &p->ts[i];
      r->allocations = round_u64(ts->w_allocs);
      r->frees = round_u64(ts->w_frees);
      r->reallocs = round_u64(ts->w_reallocs);
      r->allocated_bytes = round_u64(ts->w_bytes);
      double tv, tvar;
      live_peak(&ts->le, &tv, &tvar);
      r->live_bytes = round_u64(ts->le.live);
      r->peak_live_bytes = round_u64(tv);
      r->peak_time_ns = ts->le.max_ns;
    }
  }
  a->temporaries_reported = a->sampled ? round_u64(p->w_temps) : a->temporaries;
}

/* Phase: the estimates and their error (zero in full mode), from the totals just reported;
 * leak suppression later adjusts the totals but not these (as before the split). */
static void estimates(pass_t *p, const end_sums_t *e) {
  ms_analysis_t *a = p->a;
  const ms_stats_totals_t *t = &a->totals;
  double vals[6] = {(double)t->allocations, (double)t->allocated_bytes,
                    (double)t->peak_live_bytes, (double)t->leaked_bytes,
                    (double)t->leaked_blocks, (double)t->frees};
  double vars[6] = {0, 0, 0, 0, 0, 0};
  if (a->sampled) {
    vals[0] = p->w_allocs, vals[1] = p->w_bytes, vals[2] = e->peak_value;
    vals[3] = e->w_leak_bytes, vals[4] = e->w_leak_blocks, vals[5] = p->w_frees;
    vars[0] = p->var_allocs, vars[1] = p->var_bytes, vars[2] = e->peak_var;
    vars[3] = e->var_leak_bytes, vars[4] = e->var_leak_blocks;
    vars[5] = -1; /* frees: not estimated with an error (see docs/analysis.md) */
  }
  for (int k = 0; k < 6; k++) {
    double se = vars[k] > 0 ? sqrt(vars[k]) : 0;
    if (vars[k] < 0)
      se = NAN;
    a->est[k].value = vals[k];
    a->est[k].std_error = se;
    a->est[k].ci95_low = isnan(se) ? NAN : fmax(0.0, vals[k] - 1.96 * se);
    a->est[k].ci95_high = isnan(se) ? NAN : vals[k] + 1.96 * se;
  }
  if (!a->sampled)
    return;
  /* Sums over the sampled blocks: Fay-Feuer's gamma interval (ms_gamma.c). */
  static const int sums[4] = {MS_EST_ALLOCATIONS, MS_EST_ALLOCATED_BYTES,
                              MS_EST_LEAKED_BYTES, MS_EST_LEAKED_BLOCKS};
  for (int i = 0; i < 4; i++) {
    int k = sums[i], bytes = k == MS_EST_ALLOCATED_BYTES || k == MS_EST_LEAKED_BYTES;
    double y_u, v_u;
    sampled_unit(p, bytes, &y_u, &v_u);
    ms__gamma_interval(vals[k], vars[k], y_u, v_u, &a->est[k].ci95_low, &a->est[k].ci95_high);
  }
  peak_interval(p, a->stats->totals.allocations, &a->est[2]);
  /* At the true peak's instant either some sampled block is live (the high end above
   * covers it) or none is, and then the live bytes are below the upper end of an empty
   * sample with 97.5 %: the high end is at least that (with nothing sampled it was 0). */
  double y_u, v_u, lo0, hi0;
  sampled_unit(p, 1, &y_u, &v_u);
  ms__gamma_interval(0, 0, y_u, v_u, &lo0, &hi0);
  a->est[2].ci95_high = fmax(a->est[2].ci95_high, hi0);
  /* The interval holds its own value (a cross-fitted value can lie below the low end). */
  a->est[2].ci95_low = fmin(a->est[2].ci95_low, a->est[2].value);
  a->est[2].ci95_high = fmax(a->est[2].ci95_high, a->est[2].value);
}

/* Phase: the flame graph, once every cell is re-keyed under the stack id its slot stands
 * for (folded slots included). */
static int flame(pass_t *p) {
  for (size_t i = 0; i < p->ncells; i++) {
    ms__fg_cell_t *c = &p->cells[i];
    c->stack_id = p->slots[p->slots[(uint32_t)c->stack_id].real].stack_id;
  }
  return ms__flame_build(p->a, p->cells, p->ncells);
}

/* Phase: lifetimes: the median from the fine histogram, log2 buckets by summing it. */
static void lifetimes(pass_t *p) {
  ms_lifetime_stats_t *lt = &p->a->life;
  if (!lt->count)
    return;
  lt->mean_ns = p->lt_sum / (double)lt->count;
  uint64_t half = (lt->count + 1) / 2, cum = 0;
  for (int i = 0; i < 64 * MS__LT_SUB; i++) {
    lt->log2_buckets[i / MS__LT_SUB] += p->lt_fine[i];
    if (cum < half && (cum += p->lt_fine[i]) >= half) {
      int k = i / MS__LT_SUB, sub = i % MS__LT_SUB;
      if (k < 4) {
        lt->median_ns = (uint64_t)(MS__LT_SUB + sub) >> (4 - k);
      } else {
        uint64_t lo = (uint64_t)(MS__LT_SUB + sub) << (k - 4);
        lt->median_ns = lo + (((uint64_t)1 << (k - 4)) >> 1);
      }
      if (lt->median_ns < lt->min_ns)
        lt->median_ns = lt->min_ns;
      if (lt->median_ns > lt->max_ns)
        lt->median_ns = lt->max_ns;
    }
  }
}

/* Phase: timelines, per-thread rates and resources (roles: ms_roles.c, on the summary);
 * last, since the rates read the reported (possibly weighted) thread totals. */
static int timelines(pass_t *p) {
  ms_analysis_t *a = p->a;
  ms__res_finish(a);
  int rc = ms__series_points(&a->series, TIMELINE_POINTS, &a->pts, &a->npts);
  for (size_t i = 0; !rc && i < a->nthreads; i++) {
    ms__thread_t *th = &a->threads[i];
    rc = ms__series_points(&th->series, MS__THREAD_TIMELINE_POINTS, &th->pts, &th->npts);
    const ms_stats_thread_t *r = &th->rep;
    th->avg_size = r->allocations ? (double)r->allocated_bytes / (double)r->allocations : 0;
    double span = th->have_ts && th->last_ns > th->first_ns
                      ? (double)(th->last_ns - th->first_ns) / 1e9 : 0;
    th->alloc_rate_per_s = span > 0 ? (double)r->allocations / span : 0;
    th->bytes_rate_per_s = span > 0 ? (double)r->allocated_bytes / span : 0;
  }
  return rc;
}

/* The end of the trace, phase by phase, in the order their inputs require; stops at the
 * first error. symbolize_s times the three phases that symbolize stacks. */
static int finish(pass_t *p) {
  end_sums_t e = {0, 0, 0, 0, 0, 0};
  int rc;
  finish_stats(p);
  if ((rc = ms__leaks_collect_live(p, &e)))
    return rc;
  report_totals(p, &e);
  estimates(p, &e);
  double t_sym = ms__now_s();
  if ((rc = ms__leaks_groups(p)) || (rc = ms__leaks_hot_stacks(p)) || (rc = flame(p)))
    return rc;
  p->a->symbolize_s = ms__now_s() - t_sym;
  lifetimes(p);
  return timelines(p);
}

/* ---- entry points ------------------------------------------------------------------------- */

const char *ms_analysis_strerror(int code) { return ms_trace_strerror(code); }

static void pass_free(pass_t *p) {
  ms__stats_destroy(&p->ps);
  ms_stats_free(p->ps.st);
  free(p->slots);
  free(p->dense);
  ms__hmap_destroy(&p->sparse);
  ms__hmap_destroy(&p->varidx);
  free(p->ts);
  free(p->si);
  free(p->cells);
  ms__hmap_destroy(&p->cellidx);
}

/* The run is opened lazily (records checked during the pass: one decode of each instead of
 * two), except with a module filter, which needs every stack before the first event. */
static int open_run(const char *run_dir, unsigned flags, ms_run_t **run, char *err,
                    size_t errlen) {
  char **dirs = NULL;
  size_t n = 0;
  int rc = ms_trace_find_runs(run_dir, &dirs, &n, err, errlen);
  if (rc)
    return rc;
  if (n != 1) {
    snprintf(err, errlen,
             "%s holds %zu run directories (memscope.<pid>.<n>): give one of them", run_dir, n);
    ms_trace_free_dirs(dirs, n);
    return MS_TRACE_E_NOTTRACE;
  }
  rc = ms_run_open_flags(dirs[0], flags, run, err, errlen);
  ms_trace_free_dirs(dirs, n);
  return rc;
}

int ms_analyze_run(const char *run_dir, const ms_analysis_opts_t *opts, ms_analysis_t **out,
                   char *err, size_t errlen) {
  *out = NULL;
  char dummy[8];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  err[0] = 0;
  ms_analysis_t *a = calloc(1, sizeof *a);
  if (!a)
    return MS_TRACE_E_NOMEM;
  if (opts) {
    a->opts = *opts;
  } else {
    a->opts.symbolize = 1;
  }
  if (!a->opts.top_stacks)
    a->opts.top_stacks = 20;
  if (!a->opts.max_leaks)
    a->opts.max_leaks = 100;
  if (!a->opts.max_live_records)
    a->opts.max_live_records = 10000;
  a->opts.roles = ms__role_defaults(&a->opts.roles);
  a->opts.suppressions = NULL; /* the caller's strings are not kept */
  a->opts.module = NULL;
  pass_t p;
  memset(&p, 0, sizeof p);
  p.a = a;
  ms__hmap_init(&p.sparse, sizeof(uint32_t));
  ms__hmap_init(&p.varidx, sizeof(uint32_t));
  ms__hmap_init(&p.cellidx, sizeof(uint32_t));
  int rc = 0;
  if (opts && opts->suppressions) {
    rc = ms__suppr_load(&a->suppr, opts->suppressions, err, errlen);
    if (rc)
      goto fail;
  }
  double t_open = ms__now_s();
  ms_salvage_t salv;
  char serr[256] = "";
  int src = ms__salvage_run(run_dir, a->opts.no_salvage, &salv, serr, sizeof serr);
  /* The module filter decides at each allocation whether its stack's first frame is in the
   * module, so every stack must be known before the merge starts. A lazy open collects a
   * chunk's stacks only when the merge reaches that chunk, and a thread may use a stack id
   * whose STACK record sits in another thread's chunk that the merge reaches later (the id is
   * interned before its record is written, and the user took its timestamp before the walk).
   * (a->opts.module is cleared above: read the caller's.) */
  rc = open_run(run_dir, opts && opts->module ? 0 : MS_RUN_LAZY, &a->run, err, errlen);
  if (rc)
    goto fail;
  ms__completeness(a, &salv, src, serr);
  a->open_s = ms__now_s() - t_open;
  rc = ms_symbolizer_new(ms_run_maps(a->run), &a->sym);
  if (rc)
    goto fail;

  const ms_meta_t *meta = ms_run_meta(a->run);
  const char *sample = ms_meta_get(meta, "sample");
  a->sample_name = "all";
  if (sample && !strcmp(sample, "size-classes")) {
    a->sampled = 1;
    a->sample_name = "size-classes";
  } else if (sample && !strcmp(sample, "bytes")) {
    const char *nb = ms_meta_get(meta, "sample_bytes");
    char *end = NULL;
    unsigned long long v = nb ? strtoull(nb, &end, 10) : 0;
    if (v > 0 && end && !*end) {
      a->sampled = 2;
      a->sample_name = "bytes";
      a->sample_bytes = v;
      p.n_bytes = (double)v;
    } else { /* a sampled trace whose interval is unreadable: figures stay as recorded */
      a->sample_name = "bytes(unknown interval)";
    }
  }

  a->nthreads = ms_run_nthreads(a->run);
  size_t nt = a->nthreads ? a->nthreads : 1;
  a->threads = calloc(nt, sizeof *a->threads);
  p.ts = calloc(nt, sizeof *p.ts);
  a->scopes = calloc(MAX_SCOPES, sizeof *a->scopes);
  p.si = calloc(MAX_SCOPES, sizeof *p.si);
  rc = MS_TRACE_E_NOMEM;
  if (!a->threads || !p.ts || !a->scopes || !p.si)
    goto fail;
  /* Per-thread series: full resolution for up to 64 threads, then less, so that many threads
   * cost at most ~2 MiB of series in all. */
  uint32_t tcap = a->nthreads <= 64 ? SERIES_CAP : (uint32_t)(262144 / a->nthreads);
  if (tcap < 64)
    tcap = 64;
  if (ms__series_init(&a->series, SERIES_CAP))
    goto fail;
  for (size_t i = 0; i < a->nthreads; i++)
    if (ms__series_init(&a->threads[i].series, tcap))
      goto fail;
  rc = setup_slots(&p);
  if (rc)
    goto fail;

  double t_pass = ms__now_s();
  const char *module = opts ? opts->module : NULL;
  rc = ms__stats_begin(&p.ps, a->run, module, sizeof(blk_extra_t));
  if (rc)
    goto fail;
  const ms_event_t *ev;
  size_t nev;
  while ((rc = ms__run_next_batch(a->run, &ev, &nev)) == 1) {
    rc = 0;
    for (size_t k = 0; !rc && k < nev; k++)
      rc = on_event(&p, &ev[k]);
    if (rc)
      break;
  }
  if (rc)
    goto fail;
  a->events = p.ps.st->totals.events;
  a->pass_s = ms__now_s() - t_pass;
  double t_fin = ms__now_s();
  rc = finish(&p);
  if (!rc && a->opts.peak_stacks)
    rc = ms__peak_compute(a);
  if (rc)
    goto fail;
  a->finish_s = ms__now_s() - t_fin;
  for (size_t i = 0; i < a->nthreads; i++)
    a->trace_bytes += ms_run_thread(a->run, i)->good_bytes;
  pass_free(&p);
  *out = a;
  return 0;
fail:
  if (rc == MS_TRACE_E_NOMEM && !err[0])
    snprintf(err, errlen, "%s: out of memory", run_dir);
  else if (!err[0])
    snprintf(err, errlen, "%s: %s", run_dir, ms_trace_strerror(rc));
  pass_free(&p);
  ms_analysis_free(a);
  return rc;
}

static void free_leaks(ms_leak_t *l, size_t n) {
  for (size_t i = 0; i < n; i++)
    free((void *)l[i].frames);
  free(l);
}

void ms_analysis_free(ms_analysis_t *a) {
  if (!a)
    return;
  free_leaks(a->leaks, a->nleaks);
  ms__peak_free(a);
  free_leaks(a->hot[0], a->nhot[0]);
  free_leaks(a->hot[1], a->nhot[1]);
  if (a->threads)
    for (size_t i = 0; i < a->nthreads; i++) {
      free(a->threads[i].series.v);
      free(a->threads[i].pts);
    }
  free(a->threads);
  free(a->series.v);
  free(a->pts);
  free(a->scopes);
  free(a->marks);
  free(a->res_other);
  for (size_t i = 0; i < a->nvars; i++) {
    free(a->vars[i].name);
    free(a->vars[i].type);
    free(a->vars[i].file);
  }
  free(a->vars);
  for (size_t i = 0; i < a->nstrings; i++)
    free(a->strings[i]);
  free(a->strings);
  free(a->live);
  ms__suppr_free(&a->suppr);
  ms__flame_free(&a->flame);
  ms_symbolizer_free(a->sym);
  ms_stats_free(a->stats);
  ms_run_close(a->run);
  free(a);
}
