/* ms_h_names.c: a traced program whose thread names are hostile to report writers (shell and
 * gnuplot command substitution, quotes, backslash escapes, HTML markup, a newline), for the
 * harness.hostile_names test (hostile_names.sh). Each thread names itself (the tracker records
 * only self-given names), allocates a peak that decreases with its index so the heap_timeline
 * plot (8 threads with the highest peaks) shows the first eight names, and leaks a little.
 * Threads run one after another so the peaks are deterministic. Prints each name as a JSON
 * array of byte strings on stdout. Exit 0, or 1 when a thread cannot be started or named. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* At most 15 bytes each (the kernel's thread-name limit), so every marker is a relative path:
 * the test runs the harness in a scratch directory and looks for MSQ* files anywhere in it. */
static const char *const names[] = {
    "`touch MSQ1`",     /* gnuplot runs backticks inside "..." (and shells do) */
    "$(touch MSQ2)",    /* shell command substitution */
    "'`touch MSQ3`'",   /* breaks out of a '...' string whose quotes are not doubled */
    "\"`touch MSQ4`",   /* breaks out of a "..." string or shifts a data file's columns */
    "nl\n`touch MSQ5`", /* a newline ends a gnuplot command or a comment line */
    "bs\\101\\n #c",    /* gnuplot expands backslash escapes in "..." data fields; '#' */
    "&amp; $(id)",      /* must stay the five characters "&amp;" when shown as HTML */
    "it's \"q\"",       /* both quote characters */
    "<b>x</b>",         /* HTML markup; ninth, so it is in thread_peaks but not heap_timeline */
};
#define NNAMES (sizeof names / sizeof names[0])

static void *worker(void *arg) {
  size_t i = (size_t)arg;
  if (pthread_setname_np(pthread_self(), names[i]) != 0) return (void *)1;
  /* Peak (NNAMES - i) * 64 KiB in 4 KiB blocks; the highest-index threads peak lowest. */
  size_t nblocks = (NNAMES - i) * 16;
  char **blocks = malloc(nblocks * sizeof *blocks);
  if (!blocks) return (void *)1;
  for (size_t k = 0; k < nblocks; k++) {
    blocks[k] = malloc(4096);
    if (!blocks[k]) return (void *)1;
    memset(blocks[k], (int)k, 4096);
  }
  /* Odd threads leak one block each, so the leak table and leak figures have rows too. */
  for (size_t k = i % 2; k < nblocks; k++) free(blocks[k]);
  free(blocks);
  return NULL;
}

int main(void) {
  for (size_t i = 0; i < NNAMES; i++) {
    pthread_t t;
    void *r = NULL;
    if (pthread_create(&t, NULL, worker, (void *)i) != 0) return 1;
    pthread_join(t, &r);
    if (r) {
      fprintf(stderr, "ms_h_names: thread %zu could not be named or allocate\n", i);
      return 1;
    }
  }
  /* The names as the test expects them, so the script does not repeat them in shell quoting. */
  fputs("[", stdout);
  for (size_t i = 0; i < NNAMES; i++) {
    fputs(i ? ", \"" : "\"", stdout);
    for (const char *p = names[i]; *p; p++) {
      if (*p == '"' || *p == '\\') printf("\\%c", *p);
      else if (*p == '\n') fputs("\\n", stdout);
      else putchar(*p);
    }
    putchar('"');
  }
  puts("]");
  return 0;
}
