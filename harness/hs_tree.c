/* hs_tree.c: the process tree of one target run: every run directory its trace holds (one
 * per process image: the main program, forked children, exec'd commands), analyzed and
 * summed, so that assertions hold for the whole tree as valgrind --trace-children=yes sees
 * it (docs/harness.md, "Process trees").
 *
 * Leaks of an image that ended in exec are not leaks: exec releases the whole address space
 * (valgrind does not report them either). Peaks are per process: the tree's peak is the
 * largest process peak (processes' peaks need not coincide in time). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hs.h"
#include "ms_analyze.h"
#include "ms_trace.h"

/* The children m names (tracker/preload.c: untracked_child=PID, its environment without the
 * tracker; spawned_child=PID, with it) into p, without those a later child_exec_failed line
 * takes back (that exec failed: no program ran). Pid 0 is a child named before its call
 * (no pid known yet); its lines are counted, named less taken back, since calls on two
 * threads interleave theirs. No memory for the list: every one is counted as lost, the safe
 * side. */
static void proc_untracked(hs_proc_t *p, const ms_meta_t *m) {
  p->nkids = 0;
  p->kids = NULL;
  p->kids_env = NULL;
  size_t cap = 0;
  long unnamed0 = 0; /* child_exec_failed=0 lines not yet set against a pid-0 child */
  for (size_t i = 0; i < m->nkeys; i++)
    if (!strcmp(m->keys[i], "child_exec_failed") && strtol(m->values[i], NULL, 10) == 0)
      unnamed0++;
  for (size_t i = 0; i < m->nkeys; i++) {
    int env = !strcmp(m->keys[i], "untracked_child");
    if (!env && strcmp(m->keys[i], "spawned_child") != 0)
      continue;
    long pid = strtol(m->values[i], NULL, 10);
    /* Taken back by the next line about this pid only, if that is a child_exec_failed: a
     * later child of the same pid (after pids wrapped) is another child. */
    int failed = 0;
    if (pid == 0 && unnamed0 > 0) {
      unnamed0--;
      failed = 1;
    }
    for (size_t j = i + 1; pid != 0 && j < m->nkeys; j++) {
      if (strtol(m->values[j], NULL, 10) != pid) continue;
      if (!strcmp(m->keys[j], "child_exec_failed")) {
        failed = 1;
        break;
      }
      if (!strcmp(m->keys[j], "untracked_child") || !strcmp(m->keys[j], "spawned_child")) break;
    }
    if (failed)
      continue;
    if (p->nkids == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      long *k = realloc(p->kids, ncap * sizeof *k);
      if (k) p->kids = k;
      unsigned char *e = k ? realloc(p->kids_env, ncap) : NULL;
      if (e) p->kids_env = e;
      if (!k || !e) {
        p->kids_lost++; /* not listed: counted, the safe side */
        continue;
      }
      cap = ncap;
    }
    p->kids[p->nkids] = pid;
    p->kids_env[p->nkids++] = (unsigned char)env;
  }
}

/* Fills p's identity from the run's meta.txt. */
static void proc_identity(hs_proc_t *p, const ms_run_t *run) {
  const ms_meta_t *m = ms_run_meta(run);
  const char *v;
  p->pid = m->pid;
  p->ppid = (v = ms_meta_get(m, "ppid")) ? strtol(v, NULL, 10) : 0;
  hs_fmt(p->origin, sizeof p->origin, "%s", (v = ms_meta_get(m, "origin")) ? v : "");
  /* "" without an end part, and for one a later exec_failed line voids (ms_meta_t.has_end) */
  hs_fmt(p->end_reason, sizeof p->end_reason, "%s",
         m->has_end && (v = ms_meta_get(m, "end_reason")) ? v : "");
  hs_fmt(p->cmdline, sizeof p->cmdline, "%s", (v = ms_meta_get(m, "cmdline")) ? v : "");
  v = ms_meta_get(m, "exe");
  const char *b = v ? strrchr(v, '/') : NULL;
  hs_fmt(p->name, sizeof p->name, "%s", b ? b + 1 : v ? v : "?");
  p->counts_leaks = strcmp(p->end_reason, "exec") != 0;
  p->kids_lost = (v = ms_meta_get(m, "child_lines_lost")) ? strtoll(v, NULL, 10) : 0;
  /* The tracker's empty marker file: a child could not be named, even when the end part
   * that counts them was never written. */
  char marker[4200];
  struct stat mst;
  hs_fmt(marker, sizeof marker, "%s/memscope_children_lost", p->run_dir);
  if (p->kids_lost == 0 && lstat(marker, &mst) == 0)
    p->kids_lost = 1;
  v = m->has_end ? ms_meta_get(m, "threads_untracked") : NULL;
  p->threads_untracked = v && *v >= '0' && *v <= '9' ? strtoll(v, NULL, 10) : -1;
  /* From the end part only (a salvaged run has none: not known). */
  v = m->has_end ? ms_meta_get(m, "threads_registered") : NULL;
  p->threads_tracked = v && *v >= '0' && *v <= '9' ? strtoll(v, NULL, 10) : -1;
  hs_fmt(p->threads_sel, sizeof p->threads_sel, "%s", (v = ms_meta_get(m, "threads")) ? v : "");
  proc_untracked(p, m);
  p->start_mono_ns = m->have_start_calib ? m->start_mono_ns : 0;
  p->end_mono_ns = m->have_end_calib ? m->end_mono_ns : 0;
}

/* Every image that ended in exec must be followed by the image it became: a run of the same
 * pid that started after it ended. None means the new image wrote no trace: LD_PRELOAD or
 * MEMSCOPE_* taken out of its environment, a static or set-user-ID program, or tracking
 * that turned itself off. What it allocated is not known, so the tree is not complete
 * (valgrind --trace-children=yes would have followed it). */
static void check_exec_successors(hs_tree_t *t) {
  for (size_t i = 0; i < t->n; i++) {
    hs_proc_t *p = &t->p[i];
    if (p->counts_leaks || !p->comp.complete)
      continue; /* not an exec's end, or already incomplete */
    int found = 0;
    for (size_t j = 0; j < t->n && !found; j++)
      found = j != i && t->p[j].pid == p->pid && t->p[j].start_mono_ns >= p->end_mono_ns;
    if (found)
      continue;
    p->comp.complete = 0;
    p->comp.events_lost = -1;
    hs_fmt(p->comp.reason, sizeof p->comp.reason,
           "process %ld exec'd an image that wrote no trace (not tracked: LD_PRELOAD or "
           "MEMSCOPE_* removed from its environment, a static or set-user-ID program, or "
           "tracking disabled in it); what it allocated is not known", p->pid);
  }
}

/* Every child a process started by vfork or posix_spawn must have a run of its own in the
 * tree (its pid, started after the parent: the image it exec'd). None means that image wrote
 * no trace: its environment dropped the tracker (untracked_child), or it kept it and the
 * program is a static or set-user-ID one, or tracking turned itself off in it
 * (spawned_child). What it allocated is not known, so the tree is not complete (valgrind
 * --trace-children=yes would have followed it). A child that could not be named
 * (child_lines_lost) is not known either. Not matched by parent: a child whose parent died
 * first has another by the time its run starts. */
static void check_untracked_children(hs_tree_t *t) {
  for (size_t i = 0; i < t->n; i++) {
    hs_proc_t *p = &t->p[i];
    if ((!p->nkids && !p->kids_lost) || !p->comp.complete)
      continue;
    long missing = 0;
    int env = 1;
    size_t nmissing = 0;
    for (size_t k = 0; k < p->nkids; k++) {
      int found = 0;
      for (size_t j = 0; j < t->n && !found; j++)
        found = j != i && t->p[j].pid == p->kids[k] &&
                t->p[j].start_mono_ns >= p->start_mono_ns;
      if (!found && !nmissing++)
        missing = p->kids[k], env = p->kids_env[k];
    }
    if (!nmissing && !p->kids_lost)
      continue;
    p->comp.complete = 0;
    p->comp.events_lost = -1;
    if (!nmissing) {
      hs_fmt(p->comp.reason, sizeof p->comp.reason,
             "process %ld started %lld child%s by vfork or posix_spawn that could not be named "
             "in its meta.txt: what %s allocated is not known", p->pid, p->kids_lost,
             p->kids_lost == 1 ? "" : "ren", p->kids_lost == 1 ? "it" : "they");
      continue;
    }
    char pid[48];
    if (missing > 0)
      hs_fmt(pid, sizeof pid, "pid %ld", missing);
    else
      hs_fmt(pid, sizeof pid, "pid not known: system() or popen()");
    hs_fmt(p->comp.reason, sizeof p->comp.reason,
           "process %ld started %zu child%s (%s%s) by vfork, posix_spawn, system or popen %s: "
           "what %s allocated is not known", p->pid, nmissing, nmissing == 1 ? "" : "ren", pid,
           nmissing > 1 ? ", ..." : "",
           !env ? "whose image wrote no trace (a static or set-user-ID program, or tracking "
                  "disabled in it)"
                : "without the tracker in its environment (LD_PRELOAD or MEMSCOPE_OUT changed)",
           nmissing == 1 ? "it" : "they");
  }
}

/* Leak figures of an analysis into p: counted bytes and the largest group. `module` filters
 * as the scenario's exact counts do (NULL: every unsuppressed leak). */
static void proc_leaks(hs_proc_t *p, const ms_analysis_t *a, const char *module) {
  const ms_stats_totals_t *tot = ms_analysis_totals(a);
  p->allocations = tot->allocations;
  p->frees = tot->frees;
  p->peak_live_bytes = tot->peak_live_bytes;
  uint64_t total = 0;
  const ms_leak_t *top = NULL;
  for (size_t i = 0; i < ms_analysis_nleaks(a); i++) {
    const ms_leak_t *lk = ms_analysis_leak(a, i);
    if (!hs_leak_counts(lk, module)) continue;
    total += lk->bytes;
    if (!top || lk->bytes > top->bytes) top = lk;
  }
  /* Beyond the listed groups the analysis's own total is exact (suppressions subtracted). */
  if (!module && ms_analysis_nleaks(a) >= HS_MAX_LEAK_GROUPS) total = tot->leaked_bytes;
  p->leaked_bytes = p->counts_leaks ? total : 0;
  p->exec_live_bytes = p->counts_leaks ? 0 : total;
  if (top && p->counts_leaks) {
    p->top_bytes = top->bytes;
    p->top_blocks = top->blocks;
    hs_fmt(p->top_function, sizeof p->top_function, "%s", hs_leak_top_function(top));
    hs_leak_top_site(top, p->top_site, sizeof p->top_site);
    hs_format_stack(top, p->top_stack, sizeof p->top_stack, 16);
  }
  p->comp = *ms_analysis_completeness(a);
  /* A sampled run proves no limit with its point estimate (a leak no sample saw is 0): the
   * assertions compare the interval's upper end, which the truth stays under 95 % of the
   * time. For a scenario's module-filtered leak, the whole process's upper end is used. */
  p->sampled = ms_analysis_sampled(a);
  p->leak_high = p->leaked_bytes;
  p->peak_high = p->peak_live_bytes;
  if (p->sampled) {
    double lh = ms_analysis_estimate(a, MS_EST_LEAKED_BYTES).ci95_high;
    double ph = ms_analysis_estimate(a, MS_EST_PEAK_LIVE_BYTES).ci95_high;
    if (p->counts_leaks && lh > (double)p->leak_high) p->leak_high = (uint64_t)ceil(lh);
    if (ph > (double)p->peak_high) p->peak_high = (uint64_t)ceil(ph);
  }
}

int hs_proc_selected(const hs_proc_t *p, const char *sel, pid_t child_pid) {
  if (!sel) return 1;
  if (!strcmp(sel, "main")) return p->pid == child_pid;
  char *end;
  long v = strtol(sel, &end, 10);
  if (*sel && !*end) return p->pid == v;
  return !strcmp(p->name, sel);
}

int hs_tree_load(hs_tree_t *t, char **dirs, size_t n, size_t main_idx, const ms_analysis_t *main_a,
                 const char *main_module, const hs_opts_t *o, char *err, size_t errlen) {
  memset(t, 0, sizeof *t);
  t->p = calloc(n ? n : 1, sizeof *t->p);
  if (!t->p) return -ENOMEM;
  t->n = n;
  t->main = main_idx;
  for (size_t i = 0; i < n; i++) {
    hs_proc_t *p = &t->p[i];
    hs_fmt(p->run_dir, sizeof p->run_dir, "%s", dirs[i]);
    if (i == main_idx) {
      proc_identity(p, ms_analysis_run(main_a));
      proc_leaks(p, main_a, main_module);
      continue;
    }
    ms_analysis_opts_t ao = hs_analysis_opts(o, NULL, 1);
    ms_analysis_t *a = NULL;
    char e[512] = "";
    int rc = ms_analyze_run(dirs[i], &ao, &a, e, sizeof e);
    if (rc) {
      hs_fmt(err, errlen, "cannot analyze %s: %s", dirs[i], *e ? e : ms_analysis_strerror(rc));
      return rc;
    }
    proc_identity(p, ms_analysis_run(a));
    proc_leaks(p, a, NULL);
    ms_analysis_free(a);
  }
  check_exec_successors(t);
  check_untracked_children(t);
  return 0;
}

void hs_tree_free(hs_tree_t *t) {
  for (size_t i = 0; t->p && i < t->n; i++) {
    free(t->p[i].kids);
    free(t->p[i].kids_env);
  }
  free(t->p);
  memset(t, 0, sizeof *t);
}

cJSON *hs_tree_json(const hs_tree_t *t, const hs_tree_sum_t *sum) {
  cJSON *tree = cJSON_CreateObject();
  cJSON_AddNumberToObject(tree, "processes", (double)t->n);
  cJSON_AddNumberToObject(tree, "selected", (double)sum->selected);
  if (sum->selector) cJSON_AddStringToObject(tree, "process_filter", sum->selector);
  else cJSON_AddNullToObject(tree, "process_filter");
  cJSON_AddNumberToObject(tree, "allocations", (double)sum->allocations);
  cJSON_AddNumberToObject(tree, "frees", (double)sum->frees);
  cJSON_AddNumberToObject(tree, "leaked_bytes", (double)sum->leaked_bytes);
  cJSON_AddNumberToObject(tree, "largest_process_peak_bytes", (double)sum->peak);
  cJSON_AddBoolToObject(tree, "sampled", sum->sampled);
  cJSON_AddNumberToObject(tree, "leaked_bytes_ci95_high", (double)sum->leak_high);
  cJSON_AddNumberToObject(tree, "largest_process_peak_ci95_high", (double)sum->peak_high);
  cJSON_AddBoolToObject(tree, "complete", sum->complete);
  if (sum->events_lost >= 0) cJSON_AddNumberToObject(tree, "events_lost", (double)sum->events_lost);
  else cJSON_AddNullToObject(tree, "events_lost");
  cJSON_AddBoolToObject(tree, "partial_allowed", sum->allow_partial);
  if (sum->threads_tracked >= 0)
    cJSON_AddNumberToObject(tree, "threads_tracked", (double)sum->threads_tracked);
  else cJSON_AddNullToObject(tree, "threads_tracked");
  cJSON *arr = cJSON_AddArrayToObject(tree, "process_list");
  for (size_t i = 0; i < t->n; i++) {
    const hs_proc_t *p = &t->p[i];
    cJSON *e = cJSON_CreateObject();
    cJSON_AddNumberToObject(e, "pid", (double)p->pid);
    cJSON_AddNumberToObject(e, "parent", (double)p->ppid);
    cJSON_AddStringToObject(e, "name", p->name);
    cJSON_AddStringToObject(e, "command", p->cmdline);
    cJSON_AddStringToObject(e, "origin", p->origin);
    cJSON_AddStringToObject(e, "end_reason", p->end_reason);
    cJSON_AddStringToObject(e, "run_dir", p->run_dir);
    cJSON_AddBoolToObject(e, "main", i == t->main);
    cJSON_AddBoolToObject(e, "selected", p->selected);
    if (p->threads_tracked >= 0)
      cJSON_AddNumberToObject(e, "threads_tracked", (double)p->threads_tracked);
    else cJSON_AddNullToObject(e, "threads_tracked");
    cJSON_AddNumberToObject(e, "allocations", (double)p->allocations);
    cJSON_AddNumberToObject(e, "frees", (double)p->frees);
    cJSON_AddNumberToObject(e, "peak_live_bytes", (double)p->peak_live_bytes);
    cJSON_AddNumberToObject(e, "leaked_bytes", (double)p->leaked_bytes);
    cJSON_AddNumberToObject(e, "live_at_exec_bytes", (double)p->exec_live_bytes);
    if (p->top_bytes) {
      cJSON *lk = cJSON_AddObjectToObject(e, "largest_leak");
      cJSON_AddNumberToObject(lk, "bytes", (double)p->top_bytes);
      cJSON_AddNumberToObject(lk, "blocks", (double)p->top_blocks);
      cJSON_AddStringToObject(lk, "function", p->top_function);
      cJSON_AddStringToObject(lk, "stack", p->top_stack);
    } else {
      cJSON_AddNullToObject(e, "largest_leak");
    }
    cJSON_AddBoolToObject(e, "complete", p->comp.complete);
    if (p->comp.events_lost >= 0) cJSON_AddNumberToObject(e, "events_lost", (double)p->comp.events_lost);
    else cJSON_AddNullToObject(e, "events_lost");
    cJSON_AddBoolToObject(e, "salvaged", p->comp.salvaged);
    cJSON_AddBoolToObject(e, "tracking_stopped", p->comp.stopped);
    cJSON_AddStringToObject(e, "incomplete_reason", p->comp.reason);
    cJSON_AddItemToArray(arr, e);
  }
  return tree;
}

/* Sums the selected processes. */
void hs_tree_sum(hs_tree_t *t, const char *selector, pid_t child_pid, int allow_partial,
                 hs_tree_sum_t *s) {
  memset(s, 0, sizeof *s);
  s->selector = selector;
  s->allow_partial = allow_partial;
  s->complete = 1;
  for (size_t i = 0; i < t->n; i++) {
    hs_proc_t *p = &t->p[i];
    p->selected = hs_proc_selected(p, selector, child_pid);
    if (!p->selected) continue;
    s->selected++;
    if (p->threads_tracked < 0 || s->threads_tracked < 0) s->threads_tracked = -1;
    else s->threads_tracked += p->threads_tracked;
    s->allocations += p->allocations;
    s->frees += p->frees;
    s->leaked_bytes += p->leaked_bytes;
    s->leak_high += p->leak_high;
    s->sampled |= p->sampled;
    if (p->peak_live_bytes >= s->peak) s->peak = p->peak_live_bytes;
    if (p->peak_high >= s->peak_high) s->peak_high = p->peak_high, s->peak_proc = p;
    if (p->leaked_bytes && (!s->top_leak_proc || p->top_bytes > s->top_leak_proc->top_bytes))
      s->top_leak_proc = p;
    if (!p->comp.complete) {
      if (s->complete) s->first_incomplete = p;
      s->complete = 0;
      if (p->comp.events_lost < 0 || s->events_lost < 0) s->events_lost = -1;
      else s->events_lost += p->comp.events_lost;
    }
    if (p->comp.stopped && !s->stopped) s->stopped = p;
  }
}
