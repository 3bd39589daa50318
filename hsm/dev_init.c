/* Development token creation: files first, then the token through PKCS#11
 * (the same API production uses, so this path is exercised too). */
#include "hsm/dev_init.h"

#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "hsm/hsm.h"
#include "hsm/module.h"
#include "vault/util/secure_mem.h"

/* 16 random bytes as hex: 128 bits, printable, within every token's limit. */
#define DEV_PIN_BYTES 16
#define DEV_PIN_LEN (2 * DEV_PIN_BYTES)

static tv_status write_private_file(const char *path, const char *text, size_t len) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  TV_ENSURE(fd >= 0, hsm_failf(TV_E_IO, "create %s: %s", path, strerror(errno)));
  /* The umask may only have removed bits; make the mode exact anyway. */
  int ok = fchmod(fd, 0600) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
  int saved = errno;
  ok = close(fd) == 0 && ok;
  TV_ENSURE(ok, hsm_failf(TV_E_IO, "write %s: %s", path, strerror(saved)));
  return TV_OK;
}

static tv_status random_pin(char out[DEV_PIN_LEN + 2]) {
  unsigned char raw[DEV_PIN_BYTES];
  TV_ENSURE(RAND_bytes(raw, sizeof raw) == 1, TV_E_CRYPTO_BACKEND);
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < DEV_PIN_BYTES; i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[DEV_PIN_LEN] = '\n';
  out[DEV_PIN_LEN + 1] = '\0';
  tv_wipe(raw, sizeof raw);
  return TV_OK;
}

static tv_status path_join(char *out, size_t out_max, const char *dir, const char *name) {
  int n = snprintf(out, out_max, "%s/%s", dir, name);
  TV_ENSURE(n > 0 && (size_t)n < out_max,
            hsm_failf(TV_E_INVALID_ARGUMENT, "path too long: %s/%s", dir, name));
  return TV_OK;
}

static tv_status make_layout(tv_hsm_dev_token *token, const char *dir) {
  TV_ENSURE(mkdir(dir, 0700) == 0 || errno == EEXIST,
            hsm_failf(TV_E_IO, "mkdir %s: %s", dir, strerror(errno)));
  TV_ENSURE(realpath(dir, token->dir) != NULL,
            hsm_failf(TV_E_IO, "%s: %s", dir, strerror(errno)));
  char tokens[PATH_MAX];
  TV_TRY(path_join(token->conf_path, sizeof token->conf_path, token->dir, "softhsm2.conf"));
  TV_TRY(path_join(token->pin_path, sizeof token->pin_path, token->dir, "user.pin"));
  TV_TRY(path_join(token->so_pin_path, sizeof token->so_pin_path, token->dir, "so.pin"));
  TV_TRY(path_join(tokens, sizeof tokens, token->dir, "tokens"));
  TV_ENSURE(access(token->conf_path, F_OK) != 0,
            hsm_failf(TV_E_HSM_TOKEN_EXISTS, "%s exists already", token->conf_path));
  /* A fresh token directory, so that a failed attempt can be removed whole. */
  TV_ENSURE(mkdir(tokens, 0700) == 0,
            hsm_failf(errno == EEXIST ? TV_E_HSM_TOKEN_EXISTS : TV_E_IO, "mkdir %s: %s", tokens,
                      strerror(errno)));
  char conf[PATH_MAX + 160];
  int n = snprintf(conf, sizeof conf,
               "# tokenvault development token (tokenvault hsm init)\n"
               "directories.tokendir = %s\n"
               "objectstore.backend = file\n"
               "log.level = ERROR\n"
               "slots.removable = false\n",
               tokens);
  return write_private_file(token->conf_path, conf, (size_t)n);
}

/* SoftHSM2 always offers one slot with an uninitialised token. */
static tv_status find_blank_slot(CK_FUNCTION_LIST *p11, CK_SLOT_ID *out_slot) {
  CK_SLOT_ID slots[16];
  CK_ULONG count = 16;
  CK_RV rv = p11->C_GetSlotList(CK_TRUE, slots, &count);
  TV_ENSURE(rv == CKR_OK, hsm_fail("C_GetSlotList", rv));
  for (CK_ULONG i = 0; i < count; i++) {
    CK_TOKEN_INFO info;
    if (p11->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
        (info.flags & CKF_TOKEN_INITIALIZED) == 0) {
      *out_slot = slots[i];
      return TV_OK;
    }
  }
  return hsm_failf(TV_E_HSM_TOKEN_NOT_FOUND, "the module offers no uninitialised token");
}

static tv_status init_user_pin(CK_FUNCTION_LIST *p11, CK_SLOT_ID slot, const char *so_pin,
                               const char *user_pin) {
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  CK_RV rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session);
  TV_ENSURE(rv == CKR_OK, hsm_fail("C_OpenSession", rv));
  const char *fn = "C_Login(SO)";
  rv = p11->C_Login(session, CKU_SO, (CK_UTF8CHAR *)(uintptr_t)so_pin, DEV_PIN_LEN);
  if (rv == CKR_OK) {
    fn = "C_InitPIN";
    rv = p11->C_InitPIN(session, (CK_UTF8CHAR *)(uintptr_t)user_pin, DEV_PIN_LEN);
    p11->C_Logout(session);
  }
  p11->C_CloseSession(session);
  TV_ENSURE(rv == CKR_OK, hsm_fail(fn, rv));
  return TV_OK;
}

static tv_status init_token(const char *module_path, const char *label, const char *so_pin,
                            const char *user_pin) {
  hsm_module *module = NULL;
  TV_TRY(hsm_module_acquire(&module, module_path));
  CK_FUNCTION_LIST *p11 = hsm_module_functions(module);
  CK_SLOT_ID slot = 0;
  unsigned char padded[32];
  tv_status status = find_blank_slot(p11, &slot);
  if (status == TV_OK) {
    hsm_pad_field(padded, sizeof padded, label);
    CK_RV rv = p11->C_InitToken(slot, (CK_UTF8CHAR *)(uintptr_t)so_pin, DEV_PIN_LEN, padded);
    status = rv == CKR_OK ? TV_OK : hsm_fail("C_InitToken", rv);
  }
  /* SoftHSM2 gives an initialised token a new slot id: find it by label. */
  if (status == TV_OK) {
    CK_RV rv = CKR_OK;
    status = hsm_find_token(p11, &slot, &rv, label, NULL);
  }
  if (status == TV_OK) {
    status = init_user_pin(p11, slot, so_pin, user_pin);
  }
  hsm_module_release(module);
  return status;
}

static tv_status create_keys(const tv_hsm_dev_token *token, const char *module_path) {
  tv_hsm_config config = {
      .module_path = module_path,
      .token_label = token->token_label,
      .pin_kind = TV_HSM_PIN_FILE,
      .pin_source = token->pin_path,
      .sessions_max = 1,
  };
  tv_hsm *hsm = NULL;
  TV_TRY(tv_hsm_open(&hsm, &config));
  tv_status status = tv_hsm_kek_create(hsm, token->kek_label);
  if (status == TV_OK) {
    status = tv_hsm_mac_key_ensure(hsm, token->mac_label, 1);
  }
  tv_hsm_free(hsm);
  return status;
}

static tv_status copy_labels(tv_hsm_dev_token *token, const tv_hsm_dev_options *options) {
  const char *label = options->token_label != NULL ? options->token_label : TV_HSM_DEV_TOKEN_LABEL;
  const char *kek = options->kek_label != NULL ? options->kek_label : TV_HSM_DEV_KEK_LABEL;
  const char *mac = options->mac_label != NULL ? options->mac_label : TV_HSM_DEV_MAC_LABEL;
  TV_ENSURE(label[0] != '\0' && strlen(label) < sizeof token->token_label,
            hsm_failf(TV_E_INVALID_ARGUMENT, "token label must be 1..32 bytes"));
  TV_ENSURE(strlen(kek) < sizeof token->kek_label && strlen(mac) < sizeof token->mac_label,
            hsm_failf(TV_E_INVALID_ARGUMENT, "key labels must be at most 64 bytes"));
  snprintf(token->token_label, sizeof token->token_label, "%s", label);
  snprintf(token->kek_label, sizeof token->kek_label, "%s", kek);
  snprintf(token->mac_label, sizeof token->mac_label, "%s", mac);
  return TV_OK;
}

/* Checked before anything is written: a wrong --module leaves no debris. */
static tv_status module_loadable(const char *path) {
  void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  TV_ENSURE(dl != NULL, hsm_failf(TV_E_HSM_MODULE, "dlopen %s: %s", path, dlerror()));
  int has_entry = dlsym(dl, "C_GetFunctionList") != NULL;
  dlclose(dl);
  TV_ENSURE(has_entry, hsm_failf(TV_E_HSM_MODULE, "%s is not a PKCS#11 module", path));
  return TV_OK;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Undoes make_layout after a failure, so that the same directory can be
 * used again. Everything removed was created by this attempt. */
static void remove_layout(const tv_hsm_dev_token *token) {
  char tokens[PATH_MAX];
  if (path_join(tokens, sizeof tokens, token->dir, "tokens") == TV_OK) {
    nftw(tokens, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  }
  unlink(token->pin_path);
  unlink(token->so_pin_path);
  unlink(token->conf_path);
}

static tv_status init_in_layout(tv_hsm_dev_token *token, const char *module_path) {
  char user_pin[DEV_PIN_LEN + 2];
  char so_pin[DEV_PIN_LEN + 2];
  tv_status status = random_pin(user_pin);
  if (status == TV_OK) {
    status = random_pin(so_pin);
  }
  if (status == TV_OK) {
    status = write_private_file(token->pin_path, user_pin, DEV_PIN_LEN + 1);
  }
  if (status == TV_OK) {
    status = write_private_file(token->so_pin_path, so_pin, DEV_PIN_LEN + 1);
  }
  if (status == TV_OK && setenv("SOFTHSM2_CONF", token->conf_path, 1) != 0) {
    status = hsm_failf(TV_E_IO, "setenv SOFTHSM2_CONF: %s", strerror(errno));
  }
  if (status == TV_OK) {
    status = init_token(module_path, token->token_label, so_pin, user_pin);
  }
  tv_wipe(user_pin, sizeof user_pin);
  tv_wipe(so_pin, sizeof so_pin);
  TV_TRY(status);
  return create_keys(token, module_path);
}

tv_status tv_hsm_dev_init(tv_hsm_dev_token *out_token, const tv_hsm_dev_options *options) {
  TV_ENSURE(out_token != NULL && options != NULL && options->dir != NULL, TV_E_INVALID_ARGUMENT);
  memset(out_token, 0, sizeof *out_token);
  hsm_detail_clear();
  const char *module_path =
      options->module_path != NULL ? options->module_path : TV_HSM_DEFAULT_MODULE;
  TV_TRY(copy_labels(out_token, options));
  TV_TRY(module_loadable(module_path));
  TV_TRY(make_layout(out_token, options->dir));
  tv_status status = init_in_layout(out_token, module_path);
  if (status != TV_OK) {
    char detail[256];
    snprintf(detail, sizeof detail, "%s", tv_hsm_error_detail());
    remove_layout(out_token);
    hsm_failf(status, "%s", detail); /* keep the cause, not the clean-up's */
  }
  return status;
}
