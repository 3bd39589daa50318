/* Online compaction of the io_uring log (see compact.h for what is kept,
 * compact_manifest.h for the on-disk protocol).
 *
 * 1. The writer seals the active segment, so every record written before
 *    the call is in a sealed segment [first_seg, active - 1]: the range.
 * 2. This thread reads the range in log order, checking every record,
 *    and plans to copy each one that is still the index's location for
 *    its token (so: the newest record of a live token). Knowing how many
 *    records and output files that makes, it numbers the copies so they
 *    end exactly where the range ended (sequence numbers stay dense up to
 *    the active segment) and copies them into output files. Liveness only
 *    ever goes from live to superseded, so a record skipped cannot be
 *    needed; one superseded after it was planned is copied anyway, a
 *    harmless stale copy, since the newer record is later in the log
 *    (replay keeps the newer, and the remap below skips it).
 * 3. Outputs synced, the manifest is committed.
 * 4. The writer, between two batches, removes the index checkpoint (it
 *    names old locations), renames the outputs into place, then under
 *    swap_lock (no point reader between lookup and read) installs the new
 *    files and moves each copied token's index entries old -> new location
 *    unless the token moved on meanwhile; then unlinks the segments that
 *    are no longer used, removes the manifest and writes a fresh
 *    checkpoint. Scans and snapshots are held off by maint_lock meanwhile.
 *
 * Memory: 40 bytes per copied record (the remap list) for the duration. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vault/store/compact_manifest.h"
#include "vault/store/cursor.h"
#include "vault/store/segment.h"
#include "vault/store/ustore.h"

/* Output bytes gathered before one pwrite. */
#define OUT_BUF_BYTES (1u << 20)
/* The remap prefetches index buckets this many entries ahead. */
#define REMAP_LOOKAHEAD 16u
/* Input bytes between two looks at the rate limit. */
#define RATE_STEP_BYTES (64u * 1024)

/* A copied record: where it was, where it went (ordinal of the output and
 * offset in it: the output's final id is known only at the end). */
typedef struct moved {
  uint64_t hash;
  uint64_t fp_hash;
  tv_store_loc old_loc;
  uint64_t off;
  uint32_t ordinal;
  uint32_t len;
} moved;

typedef struct cjob {
  tv_ustore *u;
  const tv_store_compact_options *o;
  tv_store_compact_progress *p;
  tv_compact_manifest m;
  uint64_t next_seq;     /* next sequence number to give out */
  uint64_t first_in_seq;  /* sequence numbers of the range */
  uint64_t last_in_seq;
  uint32_t plan_outputs;  /* outputs the plan needs */
  uint64_t plan_off;      /* end of the plan's current output */
  size_t header_len;      /* encoded size of a segment header */
  uint64_t since_rate;    /* input bytes since the last rate check */
  uint64_t cap_bytes;   /* size limit of an output */
  int out_fd;
  uint64_t out_off; /* end of the current output */
  uint8_t *buf;     /* bytes of the current output not yet written */
  size_t buf_len;
  uint64_t buf_at; /* file offset of buf[0] */
  uint64_t *hdr_seq; /* header sequence number of each output */
  moved *moved;
  size_t num_moved;
  size_t cap_moved;
  struct timespec start;
  uint64_t bytes_in;
} cjob;

void tv_store_compact_progress_init(tv_store_compact_progress *p) {
  atomic_store(&p->phase, TV_COMPACT_IDLE);
  atomic_store(&p->segments_total, 0);
  atomic_store(&p->segments_done, 0);
  atomic_store(&p->records_total, 0);
  atomic_store(&p->records_done, 0);
  atomic_store(&p->bytes_total, 0);
  atomic_store(&p->bytes_done, 0);
  atomic_store(&p->records_kept, 0);
  atomic_store(&p->records_expired, 0);
  atomic_store(&p->bytes_written, 0);
  atomic_store(&p->swap_stall_us, 0);
}

void tv_store_compact_progress_get(const tv_store_compact_progress *p, tv_store_compact_report *out) {
  out->phase = (tv_store_compact_phase)atomic_load(&p->phase);
  out->segments_total = atomic_load(&p->segments_total);
  out->segments_done = atomic_load(&p->segments_done);
  out->records_total = atomic_load(&p->records_total);
  out->records_done = atomic_load(&p->records_done);
  out->bytes_total = atomic_load(&p->bytes_total);
  out->bytes_done = atomic_load(&p->bytes_done);
  out->records_kept = atomic_load(&p->records_kept);
  out->records_expired = atomic_load(&p->records_expired);
  out->bytes_written = atomic_load(&p->bytes_written);
  out->swap_stall_us = atomic_load(&p->swap_stall_us);
}

static void fault_at(const cjob *j, tv_store_compact_step step) {
  if (j->o->fault != NULL) {
    j->o->fault(j->o->fault_ctx, step);
  }
}

/* ---- outputs ------------------------------------------------------------ */

static tv_status out_flush(cjob *j) {
  size_t done = 0;
  while (done < j->buf_len) {
    ssize_t w = pwrite(j->out_fd, j->buf + done, j->buf_len - done, (off_t)(j->buf_at + done));
    if (w < 0 && errno == EINTR) {
      continue;
    }
    TV_ENSURE(w > 0, tv_store_fd_failed("pwrite", j->out_fd, w < 0 ? errno : ENOSPC));
    done += (size_t)w;
  }
  j->buf_at += j->buf_len;
  j->buf_len = 0;
  return TV_OK;
}

static tv_status out_close(cjob *j) {
  if (j->out_fd < 0) {
    return TV_OK;
  }
  tv_status st = out_flush(j);
  close(j->out_fd);
  j->out_fd = -1;
  return st;
}

/* encode_header encodes the header of output |ordinal| as segment |id|;
 * its length does not depend on the id, so a placeholder (id 0) written
 * first is overwritten in place once the ids are known. */
static tv_status encode_header(const cjob *j, uint32_t ordinal, uint32_t id, uint8_t *out, size_t *out_len) {
  tv_record r;
  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_SEGMENT_HEADER;
  r.header.flags = TV_RECORD_FLAG_COMMIT;
  r.header.seq = j->hdr_seq[ordinal];
  r.body.segment.segment_id = id;
  r.body.segment.created_ms = tv_now_ms();
  r.body.segment.segment_bytes = j->u->segment_bytes;
  return tv_record_encode(&r, out, TV_STORE_RECORD_LEN_MAX, out_len);
}

static tv_status out_open(cjob *j) {
  TV_TRY(out_close(j));
  uint32_t ordinal = j->m.new_count;
  /* Never more outputs than inputs (a subset of the records, packed in
   * order into files at least as large): else ids would run out. */
  TV_ENSURE(ordinal <= j->m.old_last - j->m.old_first, TV_E_INTERNAL);
  char name[32];
  tv_compact_output_name(name, sizeof name, ordinal);
  j->out_fd = openat(j->u->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  TV_ENSURE(j->out_fd >= 0, tv_store_io_failed("create", name, errno));
  j->m.new_count++;
  j->hdr_seq[ordinal] = j->next_seq++;
  size_t len;
  TV_TRY(encode_header(j, ordinal, 0, j->buf, &len));
  j->buf_len = len;
  j->buf_at = 0;
  j->out_off = len;
  atomic_fetch_add(&j->p->bytes_written, len);
  return TV_OK;
}

static tv_status moved_push(cjob *j, const moved *mv) {
  if (j->num_moved == j->cap_moved) {
    size_t cap = j->cap_moved == 0 ? 4096 : j->cap_moved * 2;
    moved *grown = realloc(j->moved, cap * sizeof *grown);
    TV_ENSURE(grown != NULL, TV_E_NO_MEMORY);
    j->moved = grown;
    j->cap_moved = cap;
  }
  j->moved[j->num_moved++] = *mv;
  return TV_OK;
}

/* out_append copies planned record |i| (decoded into |r|, its header
 * type kept) to the outputs and notes where it went. */
static tv_status out_append(cjob *j, tv_record *r, size_t i) {
  size_t len = tv_record_encoded_len(r);
  TV_ENSURE(len != 0, TV_E_STORE_RECORD_FIELD);
  if (j->out_fd < 0 || j->out_off + len > j->cap_bytes) {
    TV_TRY(out_open(j));
  }
  if (OUT_BUF_BYTES - j->buf_len < TV_STORE_RECORD_LEN_MAX) {
    TV_TRY(out_flush(j));
  }
  r->header.seq = j->next_seq++;
  r->header.batch_index = 0;
  r->header.flags = TV_RECORD_FLAG_COMMIT; /* each record a batch of its own */
  size_t wrote;
  TV_TRY(tv_record_encode(r, j->buf + j->buf_len, OUT_BUF_BYTES - j->buf_len, &wrote));
  moved *mv = &j->moved[i];
  mv->off = j->out_off;
  mv->ordinal = j->m.new_count - 1;
  mv->len = (uint32_t)wrote;
  j->buf_len += wrote;
  j->out_off += wrote;
  atomic_fetch_add(&j->p->bytes_written, wrote);
  atomic_fetch_add(&j->p->records_kept, 1);
  if (i == 0) {
    fault_at(j, TV_COMPACT_STEP_COPYING);
  }
  return TV_OK;
}

/* outputs_finish writes each output's real header (now that the ids are
 * known) and syncs the outputs and the directory. */
static tv_status outputs_finish(cjob *j) {
  TV_TRY(out_close(j));
  /* The plan and the copy must agree, or the numbering would not end
   * where the range did. */
  TV_ENSURE(j->m.new_count == j->plan_outputs && j->next_seq == j->last_in_seq + 1, TV_E_INTERNAL);
  j->m.new_first = j->m.old_last + 1 - j->m.new_count;
  for (uint32_t i = 0; i < j->m.new_count; i++) {
    char name[32];
    tv_compact_output_name(name, sizeof name, i);
    int fd = openat(j->u->dir_fd, name, O_RDWR | O_CLOEXEC);
    TV_ENSURE(fd >= 0, tv_store_io_failed("open", name, errno));
    size_t len;
    tv_status st = encode_header(j, i, j->m.new_first + i, j->buf, &len);
    if (st == TV_OK && pwrite(fd, j->buf, len, 0) != (ssize_t)len) {
      st = tv_store_io_failed("pwrite of the segment header", name, errno);
    }
    if (st == TV_OK && fsync(fd) != 0) {
      st = tv_store_io_failed("fsync", name, errno);
    }
    close(fd);
    TV_TRY(st);
  }
  TV_ENSURE(fsync(j->u->dir_fd) == 0, tv_store_fd_failed("fsync of the directory", j->u->dir_fd, errno));
  fault_at(j, TV_COMPACT_STEP_COPIED);
  return TV_OK;
}

/* ---- reading the range ---------------------------------------------------- */

static int cancelled(const cjob *j) { return j->o->cancel != NULL && atomic_load(j->o->cancel) != 0; }

/* A throttling pause is slept in slices this long, so a cancel is seen
 * promptly even at a low |bytes_per_s|. */
#define RATE_SLICE_S 0.02

static void rate_wait(const cjob *j) {
  uint64_t per_s = j->o->bytes_per_s;
  if (per_s == 0) {
    return;
  }
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  double elapsed = (double)(now.tv_sec - j->start.tv_sec) + (double)(now.tv_nsec - j->start.tv_nsec) / 1e9;
  double due = (double)j->bytes_in / (double)per_s;
  while (due > elapsed && !cancelled(j)) {
    double wait = due - elapsed < RATE_SLICE_S ? due - elapsed : RATE_SLICE_S;
    struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
    nanosleep(&ts, NULL);
    elapsed += wait;
  }
}

/* is_live: the index still names |loc| for this token. */
static int is_live(tv_ustore *u, const tv_record_put *p, tv_store_loc loc) {
  uint64_t h = tv_index_token_hash(u->index, p->ns, p->ns_len, p->token, p->token_len);
  tv_store_loc locs[TV_STORE_CANDIDATES_MAX];
  size_t k = tv_index_token_find(u->index, h, locs, TV_STORE_CANDIDATES_MAX);
  for (size_t i = 0; i < k && i < TV_STORE_CANDIDATES_MAX; i++) {
    if (locs[i] == loc) {
      return 1;
    }
  }
  return 0;
}

/* strip_if_expired turns an expired value into a stub (see compact.h). */
static int strip_if_expired(const cjob *j, tv_record_put *p) {
  uint64_t now = j->o->now_ms;
  if (now == 0 || p->expires_ms == 0 || p->expires_ms > now || (p->key_version == 0 && p->ciphertext_len == 0)) {
    return 0;
  }
  p->key_version = 0;
  p->ciphertext_len = 0; /* the pointer stays valid: encoding copies 0 bytes */
  memset(p->nonce, 0, sizeof p->nonce);
  memset(p->tag, 0, sizeof p->tag);
  return 1;
}

/* plan_take looks at one record of the range: a live put is planned for
 * copying (its size after stripping decides which output it lands in). */
static tv_status plan_take(cjob *j, tv_record *r, tv_store_loc loc) {
  uint8_t type = r->header.type;
  j->last_in_seq = r->header.seq;
  if (j->first_in_seq == 0) {
    j->first_in_seq = r->header.seq;
  }
  if (type == TV_RECORD_SEGMENT_HEADER) {
    return TV_OK;
  }
  atomic_fetch_add(&j->p->records_done, 1);
  if ((type != TV_RECORD_PUT && type != TV_RECORD_REPUT) || !is_live(j->u, &r->body.put, loc)) {
    return TV_OK; /* deletes, superseded and deleted tokens' records */
  }
  tv_record_put *p = &r->body.put;
  moved mv = {.hash = tv_index_token_hash(j->u->index, p->ns, p->ns_len, p->token, p->token_len),
              .fp_hash = tv_index_fp_hash(j->u->index, p->ns, p->ns_len, p->fingerprint),
              .old_loc = loc};
  TV_TRY(moved_push(j, &mv));
  strip_if_expired(j, p);
  size_t len = tv_record_encoded_len(r);
  TV_ENSURE(len != 0, TV_E_STORE_RECORD_FIELD);
  if (j->plan_outputs == 0 || j->plan_off + len > j->cap_bytes) { /* as out_append will */
    j->plan_outputs++;
    j->plan_off = j->header_len;
  }
  j->plan_off += len;
  return TV_OK;
}

static tv_status map_segment(tv_ustore *u, uint32_t id, const uint8_t **out_map, uint64_t *out_size) {
  int fd = tv_ustore_seg_fd(u, id);
  TV_ENSURE(fd >= 0, TV_E_STORE_LAYOUT);
  struct stat sb;
  TV_ENSURE(fstat(fd, &sb) == 0, (tv_store_fd_failed("fstat", fd, errno), TV_E_IO));
  *out_size = (uint64_t)sb.st_size;
  TV_ENSURE(*out_size > 0, TV_E_STORE_CORRUPT);
  void *map = mmap(NULL, *out_size, PROT_READ, MAP_SHARED, fd, 0);
  TV_ENSURE(map != MAP_FAILED, TV_E_NO_MEMORY);
  madvise(map, *out_size, MADV_SEQUENTIAL);
  *out_map = map;
  return TV_OK;
}

static void count_in(cjob *j, uint64_t len) {
  j->bytes_in += len;
  j->since_rate += len;
  if (j->since_rate >= RATE_STEP_BYTES) {
    rate_wait(j);
    j->since_rate = 0;
  }
}

/* plan_segment checks every record of sealed segment |id| and plans the
 * live ones. A sealed segment ends at its last record: anything that does
 * not decode is damage, and compacting past it could lose records. */
static tv_status plan_segment(cjob *j, uint32_t id) {
  const uint8_t *map;
  uint64_t size;
  TV_TRY(map_segment(j->u, id, &map, &size));
  tv_status st = TV_OK;
  for (uint64_t off = 0; off < size && st == TV_OK;) {
    tv_record r;
    size_t len;
    if (tv_record_decode(map + off, size - off, &r, &len) != TV_OK) {
      st = TV_E_STORE_CORRUPT;
      break;
    }
    st = plan_take(j, &r, tv_loc_pack(id, off, (uint32_t)len));
    off += len;
    atomic_fetch_add(&j->p->bytes_done, len);
    count_in(j, len);
    st = st == TV_OK && cancelled(j) ? TV_E_STORE_COMPACT_CANCELLED : st;
  }
  munmap((void *)(uintptr_t)map, size);
  atomic_fetch_add(&j->p->segments_done, 1);
  return st;
}

/* copy_planned copies the planned records, in order. One superseded
 * since planning is copied anyway (a stale copy: replay prefers the newer
 * record later in the log, and the remap skips it), so the plan's counts
 * hold and the numbering stays dense. */
static tv_status copy_planned(cjob *j) {
  const uint8_t *map = NULL;
  uint64_t size = 0;
  uint32_t mapped = 0;
  tv_status st = TV_OK;
  for (size_t i = 0; i < j->num_moved && st == TV_OK; i++) {
    tv_store_loc loc = j->moved[i].old_loc;
    if (map == NULL || tv_loc_segment(loc) != mapped) {
      if (map != NULL) {
        munmap((void *)(uintptr_t)map, size);
        map = NULL;
      }
      mapped = tv_loc_segment(loc);
      TV_TRY(map_segment(j->u, mapped, &map, &size));
    }
    tv_record r;
    size_t len;
    st = tv_record_decode(map + tv_loc_offset(loc), size - tv_loc_offset(loc), &r, &len);
    if (st == TV_OK && strip_if_expired(j, &r.body.put)) {
      atomic_fetch_add(&j->p->records_expired, 1);
    }
    if (st == TV_OK) {
      st = out_append(j, &r, i);
      count_in(j, len);
    }
    st = st == TV_OK && cancelled(j) ? TV_E_STORE_COMPACT_CANCELLED : st;
  }
  if (map != NULL) {
    munmap((void *)(uintptr_t)map, size);
  }
  return st;
}

/* count_range fills the totals from record headers alone (a cheap walk,
 * for progress only: plan_segment checks every record). */
static tv_status count_range(cjob *j) {
  uint64_t records = 0, bytes = 0;
  for (uint32_t id = j->m.old_first; id <= j->m.old_last; id++) {
    const uint8_t *map;
    uint64_t size;
    TV_TRY(map_segment(j->u, id, &map, &size));
    for (uint64_t off = 0; off + TV_STORE_RECORD_HEADER_LEN <= size;) {
      uint32_t plen = tv_le32(map + off + 8);
      records += map[off + 5] != TV_RECORD_SEGMENT_HEADER;
      off += (TV_STORE_RECORD_HEADER_LEN + plen + TV_STORE_RECORD_ALIGN - 1) & ~(uint64_t)(TV_STORE_RECORD_ALIGN - 1);
    }
    munmap((void *)(uintptr_t)map, size);
    bytes += size;
    j->cap_bytes = size > j->cap_bytes ? size : j->cap_bytes;
  }
  atomic_store(&j->p->segments_total, j->m.old_last - j->m.old_first + 1);
  atomic_store(&j->p->records_total, records);
  atomic_store(&j->p->bytes_total, bytes);
  return TV_OK;
}

/* ---- the swap, on the writer thread ------------------------------------ */

/* remap_index moves each copied token's entries to its new location,
 * unless the token was re-put or deleted since it was copied (its entry
 * no longer names the old location: nothing to move). */
static void remap_index(tv_ustore *u, const cjob *j) {
  tv_index_write_begin(u->index);
  for (size_t i = 0; i < j->num_moved; i++) {
    if (i + REMAP_LOOKAHEAD < j->num_moved) { /* readers wait: overlap the misses */
      tv_index_prefetch(u->index, j->moved[i + REMAP_LOOKAHEAD].hash, j->moved[i + REMAP_LOOKAHEAD].fp_hash);
    }
    const moved *mv = &j->moved[i];
    tv_store_loc to = tv_loc_pack(j->m.new_first + mv->ordinal, mv->off, mv->len);
    if (tv_index_token_replace(u->index, mv->hash, mv->old_loc, to)) {
      tv_index_fp_replace(u->index, mv->fp_hash, mv->old_loc, to);
    }
  }
  tv_index_write_end(u->index);
}

/* install publishes the new files and index under swap_lock, so a point
 * reader uses old locations with old files or new with new, then closes
 * the old files (no reader can hold them any more). */
static void install(tv_ustore *u, const cjob *j, const int *new_fds, int *old_fds) {
  uint32_t num_old = j->m.old_last - j->m.old_first + 1;
  struct timespec t0, t1;
  pthread_rwlock_wrlock(&u->swap_lock);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (uint32_t i = 0; i < num_old; i++) {
    old_fds[i] = tv_ustore_seg_fd(u, j->m.old_first + i);
    tv_ustore_set_seg_fd(u, j->m.old_first + i, -1);
  }
  for (uint32_t i = 0; i < j->m.new_count; i++) {
    tv_ustore_set_seg_fd(u, j->m.new_first + i, new_fds[i]);
  }
  remap_index(u, j);
  u->first_seg = j->m.new_first;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  pthread_rwlock_unlock(&u->swap_lock);
  uint64_t us = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
  atomic_store(&j->p->swap_stall_us, us);
  for (uint32_t i = 0; i < num_old; i++) {
    if (old_fds[i] >= 0) {
      close(old_fds[i]);
    }
  }
}

static tv_status open_outputs(tv_ustore *u, const cjob *j, int *fds) {
  for (uint32_t i = 0; i < j->m.new_count; i++) {
    char name[32];
    tv_segment_name(name, sizeof name, j->m.new_first + i);
    fds[i] = openat(u->dir_fd, name, O_RDWR | O_CLOEXEC);
    if (fds[i] < 0) {
      tv_store_io_failed("open", name, errno);
      for (uint32_t k = 0; k < i; k++) {
        close(fds[k]);
      }
      return TV_E_IO;
    }
  }
  return TV_OK;
}

/* swap_task: steps 1-4 of compact_manifest.h plus the in-memory swap. A
 * failure leaves the manifest in place: reopening completes the swap. */
static tv_status swap_task(tv_ustore *u, void *ctx) {
  cjob *j = ctx;
  tv_store_compact_fault_fn f = j->o->fault;
  void *fc = j->o->fault_ctx;
  TV_TRY(tv_compact_remove_checkpoint(u->dir_fd, f, fc));
  TV_TRY(tv_compact_rename_outputs(u->dir_fd, &j->m, f, fc));
  /* New files first, then room for the old ones install closes. */
  int *fds = calloc(j->m.new_count + (j->m.old_last - j->m.old_first + 1u), sizeof *fds);
  TV_ENSURE(fds != NULL, TV_E_NO_MEMORY);
  tv_status st = open_outputs(u, j, fds);
  if (st == TV_OK) {
    install(u, j, fds, fds + j->m.new_count);
    fault_at(j, TV_COMPACT_STEP_SWAPPED);
  }
  free(fds);
  TV_TRY(st);
  TV_TRY(tv_compact_finish(u->dir_fd, &j->m, f, fc));
  u->ckpt_since = 0;
  tv_ustore_checkpoint(u); /* the removed one is replaced at once */
  return TV_OK;
}

static tv_status roll_task(tv_ustore *u, void *ctx) {
  TV_TRY(tv_ustore_roll_if_used(u));
  *(uint32_t *)ctx = u->active_seg;
  return TV_OK;
}

/* ---- the whole run -------------------------------------------------------- */

/* copy_range plans the whole range, numbers the copies so they end
 * exactly where the range ended (sequence numbers stay dense up to the
 * active segment, which repair relies on), then copies. */
static tv_status copy_range(cjob *j) {
  TV_TRY(count_range(j));
  j->hdr_seq = calloc(j->m.old_last - j->m.old_first + 2u, sizeof *j->hdr_seq);
  TV_ENSURE(j->hdr_seq != NULL, TV_E_NO_MEMORY);
  size_t hlen;
  TV_TRY(encode_header(j, 0, 0, j->buf, &hlen));
  j->header_len = hlen;
  clock_gettime(CLOCK_MONOTONIC, &j->start);
  for (uint32_t id = j->m.old_first; id <= j->m.old_last; id++) {
    TV_TRY(plan_segment(j, id));
  }
  uint64_t needed = j->plan_outputs + j->num_moved;
  /* Fewer records and no more segments than the range had (a subset,
   * packed in order into files at least as large). */
  TV_ENSURE(needed <= j->last_in_seq - j->first_in_seq + 1, TV_E_INTERNAL);
  j->next_seq = j->last_in_seq + 1 - needed;
  TV_TRY(copy_planned(j));
  TV_TRY(outputs_finish(j));
  /* The last point a cancel can take effect: after the commit the swap
   * must happen (a reopen would finish it anyway). */
  TV_ENSURE(!cancelled(j), TV_E_STORE_COMPACT_CANCELLED);
  return TV_OK;
}

/* commit_and_swap commits the manifest and has the writer swap, with
 * scans and snapshots held off. Before the commit a failure throws the
 * outputs away; after it, only a reopen may touch the files. */
static tv_status commit_and_swap(cjob *j) {
  atomic_store(&j->p->phase, TV_COMPACT_SWAPPING);
  tv_status st = tv_compact_manifest_commit(j->u->dir_fd, &j->m, j->o->fault, j->o->fault_ctx);
  if (st != TV_OK) {
    tv_compact_discard(j->u->dir_fd);
    return st;
  }
  tv_ustore_maint_exclusive_begin(j->u);
  st = tv_ustore_writer_call(j->u, swap_task, j);
  tv_ustore_maint_exclusive_end(j->u);
  return st;
}

static tv_status compact_run(tv_ustore *u, const tv_store_compact_options *o, tv_store_compact_progress *p) {
  /* A manifest left by a swap that failed in this process: only a reopen
   * may finish it (new outputs would be confused with its own). */
  TV_ENSURE(!tv_compact_manifest_exists(u->dir_fd), TV_E_STORE_LAYOUT);
  TV_TRY(tv_compact_discard(u->dir_fd));
  TV_ENSURE(o->cancel == NULL || !atomic_load(o->cancel), TV_E_STORE_COMPACT_CANCELLED);
  uint32_t active = 0;
  TV_TRY(tv_ustore_writer_call(u, roll_task, &active));
  cjob j = {.u = u, .o = o, .p = p, .out_fd = -1, .cap_bytes = u->segment_bytes};
  j.m.old_first = u->first_seg; /* only compaction changes it, one at a time */
  j.m.old_last = active - 1;
  if (j.m.old_first > j.m.old_last) {
    return TV_OK; /* nothing sealed */
  }
  if (o->fault != NULL) {
    o->fault(o->fault_ctx, TV_COMPACT_STEP_ROLLED);
  }
  atomic_store(&p->phase, TV_COMPACT_COPYING);
  j.buf = malloc(OUT_BUF_BYTES);
  tv_status st = j.buf != NULL ? copy_range(&j) : TV_E_NO_MEMORY;
  if (st != TV_OK) {
    if (j.out_fd >= 0) {
      close(j.out_fd);
    }
    tv_compact_discard(u->dir_fd);
  } else {
    st = commit_and_swap(&j);
  }
  free(j.buf);
  free(j.hdr_seq);
  free(j.moved);
  return st;
}

tv_status tv_ustore_compact(void *impl, const tv_store_compact_options *opts, tv_store_compact_progress *progress) {
  tv_ustore *u = impl;
  int idle = 0;
  TV_ENSURE(atomic_compare_exchange_strong(&u->compacting, &idle, 1), TV_E_STORE_BUSY);
  tv_status st = compact_run(u, opts, progress);
  atomic_store(&progress->phase, st == TV_OK ? TV_COMPACT_FINISHED : TV_COMPACT_FAILED);
  atomic_store(&u->compacting, 0);
  return st;
}
