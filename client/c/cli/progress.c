#include "client/c/cli/progress.h"

#include <time.h>
#include <unistd.h>

/* Redraw interval: smooth enough to watch, cheap enough not to matter. */
#define PROGRESS_INTERVAL_NS 250000000ull
#define PROGRESS_BAR_WIDTH 30

uint64_t progress_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void progress_start(progress *p, FILE *err, int mode, uint64_t total_bytes) {
  int on = mode == 1 || (mode == -1 && isatty(fileno(err)));
  p->tty = on ? err : NULL;
  p->total_bytes = total_bytes;
  p->start_ns = progress_now_ns();
  p->last_ns = 0;
}

void progress_update(progress *p, uint64_t bytes, uint64_t rows) {
  if (p->tty == NULL) return;
  uint64_t now = progress_now_ns();
  if (now - p->last_ns < PROGRESS_INTERVAL_NS) return;
  p->last_ns = now;
  double secs = (double)(now - p->start_ns) / 1e9;
  double rate = secs > 0 ? (double)rows / secs : 0;
  if (p->total_bytes == 0) {
    fprintf(p->tty, "\r%llu rows  %.0f rows/s   ", (unsigned long long)rows, rate);
    fflush(p->tty);
    return;
  }
  double frac = (double)bytes / (double)p->total_bytes;
  if (frac > 1) frac = 1;
  int filled = (int)(frac * PROGRESS_BAR_WIDTH);
  char bar[PROGRESS_BAR_WIDTH + 1];
  for (int i = 0; i < PROGRESS_BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
  bar[PROGRESS_BAR_WIDTH] = '\0';
  double eta = frac > 0 ? secs / frac - secs : 0;
  fprintf(p->tty, "\r[%s] %3.0f%%  %llu rows  %.0f rows/s  ETA %.0fs   ", bar, frac * 100,
          (unsigned long long)rows, rate, eta);
  fflush(p->tty);
}

void progress_end(progress *p) {
  if (p->tty == NULL) return;
  fprintf(p->tty, "\r%*s\r", PROGRESS_BAR_WIDTH + 60, "");
  fflush(p->tty);
}
