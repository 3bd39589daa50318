/* db_args: the db options are taken out, the rest goes to net_args; the
 * file commands' options and missing essentials are refused by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/c/cli/cli_exit.h"
#include "client/c/cli/db_args.h"

static char message[512];

/* argv as main gets it: writable copies of the literals. */
static int parse(db_args *a, int argc, const char **argv) {
  static char copies[32][64];
  static char *args[32];
  for (int i = 0; i < argc && i < 32; i++) {
    snprintf(copies[i], sizeof copies[i], "%s", argv[i]);
    args[i] = copies[i];
  }
  FILE *err = fmemopen(message, sizeof message, "w");
  int rc = db_args_parse(a, argc, args, err, "db tokenize");
  fclose(err);
  return rc;
}

static void test_full_command_line(void **state) {
  (void)state;
  const char *argv[] = {"tokenize", "--dev", "--conninfo", "dbname=crm", "--table", "crm.customers",
                        "--columns", "card:pan,id", "--namespace-column", "kind", "--batch", "500",
                        "--dry-run", "--verify", "0", "--streams", "2", "--reason", "why"};
  db_args a;
  assert_int_equal(parse(&a, (int)(sizeof argv / sizeof argv[0]), argv), 0);
  assert_string_equal(a.conninfo, "dbname=crm");
  assert_string_equal(a.table, "crm.customers");
  assert_string_equal(a.columns, "card:pan,id");
  assert_string_equal(a.ns_column, "kind");
  assert_int_equal(a.batch_rows, 500);
  assert_int_equal(a.verify_rows, 0);
  assert_int_equal(a.dry_run, 1);
  assert_int_equal(a.net.dev, 1);
  assert_int_equal(a.net.streams, 2);
  assert_string_equal(a.net.reason, "why");
}

static void test_refusals_name_the_problem(void **state) {
  (void)state;
  db_args a;
  const char *no_table[] = {"tokenize", "--conninfo", "x", "--columns", "c:pan"};
  assert_int_equal(parse(&a, 5, no_table), CLI_EXIT_USAGE);
  assert_non_null(strstr(message, "--table is required"));
  const char *both[] = {"tokenize", "--conninfo", "x", "--conninfo-file", "f", "--table", "t", "--columns", "c:pan"};
  assert_int_equal(parse(&a, 9, both), CLI_EXIT_USAGE);
  assert_non_null(strstr(message, "one of them"));
  const char *csv[] = {"tokenize", "--csv", "f.csv"};
  assert_int_equal(parse(&a, 3, csv), CLI_EXIT_USAGE);
  assert_non_null(strstr(message, "--csv"));
  const char *batch[] = {"tokenize", "--batch", "20001"};
  assert_int_equal(parse(&a, 3, batch), CLI_EXIT_USAGE);
  assert_non_null(strstr(message, "--batch"));
  const char *stray[] = {"tokenize", "--conninfo", "x", "--table", "t", "--columns", "c:pan", "4111111111111111"};
  assert_int_equal(parse(&a, 8, stray), CLI_EXIT_USAGE);
  assert_non_null(strstr(message, "unexpected argument"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_command_line),
      cmocka_unit_test(test_refusals_name_the_problem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
