/* See lossyfs_client.h. */
#include "lossyfs_client.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bound on waiting for the mount to appear (polled every 20 ms). */
#define LF_MOUNT_POLLS_MAX 500

/* mounted: the control file answers only once lossyfs serves the mount. */
static int mounted(const lf_mount *m) {
  char control[PATH_MAX + 16];
  snprintf(control, sizeof control, "%s/.lossyfs", m->path);
  struct stat st;
  return stat(control, &st) == 0;
}

static int make_dirs(lf_mount *m, char *backing, char *state) {
  const char *tmp = getenv("TMPDIR");
  snprintf(m->work, sizeof m->work, "%s/tv-powerloss-XXXXXX", tmp != NULL ? tmp : "/tmp");
  if (mkdtemp(m->work) == NULL) {
    return -1;
  }
  snprintf(backing, PATH_MAX, "%.*s/backing", PATH_MAX - 16, m->work);
  snprintf(state, PATH_MAX, "%.*s/state", PATH_MAX - 16, m->work);
  snprintf(m->path, sizeof m->path, "%.*s/mnt", PATH_MAX - 16, m->work);
  return mkdir(backing, 0700) == 0 && mkdir(state, 0700) == 0 && mkdir(m->path, 0700) == 0 ? 0 : -1;
}

int lf_mount_start(lf_mount *m) {
  memset(m, 0, sizeof *m);
  const char *bin = getenv("LOSSYFS");
  if (bin == NULL || access(bin, X_OK) != 0 || access("/dev/fuse", R_OK | W_OK) != 0) {
    fprintf(stderr, "lossyfs: $LOSSYFS must name the lossyfs binary, and /dev/fuse must be usable\n");
    return -1;
  }
  char backing[PATH_MAX], state[PATH_MAX];
  if (make_dirs(m, backing, state) != 0) {
    fprintf(stderr, "lossyfs: cannot make directories: %s\n", strerror(errno));
    return -1;
  }
  fflush(NULL);
  m->pid = fork();
  if (m->pid == 0) {
    execl(bin, bin, backing, state, m->path, (char *)NULL);
    _exit(127);
  }
  for (int i = 0; m->pid > 0 && i < LF_MOUNT_POLLS_MAX; i++) {
    if (mounted(m)) {
      return 0;
    }
    if (waitpid(m->pid, NULL, WNOHANG) == m->pid) {
      break;
    }
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  fprintf(stderr, "lossyfs: the mount did not appear at %s\n", m->path);
  return -1;
}

static int control(const lf_mount *m, const char *command) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/.lossyfs", m->path);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return -1;
  }
  size_t len = strlen(command);
  int ok = write(fd, command, len) == (ssize_t)len;
  close(fd);
  return ok ? 0 : -1;
}

int lf_mount_power_loss(const lf_mount *m) { return control(m, "powerloss"); }

int lf_mount_sync_all(const lf_mount *m) { return control(m, "sync"); }

void lf_mount_stop(lf_mount *m) {
  if (m->pid <= 0) {
    return;
  }
  if (umount2(m->path, 0) != 0 && umount2(m->path, MNT_DETACH) != 0) {
    kill(m->pid, SIGTERM);
  }
  waitpid(m->pid, NULL, 0);
  m->pid = 0;
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", m->work);
  if (system(cmd) != 0) {
    fprintf(stderr, "lossyfs: could not remove %s\n", m->work);
  }
}
