/* db_text_array — a one-dimensional text[] in PostgreSQL's binary array
 * format, so a batch's keys and values travel as bound parameters, with
 * no quoting or escaping of values into a literal. */
#ifndef TV_CLI_DB_TEXT_ARRAY_H
#define TV_CLI_DB_TEXT_ARRAY_H

#include <stddef.h>
#include <stdint.h>

/* The type oids of text and text[] (fixed in PostgreSQL's catalog). */
#define DB_TEXT_OID 25u
#define DB_TEXT_ARRAY_OID 1009u

typedef struct db_text_array {
  uint8_t *buf;
  size_t len;
  size_t cap;
  uint32_t count;
  int failed; /* out of memory or over 1 GiB: the array is unusable */
} db_text_array;

/* db_text_array_reset empties |a| (wiping the bytes it held: they may be
 * values) and keeps its buffer. */
void db_text_array_reset(db_text_array *a);

/* db_text_array_push appends |text| (NULL: SQL NULL). */
void db_text_array_push(db_text_array *a, const char *text);

/* db_text_array_finish writes the header; returns the bytes to bind, or
 * NULL when |a| failed. Valid until the next reset. */
const char *db_text_array_finish(db_text_array *a, int *out_len);

/* db_text_array_free wipes and frees |a|'s buffer. */
void db_text_array_free(db_text_array *a);

#endif
