/* chdir_fork.c DIR: moves to DIR, forks; the child allocates and exits. Run with a relative
 * MEMSCOPE_OUT, the child's run must land where the parent's did (relative_out.sh). */
#include <sys/wait.h>
#include "expect.h"

int main(int argc, char **argv) {
  if (argc != 2 || chdir(argv[1]) != 0)
    return 2;
  t_free(t_malloc(10), 10);
  pid_t pid = fork();
  if (pid == 0) {
    t_free(t_malloc(20), 20);
    _exit(0);
  }
  int st;
  return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
