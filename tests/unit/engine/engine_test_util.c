#include "tests/unit/engine/engine_test_util.h"

#include <assert.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

static const char *const ns_names[ENG_TEST_NS_NUM] = {"pan", "pan_nc", "iban", "ssn", "acct", "gen"};

void eng_check(tv_status status, const char *what) {
  if (status != TV_OK) {
    fail_msg("%s: %s (%d)", what, tv_status_name(status), (int)status);
  }
}

static uint64_t test_clock(void *ctx) {
  const eng_fixture *fx = ctx;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + fx->clock_offset_ms;
}

static void ns_config(tv_engine_namespace *out, const char *name) {
  memset(out, 0, sizeof *out);
  tv_format_kind kind = FORMAT_GENERIC;
  if (strncmp(name, "pan", 3) == 0) {
    kind = FORMAT_PAN;
  } else if (strcmp(name, "iban") == 0) {
    kind = FORMAT_IBAN;
  } else if (strcmp(name, "ssn") == 0) {
    kind = FORMAT_US_SSN;
  }
  tv_status st = format_config_init(&out->format, kind, name);
  assert(st == TV_OK);
  (void)st;
  out->convergent = strcmp(name, "pan") == 0 || strcmp(name, "iban") == 0 || strcmp(name, "acct") == 0;
  if (strcmp(name, "acct") == 0) {
    out->format.mode = FORMAT_MODE_RANDOM;
    out->format.generic.length_min = 10;
    out->format.generic.length_max = 16;
  }
  if (strcmp(name, "gen") == 0) {
    out->default_ttl_ms = 3600u * 1000u;
  }
}

static tv_status add_namespaces_to(tv_engine *e) {
  for (size_t i = 0; i < ENG_TEST_NS_NUM; i++) {
    tv_engine_namespace ns;
    ns_config(&ns, ns_names[i]);
    char why[256];
    TV_TRY(tv_engine_add_namespace(e, &ns, why, sizeof why));
  }
  return TV_OK;
}

static tv_status add_namespaces(eng_fixture *fx) { return add_namespaces_to(fx->engine); }

tv_status eng_engine_new(eng_fixture *fx, tv_store *store, tv_engine **out) {
  tv_engine_options eo = {.store = store, .keyring = fx->kr->kr, .now_ms = test_clock, .now_ctx = fx};
  TV_TRY(tv_engine_new(out, &eo));
  tv_status st = add_namespaces_to(*out);
  if (st != TV_OK) {
    tv_engine_free(*out);
    *out = NULL;
  }
  return st;
}

tv_status eng_try_open(eng_fixture *fx) {
  if (fx->kr->hsm->hsm == NULL) {
    TV_TRY(tv_hsm_open(&fx->kr->hsm->hsm, &fx->kr->hsm->config));
  }
  if (fx->kr->kr == NULL) {
    TV_TRY(tv_keyring_open(&fx->kr->kr, fx->kr->hsm->hsm, &fx->kr->options));
  }
  tv_store_options so = {.dir = fx->store_dir,
                         .segment_bytes = 1u << 20,
                         .fault = fx->store_fault,
                         .fault_ctx = fx->store_fault_ctx};
  tv_store_diag diag;
  TV_TRY(tv_store_open(NULL, &so, &fx->store, &diag));
  tv_engine_options eo = {.store = fx->store, .keyring = fx->kr->kr, .now_ms = test_clock, .now_ctx = fx};
  TV_TRY(tv_engine_new(&fx->engine, &eo));
  return add_namespaces(fx);
}

void eng_open(eng_fixture *fx) { eng_check(eng_try_open(fx), "engine open"); }

void eng_close(eng_fixture *fx) {
  tv_engine_free(fx->engine);
  fx->engine = NULL;
  tv_store_close(fx->store);
  fx->store = NULL;
  tv_keyring_free(fx->kr->kr);
  fx->kr->kr = NULL;
  tv_hsm_free(fx->kr->hsm->hsm);
  fx->kr->hsm->hsm = NULL;
}

eng_fixture *eng_fixture_new(void) {
  eng_fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  fx->kr = kr_fixture_new(1);
  for (size_t i = 0; i < ENG_TEST_NS_NUM; i++) {
    kr_check(tv_keyring_add_namespace(fx->kr->kr, ns_names[i]), "keyring add namespace");
  }
  snprintf(fx->store_dir, sizeof fx->store_dir, "%.*s/store", PATH_MAX - 16, fx->kr->data_dir);
  eng_open(fx);
  return fx;
}

void eng_fixture_free(eng_fixture *fx) {
  if (fx == NULL) {
    return;
  }
  tv_engine_free(fx->engine);
  tv_store_close(fx->store);
  kr_fixture_free(fx->kr);
  free(fx);
}

int eng_setup(void **state) {
  *state = eng_fixture_new();
  return 0;
}

int eng_teardown(void **state) {
  eng_fixture_free(*state);
  return 0;
}

void eng_pan(char out[17], uint64_t n) {
  snprintf(out, 17, "411111%09llu0", (unsigned long long)(n % 1000000000ull));
  int sum = 0;
  for (int i = 0; i < 15; i++) {
    int d = out[14 - i] - '0';
    if (i % 2 == 0) {
      d *= 2;
      d = d > 9 ? d - 9 : d;
    }
    sum += d;
  }
  out[15] = (char)('0' + (10 - sum % 10) % 10);
  out[16] = '\0';
}

tv_tokenize_item eng_tokenize1(eng_fixture *fx, const char *ns, const char *value) {
  tv_tokenize_item item = {.value = value, .value_len = strlen(value)};
  eng_check(tv_engine_tokenize(fx->engine, ns, &item, 1), "tokenize");
  return item;
}

tv_detokenize_item eng_detok1(eng_fixture *fx, const char *ns, const char *token, tv_reveal reveal) {
  tv_detokenize_item item = {.token = token, .token_len = strlen(token)};
  eng_check(tv_engine_detokenize(fx->engine, ns, &item, 1, reveal), "detokenize");
  return item;
}
