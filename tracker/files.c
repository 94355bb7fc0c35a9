/* files.c: the tracker's own files (ms_file_t): created in the run directory never through a
 * link, checked before every use to be still the file it opened (a program may close or
 * reuse any descriptor number), reopened by path when it is not, written whole within
 * RLIMIT_FSIZE, and for thread files reserved ahead with fallocate.
 *
 * Split from core.c, which keeps the run directory, the threads and the process events;
 * flush.c writes the buffers through these. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "ms_internal.h"

/* Records what f->fd refers to; moves it to a high number first. 0 or -errno (fd closed). */
int ms__file_adopt(ms_file_t *f, int fd) {
  fd = ms__fd_raise(fd);
  struct stat st;
  if (fstat(fd, &st) < 0) {
    int e = errno;
    close(fd);
    f->fd = -1;
    return -e;
  }
  f->fd = fd;
  f->dev = (uint64_t)st.st_dev;
  f->ino = (uint64_t)st.st_ino;
  f->bytes = 0;
  f->prealloc = 0;
  f->no_prealloc = 0;
  f->may_prealloc = 0;
  return 0;
}

/* 1 when f->fd is still the file we opened. */
static int file_is_ours(const ms_file_t *f) {
  struct stat st;
  return f->fd >= 0 && fstat(f->fd, &st) == 0 && (uint64_t)st.st_dev == f->dev &&
         (uint64_t)st.st_ino == f->ino;
}

/* The program closed or reused f->fd: open the same file again by its path (never through a
 * link), and keep it only when it is the same inode. The old number is left alone: it may be
 * the program's now. 0, -EBADF (another file there now), or open's -errno: the reason the
 * run's message gives (a sandbox's EPERM was reported as a closed descriptor). */
static int file_reopen(ms_file_t *f) {
  /* No path buffer (a reopen runs inside a hook's flush, on a stack that may be 16 KiB):
   * the directory by the run's own path, a file relative to the directory once that is
   * known to be the run's (its own reopen first, if the program closed it too). */
  int fd;
  if (!f->name[0]) {
    fd = open(ms__g.run_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } else {
    int checked = ms__file_check(&ms__g.dir);
    if (checked < 0)
      return checked;
    fd = openat(ms__g.dir.fd, f->name,
                f->rw ? O_RDWR | O_NOFOLLOW | O_CLOEXEC
                      : O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0)
    return errno ? -errno : -EBADF;
  ms_file_t again = *f;
  uint64_t bytes = f->bytes;
  if (ms__file_adopt(&again, fd) < 0 || again.dev != f->dev || again.ino != f->ino) {
    if (again.fd >= 0)
      close(again.fd);
    return -EBADF;
  }
  uint64_t prealloc = f->prealloc;
  int no_prealloc = f->no_prealloc, may_prealloc = f->may_prealloc;
  *f = again;
  f->bytes = bytes;
  f->prealloc = prealloc;
  f->no_prealloc = no_prealloc;
  f->may_prealloc = may_prealloc;
  return 0;
}

int ms__file_check(ms_file_t *f) {
  return file_is_ours(f) ? 0 : file_reopen(f);
}

/* Thread files reserve their next blocks ahead of the writes (fallocate, FALLOC_FL_KEEP_SIZE:
 * the file's size does not change, so readers and the salvage see only what was written).
 * A buffered write into reserved blocks skips ext4's per-block delayed-allocation work: 64 KiB
 * writes took 0.24 ns a byte instead of 0.38 on the guest measured (docs/tracker.md, "Thread
 * files reserved ahead"). Only a file past MS_PREALLOC_FROM bytes reserves, MS_PREALLOC_STEP
 * at a time, so a short trace reserves nothing and the reserve is never more than the file;
 * ms__flush_thread gives back what was not used (ms__file_trim). Never:
 *   - under a finite RLIMIT_FSIZE (the tracker keeps clear of it: ms__file_write);
 *   - when the file system would have less than MS_PREALLOC_MIN_FREE left after it, so a
 *     nearly full disk fills exactly as it did without reserves (a review's 6-MiB disk lost
 *     426,791 events to other threads' reserves);
 *   - again for a file whose reservation failed once (a file system without fallocate).
 * A process killed before its last flush leaves at most MS_PREALLOC_STEP reserved past a
 * file's end. */
#define MS_PREALLOC_FROM (256u * 1024)
#define MS_PREALLOC_STEP (1024u * 1024)
#define MS_PREALLOC_MIN_FREE (1024ull * 1024 * 1024)

/* Set for the rest of the run once a thread saw its file system under the floor: every
 * thread file then gives back its reserve at its next write and reserves no more, so that
 * reserves made while there was room do not stay while the disk fills. */
static _Atomic int prealloc_low;

/* Called by ms__file_write once f->fd is known to be ours, for a file that may reserve. */
static void file_prealloc(ms_file_t *f, size_t len) {
  if (MS_UNLIKELY(atomic_load_explicit(&prealloc_low, memory_order_relaxed))) {
    f->no_prealloc = 1;
    ms__file_trim(f);
    return;
  }
  if (f->no_prealloc || f->bytes + len <= f->prealloc || f->bytes < MS_PREALLOC_FROM)
    return;
  struct rlimit rl;
  struct statvfs vfs;
  int saved_errno = errno;
  uint64_t from = f->bytes > f->prealloc ? f->bytes : f->prealloc;
  if (getrlimit(RLIMIT_FSIZE, &rl) != 0 || rl.rlim_cur != RLIM_INFINITY) {
    f->no_prealloc = 1;
  } else if (fstatvfs(f->fd, &vfs) != 0 ||
             (uint64_t)vfs.f_bavail * vfs.f_frsize < MS_PREALLOC_MIN_FREE + MS_PREALLOC_STEP) {
    atomic_store(&prealloc_low, 1);
    f->no_prealloc = 1;
    ms__file_trim(f);
  } else {
    /* A failed call may have reserved part of the range: ms__file_trim gives that back too. */
    f->prealloc = from + MS_PREALLOC_STEP;
    if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)from, MS_PREALLOC_STEP) != 0)
      f->no_prealloc = 1;
  }
  errno = saved_errno;
}

/* Gives back the blocks file_prealloc reserved past what was written (a truncation to the
 * file's own size frees them; f->bytes is the file's size, so it never grows the file and
 * cannot raise SIGXFSZ whatever the limit). The caller has checked that f->fd is ours. */
void ms__file_trim(ms_file_t *f) {
  if (f->prealloc > f->bytes) {
    int saved_errno = errno;
    if (ftruncate(f->fd, (off_t)f->bytes) != 0) {
      errno = saved_errno;
      return; /* kept, tried again at the next flush */
    }
    errno = saved_errno;
  }
  f->prealloc = 0;
}

/* Not ms__file_trim here: a fork child closes the parent's descriptors, and a truncation from
 * the child would cut what the parent wrote since. ms__flush_thread trims. */
void ms__file_close(ms_file_t *f) {
  if (f->fd >= 0 && file_is_ours(f))
    close(f->fd); /* not ours any more: the program's, leave it alone */
  f->fd = -1;
}

/* Creates `name` in the run directory, never through a link, never over a file; read-write
 * with rw (for a shared mapping), else write-only. 0/-errno. */
int ms__file_create_mode(ms_file_t *f, const char *name, int rw) {
  int checked = ms__file_check(&ms__g.dir);
  if (checked < 0)
    return checked;
  int fd = openat(ms__g.dir.fd, name,
                  (rw ? O_RDWR : O_WRONLY) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    return -errno;
  ms__copy_name(f->name, sizeof f->name, name);
  f->rw = rw;
  return ms__file_adopt(f, fd);
}

int ms__file_create(ms_file_t *f, const char *name) { return ms__file_create_mode(f, name, 0); }

/* Writes all of buf to f, retrying short writes and EINTR, refusing to pass RLIMIT_FSIZE
 * (crossing it would raise SIGXFSZ and kill the program) and to write to a descriptor that
 * is no longer ours. Returns 0 or -errno. */
int ms__file_write(ms_file_t *f, const void *buf, size_t len) {
  int checked = ms__file_check(f);
  if (checked < 0)
    return checked;
  if (f->may_prealloc)
    file_prealloc(f, len);
  struct rlimit rl;
  if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      f->bytes + len > rl.rlim_cur)
    return -EFBIG;
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(f->fd, p, len);
    ms__tio_write((long)w);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    if (w == 0)
      return -ENOSPC;
    p += w;
    len -= (size_t)w;
    f->bytes += (uint64_t)w;
  }
  return 0;
}
