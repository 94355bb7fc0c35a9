/* ms_completeness.c: whether a run's trace holds every event of its process (docs/analysis.md,
 * "Complete runs"), and the salvage of a run that ended without writing its buffers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"

/* A run without its end part: recover its records from its rings (ms_salvage.h), or
 * with no_salvage (or where the trace cannot be written) only count what is missing. */
int ms__salvage_run(const char *path, int no_salvage, ms_salvage_t *s, char *err,
                       size_t errlen) {
  memset(s, 0, sizeof *s);
  /* The run directory as open_run will pick it (path may be its parent). */
  char **dirs = NULL;
  size_t n = 0;
  if (ms_trace_find_runs(path, &dirs, &n, err, errlen) != 0 || n != 1) {
    if (dirs)
      ms_trace_free_dirs(dirs, n);
    return -ENOENT; /* open_run says why */
  }
  const char *run_dir = dirs[0];
  int rc = no_salvage ? -EPERM : ms_run_salvage(run_dir, 1, s, err, errlen);
  if (rc != 0 || (s->needed && !s->written)) {
    char ignored[8];
    ms_run_salvage(run_dir, 0, s, ignored, sizeof ignored);
    if (rc == 0)
      rc = -EROFS;
  }
  ms_trace_free_dirs(dirs, n);
  return rc;
}

static long long meta_count(const ms_meta_t *m, const char *key, long long absent) {
  const char *v = ms_meta_get(m, key);
  if (!v)
    return absent;
  if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 18)
    return -1;
  return strtoll(v, NULL, 10);
}

/* 1 when the run's only damage is a chunk that runs past the end of its file. */
static int torn_tail(const ms_run_t *run) {
  const ms_damage_t *d = ms_run_ndamage(run) == 1 ? ms_run_damage(run, 0) : NULL;
  return d && (strstr(d->reason, "chunk runs past end of file") ||
               strstr(d->reason, "truncated chunk header"));
}

/* Fills a->completeness from meta.txt's end part, the damage found and the salvage. */
void ms__completeness(ms_analysis_t *a, const ms_salvage_t *s, int salvage_rc,
                         const char *salvage_err) {
  ms_completeness_t *c = &a->completeness;
  const ms_meta_t *m = ms_run_meta(a->run);
  /* NULL also when a later exec_failed line voided the end part (ms_meta_t.has_end) */
  const char *end = m->has_end ? ms_meta_get(m, "end_reason") : NULL;
  const char *stopped = ms_meta_get(m, "stopped");
  const char *stop_error = ms_meta_get(m, "stop_error");
  c->stopped = (stopped && strcmp(stopped, "no") != 0) || stop_error;
  c->salvaged = end && strcmp(end, "salvaged") == 0;
  size_t nd = ms_run_ndamage(a->run);
  if (!end) {
    /* The salvage could not run: what the rings hold is known, nothing else is written. */
    uint64_t missing = s->events_recovered + s->events_pending + s->records_lost +
                       s->events_unrecorded;
    c->events_lost = s->loss_unknown || !s->needed || !s->rings ? -1 : (long long)missing;
    snprintf(c->reason, sizeof c->reason,
             "the run has no end (killed, or still running) and was not salvaged (%s)",
             salvage_rc == -EBUSY ? "the process is still running"
             : *salvage_err       ? salvage_err
                                  : "not asked");
  } else {
    c->events_lost = meta_count(m, "events_lost", 0);
    if (meta_count(m, "events_lost_exact", 1) == 0)
      c->events_lost = -1;
    if (c->stopped)
      snprintf(c->reason, sizeof c->reason, "tracking stopped on an error (%s)",
               stop_error ? stop_error : stopped);
    else if (nd)
      snprintf(c->reason, sizeof c->reason, "%zu damaged part(s) in the thread files", nd);
    else if (ms_meta_get(m, "ablate"))
      snprintf(c->reason, sizeof c->reason,
               "a cost-attribution build of the tracker (ablate=%.20s) dropped records",
               ms_meta_get(m, "ablate"));
    else if (meta_count(m, "events_nested", 0) > 0)
      snprintf(c->reason, sizeof c->reason,
               "%lld allocator calls made inside a hook (by a signal handler) were not recorded",
               meta_count(m, "events_nested", 0));
  }
  /* A damaged chunk's records are not counted anywhere, nor those after it in its file: a
   * count beside damage is not exact. The one exception: a run that stopped on a write
   * error whose only damage is a file's last chunk cut short (the write that failed; the
   * tracker counted that chunk's events lost and cuts it off where it can: flush.c
   * stage_write_failed). */
  if (nd && c->events_lost >= 0 &&
      !(c->stopped && nd == 1 && c->events_lost > 0 && torn_tail(a->run)))
    c->events_lost = -1;
  c->complete = end && !c->stopped && c->events_lost == 0 && nd == 0;
  size_t l = strlen(c->reason);
  const char *sep = l ? "; " : "";
  if (!c->complete && c->events_lost > 0)
    snprintf(c->reason + l, sizeof c->reason - l, "%s%lld events lost", sep, c->events_lost);
  else if (!c->complete && c->events_lost < 0)
    snprintf(c->reason + l, sizeof c->reason - l, "%sevents lost, how many is not known", sep);
}

const ms_completeness_t *ms_analysis_completeness(const ms_analysis_t *a) {
  return &a->completeness;
}
