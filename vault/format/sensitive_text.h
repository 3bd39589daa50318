/* Finding card numbers and IBANs in free text (request ids, reasons,
 * metadata) so they never reach the audit log or the store in clear.
 *
 * Card-number-shaped: digit groups joined by single separators (one space
 * or one dash) form a chain; any run of consecutive whole groups of the
 * chain with 13..19 digits in all that is Luhn-valid makes the whole
 * chain one span ("4111111111111111", "4111 1111 1111 1111",
 * "4111-1111-1111-1111", "ref 12 4111111111111111"). A group is a maximal
 * run of digits: "x4111111111111111y" is found, a 20-digit number is not
 * (it is no card number; no 13..19-digit run of it stands alone).
 *
 * IBAN-shaped: a country code of the IBAN table (vault/format/
 * iban_countries.c, either case) at a word start, two digits, then
 * letters and digits with single spaces allowed between them, exactly the
 * country's length in all, with the ISO 7064 MOD 97-10 check giving 1.
 * A country missing from the table is not recognised (its length is not
 * known, and guessing lengths finds check-valid runs in ordinary text).
 *
 * Luhn and MOD 97 are vault/format's own (luhn.h, iso7064.h). */
#ifndef TV_FORMAT_SENSITIVE_TEXT_H
#define TV_FORMAT_SENSITIVE_TEXT_H

#include <stddef.h>

typedef enum tv_sensitive_kind {
  TV_SENSITIVE_NONE = 0,
  TV_SENSITIVE_PAN = 1,
  TV_SENSITIVE_IBAN = 2,
} tv_sensitive_kind;

#define TV_SENSITIVE_PAN_MARK "[REDACTED-PAN]"
#define TV_SENSITIVE_IBAN_MARK "[REDACTED-IBAN]"

/* tv_sensitive_find looks for the first span at or after |from| in the
 * |len| bytes of |text|. Returns its kind and sets [*out_start, *out_end),
 * or TV_SENSITIVE_NONE (outputs untouched). */
tv_sensitive_kind tv_sensitive_find(const char *text, size_t len, size_t from, size_t *out_start, size_t *out_end);

/* tv_sensitive_redact writes |in| (|in_len| bytes) to |out| (|out_max| >=
 * 1 bytes with the NUL) with every span replaced by TV_SENSITIVE_PAN_MARK
 * or TV_SENSITIVE_IBAN_MARK. If that does not fit (a mark can be longer
 * than a 13-digit span), the text is cut after the last ASCII byte that is
 * neither a letter nor a digit that fits, so the cut creates no new span
 * and splits no UTF-8 character. Returns the number of spans replaced;
 * |*out_cut| (may be NULL) says whether the text was cut. */
size_t tv_sensitive_redact(char *out, size_t out_max, const char *in, size_t in_len, int *out_cut);

/* tv_sensitive_name returns "a card number" or "an IBAN" (for messages). */
const char *tv_sensitive_name(tv_sensitive_kind kind);

#endif
