/* Pieces shared by snapshot and restore: copying a file with its CRC32C,
 * the MANIFEST format, checking a copied segment record by record, and
 * preparing an empty destination directory. Not a public header. */
#ifndef TV_STORE_BACKUP_IO_H
#define TV_STORE_BACKUP_IO_H

#include <stddef.h>
#include <stdint.h>

#include "vault/store/store.h"

#define TV_BACKUP_MANIFEST_NAME "MANIFEST"
#define TV_BACKUP_NAME_LEN_MAX 64u
/* A manifest line is at most ~100 bytes; this bounds a hostile file. */
#define TV_BACKUP_MANIFEST_BYTES_MAX (64u << 20)

typedef struct tv_backup_file {
  char name[TV_BACKUP_NAME_LEN_MAX];
  uint64_t size;
  uint32_t crc;
  int is_segment;
  uint32_t seg_id;
} tv_backup_file;

typedef struct tv_backup_manifest {
  uint64_t last_seq;
  uint64_t records;
  tv_backup_file *files; /* segments in id order, then extra files */
  size_t num_files;
  size_t cap_files;
} tv_backup_manifest;

/* tv_backup_add_file appends an entry (copying |name|) to |m|. */
tv_status tv_backup_add_file(tv_backup_manifest *m, const char *name, uint64_t size, uint32_t crc);

/* tv_backup_manifest_free releases |m|'s list; |m| may be reused. */
void tv_backup_manifest_free(tv_backup_manifest *m);

/* tv_backup_name_ok returns 1 if |name| is a plain file name that may
 * appear in a backup (no '/', not "." / "..", not MANIFEST or LOCK). */
int tv_backup_name_ok(const char *name);

/* tv_backup_copy copies |len| bytes of |src_fd| from offset 0 (or, with
 * |len| UINT64_MAX, up to end of file) into a new file |name| in
 * |dst_dir_fd|, fsyncs it, and returns its size and CRC32C. */
tv_status tv_backup_copy(int src_fd, uint64_t len, int dst_dir_fd, const char *name, uint64_t *out_len,
                         uint32_t *out_crc);

/* tv_backup_file_crc computes the size and CRC32C of |name| in |dir_fd|.
 * TV_E_STORE_LAYOUT if it does not exist. */
tv_status tv_backup_file_crc(int dir_fd, const char *name, uint64_t *out_len, uint32_t *out_crc);

/* tv_backup_manifest_write writes |m| as MANIFEST in |dir_fd| (temporary
 * name, fsync, rename, fsync of the directory). */
tv_status tv_backup_manifest_write(int dir_fd, const tv_backup_manifest *m);

/* tv_backup_manifest_encode renders |m| as the MANIFEST text, "end" line
 * included (malloc'd into |*out|, |*out_len| bytes plus a NUL). */
tv_status tv_backup_manifest_encode(const tv_backup_manifest *m, char **out, size_t *out_len);

/* tv_backup_manifest_parse parses MANIFEST text from memory (what
 * tv_backup_manifest_read does after reading the file): TV_E_STORE_CORRUPT
 * unless the CRC checks out and every line is exactly as the writer
 * produces it; |m| is left empty then. */
tv_status tv_backup_manifest_parse(const char *text, size_t len, tv_backup_manifest *m);

/* tv_backup_manifest_read reads and checks MANIFEST in |dir_fd| (|dir| is
 * for messages). TV_E_STORE_LAYOUT if missing, TV_E_STORE_CORRUPT if its
 * CRC or syntax is wrong; |diag| says which. */
tv_status tv_backup_manifest_read(int dir_fd, const char *dir, tv_backup_manifest *m, tv_store_diag *diag);

/* tv_backup_check_segment walks every record of segment file |name|
 * (id |id|) in |dir_fd|: each must decode, the first must be the
 * segment's own header, sequence numbers must follow |*io_last_seq| and
 * increase, and the file must end exactly at the last record. Updates
 * |*io_last_seq| and adds put/re-put/delete records to |*io_records|. */
tv_status tv_backup_check_segment(int dir_fd, const char *dir, const char *name, uint32_t id,
                                  uint64_t *io_last_seq, uint64_t *io_records, tv_store_diag *diag);

/* tv_backup_open_empty_dir creates |dir| if missing and opens it; it must
 * be empty (TV_E_STORE_BACKUP_TARGET otherwise). */
tv_status tv_backup_open_empty_dir(const char *dir, int *out_fd);

/* tv_backup_diag fills |diag| with |dir|/|name|, |off| and |msg|. */
void tv_backup_diag(tv_store_diag *diag, const char *dir, const char *name, uint64_t off, const char *msg);

#endif
