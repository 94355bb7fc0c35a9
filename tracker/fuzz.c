/* fuzz.c: the per-input oracle's accounting (MEMSCOPE_FUZZ=1), for fuzz drivers.
 *
 * In fuzz mode nothing is written to disk: a fuzzer runs millions of inputs, and a trace of
 * them would be gigabytes. Instead every allocator call updates a table of live blocks (address,
 * size, the input that allocated it) and the live-byte level, so that around one input the
 * driver learns exactly: the blocks allocated during the input and still live at its end
 * (leaks), the input's high-water of live bytes above its starting level (peak), and, when a
 * peak limit is set, the allocation that crosses it, with its stack, at the moment it happens
 * (the block has not been touched yet: the program never gets the pointer). Stacks are taken
 * only where they are needed: at the crossing, and for every allocation of an input run with
 * `with_stacks` (the driver's second run of an input that leaked; docs/fuzz.md).
 *
 * The table is shared by all threads (a block freed by another thread within the input is
 * not a leak) under one spin lock: fuzz targets are mostly single-threaded, where the lock is
 * an uncontended atomic exchange. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "memscope.h"
#include "ms_internal.h"

#define MS_EXPORT __attribute__((visibility("default")))
#define FZ_INITIAL_CAP (1u << 16)
#define FZ_ARENA_FRAMES (1u << 21) /* frames stored for one input run with stacks (16 MiB) */
#define FZ_DEPTH 32

typedef struct fz_ent_s {
  uint64_t addr;  /* 0 = empty */
  uint64_t size;
  uint32_t gen;   /* the input that allocated it; 0 = outside any input */
  uint32_t stack; /* with_stacks: 1 + index of its first frame in the arena; 0 = none */
} fz_ent_t;

static struct {
  _Atomic int lock;
  fz_ent_t *tab;
  uint64_t cap, count;       /* slots (a power of 2), used */
  int64_t level;             /* bytes of the live blocks in the table */
  int64_t start;             /* level when the input began */
  uint64_t peak;             /* max(level - start) during the input */
  uint64_t limit;            /* peak limit above start, 0 = none */
  uint32_t gen;              /* the current input, 0 = none running */
  uint32_t last_gen;         /* the latest input begun (its leaks are listed after its end) */
  uint64_t allocations, frees, live_blocks, live_bytes; /* of the current input */
  int with_stacks, fired;
  memscope_fuzz_limit_fn on_limit;
  uint64_t *arena;           /* frames of the current input (with_stacks): [n, f0, f1, ...] */
  uint64_t arena_used;
  uint64_t nested_start;     /* ms__g.nested when the input began */
  uint64_t nested_end;       /* and when it ended (UINT64_MAX while it runs) */
  uint64_t dropped;          /* blocks of the current input the table could not hold */
} fz;

static void fz_lock(void) {
  while (atomic_exchange_explicit(&fz.lock, 1, memory_order_acquire))
    while (atomic_load_explicit(&fz.lock, memory_order_relaxed))
      ms_prim_cpu_relax();
}

static void fz_unlock(void) { atomic_store_explicit(&fz.lock, 0, memory_order_release); }

static inline uint64_t fz_hash(uint64_t a) {
  a ^= a >> 33;
  a *= 0xff51afd7ed558ccdull;
  a ^= a >> 33;
  return a;
}

static fz_ent_t *fz_map(uint64_t cap) {
  void *m = mmap(NULL, cap * sizeof(fz_ent_t), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return m == MAP_FAILED ? NULL : m;
}

/* Doubles the table (under the lock). 0, or -1 when no memory is left: then the table stays
 * as it is and grows on the next insert. */
static int fz_grow(void) {
  uint64_t ncap = fz.cap ? fz.cap * 2 : FZ_INITIAL_CAP;
  fz_ent_t *nt = fz_map(ncap);
  if (!nt)
    return -1;
  for (uint64_t i = 0; i < fz.cap; i++) {
    if (!fz.tab[i].addr)
      continue;
    uint64_t j = fz_hash(fz.tab[i].addr) & (ncap - 1);
    while (nt[j].addr)
      j = (j + 1) & (ncap - 1);
    nt[j] = fz.tab[i];
  }
  if (fz.tab)
    munmap(fz.tab, fz.cap * sizeof(fz_ent_t));
  fz.tab = nt;
  fz.cap = ncap;
  return 0;
}

/* The slot of addr, or of the empty slot where it would go. */
static uint64_t fz_slot(uint64_t addr) {
  uint64_t i = fz_hash(addr) & (fz.cap - 1);
  while (fz.tab[i].addr && fz.tab[i].addr != addr)
    i = (i + 1) & (fz.cap - 1);
  return i;
}

/* Removes slot i, shifting the entries after it back (linear probing without tombstones). */
static void fz_remove(uint64_t i) {
  uint64_t mask = fz.cap - 1, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!fz.tab[j].addr)
      break;
    uint64_t home = fz_hash(fz.tab[j].addr) & mask;
    /* Move j into the hole at i when its home is not cyclically within (i, j]. */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      fz.tab[i] = fz.tab[j];
      i = j;
    }
  }
  fz.tab[i].addr = 0;
  fz.count--;
}

/* Frames of the caller's stack without this library's own, into out (at most max). */
static uint32_t fz_stack(uint64_t *out, uint32_t max) {
  void *buf[FZ_DEPTH + 8];
  int n = ms_prim_backtrace(buf, FZ_DEPTH + 8);
  uint32_t k = 0;
  for (int i = 0; i < n && k < max; i++)
    if (!ms__own_code((uintptr_t)buf[i]))
      out[k++] = (uint64_t)(uintptr_t)buf[i];
  return k;
}

/* A block of the table as the API shows it. */
static void fz_block(const fz_ent_t *e, memscope_fuzz_block_t *b) {
  memset(b, 0, sizeof *b);
  b->addr = (uintptr_t)e->addr;
  b->size = e->size;
  if (e->stack && fz.arena) {
    const uint64_t *f = &fz.arena[e->stack - 1];
    b->nframes = (uint32_t)f[0];
    for (uint32_t i = 0; i < b->nframes; i++)
      b->frames[i] = (uintptr_t)f[1 + i];
  }
}

/* Adds a block of generation gen (the current input's, or an earlier one's for a block that
 * realloc resized: the object is as old as its first allocation). */
static void fz_add(uint64_t addr, uint64_t size, uint32_t gen) {
  if (fz.count * 2 >= fz.cap && fz_grow() < 0 && fz.count + 1 >= fz.cap) {
    /* No memory for a larger table: this block goes uncounted, and the input's figures are
     * not exact (memscope__fuzz_dropped). */
    if (fz.gen)
      fz.dropped++;
    return;
  }
  uint64_t i = fz_slot(addr);
  if (!fz.tab[i].addr)
    fz.count++;
  else if (fz.tab[i].gen && fz.tab[i].gen == fz.gen) /* reused address: cannot happen live */
    fz.live_blocks--, fz.live_bytes -= fz.tab[i].size;
  else
    fz.level -= (int64_t)fz.tab[i].size;
  fz.tab[i].addr = addr;
  fz.tab[i].size = size;
  fz.tab[i].gen = gen;
  fz.tab[i].stack = 0;
  fz.level += (int64_t)size;
  if (!fz.gen)
    return;
  fz.allocations++;
  if (gen == fz.gen)
    fz.live_blocks++, fz.live_bytes += size;
  if (fz.with_stacks && fz.arena && fz.arena_used + 1 + FZ_DEPTH <= FZ_ARENA_FRAMES) {
    uint64_t *f = &fz.arena[fz.arena_used];
    f[0] = fz_stack(f + 1, FZ_DEPTH);
    fz.tab[i].stack = (uint32_t)(fz.arena_used + 1);
    fz.arena_used += 1 + f[0];
  }
  int64_t above = fz.level - fz.start;
  if (above > 0 && (uint64_t)above > fz.peak)
    fz.peak = (uint64_t)above;
}

/* Removes addr; returns its generation, or UINT32_MAX when it was not in the table. */
static uint32_t fz_del(uint64_t addr) {
  if (!fz.cap)
    return UINT32_MAX;
  uint64_t i = fz_slot(addr);
  if (!fz.tab[i].addr)
    return UINT32_MAX; /* allocated before the tracker started */
  uint32_t gen = fz.tab[i].gen;
  fz.level -= (int64_t)fz.tab[i].size;
  if (fz.gen) {
    fz.frees++;
    if (fz.tab[i].gen == fz.gen)
      fz.live_blocks--, fz.live_bytes -= fz.tab[i].size;
  }
  fz_remove(i);
  return gen;
}

/* An allocator event in fuzz mode (the hooks' not-recording path). kind: MS_REC_ALLOC (p, n),
 * MS_REC_FREE (p), MS_REC_REALLOC (old released, p of n allocated). Runs inside a hook (the
 * thread HOOK); the limit handler runs BUSY, so what it allocates passes through uncounted. */
void ms__fuzz_event(int kind, void *p, size_t n, void *old) {
  fz_lock();
  uint32_t gen = fz.gen;
  if (kind == MS_REC_FREE || (kind == MS_REC_REALLOC && old)) {
    uint32_t was = fz_del((uint64_t)(uintptr_t)(kind == MS_REC_FREE ? p : old));
    /* realloc resizes an object: it keeps the age of its first allocation, so a buffer
     * made before the input and grown by it is not the input's leak. */
    if (kind == MS_REC_REALLOC && was != UINT32_MAX)
      gen = was;
  }
  int crossed = 0;
  memscope_fuzz_block_t b;
  if (kind != MS_REC_FREE) {
    fz_add((uint64_t)(uintptr_t)p, n, gen);
    if (fz.gen && fz.limit && !fz.fired && fz.peak > fz.limit && fz.on_limit) {
      /* The first allocation that takes the input over its limit: reported now, before the
       * program has the pointer (the handler aborts: nothing touches the memory). */
      fz.fired = crossed = 1;
      fz_ent_t e = fz.tab[fz_slot((uint64_t)(uintptr_t)p)];
      e.stack = 0;
      fz_block(&e, &b);
      b.nframes = fz_stack((uint64_t *)(void *)b.frames, MEMSCOPE_FUZZ_FRAMES);
    }
  }
  uint64_t peak = fz.peak, limit = fz.limit;
  memscope_fuzz_limit_fn fn = fz.on_limit;
  fz_unlock();
  if (crossed) {
    MS_INTERNAL_BEGIN(saved);
    fn(&b, peak, limit);
    MS_INTERNAL_END(saved);
  }
}

int ms__fuzz_init(void) {
  fz_lock();
  int rc = fz_grow();
  fz_unlock();
  return rc;
}

/* The child of fork has one thread: a lock held by another thread of the parent is free. */
void ms__fuzz_after_fork(void) { atomic_store(&fz.lock, 0); }

MS_EXPORT int memscope__fuzz_begin(uint64_t peak_limit, int with_stacks,
                                   memscope_fuzz_limit_fn on_limit) {
  if (!ms__g.fuzz)
    return MEMSCOPE_UNAVAILABLE;
  fz_lock();
  if (with_stacks && !fz.arena) {
    void *m = mmap(NULL, FZ_ARENA_FRAMES * sizeof(uint64_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    fz.arena = m == MAP_FAILED ? NULL : m;
  }
  /* Blocks of an earlier input that are still live keep their number; generation 0 is
   * "outside any input", so the counter skips it when it wraps. */
  fz.last_gen = fz.last_gen + 1 ? fz.last_gen + 1 : 1;
  fz.gen = fz.last_gen;
  fz.start = fz.level;
  fz.peak = 0;
  fz.limit = peak_limit;
  fz.on_limit = on_limit;
  fz.fired = 0;
  fz.with_stacks = with_stacks;
  fz.arena_used = 0;
  fz.allocations = fz.frees = fz.live_blocks = fz.live_bytes = 0;
  fz.dropped = 0;
  fz.nested_start = atomic_load_explicit(&ms__g.nested, memory_order_relaxed);
  fz.nested_end = UINT64_MAX;
  fz_unlock();
  return 0;
}

/* Calls from the last memscope__fuzz_begin to its end (or to now, while the input runs) that
 * passed the table by: made inside a hook (a signal handler that interrupted an allocator
 * call: docs/tracker.md, "Calls inside a hook"), so neither their blocks nor their frees are
 * in the input's figures. Any thread's: the table is process-wide too. Read without the
 * lock: the limit handler asks from inside a hook, and two 8-byte loads cannot tear. */
MS_EXPORT uint64_t memscope__fuzz_unaccounted(void) {
  if (!ms__g.fuzz)
    return 0;
  uint64_t end = __atomic_load_n(&fz.nested_end, __ATOMIC_RELAXED);
  if (end == UINT64_MAX)
    end = atomic_load_explicit(&ms__g.nested, memory_order_relaxed);
  return end - __atomic_load_n(&fz.nested_start, __ATOMIC_RELAXED);
}

/* Allocations since the last memscope__fuzz_begin that the table could not hold (it could
 * not grow: no memory, e.g. under an address-space limit): neither their blocks nor their
 * bytes are in the input's figures. Read without the lock, as memscope__fuzz_unaccounted. */
MS_EXPORT uint64_t memscope__fuzz_dropped(void) {
  if (!ms__g.fuzz)
    return 0;
  return __atomic_load_n(&fz.dropped, __ATOMIC_RELAXED);
}

MS_EXPORT int memscope__fuzz_end(memscope_fuzz_result_t *out) {
  if (!ms__g.fuzz)
    return MEMSCOPE_UNAVAILABLE;
  fz_lock();
  memscope_fuzz_result_t r = {fz.allocations, fz.frees, fz.peak, fz.live_blocks, fz.live_bytes};
  fz.gen = 0; /* allocations from here on belong to no input */
  fz.nested_end = atomic_load_explicit(&ms__g.nested, memory_order_relaxed);
  fz_unlock();
  if (out)
    *out = r;
  return 0;
}

MS_EXPORT size_t memscope__fuzz_leaks(memscope_fuzz_block_t *out, size_t max) {
  if (!ms__g.fuzz || !fz.last_gen)
    return 0;
  size_t n = 0;
  fz_lock();
  for (uint64_t i = 0; i < fz.cap && n < max; i++)
    if (fz.tab[i].addr && fz.tab[i].gen == fz.last_gen)
      fz_block(&fz.tab[i], &out[n++]);
  fz_unlock();
  return n;
}
