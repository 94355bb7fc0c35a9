/* ms_charts.c: the charts of one run drawn from its summary.json: live heap over time (total,
 * top threads and the rest), per-thread peak ranking, allocation size histogram, and CPU vs
 * allocation rate with the analysis's least-squares fit. docs/plots.md says what each shows.
 *
 * Every .dat keeps the summary's own figures (bytes, nanoseconds, counts) unscaled, so that it
 * can be checked against summary.json; the scripts scale them to the unit on the axis. Strings
 * from the trace (thread names) go into the .dat files only (ms__dat_string), the case name and
 * notes into single-quoted titles (ms__write_plot): docs/plots-safety.md. */
#define _GNU_SOURCE
#include "ms_plots_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_gnuplot_int.h"

#define HEAP_TOP_THREADS 8 /* heap_timeline: lines for the threads with the highest peaks */
#define PEAK_BARS 40       /* thread_peaks: bars at most */
#define SCATTER_LABELS 16  /* cpu_alloc_scatter: points named when there are at most this many */

/* A thread that the trace measured: threads[] also lists threads seen only by the harness's
 * /proc sampler ("tracked": false, docs/dashboard-data.md section 1), which have no allocation
 * figures at all. */
static int is_tracked(const cJSON *t) { return !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(t, "tracked")); }

static int is_sampled(const cJSON *summary) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(summary, "mode"), "estimated"));
}

/* "NAME (TID)" or "NAME:TID" for thread t, at most 64 bytes of its name. */
static void thread_label(char *buf, size_t len, const cJSON *t, const char *sep, const char *end) {
  char tn[72];
  ms__plot_text(tn, sizeof tn, ms__str(t, "name"), 64);
  snprintf(buf, len, "%s%s%.0f%s", *tn ? tn : "thread", sep, ms__num(t, "tid", 0), end);
}

/* Appends " ; " and s to a note. */
static void note_add(char *note, size_t len, const char *s) {
  size_t n = strlen(note);
  snprintf(note + n, len - n, "%s%s", n ? "; " : "", s);
}

/* A chart with nothing to draw: an empty frame with `why` in its middle (our own text), so that
 * the set of files is the same for every run and the reader is told why. */
static void body_empty(ms_text_t *b, const char *why) {
  ms__text(b, "  set label 1 '%s' at graph 0.5, graph 0.5 center font ',16'\n"
              "  set xrange [0:1]\n  set yrange [0:1]\n  unset xtics\n  unset ytics\n"
              "  plot NaN notitle\n",
           why);
}

/* ---- heap_timeline ---- */

typedef struct tl_point_s {
  double t_ns, live;
  int series; /* which of the rest's threads */
  size_t seq; /* order of reading: a thread's points at one time keep their order */
} tl_point_t;

static int cmp_tl_point(const void *a, const void *b) {
  const tl_point_t *x = a, *y = b;
  if (x->t_ns != y->t_ns) return x->t_ns < y->t_ns ? -1 : 1;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Writes one {t_ns, live_bytes} series as a block of rows; returns its largest value. A
 * thread's series (final_live not NaN: its end-of-run threads[i].live_bytes) ends with one more
 * row at its last time holding that final figure: the analysis decimates a series keeping each
 * interval's maximum, so its last point can be a maximum from before the thread's last frees,
 * and a line held there would show blocks that were freed. */
static double write_series(FILE *f, const cJSON *tl, double final_live, double *max_t) {
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(tl, "t_ns");
  const cJSON *lv = cJSON_GetObjectItemCaseSensitive(tl, "live_bytes");
  int n = cJSON_GetArraySize(ts), m = cJSON_GetArraySize(lv), rows = 0;
  double max = 0, last_t = 0, last_v = 0;
  for (int i = 0; i < n && i < m; i++) {
    double t = ms__itemnum(cJSON_GetArrayItem(ts, i)), v = ms__itemnum(cJSON_GetArrayItem(lv, i));
    if (isnan(t) || isnan(v)) continue;
    fprintf(f, "%.0f %.0f\n", t, v);
    if (v > max) max = v;
    if (t > *max_t) *max_t = t;
    rows++;
    last_t = t;
    last_v = v;
  }
  if (rows > 0 && !isnan(final_live) && final_live != last_v) fprintf(f, "%.0f %.0f\n", last_t, final_live);
  if (rows == 0) fprintf(f, "0 0\n"); /* gnuplot needs a row; the analysis starts every series at 0 */
  return max;
}

/* The rest: the sum of the other threads' live bytes, each thread's series read as a step
 * function (its value holds until its next point; 0 before its first; after its last, its
 * end-of-run live_bytes, as write_series draws it), evaluated at every point of any of them.
 * Writes the rows; returns the largest sum, or -1 when out of memory. */
static double write_rest(FILE *f, const cJSON **ths, int n, double *max_t) {
  size_t np = 0, cap = 0;
  for (int k = 0; k < n; k++)
    cap += 1 + (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ths[k], "timeline"), "t_ns"));
  tl_point_t *p = malloc((cap ? cap : 1) * sizeof *p);
  double *cur = calloc((size_t)n, sizeof *cur);
  if (!p || !cur) {
    free(p);
    free(cur);
    return -1;
  }
  for (int k = 0; k < n; k++) {
    const cJSON *tl = cJSON_GetObjectItemCaseSensitive(ths[k], "timeline");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(tl, "t_ns");
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(tl, "live_bytes");
    int len = cJSON_GetArraySize(ts), m = cJSON_GetArraySize(lv), rows = 0;
    double last_t = 0;
    for (int i = 0; i < len && i < m && np + 1 < cap; i++) {
      double t = ms__itemnum(cJSON_GetArrayItem(ts, i)), v = ms__itemnum(cJSON_GetArrayItem(lv, i));
      if (!isnan(t) && !isnan(v)) {
        p[np] = (tl_point_t){t, v, k, np};
        np++;
        rows++;
        last_t = t;
      }
    }
    double final_live = ms__num(ths[k], "live_bytes", NAN);
    if (rows > 0 && !isnan(final_live)) {
      p[np] = (tl_point_t){last_t, final_live, k, np};
      np++;
    }
  }
  /* By time, then reading order (qsort is not stable): a thread's last point at a time wins. */
  qsort(p, np, sizeof *p, cmp_tl_point);
  double sum = 0, max = 0;
  for (size_t i = 0; i < np;) {
    size_t j = i;
    for (; j < np && p[j].t_ns == p[i].t_ns; j++) {
      sum += p[j].live - cur[p[j].series];
      cur[p[j].series] = p[j].live;
    }
    fprintf(f, "%.0f %.0f\n", p[i].t_ns, sum);
    if (sum > max) max = sum;
    if (p[i].t_ns > *max_t) *max_t = p[i].t_ns;
    i = j;
  }
  if (np == 0) fprintf(f, "0 0\n");
  free(p);
  free(cur);
  return max;
}

static int has_timeline(const cJSON *t) {
  return cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(t, "timeline"), "t_ns"));
}

/* Indices of up to max tracked threads with a positive peak_live_bytes (and a timeline, when
 * need_timeline), highest peak first (ties: the earlier thread). Returns how many. */
static int top_threads(const cJSON *threads, int *out, int max, int need_timeline) {
  int nth = cJSON_GetArraySize(threads), n = 0;
  for (int k = 0; k < max; k++) {
    int best = -1;
    double bp = 0;
    for (int i = 0; i < nth; i++) {
      const cJSON *t = cJSON_GetArrayItem(threads, i);
      int used = 0;
      for (int j = 0; j < n; j++) used |= out[j] == i;
      double p = ms__num(t, "peak_live_bytes", 0);
      if (!used && p > bp && is_tracked(t) && (!need_timeline || has_timeline(t))) best = i, bp = p;
    }
    if (best < 0) break;
    out[n++] = best;
  }
  return n;
}

int ms__chart_heap_timeline(const ms_plot_ctx_t *ctx, const cJSON *summary, char *err, size_t errlen) {
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(summary, "threads");
  int nth = cJSON_GetArraySize(threads), with_tl = 0, candidates = 0;
  const cJSON *t;
  cJSON_ArrayForEach(t, threads) {
    if (!is_tracked(t) || ms__num(t, "peak_live_bytes", 0) <= 0) continue;
    candidates++;
    with_tl += has_timeline(t);
  }
  int *sel = calloc((size_t)(nth > 0 ? nth : 1), sizeof *sel);
  const cJSON **rest = calloc((size_t)(nth > 0 ? nth : 1), sizeof *rest);
  if (!sel || !rest) {
    free(sel);
    free(rest);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  /* All threads with a timeline, by peak; the first HEAP_TOP_THREADS get lines, the others one
   * "rest" line (a single other thread gets its own line instead). */
  int nsel = top_threads(threads, sel, nth, 1), nrest = 0;
  int nlines = nsel <= HEAP_TOP_THREADS + 1 ? nsel : HEAP_TOP_THREADS;
  for (int k = nlines; k < nsel; k++)
    rest[nrest++] = cJSON_GetArrayItem(threads, sel[k]);

  ms_out_file_t of;
  if (ms__out_open(&of, ctx->dir, "heap_timeline.dat", err, errlen)) {
    free(sel);
    free(rest);
    return -1;
  }
  FILE *f = of.f;
  fprintf(f, "# heap_timeline.dat: live heap in bytes over time in ns since the first event.\n"
             "# Block 0 (gnuplot index 0): the process (summary timeline); then one block per\n"
             "# thread with one of the %d highest peaks (threads[i].timeline: live bytes that\n"
             "# thread allocated; a last row at the series' last time holds the thread's\n"
             "# end-of-run live_bytes); last, when more threads have a timeline, \"rest\": the\n"
             "# sum of their series, each held until its next point and after its last at its\n"
             "# end-of-run live_bytes. Every block starts with a header row whose second field\n"
             "# is the legend entry.\n"
             "\"t_ns\" \"process total\"\n",
          HEAP_TOP_THREADS);
  double max_t = 0, max_v = write_series(f, cJSON_GetObjectItemCaseSensitive(summary, "timeline"), NAN, &max_t);
  for (int k = 0; k < nlines; k++) {
    const cJSON *th = cJSON_GetArrayItem(threads, sel[k]);
    char legend[100];
    thread_label(legend, sizeof legend, th, " (", ")");
    fputs("\n\n\"t_ns\" ", f);
    ms__dat_string(f, legend);
    fputc('\n', f);
    double m = write_series(f, cJSON_GetObjectItemCaseSensitive(th, "timeline"), ms__num(th, "live_bytes", NAN), &max_t);
    if (m > max_v) max_v = m;
  }
  if (nrest > 0) {
    fprintf(f, "\n\n\"t_ns\" \"rest: %d other threads (sum)\"\n", nrest);
    double m = write_rest(f, rest, nrest, &max_t);
    if (m < 0) {
      ms_out_abort(&of);
      free(sel);
      free(rest);
      snprintf(err, errlen, "out of memory");
      return -1;
    }
    if (m > max_v) max_v = m;
  }
  free(sel);
  free(rest);
  if (ms__out_commit(&of, err, errlen)) return -1;

  double bdiv, tdiv;
  const char *bunit, *tunit;
  ms__bytes_unit(max_v, &bdiv, &bunit);
  ms__time_unit(max_t / 1e9, &tdiv, &tunit);
  ms_text_t b = {.len = 0};
  ms__text(&b, "  set xlabel 'time since the first event (%s)'\n"
               "  set ylabel 'live heap (%s)'\n"
               "  set yrange [0:*]\n"
               "  set xrange [0:*]\n"
               "  set key outside right top vertical Left reverse width 2\n"
               "  plot 'heap_timeline.dat' index 0 using ($1/%g):($2/%g) with steps lw 3 lc rgb '#000000' title columnhead(2)",
           tunit, bunit, tdiv, bdiv);
  if (nlines > 0)
    ms__text(&b, ", \\\n    for [k=1:%d] 'heap_timeline.dat' index k using ($1/%g):($2/%g) with steps lw 2 lc k title columnhead(2)",
             nlines, tdiv, bdiv);
  if (nrest > 0)
    ms__text(&b, ", \\\n    'heap_timeline.dat' index %d using ($1/%g):($2/%g) with steps lw 1.5 lc rgb '#909090' title columnhead(2)",
             nlines + 1, tdiv, bdiv);
  ms__text(&b, "\n");

  char title[512], note[512] = "";
  snprintf(title, sizeof title, "%s: live heap over time", ctx->shown_name);
  if (candidates > 0 && with_tl == 0)
    note_add(note, sizeof note, "per-thread lines unavailable: this summary.json has no threads[].timeline");
  else if (with_tl < candidates) {
    char s[160];
    snprintf(s, sizeof s, "%d of %d allocating threads have no timeline and are not drawn", candidates - with_tl, candidates);
    note_add(note, sizeof note, s);
  }
  if (is_sampled(summary)) note_add(note, sizeof note, "sampled run: figures are estimates");
  return ms__write_plot(ctx, "heap_timeline", title, note, &b, err, errlen);
}

/* ---- thread_peaks ---- */

int ms__chart_thread_peaks(const ms_plot_ctx_t *ctx, const cJSON *summary, char *err, size_t errlen) {
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(summary, "threads");
  int nth = cJSON_GetArraySize(threads), tracked = 0, untracked = 0;
  int *idx = calloc((size_t)(nth > 0 ? nth : 1), sizeof *idx);
  if (!idx) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (int i = 0; i < nth; i++) {
    if (is_tracked(cJSON_GetArrayItem(threads, i))) idx[tracked++] = i;
    else untracked++;
  }
  for (int i = 1; i < tracked; i++) /* insertion sort by peak, descending; stable */
    for (int j = i; j > 0 &&
                    ms__num(cJSON_GetArrayItem(threads, idx[j]), "peak_live_bytes", 0) >
                        ms__num(cJSON_GetArrayItem(threads, idx[j - 1]), "peak_live_bytes", 0);
         j--) {
      int x = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = x;
    }
  ms_out_file_t of;
  if (ms__out_open(&of, ctx->dir, "thread_peaks.dat", err, errlen)) {
    free(idx);
    return -1;
  }
  FILE *f = of.f;
  fprintf(f, "# thread_peaks.dat: tracked threads by peak live bytes (threads[i].peak_live_bytes),\n"
             "# highest first, at most %d; threads the trace did not measure (tracked: false) are\n"
             "# left out.\n# rank peak_live_bytes tid \"name:tid\"\n",
          PEAK_BARS);
  int shown = tracked < PEAK_BARS ? tracked : PEAK_BARS;
  double max = 0;
  for (int r = 0; r < shown; r++) {
    const cJSON *t = cJSON_GetArrayItem(threads, idx[r]);
    char label[100];
    thread_label(label, sizeof label, t, ":", "");
    double p = ms__num(t, "peak_live_bytes", 0);
    if (p > max) max = p;
    fprintf(f, "%d %.0f %.0f ", r, p, ms__num(t, "tid", 0));
    ms__dat_string(f, label);
    fputc('\n', f);
  }
  free(idx);
  if (ms__out_commit(&of, err, errlen)) return -1;

  double bdiv;
  const char *bunit;
  ms__bytes_unit(max, &bdiv, &bunit);
  ms_text_t b = {.len = 0};
  if (shown == 0) {
    body_empty(&b, "no tracked thread");
  } else {
    /* Horizontal bars, highest at the top: the names read horizontally, whole, however many. */
    /* Each bar's own figure in its own unit (a small one would read 0.0145 MiB). */
    /* The next unit from 1000 of the smaller one: %.3g of 1023 KiB would print "1.02e+03". */
    ms__text(&b, "  fmt_bytes(x) = x >= 1000 * 1048576. ? sprintf('%%.3g GiB', x / 1073741824.) : "
                 "x >= 1000 * 1024. ? sprintf('%%.3g MiB', x / 1048576.) : x >= 1000 ? sprintf('%%.3g KiB', x / 1024.) : "
                 "sprintf('%%.0f B', x)\n");
    ms__text(&b, "  unset key\n"
                 "  set style fill solid 0.8 border rgb '#404040'\n"
                 "  set xlabel 'peak live heap of the blocks the thread allocated (%s)'\n"
                 "  set ylabel 'thread (name:tid)'\n"
                 "  set yrange [%d.5:-0.5]\n"
                 "  set xrange [0:%g]\n"
                 "  set ytics scale 0 font ',%d'\n"
                 "  set grid noytics xtics\n"
                 "  plot 'thread_peaks.dat' using ($2/%g/2):1:($2/%g/2):(0.38):yticlabels(4) with boxxyerror lc rgb '#4a7ab8', \\\n"
                 "    '' using ($2/%g):1:(' ' . fmt_bytes($2)) with labels left font ',%d'\n",
             bunit, shown - 1, max > 0 ? max / bdiv * 1.15 : 1, shown > 25 ? 9 : 11, bdiv, bdiv, bdiv,
             shown > 25 ? 8 : 10);
  }
  char title[512], note[512] = "", s[200];
  snprintf(title, sizeof title, "%s: per-thread peak live heap", ctx->shown_name);
  if (tracked > shown) {
    snprintf(s, sizeof s, "the %d highest of %d tracked threads", shown, tracked);
    note_add(note, sizeof note, s);
  }
  if (untracked > 0) {
    snprintf(s, sizeof s, "%d untracked thread%s left out (not measured by the tracker)", untracked,
             untracked > 1 ? "s" : "");
    note_add(note, sizeof note, s);
  }
  if (is_sampled(summary)) note_add(note, sizeof note, "sampled run: figures are estimates");
  return ms__write_plot(ctx, "thread_peaks", title, note, &b, err, errlen);
}

/* ---- size_histogram ---- */

int ms__chart_size_histogram(const ms_plot_ctx_t *ctx, const cJSON *summary, char *err, size_t errlen) {
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(summary, "size_histogram");
  int n = cJSON_GetArraySize(h), first = -1, last = -1;
  double total = 0;
  for (int i = 0; i < n; i++) {
    double c = ms__num(cJSON_GetArrayItem(h, i), "count", 0);
    if (c > 0) {
      if (first < 0) first = i;
      last = i;
      total += c;
    }
  }
  ms_out_file_t of;
  if (ms__out_open(&of, ctx->dir, "size_histogram.dat", err, errlen)) return -1;
  FILE *f = of.f;
  fprintf(f, "# size_histogram.dat: allocation calls by requested size (summary size_histogram),\n"
             "# from the first to the last non-empty bucket. Sizes in bytes, min and max inclusive.\n"
             "# bar min_bytes max_bytes count \"label\"\n");
  for (int i = first; first >= 0 && i <= last; i++) {
    const cJSON *e = cJSON_GetArrayItem(h, i);
    double mn = ms__num(e, "min", 0), mx = ms__num(e, "max", 0);
    char label[64];
    if (mn == 0) snprintf(label, sizeof label, "0-%.0f B", mx);
    else ms__format_bytes(mn, label, sizeof label);
    fprintf(f, "%d %.0f %.0f %.0f \"%s\"\n", i - first, mn, mx, ms__num(e, "count", 0), label);
  }
  if (ms__out_commit(&of, err, errlen)) return -1;

  ms_text_t b = {.len = 0};
  if (first < 0) {
    body_empty(&b, "no allocation recorded");
  } else {
    ms__text(&b, "  unset key\n"
                 "  set style fill solid 0.8 border rgb '#404040'\n"
                 "  set boxwidth 0.8\n"
                 "  set xlabel 'requested size: each bar counts sizes from its label up to twice that (log2 buckets)'\n"
                 "  set ylabel 'allocation calls'\n"
                 "  set xrange [-0.6:%d.6]\n"
                 "  set yrange [0:*]\n"
                 "  set offsets 0, 0, graph 0.08, 0\n"
                 "  set xtics scale 0 rotate by 45 right\n"
                 "  set grid noxtics ytics\n"
                 "  plot 'size_histogram.dat' using 1:4:xtic(5) with boxes lc rgb '#4a7ab8', \\\n"
                 "    '' using 1:4:(sprintf('%%.0f', $4)) with labels offset 0,0.7 font ',%d'\n",
             last - first, last - first > 20 ? 8 : 10);
  }
  char title[512], note[512] = "", s[128];
  snprintf(title, sizeof title, "%s: allocation size histogram", ctx->shown_name);
  snprintf(s, sizeof s, "%.0f allocation calls", total);
  note_add(note, sizeof note, s);
  if (is_sampled(summary)) note_add(note, sizeof note, "sampled run: figures are estimates");
  return ms__write_plot(ctx, "size_histogram", title, note, &b, err, errlen);
}

/* ---- cpu_alloc_scatter ---- */

static const cJSON *thread_by_tid(const cJSON *threads, double tid) {
  const cJSON *t;
  cJSON_ArrayForEach(t, threads) if (ms__num(t, "tid", -1) == tid) return t;
  return NULL;
}

static int is_num(const cJSON *o, const char *k) { return !isnan(ms__itemnum(cJSON_GetObjectItemCaseSensitive(o, k))); }

int ms__chart_cpu_alloc_scatter(const ms_plot_ctx_t *ctx, const cJSON *summary, char *err, size_t errlen) {
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(summary, "threads");
  const cJSON *corr = cJSON_GetObjectItemCaseSensitive(summary, "correlation");
  int have_corr = cJSON_IsObject(corr);
  ms_out_file_t of;
  if (ms__out_open(&of, ctx->dir, "cpu_alloc_scatter.dat", err, errlen)) return -1;
  FILE *f = of.f;
  fprintf(f, "# cpu_alloc_scatter.dat: one row per thread: CPU %% (of one core, over its lifetime)\n"
             "# and allocation rate (bytes/s): summary correlation.points, or, without a\n"
             "# correlation, the tracked threads' cpu_percent and allocated_bytes_per_s.\n"
             "# cpu_percent alloc_bytes_per_s tid \"name:tid\"\n");
  int n = 0;
  double max_y = 0, max_x = 0;
  const cJSON *e;
  if (have_corr) {
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(corr, "points")) {
      if (!is_num(e, "x") || !is_num(e, "y")) continue;
      double tid = ms__num(e, "tid", 0), y = ms__num(e, "y", 0);
      const cJSON *t = thread_by_tid(threads, tid);
      char label[100];
      if (t) thread_label(label, sizeof label, t, ":", "");
      else snprintf(label, sizeof label, "%.0f", tid);
      fprintf(f, "%.17g %.17g %.0f ", ms__num(e, "x", 0), y, tid);
      if (ms__num(e, "x", 0) > max_x) max_x = ms__num(e, "x", 0);
      ms__dat_string(f, label);
      fputc('\n', f);
      if (y > max_y) max_y = y;
      n++;
    }
  } else {
    cJSON_ArrayForEach(e, threads) {
      if (!is_tracked(e) || !is_num(e, "cpu_percent") || !is_num(e, "allocated_bytes_per_s")) continue;
      double y = ms__num(e, "allocated_bytes_per_s", 0);
      char label[100];
      thread_label(label, sizeof label, e, ":", "");
      fprintf(f, "%.17g %.17g %.0f ", ms__num(e, "cpu_percent", 0), y, ms__num(e, "tid", 0));
      if (ms__num(e, "cpu_percent", 0) > max_x) max_x = ms__num(e, "cpu_percent", 0);
      ms__dat_string(f, label);
      fputc('\n', f);
      if (y > max_y) max_y = y;
      n++;
    }
  }
  if (ms__out_commit(&of, err, errlen)) return -1;

  /* The fit is the analysis's (correlation.slope/intercept, with r and n): never computed here. */
  int fit = have_corr && is_num(corr, "r") && is_num(corr, "slope") && is_num(corr, "intercept");
  char note[512] = "", s[300];
  int tracked = 0;
  cJSON_ArrayForEach(e, threads) tracked += is_tracked(e);
  if (tracked > n) {
    snprintf(s, sizeof s, "%d of %d tracked threads have no CPU figure or allocation rate and are not drawn",
             tracked - n, tracked);
    note_add(note, sizeof note, s);
  }
  if (!have_corr) {
    note_add(note, sizeof note, "no fit: this summary.json has no correlation");
  } else if (!fit) {
    char reason[220];
    ms__plot_text(reason, sizeof reason, ms__str(corr, "reason"), 200);
    snprintf(s, sizeof s, "no fit: %s", *reason ? reason : "r is null");
    note_add(note, sizeof note, s);
  }
  double ydiv;
  const char *yunit;
  ms__bytes_unit(max_y, &ydiv, &yunit);
  ms_text_t b = {.len = 0};
  if (n == 0) {
    body_empty(&b, "no thread has both a CPU figure and an allocation rate");
  } else {
    ms__text(&b, "  set key outside below center horizontal Left reverse\n"
                 "  set xlabel 'CPU use of the thread (%% of one core, over its lifetime)'\n"
                 "  set ylabel 'allocation rate (%s/s)'\n"
                 "  set xrange [0:%s]\n"
                 "  set yrange [0:%s]\n"
                 "  set offsets graph 0.02, graph 0.08, graph 0.08, 0\n",
             yunit, max_x > 0 ? "*" : "1", max_y > 0 ? "*" : "1");
    if (fit) {
      double r = ms__num(corr, "r", 0), slope = ms__num(corr, "slope", 0), icpt = ms__num(corr, "intercept", 0);
      ms__text(&b, "  fit_line(x) = (%.17g * x + %.17g) / %g\n", slope, icpt, ydiv);
      snprintf(s, sizeof s, "least-squares fit: r = %.3f, n = %.0f threads", r, ms__num(corr, "n", n));
    }
    ms__text(&b, "  plot 'cpu_alloc_scatter.dat' using 1:($2/%g) with points pt 7 ps 1.5 lc rgb '#4a7ab8' title '%d thread%s'",
             ydiv, n, n == 1 ? "" : "s");
    if (n <= SCATTER_LABELS)
      ms__text(&b, ", \\\n    '' using 1:($2/%g):4 with labels left offset 1,0.6 font ',9' notitle", ydiv);
    if (fit) ms__text(&b, ", \\\n    fit_line(x) with lines lw 2 lc rgb '#c03030' title '%s'", s);
    ms__text(&b, "\n");
  }
  char title[512];
  snprintf(title, sizeof title, "%s: CPU use vs allocation rate per thread", ctx->shown_name);
  if (is_sampled(summary)) note_add(note, sizeof note, "sampled run: figures are estimates");
  return ms__write_plot(ctx, "cpu_alloc_scatter", title, note, &b, err, errlen);
}
