/* ms_h_exits.c: a target for the gate's trust tests (gate_trust.sh): known leaks ended every
 * way a process can end, process trees, and a program that fills its trace's file limit.
 *
 *   leak N END        leaks N blocks of 1000 B, then ends by END: exit, _exit, kill (SIGKILL
 *                     to itself), segv (a real invalid write), sleep (30 s, for --timeout)
 *   fork K            K children each leak one 1000-B block and _exit(0); the parent waits
 *                     for them and frees everything it allocated (no leak of its own)
 *   leakb N           leaks one block of N bytes and exits 0
 *   sleepy TOKEN      sleeps 30 s (TOKEN only marks the process for pgrep)
 *   churn N           N malloc/free pairs, then one 123-B leak (2N + 1 allocator events)
 *   threads T K       T threads one after the other, each K malloc/free pairs
 *   stuck K           a thread makes K malloc/free pairs, not joined: exit(0) after 1 s
 *   churnfork N M     N malloc/free pairs, then a child that makes M pairs and exits 0; the
 *                     parent waits for it
 *   execfail N END    an exec that fails (ENOENT), then leaks N blocks of 1000 B and ends by
 *                     END (exit, kill)
 *   periodic K        2000 rounds of 100 small calls each: 99 temporaries freed at once and,
 *                     at place K of every round, one 1000-B block that leaks (2,000,000 B)
 *   execchild ENV     a child that execs this program as `leakb 1000000`, its environment
 *                     kept (ENV keep) or without LD_PRELOAD (scrub: the new image is not
 *                     tracked); the parent waits for it
 *   optin N           switches tracking of its thread on (memscope_thread_track(1), whatever
 *                     MEMSCOPE_THREADS says), then leaks N blocks of 1000 B and exits 0
 *   optout N          switches it off (memscope_thread_track(0)) first, then the same
 *   spawnmany K       K children by posix_spawn, each this program as `noop`, environment
 *                     kept; waits for them
 *   shell HOW         `unsetenv("LD_PRELOAD")`, then this program as `leakb 1000000` through
 *                     system() (HOW system) or popen() (HOW popen); HOW sigign: system()
 *                     with SIGCHLD ignored (it returns -1 after the shell ran); HOW keep: as
 *                     `noop` through system(), the environment kept
 *   shellkilled       forks a child that drops LD_PRELOAD and runs through system() this
 *                     program as `leakb 1000000`, then a SIGKILL of the child (the shell's
 *                     parent); exits 0 when the child died so
 *   noop              exits 0 without an allocator call of its own
 *   spawn ENV         as execchild, but the child is started by posix_spawn
 *   vforkexec ENV     as execchild, but the child is started by vfork and execs at once;
 *                     ENV scrubfail: scrubbed, and the exec fails (the child exits 4);
 *                     ENV disabled: kept, but MEMSCOPE_SAMPLE=bogus turns tracking off */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../tracker/memscope.h"

/* Through a volatile pointer, so the compiler keeps every call (a malloc/free pair may
 * otherwise be removed). */
static void *(*volatile alloc_fn)(size_t) = malloc;
static void (*volatile free_fn)(void *) = free;

static void leak_blocks(long n, size_t size) {
  for (long i = 0; i < n; i++) {
    char *p = alloc_fn(size);
    if (p) memset(p, 1, size);
  }
}

static void *thread_churn(void *arg) {
  long k = (long)arg;
  for (long i = 0; i < k; i++) free_fn(alloc_fn(32 + (size_t)(i % 64)));
  return NULL;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "leak") && argc == 4) {
    leak_blocks(atol(argv[2]), 1000);
    const char *end = argv[3];
    if (!strcmp(end, "_exit")) _exit(0);
    if (!strcmp(end, "kill")) kill(getpid(), SIGKILL);
    if (!strcmp(end, "segv")) {
      volatile int *bad = (volatile int *)16;
      *bad = 1;
    }
    if (!strcmp(end, "sleep")) sleep(30);
    return 0;
  }
  if (!strcmp(mode, "fork") && argc == 3) {
    int k = atoi(argv[2]);
    for (int i = 0; i < k; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        leak_blocks(1, 1000);
        _exit(0);
      }
    }
    int status, bad = 0;
    while (wait(&status) > 0) bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    return bad;
  }
  if (!strcmp(mode, "leakb") && argc == 3) {
    leak_blocks(1, (size_t)atol(argv[2]));
    return 0;
  }
  if (!strcmp(mode, "sleepy") && argc == 3) {
    sleep(30);
    return 0;
  }
  if (!strcmp(mode, "churn") && argc == 3) {
    long n = atol(argv[2]);
    for (long i = 0; i < n; i++) free_fn(alloc_fn(16 + (size_t)(i % 512)));
    leak_blocks(1, 123);
    return 0;
  }
  if (!strcmp(mode, "threads") && argc == 4) {
    int t = atoi(argv[2]);
    long k = atol(argv[3]);
    for (int i = 0; i < t; i++) {
      pthread_t th;
      if (pthread_create(&th, NULL, thread_churn, (void *)k) != 0) return 3;
      pthread_join(th, NULL);
    }
    return 0;
  }
  if (!strcmp(mode, "stuck") && argc == 3) {
    pthread_t th;
    if (pthread_create(&th, NULL, thread_churn, (void *)atol(argv[2])) != 0) return 3;
    sleep(1);
    exit(0);
  }
  if (!strcmp(mode, "churnfork") && argc == 4) {
    thread_churn((void *)atol(argv[2]));
    pid_t pid = fork();
    if (pid == 0) {
      thread_churn((void *)atol(argv[3]));
      exit(0);
    }
    int status;
    return pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
           WEXITSTATUS(status) != 0;
  }
  if (!strcmp(mode, "execfail") && argc == 4) {
    execl("/nonexistent/ms_h_exits_nope", "ms_h_exits_nope", (char *)NULL);
    int failed_with = errno;
    leak_blocks(atol(argv[2]), 1000);
    if (!strcmp(argv[3], "kill")) kill(getpid(), SIGKILL);
    return failed_with == ENOENT ? 0 : 3;
  }
  if (!strcmp(mode, "periodic") && argc == 3) {
    int k = atoi(argv[2]);
    for (int r = 0; r < 2000; r++)
      for (int i = 0; i < 100; i++) {
        if (i == k) leak_blocks(1, 1000);
        else free_fn(alloc_fn(100));
      }
    return 0;
  }
  if ((!strcmp(mode, "execchild") || !strcmp(mode, "spawn") || !strcmp(mode, "vforkexec")) &&
      argc == 3) {
    extern char **environ;
    /* scrubfail: scrubbed, and the exec fails (the child exits 4, which is then success);
     * disabled: kept, with a bad MEMSCOPE_SAMPLE that turns tracking off in the child */
    int scrub = !strncmp(argv[2], "scrub", 5), execfails = !strcmp(argv[2], "scrubfail");
    int disabled = !strcmp(argv[2], "disabled");
    const char *target = execfails ? "/nonexistent/ms_h_exits" : "/proc/self/exe";
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 2, sizeof *env), **e = env;
    for (size_t i = 0; env && i < n; i++)
      if (!scrub || strncmp(environ[i], "LD_PRELOAD=", 11)) *e++ = environ[i];
    if (env && disabled) *e++ = "MEMSCOPE_SAMPLE=bogus";
    char *args[] = {"ms_h_exits", "leakb", "1000000", NULL};
    pid_t pid;
    if (!strcmp(mode, "spawn")) {
      if (posix_spawn(&pid, target, NULL, NULL, args, env) != 0) {
        free(env);
        return execfails ? 0 : 5;
      }
    } else if (!strcmp(mode, "vforkexec")) {
      pid = vfork();
      if (pid == 0) {
        execve(target, args, env);
        _exit(4);
      }
    } else {
      pid = fork();
    }
    if (pid == 0) {
      execve(target, args, env);
      _exit(4);
    }
    int status;
    free(env);
    return pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
           WEXITSTATUS(status) != (execfails ? 4 : 0);
  }
  if ((!strcmp(mode, "optin") || !strcmp(mode, "optout")) && argc == 3) {
    if (memscope_thread_track(!strcmp(mode, "optin")) == MEMSCOPE_UNAVAILABLE) return 3;
    leak_blocks(atol(argv[2]), 1000);
    return 0;
  }
  if (!strcmp(mode, "noop") && argc == 2) return 0;
  if (!strcmp(mode, "shell") && argc == 3) {
    char cmd[4200];
    ssize_t n = readlink("/proc/self/exe", cmd, 4096);
    if (n <= 0) return 6;
    if (!strcmp(argv[2], "keep")) {
      memcpy(cmd + n, " noop", 6);
      return system(cmd) != 0;
    }
    memcpy(cmd + n, " leakb 1000000", 15);
    unsetenv("LD_PRELOAD");
    if (!strcmp(argv[2], "sigign")) { /* system() returns -1: its waitpid finds no child */
      signal(SIGCHLD, SIG_IGN);
      return system(cmd) != -1;
    }
    if (!strcmp(argv[2], "system")) return system(cmd) != 0;
    FILE *f = popen(cmd, "r");
    return f == NULL || pclose(f) != 0;
  }
  if (!strcmp(mode, "shellkilled") && argc == 2) {
    /* A forked child drops LD_PRELOAD and runs, through system(), this program as
     * `leakb 1000000` (untracked), then a kill of the shell's parent, the child, while
     * system() runs: the child never returns from system(). */
    char cmd[4200];
    ssize_t n = readlink("/proc/self/exe", cmd, 4096);
    if (n <= 0) return 6;
    static const char tail[] = " leakb 1000000; kill -9 $PPID; sleep 1";
    memcpy(cmd + n, tail, sizeof tail);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 7;
    if (pid == 0) {
      unsetenv("LD_PRELOAD");
      if (system(cmd) < 0) _exit(8);
      _exit(9); /* not reached: the shell killed this process */
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return 1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : 10;
  }
  if (!strcmp(mode, "spawnmany") && argc == 3) {
    extern char **environ;
    char *args[] = {"ms_h_exits", "noop", NULL};
    for (int k = atoi(argv[2]), i = 0; i < k; i++) {
      pid_t pid;
      int status;
      if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, args, environ) != 0 ||
          waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return 1;
    }
    return 0;
  }
  fprintf(stderr, "usage: ms_h_exits leak N END | fork K | leakb N | sleepy TOKEN | churn N | "
                  "threads T K | stuck K | churnfork N M | execfail N END | periodic K | "
                  "execchild|spawn|vforkexec keep|scrub|scrubfail|disabled | optin N | optout N | noop | spawnmany K | shell system|popen|sigign|keep | shellkilled\n");
  return 2;
}
