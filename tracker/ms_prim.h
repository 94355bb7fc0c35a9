/* ms_prim.h: the tracker's platform contract. Every primitive that depends on the CPU or the
 * kernel goes through here, so that porting the tracker means writing one backend header.
 *
 * The backend is chosen by the build, not by the compiler's predefined macros: CMake
 * (tracker/CMakeLists.txt) looks at CMAKE_SYSTEM_PROCESSOR and CMAKE_SYSTEM_NAME and defines
 * MS_PRIM_BACKEND_<NAME>; a platform without a backend fails at configure time, with one line
 * naming what is supported, rather than building a tracker that records wrong timestamps.
 *
 * Supported: x86-64 Linux (tracker/prim/ms_prim_x86_64_linux.h).
 * To add a platform: write tracker/prim/ms_prim_<cpu>_<os>.h defining everything below (and
 * tracker/prim/ms_prim_<cpu>_<os>.c, the backend's out-of-line state; tracker/CMakeLists.txt
 * compiles it by the backend's name), add
 * its MS_PRIM_BACKEND_ branch here and its CMAKE_SYSTEM_* match in tracker/CMakeLists.txt.
 *
 * The contract. Every function is static inline (but ms_prim_fork_gate_install, which lives
 * in the backend's .c file); the ones on the allocation path are
 * always_inline, so that a hook compiles to the same instructions as if it called the
 * primitive itself (no call, no frame: a frame would also show up in captured stacks).
 * None of them allocates, takes a lock or touches errno except where it says so.
 *
 * Locks: the stack primitives that call the unwinder (ms_prim_backtrace,
 * ms_prim_backtrace_traced, ms_prim_walk, ms_prim_step_from) take the fork gate for reading,
 * a process-wide rwlock that fork() takes for writing (ms_prim_fork_gate_install's
 * pthread_atfork handlers). The reason: libunwind's unw_step takes an internal mutex, and a
 * child forked while another thread held it would block on it forever at its first walk
 * (docs/tracker.md, "Fork while another thread walks"). A thread already inside a walk (a
 * signal handler nested in one) does not take it again. Only walks pay it: the stack cache's
 * hits never call these. Each backend supplies its own gate, or none if its unwinder holds no
 * lock across fork.
 *
 *   Time
 *     uint64_t ms_prim_ticks(void)          hot path. A fast, per-CPU-consistent counter
 *                                            (x86-64: rdtsc). Its rate is not known here: the
 *                                            tracker writes (ticks, CLOCK_MONOTONIC ns) pairs
 *                                            and the reader converts. Only valid when
 *                                            ms_prim_ticks_usable() said 1.
 *     int ms_prim_ticks_usable(long *read_bytes)
 *                                            once at start: 1 when ms_prim_ticks runs at a
 *                                            constant rate through idle states and
 *                                            frequency changes, else 0 (the tracker then
 *                                            uses ms_prim_mono_ns). May read files; sets
 *                                            *read_bytes to what read(2) returned (or -1) so
 *                                            the caller can count its own I/O.
 *     uint64_t ms_prim_mono_ns(void)         CLOCK_MONOTONIC in ns (the fallback timestamp).
 *
 *   Checksum (CRC-32C, Castagnoli, as format/ms_format.h defines it)
 *     int ms_prim_crc32c_hw_usable(void)     once at start: 1 when ms_prim_crc32c_hw works on
 *                                            this CPU; otherwise the tracker uses the table
 *                                            version in ms_format.h.
 *     uint32_t ms_prim_crc32c_hw(p, len)     the CRC-32C of p[0, len) in hardware.
 *
 *   Threads
 *     pid_t ms_prim_tid(void)                the kernel's id of the calling thread.
 *     void ms_prim_cpu_relax(void)           the spin-wait hint inside a busy loop.
 *
 *   Stacks
 *     int ms_prim_backtrace(void **out, int max)
 *                                            hot path, always inlined: the return addresses
 *                                            of the caller's stack, innermost first, the
 *                                            first being the function this is inlined into;
 *                                            returns how many (0..max). Exactly what
 *                                            libunwind's unw_backtrace returns. A thread's
 *                                            first walks cost no per-thread memory (x86-64:
 *                                            unw_step; then unw_backtrace, whose trace cache
 *                                            is 256 KiB a thread).
 *     int ms_prim_backtrace_traced(void **out, int max)
 *                                            always inlined: unw_backtrace itself, the
 *                                            reference the stack-verify test mode compares
 *                                            every ms_prim_backtrace walk with.
     uintptr_t ms_prim_frame_reg(void)      hot path, always inlined: the frame-pointer
                                            register now (x86-64: rbp). Called first thing in
                                            an exported hook, it is the program's value at the
                                            call: the stack cache's key (stacks.c).
     int ms_prim_walk(ms_prim_frame_t *out, int max, int *end)
                                            cold: the same unwinder stepped frame by frame
                                            from the caller of ms_prim_walk, saying for each
                                            frame where it found the IP and the frame pointer
                                            (ms_prim_frame_t). The stack cache learns from
                                            it which stack words a walk depends on. Returns
                                            the frames (0..max) or -1 on an unwinder error;
                                            *end = 1 when the stack ended before max.
     int ms_prim_step_from(ip, sp, fp, &ip_out, &sp_out)
                                            cold: one step of the same unwinder from a frame
                                            given by IP, stack pointer and frame pointer:
                                            the next frame's IP and stack pointer; returns 1,
                                            0 at the stack's end, -1 on error. Writes nothing
                                            but its outputs. The stack cache asks it whether a
                                            frame's step depends on the frame pointer.
 *     int ms_prim_has_unwind_info(ip)        cold: 1 when the unwinder has unwind info for
 *                                            the code at ip, 0 when not, -1 on error (a
 *                                            stack ended at code without it was ended by a
 *                                            guess from the frame pointer).
 *
 *     int ms_prim_fork_gate_install(void)    once, at start, before any other pthread_atfork
 *                                            handler of the tracker (so that its child
 *                                            handler opens the gate before the tracker's own
 *                                            may walk): registers the fork gate's handlers.
 *                                            0, or -1 if pthread_atfork failed. Idempotent.
 *
 *   Raw system calls (no libc wrapper: they must not be interposed, must not be cancellation
 *   points the program can observe, and must work while libc is half set up). Each returns
 *   the kernel's result, or -1 with errno set.
 *     long ms_prim_sys_open(const char *path, int flags)   open relative to the cwd
 *     long ms_prim_sys_read(int fd, void *buf, size_t n)
 *     long ms_prim_sys_close(int fd)
 *     void ms_prim_sys_exit_group(int status)              never returns
 */
#ifndef MS_PRIM_H
#define MS_PRIM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MS_PRIM_INLINE static inline __attribute__((always_inline))

/* One frame of ms_prim_walk. Locations are 0 when the value was not read from memory. */
typedef struct ms_prim_frame_s {
  uintptr_t ip;     /* the frame's IP (a return address, except in the innermost frame) */
  uintptr_t sp;     /* its stack pointer: the CFA of the frame inside it */
  uintptr_t fp;     /* its frame-pointer register */
  uintptr_t ip_loc; /* where the unwinder read ip from (the inner frame's return slot) */
  uintptr_t fp_loc; /* where it read fp from (a save slot in an inner frame) */
  int signal;       /* 1 for a signal frame (its registers come from a sigcontext) */
} ms_prim_frame_t;

#if defined(MS_PRIM_BACKEND_X86_64_LINUX)
#include "prim/ms_prim_x86_64_linux.h"
#else
#error "no platform backend: configure with CMake (tracker/CMakeLists.txt picks MS_PRIM_BACKEND_*)"
#endif

#endif /* MS_PRIM_H */
