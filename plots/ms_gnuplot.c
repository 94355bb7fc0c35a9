/* ms_gnuplot.c: the gnuplot plots (script + data + PNG + SVG) from a summary.json tree and the
 * resource samples. gnuplot draws them (STYLE 9); strings from a trace reach gnuplot only as data. */
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

/* ---- strings from a trace, as data (STYLE 11) ----
 *
 * Thread names, the case name (a program's or a directory's name) and every other string that
 * came from a traced program never become gnuplot syntax. gnuplot runs `...` inside "..."
 * strings of a script, so such strings go either into the data files, as double-quoted fields
 * (gnuplot's data-file reader runs no backticks and expands no macros there), or into the
 * script as single-quoted strings (where gnuplot expands nothing at all). docs/plots-safety.md
 * has the details and the experiments behind them. */

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when s does not start one. The SVG that
 * gnuplot writes is XML: a stray byte from a trace would make the whole file unreadable. */
static size_t utf8_len(const unsigned char *s) {
  if (s[0] < 0x80) return 1;
  size_t n = s[0] >= 0xf5 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
  if (n == 0) return 0; /* a continuation byte, an overlong 2-byte lead, or beyond U+10FFFF */
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  /* Overlong 3/4-byte forms, UTF-16 surrogates and code points above U+10FFFF. */
  if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
      (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
    return 0;
  return n;
}

/* Copies at most max bytes of s (whole characters only) into out (outlen >= max + 1) as a
 * plot shows them: a control character, which would end a script line or a data record (or
 * split a label), and a byte that is not valid UTF-8 become '?'. */
static void plot_text(char *out, size_t outlen, const char *s, size_t max) {
  const unsigned char *u = (const unsigned char *)s;
  size_t o = 0;
  if (max > outlen - 1) max = outlen - 1;
  while (*u) {
    size_t n = utf8_len(u);
    if (n == 1 && (*u < 0x20 || *u == 0x7f)) n = 0;
    if (o + (n ? n : 1) > max) break;
    if (n == 0) {
      out[o++] = '?';
      u++;
    } else {
      memcpy(out + o, u, n);
      o += n;
      u += n;
    }
  }
  out[o] = 0;
}

/* Writes s (after plot_text) as one double-quoted field of a gnuplot data file. In a data file
 * gnuplot ends the field at the next '"' whatever precedes it and then expands backslash
 * escapes inside it (\n, \t, \101 ...; gnuplot 5.4, checked with gnuplot and by the test
 * harness.hostile_names): so '\' is written "\\" and '"' the octal escape "\042", which gnuplot
 * turns back into a quote after the field has been delimited. Spaces and '#' are safe inside
 * the quotes, so a name never shifts the columns. */
static void dat_string(FILE *f, const char *s) {
  char t[256];
  plot_text(t, sizeof t, s, sizeof t - 1);
  fputc('"', f);
  for (const char *p = t; *p; p++) {
    if (*p == '\\') fputs("\\\\", f);
    else if (*p == '"') fputs("\\042", f);
    else fputc(*p, f);
  }
  fputc('"', f);
}

/* s (after plot_text) as a single-quoted gnuplot string into buf: gnuplot expands nothing
 * between single quotes (no backticks, @macros or backslash escapes) and reads '' as one
 * quote. 0, or -1 when buf is too small. */
static int gp_quote(char *buf, size_t len, const char *s) {
  char t[512];
  plot_text(t, sizeof t, s, sizeof t - 1);
  size_t o = 0;
  if (len < 3) return -1;
  buf[o++] = '\'';
  for (const char *p = t; *p; p++) {
    size_t need = *p == '\'' ? 2 : 1;
    if (o + need + 2 > len) return -1;
    buf[o++] = *p;
    if (*p == '\'') buf[o++] = '\'';
  }
  buf[o++] = '\'';
  buf[o] = 0;
  return 0;
}

/* An empty file of our own for one of gnuplot's outputs: gnuplot opens `set output` itself
 * (fopen "w", which follows links), so it is given this file, created by mkostemp
 * (O_CREAT|O_EXCL, unpredictable name) beside dir/file, rather than the final name, which
 * someone could have planted a link at; rename puts it in place when gnuplot succeeded.
 * Writes the temporary path into tmp and a pointer to its last component into *base.
 * 0, or -1 with err. */
static int gp_output_tmp(char *tmp, size_t len, const char **base, const char *dir, const char *file,
                         char *err, size_t errlen) {
  if (ms__pathf(tmp, len, "%s/%s.tmp.XXXXXX", dir, file)) {
    snprintf(err, errlen, "path too long: %s/%s; choose a shorter --out", dir, file);
    return -1;
  }
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot create a temporary file for %s/%s: %s", dir, file, strerror(errno));
    return -1;
  }
  /* gnuplot's fopen keeps the mode of an existing file: make it a report's usual 0644. */
  if (fchmod(fd, 0644) != 0) {
    snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    return -1;
  }
  close(fd);
  *base = strrchr(tmp, '/') + 1;
  return 0;
}

/* ---- gnuplot ---- */

/* Runs gnuplot on dir/script in dir, its stderr (warnings, e.g. a one-point range) appended to
 * log_fd (gnuplot.log, a file of our own) rather than the user's terminal. `vars` is a -e
 * command line run before the script (the output names). 0, or -1 with err. */
static int run_gnuplot(const char *dir, const char *script, const char *vars, int log_fd, char *err,
                       size_t errlen) {
  const char *gp = getenv("MEMSCOPE_GNUPLOT");
  if (!gp || !*gp) gp = "gnuplot";
  pid_t pid = fork();
  if (pid < 0) {
    snprintf(err, errlen, "cannot start gnuplot: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    if (chdir(dir) != 0) _exit(126);
    if (dup2(log_fd, STDERR_FILENO) < 0) _exit(126);
    execlp(gp, gp, "-e", vars, script, (char *)NULL);
    _exit(127);
  }
  int st = -1; /* not "exited 0" if waitpid fails */
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

/* Writes dir/base.gp and runs it: the plot is drawn twice, PNG (pngcairo) and SVG, from the
 * same data file. `title` may hold anything (it is quoted here); `body` must be our own
 * gnuplot text, holding no string from a trace. The script writes base.png and base.svg when
 * run by hand; here gnuplot is told (-e png_output=..., svg_output=...) to write to our
 * temporary files, renamed into place only when it succeeded. 0, or -1 with err. */
static int write_plot(const char *dir, const char *base, const char *title, const char *body,
                      int log_fd, char *err, size_t errlen) {
  char qtitle[1100];
  if (gp_quote(qtitle, sizeof qtitle, title)) {
    snprintf(err, errlen, "plot title too long");
    return -1;
  }
  char file[64];
  snprintf(file, sizeof file, "%s.gp", base);
  ms_out_file_t of;
  if (ms__out_open(&of, dir, file, err, errlen)) return -1;
  fprintf(of.f,
          "# %s.gp: a memscope plot. Re-make with: gnuplot %s.gp\n"
          "# memscope-harness sets png_output and svg_output (temporary names) with -e.\n"
          "if (!exists('png_output')) png_output = '%s.png'\n"
          "if (!exists('svg_output')) svg_output = '%s.svg'\n"
          "set title %s noenhanced\n"
          "set grid\n"
          "set key top left noenhanced\n"
          "set terminal pngcairo size 1000,560 noenhanced\n"
          "set output png_output\n"
          "%s"
          "set terminal svg size 1000,560 dynamic noenhanced\n"
          "set output svg_output\n"
          "replot\n"
          "unset output\n",
          base, base, base, base, qtitle, body);
  if (ms__out_commit(&of, err, errlen)) return -1;

  char png_tmp[PATH_MAX], svg_tmp[PATH_MAX], png[PATH_MAX], svg[PATH_MAX], png_name[64], svg_name[64];
  const char *png_base, *svg_base;
  snprintf(png_name, sizeof png_name, "%s.png", base);
  snprintf(svg_name, sizeof svg_name, "%s.svg", base);
  if (ms__pathf(png, sizeof png, "%s/%s", dir, png_name) || ms__pathf(svg, sizeof svg, "%s/%s", dir, svg_name)) {
    snprintf(err, errlen, "path too long: %s/%s; choose a shorter --out", dir, svg_name);
    return -1;
  }
  if (gp_output_tmp(png_tmp, sizeof png_tmp, &png_base, dir, png_name, err, errlen))
    return -1;
  if (gp_output_tmp(svg_tmp, sizeof svg_tmp, &svg_base, dir, svg_name, err, errlen)) {
    unlink(png_tmp);
    return -1;
  }
  /* The temporary names are ours (base names and mkostemp's [A-Za-z0-9] suffix), quoted all
   * the same; gnuplot runs in dir, so they are relative. */
  char qpng[128], qsvg[128], vars[300];
  int rc = -1;
  if (gp_quote(qpng, sizeof qpng, png_base) || gp_quote(qsvg, sizeof qsvg, svg_base) ||
      ms__pathf(vars, sizeof vars, "png_output = %s; svg_output = %s", qpng, qsvg))
    snprintf(err, errlen, "plot file name too long");
  else if (run_gnuplot(dir, file, vars, log_fd, err, errlen) == 0) {
    if (rename(png_tmp, png) != 0 || rename(svg_tmp, svg) != 0)
      snprintf(err, errlen, "cannot write %s.{png,svg} in %s: %s", base, dir, strerror(errno));
    else
      rc = 0;
  }
  if (rc) {
    unlink(png_tmp);
    unlink(svg_tmp);
  }
  return rc;
}

/* The plots into dir (which exists); gnuplot's messages go to log_fd. 0, or -1 with err. */
static int write_plots(const char *dir, const char *name, const cJSON *summary, const cJSON *resources,
                       int log_fd, char *err, size_t errlen) {
  char shown_name[208], title[512];
  plot_text(shown_name, sizeof shown_name, name, 200);
  ms_out_file_t of;

  /* Live heap over time: the process and each of the 8 threads with the highest peaks. Every
   * block (gnuplot "index") starts with a header row whose second field is the legend title,
   * read by `title columnhead(2)`: the thread names stay data. */
  if (ms__out_open(&of, dir, "heap_timeline.dat", err, errlen)) return -1;
  FILE *f = of.f;
  const cJSON *tl = cJSON_GetObjectItemCaseSensitive(summary, "timeline");
  const cJSON *ts = cJSON_GetObjectItemCaseSensitive(tl, "t_ns");
  const cJSON *lv = cJSON_GetObjectItemCaseSensitive(tl, "live_bytes");
  fprintf(f, "# heap_timeline.dat: live heap (MB) over time (s): block 0 the process (max-preserving\n"
             "# downsampled by the analysis), then one block per thread; each starts with its\n"
             "# column header, whose second field is the legend title.\n"
             "\"t_s\" \"process\"\n");
  int npts = cJSON_GetArraySize(ts);
  for (int i = 0; i < npts && i < cJSON_GetArraySize(lv); i++)
    fprintf(f, "%.9f %.6f\n", ms__itemnum(cJSON_GetArrayItem(ts, i)) / 1e9,
            ms__itemnum(cJSON_GetArrayItem(lv, i)) / 1e6);
  if (npts == 0) fprintf(f, "0 0\n");
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(summary, "threads");
  int nth = cJSON_GetArraySize(threads);
  int order[8], nsel = 0;
  for (int k = 0; k < 8; k++) {
    int best = -1;
    double bp = -1;
    for (int i = 0; i < nth; i++) {
      int used = 0;
      for (int j = 0; j < nsel; j++) used |= order[j] == i;
      double p = ms__num(cJSON_GetArrayItem(threads, i), "peak_live_bytes", 0);
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
    char tn[72], legend[100];
    plot_text(tn, sizeof tn, ms__str(t, "name"), 64);
    snprintf(legend, sizeof legend, "%s (%.0f)", *tn ? tn : "thread", ms__num(t, "tid", 0));
    fputs("\n\n\"t_s\" ", f);
    dat_string(f, legend);
    fputc('\n', f);
    int n = cJSON_GetArraySize(tts);
    for (int i = 0; i < n && i < cJSON_GetArraySize(tlv); i++)
      fprintf(f, "%.9f %.6f\n", ms__itemnum(cJSON_GetArrayItem(tts, i)) / 1e9,
              ms__itemnum(cJSON_GetArrayItem(tlv, i)) / 1e6);
    if (n == 0) fprintf(f, "0 0\n");
  }
  if (ms__out_commit(&of, err, errlen)) return -1;
  char body[1024];
  int off = snprintf(body, sizeof body,
                     "set xlabel 'time since first event (s)'\n"
                     "set ylabel 'live heap (MB)'\n"
                     "plot 'heap_timeline.dat' index 0 using 1:2 with steps lw 2 title columnhead(2)");
  if (nsel > 0)
    off += snprintf(body + off, sizeof body - (size_t)off,
                    ", \\\n  for [k=1:%d] 'heap_timeline.dat' index k using 1:2 with steps title columnhead(2)",
                    nsel);
  snprintf(body + off, sizeof body - (size_t)off, "\n");
  snprintf(title, sizeof title, "%s: live heap over time", shown_name);
  if (write_plot(dir, "heap_timeline", title, body, log_fd, err, errlen)) return -1;

  /* Per-thread peak ranking (up to 40 threads); the third field is the tick label. */
  int *idx = calloc((size_t)(nth > 0 ? nth : 1), sizeof *idx);
  if (!idx) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  for (int i = 0; i < nth; i++) idx[i] = i;
  for (int i = 1; i < nth; i++) /* insertion sort by peak, descending */
    for (int j = i; j > 0 &&
                    ms__num(cJSON_GetArrayItem(threads, idx[j]), "peak_live_bytes", 0) >
                        ms__num(cJSON_GetArrayItem(threads, idx[j - 1]), "peak_live_bytes", 0);
         j--) {
      int t = idx[j];
      idx[j] = idx[j - 1];
      idx[j - 1] = t;
    }
  if (ms__out_open(&of, dir, "thread_peaks.dat", err, errlen)) {
    free(idx);
    return -1;
  }
  f = of.f;
  fprintf(f, "# rank peak_MB \"name:tid\"\n");
  int shown = nth < 40 ? nth : 40;
  for (int r = 0; r < shown; r++) {
    const cJSON *t = cJSON_GetArrayItem(threads, idx[r]);
    char tn[72], label[100];
    plot_text(tn, sizeof tn, ms__str(t, "name"), 64);
    snprintf(label, sizeof label, "%s:%.0f", *tn ? tn : "thread", ms__num(t, "tid", 0));
    fprintf(f, "%d %.6f ", r, ms__num(t, "peak_live_bytes", 0) / 1e6);
    dat_string(f, label);
    fputc('\n', f);
  }
  if (shown == 0) fprintf(f, "0 0 \"none\"\n");
  free(idx);
  if (ms__out_commit(&of, err, errlen)) return -1;
  snprintf(body, sizeof body,
           "set style fill solid 0.8\n"
           "set boxwidth 0.8\n"
           "set xtics rotate by -60 font ',8'\n"
           "set ylabel 'peak live heap (MB)'\n"
           "set yrange [0:*]\n"
           "plot 'thread_peaks.dat' using 1:2:xtic(3) with boxes title 'peak live bytes by allocating thread'\n");
  snprintf(title, sizeof title, "%s: per-thread peak ranking", shown_name);
  if (write_plot(dir, "thread_peaks", title, body, log_fd, err, errlen)) return -1;

  /* RSS and process CPU over time from the harness's /proc samples. */
  if (resources) {
    if (ms__out_open(&of, dir, "rss_cpu.dat", err, errlen)) return -1;
    f = of.f;
    fprintf(f, "# t_s rss_MB process_cpu_percent (of one core, over the sample interval)\n");
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(resources, "samples");
    double prev_t = -1, prev_cpu = 0;
    int rows = 0, cpu_rows = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, samples) {
      const cJSON *p = cJSON_GetObjectItemCaseSensitive(s, "process");
      double t = ms__num(s, "t_s", 0);
      double cpu = ms__num(p, "utime_s", 0) + ms__num(p, "stime_s", 0);
      double rss = ms__num(p, "rss_bytes", -1);
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
    if (ms__out_commit(&of, err, errlen)) return -1;
    snprintf(body, sizeof body,
             "set xlabel 'time since start (s)'\n"
             "set ylabel 'RSS (MB)'\n"
             "set y2label 'CPU (%% of one core)'\n"
             "set y2tics\n"
             "set ytics nomirror\n"
             "plot 'rss_cpu.dat' using 1:2 with linespoints title 'RSS'%s\n",
             cpu_rows ? ", \\\n  'rss_cpu.dat' using 1:3 axes x1y2 with linespoints title 'CPU'"
                      : " # one sample: no CPU interval to plot");
    snprintf(title, sizeof title, "%s: RSS and CPU (sampled from /proc at 10 Hz)", shown_name);
    if (write_plot(dir, "rss_cpu", title, body, log_fd, err, errlen)) return -1;
  }
  return 0;
}

int ms_plots_write_gnuplot(const char *out_dir, const char *name, const cJSON *summary,
                           const cJSON *resources, char *err, size_t errlen) {
  char dir[PATH_MAX];
  if (ms__pathf(dir, sizeof dir, "%s/plots", out_dir)) {
    snprintf(err, errlen, "path too long: %s/plots; choose a shorter --out", out_dir);
    return -1;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    return -1;
  }
  /* An existing plots/ must be a directory itself, not a link to somewhere else. */
  struct stat st;
  if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    snprintf(err, errlen, "%s is not a directory (a link or a file?); remove it or choose another --out", dir);
    return -1;
  }
  /* One gnuplot.log for the three runs: a file of ours (ms_out_open) that every gnuplot child
   * appends to through the inherited descriptor, renamed into place at the end, also after a
   * failure, since the error message points to it. */
  ms_out_file_t log;
  if (ms__out_open(&log, dir, "gnuplot.log", err, errlen)) return -1;
  int rc = write_plots(dir, name, summary, resources, fileno(log.f), err, errlen);
  char lerr[PATH_MAX + 64];
  if (ms__out_commit(&log, lerr, sizeof lerr) && rc == 0) {
    snprintf(err, errlen, "%s", lerr);
    rc = -1;
  }
  return rc;
}

