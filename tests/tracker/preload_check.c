/* preload_check.c: runs a test program under LD_PRELOAD=libmemscope.so and holds the trace to
 * the program's own count of its allocator calls, exactly.
 *
 * Usage: preload_check LIB [VAR=VALUE ...] -- PROGRAM [ARGS]
 * The program prints "expect allocations=… frees=… reallocs=… allocated_bytes=…
 * leaked_blocks=… leaked_bytes=…" lines (expect.h), one per process image: a line prefixed
 * "child " belongs to the run directory with origin=fork, one prefixed "first " to the run
 * that ended in exec, the plain line to the remaining run. Every run must match its line in
 * every field, counted over calls made from the program's own module (the caller frame). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ms_trace.h"

typedef struct expect_s {
  char tag[16]; /* "", "child", "first" */
  long v[6];
  int used;
} expect_t;

static const char *const fields[6] = {"allocations", "frees", "reallocs", "allocated_bytes",
                                      "leaked_blocks", "leaked_bytes"};
static int failures;

#define CHECK_EQ(what, run, want, got)                                                         \
  do {                                                                                         \
    if ((long long)(want) != (long long)(got)) {                                               \
      fprintf(stderr, "FAIL %s %s: expected %lld, recorded %lld\n", run, what,                 \
              (long long)(want), (long long)(got));                                            \
      failures++;                                                                              \
    } else {                                                                                   \
      printf("ok   %s %s = %lld\n", run, what, (long long)(got));                              \
    }                                                                                          \
  } while (0)

static int parse_expect(char *line, expect_t *e) {
  memset(e, 0, sizeof *e);
  char *p = line;
  if (strncmp(p, "child ", 6) == 0 || strncmp(p, "first ", 6) == 0) {
    memcpy(e->tag, p, 5);
    p += 6;
  }
  if (strncmp(p, "expect ", 7) != 0)
    return -1;
  p += 7;
  for (int i = 0; i < 6; i++) {
    char key[40];
    snprintf(key, sizeof key, "%s=", fields[i]);
    char *k = strstr(p, key);
    if (!k)
      return -1;
    e->v[i] = strtol(k + strlen(key), NULL, 10);
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: preload_check LIB [VAR=VALUE ...] -- PROGRAM [ARGS]\n");
    return 2;
  }
  const char *lib = argv[1];
  int sep = 2;
  while (sep < argc && strcmp(argv[sep], "--") != 0)
    sep++;
  if (sep + 1 >= argc) {
    fprintf(stderr, "preload_check: no program after --\n");
    return 2;
  }
  char dir[] = "/tmp/ms_preload_XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 2;
  }
  char prog[PATH_MAX];
  if (!realpath(argv[sep + 1], prog)) {
    perror(argv[sep + 1]);
    return 2;
  }
  int pipefd[2];
  if (pipe(pipefd) < 0)
    return 2;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipefd[1], 1);
    close(pipefd[0]);
    setenv("MEMSCOPE_OUT", dir, 1);
    for (int i = 2; i < sep; i++)
      putenv(argv[i]);
    setenv("LD_PRELOAD", lib, 1);
    execv(prog, argv + sep + 1);
    _exit(127);
  }
  close(pipefd[1]);
  FILE *in = fdopen(pipefd[0], "r");
  expect_t ex[8];
  int nex = 0;
  char line[512];
  while (fgets(line, sizeof line, in)) {
    fputs(line, stdout);
    if (nex < 8 && parse_expect(line, &ex[nex]) == 0)
      nex++;
  }
  fclose(in);
  int st;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "FAIL program exit status %d (signal %d)\n",
            WIFEXITED(st) ? WEXITSTATUS(st) : -1, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    failures++;
  }
  char **runs = NULL;
  size_t nruns = 0;
  char err[256] = "";
  int rc = ms_trace_find_runs(dir, &runs, &nruns, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "FAIL no trace: %s %s\n", ms_trace_strerror(rc), err);
    return 1;
  }
  CHECK_EQ("run directories", dir, nex, nruns);
  for (size_t r = 0; r < nruns; r++) {
    ms_run_t *run;
    rc = ms_run_open(runs[r], &run, err, sizeof err);
    if (rc < 0) {
      fprintf(stderr, "FAIL %s: %s %s\n", runs[r], ms_trace_strerror(rc), err);
      failures++;
      continue;
    }
    const ms_meta_t *meta = ms_run_meta(run);
    const char *origin = ms_meta_get(meta, "origin");
    const char *end = ms_meta_get(meta, "end_reason");
    const char *tag = origin && strcmp(origin, "fork") == 0 ? "child"
                      : end && strcmp(end, "exec") == 0     ? "first"
                                                            : "";
    const char *name = strrchr(runs[r], '/') ? strrchr(runs[r], '/') + 1 : runs[r];
    if (ms_run_partial(run)) {
      fprintf(stderr, "FAIL %s: trace is partial (damage %zu, end %s)\n", name,
              ms_run_ndamage(run), end ? end : "missing");
      failures++;
    }
    const char *lost = ms_meta_get(meta, "events_lost");
    CHECK_EQ("events_lost", name, 0, lost ? atoll(lost) : -1);
    expect_t *e = NULL;
    for (int i = 0; i < nex; i++)
      if (!ex[i].used && strcmp(ex[i].tag, tag) == 0) {
        e = &ex[i];
        break;
      }
    if (!e) {
      fprintf(stderr, "FAIL %s: no expect line for a run tagged '%s'\n", name, tag);
      failures++;
      ms_run_close(run);
      continue;
    }
    e->used = 1;
    ms_stats_t *s;
    rc = ms_stats_compute(run, prog, &s);
    if (rc < 0) {
      fprintf(stderr, "FAIL %s: stats: %s\n", name, ms_trace_strerror(rc));
      failures++;
      ms_run_close(run);
      continue;
    }
    long got[6] = {(long)s->module.allocations,   (long)s->module.frees,
                   (long)s->module.reallocs,      (long)s->module.allocated_bytes,
                   (long)s->module.leaked_blocks, (long)s->module.leaked_bytes};
    for (int i = 0; i < 6; i++)
      CHECK_EQ(fields[i], name, e->v[i], got[i]);
    if (s->totals.allocations < s->module.allocations) {
      fprintf(stderr, "FAIL %s: process total below the module's\n", name);
      failures++;
    }
    CHECK_EQ("allocations returning a still-live address (order error)", name, 0,
             s->module.allocations ? s->totals.alloc_over_live : 0);
    ms_stats_free(s);
    ms_run_close(run);
  }
  ms_trace_free_dirs(runs, nruns);
  if (failures == 0) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
      fprintf(stderr, "note: could not remove %s\n", dir);
  } else {
    fprintf(stderr, "%d failure(s); trace kept in %s\n", failures, dir);
  }
  return failures ? 1 : 0;
}
