/* Running lossyfs from a C test: mount it over a fresh directory, cut
 * the power, unmount. The binary is named by $LOSSYFS (ctest sets it). */
#ifndef TV_TESTS_POWERLOSS_LOSSYFS_CLIENT_H
#define TV_TESTS_POWERLOSS_LOSSYFS_CLIENT_H

#include <limits.h>
#include <sys/types.h>

typedef struct lf_mount {
  char work[PATH_MAX];  /* temporary directory holding the three below */
  char path[PATH_MAX];  /* the mount point: where the test's files go */
  pid_t pid;            /* the lossyfs process */
} lf_mount;

/* lf_mount_start mounts lossyfs over an empty directory. Returns 0, or -1
 * with a message on stderr (no $LOSSYFS, no /dev/fuse, mount failed). */
int lf_mount_start(lf_mount *m);

/* lf_mount_power_loss drops everything not made durable; returns 0 or -1.
 * No file on the mount may be open (stop the process under test first). */
int lf_mount_power_loss(const lf_mount *m);

/* lf_mount_sync_all makes everything there now durable (a test's set-up,
 * not the code under test); returns 0 or -1. */
int lf_mount_sync_all(const lf_mount *m);

/* lf_mount_stop unmounts, waits for lossyfs and removes the directory. */
void lf_mount_stop(lf_mount *m);

#endif
