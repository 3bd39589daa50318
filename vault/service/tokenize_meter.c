/* See tokenize_meter.h. */
#include "vault/service/tokenize_meter.h"

#include <stdio.h>

#include "vault/format/format.h"
#include "vault/policy/policy.h"
#include "vault/service/authz.h"
#include "vault/service/log.h"

uint64_t svc_group_limit(const config_namespace *ns, uint64_t configured) {
  format_guess_space g;
  if (ns == NULL || format_guess_space_of(&ns->format, &g) != TV_OK) {
    return 0; /* not reached: the namespace's format passed validation at load */
  }
  return policy_group_limit_effective(configured, g.candidates, g.kept_chars);
}

/* A ticket for an item that had no limit: nothing to give back. */
#define TICKET_UNCOUNTED UINT32_MAX

static tv_status meter_take(void *ctx, const char *kept, size_t kept_len, uint64_t candidates,
                            uint32_t *out_ticket) {
  svc_tokenize_meter *m = ctx;
  svc_call *c = m->call;
  uint64_t limit = policy_group_limit_effective(m->configured, candidates, (unsigned)kept_len);
  if (limit == 0) {
    *out_ticket = TICKET_UNCOUNTED; /* this value's space narrows nothing */
    return TV_OK;
  }
  tv_status st = policy_group_meter_take(c->vault->group_meter, c->principal, c->ns, kept, kept_len, limit,
                                         out_ticket);
  if (st != TV_OK && atomic_exchange(&m->alerted, 1) == 0) {
    /* Runs on the submitting thread before the call's own entry is
     * queued (that happens once every item is final). */
    svc_alert(c, "new_token_limit_exceeded", st, NULL, limit);
  }
  return st;
}

static void meter_give_back(void *ctx, const char *kept, size_t kept_len, uint32_t ticket) {
  svc_tokenize_meter *m = ctx;
  if (ticket != TICKET_UNCOUNTED) {
    policy_group_meter_give_back(m->call->vault->group_meter, m->call->principal, m->call->ns, kept, kept_len,
                                 ticket);
  }
}

const tv_tokenize_meter *svc_tokenize_meter_init(svc_tokenize_meter *m, svc_call *c, uint64_t configured) {
  if (c->vault->group_meter == NULL || c->principal == NULL || c->ns == NULL) {
    return NULL;
  }
  /* The namespace's smallest space decides whether any value can be
   * limited; each item then gets its own limit in meter_take. */
  if (svc_group_limit(config_find_namespace(c->vault->config, c->ns), configured) == 0) {
    return NULL;
  }
  m->call = c;
  m->configured = configured;
  atomic_store(&m->alerted, 0);
  m->hook = (tv_tokenize_meter){.take = meter_take, .give_back = meter_give_back, .ctx = m};
  return &m->hook;
}

static void log_space(const config_namespace *ns) {
  format_guess_space g;
  if (format_guess_space_of(&ns->format, &g) != TV_OK) {
    return;
  }
  char candidates[24];
  snprintf(candidates, sizeof candidates, "%llu", (unsigned long long)g.candidates);
  uint64_t limit = policy_group_limit_default(g.candidates, g.kept_chars);
  tv_log_line line;
  tv_log_begin(&line, "info", "namespace_guessing_space");
  tv_log_str(&line, "namespace", ns->name);
  tv_log_str(&line, "format", format_kind_name(ns->format.kind));
  tv_log_str(&line, "candidates", g.candidates == UINT64_MAX ? "more than 2^64" : candidates);
  tv_log_str(&line, "counted", g.why);
  tv_log_int(&line, "kept_chars", (int64_t)g.kept_chars);
  tv_log_str(&line, "convergent", ns->convergent ? "true" : "false");
  if (limit > 0) {
    tv_log_int(&line, "new_tokens_per_kept_group_default", (int64_t)limit);
  } else {
    tv_log_str(&line, "new_tokens_per_kept_group_default",
               g.kept_chars == 0 ? "none (nothing kept)" : "none (space of 10^9 or more)");
  }
  tv_log_end(&line);
}

void svc_log_guessing_spaces(const tv_config *config) {
  for (size_t i = 0; config != NULL && i < config->namespaces_len; i++) {
    log_space(&config->namespaces[i]);
  }
}
