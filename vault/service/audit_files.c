#include "vault/service/audit_files.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/audit/audit_limits.h"

static tv_status map_one(tv_audit_file_map *out, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  TV_ENSURE(fd >= 0, TV_E_IO);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return TV_E_IO;
  }
  out->buf = "";
  out->len = (size_t)st.st_size;
  out->map_len = out->len;
  if (out->len > 0) {
    out->map = mmap(NULL, out->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (out->map == MAP_FAILED) {
      out->map = NULL;
      close(fd);
      return TV_E_IO;
    }
    out->buf = out->map;
  }
  close(fd);
  return TV_OK;
}

/* The newest segment ends where its last complete line ends. */
static void cut_at_last_newline(tv_audit_file_map *f) {
  while (f->len > 0 && f->buf[f->len - 1] != '\n') {
    f->len--;
  }
}

tv_status tv_audit_files_map(tv_audit_files *out, const char *dir, uint64_t segments) {
  memset(out, 0, sizeof *out);
  TV_ENSURE(segments >= 1 && segments <= AUDIT_SEGMENTS_MAX, TV_E_IO);
  out->files = calloc((size_t)segments, sizeof *out->files);
  TV_ENSURE(out->files != NULL, TV_E_NO_MEMORY);
  for (uint64_t i = 1; i <= segments; i++) {
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/audit-%06" PRIu64 ".log", dir, i);
    tv_status st = n > 0 && (size_t)n < sizeof path ? map_one(&out->files[out->count], path) : TV_E_IO;
    if (st != TV_OK) {
      tv_audit_files_unmap(out);
      return st;
    }
    out->count++;
  }
  cut_at_last_newline(&out->files[out->count - 1]);
  return TV_OK;
}

void tv_audit_files_unmap(tv_audit_files *files) {
  for (size_t i = 0; files->files != NULL && i < files->count; i++) {
    if (files->files[i].map != NULL) {
      munmap(files->files[i].map, files->files[i].map_len);
    }
  }
  free(files->files);
  memset(files, 0, sizeof *files);
}
