/* Shared by the audit tests: a fresh SoftHSM2 token (the HSM tests'
 * fixture) and an empty log directory per test, plus file surgery helpers
 * for the tampering tests. */
#ifndef TV_TESTS_AUDIT_TEST_UTIL_H
#define TV_TESTS_AUDIT_TEST_UTIL_H

#include <limits.h>
#include <stddef.h>

#include "tests/unit/hsm/hsm_test_util.h"
#include "vault/audit/audit.h"
#include "vault/audit/verify.h"

#define AUDIT_TEST_SEGMENTS_MAX 64

typedef struct audit_fixture {
  hsm_fixture *hsm;
  char dir[PATH_MAX + 16];  /* <root>/audit, not created */
  tv_audit_config config;   /* the fixture's HSM; checkpoint every 1000 */
  char paths[AUDIT_TEST_SEGMENTS_MAX][PATH_MAX + 48];
  const char *path_ptrs[AUDIT_TEST_SEGMENTS_MAX];
} audit_fixture;

/* cmocka setup/teardown: *state is an audit_fixture. */
int audit_setup(void **state);
int audit_teardown(void **state);

/* audit_test_entry fills a call entry whose fields depend on |i|. */
tv_audit_entry audit_test_entry(unsigned i);

/* audit_test_append appends |n| entries (numbered from |first|) and
 * asserts each succeeds. */
void audit_test_append(tv_audit_log *log, unsigned first, unsigned n);

/* audit_test_segments lists the segment files in order into fx->paths /
 * fx->path_ptrs and returns how many there are. */
size_t audit_test_segments(audit_fixture *fx);

/* audit_test_verify verifies every segment with the HSM (or without, if
 * |with_hsm| is 0). */
tv_status audit_test_verify(audit_fixture *fx, tv_audit_verify_result *out, int with_hsm);

/* audit_test_read returns the file's bytes (NUL added; free them). */
char *audit_test_read(const char *path, size_t *out_len);

/* audit_test_write replaces the file's contents. */
void audit_test_write(const char *path, const char *buf, size_t len);

/* audit_test_line_at returns the offset of line |line| (1-based) in |buf|
 * and its length without the newline in |*out_len|. */
size_t audit_test_line_at(const char *buf, size_t len, unsigned line, size_t *out_len);

/* audit_test_find_line returns the 1-based number of the first line that
 * contains |needle| at or after line |from|, 0 if none. */
unsigned audit_test_find_line(const char *buf, size_t len, const char *needle, unsigned from);

#endif
