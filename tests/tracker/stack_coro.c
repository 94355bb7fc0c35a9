/* stack_coro.c: a stack-cache key (same thread, call site, stack pointer and rbp) met on a
 * makecontext coroutine stack that has shrunk since the key was seen: its top 16 KiB are
 * unmapped. A cache that trusted the key and read the words the old walk read would fault
 * there (it did, before the cache was confined to the thread's own stack). Exit 0 when both
 * runs complete; the tracker must not crash the program. */
#define _GNU_SOURCE
#include <alloca.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>

static ucontext_t main_uc, co_uc;
static volatile unsigned long sink;
static size_t pad;

static __attribute__((noinline)) void allocate(void) {
  for (int i = 0; i < 6; i++) { /* more than the cache's learning misses: later ones hit */
    void *p = malloc(40);
    sink += (unsigned long)p;
    free(p);
  }
  __asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void entry(void) {
  char *a = alloca(pad + 16); /* run 1 pads by the 16 KiB that run 2's stack lacks */
  a[0] = 1;
  sink += (unsigned long)a[0];
  allocate();
  __asm__ volatile("" ::: "memory");
}

static void run_on(char *stack, size_t size) {
  getcontext(&co_uc);
  co_uc.uc_stack.ss_sp = stack;
  co_uc.uc_stack.ss_size = size;
  co_uc.uc_link = &main_uc;
  makecontext(&co_uc, entry, 0);
  swapcontext(&main_uc, &co_uc);
}

int main(void) {
  size_t small = 64 * 1024, extra = 16 * 1024;
  char *a = mmap(NULL, small + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED)
    return 2;
  pad = extra;
  run_on(a, small + extra); /* the stack's top at a + 80 KiB */
  if (munmap(a + small, extra) != 0)
    return 2;
  pad = 0;
  run_on(a, small); /* top at a + 64 KiB: the same stack pointers, less stack above them */
  puts("stack_coro: both runs completed");
  return 0;
}
