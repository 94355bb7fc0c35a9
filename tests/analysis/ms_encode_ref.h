/* ms_encode_ref.h: a frozen copy of format/ms_encode.h as of main 55cb448 (before the issue-12
 * speed work), identifiers renamed msref_* so it lives beside the real encoder in one test.
 * test_encode_ident compares the two chunk by chunk: the speed work must not change a byte of
 * format v2 (docs/trace-format.md). Do not edit: it is the reference. */
/* ms_encode.h: the chunk encoder (fixed-size records -> the compact encoded form), shared by
 * the tracker (its buffer flushes) and the salvage pass of the analysis (records recovered
 * from the ring segments of a process that ended without flushing). One encoder, so a salvaged
 * chunk is byte for byte what the tracker would have written. Static inline, allocation-free.
 */
#ifndef MSREF_ENCODE_H
#define MSREF_ENCODE_H

#include "ms_format.h"

typedef struct msref_encoder_s msref_encoder_t;

/* Writes out[MS_CHUNK_HEADER_SIZE, MS_CHUNK_HEADER_SIZE + payload_len) as one chunk of nrec
 * records (the callee fills the chunk header in out[0, MS_CHUNK_HEADER_SIZE)), nev of them
 * allocator events (ALLOC, FREE that is a call, REALLOC: what meta.txt's events= counts).
 * end_slot is the slot after the chunk's last record; last_ts its last (clamped) timestamp. */
typedef void (*msref_emit_fn)(msref_encoder_t *e, uint32_t payload_len, uint32_t nrec, uint32_t nev,
                           uint64_t base_ts, uint32_t end_slot, uint64_t last_ts);

struct msref_encoder_s {
  uint8_t *out;       /* chunk buffer: header room, then payload */
  size_t cap;         /* its size (at least 4 KiB plus the largest record) */
  uint64_t last_ts;   /* in: the file's latest timestamp; out: the same after encoding */
  msref_emit_fn emit;
  void *user;
  int version;        /* format version to write: 0 (the current one, MS_FORMAT_VERSION) or 1 */
};

/* Version 2's per-chunk state (docs/trace-format.md, 3.5): the last MS_V2_RECENT allocation
 * addresses by allocation number, a direct-mapped index from address to that number (the
 * encoder's only: the decoder is told the age), and the stack move-to-front list. */
#define MSREF_V2_WHERE 1024u /* the encoder's address index: 8 slots a remembered address */

typedef struct msref_v2_enc_s {
  uint64_t recent[MS_V2_RECENT];
  uint32_t nalloc;         /* allocations (ALLOC, REALLOC) so far in the chunk */
  uint32_t stk[MS_V2_NSTACKS];
  uint32_t rstk[MS_V2_NSTACKS]; /* compact REALLOCs' own move-to-front list */
  uint32_t last;                /* the last timed record: 0 FREE, 1 ALLOC, 2 other */
  uint64_t dt_pred[4][3]; /* the last dt of a short FREE [0], short ALLOC [1], compact
                             REALLOC [2], release by age [3]; by `last` */
  uint16_t where[MSREF_V2_WHERE]; /* address hash -> its allocation number + 1; 0 = none (a
                                  number past 16 bits is not kept: the ring check below
                                  makes any stale entry harmless) */
} msref_v2_enc_t;

static inline void msref__v2_reset(msref_v2_enc_t *v) {
  v->nalloc = 0;
  memset(v->stk, 0, sizeof v->stk);
  memset(v->rstk, 0, sizeof v->rstk);
  memset(v->dt_pred, 0, sizeof v->dt_pred);
  v->last = 2;
  memset(v->where, 0, sizeof v->where);
}

/* 10 bits of the address above malloc's 16-byte alignment, mixed: one multiply. */
static inline uint32_t msref__v2_hash(uint64_t addr) {
  return (uint32_t)((addr >> 4) * 0x9e3779b1u) >> 22;
}

/* Moves id to the front of list l; returns its place before, MS_V2_NSTACKS if absent. */
static inline uint32_t msref__v2_mtf(uint32_t *l, uint32_t id) {
  uint32_t s = 0;
  while (s < MS_V2_NSTACKS && l[s] != id)
    s++;
  for (uint32_t j = s < MS_V2_NSTACKS ? s : MS_V2_NSTACKS - 1; j > 0; j--)
    l[j] = l[j - 1];
  l[0] = id;
  return s;
}

/* The age of addr among the chunk's last MS_V2_RECENT allocations, or -1. */
static inline int msref__v2_age(const msref_v2_enc_t *v, uint64_t addr) {
  uint32_t n = v->where[msref__v2_hash(addr)];
  uint32_t age = v->nalloc - n;
  if (n && age < MS_V2_RECENT && v->recent[(n - 1) & (MS_V2_RECENT - 1)] == addr)
    return (int)age;
  return -1;
}

static inline void msref__v2_push(msref_v2_enc_t *v, uint64_t addr) {
  v->recent[v->nalloc & (MS_V2_RECENT - 1)] = addr;
  if (++v->nalloc <= UINT16_MAX)
    v->where[msref__v2_hash(addr)] = (uint16_t)v->nalloc;
}

static inline uint8_t *msref__enc_string(uint8_t *o, const char *s, size_t n) {
  o = ms_put_varint(o, n);
  memcpy(o, s, n);
  return o + n;
}

/* Encodes records [from, to) and emits them as chunks. Timestamps are clamped to be monotonic
 * within the file (the encoding stores unsigned deltas). A multi-slot record that does not
 * fit before `to` (being written by its owner right now, in a foreign flush) is left for
 * the next call. Returns the slot after the last record encoded. */
static inline uint32_t msref__encode_range_v1(msref_encoder_t *e, const ms_rec_t *recs,
                                           uint32_t from, uint32_t to) {
  uint8_t *const start = e->out + MS_CHUNK_HEADER_SIZE;
  uint8_t *const limit = e->out + e->cap;
  uint8_t *o = start;
  uint32_t nrec = 0, nev = 0, i = from;
  uint64_t prev_ts = e->last_ts, base_ts = e->last_ts, prev_addr = 0;
  while (i < to) {
    const ms_rec_t *r = &recs[i];
    /* Fast path: FREE and plain ALLOC are nearly every record. One room check covers their
     * worst case (tag + 4 varints + align + weight < 64 bytes). */
    if (__builtin_expect((r->kind == MS_REC_FREE ||
                          (r->kind == MS_REC_ALLOC && !r->aux && !r->weight)) &&
                             limit - o >= 64, 1)) {
      uint64_t ts = r->ts < prev_ts ? prev_ts : r->ts;
      *o++ = (uint8_t)(r->kind == MS_REC_FREE ? MS_REC_FREE | r->aux : MS_REC_ALLOC);
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_svarint(o, (int64_t)(r->addr - prev_addr));
      if (r->kind == MS_REC_ALLOC) {
        o = ms_put_varint(o, r->size);
        o = ms_put_varint(o, r->stack);
      }
      prev_addr = r->addr;
      prev_ts = ts;
      nev += r->kind == MS_REC_ALLOC || !(r->aux & MS_FLAG_REALLOC_RELEASE);
      nrec++;
      i++;
      continue;
    }
    uint32_t slots = 1;
    size_t worst = 64;
    if (r->kind == MS_REC_STACK) {
      if (r->size > 256)
        break; /* the tracker keeps at most 64 frames: only a damaged ring file has this */
      slots = 1 + (uint32_t)((r->size + 3) / 4);
      worst = 24 + r->size * MS_VARINT_MAX;
    } else if (r->kind == MS_REC_MARK) {
      if (r->size > 4096)
        break; /* names are cut to MS_NAME_MAX: as above */
      slots = 1 + (uint32_t)((r->size + 31) / 32);
      worst = 40 + r->size;
    } else if (r->kind == MS_REC_VAR) {
      size_t total = (r->stack & 0xff) + ((r->stack >> 8) & 0xff) + (r->stack >> 16);
      slots = 1 + (uint32_t)((total + 31) / 32);
      worst = 64 + total;
    } else if (r->kind == MS_REC_REALLOC) {
      slots = 2;
    } else if (r->kind != MS_REC_ALLOC && r->kind != MS_REC_FREE) {
      break; /* not a record start: only a damaged ring file has this (salvage) */
    }
    if (i + slots > to || i + slots < i)
      break;
    if ((size_t)(limit - o) < worst) {
      if (nrec)
        e->emit(e, (uint32_t)(o - start), nrec, nev, base_ts, i, prev_ts);
      o = start;
      nrec = nev = 0;
      base_ts = prev_ts;
      prev_addr = 0;
      if ((size_t)(limit - o) < worst)
        break; /* larger than a whole chunk: only a damaged ring file has this */
    }
    uint64_t ts = r->ts < prev_ts ? prev_ts : r->ts;
    switch (r->kind) {
    case MS_REC_ALLOC: {
      uint8_t tag = MS_REC_ALLOC | (r->aux ? MS_FLAG_ALIGN : 0) | (r->weight ? MS_FLAG_WEIGHT : 0);
      *o++ = tag;
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_svarint(o, (int64_t)(r->addr - prev_addr));
      o = ms_put_varint(o, r->size);
      o = ms_put_varint(o, r->stack);
      if (r->aux)
        o = ms_put_varint(o, 1ull << (r->aux & 63));
      if (r->weight)
        o = ms_put_varint(o, r->weight);
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    }
    case MS_REC_FREE:
      *o++ = (uint8_t)(MS_REC_FREE | r->aux);
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_svarint(o, (int64_t)(r->addr - prev_addr));
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    case MS_REC_REALLOC: {
      uint64_t old = r[1].addr;
      *o++ = (uint8_t)(MS_REC_REALLOC | r->aux | (r->weight ? MS_FLAG_WEIGHT : 0));
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_svarint(o, (int64_t)(old - prev_addr));
      o = ms_put_svarint(o, (int64_t)(r->addr - old));
      o = ms_put_varint(o, r->size);
      o = ms_put_varint(o, r->stack);
      if (r->weight)
        o = ms_put_varint(o, r->weight);
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    }
    case MS_REC_STACK: {
      const uint64_t *frames = (const uint64_t *)(const void *)&r[1];
      *o++ = MS_REC_STACK;
      o = ms_put_varint(o, r->stack);
      o = ms_put_varint(o, r->size);
      uint64_t prev = 0;
      for (uint64_t k = 0; k < r->size; k++) {
        o = ms_put_svarint(o, (int64_t)(frames[k] - prev));
        prev = frames[k];
      }
      break;
    }
    case MS_REC_MARK:
      *o++ = MS_REC_MARK;
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_varint(o, r->aux);
      o = msref__enc_string(o, (const char *)&r[1], r->size);
      prev_ts = ts;
      break;
    case MS_REC_VAR: {
      const char *s = (const char *)&r[1];
      size_t ln = r->stack & 0xff, lt = (r->stack >> 8) & 0xff, lf = r->stack >> 16;
      *o++ = MS_REC_VAR;
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_svarint(o, (int64_t)(r->addr - prev_addr));
      o = ms_put_varint(o, r->size);
      o = msref__enc_string(o, s, ln);
      o = msref__enc_string(o, s + ln, lt);
      o = msref__enc_string(o, s + ln + lt, lf);
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    }
    default:
      break;
    }
    nev += r->kind == MS_REC_ALLOC || r->kind == MS_REC_REALLOC ||
           (r->kind == MS_REC_FREE && !(r->aux & MS_FLAG_REALLOC_RELEASE));
    nrec++;
    i += slots;
  }
  if (nrec)
    e->emit(e, (uint32_t)(o - start), nrec, nev, base_ts, i, prev_ts);
  e->last_ts = prev_ts;
  return i;
}

/* Slots and worst-case encoded bytes of the record at r, or slots 0 when r cannot start a
 * record (only a damaged ring file has that: salvage). Shared by both versions' slow paths. */
static inline uint32_t msref__rec_extent(const ms_rec_t *r, size_t *worst) {
  *worst = 64;
  if (r->kind == MS_REC_STACK) {
    if (r->size > 256)
      return 0; /* the tracker keeps at most 64 frames */
    *worst = 24 + r->size * MS_VARINT_MAX;
    return 1 + (uint32_t)((r->size + 3) / 4);
  }
  if (r->kind == MS_REC_MARK) {
    if (r->size > 4096)
      return 0; /* names are cut to MS_NAME_MAX */
    *worst = 40 + r->size;
    return 1 + (uint32_t)((r->size + 31) / 32);
  }
  if (r->kind == MS_REC_VAR) {
    size_t total = (r->stack & 0xff) + ((r->stack >> 8) & 0xff) + (r->stack >> 16);
    *worst = 64 + total;
    return 1 + (uint32_t)((total + 31) / 32);
  }
  if (r->kind == MS_REC_REALLOC)
    return 2;
  return r->kind == MS_REC_ALLOC || r->kind == MS_REC_FREE;
}

/* Version 2 (docs/trace-format.md, 3.5). Same contract as msref__encode_range_v1. The common
 * records take the compact forms: a FREE of a block allocated among the chunk's last 128
 * allocations is its age in the tag byte and dt; an ALLOC at a 16-byte multiple from
 * prev_addr has its stack's move-to-front place and the size's low 4 bits in the tag. The
 * rest are v1's bodies behind a long tag, so there is one body format for each rare kind. */
static inline uint32_t msref__encode_range_v2(msref_encoder_t *e, const ms_rec_t *recs,
                                           uint32_t from, uint32_t to) {
  uint8_t *const start = e->out + MS_CHUNK_HEADER_SIZE;
  uint8_t *const limit = e->out + e->cap;
  uint8_t *o = start;
  uint32_t nrec = 0, nev = 0, i = from;
  uint64_t prev_ts = e->last_ts, base_ts = e->last_ts, prev_addr = 0;
  msref_v2_enc_t v;
  msref__v2_reset(&v);
  while (i < to) {
    const ms_rec_t *r = &recs[i];
    if (__builtin_expect(limit - o >= 64, 1)) {
      if (r->kind == MS_REC_FREE && !r->aux) {
        uint64_t ts = r->ts < prev_ts ? prev_ts : r->ts;
        int age = msref__v2_age(&v, r->addr);
        if (age >= 0) {
          uint64_t dt = ts - prev_ts, *pred = &v.dt_pred[0][v.last];
          *o++ = (uint8_t)(MS_V2_TAG_FREE_RECENT | (uint32_t)age);
          o = ms_put_varint(o, ms_zigzag((int64_t)(dt - *pred)));
          *pred = dt;
        } else { /* long FREE; the delta in 16-byte units when it is a multiple */
          uint64_t delta = r->addr - prev_addr;
          int units = !(delta & 15);
          *o++ = (uint8_t)(MS_REC_FREE | (units ? MS_V2_FLAG_UNITS16 : 0));
          o = ms_put_varint(o, ts - prev_ts);
          o = ms_put_varint(o, ms_zigzag(units ? (int64_t)delta >> 4 : (int64_t)delta));
        }
        prev_addr = r->addr;
        prev_ts = ts;
        v.last = 0;
        nev++, nrec++, i++;
        continue;
      }
      uint64_t delta = r->addr - prev_addr;
      if (r->kind == MS_REC_ALLOC && !r->aux && !r->weight && !(delta & 15)) {
        uint64_t ts = r->ts < prev_ts ? prev_ts : r->ts, dt = ts - prev_ts;
        uint64_t *pred = &v.dt_pred[1][v.last];
        uint32_t st = r->stack, s = 0;
        if (st != v.stk[0]) { /* the common places inline, the rest by the loop */
          if (st == v.stk[1]) {
            v.stk[1] = v.stk[0];
            v.stk[0] = st;
            s = 1;
          } else {
            s = msref__v2_mtf(v.stk, st);
          }
        }
        *o++ = (uint8_t)(MS_V2_TAG_ALLOC_SHORT | s << 3 | (r->size & 7));
        o = ms_put_varint(o, ms_zigzag((int64_t)(dt - *pred)));
        o = ms_put_varint(o, ms_zigzag((int64_t)delta >> 4));
        o = ms_put_varint(o, r->size >> 3);
        if (s == MS_V2_NSTACKS)
          o = ms_put_varint(o, st);
        *pred = dt;
        v.last = 1;
        msref__v2_push(&v, r->addr);
        prev_addr = r->addr;
        prev_ts = ts;
        nev++, nrec++, i++;
        continue;
      }
    }
    size_t worst;
    uint32_t slots = msref__rec_extent(r, &worst);
    if (!slots || i + slots > to || i + slots < i)
      break;
    if ((size_t)(limit - o) < worst) {
      if (nrec)
        e->emit(e, (uint32_t)(o - start), nrec, nev, base_ts, i, prev_ts);
      o = start;
      nrec = nev = 0;
      base_ts = prev_ts;
      prev_addr = 0;
      msref__v2_reset(&v);
      if ((size_t)(limit - o) < worst)
        break; /* larger than a whole chunk: only a damaged ring file has this */
      continue; /* the fast path may take it now */
    }
    uint64_t ts = r->ts < prev_ts ? prev_ts : r->ts;
    uint8_t release = (r->aux & MS_FLAG_REALLOC_RELEASE) ? MS_V2_FLAG_RELEASE : 0;
    switch (r->kind) {
    case MS_REC_ALLOC:
      *o++ = (uint8_t)(MS_REC_ALLOC | (r->aux ? MS_FLAG_ALIGN : 0) |
                       (r->weight ? MS_FLAG_WEIGHT : 0));
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_svarint(o, (int64_t)(r->addr - prev_addr));
      o = ms_put_varint(o, r->size);
      o = ms_put_varint(o, r->stack);
      if (r->aux)
        o = ms_put_varint(o, 1ull << (r->aux & 63));
      if (r->weight)
        o = ms_put_varint(o, r->weight);
      msref__v2_push(&v, r->addr);
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    case MS_REC_FREE: {
      int age = release ? msref__v2_age(&v, r->addr) : -1;
      if (age >= 0) { /* a moving realloc's release of a recent block (the REALLOC follows) */
        uint64_t dt = ts - prev_ts, *pred = &v.dt_pred[3][v.last];
        *o++ = age ? MS_V2_TAG_RELEASE_RECENT : MS_V2_TAG_RELEASE_LAST;
        o = ms_put_varint(o, ms_zigzag((int64_t)(dt - *pred)));
        *pred = dt;
        if (age)
          o = ms_put_varint(o, (uint64_t)age);
      } else {
        *o++ = (uint8_t)(MS_REC_FREE | release);
        o = ms_put_varint(o, ts - prev_ts);
        o = ms_put_svarint(o, (int64_t)(r->addr - prev_addr));
      }
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    }
    case MS_REC_REALLOC: {
      uint64_t old = r[1].addr;
      if (!r->weight) { /* compact: old often prev_addr (its release came just before) */
        uint64_t d2 = r->addr - old;
        int same = old == prev_addr, units = !(d2 & 15);
        *o++ = (uint8_t)(MS_V2_KIND_REALLOC | release | (same ? MS_V2_FLAG_OLD_PREV : 0) |
                         (units ? MS_V2_FLAG_NEW_UNITS : 0));
        uint64_t dt = ts - prev_ts, *pred = &v.dt_pred[2][v.last];
        o = ms_put_varint(o, ms_zigzag((int64_t)(dt - *pred)));
        *pred = dt;
        if (!same)
          o = ms_put_svarint(o, (int64_t)(old - prev_addr));
        o = ms_put_svarint(o, units ? (int64_t)d2 >> 4 : (int64_t)d2);
        o = ms_put_varint(o, r->size);
        uint32_t s = msref__v2_mtf(v.rstk, r->stack); /* a place, or the id after them */
        o = ms_put_varint(o, s < MS_V2_NSTACKS ? s : (uint64_t)MS_V2_NSTACKS + r->stack);
        msref__v2_push(&v, r->addr);
        prev_addr = r->addr;
        prev_ts = ts;
        break;
      }
      *o++ = (uint8_t)(MS_REC_REALLOC | release | (r->weight ? MS_FLAG_WEIGHT : 0));
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_svarint(o, (int64_t)(old - prev_addr));
      o = ms_put_svarint(o, (int64_t)(r->addr - old));
      o = ms_put_varint(o, r->size);
      o = ms_put_varint(o, r->stack);
      if (r->weight)
        o = ms_put_varint(o, r->weight);
      msref__v2_push(&v, r->addr);
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    }
    case MS_REC_STACK: {
      const uint64_t *frames = (const uint64_t *)(const void *)&r[1];
      *o++ = MS_REC_STACK;
      o = ms_put_varint(o, r->stack);
      o = ms_put_varint(o, r->size);
      uint64_t prev = 0;
      for (uint64_t k = 0; k < r->size; k++) {
        o = ms_put_svarint(o, (int64_t)(frames[k] - prev));
        prev = frames[k];
      }
      break;
    }
    case MS_REC_MARK:
      *o++ = MS_REC_MARK;
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_varint(o, r->aux);
      o = msref__enc_string(o, (const char *)&r[1], r->size);
      prev_ts = ts;
      break;
    case MS_REC_VAR: {
      const char *s = (const char *)&r[1];
      size_t ln = r->stack & 0xff, lt = (r->stack >> 8) & 0xff, lf = r->stack >> 16;
      *o++ = MS_REC_VAR;
      o = ms_put_varint(o, ts - prev_ts);
      o = ms_put_svarint(o, (int64_t)(r->addr - prev_addr));
      o = ms_put_varint(o, r->size);
      o = msref__enc_string(o, s, ln);
      o = msref__enc_string(o, s + ln, lt);
      o = msref__enc_string(o, s + ln + lt, lf);
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    }
    default:
      break;
    }
    if (r->kind != MS_REC_STACK) /* STACK has no time: it leaves `last` alone */
      v.last = r->kind == MS_REC_FREE ? 0 : r->kind == MS_REC_ALLOC ? 1 : 2;
    nev += r->kind == MS_REC_ALLOC || r->kind == MS_REC_REALLOC ||
           (r->kind == MS_REC_FREE && !(r->aux & MS_FLAG_REALLOC_RELEASE));
    nrec++;
    i += slots;
  }
  if (nrec)
    e->emit(e, (uint32_t)(o - start), nrec, nev, base_ts, i, prev_ts);
  e->last_ts = prev_ts;
  return i;
}

/* Encodes records [from, to) and emits them as chunks, in e->version's format (the current
 * one unless a test asks for version 1). Timestamps are clamped to be monotonic within the
 * file (the encoding stores unsigned deltas). A multi-slot record that does not fit before
 * `to` (being written by its owner right now, in a foreign flush) is left for the next call.
 * Returns the slot after the last record encoded. */
static inline uint32_t msref_encode_range(msref_encoder_t *e, const ms_rec_t *recs, uint32_t from,
                                       uint32_t to) {
  if (__builtin_expect(e->version == 1, 0))
    return msref__encode_range_v1(e, recs, from, to);
  return msref__encode_range_v2(e, recs, from, to);
}

#endif /* MSREF_ENCODE_H */
