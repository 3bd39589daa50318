/* JSON log lines on stderr, one object per line, written with one write(2)
 * so lines from different threads never interleave. Callers log names,
 * codes and principals — never a value, token or key. */
#ifndef TV_SERVICE_LOG_H
#define TV_SERVICE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "vault/service/limits.h"

typedef struct tv_log_line {
  char buf[TV_LOG_LINE_BYTES_MAX];
  size_t len;
  int truncated;
} tv_log_line;

/* tv_log_begin starts a line with "ts", "level" and "event". */
void tv_log_begin(tv_log_line *line, const char *level, const char *event);

/* tv_log_str adds "key": "value", escaping |value| for JSON (NULL logs ""). */
void tv_log_str(tv_log_line *line, const char *key, const char *value);

/* tv_log_int adds "key": number. */
void tv_log_int(tv_log_line *line, const char *key, int64_t value);

/* tv_log_end closes the object and writes the line to stderr. A line that
 * did not fit is cut at a field boundary and marked "truncated": true. */
void tv_log_end(tv_log_line *line);

/* tv_log_message logs {"level", "event", "msg"} in one call. */
void tv_log_message(const char *level, const char *event, const char *msg);

#endif
