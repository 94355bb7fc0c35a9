/* ms_cli.h: the command-line layer shared by memscope's programs: an option table, a command
 * table ({name, handler, options, help}) and glibc's getopt_long under both, so that every
 * program parses, explains and refuses its options the same way (STYLE 13).
 *
 * A program describes each option once (ms_cli_opt_t: key, long name, value placeholder,
 * help); each command lists the keys it takes (ms_cli_use_t, with its own help text where
 * the option means something else there). --help prints exactly those options, --version
 * the program and the project's version, and the hidden --list-options one line per option
 * (for the tests). Long options are taken by their full names only (no abbreviations).
 * Anything else is refused with one line and exit status 2:
 *   memscope-harness report: unknown option --repeat (see memscope-harness report --help)
 * Needs only libc: the scenarios link it too, and parse before their measured part. */
#ifndef MEMSCOPE_MS_CLI_H
#define MEMSCOPE_MS_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#ifndef MEMSCOPE_VERSION
#error "MEMSCOPE_VERSION must come from CMake (project(VERSION), a compile definition)"
#endif

/* Exit status of a usage error (every program: 2). */
#define MS_CLI_EXIT_USAGE 2
/* Most options a command may take. */
#define MS_CLI_MAX_OPTS 64

/* What ms_cli_next returns besides an option's key (keys are > 1). */
enum {
  MS_CLI_END = 0,    /* no more options: the rest (after "--", if any) is it->rest */
  MS_CLI_POS = 1,    /* a positional argument, in it->arg */
  MS_CLI_DONE = -1,  /* --help, --version or --list-options was printed: exit 0 */
  MS_CLI_ERROR = -2, /* one line was printed on stderr: exit MS_CLI_EXIT_USAGE */
};

/* One option of a program. */
typedef struct ms_cli_opt_s {
  int key;          /* what ms_cli_next returns for it: > 1, unique in the program */
  const char *name; /* long name without the dashes: "max-leak-bytes" */
  const char *arg;  /* its value's placeholder ("SIZE"), NULL for a flag */
  const char *help; /* text for --help; '\n' starts a continuation line; NULL: hidden */
} ms_cli_opt_t;

/* One option as a command takes it; help NULL: the option's own text. */
typedef struct ms_cli_use_s {
  int key; /* 0 ends a list */
  const char *help;
} ms_cli_use_t;

/* One command: a row of the command table. */
typedef struct ms_cli_cmd_s {
  const char *name;                 /* NULL: the program's only command */
  int (*handler)(int argc, char **argv); /* argv[0] is the command (or the program) */
  const ms_cli_use_t *options;      /* the options it takes, key 0 ends */
  const char *usage;                /* after "usage: PROG [NAME] ": "TRACE_DIR [options]" */
  const char *summary;              /* one line in the program's --help */
  const char *help;                 /* paragraph(s) between usage and the options */
  const char *footer;               /* after the options (value syntax, exit status) */
} ms_cli_cmd_t;

typedef struct ms_cli_prog_s {
  const char *name;           /* "memscope-harness" */
  const ms_cli_opt_t *opts;   /* every option of the program, key 0 ends */
  const ms_cli_cmd_t *cmds;   /* the command table */
  size_t ncmds;
  const char *help;           /* after the command list in the program's --help */
} ms_cli_prog_t;

/* The state of one parse (a getopt_long loop over one command's options). */
typedef struct ms_cli_s {
  const ms_cli_prog_t *prog;
  const ms_cli_cmd_t *cmd;
  int argc;
  char **argv;      /* argv[0] is the command (or the program) */
  const char *arg;  /* the value of the option just returned, or the positional argument */
  const char *opt;  /* the option just returned as written ("--out"), for messages */
  int rest;         /* after MS_CLI_END: index in argv of the first argument after "--",
                       or -1 when there was no "--" */
  int next;         /* internal: optind after the last element returned */
  struct option longs[MS_CLI_MAX_OPTS + 4];
  char prefix[96];  /* "memscope-harness report" */
  char optname[80]; /* internal: what opt points to */
} ms_cli_t;

/* Starts parsing argv[1..argc-1] (argv[0]: the command's name) with cmd's options, in order:
 * options and positional arguments come back one by one, "--" ends the options. Resets
 * getopt's state, so a program (or a fuzz target) may parse several times. */
void ms_cli_begin(ms_cli_t *it, const ms_cli_prog_t *prog, const ms_cli_cmd_t *cmd, int argc,
                  char **argv);
/* The next option's key (its value in it->arg), MS_CLI_POS, MS_CLI_END, MS_CLI_DONE or
 * MS_CLI_ERROR (see above). */
int ms_cli_next(ms_cli_t *it);
/* One line "PROG [CMD]: MESSAGE" on stderr; returns MS_CLI_EXIT_USAGE. */
int ms_cli_error(const ms_cli_t *it, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The help of a command (cmd NULL: the program's, with its command list). */
void ms_cli_help(const ms_cli_prog_t *prog, const ms_cli_cmd_t *cmd, FILE *f);
/* "PROG VERSION" on stdout. */
void ms_cli_version(const ms_cli_prog_t *prog);
/* The command named `name`, or NULL. */
const ms_cli_cmd_t *ms_cli_find(const ms_cli_prog_t *prog, const char *name);
/* main() of a program with commands: PROG --help | --version | help [CMD] | CMD ARGS...;
 * runs the command's handler with argv + 1. Returns the exit status. */
int ms_cli_main(const ms_cli_prog_t *prog, int argc, char **argv);

#endif /* MEMSCOPE_MS_CLI_H */
