#include "vault/server/http/ndjson_spool.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault/crypto/scratch_cipher.h"
#include "vault/util/secure_mem.h"

/* One write or read of the file: big enough that a 1,000-item batch line
 * costs one or two system calls, small enough to keep per stream. */
#define SPOOL_BLOCK_BYTES (64 * 1024)

struct tv_ndjson_spool {
  int fd;
  tv_scratch_cipher *cipher; /* encrypting, then (reading, rewound) decrypting */
  size_t line_bytes_max;
  uint64_t bytes_max;
  /* Writing: the body as it arrives. */
  uint64_t accepted;   /* body bytes taken (in the file or in |block|) */
  uint64_t in_file;    /* of which written to the file */
  uint64_t line_start; /* offset of the current line's first byte */
  size_t line_len;     /* bytes of the current line so far */
  tv_ndjson_cut cut;
  uint64_t cut_at; /* when cut: the body ends here */
  /* Reading: the file back, one block at a time. */
  int reading;
  uint64_t read_off;
  uint64_t line_no; /* number of the last line read */
  unsigned char block[SPOOL_BLOCK_BYTES]; /* ciphertext to write, then plaintext read back */
  size_t block_len;
  size_t block_pos;
  char *line; /* the line being read back (plaintext): wiped before reuse */
  size_t line_cap;
  size_t line_used;
};

tv_status tv_ndjson_spool_open(tv_ndjson_spool **out, const char *dir, size_t line_bytes_max, uint64_t bytes_max) {
  TV_ENSURE(out != NULL && dir != NULL && line_bytes_max > 0, TV_E_INVALID_ARGUMENT);
  *out = NULL;
  tv_ndjson_spool *s = calloc(1, sizeof *s);
  if (s == NULL) {
    return TV_E_NO_MEMORY;
  }
  s->line_bytes_max = line_bytes_max;
  s->bytes_max = bytes_max;
  s->fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
  tv_status st = s->fd < 0 ? TV_E_IO : tv_scratch_cipher_new(&s->cipher);
  if (st != TV_OK) {
    tv_ndjson_spool_free(s);
    return st;
  }
  *out = s;
  return TV_OK;
}

static void cut_at(tv_ndjson_spool *s, tv_ndjson_cut why, uint64_t at) {
  if (s->cut == TV_NDJSON_CUT_NONE || at < s->cut_at) {
    s->cut_at = at;
  }
  if (s->cut == TV_NDJSON_CUT_NONE || why == TV_NDJSON_CUT_IO) {
    s->cut = why;
  }
}

/* Writes the ciphertext in |block| to the file; on failure the body ends
 * where the file does (the lost block's lines are cut). */
static void flush_block(tv_ndjson_spool *s) {
  size_t done = 0;
  while (done < s->block_len) {
    ssize_t n = write(s->fd, s->block + done, s->block_len - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      cut_at(s, TV_NDJSON_CUT_IO, s->in_file + done);
      break;
    }
    done += (size_t)n;
  }
  s->in_file += done;
  s->block_len = 0;
}

/* Encrypts |len| accepted bytes into |block|, flushing it when full. */
static void spool_bytes(tv_ndjson_spool *s, const unsigned char *data, size_t len) {
  while (len > 0 && s->cut != TV_NDJSON_CUT_IO) {
    size_t room = sizeof s->block - s->block_len;
    size_t n = len < room ? len : room;
    if (tv_scratch_cipher_apply(s->cipher, s->block + s->block_len, data, n) != TV_OK) {
      cut_at(s, TV_NDJSON_CUT_IO, s->accepted);
      return;
    }
    s->block_len += n;
    s->accepted += n;
    data += n;
    len -= n;
    if (s->block_len == sizeof s->block) {
      flush_block(s);
    }
  }
}

void tv_ndjson_spool_write(tv_ndjson_spool *s, const char *data, size_t len) {
  assert(!s->reading);
  while (len > 0 && s->cut == TV_NDJSON_CUT_NONE) {
    const char *nl = memchr(data, '\n', len);
    size_t seg = nl != NULL ? (size_t)(nl - data) + 1 : len;
    size_t content = nl != NULL ? seg - 1 : seg; /* the line end does not count */
    if (content > s->line_bytes_max - s->line_len) {
      cut_at(s, TV_NDJSON_CUT_LINE_TOO_LONG, s->line_start);
      return;
    }
    if (seg > s->bytes_max - s->accepted) {
      cut_at(s, TV_NDJSON_CUT_BODY_TOO_LARGE, s->line_start);
      return;
    }
    spool_bytes(s, (const unsigned char *)data, seg);
    s->line_len += content;
    if (nl != NULL) {
      s->line_start = s->accepted;
      s->line_len = 0;
    }
    data += seg;
    len -= seg;
  }
}

/* ---- reading back ---- */

static int start_reading(tv_ndjson_spool *s) {
  s->reading = 1;
  flush_block(s);
  tv_wipe(s->block, sizeof s->block);
  return tv_scratch_cipher_rewind(s->cipher) == TV_OK; /* CTR: the same key stream decrypts */
}

/* Reads and decrypts the next block; 0 at the end of the kept body. */
static int read_block(tv_ndjson_spool *s) {
  uint64_t end = s->cut != TV_NDJSON_CUT_NONE ? s->cut_at : s->accepted;
  end = end < s->in_file ? end : s->in_file;
  if (s->read_off >= end) {
    return 0;
  }
  uint64_t left = end - s->read_off;
  size_t want = left < sizeof s->block ? (size_t)left : sizeof s->block;
  ssize_t n;
  do {
    n = pread(s->fd, s->block, want, (off_t)s->read_off);
  } while (n < 0 && errno == EINTR);
  if (n <= 0 || tv_scratch_cipher_apply(s->cipher, s->block, s->block, (size_t)n) != TV_OK) {
    cut_at(s, TV_NDJSON_CUT_IO, s->read_off);
    return 0;
  }
  s->read_off += (uint64_t)n;
  s->block_len = (size_t)n;
  s->block_pos = 0;
  return 1;
}

static int line_append(tv_ndjson_spool *s, const unsigned char *data, size_t len) {
  if (len == 0) {
    return 1; /* an empty line: |line| may not exist yet (no offset on NULL) */
  }
  if (len > s->line_bytes_max + 1 - s->line_used) {
    return 0; /* cannot happen: writing refused longer lines */
  }
  if (s->line_used + len > s->line_cap) {
    size_t cap = s->line_cap > 0 ? s->line_cap : 4096;
    while (cap < s->line_used + len) {
      cap *= 2;
    }
    char *grown = malloc(cap);
    if (grown == NULL) {
      return 0;
    }
    if (s->line != NULL) {
      memcpy(grown, s->line, s->line_used);
      tv_wipe(s->line, s->line_cap);
      free(s->line);
    }
    s->line = grown;
    s->line_cap = cap;
  }
  memcpy(s->line + s->line_used, data, len);
  s->line_used += len;
  return 1;
}

/* Reads up to the next "\n" into |line|: 1 with a whole line, 0 at the
 * end of the kept body (|line| may then hold a last line without "\n"). */
static int read_line(tv_ndjson_spool *s) {
  for (;;) {
    if (s->block_pos == s->block_len && !read_block(s)) {
      return 0;
    }
    const unsigned char *from = s->block + s->block_pos;
    size_t avail = s->block_len - s->block_pos;
    const unsigned char *nl = memchr(from, '\n', avail);
    size_t take = nl != NULL ? (size_t)(nl - from) : avail;
    if (!line_append(s, from, take)) {
      cut_at(s, TV_NDJSON_CUT_IO, s->read_off);
      return 0;
    }
    tv_wipe(s->block + s->block_pos, take + (nl != NULL));
    s->block_pos += take + (nl != NULL);
    if (nl != NULL) {
      return 1;
    }
  }
}

static int blank(const char *line, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r') {
      return 0;
    }
  }
  return 1;
}

int tv_ndjson_spool_next(tv_ndjson_spool *s, const char **out_line, size_t *out_len, uint64_t *out_line_no,
                         tv_ndjson_cut *out_cut) {
  if (!s->reading && !start_reading(s)) {
    cut_at(s, TV_NDJSON_CUT_IO, 0);
  }
  for (;;) {
    if (s->line != NULL) {
      tv_wipe(s->line, s->line_used);
    }
    s->line_used = 0;
    int whole = read_line(s);
    /* A last line without "\n" is a line, unless the body was cut in it. */
    if (!whole && (s->line_used == 0 || s->cut != TV_NDJSON_CUT_NONE)) {
      *out_cut = s->cut;
      *out_line_no = s->line_no + 1; /* the line the body was cut at */
      return 0;
    }
    s->line_no++;
    size_t len = s->line_used;
    if (len > 0 && s->line[len - 1] == '\r') {
      len--;
    }
    if (!blank(s->line, len)) {
      *out_line = s->line;
      *out_len = len;
      *out_line_no = s->line_no;
      *out_cut = TV_NDJSON_CUT_NONE;
      return 1;
    }
  }
}

uint64_t tv_ndjson_spool_bytes(const tv_ndjson_spool *s) { return s->accepted; }

int tv_ndjson_spool_fd(const tv_ndjson_spool *s) { return s->fd; }

void tv_ndjson_spool_free(tv_ndjson_spool *s) {
  if (s == NULL) {
    return;
  }
  if (s->fd >= 0) {
    close(s->fd);
  }
  tv_scratch_cipher_free(s->cipher);
  if (s->line != NULL) {
    tv_wipe(s->line, s->line_cap);
    free(s->line);
  }
  tv_wipe(s, sizeof *s); /* the key and the blocks */
  free(s);
}
