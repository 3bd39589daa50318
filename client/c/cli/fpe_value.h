/* fpe_value — one value of `tokenvault fpe`: checked against the alphabet
 * and FF1's length limits, turned into numerals and back. Shared by the
 * argument and the stdin modes so both report the same problems the same
 * way. */
#ifndef TV_CLI_FPE_VALUE_H
#define TV_CLI_FPE_VALUE_H

#include <stddef.h>
#include <stdint.h>

#include "client/c/cli/cli_diag.h"
#include "client/c/cli/fpe_args.h"
#include "vault/crypto/ff1.h"
#include "vault/format/alphabet.h"
#include "vault/util/status.h"

/* Everything needed to transform values; fixed for one run. */
typedef struct fpe_job {
  const ff1_key *key;
  const tv_alphabet *alphabet;
  const uint8_t *tweak;
  size_t tweak_len;
  fpe_direction direction;
  size_t length_min; /* shortest value with radix^length >= 1,000,000 */
} fpe_job;

/* Where a value came from, for error messages: "line 12", "value 2". */
typedef struct fpe_where {
  const char *noun;
  uint64_t number;
} fpe_where;

/* fpe_length_min returns the smallest length n with radix^n >= the FF1
 * domain floor (FF1_DOMAIN_MIN); |radix| must be 2..256. */
size_t fpe_length_min(unsigned radix);

/* fpe_value_to_numerals maps the |len| characters of |text| to numerals in
 * |out| (room for FF1_LENGTH_MAX). On failure |diag| says what is wrong
 * with the value at |where|: TV_E_FF1_DOMAIN_TOO_SMALL (empty or too
 * short), TV_E_FF1_TOO_LONG, TV_E_ALPHABET_CHAR. */
tv_status fpe_value_to_numerals(const fpe_job *job, const char *text, size_t len, uint8_t *out,
                                fpe_where where, cli_diag *diag);

/* fpe_value_transform runs FF1 in the job's direction on |len| numerals
 * from |in| to |out| (they may be equal). */
tv_status fpe_value_transform(const fpe_job *job, const uint8_t *in, size_t len, uint8_t *out,
                              fpe_where where, cli_diag *diag);

/* fpe_batch_transform runs FF1 in the job's direction over |count| items
 * (ff1_encrypt_batch / ff1_decrypt_batch). On failure |diag| names the
 * first failed item as |noun| (first_number + its index). */
tv_status fpe_batch_transform(const fpe_job *job, ff1_batch_item *items, size_t count,
                              fpe_where first, cli_diag *diag);

#endif
