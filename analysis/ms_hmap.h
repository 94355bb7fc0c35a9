/* ms_hmap.h: internal open-addressing hash map from uint64_t keys to fixed-size values.
 *
 * Written by hand (STYLE 9) because the live-block and stack tables need exactly this and no
 * C library the project already uses offers one: linear probing, power-of-two capacity, at
 * most 50 % full, backward-shift deletion (no tombstones, so probe chains never rot). Every
 * key is allowed, 0 included (slots carry their own "used" byte). Not thread-safe. */
#ifndef MS_HMAP_H
#define MS_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_hmap_s {
  uint64_t *keys;
  uint8_t *used;       /* 1 where keys[i] holds a key */
  unsigned char *vals; /* cap * val_size bytes */
  size_t val_size;
  size_t cap;          /* 0 or a power of two */
  size_t count;
} ms_hmap_t;

/* ---- ms_hmap.c ---- */
void ms__hmap_init(ms_hmap_t *m, size_t val_size);
void ms__hmap_destroy(ms_hmap_t *m);
void ms__hmap_clear(ms_hmap_t *m);
/* The value of key, or NULL. The pointer is valid until the next insert or delete. */
void *ms__hmap_get(const ms_hmap_t *m, uint64_t key);
/* The value slot of key, inserted zero-filled if absent (*existed tells which; may be NULL).
 * NULL when memory runs out. Valid until the next insert or delete. */
void *ms__hmap_put(ms_hmap_t *m, uint64_t key, int *existed);
/* Removes key, copying its value to out (if not NULL). Returns 1 if it was there, else 0. */
int ms__hmap_del(ms_hmap_t *m, uint64_t key, void *out);
/* Iteration: start with *pos = 0; returns 1 with the next key/value, 0 at the end. The map
 * must not change during iteration. */
int ms__hmap_next(const ms_hmap_t *m, size_t *pos, uint64_t *key, void **val);

/* Makes room for element n of the array *arrp (capacity *cap, elements of elem_size bytes),
 * doubling from `first`: the one growth rule of analysis/'s arrays. Returns 0, or -1 when
 * out of memory (the array and *cap are left as they were). arrp is a pointer to the array
 * pointer (any element type). */
int ms__grow(void *arrp, size_t *cap, size_t n, size_t elem_size, size_t first);

#endif /* MS_HMAP_H */
