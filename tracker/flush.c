/* flush.c: a thread buffer's way to its file. Records are encoded into chunks (ms_encode.h),
 * chunks are staged in the ring segment, and the stage is written to the thread file, in an
 * order of stores that a salvage pass can follow after a death at any instruction; the
 * per-buffer lock that a flush holds; the full-ring flush (the only part of the tracker's
 * file work on the per-event path, once per MS_REC_CAP records) and a thread's whole flush.
 *
 * Split from core.c, which decides when buffers are flushed (thread exit, fork, exec, exit).
 * Runs with the calling thread BUSY, as core.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ms_encode.h"
#include "ms_internal.h"

static ms_crc_table_t crc_table;
static int crc_hw; /* the CPU computes CRC-32C itself (ms_prim_crc32c_hw) */

void ms__flush_init(void) {
  ms_crc32c_init(&crc_table);
  crc_hw = ms_prim_crc32c_hw_usable();
}

/* ---- chunk encoding (ms_encode.h), the stage and the ring's write protocol -----------------
 *
 * An encoded chunk is not written at once: it is encoded into the stage, the tail of the ring
 * segment (docs/tracker.md "Staged chunks"), and the stage goes to the thread file in one
 * write when a whole next chunk might not fit, and at every point that writes a buffer. A
 * write(2) costs ~7 us of CPU here whatever it carries up to tens of KiB, plus the fstat
 * and getrlimit of ms__file_write: one write for several chunks divides them.
 *
 * The ring header says what a salvage pass needs to know if the process dies at any store:
 * - staging a chunk: its bytes go in past `staged` first (invisible until published); then
 *   the values after it are announced (st_next_*, wr_end, wr_last_ts) and st_busy set; then
 *   they are stored (staged, staged_rec, staged_ev, flushed, last_ts) and st_busy cleared.
 *   A salvage that finds st_busy takes the announced values: the chunk is whole by then.
 * - writing the stage: wr_file_end (the file's size once the write is whole) and wr_busy
 *   set; after the write file_bytes, then staged = 0, then wr_busy cleared. A salvage that
 *   finds wr_busy and a file that reached wr_file_end knows the stage is in the file;
 *   otherwise it cuts the file back to file_bytes and appends the stage itself. */

/* A compiler barrier between two groups of the protocol's stores: a salvage reads them
 * after the process died at any instruction, so their program order is what matters (x86
 * keeps stores in order; ms_prim.h admits nothing else). */
#define ms__store_order() __atomic_signal_fence(__ATOMIC_SEQ_CST)

/* "memscope_thread_<pid>_<tid>[_<k>].bin" into name (at most 46 bytes: 10-digit ids, k < 1000). */
static void thread_file_name(char *name, const ms_thread_t *t, int k) {
  static const char head[] = "memscope_thread_";
  char *p = name;
  memcpy(p, head, sizeof head - 1);
  p = ms__put_dec(p + sizeof head - 1, (uint32_t)ms__g.pid);
  *p++ = '_';
  p = ms__put_dec(p, (uint32_t)t->tid);
  if (k) {
    *p++ = '_';
    p = ms__put_dec(p, (uint64_t)k);
  }
  memcpy(p, ".bin", 5);
}

/* Creates t's thread file and writes its header. 0 or -errno. Under t->lock. */
static int thread_file_create(ms_thread_t *t) {
  char name[96];
  thread_file_name(name, t, 0);
  int rc = ms__file_create(&t->file, name);
  for (int k = 1; rc == -EEXIST && k < 1000; k++) {
    thread_file_name(name, t, k);
    rc = ms__file_create(&t->file, name);
  }
  if (rc < 0)
    return rc;
  ms_file_header_t fh;
  memset(&fh, 0, sizeof fh);
  memcpy(fh.magic, MS_FILE_MAGIC, 8);
  fh.version = (uint16_t)ms__format_version;
  fh.header_size = MS_FILE_HEADER_SIZE;
  fh.pid = (uint32_t)ms__g.pid;
  fh.tid = (uint32_t)t->tid;
  fh.thread_seq = t->seq;
  fh.run_id = ms__g.run_id;
  rc = ms__file_write(&t->file, &fh, sizeof fh);
  if (rc == 0) {
    ms__copy_name(t->ring.file_name, sizeof t->ring.file_name, t->file.name);
    t->ring.file_bytes = t->file.bytes;
    t->file.may_prealloc = 1; /* its stage writes reserve ahead (file_prealloc) */
  }
  return rc;
}

/* Empties t's stage (its bytes are in the file or counted lost). Under t->lock. */
static void stage_clear(ms_thread_t *t) {
  ms__store_order();
  t->ring.staged = 0;
  t->ring.staged_rec = t->ring.staged_ev = 0;
  t->st_n = 0;
}

/* The longest run of the stage's first chunks that RLIMIT_FSIZE lets t's file take: their
 * bytes, their events in *ev. Only after a write of the whole stage was refused (EFBIG). */
static uint32_t stage_fitting(ms_thread_t *t, uint32_t *ev) {
  struct rlimit rl;
  uint64_t cap = getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                     ? (uint64_t)rl.rlim_cur : UINT64_MAX;
  uint32_t bytes = 0;
  *ev = 0;
  for (uint32_t i = 0; i < t->st_n && t->file.bytes + t->st_end[i] <= cap; i++) {
    bytes = t->st_end[i];
    *ev += t->st_ev[i];
  }
  return bytes;
}

/* After a failed write of t's stage that began at file offset start: the whole chunks that
 * reached the file stay (the reader reads them), a chunk cut by the failure is cut off the
 * file, and only the chunks not in it are counted lost. Counting the whole stage lost counted
 * the chunks in the file twice (read, and lost). wr_busy = 2 tells a salvage that a death
 * here leaves counts it cannot trust (ms_salvage.c: the ring is bad). Under t->lock. */
static void stage_write_failed(ms_thread_t *t, uint64_t start, int err) {
  __atomic_store_n(&t->ring.wr_busy, 2, __ATOMIC_SEQ_CST);
  uint64_t got = t->file.bytes > start ? t->file.bytes - start : 0;
  uint32_t keep = 0, kept_ev = 0;
  for (uint32_t i = 0; i < t->st_n && t->st_end[i] <= got; i++) {
    keep = t->st_end[i];
    kept_ev += t->st_ev[i];
  }
  if (got > keep && ms__file_check(&t->file) == 0 &&
      ftruncate(t->file.fd, (off_t)(start + keep)) == 0 &&
      lseek(t->file.fd, (off_t)(start + keep), SEEK_SET) >= 0) {
    t->file.bytes = start + keep; /* else the torn chunk stays: the reader stops before it */
    t->file.prealloc = 0;         /* the truncation freed the reserve too */
  }
  uint32_t lost = t->ring.staged_ev - kept_ev;
  atomic_fetch_add(&ms__g.write_errors, 1);
  atomic_fetch_add(&ms__g.events_lost, lost);
  t->ring.lost += lost;
  t->ring.file_bytes = start + keep;
  ms__warn_once("cannot write the trace to", -err);
}

/* Writes t's stage to its file in one write and empties it. When RLIMIT_FSIZE refuses the
 * write, the whole chunks that fit are written first (what a write a chunk kept); what could
 * not be written is counted lost (stage_write_failed; tracking stops: ms__warn_once). 0 or
 * -errno. Under t->lock. */
static int stage_write(ms_thread_t *t) {
  uint32_t n = t->ring.staged, ev;
  if (n == 0)
    return 0;
  uint64_t start = t->file.bytes;
  int rc = t->file.fd < 0 ? -EBADF : 0; /* staged chunks always follow the file's creation */
  if (rc == 0) {
    t->ring.wr_file_end = start + n;
    __atomic_store_n(&t->ring.wr_busy, 1, __ATOMIC_SEQ_CST);
    if (MS_ABLATE >= MS_ABLATE_NO_WRITE) /* cost attribution only: dropped (ms_internal.h) */
      t->file.bytes += n;
    else
      rc = ms__file_write(&t->file, t->stage, n);
    if (rc == -EFBIG && t->file.bytes == start) { /* refused before anything was written */
      uint32_t part = stage_fitting(t, &ev);
      if (part) {
        t->ring.wr_file_end = start + part;
        ms__store_order();
        ms__file_write(&t->file, t->stage, part); /* what reached the file: stage_write_failed */
      }
    }
  }
  if (rc < 0)
    stage_write_failed(t, start, rc);
  else
    t->ring.file_bytes = t->file.bytes;
  stage_clear(t);
  __atomic_store_n(&t->ring.wr_busy, 0, __ATOMIC_SEQ_CST);
  return rc;
}

/* Where the next chunk is encoded: straight into the stage, after the chunks staged there
 * (bytes past `staged` are invisible to a salvage until emit_chunk publishes them). A chunk
 * encoded into a buffer of its own and then copied into the stage cost a copy a chunk and
 * the buffer's 16 KiB of cache and memory in every thread that flushed (docs/tracker.md,
 * "Chunks encoded in the stage"). The stage is written first when a whole chunk
 * (MS_OUT_CAP) might not fit after what it holds, or it holds MS_STAGE_CHUNKS chunks.
 * Under t->lock. */
static uint8_t *stage_room(ms_thread_t *t) {
  if (t->ring.staged + MS_OUT_CAP > MS_STAGE_CAP || t->st_n == MS_STAGE_CHUNKS)
    stage_write(t); /* a failure counted its events lost and stopped tracking */
  return t->stage + t->ring.staged;
}

/* ms_encode_range's emit: the chunk encoded at e->out, which stage_room put at the end of the
 * stage, is published (staged), and e->out moves to where the next one goes. Under t->lock. */
static void emit_chunk(ms_encoder_t *e, uint32_t len, uint32_t nrec, uint32_t nev,
                       uint64_t base_ts, uint32_t end_slot, uint64_t last_ts) {
  ms_thread_t *t = e->user;
  uint8_t *payload = e->out + MS_CHUNK_HEADER_SIZE;
  if (t->file.fd < 0) {
    int rc = thread_file_create(t);
    if (rc < 0) {
      /* The chunk's records are passed (flushed) as they are counted lost: the next flush
       * of this buffer counted them again (events_lost 1201 for 601 events). wr_busy = 2
       * between the two: a salvage cannot trust the counts (stage_write_failed). */
      __atomic_store_n(&t->ring.wr_busy, 2, __ATOMIC_SEQ_CST);
      atomic_fetch_add(&ms__g.write_errors, 1);
      atomic_fetch_add(&ms__g.events_lost, nev);
      t->ring.lost += nev;
      t->ring.flushed = end_slot;
      t->ring.last_ts = last_ts;
      __atomic_store_n(&t->ring.wr_busy, 0, __ATOMIC_SEQ_CST);
      ms__warn_once("cannot create a thread file in", -rc);
      return; /* e->out stays: the next chunk is encoded over this one */
    }
  }
  ms_chunk_header_t ch;
  ch.magic = MS_CHUNK_MAGIC;
  ch.payload_len = len;
  ch.crc32c = crc_hw ? ms_prim_crc32c_hw(payload, len) : ms_crc32c(&crc_table, payload, len);
  ch.nrecords = nrec;
  ch.base_ts = base_ts;
  ch.calib_mono_ns = ms__mono_ns();
  ch.calib_ticks = ms__g.use_tsc ? ms__now() : ch.calib_mono_ns;
  memcpy(e->out, &ch, sizeof ch);
  uint32_t clen = MS_CHUNK_HEADER_SIZE + len;
  /* Staged even after a failed write: the stop path (ms__flush_thread) counts it lost then. */
  uint32_t at = t->ring.staged; /* e->out is t->stage + at: nothing else moves `staged` */
  t->ring.st_next_staged = at + clen;
  t->ring.st_next_rec = t->ring.staged_rec + nrec;
  t->ring.st_next_ev = t->ring.staged_ev + nev;
  t->ring.wr_end = end_slot;
  t->ring.wr_last_ts = last_ts;
  __atomic_store_n(&t->ring.st_busy, 1, __ATOMIC_SEQ_CST);
  ms__store_order();
  t->ring.staged = at + clen;
  t->ring.staged_rec += nrec;
  t->ring.staged_ev += nev;
  t->ring.flushed = end_slot;
  t->ring.last_ts = last_ts;
  __atomic_store_n(&t->ring.st_busy, 0, __ATOMIC_SEQ_CST);
  t->st_end[t->st_n] = at + clen;
  t->st_ev[t->st_n++] = nev;
  e->out = stage_room(t);
}

/* Encodes records [from, to) of t and writes them as chunks. Under t->lock. Returns the slot
 * after the last record encoded (a record its owner is still writing is left for later). */
static uint32_t encode_range(ms_thread_t *t, uint32_t from, uint32_t to) {
  ms_encoder_t e = {.out = stage_room(t), .cap = MS_OUT_CAP, .last_ts = t->ring.last_ts,
                    .emit = emit_chunk, .user = t, .version = ms__format_version};
  uint32_t end = ms_encode_range(&e, t->recs, from, to);
  t->ring.last_ts = e.last_ts;
  return end;
}

static void emit_count(ms_encoder_t *e, uint32_t len, uint32_t nrec, uint32_t nev,
                       uint64_t base_ts, uint32_t end_slot, uint64_t last_ts) {
  (void)len, (void)nrec, (void)base_ts, (void)end_slot, (void)last_ts;
  *(uint64_t *)e->user += nev;
}

/* Adds to *n the allocator events among records [from, to) (encoded into t->out and dropped:
 * only after an error stop, to count what the ring still holds; out is touched nowhere else,
 * so its pages stay unmapped in a run without that error); returns the slot
 * after the last record counted. Under t->lock. */
static uint32_t count_events(ms_thread_t *t, uint32_t from, uint32_t to, uint64_t *n) {
  ms_encoder_t e = {.out = t->out, .cap = MS_OUT_CAP, .last_ts = t->ring.last_ts,
                    .emit = emit_count, .user = n, .version = ms__format_version};
  return ms_encode_range(&e, t->recs, from, to);
}

/* The per-buffer lock, held while a chunk is encoded and written. Taken with thread
 * cancellation disabled: write() is a cancellation point, and a thread cancelled while
 * holding the lock would leave it held for good. Returns the previous cancel state for
 * ms__unlock_thread. With `bounded`, gives up (returns -1) after about a second, for the exit
 * flush: a lock still held then belongs to a thread stopped for good (killed mid-write by a
 * signal handler's longjmp, say) and waiting longer would hang the program's exit.
 *
 * The lock holds its holder's identity (the address of its thread-local state: unique among
 * live threads, no system call). A thread never takes a lock it holds, except when a
 * signal handler left one of its flushes by longjmp: that lock is abandoned, and waiting
 * for it would never end (the exit hung so, docs/tracker.md "Calls inside a hook"). Then
 * ms__lock_thread returns -1 at once, bounded or not, and the callers treat the buffer as
 * stopped for good. */
int ms__lock_thread(ms_thread_t *t, int bounded) {
  int old_cancel, err = errno;
  pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old_cancel);
  uintptr_t me = (uintptr_t)&ms__tls, expected = 0;
  for (long spins = 0; !atomic_compare_exchange_weak_explicit(
           &t->lock, &expected, me, memory_order_acquire, memory_order_relaxed);
       spins++) {
    if (expected == me || (bounded && spins > 100000)) {
      pthread_setcancelstate(old_cancel, NULL);
      return -1;
    }
    expected = 0;
    sched_yield(); /* the holder is writing a chunk: a few microseconds */
  }
  t->lock_errno = err; /* given back at the unlock (ms_work_t, ms_internal.h) */
  return old_cancel;
}

/* 1 when t's lock is held by the calling thread: a flush of its own that a signal handler
 * left by longjmp (ms__lock_thread). Nothing may be added to t's ring then: a full ring's flush
 * could not take the lock. */
int ms__buffer_abandoned(ms_thread_t *t) {
  return atomic_load_explicit(&t->lock, memory_order_relaxed) == (uintptr_t)&ms__tls;
}

void ms__unlock_thread(ms_thread_t *t, int old_cancel) {
  int err = t->lock_errno;
  atomic_store_explicit(&t->lock, 0, memory_order_release);
  pthread_setcancelstate(old_cancel, NULL);
  errno = err;
}

/* The owner's buffer is full: write it and start over, with a resource record first when the
 * thread's last is 10 ms old or more (taken after the write, so the thread's counters and
 * the tracker's own both include it). Returns the slot where the caller's record goes. */
uint32_t ms__flush_full(ms_thread_t *t) {
  int c = ms__lock_thread(t, 0);
  if (c < 0) {
    /* Its own flush abandoned by a longjmp (ms__lock_thread): unreachable from a hook (the
     * state that jump left sends every call to the slow path), kept for safety. The ring's
     * records are counted lost and the ring starts over, unlocked: nobody else holds it. */
    uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
    atomic_store(&ms__g.loss_inexact, 1);
    atomic_fetch_add(&ms__g.events_lost, pos > t->ring.flushed ? pos - t->ring.flushed : 0);
    __atomic_store_n(&t->ring.pos, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t->ring.flushed, 0, __ATOMIC_SEQ_CST);
    return 0;
  }
  uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
  if (MS_ABLATE < MS_ABLATE_NO_ENCODE) /* else dropped: cost attribution only (ms_internal.h) */
    encode_range(t, t->ring.flushed, pos);
  /* pos before flushed: a salvage that sees pos <= flushed finds nothing to recover, so a
   * death between the two stores never makes it encode these records twice. */
  __atomic_store_n(&t->ring.pos, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&t->ring.flushed, 0, __ATOMIC_SEQ_CST);
  ms__unlock_thread(t, c);
  if (ms__mono_ns() - t->res_last_ns >= MS_RES_FLUSH_GAP_NS)
    ms__res_record_at(t, MS_RES_AT_FLUSH, t->ring.last_ts); /* not now: ms__res_record_at */
  return __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED);
}

/* Writes what t holds now, from any thread: the owner may go on appending meanwhile. */
void ms__flush_thread(ms_thread_t *t) {
  int c = ms__lock_thread(t, 1);
  if (c < 0) {
    /* The holder stopped mid-write for good (or is very slow): what its ring, its stage and
     * its write hold is read without the lock, so the count is a guess, said to be one
     * (meta.txt events_lost_exact=0; the rings file stays: ms__flush_all). */
    atomic_store(&ms__g.loss_inexact, 1);
    if (!atomic_exchange(&t->loss_counted, 1)) /* once: destructor rounds and the exit */
      atomic_fetch_add(&ms__g.events_lost,
                       __atomic_load_n(&t->ring.pos, __ATOMIC_RELAXED) - t->ring.flushed +
                           t->ring.staged_ev);
    return;
  }
  uint32_t pos = __atomic_load_n(&t->ring.pos, __ATOMIC_ACQUIRE);
  if (atomic_load(&ms__g.stopped)) {
    /* After tracking stopped on an error nothing more is written: what the ring and the
     * stage hold is counted lost here, once: the records counted are passed (`flushed`)
     * and the stage emptied, both counted in the ring's `lost` for a salvage, so the next
     * flush of this buffer (another destructor round, the exit) does not count them again
     * (it did: a thread that ended after the stop had its ring counted up to four times). */
    uint64_t n = t->ring.staged_ev;
    uint32_t end = pos > t->ring.flushed ? count_events(t, t->ring.flushed, pos, &n) : 0;
    /* wr_busy = 2 while the counts move (a salvage finds the ring bad: loss not known):
     * a death between `lost` and the stage's or flushed's store would count twice. */
    __atomic_store_n(&t->ring.wr_busy, 2, __ATOMIC_SEQ_CST);
    if (n) {
      atomic_fetch_add(&ms__g.events_lost, n);
      t->ring.lost += n;
    }
    if (t->ring.staged)
      stage_clear(t);
    if (end > t->ring.flushed)
      __atomic_store_n(&t->ring.flushed, end, __ATOMIC_SEQ_CST);
    __atomic_store_n(&t->ring.wr_busy, 0, __ATOMIC_SEQ_CST);
  } else {
    /* ring.flushed advances with each chunk staged (emit_chunk); the stage then goes to the
     * file: whatever the buffer held is in the file when this returns. */
    if (pos > t->ring.flushed)
      encode_range(t, t->ring.flushed, pos);
    stage_write(t);
  }
  /* Every point that flushes may be the last before the process ends (exit, _exit in a
   * child, exec), and after tracking stopped nothing more is written: nothing reserved stays
   * past the end. */
  if (t->file.fd >= 0 && t->file.prealloc != 0 && ms__file_check(&t->file) == 0)
    ms__file_trim(&t->file);
  ms__unlock_thread(t, c);
}
