/* ms_resources.c: per-thread CPU, context switches and I/O from the tracker's resource records
 * (MARK subkind MS_MARK_RESOURCES, docs/trace-format.md) into threads[i].resources.
 *
 * Runs on resource records only (a few per thread: attach, each full-buffer flush, exit),
 * never per allocator event: the pass keeps each thread's first and last record and the
 * figures are computed from those two at the end (docs/dashboard-data.md, section 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"
#include "ms_format.h"
#include "ms_hmap.h"

_Static_assert(MS__RES_NFIELDS == MS_RES_NFIELDS, "ms__res_rec_t holds every field");

static const char *reason_name(uint64_t r) {
  switch (r) {
  case MS_RES_AT_ATTACH:
    return "attach";
  case MS_RES_AT_FLUSH:
    return "flush";
  case MS_RES_AT_EXIT:
    return "thread_exit";
  case MS_RES_AT_END:
    return "process_end";
  case MS_RES_AT_END_OTHER:
    return "process_end_other";
  default:
    return "unknown";
  }
}

static void res_add(ms__res_t *r, const ms__res_rec_t *rec) {
  if (!r->samples)
    r->first = *rec;
  /* Records come in time order (the merge), except those given at the end (finish): a
   * later one only replaces the last. */
  if (!r->samples || rec->ts_ns >= r->last.ts_ns)
    r->last = *rec;
  r->samples++;
}

int ms__res_on_mark(ms_analysis_t *a, const ms_event_t *e) {
  ms__res_rec_t rec;
  if (!e->name || ms_res_decode((const uint8_t *)e->name, e->name_len, rec.f)) {
    a->res_malformed++;
    return 0;
  }
  rec.ts_ns = e->ts_ns;
  if (rec.f[MS_RES_REASON] == MS_RES_AT_END_OTHER) {
    if (ms__grow(&a->res_other, &a->capres_other, a->nres_other, sizeof *a->res_other, 16))
      return MS_TRACE_E_NOMEM;
    a->res_other[a->nres_other++] = rec;
    return 0;
  }
  res_add(&a->threads[e->thread].res, &rec);
  return 0;
}

void ms__res_finish(ms_analysis_t *a) {
  for (size_t k = 0; k < a->nres_other; k++) {
    const ms__res_rec_t *rec = &a->res_other[k];
    size_t i = 0;
    for (; i < a->nthreads; i++) {
      const ms_thread_info_t *ti = ms_run_thread(a->run, i);
      if (ti->tid == rec->f[MS_RES_TID] && ti->thread_seq == rec->f[MS_RES_SEQ])
        break;
    }
    if (i == a->nthreads) {
      a->res_unmatched++;
      continue;
    }
    res_add(&a->threads[i].res, rec);
  }
  free(a->res_other);
  a->res_other = NULL;
  a->nres_other = a->capres_other = 0;
}

static uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

/* The thread's CPU time in s at a record, or -1: the CPU clock, else user + system time. */
static double cpu_s(const ms__res_rec_t *r) {
  if (r->f[MS_RES_HAVE] & MS_RES_HAVE_CPU)
    return (double)r->f[MS_RES_CPU_NS] / 1e9;
  if (r->f[MS_RES_HAVE] & MS_RES_HAVE_UTIME)
    return (double)(r->f[MS_RES_UTIME_US] + r->f[MS_RES_STIME_US]) / 1e6;
  return -1;
}

/* CPU percent over the interval between the first and the last record, or -1. */
static double cpu_percent(const ms__res_t *r) {
  if (r->samples < 2 || r->last.ts_ns <= r->first.ts_ns)
    return -1;
  double c0 = cpu_s(&r->first), c1 = cpu_s(&r->last);
  /* Both from the same source: the CPU clock of the first record with user + system of the
   * last would mix a ns clock with tick-rounded figures. */
  uint64_t both = r->first.f[MS_RES_HAVE] & r->last.f[MS_RES_HAVE];
  if (!(both & MS_RES_HAVE_CPU) && (both & MS_RES_HAVE_UTIME)) {
    c0 = (double)(r->first.f[MS_RES_UTIME_US] + r->first.f[MS_RES_STIME_US]) / 1e6;
    c1 = (double)(r->last.f[MS_RES_UTIME_US] + r->last.f[MS_RES_STIME_US]) / 1e6;
  } else if (!(both & MS_RES_HAVE_CPU)) {
    return -1;
  }
  double dt = (double)(r->last.ts_ns - r->first.ts_ns) / 1e9;
  return c1 >= c0 ? 100.0 * (c1 - c0) / dt : -1;
}

void ms__res_figures(const ms_analysis_t *a, size_t i, double *cpu_pct, double *io_ops) {
  const ms__res_t *r = &a->threads[i].res;
  *cpu_pct = -1;
  *io_ops = -1;
  if (r->samples < 2)
    return;
  *cpu_pct = cpu_percent(r);
  const uint64_t *f = r->last.f;
  if (f[MS_RES_HAVE] & MS_RES_HAVE_IO)
    *io_ops = (double)(sub0(f[MS_RES_SYSCR], f[MS_RES_OWN_READ_OPS]) +
                       sub0(f[MS_RES_SYSCW], f[MS_RES_OWN_WRITE_OPS]));
}

/* Builders: 0, or -1 when cJSON ran out of memory (callers OR them). */
static int put_num(cJSON *o, const char *k, double v, int known) {
  return (known ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k)) ? 0 : -1;
}

int ms__res_json(cJSON *o, const ms_analysis_t *a, size_t i) {
  const ms__res_t *r = &a->threads[i].res;
  int bad = 0;
  if (r->samples < 2) {
    char why[192];
    if (!r->samples)
      snprintf(why, sizeof why, "the trace holds no resource record of this thread (written by "
               "a tracker older than resource records, or with MEMSCOPE_TEST_RESOURCES=0)");
    else
      snprintf(why, sizeof why, "one resource record only (at %s): no interval to measure over",
               reason_name(r->first.f[MS_RES_REASON]));
    bad |= !cJSON_AddNullToObject(o, "resources");
    bad |= !cJSON_AddStringToObject(o, "resources_reason", why);
    bad |= !cJSON_AddNullToObject(o, "cpu_percent");
    bad |= !cJSON_AddNullToObject(o, "cpu_time_s");
    bad |= !cJSON_AddNullToObject(o, "io_ops");
    return bad ? -1 : 0;
  }
  const uint64_t *f = r->last.f;
  uint64_t have = f[MS_RES_HAVE];
  int hu = (have & MS_RES_HAVE_UTIME) != 0, hc = (have & MS_RES_HAVE_CTXT) != 0,
      hio = (have & MS_RES_HAVE_IO) != 0;
  double cpu = cpu_s(&r->last), pct = cpu_percent(r);
  double lifetime = (double)(r->last.ts_ns - r->first.ts_ns) / 1e9;
  uint64_t rops = sub0(f[MS_RES_SYSCR], f[MS_RES_OWN_READ_OPS]);
  uint64_t wops = sub0(f[MS_RES_SYSCW], f[MS_RES_OWN_WRITE_OPS]);
  cJSON *x = cJSON_AddObjectToObject(o, "resources");
  if (!x)
    return -1;
  bad |= !cJSON_AddStringToObject(x, "source", "tracker");
  bad |= put_num(x, "cpu_user_s", (double)f[MS_RES_UTIME_US] / 1e6, hu);
  bad |= put_num(x, "cpu_sys_s", (double)f[MS_RES_STIME_US] / 1e6, hu);
  bad |= put_num(x, "cpu_time_s", cpu, cpu >= 0);
  bad |= put_num(x, "lifetime_s", lifetime, 1);
  bad |= put_num(x, "cpu_percent", pct, pct >= 0);
  bad |= put_num(x, "voluntary_ctxt_switches", (double)f[MS_RES_NVCSW], hc);
  bad |= put_num(x, "involuntary_ctxt_switches", (double)f[MS_RES_NIVCSW], hc);
  bad |= put_num(x, "io_read_ops", (double)rops, hio);
  bad |= put_num(x, "io_write_ops", (double)wops, hio);
  bad |= put_num(x, "io_ops", (double)(rops + wops), hio);
  bad |= put_num(x, "io_read_bytes",
                 (double)sub0(f[MS_RES_RCHAR], f[MS_RES_OWN_READ_BYTES]), hio);
  bad |= put_num(x, "io_write_bytes",
                 (double)sub0(f[MS_RES_WCHAR], f[MS_RES_OWN_WRITE_BYTES]), hio);
  cJSON *tio = cJSON_AddObjectToObject(x, "tracker_io");
  bad |= !tio;
  if (tio) {
    bad |= put_num(tio, "read_ops", (double)f[MS_RES_OWN_READ_OPS], 1);
    bad |= put_num(tio, "write_ops", (double)f[MS_RES_OWN_WRITE_OPS], 1);
    bad |= put_num(tio, "read_bytes", (double)f[MS_RES_OWN_READ_BYTES], 1);
    bad |= put_num(tio, "write_bytes", (double)f[MS_RES_OWN_WRITE_BYTES], 1);
  }
  bad |= put_num(x, "samples", r->samples, 1);
  bad |= !cJSON_AddStringToObject(x, "first_record", reason_name(r->first.f[MS_RES_REASON]));
  bad |= !cJSON_AddStringToObject(x, "last_record", reason_name(f[MS_RES_REASON]));
  /* Figures a record could not measure (no /proc, say) are null, and this says which. */
  if (!(have & MS_RES_HAVE_CPU) || !hu || !hc || !hio || pct < 0) {
    char why[256];
    snprintf(why, sizeof why, "not measured:%s%s%s%s%s",
             (have & MS_RES_HAVE_CPU) ? "" : " thread CPU clock;", hu ? "" : " user/system time;",
             hc ? "" : " context switches;", hio ? "" : " /proc/thread-self/io;",
             pct >= 0 ? "" : " CPU percent (no CPU figure at both ends, or no time between them);");
    bad |= !cJSON_AddStringToObject(x, "missing", why);
  }
  bad |= put_num(o, "cpu_percent", pct, pct >= 0);
  bad |= put_num(o, "cpu_time_s", cpu, cpu >= 0);
  bad |= put_num(o, "io_ops", (double)(rops + wops), hio);
  return bad ? -1 : 0;
}
