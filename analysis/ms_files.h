/* ms_files.h: how the analysis, the plots and the harness create the files they write.
 *
 * Every report file is written under an unpredictable temporary name in its own directory,
 * created with O_CREAT|O_EXCL|O_NOFOLLOW (mkostemp), and renamed into place when whole: a
 * symbolic link planted at the final name or at any temporary name is never followed (rename
 * replaces the link itself), a reader never sees half a file, and an error leaves the old
 * file (if any) as it was. docs/security.md says what this protects against. */
#ifndef MS_FILES_H
#define MS_FILES_H

#include <stddef.h>
#include <stdio.h>

typedef struct ms_out_file_s {
  FILE *f;         /* write here between ms_out_open and ms_out_commit/ms_out_abort */
  char *tmp;       /* the temporary file's path (malloc'd) */
  char *path;      /* the final path (malloc'd) */
} ms_out_file_t;

/* Creates a temporary file beside `path` for writing. 0 or -errno. */
int ms_out_open(ms_out_file_t *of, const char *path);
/* Flushes, closes and renames the file to its final path (mode 0644). On any error the
 * temporary file is removed and -errno returned; of is reset either way. */
int ms_out_commit(ms_out_file_t *of);
/* Closes and removes the temporary file; nothing appears at the final path. */
void ms_out_abort(ms_out_file_t *of);

/* Writes len bytes to path through ms_out_open/commit. 0 or -errno. */
int ms_write_file_atomic(const char *path, const void *data, size_t len);

/* Opens `path` for reading only if it is a regular file: O_NONBLOCK (a FIFO never blocks the
 * open), O_NOFOLLOW when nofollow is set, then fstat. Returns the descriptor, or -errno
 * (-EINVAL: not a regular file). */
int ms_open_regular(const char *path, int nofollow);

#endif /* MS_FILES_H */
