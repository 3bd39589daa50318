/* Checks our FF1 against the cases Ff1BouncyCastleCases.java wrote with
 * Bouncy Castle: every available implementation, encrypt and decrypt,
 * single calls (separate and in-place buffers) and the batch API (each
 * group is one batch).
 *
 * usage: ff1_bc_check CASES_FILE ITEMS_MIN
 * Exit 0 when every check passed and at least ITEMS_MIN cases were read. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/crypto/cpu_flags.h"
#include "vault/crypto/ff1.h"

#define GROUP_ITEMS_MAX 64u
#define LINE_BYTES_MAX 16384u
#define FAILURES_SHOWN_MAX 10u

typedef struct bc_item {
  uint8_t tweak[FF1_TWEAK_MAX];
  size_t tweak_len;
  uint8_t plain[FF1_LENGTH_MAX];
  uint8_t cipher[FF1_LENGTH_MAX];
  size_t length;
} bc_item;

typedef struct bc_group {
  uint8_t key[32];
  size_t key_len;
  unsigned radix;
  size_t count;
  bc_item items[GROUP_ITEMS_MAX];
} bc_group;

typedef struct bc_totals {
  unsigned long groups;
  unsigned long items;
  unsigned long checks;
  unsigned long failures;
} bc_totals;

static int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/* Decodes |hex| ("-" is empty) into at most |max| bytes; -1 on bad input. */
static int hex_decode(const char *hex, uint8_t *out, size_t max, size_t *out_len) {
  size_t len = strcmp(hex, "-") == 0 ? 0 : strlen(hex);
  if (len % 2 != 0 || len / 2 > max) {
    return -1;
  }
  for (size_t i = 0; i < len; i += 2) {
    int hi = hex_value(hex[i]);
    int lo = hex_value(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return -1;
    }
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  *out_len = len / 2;
  return 0;
}

static void report(bc_totals *totals, const bc_group *g, size_t item, ff1_impl impl,
                   const char *what) {
  totals->failures++;
  if (totals->failures <= FAILURES_SHOWN_MAX) {
    fprintf(stderr, "MISMATCH group %lu item %zu: %s, impl %s, radix %u, key %zu bytes, length %zu, tweak %zu bytes\n",
            totals->groups, item, what, ff1_impl_name(impl), g->radix, g->key_len,
            g->items[item].length, g->items[item].tweak_len);
  }
}

static void check_single(const ff1_key *key, const bc_group *g, bc_totals *totals) {
  uint8_t out[FF1_LENGTH_MAX];
  ff1_impl impl = ff1_key_impl(key);
  for (size_t i = 0; i < g->count; i++) {
    const bc_item *it = &g->items[i];
    tv_status s = ff1_encrypt(key, g->radix, it->tweak, it->tweak_len, it->plain, it->length, out);
    totals->checks++;
    if (s != TV_OK || memcmp(out, it->cipher, it->length) != 0) {
      report(totals, g, i, impl, "single encrypt");
    }
    s = ff1_decrypt(key, g->radix, it->tweak, it->tweak_len, it->cipher, it->length, out);
    totals->checks++;
    if (s != TV_OK || memcmp(out, it->plain, it->length) != 0) {
      report(totals, g, i, impl, "single decrypt");
    }
    /* In place: |out| may equal |in|. */
    memcpy(out, it->plain, it->length);
    s = ff1_encrypt(key, g->radix, it->tweak, it->tweak_len, out, it->length, out);
    totals->checks++;
    if (s != TV_OK || memcmp(out, it->cipher, it->length) != 0) {
      report(totals, g, i, impl, "in-place encrypt");
    }
  }
}

static void check_batch(const ff1_key *key, const bc_group *g, int encrypt, bc_totals *totals) {
  static uint8_t outs[GROUP_ITEMS_MAX][FF1_LENGTH_MAX];
  ff1_batch_item items[GROUP_ITEMS_MAX];
  for (size_t i = 0; i < g->count; i++) {
    const bc_item *it = &g->items[i];
    items[i] = (ff1_batch_item){it->tweak, it->tweak_len, encrypt ? it->plain : it->cipher,
                                outs[i], it->length, TV_E_INTERNAL};
  }
  tv_status s = encrypt ? ff1_encrypt_batch(key, g->radix, items, g->count)
                        : ff1_decrypt_batch(key, g->radix, items, g->count);
  for (size_t i = 0; i < g->count; i++) {
    const uint8_t *expected = encrypt ? g->items[i].cipher : g->items[i].plain;
    totals->checks++;
    if (s != TV_OK || items[i].status != TV_OK ||
        memcmp(outs[i], expected, g->items[i].length) != 0) {
      report(totals, g, i, ff1_key_impl(key), encrypt ? "batch encrypt" : "batch decrypt");
    }
  }
}

static void check_group(const bc_group *g, bc_totals *totals) {
  static const ff1_impl impls[] = {FF1_IMPL_AESNI, FF1_IMPL_VAES, FF1_IMPL_OPENSSL};
  for (size_t k = 0; k < sizeof impls / sizeof impls[0]; k++) {
    /* Skipped only when CPUID says the CPU lacks it; the library's own
     * detection must agree, or the check fails. */
    if (ff1_impl_available(impls[k]) != test_cpu_supports_impl(impls[k])) {
      report(totals, g, 0, impls[k], "availability differs from CPUID");
      continue;
    }
    if (!test_cpu_supports_impl(impls[k])) {
      continue;
    }
    ff1_key *key = NULL;
    if (ff1_key_new(&key, impls[k], g->key, g->key_len) != TV_OK) {
      report(totals, g, 0, impls[k], "ff1_key_new");
      continue;
    }
    check_single(key, g, totals);
    check_batch(key, g, 1, totals);
    check_batch(key, g, 0, totals);
    ff1_key_free(key);
  }
}

/* Reads the group header in |line| and its items from |file|. */
static int read_group(FILE *file, char *line, bc_group *g) {
  char key_hex[128];
  unsigned long count = 0;
  if (sscanf(line, "G %127s %u %lu", key_hex, &g->radix, &count) != 3 ||
      hex_decode(key_hex, g->key, sizeof g->key, &g->key_len) != 0 || count == 0 ||
      count > GROUP_ITEMS_MAX) {
    return -1;
  }
  g->count = count;
  for (size_t i = 0; i < g->count; i++) {
    bc_item *it = &g->items[i];
    size_t cipher_len = 0;
    if (fgets(line, LINE_BYTES_MAX, file) == NULL || line[0] != 'I') {
      return -1;
    }
    char *tweak = strtok(line + 1, " \n");
    char *plain = strtok(NULL, " \n");
    char *cipher = strtok(NULL, " \n");
    if (tweak == NULL || plain == NULL || cipher == NULL ||
        hex_decode(tweak, it->tweak, sizeof it->tweak, &it->tweak_len) != 0 ||
        hex_decode(plain, it->plain, sizeof it->plain, &it->length) != 0 ||
        hex_decode(cipher, it->cipher, sizeof it->cipher, &cipher_len) != 0 ||
        cipher_len != it->length) {
      return -1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: ff1_bc_check CASES_FILE ITEMS_MIN\n");
    return 2;
  }
  FILE *file = fopen(argv[1], "r");
  if (file == NULL) {
    perror(argv[1]);
    return 2;
  }
  static char line[LINE_BYTES_MAX];
  static bc_group group;
  bc_totals totals = {0, 0, 0, 0};
  int bad_file = 0;
  while (!bad_file && fgets(line, sizeof line, file) != NULL) {
    if (read_group(file, line, &group) != 0) {
      fprintf(stderr, "malformed cases file near group %lu\n", totals.groups + 1);
      bad_file = 1;
      break;
    }
    totals.groups++;
    totals.items += group.count;
    check_group(&group, &totals);
  }
  fclose(file);
  printf("ff1_bc_check: %lu cases in %lu groups, %lu checks, %lu mismatches; implementations:",
         totals.items, totals.groups, totals.checks, totals.failures);
  static const ff1_impl all[] = {FF1_IMPL_AESNI, FF1_IMPL_VAES, FF1_IMPL_OPENSSL};
  int skipped = 0;
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
    printf(" %s%s", ff1_impl_name(all[k]),
           test_cpu_supports_impl(all[k]) ? "" : " (not on this CPU per CPUID: skipped)");
    skipped += !test_cpu_supports_impl(all[k]);
  }
  printf("\n");
  unsigned long items_min = strtoul(argv[2], NULL, 10);
  if (bad_file || totals.failures != 0 || totals.items < items_min) {
    if (totals.items < items_min) {
      fprintf(stderr, "only %lu cases, expected at least %lu\n", totals.items, items_min);
    }
    return 1;
  }
  return skipped ? TEST_EXIT_SKIPPED : 0;
}
