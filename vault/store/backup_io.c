#include "vault/store/backup_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/crc32c.h"
#include "vault/store/record.h"
#include "vault/store/segment.h"

#define COPY_CHUNK_BYTES (1u << 20)

void tv_backup_diag(tv_store_diag *diag, const char *dir, const char *name, uint64_t off, const char *msg) {
  if (diag == NULL) {
    return;
  }
  snprintf(diag->path, sizeof diag->path, "%.3900s/%.63s", dir, name);
  diag->offset = off;
  snprintf(diag->message, sizeof diag->message, "%.63s at byte %" PRIu64 ": %.150s", name, off, msg);
}

tv_status tv_backup_add_file(tv_backup_manifest *m, const char *name, uint64_t size, uint32_t crc) {
  TV_ENSURE(strlen(name) < TV_BACKUP_NAME_LEN_MAX, TV_E_INVALID_ARGUMENT);
  if (m->num_files == m->cap_files) {
    size_t cap = m->cap_files ? m->cap_files * 2 : 16;
    tv_backup_file *grown = realloc(m->files, cap * sizeof *grown);
    TV_ENSURE(grown != NULL, TV_E_NO_MEMORY);
    m->files = grown;
    m->cap_files = cap;
  }
  tv_backup_file *f = &m->files[m->num_files++];
  memset(f, 0, sizeof *f);
  snprintf(f->name, sizeof f->name, "%s", name);
  f->size = size;
  f->crc = crc;
  f->is_segment = tv_segment_parse_name(name, &f->seg_id);
  return TV_OK;
}

void tv_backup_manifest_free(tv_backup_manifest *m) {
  free(m->files);
  memset(m, 0, sizeof *m);
}

int tv_backup_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= TV_BACKUP_NAME_LEN_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
      strcmp(name, TV_BACKUP_MANIFEST_NAME) == 0 || strcmp(name, "LOCK") == 0) {
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-')) {
      return 0;
    }
  }
  return 1;
}

static tv_status write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    TV_ENSURE(w > 0, tv_store_fd_failed("write", fd, w < 0 ? errno : EIO));
    p += w;
    n -= (size_t)w;
  }
  return TV_OK;
}

/* copy_bytes streams |len| bytes (or to EOF) from |src| to |dst|. */
static tv_status copy_bytes(int src, uint64_t len, int dst, uint8_t *buf, uint64_t *out_len, uint32_t *out_crc) {
  uint64_t off = 0;
  uint32_t crc = 0;
  while (off < len) {
    uint64_t want = len - off < COPY_CHUNK_BYTES ? len - off : COPY_CHUNK_BYTES;
    ssize_t r = pread(src, buf, (size_t)want, (off_t)off);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      tv_store_fd_failed("read", src, errno);
      return TV_E_IO;
    }
    if (r == 0) {
      TV_ENSURE(len == UINT64_MAX, TV_E_IO); /* the file is shorter than promised */
      break;
    }
    crc = tv_crc32c_extend(crc, buf, (size_t)r);
    TV_TRY(write_all(dst, buf, (size_t)r));
    off += (uint64_t)r;
  }
  *out_len = off;
  *out_crc = crc;
  return TV_OK;
}

tv_status tv_backup_copy(int src_fd, uint64_t len, int dst_dir_fd, const char *name, uint64_t *out_len,
                         uint32_t *out_crc) {
  int dst = openat(dst_dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  TV_ENSURE(dst >= 0, errno == EEXIST ? TV_E_STORE_BACKUP_TARGET : tv_store_io_failed("create", name, errno));
  uint8_t *buf = malloc(COPY_CHUNK_BYTES);
  tv_status st = buf != NULL ? copy_bytes(src_fd, len, dst, buf, out_len, out_crc) : TV_E_NO_MEMORY;
  free(buf);
  if (st == TV_OK && fsync(dst) != 0) {
    st = tv_store_io_failed("fsync", name, errno);
  }
  close(dst);
  return st;
}

tv_status tv_backup_file_crc(int dir_fd, const char *name, uint64_t *out_len, uint32_t *out_crc) {
  int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  TV_ENSURE(fd >= 0, errno == ENOENT ? TV_E_STORE_LAYOUT : (tv_store_io_failed("open", name, errno), TV_E_IO));
  uint8_t *buf = malloc(COPY_CHUNK_BYTES);
  tv_status st = buf != NULL ? TV_OK : TV_E_NO_MEMORY;
  uint64_t off = 0;
  uint32_t crc = 0;
  while (st == TV_OK) {
    ssize_t r = pread(fd, buf, COPY_CHUNK_BYTES, (off_t)off);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      st = r < 0 ? (tv_store_io_failed("pread", name, errno), TV_E_IO) : TV_OK;
      break;
    }
    crc = tv_crc32c_extend(crc, buf, (size_t)r);
    off += (uint64_t)r;
  }
  free(buf);
  close(fd);
  *out_len = off;
  *out_crc = crc;
  return st;
}

tv_status tv_backup_open_empty_dir(const char *dir, int *out_fd) {
  if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
    tv_store_io_failed("mkdir", dir, errno);
    return TV_E_IO;
  }
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    tv_store_io_failed("open", dir, errno);
    return errno == ENOTDIR ? TV_E_STORE_BACKUP_TARGET : TV_E_IO;
  }
  DIR *d = fdopendir(dup(fd));
  if (d == NULL) {
    tv_store_io_failed("fdopendir", dir, errno);
    close(fd);
    return TV_E_IO;
  }
  int empty = 1;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      empty = 0;
      break;
    }
  }
  closedir(d);
  if (!empty) {
    close(fd);
    return TV_E_STORE_BACKUP_TARGET;
  }
  *out_fd = fd;
  return TV_OK;
}
