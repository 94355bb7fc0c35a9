/* test_clean: strlist without strlist_pop frees everything it allocates. */
#include <stdio.h>
#include <string.h>

#include "strlist.h"

int main(void) {
  strlist_t *l = strlist_new();
  if (!l) return 1;
  for (int i = 0; i < 100; i++) {
    char buf[32];
    snprintf(buf, sizeof buf, "item-%d", i);
    if (strlist_push(l, buf)) return 1;
  }
  int ok = strlist_len(l) == 100 && strcmp(strlist_get(l, 42), "item-42") == 0;
  strlist_free(l);
  if (!ok) fprintf(stderr, "test_clean: unexpected list contents\n");
  return ok ? 0 : 1;
}
