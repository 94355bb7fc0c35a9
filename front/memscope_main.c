/* memscope_main.c: `memscope`, the front command in heaptrack's habits: `memscope PROGRAM
 * [ARGS]` runs PROGRAM under the tracker (LD_PRELOAD, MEMSCOPE_OUT into a fresh directory),
 * analyzes the trace and prints a text report; `memscope print TRACE_DIR|SUMMARY_JSON` prints
 * it again, as heaptrack_print does. docs/memscope-cmd.md. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "front.h"
#include "ms_analyze.h"

#ifndef MEMSCOPE_VERSION
#define MEMSCOPE_VERSION "unknown"
#endif

typedef struct cli_s {
  fr_opts_t rep;
  const char *output;        /* trace directory to create (run) */
  const char *suppressions;
  const char *lib;
  int no_symbols;
  int explicit_cmd; /* the command was named (`run`, `print`): --help shows only its own */
} cli_t;

typedef struct cmd_s {
  const char *name;
  int (*handler)(cli_t *c, int argc, char **argv);
  const char *usage;
  const char *help;
} cmd_t;

static const char report_opts_help[] =
    "  -n, --limit N            sites listed per section (default 10)\n"
    "      --stack-depth N      frames shown per call stack, 0 = all (default 12)\n"
    "      --stacks-per-site N  call stacks listed under each site (default 3)\n"
    "      --filter FUNC        only call stacks through a function whose name contains FUNC\n"
    "      --no-leaks           leave out the leaks section\n"
    "      --suppressions FILE  LSan \"leak:PATTERN\" lines: matching leaks are listed as\n"
    "                           suppressed, not counted (a trace, not a summary)\n"
    "      --no-symbols         addresses only (no function/file/line)\n"
    "  -h, --help               this help\n"
    "  -V, --version            the version\n";

static int cmd_run(cli_t *c, int argc, char **argv);
static int cmd_print(cli_t *c, int argc, char **argv);

static const cmd_t commands[] = {
    {"run", cmd_run, "memscope [OPTIONS] PROGRAM [ARGS...]   (or: memscope run ...)",
     "Runs PROGRAM under memscope's tracker, writes the trace and summary.json into a new\n"
     "directory, and prints the report (totals, the peak with its stack, allocation sites by\n"
     "calls, peak contribution and bytes, temporaries, leaks). The exit status is PROGRAM's\n"
     "(128+N when a signal N ended it); 2 when memscope itself fails.\n"
     "  -o, --output DIR         the trace directory to create (default\n"
     "                           ./memscope.PROGRAM.PID, as heaptrack names its file)\n"
     "      --lib PATH           libmemscope.so (default $MEMSCOPE_LIB, else next to memscope:\n"
     "                           ../tracker, ../lib, .)\n"},
    {"print", cmd_print, "memscope print [OPTIONS] TRACE_DIR|SUMMARY_JSON",
     "Prints the report again, like heaptrack_print: from a trace directory (analyzed anew,\n"
     "every stack) or from a summary.json (memscope's, or a harness report's: then the sites\n"
     "come from the stacks that summary lists). Exit status 0, or 2 on an error.\n"},
};

static void usage(FILE *f, const cmd_t *cmd) {
  if (!cmd) {
    fprintf(f, "usage: %s\n       %s\n       memscope --version | --help\n\n%s\n%s\n%s",
            commands[0].usage, commands[1].usage, commands[0].help, commands[1].help,
            report_opts_help);
    return;
  }
  fprintf(f, "usage: %s\n\n%s\n%s", cmd->usage, cmd->help, report_opts_help);
}

static int parse_size(const char *opt, const char *s, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end || errno || s[0] == '-') {
    fprintf(stderr, "memscope: %s takes a whole number >= 0, not '%s'\n", opt, s);
    return -1;
  }
  *out = (size_t)v;
  return 0;
}

enum { O_DEPTH = 256, O_PER_SITE, O_FILTER, O_NO_LEAKS, O_SUPPR, O_NO_SYMBOLS, O_LIB };

/* getopt_long over one command's options; '+' stops at PROGRAM so its own options are its.
 * Returns optind, or -1 after a message (2), or -2 when --help/--version printed (0). */
static int parse(cli_t *c, const cmd_t *cmd, int argc, char **argv) {
  static const struct option common[] = {
      {"limit", required_argument, 0, 'n'},     {"stack-depth", required_argument, 0, O_DEPTH},
      {"stacks-per-site", required_argument, 0, O_PER_SITE},
      {"filter", required_argument, 0, O_FILTER}, {"no-leaks", no_argument, 0, O_NO_LEAKS},
      {"suppressions", required_argument, 0, O_SUPPR},
      {"no-symbols", no_argument, 0, O_NO_SYMBOLS}, {"help", no_argument, 0, 'h'},
      {"version", no_argument, 0, 'V'},         {"output", required_argument, 0, 'o'},
      {"lib", required_argument, 0, O_LIB},     {0, 0, 0, 0}};
  int is_run = cmd->handler == cmd_run;
  optind = 1;
  opterr = 0;
  for (;;) {
    int lo = -1;
    int ch = getopt_long(argc, argv, is_run ? "+:n:hVo:" : "+:n:hV", common, &lo);
    if (ch == -1)
      break;
    const char *name = lo >= 0 ? common[lo].name : NULL;
    if (!is_run && (ch == 'o' || ch == O_LIB))
      ch = '?';
    switch (ch) {
    case 'n':
      if (parse_size("--limit", optarg, &c->rep.limit))
        return -1;
      break;
    case O_DEPTH:
      if (parse_size("--stack-depth", optarg, &c->rep.stack_depth))
        return -1;
      break;
    case O_PER_SITE:
      if (parse_size("--stacks-per-site", optarg, &c->rep.stacks_per_site))
        return -1;
      break;
    case O_FILTER: c->rep.filter = optarg; break;
    case O_NO_LEAKS: c->rep.no_leaks = 1; break;
    case O_SUPPR: c->suppressions = optarg; break;
    case O_NO_SYMBOLS: c->no_symbols = 1; break;
    case O_LIB: c->lib = optarg; break;
    case 'o': c->output = optarg; break;
    case 'h': usage(stdout, c->explicit_cmd ? cmd : NULL); return -2;
    case 'V': printf("memscope %s\n", MEMSCOPE_VERSION); return -2;
    case ':':
      fprintf(stderr, "memscope: option '%s' needs a value (see memscope %s--help)\n",
              argv[optind - 1], is_run ? "" : "print ");
      return -1;
    default:
      if (optopt && !name)
        fprintf(stderr, "memscope: unknown option '-%c' (see memscope %s--help)\n", optopt,
                is_run ? "" : "print ");
      else if (name) /* a run option given to print */
        fprintf(stderr, "memscope: print has no option '--%s' (see memscope print --help)\n",
                name);
      else
        fprintf(stderr, "memscope: unknown option '%s' (see memscope %s--help)\n",
                argv[optind - 1], is_run ? "" : "print ");
      return -1;
    }
  }
  return optind;
}

/* Analyzes a trace with every stack kept (the sites need them all) and the live bytes per
 * stack at the peak. NULL after a message. */
static cJSON *analyze(const cli_t *c, const char *dir) {
  ms_analysis_opts_t o = {0};
  o.symbolize = !c->no_symbols;
  o.suppressions = c->suppressions;
  o.top_stacks = SIZE_MAX;
  o.max_leaks = SIZE_MAX;
  o.peak_stacks = SIZE_MAX;
  char err[512] = "";
  ms_analysis_t *an = NULL;
  int rc = ms_analyze_run(dir, &o, &an, err, sizeof err);
  if (rc) {
    fprintf(stderr, "memscope: %s\n", err[0] ? err : ms_analysis_strerror(rc));
    return NULL;
  }
  cJSON *sum = ms_analysis_summary_json(an);
  ms_analysis_free(an);
  if (!sum)
    fprintf(stderr, "memscope: out of memory\n");
  return sum;
}

static int print_sum(const cli_t *c, const cJSON *sum) {
  int rc = fr_print_report(stdout, stderr, sum, &c->rep);
  fflush(stdout);
  return rc ? 2 : 0;
}

static cJSON *load_json(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "memscope: cannot open %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  for (size_t k; buf && (k = fread(buf + n, 1, cap - n, f)) > 0;) {
    n += k;
    if (n == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        buf = NULL;
      }
      buf = nb;
    }
  }
  int rerr = ferror(f);
  fclose(f);
  if (!buf || rerr) {
    fprintf(stderr, "memscope: cannot read %s\n", path);
    free(buf);
    return NULL;
  }
  cJSON *j = cJSON_ParseWithLength(buf, n);
  free(buf);
  if (!j)
    fprintf(stderr, "memscope: %s is not JSON\n", path);
  return j;
}

/* The run directory under path: path itself, its only run, or with several (the program
 * forked) the run of pid `pid`, else the first (named on stderr). malloc'd, or NULL after a
 * message. */
static char *pick_run(const char *path, long pid) {
  char **dirs = NULL, err[512] = "";
  size_t n = 0;
  int rc = ms_trace_find_runs(path, &dirs, &n, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "memscope: %s\n", err[0] ? err : ms_trace_strerror(rc));
    return NULL;
  }
  size_t k = 0;
  if (n > 1) {
    char want[64];
    snprintf(want, sizeof want, "/memscope.%ld.", pid);
    for (size_t i = 0; pid > 0 && i < n; i++)
      if (strstr(dirs[i], want)) {
        k = i;
        break;
      }
    fprintf(stderr, "memscope: %s holds %zu runs (the program started others); reporting %s\n",
            path, n, dirs[k]);
  }
  char *r = strdup(dirs[k]);
  ms_trace_free_dirs(dirs, n);
  if (!r)
    fprintf(stderr, "memscope: out of memory\n");
  return r;
}

static int cmd_print(cli_t *c, int argc, char **argv) {
  if (argc != 1) {
    fprintf(stderr, "memscope: print takes one TRACE_DIR or SUMMARY_JSON (see memscope print "
                    "--help)\n");
    return 2;
  }
  struct stat st;
  if (stat(argv[0], &st)) {
    fprintf(stderr, "memscope: %s: %s\n", argv[0], strerror(errno));
    return 2;
  }
  cJSON *sum = NULL;
  if (S_ISDIR(st.st_mode)) {
    char *run = pick_run(argv[0], 0);
    sum = run ? analyze(c, run) : NULL;
    free(run);
  } else {
    sum = load_json(argv[0]);
  }
  if (!sum)
    return 2;
  int rc = print_sum(c, sum);
  cJSON_Delete(sum);
  return rc;
}

/* libmemscope.so: --lib, $MEMSCOPE_LIB, then beside this program (the build tree's
 * ../tracker, an install's ../lib, the same directory). */
static int find_lib(const cli_t *c, char *out, size_t n) {
  const char *given = c->lib ? c->lib : getenv("MEMSCOPE_LIB");
  if (given && *given) {
    if (access(given, R_OK)) {
      fprintf(stderr, "memscope: tracker library %s: %s (give libmemscope.so with --lib)\n",
              given, strerror(errno));
      return -1;
    }
    snprintf(out, n, "%s", given);
    return 0;
  }
  char exe[PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (k > 0) {
    exe[k] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
      *slash = 0;
    const char *rel[] = {"../tracker/libmemscope.so", "../lib/libmemscope.so", "libmemscope.so"};
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
      /* a path cut short would name another file: skip it */
      if ((size_t)snprintf(out, n, "%s/%s", exe, rel[i]) < n && !access(out, R_OK))
        return 0;
    }
  }
  fprintf(stderr, "memscope: libmemscope.so not found beside memscope (../tracker, ../lib); "
                  "give its path with --lib or $MEMSCOPE_LIB\n");
  return -1;
}

static int cmd_run(cli_t *c, int argc, char **argv) {
  if (argc < 1) {
    fprintf(stderr, "memscope: no PROGRAM to run (see memscope --help)\n");
    return 2;
  }
  char lib[PATH_MAX], outdir[PATH_MAX];
  if (find_lib(c, lib, sizeof lib))
    return 2;
  if (c->output) {
    snprintf(outdir, sizeof outdir, "%s", c->output);
  } else {
    const char *base = strrchr(argv[0], '/');
    snprintf(outdir, sizeof outdir, "memscope.%s.%ld", base ? base + 1 : argv[0],
             (long)getpid());
  }
  /* A fresh directory: an old trace in it would be a second run to choose from. */
  if (mkdir(outdir, 0755)) {
    fprintf(stderr, "memscope: cannot create the trace directory %s: %s%s\n", outdir,
            strerror(errno), errno == EEXIST ? " (give a new one with -o)" : "");
    return 2;
  }
  char *abs = realpath(outdir, NULL);
  if (!abs) {
    fprintf(stderr, "memscope: %s: %s\n", outdir, strerror(errno));
    return 2;
  }
  fprintf(stderr, "memscope: tracing '%s'; trace in %s\n", argv[0], abs);
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "memscope: fork: %s\n", strerror(errno));
    free(abs);
    return 2;
  }
  if (pid == 0) {
    /* The tracker is prepended to any LD_PRELOAD of the caller's. */
    const char *old = getenv("LD_PRELOAD");
    size_t n = strlen(lib) + (old ? strlen(old) : 0) + 2;
    char *pre = malloc(n);
    if (!pre)
      _exit(127);
    snprintf(pre, n, "%s%s%s", lib, old && *old ? ":" : "", old && *old ? old : "");
    if (setenv("LD_PRELOAD", pre, 1) || setenv("MEMSCOPE_OUT", abs, 1))
      _exit(127);
    execvp(argv[0], argv);
    fprintf(stderr, "memscope: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  /* Ctrl-C goes to the program (same process group); memscope still reports what it did. */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  int prog_rc = WIFEXITED(status) ? WEXITSTATUS(status)
                                  : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 2;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    /* exec failed (the child said why) or the program's own 127: a trace tells which */
    char **dirs = NULL;
    size_t nd = 0;
    if (ms_trace_find_runs(abs, &dirs, &nd, NULL, 0) < 0) {
      free(abs);
      return 2;
    }
    ms_trace_free_dirs(dirs, nd);
  }
  if (WIFSIGNALED(status))
    fprintf(stderr, "memscope: the program was ended by signal %d\n", WTERMSIG(status));
  char *run = pick_run(abs, (long)pid);
  cJSON *sum = run ? analyze(c, run) : NULL;
  free(run);
  if (!sum) {
    free(abs);
    return 2;
  }
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/summary.json", abs);
  int wrc = ms_write_json_file(path, sum);
  if (wrc)
    fprintf(stderr, "memscope: cannot write %s: %s\n", path, strerror(-wrc));
  int rc = print_sum(c, sum);
  cJSON_Delete(sum);
  if (!wrc)
    fprintf(stderr, "memscope: print it again with: memscope print %s\n", path);
  free(abs);
  return rc ? 2 : wrc ? 2 : prog_rc;
}

int main(int argc, char **argv) {
  cli_t c = {.rep = {.limit = 10, .stack_depth = 12, .stacks_per_site = 3}};
  const cmd_t *cmd = &commands[0];
  int skip = 0;
  for (size_t i = 0; argc > 1 && i < sizeof commands / sizeof *commands; i++)
    if (!strcmp(argv[1], commands[i].name)) {
      cmd = &commands[i];
      skip = 1;
      c.explicit_cmd = 1;
    }
  int first = parse(&c, cmd, argc - skip, argv + skip);
  if (first == -2)
    return 0;
  if (first < 0)
    return 2;
  return cmd->handler(&c, argc - skip - first, argv + skip + first);
}
