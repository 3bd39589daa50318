#include "vault/daemon/metrics_vault.h"

#include <assert.h>
#include <string.h>
#include <sys/statvfs.h>

#include "vault/daemon/metrics_db.h"
#include "vault/daemon/metrics_latency.h"
#include "vault/service/readiness.h"
#include "vault/service/rotation_worker.h"

static void render_counter(tv_metrics_text *out, const char *name, const char *help, uint64_t value) {
  tv_metrics_text_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
                         (unsigned long long)value);
}

static void render_gauge(tv_metrics_text *out, const char *name, const char *help, uint64_t value) {
  tv_metrics_text_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
                         (unsigned long long)value);
}

/* Every store write waits on one of these: a durable batch's linked
 * write + fdatasync, timed from submission to completion of both. */
static void render_store_fsync(const tv_store_stats *st, tv_metrics_text *out) {
  tv_metrics_latency l = {"tokenvault_store_fsync", "Store batch write+fdatasync latency.",
                     "Slowest store write+fdatasync since start.", st->fsync_buckets, st->fsync_us_sum,
                     st->fsync_us_max};
  tv_metrics_render_latency(&l, out);
}

/* Group-commit size is records / batches over any interval (rate() of both
 * counters): one fdatasync per batch, so it is also records per fsync. */
static void render_store(tv_store *store, tv_metrics_text *out) {
  tv_store_stats st;
  tv_store_get_stats(store, &st);
  render_counter(out, "tokenvault_store_batches_total", "Write batches made durable (one fdatasync each).",
                 st.batches);
  render_counter(out, "tokenvault_store_records_total", "Records made durable; / batches = group-commit size.",
                 st.records);
  render_counter(out, "tokenvault_store_bytes_total", "Bytes written in durable batches.", st.bytes);
  render_counter(out, "tokenvault_store_failed_batches_total", "Write batches that failed.", st.failed_batches);
  render_counter(out, "tokenvault_store_checkpoints_total", "Index checkpoints written.", st.checkpoints_written);
  render_gauge(out, "tokenvault_store_recovered_records", "Records replayed from the log at open.",
               st.recovered_records);
  render_gauge(out, "tokenvault_store_index_tokens", "Live tokens in the index.", st.index.tokens);
  render_gauge(out, "tokenvault_store_index_fingerprints", "Fingerprints in the index.", st.index.fingerprints);
  render_gauge(out, "tokenvault_store_index_bytes", "Memory held by the index tables.", st.index.bytes);
  render_store_fsync(&st, out);
}

/* The audit fdatasync is on every data call's path (a call is answered
 * only once its audit line is durable), so its latency is the floor of
 * every call's. */
static void render_audit_fsync(const tv_audit_stats *st, tv_metrics_text *out) {
  tv_metrics_latency l = {"tokenvault_audit_fsync", "Audit log fdatasync latency.",
                     "Slowest audit fdatasync since start.", st->sync_buckets, st->sync_us_sum, st->sync_us_max};
  tv_metrics_render_latency(&l, out);
}

static void render_audit(tv_audit_log *audit, tv_metrics_text *out) {
  tv_audit_stats st;
  tv_audit_stats_get(audit, &st);
  render_counter(out, "tokenvault_audit_entries_total", "Audit entries acknowledged durable.", st.entries);
  render_counter(out, "tokenvault_audit_syncs_total", "Audit fdatasyncs; entries / syncs = group-commit size.",
                 st.syncs);
  render_counter(out, "tokenvault_audit_checkpoints_total", "HSM-MACed audit checkpoints written.",
                 st.checkpoints);
  render_counter(out, "tokenvault_audit_failures_total", "Audit batches that failed (data calls refused).",
                 st.failures);
  render_gauge(out, "tokenvault_audit_segment", "Current audit segment number.", st.segment);
  render_audit_fsync(&st, out);
}

/* One namespace's value keys, summarised. */
typedef struct ns_keys {
  int known;
  uint64_t by_state[TV_KEY_DESTROYED + 1];
  uint32_t active;
} ns_keys;

static void collect_keys(tv_keyring *keyring, const char *ns, ns_keys *out) {
  tv_keyring_version_info infos[TV_METRICS_KEY_VERSIONS_MAX];
  size_t count = 0;
  memset(out, 0, sizeof *out);
  if (tv_keyring_list_versions(keyring, infos, &count, TV_METRICS_KEY_VERSIONS_MAX, ns) != TV_OK) {
    return; /* a namespace without keys yet: nothing to report */
  }
  out->known = 1;
  size_t listed = count < TV_METRICS_KEY_VERSIONS_MAX ? count : TV_METRICS_KEY_VERSIONS_MAX;
  for (size_t i = 0; i < listed; i++) {
    if (infos[i].state >= TV_KEY_ACTIVE && infos[i].state <= TV_KEY_DESTROYED) {
      out->by_state[infos[i].state]++;
    }
    if (infos[i].state == TV_KEY_ACTIVE) {
      out->active = infos[i].version;
    }
  }
}

static void ns_label(tv_metrics_text *out, const char *metric, const char *ns) {
  tv_metrics_text_printf(out, "%s{namespace=\"", metric);
  tv_metrics_text_label(out, ns);
  tv_metrics_text_printf(out, "\"");
}

/* Versions by state per namespace: decrypt-only versions are rotations
 * whose re-encryption has not finished (the rotation progress an operator
 * waits on); the active one is what new values are encrypted under. Each
 * family's samples are one group, as the exposition format requires. */
static void render_keys(tv_keyring *keyring, const tv_config *config, tv_metrics_text *out) {
  ns_keys keys[TV_METRICS_NAMESPACES_MAX];
  size_t n = config->namespaces_len < TV_METRICS_NAMESPACES_MAX ? config->namespaces_len : TV_METRICS_NAMESPACES_MAX;
  for (size_t i = 0; i < n; i++) {
    collect_keys(keyring, config->namespaces[i].name, &keys[i]);
  }
  tv_metrics_text_printf(out, "# HELP tokenvault_key_versions Value key versions by state; decrypt-only ones await "
                              "re-encryption.\n# TYPE tokenvault_key_versions gauge\n");
  for (size_t i = 0; i < n; i++) {
    for (int s = TV_KEY_ACTIVE; keys[i].known && s <= TV_KEY_DESTROYED; s++) {
      ns_label(out, "tokenvault_key_versions", config->namespaces[i].name);
      tv_metrics_text_printf(out, ",state=\"%s\"} %llu\n", tv_key_state_name((tv_key_state)s),
                             (unsigned long long)keys[i].by_state[s]);
    }
  }
  tv_metrics_text_printf(out, "# HELP tokenvault_key_active_version The value key version new values use.\n"
                              "# TYPE tokenvault_key_active_version gauge\n");
  for (size_t i = 0; i < n; i++) {
    if (keys[i].known) {
      ns_label(out, "tokenvault_key_active_version", config->namespaces[i].name);
      tv_metrics_text_printf(out, "} %u\n", keys[i].active);
    }
  }
}

static void rotation_sample(tv_metrics_text *out, const char *metric, const char *ns, uint64_t value) {
  ns_label(out, metric, ns);
  tv_metrics_text_printf(out, "} %llu\n", (unsigned long long)value);
}

/* Background rotation completion per namespace (rotation_worker.h): the
 * phase as its number (so one gauge can alert on RETRYING) and the
 * re-encryption and compaction progress as done/total pairs. Only the
 * namespaces rotated since start are listed. */
static void render_rotations(tv_vault *vault, tv_metrics_text *out) {
  tv_rotation_status st[TV_METRICS_NAMESPACES_MAX];
  size_t n = tv_rotation_worker_status(vault->rotation, st, TV_METRICS_NAMESPACES_MAX);
  n = n < TV_METRICS_NAMESPACES_MAX ? n : TV_METRICS_NAMESPACES_MAX;
  static const struct {
    const char *name;
    const char *help;
  } families[] = {
      {"tokenvault_rotation_phase", "Rotation phase: 1 queued, 2 reencrypting, 3 compacting, 4 done, 5 retrying."},
      {"tokenvault_rotation_records_done", "Records re-encrypted by the current or last rotation run."},
      {"tokenvault_rotation_records_total", "Records to re-encrypt in that run (0 until known)."},
      {"tokenvault_rotation_bytes_done", "Segment bytes compacted by that run."},
      {"tokenvault_rotation_bytes_total", "Segment bytes to compact in that run."},
      {"tokenvault_rotation_failed_attempts", "Failed rotation runs since the last success."},
      {"tokenvault_rotation_lease_held",
       "1 while this node runs the rotation (or ran it last); 0 while another fleet node holds its lease."},
  };
  for (size_t f = 0; n > 0 && f < sizeof families / sizeof families[0]; f++) {
    tv_metrics_text_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", families[f].name, families[f].help,
                           families[f].name);
    for (size_t i = 0; i < n; i++) {
      const uint64_t values[] = {(uint64_t)st[i].phase, st[i].records_done, st[i].records_total,
                                 st[i].bytes_done,      st[i].bytes_total,  st[i].attempts,
                                 (uint64_t)st[i].lease_held};
      rotation_sample(out, families[f].name, st[i].ns, values[f]);
    }
  }
}

/* Readiness as /healthz sees it, with its reason as a label while not
 * ready (one sample at most: the family is empty while ready), and the
 * HSM's part of it: the audit path needs the HSM for its checkpoints, so
 * an HSM fault there is what makes data calls fail. */
static void render_readiness(tv_vault *vault, tv_metrics_text *out) {
  tv_status why = tv_readiness_reason(vault->readiness);
  const char *name = tv_status_name(why);
  render_gauge(out, "tokenvault_ready", "1 while data calls can be answered (/healthz 200), else 0.", why == TV_OK);
  tv_metrics_text_printf(out, "# HELP tokenvault_not_ready_reason Why the vault is not ready (status name), 1 while "
                              "it lasts; no sample while ready.\n# TYPE tokenvault_not_ready_reason gauge\n");
  if (why != TV_OK) {
    tv_metrics_text_printf(out, "tokenvault_not_ready_reason{reason=\"");
    tv_metrics_text_label(out, name);
    tv_metrics_text_printf(out, "\"} 1\n");
  }
  render_gauge(out, "tokenvault_hsm_up",
               "0 while the vault is not ready because of the HSM (an HSM_* readiness reason), else 1.",
               strncmp(name, "HSM_", 4) != 0);
}

/* Free and total bytes of the filesystems holding the store and the audit
 * log (both fill up; readiness refuses below a floor, an alert should
 * come well before). A directory that cannot be measured is left out. */
static void render_disks(tv_vault *vault, tv_metrics_text *out) {
  const char *dirs[2][2] = {{"store", tv_readiness_store_dir(vault->readiness)}, {"audit", vault->audit_dir}};
  struct statvfs fs[2];
  int ok[2];
  for (size_t i = 0; i < 2; i++) {
    ok[i] = dirs[i][1][0] != '\0' && statvfs(dirs[i][1], &fs[i]) == 0;
  }
  tv_metrics_text_printf(out, "# HELP tokenvault_disk_free_bytes Bytes free for tokenvaultd on the filesystem of a "
                              "data directory.\n# TYPE tokenvault_disk_free_bytes gauge\n");
  for (size_t i = 0; i < 2; i++) {
    if (ok[i]) {
      tv_metrics_text_printf(out, "tokenvault_disk_free_bytes{dir=\"%s\"} %llu\n", dirs[i][0],
                             (unsigned long long)fs[i].f_bavail * (unsigned long long)fs[i].f_frsize);
    }
  }
  tv_metrics_text_printf(out, "# HELP tokenvault_disk_size_bytes Size of the filesystem of a data directory.\n"
                              "# TYPE tokenvault_disk_size_bytes gauge\n");
  for (size_t i = 0; i < 2; i++) {
    if (ok[i]) {
      tv_metrics_text_printf(out, "tokenvault_disk_size_bytes{dir=\"%s\"} %llu\n", dirs[i][0],
                             (unsigned long long)fs[i].f_blocks * (unsigned long long)fs[i].f_frsize);
    }
  }
}

/* The keyring generation in force on this node: every change (rotation,
 * KEK rewrap) advances it, and a fleet's nodes share one keyring, so a
 * node whose value stays below the others' max missed a change. */
static void render_keyring_generation(tv_keyring *keyring, tv_metrics_text *out) {
  render_gauge(out, "tokenvault_keyring_generation", "Generation of the keyring in force on this node.",
               tv_keyring_generation(keyring));
}

void tv_metrics_render_vault(tv_vault *vault, tv_metrics_text *out) {
  assert(vault != NULL && out != NULL);
  render_readiness(vault, out);
  render_disks(vault, out);
  if (vault->store != NULL) {
    render_store(vault->store, out);
    tv_metrics_render_db(vault->store, out);
  }
  if (vault->audit != NULL) {
    render_audit(vault->audit, out);
  }
  if (vault->keyring != NULL && vault->config != NULL) {
    render_keys(vault->keyring, vault->config, out);
  }
  if (vault->keyring != NULL) {
    render_keyring_generation(vault->keyring, out);
  }
  if (vault->rotation != NULL) {
    render_rotations(vault, out);
  }
}
