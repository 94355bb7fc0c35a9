/* tracegen.c: the analysis tests' own trace encoder, from docs/trace-format.md. */
#define _XOPEN_SOURCE 700 /* nftw */
#define _DEFAULT_SOURCE
#include "tracegen.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tg_file_s {
  FILE *f;
  uint64_t written;
  uint8_t *payload;
  size_t len, cap;
  uint32_t nrecords;
  uint64_t base_ts, calib_mono, calib_ticks;
  uint64_t prev_ts, prev_addr;
};

static void die(const char *what) {
  fprintf(stderr, "tracegen: %s: %s\n", what, strerror(errno));
  abort();
}

char *tg_path(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (!p)
    die("malloc");
  snprintf(p, n, "%s/%s", dir, name);
  return p;
}

char *tg_mkdtemp(const char *tag) {
  const char *base = getenv("TMPDIR");
  char tmpl[4096];
  snprintf(tmpl, sizeof tmpl, "%s/msan-%s-XXXXXX", base && *base ? base : "/tmp", tag);
  if (!mkdtemp(tmpl))
    die("mkdtemp");
  char *p = strdup(tmpl);
  if (!p)
    die("strdup");
  return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void tg_rmrf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

void tg_write_text(const char *dir, const char *name, const char *text) {
  char *p = tg_path(dir, name);
  FILE *f = fopen(p, "w");
  if (!f)
    die(p);
  fputs(text, f);
  fclose(f);
  free(p);
}

void tg_write_meta(const char *dir, uint32_t pid, uint64_t run_id, const char *clock,
                   const char *extra, int with_end) {
  char buf[8192];
  int n = snprintf(buf, sizeof buf,
                   "format=memscope-trace\nversion=1\npid=%u\nppid=1\nrun_id=%llu\n"
                   "origin=start\nexe=/usr/bin/test\ncmdline=test%%20arg\n"
                   "start_realtime_ns=1700000000000000000\nclock=%s\nsample=all\n"
                   "stack_depth=16\nthreads=all\ntracker_version=0.1.0\n%s",
                   pid, (unsigned long long)run_id, clock, extra ? extra : "");
  if (with_end)
    snprintf(buf + n, sizeof buf - (size_t)n,
             "end_reason=exit\nthreads_registered=2\nevents=10\nevents_lost=0\n"
             "late_events=0\nstacks=1\nstack_table_full=0\nwrite_errors=0\n");
  tg_write_text(dir, "meta.txt", buf);
}

static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static void emit(tg_file_t *f, const void *b, size_t n) {
  if (n && fwrite(b, 1, n, f->f) != n)
    die("fwrite");
  f->written += n;
}

tg_file_t *tg_open(const char *dir, const char *name, uint16_t version, uint32_t pid,
                   uint32_t tid, uint32_t seq, uint64_t run_id) {
  tg_file_t *f = calloc(1, sizeof *f);
  char *p = tg_path(dir, name);
  if (!f || !(f->f = fopen(p, "wb")))
    die(p);
  free(p);
  uint8_t h[32] = {'M', 'S', 'T', 'R', 'A', 'C', 'E', 0};
  put_u16(h + 8, version);
  put_u16(h + 10, 32);
  put_u32(h + 12, pid);
  put_u32(h + 16, tid);
  put_u32(h + 20, seq);
  put_u64(h + 24, run_id);
  emit(f, h, sizeof h);
  return f;
}

static void put_byte(tg_file_t *f, uint8_t b) {
  if (f->len == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 256;
    f->payload = realloc(f->payload, f->cap);
    if (!f->payload)
      die("realloc");
  }
  f->payload[f->len++] = b;
}

void tg_put_varint(tg_file_t *f, uint64_t v) {
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    put_byte(f, (uint8_t)(b | (v ? 0x80 : 0)));
  } while (v);
}

static void put_svarint(tg_file_t *f, int64_t v) {
  /* zigzag, spelled out as the document does: (v << 1) ^ (v >> 63) */
  uint64_t z = ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
  tg_put_varint(f, z);
}

static void put_bytes(tg_file_t *f, const void *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    put_byte(f, ((const uint8_t *)b)[i]);
}

void tg_chunk(tg_file_t *f, uint64_t base_ts, uint64_t calib_mono, uint64_t calib_ticks) {
  f->len = 0;
  f->nrecords = 0;
  f->base_ts = base_ts;
  f->calib_mono = calib_mono;
  f->calib_ticks = calib_ticks;
  f->prev_ts = base_ts;
  f->prev_addr = 0;
}

static void put_dt(tg_file_t *f, uint64_t ts) {
  tg_put_varint(f, ts - f->prev_ts);
  f->prev_ts = ts;
}

static void put_addr(tg_file_t *f, uint64_t addr) {
  put_svarint(f, (int64_t)(addr - f->prev_addr));
  f->prev_addr = addr;
}

void tg_alloc_ex(tg_file_t *f, uint8_t flags, uint64_t ts, uint64_t addr, uint64_t size,
                 uint64_t stack, uint64_t align, uint64_t weight) {
  put_byte(f, (uint8_t)(1 | flags));
  put_dt(f, ts);
  put_addr(f, addr);
  tg_put_varint(f, size);
  tg_put_varint(f, stack);
  if (flags & 0x10)
    tg_put_varint(f, align);
  if (flags & 0x20)
    tg_put_varint(f, weight);
  f->nrecords++;
}

void tg_alloc(tg_file_t *f, uint64_t ts, uint64_t addr, uint64_t size, uint64_t stack) {
  tg_alloc_ex(f, 0, ts, addr, size, stack, 0, 0);
}

void tg_free(tg_file_t *f, uint64_t ts, uint64_t addr) {
  put_byte(f, 2);
  put_dt(f, ts);
  put_addr(f, addr);
  f->nrecords++;
}

void tg_realloc(tg_file_t *f, uint64_t ts, uint64_t old_addr, uint64_t new_addr, uint64_t size,
                uint64_t stack) {
  put_byte(f, 3);
  put_dt(f, ts);
  put_svarint(f, (int64_t)(old_addr - f->prev_addr));
  put_svarint(f, (int64_t)(new_addr - old_addr));
  f->prev_addr = new_addr;
  tg_put_varint(f, size);
  tg_put_varint(f, stack);
  f->nrecords++;
}

void tg_stack(tg_file_t *f, uint64_t id, uint64_t nframes, const uint64_t *frames) {
  put_byte(f, 4);
  tg_put_varint(f, id);
  tg_put_varint(f, nframes);
  uint64_t prev = 0;
  for (uint64_t i = 0; i < nframes; i++) {
    put_svarint(f, (int64_t)(frames[i] - prev));
    prev = frames[i];
  }
  f->nrecords++;
}

static void put_string(tg_file_t *f, const char *s) {
  size_t n = strlen(s);
  tg_put_varint(f, n);
  put_bytes(f, s, n);
}

void tg_mark(tg_file_t *f, uint64_t ts, uint64_t subkind, const char *name) {
  put_byte(f, 5);
  put_dt(f, ts);
  tg_put_varint(f, subkind);
  put_string(f, name);
  f->nrecords++;
}

void tg_mark_bytes(tg_file_t *f, uint64_t ts, uint64_t subkind, const void *bytes, size_t n) {
  put_byte(f, 5);
  put_dt(f, ts);
  tg_put_varint(f, subkind);
  tg_put_varint(f, n);
  put_bytes(f, bytes, n);
  f->nrecords++;
}

void tg_var(tg_file_t *f, uint64_t ts, uint64_t addr, uint64_t line, const char *name,
            const char *type, const char *file) {
  put_byte(f, 6);
  put_dt(f, ts);
  put_addr(f, addr);
  tg_put_varint(f, line);
  put_string(f, name);
  put_string(f, type);
  put_string(f, file);
  f->nrecords++;
}

void tg_raw(tg_file_t *f, const void *bytes, size_t n, uint32_t nrecords) {
  put_bytes(f, bytes, n);
  f->nrecords += nrecords;
}

/* Bitwise CRC-32C, reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF. */
uint32_t tg_crc32c(const void *data, size_t len) {
  const uint8_t *p = data;
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < len; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++)
      crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
  }
  return ~crc;
}

uint64_t tg_end_chunk_ex(tg_file_t *f, uint64_t payload_len, uint64_t crc, uint64_t nrecords) {
  uint64_t off = f->written;
  uint8_t h[40];
  put_u32(h, 0x4b43534du);
  put_u32(h + 4, (uint32_t)(payload_len != UINT64_MAX ? payload_len : f->len));
  put_u32(h + 8, (uint32_t)(crc != UINT64_MAX ? crc : tg_crc32c(f->payload, f->len)));
  put_u32(h + 12, (uint32_t)(nrecords != UINT64_MAX ? nrecords : f->nrecords));
  put_u64(h + 16, f->base_ts);
  put_u64(h + 24, f->calib_mono);
  put_u64(h + 32, f->calib_ticks);
  emit(f, h, sizeof h);
  emit(f, f->payload, f->len);
  f->len = 0;
  f->nrecords = 0;
  return off;
}

uint64_t tg_end_chunk(tg_file_t *f) {
  return tg_end_chunk_ex(f, UINT64_MAX, UINT64_MAX, UINT64_MAX);
}

uint64_t tg_offset(const tg_file_t *f) { return f->written; }

void tg_close(tg_file_t *f) {
  if (fclose(f->f))
    die("fclose");
  free(f->payload);
  free(f);
}

void tg_truncate(const char *path, uint64_t len) {
  if (truncate(path, (off_t)len))
    die(path);
}

void tg_patch(const char *path, uint64_t offset, const void *bytes, size_t n) {
  int fd = open(path, O_WRONLY);
  if (fd < 0 || pwrite(fd, bytes, n, (off_t)offset) != (ssize_t)n)
    die(path);
  close(fd);
}

char *tg_read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    die(path);
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  size_t r;
  while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
    n += r;
    if (cap - n - 1 == 0)
      b = realloc(b, cap *= 2);
  }
  if (!b)
    die("malloc");
  fclose(f);
  b[n] = 0;
  if (len)
    *len = n;
  return b;
}

void tg_flip_bit(const char *path, uint64_t byte, int bit) {
  int fd = open(path, O_RDWR);
  uint8_t b = 0;
  if (fd < 0 || pread(fd, &b, 1, (off_t)byte) != 1)
    die(path);
  b ^= (uint8_t)(1u << bit);
  if (pwrite(fd, &b, 1, (off_t)byte) != 1)
    die(path);
  close(fd);
}

uint64_t tg_file_size(const char *path) {
  struct stat st;
  if (stat(path, &st))
    die(path);
  return (uint64_t)st.st_size;
}
