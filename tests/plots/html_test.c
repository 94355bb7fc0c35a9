/* html_test.c: ctest plots.html.*: ms_plots_write_html on summaries built here: the page is the
 * embedded shell, CSS and scripts around the data; names with markup stay inside the JSON data
 * element ('<' written as \u003c); nothing on the page points off the machine; a large run is
 * cut to the documented caps (docs/dashboard.md, "Size") and stays under 2 MB.
 * Usage: plots_html_test hostile|caps|empty SCRATCH_DIR */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "ms_plots.h"

static int failures;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fputc('\n', stderr);                                                                         \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

#define CHECK_EQ_LL(actual, expected, what)                                                        \
  CHECK((long long)(actual) == (long long)(expected), "%s: expected %lld, got %lld", what,        \
        (long long)(expected), (long long)(actual))

static const char *const HOSTILE_THREAD = "<svg onload=1>";
static const char *const HOSTILE_TYPE = "<img src=x onerror=alert(1)>";
static const char *const HOSTILE_FN = "std::map<int, std::vector<char>>::operator[]&</script><!--";

static char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  if (buf) buf[n] = 0;
  *len = (size_t)n;
  return buf;
}

static size_t count_ci(const char *hay, const char *needle) {
  size_t n = 0, l = strlen(needle);
  for (const char *p = hay; (p = strcasestr(p, needle)) != NULL; p += l) n++;
  return n;
}

static cJSON *frame(const char *fn, const char *file, int line) {
  cJSON *f = cJSON_CreateObject();
  cJSON_AddStringToObject(f, "address", "0x401000");
  cJSON_AddStringToObject(f, "function", fn);
  cJSON_AddStringToObject(f, "file", file);
  cJSON_AddNumberToObject(f, "line", line);
  cJSON_AddStringToObject(f, "module", "/bin/prog");
  cJSON_AddNumberToObject(f, "module_offset", 4096);
  cJSON_AddStringToObject(f, "inlined", "");
  return f;
}

static cJSON *thread(int tid, const char *name, double peak) {
  cJSON *t = cJSON_CreateObject();
  cJSON_AddNumberToObject(t, "tid", tid);
  cJSON_AddStringToObject(t, "name", name);
  cJSON_AddBoolToObject(t, "tracked", 1);
  cJSON_AddNumberToObject(t, "allocations", 10);
  cJSON_AddNumberToObject(t, "peak_live_bytes", peak);
  cJSON_AddStringToObject(t, "role", "light");
  cJSON_AddStringToObject(t, "alert", "normal");
  return t;
}

/* The JSON text of the page's data element, or NULL. */
static char *data_text(const char *page) {
  static const char open[] = "<script type=\"application/json\" id=\"memscope-data\">";
  const char *a = strstr(page, open);
  if (!a) return NULL;
  a += sizeof open - 1;
  const char *b = strstr(a, "</script>");
  return b ? strndup(a, (size_t)(b - a)) : NULL;
}

/* Writes the page for summary/resources into dir, reads it back; checks what every page must
 * hold. Returns the parsed data (caller frees) and the page's size in *size. */
static cJSON *write_and_check(const char *dir, const char *name, const cJSON *summary,
                              const cJSON *resources, size_t *size) {
  char err[512] = "", path[4096];
  mkdir(dir, 0755);
  int rc = ms_plots_write_html(dir, name, summary, resources, err, sizeof err);
  CHECK(rc == 0, "ms_plots_write_html: %d (%s)", rc, err);
  snprintf(path, sizeof path, "%s/report.html", dir);
  char *page = read_all(path, size);
  CHECK(page != NULL, "cannot read %s", path);
  if (!page) return NULL;
  CHECK(strncmp(page, "<!DOCTYPE html>", 15) == 0, "the page does not start with <!DOCTYPE html>");
  CHECK(strstr(page, "/*MEMSCOPE:") == NULL, "a shell marker was left in the page");
  /* Three script elements' worth of closing tags would mean data closed one: exactly two
   * (the data element and the code). */
  CHECK_EQ_LL(count_ci(page, "</script"), 2, "closing </script tags");
  CHECK_EQ_LL(count_ci(page, "<script"), 2, "opening <script tags");
  CHECK_EQ_LL(count_ci(page, "</style"), 1, "closing </style tags");
  /* Nothing off the machine: the only URL-looking text is the SVG namespace identifier. */
  for (const char *p = page; (p = strstr(p, "http")) != NULL; p++) {
    if (strncmp(p, "http://", 7) && strncmp(p, "https://", 8)) continue;
    CHECK(strncmp(p, "http://www.w3.org/2000/svg", 26) == 0, "a URL in the page: %.60s", p);
  }
  CHECK(strcasestr(page, "<link") == NULL && strcasestr(page, "<img") == NULL &&
            strcasestr(page, "@import") == NULL && strcasestr(page, "url(http") == NULL,
        "the page loads something from outside");
  char *text = data_text(page);
  CHECK(text != NULL, "no data element");
  cJSON *data = NULL;
  if (text) {
    CHECK(strchr(text, '<') == NULL, "a raw '<' inside the data element");
    data = cJSON_Parse(text);
    CHECK(data != NULL, "the data element is not JSON");
    free(text);
  }
  free(page);
  return data;
}

static const char *str_at(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "(none)";
}

/* Names with markup and a function name holding "</script>" stay data. */
static void test_hostile(const char *scratch) {
  cJSON *s = cJSON_CreateObject();
  cJSON_AddStringToObject(s, "schema", "memscope.summary/1");
  cJSON *run = cJSON_AddObjectToObject(s, "run");
  cJSON_AddStringToObject(run, "cmdline", "prog '<b>x</b>' &amp;");
  cJSON *threads = cJSON_AddArrayToObject(s, "threads");
  cJSON_AddItemToArray(threads, thread(101, HOSTILE_THREAD, 10));
  cJSON *leaks = cJSON_AddArrayToObject(s, "leaks");
  cJSON *l = cJSON_CreateObject();
  cJSON_AddNumberToObject(l, "bytes", 64);
  cJSON_AddStringToObject(l, "type_name", HOSTILE_TYPE);
  cJSON *st = cJSON_AddArrayToObject(l, "stack");
  cJSON_AddItemToArray(st, frame(HOSTILE_FN, "a<b>.c", 7));
  cJSON_AddItemToArray(leaks, l);
  size_t size = 0;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/hostile", scratch);
  cJSON *d = write_and_check(dir, "case<i>&", s, NULL, &size);
  if (d) {
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(d, "summary");
    CHECK(strcmp(str_at(d, "name"), "case<i>&") == 0, "name: %s", str_at(d, "name"));
    CHECK(strcmp(str_at(d, "schema"), "memscope.dashboard/1") == 0, "schema: %s", str_at(d, "schema"));
    const cJSON *t0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(sum, "threads"), 0);
    CHECK(strcmp(str_at(t0, "name"), HOSTILE_THREAD) == 0, "thread name: %s", str_at(t0, "name"));
    const cJSON *l0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(sum, "leaks"), 0);
    CHECK(strcmp(str_at(l0, "type_name"), HOSTILE_TYPE) == 0, "type: %s", str_at(l0, "type_name"));
    const cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(l0, "stack"), 0);
    CHECK(strcmp(str_at(f0, "function"), HOSTILE_FN) == 0, "function: %s", str_at(f0, "function"));
    CHECK(cJSON_GetObjectItemCaseSensitive(f0, "module_offset") == NULL, "module_offset is embedded");
    CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(d, "resources")), "resources is not null");
    cJSON_Delete(d);
  }
  cJSON_Delete(s);
}

/* A 400-thread run with a 256-point timeline per thread, 800 flame graph stacks and 5000
 * resource samples: cut to the caps, under 2 MB. */
#define CAP_THREADS 400
#define CAP_SAMPLES 5000
static void test_caps(const char *scratch) {
  cJSON *s = cJSON_CreateObject();
  cJSON *threads = cJSON_AddArrayToObject(s, "threads");
  for (int i = 0; i < CAP_THREADS; i++) {
    char name[32];
    snprintf(name, sizeof name, "w%d", i);
    /* Peaks rise with i, so the threads kept are those with the largest i. */
    cJSON *t = thread(1000 + i, name, 1000.0 * (i + 1));
    cJSON *tl = cJSON_AddObjectToObject(t, "timeline");
    cJSON *ts = cJSON_AddArrayToObject(tl, "t_ns"), *lv = cJSON_AddArrayToObject(tl, "live_bytes");
    for (int k = 0; k < 256; k++) {
      cJSON_AddItemToArray(ts, cJSON_CreateNumber(1000000.0 * k + 123456));
      cJSON_AddItemToArray(lv, cJSON_CreateNumber(1000.0 * k + i));
    }
    cJSON_AddItemToArray(threads, t);
  }
  cJSON *fg = cJSON_AddObjectToObject(s, "flamegraph");
  cJSON *frames = cJSON_AddArrayToObject(fg, "frames");
  cJSON_AddItemToArray(frames, frame("main", "m.c", 1));
  cJSON *stacks = cJSON_AddArrayToObject(fg, "stacks");
  for (int k = 0; k < 800; k++) {
    cJSON *st = cJSON_CreateObject();
    cJSON_AddNumberToObject(st, "stack_id", k + 1);
    cJSON *fr = cJSON_AddArrayToObject(st, "frames");
    cJSON_AddItemToArray(fr, cJSON_CreateNumber(0));
    cJSON_AddNumberToObject(st, "allocations", 800 - k);
    cJSON_AddNumberToObject(st, "allocated_bytes", 8000 - k);
    cJSON *th = cJSON_AddArrayToObject(st, "threads");
    for (int i = 0; i < 100; i++) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddNumberToObject(e, "tid", 1000 + i);
      cJSON_AddNumberToObject(e, "allocations", 1);
      cJSON_AddNumberToObject(e, "allocated_bytes", 1);
      cJSON_AddItemToArray(th, e);
    }
    cJSON_AddItemToArray(stacks, st);
  }
  cJSON *scen = cJSON_AddObjectToObject(s, "scenario");
  cJSON_AddStringToObject(scen, "name", "not embedded");
  cJSON *r = cJSON_CreateObject();
  cJSON_AddNumberToObject(r, "hz", 1000);
  cJSON *samples = cJSON_AddArrayToObject(r, "samples");
  for (int i = 0; i < CAP_SAMPLES; i++) {
    cJSON *x = cJSON_CreateObject();
    cJSON_AddNumberToObject(x, "t_s", 0.001 * i);
    cJSON *p = cJSON_AddObjectToObject(x, "process");
    cJSON_AddNumberToObject(p, "rss_bytes", 4096.0 * i);
    cJSON *cpu = cJSON_AddObjectToObject(x, "cpu");
    cJSON *pc = cJSON_AddArrayToObject(cpu, "per_core_percent");
    if (i == 0) {
      cJSON_AddNullToObject(cpu, "total_percent");
      cJSON_AddStringToObject(cpu, "null_reason", "no earlier reading of /proc/stat");
      cJSON_AddItemToArray(pc, cJSON_CreateNull());
      cJSON_AddItemToArray(pc, cJSON_CreateNull());
    } else {
      cJSON_AddNumberToObject(cpu, "total_percent", 50);
      cJSON_AddItemToArray(pc, cJSON_CreateNumber(25));
      cJSON_AddItemToArray(pc, cJSON_CreateNumber(75));
    }
    /* Thread 1 runs half of each interval (cpu_s, schedstat), thread 2 a quarter (utime_s +
     * stime_s, clock ticks): 50 % and 25 % whatever the stride. */
    cJSON *th = cJSON_AddArrayToObject(x, "threads");
    cJSON *a = cJSON_CreateObject(), *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(a, "tid", 1);
    cJSON_AddNumberToObject(a, "cpu_s", 0.0005 * i);
    cJSON_AddNumberToObject(b, "tid", 2);
    cJSON_AddNumberToObject(b, "utime_s", 0.0002 * i);
    cJSON_AddNumberToObject(b, "stime_s", 0.00005 * i);
    cJSON_AddItemToArray(th, a);
    cJSON_AddItemToArray(th, b);
    cJSON_AddItemToArray(samples, x);
  }
  size_t size = 0;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/caps", scratch);
  cJSON *d = write_and_check(dir, "caps", s, r, &size);
  CHECK(size <= 2000000, "page of %zu bytes, over 2 MB", size);
  printf("caps: page of %zu bytes\n", size);
  if (d) {
    const cJSON *sum = cJSON_GetObjectItemCaseSensitive(d, "summary");
    CHECK(cJSON_GetObjectItemCaseSensitive(sum, "scenario") == NULL, "summary.scenario is embedded");
    /* Per-thread detail: kept for the highest peaks only, within the budget. */
    int kept = 0, lowest_kept = CAP_THREADS, highest_cut = -1;
    size_t detail = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(sum, "threads")) {
      int i = (int)cJSON_GetObjectItemCaseSensitive(t, "tid")->valuedouble - 1000;
      const cJSON *tl = cJSON_GetObjectItemCaseSensitive(t, "timeline");
      if (tl) {
        char *p = cJSON_PrintUnformatted(tl);
        detail += strlen(p);
        free(p);
        kept++;
        if (i < lowest_kept) lowest_kept = i;
      } else {
        CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(t, "detail_omitted")),
              "thread %d: timeline cut without detail_omitted", i);
        if (i > highest_cut) highest_cut = i;
      }
    }
    CHECK(kept > 0 && kept < CAP_THREADS, "threads with a timeline: %d of %d", kept, CAP_THREADS);
    CHECK(detail <= 600000, "per-thread detail of %zu bytes, over 600000", detail);
    CHECK(highest_cut < lowest_kept, "a thread with a lower peak kept (%d) over a higher one cut (%d)",
          lowest_kept, highest_cut);
    const cJSON *efg = cJSON_GetObjectItemCaseSensitive(sum, "flamegraph");
    const cJSON *est = cJSON_GetObjectItemCaseSensitive(efg, "stacks");
    CHECK_EQ_LL(cJSON_GetArraySize(est), 500, "flame graph stacks kept");
    /* The first 500 (the largest) are kept: stack ids 1..500 in order. */
    CHECK_EQ_LL(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(est, 499), "stack_id")->valuedouble, 500,
                "the last flame graph stack kept");
    /* Resource samples: every 2nd of 5000 (ceil(5000 / 3000) = 2), as columns. */
    const cJSON *ser = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "resources"), "series");
    const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ser, "t_s");
    CHECK_EQ_LL(cJSON_GetArraySize(ts), CAP_SAMPLES / 2, "resource samples kept");
    CHECK(fabs(cJSON_GetArrayItem(ts, 3)->valuedouble - 0.006) < 1e-12, "t_s[3] is not sample 6's 0.006");
    const cJSON *rss = cJSON_GetObjectItemCaseSensitive(ser, "rss_bytes");
    CHECK(cJSON_GetArrayItem(rss, 3)->valuedouble == 4096.0 * 6, "rss_bytes[3] is not sample 6's");
    const cJSON *cores = cJSON_GetObjectItemCaseSensitive(ser, "cpu_per_core_percent");
    CHECK_EQ_LL(cJSON_GetArraySize(cores), 2, "per-core columns");
    CHECK(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetArrayItem(cores, 0), 0)), "core 0 sample 0 is not null");
    CHECK(cJSON_GetArrayItem(cJSON_GetArrayItem(cores, 1), 1)->valuedouble == 75, "core 1 sample 2 is not 75");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(ser, "cpu_null_reason");
    CHECK(strcmp(cJSON_GetArrayItem(why, 0)->valuestring, "no earlier reading of /proc/stat") == 0, "null reason");
    const cJSON *tc = cJSON_GetObjectItemCaseSensitive(ser, "thread_cpu_percent");
    const cJSON *c1 = cJSON_GetObjectItemCaseSensitive(tc, "1"), *c2 = cJSON_GetObjectItemCaseSensitive(tc, "2");
    CHECK_EQ_LL(cJSON_GetArraySize(c1), CAP_SAMPLES / 2, "thread 1's CPU column");
    CHECK(cJSON_IsNull(cJSON_GetArrayItem(c1, 0)), "thread 1's first CPU figure is not null");
    CHECK(cJSON_IsNumber(cJSON_GetArrayItem(c1, 7)) && fabs(cJSON_GetArrayItem(c1, 7)->valuedouble - 50) < 0.01,
          "thread 1 at 50 %%: got %g", cJSON_GetArrayItem(c1, 7) ? cJSON_GetArrayItem(c1, 7)->valuedouble : -1);
    CHECK(cJSON_IsNumber(cJSON_GetArrayItem(c2, 9)) && fabs(cJSON_GetArrayItem(c2, 9)->valuedouble - 25) < 0.01,
          "thread 2 at 25 %%: got %g", cJSON_GetArrayItem(c2, 9) ? cJSON_GetArrayItem(c2, 9)->valuedouble : -1);
    /* Every cut is named in limits. */
    int seen_samples = 0, seen_detail = 0, seen_flame = 0;
    const cJSON *lim;
    cJSON_ArrayForEach(lim, cJSON_GetObjectItemCaseSensitive(d, "limits")) {
      const char *w = str_at(lim, "what");
      if (!strcmp(w, "resource samples")) {
        seen_samples = 1;
        CHECK_EQ_LL(cJSON_GetObjectItemCaseSensitive(lim, "shown")->valuedouble, CAP_SAMPLES / 2, "limits: samples shown");
        CHECK_EQ_LL(cJSON_GetObjectItemCaseSensitive(lim, "total")->valuedouble, CAP_SAMPLES, "limits: samples total");
      }
      if (!strcmp(w, "per-thread timelines and histograms")) {
        seen_detail = 1;
        CHECK_EQ_LL(cJSON_GetObjectItemCaseSensitive(lim, "shown")->valuedouble, kept, "limits: threads with detail");
      }
      if (!strcmp(w, "flame graph stacks")) seen_flame = 1;
    }
    CHECK(seen_samples && seen_detail && seen_flame, "limits do not name every cut (%d %d %d)", seen_samples,
          seen_detail, seen_flame);
    cJSON_Delete(d);
  }
  cJSON_Delete(s);
  cJSON_Delete(r);
}

/* An empty summary (a run with no event) still gives a page with its data. */
static void test_empty(const char *scratch) {
  cJSON *s = cJSON_CreateObject();
  size_t size = 0;
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/empty", scratch);
  cJSON *d = write_and_check(dir, "empty", s, NULL, &size);
  if (d) {
    CHECK(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(d, "summary")), "no summary object");
    CHECK_EQ_LL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "limits")), 0, "limits of an empty run");
    cJSON_Delete(d);
  }
  cJSON_Delete(s);
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s hostile|caps|empty SCRATCH_DIR\n", argv[0]);
    return 2;
  }
  mkdir(argv[2], 0755);
  if (!strcmp(argv[1], "hostile")) test_hostile(argv[2]);
  else if (!strcmp(argv[1], "caps")) test_caps(argv[2]);
  else if (!strcmp(argv[1], "empty")) test_empty(argv[2]);
  else {
    fprintf(stderr, "unknown test %s\n", argv[1]);
    return 2;
  }
  if (failures) fprintf(stderr, "%s: %d check(s) failed\n", argv[1], failures);
  else printf("%s: ok\n", argv[1]);
  return failures ? 1 : 0;
}
