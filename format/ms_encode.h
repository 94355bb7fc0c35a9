/* ms_encode.h: the chunk encoder (fixed-size records -> the compact encoded form), shared by
 * the tracker (its buffer flushes) and the salvage pass of the analysis (records recovered
 * from the ring segments of a process that ended without flushing). One encoder, so a salvaged
 * chunk is byte for byte what the tracker would have written. Static inline, allocation-free.
 */
#ifndef MS_ENCODE_H
#define MS_ENCODE_H

#include "ms_format.h"

typedef struct ms_encoder_s ms_encoder_t;

/* Writes out[MS_CHUNK_HEADER_SIZE, MS_CHUNK_HEADER_SIZE + payload_len) as one chunk of nrec
 * records (the callee fills the chunk header in out[0, MS_CHUNK_HEADER_SIZE)), nev of them
 * allocator events (ALLOC, FREE that is a call, REALLOC: what meta.txt's events= counts).
 * end_slot is the slot after the chunk's last record; last_ts its last (clamped) timestamp.
 * The emit may point e->out at another buffer of e->cap bytes: the next chunk goes there. */
typedef void (*ms_emit_fn)(ms_encoder_t *e, uint32_t payload_len, uint32_t nrec, uint32_t nev,
                           uint64_t base_ts, uint32_t end_slot, uint64_t last_ts);

struct ms_encoder_s {
  uint8_t *out;       /* chunk buffer: header room, then payload */
  size_t cap;         /* its size (at least 4 KiB plus the largest record) */
  uint64_t last_ts;   /* in: the file's latest timestamp; out: the same after encoding */
  ms_emit_fn emit;
  void *user;
  int version;        /* format version to write: 0 (the current one, MS_FORMAT_VERSION) or 1 */
};

/* Version 2's per-chunk state (docs/trace-format.md, 3.5): the last MS_V2_RECENT allocation
 * addresses by allocation number, a direct-mapped index from address to that number (the
 * encoder's only: the decoder is told the age), and the stack move-to-front list. */
#define MS_V2_WHERE 1024u /* the encoder's address index: 8 slots a remembered address */

typedef struct ms_v2_enc_s {
  uint32_t cont[4]; /* MS_VARINT_CONT, for the fast loop's varints (addressed off the stack) */
  uint64_t recent[MS_V2_RECENT];
  uint32_t nalloc;         /* allocations (ALLOC, REALLOC) so far in the chunk */
  uint32_t last;                /* the last timed record: 0 FREE, 1 ALLOC, 2 other */
  uint64_t dt_pred[4][3]; /* the last dt of a short FREE [0], short ALLOC [1], compact
                             REALLOC [2], release by age [3]; by `last` */
  uint16_t where[MS_V2_WHERE]; /* address hash -> its allocation number (from 1) plus
                                  MS__V2_BIAS; 0 = none. 16 bits, not 32: the index is on
                                  the flushing thread's stack, inside a hook, and the frame
                                  is 3,384 bytes with it, 5,432 with 32-bit entries. A number
                                  past UINT16_MAX - MS__V2_BIAS is not kept (the ring check
                                  below makes any stale entry harmless); a chunk holds that
                                  many allocations only with a cap above ~255 KiB, which no
                                  caller uses (16 KiB tracker, 64 KiB salvage) */
} ms_v2_enc_t;

static inline void ms__v2_reset(ms_v2_enc_t *v) {
  static const uint32_t cont[4] = MS_VARINT_CONT;
  memcpy(v->cont, cont, sizeof cont);
  v->nalloc = 0;
  memset(v->dt_pred, 0, sizeof v->dt_pred);
  v->last = 2;
  memset(v->where, 0, sizeof v->where);
}

/* where[]'s bias: an empty entry (0) is then MS__V2_BIAS + nalloc >= MS_V2_RECENT
 * allocations old, so one compare tells a recent entry from an old or empty one (the fast
 * loop keeps nalloc + MS__V2_BIAS in a register; issue 12). */
#define MS__V2_BIAS MS_V2_RECENT

/* 10 bits of the address above malloc's 16-byte alignment, mixed: one multiply. */
static inline uint32_t ms__v2_hash(uint64_t addr) {
  return (uint32_t)((addr >> 4) * 0x9e3779b1u) >> 22;
}

/* A move-to-front list of MS_V2_NSTACKS stack ids (the short ALLOCs' stk, the compact
 * REALLOCs' rstk), in 8 lanes: lane 7 is padding, never matched. With SSE2 (every x86-64) the
 * search is two compares and the move a shift and a blend, the same instructions whatever
 * the place: sqlite's ALLOCs cycle through 5-7 call sites, so the scalar loop's search and
 * shift ran 4-6 steps each (22 instructions an event there, issue 12). Kept in registers by
 * the encoder. */
_Static_assert(MS_V2_NSTACKS == 7, "the list is 7 ids in 8 lanes");
#if defined(__SSE2__)
#include <emmintrin.h>
typedef struct {
  __m128i lo, hi; /* lanes 0-3, 4-7 */
} ms__v2_list_t;

static inline void ms__v2_list_reset(ms__v2_list_t *l) {
  l->lo = l->hi = _mm_setzero_si128();
}

static inline uint32_t ms__v2_list_first(const ms__v2_list_t *l) {
  return (uint32_t)_mm_cvtsi128_si32(l->lo);
}

static inline uint32_t ms__v2_list_second(const ms__v2_list_t *l) {
  return (uint32_t)_mm_cvtsi128_si32(_mm_shuffle_epi32(l->lo, 1));
}

/* The move from place 1: lanes 0 and 1 swap. */
static inline void ms__v2_list_swap01(ms__v2_list_t *l) {
  l->lo = _mm_shuffle_epi32(l->lo, _MM_SHUFFLE(3, 2, 0, 1));
}

/* ms__v2_mtf_mask[s]: lanes 0..s all ones (the lanes a move from place s rewrites). */
static const __m128i ms__v2_mtf_mask[8][2] __attribute__((unused)) = {
    {{(long long)0x00000000ffffffffull, 0}, {0, 0}},
    {{-1, 0}, {0, 0}},
    {{-1, (long long)0x00000000ffffffffull}, {0, 0}},
    {{-1, -1}, {0, 0}},
    {{-1, -1}, {(long long)0x00000000ffffffffull, 0}},
    {{-1, -1}, {-1, 0}},
    {{-1, -1}, {-1, (long long)0x00000000ffffffffull}},
    {{-1, -1}, {-1, -1}},
};

/* Moves id to the front of l; returns its place before, MS_V2_NSTACKS if absent (then the
 * last falls off). The first match counts, as in a linear search (the list starts all 0). */
static inline uint32_t ms__v2_mtf(ms__v2_list_t *l, uint32_t id) {
  __m128i x = _mm_set1_epi32((int)id);
  unsigned m = (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(l->lo, x))) |
               (unsigned)_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(l->hi, x))) << 4;
  uint32_t s = (uint32_t)__builtin_ctz((m & 0x7fu) | 0x80u);
  /* shifted: lane 0 = id, lane j = lane j-1; lanes 0..s take it, the rest stay */
  __m128i slo = _mm_or_si128(_mm_slli_si128(l->lo, 4), _mm_cvtsi32_si128((int)id));
  __m128i shi = _mm_or_si128(_mm_slli_si128(l->hi, 4), _mm_srli_si128(l->lo, 12));
  __m128i mlo = _mm_load_si128(&ms__v2_mtf_mask[s][0]), mhi = _mm_load_si128(&ms__v2_mtf_mask[s][1]);
  l->lo = _mm_xor_si128(l->lo, _mm_and_si128(_mm_xor_si128(l->lo, slo), mlo));
  l->hi = _mm_xor_si128(l->hi, _mm_and_si128(_mm_xor_si128(l->hi, shi), mhi));
  return s;
}
#else
typedef struct {
  uint32_t l[MS_V2_NSTACKS];
} ms__v2_list_t;

static inline void ms__v2_list_reset(ms__v2_list_t *l) { memset(l, 0, sizeof *l); }

static inline uint32_t ms__v2_list_first(const ms__v2_list_t *l) { return l->l[0]; }

static inline uint32_t ms__v2_list_second(const ms__v2_list_t *l) { return l->l[1]; }

static inline void ms__v2_list_swap01(ms__v2_list_t *l) {
  uint32_t t = l->l[0];
  l->l[0] = l->l[1];
  l->l[1] = t;
}

/* Moves id to the front of l; returns its place before, MS_V2_NSTACKS if absent. */
static inline uint32_t ms__v2_mtf(ms__v2_list_t *lst, uint32_t id) {
  uint32_t *l = lst->l, s = 0;
  while (s < MS_V2_NSTACKS && l[s] != id)
    s++;
  for (uint32_t j = s < MS_V2_NSTACKS ? s : MS_V2_NSTACKS - 1; j > 0; j--)
    l[j] = l[j - 1];
  l[0] = id;
  return s;
}
#endif

/* The age of addr among the chunk's last MS_V2_RECENT allocations, or -1. */
static inline int ms__v2_age(const ms_v2_enc_t *v, uint64_t addr) {
  uint32_t m = v->where[ms__v2_hash(addr)];
  uint32_t age = v->nalloc + MS__V2_BIAS - m;
  if (age < MS_V2_RECENT && v->recent[(m - 1) & (MS_V2_RECENT - 1)] == addr)
    return (int)age;
  return -1;
}

static inline void ms__v2_push(ms_v2_enc_t *v, uint64_t addr) {
  v->recent[v->nalloc & (MS_V2_RECENT - 1)] = addr;
  if (++v->nalloc <= UINT16_MAX - MS__V2_BIAS)
    v->where[ms__v2_hash(addr)] = (uint16_t)(v->nalloc + MS__V2_BIAS);
}

static inline uint8_t *ms__enc_string(uint8_t *o, const char *s, size_t n) {
  o = ms_put_varint(o, n);
  memcpy(o, s, n);
  return o + n;
}

/* A REALLOC's long body (version 1's, kept by version 2 for weighted ones): tag, the time
 * gap, the old block against the previous address, the new against the old, size, stack. */
static inline uint8_t *ms__enc_realloc_long(uint8_t *o, const ms_rec_t *r, uint8_t tag,
                                            uint64_t dt, uint64_t prev_addr) {
  uint64_t old = r[1].addr;
  *o++ = tag;
  o = ms_put_varint(o, dt);
  o = ms_put_svarint(o, (int64_t)(old - prev_addr));
  o = ms_put_svarint(o, (int64_t)(r->addr - old));
  o = ms_put_varint(o, r->size);
  o = ms_put_varint(o, r->stack);
  if (r->weight)
    o = ms_put_varint(o, r->weight);
  return o;
}

/* The bodies formats 1 and 2 share (STACK, MARK, VAR: version 2 keeps version 1's). */
static inline uint8_t *ms__enc_stack(uint8_t *o, const ms_rec_t *r) {
  const uint64_t *frames = (const uint64_t *)(const void *)&r[1];
  *o++ = MS_REC_STACK;
  o = ms_put_varint(o, r->stack);
  o = ms_put_varint(o, r->size);
  uint64_t prev = 0;
  for (uint64_t k = 0; k < r->size; k++) {
    o = ms_put_svarint(o, (int64_t)(frames[k] - prev));
    prev = frames[k];
  }
  return o;
}

static inline uint8_t *ms__enc_mark(uint8_t *o, const ms_rec_t *r, uint64_t dt) {
  *o++ = MS_REC_MARK;
  o = ms_put_varint(o, dt);
  o = ms_put_varint(o, r->aux);
  return ms__enc_string(o, (const char *)&r[1], r->size);
}

static inline uint8_t *ms__enc_var(uint8_t *o, const ms_rec_t *r, uint64_t dt, uint64_t daddr) {
  const char *s = (const char *)&r[1];
  size_t ln = r->stack & 0xff, lt = (r->stack >> 8) & 0xff, lf = r->stack >> 16;
  *o++ = MS_REC_VAR;
  o = ms_put_varint(o, dt);
  o = ms_put_svarint(o, (int64_t)daddr);
  o = ms_put_varint(o, r->size);
  o = ms__enc_string(o, s, ln);
  o = ms__enc_string(o, s + ln, lt);
  return ms__enc_string(o, s + ln + lt, lf);
}


/* The kinds both versions write with the same body (STACK, MARK, VAR; nothing for a kind
 * without one), with the time and address they advance: a STACK has neither, a MARK a time,
 * a VAR both. */
static inline uint8_t *ms__enc_shared_kinds(uint8_t *o, const ms_rec_t *r, uint64_t ts,
                                            uint64_t *prev_ts, uint64_t *prev_addr) {
  switch (r->kind) {
  case MS_REC_STACK:
    return ms__enc_stack(o, r);
  case MS_REC_MARK:
    o = ms__enc_mark(o, r, ts - *prev_ts);
    *prev_ts = ts;
    return o;
  case MS_REC_VAR:
    o = ms__enc_var(o, r, ts - *prev_ts, r->addr - *prev_addr);
    *prev_addr = r->addr;
    *prev_ts = ts;
    return o;
  default:
    return o;
  }
}

/* Encodes records [from, to) and emits them as chunks. Timestamps are clamped to be monotonic
 * within the file (the encoding stores unsigned deltas). A multi-slot record that does not
 * fit before `to` (being written by its owner right now, in a foreign flush) is left for
 * the next call. Returns the slot after the last record encoded. */
static inline uint32_t ms__encode_range_v1(ms_encoder_t *e, const ms_rec_t *recs,
                                           uint32_t from, uint32_t to) {
  /* Not const: an emit may move e->out (the tracker encodes each chunk straight into its
   * stage, after the chunks already there: flush.c emit_chunk). */
  uint8_t *start = e->out + MS_CHUNK_HEADER_SIZE;
  uint8_t *limit = e->out + e->cap;
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
      start = e->out + MS_CHUNK_HEADER_SIZE;
      limit = e->out + e->cap;
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
      o = ms__enc_realloc_long(
          o, r, (uint8_t)(MS_REC_REALLOC | r->aux | (r->weight ? MS_FLAG_WEIGHT : 0)),
          ts - prev_ts, prev_addr);
      prev_addr = r->addr;
      prev_ts = ts;
      break;
    }
    default: /* STACK, MARK, VAR, and kinds without a body */
      o = ms__enc_shared_kinds(o, r, ts, &prev_ts, &prev_addr);
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
static inline uint32_t ms__rec_extent(const ms_rec_t *r, size_t *worst) {
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

/* The most bytes a fast-path record takes per slot it fills (short ALLOC: tag 1 + zigzag dt
 * 10 + address delta in 16-byte units 9 + size >> 3 9 + stack id 5 = 34; long FREE or release
 * 21; recent FREE 11; release by age 12; compact REALLOC, two slots: 1 + dt 10 + old delta 10
 * + new-old 10 + size 10 + stack code 5 = 46, 23 a slot), rounded up. The fast loop checks
 * room once per batch of k slots, not once per record: a batch is run when room - 64 >=
 * (k - 1) * MS__V2_FAST_MAX, so every record of it, starting at most k - 1 slots in, still
 * starts with the 64 bytes of room the per-record check asked for (same chunk boundaries).
 * The branchless varints store whole words (ms_put_varint_nb 2 bytes, _nb3 4): at most 3
 * bytes past a field's end, so a record's writes stay within 46 + 3 < 64 bytes of its start. */
#define MS__V2_FAST_MAX 40
_Static_assert(MS__V2_FAST_MAX >= 34 && MS__V2_FAST_MAX * 2 >= 46 && MS__V2_FAST_MAX <= 64,
               "a fast record's worst case a slot");
/* The fast loop reads kind, aux and weight as one little-endian 32-bit word. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian record head");

/* The general path's record bodies in version 2: the rare kinds and forms (ALLOC with align
 * or weight or an odd delta, FREE and release with other flag bits, weighted REALLOC, STACK,
 * MARK, VAR). A plain release and a REALLOC without weight never come here: the fast loop
 * takes them whenever the record starts with 64 bytes of room (with less, the chunk ends
 * first) and both of a REALLOC's slots are before `to` (else it is left for the next call);
 * test_encode_ident would see the long form if one did. Writes r's body at o, updates v,
 * *prev_ts and *prev_addr; returns the end of what it wrote. */
static inline uint8_t *ms__v2_slow_body(ms_v2_enc_t *v, const ms_rec_t *r, uint8_t *o,
                                        uint64_t *prev_ts_io, uint64_t *prev_addr_io) {
  uint64_t prev_ts = *prev_ts_io, prev_addr = *prev_addr_io;
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
    ms__v2_push(v, r->addr);
    prev_addr = r->addr;
    prev_ts = ts;
    break;
  case MS_REC_FREE: {
    int age = release ? ms__v2_age(v, r->addr) : -1;
    if (age >= 0) { /* a moving realloc's release of a recent block (the REALLOC follows) */
      uint64_t dt = ts - prev_ts, *pred = &v->dt_pred[3][v->last];
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
    /* weighted only: the fast loop takes every REALLOC without weight (above) */
    o = ms__enc_realloc_long(
        o, r, (uint8_t)(MS_REC_REALLOC | release | (r->weight ? MS_FLAG_WEIGHT : 0)),
        ts - prev_ts, prev_addr);
    ms__v2_push(v, r->addr);
    prev_addr = r->addr;
    prev_ts = ts;
    break;
  }
  default: /* STACK, MARK, VAR, and kinds without a body */
    o = ms__enc_shared_kinds(o, r, ts, &prev_ts, &prev_addr);
    break;
  }
  *prev_ts_io = prev_ts;
  *prev_addr_io = prev_addr;
  return o;
}

/* Version 2 (docs/trace-format.md, 3.5). Same contract as ms__encode_range_v1. The common
 * records take the compact forms: a FREE of a block allocated among the chunk's last 128
 * allocations is its age in the tag byte and dt; an ALLOC at a 16-byte multiple from
 * prev_addr has its stack's move-to-front place and the size's low 4 bits in the tag. The
 * rest are v1's bodies behind a long tag, so there is one body format for each rare kind.
 *
 * Shaped for the tracker's flush (issue 12: this loop was most of the tracker's own
 * instructions without stacks): records walked by pointer; the record and event counts not
 * kept per record but derived (records = slots walked - continuation slots; events = records
 * - non-events), so the fast path only moves r; the allocation count and the last timed kind
 * in locals; kind, aux and weight tested with one 32-bit load. tests/analysis/
 * test_encode_ident.c holds the output to a frozen copy of the per-record version. */
static inline uint32_t ms__encode_range_v2(ms_encoder_t *e, const ms_rec_t *recs,
                                           uint32_t from, uint32_t to) {
  /* Not const: an emit may move e->out (the tracker encodes each chunk straight into its
   * stage, after the chunks already there: flush.c emit_chunk). */
  uint8_t *start = e->out + MS_CHUNK_HEADER_SIZE;
  uint8_t *limit = e->out + e->cap;
  uint8_t *o = start;
  const ms_rec_t *r = recs + from, *const rend = recs + to, *rchunk = r;
  uint32_t extra = 0, nonev = 0; /* the chunk's continuation slots; its records not events */
  uint64_t prev_ts = e->last_ts, base_ts = e->last_ts, prev_addr = 0;
  /* v.nalloc + MS__V2_BIAS and v.last, in registers (synced around the general path) */
  uint32_t nb = MS__V2_BIAS, last = 2;
  ms_v2_enc_t v;
  ms__v2_list_t stk, rstk; /* the move-to-front lists, in registers */
  ms__v2_reset(&v);
  ms__v2_list_reset(&stk);
  ms__v2_list_reset(&rstk);
  while (r < rend) {
    if (__builtin_expect(limit - o >= 64, 1)) {
      size_t k = (size_t)(limit - o - 64) / MS__V2_FAST_MAX + 1;
      const ms_rec_t *bend = (size_t)(rend - r) > k ? r + k : rend;
      while (r < bend) {
        uint32_t head; /* kind, aux, weight (little-endian: kind in the low byte) */
        memcpy(&head, r, sizeof head);
        uint64_t addr = r->addr, ts = r->ts < prev_ts ? prev_ts : r->ts, dt = ts - prev_ts;
        if ((uint16_t)head == MS_REC_FREE) { /* FREE without flags (any weight) */
          uint32_t m = v.where[ms__v2_hash(addr)], age = nb - m;
          if (age < MS_V2_RECENT && v.recent[(m - 1) & (MS_V2_RECENT - 1)] == addr) {
            uint64_t *pred = &v.dt_pred[0][last];
            *o++ = (uint8_t)(MS_V2_TAG_FREE_RECENT | age);
            o = ms_put_varint_nb(o, v.cont, ms_zigzag((int64_t)(dt - *pred)));
            *pred = dt;
          } else { /* long FREE; the delta in 16-byte units when it is a multiple */
            uint64_t delta = addr - prev_addr;
            int units = !(delta & 15);
            *o++ = (uint8_t)(MS_REC_FREE | (units ? MS_V2_FLAG_UNITS16 : 0));
            o = ms_put_varint_nb(o, v.cont, dt);
            o = ms_put_varint_nb3(o, v.cont,
                                  ms_zigzag(units ? (int64_t)delta >> 4 : (int64_t)delta));
          }
          last = 0;
          r++;
        } else if (head == MS_REC_ALLOC && !((addr - prev_addr) & 15)) {
          /* short ALLOC: plain, at a 16-byte multiple from prev_addr */
          uint64_t delta = addr - prev_addr;
          uint64_t *pred = &v.dt_pred[1][last];
          uint32_t st = r->stack, s = 0;
          if (st != ms__v2_list_first(&stk)) { /* the common places inline */
            if (st == ms__v2_list_second(&stk))
              ms__v2_list_swap01(&stk), s = 1;
            else
              s = ms__v2_mtf(&stk, st);
          }
          *o++ = (uint8_t)(MS_V2_TAG_ALLOC_SHORT | s << 3 | (r->size & 7));
          o = ms_put_varint_nb(o, v.cont, ms_zigzag((int64_t)(dt - *pred)));
          o = ms_put_varint_nb3(o, v.cont, ms_zigzag((int64_t)delta >> 4));
          o = ms_put_varint_nb(o, v.cont, r->size >> 3);
          if (__builtin_expect(s == MS_V2_NSTACKS, 0))
            o = ms_put_varint_nb(o, v.cont, st);
          *pred = dt;
          last = 1;
          v.recent[nb & (MS_V2_RECENT - 1)] = addr; /* MS__V2_BIAS: a multiple of it */
          if (++nb <= UINT16_MAX)
            v.where[ms__v2_hash(addr)] = (uint16_t)nb;
          r++;
        } else if ((uint16_t)head == (MS_REC_FREE | MS_FLAG_REALLOC_RELEASE << 8)) {
          /* a moving realloc's release (any weight): by age when recent, else long */
          uint32_t m = v.where[ms__v2_hash(addr)], age = nb - m;
          if (age < MS_V2_RECENT && v.recent[(m - 1) & (MS_V2_RECENT - 1)] == addr) {
            uint64_t *pred = &v.dt_pred[3][last];
            *o++ = age ? MS_V2_TAG_RELEASE_RECENT : MS_V2_TAG_RELEASE_LAST;
            o = ms_put_varint_nb(o, v.cont, ms_zigzag((int64_t)(dt - *pred)));
            *pred = dt;
            if (age)
              *o++ = (uint8_t)age; /* < 128: one varint byte */
          } else {
            *o++ = (uint8_t)(MS_REC_FREE | MS_V2_FLAG_RELEASE);
            o = ms_put_varint_nb(o, v.cont, dt);
            o = ms_put_varint_nb3(o, v.cont, ms_zigzag((int64_t)(addr - prev_addr)));
          }
          last = 0;
          nonev++;
          r++;
        } else if ((head & 0xffff00ff) == MS_REC_REALLOC && rend - r >= 2) {
          /* compact REALLOC (no weight, both slots here): old often prev_addr, its release
           * having come just before */
          uint64_t old = r[1].addr, d2 = addr - old, *pred = &v.dt_pred[2][last];
          int same = old == prev_addr, units = !(d2 & 15);
          *o++ = (uint8_t)(MS_V2_KIND_REALLOC | ((head & (MS_FLAG_REALLOC_RELEASE << 8)) ?
                                                 MS_V2_FLAG_RELEASE : 0) |
                           (same ? MS_V2_FLAG_OLD_PREV : 0) | (units ? MS_V2_FLAG_NEW_UNITS : 0));
          o = ms_put_varint_nb(o, v.cont, ms_zigzag((int64_t)(dt - *pred)));
          *pred = dt;
          if (!same)
            o = ms_put_varint_nb3(o, v.cont, ms_zigzag((int64_t)(old - prev_addr)));
          o = ms_put_varint_nb3(o, v.cont, ms_zigzag(units ? (int64_t)d2 >> 4 : (int64_t)d2));
          o = ms_put_varint_nb(o, v.cont, r->size);
          uint32_t st = r->stack, s = ms__v2_mtf(&rstk, st); /* a place, or the id after */
          o = ms_put_varint_nb(o, v.cont, s < MS_V2_NSTACKS ? s : (uint64_t)MS_V2_NSTACKS + st);
          last = 2;
          v.recent[nb & (MS_V2_RECENT - 1)] = addr; /* MS__V2_BIAS: a multiple of it */
          if (++nb <= UINT16_MAX)
            v.where[ms__v2_hash(addr)] = (uint16_t)nb;
          extra++;
          r += 2;
        } else {
          break; /* a rare kind or form, or a REALLOC cut by `to`: the general path */
        }
        prev_addr = addr;
        prev_ts = ts;
      }
      if (r >= bend) { /* the batch is done (a REALLOC may end it one slot past bend) */
        if (r < rend)
          continue; /* check the room again */
        break;
      }
    }
    /* The general path: rare kinds and forms, and the chunk's end. */
    v.nalloc = nb - MS__V2_BIAS;
    v.last = last;
    size_t worst;
    uint32_t slots = ms__rec_extent(r, &worst);
    if (!slots || slots > (size_t)(rend - r))
      break;
    if ((size_t)(limit - o) < worst) {
      uint32_t nrec = (uint32_t)(r - rchunk) - extra;
      if (nrec)
        e->emit(e, (uint32_t)(o - start), nrec, nrec - nonev, base_ts, (uint32_t)(r - recs),
                prev_ts);
      start = e->out + MS_CHUNK_HEADER_SIZE;
      limit = e->out + e->cap;
      o = start;
      rchunk = r;
      extra = nonev = 0;
      base_ts = prev_ts;
      prev_addr = 0;
      ms__v2_reset(&v);
      ms__v2_list_reset(&stk);
      ms__v2_list_reset(&rstk);
      nb = MS__V2_BIAS, last = 2;
      if ((size_t)(limit - o) < worst)
        break; /* larger than a whole chunk: only a damaged ring file has this */
      continue; /* the fast path may take it now */
    }
    o = ms__v2_slow_body(&v, r, o, &prev_ts, &prev_addr);
    if (r->kind != MS_REC_STACK) /* STACK has no time: it leaves `last` alone */
      v.last = r->kind == MS_REC_FREE ? 0 : r->kind == MS_REC_ALLOC ? 1 : 2;
    nonev += !(r->kind == MS_REC_ALLOC || r->kind == MS_REC_REALLOC ||
               (r->kind == MS_REC_FREE && !(r->aux & MS_FLAG_REALLOC_RELEASE)));
    extra += slots - 1;
    r += slots;
    nb = v.nalloc + MS__V2_BIAS;
    last = v.last;
  }
  uint32_t nrec = (uint32_t)(r - rchunk) - extra;
  if (nrec)
    e->emit(e, (uint32_t)(o - start), nrec, nrec - nonev, base_ts, (uint32_t)(r - recs),
            prev_ts);
  e->last_ts = prev_ts;
  return (uint32_t)(r - recs);
}

/* Encodes records [from, to) and emits them as chunks, in e->version's format (the current
 * one unless a test asks for version 1). Timestamps are clamped to be monotonic within the
 * file (the encoding stores unsigned deltas). A multi-slot record that does not fit before
 * `to` (being written by its owner right now, in a foreign flush) is left for the next call.
 * Returns the slot after the last record encoded. */
static inline uint32_t ms_encode_range(ms_encoder_t *e, const ms_rec_t *recs, uint32_t from,
                                       uint32_t to) {
  if (__builtin_expect(e->version == 1, 0))
    return ms__encode_range_v1(e, recs, from, to);
  return ms__encode_range_v2(e, recs, from, to);
}

#endif /* MS_ENCODE_H */
