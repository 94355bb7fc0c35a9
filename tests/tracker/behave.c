/* behave.c: a program whose output and exit status must not change under the tracker,
 * whatever MEMSCOPE_* says (bad values, unwritable directory, full disk). It allocates
 * enough to fill several chunks, prints a checksum of its work, and exits with status 7. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  unsigned long sum = 0;
  char *keep[64] = {0};
  for (int i = 0; i < 200000; i++) {
    size_t n = (size_t)(i % 1000) + 1;
    char *p = malloc(n);
    memset(p, i & 0xff, n);
    sum += (unsigned char)p[n / 2] + n;
    if (i % 3000 == 0) {
      free(keep[i % 64]);
      keep[i % 64] = p;
    } else {
      free(p);
    }
  }
  for (int i = 0; i < 64; i++)
    free(keep[i]);
  printf("work done: %lu\n", sum);
  return 7;
}
