/* The NDJSON streaming form of TokenizeStream and DetokenizeStream:
 * POST /v1/tokenize:stream and /v1/detokenize:stream with Content-Type
 * application/x-ndjson, answered application/x-ndjson with chunked
 * encoding (README.md "HTTP API" is the user's manual).
 *
 * Each request line is the proto3 JSON of one TokenizeRequest /
 * DetokenizeRequest (a batch, with the gRPC batch limits); each answer
 * line is the proto3 JSON of its TokenizeResponse / DetokenizeResponse,
 * in order, one per request line (blank lines are no requests and get
 * none), per-item failures inside it as over gRPC. The lines go one at a
 * time through the service's stream handler — the very handler, audit
 * (one entry per line) and metering of the gRPC stream — and the next
 * line is handled only once the previous answer was taken.
 *
 * The first line that fails as a whole (not JSON, an unknown field, over
 * a limit, POLICY_DENIED, an unknown namespace, the audit log down, ...)
 * is answered by a problem line — the fields of application/problem+json
 * plus "line", its number in the body — and ENDS the stream: no later
 * line is handled, exactly as a failed message ends a gRPC stream. So the
 * lines handled are exactly the answer lines before the problem line (a
 * client tells a problem line by its "type" member, which answers never
 * have). A server that is stopping answers the next line with a
 * SERVER_SHUTTING_DOWN problem line; a stream cut off otherwise
 * (connection lost, the server gone) ends without the final empty chunk,
 * so a client cannot take a short answer for a whole one.
 *
 * libmicrohttpd answers only once the whole request body has been
 * received, so the body waits in an encrypted temporary file
 * (ndjson_spool.h) and the lines are handled as the client reads the
 * answer: memory per stream stays bounded (a line, its request and its
 * answer), a client that stops reading stops the work and is closed after
 * TV_HTTP_IDLE_TIMEOUT_S, and a client that disconnects early leaves no
 * line handled after the last answer it could have read. */
#ifndef TV_SERVER_HTTP_NDJSON_STREAM_H
#define TV_SERVER_HTTP_NDJSON_STREAM_H

#include <stdatomic.h>
#include <stddef.h>

#include <microhttpd.h>

#include "vault/server/common/admission.h"
#include "vault/server/http/routes.h"
#include "vault/service/identity.h"
#include "vault/service/service.h"
#include "vault/util/status.h"

/* The media type of both directions. */
#define TV_NDJSON_CONTENT_TYPE "application/x-ndjson"

/* One request line: as a gRPC request message or a unary HTTP body. */
#define TV_NDJSON_LINE_BYTES_MAX (1024 * 1024)

/* One stream's request body, kept in its temporary file: 1 GiB is about
 * 40 million 16-digit values in 1,000-value batches; a longer job sends
 * several streams. With TV_HTTP_CONNECTIONS_MAX streams at once the files
 * may take 64 GiB of the temporary directory's disk at worst. */
#define TV_NDJSON_BODY_BYTES_MAX (1024ull * 1024 * 1024)

/* libmicrohttpd's block for the answer: one write of the socket. */
#define TV_NDJSON_ANSWER_BLOCK_BYTES (64 * 1024)

typedef struct tv_ndjson_stream tv_ndjson_stream;

/* tv_ndjson_route returns 1 if |route| is served as an NDJSON stream. */
int tv_ndjson_route(const tv_http_route *route);

/* tv_ndjson_stream_new returns a stream for |route| (borrowed, as are
 * |service| and |stopping|, which outlive it) from |peer_text|, called by
 * |identity| (NULL: the plaintext caller). Each line it hands the service
 * enters |admission| (NULL: none; borrowed) forced, as a gRPC stream
 * message does, and leaves once its answer is taken. Its body file is created in
 * $TMPDIR (default /tmp). Returns TV_OK with |*out|; TV_E_IO (no
 * temporary file there), TV_E_CRYPTO_BACKEND or TV_E_NO_MEMORY. */
tv_status tv_ndjson_stream_new(tv_ndjson_stream **out, const tv_http_route *route, const tv_service *service,
                               const atomic_int *stopping, tv_admission *admission, const char *peer_text,
                               const tv_identity *identity);

/* tv_ndjson_stream_of returns |con_cls| as a stream if it is one (the
 * server's per-request pointer holds a stream or a tv_http_call), or NULL. */
tv_ndjson_stream *tv_ndjson_stream_of(void *con_cls);

/* tv_ndjson_stream_on_request takes libmicrohttpd's later calls for the
 * request: body bytes go to the file; at the body's end the chunked
 * answer is queued, its lines made as the client reads them. */
enum MHD_Result tv_ndjson_stream_on_request(tv_ndjson_stream *stream, struct MHD_Connection *conn,
                                            const char *upload_data, size_t *upload_data_size);

/* tv_ndjson_stream_free reports how the stream ended to the service's
 * on_call_end (once per stream, as for a gRPC stream), deletes its file,
 * wipes its buffers and frees it; accepts NULL. */
void tv_ndjson_stream_free(tv_ndjson_stream *stream);

#endif
