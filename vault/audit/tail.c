/* The last lines of a log, found from the end of the last file backwards,
 * so the cost is that of the lines printed, not of the whole log. */
#include "vault/audit/tail.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct mapped {
  const char *buf;
  size_t len;
  void *map;
} mapped;

static tv_status map_file(mapped *m, const char *path) {
  memset(m, 0, sizeof *m);
  m->buf = "";
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  TV_ENSURE(fd >= 0, TV_E_IO);
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return TV_E_IO;
  }
  m->len = (size_t)st.st_size;
  if (m->len > 0) {
    m->map = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m->map == MAP_FAILED) {
      close(fd);
      return TV_E_IO;
    }
    m->buf = m->map;
  }
  close(fd);
  return TV_OK;
}

static void unmap_file(mapped *m) {
  if (m->map != NULL) {
    munmap(m->map, m->len);
  }
}

/* Walks back over up to |*need| lines of |m|; returns the offset where the
 * first of them starts and lowers |*need| by the lines found. */
static size_t back_over_lines(const mapped *m, size_t *need) {
  size_t end = m->len;
  if (end > 0 && m->buf[end - 1] == '\n') {
    end--; /* the last newline ends the last line, it does not start one */
  }
  size_t pos = end;
  while (*need > 0 && pos > 0) {
    size_t start = pos;
    while (start > 0 && m->buf[start - 1] != '\n') {
      start--;
    }
    (*need)--;
    pos = start > 0 ? start - 1 : 0;
    if (*need == 0 || start == 0) {
      return start;
    }
  }
  return pos;
}

static tv_status emit_from(const mapped *m, size_t pos, tv_audit_line_fn fn, void *arg) {
  while (pos < m->len) {
    const char *nl = memchr(m->buf + pos, '\n', m->len - pos);
    size_t len = nl != NULL ? (size_t)(nl - (m->buf + pos)) : m->len - pos;
    TV_TRY(fn(arg, m->buf + pos, len));
    pos += len + 1;
  }
  return TV_OK;
}

tv_status tv_audit_tail(const char *const *paths, size_t paths_count, size_t lines_max,
                        tv_audit_line_fn fn, void *arg, size_t *out_bad_index) {
  TV_ENSURE(paths != NULL && paths_count > 0 && fn != NULL, TV_E_INVALID_ARGUMENT);
  size_t need = lines_max;
  size_t first = paths_count;
  size_t first_pos = 0;
  while (need > 0 && first > 0) {
    mapped m;
    *out_bad_index = first - 1;
    TV_TRY(map_file(&m, paths[first - 1]));
    first--;
    first_pos = back_over_lines(&m, &need);
    unmap_file(&m);
  }
  for (size_t i = first; i < paths_count; i++) {
    mapped m;
    *out_bad_index = i;
    TV_TRY(map_file(&m, paths[i]));
    tv_status status = emit_from(&m, i == first ? first_pos : 0, fn, arg);
    unmap_file(&m);
    TV_TRY(status);
  }
  return TV_OK;
}
