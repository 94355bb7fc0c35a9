/* leaky.c: ms_a_leaky, a program with known leaks, scopes, marks and variables for the
 * analysis tests. Built with -g -O1 -fno-builtin so that the leak's stack names
 * leak_from_here at the line this program prints.
 *
 * Prints (after all its allocator calls, with write(2)):
 *   leak_line=L leak_blocks=B leak_bytes=S scope_allocs=A scope_frees=F scope_bytes=Y
 *   scope_peak=P scope_leaked_blocks=LB scope_leaked_bytes=LY var=NAME */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memscope.h"

#define LEAK_BLOCKS 7
#define LEAK_SIZE 1000

static void *keep[LEAK_BLOCKS];
static int leak_line;

/* Leaks LEAK_BLOCKS blocks of LEAK_SIZE bytes from one call site (the line recorded). */
__attribute__((noinline)) static void leak_from_here(void) {
  for (int i = 0; i < LEAK_BLOCKS; i++) {
    leak_line = __LINE__ + 1;
    keep[i] = malloc(LEAK_SIZE);
  }
  MEMSCOPE_TRACK_VAR_AS(keep[0], "struct leak_demo");
  for (int i = 0; i < LEAK_BLOCKS; i++)
    keep[i] = NULL; /* the pointers are lost: a real leak */
}

/* In the scope "phase": 10 blocks of 100 bytes, 4 freed; peak 1000; 6 blocks (600 bytes)
 * leaked at the scope's end and freed after it. */
__attribute__((noinline)) static void *scoped_work(void **blocks) {
  memscope_scope_begin("phase");
  for (int i = 0; i < 10; i++)
    blocks[i] = malloc(100);
  for (int i = 0; i < 4; i++)
    free(blocks[i]);
  memscope_scope_end("phase");
  return blocks;
}

int main(void) {
  void *blocks[10];
  memscope_mark("start");
  leak_from_here();
  scoped_work(blocks);
  for (int i = 4; i < 10; i++)
    free(blocks[i]);
  memscope_mark("end");
  char line[512];
  int n = snprintf(line, sizeof line,
                   "leak_line=%d leak_blocks=%d leak_bytes=%d scope_allocs=10 scope_frees=4 "
                   "scope_bytes=1000 scope_peak=1000 scope_leaked_blocks=6 "
                   "scope_leaked_bytes=600 var=keep[0]\n",
                   leak_line, LEAK_BLOCKS, LEAK_BLOCKS * LEAK_SIZE);
  if (write(STDOUT_FILENO, line, (size_t)n) != n)
    return 1;
  return 0;
}
