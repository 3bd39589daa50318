/* What became of the items of one data call, for its audit line: how many
 * were answered OK and how many failed, by reason class.
 *
 * The classes are few and stable so a log query can count them across
 * releases whatever new status codes appear:
 *
 *   not_found    no such token (ENGINE_NOT_FOUND, STORE_NOT_FOUND)
 *   deleted      the token was deleted or its value erased
 *   expired      the token's expiry has passed
 *   invalid      the item or request is malformed (FORMAT_*, INVALID_ARGUMENT,
 *                metadata too large, bad expiry, batch too large, FF1 input)
 *   policy       the policy refused the call (POLICY_*)
 *   namespace    no such namespace
 *   key          a key problem (KEYRING_*, HSM_*, ENGINE_DECRYPT)
 *   error        anything else (I/O, store, server, internal)
 *
 * A call refused as a whole (policy, namespace, ...) counts all its items
 * as failed with that class. */
#ifndef TV_SERVICE_ITEM_OUTCOME_H
#define TV_SERVICE_ITEM_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

typedef enum tv_item_class {
  TV_ITEM_NOT_FOUND,
  TV_ITEM_DELETED,
  TV_ITEM_EXPIRED,
  TV_ITEM_INVALID,
  TV_ITEM_POLICY,
  TV_ITEM_NAMESPACE,
  TV_ITEM_KEY,
  TV_ITEM_ERROR,
  TV_ITEM_CLASS_COUNT,
} tv_item_class;

/* Longest "class:count,..." text: every class (names of at most 9
 * characters) with a 20-digit count; fits an audit text field (256). */
#define TV_ITEM_OUTCOME_TEXT_MAX (TV_ITEM_CLASS_COUNT * (9 + 1 + 20 + 1) + 1)

typedef struct tv_item_outcome {
  uint64_t ok;
  uint64_t failed[TV_ITEM_CLASS_COUNT];
} tv_item_outcome;

/* tv_item_class_of returns the class of a failed item's |status| (not TV_OK). */
tv_item_class tv_item_class_of(tv_status status);

/* tv_item_class_name returns the class's name as above ("not_found"). */
const char *tv_item_class_name(tv_item_class cls);

/* tv_item_outcome_add counts one item answered with |status|. */
void tv_item_outcome_add(tv_item_outcome *o, tv_status status);

/* A batch whose every item failed with one store fault (the database
 * unavailable, STORE_UNAVAILABLE, or too slow, STORE_TIMEOUT) answered
 * nothing and stored nothing: the call then fails as a whole with that
 * status (UNAVAILABLE / DEADLINE_EXCEEDED), which a client or load
 * balancer retries on another node, rather than OK with every item
 * failed. Zero-initialise, add every item's status, then ask. */
typedef struct tv_item_fault {
  tv_status status; /* the fault all items so far had */
  size_t items;
  int mixed; /* an item was OK or failed otherwise */
} tv_item_fault;

void tv_item_fault_add(tv_item_fault *f, tv_status status);

/* tv_item_fault_whole returns the store fault the whole batch failed
 * with, or TV_OK if none (no items, or any other outcome among them). */
tv_status tv_item_fault_whole(const tv_item_fault *f);

/* tv_item_outcome_format writes the failed counts as "class:count,..." in
 * the order of tv_item_class, classes with no item left out ("" if none
 * failed), into |out| (|out_max| >= TV_ITEM_OUTCOME_TEXT_MAX). */
void tv_item_outcome_format(char *out, size_t out_max, const tv_item_outcome *o);

#endif
