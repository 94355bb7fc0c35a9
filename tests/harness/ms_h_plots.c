/* ms_h_plots.c: draws the gnuplot charts of one summary.json (and resources.json) through the
 * plots library, as `--plots` does, so that plots_test.sh can give it summaries with the
 * fields of docs/dashboard-data.md (threads[].timeline, correlation, untracked threads) that a
 * run of this build may not produce yet.
 * Usage: ms_h_plots OUT_DIR NAME SUMMARY.json [RESOURCES.json]   (charts in OUT_DIR/plots)
 *        ms_h_plots --history OUT_DIR HISTORY.jsonl               (overhead_history only)
 * Exit: 0 drawn, 2 bad input or a chart failed (one line on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ms_plots.h"

static cJSON *load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  size_t r;
  while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
    len += r;
    if (len == cap) {
      char *g = realloc(buf, (cap *= 2) + 1);
      if (!g) free(buf);
      buf = g;
    }
  }
  fclose(f);
  if (!buf) return NULL;
  buf[len] = 0;
  cJSON *j = cJSON_Parse(buf);
  free(buf);
  return j;
}

int main(int argc, char **argv) {
  char err[1024];
  if (argc == 4 && strcmp(argv[1], "--history") == 0) {
    if (ms_plots_write_overhead_history(argv[2], argv[3], NULL, NULL, err, sizeof err)) {
      fprintf(stderr, "ms_h_plots: %s\n", err);
      return 2;
    }
    return 0;
  }
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: ms_h_plots OUT_DIR NAME SUMMARY.json [RESOURCES.json]\n");
    return 2;
  }
  cJSON *summary = load(argv[3]), *resources = argc == 5 ? load(argv[4]) : NULL;
  if (!summary || (argc == 5 && !resources)) {
    fprintf(stderr, "ms_h_plots: cannot read %s as JSON\n", !summary ? argv[3] : argv[4]);
    return 2;
  }
  /* Every chart, as --plots draws them: overhead_history with no history. */
  int rc = ms_plots_write_gnuplot(argv[1], argv[2], summary, resources, err, sizeof err) ||
           ms_plots_write_overhead_history(argv[1], NULL, NULL, NULL, err, sizeof err);
  if (rc) fprintf(stderr, "ms_h_plots: %s\n", err);
  cJSON_Delete(summary);
  cJSON_Delete(resources);
  return rc ? 2 : 0;
}
