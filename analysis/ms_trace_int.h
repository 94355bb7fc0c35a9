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

/* ---- ms_runs.c: helpers the reader's files share ---- */
/* Formats into err (errlen bytes, may be NULL/0). */
void ms__set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* dir + "/" + name, malloc'd; NULL when out of memory. */
char *ms__path_join(const char *dir, const char *name);
/* 1 when path is a regular file (stat, following links as the reader always did). */
int ms__is_regular(const char *path);
/* Parses a whole decimal string into *out; 0 on success, -1 otherwise. */
int ms__parse_u64(const char *s, uint64_t *out);
/* Reads and checks a run's meta.txt into m (a one-line reason in err on failure); 0 or a
 * MS_TRACE_E_* / -errno code. */
int ms__meta_parse(const char *path, ms_meta_t *m, char *err, size_t errlen);
void ms__meta_free(ms_meta_t *m);

#endif /* MS_TRACE_INT_H */
