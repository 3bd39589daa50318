#include "vault/util/dir_sync.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int tv_dir_sync_parent(const char *path) {
  char parent[PATH_MAX];
  if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent) {
    return ENAMETOOLONG;
  }
  size_t len = strlen(parent);
  while (len > 1 && parent[len - 1] == '/') { /* "a/b/" names b */
    parent[--len] = '\0';
  }
  char *slash = strrchr(parent, '/');
  if (slash == NULL) {
    snprintf(parent, sizeof parent, ".");
  } else {
    slash[slash == parent ? 1 : 0] = '\0'; /* "/b" -> "/" */
  }
  int fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return errno;
  }
  int err = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  return err;
}

int tv_mkdir_durable(const char *path) {
  if (mkdir(path, 0700) != 0) {
    return errno;
  }
  return tv_dir_sync_parent(path);
}
