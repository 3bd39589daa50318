#include "vault/daemon/metrics_process.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Parses the unsigned decimal number at *p (after spaces), moving *p past
 * it. 0 if there is none before |end|. */
static int take_number(const char **p, const char *end, uint64_t *out) {
  const char *s = *p;
  while (s < end && *s == ' ') {
    s++;
  }
  if (s >= end || *s < '0' || *s > '9') {
    return 0;
  }
  uint64_t v = 0;
  for (; s < end && *s >= '0' && *s <= '9'; s++) {
    if (v > (UINT64_MAX - 9) / 10) {
      return 0; /* no field of stat is this large */
    }
    v = v * 10 + (uint64_t)(*s - '0');
  }
  *p = s;
  *out = v;
  return 1;
}

/* Skips one space-separated field (the state letter, or a signed number we
 * do not need). */
static int skip_field(const char **p, const char *end) {
  const char *s = *p;
  while (s < end && *s == ' ') {
    s++;
  }
  if (s >= end || *s == '\n') {
    return 0;
  }
  while (s < end && *s != ' ' && *s != '\n') {
    s++;
  }
  *p = s;
  return 1;
}

tv_status tv_process_stat_parse(tv_process_stat *out, const char *text, size_t len) {
  TV_ENSURE(out != NULL && text != NULL, TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  const char *end = text + len;
  const char *close = NULL;
  for (const char *s = text; s < end; s++) {
    if (*s == ')') {
      close = s; /* the last one: the name may contain ')' */
    }
  }
  TV_ENSURE(close != NULL, TV_E_INVALID_ARGUMENT);
  const char *p = close + 1;
  /* Field 3 (state) onwards; we want 14 utime, 15 stime, 22 starttime,
   * 23 vsize, 24 rss (proc(5), numbered from 1). */
  uint64_t fields[25] = {0};
  for (unsigned field = 3; field <= 24; field++) {
    int wanted = field == 14 || field == 15 || field >= 22;
    int ok = wanted ? take_number(&p, end, &fields[field]) : skip_field(&p, end);
    TV_ENSURE(ok, TV_E_INVALID_ARGUMENT);
  }
  out->cpu_ticks = fields[14] + fields[15];
  out->start_ticks = fields[22];
  out->virtual_bytes = fields[23];
  out->resident_pages = fields[24];
  return TV_OK;
}

tv_status tv_process_boot_time_parse(uint64_t *out_btime, const char *text, size_t len) {
  TV_ENSURE(out_btime != NULL && text != NULL, TV_E_INVALID_ARGUMENT);
  static const char key[] = "btime ";
  const char *end = text + len;
  for (const char *line = text; line < end;) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    const char *line_end = nl != NULL ? nl : end;
    if ((size_t)(line_end - line) > sizeof key - 1 && memcmp(line, key, sizeof key - 1) == 0) {
      const char *p = line + sizeof key - 1;
      TV_ENSURE(take_number(&p, line_end, out_btime), TV_E_INVALID_ARGUMENT);
      return TV_OK;
    }
    line = line_end + 1;
  }
  return TV_E_INVALID_ARGUMENT;
}

static tv_status read_small_file(const char *path, char *buf, size_t cap, size_t *out_len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  TV_ENSURE(fd >= 0, TV_E_IO);
  ssize_t n;
  do {
    n = read(fd, buf, cap - 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
  TV_ENSURE(n > 0, TV_E_IO);
  buf[n] = '\0';
  *out_len = (size_t)n;
  return TV_OK;
}

/* /proc/stat has a long "intr" line before "btime": read it line by line. */
static tv_status read_boot_time(uint64_t *out_btime) {
  FILE *f = fopen("/proc/stat", "re");
  TV_ENSURE(f != NULL, TV_E_IO);
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  tv_status st = TV_E_IO;
  while (st != TV_OK && (n = getline(&line, &cap, f)) > 0) {
    st = tv_process_boot_time_parse(out_btime, line, (size_t)n) == TV_OK ? TV_OK : TV_E_IO;
  }
  free(line);
  fclose(f);
  return st;
}

/* Open descriptors: the entries of /proc/self/fd, less the one the
 * listing itself holds. */
static tv_status count_open_fds(uint64_t *out) {
  DIR *d = opendir("/proc/self/fd");
  TV_ENSURE(d != NULL, TV_E_IO);
  uint64_t n = 0;
  struct dirent *e;
  while (n < TV_PROCESS_FDS_COUNTED_MAX && (e = readdir(d)) != NULL) {
    n += e->d_name[0] != '.';
  }
  closedir(d);
  *out = n > 0 ? n - 1 : 0;
  return TV_OK;
}

tv_status tv_process_metrics_read(tv_process_metrics *out) {
  TV_ENSURE(out != NULL, TV_E_INVALID_ARGUMENT);
  memset(out, 0, sizeof *out);
  char buf[TV_PROCESS_STAT_BYTES_MAX];
  size_t len = 0;
  TV_TRY(read_small_file("/proc/self/stat", buf, sizeof buf, &len));
  tv_process_stat st;
  TV_ENSURE(tv_process_stat_parse(&st, buf, len) == TV_OK, TV_E_IO);
  long hz = sysconf(_SC_CLK_TCK);
  long page = sysconf(_SC_PAGESIZE);
  TV_ENSURE(hz > 0 && page > 0, TV_E_IO);
  uint64_t btime = 0;
  TV_TRY(read_boot_time(&btime));
  out->cpu_seconds = (double)st.cpu_ticks / (double)hz;
  out->resident_bytes = st.resident_pages * (uint64_t)page;
  out->virtual_bytes = st.virtual_bytes;
  out->start_time_seconds = (double)btime + (double)st.start_ticks / (double)hz;
  TV_TRY(count_open_fds(&out->open_fds));
  struct rlimit rl;
  TV_ENSURE(getrlimit(RLIMIT_NOFILE, &rl) == 0, TV_E_IO);
  out->max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
  return TV_OK;
}

void tv_metrics_render_process(const tv_process_metrics *m, tv_metrics_text *out) {
  assert(m != NULL && out != NULL);
  tv_metrics_text_printf(out,
                         "# HELP process_cpu_seconds_total CPU seconds used by tokenvaultd, user plus system.\n"
                         "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n"
                         "# HELP process_resident_memory_bytes Bytes of tokenvaultd in RAM (resident set).\n"
                         "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %llu\n"
                         "# HELP process_virtual_memory_bytes Bytes of address space tokenvaultd has mapped.\n"
                         "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n",
                         m->cpu_seconds, (unsigned long long)m->resident_bytes,
                         (unsigned long long)m->virtual_bytes);
  tv_metrics_text_printf(out,
                         "# HELP process_open_fds File descriptors tokenvaultd holds open.\n"
                         "# TYPE process_open_fds gauge\nprocess_open_fds %llu\n"
                         "# HELP process_max_fds The open file descriptor limit (RLIMIT_NOFILE, soft).\n"
                         "# TYPE process_max_fds gauge\nprocess_max_fds %llu\n"
                         "# HELP process_start_time_seconds When tokenvaultd started, in unix seconds.\n"
                         "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.2f\n",
                         (unsigned long long)m->open_fds, (unsigned long long)m->max_fds, m->start_time_seconds);
}
