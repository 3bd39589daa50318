/* Backups of a store directory: verify a snapshot taken with
 * tv_store_snapshot (store.h) and restore it into a new directory.
 *
 * A backup directory holds copies of the segment files (sealed ones whole,
 * the active one cut at the last durable commit), any extra files the
 * caller asked for (e.g. the keyring), and MANIFEST, written last: one
 * line per file with its size and CRC32C, the last sequence number and
 * record count, and a CRC32C of the manifest itself. A backup without a
 * valid MANIFEST is incomplete and is refused. */
#ifndef TV_STORE_BACKUP_H
#define TV_STORE_BACKUP_H

#include <stdint.h>

#include "vault/store/store.h"
#include "vault/util/status.h"

/* tv_store_verify_backup checks the backup in |backup_dir|: the
 * manifest's CRC, every listed file's presence, size and CRC32C, segment
 * ids contiguous, and every record of every segment (decoder, header
 * first, sequence numbers increasing, no bytes after the last record),
 * and that the last sequence number and record count match the manifest.
 * On success |info| (may be NULL) is filled (diag empty). On failure
 * |diag| (may be NULL) names the file and offset: TV_E_STORE_LAYOUT for a
 * missing file or a gap in segment ids, TV_E_STORE_CORRUPT for a bad
 * manifest, size, CRC or record, TV_E_IO. */
tv_status tv_store_verify_backup(const char *backup_dir, tv_store_snapshot_info *info, tv_store_diag *diag);

/* tv_store_restore verifies the backup in |backup_dir| (as
 * tv_store_verify_backup) and installs its segments and extra files as
 * the store directory |target_dir|, atomically: everything is copied into
 * a temporary sibling directory, re-checked against the manifest's CRCs,
 * synced, and renamed into place. |target_dir| must not exist or be an
 * empty directory (TV_E_STORE_BACKUP_TARGET otherwise); its parent must
 * exist. On failure nothing is left at |target_dir| that was not there
 * before, and |diag| (may be NULL) names the file at fault. */
tv_status tv_store_restore(const char *backup_dir, const char *target_dir, tv_store_diag *diag);

#endif
