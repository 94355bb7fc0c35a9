/* stacks.c: call stacks from libunwind, interned in a process-wide lock-free table.
 *
 * Each distinct stack gets an id; its frames are written once (a STACK record in the buffer
 * of the thread that saw it first) and events carry only the id. The table is open
 * addressing over fixed, lazily-touched mappings: lookups of known stacks read shared
 * read-mostly lines and write nothing. */
#define _GNU_SOURCE
#include <link.h>
#include <string.h>
#include <sys/mman.h>

#include "ms_internal.h"

#define MS_STACK_SLOTS (1u << 20)         /* table slots; at most half are used */
#define MS_STACK_MAX (MS_STACK_SLOTS / 2) /* distinct stacks kept */
#define MS_FRAME_POOL (1u << 24)          /* frames stored, all stacks together */
#define MS_PROBE_MAX 128

typedef struct ms_stack_slot_s {
  _Atomic uint64_t hash; /* 0 = empty; set once by the inserting thread's CAS */
  _Atomic uint32_t id;   /* 0 until the frames are stored (release) */
  uint32_t nframes;
} ms_stack_slot_t;

typedef struct ms_stack_desc_s {
  uint32_t first; /* index in the frame pool */
  uint32_t nframes;
} ms_stack_desc_t;

static ms_stack_slot_t *slots;
static ms_stack_desc_t *descs; /* by id */
static uint64_t *pool;
static _Atomic uint32_t next_id = 1;
static _Atomic uint32_t pool_used;
static uintptr_t self_lo, self_hi; /* this library's code: frames to skip */

static void *map_noreserve(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static int find_self(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  uintptr_t probe = (uintptr_t)arg;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
      continue;
    uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
    if (probe >= lo && probe < hi) {
      self_lo = lo;
      self_hi = hi;
      return 1;
    }
  }
  return 0;
}

static void map_tables(void) {
  slots = map_noreserve(sizeof(ms_stack_slot_t) * MS_STACK_SLOTS);
  descs = map_noreserve(sizeof(ms_stack_desc_t) * (MS_STACK_MAX + 1));
  pool = map_noreserve(sizeof(uint64_t) * MS_FRAME_POOL);
  atomic_store(&next_id, 1);
  atomic_store(&pool_used, 0);
}

void ms__stacks_init(void) {
  dl_iterate_phdr(find_self, (void *)(uintptr_t)&ms__stack_intern);
  if (ms__g.depth)
    map_tables();
  /* The first walk builds the unwinder's caches (libunwind's); do it now, not inside a hook. */
  void *warm[4];
  ms_prim_backtrace(warm, 4);
}

/* The child of fork re-emits every stack it uses into its own files, so it starts with a
 * fresh table; the parent's copy is dropped (the child is single-threaded here). */
void ms__stacks_reset_after_fork(void) {
  if (!ms__g.depth)
    return;
  munmap(slots, sizeof(ms_stack_slot_t) * MS_STACK_SLOTS);
  munmap(descs, sizeof(ms_stack_desc_t) * (MS_STACK_MAX + 1));
  munmap(pool, sizeof(uint64_t) * MS_FRAME_POOL);
  map_tables();
}

uint64_t ms__stacks_count(void) { return atomic_load(&next_id) - 1; }

int ms__own_code(uintptr_t addr) { return addr >= self_lo && addr < self_hi; }

static inline uint64_t hash_frames(void *const *f, int n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
  for (int i = 0; i < n; i++) {
    h ^= (uint64_t)(uintptr_t)f[i];
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h | 1; /* never 0: 0 marks an empty slot */
}

/* Writes a STACK record defining id into t's buffer. */
static void emit_stack(ms_thread_t *t, uint32_t id, void *const *f, int n) {
  uint32_t nslots = 1 + (uint32_t)((n + 3) / 4);
  ms_rec_t *r = ms__reserve(t, nslots);
  r->kind = MS_REC_STACK;
  r->stack = id;
  r->size = (uint64_t)n;
  uint64_t *frames = (uint64_t *)(void *)&r[1];
  for (int i = 0; i < n; i++)
    frames[i] = (uint64_t)(uintptr_t)f[i];
  uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
  __atomic_store_n(&t->ring.pos, pos + nslots, __ATOMIC_RELEASE);
}

__attribute__((noinline)) uint32_t ms__stack_intern(ms_thread_t *t, void **buf, int n) {
  int skip = 0;
  while (skip < n && (uintptr_t)buf[skip] >= self_lo && (uintptr_t)buf[skip] < self_hi)
    skip++;
  void **f = buf + skip;
  n -= skip;
  if (n > ms__g.depth)
    n = ms__g.depth;
  if (n <= 0 || !slots)
    return 0;
  uint64_t h = hash_frames(f, n);
  uint32_t mask = MS_STACK_SLOTS - 1;
  for (uint32_t probe = 0, i = (uint32_t)(h >> 20) & mask; probe < MS_PROBE_MAX;
       probe++, i = (i + 1) & mask) {
    ms_stack_slot_t *s = &slots[i];
    uint64_t cur = atomic_load_explicit(&s->hash, memory_order_acquire);
    if (cur == 0) {
      if (atomic_compare_exchange_strong(&s->hash, &cur, h)) {
        uint32_t id = atomic_fetch_add(&next_id, 1);
        uint32_t first = atomic_fetch_add(&pool_used, (uint32_t)n);
        if (id > MS_STACK_MAX || first + (uint32_t)n > MS_FRAME_POOL) {
          s->nframes = 0;
          atomic_store_explicit(&s->id, UINT32_MAX, memory_order_release);
          atomic_fetch_add(&ms__g.stack_table_full, 1);
          return 0;
        }
        memcpy(&pool[first], f, sizeof(uint64_t) * (size_t)n);
        descs[id].first = first;
        descs[id].nframes = (uint32_t)n;
        s->nframes = (uint32_t)n;
        /* Release: a thread that sees the id also sees the frames it compares against. */
        atomic_store_explicit(&s->id, id, memory_order_release);
        emit_stack(t, id, f, n);
        return id;
      }
      /* Lost the race for this slot: cur now holds the winner's hash; fall through. */
    }
    if (cur != h)
      continue;
    uint32_t id;
    while ((id = atomic_load_explicit(&s->id, memory_order_acquire)) == 0)
      ; /* the inserter is copying frames: a few dozen nanoseconds */
    if (id == UINT32_MAX)
      continue;
    const ms_stack_desc_t *d = &descs[id];
    if (d->nframes == (uint32_t)n && memcmp(&pool[d->first], f, sizeof(uint64_t) * (size_t)n) == 0)
      return id;
  }
  atomic_fetch_add(&ms__g.stack_table_full, 1);
  return 0;
}
