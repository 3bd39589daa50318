#include "vault/service/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Room kept free for the closing of the line: ', "truncated": true}\n'. */
#define LOG_TAIL_BYTES 32

static void log_append(tv_log_line *line, const char *s, size_t n) {
  if (line->truncated || n > sizeof line->buf - LOG_TAIL_BYTES - line->len) {
    line->truncated = 1;
    return;
  }
  memcpy(line->buf + line->len, s, n);
  line->len += n;
}

/* Escapes into a scratch buffer first so a field is either whole or absent. */
static size_t json_escape(char *out, size_t out_len, const char *s) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  for (; s != NULL && *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    char esc[6] = {'\\', (char)c, 0, 0, 0, 0};
    size_t k = 2;
    if (c == '"' || c == '\\') {
      esc[1] = (char)c;
    } else if (c < 0x20 || c == 0x7F) {
      memcpy(esc, "\\u00", 4);
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      k = 6;
    } else {
      esc[0] = (char)c;
      k = 1;
    }
    if (k > out_len - n) {
      return out_len; /* does not fit */
    }
    memcpy(out + n, esc, k);
    n += k;
  }
  return n;
}

void tv_log_begin(tv_log_line *line, const char *level, const char *event) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line->buf, sizeof line->buf, "{\"ts\": \"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\"",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ts.tv_nsec / 1000000);
  line->len = n > 0 ? (size_t)n : 0;
  line->truncated = 0;
  tv_log_str(line, "level", level);
  tv_log_str(line, "event", event);
}

void tv_log_str(tv_log_line *line, const char *key, const char *value) {
  char field[TV_LOG_LINE_BYTES_MAX];
  char esc[TV_LOG_LINE_BYTES_MAX];
  size_t esc_len = json_escape(esc, sizeof esc, value);
  if (esc_len >= sizeof esc) {
    line->truncated = 1;
    return;
  }
  int n = snprintf(field, sizeof field, ", \"%s\": \"%.*s\"", key, (int)esc_len, esc);
  if (n < 0 || (size_t)n >= sizeof field) {
    line->truncated = 1;
    return;
  }
  log_append(line, field, (size_t)n);
}

void tv_log_int(tv_log_line *line, const char *key, int64_t value) {
  char field[96];
  int n = snprintf(field, sizeof field, ", \"%s\": %lld", key, (long long)value);
  if (n > 0 && (size_t)n < sizeof field) {
    log_append(line, field, (size_t)n);
  }
}

void tv_log_end(tv_log_line *line) {
  const char *tail = line->truncated ? ", \"truncated\": true}\n" : "}\n";
  size_t n = strlen(tail);
  memcpy(line->buf + line->len, tail, n); /* LOG_TAIL_BYTES was kept free */
  line->len += n;
  ssize_t w = write(STDERR_FILENO, line->buf, line->len);
  (void)w; /* nowhere to report a failed log write */
}

void tv_log_message(const char *level, const char *event, const char *msg) {
  tv_log_line line;
  tv_log_begin(&line, level, event);
  tv_log_str(&line, "msg", msg);
  tv_log_end(&line);
}
