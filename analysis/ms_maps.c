/* ms_maps.c: maps.txt, the snapshots of a traced process's /proc/self/maps, and address to
 * module lookups (part of the reference reader, ms_trace.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ms_hmap.h"
#include "ms_trace.h"
#include "ms_trace_int.h"

/* ---- maps.txt ------------------------------------------------------------------------------ */

typedef struct mapping_s {
  uint64_t start, end, offset;
  char *path;
} mapping_t;

typedef struct snapshot_s {
  size_t first, n; /* range in maps->m */
} snapshot_t;

struct ms_maps_s {
  mapping_t *m;
  size_t nm, capm;
  snapshot_t *s;
  size_t ns, caps;
};

void ms_maps_free(ms_maps_t *maps) {
  if (!maps)
    return;
  for (size_t i = 0; i < maps->nm; i++)
    free(maps->m[i].path);
  free(maps->m);
  free(maps->s);
  free(maps);
}

size_t ms_maps_nsnapshots(const ms_maps_t *maps) { return maps ? maps->ns : 0; }

static int cmp_mapping(const void *a, const void *b) {
  const mapping_t *x = a, *y = b;
  return x->start < y->start ? -1 : x->start > y->start;
}

static int maps_new_snapshot(ms_maps_t *maps) {
  if (ms__grow(&maps->s, &maps->caps, maps->ns, sizeof *maps->s, 4))
    return MS_TRACE_E_NOMEM;
  maps->s[maps->ns++] = (snapshot_t){maps->nm, 0};
  return 0;
}

static const char *skip_field(const char *p) {
  while (*p && *p != ' ')
    p++;
  while (*p == ' ')
    p++;
  return p;
}

/* One /proc/self/maps line: "start-end perms offset dev inode   path". */
static int maps_add_line(ms_maps_t *maps, const char *line) {
  char *end;
  errno = 0;
  uint64_t start = strtoull(line, &end, 16);
  if (end == line || *end != '-')
    return 0;
  const char *p = end + 1;
  uint64_t stop = strtoull(p, &end, 16);
  if (end == p || *end != ' ' || errno || stop <= start)
    return 0;
  p = skip_field(end); /* at perms */
  p = skip_field(p);   /* at offset */
  uint64_t off = strtoull(p, &end, 16);
  if (end == p)
    return 0;
  p = skip_field(end); /* at dev */
  p = skip_field(p);   /* at inode */
  p = skip_field(p);   /* at path, or "" */
  if (!maps->ns && maps_new_snapshot(maps))
    return MS_TRACE_E_NOMEM;
  if (ms__grow(&maps->m, &maps->capm, maps->nm, sizeof *maps->m, 64))
    return MS_TRACE_E_NOMEM;
  char *path = strdup(p);
  if (!path)
    return MS_TRACE_E_NOMEM;
  maps->m[maps->nm++] = (mapping_t){start, stop, off, path};
  maps->s[maps->ns - 1].n++;
  return 0;
}

int ms_maps_load(const char *path, ms_maps_t **out) {
  *out = NULL;
  ms_maps_t *maps = calloc(1, sizeof *maps);
  if (!maps)
    return MS_TRACE_E_NOMEM;
  /* Regular files only (open_run_file: a FIFO named maps.txt must not hang the reader). */
  int fd = ms__open_run_file(path);
  if (fd == -ENOENT) {
    *out = maps;
    return 0;
  }
  FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
  if (!f) {
    int e = fd >= 0 ? -errno : fd;
    if (fd >= 0)
      close(fd);
    free(maps);
    return e;
  }
  /* Lines are read in bounded pieces: a line longer than the buffer is split, and its
   * tail fails to parse and is skipped, so a hostile file cannot make one huge line. */
  char line[4096 + 1];
  int rc = 0;
  int continuing = 0;
  while (!rc && fgets(line, sizeof line, f)) {
    size_t n = strlen(line);
    int whole = n && line[n - 1] == '\n';
    if (whole)
      line[--n] = 0;
    if (!continuing) {
      if (!strncmp(line, "# maps", 6))
        rc = maps_new_snapshot(maps);
      else if (line[0] != '#')
        rc = maps_add_line(maps, line);
    }
    continuing = !whole;
  }
  fclose(f);
  if (rc) {
    ms_maps_free(maps);
    return rc;
  }
  /* An empty snapshot (a "# maps" line and no mapping: a process killed while writing it)
   * is skipped: when no snapshot has a mapping, maps->m is NULL, and qsort's array must not
   * be (UBSan stops on it). */
  for (size_t i = 0; i < maps->ns; i++)
    if (maps->s[i].n)
      qsort(maps->m + maps->s[i].first, maps->s[i].n, sizeof *maps->m, cmp_mapping);
  *out = maps;
  return 0;
}

int ms_maps_lookup(const ms_maps_t *maps, uint64_t addr, const char **module,
                   uint64_t *offset) {
  if (!maps)
    return 0;
  for (size_t s = maps->ns; s-- > 0;) {
    if (!maps->s[s].n)
      continue; /* empty, and maps->m may be NULL: no arithmetic on it */
    const mapping_t *m = maps->m + maps->s[s].first;
    size_t lo = 0, hi = maps->s[s].n; /* find the last mapping with start <= addr */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (m[mid].start <= addr)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo && addr < m[lo - 1].end) {
      if (module)
        *module = m[lo - 1].path;
      if (offset)
        *offset = addr - m[lo - 1].start + m[lo - 1].offset;
      return 1;
    }
  }
  return 0;
}

int ms_module_matches(const char *path, const char *module) {
  if (!path || !module || !*module)
    return 0;
  if (strchr(module, '/'))
    return !strcmp(path, module);
  const char *base = strrchr(path, '/');
  return !strcmp(base ? base + 1 : path, module);
}

