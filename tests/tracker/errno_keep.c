/* errno_keep.c: the tracker's own failed calls never show in the program's errno.
 * C has errno 0 at main; POSIX.1-2024 (and glibc since 2.33) has free() keep it. The
 * tracker's work fails in ordinary situations, each checked here with errno set by the
 * program (ENOENT, as a failed open() the program is about to report leaves it):
 * - at start: its run directory's mkdir (EEXIST) and realpath (EINVAL);
 * - after the program closed every descriptor above stderr: its next buffer write finds its
 *   descriptor gone (fstat: EBADF) and opens the file again;
 * - under an RLIMIT_NOFILE below its descriptor floor (512): moving a new thread file up
 *   fails (EINVAL);
 * - a new thread's set-up after the close: its ring segment's fallocate (EBADF);
 * - in a fork child: its new run's set-up.
 * Built with -fno-builtin: GCC assumes free keeps errno and would delete the check. */
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "expect.h"

#define N 20000
static void *blocks[N];
static int changed;

/* Runs `call` with errno ENOENT; counts (and names once) a change. */
#define KEEPS(what, call)                                                                      \
  do {                                                                                         \
    errno = ENOENT;                                                                            \
    call;                                                                                      \
    int e_ = errno;                                                                            \
    if (e_ != ENOENT) {                                                                        \
      if (changed++ < 5)                                                                       \
        fprintf(stderr, "FAIL %s: errno %d (%s), was ENOENT\n", what, e_, strerror(e_));      \
    }                                                                                          \
  } while (0)

static void *thread_calls(void *arg) {
  (void)arg;
  void *p = NULL;
  KEEPS("a thread's first malloc", p = t_malloc(48));
  KEEPS("a thread's first free", t_free(p, 48));
  for (int i = 0; i < 5000; i++) { /* past a buffer's worth: its first write */
    KEEPS("a thread's malloc", p = t_malloc(16));
    KEEPS("a thread's free", t_free(p, 16));
  }
  return NULL;
}

int main(void) {
  int at_main = errno;
  if (at_main != 0) {
    fprintf(stderr, "FAIL errno at main: %d (%s), not 0\n", at_main, strerror(at_main));
    changed++;
  }
  for (int i = 0; i < N; i++)
    blocks[i] = t_malloc(32);
  for (int fd = 3; fd < 4096; fd++)
    close(fd);
  for (int i = 0; i < N; i++)
    KEEPS("free after every descriptor was closed", t_free(blocks[i], 32));
  ex_thread(thread_calls);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 128) {
    rl.rlim_cur = 128;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      fprintf(stderr, "FAIL setrlimit\n");
      return 1;
    }
  }
  ex_thread(thread_calls);
  fflush(stdout);
  errno = ENOENT;
  pid_t pid = fork();
  if (pid == 0) {
    int e = errno;
    ex_allocs = ex_frees = ex_reallocs = ex_bytes = ex_live_blocks = ex_live_bytes = 0;
    if (e != ENOENT) {
      fprintf(stderr, "FAIL errno in a fork child: %d (%s), was ENOENT\n", e, strerror(e));
      _exit(1);
    }
    if (write(1, "child ", 6) != 6)
      _exit(99);
    ex_print();
    exit(0);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "FAIL the fork child\n");
    return 1;
  }
  if (changed) {
    fprintf(stderr, "FAIL %d calls changed errno\n", changed);
    return 1;
  }
  ex_print();
  return 0;
}
