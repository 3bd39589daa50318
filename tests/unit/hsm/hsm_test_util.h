/* Shared by the HSM tests: a fresh SoftHSM2 token per test, in its own
 * temporary directory with its own SOFTHSM2_CONF, so tests never depend on
 * each other. */
#ifndef TV_TESTS_HSM_TEST_UTIL_H
#define TV_TESTS_HSM_TEST_UTIL_H

#include "hsm/dev_init.h"
#include "hsm/hsm.h"

typedef struct hsm_fixture {
  char root[PATH_MAX];   /* temporary directory, removed by hsm_fixture_free */
  tv_hsm_dev_token token;
  tv_hsm_config config;  /* PIN from the token's file, module as below */
  const char *module;    /* $TV_HSM_TEST_MODULE or TV_HSM_DEFAULT_MODULE */
  tv_hsm *hsm;           /* open unless the test closed it */
} hsm_fixture;

/* hsm_test_module returns the module under test. */
const char *hsm_test_module(void);

/* hsm_fixture_new creates a token (dev init) and opens a tv_hsm on it
 * (unless |open| is 0). Aborts the test on failure. */
hsm_fixture *hsm_fixture_new(int open);

/* hsm_fixture_free closes the tv_hsm and deletes the directory. */
void hsm_fixture_free(hsm_fixture *fx);

/* cmocka setup/teardown wrappers. */
int hsm_setup(void **state);
int hsm_setup_closed(void **state);
int hsm_teardown(void **state);

/* hsm_fill fills |buf| with a pattern derived from |seed|. */
void hsm_fill(unsigned char *buf, size_t len, unsigned seed);

#endif
