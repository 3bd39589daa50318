#include "tests/unit/audit/audit_test_util.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hsm/dev_init.h"

int audit_setup(void **state) {
  audit_fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  fx->hsm = hsm_fixture_new(1);
  int n = snprintf(fx->dir, sizeof fx->dir, "%s/audit", fx->hsm->root);
  assert_true(n > 0 && (size_t)n < sizeof fx->dir);
  fx->config = (tv_audit_config){
      .dir = fx->dir,
      .hsm = fx->hsm->hsm,
      .mac_label = TV_HSM_DEV_MAC_LABEL,
  };
  *state = fx;
  return 0;
}

int audit_teardown(void **state) {
  audit_fixture *fx = *state;
  hsm_fixture_free(fx->hsm);
  free(fx);
  return 0;
}

tv_audit_entry audit_test_entry(unsigned i) {
  static const char *const methods[] = {"Tokenize", "Detokenize", "Delete"};
  return (tv_audit_entry){
      .type = TV_AUDIT_CALL,
      .principal = i % 2 ? "spiffe://crm.example/app" : "CN=finance-batch",
      .peer = "ipv4:127.0.0.1:40000",
      .method = methods[i % 3],
      .ns = "pan",
      .items = i,
      .code = 0,
      .outcome = "OK",
      .latency_us = 100 + i,
      .request_id = "req-\"quoted\"\\\x01",
      .purpose = i % 3 == 1 ? "chargeback #4711 – résumé" : "",
  };
}

void audit_test_append(tv_audit_log *log, unsigned first, unsigned n) {
  for (unsigned i = first; i < first + n; i++) {
    tv_audit_entry e = audit_test_entry(i);
    uint64_t seq = 0;
    tv_status status = tv_audit_append(log, &seq, &e);
    if (status != TV_OK) {
      fail_msg("append %u: %s", i, tv_status_name(status));
    }
    assert_true(seq > 0);
  }
}

static int cmp_names(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

size_t audit_test_segments(audit_fixture *fx) {
  char names[AUDIT_TEST_SEGMENTS_MAX][24];
  size_t count = 0;
  DIR *d = opendir(fx->dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "audit-", 6) == 0 && len == 16 &&
        strcmp(e->d_name + len - 4, ".log") == 0) {
      assert_true(count < AUDIT_TEST_SEGMENTS_MAX);
      memcpy(names[count++], e->d_name, len + 1); /* len == 16 */
    }
  }
  closedir(d);
  qsort(names, count, sizeof names[0], cmp_names);
  for (size_t i = 0; i < count; i++) {
    int n = snprintf(fx->paths[i], sizeof fx->paths[i], "%s/%s", fx->dir, names[i]);
    assert_true(n > 0 && (size_t)n < sizeof fx->paths[i]);
    fx->path_ptrs[i] = fx->paths[i];
  }
  return count;
}

tv_status audit_test_verify(audit_fixture *fx, tv_audit_verify_result *out, int with_hsm) {
  size_t count = audit_test_segments(fx);
  assert_true(count > 0);
  tv_status status =
      tv_audit_verify_files(out, with_hsm ? fx->hsm->hsm : NULL, fx->path_ptrs, count);
  print_message("verify: %s line %llu seq %llu: %s\n", tv_status_name(status),
                (unsigned long long)out->line, (unsigned long long)out->seq, out->text);
  return status;
}

char *audit_test_read(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long size = ftell(f);
  assert_true(size >= 0);
  rewind(f);
  char *buf = malloc((size_t)size + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
  fclose(f);
  buf[size] = '\0';
  *out_len = (size_t)size;
  return buf;
}

void audit_test_write(const char *path, const char *buf, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

size_t audit_test_line_at(const char *buf, size_t len, unsigned line, size_t *out_len) {
  size_t pos = 0;
  for (unsigned i = 1; i < line; i++) {
    const char *nl = memchr(buf + pos, '\n', len - pos);
    assert_non_null(nl);
    pos = (size_t)(nl - buf) + 1;
  }
  const char *nl = memchr(buf + pos, '\n', len - pos);
  assert_non_null(nl);
  *out_len = (size_t)(nl - (buf + pos));
  return pos;
}

unsigned audit_test_find_line(const char *buf, size_t len, const char *needle, unsigned from) {
  size_t pos = 0;
  for (unsigned line = 1; pos < len; line++) {
    const char *nl = memchr(buf + pos, '\n', len - pos);
    size_t end = nl != NULL ? (size_t)(nl - buf) : len;
    if (line >= from) {
      size_t n = strlen(needle);
      for (size_t i = pos; i + n <= end; i++) {
        if (memcmp(buf + i, needle, n) == 0) {
          return line;
        }
      }
    }
    pos = end + 1;
  }
  return 0;
}
