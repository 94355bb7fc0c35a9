/* vfork_exec.c: a vfork child that execs shares the parent's memory; the tracker must not
 * write the parent's buffers or end its meta.txt from the child. The exec'd program runs
 * without LD_PRELOAD, so the parent's run is the only one. */
#include <sys/wait.h>
#include "expect.h"

int main(void) {
  void *keep[20];
  for (int i = 0; i < 20; i++)
    keep[i] = t_malloc(128);
  char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
  pid_t pid = vfork();
  if (pid == 0) {
    execle("/bin/true", "true", (char *)NULL, envp);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  for (int i = 0; i < 20; i++)
    t_free(keep[i], 128);
  void *after = t_malloc(999);
  (void)after;
  ex_print();
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
