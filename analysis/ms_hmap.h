/* ms_hmap.h: internal open-addressing hash map from uint64_t keys to fixed-size values.
 *
 * Written by hand (STYLE 9) because the live-block and stack tables need exactly this and no
 * C library the project already uses offers one: linear probing, power-of-two capacity, at
 * most 50 % full, backward-shift deletion (no tombstones, so probe chains never rot). Not
 * thread-safe.
 *
 * Layout: a key array, probed alone, and a value array read once on a hit. An empty slot holds
 * MS__HMAP_EMPTY, so probing touches 8 bytes a slot: a live table of a few thousand blocks
 * stays in L1, a large one costs one miss for the probe and one for the value. The key equal
 * to MS__HMAP_EMPTY (every key is allowed) lives out of band, in value slot `cap`. get/put/del
 * are inline: the engine's per-event path makes one or two of them and no call for them. */
#ifndef MS_HMAP_H
#define MS_HMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MS__HMAP_EMPTY UINT64_MAX

typedef struct ms_hmap_s {
  uint64_t *keys;       /* cap keys, MS__HMAP_EMPTY where free */
  unsigned char *vals;  /* (cap + 1) * vstride bytes; slot cap: the MS__HMAP_EMPTY key's */
  size_t val_size;      /* as given to init */
  size_t vstride;       /* val_size rounded up to 8 */
  size_t cap;           /* 0 or a power of two */
  size_t count;         /* keys held, the out-of-band one included */
  int has_empty_key;    /* MS__HMAP_EMPTY is a key (value in slot cap) */
} ms_hmap_t;

/* ---- ms_hmap.c ---- */
void ms__hmap_init(ms_hmap_t *m, size_t val_size);
void ms__hmap_destroy(ms_hmap_t *m);
void ms__hmap_clear(ms_hmap_t *m);
/* Doubles the table (or makes the first one). 0, or -1 when out of memory. */
int ms__hmap_grow(ms_hmap_t *m);
/* Iteration: start with *pos = 0; returns 1 with the next key/value, 0 at the end. The map
 * must not change during iteration. */
int ms__hmap_next(const ms_hmap_t *m, size_t *pos, uint64_t *key, void **val);

/* Makes room for element n of the array *arrp (capacity *cap, elements of elem_size bytes),
 * doubling from `first`: the one growth rule of analysis/'s arrays. Returns 0, or -1 when
 * out of memory (the array and *cap are left as they were). arrp is a pointer to the array
 * pointer (any element type). */
int ms__grow(void *arrp, size_t *cap, size_t n, size_t elem_size, size_t first);

/* ---- inline part ---- */

/* splitmix64's finalizer: addresses share low zero bits and high prefixes, so they need a
 * real mix before masking. */
static inline size_t ms__hmap_hash(uint64_t k) {
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ull;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebull;
  k ^= k >> 31;
  return (size_t)k;
}

static inline unsigned char *ms__hmap_val(const ms_hmap_t *m, size_t i) {
  return m->vals + i * m->vstride;
}

/* Index of key's slot, or of the empty slot ending its probe chain (*found 0). cap > 0 and
 * key != MS__HMAP_EMPTY. */
static inline size_t ms__hmap_find(const ms_hmap_t *m, uint64_t key, int *found) {
  size_t mask = m->cap - 1;
  size_t i = ms__hmap_hash(key) & mask;
  for (;;) {
    uint64_t k = m->keys[i];
    if (k == key) {
      *found = 1;
      return i;
    }
    if (k == MS__HMAP_EMPTY) {
      *found = 0;
      return i;
    }
    i = (i + 1) & mask;
  }
}

/* Copies value words (sizes are multiples of 8). */
static inline void ms__hmap_copy_words(unsigned char *dst, const unsigned char *src, size_t n) {
  for (size_t w = 0; w < n; w += 8)
    memcpy(dst + w, src + w, 8);
}

/* Out of line: the MS__HMAP_EMPTY key's cases, and growth. */
/* ms__hmap_copy_words for a value leaving the table (ms__hmap_del's out): the common sizes
 * as straight 8-byte moves. The loop, vectorized for any length, cost ~40 instructions on a
 * 40-byte block, and a libc memcpy's vector stores stalled the caller's loads that follow. */
static inline void ms__hmap_copy_out(unsigned char *dst, const unsigned char *src, size_t n) {
  switch (n >> 3) {
  case 8: memcpy(dst + 56, src + 56, 8); /* fall through */
  case 7: memcpy(dst + 48, src + 48, 8); /* fall through */
  case 6: memcpy(dst + 40, src + 40, 8); /* fall through */
  case 5: memcpy(dst + 32, src + 32, 8); /* fall through */
  case 4: memcpy(dst + 24, src + 24, 8); /* fall through */
  case 3: memcpy(dst + 16, src + 16, 8); /* fall through */
  case 2: memcpy(dst + 8, src + 8, 8);   /* fall through */
  case 1: memcpy(dst, src, 8);           /* fall through */
  case 0: return;
  default: ms__hmap_copy_words(dst, src, n);
  }
}

void *ms__hmap_put_empty_key(ms_hmap_t *m, int *existed);
int ms__hmap_del_empty_key(ms_hmap_t *m, void *out);

/* The value of key, or NULL. The pointer is valid until the next insert or delete. */
static inline void *ms__hmap_get(const ms_hmap_t *m, uint64_t key) {
  if (!m->count)
    return NULL;
  if (__builtin_expect(key == MS__HMAP_EMPTY, 0))
    return m->has_empty_key ? ms__hmap_val(m, m->cap) : NULL;
  int found;
  size_t i = ms__hmap_find(m, key, &found);
  return found ? ms__hmap_val(m, i) : NULL;
}

/* ms__hmap_put without the zero fill: a new value's bytes are undefined. */
static inline void *ms__hmap_put_raw(ms_hmap_t *m, uint64_t key, int *existed) {
  if (__builtin_expect(key == MS__HMAP_EMPTY, 0))
    return ms__hmap_put_empty_key(m, existed);
  int found = 0;
  size_t i = 0;
  if (m->cap) {
    i = ms__hmap_find(m, key, &found);
    if (found) {
      *existed = 1;
      return ms__hmap_val(m, i);
    }
  }
  if ((m->count + 1) * 2 > m->cap) {
    if (ms__hmap_grow(m) < 0)
      return NULL;
    i = ms__hmap_find(m, key, &found);
  }
  m->keys[i] = key;
  m->count++;
  *existed = 0;
  return ms__hmap_val(m, i);
}

/* The value slot of key, inserted zero-filled if absent (*existed tells which; may be NULL).
 * NULL when memory runs out. Valid until the next insert or delete. */
static inline void *ms__hmap_put(ms_hmap_t *m, uint64_t key, int *existed) {
  int ex;
  uint64_t *v = ms__hmap_put_raw(m, key, &ex);
  if (v && !ex)
    for (size_t w = 0; w < m->vstride / 8; w++)
      v[w] = 0;
  if (existed)
    *existed = ex;
  return v;
}

/* Removes key, copying its value to out (if not NULL; val_size bytes rounded up to 8, so
 * `out` must have that room). Returns 1 if it was there, else 0. */
static inline int ms__hmap_del(ms_hmap_t *m, uint64_t key, void *out) {
  if (!m->count)
    return 0;
  if (__builtin_expect(key == MS__HMAP_EMPTY, 0))
    return ms__hmap_del_empty_key(m, out);
  int found;
  size_t i = ms__hmap_find(m, key, &found);
  if (!found)
    return 0;
  /* Word by word, inline: the caller reads the copy's fields at once, and a libc memcpy of
   * a runtime length (vector stores) made each of those loads wait for the stores to drain
   * (a failed store-to-load forward, the costliest instruction of the engine's free path). */
  if (out) {
    /* GCC can't see vstride bounded by the caller's buffer (val_size rounded to 8, the
     * contract above) and flags the copy's longer cases for a caller's 8-byte `out`: a false
     * positive (the switch takes the case of this table's vstride only). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
    ms__hmap_copy_out(out, ms__hmap_val(m, i), m->vstride);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  }
  /* Backward-shift deletion: pull later members of the probe chain into the hole when
   * their home slot does not lie cyclically in (hole, j]. */
  size_t mask = m->cap - 1;
  size_t hole = i;
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    uint64_t kj = m->keys[j];
    if (kj == MS__HMAP_EMPTY)
      break;
    size_t home = ms__hmap_hash(kj) & mask;
    int home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (home_in_range)
      continue;
    m->keys[hole] = kj;
    ms__hmap_copy_words(ms__hmap_val(m, hole), ms__hmap_val(m, j), m->vstride);
    hole = j;
  }
  m->keys[hole] = MS__HMAP_EMPTY;
  m->count--;
  return 1;
}

#endif /* MS_HMAP_H */
