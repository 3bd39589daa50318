/* Client networks: CIDR allowlist entries and gRPC peer strings, both
 * reduced to 16-byte addresses (IPv4 as IPv4-mapped IPv6) so one
 * comparison serves both families. */
#ifndef TV_POLICY_NETWORK_H
#define TV_POLICY_NETWORK_H

#include <stdint.h>

#include "vault/util/status.h"

typedef struct policy_net {
  uint8_t addr[16];
  unsigned prefix_len; /* 0..128, in the 16-byte space */
} policy_net;

/* policy_net_parse parses |text| ("10.0.0.0/8", "::1/128", "192.0.2.7")
 * into |out|. TV_E_POLICY_CONFIG if malformed, the prefix is out of range
 * or host bits are set (a likely typo: 10.1.0.0/8). */
tv_status policy_net_parse(const char *text, policy_net *out);

/* policy_peer_parse extracts the address of a gRPC peer string
 * ("ipv4:A.B.C.D:PORT", "ipv6:[ADDR]:PORT", brackets possibly
 * percent-encoded, zone "%25if" ignored) into |out_addr|. TV_E_POLICY_PEER
 * for anything else (unix sockets included). A leading "http:" (the HTTP
 * transport's peers, "http:ipv4:A.B.C.D:PORT") is skipped. */
tv_status policy_peer_parse(const char *peer, uint8_t out_addr[16]);

/* policy_net_contains returns 1 if |addr| lies in |net|, else 0. */
int policy_net_contains(const policy_net *net, const uint8_t addr[16]);

#endif
