/* fork_mid.c: allocations before, in the middle of (child) and after a fork, with a second
 * thread alive at fork time. The parent prints its expectation; the child prints one too,
 * prefixed "child ", for its own run directory. */
#include <pthread.h>
#include <sys/wait.h>
#include "expect.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static void *spinner(void *arg) {
  (void)arg;
  for (int i = 0; i < 2000; i++) { /* allocating while the main thread forks */
    pthread_mutex_lock(&mu);
    void *p = t_malloc(100);
    t_free(p, 100);
    pthread_mutex_unlock(&mu);
  }
  return NULL;
}

int main(void) {
  pthread_t th;
  pthread_create(&th, NULL, spinner, NULL);
  void *keep[100];
  for (int i = 0; i < 100; i++)
    keep[i] = t_malloc((size_t)(i + 1) * 10);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    /* Child: start counting afresh; blocks inherited from the parent are not its own. */
    ex_allocs = ex_frees = ex_reallocs = ex_bytes = ex_live_blocks = ex_live_bytes = 0;
    void *c[50];
    for (int i = 0; i < 50; i++)
      c[i] = t_malloc(777);
    for (int i = 0; i < 25; i++)
      t_free(c[i], 777);
    char line[300];
    int n = snprintf(line, sizeof line, "child ");
    if (write(1, line, (size_t)n) != n) _exit(99);
    ex_print();
    exit(0);
  }
  int st;
  waitpid(pid, &st, 0);
  pthread_join(th, NULL);
  for (int i = 0; i < 100; i++)
    t_free(keep[i], (size_t)(i + 1) * 10);
  void *after = t_malloc(4242);
  (void)after;
  ex_print();
  return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
