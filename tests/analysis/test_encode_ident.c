/* test_encode_ident: the chunk encoder (format/ms_encode.h) against a frozen reference copy
 * of it (ms_encode_ref.h, main before the issue-12 speed work). Both encode the same varied,
 * deterministic record streams (every kind and form: allocs of many sizes, alignments and
 * weights, frees of recent and old blocks, realloc releases, reallocs moving and in place,
 * stacks, marks, vars, equal and backward timestamps, ranges cut mid-record, chunk
 * boundaries at several buffer sizes, damaged rings; and a realloc-heavy stream shaped like
 * sqlite3's, whose REALLOCs and releases the fast loop takes; and one with every fast-path
 * varint at its length edges) and every emitted chunk must be the same bytes with the same
 * counts, the new encoder's buffer ending at an unwritable page. The branchless varint
 * writers are also checked alone against ms_put_varint (check_varints). Format v2 is
 * documented and written to disk: a faster encoder may not change one byte of it.
 * Usage: test_encode_ident [v2|v1|damaged]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ms_encode.h"
#include "ms_encode_ref.h"

/* cap bytes that end where a PROT_NONE page starts. */
static size_t guard_span(size_t cap) { return (cap + 4095) / 4096 * 4096 + 4096; }
static uint8_t *guarded(size_t cap) {
  size_t span = guard_span(cap);
  uint8_t *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED || mprotect(m + span - 4096, 4096, PROT_NONE)) {
    fprintf(stderr, "test_encode_ident: cannot map a guarded buffer\n");
    exit(2);
  }
  return m + span - 4096 - cap;
}
static void unguard(uint8_t *p, size_t cap) {
  munmap(p + cap + 4096 - guard_span(cap), guard_span(cap));
}

/* ms_put_varint_nb and _nb3 against ms_put_varint: every value below 2^22 + 8, 2^k - 2 to
 * 2^k + 1 for every k, 2^64 - 1 and 4M values of every length; the same bytes and length,
 * and nothing stored past max(length, 2) (nb) or max(length, 4) (nb3, below 2^21). */
static int check_varints(void) {
  static const uint32_t cont[4] = MS_VARINT_CONT;
  unsigned long bad = 0, tried = 0;
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < (1u << 22) + 8 + 64 * 4 + 1 + 4000000; i++) {
    uint64_t v = i;
    if (i >= (1u << 22) + 8 + 64 * 4 + 1) { /* random, of every length */
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      unsigned bits = (unsigned)(x % 65);
      uint64_t y = x * 0x9e3779b97f4a7c15ull;
      v = bits == 64 ? y : y & ((1ull << bits) - 1);
    } else if (i > (1u << 22) + 8) { /* the edges: 2^k - 2 .. 2^k + 1, and 2^64 - 1 */
      uint64_t j = i - (1u << 22) - 9;
      v = j == 64 * 4 ? UINT64_MAX : (1ull << (j / 4)) + (j % 4) - 2;
    }
    uint8_t ref[16], a[16], b[16];
    memset(ref, 0xa5, 16), memset(a, 0xa5, 16), memset(b, 0xa5, 16);
    size_t n = (size_t)(ms_put_varint(ref, v) - ref);
    size_t na = (size_t)(ms_put_varint_nb(a, cont, v) - a);
    size_t nb = (size_t)(ms_put_varint_nb3(b, cont, v) - b);
    size_t wa = n < 2 ? 2 : n, wb = v < (1u << 21) ? 4 : n;
    int fail = na != n || nb != n || memcmp(a, ref, n) || memcmp(b, ref, n);
    for (size_t k = wa; k < 16; k++)
      fail |= a[k] != 0xa5;
    for (size_t k = wb; k < 16; k++)
      fail |= b[k] != 0xa5;
    if (fail && bad++ < 5)
      fprintf(stderr, "FAIL varint %llu: length %zu, nb %zu, nb3 %zu\n", (unsigned long long)v,
              n, na, nb);
    tried++;
  }
  printf("varints: %lu values, %s\n", tried, bad ? "MISMATCH" : "identical");
  return bad != 0;
}

#define NREC 60000u

static int g_damaged;
static int g_wide; /* fast-path records with long fields: the batch room bound at chunk ends */
static int g_long; /* ranges up to 6000 slots: chunks end on room, not on the range's end */

typedef struct {
  uint8_t *buf; /* every emitted chunk's payload, back to back */
  size_t len, cap;
  uint64_t *meta; /* per chunk: len, nrec, nev, base_ts, end_slot, last_ts */
  size_t nmeta, capmeta;
} sink_t;

static void sink_add(sink_t *s, const uint8_t *p, uint32_t len, uint32_t nrec, uint32_t nev,
                     uint64_t base_ts, uint32_t end_slot, uint64_t last_ts) {
  if (s->len + len > s->cap) {
    s->cap = (s->len + len) * 2;
    s->buf = realloc(s->buf, s->cap);
  }
  memcpy(s->buf + s->len, p, len);
  s->len += len;
  if (s->nmeta + 6 > s->capmeta) {
    s->capmeta = (s->nmeta + 6) * 2;
    s->meta = realloc(s->meta, s->capmeta * sizeof *s->meta);
  }
  uint64_t m[6] = {len, nrec, nev, base_ts, end_slot, last_ts};
  memcpy(s->meta + s->nmeta, m, sizeof m);
  s->nmeta += 6;
  if (!s->buf || !s->meta) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
}

static void emit_new(ms_encoder_t *e, uint32_t len, uint32_t nrec, uint32_t nev,
                     uint64_t base_ts, uint32_t end_slot, uint64_t last_ts) {
  sink_add(e->user, e->out + MS_CHUNK_HEADER_SIZE, len, nrec, nev, base_ts, end_slot, last_ts);
}
static void emit_ref(msref_encoder_t *e, uint32_t len, uint32_t nrec, uint32_t nev,
                     uint64_t base_ts, uint32_t end_slot, uint64_t last_ts) {
  sink_add(e->user, e->out + MS_CHUNK_HEADER_SIZE, len, nrec, nev, base_ts, end_slot, last_ts);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) { /* xorshift64: deterministic across runs */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static uint64_t pick(uint64_t n) { return rnd() % n; }

/* A value of widely varying varint length: 0, small, 2-byte, ..., up to 64 bits. */
static uint64_t wide(void) {
  unsigned bits = (unsigned)pick(65);
  uint64_t v = rnd();
  return bits == 64 ? v : v & ((1ull << bits) - 1);
}

/* Fills recs[0, n) with a stream shaped like a program's (heap-like addresses, hot stacks)
 * with every rare form mixed in. Returns slots used. */
static uint32_t gen(ms_rec_t *recs, uint32_t n, int damaged) {
  static uint64_t live[4096];
  uint32_t nlive = 0, i = 0;
  uint64_t ts = 1000, heap = 0x7f0000001000ull;
  uint32_t hot[5] = {3, 9, 9, 40, 100000};
  while (i + 80 < n) {
    ms_rec_t *r = &recs[i];
    memset(r, 0, sizeof *r);
    uint64_t t = pick(100);
    /* timestamps: mostly small steps, some equal, some backward, some huge */
    uint64_t tk = pick(20);
    if (g_wide)
      tk = 2 + 18 * (pick(3) == 0);
    ts = tk == 0 ? ts : tk == 1 ? ts - pick(500) : tk == 2 ? ts + wide() % (1ull << 40)
                                                           : ts + 1 + pick(300);
    r->ts = ts;
    if (damaged && pick(400) == 0) { /* junk the salvage pass may meet */
      uint64_t d = pick(3);
      r->kind = d == 0 ? 0 : d == 1 ? 9 : MS_REC_STACK;
      r->size = d == 2 ? 257 + pick(1000) : wide();
      i++;
      continue;
    }
    if (t < 45) { /* ALLOC */
      r->kind = MS_REC_ALLOC;
      uint64_t a = pick(10);
      heap += 16 * (1 + pick(8));
      r->addr = a == 0 ? rnd() : a == 1 ? heap + 1 + pick(15) : heap;
      r->size = pick(4) ? pick(200) : wide();
      if (g_wide)
        r->addr = rnd() & ~15ull, r->size = rnd(), a = 2;
      r->stack = pick(3) ? hot[pick(5)] : (uint32_t)pick(60) + (pick(10) ? 0 : (uint32_t)rnd());
      if (pick(15) == 0)
        r->aux = (uint8_t)(3 + pick(10));
      if (pick(15) == 0)
        r->aux = (uint8_t)pick(256); /* any byte: the encoder takes aux & 63 */
      if (pick(12) == 0)
        r->weight = (uint16_t)(1 + pick(65535));
      live[nlive++ & 4095] = r->addr;
      i++;
    } else if (t < 85) { /* FREE: recent, old, unknown */
      r->kind = MS_REC_FREE;
      uint64_t k = pick(10);
      uint32_t back = k < 6 ? (uint32_t)pick(8) : k < 8 ? (uint32_t)pick(300) : 0;
      r->addr = k < 8 && nlive > back ? live[(nlive - 1 - back) & 4095] : rnd() & ~15ull;
      if (k == 9)
        r->addr = heap - 16 * pick(100) + pick(2) * 8;
      if (pick(10) == 0)
        r->aux = MS_FLAG_REALLOC_RELEASE;
      i++;
    } else if (t < 92) { /* REALLOC, with or without a release before it */
      uint64_t old = nlive ? live[(nlive - 1 - (uint32_t)pick(nlive < 200 ? nlive : 200)) & 4095]
                           : heap;
      int moving = (int)pick(2);
      if (moving && pick(2)) { /* the release of the old block comes first */
        r->kind = MS_REC_FREE;
        r->aux = MS_FLAG_REALLOC_RELEASE;
        r->addr = old;
        r = &recs[++i];
        memset(r, 0, 2 * sizeof *r);
        r->ts = ts + pick(3);
        r->aux = MS_FLAG_REALLOC_RELEASE;
      } else {
        memset(r + 1, 0, sizeof *r);
      }
      r->kind = MS_REC_REALLOC;
      heap += 16 * (1 + pick(8));
      r->addr = !moving ? old : pick(8) ? heap : heap + 1 + pick(15);
      r->size = pick(3) ? pick(5000) : wide();
      r->stack = pick(2) ? hot[pick(5)] : (uint32_t)pick(30);
      if (pick(8) == 0)
        r->weight = (uint16_t)(1 + pick(100));
      r[1].addr = old;
      live[nlive++ & 4095] = r->addr;
      i += 2;
    } else if (t < 96) { /* STACK */
      r->kind = MS_REC_STACK;
      r->stack = (uint32_t)pick(100000);
      r->size = pick(8) ? pick(17) : pick(65);
      uint64_t *fr = (uint64_t *)(void *)&r[1];
      memset(&r[1], 0, ((r->size + 3) / 4) * sizeof *r);
      for (uint64_t k = 0; k < r->size; k++)
        fr[k] = pick(4) ? 0x400000 + pick(1 << 20) : rnd();
      i += 1 + (uint32_t)((r->size + 3) / 4);
    } else if (t < 98) { /* MARK */
      r->kind = MS_REC_MARK;
      r->aux = (uint8_t)(1 + pick(6));
      r->size = pick(64);
      char *s = (char *)&r[1];
      memset(&r[1], 0, ((r->size + 31) / 32) * sizeof *r);
      for (uint64_t k = 0; k < r->size; k++)
        s[k] = (char)('a' + pick(26));
      i += 1 + (uint32_t)((r->size + 31) / 32);
    } else { /* VAR */
      r->kind = MS_REC_VAR;
      uint32_t ln = (uint32_t)pick(40), lt = (uint32_t)pick(40), lf = (uint32_t)pick(80);
      r->stack = ln | lt << 8 | lf << 16;
      r->addr = pick(2) ? heap : rnd();
      r->size = pick(5000);
      size_t total = ln + lt + lf;
      memset(&r[1], 0, ((total + 31) / 32) * sizeof *r);
      char *s = (char *)&r[1];
      for (size_t k = 0; k < total; k++)
        s[k] = (char)('A' + pick(26));
      i += 1 + (uint32_t)((total + 31) / 32);
    }
  }
  return i;
}

/* A realloc-heavy stream shaped like sqlite3's (issue 12: its reallocs and their releases now
 * take the fast loop): ALLOCs from 5-9 cycling call sites (places 0-6 and absent, id 0 and
 * ids past 2^31 among them), FREEs of recent blocks, grow chains of one block reallocated
 * in place or moving (its release FREE first, of a recent or an old block, with or without
 * a weight), reallocs with extra aux bits, weighted reallocs, and a few odd addresses, so
 * every branch of the fast loop's realloc forms runs, interleaved. Returns slots used. */
static uint32_t gen_sqlite(ms_rec_t *recs, uint32_t n) {
  static uint64_t live[4096];
  uint32_t nlive = 0, i = 0, cyc = 0;
  uint64_t ts = 5000, heap = 0x5600000010a0ull, chain = 0;
  uint32_t sites[9] = {11, 12, 13, 0, 14, 15, 0x80000001u, 16, 17};
  uint32_t rsites[9] = {21, 22, 21, 23, 24, 25, 26, 27, 0xfffffff0u};
  while (i + 4 < n) {
    ms_rec_t *r = &recs[i];
    memset(r, 0, 2 * sizeof *r);
    ts += pick(10) ? 1 + pick(200) : pick(3) == 0 ? 0 : wide() % (1ull << 36);
    if (g_wide) /* time jumps near 2^62 (and wraps, then clamps): 10-byte dt errors */
      ts += pick(2) ? (1ull << 62) + rnd() % (1ull << 61) : 1;
    if (pick(30) == 0)
      ts -= pick(50); /* backward: the encoder clamps */
    r->ts = ts;
    uint64_t t = pick(100);
    if (t < 38) { /* ALLOC */
      r->kind = MS_REC_ALLOC;
      heap += 16 * (1 + pick(40));
      r->addr = pick(50) ? heap : heap + 8;
      r->size = pick(10) ? 8 + pick(600) : wide();
      uint32_t nsites = 5 + (uint32_t)pick(5);
      r->stack = sites[cyc++ % nsites];
      if (pick(40) == 0)
        r->weight = (uint16_t)(1 + pick(9));
      live[nlive++ & 4095] = r->addr;
      i++;
    } else if (t < 62) { /* FREE of a recent block, sometimes an old one */
      r->kind = MS_REC_FREE;
      uint32_t back = pick(5) ? (uint32_t)pick(16) : (uint32_t)pick(400);
      r->addr = nlive > back ? live[(nlive - 1 - back) & 4095] : heap;
      if (pick(50) == 0)
        r->aux = MS_FLAG_REALLOC_RELEASE | (uint8_t)(1 + pick(3)); /* other bits: general */
      i++;
    } else { /* REALLOC: the current chain's block (a grow chain) or another live one */
      uint64_t old = chain && pick(4) ? chain
                     : nlive ? live[(nlive - 1 - (uint32_t)pick(nlive < 300 ? nlive : 300)) & 4095]
                             : 0;
      int moving = !old || pick(2);
      if (moving && old) { /* its release first */
        r->kind = MS_REC_FREE;
        r->aux = MS_FLAG_REALLOC_RELEASE;
        r->addr = old;
        if (pick(20) == 0)
          r->weight = (uint16_t)(1 + pick(50));
        r = &recs[++i];
        memset(r, 0, 2 * sizeof *r);
        r->ts = ts + pick(3);
        r->aux = MS_FLAG_REALLOC_RELEASE;
      }
      r->kind = MS_REC_REALLOC;
      heap += 16 * (1 + pick(60));
      r->addr = !moving ? old : pick(30) ? heap : heap + 4;
      if (pick(15) == 0)
        r->aux |= (uint8_t)(1 + pick(63)); /* bits the encoder ignores */
      r->size = pick(8) ? 64 + pick(9000) : wide();
      r->stack = pick(8) ? rsites[pick(9)] : (uint32_t)rnd();
      if (g_wide) /* the compact REALLOC's longest form (46 bytes): far old, odd far new */
        r[1].addr = old = rnd(), r->addr = rnd() | 1, r->size = rnd() | 1ull << 63,
        r->stack = (uint32_t)rnd() | 1u << 31;
      if (pick(25) == 0)
        r->weight = (uint16_t)(1 + pick(100));
      r[1].kind = MS_REC_CONT;
      if (!g_wide)
        r[1].addr = old;
      chain = r->addr;
      live[nlive++ & 4095] = r->addr;
      i += 2;
    }
  }
  return i;
}

/* Every fast-path varint at its length edges (review of issue 12's branchless varints:
 * ms_put_varint_nb stores 2 bytes, _nb3 4, with a fallback from 2^14 / 2^21). Each field a
 * fast-path record writes takes, over the stream, every value of E (0, the last 1-, 2-, 3-
 * and 4-byte values and the first after them, up to 2^64 - 1), each in its own rotation:
 * long FREE and long release (dt, address delta in 16-byte units or bytes), short ALLOC
 * (address delta, size >> 3, an explicit stack id), compact REALLOC (old delta, new - old,
 * size, stack code 7 + id), and the recent FREE and release by age that follow an
 * allocation. The raw fields (long forms' dt up to 2^35, size, stack) and the address deltas
 * in 16-byte units get E itself as the varint (E as the zigzag); the predicted-dt fields and
 * the odd byte deltas get values of every length near it. */
static const uint64_t E[] = {0, 1, 127, 128, 129, 16383, 16384, 16385, (1u << 21) - 1,
                             1u << 21, (1u << 21) + 1, (1u << 28) - 1, 1u << 28,
                             (1ull << 35) - 1, 1ull << 35, 1ull << 42, 1ull << 56,
                             (1ull << 63) - 1, UINT64_MAX};
#define NE (sizeof E / sizeof E[0])
static uint64_t unzz(uint64_t z) { return (z >> 1) ^ (0 - (z & 1)); }

static uint32_t gen_edges(ms_rec_t *recs, uint32_t n) {
  uint32_t i = 0, j = 0;
  uint64_t ts = 1000, prev = 0x7f0000000000ull, last_alloc = 0;
  while (i + 4 < n) {
    ms_rec_t *r = &recs[i];
    memset(r, 0, 2 * sizeof *r);
    uint64_t e1 = E[j % NE], e2 = E[(j / NE + 3 * j) % NE], e3 = E[(j / (NE * NE) + 7 * j) % NE];
    uint64_t dt = e1 <= (1ull << 35) ? e1 : j & 7; /* raw dt: no wrap of ts */
    ts += dt;
    r->ts = ts;
    switch (j % 7) {
    case 0: /* long FREE, 16-byte units (an address never allocated) */
    case 1: /* long FREE, bytes (odd delta) */
      r->kind = MS_REC_FREE;
      r->addr = prev + (j % 7 == 0 ? unzz(e2) << 4 : (unzz(e2) | 1));
      break;
    case 2: /* long release (never recent) */
      r->kind = MS_REC_FREE;
      r->aux = MS_FLAG_REALLOC_RELEASE;
      r->addr = prev + unzz(e2);
      break;
    case 3: /* short ALLOC: delta, size >> 3 and a stack id not in the move-to-front list */
    case 5:
      r->kind = MS_REC_ALLOC;
      r->addr = prev + (unzz(e2) << 4);
      r->size = e3 << 3 | (j & 7);
      r->stack = (uint32_t)(e1 > 0xffffffffu ? 1000 + j : e1);
      last_alloc = r->addr;
      break;
    case 4: /* compact REALLOC: old delta, new - old (units or bytes), size, code 7 + id */
      r->kind = MS_REC_REALLOC;
      r[1].addr = prev + unzz(e1); /* e1 = 0: old is prev_addr (no old delta) */
      r->addr = r[1].addr + ((j / 7) & 1 ? unzz(e2) << 4 : unzz(e2) | 1);
      r->size = e3;
      r->stack = (uint32_t)(e2 >= 7 && e2 - 7 <= 0xffffffffu ? e2 - 7 : 2000 + j);
      last_alloc = r->addr;
      i++;
      break;
    default: /* the recent FREE or release by age of the last allocation */
      r->kind = MS_REC_FREE;
      r->addr = last_alloc;
      if ((j / 7) & 1) { /* its release, then the REALLOC that moved it */
        r->aux = MS_FLAG_REALLOC_RELEASE;
        r = &recs[++i];
        memset(r, 0, 2 * sizeof *r);
        r->ts = ts;
        r->kind = MS_REC_REALLOC;
        r->aux = MS_FLAG_REALLOC_RELEASE;
        r->addr = last_alloc + (unzz(e3) << 4);
        r->size = e2;
        r->stack = 30;
        r[1].addr = last_alloc;
        last_alloc = r->addr;
        i++;
      }
      break;
    }
    prev = r->addr;
    i++, j++;
  }
  return i;
}

/* Encodes recs[0, n) in ranges of random length (cutting multi-slot records: the encoder
 * leaves those for the next call) with both encoders and compares everything. */
static int run(const ms_rec_t *recs, uint32_t n, size_t cap, int version, uint64_t seed) {
  /* the new encoder's buffer ends at a page it cannot write: its branchless varints store
   * whole words past a field's end (up to 3 bytes), and a store past cap would fault here
   * (a calloc'd slack would hide it) */
  uint8_t *out_a = guarded(cap), *out_b = calloc(1, cap + 64);
  sink_t a = {0}, b = {0};
  ms_encoder_t ea = {.out = out_a, .cap = cap, .last_ts = 0, .emit = emit_new, .user = &a,
                     .version = version};
  msref_encoder_t eb = {.out = out_b, .cap = cap, .last_ts = 0, .emit = emit_ref, .user = &b,
                        .version = version};
  int fails = 0;
  uint32_t from = 0, calls = 0;
  rng = seed;
  while (from < n) {
    uint32_t len = pick(4) ? 1 + (uint32_t)pick(g_long ? 6000 : 1536) : 1 + (uint32_t)pick(6);
    uint32_t to = from + len > n ? n : from + len;
    uint32_t ra = ms_encode_range(&ea, recs, from, to);
    uint32_t rb = msref_encode_range(&eb, recs, from, to);
    calls++;
    if (ra != rb || ea.last_ts != eb.last_ts) {
      fprintf(stderr, "FAIL cap %zu v%d call %u [%u,%u): returned %u vs ref %u, last_ts %llu vs %llu\n",
              cap, version, calls, from, to, ra, rb, (unsigned long long)ea.last_ts,
              (unsigned long long)eb.last_ts);
      fails++;
      break;
    }
    /* stuck on a record (cut by `to`, or junk in a damaged ring): move on like salvage */
    from = ra > from ? ra : to == n || (g_damaged && pick(2)) ? ra + 1 : ra;
  }
  if (!fails && (a.nmeta != b.nmeta || a.len != b.len)) {
    fprintf(stderr, "FAIL cap %zu v%d: %zu chunks / %zu bytes vs ref %zu / %zu\n", cap, version,
            a.nmeta / 6, a.len, b.nmeta / 6, b.len);
    fails++;
  }
  if (!fails) {
    size_t off = 0;
    for (size_t c = 0; c < a.nmeta / 6 && !fails; c++) {
      if (memcmp(a.meta + 6 * c, b.meta + 6 * c, 6 * sizeof *a.meta)) {
        fprintf(stderr, "FAIL cap %zu v%d chunk %zu: counts differ (len %llu/%llu nrec %llu/%llu nev %llu/%llu)\n",
                cap, version, c, (unsigned long long)a.meta[6 * c], (unsigned long long)b.meta[6 * c],
                (unsigned long long)a.meta[6 * c + 1], (unsigned long long)b.meta[6 * c + 1],
                (unsigned long long)a.meta[6 * c + 2], (unsigned long long)b.meta[6 * c + 2]);
        fails++;
      }
      size_t l = (size_t)a.meta[6 * c];
      for (size_t k = 0; k < l && !fails; k++)
        if (a.buf[off + k] != b.buf[off + k]) {
          fprintf(stderr, "FAIL cap %zu v%d chunk %zu byte %zu: %02x vs ref %02x\n", cap, version,
                  c, k, a.buf[off + k], b.buf[off + k]);
          fails++;
        }
      off += l;
    }
  }
  if (!fails && a.nmeta / 6 < 3) {
    fprintf(stderr, "FAIL cap %zu: only %zu chunks: the stream does not cross chunk boundaries\n",
            cap, a.nmeta / 6);
    fails++;
  }
  printf("cap %zu v%d: %u calls, %zu chunks, %zu payload bytes%s\n", cap, version, calls,
         a.nmeta / 6, a.len, fails ? " MISMATCH" : " identical");
  free(a.buf), free(a.meta), free(b.buf), free(b.meta), unguard(out_a, cap), free(out_b);
  return fails;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "v2";
  int version = strcmp(mode, "v1") ? 0 : 1, damaged = !strcmp(mode, "damaged");
  g_damaged = damaged;
  if (strcmp(mode, "v2") && strcmp(mode, "v1") && strcmp(mode, "damaged")) {
    fprintf(stderr, "usage: test_encode_ident [v2|v1|damaged]\n");
    return 2;
  }
  ms_rec_t *recs = calloc(NREC + 300, sizeof *recs);
  if (!recs)
    return 2;
  uint32_t n = gen(recs, NREC, damaged);
  /* Buffer sizes: the tracker's 16 KiB, and the smallest the contract allows (4 KiB plus the
   * largest record) so chunks break often and at every kind of record. */
  static const size_t caps[] = {16384, 4096 + 4200, 9000};
  int fails = version == 1 ? 0 : check_varints();
  for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
    fails += run(recs, n, caps[c], version, 12345 + c);
  g_wide = 1; /* the same with mostly long fast-path records */
  n = gen(recs, NREC, damaged);
  for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
    fails += run(recs, n, caps[c], version, 777 + c);
  g_wide = 0;
  if (!damaged) { /* sqlite's shape: realloc chains and releases among allocs and frees */
    memset(recs, 0, (NREC + 300) * sizeof *recs);
    n = gen_sqlite(recs, NREC);
    for (g_long = 0; g_long < 2; g_long++)
      for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
        fails += run(recs, n, caps[c], version, 4242 + c + 10 * (size_t)g_long);
    /* every fast-path varint at its length edges (gen_edges), ranges cut at random and
     * chunks ending on room at each buffer size */
    memset(recs, 0, (NREC + 300) * sizeof *recs);
    n = gen_edges(recs, NREC);
    for (g_long = 0; g_long < 2; g_long++)
      for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
        fails += run(recs, n, caps[c], version, 5151 + c + 10 * (size_t)g_long);
    g_wide = g_long = 1; /* the same with the longest REALLOCs: the batch bound */
    memset(recs, 0, (NREC + 300) * sizeof *recs);
    n = gen_sqlite(recs, NREC);
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++)
      fails += run(recs, n, caps[c], version, 99 + c);
  }
  free(recs);
  return fails ? 1 : 0;
}
