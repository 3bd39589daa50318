#include "vault/policy/network.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Longest text of an address we accept, zone and brackets excluded. */
#define NET_ADDR_TEXT_MAX 63u

static void map_v4(const uint8_t v4[4], uint8_t out[16]) {
  memset(out, 0, 10);
  out[10] = 0xff;
  out[11] = 0xff;
  memcpy(out + 12, v4, 4);
}

/* parse_addr accepts an IPv4 or IPv6 literal of exactly |len| bytes;
 * *out_v4 tells which it was. */
static int parse_addr(const char *text, size_t len, uint8_t out[16], int *out_v4) {
  char buf[NET_ADDR_TEXT_MAX + 1];
  if (len == 0 || len > NET_ADDR_TEXT_MAX) {
    return 0;
  }
  memcpy(buf, text, len);
  buf[len] = '\0';
  uint8_t v4[4];
  if (inet_pton(AF_INET, buf, v4) == 1) {
    map_v4(v4, out);
    *out_v4 = 1;
    return 1;
  }
  *out_v4 = 0;
  return inet_pton(AF_INET6, buf, out) == 1;
}

static int host_bits_clear(const policy_net *net) {
  for (unsigned bit = net->prefix_len; bit < 128; bit++) {
    if (net->addr[bit / 8] & (0x80u >> (bit % 8))) {
      return 0;
    }
  }
  return 1;
}

tv_status policy_net_parse(const char *text, policy_net *out) {
  TV_ENSURE(text != NULL && out != NULL, TV_E_INVALID_ARGUMENT);
  const char *slash = strchr(text, '/');
  size_t addr_len = slash != NULL ? (size_t)(slash - text) : strlen(text);
  int v4 = 0;
  TV_ENSURE(parse_addr(text, addr_len, out->addr, &v4), TV_E_POLICY_CONFIG);
  unsigned width = v4 ? 32u : 128u;
  unsigned prefix = width;
  if (slash != NULL) {
    const char *digits = slash + 1;
    size_t n = strlen(digits);
    TV_ENSURE(n >= 1 && n <= 3 && strspn(digits, "0123456789") == n, TV_E_POLICY_CONFIG);
    prefix = (unsigned)strtoul(digits, NULL, 10);
    TV_ENSURE(prefix <= width, TV_E_POLICY_CONFIG);
  }
  out->prefix_len = v4 ? prefix + 96u : prefix;
  TV_ENSURE(host_bits_clear(out), TV_E_POLICY_CONFIG);
  return TV_OK;
}

/* unbracket finds the IPv6 literal between "[" / "%5B" and "]" / "%5D";
 * the rest must be ":PORT". */
static int unbracket(const char *s, const char **out_start, size_t *out_len) {
  size_t open = 0;
  if (s[0] == '[') {
    open = 1;
  } else if (strncasecmp(s, "%5B", 3) == 0) {
    open = 3;
  } else {
    return 0;
  }
  const char *start = s + open;
  const char *end = start;
  while (*end != '\0' && *end != ']' && strncasecmp(end, "%5D", 3) != 0) {
    end++;
  }
  if (*end == '\0') {
    return 0;
  }
  size_t close = *end == ']' ? 1 : 3;
  const char *port = end + close;
  size_t len = (size_t)(end - start);
  /* A zone ("fe80::1%25eth0") says which interface, not which host. */
  const char *zone = memchr(start, '%', len);
  if (zone != NULL) {
    len = (size_t)(zone - start);
  }
  *out_start = start;
  *out_len = len;
  return port[0] == ':' && port[1] != '\0' && strspn(port + 1, "0123456789") == strlen(port + 1);
}

tv_status policy_peer_parse(const char *peer, uint8_t out_addr[16]) {
  TV_ENSURE(peer != NULL && out_addr != NULL, TV_E_POLICY_PEER);
  /* The HTTP transport names itself before the address
   * ("http:ipv4:10.0.0.5:51234", vault/server/http/) so the audit log
   * tells the transports apart; the network rules see the address. */
  if (strncmp(peer, "http:", 5) == 0) {
    peer += 5;
  }
  int v4 = 0;
  if (strncmp(peer, "ipv4:", 5) == 0) {
    const char *addr = peer + 5;
    const char *colon = strrchr(addr, ':');
    TV_ENSURE(colon != NULL && colon[1] != '\0', TV_E_POLICY_PEER);
    TV_ENSURE(strspn(colon + 1, "0123456789") == strlen(colon + 1), TV_E_POLICY_PEER);
    TV_ENSURE(parse_addr(addr, (size_t)(colon - addr), out_addr, &v4) && v4, TV_E_POLICY_PEER);
    return TV_OK;
  }
  if (strncmp(peer, "ipv6:", 5) == 0) {
    const char *start = NULL;
    size_t len = 0;
    TV_ENSURE(unbracket(peer + 5, &start, &len), TV_E_POLICY_PEER);
    TV_ENSURE(parse_addr(start, len, out_addr, &v4) && !v4, TV_E_POLICY_PEER);
    return TV_OK;
  }
  return TV_E_POLICY_PEER;
}

int policy_net_contains(const policy_net *net, const uint8_t addr[16]) {
  assert(net->prefix_len <= 128);
  unsigned full = net->prefix_len / 8;
  if (memcmp(net->addr, addr, full) != 0) {
    return 0;
  }
  unsigned rest = net->prefix_len % 8;
  if (rest == 0) {
    return 1;
  }
  uint8_t mask = (uint8_t)(0xffu << (8 - rest));
  return (net->addr[full] & mask) == (addr[full] & mask);
}
