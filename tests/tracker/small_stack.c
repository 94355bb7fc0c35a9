/* small_stack.c: the tracker's work fits a small thread stack (16 KiB, glibc's
 * PTHREAD_STACK_MIN on x86-64). A thread with such a stack allocates after the program
 * closed every descriptor: its first buffer write opens the run's files again (it crashed:
 * a 4 KiB path buffer under the encoder's frame). Another forks, and the child's run set-up
 * runs on its stack (it crashed: 16 KiB of start-up buffers on the stack); another execs the
 * program again through execl (it crashed: execl's argument array was 32 KiB). Each image
 * prints its expect line: the fork child "child ", the image before exec "first ". */
#include <pthread.h>
#include <sys/wait.h>
#include "expect.h"

#define SMALL_STACK 16384

static char *self;
static int fork_ok;

static void *forker(void *arg) {
  (void)arg;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    ex_allocs = ex_frees = ex_reallocs = ex_bytes = ex_live_blocks = ex_live_bytes = 0;
    t_free(t_malloc(100), 100);
    if (write(1, "child ", 6) != 6)
      _exit(99);
    ex_print();
    _exit(0);
  }
  int st;
  fork_ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  return NULL;
}

static void *allocator(void *arg) {
  (void)arg;
  for (int i = 0; i < 5000; i++) /* past a buffer: its write */
    t_free(t_malloc(24), 24);
  return NULL;
}

static void *execer(void *arg) {
  (void)arg;
  if (write(1, "first ", 6) != 6)
    _exit(99);
  ex_print();
  execl("/proc/self/exe", self, "second", (char *)NULL);
  fprintf(stderr, "FAIL execl\n");
  _exit(1);
}

static void run_small(void *(*fn)(void *)) {
  pthread_attr_t attr;
  pthread_t th;
  if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, SMALL_STACK) != 0 ||
      pthread_create(&th, &attr, fn, NULL) != 0 || pthread_join(th, NULL) != 0) {
    fprintf(stderr, "FAIL a thread with a %d-byte stack\n", SMALL_STACK);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "second") == 0) {
    t_free(t_malloc(7), 7);
    ex_print();
    return 0;
  }
  self = argv[0];
  t_free(t_malloc(50), 50);
  for (int fd = 3; fd < 1024; fd++)
    close(fd);
  run_small(allocator);
  run_small(forker);
  if (!fork_ok) {
    fprintf(stderr, "FAIL the child forked from a small stack did not exit 0\n");
    return 1;
  }
  run_small(execer); /* does not return */
  return 1;
}
