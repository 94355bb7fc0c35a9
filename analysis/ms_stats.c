/* ms_stats.c: the basic statistics pass (totals, per thread, module filter) over a merged
 * run, with definitions from SPEC §4 (docs/trace-format.md for the event semantics). */
#include <stdlib.h>
#include <string.h>

#include "ms_format.h"
#include "ms_hmap.h"
#include "ms_trace.h"

typedef struct block_s {
  uint64_t size;
  uint32_t thread; /* allocating thread (file index): live bytes are attributed to it */
  uint8_t passed;  /* the allocating event passed the module filter */
} block_t;

typedef struct pass_s {
  ms_run_t *run;
  ms_stats_t *st;
  ms_hmap_t live;        /* addr -> block_t */
  ms_hmap_t filter;      /* stack id -> 1 passes / 2 fails (memo of the maps lookup) */
  uint64_t live_bytes;
  uint64_t module_live;
} pass_t;

void ms_stats_free(ms_stats_t *stats) {
  if (!stats)
    return;
  free(stats->threads);
  free(stats);
}

/* 1 when the first frame of stack `id` lies in the filter's module. */
static int stack_passes(pass_t *ps, uint64_t id) {
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

static void remove_bytes(pass_t *ps, const block_t *b) {
  ps->live_bytes -= b->size;
  ps->st->threads[b->thread].live_bytes -= b->size;
  if (b->passed)
    ps->module_live -= b->size;
}

static int add_block(pass_t *ps, const ms_event_t *e, int passed) {
  ms_stats_t *st = ps->st;
  int existed;
  block_t *b = ms__hmap_put(&ps->live, e->addr, &existed);
  if (!b)
    return MS_TRACE_E_NOMEM;
  if (existed) { /* a lost free (or a sampled-out one): the old block is gone */
    st->totals.alloc_over_live++;
    remove_bytes(ps, b);
  }
  *b = (block_t){e->size, e->thread, (uint8_t)passed};
  ps->live_bytes += e->size;
  ms_stats_thread_t *t = &st->threads[e->thread];
  t->live_bytes += e->size;
  if (ps->live_bytes > st->totals.peak_live_bytes) {
    st->totals.peak_live_bytes = ps->live_bytes;
    st->totals.peak_time_ns = e->ts_ns;
  }
  if (t->live_bytes > t->peak_live_bytes) {
    t->peak_live_bytes = t->live_bytes;
    t->peak_time_ns = e->ts_ns;
  }
  if (passed) {
    ps->module_live += e->size;
    if (ps->module_live > st->module.peak_live_bytes) {
      st->module.peak_live_bytes = ps->module_live;
      st->module.peak_time_ns = e->ts_ns;
    }
  }
  return 0;
}

/* Frees `addr` if live; returns 1 and the block, or 0. */
static int free_block(pass_t *ps, uint64_t addr, block_t *out) {
  if (!ms__hmap_del(&ps->live, addr, out))
    return 0;
  remove_bytes(ps, out);
  return 1;
}

static int on_event(pass_t *ps, const ms_event_t *e) {
  ms_stats_totals_t *tot = &ps->st->totals;
  ms_stats_thread_t *t = &ps->st->threads[e->thread];
  ms_stats_module_t *mod = &ps->st->module;
  if (!tot->events++)
    tot->first_ts_ns = e->ts_ns;
  tot->last_ts_ns = e->ts_ns;
  block_t b;
  switch (e->kind) {
  case MS_EV_ALLOC:
  case MS_EV_REALLOC: {
    if (e->stack_id && !ms_run_stack(ps->run, e->stack_id))
      tot->unknown_stack_refs++;
    int passed = stack_passes(ps, e->stack_id);
    tot->allocations++;
    tot->allocated_bytes += e->size;
    t->allocations++;
    t->allocated_bytes += e->size;
    if (passed) {
      mod->allocations++;
      mod->allocated_bytes += e->size;
    }
    if (e->kind == MS_EV_REALLOC) {
      tot->reallocs++;
      t->reallocs++;
      if (passed)
        mod->reallocs++;
      /* The old block goes first: an in-place realloc (old == new) must not count twice. */
      if (e->old_addr && !(e->flags & MS_FLAG_REALLOC_RELEASE) && !free_block(ps, e->old_addr, &b))
        tot->unmatched_realloc_old++;
    }
    return add_block(ps, e, passed);
  }
  case MS_EV_FREE:
    if (e->flags & MS_FLAG_REALLOC_RELEASE) { /* part of a realloc, counted there */
      if (!free_block(ps, e->addr, &b))
        tot->unmatched_realloc_old++;
      return 0;
    }
    tot->frees++;
    t->frees++;
    if (!free_block(ps, e->addr, &b))
      tot->unmatched_frees++;
    else if (b.passed)
      mod->frees++;
    return 0;
  case MS_EV_MARK:
    tot->marks++;
    if (e->mark_kind == MS_MARK_THREAD_NAME && e->name) {
      strncpy(t->name, e->name, sizeof t->name - 1);
      t->name[sizeof t->name - 1] = 0;
    }
    return 0;
  case MS_EV_VAR:
    tot->vars++;
    return 0;
  }
  return 0;
}

int ms_stats_compute(ms_run_t *run, const char *module, ms_stats_t **out) {
  *out = NULL;
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
  pass_t ps = {.run = run, .st = st};
  ms__hmap_init(&ps.live, sizeof(block_t));
  ms__hmap_init(&ps.filter, 1);
  int rc = ms_run_rewind(run);
  ms_event_t e;
  while (!rc && (rc = ms_run_next(run, &e)) == 1)
    rc = on_event(&ps, &e);
  if (!rc) {
    size_t pos = 0;
    void *v;
    while (ms__hmap_next(&ps.live, &pos, NULL, &v)) {
      const block_t *b = v;
      st->totals.leaked_blocks++;
      st->totals.leaked_bytes += b->size;
      if (b->passed) {
        st->module.leaked_blocks++;
        st->module.leaked_bytes += b->size;
      }
    }
  }
  ms__hmap_destroy(&ps.live);
  ms__hmap_destroy(&ps.filter);
  if (rc) {
    ms_stats_free(st);
    return rc;
  }
  *out = st;
  return 0;
}
