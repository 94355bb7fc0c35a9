/* ms_series.c: the live-bytes timelines (docs/analysis.md, "Timeline"): a streaming,
 * max-preserving series per thread and for the process, updated by the engine's pass
 * (ms__series_update, inline in ms_analysis_int.h), and its points for the reports. */
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"

int ms__series_init(ms__series_t *s, uint32_t cap) {
  memset(s, 0, sizeof *s);
  s->v = malloc((size_t)cap * sizeof *s->v);
  s->cap = s->v ? cap : 0;
  return s->v ? 0 : MS_TRACE_E_NOMEM;
}

/* Halves the resolution: each bucket becomes the max of two. */
static void series_compact(ms__series_t *s) {
  uint32_t m = (s->n + 1) / 2;
  for (uint32_t i = 0; i < m; i++) {
    uint64_t x = s->v[2 * i];
    if (2 * i + 1 < s->n && s->v[2 * i + 1] > x)
      x = s->v[2 * i + 1];
    s->v[i] = x;
  }
  s->n = m;
  s->shift++;
}

/* Records `value` (live bytes after an event) at time rel (ns since the first event). An
 * empty bucket takes the value carried from before it; a bucket holds the highest value seen
 * in it, so the peak is never lost. Out-of-order times land in the latest bucket. */
void ms__series_update_slow(ms__series_t *s, uint64_t rel, uint64_t value) {
  if (!s->cap)
    return;
  if (rel > s->last_t)
    s->last_t = rel;
  if (!s->n)
    s->origin = rel;
  uint64_t r = rel >= s->origin ? rel - s->origin : 0;
  uint64_t b = r >> s->shift;
  while (b >= s->cap) { /* terminates: cap >= 2, so shift stays below 64 */
    series_compact(s);
    b = r >> s->shift;
  }
  if (s->n && b < s->n - 1)
    b = s->n - 1;
  while (s->n <= b)
    s->v[s->n++] = s->last;
  if (value > s->v[b])
    s->v[b] = value;
  s->last = value;
}

/* Downsamples to at most max_points points: the max of each group of buckets, then the value
 * after the last update at the time of that update (so the series ends on the live bytes at
 * the end, which the maximum of the last group need not be). A point inside a run of equal
 * values is left out: drawn as steps or as lines the series is the same without it, and a
 * thread that lives for a part of the run (zeros before and after) costs a few points
 * instead of max_points (cJSON prints a number in ~2,700 instructions). */
int ms__series_points(const ms__series_t *s, size_t max_points, ms_timeline_point_t **pts,
                      size_t *npts) {
  *pts = NULL;
  *npts = 0;
  if (!s->n)
    return 0;
  /* Before the first update nothing was live: a point (0, 0) puts that on the common clock. */
  size_t lead = s->origin > 0 ? 1 : 0;
  uint64_t groups = max_points - 1 - lead;
  uint64_t g = ((uint64_t)s->n + groups - 1) / groups;
  size_t n = (size_t)(((uint64_t)s->n + g - 1) / g);
  ms_timeline_point_t *p = malloc((lead + n + 1) * sizeof *p);
  if (!p)
    return MS_TRACE_E_NOMEM;
  if (lead)
    p[0] = (ms_timeline_point_t){0, 0};
  for (size_t i = 0; i < n; i++) {
    uint64_t first = i * g, mx = 0;
    for (uint64_t j = first; j < first + g && j < s->n; j++)
      if (s->v[j] > mx)
        mx = s->v[j];
    p[lead + i].t_ns = s->origin + (first << s->shift);
    p[lead + i].live_bytes = mx;
  }
  n += lead;
  /* An out-of-order time lands in the latest bucket: keep the times non-decreasing. */
  p[n].t_ns = s->last_t > p[n - 1].t_ns ? s->last_t : p[n - 1].t_ns;
  p[n].live_bytes = s->last;
  n++;
  size_t k = 1;
  for (size_t i = 1; i + 1 < n; i++)
    if (p[i].live_bytes != p[k - 1].live_bytes || p[i].live_bytes != p[i + 1].live_bytes)
      p[k++] = p[i];
  if (n > 1)
    p[k++] = p[n - 1];
  *pts = p;
  *npts = n > 1 ? k : n;
  return 0;
}
