/* stack_memo.c MODE: the stack cache's per-return-address memo of "does this frame's step
 * read rbp" (stacks.c, sc_step_reads_fp) must be dropped at dlclose, where other code may be
 * loaded at the same addresses. Two phases learn one stack each (a key is learnt at its
 * third miss); the phases share frames (leaf and the C runtime's), so in phase 2 the memo
 * answers for them. MODE "keep" closes a dlopen handle after both phases, "dlclose" between
 * them: the dlclose must make phase 2 probe the shared frames again. stack_memo.sh compares
 * the two runs' meta.txt counts (MEMSCOPE_TEST_STACK_VERIFY). Exit 0 when all ran. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned long sink;
static volatile int rounds = 6; /* volatile: the loops are not unrolled (one call site each) */

static __attribute__((noinline)) void leaf(void) {
  void *p = malloc(48);
  sink += (unsigned long)p;
  free(p);
  __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void path_a(void) {
  leaf();
  __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void path_b(void) {
  leaf();
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "keep") != 0 && strcmp(argv[1], "dlclose") != 0)) {
    fprintf(stderr, "usage: %s keep|dlclose\n", argv[0]);
    return 2;
  }
  int close_between = strcmp(argv[1], "dlclose") == 0;
  void *h = dlopen(NULL, RTLD_NOW); /* the program itself: closing it unloads nothing */
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  for (int i = 0; i < rounds; i++) /* learnt at the third miss, hits after */
    path_a();
  if (close_between)
    dlclose(h);
  for (int i = 0; i < rounds; i++)
    path_b();
  if (!close_between)
    dlclose(h);
  printf("both phases ran\n");
  return 0;
}
