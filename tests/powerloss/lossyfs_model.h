/* The durable-state model of lossyfs: what would survive a power cut.
 *
 * The backing directory always holds the volatile state (what a process
 * sees: the page cache, in a real kernel). Beside it the model keeps what
 * has been made durable, the way a POSIX filesystem promises it:
 *
 *   - a file's contents (and size) as of its last fsync/fdatasync, kept as
 *     a shadow copy in the state directory, per file (not per name: the
 *     contents follow the file through renames);
 *   - a directory's entries (name -> file) as of its last fsync, so a
 *     create, rename or unlink is durable only once its parent directory
 *     has been fsynced.
 *
 * Files are identified by the model's own id, not the backing inode
 * number, because the backing filesystem reuses inode numbers after an
 * unlink that is not yet durable. lf_model_power_loss rebuilds the backing
 * directory from the durable state alone; then everything there counts as
 * durable again (as after a reboot).
 *
 * Not thread-safe: lossyfs runs the FUSE loop single-threaded. */
#ifndef TV_TESTS_POWERLOSS_LOSSYFS_MODEL_H
#define TV_TESTS_POWERLOSS_LOSSYFS_MODEL_H

#include <stdint.h>
#include <sys/types.h>

/* Counters for the control file, so a test can see the syncs arrived. */
typedef struct lf_stats {
  uint64_t file_syncs;
  uint64_t dir_syncs;
  uint64_t power_losses;
  uint64_t nodes;
} lf_stats;

/* lf_model_init takes everything under |backing_fd| as durable (the
 * filesystem was cleanly mounted) and keeps shadow copies in |state_dir|
 * (empty, private to lossyfs). Returns 0 or -errno. */
int lf_model_init(int backing_fd, const char *state_dir);

/* lf_model_created records that the file or directory at |fd| (just
 * created or opened with O_CREAT) exists. A new inode gets a new id with
 * nothing durable: empty contents, no entries. */
int lf_model_created(int fd);

/* lf_model_gone records that the backing inode |ino| lost its (only) name:
 * its number may be reused by the next create. */
void lf_model_gone(ino_t ino);

/* lf_model_sync_file makes the contents of the file open as |fd| durable. */
int lf_model_sync_file(int fd);

/* lf_model_sync_dir makes the entries of the directory open as |fd|
 * durable. */
int lf_model_sync_dir(int fd);

/* lf_model_power_loss replaces the backing directory's contents with the
 * durable state. No process may have a file open on the mount. */
int lf_model_power_loss(void);

/* lf_model_sync_all makes everything as it is now durable (what a clean
 * writeback and unmount would leave): for a test's set-up, not for the
 * code under test. */
int lf_model_sync_all(void);

void lf_model_get_stats(lf_stats *out);

/* lf_model_free releases the model (at exit). */
void lf_model_free(void);

#endif
