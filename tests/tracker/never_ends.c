/* never_ends.c: a thread allocates, then blocks forever; main returns (exit) while it is
 * still there. Its events must still be written at process exit. */
#include <pthread.h>
#include "expect.h"

static pthread_barrier_t ready;
static void *forever(void *arg) {
  (void)arg;
  for (int i = 0; i < 3000; i++) {
    void *p = t_malloc((size_t)(i % 500) + 1);
    if (i % 3)
      t_free(p, (size_t)(i % 500) + 1);
  }
  pthread_barrier_wait(&ready);
  for (;;)
    pause();
  return NULL;
}

int main(void) {
  pthread_t th;
  pthread_barrier_init(&ready, NULL, 2);
  pthread_create(&th, NULL, forever, NULL);
  pthread_barrier_wait(&ready);
  void *p = t_malloc(64);
  t_free(p, 64);
  ex_print();
  return 0;
}
