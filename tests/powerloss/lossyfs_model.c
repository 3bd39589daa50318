/* See lossyfs_model.h. Sizes are those of tests (hundreds of files), so
 * lookups are linear scans and a sync copies the whole file. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "lossyfs_model.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Deeper durable trees than this are refused (a rename loop in the
 * durable listings would otherwise recurse forever). */
#define LF_DEPTH_MAX 32

typedef struct lf_entry {
  char *name;
  size_t id;
} lf_entry;

typedef struct lf_node {
  ino_t ino;       /* backing inode while the node has a name, else 0 */
  int is_dir;
  int has_shadow;  /* file: a durable copy exists (else durable = empty) */
  lf_entry *entries; /* directory: durable entries */
  size_t num_entries;
} lf_node;

static struct {
  int backing_fd;
  char state_dir[PATH_MAX];
  lf_node *nodes; /* id = index; 0 is unused */
  size_t num_nodes;
  size_t root_id;
  lf_stats stats;
} g;

static void free_entries(lf_node *n) {
  for (size_t i = 0; i < n->num_entries; i++) {
    free(n->entries[i].name);
  }
  free(n->entries);
  n->entries = NULL;
  n->num_entries = 0;
}

static size_t find_live(ino_t ino) {
  for (size_t id = 1; id < g.num_nodes; id++) {
    if (g.nodes[id].ino == ino) {
      return id;
    }
  }
  return 0;
}

/* new_node returns a fresh id for |ino| (nothing durable), or 0. */
static size_t new_node(ino_t ino, int is_dir) {
  lf_node *grown = realloc(g.nodes, (g.num_nodes + 1) * sizeof *grown);
  if (grown == NULL) {
    return 0;
  }
  g.nodes = grown;
  g.nodes[g.num_nodes] = (lf_node){.ino = ino, .is_dir = is_dir};
  g.stats.nodes = g.num_nodes;
  return g.num_nodes++;
}

static void shadow_path(char *out, size_t out_len, size_t id) {
  snprintf(out, out_len, "%s/shadow-%zu", g.state_dir, id);
}

/* copy_fd copies all of |from| (from offset 0) to |to|, which is empty. */
static int copy_fd(int from, int to) {
  char buf[1 << 16];
  off_t off = 0;
  for (;;) {
    ssize_t n = pread(from, buf, sizeof buf, off);
    if (n < 0) {
      return -errno;
    }
    if (n == 0) {
      return 0;
    }
    if (write(to, buf, (size_t)n) != n) {
      return -EIO;
    }
    off += n;
  }
}

/* save_shadow_from replaces node |id|'s durable contents with those of
 * |fd| (readable), through a temporary file so a failure keeps the old. */
static int save_shadow_from(size_t id, int fd) {
  char path[PATH_MAX + 32], tmp[PATH_MAX + 40];
  shadow_path(path, sizeof path, id);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    return -errno;
  }
  int err = copy_fd(fd, out);
  close(out);
  if (err == 0 && rename(tmp, path) != 0) {
    err = -errno;
  }
  if (err == 0) {
    g.nodes[id].has_shadow = 1;
  }
  return err;
}

/* save_shadow: as save_shadow_from, but |fd| may be write-only, so the
 * file is reopened for reading. */
static int save_shadow(size_t id, int fd) {
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
  int in = open(self, O_RDONLY | O_CLOEXEC);
  if (in < 0) {
    return -errno;
  }
  int err = save_shadow_from(id, in);
  close(in);
  return err;
}

/* list_dir reads |fd|'s current entries into node |id|'s durable list;
 * entries not known yet get a node with nothing durable. */
static int list_dir(size_t id, int fd) {
  int dfd = dup(fd);
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (d == NULL) {
    if (dfd >= 0) {
      close(dfd);
    }
    return -errno;
  }
  rewinddir(d); /* a dup shares the offset an earlier listing left at the end */
  free_entries(&g.nodes[id]);
  int err = 0;
  struct dirent *e;
  while (err == 0 && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      err = -errno;
      break;
    }
    size_t child = find_live(st.st_ino);
    if (child == 0 && (child = new_node(st.st_ino, S_ISDIR(st.st_mode))) == 0) {
      err = -ENOMEM;
      break;
    }
    lf_node *n = &g.nodes[id]; /* new_node may have moved the array */
    lf_entry *grown = realloc(n->entries, (n->num_entries + 1) * sizeof *grown);
    char *name = strdup(e->d_name);
    if (grown == NULL || name == NULL) {
      free(name);
      n->entries = grown != NULL ? grown : n->entries;
      err = -ENOMEM;
      break;
    }
    n->entries = grown;
    n->entries[n->num_entries++] = (lf_entry){.name = name, .id = child};
  }
  closedir(d);
  return err;
}

/* snapshot_tree marks everything under |fd| durable, depth first. */
static int snapshot_tree(int fd, size_t id, int depth) {
  if (depth > LF_DEPTH_MAX) {
    return -ELOOP;
  }
  int err = list_dir(id, fd);
  for (size_t i = 0; err == 0 && i < g.nodes[id].num_entries; i++) {
    lf_entry e = g.nodes[id].entries[i];
    int child = openat(fd, e.name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (child < 0) {
      return -errno;
    }
    err = g.nodes[e.id].is_dir ? snapshot_tree(child, e.id, depth + 1) : save_shadow(e.id, child);
    close(child);
  }
  return err;
}

static void clear_state(void) {
  for (size_t id = 1; id < g.num_nodes; id++) {
    char path[PATH_MAX + 32];
    shadow_path(path, sizeof path, id);
    unlink(path);
    free_entries(&g.nodes[id]);
  }
  free(g.nodes);
  g.nodes = NULL;
  g.num_nodes = 1; /* id 0 means "none" */
}

static int take_all_durable(void) {
  clear_state();
  struct stat st;
  if (fstat(g.backing_fd, &st) != 0) {
    return -errno;
  }
  g.nodes = calloc(1, sizeof *g.nodes);
  if (g.nodes == NULL || (g.root_id = new_node(st.st_ino, 1)) == 0) {
    return -ENOMEM;
  }
  return snapshot_tree(g.backing_fd, g.root_id, 0);
}

int lf_model_init(int backing_fd, const char *state_dir) {
  g.backing_fd = backing_fd;
  snprintf(g.state_dir, sizeof g.state_dir, "%s", state_dir);
  return take_all_durable();
}

int lf_model_created(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return -errno;
  }
  if (find_live(st.st_ino) != 0) {
    return 0; /* O_CREAT on a file that existed: same file */
  }
  return new_node(st.st_ino, S_ISDIR(st.st_mode)) != 0 ? 0 : -ENOMEM;
}

void lf_model_gone(ino_t ino) {
  size_t id = find_live(ino);
  if (id != 0) {
    g.nodes[id].ino = 0; /* its durable state stays, under its id */
  }
}

int lf_model_sync_file(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return -errno;
  }
  size_t id = find_live(st.st_ino);
  if (id == 0 && (id = new_node(st.st_ino, 0)) == 0) {
    return -ENOMEM;
  }
  g.stats.file_syncs++;
  return save_shadow(id, fd);
}

int lf_model_sync_dir(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return -errno;
  }
  size_t id = find_live(st.st_ino);
  if (id == 0 && (id = new_node(st.st_ino, 1)) == 0) {
    return -ENOMEM;
  }
  g.stats.dir_syncs++;
  return list_dir(id, fd);
}

/* remove_tree empties the directory |fd| (the volatile state). */
static int remove_tree(int fd, int depth) {
  if (depth > LF_DEPTH_MAX) {
    return -ELOOP;
  }
  int dfd = dup(fd);
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (d == NULL) {
    return -errno;
  }
  rewinddir(d); /* a dup shares the offset an earlier listing left at the end */
  int err = 0;
  struct dirent *e;
  while (err == 0 && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    if (unlinkat(fd, e->d_name, 0) == 0) {
      continue;
    }
    int child = openat(fd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    err = child < 0 ? -errno : remove_tree(child, depth + 1);
    if (child >= 0) {
      close(child);
    }
    if (err == 0 && unlinkat(fd, e->d_name, AT_REMOVEDIR) != 0) {
      err = -errno;
    }
  }
  closedir(d);
  return err;
}

/* restore_file writes node |id|'s durable contents as |name| in |dir_fd|. */
static int restore_file(int dir_fd, const char *name, size_t id) {
  int out = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (out < 0) {
    return -errno;
  }
  int err = 0;
  if (g.nodes[id].has_shadow) {
    char path[PATH_MAX + 32];
    shadow_path(path, sizeof path, id);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    err = in < 0 ? -errno : copy_fd(in, out);
    if (in >= 0) {
      close(in);
    }
  }
  close(out);
  return err;
}

/* restore_dir recreates node |id|'s durable entries inside |dir_fd|. */
static int restore_dir(int dir_fd, size_t id, int depth) {
  if (depth > LF_DEPTH_MAX) {
    return -ELOOP;
  }
  int err = 0;
  for (size_t i = 0; err == 0 && i < g.nodes[id].num_entries; i++) {
    const lf_entry *e = &g.nodes[id].entries[i];
    if (!g.nodes[e->id].is_dir) {
      err = restore_file(dir_fd, e->name, e->id);
      continue;
    }
    if (mkdirat(dir_fd, e->name, 0700) != 0) {
      return -errno;
    }
    int child = openat(dir_fd, e->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (child < 0) {
      return -errno;
    }
    err = restore_dir(child, e->id, depth + 1);
    close(child);
  }
  return err;
}

int lf_model_power_loss(void) {
  int err = remove_tree(g.backing_fd, 0);
  if (err == 0) {
    err = restore_dir(g.backing_fd, g.root_id, 0);
  }
  if (err == 0) {
    err = take_all_durable(); /* after the "reboot" all of it is on disk */
  }
  g.stats.power_losses++;
  return err;
}

int lf_model_sync_all(void) { return take_all_durable(); }

void lf_model_get_stats(lf_stats *out) { *out = g.stats; }

void lf_model_free(void) { clear_state(); }
