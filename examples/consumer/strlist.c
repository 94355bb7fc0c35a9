/* strlist.c: the example library. strlist_pop has a real bug on purpose: it forgets the
 * string it removes, which test_leak shows memscope catching (at the malloc in strlist_push). */
#include "strlist.h"

#include <stdlib.h>
#include <string.h>

struct strlist_s {
  char **items;
  size_t len, cap;
};

strlist_t *strlist_new(void) { return calloc(1, sizeof(strlist_t)); }

int strlist_push(strlist_t *l, const char *s) {
  if (l->len == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    char **items = realloc(l->items, cap * sizeof *items);
    if (!items) return -1;
    l->items = items;
    l->cap = cap;
  }
  size_t n = strlen(s) + 1;
  char *copy = malloc(n); /* example: the leaked block's allocation site */
  if (!copy) return -1;
  memcpy(copy, s, n);
  l->items[l->len++] = copy;
  return 0;
}

int strlist_pop(strlist_t *l) {
  if (l->len == 0) return -1;
  l->len--; /* BUG (on purpose): l->items[l->len] is never freed */
  return 0;
}

size_t strlist_len(const strlist_t *l) { return l->len; }

const char *strlist_get(const strlist_t *l, size_t i) { return i < l->len ? l->items[i] : NULL; }

void strlist_free(strlist_t *l) {
  if (!l) return;
  for (size_t i = 0; i < l->len; i++) free(l->items[i]);
  free(l->items);
  free(l);
}
