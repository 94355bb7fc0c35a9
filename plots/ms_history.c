/* ms_history.c: the overhead history chart: the tracker's CPU and wall-time overhead ratios
 * (tracked / untracked, median of the interleaved pairs, with the interquartile range) of every
 * scenario across CI runs, read from the JSON Lines history that `memscope-harness --history
 * FILE` appends to (docs/plots.md, "Overhead history"; one line per scenario per run). */
#define _GNU_SOURCE
#include "ms_plots_int.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_gnuplot_int.h"

#define HISTORY_MAX_BYTES (64u << 20) /* a history beyond this is refused, not read */
#define HISTORY_RUNS 60               /* the newest runs drawn */
#define HISTORY_SCENARIOS 16          /* lines drawn at most */

/* Reads path's lines into arr (one object each). *bad counts the lines that are not a JSON
 * object with a scenario. A missing file is an empty history (the first run). 0, or -1 with
 * err. */
static int read_history(const char *path, cJSON *arr, int *bad, char *err, size_t errlen) {
  int fd = ms_open_regular(path, 0);
  if (fd == -ENOENT) return 0;
  if (fd < 0) {
    snprintf(err, errlen, "cannot read the history %s: %s; give a regular file to --history", path, strerror(-fd));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || (unsigned long long)st.st_size > HISTORY_MAX_BYTES) {
    snprintf(err, errlen, "the history %s is larger than %u MiB; start a new one", path, HISTORY_MAX_BYTES >> 20);
    close(fd);
    return -1;
  }
  size_t len = (size_t)st.st_size, got = 0;
  char *txt = malloc(len + 1);
  if (!txt) {
    close(fd);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  while (got < len) {
    ssize_t r = read(fd, txt + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  txt[got] = 0;
  for (char *line = txt; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    if (*line) {
      cJSON *e = cJSON_Parse(line);
      if (cJSON_IsObject(e) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "scenario")))
        cJSON_AddItemToArray(arr, e);
      else {
        cJSON_Delete(e);
        (*bad)++;
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  free(txt);
  return 0;
}

/* The run an entry belongs to: its "run" id (one per harness invocation), else its time. */
static const char *run_key(const cJSON *e) {
  const char *r = ms__str(e, "run");
  return *r ? r : ms__str(e, "time");
}

static int find_str(const char **v, int n, const char *s) {
  for (int i = 0; i < n; i++)
    if (strcmp(v[i], s) == 0) return i;
  return -1;
}

/* The tick label of a run: the commit's first 7 characters, else the entry's date and time. */
static void run_label(char *buf, size_t len, const cJSON *e) {
  const char *c = ms__str(e, "commit"), *t = ms__str(e, "time");
  if (*c) snprintf(buf, len, "%.7s", c);
  else if (strlen(t) >= 16) snprintf(buf, len, "%.5s %.5s", t + 5, t + 11); /* MM-DD HH:MM */
  else snprintf(buf, len, "%s", *t ? t : "?");
}

/* The baseline's (cpu, wall) ratio of scenario name, NaN when it has none. */
static void baseline_of(const cJSON *baseline, const char *name, double *cpu, double *wall) {
  const cJSON *e;
  *cpu = *wall = NAN;
  cJSON_ArrayForEach(e, baseline) if (!strcmp(ms__str(e, "scenario"), name)) {
    *cpu = ms__num(e, "cpu_ratio", NAN);
    *wall = ms__num(e, "wall_ratio", NAN);
  }
}

int ms__chart_overhead_history(const ms_plot_ctx_t *ctx, const char *history_path,
                               const cJSON *current, const cJSON *baseline, char *err, size_t errlen) {
  cJSON *all = cJSON_CreateArray();
  int bad = 0;
  if (!all || (history_path && read_history(history_path, all, &bad, err, errlen))) {
    if (!all) snprintf(err, errlen, "out of memory");
    cJSON_Delete(all);
    return -1;
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, current) cJSON_AddItemToArray(all, cJSON_Duplicate(e, 1));

  /* Runs in the order they appear (the history is appended to), the newest HISTORY_RUNS. */
  int n = cJSON_GetArraySize(all), nruns = 0, nscen = 0;
  const char **runs = calloc((size_t)(n ? n : 1), sizeof *runs);
  const char **scen = calloc((size_t)(n ? n : 1), sizeof *scen);
  if (!runs || !scen) {
    free(runs);
    free(scen);
    cJSON_Delete(all);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  cJSON_ArrayForEach(e, all) {
    if (find_str(runs, nruns, run_key(e)) < 0) runs[nruns++] = run_key(e);
    if (find_str(scen, nscen, ms__str(e, "scenario")) < 0) scen[nscen++] = ms__str(e, "scenario");
  }
  int first_run = nruns > HISTORY_RUNS ? nruns - HISTORY_RUNS : 0;
  int drawn_scen = nscen < HISTORY_SCENARIOS ? nscen : HISTORY_SCENARIOS;

  ms_out_file_t of;
  int rc = -1;
  if (ms__out_open(&of, ctx->dir, "overhead_history.dat", err, errlen)) goto done;
  FILE *f = of.f;
  fprintf(f, "# overhead_history.dat: tracker overhead ratios (tracked / untracked, median of the\n"
             "# interleaved pairs, q1 and q3 the interquartile range) per scenario and run, from\n"
             "# the --history file (JSON Lines, docs/plots.md). One block per scenario, starting\n"
             "# with a header row whose second field is the legend entry; x is the run's number\n"
             "# (1 = the oldest drawn).\n"
             "# run cpu_ratio cpu_q1 cpu_q3 wall_ratio wall_q1 wall_q3 \"label\"\n");
  int rows = 0;
  for (int s = 0; s < drawn_scen; s++) {
    fputs(s ? "\n\n\"run\" " : "\"run\" ", f);
    ms__dat_string(f, scen[s]);
    fputc('\n', f);
    int block_rows = 0;
    for (int r = first_run; r < nruns; r++) {
      /* The last entry of this scenario in this run (a run appends each scenario once). */
      const cJSON *hit = NULL;
      cJSON_ArrayForEach(e, all) if (!strcmp(run_key(e), runs[r]) && !strcmp(ms__str(e, "scenario"), scen[s])) hit = e;
      if (!hit) continue;
      char label[64];
      run_label(label, sizeof label, hit);
      fprintf(f, "%d", r - first_run + 1);
      static const char *const keys[] = {"cpu_ratio", "cpu_q1", "cpu_q3", "wall_ratio", "wall_q1", "wall_q3"};
      for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        double v = ms__num(hit, keys[k], NAN);
        if (isnan(v)) fputs(" NaN", f);
        else fprintf(f, " %.6g", v);
      }
      fputc(' ', f);
      ms__dat_string(f, label);
      fputc('\n', f);
      block_rows++;
    }
    if (block_rows == 0) fputs("0 NaN NaN NaN NaN NaN NaN \"\"\n", f);
    rows += block_rows;
  }
  /* The gate's baseline: one row per scenario block (row k for block k), no header row, so
   * that `every ::k::k` picks scenario k's. */
  int have_base = 0;
  for (int s = 0; s < drawn_scen && baseline; s++) {
    double cpu, wall;
    baseline_of(baseline, scen[s], &cpu, &wall);
    have_base |= !isnan(cpu) || !isnan(wall);
  }
  if (have_base) {
    fputs("\n\n# the gate's baseline (--baseline), median ratios: block k cpu_ratio wall_ratio\n", f);
    for (int s = 0; s < drawn_scen; s++) {
      double cpu, wall;
      baseline_of(baseline, scen[s], &cpu, &wall);
      fprintf(f, "%d", s);
      if (isnan(cpu)) fputs(" NaN", f);
      else fprintf(f, " %.6g", cpu);
      if (isnan(wall)) fputs(" NaN\n", f);
      else fprintf(f, " %.6g\n", wall);
    }
  }
  if (ms__out_commit(&of, err, errlen)) goto done;

  int shown_runs = nruns - first_run;
  ms_text_t b = {.len = 0};
  char note[512] = "", s[200];
  if (rows == 0) {
    ms__text(&b, "  set label 1 'no overhead history yet: measure with --repeat N --history FILE' at graph 0.5, graph 0.5 center font ',16'\n"
                 "  set xrange [0:1]\n  set yrange [0:1]\n  unset xtics\n  unset ytics\n  plot NaN notitle\n");
    snprintf(note, sizeof note, "%s", history_path ? "the history file has no entry" : "no --history file given");
  } else {
    /* Two panels on one run axis, with the same margins so that the runs line up; the key in
     * the right margin of the upper one, so that it never covers a point. */
    ms__text(&b, "  unset title\n"
                 "  set multiplot layout 2,1 title ms_title font ',15'\n"
                 "  set lmargin 12\n  set rmargin 34\n"
                 "  set xrange [0.5:%d.5]\n"
                 "  set xtics 1 rotate by 45 right font ',%d'\n"
                 "  set grid\n"
                 "  set key outside right top vertical Left reverse title 'scenario (median, bars q1-q3)'\n"
                 "  set ylabel 'CPU time ratio (tracked / untracked)'\n"
                 "  set xlabel ''\n"
                 "  set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 3 lc rgb '#808080'\n"
                 "  plot for [k=0:%d] 'overhead_history.dat' index k using 1:2:3:4:xtic(8) with yerrorlines lw 2 pt 7 lc k+1 title columnhead(2)",
             shown_runs, shown_runs > 30 ? 8 : 10, drawn_scen - 1);
    /* The baseline as a dashed level across the runs, in the scenario's colour. */
    char base_cpu[300] = "", base_wall[300] = "";
    if (have_base) {
      snprintf(base_cpu, sizeof base_cpu,
               ", \\\n    for [k=0:%d] '' index %d every ::k::k using (0.5):2:(%d):(0) with vectors nohead dt 2 lw 1.5 lc k+1 notitle, \\\n"
               "    NaN with lines dt 2 lw 1.5 lc rgb '#000000' title 'dashed: the gate baseline'",
               drawn_scen - 1, drawn_scen, shown_runs);
      snprintf(base_wall, sizeof base_wall,
               ", \\\n    for [k=0:%d] '' index %d every ::k::k using (0.5):3:(%d):(0) with vectors nohead dt 2 lw 1.5 lc k+1 notitle",
               drawn_scen - 1, drawn_scen, shown_runs);
    }
    ms__text(&b, "%s\n"
                 "  unset key\n"
                 "  set ylabel 'wall time ratio (tracked / untracked)'\n"
                 "  set xlabel 'CI run, oldest to newest (label: commit, or date and time UTC)'\n"
                 "  plot for [k=0:%d] 'overhead_history.dat' index k using 1:5:6:7:xtic(8) with yerrorlines lw 2 pt 7 lc k+1 notitle%s\n"
                 "  unset multiplot\n"
                 "  unset arrow 1\n"
                 "  set title ms_title\n",
             base_cpu, drawn_scen - 1, base_wall);
    snprintf(s, sizeof s, "%d run%s", shown_runs, shown_runs == 1 ? "" : "s");
    if (nruns > shown_runs) snprintf(s, sizeof s, "the newest %d of %d runs", shown_runs, nruns);
    snprintf(note, sizeof note, "%s%s; a ratio of 1 is no overhead", s,
             shown_runs == 1 ? " (one run: no trend yet; each CI run adds one)" : "");
    if (nscen > drawn_scen) {
      snprintf(s, sizeof s, "; the first %d of %d scenarios", drawn_scen, nscen);
      strncat(note, s, sizeof note - strlen(note) - 1);
    }
  }
  if (bad) {
    snprintf(s, sizeof s, "; %d unreadable line%s of the history skipped", bad, bad > 1 ? "s" : "");
    strncat(note, s, sizeof note - strlen(note) - 1);
  }
  rc = ms__write_plot(ctx, "overhead_history", "tracker overhead across CI runs", note, &b, err, errlen);
done:
  free(runs);
  free(scen);
  cJSON_Delete(all);
  return rc;
}
