/* ms_salvage.c: recovers a run's unwritten records from its ring segments (ms_salvage.h).
 *
 * Everything read here comes from a trace and is checked as hostile input: ring and thread
 * files are opened without following links and only when regular (O_NONBLOCK: a FIFO never
 * blocks), sizes and positions are bounded by the file, a thread file name must be one the
 * tracker makes, and a bad ring is counted (its loss unknown), never trusted. */
#define _GNU_SOURCE
#include "ms_salvage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms_encode.h"

#define SV_OUT_CAP (64 * 1024)
#define SV_MAX_REC_CAP (1u << 20) /* the tracker uses 1536; a larger claim is damage */
#define SV_META_MAX (1u << 20)

typedef struct salvager_s {
  ms_encoder_t enc;     /* first: the emit callback gets it back */
  int fd;               /* the thread file chunks go to (write mode), -1 when counting */
  int failed;           /* -errno of the first failed write */
  uint64_t records, events;
  ms_crc_table_t crc;
  int hw_crc;
  uint8_t out[SV_OUT_CAP];
} salvager_t;

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b) {
  if (err && errlen)
    snprintf(err, errlen, fmt, a, b);
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return w < 0 ? -errno : -EIO;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len, off_t off) {
  char *p = buf;
  while (len) {
    ssize_t r = pread(fd, p, len, off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      return -1;
    p += r;
    off += r;
    len -= (size_t)r;
  }
  return 0;
}

/* ms_encode_range's emit: one chunk, written whole (or counted when not writing). Salvaged
 * chunks carry no calibration pair (0, 0): the reader converts with meta's and the others. */
static void sv_emit(ms_encoder_t *e, uint32_t len, uint32_t nrec, uint32_t nev,
                    uint64_t base_ts, uint32_t end_slot, uint64_t last_ts) {
  salvager_t *sv = (salvager_t *)e;
  sv->events += nev;
  (void)end_slot;
  (void)last_ts;
  sv->records += nrec;
  if (sv->fd < 0 || sv->failed)
    return;
  const uint8_t *payload = sv->out + MS_CHUNK_HEADER_SIZE;
  ms_chunk_header_t ch;
  memset(&ch, 0, sizeof ch);
  ch.magic = MS_CHUNK_MAGIC;
  ch.payload_len = len;
  ch.crc32c = sv->hw_crc ? ms_crc32c_hw(payload, len) : ms_crc32c(&sv->crc, payload, len);
  ch.nrecords = nrec;
  ch.base_ts = base_ts;
  memcpy(sv->out, &ch, sizeof ch);
  sv->failed = write_all(sv->fd, sv->out, MS_CHUNK_HEADER_SIZE + len);
}

/* Opens name in dirfd only as a regular file, never through a link. fd or -errno. */
static int open_regular_at(int dirfd, const char *name, int flags, struct stat *st) {
  int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return -errno;
  if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
    close(fd);
    return -EINVAL;
  }
  return fd;
}

/* A thread file name the tracker makes: memscope_thread_*.bin, no '/', NUL within 64. */
static int thread_name_ok(const char *name, size_t cap) {
  size_t n = strnlen(name, cap);
  return n < cap && n > 20 && strncmp(name, "memscope_thread_", 16) == 0 &&
         strcmp(name + n - 4, ".bin") == 0 && !strchr(name, '/');
}

/* Gives back the blocks a killed tracker had reserved past the end of thread file name
 * (files.c file_prealloc: up to 1 MiB a file, which only the tracker's next flush trims, and
 * a killed process has none). ftruncate to the file's own size changes no byte; a file that
 * cannot be opened or trimmed keeps its reserve, and nothing else depends on it. */
static void trim_reserve(int dirfd, const char *name) {
  struct stat st;
  int fd = open_regular_at(dirfd, name, O_WRONLY, &st);
  if (fd < 0)
    return;
  if ((uint64_t)st.st_blocks * 512 > ((uint64_t)st.st_size + 4095) / 4096 * 4096 &&
      ftruncate(fd, st.st_size) < 0) {
    /* best effort: the reserve stays, the trace is whole either way */
  }
  close(fd);
}

/* Creates a new thread file for a ring whose thread never wrote one. fd or -errno. */
static int create_thread_file(int dirfd, const ms_ring_hdr_t *h, char *name, size_t cap) {
  for (int k = 0; k < 1000; k++) {
    if (k == 0)
      snprintf(name, cap, "memscope_thread_%u_%u.bin", h->pid, h->tid);
    else
      snprintf(name, cap, "memscope_thread_%u_%u_%d.bin", h->pid, h->tid, k);
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST)
      continue;
    if (fd < 0)
      return -errno;
    ms_file_header_t fh;
    memset(&fh, 0, sizeof fh);
    memcpy(fh.magic, MS_FILE_MAGIC, 8);
    fh.version = MS_FORMAT_VERSION;
    fh.header_size = MS_FILE_HEADER_SIZE;
    fh.pid = h->pid;
    fh.tid = h->tid;
    fh.thread_seq = h->thread_seq;
    fh.run_id = h->run_id;
    int rc = write_all(fd, &fh, sizeof fh);
    if (rc) {
      close(fd);
      unlinkat(dirfd, name, 0);
      return rc;
    }
    return fd;
  }
  return -EEXIST;
}

/* Reads the stage of the ring at off (staged bytes, srec records, sev events claimed) into a
 * new buffer *stage. It must be whole chunks, each with its CRC right (one appended with a bad
 * CRC would end the file's reading there), whose records add up to srec; the tracker creates
 * the thread file before the first chunk is staged, so the caller has one. 0, 1 (bad: the
 * ring's loss is not known) or -ENOMEM. */
static int load_stage(salvager_t *sv, int rfd, uint64_t off, uint64_t seg,
                      const ms_ring_hdr_t *h, uint32_t staged, uint32_t srec, uint32_t sev,
                      uint8_t **stage) {
  uint64_t room = seg - sizeof *h - (uint64_t)h->rec_cap * sizeof(ms_rec_t);
  if (staged > room || sev > srec)
    return 1;
  uint8_t *st = malloc(staged);
  if (!st)
    return -ENOMEM;
  uint64_t nrec = 0, o = 0;
  int ok = !read_all(rfd, st, staged, (off_t)(off + seg - room));
  while (ok && o < staged) {
    ms_chunk_header_t ch;
    ok = staged - o >= sizeof ch;
    if (ok) {
      memcpy(&ch, st + o, sizeof ch);
      ok = ch.magic == MS_CHUNK_MAGIC && ch.payload_len <= staged - o - sizeof ch;
      if (ok) {
        const uint8_t *pl = st + o + sizeof ch;
        ok = ch.crc32c == (sv->hw_crc ? ms_crc32c_hw(pl, ch.payload_len)
                                      : ms_crc32c(&sv->crc, pl, ch.payload_len));
      }
      o += sizeof ch + (ok ? ch.payload_len : 0);
      nrec += ch.nrecords;
    }
  }
  if (!ok || nrec != srec) {
    free(st);
    return 1;
  }
  *stage = st;
  return 0;
}

/* One ring: the segment [off, off + seg) of the rings file rfd (of st_size bytes). Returns 0
 * (counts added to out; a bad ring is counted, not an error) or -errno for a failure to
 * write. */
static int salvage_ring(salvager_t *sv, int dirfd, int rfd, uint64_t rsize, uint64_t off,
                        uint64_t seg, uint64_t run_id, int write, ms_salvage_t *out) {
  ms_ring_hdr_t h;
  if (rfd < 0 || off + seg > rsize || seg < sizeof h || read_all(rfd, &h, sizeof h, (off_t)off) ||
      memcmp(h.magic, MS_RING_MAGIC, sizeof h.magic) || h.version < MS_RING_VERSION_MIN ||
      h.version > MS_RING_VERSION || h.rec_cap == 0 || h.rec_cap > SV_MAX_REC_CAP ||
      seg < sizeof h + (uint64_t)h.rec_cap * sizeof(ms_rec_t) ||
      (run_id && h.run_id != run_id) || h.pos > h.rec_cap || h.flushed > h.rec_cap) {
    out->bad_rings++;
    out->loss_unknown = 1;
    return 0;
  }
  if (h.version < 2) { /* no stage: those fields were padding */
    h.staged = h.staged_rec = h.staged_ev = h.st_busy = 0;
    h.st_next_staged = h.st_next_rec = h.st_next_ev = 0;
  }
  if (h.version >= 2 && h.wr_busy > 1) {
    /* wr_busy = 2: the tracker died counting a failed write's events lost (flush.c
     * stage_write_failed and the stop paths): the ring's counts are half moved. */
    out->bad_rings++;
    out->loss_unknown = 1;
    return 0;
  }
  out->rings++;
  out->events_pending += h.pending != 0;
  out->records_lost += h.lost;
  out->events_unrecorded += h.unrecorded;
  /* Every named thread file, whether or not its ring has records left. */
  if (write && h.file_name[0] && thread_name_ok(h.file_name, sizeof h.file_name))
    trim_reserve(dirfd, h.file_name);
  uint32_t pos = h.pos;
  if (h.tid == 0 || (pos == 0 && h.staged == 0 && !h.st_busy))
    return 0;
  /* The thread file and where its good part ends (ring header protocol: flush.c's
   * emit_chunk). A write the process was in when it died completed if the file reached its
   * announced end; otherwise the file is cut back to its last whole chunk. */
  char fname[96] = "";
  int tfd = -1, version = MS_FORMAT_VERSION; /* a file created here is the current version */
  uint64_t tsize = 0, hsize = 0;
  if (h.file_name[0]) {
    if (!thread_name_ok(h.file_name, sizeof h.file_name)) {
      out->bad_rings++;
      out->loss_unknown = 1;
      return 0;
    }
    memcpy(fname, h.file_name, strnlen(h.file_name, sizeof h.file_name));
    struct stat ts;
    tfd = open_regular_at(dirfd, fname, write ? O_RDWR : O_RDONLY, &ts);
    if (tfd < 0) {
      out->bad_rings++;
      out->loss_unknown = 1;
      return 0;
    }
    tsize = (uint64_t)ts.st_size;
    /* Chunks appended to the file take its format version (a version-1 run stays one). */
    ms_file_header_t fh;
    if (read_all(tfd, &fh, sizeof fh, 0) || memcmp(fh.magic, MS_FILE_MAGIC, sizeof fh.magic) ||
        fh.version < MS_FORMAT_VERSION_MIN || fh.version > MS_FORMAT_VERSION) {
      close(tfd);
      out->bad_rings++;
      out->loss_unknown = 1;
      return 0;
    }
    version = fh.version;
    hsize = fh.header_size > sizeof fh ? fh.header_size : sizeof fh;
  }
  uint32_t flushed = h.flushed;
  uint64_t last_ts = h.last_ts, good = h.file_bytes;
  /* The stage (ring version 2): chunks encoded but not in the file. */
  uint32_t staged = h.staged, srec = h.staged_rec, sev = h.staged_ev;
  if (h.version < 2) {
    /* Version 1 wrote each chunk straight to the file, announced by wr_busy. */
    if (h.wr_busy && tfd >= 0 && tsize >= h.wr_file_end && h.wr_end <= pos) {
      flushed = h.wr_end;
      last_ts = h.wr_last_ts;
      good = h.wr_file_end;
    }
  } else {
    if (h.st_busy && h.wr_end > pos) { /* announced past the records committed: damage */
      if (tfd >= 0)
        close(tfd);
      out->bad_rings++;
      out->loss_unknown = 1;
      return 0;
    }
    if (h.st_busy) { /* a chunk was being staged: it was whole before it was announced */
      staged = h.st_next_staged, srec = h.st_next_rec, sev = h.st_next_ev;
      flushed = h.wr_end;
      last_ts = h.wr_last_ts;
    }
    if (h.wr_busy && tfd >= 0 && tsize >= h.wr_file_end) { /* the stage's write completed */
      good = h.wr_file_end;
      staged = srec = sev = 0;
    }
  }
  /* The file is cut back to `good` before anything is appended: a ring that puts it inside
   * the file's header or past its end is damaged (or hostile), never trusted. */
  if (tfd >= 0 && (good < hsize || good > tsize)) {
    close(tfd);
    out->bad_rings++;
    out->loss_unknown = 1;
    return 0;
  }
  uint8_t *stage = NULL;
  int rc = 0;
  if (staged) {
    rc = tfd >= 0 ? load_stage(sv, rfd, off, seg, &h, staged, srec, sev, &stage) : 1;
    if (rc) {
      if (tfd >= 0)
        close(tfd);
      if (rc < 0)
        return rc;
      out->bad_rings++;
      out->loss_unknown = 1;
      return 0;
    }
  }
  if (staged && write) { /* the file cut back to its last whole write, then the stage */
    if (tsize > good && ftruncate(tfd, (off_t)good) < 0)
      rc = -errno;
    else if (lseek(tfd, 0, SEEK_END) < 0)
      rc = -errno;
    else
      rc = write_all(tfd, stage, staged);
    tsize = good + staged;
    good = tsize;
  }
  free(stage);
  if (rc == 0) {
    out->records_recovered += srec;
    out->events_recovered += sev;
  }
  if (rc == 0 && flushed < pos) {
    size_t n = (size_t)pos * sizeof(ms_rec_t);
    ms_rec_t *recs = malloc(n);
    if (!recs) {
      rc = -ENOMEM;
    } else if (read_all(rfd, recs, n, (off_t)(off + sizeof h))) {
      out->bad_rings++;
      out->loss_unknown = 1;
    } else {
      if (write) {
        if (tfd < 0)
          tfd = create_thread_file(dirfd, &h, fname, sizeof fname);
        else if (tsize > good && ftruncate(tfd, (off_t)good) < 0)
          tfd = -errno;
        if (tfd >= 0 && lseek(tfd, 0, SEEK_END) < 0) {
          close(tfd);
          tfd = -errno;
        }
        if (tfd < 0)
          rc = tfd;
      }
      if (rc == 0) {
        sv->fd = write ? tfd : -1;
        sv->failed = 0;
        sv->records = sv->events = 0;
        sv->enc.last_ts = last_ts;
        sv->enc.version = version;
        uint32_t end = ms_encode_range(&sv->enc, recs, flushed, pos);
        if (end < pos) /* a record the encoder refused: the ring is damaged from there */
          out->loss_unknown = 1;
        out->records_recovered += sv->records;
        out->events_recovered += sv->events;
        rc = sv->failed;
      }
    }
    free(recs);
  }
  if (tfd >= 0)
    close(tfd);
  return rc;
}

/* meta.txt's content (NUL-terminated, malloc'd) through fd, or NULL. */
static char *read_meta(int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0 || st.st_size > SV_META_MAX)
    return NULL;
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf)
    return NULL;
  if (read_all(fd, buf, (size_t)st.st_size, 0)) {
    free(buf);
    return NULL;
  }
  buf[st.st_size] = '\0';
  return buf;
}

/* The value of key in meta text (a line "key=value"), copied into val; 1 if found. */
static int meta_value(const char *text, const char *key, char *val, size_t cap) {
  size_t kl = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
      size_t n = strcspn(p + kl + 1, "\n");
      if (n >= cap)
        n = cap - 1;
      memcpy(val, p + kl + 1, n);
      val[n] = '\0';
      return 1;
    }
  }
  return 0;
}

/* 1 when meta.txt's last end_reason= line comes after its last exec_failed= line (an exec
 * that returned voids the end part written before it: ms_runs.c, meta_has_end). */
static int meta_ended(const char *text) {
  int ended = 0;
  for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (!strncmp(p, "end_reason=", 11))
      ended = 1;
    else if (!strncmp(p, "exec_failed=", 12))
      ended = 0;
  }
  return ended;
}

int ms_run_salvage(const char *run_dir, int write, ms_salvage_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  int dirfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) {
    int e = errno;
    set_err(err, errlen, "%s: %s", run_dir, strerror(e));
    return -e;
  }
  struct stat st;
  int mfd = open_regular_at(dirfd, "meta.txt", write ? O_WRONLY | O_APPEND : O_RDONLY, &st);
  if (mfd < 0 && write)
    mfd = open_regular_at(dirfd, "meta.txt", O_RDONLY, &st); /* read-only trace: count */
  char *meta = NULL;
  int rc = 0;
  if (mfd < 0) {
    rc = mfd;
    set_err(err, errlen, "%s/meta.txt: %s", run_dir, strerror(-rc));
    goto out;
  }
  int mrd = openat(dirfd, "meta.txt", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  meta = mrd >= 0 ? read_meta(mrd) : NULL;
  if (mrd >= 0)
    close(mrd);
  if (!meta) {
    rc = -EINVAL;
    set_err(err, errlen, "%s/meta.txt: %s", run_dir, "unreadable or larger than 1 MiB");
    goto out;
  }
  char val[64];
  if (meta_ended(meta))
    goto out; /* a finished run: nothing to salvage */
  out->needed = 1;
  if (write && (fcntl(mfd, F_GETFL) & O_ACCMODE) == O_RDONLY)
    write = 0; /* meta.txt not writable: count only */
  /* The tracker holds an exclusive lock on its meta.txt while the process lives; taking it
   * here also keeps two salvages of the same run apart. */
  if (write && flock(mfd, LOCK_EX | LOCK_NB) < 0) {
    rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
    set_err(err, errlen, "%s: %s", run_dir,
            rc == -EBUSY ? "the traced process is still running" : strerror(-rc));
    goto out;
  }
  uint64_t run_id = meta_value(meta, "run_id", val, sizeof val) ? strtoull(val, NULL, 10) : 0;
  if (meta_value(meta, "ring_private", val, sizeof val))
    out->loss_unknown = 1; /* a buffer without a ring: what it held is not known */
  salvager_t *sv = calloc(1, sizeof *sv);
  if (!sv) {
    rc = -ENOMEM;
    goto out;
  }
  sv->enc.out = sv->out;
  sv->enc.cap = sizeof sv->out;
  sv->enc.emit = sv_emit;
  ms_crc32c_init(&sv->crc);
  sv->hw_crc = ms_crc32c_hw_usable();
  /* The rings meta.txt names (one "ring=N" line each, written when the tracker gave the
   * segment out): a named ring that is missing or bad held records nobody can count. */
  uint64_t seg = meta_value(meta, "ring_bytes", val, sizeof val) ? strtoull(val, NULL, 10) : 0;
  struct stat rst;
  int rfd = open_regular_at(dirfd, "memscope_rings.raw", O_RDONLY, &rst);
  uint64_t rsize = rfd >= 0 ? (uint64_t)rst.st_size : 0;
  if (seg == 0 || seg > (64u << 20))
    seg = UINT64_MAX / 2; /* every segment then fails the size check: loss unknown */
  for (const char *p = meta; rc == 0 && p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
    if (strncmp(p, "ring=", 5) != 0)
      continue;
    char *end;
    unsigned long idx = strtoul(p + 5, &end, 10);
    if (end == p + 5 || (*end != '\n' && *end) || idx > 1000000) {
      out->loss_unknown = 1;
      continue;
    }
    rc = salvage_ring(sv, dirfd, rfd, rsize, (uint64_t)idx * seg, seg, run_id, write, out);
  }
  if (rfd >= 0)
    close(rfd);
  free(sv);
  if (rc) {
    set_err(err, errlen, "%s: cannot write the salvaged records: %s", run_dir, strerror(-rc));
    goto out;
  }
  if (write) {
    uint64_t lost = out->events_pending + out->records_lost + out->events_unrecorded;
    size_t ml = strlen(meta);
    char end[512];
    int n = snprintf(end, sizeof end,
                     "%send_reason=salvaged\nsalvaged_records=%llu\nsalvaged_events=%llu\n"
                     "events_pending=%llu\n"
                     "events_unrecorded=%llu\nevents_lost=%llu\nevents_lost_exact=%d\n",
                     ml && meta[ml - 1] != '\n' ? "\n" : "",
                     (unsigned long long)out->records_recovered,
                     (unsigned long long)out->events_recovered,
                     (unsigned long long)out->events_pending,
                     (unsigned long long)out->events_unrecorded, (unsigned long long)lost,
                     !out->loss_unknown);
    rc = write_all(mfd, end, (size_t)n);
    if (rc) {
      set_err(err, errlen, "%s/meta.txt: %s", run_dir, strerror(-rc));
      goto out;
    }
    out->written = 1;
  }
out:
  free(meta);
  if (mfd >= 0)
    close(mfd);
  close(dirfd);
  return rc;
}
