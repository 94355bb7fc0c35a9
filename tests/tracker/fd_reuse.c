/* fd_reuse.c: the tracker keeps out of the descriptor numbers the program uses.
 * libunwind checks stack words through a pipe of its own (write_validate), made at its first
 * walk and made again when a read of it fails. It used to sit at the lowest free numbers:
 * - every descriptor the program opened after start came two numbers higher (3 and 4 were
 *   the pipe's);
 * - a program that closed every descriptor and then opened a socket pair (3 and 4 again)
 *   hung: the next walk's read(3) waited on the program's socket. Files opened there were
 *   read from, written to and closed by libunwind instead.
 * The program re-executes itself with every descriptor above stderr closed (so that what
 * its runner left open does not count), then checks both. Each image prints its expect line,
 * the first prefixed "first ". */
#include <alloca.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "expect.h"

#define CALLS 400

static int sv[2];

static void fail(const char *what) {
  fprintf(stderr, "FAIL %s\n", what);
  exit(1);
}

/* noinline, and the alloca before the call: each pad gives the call a stack pointer of its
 * own, so every call is a stack-cache miss: a walk. */
static __attribute__((noinline)) void alloc_with_pad(size_t pad) {
  volatile char *room = alloca(pad);
  room[0] = 1;
  t_free(t_malloc(32), 32);
  __asm__ volatile("" ::"r"(room) : "memory");
}

static void *worker(void *arg) {
  (void)arg;
  for (int i = 0; i < CALLS; i++)
    alloc_with_pad(16 + 16 * (size_t)i);
  if (send(sv[1], "ping", 4, 0) != 4)
    fail("send on the program's socket");
  return NULL;
}

static void close_all_above_stderr(void) {
  for (int fd = 3; fd < 1024; fd++)
    close(fd);
}

int main(int argc, char **argv) {
  if (argc < 2 || strcmp(argv[1], "clean") != 0) {
    if (write(1, "first ", 6) != 6)
      return 99;
    ex_print();
    close_all_above_stderr();
    char *args[] = {argv[0], "clean", NULL};
    execv("/proc/self/exe", args);
    fail("execv");
  }
  alarm(30); /* a walk reading the program's socket blocks forever */
  /* The first descriptor the program opens is 3, as without the tracker. */
  int first = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (first != 3) {
    fprintf(stderr, "FAIL the program's first descriptor is %d, not 3\n", first);
    return 1;
  }
  close(first);
  t_free(t_malloc(10), 10); /* the tracker walks here (and libunwind had its pipe) */
  close_all_above_stderr();
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 || sv[0] != 3 || sv[1] != 4)
    fail("socketpair after closing every descriptor: not 3 and 4");
  char path[] = "/tmp/ms_fd_reuse_XXXXXX";
  int file = mkstemp(path);
  if (file != 5)
    fail("mkstemp after the socket pair: not 5");
  unlink(path);
  if (write(file, "A", 1) != 1)
    fail("write to the program's file");
  pthread_t th;
  if (pthread_create(&th, NULL, worker, NULL) != 0 || pthread_join(th, NULL) != 0)
    fail("thread create/join");
  char buf[8] = "";
  ssize_t n = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
  if (n != 4 || memcmp(buf, "ping", 4) != 0)
    fail("the program's socket did not carry its own 4 bytes");
  char back[4] = "";
  if (lseek(file, 0, SEEK_CUR) != 1 || pread(file, back, sizeof back, 0) != 1 || back[0] != 'A')
    fail("the program's file was read, written or moved by someone else");
  ex_print();
  return 0;
}
