/* The PostgreSQL store backend's public helpers (the backend itself is
 * tv_store_backend_pg in vault/store/store.h).
 *
 * Several tokenvaultd nodes share one database: uniqueness of (namespace,
 * token) and, for convergent namespaces, of (namespace, fingerprint) comes
 * from the database's unique indexes, not from one process. */
#ifndef TV_STORE_PG_PG_STORE_H
#define TV_STORE_PG_PG_STORE_H

#include <stddef.h>

#include "vault/store/store.h"

/* The schema version this build creates and understands. */
#define TV_PG_SCHEMA_VERSION 1

/* tv_pg_conninfo_check parses |conninfo| (a libpq key=value string or a
 * postgresql:// URI) and refuses a password in it: secrets belong in a
 * password file (PGPASSFILE), never in configuration. TV_OK,
 * TV_E_STORE_CONNINFO (malformed; |why| gets libpq's reason) or
 * TV_E_STORE_CONNINFO_PASSWORD. |why| may be NULL. */
tv_status tv_pg_conninfo_check(const char *conninfo, char *why, size_t why_len);

/* tv_pg_schema_init creates the schema in the database at |conninfo|, or
 * migrates an older one to TV_PG_SCHEMA_VERSION, in one transaction under
 * an advisory lock (two nodes started with --init at once are safe). A
 * newer schema is refused (TV_E_STORE_SCHEMA_NEWER). |diag| (may be NULL)
 * gets a one-line explanation on failure. */
tv_status tv_pg_schema_init(const char *conninfo, tv_store_diag *diag);

#endif
