/* The live audit log's segment files, mapped read-only for VerifyAudit and
 * ReadAudit while the writer keeps appending. The newest segment is cut
 * at its last newline: bytes after it are a line being written, not yet
 * acknowledged to anyone. */
#ifndef TV_SERVICE_AUDIT_FILES_H
#define TV_SERVICE_AUDIT_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

typedef struct tv_audit_file_map {
  const char *buf;
  size_t len;  /* bytes to read (cut at the last newline for the newest) */
  void *map;   /* NULL for an empty file */
  size_t map_len;
} tv_audit_file_map;

typedef struct tv_audit_files {
  tv_audit_file_map *files;
  size_t count;
} tv_audit_files;

/* tv_audit_files_map maps segments 1..|segments| of the log in |dir|
 * (names audit-NNNNNN.log, as vault/audit writes them). Returns TV_OK,
 * TV_E_IO (a segment missing or unreadable) or TV_E_NO_MEMORY; on failure
 * nothing stays mapped. Release with tv_audit_files_unmap. */
tv_status tv_audit_files_map(tv_audit_files *out, const char *dir, uint64_t segments);

/* tv_audit_files_unmap releases what _map mapped; accepts a zeroed struct. */
void tv_audit_files_unmap(tv_audit_files *files);

#endif
