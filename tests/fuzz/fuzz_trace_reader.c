/* fuzz_trace_reader.c: fuzz target for everything that reads a trace: one input is a whole run
 * directory (meta.txt, maps.txt, thread files, the rings file, a suppressions file), written
 * into a fresh temporary directory and read by the reader (full and lazy opens, the merge),
 * the statistics pass, the salvage (counting, then writing) and the analysis engine with its
 * JSON summary. The container is documented in docs/fuzz-targets.md; tests/fuzz/pack_run.py
 * makes one from a real run directory.
 *
 * Container: byte 0 holds flags (FZ_F_*), then parts until the input ends, each a kind byte,
 * a u32 little-endian length (a length past the end takes what is left) and the bytes. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "fz_util.h"
#include "ms_analyze.h"
#include "ms_format.h" /* file and chunk headers, CRC-32C: the CRC fix-up */
#include "ms_salvage.h"
#include "ms_trace.h"

enum {
  FZ_F_SYMBOLIZE = 0x01, /* analyze with libdw symbolization (slow: a few inputs only) */
  FZ_F_FIX_CRC = 0x02,   /* recompute the CRC of every whole chunk of the thread parts */
  FZ_F_DETAILS = 0x04,   /* also write the analysis detail files (ms_report.c) */
  FZ_F_MODULE = 0x08,    /* the module filter of the stats and the analysis */
};

/* At most this many thread files per input: each is opened and scanned, and a megabyte of
 * five-byte parts would otherwise be 200,000 files. */
#define FZ_MAX_THREAD_FILES 64

/* The module the filter asks for: the seed program's (pack_run.py's seeds come from it). */
#define FZ_MODULE "ms_fz_seedprog"

/* This process's directory, /tmp/ms-fuzz-trace-XXXXXX, made before afl-fuzz's fork server
 * forks: each input gets a new directory inside it. A child that afl-fuzz kills mid-input
 * (a timeout) leaves its input's directory there, and the next child, on its first input,
 * removes what is left: one directory per campaign can remain in /tmp, not one per kill. */
static char root[64];
static int first_input = 1; /* a child of the fork server inherits 1 */

static ms_crc_table_t crc_table;
static volatile uint64_t sink; /* what the target reads is used, so no optimizer drops it */
static int verbose;            /* FZ_VERBOSE=1: one line per phase on stderr (seed checks) */

#define SAY(...) (verbose ? (void)fprintf(stderr, __VA_ARGS__) : (void)0)

/* The CRC-32C of every chunk that is whole in the part, recomputed in place: a chunk whose
 * payload a mutation changed then reaches the record decoder instead of stopping at the CRC
 * check (as it would 2^32 - 1 times in 2^32). Stops at the first chunk whose magic or length
 * is bad, as the reader does. */
static void fix_crcs(uint8_t *p, size_t n) {
  if (n < MS_FILE_HEADER_SIZE)
    return;
  uint16_t hsize;
  memcpy(&hsize, p + 10, sizeof hsize);
  size_t off = hsize >= MS_FILE_HEADER_SIZE ? hsize : MS_FILE_HEADER_SIZE;
  while (off <= n && n - off >= MS_CHUNK_HEADER_SIZE) {
    ms_chunk_header_t h;
    memcpy(&h, p + off, sizeof h);
    if (h.magic != MS_CHUNK_MAGIC || h.payload_len > n - off - MS_CHUNK_HEADER_SIZE)
      return;
    h.crc32c = ms_crc32c(&crc_table, p + off + MS_CHUNK_HEADER_SIZE, h.payload_len);
    memcpy(p + off, &h, sizeof h);
    off += MS_CHUNK_HEADER_SIZE + h.payload_len;
  }
}

/* The thread file's name as the tracker makes it, from the pid and tid in its header (0 when
 * the part is shorter), so that a ring's file_name finds its file; _k when taken. */
static int write_thread_part(const char *dir, const uint8_t *p, size_t n) {
  uint32_t pid = 0, tid = 0;
  if (n >= 20) {
    memcpy(&pid, p + 12, 4);
    memcpy(&tid, p + 16, 4);
  }
  for (int k = 0; k < FZ_MAX_THREAD_FILES; k++) {
    char name[96];
    if (k == 0)
      snprintf(name, sizeof name, "memscope_thread_%" PRIu32 "_%" PRIu32 ".bin", pid, tid);
    else
      snprintf(name, sizeof name, "memscope_thread_%" PRIu32 "_%" PRIu32 "_%d.bin", pid, tid, k);
    int rc = fz_write_file(dir, name, p, n, 0);
    if (rc != -EEXIST)
      return rc;
  }
  return -EEXIST;
}

/* Unpacks the container into dir. Returns the flags byte, or -1 when nothing was written.
 * *have_suppr: a suppressions part was present. */
static int unpack(const uint8_t *data, size_t size, const char *dir, int *have_suppr) {
  *have_suppr = 0;
  if (size < 1)
    return -1;
  int flags = data[0];
  size_t off = 1;
  int threads = 0, have_meta = 0, have_maps = 0, have_rings = 0;
  uint8_t *copy = NULL;
  while (off < size) {
    uint8_t kind = data[off++];
    uint32_t len = 0;
    for (int i = 0; i < 4 && off < size; i++)
      len |= (uint32_t)data[off++] << (8 * i);
    size_t n = len < size - off ? len : size - off;
    const uint8_t *part = data + off;
    off += n;
    switch (kind) {
    case 'M': /* a second part of a kind is appended to the first: mutations may split one */
      fz_write_file(dir, "meta.txt", part, n, have_meta);
      have_meta = 1;
      break;
    case 'P':
      fz_write_file(dir, "maps.txt", part, n, have_maps);
      have_maps = 1;
      break;
    case 'R':
      fz_write_file(dir, "memscope_rings.raw", part, n, have_rings);
      have_rings = 1;
      break;
    case 'S':
      fz_write_file(dir, "suppressions.txt", part, n, *have_suppr);
      *have_suppr = 1;
      break;
    case 'T':
      if (threads >= FZ_MAX_THREAD_FILES)
        break;
      threads++;
      if (flags & FZ_F_FIX_CRC) {
        uint8_t *c = realloc(copy, n ? n : 1);
        if (!c)
          break;
        copy = c;
        memcpy(copy, part, n);
        fix_crcs(copy, n);
        part = copy;
      }
      write_thread_part(dir, part, n);
      break;
    default: /* unknown kinds are skipped: room for later kinds, and for mutations */
      break;
    }
  }
  free(copy);
  return flags;
}

/* Every event of a run, with every string and field read (a string not NUL-terminated or a
 * field never set shows under a sanitizer; here it feeds the sink). */
static size_t walk_events(ms_run_t *run) {
  ms_event_t ev;
  uint64_t h = 0;
  int rc;
  size_t n = 0;
  while ((rc = ms_run_next(run, &ev)) == 1) {
    h += ev.kind + ev.ts + ev.ts_ns + ev.addr + ev.old_addr + ev.size + ev.weight + ev.stack_id;
    if (ev.name)
      h += strlen(ev.name);
    if (ev.type_name)
      h += strlen(ev.type_name);
    if (ev.file)
      h += strlen(ev.file);
    const ms_stack_t *s = ms_run_stack(run, ev.stack_id);
    if (s && s->nframes)
      h += s->frames[s->nframes - 1];
    n++;
  }
  sink += h + n + (uint64_t)rc;
  return n;
}

/* The run's accessors: threads, damage, stacks, calibration, meta. */
static void walk_run(ms_run_t *run) {
  uint64_t h = (uint64_t)ms_run_partial(run) + ms_run_nstacks(run);
  for (size_t i = 0; i < ms_run_nthreads(run); i++) {
    const ms_thread_info_t *t = ms_run_thread(run, i);
    h += t->tid + t->good_bytes + t->records + strlen(t->path);
  }
  for (size_t i = 0; i < ms_run_ndamage(run); i++) {
    const ms_damage_t *d = ms_run_damage(run, i);
    h += d->offset + strlen(d->reason) + strlen(d->file);
  }
  size_t pos = 0;
  const ms_stack_t *s;
  while (ms_run_stack_next(run, &pos, &s))
    h += s->id + s->nframes;
  h += strlen(ms_run_calibration(run)) + ms_run_ticks_to_ns(run, 0) +
       ms_run_ticks_to_ns(run, UINT64_MAX);
  const char *v = ms_meta_get(ms_run_meta(run), "cmdline");
  if (v)
    h += strlen(v);
  const char *module;
  uint64_t offset;
  if (ms_maps_lookup(ms_run_maps(run), 0x400000, &module, &offset))
    h += strlen(module) + offset;
  sink += h;
}

static void stats(ms_run_t *run, const char *module) {
  ms_stats_t *st = NULL;
  if (ms_stats_compute(run, module, &st) == 0) {
    sink += st->totals.events + st->totals.leaked_bytes + st->nthreads;
    ms_stats_free(st);
  }
}

static void read_run(const char *dir, int flags) {
  char err[512];
  ms_run_t *run = NULL;
  int rc = ms_run_open(dir, &run, err, sizeof err);
  SAY("open: %d %s\n", rc, rc ? err : "");
  if (rc == 0) {
    walk_run(run);
    size_t n = walk_events(run);
    SAY("  threads %zu, damage %zu, stacks %zu, events %zu, calibration %s\n",
        ms_run_nthreads(run), ms_run_ndamage(run), ms_run_nstacks(run), n,
        ms_run_calibration(run));
    for (size_t i = 0; i < ms_run_ndamage(run); i++)
      SAY("  damage: %s\n", ms_run_damage(run, i)->reason);
    stats(run, NULL);
    ms_run_close(run);
  }
  /* Lazy: records are validated by the merge, not the open; two passes (the second after a
   * rewind sees the stack table the first completed). */
  if (ms_run_open_flags(dir, MS_RUN_LAZY, &run, err, sizeof err) == 0) {
    walk_events(run);
    ms_run_rewind(run);
    walk_events(run);
    walk_run(run);
    stats(run, flags & FZ_F_MODULE ? FZ_MODULE : NULL);
    ms_run_close(run);
  }
}

static void salvage(const char *dir) {
  char err[512];
  ms_salvage_t sv;
  /* Counting first (reads the rings, writes nothing), then the salvage proper, which appends
   * chunks to the thread files and ends meta.txt: the analysis below reads its work. */
  if (ms_run_salvage(dir, 0, &sv, err, sizeof err) == 0)
    sink += sv.records_recovered + sv.bad_rings;
  int rc = ms_run_salvage(dir, 1, &sv, err, sizeof err);
  SAY("salvage: %d %s needed %d written %d rings %" PRIu64 " bad %" PRIu64 " records %" PRIu64
      " events %" PRIu64 "\n", rc, rc ? err : "", sv.needed, sv.written, sv.rings,
      sv.bad_rings, sv.records_recovered, sv.events_recovered);
  if (rc == 0)
    sink += sv.records_recovered + sv.events_recovered + (uint64_t)sv.written;
}

static void analyze(const char *dir, int flags, int have_suppr) {
  char err[512], suppr[4200];
  snprintf(suppr, sizeof suppr, "%s/suppressions.txt", dir);
  ms_analysis_opts_t o;
  memset(&o, 0, sizeof o);
  o.symbolize = (flags & FZ_F_SYMBOLIZE) != 0;
  o.suppressions = have_suppr ? suppr : NULL;
  o.module = flags & FZ_F_MODULE ? FZ_MODULE : NULL;
  o.top_stacks = 5;
  o.max_leaks = 10;
  o.max_live_records = 100;
  ms_analysis_t *a = NULL;
  int rc = ms_analyze_run(dir, &o, &a, err, sizeof err);
  SAY("analyze: %d %s\n", rc, rc ? err : "");
  if (rc != 0)
    return;
  SAY("  partial %d, allocations %" PRIu64 ", leaked %" PRIu64 " B, leak groups %zu\n",
      ms_analysis_partial(a), ms_analysis_totals(a)->allocations,
      ms_analysis_totals(a)->leaked_bytes, ms_analysis_nleaks(a));
  /* Built, not printed: printing is cJSON's code and took three quarters of an input's time
   * (the detail files below print theirs when the flag asks). */
  cJSON *j = ms_analysis_summary_json(a);
  sink += (uint64_t)cJSON_GetArraySize(j);
  cJSON_Delete(j);
  if (flags & FZ_F_DETAILS) {
    char out[4200];
    snprintf(out, sizeof out, "%s/out", dir);
    if (ms_mkdirs(out) == 0)
      ms_analysis_write_details(a, out, "fz", err, sizeof err);
  }
  sink += ms_analysis_nleaks(a) + ms_analysis_nscopes(a) + ms_analysis_nmarks(a);
  ms_analysis_free(a);
}

static void remove_root(void) { fz_rmtree(root, 0); }

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  if (fz_mkdtemp(root, sizeof root, "trace")) {
    perror("fuzz_trace_reader: mkdtemp");
    exit(2);
  }
  atexit(remove_root);
  ms_crc32c_init(&crc_table);
  const char *v = getenv("FZ_VERBOSE");
  verbose = v && !strcmp(v, "1");
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (first_input) {
    fz_rmtree(root, 1);
    first_input = 0;
  }
  char dir[96];
  snprintf(dir, sizeof dir, "%s/run-XXXXXX", root);
  if (!mkdtemp(dir)) {
    /* root is gone (a child that ended normally ran the atexit handler): make it again. */
    snprintf(dir, sizeof dir, "%s/run-XXXXXX", root);
    if (mkdir(root, 0700) != 0 || !mkdtemp(dir))
      return 0;
  }
  int have_suppr;
  int flags = unpack(data, size, dir, &have_suppr);
  if (flags >= 0) {
    char **runs = NULL;
    size_t nruns = 0;
    char err[512];
    if (ms_trace_find_runs(dir, &runs, &nruns, err, sizeof err) == 0)
      ms_trace_free_dirs(runs, nruns);
    read_run(dir, flags);
    salvage(dir);
    analyze(dir, flags, have_suppr);
  }
  fz_rmtree(dir, 0);
  return 0;
}
