/* ms_decode.h: the per-record decoder of thread files, format versions 1 and 2
 * (docs/trace-format.md). Private to the reader: ms_trace.c includes it once; everything is
 * static inline so that the merge's window refill and the open-time scan inline it. */
#ifndef MS_DECODE_H
#define MS_DECODE_H

#include <stdint.h>
#include <string.h>

#include "ms_format.h"
#include "ms_trace.h"

/* ---- record decoding ----------------------------------------------------------------------- */

/* What a record carries beyond its ms_event_t fields: its strings (in the payload, not NUL-terminated) and,
 * for a STACK, its frame counts. */
typedef struct rec_extra_s {
  const uint8_t *str[3]; /* MARK: name; VAR: name, type, file */
  uint64_t str_len[3];
  uint64_t nframes; /* STACK: frames in the record */
  uint32_t nkept;   /* STACK: frames stored in the caller's buffer */
} rec_extra_t;

/* A chunk's decoding state: v1's deltas, and version 2's recency ring and stack list
 * (docs/trace-format.md, 3.5), all reset at every chunk (delta_init). */
typedef struct delta_s {
  uint64_t prev_ts, prev_addr;
  uint32_t v2;     /* the file is format version 2 */
  uint32_t nalloc; /* v2: allocations so far in the chunk */
  uint64_t stk[MS_V2_NSTACKS];
  uint64_t rstk[MS_V2_NSTACKS]; /* v2: compact REALLOCs' stack list */
  uint32_t last;               /* v2: the last timed record: 0 FREE, 1 ALLOC, 2 other */
  uint64_t dt_pred[4][3]; /* v2: the last dt of a short FREE [0], short ALLOC [1], compact
                             REALLOC [2], release by age [3]; by `last` */
  uint64_t recent[MS_V2_RECENT];
} delta_t;

static inline void delta_init(delta_t *d, uint64_t base_ts, unsigned version) {
  d->prev_ts = base_ts;
  d->prev_addr = 0;
  d->v2 = version >= 2;
  d->nalloc = 0;
  d->last = 2;
  memset(d->dt_pred, 0, sizeof d->dt_pred);
  memset(d->rstk, 0, sizeof d->rstk);
  memset(d->stk, 0, sizeof d->stk); /* recent[] is read only below nalloc: not cleared */
}

/* Moves id to the front of list l from place s (MS_V2_NSTACKS: it was not in the list). */
static inline void v2_mtf(uint64_t *l, uint32_t s, uint64_t id) {
  for (uint32_t j = s < MS_V2_NSTACKS ? s : MS_V2_NSTACKS - 1; j > 0; j--)
    l[j] = l[j - 1];
  l[0] = id;
}

static inline void v2_push(delta_t *d, uint64_t addr) {
  d->recent[d->nalloc++ & (MS_V2_RECENT - 1)] = addr;
}

/* ms_get_varint with fast paths: one byte (most fields), and no bounds check per byte when ten
 * bytes are left. Same results and the same bounds as ms_get_varint. (A branch-free 8-byte
 * word decode was tried: more instructions and slower on this trace mix, where most
 * multi-byte values take two or three bytes.) */
static inline __attribute__((always_inline)) int get_varint(const uint8_t **pp,
                                                            const uint8_t *end, uint64_t *out) {
  const uint8_t *p = *pp;
  if (__builtin_expect(p < end && !(*p & 0x80), 1)) {
    *out = *p;
    *pp = p + 1;
    return 0;
  }
  if (end - p >= MS_VARINT_MAX) { /* no bounds check per byte needed */
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
      uint8_t b = *p++;
      v |= (uint64_t)(b & 0x7f) << shift;
      if (!(b & 0x80)) {
        *pp = p;
        *out = v;
        return 0;
      }
    }
    return -1;
  }
  return ms_get_varint(pp, end, out);
}
#define ms_get_varint get_varint

static inline int get_svarint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
  uint64_t z;
  if (ms_get_varint(pp, end, &z))
    return -1;
  *out = (uint64_t)ms_unzigzag(z); /* added with unsigned wrap-around, never signed overflow */
  return 0;
}

static int get_string(const uint8_t **pp, const uint8_t *end, const uint8_t **s, uint64_t *len) {
  if (ms_get_varint(pp, end, len) || *len > (uint64_t)(end - *pp))
    return -1;
  *s = *pp;
  *pp += *len;
  return 0;
}

/* The delta step of records that carry a time and an address (ALLOC, FREE, VAR). */
static inline void step_ts_addr(delta_t *d, ms_event_t *r, uint64_t dt, uint64_t delta) {
  d->prev_ts += dt;
  d->prev_addr += delta;
  r->ts = d->prev_ts;
  r->addr = d->prev_addr;
}

/* Version 2's own forms (docs/trace-format.md, 3.5): FREE of a recent allocation, short
 * ALLOC, compact REALLOC, a realloc's release, a FREE in 16-byte units. p points after the
 * tag. Returns 0 with the record decoded (*pp past it), -1 on damage (*why says what), or 1
 * when the tag is a long record: *tagp and *kindp are then v1's, for v1's body at p. */
static inline __attribute__((always_inline)) int decode_v2_forms(const uint8_t **pp,
                                                                 const uint8_t *p,
                                                                 const uint8_t *end, delta_t *d,
                                                                 ms_event_t *r, uint8_t *tagp,
                                                                 int *kindp, const char **why) {
  uint8_t tag = *tagp;
  int kind;
  uint64_t dt, delta, delta2;
  if (tag & MS_V2_TAG_FREE_RECENT) { /* FREE of a recent allocation: its age, dt */
    uint32_t age = tag & (MS_V2_RECENT - 1);
    r->kind = MS_EV_FREE;
    if (get_svarint(&p, end, &dt))
      return -1;
    if (age >= d->nalloc) {
      *why = "free of an allocation the chunk has not made";
      return -1;
    }
    uint64_t *pred = &d->dt_pred[0][d->last];
    *pred += dt; /* dt is stored as the change from the last short FREE's (same `last`) */
    d->prev_ts += *pred;
    d->last = 0;
    d->prev_addr = d->recent[(d->nalloc - 1 - age) & (MS_V2_RECENT - 1)];
    r->ts = d->prev_ts;
    r->addr = d->prev_addr;
    *pp = p;
    return 0;
  }
  if (tag & MS_V2_TAG_ALLOC_SHORT) { /* ALLOC: stack place, size's low bits in the tag */
    uint32_t s = (tag >> 3) & 7;
    uint64_t hi, st;
    r->kind = MS_EV_ALLOC;
    if (get_svarint(&p, end, &dt) || ms_get_varint(&p, end, &delta) ||
        ms_get_varint(&p, end, &hi))
      return -1;
    if (hi >> 61) {
      *why = "size out of range";
      return -1;
    }
    if (s < MS_V2_NSTACKS)
      st = d->stk[s];
    else if (ms_get_varint(&p, end, &st))
      return -1;
    v2_mtf(d->stk, s, st); /* as the encoder did */
    r->stack_id = st;
    r->size = hi << 3 | (tag & 7);
    uint64_t *pred = &d->dt_pred[1][d->last];
    *pred += dt;
    d->prev_ts += *pred;
    d->last = 1;
    d->prev_addr += (uint64_t)ms_unzigzag(delta) << 4;
    r->ts = d->prev_ts;
    r->addr = d->prev_addr;
    v2_push(d, r->addr);
    *pp = p;
    return 0;
  }
  /* A long record: v1's body; the release flag moved to 0x08, the kind to 3 bits. */
  kind = tag & 7;
  if (kind == MS_V2_KIND_REALLOC) { /* compact REALLOC */
    uint64_t code;
    r->kind = MS_EV_REALLOC;
    delta = 0;
    if (get_svarint(&p, end, &dt) ||
        (!(tag & MS_V2_FLAG_OLD_PREV) && get_svarint(&p, end, &delta)) ||
        get_svarint(&p, end, &delta2) || ms_get_varint(&p, end, &r->size) ||
        ms_get_varint(&p, end, &code))
      return -1;
    uint32_t s = code < MS_V2_NSTACKS ? (uint32_t)code : MS_V2_NSTACKS;
    r->stack_id = s < MS_V2_NSTACKS ? d->rstk[s] : code - MS_V2_NSTACKS;
    v2_mtf(d->rstk, s, r->stack_id);
    r->flags = (tag & MS_V2_FLAG_RELEASE) ? MS_FLAG_REALLOC_RELEASE : 0;
    uint64_t *pred = &d->dt_pred[2][d->last];
    *pred += dt;
    d->prev_ts += *pred;
    r->ts = d->prev_ts;
    r->old_addr = d->prev_addr + delta;
    r->addr = r->old_addr + ((tag & MS_V2_FLAG_NEW_UNITS) ? delta2 << 4 : delta2);
    d->prev_addr = r->addr;
    d->last = 2;
    v2_push(d, r->addr);
    *pp = p;
    return 0;
  }
  if (tag == MS_V2_TAG_RELEASE_RECENT || tag == MS_V2_TAG_RELEASE_LAST) {
    uint64_t age = 0; /* a realloc's release of a recent allocation */
    r->kind = MS_EV_FREE;
    if (get_svarint(&p, end, &dt) ||
        (tag == MS_V2_TAG_RELEASE_RECENT && ms_get_varint(&p, end, &age)))
      return -1;
    if (age >= d->nalloc || age >= MS_V2_RECENT) {
      *why = "free of an allocation the chunk has not made";
      return -1;
    }
    r->flags = MS_FLAG_REALLOC_RELEASE;
    uint64_t *pred = &d->dt_pred[3][d->last];
    *pred += dt;
    d->prev_ts += *pred;
    d->prev_addr = d->recent[(d->nalloc - 1 - age) & (MS_V2_RECENT - 1)];
    r->ts = d->prev_ts;
    r->addr = d->prev_addr;
    d->last = 0;
    *pp = p;
    return 0;
  }
  if (kind == MS_REC_FREE && (tag & MS_V2_FLAG_UNITS16)) {
    r->kind = MS_EV_FREE;
    if (ms_get_varint(&p, end, &dt) || get_svarint(&p, end, &delta))
      return -1;
    r->flags = (tag & MS_V2_FLAG_RELEASE) ? MS_FLAG_REALLOC_RELEASE : 0;
    step_ts_addr(d, r, dt, delta << 4);
    d->last = 0;
    *pp = p;
    return 0;
  }
  *tagp = (uint8_t)((tag & (MS_FLAG_ALIGN | MS_FLAG_WEIGHT)) |
                   ((tag & MS_V2_FLAG_RELEASE) ? MS_FLAG_REALLOC_RELEASE : 0));
  *kindp = kind;
  return 1;
}

/* Decodes one record at *pp into *r (and *x), updating the delta state. *r must come in with
 * every field a kind may leave out set to its default (0, weight 1): only fields the record
 * carries are written. kind is the record kind, MS_REC_STACK included (its id in stack_id).
 * `frames` (MS_TRACE_MAX_FRAMES slots) receives a STACK's frames, or is NULL when they are not
 * wanted. Returns 0, or -1 with *why naming what was wrong (*why is also set on success).
 * Never reads past `end`; loops are bounded by payload bytes. */
static inline __attribute__((always_inline)) int decode_record(const uint8_t **pp,
                                                               const uint8_t *end, delta_t *d,
                                                               ms_event_t *r, rec_extra_t *x,
                                                               uint64_t *frames,
                                                               const char **why) {
  const uint8_t *p = *pp;
  if (p >= end) {
    *why = "record past payload end";
    return -1;
  }
  uint8_t tag = *p++;
  int kind = tag & 0x0f;
  uint64_t dt, delta, delta2;
  *why = "varint cut off or longer than 10 bytes";
  if (d->v2) {
    int rc = decode_v2_forms(pp, p, end, d, r, &tag, &kind, why);
    if (rc <= 0)
      return rc;
  }
  r->kind = (ms_event_kind_t)kind;
  switch (kind) {
  case MS_REC_ALLOC:
    if (ms_get_varint(&p, end, &dt) || get_svarint(&p, end, &delta) ||
        ms_get_varint(&p, end, &r->size) || ms_get_varint(&p, end, &r->stack_id))
      return -1;
    if ((tag & MS_FLAG_ALIGN) && ms_get_varint(&p, end, &r->align))
      return -1;
    if ((tag & MS_FLAG_WEIGHT) && ms_get_varint(&p, end, &r->weight))
      return -1;
    step_ts_addr(d, r, dt, delta);
    if (d->v2)
      v2_push(d, r->addr);
    break;
  case MS_REC_FREE:
    if (ms_get_varint(&p, end, &dt) || get_svarint(&p, end, &delta))
      return -1;
    r->flags = tag & MS_FLAG_REALLOC_RELEASE;
    step_ts_addr(d, r, dt, delta);
    break;
  case MS_REC_REALLOC:
    if (ms_get_varint(&p, end, &dt) || get_svarint(&p, end, &delta) ||
        get_svarint(&p, end, &delta2) || ms_get_varint(&p, end, &r->size) ||
        ms_get_varint(&p, end, &r->stack_id))
      return -1;
    if ((tag & MS_FLAG_WEIGHT) && ms_get_varint(&p, end, &r->weight))
      return -1;
    r->flags = tag & MS_FLAG_REALLOC_RELEASE;
    d->prev_ts += dt;
    r->ts = d->prev_ts;
    r->old_addr = d->prev_addr + delta;
    r->addr = r->old_addr + delta2;
    d->prev_addr = r->addr;
    if (d->v2)
      v2_push(d, r->addr);
    break;
  case MS_REC_STACK: {
    x->nkept = 0;
    if (ms_get_varint(&p, end, &r->stack_id) || ms_get_varint(&p, end, &x->nframes))
      return -1;
    if (x->nframes > (uint64_t)(end - p)) { /* every frame takes at least one byte */
      *why = "stack frame count exceeds the payload";
      return -1;
    }
    uint64_t prev = 0;
    for (uint64_t i = 0; i < x->nframes; i++) {
      if (get_svarint(&p, end, &delta))
        return -1;
      prev += delta;
      if (i < MS_TRACE_MAX_FRAMES) {
        if (frames)
          frames[i] = prev;
        x->nkept++;
      }
    }
    break;
  }
  case MS_REC_MARK: {
    uint64_t sub;
    if (ms_get_varint(&p, end, &dt) || ms_get_varint(&p, end, &sub))
      return -1;
    if (get_string(&p, end, &x->str[0], &x->str_len[0])) {
      *why = "string longer than the payload";
      return -1;
    }
    d->prev_ts += dt;
    r->ts = d->prev_ts;
    r->mark_kind = sub > UINT32_MAX ? UINT32_MAX : (uint32_t)sub;
    break;
  }
  case MS_REC_VAR:
    if (ms_get_varint(&p, end, &dt) || get_svarint(&p, end, &delta) ||
        ms_get_varint(&p, end, &r->line))
      return -1;
    for (int i = 0; i < 3; i++) {
      if (get_string(&p, end, &x->str[i], &x->str_len[i])) {
        *why = "string longer than the payload";
        return -1;
      }
    }
    step_ts_addr(d, r, dt, delta);
    break;
  default:
    /* Records carry no length, so an unknown kind cannot be skipped. */
    *why = "unknown record kind";
    return -1;
  }
  if (d->v2 && kind != MS_REC_STACK)
    d->last = kind == MS_REC_FREE ? 0 : kind == MS_REC_ALLOC ? 1 : 2;
  *pp = p;
  return 0;
}

#endif /* MS_DECODE_H */
