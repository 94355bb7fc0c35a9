/* atomics.c: threads hammer an atomic counter and four atomic flags and log every operation
 * in a lock-free (Treiber) stack of heap records; the log must account for the final state.
 *
 * Each operation is one counter fetch_add plus one flag operation (set, clear, toggle by CAS,
 * or a plain test) chosen from the seed. One record per operation is calloc'd by the thread
 * that does it and freed by main after the join, so the call count is fixed by the
 * parameters. The self-check is exact: fetch_add results are a permutation of 0..N-1, and the
 * flag transitions logged by the read-modify-writes telescope to each flag's final value. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "memscope.h"
#include "scenarios.h"

#define AT_THREADS 4
#define AT_OPS 20 /* per thread at scale 1 */
#define AT_FLAGS 4

enum at_op { AT_SET, AT_CLEAR, AT_TOGGLE, AT_TEST, AT_OP_KINDS };
static const char *const op_names[AT_OP_KINDS] = {"set", "clear", "toggle", "test"};

/* One logged operation (a node of the history stack). */
typedef struct at_record_s {
  struct at_record_s *next;
  uint32_t thread;
  uint32_t seq;            /* operation index within its thread */
  uint8_t op;              /* enum at_op */
  uint8_t flag;
  bool flag_before, flag_after;
  uint64_t counter_before; /* what fetch_add returned */
  uint32_t cas_retries;    /* toggle: failed CAS attempts */
} at_record_t;

/* The shared state, on the heap like the seed's Arc<AtomicUsize> / Arc<[AtomicBool; 4]>. */
typedef struct at_shared_s {
  atomic_uint_fast64_t counter;
  atomic_bool flags[AT_FLAGS];
  _Atomic(at_record_t *) history; /* Treiber stack head: push-only while threads run */
  pthread_barrier_t start;        /* all threads begin together, for contention */
  uint64_t ops_per_thread;
  uint64_t seed;
} at_shared_t;

typedef struct at_thread_s {
  sc_counts_t counts; /* first: cache-line aligned */
  at_shared_t *shared;
  unsigned id;
  uint64_t push_retries, cas_retries, op_count[AT_OP_KINDS];
} at_thread_t;

static void *atomics_main(void *arg) {
  at_thread_t *t = arg;
  at_shared_t *sh = t->shared;
  sc_name_thread("at-thread-%u", t->id);
  pthread_barrier_wait(&sh->start);
  for (uint64_t i = 0; i < sh->ops_per_thread; i++) {
    uint64_t r = sc_rand(sh->seed, 600 + t->id, i);
    unsigned op = (unsigned)(r % AT_OP_KINDS), f = (unsigned)((r >> 8) % AT_FLAGS);
    at_record_t *rec = SC_CALLOC(&t->counts, 1, sizeof *rec);
    if (!rec) {
      sc_fail("thread %u: out of memory", t->id);
      break;
    }
    rec->thread = t->id;
    rec->seq = (uint32_t)i;
    rec->op = (uint8_t)op;
    rec->flag = (uint8_t)f;
    rec->counter_before = atomic_fetch_add_explicit(&sh->counter, 1, memory_order_relaxed);
    atomic_bool *flag = &sh->flags[f];
    switch (op) {
    case AT_SET:
      rec->flag_before = atomic_exchange_explicit(flag, true, memory_order_acq_rel);
      rec->flag_after = true;
      break;
    case AT_CLEAR:
      rec->flag_before = atomic_exchange_explicit(flag, false, memory_order_acq_rel);
      rec->flag_after = false;
      break;
    case AT_TOGGLE: {
      bool old = atomic_load_explicit(flag, memory_order_relaxed);
      while (!atomic_compare_exchange_weak_explicit(flag, &old, !old, memory_order_acq_rel,
                                                    memory_order_relaxed))
        rec->cas_retries++;
      rec->flag_before = old;
      rec->flag_after = !old;
      t->cas_retries += rec->cas_retries;
      break;
    }
    default: /* AT_TEST: a load changes nothing */
      rec->flag_before = rec->flag_after = atomic_load_explicit(flag, memory_order_acquire);
      break;
    }
    t->op_count[op]++;
    if (t->id == 0 && i == 0) MEMSCOPE_TRACK_VAR_AS(rec, "at_record_t (history node)");
    /* Treiber push. Release on success publishes rec's fields to whoever later reads the
     * head with acquire (main, after the join, which would synchronize anyway). Nodes are
     * never popped while threads push, so there is no ABA problem to guard against. */
    at_record_t *head = atomic_load_explicit(&sh->history, memory_order_relaxed);
    for (;;) {
      rec->next = head;
      if (atomic_compare_exchange_weak_explicit(&sh->history, &head, rec, memory_order_release,
                                                memory_order_relaxed))
        break;
      t->push_retries++; /* head was reloaded by the failed CAS */
    }
  }
  return NULL;
}

static void at_expect(const sc_params_t *p, sc_expect_t *e) {
  uint64_t ops = AT_THREADS * (uint64_t)AT_OPS * (uint64_t)p->scale;
  e->allocations = 2 + ops; /* shared state, check bitmap, one record per operation */
  e->reallocs = 0;
  e->frees = e->allocations;
  e->allocated_bytes = sizeof(at_shared_t) + ops + ops * sizeof(at_record_t);
  e->leaked_blocks = 0;
  e->leaked_bytes = 0;
}

static int at_run(const sc_params_t *p) {
  sc_expect_t want;
  at_expect(p, &want);
  sc_counts_t main_counts = {0};
  uint64_t ops_per_thread = (uint64_t)AT_OPS * (uint64_t)p->scale;
  uint64_t total = AT_THREADS * ops_per_thread;

  at_shared_t *shared = SC_MALLOC(&main_counts, sizeof *shared);
  if (!shared) {
    sc_fail("out of memory");
    return -1;
  }
  atomic_init(&shared->counter, 0);
  for (unsigned f = 0; f < AT_FLAGS; f++) atomic_init(&shared->flags[f], false);
  atomic_init(&shared->history, NULL);
  shared->ops_per_thread = ops_per_thread;
  shared->seed = p->seed;
  pthread_barrier_init(&shared->start, NULL, AT_THREADS);
  MEMSCOPE_TRACK_VAR_AS(shared, "at_shared_t (atomic counter + flags)");

  at_thread_t threads[AT_THREADS];
  pthread_t tid[AT_THREADS];
  memset(threads, 0, sizeof threads);
  memscope_mark("atomics_start");
  for (unsigned i = 0; i < AT_THREADS; i++) {
    threads[i].shared = shared;
    threads[i].id = i;
    if (pthread_create(&tid[i], NULL, atomics_main, &threads[i])) {
      sc_fail("pthread_create failed");
      return -1;
    }
  }
  for (unsigned i = 0; i < AT_THREADS; i++) pthread_join(tid[i], NULL);
  memscope_mark("atomics_done");
  pthread_barrier_destroy(&shared->start);

  /* Self-check over the history. */
  uint64_t counter = atomic_load_explicit(&shared->counter, memory_order_relaxed);
  if (counter != total)
    sc_fail("counter = %" PRIu64 ", expected threads x ops = %" PRIu64, counter, total);
  unsigned char *seen = SC_CALLOC(&main_counts, total, 1); /* which fetch_add values came back */
  if (!seen) {
    sc_fail("out of memory");
    return -1;
  }
  uint64_t records = 0, per_thread[AT_THREADS] = {0};
  uint64_t last_value[AT_THREADS], last_seq[AT_THREADS];
  int64_t net_sets[AT_FLAGS] = {0};
  uint64_t transitions[AT_FLAGS] = {0};
  for (unsigned i = 0; i < AT_THREADS; i++) last_value[i] = last_seq[i] = UINT64_MAX;
  at_record_t *rec = atomic_load_explicit(&shared->history, memory_order_acquire);
  while (rec) {
    at_record_t *next = rec->next;
    records++;
    if (!sc_failed()) {
      /* The stack is newest first; per thread, seq and fetch_add values must both fall. */
      unsigned th = rec->thread;
      if (th >= AT_THREADS || rec->counter_before >= total || seen[rec->counter_before]++)
        sc_fail("record (thread %u, seq %u): bad or repeated counter value %" PRIu64, th,
                rec->seq, rec->counter_before);
      else if (last_seq[th] != UINT64_MAX &&
               (rec->seq + 1 != last_seq[th] || rec->counter_before >= last_value[th]))
        sc_fail("thread %u: history out of order at seq %u", th, rec->seq);
      else {
        last_seq[th] = rec->seq;
        last_value[th] = rec->counter_before;
        per_thread[th]++;
        net_sets[rec->flag] += (int)rec->flag_after - (int)rec->flag_before;
        transitions[rec->flag] += rec->flag_after != rec->flag_before;
      }
    }
    SC_FREE(&main_counts, rec, sizeof *rec);
    rec = next;
  }
  memscope_mark("atomics_history_drained");
  if (!sc_failed() && records != total)
    sc_fail("history holds %" PRIu64 " records, expected %" PRIu64, records, total);
  for (unsigned i = 0; i < AT_THREADS && !sc_failed(); i++)
    if (per_thread[i] != ops_per_thread || last_seq[i] != 0)
      sc_fail("thread %u: %" PRIu64 " records, expected %" PRIu64, i, per_thread[i],
              ops_per_thread);
  bool final_flags[AT_FLAGS];
  for (unsigned f = 0; f < AT_FLAGS; f++) {
    final_flags[f] = atomic_load_explicit(&shared->flags[f], memory_order_relaxed);
    if (!sc_failed() && net_sets[f] != (int64_t)final_flags[f])
      sc_fail("flag %u: logged transitions sum to %" PRId64 " but it ends %s", f, net_sets[f],
              final_flags[f] ? "set" : "clear");
  }

  sc_out("\"threads\":%d,\"ops_per_thread\":%" PRIu64 ",\"counter\":%" PRIu64
         ",\"history_records\":%" PRIu64 ",\"flags\":[",
         AT_THREADS, ops_per_thread, counter, records);
  for (unsigned f = 0; f < AT_FLAGS; f++)
    sc_out("%s{\"final\":%s,\"transitions\":%" PRIu64 "}", f ? "," : "",
           final_flags[f] ? "true" : "false", transitions[f]);
  sc_out("],\"per_thread\":[");
  for (unsigned i = 0; i < AT_THREADS; i++) {
    sc_out("%s{\"thread\":%u", i ? "," : "", i);
    for (unsigned k = 0; k < AT_OP_KINDS; k++)
      sc_out(",\"%s\":%" PRIu64, op_names[k], threads[i].op_count[k]);
    sc_out(",\"cas_retries\":%" PRIu64 ",\"push_retries\":%" PRIu64 "}",
           threads[i].cas_retries, threads[i].push_retries);
  }
  sc_out("]");

  SC_FREE(&main_counts, seen, total);
  SC_FREE(&main_counts, shared, sizeof *shared);

  sc_counts_t sum = main_counts;
  for (unsigned i = 0; i < AT_THREADS; i++) sc_counts_add(&sum, &threads[i].counts);
  if (!sc_failed()) sc_check_counts("atomics", &sum, &want);
  return sc_failed() ? -1 : 0;
}

const sc_scenario_t sc_atomics = {
    .name = "atomics",
    .description = "4 threads x 20 ops on an atomic counter + 4 flags, lock-free heap history",
    .expect = at_expect,
    .run = at_run,
};
