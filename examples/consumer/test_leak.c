/* test_leak: strlist_pop loses the string it removes (strlist.c's bug), so the three popped
 * strings leak; memscope reports them at the malloc in strlist_push. */
#include <stdio.h>

#include "strlist.h"

int main(void) {
  strlist_t *l = strlist_new();
  if (!l) return 1;
  const char *words[] = {"alpha", "beta", "gamma", "delta"};
  for (int i = 0; i < 4; i++)
    if (strlist_push(l, words[i])) return 1;
  for (int i = 0; i < 3; i++) strlist_pop(l);
  int ok = strlist_len(l) == 1;
  strlist_free(l);
  return ok ? 0 : 1; /* the program itself succeeds: only memscope sees the leak */
}
