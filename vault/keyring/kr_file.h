/* Internal to vault/keyring: the keyring file's contents as data, and its
 * encoding. Nothing here touches the HSM or holds a plaintext key: it is
 * what the file says, wrapped keys included, so it can be fuzzed alone.
 *
 * Encoding (big-endian; str = u8 length + printable ASCII bytes):
 *   "TVKR"  u16 format (2; 1 is still read)  u16 0
 *   u64 generation
 *   str kek_label           u8 pending  str pending_label
 *   u64 next_proposal_id
 *   u32 N namespaces, each: str name  u64 created_s  u32 last_version
 *                           wrapped token_key  wrapped fingerprint_key
 *   u32 V versions, each:   u32 namespace index  u32 version  u8 state
 *                           u64 created_s  u64 reserved  wrapped value_key
 *   u32 P proposals, each:  u64 id  u8 action  str proposer  u64 proposed_s
 *                           str name  u32 version  str label
 *                           str reason                     (format 2)
 *   u32 K old KEKs, each:   str label
 *   u32 R recent approved proposals (format 2), each: a proposal as above
 *                           str approver  u64 approved_s
 *   then, outside what this file parses, 32 bytes of HMAC-SHA-256 (by the
 *   HSM) over everything before it.
 * wrapped = u8 length (always TV_HSM_WRAPPED_LEN(32) = 40) + bytes. */
#ifndef TV_KEYRING_KR_FILE_H
#define TV_KEYRING_KR_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "hsm/hsm.h"
#include "vault/keyring/keyring.h"

#define KR_MAGIC "TVKR"
#define KR_MAGIC_LEN 4
#define KR_FORMAT_VERSION 2
#define KR_FORMAT_VERSION_MIN 1 /* format 1: no reasons, no recent proposals */
#define KR_HEADER_LEN 8
#define KR_MAC_LEN TV_HSM_MAC_LEN
#define KR_WRAPPED_LEN TV_HSM_WRAPPED_LEN(TV_KEYRING_KEY_LEN)

/* A KEK rotation in progress, recorded before each of its HSM steps. */
typedef enum kr_pending {
  KR_PENDING_NONE = 0,
  KR_PENDING_KEK_CREATE = 1,  /* |pending_label| is the new KEK: create, rewrap */
  KR_PENDING_KEK_DISABLE = 2, /* |pending_label| is the old KEK: disable it */
} kr_pending;

typedef struct kr_wrapped {
  uint8_t bytes[KR_WRAPPED_LEN];
} kr_wrapped;

typedef struct kr_file_namespace {
  char name[TV_KEYRING_NAMESPACE_LEN_MAX + 1];
  uint64_t created_s;
  uint32_t last_version; /* highest version ever issued: never reused */
  kr_wrapped token_key;
  kr_wrapped fingerprint_key;
} kr_file_namespace;

typedef struct kr_file_version {
  uint32_t ns_index;
  uint32_t version;
  uint8_t state; /* tv_key_state other than DESTROYED: destroyed keys leave */
  uint64_t created_s;
  uint64_t reserved; /* encryptions that may have been used */
  kr_wrapped value_key;
} kr_file_version;

typedef struct kr_file_old_kek {
  char label[TV_HSM_LABEL_MAX + 1];
} kr_file_old_kek;

typedef struct kr_file {
  uint16_t format; /* as read; written as is, so a file re-encodes exactly.
                      kr_commit writes KR_FORMAT_VERSION (0 means that too) */
  uint64_t generation;
  char kek_label[TV_HSM_LABEL_MAX + 1];
  uint8_t pending; /* kr_pending */
  char pending_label[TV_HSM_LABEL_MAX + 1];
  uint64_t next_proposal_id;
  uint32_t num_namespaces;
  kr_file_namespace *namespaces;
  uint32_t num_versions;
  kr_file_version *versions;
  uint32_t num_proposals;
  tv_keyring_proposal *proposals;
  uint32_t num_old_keks;
  kr_file_old_kek *old_keks;
  uint32_t num_recent;
  tv_keyring_proposal *recent; /* at most TV_KEYRING_RECENT_MAX, oldest first */
} kr_file;

/* kr_file_parse decodes |len| bytes of |data| (the file without its MAC)
 * into |*out| and checks that it is consistent (counts within limits,
 * indexes in range, one ACTIVE version per namespace, no duplicates).
 * Any problem is TV_E_KEYRING_CORRUPT, or TV_E_KEYRING_FORMAT_VERSION for
 * another format. On failure |*out| is left empty. Free with kr_file_free. */
tv_status kr_file_parse(kr_file *out, const uint8_t *data, size_t len);

/* kr_file_serialize encodes |file| into a new heap buffer |*out_buf| of
 * |*out_len| bytes, with KR_MAC_LEN spare bytes at its end for the MAC.
 * The caller frees it. */
tv_status kr_file_serialize(const kr_file *file, uint8_t **out_buf, size_t *out_len);

/* kr_file_clone deep-copies |src| into |*out|. */
tv_status kr_file_clone(kr_file *out, const kr_file *src);

/* kr_file_free releases the arrays of |file| and zeroes it. */
void kr_file_free(kr_file *file);

/* kr_file_find_namespace returns the index of |name| or -1. */
long kr_file_find_namespace(const kr_file *file, const char *name);

/* kr_file_find_version returns the index of (|ns_index|, |version|) or -1. */
long kr_file_find_version(const kr_file *file, uint32_t ns_index, uint32_t version);

/* kr_file_find_proposal returns the index of proposal |id| or -1. */
long kr_file_find_proposal(const kr_file *file, uint64_t id);

/* Appending entries: each grows its array by one (zeroed) and returns a
 * pointer to it, or NULL when out of memory. */
kr_file_namespace *kr_file_add_namespace(kr_file *file);
kr_file_version *kr_file_add_version(kr_file *file);
tv_keyring_proposal *kr_file_add_proposal(kr_file *file);
/* kr_file_add_recent appends |p| to the recent approved proposals,
 * dropping the oldest beyond TV_KEYRING_RECENT_MAX. TV_E_NO_MEMORY. */
tv_status kr_file_add_recent(kr_file *file, const tv_keyring_proposal *p);
kr_file_old_kek *kr_file_add_old_kek(kr_file *file);

/* kr_file_remove_version / _proposal / _old_kek drop entry |index|,
 * keeping the order of the others. */
void kr_file_remove_version(kr_file *file, size_t index);
void kr_file_remove_proposal(kr_file *file, size_t index);
void kr_file_remove_old_kek(kr_file *file, size_t index);

/* kr_namespace_name_valid returns 1 if |name| is 1..64 bytes of
 * [a-z0-9_.-]. */
int kr_namespace_name_valid(const char *name);

#endif
