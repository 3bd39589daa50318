#include "tests/unit/hsm/hsm_test_util.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ftw.h>

#include <cmocka.h>

const char *hsm_test_module(void) {
  const char *module = getenv("TV_HSM_TEST_MODULE");
  return module != NULL && module[0] != '\0' ? module : TV_HSM_DEFAULT_MODULE;
}

hsm_fixture *hsm_fixture_new(int open) {
  hsm_fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  const char *tmp = getenv("TMPDIR");
  snprintf(fx->root, sizeof fx->root, "%s/tv-hsm-test-XXXXXX",
           tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  assert_non_null(mkdtemp(fx->root));
  fx->module = hsm_test_module();
  char dir[PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s/hsm", fx->root);
  tv_hsm_dev_options options = {.dir = dir, .module_path = fx->module};
  tv_status status = tv_hsm_dev_init(&fx->token, &options);
  if (status != TV_OK) {
    fprintf(stderr, "dev init: %s: %s\n", tv_status_name(status), tv_hsm_error_detail());
  }
  assert_int_equal(status, TV_OK);
  fx->config = (tv_hsm_config){
      .module_path = fx->module,
      .token_label = fx->token.token_label,
      .pin_kind = TV_HSM_PIN_FILE,
      .pin_source = fx->token.pin_path,
  };
  if (open) {
    status = tv_hsm_open(&fx->hsm, &fx->config);
    if (status != TV_OK) {
      fprintf(stderr, "open: %s: %s\n", tv_status_name(status), tv_hsm_error_detail());
    }
    assert_int_equal(status, TV_OK);
  }
  return fx;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void hsm_fixture_free(hsm_fixture *fx) {
  if (fx == NULL) {
    return;
  }
  tv_hsm_free(fx->hsm);
  nftw(fx->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  free(fx);
}

int hsm_setup(void **state) {
  *state = hsm_fixture_new(1);
  return 0;
}

int hsm_setup_closed(void **state) {
  *state = hsm_fixture_new(0);
  return 0;
}

int hsm_teardown(void **state) {
  hsm_fixture_free(*state);
  return 0;
}

void hsm_fill(unsigned char *buf, size_t len, unsigned seed) {
  uint32_t x = 2166136261u ^ seed;
  for (size_t i = 0; i < len; i++) {
    x = (x ^ (uint32_t)i) * 16777619u;
    buf[i] = (unsigned char)(x >> 24);
  }
}
