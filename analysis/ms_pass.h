/* ms_pass.h: the analysis pass's private types, shared by the pass (ms_analyze.c) and its
 * end-of-trace leak and hot-stack phases (ms_leaks.c). Not a public header: nothing outside
 * analysis/ms_analyze.c and ms_leaks.c includes it. */
#ifndef MS_PASS_H
#define MS_PASS_H

#include <math.h>
#include <stdint.h>

#include "ms_analysis_int.h"
#include "ms_hmap.h"
#include "ms_stats_pass.h"

#define MAX_SCOPES 4096       /* scopes kept; more are counted in scopes_dropped */
#define MAX_OPEN_SCOPES 64    /* scopes open at once */
#define MAX_MARKS 100000
#define MAX_VARS 65536        /* distinct (name, type, file, line) */
#define MAX_NAME 127          /* bytes kept of a scope, mark or variable name */
#define SERIES_CAP 4096       /* buckets of the process-wide series before compaction */
#define TIMELINE_POINTS 2000  /* points per reported series */
#define SLOT_NONE 0           /* events without a stack */
#define SLOT_UNKNOWN 1        /* events naming a stack id that no STACK record defines */
#define SLOT_NEW UINT32_MAX   /* dense map: no slot for this id yet */
#define MAX_PENDING_SLOTS 65536 /* slots for ids not (yet) defined when first named */
#define FG_CACHE 128          /* per-thread direct-mapped cache of flame-graph cells */

/* Per-block data kept after ms__block_t in the live table. */
typedef struct blk_extra_s {
  uint64_t alloc_ns;
  uint32_t slot;   /* stack aggregate */
  uint32_t var;    /* variable index + 1, 0 none */
  uint32_t epoch;  /* scope epoch when allocated: inside scope s iff epoch >= s's */
  uint32_t weight; /* size-classes: the event's weight (calls it stands for) */
} blk_extra_t;

#define EXTRA(p) ((blk_extra_t *)(void *)((unsigned char *)(p) + MS__BLOCK_EXTRA_OFFSET))
#define BLOCK(p) ((const ms__block_t *)(const void *)(p))

typedef struct slot_s {
  uint64_t stack_id;
  uint64_t allocs, bytes;
  double w_allocs, w_bytes;
  uint64_t leak_blocks, leak_bytes;
  double w_leak_blocks, w_leak_bytes;
  uint32_t leak_var; /* a variable name of one of its leaked blocks, index + 1 */
  uint64_t temps;    /* its temporaries (count_temporary), and weighted in sampled modes */
  double w_temps;
  uint32_t real;     /* the slot that stands for this one: itself, or SLOT_UNKNOWN once the
                        pass has shown its stack id undefined (fold_undefined) */
} slot_t;

typedef struct scope_int_s {
  uint32_t epoch;
  int open;
  uint64_t live_bytes, live_blocks;
} scope_int_t;

/* A sampled live-bytes estimate over time, process-wide or one thread's: the Horvitz-Thompson
 * estimate and its variance now, the maximum so far with the variance and time there, and
 * for the cross-fitted peak (live_peak) the sampled blocks split in two halves by address:
 * per half its estimate and variance, its highest estimate and, at that instant, the other
 * half's estimate and variance, and its sampled allocations. */
typedef struct live_est_s {
  double live, var, max, var_at_max;
  uint64_t max_ns;
  double h_live[2], h_var[2], h_max[2], h_other[2], h_other_var[2];
  uint64_t h_n[2];
} live_est_t;

typedef struct thr_state_s {
  uint64_t last_alloc;   /* block of this thread's latest allocator event, if an allocation */
  int has_last;
  uint32_t release_var;  /* variable of the block a flagged FREE released, for the REALLOC */
  live_est_t le;          /* sampled modes: this thread's live bytes */
  double w_allocs, w_frees, w_bytes, w_reallocs;
  /* The flame-graph cells of the stacks this thread allocated from lately, by slot modulo
   * FG_CACHE: a thread allocates from a few stacks over and over, so nearly every allocation
   * finds its cell here and the (slot, thread) map is looked up only on a miss. */
  uint32_t fg_slot[FG_CACHE];
  uint32_t fg_cell[FG_CACHE]; /* cell index + 1, 0 empty */
} thr_state_t;

typedef struct pass_s {
  ms_analysis_t *a;
  ms__stats_pass_t ps;
  slot_t *slots;
  size_t nslots;
  size_t capslots;
  size_t pending_slots; /* slots made for an id not defined when first named */
  uint32_t *dense; /* stack id -> slot, for ids below ndense */
  uint64_t ndense;
  ms_hmap_t sparse; /* stack id -> slot, when ids are too sparse for an array */
  thr_state_t *ts;
  scope_int_t *si;
  uint32_t open[MAX_OPEN_SCOPES];
  size_t nopen;
  uint32_t epoch;
  ms_hmap_t varidx; /* hash of (name, type, file, line) -> index */
  size_t capvars, capmarks;
  uint64_t t0;
  int have_t0;
  uint64_t lt_fine[64 * MS__LT_SUB];
  double lt_sum;
  /* sampled modes */
  double n_bytes; /* bytes:N */
  live_est_t le; /* process-wide live bytes */
  double w_allocs, var_allocs, w_bytes, var_bytes;
  double w_frees, w_reallocs, w_temps;
  /* Interval for the sampled peak (see peak_interval): the highest est + 1.96 se, and the
   * highest est - z se for z = 2..6, over every sampled allocation. */
  double peak_hi, peak_lo[5];
  uint64_t min_sampled_size; /* smallest non-zero size of a sampled allocation (0: none) */
  /* Flame graph: allocations per (slot, thread). During the pass a cell's stack_id holds its
   * slot; finish() turns it into the stack id. */
  ms__fg_cell_t *cells;
  size_t ncells, capcells;
  ms_hmap_t cellidx; /* slot << 32 | thread -> cell index */
} pass_t;

/* Sampling weight of a recorded block of `size` bytes (w = 1/p) and its Horvitz–Thompson
 * variance factor (1-p)/p². */
static inline void block_weight(const pass_t *p, uint64_t size, uint32_t weight, double *w,
                                double *vf) {
  if (p->a->sampled == 2) {
    double prob = size ? -expm1(-(double)size / p->n_bytes) : 1.0;
    if (prob <= 1e-300)
      prob = 1e-300;
    *w = 1.0 / prob;
    *vf = (1.0 - prob) / (prob * prob);
  } else if (p->a->sampled == 1) {
    double k = weight ? (double)weight : 1.0;
    *w = k;
    *vf = (k - 1.0) * k; /* p = 1/k */
  } else {
    *w = 1.0;
    *vf = 0.0;
  }
}

static inline uint64_t round_u64(double v) {
  if (!(v > 0))
    return 0;
  if (v >= 1.8e19)
    return UINT64_MAX;
  return (uint64_t)llround(v);
}

/* What the end-of-trace phases hand one another: the weighted leak sums (sampled mode) and
 * the cross-fitted peak, both needed by the reported totals and by the estimates. */
typedef struct end_sums_s {
  double w_leak_blocks, w_leak_bytes;     /* Horvitz-Thompson sums over the live blocks */
  double var_leak_blocks, var_leak_bytes; /* their variances */
  double peak_value, peak_var;            /* live_peak() of the whole process */
} end_sums_t;

/* ---- ms_leaks.c: the leak and hot-stack phases of the end of the trace ------------------- */

/* One walk over the blocks still live, which every leak figure comes from. */
int ms__leaks_collect_live(pass_t *p, end_sums_t *e);
/* Leak groups by stack, suppressions applied, the listed ones kept. */
int ms__leaks_groups(pass_t *p);
/* The hottest stacks by count and by bytes, symbolized. */
int ms__leaks_hot_stacks(pass_t *p);

#endif
