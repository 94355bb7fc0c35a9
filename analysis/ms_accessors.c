/* ms_accessors.c: the analysis's read-only accessors (ms_analyze.h); the pass itself is in
 * ms_analyze.c, SPEC §8's roles and alerts in ms_roles.c. */
#include <string.h>

#include "ms_analysis_int.h"

/* ---- accessors ---------------------------------------------------------------------------- */

int ms_analysis_partial(const ms_analysis_t *a) { return !a->completeness.complete; }
const ms_stats_totals_t *ms_analysis_totals(const ms_analysis_t *a) { return &a->totals; }
const ms_stats_totals_t *ms_analysis_recorded_totals(const ms_analysis_t *a) {
  return &a->stats->totals;
}
int ms_analysis_sampled(const ms_analysis_t *a) { return a->sampled != 0; }
size_t ms_analysis_nthreads(const ms_analysis_t *a) { return a->nthreads; }
const ms_stats_thread_t *ms_analysis_thread(const ms_analysis_t *a, size_t i) {
  return i < a->nthreads ? &a->threads[i].rep : NULL;
}
size_t ms_analysis_nleaks(const ms_analysis_t *a) { return a->nleaks; }
const ms_leak_t *ms_analysis_leak(const ms_analysis_t *a, size_t i) {
  return i < a->nleaks ? &a->leaks[i] : NULL;
}
size_t ms_analysis_nleak_groups(const ms_analysis_t *a) { return a->nleak_groups; }
uint64_t ms_analysis_suppressed_bytes(const ms_analysis_t *a) { return a->suppressed_bytes; }
uint64_t ms_analysis_suppressed_blocks(const ms_analysis_t *a) { return a->suppressed_blocks; }
size_t ms_analysis_nscopes(const ms_analysis_t *a) { return a->nscopes; }
const ms_scope_t *ms_analysis_scope(const ms_analysis_t *a, size_t i) {
  return i < a->nscopes ? &a->scopes[i] : NULL;
}
const ms_scope_t *ms_analysis_find_scope(const ms_analysis_t *a, const char *name) {
  for (size_t i = 0; name && i < a->nscopes; i++)
    if (!strcmp(a->scopes[i].name, name))
      return &a->scopes[i];
  return NULL;
}
size_t ms_analysis_timeline(const ms_analysis_t *a, int thread, const ms_timeline_point_t **pts) {
  if (thread < 0) {
    *pts = a->pts;
    return a->npts;
  }
  if ((size_t)thread >= a->nthreads) {
    *pts = NULL;
    return 0;
  }
  *pts = a->threads[thread].pts;
  return a->threads[thread].npts;
}
size_t ms_analysis_size_histogram(const ms_analysis_t *a, const uint64_t **counts) {
  *counts = a->size_hist;
  return 64;
}
const ms_run_t *ms_analysis_run(const ms_analysis_t *a) { return a->run; }
const ms_stats_module_t *ms_analysis_module(const ms_analysis_t *a) {
  return a->stats->module.enabled ? &a->stats->module : NULL;
}
ms_estimate_t ms_analysis_estimate(const ms_analysis_t *a, ms_estimate_kind_t kind) {
  if ((unsigned)kind >= 6)
    return (ms_estimate_t){0, 0, 0, 0};
  return a->est[kind];
}
uint64_t ms_analysis_temporaries(const ms_analysis_t *a) { return a->temporaries_reported; }
uint64_t ms_analysis_thread_temporaries(const ms_analysis_t *a, size_t i) {
  return i < a->nthreads ? a->threads[i].temporaries : 0;
}
const ms_lifetime_stats_t *ms_analysis_lifetimes(const ms_analysis_t *a) { return &a->life; }
size_t ms_analysis_nhot(const ms_analysis_t *a, int by_bytes) { return a->nhot[by_bytes ? 1 : 0]; }
const ms_leak_t *ms_analysis_hot(const ms_analysis_t *a, int by_bytes, size_t i) {
  int k = by_bytes ? 1 : 0;
  return i < a->nhot[k] ? &a->hot[k][i] : NULL;
}
size_t ms_analysis_nmarks(const ms_analysis_t *a) { return a->nmarks; }
const ms_mark_t *ms_analysis_mark(const ms_analysis_t *a, size_t i) {
  return i < a->nmarks ? &a->marks[i] : NULL;
}
