/* test_untrusted_files.c: memscope-analyze on traces that name files which are not regular
 * files: a FIFO (open(2) of one blocks until a writer comes, that is forever), /dev/zero, a
 * directory, a symbolic link to a FIFO. As a module in maps.txt, as the debug file of a
 * module, and as the run's own meta.txt, maps.txt or thread file. Each run of the CLI must
 * end within 5 s and say what it skipped.
 *
 * Usage: test_untrusted_files TEST ANALYZE MODULE_WITHOUT_DEBUG_INFO PROGRAM_WITH_DEBUG_INFO */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ms_format.h"
#include "test_util.h"
#include "tracegen.h"

#define PID 4242u
#define RUN_ID 77u
#define T0 1000000u
#define LIMIT_S 5.0

typedef struct cli_result_s {
  int status;   /* exit status; -1 when it had to be killed */
  double secs;  /* how long it ran */
  char *out, *err;
} cli_result_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Runs memscope-analyze with args (NULL-terminated) in its own process; kills it after
 * LIMIT_S (a hang is the failure under test, so the test must not hang with it). */
static cli_result_t run_analyze(const char *scratch, const char *const *args) {
  char *out = tg_path(scratch, "cli.out"), *err = tg_path(scratch, "cli.err");
  const char *argv[16] = {t_argv[2]};
  size_t n = 1;
  for (; args[n - 1] && n < 15; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  double t0 = now_s();
  pid_t pid = fork();
  T_TRUE(pid >= 0);
  if (pid == 0) {
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0)
      _exit(126);
    dup2(o, 1);
    dup2(e, 2);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  cli_result_t r = {-1, 0, NULL, NULL};
  int st;
  for (;;) {
    pid_t w = waitpid(pid, &st, WNOHANG);
    if (w == pid) {
      r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      break;
    }
    if (now_s() - t0 > LIMIT_S) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      break;
    }
    struct timespec ms = {0, 10 * 1000 * 1000};
    nanosleep(&ms, NULL);
  }
  r.secs = now_s() - t0;
  r.out = tg_read_file(out, NULL);
  r.err = tg_read_file(err, NULL);
  if (r.status < 0)
    fprintf(stderr, "memscope-analyze %s did not end within %.0f s (killed); stderr so far:\n%s\n",
            args[0], LIMIT_S, r.err);
  else
    printf("memscope-analyze %s: exit %d in %.3f s, stderr:\n%s", args[0], r.status, r.secs,
           r.err);
  free(out);
  free(err);
  return r;
}

static void result_free(cli_result_t *r) {
  free(r->out);
  free(r->err);
}

/* A one-thread trace: one leaked block per stack, stack k's only frame at frames[k - 1]. */
static void write_trace(const char *dir, const char *maps, const uint64_t *frames, size_t n) {
  tg_write_meta(dir, PID, RUN_ID, "monotonic", NULL, 1);
  tg_write_text(dir, "maps.txt", maps);
  char name[64];
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, PID);
  tg_file_t *f = tg_open(dir, name, 1, PID, PID, 0, RUN_ID);
  tg_chunk(f, T0, 0, 0);
  for (size_t k = 0; k < n; k++) {
    tg_stack(f, k + 1, 1, &frames[k]);
    tg_alloc(f, T0 + 10 * (k + 1), 0x1000 * (k + 1), 100 * (k + 1), k + 1);
  }
  tg_end_chunk(f);
  tg_close(f);
}

static cJSON *read_json(const char *dir, const char *name) {
  char *path = tg_path(dir, name);
  char *text = tg_read_file(path, NULL);
  cJSON *j = cJSON_Parse(text);
  T_TRUE(j != NULL);
  free(text);
  free(path);
  return j;
}

/* Lines of text that contain both a and b. */
static int lines_with(const char *text, const char *a, const char *b) {
  int n = 0;
  for (const char *line = text; line && *line;) {
    const char *nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) : strlen(line);
    char *l = strndup(line, len);
    n += strstr(l, a) && strstr(l, b);
    free(l);
    line = nl ? nl + 1 : NULL;
  }
  return n;
}

/* maps.txt maps four ranges to a FIFO, /dev/zero, a directory and a link to the FIFO; one leak
 * has its frame in each. memscope-analyze (symbols on) ends within 5 s, exit 0, one warning
 * line per file saying it is not a regular file, and those frames keep their module and
 * offset with no function. */
static void module_not_regular(void) {
  char *dir = tg_mkdtemp("an-fifo-module");
  char *run = tg_path(dir, "run"), *out = tg_path(dir, "out");
  char *fifo = tg_path(dir, "fifo-module.so"), *sub = tg_path(dir, "dir-module.so"),
       *link = tg_path(dir, "link-to-fifo.so");
  T_EQ_INT(0, mkdir(run, 0700));
  T_EQ_INT(0, mkfifo(fifo, 0600));
  T_EQ_INT(0, mkdir(sub, 0700));
  T_EQ_INT(0, symlink(fifo, link));
  const char *paths[4] = {fifo, "/dev/zero", sub, link};
  char maps[4096];
  size_t m = (size_t)snprintf(maps, sizeof maps, "# maps 1\n");
  uint64_t frames[4];
  for (int k = 0; k < 4; k++) {
    uint64_t start = 0x10000 * (uint64_t)(k + 1);
    m += (size_t)snprintf(maps + m, sizeof maps - m,
                          "%" PRIx64 "-%" PRIx64 " r-xp 00000000 08:01 %d %s\n", start,
                          start + 0x1000, 100 + k, paths[k]);
    frames[k] = start + 0x123;
  }
  write_trace(run, maps, frames, 4);
  const char *args[] = {run, "--out", out, NULL};
  cli_result_t r = run_analyze(dir, args);
  T_EQ_INT(0, r.status);
  T_TRUE(r.secs < LIMIT_S);
  T_EQ_INT(1, lines_with(r.err, fifo, "a FIFO, not a regular file"));
  T_EQ_INT(1, lines_with(r.err, "/dev/zero", "a character device, not a regular file"));
  T_EQ_INT(1, lines_with(r.err, sub, "a directory, not a regular file"));
  T_EQ_INT(1, lines_with(r.err, link, "a FIFO, not a regular file"));
  T_EQ_INT(4, lines_with(r.err, "warning", "its frames are left unsymbolized"));
  cJSON *s = read_json(out, "summary.json");
  cJSON *leaks = cJSON_GetObjectItem(s, "leaks");
  T_EQ_INT(4, cJSON_GetArraySize(leaks));
  cJSON *l;
  cJSON_ArrayForEach(l, leaks) {
    cJSON *f = cJSON_GetArrayItem(cJSON_GetObjectItem(l, "stack"), 0);
    const char *mod = cJSON_GetStringValue(cJSON_GetObjectItem(f, "module"));
    int known = 0;
    for (int k = 0; k < 4; k++)
      known |= mod && !strcmp(mod, paths[k]);
    T_TRUE(known);
    T_STR_EQ("", cJSON_GetStringValue(cJSON_GetObjectItem(f, "function")));
    T_EQ_U64(0x122, cJSON_GetNumberValue(cJSON_GetObjectItem(f, "module_offset")));
  }
  cJSON *w = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "run"), "symbol_warnings");
  T_EQ_INT(4, cJSON_GetArraySize(w));
  cJSON_Delete(s);
  result_free(&r);
  tg_rmrf(dir);
  free(run);
  free(out);
  free(fifo);
  free(sub);
  free(link);
  free(dir);
}

/* Copies file `from` to `to` (mode 0700). */
static void copy_file(const char *from, const char *to) {
  size_t len;
  char *data = tg_read_file(from, &len);
  int fd = open(to, O_WRONLY | O_CREAT | O_EXCL, 0700);
  T_TRUE(fd >= 0);
  T_EQ_U64(len, (uint64_t)write(fd, data, len));
  close(fd);
  free(data);
}

/* A regular module without debug info (t_argv[3], copied into the trace's directory) whose
 * debug file, by libdwfl's default name "<module>.debug" beside it and in .debug/, is a FIFO:
 * the module is symbolized from its symbol table, the FIFOs are skipped with a warning. */
static void debug_file_fifo(void) {
  T_TRUE(t_argc > 3);
  char *dir = tg_mkdtemp("an-fifo-debug");
  char *run = tg_path(dir, "run"), *out = tg_path(dir, "out"), *mods = tg_path(dir, "mods");
  T_EQ_INT(0, mkdir(run, 0700));
  T_EQ_INT(0, mkdir(mods, 0700));
  char *mod = tg_path(mods, "nodebug.so"), *dbg = tg_path(mods, "nodebug.so.debug");
  char *dotdebug = tg_path(mods, ".debug");
  T_EQ_INT(0, mkdir(dotdebug, 0700));
  char *dbg2 = tg_path(dotdebug, "nodebug.so.debug");
  copy_file(t_argv[3], mod);
  T_EQ_INT(0, mkfifo(dbg, 0600));
  T_EQ_INT(0, mkfifo(dbg2, 0600));
  char maps[4096];
  snprintf(maps, sizeof maps, "# maps 1\n7f0000000000-7f0000100000 r-xp 00000000 08:01 5 %s\n",
           mod);
  uint64_t frames[1] = {0x7f0000001234};
  write_trace(run, maps, frames, 1);
  const char *args[] = {run, "--out", out, NULL};
  cli_result_t r = run_analyze(dir, args);
  T_EQ_INT(0, r.status);
  T_TRUE(r.secs < LIMIT_S);
  T_EQ_INT(1, lines_with(r.err, dbg, "a FIFO, not a regular file: not read as debug info"));
  T_EQ_INT(1, lines_with(r.err, dbg2, "a FIFO, not a regular file: not read as debug info"));
  cJSON *s = read_json(out, "summary.json");
  cJSON *f = cJSON_GetArrayItem(
      cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(s, "leaks"), 0), "stack"), 0);
  T_STR_EQ(mod, cJSON_GetStringValue(cJSON_GetObjectItem(f, "module")));
  cJSON_Delete(s);
  result_free(&r);
  tg_rmrf(dir);
  free(run);
  free(out);
  free(mods);
  free(mod);
  free(dbg);
  free(dotdebug);
  free(dbg2);
  free(dir);
}

/* A program whose DWARF was shared out by dwz into an alt file (.gnu_debugaltlink names
 * "alt.debug", beside it), the alt file then replaced by a FIFO: libdwfl asks for the alt
 * file (the symbolizer's find_debuginfo skips the FIFO), and libdw would open it by itself
 * the first time a name lives there, so the module's DWARF is not read: a warning for each,
 * names from the symbol table. Needs dwz (skipped, exit 77, without it). */
static void alt_file_fifo(void) {
  T_TRUE(t_argc > 4);
  char *dir = tg_mkdtemp("an-fifo-alt");
  char *run = tg_path(dir, "run"), *out = tg_path(dir, "out"), *a = tg_path(dir, "a"),
       *b = tg_path(dir, "b"), *alt = tg_path(dir, "alt.debug");
  T_EQ_INT(0, mkdir(run, 0700));
  copy_file(t_argv[4], a);
  copy_file(t_argv[4], b);
  pid_t pid = fork();
  T_TRUE(pid >= 0);
  if (pid == 0) {
    /* Two copies share all their DWARF: dwz moves it into alt.debug. */
    if (chdir(dir) != 0)
      _exit(126);
    execlp("dwz", "dwz", "-m", "alt.debug", "-M", "alt.debug", "a", "b", (char *)NULL);
    _exit(77);
  }
  int st;
  T_EQ_INT(pid, waitpid(pid, &st, 0));
  if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
    printf("dwz not found: skipped\n");
    tg_rmrf(dir);
    exit(77);
  }
  T_TRUE(WIFEXITED(st));
  T_EQ_INT(0, WEXITSTATUS(st));
  T_EQ_INT(0, unlink(alt));
  T_EQ_INT(0, mkfifo(alt, 0600));
  char maps[4096];
  snprintf(maps, sizeof maps, "# maps 1\n7f0000000000-7f0000100000 r-xp 00000000 08:01 5 %s\n",
           a);
  uint64_t frames[1] = {0x7f0000001234};
  write_trace(run, maps, frames, 1);
  const char *args[] = {run, "--out", out, NULL};
  cli_result_t r = run_analyze(dir, args);
  T_EQ_INT(0, r.status);
  T_TRUE(r.secs < LIMIT_S);
  T_EQ_INT(1, lines_with(r.err, alt, "a FIFO, not a regular file: not read as debug info"));
  T_EQ_INT(1, lines_with(r.err, alt, "a FIFO, not a regular file: the DWARF of"));
  result_free(&r);
  tg_rmrf(dir);
  free(run);
  free(out);
  free(a);
  free(b);
  free(alt);
  free(dir);
}

/* The run's own files as FIFOs: meta.txt (of a run found in a parent directory) and maps.txt
 * end the CLI with exit 2 and a message naming the file; a thread file is damage (the run is
 * partial, the other thread is analyzed). */
static void run_files_not_regular(void) {
  char *dir = tg_mkdtemp("an-fifo-run");
  char *out = tg_path(dir, "out");
  uint64_t frames[1] = {0x1500};
  const char *maps = "# maps 1\n00001000-00002000 r-xp 00000000 08:01 11 /nonexistent/lib.so\n";

  /* meta.txt: the parent holds memscope.4242.0, whose meta.txt is a FIFO. */
  char *parent = tg_path(dir, "parent");
  T_EQ_INT(0, mkdir(parent, 0700));
  char *r1 = tg_path(parent, "memscope.4242.0");
  T_EQ_INT(0, mkdir(r1, 0700));
  write_trace(r1, maps, frames, 1);
  char *meta = tg_path(r1, "meta.txt");
  T_EQ_INT(0, unlink(meta));
  T_EQ_INT(0, mkfifo(meta, 0600));
  const char *a1[] = {parent, "--out", out, NULL};
  cli_result_t r = run_analyze(dir, a1);
  T_EQ_INT(2, r.status);
  T_EQ_INT(1, lines_with(r.err, "meta.txt", "not a regular file"));
  result_free(&r);

  /* maps.txt */
  char *r2 = tg_path(dir, "run2");
  T_EQ_INT(0, mkdir(r2, 0700));
  write_trace(r2, maps, frames, 1);
  char *mp = tg_path(r2, "maps.txt");
  T_EQ_INT(0, unlink(mp));
  T_EQ_INT(0, mkfifo(mp, 0600));
  const char *a2[] = {r2, "--out", out, NULL};
  r = run_analyze(dir, a2);
  T_EQ_INT(2, r.status);
  T_EQ_INT(1, lines_with(r.err, "maps.txt", "not a regular file"));
  result_free(&r);

  /* A thread file among good ones. */
  char *r3 = tg_path(dir, "run3");
  T_EQ_INT(0, mkdir(r3, 0700));
  write_trace(r3, maps, frames, 1);
  char *tf = tg_path(r3, "memscope_thread_4242_9.bin");
  T_EQ_INT(0, mkfifo(tf, 0600));
  const char *a3[] = {r3, "--out", out, NULL};
  r = run_analyze(dir, a3);
  T_EQ_INT(0, r.status);
  cJSON *s = read_json(out, "summary.json");
  cJSON *run = cJSON_GetObjectItem(s, "run");
  T_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(run, "partial")));
  cJSON *d = cJSON_GetArrayItem(cJSON_GetObjectItem(run, "damage"), 0);
  T_STR_EQ(tf, cJSON_GetStringValue(cJSON_GetObjectItem(d, "file")));
  T_CONTAINS(cJSON_GetStringValue(cJSON_GetObjectItem(d, "reason")), "not a regular file");
  T_EQ_U64(1, cJSON_GetNumberValue(
                  cJSON_GetObjectItem(cJSON_GetObjectItem(s, "totals"), "allocations")));
  cJSON_Delete(s);
  result_free(&r);

  tg_rmrf(dir);
  free(out);
  free(parent);
  free(r1);
  free(meta);
  free(r2);
  free(mp);
  free(r3);
  free(tf);
  free(dir);
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {
      T_CASE(module_not_regular),
      T_CASE(debug_file_fifo),
      T_CASE(run_files_not_regular),
      T_CASE(alt_file_fifo),
  };
  if (argc > 1 && strcmp(argv[1], "--list") && argc < 3) {
    fprintf(stderr, "usage: %s TEST ANALYZE MODULE_WITHOUT_DEBUG_INFO PROGRAM_WITH_DEBUG_INFO\n",
            argv[0]);
    return 2;
  }
  return t_main(argc, argv, cases, sizeof cases / sizeof *cases);
}
