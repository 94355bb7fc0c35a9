/* exit_thread.c: a non-main thread calls exit() while main waits in pthread_join. */
#include <pthread.h>
#include "expect.h"

static void *quitter(void *arg) {
  (void)arg;
  void *v[200];
  for (int i = 0; i < 200; i++)
    v[i] = t_calloc(1, 48);
  for (int i = 0; i < 150; i++)
    t_free(v[i], 48);
  ex_print();
  exit(0);
}

int main(void) {
  for (int i = 0; i < 500; i++) {
    void *p = t_malloc(32);
    t_free(p, 32);
  }
  pthread_t th;
  pthread_create(&th, NULL, quitter, NULL);
  pthread_join(th, NULL);
  return 3; /* not reached */
}
