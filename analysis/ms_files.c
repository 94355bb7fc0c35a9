/* ms_files.c: report files created safely (temporary name, O_EXCL|O_NOFOLLOW, rename). */
#define _GNU_SOURCE
#include "ms_files.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void out_reset(ms_out_file_t *of) {
  free(of->tmp);
  free(of->path);
  memset(of, 0, sizeof *of);
}

int ms_out_open(ms_out_file_t *of, const char *path) {
  memset(of, 0, sizeof *of);
  size_t pl = strlen(path);
  of->path = strdup(path);
  of->tmp = malloc(pl + 16);
  if (!of->path || !of->tmp) {
    out_reset(of);
    return -ENOMEM;
  }
  /* Same directory as the final name, so that rename(2) is atomic; mkostemp opens with
   * O_CREAT|O_EXCL (no link is followed, no existing file reused) and a random suffix. */
  memcpy(of->tmp, path, pl);
  memcpy(of->tmp + pl, ".tmp.XXXXXX", 12);
  int fd = mkostemp(of->tmp, O_CLOEXEC);
  if (fd < 0) {
    int e = -errno;
    out_reset(of);
    return e;
  }
  of->f = fdopen(fd, "w");
  if (!of->f) {
    int e = -errno;
    close(fd);
    unlink(of->tmp);
    out_reset(of);
    return e;
  }
  return 0;
}

int ms_out_commit(ms_out_file_t *of) {
  if (!of->f)
    return -EBADF;
  int rc = 0;
  if (ferror(of->f))
    rc = -EIO;
  if (fflush(of->f) != 0 && !rc)
    rc = errno ? -errno : -EIO;
  if (!rc && fchmod(fileno(of->f), 0644) < 0)
    rc = -errno;
  if (fclose(of->f) != 0 && !rc)
    rc = errno ? -errno : -EIO;
  of->f = NULL;
  if (!rc && rename(of->tmp, of->path) < 0)
    rc = -errno;
  if (rc)
    unlink(of->tmp);
  out_reset(of);
  return rc;
}

void ms_out_abort(ms_out_file_t *of) {
  if (of->f) {
    fclose(of->f);
    unlink(of->tmp);
  }
  out_reset(of);
}

int ms_write_file_atomic(const char *path, const void *data, size_t len) {
  ms_out_file_t of;
  int rc = ms_out_open(&of, path);
  if (rc)
    return rc;
  if (len && fwrite(data, 1, len, of.f) != len) {
    int e = errno ? -errno : -EIO;
    ms_out_abort(&of);
    return e;
  }
  return ms_out_commit(&of);
}

int ms_open_regular(const char *path, int nofollow) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
  if (fd < 0)
    return -errno;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return -EINVAL;
  }
  /* Reads block as usual from here on: the O_NONBLOCK was for the open of a FIFO only. */
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0)
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}
