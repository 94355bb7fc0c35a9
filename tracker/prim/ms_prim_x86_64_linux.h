/* ms_prim_x86_64_linux.h: the x86-64 Linux backend of ms_prim.h (the contract is there).
 * Included only through ms_prim.h, when CMake defined MS_PRIM_BACKEND_X86_64_LINUX. */
#ifndef MS_PRIM_X86_64_LINUX_H
#define MS_PRIM_X86_64_LINUX_H

#if !defined(__x86_64__) || !defined(__linux__)
#error "MS_PRIM_BACKEND_X86_64_LINUX set for a compiler that does not target x86-64 Linux"
#endif

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <ucontext.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "ms_format.h"

/* ---- time ------------------------------------------------------------------------------- */

/* rdtsc, not rdtscp: the order of events within a thread comes from the record order, and
 * across threads the TSC is synchronized by the kernel's check (constant_tsc/nonstop_tsc);
 * rdtscp's wait for earlier instructions would cost several ns a call for nothing. */
MS_PRIM_INLINE uint64_t ms_prim_ticks(void) { return __builtin_ia32_rdtsc(); }

static inline uint64_t ms_prim_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The kernel lists constant_tsc and nonstop_tsc in /proc/cpuinfo's flags when the TSC ticks
 * at one rate through P- and C-states; both are needed for ticks to convert linearly. Read
 * with the raw calls, as resources.c reads /proc, so that the check stays in this backend.
 * 8 KiB covers the first CPU's flags line, which is all that is needed. */
static inline int ms_prim_ticks_usable(long *read_bytes) {
  long fd = syscall(SYS_openat, AT_FDCWD, "/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
  *read_bytes = -1;
  if (fd < 0)
    return 0;
  char buf[8192];
  long n = syscall(SYS_read, (int)fd, buf, sizeof buf - 1);
  *read_bytes = n;
  syscall(SYS_close, (int)fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  return strstr(buf, " constant_tsc") && strstr(buf, " nonstop_tsc");
}

/* ---- checksum --------------------------------------------------------------------------- */

/* SSE4.2's crc32 instruction. The code lives in format/ms_format.h because the trace reader
 * (analysis/) verifies chunks with the same function and must not include tracker headers;
 * this backend only says that the tracker uses it here. */
static inline int ms_prim_crc32c_hw_usable(void) { return ms_crc32c_hw_usable(); }
static inline uint32_t ms_prim_crc32c_hw(const void *data, size_t len) {
  return ms_crc32c_hw(data, len);
}

/* ---- threads ---------------------------------------------------------------------------- */

/* The raw call: glibc's gettid() wrapper exists only from 2.30. */
static inline pid_t ms_prim_tid(void) { return (pid_t)syscall(SYS_gettid); }

MS_PRIM_INLINE void ms_prim_cpu_relax(void) { __builtin_ia32_pause(); }

/* ---- stacks ----------------------------------------------------------------------------- */

/* The fork gate (ms_prim_x86_64_linux.c; docs/tracker.md, "Fork while another thread
 * walks"): every libunwind call of the tracker runs between these two, which hold a
 * process-wide rwlock for reading; fork() takes it for writing (a pthread_atfork handler), so
 * that no thread holds libunwind's internal mutex when the child is made. Out of line: they
 * run only on a stack-cache miss, and the hook bodies that inline the walk stay short. */
void ms__prim_gate_enter(void) __attribute__((visibility("hidden")));
void ms__prim_gate_leave(void) __attribute__((visibility("hidden")));
/* 1 when the calling thread is inside a tracker walk (between a gate_enter and its leave). */
int ms__prim_in_walk(void) __attribute__((visibility("hidden")));
/* 1 when a call returning to caller is the unwinder's own, made inside a tracker walk (its
 * validation pipe: preload.c's pipe2), not a signal handler's that ran during the walk. */
int ms__prim_unwinder_call(uintptr_t caller) __attribute__((visibility("hidden")));
int ms_prim_fork_gate_install(void) __attribute__((visibility("hidden")));

/* Signals held across a walk (ms_prim_x86_64_linux.c; docs/tracker.md, "Signals during a
 * walk"): from a hold to its release (they nest) the asynchronous signals are blocked, with
 * one system call each way, and libunwind's own sigprocmask calls are answered by
 * ms__prim_sigmask_emulated, which the tracker's exported sigprocmask asks first with its
 * return address. ms__prim_sig_init, once at start before any other walk, finds libunwind's
 * code (until then nothing is answered). */
void ms__prim_sig_init(void) __attribute__((visibility("hidden")));
void ms__prim_sig_hold(void) __attribute__((visibility("hidden")));
void ms__prim_sig_release(void) __attribute__((visibility("hidden")));
/* 1 inside a hold: no asynchronous signal handler runs there, so an allocator call that
 * arrives is the tracker's own (libunwind's, glibc's on its behalf). */
int ms__prim_sig_holding(void) __attribute__((visibility("hidden")));
/* 1 when a sigprocmask call from `caller` was answered here (a call from libunwind's code
 * inside a hold; *old, a sigset_t, written as the kernel writes it), 0: make the real call. */
int ms__prim_sigmask_emulated(uintptr_t caller, void *old) __attribute__((visibility("hidden")));
#define ms_prim_sig_hold ms__prim_sig_hold
#define ms_prim_sig_release ms__prim_sig_release
/* Around an unw_backtrace: a hold when the thread's last one found libunwind's trace cache
 * cold (it called sigprocmask), none when it was warm. */
uint64_t ms__prim_traced_enter(void) __attribute__((visibility("hidden")));
void ms__prim_traced_leave(uint64_t token) __attribute__((visibility("hidden")));

/* libunwind's unw_backtrace. Its x86-64 fast path (tdep_trace, src/x86_64/Gtrace.c) keeps a
 * per-thread trace cache: a hash of 2^14 16-byte frame records that it maps and fills in
 * full at the thread's first call, 256 KiB for every thread that ever calls it, which alone
 * would be ~2.7x the 96 KiB a tracked thread may cost. always_inline: the first frame
 * returned is the function this is inlined into. */
MS_PRIM_INLINE int ms_prim_backtrace_traced(void **out, int max) {
  /* Gated too: the fast path falls back to unw_step (slow_backtrace) whenever a frame is not
   * in its cache, and unw_step takes libunwind's mutex. That step may also check a stack word
   * through a pipe (below, ms_prim_unw_enter): cancellation off and errno kept, as there. A
   * pending cancellation acted on in that read() ended the thread inside malloc, with the
   * gate still held for reading, and the next fork() waited forever (tests/tracker/
   * cancel_walk.c). pthread_setcancelstate is two loads and a CAS: only walks pay it. */
  int saved_errno = errno, old_cancel;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel);
  uint64_t token = ms__prim_traced_enter();
  ms__prim_gate_enter();
  int n = unw_backtrace(out, max);
  ms__prim_gate_leave();
  ms__prim_traced_leave(token);
  pthread_setcancelstate(old_cancel, NULL);
  errno = saved_errno;
  return n;
}

/* unw_step may check a stack word with mincore and by writing it to a pipe and reading it
 * back (libunwind's CONSERVATIVE_CHECKS, validate_mem/write_validate): read() is a
 * cancellation point, and these calls can change errno. Every stepped walk runs between
 * these two, so that a malloc never becomes a cancellation point (tests/tracker/
 * cancel_thread.c caught it) and errno stays the program's; they also pass the fork gate. */
typedef struct ms_prim_unw_guard_s {
  int old_cancel, saved_errno;
} ms_prim_unw_guard_t;
/* A stepped walk is a signal hold too (ms__prim_sig_hold, above). */
static inline void ms_prim_unw_enter(ms_prim_unw_guard_t *g) {
  g->saved_errno = errno;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &g->old_cancel);
  ms__prim_sig_hold();
  ms__prim_gate_enter();
}
static inline void ms_prim_unw_leave(const ms_prim_unw_guard_t *g) {
  ms__prim_gate_leave();
  ms__prim_sig_release();
  pthread_setcancelstate(g->old_cancel, NULL);
  errno = g->saved_errno;
}

/* The same frames by unw_step, as unw_backtrace's own fallback takes them (slow_backtrace in
 * src/mi/backtrace.c: step, then record the IP, while unw_step > 0): no per-thread memory.
 * The context is this function's; the first step leaves it, so the first frame recorded is
 * the caller's, as with unw_backtrace inlined there. noinline: that first frame must exist. */
static __attribute__((noinline, unused)) int ms_prim_backtrace_stepped(void **out, int max) {
  unw_context_t uc;
  unw_cursor_t c;
  ms_prim_unw_guard_t g;
  int n = 0;
  ms_prim_unw_enter(&g);
  if (unw_getcontext(&uc) == 0 && unw_init_local(&c, &uc) == 0) {
    while (n < max && unw_step(&c) > 0) {
      unw_word_t ip;
      if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0)
        break;
      out[n++] = (void *)(uintptr_t)ip;
    }
  }
  ms_prim_unw_leave(&g);
  return n;
}

/* Stepped walks a thread takes before it switches to unw_backtrace (see ms_prim_backtrace). */
#define MS_PRIM_STEPPED_WALKS 256u
/* Per thread: stepped walks taken so far (defined in stacks.c; initial-exec, like ms__tls:
 * the library is preloaded, so its TLS is static). */
extern __thread uint32_t ms__prim_stepped_walks __attribute__((tls_model("initial-exec")));

/* A thread's first MS_PRIM_STEPPED_WALKS walks are stepped: they cost no per-thread memory,
 * and with the stack cache in front most threads never need more. A thread that walks more
 * often than that pays libunwind's trace cache once and gets its cheaper walks
 * (docs/tracker.md, "Stack cache"). always_inline: the first frame returned must be the hook
 * body that inlines this, which MS_OWN_FRAMES counts; both branches give it. */
MS_PRIM_INLINE int ms_prim_backtrace(void **out, int max) {
  if (__builtin_expect(ms__prim_stepped_walks < MS_PRIM_STEPPED_WALKS, 0)) {
    ms__prim_stepped_walks++;
    return ms_prim_backtrace_stepped(out, max);
  }
  return ms_prim_backtrace_traced(out, max);
}

/* The frame-pointer register (rbp) as it is now. always_inline, and meant for the first
 * instructions of a hook that has not yet saved or reused it: it is then the caller's. */
MS_PRIM_INLINE uintptr_t ms_prim_frame_reg(void) {
  uintptr_t fp;
  __asm__ volatile("mov %%rbp, %0" : "=r"(fp));
  return fp;
}

/* A walk with unw_init_local/unw_step from the function that calls this (the walk's own
 * frame comes first). For each frame: its IP and stack pointer (the previous frame's CFA),
 * the value of rbp in it, and where libunwind read the IP and rbp from (unw_get_save_loc;
 * 0 when not a memory location). *end is set to 1 when unw_step said the stack ended, 0
 * when max frames were taken; -1 is returned on any libunwind error. When the stack ended
 * after n frames, out[n].ip_loc says where that last step read a return address (0: it read
 * none, as at _start and clone, whose CFI marks the return address undefined), so out must
 * hold max + 1 frames. */
MS_PRIM_INLINE int ms_prim_walk_unguarded(ms_prim_frame_t *out, int max, int *end) {
  unw_context_t uc;
  unw_cursor_t c;
  *end = 0;
  if (unw_getcontext(&uc) < 0 || unw_init_local(&c, &uc) < 0)
    return -1;
  for (int n = 0;; n++) {
    unw_word_t ip, sp, fp;
    unw_save_loc_t ip_loc, fp_loc;
    if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || unw_get_reg(&c, UNW_REG_SP, &sp) < 0 ||
        unw_get_reg(&c, UNW_X86_64_RBP, &fp) < 0 ||
        unw_get_save_loc(&c, UNW_X86_64_RIP, &ip_loc) < 0 ||
        unw_get_save_loc(&c, UNW_X86_64_RBP, &fp_loc) < 0)
      return -1;
    if (n == max)
      return n;
    out[n].ip = ip;
    out[n].sp = sp;
    out[n].fp = fp;
    out[n].ip_loc = ip_loc.type == UNW_SLT_MEMORY ? ip_loc.u.addr : 0;
    out[n].fp_loc = fp_loc.type == UNW_SLT_MEMORY ? fp_loc.u.addr : 0;
    out[n].signal = unw_is_signal_frame(&c) > 0;
    int rc = unw_step(&c);
    if (rc < 0)
      return -1;
    if (rc == 0) {
      unw_save_loc_t last;
      memset(&out[n + 1], 0, sizeof out[n + 1]);
      if (unw_get_save_loc(&c, UNW_X86_64_RIP, &last) < 0)
        return -1;
      out[n + 1].ip_loc = last.type == UNW_SLT_MEMORY ? last.u.addr : 0;
      *end = 1;
      return n + 1;
    }
  }
}

/* always_inline: the walk's first frame must be ms_prim_walk's caller. */
MS_PRIM_INLINE int ms_prim_walk(ms_prim_frame_t *out, int max, int *end) {
  ms_prim_unw_guard_t g;
  ms_prim_unw_enter(&g);
  int n = ms_prim_walk_unguarded(out, max, end);
  ms_prim_unw_leave(&g);
  return n;
}

/* One unw_step from a frame given by its IP (a return address), stack pointer and frame
 * pointer; the other registers are 0. libunwind's local unwinder takes a ucontext_t as its
 * context, so the frame is written into one (nothing on the program's stack is written).
 * Sets the next frame's IP and stack pointer and returns unw_step's result (1 stepped, 0 the
 * stack ended), or -1 on an error. Every memory read is one the CFI of ip asks for, relative
 * to sp or fp: the stack cache passes a fp pointing into its own zeroed buffer to learn
 * whether the step reads fp at all. */
/* glibc's REG_RBP, REG_RSP, REG_RIP (sys/ucontext.h names them only under _GNU_SOURCE, which
 * not every file including this one defines; stacks.c checks that they agree). */
enum { MS_PRIM_GREG_RBP = 10, MS_PRIM_GREG_RSP = 15, MS_PRIM_GREG_RIP = 16 };

/* Zeroed memory (bss: untouched pages read as the zero page) for the registers a synthesized
 * context does not know. A frame whose unwind rule went through one of them (hand-written
 * CFI on rbx, r12...) would otherwise make libunwind load near address 0 and fault; reading
 * here it gets zeros, the step disagrees with the real walk, and the key is not cached. */
static uint64_t ms_prim_unknown_regs_area[8192] __attribute__((unused));

static inline int ms_prim_step_from_unguarded(uintptr_t ip, uintptr_t sp, uintptr_t fp,
                                              uintptr_t *ip_out, uintptr_t *sp_out) {
  unw_context_t uc;
  unw_cursor_t c;
  *ip_out = *sp_out = 0;
  memset(&uc, 0, sizeof uc);
  for (int r = 0; r < MS_PRIM_GREG_RSP; r++) /* r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx */
    uc.uc_mcontext.gregs[r] = (greg_t)(uintptr_t)&ms_prim_unknown_regs_area[4096];
  uc.uc_mcontext.gregs[MS_PRIM_GREG_RIP] = (greg_t)ip;
  uc.uc_mcontext.gregs[MS_PRIM_GREG_RSP] = (greg_t)sp;
  uc.uc_mcontext.gregs[MS_PRIM_GREG_RBP] = (greg_t)fp;
  if (unw_init_local(&c, &uc) < 0)
    return -1;
  int rc = unw_step(&c);
  unw_word_t nip = 0, nsp = 0;
  if (rc > 0 && (unw_get_reg(&c, UNW_REG_IP, &nip) < 0 || unw_get_reg(&c, UNW_REG_SP, &nsp) < 0))
    return -1;
  *ip_out = nip;
  *sp_out = nsp;
  return rc < 0 ? -1 : rc;
}

static inline int ms_prim_step_from(uintptr_t ip, uintptr_t sp, uintptr_t fp, uintptr_t *ip_out,
                                    uintptr_t *sp_out) {
  ms_prim_unw_guard_t g;
  ms_prim_unw_enter(&g);
  int rc = ms_prim_step_from_unguarded(ip, sp, fp, ip_out, sp_out);
  ms_prim_unw_leave(&g);
  return rc;
}

/* 1 when libunwind has unwind info (an FDE) for the code at ip, 0 when it has none, -1 on
 * another error. The stack cache asks it for a stack's last frame: a stack that ended at
 * code without unwind info was ended by libunwind's frame-pointer fallback, a decision on
 * rbp's value. */
static inline int ms_prim_has_unwind_info(uintptr_t ip) {
  ms_prim_unw_guard_t g;
  ms_prim_unw_enter(&g);
  unw_proc_info_t pi;
  int rc = unw_get_proc_info_by_ip(unw_local_addr_space, (unw_word_t)ip, &pi, NULL);
  ms_prim_unw_leave(&g);
  return rc == 0 ? 1 : rc == -UNW_ENOINFO ? 0 : -1;
}

/* ---- raw system calls ------------------------------------------------------------------- */

static inline long ms_prim_sys_open(const char *path, int flags) {
  return syscall(SYS_openat, AT_FDCWD, path, flags);
}
static inline long ms_prim_sys_read(int fd, void *buf, size_t n) {
  return syscall(SYS_read, fd, buf, n);
}
static inline long ms_prim_sys_close(int fd) { return syscall(SYS_close, fd); }
__attribute__((noreturn)) static inline void ms_prim_sys_exit_group(int status) {
  for (;;)
    syscall(SYS_exit_group, status);
}

#endif /* MS_PRIM_X86_64_LINUX_H */
