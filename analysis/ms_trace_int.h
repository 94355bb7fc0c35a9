/* ms_trace_int.h: internal entry points of the trace reader for the analysis engine. */
#ifndef MS_TRACE_INT_H
#define MS_TRACE_INT_H

#include "ms_trace.h"

/* ---- ms_trace.c ---- */
/* ms_run_next without the copy: *ev points at the reader's own event, valid until the next
 * call on the run. Same returns as ms_run_next. */
int ms__run_next_ref(ms_run_t *run, const ms_event_t **ev);
/* The next events of the merge as one array: *n >= 1 events, in merge order, all from one
 * thread file, valid until the next call on the run. Same returns as ms_run_next; calls may
 * be mixed with ms__run_next_ref's. */
int ms__run_next_batch(ms_run_t *run, const ms_event_t **evs, size_t *n);

/* Opens one of the run's own files (meta.txt, maps.txt, a thread file) for reading, only if
 * it is a regular file (a FIFO must not block the reader). The descriptor or -errno. */
int ms__open_run_file(const char *path);

#endif /* MS_TRACE_INT_H */
