/* work_stealing.c: workers run heap tasks from their own Chase–Lev deque (C11 atomics) and
 * steal from the others when idle; every task runs exactly once.
 *
 * Tasks are created unevenly on purpose (14/10/6/2 per worker at scale 1) so that idle workers
 * steal. A task is two blocks (descriptor + payload), allocated by the worker that creates it
 * and freed by whichever worker runs it: who runs what varies, the number of calls does not. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "memscope.h"
#include "scenarios.h"

#define WS_WORKERS 4
#define WS_PAYLOAD_MIN 64
#define WS_PAYLOAD_SPAN 449  /* payloads are 64..512 bytes */
#define WS_ROUNDS_MIN 50
#define WS_ROUNDS_SPAN 400   /* work per task: 50..449 passes over its payload */

static const unsigned initial_tasks[WS_WORKERS] = {14, 10, 6, 2}; /* x scale; 8 each on average */

typedef struct ws_task_s {
  uint64_t id;
  uint32_t rounds;    /* passes of work over the payload */
  size_t payload_len;
  uint8_t *payload;   /* a second heap block */
} ws_task_t;

/* Chase–Lev deque (Chase & Lev 2005; C11 mapping after Lê et al., PPoPP 2013) with a fixed
 * power-of-two ring (it never grows: the owner knows how many
 * tasks it will push). The owner pushes and takes at bottom; thieves steal at top. top and
 * bottom sit on separate cache lines, so the block comes from aligned_alloc. */
typedef struct ws_deque_s {
  alignas(64) atomic_int_fast64_t top;
  alignas(64) atomic_int_fast64_t bottom;
  int64_t mask; /* capacity - 1 */
  _Atomic(ws_task_t *) slots[];
} ws_deque_t;

#define WS_ABORT ((ws_task_t *)1) /* steal lost a race: try again */

/* Owner only. Returns -1 when full (cannot happen: capacity >= tasks pushed). */
static int deque_push(ws_deque_t *d, ws_task_t *task) {
  int_fast64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed);
  int_fast64_t t = atomic_load_explicit(&d->top, memory_order_acquire);
  if (b - t > d->mask) return -1;
  atomic_store_explicit(&d->slots[b & d->mask], task, memory_order_relaxed);
  /* Release: a thief that reads this bottom sees the slot and the task's contents. (The
   * paper uses a release fence + relaxed store; a release store is as cheap on x86 and is
   * understood by ThreadSanitizer, which does not model fences.) Every store to bottom is a
   * release, so whichever one a thief reads, the tasks pushed before it are visible. */
  atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
  return 0;
}

/* Owner only. Returns the newest task or NULL. */
static ws_task_t *deque_take(ws_deque_t *d) {
  int_fast64_t b = atomic_load_explicit(&d->bottom, memory_order_relaxed) - 1;
  /* The store to bottom must be ordered before the load of top (store-load order), or the
   * owner and a thief could both take the last task. The paper puts a seq_cst fence between a
   * relaxed store and load; seq_cst on both accesses gives the same order, and unlike a fence
   * it is understood by ThreadSanitizer (GCC refuses fences under -fsanitize=thread). */
  atomic_store_explicit(&d->bottom, b, memory_order_seq_cst);
  int_fast64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
  ws_task_t *task = NULL;
  if (t <= b) {
    task = atomic_load_explicit(&d->slots[b & d->mask], memory_order_relaxed);
    if (t == b) { /* the last one: race the thieves for it through top */
      if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                                   memory_order_relaxed))
        task = NULL;
      atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
    }
  } else { /* empty: restore */
    atomic_store_explicit(&d->bottom, b + 1, memory_order_release);
  }
  return task;
}

/* Any thread. Returns the oldest task, NULL when empty, WS_ABORT when it lost a race. */
static ws_task_t *deque_steal(ws_deque_t *d) {
  /* Read top before bottom, both seq_cst (instead of the paper's fence between them), so they
   * are ordered against take's store of bottom and load of top. Acquire (part of seq_cst) on
   * bottom also makes the pushed task's contents visible. */
  int_fast64_t t = atomic_load_explicit(&d->top, memory_order_seq_cst);
  int_fast64_t b = atomic_load_explicit(&d->bottom, memory_order_seq_cst);
  if (t >= b) return NULL;
  ws_task_t *task = atomic_load_explicit(&d->slots[t & d->mask], memory_order_relaxed);
  if (!atomic_compare_exchange_strong_explicit(&d->top, &t, t + 1, memory_order_seq_cst,
                                               memory_order_relaxed))
    return WS_ABORT;
  return task;
}

typedef struct ws_result_s {
  atomic_uint runs;  /* times the task ran: must end at 1 */
  uint32_t ran_by;   /* worker that ran it (written by that worker only) */
  uint64_t checksum; /* the task's result */
} ws_result_t;

typedef struct ws_shared_s {
  ws_deque_t *deques[WS_WORKERS];
  ws_result_t *results;
  atomic_uint_fast64_t remaining; /* tasks not yet run; workers stop at 0 */
  uint64_t first_id[WS_WORKERS];  /* task ids of worker w start here */
  int scale;
  uint64_t seed;
} ws_shared_t;

typedef struct ws_worker_s {
  sc_counts_t counts; /* first: cache-line aligned */
  ws_shared_t *shared;
  unsigned id;
  uint64_t created, completed, stolen, steal_aborts, idle_spins;
  uint64_t stolen_from[WS_WORKERS]; /* tasks this worker stole from each victim */
} ws_worker_t;

static uint64_t task_payload_len(uint64_t seed, uint64_t id) {
  return WS_PAYLOAD_MIN + sc_rand(seed, 500, id) % WS_PAYLOAD_SPAN;
}
static uint32_t task_rounds(uint64_t seed, uint64_t id) {
  return WS_ROUNDS_MIN + (uint32_t)(sc_rand(seed, 501, id) % WS_ROUNDS_SPAN);
}
static uint8_t payload_byte(uint64_t id, size_t j) { return (uint8_t)(id * 131u + j * 7u); }

/* The task's work; also what the self-check recomputes. */
static uint64_t task_checksum(uint64_t id, const uint8_t *payload, size_t len, uint32_t rounds) {
  uint64_t h = 1469598103934665603ull ^ id;
  for (uint32_t r = 0; r < rounds; r++)
    for (size_t j = 0; j < len; j++) h = (h ^ payload[j]) * 1099511628211ull;
  return h;
}

static uint64_t ws_checksum_for(uint64_t seed, uint64_t id) {
  uint8_t payload[WS_PAYLOAD_MIN + WS_PAYLOAD_SPAN];
  size_t len = task_payload_len(seed, id);
  for (size_t j = 0; j < len; j++) payload[j] = payload_byte(id, j);
  return task_checksum(id, payload, len, task_rounds(seed, id));
}

static void run_task(ws_worker_t *w, ws_task_t *task) {
  ws_shared_t *sh = w->shared;
  ws_result_t *res = &sh->results[task->id];
  res->checksum = task_checksum(task->id, task->payload, task->payload_len, task->rounds);
  res->ran_by = w->id;
  atomic_fetch_add_explicit(&res->runs, 1, memory_order_relaxed);
  SC_FREE(&w->counts, task->payload, task->payload_len);
  SC_FREE(&w->counts, task, sizeof *task);
  w->completed++;
  atomic_fetch_sub_explicit(&sh->remaining, 1, memory_order_acq_rel);
}

static void *worker_main(void *arg) {
  ws_worker_t *w = arg;
  ws_shared_t *sh = w->shared;
  ws_deque_t *own = sh->deques[w->id];
  sc_name_thread("ws-worker-%u", w->id);

  /* Create this worker's share of the tasks on its own deque. */
  uint64_t n = (uint64_t)initial_tasks[w->id] * (uint64_t)sh->scale;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t id = sh->first_id[w->id] + i;
    ws_task_t *task = SC_MALLOC(&w->counts, sizeof *task);
    size_t len = task_payload_len(sh->seed, id);
    uint8_t *payload = SC_MALLOC(&w->counts, len);
    if (!task || !payload) {
      sc_fail("worker %u: out of memory", w->id);
      return NULL; /* the others spin on remaining; the run fails under its timeout */
    }
    for (size_t j = 0; j < len; j++) payload[j] = payload_byte(id, j);
    task->id = id;
    task->rounds = task_rounds(sh->seed, id);
    task->payload_len = len;
    task->payload = payload;
    if (deque_push(own, task)) {
      sc_fail("worker %u: deque full", w->id);
      return NULL;
    }
    w->created++;
  }

  unsigned next_victim = (unsigned)(sc_rand(sh->seed, 502, w->id) % WS_WORKERS);
  for (;;) {
    ws_task_t *task = deque_take(own);
    if (task) {
      run_task(w, task);
      continue;
    }
    /* Idle: try every other worker once, starting from a seed-chosen victim. */
    int got = 0;
    for (unsigned k = 0; k < WS_WORKERS && !got; k++) {
      unsigned v = (next_victim + k) % WS_WORKERS;
      if (v == w->id) continue;
      ws_task_t *stolen = deque_steal(sh->deques[v]);
      if (stolen == WS_ABORT) {
        w->steal_aborts++;
      } else if (stolen) {
        w->stolen++;
        w->stolen_from[v]++;
        next_victim = v; /* it had work: come back to it first */
        run_task(w, stolen);
        got = 1;
      }
    }
    if (got) continue;
    if (atomic_load_explicit(&sh->remaining, memory_order_acquire) == 0) break;
    if (sc_failed()) break; /* another worker gave up: its tasks will never come */
    w->idle_spins++;
    sched_yield();
  }
  return NULL;
}

static size_t deque_bytes(uint64_t capacity) {
  size_t n = sizeof(ws_deque_t) + capacity * sizeof(_Atomic(ws_task_t *));
  return (n + 63) & ~(size_t)63; /* aligned_alloc wants a multiple of the alignment */
}

static uint64_t deque_capacity(int scale) {
  uint64_t most = (uint64_t)initial_tasks[0] * (uint64_t)scale, cap = 1;
  while (cap < most) cap <<= 1;
  return cap;
}

static uint64_t total_tasks(int scale) {
  uint64_t n = 0;
  for (unsigned i = 0; i < WS_WORKERS; i++) n += (uint64_t)initial_tasks[i] * (uint64_t)scale;
  return n;
}

static void ws_expect(const sc_params_t *p, sc_expect_t *e) {
  uint64_t tasks = total_tasks(p->scale);
  uint64_t bytes = WS_WORKERS * deque_bytes(deque_capacity(p->scale)) +
                   tasks * sizeof(ws_result_t) + tasks * sizeof(ws_task_t);
  for (uint64_t id = 0; id < tasks; id++) bytes += task_payload_len(p->seed, id);
  e->allocations = WS_WORKERS + 1 + 2 * tasks; /* deques, results, task + payload */
  e->reallocs = 0;
  e->frees = e->allocations;
  e->allocated_bytes = bytes;
  e->leaked_blocks = 0;
  e->leaked_bytes = 0;
}

static int ws_run(const sc_params_t *p) {
  sc_expect_t want;
  ws_expect(p, &want);
  sc_counts_t main_counts = {0};
  uint64_t tasks = total_tasks(p->scale);
  uint64_t cap = deque_capacity(p->scale);
  size_t dq_bytes = deque_bytes(cap);
  ws_shared_t sh = {.scale = p->scale, .seed = p->seed};
  atomic_init(&sh.remaining, tasks);
  uint64_t first = 0;
  for (unsigned i = 0; i < WS_WORKERS; i++) {
    sh.first_id[i] = first;
    first += (uint64_t)initial_tasks[i] * (uint64_t)p->scale;
    sc__count_alloc(&main_counts, dq_bytes); /* aligned_alloc: counted like malloc */
    ws_deque_t *deque = aligned_alloc(64, dq_bytes);
    if (!deque) {
      sc_fail("out of memory");
      return -1;
    }
    atomic_init(&deque->top, 0);
    atomic_init(&deque->bottom, 0);
    deque->mask = (int64_t)cap - 1;
    for (uint64_t s = 0; s < cap; s++) atomic_init(&deque->slots[s], NULL);
    if (i == 0) MEMSCOPE_TRACK_VAR_AS(deque, "ws_deque_t (Chase-Lev)");
    sh.deques[i] = deque;
  }
  ws_result_t *results = SC_CALLOC(&main_counts, tasks, sizeof(ws_result_t));
  if (!results) {
    sc_fail("out of memory");
    return -1;
  }
  MEMSCOPE_TRACK_VAR_AS(results, "ws_result_t[] (per task)");
  for (uint64_t i = 0; i < tasks; i++) atomic_init(&results[i].runs, 0);
  sh.results = results;

  ws_worker_t workers[WS_WORKERS];
  pthread_t tid[WS_WORKERS];
  memset(workers, 0, sizeof workers);
  memscope_mark("ws_start");
  for (unsigned i = 0; i < WS_WORKERS; i++) {
    workers[i].shared = &sh;
    workers[i].id = i;
    if (pthread_create(&tid[i], NULL, worker_main, &workers[i])) {
      sc_fail("pthread_create failed");
      return -1;
    }
  }
  for (unsigned i = 0; i < WS_WORKERS; i++) pthread_join(tid[i], NULL);
  memscope_mark("ws_done");

  /* Self-check: every task ran exactly once with the right result, and the per-worker
   * figures balance: completed = created - stolen by others + stolen from others. */
  uint64_t completed = 0, stolen = 0;
  for (unsigned i = 0; i < WS_WORKERS; i++) {
    completed += workers[i].completed;
    stolen += workers[i].stolen;
    uint64_t lost = 0;
    for (unsigned j = 0; j < WS_WORKERS; j++) lost += workers[j].stolen_from[i];
    if (!sc_failed() && workers[i].completed != workers[i].created - lost + workers[i].stolen)
      sc_fail("worker %u: completed %" PRIu64 " != created %" PRIu64 " - lost %" PRIu64
              " + stolen %" PRIu64,
              i, workers[i].completed, workers[i].created, lost, workers[i].stolen);
  }
  if (!sc_failed() && completed != tasks)
    sc_fail("completed %" PRIu64 " tasks, expected %" PRIu64, completed, tasks);
  for (uint64_t id = 0; id < tasks && !sc_failed(); id++) {
    unsigned runs = atomic_load_explicit(&results[id].runs, memory_order_relaxed);
    if (runs != 1)
      sc_fail("task %" PRIu64 " ran %u times", id, runs);
    else if (results[id].checksum != ws_checksum_for(p->seed, id))
      sc_fail("task %" PRIu64 ": wrong result", id);
  }

  sc_out("\"workers\":%d,\"tasks\":%" PRIu64 ",\"completed\":%" PRIu64 ",\"stolen\":%" PRIu64
         ",\"per_worker\":[",
         WS_WORKERS, tasks, completed, stolen);
  for (unsigned i = 0; i < WS_WORKERS; i++)
    sc_out("%s{\"worker\":%u,\"initial\":%" PRIu64 ",\"completed\":%" PRIu64
           ",\"stolen\":%" PRIu64 ",\"steal_aborts\":%" PRIu64 ",\"idle_spins\":%" PRIu64 "}",
           i ? "," : "", i, workers[i].created, workers[i].completed, workers[i].stolen,
           workers[i].steal_aborts, workers[i].idle_spins);
  sc_out("]");

  for (unsigned i = 0; i < WS_WORKERS; i++) SC_FREE(&main_counts, sh.deques[i], dq_bytes);
  SC_FREE(&main_counts, results, tasks * sizeof(ws_result_t));

  sc_counts_t sum = main_counts;
  for (unsigned i = 0; i < WS_WORKERS; i++) sc_counts_add(&sum, &workers[i].counts);
  if (!sc_failed()) sc_check_counts("work_stealing", &sum, &want);
  return sc_failed() ? -1 : 0;
}

const sc_scenario_t sc_work_stealing = {
    .name = "work_stealing",
    .description = "4 workers, Chase-Lev deques of heap tasks (32, uneven), idle workers steal",
    .expect = ws_expect,
    .run = ws_run,
};
