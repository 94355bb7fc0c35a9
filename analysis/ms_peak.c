/* ms_peak.c: live bytes per allocation stack at the moment of the process's peak (heaptrack's
 * "peak contribution"), computed only when asked (ms_analysis_opts_t.peak_stacks), by a second
 * pass over the events up to the peak so the normal single pass pays nothing for it. */
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"
#include "ms_stats_pass.h"
#include "ms_trace_int.h"

struct ms__peak_s {
  int computed;               /* 1: the figures below are measured */
  const char *reason;         /* static text, why not computed ("" when computed) */
  uint64_t peak_live_bytes;   /* as the first pass found it (recorded) */
  uint64_t peak_time_ns;      /* CLOCK_MONOTONIC ns of the event that first reached it */
  uint64_t peak_stack_id;     /* that event's stack */
  ms_frame_t *peak_frames;
  size_t peak_nframes;
  ms_leak_t *stacks;          /* live at the peak, largest bytes first; blocks/bytes live */
  size_t nstacks;             /* listed */
  size_t stacks_total;        /* stacks with a block live at the peak */
  uint64_t sum_bytes;         /* over all stacks: equals peak_live_bytes (checked by tests) */
};

typedef struct peak_cell_s {
  uint64_t blocks, bytes;
} peak_cell_t;

static int cmp_bytes(const void *x, const void *y) {
  const ms_leak_t *a = x, *b = y;
  if (a->bytes != b->bytes)
    return a->bytes > b->bytes ? -1 : 1;
  if (a->blocks != b->blocks)
    return a->blocks > b->blocks ? -1 : 1;
  return a->stack_id < b->stack_id ? -1 : a->stack_id > b->stack_id;
}

/* Replays the events with the stats pass's own live-set rules (the same code the first pass
 * ran, so the live bytes agree event by event) until the live bytes first reach the recorded
 * peak, then sums the live blocks by stack. */
static int replay_to_peak(ms_analysis_t *a, struct ms__peak_s *pk, ms_hmap_t *by_stack) {
  ms__stats_pass_t ps;
  int rc = ms__stats_begin(&ps, a->run, NULL, sizeof(uint64_t));
  if (rc) {
    if (ps.st)
      ms_stats_free(ps.st);
    ms__stats_destroy(&ps);
    return rc;
  }
  const ms_event_t *e;
  ms__stats_effect_t fx;
  int reached = 0;
  while (!reached && (rc = ms__run_next_ref(a->run, &e)) == 1) {
    rc = ms__stats_event(&ps, e, &fx, -1);
    if (rc)
      break;
    if (fx.added) {
      memcpy(fx.added + MS__BLOCK_EXTRA_OFFSET, &e->stack_id, sizeof e->stack_id);
      if (ps.live_bytes >= pk->peak_live_bytes) {
        reached = 1;
        pk->peak_time_ns = e->ts_ns;
        pk->peak_stack_id = e->stack_id;
      }
    }
  }
  if (rc > 0)
    rc = 0;
  size_t pos = 0;
  uint64_t key;
  void *val;
  while (!rc && reached && ms__hmap_next(&ps.live, &pos, &key, &val)) {
    const ms__block_t *b = val;
    uint64_t sid;
    memcpy(&sid, (const unsigned char *)val + MS__BLOCK_EXTRA_OFFSET, sizeof sid);
    peak_cell_t *c = ms__hmap_put(by_stack, sid, NULL);
    if (!c) {
      rc = MS_TRACE_E_NOMEM;
      break;
    }
    c->blocks++;
    c->bytes += b->size;
    pk->sum_bytes += b->size;
  }
  if (!rc && !reached)
    pk->reason = "the second pass did not reach the recorded peak";
  ms_stats_free(ps.st);
  ms__stats_destroy(&ps);
  return rc;
}

int ms__peak_compute(ms_analysis_t *a) {
  struct ms__peak_s *pk = calloc(1, sizeof *pk);
  if (!pk)
    return MS_TRACE_E_NOMEM;
  a->peak = pk;
  pk->reason = "";
  pk->peak_live_bytes = a->stats->totals.peak_live_bytes;
  if (a->sampled) {
    /* Per-stack live bytes of a sample are not an estimate of the program's at its peak
     * (the estimated peak is another instant): say so instead of printing sample figures. */
    pk->reason = "sampled run: live bytes per stack at the peak are known only in full mode";
    return 0;
  }
  if (!pk->peak_live_bytes) {
    pk->reason = "no allocation was live at any time";
    return 0;
  }
  ms_hmap_t by_stack;
  ms__hmap_init(&by_stack, sizeof(peak_cell_t));
  int rc = replay_to_peak(a, pk, &by_stack);
  size_t n = by_stack.count;
  if (!rc && !pk->reason[0]) {
    pk->stacks = calloc(n ? n : 1, sizeof *pk->stacks);
    if (!pk->stacks)
      rc = MS_TRACE_E_NOMEM;
  }
  if (!rc && pk->stacks) {
    size_t pos = 0, i = 0;
    uint64_t key;
    void *val;
    while (ms__hmap_next(&by_stack, &pos, &key, &val) && i < n) {
      const peak_cell_t *c = val;
      pk->stacks[i++] = (ms_leak_t){.bytes = c->bytes, .blocks = c->blocks, .stack_id = key,
                                    .var_name = "", .type_name = ""};
    }
    pk->stacks_total = i;
    qsort(pk->stacks, i, sizeof *pk->stacks, cmp_bytes);
    pk->nstacks = i < a->opts.peak_stacks ? i : a->opts.peak_stacks;
    for (size_t k = 0; !rc && k < pk->nstacks; k++) {
      ms_frame_t *f;
      size_t nf;
      rc = ms__stack_frames(a, pk->stacks[k].stack_id, &f, &nf);
      pk->stacks[k].frames = f;
      pk->stacks[k].nframes = nf;
    }
    if (!rc)
      rc = ms__stack_frames(a, pk->peak_stack_id, &pk->peak_frames, &pk->peak_nframes);
    if (!rc)
      pk->computed = 1;
  }
  ms__hmap_destroy(&by_stack);
  return rc;
}

void ms__peak_free(ms_analysis_t *a) {
  struct ms__peak_s *pk = a->peak;
  if (!pk)
    return;
  for (size_t i = 0; pk->stacks && i < pk->nstacks; i++)
    free((void *)pk->stacks[i].frames);
  free(pk->stacks);
  free(pk->peak_frames);
  free(pk);
  a->peak = NULL;
}

int ms_analysis_peak_computed(const ms_analysis_t *a, const char **reason) {
  if (reason)
    *reason = !a->peak ? "not asked for (ms_analysis_opts_t.peak_stacks 0)" : a->peak->reason;
  return a->peak && a->peak->computed;
}

size_t ms_analysis_npeak_stacks(const ms_analysis_t *a, size_t *total) {
  if (total)
    *total = a->peak && a->peak->computed ? a->peak->stacks_total : 0;
  return a->peak && a->peak->computed ? a->peak->nstacks : 0;
}

const ms_leak_t *ms_analysis_peak_stack(const ms_analysis_t *a, size_t i) {
  return i < ms_analysis_npeak_stacks(a, NULL) ? &a->peak->stacks[i] : NULL;
}

const ms_frame_t *ms_analysis_peak_event(const ms_analysis_t *a, uint64_t *stack_id,
                                         size_t *nframes, uint64_t *sum_bytes) {
  int ok = a->peak && a->peak->computed;
  *stack_id = ok ? a->peak->peak_stack_id : 0;
  *nframes = ok ? a->peak->peak_nframes : 0;
  *sum_bytes = ok ? a->peak->sum_bytes : 0;
  return ok ? a->peak->peak_frames : NULL;
}

/* Numbers up to 2^53 as JSON numbers (exact); the figures here are byte and block counts and
 * ns times, far below that in any trace. */
static int add_u(cJSON *o, const char *k, uint64_t v) {
  return cJSON_AddNumberToObject(o, k, (double)v) ? 0 : -1;
}

int ms__peak_json(cJSON *root, const ms_analysis_t *a,
                  cJSON *(*frames)(const ms_frame_t *, size_t)) {
  const struct ms__peak_s *pk = a->peak;
  cJSON *o = cJSON_AddObjectToObject(root, "peak_stacks");
  if (!o)
    return -1;
  int bad = !cJSON_AddBoolToObject(o, "computed", pk->computed);
  if (!pk->computed) {
    bad |= !cJSON_AddStringToObject(o, "reason", pk->reason);
    return bad ? -1 : 0;
  }
  uint64_t t0 = a->stats->totals.first_ts_ns;
  bad |= add_u(o, "peak_live_bytes", pk->peak_live_bytes);
  bad |= add_u(o, "sum_live_bytes", pk->sum_bytes);
  bad |= add_u(o, "peak_time_ns", pk->peak_time_ns);
  bad |= add_u(o, "peak_t_rel_ns", pk->peak_time_ns > t0 ? pk->peak_time_ns - t0 : 0);
  bad |= add_u(o, "peak_stack_id", pk->peak_stack_id);
  cJSON *pf = frames(pk->peak_frames, pk->peak_nframes);
  bad |= !pf || !cJSON_AddItemToObject(o, "peak_stack", pf);
  bad |= add_u(o, "stacks_total", pk->stacks_total);
  cJSON *arr = cJSON_AddArrayToObject(o, "stacks");
  bad |= !arr;
  for (size_t i = 0; !bad && i < pk->nstacks; i++) {
    const ms_leak_t *l = &pk->stacks[i];
    cJSON *s = cJSON_CreateObject();
    if (!s || !cJSON_AddItemToArray(arr, s)) {
      cJSON_Delete(s);
      return -1;
    }
    bad |= add_u(s, "live_bytes", l->bytes) || add_u(s, "live_blocks", l->blocks) ||
           add_u(s, "stack_id", l->stack_id);
    cJSON *fr = frames(l->frames, l->nframes);
    bad |= !fr || !cJSON_AddItemToObject(s, "stack", fr);
  }
  return bad ? -1 : 0;
}
