/* sites.c: ms_f_sites, six allocation sites with distinct call counts and distinct bytes
 * live at the peak, for the `memscope` front command's test against heaptrack_print. The
 * expected figures follow from the constants below (the test script repeats them):
 *   site             calls   live at the peak
 *   many_temporaries   60      0      (each block freed at once)
 *   hold_small         40   4000      (40 x 100)
 *   grow_buffer        25   1600      (one realloc chain, 64 bytes more per call)
 *   zeroed_blocks      12   6000      (12 x calloc(1, 500))
 *   hold_big            5  50000      (5 x 10000)
 *   leak_some           3    231      (3 x 77, never freed)
 * Everything but leak_some's blocks is freed after the peak. No stdio: its buffer would be
 * one more site. Built -O1 -fno-builtin -g; noinline functions whose calls are not tail
 * calls, so each site is its own frame. */
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *small[40], *big[5], *zeroed[12], *leaks[3];

__attribute__((noinline)) static void many_temporaries(void) {
  for (int i = 0; i < 60; i++) {
    void *p = malloc(16);
    KEEP(p);
    free(p);
  }
}

__attribute__((noinline)) static void hold_small(void) {
  for (int i = 0; i < 40; i++)
    small[i] = malloc(100);
  KEEP(small);
}

__attribute__((noinline)) static void *grow_buffer(void) {
  void *p = NULL;
  for (int i = 1; i <= 25; i++)
    p = realloc(p, 64 * (size_t)i);
  KEEP(p);
  return p;
}

__attribute__((noinline)) static void zeroed_blocks(void) {
  for (int i = 0; i < 12; i++)
    zeroed[i] = calloc(1, 500);
  KEEP(zeroed);
}

__attribute__((noinline)) static void hold_big(void) {
  for (int i = 0; i < 5; i++)
    big[i] = malloc(10000);
  KEEP(big);
}

__attribute__((noinline)) static void leak_some(void) {
  for (int i = 0; i < 3; i++)
    leaks[i] = malloc(77);
  KEEP(leaks);
  leaks[0] = leaks[1] = leaks[2] = NULL; /* unreachable from here on: leaked */
}

int main(void) {
  many_temporaries();
  hold_small();
  void *g = grow_buffer();
  zeroed_blocks();
  leak_some();
  hold_big(); /* the last allocation reaches the peak */
  for (int i = 0; i < 40; i++)
    free(small[i]);
  for (int i = 0; i < 12; i++)
    free(zeroed[i]);
  for (int i = 0; i < 5; i++)
    free(big[i]);
  free(g);
  return 0;
}
