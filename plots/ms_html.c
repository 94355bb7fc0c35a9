/* ms_html.c: the self-contained HTML report from a summary.json tree and the resource samples. */
#define _GNU_SOURCE
#include "ms_plots_int.h"

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

#include "ms_files.h"

/* ---- HTML ---- */

/* s as HTML text or attribute value (either quote): every string from a summary goes through
 * here, since names in it come from the traced program (STYLE 11). */
static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&#39;", f); break;
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
    double t = ms__itemnum(cJSON_GetArrayItem(ts, i)), v = ms__itemnum(cJSON_GetArrayItem(lv, i));
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
    double x = L + W * ms__itemnum(cJSON_GetArrayItem(ts, i)) / tmax;
    double y = 5 + H - H * ms__itemnum(cJSON_GetArrayItem(lv, i)) / vmax;
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
  ms_out_file_t of;
  if (ms__out_open(&of, out_dir, "report.html", err, errlen)) return -1;
  FILE *f = of.f;
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
  snprintf(b, sizeof b, "%.0f", ms__num(tot, "allocations", 0));
  card(f, "allocations", b);
  snprintf(b, sizeof b, "%.0f", ms__num(tot, "frees", 0));
  card(f, "frees", b);
  bytes_text(ms__num(tot, "allocated_bytes", 0), b, sizeof b);
  card(f, "allocated", b);
  bytes_text(ms__num(tot, "peak_live_bytes", 0), b, sizeof b);
  card(f, "peak live heap", b);
  bytes_text(ms__num(tot, "leaked_bytes", 0), b, sizeof b);
  card(f, "leaked at exit", b);
  /* Threads whose calls the trace holds ("tracked": true); the others are listed too (a
   * thread that named itself, then stopped being tracked), but are not counted here. */
  int ntracked = 0;
  const cJSON *th;
  cJSON_ArrayForEach(th, threads) ntracked += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(th, "tracked"));
  snprintf(b, sizeof b, "%d of %d", ntracked, cJSON_GetArraySize(threads));
  card(f, "tracked threads", b);
  if (h) {
    snprintf(b, sizeof b, "%.3f s", ms__num(h, "wall_s", 0));
    card(f, "wall time", b);
    snprintf(b, sizeof b, "%.3f s", ms__num(h, "cpu_user_s", 0) + ms__num(h, "cpu_sys_s", 0));
    card(f, "CPU time", b);
  }
  const cJSON *rs = cJSON_GetObjectItemCaseSensitive(summary, "resources");
  const cJSON *rss = cJSON_GetObjectItemCaseSensitive(rs, "peak_rss_bytes");
  if (!isnan(ms__itemnum(rss))) {
    bytes_text(ms__itemnum(rss), b, sizeof b);
    card(f, "peak RSS", b);
  }
  const cJSON *ov = cJSON_GetObjectItemCaseSensitive(summary, "overhead");
  const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(ov, "cpu");
  if (cpu) {
    snprintf(b, sizeof b, "x%.2f", ms__num(cpu, "ratio_of_medians", 0));
    card(f, "CPU overhead (tracked/untracked)", b);
  }
  fputs("</div>\n<h2>Assertions</h2>\n<table><tr><th class=\"s\">result</th><th class=\"s\">assertion</th></tr>\n", f);
  const cJSON *a;
  cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(summary, "assertions")) {
    int ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "passed"));
    fprintf(f, "<tr><td class=\"s %s\">%s</td><td class=\"s\">", ok ? "pass" : "fail", ok ? "pass" : "FAIL");
    esc(f, ms__str(a, "message"));
    fputs("</td></tr>\n", f);
  }
  fputs("</table>\n<h2>Live heap over time</h2>\n", f);
  svg_timeline(f, summary);
  fputs("<h2>Threads</h2>\n<p>Click a column to sort. CPU and I/O come from the harness's /proc samples (null: not seen).</p>\n"
        "<table class=\"sortable\"><thead><tr><th>tid</th><th class=\"s\">name</th><th class=\"s\">role</th><th class=\"s\">alert</th>"
        "<th>allocations</th><th>frees</th><th>allocated bytes</th><th>peak live bytes</th><th>CPU %</th><th>I/O ops</th></tr></thead><tbody>\n", f);
  const cJSON *t;
  cJSON_ArrayForEach(t, threads) {
    /* role and alert are the analysis's own words today, but they are read back from a
     * summary.json like the names, so they are escaped like them. */
    const char *role = ms__str(t, "role"), *alert = ms__str(t, "alert");
    fputs("<tr class=\"", f);
    esc(f, role);
    fprintf(f, "\"><td>%.0f</td><td class=\"s\">", ms__num(t, "tid", 0));
    esc(f, ms__str(t, "name"));
    fputs("</td><td class=\"s\">", f);
    esc(f, role);
    fputs("</td><td class=\"s ", f);
    esc(f, alert);
    fputs("\">", f);
    esc(f, alert);
    fprintf(f, "</td><td>%.0f</td><td>%.0f</td><td>%.0f</td><td>%.0f</td>", ms__num(t, "allocations", 0),
            ms__num(t, "frees", 0), ms__num(t, "allocated_bytes", 0), ms__num(t, "peak_live_bytes", 0));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(t, "cpu_percent");
    const cJSON *io = cJSON_GetObjectItemCaseSensitive(t, "io_ops");
    if (!isnan(ms__itemnum(c))) fprintf(f, "<td>%.1f</td>", ms__itemnum(c));
    else fputs("<td>null</td>", f);
    if (!isnan(ms__itemnum(io))) fprintf(f, "<td>%.0f</td>", ms__itemnum(io));
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
      fprintf(f, "<tr><td>%.0f</td><td>%.0f</td><td class=\"s\">", ms__num(lk, "bytes", 0), ms__num(lk, "blocks", 0));
      esc(f, ms__str(lk, "var_name"));
      fputs("</td><td class=\"s\"><pre>", f);
      const cJSON *fr;
      int k = 0;
      cJSON_ArrayForEach(fr, cJSON_GetObjectItemCaseSensitive(lk, "stack")) {
        if (k++ >= 12) break;
        const char *fn = ms__str(fr, "function");
        const char *file = ms__str(fr, "file");
        const char *mod = ms__str(fr, "module");
        const char *mb = strrchr(mod, '/');
        if (*fn) esc(f, fn);
        else esc(f, ms__str(fr, "address"));
        if (*file) {
          fputs(" (", f);
          esc(f, file);
          fprintf(f, ":%.0f)", ms__num(fr, "line", 0));
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
            ms__num(resources, "nsamples", 0), ms__num(resources, "hz", 0));
  }
  fputs("<script>\n"
        "document.querySelectorAll('table.sortable th').forEach(function(th,i){th.onclick=function(){\n"
        " var tb=th.closest('table').tBodies[0],rows=Array.from(tb.rows),asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';\n"
        " rows.sort(function(a,b){var x=a.cells[i].textContent,y=b.cells[i].textContent,nx=parseFloat(x),ny=parseFloat(y);\n"
        "  var c=(isNaN(nx)||isNaN(ny))?x.localeCompare(y):nx-ny;return asc?c:-c;});rows.forEach(function(r){tb.appendChild(r);});};});\n"
        "</script>\n</body></html>\n", f);
  return ms__out_commit(&of, err, errlen);
}
