/* api_threads.c: selective thread tracking and the memscope.h API.
 * Usage: api_threads api|glob|untracked
 *   api:       the main thread and even workers switch themselves in, odd workers out, with
 *              memscope_thread_track (whatever MEMSCOPE_THREADS says);
 *   glob:      workers only name themselves "worker-N" (even N) or "other-N" (odd N); run with
 *              MEMSCOPE_THREADS='worker-*', only the worker-* threads are tracked;
 *   untracked: run without the tracker: every API call is a no-op that says so.
 * Also names a block (MEMSCOPE_TRACK_VAR_AS), marks a point and a scope. */
#include "expect.h" /* first: it defines _GNU_SOURCE */
#include <pthread.h>
#include "../../tracker/memscope.h"

#define WORKERS 6
static const char *mode;
static int failures;

static void check(int cond, const char *what) {
  if (!cond) {
    fprintf(stderr, "FAIL %s\n", what);
    failures++;
  }
}

static void *worker(void *arg) {
  int i = (int)(long)arg;
  char name[16];
  if (strcmp(mode, "glob") == 0) {
    snprintf(name, sizeof name, "%s-%d", i % 2 == 0 ? "worker" : "other", i);
    pthread_setname_np(pthread_self(), name);
  } else if (strcmp(mode, "api") == 0) {
    int was = memscope_thread_track(i % 2 == 0);
    check(was == 0 || was == 1, "memscope_thread_track returns the previous state");
  }
  ex_untracked = i % 2 != 0;
  void *keep[100];
  for (int k = 0; k < 100; k++)
    keep[k] = t_malloc((size_t)(i + 1) * 8);
  for (int k = 0; k < 100; k++)
    t_free(keep[k], (size_t)(i + 1) * 8);
  return NULL;
}

int main(int argc, char **argv) {
  mode = argc > 1 ? argv[1] : "api";
  int untracked = strcmp(mode, "untracked") == 0;
  if (untracked) {
    check(memscope_active() == 0, "memscope_active() is 0 without the tracker");
    check(memscope_thread_track(1) == MEMSCOPE_UNAVAILABLE, "thread_track without tracker");
    check(memscope_mark("m") == MEMSCOPE_UNAVAILABLE, "mark without tracker");
    memscope_snapshot_t snap;
    check(memscope_snapshot(&snap) == MEMSCOPE_UNAVAILABLE, "snapshot without tracker");
    check(memscope_flush() == MEMSCOPE_UNAVAILABLE, "flush without tracker");
  } else {
    check(memscope_active() == 1, "memscope_active() is 1 under the tracker");
  }
  if (strcmp(mode, "api") == 0)
    memscope_thread_track(1);
  if (strcmp(mode, "glob") == 0)
    ex_untracked = 1; /* the main thread's name does not match worker-* */
  memscope_scope_begin("workers");
  char *named = t_malloc(333);
  memset(named, 1, 333);
  MEMSCOPE_TRACK_VAR_AS(named, "char[333]");
  pthread_t th[WORKERS];
  for (long i = 0; i < WORKERS; i++)
    pthread_create(&th[i], NULL, worker, (void *)i);
  for (int i = 0; i < WORKERS; i++)
    pthread_join(th[i], NULL);
  memscope_scope_end("workers");
  memscope_mark("after-workers");
  if (!untracked) {
    memscope_snapshot_t snap;
    check(memscope_snapshot(&snap) == 0, "memscope_snapshot succeeds");
    check(snap.allocations > 0, "snapshot counts allocations");
    check(memscope_flush() == 0 || ex_untracked, "memscope_flush on a tracked thread");
  }
  t_free(named, 333);
  ex_print();
  return failures ? 1 : 0;
}
