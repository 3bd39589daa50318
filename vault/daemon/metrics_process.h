/* The standard Prometheus process metrics of tokenvaultd, read from
 * /proc/self at scrape time: process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds — the
 * names every Prometheus client library exports, so stock dashboards and
 * alerts (file descriptors running out, memory growth, restarts) work. */
#ifndef TV_DAEMON_METRICS_PROCESS_H
#define TV_DAEMON_METRICS_PROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "vault/service/metrics.h"
#include "vault/util/status.h"

/* /proc/self/stat is one line of a few hundred bytes; the command name in
 * it is at most 16 (TASK_COMM_LEN), so this leaves ample room. */
#define TV_PROCESS_STAT_BYTES_MAX 1024u
/* Descriptors counted at most per scrape (a bound on the directory walk;
 * process_max_fds is far below it in practice). */
#define TV_PROCESS_FDS_COUNTED_MAX 1048576u

typedef struct tv_process_stat {
  uint64_t cpu_ticks;        /* utime + stime, in clock ticks */
  uint64_t start_ticks;      /* start time after boot, in clock ticks */
  uint64_t virtual_bytes;    /* vsize */
  uint64_t resident_pages;   /* rss */
} tv_process_stat;

typedef struct tv_process_metrics {
  double cpu_seconds;
  uint64_t resident_bytes;
  uint64_t virtual_bytes;
  uint64_t open_fds;
  uint64_t max_fds;
  double start_time_seconds; /* unix time */
} tv_process_metrics;

/* tv_process_stat_parse reads the fields above from |len| bytes of
 * /proc/<pid>/stat text. The command name (field 2) is in parentheses and
 * may itself hold spaces and parentheses, so fields are counted from the
 * last ')'. TV_E_INVALID_ARGUMENT if a field is missing or not a number. */
tv_status tv_process_stat_parse(tv_process_stat *out, const char *text, size_t len);

/* tv_process_boot_time_parse finds the "btime N" line (unix seconds of the
 * boot) in |len| bytes of /proc/stat text. TV_E_INVALID_ARGUMENT if none. */
tv_status tv_process_boot_time_parse(uint64_t *out_btime, const char *text, size_t len);

/* tv_process_metrics_read fills |out| from /proc/self (stat, fd/), /proc/stat
 * and getrlimit(RLIMIT_NOFILE). TV_E_IO if /proc cannot be read. */
tv_status tv_process_metrics_read(tv_process_metrics *out);

/* tv_metrics_render_process appends the six families of |m| to |out|. */
void tv_metrics_render_process(const tv_process_metrics *m, tv_metrics_text *out);

#endif
