/* memscope.h: the public API of the memscope heap tracker, usable with or without it.
 *
 * Every function here is a static inline wrapper around a weak reference to the tracker's
 * implementation (memscope__*). When the program runs under LD_PRELOAD=libmemscope.so the
 * references resolve to the tracker; without it they are NULL and every call is a no-op
 * returning MEMSCOPE_UNAVAILABLE (or nothing). So one binary serves as both the tracked run
 * and the untracked baseline, and needs no link flag at all.
 *
 * Thread-safety: every function may be called from any thread at any time. */
#ifndef MEMSCOPE_H
#define MEMSCOPE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEMSCOPE_UNAVAILABLE (-38) /* -ENOSYS: the tracker is not loaded or not active */

typedef struct memscope_snapshot_s {
  uint64_t allocations;     /* allocation calls recorded so far, all tracked threads */
  uint64_t frees;           /* frees recorded so far */
  uint64_t allocated_bytes; /* requested bytes of those allocations */
  uint32_t tracked_threads; /* threads that have recorded at least one event */
} memscope_snapshot_t;

/* ---- fuzz mode (MEMSCOPE_FUZZ=1): the per-input oracle's accounting, for fuzz drivers
 * (memscope's own: fuzz/ms_fuzz_driver.c; docs/fuzz.md). No trace is written in this mode. */
#define MEMSCOPE_FUZZ_FRAMES 32
typedef struct memscope_fuzz_block_s {
  uintptr_t addr;
  uint64_t size;
  uint32_t nframes;                      /* 0 unless stacks were asked for */
  uintptr_t frames[MEMSCOPE_FUZZ_FRAMES]; /* return addresses, the allocator's caller first */
} memscope_fuzz_block_t;
typedef struct memscope_fuzz_result_s {
  uint64_t allocations, frees;          /* allocator calls during the input, all threads */
  uint64_t peak_bytes;                  /* high-water of live bytes above the input's start */
  uint64_t leaked_blocks, leaked_bytes; /* allocated during the input, live at its end */
} memscope_fuzz_result_t;
/* Called by the allocation that takes the input's peak over the limit, before the program
 * gets the block; the driver reports and aborts. */
typedef void (*memscope_fuzz_limit_fn)(const memscope_fuzz_block_t *crossing,
                                       uint64_t peak_bytes, uint64_t limit);

#define MEMSCOPE__WEAK __attribute__((weak))
/* Begins an input: peak_limit 0 = none; with_stacks records every allocation's stack. */
extern int memscope__fuzz_begin(uint64_t peak_limit, int with_stacks,
                                memscope_fuzz_limit_fn on_limit) MEMSCOPE__WEAK;
extern int memscope__fuzz_end(memscope_fuzz_result_t *out) MEMSCOPE__WEAK;
/* After memscope__fuzz_end: the input's blocks still live (at most max). */
extern size_t memscope__fuzz_leaks(memscope_fuzz_block_t *out, size_t max) MEMSCOPE__WEAK;
/* Allocator calls since the last memscope__fuzz_begin that the table could not account: made
 * by a signal handler inside an allocator call. Non-zero: the input's figures are partial. */
extern uint64_t memscope__fuzz_unaccounted(void) MEMSCOPE__WEAK;
/* Allocations since the last memscope__fuzz_begin that the table could not hold (no memory to
 * grow it). Non-zero: the input's figures are partial. */
extern uint64_t memscope__fuzz_dropped(void) MEMSCOPE__WEAK;
extern int memscope__active(void) MEMSCOPE__WEAK;
extern int memscope__thread_track(int on) MEMSCOPE__WEAK;
/* access(none): only the address is used, so a fresh, unfilled block is fine to name. */
extern int memscope__track_var(const void *p, const char *name, const char *type,
                               const char *file, int line) MEMSCOPE__WEAK
    __attribute__((access(none, 1)));
extern int memscope__mark(int subkind, const char *name) MEMSCOPE__WEAK;
extern int memscope__snapshot(memscope_snapshot_t *out) MEMSCOPE__WEAK;
extern int memscope__flush(void) MEMSCOPE__WEAK;
#undef MEMSCOPE__WEAK

/* 1 when the tracker is loaded and recording (MEMSCOPE_OUT set and usable), else 0. */
static inline int memscope_active(void) {
  return memscope__active ? memscope__active() : 0;
}

/* Switch tracking of the calling thread on (1) or off (0); this overrides MEMSCOPE_THREADS
 * for the thread. Returns the previous state (0/1) or MEMSCOPE_UNAVAILABLE. */
static inline int memscope_thread_track(int on) {
  return memscope__thread_track ? memscope__thread_track(on) : MEMSCOPE_UNAVAILABLE;
}

/* Attach a variable name and type to the live block at p (the seed's track_var!). The block
 * must have come from the allocator; the name shows up in leak and memory reports. */
__attribute__((access(none, 1))) static inline int memscope_track_var(const void *p, const char *name, const char *type,
                                     const char *file, int line) {
  return memscope__track_var ? memscope__track_var(p, name, type, file, line)
                             : MEMSCOPE_UNAVAILABLE;
}
#define MEMSCOPE_TRACK_VAR(p) memscope_track_var((p), #p, "", __FILE__, __LINE__)
#define MEMSCOPE_TRACK_VAR_AS(p, type) memscope_track_var((p), #p, (type), __FILE__, __LINE__)

/* A named point on the timeline (name up to 63 bytes; longer names are cut). */
static inline int memscope_mark(const char *name) {
  return memscope__mark ? memscope__mark(1, name) : MEMSCOPE_UNAVAILABLE;
}

/* A measured region: allocations, frees, peak and leaks between begin and end of the same
 * name are reported per scope (pytest-memray's limit_memory / limit_leaks). Scopes are
 * process-wide time windows: events of all tracked threads inside the window count. */
static inline int memscope_scope_begin(const char *name) {
  return memscope__mark ? memscope__mark(2, name) : MEMSCOPE_UNAVAILABLE;
}
static inline int memscope_scope_end(const char *name) {
  return memscope__mark ? memscope__mark(3, name) : MEMSCOPE_UNAVAILABLE;
}

/* Counts recorded so far (a racy but monotonic sum over threads), and a snapshot mark in the
 * trace at which the analysis reports exact live bytes. 0 or MEMSCOPE_UNAVAILABLE. */
static inline int memscope_snapshot(memscope_snapshot_t *out) {
  return memscope__snapshot ? memscope__snapshot(out) : MEMSCOPE_UNAVAILABLE;
}

/* Write the calling thread's buffered events to its file now. */
static inline int memscope_flush(void) {
  return memscope__flush ? memscope__flush() : MEMSCOPE_UNAVAILABLE;
}

#ifdef __cplusplus
}
#endif
#endif /* MEMSCOPE_H */
