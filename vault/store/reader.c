/* Reads: batched lookups whose record reads go to the kernel in one
 * io_uring submission, lookups by fingerprint, and scans of live tokens.
 * Every record read back is decoded (CRC checked) and its key compared
 * before it is returned: the index holds hashes only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/ustore.h"

typedef struct read_req {
  uint32_t item;
  int res;
  tv_store_loc loc;
  uint64_t buf_off;
} read_req;

/* plan: read requests first, then the record bytes, in the caller's buf. */
static tv_status buf_reserve(tv_store_buf *buf, size_t len) {
  if (buf->cap >= len) {
    return TV_OK;
  }
  size_t cap = buf->cap ? buf->cap : 4096;
  while (cap < len) {
    cap *= 2;
  }
  uint8_t *p = realloc(buf->data, cap);
  TV_ENSURE(p != NULL, TV_E_NO_MEMORY);
  buf->data = p;
  buf->cap = cap;
  return TV_OK;
}

static int lock_ring(tv_ustore *u) {
  unsigned start = atomic_fetch_add(&u->rring_next, 1);
  for (unsigned i = 0; i < TV_STORE_READ_RINGS; i++) {
    int r = (int)((start + i) % TV_STORE_READ_RINGS);
    if (pthread_mutex_trylock(&u->rring_mu[r]) == 0) {
      return r;
    }
  }
  int r = (int)(start % TV_STORE_READ_RINGS);
  pthread_mutex_lock(&u->rring_mu[r]);
  return r;
}

/* submit_chunk queues |n| reads, submits them with one call and reaps
 * every completion into req->res. */
static void submit_chunk(tv_ustore *u, struct io_uring *ring, read_req *reqs, size_t n, uint8_t *base) {
  size_t queued = 0;
  for (size_t i = 0; i < n; i++) {
    int fd = tv_ustore_seg_fd(u, tv_loc_segment(reqs[i].loc));
    if (fd < 0) {
      reqs[i].res = -EBADF;
      continue;
    }
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (sqe == NULL) { /* chunks never exceed the ring depth */
      reqs[i].res = -EBUSY;
      continue;
    }
    io_uring_prep_read(sqe, fd, base + reqs[i].buf_off, tv_loc_len(reqs[i].loc), tv_loc_offset(reqs[i].loc));
    sqe->user_data = i;
    queued++;
  }
  int ret;
  do {
    ret = io_uring_submit_and_wait(ring, (unsigned)queued);
  } while (ret == -EINTR);
  for (size_t done = 0; done < queued && ret >= 0; done++) {
    struct io_uring_cqe *cqe;
    do {
      ret = io_uring_wait_cqe(ring, &cqe);
    } while (ret == -EINTR);
    if (ret < 0) {
      break;
    }
    reqs[cqe->user_data].res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
  }
  if (ret < 0) {
    /* Ring failure: nothing in this chunk can be trusted. */
    for (size_t i = 0; i < n; i++) {
      reqs[i].res = ret;
    }
  }
}

static void read_all(tv_ustore *u, read_req *reqs, size_t n, uint8_t *base) {
  int r = lock_ring(u);
  for (size_t i = 0; i < n; i += TV_STORE_READ_RING_DEPTH) {
    size_t chunk = n - i < TV_STORE_READ_RING_DEPTH ? n - i : TV_STORE_READ_RING_DEPTH;
    submit_chunk(u, &u->rrings[r], reqs + i, chunk, base);
  }
  pthread_mutex_unlock(&u->rring_mu[r]);
}

/* copy_mapped fills |q| from the segment's map (or by pread if there is
 * none, or the record lies beyond it). Only for locations just taken from
 * the index under swap_lock: they are durable records inside the file,
 * so the map is never touched past the file's end. */
static void copy_mapped(tv_ustore *u, read_req *q, uint8_t *base) {
  uint32_t len = tv_loc_len(q->loc);
  uint64_t off = tv_loc_offset(q->loc);
  const uint8_t *m = tv_ustore_seg_map(u, tv_loc_segment(q->loc));
  if (m != NULL && off + len <= u->map_len) {
    memcpy(base + q->buf_off, m + off, len);
    q->res = (int)len;
    return;
  }
  int fd = tv_ustore_seg_fd(u, tv_loc_segment(q->loc));
  if (fd < 0) {
    q->res = -EBADF;
    return;
  }
  ssize_t n = pread(fd, base + q->buf_off, len, (off_t)off);
  q->res = n >= 0 ? (int)n : -errno;
}

/* read_trusted reads index locations: from the maps (records are
 * immutable once written; a page-cache hit costs a memcpy instead of a
 * system call per record), or in io_uring submissions if the store was
 * opened with uring_reads. */
static void read_trusted(tv_ustore *u, read_req *reqs, size_t n, uint8_t *base) {
  if (u->seg_maps == NULL) {
    read_all(u, reqs, n, base);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    copy_mapped(u, &reqs[i], base);
  }
}

/* decode_req checks a completed read and decodes its put. */
static tv_status decode_req(const read_req *q, const uint8_t *base, tv_record *out) {
  TV_ENSURE(q->res >= 0 && (uint32_t)q->res == tv_loc_len(q->loc), TV_E_IO);
  size_t len;
  TV_TRY(tv_record_decode(base + q->buf_off, tv_loc_len(q->loc), out, &len));
  TV_ENSURE(len == tv_loc_len(q->loc), TV_E_STORE_RECORD_LENGTH);
  TV_ENSURE(out->header.type == TV_RECORD_PUT || out->header.type == TV_RECORD_REPUT, TV_E_STORE_RECORD_TYPE);
  return TV_OK;
}

/* Index lookups done under one lock hold: short enough not to keep the
 * writer's publish waiting long. */
#define FIND_CHUNK 64u

/* find_chunk looks up |m| (<= FIND_CHUNK) token or fingerprint hashes
 * under one index lock, with prefetches. */
static void find_chunk(tv_ustore *u, const uint64_t *hashes, size_t m, int by_fp, tv_store_loc *locs,
                       size_t per_key_max, size_t *counts) {
  if (by_fp) {
    tv_index_fp_find_many(u->index, hashes, m, locs, per_key_max, counts);
  } else {
    tv_index_token_find_many(u->index, hashes, m, locs, per_key_max, counts);
  }
}

/* gather runs the index lookups (fingerprint table if |by_fp|, else token
 * table) and the reads for |num| hashes. On success |*out_reqs| and the
 * record bytes live in |buf|. */
static tv_status gather(tv_ustore *u, const uint64_t *hashes, size_t num, int by_fp, tv_store_buf *buf,
                        read_req **out_reqs, size_t *out_num, size_t per_key_max) {
  size_t reqs_max = num * per_key_max;
  TV_TRY(buf_reserve(buf, reqs_max * sizeof(read_req)));
  read_req *reqs = (read_req *)(void *)buf->data;
  size_t n = 0, bytes = 0;
  for (size_t i0 = 0; i0 < num; i0 += FIND_CHUNK) {
    size_t m = num - i0 < FIND_CHUNK ? num - i0 : FIND_CHUNK;
    tv_store_loc locs[FIND_CHUNK * TV_STORE_CANDIDATES_MAX];
    size_t counts[FIND_CHUNK];
    find_chunk(u, hashes + i0, m, by_fp, locs, per_key_max, counts);
    for (size_t i = 0; i < m; i++) {
      size_t k = counts[i] < per_key_max ? counts[i] : per_key_max;
      for (size_t j = 0; j < k; j++) {
        tv_store_loc loc = locs[i * per_key_max + j];
        reqs[n] = (read_req){.item = (uint32_t)(i0 + i), .res = 0, .loc = loc, .buf_off = bytes};
        bytes += tv_loc_len(loc);
        n++;
      }
    }
  }
  size_t head = reqs_max * sizeof(read_req);
  TV_TRY(buf_reserve(buf, head + bytes));
  reqs = (read_req *)(void *)buf->data;
  for (size_t i = 0; i < n; i++) {
    reqs[i].buf_off += head;
  }
  read_trusted(u, reqs, n, buf->data);
  *out_reqs = reqs;
  *out_num = n;
  return TV_OK;
}

tv_status tv_ustore_get_batch(void *impl, const tv_store_key *keys, size_t num_keys, tv_store_item *out_items,
                              tv_store_buf *buf) {
  tv_ustore *u = impl;
  if (num_keys == 0) {
    return TV_OK;
  }
  uint64_t hashes_stack[64] = {0};
  uint64_t *hashes = num_keys <= 64 ? hashes_stack : malloc(num_keys * sizeof *hashes);
  TV_ENSURE(hashes != NULL, TV_E_NO_MEMORY);
  for (size_t i = 0; i < num_keys; i++) {
    const tv_store_key *k = &keys[i];
    memset(&out_items[i], 0, sizeof out_items[i]);
    out_items[i].status = TV_E_STORE_NOT_FOUND;
    if (k->ns == NULL || k->token == NULL || k->ns_len == 0 || k->ns_len > TV_STORE_NAMESPACE_LEN_MAX ||
        k->token_len == 0 || k->token_len > TV_STORE_TOKEN_LEN_MAX) {
      out_items[i].status = TV_E_INVALID_ARGUMENT;
      hashes[i] = 0; /* may find candidates; none can match a bad key */
      continue;
    }
    hashes[i] = tv_index_token_hash(u->index, k->ns, k->ns_len, k->token, k->token_len);
  }
  read_req *reqs;
  size_t n;
  pthread_rwlock_rdlock(&u->swap_lock); /* locations stay valid until read */
  tv_status st = gather(u, hashes, num_keys, 0, buf, &reqs, &n, TV_STORE_CANDIDATES_MAX);
  pthread_rwlock_unlock(&u->swap_lock);
  if (hashes != hashes_stack) {
    free(hashes);
  }
  TV_TRY(st);
  for (size_t i = 0; i < n; i++) {
    tv_store_item *it = &out_items[reqs[i].item];
    const tv_store_key *k = &keys[reqs[i].item];
    tv_record r;
    tv_status rst = decode_req(&reqs[i], buf->data, &r);
    if (it->status == TV_OK || it->status == TV_E_INVALID_ARGUMENT) {
      continue;
    }
    if (rst != TV_OK) {
      it->status = rst; /* a damaged or unreadable record is not "not found" */
      continue;
    }
    if (tv_key_equal(r.body.put.ns, r.body.put.ns_len, r.body.put.token, r.body.put.token_len, k->ns, k->ns_len,
                     k->token, k->token_len)) {
      it->status = TV_OK;
      it->loc = reqs[i].loc;
      it->seq = r.header.seq;
      it->put = r.body.put;
    }
  }
  return TV_OK;
}

tv_status tv_ustore_find_fingerprint(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t fp[16],
                                     tv_store_item *out_items, size_t items_max, size_t *out_num,
                                     tv_store_buf *buf) {
  tv_ustore *u = impl;
  TV_ENSURE(ns_len >= 1 && ns_len <= TV_STORE_NAMESPACE_LEN_MAX, TV_E_INVALID_ARGUMENT);
  uint64_t h = tv_index_fp_hash(u->index, ns, ns_len, fp);
  read_req *reqs;
  size_t n;
  /* A value may have several tokens in a non-convergent namespace. */
  pthread_rwlock_rdlock(&u->swap_lock);
  tv_status gst = gather(u, &h, 1, 1, buf, &reqs, &n, TV_STORE_CANDIDATES_MAX);
  pthread_rwlock_unlock(&u->swap_lock);
  TV_TRY(gst);
  size_t found = 0;
  for (size_t i = 0; i < n; i++) {
    tv_record r;
    TV_TRY(decode_req(&reqs[i], buf->data, &r));
    const tv_record_put *p = &r.body.put;
    if (p->ns_len != ns_len || memcmp(p->ns, ns, ns_len) != 0 ||
        memcmp(p->fingerprint, fp, TV_RECORD_FINGERPRINT_LEN) != 0) {
      continue;
    }
    if (found < items_max) {
      out_items[found] = (tv_store_item){.status = TV_OK, .loc = reqs[i].loc, .seq = r.header.seq, .put = *p};
    }
    found++;
  }
  *out_num = found;
  return TV_OK;
}

/* fp_matches: the put read back is of namespace |ns| and fingerprint
 * |fp| (the index holds hashes only). */
static int fp_matches(const tv_record_put *p, const uint8_t *ns, size_t ns_len, const uint8_t fp[16]) {
  return p->ns_len == ns_len && memcmp(p->ns, ns, ns_len) == 0 &&
         memcmp(p->fingerprint, fp, TV_RECORD_FINGERPRINT_LEN) == 0;
}

tv_status tv_ustore_find_fingerprints(void *impl, const uint8_t *ns, size_t ns_len, const uint8_t *fps,
                                      size_t num_fps, size_t per_fp_max, tv_store_item *out_items,
                                      size_t *out_counts, tv_store_buf *buf) {
  tv_ustore *u = impl;
  TV_ENSURE(ns_len >= 1 && ns_len <= TV_STORE_NAMESPACE_LEN_MAX, TV_E_INVALID_ARGUMENT);
  uint64_t *hashes = malloc(num_fps * sizeof *hashes);
  TV_ENSURE(hashes != NULL, TV_E_NO_MEMORY);
  for (size_t i = 0; i < num_fps; i++) {
    hashes[i] = tv_index_fp_hash(u->index, ns, ns_len, fps + i * TV_RECORD_FINGERPRINT_LEN);
    out_counts[i] = 0;
  }
  read_req *reqs;
  size_t n;
  pthread_rwlock_rdlock(&u->swap_lock); /* locations stay valid until read */
  tv_status st = gather(u, hashes, num_fps, 1, buf, &reqs, &n, TV_STORE_CANDIDATES_MAX);
  pthread_rwlock_unlock(&u->swap_lock);
  free(hashes);
  TV_TRY(st);
  for (size_t i = 0; i < n; i++) {
    size_t f = reqs[i].item;
    tv_record r;
    tv_status rst = decode_req(&reqs[i], buf->data, &r);
    const uint8_t *fp = fps + f * TV_RECORD_FINGERPRINT_LEN;
    if (out_counts[f] >= per_fp_max || (rst == TV_OK && !fp_matches(&r.body.put, ns, ns_len, fp))) {
      continue;
    }
    /* A damaged or unreadable candidate is reported, not skipped: it may
     * be the value's token. */
    tv_store_item *it = &out_items[f * per_fp_max + out_counts[f]++];
    *it = (tv_store_item){.status = rst, .loc = reqs[i].loc};
    if (rst == TV_OK) {
      it->seq = r.header.seq;
      it->put = r.body.put;
    }
  }
  return TV_OK;
}

tv_status tv_ustore_read_locations(void *impl, const tv_store_loc *locs, size_t num, tv_store_item *out_items,
                                   tv_store_buf *buf) {
  tv_ustore *u = impl;
  size_t head = num * sizeof(read_req), bytes = 0;
  for (size_t i = 0; i < num; i++) {
    bytes += tv_loc_len(locs[i]);
  }
  TV_TRY(buf_reserve(buf, head + bytes));
  read_req *reqs = (read_req *)(void *)buf->data;
  size_t n = 0;
  bytes = 0;
  pthread_rwlock_rdlock(&u->swap_lock); /* a file checked here is the one read */
  for (size_t i = 0; i < num; i++) {
    memset(&out_items[i], 0, sizeof out_items[i]);
    uint32_t len = tv_loc_len(locs[i]);
    if (len < TV_STORE_RECORD_HEADER_LEN || len > TV_STORE_RECORD_LEN_MAX ||
        tv_ustore_seg_fd(u, tv_loc_segment(locs[i])) < 0) {
      out_items[i].status = TV_E_INVALID_ARGUMENT; /* not a location this store handed out */
      continue;
    }
    reqs[n++] = (read_req){.item = (uint32_t)i, .res = 0, .loc = locs[i], .buf_off = head + bytes};
    bytes += len;
  }
  read_all(u, reqs, n, buf->data);
  pthread_rwlock_unlock(&u->swap_lock);
  for (size_t i = 0; i < n; i++) {
    tv_store_item *it = &out_items[reqs[i].item];
    tv_record r;
    it->status = decode_req(&reqs[i], buf->data, &r);
    if (it->status == TV_OK) {
      it->loc = reqs[i].loc;
      it->seq = r.header.seq;
      it->put = r.body.put;
    }
  }
  return TV_OK;
}

/* scan_one visits the live puts among the first |len| bytes of a segment. */
static tv_status scan_one(tv_ustore *u, uint32_t id, uint64_t len, tv_store_scan_fn fn, void *ctx) {
  int fd = tv_ustore_seg_fd(u, id);
  TV_ENSURE(fd >= 0, TV_E_INTERNAL);
  if (len == 0) {
    return TV_OK;
  }
  const uint8_t *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
  TV_ENSURE(map != MAP_FAILED, TV_E_NO_MEMORY);
  tv_status st = TV_OK;
  for (uint64_t off = 0; off < len && st == TV_OK;) {
    tv_record r;
    size_t rlen;
    st = tv_record_decode(map + off, len - off, &r, &rlen);
    if (st != TV_OK) {
      break;
    }
    tv_store_loc loc = tv_loc_pack(id, off, (uint32_t)rlen);
    off += rlen;
    if (r.header.type != TV_RECORD_PUT && r.header.type != TV_RECORD_REPUT) {
      continue;
    }
    const tv_record_put *p = &r.body.put;
    uint64_t h = tv_index_token_hash(u->index, p->ns, p->ns_len, p->token, p->token_len);
    tv_store_loc locs[TV_STORE_CANDIDATES_MAX];
    size_t k = tv_index_token_find(u->index, h, locs, TV_STORE_CANDIDATES_MAX);
    for (size_t j = 0; j < k && j < TV_STORE_CANDIDATES_MAX; j++) {
      if (locs[j] == loc) {
        st = fn(ctx, p, loc);
        break;
      }
    }
  }
  munmap((void *)(uintptr_t)map, len);
  return st;
}

static tv_status scan_locked(tv_ustore *u, tv_store_scan_fn fn, void *ctx) {
  uint64_t durable = atomic_load(&u->durable);
  uint32_t last = (uint32_t)(durable >> 32);
  for (uint32_t id = u->first_seg; id <= last; id++) {
    uint64_t len = durable & 0xffffffffu;
    if (id != last) {
      struct stat sb;
      TV_ENSURE(fstat(tv_ustore_seg_fd(u, id), &sb) == 0, TV_E_IO);
      len = (uint64_t)sb.st_size; /* sealed: ends at its last record */
    }
    TV_TRY(scan_one(u, id, len, fn, ctx));
  }
  return TV_OK;
}

tv_status tv_ustore_scan(void *impl, tv_store_scan_fn fn, void *ctx) {
  tv_ustore *u = impl;
  tv_ustore_maint_shared_begin(u); /* segment files stay put meanwhile */
  tv_status st = scan_locked(u, fn, ctx);
  tv_ustore_maint_shared_end(u);
  return st;
}
