/* tv_keyring_persist — where the keyring document lives.
 *
 * The keyring document is the bytes the keyring file holds: the encoded
 * state (kr_file.h) followed by its HSM MAC. By default it is the file at
 * tv_keyring_options.path, replaced atomically. A fleet of nodes keeps it
 * in a shared database instead (vault/store/pg/pg_keyring.h): then every
 * change is a compare-and-swap on the generation, so two nodes never both
 * build on the same generation, and each node polls the generation to see
 * the others' changes (tv_keyring_refresh).
 *
 * The keyring verifies every document it loads exactly as it verifies the
 * file (HSM MAC, structure, generation against the HSM counter): the
 * store is trusted with availability, never with integrity. */
#ifndef TV_KEYRING_KEYRING_PERSIST_H
#define TV_KEYRING_KEYRING_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

typedef struct tv_keyring_persist {
  void *ctx;
  /* load reads the whole document into a new heap buffer (the caller
   * frees it). TV_E_KEYRING_NOT_FOUND when there is none; a store that
   * cannot be reached answers its own status (e.g. TV_E_STORE_UNAVAILABLE). */
  tv_status (*load)(void *ctx, uint8_t **out_doc, size_t *out_len);
  /* store makes the |len| bytes of |doc| (generation |generation|)
   * durable, only if the stored document is still generation |expected|
   * (TV_E_KEYRING_CONFLICT otherwise: another node committed first).
   * |create|: there must be no document yet (TV_E_KEYRING_EXISTS). */
  tv_status (*store)(void *ctx, uint64_t expected, uint64_t generation, const uint8_t *doc, size_t len,
                     int create);
  /* generation sets |*out| to the stored document's generation without
   * reading the document (cheap: polled every refresh interval).
   * TV_E_KEYRING_NOT_FOUND when there is none. */
  tv_status (*generation)(void *ctx, uint64_t *out);
  /* reserve (optional; NULL: counts are reserved in the document, as in
   * the file) takes the next |count| encryption counts of value key
   * |version| of the namespace at index |ns_index| of the document (an
   * index never changes: namespaces are only ever added) for this node,
   * atomically and durably, so no other node, and no later start, is
   * given any of them: sets |*out_first| to the first. Refuses, taking
   * nothing, with TV_E_KEYRING_KEY_EXHAUSTED if the key's counts would go
   * past |max|. */
  tv_status (*reserve)(void *ctx, uint32_t ns_index, uint32_t version, uint64_t count, uint64_t max,
                       uint64_t *out_first);
} tv_keyring_persist;

#endif
