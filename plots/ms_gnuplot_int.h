/* ms_gnuplot_int.h: what the gnuplot charts share: strings from a trace as data, the script
 * frame that draws a chart as PNG and SVG, units. Owned by ms_gnuplot.c; used by
 * ms_charts.c (a run's charts) and ms_history.c (the overhead history). Not installed. */
#ifndef MS_GNUPLOT_INT_H
#define MS_GNUPLOT_INT_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* Every chart is drawn at this size, as PNG (pngcairo) and as SVG. */
#define MS_PLOT_W 1200
#define MS_PLOT_H 800

/* Where a chart is drawn: its directory (DIR/plots) and gnuplot's stderr (a log of ours). */
typedef struct ms_plot_ctx_s {
  const char *dir;
  int log_fd;
  const char *shown_name; /* the case name after ms__plot_text: data, quoted in titles */
} ms_plot_ctx_t;

/* A growing text buffer for the scripts' bodies (our own gnuplot text only). */
typedef struct ms_text_s {
  char buf[8192];
  size_t len;
  int overflow; /* 1: something did not fit; ms__write_plot refuses the body */
} ms_text_t;

void ms__text(ms_text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- strings from a trace, as data (STYLE 11, docs/plots-safety.md) ---- */

/* At most max bytes of s, whole UTF-8 characters only, control characters and invalid bytes
 * as '?', into out (outlen >= max + 1). */
void ms__plot_text(char *out, size_t outlen, const char *s, size_t max);
/* s (after ms__plot_text, at most 255 bytes) as one double-quoted field of a data file. */
void ms__dat_string(FILE *f, const char *s);

/* ---- the script frame ---- */

/* Writes dir/base.gp and runs gnuplot on it, which draws base.png and base.svg (each
 * MS_PLOT_W x MS_PLOT_H) from the data files beside it. `title` and `note` may hold anything
 * (single-quoted here; note, if not NULL or "", is the title's second line, e.g. why a series
 * is missing); `body` is our own gnuplot text (no string from a trace), run once per
 * terminal. 0, or -1 with err. */
int ms__write_plot(const ms_plot_ctx_t *ctx, const char *base, const char *title, const char *note,
                   const ms_text_t *body, char *err, size_t errlen);

/* ---- units ---- */

/* The binary unit (B, KiB, MiB, GiB, TiB) in which max_bytes reads as a number from 1 to
 * 1024: its divisor and name. */
void ms__bytes_unit(double max_bytes, double *div, const char **name);
/* Seconds or milliseconds, for a time span of span_s seconds: ms below 2 s. */
void ms__time_unit(double span_s, double *div_ns, const char **name);
/* "4 KiB", "512 B", "1.5 MiB": a byte count in binary units, for tick labels. */
void ms__format_bytes(double b, char *buf, size_t len);

/* ---- the charts (docs/plots.md): each writes its .dat and draws itself. 0, or -1 with err ---- */

/* ms_charts.c, from summary.json (and resources.json) */
int ms__chart_heap_timeline(const ms_plot_ctx_t *ctx, const cJSON *summary, char *err, size_t errlen);
int ms__chart_thread_peaks(const ms_plot_ctx_t *ctx, const cJSON *summary, char *err, size_t errlen);
int ms__chart_size_histogram(const ms_plot_ctx_t *ctx, const cJSON *summary, char *err, size_t errlen);
int ms__chart_cpu_alloc_scatter(const ms_plot_ctx_t *ctx, const cJSON *summary, char *err,
                                size_t errlen);
/* ms_rss_cpu.c: resources may be NULL (a report from a trace alone) */
int ms__chart_rss_cpu(const ms_plot_ctx_t *ctx, const cJSON *summary, const cJSON *resources,
                      char *err, size_t errlen);
/* ms_history.c */
int ms__chart_overhead_history(const ms_plot_ctx_t *ctx, const char *history_path,
                               const cJSON *current, const cJSON *baseline, char *err, size_t errlen);

#endif /* MS_GNUPLOT_INT_H */
