/* Online backups on request (SIGUSR1): a snapshot of the running store
 * and the keyring into <data_dir>/backups/<UTC time>/, taken while calls
 * go on (tv_store_snapshot: everything acknowledged before it started).
 *
 * The snapshot reads and fsyncs the whole store, so it runs on a thread
 * of its own: never on the signal-waiting main thread (a SIGTERM must
 * still be seen) nor on a gRPC poller. One at a time: a request while a
 * backup runs is logged and ignored. Each backup logs its outcome and
 * writes an audit line (method "Backup", principal "operator:SIGUSR1"). */
#ifndef TV_DAEMON_BACKUP_WORKER_H
#define TV_DAEMON_BACKUP_WORKER_H

#include "vault/daemon/vault_open.h"
#include "vault/util/status.h"

#define TV_BACKUP_PRINCIPAL "operator:SIGUSR1"

typedef struct tv_backup_worker tv_backup_worker;

/* tv_backup_worker_start starts an idle worker for |vault| (borrowed; its
 * store, keyring and audit log must stay open until
 * tv_backup_worker_free) writing under |data_dir| (copied). Returns TV_OK
 * and the worker in |*out|, TV_E_INVALID_ARGUMENT if |data_dir| is too
 * long, TV_E_NO_MEMORY or TV_E_INTERNAL. */
tv_status tv_backup_worker_start(tv_backup_worker **out, tv_vault *vault, const char *data_dir);

/* tv_backup_worker_request asks for one backup now; returns at once. Does
 * nothing but log if one is running (NULL |w| is accepted). */
void tv_backup_worker_request(tv_backup_worker *w);

/* tv_backup_worker_free waits for a running backup, stops the thread and
 * frees |w| (NULL is accepted). */
void tv_backup_worker_free(tv_backup_worker *w);

#endif
