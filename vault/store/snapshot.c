/* Online snapshot of the io_uring log.
 *
 * The commit point is the writer's |durable| mark (segment id << 32 |
 * offset), published atomically after each batch's write and fdatasync
 * have both completed and before any producer is told. Reading it once
 * is the whole critical section: every segment before that id is sealed
 * (sealed before the next one is created, never written again), and the
 * bytes of the marked segment up to that offset are complete committed
 * batches that the writer never rewrites (a failed write is cut back only
 * to its own start, which is at or after the mark). So the copy runs
 * without holding anything while the writer keeps appending, and a
 * segment created after the mark is simply not part of this snapshot. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/backup_io.h"
#include "vault/store/segment.h"
#include "vault/store/ustore.h"

/* copy_segments copies segments [first, mark's id] into |dfd|. */
static tv_status copy_segments(tv_ustore *u, uint64_t mark, int dfd, const char *dest, tv_backup_manifest *m,
                               tv_store_snapshot_info *info) {
  uint32_t last = (uint32_t)(mark >> 32);
  uint64_t last_len = mark & 0xffffffffu;
  for (uint32_t id = u->first_seg; id <= last; id++) {
    char name[32];
    tv_segment_name(name, sizeof name, id);
    int fd = tv_ustore_seg_fd(u, id);
    if (fd < 0) {
      tv_backup_diag(&info->diag, u->dir, name, 0, "segment not open");
      return TV_E_STORE_LAYOUT;
    }
    uint64_t want = last_len;
    if (id != last) { /* sealed: its size is final */
      struct stat sb;
      TV_ENSURE(fstat(fd, &sb) == 0, (tv_store_io_failed("fstat", name, errno), TV_E_IO));
      want = (uint64_t)sb.st_size;
    }
    uint64_t len;
    uint32_t crc;
    tv_status st = tv_backup_copy(fd, want, dfd, name, &len, &crc);
    if (st != TV_OK) {
      tv_backup_diag(&info->diag, dest, name, 0, "copy failed");
      return st;
    }
    TV_TRY(tv_backup_add_file(m, name, len, crc));
    /* Re-read the copy: a snapshot of damaged bytes is refused now, not
     * discovered at restore time. */
    TV_TRY(tv_backup_check_segment(dfd, dest, name, id, &m->last_seq, &m->records, &info->diag));
    info->segments++;
    info->bytes += len;
  }
  return TV_OK;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash != NULL ? slash + 1 : path;
}

/* copy_extras copies each extra file, opened once, under its base name. */
static tv_status copy_extras(const char *const *paths, size_t num, int dfd, const char *dest,
                             tv_backup_manifest *m, tv_store_snapshot_info *info) {
  for (size_t i = 0; i < num; i++) {
    const char *name = base_name(paths[i]);
    uint32_t seg_id;
    if (!tv_backup_name_ok(name) || tv_segment_parse_name(name, &seg_id)) {
      tv_backup_diag(&info->diag, dest, name, 0, "extra file name not allowed in a backup");
      return TV_E_INVALID_ARGUMENT;
    }
    int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      tv_store_io_failed("open", paths[i], errno);
      tv_backup_diag(&info->diag, ".", paths[i], 0, "extra file cannot be opened");
      return TV_E_IO;
    }
    uint64_t len;
    uint32_t crc;
    tv_status st = tv_backup_copy(fd, UINT64_MAX, dfd, name, &len, &crc);
    close(fd);
    if (st != TV_OK) {
      tv_backup_diag(&info->diag, dest, name, 0, "copy failed (or the name is used twice)");
      return st;
    }
    TV_TRY(tv_backup_add_file(m, name, len, crc));
    info->extra_files++;
    info->bytes += len;
  }
  return TV_OK;
}

tv_status tv_ustore_snapshot(void *impl, const char *dest_dir, const char *const *extra_paths, size_t num_extra,
                             tv_store_snapshot_info *info) {
  tv_ustore *u = impl;
  int dfd;
  tv_status st = tv_backup_open_empty_dir(dest_dir, &dfd);
  if (st != TV_OK) {
    tv_backup_diag(&info->diag, dest_dir, ".", 0, "destination must be a new or empty directory");
    return st;
  }
  /* A compaction's swap would replace files under the copy: wait it out. */
  tv_ustore_maint_shared_begin(u);
  uint64_t mark = atomic_load(&u->durable);
  tv_backup_manifest m;
  memset(&m, 0, sizeof m);
  st = copy_segments(u, mark, dfd, dest_dir, &m, info);
  tv_ustore_maint_shared_end(u);
  if (st == TV_OK) {
    st = copy_extras(extra_paths, num_extra, dfd, dest_dir, &m, info);
  }
  if (st == TV_OK && fsync(dfd) != 0) { /* every name before the manifest */
    st = tv_store_fd_failed("fsync of the directory", dfd, errno);
  }
  if (st == TV_OK) {
    st = tv_backup_manifest_write(dfd, &m);
  }
  info->last_seq = m.last_seq;
  info->records = m.records;
  tv_backup_manifest_free(&m);
  close(dfd);
  return st;
}
