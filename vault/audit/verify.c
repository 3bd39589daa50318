/* tv_audit_verify_files: maps each segment file and walks it. */
#include "vault/audit/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/audit/verifier.h"

static tv_status io_problem(tv_audit_verify_result *r, size_t index, const char *what, int err) {
  r->status = TV_E_IO;
  r->file_index = index;
  r->line = 0;
  r->seq = 0;
  snprintf(r->text, sizeof r->text, "cannot %s: %s", what, strerror(err));
  return TV_E_IO;
}

/* Maps a whole file read-only (an empty file maps to nothing). */
static tv_status verify_one(audit_verifier *v, size_t index, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return io_problem(v->result, index, "open the file", errno);
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int err = errno != 0 ? errno : EINVAL;
    close(fd);
    return io_problem(v->result, index, "read the file (not a regular file?)", err);
  }
  size_t len = (size_t)st.st_size;
  const char *buf = "";
  void *map = NULL;
  if (len > 0) {
    map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      int err = errno;
      close(fd);
      return io_problem(v->result, index, "map the file", err);
    }
    buf = map;
  }
  close(fd);
  tv_status status = audit_verifier_file(v, index, buf, len);
  if (map != NULL) {
    munmap(map, len);
  }
  return status;
}

tv_status tv_audit_verify_files(tv_audit_verify_result *out, tv_hsm *hsm,
                                const char *const *paths, size_t paths_count) {
  audit_verifier v;
  audit_verifier_init(&v, out, hsm, 1);
  TV_ENSURE(paths != NULL && paths_count > 0, TV_E_INVALID_ARGUMENT);
  for (size_t i = 0; i < paths_count; i++) {
    TV_TRY(verify_one(&v, i, paths[i]));
  }
  return audit_verifier_finish(&v);
}

tv_status tv_audit_verify_buffer(tv_audit_verify_result *out, tv_hsm *hsm, const char *buf,
                                 size_t len) {
  audit_verifier v;
  audit_verifier_init(&v, out, hsm, 1);
  TV_TRY(audit_verifier_file(&v, 0, buf, len));
  return audit_verifier_finish(&v);
}

tv_status tv_audit_verify_range_judge(const tv_audit_verify_result *r, tv_status walk_status, uint64_t from_seq,
                                      uint64_t to_seq, uint64_t *out_bad_seq) {
  (void)from_seq; /* the chain before the range counts as much as the range */
  *out_bad_seq = 0;
  if (walk_status == TV_OK) {
    return TV_OK;
  }
  uint64_t bad = r->seq != 0 ? r->seq : r->last_seq + 1;
  *out_bad_seq = bad;
  int sealed = r->macs_checked && r->last_checkpoint_seq >= to_seq;
  if (to_seq != 0 && bad > to_seq && sealed) {
    return TV_OK;
  }
  return walk_status;
}
