/* lsan_main.c: the anchor of the fuzz benchmark (bench/fuzz/fuzz_bench.sh, config c): AFL++'s
 * own leak check, a persistent loop that calls __AFL_LEAK_CHECK() (a full LeakSanitizer scan)
 * after every input, as AFL++'s docs show for AFL_USE_LSAN=1. Built by afl-cc only: the
 * __AFL_* macros come from it. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__AFL_FUZZ_INIT();

int main(void) {
  __AFL_INIT();
  unsigned char *buf = __AFL_FUZZ_TESTCASE_BUF;
  while (__AFL_LOOP(UINT32_MAX)) {
    int len = __AFL_FUZZ_TESTCASE_LEN;
    LLVMFuzzerTestOneInput(buf, (size_t)len);
    __AFL_LEAK_CHECK();
  }
  return 0;
}
