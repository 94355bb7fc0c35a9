/* fuzz_clean.c: a fuzz target that frees everything it allocates, for the harness's fuzz test
 * `clean` (tests/harness/fuzz_test.sh): a campaign on it must end with no finding.
 *
 * It still does input-dependent work with the heap (so that AFL++ has paths to find and the
 * oracle has allocations to check): the input's comma-separated fields become a list of
 * copies, sorted by length, joined again, and everything is freed. At most MAX_FIELDS fields
 * of at most MAX_FIELD bytes are kept, so that no input (afl-fuzz makes them up to 1 MB)
 * takes its heap near the test's 1 MB peak limit (it stays below 140 kB) or its time near
 * afl-fuzz's timeout (the insertion sort is quadratic). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FIELDS 64
#define MAX_FIELD 1024

typedef struct field_s {
  struct field_s *next;
  char *text;
  size_t len;
} field_t;

/* noinline: allocations the optimizer could see through might be removed, and the test would
 * check less than it says. */
static __attribute__((noinline)) field_t *field_new(const uint8_t *p, size_t n) {
  field_t *f = malloc(sizeof *f);
  if (!f)
    return NULL;
  f->text = malloc(n + 1);
  if (!f->text) {
    free(f);
    return NULL;
  }
  memcpy(f->text, p, n);
  f->text[n] = '\0';
  f->len = n;
  f->next = NULL;
  return f;
}

/* Insertion by length: short fields first. */
static field_t *insert_sorted(field_t *head, field_t *f) {
  field_t **pp = &head;
  while (*pp && (*pp)->len <= f->len)
    pp = &(*pp)->next;
  f->next = *pp;
  *pp = f;
  return head;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  field_t *list = NULL;
  size_t total = 0, start = 0, nfields = 0;
  for (size_t i = 0; i <= size && nfields < MAX_FIELDS; i++) {
    if (i < size && data[i] != ',')
      continue;
    size_t n = i - start < MAX_FIELD ? i - start : MAX_FIELD;
    field_t *f = field_new(data + start, n);
    nfields++;
    if (f) {
      list = insert_sorted(list, f);
      total += f->len + 1;
    }
    start = i + 1;
  }
  char *joined = malloc(total + 1);
  size_t off = 0;
  for (field_t *f = list; joined && f; f = f->next) {
    memcpy(joined + off, f->text, f->len);
    off += f->len;
    joined[off++] = ';';
  }
  if (joined)
    joined[off] = '\0';
  free(joined);
  while (list) {
    field_t *next = list->next;
    free(list->text);
    free(list);
    list = next;
  }
  return 0;
}
