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

#include "ms_trace.h"

typedef struct ms_analysis_opts_s {
  const char *suppressions;  /* file of LSan-style "leak:PATTERN" lines, or NULL */
  size_t top_stacks;         /* hottest stacks kept by count and by bytes (default 20) */
  size_t max_leaks;          /* leak groups kept in full detail (default 100) */
  int symbolize;             /* 1 = resolve frames to function/file/line with libdw */
} ms_analysis_opts_t;

typedef struct ms_frame_s {
  uint64_t address;       /* return address as recorded */
  const char *function;   /* "" when unknown */
  const char *file;       /* "" when unknown */
  int line;               /* 0 when unknown */
  const char *module;     /* mapped file, "" when unknown */
} ms_frame_t;

typedef struct ms_leak_s {
  uint64_t bytes, blocks;     /* estimated (weighted) in sampled modes */
  uint64_t stack_id;
  size_t nframes;
  const ms_frame_t *frames;   /* innermost first */
  const char *var_name;       /* MEMSCOPE_TRACK_VAR name of one of the blocks, or "" */
  const char *type_name;      /* "" when none */
  int suppressed;             /* matched a suppression: listed, not counted */
} ms_leak_t;

typedef struct ms_scope_s {
  const char *name;
  uint64_t begin_ns, end_ns;  /* end_ns 0 when the scope never ended */
  uint64_t allocations, frees, allocated_bytes;
  uint64_t peak_live_bytes;   /* max over the window of bytes allocated inside it and live */
  uint64_t leaked_blocks, leaked_bytes; /* allocated inside, still live at its end */
} ms_scope_t;

/* Live heap over time, max-preserving downsampled to at most 2000 points per series: each
 * point holds the highest live-bytes value in its time bucket, so the peak is never lost. */
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
/* Process-wide series (thread < 0) or one thread's (by index, live bytes it allocated). */
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

/* Writes a cJSON tree to path atomically (temp file + rename). 0 or -errno. */
int ms_write_json_file(const char *path, const cJSON *json);

#endif /* MS_ANALYZE_H */
