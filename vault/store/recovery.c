/* Replay at open: check every record of every segment, rebuild the index,
 * and tell a torn tail (cut it) from damage before the last commit (stop).
 * The part of the log an index checkpoint covers is still checked record
 * by record (CRC, lengths, order) but not decoded into the index: damage
 * anywhere stops the open, and the checkpoint still saves the index work.
 *
 * Only the last write batch can be torn: the writer has one batch in
 * flight and rolls segments only between batches. So at the first bad
 * byte we work out which batch it belongs to (from the last good record:
 * the batch after it if that record ended a batch, else its own) and look
 * for any valid record further on. A valid record of a later batch proves
 * the bad bytes were once durable: that is corruption, named by file and
 * offset. Otherwise the bad record itself is judged by the tail rule
 * (tail_rule.h): a record that ran past the end of the file or holds
 * bytes never written (zeros where a written record has none) is the torn
 * remainder of the last batch, never acknowledged: everything from it on
 * is kept aside as "<segment>.tail-<ms>" (fsynced) and cut, and the open
 * report says what was cut. A complete record that fails its CRC with no
 * sign of a partial write is damage: the open stops, naming it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/checkpoint.h"
#include "vault/store/compact_manifest.h"
#include "vault/store/cursor.h"
#include "vault/store/segment.h"
#include "vault/store/tail_rule.h"
#include "vault/store/ustore.h"

typedef struct seg_scan {
  uint32_t id;
  const uint8_t *map;
  uint64_t size;
  int is_last;
  uint64_t start; /* replay from here (after a checkpoint), else 0 */
  int skip;       /* wholly covered by a checkpoint: not replayed */
  uint64_t end; /* out: end of the last good record */
  int torn;     /* out: non-zero bytes after |end| are to be cut */
  uint64_t tail_end;     /* out (torn): end of the written bytes to keep aside */
  uint64_t tail_records; /* out (torn): records at least partly in them */
} seg_scan;

__attribute__((format(printf, 5, 6))) static tv_status corrupt(tv_ustore *u, tv_store_diag *diag, uint32_t id,
                                                               uint64_t off, const char *fmt, ...) {
  char name[32];
  tv_segment_name(name, sizeof name, id);
  snprintf(diag->path, sizeof diag->path, "%.4000s/%.31s", u->dir, name);
  diag->offset = off;
  char what[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  snprintf(diag->message, sizeof diag->message, "%s at byte %" PRIu64 ": %s", name, off, what);
  return TV_E_STORE_CORRUPT;
}

/* A checked record waiting for its index buckets to arrive in cache. */
typedef struct pending {
  tv_record r;
  tv_store_loc loc;
  uint64_t hash;
  uint64_t fp_hash;
} pending;

/* Records are applied this many behind decoding, after a prefetch of
 * their buckets: replay is bound by cache misses, and this overlaps them. */
#define REPLAY_PIPELINE 16u

static tv_status replay_put(tv_ustore *u, const pending *pd) {
  const tv_record_put *p = &pd->r.body.put;
  tv_store_loc old;
  uint64_t old_fph;
  TV_TRY(tv_ustore_find_live(u, pd->hash, p->ns, p->ns_len, p->token, p->token_len, &old, &old_fph));
  if (old != 0) {
    tv_index_token_replace(u->index, pd->hash, old, pd->loc);
    tv_index_fp_remove(u->index, old_fph, old);
  } else {
    TV_TRY(tv_index_token_insert(u->index, pd->hash, pd->loc));
  }
  return tv_index_fp_insert(u->index, pd->fp_hash, pd->loc);
}

static tv_status replay_record(tv_ustore *u, const pending *pd) {
  u->st_recovered++;
  if (pd->r.header.type != TV_RECORD_DELETE) {
    return replay_put(u, pd);
  }
  const tv_record_delete *d = &pd->r.body.del;
  tv_store_loc old;
  uint64_t old_fph;
  TV_TRY(tv_ustore_find_live(u, pd->hash, d->ns, d->ns_len, d->token, d->token_len, &old, &old_fph));
  if (old != 0) {
    tv_index_token_remove(u->index, pd->hash, old);
    tv_index_fp_remove(u->index, old_fph, old);
  }
  return TV_OK;
}

typedef struct pipeline {
  pending ring[REPLAY_PIPELINE];
  size_t head;
  size_t num;
} pipeline;

static tv_status pipeline_flush(tv_ustore *u, pipeline *pl, size_t keep) {
  while (pl->num > keep) {
    TV_TRY(replay_record(u, &pl->ring[pl->head]));
    pl->head = (pl->head + 1) % REPLAY_PIPELINE;
    pl->num--;
  }
  return TV_OK;
}

/* pipeline_push queues a checked record for the index, prefetching the
 * buckets it will touch and applying the oldest once the ring is full. */
static tv_status pipeline_push(tv_ustore *u, pipeline *pl, const tv_record *r, tv_store_loc loc) {
  uint8_t type = r->header.type;
  if (type != TV_RECORD_PUT && type != TV_RECORD_REPUT && type != TV_RECORD_DELETE) {
    return TV_OK;
  }
  TV_TRY(pipeline_flush(u, pl, REPLAY_PIPELINE - 1));
  pending *pd = &pl->ring[(pl->head + pl->num) % REPLAY_PIPELINE];
  pd->r = *r;
  pd->loc = loc;
  if (type == TV_RECORD_DELETE) {
    pd->hash = tv_index_token_hash(u->index, r->body.del.ns, r->body.del.ns_len, r->body.del.token,
                                   r->body.del.token_len);
    pd->fp_hash = 0;
  } else {
    const tv_record_put *p = &r->body.put;
    pd->hash = tv_index_token_hash(u->index, p->ns, p->ns_len, p->token, p->token_len);
    pd->fp_hash = tv_index_fp_hash(u->index, p->ns, p->ns_len, p->fingerprint);
  }
  tv_index_prefetch(u->index, pd->hash, pd->fp_hash);
  pl->num++;
  return TV_OK;
}

static tv_status check_record(tv_ustore *u, const seg_scan *s, uint64_t off, const tv_record *r,
                              uint64_t last_seq, tv_store_diag *diag) {
  int is_header = r->header.type == TV_RECORD_SEGMENT_HEADER;
  if (off == 0 && (!is_header || r->body.segment.segment_id != s->id)) {
    return corrupt(u, diag, s->id, off, "segment does not start with its own header");
  }
  if (off != 0 && is_header) {
    return corrupt(u, diag, s->id, off, "segment header in the middle of a segment");
  }
  if (r->header.seq <= last_seq) {
    return corrupt(u, diag, s->id, off, "sequence number %" PRIu64 " does not follow %" PRIu64, r->header.seq,
                   last_seq);
  }
  return TV_OK;
}

/* classify_damage decides between a torn tail (sets s->end/torn) and
 * corruption (returns TV_E_STORE_CORRUPT) for bad bytes at |off|. */
static tv_status classify_damage(tv_ustore *u, seg_scan *s, uint64_t off, tv_status why,
                                 const tv_record_header *prev, uint64_t last_seq, tv_store_diag *diag) {
  s->end = off;
  int zero_rest = tv_record_is_zero(s->map + off, s->size - off);
  if (!s->is_last) {
    /* A sealed segment ends exactly at its last record, synced before the
     * next segment was created: nothing in it may be torn. */
    return corrupt(u, diag, s->id, off, "%s in a sealed segment", tv_status_name(why));
  }
  if (zero_rest) {
    return TV_OK; /* preallocated space: the normal end of the log */
  }
  uint64_t batch = 0; /* first seq of the batch the bad bytes belong to */
  if (prev != NULL) {
    batch = (prev->flags & TV_RECORD_FLAG_COMMIT) ? prev->seq + 1 : prev->seq - prev->batch_index;
  }
  for (uint64_t y = off + TV_STORE_RECORD_ALIGN; y + TV_STORE_RECORD_HEADER_LEN <= s->size;
       y += TV_STORE_RECORD_ALIGN) {
    if (tv_le32(s->map + y) != TV_RECORD_MAGIC) {
      continue;
    }
    tv_record r;
    size_t len;
    if (tv_record_decode(s->map + y, s->size - y, &r, &len) != TV_OK) {
      continue;
    }
    uint64_t its_batch = r.header.seq - r.header.batch_index;
    if (prev == NULL || its_batch != batch || r.header.seq <= last_seq) {
      return corrupt(u, diag, s->id, off, "%s, but a later commit follows at byte %" PRIu64, tv_status_name(why),
                     y);
    }
  }
  if (tv_tail_classify(s->map, s->size, off) == TV_TAIL_DAMAGE) {
    return corrupt(u, diag, s->id, off, "%s in a record written in full at the end of the log: damage, not a torn write",
                   tv_status_name(why));
  }
  s->torn = 1;
  s->tail_end = tv_tail_data_end(s->map, s->size, off);
  s->tail_records = tv_tail_count_records(s->map, off, s->tail_end);
  return TV_OK;
}

static tv_status scan_segment(tv_ustore *u, seg_scan *s, uint64_t *last_seq, tv_store_diag *diag) {
  static _Thread_local pipeline pl; /* ~4 KiB: kept off the stack */
  pl.head = 0;
  pl.num = 0;
  uint64_t off = s->start;
  tv_record_header prev;
  int have_prev = 0;
  while (off < s->size) {
    tv_record r;
    size_t len;
    tv_status st = tv_record_decode(s->map + off, s->size - off, &r, &len);
    if (st != TV_OK) {
      TV_TRY(pipeline_flush(u, &pl, 0));
      return classify_damage(u, s, off, st, have_prev ? &prev : NULL, *last_seq, diag);
    }
    TV_TRY(check_record(u, s, off, &r, *last_seq, diag));
    TV_TRY(pipeline_push(u, &pl, &r, tv_loc_pack(s->id, off, (uint32_t)len)));
    *last_seq = r.header.seq;
    u->last_loc = tv_loc_pack(s->id, off, (uint32_t)len);
    prev = r.header;
    have_prev = 1;
    off += len;
  }
  s->end = off;
  return pipeline_flush(u, &pl, 0);
}

/* open_map opens segment |s->id|, publishes its fd and maps it. */
static tv_status open_map(tv_ustore *u, seg_scan *s, int *out_fd, tv_store_diag *diag) {
  char name[32];
  tv_segment_name(name, sizeof name, s->id);
  int fd = openat(u->dir_fd, name, O_RDWR | O_CLOEXEC);
  TV_ENSURE(fd >= 0, (tv_store_io_failed("open", name, errno), TV_E_IO));
  tv_ustore_set_seg_fd(u, s->id, fd);
  *out_fd = fd;
  struct stat sb;
  TV_ENSURE(fstat(fd, &sb) == 0, (tv_store_io_failed("fstat", name, errno), TV_E_IO));
  s->size = (uint64_t)sb.st_size;
  TV_ENSURE(s->size <= TV_STORE_SEGMENT_BYTES_MAX, corrupt(u, diag, s->id, 0, "segment larger than 2 GiB"));
  if (s->size > 0) {
    void *m = mmap(NULL, s->size, PROT_READ, MAP_PRIVATE, fd, 0);
    TV_ENSURE(m != MAP_FAILED, TV_E_NO_MEMORY);
    madvise(m, s->size, MADV_SEQUENTIAL);
    s->map = m;
  }
  return TV_OK;
}

/* count_puts walks record headers only (no CRC: a sizing estimate, not a
 * check) to learn how many tokens the index must hold. */
static size_t count_puts(const seg_scan *s) {
  size_t n = 0;
  uint64_t off = s->start;
  while (!s->skip && off + TV_STORE_RECORD_HEADER_LEN <= s->size) {
    const uint8_t *p = s->map + off;
    uint32_t plen = tv_le32(p + 8);
    if (tv_le32(p) != TV_RECORD_MAGIC || plen == 0 || plen > TV_STORE_RECORD_PAYLOAD_LEN_MAX) {
      break;
    }
    n += p[5] == TV_RECORD_PUT;
    off += (TV_STORE_RECORD_HEADER_LEN + plen + TV_STORE_RECORD_ALIGN - 1) & ~(uint64_t)(TV_STORE_RECORD_ALIGN - 1);
  }
  return n;
}

/* verify_covered checks the records in [0, |end|) of a segment the
 * checkpoint covers: CRC, lengths, header placement and sequence order,
 * the same checks replay makes, but nothing goes into the index (the
 * checkpoint's saving). Everything here was durable when the checkpoint
 * was written, so any bad byte is damage, never a torn tail. */
static tv_status verify_covered(tv_ustore *u, const seg_scan *s, uint64_t end, uint64_t *seq, tv_store_diag *diag) {
  uint64_t off = 0;
  while (off < end) {
    tv_record r;
    size_t len;
    tv_status st = tv_record_decode(s->map + off, end - off, &r, &len);
    if (st != TV_OK) {
      return corrupt(u, diag, s->id, off, "%s in a checkpointed part of the log", tv_status_name(st));
    }
    TV_TRY(check_record(u, s, off, &r, *seq, diag));
    *seq = r.header.seq;
    u->st_checked++;
    u->st_covered_data += r.header.type == TV_RECORD_PUT || r.header.type == TV_RECORD_REPUT ||
                          r.header.type == TV_RECORD_DELETE;
    off += len;
  }
  return TV_OK;
}

/* scan_mapped verifies what a checkpoint covers (|verify_seq| carries the
 * sequence order across those segments) and replays the rest. */
static tv_status scan_mapped(tv_ustore *u, seg_scan *s, uint64_t *verify_seq, uint64_t *last_seq,
                             tv_store_diag *diag) {
  if (s->size == 0) {
    return s->is_last ? TV_OK : corrupt(u, diag, s->id, 0, "empty sealed segment");
  }
  if (s->skip || s->start > 0) {
    TV_TRY(verify_covered(u, s, s->skip ? s->size : s->start, verify_seq, diag));
  }
  if (s->skip) {
    return TV_OK;
  }
  if (s->start > 0 && *verify_seq != *last_seq) {
    return corrupt(u, diag, s->id, s->start, "log before the checkpoint ends at sequence number %" PRIu64
                   ", not %" PRIu64, *verify_seq, *last_seq);
  }
  return scan_segment(u, s, last_seq, diag);
}

/* copy_range copies [from, to) of |in_fd| to |out_fd|. */
static tv_status copy_range(int in_fd, int out_fd, uint64_t from, uint64_t to) {
  uint8_t buf[1 << 14];
  while (from < to) {
    size_t want = to - from < sizeof buf ? (size_t)(to - from) : sizeof buf;
    ssize_t n = pread(in_fd, buf, want, (off_t)from);
    TV_ENSURE(n > 0, (tv_store_fd_failed("pread", in_fd, n < 0 ? errno : EIO), TV_E_IO));
    ssize_t w = write(out_fd, buf, (size_t)n);
    TV_ENSURE(w == n, tv_store_fd_failed("write", out_fd, w < 0 ? errno : ENOSPC));
    from += (uint64_t)n;
  }
  return TV_OK;
}

/* keep_tail copies the written bytes about to be cut to
 * "<segment>.tail-<ms>" (file and directory fsynced before the cut), so
 * a cut never destroys the only copy of anything, and reports it. */
static tv_status keep_tail(tv_ustore *u, const seg_scan *s, int fd) {
  tv_store_open_report *rep = &u->open_report;
  tv_segment_name(rep->tail_segment, sizeof rep->tail_segment, s->id);
  snprintf(rep->tail_kept_as, sizeof rep->tail_kept_as, "%s.tail-%" PRIu64, rep->tail_segment, tv_now_ms());
  int out = openat(u->dir_fd, rep->tail_kept_as, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  TV_ENSURE(out >= 0, tv_store_io_failed("create", rep->tail_kept_as, errno));
  tv_status st = copy_range(fd, out, s->end, s->tail_end);
  if (st == TV_OK && fsync(out) != 0) {
    st = tv_store_io_failed("fsync", rep->tail_kept_as, errno);
  }
  close(out);
  if (st == TV_OK && fsync(u->dir_fd) != 0) {
    st = (tv_store_fd_failed("fsync of the directory", u->dir_fd, errno), TV_E_IO);
  }
  if (st != TV_OK) {
    unlinkat(u->dir_fd, rep->tail_kept_as, 0);
    memset(rep, 0, sizeof *rep);
    return st;
  }
  rep->tail_offset = s->end;
  rep->tail_bytes = s->tail_end - s->end;
  rep->tail_records = s->tail_records;
  return TV_OK;
}

/* finish_tail cuts a torn tail and makes the last segment ready to append. */
static tv_status finish_tail(tv_ustore *u, const seg_scan *s, int fd, uint64_t last_seq) {
  u->active_seg = s->id;
  u->active_fd = fd;
  u->alloc_end = s->size;
  if (s->torn) {
    TV_TRY(keep_tail(u, s, fd));
    TV_ENSURE(ftruncate(fd, (off_t)s->end) == 0, (tv_store_fd_failed("ftruncate (torn tail cut)", fd, errno), TV_E_IO));
    TV_ENSURE(fsync(fd) == 0, (tv_store_fd_failed("fsync (torn tail cut)", fd, errno), TV_E_IO));
    u->st_torn_cut = s->size - s->end;
    u->alloc_end = s->end;
  }
  if (s->end == 0) { /* not even a header survived: start the segment again */
    TV_TRY(tv_segment_reinit(fd, s->id, last_seq + 1, u->segment_bytes, &u->write_off, &u->alloc_end));
    u->last_loc = tv_loc_pack(s->id, 0, (uint32_t)u->write_off);
    last_seq++;
  } else {
    u->write_off = s->end;
  }
  u->next_seq = last_seq + 1;
  return TV_OK;
}

static tv_status check_ids(tv_ustore *u, const uint32_t *ids, size_t num, tv_store_diag *diag) {
  for (size_t i = 0; i < num; i++) {
    if (ids[i] != ids[0] + i || ids[i] >= TV_STORE_SEGMENTS_MAX || ids[i] == 0) {
      snprintf(diag->path, sizeof diag->path, "%s", u->dir);
      snprintf(diag->message, sizeof diag->message, "segment %" PRIu64 " is missing or ids are out of range",
               (uint64_t)ids[0] + i);
      return TV_E_STORE_LAYOUT;
    }
  }
  return TV_OK;
}

/* ckpt_matches: the checkpoint's last record is in the log where it says,
 * with the sequence number it says (a log rewritten by repair or a
 * different store's file fails this). */
static int ckpt_matches(const seg_scan *s, const tv_ckpt_pos *pos) {
  uint64_t off = tv_loc_offset(pos->last_loc);
  if (tv_loc_segment(pos->last_loc) != pos->segment || off + tv_loc_len(pos->last_loc) != pos->offset ||
      pos->offset > s->size || s->map == NULL) {
    return 0;
  }
  tv_record r;
  size_t len;
  return tv_record_decode(s->map + off, s->size - off, &r, &len) == TV_OK && len == tv_loc_len(pos->last_loc) &&
         r.header.seq == pos->last_seq;
}

/* use_checkpoint loads a valid checkpoint, if any, in place of the empty
 * index, and marks the log it covers as not to be replayed. Anything
 * wrong with it: ignored, and the whole log is replayed. */
static void use_checkpoint(tv_ustore *u, seg_scan *scans, size_t num, uint64_t *last_seq) {
  tv_index *idx;
  tv_ckpt_pos pos;
  tv_store_open_report *rep = &u->open_report;
  tv_status st = tv_ckpt_load(u->dir_fd, 0, &idx, &pos);
  if (st != TV_OK) {
    rep->checkpoint = st == TV_E_STORE_NOT_FOUND ? TV_STORE_CKPT_NONE : TV_STORE_CKPT_DISCARDED;
    snprintf(rep->checkpoint_why, sizeof rep->checkpoint_why, "%s",
             st == TV_E_STORE_CORRUPT ? "unreadable (size, CRC or fields wrong)" : tv_status_name(st));
    return;
  }
  size_t at = num;
  for (size_t i = 0; i < num; i++) {
    at = scans[i].id == pos.segment ? i : at;
  }
  if (at == num || !ckpt_matches(&scans[at], &pos)) {
    tv_index_free(idx);
    rep->checkpoint = TV_STORE_CKPT_DISCARDED;
    snprintf(rep->checkpoint_why, sizeof rep->checkpoint_why,
             "it names segment %" PRIu32 " offset %" PRIu64 " seq %" PRIu64 ", not a record of this log", pos.segment,
             pos.offset, pos.last_seq);
    return;
  }
  rep->checkpoint = TV_STORE_CKPT_USED;
  tv_index_free(u->index);
  u->index = idx;
  for (size_t i = 0; i < at; i++) {
    scans[i].skip = 1;
  }
  scans[at].start = pos.offset;
  scans[at].end = pos.offset;
  *last_seq = pos.last_seq;
  u->last_loc = pos.last_loc;
  tv_index_stats ist;
  tv_index_get_stats(u->index, &ist);
  u->st_ckpt_tokens = ist.tokens;
}

/* replay_all maps every segment, sizes the index from a header-only pass
 * (so replay never rehashes), then checks and replays each in order. */
static tv_status replay_all(tv_ustore *u, seg_scan *scans, int *fds, size_t num, uint64_t *last_seq,
                            tv_store_diag *diag) {
  for (size_t i = 0; i < num; i++) {
    TV_TRY(open_map(u, &scans[i], &fds[i], diag));
  }
  use_checkpoint(u, scans, num, last_seq);
  size_t puts = (size_t)u->st_ckpt_tokens;
  for (size_t i = 0; i < num; i++) {
    puts += count_puts(&scans[i]);
  }
  TV_TRY(tv_index_reserve(u->index, puts));
  uint64_t verify_seq = 0;
  for (size_t i = 0; i < num; i++) {
    TV_TRY(scan_mapped(u, &scans[i], &verify_seq, last_seq, diag));
  }
  return TV_OK;
}

static tv_status recover_segments(tv_ustore *u, const uint32_t *ids, size_t num, tv_store_diag *diag) {
  TV_TRY(check_ids(u, ids, num, diag));
  seg_scan *scans = calloc(num, sizeof *scans);
  int *fds = calloc(num, sizeof *fds);
  if (scans == NULL || fds == NULL) {
    free(scans);
    free(fds);
    return TV_E_NO_MEMORY;
  }
  for (size_t i = 0; i < num; i++) {
    scans[i] = (seg_scan){.id = ids[i], .is_last = i + 1 == num};
    fds[i] = -1;
  }
  uint64_t last_seq = 0;
  tv_status st = replay_all(u, scans, fds, num, &last_seq, diag);
  for (size_t i = 0; i < num; i++) {
    if (scans[i].map != NULL) {
      munmap((void *)(uintptr_t)scans[i].map, scans[i].size);
    }
  }
  if (st == TV_OK) { /* after unmapping: the tail may be cut */
    st = finish_tail(u, &scans[num - 1], fds[num - 1], last_seq);
  }
  free(scans);
  free(fds);
  return st;
}

tv_status tv_ustore_recover(tv_ustore *u, tv_store_diag *diag) {
  uint32_t *ids = NULL;
  size_t num = 0;
  /* A compaction that committed its manifest is finished first, one that
   * did not is discarded: either way the segments below are one log. */
  TV_TRY(tv_compact_resume(u->dir_fd, u->dir, diag));
  TV_TRY(tv_segment_list(u->dir, &ids, &num));
  tv_status st;
  if (num == 0) {
    u->first_seg = 1;
    u->active_seg = 1;
    st = tv_segment_create(u->dir_fd, 1, 1, u->segment_bytes, &u->active_fd, &u->write_off, &u->alloc_end);
    if (st == TV_OK) {
      tv_ustore_set_seg_fd(u, 1, u->active_fd);
      u->next_seq = 2;
      u->last_loc = tv_loc_pack(1, 0, (uint32_t)u->write_off);
    }
  } else {
    u->first_seg = ids[0];
    st = recover_segments(u, ids, num, diag);
  }
  free(ids);
  TV_TRY(st);
  atomic_store(&u->durable, (uint64_t)u->active_seg << 32 | u->write_off);
  return TV_OK;
}
