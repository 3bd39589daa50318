/* UTF-8 well-formedness check for protobuf string fields (proto3 requires
 * them to be valid UTF-8; protobuf-c does not check). */
#ifndef TV_SERVER_COMMON_UTF8_H
#define TV_SERVER_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* tv_utf8_valid returns 1 if the |len| bytes at |s| are well-formed UTF-8
 * (no overlong forms, surrogates or code points above U+10FFFF), else 0. */
int tv_utf8_valid(const uint8_t *s, size_t len);

#endif
