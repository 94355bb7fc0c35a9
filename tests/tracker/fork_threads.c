/* fork_threads.c: fork() while other threads take stack walks. Three threads allocate from
 * stacks of varying depth and frame size (stack-cache misses, so libunwind walks); the main
 * thread forks N times and each child allocates 50 times from fresh stacks, so its first
 * allocations walk too. A child that inherited libunwind's internal mutex locked by another
 * thread blocks in unw_step forever (docs/tracker.md, "Fork while another thread walks").
 *
 * Usage: fork_threads [FORKS]. The parent kills a child that has not exited within 10 s and
 * counts it as hung; a child that exits other than with status 0 is counted as bad too.
 * Prints "forks=N hung=H bad=B"; exits 1 if H + B > 0, 2 on a usage or system error. */
#include <alloca.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile int stop;
static volatile unsigned long sink;

/* alloca: the frame size varies with r, so the caller's stack pointer differs from call to
 * call and each depth/size combination is a different stack for the cache. */
static __attribute__((noinline)) void leaf(unsigned r) {
  char *pad = alloca(16 * (r % 512) + 16);
  pad[0] = 1;
  void *p = malloc(24);
  sink += (unsigned long)p + (unsigned long)pad[0];
  free(p);
}

static __attribute__((noinline)) void rec(int d, unsigned r) {
  if (d == 0) {
    leaf(r);
    return;
  }
  rec(d - 1, r);
  __asm__ volatile("" ::: "memory"); /* no tail call: every level keeps its frame */
}

static void *worker(void *a) {
  unsigned r = (unsigned)(unsigned long)a;
  while (!stop) {
    r = r * 1103515245u + 12345u;
    rec((int)((r >> 8) % 12), r >> 12);
  }
  return NULL;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int main(int argc, char **argv) {
  char *end = NULL;
  long nforks = argc > 1 ? strtol(argv[1], &end, 10) : 120;
  if (argc > 2 || (argc > 1 && (*end || nforks < 1 || nforks > 100000))) {
    fprintf(stderr, "usage: fork_threads [FORKS 1..100000]\n");
    return 2;
  }
  pthread_t th[3];
  for (int i = 0; i < 3; i++) {
    if (pthread_create(&th[i], NULL, worker, (void *)(unsigned long)(i + 1)) != 0) {
      fprintf(stderr, "fork_threads: pthread_create failed\n");
      return 2;
    }
  }
  int hung = 0, bad = 0;
  for (long i = 0; i < nforks; i++) {
    pid_t c = fork();
    if (c < 0) {
      fprintf(stderr, "fork_threads: fork failed: errno %d\n", errno);
      return 2;
    }
    if (c == 0) {
      unsigned r = (unsigned)i * 7919u;
      for (int k = 0; k < 50; k++) {
        r = r * 1103515245u + 12345u;
        rec((int)((r >> 8) % 12), r >> 12);
      }
      _exit(0);
    }
    int st = 0;
    pid_t w = 0;
    long t0 = now_ms();
    while ((w = waitpid(c, &st, WNOHANG)) == 0 && now_ms() - t0 < 10000)
      usleep(2000);
    if (w == 0) {
      kill(c, SIGKILL);
      waitpid(c, &st, 0);
      hung++;
      fprintf(stderr, "child %ld hung (killed after 10 s)\n", i);
    } else if (w < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      bad++;
      fprintf(stderr, "child %ld ended badly (status 0x%x)\n", i, st);
    }
  }
  stop = 1;
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  printf("forks=%ld hung=%d bad=%d\n", nforks, hung, bad);
  return hung + bad != 0;
}
