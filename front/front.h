/* front.h: internal: the `memscope` front command (memscope_main.c) and its text report
 * (front_report.c), heaptrack_print's sections from a summary.json tree. */
#ifndef MS_FRONT_H
#define MS_FRONT_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

typedef struct fr_opts_s {
  size_t limit;          /* sites listed per section (-n) */
  size_t stack_depth;    /* frames shown per stack, 0 = all */
  size_t stacks_per_site;/* call stacks listed under a site */
  int no_leaks;          /* leave out the leaks section */
  const char *filter;    /* only stacks with a frame whose function contains this, or NULL */
} fr_opts_t;

/* Prints the report of one summary.json tree (schema memscope.summary/1) to out. Strings from
 * the trace are printed with control characters shown as '?'. 0, or -1 with one line on err
 * when the tree is not a summary or memory runs out. */
int fr_print_report(FILE *out, FILE *err, const cJSON *summary, const fr_opts_t *o);

#endif /* MS_FRONT_H */
