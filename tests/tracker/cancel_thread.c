/* cancel_thread.c: threads cancelled (deferred) while they allocate heavily, so that a
 * cancellation request is often pending while the tracker writes a chunk (write() is a
 * cancellation point). The tracker must not be cancelled holding its buffer lock: the
 * program must exit (no hang at the exit flush) with exact counts. */
#include <pthread.h>
#include <time.h>
#include "expect.h"

static void *spin(void *arg) {
  (void)arg;
  for (;;) {
    for (int i = 0; i < 64; i++) {
      void *p = t_malloc(24);
      t_free(p, 24);
    }
    pthread_testcancel();
  }
  return NULL;
}

int main(void) {
  for (int round = 0; round < 20; round++) {
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
      pthread_create(&th[i], NULL, spin, NULL);
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
    for (int i = 0; i < 4; i++)
      pthread_cancel(th[i]);
    for (int i = 0; i < 4; i++)
      pthread_join(th[i], NULL);
  }
  ex_print();
  return 0;
}
