/* ms_hmap.c: the uint64_t-keyed open-addressing hash map (see ms_hmap.h for the design). */
#include "ms_hmap.h"

#include <stdlib.h>
#include <string.h>

/* splitmix64's finalizer: addresses share low zero bits and high prefixes, so they need a
 * real mix before masking. */
static size_t hash_key(uint64_t k) {
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ull;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebull;
  k ^= k >> 31;
  return (size_t)k;
}

void ms__hmap_init(ms_hmap_t *m, size_t val_size) {
  memset(m, 0, sizeof *m);
  m->val_size = val_size;
}

void ms__hmap_destroy(ms_hmap_t *m) {
  free(m->keys);
  free(m->used);
  free(m->vals);
  ms__hmap_init(m, m->val_size);
}

void ms__hmap_clear(ms_hmap_t *m) {
  if (m->cap)
    memset(m->used, 0, m->cap);
  m->count = 0;
}

static size_t find_slot(const ms_hmap_t *m, uint64_t key, int *found) {
  size_t mask = m->cap - 1;
  size_t i = hash_key(key) & mask;
  while (m->used[i]) {
    if (m->keys[i] == key) {
      *found = 1;
      return i;
    }
    i = (i + 1) & mask;
  }
  *found = 0;
  return i;
}

void *ms__hmap_get(const ms_hmap_t *m, uint64_t key) {
  if (!m->count)
    return NULL;
  int found;
  size_t i = find_slot(m, key, &found);
  return found ? m->vals + i * m->val_size : NULL;
}

/* Doubles the table (or makes the first one) and reinserts every key. */
static int grow(ms_hmap_t *m) {
  size_t ncap = m->cap ? m->cap * 2 : 16;
  if (ncap > SIZE_MAX / (m->val_size > 8 ? m->val_size : 8))
    return -1;
  ms_hmap_t n;
  ms__hmap_init(&n, m->val_size);
  n.keys = malloc(ncap * sizeof *n.keys);
  n.used = calloc(ncap, 1);
  n.vals = malloc(ncap * m->val_size);
  if (!n.keys || !n.used || !n.vals) {
    free(n.keys);
    free(n.used);
    free(n.vals);
    return -1;
  }
  n.cap = ncap;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->used[i])
      continue;
    int found;
    size_t j = find_slot(&n, m->keys[i], &found);
    n.used[j] = 1;
    n.keys[j] = m->keys[i];
    memcpy(n.vals + j * n.val_size, m->vals + i * m->val_size, m->val_size);
  }
  n.count = m->count;
  free(m->keys);
  free(m->used);
  free(m->vals);
  *m = n;
  return 0;
}

void *ms__hmap_put(ms_hmap_t *m, uint64_t key, int *existed) {
  int found = 0;
  size_t i = 0;
  if (m->cap) {
    i = find_slot(m, key, &found);
    if (found) {
      if (existed)
        *existed = 1;
      return m->vals + i * m->val_size;
    }
  }
  if ((m->count + 1) * 2 > m->cap) {
    if (grow(m) < 0)
      return NULL;
    i = find_slot(m, key, &found);
  }
  m->used[i] = 1;
  m->keys[i] = key;
  memset(m->vals + i * m->val_size, 0, m->val_size);
  m->count++;
  if (existed)
    *existed = 0;
  return m->vals + i * m->val_size;
}

int ms__hmap_del(ms_hmap_t *m, uint64_t key, void *out) {
  if (!m->count)
    return 0;
  int found;
  size_t i = find_slot(m, key, &found);
  if (!found)
    return 0;
  if (out)
    memcpy(out, m->vals + i * m->val_size, m->val_size);
  /* Backward-shift deletion: pull later members of the probe chain into the hole when
   * their home slot does not lie cyclically in (hole, j]. */
  size_t mask = m->cap - 1;
  size_t hole = i;
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->used[j])
      break;
    size_t home = hash_key(m->keys[j]) & mask;
    int home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (home_in_range)
      continue;
    m->keys[hole] = m->keys[j];
    memcpy(m->vals + hole * m->val_size, m->vals + j * m->val_size, m->val_size);
    hole = j;
  }
  m->used[hole] = 0;
  m->count--;
  return 1;
}

int ms__hmap_next(const ms_hmap_t *m, size_t *pos, uint64_t *key, void **val) {
  for (size_t i = *pos; i < m->cap; i++) {
    if (m->used[i]) {
      *pos = i + 1;
      if (key)
        *key = m->keys[i];
      if (val)
        *val = m->vals + i * m->val_size;
      return 1;
    }
  }
  *pos = m->cap;
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
