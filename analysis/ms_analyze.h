/* ms_analyze.h: the analysis engine: one streaming pass over a run's merged events giving
 * exact totals, peaks, leaks grouped by symbolized stack, temporaries, lifetimes, sizes,
 * hot stacks, variables, scopes and marks, sampled-mode estimates; and the JSON reports.
 *
 * Definitions (docs/analysis.md): allocation call, live bytes, peak, leak, temporary,
 * lifetime as SPEC §4 says. Memory is bounded by live blocks, distinct stacks and threads,
 * never by trace length. Errors: 0 or a negative code, as in ms_trace.h.
 *
 * The harness (harness/) uses this to build reports and assertions; it adds `assertions`,
 * `overhead` and resource figures to the summary JSON it gets from here. */
#ifndef MS_ANALYZE_H
#define MS_ANALYZE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ms_symbols.h" /* ms_frame_t */
#include "ms_trace.h"

/* SPEC §8 role and alert thresholds. A zero field takes its default (in parentheses) unless
 * its bit in `given` is set. Sizes are in bytes, MB meaning 10^6 as the harness's units do.
 * A thread passes a threshold when its figure is strictly greater (balanced: at least). */
typedef struct ms_role_thresholds_s {
  uint64_t memory_peak_bytes;   /* memory-intensive: peak above this (18 MB) ... */
  uint64_t memory_allocations;  /* ... and more allocations than this (1200) */
  double cpu_percent;           /* cpu-intensive above (25) */
  double io_ops;                /* io-intensive above (2000) */
  uint64_t balanced_allocations;/* balanced: at least this many allocations (1000) */
  uint64_t alert_high_bytes;    /* alert high: peak above (20 MB) or CPU above (30 %) */
  double alert_high_cpu;
  uint64_t alert_medium_bytes;  /* alert medium: peak above (15 MB) or CPU above (20 %) */
  double alert_medium_cpu;
  /* Added for issue 10; zero-initialized means "no field given, source: defaults". */
  unsigned given;               /* bit k: the k-th field above was given (file or command
                                 * line) and keeps its value, 0 included */
  char source[256];             /* where the given fields came from: "" (defaults), the file's
                                 * path, "command line", joined by " + " */
} ms_role_thresholds_t;

typedef struct ms_analysis_opts_s {
  const char *suppressions;  /* file of LSan-style "leak:PATTERN" lines, or NULL */
  size_t top_stacks;         /* hottest stacks kept by count and by bytes (default 20) */
  size_t max_leaks;          /* leak groups kept in full detail (default 100) */
  int symbolize;             /* 1 = resolve frames to function/file/line with libdw */
  /* Added after the first version; zero means the default. */
  const char *module;        /* also count allocations whose caller lies in this module
                              * (ms_stats' module filter; path or basename), or NULL */
  ms_role_thresholds_t roles;
  size_t max_live_records;   /* live blocks listed in _memory_analysis.json (default 10000) */
  int no_salvage;            /* 1 = never write into the trace: a run without its end part is
                              * only counted (ms_salvage.h), not salvaged */
  size_t peak_stacks;        /* > 0: also find the live bytes per stack at the peak (a second
                              * pass up to the peak, ms_peak.c) and keep this many stacks,
                              * largest first (SIZE_MAX: all); 0: not computed (the default:
                              * the normal analysis pays nothing for it) */
} ms_analysis_opts_t;

typedef struct ms_leak_s {
  uint64_t bytes, blocks;     /* estimated (weighted) in sampled modes */
  uint64_t stack_id;
  size_t nframes;
  const ms_frame_t *frames;   /* innermost first */
  const char *var_name;       /* MEMSCOPE_TRACK_VAR name of one of the blocks, or "" */
  const char *type_name;      /* "" when none */
  int suppressed;             /* matched a suppression: listed, not counted */
  uint64_t temporaries;       /* hot stacks only: its temporary allocations (estimated in
                               * sampled modes), 0 elsewhere */
} ms_leak_t;

typedef struct ms_scope_s {
  const char *name;
  uint64_t begin_ns, end_ns;  /* end_ns 0 when the scope never ended */
  uint64_t allocations, frees, allocated_bytes;
  uint64_t peak_live_bytes;   /* max over the window of bytes allocated inside it and live */
  uint64_t leaked_blocks, leaked_bytes; /* allocated inside, still live at its end */
} ms_scope_t;

/* Live heap over time, max-preserving downsampled to at most 2000 points (process) or 256
 * (a thread): each point holds the highest live-bytes value in its time bucket, so the peak
 * is never lost, and the last one the value at the end; points inside runs of equal values
 * are left out (docs/analysis.md, "Timeline"). */
typedef struct ms_timeline_point_s {
  uint64_t t_ns;        /* relative to the first event */
  uint64_t live_bytes;
} ms_timeline_point_t;

typedef struct ms_analysis_s ms_analysis_t;

/* Analyzes one run directory. On success *out is owned by the caller (ms_analysis_free). A
 * damaged trace still succeeds; ms_analysis_partial() says so. */
int ms_analyze_run(const char *run_dir, const ms_analysis_opts_t *opts, ms_analysis_t **out,
                   char *err, size_t errlen);
void ms_analysis_free(ms_analysis_t *a);

int ms_analysis_partial(const ms_analysis_t *a);
const ms_stats_totals_t *ms_analysis_totals(const ms_analysis_t *a);
size_t ms_analysis_nthreads(const ms_analysis_t *a);
const ms_stats_thread_t *ms_analysis_thread(const ms_analysis_t *a, size_t i);
size_t ms_analysis_nleaks(const ms_analysis_t *a); /* largest first */
const ms_leak_t *ms_analysis_leak(const ms_analysis_t *a, size_t i);
size_t ms_analysis_nscopes(const ms_analysis_t *a);
const ms_scope_t *ms_analysis_scope(const ms_analysis_t *a, size_t i);
/* Process-wide series (thread < 0) or one thread's (by index, live bytes it allocated; over
 * the thread's own span after a point (0, 0)). */
size_t ms_analysis_timeline(const ms_analysis_t *a, int thread, const ms_timeline_point_t **pts);
/* Allocation counts per size class: bucket k holds sizes in [2^k, 2^(k+1)), bucket 0 also 0. */
size_t ms_analysis_size_histogram(const ms_analysis_t *a, const uint64_t **counts);
/* The scope named `name` (the first one with that name), or NULL. */
const ms_scope_t *ms_analysis_find_scope(const ms_analysis_t *a, const char *name);

/* summary.json content (schema memscope.summary/1, docs/summary-schema.md) without the
 * harness's parts: "assertions" is an empty array and "overhead" null for the harness to
 * fill. Caller owns the returned tree (cJSON_Delete). */
cJSON *ms_analysis_summary_json(const ms_analysis_t *a);

/* Writes the detail files into out_dir with file names starting with `prefix`:
 * PREFIX_memory_analysis.json, _lifetime.json, _performance.json, _comprehensive.json,
 * _resource_rankings.json. Returns 0 or -errno (out_dir unwritable, disk full: a file that
 * cannot be written whole is removed, never left half-written). */
int ms_analysis_write_details(const ms_analysis_t *a, const char *out_dir, const char *prefix,
                              char *err, size_t errlen);

/* mkdir -p (mode 0755 for what it creates). 0, or -errno (-ENOTDIR when path is a file). */
int ms_mkdirs(const char *path);

/* Writes a cJSON tree to path atomically (temp file + rename). 0 or -errno. */
int ms_write_json_file(const char *path, const cJSON *json);

/* ---- additions ------------------------------------------------------------------------- */

/* Error text for a code from this header (ms_trace_strerror's codes and -errno). */
const char *ms_analysis_strerror(int code);

/* The run as analyzed (valid until ms_analysis_free), for the harness's own reading of meta,
 * maps and damage. */
const ms_run_t *ms_analysis_run(const ms_analysis_t *a);
/* The module filter's figures (opts.module), or NULL when none was asked for. */
const ms_stats_module_t *ms_analysis_module(const ms_analysis_t *a);
/* Totals as recorded: in sampled modes the sampled events themselves, where
 * ms_analysis_totals() gives the estimates of the whole program. Equal in full mode. */
const ms_stats_totals_t *ms_analysis_recorded_totals(const ms_analysis_t *a);
/* 1 in the sampled modes (size-classes, bytes:N): the figures are estimates. */
int ms_analysis_sampled(const ms_analysis_t *a);

/* Estimate of one figure in a sampled run: value, standard error (Horvitz–Thompson variance
 * Σ (1-p)/p² · x² over the sampled blocks) and a 95 % interval: for the sums (allocations,
 * bytes, leaks) Fay and Feuer's gamma interval with one unseen sampled block (so a total
 * that no sample saw still has an upper end above 0), for the peak the cross-fitted one
 * (docs/analysis.md, "Sampled modes"). In full mode se = 0 and the interval is the value. */
typedef struct ms_estimate_s {
  double value, std_error, ci95_low, ci95_high;
} ms_estimate_t;
typedef enum ms_estimate_kind_e {
  MS_EST_ALLOCATIONS,
  MS_EST_ALLOCATED_BYTES,
  MS_EST_PEAK_LIVE_BYTES,
  MS_EST_LEAKED_BYTES,
  MS_EST_LEAKED_BLOCKS,
  MS_EST_FREES,
} ms_estimate_kind_t;
ms_estimate_t ms_analysis_estimate(const ms_analysis_t *a, ms_estimate_kind_t kind);

/* Temporaries (heaptrack's definition), total and per thread index. */
uint64_t ms_analysis_temporaries(const ms_analysis_t *a);
uint64_t ms_analysis_thread_temporaries(const ms_analysis_t *a, size_t thread);

/* Lifetimes (free time - alloc time) of blocks released during the trace. median_ns is the
 * midpoint of its histogram bucket (16 per power of two: exact below 32 ns, within 3.2 %
 * above). log2 bucket k counts lifetimes in [2^k, 2^(k+1)) ns, bucket 0 also 0. */
typedef struct ms_lifetime_stats_s {
  uint64_t count, min_ns, median_ns, max_ns;
  double mean_ns;
  uint64_t log2_buckets[64];
} ms_lifetime_stats_t;
const ms_lifetime_stats_t *ms_analysis_lifetimes(const ms_analysis_t *a);

/* Hottest allocation stacks, by allocation count (by_bytes 0) or by bytes (1), hottest first.
 * Leak fields of ms_leak_t hold the stack's allocations (blocks) and allocated bytes here. */
size_t ms_analysis_nhot(const ms_analysis_t *a, int by_bytes);
const ms_leak_t *ms_analysis_hot(const ms_analysis_t *a, int by_bytes, size_t i);

typedef struct ms_mark_s {
  const char *name;
  uint32_t kind;        /* MS_MARK_POINT (1) or MS_MARK_SNAPSHOT (4) */
  uint32_t tid;
  uint64_t t_ns;        /* CLOCK_MONOTONIC */
  uint64_t live_bytes;  /* process-wide live bytes right after the mark (estimate if sampled) */
  uint64_t live_blocks;
} ms_mark_t;
size_t ms_analysis_nmarks(const ms_analysis_t *a);
const ms_mark_t *ms_analysis_mark(const ms_analysis_t *a, size_t i);

/* Role and alert of a thread by SPEC §8 (strings "memory_intensive", "io_intensive",
 * "cpu_intensive", "balanced", "light", tried in that order; "high", "medium", "normal").
 * cpu_percent or io_ops < 0 means unknown: it passes no threshold. th NULL = defaults.
 * (ms_roles.c; docs/analysis.md, "Roles, alerts, correlation, bottlenecks".) */
const char *ms_thread_role(const ms_role_thresholds_t *th, uint64_t peak_live_bytes,
                           uint64_t allocations, double cpu_percent, double io_ops);
const char *ms_thread_alert(const ms_role_thresholds_t *th, uint64_t peak_live_bytes,
                            double cpu_percent);

/* ---- ms_roles.c: roles, alerts, correlation and bottlenecks of a finished summary --------- */

/* For every threads[i] of a summary.json tree: role, alert, role_basis (the figures known and
 * unknown), role_reason and alert_reason, from its peak_live_bytes, allocations, cpu_percent
 * and io_ops (null or missing = unknown); and the top-level "roles", "correlation" (Pearson r
 * of cpu_percent against allocated_bytes_per_s over tracked threads, least-squares line, null
 * with a reason under 3 points or with no variance) and "bottlenecks" (hot stacks by count and
 * by bytes, largest unsuppressed leaks, highest-churn threads), as docs/dashboard-data.md §4
 * says. Replaces what an earlier call wrote: call it again once more figures are merged.
 * thresholds NULL = defaults. 0, -EINVAL (not an object), -ENOMEM (the tree may then hold a
 * part of the new keys). */
int ms_roles_apply(cJSON *summary, const ms_role_thresholds_t *thresholds);

/* Sets one threshold from "KEY=VALUE" (KEY a field name of ms_role_thresholds_t, VALUE a plain
 * number >= 0, whole for bytes and counts) and adds "command line" to t->source. 0, or
 * -EINVAL with one line in err naming the key; t unchanged then. */
int ms_role_thresholds_set(ms_role_thresholds_t *t, const char *assignment, char *err,
                           size_t errlen);
/* Sets the thresholds a JSON file gives ({"cpu_percent": 50, "io_ops": 100}; keys as above,
 * numbers only) and adds the path to t->source. 0, or -errno / -EINVAL with one line in err
 * (unknown key, wrong type, negative value, not JSON, not a regular file); t unchanged then. */
int ms_role_thresholds_load(ms_role_thresholds_t *t, const char *path, char *err,
                            size_t errlen);

/* Leak groups in total (ms_analysis_nleaks() lists at most max_leaks) and suppressed ones. */
size_t ms_analysis_nleak_groups(const ms_analysis_t *a);
uint64_t ms_analysis_suppressed_bytes(const ms_analysis_t *a);
uint64_t ms_analysis_suppressed_blocks(const ms_analysis_t *a);

/* LSan-style leak suppressions ("leak:PATTERN" lines), as the engine applies them
 * (opts.suppressions), for callers that match frames themselves (the fuzz driver). */
typedef struct ms_suppressions_s ms_suppressions_t;
int ms_suppressions_load(const char *path, ms_suppressions_t **out, char *err, size_t errlen);
/* 1 when a pattern matches a function, file or module of frames[0, n). */
int ms_suppressions_match(const ms_suppressions_t *s, const ms_frame_t *frames, size_t n);
void ms_suppressions_free(ms_suppressions_t *s);

/* Whether the trace holds every event of the process (docs/analysis.md, "Complete runs"). A
 * run that is not complete must never pass an assertion by default. */
typedef struct ms_completeness_s {
  int complete;          /* every event the process made is in the trace */
  long long events_lost; /* events known to be missing; -1 when the count is not known */
  int stopped;           /* tracking stopped on an error (disk full, cannot create a file) */
  int salvaged;          /* the process ended without exit(); its records were recovered
                          * from its rings (end_reason=salvaged) */
  char reason[240];      /* one line saying why the run is not complete; "" when it is */
} ms_completeness_t;
const ms_completeness_t *ms_analysis_completeness(const ms_analysis_t *a);

/* ---- ms_export.c: standard exports for other tools (docs/exports.md) ---------------------- */

/* Collapsed stacks ("root;...;leaf N" per line, as flamegraph.pl, inferno and speedscope
 * read them) into path, written whole or not at all: one line per recorded stack with N its
 * allocated bytes (by_count 0) or allocation calls (1), every stack listed, so the values sum
 * to the summary's totals.allocated_bytes / allocations (in sampled modes each stack's
 * rounded estimate). 0 or -errno with one line in err. */
int ms_export_collapsed(const ms_analysis_t *a, const char *path, int by_count, char *err,
                        size_t errlen);

/* Valgrind Massif's massif.out format (read by ms_print, massif-visualizer) into path: one
 * snapshot per point of the process timeline (time in ms since the first event, mem_heap_B
 * its live bytes), the highest marked heap_tree=peak. The peak's tree is Massif's call tree
 * of the live bytes per stack at the peak when the analysis computed them (opts.peak_stacks,
 * a full run), else the root only. mem_heap_extra_B and mem_stacks_B are not measured and
 * written as 0. 0 or -errno with one line in err. */
int ms_export_massif(const ms_analysis_t *a, const char *path, char *err, size_t errlen);

/* ---- ms_peak.c: live bytes per stack at the peak (opts.peak_stacks) ---------------------- */

/* 1 when the figures below were computed; else 0 with *reason (not asked for, a sampled run,
 * no live byte ever). */
int ms_analysis_peak_computed(const ms_analysis_t *a, const char **reason);
/* Stacks listed (at most opts.peak_stacks), and in *total those holding a block at the peak. */
size_t ms_analysis_npeak_stacks(const ms_analysis_t *a, size_t *total);
/* Stack i, largest live bytes first: blocks and bytes are those live at the moment the
 * process's live bytes first reached their peak (heaptrack's "peak contribution"). */
const ms_leak_t *ms_analysis_peak_stack(const ms_analysis_t *a, size_t i);
/* The allocation that first reached the peak: its stack (frames innermost first, NULL when
 * none), and the sum of live bytes over all stacks at that moment (= the peak). */
const ms_frame_t *ms_analysis_peak_event(const ms_analysis_t *a, uint64_t *stack_id,
                                         size_t *nframes, uint64_t *sum_bytes);

#endif /* MS_ANALYZE_H */
