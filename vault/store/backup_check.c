/* Checking a copied segment record by record, the way recovery does, but
 * stricter: a backup has no torn tail, so every byte of every segment
 * must belong to a valid record. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/backup_io.h"
#include "vault/store/record.h"

static tv_status walk(const uint8_t *map, uint64_t size, const char *dir, const char *name, uint32_t id,
                      uint64_t *io_last_seq, uint64_t *io_records, tv_store_diag *diag) {
  uint64_t off = 0;
  while (off < size) {
    tv_record r;
    size_t len;
    tv_status st = tv_record_decode(map + off, size - off, &r, &len);
    if (st != TV_OK) {
      tv_backup_diag(diag, dir, name, off, tv_status_name(st));
      return TV_E_STORE_CORRUPT;
    }
    int is_header = r.header.type == TV_RECORD_SEGMENT_HEADER;
    if (is_header != (off == 0) || (is_header && r.body.segment.segment_id != id)) {
      tv_backup_diag(diag, dir, name, off, "segment header missing or misplaced");
      return TV_E_STORE_CORRUPT;
    }
    if (r.header.seq <= *io_last_seq) {
      tv_backup_diag(diag, dir, name, off, "sequence numbers do not increase");
      return TV_E_STORE_CORRUPT;
    }
    *io_last_seq = r.header.seq;
    *io_records += r.header.type == TV_RECORD_PUT || r.header.type == TV_RECORD_REPUT ||
                   r.header.type == TV_RECORD_DELETE;
    off += len;
  }
  return TV_OK;
}

tv_status tv_backup_check_segment(int dir_fd, const char *dir, const char *name, uint32_t id,
                                  uint64_t *io_last_seq, uint64_t *io_records, tv_store_diag *diag) {
  int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    tv_backup_diag(diag, dir, name, 0, "segment file missing");
    return errno == ENOENT ? TV_E_STORE_LAYOUT : TV_E_IO;
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    close(fd);
    return TV_E_IO;
  }
  uint64_t size = (uint64_t)sb.st_size;
  if (size == 0) {
    close(fd);
    tv_backup_diag(diag, dir, name, 0, "empty segment");
    return TV_E_STORE_CORRUPT;
  }
  void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  TV_ENSURE(m != MAP_FAILED, TV_E_NO_MEMORY);
  madvise(m, size, MADV_SEQUENTIAL);
  tv_status st = walk(m, size, dir, name, id, io_last_seq, io_records, diag);
  munmap(m, size);
  return st;
}
