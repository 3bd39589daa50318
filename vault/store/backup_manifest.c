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

tv_status tv_backup_manifest_encode(const tv_backup_manifest *m, char **out, size_t *out_len) {
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
  TV_TRY(tv_backup_manifest_encode(m, &text, &len));
  int fd = openat(dir_fd, MANIFEST_TMP_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  tv_status st = fd >= 0 ? TV_OK : tv_store_io_failed("create", MANIFEST_TMP_NAME, errno);
  if (st == TV_OK) {
    ssize_t w = write(fd, text, len);
    if (w != (ssize_t)len) {
      st = tv_store_io_failed("write", MANIFEST_TMP_NAME, w < 0 ? errno : EIO);
    } else if (fsync(fd) != 0) {
      st = tv_store_io_failed("fsync", MANIFEST_TMP_NAME, errno);
    }
    close(fd);
  }
  free(text);
  if (st == TV_OK && renameat(dir_fd, MANIFEST_TMP_NAME, dir_fd, TV_BACKUP_MANIFEST_NAME) != 0) {
    st = tv_store_io_failed("rename to " TV_BACKUP_MANIFEST_NAME, MANIFEST_TMP_NAME, errno);
  }
  if (st == TV_OK && fsync(dir_fd) != 0) {
    st = tv_store_fd_failed("fsync of the directory", dir_fd, errno);
  }
  return st;
}

/* read_text reads the whole MANIFEST (bounded) as a NUL-terminated string. */
static tv_status read_text(int dir_fd, const char *dir, char **out, size_t *out_len, tv_store_diag *diag) {
  int fd = openat(dir_fd, TV_BACKUP_MANIFEST_NAME, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, "no manifest: the backup is missing or incomplete");
    return err == ENOENT ? TV_E_STORE_LAYOUT : (tv_store_io_failed("open", TV_BACKUP_MANIFEST_NAME, err), TV_E_IO);
  }
  struct stat sb;
  tv_status st = fstat(fd, &sb) == 0 ? TV_OK : (tv_store_io_failed("fstat", TV_BACKUP_MANIFEST_NAME, errno), TV_E_IO);
  size_t len = st == TV_OK ? (size_t)sb.st_size : 0;
  if (st == TV_OK && len > TV_BACKUP_MANIFEST_BYTES_MAX) {
    tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, "manifest too large");
    st = TV_E_STORE_CORRUPT;
  }
  char *text = st == TV_OK ? malloc(len + 1) : NULL;
  if (st == TV_OK && text == NULL) {
    st = TV_E_NO_MEMORY;
  }
  ssize_t n = st == TV_OK ? pread(fd, text, len, 0) : 0;
  if (st == TV_OK && n != (ssize_t)len) {
    st = (tv_store_io_failed("pread", TV_BACKUP_MANIFEST_NAME, n < 0 ? errno : EIO), TV_E_IO);
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

/* The manifest is parsed strictly: numbers in the encoder's own form
 * (decimal without sign or leading zero, CRCs as 8 lowercase hex digits),
 * single spaces, every line ending in LF. Only what the writer produces is
 * accepted, so nothing can hide in a manifest that checks out. */

/* take_word moves |*p| past |word| if the text starts with it. */
static int take_word(const char **p, const char *word) {
  size_t n = strlen(word);
  if (strncmp(*p, word, n) != 0) {
    return 0;
  }
  *p += n;
  return 1;
}

static int take_u64(const char **p, uint64_t *out) {
  const char *s = *p;
  uint64_t v = 0;
  size_t n = 0;
  while (s[n] >= '0' && s[n] <= '9') {
    unsigned d = (unsigned)(s[n] - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return 0;
    }
    v = v * 10 + d;
    n++;
  }
  if (n == 0 || (n > 1 && s[0] == '0')) {
    return 0;
  }
  *out = v;
  *p = s + n;
  return 1;
}

static int take_hex8(const char **p, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 8; i++) {
    char c = (*p)[i];
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = (unsigned)(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = (unsigned)(c - 'a' + 10);
    } else {
      return 0;
    }
    v = v << 4 | d;
  }
  *out = v;
  *p += 8;
  return 1;
}

/* take_name copies a file name (up to the next space) into |name|. */
static int take_name(const char **p, char name[TV_BACKUP_NAME_LEN_MAX]) {
  size_t n = strcspn(*p, " \n");
  if (n == 0 || n >= TV_BACKUP_NAME_LEN_MAX) {
    return 0;
  }
  memcpy(name, *p, n);
  name[n] = '\0';
  *p += n;
  return tv_backup_name_ok(name);
}

/* check_crc finds the "end" line and compares the CRC of what precedes it. */
static int check_crc(const char *text, size_t len, size_t *out_body_len) {
  if (len < 13 || memchr(text, '\0', len) != NULL) {
    return 0;
  }
  size_t start = len - 13; /* "end " + 8 hex + "\n" */
  const char *p = text + start;
  uint32_t want;
  if (!take_word(&p, "end ") || !take_hex8(&p, &want) || *p != '\n' || (start > 0 && text[start - 1] != '\n')) {
    return 0;
  }
  *out_body_len = start;
  return tv_crc32c_extend(0, text, start) == want;
}

/* parse_file_line reads one "file" line into |m|; |*p| ends past its LF. */
static tv_status parse_file_line(const char **p, tv_backup_manifest *m) {
  char name[TV_BACKUP_NAME_LEN_MAX];
  uint64_t size;
  uint32_t crc;
  TV_ENSURE(take_word(p, "file ") && take_name(p, name) && take_word(p, " ") && take_u64(p, &size) &&
                take_word(p, " ") && take_hex8(p, &crc) && take_word(p, "\n"),
            TV_E_STORE_CORRUPT);
  return tv_backup_add_file(m, name, size, crc);
}

static tv_status parse_body(const char *body, tv_backup_manifest *m) {
  const char *p = body;
  TV_ENSURE(take_word(&p, MANIFEST_MAGIC), TV_E_STORE_CORRUPT);
  TV_ENSURE(take_word(&p, "last_seq ") && take_u64(&p, &m->last_seq) && take_word(&p, "\n"), TV_E_STORE_CORRUPT);
  TV_ENSURE(take_word(&p, "records ") && take_u64(&p, &m->records) && take_word(&p, "\n"), TV_E_STORE_CORRUPT);
  while (*p != '\0') {
    TV_TRY(parse_file_line(&p, m));
  }
  return TV_OK;
}

/* parse_text parses |text| (|len| bytes, writable, NUL at text[len]); on
 * failure |*why| says what was wrong and |m| is empty. */
static tv_status parse_text(char *text, size_t len, tv_backup_manifest *m, const char **why) {
  memset(m, 0, sizeof *m);
  size_t body_len;
  if (!check_crc(text, len, &body_len)) {
    *why = "manifest CRC mismatch or no end line";
    return TV_E_STORE_CORRUPT;
  }
  text[body_len] = '\0';
  tv_status st = parse_body(text, m);
  if (st != TV_OK) {
    *why = "manifest line not understood";
    tv_backup_manifest_free(m);
    memset(m, 0, sizeof *m);
  }
  return st;
}

tv_status tv_backup_manifest_parse(const char *text, size_t len, tv_backup_manifest *m) {
  memset(m, 0, sizeof *m);
  TV_ENSURE(len <= TV_BACKUP_MANIFEST_BYTES_MAX, TV_E_STORE_CORRUPT);
  char *copy = malloc(len + 1);
  TV_ENSURE(copy != NULL, TV_E_NO_MEMORY);
  if (len > 0) {
    memcpy(copy, text, len);
  }
  copy[len] = '\0';
  const char *why = NULL;
  tv_status st = parse_text(copy, len, m, &why);
  free(copy);
  return st;
}

tv_status tv_backup_manifest_read(int dir_fd, const char *dir, tv_backup_manifest *m, tv_store_diag *diag) {
  memset(m, 0, sizeof *m);
  char *text;
  size_t len;
  TV_TRY(read_text(dir_fd, dir, &text, &len, diag));
  const char *why = NULL;
  tv_status st = parse_text(text, len, m, &why);
  if (st != TV_OK && why != NULL) {
    tv_backup_diag(diag, dir, TV_BACKUP_MANIFEST_NAME, 0, why);
  }
  free(text);
  return st;
}
