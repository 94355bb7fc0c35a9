/* fuzz_partial.c: a fuzz target for the harness's fuzz test `partial` (tests/harness/
 * fuzz_test.sh): an input starting "SI" makes a signal handler allocate inside allocator
 * calls (tests/fuzz_oracle/signal_inside_alloc.h), which the oracle reports as partial; any
 * other input does nothing. A target of its own, so that no other test's campaign can
 * reach "SI" (`crash_hang`'s did from its seeds, two bytes away). */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../fuzz_oracle/signal_inside_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size >= 2 && data[0] == 'S' && data[1] == 'I')
    signal_inside_alloc(malloc, free);
  return 0;
}
