/* ms_h_stuck_write.c: preloaded before libmemscope.so by gate_trust.sh (case lock_timeout).
 * A write(2) of chunks (more than the 32-byte file header) to a memscope thread file from any
 * thread but the main one never returns: the thread stays inside the tracker's chunk write
 * with its buffer's lock held, as a thread stopped for good mid-write would (a signal
 * handler that never returns, say). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

ssize_t write(int fd, const void *buf, size_t n) {
  if (n > 32 && syscall(SYS_gettid) != getpid()) {
    char link[64], path[512];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t l = readlink(link, path, sizeof path - 1);
    if (l > 0) {
      path[l] = '\0';
      if (strstr(path, "/memscope_thread_"))
        for (;;)
          pause();
    }
  }
  return syscall(SYS_write, fd, buf, n);
}
