#include "vault/store/segment.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vault/store/record.h"

#define SEGMENT_NAME_LEN 16 /* "seg-" + 8 hex + ".log" */

void tv_segment_name(char *out, size_t out_len, uint32_t id) {
  snprintf(out, out_len, "seg-%08" PRIx32 ".log", id);
}

int tv_segment_parse_name(const char *name, uint32_t *out_id) {
  if (strlen(name) != SEGMENT_NAME_LEN || strncmp(name, "seg-", 4) != 0 || strcmp(name + 12, ".log") != 0) {
    return 0;
  }
  uint32_t id = 0;
  for (int i = 4; i < 12; i++) {
    char c = name[i];
    uint32_t v;
    if (c >= '0' && c <= '9') {
      v = (uint32_t)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = (uint32_t)(c - 'a' + 10);
    } else {
      return 0;
    }
    id = id << 4 | v;
  }
  *out_id = id;
  return 1;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

tv_status tv_segment_list(const char *dir, uint32_t **out_ids, size_t *out_num) {
  DIR *d = opendir(dir);
  TV_ENSURE(d != NULL, TV_E_IO);
  uint32_t *ids = NULL;
  size_t num = 0, cap = 0;
  tv_status st = TV_OK;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    uint32_t id;
    if (!tv_segment_parse_name(e->d_name, &id)) {
      continue;
    }
    if (num == cap) {
      cap = cap ? cap * 2 : 16;
      uint32_t *grown = realloc(ids, cap * sizeof *ids);
      if (grown == NULL) {
        st = TV_E_NO_MEMORY;
        break;
      }
      ids = grown;
    }
    ids[num++] = id;
  }
  closedir(d);
  if (st != TV_OK) {
    free(ids);
    return st;
  }
  if (num > 0) {
    qsort(ids, num, sizeof *ids, cmp_u32);
  }
  *out_ids = ids;
  *out_num = num;
  return TV_OK;
}

tv_status tv_store_errno_status(int err) {
  return (err == ENOSPC || err == EDQUOT || err == EFBIG) ? TV_E_STORE_NO_SPACE : TV_E_STORE_WRITE_FAILED;
}

/* Per thread: the writer, an opening thread and a compacting thread each
 * see their own last failure. */
static _Thread_local char io_error[TV_STORE_IO_ERROR_LEN_MAX];

/* A long path keeps its end (the file's own name) and leaves room in the
 * message for the errno. */
#define IO_ERROR_FILE_LEN_MAX 120u

tv_status tv_store_io_failed(const char *op, const char *file, int err) {
  size_t n = strlen(file);
  const char *cut = n > IO_ERROR_FILE_LEN_MAX ? "..." : "";
  const char *shown = n > IO_ERROR_FILE_LEN_MAX ? file + n - IO_ERROR_FILE_LEN_MAX : file;
  snprintf(io_error, sizeof io_error, "%.60s of %s%s failed: %s (errno %d)", op, cut, shown, strerror(err), err);
  return tv_store_errno_status(err);
}

const char *tv_store_io_error(void) { return io_error; }

void tv_store_io_error_clear(void) { io_error[0] = '\0'; }

void tv_store_io_error_adopt(const char *msg) { snprintf(io_error, sizeof io_error, "%s", msg); }

/* fd_file names the file open as |fd| for an error message (the last
 * part of its path as the kernel knows it: the store directory is named
 * by whoever reports the message), or "a store file". */
static const char *fd_file(int fd, char *out, size_t out_len) {
  char self[32];
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(self, out, out_len - 1);
  if (n <= 0) {
    return "a store file";
  }
  out[n] = '\0';
  const char *slash = strrchr(out, '/');
  return slash != NULL && slash[1] != '\0' ? slash + 1 : out;
}

tv_status tv_store_fd_failed(const char *op, int fd, int err) {
  char path[512];
  return tv_store_io_failed(op, fd_file(fd, path, sizeof path), err);
}

uint64_t tv_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* prealloc_unsupported: the filesystem cannot preallocate (FUSE, some
 * network filesystems). Appending without it is as durable: the
 * fdatasync after each batch also syncs the size the write grew (it is
 * needed to read the data back), and recovery reads the end of the file
 * as the end of the log either way. Only a full disk then shows up at a
 * write instead of at the preallocation, still as NO_SPACE. */
static int prealloc_unsupported(int err) { return err == EOPNOTSUPP || err == ENOSYS; }

tv_status tv_segment_prealloc(int fd, uint64_t end, uint64_t segment_bytes, uint64_t *alloc_end) {
  assert(end <= segment_bytes);
  if (end <= *alloc_end) {
    return TV_OK;
  }
  uint64_t want = *alloc_end + TV_SEGMENT_PREALLOC_BYTES;
  want = want < end ? end : want;
  want = want > segment_bytes ? segment_bytes : want;
  /* Try a whole chunk, then just what this batch needs, so the last bytes
   * before a limit are still usable. */
  if (fallocate(fd, 0, (off_t)*alloc_end, (off_t)(want - *alloc_end)) != 0) {
    if (prealloc_unsupported(errno)) {
      *alloc_end = segment_bytes; /* not asked again for this segment */
      return TV_OK;
    }
    if (fallocate(fd, 0, (off_t)*alloc_end, (off_t)(end - *alloc_end)) != 0) {
      return tv_store_fd_failed("fallocate", fd, errno);
    }
    want = end;
  }
  *alloc_end = want;
  return TV_OK;
}

tv_status tv_segment_reinit(int fd, uint32_t id, uint64_t seq, uint64_t segment_bytes, uint64_t *out_end,
                            uint64_t *out_alloc_end) {
  TV_ENSURE(ftruncate(fd, 0) == 0, tv_store_fd_failed("ftruncate", fd, errno));
  uint64_t alloc_end = 0;
  TV_TRY(tv_segment_prealloc(fd, TV_STORE_RECORD_HEADER_LEN * 2, segment_bytes, &alloc_end));
  tv_record r;
  memset(&r, 0, sizeof r);
  r.header.type = TV_RECORD_SEGMENT_HEADER;
  r.header.flags = TV_RECORD_FLAG_COMMIT; /* the header is a batch of its own */
  r.header.seq = seq;
  r.body.segment.segment_id = id;
  r.body.segment.created_ms = tv_now_ms();
  r.body.segment.segment_bytes = segment_bytes;
  uint8_t buf[TV_STORE_RECORD_HEADER_LEN * 2];
  size_t len;
  TV_TRY(tv_record_encode(&r, buf, sizeof buf, &len));
  ssize_t n = pwrite(fd, buf, len, 0);
  TV_ENSURE(n == (ssize_t)len, tv_store_fd_failed("pwrite of the segment header", fd, n < 0 ? errno : EIO));
  TV_ENSURE(fdatasync(fd) == 0, tv_store_fd_failed("fdatasync", fd, errno));
  *out_end = len;
  *out_alloc_end = alloc_end;
  return TV_OK;
}

tv_status tv_segment_create(int dir_fd, uint32_t id, uint64_t seq, uint64_t segment_bytes, int *out_fd,
                            uint64_t *out_end, uint64_t *out_alloc_end) {
  char name[32];
  tv_segment_name(name, sizeof name, id);
  int fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  TV_ENSURE(fd >= 0, tv_store_io_failed("create", name, errno));
  tv_status st = tv_segment_reinit(fd, id, seq, segment_bytes, out_end, out_alloc_end);
  /* The new name must survive a crash before anything in it is trusted. */
  if (st == TV_OK && fsync(dir_fd) != 0) {
    st = tv_store_fd_failed("fsync of the directory", dir_fd, errno);
  }
  if (st != TV_OK) {
    close(fd);
    unlinkat(dir_fd, name, 0);
    fsync(dir_fd);
    return st;
  }
  *out_fd = fd;
  return TV_OK;
}

tv_status tv_segment_seal(int fd, uint64_t end) {
  TV_ENSURE(ftruncate(fd, (off_t)end) == 0, tv_store_fd_failed("ftruncate (seal)", fd, errno));
  TV_ENSURE(fsync(fd) == 0, tv_store_fd_failed("fsync (seal)", fd, errno));
  return TV_OK;
}
