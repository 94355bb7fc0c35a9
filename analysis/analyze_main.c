/* analyze_main.c: memscope-analyze, the analysis engine on one run directory: writes
 * summary.json and the detail files (the harness's `report` command does the same inside
 * its own reports; this tool is for tests, benchmarks and by-hand use). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "ms_analyze.h"

#define PROG "memscope-analyze"

static void usage(FILE *f) {
  fprintf(f,
          "usage: " PROG " RUN_DIR [--out DIR] [--prefix NAME] [--suppressions FILE]\n"
          "                        [--module PATH_OR_BASENAME] [--no-symbols] [--no-details]\n"
          "                        [--stats]\n"
          "\n"
          "Analyzes a memscope trace (a run directory memscope.<pid>.<n>, or a directory\n"
          "holding exactly one) and writes DIR/summary.json (schema memscope.summary/1) and\n"
          "DIR/NAME_memory_analysis.json, _lifetime.json, _performance.json,\n"
          "_comprehensive.json, _resource_rankings.json. DIR defaults to RUN_DIR, NAME to\n"
          "memscope. --suppressions takes LSan \"leak:PATTERN\" lines. --stats prints the\n"
          "pass's speed and peak memory to stderr.\n"
          "Exit status: 0 success (a damaged trace is analyzed and marked partial), 2 error.\n");
}

int main(int argc, char **argv) {
  const char *run = NULL, *out = NULL, *prefix = "memscope";
  ms_analysis_opts_t o = {0};
  o.symbolize = 1;
  int details = 1, stats = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--out") && more) {
      out = argv[++i];
    } else if (!strcmp(a, "--prefix") && more) {
      prefix = argv[++i];
    } else if (!strcmp(a, "--suppressions") && more) {
      o.suppressions = argv[++i];
    } else if (!strcmp(a, "--module") && more) {
      o.module = argv[++i];
    } else if (!strcmp(a, "--no-symbols")) {
      o.symbolize = 0;
    } else if (!strcmp(a, "--no-details")) {
      details = 0;
    } else if (!strcmp(a, "--stats")) {
      stats = 1;
    } else if (a[0] != '-' && !run) {
      run = a;
    } else {
      fprintf(stderr, PROG ": unknown or incomplete argument '%s' (see --help)\n", a);
      return 2;
    }
  }
  if (!run) {
    usage(stderr);
    return 2;
  }
  char err[512] = "";
  ms_analysis_t *an = NULL;
  int rc = ms_analyze_run(run, &o, &an, err, sizeof err);
  if (rc) {
    fprintf(stderr, PROG ": %s\n", err[0] ? err : ms_analysis_strerror(rc));
    return 2;
  }
  if (ms_analysis_partial(an))
    fprintf(stderr, PROG ": %s: the trace is damaged or cut short: figures are partial\n", run);
  if (!out) /* the run directory itself, also when RUN_DIR was its parent */
    out = ms_run_dir(ms_analysis_run(an));
  else if ((rc = ms_mkdirs(out)) != 0) {
    fprintf(stderr, PROG ": cannot create --out %s: %s\n", out, strerror(-rc));
    return 2;
  }
  cJSON *sum = ms_analysis_summary_json(an);
  size_t n = strlen(out) + 16;
  char *path = malloc(n);
  if (!sum || !path) {
    fprintf(stderr, PROG ": out of memory\n");
    return 2;
  }
  snprintf(path, n, "%s/summary.json", out);
  rc = ms_write_json_file(path, sum);
  if (rc) {
    fprintf(stderr, PROG ": %s: %s\n", path, strerror(-rc));
    return 2;
  }
  if (details && (rc = ms_analysis_write_details(an, out, prefix, err, sizeof err))) {
    fprintf(stderr, PROG ": %s\n", err);
    return 2;
  }
  if (stats) {
    cJSON *t = cJSON_GetObjectItem(sum, "totals");
    cJSON *ev = cJSON_GetObjectItem(t, "events");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, PROG ": events=%s peak_rss_kib=%ld\n", ev ? cJSON_PrintUnformatted(ev) : "?",
            ru.ru_maxrss);
  }
  free(path);
  cJSON_Delete(sum);
  ms_analysis_free(an);
  return 0;
}
