/* Reopening an existing log: the newest segment is read back and checked
 * with the verifier before anything is appended to it, so the writer never
 * extends a chain it cannot vouch for. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/audit/audit_internal.h"
#include "vault/audit/verifier.h"

/* Reads the whole segment; a segment larger than any the writer makes
 * (plus a batch) is not ours to continue. */
static tv_status read_segment(int fd, char **out_buf, size_t *out_len, uint64_t len_max) {
  struct stat st;
  TV_ENSURE(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), TV_E_AUDIT_UNAVAILABLE);
  TV_ENSURE((uint64_t)st.st_size <= len_max, TV_E_AUDIT_MALFORMED);
  size_t len = (size_t)st.st_size;
  char *buf = malloc(len > 0 ? len : 1);
  TV_ENSURE(buf != NULL, TV_E_NO_MEMORY);
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, buf + done, len - done, (off_t)done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      free(buf);
      return TV_E_AUDIT_UNAVAILABLE;
    }
    done += (size_t)n;
  }
  *out_buf = buf;
  *out_len = len;
  return TV_OK;
}

/* A crash during a write leaves at most a torn last line, never
 * acknowledged (its fdatasync did not return): it is cut off. */
static tv_status cut_torn_tail(audit_file *file, const char *buf, size_t *len) {
  size_t keep = *len;
  while (keep > 0 && buf[keep - 1] != '\n') {
    keep--;
  }
  if (keep != *len) {
    TV_ENSURE(ftruncate(file->fd, (off_t)keep) == 0 && fdatasync(file->fd) == 0,
              TV_E_AUDIT_UNAVAILABLE);
    *len = keep;
  }
  return TV_OK;
}

static tv_status recover_chain(audit_chain_state *chain, audit_file *file, const char *buf,
                               size_t len) {
  tv_audit_verify_result result;
  audit_verifier v;
  audit_verifier_init(&v, &result, NULL, 0);
  TV_TRY(audit_verifier_file(&v, 0, buf, len));
  TV_TRY(audit_verifier_finish(&v));
  TV_ENSURE(v.segment == file->segment, TV_E_AUDIT_SEGMENT);
  memcpy(file->log_id, v.log_id, AUDIT_LOG_ID_LEN);
  chain->next_seq = v.expected_seq;
  memcpy(chain->prev, v.prev, AUDIT_HASH_LEN);
  chain->since_checkpoint = v.since_checkpoint;
  chain->last_checkpoint_seq = result.last_checkpoint_seq;
  return TV_OK;
}

tv_status audit_recover(audit_file *file, audit_chain_state *chain, uint64_t segment) {
  char name[32];
  audit_segment_name(name, sizeof name, segment);
  int fd = openat(file->dir_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
  TV_ENSURE(fd >= 0, TV_E_AUDIT_UNAVAILABLE);
  file->fd = fd;
  file->segment = segment;
  char *buf = NULL;
  size_t len = 0;
  tv_status status = read_segment(fd, &buf, &len, (uint64_t)1 << 32);
  if (status == TV_OK) {
    status = cut_torn_tail(file, buf, &len);
  }
  if (status == TV_OK) {
    status = recover_chain(chain, file, buf, len);
  }
  free(buf);
  file->size = len;
  return status;
}
