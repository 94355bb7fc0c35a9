/* ms_rss_cpu.c: the CPU and RSS timeline of a run from the harness's /proc samples
 * (resources.json, memscope.resources/1): the process's RSS on the left axis, its CPU use and
 * the machine's CPU use (total and per core) on the right axis, on one time axis. Every CPU %
 * is the sampler's own (process.cpu_percent, cpu.total_percent, cpu.per_core_percent), each
 * over a window of at least cpu_window_min_s: nothing is recomputed here from utime/stime,
 * which are in 10 ms ticks and would be noise between samples a millisecond apart. */
#define _GNU_SOURCE
#include "ms_plots_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ms_gnuplot_int.h"

#define RSS_CPU_CORE_LINES 64 /* per-core columns written at most */

/* The number in an array, or NaN (null: no clock tick elapsed, docs/dashboard-data.md). */
static double arr_num(const cJSON *a, int i) { return ms__itemnum(cJSON_GetArrayItem(a, i)); }

static void put_num(FILE *f, double v, const char *fmt) {
  if (isnan(v)) fputs(" NaN", f);
  else fprintf(f, fmt, v);
}

int ms__chart_rss_cpu(const ms_plot_ctx_t *ctx, const cJSON *summary, const cJSON *resources,
                      char *err, size_t errlen) {
  (void)summary;
  const cJSON *samples = cJSON_GetObjectItemCaseSensitive(resources, "samples");
  int ncores = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, samples) {
    int k = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(s, "cpu"), "per_core_percent"));
    if (k > ncores) ncores = k;
  }
  if (ncores > RSS_CPU_CORE_LINES) ncores = RSS_CPU_CORE_LINES;

  ms_out_file_t of;
  if (ms__out_open(&of, ctx->dir, "rss_cpu.dat", err, errlen)) return -1;
  FILE *f = of.f;
  fprintf(f, "# rss_cpu.dat: resources.json samples (/proc, sampled by the harness from outside).\n"
             "# t_s: seconds since the program started; rss_bytes: the process's RSS;\n"
             "# process_cpu_percent: its CPU time (process.cpu_percent) in %% of one core over the\n"
             "# sample's process.cpu_window_s; host_cpu_percent: the whole machine's busy share\n"
             "# (cpu.total_percent), and core_K_percent of each core, over cpu.window_s; every window\n"
             "# is at least cpu_window_min_s (NaN: no window that long yet, or 0/0).\n"
             "# t_s rss_bytes process_cpu_percent host_cpu_percent");
  for (int c = 0; c < ncores; c++) fprintf(f, " core_%d_percent", c);
  fputc('\n', f);
  double max_rss = 0, min_t = INFINITY, max_t = 0, max_cpu = 0;
  int rows = 0, rss_rows = 0, cpu_rows = 0, host_rows = 0, has_pct = 0;
  cJSON_ArrayForEach(s, samples) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "process");
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(s, "cpu");
    const cJSON *cores = cJSON_GetObjectItemCaseSensitive(cpu, "per_core_percent");
    double t = ms__num(s, "t_s", NAN), rss = ms__num(p, "rss_bytes", NAN);
    double pct = ms__num(p, "cpu_percent", NAN);
    if (isnan(t)) continue;
    has_pct |= cJSON_GetObjectItemCaseSensitive(p, "cpu_percent") != NULL;
    double host = ms__num(cpu, "total_percent", NAN);
    fprintf(f, "%.6f", t);
    put_num(f, rss, " %.0f");
    put_num(f, pct, " %.3f");
    put_num(f, host, " %.3f");
    for (int c = 0; c < ncores; c++) {
      double v = arr_num(cores, c);
      put_num(f, v, " %.3f");
      if (v > max_cpu) max_cpu = v;
    }
    if (pct > max_cpu) max_cpu = pct;
    if (host > max_cpu) max_cpu = host;
    fputc('\n', f);
    if (!isnan(rss) && rss > max_rss) max_rss = rss;
    if (t > max_t) max_t = t;
    if (t < min_t) min_t = t;
    rss_rows += !isnan(rss);
    cpu_rows += !isnan(pct);
    host_rows += !isnan(host);
    rows++;
  }
  if (ms__out_commit(&of, err, errlen)) return -1;

  ms_text_t b = {.len = 0};
  char note[512] = "";
  if (!resources) {
    ms__text(&b, "  set label 1 'no /proc samples: a report from a trace alone has no resources.json' at graph 0.5, graph 0.5 center font ',16'\n"
                 "  set xrange [0:1]\n  set yrange [0:1]\n  unset xtics\n  unset ytics\n  plot NaN notitle\n");
  } else if (rows == 0) {
    ms__text(&b, "  set label 1 'resources.json has no samples' at graph 0.5, graph 0.5 center font ',16'\n"
                 "  set xrange [0:1]\n  set yrange [0:1]\n  unset xtics\n  unset ytics\n  plot NaN notitle\n");
  } else {
    /* The window every CPU % covers (the sampler's minimum), said in the key. */
    double win = ms__num(resources, "cpu_window_min_s", NAN);
    char over[48] = "";
    if (!isnan(win)) snprintf(over, sizeof over, ", over >= %.0f ms", win * 1e3);
    double bdiv, tdiv_ns;
    const char *bunit, *tunit;
    ms__bytes_unit(max_rss, &bdiv, &bunit);
    ms__time_unit(max_t, &tdiv_ns, &tunit);
    double tmul = 1e9 / tdiv_ns; /* seconds to the axis's unit */
    /* Points as well as lines: a short run has a handful of samples, which lines alone hide. */
    ms__text(&b, "  set key outside below center horizontal Left reverse maxrows 3\n"
                 "  set xlabel 'time since the program started (%s)'\n"
                 "  set ylabel 'RSS of the process (%s)'\n"
                 "  set yrange [0:*]\n"
                 "  set xrange [0:*]\n",
             tunit, bunit);
    /* The right axis only when there is a CPU figure to put on it. */
    if (cpu_rows || host_rows)
      /* Room above the highest value: a machine at 100 %% would sit on the frame, unseen. */
      ms__text(&b, "  set y2label 'CPU use (%%)'\n  set ytics nomirror\n  set y2tics\n  set y2range [0:%g]\n",
               max_cpu > 0 ? ceil(max_cpu * 1.1 / 10) * 10 : 100);
    /* A run shorter than the window has no CPU figure at all: said where the lines would be. */
    if (!cpu_rows && !host_rows && !isnan(win))
      ms__text(&b, "  set style textbox opaque noborder\n"
                   "  set label 2 'no CPU figure: the samples span %.1f ms; a CPU %% needs a window of at least %.0f ms' at graph 0.5, graph 0.55 center front boxed font ',13'\n",
               (max_t - min_t) * 1e3, win * 1e3);
    /* A process that ended before /proc gave its RSS has samples without one: gnuplot fails on
     * a plot whose points are all undefined, so each line is drawn only when it has a point
     * (each names the file: any of them may come first), and the chart says what is missing. */
    if (!rss_rows)
      ms__text(&b, "  set style textbox opaque noborder\n"
                   "  set label 3 'no RSS figure: /proc gave none in %d sample%s (the process ended first)' at graph 0.5, graph 0.45 center front boxed font ',13'\n",
               rows, rows == 1 ? "" : "s");
    const char *sep = "  plot ";
    if (rss_rows) { /* points as well as lines: a short run has a handful of samples */
      ms__text(&b, "%s'rss_cpu.dat' using ($1*%g):($2/%g) axes x1y1 with linespoints lw 3 pt 7 ps 0.8 lc rgb '#000000' title 'RSS (left axis)'",
               sep, tmul, bdiv);
      sep = ", \\\n    ";
    }
    if (cpu_rows) {
      ms__text(&b, "%s'rss_cpu.dat' using ($1*%g):3 axes x1y2 with linespoints lw 2 pt 5 ps 0.7 lc rgb '#c03030' title 'process CPU (%% of one core%s, right axis)'",
               sep, tmul, over);
      sep = ", \\\n    ";
    }
    if (host_rows)
      ms__text(&b, "%s'rss_cpu.dat' using ($1*%g):4 axes x1y2 with linespoints lw 2 dt 2 pt 4 ps 0.7 lc rgb '#2060c0' title 'machine CPU, all %d cores (%%%s, right axis)'",
               sep, tmul, ncores, over);
    /* A line per core: named and coloured when there are few, else one grey bundle. */
    if (host_rows && ncores > 0 && ncores <= 8)
      ms__text(&b, ", \\\n    for [c=0:%d] 'rss_cpu.dat' using ($1*%g):(column(5+c)) axes x1y2 with lines lw 1.5 dt 3 lc 5+c "
                   "title sprintf('core %%d of the machine (%%%%, right axis)', c)",
               ncores - 1, tmul);
    else if (host_rows && ncores > 0)
      ms__text(&b, ", \\\n    for [c=0:%d] 'rss_cpu.dat' using ($1*%g):(column(5+c)) axes x1y2 with lines lw 1 lc rgb '#b0b0b0' "
                   "title (c == 0 ? 'each core of the machine (%%, right axis)' : '')",
               ncores - 1, tmul);
    if (!rss_rows && !cpu_rows && !host_rows) /* nothing to draw: the frame and the labels */
      ms__text(&b, "  set yrange [0:1]\n  set xrange [0:1]\n  plot NaN notitle");
    ms__text(&b, "\n");
    snprintf(note, sizeof note, "%d sample%s of /proc at %.0f Hz", rows, rows == 1 ? "" : "s",
             ms__num(resources, "hz", 0));
    size_t n = strlen(note);
    if (!has_pct)
      snprintf(note + n, sizeof note - n, "; no process CPU line: resources.json has no process.cpu_percent (an older harness)");
    else if (cpu_rows == 0 && !isnan(win))
      snprintf(note + n, sizeof note - n, "; no process CPU point: no sample is %.0f ms or more after an earlier one", win * 1e3);
    else if (cpu_rows == 0)
      snprintf(note + n, sizeof note - n, "; no process CPU point in resources.json");
    n = strlen(note);
    if (host_rows == 0 && cpu_rows)
      snprintf(note + n, sizeof note - n, "; no machine CPU line: /proc/stat gave no figure over a long enough window");
    else if (host_rows == 0)
      snprintf(note + n, sizeof note - n, "; no machine CPU line either");
  }
  char title[512];
  snprintf(title, sizeof title, "%s: RSS and CPU over time", ctx->shown_name);
  return ms__write_plot(ctx, "rss_cpu", title, note, &b, err, errlen);
}
