/* MANIFEST: the last file of a backup, and the proof it is complete.
 *
 *   tokenvault-backup 1
 *   last_seq <decimal>
 *   records <decimal>
 *   file <name> <size> <crc32c, 8 hex>      (one per file, segments first)
 *   end <crc32c of every byte before this line, 8 hex>
 *
 * Text so an operator can read it; the CRC so a torn or edited manifest is
 * refused rather than trusted. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/store/backup_io.h"
#include "vault/store/crc32c.h"
#include "vault/store/segment.h"

#define MANIFEST_TMP_NAME "MANIFEST.tmp"
#define MANIFEST_MAGIC "tokenvault-backup 1\n"

/* append formats one line into the growing text |*buf|. */
__attribute__((format(printf, 4, 5))) static tv_status append(char **buf, size_t *len, size_t *cap,
                                                              const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  TV_ENSURE(n > 0 && (size_t)n < sizeof line, TV_E_INTERNAL);
  if (*len + (size_t)n + 1 > *cap) {
    size_t want = (*cap ? *cap * 2 : 4096) + (size_t)n;
    char *grown = realloc(*buf, want);
    TV_ENSURE(grown != NULL, TV_E_NO_MEMORY);
    *buf = grown;
    *cap = want;
  }
  memcpy(*buf + *len, line, (size_t)n + 1);
  *len += (size_t)n;
  return TV_OK;
}

static tv_status manifest_text(const tv_backup_manifest *m, char **out, size_t *out_len) {
  char *buf = NULL;
  size_t len = 0, cap = 0;
  tv_status st = append(&buf, &len, &cap, "%s", MANIFEST_MAGIC);
  if (st == TV_OK) {
    st = append(&buf, &len, &cap, "last_seq %" PRIu64 "\nrecords %" PRIu64 "\n", m->last_seq, m->records);
  }
  for (size_t i = 0; st == TV_OK && i < m->num_files; i++) {
    const tv_backup_file *f = &m->files[i];
    st = append(&buf, &len, &cap, "file %s %" PRIu64 " %08" PRIx32 "\n", f->name, f->size, f->crc);
  }
  if (st == TV_OK) {
    st = append(&buf, &len, &cap, "end %08" PRIx32 "\n", tv_crc32c_extend(0, buf, len));
  }
  if (st != TV_OK) {
    free(buf);
    return st;
  }
  *out = buf;
  *out_len = len;
  return TV_OK;
}

tv_status tv_backup_manifest_write(int dir_fd, const tv_backup_manifest *m) {
  char *text;
  size_t len;
  TV_TRY(manifest_text(m, &text, &len));
  int fd = openat(dir_fd, MANIFEST_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  tv_status st = fd >= 0 ? TV_OK : tv_store_errno_status(errno);
  if (st == TV_OK) {
    ssize_t w = write(fd, text, len);
    if (w != (ssize_t)len || fsync(fd) != 0) {
      st = tv_store_errno_status(w < 0 ? errno : EIO);
    }
    close(fd);
  }
  free(text);
  if (st == TV_OK && renameat(dir_fd, MANIFEST_TMP_NAME, dir_fd, TV_BACKUP_MANIFEST_NAME) != 0) {
    st = tv_store_errno_status(errno);
  }
  if (st == TV_OK && fsync(dir_fd) != 0) {
    st = tv_store_errno_status(errno);
  }
  return st;
}

/* read_text reads the whole MANIFEST (bounded) as a NUL-terminated string. */
static tv_status read_text(int dir_fd, const char *dir, char **out, size_t *out_len, tv_store_diag *diag) {
  int fd = openat(dir_fd, TV_BACKUP_MANIFEST_NAME, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, "no manifest: the backup is missing or incomplete");
    return errno == ENOENT ? TV_E_STORE_LAYOUT : TV_E_IO;
  }
  struct stat sb;
  tv_status st = fstat(fd, &sb) == 0 ? TV_OK : TV_E_IO;
  size_t len = st == TV_OK ? (size_t)sb.st_size : 0;
  if (st == TV_OK && len > TV_BACKUP_MANIFEST_BYTES_MAX) {
    tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, "manifest too large");
    st = TV_E_STORE_CORRUPT;
  }
  char *text = st == TV_OK ? malloc(len + 1) : NULL;
  if (st == TV_OK && text == NULL) {
    st = TV_E_NO_MEMORY;
  }
  if (st == TV_OK && pread(fd, text, len, 0) != (ssize_t)len) {
    st = TV_E_IO;
  }
  close(fd);
  if (st != TV_OK) {
    free(text);
    return st;
  }
  text[len] = '\0';
  *out = text;
  *out_len = len;
  return TV_OK;
}

/* check_crc finds the "end" line and compares the CRC of what precedes it. */
static int check_crc(const char *text, size_t len, size_t *out_body_len) {
  if (len < 14 || text[len - 1] != '\n' || memchr(text, '\0', len) != NULL) {
    return 0;
  }
  size_t start = len - 13; /* "end " + 8 hex + "\n" */
  if (strncmp(text + start, "end ", 4) != 0 || (start > 0 && text[start - 1] != '\n')) {
    return 0;
  }
  char hex[9];
  memcpy(hex, text + start + 4, 8);
  hex[8] = '\0';
  char *endp;
  unsigned long want = strtoul(hex, &endp, 16);
  if (*endp != '\0') {
    return 0;
  }
  *out_body_len = start;
  return tv_crc32c_extend(0, text, start) == (uint32_t)want;
}

/* parse_line reads one "file" line into |m|. */
static tv_status parse_file_line(const char *line, tv_backup_manifest *m) {
  char name[TV_BACKUP_NAME_LEN_MAX];
  uint64_t size;
  uint32_t crc;
  char tail;
  if (sscanf(line, "file %63s %" SCNu64 " %8" SCNx32 "%c", name, &size, &crc, &tail) != 4 || tail != '\n' ||
      !tv_backup_name_ok(name)) {
    return TV_E_STORE_CORRUPT;
  }
  return tv_backup_add_file(m, name, size, crc);
}

static tv_status parse_body(char *body, tv_backup_manifest *m) {
  TV_ENSURE(strncmp(body, MANIFEST_MAGIC, strlen(MANIFEST_MAGIC)) == 0, TV_E_STORE_CORRUPT);
  char *p = body + strlen(MANIFEST_MAGIC);
  char tail;
  TV_ENSURE(sscanf(p, "last_seq %" SCNu64 "%c", &m->last_seq, &tail) == 2 && tail == '\n', TV_E_STORE_CORRUPT);
  p = strchr(p, '\n') + 1;
  TV_ENSURE(sscanf(p, "records %" SCNu64 "%c", &m->records, &tail) == 2 && tail == '\n', TV_E_STORE_CORRUPT);
  p = strchr(p, '\n') + 1;
  while (*p != '\0') {
    TV_TRY(parse_file_line(p, m));
    p = strchr(p, '\n') + 1;
  }
  return TV_OK;
}

tv_status tv_backup_manifest_read(int dir_fd, const char *dir, tv_backup_manifest *m, tv_store_diag *diag) {
  memset(m, 0, sizeof *m);
  char *text;
  size_t len, body_len;
  TV_TRY(read_text(dir_fd, dir, &text, &len, diag));
  tv_status st = TV_OK;
  if (!check_crc(text, len, &body_len)) {
    tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, "manifest CRC mismatch or no end line");
    st = TV_E_STORE_CORRUPT;
  } else {
    text[body_len] = '\0';
    st = parse_body(text, m);
    if (st != TV_OK) {
      tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, "manifest line not understood");
      tv_backup_manifest_free(m);
    }
  }
  free(text);
  return st;
}
