/* nested.c MODE: allocator calls made by a signal handler that interrupted an allocator call
 * (docs/tracker.md, "Calls inside a hook"). A SIGALRM every 100 us while the main loop
 * mallocs and frees 64 bytes; no stdio (its buffer would be an allocation of its own), the
 * counts printed with write(2) at the end: "allocs=A frees=F handler=H".
 *   handler  the handler mallocs 4,093 bytes each time and keeps them (leaks), until it has
 *            run 2,000 times (or 20 s passed); A counts the loop's and the handler's
 *            allocations, F the loop's frees. The loop's 64-byte blocks always come from and
 *            go back to glibc's per-thread cache, so the loop never holds the arena lock
 *            that the handler's larger blocks take (a handler's malloc would deadlock there).
 *   jump     after one malloc and free (so the thread's set-up, which the handler mode's
 *            first signals interrupt, is done), the handler leaves by siglongjmp the first
 *            time it finds that it interrupted code in the tracker library (from the
 *            interrupted instruction's address): inside a hook, never inside glibc's
 *            allocator, whose state a jump could leave half changed. The loop then makes
 *            20,000 more malloc/free pairs with no signals. A and F count the calls that
 *            returned. Exit status 3 when no signal landed in the tracker in 20 s (not
 *            tracked, or never inside a hook).
 *   flush    as handler, and the loop calls memscope_flush() after every 16 pairs: most
 *            signals then land in the tracker's own work outside a hook (a flush: its
 *            resource record and its write), which the handler's calls must not pass
 *            unseen either (MS_WORK_STATE in tracker/ms_internal.h). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../tracker/memscope.h"
#include "in_tracker.h"

#define HANDLER_RUNS 2000
#define AFTER_JUMP 20000

static volatile sig_atomic_t handled, jump_mode, jumped, flush_mode;
static void *kept[HANDLER_RUNS];
static sigjmp_buf back;
static void on_alarm(int sig, siginfo_t *si, void *uc_) {
  (void)sig, (void)si;
  if (jump_mode) {
    if (!jumped && in_tracker(uc_)) {
      jumped = 1;
      siglongjmp(back, 1);
    }
    return;
  }
  if (handled < HANDLER_RUNS)
    kept[handled] = malloc(4093); /* kept: leaked on purpose */
  handled++;
}

static volatile long allocs, frees; /* the program's calls that returned */
static char *volatile sink;

/* One malloc and free of 64 bytes, counted. */
static void pair(void) {
  char *p = malloc(64);
  allocs++;
  p[0] = 1;
  sink = p;
  free(p);
  frees++;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "handler") != 0 && strcmp(argv[1], "jump") != 0 &&
                    strcmp(argv[1], "flush") != 0)) {
    static const char usage[] = "usage: nested handler|jump|flush\n";
    ssize_t w = write(2, usage, sizeof usage - 1);
    (void)w;
    return 2;
  }
  jump_mode = strcmp(argv[1], "jump") == 0;
  flush_mode = strcmp(argv[1], "flush") == 0;
  in_tracker_find();
  double end = now_s() + 20;
  if (jump_mode)
    pair(); /* the thread's set-up done: the jump lands in a hook's body */
  if (jump_mode && sigsetjmp(back, 1)) {
    alarm_every(0, NULL); /* back from the handler: the rest runs without signals */
    for (long i = 0; i < AFTER_JUMP; i++)
      pair();
  } else {
    alarm_every(100, on_alarm);
    for (long i = 0; jump_mode || handled < HANDLER_RUNS; i++) {
      pair();
      if (flush_mode && (i & 15) == 15)
        memscope_flush();
      if ((i & 0xfff) == 0 && now_s() > end)
        break;
    }
    alarm_every(0, NULL);
    if (jump_mode)
      return 3; /* 20 s without a signal inside the tracker */
  }
  long h = handled < HANDLER_RUNS ? handled : HANDLER_RUNS;
  if (!jump_mode)
    allocs += h;
  char line[128];
  int n = snprintf(line, sizeof line, "allocs=%ld frees=%ld handler=%ld\n", (long)allocs,
                   (long)frees, h);
  return write(1, line, (size_t)n) == n ? 0 : 1;
}
