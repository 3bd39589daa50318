/* Internal interface between the format dispatcher, the candidate engine
 * and the per-format files. Not for use outside vault/format/. */
#ifndef TV_FORMAT_FORMAT_INTERNAL_H
#define TV_FORMAT_FORMAT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vault/format/format.h"

/* What each format provides. */
typedef struct format_ops {
  /* Checks the kind's part of |cfg|; writes a reason to |why| on failure. */
  tv_status (*validate)(const tv_format *cfg, char *why, size_t why_len);
  /* Splits |text| (format_split with the kind's separators), validates
   * it and fills token_pos, numerals, radix, alphabet and kept. |v| starts
   * zeroed with v->kind set. */
  tv_status (*parse)(const tv_format *cfg, const char *text, size_t len, format_value *v);
  /* Writes the candidate for |numerals| into |cand| (which starts as a
   * copy of v->canon), recomputes check characters, and returns 1 if the
   * candidate satisfies the format's rules and policy, 0 if the numerals
   * must be walked on. */
  int (*build)(const tv_format *cfg, const format_value *v, const uint8_t *numerals, char *cand);
  /* Replaces the hidden characters of |masked| (a copy of v->canon) by
   * '*'. */
  void (*mask)(const tv_format *cfg, const format_value *v, char *masked);
} format_ops;

extern const format_ops format_pan_ops;
extern const format_ops format_iban_ops;
extern const format_ops format_bank_account_ops;
extern const format_ops format_us_ssn_ops;
extern const format_ops format_tw_national_id_ops;
extern const format_ops format_cn_resident_id_ops;
extern const format_ops format_de_tax_id_ops;
extern const format_ops format_generic_ops;

/* format_tweak_base computes v->tweak_base (see format.h) from cfg's
 * namespace and v's kept characters. TV_E_NO_MEMORY or
 * TV_E_CRYPTO_BACKEND if OpenSSL fails. */
tv_status format_tweak_base(const tv_format *cfg, format_value *v);

/* format_token_from_candidate fills |out| from the canonical candidate
 * |cand| (v->canon_len characters) rendered in v's shape.
 * TV_E_FORMAT_CANDIDATE_REJECTED if |cand| equals the value itself. */
tv_status format_token_from_candidate(const format_value *v, const char *cand, uint32_t attempt,
                                      format_token *out);

/* format_ops_for returns the ops of |kind|, or NULL for an unknown kind. */
const format_ops *format_ops_for(tv_format_kind kind);

/* Alphabets shared by the formats: "0123456789" and
 * "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ". */
const tv_alphabet *alphabet_digits(void);
const tv_alphabet *alphabet_alnum_upper(void);

/* format_why writes a printf-style reason to |why| (if room) and returns
 * |status|. */
tv_status format_why(tv_status status, char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* format_check_domain returns TV_OK if |radix|^|length| >= FF1_DOMAIN_MIN,
 * else TV_E_FORMAT_DOMAIN_TOO_SMALL. */
tv_status format_check_domain(unsigned radix, size_t length);

/* format_split fills v->text, v->separator_bits, v->canon from |len| bytes
 * of |text|. Bytes in |separators| are separators; with |strict| a
 * separator may not start or end the value nor follow another one. With
 * |upper| ASCII letters are upper-cased. */
tv_status format_split(format_value *v, const char *text, size_t len, const char *separators,
                       int strict, int upper);

/* format_render writes |canon_chars| (v->canon_len of them) into the shape
 * of v->text: separators copied, other characters replaced in order.
 * |out| needs v->text_len + 1 bytes; it is NUL-terminated. */
void format_render(const format_value *v, const char *canon_chars, char *out);

/* format_shape_like writes the |chars_len| characters of |chars| (no
 * separators among them) into the shape of |shape|: each character of
 * |shape| that is one of format_token_separators(cfg) copied where it
 * stands, the others replaced in order. See format_reshape for the
 * contract. */
tv_status format_shape_like(const tv_format *cfg, const char *chars, size_t chars_len, const char *shape,
                            size_t shape_len, char *out, size_t out_len, size_t *out_written);

/* format_tokenise_range marks canon[start, start + count) as tokenised in
 * |alphabet| (computing the numerals). TV_E_FORMAT_CHAR if a character is
 * not in the alphabet. */
tv_status format_tokenise_range(format_value *v, size_t start, size_t count,
                                const tv_alphabet *alphabet);

/* format_keep_range appends canon[start, start + count) to v->kept. */
void format_keep_range(format_value *v, size_t start, size_t count);

/* format_place writes |numerals| as characters at v->token_pos in |cand|,
 * scanning the alphabet (no table indexed by the numeral). */
void format_place(const format_value *v, const uint8_t *numerals, char *cand);

/* format_all_in returns 1 if each of the |len| bytes of |s| is in the
 * NUL-terminated |set|. */
int format_all_in(const char *s, size_t len, const char *set);

/* format_mask_range sets masked[start, start + count) to '*'. */
void format_mask_range(char *masked, size_t start, size_t count);

#define FORMAT_DIGITS "0123456789"
#define FORMAT_UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

#endif
