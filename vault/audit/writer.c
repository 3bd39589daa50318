/* One batch of the writer thread: repair, rotate, frame the entries, seal
 * with a checkpoint when due, then one write and one fdatasync. The chain
 * state moves on only when the batch is durable. */
#include <string.h>

#include "hsm/counter.h"
#include "vault/audit/audit_internal.h"

void audit_stats_sync(tv_audit_stats *stats, uint64_t us) {
  size_t b = tv_latency_bucket(us);
  stats->syncs++;
  stats->sync_us_sum += us;
  stats->sync_us_max = us > stats->sync_us_max ? us : stats->sync_us_max;
  stats->sync_buckets[b]++;
}

int audit_checkpoint_due(const tv_audit_log *log, size_t count) {
  const audit_chain_state *chain = &log->chain;
  if (chain->since_checkpoint + count == 0) {
    return 0; /* the last line is a checkpoint already */
  }
  if (chain->since_checkpoint + count >= log->checkpoint_entries) {
    return 1;
  }
  return audit_now_ms(0) - log->last_checkpoint_ms >= log->checkpoint_interval_ms;
}

/* Raises the HSM counter to the newest durable checkpoint. Until it
 * succeeds, nothing more is acknowledged: a log whose cut could go unseen
 * must not grow. */
static tv_status counter_sync(tv_audit_log *log) {
  if (log->file.counter_pending == 0) {
    return TV_OK;
  }
  TV_TRY(tv_hsm_counter_advance(log->hsm, log->file.counter_label, log->file.counter_pending, 0));
  log->file.counter_pending = 0;
  return TV_OK;
}

/* Called after a checkpoint line at |seq| became durable. */
static tv_status checkpoint_written(tv_audit_log *log, uint64_t seq) {
  log->last_checkpoint_ms = audit_now_ms(0);
  log->file.counter_pending = seq;
  log->wstats.checkpoints++;
  return counter_sync(log);
}

/* A full segment is sealed with a checkpoint and the chain goes on in the
 * next file, which starts with a header naming the log and its number. */
static tv_status rotate(tv_audit_log *log) {
  if (log->file.size < log->segment_bytes_max) {
    return TV_OK;
  }
  audit_chain_state chain = log->chain;
  size_t pos = 0;
  if (chain.since_checkpoint > 0) {
    TV_TRY(audit_compose_checkpoint(log, log->batch, &pos, &chain));
    TV_TRY(audit_file_write(&log->file, log->batch, pos));
    audit_stats_sync(&log->wstats, log->file.last_sync_us);
    log->chain = chain;
    TV_TRY(checkpoint_written(log, chain.last_checkpoint_seq));
  }
  pos = 0;
  uint64_t next = log->file.segment + 1;
  TV_TRY(audit_compose_segment(log->batch, &pos, &chain, &log->file, next));
  TV_TRY(audit_file_create(&log->file, next, log->batch, pos));
  audit_stats_sync(&log->wstats, log->file.last_sync_us);
  log->chain = chain;
  return TV_OK;
}

static tv_status compose_batch(tv_audit_log *log, size_t *out_len, audit_chain_state *chain,
                               uint64_t first, size_t count, int force_checkpoint) {
  size_t pos = 0;
  for (size_t i = 0; i < count; i++) {
    const audit_slot *slot = &log->ring[(first + i) % AUDIT_QUEUE_ENTRIES_MAX];
    log->batch_seqs[i] = chain->next_seq;
    TV_TRY(audit_compose_entry(log->batch, &pos, chain, slot->body, slot->body_len));
  }
  int seal = force_checkpoint ? chain->since_checkpoint > 0 : audit_checkpoint_due(log, count);
  if (seal) {
    TV_TRY(audit_compose_checkpoint(log, log->batch, &pos, chain));
  }
  *out_len = pos;
  return TV_OK;
}

static tv_status write_batch(tv_audit_log *log, uint64_t first, size_t count,
                             int force_checkpoint) {
  TV_TRY(audit_file_repair(&log->file));
  TV_TRY(counter_sync(log));
  TV_TRY(rotate(log));
  audit_chain_state chain = log->chain;
  size_t len = 0;
  TV_TRY(compose_batch(log, &len, &chain, first, count, force_checkpoint));
  if (len == 0) {
    return TV_OK;
  }
  TV_TRY(audit_file_write(&log->file, log->batch, len));
  audit_stats_sync(&log->wstats, log->file.last_sync_us);
  uint64_t checkpoint_before = log->chain.last_checkpoint_seq;
  log->chain = chain;
  if (chain.last_checkpoint_seq != checkpoint_before) {
    TV_TRY(checkpoint_written(log, chain.last_checkpoint_seq));
  }
  return TV_OK;
}

tv_status audit_write_batch(tv_audit_log *log, uint64_t first, size_t count,
                            int force_checkpoint) {
  tv_status status = write_batch(log, first, count, force_checkpoint);
  for (size_t i = 0; i < count; i++) {
    log->batch_results[i] = status;
  }
  if (status == TV_OK) {
    log->wstats.entries += count;
  } else {
    log->wstats.failures++;
  }
  log->wstats.segment = log->file.segment;
  log->wstats.last_seq = log->chain.next_seq - 1;
  return status;
}
