/* fuzz_partial.c: a fuzz target for the harness's fuzz test `partial` (tests/harness/
 * fuzz_test.sh): an input starting "SI" makes a signal handler allocate inside allocator
 * calls (tests/fuzz_oracle/signal_inside_alloc.h), which the oracle reports as partial; any
 * other input copies itself into a block and frees it. A target of its own, so that no
 * other test's campaign can reach "SI" (two bytes from a seed of `crash_hang` were). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz_oracle/signal_inside_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 2 && data[0] == 'S' && data[1] == 'I') {
    signal_inside_alloc(malloc, free);
    return 0;
  }
  char *copy = malloc(size + 1); /* freed: nothing for the oracle */
  if (copy) {
    memcpy(copy, data, size);
    copy[size] = '\0';
  }
  free(copy);
  return 0;
}
