/* ms_runs.c: the trace reader's run discovery (which run directories a path holds) and
 * meta.txt, with the small helpers the rest of the reader (ms_trace.c) shares. Split from
 * ms_trace.c, which keeps thread-file validation and the merge. */
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
#include "ms_trace_int.h"

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

void ms__set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ms__set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

char *ms__path_join(const char *dir, const char *name) {
  size_t a = strlen(dir), b = strlen(name);
  char *p = malloc(a + b + 2);
  if (!p)
    return NULL;
  memcpy(p, dir, a);
  p[a] = '/';
  memcpy(p + a + 1, name, b + 1);
  return p;
}

int ms__is_regular(const char *path) {
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
int ms__parse_u64(const char *s, uint64_t *out) {
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
    ms__set_err(err, errlen, "%s: %s", path, strerror(e));
    return -e;
  }
  if (!S_ISDIR(st.st_mode)) {
    ms__set_err(err, errlen, "%s: not a directory (give a run directory or its parent)", path);
    return MS_TRACE_E_NOTTRACE;
  }
  char *meta = ms__path_join(path, "meta.txt");
  if (!meta)
    return MS_TRACE_E_NOMEM;
  int single = ms__is_regular(meta);
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
    ms__set_err(err, errlen, "%s: %s", path, strerror(e));
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
    char *p = ms__path_join(path, de->d_name);
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
    ms__set_err(err, errlen,
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

/* An end part (end_reason) that no later exec_failed line voids: the tracker ends a run's
 * meta.txt before an exec, and writes exec_failed=ERRNO when the exec returned and the
 * process went on (then only a later end part ends it). */
static int meta_has_end(const ms_meta_t *m) {
  for (size_t i = m->nkeys; i-- > 0;) {
    if (!strcmp(m->keys[i], "end_reason"))
      return 1;
    if (!strcmp(m->keys[i], "exec_failed"))
      return 0;
  }
  return 0;
}

void ms__meta_free(ms_meta_t *m) {
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

int ms__meta_parse(const char *path, ms_meta_t *m, char *err, size_t errlen) {
  memset(m, 0, sizeof *m);
  char *buf = NULL;
  size_t len = 0;
  int rc = read_small_file(path, META_MAX_BYTES, &buf, &len);
  if (rc == -ENOENT) {
    ms__set_err(err, errlen, "%s: missing: not a memscope run directory", path);
    return MS_TRACE_E_NOTTRACE;
  }
  if (rc == -EINVAL) {
    ms__set_err(err, errlen, "%s: not a regular file (a FIFO, device or directory): not a memscope "
            "run directory", path);
    return MS_TRACE_E_NOTTRACE;
  }
  if (rc) {
    ms__set_err(err, errlen, "%s: %s", path, ms_trace_strerror(rc));
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
          ms__meta_free(m);
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
        ms__meta_free(m);
        return MS_TRACE_E_NOMEM;
      }
    }
    line = next;
  }
  free(buf);

  const char *format = ms_meta_get(m, "format");
  if (!format || strcmp(format, "memscope-trace")) {
    ms__set_err(err, errlen, "%s: format is not memscope-trace: not a memscope trace", path);
    ms__meta_free(m);
    return MS_TRACE_E_NOTTRACE;
  }
  uint64_t version;
  if (ms__parse_u64(ms_meta_get(m, "version"), &version)) {
    ms__set_err(err, errlen, "%s: no valid version line", path);
    ms__meta_free(m);
    return MS_TRACE_E_CORRUPT;
  }
  if (version < MS_FORMAT_VERSION_MIN || version > MS_FORMAT_VERSION) {
    ms__set_err(err, errlen,
            "%s: trace format version %" PRIu64
            ", this reader knows versions %d to %d: use a matching memscope",
            path, version, MS_FORMAT_VERSION_MIN, MS_FORMAT_VERSION);
    ms__meta_free(m);
    return MS_TRACE_E_VERSION;
  }
  uint64_t v;
  if (!ms__parse_u64(ms_meta_get(m, "pid"), &v) && v <= UINT32_MAX)
    m->pid = (uint32_t)v;
  if (!ms__parse_u64(ms_meta_get(m, "run_id"), &v))
    m->run_id = v;
  m->has_end = meta_has_end(m);
  const char *clock = ms_meta_get(m, "clock");
  m->clock_tsc = clock && !strcmp(clock, "tsc");
  m->have_start_calib = !ms__parse_u64(ms_meta_get(m, "start_mono_ns"), &m->start_mono_ns) &&
                        !ms__parse_u64(ms_meta_get(m, "start_ticks"), &m->start_ticks);
  m->have_end_calib = !ms__parse_u64(ms_meta_get(m, "end_mono_ns"), &m->end_mono_ns) &&
                      !ms__parse_u64(ms_meta_get(m, "end_ticks"), &m->end_ticks);
  return 0;
}

