/* Clocks. Monotonic time measures durations and deadlines (never jumps);
 * unix time stamps records and audit entries. One place, so every module
 * agrees on units and on which clock answers which question. */
#ifndef TV_UTIL_CLOCK_H
#define TV_UTIL_CLOCK_H

#include <stdint.h>

/* tv_mono_us returns CLOCK_MONOTONIC in microseconds. */
uint64_t tv_mono_us(void);

/* tv_mono_ms returns CLOCK_MONOTONIC in milliseconds. */
uint64_t tv_mono_ms(void);

/* tv_unix_ms returns CLOCK_REALTIME (unix time) in milliseconds. */
uint64_t tv_unix_ms(void);

#endif
