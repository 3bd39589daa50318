/* Whether a keyring may be created at start-up (see keyring_start.h). */
#include "vault/daemon/keyring_start.h"

#include <inttypes.h>
#include <stdio.h>

/* What to do instead, the same in every refusal. */
#define RESTORE_HINT                                                                                          \
  "put back the keyring from a backup (<data_dir>/backups/<time>/keyring, written by SIGUSR1 or `tokenvault " \
  "store backup`) as %s/keyring and start again; nothing was changed"

static tv_keyring_start_action missing_with_data(const tv_keyring_start_facts *f, char *why, size_t why_len) {
  snprintf(why, why_len,
           "%s/keyring is missing but the store holds %" PRIu64 " record(s): refusing to create a new keyring, "
           "which could never decrypt them; " RESTORE_HINT,
           f->data_dir, f->store_records, f->data_dir);
  return TV_KEYRING_START_REFUSE;
}

static tv_keyring_start_action missing_on_used_hsm(const tv_keyring_start_facts *f, char *why, size_t why_len) {
  snprintf(why, why_len,
           "%s/keyring is missing but the HSM holds keyring generation %" PRIu64 " of a vault made with it: "
           "refusing to create a new keyring (that would lock out the old one); " RESTORE_HINT
           " (a new, empty vault needs a new HSM token%s)",
           f->data_dir, f->hsm_generation, f->data_dir, f->dev ? ": with --dev, a new --data-dir" : "");
  return TV_KEYRING_START_REFUSE;
}

/* The fleet's keyring is a database row: restored with the database. */
#define SHARED_RESTORE_HINT                                                                                    \
  "restore the tv_keyring row from the database backup the tokens came from (pg_dump or a base backup) and " \
  "start again; nothing was changed"

static tv_keyring_start_action decide_shared(const tv_keyring_start_facts *f, char *why, size_t why_len) {
  if (f->keyring_exists) {
    return TV_KEYRING_START_OPEN;
  }
  if (f->store_records > 0) {
    snprintf(why, why_len,
             "the database (store.postgres) holds tokens but no keyring (table tv_keyring is empty): refusing to "
             "create a new keyring, which could never decrypt them; " SHARED_RESTORE_HINT);
  } else if (f->hsm_has_generation) {
    snprintf(why, why_len,
             "the database (store.postgres) has no keyring (table tv_keyring is empty) but the HSM holds keyring "
             "generation %" PRIu64 " of a vault made with it: refusing to create a new keyring (that would lock "
             "out the old one); " SHARED_RESTORE_HINT " (a new, empty vault needs a new HSM token)",
             f->hsm_generation);
  } else if (!f->dev && !f->init) {
    snprintf(why, why_len,
             "the database (store.postgres) has no keyring (table tv_keyring is empty): start the first node once "
             "with --init to create the vault; the other nodes join without it");
  } else {
    return TV_KEYRING_START_CREATE;
  }
  return TV_KEYRING_START_REFUSE;
}

tv_keyring_start_action tv_keyring_start_decide(const tv_keyring_start_facts *f, char *why, size_t why_len) {
  if (why_len > 0) {
    why[0] = '\0';
  }
  if (f->shared) {
    return decide_shared(f, why, why_len);
  }
  if (!f->keyring_exists && f->store_records > 0) {
    return missing_with_data(f, why, why_len);
  }
  if (!f->keyring_exists && f->hsm_has_generation) {
    return missing_on_used_hsm(f, why, why_len);
  }
  if (f->init && f->store_records > 0) {
    snprintf(why, why_len,
             "--init creates a new vault, but the store in %s already holds %" PRIu64
             " record(s): start without --init",
             f->data_dir, f->store_records);
    return TV_KEYRING_START_REFUSE;
  }
  if (f->keyring_exists) {
    return TV_KEYRING_START_OPEN;
  }
  if (!f->dev && !f->init) {
    snprintf(why, why_len, "no keyring in %s and the store is empty: start once with --init to create a new vault",
             f->data_dir);
    return TV_KEYRING_START_REFUSE;
  }
  return TV_KEYRING_START_CREATE;
}
