/* ms_stats.c: the basic statistics pass (totals, per thread, module filter) over a merged
 * run, with definitions from SPEC §4 (docs/trace-format.md for the event semantics). It runs
 * whole (ms_stats_compute) or event by event inside the analysis engine's pass
 * (ms_stats_pass.h), so both count with the same code. */
#include <stdlib.h>
#include <string.h>

#include "ms_format.h"
#include "ms_hmap.h"
#include "ms_stats_pass.h"
#include "ms_trace.h"


void ms_stats_free(ms_stats_t *stats) {
  if (!stats)
    return;
  free(stats->threads);
  free(stats);
}

int ms__stats_stack_passes_slow(ms__stats_pass_t *ps, uint64_t id) {
  if (!ps->st->module.enabled || id == 0)
    return 0;
  uint8_t *memo = ms__hmap_get(&ps->filter, id);
  if (memo)
    return *memo == 1;
  int pass = 0;
  const ms_stack_t *s = ms_run_stack(ps->run, id);
  if (s && s->nframes) {
    /* Frames are return addresses: minus one lands on the call instruction. */
    uint64_t pc = s->frames[0] ? s->frames[0] - 1 : 0;
    const char *path;
    if (ms_maps_lookup(ms_run_maps(ps->run), pc, &path, NULL))
      pass = ms_module_matches(path, ps->st->module.module);
  }
  memo = ms__hmap_put(&ps->filter, id, NULL);
  if (memo) /* out of memory only loses the memo */
    *memo = pass ? 1 : 2;
  return pass;
}

int ms__stats_begin(ms__stats_pass_t *ps, ms_run_t *run, const char *module, size_t extra) {
  memset(ps, 0, sizeof *ps);
  if (extra > MS__BLOCK_MAX_EXTRA)
    return -22; /* -EINVAL: a programming error */
  size_t n = ms_run_nthreads(run);
  ms_stats_t *st = calloc(1, sizeof *st);
  if (!st)
    return MS_TRACE_E_NOMEM;
  st->threads = calloc(n ? n : 1, sizeof *st->threads);
  if (!st->threads) {
    free(st);
    return MS_TRACE_E_NOMEM;
  }
  st->nthreads = n;
  for (size_t i = 0; i < n; i++) {
    const ms_thread_info_t *ti = ms_run_thread(run, i);
    st->threads[i].tid = ti->tid;
    st->threads[i].thread_seq = ti->thread_seq;
    st->threads[i].path = ti->path;
  }
  if (module && *module) {
    st->module.enabled = 1;
    strncpy(st->module.module, module, sizeof st->module.module - 1);
  }
  ps->run = run;
  ps->st = st;
  ps->extra = extra;
  ms__hmap_init(&ps->live, sizeof(ms__block_t) + extra);
  ms__hmap_init(&ps->filter, 1);
  return ms_run_rewind(run);
}

void ms__stats_finish(ms__stats_pass_t *ps) {
  ms_stats_t *st = ps->st;
  st->totals.leaked_blocks = st->totals.leaked_bytes = 0;
  st->module.leaked_blocks = st->module.leaked_bytes = 0;
  size_t pos = 0;
  void *v;
  while (ms__hmap_next(&ps->live, &pos, NULL, &v)) {
    const ms__block_t *b = v;
    st->totals.leaked_blocks++;
    st->totals.leaked_bytes += b->size;
    if (b->passed) {
      st->module.leaked_blocks++;
      st->module.leaked_bytes += b->size;
    }
  }
}

void ms__stats_destroy(ms__stats_pass_t *ps) {
  ms__hmap_destroy(&ps->live);
  ms__hmap_destroy(&ps->filter);
}

int ms_stats_compute(ms_run_t *run, const char *module, ms_stats_t **out) {
  *out = NULL;
  ms__stats_pass_t ps;
  int rc = ms__stats_begin(&ps, run, module, 0);
  ms_event_t e;
  while (!rc && (rc = ms_run_next(run, &e)) == 1)
    rc = ms__stats_event(&ps, &e, NULL, -1);
  if (!rc)
    ms__stats_finish(&ps);
  ms__stats_destroy(&ps);
  if (rc) {
    ms_stats_free(ps.st);
    return rc;
  }
  *out = ps.st;
  return 0;
}
