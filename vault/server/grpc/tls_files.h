/* The PEM files of the server's mTLS setup, read once at start. The private
 * key lives in locked, non-dumpable memory and is wiped as soon as gRPC has
 * its own copy. */
#ifndef TV_SERVER_GRPC_TLS_FILES_H
#define TV_SERVER_GRPC_TLS_FILES_H

#include <stddef.h>

#include "vault/util/status.h"

typedef struct tv_tls_files {
  char *cert_pem; /* NUL-terminated */
  char *key_pem;  /* NUL-terminated, from tv_secure_alloc */
  char *ca_pem;   /* NUL-terminated */
} tv_tls_files;

/* tv_tls_files_load reads the three files (each at most
 * TV_PEM_FILE_BYTES_MAX and containing "-----BEGIN "). Returns TV_OK, or
 * TV_E_SERVER_CONFIG with a sentence naming the file in |out_err| (nothing
 * left allocated). */
tv_status tv_tls_files_load(tv_tls_files *out, const char *cert_path, const char *key_path, const char *ca_path,
                            char *out_err, size_t out_err_len);

/* tv_tls_files_cleanup wipes the key and frees all three; accepts a zeroed
 * struct and may be called twice. */
void tv_tls_files_cleanup(tv_tls_files *files);

#endif
