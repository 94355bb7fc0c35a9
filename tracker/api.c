/* api.c: memscope.h's implementation, exported as memscope__* (the header's weak targets). */
#define _GNU_SOURCE
#include <string.h>

#include "memscope.h"
#include "ms_internal.h"

#define MS_EXPORT __attribute__((visibility("default")))


MS_EXPORT int memscope__active(void) {
  return ms__g.active && atomic_load(&ms__g.recording);
}

MS_EXPORT int memscope__thread_track(int on) {
  ms_tls_t *tl = &ms__tls;
  if (!ms__g.active)
    return MEMSCOPE_UNAVAILABLE;
  if (tl->state == MS_T_BUSY || tl->state == MS_T_HOOK || tl->state == MS_T_DEAD)
    return MEMSCOPE_UNAVAILABLE;
  int was = tl->state == MS_T_TRACKED;
  if (ms__g.fuzz) {
    /* Fuzz mode accounts every thread (ms__thread_setup): a thread is never switched off,
     * and needs no buffer (nothing is written). */
    if (tl->state == MS_T_UNINIT)
      ms__thread_setup(tl);
    return was;
  }
  tl->override = on ? 1 : 2;
  if (tl->state == MS_T_UNINIT) {
    ms__thread_setup(tl); /* honours the override */
    return was;
  }
  tl->state = MS_T_HOOK; /* the tracker's own work: MS_WORK_STATE */
  ms_work_t work = ms__work_enter();
  int track = on && ms__thread_buffer(tl) != NULL;
  if (track && !was)
    ms__res_record(tl->t, MS_RES_AT_ATTACH); /* its figures from here on, as at a first call */
  tl->state = track ? MS_T_TRACKED : MS_T_UNTRACKED;
  ms__work_leave(work);
  return was;
}

/* Appends a record of kind with a string payload (up to cap bytes of s) after the head. */
static int rec_with_strings(int kind, uint8_t aux, uint64_t addr, uint64_t size_field,
                            uint32_t stack_field, const char *s, size_t len) {
  ms_tls_t *tl = &ms__tls;
  if (tl->state == MS_T_UNINIT)
    ms__thread_setup(tl);
  if (tl->state != MS_T_TRACKED || !atomic_load_explicit(&ms__g.recording, memory_order_relaxed))
    return MEMSCOPE_UNAVAILABLE;
  tl->state = MS_T_HOOK; /* a record being written, no allocator call: as in a hook */
  ms_thread_t *t = tl->t;
  uint32_t nslots = 1 + (uint32_t)((len + 31) / 32);
  ms_rec_t *r = ms__reserve(t, nslots);
  r->kind = (uint8_t)kind;
  r->aux = aux;
  r->weight = 0;
  r->stack = stack_field;
  r->ts = ms__now();
  r->addr = addr;
  r->size = size_field;
  memcpy(&r[1], s, len);
  ms__commit(t, nslots);
  tl->state = MS_T_TRACKED;
  return 0;
}

MS_EXPORT int memscope__mark(int subkind, const char *name) {
  if (subkind < MS_MARK_POINT || subkind > MS_MARK_THREAD_NAME)
    return -22;
  if (!name)
    name = "";
  size_t len = strnlen(name, MS_NAME_MAX);
  return rec_with_strings(MS_REC_MARK, (uint8_t)subkind, 0, len, 0, name, len);
}

MS_EXPORT int memscope__track_var(const void *p, const char *name, const char *type,
                                  const char *file, int line) {
  char buf[64 + 64 + 128];
  size_t ln = name ? strnlen(name, 63) : 0;
  size_t lt = type ? strnlen(type, 63) : 0;
  size_t lf = file ? strnlen(file, 127) : 0;
  memcpy(buf, name, ln);
  memcpy(buf + ln, type, lt);
  memcpy(buf + ln + lt, file, lf);
  return rec_with_strings(MS_REC_VAR, 0, (uintptr_t)p, line < 0 ? 0 : (uint64_t)line,
                          (uint32_t)(ln | lt << 8 | lf << 16), buf, ln + lt + lf);
}

MS_EXPORT int memscope__snapshot(memscope_snapshot_t *out) {
  if (!ms__g.active)
    return MEMSCOPE_UNAVAILABLE;
  memscope_snapshot_t s = {0, 0, 0, 0};
  s.allocations = atomic_load(&ms__g.released_alloc);
  s.frees = atomic_load(&ms__g.released_free);
  s.allocated_bytes = atomic_load(&ms__g.released_bytes);
  for (ms_thread_t *t = atomic_load(&ms__g.threads_list); t; t = t->next) {
    s.allocations += __atomic_load_n(&t->ring.n_alloc, __ATOMIC_RELAXED);
    s.frees += __atomic_load_n(&t->ring.n_free, __ATOMIC_RELAXED);
    s.allocated_bytes += __atomic_load_n(&t->ring.n_bytes, __ATOMIC_RELAXED);
    s.tracked_threads += atomic_load_explicit(&t->owned, memory_order_relaxed) != 0;
  }
  if (out)
    *out = s;
  memscope__mark(MS_MARK_SNAPSHOT, "snapshot");
  return 0;
}

MS_EXPORT int memscope__flush(void) {
  ms_tls_t *tl = &ms__tls;
  if (tl->state != MS_T_TRACKED || !tl->t)
    return MEMSCOPE_UNAVAILABLE;
  tl->state = MS_T_HOOK; /* the tracker's own work: MS_WORK_STATE */
  ms_work_t work = ms__work_enter();
  ms__res_record(tl->t, MS_RES_AT_FLUSH); /* before the write, so this write carries it */
  ms__flush_thread(tl->t);
  tl->state = MS_T_TRACKED;
  ms__work_leave(work);
  return 0;
}
