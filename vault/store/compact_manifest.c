#include "vault/store/compact_manifest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vault/store/checkpoint.h"
#include "vault/store/crc32c.h"
#include "vault/store/cursor.h"
#include "vault/store/segment.h"

#define MANIFEST_MAGIC 0x4d435654u /* "TVCM" */
#define MANIFEST_VERSION 1u
#define MANIFEST_LEN TV_COMPACT_MANIFEST_LEN
#define MANIFEST_TMP_NAME "COMPACT.tmp"
#define OUTPUT_PREFIX "cmp-"

static void fault_at(tv_store_compact_fault_fn fault, void *ctx, tv_store_compact_step step) {
  if (fault != NULL) {
    fault(ctx, step);
  }
}

static tv_status sync_dir(int dir_fd) {
  TV_ENSURE(fsync(dir_fd) == 0, tv_store_fd_failed("fsync of the directory", dir_fd, errno));
  return TV_OK;
}

void tv_compact_output_name(char *out, size_t out_len, uint32_t ordinal) {
  snprintf(out, out_len, OUTPUT_PREFIX "%08" PRIx32 ".log", ordinal);
}

void tv_compact_manifest_encode(const tv_compact_manifest *m, uint8_t out[TV_COMPACT_MANIFEST_LEN]) {
  memset(out, 0, MANIFEST_LEN);
  tv_put_le32(out, MANIFEST_MAGIC);
  tv_put_le32(out + 4, MANIFEST_VERSION);
  tv_put_le32(out + 8, m->old_first);
  tv_put_le32(out + 12, m->old_last);
  tv_put_le32(out + 16, m->new_first);
  tv_put_le32(out + 20, m->new_count);
  tv_put_le32(out + 28, tv_crc32c_extend(0, out, 28));
}

/* Only a manifest whose ranges are what a compaction writes is accepted:
 * applying a wrong one would unlink live segments. */
tv_status tv_compact_manifest_decode(const uint8_t in[TV_COMPACT_MANIFEST_LEN], tv_compact_manifest *m) {
  TV_ENSURE(tv_le32(in) == MANIFEST_MAGIC && tv_le32(in + 4) == MANIFEST_VERSION && tv_le32(in + 24) == 0,
            TV_E_STORE_CORRUPT);
  TV_ENSURE(tv_le32(in + 28) == tv_crc32c_extend(0, in, 28), TV_E_STORE_CORRUPT);
  m->old_first = tv_le32(in + 8);
  m->old_last = tv_le32(in + 12);
  m->new_first = tv_le32(in + 16);
  m->new_count = tv_le32(in + 20);
  TV_ENSURE(m->old_first != 0 && m->old_first <= m->old_last && m->old_last < TV_STORE_SEGMENTS_MAX,
            TV_E_STORE_CORRUPT);
  TV_ENSURE(m->new_count <= m->old_last - m->old_first + 1 && m->new_first == m->old_last + 1 - m->new_count,
            TV_E_STORE_CORRUPT);
  return TV_OK;
}

tv_status tv_compact_manifest_commit(int dir_fd, const tv_compact_manifest *m, tv_store_compact_fault_fn fault,
                                     void *fault_ctx) {
  uint8_t buf[MANIFEST_LEN];
  tv_compact_manifest_encode(m, buf);
  int fd = openat(dir_fd, MANIFEST_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  TV_ENSURE(fd >= 0, tv_store_io_failed("create", MANIFEST_TMP_NAME, errno));
  tv_status st =
      pwrite(fd, buf, sizeof buf, 0) == (ssize_t)sizeof buf ? TV_OK : tv_store_io_failed("pwrite", MANIFEST_TMP_NAME, errno);
  if (st == TV_OK && fsync(fd) != 0) {
    st = tv_store_io_failed("fsync", MANIFEST_TMP_NAME, errno);
  }
  close(fd);
  if (st == TV_OK) {
    fault_at(fault, fault_ctx, TV_COMPACT_STEP_MANIFEST_TMP);
    st = renameat(dir_fd, MANIFEST_TMP_NAME, dir_fd, TV_COMPACT_MANIFEST_NAME) == 0
             ? TV_OK
             : tv_store_io_failed("rename", MANIFEST_TMP_NAME, errno);
  }
  if (st != TV_OK) {
    unlinkat(dir_fd, MANIFEST_TMP_NAME, 0);
    return st;
  }
  /* Only once the name is durable is the compaction committed. */
  TV_TRY(sync_dir(dir_fd));
  fault_at(fault, fault_ctx, TV_COMPACT_STEP_COMMITTED);
  return TV_OK;
}

int tv_compact_manifest_exists(int dir_fd) { return faccessat(dir_fd, TV_COMPACT_MANIFEST_NAME, F_OK, 0) == 0; }

static tv_status unlink_if_there(int dir_fd, const char *name) {
  TV_ENSURE(unlinkat(dir_fd, name, 0) == 0 || errno == ENOENT, tv_store_io_failed("unlink", name, errno));
  return TV_OK;
}

tv_status tv_compact_remove_checkpoint(int dir_fd, tv_store_compact_fault_fn fault, void *fault_ctx) {
  TV_TRY(unlink_if_there(dir_fd, TV_CHECKPOINT_NAME));
  TV_TRY(sync_dir(dir_fd));
  fault_at(fault, fault_ctx, TV_COMPACT_STEP_CKPT_REMOVED);
  return TV_OK;
}

tv_status tv_compact_rename_outputs(int dir_fd, const tv_compact_manifest *m, tv_store_compact_fault_fn fault,
                                    void *fault_ctx) {
  for (uint32_t i = 0; i < m->new_count; i++) {
    char from[32], to[32];
    tv_compact_output_name(from, sizeof from, i);
    tv_segment_name(to, sizeof to, m->new_first + i);
    /* Missing output: renamed before a crash (outputs all exist at commit). */
    if (renameat(dir_fd, from, dir_fd, to) != 0) {
      TV_ENSURE(errno == ENOENT, tv_store_io_failed("rename to a segment", from, errno));
    }
    if (i == 0) {
      fault_at(fault, fault_ctx, TV_COMPACT_STEP_RENAMED_ONE);
    }
  }
  TV_TRY(sync_dir(dir_fd));
  fault_at(fault, fault_ctx, TV_COMPACT_STEP_RENAMED_ALL);
  return TV_OK;
}

tv_status tv_compact_finish(int dir_fd, const tv_compact_manifest *m, tv_store_compact_fault_fn fault,
                            void *fault_ctx) {
  for (uint32_t id = m->old_first; id < m->new_first; id++) {
    char name[32];
    tv_segment_name(name, sizeof name, id);
    TV_TRY(unlink_if_there(dir_fd, name));
  }
  TV_TRY(sync_dir(dir_fd));
  fault_at(fault, fault_ctx, TV_COMPACT_STEP_OLD_REMOVED);
  TV_TRY(unlink_if_there(dir_fd, TV_COMPACT_MANIFEST_NAME));
  TV_TRY(sync_dir(dir_fd));
  fault_at(fault, fault_ctx, TV_COMPACT_STEP_DONE);
  return TV_OK;
}

tv_status tv_compact_discard(int dir_fd) {
  int dup_fd = dup(dir_fd);
  TV_ENSURE(dup_fd >= 0, (tv_store_fd_failed("dup", dir_fd, errno), TV_E_IO));
  DIR *d = fdopendir(dup_fd);
  if (d == NULL) {
    tv_store_fd_failed("fdopendir", dir_fd, errno);
    close(dup_fd);
    return TV_E_IO;
  }
  /* The dup shares the store fd's offset, which an earlier listing left
   * at the end: without this a second discard in one process saw nothing. */
  rewinddir(d);
  tv_status st = TV_OK;
  int removed = 0;
  struct dirent *e;
  while (st == TV_OK && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, OUTPUT_PREFIX, strlen(OUTPUT_PREFIX)) == 0 || strcmp(e->d_name, MANIFEST_TMP_NAME) == 0) {
      st = unlink_if_there(dir_fd, e->d_name);
      removed = 1;
    }
  }
  closedir(d);
  TV_TRY(st);
  return removed ? sync_dir(dir_fd) : TV_OK;
}

static tv_status read_manifest(int dir_fd, uint8_t buf[MANIFEST_LEN + 1], int *out_found) {
  *out_found = 0;
  int fd = openat(dir_fd, TV_COMPACT_MANIFEST_NAME, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    TV_ENSURE(errno == ENOENT, (tv_store_io_failed("open", TV_COMPACT_MANIFEST_NAME, errno), TV_E_IO));
    return TV_OK;
  }
  ssize_t n = pread(fd, buf, MANIFEST_LEN + 1, 0); /* one more: a longer file is wrong */
  int err = errno;
  close(fd);
  /* A failed read is not a damaged manifest: say which call failed. */
  TV_ENSURE(n >= 0, (tv_store_io_failed("pread", TV_COMPACT_MANIFEST_NAME, err), TV_E_IO));
  TV_ENSURE(n == (ssize_t)MANIFEST_LEN, TV_E_STORE_CORRUPT);
  *out_found = 1;
  return TV_OK;
}

tv_status tv_compact_resume(int dir_fd, const char *dir, tv_store_diag *diag) {
  uint8_t buf[MANIFEST_LEN + 1];
  int found = 0;
  tv_compact_manifest m;
  tv_status st = read_manifest(dir_fd, buf, &found);
  if (st == TV_OK && !found) {
    return tv_compact_discard(dir_fd);
  }
  if (st == TV_OK) {
    st = tv_compact_manifest_decode(buf, &m);
  }
  if (st != TV_OK) {
    snprintf(diag->path, sizeof diag->path, "%.4000s/%s", dir, TV_COMPACT_MANIFEST_NAME);
    diag->offset = 0;
    diag->io_failure = st == TV_E_IO;
    snprintf(diag->message, sizeof diag->message,
             "compaction manifest unreadable (%.180s): not guessing which segments are current",
             st == TV_E_IO ? tv_store_io_error() : tv_status_name(st));
    return st == TV_E_IO ? st : TV_E_STORE_CORRUPT;
  }
  TV_TRY(tv_compact_remove_checkpoint(dir_fd, NULL, NULL));
  TV_TRY(tv_compact_rename_outputs(dir_fd, &m, NULL, NULL));
  TV_TRY(tv_compact_finish(dir_fd, &m, NULL, NULL));
  return tv_compact_discard(dir_fd);
}
