/* Not a test of the project's code: the proof that the sanitizer build
 * stops on undefined behaviour. test_sanitizer_halts.sh runs it with
 * INT_MAX as argument; the signed addition overflows, and the build's
 * -fno-sanitize-recover=all must end the program with an error. */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    return 2;
  }
  volatile int x = atoi(argv[1]);
  int sum = x + 1;
  printf("sum %d: the program carried on past the overflow\n", sum);
  return 0;
}
