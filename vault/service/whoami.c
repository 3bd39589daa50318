#include "vault/service/whoami.h"

#include <stdint.h>
#include <string.h>

#include "tokenvault/v1/tokenvault.pb-c.h"

/* The principal WhoAmI names: the certificate's, else on a plaintext
 * listener the one the options give; authenticated stays 0 for the latter,
 * since no handshake proved it. */
static const char *reported_principal(const tv_whoami_options *opts, const tv_identity *id) {
  if (id->authenticated) {
    return id->principal;
  }
  int plaintext = strcmp(id->transport, "insecure") == 0;
  return plaintext && opts != NULL && opts->plaintext_principal != NULL ? opts->plaintext_principal : "";
}

void tv_whoami_fill(Tokenvault__V1__WhoAmIResponse *resp, const tv_whoami_options *opts, const tv_identity *id,
                    const char *request_id) {
  tokenvault__v1__who_am_iresponse__init(resp); /* the __INIT macro casts away const */
  /* protobuf-c's pack only reads these; the casts drop const for its API. */
  resp->request_id = (char *)(uintptr_t)request_id;
  resp->principal = (char *)(uintptr_t)reported_principal(opts, id);
  resp->identity_source = (char *)(uintptr_t)id->source;
  resp->authenticated = id->authenticated;
  resp->transport_security = (char *)(uintptr_t)id->transport;
}

void tv_whoami(void *impl, tv_call *call, const ProtobufCMessage *request) {
  const Tokenvault__V1__WhoAmIRequest *req = (const Tokenvault__V1__WhoAmIRequest *)request;
  Tokenvault__V1__WhoAmIResponse resp;
  tv_whoami_fill(&resp, impl, tv_call_identity(call), req->request_id);
  tv_call_finish(call, TV_OK, NULL, &resp.base);
}
