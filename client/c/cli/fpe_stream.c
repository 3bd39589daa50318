#include "client/c/cli/fpe_stream.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vault/util/secure_mem.h"

/* The state of one run. Text, numerals and output hold values (card
 * numbers, say), so they live in locked memory that is wiped on release. */
typedef struct fpe_stream {
  const fpe_job *job;
  FILE *in;
  FILE *out;
  int in_fd;           /* -1: read through stdio */
  int eof;
  char *text;          /* input bytes [0, text_len); [pos, text_len) not yet consumed */
  size_t text_cap;
  size_t text_len;
  size_t pos;
  uint8_t *numerals;   /* numerals of the line at text[i] start at numerals[i] */
  char *out_buf;       /* results of one batch */
  size_t out_cap;
  ff1_batch_item *items;
  uint8_t *crlf;       /* per queued item: its line ended in CRLF */
  size_t items_max;
  size_t items_count;
  uint64_t lines_done; /* lines consumed so far (the number of the last one) */
} fpe_stream;

fpe_stream_limits fpe_stream_limits_default(void) {
  fpe_stream_limits limits = {FPE_STREAM_READ_BYTES_DEFAULT, FPE_STREAM_BATCH_ITEMS_DEFAULT};
  return limits;
}

static tv_status stream_open(fpe_stream *s, const fpe_stream_limits *limits, cli_diag *diag) {
  s->text_cap = limits->read_bytes_max;
  /* Each result is as long as its line, plus an LF a last line may lack. */
  s->out_cap = limits->read_bytes_max + 1;
  s->items_max = limits->batch_items_max;
  s->text = tv_secure_alloc(s->text_cap);
  s->numerals = tv_secure_alloc(s->text_cap);
  s->out_buf = tv_secure_alloc(s->out_cap);
  s->items = calloc(s->items_max, sizeof *s->items);
  s->crlf = calloc(s->items_max, sizeof *s->crlf);
  if (s->text == NULL || s->numerals == NULL || s->out_buf == NULL || s->items == NULL ||
      s->crlf == NULL) {
    return cli_fail(diag, TV_E_NO_MEMORY, "out of memory for the stdin buffers");
  }
  return TV_OK;
}

static void stream_close(fpe_stream *s) {
  tv_secure_free(s->text, s->text_cap);
  tv_secure_free(s->numerals, s->text_cap);
  tv_secure_free(s->out_buf, s->out_cap);
  free(s->items);
  free(s->crlf);
}

/* Moves the unconsumed tail to the front and reads more after it. */
static tv_status stream_fill(fpe_stream *s, cli_diag *diag) {
  assert(s->items_count == 0); /* queued items point into the text */
  if (s->eof) {
    return TV_OK;
  }
  size_t rest = s->text_len - s->pos;
  memmove(s->text, s->text + s->pos, rest);
  s->text_len = rest;
  s->pos = 0;
  size_t room = s->text_cap - rest;
  assert(room > FPE_LINE_BYTES_MAX);
  if (s->in_fd >= 0) {
    ssize_t n;
    do {
      n = read(s->in_fd, s->text + rest, room);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      return cli_fail(diag, TV_E_IO, "cannot read standard input: %s", strerror(errno));
    }
    s->text_len += (size_t)n;
    s->eof = n == 0;
    return TV_OK;
  }
  size_t n = fread(s->text + rest, 1, room, s->in);
  s->text_len += n;
  if (n < room) {
    if (ferror(s->in)) {
      return cli_fail(diag, TV_E_IO, "cannot read standard input");
    }
    s->eof = 1;
  }
  return TV_OK;
}

/* Transforms the queued lines and writes their results. */
static tv_status stream_flush(fpe_stream *s, cli_diag *diag) {
  if (s->items_count == 0) {
    return TV_OK;
  }
  fpe_where first = {"line", s->lines_done - s->items_count + 1};
  TV_TRY(fpe_batch_transform(s->job, s->items, s->items_count, first, diag));
  size_t out_len = 0;
  for (size_t i = 0; i < s->items_count; i++) {
    const ff1_batch_item *item = &s->items[i];
    /* Each result fits in its line's bytes, plus the LF a last line may
     * lack (at end of input the buffer is never full). */
    assert(out_len + item->length + 1u + s->crlf[i] <= s->out_cap);
    tv_status status =
        alphabet_to_text(s->job->alphabet, item->out, item->length, s->out_buf + out_len);
    if (status != TV_OK) {
      return cli_fail(diag, TV_E_INTERNAL, "line %llu: %s",
                      (unsigned long long)(first.number + i), tv_status_message(status));
    }
    out_len += item->length;
    if (s->crlf[i]) {
      s->out_buf[out_len++] = '\r';
    }
    s->out_buf[out_len++] = '\n';
  }
  s->items_count = 0;
  if (fwrite(s->out_buf, 1, out_len, s->out) != out_len) {
    return cli_fail(diag, TV_E_IO, "cannot write standard output: %s", strerror(errno));
  }
  return TV_OK;
}

/* Queues the complete lines in the buffer (and a last line without a
 * newline at end of input), flushing full batches. Stops at a partial
 * line, which needs more input. */
static tv_status stream_scan(fpe_stream *s, cli_diag *diag) {
  while (s->pos < s->text_len) {
    const char *line = s->text + s->pos;
    size_t avail = s->text_len - s->pos;
    const char *newline = memchr(line, '\n', avail);
    if (newline == NULL && !s->eof) {
      if (avail > FPE_LINE_BYTES_MAX) {
        return cli_fail(diag, TV_E_FF1_TOO_LONG, "line %llu: value too long: more than %u characters",
                        (unsigned long long)(s->lines_done + 1), FF1_LENGTH_MAX);
      }
      return TV_OK;
    }
    size_t raw_len = newline != NULL ? (size_t)(newline - line) : avail;
    uint8_t crlf = raw_len > 0 && line[raw_len - 1] == '\r';
    size_t len = raw_len - crlf;
    fpe_where where = {"line", s->lines_done + 1};
    TV_TRY(fpe_value_to_numerals(s->job, line, len, s->numerals + s->pos, where, diag));
    ff1_batch_item *item = &s->items[s->items_count];
    item->tweak = s->job->tweak;
    item->tweak_len = s->job->tweak_len;
    item->in = s->numerals + s->pos;
    item->out = s->numerals + s->pos;
    item->length = len;
    item->status = TV_OK;
    s->crlf[s->items_count++] = crlf;
    s->lines_done++;
    s->pos += newline != NULL ? raw_len + 1 : raw_len;
    if (s->items_count == s->items_max) {
      TV_TRY(stream_flush(s, diag));
    }
  }
  return TV_OK;
}

static tv_status stream_loop(fpe_stream *s, cli_diag *diag) {
  for (;;) {
    TV_TRY(stream_fill(s, diag));
    tv_status scanned = stream_scan(s, diag);
    /* Lines before a bad one still get their results. A write error there
     * comes first in line order, so it is the one reported. */
    cli_diag flush_diag;
    cli_diag_clear(&flush_diag);
    tv_status flushed = stream_flush(s, &flush_diag);
    if (flushed != TV_OK) {
      *diag = flush_diag;
      return flushed;
    }
    TV_TRY(scanned);
    if (s->in_fd >= 0 && fflush(s->out) != 0) {
      return cli_fail(diag, TV_E_IO, "cannot write standard output: %s", strerror(errno));
    }
    if (s->eof && s->pos == s->text_len) {
      return TV_OK;
    }
  }
}

tv_status fpe_stream_run(const fpe_job *job, const fpe_stream_limits *limits, FILE *in, FILE *out,
                         cli_diag *diag) {
  assert(job != NULL && limits != NULL && in != NULL && out != NULL && diag != NULL);
  assert(limits->read_bytes_max >= FPE_STREAM_READ_BYTES_MIN);
  assert(limits->batch_items_max >= 1);
  fpe_stream s;
  memset(&s, 0, sizeof s);
  s.job = job;
  s.in = in;
  s.out = out;
  s.in_fd = fileno(in);
  tv_status status = stream_open(&s, limits, diag);
  if (status == TV_OK) {
    status = stream_loop(&s, diag);
  }
  stream_close(&s);
  return status;
}
