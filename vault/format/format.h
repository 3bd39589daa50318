/* Token formats: validation, tokenisation candidates, masking and the
 * canonical form of the values the vault stores.
 *
 * A tv_format is one namespace's format configuration: the kind of value
 * (PAN, IBAN, ...), what it keeps in clear, its checksum policy and how
 * candidates are drawn (FF1 or the CSPRNG). The life of a value:
 *
 *   format_config_validate   once, when the namespace is loaded: refuses
 *                            configurations whose tokenised part would have
 *                            fewer than 10^6 values (FF1_DOMAIN_MIN), with
 *                            a sentence naming the numbers;
 *   format_parse             validates one input and splits it into kept,
 *                            tokenised and recomputed characters;
 *   format_candidate         the token candidate for attempt N (one try);
 *   format_generate          tries attempts 0, 1, ... until a candidate the
 *                            caller's "already used" callback accepts;
 *   format_mask              the MASKED reveal of the real value;
 *   format_reshape,          a reveal in the shape of the token the caller
 *   format_mask_like         sent (its separators), whatever shape the
 *                            value was stored in;
 *   format_canonical         separators removed, case normalised: what the
 *                            fingerprint is computed over.
 *
 * Tokens keep the input's shape: separators (spaces, dashes; per format)
 * stay exactly where they were, characters are replaced one for one.
 *
 * No call allocates: values and tokens are fixed-size structs bounded by
 * FORMAT_TEXT_LEN_MAX / FORMAT_CHARS_MAX. A format_value holds the real
 * value: wipe it with format_value_wipe as soon as it is no longer needed.
 *
 * Candidate generation (FF1 mode). The tokenised characters become FF1
 * numerals (radix 10, 36 or the generic alphabet's size). The tweak is
 *   SHA-256("tokenvault.format.v1" || kind || len(ns) || ns ||
 *           len(canonical) || len(kept) || kept characters)[0..8)
 *   || attempt (4 bytes, big-endian)
 * (the hash is computed once, in format_parse): 12 bytes, short enough
 * that FF1's Q block fits one CBC-MAC block for every half of up to 3
 * bytes (tweak_len + 1 + b <= 16), which covers PAN middles up to 9
 * digits. Kept characters go into the
 * tweak so that equal middles under different BINs (or banks) give
 * unrelated tokens; recomputed check characters do not (they follow from
 * the rest). Where a format's rules (Luhn policy, SSN ranges, German tax
 * ID digit rules, PRC birth dates, national check digits that cannot be
 * satisfied) reject an FF1 output, the output is encrypted again under the
 * same tweak (cycle-walking, at most FORMAT_CYCLE_WALK_MAX times). A
 * candidate equal to the input is rejected and the caller moves the
 * attempt counter on. Random mode draws the numerals from RAND_bytes
 * (uniform, by rejection) and applies the same rules. */
#ifndef TV_FORMAT_FORMAT_H
#define TV_FORMAT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "vault/crypto/ff1.h"
#include "vault/format/alphabet.h"
#include "vault/util/status.h"

/* Longest input, separators included: an IBAN printed in groups of four is
 * 42, a phone number or e-mail local part with punctuation well under 128. */
#define FORMAT_TEXT_LEN_MAX 128u
/* Most significant (non-separator) characters: e-mail local parts are at
 * most 64 (RFC 5321), and every other format is shorter. */
#define FORMAT_CHARS_MAX 64u
/* Namespace names go into the tweak (hashed), so any length would do; a
 * bound keeps the config struct fixed-size. */
#define FORMAT_NAMESPACE_LEN_MAX 64u
/* Separator characters a generic format may declare. */
#define FORMAT_SEPARATORS_MAX 8u
/* Re-encryptions of one attempt before it counts as rejected. The densest
 * rule (German tax IDs, ~3.4% of 10-digit strings) needs ~30 on average;
 * 2000 makes a spurious rejection less likely than 1e-29. */
#define FORMAT_CYCLE_WALK_MAX 2000u
/* Default and hard limit for format_generate's attempts. */
#define FORMAT_ATTEMPTS_DEFAULT 100u
#define FORMAT_ATTEMPTS_MAX 100000u
/* Bytes of the FF1 tweak (see above). */
#define FORMAT_TWEAK_LEN 12u

typedef enum tv_format_kind {
  FORMAT_PAN = 1,
  FORMAT_IBAN = 2,
  FORMAT_BANK_ACCOUNT = 3,
  FORMAT_US_SSN = 4,
  FORMAT_TW_NATIONAL_ID = 5,
  FORMAT_CN_RESIDENT_ID = 6,
  FORMAT_DE_TAX_ID = 7,
  FORMAT_GENERIC = 8,
} tv_format_kind;

/* How candidates are drawn. */
typedef enum tv_format_mode {
  FORMAT_MODE_FF1 = 0,
  FORMAT_MODE_RANDOM = 1,
} tv_format_mode;

/* The Luhn state a PAN token must have. INVALID (the default) makes tokens
 * distinguishable from real card numbers. */
typedef enum tv_luhn_policy {
  FORMAT_LUHN_INVALID = 0,
  FORMAT_LUHN_VALID = 1,
  FORMAT_LUHN_ANY = 2,
} tv_luhn_policy;

/* Whether IBAN tokens carry correct mod-97 check digits (VALID, the
 * default: tokens pass CRM validation) or deliberately wrong ones. */
typedef enum tv_iban_policy {
  FORMAT_IBAN_CHECK_VALID = 0,
  FORMAT_IBAN_CHECK_INVALID = 1,
} tv_iban_policy;

/* Check character rules of the generic format; the check characters are
 * the last 1 (LUHN, MOD11_2) or 2 (MOD97_10) characters of the value. */
typedef enum tv_checksum {
  FORMAT_CHECKSUM_NONE = 0,
  FORMAT_CHECKSUM_LUHN = 1,     /* decimal; alphabet must be digits only */
  FORMAT_CHECKSUM_MOD97_10 = 2, /* ISO 7064 MOD 97-10, letters as 10..35 */
  FORMAT_CHECKSUM_MOD11_2 = 3,  /* ISO 7064 MOD 11-2, check 0-9 or X */
} tv_checksum;

typedef struct tv_format_pan {
  unsigned length_min; /* accepted lengths, 13..19 (default 16..19) */
  unsigned length_max;
  unsigned keep_first; /* 0..8, normally 6 or 8 (default 6) */
  unsigned keep_last;  /* 0..4 (default 4) */
  tv_luhn_policy luhn;
} tv_format_pan;

typedef struct tv_format_iban {
  tv_iban_policy check;
} tv_format_iban;

typedef struct tv_format_bank_account {
  unsigned length_min; /* account digits, 1..FORMAT_CHARS_MAX-10 */
  unsigned length_max; /* (default 10..17) */
  unsigned keep_last;  /* default 4 */
  int routing_allowed; /* accept "ROUTING:ACCOUNT" with a US ABA number */
} tv_format_bank_account;

typedef struct tv_format_ssn {
  unsigned keep_last; /* 0..3 pass the domain floor; default 0 */
} tv_format_ssn;

typedef struct tv_format_tw {
  int resident_allowed; /* also accept 2nd digit 8/9 (resident certificates) */
} tv_format_tw;

typedef struct tv_format_generic {
  tv_alphabet alphabet;
  unsigned length_min; /* significant characters, check characters included */
  unsigned length_max;
  unsigned keep_prefix;
  unsigned keep_suffix; /* counted before the check characters */
  tv_checksum checksum;
  char separators[FORMAT_SEPARATORS_MAX + 1]; /* NUL-terminated */
} tv_format_generic;

/* One namespace's format. Fill it with format_config_init, adjust the
 * fields, then call format_config_validate before first use. Only the
 * member of the kind's union-like block is read. */
typedef struct tv_format {
  tv_format_kind kind;
  tv_format_mode mode;
  char namespace_name[FORMAT_NAMESPACE_LEN_MAX + 1]; /* NUL-terminated */
  unsigned attempts_max;
  tv_format_pan pan;
  tv_format_iban iban;
  tv_format_bank_account bank;
  tv_format_ssn ssn;
  tv_format_tw tw;
  tv_format_generic generic;
} tv_format;

/* A parsed value. Holds the real value: wipe with format_value_wipe. */
typedef struct format_value {
  tv_format_kind kind;
  /* The input as given (letters upper-cased where the format is case-
   * insensitive), separators included. */
  char text[FORMAT_TEXT_LEN_MAX + 1];
  size_t text_len;
  /* Bit i set: text[i] is a separator. */
  uint64_t separator_bits[FORMAT_TEXT_LEN_MAX / 64];
  /* Canonical form: significant characters only, NUL-terminated. */
  char canon[FORMAT_CHARS_MAX + 1];
  size_t canon_len;
  /* Positions in canon of the tokenised characters, in numeral order. */
  uint8_t token_pos[FORMAT_CHARS_MAX];
  size_t token_len;
  /* The tokenised part as FF1 numerals, numerals_len of them, < radix. */
  uint8_t numerals[FORMAT_CHARS_MAX];
  size_t numerals_len;
  unsigned radix;
  const tv_alphabet *alphabet; /* numeral -> character for token_pos */
  /* Characters kept in clear that go into the tweak. */
  char kept[FORMAT_CHARS_MAX];
  size_t kept_len;
  unsigned country; /* IBAN: index into the country table */
  /* Hash of what the tweak binds besides the attempt (computed once here,
   * so candidates neither hash nor allocate). */
  uint8_t tweak_base[8];
} format_value;

/* A token candidate, in the input's shape (text) and canonical (canon). */
typedef struct format_token {
  char text[FORMAT_TEXT_LEN_MAX + 1];
  size_t text_len;
  char canon[FORMAT_CHARS_MAX + 1];
  size_t canon_len;
  uint32_t attempt;
} format_token;

/* format_used_fn tells format_generate whether |token| is already taken
 * in the namespace: set *out_used to 1 if so, 0 if free. A status other
 * than TV_OK stops format_generate, which returns it. */
typedef tv_status (*format_used_fn)(void *ctx, const format_token *token, int *out_used);

/* format_config_init fills |cfg| with the defaults of |kind| for namespace
 * |namespace_name| (NUL-terminated, at most FORMAT_NAMESPACE_LEN_MAX
 * bytes). TV_E_FORMAT_CONFIG for an unknown kind or too long a name. The
 * generic default is decimal digits, 6..32 characters, nothing kept. */
tv_status format_config_init(tv_format *cfg, tv_format_kind kind, const char *namespace_name);

/* format_config_validate checks |cfg|. On failure it returns
 * TV_E_FORMAT_DOMAIN_TOO_SMALL (some accepted input would leave fewer than
 * FF1_DOMAIN_MIN token values) or TV_E_FORMAT_CONFIG, and writes a
 * NUL-terminated sentence naming the problem and a fix to |why| (if not
 * NULL and |why_len| > 0; truncated to fit). On success |why| is "". */
tv_status format_config_validate(const tv_format *cfg, char *why, size_t why_len);

/* format_parse validates |len| bytes of |text| under |cfg| (which must have
 * passed format_config_validate) and fills |out|. On failure |out| is wiped
 * and the status names the first broken rule (TV_E_FORMAT_EMPTY, _CHAR,
 * _LENGTH, _LUHN, _IBAN_CHECK, ...). |out| holds the real value: the
 * caller wipes it with format_value_wipe. |out| is tied to |cfg| (a
 * generic value points at cfg's alphabet): use it with that same
 * configuration only, and not after cfg is gone. */
tv_status format_parse(const tv_format *cfg, const char *text, size_t len, format_value *out);

/* format_value_wipe zeroes |value|; accepts NULL. */
void format_value_wipe(format_value *value);

/* format_candidate computes the token candidate of |value| for |attempt|.
 * FF1 mode: deterministic for (key, namespace, value, attempt); |key| must
 * not be NULL. Random mode: |key| is ignored and may be NULL.
 * TV_OK: |out| holds a candidate that satisfies the policy and differs
 * from the value. TV_E_FORMAT_CANDIDATE_REJECTED: this attempt yields no
 * acceptable candidate, try attempt + 1. Other statuses are errors. */
tv_status format_candidate(const tv_format *cfg, const ff1_key *key, const format_value *value,
                           uint32_t attempt, format_token *out);

/* format_generate tries attempts 0 .. cfg->attempts_max - 1 and returns the
 * first acceptable candidate that |is_used| (may be NULL: nothing is used)
 * reports free. TV_E_FORMAT_NO_CANDIDATE if every attempt was rejected or
 * used (a full or nearly full domain), or the callback's error. */
tv_status format_generate(const tv_format *cfg, const ff1_key *key, const format_value *value,
                          format_used_fn is_used, void *ctx, format_token *out);

/* format_mask writes the MASKED rendering of |value| (computed from the
 * real value; '*' for hidden characters) NUL-terminated to |out|, which
 * has |out_len| bytes; *out_written (if not NULL) gets its length.
 * TV_E_FORMAT_TOO_LONG if it does not fit. */
tv_status format_mask(const tv_format *cfg, const format_value *value, char *out, size_t out_len,
                      size_t *out_written);

/* format_mask_like is format_mask rendered in the shape of |shape|
 * (|shape_len| bytes, normally the token the caller sent) instead of the
 * value's own: |shape|'s separators (format_token_separators) where they
 * stand, the masked characters in order elsewhere. US SSNs stay
 * ***-**-NNNN whatever the shape, as in format_mask. TV_E_FORMAT_SEPARATOR
 * if |shape| does not have exactly value->canon_len other characters (it
 * is not a token of this value); TV_E_FORMAT_TOO_LONG if |out| is short. */
tv_status format_mask_like(const tv_format *cfg, const format_value *value, const char *shape, size_t shape_len,
                           char *out, size_t out_len, size_t *out_written);

/* format_token_separators returns the characters a token of |cfg| may carry
 * as separators, NUL-terminated: a generic format's configured ones, else
 * space and dash (each built-in format's separators are among them). A
 * token lookup ignores them; a reveal puts them back where the token has
 * them. */
const char *format_token_separators(const tv_format *cfg);

/* The same characters as a set of 256 bits, for per-character checks on
 * hot paths (token lookups, reveals) without a string scan per character.
 * Fill with format_separator_set_of; NUL is never in it. */
typedef struct format_separator_set {
  uint64_t bits[4];
} format_separator_set;

void format_separator_set_of(const tv_format *cfg, format_separator_set *out);

static inline int format_separator_set_has(const format_separator_set *set, char c) {
  unsigned u = (unsigned char)c;
  return (int)((set->bits[u >> 6] >> (u & 63u)) & 1u);
}

/* format_reshape writes the value |value| (|value_len| bytes as the vault
 * stores it: a value that passed format_parse under |cfg|, in any shape)
 * in the shape of |shape| (|shape_len| bytes, normally the token the
 * caller sent): |shape|'s separators (format_token_separators) copied
 * where they stand, the value's other characters in order everywhere
 * else. The result is NUL-terminated in |out| (|out_len| bytes);
 * *out_written (if not NULL) gets its length, which is |shape_len|.
 * TV_E_FORMAT_SEPARATOR if |shape| and |value| do not have the same number
 * of non-separator characters (|shape| is not a token of this value),
 * TV_E_FORMAT_TOO_LONG if |out| is too small. No parse: this is the FULL
 * reveal's path. */
tv_status format_reshape(const tv_format *cfg, const char *value, size_t value_len, const char *shape,
                         size_t shape_len, char *out, size_t out_len, size_t *out_written);

/* format_canonical writes |value|'s canonical form (separators removed,
 * letters upper-cased where the format ignores case) NUL-terminated to
 * |out|; same contract as format_mask. */
tv_status format_canonical(const format_value *value, char *out, size_t out_len,
                           size_t *out_written);

/* An attacker's guessing space for one namespace (see guess_space.c):
 * how many real values are consistent with what a token shows (its kept
 * characters, length and the real value's own checksum), at the shortest
 * length the namespace accepts. */
typedef struct format_guess_space {
  uint64_t candidates; /* UINT64_MAX when larger */
  unsigned kept_chars; /* characters kept in clear: 0 means every token
                          is in one group, nothing narrows a search */
  char why[96];        /* how it was counted, e.g. "10^5 Luhn-valid
                          middles of 6 digits at length 16" */
} format_guess_space;

/* format_guess_space_of fills |out| for |cfg|, which must pass
 * format_config_validate (else that status). */
tv_status format_guess_space_of(const tv_format *cfg, format_guess_space *out);

/* format_value_guess_space is the same count for one parsed |value| of
 * |cfg| (its own length, and for an IBAN its own country and alphabet):
 * what narrows a search for this value. UINT64_MAX when larger; 0 for
 * NULL arguments. */
uint64_t format_value_guess_space(const tv_format *cfg, const format_value *value);

/* format_kind_name returns "pan", "iban", "bank_account", "us_ssn",
 * "tw_national_id", "cn_resident_id", "de_tax_id", "generic" or "unknown". */
const char *format_kind_name(tv_format_kind kind);

#endif
