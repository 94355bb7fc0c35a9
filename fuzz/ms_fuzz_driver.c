/* ms_fuzz_driver.c: memscope's driver for fuzz targets in the LLVMFuzzerTestOneInput form,
 * with the per-input leak and peak oracle (docs/fuzz.md).
 *
 * Under afl-fuzz it runs AFL++'s persistent mode with shared-memory test cases (as AFL++'s
 * own utils/aflpp_driver does); run by hand it replays the files and directories named on
 * its command line. Around every input, when the tracker runs in fuzz mode (libmemscope.so
 * preloaded, e.g. AFL_PRELOAD, with MEMSCOPE_FUZZ=1), it asks the tracker for the input's
 * exact figures (tracker/fuzz.c):
 *
 * - leaks: blocks allocated during the input and live after it. An input that leaks is run
 *   a second time, with every allocation's stack: what the second run leaks again is the
 *   input's leak; what only the first run left behind was a one-time lazy global (a cache
 *   built on first use), not a leak. LSan "leak:" suppressions apply to the stacks.
 * - peak: the input's high-water of live heap bytes above its starting level. With a limit,
 *   the allocation that crosses it is reported (with its stack) before the program gets it.
 *
 * A violation prints one "memscope:" line, writes a report (JSON) and the input into
 * MEMSCOPE_FUZZ_REPORT_DIR, and calls abort(), so that afl-fuzz keeps the input in crashes/.
 * With MEMSCOPE_FUZZ_FEEDBACK=1 each input's peak (a log2 bucket) and leak count are also
 * written into AFL++'s coverage map, so that AFL++ keeps inputs that reach new memory
 * high-water marks (MemLock's idea, with Debian's unmodified AFL++). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "memscope.h"
#include "ms_analyze.h"
#include "ms_files.h"
#include "ms_symbols.h"
#include "ms_trace.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

/* ---- AFL++'s side (afl-compiler-rt, linked in by afl-cc; absent in a plain build) -------- */

/* Shared-memory test cases: afl-compiler-rt maps them when this is non-zero. */
int __afl_sharedmem_fuzzing = 1;
extern unsigned int *__afl_fuzz_len __attribute__((weak));
extern unsigned char *__afl_fuzz_ptr __attribute__((weak));
extern unsigned char *__afl_area_ptr __attribute__((weak));
extern unsigned int __afl_map_size __attribute__((weak));
int __afl_persistent_loop(unsigned int) __attribute__((weak));
void __afl_manual_init(void) __attribute__((weak));
/* afl-fuzz looks for these strings in the binary to use persistent mode and the deferred
 * forkserver. volatile and copied below, so that no optimizer drops them. */
static volatile char afl_persistent[] = "##SIG_AFL_PERSISTENT##";
static volatile char afl_defer[] = "##SIG_AFL_DEFER_FORKSRV##";

#define AFL_FORKSRV_FD 198

/* ---- configuration -------------------------------------------------------------------------- */

static struct {
  int oracle;             /* the tracker runs in fuzz mode: check every input */
  int leak_check;         /* MEMSCOPE_FUZZ_MAX_LEAK_BYTES is not "none" */
  uint64_t max_leak;      /* bytes an input may leak (default 0) */
  uint64_t max_peak;      /* bytes above its start an input may reach, 0 = no limit */
  int feedback;           /* MEMSCOPE_FUZZ_FEEDBACK=1 */
  const char *report_dir; /* MEMSCOPE_FUZZ_REPORT_DIR, default "." */
  ms_suppressions_t *suppr;
  const uint8_t *input;   /* the input running now (for the reports) */
  size_t input_size;
  int running;            /* 1 while LLVMFuzzerTestOneInput runs under the oracle */
  int replay;             /* replaying files (not under afl-fuzz) */
} cfg;

static void die_usage(const char *fmt, const char *what) {
  fprintf(stderr, "memscope: ");
  fprintf(stderr, fmt, what);
  fputc('\n', stderr);
  exit(2);
}

static uint64_t env_bytes(const char *name, uint64_t dflt, int *none) {
  const char *v = getenv(name);
  if (none)
    *none = 0;
  if (!v || !*v)
    return dflt;
  if (none && !strcmp(v, "none")) {
    *none = 1;
    return 0;
  }
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (*end || errno || v[0] == '-')
    die_usage("%s is not a byte count (digits only; the harness converts units)", name);
  return x;
}

static void configure(void) {
  const char *fz = getenv("MEMSCOPE_FUZZ");
  int want = fz && !strcmp(fz, "1");
  if (want && !(memscope__fuzz_begin && memscope__fuzz_begin(0, 0, NULL) == 0))
    die_usage("%s", "MEMSCOPE_FUZZ=1 but the tracker is not in fuzz mode here: preload it "
                    "(AFL_PRELOAD=/path/to/libmemscope.so, or LD_PRELOAD when replaying) or "
                    "link it (-lmemscope)");
  if (want)
    memscope__fuzz_end(NULL);
  cfg.oracle = want;
  int none;
  cfg.max_leak = env_bytes("MEMSCOPE_FUZZ_MAX_LEAK_BYTES", 0, &none);
  cfg.leak_check = !none;
  cfg.max_peak = env_bytes("MEMSCOPE_FUZZ_MAX_PEAK_BYTES", 0, NULL);
  const char *fb = getenv("MEMSCOPE_FUZZ_FEEDBACK");
  cfg.feedback = fb && !strcmp(fb, "1");
  cfg.report_dir = getenv("MEMSCOPE_FUZZ_REPORT_DIR");
  if (!cfg.report_dir || !*cfg.report_dir)
    cfg.report_dir = ".";
  const char *sp = getenv("MEMSCOPE_FUZZ_SUPPRESSIONS");
  if (sp && *sp) {
    char err[512] = "";
    if (ms_suppressions_load(sp, &cfg.suppr, err, sizeof err) != 0)
      die_usage("%s", err);
  }
}

/* ---- reports ------------------------------------------------------------------------------- */

/* FNV-1a, 64 bits: names an input in reports and file names (not a security hash). */
static uint64_t input_hash(const uint8_t *d, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ d[i]) * 0x100000001b3ull;
  return h;
}

typedef struct sym_s {
  ms_maps_t *maps;
  ms_symbolizer_t *sym;
} sym_t;

/* The process's own modules, as the analysis symbolizes a trace's (libdw, file:line). */
static void sym_open(sym_t *s) {
  memset(s, 0, sizeof *s);
  if (ms_maps_load("/proc/self/maps", &s->maps) == 0 && s->maps)
    ms_symbolizer_new(s->maps, &s->sym);
}

static void sym_close(sym_t *s) {
  ms_symbolizer_free(s->sym);
  ms_maps_free(s->maps);
}

static size_t sym_frames(sym_t *s, const memscope_fuzz_block_t *b, ms_frame_t *out) {
  for (uint32_t i = 0; i < b->nframes; i++) {
    memset(&out[i], 0, sizeof out[i]);
    out[i].address = b->frames[i];
    if (s->sym)
      ms_symbolize(s->sym, b->frames[i], 1, &out[i]);
  }
  return b->nframes;
}

static cJSON *stack_json(const ms_frame_t *f, size_t n) {
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    char addr[24];
    snprintf(addr, sizeof addr, "0x%" PRIx64, f[i].address);
    cJSON_AddStringToObject(o, "address", addr);
    cJSON_AddStringToObject(o, "function", f[i].function ? f[i].function : "");
    cJSON_AddStringToObject(o, "inlined", f[i].inlined ? f[i].inlined : "");
    cJSON_AddStringToObject(o, "file", f[i].file ? f[i].file : "");
    cJSON_AddNumberToObject(o, "line", f[i].line);
    cJSON_AddStringToObject(o, "module", f[i].module ? f[i].module : "");
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

/* "function (file:line) <- caller (file:line)": the first two frames that have a name. A
 * function inlined at the call is named as the source has it (its line is its own). */
static void where_text(const ms_frame_t *f, size_t n, char *buf, size_t len) {
  size_t off = 0, named = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && named < 2 && off + 1 < len; i++) {
    if (!f[i].function || !*f[i].function)
      continue;
    const char *fn = f[i].inlined && *f[i].inlined ? f[i].inlined : f[i].function;
    int w;
    if (f[i].file && *f[i].file)
      w = snprintf(buf + off, len - off, "%s%s (%s:%d)", named ? " <- " : "", fn, f[i].file,
                   f[i].line);
    else
      w = snprintf(buf + off, len - off, "%s%s", named ? " <- " : "", fn);
    if (w < 0)
      break;
    off += (size_t)w;
    named++;
  }
  if (!named)
    snprintf(buf, len, "%s", n ? "an unnamed function" : "an unknown place (no stack)");
}

/* Writes the report and the input, prints the one line, aborts. */
static __attribute__((noreturn)) void violation(const char *kind, uint64_t value, uint64_t limit,
                                               uint64_t blocks, cJSON *stacks,
                                               const char *where) {
  uint64_t h = input_hash(cfg.input, cfg.input_size);
  char hash[20], path[PATH_MAX], ipath[PATH_MAX];
  snprintf(hash, sizeof hash, "%016" PRIx64, h);
  snprintf(path, sizeof path, "%s/memscope-%s-%s.json", cfg.report_dir, kind, hash);
  snprintf(ipath, sizeof ipath, "%s/memscope-%s-%s.input", cfg.report_dir, kind, hash);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "schema", "memscope.fuzz_report/1");
  cJSON_AddStringToObject(r, "kind", kind);
  cJSON_AddStringToObject(r, "input_hash", hash);
  cJSON_AddNumberToObject(r, "input_size", (double)cfg.input_size);
  cJSON_AddStringToObject(r, "input_file", ipath);
  cJSON_AddNumberToObject(r, "value", (double)value);
  cJSON_AddNumberToObject(r, "limit", (double)limit);
  cJSON_AddNumberToObject(r, "blocks", (double)blocks);
  cJSON_AddStringToObject(r, "where", where);
  cJSON_AddItemToObject(r, "stacks", stacks);
  int rc = ms_mkdirs(cfg.report_dir);
  if (!rc)
    rc = ms_write_json_file(path, r);
  if (!rc)
    rc = ms_write_file_atomic(ipath, cfg.input, cfg.input_size);
  cJSON_Delete(r);
  if (!strcmp(kind, "leak"))
    fprintf(stderr,
            "memscope: leak: %" PRIu64 " B in %" PRIu64 " block%s (limit %" PRIu64
            " B) allocated in %s, input %s; report %s\n",
            value, blocks, blocks == 1 ? "" : "s", limit, where, hash,
            rc ? "not written" : path);
  else if (!strcmp(kind, "partial"))
    fprintf(stderr,
            "memscope: partial: %" PRIu64 " allocator call%s during the input could not be "
            "accounted (%s): its leak and peak figures are not exact, input %s; report %s\n",
            value, value == 1 ? "" : "s", where, hash, rc ? "not written" : path);
  else
    fprintf(stderr,
            "memscope: peak: the input's live heap reached %" PRIu64 " B above its start (limit %"
            PRIu64 " B) at an allocation in %s, input %s; report %s\n",
            value, limit, where, hash, rc ? "not written" : path);
  if (rc)
    fprintf(stderr, "memscope: cannot write the report into %s: %s\n", cfg.report_dir,
            strerror(-rc));
  abort();
}

static void check_accounted(void);

/* The tracker calls this from inside the allocation that crosses the peak limit. A call the
 * table missed earlier in the input (a handler's free of a block it still counts) may have
 * left the level too high: such an input is partial, not over its limit. */
static void on_limit(const memscope_fuzz_block_t *b, uint64_t peak, uint64_t limit) {
  check_accounted();
  sym_t s;
  sym_open(&s);
  ms_frame_t f[MEMSCOPE_FUZZ_FRAMES];
  size_t n = sym_frames(&s, b, f);
  char where[512];
  where_text(f, n, where, sizeof where);
  cJSON *stacks = cJSON_CreateArray();
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "size", (double)b->size);
  cJSON_AddNumberToObject(o, "blocks", 1);
  cJSON_AddItemToObject(o, "frames", stack_json(f, n));
  cJSON_AddItemToArray(stacks, o);
  violation("peak", peak, limit, 1, stacks, where);
}

/* The leaked blocks of the input just run (r: its figures; with stacks), grouped by stack,
 * suppressions applied: a violation when what is left exceeds the limit. At most MAX_BLOCKS
 * are listed; the others (r's totals minus the listed) count as leaked, unsuppressed: their
 * stacks were not checked, so no suppression can clear them. */
static void check_leaks(const memscope_fuzz_result_t *r) {
  enum { MAX_BLOCKS = 4096 };
  static memscope_fuzz_block_t blocks[MAX_BLOCKS];
  size_t n = memscope__fuzz_leaks(blocks, MAX_BLOCKS);
  uint64_t listed_bytes = 0;
  for (size_t i = 0; i < n; i++)
    listed_bytes += blocks[i].size;
  sym_t s;
  sym_open(&s);
  uint64_t bytes = 0, nblocks = 0, top = 0;
  cJSON *groups = cJSON_CreateArray();
  char where[512] = "";
  static ms_frame_t f[MEMSCOPE_FUZZ_FRAMES];
  for (size_t i = 0; i < n; i++) {
    if (!blocks[i].addr)
      continue; /* merged into an earlier group */
    uint64_t gbytes = blocks[i].size, gblocks = 1;
    for (size_t j = i + 1; j < n; j++)
      if (blocks[j].addr && blocks[j].nframes == blocks[i].nframes &&
          !memcmp(blocks[j].frames, blocks[i].frames, blocks[i].nframes * sizeof(uintptr_t))) {
        gbytes += blocks[j].size;
        gblocks++;
        blocks[j].addr = 0;
      }
    size_t nf = sym_frames(&s, &blocks[i], f);
    if (ms_suppressions_match(cfg.suppr, f, nf))
      continue;
    bytes += gbytes;
    nblocks += gblocks;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "size", (double)gbytes);
    cJSON_AddNumberToObject(o, "blocks", (double)gblocks);
    cJSON_AddItemToObject(o, "frames", stack_json(f, nf));
    /* Largest group first, and its place in the one-line message. */
    if (gbytes > top) {
      top = gbytes;
      where_text(f, nf, where, sizeof where);
      cJSON_InsertItemInArray(groups, 0, o);
    } else {
      cJSON_AddItemToArray(groups, o);
    }
  }
  sym_close(&s);
  if (r->leaked_blocks > n) {
    uint64_t ublocks = r->leaked_blocks - n;
    uint64_t ubytes = r->leaked_bytes > listed_bytes ? r->leaked_bytes - listed_bytes : 0;
    bytes += ubytes;
    nblocks += ublocks;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "size", (double)ubytes);
    cJSON_AddNumberToObject(o, "blocks", (double)ublocks);
    cJSON_AddItemToObject(o, "frames", cJSON_CreateArray()); /* not listed: no stack read */
    if (ubytes > top || !where[0]) {
      top = ubytes;
      snprintf(where, sizeof where, "blocks not listed (over %d: stacks not read)", MAX_BLOCKS);
      cJSON_InsertItemInArray(groups, 0, o);
    } else {
      cJSON_AddItemToArray(groups, o);
    }
  }
  if (bytes > cfg.max_leak || (cfg.max_leak == 0 && nblocks > 0))
    violation("leak", bytes, cfg.max_leak, nblocks, groups, where);
  cJSON_Delete(groups);
}

/* ---- one input ------------------------------------------------------------------------------ */

/* A bucket per power of two: AFL++ counts a new bucket as new coverage. */
static unsigned log2_bucket(uint64_t v) { return v ? 64u - (unsigned)__builtin_clzll(v) : 0; }

static void feed_afl(const memscope_fuzz_result_t *r) {
  if (!&__afl_area_ptr || !&__afl_map_size || !__afl_area_ptr || __afl_map_size < 2)
    return;
  /* Two fixed "edges" per input, named by the peak's bucket and the leaked-block count's:
   * an input that reaches a new bucket touches a map entry no input touched before. The
   * constants keep them off the entries the instrumentation uses most (AFL++ hashes edges
   * over the whole map; a collision only merges two signals). */
  unsigned size = __afl_map_size;
  unsigned peak = log2_bucket(r->peak_bytes), leaks = log2_bucket(r->leaked_blocks);
  __afl_area_ptr[(0x6d5c0000u + peak * 0x9e3779b1u) % size]++;
  __afl_area_ptr[(0x6d5c8000u + leaks * 0x85ebca6bu) % size]++;
}

/* An input during which allocator calls passed the tracker's table by (a signal handler's,
 * inside an allocator call: memscope__fuzz_unaccounted) cannot be cleared: what it leaked
 * or how high it went is not known. Reported as a violation of its own, before its figures
 * are read, so that a leak the table never saw is not taken for a clean input. */
static void check_accounted(void) {
  uint64_t n = memscope__fuzz_unaccounted ? memscope__fuzz_unaccounted() : 0;
  if (n)
    violation("partial", n, 0, 0, cJSON_CreateArray(),
              "made inside an allocator call, by a signal handler");
  /* Allocations the tracker's table could not hold (it could not grow): the same. */
  n = memscope__fuzz_dropped ? memscope__fuzz_dropped() : 0;
  if (n)
    violation("partial", n, 0, 0, cJSON_CreateArray(),
              "the tracker's table of live blocks could not grow: no memory");
}

/* exit() called by the target during an input (on_exit: with its status). The input cannot
 * be run again, so its blocks still live now are its leak, as they stand (no stacks when the
 * first run exits; a lazy global built by this input counts too, reachable or not: more
 * than LeakSanitizer's check at exit, which reports unreachable blocks only). stdio's own
 * buffers are set up before the first input (stdio_buffers), so a printf before the exit is
 * not among them. With none, the exit goes on; in a replay, whose later inputs were never
 * run, an exit(0) becomes status 2. */
/* stdin's and stdout's buffers, given now (static, line-buffered on a terminal and fully
 * buffered otherwise, as glibc would pick) instead of allocated by their first use: a
 * target that prints and exits during an input would otherwise have stdout's 4 KiB buffer
 * counted as that input's leak. errno kept (isatty sets it). */
static void stdio_buffers(void) {
  static char in_buf[BUFSIZ], out_buf[BUFSIZ];
  int err = errno;
  setvbuf(stdin, in_buf, isatty(STDIN_FILENO) ? _IOLBF : _IOFBF, sizeof in_buf);
  setvbuf(stdout, out_buf, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, sizeof out_buf);
  errno = err;
}

static void on_exit_during_input(int status, void *arg) {
  (void)arg;
  if (!cfg.running)
    return;
  cfg.running = 0;
  memscope_fuzz_result_t r;
  memscope__fuzz_end(&r);
  fprintf(stderr, "memscope: the target called exit(%d) during input %016" PRIx64 "%s\n", status,
          input_hash(cfg.input, cfg.input_size),
          cfg.replay ? ": the inputs after it were not run" : "");
  check_accounted();
  if (cfg.leak_check && (r.leaked_bytes > cfg.max_leak || (cfg.max_leak == 0 && r.leaked_blocks)))
    check_leaks(&r);
  if (cfg.replay && status == 0) {
    fflush(NULL);
    _exit(2);
  }
}

static void run_one(const uint8_t *data, size_t size) {
  cfg.input = data;
  cfg.input_size = size;
  if (!cfg.oracle) {
    LLVMFuzzerTestOneInput(data, size);
    return;
  }
  memscope_fuzz_result_t r;
  memscope__fuzz_begin(cfg.max_peak, 0, cfg.max_peak ? on_limit : NULL);
  cfg.running = 1;
  LLVMFuzzerTestOneInput(data, size);
  cfg.running = 0;
  memscope__fuzz_end(&r);
  check_accounted();
  if (cfg.feedback)
    feed_afl(&r);
  if (!cfg.leak_check || (r.leaked_bytes <= cfg.max_leak && !(cfg.max_leak == 0 && r.leaked_blocks)))
    return;
  /* The second run of the same input, with stacks: a one-time lazy global is built by the
   * first run only, a leak of the input's own happens again. */
  memscope__fuzz_begin(cfg.max_peak, 1, cfg.max_peak ? on_limit : NULL);
  cfg.running = 1;
  LLVMFuzzerTestOneInput(data, size);
  cfg.running = 0;
  memscope__fuzz_end(&r);
  check_accounted();
  if (r.leaked_bytes > cfg.max_leak || (cfg.max_leak == 0 && r.leaked_blocks))
    check_leaks(&r);
}

/* ---- replay: files and directories named on the command line ------------------------------ */

static int replay_file(const char *path) {
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "memscope: cannot read %s: %s\n", path,
            fd < 0 ? strerror(errno) : "not a regular file");
    if (fd >= 0)
      close(fd);
    return -1;
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n ? n : 1);
  size_t got = 0;
  while (buf && got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  close(fd);
  if (!buf || got != n) {
    fprintf(stderr, "memscope: cannot read %s\n", path);
    free(buf);
    return -1;
  }
  /* The input in a block of its own size, so that a read past its end is a real overflow
   * under a sanitizer, as in libFuzzer. */
  run_one(buf, n);
  free(buf);
  return 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int replay_path(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    if (!d) {
      fprintf(stderr, "memscope: cannot read %s: %s\n", path, strerror(errno));
      return -1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
      if (de->d_name[0] == '.')
        continue;
      if (n == cap) {
        cap = cap ? cap * 2 : 64;
        char **nn = realloc(names, cap * sizeof *nn);
        if (!nn)
          break;
        names = nn;
      }
      names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_names);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
      char p[PATH_MAX];
      snprintf(p, sizeof p, "%s/%s", path, names[i]);
      if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
        bad |= replay_file(p) != 0;
      free(names[i]);
    }
    free(names);
    return bad ? -1 : 0;
  }
  return replay_file(path);
}

/* ---- main ------------------------------------------------------------------------------------ */

static int in_afl(void) {
  return getenv("__AFL_SHM_ID") && getenv("__AFL_SHM_FUZZ_ID") &&
         fcntl(AFL_FORKSRV_FD, F_GETFD) != -1 && fcntl(AFL_FORKSRV_FD + 1, F_GETFD) != -1 &&
         __afl_persistent_loop && &__afl_fuzz_ptr && &__afl_fuzz_len;
}

__attribute__((weak)) int main(int argc, char **argv) {
  if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
    printf("usage: %s [FILE|DIR ...]\n"
           "A fuzz target built with memscope's driver (docs/fuzz.md). Under afl-fuzz it runs\n"
           "AFL++'s persistent mode; otherwise it runs LLVMFuzzerTestOneInput on each FILE and\n"
           "on every file in each DIR. With libmemscope.so preloaded and MEMSCOPE_FUZZ=1, every\n"
           "input is checked for leaks and its peak (MEMSCOPE_FUZZ_MAX_LEAK_BYTES, default 0,\n"
           "'none' = no leak check; MEMSCOPE_FUZZ_MAX_PEAK_BYTES; MEMSCOPE_FUZZ_FEEDBACK=1;\n"
           "MEMSCOPE_FUZZ_REPORT_DIR; MEMSCOPE_FUZZ_SUPPRESSIONS): a violation prints one\n"
           "'memscope:' line, writes a report and aborts.\n",
           argv[0]);
    return 0;
  }
  configure();
  if (cfg.oracle) {
    stdio_buffers();
    on_exit(on_exit_during_input, NULL);
  }
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  if (!in_afl()) {
    cfg.replay = 1;
    if (argc < 2) {
      fprintf(stderr, "memscope: no input: give files or directories to replay, or run under "
                      "afl-fuzz (see --help)\n");
      return 2;
    }
    int bad = 0;
    for (int i = 1; i < argc; i++)
      bad |= replay_path(argv[i]) != 0;
    return bad ? 2 : 0;
  }
  /* The strings afl-fuzz looks for are used here, so they stay in the binary. */
  uint8_t warm[64] = {0};
  memcpy(warm, (const void *)afl_persistent, sizeof afl_persistent);
  memcpy(warm + 32, (const void *)afl_defer, sizeof afl_defer);
  __afl_manual_init();
  /* One run before the loop: one-time initialization (lazy globals, caches) happens here,
   * outside any input's figures, as aflpp_driver does for coverage. */
  LLVMFuzzerTestOneInput(warm, 4);
  unsigned loops = UINT_MAX;
  const char *lc = getenv("AFL_FUZZER_LOOPCOUNT");
  if (lc && atoi(lc) > 0)
    loops = (unsigned)atoi(lc);
  while (__afl_persistent_loop(loops))
    run_one(__afl_fuzz_ptr, *__afl_fuzz_len);
  return 0;
}
