/* ms_trace.h: the trace reader (run discovery, meta.txt, maps.txt, thread files, the
 * time-ordered merge of a run's events) and the basic statistics pass over it.
 *
 * Format: docs/trace-format.md. The reader trusts nothing in a trace: a damaged or hostile
 * file gives an error or a partial result (damage recorded per file), never a crash, a hang
 * or memory that grows with anything but the number of threads, live blocks and stacks.
 *
 * Errors: functions that can fail return 0 or a negative code (an MS_TRACE_E* value or a
 * negated errno); ms_trace_strerror() names it, and where a detail helps (which file, which
 * key) the function also writes one line into a caller buffer `err` of `errlen` bytes.
 * Nothing here is thread-safe on a shared object; distinct objects may be used in parallel. */
#ifndef MS_TRACE_H
#define MS_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* Error codes beyond negated errno values. */
enum {
  MS_TRACE_E_NOTTRACE = -1001, /* not a run directory nor a parent of run directories */
  MS_TRACE_E_VERSION = -1002,  /* a format version this reader does not know */
  MS_TRACE_E_CORRUPT = -1003,  /* meta.txt or maps.txt unusable */
  MS_TRACE_E_NOMEM = -1004,
};

const char *ms_trace_strerror(int code);

/* ---- run discovery ------------------------------------------------------------------------ */

/* Lists the run directories under `path`: `path` itself when it holds a meta.txt, else its
 * subdirectories named memscope.<pid>.<n>, sorted by pid then n. On success *dirs is a
 * malloc'd array of *ndirs malloc'd paths (free with ms_trace_free_dirs) and ndirs >= 1. */
int ms_trace_find_runs(const char *path, char ***dirs, size_t *ndirs, char *err, size_t errlen);
void ms_trace_free_dirs(char **dirs, size_t ndirs);

/* ---- meta.txt ------------------------------------------------------------------------------ */

typedef struct ms_meta_s {
  size_t nkeys;       /* every key=value line, in file order, unknown keys included */
  char **keys;
  char **values;
  uint32_t pid;       /* 0 when absent */
  uint64_t run_id;    /* 0 when absent */
  int has_end;        /* the end part (end_reason) is present: the run was not cut short */
  int clock_tsc;      /* clock=tsc: timestamps are ticks, else monotonic ns */
  int have_start_calib, have_end_calib;
  uint64_t start_mono_ns, start_ticks, end_mono_ns, end_ticks;
} ms_meta_t;

/* Value of `key`, or NULL. */
const char *ms_meta_get(const ms_meta_t *meta, const char *key);

/* ---- maps.txt ------------------------------------------------------------------------------ */

typedef struct ms_maps_s ms_maps_t; /* all snapshots of one maps.txt */

/* Parses maps.txt. Lines that do not parse are skipped; a missing file gives an empty map. */
int ms_maps_load(const char *path, ms_maps_t **out);
void ms_maps_free(ms_maps_t *maps);
size_t ms_maps_nsnapshots(const ms_maps_t *maps);

/* Finds the mapping holding `addr` in the newest snapshot that has one. Returns 1 and sets
 * *module (the mapping's path, "" for anonymous; owned by maps) and *offset (file offset of
 * addr), or 0 when no snapshot maps addr. Either output may be NULL. */
int ms_maps_lookup(const ms_maps_t *maps, uint64_t addr, const char **module, uint64_t *offset);

/* 1 when `module` names `path`: equal paths when module holds a '/', else equal basenames. */
int ms_module_matches(const char *path, const char *module);

/* ---- a run --------------------------------------------------------------------------------- */

typedef struct ms_run_s ms_run_t;

#define MS_TRACE_MAX_FRAMES 256 /* frames kept per stack; deeper stacks are cut, not refused */

typedef struct ms_stack_s {
  uint64_t id;
  uint32_t nframes;      /* frames kept (<= MS_TRACE_MAX_FRAMES) */
  uint32_t truncated;    /* 1 when the record had more frames than were kept */
  const uint64_t *frames; /* return addresses, innermost (caller of the allocator) first */
} ms_stack_t;

typedef struct ms_damage_s {
  const char *file;      /* thread file path (owned by the run) */
  uint64_t offset;       /* byte offset where the bad part starts; all before it was read */
  char reason[96];
} ms_damage_t;

typedef struct ms_thread_info_s {
  const char *path;        /* thread file (owned by the run) */
  uint32_t pid, tid, thread_seq;
  uint64_t good_bytes;     /* header + whole, valid chunks */
  uint64_t chunks, records;
  uint64_t ts_backwards;   /* records whose timestamp is below the file's previous one */
  int damaged;
  int usable;              /* 0 when the header itself was bad: the file contributes nothing */
} ms_thread_info_t;

typedef enum ms_event_kind_e {
  MS_EV_ALLOC = 1,
  MS_EV_FREE = 2,
  MS_EV_REALLOC = 3,
  MS_EV_MARK = 5,
  MS_EV_VAR = 6,
} ms_event_kind_t;

/* One merged event. String pointers are NUL-terminated and valid until the next
 * ms_run_next()/ms_run_rewind()/ms_run_close() on the same run. */
typedef struct ms_event_s {
  ms_event_kind_t kind;
  uint32_t name_len;     /* MARK: bytes of name before its NUL (a resource record's payload
                          * is binary and may hold NULs: MS_MARK_RESOURCES) */
  uint64_t ts;           /* raw timestamp (ticks or ns, as meta `clock` says) */
  uint64_t ts_ns;        /* CLOCK_MONOTONIC ns */
  uint32_t thread;       /* index of the thread file (ms_run_thread) */
  uint32_t tid, thread_seq;
  uint64_t addr;         /* ALLOC/FREE/VAR: the block; REALLOC: the new block */
  uint64_t old_addr;     /* REALLOC: the old block, 0 for realloc(NULL, n) */
  uint64_t size, align, weight; /* align 0 when absent, weight 1 when absent */
  uint64_t stack_id;     /* 0 = no stack */
  uint32_t mark_kind;    /* MARK: MS_MARK_* subkind */
  uint32_t flags;        /* MS_FLAG_REALLOC_RELEASE on a FREE: the release of a moving
                          * realloc's old block, not a free call; on a REALLOC: old was
                          * released by that FREE already */
  const char *name;      /* MARK: name; VAR: variable name */
  const char *type_name; /* VAR */
  const char *file;      /* VAR */
  uint64_t line;         /* VAR */
} ms_event_t;

/* Opens the run directory `dir`: reads meta.txt and maps.txt, validates every thread file
 * (headers, chunk CRCs, record syntax; damage is recorded, not fatal) and collects the stack
 * table. Fails on: no meta.txt / not a memscope trace (MS_TRACE_E_NOTTRACE), an unknown
 * version in meta.txt or any thread file (MS_TRACE_E_VERSION), I/O errors, out of memory. */
int ms_run_open(const char *dir, ms_run_t **out, char *err, size_t errlen);

/* ms_run_open with flags. MS_RUN_LAZY: the open checks headers, chunk lengths and CRCs only;
 * records are validated, counted and their stacks collected by the merge, each chunk as a
 * whole before any of its events is returned (so the events are exactly those of a full
 * open). Until a pass has read to the end, the stack table, the damage list, records,
 * ts_backwards and good_bytes are incomplete, and a stack may be defined after an event of
 * another thread names it. Saves a decode of every record (about a tenth of a pass). */
#define MS_RUN_LAZY 1u
int ms_run_open_flags(const char *dir, unsigned flags, ms_run_t **out, char *err,
                      size_t errlen);
void ms_run_close(ms_run_t *run);

const char *ms_run_dir(const ms_run_t *run);
const ms_meta_t *ms_run_meta(const ms_run_t *run);
const ms_maps_t *ms_run_maps(const ms_run_t *run);
/* 1 when meta has no end part or any file is damaged. */
int ms_run_partial(const ms_run_t *run);
size_t ms_run_ndamage(const ms_run_t *run);
const ms_damage_t *ms_run_damage(const ms_run_t *run, size_t i);
size_t ms_run_nthreads(const ms_run_t *run);
const ms_thread_info_t *ms_run_thread(const ms_run_t *run, size_t i);
/* How ticks become ns: "identity" (clock=monotonic), "meta", "meta+chunks", "chunks", "none"
 * (tsc without a usable pair: ts_ns is the raw tick count). */
const char *ms_run_calibration(const ms_run_t *run);
uint64_t ms_run_ticks_to_ns(const ms_run_t *run, uint64_t ts);

/* The stack table, from the STACK records of every thread file. NULL when id is undefined. */
const ms_stack_t *ms_run_stack(const ms_run_t *run, uint64_t id);
size_t ms_run_nstacks(const ms_run_t *run);
/* Iterates the stack table in no particular order: start with *pos = 0; returns 1 with *s
 * set, 0 at the end. */
int ms_run_stack_next(const ms_run_t *run, size_t *pos, const ms_stack_t **s);

/* Merged iteration in timestamp order; equal timestamps by thread_seq, then thread file
 * order. Each file's own order is kept even where its timestamps go backwards. Streams one
 * chunk per thread. Returns 1 with *ev filled, 0 at the end, or a negative code. Damage met
 * during iteration (a file changed since open) ends that file and is added to the damage
 * list. ms_run_rewind() restarts from the first event. */
int ms_run_next(ms_run_t *run, ms_event_t *ev);
int ms_run_rewind(ms_run_t *run);

/* ---- basic statistics ---------------------------------------------------------------------- */

typedef struct ms_stats_totals_s {
  uint64_t allocations;     /* ALLOC + REALLOC records (a realloc is one allocation call) */
  uint64_t frees;           /* FREE records */
  uint64_t reallocs;        /* REALLOC records */
  uint64_t allocated_bytes; /* sum of ALLOC and REALLOC sizes */
  uint64_t peak_live_bytes;
  uint64_t peak_time_ns;    /* first time the peak was reached */
  uint64_t leaked_blocks, leaked_bytes; /* live at the end of the trace */
  uint64_t unmatched_frees;       /* FREE of an address that was not live */
  uint64_t unmatched_realloc_old; /* REALLOC whose non-zero old block was not live */
  uint64_t alloc_over_live;       /* ALLOC/REALLOC returning an address still live */
  uint64_t marks, vars;
  uint64_t unknown_stack_refs;    /* events naming a stack id no STACK record defines */
  uint64_t first_ts_ns, last_ts_ns, events;
} ms_stats_totals_t;

typedef struct ms_stats_thread_s {
  uint32_t tid, thread_seq;
  const char *path;          /* thread file (owned by the run) */
  char name[64];             /* from a thread-name MARK, "" if none */
  uint64_t allocations, frees, reallocs, allocated_bytes;
  uint64_t live_bytes;       /* at the end: bytes this thread allocated that are still live */
  uint64_t peak_live_bytes;  /* max of live bytes allocated by this thread */
  uint64_t peak_time_ns;
} ms_stats_thread_t;

/* Counts restricted to events whose first stack frame (the allocator's caller) lies in the
 * module; frees count FREE records of blocks whose allocating event passed. */
typedef struct ms_stats_module_s {
  int enabled;
  char module[256];
  uint64_t allocations, reallocs, allocated_bytes, frees;
  uint64_t leaked_blocks, leaked_bytes;
  uint64_t peak_live_bytes, peak_time_ns;
} ms_stats_module_t;

typedef struct ms_stats_s {
  ms_stats_totals_t totals;
  size_t nthreads; /* one per thread file, in file order */
  ms_stats_thread_t *threads;
  ms_stats_module_t module;
} ms_stats_t;

/* Runs one merged pass over `run` (rewinding it first). `module` may be NULL (no filter).
 * On success *out is malloc'd; free with ms_stats_free. */
int ms_stats_compute(ms_run_t *run, const char *module, ms_stats_t **out);
void ms_stats_free(ms_stats_t *stats);

#endif /* MS_TRACE_H */
