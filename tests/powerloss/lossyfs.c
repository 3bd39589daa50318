/* lossyfs: a FUSE filesystem for tests that can lose power.
 *
 *   lossyfs BACKING STATE MOUNTPOINT [FUSE options]
 *
 * Passes every call through to the directory BACKING, and remembers (see
 * lossyfs_model.h) what a real disk would still hold after a power cut:
 * file contents as of their last fsync/fdatasync, directory entries as of
 * the directory's last fsync. Writing "powerloss" to MOUNTPOINT/.lossyfs
 * (a file only lossyfs answers; it is not listed) puts BACKING back to
 * that durable state before the write returns ("sync" instead makes all
 * of the present state durable, for a test's set-up); reading it gives
 * counters.
 * Stop whatever runs on the mount first (SIGKILL it): open files would
 * still name the volatile state.
 *
 * Runs in the foreground, single-threaded (so the model needs no locks
 * and a power loss never races a call), with kernel caching of names and
 * attributes off (a rebuilt directory must not be seen through stale
 * entries). fallocate answers EOPNOTSUPP, as FUSE filesystems commonly do
 * and as the kernel answers for one that does not implement it.
 * Test tool only: no permission checks beyond the backing directory's. */
#define FUSE_USE_VERSION 31
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "lossyfs_model.h"

#define LF_CONTROL_PATH "/.lossyfs"
/* fi->fh of the control file: never a valid descriptor. */
#define LF_CONTROL_FH UINT64_MAX

static int g_root = -1;

/* rel turns a FUSE path ("/a/b") into one relative to g_root ("a/b"). */
static const char *rel(const char *path) { return path[1] == '\0' ? "." : path + 1; }

static int is_control(const char *path) { return path != NULL && strcmp(path, LF_CONTROL_PATH) == 0; }

static int neg_errno(int rc) { return rc < 0 ? -errno : rc; }

static void *lf_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  (void)conn;
  cfg->entry_timeout = 0;
  cfg->attr_timeout = 0;
  cfg->negative_timeout = 0;
  cfg->hard_remove = 1; /* unlink really unlinks: no .fuse_hidden files */
  cfg->nullpath_ok = 1;
  cfg->use_ino = 0;
  cfg->kernel_cache = 0; /* page cache dropped at each open */
  return NULL;
}

static int lf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  if (is_control(path)) {
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    return 0;
  }
  if (fi != NULL && fi->fh != LF_CONTROL_FH) {
    return neg_errno(fstat((int)fi->fh, st));
  }
  return neg_errno(fstatat(g_root, rel(path), st, AT_SYMLINK_NOFOLLOW));
}

static int lf_opendir(const char *path, struct fuse_file_info *fi) {
  int fd = openat(g_root, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return -errno;
  }
  fi->fh = (uint64_t)fd;
  return 0;
}

static int lf_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
  (void)path;
  (void)off;
  (void)flags;
  int fd = dup((int)fi->fh);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (d == NULL) {
    return -errno;
  }
  rewinddir(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    struct stat st = {.st_ino = e->d_ino, .st_mode = (mode_t)DTTOIF(e->d_type)};
    if (filler(buf, e->d_name, &st, 0, 0) != 0) {
      break;
    }
  }
  closedir(d);
  return 0;
}

static int lf_releasedir(const char *path, struct fuse_file_info *fi) {
  (void)path;
  close((int)fi->fh);
  return 0;
}

static int lf_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path;
  (void)datasync;
  return lf_model_sync_dir((int)fi->fh);
}

static int lf_mkdir(const char *path, mode_t mode) {
  if (mkdirat(g_root, rel(path), mode) != 0) {
    return -errno;
  }
  int fd = openat(g_root, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return -errno;
  }
  int err = lf_model_created(fd);
  close(fd);
  return err;
}

/* remove_name unlinks |path| (a directory if |dir_flag|) and tells the
 * model its inode may be reused. */
static int remove_name(const char *path, int dir_flag) {
  struct stat st;
  if (fstatat(g_root, rel(path), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return -errno;
  }
  if (unlinkat(g_root, rel(path), dir_flag) != 0) {
    return -errno;
  }
  lf_model_gone(st.st_ino);
  return 0;
}

static int lf_unlink(const char *path) { return is_control(path) ? -EPERM : remove_name(path, 0); }

static int lf_rmdir(const char *path) { return remove_name(path, AT_REMOVEDIR); }

static int lf_rename(const char *from, const char *to, unsigned int flags) {
  if (is_control(from) || is_control(to)) {
    return -EPERM;
  }
  struct stat st;
  int replaced = !(flags & RENAME_EXCHANGE) && fstatat(g_root, rel(to), &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (renameat2(g_root, rel(from), g_root, rel(to), flags) != 0) {
    return -errno;
  }
  if (replaced) {
    lf_model_gone(st.st_ino);
  }
  return 0;
}

/* backing_flags: what the backing file is opened with. O_DIRECT is
 * dropped: lossyfs's buffers are not aligned, and it changes nothing
 * about durability here (only fsync counts). */
static int backing_flags(int flags) { return (flags & ~O_DIRECT) | O_CLOEXEC; }

static int lf_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  if (is_control(path)) {
    return -EEXIST;
  }
  int fd = openat(g_root, rel(path), backing_flags(fi->flags) | O_CREAT, mode);
  if (fd < 0) {
    return -errno;
  }
  int err = lf_model_created(fd);
  if (err != 0) {
    close(fd);
    return err;
  }
  fi->fh = (uint64_t)fd;
  return 0;
}

static int lf_open(const char *path, struct fuse_file_info *fi) {
  if (is_control(path)) {
    fi->fh = LF_CONTROL_FH;
    fi->direct_io = 1; /* its contents are generated: never cache them */
    return 0;
  }
  int fd = openat(g_root, rel(path), backing_flags(fi->flags));
  if (fd < 0) {
    return -errno;
  }
  fi->fh = (uint64_t)fd;
  return 0;
}

static int control_read(char *buf, size_t size, off_t off) {
  lf_stats s;
  lf_model_get_stats(&s);
  char text[256];
  int len = snprintf(text, sizeof text, "file_syncs %" PRIu64 "\ndir_syncs %" PRIu64 "\npower_losses %" PRIu64
                     "\nnodes %" PRIu64 "\n", s.file_syncs, s.dir_syncs, s.power_losses, s.nodes);
  if (off >= len) {
    return 0;
  }
  size_t n = (size_t)(len - off) < size ? (size_t)(len - off) : size;
  memcpy(buf, text + off, n);
  return (int)n;
}

static int lf_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  if (fi->fh == LF_CONTROL_FH) {
    return control_read(buf, size, off);
  }
  return neg_errno((int)pread((int)fi->fh, buf, size, off));
}

static int control_write(const char *buf, size_t size) {
  int err;
  if (size >= 9 && memcmp(buf, "powerloss", 9) == 0) {
    err = lf_model_power_loss();
  } else if (size >= 4 && memcmp(buf, "sync", 4) == 0) {
    err = lf_model_sync_all();
  } else {
    return -EINVAL;
  }
  if (err != 0) {
    fprintf(stderr, "lossyfs: %.*s failed: %s\n", (int)(size < 9 ? size : 9), buf, strerror(-err));
    return err;
  }
  return (int)size;
}

static int lf_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  if (fi->fh == LF_CONTROL_FH) {
    return control_write(buf, size);
  }
  return neg_errno((int)pwrite((int)fi->fh, buf, size, off));
}

static int lf_flush(const char *path, struct fuse_file_info *fi) {
  (void)path;
  (void)fi;
  return 0; /* close() is not a sync */
}

static int lf_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  if (fi->fh != LF_CONTROL_FH) {
    close((int)fi->fh);
  }
  return 0;
}

static int lf_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path;
  (void)datasync; /* both make contents and size durable */
  if (fi->fh == LF_CONTROL_FH) {
    return 0;
  }
  return lf_model_sync_file((int)fi->fh);
}

static int lf_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  if (is_control(path)) {
    return 0;
  }
  if (fi != NULL) {
    return neg_errno(ftruncate((int)fi->fh, size));
  }
  int fd = openat(g_root, rel(path), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return -errno;
  }
  int rc = neg_errno(ftruncate(fd, size));
  close(fd);
  return rc;
}

static int lf_fallocate(const char *path, int mode, off_t off, off_t len, struct fuse_file_info *fi) {
  (void)path;
  (void)mode;
  (void)off;
  (void)len;
  (void)fi;
  return -EOPNOTSUPP;
}

static int lf_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  if (fi != NULL && fi->fh != LF_CONTROL_FH) {
    return neg_errno(futimens((int)fi->fh, tv));
  }
  return is_control(path) ? 0 : neg_errno(utimensat(g_root, rel(path), tv, AT_SYMLINK_NOFOLLOW));
}

static int lf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  if (fi != NULL && fi->fh != LF_CONTROL_FH) {
    return neg_errno(fchmod((int)fi->fh, mode));
  }
  return is_control(path) ? 0 : neg_errno(fchmodat(g_root, rel(path), mode, 0));
}

static int lf_statfs(const char *path, struct statvfs *st) {
  (void)path;
  return neg_errno(fstatvfs(g_root, st));
}

static const struct fuse_operations lf_ops = {
    .init = lf_init,
    .getattr = lf_getattr,
    .opendir = lf_opendir,
    .readdir = lf_readdir,
    .releasedir = lf_releasedir,
    .fsyncdir = lf_fsyncdir,
    .mkdir = lf_mkdir,
    .unlink = lf_unlink,
    .rmdir = lf_rmdir,
    .rename = lf_rename,
    .create = lf_create,
    .open = lf_open,
    .read = lf_read,
    .write = lf_write,
    .flush = lf_flush,
    .release = lf_release,
    .fsync = lf_fsync,
    .truncate = lf_truncate,
    .fallocate = lf_fallocate,
    .utimens = lf_utimens,
    .chmod = lf_chmod,
    .statfs = lf_statfs,
};

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: lossyfs BACKING STATE MOUNTPOINT [FUSE options]\n");
    return 2;
  }
  g_root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (g_root < 0) {
    fprintf(stderr, "lossyfs: cannot open backing directory %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  char state[PATH_MAX];
  if (realpath(argv[2], state) == NULL) { /* libfuse may chdir("/") */
    fprintf(stderr, "lossyfs: state directory %s: %s\n", argv[2], strerror(errno));
    return 1;
  }
  int err = lf_model_init(g_root, state);
  if (err != 0) {
    fprintf(stderr, "lossyfs: cannot snapshot %s into %s: %s\n", argv[1], argv[2], strerror(-err));
    return 1;
  }
  /* argv for libfuse: the mount point, foreground, single-threaded, then
   * whatever the caller added. */
  char **fargv = calloc((size_t)argc + 2, sizeof *fargv);
  if (fargv == NULL) {
    return 1;
  }
  int n = 0;
  fargv[n++] = argv[0];
  fargv[n++] = argv[3];
  fargv[n++] = "-f";
  fargv[n++] = "-s";
  for (int i = 4; i < argc; i++) {
    fargv[n++] = argv[i];
  }
  int rc = fuse_main(n, fargv, &lf_ops, NULL);
  free(fargv);
  lf_model_free();
  return rc;
}
