#include "vault/server/grpc/tls_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vault/service/limits.h"
#include "vault/util/secure_mem.h"

/* Buffer size for a PEM file plus its NUL; fixed so the key's secure
 * allocation can be freed with the same length. */
#define PEM_BUFFER_BYTES (TV_PEM_FILE_BYTES_MAX + 1)

static tv_status read_pem(const char *path, char *buf, const char *what, char *out_err, size_t out_err_len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    snprintf(out_err, out_err_len, "cannot open %s file %s: %s", what, path, strerror(errno));
    return TV_E_SERVER_CONFIG;
  }
  size_t n = fread(buf, 1, TV_PEM_FILE_BYTES_MAX + 1, f);
  int failed = ferror(f);
  fclose(f);
  if (failed || n > TV_PEM_FILE_BYTES_MAX) {
    snprintf(out_err, out_err_len, "%s file %s is unreadable or larger than %d bytes", what, path,
             TV_PEM_FILE_BYTES_MAX);
    return TV_E_SERVER_CONFIG;
  }
  buf[n] = '\0';
  if (memchr(buf, '\0', n) != NULL || strstr(buf, "-----BEGIN ") == NULL) {
    snprintf(out_err, out_err_len, "%s file %s is not PEM", what, path);
    return TV_E_SERVER_CONFIG;
  }
  return TV_OK;
}

tv_status tv_tls_files_load(tv_tls_files *out, const char *cert_path, const char *key_path, const char *ca_path,
                            char *out_err, size_t out_err_len) {
  memset(out, 0, sizeof *out);
  /* One byte more than the limit lets read_pem detect an oversized file. */
  out->cert_pem = malloc(PEM_BUFFER_BYTES + 1);
  out->ca_pem = malloc(PEM_BUFFER_BYTES + 1);
  out->key_pem = tv_secure_alloc(PEM_BUFFER_BYTES + 1);
  tv_status st = TV_E_NO_MEMORY;
  if (out->cert_pem != NULL && out->ca_pem != NULL && out->key_pem != NULL) {
    st = read_pem(cert_path, out->cert_pem, "certificate", out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = read_pem(key_path, out->key_pem, "private key", out_err, out_err_len);
  }
  if (st == TV_OK) {
    st = read_pem(ca_path, out->ca_pem, "CA", out_err, out_err_len);
  }
  if (st != TV_OK) {
    tv_tls_files_cleanup(out);
  }
  return st;
}

void tv_tls_files_cleanup(tv_tls_files *files) {
  free(files->cert_pem);
  free(files->ca_pem);
  tv_secure_free(files->key_pem, PEM_BUFFER_BYTES + 1);
  memset(files, 0, sizeof *files);
}
