/* ms_trace.c: the reference reader of the memscope trace format (docs/trace-format.md):
 * run discovery, meta.txt, maps.txt, thread-file validation and the k-way merge. */
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
#include "ms_hmap.h"
#include "ms_trace_int.h"

/* 128-bit products for the tick calibration (GCC and Clang; __extension__ keeps -Wpedantic
 * quiet about a type ISO C lacks). */
__extension__ typedef unsigned __int128 ms_u128_t;

#define META_MAX_BYTES (1u << 20) /* meta.txt is a few hundred bytes; refuse absurd ones */

/* ---- errors -------------------------------------------------------------------------------- */

const char *ms_trace_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
  case MS_TRACE_E_NOTTRACE:
    return "not a memscope trace";
  case MS_TRACE_E_VERSION:
    return "unsupported trace format version";
  case MS_TRACE_E_CORRUPT:
    return "corrupt trace metadata";
  case MS_TRACE_E_NOMEM:
    return "out of memory";
  default:
    return code < 0 && code > -4096 ? strerror(-code) : "unknown error";
  }
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static char *path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p)
    return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

static int is_regular(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Opens one of the run's own files (meta.txt, maps.txt, a thread file) for reading, only if
 * it is a regular file: a hostile or broken run directory may hold a FIFO there (open(2)
 * would block until a writer comes, forever) or a device. stat first, so that a device is
 * never opened at all (opening some has effects: a watchdog arms, a tape rewinds); then
 * ms_open_regular (O_NONBLOCK, fstat) for a file swapped in between. Returns the descriptor
 * or -errno; -EINVAL: not a regular file. */
int ms__open_run_file(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return -errno;
  if (!S_ISREG(st.st_mode))
    return -EINVAL;
  return ms_open_regular(path, 0);
}

/* Parses a whole decimal string into *out; 0 on success. */
static int parse_u64(const char *s, uint64_t *out) {
  if (!s || !isdigit((unsigned char)*s))
    return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end)
    return -1;
  *out = v;
  return 0;
}

/* ---- run discovery ------------------------------------------------------------------------- */

typedef struct run_name_s {
  uint64_t pid, n;
  char *path;
} run_name_t;

/* Accepts exactly memscope.<digits>.<digits>. */
static int parse_run_name(const char *name, uint64_t *pid, uint64_t *n) {
  if (strncmp(name, "memscope.", 9))
    return -1;
  const char *p = name + 9;
  char *end;
  if (!isdigit((unsigned char)*p))
    return -1;
  *pid = strtoull(p, &end, 10);
  if (*end != '.' || !isdigit((unsigned char)end[1]))
    return -1;
  p = end + 1;
  *n = strtoull(p, &end, 10);
  return *end ? -1 : 0;
}

static int cmp_run_name(const void *a, const void *b) {
  const run_name_t *x = a, *y = b;
  if (x->pid != y->pid)
    return x->pid < y->pid ? -1 : 1;
  if (x->n != y->n)
    return x->n < y->n ? -1 : 1;
  return strcmp(x->path, y->path);
}

void ms_trace_free_dirs(char **dirs, size_t ndirs) {
  if (!dirs)
    return;
  for (size_t i = 0; i < ndirs; i++)
    free(dirs[i]);
  free(dirs);
}

int ms_trace_find_runs(const char *path, char ***dirs, size_t *ndirs, char *err,
                       size_t errlen) {
  *dirs = NULL;
  *ndirs = 0;
  struct stat st;
  if (stat(path, &st) != 0) {
    int e = errno;
    set_err(err, errlen, "%s: %s", path, strerror(e));
    return -e;
  }
  if (!S_ISDIR(st.st_mode)) {
    set_err(err, errlen, "%s: not a directory (give a run directory or its parent)", path);
    return MS_TRACE_E_NOTTRACE;
  }
  char *meta = path_join(path, "meta.txt");
  if (!meta)
    return MS_TRACE_E_NOMEM;
  int single = is_regular(meta);
  free(meta);
  if (single) {
    char **out = malloc(sizeof *out);
    char *p = strdup(path);
    if (!out || !p) {
      free(out);
      free(p);
      return MS_TRACE_E_NOMEM;
    }
    out[0] = p;
    *dirs = out;
    *ndirs = 1;
    return 0;
  }
  DIR *d = opendir(path);
  if (!d) {
    int e = errno;
    set_err(err, errlen, "%s: %s", path, strerror(e));
    return -e;
  }
  run_name_t *names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    uint64_t pid, k;
    if (parse_run_name(de->d_name, &pid, &k))
      continue;
    char *p = path_join(path, de->d_name);
    if (!p) {
      rc = MS_TRACE_E_NOMEM;
      break;
    }
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
      free(p);
      continue;
    }
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      run_name_t *nn = realloc(names, ncap * sizeof *nn);
      if (!nn) {
        free(p);
        rc = MS_TRACE_E_NOMEM;
        break;
      }
      names = nn;
      cap = ncap;
    }
    names[n++] = (run_name_t){pid, k, p};
  }
  closedir(d);
  if (!rc && n == 0) {
    set_err(err, errlen,
            "%s: no meta.txt and no memscope.<pid>.<n> run directories: not a memscope trace",
            path);
    rc = MS_TRACE_E_NOTTRACE;
  }
  char **out = NULL;
  if (!rc) {
    qsort(names, n, sizeof *names, cmp_run_name);
    out = malloc(n * sizeof *out);
    if (!out)
      rc = MS_TRACE_E_NOMEM;
  }
  if (rc) {
    for (size_t i = 0; i < n; i++)
      free(names[i].path);
    free(names);
    return rc;
  }
  for (size_t i = 0; i < n; i++)
    out[i] = names[i].path;
  free(names);
  *dirs = out;
  *ndirs = n;
  return 0;
}

/* ---- meta.txt ------------------------------------------------------------------------------ */

const char *ms_meta_get(const ms_meta_t *meta, const char *key) {
  /* The last occurrence wins, as if the lines were assignments. */
  for (size_t i = meta->nkeys; i-- > 0;)
    if (!strcmp(meta->keys[i], key))
      return meta->values[i];
  return NULL;
}

static void meta_free(ms_meta_t *m) {
  for (size_t i = 0; i < m->nkeys; i++) {
    free(m->keys[i]);
    free(m->values[i]);
  }
  free(m->keys);
  free(m->values);
  memset(m, 0, sizeof *m);
}

/* Reads a whole small file (at most `max` bytes) into a NUL-terminated buffer. */
static int read_small_file(const char *path, size_t max, char **out, size_t *len) {
  int fd = ms__open_run_file(path);
  if (fd < 0)
    return fd;
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return -EINVAL;
  }
  if ((uint64_t)st.st_size > max) {
    close(fd);
    return -EFBIG;
  }
  size_t cap = (size_t)st.st_size;
  char *buf = malloc(cap + 1);
  if (!buf) {
    close(fd);
    return MS_TRACE_E_NOMEM;
  }
  size_t n = 0;
  while (n < cap) {
    ssize_t r = read(fd, buf + n, cap - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break; /* a file that shrank under us: keep what was read */
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

static int meta_parse(const char *path, ms_meta_t *m, char *err, size_t errlen) {
  memset(m, 0, sizeof *m);
  char *buf = NULL;
  size_t len = 0;
  int rc = read_small_file(path, META_MAX_BYTES, &buf, &len);
  if (rc == -ENOENT) {
    set_err(err, errlen, "%s: missing: not a memscope run directory", path);
    return MS_TRACE_E_NOTTRACE;
  }
  if (rc == -EINVAL) {
    set_err(err, errlen, "%s: not a regular file (a FIFO, device or directory): not a memscope "
            "run directory", path);
    return MS_TRACE_E_NOTTRACE;
  }
  if (rc) {
    set_err(err, errlen, "%s: %s", path, ms_trace_strerror(rc));
    return rc == -EFBIG ? MS_TRACE_E_CORRUPT : rc;
  }
  size_t cap = 0;
  char *line = buf;
  while (line < buf + len) {
    char *nl = memchr(line, '\n', (size_t)(buf + len - line));
    char *next = nl ? nl + 1 : buf + len;
    if (nl)
      *nl = 0;
    char *eq = strchr(line, '=');
    if (eq && eq != line) {
      if (m->nkeys == cap) {
        size_t ncap = cap ? cap * 2 : 32;
        char **k = realloc(m->keys, ncap * sizeof *k);
        if (k)
          m->keys = k;
        char **v = realloc(m->values, ncap * sizeof *v);
        if (v)
          m->values = v;
        if (!k || !v) {
          free(buf);
          meta_free(m);
          return MS_TRACE_E_NOMEM;
        }
        cap = ncap;
      }
      *eq = 0;
      m->keys[m->nkeys] = strdup(line);
      m->values[m->nkeys] = strdup(eq + 1);
      m->nkeys++;
      if (!m->keys[m->nkeys - 1] || !m->values[m->nkeys - 1]) {
        free(buf);
        meta_free(m);
        return MS_TRACE_E_NOMEM;
      }
    }
    line = next;
  }
  free(buf);

  const char *format = ms_meta_get(m, "format");
  if (!format || strcmp(format, "memscope-trace")) {
    set_err(err, errlen, "%s: format is not memscope-trace: not a memscope trace", path);
    meta_free(m);
    return MS_TRACE_E_NOTTRACE;
  }
  uint64_t version;
  if (parse_u64(ms_meta_get(m, "version"), &version)) {
    set_err(err, errlen, "%s: no valid version line", path);
    meta_free(m);
    return MS_TRACE_E_CORRUPT;
  }
  if (version < MS_FORMAT_VERSION_MIN || version > MS_FORMAT_VERSION) {
    set_err(err, errlen,
            "%s: trace format version %" PRIu64
            ", this reader knows versions %d to %d: use a matching memscope",
            path, version, MS_FORMAT_VERSION_MIN, MS_FORMAT_VERSION);
    meta_free(m);
    return MS_TRACE_E_VERSION;
  }
  uint64_t v;
  if (!parse_u64(ms_meta_get(m, "pid"), &v) && v <= UINT32_MAX)
    m->pid = (uint32_t)v;
  if (!parse_u64(ms_meta_get(m, "run_id"), &v))
    m->run_id = v;
  m->has_end = ms_meta_get(m, "end_reason") != NULL;
  const char *clock = ms_meta_get(m, "clock");
  m->clock_tsc = clock && !strcmp(clock, "tsc");
  m->have_start_calib = !parse_u64(ms_meta_get(m, "start_mono_ns"), &m->start_mono_ns) &&
                        !parse_u64(ms_meta_get(m, "start_ticks"), &m->start_ticks);
  m->have_end_calib = !parse_u64(ms_meta_get(m, "end_mono_ns"), &m->end_mono_ns) &&
                      !parse_u64(ms_meta_get(m, "end_ticks"), &m->end_ticks);
  return 0;
}

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
    tag = (uint8_t)((tag & (MS_FLAG_ALIGN | MS_FLAG_WEIGHT)) |
                    ((tag & MS_V2_FLAG_RELEASE) ? MS_FLAG_REALLOC_RELEASE : 0));
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
    set_err(err, errlen, "%s: %s", path, strerror(-fd));
    return fd;
  }
  struct stat st;
  if (fstat(fd, &st)) {
    int e = errno;
    close(fd);
    set_err(err, errlen, "%s: %s", path, strerror(e));
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
    set_err(err, errlen,
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
    set_err(err, errlen, "%s: %s", run->dir, strerror(e));
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
    char *p = path_join(run->dir, de->d_name);
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
  meta_path = path_join(dir, "meta.txt");
  maps_path = path_join(dir, "maps.txt");
  run->frames = malloc(MS_TRACE_MAX_FRAMES * sizeof *run->frames);
  if (!run->dir || !meta_path || !maps_path || !run->frames)
    goto fail;
  rc = meta_parse(meta_path, &run->meta, err, errlen);
  if (rc)
    goto fail;
  rc = ms_maps_load(maps_path, &run->maps);
  if (rc) {
    set_err(err, errlen, "%s: %s", maps_path,
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
    set_err(err, errlen, "%s: out of memory", dir);
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
  meta_free(&run->meta);
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
