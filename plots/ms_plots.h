/* ms_plots.h: report rendering from analysis results: gnuplot scripts, data, PNG and SVG, and
 * a self-contained HTML report. Reads only a summary.json tree (memscope.summary/1, as the
 * harness completes it) and the resource samples (memscope.resources/1); never a trace.
 *
 * Errors: 0, or -1 with one line in err (what failed and what to do). */
#ifndef MS_PLOTS_H
#define MS_PLOTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Writes out_dir/plots/{heap_timeline,thread_peaks,size_histogram,cpu_alloc_scatter,rss_cpu}
 * .{gp,dat,png,svg} and runs gnuplot (found in PATH, or $MEMSCOPE_GNUPLOT) on each script;
 * gnuplot's messages in out_dir/plots/gnuplot.log. `resources` may be NULL (rss_cpu then says
 * there are no samples). The .gp scripts are kept beside their data so a chart can be re-made
 * by hand. docs/plots.md. */
int ms_plots_write_gnuplot(const char *out_dir, const char *name, const cJSON *summary,
                           const cJSON *resources, char *err, size_t errlen);

/* Writes out_dir/plots/overhead_history.{gp,dat,png,svg} (messages in overhead_history.log):
 * the overhead ratios of every scenario across runs, from the JSON Lines file history_path
 * (memscope.overhead-history/1 entries, one per line; NULL or a missing file: none) followed
 * by the entries of the array `current` (may be NULL). `baseline` (may be NULL): entries of
 * the same form for the gate's baseline, drawn as a dashed level per scenario. With no entry
 * the chart says so. */
int ms_plots_write_overhead_history(const char *out_dir, const char *history_path,
                                    const cJSON *current, const cJSON *baseline, char *err,
                                    size_t errlen);

/* Writes out_dir/report.html: one file, no network: the interactive dashboard
 * (plots/dashboard/, docs/dashboard.md) with the figures of `summary` and, when not NULL, the
 * samples of `resources` embedded as JSON; the page draws every section from them. */
int ms_plots_write_html(const char *out_dir, const char *name, const cJSON *summary,
                        const cJSON *resources, char *err, size_t errlen);

#endif /* MS_PLOTS_H */
