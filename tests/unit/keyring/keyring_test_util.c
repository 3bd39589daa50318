#include "tests/unit/keyring/keyring_test_util.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

void kr_check(tv_status status, const char *what) {
  if (status != TV_OK) {
    fprintf(stderr, "%s: %s (%s) %s\n", what, tv_status_name(status), tv_status_message(status),
            tv_hsm_error_detail());
  }
  assert_int_equal(status, TV_OK);
}

kr_fixture *kr_fixture_new(int create) {
  kr_fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  fx->hsm = hsm_fixture_new(1);
  snprintf(fx->data_dir, sizeof fx->data_dir, "%.*s/data", PATH_MAX - 16, fx->hsm->root);
  assert_int_equal(mkdir(fx->data_dir, 0700), 0);
  snprintf(fx->path, sizeof fx->path, "%.*s/keyring", PATH_MAX - 16, fx->data_dir);
  fx->options = (tv_keyring_options){
      .path = fx->path,
      .mac_label = fx->hsm->token.mac_label,
      .kek_label = fx->hsm->token.kek_label,
  };
  if (create) {
    kr_check(tv_keyring_create(&fx->kr, fx->hsm->hsm, &fx->options), "keyring create");
  }
  return fx;
}

void kr_fixture_free(kr_fixture *fx) {
  if (fx == NULL) {
    return;
  }
  tv_keyring_free(fx->kr);
  hsm_fixture_free(fx->hsm);
  free(fx);
}

int kr_setup(void **state) {
  *state = kr_fixture_new(1);
  return 0;
}

int kr_setup_empty(void **state) {
  *state = kr_fixture_new(0);
  return 0;
}

int kr_teardown(void **state) {
  kr_fixture_free(*state);
  return 0;
}

void kr_reopen(kr_fixture *fx) {
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  kr_check(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), "keyring reopen");
}

void kr_reconnect(kr_fixture *fx) {
  tv_keyring_free(fx->kr);
  fx->kr = NULL;
  tv_hsm_free(fx->hsm->hsm);
  fx->hsm->hsm = NULL;
  kr_check(tv_hsm_open(&fx->hsm->hsm, &fx->hsm->config), "hsm reopen");
  kr_check(tv_keyring_open(&fx->kr, fx->hsm->hsm, &fx->options), "keyring reopen");
}

uint8_t *kr_read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long len = ftell(f);
  assert_true(len >= 0);
  rewind(f);
  uint8_t *buf = malloc((size_t)len + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *out_len = (size_t)len;
  return buf;
}

void kr_write_file(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static int buffer_contains(const uint8_t *hay, size_t hay_len, const uint8_t *needle,
                           size_t len) {
  for (size_t i = 0; i + len <= hay_len; i++) {
    if (memcmp(hay + i, needle, len) == 0) {
      return 1;
    }
  }
  return 0;
}

int kr_tree_contains(const char *dir, const uint8_t *needle, size_t len) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int found = 0;
  struct dirent *e;
  while (!found && (e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%.*s/%.255s", PATH_MAX - 300, dir, e->d_name);
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    if (S_ISDIR(st.st_mode)) {
      found = kr_tree_contains(path, needle, len);
    } else if (S_ISREG(st.st_mode)) {
      size_t file_len = 0;
      uint8_t *buf = kr_read_file(path, &file_len);
      found = buffer_contains(buf, file_len, needle, len);
      free(buf);
    }
  }
  closedir(d);
  return found;
}

static void snap_namespace(kr_snap_ns *s, tv_keyring *kr, const char *name) {
  snprintf(s->name, sizeof s->name, "%s", name);
  tv_keyring_version_info infos[KR_SNAP_VERSIONS_MAX];
  kr_check(tv_keyring_list_versions(kr, infos, &s->num_versions, KR_SNAP_VERSIONS_MAX, name),
           "list versions");
  assert_true(s->num_versions <= KR_SNAP_VERSIONS_MAX);
  tv_keyring_keys keys;
  kr_check(tv_keyring_active(kr, &keys, name), "active");
  memcpy(s->token_key, keys.token_key, TV_KEYRING_KEY_LEN);
  memcpy(s->fingerprint_key, keys.fingerprint_key, TV_KEYRING_KEY_LEN);
  for (size_t i = 0; i < s->num_versions; i++) {
    s->versions[i] = infos[i].version;
    s->states[i] = infos[i].state;
    memset(s->value_keys[i], 0, TV_KEYRING_KEY_LEN);
    if (infos[i].state == TV_KEY_ACTIVE || infos[i].state == TV_KEY_DECRYPT_ONLY) {
      kr_check(tv_keyring_version(kr, &keys, name, infos[i].version), "version");
      memcpy(s->value_keys[i], keys.value_key, TV_KEYRING_KEY_LEN);
    }
  }
}

void kr_snapshot_take(kr_snapshot *out, tv_keyring *kr, const char *const *names, size_t num) {
  assert_true(num <= KR_SNAP_NS_MAX);
  memset(out, 0, sizeof *out);
  out->num_ns = num;
  for (size_t i = 0; i < num; i++) {
    snap_namespace(&out->ns[i], kr, names[i]);
  }
}

void kr_snapshot_expect_keys(const kr_snapshot *snap, tv_keyring *kr) {
  for (size_t i = 0; i < snap->num_ns; i++) {
    const kr_snap_ns *s = &snap->ns[i];
    tv_keyring_keys keys;
    kr_check(tv_keyring_active(kr, &keys, s->name), "active");
    assert_memory_equal(keys.token_key, s->token_key, TV_KEYRING_KEY_LEN);
    assert_memory_equal(keys.fingerprint_key, s->fingerprint_key, TV_KEYRING_KEY_LEN);
    for (size_t j = 0; j < s->num_versions; j++) {
      if (s->states[j] != TV_KEY_ACTIVE && s->states[j] != TV_KEY_DECRYPT_ONLY) {
        continue;
      }
      kr_check(tv_keyring_version(kr, &keys, s->name, s->versions[j]), "version lookup");
      assert_memory_equal(keys.value_key, s->value_keys[j], TV_KEYRING_KEY_LEN);
    }
  }
}
