/* test_reader.c: the trace reader against traces written by tracegen from the format doc:
 * decoding, damage handling, hostile input, merge order, calibration, discovery, maps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ms_format.h"
#include "ms_hmap.h"
#include "ms_trace.h"
#include "ms_trace_int.h"
#include "test_util.h"
#include "tracegen.h"

#define PID 4242u
#define RUN_ID 777u

/* A run directory with a complete meta.txt (clock=monotonic, so ts_ns == ts). */
static char *new_run(const char *tag) {
  char *dir = tg_mkdtemp(tag);
  tg_write_meta(dir, PID, RUN_ID, "monotonic", NULL, 1);
  return dir;
}

#define MAX_EV 64
typedef struct evlist_s {
  size_t n;
  ms_event_t ev[MAX_EV];
} evlist_t;

/* All events of the run, strings dropped (they do not outlive the next call). */
static void collect(ms_run_t *run, evlist_t *l) {
  l->n = 0;
  ms_event_t e;
  int rc;
  while ((rc = ms_run_next(run, &e)) == 1) {
    T_TRUE(l->n < MAX_EV);
    e.name = e.type_name = e.file = NULL;
    l->ev[l->n++] = e;
  }
  T_EQ_INT(0, rc);
}

static tg_file_t *thread_file(const char *dir, uint32_t tid, uint32_t seq) {
  char name[64];
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, tid);
  return tg_open(dir, name, 1, PID, tid, seq, RUN_ID);
}

static char *thread_path(const char *dir, uint32_t tid) {
  char name[64];
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, tid);
  return tg_path(dir, name);
}

/* ---- format codecs ---------------------------------------------------------------------- */

static void crc_and_varint_codecs(void) {
  /* The CRC-32C check value of "123456789" (RFC 3720 / iSCSI). */
  ms_crc_table_t tb;
  ms_crc32c_init(&tb);
  T_EQ_U64(0xe3069283u, ms_crc32c(&tb, "123456789", 9));
  T_EQ_U64(0xe3069283u, tg_crc32c("123456789", 9));
  uint8_t buf[MS_VARINT_MAX];
  const uint8_t *p = buf;
  uint64_t v;
  uint8_t *end = ms_put_varint(buf, UINT64_MAX);
  T_EQ_U64(10, end - buf);
  T_EQ_INT(0, ms_get_varint(&p, end, &v));
  T_EQ_U64(UINT64_MAX, v);
  uint8_t eleven[11];
  memset(eleven, 0x80, sizeof eleven);
  p = eleven;
  T_EQ_INT(-1, ms_get_varint(&p, eleven + 11, &v));
  T_EQ_U64(3, ms_zigzag(-2));
  T_EQ_INT(-2, ms_unzigzag(3));
}

/* ---- decoding ---------------------------------------------------------------------------- */

static void decode_all_kinds(void) {
  char *dir = new_run("decode");
  tg_file_t *f = thread_file(dir, 100, 0);
  const uint64_t frames[3] = {0x401005, 0x7f0000001234, 0x400100}; /* deltas of both signs */
  tg_chunk(f, 1000, 5, 6);
  tg_stack(f, 7, 3, frames);
  tg_alloc(f, 1010, 0x7f1234560010, 24, 7);
  tg_alloc_ex(f, 0x30, 1020, 0x7f1234560000, 4096, 7, 64, 3); /* align + weight */
  tg_realloc(f, 1030, 0x7f1234560010, 0x7f1234599000, 100, 0);
  tg_free(f, 1040, 0x7f1234599000);
  tg_mark(f, 1050, MS_MARK_THREAD_NAME, "worker-1");
  tg_var(f, 1060, 0x7f1234560000, 42, "buf", "char[]", "main.c");
  tg_alloc_ex(f, 0xc0, 1070, 0x10, 1, 0, 0, 0); /* flags 0xC0 carry nothing */
  tg_end_chunk(f);
  /* Second chunk: delta state restarts (prev_addr 0, prev_ts = base). */
  tg_chunk(f, 2000, 7, 8);
  tg_free(f, 2000, 0x10);
  tg_mark(f, 2005, MS_MARK_POINT, "");
  tg_end_chunk(f);
  tg_close(f);

  ms_run_t *run = open_ok(dir);
  T_EQ_INT(0, ms_run_partial(run));
  T_EQ_U64(1, ms_run_nthreads(run));
  const ms_thread_info_t *ti = ms_run_thread(run, 0);
  T_EQ_U64(100, ti->tid);
  T_EQ_U64(PID, ti->pid);
  T_EQ_U64(2, ti->chunks);
  T_EQ_U64(10, ti->records); /* 8 in the first chunk (STACK included), 2 in the second */
  T_EQ_U64(1, ms_run_nstacks(run));
  const ms_stack_t *s = ms_run_stack(run, 7);
  T_TRUE(s != NULL);
  T_EQ_U64(3, s->nframes);
  T_EQ_U64(0, s->truncated);
  for (int i = 0; i < 3; i++)
    T_EQ_U64(frames[i], s->frames[i]);
  T_STR_EQ("identity", ms_run_calibration(run));

  ms_event_t e;
  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_ALLOC, e.kind);
  T_EQ_U64(1010, e.ts);
  T_EQ_U64(1010, e.ts_ns);
  T_EQ_U64(100, e.tid);
  T_EQ_U64(0x7f1234560010, e.addr);
  T_EQ_U64(24, e.size);
  T_EQ_U64(7, e.stack_id);
  T_EQ_U64(0, e.align);
  T_EQ_U64(1, e.weight);

  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_ALLOC, e.kind);
  T_EQ_U64(1020, e.ts);
  T_EQ_U64(0x7f1234560000, e.addr);
  T_EQ_U64(4096, e.size);
  T_EQ_U64(64, e.align);
  T_EQ_U64(3, e.weight);

  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_REALLOC, e.kind);
  T_EQ_U64(1030, e.ts);
  T_EQ_U64(0x7f1234560010, e.old_addr);
  T_EQ_U64(0x7f1234599000, e.addr);
  T_EQ_U64(100, e.size);
  T_EQ_U64(0, e.stack_id);

  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_FREE, e.kind);
  T_EQ_U64(1040, e.ts);
  T_EQ_U64(0x7f1234599000, e.addr); /* relative to the realloc's new address */

  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_MARK, e.kind);
  T_EQ_U64(1050, e.ts);
  T_EQ_U64(MS_MARK_THREAD_NAME, e.mark_kind);
  T_STR_EQ("worker-1", e.name);

  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_VAR, e.kind);
  T_EQ_U64(1060, e.ts);
  T_EQ_U64(0x7f1234560000, e.addr);
  T_EQ_U64(42, e.line);
  T_STR_EQ("buf", e.name);
  T_STR_EQ("char[]", e.type_name);
  T_STR_EQ("main.c", e.file);

  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_ALLOC, e.kind);
  T_EQ_U64(1070, e.ts);
  T_EQ_U64(0x10, e.addr);
  T_EQ_U64(1, e.size);

  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_FREE, e.kind);
  T_EQ_U64(2000, e.ts);
  T_EQ_U64(0x10, e.addr);

  T_EQ_INT(1, ms_run_next(run, &e));
  T_EQ_INT(MS_EV_MARK, e.kind);
  T_EQ_U64(2005, e.ts);
  T_STR_EQ("", e.name);

  T_EQ_INT(0, ms_run_next(run, &e));
  T_EQ_INT(0, ms_run_next(run, &e)); /* stays at the end */

  /* Rewind gives the same stream again. */
  T_EQ_INT(0, ms_run_rewind(run));
  evlist_t l;
  collect(run, &l);
  T_EQ_U64(9, l.n);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* ---- damage ------------------------------------------------------------------------------- */

/* One file of `n` chunks, chunk k holding one ALLOC at ts 100 * (k + 1); returns the chunk
 * offsets in off[]. The chunk numbered `bad_crc` (or -1) gets a wrong CRC. */
static void write_chunks(const char *dir, int n, int bad_crc, uint64_t *off) {
  tg_file_t *f = thread_file(dir, 1, 0);
  for (int k = 0; k < n; k++) {
    tg_chunk(f, 100 * (uint64_t)(k + 1), 0, 0);
    tg_alloc(f, 100 * (uint64_t)(k + 1), 0x1000 * (uint64_t)(k + 1), 8, 0);
    off[k] = k == bad_crc ? tg_end_chunk_ex(f, UINT64_MAX, 0xdeadbeef, UINT64_MAX)
                          : tg_end_chunk(f);
  }
  tg_close(f);
}

static void expect_damage(ms_run_t *run, uint64_t events, uint64_t offset, const char *reason) {
  evlist_t l;
  collect(run, &l);
  T_EQ_U64(events, l.n);
  T_EQ_INT(1, ms_run_partial(run));
  T_EQ_U64(1, ms_run_ndamage(run));
  const ms_damage_t *d = ms_run_damage(run, 0);
  T_EQ_U64(offset, d->offset);
  T_CONTAINS(d->reason, reason);
}

static void crc_mid_file(void) {
  char *dir = new_run("crc");
  uint64_t off[3];
  write_chunks(dir, 3, 1, off);
  ms_run_t *run = open_ok(dir);
  /* Chunk 0 kept; reading stops at chunk 1, so chunk 2 (good) is not trusted either. */
  expect_damage(run, 1, off[1], "CRC");
  T_EQ_U64(1, ms_run_thread(run, 0)->chunks);
  T_EQ_U64(off[1], ms_run_thread(run, 0)->good_bytes);
  T_TRUE(ms_run_thread(run, 0)->damaged);
  char *p = thread_path(dir, 1);
  T_STR_EQ(p, ms_run_damage(run, 0)->file);
  free(p);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

static void truncated_file(void) {
  char *dir = new_run("trunc");
  uint64_t off[2];
  write_chunks(dir, 2, -1, off);
  char *p = thread_path(dir, 1);
  uint64_t size = tg_file_size(p);
  tg_truncate(p, size - 1); /* inside chunk 1's payload */
  ms_run_t *run = open_ok(dir);
  expect_damage(run, 1, off[1], "past end");
  ms_run_close(run);
  tg_truncate(p, off[1] + 10); /* inside chunk 1's header */
  run = open_ok(dir);
  expect_damage(run, 1, off[1], "truncated chunk header");
  ms_run_close(run);
  tg_truncate(p, off[1]); /* exactly at a chunk boundary: complete, not damaged */
  run = open_ok(dir);
  evlist_t l;
  collect(run, &l);
  T_EQ_U64(1, l.n);
  T_EQ_U64(0, ms_run_ndamage(run));
  T_EQ_INT(0, ms_run_partial(run));
  ms_run_close(run);
  free(p);
  tg_rmrf(dir);
  free(dir);
}

static void zero_length_file(void) {
  char *dir = new_run("zero");
  uint64_t off[2];
  write_chunks(dir, 2, -1, off); /* tid 1: good */
  tg_write_text(dir, "memscope_thread_4242_2.bin", "");
  ms_run_t *run = open_ok(dir);
  expect_damage(run, 2, 0, "shorter than");
  T_EQ_INT(0, ms_run_thread(run, 1)->usable);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

static void wrong_version(void) {
  char *dir = new_run("version");
  /* 3: one past what this reader knows (1 and 2, issue 12) */
  tg_file_t *f = tg_open(dir, "memscope_thread_4242_1.bin", 3, PID, 1, 0, RUN_ID);
  tg_close(f);
  ms_run_t *run = NULL;
  char err[256] = "";
  T_EQ_INT(MS_TRACE_E_VERSION, ms_run_open(dir, &run, err, sizeof err));
  T_TRUE(run == NULL);
  T_CONTAINS(err, "version 3");
  T_CONTAINS(err, "memscope_thread_4242_1.bin");
  /* meta.txt with an unknown version. */
  tg_rmrf(dir);
  free(dir);
  dir = tg_mkdtemp("version-meta");
  tg_write_text(dir, "meta.txt", "format=memscope-trace\nversion=3\npid=1\n");
  err[0] = 0;
  T_EQ_INT(MS_TRACE_E_VERSION, ms_run_open(dir, &run, err, sizeof err));
  T_CONTAINS(err, "version 3");
  T_STR_EQ("unsupported trace format version", ms_trace_strerror(MS_TRACE_E_VERSION));
  tg_rmrf(dir);
  free(dir);
}

static void bad_file_magic_and_run_id(void) {
  char *dir = new_run("magic");
  tg_write_text(dir, "memscope_thread_4242_1.bin", "this is not a memscope trace file at all");
  tg_file_t *f = tg_open(dir, "memscope_thread_4242_2.bin", 1, PID, 2, 1, RUN_ID + 1);
  tg_chunk(f, 1, 0, 0);
  tg_alloc(f, 1, 0x10, 1, 0);
  tg_end_chunk(f);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  evlist_t l;
  collect(run, &l);
  T_EQ_U64(0, l.n);
  T_EQ_U64(2, ms_run_ndamage(run));
  T_CONTAINS(ms_run_damage(run, 0)->reason, "magic");
  T_CONTAINS(ms_run_damage(run, 1)->reason, "run id");
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* Every single-bit flip of a small valid trace: no crash, no hang, and every flip the
 * format protects (chunk magic/length/CRC/count fields, payload) is reported as damage. */
static void bit_flips(void) {
  char *dir = new_run("flips");
  tg_file_t *f = thread_file(dir, 1, 0);
  const uint64_t frames[2] = {0x401000, 0x402000};
  tg_chunk(f, 1000, 1, 1);
  tg_stack(f, 1, 2, frames);
  tg_alloc(f, 1001, 0x5000, 16, 1);
  tg_realloc(f, 1002, 0x5000, 0x6000, 32, 1);
  tg_mark(f, 1003, 1, "m");
  uint64_t c0 = tg_end_chunk(f);
  tg_chunk(f, 2000, 2, 2);
  tg_var(f, 2001, 0x6000, 7, "v", "t", "f.c");
  tg_free(f, 2002, 0x6000);
  uint64_t c1 = tg_end_chunk(f);
  tg_close(f);
  char *p = thread_path(dir, 1);
  size_t len;
  char *orig = tg_read_file(p, &len);
  T_EQ_U64(len, tg_file_size(p));
  uint64_t flips = 0, damaged = 0, refused = 0;
  for (size_t byte = 0; byte < len; byte++) {
    for (int bit = 0; bit < 8; bit++) {
      tg_patch(p, 0, orig, len);
      tg_flip_bit(p, byte, bit);
      ms_run_t *run = NULL;
      char err[256];
      int rc = ms_run_open(dir, &run, err, sizeof err);
      flips++;
      if (rc) {
        T_TRUE(rc < 0);
        T_TRUE(byte >= 8 && byte < 10); /* only the version field may refuse the run */
        refused++;
        continue;
      }
      ms_stats_t *st = NULL;
      T_EQ_INT(0, ms_stats_compute(run, "app", &st));
      T_TRUE(st->totals.events <= 6);
      int protected_byte = (byte >= c0 && byte < c0 + 16) || (byte >= c0 + 40 && byte < c1) ||
                           (byte >= c1 && byte < c1 + 16) || byte >= c1 + 40;
      if (protected_byte) {
        T_TRUE(ms_run_ndamage(run) >= 1);
        damaged++;
      }
      ms_stats_free(st);
      ms_run_close(run);
    }
  }
  T_EQ_U64(len * 8, flips);
  T_EQ_U64(16, refused);
  T_TRUE(damaged > 0);
  free(orig);
  free(p);
  tg_rmrf(dir);
  free(dir);
}

static void huge_payload_len(void) {
  char *dir = new_run("huge");
  tg_file_t *f = thread_file(dir, 1, 0);
  tg_chunk(f, 1, 0, 0);
  tg_alloc(f, 1, 0x10, 1, 0);
  tg_end_chunk(f);
  tg_chunk(f, 2, 0, 0);
  tg_alloc(f, 2, 0x20, 1, 0);
  uint64_t bad = tg_end_chunk_ex(f, 0xfffffff0u, UINT64_MAX, UINT64_MAX);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  expect_damage(run, 1, bad, "exceeds");
  ms_run_close(run);
  /* Exactly the 1 MiB limit, but the file is short: past the end, nothing allocated. */
  char *p = thread_path(dir, 1);
  uint32_t len = MS_CHUNK_MAX_PAYLOAD;
  tg_patch(p, bad + 4, &len, 4);
  run = open_ok(dir);
  expect_damage(run, 1, bad, "past end");
  ms_run_close(run);
  free(p);
  tg_rmrf(dir);
  free(dir);
}

/* Writes one good chunk, then a chunk of a good record and `bytes` (valid CRC), leaving the
 * file open; returns the second chunk's offset. */
static uint64_t write_hostile(tg_file_t *f, const uint8_t *bytes, size_t n) {
  tg_chunk(f, 1, 0, 0);
  tg_alloc(f, 1, 0x10, 1, 0);
  tg_end_chunk(f);
  tg_chunk(f, 2, 0, 0);
  tg_alloc(f, 2, 0x20, 1, 0); /* a good record before the bad one: the chunk still goes */
  tg_raw(f, bytes, n, 1);
  return tg_end_chunk(f);
}

/* A chunk whose payload is raw bytes (valid CRC) after one good chunk. */
static void hostile_payload(const char *tag, const uint8_t *bytes, size_t n, const char *reason) {
  char *dir = new_run(tag);
  tg_file_t *f = thread_file(dir, 1, 0);
  uint64_t bad = write_hostile(f, bytes, n);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  expect_damage(run, 1, bad, reason);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

static void absurd_nframes(void) {
  /* STACK id 1 with 2^40 frames and three bytes of them. */
  const uint8_t rec[] = {4, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20, 2, 2, 2};
  hostile_payload("nframes", rec, sizeof rec, "frame count");
}

static void deep_stack_truncated(void) {
  char *dir = new_run("deep");
  tg_file_t *f = thread_file(dir, 1, 0);
  uint64_t frames[300];
  for (int i = 0; i < 300; i++)
    frames[i] = 0x400000 + 16 * (uint64_t)i;
  tg_chunk(f, 1, 0, 0);
  tg_stack(f, 9, 300, frames);
  tg_alloc(f, 1, 0x10, 1, 9);
  tg_end_chunk(f);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  T_EQ_U64(0, ms_run_ndamage(run));
  const ms_stack_t *s = ms_run_stack(run, 9);
  T_TRUE(s != NULL);
  T_EQ_U64(MS_TRACE_MAX_FRAMES, s->nframes);
  T_EQ_U64(1, s->truncated);
  T_EQ_U64(0x400000 + 16 * 255, s->frames[255]);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

static void varint_too_long(void) {
  const uint8_t rec[] = {1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
  hostile_payload("varint", rec, sizeof rec, "varint");
}

static void string_longer_than_payload(void) {
  const uint8_t rec[] = {5, 0, 1, 0xe8, 0x07, 'a', 'b', 'c'}; /* MARK, name length 1000 */
  hostile_payload("string", rec, sizeof rec, "string longer");
}

static void unknown_record_kind(void) {
  const uint8_t rec[] = {0x0f, 0, 0};
  hostile_payload("kind", rec, sizeof rec, "unknown record kind");
}

static void record_count_mismatch(void) {
  char *dir = new_run("count");
  tg_file_t *f = thread_file(dir, 1, 0);
  tg_chunk(f, 1, 0, 0);
  tg_alloc(f, 1, 0x10, 1, 0);
  uint64_t bad = tg_end_chunk_ex(f, UINT64_MAX, UINT64_MAX, 5);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  expect_damage(run, 0, bad, "records");
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

static void stack_ids_nowhere(void) {
  char *dir = new_run("nostack");
  tg_write_text(dir, "maps.txt", "# maps 1\n00400000-00500000 r-xp 00000000 08:01 1 /bin/app\n");
  tg_file_t *f = thread_file(dir, 1, 0);
  const uint64_t frames[1] = {0x400010};
  tg_chunk(f, 1, 0, 0);
  tg_stack(f, 1, 1, frames);
  tg_alloc(f, 1, 0x10, 8, 999);
  tg_alloc(f, 2, 0x20, 8, UINT64_MAX);
  tg_alloc(f, 3, 0x30, 8, 1);
  tg_end_chunk(f);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  T_TRUE(ms_run_stack(run, 999) == NULL);
  T_TRUE(ms_run_stack(run, UINT64_MAX) == NULL);
  T_TRUE(ms_run_stack(run, 0) == NULL);
  ms_stats_t *st;
  T_EQ_INT(0, ms_stats_compute(run, "app", &st));
  T_EQ_U64(2, st->totals.unknown_stack_refs);
  T_EQ_U64(3, st->totals.allocations);
  T_EQ_U64(1, st->module.allocations); /* only the event with a real stack */
  ms_stats_free(st);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* ---- merge --------------------------------------------------------------------------------- */

static void timestamps_out_of_order(void) {
  char *dir = new_run("order");
  tg_file_t *a = thread_file(dir, 1, 0);
  tg_chunk(a, 100, 0, 0);
  tg_alloc(a, 100, 0xa1, 1, 0);
  tg_alloc(a, 200, 0xa2, 1, 0);
  tg_end_chunk(a);
  tg_chunk(a, 50, 0, 0); /* a later chunk that goes back in time */
  tg_alloc(a, 50, 0xa3, 1, 0);
  tg_end_chunk(a);
  tg_close(a);
  tg_file_t *b = thread_file(dir, 2, 1);
  tg_chunk(b, 150, 0, 0);
  tg_alloc(b, 150, 0xb1, 1, 0);
  tg_end_chunk(b);
  tg_close(b);
  ms_run_t *run = open_ok(dir);
  T_EQ_U64(1, ms_run_thread(run, 0)->ts_backwards);
  T_EQ_U64(0, ms_run_thread(run, 1)->ts_backwards);
  evlist_t l;
  collect(run, &l);
  /* Each file's own order is kept; the merge interleaves by the heads' timestamps. */
  const uint64_t want[4] = {0xa1, 0xb1, 0xa2, 0xa3};
  T_EQ_U64(4, l.n);
  for (int i = 0; i < 4; i++)
    T_EQ_U64(want[i], l.ev[i].addr);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

static void cross_thread_free(void) {
  char *dir = new_run("xfree");
  /* File order puts the freeing thread first; time order must still win. */
  tg_file_t *freer = thread_file(dir, 5, 1);
  tg_chunk(freer, 200, 0, 0);
  tg_free(freer, 200, 0xabc0);
  tg_end_chunk(freer);
  tg_close(freer);
  tg_file_t *owner = thread_file(dir, 9, 0);
  tg_chunk(owner, 100, 0, 0);
  tg_alloc(owner, 100, 0xabc0, 64, 0);
  tg_end_chunk(owner);
  tg_close(owner);
  ms_run_t *run = open_ok(dir);
  evlist_t l;
  collect(run, &l);
  T_EQ_U64(2, l.n);
  T_EQ_INT(MS_EV_ALLOC, l.ev[0].kind);
  T_EQ_U64(9, l.ev[0].tid);
  T_EQ_INT(MS_EV_FREE, l.ev[1].kind);
  T_EQ_U64(5, l.ev[1].tid);
  ms_stats_t *st;
  T_EQ_INT(0, ms_stats_compute(run, NULL, &st));
  T_EQ_U64(0, st->totals.unmatched_frees);
  T_EQ_U64(0, st->totals.leaked_blocks);
  T_EQ_U64(64, st->totals.peak_live_bytes);
  T_EQ_U64(100, st->totals.peak_time_ns);
  T_EQ_U64(5, st->threads[0].tid);
  T_EQ_U64(1, st->threads[0].frees);
  T_EQ_U64(0, st->threads[0].peak_live_bytes);
  T_EQ_U64(9, st->threads[1].tid);
  T_EQ_U64(1, st->threads[1].allocations);
  T_EQ_U64(64, st->threads[1].peak_live_bytes);
  T_EQ_U64(0, st->threads[1].live_bytes);
  T_EQ_INT(0, st->module.enabled);
  ms_stats_free(st);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

static void equal_timestamps_tie_break(void) {
  char *dir = new_run("ties");
  const uint32_t seq[3] = {2, 0, 0}; /* tids 1, 2, 3 in file order */
  for (uint32_t t = 1; t <= 3; t++) {
    tg_file_t *f = thread_file(dir, t, seq[t - 1]);
    tg_chunk(f, 100, 0, 0);
    tg_alloc(f, 100, 0x100 * t, 1, 0);
    tg_alloc(f, 100, 0x100 * t + 8, 1, 0);
    tg_end_chunk(f);
    tg_close(f);
  }
  ms_run_t *run = open_ok(dir);
  evlist_t l;
  collect(run, &l);
  /* seq 0 first (file order among equals: tid 2 then tid 3), seq 2 last; each file's
   * records stay in order. */
  const uint64_t want[6] = {0x200, 0x208, 0x300, 0x308, 0x100, 0x108};
  T_EQ_U64(6, l.n);
  for (int i = 0; i < 6; i++)
    T_EQ_U64(want[i], l.ev[i].addr);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* Many threads, many chunks: the merged stream is sorted and complete. */
static void merge_many(void) {
  char *dir = new_run("many");
  enum { THREADS = 20, CHUNKS = 30, PER = 20 };
  uint64_t total = 0;
  for (uint32_t t = 0; t < THREADS; t++) {
    tg_file_t *f = thread_file(dir, 1000 + t, t);
    uint64_t ts = t; /* threads interleave: thread t stamps t, t+THREADS, ... */
    for (int c = 0; c < CHUNKS; c++) {
      tg_chunk(f, ts, 0, 0);
      for (int r = 0; r < PER; r++, ts += THREADS, total++)
        tg_alloc(f, ts, 0x10000 * (t + 1) + 16 * (uint64_t)(c * PER + r), 16, 0);
      tg_end_chunk(f);
    }
    tg_close(f);
  }
  ms_run_t *run = open_ok(dir);
  ms_event_t e;
  uint64_t n = 0, prev = 0;
  while (ms_run_next(run, &e) == 1) {
    T_EQ_U64(n, e.ts); /* every timestamp 0..total-1 exactly once, in order */
    T_TRUE(n == 0 || e.ts >= prev);
    prev = e.ts;
    n++;
  }
  T_EQ_U64(total, n);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* ---- calibration --------------------------------------------------------------------------- */

static void calibration_meta(void) {
  char *dir = tg_mkdtemp("calib");
  tg_write_meta(dir, PID, RUN_ID, "tsc",
                "start_mono_ns=1000\nstart_ticks=5000\nend_mono_ns=2000\nend_ticks=7000\n", 1);
  tg_file_t *f = thread_file(dir, 1, 0);
  tg_chunk(f, 5000, 0, 0);
  tg_alloc(f, 5000, 0x10, 1, 0);
  tg_alloc(f, 6000, 0x20, 1, 0);
  tg_alloc(f, 7000, 0x30, 1, 0);
  tg_end_chunk(f);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  T_STR_EQ("meta", ms_run_calibration(run));
  evlist_t l;
  collect(run, &l);
  T_EQ_U64(3, l.n);
  /* 1000 ns over 2000 ticks: half a ns per tick. */
  T_EQ_U64(1000, l.ev[0].ts_ns);
  T_EQ_U64(1500, l.ev[1].ts_ns);
  T_EQ_U64(2000, l.ev[2].ts_ns);
  T_EQ_U64(6000, l.ev[1].ts);
  T_EQ_U64(750, ms_run_ticks_to_ns(run, 4500)); /* before the start pair, still linear */
  T_EQ_U64(0, ms_run_ticks_to_ns(run, 0));      /* would be negative: clamped */
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

static void calibration_chunks(void) {
  char *dir = tg_mkdtemp("calib-chunks");
  tg_write_meta(dir, PID, RUN_ID, "tsc", NULL, 0); /* no pairs, no end part */
  tg_file_t *f = thread_file(dir, 1, 0);
  tg_chunk(f, 100000, 10000, 100000);
  tg_alloc(f, 100000, 0x10, 1, 0);
  tg_end_chunk(f);
  tg_chunk(f, 200000, 20000, 300000);
  tg_alloc(f, 200000, 0x20, 1, 0);
  tg_end_chunk(f);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  T_STR_EQ("chunks", ms_run_calibration(run));
  T_EQ_INT(1, ms_run_partial(run)); /* no end_reason */
  T_EQ_U64(0, ms_run_ndamage(run));
  evlist_t l;
  collect(run, &l);
  /* 10000 ns over 200000 ticks = 0.05 ns/tick from (100000 ticks, 10000 ns). */
  T_EQ_U64(10000, l.ev[0].ts_ns);
  T_EQ_U64(15000, l.ev[1].ts_ns);
  ms_run_close(run);
  /* Start pair from meta, end from the last chunk. */
  tg_write_meta(dir, PID, RUN_ID, "tsc", "start_mono_ns=0\nstart_ticks=0\n", 0);
  run = open_ok(dir);
  T_STR_EQ("meta+chunks", ms_run_calibration(run));
  T_EQ_U64(20000, ms_run_ticks_to_ns(run, 300000));
  T_EQ_U64(10000, ms_run_ticks_to_ns(run, 150000));
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* ---- meta, discovery, maps ----------------------------------------------------------------- */

static void meta_parse(void) {
  char *dir = tg_mkdtemp("meta");
  tg_write_text(dir, "meta.txt",
                "format=memscope-trace\nversion=1\nnot a key value line\npid=77\n"
                "future_key=whatever=with=equals\nrun_id=18446744073709551615\n"
                "cmdline=a%20b\n=novalue\nclock=monotonic"); /* no final newline */
  ms_run_t *run = open_ok(dir);
  const ms_meta_t *m = ms_run_meta(run);
  T_EQ_U64(77, m->pid);
  T_EQ_U64(UINT64_MAX, m->run_id);
  T_STR_EQ("whatever=with=equals", ms_meta_get(m, "future_key"));
  T_STR_EQ("monotonic", ms_meta_get(m, "clock"));
  T_TRUE(ms_meta_get(m, "end_reason") == NULL);
  T_EQ_INT(0, m->has_end);
  T_EQ_INT(1, ms_run_partial(run));
  T_EQ_U64(0, ms_run_nthreads(run));
  evlist_t l;
  collect(run, &l);
  T_EQ_U64(0, l.n);
  ms_run_close(run);
  /* Not a trace. */
  tg_write_text(dir, "meta.txt", "format=something-else\nversion=1\n");
  char err[256];
  T_EQ_INT(MS_TRACE_E_NOTTRACE, ms_run_open(dir, &run, err, sizeof err));
  tg_rmrf(dir);
  free(dir);
}

static void discover_runs(void) {
  char *top = tg_mkdtemp("discover");
  const char *runs[] = {"memscope.10.1", "memscope.10.0", "memscope.9.3"};
  for (int i = 0; i < 3; i++) {
    char *d = tg_path(top, runs[i]);
    T_EQ_INT(0, mkdir(d, 0700));
    tg_write_meta(d, 1, 1, "monotonic", NULL, 1);
    free(d);
  }
  const char *junk[] = {"memscope.x.1", "other", "memscope.12", "memscope.12.3a"};
  for (int i = 0; i < 4; i++) {
    char *d = tg_path(top, junk[i]);
    T_EQ_INT(0, mkdir(d, 0700));
    free(d);
  }
  tg_write_text(top, "memscope.11.0", "a file, not a run directory");
  char **dirs;
  size_t n;
  char err[256];
  T_EQ_INT(0, ms_trace_find_runs(top, &dirs, &n, err, sizeof err));
  T_EQ_U64(3, n);
  const char *want[] = {"memscope.9.3", "memscope.10.0", "memscope.10.1"};
  for (int i = 0; i < 3; i++) {
    char *w = tg_path(top, want[i]);
    T_STR_EQ(w, dirs[i]);
    free(w);
  }
  /* A run directory itself lists as itself. */
  char **one;
  size_t n1;
  T_EQ_INT(0, ms_trace_find_runs(dirs[0], &one, &n1, err, sizeof err));
  T_EQ_U64(1, n1);
  T_STR_EQ(dirs[0], one[0]);
  ms_trace_free_dirs(one, n1);
  ms_trace_free_dirs(dirs, n);
  /* Not a trace; missing. */
  char *empty = tg_path(top, "other");
  T_EQ_INT(MS_TRACE_E_NOTTRACE, ms_trace_find_runs(empty, &dirs, &n, err, sizeof err));
  T_CONTAINS(err, "not a memscope trace");
  char *missing = tg_path(top, "nope");
  T_EQ_INT(-ENOENT, ms_trace_find_runs(missing, &dirs, &n, err, sizeof err));
  T_CONTAINS(err, "nope");
  free(empty);
  free(missing);
  tg_rmrf(top);
  free(top);
}

static void maps_lookup(void) {
  char *dir = tg_mkdtemp("maps");
  tg_write_text(dir, "maps.txt",
                "# maps 100\n"
                "00400000-00401000 r-xp 00000000 08:01 123   /usr/bin/app\n"
                "7f0000000000-7f0000010000 r-xp 00002000 08:01 456   /usr/lib/libfoo.so\n"
                "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0   [stack]\n"
                "garbage line\n"
                "# maps 200\n"
                "7f0000000000-7f0000010000 r-xp 00001000 08:01 789   /usr/lib/libbar.so\n"
                "00400000-00401000 r-xp 00000000 08:01 123   /usr/bin/app\n"
                "7f2000000000-7f2000001000 r-xp 00000000 08:01 5 /tmp/my lib.so\n"
                "7f1000000000-7f1000001000 rw-p 00000000 00:00 0 \n");
  char *p = tg_path(dir, "maps.txt");
  ms_maps_t *maps;
  T_EQ_INT(0, ms_maps_load(p, &maps));
  T_EQ_U64(2, ms_maps_nsnapshots(maps));
  const char *mod;
  uint64_t off;
  T_EQ_INT(1, ms_maps_lookup(maps, 0x7f0000000100, &mod, &off));
  T_STR_EQ("/usr/lib/libbar.so", mod); /* the newest snapshot wins */
  T_EQ_U64(0x1100, off);
  T_EQ_INT(1, ms_maps_lookup(maps, 0x7ffd00000010, &mod, &off));
  T_STR_EQ("[stack]", mod); /* only in the older snapshot */
  T_EQ_INT(1, ms_maps_lookup(maps, 0x7f2000000fff, &mod, NULL));
  T_STR_EQ("/tmp/my lib.so", mod);
  T_EQ_INT(1, ms_maps_lookup(maps, 0x7f1000000000, &mod, NULL));
  T_STR_EQ("", mod);
  T_EQ_INT(0, ms_maps_lookup(maps, 0x7f2000001000, &mod, NULL)); /* end is exclusive */
  T_EQ_INT(0, ms_maps_lookup(maps, 0x500000, NULL, NULL));
  T_EQ_INT(0, ms_maps_lookup(maps, 0, NULL, NULL));
  ms_maps_free(maps);
  T_EQ_INT(1, ms_module_matches("/usr/lib/libfoo.so", "libfoo.so"));
  T_EQ_INT(1, ms_module_matches("/usr/lib/libfoo.so", "/usr/lib/libfoo.so"));
  T_EQ_INT(0, ms_module_matches("/usr/lib/libfoo.so", "foo.so"));
  T_EQ_INT(0, ms_module_matches("/usr/lib/libfoo.so", "/lib/libfoo.so"));
  T_EQ_INT(0, ms_module_matches("", ""));
  /* A missing maps.txt is an empty map. */
  free(p);
  p = tg_path(dir, "absent.txt");
  T_EQ_INT(0, ms_maps_load(p, &maps));
  T_EQ_U64(0, ms_maps_nsnapshots(maps));
  T_EQ_INT(0, ms_maps_lookup(maps, 0x400000, NULL, NULL));
  ms_maps_free(maps);
  free(p);
  tg_rmrf(dir);
  free(dir);
}

/* ---- the hash map -------------------------------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;
static uint64_t xorshift(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static void hmap_against_reference(void) {
  enum { KEYS = 2000, OPS = 200000 };
  static uint64_t ref_val[KEYS];
  static int ref_has[KEYS];
  uint64_t key_of[KEYS];
  for (int i = 0; i < KEYS; i++) /* key 0 included; clustered keys like real addresses */
    key_of[i] = i < KEYS / 2 ? (uint64_t)i * 16 : xorshift();
  key_of[KEYS - 1] = UINT64_MAX; /* the key the table keeps out of band */
  ms_hmap_t m;
  ms__hmap_init(&m, sizeof(uint64_t));
  size_t count = 0;
  for (int op = 0; op < OPS; op++) {
    int k = (int)(xorshift() % KEYS);
    uint64_t r = xorshift() % 3;
    if (r < 2) {
      int existed;
      uint64_t *v = ms__hmap_put(&m, key_of[k], &existed);
      T_TRUE(v != NULL);
      T_EQ_INT(ref_has[k], existed);
      if (!existed) {
        T_EQ_U64(0, *v); /* new slots are zero-filled */
        count++;
      }
      *v = ref_val[k] = xorshift();
      ref_has[k] = 1;
    } else {
      uint64_t out = 0;
      int had = ms__hmap_del(&m, key_of[k], &out);
      T_EQ_INT(ref_has[k], had);
      if (had) {
        T_EQ_U64(ref_val[k], out);
        count--;
      }
      ref_has[k] = 0;
    }
    if (op % 1000 == 0) {
      for (int i = 0; i < KEYS; i++) {
        uint64_t *v = ms__hmap_get(&m, key_of[i]);
        T_EQ_INT(ref_has[i], v != NULL);
        if (v)
          T_EQ_U64(ref_val[i], *v);
      }
    }
  }
  T_EQ_U64(count, m.count);
  size_t pos = 0, seen = 0;
  uint64_t key;
  void *val;
  while (ms__hmap_next(&m, &pos, &key, &val)) {
    seen++;
    int found = 0;
    for (int i = 0; i < KEYS && !found; i++)
      if (ref_has[i] && key_of[i] == key) {
        T_EQ_U64(ref_val[i], *(uint64_t *)val);
        found = 1;
      }
    T_TRUE(found);
  }
  T_EQ_U64(count, seen);
  ms__hmap_clear(&m);
  T_EQ_U64(0, m.count);
  T_TRUE(ms__hmap_get(&m, 0) == NULL);
  ms__hmap_destroy(&m);
}

/* ---- lazy open (MS_RUN_LAZY) ------------------------------------------------------------- */

/* Every field of the next event of `a` equals that of `b`'s, strings by content. Returns 0 at
 * the end of both. */
static int next_same(ms_run_t *a, ms_run_t *b) {
  const ms_event_t *x, *y;
  int ra = ms__run_next_ref(a, &x), rb = ms__run_next_ref(b, &y);
  T_EQ_INT(ra, rb);
  T_TRUE(ra >= 0);
  if (!ra)
    return 0;
  T_EQ_INT(x->kind, y->kind);
  T_EQ_U64(x->ts, y->ts);
  T_EQ_U64(x->ts_ns, y->ts_ns);
  T_EQ_U64(x->thread, y->thread);
  T_EQ_U64(x->tid, y->tid);
  T_EQ_U64(x->addr, y->addr);
  T_EQ_U64(x->old_addr, y->old_addr);
  T_EQ_U64(x->size, y->size);
  T_EQ_U64(x->align, y->align);
  T_EQ_U64(x->weight, y->weight);
  T_EQ_U64(x->stack_id, y->stack_id);
  T_EQ_U64(x->mark_kind, y->mark_kind);
  T_EQ_U64(x->flags, y->flags);
  T_EQ_U64(x->line, y->line);
  T_STR_EQ(x->name ? x->name : "(null)", y->name ? y->name : "(null)");
  T_STR_EQ(x->type_name ? x->type_name : "(null)", y->type_name ? y->type_name : "(null)");
  T_STR_EQ(x->file ? x->file : "(null)", y->file ? y->file : "(null)");
  return 1;
}

/* A lazily opened run gives the same events, stacks and counts as a full open, with STACK
 * records where the merge's windows and chunks end (a STACK as a chunk's last record once
 * made the lazy decode report damage), strings across windows, and a stack used by one
 * thread before the chunk of the other thread that defines it is read. */
static void lazy_matches_full(void) {
  char *dir = new_run("lazy");
  tg_file_t *f = thread_file(dir, 1, 0), *g = thread_file(dir, 2, 1);
  const uint64_t fr[2] = {0x401000, 0x402000};
  uint64_t ts = 10, expect_events = 0, expect_stacks = 0;
  for (int c = 0; c < 3; c++) {
    tg_chunk(f, ts, 0, 0);
    for (int k = 0; k < 150; k++, ts += 10) {
      if (k == 64 || k == 127) { /* at a window's end, and amid one */
        tg_stack(f, 100 + (uint64_t)(c * 10 + k), 2, fr);
        expect_stacks++;
      }
      if (k % 50 == 7) {
        tg_var(f, ts, 0x1000 + 16 * (uint64_t)k, (uint64_t)k, "name", "type", "file.c");
      } else if (k % 50 == 9) {
        tg_mark(f, ts, MS_MARK_POINT, k % 100 == 9 ? "mark-a" : "m");
      } else if (k % 2) {
        tg_free(f, ts, 0x1000 + 16 * (uint64_t)(k - 1));
      } else {
        tg_alloc(f, ts, 0x1000 + 16 * (uint64_t)k, (uint64_t)k + 1, 100 + (uint64_t)(c * 10));
      }
      expect_events++;
    }
    tg_stack(f, 900 + (uint64_t)c, 2, fr); /* the chunk's last record */
    expect_stacks++;
    tg_end_chunk(f);
  }
  /* Thread 2 uses stack 555 at ts 15; thread 1 defines it in a chunk starting at ts 5000. */
  tg_chunk(g, 15, 0, 0);
  tg_alloc(g, 15, 0x900000, 8, 555);
  tg_free(g, 6000, 0x900000);
  tg_end_chunk(g);
  expect_events += 2;
  tg_chunk(f, 5000, 0, 0);
  tg_stack(f, 555, 2, fr);
  tg_alloc(f, 5000, 0x800000, 8, 555);
  tg_end_chunk(f);
  expect_events++;
  expect_stacks++;
  tg_close(f);
  tg_close(g);

  ms_run_t *full = open_flags_ok(dir, 0), *lazy = open_flags_ok(dir, MS_RUN_LAZY);
  T_EQ_U64(expect_stacks, ms_run_nstacks(full));
  T_EQ_U64(0, ms_run_nstacks(lazy)); /* nothing decoded yet */
  uint64_t n = 0;
  while (next_same(full, lazy))
    n++;
  T_EQ_U64(expect_events, n);
  T_EQ_U64(ms_run_nstacks(full), ms_run_nstacks(lazy));
  T_EQ_U64(0, ms_run_ndamage(lazy));
  T_EQ_INT(0, ms_run_partial(lazy));
  for (size_t i = 0; i < 2; i++) {
    const ms_thread_info_t *a = ms_run_thread(full, i), *b = ms_run_thread(lazy, i);
    T_EQ_U64(a->records, b->records);
    T_EQ_U64(a->ts_backwards, b->ts_backwards);
    T_EQ_U64(a->good_bytes, b->good_bytes);
    T_EQ_U64(a->chunks, b->chunks);
  }
  /* A second pass counts nothing twice. */
  T_EQ_INT(0, ms_run_rewind(lazy));
  T_EQ_INT(0, ms_run_rewind(full));
  n = 0;
  while (next_same(full, lazy))
    n++;
  T_EQ_U64(expect_events, n);
  T_EQ_U64(ms_run_thread(full, 0)->records, ms_run_thread(lazy, 0)->records);
  ms_run_close(full);
  ms_run_close(lazy);
  tg_rmrf(dir);
  free(dir);
}

/* ms__run_next_batch returns exactly ms__run_next_ref's sequence, cut into batches of one
 * thread's events each: three threads whose timestamps interleave one by one, in runs longer
 * than a decode window (64), with equal timestamps across threads (the tie goes to the lower
 * thread sequence) and a timestamp going backwards within a thread. */
static void batch_matches_ref(void) {
  char *dir = new_run("batch");
  tg_file_t *f[3];
  for (int t = 0; t < 3; t++)
    f[t] = thread_file(dir, (uint32_t)(t + 1), (uint32_t)t);
  uint64_t expect = 0;
  for (int t = 0; t < 3; t++) {
    tg_chunk(f[t], 100, 0, 0);
    uint64_t ts = 100 + (uint64_t)t; /* one by one: 100, 101, 102, 103, ... */
    for (int k = 0; k < 100; k++, ts += 3, expect++)
      tg_alloc(f[t], ts, 0x10000 * (uint64_t)(t + 1) + 16 * (uint64_t)k, 8, 0);
    for (int k = 0; k < 150; k++, expect++) /* equal timestamps in all three threads */
      tg_free(f[t], 1000 + 2 * (uint64_t)k, 0x10000 * (uint64_t)(t + 1) + 16 * (uint64_t)(k % 100));
    tg_alloc(f[t], 900, 0x90000 + (uint64_t)t, 4, 0); /* backwards */
    expect++;
    /* a long run of one thread's events before the others' next */
    for (int k = 0; k < 200; k++, expect++)
      tg_alloc(f[t], 5000 + 1000 * (uint64_t)t + (uint64_t)k, 0xa0000 + 16 * (uint64_t)k, 8, 0);
    tg_end_chunk(f[t]);
    tg_close(f[t]);
  }
  ms_run_t *ref = open_flags_ok(dir, MS_RUN_LAZY), *bat = open_flags_ok(dir, MS_RUN_LAZY);
  uint64_t n = 0, batches = 0;
  const ms_event_t *x, *evs;
  size_t nev;
  int rb;
  while ((rb = ms__run_next_batch(bat, &evs, &nev)) == 1) {
    T_TRUE(nev >= 1);
    batches++;
    for (size_t k = 0; k < nev; k++, n++) {
      T_EQ_INT(1, ms__run_next_ref(ref, &x));
      const ms_event_t *y = &evs[k];
      T_EQ_U64(evs[0].thread, y->thread);
      T_EQ_INT(x->kind, y->kind);
      T_EQ_U64(x->ts, y->ts);
      T_EQ_U64(x->thread, y->thread);
      T_EQ_U64(x->addr, y->addr);
      T_EQ_U64(x->size, y->size);
    }
  }
  T_EQ_INT(0, rb);
  T_EQ_INT(0, ms__run_next_ref(ref, &x));
  T_EQ_U64(expect, n);
  T_TRUE(batches < n); /* the long runs came as batches of more than one */
  T_TRUE(batches > 3);
  ms_run_close(ref);
  ms_run_close(bat);
  tg_rmrf(dir);
  free(dir);
}

/* Lazily, a chunk with a good CRC but a bad record keeps the events before the fault (a full
 * open drops the chunk) and ends the file there, with the same damage entry. */
static void lazy_damage(void) {
  const uint8_t rec[] = {0x0f, 0, 0}; /* an unknown record kind */
  char *dir = new_run("lazydmg");
  tg_file_t *f = thread_file(dir, 1, 0);
  uint64_t bad = write_hostile(f, rec, sizeof rec);
  tg_chunk(f, 3, 0, 0);
  tg_alloc(f, 3, 0x30, 1, 0); /* after the damage: never read */
  tg_end_chunk(f);
  tg_close(f);
  ms_run_t *full = open_flags_ok(dir, 0), *lazy = open_flags_ok(dir, MS_RUN_LAZY);
  expect_damage(full, 1, bad, "unknown record kind");
  T_EQ_U64(0, ms_run_ndamage(lazy)); /* found by the pass */
  expect_damage(lazy, 2, bad, "record 1 of chunk: unknown record kind");
  T_EQ_U64(bad, ms_run_thread(lazy, 0)->good_bytes);
  ms_run_close(full);
  ms_run_close(lazy);
  tg_rmrf(dir);
  free(dir);

  dir = new_run("lazycount");
  f = thread_file(dir, 1, 0);
  tg_chunk(f, 1, 0, 0);
  tg_alloc(f, 1, 0x10, 1, 0);
  bad = tg_end_chunk_ex(f, UINT64_MAX, UINT64_MAX, 5);
  tg_close(f);
  lazy = open_flags_ok(dir, MS_RUN_LAZY);
  expect_damage(lazy, 1, bad, "chunk says 5 records, payload holds 1");
  ms_run_close(lazy);
  tg_rmrf(dir);
  free(dir);
}

/* ---- format version 2 (docs/trace-format.md, 3.5) ---------------------------------------- */

static tg_file_t *thread_file_v2(const char *dir, uint32_t tid) {
  char name[64];
  snprintf(name, sizeof name, "memscope_thread_%u_%u.bin", PID, tid);
  return tg_open(dir, name, 2, PID, tid, 0, RUN_ID);
}

static void expect_event(const ms_event_t *e, int kind, uint64_t ts, uint64_t addr,
                         uint64_t size, uint64_t stack, uint64_t old, uint32_t flags) {
  T_EQ_INT(kind, e->kind);
  T_EQ_U64(ts, e->ts);
  T_EQ_U64(addr, e->addr);
  T_EQ_U64(size, e->size);
  T_EQ_U64(stack, e->stack_id);
  T_EQ_U64(old, e->old_addr);
  T_EQ_U64(flags, e->flags);
}

/* Every v2 form, bytes written by hand from the document (not by the encoder): the values
 * in the comments are the document's arithmetic. */
static void decode_v2_forms(void) {
  char *dir = new_run("v2forms");
  tg_file_t *f = thread_file_v2(dir, 100);
  static const uint8_t payload[] = {
      /* ALLOC short: tag 01 111 100 (stack follows, size&7 = 4), dt zz(10-0), addr
       * zz(0x1000/16) = 0x200, size>>3 = 12, stack 5. ts 1010 */
      0x7c, 0x14, 0x80, 0x04, 0x0c, 0x05,
      /* FREE short age 0 (0x1000); dt zz(5 - pred[FREE][after ALLOC] 0). ts 1015 */
      0x80, 0x0a,
      /* ALLOC short: stack place 0 (5), size&7 0; dt zz(7); addr +1 unit; size>>3 3. ts 1022 */
      0x40, 0x0e, 0x02, 0x03,
      /* compact REALLOC 0x07|0x10 (old = prev_addr 0x1010)|0x20 (units): dt zz(3 - 0), new-old
       * zz(0x100) = 0x200, size 200, stack code 7+9 (not in the list). ts 1025 */
      0x37, 0x06, 0x80, 0x04, 0xc8, 0x01, 0x10,
      /* FREE short age 0: the REALLOC's new block 0x2010; dt zz(4 - 0) (after a REALLOC). */
      0x80, 0x08,
      /* ALLOC short, stack place 0, size 8: dt zz(9 - 7) (after a FREE, the last such 7);
       * addr +2 units = 0x2030; size>>3 1. ts 1038 */
      0x40, 0x04, 0x04, 0x01,
      /* a realloc's release by age: dt zz(2 - 0); 4 allocations so far, 0x1000 was the
       * first: age 3. ts 1040 */
      0x08, 0x04, 0x03,
      /* a realloc's release of the last allocation (0x2030, age 0): dt zz(1 - 0) (the
       * prediction after a FREE: the last release followed an ALLOC). ts 1041 */
      0x18, 0x02,
      /* long FREE in 16-byte units: 0x1000 - 0x2030 = -0x103 units, zz 0x205. ts 1042 */
      0x12, 0x01, 0x85, 0x04,
  };
  tg_chunk(f, 1000, 5, 6);
  tg_raw(f, payload, sizeof payload, 9);
  tg_end_chunk(f);
  tg_close(f);
  ms_run_t *run = open_ok(dir);
  T_EQ_INT(0, ms_run_partial(run));
  T_EQ_U64(9, ms_run_thread(run, 0)->records);
  evlist_t l;
  collect(run, &l);
  T_EQ_U64(9, l.n);
  expect_event(&l.ev[0], MS_EV_ALLOC, 1010, 0x1000, 100, 5, 0, 0);
  expect_event(&l.ev[1], MS_EV_FREE, 1015, 0x1000, 0, 0, 0, 0);
  expect_event(&l.ev[2], MS_EV_ALLOC, 1022, 0x1010, 24, 5, 0, 0);
  expect_event(&l.ev[3], MS_EV_REALLOC, 1025, 0x2010, 200, 9, 0x1010, 0);
  expect_event(&l.ev[4], MS_EV_FREE, 1029, 0x2010, 0, 0, 0, 0);
  expect_event(&l.ev[5], MS_EV_ALLOC, 1038, 0x2030, 8, 5, 0, 0);
  expect_event(&l.ev[6], MS_EV_FREE, 1040, 0x1000, 0, 0, 0, MS_FLAG_REALLOC_RELEASE);
  expect_event(&l.ev[7], MS_EV_FREE, 1041, 0x2030, 0, 0, 0, MS_FLAG_REALLOC_RELEASE);
  expect_event(&l.ev[8], MS_EV_FREE, 1042, 0x1000, 0, 0, 0, 0);
  ms_run_close(run);
  tg_rmrf(dir);
  free(dir);
}

/* Malformed v2 records end the file at their chunk, with the reader's error paths; the
 * state does not carry over from one chunk to the next. */
static void v2_hostile(void) {
  static const struct {
    uint8_t bytes[12];
    size_t n;
    const char *reason;
  } bad[] = {
      {{0x80, 0x00}, 2, "free of an allocation the chunk has not made"}, /* nothing yet */
      {{0x08, 0x00, 0x00}, 3, "free of an allocation the chunk has not made"},
      {{0x7c, 0x14}, 2, "varint cut off"},
      {{0x00}, 1, "unknown record kind"},
      {{0x18, 0x00}, 2, "free of an allocation the chunk has not made"},
      {{0x28, 0x00}, 2, "unknown record kind"},
      {{0x40, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20}, 12,
       "size out of range"}, /* size>>3 = 2^61 */
      {{0x37, 0x00, 0x00, 0x00}, 4, "varint cut off"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    char *dir = new_run("v2hostile");
    tg_file_t *f = thread_file_v2(dir, 1);
    tg_chunk(f, 100, 0, 0);
    tg_alloc(f, 100, 0x1000, 8, 0); /* a long ALLOC (v1's body): the ring gets 0x1000 */
    tg_end_chunk(f);
    uint64_t off = tg_offset(f);
    tg_chunk(f, 200, 0, 0);
    tg_raw(f, bad[k].bytes, bad[k].n, 1);
    tg_end_chunk(f);
    tg_close(f);
    ms_run_t *run = open_ok(dir);
    expect_damage(run, 1, off, bad[k].reason);
    ms_run_close(run);
    run = open_flags_ok(dir, MS_RUN_LAZY);
    expect_damage(run, 1, off, bad[k].reason);
    ms_run_close(run);
    tg_rmrf(dir);
    free(dir);
  }
}

int main(int argc, char **argv) {
  static const t_case_t cases[] = {
      T_CASE(crc_and_varint_codecs),
      T_CASE(decode_all_kinds),
      T_CASE(decode_v2_forms),
      T_CASE(v2_hostile),
      T_CASE(crc_mid_file),
      T_CASE(truncated_file),
      T_CASE(zero_length_file),
      T_CASE(wrong_version),
      T_CASE(bad_file_magic_and_run_id),
      T_CASE(bit_flips),
      T_CASE(huge_payload_len),
      T_CASE(absurd_nframes),
      T_CASE(deep_stack_truncated),
      T_CASE(varint_too_long),
      T_CASE(string_longer_than_payload),
      T_CASE(unknown_record_kind),
      T_CASE(record_count_mismatch),
      T_CASE(stack_ids_nowhere),
      T_CASE(timestamps_out_of_order),
      T_CASE(cross_thread_free),
      T_CASE(equal_timestamps_tie_break),
      T_CASE(merge_many),
      T_CASE(calibration_meta),
      T_CASE(calibration_chunks),
      T_CASE(meta_parse),
      T_CASE(discover_runs),
      T_CASE(maps_lookup),
      T_CASE(hmap_against_reference),
      T_CASE(lazy_matches_full),
      T_CASE(lazy_damage),
      T_CASE(batch_matches_ref),
  };
  return t_main(argc, argv, cases, sizeof cases / sizeof cases[0]);
}
