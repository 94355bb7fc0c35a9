/* demo_parser.c: memscope's fuzzing demo, a small "key=value" configuration parser with two
 * bugs that only some inputs reach (docs/fuzz.md, "The demo"):
 *   - an alias line ("@name=a,b") whose value has a comma leaks the copy of its first part
 *     (parse_alias);
 *   - "repeat=N" allocates a table of N x N x N cells of 16 bytes (expand_repeat): a large N
 *     blows the heap up (N = 40 is 1 MB, 400 is 1 GB), though every byte is freed again (a
 *     leak check alone never sees it).
 * Everything else is freed. The fuzz target is LLVMFuzzerTestOneInput at the end. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry_s {
  struct entry_s *next;
  char *key, *value;
} entry_t;

/* noinline: an optimizer that sees a malloc whose block is never read may delete it, and the
 * demo's leak with it (clang does, at -O1). */
static __attribute__((noinline)) char *copy(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p)
    return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* "@name=first,rest": the alias keeps `rest`; the copy of `first` is dropped unfreed. */
static char *parse_alias(const char *value) {
  const char *comma = strchr(value, ',');
  if (!comma)
    return copy(value, strlen(value));
  char *first = copy(value, (size_t)(comma - value)); /* the leak: never freed */
  (void)first;
  return copy(comma + 1, strlen(comma + 1));
}

/* "repeat=N": N x N x N cells of 16 bytes, touched and freed. */
static __attribute__((noinline)) size_t expand_repeat(const char *value) {
  long n = strtol(value, NULL, 10);
  if (n <= 0 || n > 1000)
    return 0;
  size_t cells = (size_t)n * (size_t)n * (size_t)n;
  /* volatile: the pages are really touched, and no optimizer removes the pair. */
  volatile char *table = calloc(cells, 16);
  if (!table)
    return 0;
  size_t sum = 0;
  for (size_t i = 0; i < cells; i += 4096 / 16)
    sum += (unsigned char)(table[i * 16] = (char)i);
  free((void *)table);
  return sum;
}

static void parse_line(entry_t **list, const char *line, size_t len) {
  const char *eq = memchr(line, '=', len);
  if (!eq || eq == line)
    return;
  entry_t *e = calloc(1, sizeof *e);
  if (!e)
    return;
  e->key = copy(line, (size_t)(eq - line));
  char *raw = copy(eq + 1, len - (size_t)(eq - line) - 1);
  if (e->key && raw && e->key[0] == '@') {
    e->value = parse_alias(raw);
    free(raw);
  } else {
    e->value = raw;
    if (e->key && raw && !strcmp(e->key, "repeat"))
      (void)expand_repeat(raw);
  }
  e->next = *list;
  *list = e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  entry_t *list = NULL;
  const char *p = (const char *)data, *end = p + size;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
    parse_line(&list, p, len);
    p += len + 1;
  }
  while (list) {
    entry_t *next = list->next;
    free(list->key);
    free(list->value);
    free(list);
    list = next;
  }
  return 0;
}
