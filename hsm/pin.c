/* The PIN is read at the moment of C_Login and wiped right after, so it is
 * in memory only for the length of a login (also on re-login). */
#include "hsm/pin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hsm/p11.h"
#include "vault/util/secure_mem.h"

static size_t pin_trim(const char *pin, size_t len) {
  const char *newline = memchr(pin, '\n', len);
  if (newline != NULL) {
    len = (size_t)(newline - pin);
  }
  if (len > 0 && pin[len - 1] == '\r') {
    len--;
  }
  return len;
}

static tv_status pin_read_file(char *out_pin, size_t *out_len, const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return hsm_failf(TV_E_HSM_PIN_SOURCE, "PIN file %s: %s", path, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return hsm_failf(TV_E_HSM_PIN_SOURCE, "PIN file %s is not a regular file", path);
  }
  /* One byte more than the limit, to tell "too long" from "exactly full". */
  size_t got = 0;
  while (got < HSM_PIN_MAX + 1) {
    ssize_t n = read(fd, out_pin + got, HSM_PIN_MAX + 1 - got);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    got += (size_t)n;
  }
  close(fd);
  *out_len = pin_trim(out_pin, got);
  TV_ENSURE(*out_len <= HSM_PIN_MAX,
            hsm_failf(TV_E_HSM_PIN_SOURCE, "PIN file %s: PIN longer than %d bytes", path,
                      HSM_PIN_MAX));
  return TV_OK;
}

static tv_status pin_read_env(char *out_pin, size_t *out_len, const char *name) {
  const char *value = getenv(name);
  TV_ENSURE(value != NULL, hsm_failf(TV_E_HSM_PIN_SOURCE,
                                     "PIN environment variable %s is not set", name));
  size_t len = strnlen(value, HSM_PIN_MAX + 1);
  TV_ENSURE(len <= HSM_PIN_MAX,
            hsm_failf(TV_E_HSM_PIN_SOURCE, "PIN environment variable %s: longer than %d bytes",
                      name, HSM_PIN_MAX));
  memcpy(out_pin, value, len);
  *out_len = pin_trim(out_pin, len);
  return TV_OK;
}

tv_status hsm_pin_read(char *out_pin, size_t *out_len, tv_hsm_pin_kind kind, const char *source) {
  *out_len = 0;
  memset(out_pin, 0, HSM_PIN_MAX + 1);
  TV_ENSURE(source != NULL && source[0] != '\0',
            hsm_failf(TV_E_HSM_PIN_SOURCE, "no PIN file or environment variable configured"));
  tv_status status;
  switch (kind) {
    case TV_HSM_PIN_FILE:
      status = pin_read_file(out_pin, out_len, source);
      break;
    case TV_HSM_PIN_ENV:
      status = pin_read_env(out_pin, out_len, source);
      break;
    default:
      status = hsm_failf(TV_E_HSM_PIN_SOURCE, "unknown PIN source kind %d", (int)kind);
      break;
  }
  if (status == TV_OK && *out_len == 0) {
    status = hsm_failf(TV_E_HSM_PIN_SOURCE, "the PIN in %s is empty", source);
  }
  if (status != TV_OK) {
    tv_wipe(out_pin, HSM_PIN_MAX + 1);
    *out_len = 0;
    return status;
  }
  out_pin[*out_len] = '\0';
  /* Whatever followed the first line may be secret too. */
  tv_wipe(out_pin + *out_len, HSM_PIN_MAX + 1 - *out_len);
  return TV_OK;
}
