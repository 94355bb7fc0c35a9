/* ms_salvage.h: recovering the records of a process that ended without writing its buffers.
 *
 * The tracker keeps each thread buffer's records in a ring: a segment of the run's
 * memscope_rings.raw, mapped MAP_SHARED (docs/trace-format.md, section 6). When a run has no end part in meta.txt (the
 * process called _exit, was killed by a signal, or tracking stopped), the salvage encodes
 * every ring's unwritten records with the tracker's own encoder (format/ms_encode.h), appends
 * them to the thread files as ordinary chunks, and ends meta.txt with end_reason=salvaged and
 * the exact count of events it could not recover (docs/tracker.md, "Ending without exit").
 * Errors: 0 or -errno; -EBUSY while the traced process still runs (it holds a lock on its
 * meta.txt). */
#ifndef MS_SALVAGE_H
#define MS_SALVAGE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ms_salvage_s {
  int needed;                 /* the run had no end part */
  int written;                /* the salvage wrote its chunks and ended meta.txt */
  uint64_t rings;             /* ring segments read */
  uint64_t records_recovered; /* records encoded from rings (events and stack definitions) */
  uint64_t events_recovered;  /* of those: allocator events (ALLOC, FREE calls, REALLOC) */
  uint64_t events_pending;    /* allocations that returned but never reached a ring */
  uint64_t records_lost;      /* events whose write failed in the process */
  uint64_t events_unrecorded; /* calls after tracking stopped on an error */
  uint64_t bad_rings;         /* ring segments that could not be used (missing, damaged) */
  int loss_unknown;           /* a buffer had no ring (meta ring_private=), or a ring
                                 was bad: what it held cannot be counted */
} ms_salvage_t;

/* Salvages the run directory `run_dir`. With write = 0 only counts (the records that would be
 * recovered are reported as records_recovered, nothing is changed). A run that has its end
 * part needs nothing: 0 with needed = 0. err gets one line on failure. */
int ms_run_salvage(const char *run_dir, int write, ms_salvage_t *out, char *err, size_t errlen);

#endif /* MS_SALVAGE_H */
