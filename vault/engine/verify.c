/* Verification of a namespace's stored records (tokenvault store verify):
 * every value must authenticate under its key version. A scan of the
 * store, so it works on the log and on a database store alike; the
 * decrypted bytes are wiped as soon as the tag has been checked. */
#include <string.h>

#include "vault/engine/engine_internal.h"
#include "vault/util/secure_mem.h"

typedef struct verify_ctx {
  tv_engine *e;
  const engine_ns *ns;
  tv_verify_report *r;
  uint32_t version; /* keys of the last version looked up (0: none) */
  tv_keyring_keys keys;
  tv_status keys_status;
} verify_ctx;

static void count_version(tv_verify_report *r, uint32_t version) {
  for (size_t i = 0; i < r->num_versions; i++) {
    if (r->versions[i] == version) {
      r->per_version[i]++;
      return;
    }
  }
  if (r->num_versions < TV_ENGINE_VERIFY_VERSIONS_MAX) {
    r->versions[r->num_versions] = version;
    r->per_version[r->num_versions++] = 1;
    return;
  }
  r->other_versions++;
}

/* Names a failed record by its token (the first few only). */
static void name_failure(tv_verify_report *r, const tv_record_put *put) {
  if (r->num_failed_tokens >= TV_ENGINE_VERIFY_FAILED_NAMED_MAX || put->token_len > TV_STORE_TOKEN_LEN_MAX) {
    return;
  }
  char *slot = r->failed_tokens[r->num_failed_tokens++];
  memcpy(slot, put->token, put->token_len);
  slot[put->token_len] = '\0';
}

static tv_status verify_fn(void *arg, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  verify_ctx *c = arg;
  if (put->ns_len != c->ns->name_len || memcmp(put->ns, c->ns->name, put->ns_len) != 0) {
    return TV_OK;
  }
  tv_verify_report *r = c->r;
  r->records++;
  if (put->key_version == TV_ENGINE_TOMBSTONE_VERSION) {
    r->tombstones += engine_is_tombstone(put);
    r->expired_stubs += !engine_is_tombstone(put);
    return TV_OK;
  }
  count_version(r, put->key_version);
  if (c->version != put->key_version) {
    c->version = put->key_version;
    c->keys_status = tv_keyring_version(c->e->keyring, &c->keys, c->ns->name, put->key_version);
  }
  if (c->keys_status != TV_OK) {
    r->no_key++;
    name_failure(r, put);
    return TV_OK;
  }
  uint8_t pt[ENGINE_CT_LEN_MAX];
  size_t pt_len = 0;
  if (put->ciphertext_len <= sizeof pt && engine_open(put, c->keys.value_key, pt, &pt_len) == TV_OK) {
    r->values++;
    tv_wipe(pt, pt_len);
  } else {
    r->failed++; /* engine_open wiped what it wrote */
    name_failure(r, put);
  }
  return TV_OK;
}

tv_status tv_engine_verify(tv_engine *engine, tv_verify_report *out, const char *ns) {
  TV_ENSURE(engine != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  const engine_ns *n = engine_find_ns(engine, ns);
  TV_ENSURE(n != NULL, TV_E_ENGINE_NAMESPACE);
  verify_ctx c = {.e = engine, .ns = n, .r = out};
  return tv_store_scan(engine->store, verify_fn, &c);
}
