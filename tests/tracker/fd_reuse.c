/* fd_reuse.c: the tracker keeps out of the descriptor numbers the program uses.
 * libunwind checks stack words through a pipe of its own (write_validate), made at its first
 * walk and made again when a read of it fails. It used to sit at the lowest free numbers:
 * - every descriptor the program opened after start came two numbers higher (3 and 4 were
 *   the pipe's);
 * - a program that closed every descriptor and then opened a socket pair (3 and 4 again)
 *   hung: the next walk's read(3) waited on the program's socket. Files opened there were
 *   read from, written to and closed by libunwind instead.
 * The pipe now sits at 512 and up, and libunwind's numbers are forgotten when the program
 * closes them. Without that, the same hang came back one step higher: a program that closed
 * everything and opened more than 512 descriptors put its socket pair on the pipe's old
 * numbers. And a pipe is moved only when libunwind makes it: a program's signal handler that
 * makes one while the tracker walks (a warm unw_backtrace holds no signals) keeps the low,
 * inheritable numbers it asked for.
 * The program re-executes itself with every descriptor above stderr closed (so that what
 * its runner left open does not count), then checks all three. Each image prints its expect
 * line, the first prefixed "first ". */
#define _GNU_SOURCE
#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include "expect.h"

#define CALLS 400

static int sv[2];

static void fail(const char *what) {
  fprintf(stderr, "FAIL %s\n", what);
  exit(1);
}

static void *worker(void *arg) {
  (void)arg;
  for (int i = 0; i < CALLS; i++)
    ex_alloc_at_pad(16 + 16 * (size_t)i, 32);
  if (send(sv[1], "ping", 4, 0) != 4)
    fail("send on the program's socket");
  return NULL;
}

/* A new thread's walks, then the ping on the socket pair must arrive. */
static void ping_through_walks(void) {
  ex_thread(worker);
  char buf[8] = "";
  ssize_t n = recv(sv[0], buf, sizeof buf, MSG_DONTWAIT);
  if (n != 4 || memcmp(buf, "ping", 4) != 0)
    fail("the program's socket did not carry its own 4 bytes");
}

/* The handler's pipes: made with no flags, so low numbers without close-on-exec. */
static volatile sig_atomic_t handler_pipes, handler_moved;

static void on_alarm(int sig) {
  (void)sig;
  int e = errno, p[2];
  if (pipe2(p, 0) == 0) {
    handler_pipes++;
    if (p[0] >= 512 || p[1] >= 512 || (fcntl(p[0], F_GETFD) & FD_CLOEXEC) ||
        (fcntl(p[1], F_GETFD) & FD_CLOEXEC))
      handler_moved++;
    close(p[0]);
    close(p[1]);
  }
  errno = e;
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
  ping_through_walks();
  char back[4] = "";
  if (lseek(file, 0, SEEK_CUR) != 1 || pread(file, back, sizeof back, 0) != 1 || back[0] != 'A')
    fail("the program's file was read, written or moved by someone else");
  /* The same, past 512: everything closed, 513 descriptors opened, then the pair. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= 1024) {
    close_all_above_stderr();
    int fd;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < 515)
      ;
    if (fd != 515 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
        sv[0] != 516 || sv[1] != 517)
      fail("the socket pair after 513 descriptors: not 516 and 517");
    ping_through_walks();
    for (fd = 3; fd <= 515; fd++) { /* none closed, replaced or moved by anyone else */
      struct stat st;
      if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode) || lseek(fd, 0, SEEK_CUR) != 0) {
        fprintf(stderr, "FAIL the program's descriptor %d (/dev/null) was closed or replaced\n",
                fd);
        return 1;
      }
    }
    close_all_above_stderr();
  } else {
    printf("skip: RLIMIT_NOFILE below 1024, the high-number case not run\n");
  }
  /* A signal handler's pipes while this thread walks (every call from a new stack pointer). */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval every = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &every, NULL);
  for (int i = 0; i < 20000; i++)
    ex_alloc_at_pad(16 + 16 * (size_t)(i % 4000), 32);
  setitimer(ITIMER_REAL, &off, NULL);
  if (handler_pipes == 0)
    fail("the signal handler never ran");
  if (handler_moved) {
    fprintf(stderr, "FAIL %d of the handler's %d pipes were moved up or made close-on-exec\n",
            (int)handler_moved, (int)handler_pipes);
    return 1;
  }
  ex_print();
  return 0;
}
