/* ms_h_leak.c: a program that leaks one block from a function of its own through strdup
 * (libc allocates): the harness's leak line must name leaky_copy and this file's line of the
 * strdup call, not libc's strdup or main. The line is found by the test from the marker. */
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) char *leaky_copy(const char *s) {
  char *p = strdup(s); /* LEAK-SITE */
  return p;
}

int main(void) {
  /* No stdio: its buffer would be a larger leak than this one. */
  char *p = leaky_copy("memscope");
  int first = p[0];
  p = NULL; /* the block stays allocated and unreachable */
  return first == 'm' ? 0 : 3;
}
