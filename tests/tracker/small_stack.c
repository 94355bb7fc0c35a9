/* small_stack.c: the tracker's work fits a small thread stack (16 KiB, glibc's
 * PTHREAD_STACK_MIN on x86-64). A thread with such a stack allocates after the program
 * closed every descriptor: its first buffer write opens the run's files again (it crashed:
 * a 4 KiB path buffer under the encoder's frame). Another forks, and the child's run set-up
 * runs on its stack (it crashed: 16 KiB of start-up buffers on the stack); another execs the
 * program again through execl (it crashed: execl's argument array was 32 KiB). The first
 * two measure how deep their stack went, and fail with less than MIN_HEADROOM left (on an
 * AVX-512 host the allocating thread crashed: the learn's 6,920-byte frame, then glibc's lazy
 * binding under it). Each image prints its expect line: the fork child "child ", the image
 * before exec "first ". */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "expect.h"

#define SMALL_STACK 16384
/* What the tracker's deepest path (with glibc's static TLS at the stack's top) must leave
 * unused of the 16 KiB: the program's own frames above the allocator call and the dynamic
 * linker's lazy binding below it (its frame took 2,544 bytes on an AVX-512 host, whose
 * registers are 1,600 bytes of its save area; the learn's walk buffers in its stack frame
 * once overflowed that way). Measured
 * as the stack's high-water mark, so that a shrinking margin fails on any machine, not only
 * on one whose save area is the largest. */
#define MIN_HEADROOM 4096

/* The small stacks are the test's own (pthread_attr_setstack), filled with a pattern
 * below a guard page: the lowest byte changed is the deepest the thread went. */
static unsigned char *stack_mem;

static size_t stack_used(void) {
  size_t i = 0;
  while (i < SMALL_STACK && stack_mem[i] == 0xa5)
    i++;
  return SMALL_STACK - i;
}

static int headroom_ok(const char *who) {
  size_t used = stack_used();
  if (SMALL_STACK - used >= MIN_HEADROOM)
    return 1;
  fprintf(stderr, "FAIL %s used %zu bytes of a %d-byte stack: less than %d left\n", who, used,
          SMALL_STACK, MIN_HEADROOM);
  return 0;
}

static char *self;
static int fork_ok;

static void *forker(void *arg) {
  (void)arg;
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    ex_allocs = ex_frees = ex_reallocs = ex_bytes = ex_live_blocks = ex_live_bytes = 0;
    t_free(t_malloc(100), 100);
    if (!headroom_ok("the fork child's set-up and first allocation"))
      _exit(98);
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
  long page = sysconf(_SC_PAGESIZE);
  if (!stack_mem) {
    unsigned char *m = mmap(NULL, (size_t)page + SMALL_STACK, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED || mprotect(m, (size_t)page, PROT_NONE) != 0) {
      fprintf(stderr, "FAIL mmap of a small stack\n");
      exit(1);
    }
    stack_mem = m + page;
  }
  memset(stack_mem, 0xa5, SMALL_STACK); /* the last thread is joined: the stack is free */
  if (pthread_attr_init(&attr) != 0 || pthread_attr_setstack(&attr, stack_mem, SMALL_STACK) != 0 ||
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
  if (!headroom_ok("a thread's allocations, learns and chunk writes"))
    return 1;
  run_small(forker);
  if (!fork_ok) {
    fprintf(stderr, "FAIL the child forked from a small stack did not exit 0\n");
    return 1;
  }
  run_small(execer); /* does not return */
  return 1;
}
