/* rwlock_cache.c: writers insert and update, readers look up, a hash map name -> heap byte
 * buffer guarded by a pthread_rwlock; reads, writes and misses are counted and cross-checked.
 *
 * Each writer owns its keys, so whether a write inserts (3 mallocs) or updates (1 realloc) is
 * fixed by the update index, not by timing. Readers allocate their lookup key on the heap (the
 * seed's String key) whether or not it hits, so their call count is fixed too; hits and misses
 * depend on timing and are only checked for consistency. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "memscope.h"
#include "scenarios.h"

#define RW_WRITERS 2
#define RW_UPDATES 10      /* per writer at scale 1 */
#define RW_READERS 4
#define RW_LOOKUPS 15      /* per reader at scale 1 */
#define RW_KEYS_PER_WRITER 4
#define RW_ABSENT_KEYS 4   /* names readers ask for that nobody writes: guaranteed misses */
#define RW_BUCKETS 16
#define RW_VALUE_MIN 16
#define RW_VALUE_SPAN 113  /* values are 16..128 bytes */
#define RW_VALUE_MAX (RW_VALUE_MIN + RW_VALUE_SPAN - 1)

typedef struct rw_entry_s {
  struct rw_entry_s *next; /* bucket chain */
  char *name;              /* heap copy of the key */
  uint8_t *value;          /* heap byte buffer, value_len bytes */
  size_t value_len;
  uint32_t version;        /* writes to this key so far */
} rw_entry_t;

typedef struct rw_shared_s {
  pthread_rwlock_t lock;   /* guards buckets and every entry */
  rw_entry_t **buckets;
  pthread_mutex_t metrics_lock; /* the seed's cache_metrics: (reads, writes, misses) */
  uint64_t reads, writes, misses;
  uint64_t updates_per_writer, lookups_per_reader;
  uint64_t seed;
} rw_shared_t;

typedef struct rw_thread_s {
  sc_counts_t counts; /* first: cache-line aligned */
  rw_shared_t *shared;
  unsigned id;
  uint64_t ops, hits, misses, absent_lookups, inserts, updates;
} rw_thread_t;

static int key_name(char *buf, size_t size, uint64_t key) {
  unsigned writer_keys = RW_WRITERS * RW_KEYS_PER_WRITER;
  if (key < writer_keys)
    return snprintf(buf, size, "user:%u:%u", (unsigned)(key / RW_KEYS_PER_WRITER),
                    (unsigned)(key % RW_KEYS_PER_WRITER));
  return snprintf(buf, size, "ghost:%u", (unsigned)(key - writer_keys));
}

static uint32_t name_hash(const char *s) { /* FNV-1a */
  uint32_t h = 2166136261u;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 16777619u;
  return h;
}

/* Size of the value written by update u of writer w. */
static size_t value_len(uint64_t seed, unsigned w, uint64_t u) {
  return RW_VALUE_MIN + (size_t)(sc_rand(seed, 300 + w, u) % RW_VALUE_SPAN);
}

static uint8_t value_byte(uint32_t hash, uint32_t version, size_t j) {
  return (uint8_t)(hash + version * 31u + j);
}

/* Which key reader r asks for in lookup l. */
static uint64_t lookup_key(uint64_t seed, unsigned r, uint64_t l) {
  return sc_rand(seed, 400 + r, l) % (RW_WRITERS * RW_KEYS_PER_WRITER + RW_ABSENT_KEYS);
}

static rw_entry_t *find(rw_shared_t *sh, const char *name, uint32_t hash) {
  for (rw_entry_t *e = sh->buckets[hash % RW_BUCKETS]; e; e = e->next)
    if (strcmp(e->name, name) == 0) return e;
  return NULL;
}

static void *writer_main(void *arg) {
  rw_thread_t *t = arg;
  rw_shared_t *sh = t->shared;
  sc_name_thread("rw-writer-%u", t->id);
  for (uint64_t u = 0; u < sh->updates_per_writer && !sc_failed(); u++) {
    uint64_t key = (uint64_t)t->id * RW_KEYS_PER_WRITER + u % RW_KEYS_PER_WRITER;
    char name[32];
    size_t name_len = (size_t)key_name(name, sizeof name, key);
    uint32_t hash = name_hash(name);
    uint32_t version = (uint32_t)(u / RW_KEYS_PER_WRITER + 1);
    size_t len = value_len(sh->seed, t->id, u);

    if (u < RW_KEYS_PER_WRITER) { /* first write of this key: build the entry, then insert */
      rw_entry_t *entry = SC_MALLOC(&t->counts, sizeof *entry);
      char *heap_name = SC_MALLOC(&t->counts, name_len + 1);
      uint8_t *value = SC_MALLOC(&t->counts, len);
      if (!entry || !heap_name || !value) {
        sc_fail("writer %u: out of memory", t->id);
        break;
      }
      memcpy(heap_name, name, name_len + 1);
      for (size_t j = 0; j < len; j++) value[j] = value_byte(hash, version, j);
      entry->name = heap_name;
      entry->value = value;
      entry->value_len = len;
      entry->version = version;
      entry->next = NULL;
      if (t->id == 0 && u == 0) MEMSCOPE_TRACK_VAR_AS(entry, "rw_entry_t");
      pthread_rwlock_wrlock(&sh->lock);
      if (find(sh, name, hash)) sc_fail("writer %u: key %s inserted twice", t->id, name);
      entry->next = sh->buckets[hash % RW_BUCKETS];
      sh->buckets[hash % RW_BUCKETS] = entry;
      pthread_rwlock_unlock(&sh->lock);
      t->inserts++;
    } else { /* later writes resize and rewrite the value in place, under the write lock */
      pthread_rwlock_wrlock(&sh->lock);
      rw_entry_t *entry = find(sh, name, hash);
      if (!entry || entry->version + 1 != version) {
        pthread_rwlock_unlock(&sh->lock);
        sc_fail("writer %u: key %s missing or at the wrong version", t->id, name);
        break;
      }
      uint8_t *value = SC_REALLOC(&t->counts, entry->value, entry->value_len, len);
      if (!value) {
        pthread_rwlock_unlock(&sh->lock);
        sc_fail("writer %u: out of memory", t->id);
        break;
      }
      for (size_t j = 0; j < len; j++) value[j] = value_byte(hash, version, j);
      entry->value = value;
      entry->value_len = len;
      entry->version = version;
      pthread_rwlock_unlock(&sh->lock);
      t->updates++;
    }
    t->ops++;
    pthread_mutex_lock(&sh->metrics_lock);
    sh->writes++;
    pthread_mutex_unlock(&sh->metrics_lock);
  }
  return NULL;
}

static void *reader_main(void *arg) {
  rw_thread_t *t = arg;
  rw_shared_t *sh = t->shared;
  sc_name_thread("rw-reader-%u", t->id);
  uint8_t copy[RW_VALUE_MAX];
  for (uint64_t l = 0; l < sh->lookups_per_reader && !sc_failed(); l++) {
    uint64_t key = lookup_key(sh->seed, t->id, l);
    char name[32];
    size_t name_len = (size_t)key_name(name, sizeof name, key);
    char *lookup = SC_MALLOC(&t->counts, name_len + 1);
    if (!lookup) {
      sc_fail("reader %u: out of memory", t->id);
      break;
    }
    memcpy(lookup, name, name_len + 1);
    uint32_t hash = name_hash(lookup);

    size_t len = 0;
    uint32_t version = 0;
    pthread_rwlock_rdlock(&sh->lock);
    rw_entry_t *e = find(sh, lookup, hash);
    if (e) {
      len = e->value_len;
      version = e->version;
      if (len <= sizeof copy) memcpy(copy, e->value, len);
    }
    pthread_rwlock_unlock(&sh->lock);

    if (e) { /* a hit must be one whole write: its size and bytes for that version */
      unsigned w = (unsigned)(key / RW_KEYS_PER_WRITER);
      uint64_t u = (uint64_t)(version - 1) * RW_KEYS_PER_WRITER + key % RW_KEYS_PER_WRITER;
      if (key >= RW_WRITERS * RW_KEYS_PER_WRITER || len != value_len(sh->seed, w, u)) {
        sc_fail("reader %u: %s version %u has %zu bytes", t->id, lookup, version, len);
      } else {
        for (size_t j = 0; j < len; j++)
          if (copy[j] != value_byte(hash, version, j)) {
            sc_fail("reader %u: %s version %u torn at byte %zu", t->id, lookup, version, j);
            break;
          }
      }
      t->hits++;
    } else {
      t->misses++;
    }
    if (key >= RW_WRITERS * RW_KEYS_PER_WRITER) t->absent_lookups++;
    t->ops++;
    SC_FREE(&t->counts, lookup, name_len + 1);

    pthread_mutex_lock(&sh->metrics_lock);
    sh->reads++;
    if (!e) sh->misses++;
    pthread_mutex_unlock(&sh->metrics_lock);
  }
  return NULL;
}

static void rw_expect(const sc_params_t *p, sc_expect_t *e) {
  uint64_t updates = (uint64_t)RW_UPDATES * (uint64_t)p->scale;
  uint64_t lookups = (uint64_t)RW_LOOKUPS * (uint64_t)p->scale;
  uint64_t bytes = RW_BUCKETS * sizeof(rw_entry_t *);
  char name[32];
  for (unsigned w = 0; w < RW_WRITERS; w++)
    for (uint64_t u = 0; u < updates; u++) {
      bytes += value_len(p->seed, w, u);
      if (u < RW_KEYS_PER_WRITER)
        bytes += sizeof(rw_entry_t) +
                 (size_t)key_name(name, sizeof name, w * RW_KEYS_PER_WRITER + u) + 1;
    }
  for (unsigned r = 0; r < RW_READERS; r++)
    for (uint64_t l = 0; l < lookups; l++)
      bytes += (size_t)key_name(name, sizeof name, lookup_key(p->seed, r, l)) + 1;
  uint64_t inserts = RW_WRITERS * RW_KEYS_PER_WRITER;
  uint64_t in_place = RW_WRITERS * (updates - RW_KEYS_PER_WRITER);
  e->allocations = 1 + 3 * inserts + in_place + RW_READERS * lookups;
  e->reallocs = in_place;
  e->frees = 1 + 3 * inserts + RW_READERS * lookups;
  e->allocated_bytes = bytes;
  e->leaked_blocks = 0;
  e->leaked_bytes = 0;
}

static int rw_run(const sc_params_t *p) {
  sc_expect_t want;
  rw_expect(p, &want);
  sc_counts_t main_counts = {0};
  rw_shared_t sh = {
      .metrics_lock = PTHREAD_MUTEX_INITIALIZER,
      .updates_per_writer = (uint64_t)RW_UPDATES * (uint64_t)p->scale,
      .lookups_per_reader = (uint64_t)RW_LOOKUPS * (uint64_t)p->scale,
      .seed = p->seed,
  };
  if (pthread_rwlock_init(&sh.lock, NULL)) {
    sc_fail("pthread_rwlock_init failed");
    return -1;
  }
  rw_entry_t **buckets = SC_CALLOC(&main_counts, RW_BUCKETS, sizeof(rw_entry_t *));
  if (!buckets) {
    sc_fail("out of memory");
    return -1;
  }
  MEMSCOPE_TRACK_VAR_AS(buckets, "rw_entry_t *[16] (hash map)");
  sh.buckets = buckets;

  rw_thread_t writers[RW_WRITERS], readers[RW_READERS];
  pthread_t wtid[RW_WRITERS], rtid[RW_READERS];
  memset(writers, 0, sizeof writers);
  memset(readers, 0, sizeof readers);
  memscope_mark("rw_start");
  for (unsigned i = 0; i < RW_WRITERS; i++) {
    writers[i].shared = &sh;
    writers[i].id = i;
    if (pthread_create(&wtid[i], NULL, writer_main, &writers[i])) {
      sc_fail("pthread_create failed");
      return -1;
    }
  }
  for (unsigned i = 0; i < RW_READERS; i++) {
    readers[i].shared = &sh;
    readers[i].id = i;
    if (pthread_create(&rtid[i], NULL, reader_main, &readers[i])) {
      sc_fail("pthread_create failed");
      return -1;
    }
  }
  for (unsigned i = 0; i < RW_WRITERS; i++) pthread_join(wtid[i], NULL);
  memscope_mark("rw_writers_done");
  for (unsigned i = 0; i < RW_READERS; i++) pthread_join(rtid[i], NULL);
  memscope_mark("rw_readers_done");

  /* Self-check: per-thread figures, the shared metrics and the final map agree. */
  uint64_t hits = 0, misses = 0, absent = 0, reads = 0, writes = 0, inserts = 0, updates = 0;
  for (unsigned i = 0; i < RW_READERS; i++) {
    hits += readers[i].hits;
    misses += readers[i].misses;
    absent += readers[i].absent_lookups;
    reads += readers[i].ops;
  }
  for (unsigned i = 0; i < RW_WRITERS; i++) {
    writes += writers[i].ops;
    inserts += writers[i].inserts;
    updates += writers[i].updates;
  }
  uint64_t want_reads = RW_READERS * sh.lookups_per_reader;
  uint64_t want_writes = RW_WRITERS * sh.updates_per_writer;
  uint64_t want_absent = 0;
  for (unsigned r = 0; r < RW_READERS; r++)
    for (uint64_t l = 0; l < sh.lookups_per_reader; l++)
      want_absent += lookup_key(p->seed, r, l) >= RW_WRITERS * RW_KEYS_PER_WRITER;
  if (!sc_failed()) {
    if (reads != want_reads || sh.reads != want_reads || hits + misses != reads)
      sc_fail("reads: per-thread %" PRIu64 ", metrics %" PRIu64 ", hits+misses %" PRIu64
              ", expected %" PRIu64,
              reads, sh.reads, hits + misses, want_reads);
    else if (writes != want_writes || sh.writes != want_writes)
      sc_fail("writes: per-thread %" PRIu64 ", metrics %" PRIu64 ", expected %" PRIu64, writes,
              sh.writes, want_writes);
    else if (sh.misses != misses || absent != want_absent || misses < absent)
      sc_fail("misses: per-thread %" PRIu64 ", metrics %" PRIu64 ", absent-key lookups %" PRIu64
              " (expected %" PRIu64 ")",
              misses, sh.misses, absent, want_absent);
  }

  /* Every key at its last version with that version's bytes; then free the map. */
  uint64_t keys = 0;
  for (unsigned b = 0; b < RW_BUCKETS; b++) {
    rw_entry_t *e = buckets[b];
    while (e) {
      rw_entry_t *next = e->next;
      uint32_t hash = name_hash(e->name);
      unsigned w = 0, k = 0;
      if (sscanf(e->name, "user:%u:%u", &w, &k) != 2 || w >= RW_WRITERS ||
          k >= RW_KEYS_PER_WRITER) {
        sc_fail("unexpected key %s in the map", e->name);
      } else {
        uint64_t n = sh.updates_per_writer / RW_KEYS_PER_WRITER +
                     (k < sh.updates_per_writer % RW_KEYS_PER_WRITER);
        uint64_t last_u = (n - 1) * RW_KEYS_PER_WRITER + k;
        if (e->version != n || e->value_len != value_len(p->seed, w, last_u))
          sc_fail("key %s: version %u (%zu bytes), expected %" PRIu64, e->name, e->version,
                  e->value_len, n);
        for (size_t j = 0; j < e->value_len && !sc_failed(); j++)
          if (e->value[j] != value_byte(hash, e->version, j))
            sc_fail("key %s: final value corrupted at byte %zu", e->name, j);
      }
      keys++;
      SC_FREE(&main_counts, e->value, e->value_len);
      SC_FREE(&main_counts, e->name, strlen(e->name) + 1);
      SC_FREE(&main_counts, e, sizeof *e);
      e = next;
    }
  }
  if (!sc_failed() && keys != RW_WRITERS * RW_KEYS_PER_WRITER)
    sc_fail("map holds %" PRIu64 " keys, expected %d", keys, RW_WRITERS * RW_KEYS_PER_WRITER);
  SC_FREE(&main_counts, buckets, RW_BUCKETS * sizeof(rw_entry_t *));
  pthread_rwlock_destroy(&sh.lock);

  sc_out("\"writers\":%d,\"readers\":%d,\"updates_per_writer\":%" PRIu64
         ",\"lookups_per_reader\":%" PRIu64 ",\"keys\":%" PRIu64 ",\"writes\":%" PRIu64
         ",\"inserts\":%" PRIu64 ",\"updates\":%" PRIu64 ",\"reads\":%" PRIu64
         ",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"absent_key_lookups\":%" PRIu64
         ",\"per_reader\":[",
         RW_WRITERS, RW_READERS, sh.updates_per_writer, sh.lookups_per_reader, keys, writes,
         inserts, updates, reads, hits, misses, absent);
  for (unsigned i = 0; i < RW_READERS; i++)
    sc_out("%s{\"reads\":%" PRIu64 ",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64 "}",
           i ? "," : "", readers[i].ops, readers[i].hits, readers[i].misses);
  sc_out("]");

  sc_counts_t sum = main_counts;
  for (unsigned i = 0; i < RW_WRITERS; i++) sc_counts_add(&sum, &writers[i].counts);
  for (unsigned i = 0; i < RW_READERS; i++) sc_counts_add(&sum, &readers[i].counts);
  if (!sc_failed()) sc_check_counts("rwlock_cache", &sum, &want);
  return sc_failed() ? -1 : 0;
}

const sc_scenario_t sc_rwlock_cache = {
    .name = "rwlock_cache",
    .description = "2 writers x 10 updates, 4 readers x 15 lookups, rwlock hash map of heap buffers",
    .expect = rw_expect,
    .run = rw_run,
};
