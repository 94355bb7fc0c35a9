/* hs_fuzz_report.c: what a fuzz campaign found, once: replayed inputs grouped into findings by
 * kind and first named frames, written as findings.json (memscope.findings/1,
 * docs/findings-schema.md), OUT/findings/ID/{input,report.json}, junit.xml and one line per
 * finding on stdout.
 *
 * Everything in a report (functions, files, the oracle's one-line text, stderr) came from the
 * target: it reaches JSON through cJSON and XML through hs_xml_escape, never a command line. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "ms_analyze.h"
#include "ms_files.h"

#define FZ_KEY_FRAMES 3     /* named frames in a finding's identity */
#define FZ_STDERR_LINES 5   /* stderr lines kept for a crash without a report */

typedef struct fz_finding_s {
  char kind[8];             /* leak | peak | partial | crash | hang */
  char key[2048];           /* kind and the first named frames: the identity */
  char id[48];
  char where[1024];         /* the oracle's "f (file:line) <- g (file:line)", or what happened */
  char message[1536];       /* one line */
  int have_value;
  double value, limit, blocks, value_max;
  cJSON *stack;             /* the representative's frames (owned) */
  cJSON *report;            /* its report (owned), NULL for crash and hang */
  char signal[16];          /* "SIGSEGV" for a crash, else "" */
  char stderr_head[2048];   /* first lines of a crash's stderr */
  cJSON *instances, *files; /* names; paths relative to --out */
  size_t count;
  double first_found_s;     /* -1: unknown */
  char input_path[PATH_MAX], input_rel[PATH_MAX]; /* the representative: the smallest input */
  size_t input_size;
} fz_finding_t;

struct hs_fuzz_findings_s {
  fz_finding_t *v;
  size_t n, cap;
  size_t crash_files, hang_files, seed_files;
};

/* ---- afl-fuzz's figures ----------------------------------------------------------------------- */

int hs_fuzz_read_stats(const char *inst_dir, hs_fuzz_stats_t *st) {
  char path[PATH_MAX];
  int valid = 0;
  st->execs = st->execs_per_s = st->corpus = st->crashes = st->hangs = st->run_time_s = -1;
  st->exec_timeout_ms = -1;
  st->version[0] = 0;
  hs_fmt(path, sizeof path, "%s/fuzzer_stats", inst_dir);
  char *text = hs_read_file(path, NULL);
  if (!text) return -1;
  for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
    char key[64], val[128];
    if (sscanf(line, "%63s : %127[^\n]", key, val) != 2) continue;
    double v = strtod(val, NULL);
    if (!isfinite(v)) v = 0; /* execs_per_sec is "inf" right after the start */
    if (!strcmp(key, "execs_done")) st->execs = v, valid = 1;
    else if (!strcmp(key, "execs_per_sec")) st->execs_per_s = v;
    else if (!strcmp(key, "corpus_count")) st->corpus = v;
    else if (!strcmp(key, "saved_crashes")) st->crashes = v;
    else if (!strcmp(key, "saved_hangs")) st->hangs = v;
    else if (!strcmp(key, "run_time")) st->run_time_s = v;
    else if (!strcmp(key, "exec_timeout")) st->exec_timeout_ms = v;
    else if (!strcmp(key, "afl_version")) hs_fmt(st->version, sizeof st->version, "%s", val);
  }
  free(text);
  return valid ? 0 : -1;
}

/* ---- one replayed input: its kind, identity and place --------------------------------------- */

static const char *frame_name(const cJSON *fr) {
  const char *in = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fr, "inlined"));
  const char *fn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fr, "function"));
  return in && *in ? in : fn && *fn ? fn : NULL;
}

/* Appends "name@file:line;" for the first FZ_KEY_FRAMES frames that have a name. A function
 * inlined at its call counts under its own name, as the oracle's "where" names it. */
static void key_frames(const cJSON *frames, char *key, size_t len) {
  int named = 0;
  const cJSON *fr;
  cJSON_ArrayForEach(fr, frames) {
    const char *name = frame_name(fr);
    if (!name) continue;
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fr, "file"));
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(fr, "line");
    size_t l = strlen(key);
    hs_fmt(key + l, len - l, "%s@%s:%d;", name, file ? file : "",
           cJSON_IsNumber(line) ? line->valueint : 0);
    if (++named == FZ_KEY_FRAMES) break;
  }
}

/* Frames of a sanitizer's report on stderr ("#0 0x4f2a in parse file.c:35:10"), when the
 * target crashed without memscope's report. An empty array when there are none. */
static cJSON *stderr_frames(const char *err) {
  cJSON *arr = cJSON_CreateArray();
  for (const char *p = err; p && *p && cJSON_GetArraySize(arr) < 16;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    char line[1024], fn[256], loc[700];
    int idx;
    hs_fmt(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
    if (sscanf(line, " #%d %*s in %255s %699s", &idx, fn, loc) == 3) {
      int ln = 0;
      char *c = strrchr(loc, ':');
      if (c && c > loc) { /* file:line:column, or file:line */
        *c = 0;
        char *c2 = strrchr(loc, ':');
        if (c2) ln = atoi(c2 + 1), *c2 = 0;
        else ln = atoi(c + 1);
      }
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "function", fn);
      cJSON_AddStringToObject(o, "inlined", "");
      cJSON_AddStringToObject(o, "file", loc);
      cJSON_AddNumberToObject(o, "line", ln);
      cJSON_AddStringToObject(o, "module", "");
      cJSON_AddItemToArray(arr, o);
    }
    p = nl ? nl + 1 : NULL;
  }
  return arr;
}

/* "f (file:line) <- g (file:line)" of the first two named frames, as the oracle writes it. */
static void where_of(const cJSON *frames, char *buf, size_t len) {
  int named = 0;
  const cJSON *fr;
  buf[0] = 0;
  cJSON_ArrayForEach(fr, frames) {
    const char *name = frame_name(fr);
    if (!name || named == 2) continue;
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fr, "file"));
    const cJSON *line = cJSON_GetObjectItemCaseSensitive(fr, "line");
    size_t l = strlen(buf);
    if (file && *file)
      hs_fmt(buf + l, len - l, "%s%s (%s:%d)", named ? " <- " : "", name, file,
             cJSON_IsNumber(line) ? line->valueint : 0);
    else
      hs_fmt(buf + l, len - l, "%s%s", named ? " <- " : "", name);
    named++;
  }
}

/* The first FZ_STDERR_LINES lines of stderr, control characters but newlines replaced. */
static void stderr_head(const char *err, char *buf, size_t len) {
  size_t k = 0;
  int lines = 0;
  for (const char *p = err; p && *p && k + 1 < len && lines < FZ_STDERR_LINES; p++) {
    if (*p == '\n') lines++;
    buf[k++] = (*p == '\n' || (unsigned char)*p >= 0x20) ? *p : '?';
  }
  while (k && buf[k - 1] == '\n') k--;
  buf[k] = 0;
}

/* Fills f's kind, key, where, message, stack and report from one replay. */
static void classify(hs_fuzz_input_t *in, fz_finding_t *f) {
  cJSON *r = in->report;
  if (r) {
    hs_fmt(f->kind, sizeof f->kind, "%s", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "kind")));
    const cJSON *stack0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r, "stacks"), 0);
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(stack0, "frames");
    f->stack = cJSON_IsArray(frames) ? cJSON_Duplicate(frames, 1) : cJSON_CreateArray();
    const char *w = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "where"));
    if (w) hs_fmt(f->where, sizeof f->where, "%s", w);
    else where_of(f->stack, f->where, sizeof f->where);
    f->have_value = 1;
    f->value = f->value_max = hs_jnum(r, "value", 0);
    f->limit = hs_jnum(r, "limit", 0);
    f->blocks = hs_jnum(r, "blocks", 0);
    f->report = r;
    in->report = NULL;
    if (!strcmp(f->kind, "leak"))
      hs_fmt(f->message, sizeof f->message, "leak: %.0f B in %.0f block%s (limit %.0f B) allocated in %s",
             f->value, f->blocks, f->blocks == 1 ? "" : "s", f->limit, f->where);
    else if (!strcmp(f->kind, "partial"))
      hs_fmt(f->message, sizeof f->message,
             "partial: %.0f allocator call%s during the input could not be accounted (%s)",
             f->value, f->value == 1 ? "" : "s", f->where);
    else
      hs_fmt(f->message, sizeof f->message,
             "peak: the input's live heap reached %.0f B above its start (limit %.0f B) at an allocation in %s",
             f->value, f->limit, f->where);
  } else if (in->timed_out) {
    hs_fmt(f->kind, sizeof f->kind, "hang");
    hs_fmt(f->where, sizeof f->where, "no stack: the replay was still running at its timeout");
  } else if (!in->exited) {
    hs_fmt(f->kind, sizeof f->kind, "crash");
    const char *abbrev = sigabbrev_np(in->sig);
    hs_fmt(f->signal, sizeof f->signal, "SIG%s", abbrev ? abbrev : "?");
    f->stack = stderr_frames(in->err);
    stderr_head(in->err, f->stderr_head, sizeof f->stderr_head);
    char w[900];
    where_of(f->stack, w, sizeof w);
    hs_fmt(f->where, sizeof f->where, "signal %s%s%s, no memscope report", f->signal, w[0] ? " in " : "", w);
  } else if (in->from_hangs) {
    hs_fmt(f->kind, sizeof f->kind, "hang");
    hs_fmt(f->where, sizeof f->where,
           "no stack: afl-fuzz's per-input timeout stopped it; the replay ended in time (exit %d)", in->code);
  } else {
    hs_fmt(f->kind, sizeof f->kind, "crash");
    hs_fmt(f->where, sizeof f->where, "did not reproduce on replay (exit %d, no memscope report)", in->code);
  }
  if (!f->stack) f->stack = cJSON_CreateArray();
  if (!f->message[0]) hs_fmt(f->message, sizeof f->message, "%s: %s", f->kind, f->where);
  /* The identity: kind, then the named frames; a crash without frames by its signal; a hang,
   * or a crash that did not happen again, has no place to tell it from another. */
  hs_fmt(f->key, sizeof f->key, "%s|%s|", f->kind, f->signal);
  if (!r && in->exited && !in->from_hangs) hs_fmt(f->key, sizeof f->key, "crash|not-reproduced|");
  key_frames(f->stack, f->key, sizeof f->key);
}

static void finding_free_parts(fz_finding_t *f) {
  cJSON_Delete(f->stack);
  cJSON_Delete(f->report);
  cJSON_Delete(f->instances);
  cJSON_Delete(f->files);
  f->stack = f->report = f->instances = f->files = NULL;
}

static void add_unique(cJSON *arr, const char *s) {
  const cJSON *x;
  cJSON_ArrayForEach(x, arr) if (cJSON_IsString(x) && !strcmp(x->valuestring, s)) return;
  cJSON_AddItemToArray(arr, cJSON_CreateString(s));
}

hs_fuzz_findings_t *hs_fuzz_findings_new(void) { return calloc(1, sizeof(hs_fuzz_findings_t)); }

int hs_fuzz_add(hs_fuzz_findings_t *fs, hs_fuzz_input_t *in) {
  fz_finding_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  classify(in, t);
  hs_fmt(t->input_path, sizeof t->input_path, "%s", in->path);
  hs_fmt(t->input_rel, sizeof t->input_rel, "%s", in->rel);
  t->input_size = in->size;
  fs->crash_files += !in->from_hangs && !in->from_seed;
  fs->hang_files += in->from_hangs;
  fs->seed_files += in->from_seed;
  fz_finding_t *e = NULL;
  for (size_t i = 0; i < fs->n && !e; i++)
    if (!strcmp(fs->v[i].key, t->key)) e = &fs->v[i];
  if (!e) {
    if (fs->n == fs->cap) {
      size_t cap = fs->cap ? fs->cap * 2 : 16;
      fz_finding_t *nv = realloc(fs->v, cap * sizeof *nv);
      if (!nv) {
        finding_free_parts(t);
        free(t);
        return -ENOMEM;
      }
      fs->v = nv;
      fs->cap = cap;
    }
    e = &fs->v[fs->n++];
    *e = *t;
    e->instances = cJSON_CreateArray();
    e->files = cJSON_CreateArray();
    e->first_found_s = -1;
  } else if (t->input_size < e->input_size) {
    /* The smallest input stands for the finding: the easiest to read and to debug. */
    double vmax = fmax(e->value_max, t->value_max);
    cJSON *inst = e->instances, *files = e->files;
    size_t count = e->count;
    double first = e->first_found_s;
    e->instances = e->files = NULL;
    finding_free_parts(e);
    *e = *t;
    e->instances = inst;
    e->files = files;
    e->count = count;
    e->first_found_s = first;
    e->value_max = vmax;
  } else {
    e->value_max = fmax(e->value_max, t->value_max);
    finding_free_parts(t);
  }
  free(t);
  e->count++;
  add_unique(e->instances, in->instance);
  cJSON_AddItemToArray(e->files, cJSON_CreateString(in->rel));
  if (in->found_s >= 0 && (e->first_found_s < 0 || in->found_s < e->first_found_s))
    e->first_found_s = in->found_s;
  return 0;
}

void hs_fuzz_findings_free(hs_fuzz_findings_t *fs) {
  if (!fs) return;
  for (size_t i = 0; i < fs->n; i++) finding_free_parts(&fs->v[i]);
  free(fs->v);
  free(fs);
}

/* ---- ids and order ---------------------------------------------------------------------------- */

/* First found first; never-timed ones (synced without a time) last. */
static int cmp_findings(const void *a, const void *b) {
  const fz_finding_t *x = a, *y = b;
  double tx = x->first_found_s < 0 ? INFINITY : x->first_found_s;
  double ty = y->first_found_s < 0 ? INFINITY : y->first_found_s;
  if (tx != ty) return tx < ty ? -1 : 1;
  return strcmp(x->key, y->key);
}

/* KIND-XXXXXXXX from FNV-1a of the identity: the same bug keeps its id from run to run (and
 * machine to machine, while its files and lines stay put). */
static void assign_ids(hs_fuzz_findings_t *fs) {
  for (size_t i = 0; i < fs->n; i++) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = fs->v[i].key; *p; p++) h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    hs_fmt(fs->v[i].id, sizeof fs->v[i].id, "%s-%08x", fs->v[i].kind, (unsigned)(h ^ (h >> 32)));
    for (size_t k = 0, dup = 1; k < i; k++)
      if (!strcmp(fs->v[k].id, fs->v[i].id)) {
        size_t l = strlen(fs->v[i].id);
        hs_fmt(fs->v[i].id + l, sizeof fs->v[i].id - l, "-%zu", ++dup);
        k = (size_t)-1; /* check the new id against all again */
      }
  }
}

/* ---- OUT/findings/ID/ ---------------------------------------------------------------------- */

/* Copies a regular file (never through a link: a campaign directory may have been synced
 * from elsewhere) with ms_write_file_atomic. 0 or -errno. */
static int copy_input(const char *from, const char *to) {
  int fd = ms_open_regular(from, 1);
  if (fd < 0) return fd;
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  size_t n = (size_t)sb.st_size, got = 0;
  char *buf = malloc(n ? n : 1);
  while (buf && got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  int rc = !buf ? -ENOMEM : got != n ? -EIO : ms_write_file_atomic(to, buf, n);
  free(buf);
  return rc;
}

static int write_finding_files(const char *out, fz_finding_t *f, char *err, size_t errlen) {
  char dir[PATH_MAX], path[PATH_MAX];
  hs_fmt(dir, sizeof dir, "%s/findings/%s", out, f->id);
  int rc = ms_mkdirs(dir);
  if (!rc) {
    hs_fmt(path, sizeof path, "%s/input", dir);
    rc = copy_input(f->input_path, path);
  }
  if (!rc && f->report) {
    /* The copy's input_file names the input beside it, not the replay's scratch directory. */
    cJSON_ReplaceItemInObjectCaseSensitive(f->report, "input_file", cJSON_CreateString(path));
    hs_fmt(path, sizeof path, "%s/report.json", dir);
    rc = ms_write_json_file(path, f->report);
  }
  if (rc) hs_fmt(err, errlen, "cannot write %s: %s", dir, strerror(-rc));
  return rc;
}

/* ---- findings.json ----------------------------------------------------------------------------- */

static void add_num_or_null(cJSON *o, const char *k, double v) {
  if (v < 0) cJSON_AddNullToObject(o, k);
  else cJSON_AddNumberToObject(o, k, v);
}

/* Every instance directory of the campaign with its figures; totals summed into tot. */
static cJSON *instances_json(const hs_fuzz_campaign_t *c, hs_fuzz_stats_t *tot, char *version,
                             size_t vlen) {
  cJSON *arr = cJSON_CreateArray();
  memset(tot, 0, sizeof *tot);
  char dir[PATH_MAX];
  hs_fmt(dir, sizeof dir, "%s/afl", c->out);
  struct dirent **names = NULL;
  int nn = scandir(dir, &names, NULL, alphasort); /* by name: the same order every time */
  for (int k = 0; k < nn; k++) {
    const struct dirent *de = names[k];
    char idir[PATH_MAX];
    hs_fuzz_stats_t st;
    struct stat sb;
    hs_fmt(idir, sizeof idir, "%s/%s", dir, de->d_name);
    if (de->d_name[0] == '.' || lstat(idir, &sb) != 0 || !S_ISDIR(sb.st_mode)) continue;
    int have = hs_fuzz_read_stats(idir, &st) == 0;
    const char *role = "synced";
    for (int i = 0; i < c->ninstances; i++)
      if (!strcmp(c->instances[i], de->d_name)) role = i == 0 ? "main" : "secondary";
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", de->d_name);
    cJSON_AddStringToObject(o, "role", role);
    add_num_or_null(o, "execs", have ? st.execs : -1);
    add_num_or_null(o, "execs_per_s", have ? st.execs_per_s : -1);
    add_num_or_null(o, "corpus_count", have ? st.corpus : -1);
    add_num_or_null(o, "saved_crashes", have ? st.crashes : -1);
    add_num_or_null(o, "saved_hangs", have ? st.hangs : -1);
    add_num_or_null(o, "run_time_s", have ? st.run_time_s : -1);
    add_num_or_null(o, "exec_timeout_ms", have ? st.exec_timeout_ms : -1);
    if (strcmp(role, "synced")) {
      char log[PATH_MAX];
      hs_fmt(log, sizeof log, "logs/%s.log", de->d_name);
      cJSON_AddStringToObject(o, "log", log);
    }
    cJSON_AddItemToArray(arr, o);
    if (have && strcmp(role, "synced")) { /* totals: this machine's instances */
      tot->execs += fmax(st.execs, 0);
      tot->execs_per_s += fmax(st.execs_per_s, 0);
      tot->corpus += fmax(st.corpus, 0);
      if (st.version[0]) hs_fmt(version, vlen, "%s", st.version);
    }
  }
  for (int k = 0; k < nn; k++) free(names[k]);
  free(names);
  return arr;
}

static cJSON *finding_json(const fz_finding_t *f) {
  char path[PATH_MAX];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", f->id);
  cJSON_AddStringToObject(o, "kind", f->kind);
  add_num_or_null(o, "value", f->have_value ? f->value : -1);
  add_num_or_null(o, "value_max", f->have_value ? f->value_max : -1);
  add_num_or_null(o, "limit", f->have_value ? f->limit : -1);
  add_num_or_null(o, "blocks", f->have_value ? f->blocks : -1);
  cJSON_AddStringToObject(o, "where", f->where);
  cJSON_AddStringToObject(o, "message", f->message);
  cJSON_AddItemToObject(o, "stack", cJSON_Duplicate(f->stack, 1));
  if (f->signal[0]) cJSON_AddStringToObject(o, "signal", f->signal);
  else cJSON_AddNullToObject(o, "signal");
  if (f->stderr_head[0]) cJSON_AddStringToObject(o, "stderr", f->stderr_head);
  else cJSON_AddNullToObject(o, "stderr");
  cJSON_AddItemToObject(o, "instances", cJSON_Duplicate(f->instances, 1));
  cJSON_AddNumberToObject(o, "count", (double)f->count);
  add_num_or_null(o, "first_found_s", f->first_found_s);
  hs_fmt(path, sizeof path, "findings/%s/input", f->id);
  cJSON_AddStringToObject(o, "input", path);
  cJSON_AddNumberToObject(o, "input_size", (double)f->input_size);
  cJSON_AddStringToObject(o, "input_source", f->input_rel);
  hs_fmt(path, sizeof path, "findings/%s/report.json", f->id);
  if (f->report) cJSON_AddStringToObject(o, "report", path);
  else cJSON_AddNullToObject(o, "report");
  cJSON_AddItemToObject(o, "files", cJSON_Duplicate(f->files, 1));
  return o;
}

static cJSON *findings_doc(const hs_fuzz_findings_t *fs, const hs_fuzz_campaign_t *c,
                           hs_fuzz_stats_t *tot) {
  cJSON *doc = cJSON_CreateObject();
  cJSON_AddStringToObject(doc, "schema", "memscope.findings/1");
  cJSON *t = cJSON_AddObjectToObject(doc, "target");
  cJSON_AddStringToObject(t, "path", c->target_path);
  cJSON *argv = cJSON_AddArrayToObject(t, "argv");
  for (char *const *a = c->target; *a; a++) cJSON_AddItemToArray(argv, cJSON_CreateString(*a));
  cJSON *lim = cJSON_AddObjectToObject(doc, "limits");
  cJSON_AddNumberToObject(lim, "max_leak_bytes", (double)c->max_leak);
  add_num_or_null(lim, "max_peak_bytes", c->max_peak ? (double)c->max_peak : -1);
  cJSON_AddBoolToObject(lim, "memory_feedback", c->feedback);
  if (c->suppressions) cJSON_AddStringToObject(lim, "suppressions", c->suppressions);
  else cJSON_AddNullToObject(lim, "suppressions");
  char version[32] = "";
  cJSON *inst = instances_json(c, tot, version, sizeof version);
  cJSON *camp = cJSON_AddObjectToObject(doc, "campaign");
  char ts[32];
  struct tm tm;
  gmtime_r(&c->started, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  cJSON_AddStringToObject(camp, "started", ts);
  cJSON_AddNumberToObject(camp, "time_s", (double)c->time_s);
  cJSON_AddNumberToObject(camp, "jobs", c->jobs);
  cJSON_AddNumberToObject(camp, "fuzz_wall_s", c->fuzz_wall_s);
  cJSON_AddNumberToObject(camp, "replay_wall_s", c->replay_wall_s);
  cJSON_AddNumberToObject(camp, "replay_timeout_s", c->replay_timeout_s);
  cJSON_AddBoolToObject(camp, "interrupted", c->interrupted);
  cJSON_AddBoolToObject(camp, "overran", c->overran);
  cJSON_AddStringToObject(camp, "afl_fuzz", c->afl_fuzz);
  cJSON_AddStringToObject(camp, "afl_version", version);
  if (c->dict) cJSON_AddStringToObject(camp, "dict", c->dict);
  else cJSON_AddNullToObject(camp, "dict");
  cJSON *tj = cJSON_AddObjectToObject(doc, "totals");
  cJSON_AddNumberToObject(tj, "execs", tot->execs);
  cJSON_AddNumberToObject(tj, "execs_per_s", tot->execs_per_s);
  cJSON_AddNumberToObject(tj, "corpus_count", tot->corpus);
  cJSON_AddNumberToObject(tj, "crash_files", (double)fs->crash_files);
  cJSON_AddNumberToObject(tj, "hang_files", (double)fs->hang_files);
  cJSON_AddNumberToObject(tj, "seed_crashes", (double)fs->seed_files);
  cJSON_AddNumberToObject(tj, "findings", (double)fs->n);
  cJSON_AddItemToObject(doc, "instances", inst);
  cJSON *arr = cJSON_AddArrayToObject(doc, "findings");
  for (size_t i = 0; i < fs->n; i++) cJSON_AddItemToArray(arr, finding_json(&fs->v[i]));
  return doc;
}

/* ---- junit.xml (through hs_junit.c's hs_junit_case_open, hs_xml_escape) ----------------------------------- */

static void xml_prop(FILE *f, const char *name, double v) {
  fputs("      <property name=\"", f);
  hs_xml_escape(f, name);
  fprintf(f, "\" value=\"%.17g\"/>\n", v);
}

/* The failure's body: the message, the stack one frame a line, where the input is. */
static void junit_failure_body(FILE *f, const fz_finding_t *x) {
  hs_xml_escape(f, x->message);
  fputs("\n", f);
  int i = 0;
  const cJSON *fr;
  cJSON_ArrayForEach(fr, x->stack) {
    const char *fn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fr, "function"));
    const char *in = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fr, "inlined"));
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fr, "file"));
    const char *mod = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fr, "module"));
    fprintf(f, "  #%d ", i++);
    hs_xml_escape(f, fn && *fn ? fn : "??");
    if (in && *in) fputs(" [inlined ", f), hs_xml_escape(f, in), fputs("]", f);
    if (file && *file) fputs(" ", f), hs_xml_escape(f, file), fprintf(f, ":%.0f", hs_jnum(fr, "line", 0));
    if (mod && *mod) fputs(" in ", f), hs_xml_escape(f, mod);
    fputs("\n", f);
  }
  if (x->stderr_head[0]) fputs("stderr:\n", f), hs_xml_escape(f, x->stderr_head), fputs("\n", f);
  fprintf(f, "input: findings/");
  hs_xml_escape(f, x->id);
  fprintf(f, "/input (%zu B); %zu saved input%s; first found after ", x->input_size, x->count,
          x->count == 1 ? "" : "s");
  if (x->first_found_s >= 0) fprintf(f, "%.3f s", x->first_found_s);
  else fputs("an unknown time", f);
  fputs(" by ", f);
  const cJSON *n;
  int k = 0;
  cJSON_ArrayForEach(n, x->instances) fputs(k++ ? ", " : "", f), hs_xml_escape(f, n->valuestring);
  fputs("\n", f);
}

static int write_junit(const char *path, const hs_fuzz_findings_t *fs, const hs_fuzz_campaign_t *c,
                       const hs_fuzz_stats_t *tot) {
  ms_out_file_t of;
  int rc = ms_out_open(&of, path);
  if (rc) return rc;
  FILE *f = of.f;
  const char *base = strrchr(c->target[0], '/');
  base = base ? base + 1 : c->target[0];
  size_t tests = fs->n ? fs->n : 1;
  double time_s = c->fuzz_wall_s + c->replay_wall_s;
  char host[256] = "localhost", ts[32];
  gethostname(host, sizeof host);
  host[sizeof host - 1] = 0;
  struct tm tm;
  gmtime_r(&c->started, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
             "<testsuites name=\"memscope-harness\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n"
             "  <testsuite name=\"memscope-harness fuzz\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
             "skipped=\"0\" time=\"%.3f\" timestamp=\"%s\" hostname=\"",
          tests, fs->n, time_s, tests, fs->n, time_s, ts);
  hs_xml_escape(f, host);
  fputs("\">\n    <properties>\n", f);
  xml_prop(f, "fuzz.execs", tot->execs);
  xml_prop(f, "fuzz.execs_per_s", tot->execs_per_s);
  xml_prop(f, "fuzz.corpus_count", tot->corpus);
  xml_prop(f, "fuzz.time_s", (double)c->time_s);
  xml_prop(f, "fuzz.jobs", c->jobs);
  xml_prop(f, "fuzz.crash_files", (double)fs->crash_files);
  xml_prop(f, "fuzz.hang_files", (double)fs->hang_files);
  fputs("    </properties>\n", f);
  for (size_t i = 0; i < fs->n; i++) {
    const fz_finding_t *x = &fs->v[i];
    hs_junit_case_open(f, "fuzz.", base, x->id, 0.0);
    hs_junit_problem_open(f, "failure", x->kind, x->message);
    junit_failure_body(f, x);
    fputs("</failure>\n    </testcase>\n", f);
  }
  if (!fs->n) {
    hs_junit_case_open(f, "fuzz.", base, "no_findings", time_s);
    fprintf(f, "      <system-out>no leak, peak, crash or hang in %.0f execs over %.0f s"
               "</system-out>\n    </testcase>\n", tot->execs, c->fuzz_wall_s);
  }
  fputs("  </testsuite>\n</testsuites>\n", f);
  return ms_out_commit(&of);
}

/* ---- all of it ---------------------------------------------------------------------------------- */

static void print_summary(const hs_fuzz_findings_t *fs, const hs_fuzz_campaign_t *c,
                          const hs_fuzz_stats_t *tot) {
  printf("fuzz: %.0f s%s, %d instance%s, %.0f execs (%.0f/s), corpus %.0f; replayed %zu crash%s, "
         "%zu hang%s, %zu crashing seed%s in %.1f s\n",
         c->fuzz_wall_s, c->interrupted ? " (interrupted)" : "", c->jobs, c->jobs == 1 ? "" : "s",
         tot->execs, tot->execs_per_s, tot->corpus, fs->crash_files, fs->crash_files == 1 ? "" : "es",
         fs->hang_files, fs->hang_files == 1 ? "" : "s", fs->seed_files, fs->seed_files == 1 ? "" : "s",
         c->replay_wall_s);
  for (size_t i = 0; i < fs->n; i++) {
    const fz_finding_t *x = &fs->v[i];
    char inst[256] = "";
    const cJSON *n;
    cJSON_ArrayForEach(n, x->instances) {
      size_t l = strlen(inst);
      hs_fmt(inst + l, sizeof inst - l, "%s%s", l ? ", " : "", n->valuestring);
    }
    printf("  FAIL %s %s [%zu input%s, %s", x->id, x->message, x->count, x->count == 1 ? "" : "s", inst);
    if (x->first_found_s >= 0) printf("; first after %.1f s", x->first_found_s);
    printf("]\n");
  }
  if (!fs->n) printf("  PASS no findings\n");
  printf("  reports: %s/findings.json, %s/junit.xml\n", c->out, c->out);
}

int hs_fuzz_write(hs_fuzz_findings_t *fs, const hs_fuzz_campaign_t *c, char *err, size_t errlen) {
  if (fs->n) qsort(fs->v, fs->n, sizeof *fs->v, cmp_findings);
  assign_ids(fs);
  char path[PATH_MAX];
  /* findings/ holds this campaign's findings only (--out held no campaign before it). */
  hs_fmt(path, sizeof path, "%s/findings", c->out);
  hs_rmtree(path);
  for (size_t i = 0; i < fs->n; i++)
    if (write_finding_files(c->out, &fs->v[i], err, errlen)) return -1;
  hs_fuzz_stats_t tot;
  cJSON *doc = findings_doc(fs, c, &tot);
  hs_fmt(path, sizeof path, "%s/findings.json", c->out);
  int rc = ms_write_json_file(path, doc);
  cJSON_Delete(doc);
  if (!rc) {
    hs_fmt(path, sizeof path, "%s/junit.xml", c->out);
    rc = write_junit(path, fs, c, &tot);
  }
  if (rc) {
    hs_fmt(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    return -1;
  }
  print_summary(fs, c, &tot);
  return (int)fs->n;
}
