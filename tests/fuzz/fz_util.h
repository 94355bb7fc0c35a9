/* fz_util.h: what memscope's own fuzz targets (tests/fuzz/, docs/fuzz-targets.md) share:
 * scratch files and directories under /tmp, silencing stdout/stderr around a call that
 * prints, and a check that turns a broken invariant into a crash AFL++ keeps.
 *
 * The targets run under memscope's fuzz driver with the leak oracle: everything here frees
 * what it allocates before it returns, and writes nowhere but the directories it made. */
#ifndef FZ_UTIL_H
#define FZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A broken invariant: one line naming it on stderr, then abort() (a crash: afl-fuzz keeps
 * the input in crashes/, a replay exits by the signal). */
#define FZ_CHECK(cond, ...)                                                                    \
  do {                                                                                         \
    if (!(cond))                                                                               \
      fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                         \
  } while (0)
__attribute__((noreturn, format(printf, 4, 5))) void fz_fail(const char *file, int line,
                                                             const char *cond, const char *fmt,
                                                             ...);

/* Makes a new private directory /tmp/ms-fuzz-TAG-XXXXXX (mkdtemp) into buf. 0 or -errno. */
int fz_mkdtemp(char *buf, size_t len, const char *tag);

/* Writes data into dir/name: created (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) unless append is set,
 * then the bytes are appended to the existing file (still never through a link). 0 or
 * -errno. */
int fz_write_file(const char *dir, const char *name, const void *data, size_t len, int append);

/* An anonymous file in memory (memfd_create) that code under test opens by its path,
 * /proc/self/fd/N: nothing is created in any directory, so a run that afl-fuzz ends with
 * SIGKILL (the end of every -V run) leaves nothing behind. */
typedef struct fz_memfile_s {
  int fd;
  char path[32];
} fz_memfile_t;
/* 0 or -errno. */
int fz_memfile_open(fz_memfile_t *f, const char *name);
/* Makes the file's content exactly data[0, len). 0 or -errno. */
int fz_memfile_set(fz_memfile_t *f, const void *data, size_t len);

/* Removes everything below dir, and dir itself unless keep_dir is set, never following a
 * link. 0 or -errno. */
int fz_rmtree(const char *dir, int keep_dir);

/* Points stdout and stderr at /dev/null until fz_quiet_end(): for a function under test
 * that prints one line per call (a megabyte of log per second under afl-fuzz, and noise in
 * a replay). Nested calls are not supported. */
void fz_quiet_begin(void);
void fz_quiet_end(void);

#endif /* FZ_UTIL_H */
