/* client_check — drives libtokenvault against a live tokenvaultd (started
 * by tests/integration/test_c_client.py) and checks every answer. Prints
 * "ok: ..." per check; exits 1 at the first failure, 0 when all passed.
 *
 * usage: client_check TARGET dev
 *        client_check TARGET tls CA CERT KEY SERVER_NAME */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/c/lib/tokenvault.h"

static int checks_done;

#define CHECK(cond, ...)                     \
  do {                                       \
    if (!(cond)) {                           \
      fprintf(stderr, "FAIL: " __VA_ARGS__); \
      fprintf(stderr, "\n");                 \
      exit(1);                               \
    }                                        \
    printf("ok: " __VA_ARGS__);              \
    printf("\n");                            \
    checks_done++;                           \
  } while (0)

static const char *const pans[] = {"4111111111111111", "5555555555554444", "4012888888881881"};
#define PANS_COUNT 3u

static tv_client *connect_client(int argc, char **argv) {
  tv_client_options o = {.target = argv[1], .deadline_ms = 10000, .retries_max = 2};
  if (strcmp(argv[2], "dev") == 0) {
    o.insecure = 1;
  } else {
    CHECK(argc == 7, "tls mode has CA CERT KEY SERVER_NAME");
    o.ca_file = argv[3];
    o.cert_file = argv[4];
    o.key_file = argv[5];
    o.server_name = argv[6];
  }
  tv_client *c = NULL;
  tv_client_error err = {0};
  tv_client_code code = tv_client_new(&c, &o, &err);
  CHECK(code == TV_CLIENT_OK && c != NULL, "tv_client_new (%s)", err.message);
  return c;
}

static void check_identity(tv_client *c, int tls) {
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  CHECK(tv_client_health(c, &r, &err) == TV_CLIENT_OK && r->serving == 1, "health: SERVING (%s)", err.message);
  tv_client_result_free(r);
  CHECK(tv_client_whoami(c, &r, &err) == TV_CLIENT_OK, "whoami answers (%s)", err.message);
  CHECK(strcmp(r->transport_security, tls ? "tls" : "insecure") == 0 && r->authenticated == tls,
        "whoami: transport %s, authenticated %d", r->transport_security, r->authenticated);
  if (tls) {
    CHECK(strcmp(r->principal, "spiffe://tokenvault/app") == 0, "whoami: principal from SAN URI (%s)", r->principal);
  }
  tv_client_result_free(r);
}

/* Tokenizes the PANs, checks shape, detokenizes full/masked/none; copies
 * the tokens into |out_tokens| (17 bytes each). */
static void check_round_trip(tv_client *c, char out_tokens[PANS_COUNT][17]) {
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  CHECK(tv_client_tokenize(c, &r, "pan", pans, PANS_COUNT, &err) == TV_CLIENT_OK, "tokenize 3 PANs (%s)", err.message);
  CHECK(r->items_count == PANS_COUNT, "one item per value");
  for (size_t i = 0; i < PANS_COUNT; i++) {
    CHECK(r->items[i].code == 0 && strcmp(r->items[i].name, "OK") == 0 && r->items[i].text_len == 16,
          "item %zu OK with a 16-digit token", i);
    CHECK(strcmp(r->items[i].text, pans[i]) != 0 && memcmp(r->items[i].text, pans[i], 6) == 0,
          "token %zu differs from the value, keeps the first 6 digits", i);
    memcpy(out_tokens[i], r->items[i].text, 17);
  }
  tv_client_result_free(r);
  const char *toks[PANS_COUNT] = {out_tokens[0], out_tokens[1], out_tokens[2]};
  CHECK(tv_client_detokenize(c, &r, "pan", toks, PANS_COUNT, TV_CLIENT_REVEAL_FULL, "client_check", &err) ==
            TV_CLIENT_OK, "detokenize FULL (%s)", err.message);
  for (size_t i = 0; i < PANS_COUNT; i++) {
    CHECK(strcmp(r->items[i].text, pans[i]) == 0, "FULL gives back value %zu", i);
  }
  tv_client_result_free(r);
  CHECK(tv_client_detokenize(c, &r, "pan", toks, 1, TV_CLIENT_REVEAL_MASKED, NULL, &err) == TV_CLIENT_OK &&
            strcmp(r->items[0].text, "411111******1111") == 0, "MASKED: %s", r != NULL ? r->items[0].text : "-");
  tv_client_result_free(r);
  CHECK(tv_client_detokenize(c, &r, "pan", toks, 1, TV_CLIENT_REVEAL_NONE, NULL, &err) == TV_CLIENT_OK &&
            r->items[0].text_len == 0 && r->items[0].code == 0, "NONE: no value, OK");
  tv_client_result_free(r);
}

static void check_item_failures(tv_client *c) {
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  const char *mixed[] = {"4111111111111111", "4111111111111112", "12x4"};
  CHECK(tv_client_tokenize(c, &r, "pan", mixed, 3, &err) == TV_CLIENT_OK, "mixed batch is processed");
  CHECK(r->items[0].code == 0 && r->items[1].code == 204 && strcmp(r->items[1].name, "FORMAT_LUHN") == 0 &&
            r->items[1].text_len == 0, "bad Luhn -> item 204 FORMAT_LUHN, no token");
  CHECK(r->items[2].code != 0 && strncmp(r->items[2].name, "FORMAT_", 7) == 0, "garbage -> %s", r->items[2].name);
  tv_client_result_free(r);
  const char *unknown[] = {"4111119999991111"};
  CHECK(tv_client_detokenize(c, &r, "pan", unknown, 1, TV_CLIENT_REVEAL_FULL, "x", &err) == TV_CLIENT_OK &&
            strcmp(r->items[0].name, "ENGINE_NOT_FOUND") == 0, "unknown token -> ENGINE_NOT_FOUND");
  tv_client_result_free(r);
  tv_client_code code = tv_client_tokenize(c, &r, "no_such_ns", unknown, 1, &err);
  CHECK(code == TV_CLIENT_NOT_FOUND && r == NULL && strstr(err.message, "no_such_ns") != NULL,
        "unknown namespace fails the call: %s", err.message);
  CHECK(tv_client_tokenize(c, &r, "pan", unknown, 0, &err) == TV_CLIENT_E_ARGUMENT, "empty batch refused locally");
}

/* 2,500 values through the batch helper (3 requests) and back through a
 * stream with a window of 4 and batches of 300. */
static void check_bulk(tv_client *c) {
  enum { N = 2500 };
  static char values[N][17];
  static const char *vp[N];
  for (int i = 0; i < N; i++) {
    /* 400000 + 9-digit counter + check digit: valid Luhn numbers. */
    char body[24]; /* 15 digits; room for any int so the format cannot truncate */
    snprintf(body, sizeof body, "400000%09d", i);
    int sum = 0;
    for (int k = 14, dbl = 1; k >= 0; k--, dbl = !dbl) {
      int d = body[k] - '0';
      if (dbl) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
      sum += d;
    }
    snprintf(values[i], sizeof values[i], "%.15s%d", body, (10 - sum % 10) % 10);
    vp[i] = values[i];
  }
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  CHECK(tv_client_tokenize_batch(c, &r, "pan", vp, N, &err) == TV_CLIENT_OK && r->items_count == N,
        "tokenize_batch of %d values (%s)", N, err.message);
  static const char *tp[N];
  for (int i = 0; i < N; i++) tp[i] = r->items[i].text;
  tv_client_stream *s = NULL;
  CHECK(tv_client_detokenize_stream_open(c, &s, "pan", TV_CLIENT_REVEAL_FULL, "bulk", &err) == TV_CLIENT_OK,
        "DetokenizeStream opens");
  int sent = 0, got = 0, mismatches = 0;
  size_t max_in_flight = 0;
  while (got < N) {
    while (sent < N && tv_client_stream_can_send(s)) {
      int n = N - sent < 300 ? N - sent : 300;
      CHECK(tv_client_stream_send(s, tp + sent, NULL, (size_t)n, &err) == TV_CLIENT_OK, "send %d", sent);
      sent += n;
      if (sent == N) CHECK(tv_client_stream_close_send(s, &err) == TV_CLIENT_OK, "close_send");
    }
    if (tv_client_stream_in_flight(s) > max_in_flight) max_in_flight = tv_client_stream_in_flight(s);
    tv_client_result *b = NULL;
    CHECK(tv_client_stream_next(s, &b, &err) == TV_CLIENT_OK, "stream result at %d (%s)", got, err.message);
    for (size_t i = 0; i < b->items_count; i++) mismatches += strcmp(b->items[i].text, values[got + (int)i]) != 0;
    got += (int)b->items_count;
    tv_client_result_free(b);
  }
  tv_client_result *end = NULL;
  CHECK(tv_client_stream_next(s, &end, &err) == TV_CLIENT_E_STREAM_DONE && end == NULL, "stream ends cleanly");
  CHECK(mismatches == 0 && got == N, "stream round trip of %d values in order", N);
  CHECK(max_in_flight == 4, "4 batches were in flight at once (%zu)", max_in_flight);
  tv_client_stream_free(s);
  tv_client_result_free(r);
}

static void check_manage(tv_client *c, char tokens[PANS_COUNT][17]) {
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  const char *tok[] = {tokens[2]};
  CHECK(tv_client_token_info(c, &r, "pan", tok, 1, &err) == TV_CLIENT_OK && r->items[0].code == 0 &&
            r->items[0].key_version == 1 && r->items[0].created_at_unix_ms > 0, "token info: live, key version 1");
  tv_client_result_free(r);
  CHECK(tv_client_delete(c, &r, "pan", tok, 1, "test", &err) == TV_CLIENT_OK && r->items[0].code == 0, "delete");
  tv_client_result_free(r);
  CHECK(tv_client_detokenize(c, &r, "pan", tok, 1, TV_CLIENT_REVEAL_FULL, "x", &err) == TV_CLIENT_OK &&
            strcmp(r->items[0].name, "ENGINE_DELETED") == 0, "deleted token -> %s", r->items[0].name);
  tv_client_result_free(r);
  CHECK(tv_client_erase(c, &r, "pan", pans[1], "gdpr", &err) == TV_CLIENT_OK && r->tokens_erased == 1,
        "erase removes the value's token (%s)", err.message);
  tv_client_result_free(r);
  CHECK(tv_client_keys_list(c, &r, "pan", &err) == TV_CLIENT_OK && r->keys_count == 1 && r->keys[0].version == 1 &&
            r->keys[0].state == 1 && strcmp(r->keys[0].namespace_name, "pan") == 0, "keys list: pan v1 active");
  tv_client_result_free(r);
  CHECK(tv_client_keys_rotate(c, &r, "pan", "test", &err) == TV_CLIENT_OK && r->keys_count == 1 &&
            r->keys[0].version == 2, "keys rotate: version 2 (%s)", err.message);
  tv_client_result_free(r);
  CHECK(tv_client_rotation_status(c, &r, &err) == TV_CLIENT_OK && r->kek_version == 1, "rotation status: KEK 1");
  tv_client_result_free(r);
}

/* Two-officer KEK rotation needs a second identity: only over TLS, where
 * the test made officer certificates; here the proposer's own approval
 * must be refused. */
static void check_kek(tv_client *c) {
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  CHECK(tv_client_kek_propose(c, &r, "test", &err) == TV_CLIENT_OK && r->proposals_count == 1 &&
            r->proposals[0].state == 1, "kek propose: pending (%s)", err.message);
  char id[64];
  snprintf(id, sizeof id, "%s", r->proposals[0].proposal_id);
  tv_client_result_free(r);
  tv_client_code code = tv_client_kek_approve(c, &r, id, &err);
  CHECK(code == TV_CLIENT_PERMISSION_DENIED && strstr(err.message, "SAME_OFFICER") != NULL,
        "the proposer cannot approve: %s", err.message);
  printf("proposal: %s\n", id);
}

static void check_audit(tv_client *c) {
  tv_client_result *r = NULL;
  tv_client_error err = {0};
  tv_client_code code = tv_client_audit_verify(c, &r, 0, 0, &err);
  if (code == TV_CLIENT_UNIMPLEMENTED) {
    printf("note: VerifyAudit not implemented by this server; not checked\n");
    return;
  }
  CHECK(code == TV_CLIENT_OK && r->audit_intact == 1 && r->audit_entries_checked > 0,
        "audit verify: intact (%s)", err.message);
  tv_client_result_free(r);
  code = tv_client_audit_read(c, &r, 0, 5, NULL, NULL, &err);
  CHECK(code == TV_CLIENT_OK && r->audit_entries_count == 5, "audit read: 5 entries (%s)", err.message);
  tv_client_result_free(r);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: client_check TARGET dev|tls [CA CERT KEY SERVER_NAME]\n");
    return 2;
  }
  int tls = strcmp(argv[2], "tls") == 0;
  tv_client *c = connect_client(argc, argv);
  char tokens[PANS_COUNT][17];
  check_identity(c, tls);
  check_round_trip(c, tokens);
  check_item_failures(c);
  check_bulk(c);
  check_manage(c, tokens);
  check_kek(c);
  check_audit(c);
  tv_client_free(c);
  printf("%d passed, 0 failed\n", checks_done);
  return 0;
}
