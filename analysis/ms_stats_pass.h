/* ms_stats_pass.h: internal: the basic statistics pass (ms_stats.c) as an incremental API,
 * so the analysis engine (ms_analyze.c) runs the same counting code in its own single pass
 * and keeps its per-block data in the same live-block table (no second hash map).
 *
 * Owned by ms_stats.c. Not thread-safe. */
#ifndef MS_STATS_PASS_H
#define MS_STATS_PASS_H

#include <stddef.h>
#include <stdint.h>

#include "ms_hmap.h"
#include "ms_trace.h"

/* A live block as the stats pass keeps it. A caller-chosen number of bytes ("extra") follows
 * it in every live-table value, at MS__BLOCK_EXTRA_OFFSET, zero-filled when the block is
 * added; the caller fills it from the effect of the event. */
typedef struct ms__block_s {
  uint64_t size;
  uint32_t thread; /* allocating thread (file index): live bytes are attributed to it */
  uint8_t passed;  /* the allocating event passed the module filter */
} ms__block_t;

#define MS__BLOCK_EXTRA_OFFSET sizeof(ms__block_t)
#define MS__BLOCK_MAX_EXTRA 64

/* What one event did to the live set. Pointers into the pass stay valid until the next
 * event. */
typedef struct ms__stats_effect_s {
  unsigned char *added;    /* ALLOC/REALLOC: the new block's value (ms__block_t + extra) */
  int released;            /* FREE or REALLOC: a live block was released (copy below) */
  unsigned char *released_block;
  int replaced;            /* ALLOC/REALLOC over a still-live address: that block dropped */
  unsigned char *replaced_block;
} ms__stats_effect_t;

typedef struct ms__stats_pass_s {
  ms_run_t *run;
  ms_stats_t *st;
  ms_hmap_t live;     /* addr -> ms__block_t + extra */
  ms_hmap_t filter;   /* stack id -> 1 passes / 2 fails (memo of the maps lookup) */
  uint64_t live_bytes;
  uint64_t module_live;
  size_t extra;
  unsigned char released_buf[sizeof(ms__block_t) + MS__BLOCK_MAX_EXTRA];
  unsigned char replaced_buf[sizeof(ms__block_t) + MS__BLOCK_MAX_EXTRA];
} ms__stats_pass_t;

/* ---- ms_stats.c ---- */
/* Out of line: the module filter's memoized maps lookup. */
int ms__stats_stack_passes_slow(ms__stats_pass_t *ps, uint64_t id);
/* Starts a pass over `run` (rewinds it). `module` may be NULL. `extra` <= MS__BLOCK_MAX_EXTRA.
 * On success ps->st is a fresh ms_stats_t the caller takes over (ms_stats_free). */
int ms__stats_begin(ms__stats_pass_t *ps, ms_run_t *run, const char *module, size_t extra);
/* Fills the leak totals from the blocks still live (the table is left as it is). */
void ms__stats_finish(ms__stats_pass_t *ps);
/* Frees the pass's tables (not ps->st). */
void ms__stats_destroy(ms__stats_pass_t *ps);

/* ---- the per-event code, inline so the engine's per-event path makes no call for it ---- */

#include <string.h>

#include "ms_format.h"

/* 1 when the first frame of stack `id` lies in the filter's module (memoized). */
static inline int ms__stats_stack_passes(ms__stats_pass_t *ps, uint64_t id) {
  if (!ps->st->module.enabled || id == 0)
    return 0;
  return ms__stats_stack_passes_slow(ps, id);
}

static inline void ms__stats_remove_bytes(ms__stats_pass_t *ps, const ms__block_t *b) {
  ps->live_bytes -= b->size;
  ps->st->threads[b->thread].live_bytes -= b->size;
  if (b->passed)
    ps->module_live -= b->size;
}

static inline int ms__stats_add_block(ms__stats_pass_t *ps, const ms_event_t *e, int passed, ms__stats_effect_t *fx) {
  ms_stats_t *st = ps->st;
  int existed;
  /* Not zero-filled: *b is set whole below, and the caller sets every byte of its extra. */
  ms__block_t *b = ms__hmap_put_raw(&ps->live, e->addr, &existed);
  if (!b)
    return MS_TRACE_E_NOMEM;
  if (existed) { /* a lost free (or a sampled-out one): the old block is gone */
    st->totals.alloc_over_live++;
    ms__stats_remove_bytes(ps, b);
    if (fx) {
      memcpy(ps->replaced_buf, b, ps->live.val_size);
      fx->replaced = 1;
      fx->replaced_block = ps->replaced_buf;
    }
    memset(b, 0, ps->live.val_size);
  }
  *b = (ms__block_t){e->size, e->thread, (uint8_t)passed};
  if (fx)
    fx->added = (unsigned char *)b;
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

/* Frees `addr` if live; returns 1 with the block copied to ps->released_buf, or 0. */
static inline int ms__stats_free_block(ms__stats_pass_t *ps, uint64_t addr, ms__stats_effect_t *fx) {
  if (!ms__hmap_del(&ps->live, addr, ps->released_buf))
    return 0;
  ms__stats_remove_bytes(ps, (const ms__block_t *)(void *)ps->released_buf);
  if (fx) {
    fx->released = 1;
    fx->released_block = ps->released_buf;
  }
  return 1;
}

/* The per-kind parts of ms__stats_event, for a caller that dispatches on the kind itself
 * (the engine: one unpredictable branch per event instead of one per layer). Each also does
 * ms__stats_common. fx is cleared by the caller. */
static inline void ms__stats_common(ms__stats_pass_t *ps, const ms_event_t *e) {
  ms_stats_totals_t *tot = &ps->st->totals;
  if (!tot->events++)
    tot->first_ts_ns = e->ts_ns;
  tot->last_ts_ns = e->ts_ns;
}

/* ALLOC or REALLOC. stack_known: as for ms__stats_event. */
static inline int ms__stats_alloc(ms__stats_pass_t *ps, const ms_event_t *e,
                                  ms__stats_effect_t *fx, int stack_known) {
  ms_stats_totals_t *tot = &ps->st->totals;
  ms_stats_thread_t *t = &ps->st->threads[e->thread];
  ms_stats_module_t *mod = &ps->st->module;
  ms__stats_common(ps, e);
  if (e->stack_id && (stack_known < 0 ? !ms_run_stack(ps->run, e->stack_id) : !stack_known))
    tot->unknown_stack_refs++;
  int passed = ms__stats_stack_passes(ps, e->stack_id);
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
    if (e->old_addr && !(e->flags & MS_FLAG_REALLOC_RELEASE) &&
        !ms__stats_free_block(ps, e->old_addr, fx))
      tot->unmatched_realloc_old++;
  }
  return ms__stats_add_block(ps, e, passed, fx);
}

/* FREE. */
static inline void ms__stats_free(ms__stats_pass_t *ps, const ms_event_t *e,
                                  ms__stats_effect_t *fx) {
  ms_stats_totals_t *tot = &ps->st->totals;
  ms__stats_common(ps, e);
  if (e->flags & MS_FLAG_REALLOC_RELEASE) { /* part of a realloc, counted there */
    if (!ms__stats_free_block(ps, e->addr, fx))
      tot->unmatched_realloc_old++;
    return;
  }
  tot->frees++;
  ps->st->threads[e->thread].frees++;
  if (!ms__stats_free_block(ps, e->addr, fx))
    tot->unmatched_frees++;
  else if (((const ms__block_t *)(void *)ps->released_buf)->passed)
    ps->st->module.frees++;
}

/* MARK, VAR and kinds this reader does not know. */
static inline void ms__stats_other(ms__stats_pass_t *ps, const ms_event_t *e) {
  ms_stats_totals_t *tot = &ps->st->totals;
  ms_stats_thread_t *t = &ps->st->threads[e->thread];
  ms__stats_common(ps, e);
  if (e->kind == MS_EV_MARK) {
    /* Resource records are the tracker's, not the program's marks (ms_resources.c). */
    tot->marks += e->mark_kind != MS_MARK_RESOURCES;
    if (e->mark_kind == MS_MARK_THREAD_NAME && e->name) {
      strncpy(t->name, e->name, sizeof t->name - 1);
      t->name[sizeof t->name - 1] = 0;
    }
  } else if (e->kind == MS_EV_VAR) {
    tot->vars++;
  }
}

/* Counts one merged event. fx may be NULL. stack_known: 1 / 0 when the caller already knows
 * whether e->stack_id is defined, -1 to look it up. 0 or MS_TRACE_E_NOMEM. */
static inline int ms__stats_event(ms__stats_pass_t *ps, const ms_event_t *e,
                                  ms__stats_effect_t *fx, int stack_known) {
  if (fx)
    memset(fx, 0, sizeof *fx);
  switch (e->kind) {
  case MS_EV_ALLOC:
  case MS_EV_REALLOC:
    return ms__stats_alloc(ps, e, fx, stack_known);
  case MS_EV_FREE:
    ms__stats_free(ps, e, fx);
    return 0;
  default:
    ms__stats_other(ps, e);
    return 0;
  }
}

#endif /* MS_STATS_PASS_H */
