#include "client/c/cli/atomic_out.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* Output buffer: large writes keep the syscall count low on 100 MB files. */
#define ATOMIC_BUFFER_BYTES (1u << 20)

static tv_status split_path(atomic_out *o, const char *path, cli_diag *diag) {
  size_t len = strlen(path);
  if (len == 0 || len + 32 >= ATOMIC_PATH_MAX) {
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "--out path is empty or too long");
  }
  memcpy(o->path, path, len + 1);
  char dir_copy[ATOMIC_PATH_MAX], base_copy[ATOMIC_PATH_MAX];
  memcpy(dir_copy, path, len + 1);
  memcpy(base_copy, path, len + 1);
  const char *dir = dirname(dir_copy);
  const char *base = basename(base_copy);
  int n = snprintf(o->temp, sizeof o->temp, "%s/.%s.tokenvault-partial", dir, base);
  if (n < 0 || (size_t)n >= sizeof o->temp) {
    return cli_fail(diag, TV_E_INVALID_ARGUMENT, "--out path is too long");
  }
  return TV_OK;
}

tv_status atomic_out_open(atomic_out *o, const char *path, cli_diag *diag) {
  memset(o, 0, sizeof *o);
  o->fd = -1;
  TV_TRY(split_path(o, path, diag));
  o->fd = open(o->temp, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (o->fd < 0) {
    return cli_fail(diag, TV_E_IO, "cannot create %s: %s (is the directory writable?)", o->temp, strerror(errno));
  }
  if (flock(o->fd, LOCK_EX | LOCK_NB) != 0) {
    close(o->fd);
    o->fd = -1;
    return cli_fail(diag, TV_E_IO, "another tokenvault run is writing %s: wait for it to finish", path);
  }
  /* Truncated only once locked: a concurrent run's file is never cut. */
  if (ftruncate(o->fd, 0) != 0 || (o->file = fdopen(o->fd, "w")) == NULL) {
    atomic_out_abort(o);
    return cli_fail(diag, TV_E_IO, "cannot prepare %s: %s", o->temp, strerror(errno));
  }
  setvbuf(o->file, NULL, _IOFBF, ATOMIC_BUFFER_BYTES);
  return TV_OK;
}

static int fsync_dir(const char *path) {
  char copy[ATOMIC_PATH_MAX];
  snprintf(copy, sizeof copy, "%s", path);
  int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    return -1;
  }
  int rc = fsync(dfd);
  close(dfd);
  return rc;
}

tv_status atomic_out_commit(atomic_out *o, cli_diag *diag) {
  if (fflush(o->file) != 0 || fsync(o->fd) != 0) {
    int e = errno;
    atomic_out_abort(o);
    return cli_fail(diag, TV_E_IO, "cannot write %s: %s (disk full?)", o->path, strerror(e));
  }
  /* Renamed while still locked, so no other run can truncate it between. */
  if (rename(o->temp, o->path) != 0) {
    int e = errno;
    atomic_out_abort(o);
    return cli_fail(diag, TV_E_IO, "cannot rename the output into %s: %s", o->path, strerror(e));
  }
  int dir_ok = fsync_dir(o->path) == 0;
  fclose(o->file); /* closes fd and releases the lock */
  o->file = NULL;
  o->fd = -1;
  if (!dir_ok) {
    return cli_fail(diag, TV_E_IO, "%s is written but its directory could not be synced", o->path);
  }
  return TV_OK;
}

void atomic_out_abort(atomic_out *o) {
  if (o->fd < 0) {
    return;
  }
  unlink(o->temp);
  if (o->file != NULL) {
    fclose(o->file);
  } else {
    close(o->fd);
  }
  o->file = NULL;
  o->fd = -1;
}
