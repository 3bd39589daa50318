/* `tokenvault store`: offline operations on a vault's data directory —
 * backup, verify a backup, restore it, repair a damaged log.
 *
 * Layout (vault/daemon/vault_open.h): <data-dir>/keyring and
 * <data-dir>/store/. A backup holds the store's segments, a copy of the
 * keyring and a MANIFEST written last (vault/store/backup.h). The keyring
 * is only ever wrapped under the HSM's KEK: a backup is useless without
 * that HSM, and the HSM's rollback counter refuses a keyring older than
 * the last key change — so back up after every rotation.
 *
 * These commands open the store themselves: tokenvaultd must be stopped
 * (the store's lock says so otherwise). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/c/cli/cmd_store.h"

#include "client/c/cli/cli_exit.h"
#include "vault/store/backup.h"
#include "vault/store/repair.h"
#include "vault/store/segment.h"
#include "vault/store/store.h"

#define STORE_PATH_MAX 4096

static const char store_usage[] =
    "usage: tokenvault store backup --data-dir DIR DEST\n"
    "       tokenvault store verify-backup BACKUP\n"
    "       tokenvault store restore BACKUP --data-dir NEWDIR\n"
    "       tokenvault store repair --data-dir DIR\n"
    "       tokenvault store verify [connection options] [NAMESPACE]\n"
    "\n"
    "Offline operations on a vault's data directory (stop tokenvaultd first).\n"
    "  backup         copy DIR/store and DIR/keyring into DEST (new or empty):\n"
    "                 every record re-checked, MANIFEST with sizes and CRC32C last\n"
    "  verify-backup  check a backup: manifest, every file's size and CRC, every record\n"
    "  restore        verify BACKUP and install it as NEWDIR/store and NEWDIR/keyring\n"
    "                 (NEWDIR/store must not exist or be empty; installed atomically)\n"
    "  repair         rewrite damaged segments of DIR/store with every intact record,\n"
    "                 keep the originals as *.damaged-<ms>, report what was lost\n"
    "\n"
    "The keyring is wrapped under the HSM's KEK: restoring needs the same HSM, and\n"
    "the HSM refuses a keyring older than the last key change (back up after each\n"
    "rotation). The audit log is not part of a store backup: copy its directory.\n"
    "store verify asks a running vault (either backend) to check every stored value\n"
    "(see tokenvault store verify --help).\n"
    "Exit status: 0 ok, 1 failed (or data lost by repair), 2 bad usage.\n";

static int store_usage_error(FILE *err, const char *what) {
  fprintf(err, "tokenvault store: %s (try tokenvault store --help)\n", what);
  return CLI_EXIT_USAGE;
}

static int join_path(char *out, const char *dir, const char *name) {
  int n = snprintf(out, STORE_PATH_MAX, "%s/%s", dir, name);
  return n > 0 && n < STORE_PATH_MAX;
}

static int store_failed(FILE *err, const char *what, tv_status status, const tv_store_diag *diag) {
  fprintf(err, "tokenvault store: %s: %s [%s]", what, tv_status_message(status), tv_status_name(status));
  if (diag != NULL && diag->path[0] != '\0' && diag->io_failure) {
    fprintf(err, " at %s", diag->path);
  } else if (diag != NULL && diag->path[0] != '\0') {
    fprintf(err, " at %s offset %llu", diag->path, (unsigned long long)diag->offset);
  }
  if (diag != NULL && diag->message[0] != '\0') {
    fprintf(err, ": %s", diag->message);
  }
  fputc('\n', err);
  if (tv_store_io_error()[0] != '\0' && (diag == NULL || !diag->io_failure)) { /* the call and errno behind the status */
    fprintf(err, "tokenvault store: %s\n", tv_store_io_error());
  }
  if (status == TV_E_STORE_LOCKED) {
    fputs("tokenvault store: the store is open in another process: stop tokenvaultd first\n", err);
  }
  return CLI_EXIT_FAILURE;
}

/* Options: --data-dir DIR and up to one positional argument. */
typedef struct store_args {
  const char *data_dir;
  const char *positional;
  int help;
} store_args;

static int parse_store_args(store_args *a, int argc, char **argv, FILE *err) {
  memset(a, 0, sizeof *a);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      a->help = 1;
    } else if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc) {
      a->data_dir = argv[++i];
    } else if (argv[i][0] == '-' || a->positional != NULL) {
      return store_usage_error(err, "unexpected argument or missing value");
    } else {
      a->positional = argv[i];
    }
  }
  return 0;
}

static void print_info(FILE *out, const char *what, const char *dir, const tv_store_snapshot_info *info) {
  fprintf(out, "%s: %s\n  records %llu, last sequence number %llu\n  %u segment(s), %u other file(s), %llu bytes\n",
          what, dir, (unsigned long long)info->records, (unsigned long long)info->last_seq, info->segments,
          info->extra_files, (unsigned long long)info->bytes);
}

static int store_backup(const store_args *a, FILE *out, FILE *err) {
  char store_dir[STORE_PATH_MAX], keyring[STORE_PATH_MAX];
  if (a->data_dir == NULL || a->positional == NULL) {
    return store_usage_error(err, "backup needs --data-dir DIR and DEST");
  }
  if (!join_path(store_dir, a->data_dir, "store") || !join_path(keyring, a->data_dir, "keyring")) {
    return store_usage_error(err, "--data-dir is too long");
  }
  if (access(keyring, R_OK) != 0) {
    fprintf(err, "tokenvault store: %s: %s (a backup without its keyring cannot be read)\n", keyring,
            strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  tv_store_options options = {.dir = store_dir};
  tv_store_diag diag = {0};
  tv_store *store = NULL;
  tv_store_io_error_clear();
  tv_status st = tv_store_open(NULL, &options, &store, &diag);
  if (st != TV_OK) {
    return store_failed(err, "opening the store", st, &diag);
  }
  const char *extra[] = {keyring};
  tv_store_snapshot_info info = {0};
  tv_store_io_error_clear();
  st = tv_store_snapshot(store, a->positional, extra, 1, &info);
  tv_store_close(store);
  if (st != TV_OK) {
    return store_failed(err, "backup", st, &info.diag);
  }
  print_info(out, "backup written", a->positional, &info);
  return CLI_EXIT_OK;
}

static int store_verify(const store_args *a, FILE *out, FILE *err) {
  if (a->positional == NULL || a->data_dir != NULL) {
    return store_usage_error(err, "verify-backup needs BACKUP only");
  }
  tv_store_snapshot_info info = {0};
  tv_store_diag diag = {0};
  tv_status st = tv_store_verify_backup(a->positional, &info, &diag);
  if (st != TV_OK) {
    return store_failed(err, "backup NOT intact", st, &diag);
  }
  print_info(out, "backup intact", a->positional, &info);
  return CLI_EXIT_OK;
}

/* The keyring comes out of the restore inside the store directory (it is
 * one of the backup's extra files); the vault keeps it beside the store. */
static int move_keyring(const char *data_dir, const char *store_dir, FILE *err) {
  char from[STORE_PATH_MAX], to[STORE_PATH_MAX];
  if (!join_path(from, store_dir, "keyring") || !join_path(to, data_dir, "keyring")) {
    return store_usage_error(err, "--data-dir is too long");
  }
  struct stat st;
  if (lstat(to, &st) == 0) {
    fprintf(err, "tokenvault store: %s already exists: restore into a new data directory\n", to);
    return CLI_EXIT_FAILURE;
  }
  if (rename(from, to) != 0) {
    fprintf(err, "tokenvault store: moving the keyring to %s: %s\n", to, strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  return CLI_EXIT_OK;
}

static int store_restore(const store_args *a, FILE *out, FILE *err) {
  char store_dir[STORE_PATH_MAX];
  if (a->data_dir == NULL || a->positional == NULL) {
    return store_usage_error(err, "restore needs BACKUP and --data-dir NEWDIR");
  }
  if (!join_path(store_dir, a->data_dir, "store")) {
    return store_usage_error(err, "--data-dir is too long");
  }
  if (mkdir(a->data_dir, 0700) != 0 && errno != EEXIST) {
    fprintf(err, "tokenvault store: creating %s: %s\n", a->data_dir, strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  tv_store_diag diag = {0};
  tv_status st = tv_store_restore(a->positional, store_dir, &diag);
  if (st != TV_OK) {
    return store_failed(err, "restore", st, &diag);
  }
  int rc = move_keyring(a->data_dir, store_dir, err);
  if (rc == CLI_EXIT_OK) {
    fprintf(out, "restored: %s (store/ and keyring); start tokenvaultd with --data-dir %s and the same HSM\n",
            a->data_dir, a->data_dir);
  }
  return rc;
}

static void print_repair(FILE *out, const tv_store_repair_report *r) {
  fprintf(out, "repair: %u segment(s) checked, %u rewritten; %llu record(s) kept, %llu lost (%llu bytes)\n",
          r->segments_checked, r->segments_rewritten, (unsigned long long)r->records_kept,
          (unsigned long long)r->records_lost, (unsigned long long)r->bytes_lost);
  for (size_t i = 0; i < r->num_ranges; i++) {
    const tv_store_lost_range *l = &r->ranges[i];
    fprintf(out, "  lost: sequence numbers %llu..%llu in segment %u at offset %llu (%llu bytes)\n",
            (unsigned long long)l->first_seq, (unsigned long long)l->last_seq, l->segment_id,
            (unsigned long long)l->offset, (unsigned long long)l->bytes);
  }
  if (r->ranges_total > r->num_ranges) {
    fprintf(out, "  ... and %zu more range(s)\n", r->ranges_total - r->num_ranges);
  }
  if (r->first_moved[0] != '\0') {
    fprintf(out, "  damaged original kept as %s\n", r->first_moved);
  }
  if (r->torn_bytes > 0) {
    fprintf(out, "  torn tail of %llu byte(s) (never acknowledged) left for the next open to cut\n",
            (unsigned long long)r->torn_bytes);
  }
}

static int store_repair_cmd(const store_args *a, FILE *out, FILE *err) {
  char store_dir[STORE_PATH_MAX];
  if (a->data_dir == NULL || a->positional != NULL) {
    return store_usage_error(err, "repair needs --data-dir DIR only");
  }
  if (!join_path(store_dir, a->data_dir, "store")) {
    return store_usage_error(err, "--data-dir is too long");
  }
  static tv_store_repair_report report; /* large; the CLI runs one command */
  memset(&report, 0, sizeof report);
  tv_status st = tv_store_repair(store_dir, &report);
  if (st != TV_OK) {
    return store_failed(err, "repair", st, NULL);
  }
  print_repair(out, &report);
  return report.records_lost > 0 ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

int store_cmd_main(int argc, char **argv, FILE *in, FILE *out, FILE *err) {
  (void)in;
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    fputs(store_usage, argc < 2 ? err : out);
    return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
  }
  store_args a;
  int rc = parse_store_args(&a, argc - 1, argv + 1, err);
  if (rc != 0 || a.help) {
    if (a.help) {
      fputs(store_usage, out);
    }
    return rc;
  }
  const char *sub = argv[1];
  if (strcmp(sub, "backup") == 0) return store_backup(&a, out, err);
  if (strcmp(sub, "verify-backup") == 0) return store_verify(&a, out, err);
  if (strcmp(sub, "restore") == 0) return store_restore(&a, out, err);
  if (strcmp(sub, "repair") == 0) return store_repair_cmd(&a, out, err);
  return store_usage_error(err, "unknown subcommand (backup, verify-backup, restore, repair)");
}
