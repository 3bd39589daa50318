/* Making a new directory's name durable. fsync of a directory makes the
 * entries in it durable, not its own entry in its parent: a directory
 * just made with mkdir can vanish in a power cut, with every file in it,
 * however carefully those were fsynced (tests/powerloss found the store
 * and the audit log losing everything this way after a first start). */
#ifndef TV_UTIL_DIR_SYNC_H
#define TV_UTIL_DIR_SYNC_H

/* tv_mkdir_durable makes |path| (mode 0700) and fsyncs its parent
 * directory. Returns 0 if it made it, EEXIST if it existed already (its
 * parent is not synced then: it was made durable by whoever made it), or
 * another errno; on a failed fsync the directory stays made, and the
 * errno is the fsync's. */
int tv_mkdir_durable(const char *path);

/* tv_dir_sync_parent fsyncs the directory holding |path| ("." if |path|
 * has no slash). Returns 0 or an errno. */
int tv_dir_sync_parent(const char *path);

#endif
