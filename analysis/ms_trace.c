/* ms_trace.c: the reference reader of the memscope trace format (docs/trace-format.md):
 * thread-file validation, stacks and the k-way merge. Run discovery and meta.txt are in
 * ms_runs.c, the per-record decoder in ms_decode.h. */
#include "ms_trace.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_files.h"
#include "ms_format.h"
#include "ms_decode.h"
#include "ms_hmap.h"
#include "ms_trace_int.h"

/* 128-bit products for the tick calibration (GCC and Clang; __extension__ keeps -Wpedantic
 * quiet about a type ISO C lacks). */
__extension__ typedef unsigned __int128 ms_u128_t;


/* ---- the run ------------------------------------------------------------------------------- */

/* Records decoded per refill of a cursor's window: small, so every cursor's window stays in L1
 * between its decode and its events' use (a whole 1536-record chunk per window made the merge
 * slower than decoding one record at a time, for the cache misses alone). */
#define WINDOW 64

typedef struct cursor_s {
  uint64_t start;      /* first chunk: the end of the file header */
  uint64_t offset;     /* next chunk to read */
  uint64_t end;        /* good_bytes from the scan: never read past it */
  uint8_t *payload;
  size_t payload_cap;
  const uint8_t *p, *pend; /* the current chunk's records not decoded yet */
  delta_t delta;       /* the current chunk's decoding state */
  unsigned version;    /* the file's format version (its header) */
  uint64_t chunk_off;  /* offset of the current chunk */
  ms_chunk_header_t chunk; /* its header */
  int chunk_checked;   /* its records were validated (at open, or by an earlier pass) */
  uint64_t chunk_seen; /* lazy: its records decoded so far */
  int done;
  ms_event_t *evs;     /* the decoded window: events only (STACKs left out), ts_ns set */
  size_t nevs, ri;     /* events in it; the one at the heap (or returned last) */
  char *arena;         /* NUL-terminated strings of the window's MARK and VAR events */
  size_t arena_cap;
  uint64_t counted_upto; /* lazy open: chunks below this offset are in the thread's counts */
  uint64_t last_ts;      /* lazy open: for ts_backwards across chunks */
  int have_last;
  ms_event_t tmpl;     /* what every event of this file starts from: thread, tid,
                          thread_seq, weight 1, all else 0 */
  int fd1;             /* the file's descriptor + 1, kept open between chunks; 0 none */
} cursor_t;

/* Thread files whose descriptor a cursor keeps open between chunks: reopening a file for
 * every chunk cost seven system calls a chunk (open, three stats, two fcntl, close), a
 * sixth of the analysis's kernel time; past this many files a cursor reopens per chunk as
 * before, so a run of thousands of threads stays within the descriptor limit. */
#define MAX_KEPT_FDS 256

/* A heap entry: the cursor and its current event's merge key: timestamp, then (equal
 * timestamps, rare) thread sequence and file order, packed in `tie`. */
typedef struct heap_ent_s {
  uint64_t ts;
  uint64_t tie; /* thread_seq << 32 | cursor index */
} heap_ent_t;

/* ts, then tie: one 128-bit comparison (cmp, sbb), so the merge's choice between two cursors,
 * unpredictable when threads interleave, costs no branch. */
static inline int heap_less(const heap_ent_t *a, const heap_ent_t *b) {
  __extension__ typedef unsigned __int128 key128_t;
  return ((key128_t)a->ts << 64 | a->tie) < ((key128_t)b->ts << 64 | b->tie);
}

struct ms_run_s {
  char *dir;
  ms_meta_t meta;
  ms_maps_t *maps;
  size_t nthreads;
  ms_thread_info_t *threads;
  char **paths;
  cursor_t *cursors;
  ms_damage_t *damage;
  size_t ndamage, damage_cap;
  ms_hmap_t stacks; /* id -> ms_stack_t (frames malloc'd) */
  heap_ent_t *heap; /* min-heap of cursors by their current event's key */
  size_t heap_n;
  int started;
  long pending;     /* cursor popped last: advanced at the next call, as the caller holds its
                       strings until then */
  /* calibration: ns = mono0 + (t - ticks0) * slope, slope = slope_int + slope_frac / 2^64
   * (64.64 fixed point: one multiply per event, no long double on the merge path) */
  const char *calib_kind;
  int calib_linear;
  uint64_t mono0, ticks0;
  uint64_t slope_int, slope_frac;
  int have_chunk_calib;
  uint64_t first_chunk_mono, first_chunk_ticks, last_chunk_mono, last_chunk_ticks;
  ms_crc_table_t crc;
  int hw_crc; /* the CPU has the SSE4.2 crc32 instruction */
  int lazy;   /* MS_RUN_LAZY: records are validated and stacks collected during the merge */
  size_t kept_fds; /* cursors holding their file open (cursor_t.fd1) */
  uint64_t *frames; /* MS_TRACE_MAX_FRAMES slots for STACK decoding */
};

/* Chunks are checked at open and again when the merge reads them; the table CRC costs about
 * a tenth of the whole pass, so the SSE4.2 one (ms_format.h) is used where the CPU has it. */
static int add_damage(ms_run_t *run, size_t file, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add_damage(ms_run_t *run, size_t file, uint64_t offset, const char *fmt, ...) {
  run->threads[file].damaged = 1;
  if (ms__grow(&run->damage, &run->damage_cap, run->ndamage, sizeof *run->damage, 8))
    return MS_TRACE_E_NOMEM;
  ms_damage_t *d = &run->damage[run->ndamage++];
  d->file = run->paths[file];
  d->offset = offset;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d->reason, sizeof d->reason, fmt, ap);
  va_end(ap);
  return 0;
}

static int read_full(int fd, void *buf, size_t len, uint64_t off) {
  size_t n = 0;
  while (n < len) {
    ssize_t r = pread(fd, (char *)buf + n, len - n, (off_t)(off + n));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    n += (size_t)r;
  }
  return 0;
}

static int ensure_cap(uint8_t **buf, size_t *cap, size_t need) {
  if (*cap >= need)
    return 0;
  size_t ncap = need < 4096 ? 4096 : need;
  uint8_t *b = realloc(*buf, ncap);
  if (!b)
    return MS_TRACE_E_NOMEM;
  *buf = b;
  *cap = ncap;
  return 0;
}

/* Reads and checks the chunk at `off` of a file of `size` bytes into *buf. Returns 0 (header
 * in *h, payload in *buf), 1 when the chunk is bad (reason in why), or a negative error. */
static int read_chunk(ms_run_t *run, int fd, uint64_t off, uint64_t size, ms_chunk_header_t *h,
                      uint8_t **buf, size_t *cap, char *why, size_t whylen) {
  if (size - off < MS_CHUNK_HEADER_SIZE) {
    snprintf(why, whylen, "truncated chunk header (%" PRIu64 " bytes left)", size - off);
    return 1;
  }
  if (read_full(fd, h, sizeof *h, off)) {
    snprintf(why, whylen, "read error: %s", strerror(errno ? errno : EIO));
    return 1;
  }
  if (h->magic != MS_CHUNK_MAGIC) {
    snprintf(why, whylen, "bad chunk magic 0x%08" PRIx32, h->magic);
    return 1;
  }
  if (h->payload_len > MS_CHUNK_MAX_PAYLOAD) {
    snprintf(why, whylen, "chunk payload length %" PRIu32 " exceeds %u", h->payload_len,
             MS_CHUNK_MAX_PAYLOAD);
    return 1;
  }
  if (h->payload_len > size - off - MS_CHUNK_HEADER_SIZE) {
    snprintf(why, whylen, "chunk runs past end of file (truncated)");
    return 1;
  }
  int rc = ensure_cap(buf, cap, h->payload_len);
  if (rc)
    return rc;
  if (h->payload_len && read_full(fd, *buf, h->payload_len, off + MS_CHUNK_HEADER_SIZE)) {
    snprintf(why, whylen, "read error: %s", strerror(errno ? errno : EIO));
    return 1;
  }
  uint32_t crc = run->hw_crc ? ms_crc32c_hw(*buf, h->payload_len)
                             : ms_crc32c(&run->crc, *buf, h->payload_len);
  if (crc != h->crc32c) {
    snprintf(why, whylen, "chunk CRC mismatch (stored 0x%08" PRIx32 ", computed 0x%08" PRIx32 ")",
             h->crc32c, crc);
    return 1;
  }
  return 0;
}

static int commit_stack(ms_run_t *run, const ms_event_t *r, const rec_extra_t *x,
                        const uint64_t *frames) {
  int existed;
  ms_stack_t *s = ms__hmap_put(&run->stacks, r->stack_id, &existed);
  if (!s)
    return MS_TRACE_E_NOMEM;
  if (existed)
    return 0; /* ids are process-wide; the first definition stands */
  s->id = r->stack_id;
  s->nframes = x->nkept;
  s->truncated = x->nframes > x->nkept;
  uint64_t *f = NULL;
  if (x->nkept) {
    f = malloc(x->nkept * sizeof *f);
    if (!f) {
      ms__hmap_del(&run->stacks, r->stack_id, NULL);
      return MS_TRACE_E_NOMEM;
    }
    memcpy(f, frames, x->nkept * sizeof *f);
  }
  s->frames = f;
  return 0;
}

/* Validates a chunk's records and, if all are good and their count matches, commits its
 * stacks and adds the chunk to the thread's record counts. Returns 0, 1 (bad chunk, reason in
 * why) or a negative error. */
static int scan_payload(ms_run_t *run, size_t file, const ms_chunk_header_t *h,
                        const uint8_t *payload, uint64_t *last_ts, int *have_last,
                        char *why, size_t whylen) {
  ms_thread_info_t *ti = &run->threads[file];
  for (int pass = 0; pass < 2; pass++) {
    const uint8_t *p = payload, *end = payload + h->payload_len;
    delta_t d;
    delta_init(&d, h->base_ts, run->cursors[file].version);
    uint64_t n = 0, backwards = 0, lts = *last_ts;
    int hl = *have_last, has_stack = 0;
    while (p < end) {
      ms_event_t r = {.weight = 1};
      rec_extra_t x;
      const char *what;
      if (decode_record(&p, end, &d, &r, &x, run->frames, &what)) {
        snprintf(why, whylen, "record %" PRIu64 " of chunk: %s", n, what);
        return 1;
      }
      n++;
      if ((int)r.kind == MS_REC_STACK) {
        has_stack = 1;
        if (pass == 1) {
          int rc = commit_stack(run, &r, &x, run->frames);
          if (rc)
            return rc;
        }
        continue;
      }
      if (hl && r.ts < lts)
        backwards++;
      lts = r.ts;
      hl = 1;
    }
    if (pass == 0) {
      if (n != h->nrecords) {
        snprintf(why, whylen, "chunk says %" PRIu32 " records, payload holds %" PRIu64,
                 h->nrecords, n);
        return 1;
      }
      ti->records += n;
      ti->ts_backwards += backwards;
      *last_ts = lts;
      *have_last = hl;
      if (!has_stack)
        break;
    }
  }
  return 0;
}

/* Validates one thread file: header, then chunk after chunk (length, CRC and, unless the run
 * is lazy, every record) until the end or the first bad one. Damage is recorded; only an
 * unknown version or a system error fails. */
static int scan_file(ms_run_t *run, size_t file, uint8_t **buf, size_t *cap, char *err,
                     size_t errlen) {
  ms_thread_info_t *ti = &run->threads[file];
  const char *path = run->paths[file];
  int fd = ms__open_run_file(path);
  if (fd == -EINVAL) /* a FIFO or device named like a thread file: nothing in it is read */
    return add_damage(run, file, 0, "not a regular file (a FIFO, device or directory)");
  if (fd < 0) {
    ms__set_err(err, errlen, "%s: %s", path, strerror(-fd));
    return fd;
  }
  struct stat st;
  if (fstat(fd, &st)) {
    int e = errno;
    close(fd);
    ms__set_err(err, errlen, "%s: %s", path, strerror(e));
    return -e;
  }
  uint64_t size = (uint64_t)st.st_size;
  ms_file_header_t fh;
  int rc = 0;
  if (size < MS_FILE_HEADER_SIZE || read_full(fd, &fh, sizeof fh, 0)) {
    rc = add_damage(run, file, 0, "file shorter than its %d-byte header (%" PRIu64 " bytes)",
                    MS_FILE_HEADER_SIZE, size);
    goto out;
  }
  if (memcmp(fh.magic, MS_FILE_MAGIC, sizeof fh.magic)) {
    rc = add_damage(run, file, 0, "bad file magic: not a memscope thread file");
    goto out;
  }
  if (fh.version < MS_FORMAT_VERSION_MIN || fh.version > MS_FORMAT_VERSION) {
    ms__set_err(err, errlen,
            "%s: trace format version %u, this reader knows versions %d to %d: use a matching "
            "memscope",
            path, fh.version, MS_FORMAT_VERSION_MIN, MS_FORMAT_VERSION);
    rc = MS_TRACE_E_VERSION;
    goto out;
  }
  if (fh.header_size < MS_FILE_HEADER_SIZE || fh.header_size > size) {
    rc = add_damage(run, file, 8, "bad header size %u", fh.header_size);
    goto out;
  }
  if (run->meta.run_id && fh.run_id != run->meta.run_id) {
    rc = add_damage(run, file, 24, "run id %" PRIu64 " differs from meta.txt's %" PRIu64,
                    fh.run_id, run->meta.run_id);
    goto out;
  }
  ti->pid = fh.pid;
  ti->tid = fh.tid;
  ti->thread_seq = fh.thread_seq;
  ti->usable = 1;
  run->cursors[file].start = fh.header_size;
  run->cursors[file].version = fh.version;
  uint64_t off = fh.header_size, last_ts = 0;
  int have_last = 0;
  while (off < size) {
    ms_chunk_header_t h;
    char why[96];
    rc = read_chunk(run, fd, off, size, &h, buf, cap, why, sizeof why);
    if (rc == 0 && !run->lazy)
      rc = scan_payload(run, file, &h, *buf, &last_ts, &have_last, why, sizeof why);
    if (rc < 0)
      goto out;
    if (rc == 1) {
      rc = add_damage(run, file, off, "%s", why);
      break;
    }
    if (h.calib_ticks || h.calib_mono_ns) {
      if (!run->have_chunk_calib || h.calib_ticks < run->first_chunk_ticks) {
        run->first_chunk_ticks = h.calib_ticks;
        run->first_chunk_mono = h.calib_mono_ns;
      }
      if (!run->have_chunk_calib || h.calib_ticks > run->last_chunk_ticks) {
        run->last_chunk_ticks = h.calib_ticks;
        run->last_chunk_mono = h.calib_mono_ns;
      }
      run->have_chunk_calib = 1;
    }
    ti->chunks++;
    off += MS_CHUNK_HEADER_SIZE + h.payload_len;
  }
  ti->good_bytes = off;
out:
  close(fd);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists memscope_thread_*.bin in dir, sorted by name (the "file order" of tie-breaks). */
static int list_thread_files(ms_run_t *run, char *err, size_t errlen) {
  DIR *d = opendir(run->dir);
  if (!d) {
    int e = errno;
    ms__set_err(err, errlen, "%s: %s", run->dir, strerror(e));
    return -e;
  }
  size_t cap = 0;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t len = strlen(de->d_name);
    if (strncmp(de->d_name, "memscope_thread_", 16) || len < 20 ||
        strcmp(de->d_name + len - 4, ".bin"))
      continue;
    if (run->nthreads == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      char **p = realloc(run->paths, ncap * sizeof *p);
      if (!p) {
        rc = MS_TRACE_E_NOMEM;
        break;
      }
      run->paths = p;
      cap = ncap;
    }
    char *p = ms__path_join(run->dir, de->d_name);
    if (!p) {
      rc = MS_TRACE_E_NOMEM;
      break;
    }
    run->paths[run->nthreads++] = p;
  }
  closedir(d);
  if (rc)
    return rc;
  if (run->nthreads)
    qsort(run->paths, run->nthreads, sizeof *run->paths, cmp_str);
  run->threads = calloc(run->nthreads ? run->nthreads : 1, sizeof *run->threads);
  run->cursors = calloc(run->nthreads ? run->nthreads : 1, sizeof *run->cursors);
  run->heap = calloc(run->nthreads ? run->nthreads : 1, sizeof *run->heap);
  if (!run->threads || !run->cursors || !run->heap)
    return MS_TRACE_E_NOMEM;
  for (size_t i = 0; i < run->nthreads; i++)
    run->threads[i].path = run->paths[i];
  return 0;
}

static void setup_calibration(ms_run_t *run) {
  const ms_meta_t *m = &run->meta;
  run->calib_linear = 0;
  if (!m->clock_tsc) {
    run->calib_kind = "identity";
    return;
  }
  uint64_t mono0, ticks0, mono1, ticks1;
  int have0 = 1, have1 = 1, from_meta0 = 0, from_meta1 = 0;
  if (m->have_start_calib) {
    mono0 = m->start_mono_ns, ticks0 = m->start_ticks, from_meta0 = 1;
  } else if (run->have_chunk_calib) {
    mono0 = run->first_chunk_mono, ticks0 = run->first_chunk_ticks;
  } else {
    have0 = 0;
  }
  if (m->have_end_calib) {
    mono1 = m->end_mono_ns, ticks1 = m->end_ticks, from_meta1 = 1;
  } else if (run->have_chunk_calib) {
    mono1 = run->last_chunk_mono, ticks1 = run->last_chunk_ticks;
  } else {
    have1 = 0;
  }
  if (!have0 || !have1 || ticks1 <= ticks0 || mono1 < mono0) {
    run->calib_kind = "none";
    return;
  }
  run->calib_linear = 1;
  run->mono0 = mono0;
  run->ticks0 = ticks0;
  uint64_t dmono = mono1 - mono0, dticks = ticks1 - ticks0;
  run->slope_int = dmono / dticks;
  run->slope_frac = (uint64_t)(((ms_u128_t)(dmono % dticks) << 64) / dticks);
  run->calib_kind = from_meta0 && from_meta1 ? "meta"
                    : from_meta0 || from_meta1 ? "meta+chunks"
                                               : "chunks";
}

/* dt * slope rounded to nearest, saturating at UINT64_MAX. */
static inline uint64_t scale_ticks(const ms_run_t *run, uint64_t dt) {
  ms_u128_t whole = (ms_u128_t)dt * run->slope_int;
  ms_u128_t frac = ((ms_u128_t)dt * run->slope_frac + ((ms_u128_t)1 << 63)) >> 64;
  ms_u128_t v = whole + frac;
  return v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
}

uint64_t ms_run_ticks_to_ns(const ms_run_t *run, uint64_t ts) {
  if (!run->calib_linear)
    return ts;
  /* Clamped at 0 and UINT64_MAX: a hostile timestamp gives a clamped time, never overflow. */
  if (ts >= run->ticks0) {
    uint64_t d = scale_ticks(run, ts - run->ticks0);
    return d > UINT64_MAX - run->mono0 ? UINT64_MAX : run->mono0 + d;
  }
  uint64_t d = scale_ticks(run, run->ticks0 - ts);
  return d >= run->mono0 ? 0 : run->mono0 - d;
}

int ms_run_open(const char *dir, ms_run_t **out, char *err, size_t errlen) {
  return ms_run_open_flags(dir, 0, out, err, errlen);
}

int ms_run_open_flags(const char *dir, unsigned flags, ms_run_t **out, char *err,
                      size_t errlen) {
  *out = NULL;
  ms_run_t *run = calloc(1, sizeof *run);
  if (!run)
    return MS_TRACE_E_NOMEM;
  ms__hmap_init(&run->stacks, sizeof(ms_stack_t));
  ms_crc32c_init(&run->crc);
  run->hw_crc = ms_crc32c_hw_usable();
  run->lazy = (flags & MS_RUN_LAZY) != 0;
  run->pending = -1;
  uint8_t *buf = NULL;
  size_t cap = 0;
  char *meta_path = NULL, *maps_path = NULL;
  int rc = MS_TRACE_E_NOMEM;
  run->dir = strdup(dir);
  meta_path = ms__path_join(dir, "meta.txt");
  maps_path = ms__path_join(dir, "maps.txt");
  run->frames = malloc(MS_TRACE_MAX_FRAMES * sizeof *run->frames);
  if (!run->dir || !meta_path || !maps_path || !run->frames)
    goto fail;
  rc = ms__meta_parse(meta_path, &run->meta, err, errlen);
  if (rc)
    goto fail;
  rc = ms_maps_load(maps_path, &run->maps);
  if (rc) {
    ms__set_err(err, errlen, "%s: %s", maps_path,
            rc == -EINVAL ? "not a regular file (a FIFO, device or directory)"
                          : ms_trace_strerror(rc));
    goto fail;
  }
  rc = list_thread_files(run, err, errlen);
  if (rc)
    goto fail;
  for (size_t i = 0; i < run->nthreads; i++) {
    rc = scan_file(run, i, &buf, &cap, err, errlen);
    if (rc)
      goto fail;
  }
  setup_calibration(run);
  free(buf);
  free(meta_path);
  free(maps_path);
  *out = run;
  return 0;
fail:
  if (rc == MS_TRACE_E_NOMEM)
    ms__set_err(err, errlen, "%s: out of memory", dir);
  free(buf);
  free(meta_path);
  free(maps_path);
  ms_run_close(run);
  return rc;
}

void ms_run_close(ms_run_t *run) {
  if (!run)
    return;
  size_t pos = 0;
  void *v;
  while (ms__hmap_next(&run->stacks, &pos, NULL, &v))
    free((void *)((ms_stack_t *)v)->frames);
  ms__hmap_destroy(&run->stacks);
  for (size_t i = 0; i < run->nthreads; i++) {
    cursor_t *c = &run->cursors[i];
    if (c->fd1)
      close(c->fd1 - 1);
    free(c->payload);
    free(c->evs);
    free(c->arena);
    free(run->paths[i]);
  }
  free(run->paths);
  free(run->threads);
  free(run->cursors);
  free(run->heap);
  free(run->damage);
  free(run->frames);
  ms__meta_free(&run->meta);
  ms_maps_free(run->maps);
  free(run->dir);
  free(run);
}

const char *ms_run_dir(const ms_run_t *run) { return run->dir; }
const ms_meta_t *ms_run_meta(const ms_run_t *run) { return &run->meta; }
const ms_maps_t *ms_run_maps(const ms_run_t *run) { return run->maps; }
int ms_run_partial(const ms_run_t *run) { return !run->meta.has_end || run->ndamage > 0; }
size_t ms_run_ndamage(const ms_run_t *run) { return run->ndamage; }
const ms_damage_t *ms_run_damage(const ms_run_t *run, size_t i) {
  return i < run->ndamage ? &run->damage[i] : NULL;
}
size_t ms_run_nthreads(const ms_run_t *run) { return run->nthreads; }
const ms_thread_info_t *ms_run_thread(const ms_run_t *run, size_t i) {
  return i < run->nthreads ? &run->threads[i] : NULL;
}
const char *ms_run_calibration(const ms_run_t *run) { return run->calib_kind; }
const ms_stack_t *ms_run_stack(const ms_run_t *run, uint64_t id) {
  return ms__hmap_get(&run->stacks, id);
}
size_t ms_run_nstacks(const ms_run_t *run) { return run->stacks.count; }
int ms_run_stack_next(const ms_run_t *run, size_t *pos, const ms_stack_t **s) {
  void *v;
  if (!ms__hmap_next(&run->stacks, pos, NULL, &v))
    return 0;
  *s = v;
  return 1;
}

/* ---- merge --------------------------------------------------------------------------------- */

/* Copies a payload string into the window's arena, NUL-terminated, at *n; returns the copy.
 * decode_window sized the arena for every string the window can hold. */
static const char *arena_put(cursor_t *c, size_t *n, const uint8_t *s, uint64_t len) {
  char *d = c->arena + *n;
  memcpy(d, s, (size_t)len);
  d[len] = 0;
  *n += (size_t)len + 1;
  return d;
}

/* The current chunk of file i gives no (more) events: record why, end the file there. */
static int chunk_bad(ms_run_t *run, size_t i, const char *prefix, const char *why) {
  cursor_t *c = &run->cursors[i];
  c->done = 1;
  c->nevs = c->ri = 0;
  c->p = c->pend = NULL;
  c->end = c->chunk_off;
  if (run->threads[i].good_bytes > c->chunk_off)
    run->threads[i].good_bytes = c->chunk_off;
  return add_damage(run, i, c->chunk_off, "%s%s", prefix, why);
}

/* Decodes the next window of the current chunk into c->evs. In a lazily opened run, a chunk
 * not checked yet is checked here as it is decoded: its STACK records go to the stack table,
 * its records to the thread's counts, and a bad record or a count that disagrees with the
 * header ends the file there, after the chunk's events before the fault (a full open would
 * have dropped the whole chunk; the CRC was good, so only a faulty writer gets here).
 * Returns 0 or a negative error. */
static int decode_window(ms_run_t *run, size_t i) {
  cursor_t *c = &run->cursors[i];
  if (!c->evs && !(c->evs = malloc(WINDOW * sizeof *c->evs)))
    return MS_TRACE_E_NOMEM;
  const uint8_t *p = c->p, *end = c->pend;
  /* String bytes never exceed the payload bytes left; one NUL per string, three per record. */
  size_t need = (size_t)(end - p) + 3 * WINDOW + 1;
  if (c->arena_cap < need) {
    char *a = realloc(c->arena, need);
    if (!a)
      return MS_TRACE_E_NOMEM;
    c->arena = a;
    c->arena_cap = need;
  }
  int check = !c->chunk_checked;
  delta_t *d = &c->delta; /* in place: v2's state is 1 KiB, not worth copying per window */
  size_t n = 0, an = 0;
  uint64_t nrec = 0;
  const char *why = NULL;
  while (p < end && n < WINDOW) {
    ms_event_t *r = &c->evs[n];
    rec_extra_t x;
    *r = c->tmpl;
    if (decode_record(&p, end, d, r, &x, check ? run->frames : NULL, &why))
      break;
    why = NULL; /* decode_record sets it on success too */
    nrec++;
    if (__builtin_expect((int)r->kind >= MS_REC_STACK, 0)) {
      if ((int)r->kind == MS_REC_STACK) {
        if (check) {
          int rc = commit_stack(run, r, &x, run->frames);
          if (rc)
            return rc;
        }
        continue; /* not an event */
      }
      r->name = arena_put(c, &an, x.str[0], x.str_len[0]);
      r->name_len = (uint32_t)x.str_len[0]; /* at most a chunk's payload (1 MiB) */
      if (r->kind == MS_EV_VAR) {
        r->type_name = arena_put(c, &an, x.str[1], x.str_len[1]);
        r->file = arena_put(c, &an, x.str[2], x.str_len[2]);
      }
    }
    r->ts_ns = ms_run_ticks_to_ns(run, r->ts);
    n++;
  }
  c->p = p;
  c->nevs = n;
  c->ri = 0;
  if (!check) {
    if (why) /* checked before, so the file changed since */
      return chunk_bad(run, i, "changed since opened: ", why);
    return 0;
  }
  ms_thread_info_t *ti = &run->threads[i];
  ti->records += nrec;
  c->chunk_seen += nrec;
  for (size_t k = 0; k < n; k++) {
    if (c->have_last && c->evs[k].ts < c->last_ts)
      ti->ts_backwards++;
    c->last_ts = c->evs[k].ts;
    c->have_last = 1;
  }
  char reason[96];
  if (why) {
    snprintf(reason, sizeof reason, "record %" PRIu64 " of chunk: %s", c->chunk_seen, why);
  } else if (p == end && c->chunk_seen != c->chunk.nrecords) {
    snprintf(reason, sizeof reason, "chunk says %" PRIu32 " records, payload holds %" PRIu64,
             c->chunk.nrecords, c->chunk_seen);
  } else {
    if (p == end) {
      c->chunk_checked = 1;
      c->counted_upto = c->offset;
    }
    return 0;
  }
  /* The events decoded before the fault stay; the file ends after them. */
  int rc = chunk_bad(run, i, "", reason);
  c->nevs = n;
  return rc;
}

/* Reads the chunk at c->offset of file i. Opened per chunk so a run with thousands of threads
 * needs one fd. Returns 0 (the file may have ended with damage) or a negative error. */
static int load_chunk(ms_run_t *run, size_t i) {
  cursor_t *c = &run->cursors[i];
  c->chunk_off = c->offset;
  /* Regular files only: the file may have been replaced (by a FIFO) since the open. Once
   * reopened here, the descriptor stays with the cursor (up to MAX_KEPT_FDS of them): later
   * chunks come from the same file, and a later swap of the name no longer matters. */
  int fd = c->fd1 ? c->fd1 - 1 : ms__open_run_file(run->threads[i].path);
  struct stat st;
  if (fd < 0 || fstat(fd, &st)) {
    int e = fd < 0 ? -fd : errno;
    if (fd >= 0 && !c->fd1)
      close(fd);
    return chunk_bad(run, i, "reopen failed: ",
                     e == EINVAL ? "not a regular file any more" : strerror(e));
  }
  char why[96];
  uint64_t size = (uint64_t)st.st_size < c->end ? (uint64_t)st.st_size : c->end;
  int rc = read_chunk(run, fd, c->offset, size, &c->chunk, &c->payload, &c->payload_cap, why,
                      sizeof why);
  if (!c->fd1 && run->kept_fds < MAX_KEPT_FDS) {
    c->fd1 = fd + 1;
    run->kept_fds++;
  } else if (!c->fd1) {
    close(fd);
  }
  if (rc < 0)
    return rc;
  if (rc == 1) /* the open's scan found this chunk whole */
    return chunk_bad(run, i, "changed since opened: ", why);
  c->p = c->payload;
  c->pend = c->payload + c->chunk.payload_len;
  delta_init(&c->delta, c->chunk.base_ts, c->version);
  c->offset += MS_CHUNK_HEADER_SIZE + c->chunk.payload_len;
  c->chunk_checked = !run->lazy || c->chunk_off < c->counted_upto;
  c->chunk_seen = 0;
  return 0;
}

/* cursor_advance's slow path: the window is used up; decode the next one (reading chunks as
 * needed). */
static __attribute__((noinline)) int cursor_refill(ms_run_t *run, size_t i) {
  cursor_t *c = &run->cursors[i];
  c->ri = c->nevs = 0;
  for (;;) {
    if (c->nevs)
      return 1;
    if (c->done)
      return 0;
    int rc;
    if (c->p < c->pend) {
      rc = decode_window(run, i);
    } else if (c->offset >= c->end) {
      c->done = 1;
      return 0;
    } else {
      rc = load_chunk(run, i);
    }
    if (rc < 0)
      return rc;
  }
}

/* Moves cursor `i` to its next event (c->evs[c->ri]). Returns 1, 0 (file done) or an error.
 * Inline: the merge calls it for every event, and all but one in WINDOW stay in the window. */
static inline int cursor_advance(ms_run_t *run, size_t i) {
  cursor_t *c = &run->cursors[i];
  if (__builtin_expect(c->ri + 1 < c->nevs, 1)) {
    c->ri++;
    return 1;
  }
  return cursor_refill(run, i);
}

static inline heap_ent_t heap_key(const ms_run_t *run, uint32_t idx) {
  const cursor_t *c = &run->cursors[idx];
  const ms_event_t *e = &c->evs[c->ri];
  return (heap_ent_t){e->ts, (uint64_t)e->thread_seq << 32 | idx};
}

static void heap_push(ms_run_t *run, uint32_t idx) {
  size_t i = run->heap_n++;
  heap_ent_t x = heap_key(run, idx);
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!heap_less(&x, &run->heap[parent]))
      break;
    run->heap[i] = run->heap[parent];
    i = parent;
  }
  run->heap[i] = x;
}

/* Puts x, the top's new key (its cursor advanced), in the heap's top and restores heap order.
 * x comes in registers: stored to the top and read back, it cost a store-forwarding stall. */
static inline void heap_sift_down(ms_run_t *run, heap_ent_t x) {
  heap_ent_t *h = run->heap;
  size_t n = run->heap_n, i = 0;
  for (;;) {
    size_t l = 2 * i + 1;
    if (l >= n)
      break;
    size_t m = l + (size_t)(l + 1 < n && heap_less(&h[l + 1], &h[l]));
    if (!heap_less(&h[m], &x))
      break;
    h[i] = h[m];
    i = m;
  }
  h[i] = x;
}

int ms_run_rewind(ms_run_t *run) {
  for (size_t i = 0; i < run->nthreads; i++) {
    cursor_t *c = &run->cursors[i];
    const ms_thread_info_t *ti = &run->threads[i];
    c->offset = c->start;
    c->end = ti->good_bytes;
    c->p = c->pend = NULL;
    c->nevs = c->ri = 0;
    c->done = !ti->usable;
    c->tmpl = (ms_event_t){.thread = (uint32_t)i,
                           .tid = ti->tid,
                           .thread_seq = ti->thread_seq,
                           .weight = 1};
  }
  run->heap_n = 0;
  run->started = 0;
  run->pending = -1;
  return 0;
}

/* The merge's step, shared by ms__run_next_ref and ms__run_next_batch: starts the merge on
 * the first call, advances the cursor whose events were returned last and restores the heap.
 * Returns 1 with the cursor of the smallest key at the heap's top, 0 at the end, or an
 * error. */
static inline int merge_step(ms_run_t *run) {
  int rc;
  if (__builtin_expect(!run->started, 0)) {
    ms_run_rewind(run);
    for (size_t i = 0; i < run->nthreads; i++) {
      if (run->cursors[i].done)
        continue;
      rc = cursor_advance(run, i);
      if (rc < 0)
        return rc;
      if (rc == 1)
        heap_push(run, (uint32_t)i);
    }
    run->started = 1;
  }
  /* The cursor of the event returned last stays at the top of the heap until now (the
   * caller held its event): advance it and sift it down, one sift per event instead of a
   * pop and a push. */
  if (run->pending >= 0) {
    uint32_t i = (uint32_t)run->pending;
    run->pending = -1;
    rc = cursor_advance(run, i);
    if (rc < 0)
      return rc;
    heap_sift_down(run, rc ? heap_key(run, i) : run->heap[--run->heap_n]);
  }
  return run->heap_n ? 1 : 0;
}

int ms__run_next_ref(ms_run_t *run, const ms_event_t **ev) {
  int rc = merge_step(run);
  if (rc != 1)
    return rc;
  uint32_t i = (uint32_t)run->heap[0].tie;
  const cursor_t *c = &run->cursors[i];
  *ev = &c->evs[c->ri];
  run->pending = i;
  return 1;
}

/* The top cursor's events that come before every other cursor's current one are the next
 * events of the merge, in order: the runner-up key (the smaller of the top's two children)
 * bounds them, and one comparison per event finds them in the decoded window instead of a
 * sift of the heap per event. The cursor is left on the last one returned, so the next call
 * advances it exactly as after ms__run_next_ref. Equal timestamps fall to the tie (thread
 * sequence, file order) as in heap_less. */
int ms__run_next_batch(ms_run_t *run, const ms_event_t **evs, size_t *n) {
  int rc = merge_step(run);
  if (rc != 1)
    return rc;
  uint32_t i = (uint32_t)run->heap[0].tie;
  cursor_t *c = &run->cursors[i];
  const ms_event_t *e = &c->evs[c->ri];
  size_t k = 1, avail = c->nevs - c->ri;
  if (run->heap_n == 1) {
    k = avail;
  } else {
    const heap_ent_t *b = &run->heap[1];
    if (run->heap_n > 2 && heap_less(&run->heap[2], b))
      b = &run->heap[2];
    /* Keys as heap_less compares them; the tie is the top cursor's throughout. */
    __extension__ typedef unsigned __int128 key128_t;
    key128_t bound = (key128_t)b->ts << 64 | b->tie;
    uint64_t tie = run->heap[0].tie;
    while (k < avail && ((key128_t)e[k].ts << 64 | tie) < bound)
      k++;
  }
  *evs = e;
  *n = k;
  c->ri += k - 1;
  run->pending = i;
  return 1;
}

int ms_run_next(ms_run_t *run, ms_event_t *ev) {
  const ms_event_t *e;
  int rc = ms__run_next_ref(run, &e);
  if (rc == 1)
    *ev = *e;
  return rc;
}
