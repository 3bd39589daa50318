/* `tokenvault audit verify|tail`, run in-process: exit codes and texts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/cmd_audit.h"
#include "tests/unit/audit/audit_test_util.h"

typedef struct run_output {
  int code;
  char *out;
  char *err;
} run_output;

static run_output run(int argc, const char **argv) {
  run_output r = {0, NULL, NULL};
  size_t out_len = 0, err_len = 0;
  FILE *out = open_memstream(&r.out, &out_len);
  FILE *err = open_memstream(&r.err, &err_len);
  assert_non_null(out);
  assert_non_null(err);
  char *copy[16];
  assert_true(argc > 0 && argc < 16);
  for (int i = 0; i < argc; i++) {
    copy[i] = strdup(argv[i]); /* the command takes char ** as main does */
    assert_non_null(copy[i]);
  }
  copy[argc] = NULL;
  r.code = audit_cmd_main(argc, copy, stdin, out, err);
  for (int i = 0; i < argc; i++) {
    free(copy[i]);
  }
  fclose(out);
  fclose(err);
  print_message("exit %d\nout: %serr: %s", r.code, r.out, r.err);
  return r;
}

static void run_free(run_output *r) {
  free(r->out);
  free(r->err);
}

static void build_log(audit_fixture *fx, unsigned entries) {
  fx->config.checkpoint_entries = 10;
  tv_audit_log *log = NULL;
  assert_int_equal(tv_audit_open(&log, &fx->config), TV_OK);
  audit_test_append(log, 0, entries);
  assert_int_equal(tv_audit_close(log), TV_OK);
  assert_int_equal(audit_test_segments(fx), 1);
}

/* argv for `audit verify` with the fixture's HSM and the log's file. */
static int verify_argv(audit_fixture *fx, const char **argv) {
  int n = 0;
  argv[n++] = "audit";
  argv[n++] = "verify";
  argv[n++] = "--token-label";
  argv[n++] = fx->hsm->token.token_label;
  argv[n++] = "--pin-file";
  argv[n++] = fx->hsm->token.pin_path;
  argv[n++] = "--module";
  argv[n++] = fx->hsm->module;
  argv[n++] = fx->paths[0];
  return n;
}

static void test_verify_intact(void **state) {
  audit_fixture *fx = *state;
  build_log(fx, 25);
  const char *argv[12];
  run_output r = run(verify_argv(fx, argv), argv);
  assert_int_equal(r.code, 0);
  assert_non_null(strstr(r.out, ": intact\n"));
  assert_non_null(strstr(r.out, "lines: 29 (calls 25, alerts 0, checkpoints 3), last seq 29"));
  assert_non_null(strstr(r.out, "every checkpoint MAC verified by the HSM"));
  assert_string_equal(r.err, "");
  run_free(&r);
}

static void test_verify_names_the_first_bad_spot(void **state) {
  audit_fixture *fx = *state;
  build_log(fx, 25);
  size_t len = 0;
  char *buf = audit_test_read(fx->paths[0], &len);
  size_t line_len = 0;
  size_t at = audit_test_line_at(buf, len, 4, &line_len);
  char *p = strstr(buf + at, "\"outcome\":\"OK\"");
  p[11] = 'N'; /* "OK" becomes "NK" */
  audit_test_write(fx->paths[0], buf, len);
  free(buf);
  const char *argv[12];
  run_output r = run(verify_argv(fx, argv), argv);
  assert_int_equal(r.code, 1);
  assert_non_null(strstr(r.out, "audit log NOT intact: "));
  assert_non_null(strstr(r.out, "audit-000001.log line 4 (seq 4): entry altered"));
  assert_non_null(strstr(r.out, "[AUDIT_ENTRY_ALTERED]"));
  assert_non_null(strstr(r.out, "3 line(s) verified before it, up to seq 3"));
  assert_non_null(strstr(r.err, "line 4 (seq 4): entry altered"));
  run_free(&r);
}

static void test_verify_truncation_needs_the_hsm(void **state) {
  audit_fixture *fx = *state;
  build_log(fx, 25);
  size_t len = 0;
  char *buf = audit_test_read(fx->paths[0], &len);
  size_t line_len = 0;
  size_t at = audit_test_line_at(buf, len, 27, &line_len);
  audit_test_write(fx->paths[0], buf, at + line_len + 1); /* the final checkpoint is cut */
  free(buf);
  const char *argv[12];
  run_output r = run(verify_argv(fx, argv), argv);
  assert_int_equal(r.code, 1);
  assert_non_null(strstr(r.out, "line 28 (seq 28): missing tail: truncated since checkpoint seq 22"));
  run_free(&r);
  /* Chain only: the cut cannot be proven, but the log does not end with
   * a checkpoint, so it is not shown intact either: exit 1. */
  const char *chain_only[] = {"audit", "verify", "--chain-only", fx->paths[0]};
  r = run(4, chain_only);
  assert_int_equal(r.code, 1);
  assert_non_null(strstr(r.out, "NOT intact (chain only)"));
  assert_non_null(strstr(r.out, "ends with 5 unsealed line(s)"));
  assert_non_null(strstr(r.err, "not shown intact"));
  run_free(&r);
}

/* Chain only on a whole, closed log: it ends with a checkpoint, exit 0
 * with the warning that nothing was proven against a rewrite. */
static void test_verify_chain_only_closed_log(void **state) {
  audit_fixture *fx = *state;
  build_log(fx, 25);
  const char *chain_only[] = {"audit", "verify", "--chain-only", fx->paths[0]};
  run_output r = run(4, chain_only);
  assert_int_equal(r.code, 0);
  assert_non_null(strstr(r.out, ": intact"));
  assert_non_null(strstr(r.out, "WARNING: chain only"));
  assert_null(strstr(r.out, "unsealed"));
  run_free(&r);
}

static void test_usage_errors(void **state) {
  audit_fixture *fx = *state;
  build_log(fx, 3);
  const char *no_hsm[] = {"audit", "verify", fx->paths[0]};
  run_output r = run(3, no_hsm);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "verify needs the HSM"));
  run_free(&r);
  const char *no_files[] = {"audit", "verify", "--chain-only"};
  r = run(3, no_files);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "give the log's segment files"));
  run_free(&r);
  const char *unknown[] = {"audit", "verify", "--pin", "1234", fx->paths[0]};
  r = run(5, unknown);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "unknown option: --pin"));
  run_free(&r);
  const char *mixed[] = {"audit", "verify", "--chain-only", "--token-label", "x", fx->paths[0]};
  r = run(6, mixed);
  assert_int_equal(r.code, 2);
  run_free(&r);
  const char *sub[] = {"audit", "rewrite"};
  r = run(2, sub);
  assert_int_equal(r.code, 2);
  assert_non_null(strstr(r.err, "unknown subcommand: rewrite"));
  run_free(&r);
  const char *help[] = {"audit", "--help"};
  r = run(2, help);
  assert_int_equal(r.code, 0);
  assert_non_null(strstr(r.out, "PINs are never read from the command line"));
  run_free(&r);
  const char *bad_n[] = {"audit", "tail", "-n", "0", fx->paths[0]};
  r = run(5, bad_n);
  assert_int_equal(r.code, 2);
  run_free(&r);
}

static void test_failures(void **state) {
  audit_fixture *fx = *state;
  build_log(fx, 3);
  const char *missing[] = {"audit", "verify", "--chain-only", fx->paths[0], "/nonexistent/x.log"};
  run_output r = run(5, missing);
  assert_int_equal(r.code, 1);
  assert_non_null(strstr(r.err, "/nonexistent/x.log: cannot open the file"));
  run_free(&r);
  const char *argv[12];
  int argc = verify_argv(fx, argv);
  argv[5] = "/nonexistent/pin"; /* the PIN file */
  r = run(argc, argv);
  assert_int_equal(r.code, 1);
  assert_non_null(strstr(r.err, "cannot open the HSM"));
  run_free(&r);
}

static void test_tail(void **state) {
  audit_fixture *fx = *state;
  build_log(fx, 25);
  const char *argv[] = {"audit", "tail", "-n", "3", fx->paths[0]};
  run_output r = run(5, argv);
  assert_int_equal(r.code, 0);
  const char *first = strstr(r.out, "{\"seq\":27,");
  assert_ptr_equal(first, r.out);
  assert_non_null(strstr(r.out, "\n{\"seq\":28,\"type\":\"call\""));
  assert_non_null(strstr(r.out, "\n{\"seq\":29,\"type\":\"checkpoint\""));
  size_t newlines = 0;
  for (const char *p = r.out; *p != '\0'; p++) {
    newlines += *p == '\n';
  }
  assert_int_equal(newlines, 3);
  run_free(&r);
  const char *all[] = {"audit", "tail", "-n", "1000", fx->paths[0]};
  r = run(5, all);
  assert_int_equal(r.code, 0);
  assert_ptr_equal(strstr(r.out, "{\"seq\":1,\"type\":\"segment\""), r.out);
  run_free(&r);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, audit_setup, audit_teardown)
  const struct CMUnitTest tests[] = {
      T(test_verify_intact),
      T(test_verify_names_the_first_bad_spot),
      T(test_verify_truncation_needs_the_hsm),
      T(test_verify_chain_only_closed_log),
      T(test_usage_errors),
      T(test_failures),
      T(test_tail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
