#include "vault/service/metrics_reveals.h"

#include <assert.h>
#include <string.h>

static const char *const level_names[TV_REVEAL_LEVEL_COUNT] = {"FULL", "MASKED", "NONE"};
static const char other_name[] = "_other";

tv_status tv_reveal_counts_init(tv_reveal_counts *c) {
  TV_ENSURE(c != NULL, TV_E_INVALID_ARGUMENT);
  TV_ENSURE(pthread_mutex_init(&c->append_lock, NULL) == 0, TV_E_NO_MEMORY);
  atomic_init(&c->num, 0);
  memcpy(c->other.principal, other_name, sizeof other_name);
  return TV_OK;
}

void tv_reveal_counts_cleanup(tv_reveal_counts *c) {
  if (c != NULL) {
    pthread_mutex_destroy(&c->append_lock);
  }
}

static tv_reveal_slot *find(tv_reveal_counts *c, const char *principal, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(c->slots[i].principal, principal) == 0) {
      return &c->slots[i];
    }
  }
  return NULL;
}

/* The slot of |principal|, appended if new; "_other" once the table is
 * full (or for a name longer than a principal can be). */
static tv_reveal_slot *slot_of(tv_reveal_counts *c, const char *principal) {
  tv_reveal_slot *s = find(c, principal, atomic_load_explicit(&c->num, memory_order_acquire));
  if (s != NULL) {
    return s;
  }
  size_t len = strlen(principal);
  if (len > POLICY_PRINCIPAL_LEN_MAX) {
    return &c->other;
  }
  pthread_mutex_lock(&c->append_lock);
  size_t n = atomic_load_explicit(&c->num, memory_order_relaxed);
  s = find(c, principal, n); /* another thread may have appended it */
  if (s == NULL && n < TV_METRICS_PRINCIPALS_MAX) {
    s = &c->slots[n];
    memcpy(s->principal, principal, len + 1);
    atomic_store_explicit(&c->num, n + 1, memory_order_release); /* name visible before the slot */
  }
  pthread_mutex_unlock(&c->append_lock);
  return s != NULL ? s : &c->other;
}

static int level_of(const char *level) {
  for (int i = 0; i < TV_REVEAL_LEVEL_COUNT; i++) {
    if (level != NULL && strcmp(level, level_names[i]) == 0) {
      return i;
    }
  }
  return -1;
}

void tv_reveal_counts_add(tv_reveal_counts *c, const char *principal, const char *level, uint64_t count) {
  int l = level_of(level);
  if (c == NULL || principal == NULL || principal[0] == '\0' || l < 0) {
    return;
  }
  atomic_fetch_add_explicit(&slot_of(c, principal)->revealed[l], count, memory_order_relaxed);
}

void tv_reveal_counts_refused(tv_reveal_counts *c, const char *principal) {
  if (c != NULL && principal != NULL && principal[0] != '\0') {
    atomic_fetch_add_explicit(&slot_of(c, principal)->refused, 1, memory_order_relaxed);
  }
}

static void render_slot_revealed(const tv_reveal_slot *s, tv_metrics_text *out) {
  for (int l = 0; l < TV_REVEAL_LEVEL_COUNT; l++) {
    tv_metrics_text_printf(out, "tokenvault_reveals_total{principal=\"");
    tv_metrics_text_label(out, s->principal);
    tv_metrics_text_printf(out, "\",level=\"%s\"} %llu\n", level_names[l],
                           (unsigned long long)atomic_load_explicit(&s->revealed[l], memory_order_relaxed));
  }
}

static void render_slot_refused(const tv_reveal_slot *s, tv_metrics_text *out) {
  tv_metrics_text_printf(out, "tokenvault_reveals_refused_total{principal=\"");
  tv_metrics_text_label(out, s->principal);
  tv_metrics_text_printf(out, "\"} %llu\n", (unsigned long long)atomic_load_explicit(&s->refused, memory_order_relaxed));
}

void tv_reveal_counts_render(const tv_reveal_counts *c, tv_metrics_text *out) {
  assert(c != NULL && out != NULL);
  size_t n = atomic_load_explicit(&c->num, memory_order_acquire);
  tv_metrics_text_printf(out, "# HELP tokenvault_reveals_total Items answered by Detokenize calls, by principal and "
                              "reveal level (NONE: existence checks).\n# TYPE tokenvault_reveals_total counter\n");
  for (size_t i = 0; i < n; i++) {
    render_slot_revealed(&c->slots[i], out);
  }
  render_slot_revealed(&c->other, out);
  tv_metrics_text_printf(out, "# HELP tokenvault_reveals_refused_total Detokenize calls refused by the principal's "
                              "reveals_per_minute limit.\n# TYPE tokenvault_reveals_refused_total counter\n");
  for (size_t i = 0; i < n; i++) {
    render_slot_refused(&c->slots[i], out);
  }
  render_slot_refused(&c->other, out);
}
