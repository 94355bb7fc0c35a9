/* vfork_close.c: a vfork child closes every descriptor above stderr before it ends, as
 * spawning code does before an exec. The child shares the parent's memory but has its own
 * descriptor table: the tracker must not take the child's closes for the parent's, or
 * libunwind would forget the parent's validation pipe and make a new one, leaking two
 * descriptors in the parent at every such spawn. The parent counts its descriptors before
 * and after (and after walks that validate stack words). */
#define _GNU_SOURCE
#include <alloca.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include "expect.h"

static int count_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

static void *walker(void *arg) {
  (void)arg;
  for (int i = 0; i < 300; i++) /* new stack pointers: walks, which validate */
    ex_alloc_at_pad(16 + 16 * (size_t)i, 32);
  return NULL;
}

int main(void) {
  ex_thread(walker); /* libunwind's pipe exists; a released buffer waits for the next thread */
  int before = count_fds();
  for (int round = 0; round < 5; round++) {
    pid_t pid = vfork();
    if (pid == 0) {
      for (int fd = 3; fd < 1024; fd++)
        close(fd);
      _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) {
      fprintf(stderr, "FAIL vfork\n");
      return 1;
    }
    ex_thread(walker);
  }
  int after = count_fds();
  if (before < 0 || after != before) {
    fprintf(stderr, "FAIL the parent had %d descriptors before 5 vfork children closed theirs, "
                    "%d after\n", before, after);
    return 1;
  }
  ex_print();
  return 0;
}
