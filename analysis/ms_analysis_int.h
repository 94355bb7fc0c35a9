/* ms_analysis_int.h: internal: the analysis object shared by the engine (ms_analyze.c), the
 * report writers (ms_report.c) and the suppressions (ms_suppress.c). */
#ifndef MS_ANALYSIS_INT_H
#define MS_ANALYSIS_INT_H

#include <stdint.h>

#include "ms_analyze.h"
#include "ms_symbols.h"

#define MS__LT_SUB 16 /* lifetime histogram: sub-buckets per power of two */

typedef struct ms__series_s {
  uint64_t *v;     /* max live bytes per bucket */
  uint32_t cap, n; /* buckets allocated, used */
  uint32_t shift;  /* bucket width 2^shift ns */
  uint64_t last;   /* the value after the last update (carried into empty buckets) */
  uint64_t last_t; /* the latest time an update carried (ns since the first event) */
  uint64_t origin; /* time of the first update: bucket 0 starts there, so a thread that
                    * lives for a part of the run has its buckets over that part */
} ms__series_t;

#define MS__THREAD_TIMELINE_POINTS 256 /* per-thread timeline: points reported, at most */

typedef struct ms__var_s {
  char *name, *type, *file;
  uint64_t line;
  uint64_t blocks, bytes;          /* VAR records attached to a live block, their sizes */
  uint64_t live_blocks, live_bytes; /* of those, still live at the end */
} ms__var_t;

/* One MS_MARK_RESOURCES record as read (ms_resources.c). Its field count is ms_format.h's
 * MS_RES_NFIELDS (checked there): this header is also built without format/. */
#define MS__RES_NFIELDS 17
typedef struct ms__res_rec_s {
  uint64_t ts_ns;          /* when it was taken (the record's time) */
  uint64_t f[MS__RES_NFIELDS]; /* by enum ms_res_field (ms_format.h) */
} ms__res_rec_t;

/* A thread's resource records: the first and the last, and how many. */
typedef struct ms__res_s {
  uint32_t samples;
  ms__res_rec_t first, last;
} ms__res_t;

typedef struct ms__thread_s {
  ms_stats_thread_t rep;  /* reported figures (estimates in sampled modes) */
  uint64_t first_ns, last_ns;
  int have_ts;
  uint64_t temporaries;
  double w_temporaries;
  double avg_size, alloc_rate_per_s, bytes_rate_per_s;
  ms__series_t series;
  ms_timeline_point_t *pts;   /* <= MS__THREAD_TIMELINE_POINTS, the last one the value at the
                               * end (ms_analyze.c, series_points) */
  size_t npts;
  ms__res_t res;          /* resource records (ms_resources.c) */
  uint64_t size_hist[64];     /* its allocation calls by size, buckets as a->size_hist */
  uint64_t life_hist[64];     /* lifetimes of its blocks freed during the trace (by any
                               * thread), log2 buckets as a->life.log2_buckets */
} ms__thread_t;

/* Flame graph (ms_flame.c): allocations per (stack, thread), gathered by the pass. */
typedef struct ms__fg_cell_s {
  uint64_t stack_id;   /* 0 no stack recorded, UINT64_MAX a stack the trace never defined */
  uint32_t thread;     /* thread index */
  uint64_t allocs, bytes;
  double w_allocs, w_bytes; /* sampled modes: the weighted (estimated) figures */
} ms__fg_cell_t;

typedef struct ms__fg_frame_s {
  const char *function, *file, *module; /* symbolizer-owned strings; "" when unknown */
  int line;                             /* 0 when unknown */
  int inlined;                          /* 1: code inlined into the next frame out */
  uint64_t module_offset;               /* only when function is unknown (else 0): keeps
                                         * unknown code at different places apart */
} ms__fg_frame_t;

typedef struct ms__fg_thread_s {
  uint32_t thread;
  uint64_t allocations, allocated_bytes;
} ms__fg_thread_t;

typedef struct ms__fg_stack_s {
  uint64_t stack_id;    /* as in the cells */
  uint32_t *frames;     /* indexes into ms__flame_t.frames, root (outermost) first */
  size_t nframes;
  uint64_t allocations, allocated_bytes;
  double key;           /* rank: bytes (weighted in sampled modes) */
  ms__fg_thread_t *threads; /* largest bytes first */
  size_t nthreads;          /* listed */
  size_t threads_total;     /* threads that allocated from it (more than listed only above
                             * MS__FLAME_MAX_THREADS) */
} ms__fg_stack_t;

typedef struct ms__flame_s {
  ms__fg_frame_t *frames;
  size_t nframes, capframes;
  ms__fg_stack_t *stacks;   /* shown: largest bytes first */
  size_t nstacks;
  size_t stacks_total;      /* stacks with at least one allocation */
  uint64_t rest_allocations, rest_bytes; /* the stacks not shown, summed */
  /* Every stack with an allocation, shown or not, largest bytes first (weighted and rounded in
   * sampled modes): the exports (ms_export.c) list them all, so their sum is the total. */
  struct ms__fg_total_s {
    uint64_t stack_id, allocations, allocated_bytes;
  } *all;
  size_t nall;
} ms__flame_t;

/* A stack as aggregated (ms_leak_t for the report, plus what ranking needs). */
typedef struct ms__group_s {
  ms_leak_t pub;
  double key; /* sort key */
} ms__group_t;

typedef struct ms__suppr_s {
  char **patterns;
  uint64_t *hits; /* leak groups matched, per pattern */
  size_t n;
} ms__suppr_t;

struct ms_analysis_s {
  ms_run_t *run;
  ms_completeness_t completeness;
  ms_stats_t *stats;       /* recorded (exact) figures from the shared stats pass */
  ms_stats_totals_t totals; /* reported: recorded in full mode, estimates in sampled */
  ms_analysis_opts_t opts;
  int sampled;             /* 0 all, 1 size-classes, 2 bytes */
  const char *sample_name;
  uint64_t sample_bytes;
  ms_estimate_t est[6];
  int peak_crossfit;       /* the sampled peak is cross-fitted (ms_analyze.c, peak_crossfit) */
  size_t nthreads;
  ms__thread_t *threads;
  uint64_t temporaries, temporaries_reported;
  ms_lifetime_stats_t life;
  uint64_t size_hist[64];
  ms__series_t series;
  ms_timeline_point_t *pts;
  size_t npts;
  ms_leak_t *leaks;        /* listed groups: unsuppressed largest first, then suppressed */
  size_t nleaks;
  size_t nleak_groups;
  uint64_t suppressed_bytes, suppressed_blocks;
  ms_leak_t *hot[2];
  size_t nhot[2];
  ms_scope_t *scopes;
  size_t nscopes;
  uint64_t scopes_dropped, scope_ends_unmatched;
  ms_mark_t *marks;
  size_t nmarks;
  uint64_t marks_dropped;
  ms__var_t *vars;
  size_t nvars;
  uint64_t vars_unmatched, vars_dropped;
  /* live blocks at the end, largest first, at most opts.max_live_records */
  struct ms__live_rec_s {
    uint64_t addr, size, alloc_ns, stack_id;
    uint32_t tid;
    int32_t var; /* index into vars, -1 none */
  } *live;
  size_t nlive;
  uint64_t live_total;
  ms_symbolizer_t *sym;
  ms__flame_t flame;
  ms__suppr_t suppr;
  char **strings; /* owned names (scopes, marks) */
  size_t nstrings, capstrings;
  /* resource records of other threads, taken at process end by the exiting thread
   * (MS_RES_AT_END_OTHER): given to their threads by tid and thread_seq at the end */
  ms__res_rec_t *res_other;
  size_t nres_other, capres_other;
  uint64_t res_malformed, res_unmatched; /* records not readable / of no thread in the trace */
  /* timings and sizes (performance report) */
  double open_s, pass_s, finish_s, symbolize_s;
  uint64_t trace_bytes, events;
  struct ms__peak_s *peak; /* live bytes per stack at the peak (ms_peak.c), NULL unless asked */
};

/* ---- ms_peak.c ---- */
/* After the pass: a second pass up to the peak (opts.peak_stacks > 0). 0 or a negative code. */
int ms__peak_compute(ms_analysis_t *a);
void ms__peak_free(ms_analysis_t *a);
/* summary.json's "peak_stacks" (only when asked for). 0 or -1 (out of memory). */
int ms__peak_json(cJSON *root, const ms_analysis_t *a, cJSON *(*frames)(const ms_frame_t *, size_t));

/* ---- ms_suppress.c ---- */
int ms__suppr_load(ms__suppr_t *s, const char *path, char *err, size_t errlen);
void ms__suppr_free(ms__suppr_t *s);
/* Index of the first pattern matching a frame's function, file or module, or -1. */
long ms__suppr_match(const ms__suppr_t *s, const ms_frame_t *frames, size_t n);
/* LSan's template match: '*' any run, '^' anchors the start, '$' the end, otherwise the
 * pattern may occur anywhere in str. */
int ms__template_match(const char *pattern, const char *str);

/* ---- ms_resources.c ---- */
/* A MARK event of subkind MS_MARK_RESOURCES. 0 or MS_TRACE_E_NOMEM. */
int ms__res_on_mark(ms_analysis_t *a, const ms_event_t *e);
/* After the pass: gives the records taken by another thread at process end to theirs. */
void ms__res_finish(ms_analysis_t *a);
/* Thread i's measured CPU percent and I/O operations, or -1 each when unknown. */
void ms__res_figures(const ms_analysis_t *a, size_t i, double *cpu_percent, double *io_ops);
/* Adds threads[i].resources (or null and resources_reason) and the flat keys cpu_percent,
 * cpu_time_s, io_ops to o (docs/dashboard-data.md, section 1). 0 or -1 (out of memory). */
int ms__res_json(cJSON *o, const ms_analysis_t *a, size_t i);
/* ---- ms_analyze.c ---- */
/* Frames of stack `id` (0 or undefined: none), symbolized, malloc'd into *out. 0 or
 * MS_TRACE_E_NOMEM. */
int ms__stack_frames(ms_analysis_t *a, uint64_t id, ms_frame_t **out, size_t *n);

/* ---- ms_series.c ---- */
/* A series of `cap` buckets (0 or MS_TRACE_E_NOMEM). */
int ms__series_init(ms__series_t *s, uint32_t cap);
/* ms__series_update's slow path: a new bucket, compaction, the first update. */
void ms__series_update_slow(ms__series_t *s, uint64_t rel, uint64_t value);
/* The reported points (malloc'd into *pts): at most max_points, see ms_series.c. 0 or
 * MS_TRACE_E_NOMEM. */
int ms__series_points(const ms__series_t *s, size_t max_points, ms_timeline_point_t **pts,
                      size_t *npts);

/* Records `value` (live bytes after an event) at time rel (ns since the first event): inline,
 * as the pass makes one or two of these per event. */
static inline void ms__series_update(ms__series_t *s, uint64_t rel, uint64_t value) {
  /* Fast path, nearly every event: the time falls in the latest bucket (or before it). A time
   * before the origin wraps around and takes the slow path. */
  if (__builtin_expect(((rel - s->origin) >> s->shift) < s->n, 1)) {
    uint64_t *v = &s->v[s->n - 1];
    if (value > *v)
      *v = value;
    s->last = value;
    if (rel > s->last_t)
      s->last_t = rel;
    return;
  }
  ms__series_update_slow(s, rel, value);
}

/* ---- ms_gamma.c ---- */
/* Fay-Feuer's 95 % interval of a sampled total y with variance estimate v, one unseen sampled
 * block being worth y_u with variance v_u (both > 0). */
void ms__gamma_interval(double y, double v, double y_u, double v_u, double *lo, double *hi);

/* ---- ms_flame.c ---- */
/* Builds a->flame from the pass's cells (any order; several cells of one (stack, thread) are
 * summed): stacks ranked by bytes, the largest shown (at most MS__FLAME_MAX_STACKS, within
 * about MS__FLAME_MAX_BYTES of compact JSON), their frames symbolized into a shared table.
 * cells is reordered. 0 or MS_TRACE_E_NOMEM. */
#define MS__FLAME_MAX_STACKS 400          /* stacks shown at most */
#define MS__FLAME_MAX_BYTES (384 * 1024)  /* their JSON (frames, stacks, threads), about */
#define MS__FLAME_MAX_THREADS 1024        /* thread entries listed per stack at most */
int ms__flame_build(ms_analysis_t *a, ms__fg_cell_t *cells, size_t ncells);
void ms__flame_free(ms__flame_t *f);

/* ---- ms_report.c ---- */
double ms__now_s(void);

/* ---- ms_roles.c ---- */
/* SPEC §8's role and alert thresholds with every zero field not given set to its default. */
ms_role_thresholds_t ms__role_defaults(const ms_role_thresholds_t *in);

/* ---- ms_completeness.c ---- */
#include "ms_salvage.h"
/* Salvages the run at path (a run directory or its parent holding one), or with no_salvage
 * only counts what its rings hold. 0 or -errno (-EBUSY: the process still runs). */
int ms__salvage_run(const char *path, int no_salvage, ms_salvage_t *s, char *err,
                    size_t errlen);
/* Fills a->completeness from meta.txt's end part, the damage found and the salvage. */
void ms__completeness(ms_analysis_t *a, const ms_salvage_t *s, int salvage_rc,
                      const char *salvage_err);

#endif /* MS_ANALYSIS_INT_H */
