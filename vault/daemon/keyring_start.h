/* keyring_start — may tokenvaultd create a keyring at start-up?
 *
 * A new keyring can never decrypt what an old one encrypted, and creating
 * one advances the HSM's keyring generation, after which the old keyring
 * is refused as a rollback. So a missing keyring is created only for a
 * vault that provably has nothing yet: --dev or --init, an empty store
 * (no record ever written) AND no keyring generation on the HSM. Anything
 * else refuses the start, saying what is missing and how to restore it,
 * and changes nothing. --init on a store that holds records is refused
 * too: that vault exists (a fleet node's --init on a database that has its
 * keyring simply joins). Pure: vault_open.c gathers the facts. */
#ifndef TV_DAEMON_KEYRING_START_H
#define TV_DAEMON_KEYRING_START_H

#include <stddef.h>
#include <stdint.h>

typedef enum tv_keyring_start_action {
  TV_KEYRING_START_OPEN = 1,   /* open the keyring that is there */
  TV_KEYRING_START_CREATE = 2, /* a new vault: create the keyring */
  TV_KEYRING_START_REFUSE = 3, /* stop; |why| says what and how to fix */
} tv_keyring_start_action;

typedef struct tv_keyring_start_facts {
  const char *data_dir;
  int keyring_exists;     /* <data_dir>/keyring is there */
  int dev;                /* --dev */
  int init;               /* --init */
  uint64_t store_records; /* put/re-put/delete records in the store */
  int hsm_has_generation; /* the HSM holds the keyring generation counter */
  uint64_t hsm_generation;
  /* A fleet node: the keyring is the row of table tv_keyring in the
   * store.postgres database (|keyring_exists|: the row is there;
   * |store_records|: tokens in tv_tokens, 0 or 1). --init on a database
   * that has its keyring joins it (it may also have migrated the schema). */
  int shared;
} tv_keyring_start_facts;

/* tv_keyring_start_decide returns what to do with the keyring; on
 * REFUSE |why| (|why_len| bytes) holds the sentence for the operator. */
tv_keyring_start_action tv_keyring_start_decide(const tv_keyring_start_facts *facts, char *why, size_t why_len);

#endif
