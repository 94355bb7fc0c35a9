/* hs_report.c: one tracked target run end to end: the child under the tracker, the analysis
 * of its trace, the assertions (exact counts, leaks, peaks, scopes, overhead), summary.json,
 * resources.json, the detail files, and the JUnit writer.
 *
 * Assertion semantics (docs/harness.md): max_leak_bytes is pytest-memray's limit_leaks on the
 * whole run (bytes of blocks live at the end, suppressions excluded); max_leak_bytes_per_stack
 * the same per allocation stack; max_peak_bytes is limit_memory on the run's peak live bytes;
 * max_scope_peak NAME is limit_memory on a memscope_scope_begin/end region. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "ms_analyze.h"
#include "ms_files.h"
#include "ms_plots.h"
#include "ms_trace.h"

/* ---- assertions ---- */

static hs_assert_t *add_assert(hs_case_t *c, const char *name) {
  hs_assert_t *n = realloc(c->asserts, (c->nasserts + 1) * sizeof *n);
  if (!n) return NULL;
  c->asserts = n;
  hs_assert_t *a = &c->asserts[c->nasserts++];
  memset(a, 0, sizeof *a);
  hs_fmt(a->name, sizeof a->name, "%s", name);
  return a;
}

/* "function (file:line) [module]" lines of a leak's stack, innermost first. */
void hs_format_stack(const ms_leak_t *lk, char *buf, size_t len, int max_frames) {
  size_t off = 0;
  buf[0] = 0;
  for (size_t i = 0; i < lk->nframes && (int)i < max_frames && off + 1 < len; i++) {
    const ms_frame_t *f = &lk->frames[i];
    const char *mod = f->module && *f->module ? strrchr(f->module, '/') : NULL;
    mod = mod ? mod + 1 : (f->module ? f->module : "");
    int n;
    if (f->function && *f->function) {
      if (f->file && *f->file)
        n = snprintf(buf + off, len - off, "  #%zu %s (%s:%d) [%s]\n", i, f->function, f->file,
                     f->line, mod);
      else
        n = snprintf(buf + off, len - off, "  #%zu %s [%s]\n", i, f->function, mod);
    } else {
      n = snprintf(buf + off, len - off, "  #%zu 0x%" PRIx64 " [%s]\n", i, f->address, mod);
    }
    if (n < 0) break;
    off += (size_t)n;
    if (off >= len) off = len - 1;
  }
  if (lk->nframes == 0) hs_fmt(buf, len, "  (no stack recorded: --stack-depth 0?)\n");
}

/* Whether a module is the system's or memscope's (the C library, the loader, the C and C++
 * runtimes, the tracker) rather than the program's own: a leak's one-line message names the
 * first frame that is not, where the user's code called strdup or operator new. */
static int system_module(const char *module) {
  static const char *const prefixes[] = {"libc.so", "libc-", "ld-linux", "ld64.so", "libstdc++",
                                         "libgcc_s", "libpthread", "libmemscope", "libm.so"};
  const char *b = module ? strrchr(module, '/') : NULL;
  b = b ? b + 1 : module;
  if (!b || !*b) return 0;
  for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes; i++)
    if (!strncmp(b, prefixes[i], strlen(prefixes[i]))) return 1;
  return 0;
}

/* The top user frame of a leak: the first named frame outside the system's modules, else the
 * first named frame; NULL when no frame is named. */
static const ms_frame_t *top_user_frame(const ms_leak_t *lk) {
  const ms_frame_t *first = NULL;
  for (size_t i = 0; i < lk->nframes; i++) {
    const ms_frame_t *f = &lk->frames[i];
    if (!f->function || !*f->function) continue;
    if (!system_module(f->module)) return f;
    if (!first) first = f;
  }
  return first;
}

/* The function of the top user frame, for one-line messages and summary.json's "function". */
const char *hs_leak_top_function(const ms_leak_t *lk) {
  const ms_frame_t *f = top_user_frame(lk);
  return f ? f->function : "?";
}

void hs_leak_top_site(const ms_leak_t *lk, char *buf, size_t len) {
  const ms_frame_t *f = top_user_frame(lk);
  if (!f) {
    hs_fmt(buf, len, "%s", lk->nframes ? "an unnamed frame (no symbols)" : "? (no stack recorded)");
    return;
  }
  const char *mod = f->module && *f->module ? strrchr(f->module, '/') : NULL;
  mod = mod ? mod + 1 : (f->module ? f->module : "");
  if (f->file && *f->file) {
    const char *file = strrchr(f->file, '/');
    hs_fmt(buf, len, "%s (%s:%d)", f->function, file ? file + 1 : f->file, f->line);
  } else if (*mod) {
    hs_fmt(buf, len, "%s (%s, no line: built without -g?)", f->function, mod);
  } else {
    hs_fmt(buf, len, "%s", f->function);
  }
}

/* Whether a leak group counts for this case: for a scenario, only leaks whose allocating
 * frame (the allocator's caller) is in the scenario binary, as the exact counts are; libc's
 * own never-freed buffers are not the scenario's leaks. For a program run, every leak. */
int hs_leak_counts(const ms_leak_t *lk, const char *module) {
  if (lk->suppressed) return 0;
  if (!module) return 1;
  if (lk->nframes == 0) return 0;
  const char *m = lk->frames[0].module;
  return m && *m && ms_module_matches(module, m);
}

/* "7.00 kB (7000 B)", or just "512 B" when the short form is already exact. */
static void size_text(uint64_t b, char *buf, size_t len) {
  char s[32];
  hs_format_bytes(b, s, sizeof s);
  if (b < 1000) hs_fmt(buf, len, "%s", s);
  else hs_fmt(buf, len, "%s (%" PRIu64 " B)", s, b);
}

static void assert_bytes(hs_case_t *c, const char *name, uint64_t value, uint64_t limit,
                         const char *what, const ms_leak_t *stack_of) {
  hs_assert_t *a = add_assert(c, name);
  if (!a) return;
  a->limit = (double)limit;
  a->value = (double)value;
  a->passed = value <= limit;
  char v[64], l[64];
  size_text(value, v, sizeof v);
  size_text(limit, l, sizeof l);
  hs_fmt(a->limit_text, sizeof a->limit_text, "%" PRIu64 " B", limit);
  if (stack_of) {
    char stack[3000], site[640];
    hs_format_stack(stack_of, stack, sizeof stack, 16);
    hs_leak_top_site(stack_of, site, sizeof site);
    hs_fmt(a->message, sizeof a->message,
             "%s: %s %s limit %s; top leak %" PRIu64 " B in %" PRIu64 " blocks from %s",
             what, v, a->passed ? "within" : "exceeds", l, stack_of->bytes,
             stack_of->blocks, site);
    hs_fmt(a->details, sizeof a->details, "%s\nmeasured: %" PRIu64 " B\nlimit: %" PRIu64
             " B\ntop leak stack (%" PRIu64 " B in %" PRIu64 " blocks%s%s):\n%s",
             a->message, value, limit, stack_of->bytes, stack_of->blocks,
             stack_of->var_name && *stack_of->var_name ? ", variable " : "",
             stack_of->var_name ? stack_of->var_name : "", stack);
  } else {
    hs_fmt(a->message, sizeof a->message, "%s: %s %s limit %s", what, v,
           a->passed ? "within" : "exceeds", l);
    hs_fmt(a->details, sizeof a->details, "%s\nmeasured: %" PRIu64 " B\nlimit: %" PRIu64 " B\n",
             a->message, value, limit);
  }
}

/* ---- helpers ---- */

/* The run directory to analyze: the last run of the child's pid (an exec'd image writes a
 * new run with the same pid; its last one is the program that ended), else the first run. */
static int pick_run(char **dirs, size_t n, pid_t pid) {
  int pick = -1;
  for (size_t i = 0; i < n; i++) {
    const char *b = strrchr(dirs[i], '/');
    b = b ? b + 1 : dirs[i];
    unsigned p, k;
    if (sscanf(b, "memscope.%u.%u", &p, &k) == 2 && (pid_t)p == pid) pick = (int)i;
  }
  return pick >= 0 ? pick : 0;
}

/* ---- per-thread resources from the /proc sampler (docs/dashboard-data.md, section 1) ---- */

static cJSON *dup_or_null(const cJSON *o, const char *k) {
  const cJSON *v = o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
  return v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
}

/* threads[i].resources with source "proc": what resources.json's threads[] entry `rt` says
 * of the thread (the sampler saw it in rt.samples samples, from first_seen_s to last_seen_s).
 * cpu_percent is CPU used between those two samples over that interval (null when it was seen
 * once); CPU and I/O totals are the thread's since it started, at the last sample. */
static cJSON *proc_resources(const cJSON *rt) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "source", "proc");
  const char *copy[] = {"cpu_user_s", "cpu_sys_s", "cpu_time_s", "cpu_time_basis", "seen_s",
                        "first_seen_s", "last_seen_s", "cpu_seen_s", "cpu_percent",
                        "cpu_percent_reason",
                        "io_read_ops", "io_write_ops", "io_ops", "io_read_bytes",
                        "io_write_bytes", "storage_read_bytes", "storage_write_bytes", "samples"};
  for (size_t k = 0; k < sizeof copy / sizeof *copy; k++)
    cJSON_AddItemToObject(o, copy[k], dup_or_null(rt, copy[k]));
  cJSON_AddStringToObject(o, "cpu_percent_basis",
                          "100 * CPU time used between the first and the last /proc sample the "
                          "thread was seen in / the time between them");
  /* The sampler does not read task/<tid>/status (the costliest file): no context switches. */
  cJSON_AddNullToObject(o, "voluntary_ctxt_switches");
  cJSON_AddNullToObject(o, "involuntary_ctxt_switches");
  cJSON_AddStringToObject(o, "ctxt_switches_reason", "not sampled from /proc");
  cJSON_AddNullToObject(o, "tracker_io");
  cJSON_AddStringToObject(o, "tracker_io_reason",
                          "/proc counts every read and write of the thread, the tracker's own "
                          "trace writes included");
  return o;
}

static const cJSON *proc_thread(const cJSON *rthreads, double tid) {
  const cJSON *rt;
  cJSON_ArrayForEach(rt, rthreads) if (hs_jnum(rt, "tid", -2) == tid) return rt;
  return NULL;
}

static void set_item(cJSON *o, const char *k, cJSON *v) {
  if (cJSON_GetObjectItemCaseSensitive(o, k)) cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
  else cJSON_AddItemToObject(o, k, v);
}

static int from_tracker(const cJSON *t) {
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(t, "resources"), "source");
  return cJSON_IsString(src) && !strcmp(src->valuestring, "tracker");
}

/* A thread the sampler saw in /proc and the trace does not hold at all (MEMSCOPE_THREADS left
 * it out before it did anything the tracker writes down): listed as untracked, its memory
 * figures unknown. */
static cJSON *proc_only_thread(const cJSON *rt) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "tid", dup_or_null(rt, "tid"));
  cJSON_AddNullToObject(o, "thread_seq");
  cJSON_AddItemToObject(o, "name", dup_or_null(rt, "name"));
  cJSON_AddBoolToObject(o, "tracked", 0);
  cJSON_AddBoolToObject(o, "in_trace", 0);
  const char *mem[] = {"allocations", "frees", "reallocs", "allocated_bytes", "live_bytes",
                       "peak_live_bytes", "peak_time_ns", "temporary_allocations", "avg_size",
                       "alloc_rate_per_s", "allocated_bytes_per_s"};
  for (size_t k = 0; k < sizeof mem / sizeof *mem; k++) cJSON_AddNullToObject(o, mem[k]);
  cJSON_AddStringToObject(o, "memory_reason",
                          "not tracked: the trace holds nothing of this thread; it was seen only "
                          "by the harness's /proc sampler");
  cJSON_AddNullToObject(o, "cpu_percent");
  cJSON_AddNullToObject(o, "io_ops");
  cJSON_AddNullToObject(o, "cpu_time_s");
  return o;
}

/* Fills threads[i].resources (source "proc") and the flat cpu_percent, cpu_time_s and io_ops
 * from the sampler's per-thread figures (by tid) for every thread the tracker did not measure
 * itself (resources.source "tracker" is never touched); adds the threads only /proc saw.
 * Returns how many were added. */
static int merge_thread_resources(cJSON *summary, const cJSON *res) {
  cJSON *threads = cJSON_GetObjectItemCaseSensitive(summary, "threads");
  if (!threads) threads = cJSON_AddArrayToObject(summary, "threads");
  const cJSON *rthreads = res ? cJSON_GetObjectItemCaseSensitive(res, "threads") : NULL;
  int timeline = res && hs_jnum(res, "hz", 0) > 0;
  cJSON *t;
  cJSON_ArrayForEach(t, threads) {
    if (from_tracker(t)) continue;
    const cJSON *rt = proc_thread(rthreads, hs_jnum(t, "tid", -1));
    if (rt) {
      cJSON *pr = proc_resources(rt);
      set_item(t, "cpu_percent", dup_or_null(pr, "cpu_percent"));
      set_item(t, "cpu_time_s", dup_or_null(pr, "cpu_time_s"));
      set_item(t, "io_ops", dup_or_null(pr, "io_ops"));
      const cJSON *why = cJSON_GetObjectItemCaseSensitive(pr, "cpu_percent_reason");
      if (cJSON_IsString(why)) set_item(t, "resources_reason", cJSON_CreateString(why->valuestring));
      else cJSON_DeleteItemFromObjectCaseSensitive(t, "resources_reason");
      set_item(t, "resources", pr);
      cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "name");
      const cJSON *rn = cJSON_GetObjectItemCaseSensitive(rt, "name");
      if ((!cJSON_IsString(nm) || !*nm->valuestring) && cJSON_IsString(rn))
        set_item(t, "name", cJSON_CreateString(rn->valuestring));
    } else if (!cJSON_GetObjectItemCaseSensitive(t, "resources")) {
      const char *why = !res ? "no tracker resource records and no /proc samples (no resources.json)"
                        : !timeline ? "no tracker resource records, and the /proc sampler was off"
                                    : "no tracker resource records, and the /proc sampler never saw "
                                      "the thread alive (it lived between two samples)";
      cJSON *r = cJSON_CreateObject();
      cJSON_AddNullToObject(r, "source");
      cJSON_AddStringToObject(r, "reason", why);
      cJSON_AddItemToObject(t, "resources", r);
      if (!cJSON_GetObjectItemCaseSensitive(t, "resources_reason"))
        cJSON_AddStringToObject(t, "resources_reason", why);
    }
  }
  int added = 0;
  const cJSON *rt;
  cJSON_ArrayForEach(rt, rthreads) {
    double tid = hs_jnum(rt, "tid", -1);
    int found = 0;
    cJSON_ArrayForEach(t, threads) if (hs_jnum(t, "tid", -2) == tid) found = 1;
    if (found) continue;
    cJSON *o = proc_only_thread(rt);
    cJSON *pr = proc_resources(rt);
    set_item(o, "cpu_percent", dup_or_null(pr, "cpu_percent"));
    set_item(o, "cpu_time_s", dup_or_null(pr, "cpu_time_s"));
    set_item(o, "io_ops", dup_or_null(pr, "io_ops"));
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(pr, "cpu_percent_reason");
    if (cJSON_IsString(why)) cJSON_AddStringToObject(o, "resources_reason", why->valuestring);
    cJSON_AddItemToObject(o, "resources", pr);
    cJSON_AddItemToArray(threads, o);
    added++;
  }
  return added;
}

/* Per-thread resources (above) and "resources" (short form) in the summary. Roles, alerts,
 * correlation and bottlenecks are computed afterwards for every thread (ms_roles_apply in
 * write_reports), with the run's thresholds. */
static void merge_resources(cJSON *summary, const cJSON *res) {
  int added = merge_thread_resources(summary, res);
  cJSON *r = cJSON_CreateObject();
  if (res) {
    cJSON_AddStringToObject(r, "file", "resources.json");
    cJSON_AddNumberToObject(r, "samples", hs_jnum(res, "nsamples", 0));
    cJSON_AddNumberToObject(r, "hz", hs_jnum(res, "hz", 0));
    const cJSON *pol = cJSON_GetObjectItemCaseSensitive(res, "rate_policy");
    cJSON_AddItemToObject(r, "ramp_end_s", dup_or_null(pol, "ramp_end_s"));
    const cJSON *samples = cJSON_GetObjectItemCaseSensitive(res, "samples");
    int ns = cJSON_GetArraySize(samples);
    if (ns > 0) {
      cJSON_AddNumberToObject(r, "first_sample_s", hs_jnum(cJSON_GetArrayItem(samples, 0), "t_s", 0));
      cJSON_AddNumberToObject(r, "last_sample_s", hs_jnum(cJSON_GetArrayItem(samples, ns - 1), "t_s", 0));
    } else {
      cJSON_AddNullToObject(r, "first_sample_s");
      cJSON_AddNullToObject(r, "last_sample_s");
      const cJSON *why = cJSON_GetObjectItemCaseSensitive(res, "timeline_reason");
      cJSON_AddStringToObject(r, "timeline_reason",
                              cJSON_IsString(why) ? why->valuestring : "no sample was taken");
    }
    cJSON_AddNumberToObject(r, "threads_seen_only_by_proc", added);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(res, "peak_rss_bytes");
    cJSON_AddItemToObject(r, "peak_rss_bytes", cJSON_IsNumber(pr) ? cJSON_CreateNumber(pr->valuedouble) : cJSON_CreateNull());
    cJSON_AddNumberToObject(r, "cpu_user_s", hs_jnum(res, "rusage_user_s", 0));
    cJSON_AddNumberToObject(r, "cpu_sys_s", hs_jnum(res, "rusage_sys_s", 0));
    cJSON_AddItemToObject(r, "process_io", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(res, "process_io"), 1));
    cJSON_AddItemToObject(r, "host_delta", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(res, "host_delta"), 1));
  } else {
    cJSON_AddStringToObject(r, "file", "");
    cJSON_AddNullToObject(r, "peak_rss_bytes");
    cJSON_AddStringToObject(r, "timeline_reason",
                            "no resources.json: a bare LD_PRELOAD trace has the tracker's "
                            "per-thread totals but no /proc timeline");
  }
  cJSON_AddStringToObject(r, "gpu", "unavailable");
  cJSON_DeleteItemFromObjectCaseSensitive(summary, "resources");
  cJSON_AddItemToObject(summary, "resources", r);
}

static void assertions_json(cJSON *summary, const hs_case_t *c) {
  cJSON_DeleteItemFromObjectCaseSensitive(summary, "assertions");
  cJSON *arr = cJSON_AddArrayToObject(summary, "assertions");
  for (size_t i = 0; i < c->nasserts; i++) {
    const hs_assert_t *a = &c->asserts[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", a->name);
    cJSON_AddNumberToObject(o, "limit", a->limit);
    cJSON_AddNumberToObject(o, "value", a->value);
    cJSON_AddBoolToObject(o, "passed", a->passed);
    cJSON_AddStringToObject(o, "message", a->message);
    cJSON_AddItemToArray(arr, o);
  }
}

/* ---- scenario checks ---- */

static void check_exact_counts(hs_case_t *c, const ms_analysis_t *an, const char *module,
                               const cJSON *expected) {
  hs_assert_t *a = add_assert(c, "exact_counts");
  if (!a) return;
  const ms_stats_module_t *m = ms_analysis_module(an);
  if (!m || !expected) {
    a->passed = 0;
    a->value = -1;
    hs_fmt(a->message, sizeof a->message, "exact_counts: %s",
             !m ? "the analysis gave no module-filtered counts"
                : "the scenario printed no \"expected\" counts");
    hs_fmt(a->details, sizeof a->details, "%s\n", a->message);
    return;
  }
  struct { const char *k; uint64_t got; } f[] = {
      {"allocations", m->allocations},     {"frees", m->frees},
      {"reallocs", m->reallocs},           {"allocated_bytes", m->allocated_bytes},
      {"leaked_blocks", m->leaked_blocks}, {"leaked_bytes", m->leaked_bytes},
  };
  int mismatches = 0;
  size_t off = 0;
  char body[2048];
  body[0] = 0;
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    double want = hs_jnum(expected, f[i].k, -1);
    int ok = want >= 0 && (uint64_t)want == f[i].got;
    if (!ok) mismatches++;
    int n = snprintf(body + off, sizeof body - off, "%s%s %" PRIu64 "%s%.0f", i ? ", " : "",
                     f[i].k, f[i].got, ok ? " = " : " != expected ", want);
    if (n > 0 && (size_t)n < sizeof body - off) off += (size_t)n;
  }
  a->limit = 0;
  a->value = mismatches;
  a->passed = mismatches == 0;
  hs_fmt(a->limit_text, sizeof a->limit_text, "0 mismatches");
  hs_fmt(a->message, sizeof a->message, "exact_counts: %s%s",
           mismatches ? "tracked counts differ from the scenario's: " : "tracked = stated: ",
           body);
  hs_fmt(a->details, sizeof a->details,
           "%s\n(counts of events whose allocator caller lies in %s, versus the scenario's own "
           "statement of its calls)\n",
           a->message, module);
}

/* selective_50 (SPEC §5): 25 tracked worker threads, all even-numbered, no events from odd
 * ones, 16-KiB workers peaking in the seed's 15.9–22.8 MiB band. Threads are named
 * sel-worker-<ii> by the scenario; tracked ones record their names in the trace, and the
 * monitor saw every worker's tid and name in /proc. */
static void check_selective(hs_case_t *c, const ms_analysis_t *a, const cJSON *res, pid_t pid) {
  size_t nt = ms_analysis_nthreads(a);
  int tracked_workers = 0, odd_with_events = 0, unnamed_with_events = 0, sixteen = 0,
      sixteen_in_band = 0;
  uint64_t min16 = UINT64_MAX, max16 = 0;
  char odd_list[256] = "";
  for (size_t i = 0; i < nt; i++) {
    const ms_stats_thread_t *t = ms_analysis_thread(a, i);
    uint64_t events = t->allocations + t->frees;
    int idx = -1;
    if (sscanf(t->name, "sel-worker-%d", &idx) != 1) idx = -1;
    /* A thread the trace did not name: take its name from /proc via the monitor. */
    if (idx < 0 && res) {
      const cJSON *rt;
      cJSON_ArrayForEach(rt, cJSON_GetObjectItemCaseSensitive(res, "threads")) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(rt, "name");
        if ((uint32_t)hs_jnum(rt, "tid", -1) == t->tid && cJSON_IsString(nm))
          if (sscanf(nm->valuestring, "sel-worker-%d", &idx) != 1) idx = -1;
      }
    }
    if (events == 0) continue;
    if (idx < 0) {
      if ((pid_t)t->tid != pid) unnamed_with_events++;
      continue;
    }
    if (idx % 2) {
      odd_with_events++;
      size_t l = strlen(odd_list);
      hs_fmt(odd_list + l, sizeof odd_list - l, " %d", idx);
      continue;
    }
    tracked_workers++;
    if (idx % 4 == 2) {
      sixteen++;
      if (t->peak_live_bytes < min16) min16 = t->peak_live_bytes;
      if (t->peak_live_bytes > max16) max16 = t->peak_live_bytes;
      /* The seed's band is given to 0.1 MiB: compare at that precision (the largest 16-KiB
       * thread holds 1460 x 16 KiB = 22.81 MiB, which the seed writes as 22.8). */
      double mib10 = round((double)t->peak_live_bytes / 1048576.0 * 10.0);
      if (mib10 >= 159.0 && mib10 <= 228.0) sixteen_in_band++;
    }
  }
  hs_assert_t *x = add_assert(c, "selective_tracked_threads");
  if (x) {
    x->limit = 25;
    x->value = tracked_workers;
    x->passed = tracked_workers == 25;
    hs_fmt(x->limit_text, sizeof x->limit_text, "25");
    hs_fmt(x->message, sizeof x->message,
             "selective_tracked_threads: %d even worker threads have events (expected 25)",
             tracked_workers);
    hs_fmt(x->details, sizeof x->details, "%s\n", x->message);
  }
  x = add_assert(c, "selective_no_odd_thread_events");
  if (x) {
    x->limit = 0;
    x->value = odd_with_events + unnamed_with_events;
    x->passed = odd_with_events == 0 && unnamed_with_events == 0;
    hs_fmt(x->limit_text, sizeof x->limit_text, "0");
    hs_fmt(x->message, sizeof x->message,
             "selective_no_odd_thread_events: %d odd worker threads with events%s%s, %d other "
             "non-main threads with events",
             odd_with_events, odd_with_events ? ":" : "", odd_list, unnamed_with_events);
    hs_fmt(x->details, sizeof x->details, "%s\n", x->message);
  }
  x = add_assert(c, "selective_16k_peak_band");
  if (x) {
    x->limit = 22.8 * 1048576.0;
    x->value = sixteen ? (double)max16 : 0;
    x->passed = sixteen > 0 && sixteen_in_band == sixteen;
    hs_fmt(x->limit_text, sizeof x->limit_text, "15.9-22.8 MiB");
    hs_fmt(x->message, sizeof x->message,
             "selective_16k_peak_band: %d of %d tracked 16-KiB threads peak in 15.9-22.8 MiB "
             "(measured %.3f-%.3f MiB, compared at 0.1 MiB)",
             sixteen_in_band, sixteen, sixteen ? (double)min16 / 1048576.0 : 0.0,
             sixteen ? (double)max16 / 1048576.0 : 0.0);
    hs_fmt(x->details, sizeof x->details, "%s\n", x->message);
  }
}

/* ---- the case ---- */

static void case_error(hs_case_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void case_error(hs_case_t *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->error, sizeof c->error, fmt, ap);
  va_end(ap);
  c->ok = 0;
}

/* A byte assertion over the tree: the message names the process that holds the figure when
 * the tree has more than one, and the largest leak's stack where one is given. */
static void assert_tree_bytes(hs_case_t *c, const char *name, uint64_t value, uint64_t limit,
                              const char *what, const hs_proc_t *where, const hs_proc_t *leak,
                              size_t nprocs) {
  hs_assert_t *a = add_assert(c, name);
  if (!a) return;
  a->limit = (double)limit;
  a->value = (double)value;
  a->passed = value <= limit;
  char v[64], l[64], proc[160] = "";
  size_text(value, v, sizeof v);
  size_text(limit, l, sizeof l);
  hs_fmt(a->limit_text, sizeof a->limit_text, "%" PRIu64 " B", limit);
  const hs_proc_t *named = leak ? leak : where;
  if (named && nprocs > 1)
    hs_fmt(proc, sizeof proc, " in process %ld (%s)", named->pid, named->name);
  if (leak) {
    hs_fmt(a->message, sizeof a->message,
           "%s: %s %s limit %s; top leak %" PRIu64 " B in %" PRIu64 " blocks from %s%s", what,
           v, a->passed ? "within" : "exceeds", l, leak->top_bytes, leak->top_blocks,
           leak->top_site, proc);
    hs_fmt(a->details, sizeof a->details,
           "%s\nmeasured: %" PRIu64 " B\nlimit: %" PRIu64 " B\ntop leak stack (%" PRIu64
           " B in %" PRIu64 " blocks, process %ld %s):\n%s",
           a->message, value, limit, leak->top_bytes, leak->top_blocks, leak->pid, leak->name,
           leak->top_stack);
  } else {
    hs_fmt(a->message, sizeof a->message, "%s: %s %s limit %s%s", what, v,
           a->passed ? "within" : "exceeds", l, proc);
    hs_fmt(a->details, sizeof a->details, "%s\nmeasured: %" PRIu64 " B\nlimit: %" PRIu64 " B\n",
           a->message, value, limit);
  }
}

/* The analysis options of every run the harness analyzes: symbolized, the user's
 * suppressions and role thresholds, HS_MAX_LEAK_GROUPS leak groups, `top_stacks` hot stacks. */
ms_analysis_opts_t hs_analysis_opts(const hs_opts_t *o, const char *module, size_t top_stacks) {
  ms_analysis_opts_t ao;
  memset(&ao, 0, sizeof ao);
  ao.suppressions = o->suppressions;
  ao.top_stacks = top_stacks;
  ao.max_leaks = HS_MAX_LEAK_GROUPS;
  ao.symbolize = 1;
  ao.module = module;
  ao.roles = o->roles;
  return ao;
}

/* A limit over threads none of which was tracked would pass whatever the program did (10 MB
 * leaked under --threads none read "0 B within limit"): each limit assertion from `first`
 * on fails instead, with the reason, as on a partial trace. No tracked thread in some
 * processes of the tree is a selection's normal result; in every selected one, with a
 * thread left untracked somewhere (the selection, or memscope_thread_track(0)), there is
 * nothing to judge. A thread is set up (tracked or not) at its first allocator call, so a
 * run whose threads made none reads 0 tracked and 0 untracked, and its 0 B is true. A
 * salvaged process (no end part: counts not known) counts as tracking when it recorded an
 * allocator event, and as leaving threads untracked when its selection is not `all`. */
static void untracked_limits(hs_case_t *c, size_t first) {
  const hs_tree_sum_t *s = &c->sum;
  const hs_proc_t *p = NULL;
  for (size_t i = 0; i < c->tree.n; i++) {
    const hs_proc_t *q = &c->tree.p[i];
    if (!q->selected) continue;
    if (q->threads_tracked > 0 || (q->threads_tracked < 0 && (q->allocations || q->frees)))
      return; /* something was tracked */
    if (!p && (q->threads_untracked > 0 ||
               (q->threads_untracked < 0 && strcmp(q->threads_sel, "all") != 0)))
      p = q;
  }
  if (!s->selected || !p) return;
  char why[256];
  hs_fmt(why, sizeof why,
         "no thread was tracked in the %zu selected process%s (threads=%s%s: every thread "
         "that called the allocator was left untracked, by the selection or by "
         "memscope_thread_track(0)): nothing to check", s->selected,
         s->selected == 1 ? "" : "es", *p->threads_sel ? p->threads_sel : "?",
         s->selected > 1 ? " in one" : "");
  for (size_t i = first; i < c->nasserts; i++) {
    hs_assert_t *a = &c->asserts[i];
    char msg[sizeof a->message];
    a->passed = 0;
    hs_fmt(msg, sizeof msg, "%s: %s; as measured: %s", a->name, why, a->message);
    hs_fmt(a->message, sizeof a->message, "%s", msg);
    size_t l = strlen(a->details);
    hs_fmt(a->details + l, sizeof a->details - l, "%s\n", why);
  }
}

/* Leak and peak assertions on the selected processes of the tree (all by default). */
static void tree_assertions(hs_case_t *c, const hs_opts_t *o, const char *module) {
  hs_tree_sum_t *s = &c->sum;
  if (o->process && s->selected == 0) {
    hs_assert_t *x = add_assert(c, "process_filter");
    if (x) {
      x->passed = 0;
      x->value = 0;
      hs_fmt(x->message, sizeof x->message,
             "process_filter: no process of the %zu in the trace matches --process %s "
             "(a name, a pid or 'main')", c->tree.n, o->process);
      hs_fmt(x->details, sizeof x->details, "%s\n", x->message);
    }
  }
  const hs_proc_t *top_stack = NULL;
  for (size_t i = 0; i < c->tree.n; i++) {
    const hs_proc_t *p = &c->tree.p[i];
    if (p->selected && p->top_bytes && (!top_stack || p->top_bytes > top_stack->top_bytes))
      top_stack = p;
  }
  size_t first_limit = c->nasserts;
  if (o->have_max_leak) {
    assert_tree_bytes(c, "max_leak_bytes", s->leak_high, o->max_leak_bytes,
                      s->sampled ? "leaked bytes (sampled: 95 % upper end)"
                      : module   ? "leaked bytes (scenario code)"
                                 : "leaked bytes",
                      NULL, s->top_leak_proc, c->tree.n);
    /* With more than one process, say which processes leaked how much. */
    hs_assert_t *x = &c->asserts[c->nasserts - 1];
    char list[400] = "";
    size_t nleak = 0;
    for (size_t i = 0; i < c->tree.n; i++) {
      const hs_proc_t *p = &c->tree.p[i];
      if (!p->selected || !p->leaked_bytes) continue;
      size_t l = strlen(list);
      if (nleak++ < 6)
        hs_fmt(list + l, sizeof list - l, "%s%s %ld: %" PRIu64 " B", l ? ", " : "", p->name,
               p->pid, p->leaked_bytes);
    }
    if (c->tree.n > 1 && nleak && !strcmp(x->name, "max_leak_bytes")) {
      size_t l = strlen(x->message);
      hs_fmt(x->message + l, sizeof x->message - l, " (leaks in %zu of %zu processes: %s%s)",
             nleak, c->tree.n, list, nleak > 6 ? ", ..." : "");
    }
  }
  if (o->have_max_leak_stack)
    assert_tree_bytes(c, "max_leak_bytes_per_stack", top_stack ? top_stack->top_bytes : 0,
                      o->max_leak_bytes_per_stack, "largest leak of one stack", NULL, top_stack,
                      c->tree.n);
  if (o->have_max_peak)
    assert_tree_bytes(c, "max_peak_bytes", s->peak_high, o->max_peak_bytes,
                      s->sampled ? "peak live bytes (sampled: 95 % upper end)" : "peak live bytes",
                      s->peak_proc, NULL, c->tree.n);
  untracked_limits(c, first_limit);
}

/* Analyzes trace_dir's runs: the chosen one (the child's last image) in full into
 * c->summary and the detail files, every other process of the tree into c->tree; adds the
 * leak/peak/scope assertions. Returns the main analysis (caller frees) or NULL with
 * c->error. */
static ms_analysis_t *analyze_into(hs_case_t *c, const hs_opts_t *o, const char *trace_dir,
                                   pid_t pid, const char *module, char *run_dir_out,
                                   size_t run_dir_len, size_t *nruns_out) {
  char **dirs = NULL;
  size_t ndirs = 0;
  char err[512] = "";
  int rc = ms_trace_find_runs(trace_dir, &dirs, &ndirs, err, sizeof err);
  if (rc != 0) {
    case_error(c, "no trace in %s (%s); was the tracker loaded? check --lib or $MEMSCOPE_LIB",
               trace_dir, *err ? err : ms_trace_strerror(rc));
    return NULL;
  }
  int pick = pick_run(dirs, ndirs, pid);
  hs_fmt(run_dir_out, run_dir_len, "%s", dirs[pick]);
  *nruns_out = ndirs;

  ms_analysis_opts_t ao = hs_analysis_opts(o, module, 20);
  if (o->exports) /* massif.out's peak tree: every stack's live bytes at the peak (a replay) */
    ao.peak_stacks = SIZE_MAX;
  ms_analysis_t *a = NULL;
  rc = ms_analyze_run(run_dir_out, &ao, &a, err, sizeof err);
  if (rc != 0) {
    case_error(c, "cannot analyze %s: %s", run_dir_out, *err ? err : ms_trace_strerror(rc));
    ms_trace_free_dirs(dirs, ndirs);
    return NULL;
  }
  c->summary = ms_analysis_summary_json(a);
  rc = c->summary ? hs_tree_load(&c->tree, dirs, ndirs, (size_t)pick, a, module, o, err,
                                 sizeof err)
                  : -ENOMEM;
  ms_trace_free_dirs(dirs, ndirs);
  if (rc) {
    ms_analysis_free(a);
    case_error(c, "%s", *err ? err : "out of memory building summary.json");
    return NULL;
  }
  hs_tree_sum(&c->tree, o->process, pid ? pid : (pid_t)c->tree.p[pick].pid, o->allow_partial,
              &c->sum);

  const hs_proc_t *mp = &c->tree.p[pick];
  cJSON *lf = cJSON_CreateObject();
  cJSON_AddStringToObject(lf, "filter", module ? "allocator caller in the scenario binary" : "all");
  cJSON_AddStringToObject(lf, "processes", o->process ? o->process : "all");
  cJSON_AddNumberToObject(lf, "leaked_bytes", (double)c->sum.leaked_bytes);
  cJSON_AddNumberToObject(lf, "main_process_leaked_bytes", (double)mp->leaked_bytes);
  cJSON_AddNumberToObject(lf, "largest_stack_bytes",
                          c->sum.top_leak_proc ? (double)c->sum.top_leak_proc->top_bytes : 0);
  cJSON_AddItemToObject(c->summary, "leak_assertion_basis", lf);
  tree_assertions(c, o, module);
  for (size_t i = 0; i < o->nscope_limits; i++) {
    const hs_scope_limit_t *sl = &o->scope_limits[i];
    char nm[160];
    hs_fmt(nm, sizeof nm, "max_scope_peak[%s]", sl->name);
    const ms_scope_t *s = ms_analysis_find_scope(a, sl->name);
    if (s) {
      char what[200];
      hs_fmt(what, sizeof what, "peak live bytes in scope '%s'", sl->name);
      assert_bytes(c, nm, s->peak_live_bytes, sl->bytes, what, NULL);
    } else {
      hs_assert_t *x = add_assert(c, nm);
      if (x) {
        x->limit = (double)sl->bytes;
        x->value = -1;
        x->passed = 0;
        hs_fmt(x->message, sizeof x->message,
                 "%s: no scope named '%s' in the trace (memscope_scope_begin/end); %zu scopes "
                 "recorded",
                 nm, sl->name, ms_analysis_nscopes(a));
        hs_fmt(x->details, sizeof x->details, "%s\n", x->message);
      }
    }
  }
  rc = ms_analysis_write_details(a, c->out_dir, c->name, err, sizeof err);
  if (rc != 0) {
    ms_analysis_free(a);
    case_error(c, "cannot write the detail reports into %s: %s", c->out_dir,
               *err ? err : strerror(-rc));
    return NULL;
  }
  if (o->exports) { /* --exports: flamegraph.pl's and ms_print's formats (docs/exports.md) */
    static const char *const names[] = {"stacks.collapsed", "stacks_count.collapsed",
                                        "massif.out"};
    for (int k = 0; k < 3 && rc == 0; k++) {
      char path[4200];
      hs_fmt(path, sizeof path, "%s/%s", c->out_dir, names[k]);
      rc = k < 2 ? ms_export_collapsed(a, path, k, err, sizeof err)
                 : ms_export_massif(a, path, err, sizeof err);
    }
    if (rc != 0) {
      ms_analysis_free(a);
      case_error(c, "%s", err);
      return NULL;
    }
  }
  return a;
}

/* The verdict on a partial tree (docs/harness.md, "Partial traces"): every assertion fails
 * with the reason, or with --allow-partial keeps its result and says it is partial. Adds
 * "tree" to the summary. Tracking that stopped on an error is a runtime error (exit 2). */
static void apply_completeness(hs_case_t *c) {
  hs_tree_sum_t *s = &c->sum;
  cJSON_AddItemToObject(c->summary, "tree", hs_tree_json(&c->tree, s));
  cJSON_DeleteItemFromObjectCaseSensitive(c->summary, "partial");
  cJSON_AddBoolToObject(c->summary, "partial", !s->complete);
  if (s->complete) return;
  const hs_proc_t *p = s->first_incomplete;
  char lost[64];
  if (s->events_lost >= 0) hs_fmt(lost, sizeof lost, "%lld events lost", s->events_lost);
  else hs_fmt(lost, sizeof lost, "events lost, how many is not known");
  hs_fmt(c->partial_text, sizeof c->partial_text, "partial trace: %s (process %ld %s: %s)", lost,
         p->pid, p->name, p->comp.reason);
  for (size_t i = 0; i < c->nasserts; i++) {
    hs_assert_t *a = &c->asserts[i];
    char msg[sizeof a->message];
    if (s->allow_partial) {
      hs_fmt(msg, sizeof msg, "[%s; --allow-partial] %s", c->partial_text, a->message);
    } else {
      a->passed = 0;
      hs_fmt(msg, sizeof msg, "%s: %s; as measured: %s", a->name, c->partial_text, a->message);
    }
    hs_fmt(a->message, sizeof a->message, "%s", msg);
    size_t l = strlen(a->details);
    hs_fmt(a->details + l, sizeof a->details - l, "%s\n", c->partial_text);
  }
}

/* A process whose tracking stopped on an error (disk full, no file could be made) gives no
 * verdict at all: exit 2, after the reports that say so were written. */
static int stopped_error(hs_case_t *c) {
  const hs_proc_t *p = c->sum.stopped;
  if (!p) return 0;
  case_error(c, "tracking stopped in process %ld (%s): %s; no verdict on this run", p->pid,
             p->name, p->comp.reason);
  return -1;
}

/* Writes summary.json, resources.json, plots and HTML for c. 0 or -1 with c->error. */
static int write_reports(hs_case_t *c, const hs_opts_t *o, const cJSON *resources) {
  char path[PATH_MAX];
  assertions_json(c->summary, c);
  /* Roles, correlation and bottlenecks again, now that every figure (the /proc ones merged)
   * is in the summary. */
  if (ms_roles_apply(c->summary, &o->roles) != 0) {
    case_error(c, "summary.json: out of memory computing roles");
    return -1;
  }
  if (resources) {
    hs_fmt(path, sizeof path, "%s/resources.json", c->out_dir);
    int rc = hs_write_json(path, resources);
    if (rc) {
      case_error(c, "cannot write %s: %s", path, strerror(-rc));
      return -1;
    }
  }
  hs_fmt(path, sizeof path, "%s/summary.json", c->out_dir);
  int rc = hs_write_json(path, c->summary);
  if (rc) {
    case_error(c, "cannot write %s: %s", path, strerror(-rc));
    return -1;
  }
  char err[512] = "";
  if (o->plots && ms_plots_write_gnuplot(c->out_dir, c->name, c->summary, resources, err, sizeof err) != 0) {
    case_error(c, "plots: %s", err);
    return -1;
  }
  if (o->html && ms_plots_write_html(c->out_dir, c->name, c->summary, resources, err, sizeof err) != 0) {
    case_error(c, "html: %s", err);
    return -1;
  }
  return 0;
}

/* Creates OUT/trace, or OUT/trace.<pid>.<n> when that exists (an earlier run's, kept), with
 * mkdir's own exclusivity. 0 or -errno. */
static int make_trace_dir(const char *out_dir, char *buf, size_t len) {
  for (int n = 0; n < 1000; n++) {
    if (n == 0) hs_fmt(buf, len, "%s/trace", out_dir);
    else hs_fmt(buf, len, "%s/trace.%d.%d", out_dir, (int)getpid(), n);
    if (mkdir(buf, 0700) == 0) return 0;
    if (errno != EEXIST) return -errno;
  }
  return -EEXIST;
}

int hs_case_run(hs_case_t *c, const hs_opts_t *o, char *const *argv, const char *module,
                int is_scenario) {
  double t0 = hs_now_s();
  c->ok = 1;
  int rc = ms_mkdirs(c->out_dir);
  if (rc) {
    case_error(c, "cannot create --out directory %s: %s; pick a writable directory", c->out_dir,
               strerror(-rc));
    return -1;
  }
  /* Writability is checked with a file of our own: a random name created exclusively, never
   * a fixed name that a planted link could redirect. */
  char probe[PATH_MAX];
  hs_fmt(probe, sizeof probe, "%s/.memscope-write-test", c->out_dir);
  ms_out_file_t pf;
  rc = ms_out_open(&pf, probe);
  if (rc) {
    case_error(c, "cannot write into --out directory %s: %s; pick a writable directory",
               c->out_dir, strerror(-rc));
    return -1;
  }
  ms_out_abort(&pf);
  /* A trace directory of this run's own: never one another run may be writing or reading. */
  char trace_dir[PATH_MAX];
  if ((rc = make_trace_dir(c->out_dir, trace_dir, sizeof trace_dir)) != 0) {
    case_error(c, "cannot create a trace directory in %s: %s", c->out_dir, strerror(-rc));
    return -1;
  }

  char label[200];
  hs_fmt(label, sizeof label, "%s", c->name);
  hs_child_spec_t sp = {.argv = argv, .preload_lib = hs_lib_path, .trace_dir = trace_dir,
                        .opts = o, .capture_stdout = is_scenario, .monitor = 1,
                        .resources_hz = o->resources_hz,
                        .progress_label = label, .timeout_s = o->timeout_s};
  hs_child_result_t res;
  rc = hs_child_run(&sp, &res);
  if (rc) {
    case_error(c, "cannot start a child process: %s", strerror(-rc));
    return -1;
  }
  if (res.exec_errno) {
    case_error(c, "cannot run '%s': %s", argv[0], strerror(res.exec_errno));
    hs_child_result_free(&res);
    return -1;
  }
  cJSON *scen_line = NULL;
  if (is_scenario) {
    if (res.exited && res.exit_code == 2) {
      case_error(c, "memscope-scenario refused its arguments (exit 2): %s",
                 res.out_stdout ? res.out_stdout : "");
      hs_child_result_free(&res);
      return -1;
    }
    /* The last line that parses as JSON. */
    char *s = res.out_stdout ? res.out_stdout : (char *)"";
    for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
      cJSON *j = cJSON_Parse(line);
      if (j) {
        cJSON_Delete(scen_line);
        scen_line = j;
      }
    }
  }
  size_t nruns = 0;
  char run_dir[PATH_MAX] = "";
  ms_analysis_t *a = analyze_into(c, o, trace_dir, res.pid, is_scenario ? module : NULL, run_dir,
                                  sizeof run_dir, &nruns);
  if (!a) {
    if (!res.exited || res.exit_code != 0) {
      size_t l = strlen(c->error);
      if (res.exited)
        hs_fmt(c->error + l, sizeof c->error - l, " (the program exited with status %d)",
                 res.exit_code);
      else
        hs_fmt(c->error + l, sizeof c->error - l, " (the program was killed by signal %d)",
                 res.term_signal);
    }
    cJSON_Delete(scen_line);
    hs_child_result_free(&res);
    return -1;
  }
  /* The run's own outcome first in the assertion list. */
  hs_assert_t *ex = add_assert(c, is_scenario ? "self_check" : "exit_status");
  if (ex) {
    ex->limit = 0;
    ex->value = res.exited ? res.exit_code : 128 + res.term_signal;
    ex->passed = res.exited && res.exit_code == 0 && !res.timed_out;
    hs_fmt(ex->limit_text, sizeof ex->limit_text, "exit 0");
    if (res.timed_out)
      hs_fmt(ex->message, sizeof ex->message, "%s: killed after the %.0f s timeout", ex->name,
               o->timeout_s);
    else if (!res.exited)
      hs_fmt(ex->message, sizeof ex->message, "%s: killed by signal %d", ex->name,
               res.term_signal);
    else if (is_scenario)
      hs_fmt(ex->message, sizeof ex->message, "%s: %s (exit %d)", ex->name,
               res.exit_code == 0 ? "the scenario's own results are correct"
                                  : "the scenario's self-check failed",
               res.exit_code);
    else
      hs_fmt(ex->message, sizeof ex->message, "%s: exit %d", ex->name, res.exit_code);
    hs_fmt(ex->details, sizeof ex->details, "%s\n", ex->message);
    /* Move it to the front. */
    hs_assert_t tmp = *ex;
    memmove(&c->asserts[1], &c->asserts[0], (c->nasserts - 1) * sizeof tmp);
    c->asserts[0] = tmp;
  }
  cJSON *h = cJSON_CreateObject();
  cJSON *av = cJSON_AddArrayToObject(h, "argv");
  for (size_t i = 0; argv[i]; i++) cJSON_AddItemToArray(av, cJSON_CreateString(argv[i]));
  cJSON_AddStringToObject(h, "tracker", hs_lib_path);
  cJSON_AddStringToObject(h, "trace_dir", trace_dir);
  cJSON_AddStringToObject(h, "run_dir", run_dir);
  cJSON_AddNumberToObject(h, "runs_in_trace", (double)nruns);
  cJSON_AddNumberToObject(h, "pid", res.pid);
  if (res.exited) cJSON_AddNumberToObject(h, "exit_code", res.exit_code);
  else cJSON_AddNullToObject(h, "exit_code");
  if (!res.exited) cJSON_AddNumberToObject(h, "signal", res.term_signal);
  cJSON_AddNumberToObject(h, "wall_s", res.wall_s);
  cJSON_AddNumberToObject(h, "cpu_user_s", res.user_s);
  cJSON_AddNumberToObject(h, "cpu_sys_s", res.sys_s);
  cJSON_AddNumberToObject(h, "max_rss_bytes", (double)res.max_rss_kb * 1024.0);
  cJSON_AddItemToObject(c->summary, "harness", h);
  if (is_scenario) {
    cJSON *sc = cJSON_CreateObject();
    cJSON_AddStringToObject(sc, "name", c->name);
    cJSON_AddNumberToObject(sc, "scale", o->scale);
    cJSON_AddNumberToObject(sc, "seed", (double)o->seed);
    cJSON_AddItemToObject(sc, "expected",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(scen_line, "expected"), 1));
    cJSON_AddItemToObject(sc, "results",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(scen_line, "results"), 1));
    cJSON_AddItemToObject(c->summary, "scenario", sc);
    check_exact_counts(c, a, module, cJSON_GetObjectItemCaseSensitive(scen_line, "expected"));
    if (strcmp(c->name, "selective_50") == 0) check_selective(c, a, res.resources, res.pid);
  }
  merge_resources(c->summary, res.resources);
  /* Overhead: interleaved untracked/tracked repeats of the same command. */
  if (o->repeat > 0) {
    char err[512] = "";
    cJSON *ov = hs_overhead_measure_in(o, argv, hs_lib_path, c->out_dir, err, sizeof err);
    if (!ov) {
      case_error(c, "overhead: %s", err);
      ms_analysis_free(a);
      cJSON_Delete(scen_line);
      hs_child_result_free(&res);
      return -1;
    }
    cJSON_AddStringToObject(ov, "name", c->name);
    if (o->have_max_overhead) {
      hs_assert_t *x = add_assert(c, "max_overhead");
      const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(ov, "cpu");
      double r = hs_jnum(cpu, "ratio_of_medians", -1);
      if (x) {
        x->limit = o->max_overhead;
        x->value = r;
        x->passed = r >= 0 && r <= o->max_overhead;
        hs_fmt(x->limit_text, sizeof x->limit_text, "%.3g", o->max_overhead);
        hs_fmt(x->message, sizeof x->message,
                 "max_overhead: CPU time tracked/untracked %.3f (median of %d runs each, per-pair "
                 "ratios %.3f-%.3f) %s limit %.3g",
                 r, o->repeat, hs_jnum(cpu, "min", 0), hs_jnum(cpu, "max", 0),
                 x->passed ? "within" : "exceeds", o->max_overhead);
        hs_fmt(x->details, sizeof x->details, "%s\n", x->message);
      }
    }
    cJSON_ReplaceItemInObjectCaseSensitive(c->summary, "overhead", ov);
  }
  if (res.tree_outlived) {
    hs_assert_t *x = add_assert(c, "tree_finished");
    if (x) {
      x->passed = 0;
      x->value = res.tree_outlived;
      hs_fmt(x->message, sizeof x->message,
             "tree_finished: %d process(es) still ran %.0f s after the main process ended and "
             "were killed: %s", res.tree_outlived, o->timeout_s > 0 ? o->timeout_s : 10.0,
             res.tree_killed_names);
      hs_fmt(x->details, sizeof x->details, "%s\n", x->message);
    }
  }
  cJSON_AddNumberToObject(h, "tree_killed", res.tree_killed);
  cJSON_AddStringToObject(h, "tree_killed_processes", res.tree_killed_names);
  ms_analysis_free(a);
  cJSON_Delete(scen_line);
  apply_completeness(c);
  int wr = write_reports(c, o, res.resources);
  hs_child_result_free(&res);
  c->time_s = hs_now_s() - t0;
  return wr ? wr : stopped_error(c);
}

int hs_case_report(hs_case_t *c, const hs_opts_t *o, const char *trace_dir) {
  double t0 = hs_now_s();
  c->ok = 1;
  int rc = ms_mkdirs(c->out_dir);
  if (rc) {
    case_error(c, "cannot create --out directory %s: %s", c->out_dir, strerror(-rc));
    return -1;
  }
  size_t nruns = 0;
  char run_dir[PATH_MAX] = "";
  ms_analysis_t *a = analyze_into(c, o, trace_dir, 0, NULL, run_dir, sizeof run_dir, &nruns);
  if (!a) return -1;
  cJSON *h = cJSON_CreateObject();
  cJSON_AddStringToObject(h, "trace_dir", trace_dir);
  cJSON_AddStringToObject(h, "run_dir", run_dir);
  cJSON_AddNumberToObject(h, "runs_in_trace", (double)nruns);
  cJSON_AddItemToObject(c->summary, "harness", h);
  /* A trace written by `scenario`/`run` sits in OUT/trace with resources.json beside it. */
  char rpath[PATH_MAX];
  hs_fmt(rpath, sizeof rpath, "%s/../resources.json", trace_dir);
  size_t len;
  char *txt = hs_read_file(rpath, &len);
  cJSON *res = txt ? cJSON_Parse(txt) : NULL;
  free(txt);
  merge_resources(c->summary, res);
  ms_analysis_free(a);
  apply_completeness(c);
  int wr = write_reports(c, o, res);
  cJSON_Delete(res);
  c->time_s = hs_now_s() - t0;
  return wr ? wr : stopped_error(c);
}

void hs_case_free(hs_case_t *c) {
  free(c->asserts);
  hs_tree_free(&c->tree);
  cJSON_Delete(c->summary);
  memset(c, 0, sizeof *c);
}

/* ---- printing ---- */

void hs_print_case(const hs_case_t *c) {
  if (!c->ok) {
    printf("%s: ERROR %s\n", c->name, c->error);
    return;
  }
  const cJSON *tot = cJSON_GetObjectItemCaseSensitive(c->summary, "totals");
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(c->summary, "harness");
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(c->summary, "threads");
  char peak[32], leak[32], bytes[32];
  hs_format_bytes((uint64_t)hs_jnum(tot, "peak_live_bytes", 0), peak, sizeof peak);
  hs_format_bytes((uint64_t)hs_jnum(tot, "leaked_bytes", 0), leak, sizeof leak);
  hs_format_bytes((uint64_t)hs_jnum(tot, "allocated_bytes", 0), bytes, sizeof bytes);
  printf("%s: %.0f allocations (%s), %.0f frees, %.0f reallocs, peak %s live, %s leaked in %.0f "
         "blocks; %d threads; %.2f s wall, %.2f s CPU\n",
         c->name, hs_jnum(tot, "allocations", 0), bytes, hs_jnum(tot, "frees", 0),
         hs_jnum(tot, "reallocs", 0), peak, leak, hs_jnum(tot, "leaked_blocks", 0),
         cJSON_GetArraySize(threads), hs_jnum(run, "wall_s", 0),
         hs_jnum(run, "cpu_user_s", 0) + hs_jnum(run, "cpu_sys_s", 0));
  const cJSON *ov = cJSON_GetObjectItemCaseSensitive(c->summary, "overhead");
  const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(ov, "cpu");
  const cJSON *wall = cJSON_GetObjectItemCaseSensitive(ov, "wall");
  if (cpu)
    printf("  overhead: CPU x%.2f (per-pair median %.2f, IQR %.2f-%.2f), wall x%.2f, %d pairs\n",
           hs_jnum(cpu, "ratio_of_medians", 0), hs_jnum(cpu, "median", 0), hs_jnum(cpu, "q1", 0),
           hs_jnum(cpu, "q3", 0), hs_jnum(wall, "ratio_of_medians", 0), (int)hs_jnum(ov, "repeat", 0));
  const cJSON *ins = cJSON_GetObjectItemCaseSensitive(ov, "instructions");
  if (ins)
    printf("  overhead: instructions x%.3f (callgrind, tracked %.0f vs untracked %.0f Ir)\n",
           hs_jnum(ins, "ratio_of_medians", 0), hs_jnum(ins, "median_tracked", 0),
           hs_jnum(ins, "median_untracked", 0));
  if (c->tree.n > 1)
    printf("  process tree: %zu processes (%zu selected), %.0f allocations, %.0f B leaked in all\n",
           c->tree.n, c->sum.selected, (double)c->sum.allocations, (double)c->sum.leaked_bytes);
  if (c->partial_text[0])
    printf("  %s%s\n", c->partial_text,
           c->sum.allow_partial ? " (--allow-partial: results kept)" : "");
  for (size_t i = 0; i < c->nasserts; i++)
    printf("  %s %s\n", c->asserts[i].passed ? "PASS" : "FAIL", c->asserts[i].message);
  printf("  reports: %s/summary.json\n", c->out_dir);
}
