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
      /* Massif's root line; no children: the pass keeps no per-stack live bytes at the peak,
       * and a tree of other figures (leaks, hot stacks) would be wrong here. */
      fprintf(f, "heap_tree=peak\nn0: %llu (heap allocation functions) malloc/new/new[], "
                 "--alloc-fns, etc.\n", (unsigned long long)pts[i].live_bytes);
    } else {
      fputs("heap_tree=empty\n", f);
    }
  }
  return finish(&of, path, err, errlen);
}
