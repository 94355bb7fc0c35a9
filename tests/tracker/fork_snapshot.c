/* fork_snapshot.c [ARG...]: one thread loops dlopen/dlclose (each dlclose writes a maps.txt
 * snapshot under a flag that lets one snapshot run at a time) while the main thread forks 20
 * children that each allocate once. A child forked while the flag was set inherited it set
 * and never wrote a snapshot: its maps.txt stayed empty, and its stacks could not be
 * symbolized. Its arguments are ignored (fork_snapshot.sh gives it a long one). */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include "expect.h"

static atomic_int stop;

static void *closer(void *arg) {
  (void)arg;
  while (!atomic_load(&stop)) {
    void *h = dlopen("libm.so.6", RTLD_NOW);
    if (h)
      dlclose(h);
  }
  return NULL;
}

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, closer, NULL) != 0)
    return 2;
  usleep(10000);
  int bad = 0;
  for (int i = 0; i < 20; i++) {
    pid_t p = fork();
    if (p == 0) {
      free(malloc(100));
      _exit(0);
    }
    int st;
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      bad++;
    usleep(2000);
  }
  atomic_store(&stop, 1);
  pthread_join(t, NULL);
  return bad ? 1 : 0;
}
