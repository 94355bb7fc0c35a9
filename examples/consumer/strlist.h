/* strlist.h: a growable list of owned strings, the small library of memscope's example
 * consumer project (examples/consumer/README.md). */
#ifndef STRLIST_H
#define STRLIST_H
#include <stddef.h>

typedef struct strlist_s strlist_t;

/* A new empty list, or NULL when out of memory. Free it with strlist_free. */
strlist_t *strlist_new(void);
/* Appends a copy of s. 0, or -1 when out of memory (the list is unchanged). */
int strlist_push(strlist_t *l, const char *s);
/* Removes the last string. 0, or -1 when the list is empty. */
int strlist_pop(strlist_t *l);
size_t strlist_len(const strlist_t *l);
const char *strlist_get(const strlist_t *l, size_t i);
/* Frees the list and every string in it. NULL is allowed. */
void strlist_free(strlist_t *l);
#endif
