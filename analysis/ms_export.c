/* ms_export.c: the analysis in other tools' formats (docs/exports.md): collapsed stacks for
 * flamegraph.pl, inferno and speedscope, and Valgrind Massif's massif.out for ms_print and
 * massif-visualizer. Both are line formats with no library to write them; each file is
 * written under a temporary name and renamed into place whole (ms_files.h).
 *
 * Function, file and command names come from the trace: they are data. Each format has
 * characters that would change its structure (';' splits a collapsed frame, a newline ends a
 * line, '#' starts an ms_print comment); those, and control characters, are written as '?'. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"
#include "ms_files.h"

static void put_clean(FILE *f, const char *s, const char *bad) {
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    fputc(*c < 0x20 || *c == 0x7f || strchr(bad, *c) ? '?' : *c, f);
}

/* One frame's name in a collapsed line: the function (the inlined one after the function it
 * is in, as the flame graph shows them), or the module and offset when it is unknown. */
static void put_collapsed_frame(FILE *f, const ms_frame_t *fr) {
  const char *bad = ";";
  if (*fr->function) {
    put_clean(f, fr->function, bad);
    if (fr->inlined && *fr->inlined) {
      fputc(';', f);
      put_clean(f, fr->inlined, bad);
    }
  } else if (*fr->module) {
    const char *base = strrchr(fr->module, '/');
    fputc('[', f);
    put_clean(f, base ? base + 1 : fr->module, bad);
    fprintf(f, "+0x%llx]", (unsigned long long)fr->module_offset);
  } else {
    fprintf(f, "[0x%llx]", (unsigned long long)fr->address);
  }
}

static int finish(ms_out_file_t *of, const char *path, char *err, size_t errlen) {
  int rc = ferror(of->f) ? -EIO : 0;
  if (rc) {
    ms_out_abort(of);
  } else {
    rc = ms_out_commit(of);
  }
  if (rc)
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
  return rc;
}

int ms_export_collapsed(const ms_analysis_t *a, const char *path, int by_count, char *err,
                        size_t errlen) {
  ms_out_file_t of;
  int rc = ms_out_open(&of, path);
  if (rc) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    return rc;
  }
  const ms__flame_t *fl = &a->flame;
  for (size_t i = 0; i < fl->nall; i++) {
    const struct ms__fg_total_s *t = &fl->all[i];
    uint64_t n = by_count ? t->allocations : t->allocated_bytes;
    if (!n) /* malloc(0) only: a line of 0 adds nothing and some readers drop it anyway */
      continue;
    const ms_stack_t *rs =
        t->stack_id && t->stack_id != UINT64_MAX ? ms_run_stack(a->run, t->stack_id) : NULL;
    if (!rs || !rs->nframes) {
      /* The same words as the dashboard's flame graph for allocations without a stack. */
      fputs(t->stack_id == UINT64_MAX ? "[stack not in the trace]" : "[no stack recorded]",
            of.f);
    } else {
      if (rs->truncated) /* the root is missing: say so rather than root at a middle frame */
        fputs("[truncated];", of.f);
      for (uint32_t k = rs->nframes; k-- > 0;) { /* recorded innermost first */
        ms_frame_t fr;
        ms_symbolize(a->sym, rs->frames[k], a->opts.symbolize, &fr);
        put_collapsed_frame(of.f, &fr);
        if (k)
          fputc(';', of.f);
      }
    }
    fprintf(of.f, " %llu\n", (unsigned long long)n);
  }
  return finish(&of, path, err, errlen);
}

/* meta.txt's cmdline with its %XX escapes undone; bytes ms_print would misread as '?'. */
static void put_cmdline(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned c = (unsigned char)*s;
    unsigned hi, lo;
    if (c == '%' && sscanf(s + 1, "%1x%1x", &hi, &lo) == 2) {
      c = hi * 16 + lo;
      s += 2;
    }
    fputc(c < 0x20 || c == 0x7f || c == '#' ? '?' : (int)c, f);
  }
}

static void put_ms(FILE *f, uint64_t t_ns) {
  /* Massif writes whole ms; a run of a few ms would then show every snapshot at 0 or 1, so
   * the time keeps µs as decimals (ms_print reads them as numbers). */
  fprintf(f, "time=%llu.%03llu\n", (unsigned long long)(t_ns / 1000000),
          (unsigned long long)(t_ns / 1000 % 1000));
}

/* ---- the peak snapshot's heap tree (Massif's "XTree") ------------------------------------
 * Massif's tree is a call tree hung from the allocation functions: the root's children are
 * the allocators' callers (each stack's innermost frame), their children those frames'
 * callers, and so on out to main. A node is one code address (Massif merges by address, so
 * one function called from two lines is two nodes). Siblings are written largest first;
 * those below 1 % of the snapshot's total are folded into one "in N places" line, as
 * Massif does with its default --threshold=1.0 (ms_print then applies its own). */

#define MS_MASSIF_THRESHOLD_PCT 1 /* Massif's default --threshold, written as "1.00%" */

typedef struct mnode_s {
  const ms_frame_t *fr;     /* NULL: the "no stack recorded" node */
  uint64_t bytes;
  size_t first, next;       /* first child, next sibling: indices, 0 = none (0 is the root) */
} mnode_t;

typedef struct mtree_s {
  mnode_t *n;
  size_t len, cap;
} mtree_t;

/* The child of `parent` for frame `fr` (matched by address), added when missing; 0 on ENOMEM
 * (never a valid child: 0 is the root). */
static size_t mtree_child(mtree_t *t, size_t parent, const ms_frame_t *fr) {
  for (size_t c = t->n[parent].first; c; c = t->n[c].next) {
    const ms_frame_t *o = t->n[c].fr;
    if (fr ? o && o->address == fr->address : !o)
      return c;
  }
  if (t->len == t->cap) {
    size_t cap = t->cap * 2;
    mnode_t *n = realloc(t->n, cap * sizeof *n);
    if (!n)
      return 0;
    t->n = n;
    t->cap = cap;
  }
  size_t c = t->len++;
  t->n[c] = (mnode_t){.fr = fr, .bytes = 0, .first = 0, .next = t->n[parent].first};
  t->n[parent].first = c;
  return c;
}

static const mnode_t *g_sort_nodes; /* qsort has no context argument in C99 */

static int cmp_node(const void *x, const void *y) {
  const mnode_t *a = &g_sort_nodes[*(const size_t *)x], *b = &g_sort_nodes[*(const size_t *)y];
  if (a->bytes != b->bytes)
    return a->bytes > b->bytes ? -1 : 1;
  uint64_t aa = a->fr ? a->fr->address : 0, ba = b->fr ? b->fr->address : 0;
  return aa < ba ? -1 : aa > ba;
}

/* One node's text after its byte count, Massif's "0xADDR: function (file:line)", or
 * "(in module)" without a line, "???" without a function. */
static void put_massif_frame(FILE *f, const ms_frame_t *fr) {
  static const char bad[] = ""; /* one line each: only control characters are replaced */
  if (!fr) {
    fputs("0x0: ??? (no stack recorded)", f);
    return;
  }
  fprintf(f, "0x%llX: ", (unsigned long long)fr->address);
  put_clean(f, *fr->function ? fr->function : "???", bad);
  if (*fr->file && fr->line > 0) {
    const char *base = strrchr(fr->file, '/');
    fputs(" (", f);
    put_clean(f, base ? base + 1 : fr->file, bad);
    fprintf(f, ":%d)", fr->line);
  } else if (*fr->module) {
    fputs(" (in ", f);
    put_clean(f, fr->module, bad);
    fputc(')', f);
  }
}

/* Writes node `i`'s children at depth `depth` (one space each). `extra_bytes`/`extra_places`:
 * bytes of stacks not in the tree (listed nowhere), folded into the root's "in N places". */
static int put_children(FILE *f, const mtree_t *t, size_t i, int depth, uint64_t total,
                        uint64_t extra_bytes, size_t extra_places) {
  size_t nc = 0;
  for (size_t c = t->n[i].first; c; c = t->n[c].next)
    nc++;
  size_t *kids = malloc((nc ? nc : 1) * sizeof *kids);
  if (!kids)
    return -ENOMEM;
  nc = 0;
  for (size_t c = t->n[i].first; c; c = t->n[c].next)
    kids[nc++] = c;
  g_sort_nodes = t->n;
  qsort(kids, nc, sizeof *kids, cmp_node);
  uint64_t insig = extra_bytes;
  size_t ninsig = extra_places, nsig = 0;
  for (size_t k = 0; k < nc; k++) {
    if (t->n[kids[k]].bytes * 100 >= total * MS_MASSIF_THRESHOLD_PCT)
      nsig++;
    else {
      insig += t->n[kids[k]].bytes;
      ninsig++;
    }
  }
  int rc = 0, folded = !ninsig;
  for (size_t k = 0; k <= nsig && !rc; k++) {
    /* The folded line takes its place among its siblings by size, as in Massif's files. */
    if (!folded && (k == nsig || t->n[kids[k]].bytes < insig)) {
      fprintf(f, "%*sn0: %llu in %zu place%s below massif's threshold (%d.00%%)\n", depth, "",
              (unsigned long long)insig, ninsig, ninsig == 1 ? "," : "s, all",
              MS_MASSIF_THRESHOLD_PCT);
      folded = 1;
    }
    if (k == nsig)
      break;
    const mnode_t *c = &t->n[kids[k]];
    size_t gsig = 0, ginsig = 0; /* the child's own count: its significant children + fold */
    for (size_t g = c->first; g; g = t->n[g].next)
      t->n[g].bytes * 100 >= total * MS_MASSIF_THRESHOLD_PCT ? gsig++ : ginsig++;
    fprintf(f, "%*sn%zu: %llu ", depth, "", gsig + (ginsig > 0), (unsigned long long)c->bytes);
    put_massif_frame(f, c->fr);
    fputc('\n', f);
    rc = put_children(f, t, kids[k], depth + 1, total, 0, 0);
  }
  free(kids);
  return rc;
}

/* The peak's tree from the live bytes per stack at the peak (ms_peak.c). 1 when written,
 * 0 when not available (sampled run, not computed, figures that do not add up to `total`:
 * the caller writes the root only), -ENOMEM. */
static int put_peak_tree(FILE *f, const ms_analysis_t *a, uint64_t total) {
  size_t nall = 0, n = ms_analysis_npeak_stacks(a, &nall);
  uint64_t stack_id, sum;
  size_t nf;
  if (!ms_analysis_peak_computed(a, NULL) ||
      (ms_analysis_peak_event(a, &stack_id, &nf, &sum), sum != total))
    return 0;
  mtree_t t = {malloc(64 * sizeof(mnode_t)), 1, 64};
  if (!t.n)
    return -ENOMEM;
  t.n[0] = (mnode_t){NULL, total, 0, 0};
  uint64_t listed = 0;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const ms_leak_t *l = ms_analysis_peak_stack(a, i);
    listed += l->bytes;
    size_t at = 0;
    for (size_t k = 0; k < (l->nframes ? l->nframes : 1); k++) { /* innermost first */
      at = mtree_child(&t, at, l->nframes ? &l->frames[k] : NULL);
      if (!at) {
        rc = -ENOMEM;
        break;
      }
      t.n[at].bytes += l->bytes;
    }
  }
  if (!rc && listed > total)
    rc = 1; /* cannot happen (sum == total); ms_print would die on it: root only */
  if (!rc) {
    size_t sig = 0, insig = nall - n;
    for (size_t c = t.n[0].first; c; c = t.n[c].next)
      t.n[c].bytes * 100 >= total * MS_MASSIF_THRESHOLD_PCT ? sig++ : insig++;
    fprintf(f, "heap_tree=peak\nn%zu: %llu (heap allocation functions) malloc/new/new[], "
               "--alloc-fns, etc.\n", sig + (insig > 0), (unsigned long long)total);
    rc = put_children(f, &t, 0, 1, total, total - listed, nall - n);
    rc = rc ? rc : 1;
  } else if (rc == 1) {
    rc = 0;
  }
  free(t.n);
  return rc;
}

int ms_export_massif(const ms_analysis_t *a, const char *path, char *err, size_t errlen) {
  ms_out_file_t of;
  int rc = ms_out_open(&of, path);
  if (rc) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    return rc;
  }
  FILE *f = of.f;
  const ms_timeline_point_t *pts;
  size_t n = ms_analysis_timeline(a, -1, &pts);
  size_t peak = 0;
  for (size_t i = 1; i < n; i++)
    if (pts[i].live_bytes > pts[peak].live_bytes)
      peak = i;
  fputs("desc: memscope export: live heap bytes (requested sizes) over the process timeline;"
        " extra-heap and stacks not measured (0)\n", f);
  const char *cmd = ms_meta_get(ms_run_meta(a->run), "cmdline");
  fputs("cmd: ", f);
  put_cmdline(f, cmd && *cmd ? cmd : "(unknown)");
  fputs("\ntime_unit: ms\n", f);
  const ms_timeline_point_t zero = {0, 0};
  if (!n) { /* no allocation: one empty snapshot, as ms_print needs at least one */
    pts = &zero;
    n = 1;
  }
  for (size_t i = 0; i < n; i++) {
    fprintf(f, "#-----------\nsnapshot=%zu\n#-----------\n", i);
    put_ms(f, pts[i].t_ns);
    fprintf(f, "mem_heap_B=%llu\nmem_heap_extra_B=0\nmem_stacks_B=0\n",
            (unsigned long long)pts[i].live_bytes);
    if (i == peak && pts[i].live_bytes) {
      /* The call tree of the live bytes at the peak when the analysis computed them
       * (opts.peak_stacks, full mode); else Massif's root line alone: a sampled run's
       * per-stack bytes are not the program's at its peak, and a tree of other figures
       * (leaks, hot stacks) would be wrong here. */
      rc = put_peak_tree(f, a, pts[i].live_bytes);
      if (rc < 0) {
        ms_out_abort(&of);
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
        return rc;
      }
      if (!rc)
        fprintf(f, "heap_tree=peak\nn0: %llu (heap allocation functions) malloc/new/new[], "
                   "--alloc-fns, etc.\n", (unsigned long long)pts[i].live_bytes);
    } else {
      fputs("heap_tree=empty\n", f);
    }
  }
  return finish(&of, path, err, errlen);
}
