/* Not a fuzz target of the project: the proof that the fuzz build stops on
 * undefined behaviour. Built with the same flags as the fuzz_* targets;
 * tests/run.sh feeds it an input whose first four bytes make the signed
 * addition below overflow, and expects libFuzzer to report a crash (exit
 * non-zero, "runtime error" in the log). If UBSan only printed a line and
 * carried on, a fuzz run would stay green over the same finding. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int32_t x = 0;
  if (size < sizeof x) {
    return 0;
  }
  memcpy(&x, data, sizeof x);
  volatile int32_t sum = x + 1; /* overflows for x == INT32_MAX */
  (void)sum;
  return 0;
}
