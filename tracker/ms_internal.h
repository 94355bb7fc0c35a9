/* ms_internal.h: what the tracker's source files share; nothing here is exported.
 *
 * Owners: preload.c (the allocator hooks and other interposed functions), core.c (run
 * directory, per-thread buffers, fork/exec/exit), config.c (the settings), files.c (the
 * tracker's files), flush.c (chunk encoding, the stage, the buffer lock), stacks.c (libunwind
 * capture and the process-wide stack table), sample.c (sampling decisions and the set of
 * sampled blocks), api.c (memscope.h's implementation). */
#ifndef MS_INTERNAL_H
#define MS_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ms_format.h"
#include "ms_prim.h" /* timer, CRC, thread id, stack capture, raw system calls */

#define MS_HIDDEN __attribute__((visibility("hidden")))
#define MS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MS_CACHE_LINE 64

#define MS_MAX_DEPTH 64     /* most frames MEMSCOPE_STACK_DEPTH may ask for */
/* Fixed records per thread buffer (48 KiB). 512 (16 KiB) stays in a 32 KiB L1 data cache
 * between flushes and cuts the D1 misses per call; with chunks staged it no longer makes
 * more writes, only more chunks (+0.2 B/event), and timed it did not beat 1536 (docs/
 * tracker.md "Cache misses and the ring's size"); a build may set it (-DMS_REC_CAP=512). */
#ifndef MS_REC_CAP
#define MS_REC_CAP 1536
#endif
#define MS_OUT_CAP 16384    /* the most one encoded chunk takes (header + payload) */
/* The stage (docs/tracker.md "Staged chunks"): chunks are encoded straight into it, in the
 * ring segment after the records, and reach the thread file several to a write(2) when a
 * whole next chunk might not fit, and at every point that writes a buffer (thread exit,
 * exit, _exit, exec, memscope_flush). In the shared segment, so a salvage appends what is
 * staged. 80 KiB, so that its writes are 64 – 80 KiB: it takes the 16 KiB of the chunk
 * buffer each chunk used to be encoded into and copied from (docs/tracker.md, "Chunks
 * encoded in the stage"). A build may set it (-DMS_STAGE_CAP=16384 stages one chunk at
 * most: a write per chunk). */
#ifndef MS_STAGE_CAP
#define MS_STAGE_CAP 81920
#endif
_Static_assert(MS_STAGE_CAP >= MS_OUT_CAP, "the stage takes a whole chunk");
/* Cost attribution (bench/cost_parts.py; bench/README.md "Where a call's time goes"):
 * MS_ABLATE=k builds a tracker without the last k stages of the plain (no-stack) path, so that
 * interleaved runs of the five builds give each stage's CPU time in place, which a profile
 * cannot (its sample lands one instruction after rdtsc, and the encoder's time follows from
 * the hooks' records). Never a tracker to trace with: an ablated run's meta.txt says
 * ablate=k and events_lost_exact=0, so no analysis takes it for complete, and it says so on
 * stderr at start. 0, the default, is the tracker. */
#ifndef MS_ABLATE
#define MS_ABLATE 0
#endif
#define MS_ABLATE_NO_WRITE 1  /* chunks encoded and staged; the stage is dropped, not written */
#define MS_ABLATE_NO_ENCODE 2 /* records written to the ring, dropped at a full ring's flush */
#define MS_ABLATE_NO_RECORD 3 /* the timestamp read, no record written (plain bodies) */
#define MS_ABLATE_NO_CLOCK 4  /* nor the timestamp: the hook's dispatch, state and counters */
_Static_assert(MS_ABLATE >= 0 && MS_ABLATE <= MS_ABLATE_NO_CLOCK, "MS_ABLATE is 0 to 4");
#define MS_STAGE_CHUNKS 64  /* chunks a stage holds at most (~1 KiB or more each, as a rule) */

/* ---- per-thread state in TLS (initial-exec: one %fs-relative load, no __tls_get_addr) --- */

enum ms_tstate {
  MS_T_UNINIT = 0,    /* no hook has run on this thread yet, or the tracker was not ready */
  MS_T_TRACKED = 1,   /* events are recorded */
  MS_T_UNTRACKED = 2, /* policy or memscope_thread_track(0): pass through */
  /* Inside the constructor, or MS_INTERNAL_BEGIN: every allocator call passes through,
   * uncounted (the tracker's other work runs HOOK: MS_WORK_STATE below). */
  MS_T_BUSY = 3,
  MS_T_DEAD = 4,      /* after the thread's final flush at thread exit */
  /* Inside an allocator hook's body. The tracker makes no allocator call there, so a call
   * arriving in this state is the program's: a signal handler that interrupted the hook (or
   * a handler that left it by longjmp, leaving the state behind). It cannot be recorded (the
   * hook may be halfway through its record) and passes through, counted as unrecorded
   * (events_nested in meta.txt): the run then says it lost events, never that it is
   * complete. */
  MS_T_HOOK = 5,
};

/* MS_WORK_STATE: the tracker's own work outside the allocator hooks (a thread's exit flush,
 * the API's flush and thread switch, a fork child's set-up, the flushes at exit, exec and
 * _exit, dlclose's snapshot, a thread name's record) runs HOOK too, not BUSY: a signal
 * handler's allocator call that arrives there is counted (events_nested), never passed
 * through unseen. The tracker's own calls there that may allocate (realpath, fnmatch, dlsym,
 * pthread_setspecific) each run in a signal hold, where no handler runs, so slow_enter knows
 * them for the tracker's. Holds never cover a write: a signal waits for a walk or a libc
 * call, never for the disk (docs/tracker.md, "Calls inside a hook").
 *
 * Every such window, and a thread's set-up in its first hook, also runs with cancellation
 * disabled and the program's errno kept (ms__work_enter/_leave). The tracker's open, openat,
 * read, write, fallocate and close there are cancellation points, and a pending deferred
 * cancellation acted on in one would end the thread inside malloc, dlclose or exit, calls
 * that are no cancellation points in the program (tests/tracker/cancel_walk.c: every thread
 * cancelled at its first malloc, in ring_attach's fallocate). Restoring the state acts on
 * nothing under deferred cancellation: a pending request waits for the program's next
 * cancellation point, as without the tracker. (Asynchronous cancellation may end a thread
 * anywhere, so a program that allows it around malloc, which is not async-cancel-safe, has
 * no such promise.) And a failed call of the tracker's (a closed descriptor, a full disk, a
 * low RLIMIT_NOFILE) must not show in errno: POSIX has free() keep errno, and C has it 0 at
 * main (tests/tracker/errno_keep.c). */
#include <errno.h>
#include <pthread.h>
typedef struct ms_work_s {
  int cancel, err;
} ms_work_t;
static inline ms_work_t ms__work_enter(void) {
  ms_work_t w = {PTHREAD_CANCEL_ENABLE, errno};
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &w.cancel);
  return w;
}
static inline void ms__work_leave(ms_work_t w) {
  pthread_setcancelstate(w.cancel, NULL);
  errno = w.err;
}

struct ms_thread_s;

/* The tracker's own read and write calls made on one kernel thread, so that the analysis can
 * subtract them from the thread's /proc I/O counters (resources.c). Written only by the
 * thread itself. */
typedef struct ms_tio_s {
  uint64_t read_ops, write_ops, read_bytes, write_bytes;
} ms_tio_t;

/* A file of the trace. The program may close any descriptor (daemons close them all) and
 * get the number back for a file of its own: every write first checks that fd is still the
 * file we opened (device and inode), so the tracker never writes into the program's files;
 * when it is not, the file is opened again by name and must be the same inode. */
typedef struct ms_file_s {
  int fd;          /* -1 when not open */
  uint64_t dev, ino;
  uint64_t bytes;  /* written so far, for the RLIMIT_FSIZE check */
  char name[64];   /* in the run directory; "" for the directory itself */
  int rw;          /* opened (and reopened) read-write, for a shared mapping */
  /* Blocks reserved past the end (a thread file: files.c, file_prealloc): the offset they
   * reach, 0 for none; no_prealloc once a reservation was refused (never tried again). */
  uint64_t prealloc;
  int no_prealloc;
  int may_prealloc; /* a thread file: file_write reserves ahead */
} ms_file_t;

typedef struct ms_tls_s {
  uint8_t state;          /* enum ms_tstate; the one byte every hook reads first */
  uint8_t override;       /* 0 = policy decides, 1 = forced on, 2 = forced off (API) */
  uint8_t dtor_rounds;    /* pthread key destructor passes seen */
  struct ms_thread_s *t;  /* this thread's buffer, when it has one */
  int64_t sample_left;    /* bytes:N mode: bytes until the next sampled byte */
  uint64_t prng;          /* sampled modes: xorshift state for their draws */
  struct {
    uintptr_t site;
    uint32_t count;
  } sites[64];            /* size-classes mode: call sites seen, for the frequency boost */
  ms_tio_t tio;           /* the tracker's own I/O on this kernel thread (resources.c) */
} ms_tls_t;

extern __thread ms_tls_t ms__tls __attribute__((tls_model("initial-exec"))) MS_HIDDEN;

/* ---- the per-thread buffer -------------------------------------------------------------
 * Records are fixed-size in memory (the hook writes one with a few stores; ms_rec_t in
 * ms_format.h) and encoded compactly (docs/trace-format.md) when a chunk is written.
 *
 * The buffer is one mapping in two parts. The head (list link, lock, file, encoding buffer)
 * is private memory. The ring (header with the committed position and the counters, then the
 * records, then the stage of encoded chunks) is page-aligned at the end and is a MAP_SHARED mapping of the buffer's segment of
 * the run directory's memscope_rings.raw: the page cache holds every committed record, so a process that ends
 * without flushing (_exit, a signal, SIGKILL) loses nothing that a salvage pass cannot
 * recover. The hot path sees no difference: t->ring.pos and t->recs are fixed offsets from t,
 * as before. */
#define MS_REALLOC_OLD_RELEASED MS_FLAG_REALLOC_RELEASE
#define MS_PAGE 4096

typedef struct ms_thread_s {
  struct ms_thread_s *next;   /* registry list, push-only */
  _Atomic int owned;          /* 1 while a live thread owns this buffer */
  _Atomic uintptr_t lock;     /* held while a chunk is encoded and written: the holder's
                                 &ms__tls, 0 when free (flush.c ms__lock_thread) */
  _Atomic int loss_counted;   /* its ring counted lost once, its lock never free (flush) */
  int lock_errno;             /* the holder's errno when it took the lock, given back at the
                                 unlock: a failed write never shows in the program's errno */
  ms_file_t file;             /* thread file, fd -1 until the first chunk; under lock */
  pid_t tid;
  uint32_t seq;
  uint32_t index;             /* its segment of memscope_rings.raw (ring=N in meta.txt) */
  uint64_t ring_run;          /* run_id of the run whose ring segment is mapped; 0 = none */
  /* The owner's ms_tls_t.tio, copied by the owner after each of its I/O calls: another
   * thread measuring this one at process exit reads it here (the owner's TLS may be gone). */
  ms_tio_t owner_tio;
  uint64_t res_last_ns;       /* CLOCK_MONOTONIC of the owner's last resource record */
  void *stack_cache;          /* stacks.c's cache of this buffer's owner, mapped at need */
  uint8_t out[MS_OUT_CAP];    /* count_events' scratch only (after an error stop): chunks
                                 are encoded in the stage, and these pages stay untouched */
  /* The stage's chunks (ends and allocator events), so that a write refused by
   * RLIMIT_FSIZE still writes the whole chunks that fit, as a write a chunk did, and counts
   * exactly what it could not write. The stage is written when this is full. */
  uint32_t st_n;
  uint32_t st_end[MS_STAGE_CHUNKS], st_ev[MS_STAGE_CHUNKS];
  /* From here to the end: the ring segment's mapping (or private memory when it could
   * not be made). ring.pos, ring.flushed and the counters are the former fields. */
  ms_ring_hdr_t ring __attribute__((aligned(MS_PAGE)));
  ms_rec_t recs[MS_REC_CAP];
  uint8_t stage[MS_STAGE_CAP]; /* encoded chunks not yet in the thread file (ring.staged) */
} ms_thread_t;

#define MS_RING_BYTES                                                                          \
  ((sizeof(ms_ring_hdr_t) + MS_REC_CAP * sizeof(ms_rec_t) + MS_STAGE_CAP + MS_PAGE - 1) /       \
   MS_PAGE * MS_PAGE)
_Static_assert(sizeof(ms_thread_t) - __builtin_offsetof(ms_thread_t, ring) == MS_RING_BYTES,
               "the ring is the buffer's page-aligned tail");

/* ---- process-wide state --------------------------------------------------------------- */

enum ms_sample_mode { MS_SAMPLE_ALL = 0, MS_SAMPLE_CLASSES = 1, MS_SAMPLE_BYTES = 2 };
enum ms_thread_policy {
  MS_THREADS_ALL = 0, MS_THREADS_NONE, MS_THREADS_EVEN, MS_THREADS_ODD, MS_THREADS_GLOB
};

typedef struct ms_global_s {
  /* Read on every tracked event: kept together, written only at init/teardown. */
  _Atomic int recording;      /* 1 while events may be recorded */
  int use_tsc;                /* timestamps: ms_prim_ticks (1) or CLOCK_MONOTONIC ns (0) */
  int depth;                  /* frames per stack, 0 = none */
  int sample;                 /* enum ms_sample_mode */
  uint64_t sample_bytes;      /* bytes:N */
  int slowdown;               /* test knob: repeat the record work this many extra times */
  int plain;                  /* full mode, no stacks, TSC clock, no slowdown: the hooks take
                                 their plain bodies (preload.c, docs/tracker.md "Hot path
                                 cost") */
  /* Cold. */
  int threads;                /* enum ms_thread_policy */
  char glob[MS_NAME_MAX + 1];
  int verbose;
  int active;                 /* MEMSCOPE_OUT was usable at start */
  _Atomic int init_done;      /* the constructor has run (whatever its outcome) */
  ms_file_t dir;              /* the run directory (O_DIRECTORY) */
  ms_file_t maps, meta;
  ms_file_t rings;            /* memscope_rings.raw: every buffer's ring, one segment each */
  char run_dir[4096];
  char run_name[64];
  uint64_t run_id;
  pid_t pid;
  _Atomic uint32_t next_seq;
  ms_thread_t *_Atomic threads_list;
  _Atomic uint64_t events_lost, late_events, write_errors, stack_table_full;
  /* Counts of threads that ended (their buffers' counters start again for the next owner). */
  _Atomic uint64_t released_alloc, released_free, released_bytes;
  _Atomic uint64_t unrecorded;      /* calls after tracking stopped on an error, and nested */
  _Atomic uint64_t nested;          /* calls made inside a hook (MS_T_HOOK), in unrecorded too */
  _Atomic uint32_t next_ring;       /* ring segments given out in this run */
  _Atomic uint32_t rings_private;   /* buffers left without a ring segment (disk full, ...) */
  _Atomic int stopped;              /* tracking stopped on an error (not at exit) */
  _Atomic int loss_inexact;         /* a buffer's lock timed out at a flush: events_lost is
                                     * not exact (meta.txt events_lost_exact=0) */
  int fuzz;                         /* MEMSCOPE_FUZZ=1: per-input accounting, no trace */
  _Atomic uint64_t sample_set_full;
  _Atomic int warned;         /* the one "memscope: ..." runtime line was printed */
  _Atomic int finished;
  _Atomic uint32_t threads_untracked; /* threads set up untracked (policy, API): meta.txt */
  _Atomic uint32_t child_lines_lost;  /* vfork/spawn children that could not be named */
} ms_global_t;

extern ms_global_t ms__g MS_HIDDEN;

/* ---- names without printf ----------------------------------------------------------------
 * The tracker's file and line names are built by hand: snprintf's vfprintf takes ~1.8 KiB of
 * stack, and these run under the encoder's frame (a thread file is created, or opened again
 * after the program closed it, at a chunk's emit), in a program thread whose stack may be
 * glibc's minimum of 16 KiB (tests/tracker/small_stack.c). */

/* v in decimal at p (at most 20 characters, no terminator); returns the end. */
static inline char *ms__put_dec(char *p, uint64_t v) {
  char d[20];
  int n = 0;
  do
    d[n++] = (char)('0' + v % 10);
  while ((v /= 10) != 0);
  while (n)
    *p++ = d[--n];
  return p;
}

/* src into dst[cap] (cap > 0), cut to fit and terminated: snprintf's "%s". */
static inline void ms__copy_name(char *dst, size_t cap, const char *src) {
  size_t n = 0;
  while (n + 1 < cap && src[n])
    n++;
  __builtin_memcpy(dst, src, n);
  dst[n] = 0;
}

/* ---- core.c ---------------------------------------------------------------------------- */
MS_HIDDEN void ms__init(void);
MS_HIDDEN void ms__thread_setup(ms_tls_t *tl);
MS_HIDDEN int ms__thread_policy_tracks(const char *name, pid_t tid);
MS_HIDDEN ms_thread_t *ms__thread_buffer(ms_tls_t *tl);
MS_HIDDEN uint32_t ms__flush_full(ms_thread_t *t);
MS_HIDDEN void ms__flush_thread(ms_thread_t *t);
MS_HIDDEN void ms__flush_all(const char *reason);
MS_HIDDEN void ms__snapshot_maps(void);
/* fd moved to a number at or above the tracker's floor (512; half of RLIMIT_NOFILE when that
 * is lower) with close-on-exec, out of the range programs open and close by number; fd
 * itself when that fails. Keeps errno. */
MS_HIDDEN int ms__fd_raise(int fd);
/* files.c: the tracker's own files. Each returns 0 or -errno where it returns an int. */
MS_HIDDEN int ms__file_adopt(ms_file_t *f, int fd); /* records fd (moved high) as f's */
MS_HIDDEN int ms__file_check(ms_file_t *f);  /* still ours, else reopened by path */
MS_HIDDEN void ms__file_trim(ms_file_t *f);  /* gives back a reserve past the file's end */
MS_HIDDEN void ms__file_close(ms_file_t *f); /* closes it when it is still ours */
/* Creates `name` in the run directory (never through a link, never over a file),
 * read-write with rw (for a shared mapping), else write-only. */
MS_HIDDEN int ms__file_create_mode(ms_file_t *f, const char *name, int rw);
MS_HIDDEN int ms__file_create(ms_file_t *f, const char *name);
MS_HIDDEN int ms__file_write(ms_file_t *f, const void *buf, size_t len);
/* flush.c: the buffer's lock, taken with the thread's cancellation disabled (the old state
 * is returned, or -1 for a lock abandoned by a longjmp); bounded: give up after a while. */
MS_HIDDEN void ms__flush_init(void);
MS_HIDDEN int ms__lock_thread(ms_thread_t *t, int bounded);
MS_HIDDEN void ms__unlock_thread(ms_thread_t *t, int old_cancel);
MS_HIDDEN void ms__warn_once(const char *what, int err);
/* An allocator event while not recording: fuzz mode's accounting (fuzz.c), or after an
 * error stop a call counted as unrecorded. kind: MS_REC_ALLOC (p, n), MS_REC_FREE (p),
 * MS_REC_REALLOC (old released, p of n allocated). */
MS_HIDDEN void ms__not_recording(ms_tls_t *tl, int kind, void *p, size_t n, void *old)
    __attribute__((cold, noinline));
/* Around the tracker's own calls, from inside a hook body, into code that may call the
 * allocator and cannot run in a signal hold: the fuzz driver's limit handler (it may write
 * and abort). The thread is BUSY for their duration, so their calls pass through uncounted,
 * and gets its state back after. The tracker's other such calls run in a hold
 * (ms_prim_sig_hold), where no signal handler runs and the calls are known for the
 * tracker's. Anything else a hook body calls that allocates shows as events_nested. */
#define MS_INTERNAL_BEGIN(saved)                                                                 \
  uint8_t saved = ms__tls.state;                                                                 \
  ms__tls.state = MS_T_BUSY
#define MS_INTERNAL_END(saved) (ms__tls.state = (saved))
/* 1 when t's lock is held by the calling thread: one of its flushes left by a longjmp. */
MS_HIDDEN int ms__buffer_abandoned(ms_thread_t *t);
/* A call made inside a hook body (MS_T_HOOK: a signal handler's): counted as unrecorded. */
MS_HIDDEN void ms__nested_call(ms_tls_t *tl) __attribute__((cold, noinline));
MS_HIDDEN void ms__msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
MS_HIDDEN void ms__exec_failed(int err); /* an exec returned: its end part is void */
/* ms__meta_child_line: room kept under RLIMIT_FSIZE for the end part, and the empty file
 * that says a child could not be named (docs/trace-format.md). */
#define MS_META_END_ROOM 4096
#define MS_CHILDREN_LOST_FILE "memscope_children_lost"
/* This library's name as loaded, for the exec hooks' environment check (preload.c). */
MS_HIDDEN void ms__self_name_init(void);
/* Appends `key=pid` to meta.txt at once, also from a vfork child (core.c). */
MS_HIDDEN void ms__meta_child_line(const char *key, pid_t pid);
/* strerror without its allocation: glibc's strerror builds a message in a buffer it
 * mallocs under any locale but C (and for unknown codes in C too), which inside a hook would
 * count as a signal handler's call. The English description, or "unknown error". */
static inline const char *ms__errstr(int e) {
  const char *s = strerrordesc_np(e);
  return s ? s : "unknown error";
}
MS_HIDDEN uint64_t ms__mono_ns(void);

static inline uint64_t ms__now(void) {
  if (MS_LIKELY(ms__g.use_tsc))
    return ms_prim_ticks();
  return ms__mono_ns();
}

/* Reserves n consecutive slots in t's buffer, flushing first if they do not fit; returns the
 * first. The caller fills them, then publishes with ms__commit. Owner thread only. */
static inline ms_rec_t *ms__reserve(ms_thread_t *t, uint32_t n) {
  uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
  if (MS_UNLIKELY(pos + n > MS_REC_CAP))
    pos = ms__flush_full(t); /* the buffer now holds a resource record or nothing */
  return &t->recs[pos];
}

/* ring.pos and ring.pending as one 8-byte word (pos in the low half: x86-64 is little-endian,
 * the only platform ms_prim.h admits), so that a commit publishes the records and clears
 * `pending` with one store. may_alias: the word is read and written as two uint32_t too. */
typedef uint64_t ms_u64_alias_t __attribute__((may_alias));
_Static_assert(__builtin_offsetof(ms_ring_hdr_t, pending) == __builtin_offsetof(ms_ring_hdr_t, pos) + 4 &&
                   __builtin_offsetof(ms_ring_hdr_t, pos) % 8 == 0,
               "pos and pending share one aligned 8-byte word");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pos is the word's low half");

/* Publishes the records before slot end (end = the reserved first slot + n) and clears
 * `pending`: the event whose allocation returned is now in the ring. One release store: a
 * foreign flush (exit, exec) that reads pos with acquire sees the records' contents, and a
 * salvage never sees the record committed with `pending` still set (it would count the event
 * both recovered and lost) nor `pending` cleared before the record is in. Owner thread only. */
static inline void ms__commit_to(ms_thread_t *t, uint32_t end) {
  __atomic_store_n((ms_u64_alias_t *)(void *)&t->ring.pos, (uint64_t)end, __ATOMIC_RELEASE);
}

/* Publishes n slots reserved by ms__reserve (ms__commit_to with the position reloaded). */
static inline void ms__commit(ms_thread_t *t, uint32_t n) {
  ms__commit_to(t, __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED) + n);
}

/* ---- resources.c ------------------------------------------------------------------------ */
MS_HIDDEN void ms__res_init(void);
/* Appends an MS_MARK_RESOURCES record of the calling thread (reason: enum ms_res_reason) to
 * t, the caller's own buffer, at its current position; the caller makes sure it fits (a few
 * slots: ms__res_slots). Owner only, with the thread BUSY. Nothing when recording stopped. */
MS_HIDDEN void ms__res_record(ms_thread_t *t, int reason);
/* The same, stamped ts (ticks) instead of now. A full buffer's flush runs inside a hook whose
 * event was stamped before it (a FREE before the real free, an ALLOC before its reserve): a
 * record stamped now would come first in the ring with a later time, the encoder would clamp
 * the event's time up to it, and the merged order could put a free after another thread's
 * allocation of the same block. So that flush stamps its record with the ring's last
 * encoded time (ms__flush_full). */
MS_HIDDEN void ms__res_record_at(ms_thread_t *t, int reason, uint64_t ts);
/* Appends one MS_RES_AT_END_OTHER record to t (the caller's buffer) per other buffer owned
 * by a live thread, its figures read from /proc/self/task/<tid>. At process end only. */
MS_HIDDEN void ms__res_record_others(ms_thread_t *t);
/* A full buffer's flush writes a resource record only when the thread's last one is at least
 * this old: a record costs ~12 us (docs/tracker.md) and a flush comes every MS_REC_CAP
 * events, far more often than every 10 ms in an allocation-heavy thread. Attach, exit, process end and memscope_flush() always write one. */
#define MS_RES_FLUSH_GAP_NS 10000000ull
/* Most slots a resource record takes. */
#define MS_RES_SLOTS (1 + (MS_RES_MAX_PAYLOAD + 31) / 32)
/* The tracker's own I/O calls, counted for the calling thread after each call that reached
 * the kernel: n is the call's result (bytes, or -1 with errno). */
MS_HIDDEN void ms__tio_read(long n);
MS_HIDDEN void ms__tio_write(long n);
/* 0: no resource records (MEMSCOPE_TEST_RESOURCES=0, to write traces as older trackers did) */
extern int ms__res_enabled MS_HIDDEN;

/* ---- preload.c ---------------------------------------------------------------------------- */
MS_HIDDEN int ms__preload_ready(void);

/* ---- stacks.c -------------------------------------------------------------------------- */
/* walks: whether anything will walk (stacks in the trace, or fuzz mode's leak stacks). */
MS_HIDDEN void ms__stacks_init(int walks);
MS_HIDDEN void ms__stacks_reset_after_fork(void);
/* Interns frames[0, n) (this library's leading frames are dropped first) and returns the
 * stack id, writing a STACK record into t when the stack is new; 0 when there is no stack
 * left or the table is full. */
MS_HIDDEN uint32_t ms__stack_intern(ms_thread_t *t, void **frames, int n);

/* Frames of ours on the stack when a capture runs: the tracked hook body that inlines this
 * (the exported hook tail-calls it and leaves no frame). Every frame unwound costs ~10 ns. */
#define MS_OWN_FRAMES 1

/* The stack cache (stacks.c, docs/tracker.md "Stack cache"). A capture's key is the call
 * site (the hook's return address into the program), the program's stack pointer at the
 * call (the hook's CFA) and its frame pointer then (read by the exported hook before any
 * code of ours can change it: ms_prim_frame_reg). ms__stack_cached returns the id a walk
 * would give when the key and every stack word the walk read last time are unchanged, else
 * 0. On a miss ms__stack_learn_miss runs first (counts it; a learning miss walks and learns
 * there); otherwise ms__stack_missed takes unw_backtrace's frames: interns them, and in the
 * test modes compares a hit's id (hit_id) with the walk's. MS_STACK_NO_KEY (a slow path,
 * where the frame pointer was not read first) bypasses the cache. */
#define MS_STACK_NO_KEY ((uintptr_t)1)
enum ms_stack_check {
  MS_STACK_CHECK_OFF = 0,   /* normal */
  MS_STACK_CHECK_COUNT = 1, /* MEMSCOPE_TEST_STACK_VERIFY=count: hits and misses counted */
  MS_STACK_CHECK_ON = 2,    /* =1: every hit also walks and compares */
  MS_STACK_CHECK_WEAK = 3,  /* =weak: as 1, but hits skip the stack-word check (must fail) */
};
extern int ms__stack_check MS_HIDDEN; /* enum ms_stack_check, set once by core.c */
/* The lookup is stack_cache.h's ms__stack_cache_hit, inlined into the hooks, in every mode.
 * In the test modes ms__stack_cached then takes its result (hit_id, 0 for a miss): counts
 * the hit, or in WEAK mode returns the key-only lookup's id instead. */
MS_HIDDEN uint32_t ms__stack_cached(ms_thread_t *t, uintptr_t site, uintptr_t cfa, uintptr_t fp,
                                    uint32_t hit_id);
MS_HIDDEN uint32_t ms__stack_missed(ms_thread_t *t, void **frames, int n, uint32_t hit_id);
/* A miss's part in the cache, before any walk (counts the key's misses). When this miss is
 * the one that learns its key, takes the capture itself (one stepped walk gives the frames
 * and what the cache learns), sets *id and returns 1; else 0: walk, then ms__stack_missed. */
MS_HIDDEN int ms__stack_learn_miss(ms_thread_t *t, uintptr_t site, uintptr_t cfa, uintptr_t fp,
                                   uint32_t *id);
/* Drops every thread's cached stacks (after fork, at dlclose: code may move). */
MS_HIDDEN void ms__stack_cache_invalidate(void);
/* The buffer's owner thread ends (core.c's thread exit): its cache entries go with it. */
MS_HIDDEN void ms__stack_cache_release(ms_thread_t *t);
/* meta.txt's stack_cache line when a test mode is on: its length, or 0. */
MS_HIDDEN int ms__stack_cache_meta(char *buf, size_t cap);

#include "stack_cache.h"

/* Captures the caller's stack, fp being ms_prim_frame_reg() read by the exported hook (or
 * MS_STACK_NO_KEY). Always inlined into the hook body (a macro, and ms_prim_backtrace is
 * always_inline), so that the walk's first frame is that body and not a helper of ours. */
#define ms__stack_capture(t, fp)                                                               \
  __extension__({                                                                              \
    uintptr_t site_ = (uintptr_t)__builtin_return_address(0);                                  \
    uintptr_t cfa_ = (uintptr_t)__builtin_dwarf_cfa();                                         \
    uint32_t id_ = 0;                                                                          \
    if ((fp) != MS_STACK_NO_KEY) {                                                             \
      id_ = ms__stack_cache_hit((t), site_, cfa_, (fp));                                       \
      if (MS_UNLIKELY(ms__stack_check))                                                        \
        id_ = ms__stack_cached((t), site_, cfa_, (fp), id_);                                   \
    }                                                                                          \
    /* walk: a miss that does not learn (a learning one took the capture), or a verified hit */\
    int walk_ = id_ ? MS_UNLIKELY(ms__stack_check >= MS_STACK_CHECK_ON)                        \
                    : (fp) == MS_STACK_NO_KEY ||                                               \
                          !ms__stack_learn_miss((t), site_, cfa_, (fp), &id_);                 \
    if (walk_) {                                                                               \
      void *frames_[MS_MAX_DEPTH + MS_OWN_FRAMES];                                             \
      int n_ = ms_prim_backtrace(frames_, ms__g.depth + MS_OWN_FRAMES);                        \
      id_ = ms__stack_missed((t), frames_, n_, id_);                                           \
    }                                                                                          \
    id_;                                                                                       \
  })
MS_HIDDEN uint64_t ms__stacks_count(void);

/* ---- fuzz.c ---------------------------------------------------------------------------- */
MS_HIDDEN int ms__fuzz_init(void);
MS_HIDDEN void ms__fuzz_after_fork(void);
MS_HIDDEN void ms__fuzz_event(int kind, void *p, size_t n, void *old);
/* 1 when addr is in this library's code (frames of ours in a captured stack). */
MS_HIDDEN int ms__own_code(uintptr_t addr);

/* ---- sample.c -------------------------------------------------------------------------- */
MS_HIDDEN void ms__sample_init(void);
MS_HIDDEN void ms__sample_reset_after_fork(void);
/* Decides whether an allocation of n bytes is recorded; returns the weight (calls it stands
 * for, 1 in full mode) or 0 when it is not sampled. Remembers sampled blocks. */
MS_HIDDEN uint32_t ms__sample_alloc(ms_tls_t *tl, size_t n, uintptr_t site);
MS_HIDDEN int ms__sample_remember(void *p);
/* In sampled modes: 1 if p was a sampled block (and forgets it), else 0. */
MS_HIDDEN int ms__sample_forget(void *p);


/* ---- config.c ---------------------------------------------------------------------------- */
/* Reads the MEMSCOPE_* variables into ms__g (and the knobs below). Returns 0, or -1 after
 * printing the one line that says which variable is wrong (tracking is then disabled). */
MS_HIDDEN int ms__parse_config(void);
/* The trace format version written: MS_FORMAT_VERSION, or 1 under MEMSCOPE_TEST_FORMAT=1
 * (the readers' version-1 compatibility tests). */
MS_HIDDEN extern int ms__format_version;
/* A user's value as it may be shown in a one-line message: at most 32 bytes, controls as '?'
 * (a static buffer: one message at a time). */
MS_HIDDEN const char *ms__shown(const char *s);

#endif /* MS_INTERNAL_H */
