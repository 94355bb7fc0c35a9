/* fuzz_crash.c: a fuzz target with a plain crash and a hang and no memory bug, for the
 * harness's fuzz test `crash_hang` (tests/harness/fuzz_test.sh): an input starting "CR"
 * writes through a bad pointer (SIGSEGV, no memscope report), one starting "HG" never
 * returns. The test's seeds are one byte away from each ("CQ", "HA"). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static volatile unsigned long spins;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 2 && data[0] == 'C' && data[1] == 'R') {
    volatile int *bad = (volatile int *)(uintptr_t)16;
    *bad = 1;
  }
  if (size >= 2 && data[0] == 'H' && data[1] == 'G')
    for (;;)
      spins++;
  char *copy = malloc(size + 1); /* freed: nothing for the oracle */
  if (copy) {
    memcpy(copy, data, size);
    copy[size] = '\0';
  }
  free(copy);
  return 0;
}
