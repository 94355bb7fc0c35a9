/* nocfi_learn.c: a frame without CFI where libunwind's two walkers differ, for the stack
 * cache's learning miss (docs/tracker.md "Stack cache"; test tracker.stack_cache_nocfi).
 *
 * nocfi2 (assembly, no CFI) calls malloc while rbp points at a static buffer whose second
 * word looks like a return address into target(). unw_backtrace met nocfi2 first with a
 * real frame (deeper(): its trace cache then follows such a frame as rbp+16) and so returns
 * [nocfi2, target, ...]; unw_step's fallback ends the stack at nocfi2 (rbp is below the
 * CFA). The program first makes 300 walks, so the thread is past its stepped walks and its
 * stacks are unw_backtrace's. runh's N allocations must all get unw_backtrace's stack.
 *
 * Mode "end SEQ": tramp calls nocfi (no CFI) with rbp = 0 ('z') or a real frame ('v') at the
 * same call site and stack pointer. With rbp = 0 libunwind's frame-pointer fallback ends the
 * stack at nocfi; with a real frame it goes on. The end depends on rbp, so rbp must be part
 * of the cache's key for these calls (run with MEMSCOPE_TEST_STACK_VERIFY=1: no mismatch).
 * Usage: nocfi_learn N | nocfi_learn end SEQ */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        ".globl tramp\n"
        "tramp:\n" /* tramp(mode, size): mode 0: rbp = 0, else rbp = a real frame */
        "  push %rbp\n"
        "  test %rdi, %rdi\n"
        "  jz 1f\n"
        "  mov %rsp, %rbp\n"
        "  jmp 2f\n"
        "1:\n"
        "  xor %ebp, %ebp\n"
        "2:\n"
        "  mov %rsi, %rdi\n"
        "  call nocfi\n"
        "  pop %rbp\n"
        "  ret\n"
        "nocfi:\n"
        "  sub $8, %rsp\n"
        "  call malloc@PLT\n"
        "  add $8, %rsp\n"
        "  ret\n"
        ".globl nocfi2\n"
        "nocfi2:\n"
        "  sub $8, %rsp\n"
        "  call malloc@PLT\n"
        "  add $8, %rsp\n"
        "  ret\n");

void *tramp2(uintptr_t rbp, size_t n);
void *tramp2v(size_t n);
void *tramp(long mode, size_t n);
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

__attribute__((noinline)) static void run_end(const char *seq) {
  for (const char *p = seq; *p; p++)
    free(tramp(*p == 'v', 24));
}

__attribute__((noinline)) static void deeper_end(const char *seq) {
  volatile char pad[64];
  pad[0] = 0;
  (void)pad[0];
  run_end(seq);
  __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "end") == 0) {
    free(malloc(1));     /* the first call takes the slow path */
    deeper_end("vvvv");  /* another stack pointer: unw_backtrace meets nocfi not last */
    run_end(argv[2]);
    printf("done\n");
    return 0;
  }
  fake[9] = (uintptr_t)&target + 1;
  for (int r = 0; r < 2; r++)
    for (int d = 0; d < 150; d++)
      warm(d);
  deeper();
  runh(argc > 1 ? atoi(argv[1]) : 40);
  printf("done\n");
  return 0;
}
