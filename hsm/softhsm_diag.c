#include "hsm/softhsm_diag.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hsm/p11.h"

/* Lines of a SoftHSM2 configuration read at most (it has a handful). */
#define SOFTHSM_CONF_LINES_MAX 256

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) {
    s++;
  }
  size_t n = strlen(s);
  while (n > 0 && isspace((unsigned char)s[n - 1])) {
    s[--n] = '\0';
  }
  return s;
}

/* Copies the value of "directories.tokendir = VALUE" in |conf| into |out|;
 * 0 if the file cannot be read or has no such line. */
static int read_tokendir(const char *conf, char *out, size_t out_len) {
  FILE *f = fopen(conf, "r");
  if (f == NULL) {
    return 0;
  }
  char line[PATH_MAX + 64];
  int found = 0;
  for (int i = 0; !found && i < SOFTHSM_CONF_LINES_MAX && fgets(line, sizeof line, f) != NULL; i++) {
    char *eq = strchr(line, '=');
    if (line[0] == '#' || eq == NULL) {
      continue;
    }
    *eq = '\0';
    if (strcmp(trim(line), "directories.tokendir") == 0) {
      found = snprintf(out, out_len, "%s", trim(eq + 1)) < (int)out_len;
    }
  }
  fclose(f);
  return found;
}

tv_status hsm_softhsm_explain(tv_status status, const char *token_label) {
  const char *conf = getenv("SOFTHSM2_CONF");
  char dir[PATH_MAX];
  struct stat st;
  if (status != TV_E_HSM_MODULE || conf == NULL || !read_tokendir(conf, dir, sizeof dir) ||
      stat(dir, &st) == 0) {
    return status;
  }
  return hsm_failf(TV_E_HSM_TOKEN_NOT_FOUND,
                   "token '%s': SoftHSM2's token directory %s (directories.tokendir in %s) is "
                   "missing, so the module cannot start; restore it (it holds the keys) from a backup",
                   token_label != NULL ? token_label : "(by serial)", dir, conf);
}
