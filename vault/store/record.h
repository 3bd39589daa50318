/* The log record: the unit written to and read back from segment files.
 *
 * On disk (little-endian), 32-byte header then payload, padded with zeros
 * to a multiple of 8 bytes:
 *
 *   0  magic "TVR1"   4  version   5  type   6  flags (u16)
 *   8  payload_len    12 batch_index (position in its write batch)
 *   16 seq (u64)      24 reserved (0)        28 crc32c
 *
 * The CRC32C covers bytes 0..27, the payload and the padding. The last
 * record of each write batch carries TV_RECORD_FLAG_COMMIT; with
 * batch_index this tells recovery which records belong to the one batch
 * that may have been torn by a crash. Values are opaque ciphertext: the
 * store never sees plaintext. */
#ifndef TV_STORE_RECORD_H
#define TV_STORE_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store/store_limits.h"
#include "vault/util/status.h"

#define TV_RECORD_MAGIC 0x31525654u /* "TVR1" read as little-endian */
#define TV_RECORD_VERSION 1u
#define TV_RECORD_FLAG_COMMIT 0x0001u
#define TV_RECORD_FINGERPRINT_LEN 16u
#define TV_RECORD_NONCE_LEN 12u
#define TV_RECORD_TAG_LEN 16u

typedef enum tv_record_type {
  TV_RECORD_SEGMENT_HEADER = 1, /* first record of every segment */
  TV_RECORD_PUT = 2,            /* a new token and its encrypted value */
  TV_RECORD_DELETE = 3,         /* tombstone for a token */
  TV_RECORD_REPUT = 4,          /* re-encrypted put superseding a live token */
  TV_RECORD_CHECKPOINT = 5,     /* marks an index checkpoint (reserved) */
} tv_record_type;

typedef struct tv_record_header {
  uint8_t type;
  uint16_t flags;
  uint32_t payload_len;
  uint32_t batch_index;
  uint64_t seq;
} tv_record_header;

/* Put and re-put: pointers refer into the buffer the record was decoded
 * from (or, when encoding, the caller's bytes). */
typedef struct tv_record_put {
  const uint8_t *ns;
  size_t ns_len;
  const uint8_t *token;
  size_t token_len;
  uint8_t fingerprint[TV_RECORD_FINGERPRINT_LEN];
  uint32_t key_version;
  uint8_t nonce[TV_RECORD_NONCE_LEN];
  uint64_t created_ms;
  uint64_t expires_ms; /* 0: never expires */
  const uint8_t *ciphertext;
  size_t ciphertext_len;
  uint8_t tag[TV_RECORD_TAG_LEN];
  const uint8_t *metadata;
  size_t metadata_len;
} tv_record_put;

typedef struct tv_record_delete {
  const uint8_t *ns;
  size_t ns_len;
  const uint8_t *token;
  size_t token_len;
  uint64_t deleted_ms;
} tv_record_delete;

typedef struct tv_record_segment_header {
  uint32_t segment_id;
  uint64_t created_ms;
  uint64_t segment_bytes; /* size limit the segment was written under */
} tv_record_segment_header;

typedef struct tv_record_checkpoint {
  uint64_t checkpoint_id;
  uint64_t covered_seq;
} tv_record_checkpoint;

typedef struct tv_record {
  tv_record_header header;
  union {
    tv_record_put put; /* PUT and REPUT */
    tv_record_delete del;
    tv_record_segment_header segment;
    tv_record_checkpoint checkpoint;
  } body;
} tv_record;

/* tv_record_encoded_len returns the bytes |r| takes on disk (header,
 * payload, padding) or 0 if a field is out of range. */
size_t tv_record_encoded_len(const tv_record *r);

/* tv_record_encode writes |r| (type, flags, batch_index and seq from its
 * header; payload_len is computed) into |out| of capacity |out_cap| and
 * sets |*out_len|. Fails with TV_E_STORE_RECORD_FIELD or
 * TV_E_STORE_RECORD_TOO_LARGE on out-of-range fields and
 * TV_E_INVALID_ARGUMENT if |out_cap| is too small. */
tv_status tv_record_encode(const tv_record *r, uint8_t *out, size_t out_cap, size_t *out_len);

/* tv_record_decode checks and parses one record at the start of the |len|
 * bytes at |data|. On success |*out| points into |data| and |*out_len| is
 * the record's size including padding. Every length is validated before
 * use; errors name the first problem found (magic, version, too large,
 * truncated, CRC, type, field, length). */
tv_status tv_record_decode(const uint8_t *data, size_t len, tv_record *out, size_t *out_len);

/* tv_record_set_commit sets TV_RECORD_FLAG_COMMIT on the encoded record of
 * |len| bytes at |rec| and refreshes its CRC. */
void tv_record_set_commit(uint8_t *rec, size_t len);

/* tv_record_is_zero returns 1 if all |len| bytes at |data| are zero. */
int tv_record_is_zero(const uint8_t *data, size_t len);

#endif
