#include "client/c/cli/fpe_value.h"

#include <assert.h>

size_t fpe_length_min(unsigned radix) {
  assert(radix >= FF1_RADIX_MIN && radix <= FF1_RADIX_MAX);
  size_t length = 1;
  /* At most 20 steps (radix 2), and the product stays below 2^28. */
  for (uint64_t domain = radix; domain < FF1_DOMAIN_MIN; domain *= radix) {
    length++;
  }
  return length;
}

tv_status fpe_value_to_numerals(const fpe_job *job, const char *text, size_t len, uint8_t *out,
                                fpe_where where, cli_diag *diag) {
  assert(job != NULL && job->alphabet != NULL && out != NULL);
  if (len == 0) {
    return cli_fail(diag, TV_E_FF1_DOMAIN_TOO_SMALL, "%s %llu: empty value", where.noun,
                    (unsigned long long)where.number);
  }
  if (len > FF1_LENGTH_MAX) {
    return cli_fail(diag, TV_E_FF1_TOO_LONG, "%s %llu: value too long: more than %u characters",
                    where.noun, (unsigned long long)where.number, FF1_LENGTH_MAX);
  }
  if (len < job->length_min) {
    return cli_fail(diag, TV_E_FF1_DOMAIN_TOO_SMALL,
                    "%s %llu: value too short: %zu characters, radix %u needs at least %zu "
                    "(radix^length >= 1000000)",
                    where.noun, (unsigned long long)where.number, len, job->alphabet->size,
                    job->length_min);
  }
  size_t bad_index = 0;
  tv_status status = alphabet_to_numerals(job->alphabet, text, len, out, &bad_index);
  if (status == TV_E_ALPHABET_CHAR && bad_index < len) {
    char byte_text[CLI_BYTE_TEXT_MAX];
    return cli_fail(diag, status, "%s %llu: character %s at position %zu is not in the alphabet",
                    where.noun, (unsigned long long)where.number,
                    cli_describe_byte(byte_text, sizeof byte_text, (unsigned char)text[bad_index]),
                    bad_index + 1);
  }
  if (status != TV_OK) {
    return cli_fail(diag, status, "%s %llu: %s", where.noun, (unsigned long long)where.number,
                    tv_status_message(status));
  }
  return TV_OK;
}

tv_status fpe_value_transform(const fpe_job *job, const uint8_t *in, size_t len, uint8_t *out,
                              fpe_where where, cli_diag *diag) {
  assert(job != NULL && job->key != NULL);
  unsigned radix = job->alphabet->size;
  tv_status status =
      job->direction == FPE_DIRECTION_ENCRYPT
          ? ff1_encrypt(job->key, radix, job->tweak, job->tweak_len, in, len, out)
          : ff1_decrypt(job->key, radix, job->tweak, job->tweak_len, in, len, out);
  if (status != TV_OK) {
    return cli_fail(diag, status, "%s %llu: %s", where.noun, (unsigned long long)where.number,
                    tv_status_message(status));
  }
  return TV_OK;
}

tv_status fpe_batch_transform(const fpe_job *job, ff1_batch_item *items, size_t count,
                              fpe_where first, cli_diag *diag) {
  assert(job != NULL && job->key != NULL);
  unsigned radix = job->alphabet->size;
  tv_status status = job->direction == FPE_DIRECTION_ENCRYPT
                         ? ff1_encrypt_batch(job->key, radix, items, count)
                         : ff1_decrypt_batch(job->key, radix, items, count);
  if (status == TV_OK) {
    return TV_OK;
  }
  for (size_t i = 0; i < count; i++) {
    if (items[i].status != TV_OK) {
      return cli_fail(diag, items[i].status, "%s %llu: %s", first.noun,
                      (unsigned long long)(first.number + i), tv_status_message(items[i].status));
    }
  }
  /* The batch failed without blaming an item: report it against the first. */
  return cli_fail(diag, status, "%s %llu: %s", first.noun, (unsigned long long)first.number,
                  tv_status_message(status));
}
