/* ms_internal.h: what the tracker's source files share; nothing here is exported.
 *
 * Owners: preload.c (the allocator hooks and other interposed functions), core.c (config,
 * run directory, per-thread buffers, chunk encoding, fork/exec/exit), stacks.c (libunwind
 * capture and the process-wide stack table), sample.c (sampling decisions and the set of
 * sampled blocks), api.c (memscope.h's implementation). */
#ifndef MS_INTERNAL_H
#define MS_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "ms_format.h"

#define MS_HIDDEN __attribute__((visibility("hidden")))
#define MS_LIKELY(x) __builtin_expect(!!(x), 1)
#define MS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MS_CACHE_LINE 64

#define MS_MAX_DEPTH 64     /* most frames MEMSCOPE_STACK_DEPTH may ask for */
#define MS_REC_CAP 1536     /* fixed records per thread buffer (48 KiB) */
#define MS_OUT_CAP 16384    /* encoded chunk buffer per thread (header + payload) */

/* ---- per-thread state in TLS (initial-exec: one %fs-relative load, no __tls_get_addr) --- */

enum ms_tstate {
  MS_T_UNINIT = 0,    /* no hook has run on this thread yet, or the tracker was not ready */
  MS_T_TRACKED = 1,   /* events are recorded */
  MS_T_UNTRACKED = 2, /* policy or memscope_thread_track(0): pass through */
  MS_T_BUSY = 3,      /* inside a hook or the tracker: nested calls pass through */
  MS_T_DEAD = 4,      /* after the thread's final flush at thread exit */
};

struct ms_thread_s;

/* A file of the trace. The program may close any descriptor (daemons close them all) and
 * get the number back for a file of its own: every write first checks that fd is still the
 * file we opened (device and inode), so the tracker never writes into the program's files;
 * when it is not, the file is opened again by name and must be the same inode. */
typedef struct ms_file_s {
  int fd;          /* -1 when not open */
  uint64_t dev, ino;
  uint64_t bytes;  /* written so far, for the RLIMIT_FSIZE check */
  char name[64];   /* in the run directory; "" for the directory itself */
} ms_file_t;

typedef struct ms_tls_s {
  uint8_t state;          /* enum ms_tstate; the one byte every hook reads first */
  uint8_t override;       /* 0 = policy decides, 1 = forced on, 2 = forced off (API) */
  uint8_t dtor_rounds;    /* pthread key destructor passes seen */
  struct ms_thread_s *t;  /* this thread's buffer, when it has one */
  int64_t sample_left;    /* bytes:N mode: bytes until the next sampled byte */
  uint64_t prng;          /* bytes:N mode: xorshift state for the exponential draws */
  uint32_t class_count[2]; /* size-classes mode: counters of small and medium calls */
  struct {
    uintptr_t site;
    uint32_t count;
  } sites[64];            /* size-classes mode: call sites seen, for the frequency boost */
} ms_tls_t;

extern __thread ms_tls_t ms__tls __attribute__((tls_model("initial-exec"))) MS_HIDDEN;

/* ---- the per-thread buffer ---------------------------------------------------------------
 * Records are fixed-size in memory (the hook writes one with a few stores) and encoded
 * compactly (docs/trace-format.md) when a chunk is written. */
typedef struct ms_rec_s {
  uint8_t kind;       /* enum ms_rec_kind, or MS_REC_CONT for a continuation slot */
  uint8_t aux;        /* ALLOC: log2(alignment), 0 = none; MARK: subkind; FREE/REALLOC: flags */
  uint16_t weight;    /* sampled modes: calls this event stands for; 0 = none written */
  uint32_t stack;     /* stack id; STACK: the id being defined; VAR: packed string lengths */
  uint64_t ts;        /* ticks */
  uint64_t addr;      /* block address (REALLOC: the new block) */
  uint64_t size;      /* ALLOC/REALLOC: bytes; STACK: frames; MARK: name length; VAR: line */
} ms_rec_t;

#define MS_REC_CONT 0 /* payload slot of a multi-slot record (REALLOC, STACK, MARK, VAR) */
#define MS_REALLOC_OLD_RELEASED MS_FLAG_REALLOC_RELEASE

_Static_assert(sizeof(ms_rec_t) == 32, "record is half a cache line");

typedef struct ms_thread_s {
  struct ms_thread_s *next;   /* registry list, push-only */
  _Atomic int owned;          /* 1 while a live thread owns this buffer */
  _Atomic int lock;           /* held while a chunk is encoded and written */
  uint32_t flushed;           /* records [0, flushed) are written; under lock */
  ms_file_t file;             /* thread file, fd -1 until the first chunk; under lock */
  pid_t tid;
  uint32_t seq;
  uint64_t last_ts;           /* latest timestamp encoded, to keep a file's time monotonic */
  /* Counters written by the owner only (plain load+store), read racily by snapshots. */
  _Atomic uint64_t n_alloc, n_free, n_bytes;
  _Atomic uint32_t pos __attribute__((aligned(MS_CACHE_LINE))); /* records committed */
  ms_rec_t recs[MS_REC_CAP] __attribute__((aligned(MS_CACHE_LINE)));
  uint8_t out[MS_OUT_CAP];
} ms_thread_t;

/* ---- process-wide state --------------------------------------------------------------- */

enum ms_sample_mode { MS_SAMPLE_ALL = 0, MS_SAMPLE_CLASSES = 1, MS_SAMPLE_BYTES = 2 };
enum ms_thread_policy {
  MS_THREADS_ALL = 0, MS_THREADS_NONE, MS_THREADS_EVEN, MS_THREADS_ODD, MS_THREADS_GLOB
};

typedef struct ms_global_s {
  /* Read on every tracked event: kept together, written only at init/teardown. */
  _Atomic int recording;      /* 1 while events may be recorded */
  int use_tsc;                /* timestamps: rdtsc (1) or CLOCK_MONOTONIC ns (0) */
  int depth;                  /* frames per stack, 0 = none */
  int sample;                 /* enum ms_sample_mode */
  uint64_t sample_bytes;      /* bytes:N */
  int slowdown;               /* test knob: repeat the record work this many extra times */
  /* Cold. */
  int threads;                /* enum ms_thread_policy */
  char glob[MS_NAME_MAX + 1];
  int verbose;
  int active;                 /* MEMSCOPE_OUT was usable at start */
  _Atomic int init_done;      /* the constructor has run (whatever its outcome) */
  ms_file_t dir;              /* the run directory (O_DIRECTORY) */
  ms_file_t maps, meta;
  char run_dir[4096];
  char run_name[64];
  uint64_t run_id;
  pid_t pid;
  _Atomic uint32_t next_seq;
  ms_thread_t *_Atomic threads_list;
  _Atomic uint64_t events_lost, late_events, write_errors, stack_table_full;
  _Atomic uint64_t sample_set_full;
  _Atomic int warned;         /* the one "memscope: ..." runtime line was printed */
  _Atomic int finished;
} ms_global_t;

extern ms_global_t ms__g MS_HIDDEN;

/* ---- core.c ---------------------------------------------------------------------------- */
MS_HIDDEN void ms__init(void);
MS_HIDDEN void ms__thread_setup(ms_tls_t *tl);
MS_HIDDEN int ms__thread_policy_tracks(const char *name, pid_t tid);
MS_HIDDEN ms_thread_t *ms__thread_buffer(ms_tls_t *tl);
MS_HIDDEN void ms__flush_full(ms_thread_t *t);
MS_HIDDEN void ms__flush_thread(ms_thread_t *t);
MS_HIDDEN void ms__flush_all(const char *reason);
MS_HIDDEN void ms__snapshot_maps(void);
MS_HIDDEN void ms__warn_once(const char *what, int err);
MS_HIDDEN void ms__msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
MS_HIDDEN uint64_t ms__mono_ns(void);

static inline uint64_t ms__now(void) {
  if (MS_LIKELY(ms__g.use_tsc))
    return __builtin_ia32_rdtsc();
  return ms__mono_ns();
}

/* Reserves n consecutive slots in t's buffer, flushing first if they do not fit; returns the
 * first. The caller fills them, then publishes with ms__commit. Owner thread only. */
static inline ms_rec_t *ms__reserve(ms_thread_t *t, uint32_t n) {
  uint32_t pos = atomic_load_explicit(&t->pos, memory_order_relaxed);
  if (MS_UNLIKELY(pos + n > MS_REC_CAP)) {
    ms__flush_full(t);
    pos = 0;
  }
  return &t->recs[pos];
}

/* Publishes n slots reserved by ms__reserve. Release: a foreign flush (exit, exec) that reads
 * pos with acquire sees the records' contents. */
static inline void ms__commit(ms_thread_t *t, uint32_t n) {
  uint32_t pos = atomic_load_explicit(&t->pos, memory_order_relaxed);
  atomic_store_explicit(&t->pos, pos + n, memory_order_release);
}

/* ---- preload.c ---------------------------------------------------------------------------- */
MS_HIDDEN int ms__preload_ready(void);

/* ---- stacks.c -------------------------------------------------------------------------- */
MS_HIDDEN void ms__stacks_init(void);
MS_HIDDEN void ms__stacks_reset_after_fork(void);
/* Interns frames[0, n) (this library's leading frames are dropped first) and returns the
 * stack id, writing a STACK record into t when the stack is new; 0 when there is no stack
 * left or the table is full. */
MS_HIDDEN uint32_t ms__stack_intern(ms_thread_t *t, void **frames, int n);

/* Frames of ours on the stack when a capture runs: the tracked hook body that inlines this
 * (the exported hook tail-calls it and leaves no frame). Every frame unwound costs ~10 ns. */
#define MS_OWN_FRAMES 1

/* Captures the caller's stack. Always inlined into the hook body, so that unw_backtrace's
 * first frame is that body and not a helper of ours. */
#define ms__stack_capture(t)                                                                   \
  __extension__({                                                                              \
    void *frames_[MS_MAX_DEPTH + MS_OWN_FRAMES];                                               \
    int n_ = unw_backtrace(frames_, ms__g.depth + MS_OWN_FRAMES);                              \
    ms__stack_intern((t), frames_, n_);                                                        \
  })
MS_HIDDEN uint64_t ms__stacks_count(void);

/* ---- sample.c -------------------------------------------------------------------------- */
MS_HIDDEN void ms__sample_init(void);
MS_HIDDEN void ms__sample_reset_after_fork(void);
/* Decides whether an allocation of n bytes is recorded; returns the weight (calls it stands
 * for, 1 in full mode) or 0 when it is not sampled. Remembers sampled blocks. */
MS_HIDDEN uint32_t ms__sample_alloc(ms_tls_t *tl, size_t n, uintptr_t site);
MS_HIDDEN int ms__sample_remember(void *p);
/* In sampled modes: 1 if p was a sampled block (and forgets it), else 0. */
MS_HIDDEN int ms__sample_forget(void *p);

#endif /* MS_INTERNAL_H */
