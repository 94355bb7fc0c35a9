/* hs_shim.c: the few harness functions that the harness files a fuzz target compiles (hs_units.c,
 * hs_overhead.c, hs_cli.c, with hs_util.c as it is) call but that live in files that run
 * children or hold main() (hs_child.c, main.c, hs_fuzz.c).
 *
 * The child and progress functions are only reached by hs_overhead_measure, which no target
 * calls: they fail or do nothing. The command handlers are only named by hs_cli.c's command
 * table, which the parser never calls through: each says so and fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hs.h"

void hs_progress(const char *fmt, ...) { (void)fmt; }

void hs_progress_clear(void) {}

int hs_child_run(const hs_child_spec_t *spec, hs_child_result_t *res) {
  (void)spec;
  memset(res, 0, sizeof *res);
  return -ENOSYS;
}

void hs_child_result_free(hs_child_result_t *res) { (void)res; }

static int no_command(int argc, char **argv) {
  (void)argc;
  fprintf(stderr, "hs_shim: command %s is not part of this fuzz target\n", argv[0]);
  return HS_EXIT_USAGE;
}

int hs_cmd_list(int argc, char **argv) { return no_command(argc, argv); }
int hs_cmd_scenario(int argc, char **argv) { return no_command(argc, argv); }
int hs_cmd_all(int argc, char **argv) { return no_command(argc, argv); }
int hs_cmd_run(int argc, char **argv) { return no_command(argc, argv); }
int hs_cmd_report(int argc, char **argv) { return no_command(argc, argv); }
int hs_cmd_gate(int argc, char **argv) { return no_command(argc, argv); }
int hs_fuzz_main(int argc, char **argv) { return no_command(argc, argv); }
