/* The development token (hsm/dev_init.c) and `tokenvault hsm init`
 * (client/c/cli/cmd_hsm.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "client/c/cli/cmd_hsm.h"
#include "tests/unit/hsm/hsm_test_util.h"

static void assert_mode_0600(const char *path) {
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_creates_usable_token(void **state) {
  hsm_fixture *fx = *state;
  assert_mode_0600(fx->token.pin_path);
  assert_mode_0600(fx->token.so_pin_path);
  assert_mode_0600(fx->token.conf_path);
  /* The configuration points SoftHSM2 inside the directory. */
  FILE *f = fopen(fx->token.conf_path, "r");
  assert_non_null(f);
  char conf[1024] = {0};
  assert_true(fread(conf, 1, sizeof conf - 1, f) > 0);
  fclose(f);
  char expected[PATH_MAX + 64];
  snprintf(expected, sizeof expected, "directories.tokendir = %s/tokens\n", fx->token.dir);
  assert_non_null(strstr(conf, expected));
  assert_string_equal(getenv("SOFTHSM2_CONF"), fx->token.conf_path);
  /* PINs are random: 32 hex digits, user and SO differ. */
  char user[64] = {0}, so[64] = {0};
  f = fopen(fx->token.pin_path, "r");
  assert_non_null(fgets(user, sizeof user, f));
  fclose(f);
  f = fopen(fx->token.so_pin_path, "r");
  assert_non_null(fgets(so, sizeof so, f));
  fclose(f);
  assert_int_equal(strlen(user), 33);
  assert_int_equal(strspn(user, "0123456789abcdef"), 32);
  assert_string_not_equal(user, so);
  /* Usable: both keys are there and work. */
  assert_int_equal(tv_hsm_kek_ensure(fx->hsm, fx->token.kek_label, 0), TV_OK);
  assert_int_equal(tv_hsm_mac_key_ensure(fx->hsm, fx->token.mac_label, 0), TV_OK);
  unsigned char key[32] = {1, 2, 3}, blob[TV_HSM_WRAPPED_MAX], mac[TV_HSM_MAC_LEN];
  size_t blob_len = 0;
  assert_int_equal(tv_hsm_wrap(fx->hsm, blob, &blob_len, sizeof blob, fx->token.kek_label, key, 32),
                   TV_OK);
  assert_int_equal(tv_hsm_mac_sign(fx->hsm, mac, fx->token.mac_label, key, 32), TV_OK);
}

static void test_refuses_existing_token(void **state) {
  hsm_fixture *fx = *state;
  tv_hsm_free(fx->hsm);
  fx->hsm = NULL;
  tv_hsm_dev_token again;
  tv_hsm_dev_options options = {.dir = fx->token.dir, .module_path = fx->module};
  assert_int_equal(tv_hsm_dev_init(&again, &options), TV_E_HSM_TOKEN_EXISTS);
  /* The first token is untouched. */
  assert_int_equal(tv_hsm_open(&fx->hsm, &fx->config), TV_OK);
}

static void test_bad_options(void **state) {
  hsm_fixture *fx = *state;
  tv_hsm_free(fx->hsm);
  fx->hsm = NULL;
  tv_hsm_dev_token token;
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/other", fx->root);
  tv_hsm_dev_options options = {.dir = dir, .module_path = fx->module,
                                .token_label = "a-label-that-is-longer-than-32-bytes"};
  assert_int_equal(tv_hsm_dev_init(&token, &options), TV_E_INVALID_ARGUMENT);
  options.token_label = NULL;
  options.module_path = "/nonexistent/module.so";
  assert_int_equal(tv_hsm_dev_init(&token, &options), TV_E_HSM_MODULE);
  options.module_path = "libm.so.6";
  assert_int_equal(tv_hsm_dev_init(&token, &options), TV_E_HSM_MODULE);
  /* Nothing was left behind: the same directory works at once. */
  char conf[PATH_MAX + 32];
  snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
  assert_int_equal(access(conf, F_OK), -1);
  options.module_path = fx->module;
  assert_int_equal(tv_hsm_dev_init(&token, &options), TV_OK);
  assert_int_equal(tv_hsm_dev_init(&token, &options), TV_E_HSM_TOKEN_EXISTS);
  options.dir = "/proc/no/such/dir";
  assert_int_equal(tv_hsm_dev_init(&token, &options), TV_E_IO);
  assert_int_equal(tv_hsm_dev_init(&token, NULL), TV_E_INVALID_ARGUMENT);
}

static void test_failure_midway_leaves_nothing(void **state) {
  hsm_fixture *fx = *state;
  tv_hsm_free(fx->hsm);
  fx->hsm = NULL;
  char dir[PATH_MAX + 16], control[PATH_MAX + 16], conf[PATH_MAX + 32];
  snprintf(dir, sizeof dir, "%s/midway", fx->root);
  snprintf(control, sizeof control, "%s/fault", fx->root);
  snprintf(conf, sizeof conf, "%s/softhsm2.conf", dir);
  setenv("TV_P11_FAULT_CONTROL", control, 1);
  setenv("TV_P11_FAULT_TARGET", fx->module, 1);
  FILE *f = fopen(control, "w"); /* C_Login fails: after C_InitToken */
  assert_non_null(f);
  fputs("locked\n", f);
  fclose(f);
  tv_hsm_dev_token token;
  tv_hsm_dev_options options = {.dir = dir, .module_path = TV_P11_FAULT_PATH};
  assert_int_equal(tv_hsm_dev_init(&token, &options), TV_E_HSM_PIN_LOCKED);
  assert_non_null(strstr(tv_hsm_error_detail(), "CKR_PIN_LOCKED"));
  assert_int_equal(access(conf, F_OK), -1);
  assert_int_equal(access(token.pin_path, F_OK), -1);
  unlink(control);
  assert_int_equal(tv_hsm_dev_init(&token, &options), TV_OK);
  assert_int_equal(access(conf, F_OK), 0);
}

/* ---- the CLI ------------------------------------------------------------- */

typedef struct cli_result {
  int code;
  char out[4096];
  char err[1024];
} cli_result;

static void run_cli(cli_result *r, int argc, char **argv) {
  FILE *out = tmpfile(), *err = tmpfile();
  assert_non_null(out);
  assert_non_null(err);
  r->code = hsm_cmd_main(argc, argv, stdin, out, err);
  rewind(out);
  rewind(err);
  memset(r->out, 0, sizeof r->out);
  memset(r->err, 0, sizeof r->err);
  assert_true(fread(r->out, 1, sizeof r->out - 1, out) < sizeof r->out);
  assert_true(fread(r->err, 1, sizeof r->err - 1, err) < sizeof r->err);
  fclose(out);
  fclose(err);
}

static void test_cli_usage(void **state) {
  (void)state;
  cli_result r;
  char *help[] = {"hsm", "--help"};
  run_cli(&r, 2, help);
  assert_int_equal(r.code, 0);
  assert_non_null(strstr(r.out, "tokenvault hsm init --dir DIR"));
  char *init_help[] = {"hsm", "init", "--help"};
  run_cli(&r, 3, init_help);
  assert_int_equal(r.code, 0);
  char *none[] = {"hsm"};
  run_cli(&r, 1, none);
  assert_int_equal(r.code, 2);
  char *no_dir[] = {"hsm", "init"};
  run_cli(&r, 2, no_dir);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "--dir"));
  char *pin[] = {"hsm", "init", "--dir", "/tmp/x", "--pin", "1234"};
  run_cli(&r, 6, pin);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "unknown option: --pin"));
  char *dangling[] = {"hsm", "init", "--dir"};
  run_cli(&r, 3, dangling);
  assert_int_equal(r.code, 2);
  char *verb[] = {"hsm", "destroy-everything"};
  run_cli(&r, 2, verb);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "unknown subcommand"));
}

static void test_cli_init(void **state) {
  hsm_fixture *fx = *state; /* only for its temporary directory */
  tv_hsm_free(fx->hsm);
  fx->hsm = NULL;
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/cli", fx->root);
  cli_result r;
  char *argv[] = {"hsm", "init", "--dir", dir, "--label", "cli-token", "--module",
                  (char *)(uintptr_t)fx->module};
  run_cli(&r, 8, argv);
  assert_int_equal(r.code, 0);
  char expected[PATH_MAX + 64];
  snprintf(expected, sizeof expected, "pin file:     %s/user.pin\n", dir);
  assert_non_null(strstr(r.out, expected));
  assert_non_null(strstr(r.out, "token:        cli-token\n"));
  assert_non_null(strstr(r.out, "kek label:    " TV_HSM_DEV_KEK_LABEL "\n"));
  snprintf(expected, sizeof expected, "%s/user.pin", dir);
  assert_mode_0600(expected);
  tv_hsm_config config = {.module_path = fx->module, .token_label = "cli-token",
                          .pin_kind = TV_HSM_PIN_FILE, .pin_source = expected};
  tv_hsm *hsm = NULL;
  assert_int_equal(tv_hsm_open(&hsm, &config), TV_OK);
  assert_int_equal(tv_hsm_kek_ensure(hsm, TV_HSM_DEV_KEK_LABEL, 0), TV_OK);
  tv_hsm_free(hsm);
  /* Twice in the same place: a clear failure, exit 1. */
  run_cli(&r, 8, argv);
  assert_int_equal(r.code, 1);
  assert_non_null(strstr(r.err, "already exists"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_creates_usable_token, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_refuses_existing_token, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_bad_options, hsm_setup, hsm_teardown),
      cmocka_unit_test_setup_teardown(test_failure_midway_leaves_nothing, hsm_setup,
                                      hsm_teardown),
      cmocka_unit_test(test_cli_usage),
      cmocka_unit_test_setup_teardown(test_cli_init, hsm_setup, hsm_teardown),
  };
  return cmocka_run_group_tests_name("hsm_dev_init", tests, NULL, NULL);
}
