/* Group commit: one writer thread drains the producers' queue into a
 * batch, writes it with one write SQE and a linked fdatasync in a single
 * submission, and only then publishes the records in the index and hands
 * the batch to a completion thread that tells each producer (so waking
 * hundreds of producers overlaps the next fdatasync). While a batch is on
 * its way to the disk the next one accumulates, so the number of records per fsync grows with the
 * load instead of producers waiting on each other's fsyncs.
 *
 * One batch is in flight at a time; recovery relies on it (only the last
 * batch can be torn). Operations on the same token never share a batch:
 * the second is carried to the next one, so each batch's checks (exists /
 * not found) see the effect of every earlier operation. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vault/store/checkpoint.h"
#include "vault/store/segment.h"
#include "vault/store/ustore.h"
#include "vault/util/clock.h"

/* WRITER_SYNCS is 1: every batch is fdatasynced before it is
 * acknowledged. Only tv_store_unsafe_nosync_for_tests (vault/store/
 * CMakeLists.txt), a library linked by nothing but the power-loss
 * harness's negative control, is compiled with the fdatasync left out, to
 * prove that harness notices acknowledged records lost on power loss. No
 * runtime setting can turn it off. */
#ifdef TV_TEST_UNSAFE_SKIP_FDATASYNC
#define WRITER_SYNCS 0
#else
#define WRITER_SYNCS 1
#endif

/* Collected ops of one batch. */
typedef struct batch {
  size_t num;
  size_t bytes;
  tv_store_op *deferred_head;
  tv_store_op *deferred_tail;
} batch;

static void list_append(tv_store_op **head, tv_store_op **tail, tv_store_op *op) {
  op->priv.next = NULL;
  if (*tail != NULL) {
    (*tail)->priv.next = op;
  } else {
    *head = op;
  }
  *tail = op;
}

/* next_op takes carried-over ops first, so per-token order is kept. */
static tv_store_op *next_op(tv_ustore *u) {
  tv_store_op *op = u->carry_head;
  if (op != NULL) {
    u->carry_head = op->priv.next;
    if (u->carry_head == NULL) {
      u->carry_tail = NULL;
    }
    return op;
  }
  return tv_opqueue_pop(&u->queue);
}

/* conflict_add returns 0 if |hash| is already in this batch. Slots from
 * earlier batches are recognised by their generation, so starting a batch
 * costs nothing. */
static int conflict_add(tv_ustore *u, uint64_t hash) {
  size_t i = (size_t)(hash % TV_CONFLICT_SLOTS);
  while (u->conflict_gen[i] == u->batch_gen) {
    if (u->conflicts[i] == hash) {
      return 0;
    }
    i = (i + 1) % TV_CONFLICT_SLOTS;
  }
  u->conflicts[i] = hash;
  u->conflict_gen[i] = u->batch_gen;
  return 1;
}

static void conflict_reset(tv_ustore *u) {
  if (++u->batch_gen == 0) { /* wrapped: old generations could match again */
    memset(u->conflict_gen, 0, TV_CONFLICT_SLOTS * sizeof *u->conflict_gen);
    u->batch_gen = 1;
  }
}

static void complete(tv_store_op *op, tv_status st) { op->done(op, st); }

/* precheck decides if |op| may be written: a put needs the token absent,
 * a re-put or delete needs it live (and learns where it is). */
static tv_status precheck(tv_ustore *u, tv_store_op *op) {
  const tv_record_put *p = &op->put;
  uint64_t old_fp = 0;
  TV_TRY(tv_ustore_find_live(u, op->priv.hash, p->ns, p->ns_len, p->token, p->token_len, &op->priv.old_loc,
                             &old_fp));
  op->priv.old_fp_hash = old_fp;
  if (op->kind == TV_STORE_OP_PUT) {
    TV_ENSURE(op->priv.old_loc == 0, TV_E_STORE_TOKEN_EXISTS);
  } else {
    TV_ENSURE(op->priv.old_loc != 0, TV_E_STORE_NOT_FOUND);
  }
  return TV_OK;
}

static tv_status encode_op(tv_ustore *u, tv_store_op *op, uint32_t batch_index, uint8_t *out, size_t out_cap,
                           size_t *out_len) {
  tv_record r;
  memset(&r, 0, sizeof r);
  r.header.seq = u->next_seq + batch_index;
  r.header.batch_index = batch_index;
  if (op->kind == TV_STORE_OP_DELETE) {
    r.header.type = TV_RECORD_DELETE;
    r.body.del.ns = op->put.ns;
    r.body.del.ns_len = op->put.ns_len;
    r.body.del.token = op->put.token;
    r.body.del.token_len = op->put.token_len;
    r.body.del.deleted_ms = op->put.created_ms;
  } else {
    r.header.type = op->kind == TV_STORE_OP_PUT ? TV_RECORD_PUT : TV_RECORD_REPUT;
    r.body.put = op->put;
  }
  op->seq = r.header.seq;
  return tv_record_encode(&r, out, out_cap, out_len);
}

/* add_op places |op| in the batch, defers it, or completes it with an
 * error. Returns 0 when the batch is full (|op| deferred). */
static int add_op(tv_ustore *u, batch *b, tv_store_op *op, size_t room) {
  if (!conflict_add(u, op->priv.hash)) {
    list_append(&b->deferred_head, &b->deferred_tail, op);
    return 1;
  }
  tv_status st = precheck(u, op);
  if (st != TV_OK) {
    complete(op, st);
    return 1;
  }
  size_t len = 0;
  st = encode_op(u, op, (uint32_t)b->num, u->batch_buf + b->bytes, room - b->bytes, &len);
  if (st == TV_E_INVALID_ARGUMENT) { /* no room left: next batch */
    list_append(&b->deferred_head, &b->deferred_tail, op);
    return 0;
  }
  if (st != TV_OK) {
    complete(op, st);
    return 1;
  }
  op->loc = tv_loc_pack(u->active_seg, u->write_off + b->bytes, (uint32_t)len);
  u->batch_ops[b->num++] = op;
  b->bytes += len;
  return 1;
}

/* Ops are looked at this many behind being taken, after a prefetch of
 * their index buckets: checking and indexing are bound by cache misses. */
#define COLLECT_LOOKAHEAD 8u

/* collect fills a batch of at most |room| bytes. Deferred ops go back in
 * front of whatever carried ops were not reached, keeping their order. */
static void collect(tv_ustore *u, batch *b, size_t room) {
  conflict_reset(u);
  memset(b, 0, sizeof *b);
  tv_store_op *ahead[COLLECT_LOOKAHEAD];
  size_t head = 0, num = 0, taken = 0;
  int full = 0;
  for (;;) {
    tv_store_op *op = NULL;
    if (!full && taken < TV_STORE_BATCH_RECORDS_MAX && (op = next_op(u)) != NULL) {
      taken++;
      tv_index_prefetch(u->index, op->priv.hash, op->kind == TV_STORE_OP_DELETE ? 0 : op->priv.fp_hash);
      ahead[(head + num++) % COLLECT_LOOKAHEAD] = op;
      if (num < COLLECT_LOOKAHEAD) {
        continue;
      }
    }
    if (num == 0) {
      break;
    }
    tv_store_op *oldest = ahead[head];
    head = (head + 1) % COLLECT_LOOKAHEAD;
    num--;
    if (full) { /* batch closed: back to the carry list, in order */
      list_append(&b->deferred_head, &b->deferred_tail, oldest);
    } else if (!add_op(u, b, oldest, room)) {
      full = 1;
    }
  }
  if (b->deferred_head != NULL) {
    b->deferred_tail->priv.next = u->carry_head;
    if (u->carry_head == NULL) {
      u->carry_tail = b->deferred_tail;
    }
    u->carry_head = b->deferred_head;
  }
}

static void fail_batch(tv_ustore *u, batch *b, tv_status st) {
  atomic_fetch_add(&u->st_failed, 1);
  for (size_t i = 0; i < b->num; i++) {
    complete(u->batch_ops[i], st);
  }
}

/* roll seals the active segment and starts the next. The old one is
 * sealed first: once the new file exists, recovery may treat the old as
 * final. */
static tv_status roll(tv_ustore *u) {
  TV_TRY(tv_segment_seal(u->active_fd, u->write_off));
  u->alloc_end = u->write_off;
  TV_ENSURE(u->active_seg + 1 < TV_STORE_SEGMENTS_MAX, TV_E_STORE_NO_SPACE);
  int fd;
  uint64_t end, alloc_end;
  TV_TRY(tv_segment_create(u->dir_fd, u->active_seg + 1, u->next_seq, u->segment_bytes, &fd, &end, &alloc_end));
  tv_ustore_set_seg_fd(u, u->active_seg + 1, fd);
  u->active_seg++;
  u->active_fd = fd;
  u->write_off = end;
  u->alloc_end = alloc_end;
  u->next_seq++;
  u->last_loc = tv_loc_pack(u->active_seg, 0, (uint32_t)end);
  return TV_OK;
}

/* uring_write_sync writes |len| bytes at |off| and fdatasyncs, linked, in
 * one submission. Returns 0 or -errno (a short write is -EIO), with
 * |*out_op| naming the step that failed. */
static int uring_write_sync(struct io_uring *ring, int fd, const uint8_t *buf, size_t len, uint64_t off,
                            int sync, int fixed, const char **out_op) {
  *out_op = "io_uring submission";
  /* The ring is idle between batches, so its SQ always has room. */
  struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
  if (sqe == NULL) {
    return -EBUSY;
  }
  if (fixed) {
    io_uring_prep_write_fixed(sqe, fd, buf, (unsigned)len, off, 0);
  } else {
    io_uring_prep_write(sqe, fd, buf, (unsigned)len, off);
  }
  sqe->user_data = 1;
  if (sync) {
    sqe->flags |= IOSQE_IO_LINK;
    struct io_uring_sqe *fsq = io_uring_get_sqe(ring);
    if (fsq == NULL) {
      abort(); /* depth >= 2 and one batch in flight: cannot happen */
    }
    io_uring_prep_fsync(fsq, fd, IORING_FSYNC_DATASYNC);
    fsq->user_data = 2;
  }
  unsigned want = sync ? 2u : 1u;
  int ret;
  do {
    ret = io_uring_submit_and_wait(ring, want);
  } while (ret == -EINTR);
  if (ret < 0) {
    return ret;
  }
  int err = 0;
  for (unsigned i = 0; i < want; i++) {
    struct io_uring_cqe *cqe;
    do {
      ret = io_uring_wait_cqe(ring, &cqe);
    } while (ret == -EINTR);
    if (ret < 0) {
      return ret;
    }
    int res = cqe->res;
    int is_write = cqe->user_data == 1;
    io_uring_cqe_seen(ring, cqe);
    if (err == 0 && is_write && res >= 0 && (size_t)res != len) {
      err = -EIO;
      *out_op = "short write";
    } else if (err == 0 && res < 0) {
      err = res;
      *out_op = is_write ? "write" : "fdatasync";
    }
  }
  return err;
}

/* direct_prepare opens the active segment for O_DIRECT and makes sure
 * dbuf starts with the block the log ends in (a direct write rewrites it
 * whole). Returns 0 or -errno. */
static int direct_prepare(tv_ustore *u) {
  if (u->direct_fd < 0 || u->direct_seg != u->active_seg) {
    if (u->direct_fd >= 0) {
      close(u->direct_fd);
    }
    char name[32];
    tv_segment_name(name, sizeof name, u->active_seg);
    u->direct_fd = openat(u->dir_fd, name, O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (u->direct_fd < 0) {
      u->direct = errno == EINVAL ? 0 : u->direct;
      return -errno;
    }
    u->direct_seg = u->active_seg;
    u->dbuf_base = UINT64_MAX;
  }
  uint64_t base = u->write_off & ~(uint64_t)(TV_STORE_DIRECT_BLOCK - 1);
  if (u->dbuf_base != base) {
    size_t head = (size_t)(u->write_off - base);
    if (head > 0 && pread(u->active_fd, u->dbuf, head, (off_t)base) != (ssize_t)head) {
      return -EIO;
    }
    u->dbuf_base = base;
  }
  return 0;
}

/* direct_write_sync writes the batch as whole blocks from dbuf (the tail
 * block first, zeros after the batch: recovery reads zeros as the end of
 * the log), linked to an fdatasync. */
static int direct_write_sync(tv_ustore *u, size_t bytes, const char **out_op) {
  *out_op = "O_DIRECT open or read of the tail block";
  int err = direct_prepare(u);
  if (err != 0) {
    return err;
  }
  size_t head = (size_t)(u->write_off - u->dbuf_base);
  memcpy(u->dbuf + head, u->batch_buf, bytes);
  size_t end = head + bytes;
  size_t total = (end + TV_STORE_DIRECT_BLOCK - 1) & ~(size_t)(TV_STORE_DIRECT_BLOCK - 1);
  memset(u->dbuf + end, 0, total - end);
  err = uring_write_sync(&u->wring, u->direct_fd, u->dbuf, total, u->dbuf_base, WRITER_SYNCS, u->dbuf_registered,
                         out_op);
  if (err != 0) {
    u->dbuf_base = UINT64_MAX;
    return err;
  }
  uint64_t new_end = u->write_off + bytes;
  uint64_t new_base = new_end & ~(uint64_t)(TV_STORE_DIRECT_BLOCK - 1);
  memmove(u->dbuf, u->dbuf + (new_base - u->dbuf_base), (size_t)(new_end - new_base));
  u->dbuf_base = new_base;
  return 0;
}

/* fsync_stats_add counts one durable batch's write + fdatasync time.
 * Only the writer thread adds, so load-then-store of the max is safe. */
static void fsync_stats_add(tv_ustore *u, uint64_t us) {
  atomic_fetch_add(&u->st_fsync_buckets[tv_latency_bucket(us)], 1);
  atomic_fetch_add(&u->st_fsync_us_sum, us);
  if (us > atomic_load(&u->st_fsync_us_max)) {
    atomic_store(&u->st_fsync_us_max, us);
  }
  atomic_fetch_add(&u->st_fsyncs, 1);
}

/* log_write_failure tells the operator which call failed and why (a
 * producer only sees NO_SPACE or WRITE_FAILED). Once per distinct message
 * until a batch succeeds again: a full disk must not flood the log. */
static void log_write_failure(tv_ustore *u) {
  const char *msg = tv_store_io_error();
  if (msg[0] == '\0' || strcmp(msg, u->logged_failure) == 0) {
    return;
  }
  snprintf(u->logged_failure, sizeof u->logged_failure, "%s", msg);
  fprintf(stderr, "tokenvault store: %s\n", msg);
}

/* write_batch makes the batch durable, or undoes any partial write so the
 * log ends at the last acknowledged record again. */
static tv_status write_batch(tv_ustore *u, batch *b) {
  tv_store_op *last = u->batch_ops[b->num - 1];
  tv_record_set_commit(u->batch_buf + (tv_loc_offset(last->loc) - u->write_off), tv_loc_len(last->loc));
  TV_TRY(tv_segment_prealloc(u->active_fd, u->write_off + b->bytes, u->segment_bytes, &u->alloc_end));
  int err = u->fault != NULL ? u->fault(u->fault_ctx, u->batch_no) : 0;
  u->batch_no++;
  const uint64_t sync_start = tv_mono_us();
  const char *op = "injected fault";
  if (err < 0) {
    const char *ignored;
    uring_write_sync(&u->wring, u->active_fd, u->batch_buf, b->bytes / 2 & ~7ul, u->write_off, 0, 0, &ignored);
    u->dbuf_base = UINT64_MAX;
  } else if (u->direct && (err = direct_write_sync(u, b->bytes, &op)) != -EINVAL) {
    /* done direct; EINVAL: the filesystem refuses O_DIRECT (tmpfs), so
     * direct_prepare turned it off and the batch goes buffered below */
  } else {
    err = uring_write_sync(&u->wring, u->active_fd, u->batch_buf, b->bytes, u->write_off, WRITER_SYNCS, 0, &op);
  }
  if (err == 0) {
    fsync_stats_add(u, tv_mono_us() - sync_start);
    u->logged_failure[0] = '\0';
    return TV_OK;
  }
  tv_status st = tv_store_fd_failed(op, u->active_fd, -err);
  /* Cut whatever reached the file; if even that fails the log's end is
   * unknown, and only a reopen (recovery) can establish it. */
  if (ftruncate(u->active_fd, (off_t)u->write_off) != 0 || fsync(u->active_fd) != 0) {
    u->failed = TV_E_STORE_WRITE_FAILED;
    log_write_failure(u); /* the batch's own failure first */
    tv_store_fd_failed("ftruncate+fsync undoing a failed batch", u->active_fd, errno);
  }
  u->alloc_end = u->write_off;
  return st;
}

static void apply_op(tv_ustore *u, const tv_store_op *op) {
  tv_status st = TV_OK;
  const uint64_t h = op->priv.hash;
  switch (op->kind) {
    case TV_STORE_OP_PUT:
      st = tv_index_token_insert(u->index, h, op->loc);
      if (st == TV_OK) {
        st = tv_index_fp_insert(u->index, op->priv.fp_hash, op->loc);
      }
      break;
    case TV_STORE_OP_REPUT:
      tv_index_token_replace(u->index, h, op->priv.old_loc, op->loc);
      tv_index_fp_remove(u->index, op->priv.old_fp_hash, op->priv.old_loc);
      st = tv_index_fp_insert(u->index, op->priv.fp_hash, op->loc);
      break;
    case TV_STORE_OP_DELETE:
      tv_index_token_remove(u->index, h, op->priv.old_loc);
      tv_index_fp_remove(u->index, op->priv.old_fp_hash, op->priv.old_loc);
      break;
  }
  if (st != TV_OK) {
    /* The record is durable but cannot be indexed: carrying on would
     * answer "not found" for an acknowledged token. Recovery rebuilds. */
    fprintf(stderr, "tokenvault store: index out of memory after a durable write; aborting\n");
    abort();
  }
}

static void publish_batch(tv_ustore *u, batch *b) {
  u->write_off += b->bytes;
  u->next_seq += b->num;
  u->last_loc = u->batch_ops[b->num - 1]->loc;
  u->ckpt_since += b->num;
  tv_index_write_begin(u->index);
  for (size_t i = 0; i < b->num; i++) {
    /* The buckets were loaded at collect time but an fsync has passed. */
    if (i + COLLECT_LOOKAHEAD < b->num) {
      const tv_store_op *later = u->batch_ops[i + COLLECT_LOOKAHEAD];
      tv_index_prefetch(u->index, later->priv.hash, later->kind == TV_STORE_OP_DELETE ? 0 : later->priv.fp_hash);
    }
    apply_op(u, u->batch_ops[i]);
  }
  tv_index_write_end(u->index);
  atomic_store(&u->durable, (uint64_t)u->active_seg << 32 | u->write_off);
  atomic_fetch_add(&u->st_batches, 1);
  atomic_fetch_add(&u->st_records, b->num);
  atomic_fetch_add(&u->st_bytes, b->bytes);
  /* Hand the acknowledgements to the completer thread, in order. */
  for (size_t i = 0; i + 1 < b->num; i++) {
    u->batch_ops[i]->priv.next = u->batch_ops[i + 1];
  }
  u->batch_ops[b->num - 1]->priv.next = NULL;
  pthread_mutex_lock(&u->done_mu);
  if (u->done_tail != NULL) {
    u->done_tail->priv.next = u->batch_ops[0];
  } else {
    u->done_head = u->batch_ops[0];
  }
  u->done_tail = u->batch_ops[b->num - 1];
  pthread_cond_signal(&u->done_cv);
  pthread_mutex_unlock(&u->done_mu);
}

static void *completer_main(void *arg) {
  tv_ustore *u = arg;
  pthread_mutex_lock(&u->done_mu);
  for (;;) {
    while (u->done_head == NULL && !u->completer_stop) {
      pthread_cond_wait(&u->done_cv, &u->done_mu);
    }
    tv_store_op *op = u->done_head;
    if (op == NULL) {
      break; /* stopping and nothing left */
    }
    u->done_head = NULL;
    u->done_tail = NULL;
    pthread_mutex_unlock(&u->done_mu);
    while (op != NULL) {
      tv_store_op *next = op->priv.next; /* |op| may be reused by its callback */
      complete(op, TV_OK);
      op = next;
    }
    pthread_mutex_lock(&u->done_mu);
  }
  pthread_mutex_unlock(&u->done_mu);
  return NULL;
}

/* drain_fail completes up to a batch's worth of waiting ops with |st|
 * (the log cannot take them now). Returns the number completed. */
static size_t drain_fail(tv_ustore *u, tv_status st) {
  size_t n = 0;
  tv_store_op *op;
  while (n < TV_STORE_BATCH_RECORDS_MAX && (op = next_op(u)) != NULL) {
    complete(op, st);
    n++;
  }
  if (n > 0) {
    atomic_fetch_add(&u->st_failed, 1);
  }
  tv_ustore_space_signal(u);
  return n;
}

/* checkpoint writes the index as of the end of the log. In the writer, so
 * the index and the position match exactly; writes wait meanwhile (tens
 * of ms per million tokens), which is why it is every |ckpt_every|
 * records, not every batch. A failure only means open replays more. */
static void checkpoint(tv_ustore *u) {
  tv_ckpt_pos pos = {u->active_seg, u->write_off, u->next_seq - 1, u->last_loc};
  if (tv_ckpt_write(u->dir_fd, u->index, &pos) == TV_OK) {
    atomic_fetch_add(&u->st_ckpt_written, 1);
  }
  u->ckpt_since = 0;
}

void tv_ustore_checkpoint(tv_ustore *u) {
  if (u->ckpt_every != 0 && u->failed == TV_OK) {
    checkpoint(u);
  }
}

tv_status tv_ustore_roll_if_used(tv_ustore *u) {
  TV_TRY(u->failed);
  if (tv_loc_segment(u->last_loc) != u->active_seg || tv_loc_offset(u->last_loc) != 0) {
    TV_TRY(roll(u)); /* else only its header: as good as sealed already */
  }
  /* A roll leaves the durable mark in the segment before (it moves with
   * the next batch); compaction is about to replace that segment, and
   * scans and snapshots must not read it by the old mark. */
  atomic_store(&u->durable, (uint64_t)u->active_seg << 32 | u->write_off);
  return TV_OK;
}

/* run_task runs a job posted by tv_ustore_writer_call, if any. Here,
 * between batches, nothing is in flight and the index is the writer's. */
static void run_task(tv_ustore *u) {
  if (!atomic_load(&u->task_posted)) {
    return;
  }
  pthread_mutex_lock(&u->task_mu);
  if (u->task_state == 1) {
    tv_status (*fn)(tv_ustore *, void *) = u->task_fn;
    void *ctx = u->task_ctx;
    pthread_mutex_unlock(&u->task_mu);
    tv_store_io_error_clear();
    tv_status st = fn(u, ctx);
    pthread_mutex_lock(&u->task_mu);
    u->task_status = st;
    snprintf(u->task_io_error, sizeof u->task_io_error, "%s", st != TV_OK ? tv_store_io_error() : "");
    u->task_state = 2;
    atomic_store(&u->task_posted, 0);
    pthread_cond_broadcast(&u->task_cv);
  }
  pthread_mutex_unlock(&u->task_mu);
}

tv_status tv_ustore_writer_call(tv_ustore *u, tv_status (*fn)(tv_ustore *u, void *ctx), void *ctx) {
  pthread_mutex_lock(&u->task_mu);
  while (u->task_state == 1) { /* one job at a time */
    pthread_cond_wait(&u->task_cv, &u->task_mu);
  }
  u->task_fn = fn;
  u->task_ctx = ctx;
  u->task_state = 1;
  atomic_store(&u->task_posted, 1);
  pthread_mutex_unlock(&u->task_mu);
  pthread_mutex_lock(&u->wake_mu);
  pthread_cond_signal(&u->wake_cv);
  pthread_mutex_unlock(&u->wake_mu);
  pthread_mutex_lock(&u->task_mu);
  while (u->task_state != 2) {
    pthread_cond_wait(&u->task_cv, &u->task_mu);
  }
  tv_status st = u->task_status;
  if (u->task_io_error[0] != '\0') { /* the call that failed on the writer's thread */
    tv_store_io_error_adopt(u->task_io_error);
  }
  u->task_state = 0;
  pthread_cond_broadcast(&u->task_cv);
  pthread_mutex_unlock(&u->task_mu);
  return st;
}

/* run_batch does one round: roll if needed, collect, write, publish.
 * Returns 0 if there was nothing to do. */
static int run_batch(tv_ustore *u) {
  run_task(u);
  tv_store_io_error_clear(); /* a failure below logs its own message, never an older one */
  if (u->failed != TV_OK) {
    return drain_fail(u, u->failed) > 0;
  }
  if (u->write_off >= u->segment_bytes || u->segment_bytes - u->write_off < TV_STORE_RECORD_LEN_MAX) {
    tv_status st = roll(u);
    if (st != TV_OK) {
      log_write_failure(u);
      return drain_fail(u, st) > 0;
    }
  }
  size_t room = (size_t)(u->segment_bytes - u->write_off);
  room = room > TV_STORE_BATCH_BYTES_MAX ? TV_STORE_BATCH_BYTES_MAX : room;
  batch b;
  collect(u, &b, room);
  tv_ustore_space_signal(u); /* refill while this batch is on its way */
  if (b.num == 0) {
    return b.deferred_head != NULL;
  }
  tv_status st = write_batch(u, &b);
  if (st != TV_OK) {
    log_write_failure(u);
    fail_batch(u, &b, st);
  } else {
    publish_batch(u, &b);
    if (u->ckpt_every != 0 && u->ckpt_since >= u->ckpt_every) {
      checkpoint(u);
    }
  }
  return 1;
}

/* writer_idle sleeps until a producer signals or 100 ms pass. The flag
 * and the queue are checked in opposite orders by the two sides (seq_cst)
 * so a wake-up cannot be lost. */
static void writer_idle(tv_ustore *u) {
  pthread_mutex_lock(&u->wake_mu);
  atomic_store(&u->writer_sleeping, 1);
  if (tv_opqueue_empty(&u->queue) && !atomic_load(&u->closing) && !atomic_load(&u->task_posted)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&u->wake_cv, &u->wake_mu, &ts);
  }
  atomic_store(&u->writer_sleeping, 0);
  pthread_mutex_unlock(&u->wake_mu);
}

static void *writer_main(void *arg) {
  tv_ustore *u = arg;
  for (;;) {
    if (run_batch(u)) {
      continue;
    }
    /* Exit only when closing, no producer is mid-submit and all is done. */
    if (atomic_load(&u->closing) && atomic_load(&u->submitters) == 0 && u->carry_head == NULL) {
      tv_store_op *op = tv_opqueue_pop(&u->queue);
      if (op == NULL) {
        if (u->ckpt_every != 0 && u->ckpt_since > 0 && u->failed == TV_OK) {
          checkpoint(u); /* so the next open replays nothing */
        }
        break;
      }
      list_append(&u->carry_head, &u->carry_tail, op);
      continue;
    }
    writer_idle(u);
  }
  return NULL;
}

tv_status tv_ustore_writer_start(tv_ustore *u) {
  if (!WRITER_SYNCS) {
    fprintf(stderr, "tokenvault store: UNSAFE TEST BUILD: batches are acknowledged without fdatasync\n");
  }
  TV_ENSURE(pthread_create(&u->completer, NULL, completer_main, u) == 0, TV_E_INTERNAL);
  u->completer_started = 1;
  TV_ENSURE(pthread_create(&u->writer, NULL, writer_main, u) == 0, TV_E_INTERNAL);
  u->writer_started = 1;
  return TV_OK;
}

void tv_ustore_writer_stop(tv_ustore *u) {
  if (u->writer_started) {
    atomic_store(&u->closing, 1);
    pthread_mutex_lock(&u->wake_mu);
    pthread_cond_signal(&u->wake_cv);
    pthread_mutex_unlock(&u->wake_mu);
    pthread_join(u->writer, NULL); /* every accepted op is now durable or failed */
    u->writer_started = 0;
  }
  if (u->completer_started) {
    pthread_mutex_lock(&u->done_mu);
    u->completer_stop = 1;
    pthread_cond_signal(&u->done_cv);
    pthread_mutex_unlock(&u->done_mu);
    pthread_join(u->completer, NULL); /* ...and every producer has been told */
    u->completer_started = 0;
  }
}

static int op_fields_ok(const tv_store_op *op) {
  const tv_record_put *p = &op->put;
  if (p->ns == NULL || p->token == NULL || p->ns_len == 0 || p->ns_len > TV_STORE_NAMESPACE_LEN_MAX ||
      p->token_len == 0 || p->token_len > TV_STORE_TOKEN_LEN_MAX) {
    return 0;
  }
  if (op->kind == TV_STORE_OP_DELETE) {
    return 1;
  }
  return op->kind <= TV_STORE_OP_REPUT && op->kind >= TV_STORE_OP_PUT &&
         p->ciphertext_len <= TV_STORE_CIPHERTEXT_LEN_MAX && p->metadata_len <= TV_STORE_METADATA_LEN_MAX &&
         (p->ciphertext != NULL || p->ciphertext_len == 0) && (p->metadata != NULL || p->metadata_len == 0);
}

tv_status tv_ustore_submit(void *impl, tv_store_op *op) {
  tv_ustore *u = impl;
  TV_ENSURE(op_fields_ok(op), TV_E_STORE_RECORD_FIELD);
  op->loc = 0;
  op->seq = 0;
  /* Hashing here spreads the work over the producers' threads. */
  op->priv.hash = tv_index_token_hash(u->index, op->put.ns, op->put.ns_len, op->put.token, op->put.token_len);
  op->priv.fp_hash = op->kind == TV_STORE_OP_DELETE
                         ? 0
                         : tv_index_fp_hash(u->index, op->put.ns, op->put.ns_len, op->put.fingerprint);
  atomic_fetch_add(&u->submitters, 1);
  if (atomic_load(&u->closing)) {
    atomic_fetch_sub(&u->submitters, 1);
    return TV_E_STORE_CLOSED;
  }
  int pushed = tv_opqueue_push(&u->queue, op);
  atomic_fetch_sub(&u->submitters, 1);
  TV_ENSURE(pushed, TV_E_STORE_BUSY);
  /* Pairs with the writer's store of writer_sleeping before it looks at
   * the queue: one of the two sides sees the other. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load(&u->writer_sleeping)) {
    pthread_mutex_lock(&u->wake_mu);
    pthread_cond_signal(&u->wake_cv);
    pthread_mutex_unlock(&u->wake_mu);
  }
  return TV_OK;
}

/* Low-water mark: blocked producers are woken when the queue is down to
 * half. Waking them per freed cell would make every pop a futex wake and
 * the producers take turns one op at a time; waking at half gives each
 * wake-up a batch or more of room while the writer still has the other
 * half to write, so batches stay full. */
#define SPACE_LOW_WATER (TV_STORE_QUEUE_ITEMS_MAX / 2u)
/* A blocked producer looks again after this long even without a signal
 * (a safety net only: the signal is not lost, see below). */
#define SPACE_WAIT_NS 20000000L

void tv_ustore_space_signal(tv_ustore *u) {
  /* seq_cst: pairs with the waiter's increment before it reads the size. */
  if (atomic_load(&u->space_waiters) == 0) {
    return;
  }
  if (tv_opqueue_size(&u->queue) > SPACE_LOW_WATER && !atomic_load(&u->closing)) {
    return;
  }
  pthread_mutex_lock(&u->space_mu);
  pthread_cond_broadcast(&u->space_cv);
  pthread_mutex_unlock(&u->space_mu);
}

/* space_wait blocks until the writer has drained the queue to its
 * low-water mark (or the store is closing). The waiter counts itself
 * before it looks at the queue and the writer pops before it looks at the
 * count (both seq_cst), and both sides decide under space_mu, so a
 * drain cannot go unnoticed. */
static void space_wait(tv_ustore *u) {
  pthread_mutex_lock(&u->space_mu);
  atomic_fetch_add(&u->space_waiters, 1);
  if (tv_opqueue_size(&u->queue) > SPACE_LOW_WATER && !atomic_load(&u->closing)) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += SPACE_WAIT_NS;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&u->space_cv, &u->space_mu, &ts);
  }
  atomic_fetch_sub(&u->space_waiters, 1);
  pthread_mutex_unlock(&u->space_mu);
}

tv_status tv_ustore_submit_wait(void *impl, tv_store_op *op) {
  tv_ustore *u = impl;
  for (;;) {
    tv_status st = tv_ustore_submit(u, op);
    if (st != TV_E_STORE_BUSY) {
      return st;
    }
    space_wait(u);
  }
}
