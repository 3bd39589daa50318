/* libFuzzer target: VerifyAudit's range over arbitrary bytes. The first 16
 * bytes are from_seq and to_seq, the rest a log file. The verifier walks
 * it counting the range; tv_audit_verify_range_judge must then agree with
 * its own contract, whatever the bytes: the range counts never exceed the
 * whole walk's, a range is only proven despite a problem when that problem
 * lies after it, and a proven range never reports a bad seq inside it. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vault/audit/verifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t read_u64(const uint8_t *p) {
  uint64_t v = 0;
  memcpy(&v, p, sizeof v);
  return v;
}

static void check_judge(const tv_audit_verify_result *r, tv_status walk, uint64_t from, uint64_t to) {
  uint64_t bad = 1;
  tv_status st = tv_audit_verify_range_judge(r, walk, from, to, &bad);
  if (walk == TV_OK && (st != TV_OK || bad != 0)) {
    __builtin_trap(); /* an intact walk proves every range */
  }
  if (walk != TV_OK && st == TV_OK && (to == 0 || bad <= to)) {
    __builtin_trap(); /* proven despite a problem inside or before it */
  }
  if (st != TV_OK && st != walk) {
    __builtin_trap(); /* a refusal is the walk's own finding */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 16) {
    return 0;
  }
  uint64_t from = read_u64(data), to = read_u64(data + 8);
  tv_audit_verify_result r;
  audit_verifier v;
  audit_verifier_init(&v, &r, NULL, 1);
  audit_verifier_set_range(&v, from, to);
  tv_status walk = audit_verifier_file(&v, 0, (const char *)data + 16, size - 16);
  if (walk == TV_OK) {
    walk = audit_verifier_finish(&v);
  }
  if (r.range_lines > r.lines || r.range_checkpoints > r.checkpoints) {
    __builtin_trap();
  }
  check_judge(&r, walk, from, to);
  /* No HSM here, so no seal is ever verified; pretend one was, so the
   * judge's sealed-range path is exercised too. */
  r.macs_checked = 1;
  check_judge(&r, walk, from, to);
  return 0;
}
