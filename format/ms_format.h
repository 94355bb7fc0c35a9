/* ms_format.h: the trace format's constants and codecs, shared by writer and reader.
 *
 * This header is the format (docs/trace-format.md), not a layer: the tracker includes it to
 * write and analysis/ includes it to read, and neither includes the other. Everything here
 * is static inline and allocation-free so the tracker's hot path can use it. */
#ifndef MS_FORMAT_H
#define MS_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MS_FILE_MAGIC "MSTRACE" /* 8 bytes with the NUL */
#define MS_FORMAT_VERSION 2     /* what the tracker writes (docs/trace-format.md, 3.3) */
#define MS_FORMAT_VERSION_MIN 1 /* the oldest a reader still reads */
#define MS_FILE_HEADER_SIZE 32
#define MS_CHUNK_MAGIC 0x4b43534du /* "MSCK" little-endian */
#define MS_CHUNK_HEADER_SIZE 40
#define MS_CHUNK_MAX_PAYLOAD (1u << 20)
#define MS_VARINT_MAX 10

enum ms_rec_kind {
  MS_REC_ALLOC = 1,
  MS_REC_FREE = 2,
  MS_REC_REALLOC = 3,
  MS_REC_STACK = 4,
  MS_REC_MARK = 5,
  MS_REC_VAR = 6,
};

#define MS_FLAG_ALIGN 0x10u  /* ALLOC: varint align follows */
#define MS_FLAG_WEIGHT 0x20u /* ALLOC/REALLOC: varint weight follows */
/* FREE: the release of a moving realloc's old block (not a free call); REALLOC: old was
 * already released by such a FREE. */
#define MS_FLAG_REALLOC_RELEASE 0x40u

enum ms_mark_kind {
  MS_MARK_POINT = 1,
  MS_MARK_SCOPE_BEGIN = 2,
  MS_MARK_SCOPE_END = 3,
  MS_MARK_SNAPSHOT = 4,
  MS_MARK_THREAD_NAME = 5,
  MS_MARK_RESOURCES = 6, /* the thread's CPU, context switches and I/O; payload below */
};

#define MS_NAME_MAX 63 /* longest mark / thread name kept, in bytes */

/* ---- MS_MARK_RESOURCES: a thread's resource figures (docs/trace-format.md, section 5) ----
 *
 * The MARK's string is not text but a varint count n followed by n varints, field i being
 * enum ms_res_field's i. A reader takes the fields it knows and skips the rest, so fields can
 * be appended without a version change; a field a record does not carry reads as 0. Readers
 * that predate subkind 6 treat it as an unknown mark and ignore it (format version 1 said
 * so: "readers ignore MARK subkinds they do not know"). */
enum ms_res_field {
  MS_RES_REASON = 0,      /* enum ms_res_reason: when the figures were taken */
  MS_RES_TID,             /* whose figures (the thread measured; see MS_RES_AT_END_OTHER) */
  MS_RES_SEQ,             /* that thread's thread_seq */
  MS_RES_HAVE,            /* MS_RES_HAVE_* bits: which figures below were measured */
  MS_RES_CPU_NS,          /* CLOCK_THREAD_CPUTIME_ID (the thread's CPU clock), ns */
  MS_RES_UTIME_US,        /* getrusage(RUSAGE_THREAD) ru_utime, us */
  MS_RES_STIME_US,        /* ru_stime, us */
  MS_RES_NVCSW,           /* ru_nvcsw: voluntary context switches */
  MS_RES_NIVCSW,          /* ru_nivcsw: involuntary context switches */
  MS_RES_RCHAR,           /* /proc/thread-self/io rchar: bytes read by read-like calls */
  MS_RES_WCHAR,           /* wchar: bytes written by write-like calls */
  MS_RES_SYSCR,           /* syscr: read-like calls */
  MS_RES_SYSCW,           /* syscw: write-like calls */
  MS_RES_OWN_READ_OPS,    /* the tracker's own read calls on this thread, so far */
  MS_RES_OWN_WRITE_OPS,   /* its write calls */
  MS_RES_OWN_READ_BYTES,  /* bytes they read */
  MS_RES_OWN_WRITE_BYTES, /* bytes they wrote */
  MS_RES_NFIELDS
};

enum ms_res_reason {
  MS_RES_AT_ATTACH = 1,    /* the thread's tracking started */
  MS_RES_AT_FLUSH = 2,     /* the thread wrote its buffer (full, or memscope_flush) */
  MS_RES_AT_EXIT = 3,      /* the thread ends (its buffer's last write) */
  MS_RES_AT_END = 4,       /* the process ends (exit, _exit, exec): the calling thread */
  MS_RES_AT_END_OTHER = 5, /* ... another thread still alive then, read from
                              /proc/self/task/<tid> by the calling thread: the record is in
                              the caller's file, tid and seq say whose figures they are */
};

#define MS_RES_HAVE_CPU 1u   /* MS_RES_CPU_NS */
#define MS_RES_HAVE_UTIME 2u /* MS_RES_UTIME_US, MS_RES_STIME_US (from /proc/.../stat at
                                clock-tick resolution in an AT_END_OTHER record) */
#define MS_RES_HAVE_CTXT 4u  /* MS_RES_NVCSW, MS_RES_NIVCSW */
#define MS_RES_HAVE_IO 8u    /* MS_RES_RCHAR .. MS_RES_SYSCW */

#define MS_RES_MAX_PAYLOAD (MS_VARINT_MAX * (1 + MS_RES_NFIELDS))

typedef struct ms_file_header_s {
  char magic[8];
  uint16_t version;
  uint16_t header_size;
  uint32_t pid;
  uint32_t tid;
  uint32_t thread_seq;
  uint64_t run_id;
} ms_file_header_t;

typedef struct ms_chunk_header_s {
  uint32_t magic;
  uint32_t payload_len;
  uint32_t crc32c;
  uint32_t nrecords;
  uint64_t base_ts;
  uint64_t calib_mono_ns;
  uint64_t calib_ticks;
} ms_chunk_header_t;

_Static_assert(sizeof(ms_file_header_t) == MS_FILE_HEADER_SIZE, "file header layout");
_Static_assert(sizeof(ms_chunk_header_t) == MS_CHUNK_HEADER_SIZE, "chunk header layout");

/* ---- version 2's compact records (docs/trace-format.md, section 3.5) ----------------------
 *
 * A v2 tag byte is read by its top bits: 1aaaaaaa is a FREE of the block allocated
 * aaaaaaa+1 allocations ago in this chunk (the recency ring below); 01ssllll an ALLOC whose
 * address is 16-aligned relative to prev_addr, s its stack's place in the chunk's
 * move-to-front list (3: the id follows), llll the size's low 4 bits; 00xxxxxx a long
 * record: v1's body, kind in the low 3 bits, MS_V2_FLAG_RELEASE for v1's 0x40. Encoder and
 * decoder keep the same state, reset at every chunk so a chunk decodes alone. */
#define MS_V2_TAG_FREE_RECENT 0x80u
#define MS_V2_TAG_ALLOC_SHORT 0x40u
#define MS_V2_FLAG_RELEASE 0x08u /* long FREE/REALLOC: v1's MS_FLAG_REALLOC_RELEASE */
#define MS_V2_FLAG_UNITS16 0x10u /* long FREE: the address delta is in 16-byte units */
#define MS_V2_TAG_RELEASE_RECENT 0x08u /* a realloc's release of a recent allocation: dt, age */
#define MS_V2_TAG_RELEASE_LAST 0x18u   /* ... of the chunk's last allocation (age 0): dt */
#define MS_V2_KIND_REALLOC 7u    /* compact REALLOC (no weight); flags below and 0x08 */
#define MS_V2_FLAG_OLD_PREV 0x10u /* compact REALLOC: old == prev_addr, no old delta */
#define MS_V2_FLAG_NEW_UNITS 0x20u /* compact REALLOC: new-old in 16-byte units */
#define MS_V2_RECENT 128u        /* allocation addresses remembered (a power of two) */
#define MS_V2_NSTACKS 7u         /* stack ids in the move-to-front list (3 tag bits: 7 = the id follows) */

/* ---- rings: the tracker's per-thread record buffers, as a shared file mapping ------------
 *
 * Each thread buffer's fixed-size records live in a MAP_SHARED mapping of segment n of the
 * run directory's `memscope_rings.raw` (docs/trace-format.md, section 6). The
 * pages are the page cache itself, so whatever the tracker committed survives the process
 * however it ends (_exit, a fatal signal, SIGKILL), and a salvage pass (analysis/
 * ms_salvage.c) can encode the records that never reached the thread file. The layout is
 * the tracker's in-memory one: a 256-byte header, then rec_cap 32-byte records, then (ring
 * version 2) the stage: encoded chunks not yet written to the thread file, up to the end of
 * the segment. The tracker writes the stage to the file when the next chunk would not fit
 * and wherever it used to write (thread exit, exit, _exit, exec, memscope_flush), so one
 * write(2) carries several chunks (docs/tracker.md, "Staged chunks"). */
#define MS_RING_MAGIC "MSRING1" /* 8 bytes with the NUL */
#define MS_RING_VERSION 2
#define MS_RING_VERSION_MIN 1 /* version 1: no stage (the staged_* fields read as 0) */
#define MS_RING_HEADER_SIZE 256

/* One record as the hook writes it (not the encoded form). A multi-slot record (REALLOC,
 * STACK, MARK, VAR) is followed by MS_REC_CONT slots holding its payload. */
typedef struct ms_rec_s {
  uint8_t kind;       /* enum ms_rec_kind, or MS_REC_CONT for a continuation slot */
  uint8_t aux;        /* ALLOC: log2(alignment), 0 = none; MARK: subkind; FREE/REALLOC: flags */
  uint16_t weight;    /* sampled modes: calls this event stands for; 0 = none written */
  uint32_t stack;     /* stack id; STACK: the id being defined; VAR: packed string lengths */
  uint64_t ts;        /* ticks */
  uint64_t addr;      /* block address (REALLOC: the new block) */
  uint64_t size;      /* ALLOC/REALLOC: bytes; STACK: frames; MARK: name length; VAR: line */
} ms_rec_t;

#define MS_REC_CONT 0 /* payload slot of a multi-slot record */

typedef struct ms_ring_hdr_s {
  /* First cache line: written by the owning thread on every event. */
  uint32_t pos;          /* records committed (release store) */
  uint32_t pending;      /* 1 between an allocator's return and its record's commit */
  uint64_t n_alloc, n_free, n_bytes; /* this thread's recorded calls */
  uint8_t pad0[32];
  /* Cold: written at attach and around every chunk write (under the buffer's lock). */
  char magic[8];         /* MS_RING_MAGIC */
  uint32_t version;      /* MS_RING_VERSION */
  uint32_t rec_cap;      /* records the file holds after the header */
  uint32_t pid, tid, thread_seq;
  uint32_t flushed;      /* records [0, flushed) are in the thread file or the stage */
  uint64_t run_id;
  uint64_t last_ts;      /* the encoder's timestamp base after the last chunk staged */
  uint64_t file_bytes;   /* the thread file's size after the last whole write */
  uint64_t wr_file_end;  /* a write of the stage in progress (wr_busy) ends the file here */
  uint32_t wr_end;       /* a chunk being staged (st_busy): flushed once it is in */
  uint32_t wr_busy;      /* 1 while the stage is being written to the file; 2 while a
                          * failed write's events are counted lost (a salvage: ring bad) */
  char file_name[64];    /* the thread file, "" before its first chunk */
  uint64_t lost;         /* records of this buffer whose write failed (never reset) */
  uint64_t unrecorded;   /* calls on this buffer after tracking stopped (never reset) */
  uint64_t wr_last_ts;   /* a chunk being staged (st_busy): last_ts once it is in */
  /* Version 2: the stage. Bytes [0, staged) of the stage are whole chunks, staged_rec
   * records and staged_ev allocator events, that are not in the thread file (the file ends
   * at file_bytes, or at wr_file_end when wr_busy and the file reached it: then they are).
   * A chunk is copied in past `staged` first, then announced (st_next_*, wr_end,
   * wr_last_ts) with st_busy set, then published (staged, staged_*, flushed, last_ts) and
   * st_busy cleared: a salvage that finds st_busy takes the announced values. */
  uint32_t staged;
  uint32_t staged_rec, staged_ev;
  uint32_t st_busy;
  uint32_t st_next_staged, st_next_rec, st_next_ev;
  uint32_t pad1;
} ms_ring_hdr_t;

_Static_assert(sizeof(ms_rec_t) == 32, "record is half a cache line");
_Static_assert(sizeof(ms_ring_hdr_t) == MS_RING_HEADER_SIZE, "ring header layout");
/* Offsets a test edits (tests/harness/gate_trust.sh, case staged): fixed by the format. */
_Static_assert(__builtin_offsetof(ms_ring_hdr_t, flushed) == 92 &&
                   __builtin_offsetof(ms_ring_hdr_t, file_bytes) == 112 &&
                   __builtin_offsetof(ms_ring_hdr_t, wr_file_end) == 120 &&
                   __builtin_offsetof(ms_ring_hdr_t, wr_end) == 128 &&
                   __builtin_offsetof(ms_ring_hdr_t, file_name) == 136 &&
                   __builtin_offsetof(ms_ring_hdr_t, staged) == 224 &&
                   __builtin_offsetof(ms_ring_hdr_t, st_next_staged) == 240,
               "ring header offsets (docs/trace-format.md, section 6)");

/* ---- varints (unsigned LEB128) and zigzag ---------------------------------------------- */

/* Appends v to p; returns the new end. p must have MS_VARINT_MAX bytes of room. The one- and
 * two-byte cases (timestamps deltas, sizes, stack ids: most values) are unrolled: this runs
 * for every field of every event the tracker writes. */
static inline uint8_t *ms_put_varint(uint8_t *p, uint64_t v) {
  if (v < 0x80) {
    *p = (uint8_t)v;
    return p + 1;
  }
  if (v < 0x4000) {
    p[0] = (uint8_t)(v | 0x80);
    p[1] = (uint8_t)(v >> 7);
    return p + 2;
  }
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  return p;
}

/* ms_put_varint for the encoder's fast loop, without a branch on the value's length below
 * 2^14: those lengths (timestamp deltas, sizes, address deltas) change from record to record
 * with the data, and the branches above mispredicted about once in two records (cachegrind
 * --branch-sim on ms-bench-encode's workload stream: 0.53 a record in the encoder, 0.11 with
 * this and ms_put_varint_nb3). The bytes are built in a word stored whole, and p advances by
 * the length: the same bytes as ms_put_varint, but a short varint also writes the bytes
 * after it (the next field or record overwrites them; what follows a chunk's payload is
 * never read). p must have MS_VARINT_MAX bytes of room, as there.
 *
 * The word in adds, not in shifts and masks (12 instructions with the range check, were 13;
 * the three-byte form below 17, was 20): x + (x & ~0x7f) moves the bits from 7 up one place
 * (byte 1 = x >> 7, byte 0's top bit clear); x + 0x3f80 reaches bit 14 exactly when
 * x >= 0x80 (x < 2^14): the count of continuation bytes, whose flags cont[] holds
 * (MS_VARINT_CONT, 4 entries, the last unused). The caller keeps cont[] in its stack frame:
 * a static table needs a register for its address (x86-64 cannot index a RIP-relative
 * operand), and the encoder's fast loop then spilled (4.6 instructions a record more). */
#define MS_VARINT_CONT {0, 0x80, 0x8080, 0}
/* The words are stored whole: byte 0 of a word must be the varint's first byte. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "varint words are little-endian");

static inline uint8_t *ms_put_varint_nb(uint8_t *p, const uint32_t cont[4], uint64_t v) {
  if (__builtin_expect(v >= 0x4000, 0))
    return ms_put_varint(p, v);
  uint32_t x = (uint32_t)v, more = (x + 0x3f80u) >> 14;
  uint16_t w = (uint16_t)((x + (x & ~0x7fu)) | cont[more]);
  memcpy(p, &w, sizeof w);
  return p + 1 + more;
}

/* ms_put_varint_nb up to 2^21 (three bytes), for the address deltas: a heap's blocks more
 * than 128 KiB apart (2^14 zigzagged 16-byte units) are common, and their length branch
 * mispredicted ~0.2 a record on ms-bench-workload's stream (cachegrind). The same adds, one
 * more byte: x + (x & ~0x7f) + 2 (x & ~0x3fff) spreads x's 7-bit groups into bytes 0-2, and
 * bit 21 of x + 2^21 - 0x80 and of x + 2^21 - 0x4000 count the continuation bytes (cont[]
 * as above). Stores 4 bytes (up to 3 after the varint's end, overwritten as above); p must
 * have MS_VARINT_MAX bytes of room. */
static inline uint8_t *ms_put_varint_nb3(uint8_t *p, const uint32_t cont[4], uint64_t v) {
  if (__builtin_expect(v >= (1u << 21), 0))
    return ms_put_varint(p, v);
  uint32_t x = (uint32_t)v;
  uint32_t more = ((x + ((1u << 21) - 0x80u)) >> 21) + ((x + ((1u << 21) - 0x4000u)) >> 21);
  uint32_t w = (x + (x & ~0x7fu) + 2 * (x & ~0x3fffu)) | cont[more];
  memcpy(p, &w, sizeof w);
  return p + 1 + more;
}

static inline uint64_t ms_zigzag(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int64_t ms_unzigzag(uint64_t v) {
  return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline uint8_t *ms_put_svarint(uint8_t *p, int64_t v) {
  return ms_put_varint(p, ms_zigzag(v));
}

/* Reads a varint from [*pp, end). Returns 0 and advances *pp, or -1 if the varint is cut
 * off or longer than 10 bytes (a corrupt payload). */
static inline int ms_get_varint(const uint8_t **pp, const uint8_t *end, uint64_t *out) {
  const uint8_t *p = *pp;
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 70; shift += 7) {
    if (p >= end)
      return -1;
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

/* Writes an MS_MARK_RESOURCES payload of f[0, MS_RES_NFIELDS) into p (MS_RES_MAX_PAYLOAD
 * bytes of room); returns its length. */
static inline size_t ms_res_encode(uint8_t *p, const uint64_t *f) {
  uint8_t *o = ms_put_varint(p, MS_RES_NFIELDS);
  for (int i = 0; i < MS_RES_NFIELDS; i++)
    o = ms_put_varint(o, f[i]);
  return (size_t)(o - p);
}

/* Reads an MS_MARK_RESOURCES payload of len bytes into f[0, MS_RES_NFIELDS): fields the
 * record does not carry are 0, fields this reader does not know are skipped. 0, or -1 when
 * the payload is malformed (a varint cut off, fewer bytes than the count says). */
static inline int ms_res_decode(const uint8_t *p, size_t len, uint64_t *f) {
  const uint8_t *end = p + len;
  uint64_t n, v;
  memset(f, 0, MS_RES_NFIELDS * sizeof *f);
  if (ms_get_varint(&p, end, &n))
    return -1;
  for (uint64_t i = 0; i < n; i++) {
    if (ms_get_varint(&p, end, &v))
      return -1;
    if (i < MS_RES_NFIELDS)
      f[i] = v;
  }
  return 0;
}

/* ---- CRC-32C (Castagnoli) ---------------------------------------------------------------
 * Written by hand because it is twenty lines and the tracker may link nothing that
 * allocates. Two implementations of the same function: slicing-by-8 tables (portable, about
 * 3.5 instructions a byte) and, on x86-64 with SSE4.2, the crc32 instruction (8 bytes an
 * instruction), which the tracker uses when the CPU has it (ms_crc32c_hw_usable), through
 * its platform contract (tracker/ms_prim.h), and the reader uses directly. */
static inline uint32_t ms_crc32c_byte(uint32_t crc, uint8_t b) {
  crc ^= b;
  for (int k = 0; k < 8; k++)
    crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  return crc;
}

typedef struct ms_crc_table_s {
  uint32_t t[8][256];
} ms_crc_table_t;

/* Fills a slicing-by-8 table. Deterministic; safe to call concurrently (same bytes). */
static inline void ms_crc32c_init(ms_crc_table_t *tb) {
  for (uint32_t i = 0; i < 256; i++)
    tb->t[0][i] = ms_crc32c_byte(0, (uint8_t)i);
  for (uint32_t i = 0; i < 256; i++)
    for (int k = 1; k < 8; k++)
      tb->t[k][i] = (tb->t[k - 1][i] >> 8) ^ tb->t[0][tb->t[k - 1][i] & 0xff];
}

static inline uint32_t ms_crc32c(const ms_crc_table_t *tb, const void *data, size_t len) {
  const uint8_t *p = (const uint8_t *)data;
  uint32_t crc = 0xffffffffu;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    w ^= crc;
    crc = tb->t[7][w & 0xff] ^ tb->t[6][(w >> 8) & 0xff] ^ tb->t[5][(w >> 16) & 0xff] ^
          tb->t[4][(w >> 24) & 0xff] ^ tb->t[3][(w >> 32) & 0xff] ^
          tb->t[2][(w >> 40) & 0xff] ^ tb->t[1][(w >> 48) & 0xff] ^ tb->t[0][w >> 56];
    p += 8;
    len -= 8;
  }
  while (len--)
    crc = (crc >> 8) ^ tb->t[0][(crc ^ *p++) & 0xff];
  return crc ^ 0xffffffffu;
}

#if defined(__x86_64__)
static inline int ms_crc32c_hw_usable(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

__attribute__((target("sse4.2"))) static inline uint32_t ms_crc32c_hw(const void *data,
                                                                      size_t len) {
  const uint8_t *p = (const uint8_t *)data;
  uint64_t crc = 0xffffffffu;
  while (len >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    crc = __builtin_ia32_crc32di(crc, w);
    p += 8;
    len -= 8;
  }
  uint32_t c = (uint32_t)crc;
  while (len--)
    c = __builtin_ia32_crc32qi(c, *p++);
  return c ^ 0xffffffffu;
}
#else
static inline int ms_crc32c_hw_usable(void) { return 0; }
static inline uint32_t ms_crc32c_hw(const void *data, size_t len) {
  (void)data;
  (void)len;
  return 0;
}
#endif

#endif /* MS_FORMAT_H */
