/* Limits of the storage layer, in one place, each with its reason.
 * Named qualifier-last (TigerBeetle style). */
#ifndef TV_STORE_STORE_LIMITS_H
#define TV_STORE_STORE_LIMITS_H

/* Namespace names are short configured identifiers ("pan", "iban"). */
#define TV_STORE_NAMESPACE_LEN_MAX 64u

/* The longest token any format produces (IBAN is 34; generic formats are
 * configured, 128 leaves room without letting a record grow unbounded). */
#define TV_STORE_TOKEN_LEN_MAX 128u

/* AES-GCM ciphertext of one value: values are identifiers, not documents. */
#define TV_STORE_CIPHERTEXT_LEN_MAX 4096u

/* Small per-token metadata (format tag, caller reference). */
#define TV_STORE_METADATA_LEN_MAX 256u

/* A record header is 32 bytes; every record is padded to 8 bytes so that a
 * scan for the next record after damage only probes aligned offsets. */
#define TV_STORE_RECORD_HEADER_LEN 32u
#define TV_STORE_RECORD_ALIGN 8u

/* Largest payload: a put with every field at its maximum fits with room.
 * The decoder refuses anything larger before reading it. */
#define TV_STORE_RECORD_PAYLOAD_LEN_MAX 8192u
#define TV_STORE_RECORD_LEN_MAX (TV_STORE_RECORD_HEADER_LEN + TV_STORE_RECORD_PAYLOAD_LEN_MAX)

/* Segment size: locations pack the offset/8 in 28 bits (2 GiB). */
#define TV_STORE_SEGMENT_BYTES_MAX (1ull << 31)
#define TV_STORE_SEGMENT_BYTES_MIN (64ull * 1024)
#define TV_STORE_SEGMENT_BYTES_DEFAULT (64ull * 1024 * 1024)

/* Segment ids are packed in 20 bits of a location. */
#define TV_STORE_SEGMENTS_MAX (1u << 20)

/* Group commit: one batch is at most this many bytes and records; more
 * would only lengthen the latency of the first producer in the batch. */
#define TV_STORE_BATCH_BYTES_MAX (1u << 20)
#define TV_STORE_BATCH_RECORDS_MAX 4096u

/* O_DIRECT experiment: offsets, lengths and the buffer are aligned to
 * this (the largest logical block size in common use). */
#define TV_STORE_DIRECT_BLOCK 4096u

/* Producers queued for the writer; beyond this, submit says BUSY
 * (back-pressure instead of unbounded memory). Power of two. */
#define TV_STORE_QUEUE_ITEMS_MAX 16384u

/* Items in one get batch; a larger request is split by the caller. */
#define TV_STORE_GET_ITEMS_MAX 4096u

/* Reads submitted to one ring at a time, and rings shared by readers. */
#define TV_STORE_READ_RING_DEPTH 1024u
#define TV_STORE_READ_RINGS 4u

/* Candidates kept per key when 64-bit hashes collide (astronomically rare;
 * bounded so a lookup can never loop). */
#define TV_STORE_CANDIDATES_MAX 8u

/* Records replayed at open (beyond any checkpoint) from which the store
 * writes a checkpoint at close even if nothing new was written: ~1 ms of
 * replay at 2 M records/s. Below it the checkpoint, whose cost grows with
 * the whole index, is not worth writing for what it would save. */
#define TV_STORE_CKPT_REPLAYED_MIN 2048u

/* Path of the store directory plus a segment file name. */
#define TV_STORE_PATH_LEN_MAX 4096u

/* One I/O failure message: operation, file name (not path), errno; fits
 * the one-line message of tv_store_diag. */
#define TV_STORE_IO_ERROR_LEN_MAX 256u

#endif
