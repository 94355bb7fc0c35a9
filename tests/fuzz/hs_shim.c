/* hs_shim.c: the few harness functions that harness/hs_units.c and harness/hs_overhead.c call
 * but that live in harness/main.c and harness/hs_child.c, for fuzz targets that compile those
 * two files without the CLI around them (main.c has main(), hs_child.c forks children).
 *
 * hs_fmt and hs_read_file keep main.c's contracts (hs.h), since the code under test relies
 * on them: the loader's input comes through hs_read_file. The child and progress functions
 * are only reached by hs_overhead_measure, which no target calls: they fail or do nothing. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs.h"

int hs_fmt(char *buf, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, len, fmt, ap);
  va_end(ap);
  return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A whole file in a malloc'd NUL-terminated buffer; NULL with errno on failure. */
char *hs_read_file(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    if (n + 1 >= cap) {
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      int e = errno;
      free(buf);
      close(fd);
      errno = e;
      return NULL;
    }
    if (r == 0)
      break;
    n += (size_t)r;
  }
  close(fd);
  if (!buf) {
    errno = ENOMEM;
    return NULL;
  }
  buf[n] = 0;
  if (len)
    *len = n;
  return buf;
}

int hs_rmtree(const char *path) {
  (void)path;
  return -ENOSYS;
}

void hs_progress(const char *fmt, ...) { (void)fmt; }

void hs_progress_clear(void) {}

int hs_child_run(const hs_child_spec_t *spec, hs_child_result_t *res) {
  (void)spec;
  memset(res, 0, sizeof *res);
  return -ENOSYS;
}

void hs_child_result_free(hs_child_result_t *res) { (void)res; }
