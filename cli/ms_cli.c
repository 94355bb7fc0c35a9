/* ms_cli.c: the option and command tables of memscope's programs over getopt_long (ms_cli.h).
 *
 * getopt_long runs in its "return in order" mode ("-" first in the short options): positional
 * arguments come back where they stand, so "scenario NAME --out DIR" and "scenario --out DIR
 * NAME" mean the same, argv is never permuted, and "--" ends the options whatever follows it
 * (run's PROGRAM ARGS). Its own messages are off (a leading ':'): every refusal is our one
 * line, naming the command and where its options are described. */
#define _GNU_SOURCE
#include "ms_cli.h"

#include <stdarg.h>
#include <string.h>

/* The options every command takes (keys far above any program's). */
enum { K_HELP = 0x7fff0001, K_VERSION, K_LIST_OPTIONS };

static const ms_cli_opt_t *find_opt(const ms_cli_prog_t *p, int key) {
  for (const ms_cli_opt_t *o = p->opts; o && o->key; o++)
    if (o->key == key) return o;
  return NULL;
}

const ms_cli_cmd_t *ms_cli_find(const ms_cli_prog_t *prog, const char *name) {
  for (size_t i = 0; i < prog->ncmds; i++)
    if (prog->cmds[i].name && name && !strcmp(prog->cmds[i].name, name)) return &prog->cmds[i];
  return NULL;
}

void ms_cli_version(const ms_cli_prog_t *prog) { printf("%s %s\n", prog->name, MEMSCOPE_VERSION); }

void ms_cli_begin(ms_cli_t *it, const ms_cli_prog_t *prog, const ms_cli_cmd_t *cmd, int argc,
                  char **argv) {
  memset(it, 0, sizeof *it);
  it->prog = prog;
  it->cmd = cmd;
  it->argc = argc;
  it->argv = argv;
  it->rest = -1;
  it->next = 1;
  if (cmd && cmd->name) snprintf(it->prefix, sizeof it->prefix, "%s %s", prog->name, cmd->name);
  else snprintf(it->prefix, sizeof it->prefix, "%s", prog->name);
  size_t n = 0;
  for (const ms_cli_use_t *u = cmd ? cmd->options : NULL; u && u->key && n < MS_CLI_MAX_OPTS; u++) {
    const ms_cli_opt_t *o = find_opt(prog, u->key);
    if (!o) continue; /* a table error; ms_cli_test-style checks catch it in the tests */
    it->longs[n++] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL, o->key};
  }
  it->longs[n++] = (struct option){"help", no_argument, NULL, K_HELP};
  it->longs[n++] = (struct option){"version", no_argument, NULL, K_VERSION};
  it->longs[n++] = (struct option){"list-options", no_argument, NULL, K_LIST_OPTIONS};
  it->longs[n] = (struct option){NULL, 0, NULL, 0};
  opterr = 0;
  optind = 0; /* 0, not 1: glibc then resets all of its state (a second parse starts afresh) */
}

int ms_cli_error(const ms_cli_t *it, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", it->prefix);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return MS_CLI_EXIT_USAGE;
}

/* "--name" of the element argv[i] as written, without "=value". */
static void written_name(const ms_cli_t *it, int i, char *buf, size_t len) {
  const char *a = i > 0 && i < it->argc ? it->argv[i] : "?";
  size_t l = strcspn(a, "=");
  snprintf(buf, len, "%.*s", (int)(l < 200 ? l : 200), a);
}

static const struct option *long_of(const ms_cli_t *it, int key) {
  for (const struct option *o = it->longs; o->name; o++)
    if (o->val == key) return o;
  return NULL;
}

/* Whether the element as written names option o in full. getopt_long also takes unique
 * abbreviations; memscope does not: "scenario --time" would silently be --timeout, and a
 * script's abbreviation would change meaning the day a new option shares its prefix. */
static int written_in_full(const char *written, const struct option *o) {
  return o && !strncmp(written, "--", 2) && !strcmp(written + 2, o->name);
}

static void list_options(const ms_cli_t *it) {
  for (const struct option *o = it->longs; o->name; o++) {
    const ms_cli_opt_t *d = find_opt(it->prog, o->val);
    if (o->val == K_LIST_OPTIONS || (d && !d->help)) continue; /* hidden */
    printf("--%s%s%s\n", o->name, d && d->arg ? " " : "", d && d->arg ? d->arg : "");
  }
}

int ms_cli_next(ms_cli_t *it) {
  it->arg = NULL;
  it->opt = NULL;
  int at = it->next; /* the element getopt looks at now */
  int c = getopt_long(it->argc, it->argv, "-:h", it->longs, NULL);
  char name[256];
  if (c == -1) {
    /* After "--" getopt skips it: optind is then one past it. */
    if (optind == at + 1 && at < it->argc && !strcmp(it->argv[at], "--")) it->rest = optind;
    return MS_CLI_END;
  }
  it->next = optind;
  written_name(it, at, name, sizeof name);
  if (c == 'h' || c == 1 || c == ':' || c == '?') {
    /* no abbreviation to check: a short -h, a positional argument, or a refusal below */
  } else if (!written_in_full(name, long_of(it, c))) {
    ms_cli_error(it, "unknown option %s (see %s --help)", name, it->prefix);
    return MS_CLI_ERROR;
  }
  switch (c) {
  case 1:
    it->arg = optarg;
    return MS_CLI_POS;
  case 'h':
  case K_HELP:
    ms_cli_help(it->prog, it->cmd, stdout);
    return MS_CLI_DONE;
  case K_VERSION:
    ms_cli_version(it->prog);
    return MS_CLI_DONE;
  case K_LIST_OPTIONS:
    list_options(it);
    return MS_CLI_DONE;
  case ':': {
    const struct option *o = long_of(it, optopt);
    if (written_in_full(name, o))
      ms_cli_error(it, "option %s needs a value (see %s --help)", name, it->prefix);
    else
      ms_cli_error(it, "unknown option %s (see %s --help)", name, it->prefix);
    return MS_CLI_ERROR;
  }
  case '?': {
    const struct option *o = optopt > 255 ? long_of(it, optopt) : NULL;
    if (o && written_in_full(name, o)) /* a flag given a value: --html=1 */
      ms_cli_error(it, "option %s takes no value (see %s --help)", name, it->prefix);
    else if (optopt > 0 && optopt < 256) /* an unknown short option: in -xyz, name -x only */
      ms_cli_error(it, "unknown option -%c (see %s --help)", optopt, it->prefix);
    else
      ms_cli_error(it, "unknown option %s (see %s --help)", name, it->prefix);
    return MS_CLI_ERROR;
  }
  default: {
    const struct option *o = long_of(it, c);
    snprintf(it->optname, sizeof it->optname, "--%s", o ? o->name : "?");
    it->opt = it->optname;
    it->arg = optarg;
    return c;
  }
  }
}

/* "  --name ARG" then the help text at column 28, continuation lines aligned under it. */
static void print_option(FILE *f, const ms_cli_opt_t *o, const char *help) {
  char head[128];
  snprintf(head, sizeof head, "  --%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
  size_t l = strlen(head);
  fprintf(f, "%s%*s", head, l + 2 <= 28 ? (int)(28 - l) : 2, "");
  for (const char *p = help; *p;) {
    size_t n = strcspn(p, "\n");
    fprintf(f, "%.*s\n", (int)n, p);
    p += n;
    if (*p == '\n' && *++p) fprintf(f, "%28s", "");
  }
}

void ms_cli_help(const ms_cli_prog_t *prog, const ms_cli_cmd_t *cmd, FILE *f) {
  if (!cmd) {
    fprintf(f, "usage: %s COMMAND [options]\n\n", prog->name);
    for (size_t i = 0; i < prog->ncmds; i++) {
      const ms_cli_cmd_t *c = &prog->cmds[i];
      char head[160];
      snprintf(head, sizeof head, "  %s %s", c->name, c->usage ? c->usage : "");
      size_t l = strlen(head);
      if (l + 2 > 44) /* a long usage: the summary on a line of its own */
        fprintf(f, "%s\n%44s%s\n", head, "", c->summary ? c->summary : "");
      else
        fprintf(f, "%s%*s%s\n", head, (int)(44 - l), "", c->summary ? c->summary : "");
    }
    fprintf(f, "\n  --help                    this text (COMMAND --help: the command's)\n"
               "  --version                 the version\n");
    if (prog->help) fprintf(f, "\n%s", prog->help);
    return;
  }
  fprintf(f, "usage: %s%s%s %s\n", prog->name, cmd->name ? " " : "", cmd->name ? cmd->name : "",
          cmd->usage ? cmd->usage : "");
  if (cmd->help) fputs(cmd->help, f);
  fputs("Options:\n", f);
  for (const ms_cli_use_t *u = cmd->options; u && u->key; u++) {
    const ms_cli_opt_t *o = find_opt(prog, u->key);
    if (o && o->help) print_option(f, o, u->help ? u->help : o->help);
  }
  static const ms_cli_opt_t help = {K_HELP, "help", NULL, NULL};
  static const ms_cli_opt_t version = {K_VERSION, "version", NULL, NULL};
  print_option(f, &help, "this text");
  print_option(f, &version, "the version");
  if (cmd->footer) fputs(cmd->footer, f);
}

int ms_cli_main(const ms_cli_prog_t *prog, int argc, char **argv) {
  if (argc < 2) {
    ms_cli_help(prog, NULL, stdout);
    return MS_CLI_EXIT_USAGE;
  }
  const char *a = argv[1];
  if (!strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "help")) {
    const ms_cli_cmd_t *c = argc > 2 ? ms_cli_find(prog, argv[2]) : NULL;
    if (argc > 2 && !c) {
      fprintf(stderr, "%s: unknown command '%s'; try '%s --help'\n", prog->name, argv[2], prog->name);
      return MS_CLI_EXIT_USAGE;
    }
    ms_cli_help(prog, c, stdout);
    return 0;
  }
  if (!strcmp(a, "--version")) {
    ms_cli_version(prog);
    return 0;
  }
  const ms_cli_cmd_t *c = ms_cli_find(prog, a);
  if (!c) {
    if (a[0] == '-')
      fprintf(stderr, "%s: unknown option %s; give a command first (see %s --help)\n", prog->name, a,
              prog->name);
    else
      fprintf(stderr, "%s: unknown command '%s'; try '%s --help'\n", prog->name, a, prog->name);
    return MS_CLI_EXIT_USAGE;
  }
  return c->handler(argc - 1, argv + 1);
}
