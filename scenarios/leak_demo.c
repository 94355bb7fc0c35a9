/* leak_demo.c: a known leak from a known function, among balanced allocations.
 *
 * leak_demo_leaky_function leaks 7 x 1000-byte blocks per scale unit; everything else (a list,
 * a buffer grown by realloc, a config block on the main thread) is freed. A leak checker must
 * report exactly the leaked blocks, with leak_demo_leaky_function in their stack, and a leak
 * assertion on this run must fail.
 *
 * The leaked blocks stay reachable from a global chain on purpose: they are leaks to memscope
 * (allocated and never freed) but not "definitely lost" to LeakSanitizer or Valgrind, so the
 * sanitizer builds of the test suite do not fail on the demo's intended leak. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "memscope.h"
#include "scenarios.h"

#define LD_LEAKED_BLOCKS 7 /* per scale unit */
#define LD_LEAKED_BYTES 1000
#define LD_LIST_NODES 20   /* per scale unit */
#define LD_NODE_MIN 32
#define LD_NODE_SPAN 257   /* node sizes 32..288 */
#define LD_BUFFER_START 64
#define LD_BUFFER_GROWTHS 4 /* reallocs per scale unit, each by 64 bytes */

typedef struct ld_node_s {
  struct ld_node_s *next;
  uint64_t index;
} ld_node_t;

typedef struct ld_config_s {
  int scale;
  uint64_t seed;
  char label[48];
} ld_config_t;

static sc_counts_t leak_counts;  /* the leaky function's calls (leak worker thread only) */
static void *leak_demo_chain;    /* keeps the leaked blocks reachable (see the file header) */

/* Allocate `blocks` blocks of `block_size` (>= sizeof(void *)) bytes and never free them.
 * Not static, never inlined or cloned: its name must be in the leaked blocks' stacks. */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((noinline, noclone))
#else
__attribute__((noinline))
#endif
void leak_demo_leaky_function(int blocks, size_t block_size) {
  for (int i = 0; i < blocks; i++) {
    void **block = SC_MALLOC(&leak_counts, block_size);
    if (!block) {
      sc_fail("leak_demo_leaky_function: out of memory");
      return;
    }
    memset(block, 0x5a, block_size);
    *block = leak_demo_chain;
    leak_demo_chain = block;
    if (i == 0) MEMSCOPE_TRACK_VAR_AS(block, "leaked block (leak_demo)");
  }
}

static size_t node_size(uint64_t seed, uint64_t i) {
  return LD_NODE_MIN + (size_t)(sc_rand(seed, 800, i) % LD_NODE_SPAN);
}

typedef struct ld_worker_s {
  sc_counts_t counts; /* first: cache-line aligned */
  const ld_config_t *config;
  uint64_t nodes, growths, buffer_bytes;
} ld_worker_t;

/* The balanced part: a list and a growing buffer, all freed again. */
static void balanced_work(ld_worker_t *w) {
  const ld_config_t *cfg = w->config;
  uint64_t nodes = (uint64_t)LD_LIST_NODES * (uint64_t)cfg->scale;
  ld_node_t *list = NULL;
  for (uint64_t i = 0; i < nodes; i++) {
    ld_node_t *node = SC_MALLOC(&w->counts, node_size(cfg->seed, i));
    if (!node) {
      sc_fail("leak_demo: out of memory");
      break;
    }
    node->index = i;
    node->next = list;
    list = node;
    w->nodes++;
  }
  size_t cap = LD_BUFFER_START;
  char *buffer = SC_MALLOC(&w->counts, cap);
  uint64_t growths = (uint64_t)LD_BUFFER_GROWTHS * (uint64_t)cfg->scale;
  for (uint64_t g = 0; buffer && g < growths; g++) {
    char *grown = SC_REALLOC(&w->counts, buffer, cap, cap + 64);
    if (!grown) break;
    buffer = grown;
    cap += 64;
    memset(buffer, (int)g, cap);
    w->growths++;
  }
  w->buffer_bytes = cap;
  if (buffer) SC_FREE(&w->counts, buffer, cap);
  uint64_t expect_index = nodes;
  while (list) {
    ld_node_t *next = list->next;
    if (list->index != --expect_index && !sc_failed())
      sc_fail("leak_demo: list node %" PRIu64 " out of place", list->index);
    SC_FREE(&w->counts, list, node_size(cfg->seed, list->index));
    list = next;
  }
}

static void *leak_worker_main(void *arg) {
  ld_worker_t *w = arg;
  sc_name_thread("leak-worker");
  balanced_work(w);
  memscope_mark("leak_demo_balanced_done");
  leak_demo_leaky_function(LD_LEAKED_BLOCKS * w->config->scale, LD_LEAKED_BYTES);
  return NULL;
}

static void ld_expect(const sc_params_t *p, sc_expect_t *e) {
  uint64_t s = (uint64_t)p->scale;
  uint64_t nodes = LD_LIST_NODES * s, growths = LD_BUFFER_GROWTHS * s, leaked = LD_LEAKED_BLOCKS * s;
  uint64_t bytes = sizeof(ld_config_t) + LD_BUFFER_START + leaked * LD_LEAKED_BYTES;
  for (uint64_t i = 0; i < nodes; i++) bytes += node_size(p->seed, i);
  for (uint64_t g = 0; g < growths; g++) bytes += LD_BUFFER_START + 64 * (g + 1);
  e->allocations = 1 + nodes + 1 + growths + leaked; /* config, nodes, buffer, reallocs, leaks */
  e->reallocs = growths;
  e->frees = 1 + nodes + 1;
  e->allocated_bytes = bytes;
  e->leaked_blocks = leaked;
  e->leaked_bytes = leaked * LD_LEAKED_BYTES;
}

static int ld_run(const sc_params_t *p) {
  sc_expect_t want;
  ld_expect(p, &want);
  sc_counts_t main_counts = {0};
  ld_config_t *config = SC_MALLOC(&main_counts, sizeof *config);
  if (!config) {
    sc_fail("out of memory");
    return -1;
  }
  config->scale = p->scale;
  config->seed = p->seed;
  snprintf(config->label, sizeof config->label, "leak_demo scale %d", p->scale);
  MEMSCOPE_TRACK_VAR_AS(config, "ld_config_t");

  ld_worker_t worker;
  memset(&worker, 0, sizeof worker);
  worker.config = config;
  pthread_t tid;
  memscope_mark("leak_demo_start");
  if (pthread_create(&tid, NULL, leak_worker_main, &worker)) {
    sc_fail("pthread_create failed");
    return -1;
  }
  pthread_join(tid, NULL);
  memscope_mark("leak_demo_done");

  uint64_t chained = 0;
  for (void **b = leak_demo_chain; b; b = *b) chained++;
  if (!sc_failed() && chained != want.leaked_blocks)
    sc_fail("leaked %" PRIu64 " blocks, expected %" PRIu64, chained, want.leaked_blocks);
  SC_FREE(&main_counts, config, sizeof *config);

  sc_out("\"leak_function\":\"leak_demo_leaky_function\",\"leaked_blocks\":%" PRIu64
         ",\"leaked_block_bytes\":%d,\"leaked_bytes\":%" PRIu64 ",\"balanced\":{\"list_nodes\":%" PRIu64
         ",\"buffer_growths\":%" PRIu64 ",\"buffer_final_bytes\":%" PRIu64 "}",
         chained, LD_LEAKED_BYTES, chained * LD_LEAKED_BYTES, worker.nodes, worker.growths,
         worker.buffer_bytes);

  sc_counts_t sum = main_counts;
  sc_counts_add(&sum, &worker.counts);
  sc_counts_add(&sum, &leak_counts);
  if (!sc_failed()) sc_check_counts("leak_demo", &sum, &want);
  return sc_failed() ? -1 : 0;
}

const sc_scenario_t sc_leak_demo = {
    .name = "leak_demo",
    .description = "leaks 7 x 1000 B from leak_demo_leaky_function among balanced allocations",
    .expect = ld_expect,
    .run = ld_run,
};
