/* front_report.c: the `memscope` text report, in heaptrack_print's habits, from a summary.json
 * tree: totals, the peak with its stack, allocation sites by calls, by peak contribution and
 * by bytes, temporaries and leaks.
 *
 * A site is what heaptrack_print calls one: the innermost frame that is not an allocator
 * function (operator new/new[] are skipped, as heaptrack skips them), merged by function,
 * file, line and module (frames whose function is unknown: by module alone, as heaptrack
 * merges them); the call stacks that reach it are listed under it, callers only. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"

typedef struct st_s {        /* one allocation stack */
  uint64_t id;
  uint64_t calls, bytes;     /* allocation calls and bytes (hot_stacks) */
  uint64_t temps;            /* temporary allocations (hot_stacks) */
  uint64_t peak, peak_blocks;/* live at the peak (peak_stacks) */
  uint64_t leaked, leaked_blocks;
  const cJSON *frames;       /* array of frame objects, innermost first */
  int site_frame;            /* index of the site frame in frames */
  size_t site;               /* index into the site table */
} st_t;

typedef struct site_s {
  char *key;
  const cJSON *frame;        /* the site's frame (of its first stack) */
  uint64_t calls, bytes, temps, peak, leaked, leaked_blocks;
  size_t *stacks, nstacks, cap;
} site_t;

typedef struct rep_s {
  st_t *st;
  size_t nst, capst;
  site_t *sites;
  size_t nsites;
  const fr_opts_t *o;
  FILE *out;
} rep_t;

static const char *jstr(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}
/* A count from the summary: numbers, or the raw decimal text ms_report.c writes above 2^53. */
static uint64_t ju64(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (cJSON_IsNumber(v))
    return v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
  if (cJSON_IsRaw(v) && v->valuestring)
    return strtoull(v->valuestring, NULL, 10);
  return 0;
}

/* Trace strings are data: a control character could move the cursor or forge lines. */
static void put_safe(FILE *f, const char *s) {
  for (const unsigned char *c = (const unsigned char *)s; *c; c++)
    fputc(*c < 0x20 || *c == 0x7f ? '?' : *c, f);
}

/* heaptrack_print's size style: 1000-based, three significant digits, "B" left off. */
static const char *human(uint64_t v, char *buf, size_t n) {
  const char *u[] = {"B", "K", "M", "G", "T"};
  double x = (double)v;
  int k = 0;
  while (x >= 1000 && k < 4) {
    x /= 1000;
    k++;
  }
  if (k == 0)
    snprintf(buf, n, "%" PRIu64 "B", v);
  else
    snprintf(buf, n, "%.2f%s", x, u[k]);
  return buf;
}

static int is_allocator(const char *fn) {
  return !strncmp(fn, "operator new", 12);
}

static int site_index(const cJSON *frames) {
  int n = cJSON_GetArraySize(frames);
  for (int i = 0; i < n; i++)
    if (!is_allocator(jstr(cJSON_GetArrayItem(frames, i), "function")))
      return i;
  return 0;
}

static char *frame_key(const cJSON *f) {
  const char *fn = jstr(f, "function");
  size_t n = strlen(fn) + strlen(jstr(f, "file")) + strlen(jstr(f, "module")) + 64;
  char *k = malloc(n);
  if (!k)
    return NULL;
  if (!f)
    snprintf(k, n, "(no stack)");
  else if (*fn)
    snprintf(k, n, "%s\x1f%s\x1f%" PRIu64 "\x1f%s", fn, jstr(f, "file"), ju64(f, "line"),
             jstr(f, "module"));
  else /* unknown function: one site per module, as heaptrack_print merges them (its sites
        * compare function, file, line and module, all unknown but the module here) */
    snprintf(k, n, "\x1f%s", jstr(f, "module"));
  return k;
}

static int passes_filter(const rep_t *r, const cJSON *frames) {
  if (!r->o->filter || !*r->o->filter)
    return 1;
  const cJSON *f;
  cJSON_ArrayForEach(f, frames)
    if (strstr(jstr(f, "function"), r->o->filter))
      return 1;
  return 0;
}

/* Appends one stack entry (merged with its others by merge_stacks). */
static st_t *add_entry(rep_t *r, const cJSON *g) {
  if (r->nst == r->capst) {
    size_t cap = r->capst ? 2 * r->capst : 256;
    st_t *n = realloc(r->st, cap * sizeof *n);
    if (!n)
      return NULL;
    r->st = n;
    r->capst = cap;
  }
  st_t *s = &r->st[r->nst++];
  memset(s, 0, sizeof *s);
  s->id = ju64(g, "stack_id");
  s->frames = cJSON_GetObjectItemCaseSensitive(g, "stack");
  return s;
}

static int cmp_id(const void *x, const void *y) {
  const st_t *a = x, *b = y;
  return a->id < b->id ? -1 : a->id > b->id;
}

/* One entry per stack id: hot_stacks by_count and by_bytes list the same stack twice. */
static void merge_stacks(rep_t *r) {
  qsort(r->st, r->nst, sizeof *r->st, cmp_id);
  size_t w = 0;
  for (size_t i = 0; i < r->nst; i++) {
    st_t *s = &r->st[i];
    if (w && r->st[w - 1].id == s->id) {
      st_t *d = &r->st[w - 1];
      /* calls/bytes come twice from by_count and by_bytes: the same figures */
      if (!d->calls) {
        d->calls = s->calls;
        d->bytes = s->bytes;
        d->temps = s->temps;
      }
      d->peak += s->peak;
      d->peak_blocks += s->peak_blocks;
      d->leaked += s->leaked;
      d->leaked_blocks += s->leaked_blocks;
      if (!cJSON_GetArraySize(d->frames))
        d->frames = s->frames;
      continue;
    }
    r->st[w++] = *s;
  }
  r->nst = w;
}

static int cmp_key(const void *x, const void *y) {
  const site_t *a = x, *b = y;
  return strcmp(a->key, b->key);
}

/* Groups the stacks by site. 0 or -1 (out of memory). */
static int build_sites(rep_t *r) {
  r->sites = calloc(r->nst ? r->nst : 1, sizeof *r->sites);
  if (!r->sites)
    return -1;
  /* one site per stack first, then sorted by key and merged */
  for (size_t i = 0; i < r->nst; i++) {
    st_t *s = &r->st[i];
    s->site_frame = site_index(s->frames);
    const cJSON *f = cJSON_GetArrayItem(s->frames, s->site_frame);
    site_t *t = &r->sites[i];
    t->key = frame_key(f);
    if (!t->key)
      return -1;
    t->frame = f;
    t->stacks = malloc(sizeof *t->stacks);
    if (!t->stacks)
      return -1;
    t->stacks[0] = i;
    t->nstacks = t->cap = 1;
    t->calls = s->calls;
    t->bytes = s->bytes;
    t->temps = s->temps;
    t->peak = s->peak;
    t->leaked = s->leaked;
    t->leaked_blocks = s->leaked_blocks;
  }
  qsort(r->sites, r->nst, sizeof *r->sites, cmp_key);
  size_t w = 0;
  for (size_t i = 0; i < r->nst; i++) {
    site_t *t = &r->sites[i];
    if (w && !strcmp(r->sites[w - 1].key, t->key)) {
      site_t *d = &r->sites[w - 1];
      if (d->nstacks == d->cap) {
        size_t *n = realloc(d->stacks, 2 * d->cap * sizeof *n);
        if (!n)
          return -1;
        d->stacks = n;
        d->cap *= 2;
      }
      d->stacks[d->nstacks++] = t->stacks[0];
      d->calls += t->calls;
      d->bytes += t->bytes;
      d->temps += t->temps;
      d->peak += t->peak;
      d->leaked += t->leaked;
      d->leaked_blocks += t->leaked_blocks;
      free(t->key);
      free(t->stacks);
      continue;
    }
    r->sites[w++] = *t;
  }
  r->nsites = w;
  for (size_t i = 0; i < r->nsites; i++)
    for (size_t k = 0; k < r->sites[i].nstacks; k++)
      r->st[r->sites[i].stacks[k]].site = i;
  return 0;
}

static void free_rep(rep_t *r) {
  for (size_t i = 0; i < r->nsites; i++) {
    free(r->sites[i].key);
    free(r->sites[i].stacks);
  }
  free(r->sites);
  free(r->st);
}

/* One frame: the function, then "at file:line" and "in module" indented below it. */
static void print_frame(FILE *out, const cJSON *f, int indent, int site) {
  const char *fn = jstr(f, "function"), *file = jstr(f, "file"), *mod = jstr(f, "module");
  fprintf(out, "%*s", indent, "");
  if (!f)
    fputs("<no stack recorded>", out);
  else if (*fn)
    put_safe(out, fn);
  else if (site) /* a site merges every unresolved place of the module */
    fputs("<unresolved function>", out);
  else
    fprintf(out, "<unresolved function> +0x%" PRIx64, ju64(f, "module_offset"));
  const char *inl = jstr(f, "inlined");
  if (*inl) {
    fputs(" (inlined: ", out);
    put_safe(out, inl);
    fputc(')', out);
  }
  fputc('\n', out);
  if (*file) {
    fprintf(out, "%*s  at ", indent, "");
    put_safe(out, file);
    fprintf(out, ":%" PRIu64 "\n", ju64(f, "line"));
  }
  if (*mod) {
    fprintf(out, "%*s  in ", indent, "");
    put_safe(out, mod);
    fputc('\n', out);
  }
}

/* Frames [from, end) of a stack, at most stack_depth of them. */
static void print_frames(const rep_t *r, const cJSON *frames, int from, int indent) {
  int n = cJSON_GetArraySize(frames), shown = 0;
  for (int i = from; i < n; i++, shown++) {
    if (r->o->stack_depth && (size_t)shown >= r->o->stack_depth) {
      fprintf(r->out, "%*s... %d more frames (--stack-depth)\n", indent, "", n - i);
      break;
    }
    print_frame(r->out, cJSON_GetArrayItem(frames, i), indent, 0);
  }
}

enum by_e { BY_CALLS, BY_PEAK, BY_BYTES, BY_TEMPS, BY_LEAKED };

static uint64_t site_fig(const site_t *t, int by) {
  switch (by) {
  case BY_CALLS: return t->calls;
  case BY_PEAK: return t->peak;
  case BY_BYTES: return t->bytes;
  case BY_TEMPS: return t->temps;
  default: return t->leaked;
  }
}
static uint64_t stack_fig(const st_t *s, int by) {
  switch (by) {
  case BY_CALLS: return s->calls;
  case BY_PEAK: return s->peak;
  case BY_BYTES: return s->bytes;
  case BY_TEMPS: return s->temps;
  default: return s->leaked;
  }
}

static double pct(uint64_t part, uint64_t whole) {
  return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static const rep_t *sort_rep;
static int sort_by;
/* Largest first; ties by the other figures, then by key, so the order is deterministic. */
static int cmp_site(const void *x, const void *y) {
  const site_t *a = &sort_rep->sites[*(const size_t *)x], *b = &sort_rep->sites[*(const size_t *)y];
  uint64_t fa = site_fig(a, sort_by), fb = site_fig(b, sort_by);
  if (fa != fb)
    return fa > fb ? -1 : 1;
  if (a->bytes != b->bytes)
    return a->bytes > b->bytes ? -1 : 1;
  return strcmp(a->key, b->key);
}
static int cmp_stack(const void *x, const void *y) {
  const st_t *a = &sort_rep->st[*(const size_t *)x], *b = &sort_rep->st[*(const size_t *)y];
  uint64_t fa = stack_fig(a, sort_by), fb = stack_fig(b, sort_by);
  if (fa != fb)
    return fa > fb ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

/* One heaptrack_print section: the sites with the largest figure, each with its stacks. */
static int print_section(rep_t *r, const char *title, int by) {
  FILE *out = r->out;
  size_t *idx = malloc((r->nsites ? r->nsites : 1) * sizeof *idx), n = 0;
  if (!idx)
    return -1;
  for (size_t i = 0; i < r->nsites; i++)
    if (site_fig(&r->sites[i], by))
      idx[n++] = i;
  sort_rep = r;
  sort_by = by;
  qsort(idx, n, sizeof *idx, cmp_site);
  fprintf(out, "%s\n", title);
  if (!n)
    fputs("(none)\n", out);
  char b1[32], b2[32];
  for (size_t k = 0; k < n && k < r->o->limit; k++) {
    site_t *t = &r->sites[idx[k]];
    switch (by) {
    case BY_CALLS:
      fprintf(out, "%" PRIu64 " calls to allocation functions with %s peak consumption from\n",
              t->calls, human(t->peak, b1, sizeof b1));
      break;
    case BY_PEAK:
      fprintf(out, "%s peak memory consumed over %" PRIu64 " calls from\n",
              human(t->peak, b1, sizeof b1), t->calls);
      break;
    case BY_BYTES:
      fprintf(out, "%s allocated over %" PRIu64 " calls from\n", human(t->bytes, b1, sizeof b1),
              t->calls);
      break;
    case BY_TEMPS:
      fprintf(out, "%" PRIu64 " temporary allocations of %" PRIu64 " allocations in total "
              "(%.2f%%) from\n", t->temps, t->calls, pct(t->temps, t->calls));
      break;
    default:
      fprintf(out, "%s leaked over %" PRIu64 " calls from\n", human(t->leaked, b1, sizeof b1),
              t->leaked_blocks);
    }
    print_frame(out, t->frame, 0, 1);
    /* the stacks that reach the site, largest first */
    size_t *si = malloc(t->nstacks * sizeof *si), m = 0;
    if (!si) {
      free(idx);
      return -1;
    }
    for (size_t j = 0; j < t->nstacks; j++)
      if (stack_fig(&r->st[t->stacks[j]], by))
        si[m++] = t->stacks[j];
    qsort(si, m, sizeof *si, cmp_stack);
    for (size_t j = 0; j < m && j < r->o->stacks_per_site; j++) {
      const st_t *s = &r->st[si[j]];
      switch (by) {
      case BY_CALLS:
        fprintf(out, "  %" PRIu64 " calls with %s peak consumption from:\n", s->calls,
                human(s->peak, b1, sizeof b1));
        break;
      case BY_PEAK:
        fprintf(out, "  %s consumed over %" PRIu64 " calls from:\n",
                human(s->peak, b1, sizeof b1), s->calls);
        break;
      case BY_BYTES:
        fprintf(out, "  %s allocated over %" PRIu64 " calls from:\n",
                human(s->bytes, b1, sizeof b1), s->calls);
        break;
      case BY_TEMPS:
        fprintf(out, "  %" PRIu64 " temporary allocations of %" PRIu64 " allocations in total "
                "(%.2f%%) from:\n", s->temps, s->calls, pct(s->temps, s->calls));
        break;
      default:
        fprintf(out, "  %s leaked over %" PRIu64 " calls from:\n",
                human(s->leaked, b1, sizeof b1), s->leaked_blocks);
      }
      /* an unresolved site merges places: each stack then shows its own, with its offset */
      int unresolved = !*jstr(cJSON_GetArrayItem(s->frames, s->site_frame), "function");
      print_frames(r, s->frames, s->site_frame + !unresolved, 4);
    }
    if (m > r->o->stacks_per_site)
      fprintf(out, "  and %zu more call stacks (--stacks-per-site)\n", m - r->o->stacks_per_site);
    free(si);
    (void)b2;
  }
  if (n > r->o->limit)
    fprintf(out, "... and %zu more sites (-n/--limit)\n", n - r->o->limit);
  fputc('\n', out);
  free(idx);
  return 0;
}

static void ns_str(uint64_t ns, char *buf, size_t n) {
  snprintf(buf, n, "%.3f s", (double)ns / 1e9);
}

/* Collects the stacks of one array of the summary. kind: 0 hot, 1 peak, 2 leak. */
static int collect(rep_t *r, const cJSON *arr, int kind) {
  const cJSON *g;
  cJSON_ArrayForEach(g, arr) {
    if (kind == 2 && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g, "suppressed")))
      continue;
    if (!passes_filter(r, cJSON_GetObjectItemCaseSensitive(g, "stack")))
      continue;
    st_t *s = add_entry(r, g);
    if (!s)
      return -1;
    if (kind == 0) {
      s->calls = ju64(g, "allocations");
      s->bytes = ju64(g, "allocated_bytes");
      s->temps = ju64(g, "temporary_allocations");
    } else if (kind == 1) {
      s->peak = ju64(g, "live_bytes");
      s->peak_blocks = ju64(g, "live_blocks");
    } else {
      s->leaked = ju64(g, "bytes");
      s->leaked_blocks = ju64(g, "blocks");
    }
  }
  return 0;
}

/* meta.txt's cmdline: arguments joined by spaces, other bytes as %XX. Printable ones are
 * shown as themselves (heaptrack prints the command so); control bytes stay escaped. */
static void put_cmdline(FILE *out, const char *s) {
  for (; *s; s++) {
    unsigned v;
    if (s[0] == '%' && s[1] && s[2] && sscanf(s + 1, "%2x", &v) == 1 && v >= 0x20 && v < 0x7f) {
      fputc((int)v, out);
      s += 2;
    } else {
      fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
    }
  }
}

static void print_summary(FILE *out, const cJSON *sum, const cJSON *pk, const fr_opts_t *o) {
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(sum, "run");
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(sum, "totals");
  char b1[32], b2[64];
  fputs("memscope report of: ", out);
  if (*jstr(run, "cmdline"))
    put_cmdline(out, jstr(run, "cmdline"));
  else
    put_safe(out, jstr(run, "exe"));
  fprintf(out, "\npid %" PRIu64 ", trace ", ju64(run, "pid"));
  put_safe(out, jstr(run, "dir"));
  fputc('\n', out);
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(run, "partial"))) {
    fputs("WARNING: the trace is partial: ", out);
    put_safe(out, jstr(cJSON_GetObjectItemCaseSensitive(run, "completeness"), "reason"));
    fputc('\n', out);
  }
  const cJSON *mode = cJSON_GetObjectItemCaseSensitive(sum, "mode");
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(mode, "estimated"))) {
    fputs("NOTE: sampled run (", out);
    put_safe(out, jstr(mode, "sample"));
    fputs("): totals are estimates\n", out);
  }
  fputs("\nSUMMARY\n", out);
  uint64_t dur = ju64(t, "duration_ns"), calls = ju64(t, "allocations");
  ns_str(dur, b2, sizeof b2);
  fprintf(out, "total runtime (first to last event): %s\n", b2);
  fprintf(out, "calls to allocation functions: %" PRIu64 " (%.0f/s)\n", calls,
          dur ? (double)calls / ((double)dur / 1e9) : 0.0);
  fprintf(out, "  of which reallocs: %" PRIu64 "\n", ju64(t, "reallocs"));
  fprintf(out, "frees: %" PRIu64 "\n", ju64(t, "frees"));
  uint64_t tmp = ju64(t, "temporary_allocations");
  fprintf(out, "temporary memory allocations: %" PRIu64 " (%.2f %% of the calls)\n", tmp,
          calls ? 100.0 * (double)tmp / (double)calls : 0.0);
  fprintf(out, "bytes allocated in total: %s (%" PRIu64 " B)\n",
          human(ju64(t, "allocated_bytes"), b1, sizeof b1), ju64(t, "allocated_bytes"));
  uint64_t first = ju64(t, "first_ts_ns"), pt = ju64(t, "peak_time_ns");
  ns_str(pt > first ? pt - first : 0, b2, sizeof b2);
  fprintf(out, "peak heap memory consumption: %s (%" PRIu64 " B) after %s\n",
          human(ju64(t, "peak_live_bytes"), b1, sizeof b1), ju64(t, "peak_live_bytes"), b2);
  fprintf(out, "total memory leaked: %s (%" PRIu64 " B) in %" PRIu64 " blocks\n",
          human(ju64(t, "leaked_bytes"), b1, sizeof b1), ju64(t, "leaked_bytes"),
          ju64(t, "leaked_blocks"));
  if (ju64(t, "suppressed_leaked_bytes"))
    fprintf(out, "suppressed leaks: %s (%" PRIu64 " B) in %" PRIu64 " blocks\n",
            human(ju64(t, "suppressed_leaked_bytes"), b1, sizeof b1),
            ju64(t, "suppressed_leaked_bytes"), ju64(t, "suppressed_leaked_blocks"));
  fputs("\nPEAK\n", out);
  if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pk, "computed"))) {
    fputs("the peak's stacks are not in this summary: ", out);
    put_safe(out, pk ? jstr(pk, "reason")
                     : "it was written without them (memscope PROGRAM or memscope print "
                       "TRACE_DIR computes them)");
    fputs("\n\n", out);
    return;
  }
  fprintf(out, "%s live after %s, reached by the allocation from:\n",
          human(ju64(pk, "peak_live_bytes"), b1, sizeof b1), b2);
  const cJSON *ps = cJSON_GetObjectItemCaseSensitive(pk, "peak_stack");
  if (!cJSON_GetArraySize(ps))
    fputs("  <no stack recorded>\n", out);
  rep_t r = {.o = o, .out = out};
  print_frames(&r, ps, 0, 2);
  fputc('\n', out);
}

static void print_temporaries(FILE *out, const cJSON *sum, const fr_opts_t *o) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(sum, "totals");
  fprintf(out, "TEMPORARY ALLOCATIONS BY THREAD\n%" PRIu64 " temporary allocations in all "
          "(freed by the thread's next allocator call, heaptrack's definition):\n",
          ju64(t, "temporary_allocations"));
  const cJSON *th = cJSON_GetObjectItemCaseSensitive(sum, "threads");
  size_t n = (size_t)cJSON_GetArraySize(th), shown = 0;
  const cJSON **v = calloc(n ? n : 1, sizeof *v);
  if (!v)
    return;
  const cJSON *x;
  size_t m = 0;
  cJSON_ArrayForEach(x, th)
    if (ju64(x, "temporary_allocations"))
      v[m++] = x;
  /* largest first (insertion sort: threads are few) */
  for (size_t i = 1; i < m; i++)
    for (size_t j = i; j > 0 && ju64(v[j], "temporary_allocations") >
                                  ju64(v[j - 1], "temporary_allocations"); j--) {
      const cJSON *s = v[j];
      v[j] = v[j - 1];
      v[j - 1] = s;
    }
  for (size_t i = 0; i < m && shown < o->limit; i++, shown++) {
    fprintf(out, "  %" PRIu64 " temporary of %" PRIu64 " calls in thread %" PRIu64 " ",
            ju64(v[i], "temporary_allocations"), ju64(v[i], "allocations"), ju64(v[i], "tid"));
    put_safe(out, jstr(v[i], "name"));
    fputc('\n', out);
  }
  if (!m)
    fputs("  (none)\n", out);
  fputc('\n', out);
  free(v);
}

int fr_print_report(FILE *out, FILE *err, const cJSON *sum, const fr_opts_t *o) {
  if (!cJSON_IsObject(sum) || strcmp(jstr(sum, "schema"), "memscope.summary/1")) {
    fprintf(err, "memscope: not a memscope summary (schema memscope.summary/1)\n");
    return -1;
  }
  rep_t r = {.o = o, .out = out};
  const cJSON *hot = cJSON_GetObjectItemCaseSensitive(sum, "hot_stacks");
  const cJSON *pk = cJSON_GetObjectItemCaseSensitive(sum, "peak_stacks");
  int bad = collect(&r, cJSON_GetObjectItemCaseSensitive(hot, "by_count"), 0) ||
            collect(&r, cJSON_GetObjectItemCaseSensitive(hot, "by_bytes"), 0) ||
            collect(&r, cJSON_GetObjectItemCaseSensitive(pk, "stacks"), 1) ||
            collect(&r, cJSON_GetObjectItemCaseSensitive(sum, "leaks"), 2);
  if (!bad) {
    merge_stacks(&r);
    bad = build_sites(&r);
  }
  if (bad) {
    fprintf(err, "memscope: out of memory\n");
    free_rep(&r);
    return -1;
  }
  print_summary(out, sum, pk, o);
  const cJSON *run = cJSON_GetObjectItemCaseSensitive(sum, "run");
  size_t listed = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(hot, "by_count"));
  if (!pk && ju64(run, "stacks") > listed) /* a harness or memscope-analyze summary */
    fprintf(out, "NOTE: this summary lists %zu of the run's %" PRIu64 " stacks: the sites "
            "below are from those (memscope print TRACE_DIR lists all)\n\n", listed,
            ju64(run, "stacks"));
  if (o->filter && *o->filter) {
    fputs("only stacks through a function containing '", out);
    put_safe(out, o->filter);
    fputs("' (--filter)\n\n", out);
  }
  bad = print_section(&r, "MOST CALLS TO ALLOCATION FUNCTIONS", BY_CALLS) ||
        print_section(&r, "PEAK MEMORY CONSUMERS", BY_PEAK) ||
        print_section(&r, "MOST BYTES ALLOCATED", BY_BYTES) ||
        print_section(&r, "MOST TEMPORARY ALLOCATIONS", BY_TEMPS);
  if (!bad)
    print_temporaries(out, sum, o);
  if (!bad && !o->no_leaks)
    bad = print_section(&r, "MEMORY LEAKS", BY_LEAKED);
  free_rep(&r);
  if (bad)
    fprintf(err, "memscope: out of memory\n");
  return bad ? -1 : 0;
}
