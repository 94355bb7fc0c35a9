/* ms_hmap.c: the uint64_t-keyed open-addressing hash map (see ms_hmap.h for the design);
 * the out-of-line part: setup, growth, the out-of-band key, iteration. */
#include "ms_hmap.h"

#include <stdlib.h>
#include <string.h>

void ms__hmap_init(ms_hmap_t *m, size_t val_size) {
  memset(m, 0, sizeof *m);
  m->val_size = val_size;
  m->vstride = (val_size + 7) / 8 * 8;
  if (!m->vstride)
    m->vstride = 8;
}

void ms__hmap_destroy(ms_hmap_t *m) {
  free(m->keys);
  free(m->vals);
  ms__hmap_init(m, m->val_size);
}

void ms__hmap_clear(ms_hmap_t *m) {
  for (size_t i = 0; i < m->cap; i++)
    m->keys[i] = MS__HMAP_EMPTY;
  m->has_empty_key = 0;
  m->count = 0;
}

int ms__hmap_grow(ms_hmap_t *m) {
  size_t ncap = m->cap ? m->cap * 2 : 16;
  if (ncap > SIZE_MAX / 2 / m->vstride)
    return -1;
  ms_hmap_t n = *m;
  n.keys = malloc(ncap * sizeof *n.keys);
  n.vals = malloc((ncap + 1) * m->vstride);
  if (!n.keys || !n.vals) {
    free(n.keys);
    free(n.vals);
    return -1;
  }
  n.cap = ncap;
  for (size_t i = 0; i < ncap; i++)
    n.keys[i] = MS__HMAP_EMPTY;
  for (size_t i = 0; i < m->cap; i++) {
    if (m->keys[i] == MS__HMAP_EMPTY)
      continue;
    int found;
    size_t j = ms__hmap_find(&n, m->keys[i], &found);
    n.keys[j] = m->keys[i];
    memcpy(ms__hmap_val(&n, j), ms__hmap_val(m, i), m->vstride);
  }
  if (m->has_empty_key)
    memcpy(ms__hmap_val(&n, ncap), ms__hmap_val(m, m->cap), m->vstride);
  free(m->keys);
  free(m->vals);
  *m = n;
  return 0;
}

void *ms__hmap_put_empty_key(ms_hmap_t *m, int *existed) {
  if (!m->cap && ms__hmap_grow(m) < 0)
    return NULL;
  unsigned char *v = ms__hmap_val(m, m->cap);
  if (existed)
    *existed = m->has_empty_key;
  if (!m->has_empty_key) {
    memset(v, 0, m->vstride);
    m->has_empty_key = 1;
    m->count++;
  }
  return v;
}

int ms__hmap_del_empty_key(ms_hmap_t *m, void *out) {
  if (!m->has_empty_key)
    return 0;
  if (out)
    memcpy(out, ms__hmap_val(m, m->cap), m->vstride);
  m->has_empty_key = 0;
  m->count--;
  return 1;
}

int ms__hmap_next(const ms_hmap_t *m, size_t *pos, uint64_t *key, void **val) {
  for (size_t i = *pos; i < m->cap; i++) {
    if (m->keys[i] != MS__HMAP_EMPTY) {
      *pos = i + 1;
      if (key)
        *key = m->keys[i];
      if (val)
        *val = ms__hmap_val(m, i);
      return 1;
    }
  }
  if (*pos <= m->cap && m->has_empty_key) {
    *pos = m->cap + 1;
    if (key)
      *key = MS__HMAP_EMPTY;
    if (val)
      *val = ms__hmap_val(m, m->cap);
    return 1;
  }
  *pos = m->cap + 1;
  return 0;
}

int ms__grow(void *arrp, size_t *cap, size_t n, size_t elem_size, size_t first) {
  if (n < *cap)
    return 0;
  size_t ncap = *cap ? *cap * 2 : first;
  if (ncap > SIZE_MAX / elem_size)
    return -1;
  void *arr;
  memcpy(&arr, arrp, sizeof arr); /* arrp points at a T *, whatever T is */
  void *grown = realloc(arr, ncap * elem_size);
  if (!grown)
    return -1;
  memcpy(arrp, &grown, sizeof grown);
  *cap = ncap;
  return 0;
}
