/* The new-tokens-per-kept-group limit of Tokenize calls: the adapter
 * between the engine's tv_tokenize_meter hook and the vault's
 * policy_group_meter, and the guessing space each namespace's default
 * limit follows from.
 *
 * Why: in a convergent namespace tokenize answers the existing token when
 * a candidate value hits, so a principal that may only tokenize can try
 * every value consistent with a token's kept characters (a 16-digit PAN
 * with 6+4 kept: 10^5 Luhn-valid middles) until one answers with that
 * token. Such a search mints many NEW tokens in ONE kept-characters
 * group; honest bulk work spreads its new tokens over many groups. */
#ifndef TV_SERVICE_TOKENIZE_METER_H
#define TV_SERVICE_TOKENIZE_METER_H

#include <stdatomic.h>
#include <stdint.h>

#include "vault/config/config.h"
#include "vault/engine/engine.h"
#include "vault/service/svc_call.h"

/* One Tokenize call's meter: lives in the call, used by the engine from
 * submit until |done|. */
typedef struct svc_tokenize_meter {
  tv_tokenize_meter hook; /* what the engine calls */
  svc_call *call;
  uint64_t configured; /* the role's new_tokens_per_kept_group */
  atomic_int alerted;  /* one alert entry per call */
} svc_tokenize_meter;

/* svc_group_limit returns the new-token limit per kept group per day in
 * namespace |ns| for a role's |configured| new_tokens_per_kept_group, 0
 * for none (policy_group_limit_effective over the namespace's guessing
 * space). */
uint64_t svc_group_limit(const config_namespace *ns, uint64_t configured);

/* svc_tokenize_meter_init prepares |m| for call |c| (its principal and
 * namespace) and returns the hook to put in the engine request, or NULL
 * if no value of the namespace can have a group limit for |configured|.
 * Each item's limit follows its own guessing space (an IBAN's country, a
 * PAN's length): policy_group_limit_effective per item. */
const tv_tokenize_meter *svc_tokenize_meter_init(svc_tokenize_meter *m, svc_call *c, uint64_t configured);

/* svc_log_guessing_spaces logs one `namespace_guessing_space` line per
 * namespace of |config|: the guessing space, how it was counted, the
 * kept characters and the default group limit (or why there is none). */
void svc_log_guessing_spaces(const tv_config *config);

#endif
