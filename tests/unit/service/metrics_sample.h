/* Reading one sample out of a /metrics text in the service's unit tests. */
#ifndef TV_TESTS_SERVICE_METRICS_SAMPLE_H
#define TV_TESTS_SERVICE_METRICS_SAMPLE_H

#include <stdlib.h>
#include <string.h>

/* metrics_sample returns the value of the line whose name and labels are
 * exactly |series|, or -1 if there is no such line. */
static inline long long metrics_sample(const char *text, const char *series) {
  size_t n = strlen(series);
  for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, series, n) == 0 && p[n] == ' ') {
      return strtoll(p + n + 1, NULL, 10);
    }
  }
  return -1;
}

#endif
