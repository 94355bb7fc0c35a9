/* producer_consumer.c: producers pass heap strings to consumers through a bounded buffer
 * guarded by a mutex and two condition variables; every item is consumed and freed once.
 *
 * Allocation pattern: a producer mallocs a header, reallocs it to the full item and hands
 * ownership to whichever consumer pops it, which frees it (cross-thread free). Which consumer
 * gets which item varies run to run; the number of calls does not. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "memscope.h"
#include "scenarios.h"

#define PC_PRODUCERS 3
#define PC_CONSUMERS 2
#define PC_ITEMS 15          /* per producer at scale 1 */
#define PC_CAPACITY 4        /* bounded buffer slots */
#define PC_HEADER_BYTES 32   /* first allocation of an item, before it grows */
#define PC_HEADER_LEN 14     /* "p%1u:%010u:" */
#define PC_PAYLOAD_MIN 16
#define PC_PAYLOAD_SPAN 49   /* payload is 16..64 bytes */

/* The consumer's summary, handed to main at the end (the seed's consumer_data). */
typedef struct pc_consumer_data_s {
  uint32_t consumer_id;
  uint64_t consumed_items;
  uint64_t consumed_bytes;
  uint64_t waits; /* times it waited on an empty buffer */
} pc_consumer_data_t;

typedef struct pc_shared_s {
  pthread_mutex_t lock;
  pthread_cond_t not_full;
  pthread_cond_t not_empty;
  char **ring;             /* PC_CAPACITY slots; guarded by lock */
  unsigned head, count;    /* guarded by lock */
  unsigned producers_left; /* guarded by lock; consumers stop at 0 with an empty ring */
  uint64_t produced, consumed; /* the seed's buffer_stats; guarded by lock */
  unsigned max_occupancy;      /* guarded by lock */
  unsigned char *seen;     /* per item: times consumed; each item's byte written once */
  uint64_t items_per_producer;
  uint64_t seed;
} pc_shared_t;

typedef struct pc_thread_s {
  sc_counts_t counts; /* first: cache-line aligned */
  pc_shared_t *shared;
  unsigned id;
  uint64_t waits;
  pc_consumer_data_t *data; /* consumers: their summary block */
} pc_thread_t;

static size_t payload_len(uint64_t seed, unsigned producer, uint64_t item) {
  return PC_PAYLOAD_MIN + (size_t)(sc_rand(seed, 100 + producer, item) % PC_PAYLOAD_SPAN);
}

static char payload_char(unsigned producer, uint64_t item, size_t j) {
  return (char)('a' + (producer * 7u + item + j) % 26u);
}

static void *producer_main(void *arg) {
  pc_thread_t *t = arg;
  pc_shared_t *sh = t->shared;
  sc_name_thread("pc-producer-%u", t->id);
  for (uint64_t k = 0; k < sh->items_per_producer; k++) {
    char *item = SC_MALLOC(&t->counts, PC_HEADER_BYTES);
    if (!item) {
      sc_fail("producer %u: out of memory", t->id);
      break;
    }
    snprintf(item, PC_HEADER_BYTES, "p%1u:%010" PRIu64 ":", t->id, k);
    size_t plen = payload_len(sh->seed, t->id, k);
    size_t len = PC_HEADER_LEN + plen;
    char *grown = SC_REALLOC(&t->counts, item, PC_HEADER_BYTES, len + 1);
    if (!grown) {
      SC_FREE(&t->counts, item, PC_HEADER_BYTES);
      sc_fail("producer %u: out of memory", t->id);
      break;
    }
    item = grown;
    for (size_t j = 0; j < plen; j++) item[PC_HEADER_LEN + j] = payload_char(t->id, k, j);
    item[len] = '\0';

    pthread_mutex_lock(&sh->lock);
    while (sh->count == PC_CAPACITY) {
      t->waits++;
      pthread_cond_wait(&sh->not_full, &sh->lock);
    }
    sh->ring[(sh->head + sh->count) % PC_CAPACITY] = item; /* ownership moves to the ring */
    sh->count++;
    sh->produced++;
    if (sh->count > sh->max_occupancy) sh->max_occupancy = sh->count;
    pthread_cond_signal(&sh->not_empty);
    pthread_mutex_unlock(&sh->lock);
  }
  pthread_mutex_lock(&sh->lock);
  if (--sh->producers_left == 0) pthread_cond_broadcast(&sh->not_empty);
  pthread_mutex_unlock(&sh->lock);
  return NULL;
}

/* Check an item's text and mark it seen; returns its length. */
static size_t consume_item(pc_thread_t *t, const char *item) {
  pc_shared_t *sh = t->shared;
  unsigned p = (unsigned)(item[1] - '0');
  uint64_t k = 0;
  for (int i = 3; i < 13; i++) k = k * 10 + (uint64_t)(item[i] - '0');
  if (item[0] != 'p' || p >= PC_PRODUCERS || k >= sh->items_per_producer) {
    sc_fail("consumer %u: malformed item '%.20s'", t->id, item);
    return strlen(item);
  }
  size_t plen = payload_len(sh->seed, p, k);
  size_t len = strlen(item);
  if (len != PC_HEADER_LEN + plen) {
    sc_fail("consumer %u: item p%u:%" PRIu64 " has length %zu, expected %zu", t->id, p, k, len,
            PC_HEADER_LEN + plen);
    return len;
  }
  for (size_t j = 0; j < plen; j++) {
    if (item[PC_HEADER_LEN + j] != payload_char(p, k, j)) {
      sc_fail("consumer %u: item p%u:%" PRIu64 " corrupted at byte %zu", t->id, p, k, j);
      break;
    }
  }
  sh->seen[p * sh->items_per_producer + k]++;
  return len;
}

static void *consumer_main(void *arg) {
  pc_thread_t *t = arg;
  pc_shared_t *sh = t->shared;
  sc_name_thread("pc-consumer-%u", t->id);
  uint64_t consumed = 0, bytes = 0;
  for (;;) {
    pthread_mutex_lock(&sh->lock);
    while (sh->count == 0 && sh->producers_left > 0) {
      t->waits++;
      pthread_cond_wait(&sh->not_empty, &sh->lock);
    }
    if (sh->count == 0) { /* producers done and the ring drained */
      pthread_mutex_unlock(&sh->lock);
      break;
    }
    char *item = sh->ring[sh->head];
    sh->ring[sh->head] = NULL;
    sh->head = (sh->head + 1) % PC_CAPACITY;
    sh->count--;
    sh->consumed++;
    pthread_cond_signal(&sh->not_full);
    pthread_mutex_unlock(&sh->lock);

    size_t len = consume_item(t, item);
    SC_FREE(&t->counts, item, len + 1);
    consumed++;
    bytes += len + 1;
  }
  pc_consumer_data_t *consumer_data = SC_MALLOC(&t->counts, sizeof *consumer_data);
  if (!consumer_data) {
    sc_fail("consumer %u: out of memory", t->id);
    return NULL;
  }
  consumer_data->consumer_id = t->id;
  consumer_data->consumed_items = consumed;
  consumer_data->consumed_bytes = bytes;
  consumer_data->waits = t->waits;
  MEMSCOPE_TRACK_VAR_AS(consumer_data, "pc_consumer_data_t");
  t->data = consumer_data;
  return NULL;
}

static void pc_expect(const sc_params_t *p, sc_expect_t *e) {
  uint64_t items = (uint64_t)PC_ITEMS * (uint64_t)p->scale;
  uint64_t total = PC_PRODUCERS * items;
  uint64_t bytes = PC_CAPACITY * sizeof(char *) + total /* seen */ +
                   PC_CONSUMERS * sizeof(pc_consumer_data_t);
  for (unsigned pr = 0; pr < PC_PRODUCERS; pr++)
    for (uint64_t k = 0; k < items; k++)
      bytes += PC_HEADER_BYTES + PC_HEADER_LEN + payload_len(p->seed, pr, k) + 1;
  e->allocations = 2 + 2 * total + PC_CONSUMERS; /* ring, seen; malloc+realloc per item */
  e->reallocs = total;
  e->frees = 2 + total + PC_CONSUMERS;
  e->allocated_bytes = bytes;
  e->leaked_blocks = 0;
  e->leaked_bytes = 0;
}

static int pc_run(const sc_params_t *p) {
  sc_expect_t want;
  pc_expect(p, &want);
  sc_counts_t main_counts = {0};
  pc_shared_t sh = {
      .lock = PTHREAD_MUTEX_INITIALIZER,
      .not_full = PTHREAD_COND_INITIALIZER,
      .not_empty = PTHREAD_COND_INITIALIZER,
      .producers_left = PC_PRODUCERS,
      .items_per_producer = (uint64_t)PC_ITEMS * (uint64_t)p->scale,
      .seed = p->seed,
  };
  uint64_t total = PC_PRODUCERS * sh.items_per_producer;
  char **ring = SC_MALLOC(&main_counts, PC_CAPACITY * sizeof(char *));
  unsigned char *seen = SC_CALLOC(&main_counts, total, 1);
  if (!ring || !seen) {
    sc_fail("out of memory");
    return -1;
  }
  for (unsigned i = 0; i < PC_CAPACITY; i++) ring[i] = NULL;
  /* Names are attached once a block is initialized (GCC warns about passing uninitialized
   * memory through memscope_track_var's const pointer otherwise). */
  MEMSCOPE_TRACK_VAR_AS(ring, "char *[] (bounded buffer)");
  MEMSCOPE_TRACK_VAR_AS(seen, "unsigned char[] (consumed marks)");
  sh.ring = ring;
  sh.seen = seen;

  pc_thread_t producers[PC_PRODUCERS], consumers[PC_CONSUMERS];
  pthread_t ptid[PC_PRODUCERS], ctid[PC_CONSUMERS];
  memset(producers, 0, sizeof producers);
  memset(consumers, 0, sizeof consumers);
  memscope_mark("pc_start");
  for (unsigned i = 0; i < PC_CONSUMERS; i++) {
    consumers[i].shared = &sh;
    consumers[i].id = i;
    if (pthread_create(&ctid[i], NULL, consumer_main, &consumers[i])) {
      sc_fail("pthread_create failed");
      return -1; /* cannot join safely; the process exits 1 */
    }
  }
  for (unsigned i = 0; i < PC_PRODUCERS; i++) {
    producers[i].shared = &sh;
    producers[i].id = i;
    if (pthread_create(&ptid[i], NULL, producer_main, &producers[i])) {
      sc_fail("pthread_create failed");
      return -1;
    }
  }
  for (unsigned i = 0; i < PC_PRODUCERS; i++) pthread_join(ptid[i], NULL);
  memscope_mark("pc_producers_done");
  for (unsigned i = 0; i < PC_CONSUMERS; i++) pthread_join(ctid[i], NULL);
  memscope_mark("pc_consumers_done");

  /* Self-check: every item consumed exactly once, counters agree. */
  uint64_t per_consumer_sum = 0;
  for (unsigned i = 0; i < PC_CONSUMERS; i++)
    if (consumers[i].data) per_consumer_sum += consumers[i].data->consumed_items;
  if (sh.produced != total || sh.consumed != total || per_consumer_sum != total)
    sc_fail("produced %" PRIu64 ", consumed %" PRIu64 " (per consumer sum %" PRIu64
            "), expected %" PRIu64,
            sh.produced, sh.consumed, per_consumer_sum, total);
  for (uint64_t i = 0; i < total && !sc_failed(); i++)
    if (seen[i] != 1)
      sc_fail("item p%u:%" PRIu64 " consumed %u times", (unsigned)(i / sh.items_per_producer),
              i % sh.items_per_producer, seen[i]);

  sc_out("\"producers\":%d,\"consumers\":%d,\"items_per_producer\":%" PRIu64
         ",\"buffer_capacity\":%d,\"produced\":%" PRIu64 ",\"consumed\":%" PRIu64
         ",\"max_buffer_occupancy\":%u,\"producer_waits\":[",
         PC_PRODUCERS, PC_CONSUMERS, sh.items_per_producer, PC_CAPACITY, sh.produced,
         sh.consumed, sh.max_occupancy);
  for (unsigned i = 0; i < PC_PRODUCERS; i++)
    sc_out("%s%" PRIu64, i ? "," : "", producers[i].waits);
  sc_out("],\"per_consumer\":[");
  for (unsigned i = 0; i < PC_CONSUMERS; i++) {
    pc_consumer_data_t *d = consumers[i].data;
    sc_out("%s{\"consumed\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"waits\":%" PRIu64 "}",
           i ? "," : "", d ? d->consumed_items : 0, d ? d->consumed_bytes : 0,
           d ? d->waits : 0);
    if (d) SC_FREE(&main_counts, d, sizeof *d);
  }
  sc_out("]");

  SC_FREE(&main_counts, ring, PC_CAPACITY * sizeof(char *));
  SC_FREE(&main_counts, seen, total);

  sc_counts_t sum = main_counts;
  for (unsigned i = 0; i < PC_PRODUCERS; i++) sc_counts_add(&sum, &producers[i].counts);
  for (unsigned i = 0; i < PC_CONSUMERS; i++) sc_counts_add(&sum, &consumers[i].counts);
  if (!sc_failed()) sc_check_counts("producer_consumer", &sum, &want);
  return sc_failed() ? -1 : 0;
}

const sc_scenario_t sc_producer_consumer = {
    .name = "producer_consumer",
    .description = "3 producers x 15 heap strings, 2 consumers, bounded buffer (mutex+condvars)",
    .expect = pc_expect,
    .run = pc_run,
};
