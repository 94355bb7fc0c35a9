/* ms_leaks.c: the end-of-trace phases that rank stacks: the walk over the blocks still live
 * (leak counts per stack and variable, the largest live records), the leak groups with their
 * suppressions, and the hottest stacks. Split out of ms_analyze.c; the pass's types are in
 * ms_pass.h. */
#include <stdlib.h>
#include <string.h>

#include "ms_pass.h"

static int cmp_group(const void *x, const void *y) {
  const ms__group_t *a = x, *b = y;
  if (a->key != b->key)
    return a->key > b->key ? -1 : 1;
  return a->pub.stack_id < b->pub.stack_id ? -1 : a->pub.stack_id > b->pub.stack_id;
}

/* Frames of stack `id`, symbolized (resolve: function/file/line via libdw), malloc'd. */
int ms__stack_frames(ms_analysis_t *a, uint64_t id, ms_frame_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  const ms_stack_t *st = id && id != UINT64_MAX ? ms_run_stack(a->run, id) : NULL;
  if (!st || !st->nframes)
    return 0;
  ms_frame_t *f = malloc(st->nframes * sizeof *f);
  if (!f)
    return MS_TRACE_E_NOMEM;
  for (uint32_t i = 0; i < st->nframes; i++)
    ms_symbolize(a->sym, st->frames[i], a->opts.symbolize, &f[i]);
  *out = f;
  *n = st->nframes;
  return 0;
}

static const char *var_name_of(const ms_analysis_t *a, uint32_t v) {
  return v && v <= a->nvars ? a->vars[v - 1].name : "";
}
static const char *var_type_of(const ms_analysis_t *a, uint32_t v) {
  return v && v <= a->nvars ? a->vars[v - 1].type : "";
}

/* The live blocks at the end: a bounded min-heap by size keeps the largest. */
static void live_heap_push(ms_analysis_t *a, size_t cap, const struct ms__live_rec_s *r) {
  struct ms__live_rec_s *h = a->live;
  size_t i;
  if (a->nlive < cap) {
    i = a->nlive++;
    h[i] = *r;
    while (i > 0) {
      size_t up = (i - 1) / 2;
      if (h[up].size <= h[i].size)
        break;
      struct ms__live_rec_s t = h[up];
      h[up] = h[i];
      h[i] = t;
      i = up;
    }
    return;
  }
  if (!cap || r->size <= h[0].size)
    return;
  h[0] = *r;
  i = 0;
  for (;;) {
    size_t l = 2 * i + 1, rr = l + 1, m = i;
    if (l < a->nlive && h[l].size < h[m].size)
      m = l;
    if (rr < a->nlive && h[rr].size < h[m].size)
      m = rr;
    if (m == i)
      break;
    struct ms__live_rec_s t = h[m];
    h[m] = h[i];
    h[i] = t;
    i = m;
  }
}

static int cmp_live(const void *x, const void *y) {
  const struct ms__live_rec_s *a = x, *b = y;
  if (a->size != b->size)
    return a->size > b->size ? -1 : 1;
  return a->addr < b->addr ? -1 : a->addr > b->addr;
}

/* Phase: one walk over the blocks still live, which every leak figure comes from: per-slot
 * and per-variable leak counts, weighted sums, the largest live records, and the scopes that
 * never ended. */
int ms__leaks_collect_live(pass_t *p, end_sums_t *e) {
  ms_analysis_t *a = p->a;
  size_t cap = a->opts.max_live_records;
  a->live = malloc((cap ? cap : 1) * sizeof *a->live);
  if (!a->live)
    return MS_TRACE_E_NOMEM;
  size_t pos = 0;
  uint64_t addr;
  void *v;
  while (ms__hmap_next(&p->ps.live, &pos, &addr, &v)) {
    const ms__block_t *b = v;
    const blk_extra_t *x = EXTRA(v);
    slot_t *s = &p->slots[p->slots[x->slot].real];
    s->leak_blocks++;
    s->leak_bytes += b->size;
    if (x->var && !s->leak_var)
      s->leak_var = x->var;
    if (x->var && x->var <= a->nvars) {
      a->vars[x->var - 1].live_blocks++;
      a->vars[x->var - 1].live_bytes += b->size;
    }
    if (a->sampled) {
      double w, vf, sz = (double)b->size;
      block_weight(p, b->size, x->weight, &w, &vf);
      s->w_leak_blocks += w;
      s->w_leak_bytes += w * sz;
      e->w_leak_blocks += w;
      e->w_leak_bytes += w * sz;
      e->var_leak_blocks += vf;
      e->var_leak_bytes += vf * sz * sz;
    }
    struct ms__live_rec_s r = {addr, b->size, x->alloc_ns, s->stack_id,
                               a->threads[b->thread].rep.tid, (int32_t)x->var - 1};
    live_heap_push(a, cap, &r);
    a->live_total++;
  }
  qsort(a->live, a->nlive, sizeof *a->live, cmp_live);
  for (size_t i = 0; i < a->nscopes; i++)
    if (p->si[i].open) { /* never ended: leaks are those live at the end of the trace */
      a->scopes[i].leaked_blocks = p->si[i].live_blocks;
      a->scopes[i].leaked_bytes = p->si[i].live_bytes;
    }
  return 0;
}

/* Phase: leak groups by stack, largest first; suppressions matched on their symbolized
 * frames; the listed ones (unsuppressed first) kept, and suppressed leaks taken off the
 * totals. */
int ms__leaks_groups(pass_t *p) {
  ms_analysis_t *a = p->a;
  size_t ng = 0;
  for (size_t i = 0; i < p->nslots; i++)
    ng += p->slots[i].leak_blocks > 0;
  ms__group_t *g = calloc(ng ? ng : 1, sizeof *g);
  if (!g)
    return MS_TRACE_E_NOMEM;
  ng = 0;
  for (size_t i = 0; i < p->nslots; i++) {
    const slot_t *s = &p->slots[i];
    if (!s->leak_blocks)
      continue;
    ms_leak_t *l = &g[ng].pub;
    l->stack_id = s->stack_id;
    l->blocks = a->sampled ? round_u64(s->w_leak_blocks) : s->leak_blocks;
    l->bytes = a->sampled ? round_u64(s->w_leak_bytes) : s->leak_bytes;
    l->var_name = var_name_of(a, s->leak_var);
    l->type_name = var_type_of(a, s->leak_var);
    g[ng].key = a->sampled ? s->w_leak_bytes : (double)s->leak_bytes;
    ng++;
  }
  qsort(g, ng, sizeof *g, cmp_group);
  a->nleak_groups = ng;
  int rc = 0;
  if (a->suppr.n) {
    for (size_t i = 0; !rc && i < ng; i++) {
      ms_frame_t *f;
      size_t nf;
      rc = ms__stack_frames(a, g[i].pub.stack_id, &f, &nf);
      if (rc)
        break;
      long k = ms__suppr_match(&a->suppr, f, nf);
      if (k >= 0) {
        g[i].pub.suppressed = 1;
        a->suppr.hits[k]++;
        a->suppressed_blocks += g[i].pub.blocks;
        a->suppressed_bytes += g[i].pub.bytes;
      }
      g[i].pub.frames = f;
      g[i].pub.nframes = nf;
    }
  }
  size_t nl = ng < a->opts.max_leaks ? ng : a->opts.max_leaks;
  a->leaks = calloc(nl ? nl : 1, sizeof *a->leaks);
  if (!rc && !a->leaks)
    rc = MS_TRACE_E_NOMEM;
  for (int pass = 0; !rc && pass < 2; pass++) /* unsuppressed first, then suppressed */
    for (size_t i = 0; !rc && i < ng && a->nleaks < nl; i++) {
      if (g[i].pub.suppressed != pass)
        continue;
      if (!g[i].pub.frames && g[i].pub.stack_id) {
        ms_frame_t *f;
        size_t nf;
        rc = ms__stack_frames(a, g[i].pub.stack_id, &f, &nf);
        g[i].pub.frames = f;
        g[i].pub.nframes = nf;
      }
      a->leaks[a->nleaks++] = g[i].pub;
      g[i].pub.frames = NULL; /* moved */
    }
  for (size_t i = 0; i < ng; i++)
    free((void *)g[i].pub.frames);
  free(g);
  if (rc)
    return rc;
  a->totals.leaked_blocks -= a->suppressed_blocks <= a->totals.leaked_blocks
                                 ? a->suppressed_blocks : a->totals.leaked_blocks;
  a->totals.leaked_bytes -= a->suppressed_bytes <= a->totals.leaked_bytes
                                ? a->suppressed_bytes : a->totals.leaked_bytes;
  return 0;
}

/* Phase: the hottest stacks by count (by = 0) and by bytes (by = 1), symbolized. */
int ms__leaks_hot_stacks(pass_t *p) {
  ms_analysis_t *a = p->a;
  int rc = 0;
  size_t nh = 0;
  for (size_t i = 0; i < p->nslots; i++)
    nh += p->slots[i].allocs > 0;
  ms__group_t *g = calloc(nh ? nh : 1, sizeof *g);
  if (!g)
    return MS_TRACE_E_NOMEM;
  for (int by = 0; by < 2; by++) {
    size_t n = 0;
    for (size_t i = 0; i < p->nslots; i++) {
      const slot_t *s = &p->slots[i];
      if (!s->allocs)
        continue;
      ms_leak_t *l = &g[n].pub;
      memset(l, 0, sizeof *l);
      l->stack_id = s->stack_id;
      l->blocks = a->sampled ? round_u64(s->w_allocs) : s->allocs;
      l->bytes = a->sampled ? round_u64(s->w_bytes) : s->bytes;
      l->temporaries = a->sampled ? round_u64(s->w_temps) : s->temps;
      l->var_name = l->type_name = "";
      g[n].key = by ? (a->sampled ? s->w_bytes : (double)s->bytes)
                    : (a->sampled ? s->w_allocs : (double)s->allocs);
      n++;
    }
    qsort(g, n, sizeof *g, cmp_group);
    size_t k = n < a->opts.top_stacks ? n : a->opts.top_stacks;
    a->hot[by] = calloc(k ? k : 1, sizeof *a->hot[by]);
    if (!a->hot[by]) {
      free(g);
      return MS_TRACE_E_NOMEM;
    }
    for (size_t i = 0; i < k; i++) {
      ms_frame_t *f;
      size_t nf;
      rc = ms__stack_frames(a, g[i].pub.stack_id, &f, &nf);
      if (rc)
        break;
      a->hot[by][i] = g[i].pub;
      a->hot[by][i].frames = f;
      a->hot[by][i].nframes = nf;
      a->nhot[by]++;
    }
    if (rc)
      break;
  }
  free(g);
  return rc;
}
