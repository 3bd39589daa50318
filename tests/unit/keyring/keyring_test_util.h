/* Shared by the keyring tests: a fresh SoftHSM2 token (tests/unit/hsm's
 * fixture) plus a vault data directory holding the keyring file, all under
 * one temporary directory per test. */
#ifndef TV_TESTS_KEYRING_TEST_UTIL_H
#define TV_TESTS_KEYRING_TEST_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/unit/hsm/hsm_test_util.h"
#include "vault/keyring/keyring.h"

typedef struct kr_fixture {
  hsm_fixture *hsm;          /* token, config, open tv_hsm */
  char data_dir[PATH_MAX];   /* <root>/data */
  char path[PATH_MAX];       /* <root>/data/keyring */
  tv_keyring_options options;
  tv_keyring *kr;            /* open unless the test closed it */
} kr_fixture;

/* kr_fixture_new makes the token and data directory and, if |create|,
 * creates the keyring. Aborts the test on failure. */
kr_fixture *kr_fixture_new(int create);

/* kr_fixture_free closes everything and deletes the directory. */
void kr_fixture_free(kr_fixture *fx);

int kr_setup(void **state);
int kr_setup_empty(void **state);
int kr_teardown(void **state);

/* kr_check fails the test with |what|, the status name and the HSM detail
 * unless |status| is TV_OK. */
void kr_check(tv_status status, const char *what);

/* kr_reopen frees the keyring and opens it again from its file. */
void kr_reopen(kr_fixture *fx);

/* kr_reconnect closes the keyring and the tv_hsm, then opens both again
 * (as a restarted process would). */
void kr_reconnect(kr_fixture *fx);

/* kr_tree_contains returns 1 if any regular file under |dir| contains the
 * |len| bytes at |needle|. */
int kr_tree_contains(const char *dir, const uint8_t *needle, size_t len);

/* kr_read_file / kr_write_file: whole files, for tampering. The buffer is
 * malloc'd; the caller frees it. */
uint8_t *kr_read_file(const char *path, size_t *out_len);
void kr_write_file(const char *path, const uint8_t *data, size_t len);

/* A snapshot of every key of a keyring, to compare across reopenings. */
#define KR_SNAP_NS_MAX 16
#define KR_SNAP_VERSIONS_MAX 32
typedef struct kr_snap_ns {
  char name[TV_KEYRING_NAMESPACE_LEN_MAX + 1];
  uint8_t token_key[TV_KEYRING_KEY_LEN];
  uint8_t fingerprint_key[TV_KEYRING_KEY_LEN];
  size_t num_versions;
  uint32_t versions[KR_SNAP_VERSIONS_MAX];
  tv_key_state states[KR_SNAP_VERSIONS_MAX];
  uint8_t value_keys[KR_SNAP_VERSIONS_MAX][TV_KEYRING_KEY_LEN];
} kr_snap_ns;

typedef struct kr_snapshot {
  size_t num_ns;
  kr_snap_ns ns[KR_SNAP_NS_MAX];
} kr_snapshot;

/* kr_snapshot_take records namespaces |names| (|num| of them); retired
 * versions are listed with zero key bytes (they cannot be looked up). */
void kr_snapshot_take(kr_snapshot *out, tv_keyring *kr, const char *const *names, size_t num);

/* kr_snapshot_expect_keys asserts that every key in |snap| is in |kr| with
 * the same bytes (versions added since are allowed). */
void kr_snapshot_expect_keys(const kr_snapshot *snap, tv_keyring *kr);

#endif
