/* Rotation end to end with compaction: tokenize, rotate the data key,
 * complete the rotation (re-encrypt + compact), check that no record of
 * the namespace under the old version is left — in the index and in the
 * segment files on disk — destroy the old version with two officers, and
 * check that everything still detokenizes, before and after a restart.
 * Also: deleted tokens stay DELETED and expired ones EXPIRED through
 * compaction (which strips the expired values' ciphertext). */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/engine/engine_test_util.h"
#include "vault/store/record.h"

#define PAN_VALUES 300
#define GEN_VALUES 40
#define DELETE_EVERY 10

typedef struct rc_data {
  char pans[PAN_VALUES][17];
  tv_tokenize_item pan_items[PAN_VALUES];
  char gens[GEN_VALUES][17];
  tv_tokenize_item gen_items[GEN_VALUES];
} rc_data;

/* Per-namespace census of the records in the segment files themselves. */
typedef struct disk_census {
  uint64_t puts[4]; /* PUT/REPUT records of the namespace by key version 0..3 */
  uint64_t with_ciphertext[4];
} disk_census;

static void census_record(const tv_record *r, const char *ns, disk_census *c) {
  if (r->header.type != TV_RECORD_PUT && r->header.type != TV_RECORD_REPUT) {
    return;
  }
  const tv_record_put *p = &r->body.put;
  if (p->ns_len != strlen(ns) || memcmp(p->ns, ns, p->ns_len) != 0 || p->key_version > 3) {
    return;
  }
  c->puts[p->key_version]++;
  c->with_ciphertext[p->key_version] += p->ciphertext_len > 0;
}

/* census_file decodes every record of one segment file; what follows the
 * last record must be zeros (preallocated space of the active segment). */
static void census_file(const char *path, const char *ns, disk_census *c) {
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  struct stat sb;
  assert_int_equal(fstat(fd, &sb), 0);
  size_t size = (size_t)sb.st_size;
  uint8_t *buf = malloc(size + 1);
  assert_non_null(buf);
  assert_int_equal(pread(fd, buf, size, 0), (ssize_t)size);
  close(fd);
  size_t off = 0;
  while (off < size) {
    tv_record r;
    size_t len;
    if (tv_record_decode(buf + off, size - off, &r, &len) != TV_OK) {
      assert_true(tv_record_is_zero(buf + off, size - off));
      break;
    }
    census_record(&r, ns, c);
    off += len;
  }
  free(buf);
}

static disk_census census(const eng_fixture *fx, const char *ns) {
  disk_census c;
  memset(&c, 0, sizeof c);
  DIR *d = opendir(fx->store_dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "seg-", 4) == 0) {
      char path[PATH_MAX + 64];
      snprintf(path, sizeof path, "%.*s/%.32s", PATH_MAX - 64, fx->store_dir, e->d_name);
      census_file(path, ns, &c);
    }
  }
  closedir(d);
  return c;
}

typedef struct version_scan {
  const char *ns;
  uint64_t by_version[4];
} version_scan;

static tv_status scan_versions(void *ctx, const tv_record_put *put, tv_store_loc loc) {
  (void)loc;
  version_scan *v = ctx;
  if (put->ns_len == strlen(v->ns) && memcmp(put->ns, v->ns, put->ns_len) == 0 && put->key_version <= 3) {
    v->by_version[put->key_version]++;
  }
  return TV_OK;
}

static void tokenize_all(eng_fixture *fx, rc_data *d) {
  for (size_t i = 0; i < PAN_VALUES; i++) {
    eng_pan(d->pans[i], 7000 + i * 13);
    d->pan_items[i] = (tv_tokenize_item){.value = d->pans[i], .value_len = 16};
  }
  eng_check(tv_engine_tokenize(fx->engine, "pan", d->pan_items, PAN_VALUES), "tokenize pan");
  for (size_t i = 0; i < GEN_VALUES; i++) {
    snprintf(d->gens[i], sizeof d->gens[i], "9%011zu", i * 7919);
    d->gen_items[i] = (tv_tokenize_item){.value = d->gens[i], .value_len = strlen(d->gens[i])};
  }
  eng_check(tv_engine_tokenize(fx->engine, "gen", d->gen_items, GEN_VALUES), "tokenize gen");
  for (size_t i = 0; i < PAN_VALUES; i++) {
    eng_check(d->pan_items[i].status, "pan item");
  }
  for (size_t i = 0; i < GEN_VALUES; i++) {
    eng_check(d->gen_items[i].status, "gen item");
  }
}

static void delete_some(eng_fixture *fx, rc_data *d) {
  for (size_t i = 0; i < PAN_VALUES; i += DELETE_EVERY) {
    const char *tok[1] = {d->pan_items[i].token};
    size_t len[1] = {d->pan_items[i].token_len};
    tv_status st[1];
    eng_check(tv_engine_delete(fx->engine, "pan", tok, len, st, 1), "delete");
    eng_check(st[0], "delete status");
  }
}

/* expect_pans: every PAN token detokenizes to its value, or is DELETED. */
static void expect_pans(eng_fixture *fx, rc_data *d) {
  static tv_detokenize_item out[PAN_VALUES];
  for (size_t i = 0; i < PAN_VALUES; i++) {
    out[i] = (tv_detokenize_item){.token = d->pan_items[i].token, .token_len = d->pan_items[i].token_len};
  }
  eng_check(tv_engine_detokenize(fx->engine, "pan", out, PAN_VALUES, TV_REVEAL_FULL), "detok pan");
  for (size_t i = 0; i < PAN_VALUES; i++) {
    if (i % DELETE_EVERY == 0) {
      assert_int_equal(out[i].status, TV_E_ENGINE_DELETED);
      continue;
    }
    eng_check(out[i].status, "pan value");
    assert_string_equal(out[i].value, d->pans[i]);
  }
}

/* expect_gens_expired: every "gen" token answers EXPIRED (full and none). */
static void expect_gens_expired(eng_fixture *fx, rc_data *d) {
  for (size_t i = 0; i < GEN_VALUES; i++) {
    tv_detokenize_item it = eng_detok1(fx, "gen", d->gen_items[i].token, TV_REVEAL_FULL);
    assert_int_equal(it.status, TV_E_ENGINE_EXPIRED);
    assert_int_equal(it.value_len, 0);
    it = eng_detok1(fx, "gen", d->gen_items[i].token, TV_REVEAL_NONE);
    assert_int_equal(it.status, TV_E_ENGINE_EXPIRED);
  }
}

static void destroy_version(eng_fixture *fx, const char *ns, uint32_t version) {
  tv_keyring_proposal prop = {.action = TV_KEYRING_DESTROY_VERSION, .version = version};
  snprintf(prop.name, sizeof prop.name, "%s", ns);
  uint64_t id = 0;
  uint64_t now_s = (uint64_t)time(NULL);
  kr_check(tv_keyring_propose(fx->kr->kr, &id, &prop, "officer-alice", now_s), "propose");
  assert_int_equal(tv_keyring_approve(fx->kr->kr, id, "officer-alice", now_s), TV_E_KEYRING_SAME_OFFICER);
  kr_check(tv_keyring_approve(fx->kr->kr, id, "officer-bob", now_s), "approve");
  tv_keyring_keys keys;
  assert_int_not_equal(tv_keyring_version(fx->kr->kr, &keys, ns, version), TV_OK);
}

static void check_after_rotation(eng_fixture *fx) {
  version_scan v = {.ns = "pan"};
  eng_check(tv_store_scan(fx->store, scan_versions, &v), "scan");
  assert_int_equal(v.by_version[1], 0);
  assert_int_equal(v.by_version[2], PAN_VALUES - PAN_VALUES / DELETE_EVERY);
  assert_int_equal(v.by_version[0], PAN_VALUES / DELETE_EVERY); /* tombstones */
  /* On disk: no "pan" record under version 1 at all, and no ciphertext
   * besides the live version-2 copies. */
  disk_census c = census(fx, "pan");
  assert_int_equal(c.puts[1], 0);
  assert_int_equal(c.with_ciphertext[0], 0);
  assert_int_equal(c.with_ciphertext[2], PAN_VALUES - PAN_VALUES / DELETE_EVERY);
  /* Expired "gen" values: stubs without ciphertext. */
  disk_census g = census(fx, "gen");
  assert_int_equal(g.with_ciphertext[1] + g.with_ciphertext[2], 0);
  assert_int_equal(g.puts[0], GEN_VALUES);
}

static void test_rotation_with_compaction(void **state) {
  eng_fixture *fx = *state;
  static rc_data d;
  memset(&d, 0, sizeof d);
  tokenize_all(fx, &d);
  delete_some(fx, &d);
  uint32_t v2 = 0;
  kr_check(tv_keyring_rotate_data_key(fx->kr->kr, &v2, "pan"), "rotate");
  assert_int_equal(v2, 2);
  fx->clock_offset_ms = 2u * 3600u * 1000u; /* "gen" tokens (1 h TTL) expire */
  expect_gens_expired(fx, &d);
  disk_census before = census(fx, "pan");
  assert_int_equal(before.puts[1], PAN_VALUES);

  tv_rotation_progress p;
  eng_check(tv_engine_complete_rotation(fx->engine, &p, "pan", NULL), "complete rotation");
  assert_int_equal(p.reencrypt.reencrypted, PAN_VALUES - PAN_VALUES / DELETE_EVERY);
  assert_int_equal(p.reencrypt.remaining, 0);
  assert_int_equal(p.reencrypt.num_retired, 1);
  assert_int_equal(p.reencrypt.retired[0], 1);
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p.compact, &r);
  assert_int_equal(r.phase, TV_COMPACT_FINISHED);
  assert_int_equal(r.records_expired, GEN_VALUES);
  assert_true(r.records_done > r.records_kept);
  check_after_rotation(fx);

  destroy_version(fx, "pan", 1);
  expect_pans(fx, &d);
  expect_gens_expired(fx, &d);
  eng_close(fx);
  eng_open(fx);
  check_after_rotation(fx);
  expect_pans(fx, &d);
  expect_gens_expired(fx, &d);
  /* Convergence still finds the same tokens after the move; deleted
   * values get new ones. */
  for (size_t i = 1; i < PAN_VALUES; i += 37) {
    tv_tokenize_item again = eng_tokenize1(fx, "pan", d.pans[i]);
    eng_check(again.status, "again");
    if (i % DELETE_EVERY == 0) { /* a deleted token is never handed out again */
      assert_int_equal(again.existing, 0);
      assert_string_not_equal(again.token, d.pan_items[i].token);
      continue;
    }
    assert_int_equal(again.existing, 1);
    assert_string_equal(again.token, d.pan_items[i].token);
  }
}

/* An expired stub is still an expired token: token_info answers EXPIRED
 * with its dates, deleting it works (then DELETED), and its value gets a
 * new token rather than the old one. */
static void test_expired_stub_lifecycle(void **state) {
  eng_fixture *fx = *state;
  /* "acct" is convergent: a live token would be returned again. */
  tv_tokenize_item t = {.value = "123456789012", .value_len = 12, .ttl_ms = 3600u * 1000u};
  eng_check(tv_engine_tokenize(fx->engine, "acct", &t, 1), "tokenize");
  eng_check(t.status, "tokenize item");
  fx->clock_offset_ms = 2u * 3600u * 1000u;
  tv_rotation_progress p;
  eng_check(tv_engine_complete_rotation(fx->engine, &p, "acct", NULL), "complete");
  tv_store_compact_report r;
  tv_store_compact_progress_get(&p.compact, &r);
  assert_int_equal(r.records_expired, 1);
  assert_int_equal(census(fx, "acct").with_ciphertext[1], 0);
  tv_token_info info;
  assert_int_equal(tv_engine_token_info(fx->engine, &info, "acct", t.token, t.token_len), TV_E_ENGINE_EXPIRED);
  assert_true(info.expires_ms != 0);
  assert_true(info.created_ms != 0);
  assert_int_equal(eng_detok1(fx, "acct", t.token, TV_REVEAL_FULL).status, TV_E_ENGINE_EXPIRED);
  tv_tokenize_item again = eng_tokenize1(fx, "acct", "123456789012");
  eng_check(again.status, "again");
  assert_int_equal(again.existing, 0);
  assert_string_not_equal(again.token, t.token);
  const char *tok[1] = {t.token};
  size_t len[1] = {t.token_len};
  tv_status st[1];
  eng_check(tv_engine_delete(fx->engine, "acct", tok, len, st, 1), "delete");
  eng_check(st[0], "delete stub");
  assert_int_equal(eng_detok1(fx, "acct", t.token, TV_REVEAL_NONE).status, TV_E_ENGINE_DELETED);
  assert_int_equal(tv_engine_complete_rotation(fx->engine, NULL, "acct", NULL), TV_E_INVALID_ARGUMENT);
  assert_int_equal(tv_engine_complete_rotation(fx->engine, &p, "nope", NULL), TV_E_ENGINE_NAMESPACE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rotation_with_compaction, eng_setup, eng_teardown),
      cmocka_unit_test_setup_teardown(test_expired_stub_lifecycle, eng_setup, eng_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
