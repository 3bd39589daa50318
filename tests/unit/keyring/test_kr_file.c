/* The keyring file encoding: round trip, and every kind of malformed input
 * refused with TV_E_KEYRING_CORRUPT (never a crash or an over-read). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vault/keyring/kr_file.h"

static void fill(uint8_t *p, size_t len, uint8_t seed) {
  for (size_t i = 0; i < len; i++) {
    p[i] = (uint8_t)(seed * 31u + i * 7u);
  }
}

/* Two namespaces: "pan" with versions 1 (decrypt-only), 2 (active);
 * "iban" with 1 (active); one proposal; one old KEK. */
static void sample(kr_file *f) {
  memset(f, 0, sizeof *f);
  f->generation = 7;
  snprintf(f->kek_label, sizeof f->kek_label, "kek-2");
  f->next_proposal_id = 5;
  const char *names[2] = {"pan", "iban"};
  for (int i = 0; i < 2; i++) {
    kr_file_namespace *ns = kr_file_add_namespace(f);
    assert_non_null(ns);
    snprintf(ns->name, sizeof ns->name, "%s", names[i]);
    ns->created_s = 1000u + (unsigned)i;
    ns->last_version = i == 0 ? 2 : 1;
    fill(ns->token_key.bytes, KR_WRAPPED_LEN, (uint8_t)(10 + i));
    fill(ns->fingerprint_key.bytes, KR_WRAPPED_LEN, (uint8_t)(20 + i));
  }
  const uint32_t ns_of[3] = {0, 0, 1};
  const uint32_t ver[3] = {1, 2, 1};
  const uint8_t state[3] = {TV_KEY_DECRYPT_ONLY, TV_KEY_ACTIVE, TV_KEY_ACTIVE};
  for (int i = 0; i < 3; i++) {
    kr_file_version *v = kr_file_add_version(f);
    assert_non_null(v);
    *v = (kr_file_version){ns_of[i], ver[i], state[i], 2000u + (unsigned)i, 4096u * (unsigned)i,
                           {{0}}};
    fill(v->value_key.bytes, KR_WRAPPED_LEN, (uint8_t)(30 + i));
  }
  tv_keyring_proposal *p = kr_file_add_proposal(f);
  assert_non_null(p);
  p->id = 4;
  p->action = TV_KEYRING_DESTROY_VERSION;
  snprintf(p->proposer, sizeof p->proposer, "spiffe://bank/officer-a");
  p->proposed_s = 3000;
  snprintf(p->name, sizeof p->name, "pan");
  p->version = 1;
  kr_file_old_kek *old = kr_file_add_old_kek(f);
  assert_non_null(old);
  snprintf(old->label, sizeof old->label, "kek-1");
}

static uint8_t *encode(const kr_file *f, size_t *out_len) {
  uint8_t *buf = NULL;
  assert_int_equal(kr_file_serialize(f, &buf, out_len), TV_OK);
  return buf;
}

static tv_status parse_of(const kr_file *f) {
  size_t len = 0;
  uint8_t *buf = encode(f, &len);
  kr_file out;
  tv_status status = kr_file_parse(&out, buf, len);
  kr_file_free(&out);
  free(buf);
  return status;
}

static void test_round_trip(void **state) {
  (void)state;
  kr_file f;
  sample(&f);
  size_t len = 0;
  uint8_t *buf = encode(&f, &len);
  kr_file g;
  assert_int_equal(kr_file_parse(&g, buf, len), TV_OK);
  assert_int_equal(g.generation, 7);
  assert_string_equal(g.kek_label, "kek-2");
  assert_int_equal(g.num_namespaces, 2);
  assert_string_equal(g.namespaces[1].name, "iban");
  assert_memory_equal(g.namespaces[1].token_key.bytes, f.namespaces[1].token_key.bytes,
                      KR_WRAPPED_LEN);
  assert_int_equal(g.num_versions, 3);
  for (int i = 0; i < 3; i++) { /* field by field: struct padding is not data */
    assert_int_equal(g.versions[i].ns_index, f.versions[i].ns_index);
    assert_int_equal(g.versions[i].version, f.versions[i].version);
    assert_int_equal(g.versions[i].state, f.versions[i].state);
    assert_int_equal(g.versions[i].created_s, f.versions[i].created_s);
    assert_int_equal(g.versions[i].reserved, f.versions[i].reserved);
    assert_memory_equal(g.versions[i].value_key.bytes, f.versions[i].value_key.bytes,
                        KR_WRAPPED_LEN);
  }
  assert_int_equal(g.num_proposals, 1);
  assert_string_equal(g.proposals[0].proposer, "spiffe://bank/officer-a");
  assert_int_equal(g.proposals[0].action, TV_KEYRING_DESTROY_VERSION);
  assert_int_equal(g.num_old_keks, 1);
  assert_string_equal(g.old_keks[0].label, "kek-1");
  /* Encoding again gives the same bytes: nothing is lost or reordered. */
  size_t len2 = 0;
  uint8_t *buf2 = encode(&g, &len2);
  assert_int_equal(len2, len);
  assert_memory_equal(buf2, buf, len);
  free(buf2);
  free(buf);
  kr_file_free(&f);
  kr_file_free(&g);
}

static void test_every_truncation_refused(void **state) {
  (void)state;
  kr_file f;
  sample(&f);
  size_t len = 0;
  uint8_t *buf = encode(&f, &len);
  for (size_t cut = 0; cut < len; cut++) {
    /* A copy of exactly |cut| bytes, so any over-read is caught by ASan. */
    uint8_t *part = malloc(cut > 0 ? cut : 1);
    assert_non_null(part);
    memcpy(part, buf, cut);
    kr_file out;
    tv_status status = kr_file_parse(&out, part, cut);
    assert_int_equal(status, TV_E_KEYRING_CORRUPT);
    assert_int_equal(out.num_namespaces, 0);
    free(part);
  }
  free(buf);
  kr_file_free(&f);
}

static void test_trailing_and_header(void **state) {
  (void)state;
  kr_file f;
  sample(&f);
  size_t len = 0;
  uint8_t *buf = encode(&f, &len); /* has KR_MAC_LEN spare bytes after len */
  kr_file out;
  assert_int_equal(kr_file_parse(&out, buf, len + 1), TV_E_KEYRING_CORRUPT);
  buf[0] = 'X';
  assert_int_equal(kr_file_parse(&out, buf, len), TV_E_KEYRING_CORRUPT);
  buf[0] = 'T';
  assert_int_equal(buf[5], KR_FORMAT_VERSION); /* written in the current format */
  buf[5] = 3; /* a newer format */
  assert_int_equal(kr_file_parse(&out, buf, len), TV_E_KEYRING_FORMAT_VERSION);
  buf[5] = 0;
  assert_int_equal(kr_file_parse(&out, buf, len), TV_E_KEYRING_FORMAT_VERSION);
  buf[5] = KR_FORMAT_VERSION;
  buf[7] = 1; /* reserved field must be zero */
  assert_int_equal(kr_file_parse(&out, buf, len), TV_E_KEYRING_CORRUPT);
  buf[7] = 0;
  assert_int_equal(kr_file_parse(&out, buf, len), TV_OK);
  kr_file_free(&out);
  assert_int_equal(kr_file_parse(&out, NULL, 0), TV_E_KEYRING_CORRUPT);
  free(buf);
  kr_file_free(&f);
}

/* Format 2 keeps each proposal's reason and the recent approved ones. */
static void test_reason_and_recent_round_trip(void **state) {
  (void)state;
  kr_file f;
  sample(&f);
  snprintf(f.proposals[0].reason, sizeof f.proposals[0].reason, "retire pan v1 (ticket 42)");
  tv_keyring_proposal done = f.proposals[0];
  done.id = 3;
  done.action = TV_KEYRING_ROTATE_KEK;
  done.name[0] = '\0';
  done.version = 0;
  snprintf(done.label, sizeof done.label, "kek-2");
  snprintf(done.reason, sizeof done.reason, "yearly KEK rotation");
  snprintf(done.approver, sizeof done.approver, "spiffe://bank/officer-b");
  done.approved_s = 3600;
  for (int i = 0; i < TV_KEYRING_RECENT_MAX + 2; i++) {
    assert_int_equal(kr_file_add_recent(&f, &done), TV_OK); /* bounded: the oldest go */
  }
  assert_int_equal(f.num_recent, TV_KEYRING_RECENT_MAX);
  size_t len = 0;
  uint8_t *buf = encode(&f, &len);
  kr_file out;
  assert_int_equal(kr_file_parse(&out, buf, len), TV_OK);
  assert_int_equal(out.format, KR_FORMAT_VERSION);
  assert_string_equal(out.proposals[0].reason, "retire pan v1 (ticket 42)");
  assert_int_equal(out.num_recent, TV_KEYRING_RECENT_MAX);
  assert_string_equal(out.recent[0].reason, "yearly KEK rotation");
  assert_string_equal(out.recent[0].approver, "spiffe://bank/officer-b");
  assert_int_equal(out.recent[0].approved_s, 3600);
  kr_file_free(&out);
  /* An approver equal to the proposer is not a two-officer approval. */
  snprintf(f.recent[0].approver, sizeof f.recent[0].approver, "%s", f.recent[0].proposer);
  free(buf);
  buf = encode(&f, &len);
  assert_int_equal(kr_file_parse(&out, buf, len), TV_E_KEYRING_CORRUPT);
  free(buf);
  kr_file_free(&f);
}

/* A format 1 file (no reasons, no recent) still opens, and encodes back
 * to the same bytes until its next change upgrades it. */
static void test_format_1_still_read(void **state) {
  (void)state;
  kr_file f;
  sample(&f);
  f.format = 1;
  size_t len = 0;
  uint8_t *buf = encode(&f, &len);
  assert_int_equal(buf[5], 1);
  kr_file out;
  assert_int_equal(kr_file_parse(&out, buf, len), TV_OK);
  assert_int_equal(out.format, 1);
  assert_int_equal(out.num_proposals, 1);
  assert_string_equal(out.proposals[0].reason, "");
  assert_int_equal(out.num_recent, 0);
  uint8_t *again = NULL;
  size_t again_len = 0;
  assert_int_equal(kr_file_serialize(&out, &again, &again_len), TV_OK);
  assert_int_equal(again_len, len);
  assert_memory_equal(again, buf, len);
  free(again);
  kr_file_free(&out);
  free(buf);
  kr_file_free(&f);
}

static void test_forged_count_refused(void **state) {
  (void)state;
  kr_file f;
  sample(&f);
  size_t len = 0;
  uint8_t *buf = encode(&f, &len);
  /* The namespace count follows the header, labels and proposal id. */
  size_t off = 8 + 8 + 1 + strlen("kek-2") + 1 + 1 + 8;
  assert_int_equal(buf[off + 3], 2);
  const uint8_t forged[4] = {0xff, 0xff, 0xff, 0xff};
  memcpy(buf + off, forged, 4);
  kr_file out;
  assert_int_equal(kr_file_parse(&out, buf, len), TV_E_KEYRING_CORRUPT);
  buf[off] = 0;
  buf[off + 1] = 0;
  buf[off + 2] = 0;
  buf[off + 3] = 3; /* one more than there is */
  assert_int_equal(kr_file_parse(&out, buf, len), TV_E_KEYRING_CORRUPT);
  free(buf);
  kr_file_free(&f);
}

static void test_inconsistent_content_refused(void **state) {
  (void)state;
  kr_file f;
  sample(&f);
  assert_int_equal(parse_of(&f), TV_OK);
  f.versions[0].state = TV_KEY_ACTIVE; /* two active versions of "pan" */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  f.versions[0].state = TV_KEY_DESTROYED; /* destroyed keys are never stored */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  f.versions[0].state = TV_KEY_RETIRED;
  assert_int_equal(parse_of(&f), TV_OK);
  f.versions[0].ns_index = 2; /* no such namespace */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  f.versions[0].ns_index = 0;
  f.versions[0].version = 2; /* duplicate (pan, 2) */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  f.versions[0].version = 3; /* above last_version */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  f.versions[0].version = 1;
  kr_file_version swap = f.versions[0]; /* out of order: 2 listed before 1 */
  f.versions[0] = f.versions[1];
  f.versions[1] = swap;
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  f.versions[1] = f.versions[0];
  f.versions[0] = swap;
  assert_int_equal(parse_of(&f), TV_OK);
  snprintf(f.namespaces[1].name, sizeof f.namespaces[1].name, "pan"); /* duplicate name */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  snprintf(f.namespaces[1].name, sizeof f.namespaces[1].name, "IBAN"); /* bad charset */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  snprintf(f.namespaces[1].name, sizeof f.namespaces[1].name, "iban");
  f.proposals[0].id = 5; /* not below next_proposal_id */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  f.proposals[0].id = 4;
  f.proposals[0].action = (tv_keyring_action)9;
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  f.proposals[0].action = TV_KEYRING_DESTROY_VERSION;
  snprintf(f.old_keks[0].label, sizeof f.old_keks[0].label, "kek-2"); /* the current KEK */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  snprintf(f.old_keks[0].label, sizeof f.old_keks[0].label, "kek-1");
  f.pending = KR_PENDING_KEK_CREATE; /* pending without a label */
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  snprintf(f.pending_label, sizeof f.pending_label, "kek-3");
  assert_int_equal(parse_of(&f), TV_OK);
  f.pending = 3;
  assert_int_equal(parse_of(&f), TV_E_KEYRING_CORRUPT);
  kr_file_free(&f);
}

static void test_wrapped_length_and_garbage(void **state) {
  (void)state;
  kr_file f;
  sample(&f);
  size_t len = 0;
  uint8_t *buf = encode(&f, &len);
  /* The first wrapped key's length byte: after the namespace name etc. */
  size_t off = 8 + 8 + 1 + strlen("kek-2") + 1 + 1 + 8 + 4 + 1 + 3 + 8 + 4;
  assert_int_equal(buf[off], KR_WRAPPED_LEN);
  buf[off] = KR_WRAPPED_LEN + 8;
  kr_file out;
  assert_int_equal(kr_file_parse(&out, buf, len), TV_E_KEYRING_CORRUPT);
  free(buf);
  kr_file_free(&f);
  /* Random bytes behind a valid magic never parse and never crash. */
  uint8_t junk[512];
  for (unsigned seed = 0; seed < 200; seed++) {
    fill(junk, sizeof junk, (uint8_t)seed);
    for (size_t i = 0; i < sizeof junk; i++) {
      junk[i] = (uint8_t)(junk[i] ^ (seed * i));
    }
    memcpy(junk, "TVKR\0\1\0\0", 8);
    assert_int_not_equal(kr_file_parse(&out, junk, sizeof junk), TV_OK);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_every_truncation_refused),
      cmocka_unit_test(test_trailing_and_header),
      cmocka_unit_test(test_reason_and_recent_round_trip),
      cmocka_unit_test(test_format_1_still_read),
      cmocka_unit_test(test_forged_count_refused),
      cmocka_unit_test(test_inconsistent_content_refused),
      cmocka_unit_test(test_wrapped_length_and_garbage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
