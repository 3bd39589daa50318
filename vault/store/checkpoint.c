#include "vault/store/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/crc32c.h"
#include "vault/store/cursor.h"
#include "vault/store/segment.h"
#include "vault/store/store_limits.h"

#define CKPT_MAGIC 0x4b435654u /* "TVCK" */
#define CKPT_VERSION 1u
#define CKPT_HEADER_LEN 64u
#define CKPT_TMP_NAME "CHECKPOINT.tmp"

static void put_header(uint8_t *p, uint64_t seed, const tv_ckpt_pos *pos, size_t nt, size_t nf) {
  memset(p, 0, CKPT_HEADER_LEN);
  tv_put_le32(p, CKPT_MAGIC);
  tv_put_le32(p + 4, CKPT_VERSION);
  tv_put_le64(p + 8, seed);
  tv_put_le32(p + 16, pos->segment);
  tv_put_le64(p + 24, pos->offset);
  tv_put_le64(p + 32, pos->last_seq);
  tv_put_le64(p + 40, pos->last_loc);
  tv_put_le64(p + 48, nt);
  tv_put_le64(p + 56, nf);
}

static tv_status write_file(int dir_fd, const uint8_t *buf, size_t len) {
  int fd = openat(dir_fd, CKPT_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  TV_ENSURE(fd >= 0, tv_store_io_failed("create", CKPT_TMP_NAME, errno));
  size_t done = 0;
  tv_status st = TV_OK;
  while (done < len) {
    ssize_t w = write(fd, buf + done, len - done);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      st = tv_store_io_failed("write", CKPT_TMP_NAME, errno);
      break;
    }
    done += (size_t)w;
  }
  if (st == TV_OK && fsync(fd) != 0) {
    st = tv_store_io_failed("fsync", CKPT_TMP_NAME, errno);
  }
  close(fd);
  if (st == TV_OK && renameat(dir_fd, CKPT_TMP_NAME, dir_fd, TV_CHECKPOINT_NAME) != 0) {
    st = tv_store_io_failed("rename to " TV_CHECKPOINT_NAME, CKPT_TMP_NAME, errno);
  }
  if (st == TV_OK && fsync(dir_fd) != 0) {
    st = tv_store_fd_failed("fsync of the directory", dir_fd, errno);
  }
  if (st != TV_OK) {
    unlinkat(dir_fd, CKPT_TMP_NAME, 0);
  }
  return st;
}

tv_status tv_ckpt_encode(const tv_index *idx, const tv_ckpt_pos *pos, uint8_t **out, size_t *out_len) {
  size_t nt = tv_index_token_export(idx, NULL, 0);
  size_t nf = tv_index_fp_export(idx, NULL, 0);
  size_t len = CKPT_HEADER_LEN + 16 * (nt + nf) + 4;
  uint8_t *buf = malloc(len);
  TV_ENSURE(buf != NULL, TV_E_NO_MEMORY);
  put_header(buf, tv_index_seed(idx), pos, nt, nf);
  uint64_t *pairs = (uint64_t *)(void *)(buf + CKPT_HEADER_LEN); /* 64-byte header keeps alignment */
  tv_index_token_export(idx, pairs, nt);
  tv_index_fp_export(idx, pairs + 2 * nt, nf);
  for (size_t i = 0; i < 2 * (nt + nf); i++) { /* host order -> little-endian, in place */
    uint64_t v = pairs[i];
    tv_put_le64((uint8_t *)&pairs[i], v);
  }
  tv_put_le32(buf + len - 4, tv_crc32c_extend(0, buf, len - 4));
  *out = buf;
  *out_len = len;
  return TV_OK;
}

tv_status tv_ckpt_write(int dir_fd, const tv_index *idx, const tv_ckpt_pos *pos) {
  uint8_t *buf;
  size_t len;
  TV_TRY(tv_ckpt_encode(idx, pos, &buf, &len));
  tv_status st = write_file(dir_fd, buf, len);
  free(buf);
  return st;
}

static tv_status read_file(int dir_fd, uint8_t **out, size_t *out_len) {
  int fd = openat(dir_fd, TV_CHECKPOINT_NAME, O_RDONLY | O_CLOEXEC);
  TV_ENSURE(fd >= 0, errno == ENOENT ? TV_E_STORE_NOT_FOUND : TV_E_IO);
  struct stat sb;
  tv_status st = fstat(fd, &sb) == 0 ? TV_OK : TV_E_IO;
  size_t len = st == TV_OK ? (size_t)sb.st_size : 0;
  if (st == TV_OK && len < CKPT_HEADER_LEN + 4) {
    st = TV_E_STORE_CORRUPT; /* tv_ckpt_parse checks the rest */
  }
  uint8_t *buf = st == TV_OK ? malloc(len) : NULL;
  if (st == TV_OK && (buf == NULL || pread(fd, buf, len, 0) != (ssize_t)len)) {
    st = buf == NULL ? TV_E_NO_MEMORY : TV_E_IO;
  }
  close(fd);
  if (st != TV_OK) {
    free(buf);
    return st;
  }
  *out = buf;
  *out_len = len;
  return TV_OK;
}

/* fill inserts the saved pairs; a location that cannot be one is damage. */
static tv_status fill(tv_index *idx, const uint8_t *p, size_t nt, size_t nf) {
  for (size_t i = 0; i < nt + nf; i++) {
    uint64_t hash = tv_le64(p + 16 * i), loc = tv_le64(p + 16 * i + 8);
    TV_ENSURE(loc != 0 && tv_loc_offset(loc) != 0 && tv_loc_len(loc) != 0, TV_E_STORE_CORRUPT);
    TV_TRY(i < nt ? tv_index_token_insert(idx, hash, loc) : tv_index_fp_insert(idx, hash, loc));
  }
  return TV_OK;
}

tv_status tv_ckpt_parse(const uint8_t *buf, size_t len, size_t extra_tokens, tv_index **out_idx,
                        tv_ckpt_pos *pos) {
  TV_ENSURE(len >= CKPT_HEADER_LEN + 4 && (len - CKPT_HEADER_LEN - 4) % 16 == 0, TV_E_STORE_CORRUPT);
  TV_ENSURE(tv_le32(buf) == CKPT_MAGIC && tv_le32(buf + 4) == CKPT_VERSION && tv_le32(buf + 20) == 0,
            TV_E_STORE_CORRUPT);
  TV_ENSURE(tv_le32(buf + len - 4) == tv_crc32c_extend(0, buf, len - 4), TV_E_STORE_CORRUPT);
  uint64_t nt = tv_le64(buf + 48), nf = tv_le64(buf + 56);
  TV_ENSURE(nt <= len / 16 && nf <= len / 16 && CKPT_HEADER_LEN + 16 * (nt + nf) + 4 == len, TV_E_STORE_CORRUPT);
  pos->segment = tv_le32(buf + 16);
  pos->offset = tv_le64(buf + 24);
  pos->last_seq = tv_le64(buf + 32);
  pos->last_loc = tv_le64(buf + 40);
  TV_ENSURE(pos->segment != 0 && pos->segment < TV_STORE_SEGMENTS_MAX && pos->offset <= TV_STORE_SEGMENT_BYTES_MAX,
            TV_E_STORE_CORRUPT);
  tv_index *idx;
  TV_TRY(tv_index_new((size_t)(nt > nf ? nt : nf) + extra_tokens, tv_le64(buf + 8), &idx));
  tv_status st = fill(idx, buf + CKPT_HEADER_LEN, (size_t)nt, (size_t)nf);
  if (st != TV_OK) {
    tv_index_free(idx);
    return st;
  }
  *out_idx = idx;
  return TV_OK;
}

tv_status tv_ckpt_load(int dir_fd, size_t extra_tokens, tv_index **out_idx, tv_ckpt_pos *out_pos) {
  uint8_t *buf;
  size_t len;
  TV_TRY(read_file(dir_fd, &buf, &len));
  tv_status st = tv_ckpt_parse(buf, len, extra_tokens, out_idx, out_pos);
  free(buf);
  return st;
}
