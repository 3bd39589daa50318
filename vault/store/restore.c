/* Verifying a backup and restoring it: every check happens before
 * anything is installed, and the install is a rename of a fully synced
 * temporary directory, so a crash mid-restore leaves either no store or
 * the whole store at the target. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/backup.h"
#include "vault/store/backup_io.h"
#include "vault/store/segment.h"

/* check_file compares one file's size and CRC with the manifest. */
static tv_status check_file(int dir_fd, const char *dir, const tv_backup_file *f, tv_store_diag *diag) {
  uint64_t len;
  uint32_t crc;
  tv_status st = tv_backup_file_crc(dir_fd, f->name, &len, &crc);
  if (st != TV_OK) {
    tv_backup_diag(diag, dir, f->name, 0, st == TV_E_STORE_LAYOUT ? "file missing" : "file unreadable");
    return st;
  }
  if (len != f->size) {
    tv_backup_diag(diag, dir, f->name, len < f->size ? len : f->size, "size differs from the manifest");
    return TV_E_STORE_CORRUPT;
  }
  if (crc != f->crc) {
    tv_backup_diag(diag, dir, f->name, 0, "CRC32C differs from the manifest");
    return TV_E_STORE_CORRUPT;
  }
  return TV_OK;
}

/* check_layout: at least one segment, ids contiguous, segments first. */
static tv_status check_layout(const tv_backup_manifest *m, const char *dir, tv_store_diag *diag) {
  size_t segs = 0;
  while (segs < m->num_files && m->files[segs].is_segment) {
    if (m->files[segs].seg_id != m->files[0].seg_id + segs || m->files[segs].seg_id == 0) {
      tv_backup_diag(diag, dir, m->files[segs].name, 0, "segment ids not contiguous in the manifest");
      return TV_E_STORE_LAYOUT;
    }
    segs++;
  }
  for (size_t i = segs; i < m->num_files; i++) {
    if (m->files[i].is_segment) {
      tv_backup_diag(diag, dir, m->files[i].name, 0, "segment listed after extra files");
      return TV_E_STORE_LAYOUT;
    }
  }
  if (segs == 0) {
    tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, "manifest lists no segment");
    return TV_E_STORE_LAYOUT;
  }
  return TV_OK;
}

static tv_status verify_open(int dir_fd, const char *dir, tv_backup_manifest *m, tv_store_diag *diag) {
  TV_TRY(tv_backup_manifest_read(dir_fd, dir, m, diag));
  TV_TRY(check_layout(m, dir, diag));
  uint64_t last_seq = 0, records = 0;
  for (size_t i = 0; i < m->num_files; i++) {
    const tv_backup_file *f = &m->files[i];
    TV_TRY(check_file(dir_fd, dir, f, diag));
    if (f->is_segment) {
      TV_TRY(tv_backup_check_segment(dir_fd, dir, f->name, f->seg_id, &last_seq, &records, diag));
    }
  }
  if (last_seq != m->last_seq || records != m->records) {
    tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, "record count or last sequence differs from the log");
    return TV_E_STORE_CORRUPT;
  }
  return TV_OK;
}

static void info_fill(const tv_backup_manifest *m, tv_store_snapshot_info *info) {
  if (info == NULL) {
    return;
  }
  memset(info, 0, sizeof *info);
  info->last_seq = m->last_seq;
  info->records = m->records;
  for (size_t i = 0; i < m->num_files; i++) {
    info->bytes += m->files[i].size;
    info->segments += m->files[i].is_segment ? 1u : 0u;
    info->extra_files += m->files[i].is_segment ? 0u : 1u;
  }
}

tv_status tv_store_verify_backup(const char *backup_dir, tv_store_snapshot_info *info, tv_store_diag *diag) {
  TV_ENSURE(backup_dir != NULL, TV_E_INVALID_ARGUMENT);
  tv_store_diag scratch;
  diag = diag != NULL ? diag : &scratch;
  memset(diag, 0, sizeof *diag);
  tv_store_io_error_clear();
  int dfd = open(backup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    tv_backup_diag(diag, backup_dir, ".", 0, "backup directory cannot be opened");
    return TV_E_STORE_LAYOUT;
  }
  tv_backup_manifest m;
  tv_status st = verify_open(dfd, backup_dir, &m, diag);
  if (st == TV_OK) {
    info_fill(&m, info);
  }
  tv_backup_manifest_free(&m);
  close(dfd);
  return st;
}

/* install_files copies every listed file into |tfd| and checks each copy
 * against the manifest again (the bytes installed are the ones verified). */
static tv_status install_files(int bfd, const char *bdir, int tfd, const tv_backup_manifest *m,
                               tv_store_diag *diag) {
  for (size_t i = 0; i < m->num_files; i++) {
    const tv_backup_file *f = &m->files[i];
    int fd = openat(bfd, f->name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      tv_backup_diag(diag, bdir, f->name, 0, "file vanished during restore");
      return TV_E_STORE_LAYOUT;
    }
    uint64_t len;
    uint32_t crc;
    tv_status st = tv_backup_copy(fd, f->size, tfd, f->name, &len, &crc);
    close(fd);
    if (st != TV_OK || len != f->size || crc != f->crc) {
      tv_backup_diag(diag, bdir, f->name, 0, "file changed or could not be copied during restore");
      return st != TV_OK ? st : TV_E_STORE_CORRUPT;
    }
  }
  TV_ENSURE(fsync(tfd) == 0, tv_store_fd_failed("fsync of the directory", tfd, errno));
  return TV_OK;
}

/* remove_tmp deletes a half-built temporary directory (flat). */
static void remove_tmp(const char *tmp, int tfd, const tv_backup_manifest *m) {
  for (size_t i = 0; i < m->num_files; i++) {
    unlinkat(tfd, m->files[i].name, 0);
  }
  rmdir(tmp);
}

/* target_ok: |target| must not exist, or be an empty directory. */
static tv_status target_ok(const char *target) {
  struct stat sb;
  if (stat(target, &sb) != 0) {
    return errno == ENOENT ? TV_OK : (tv_store_io_failed("stat", target, errno), TV_E_IO);
  }
  int fd;
  TV_TRY(tv_backup_open_empty_dir(target, &fd));
  close(fd);
  return TV_OK;
}

static tv_status install(int bfd, const char *bdir, const char *target, const tv_backup_manifest *m,
                         tv_store_diag *diag) {
  char tmp[PATH_MAX];
  TV_ENSURE(snprintf(tmp, sizeof tmp, "%s.restore-XXXXXX", target) < (int)sizeof tmp, TV_E_INVALID_ARGUMENT);
  if (mkdtemp(tmp) == NULL) {
    tv_store_io_failed("mkdtemp", tmp, errno);
    tv_backup_diag(diag, target, ".", 0, "cannot create a temporary directory beside the target");
    return TV_E_IO;
  }
  int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  tv_status st = tfd >= 0 ? install_files(bfd, bdir, tfd, m, diag) : (tv_store_io_failed("open", tmp, errno), TV_E_IO);
  /* rename(2) replaces an empty directory and fails on a non-empty one,
   * so a target filled meanwhile is still refused. */
  if (st == TV_OK && rename(tmp, target) != 0) {
    tv_store_io_failed("rename of the restored directory to", target, errno);
    st = (errno == ENOTEMPTY || errno == EEXIST || errno == ENOTDIR) ? TV_E_STORE_BACKUP_TARGET : TV_E_IO;
    tv_backup_diag(diag, target, ".", 0, "cannot rename the restored directory into place");
  }
  if (st != TV_OK && tfd >= 0) {
    remove_tmp(tmp, tfd, m);
  }
  if (tfd >= 0) {
    close(tfd);
  }
  return st;
}

/* sync_parent makes the rename durable. */
static tv_status sync_parent(const char *target) {
  char parent[PATH_MAX];
  snprintf(parent, sizeof parent, "%s", target);
  char *slash = strrchr(parent, '/');
  if (slash == NULL) {
    snprintf(parent, sizeof parent, ".");
  } else if (slash == parent) {
    parent[1] = '\0';
  } else {
    *slash = '\0';
  }
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  TV_ENSURE(fd >= 0, (tv_store_io_failed("open", parent, errno), TV_E_IO));
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  return rc == 0 ? TV_OK : (tv_store_io_failed("fsync", parent, err), TV_E_IO);
}

tv_status tv_store_restore(const char *backup_dir, const char *target_dir, tv_store_diag *diag) {
  TV_ENSURE(backup_dir != NULL && target_dir != NULL && target_dir[0] != '\0', TV_E_INVALID_ARGUMENT);
  tv_store_diag scratch;
  diag = diag != NULL ? diag : &scratch;
  memset(diag, 0, sizeof *diag);
  tv_store_io_error_clear();
  tv_status st = target_ok(target_dir);
  if (st != TV_OK) {
    tv_backup_diag(diag, target_dir, ".", 0, "restore target must not exist or be an empty directory");
    return st;
  }
  int bfd = open(backup_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (bfd < 0) {
    tv_backup_diag(diag, backup_dir, ".", 0, "backup directory cannot be opened");
    return TV_E_STORE_LAYOUT;
  }
  tv_backup_manifest m;
  st = verify_open(bfd, backup_dir, &m, diag);
  if (st == TV_OK) {
    st = install(bfd, backup_dir, target_dir, &m, diag);
  }
  if (st == TV_OK) {
    st = sync_parent(target_dir);
  }
  tv_backup_manifest_free(&m);
  close(bfd);
  return st;
}
