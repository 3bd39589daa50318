/* Repair of mid-log damage. Recovery stops at damage before the last
 * commit because cutting there would silently drop acknowledged records.
 * Repair is the operator's explicit decision to go on without the bad
 * bytes: it keeps every record that still decodes (before and after the
 * damage), rewrites only the damaged segments, keeps the originals under
 * another name, and says exactly which sequence numbers were lost.
 *
 * Sequence numbers are dense (every record, segment headers included,
 * takes the next one; a failed batch takes none), so the records lost in
 * a damaged stretch are the sequence numbers between the last intact
 * record before it and the first intact one after it. */
#include "vault/store/repair.h"

#include "vault/store/compact_manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/checkpoint.h"
#include "vault/store/cursor.h"
#include "vault/store/record.h"
#include "vault/store/segment.h"
#include "vault/store/tail_rule.h"

#define WRITE_BUF_BYTES (1u << 20)

typedef struct good_rec {
  uint64_t off;
  uint32_t len;
} good_rec;

typedef struct seg_walk {
  uint32_t id;
  const uint8_t *map;
  uint64_t size;
  int is_last;
  good_rec *recs; /* intact records in order */
  size_t num, cap;
  int damaged;    /* must be rewritten */
  int header_bad; /* header must be rebuilt, with seq |header_seq| */
  uint64_t header_seq;
} seg_walk;

typedef struct repair_state {
  uint64_t last_seq;
  uint64_t end_records; /* records found in damage that runs to the end */
  int gap_open;
  tv_store_lost_range gap;
  tv_store_repair_report *rep;
} repair_state;

static tv_status push_good(seg_walk *w, uint64_t off, size_t len) {
  if (w->num == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 1024;
    good_rec *grown = realloc(w->recs, cap * sizeof *grown);
    TV_ENSURE(grown != NULL, TV_E_NO_MEMORY);
    w->recs = grown;
    w->cap = cap;
  }
  w->recs[w->num++] = (good_rec){off, (uint32_t)len};
  return TV_OK;
}

/* intact_at: a record decodes at |off| and fits the log where it is. */
static int intact_at(const seg_walk *w, uint64_t off, uint64_t last_seq, tv_record *r, size_t *len) {
  if (tv_record_decode(w->map + off, w->size - off, r, len) != TV_OK || r->header.seq <= last_seq) {
    return 0;
  }
  int is_header = r->header.type == TV_RECORD_SEGMENT_HEADER;
  return off == 0 ? is_header && r->body.segment.segment_id == w->id : !is_header;
}

/* next_intact finds the first aligned offset after |off| where a record
 * follows the log, or returns w->size. */
static uint64_t next_intact(const seg_walk *w, uint64_t off, uint64_t last_seq) {
  for (uint64_t y = off + TV_STORE_RECORD_ALIGN; y + TV_STORE_RECORD_HEADER_LEN <= w->size;
       y += TV_STORE_RECORD_ALIGN) {
    tv_record r;
    size_t len;
    if (tv_le32(w->map + y) == TV_RECORD_MAGIC && intact_at(w, y, last_seq, &r, &len)) {
      return y;
    }
  }
  return w->size;
}

/* torn_tail mirrors recovery: in the last segment, bad bytes followed by
 * zeros or only by records of their own batch, in a record the tail rule
 * (tail_rule.h) shows was never written in full, are an unacknowledged
 * torn write, not damage. */
static int torn_tail(const seg_walk *w, uint64_t off, const tv_record_header *prev) {
  if (tv_record_is_zero(w->map + off, w->size - off)) {
    return 1;
  }
  uint64_t batch = 0;
  if (prev != NULL) {
    batch = (prev->flags & TV_RECORD_FLAG_COMMIT) ? prev->seq + 1 : prev->seq - prev->batch_index;
  }
  for (uint64_t y = off + TV_STORE_RECORD_ALIGN; y + TV_STORE_RECORD_HEADER_LEN <= w->size;
       y += TV_STORE_RECORD_ALIGN) {
    tv_record r;
    size_t len;
    if (tv_le32(w->map + y) == TV_RECORD_MAGIC && tv_record_decode(w->map + y, w->size - y, &r, &len) == TV_OK &&
        (prev == NULL || r.header.seq - r.header.batch_index != batch || r.header.seq <= prev->seq)) {
      return 0;
    }
  }
  return tv_tail_classify(w->map, w->size, off) == TV_TAIL_TORN;
}

static void open_gap(repair_state *rs, const seg_walk *w, uint64_t off) {
  if (!rs->gap_open) {
    rs->gap_open = 1;
    rs->gap = (tv_store_lost_range){.first_seq = rs->last_seq + 1, .segment_id = w->id, .offset = off};
  }
}

/* close_gap ends a damaged stretch at the intact record with |seq|. If
 * it is the first intact record of a segment whose header was lost, the
 * header held the number just before it and is rebuilt with it. */
static tv_status close_gap(repair_state *rs, seg_walk *w, uint64_t seq) {
  tv_store_repair_report *rep = rs->rep;
  rs->gap_open = 0;
  uint64_t last = seq - 1;
  if (w->header_bad && w->header_seq == 0) {
    TV_ENSURE(last >= rs->gap.first_seq, TV_E_STORE_CORRUPT); /* no number left for it */
    w->header_seq = last--;
  }
  rs->gap.last_seq = last;
  rep->records_lost += last + 1 - rs->gap.first_seq;
  rep->bytes_lost += rs->gap.bytes;
  if (rep->num_ranges < TV_STORE_REPAIR_RANGES_MAX) {
    rep->ranges[rep->num_ranges++] = rs->gap;
  }
  rep->ranges_total++;
  return TV_OK;
}

static tv_status walk_segment(seg_walk *w, repair_state *rs) {
  uint64_t off = 0;
  tv_record_header prev;
  int have_prev = 0;
  while (off < w->size) {
    tv_record r;
    size_t len;
    if (intact_at(w, off, rs->last_seq, &r, &len)) {
      if (rs->gap_open) {
        TV_TRY(close_gap(rs, w, r.header.seq));
      }
      TV_TRY(push_good(w, off, len));
      rs->rep->records_kept++;
      rs->last_seq = r.header.seq;
      prev = r.header;
      have_prev = 1;
      off += len;
      continue;
    }
    if (w->is_last && !rs->gap_open && torn_tail(w, off, have_prev ? &prev : NULL)) {
      rs->rep->torn_bytes += tv_record_is_zero(w->map + off, w->size - off) ? 0 : w->size - off;
      break;
    }
    w->damaged = 1;
    w->header_bad |= off == 0;
    open_gap(rs, w, off);
    uint64_t next = next_intact(w, off, rs->last_seq);
    if (next == w->size && w->is_last) {
      /* Damage up to the end of the log (e.g. a complete last record that
       * fails its CRC): no later record numbers the loss, so count the
       * record starts in the written bytes; past them is preallocation. */
      uint64_t end = tv_tail_data_end(w->map, w->size, off);
      rs->gap.bytes += end - off;
      rs->end_records = tv_tail_count_records(w->map, off, end);
      break;
    }
    rs->gap.bytes += next - off;
    off = next;
  }
  return TV_OK;
}

static tv_status write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR) {
      continue;
    }
    TV_ENSURE(k > 0, tv_store_fd_failed("write", fd, k < 0 ? errno : EIO));
    p += k;
    n -= (size_t)k;
  }
  return TV_OK;
}

/* write_header encodes a rebuilt segment header into |buf|. */
static tv_status write_header(const seg_walk *w, uint8_t *buf, size_t *len) {
  tv_record r;
  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_SEGMENT_HEADER;
  r.header.flags = TV_RECORD_FLAG_COMMIT;
  r.header.seq = w->header_seq;
  r.body.segment.segment_id = w->id;
  r.body.segment.created_ms = tv_now_ms();
  r.body.segment.segment_bytes = TV_STORE_SEGMENT_BYTES_DEFAULT;
  return tv_record_encode(&r, buf, WRITE_BUF_BYTES, len);
}

/* write_records writes the (rebuilt) header and every intact record. */
static tv_status write_records(const seg_walk *w, int fd) {
  uint8_t *buf = malloc(WRITE_BUF_BYTES);
  TV_ENSURE(buf != NULL, TV_E_NO_MEMORY);
  size_t used = 0;
  tv_status st = w->header_bad ? write_header(w, buf, &used) : TV_OK;
  for (size_t i = 0; st == TV_OK && i < w->num; i++) {
    if (used + w->recs[i].len > WRITE_BUF_BYTES) {
      st = write_all(fd, buf, used);
      used = 0;
    }
    memcpy(buf + used, w->map + w->recs[i].off, w->recs[i].len);
    used += w->recs[i].len;
  }
  if (st == TV_OK) {
    st = write_all(fd, buf, used);
  }
  free(buf);
  if (st == TV_OK && fsync(fd) != 0) {
    st = tv_store_fd_failed("fsync", fd, errno);
  }
  return st;
}

/* rewrite replaces segment |w| by its intact records; the original stays
 * as "<name>.damaged-<ms>" (a hard link made before the swap, so at every
 * instant one of the two names holds each byte). */
static tv_status rewrite(int dir_fd, const char *dir, const seg_walk *w, tv_store_repair_report *rep) {
  char name[32], tmp[48], aside[64];
  tv_segment_name(name, sizeof name, w->id);
  snprintf(tmp, sizeof tmp, "%s.repair", name);
  snprintf(aside, sizeof aside, "%s.damaged-%" PRIu64, name, tv_now_ms());
  int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  TV_ENSURE(fd >= 0, tv_store_io_failed("create", tmp, errno));
  tv_status st = write_records(w, fd);
  close(fd);
  if (st == TV_OK && linkat(dir_fd, name, dir_fd, aside, 0) != 0) {
    st = (tv_store_io_failed("link (keeping the damaged original)", name, errno), TV_E_IO);
  }
  if (st == TV_OK && renameat(dir_fd, tmp, dir_fd, name) != 0) {
    st = (tv_store_io_failed("rename", tmp, errno), TV_E_IO);
  }
  if (st == TV_OK && fsync(dir_fd) != 0) {
    st = (tv_store_fd_failed("fsync of the directory", dir_fd, errno), TV_E_IO);
  }
  if (st != TV_OK) {
    unlinkat(dir_fd, tmp, 0);
    return st;
  }
  /* Locations in the rewritten segment moved: an index checkpoint of the
   * old layout must not be loaded (open would also refuse it). */
  unlinkat(dir_fd, TV_CHECKPOINT_NAME, 0);
  if (rep->segments_rewritten++ == 0) {
    snprintf(rep->first_moved, sizeof rep->first_moved, "%.4000s/%.63s", dir, aside);
  }
  return TV_OK;
}

/* repair_one maps, walks and if needed rewrites one segment. */
static tv_status repair_one(int dir_fd, const char *dir, seg_walk *w, repair_state *rs) {
  char name[32];
  tv_segment_name(name, sizeof name, w->id);
  int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  TV_ENSURE(fd >= 0, (tv_store_io_failed("open", name, errno), TV_E_IO));
  struct stat sb;
  tv_status st = fstat(fd, &sb) == 0 ? TV_OK : TV_E_IO;
  w->size = (uint64_t)sb.st_size;
  void *m = MAP_FAILED;
  if (st == TV_OK && w->size > 0) {
    m = mmap(NULL, w->size, PROT_READ, MAP_PRIVATE, fd, 0);
    st = m != MAP_FAILED ? TV_OK : TV_E_NO_MEMORY;
  }
  close(fd);
  if (st != TV_OK || w->size == 0) {
    return st; /* an empty last segment is for open to start again */
  }
  w->map = m;
  st = walk_segment(w, rs);
  if (st == TV_OK && w->header_bad && w->header_seq == 0) { /* nothing intact in it */
    w->header_seq = ++rs->last_seq;
    rs->gap.first_seq = rs->last_seq + 1;
  }
  if (st == TV_OK && w->damaged) {
    st = rewrite(dir_fd, dir, w, rs->rep);
  }
  munmap(m, w->size);
  rs->rep->segments_checked++;
  return st;
}

static tv_status repair_all(int dir_fd, const char *dir, const uint32_t *ids, size_t num,
                            tv_store_repair_report *rep) {
  repair_state rs;
  memset(&rs, 0, sizeof rs);
  rs.rep = rep;
  for (size_t i = 0; i < num; i++) {
    TV_ENSURE(ids[i] == ids[0] + i && ids[i] != 0 && ids[i] < TV_STORE_SEGMENTS_MAX, TV_E_STORE_LAYOUT);
  }
  tv_status st = TV_OK;
  for (size_t i = 0; st == TV_OK && i < num; i++) {
    seg_walk w = {.id = ids[i], .is_last = i + 1 == num};
    st = repair_one(dir_fd, dir, &w, &rs);
    free(w.recs);
  }
  if (st == TV_OK && rs.gap_open) { /* damage up to the end: counted by record starts */
    rs.gap.last_seq = rs.gap.first_seq - 1 + rs.end_records;
    rep->records_lost += rs.end_records;
    rep->bytes_lost += rs.gap.bytes;
    if (rep->num_ranges < TV_STORE_REPAIR_RANGES_MAX) {
      rep->ranges[rep->num_ranges++] = rs.gap;
    }
    rep->ranges_total++;
  }
  return st;
}

tv_status tv_store_repair(const char *dir, tv_store_repair_report *report) {
  TV_ENSURE(dir != NULL && report != NULL, TV_E_INVALID_ARGUMENT);
  memset(report, 0, sizeof *report);
  tv_store_io_error_clear();
  int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  TV_ENSURE(dir_fd >= 0, (tv_store_io_failed("open", dir, errno), TV_E_IO));
  /* The same lock as open: repairing a live store would race its writer. */
  int lock_fd = openat(dir_fd, "LOCK", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  tv_status st = lock_fd >= 0 ? TV_OK : (tv_store_io_failed("create", "LOCK", errno), TV_E_IO);
  if (st == TV_OK && flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    st = errno == EWOULDBLOCK ? TV_E_STORE_LOCKED : TV_E_IO;
  }
  uint32_t *ids = NULL;
  size_t num = 0;
  tv_store_diag diag; /* a bad COMPACT stops repair too: open names it */
  if (st == TV_OK) { /* first the one log a committed compaction left */
    st = tv_compact_resume(dir_fd, dir, &diag);
  }
  if (st == TV_OK) {
    st = tv_segment_list(dir, &ids, &num);
  }
  if (st == TV_OK) {
    st = repair_all(dir_fd, dir, ids, num, report);
  }
  free(ids);
  if (lock_fd >= 0) {
    close(lock_fd);
  }
  close(dir_fd);
  return st;
}
