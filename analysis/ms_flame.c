/* ms_flame.c: the flame graph's data (summary.json "flamegraph", docs/dashboard-data.md §3):
 * allocations and bytes per recorded stack and per thread within it, the largest stacks kept,
 * their frames symbolized into one shared table, root first.
 *
 * The pass (ms_analyze.c) counts allocations per (stack, thread) cell; everything here runs
 * once, after it. The cut keeps the page small whatever the run: the largest stacks by
 * bytes, at most MS__FLAME_MAX_STACKS, while their JSON stays within about
 * MS__FLAME_MAX_BYTES (a 100-thread run whose every stack is used by every thread shows
 * about 55 stacks); what is left out is summed in rest_allocations / rest_bytes, so the
 * shown part plus the rest is the whole. */
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"
#include "ms_hmap.h"

/* One stack of the ranking: its run of cells (sorted by stack id) and its figures. */
typedef struct fg_rank_s {
  size_t first, n; /* cells[first, first + n) */
  uint64_t stack_id;
  uint64_t allocs, bytes;
  double w_allocs, w_bytes;
  double key;
} fg_rank_t;

static int cmp_cell_stack(const void *x, const void *y) {
  const ms__fg_cell_t *a = x, *b = y;
  if (a->stack_id != b->stack_id)
    return a->stack_id < b->stack_id ? -1 : 1;
  return a->thread < b->thread ? -1 : a->thread > b->thread;
}

static int cmp_rank(const void *x, const void *y) {
  const fg_rank_t *a = x, *b = y;
  if (a->key != b->key)
    return a->key > b->key ? -1 : 1;
  return a->stack_id < b->stack_id ? -1 : a->stack_id > b->stack_id;
}

static int cmp_thread_entry(const void *x, const void *y) {
  const ms__fg_thread_t *a = x, *b = y;
  if (a->allocated_bytes != b->allocated_bytes)
    return a->allocated_bytes > b->allocated_bytes ? -1 : 1;
  if (a->allocations != b->allocations)
    return a->allocations > b->allocations ? -1 : 1;
  return a->thread < b->thread ? -1 : a->thread > b->thread;
}

static uint64_t round_weight(double v) {
  if (!(v > 0))
    return 0;
  if (v >= 1.8e19)
    return UINT64_MAX;
  return (uint64_t)(v + 0.5);
}

static uint64_t hash_str(uint64_t h, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    h = (h ^ *p) * 0x100000001b3ull;
  return (h ^ 0xff) * 0x100000001b3ull;
}

static int frame_equal(const ms__fg_frame_t *a, const ms__fg_frame_t *b) {
  return a->line == b->line && a->inlined == b->inlined &&
         a->module_offset == b->module_offset && !strcmp(a->function, b->function) &&
         !strcmp(a->file, b->file) && !strcmp(a->module, b->module);
}

/* The frames table's index: hash -> first frame with that hash, the others with the same hash
 * chained through next[] (different frames with one hash are rare, but must stay apart). */
typedef struct frame_index_s {
  ms_hmap_t first; /* hash -> index of the first frame with it */
  uint32_t *next;  /* per frame: the next frame with the same hash, or UINT32_MAX */
  size_t capnext;
} frame_index_t;

static uint64_t frame_hash(const ms__fg_frame_t *f) {
  uint64_t h = hash_str(hash_str(hash_str(0xcbf29ce484222325ull, f->function), f->file),
                        f->module);
  return h ^ ((uint64_t)(unsigned)f->line * 0x9e3779b97f4a7c15ull) ^ (uint64_t)f->inlined ^
         (f->module_offset * 0xff51afd7ed558ccdull);
}

/* Index of frame f in the table, or -1; *last (if not NULL) gets the last frame of its hash
 * chain (UINT32_MAX when the hash is new). */
static long frame_find(const ms__flame_t *fl, const frame_index_t *ix, const ms__fg_frame_t *f,
                       uint32_t *last) {
  uint32_t *head = ms__hmap_get(&ix->first, frame_hash(f));
  if (last)
    *last = UINT32_MAX;
  for (uint32_t i = head ? *head : UINT32_MAX; i != UINT32_MAX; i = ix->next[i]) {
    if (frame_equal(&fl->frames[i], f))
      return i;
    if (last)
      *last = i;
  }
  return -1;
}

/* Index of frame f in the table, added if new; -1 when memory runs out. */
static long frame_intern(ms__flame_t *fl, frame_index_t *ix, const ms__fg_frame_t *f) {
  uint32_t last;
  long found = frame_find(fl, ix, f, &last);
  if (found >= 0)
    return found;
  if (fl->nframes >= UINT32_MAX - 1 ||
      ms__grow(&fl->frames, &fl->capframes, fl->nframes, sizeof *fl->frames, 256) ||
      ms__grow(&ix->next, &ix->capnext, fl->nframes, sizeof *ix->next, 256))
    return -1;
  uint32_t i = (uint32_t)fl->nframes;
  if (last == UINT32_MAX) {
    uint32_t *head = ms__hmap_put(&ix->first, frame_hash(f), NULL);
    if (!head)
      return -1;
    *head = i;
  } else {
    ix->next[last] = i;
  }
  fl->frames[i] = *f;
  ix->next[i] = UINT32_MAX;
  fl->nframes++;
  return i;
}

/* The frames of stack st->stack_id, root first, into out (room for 2 * its recorded frames):
 * each recorded return address symbolized; one where the symbolizer finds inlined code gives
 * two frames, the function the code is in (file and line unknown: the debug info's line is
 * the inlined code's) and then the inlined function with the line. The symbolizer names only
 * the innermost inlined function, so a chain of inlined calls shows its two ends. */
static size_t stack_frames(ms_analysis_t *a, const ms_stack_t *rs, ms__fg_frame_t *out) {
  size_t n = 0;
  for (uint32_t k = rs->nframes; k-- > 0;) { /* recorded innermost first */
    ms_frame_t f;
    ms_symbolize(a->sym, rs->frames[k], a->opts.symbolize, &f);
    ms__fg_frame_t x = {f.function, f.file, f.module, f.line, 0, 0};
    if (!*f.function) /* unknown: the offset keeps different code apart */
      x.module_offset = f.module_offset;
    if (f.inlined && *f.inlined) {
      out[n++] = (ms__fg_frame_t){f.function, "", f.module, 0, 0, 0};
      x.function = f.inlined;
      x.inlined = 1;
    }
    out[n++] = x;
  }
  return n;
}

/* What a stack adds to the compact JSON, roughly (an upper bound within a few bytes per
 * item): its object, its frame indexes, its thread entries and the frames the table does
 * not have yet. Measured on the bench workload: a thread entry prints in 55-65 bytes, a
 * frame in 60 plus its strings. */
static size_t stack_cost(const ms__flame_t *fl, const frame_index_t *ix,
                         const ms__fg_frame_t *fr, size_t nfr, size_t nthreads) {
  size_t c = 140 + 8 * nfr + 64 * nthreads;
  for (size_t i = 0; i < nfr; i++)
    if (frame_find(fl, ix, &fr[i], NULL) < 0)
      c += 64 + strlen(fr[i].function) + strlen(fr[i].file) + strlen(fr[i].module);
  return c;
}

/* Stack r as shown, if it fits in *budget bytes (or `force`): figures, per-thread entries
 * (at most MS__FLAME_MAX_THREADS, largest first), frames interned. 1 shown, 0 it does not
 * fit (st left empty), or MS_TRACE_E_NOMEM. */
static int show_stack(ms_analysis_t *a, frame_index_t *ix, const ms__fg_cell_t *cells,
                      const fg_rank_t *r, size_t *budget, int force, ms__fg_stack_t *st) {
  memset(st, 0, sizeof *st);
  const ms_stack_t *rs = r->stack_id && r->stack_id != UINT64_MAX
                             ? ms_run_stack(a->run, r->stack_id) : NULL;
  size_t cap = rs ? 2 * (size_t)rs->nframes : 0;
  ms__fg_frame_t *fr = malloc((cap ? cap : 1) * sizeof *fr);
  if (!fr)
    return MS_TRACE_E_NOMEM;
  size_t nfr = rs ? stack_frames(a, rs, fr) : 0;
  size_t listed = r->n < MS__FLAME_MAX_THREADS ? r->n : MS__FLAME_MAX_THREADS;
  size_t cost = stack_cost(&a->flame, ix, fr, nfr, listed);
  if (!force && cost > *budget) {
    free(fr);
    return 0;
  }
  *budget = cost < *budget ? *budget - cost : 0;
  st->stack_id = r->stack_id;
  st->key = r->key;
  st->threads_total = r->n;
  st->allocations = a->sampled ? round_weight(r->w_allocs) : r->allocs;
  st->allocated_bytes = a->sampled ? round_weight(r->w_bytes) : r->bytes;
  st->threads = malloc((r->n ? r->n : 1) * sizeof *st->threads);
  st->frames = malloc((nfr ? nfr : 1) * sizeof *st->frames);
  if (!st->threads || !st->frames) {
    free(fr);
    return MS_TRACE_E_NOMEM;
  }
  for (size_t k = 0; k < r->n; k++) {
    const ms__fg_cell_t *c = &cells[r->first + k];
    st->threads[k] = (ms__fg_thread_t){
        c->thread, a->sampled ? round_weight(c->w_allocs) : c->allocs,
        a->sampled ? round_weight(c->w_bytes) : c->bytes};
  }
  qsort(st->threads, r->n, sizeof *st->threads, cmp_thread_entry);
  st->nthreads = listed;
  for (size_t k = 0; k < nfr; k++) {
    long i = frame_intern(&a->flame, ix, &fr[k]);
    if (i < 0) {
      free(fr);
      return MS_TRACE_E_NOMEM;
    }
    st->frames[st->nframes++] = (uint32_t)i;
  }
  free(fr);
  return 1;
}

int ms__flame_build(ms_analysis_t *a, ms__fg_cell_t *cells, size_t ncells) {
  ms__flame_t *fl = &a->flame;
  memset(fl, 0, sizeof *fl);
  if (ncells > 1) /* cells is NULL in a run without allocations */
    qsort(cells, ncells, sizeof *cells, cmp_cell_stack);
  /* Cells of one (stack, thread) meet when slots were folded into the unknown stack. */
  size_t n = 0;
  for (size_t i = 0; i < ncells; i++) {
    if (n && cells[n - 1].stack_id == cells[i].stack_id &&
        cells[n - 1].thread == cells[i].thread) {
      ms__fg_cell_t *d = &cells[n - 1];
      d->allocs += cells[i].allocs;
      d->bytes += cells[i].bytes;
      d->w_allocs += cells[i].w_allocs;
      d->w_bytes += cells[i].w_bytes;
    } else {
      cells[n++] = cells[i];
    }
  }
  ncells = n;
  fg_rank_t *rk = malloc((ncells ? ncells : 1) * sizeof *rk);
  if (!rk)
    return MS_TRACE_E_NOMEM;
  size_t nr = 0;
  for (size_t i = 0; i < ncells; i++) {
    if (!nr || rk[nr - 1].stack_id != cells[i].stack_id)
      rk[nr++] = (fg_rank_t){.first = i, .stack_id = cells[i].stack_id};
    fg_rank_t *r = &rk[nr - 1];
    r->n++;
    r->allocs += cells[i].allocs;
    r->bytes += cells[i].bytes;
    r->w_allocs += cells[i].w_allocs;
    r->w_bytes += cells[i].w_bytes;
  }
  for (size_t i = 0; i < nr; i++)
    rk[i].key = a->sampled ? rk[i].w_bytes : (double)rk[i].bytes;
  qsort(rk, nr, sizeof *rk, cmp_rank);
  fl->stacks_total = nr;

  /* The largest stacks, in order, while they fit: the first always, then at most
   * MS__FLAME_MAX_STACKS within MS__FLAME_MAX_BYTES. The cut is a prefix of the ranking, so
   * what is shown is "the N largest" for some N. */
  size_t cap = nr < MS__FLAME_MAX_STACKS ? nr : MS__FLAME_MAX_STACKS;
  fl->stacks = calloc(cap ? cap : 1, sizeof *fl->stacks);
  frame_index_t ix = {0};
  ms__hmap_init(&ix.first, sizeof(uint32_t));
  size_t budget = MS__FLAME_MAX_BYTES;
  int rc = fl->stacks ? 0 : MS_TRACE_E_NOMEM;
  while (!rc && fl->nstacks < cap) {
    ms__fg_stack_t *st = &fl->stacks[fl->nstacks];
    rc = show_stack(a, &ix, cells, &rk[fl->nstacks], &budget, fl->nstacks == 0, st);
    if (rc == 0) { /* does not fit */
      break;
    }
    fl->nstacks++; /* even on failure: ms__flame_free frees what it holds */
    rc = rc == 1 ? 0 : rc;
  }
  double rest_a = 0, rest_b = 0;
  for (size_t i = fl->nstacks; i < nr; i++) {
    fl->rest_allocations += rk[i].allocs;
    fl->rest_bytes += rk[i].bytes;
    rest_a += rk[i].w_allocs;
    rest_b += rk[i].w_bytes;
  }
  if (a->sampled) {
    fl->rest_allocations = round_weight(rest_a);
    fl->rest_bytes = round_weight(rest_b);
  }
  fl->all = malloc((nr ? nr : 1) * sizeof *fl->all);
  if (!fl->all && !rc)
    rc = MS_TRACE_E_NOMEM;
  for (size_t i = 0; fl->all && i < nr; i++) {
    fl->all[i].stack_id = rk[i].stack_id;
    fl->all[i].allocations = a->sampled ? round_weight(rk[i].w_allocs) : rk[i].allocs;
    fl->all[i].allocated_bytes = a->sampled ? round_weight(rk[i].w_bytes) : rk[i].bytes;
  }
  fl->nall = fl->all ? nr : 0;
  ms__hmap_destroy(&ix.first);
  free(ix.next);
  free(rk);
  return rc;
}

void ms__flame_free(ms__flame_t *f) {
  for (size_t i = 0; f->stacks && i < f->nstacks; i++) {
    free(f->stacks[i].frames);
    free(f->stacks[i].threads);
  }
  free(f->stacks);
  free(f->frames);
  free(f->all);
  memset(f, 0, sizeof *f);
}
