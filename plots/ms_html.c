/* ms_html.c: the self-contained HTML dashboard (report.html): the page files of plots/dashboard/
 * (embedded at build time) around the run's data as JSON. docs/dashboard.md describes the page.
 *
 * This file writes no HTML of its own: it chooses what of summary.json and resources.json the
 * page needs (so that a 100-thread, 1M-event run stays under 2 MB), prints that with cJSON and
 * concatenates shell, CSS, data and JavaScript. Every string of the data reaches the page only
 * inside that JSON, which the page's script inserts as text (never as markup). */
#define _GNU_SOURCE
#include "ms_plots_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The page files, as byte arrays (cmake/EmbedFile.cmake). */
extern const unsigned char ms_dashboard_html[], ms_dashboard_css[], ms_dashboard_charts_js[],
    ms_dashboard_flame_js[], ms_dashboard_js[];
extern const size_t ms_dashboard_html_len, ms_dashboard_css_len, ms_dashboard_charts_js_len,
    ms_dashboard_flame_js_len, ms_dashboard_js_len;

/* ---- size caps: what of a large run is embedded (docs/dashboard.md, "Size") ---- */

#define DASH_MAX_LEAKS 100           /* leak groups listed (the summary holds at most 100) */
#define DASH_MAX_LEAK_FRAMES 32      /* frames of one leak's stack */
#define DASH_MAX_HOT_FRAMES 32       /* frames of one hot stack */
#define DASH_THREAD_DETAIL_BYTES 500000 /* per-thread timelines and histograms, all threads */
#define DASH_MAX_FLAME_STACKS 500    /* flame graph stacks (largest by bytes come first) */
#define DASH_MAX_FLAME_THREAD_REFS 20000 /* (stack, thread) entries of the flame graph */
#define DASH_MAX_SAMPLES 3000        /* resource samples: every k-th beyond this */
#define DASH_MAX_SAMPLE_CELLS 60000  /* samples x (cores + 3 columns) */
#define DASH_MAX_MARKS 200
#define DASH_MAX_PROCESSES 50

/* A note the page shows: what was left out of the embedded data and why. */
static void note_cut(cJSON *limits, const char *what, double shown, double total, const char *why) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "what", what);
  cJSON_AddNumberToObject(o, "shown", shown);
  cJSON_AddNumberToObject(o, "total", total);
  cJSON_AddStringToObject(o, "why", why);
  cJSON_AddItemToArray(limits, o);
}

/* dst[key] = a copy of src[key], when present. Returns the copy (or NULL). */
static cJSON *copy_key(cJSON *dst, const cJSON *src, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, key);
  if (!v) return NULL;
  cJSON *c = cJSON_Duplicate(v, 1);
  if (c) cJSON_AddItemToObject(dst, key, c);
  return c;
}

/* Cuts array a to its first n items, in one walk (cJSON's delete by index walks from the
 * start each time): the tail's chain is unlinked and freed whole (cJSON_Delete frees an item
 * and every sibling after it). */
static void truncate_array(cJSON *a, int n) {
  if (!cJSON_IsArray(a) || !a->child) return;
  if (n <= 0) {
    cJSON_Delete(a->child);
    a->child = NULL;
    return;
  }
  cJSON *last = a->child;
  for (int i = 1; last->next && i < n; i++) last = last->next;
  cJSON *rest = last->next;
  if (!rest) return;
  last->next = NULL;
  rest->prev = NULL;
  a->child->prev = last; /* cJSON keeps the last item in the first one's prev */
  cJSON_Delete(rest);
}

/* Stack frames: module_offset is not shown; an address is kept (an unsymbolized frame shows it). */
static void trim_frames(cJSON *stack, int max_frames) {
  truncate_array(stack, max_frames);
  cJSON *fr;
  cJSON_ArrayForEach(fr, stack) cJSON_DeleteItemFromObjectCaseSensitive(fr, "module_offset");
}

static void trim_stack_list(cJSON *list, int max_frames) {
  cJSON *s;
  cJSON_ArrayForEach(s, list) trim_frames(cJSON_GetObjectItemCaseSensitive(s, "stack"), max_frames);
}

/* Bytes that cJSON would print for v (the budget of per-thread detail). */
static size_t printed_size(const cJSON *v) {
  char *p = cJSON_PrintUnformatted(v);
  size_t n = p ? strlen(p) : 0;
  free(p);
  return n;
}

static int cmp_peak_desc(const void *a, const void *b) {
  double x = ms__num(*(const cJSON *const *)a, "peak_live_bytes", 0);
  double y = ms__num(*(const cJSON *const *)b, "peak_live_bytes", 0);
  return x < y ? 1 : x > y ? -1 : 0;
}

/* Per-thread detail (timeline, histograms) is the bulk of a many-thread page: kept for the
 * threads with the highest peaks until DASH_THREAD_DETAIL_BYTES, removed from the others with a
 * reason the page shows when such a thread is focused. */
static void budget_thread_detail(cJSON *threads, cJSON *limits) {
  static const char *const keys[] = {"timeline", "size_histogram", "lifetime_histogram_log2_ns"};
  int n = cJSON_GetArraySize(threads);
  if (n <= 0) return;
  cJSON **order = malloc((size_t)n * sizeof *order);
  if (!order) return;
  int k = 0, with_detail = 0, kept = 0;
  cJSON *t;
  cJSON_ArrayForEach(t, threads) order[k++] = t;
  qsort(order, (size_t)n, sizeof *order, cmp_peak_desc);
  size_t used = 0;
  for (int i = 0; i < n; i++) {
    size_t sz = 0;
    int has = 0;
    for (size_t j = 0; j < sizeof keys / sizeof *keys; j++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(order[i], keys[j]);
      if (v) {
        has = 1;
        sz += printed_size(v);
      }
    }
    if (!has) continue;
    with_detail++;
    if (used + sz <= DASH_THREAD_DETAIL_BYTES) {
      used += sz;
      kept++;
      continue;
    }
    for (size_t j = 0; j < sizeof keys / sizeof *keys; j++)
      cJSON_DeleteItemFromObjectCaseSensitive(order[i], keys[j]);
    cJSON_AddStringToObject(order[i], "detail_omitted",
                            "per-thread timeline and histograms left out of the page to keep it small "
                            "(kept for the threads with the highest peaks); summary.json has them");
  }
  free(order);
  if (kept < with_detail)
    note_cut(limits, "per-thread timelines and histograms", kept, with_detail,
             "kept for the threads with the highest peak live bytes, to keep the page small; summary.json has all");
}

/* The flame graph's stacks come largest first; its frames table is kept whole (indices). Each
 * stack's per-thread split [{tid, allocations, allocated_bytes}...] is embedded as one flat
 * array "thread_split": [tid, allocations, allocated_bytes, tid, ...] (a fifth of the bytes),
 * up to DASH_MAX_FLAME_THREAD_REFS entries in all; a stack past that is marked threads_cut. */
static void budget_flamegraph(cJSON *fg, cJSON *limits) {
  cJSON *stacks = cJSON_GetObjectItemCaseSensitive(fg, "stacks");
  int n = cJSON_GetArraySize(stacks);
  if (n > DASH_MAX_FLAME_STACKS) {
    truncate_array(stacks, DASH_MAX_FLAME_STACKS);
    note_cut(limits, "flame graph stacks", DASH_MAX_FLAME_STACKS, n,
             "the largest by allocated bytes, to keep the page small; summary.json has all it lists");
    n = DASH_MAX_FLAME_STACKS;
  }
  int refs = 0, cut = 0;
  cJSON *s;
  cJSON_ArrayForEach(s, stacks) {
    cJSON *th = cJSON_DetachItemFromObjectCaseSensitive(s, "threads");
    if (!th) continue;
    cJSON *flat = cJSON_AddArrayToObject(s, "thread_split");
    const cJSON *e;
    int m = 0, total = cJSON_GetArraySize(th);
    cJSON_ArrayForEach(e, th) {
      if (refs >= DASH_MAX_FLAME_THREAD_REFS) break;
      cJSON_AddItemToArray(flat, cJSON_CreateNumber(ms__num(e, "tid", 0)));
      cJSON_AddItemToArray(flat, cJSON_CreateNumber(ms__num(e, "allocations", 0)));
      cJSON_AddItemToArray(flat, cJSON_CreateNumber(ms__num(e, "allocated_bytes", 0)));
      refs++;
      m++;
    }
    if (m < total) {
      cJSON_AddTrueToObject(s, "threads_cut");
      cut++;
    }
    cJSON_Delete(th);
  }
  if (cut)
    note_cut(limits, "flame graph stacks with their whole per-thread split", n - cut, n,
             "per-thread entries capped to keep the page small: a focused thread may miss these stacks");
}

/* The summary, less what the page does not show (scenario's own record, scopes). */
static cJSON *embed_summary(const cJSON *summary, cJSON *limits) {
  static const char *const keys[] = {
      "schema",      "run",           "totals",     "module_filter", "threads",   "leaks",
      "leak_groups", "assertions",    "overhead",   "mode",          "timeline",  "size_histogram",
      "hot_stacks",  "lifetimes",     "flamegraph", "roles",         "correlation", "bottlenecks",
      "resources",   "harness",       "partial",    "tree",          "marks"};
  cJSON *s = cJSON_CreateObject();
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) copy_key(s, summary, keys[i]);

  cJSON *leaks = cJSON_GetObjectItemCaseSensitive(s, "leaks");
  if (cJSON_GetArraySize(leaks) > DASH_MAX_LEAKS) truncate_array(leaks, DASH_MAX_LEAKS);
  trim_stack_list(leaks, DASH_MAX_LEAK_FRAMES);
  cJSON *hot = cJSON_GetObjectItemCaseSensitive(s, "hot_stacks");
  trim_stack_list(cJSON_GetObjectItemCaseSensitive(hot, "by_count"), DASH_MAX_HOT_FRAMES);
  trim_stack_list(cJSON_GetObjectItemCaseSensitive(hot, "by_bytes"), DASH_MAX_HOT_FRAMES);
  cJSON *bn = cJSON_GetObjectItemCaseSensitive(s, "bottlenecks");
  if (cJSON_IsObject(bn)) {
    trim_stack_list(cJSON_GetObjectItemCaseSensitive(bn, "hot_stacks_by_count"), DASH_MAX_HOT_FRAMES);
    trim_stack_list(cJSON_GetObjectItemCaseSensitive(bn, "hot_stacks_by_bytes"), DASH_MAX_HOT_FRAMES);
    trim_stack_list(cJSON_GetObjectItemCaseSensitive(bn, "largest_leaks"), DASH_MAX_LEAK_FRAMES);
  }
  cJSON *marks = cJSON_GetObjectItemCaseSensitive(s, "marks");
  int nm = cJSON_GetArraySize(marks);
  if (nm > DASH_MAX_MARKS) {
    truncate_array(marks, DASH_MAX_MARKS);
    note_cut(limits, "marks", DASH_MAX_MARKS, nm, "the first ones in time order");
  }
  cJSON *tree = cJSON_GetObjectItemCaseSensitive(s, "tree");
  cJSON *pl = cJSON_GetObjectItemCaseSensitive(tree, "process_list");
  int np = cJSON_GetArraySize(pl);
  if (np > DASH_MAX_PROCESSES) {
    truncate_array(pl, DASH_MAX_PROCESSES);
    note_cut(limits, "processes of the tree", DASH_MAX_PROCESSES, np, "the first ones listed");
  }
  budget_thread_detail(cJSON_GetObjectItemCaseSensitive(s, "threads"), limits);
  cJSON *fg = cJSON_GetObjectItemCaseSensitive(s, "flamegraph");
  if (cJSON_IsObject(fg)) budget_flamegraph(fg, limits);
  return s;
}

/* Appends v (null when not a number) rounded to 1/scale (scale 0: as is). Samples are kept at
 * the precision the page shows, 1 us and 0.01 %, which prints in a third of the digits;
 * resources.json keeps them whole. Divided, not multiplied by 1/scale, so the result is the
 * double nearest the short decimal and cJSON prints it short. */
static void add_num_item(cJSON *arr, const cJSON *v, double scale) {
  double d = ms__itemnum(v);
  if (!isnan(d) && scale > 0) d = round(d * scale) / scale;
  cJSON_AddItemToArray(arr, isnan(d) ? cJSON_CreateNull() : cJSON_CreateNumber(d));
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* A sample's CPU seconds of one thread: cpu_s (schedstat, ns resolution) when the sampler
 * read it, else utime_s + stime_s (clock ticks); NaN when neither. */
static double thread_cpu_s(const cJSON *e) {
  double v = ms__itemnum(cJSON_GetObjectItemCaseSensitive(e, "cpu_s"));
  if (!isnan(v)) return v;
  return ms__itemnum(cJSON_GetObjectItemCaseSensitive(e, "utime_s")) +
         ms__itemnum(cJSON_GetObjectItemCaseSensitive(e, "stime_s"));
}

/* series.thread_cpu_percent: {"TID": [...]}: each thread's CPU time over the interval from the
 * previous embedded sample, as a percentage of that interval (null for the first sample and
 * where either reading is missing): what focus mode draws for one thread. Within
 * DASH_MAX_SAMPLE_CELLS cells, kept for the threads with the most CPU time. rows: the embedded
 * samples (every step-th of samples), t their times. */
static void embed_thread_cpu(cJSON *series, const cJSON *samples, int step, int rows, const double *t,
                             cJSON *limits) {
  /* The threads any embedded sample names, sorted, for bsearch. */
  size_t cap = 64, nt = 0;
  double *tids = malloc(cap * sizeof *tids);
  if (!tids || rows <= 0) {
    free(tids);
    return;
  }
  int i = 0;
  const cJSON *s, *e;
  cJSON_ArrayForEach(s, samples) {
    if (i++ % step) continue;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(s, "threads")) {
      if (nt == cap) {
        double *g = realloc(tids, (cap *= 2) * sizeof *tids);
        if (!g) goto out;
        tids = g;
      }
      tids[nt++] = ms__num(e, "tid", -1);
    }
  }
  qsort(tids, nt, sizeof *tids, cmp_double);
  size_t u = 0;
  for (size_t k = 0; k < nt; k++)
    if (u == 0 || tids[k] != tids[u - 1]) tids[u++] = tids[k];
  nt = u;
  if (nt == 0) goto out;
  double *cpu = malloc(nt * (size_t)rows * sizeof *cpu);
  if (!cpu) goto out;
  for (size_t k = 0; k < nt * (size_t)rows; k++) cpu[k] = NAN;
  int row = 0;
  i = 0;
  cJSON_ArrayForEach(s, samples) {
    if (i++ % step) continue;
    if (row >= rows) break;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(s, "threads")) {
      double tid = ms__num(e, "tid", -1);
      const double *at = bsearch(&tid, tids, nt, sizeof *tids, cmp_double);
      if (at) cpu[(size_t)(at - tids) * (size_t)rows + (size_t)row] = thread_cpu_s(e);
    }
    row++;
  }
  /* Which threads fit: the most CPU time (last reading) first. */
  size_t keep = (size_t)(DASH_MAX_SAMPLE_CELLS / rows);
  size_t *order = malloc(nt * sizeof *order);
  double *last = malloc(nt * sizeof *last);
  if (!order || !last) {
    free(order);
    free(last);
    free(cpu);
    goto out;
  }
  for (size_t k = 0; k < nt; k++) {
    order[k] = k;
    last[k] = -1;
    for (int r = rows - 1; r >= 0; r--)
      if (!isnan(cpu[k * (size_t)rows + (size_t)r])) {
        last[k] = cpu[k * (size_t)rows + (size_t)r];
        break;
      }
  }
  /* Insertion sort by last desc: only when the budget cuts (nt > keep). */
  if (nt > keep) {
    for (size_t a = 1; a < nt; a++)
      for (size_t b = a; b > 0 && last[order[b]] > last[order[b - 1]]; b--) {
        size_t x = order[b];
        order[b] = order[b - 1];
        order[b - 1] = x;
      }
    note_cut(limits, "per-thread CPU timelines", (double)keep, (double)nt,
             "kept for the threads with the most CPU time, to keep the page small");
  }
  cJSON *obj = cJSON_AddObjectToObject(series, "thread_cpu_percent");
  for (size_t k = 0; k < nt && k < keep; k++) {
    size_t th = order[k];
    if (last[th] < 0) continue; /* never read */
    const double *c = cpu + th * (size_t)rows;
    cJSON *col = cJSON_CreateArray();
    for (int r = 0; r < rows; r++) {
      double dt = r > 0 ? t[r] - t[r - 1] : 0;
      if (r == 0 || isnan(c[r]) || isnan(c[r - 1]) || !(dt > 0)) {
        cJSON_AddItemToArray(col, cJSON_CreateNull());
        continue;
      }
      double pct = round(100.0 * (c[r] - c[r - 1]) / dt * 100) / 100;
      cJSON_AddItemToArray(col, cJSON_CreateNumber(pct));
    }
    char key[32];
    snprintf(key, sizeof key, "%.0f", tids[th]);
    cJSON_AddItemToObject(obj, key, col);
  }
  free(order);
  free(last);
  free(cpu);
out:
  free(tids);
}

/* resources.json (memscope.resources/1) as columns of what the resource timeline draws: time,
 * RSS, total and per-core CPU, and the reason a CPU figure is null. Every sample up to
 * DASH_MAX_SAMPLES; beyond, every k-th (the page says so). */
static cJSON *embed_resources(const cJSON *res, cJSON *limits) {
  static const char *const keys[] = {"schema", "hz", "rate_policy", "source", "ncpu", "gpu",
                                     "gpu_reason", "wall_s", "nsamples", "peak_rss_bytes",
                                     "timeline_reason", "t0_monotonic_s", "cpu_window_min_s"};
  cJSON *r = cJSON_CreateObject();
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) copy_key(r, res, keys[i]);
  cJSON *threads = cJSON_AddArrayToObject(r, "threads");
  const cJSON *t;
  cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(res, "threads")) {
    cJSON *o = cJSON_CreateObject();
    copy_key(o, t, "tid");
    copy_key(o, t, "first_seen_s");
    copy_key(o, t, "last_seen_s");
    cJSON_AddItemToArray(threads, o);
  }
  const cJSON *samples = cJSON_GetObjectItemCaseSensitive(res, "samples");
  int n = cJSON_GetArraySize(samples);
  /* As many samples as DASH_MAX_SAMPLE_CELLS allows with this machine's cores, at most
   * DASH_MAX_SAMPLES. */
  int ncpu = (int)ms__num(res, "ncpu", 0);
  const cJSON *s0 = cJSON_GetArrayItem(samples, 0);
  int c0 = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s0, "cpu"), "per_core_percent"));
  if (c0 > ncpu) ncpu = c0;
  int max_samples = DASH_MAX_SAMPLE_CELLS / (ncpu + 4); /* cores + RSS, total, process, why */
  if (max_samples > DASH_MAX_SAMPLES) max_samples = DASH_MAX_SAMPLES;
  if (max_samples < 100) max_samples = 100;
  int step = n > max_samples ? (n + max_samples - 1) / max_samples : 1;
  if (step > 1) {
    char why[160];
    snprintf(why, sizeof why, "every %d-th sample, to keep the page small; resources.json has all", step);
    note_cut(limits, "resource samples", (n + step - 1) / step, n, why);
  }
  cJSON *cols = cJSON_AddObjectToObject(r, "series");
  cJSON *ts = cJSON_AddArrayToObject(cols, "t_s");
  cJSON *rss = cJSON_AddArrayToObject(cols, "rss_bytes");
  cJSON *tot = cJSON_AddArrayToObject(cols, "cpu_total_percent");
  /* The process's CPU % as the sampler computed it (over >= cpu_window_min_s), not a
   * difference of tick counts between neighbouring samples. */
  cJSON *proc_pct = cJSON_AddArrayToObject(cols, "cpu_process_percent");
  cJSON *cores = cJSON_AddArrayToObject(cols, "cpu_per_core_percent");
  cJSON *why = cJSON_AddArrayToObject(cols, "cpu_null_reason");
  int ncores = 0, rows = 0, i = 0;
  double *times = malloc(((size_t)n / (size_t)step + 1) * sizeof *times);
  const cJSON *s;
  cJSON_ArrayForEach(s, samples) {
    if (i++ % step) continue; /* every step-th, counted as it goes (GetArrayItem is O(i)) */
    if (times) times[rows] = ms__itemnum(cJSON_GetObjectItemCaseSensitive(s, "t_s"));
    rows++;
    const cJSON *proc = cJSON_GetObjectItemCaseSensitive(s, "process");
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(s, "cpu");
    const cJSON *pc = cJSON_GetObjectItemCaseSensitive(cpu, "per_core_percent");
    add_num_item(ts, cJSON_GetObjectItemCaseSensitive(s, "t_s"), 1e6);
    add_num_item(rss, cJSON_GetObjectItemCaseSensitive(proc, "rss_bytes"), 0);
    add_num_item(tot, cJSON_GetObjectItemCaseSensitive(cpu, "total_percent"), 100);
    add_num_item(proc_pct, cJSON_GetObjectItemCaseSensitive(proc, "cpu_percent"), 100);
    const cJSON *nr = cJSON_GetObjectItemCaseSensitive(cpu, "null_reason");
    cJSON_AddItemToArray(why, cJSON_IsString(nr) ? cJSON_CreateString(nr->valuestring) : cJSON_CreateNull());
    /* One column per core, null-padded for samples taken before a core was seen. */
    int m = cJSON_GetArraySize(pc);
    int row = rows - 1; /* this sample's row */
    for (; ncores < m; ncores++) {
      cJSON *col = cJSON_CreateArray();
      for (int j = 0; j < row; j++) cJSON_AddItemToArray(col, cJSON_CreateNull());
      cJSON_AddItemToArray(cores, col);
    }
    for (int c = 0; c < ncores; c++)
      add_num_item(cJSON_GetArrayItem(cores, c), c < m ? cJSON_GetArrayItem(pc, c) : NULL, 100);
  }
  if (times) embed_thread_cpu(cols, samples, step, rows, times, limits);
  free(times);
  return r;
}

/* The page's data: {schema, name, summary, resources (or null), limits}. */
static cJSON *dashboard_data(const char *name, const cJSON *summary, const cJSON *resources) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "schema", "memscope.dashboard/1");
  cJSON_AddStringToObject(d, "name", name ? name : "");
  cJSON *limits = cJSON_CreateArray();
  cJSON_AddItemToObject(d, "summary", embed_summary(summary, limits));
  if (resources) cJSON_AddItemToObject(d, "resources", embed_resources(resources, limits));
  else cJSON_AddNullToObject(d, "resources");
  cJSON_AddItemToObject(d, "limits", limits);
  return d;
}

/* Writes json with every '<' as \u003c: inside <script> nothing in the data can then close the
 * element or open a comment, whatever a thread or function is named. '<' occurs only inside
 * JSON strings, where the escape means the same character. */
static void put_json_for_script(FILE *f, const char *json) {
  for (const char *p = json; *p; p++) {
    if (*p == '<') fputs("\\u003c", f);
    else fputc(*p, f);
  }
}

/* Writes shell[from..) up to the next marker, and returns the position after the marker (or the
 * end when there is none). */
static size_t put_until_marker(FILE *f, const char *shell, size_t len, size_t from, const char *marker,
                               int *found) {
  size_t mlen = strlen(marker);
  const char *at = memmem(shell + from, len - from, marker, mlen);
  size_t end = at ? (size_t)(at - shell) : len;
  fwrite(shell + from, 1, end - from, f);
  *found = at != NULL;
  return at ? end + mlen : len;
}

int ms_plots_write_html(const char *out_dir, const char *name, const cJSON *summary,
                        const cJSON *resources, char *err, size_t errlen) {
  cJSON *data = dashboard_data(name, summary, resources);
  char *json = data ? cJSON_PrintUnformatted(data) : NULL;
  cJSON_Delete(data);
  if (!json) {
    snprintf(err, errlen, "report.html: out of memory printing the page's data");
    return -1;
  }
  ms_out_file_t of;
  if (ms__out_open(&of, out_dir, "report.html", err, errlen)) {
    free(json);
    return -1;
  }
  const char *shell = (const char *)ms_dashboard_html;
  size_t len = ms_dashboard_html_len, pos = 0;
  int found[3];
  pos = put_until_marker(of.f, shell, len, pos, "/*MEMSCOPE:CSS*/", &found[0]);
  fwrite(ms_dashboard_css, 1, ms_dashboard_css_len, of.f);
  pos = put_until_marker(of.f, shell, len, pos, "/*MEMSCOPE:DATA*/", &found[1]);
  put_json_for_script(of.f, json);
  pos = put_until_marker(of.f, shell, len, pos, "/*MEMSCOPE:JS*/", &found[2]);
  /* One script element: charts.js and flame.js define what dashboard.js uses. */
  fwrite(ms_dashboard_charts_js, 1, ms_dashboard_charts_js_len, of.f);
  fputc('\n', of.f);
  fwrite(ms_dashboard_flame_js, 1, ms_dashboard_flame_js_len, of.f);
  fputc('\n', of.f);
  fwrite(ms_dashboard_js, 1, ms_dashboard_js_len, of.f);
  fwrite(shell + pos, 1, len - pos, of.f);
  free(json);
  if (!found[0] || !found[1] || !found[2]) {
    ms_out_abort(&of);
    snprintf(err, errlen, "report.html: the built-in page shell lacks its markers; rebuild memscope");
    return -1;
  }
  return ms__out_commit(&of, err, errlen);
}
