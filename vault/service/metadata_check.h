/* Token metadata is kept in the store as given, so text that holds a card
 * number or an IBAN (vault/format/sensitive_text.h) is refused rather than
 * redacted: the caller learns which entry to fix, and the store never
 * holds a value outside its encrypted records. */
#ifndef TV_SERVICE_METADATA_CHECK_H
#define TV_SERVICE_METADATA_CHECK_H

#include <stddef.h>

#include "tokenvault/v1/tokenvault.pb-c.h"
#include "vault/util/status.h"

/* tv_metadata_check returns TV_OK if no key or value of |r|'s metadata
 * holds a card number or IBAN; else TV_E_INVALID_ARGUMENT and a sentence
 * in |detail| (|detail_max| bytes) naming the entry by its key (or by its
 * position when the key itself is the problem), never the number. */
tv_status tv_metadata_check(const Tokenvault__V1__TokenizeRequest *r, char *detail, size_t detail_max);

#endif
