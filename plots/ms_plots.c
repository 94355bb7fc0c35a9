/* ms_plots.c: gnuplot plots (script + data + PNG + SVG) and the self-contained HTML report,
 * from a summary.json tree and the resource samples. gnuplot draws the plots (STYLE 9); the
 * HTML's one chart is a hand-written inline SVG polyline, so the page needs nothing else. */
#define _GNU_SOURCE
#include "ms_plots.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


/* snprintf for paths: through vsnprintf so that a too-long path is reported, not cut. */
static int pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, len, fmt, ap);
  va_end(ap);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A number, or a raw number (the analysis writes 64-bit counts as raw text so that no
 * digit is lost to a double): NaN when neither. */
static double itemnum(const cJSON *v) {
  if (cJSON_IsNumber(v)) return v->valuedouble;
  if (cJSON_IsRaw(v) && v->valuestring) {
    char *end;
    double d = strtod(v->valuestring, &end);
    if (end != v->valuestring) return d;
  }
  return NAN;
}

static double num(const cJSON *o, const char *k, double dflt) {
  double d = itemnum(cJSON_GetObjectItemCaseSensitive(o, k));
  return isnan(d) ? dflt : d;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* ---- gnuplot ---- */

static int run_gnuplot(const char *dir, const char *script, char *err, size_t errlen) {
  const char *gp = getenv("MEMSCOPE_GNUPLOT");
  if (!gp || !*gp) gp = "gnuplot";
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "cannot start gnuplot: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    if (chdir(dir) != 0) _exit(126);
    /* gnuplot's warnings (e.g. a one-point range) go to gnuplot.log, not the user's terminal. */
    int lg = open("gnuplot.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (lg >= 0) dup2(lg, STDERR_FILENO);
    execlp(gp, gp, script, (char *)NULL);
    _exit(127);
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) break;
  if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
    snprintf(err, errlen, "gnuplot not found; install it (apt-get install gnuplot-nox) or drop --plots");
    return -1;
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    snprintf(err, errlen, "gnuplot failed on %s/%s (exit %d; see gnuplot.log there)", dir, script,
             WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return -1;
  }
  return 0;
}

/* The script draws the plot twice: PNG (pngcairo) and SVG, from the same data file. */
static int write_script(const char *dir, const char *base, const char *title, const char *body,
                        char *err, size_t errlen) {
  char path[PATH_MAX];
  pathf(path, sizeof path, "%s/%s.gp", dir, base);
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  fprintf(f,
          "# %s.gp: %s (memscope). Re-make with: gnuplot %s.gp\n"
          "set title \"%s\" noenhanced\n"
          "set grid\n"
          "set key top left noenhanced\n"
          "set terminal pngcairo size 1000,560 noenhanced\n"
          "set output \"%s.png\"\n"
          "%s"
          "set terminal svg size 1000,560 dynamic noenhanced\n"
          "set output \"%s.svg\"\n"
          "replot\n"
          "unset output\n",
          base, title, base, title, base, body, base);
  if (fclose(f) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  char script[PATH_MAX];
  pathf(script, sizeof script, "%s.gp", base);
  return run_gnuplot(dir, script, err, errlen);
}

static FILE *open_dat(const char *dir, const char *base, char *err, size_t errlen) {
  char path[PATH_MAX];
  pathf(path, sizeof path, "%s/%s.dat", dir, base);
  FILE *f = fopen(path, "w");
  if (!f) snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
  return f;
}

int ms_plots_write_gnuplot(const char *out_dir, const char *name, const cJSON *summary,
                           const cJSON *resources, char *err, size_t errlen) {
  char dir[PATH_MAX];
  pathf(dir, sizeof dir, "%s/plots", out_dir);
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  char title[256];

  /* Live heap over time: the process and each of the 8 threads with the highest peaks. */
  FILE *f = open_dat(dir, "heap_timeline", err, errlen);
  if (!f) return -1;
  const cJSON *tl = cJSON_GetObjectItemCaseSensitive(summary, "timeline");
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(tl, "t_ns");
  const cJSON *lv = cJSON_GetObjectItemCaseSensitive(tl, "live_bytes");
  fprintf(f, "# t_s live_MB (process; max-preserving downsampled by the analysis)\n");
  int npts = cJSON_GetArraySize(ts);
  for (int i = 0; i < npts && i < cJSON_GetArraySize(lv); i++)
    fprintf(f, "%.9f %.6f\n", itemnum(cJSON_GetArrayItem(ts, i)) / 1e9,
            itemnum(cJSON_GetArrayItem(lv, i)) / 1e6);
  if (npts == 0) fprintf(f, "0 0\n");
  /* Per-thread series follow as further data blocks (gnuplot "index"). */
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(summary, "threads");
  int nth = cJSON_GetArraySize(threads);
  int order[8], nsel = 0;
  for (int k = 0; k < 8; k++) {
    int best = -1;
    double bp = -1;
    for (int i = 0; i < nth; i++) {
      int used = 0;
      for (int j = 0; j < nsel; j++) used |= order[j] == i;
      double p = num(cJSON_GetArrayItem(threads, i), "peak_live_bytes", 0);
      if (!used && p > bp && p > 0) best = i, bp = p;
    }
    if (best < 0) break;
    order[nsel++] = best;
  }
  for (int k = 0; k < nsel; k++) {
    const cJSON *t = cJSON_GetArrayItem(threads, order[k]);
    const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(t, "timeline");
    const cJSON *tts = cJSON_GetObjectItemCaseSensitive(ttl, "t_ns");
    const cJSON *tlv = cJSON_GetObjectItemCaseSensitive(ttl, "live_bytes");
    fprintf(f, "\n\n# thread %.0f %s\n", num(t, "tid", 0), str(t, "name"));
    int n = cJSON_GetArraySize(tts);
    for (int i = 0; i < n && i < cJSON_GetArraySize(tlv); i++)
      fprintf(f, "%.9f %.6f\n", itemnum(cJSON_GetArrayItem(tts, i)) / 1e9,
              itemnum(cJSON_GetArrayItem(tlv, i)) / 1e6);
    if (n == 0) fprintf(f, "0 0\n");
  }
  fclose(f);
  char body[4096];
  size_t off = (size_t)snprintf(body, sizeof body,
                                "set xlabel \"time since first event (s)\"\n"
                                "set ylabel \"live heap (MB)\"\n"
                                "plot \"heap_timeline.dat\" index 0 using 1:2 with steps lw 2 title \"process\"");
  for (int k = 0; k < nsel && off < sizeof body - 200; k++) {
    const cJSON *t = cJSON_GetArrayItem(threads, order[k]);
    const char *tn = str(t, "name");
    char safe[64];
    size_t j = 0;
    for (; tn[j] && j < sizeof safe - 1; j++) safe[j] = tn[j] == '"' ? '\'' : tn[j];
    safe[j] = 0;
    off += (size_t)snprintf(body + off, sizeof body - off,
                            ", \\\n  \"heap_timeline.dat\" index %d using 1:2 with steps title \"%s (%.0f)\"",
                            k + 1, safe, num(t, "tid", 0));
  }
  snprintf(body + off, sizeof body - off, "\n");
  snprintf(title, sizeof title, "%s: live heap over time", name);
  if (write_script(dir, "heap_timeline", title, body, err, errlen)) return -1;

  /* Per-thread peak ranking (up to 40 threads). */
  f = open_dat(dir, "thread_peaks", err, errlen);
  if (!f) return -1;
  fprintf(f, "# rank peak_MB label\n");
  int *idx = calloc((size_t)(nth > 0 ? nth : 1), sizeof *idx);
  if (!idx) {
    fclose(f);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (int i = 0; i < nth; i++) idx[i] = i;
  for (int i = 1; i < nth; i++) /* insertion sort by peak, descending */
    for (int j = i; j > 0 &&
                    num(cJSON_GetArrayItem(threads, idx[j]), "peak_live_bytes", 0) >
                        num(cJSON_GetArrayItem(threads, idx[j - 1]), "peak_live_bytes", 0);
         j--) {
      int t = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = t;
    }
  int shown = nth < 40 ? nth : 40;
  for (int r = 0; r < shown; r++) {
    const cJSON *t = cJSON_GetArrayItem(threads, idx[r]);
    const char *tn = str(t, "name");
    char label[80];
    snprintf(label, sizeof label, "%s:%.0f", *tn ? tn : "thread", num(t, "tid", 0));
    for (char *p = label; *p; p++)
      if (*p == ' ' || *p == '"') *p = '_';
    fprintf(f, "%d %.6f %s\n", r, num(t, "peak_live_bytes", 0) / 1e6, label);
  }
  if (shown == 0) fprintf(f, "0 0 none\n");
  free(idx);
  fclose(f);
  snprintf(body, sizeof body,
           "set style fill solid 0.8\n"
           "set boxwidth 0.8\n"
           "set xtics rotate by -60 font \",8\"\n"
           "set ylabel \"peak live heap (MB)\"\n"
           "set yrange [0:*]\n"
           "plot \"thread_peaks.dat\" using 1:2:xtic(3) with boxes title \"peak live bytes by allocating thread\"\n");
  snprintf(title, sizeof title, "%s: per-thread peak ranking", name);
  if (write_script(dir, "thread_peaks", title, body, err, errlen)) return -1;

  /* RSS and process CPU over time from the harness's /proc samples. */
  if (resources) {
    f = open_dat(dir, "rss_cpu", err, errlen);
    if (!f) return -1;
    fprintf(f, "# t_s rss_MB process_cpu_percent (of one core, over the sample interval)\n");
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(resources, "samples");
    double prev_t = -1, prev_cpu = 0;
    int rows = 0, cpu_rows = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, samples) {
      const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "process");
      double t = num(s, "t_s", 0);
      double cpu = num(p, "utime_s", 0) + num(p, "stime_s", 0);
      double rss = num(p, "rss_bytes", -1);
      if (rss < 0) continue;
      if (prev_t >= 0 && t > prev_t) {
        fprintf(f, "%.3f %.6f %.2f\n", t, rss / 1e6, 100.0 * (cpu - prev_cpu) / (t - prev_t));
        cpu_rows++;
      } else
        fprintf(f, "%.3f %.6f NaN\n", t, rss / 1e6);
      prev_t = t;
      prev_cpu = cpu;
      rows++;
    }
    if (rows == 0) fprintf(f, "0 NaN NaN\n");
    fclose(f);
    snprintf(body, sizeof body,
             "set xlabel \"time since start (s)\"\n"
             "set ylabel \"RSS (MB)\"\n"
             "set y2label \"CPU (%% of one core)\"\n"
             "set y2tics\n"
             "set ytics nomirror\n"
             "plot \"rss_cpu.dat\" using 1:2 with linespoints title \"RSS\"%s\n",
             cpu_rows ? ", \\\n  \"rss_cpu.dat\" using 1:3 axes x1y2 with linespoints title \"CPU\""
                      : " # one sample: no CPU interval to plot");
    snprintf(title, sizeof title, "%s: RSS and CPU (sampled from /proc at 10 Hz)", name);
    if (write_script(dir, "rss_cpu", title, body, err, errlen)) return -1;
  }
  return 0;
}

/* ---- HTML ---- */

static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

static void bytes_text(double b, char *buf, size_t len) {
  if (b >= 1e9) snprintf(buf, len, "%.2f GB", b / 1e9);
  else if (b >= 1e6) snprintf(buf, len, "%.2f MB", b / 1e6);
  else if (b >= 1e3) snprintf(buf, len, "%.2f kB", b / 1e3);
  else snprintf(buf, len, "%.0f B", b);
}

static void card(FILE *f, const char *label, const char *value) {
  fputs("<div class=\"card\"><div class=\"v\">", f);
  esc(f, value);
  fputs("</div><div class=\"l\">", f);
  esc(f, label);
  fputs("</div></div>\n", f);
}

static void svg_timeline(FILE *f, const cJSON *summary) {
  const cJSON *tl = cJSON_GetObjectItemCaseSensitive(summary, "timeline");
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(tl, "t_ns");
  const cJSON *lv = cJSON_GetObjectItemCaseSensitive(tl, "live_bytes");
  int n = cJSON_GetArraySize(ts);
  if (n > cJSON_GetArraySize(lv)) n = cJSON_GetArraySize(lv);
  if (n < 1) {
    fputs("<p>No timeline (no events).</p>\n", f);
    return;
  }
  double tmax = 0, vmax = 0;
  for (int i = 0; i < n; i++) {
    double t = itemnum(cJSON_GetArrayItem(ts, i)), v = itemnum(cJSON_GetArrayItem(lv, i));
    if (t > tmax) tmax = t;
    if (v > vmax) vmax = v;
  }
  if (tmax <= 0) tmax = 1;
  if (vmax <= 0) vmax = 1;
  const double W = 900, H = 260, L = 70, B = 30;
  fprintf(f, "<svg viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\" aria-label=\"live heap over time\">\n",
          W + L + 10, H + B + 10);
  fprintf(f, "<rect x=\"%.0f\" y=\"5\" width=\"%.0f\" height=\"%.0f\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n", L, W, H);
  fputs("<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\" points=\"", f);
  double prev_y = 5 + H;
  for (int i = 0; i < n; i++) {
    double x = L + W * itemnum(cJSON_GetArrayItem(ts, i)) / tmax;
    double y = 5 + H - H * itemnum(cJSON_GetArrayItem(lv, i)) / vmax;
    fprintf(f, "%.1f,%.1f %.1f,%.1f ", x, prev_y, x, y); /* steps */
    prev_y = y;
  }
  fputs("\"/>\n", f);
  char vb[32];
  bytes_text(vmax, vb, sizeof vb);
  fprintf(f, "<text x=\"%.0f\" y=\"15\" font-size=\"11\" text-anchor=\"end\">%s</text>\n", L - 4, vb);
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">0</text>\n", L - 4, 5 + H);
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">0 s</text>\n", L, H + B);
  fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\" text-anchor=\"end\">%.4f s</text>\n", L + W,
          H + B, tmax / 1e9);
  fputs("</svg>\n", f);
}

int ms_plots_write_html(const char *out_dir, const char *name, const cJSON *summary,
                        const cJSON *resources, char *err, size_t errlen) {
  char path[PATH_MAX], tmp[PATH_MAX];
  pathf(path, sizeof path, "%s/report.html", out_dir);
  pathf(tmp, sizeof tmp, "%s/.report.html.tmp", out_dir);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  const cJSON *tot = cJSON_GetObjectItemCaseSensitive(summary, "totals");
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(summary, "harness");
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(summary, "threads");
  fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>memscope: ", f);
  esc(f, name);
  fputs("</title>\n<style>\n"
        "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\n"
        ".cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}\n"
        ".card .v{font-size:1.3em;font-weight:600}.card .l{color:#666;font-size:.85em}\n"
        "table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #e4e4e4;padding:3px 8px;text-align:right;font-size:.9em}\n"
        "th{cursor:pointer;background:#f4f4f4}td.s,th.s{text-align:left}\n"
        ".pass{color:#1b5e20}.fail{color:#b71c1c;font-weight:600}\n"
        ".memory_intensive{background:#fde0dc}.cpu_intensive{background:#fff3cd}.io_intensive{background:#dcecfd}.balanced{background:#e6f4ea}\n"
        ".high{color:#b71c1c;font-weight:600}.medium{color:#e65100}\n"
        "pre{background:#f7f7f7;padding:6px;margin:2px 0;font-size:.8em;white-space:pre-wrap}\n"
        "</style></head><body>\n<h1>memscope: ", f);
  esc(f, name);
  fputs("</h1>\n<div class=\"cards\">\n", f);
  char b[64];
  snprintf(b, sizeof b, "%.0f", num(tot, "allocations", 0));
  card(f, "allocations", b);
  snprintf(b, sizeof b, "%.0f", num(tot, "frees", 0));
  card(f, "frees", b);
  bytes_text(num(tot, "allocated_bytes", 0), b, sizeof b);
  card(f, "allocated", b);
  bytes_text(num(tot, "peak_live_bytes", 0), b, sizeof b);
  card(f, "peak live heap", b);
  bytes_text(num(tot, "leaked_bytes", 0), b, sizeof b);
  card(f, "leaked at exit", b);
  snprintf(b, sizeof b, "%d", cJSON_GetArraySize(threads));
  card(f, "tracked threads", b);
  if (h) {
    snprintf(b, sizeof b, "%.3f s", num(h, "wall_s", 0));
    card(f, "wall time", b);
    snprintf(b, sizeof b, "%.3f s", num(h, "cpu_user_s", 0) + num(h, "cpu_sys_s", 0));
    card(f, "CPU time", b);
  }
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(summary, "resources");
  const cJSON *rss = cJSON_GetObjectItemCaseSensitive(rs, "peak_rss_bytes");
  if (!isnan(itemnum(rss))) {
    bytes_text(itemnum(rss), b, sizeof b);
    card(f, "peak RSS", b);
  }
  const cJSON *ov = cJSON_GetObjectItemCaseSensitive(summary, "overhead");
  const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(ov, "cpu");
  if (cpu) {
    snprintf(b, sizeof b, "x%.2f", num(cpu, "ratio_of_medians", 0));
    card(f, "CPU overhead (tracked/untracked)", b);
  }
  fputs("</div>\n<h2>Assertions</h2>\n<table><tr><th class=\"s\">result</th><th class=\"s\">assertion</th></tr>\n", f);
  const cJSON *a;
  cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(summary, "assertions")) {
    int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "passed"));
    fprintf(f, "<tr><td class=\"s %s\">%s</td><td class=\"s\">", ok ? "pass" : "fail", ok ? "pass" : "FAIL");
    esc(f, str(a, "message"));
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n<h2>Live heap over time</h2>\n", f);
  svg_timeline(f, summary);
  fputs("<h2>Threads</h2>\n<p>Click a column to sort. CPU and I/O come from the harness's /proc samples (null: not seen).</p>\n"
        "<table class=\"sortable\"><thead><tr><th>tid</th><th class=\"s\">name</th><th class=\"s\">role</th><th class=\"s\">alert</th>"
        "<th>allocations</th><th>frees</th><th>allocated bytes</th><th>peak live bytes</th><th>CPU %</th><th>I/O ops</th></tr></thead><tbody>\n", f);
  const cJSON *t;
  cJSON_ArrayForEach(t, threads) {
    const char *role = str(t, "role");
    fprintf(f, "<tr class=\"%s\"><td>%.0f</td><td class=\"s\">", role, num(t, "tid", 0));
    esc(f, str(t, "name"));
    fprintf(f, "</td><td class=\"s\">%s</td><td class=\"s %s\">%s</td><td>%.0f</td><td>%.0f</td><td>%.0f</td><td>%.0f</td>",
            role, str(t, "alert"), str(t, "alert"), num(t, "allocations", 0), num(t, "frees", 0),
            num(t, "allocated_bytes", 0), num(t, "peak_live_bytes", 0));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "cpu_percent");
    const cJSON *io = cJSON_GetObjectItemCaseSensitive(t, "io_ops");
    if (!isnan(itemnum(c))) fprintf(f, "<td>%.1f</td>", itemnum(c));
    else fputs("<td>null</td>", f);
    if (!isnan(itemnum(io))) fprintf(f, "<td>%.0f</td>", itemnum(io));
    else fputs("<td>null</td>", f);
    fputs("</tr>\n", f);
  }
  fputs("</tbody></table>\n<h2>Leaks</h2>\n", f);
  const cJSON *leaks = cJSON_GetObjectItemCaseSensitive(summary, "leaks");
  if (cJSON_GetArraySize(leaks) == 0) {
    fputs("<p>No block was live at the end of the run.</p>\n", f);
  } else {
    fputs("<table><tr><th>bytes</th><th>blocks</th><th class=\"s\">variable</th><th class=\"s\">stack (innermost first)</th></tr>\n", f);
    int shown = 0;
    const cJSON *lk;
    cJSON_ArrayForEach(lk, leaks) {
      if (shown++ >= 50) break;
      fprintf(f, "<tr><td>%.0f</td><td>%.0f</td><td class=\"s\">", num(lk, "bytes", 0), num(lk, "blocks", 0));
      esc(f, str(lk, "var_name"));
      fputs("</td><td class=\"s\"><pre>", f);
      const cJSON *fr;
      int k = 0;
      cJSON_ArrayForEach(fr, cJSON_GetObjectItemCaseSensitive(lk, "stack")) {
        if (k++ >= 12) break;
        const char *fn = str(fr, "function");
        const char *file = str(fr, "file");
        const char *mod = str(fr, "module");
        const char *mb = strrchr(mod, '/');
        if (*fn) esc(f, fn);
        else esc(f, str(fr, "address"));
        if (*file) {
          fputs(" (", f);
          esc(f, file);
          fprintf(f, ":%.0f)", num(fr, "line", 0));
        }
        fputs(" [", f);
        esc(f, mb ? mb + 1 : mod);
        fputs("]\n", f);
      }
      fputs("</pre></td></tr>\n", f);
    }
    fputs("</table>\n", f);
  }
  if (resources) {
    fprintf(f, "<p>Resource samples: %.0f at %.0f Hz (resources.json). GPU: unavailable.</p>\n",
            num(resources, "nsamples", 0), num(resources, "hz", 0));
  }
  fputs("<script>\n"
        "document.querySelectorAll('table.sortable th').forEach(function(th,i){th.onclick=function(){\n"
        " var tb=th.closest('table').tBodies[0],rows=Array.from(tb.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';\n"
        " rows.sort(function(a,b){var x=a.cells[i].textContent,y=b.cells[i].textContent,nx=parseFloat(x),ny=parseFloat(y);\n"
        "  var c=(isNaN(nx)||isNaN(ny))?x.localeCompare(y):nx-ny;return asc?c:-c;});rows.forEach(function(r){tb.appendChild(r);});};});\n"
        "</script>\n</body></html>\n", f);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return -1;
  }
  return 0;
}
