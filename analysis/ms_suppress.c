/* ms_suppress.c: LSan-style leak suppressions ("leak:PATTERN" lines) and their matching. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_analysis_int.h"

#define SUPPR_MAX_PATTERNS 100000 /* a hostile file cannot make matching quadratic forever */

void ms__suppr_free(ms__suppr_t *s) {
  for (size_t i = 0; i < s->n; i++)
    free(s->patterns[i]);
  free(s->patterns);
  free(s->hits);
  memset(s, 0, sizeof *s);
}

/* Reads the file: blank lines and '#' comments are skipped, "leak:" lines kept, other LSan
 * suppression types (interceptor_via_fun:, …) ignored as LSan's leak checker ignores them.
 * 0, or -errno with a message naming the file. */
int ms__suppr_load(ms__suppr_t *s, const char *path, char *err, size_t errlen) {
  memset(s, 0, sizeof *s);
  FILE *f = fopen(path, "re");
  if (!f) {
    int e = errno;
    snprintf(err, errlen, "suppressions %s: %s", path, strerror(e));
    return -e;
  }
  char line[4096];
  size_t cap = 0;
  int rc = 0;
  while (fgets(line, sizeof line, f)) {
    char *p = line;
    while (*p == ' ' || *p == '\t')
      p++;
    size_t n = strlen(p);
    while (n && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
      p[--n] = 0;
    if (!*p || *p == '#' || strncmp(p, "leak:", 5) || !p[5])
      continue;
    if (s->n >= SUPPR_MAX_PATTERNS)
      break;
    if (s->n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      char **np = realloc(s->patterns, ncap * sizeof *np);
      if (np)
        s->patterns = np;
      uint64_t *nh = realloc(s->hits, ncap * sizeof *nh);
      if (nh)
        s->hits = nh;
      if (!np || !nh) {
        rc = -ENOMEM;
        break;
      }
      cap = ncap;
    }
    s->patterns[s->n] = strdup(p + 5);
    if (!s->patterns[s->n]) {
      rc = -ENOMEM;
      break;
    }
    s->hits[s->n++] = 0;
  }
  fclose(f);
  if (rc) {
    snprintf(err, errlen, "suppressions %s: out of memory", path);
    ms__suppr_free(s);
  }
  return rc;
}

/* Finds needle[0, len) in hay; NULL if absent. */
static const char *find_part(const char *hay, const char *needle, size_t len) {
  if (!len)
    return hay;
  for (const char *p = hay; *p; p++)
    if (!strncmp(p, needle, len))
      return p;
  return NULL;
}

int ms__template_match(const char *t, const char *str) {
  if (!str || !*str || !t)
    return 0;
  int anchored = 0, star = 0;
  if (*t == '^') {
    anchored = 1;
    t++;
  }
  while (*t) {
    if (*t == '*') {
      t++;
      anchored = 0;
      star = 1;
      continue;
    }
    if (*t == '$')
      return !*str || star;
    if (!*str)
      return 0;
    size_t len = strcspn(t, "*$");
    const char *at = find_part(str, t, len);
    if (!at || (anchored && at != str))
      return 0;
    /* A part followed by '$' must end the string: take its last occurrence. */
    if (t[len] == '$') {
      const char *last = at;
      for (const char *q = at + 1; (q = find_part(q, t, len)); q++)
        last = q;
      if (!anchored || last == str)
        at = last;
    }
    str = at + len;
    t += len;
    anchored = 0;
    star = 0;
  }
  return 1;
}

long ms__suppr_match(const ms__suppr_t *s, const ms_frame_t *frames, size_t n) {
  for (size_t k = 0; k < s->n; k++)
    for (size_t i = 0; i < n; i++)
      if (ms__template_match(s->patterns[k], frames[i].function) ||
          /* a function inlined at the call is named in the source: a pattern naming it
           * must match even though its code is in the caller */
          (frames[i].inlined && ms__template_match(s->patterns[k], frames[i].inlined)) ||
          ms__template_match(s->patterns[k], frames[i].file) ||
          ms__template_match(s->patterns[k], frames[i].module))
        return (long)k;
  return -1;
}

/* ---- the public face (ms_analyze.h), for consumers outside the engine (the fuzz driver) -- */

struct ms_suppressions_s {
  ms__suppr_t s;
};

int ms_suppressions_load(const char *path, ms_suppressions_t **out, char *err, size_t errlen) {
  *out = calloc(1, sizeof **out);
  if (!*out)
    return -ENOMEM;
  int rc = ms__suppr_load(&(*out)->s, path, err, errlen);
  if (rc) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

int ms_suppressions_match(const ms_suppressions_t *s, const ms_frame_t *frames, size_t n) {
  return s && ms__suppr_match(&s->s, frames, n) >= 0;
}

void ms_suppressions_free(ms_suppressions_t *s) {
  if (!s)
    return;
  ms__suppr_free(&s->s);
  free(s);
}
