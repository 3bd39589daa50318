/* Client network allowlists: CIDR parsing, gRPC peer strings, and the
 * policy's use of both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vault/policy/network.h"
#include "vault/policy/policy.h"

static void test_cidr_parse(void **state) {
  (void)state;
  policy_net net;
  const char *good[] = {"10.0.0.0/8", "192.168.1.0/24", "0.0.0.0/0", "203.0.113.7",
                        "::1/128",    "fd00::/8",       "::/0",      "2001:db8::/32"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
    assert_int_equal(policy_net_parse(good[i], &net), TV_OK);
  }
  assert_int_equal(policy_net_parse("10.0.0.0/8", &net), TV_OK);
  assert_int_equal(net.prefix_len, 96 + 8);
  assert_int_equal(policy_net_parse("::1", &net), TV_OK);
  assert_int_equal(net.prefix_len, 128);
  const char *bad[] = {"",           "10.0.0.0/",    "10.0.0.0/33", "10.1.0.0/8", "10.0.0/8",
                       "10.0.0.256", "::1/129",      "fd00::1/8",   "host/8",     "10.0.0.0/8x",
                       "10.0.0.0/-1", "/8",          "10.0.0.0/0008", "::1/ 64"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(policy_net_parse(bad[i], &net), TV_E_POLICY_CONFIG);
  }
}

static void test_peer_parse(void **state) {
  (void)state;
  uint8_t a[16];
  uint8_t b[16];
  assert_int_equal(policy_peer_parse("ipv4:127.0.0.1:5555", a), TV_OK);
  static const uint8_t mapped_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
  assert_memory_equal(a, mapped_lo, 16);
  assert_int_equal(policy_peer_parse("ipv6:[::1]:5555", a), TV_OK);
  assert_int_equal(policy_peer_parse("ipv6:%5B::1%5D:5555", b), TV_OK);
  assert_memory_equal(a, b, 16);
  assert_int_equal(policy_peer_parse("ipv6:%5b::1%5d:1", b), TV_OK);
  assert_memory_equal(a, b, 16);
  assert_int_equal(policy_peer_parse("ipv6:[fe80::1%25eth0]:5555", a), TV_OK);
  assert_int_equal(policy_peer_parse("ipv6:[fe80::1]:5555", b), TV_OK);
  assert_memory_equal(a, b, 16);
  /* The HTTP transport's peers name it first; the address is the same. */
  assert_int_equal(policy_peer_parse("http:ipv4:127.0.0.1:80", b), TV_OK);
  assert_memory_equal(b, mapped_lo, 16);
  assert_int_equal(policy_peer_parse("http:ipv6:[fe80::1]:1", b), TV_OK);
  assert_memory_equal(a, b, 16);
  const char *bad[] = {"",
                       "http:",
                       "http:http:ipv4:127.0.0.1:1",
                       "ipv4:",
                       "ipv4:127.0.0.1",
                       "ipv4:127.0.0.1:",
                       "ipv4:127.0.0.1:80a",
                       "ipv4:127.0.0.300:1",
                       "ipv4:[::1]:1",
                       "ipv4:::1:5",
                       "ipv6:::1:5555",
                       "ipv6:[::1]",
                       "ipv6:[::1]5555",
                       "ipv6:[::1:5555",
                       "ipv6:[127.0.0.1]:1",
                       "ipv6:[zz::1]:1",
                       "unix:/run/tokenvault.sock",
                       "127.0.0.1:5555",
                       "IPV4:127.0.0.1:5555"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(policy_peer_parse(bad[i], a), TV_E_POLICY_PEER);
  }
  assert_int_equal(policy_peer_parse(NULL, a), TV_E_POLICY_PEER);
}

static int contains(const char *cidr, const char *peer) {
  policy_net net;
  uint8_t addr[16];
  assert_int_equal(policy_net_parse(cidr, &net), TV_OK);
  assert_int_equal(policy_peer_parse(peer, addr), TV_OK);
  return policy_net_contains(&net, addr);
}

static void test_contains(void **state) {
  (void)state;
  assert_true(contains("10.0.0.0/8", "ipv4:10.255.1.2:1"));
  assert_false(contains("10.0.0.0/8", "ipv4:11.0.0.1:1"));
  assert_true(contains("192.168.1.128/25", "ipv4:192.168.1.200:1"));
  assert_false(contains("192.168.1.128/25", "ipv4:192.168.1.127:1"));
  assert_true(contains("0.0.0.0/0", "ipv4:8.8.8.8:1"));
  /* An IPv4 network never admits a native IPv6 peer ... */
  assert_false(contains("0.0.0.0/0", "ipv6:[2001:db8::1]:1"));
  /* ... but does admit the same host arriving IPv4-mapped on a v6 socket. */
  assert_true(contains("127.0.0.0/8", "ipv6:[::ffff:127.0.0.1]:1"));
  assert_true(contains("::1/128", "ipv6:[::1]:1"));
  assert_false(contains("::1/128", "ipv6:[::2]:1"));
  assert_false(contains("::1/128", "ipv4:127.0.0.1:1"));
  assert_true(contains("2001:db8::/33", "ipv6:[2001:db8:7fff::1]:1"));
  assert_false(contains("2001:db8::/33", "ipv6:[2001:db8:8000::1]:1"));
  assert_true(contains("203.0.113.7", "ipv4:203.0.113.7:9"));
  assert_false(contains("203.0.113.7", "ipv4:203.0.113.6:9"));
}

static void test_policy_networks(void **state) {
  (void)state;
  tv_policy *p = NULL;
  policy_limits none = {0};
  assert_int_equal(policy_new(&p), TV_OK);
  assert_int_equal(policy_add_role(p, "crm", &none), TV_OK);
  assert_int_equal(policy_add_role(p, "open", &none), TV_OK);
  assert_int_equal(policy_role_grant(p, "crm", "pan", TV_PERM_TOKENIZE), TV_OK);
  assert_int_equal(policy_role_grant(p, "open", "iban", TV_PERM_TOKENIZE), TV_OK);
  assert_int_equal(policy_role_allow_network(p, "crm", "10.1.0.0/16"), TV_OK);
  assert_int_equal(policy_role_allow_network(p, "crm", "fd00:1::/32"), TV_OK);
  assert_int_equal(policy_role_allow_network(p, "crm", "10.1.0.0/8"), TV_E_POLICY_CONFIG);
  assert_int_equal(policy_bind_principal(p, "spiffe://crm", "crm"), TV_OK);
  assert_int_equal(policy_bind_principal(p, "spiffe://crm", "open"), TV_OK);
  policy_freeze(p);
  struct {
    const char *peer;
    const char *ns;
    tv_status want;
  } cases[] = {
      {"ipv4:10.1.2.3:4000", "pan", TV_OK},
      {"ipv4:10.2.2.3:4000", "pan", TV_E_POLICY_NETWORK},
      {"ipv6:[fd00:1::5]:4000", "pan", TV_OK},
      {"ipv6:%5Bfd00:2::5%5D:4000", "pan", TV_E_POLICY_NETWORK},
      {"ipv6:[::ffff:10.1.0.9]:4000", "pan", TV_OK},
      {"unix:/tmp/sock", "pan", TV_E_POLICY_PEER},
      {"garbage", "pan", TV_E_POLICY_PEER},
      {NULL, "pan", TV_E_POLICY_PEER},
      /* A role with no allowlist accepts any peer, even an odd one. */
      {"unix:/tmp/sock", "iban", TV_OK},
      {"ipv4:8.8.8.8:1", "iban", TV_OK},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    policy_request req = {.principal = "spiffe://crm", .peer = cases[i].peer,
                          .permission = TV_PERM_TOKENIZE, .ns = cases[i].ns, .items = 1};
    policy_decision d;
    assert_int_equal(policy_check(p, NULL, &req, &d), cases[i].want);
  }
  policy_release(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cidr_parse),
      cmocka_unit_test(test_peer_parse),
      cmocka_unit_test(test_contains),
      cmocka_unit_test(test_policy_networks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
