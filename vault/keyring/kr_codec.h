/* Internal to vault/keyring: a checked reader and a growing writer for the
 * keyring file's big-endian fields. The reader never reads past its blob:
 * every getter fails with TV_E_KEYRING_CORRUPT instead, so a length read
 * from the file is never trusted before it is checked. */
#ifndef TV_KEYRING_KR_CODEC_H
#define TV_KEYRING_KR_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

typedef struct kr_reader {
  const uint8_t *data;
  size_t len;
  size_t off;
} kr_reader;

/* kr_reader_init points |r| at |len| bytes of |data| (not copied). */
void kr_reader_init(kr_reader *r, const uint8_t *data, size_t len);

/* kr_reader_left returns the bytes not read yet. */
size_t kr_reader_left(const kr_reader *r);

tv_status kr_read_u8(kr_reader *r, uint8_t *out);
tv_status kr_read_u16(kr_reader *r, uint16_t *out);
tv_status kr_read_u32(kr_reader *r, uint32_t *out);
tv_status kr_read_u64(kr_reader *r, uint64_t *out);

/* kr_read_bytes copies |len| bytes to |out|. */
tv_status kr_read_bytes(kr_reader *r, uint8_t *out, size_t len);

/* kr_read_str reads a u8 length and that many bytes into |out| (capacity
 * |out_max|, NUL-terminated). The length must be below |out_max| and every
 * byte printable ASCII (0x20..0x7e); |allow_empty| permits length 0. */
tv_status kr_read_str(kr_reader *r, char *out, size_t out_max, int allow_empty);

/* A writer appends to a heap buffer it grows; a failed allocation sticks
 * (|failed|) so callers check once at the end. */
typedef struct kr_writer {
  uint8_t *buf;
  size_t len;
  size_t cap;
  int failed;
} kr_writer;

void kr_write_u8(kr_writer *w, uint8_t v);
void kr_write_u16(kr_writer *w, uint16_t v);
void kr_write_u32(kr_writer *w, uint32_t v);
void kr_write_u64(kr_writer *w, uint64_t v);
void kr_write_bytes(kr_writer *w, const uint8_t *p, size_t len);
/* kr_write_str writes |s| (at most 255 bytes) as a u8 length and bytes. */
void kr_write_str(kr_writer *w, const char *s);

/* kr_writer_reset frees the buffer; accepts a zeroed writer. */
void kr_writer_reset(kr_writer *w);

#endif
