/* hs_junit.c: JUnit XML for the harness's cases (hs_write_junit) and what the fuzz report's
 * JUnit shares with it: XML escaping and JSON numbers that may be raw. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "ms_files.h" /* ms_out_open: written under a temporary name, renamed when whole */

double hs_jnum(const cJSON *o, const char *k, double dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (cJSON_IsNumber(v)) return v->valuedouble;
  if (cJSON_IsRaw(v) && v->valuestring) {
    char *end;
    double d = strtod(v->valuestring, &end);
    if (end != v->valuestring) return d;
  }
  return dflt;
}

/* Text for XML (JUnit): markup characters as entities; XML 1.0 forbids most control characters
 * even as references, so they become '?'. */
void hs_xml_escape(FILE *f, const char *s) {
  for (; s && *s; s++) {
    unsigned char ch = (unsigned char)*s;
    switch (ch) {
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '&': fputs("&amp;", f); break;
    case '"': fputs("&quot;", f); break;
    case '\'': fputs("&apos;", f); break;
    default:
      /* XML 1.0 forbids most control characters even as references. */
      if (ch < 0x20 && ch != '\n' && ch != '\t' && ch != '\r') fputc('?', f);
      else fputc(ch, f);
    }
  }
}

void hs_junit_case_open(FILE *f, const char *prefix, const char *base, const char *name,
                        double time_s) {
  fputs("    <testcase classname=\"memscope.", f);
  fputs(prefix, f);
  hs_xml_escape(f, base);
  fputs("\" name=\"", f);
  hs_xml_escape(f, base);
  if (name) fputc('.', f), hs_xml_escape(f, name);
  fprintf(f, "\" time=\"%.3f\">\n", time_s);
}

void hs_junit_problem_open(FILE *f, const char *element, const char *type, const char *message) {
  fprintf(f, "      <%s type=\"", element);
  hs_xml_escape(f, type);
  fputs("\" message=\"", f);
  hs_xml_escape(f, message);
  fputs("\">", f);
}

static void prop(FILE *f, const char *caseName, const char *k, double v) {
  fputs("      <property name=\"", f);
  hs_xml_escape(f, caseName);
  fprintf(f, ".%s\" value=\"%.17g\"/>\n", k, v);
}

int hs_write_junit(const char *path, const char *suite, hs_case_t *cases, size_t ncases,
                   double time_s, char *err, size_t errlen) {
  /* Under a random temporary name (mkostemp: O_EXCL), renamed into place when whole: the old
   * "junit.xml.tmp.<pid>" could be guessed and planted as a link to a victim file. */
  ms_out_file_t of;
  int orc = ms_out_open(&of, path);
  if (orc < 0) {
    hs_fmt(err, errlen, "cannot write JUnit file %s: %s", path, strerror(-orc));
    return -1;
  }
  FILE *f = of.f;
  size_t tests = 0, failures = 0, errors = 0;
  for (size_t i = 0; i < ncases; i++) {
    if (!cases[i].ok) {
      errors++;
      tests++;
      continue;
    }
    tests += cases[i].nasserts ? cases[i].nasserts : 1;
    for (size_t k = 0; k < cases[i].nasserts; k++) failures += !cases[i].asserts[k].passed;
  }
  char host[256] = "localhost";
  gethostname(host, sizeof host);
  host[sizeof host - 1] = 0;
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
  fprintf(f, "<testsuites name=\"memscope-harness\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%.3f\">\n",
          tests, failures, errors, time_s);
  fputs("  <testsuite name=\"", f);
  hs_xml_escape(f, suite);
  fprintf(f, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"0\" time=\"%.3f\" timestamp=\"%s\" hostname=\"",
          tests, failures, errors, time_s, ts);
  hs_xml_escape(f, host);
  fputs("\">\n    <properties>\n", f);
  for (size_t i = 0; i < ncases; i++) {
    const hs_case_t *c = &cases[i];
    if (!c->ok) continue;
    const cJSON *tot = cJSON_GetObjectItemCaseSensitive(c->summary, "totals");
    const char *keys[] = {"allocations", "frees", "reallocs", "allocated_bytes",
                          "peak_live_bytes", "leaked_blocks", "leaked_bytes"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
      prop(f, c->name, keys[k], hs_jnum(tot, keys[k], 0));
    prop(f, c->name, "threads", cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c->summary, "threads")));
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(c->summary, "harness");
    prop(f, c->name, "wall_s", hs_jnum(run, "wall_s", 0));
    prop(f, c->name, "cpu_s", hs_jnum(run, "cpu_user_s", 0) + hs_jnum(run, "cpu_sys_s", 0));
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(c->summary, "resources");
    const cJSON *rss = cJSON_GetObjectItemCaseSensitive(res, "peak_rss_bytes");
    if (cJSON_IsNumber(rss)) prop(f, c->name, "peak_rss_bytes", rss->valuedouble);
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(c->summary, "overhead");
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(ov, "cpu");
    if (cpu) prop(f, c->name, "overhead_cpu_ratio", hs_jnum(cpu, "ratio_of_medians", 0));
  }
  fputs("    </properties>\n", f);
  for (size_t i = 0; i < ncases; i++) {
    const hs_case_t *c = &cases[i];
    if (!c->ok) {
      hs_junit_case_open(f, "", c->name, "run", c->time_s);
      hs_junit_problem_open(f, "error", "error", c->error);
      hs_xml_escape(f, c->error);
      fputs("</error>\n    </testcase>\n", f);
      continue;
    }
    for (size_t k = 0; k < c->nasserts; k++) {
      const hs_assert_t *a = &c->asserts[k];
      hs_junit_case_open(f, "", c->name, a->name, k == 0 ? c->time_s : 0.0);
      if (!a->passed) {
        hs_junit_problem_open(f, "failure", a->name, a->message);
        hs_xml_escape(f, a->details);
        fputs("</failure>\n", f);
      }
      fputs("      <system-out>", f);
      hs_xml_escape(f, a->message);
      fputs("</system-out>\n    </testcase>\n", f);
    }
  }
  fputs("  </testsuite>\n</testsuites>\n", f);
  if ((orc = ms_out_commit(&of)) < 0) {
    hs_fmt(err, errlen, "cannot write JUnit file %s: %s", path, strerror(-orc));
    return -1;
  }
  return 0;
}
