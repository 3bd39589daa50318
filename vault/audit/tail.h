/* Reading the last lines of an audit log (`tokenvault audit tail`). */
#ifndef TV_AUDIT_TAIL_H
#define TV_AUDIT_TAIL_H

#include <stddef.h>

#include "vault/util/status.h"

/* tv_audit_line_fn receives one line (without its newline); a non-TV_OK
 * return stops the walk with that status. */
typedef tv_status (*tv_audit_line_fn)(void *arg, const char *line, size_t line_len);

/* tv_audit_tail calls |fn| for each of the last |lines_max| lines of the
 * files |paths| taken in order as one log (a last line without a newline
 * counts), oldest first. Returns TV_OK, TV_E_IO if a file cannot be read
 * (|*out_bad_index| then names it), or |fn|'s status. Lines are not
 * verified: use tv_audit_verify_files for that. */
tv_status tv_audit_tail(const char *const *paths, size_t paths_count, size_t lines_max,
                        tv_audit_line_fn fn, void *arg, size_t *out_bad_index);

#endif
