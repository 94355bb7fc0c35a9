/* nocfi_learn.c: a frame without CFI where libunwind's two walkers differ, for the stack
 * cache's learning miss (docs/tracker.md "Stack cache"; test tracker.stack_cache_nocfi).
 *
 * nocfi2 (assembly, no CFI) calls malloc while rbp points at a static buffer whose second
 * word looks like a return address into target(). unw_backtrace met nocfi2 first with a
 * real frame (deeper(): its trace cache then follows such a frame as rbp+16) and so returns
 * [nocfi2, target, ...]; unw_step's fallback ends the stack at nocfi2 (rbp is below the
 * CFA). The program first makes 300 walks, so the thread is past its stepped walks and its
 * stacks are unw_backtrace's. runh's N allocations must all get unw_backtrace's stack.
 * Usage: nocfi_learn N */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

__asm__(".text\n"
        ".globl tramp2\n"
        "tramp2:\n" /* tramp2(rbpval, size): rbp = rbpval during the call of nocfi2 */
        "  push %rbp\n"
        "  mov %rdi, %rbp\n"
        "  mov %rsi, %rdi\n"
        "  call nocfi2\n"
        "  pop %rbp\n"
        "  ret\n"
        ".globl tramp2v\n"
        "tramp2v:\n" /* tramp2v(size): rbp = a real frame */
        "  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  call nocfi2\n"
        "  pop %rbp\n"
        "  ret\n"
        ".globl nocfi2\n"
        "nocfi2:\n"
        "  sub $8, %rsp\n"
        "  call malloc@PLT\n"
        "  add $8, %rsp\n"
        "  ret\n");

void *tramp2(uintptr_t rbp, size_t n);
void *tramp2v(size_t n);
static uintptr_t fake[64];

__attribute__((noinline)) void target(void) { __asm__ volatile(""); }

__attribute__((noinline)) static void runh(int n) {
  for (int i = 0; i < n; i++)
    free(tramp2((uintptr_t)&fake[8], 24));
}

__attribute__((noinline)) static void deeper(void) {
  volatile char pad[64];
  pad[0] = 0;
  (void)pad[0];
  for (int i = 0; i < 4; i++)
    free(tramp2v(40));
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void warm(int d) { /* a miss at each key: 300 walks */
  volatile char pad[32];
  pad[0] = 0;
  (void)pad[0];
  if (d > 0) {
    warm(d - 1);
    return;
  }
  free(malloc(8));
}

int main(int argc, char **argv) {
  fake[9] = (uintptr_t)&target + 1;
  for (int r = 0; r < 2; r++)
    for (int d = 0; d < 150; d++)
      warm(d);
  deeper();
  runh(argc > 1 ? atoi(argv[1]) : 40);
  printf("done\n");
  return 0;
}
