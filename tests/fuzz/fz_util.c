/* fz_util.c: helpers shared by memscope's own fuzz targets (fz_util.h). */
#define _GNU_SOURCE
#include "fz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...) {
  fprintf(stderr, "%s:%d: invariant broken: %s: ", file, line, cond);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  abort();
}

int fz_mkdtemp(char *buf, size_t len, const char *tag) {
  int n = snprintf(buf, len, "/tmp/ms-fuzz-%s-XXXXXX", tag);
  if (n < 0 || (size_t)n >= len)
    return -ENAMETOOLONG;
  return mkdtemp(buf) ? 0 : -errno;
}

int fz_write_file(const char *dir, const char *name, const void *data, size_t len, int append) {
  char path[4096];
  int n = snprintf(path, sizeof path, "%s/%s", dir, name);
  if (n < 0 || (size_t)n >= sizeof path)
    return -ENAMETOOLONG;
  int flags = O_WRONLY | O_NOFOLLOW | O_CLOEXEC | (append ? O_APPEND : O_CREAT | O_EXCL);
  int fd = open(path, flags, 0600);
  if (fd < 0)
    return -errno;
  const char *p = data;
  int rc = 0;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      rc = w < 0 ? -errno : -EIO;
      break;
    }
    p += w;
    len -= (size_t)w;
  }
  if (close(fd) && !rc)
    rc = -errno;
  return rc;
}

int fz_memfile_open(fz_memfile_t *f, const char *name) {
  f->fd = memfd_create(name, MFD_CLOEXEC);
  if (f->fd < 0)
    return -errno;
  snprintf(f->path, sizeof f->path, "/proc/self/fd/%d", f->fd);
  return 0;
}

int fz_memfile_set(fz_memfile_t *f, const void *data, size_t len) {
  if (ftruncate(f->fd, 0) < 0)
    return -errno;
  const char *p = data;
  off_t off = 0;
  while (len) {
    ssize_t w = pwrite(f->fd, p, len, off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return w < 0 ? -errno : -EIO;
    p += w;
    off += w;
    len -= (size_t)w;
  }
  return 0;
}

static int rm_keep_top; /* nftw's callback takes no argument: fz_rmtree's keep_dir */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  if (ftw->level == 0 && rm_keep_top)
    return 0;
  return remove(path) != 0 && errno != ENOENT ? -1 : 0;
}

int fz_rmtree(const char *dir, int keep_dir) {
  /* FTW_PHYS: a link (a hostile trace cannot plant one, but the salvage may be wrong one day)
   * is removed, never followed. FTW_DEPTH: files before their directory. */
  rm_keep_top = keep_dir;
  return nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -EIO;
}

static int saved_out = -1, saved_err = -1;

void fz_quiet_begin(void) {
  fflush(stdout);
  fflush(stderr);
  int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (null < 0)
    return;
  saved_out = dup(STDOUT_FILENO);
  saved_err = dup(STDERR_FILENO);
  dup2(null, STDOUT_FILENO);
  dup2(null, STDERR_FILENO);
  close(null);
}

void fz_quiet_end(void) {
  fflush(stdout);
  fflush(stderr);
  if (saved_out >= 0) {
    dup2(saved_out, STDOUT_FILENO);
    close(saved_out);
    saved_out = -1;
  }
  if (saved_err >= 0) {
    dup2(saved_err, STDERR_FILENO);
    close(saved_err);
    saved_err = -1;
  }
}
