/* tracegen.h: writes synthetic memscope traces for the analysis tests.
 *
 * Its encoder (LEB128, zigzag, CRC-32C, record layouts) is written again from
 * docs/trace-format.md, deliberately not taken from format/ms_format.h or the tracker, so
 * that the tests hold the reader to the document. Test-only: every failure aborts. */
#ifndef TRACEGEN_H
#define TRACEGEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct tg_file_s tg_file_t;

/* A fresh directory under $TMPDIR (or /tmp), removed by tg_rmrf. Returns a malloc'd path. */
char *tg_mkdtemp(const char *tag);
void tg_rmrf(const char *dir);
/* dir/name, malloc'd. */
char *tg_path(const char *dir, const char *name);

/* Writes meta.txt: the start part, then `extra` (more key=value lines, may be NULL), then,
 * when with_end, an end part. clock "monotonic" or "tsc". */
void tg_write_meta(const char *dir, uint32_t pid, uint64_t run_id, const char *clock,
                   const char *extra, int with_end);
void tg_write_text(const char *dir, const char *name, const char *text);

/* Opens dir/name and writes the 32-byte file header. */
tg_file_t *tg_open(const char *dir, const char *name, uint16_t version, uint32_t pid,
                   uint32_t tid, uint32_t seq, uint64_t run_id);
/* Starts a chunk: the delta state restarts (prev_ts = base_ts, prev_addr = 0). */
void tg_chunk(tg_file_t *f, uint64_t base_ts, uint64_t calib_mono, uint64_t calib_ticks);
void tg_alloc(tg_file_t *f, uint64_t ts, uint64_t addr, uint64_t size, uint64_t stack);
/* flags: 0x10 writes align, 0x20 writes weight. */
void tg_alloc_ex(tg_file_t *f, uint8_t flags, uint64_t ts, uint64_t addr, uint64_t size,
                 uint64_t stack, uint64_t align, uint64_t weight);
void tg_free(tg_file_t *f, uint64_t ts, uint64_t addr);
void tg_realloc(tg_file_t *f, uint64_t ts, uint64_t old_addr, uint64_t new_addr, uint64_t size,
                uint64_t stack);
void tg_stack(tg_file_t *f, uint64_t id, uint64_t nframes, const uint64_t *frames);
void tg_mark(tg_file_t *f, uint64_t ts, uint64_t subkind, const char *name);
/* A MARK whose "name" is n raw bytes (a resource record's payload is binary). */
void tg_mark_bytes(tg_file_t *f, uint64_t ts, uint64_t subkind, const void *bytes, size_t n);
void tg_var(tg_file_t *f, uint64_t ts, uint64_t addr, uint64_t line, const char *name,
            const char *type, const char *file);
/* Appends raw payload bytes counting as `nrecords` records. */
void tg_raw(tg_file_t *f, const void *bytes, size_t n, uint32_t nrecords);
void tg_put_varint(tg_file_t *f, uint64_t v);
/* Ends the chunk and writes it; returns its offset in the file. */
uint64_t tg_end_chunk(tg_file_t *f);
/* Same, with the header fields overridden where the override is not UINT64_MAX. */
uint64_t tg_end_chunk_ex(tg_file_t *f, uint64_t payload_len, uint64_t crc, uint64_t nrecords);
/* Bytes written so far. */
uint64_t tg_offset(const tg_file_t *f);
void tg_close(tg_file_t *f);

uint32_t tg_crc32c(const void *data, size_t len);

/* File surgery. */
void tg_truncate(const char *path, uint64_t len);
void tg_flip_bit(const char *path, uint64_t byte, int bit);
void tg_patch(const char *path, uint64_t offset, const void *bytes, size_t n);
uint64_t tg_file_size(const char *path);
/* Reads a whole file, malloc'd, NUL-terminated. */
char *tg_read_file(const char *path, size_t *len);

#endif /* TRACEGEN_H */
