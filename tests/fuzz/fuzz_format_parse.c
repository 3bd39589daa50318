/* libFuzzer target: arbitrary bytes as a value for every format (several
 * configurations each). Accepted values must satisfy the invariants the
 * vault relies on; any violation aborts:
 *   - the canonical form re-parses to the same canonical form, and put
 *     back into the input's shape gives the (case-normalised) input;
 *   - the mask has the input's shape (SSNs: ***-**-NNNN) and shows no
 *     character that is not in the value;
 *   - a candidate keeps the shape, differs from the value, is
 *     deterministic, and (where the policy makes tokens valid) parses;
 *   - revealed through a candidate (format_reshape, format_mask_like), the
 *     value comes back in the candidate's shape: the input itself in full,
 *     the plain mask masked; through the bare candidate, the canonical
 *     form. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/crypto/ff1.h"
#include "vault/format/format.h"
#include "vault/format/format_internal.h"

#define CONFIGS_MAX 16

typedef struct fuzz_config {
  tv_format cfg;
  int tokens_parse; /* tokens are valid values of the same format */
} fuzz_config;

static fuzz_config configs[CONFIGS_MAX];
static size_t config_count;
static ff1_key *key;

static void check(int cond) {
  if (!cond) {
    abort();
  }
}

static void add(tv_format_kind kind, int tokens_parse, void (*adjust)(tv_format *)) {
  fuzz_config *c = &configs[config_count++];
  check(format_config_init(&c->cfg, kind, "fuzz") == TV_OK);
  if (adjust != NULL) {
    adjust(&c->cfg);
  }
  check(format_config_validate(&c->cfg, NULL, 0) == TV_OK);
  c->tokens_parse = tokens_parse;
}

static void pan_short(tv_format *cfg) {
  cfg->pan.length_min = 13;
  cfg->pan.keep_first = 3;
  cfg->pan.luhn = FORMAT_LUHN_VALID;
}

static void iban_invalid(tv_format *cfg) { cfg->iban.check = FORMAT_IBAN_CHECK_INVALID; }

static void bank_short(tv_format *cfg) {
  cfg->bank.length_min = 6;
  cfg->bank.keep_last = 0;
}

static void generic_luhn(tv_format *cfg) {
  cfg->generic.keep_prefix = 2;
  cfg->generic.keep_suffix = 2;
  cfg->generic.length_min = 11;
  cfg->generic.checksum = FORMAT_CHECKSUM_LUHN;
  strcpy(cfg->generic.separators, " -+()");
}

static void generic_alnum(tv_format *cfg) {
  check(alphabet_init(&cfg->generic.alphabet, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 36) ==
        TV_OK);
  cfg->generic.checksum = FORMAT_CHECKSUM_MOD97_10;
  cfg->generic.length_min = 8;
  cfg->generic.length_max = 64;
}

static void generic_mod11(tv_format *cfg) {
  cfg->generic.checksum = FORMAT_CHECKSUM_MOD11_2;
  cfg->generic.length_min = 8;
  strcpy(cfg->generic.separators, ".");
}

static void setup_once(void) {
  if (key != NULL) {
    return;
  }
  uint8_t k[32];
  for (size_t i = 0; i < sizeof k; i++) {
    k[i] = (uint8_t)(0x40 + i);
  }
  check(ff1_key_new(&key, FF1_IMPL_AUTO, k, sizeof k) == TV_OK);
  add(FORMAT_PAN, 0, NULL); /* default Luhn policy: tokens are invalid */
  add(FORMAT_PAN, 1, pan_short);
  add(FORMAT_IBAN, 1, NULL);
  add(FORMAT_IBAN, 0, iban_invalid);
  add(FORMAT_BANK_ACCOUNT, 1, NULL);
  add(FORMAT_BANK_ACCOUNT, 1, bank_short);
  add(FORMAT_US_SSN, 1, NULL);
  add(FORMAT_TW_NATIONAL_ID, 1, NULL);
  add(FORMAT_CN_RESIDENT_ID, 1, NULL);
  add(FORMAT_DE_TAX_ID, 1, NULL);
  add(FORMAT_GENERIC, 1, NULL);
  add(FORMAT_GENERIC, 1, generic_luhn);
  add(FORMAT_GENERIC, 1, generic_alnum);
  add(FORMAT_GENERIC, 1, generic_mod11);
}

static void check_mask(const fuzz_config *c, const format_value *v) {
  char mask[FORMAT_TEXT_LEN_MAX + 1];
  size_t n = 0;
  check(format_mask(&c->cfg, v, mask, sizeof mask, &n) == TV_OK);
  check(n == strlen(mask));
  if (c->cfg.kind == FORMAT_US_SSN) {
    check(n == 11 && memcmp(mask, "***-**-", 7) == 0 && memcmp(mask + 7, v->canon + 5, 4) == 0);
    return;
  }
  check(n == v->text_len);
  for (size_t i = 0; i < n; i++) {
    check(mask[i] == '*' || mask[i] == v->text[i]);
  }
}

static void check_canonical(const fuzz_config *c, const format_value *v) {
  char canon[FORMAT_CHARS_MAX + 1];
  size_t n = 0;
  check(format_canonical(v, canon, sizeof canon, &n) == TV_OK);
  check(n == v->canon_len && memcmp(canon, v->canon, n) == 0);
  char shaped[FORMAT_TEXT_LEN_MAX + 1];
  format_render(v, canon, shaped);
  check(memcmp(shaped, v->text, v->text_len) == 0);
  format_value again;
  check(format_parse(&c->cfg, canon, n, &again) == TV_OK);
  check(again.canon_len == n && memcmp(again.canon, canon, n) == 0);
  format_value_wipe(&again);
}

/* The reveals of |v| through its token |t| (sent with and without
 * separators). */
static void check_reveal_shape(const fuzz_config *c, const format_value *v, const format_token *t) {
  char out[FORMAT_TEXT_LEN_MAX + 1];
  size_t n = 0;
  check(format_reshape(&c->cfg, v->text, v->text_len, t->text, t->text_len, out, sizeof out, &n) == TV_OK);
  check(n == v->text_len && memcmp(out, v->text, n) == 0);
  check(format_reshape(&c->cfg, v->text, v->text_len, t->canon, t->canon_len, out, sizeof out, &n) == TV_OK);
  check(n == v->canon_len && memcmp(out, v->canon, n) == 0);
  char mask[FORMAT_TEXT_LEN_MAX + 1];
  size_t mask_len = 0;
  check(format_mask(&c->cfg, v, mask, sizeof mask, &mask_len) == TV_OK);
  check(format_mask_like(&c->cfg, v, t->text, t->text_len, out, sizeof out, &n) == TV_OK);
  check(n == mask_len && memcmp(out, mask, n) == 0);
}

static void check_candidates(const fuzz_config *c, const format_value *v) {
  for (uint32_t attempt = 0; attempt < 2; attempt++) {
    format_token t;
    tv_status s = format_candidate(&c->cfg, key, v, attempt, &t);
    if (s == TV_E_FORMAT_CANDIDATE_REJECTED) {
      continue;
    }
    check(s == TV_OK);
    check(t.text_len == v->text_len && t.canon_len == v->canon_len);
    check(memcmp(t.canon, v->canon, v->canon_len) != 0);
    format_token again;
    check(format_candidate(&c->cfg, key, v, attempt, &again) == TV_OK);
    check(strcmp(again.text, t.text) == 0);
    check_reveal_shape(c, v, &t);
    if (c->tokens_parse) {
      format_value tv;
      check(format_parse(&c->cfg, t.text, t.text_len, &tv) == TV_OK);
      check(strcmp(tv.canon, t.canon) == 0);
      format_value_wipe(&tv);
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  setup_once();
  for (size_t i = 0; i < config_count; i++) {
    const fuzz_config *c = &configs[i];
    format_value v;
    tv_status s = format_parse(&c->cfg, (const char *)data, size, &v);
    if (s != TV_OK) {
      /* A refusal leaves nothing behind. */
      const format_value zero = {0};
      check(memcmp(&v, &zero, sizeof v) == 0);
      continue;
    }
    check(v.kind == c->cfg.kind && v.text_len == size);
    check_canonical(c, &v);
    check_mask(c, &v);
    check_candidates(c, &v);
    format_value_wipe(&v);
  }
  return 0;
}
