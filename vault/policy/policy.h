/* Authorisation policy: who (principal) may do what (permission) where
 * (namespace), from which networks, how much.
 *
 * A principal is the identity the TLS handshake verified (SAN URI, SAN DNS
 * or CN, e.g. "spiffe://crm"). Principals have roles; a role grants
 * permissions per namespace and carries limits: items per request, values
 * revealed per minute, allowed client networks, and whether a full reveal
 * needs a reason.
 *
 * Life of a policy:
 *   policy_new, policy_add_role, policy_role_grant, policy_role_allow_network,
 *   policy_bind_principal   build it (single thread);
 *   policy_freeze           makes it immutable; from then on it is shared by
 *                           reference count and only read;
 *   policy_handle_swap      publishes it (a SIGHUP reload swaps a new one in);
 *   policy_handle_acquire / policy_release
 *                           what each call does around policy_check, so a
 *                           reload never frees a policy a check still reads.
 *
 * The reveal counters live in a policy_meter, not in the policy, so a
 * reload does not hand every caller a fresh minute of reveals. */
#ifndef TV_POLICY_POLICY_H
#define TV_POLICY_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "vault/util/status.h"

/* Bounds of one policy; each keeps the structures fixed-size and the
 * checks linear scans over small arrays. */
#define POLICY_NAME_LEN_MAX 64u         /* role and namespace names */
#define POLICY_PRINCIPAL_LEN_MAX 255u   /* = the server's TV_PRINCIPAL_BYTES_MAX */
#define POLICY_ROLES_MAX 64u
#define POLICY_GRANTS_MAX 128u          /* (namespace, permissions) rows per role */
#define POLICY_NETWORKS_MAX 32u         /* CIDRs per role */
#define POLICY_PRINCIPALS_MAX 1024u
#define POLICY_PRINCIPAL_ROLES_MAX 8u
/* Counters the meter keeps: every (principal, role) pair ever checked with
 * a reveal limit, across reloads. Twice the most one policy can have. */
#define POLICY_METER_SLOTS_MAX (2u * POLICY_PRINCIPALS_MAX * POLICY_PRINCIPAL_ROLES_MAX)

/* The namespace a grant uses to cover every namespace. Only key and audit
 * permissions may be granted on it: data access is always named. Calls
 * that concern no namespace (KEK rotation, audit) check against "*". */
#define POLICY_NAMESPACE_ANY "*"

typedef enum tv_permission {
  TV_PERM_TOKENIZE = 0,
  TV_PERM_DETOKENIZE_MASKED,
  TV_PERM_DETOKENIZE_FULL,
  TV_PERM_DELETE,
  TV_PERM_KEYS_READ,
  TV_PERM_KEYS_ROTATE,
  TV_PERM_KEYS_APPROVE,
  TV_PERM_AUDIT_READ,
  TV_PERM_COUNT
} tv_permission;

/* A reason must have at least this many characters once leading and
 * trailing white space is trimmed: "   " or "x" says nothing to an
 * auditor. Eight fits a ticket number ("INC-1234") or two words. */
#define POLICY_REASON_LEN_MIN 8u

/* new_tokens_per_kept_group's value when the config says nothing: each
 * namespace's default follows from its guessing space
 * (policy_group_limit_default). */
#define POLICY_GROUP_LIMIT_AUTO UINT64_MAX

/* Per-role limits. 0 in items_max, reveals_per_minute_max,
 * tokenize_per_minute_max or new_tokens_per_kept_group means "no limit
 * from the policy" (the server's own limits still apply). */
typedef struct policy_limits {
  uint32_t items_max;               /* items in one request */
  uint64_t reveals_per_minute_max;  /* masked + full values per principal */
  int require_reason;               /* full reveals must carry a reason */
  uint64_t tokenize_per_minute_max; /* values tokenized per principal */
  /* New tokens a principal may mint per kept-characters group (a PAN's
   * BIN + last 4, an IBAN's country + bank code) per UTC day, or
   * POLICY_GROUP_LIMIT_AUTO. Checked by the server per item with a
   * policy_group_meter, not by policy_check. */
  uint64_t new_tokens_per_kept_group;
} policy_limits;

typedef struct tv_policy tv_policy;

/* One authorisation question. |peer| is the gRPC peer string
 * ("ipv4:10.1.2.3:5555", "ipv6:[::1]:5555", or with %5B/%5D). |ns| NULL
 * or "" means the call concerns no namespace (checked against "*").
 * |items| is the number of items; for detokenize permissions each item
 * counts as one revealed value. |reason| may be NULL. */
typedef struct policy_request {
  const char *principal;
  const char *peer;
  tv_permission permission;
  const char *ns;
  uint64_t items;
  const char *reason;
} policy_request;

/* The answer. status TV_OK: allowed, |role| names the role whose grant
 * and limits applied (points into the policy: valid while the caller
 * holds its reference). Otherwise one of TV_E_POLICY_UNKNOWN_PRINCIPAL,
 * _DENIED, _NETWORK, _PEER (PERMISSION_DENIED); _TOO_MANY_ITEMS,
 * _RATE_LIMITED, _METER_FULL (RESOURCE_EXHAUSTED; _RATE_LIMITED also
 * deserves an alert entry in the audit log), _TOKENIZE_RATE_LIMITED
 * (tokenize_per_minute_max; RESOURCE_EXHAUSTED, alert);
 * _REASON_REQUIRED (FAILED_PRECONDITION: a full reveal under
 * require_reason without a reason of POLICY_REASON_LEN_MIN characters
 * after trimming). */
typedef struct policy_decision {
  tv_status status;
  const char *role;
  /* The role's limit behind a RESOURCE_EXHAUSTED refusal, for the alert
   * entry: items_max for _TOO_MANY_ITEMS, reveals_per_minute_max for
   * _RATE_LIMITED and _METER_FULL (the limit that could not be counted).
   * 0 otherwise. */
  uint64_t limit;
  /* TV_OK on a tokenize check: the deciding role's
   * new_tokens_per_kept_group (a value, valid after the policy is
   * released). 0 otherwise. */
  uint64_t new_tokens_per_kept_group;
} policy_decision;

/* policy_permission_name returns "tokenize", "detokenize:masked", ... or
 * "unknown". */
const char *policy_permission_name(tv_permission permission);

/* policy_permission_parse sets *out_permission for the |len| bytes of
 * |name|. TV_E_POLICY_CONFIG if it names no permission. */
tv_status policy_permission_parse(const char *name, size_t len, tv_permission *out_permission);

/* policy_new allocates an empty, unfrozen policy (reference count 1) into
 * *out_policy. TV_E_NO_MEMORY on failure. Release with policy_release. */
tv_status policy_new(tv_policy **out_policy);

/* policy_add_role adds role |name| with |limits|. TV_E_POLICY_CONFIG for a
 * bad or duplicate name, TV_E_POLICY_LIMIT past POLICY_ROLES_MAX,
 * TV_E_INVALID_ARGUMENT if the policy is frozen. */
tv_status policy_add_role(tv_policy *policy, const char *name, const policy_limits *limits);

/* policy_role_grant grants |permission| in namespace |ns| (or "*") to
 * role |role|. TV_E_POLICY_CONFIG for an unknown role, a bad namespace
 * name, or "*" with a data permission; TV_E_POLICY_LIMIT past
 * POLICY_GRANTS_MAX. Granting twice is harmless. */
tv_status policy_role_grant(tv_policy *policy, const char *role, const char *ns,
                            tv_permission permission);

/* policy_role_allow_network adds CIDR |cidr| ("10.0.0.0/8", "::1/128"; a
 * bare address means a single host) to |role|'s allowlist. A role without
 * networks accepts any peer. TV_E_POLICY_CONFIG for a malformed CIDR
 * (host bits set included) or unknown role, TV_E_POLICY_LIMIT past
 * POLICY_NETWORKS_MAX. */
tv_status policy_role_allow_network(tv_policy *policy, const char *role, const char *cidr);

/* policy_bind_principal gives |principal| role |role|. Roles are tried in
 * binding order. TV_E_POLICY_CONFIG for an unknown role, an empty or too
 * long principal, or one with control characters; TV_E_POLICY_LIMIT past
 * POLICY_PRINCIPALS_MAX / POLICY_PRINCIPAL_ROLES_MAX. */
tv_status policy_bind_principal(tv_policy *policy, const char *principal, const char *role);

/* policy_has_principal returns 1 if |principal| is bound to a role. */
int policy_has_principal(const tv_policy *policy, const char *principal);

/* policy_principal_roles stores in |out_names| (at most |out_max|) the
 * names of the roles bound to |principal|, in config order, and returns
 * how many; 0 for a principal the policy does not know. The names point
 * into |policy| and live as long as it does (roles_of.c). */
size_t policy_principal_roles(const tv_policy *policy, const char *principal,
                              const char **out_names, size_t out_max);

/* policy_freeze makes |policy| immutable; builders fail afterwards. */
void policy_freeze(tv_policy *policy);

/* policy_retain adds a reference to the frozen |policy| and returns it. */
const tv_policy *policy_retain(const tv_policy *policy);

/* policy_release drops one reference; the last one frees. Accepts NULL. */
void policy_release(const tv_policy *policy);

/* policy_role_count / policy_principal_count: sizes, for logs. */
size_t policy_role_count(const tv_policy *policy);
size_t policy_principal_count(const tv_policy *policy);

/* policy_clock_fn returns milliseconds of a monotonic clock. */
typedef uint64_t (*policy_clock_fn)(void *ctx);

typedef struct policy_meter policy_meter;

/* policy_meter_new allocates the reveal counters (all of them, once) into
 * *out_meter. |clock| NULL uses CLOCK_MONOTONIC; tests inject their own.
 * TV_E_NO_MEMORY on failure. Thread-safe once created. */
tv_status policy_meter_new(policy_clock_fn clock, void *clock_ctx, policy_meter **out_meter);

/* policy_meter_free frees |meter|; accepts NULL. */
void policy_meter_free(policy_meter *meter);

/* policy_check answers |request| under the frozen |policy| into *out.
 * Reveal limits are counted in |meter| (may be NULL only for a policy
 * whose roles have no reveal limit, else the check fails closed with
 * TV_E_POLICY_METER_FULL). A refused check consumes nothing. Returns
 * out->status. Thread-safe. */
tv_status policy_check(const tv_policy *policy, policy_meter *meter, const policy_request *request,
                       policy_decision *out);

/* ---- new tokens per kept-characters group ----------------------------
 *
 * What a brute force of a convergent namespace is made of: many NEW
 * tokens that all share the kept characters of the token under attack.
 * Honest bulk work spreads its new tokens over many groups. */

/* Guessing spaces at or above this narrow nothing worth a group limit
 * (see policy_group_limit_default). */
#define POLICY_GROUP_SPACE_MAX UINT64_C(1000000000)
/* The derived default is the space divided by this ... */
#define POLICY_GROUP_SPACE_DIVISOR 1000u
/* ... but never below this floor (bulk loads of skewed real data). */
#define POLICY_GROUP_LIMIT_FLOOR 100u
/* Counters of the group meter: POLICY_GROUP_METER_ROWS rows of
 * POLICY_GROUP_METER_WIDTH 32-bit counters (8 MiB, allocated once). */
#define POLICY_GROUP_METER_ROWS 2u
#define POLICY_GROUP_METER_WIDTH (1u << 20)

/* policy_group_limit_default returns the new-token limit per group per
 * day for a namespace whose guessing space is |candidates| values with
 * |kept_chars| characters kept: 0 (no group limit) if nothing is kept or
 * candidates >= POLICY_GROUP_SPACE_MAX, else
 * max(POLICY_GROUP_LIMIT_FLOOR, candidates / POLICY_GROUP_SPACE_DIVISOR). */
uint64_t policy_group_limit_default(uint64_t candidates, unsigned kept_chars);

/* policy_group_limit_effective resolves a role's |configured| value
 * (POLICY_GROUP_LIMIT_AUTO, 0 or a number) for a namespace: AUTO gives
 * the default above; 0 gives 0; a number applies to every namespace that
 * keeps characters (0 where nothing is kept: every token would share one
 * group). */
uint64_t policy_group_limit_effective(uint64_t configured, uint64_t candidates, unsigned kept_chars);

typedef struct policy_group_meter policy_group_meter;

/* policy_group_meter_new allocates the counters into *out_meter.
 * |unix_clock| (NULL: the real clock) gives unix milliseconds: the
 * counters start again at each UTC midnight. TV_E_NO_MEMORY on failure.
 * Thread-safe once created. */
tv_status policy_group_meter_new(policy_clock_fn unix_clock, void *clock_ctx,
                                 policy_group_meter **out_meter);

/* policy_group_meter_free frees |meter|; accepts NULL. */
void policy_group_meter_free(policy_group_meter *meter);

/* policy_group_meter_take counts one new token of (|principal|, |ns|,
 * the |group_len| bytes of |group|) today, unless |limit| are counted
 * already: then TV_E_POLICY_NEW_TOKEN_LIMIT and nothing is counted.
 * *out_day gets the day counted in, for policy_group_meter_give_back.
 * Counts are never lower than the truth (a count-min sketch: two keys
 * sharing counters are both stricter, never looser). */
tv_status policy_group_meter_take(policy_group_meter *meter, const char *principal, const char *ns,
                                  const char *group, size_t group_len, uint64_t limit,
                                  uint32_t *out_day);

/* policy_group_meter_give_back returns one take of the same key made on
 * |day| (the item did not mint a new token); a day that is over is left
 * alone. */
void policy_group_meter_give_back(policy_group_meter *meter, const char *principal, const char *ns,
                                  const char *group, size_t group_len, uint32_t day);

typedef struct policy_handle policy_handle;

/* policy_handle_new creates a handle publishing the frozen |policy| (the
 * handle takes over the caller's reference) into *out_handle. */
tv_status policy_handle_new(tv_policy *policy, policy_handle **out_handle);

/* policy_handle_free drops the handle's reference and frees it; accepts
 * NULL. Callers must have released what they acquired. */
void policy_handle_free(policy_handle *handle);

/* policy_handle_acquire returns the current policy with one more
 * reference: release it with policy_release when the call is done. */
const tv_policy *policy_handle_acquire(policy_handle *handle);

/* policy_handle_swap publishes the frozen |policy| (taking over the
 * caller's reference); checks already running keep the old one until
 * they release it. TV_E_INVALID_ARGUMENT if |policy| is not frozen. */
tv_status policy_handle_swap(policy_handle *handle, tv_policy *policy);

#endif
