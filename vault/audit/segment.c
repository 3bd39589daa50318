/* Segment files: naming, the directory lock, creation made durable (file
 * and directory entry), and appends made durable with fdatasync. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/audit/audit_internal.h"
#include "vault/util/clock.h"
#include "vault/util/dir_sync.h"

void audit_segment_name(char *out, size_t out_max, uint64_t segment) {
  snprintf(out, out_max, "audit-%06" PRIu64 ".log", segment);
}

tv_status audit_file_lock(audit_file *file, const char *dir) {
  size_t dir_len = strlen(dir);
  TV_ENSURE(dir_len > 0 && dir_len < sizeof file->dir, TV_E_INVALID_ARGUMENT);
  memcpy(file->dir, dir, dir_len + 1);
  /* A new directory's own name must be durable too: else a power cut
   * after the first start loses the whole log, entries already answered. */
  int err = tv_mkdir_durable(dir);
  if (err != 0 && err != EEXIST) {
    return TV_E_AUDIT_UNAVAILABLE;
  }
  file->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  TV_ENSURE(file->dir_fd >= 0, TV_E_AUDIT_UNAVAILABLE);
  file->lock_fd = openat(file->dir_fd, "audit.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                         0600);
  TV_ENSURE(file->lock_fd >= 0, TV_E_AUDIT_UNAVAILABLE);
  /* Two writers would fork the chain: the second one is refused. */
  TV_ENSURE(flock(file->lock_fd, LOCK_EX | LOCK_NB) == 0, TV_E_AUDIT_UNAVAILABLE);
  return TV_OK;
}

/* Parses "audit-NNNNNN.log"; 0 if |name| is not a segment's name. */
static uint64_t segment_number(const char *name) {
  if (strlen(name) != 16 || strncmp(name, "audit-", 6) != 0 || strcmp(name + 12, ".log") != 0) {
    return 0;
  }
  uint64_t n = 0;
  for (size_t i = 6; i < 12; i++) {
    if (name[i] < '0' || name[i] > '9') {
      return 0;
    }
    n = n * 10 + (uint64_t)(name[i] - '0');
  }
  return n;
}

tv_status audit_file_latest(audit_file *file, uint64_t *out_segment) {
  int fd = dup(file->dir_fd);
  TV_ENSURE(fd >= 0, TV_E_AUDIT_UNAVAILABLE);
  DIR *d = fdopendir(fd);
  if (d == NULL) {
    close(fd);
    return TV_E_AUDIT_UNAVAILABLE;
  }
  rewinddir(d);
  uint64_t latest = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    uint64_t n = segment_number(e->d_name);
    latest = n > latest ? n : latest;
  }
  closedir(d);
  *out_segment = latest;
  return TV_OK;
}

tv_status audit_file_create(audit_file *file, uint64_t segment, const char *header,
                            size_t header_len) {
  TV_ENSURE(segment >= 1 && segment <= AUDIT_SEGMENTS_MAX, TV_E_AUDIT_UNAVAILABLE);
  char name[32], tmp[40];
  audit_segment_name(name, sizeof name, segment);
  snprintf(tmp, sizeof tmp, "%s.tmp", name);
  /* A segment appears under its name only with its header inside, made
   * durable first: a crash never leaves a headless segment behind. */
  (void)unlinkat(file->dir_fd, tmp, 0);
  int fd = openat(file->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  0600);
  TV_ENSURE(fd >= 0, TV_E_AUDIT_UNAVAILABLE);
  audit_file fresh = *file;
  fresh.fd = fd;
  fresh.size = 0;
  fresh.broken = 0;
  tv_status status = audit_file_write(&fresh, header, header_len);
  if (status == TV_OK &&
      (renameat2(file->dir_fd, tmp, file->dir_fd, name, RENAME_NOREPLACE) != 0 ||
       fsync(file->dir_fd) != 0)) {
    status = TV_E_AUDIT_UNAVAILABLE;
  }
  if (status != TV_OK) {
    close(fd);
    (void)unlinkat(file->dir_fd, tmp, 0);
    return status;
  }
  if (file->fd >= 0) {
    close(file->fd);
  }
  file->fd = fd;
  file->segment = segment;
  file->size = fresh.size;
  file->last_sync_us = fresh.last_sync_us;
  file->broken = 0;
  return TV_OK;
}

/* A full disk is told apart from other write failures: the operator's
 * remedy (free space) is different, and health and clients name it. */
static tv_status write_errno_status(int err) {
  return err == ENOSPC || err == EDQUOT || err == EFBIG ? TV_E_AUDIT_NO_SPACE : TV_E_AUDIT_UNAVAILABLE;
}

tv_status audit_file_write(audit_file *file, const char *buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(file->fd, buf + done, len - done, (off_t)(file->size + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      file->broken = 1;
      return n == 0 ? TV_E_AUDIT_NO_SPACE : write_errno_status(errno);
    }
    done += (size_t)n;
  }
  uint64_t sync_start = tv_mono_us();
  if (fdatasync(file->fd) != 0) {
    file->broken = 1;
    return write_errno_status(errno);
  }
  file->last_sync_us = tv_mono_us() - sync_start;
  file->size += len;
  return TV_OK;
}

/* After a failed write or fdatasync the bytes past |size| are in an
 * unknown state (and, after a failed fdatasync, the page cache may lie):
 * they are cut off and the cut made durable before anything else is
 * written, so no half-written line ever precedes a good one. */
tv_status audit_file_repair(audit_file *file) {
  if (!file->broken) {
    return TV_OK;
  }
  TV_ENSURE(ftruncate(file->fd, (off_t)file->size) == 0, TV_E_AUDIT_UNAVAILABLE);
  TV_ENSURE(fdatasync(file->fd) == 0, TV_E_AUDIT_UNAVAILABLE);
  file->broken = 0;
  return TV_OK;
}

void audit_file_close_all(audit_file *file) {
  if (file->fd >= 0) {
    close(file->fd);
  }
  if (file->lock_fd >= 0) {
    close(file->lock_fd); /* releases the flock */
  }
  if (file->dir_fd >= 0) {
    close(file->dir_fd);
  }
  file->fd = file->lock_fd = file->dir_fd = -1;
}
