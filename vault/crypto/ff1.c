/* FF1 entry points: parameter checks, the choice of implementation, key
 * objects and their shape cache. */
#include <stdatomic.h>
#include <string.h>

#include "vault/crypto/ff1_internal.h"
#include "vault/util/secure_mem.h"

#define KEY_ALLOC_BYTES (sizeof(ff1_key) + sizeof(ff1_shape_cache))

ff1_impl ff1_best_impl(void) {
  /* Checked on every call: __builtin_cpu_supports reads a table filled
   * once, so there is nothing worth caching here. */
  if (ff1_vaes_cpu_supported()) {
    return FF1_IMPL_VAES;
  }
  return ff1_aesni_cpu_supported() ? FF1_IMPL_AESNI : FF1_IMPL_OPENSSL;
}

const char *ff1_impl_name(ff1_impl impl) {
  switch (impl) {
    case FF1_IMPL_AESNI:
      return "aesni";
    case FF1_IMPL_VAES:
      return "vaes";
    case FF1_IMPL_OPENSSL:
      return "openssl";
    case FF1_IMPL_AUTO:
      break;
  }
  return "auto";
}

int ff1_impl_available(ff1_impl impl) {
  switch (impl) {
    case FF1_IMPL_AESNI:
      return ff1_aesni_cpu_supported();
    case FF1_IMPL_VAES:
      return ff1_vaes_cpu_supported();
    case FF1_IMPL_OPENSSL:
    case FF1_IMPL_AUTO:
      return 1;
  }
  return 0;
}

tv_status ff1_key_new(ff1_key **out_key, ff1_impl impl, const uint8_t *key, size_t key_len) {
  TV_ENSURE(out_key != NULL && key != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(key_len == 16u || key_len == 24u || key_len == 32u, TV_E_FF1_KEY_LENGTH);
  if (impl == FF1_IMPL_AUTO) {
    impl = ff1_best_impl();
  }
  TV_ENSURE(impl == FF1_IMPL_AESNI || impl == FF1_IMPL_VAES || impl == FF1_IMPL_OPENSSL,
            TV_E_INVALID_ARGUMENT);
  TV_ENSURE(ff1_impl_available(impl), TV_E_FF1_NO_AESNI);

  uint8_t *mem = tv_secure_alloc(KEY_ALLOC_BYTES);
  TV_ENSURE(mem != NULL, TV_E_NO_MEMORY);
  ff1_key *k = (ff1_key *)(void *)mem;
  k->impl = impl;
  k->shape_cache = (ff1_shape_cache *)(void *)(mem + sizeof(ff1_key));
  tv_status status = TV_OK;
  if (impl != FF1_IMPL_OPENSSL) {
    aesni_expand_key(k->round_keys, &k->aes_rounds, key, key_len);
  } else {
    k->aes_rounds = (unsigned)key_len / 4u + 6u;
    status = ff1_openssl_key_init(k, key, key_len);
  }
  if (status != TV_OK) {
    tv_secure_free(mem, KEY_ALLOC_BYTES);
    return status;
  }
  *out_key = k;
  return TV_OK;
}

void ff1_key_free(ff1_key *key) {
  if (key == NULL) {
    return;
  }
  if (key->impl == FF1_IMPL_OPENSSL) {
    ff1_openssl_key_cleanup(key);
  }
  tv_secure_free(key, KEY_ALLOC_BYTES);
}

ff1_impl ff1_key_impl(const ff1_key *key) {
  return key->impl;
}

static tv_status crypt_one(const ff1_key *key, int decrypt, unsigned radix, const uint8_t *tweak,
                           size_t tweak_len, const uint8_t *in, size_t length, uint8_t *out) {
  TV_ENSURE(key != NULL && in != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(tweak != NULL || tweak_len == 0, TV_E_INVALID_ARGUMENT);
  if (key->impl != FF1_IMPL_OPENSSL) {
    /* Checks the parameters (only the cheap range checks when the shape
     * is cached) and the numerals itself, while loading them. */
    return ff1_aesni_crypt(key, decrypt, radix, tweak, tweak_len, in, length, out);
  }
  TV_TRY(ff1_check_params(radix, length, tweak_len));
  TV_TRY(ff1_check_numerals(radix, in, length));
  return ff1_openssl_crypt(key, decrypt, radix, tweak, tweak_len, in, length, out);
}

tv_status ff1_encrypt(const ff1_key *key, unsigned radix, const uint8_t *tweak, size_t tweak_len,
                      const uint8_t *in, size_t length, uint8_t *out) {
  return crypt_one(key, 0, radix, tweak, tweak_len, in, length, out);
}

tv_status ff1_decrypt(const ff1_key *key, unsigned radix, const uint8_t *tweak, size_t tweak_len,
                      const uint8_t *in, size_t length, uint8_t *out) {
  return crypt_one(key, 1, radix, tweak, tweak_len, in, length, out);
}

static tv_status crypt_batch(const ff1_key *key, int decrypt, unsigned radix,
                             ff1_batch_item *items, size_t count) {
  TV_ENSURE(key != NULL && (items != NULL || count == 0), TV_E_INVALID_ARGUMENT);
  if (key->impl != FF1_IMPL_OPENSSL) {
    return ff1_aesni_crypt_batch(key, decrypt, radix, items, count);
  }
  tv_status first_error = TV_OK;
  for (size_t i = 0; i < count; i++) {
    ff1_batch_item *it = &items[i];
    it->status = crypt_one(key, decrypt, radix, it->tweak, it->tweak_len, it->in, it->length,
                           it->out);
    if (it->status != TV_OK && first_error == TV_OK) {
      first_error = it->status;
    }
  }
  return first_error;
}

tv_status ff1_encrypt_batch(const ff1_key *key, unsigned radix, ff1_batch_item *items,
                            size_t count) {
  return crypt_batch(key, 0, radix, items, count);
}

tv_status ff1_decrypt_batch(const ff1_key *key, unsigned radix, ff1_batch_item *items,
                            size_t count) {
  return crypt_batch(key, 1, radix, items, count);
}

/* Shape cache: direct-mapped slots pointing into an append-only arena. A
 * slot may be repointed to another shape; the old one stays valid, so a
 * reader holding it is never left with freed memory. */
static size_t shape_slot_index(uint64_t tag) {
  uint64_t h = tag * 0x9E3779B97F4A7C15u;
  return (size_t)(h >> 58) % FF1_SHAPE_CACHE_SLOTS;
}

const ff1_shape *ff1_shape_lookup(const ff1_key *key, uint64_t tag) {
  const ff1_shape *shape = atomic_load_explicit(
      &key->shape_cache->slot[shape_slot_index(tag)], memory_order_acquire);
  return shape != NULL && shape->tag == tag ? shape : NULL;
}

/* A shape already in the arena (it was evicted from its slot by another
 * shape of the same slot), so that two such shapes alternating do not
 * fill the arena with copies. */
static const ff1_shape *arena_find(ff1_shape_cache *cache, uint64_t tag) {
  unsigned used = atomic_load_explicit(&cache->arena_used, memory_order_relaxed);
  used = used < FF1_SHAPE_ARENA_MAX ? used : FF1_SHAPE_ARENA_MAX;
  for (unsigned i = 0; i < used; i++) {
    if (atomic_load_explicit(&cache->arena_ready[i], memory_order_acquire) &&
        cache->arena[i].tag == tag) {
      return &cache->arena[i];
    }
  }
  return NULL;
}

const ff1_shape *ff1_shape_store(const ff1_key *key, const ff1_shape *shape) {
  ff1_shape_cache *cache = key->shape_cache;
  _Atomic(const ff1_shape *) *slot = &cache->slot[shape_slot_index(shape->tag)];
  const ff1_shape *published = arena_find(cache, shape->tag);
  if (published == NULL) {
    /* Claim an entry; never count past the end (a counter that kept
     * growing on every miss would wrap around after 2^32 of them). */
    unsigned index = atomic_load_explicit(&cache->arena_used, memory_order_relaxed);
    do {
      if (index >= FF1_SHAPE_ARENA_MAX) {
        return NULL;
      }
    } while (!atomic_compare_exchange_weak_explicit(&cache->arena_used, &index, index + 1u,
                                                    memory_order_relaxed, memory_order_relaxed));
    cache->arena[index] = *shape;
    atomic_store_explicit(&cache->arena_ready[index], 1, memory_order_release);
    published = &cache->arena[index];
  }
  /* Release: a reader that sees the pointer sees the shape's contents. */
  atomic_store_explicit(slot, published, memory_order_release);
  return published;
}
