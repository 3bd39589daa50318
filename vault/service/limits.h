/* The gRPC service's limits, in one place. Each is named qualifier-last and
 * says why it has the value it has. Clients see them in the API comments of
 * proto/tokenvault/v1/tokenvault.proto; going over one gets
 * RESOURCE_EXHAUSTED, never a crash or an unbounded allocation. */
#ifndef TV_SERVICE_LIMITS_H
#define TV_SERVICE_LIMITS_H

/* Largest request message accepted (GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH).
 * 1000 items of 256 bytes plus framing fit with room to spare; anything
 * bigger is a bulk job that belongs on the streaming methods. */
#define TV_MESSAGE_BYTES_MAX (1024 * 1024)

/* Largest response message; a full batch of detokenized values with their
 * item statuses stays well under it. */
#define TV_RESPONSE_BYTES_MAX (4 * 1024 * 1024)

/* Items (values or tokens) per request: bounds the work and memory of one
 * call and the latency other callers see; per-role limits from the policy
 * may only lower it. */
#define TV_REQUEST_ITEMS_MAX 1000

/* Memory the protobuf decoder may allocate for one request. A 2-byte empty
 * string on the wire costs a pointer plus an allocation once decoded, so
 * decoded size is bounded separately from the wire size. */
#define TV_DECODE_BYTES_MAX (8 * 1024 * 1024)

/* One value or token: the longest supported format (IBAN, 34 characters)
 * with separators, and generic formats, stay far below it. */
#define TV_ITEM_BYTES_MAX 256

/* Namespace names are short identifiers chosen by operators. */
#define TV_NAMESPACE_BYTES_MAX 64

/* Client request ids: a UUID or similar, echoed and audited. */
#define TV_REQUEST_ID_BYTES_MAX 64

/* Free-text reason for a detokenize, delete or rotation: audited. */
#define TV_REASON_BYTES_MAX 256

/* Metadata labels per tokenize request and the size of each key or value:
 * labels, not documents. */
#define TV_METADATA_ENTRIES_MAX 16
#define TV_METADATA_BYTES_MAX 128

/* Any other string field (ids, filters). */
#define TV_STRING_BYTES_MAX 256

/* Nesting of messages inside a request: our requests nest at most twice
 * (a map entry); deeper input is malformed. */
#define TV_MESSAGE_DEPTH_MAX 4

/* Principal taken from a client certificate (SAN URI/DNS or CN). */
#define TV_PRINCIPAL_BYTES_MAX 255

/* Polling threads: I/O only, never blocking work; one per core up to this. */
#define TV_POLL_THREADS_MAX 4

/* Worker threads that run handlers: two per core up to this. */
#define TV_WORKER_THREADS_MAX 16

/* Handler jobs waiting for a worker; beyond it calls fail fast with
 * RESOURCE_EXHAUSTED (server busy) instead of queueing without bound. */
#define TV_JOBS_QUEUED_MAX 4096

/* Admission control (vault/server/common/admission.h) defaults, used when the
 * config's `server:` block leaves a limit at 0. Items in flight per
 * worker thread: a worker answers a 1,000-item Tokenize in a few ms, so
 * 4 calls' worth of queue per worker keeps the wait of an admitted call
 * well under a second while every worker stays busy. */
#define TV_ADMISSION_ITEMS_PER_WORKER 4000
/* Request bytes in flight: 1/64 of physical memory, within these bounds
 * (responses and decoded requests cost a small multiple of it). */
#define TV_ADMISSION_MEMORY_SHARE 64
#define TV_ADMISSION_BYTES_MIN (16u * 1024 * 1024)
#define TV_ADMISSION_BYTES_MAX (256u * 1024 * 1024)

/* Default bound on a connection's TLS and HTTP/2 handshake
 * (GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS; gRPC's own is 120 s): a socket
 * that connects and sends nothing is closed after it. Config
 * `server.handshake_timeout_ms`. */
#define TV_HANDSHAKE_TIMEOUT_MS_DEFAULT 10000

/* grpc_server_request_registered_call kept outstanding per method, so a
 * burst of calls does not wait for a re-post after each accept. */
#define TV_CALLS_REQUESTED_PER_METHOD 4

/* Concurrent HTTP/2 streams per connection (GRPC_ARG_MAX_CONCURRENT_STREAMS):
 * bounds per-connection memory; with one message in flight per stream. */
#define TV_STREAMS_PER_CONNECTION_MAX 100

/* SIGTERM: in-flight calls get this long to finish before they are
 * cancelled; shorter than the usual 30 s orchestrator kill timeout. */
#define TV_SHUTDOWN_GRACE_MS 5000

/* After the grace period, how long to wait for cancelled calls to unwind. */
#define TV_SHUTDOWN_CANCEL_WAIT_MS 5000

/* TLS files read at start-up: certificates and keys are a few KiB. */
#define TV_PEM_FILE_BYTES_MAX (256 * 1024)

/* One JSON log line. */
#define TV_LOG_LINE_BYTES_MAX 1024

/* Error text returned to clients in grpc status details. */
#define TV_ERROR_TEXT_BYTES_MAX 256

#endif
