/* A structural scan of protobuf wire bytes before they are unpacked: every
 * tag, varint and length is checked against the bytes that remain, nesting
 * is bounded, and string fields are refused if they contain a NUL byte
 * (protobuf-c stores strings NUL-terminated, so "4111\0..." would silently
 * become "4111" — a different value than the client sent). */
#ifndef TV_SERVER_COMMON_WIRE_SCAN_H
#define TV_SERVER_COMMON_WIRE_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "vault/util/status.h"

/* tv_wire_scan checks the |len| bytes at |p| as an encoding of |desc|.
 * Returns TV_OK, or TV_E_SERVER_REQUEST_MALFORMED with a sentence naming
 * the problem (field number, offset; never content) in |out_err|. */
tv_status tv_wire_scan(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len, char *out_err,
                       size_t out_err_len);

/* tv_wire_count_items counts the elements of |desc|'s top-level repeated
 * string and bytes fields (the values or tokens of a request) in the |len|
 * bytes at |p|, without decoding; stops at the first malformed field. */
size_t tv_wire_count_items(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len);

#endif
