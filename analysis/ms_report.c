/* ms_report.c: the analysis's JSON: summary.json (schema memscope.summary/1,
 * docs/summary-schema.md), the detail files, and the atomic file writer. All JSON is built
 * with cJSON; 64-bit integers go in as raw decimal text, because cJSON numbers are doubles and
 * would round values above 2^53 (nanosecond timestamps, byte totals of long runs). */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ms_analysis_int.h"
#include "ms_files.h"
#include "ms_format.h"

double ms__now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* An unsigned integer as a cJSON number when a double holds it exactly (up to 2^53), so a
 * reader of the tree (the harness) gets valuedouble; as raw decimal text above that. Either
 * way the printed JSON holds the exact integer. */
static cJSON *make_u64(uint64_t v) {
  if (v <= ((uint64_t)1 << 53))
    return cJSON_CreateNumber((double)v);
  char buf[24];
  snprintf(buf, sizeof buf, "%" PRIu64, v);
  return cJSON_CreateRaw(buf);
}

/* Builders return 0 on success, -1 when cJSON ran out of memory; callers OR them. */
static int add_u64(cJSON *o, const char *k, uint64_t v) {
  cJSON *n = make_u64(v);
  if (n && cJSON_AddItemToObject(o, k, n))
    return 0;
  cJSON_Delete(n);
  return -1;
}
static int push_u64(cJSON *arr, uint64_t v) {
  cJSON *n = make_u64(v);
  if (n && cJSON_AddItemToArray(arr, n))
    return 0;
  cJSON_Delete(n);
  return -1;
}
/* A finite double, or null (JSON has no NaN). */
static int add_num(cJSON *o, const char *k, double v) {
  if (!isfinite(v))
    return cJSON_AddNullToObject(o, k) ? 0 : -1;
  return cJSON_AddNumberToObject(o, k, v) ? 0 : -1;
}
static int add_str(cJSON *o, const char *k, const char *v) {
  return cJSON_AddStringToObject(o, k, v ? v : "") ? 0 : -1;
}
static int add_bool(cJSON *o, const char *k, int v) {
  return cJSON_AddBoolToObject(o, k, v) ? 0 : -1;
}
static int add_null(cJSON *o, const char *k) { return cJSON_AddNullToObject(o, k) ? 0 : -1; }
static cJSON *add_obj(cJSON *o, const char *k) { return cJSON_AddObjectToObject(o, k); }
static cJSON *add_arr(cJSON *o, const char *k) { return cJSON_AddArrayToObject(o, k); }
static cJSON *push_obj(cJSON *arr) {
  cJSON *o = cJSON_CreateObject();
  if (o && !cJSON_AddItemToArray(arr, o)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* r.variables: every MEMSCOPE_TRACK_VAR name with its blocks. Nonzero when out of memory. */
static int variables_json(cJSON *r, const ms_analysis_t *a) {
  cJSON *vs = add_arr(r, "variables");
  int bad = !vs;
  for (size_t i = 0; vs && !bad && i < a->nvars; i++) {
    const ms__var_t *v = &a->vars[i];
    cJSON *o = push_obj(vs);
    bad |= !o || add_str(o, "var_name", v->name) || add_str(o, "type_name", v->type) ||
           add_str(o, "file", v->file) || add_u64(o, "line", v->line) ||
           add_u64(o, "blocks", v->blocks) || add_u64(o, "bytes", v->bytes) ||
           add_u64(o, "live_blocks_at_end", v->live_blocks) ||
           add_u64(o, "live_bytes_at_end", v->live_bytes);
  }
  return bad;
}

static cJSON *frames_json(const ms_frame_t *f, size_t n) {
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; arr && i < n; i++) {
    cJSON *o = push_obj(arr);
    char addr[24];
    snprintf(addr, sizeof addr, "0x%" PRIx64, f[i].address);
    if (!o || add_str(o, "address", addr) || add_str(o, "function", f[i].function) ||
        add_str(o, "file", f[i].file) || add_num(o, "line", f[i].line) ||
        add_str(o, "module", f[i].module) || add_u64(o, "module_offset", f[i].module_offset) ||
        add_str(o, "inlined", f[i].inlined ? f[i].inlined : "")) {
      cJSON_Delete(arr);
      return NULL;
    }
  }
  return arr;
}

/* A leak group or hot stack; hot 1 names the figures allocations/allocated_bytes. */
static int group_json(cJSON *arr, const ms_leak_t *l, int hot) {
  cJSON *o = push_obj(arr);
  if (!o)
    return -1;
  int bad = 0;
  if (hot) {
    bad |= add_u64(o, "allocations", l->blocks);
    bad |= add_u64(o, "allocated_bytes", l->bytes);
    bad |= add_u64(o, "temporary_allocations", l->temporaries);
  } else {
    bad |= add_u64(o, "bytes", l->bytes);
    bad |= add_u64(o, "blocks", l->blocks);
    bad |= add_str(o, "var_name", l->var_name);
    bad |= add_str(o, "type_name", l->type_name);
    bad |= add_bool(o, "suppressed", l->suppressed);
  }
  bad |= add_u64(o, "stack_id", l->stack_id == UINT64_MAX ? 0 : l->stack_id);
  bad |= add_bool(o, "stack_known", l->stack_id != UINT64_MAX);
  cJSON *fr = frames_json(l->frames, l->nframes);
  bad |= !fr || !cJSON_AddItemToObject(o, "stack", fr);
  return bad ? -1 : 0;
}

static int totals_json(cJSON *t, const ms_analysis_t *a, const ms_stats_totals_t *x,
                       uint64_t temporaries) {
  int bad = 0;
  bad |= add_u64(t, "allocations", x->allocations);
  bad |= add_u64(t, "frees", x->frees);
  bad |= add_u64(t, "reallocs", x->reallocs);
  bad |= add_u64(t, "allocated_bytes", x->allocated_bytes);
  bad |= add_u64(t, "peak_live_bytes", x->peak_live_bytes);
  bad |= add_u64(t, "peak_time_ns", x->peak_time_ns);
  bad |= add_u64(t, "leaked_blocks", x->leaked_blocks);
  bad |= add_u64(t, "leaked_bytes", x->leaked_bytes);
  bad |= add_u64(t, "temporary_allocations", temporaries);
  bad |= add_u64(t, "suppressed_leaked_blocks", a->suppressed_blocks);
  bad |= add_u64(t, "suppressed_leaked_bytes", a->suppressed_bytes);
  bad |= add_u64(t, "unmatched_frees", x->unmatched_frees);
  bad |= add_u64(t, "unmatched_realloc_old", x->unmatched_realloc_old);
  bad |= add_u64(t, "alloc_over_live", x->alloc_over_live);
  bad |= add_u64(t, "unknown_stack_refs", x->unknown_stack_refs);
  bad |= add_u64(t, "marks", x->marks);
  bad |= add_u64(t, "vars", x->vars);
  bad |= add_u64(t, "events", x->events);
  bad |= add_u64(t, "first_ts_ns", x->first_ts_ns);
  bad |= add_u64(t, "last_ts_ns", x->last_ts_ns);
  bad |= add_u64(t, "duration_ns", x->last_ts_ns > x->first_ts_ns ? x->last_ts_ns - x->first_ts_ns : 0);
  return bad;
}

static int thread_detail_json(cJSON *o, const ms_analysis_t *a, size_t i);

static int thread_json(cJSON *o, const ms_analysis_t *a, size_t i) {
  const ms__thread_t *th = &a->threads[i];
  const ms_stats_thread_t *r = &th->rep;
  int bad = 0;
  bad |= add_u64(o, "tid", r->tid);
  bad |= add_u64(o, "thread_seq", r->thread_seq);
  bad |= add_str(o, "name", r->name);
  /* Tracked: the trace holds an allocator call of the thread. A thread file alone does not
   * say so: a thread that named itself while the policy tracked it and then switched
   * tracking off (memscope_thread_track(0), as selective_50's odd workers do) has a file
   * holding only its name. In sampled modes no sampled call cannot tell "untracked" from
   * "tracked, nothing sampled": null (unknown). Recorded counts, not estimates. */
  const ms_stats_thread_t *rec = &a->stats->threads[i];
  if (rec->allocations + rec->frees + rec->reallocs > 0)
    bad |= add_bool(o, "tracked", 1);
  else if (a->sampled)
    bad |= add_null(o, "tracked");
  else
    bad |= add_bool(o, "tracked", 0);
  bad |= add_u64(o, "allocations", r->allocations);
  bad |= add_u64(o, "frees", r->frees);
  bad |= add_u64(o, "reallocs", r->reallocs);
  bad |= add_u64(o, "allocated_bytes", r->allocated_bytes);
  bad |= add_u64(o, "live_bytes", r->live_bytes);
  bad |= add_u64(o, "peak_live_bytes", r->peak_live_bytes);
  bad |= add_u64(o, "peak_time_ns", r->peak_time_ns);
  bad |= add_u64(o, "temporary_allocations", th->temporaries);
  bad |= add_num(o, "avg_size", th->avg_size);
  bad |= add_num(o, "alloc_rate_per_s", th->alloc_rate_per_s);
  bad |= add_num(o, "allocated_bytes_per_s", th->bytes_rate_per_s);
  bad |= ms__res_json(o, a, i); /* resources, cpu_percent, cpu_time_s, io_ops */
  /* role, alert, role_basis: ms_roles_apply, on the finished tree. */
  bad |= thread_detail_json(o, a, i);
  return bad;
}

static int estimate_json(cJSON *o, const char *k, ms_estimate_t e) {
  cJSON *x = add_obj(o, k);
  if (!x)
    return -1;
  int bad = add_num(x, "value", e.value);
  bad |= add_num(x, "std_error", e.std_error);
  cJSON *ci = add_arr(x, "ci95");
  bad |= !ci;
  if (ci) {
    cJSON *lo = isfinite(e.ci95_low) ? cJSON_CreateNumber(e.ci95_low) : cJSON_CreateNull();
    cJSON *hi = isfinite(e.ci95_high) ? cJSON_CreateNumber(e.ci95_high) : cJSON_CreateNull();
    bad |= !lo || !cJSON_AddItemToArray(ci, lo);
    bad |= !hi || !cJSON_AddItemToArray(ci, hi);
  }
  if (e.value > 0 && isfinite(e.std_error))
    bad |= add_num(x, "relative_std_error", e.std_error / e.value);
  return bad;
}

static int mode_json(cJSON *m, const ms_analysis_t *a) {
  const ms_meta_t *meta = ms_run_meta(a->run);
  const char *sd = ms_meta_get(meta, "stack_depth");
  int bad = add_str(m, "sample", a->sample_name);
  bad |= add_bool(m, "estimated", a->sampled != 0);
  if (a->sampled == 2)
    bad |= add_u64(m, "sample_bytes", a->sample_bytes);
  else
    bad |= add_null(m, "sample_bytes");
  bad |= add_num(m, "stack_depth", sd ? strtod(sd, NULL) : NAN);
  bad |= add_str(m, "threads", ms_meta_get(meta, "threads"));
  if (!a->sampled)
    return bad;
  bad |= add_str(m, "method", a->sampled == 2
                                  ? "Horvitz-Thompson: weight 1/p, p = 1 - exp(-size/sample_bytes)"
                                  : "Horvitz-Thompson: weight = recorded rate, p = 1/weight");
  cJSON *rec = add_obj(m, "recorded");
  bad |= !rec || totals_json(rec, a, &a->stats->totals, a->temporaries);
  cJSON *est = add_obj(m, "estimates");
  bad |= !est;
  if (est) {
    bad |= estimate_json(est, "allocations", a->est[MS_EST_ALLOCATIONS]);
    bad |= estimate_json(est, "allocated_bytes", a->est[MS_EST_ALLOCATED_BYTES]);
    bad |= estimate_json(est, "peak_live_bytes", a->est[MS_EST_PEAK_LIVE_BYTES]);
    cJSON *pk = cJSON_GetObjectItem(est, "peak_live_bytes");
    bad |= !pk || add_str(pk, "method", a->peak_crossfit ? "cross-fitted" : "series maximum");
    bad |= estimate_json(est, "leaked_bytes", a->est[MS_EST_LEAKED_BYTES]);
    bad |= estimate_json(est, "leaked_blocks", a->est[MS_EST_LEAKED_BLOCKS]);
    bad |= estimate_json(est, "frees", a->est[MS_EST_FREES]);
    /* How the sums' intervals are made (ms_analyze.c, gamma_interval): not value +- 1.96 se,
     * which is [0, 0] when no block was sampled. */
    const char *sums[] = {"allocations", "allocated_bytes", "leaked_bytes", "leaked_blocks"};
    for (size_t i = 0; i < sizeof sums / sizeof *sums; i++) {
      cJSON *e = cJSON_GetObjectItem(est, sums[i]);
      bad |= !e || add_str(e, "ci95_method", "gamma (Fay-Feuer), one unseen sampled block added");
    }
  }
  return bad;
}

static int scope_json(cJSON *arr, const ms_scope_t *s, uint64_t t0) {
  cJSON *o = push_obj(arr);
  if (!o)
    return -1;
  int bad = add_str(o, "name", s->name);
  bad |= add_u64(o, "begin_ns", s->begin_ns);
  if (s->end_ns)
    bad |= add_u64(o, "end_ns", s->end_ns);
  else
    bad |= add_null(o, "end_ns");
  bad |= add_bool(o, "ended", s->end_ns != 0);
  bad |= add_u64(o, "begin_rel_ns", s->begin_ns > t0 ? s->begin_ns - t0 : 0);
  bad |= add_u64(o, "allocations", s->allocations);
  bad |= add_u64(o, "frees", s->frees);
  bad |= add_u64(o, "allocated_bytes", s->allocated_bytes);
  bad |= add_u64(o, "peak_live_bytes", s->peak_live_bytes);
  bad |= add_u64(o, "leaked_blocks", s->leaked_blocks);
  bad |= add_u64(o, "leaked_bytes", s->leaked_bytes);
  return bad;
}

static int timeline_json(cJSON *o, const ms_timeline_point_t *p, size_t n) {
  cJSON *t = add_arr(o, "t_ns"), *v = add_arr(o, "live_bytes");
  if (!t || !v)
    return -1;
  for (size_t i = 0; i < n; i++)
    if (push_u64(t, p[i].t_ns) || push_u64(v, p[i].live_bytes))
      return -1;
  return 0;
}

static int histogram_json(cJSON *arr, const uint64_t *c, size_t n) {
  size_t last = 0;
  for (size_t k = 0; k < n; k++)
    if (c[k])
      last = k + 1;
  for (size_t k = 0; k < last; k++) {
    cJSON *o = push_obj(arr);
    if (!o || add_u64(o, "min", k ? (uint64_t)1 << k : 0) ||
        add_u64(o, "max", k < 63 ? ((uint64_t)1 << (k + 1)) - 1 : UINT64_MAX) ||
        add_u64(o, "count", c[k]))
      return -1;
  }
  return 0;
}

/* A thread's detail for the dashboard's focus mode and the per-thread lines of the gnuplot
 * heap timeline (docs/dashboard-data.md §2): its live bytes over time (same clock as the
 * top-level timeline), its allocation sizes and the lifetimes of its blocks, in the
 * top-level histograms' buckets. */
static int thread_detail_json(cJSON *o, const ms_analysis_t *a, size_t i) {
  const ms__thread_t *th = &a->threads[i];
  cJSON *tl = add_obj(o, "timeline");
  int bad = !tl || timeline_json(tl, th->pts, th->npts);
  cJSON *sh = add_arr(o, "size_histogram");
  bad |= !sh || histogram_json(sh, th->size_hist, 64);
  cJSON *lh = add_arr(o, "lifetime_histogram_log2_ns");
  bad |= !lh || histogram_json(lh, th->life_hist, 64);
  return bad;
}

/* The flame graph (docs/dashboard-data.md §3, ms_flame.c): the frames table, then the shown
 * stacks as lists of frame indexes, root first. */
static int flamegraph_json(cJSON *root, const ms_analysis_t *a) {
  const ms__flame_t *fl = &a->flame;
  cJSON *fg = add_obj(root, "flamegraph");
  if (!fg)
    return -1;
  cJSON *frames = add_arr(fg, "frames");
  int bad = !frames;
  for (size_t i = 0; !bad && i < fl->nframes; i++) {
    const ms__fg_frame_t *f = &fl->frames[i];
    cJSON *o = push_obj(frames);
    bad |= !o || add_str(o, "function", f->function) || add_str(o, "file", f->file) ||
           add_u64(o, "line", (uint64_t)(f->line > 0 ? f->line : 0)) ||
           add_str(o, "module", f->module) || add_bool(o, "inlined", f->inlined);
    if (!bad && !*f->function && *f->module)
      bad |= add_u64(o, "module_offset", f->module_offset);
  }
  cJSON *stacks = add_arr(fg, "stacks");
  bad |= !stacks;
  for (size_t i = 0; !bad && i < fl->nstacks; i++) {
    const ms__fg_stack_t *st = &fl->stacks[i];
    cJSON *o = push_obj(stacks);
    bad |= !o || add_u64(o, "stack_id", st->stack_id == UINT64_MAX ? 0 : st->stack_id) ||
           add_bool(o, "stack_known", st->stack_id != UINT64_MAX);
    cJSON *fr = o ? add_arr(o, "frames") : NULL;
    bad |= !fr;
    for (size_t k = 0; !bad && k < st->nframes; k++)
      bad |= push_u64(fr, st->frames[k]);
    bad |= bad || add_u64(o, "allocations", st->allocations) ||
           add_u64(o, "allocated_bytes", st->allocated_bytes) ||
           add_u64(o, "threads_total", st->threads_total);
    cJSON *th = bad ? NULL : add_arr(o, "threads");
    bad |= !th;
    for (size_t k = 0; !bad && k < st->nthreads; k++) {
      const ms__fg_thread_t *t = &st->threads[k];
      cJSON *x = push_obj(th);
      bad |= !x || add_u64(x, "tid", a->threads[t->thread].rep.tid) ||
             add_u64(x, "allocations", t->allocations) ||
             add_u64(x, "allocated_bytes", t->allocated_bytes);
    }
  }
  bad |= add_u64(fg, "stacks_total", fl->stacks_total);
  bad |= add_u64(fg, "stacks_shown", fl->nstacks);
  cJSON *rest = add_obj(fg, "not_shown");
  bad |= !rest || add_u64(rest, "stacks", fl->stacks_total - fl->nstacks) ||
         add_u64(rest, "allocations", fl->rest_allocations) ||
         add_u64(rest, "allocated_bytes", fl->rest_bytes);
  bad |= add_bool(fg, "estimated", a->sampled != 0);
  bad |= add_str(fg, "basis",
                 a->sampled ? "every recorded (sampled) allocation, by its full recorded stack; "
                              "figures are weighted estimates (Horvitz-Thompson), rounded"
                            : "every recorded allocation, by its full recorded stack");
  return bad;
}

static int lifetime_json(cJSON *o, const ms_analysis_t *a) {
  const ms_lifetime_stats_t *l = &a->life;
  int bad = add_u64(o, "count", l->count);
  if (l->count) {
    bad |= add_u64(o, "min_ns", l->min_ns);
    bad |= add_u64(o, "median_ns", l->median_ns);
    bad |= add_u64(o, "max_ns", l->max_ns);
    bad |= add_num(o, "mean_ns", l->mean_ns);
  } else {
    bad |= add_null(o, "min_ns") | add_null(o, "median_ns") | add_null(o, "max_ns") |
           add_null(o, "mean_ns");
  }
  cJSON *h = add_arr(o, "histogram_log2_ns");
  bad |= !h || histogram_json(h, l->log2_buckets, 64);
  return bad;
}

static int damage_json(cJSON *r, const ms_analysis_t *a) {
  cJSON *d = add_arr(r, "damage");
  if (!d)
    return -1;
  for (size_t i = 0; i < ms_run_ndamage(a->run); i++) {
    const ms_damage_t *x = ms_run_damage(a->run, i);
    cJSON *o = push_obj(d);
    if (!o || add_str(o, "file", x->file) || add_u64(o, "offset", x->offset) ||
        add_str(o, "reason", x->reason))
      return -1;
  }
  return 0;
}

static int run_json(cJSON *r, const ms_analysis_t *a) {
  const ms_meta_t *meta = ms_run_meta(a->run);
  int bad = add_str(r, "dir", ms_run_dir(a->run));
  bad |= add_u64(r, "pid", meta->pid);
  bad |= add_str(r, "exe", ms_meta_get(meta, "exe"));
  bad |= add_str(r, "cmdline", ms_meta_get(meta, "cmdline"));
  bad |= add_str(r, "origin", ms_meta_get(meta, "origin"));
  /* "" for a run without an end, and for one whose end an exec_failed line voided */
  bad |= add_str(r, "end_reason", meta->has_end ? ms_meta_get(meta, "end_reason") : NULL);
  const ms_completeness_t *c = ms_analysis_completeness(a);
  bad |= add_bool(r, "partial", !c->complete);
  cJSON *cj = add_obj(r, "completeness");
  bad |= !cj || add_bool(cj, "complete", c->complete) || add_bool(cj, "stopped", c->stopped) ||
         add_bool(cj, "salvaged", c->salvaged) ||
         (c->events_lost >= 0 ? add_u64(cj, "events_lost", (uint64_t)c->events_lost)
                              : add_null(cj, "events_lost")) ||
         add_str(cj, "reason", c->reason);
  bad |= add_str(r, "calibration", ms_run_calibration(a->run));
  bad |= add_u64(r, "stacks", ms_run_nstacks(a->run));
  bad |= add_u64(r, "thread_files", a->nthreads);
  const char *keys[] = {"events_lost", "late_events", "stack_table_full", "write_errors"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const char *v = ms_meta_get(meta, keys[i]);
    if (v && *v && strspn(v, "0123456789") == strlen(v))
      bad |= add_u64(r, keys[i], strtoull(v, NULL, 10));
    else
      bad |= add_null(r, keys[i]);
  }
  bad |= damage_json(r, a);
  /* Files the trace names that the symbolizer would not open (not regular files): a hostile
   * or odd maps.txt is visible in the report, not only on a terminal. */
  cJSON *w = add_arr(r, "symbol_warnings");
  bad |= !w;
  for (size_t i = 0; w && i < ms_symbolizer_nwarnings(a->sym); i++) {
    cJSON *x = cJSON_CreateString(ms_symbolizer_warning(a->sym, i));
    bad |= !x || !cJSON_AddItemToArray(w, x);
  }
  return bad;
}

cJSON *ms_analysis_summary_json(const ms_analysis_t *a) {
  cJSON *root = cJSON_CreateObject();
  if (!root)
    return NULL;
  int bad = add_str(root, "schema", "memscope.summary/1");
  cJSON *run = add_obj(root, "run");
  bad |= !run || run_json(run, a);
  cJSON *tot = add_obj(root, "totals");
  bad |= !tot || totals_json(tot, a, &a->totals, a->temporaries_reported);
  const ms_stats_module_t *m = ms_analysis_module(a);
  if (m) {
    cJSON *mo = add_obj(root, "module_filter");
    bad |= !mo;
    if (mo) {
      bad |= add_str(mo, "module", m->module);
      bad |= add_u64(mo, "allocations", m->allocations);
      bad |= add_u64(mo, "reallocs", m->reallocs);
      bad |= add_u64(mo, "frees", m->frees);
      bad |= add_u64(mo, "allocated_bytes", m->allocated_bytes);
      bad |= add_u64(mo, "peak_live_bytes", m->peak_live_bytes);
      bad |= add_u64(mo, "peak_time_ns", m->peak_time_ns);
      bad |= add_u64(mo, "leaked_blocks", m->leaked_blocks);
      bad |= add_u64(mo, "leaked_bytes", m->leaked_bytes);
    }
  }
  cJSON *th = add_arr(root, "threads");
  bad |= !th;
  for (size_t i = 0; th && !bad && i < a->nthreads; i++) {
    cJSON *o = push_obj(th);
    bad |= !o || thread_json(o, a, i);
  }
  cJSON *lk = add_arr(root, "leaks");
  bad |= !lk;
  for (size_t i = 0; lk && !bad && i < a->nleaks; i++)
    bad |= group_json(lk, &a->leaks[i], 0);
  bad |= add_u64(root, "leak_groups", a->nleak_groups);
  bad |= !add_arr(root, "assertions");
  bad |= add_null(root, "overhead");
  cJSON *mode = add_obj(root, "mode");
  bad |= !mode || mode_json(mode, a);
  uint64_t t0 = a->totals.first_ts_ns;
  cJSON *sc = add_arr(root, "scopes");
  bad |= !sc;
  for (size_t i = 0; sc && !bad && i < a->nscopes; i++)
    bad |= scope_json(sc, &a->scopes[i], t0);
  cJSON *mk = add_arr(root, "marks");
  bad |= !mk;
  for (size_t i = 0; mk && !bad && i < a->nmarks; i++) {
    const ms_mark_t *x = &a->marks[i];
    cJSON *o = push_obj(mk);
    bad |= !o || add_str(o, "name", x->name) ||
           add_str(o, "kind", x->kind == MS_MARK_SNAPSHOT ? "snapshot" : "mark") ||
           add_u64(o, "tid", x->tid) || add_u64(o, "t_ns", x->t_ns) ||
           add_u64(o, "t_rel_ns", x->t_ns > t0 ? x->t_ns - t0 : 0) ||
           add_u64(o, "live_bytes", x->live_bytes) || add_u64(o, "live_blocks", x->live_blocks);
  }
  cJSON *tl = add_obj(root, "timeline");
  bad |= !tl || timeline_json(tl, a->pts, a->npts);
  cJSON *sh = add_arr(root, "size_histogram");
  bad |= !sh || histogram_json(sh, a->size_hist, 64);
  cJSON *hs = add_obj(root, "hot_stacks");
  bad |= !hs;
  if (hs) {
    cJSON *bc = add_arr(hs, "by_count"), *bb = add_arr(hs, "by_bytes");
    bad |= !bc || !bb;
    for (size_t i = 0; !bad && i < a->nhot[0]; i++)
      bad |= group_json(bc, &a->hot[0][i], 1);
    for (size_t i = 0; !bad && i < a->nhot[1]; i++)
      bad |= group_json(bb, &a->hot[1][i], 1);
  }
  if (a->peak) /* only when asked for (opts.peak_stacks): ms_peak.c */
    bad |= bad || ms__peak_json(root, a, frames_json);
  cJSON *lt = add_obj(root, "lifetimes");
  bad |= !lt || lifetime_json(lt, a);
  bad |= bad || flamegraph_json(root, a);
  /* Last: roles and bottlenecks read the threads, hot stacks and leaks written above. */
  bad |= bad || ms_roles_apply(root, &a->opts.roles) != 0;
  if (bad) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

/* ---- atomic writes (ms_files.c) ------------------------------------------------------- */

static int write_json_sized(const char *path, const cJSON *json, uint64_t *bytes) {
  char *text = cJSON_Print(json);
  if (!text)
    return -ENOMEM;
  size_t n = strlen(text);
  text[n] = '\n'; /* the NUL becomes the final newline; length n + 1 */
  int rc = ms_write_file_atomic(path, text, n + 1);
  cJSON_free(text);
  if (bytes)
    *bytes = rc ? 0 : n + 1;
  return rc;
}

int ms_write_json_file(const char *path, const cJSON *json) {
  return write_json_sized(path, json, NULL);
}

/* ---- detail files ------------------------------------------------------------------------- */

static cJSON *memory_analysis_json(const ms_analysis_t *a) {
  cJSON *r = cJSON_CreateObject();
  if (!r)
    return NULL;
  int bad = add_str(r, "schema", "memscope.memory_analysis/1");
  bad |= add_u64(r, "live_blocks_at_end", a->live_total);
  bad |= add_bool(r, "live_blocks_truncated", a->nlive < a->live_total);
  cJSON *lv = add_arr(r, "live_blocks");
  bad |= !lv;
  for (size_t i = 0; lv && !bad && i < a->nlive; i++) {
    const struct ms__live_rec_s *x = &a->live[i];
    cJSON *o = push_obj(lv);
    char addr[24];
    snprintf(addr, sizeof addr, "0x%" PRIx64, x->addr);
    const ms__var_t *v = x->var >= 0 && (size_t)x->var < a->nvars ? &a->vars[x->var] : NULL;
    bad |= !o || add_str(o, "address", addr) || add_u64(o, "size", x->size) ||
           add_u64(o, "tid", x->tid) || add_u64(o, "alloc_ns", x->alloc_ns) ||
           add_u64(o, "stack_id", x->stack_id == UINT64_MAX ? 0 : x->stack_id) ||
           add_str(o, "var_name", v ? v->name : "") || add_str(o, "type_name", v ? v->type : "");
  }
  bad |= variables_json(r, a);
  bad |= add_u64(r, "var_records_unmatched", a->vars_unmatched);
  bad |= add_u64(r, "var_records_dropped", a->vars_dropped);
  cJSON *g = add_obj(r, "allocation_groups");
  bad |= !g;
  if (g) {
    cJSON *bc = add_arr(g, "by_count"), *bb = add_arr(g, "by_bytes"), *lk = add_arr(g, "leaks");
    bad |= !bc || !bb || !lk;
    for (size_t i = 0; !bad && i < a->nhot[0]; i++)
      bad |= group_json(bc, &a->hot[0][i], 1);
    for (size_t i = 0; !bad && i < a->nhot[1]; i++)
      bad |= group_json(bb, &a->hot[1][i], 1);
    for (size_t i = 0; !bad && i < a->nleaks; i++)
      bad |= group_json(lk, &a->leaks[i], 0);
  }
  if (bad) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

static cJSON *lifetime_file_json(const ms_analysis_t *a) {
  cJSON *r = cJSON_CreateObject();
  if (!r)
    return NULL;
  int bad = add_str(r, "schema", "memscope.lifetime/1");
  cJSON *l = add_obj(r, "lifetimes");
  bad |= !l || lifetime_json(l, a);
  bad |= add_u64(r, "temporary_allocations", a->temporaries_reported);
  cJSON *th = add_arr(r, "threads");
  bad |= !th;
  for (size_t i = 0; th && !bad && i < a->nthreads; i++) {
    cJSON *o = push_obj(th);
    const ms__thread_t *t = &a->threads[i];
    bad |= !o || add_u64(o, "tid", t->rep.tid) || add_str(o, "name", t->rep.name) ||
           add_u64(o, "first_event_ns", t->first_ns) || add_u64(o, "last_event_ns", t->last_ns) ||
           add_u64(o, "temporary_allocations", t->temporaries) ||
           add_u64(o, "live_bytes_at_end", t->rep.live_bytes);
  }
  if (bad) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

typedef struct rank_s {
  size_t i;
  double v;
} rank_t;

static int cmp_rank(const void *x, const void *y) {
  const rank_t *a = x, *b = y;
  if (a->v != b->v)
    return a->v > b->v ? -1 : 1;
  return a->i < b->i ? -1 : a->i > b->i;
}

/* `sum` is the run's summary tree: the roles and alerts of its threads[] (same order). */
static cJSON *rankings_json(const ms_analysis_t *a, const cJSON *sum) {
  cJSON *r = cJSON_CreateObject();
  size_t nt = a->nthreads ? a->nthreads : 1;
  rank_t *rk = malloc(nt * sizeof *rk);
  /* The summary's thread objects by index, found once (cJSON arrays are lists). */
  const cJSON **st = calloc(nt, sizeof *st);
  if (!r || !rk || !st) {
    cJSON_Delete(r);
    free(rk);
    free(st);
    return NULL;
  }
  size_t ns = 0;
  const cJSON *x;
  cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(sum, "threads")) {
    if (ns < a->nthreads)
      st[ns++] = x;
  }
  int bad = add_str(r, "schema", "memscope.resource_rankings/1");
  const char *names[] = {"by_peak_live_bytes", "by_allocations", "by_alloc_rate_per_s",
                         "by_allocated_bytes"};
  for (int k = 0; k < 4 && !bad; k++) {
    for (size_t i = 0; i < a->nthreads; i++) {
      const ms__thread_t *t = &a->threads[i];
      double v = k == 0   ? (double)t->rep.peak_live_bytes
                 : k == 1 ? (double)t->rep.allocations
                 : k == 2 ? t->alloc_rate_per_s
                          : (double)t->rep.allocated_bytes;
      rk[i] = (rank_t){i, v};
    }
    qsort(rk, a->nthreads, sizeof *rk, cmp_rank);
    cJSON *arr = add_arr(r, names[k]);
    bad |= !arr;
    for (size_t j = 0; arr && !bad && j < a->nthreads; j++) {
      const ms__thread_t *t = &a->threads[rk[j].i];
      const cJSON *o_sum = rk[j].i < ns ? st[rk[j].i] : NULL;
      cJSON *o = push_obj(arr);
      bad |= !o || add_u64(o, "rank", j + 1) || add_u64(o, "tid", t->rep.tid) ||
             add_str(o, "name", t->rep.name) || add_num(o, "value", rk[j].v) ||
             add_str(o, "role", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o_sum, "role"))) ||
             add_str(o, "alert", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o_sum, "alert")));
    }
  }
  free(rk);
  free(st);
  if (bad) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

static cJSON *comprehensive_json(const ms_analysis_t *a) {
  cJSON *r = ms_analysis_summary_json(a);
  if (!r)
    return NULL;
  cJSON_ReplaceItemInObject(r, "schema", cJSON_CreateString("memscope.comprehensive/1"));
  int bad = variables_json(r, a); /* threads[i].timeline: in the summary (thread_detail_json) */
  cJSON *meta = add_obj(r, "meta");
  const ms_meta_t *m = ms_run_meta(a->run);
  bad |= !meta;
  for (size_t i = 0; meta && !bad && i < m->nkeys; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(meta, m->keys[i]); /* the last line wins */
    bad |= add_str(meta, m->keys[i], m->values[i]);
  }
  bad |= add_u64(r, "scopes_dropped", a->scopes_dropped);
  bad |= add_u64(r, "scope_ends_unmatched", a->scope_ends_unmatched);
  bad |= add_u64(r, "marks_dropped", a->marks_dropped);
  if (bad) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

typedef struct file_stat_s {
  const char *suffix;
  uint64_t bytes;
  double build_s, write_s;
} file_stat_t;

static cJSON *performance_json(const ms_analysis_t *a, const file_stat_t *fs, size_t n,
                               double summary_build_s, uint64_t summary_bytes) {
  cJSON *r = cJSON_CreateObject();
  if (!r)
    return NULL;
  int bad = add_str(r, "schema", "memscope.performance/1");
  cJSON *p = add_obj(r, "analysis");
  bad |= !p;
  if (p) {
    bad |= add_u64(p, "events", a->events);
    bad |= add_u64(p, "trace_bytes", a->trace_bytes);
    bad |= add_u64(p, "thread_files", a->nthreads);
    bad |= add_num(p, "open_s", a->open_s);
    bad |= add_num(p, "pass_s", a->pass_s);
    bad |= add_num(p, "finish_s", a->finish_s);
    bad |= add_num(p, "symbolize_s", a->symbolize_s);
    double total = a->open_s + a->pass_s;
    bad |= add_num(p, "events_per_s", total > 0 ? (double)a->events / total : NAN);
    bad |= add_num(p, "pass_events_per_s", a->pass_s > 0 ? (double)a->events / a->pass_s : NAN);
    bad |= add_num(p, "read_bytes_per_s", total > 0 ? (double)a->trace_bytes / total : NAN);
    bad |= add_u64(p, "symbolized_addresses", ms_symbolizer_cached(a->sym));
    bad |= add_u64(p, "symbolized_modules", ms_symbolizer_modules(a->sym));
  }
  cJSON *j = add_obj(r, "json");
  bad |= !j;
  double json_s = summary_build_s;
  uint64_t json_bytes = summary_bytes;
  if (j) {
    cJSON *s = add_obj(j, "summary");
    bad |= !s || add_u64(s, "bytes", summary_bytes) || add_num(s, "build_and_print_s", summary_build_s);
    for (size_t i = 0; i < n; i++) {
      cJSON *o = add_obj(j, fs[i].suffix);
      bad |= !o || add_u64(o, "bytes", fs[i].bytes) || add_num(o, "build_s", fs[i].build_s) ||
             add_num(o, "write_s", fs[i].write_s);
      json_s += fs[i].build_s + fs[i].write_s;
      json_bytes += fs[i].bytes;
    }
  }
  /* The seed reports "binary export 80x faster than JSON"; ours, measured: reading the binary
   * trace (open + pass) against producing the JSON reports from the analysis. */
  cJSON *c = add_obj(r, "binary_vs_json");
  bad |= !c;
  if (c) {
    bad |= add_u64(c, "binary_bytes", a->trace_bytes);
    bad |= add_u64(c, "json_bytes", json_bytes);
    bad |= add_num(c, "binary_read_s", a->open_s + a->pass_s);
    bad |= add_num(c, "json_write_s", json_s);
    bad |= add_num(c, "json_bytes_per_event", a->events ? (double)json_bytes / (double)a->events : NAN);
    bad |= add_num(c, "binary_bytes_per_event", a->events ? (double)a->trace_bytes / (double)a->events : NAN);
    bad |= add_str(c, "note", "the JSON files are summaries (bounded), not a per-event export");
  }
  if (bad) {
    cJSON_Delete(r);
    return NULL;
  }
  return r;
}

static char *detail_path(const char *dir, const char *prefix, const char *suffix) {
  size_t n = strlen(dir) + strlen(prefix) + strlen(suffix) + 3;
  char *p = malloc(n);
  if (p)
    snprintf(p, n, "%s/%s%s", dir, prefix, suffix);
  return p;
}

int ms_analysis_write_details(const ms_analysis_t *a, const char *out_dir, const char *prefix,
                              char *err, size_t errlen) {
  char dummy[8];
  if (!err || !errlen) {
    err = dummy;
    errlen = sizeof dummy;
  }
  if (!prefix)
    prefix = "memscope";
  struct stat st;
  if (stat(out_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
    int e = errno && stat(out_dir, &st) < 0 ? errno : ENOTDIR;
    snprintf(err, errlen, "%s: %s (give an existing, writable directory)", out_dir, strerror(e));
    return -e;
  }
  /* The summary is the harness's to write; its build time and size are measured here. */
  double t = ms__now_s();
  cJSON *sum = ms_analysis_summary_json(a);
  char *stext = sum ? cJSON_Print(sum) : NULL;
  uint64_t sbytes = stext ? strlen(stext) + 1 : 0;
  double sum_s = ms__now_s() - t;
  cJSON_free(stext);
  if (!sum) {
    snprintf(err, errlen, "summary: out of memory");
    return -ENOMEM;
  }

  file_stat_t fs[4] = {{"_memory_analysis.json", 0, 0, 0},
                       {"_lifetime.json", 0, 0, 0},
                       {"_comprehensive.json", 0, 0, 0},
                       {"_resource_rankings.json", 0, 0, 0}};
  for (int i = 0; i <= 4; i++) {
    t = ms__now_s();
    cJSON *j = i == 0   ? memory_analysis_json(a)
               : i == 1 ? lifetime_file_json(a)
               : i == 2 ? comprehensive_json(a)
               : i == 3 ? rankings_json(a, sum)
                        : performance_json(a, fs, 4, sum_s, sbytes);
    double built = ms__now_s();
    const char *suffix = i < 4 ? fs[i].suffix : "_performance.json";
    char *path = detail_path(out_dir, prefix, suffix);
    if (!j || !path) {
      cJSON_Delete(j);
      cJSON_Delete(sum);
      free(path);
      snprintf(err, errlen, "%s%s: out of memory", prefix, suffix);
      return -ENOMEM;
    }
    uint64_t bytes = 0;
    int rc = write_json_sized(path, j, &bytes);
    cJSON_Delete(j);
    if (rc) {
      snprintf(err, errlen, "%s: %s", path, strerror(-rc));
      cJSON_Delete(sum);
      free(path);
      return rc;
    }
    free(path);
    if (i < 4) {
      fs[i].bytes = bytes;
      fs[i].build_s = built - t;
      fs[i].write_s = ms__now_s() - built;
    }
  }
  cJSON_Delete(sum);
  return 0;
}

int ms_mkdirs(const char *path) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
    return -ENAMETOOLONG;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/')
      continue;
    *p = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
    return -errno;
  struct stat sb;
  if (stat(tmp, &sb) != 0)
    return -errno;
  return S_ISDIR(sb.st_mode) ? 0 : -ENOTDIR;
}
