#include "vault/service/call_iface.h"

#include <stdio.h>

#include "vault/service/limits.h"

const tv_identity *tv_call_identity(const tv_call *call) { return call->ops->identity(call); }

const tv_method *tv_call_method(const tv_call *call) { return call->ops->method(call); }

const char *tv_call_peer(const tv_call *call) { return call->ops->peer(call); }

int tv_call_is_cancelled(tv_call *call) { return call->ops->is_cancelled(call); }

int64_t tv_call_deadline_ms(const tv_call *call) { return call->ops->deadline_ms(call); }

void tv_call_finish_code(tv_call *call, tv_code code, const char *detail, const ProtobufCMessage *response) {
  call->ops->finish(call, code, detail, response);
}

void tv_call_finish(tv_call *call, tv_status status, const char *detail, const ProtobufCMessage *response) {
  if (status == TV_OK) {
    tv_call_finish_code(call, TV_CODE_OK, NULL, response);
    return;
  }
  char text[TV_ERROR_TEXT_BYTES_MAX];
  snprintf(text, sizeof text, "%s: %s", tv_status_name(status), detail != NULL ? detail : tv_status_message(status));
  tv_call_finish_code(call, tv_status_to_code(status), text, NULL);
}

tv_status tv_call_send(tv_call *call, const ProtobufCMessage *msg, tv_sent_fn on_sent, void *arg) {
  return call->ops->send(call, msg, on_sent, arg);
}

int tv_call_on_close(tv_call *call, tv_close_fn fn, void *arg) { return call->ops->on_close(call, fn, arg); }
