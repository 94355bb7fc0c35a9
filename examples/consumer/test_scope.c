/* test_scope: builds a list of N strings inside memscope_scope_begin/end("build_index"); the
 * tests put a limit on that scope's peak (MAX_SCOPE_PEAK build_index=SIZE). Without the
 * tracker the scope calls do nothing and the program runs the same. Usage: test_scope [N]. */
#include <stdio.h>
#include <stdlib.h>

#include <memscope.h>

#include "strlist.h"

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1000;
  strlist_t *l = strlist_new();
  if (!l) return 1;
  memscope_scope_begin("build_index");
  for (int i = 0; i < n; i++) {
    char buf[64];
    snprintf(buf, sizeof buf, "index entry number %d", i);
    if (strlist_push(l, buf)) return 1;
  }
  memscope_scope_end("build_index");
  strlist_free(l);
  return 0;
}
