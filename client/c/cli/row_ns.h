/* row_ns — what the bulk commands that take a namespace per row
 * (--namespace-column: `tokenvault tokenize|detokenize --csv|--jsonl` and
 * `tokenvault db tokenize|detokenize`) agree on: which namespace names a
 * row may give, and which stream failures in such a namespace are that
 * row's fault (its cells fail, the job goes on) rather than the job's. */
#ifndef TV_CLI_ROW_NS_H
#define TV_CLI_ROW_NS_H

#include <stddef.h>

#include "client/c/lib/tokenvault.h"

/* The status name of a cell whose row names no namespace. */
#define ROW_NS_MISSING "NAMESPACE_MISSING"
/* Longest namespace name a row may give (the vault's names are short;
 * a longer one can name no namespace). */
#define ROW_NS_NAME_BYTES_MAX 127u

/* row_ns_check says what a row's namespace cell |name| (|len| bytes, not
 * necessarily NUL-terminated) is: NULL when it is a name to ask the vault
 * about, else the status name its cells fail with: ROW_NS_MISSING when it
 * is empty, "NOT_FOUND" when no namespace can have that name (too long,
 * or a NUL or control byte in it). */
const char *row_ns_check(const char *name, size_t len);

/* row_ns_fault returns 1 when |e|, the failure of a stream in a namespace
 * a row named, is that row's fault: no such namespace, or not one this
 * caller may use. 0 when the job cannot go on (the connection, the
 * server, or a policy such as a required reason, which --reason fixes). */
int row_ns_fault(const tv_client_error *e);

#endif
