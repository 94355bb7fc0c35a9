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
#include "ms_gnuplot_int.h"

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
void ms__plot_text(char *out, size_t outlen, const char *s, size_t max) {
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
void ms__dat_string(FILE *f, const char *s) {
  char t[256];
  ms__plot_text(t, sizeof t, s, sizeof t - 1);
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
  ms__plot_text(t, sizeof t, s, sizeof t - 1);
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

/* ---- the script frame ---- */

void ms__text(ms_text_t *t, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = sizeof t->buf - t->len;
  int n = vsnprintf(t->buf + t->len, room, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= room) {
    t->overflow = 1;
    t->buf[t->len] = 0;
  } else {
    t->len += (size_t)n;
  }
}

/* The note as single-quoted lines joined by "\n" (our own constant, in double quotes): cut
 * at its "; " separators so that no line is wider than the chart (about 110 characters at the
 * title's font). 0, or -1 when buf is too small. */
static int quote_note(char *buf, size_t len, const char *note) {
  char t[1024], line[1024];
  ms__plot_text(t, sizeof t, note, sizeof t - 1);
  size_t o = 0, ll = 0;
  buf[0] = 0;
  line[0] = 0;
  for (char *p = t; p;) {
    char *sep = strstr(p, "; ");
    size_t plen = sep ? (size_t)(sep - p) : strlen(p);
    if (ll > 0 && ll + 2 + plen > 110) { /* flush the line */
      char q[1100];
      if (gp_quote(q, sizeof q, line)) return -1;
      int n = snprintf(buf + o, len - o, "%s%s", o ? " . \"\\n\" . " : "", q);
      if (n < 0 || (size_t)n >= len - o) return -1;
      o += (size_t)n;
      ll = 0;
    }
    ll += (size_t)snprintf(line + ll, sizeof line - ll, "%s%.*s", ll ? "; " : "", (int)plen, p);
    if (ll >= sizeof line) return -1;
    p = sep ? sep + 2 : NULL;
  }
  if (ll > 0) {
    char q[1100];
    if (gp_quote(q, sizeof q, line)) return -1;
    int n = snprintf(buf + o, len - o, "%s%s", o ? " . \"\\n\" . " : "", q);
    if (n < 0 || (size_t)n >= len - o) return -1;
  }
  return 0;
}

/* The script: the title (and its note, a second line in a smaller font) set once, then the body
 * run twice inside a loop, once into the PNG and once into the SVG. A loop rather than
 * `replot`, which cannot redo a multiplot. The script writes base.png and base.svg when run by
 * hand; here gnuplot is told (-e png_output=..., svg_output=...) to write to our temporary
 * files, renamed into place only when it succeeded. */
int ms__write_plot(const ms_plot_ctx_t *ctx, const char *base, const char *title, const char *note,
                   const ms_text_t *body, char *err, size_t errlen) {
  char qtitle[1100], qnote[2200] = "";
  if (body->overflow) {
    snprintf(err, errlen, "%s: the gnuplot script is too long (a memscope bug; please report it)", base);
    return -1;
  }
  if (gp_quote(qtitle, sizeof qtitle, title) || (note && *note && quote_note(qnote, sizeof qnote, note))) {
    snprintf(err, errlen, "plot title too long");
    return -1;
  }
  const char *dir = ctx->dir;
  char file[64];
  snprintf(file, sizeof file, "%s.gp", base);
  ms_out_file_t of;
  if (ms__out_open(&of, dir, file, err, errlen)) return -1;
  /* The note is joined to the title with a "\n" in double quotes: that string is our own
   * constant; the title and the note themselves stay single-quoted (docs/plots-safety.md). */
  fprintf(of.f,
          "# %s.gp: a memscope chart (docs/plots.md). Re-make it with: gnuplot %s.gp\n"
          "# memscope-harness sets png_output and svg_output (temporary names) with -e.\n"
          "if (!exists('png_output')) png_output = '%s.png'\n"
          "if (!exists('svg_output')) svg_output = '%s.svg'\n"
          "set encoding utf8\n"
          "ms_title = %s%s%s\n"
          "set title ms_title noenhanced font ',15'\n"
          "set grid\n"
          "set key noenhanced\n"
          "# Line colours that read on white (matplotlib's tab10), reused in this order; its grey\n"
          "# last, since grey is heap_timeline's \"rest\".\n"
          "set linetype 1 lc rgb '#1f77b4'\nset linetype 2 lc rgb '#ff7f0e'\n"
          "set linetype 3 lc rgb '#2ca02c'\nset linetype 4 lc rgb '#d62728'\n"
          "set linetype 5 lc rgb '#9467bd'\nset linetype 6 lc rgb '#8c564b'\n"
          "set linetype 7 lc rgb '#e377c2'\nset linetype 8 lc rgb '#bcbd22'\n"
          "set linetype 9 lc rgb '#17becf'\nset linetype 10 lc rgb '#7f7f7f'\n"
          "set linetype cycle 10\n"
          "do for [ms_out = 1:2] {\n"
          "  if (ms_out == 1) {\n"
          "    set terminal pngcairo size %d,%d noenhanced font 'Sans,12'\n"
          "    set output png_output\n"
          "  } else {\n"
          "    set terminal svg size %d,%d dynamic noenhanced font 'Sans,12' background '#ffffff'\n"
          "    set output svg_output\n"
          "  }\n"
          "%s"
          "  unset output\n"
          "}\n",
          base, base, base, base, qtitle, *qnote ? " . \"\\n\" . " : "", qnote, MS_PLOT_W, MS_PLOT_H,
          MS_PLOT_W, MS_PLOT_H, body->buf);
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
  else if (run_gnuplot(dir, file, vars, ctx->log_fd, err, errlen) == 0) {
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

/* ---- units ---- */

static const char *const byte_units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

void ms__bytes_unit(double max_bytes, double *div, const char **name) {
  int k = 0;
  double d = 1;
  while (k < 6 && max_bytes >= d * 1024) d *= 1024, k++;
  *div = d;
  *name = byte_units[k];
}

void ms__time_unit(double span_s, double *div_ns, const char **name) {
  if (span_s < 2) *div_ns = 1e6, *name = "ms";
  else *div_ns = 1e9, *name = "s";
}

void ms__format_bytes(double b, char *buf, size_t len) {
  double div;
  const char *unit;
  ms__bytes_unit(b, &div, &unit);
  double v = b / div;
  /* Whole numbers (the histogram's powers of two) without decimals, others with one. */
  if (v == floor(v)) snprintf(buf, len, "%.0f %s", v, unit);
  else snprintf(buf, len, "%.1f %s", v, unit);
}

/* ---- entry points ---- */

/* Creates out_dir/plots (a real directory, not a link) into dir, and opens log_name there for
 * gnuplot's stderr: a file of ours (ms_out_open) that every gnuplot child appends to through
 * the inherited descriptor, renamed into place at the end, also after a failure, since the
 * error message points to it. 0, or -1 with err. */
static int open_plots_dir(const char *out_dir, char *dir, size_t dirlen, const char *log_name,
                          ms_out_file_t *log, char *err, size_t errlen) {
  if (ms__pathf(dir, dirlen, "%s/plots", out_dir)) {
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
  return ms__out_open(log, dir, log_name, err, errlen);
}

static int close_log(ms_out_file_t *log, int rc, char *err, size_t errlen) {
  char lerr[PATH_MAX + 64];
  if (ms__out_commit(log, lerr, sizeof lerr) && rc == 0) {
    snprintf(err, errlen, "%s", lerr);
    rc = -1;
  }
  return rc;
}

int ms_plots_write_gnuplot(const char *out_dir, const char *name, const cJSON *summary,
                           const cJSON *resources, char *err, size_t errlen) {
  char dir[PATH_MAX], shown_name[208];
  ms_out_file_t log;
  if (open_plots_dir(out_dir, dir, sizeof dir, "gnuplot.log", &log, err, errlen)) return -1;
  ms__plot_text(shown_name, sizeof shown_name, name, 200);
  ms_plot_ctx_t ctx = {.dir = dir, .log_fd = fileno(log.f), .shown_name = shown_name};
  int rc = ms__chart_heap_timeline(&ctx, summary, err, errlen);
  if (!rc) rc = ms__chart_thread_peaks(&ctx, summary, err, errlen);
  if (!rc) rc = ms__chart_size_histogram(&ctx, summary, err, errlen);
  if (!rc) rc = ms__chart_cpu_alloc_scatter(&ctx, summary, err, errlen);
  if (!rc) rc = ms__chart_rss_cpu(&ctx, summary, resources, err, errlen);
  return close_log(&log, rc, err, errlen);
}

int ms_plots_write_overhead_history(const char *out_dir, const char *history_path,
                                    const cJSON *current, const cJSON *baseline, char *err,
                                    size_t errlen) {
  char dir[PATH_MAX];
  ms_out_file_t log;
  if (open_plots_dir(out_dir, dir, sizeof dir, "overhead_history.log", &log, err, errlen)) return -1;
  ms_plot_ctx_t ctx = {.dir = dir, .log_fd = fileno(log.f), .shown_name = ""};
  int rc = ms__chart_overhead_history(&ctx, history_path, current, baseline, err, errlen);
  return close_log(&log, rc, err, errlen);
}
