/* Limits of the audit log, each with its reason. */
#ifndef TV_AUDIT_AUDIT_LIMITS_H
#define TV_AUDIT_AUDIT_LIMITS_H

/* One text field of an entry (principal, peer, method, namespace, request
 * id, outcome, purpose, ...), in bytes before escaping. Certificates' SAN
 * URIs and stated purposes fit; anything longer is a caller bug or an
 * attempt to flood the log, and is refused rather than cut. */
#define AUDIT_FIELD_BYTES_MAX 256u

/* One line of the log, newline excluded. Twelve fields escaped at worst
 * (6 bytes per byte for control characters) do not fit, but the writer
 * refuses an entry whose line would exceed this, and the reader refuses
 * longer lines as malformed, so both sides agree on one bound. */
#define AUDIT_LINE_BYTES_MAX 4096u

/* Entries waiting for the writer thread. Producers block when it is full:
 * memory stays bounded however far the disk falls behind. */
#define AUDIT_QUEUE_ENTRIES_MAX 1024u

/* Entries written by one write + fdatasync (group commit). */
#define AUDIT_BATCH_ENTRIES_MAX 256u

/* Checkpoint defaults: every 1000 entries or 10 s, whichever comes first. */
#define AUDIT_CHECKPOINT_ENTRIES_DEFAULT 1000u
#define AUDIT_CHECKPOINT_INTERVAL_MS_DEFAULT 10000u

/* A segment is closed (sealed by a checkpoint) and a new file started once
 * it reaches this size; the default keeps files easy to ship to a SIEM. */
#define AUDIT_SEGMENT_BYTES_DEFAULT (64u * 1024u * 1024u)
#define AUDIT_SEGMENT_BYTES_MIN 4096u

/* Segment numbers are printed with six digits (audit-000001.log). */
#define AUDIT_SEGMENTS_MAX 999999u

#endif
