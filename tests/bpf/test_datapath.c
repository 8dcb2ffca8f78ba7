// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Data-path tests run through BPF_PROG_TEST_RUN: every packet class, malformed input at
 * every length, lists and bans, rules, limits; each checked by its verdict and by the
 * exact change of every counter of the interface.
 */
#include <stdlib.h>
#include "harness.h"
#include "pins.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format 14 breaks a braced macro body over four lines: */
/* clang-format off */
#define TCP4(...) { .family = 4, .proto = IPPROTO_TCP, __VA_ARGS__ }
#define UDP4(...) { .family = 4, .proto = IPPROTO_UDP, __VA_ARGS__ }
#define ICMP4(...) { .family = 4, .proto = IPPROTO_ICMP, __VA_ARGS__ }
#define TCP6(...) { .family = 6, .proto = IPPROTO_TCP, __VA_ARGS__ }
#define UDP6(...) { .family = 6, .proto = IPPROTO_UDP, __VA_ARGS__ }
#define ICMP6(...) { .family = 6, .proto = IPPROTO_ICMPV6, __VA_ARGS__ }
#define ARP() { .family = 0 }
/* clang-format on */

#define PASS_NONE W(1, NR, PASS, NONE)
#define NONIP W(1, NR, PASS, NONIP)
#define MALF_PASS W(1, NR, PASS, MALFORMED)
#define MALF_DROP W(1, NR, DROP, MALFORMED)
#define ALLOWED W(1, NR, PASS, ALLOWLIST)
#define BLOCKED W(1, NR, DROP, BLOCKLIST)
#define BANNED W(1, NR, DROP, BAN)
#define ACL(i) W(1, SLOT(i), DROP, ACL)
#define HIT(i) W(1, SLOT(i), PASS, NONE)
#define LIMITED(n, i) W(n, SLOT(i), DROP, RATELIMIT)

/* clang-format 14 breaks a braced macro body over four lines: */
/* clang-format off */
#define L(kind, expiry, cidr) { ENTRY_##kind, expiry, cidr }
#define STEP(pkt_, n_, ...) { .pkt = pkt_, .n = (n_), .want = { __VA_ARGS__ } }
/* clang-format on */
#define ONE(pkt_, want_) .steps = { { .pkt = pkt_, .n = 1, .want = { want_ } } }

/* Every packet class, with no policy and then under a rule of the kind that should match it. */
static const struct class_case {
	const char *desc;
	struct pkt_spec pkt;
	struct rule_case rule;
	struct want bare, ruled;
} classes[] = {
	{ "arp", ARP(), R(ACT(DROP)), NONIP, NONIP },
	{ "ipv4 tcp syn", TCP4(), R(PROTO(TCP), DPORT(80, 80), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv4 tcp with ip and tcp options", TCP4(.ip_opts = 8, .tcp_opts = 12, .len = 120),
	  R(PROTO(TCP), DPORT(80, 80), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv4 udp", UDP4(.dport = 53), R(PROTO(UDP), DPORT(53, 53), ACT(DROP)), PASS_NONE,
	  ACL(0) },
	{ "ipv4 icmp", ICMP4(), R(PROTO(ICMP), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv4 gre (no l4 header read)",
	  { .family = 4, .proto = IPPROTO_GRE, .len = 60 },
	  R(.family = SLUICE_FAMILY_IPV4, ACT(DROP)),
	  PASS_NONE,
	  ACL(0) },
	{ "ipv4 udp with ethernet padding", UDP4(.dport = 53, .trailer = 10),
	  R(PROTO(UDP), DPORT(53, 53), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "vlan ipv4 udp", UDP4(.vlans = 1, .dport = 53), R(PROTO(UDP), DPORT(53, 53), ACT(DROP)),
	  PASS_NONE, ACL(0) },
	{ "qinq ipv4 tcp", TCP4(.vlans = 2), R(PROTO(TCP), DPORT(80, 80), ACT(DROP)), PASS_NONE,
	  ACL(0) },
	{ "ipv4 first fragment tcp", TCP4(.frag = FRAG_FIRST),
	  R(PROTO(TCP), DPORT(80, 80), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv4 non-first fragment udp", UDP4(.frag = FRAG_LATER, .dport = 53),
	  R(PROTO(UDP), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv6 tcp syn", TCP6(), R(PROTO(TCP), DPORT(80, 80), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv6 udp", UDP6(.dport = 53), R(PROTO(UDP), DPORT(53, 53), ACT(DROP)), PASS_NONE,
	  ACL(0) },
	{ "ipv6 icmpv6", ICMP6(), R(PROTO(ICMP), .family = SLUICE_FAMILY_IPV6, ACT(DROP)),
	  PASS_NONE, ACL(0) },
	{ "ipv6 tcp behind hop-by-hop, routing, dest-opts", TCP6(.ext = "HRD"),
	  R(PROTO(TCP), DPORT(80, 80), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv6 udp behind ah", UDP6(.ext = "A", .dport = 53),
	  R(PROTO(UDP), DPORT(53, 53), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv6 udp behind six extension headers", UDP6(.ext = "HRDDAD", .dport = 53),
	  R(PROTO(UDP), DPORT(53, 53), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "vlan ipv6 tcp", TCP6(.vlans = 1), R(PROTO(TCP), DPORT(80, 80), ACT(DROP)), PASS_NONE,
	  ACL(0) },
	{ "qinq ipv6 udp", UDP6(.vlans = 2, .dport = 53), R(PROTO(UDP), DPORT(53, 53), ACT(DROP)),
	  PASS_NONE, ACL(0) },
	{ "ipv6 first fragment udp", UDP6(.frag = FRAG_FIRST, .dport = 53),
	  R(PROTO(UDP), DPORT(53, 53), ACT(DROP)), PASS_NONE, ACL(0) },
	{ "ipv6 non-first fragment tcp", TCP6(.frag = FRAG_LATER), R(PROTO(TCP), ACT(DROP)),
	  PASS_NONE, ACL(0) },
	{ "ipv6 non-first fragment behind hop-by-hop, routing, dest-opts",
	  UDP6(.ext = "HRD", .frag = FRAG_LATER), R(PROTO(UDP), ACT(DROP)), PASS_NONE, ACL(0) },
};

/* Malformed packets: passed by default, dropped under SLUICE_POLICY_MALFORMED_DROP. */
static const struct malformed_case {
	const char *desc;
	struct pkt_spec pkt;
} malformed[] = {
	{ "three vlan tags", UDP4(.vlans = 3) },
	{ "ipv4 ethertype, version 5", TCP4(.version = 5) },
	{ "ipv6 ethertype, version 4", TCP6(.version = 4) },
	{ "ipv4 ihl 4", TCP4(.ihl = 4) },
	{ "ipv4 ihl 15, options cut off by the frame", UDP4(.ihl = 15) },
	{ "ipv4 total length 1 beyond the frame", TCP4(.len_adj = 1) },
	{ "ipv4 total length 19, under its header", ICMP4(.len_adj = -9) },
	{ "ipv6 payload length 1 beyond the frame", UDP6(.len_adj = 1) },
	{ "ipv6 seven extension headers", UDP6(.ext = "HDDDDDD") },
	{ "ipv6 extension header cut by the payload length", TCP6(.ext = "D", .len_adj = -30) },
	{ "ipv6 extension header longer than the payload, no next header",
	  { .family = 6, .proto = IPPROTO_NONE, .ext = "D", .len_adj = -8 } },
	{ "tcp data offset 4", TCP4(.doff = 4) },
	{ "ipv6 tcp data offset 4 behind extension headers", TCP6(.ext = "HR", .doff = 4) },
	{ "tcp header cut by the ip total length", TCP4(.len_adj = -1) },
	{ "udp header cut by the ip total length", UDP6(.len_adj = -1) },
	{ "icmp header of 3 bytes", ICMP4(.len_adj = -5) },
	{ "icmpv6 header of 3 bytes", ICMP6(.len_adj = -5) },
};

static const struct scenario scenarios[] = {
	/* Allowlist, blocklist and bans */
	{ "allow beats block for the same /32",
	  .lists = { L(ALLOW, PERMANENT, "198.18.0.1/32"), L(BLOCK, PERMANENT, "198.18.0.1/32") },
	  ONE(TCP4(), ALLOWED) },
	{ "a /32 allow inside a /16 block",
	  .lists = { L(ALLOW, PERMANENT, "198.18.0.1/32"), L(BLOCK, PERMANENT, "198.18.0.0/16") },
	  .steps = { STEP(TCP4(), 1, ALLOWED), STEP(TCP4(.src = "198.18.200.7"), 1, BLOCKED),
		     STEP(TCP4(.src = "203.0.113.9"), 1, PASS_NONE) } },
	{ "an ipv6 /128 allow inside a /32 block",
	  .lists = { L(ALLOW, PERMANENT, "2001:db8::1/128"), L(BLOCK, PERMANENT, "2001:db8::/32") },
	  .steps = { STEP(TCP6(), 1, ALLOWED), STEP(TCP6(.src = "2001:db8:5::9"), 1, BLOCKED),
		     STEP(TCP6(.src = "fd00::9"), 1, PASS_NONE) } },
	{ "an expired block no longer drops", .lists = { L(BLOCK, EXPIRED, "198.18.0.1/32") },
	  ONE(TCP4(), PASS_NONE) },
	{ "a block that expires later drops", .lists = { L(BLOCK, LIVE, "198.18.0.1/32") },
	  ONE(TCP4(), BLOCKED) },
	{ "an expired /24 block inside a permanent /16 block still drops",
	  .lists = { L(BLOCK, EXPIRED, "198.18.0.0/24"), L(BLOCK, PERMANENT, "198.18.0.0/16") },
	  ONE(TCP4(), BLOCKED) },
	{ "an expired /24 block inside an expired /16 block passes",
	  .lists = { L(BLOCK, EXPIRED, "198.18.0.0/24"), L(BLOCK, EXPIRED, "198.18.0.0/16") },
	  ONE(TCP4(), PASS_NONE) },
	{ "an expired ipv6 /64 block inside a permanent /32 block still drops",
	  .lists = { L(BLOCK, EXPIRED, "2001:db8::/64"), L(BLOCK, PERMANENT, "2001:db8::/32") },
	  ONE(UDP6(), BLOCKED) },
	{ "an expired allow does not beat a block",
	  .lists = { L(ALLOW, EXPIRED, "198.18.0.1/32"), L(BLOCK, PERMANENT, "198.18.0.0/16") },
	  ONE(TCP4(), BLOCKED) },
	{ "lists are not read unless the policy flags enable them",
	  .lists = { L(BLOCK, PERMANENT, "198.18.0.0/16") }, .lists_off = true,
	  ONE(TCP4(), PASS_NONE) },
	{ "the blocklist comes before rules", .rules = { R(ACT(PASS)) },
	  .lists = { L(BLOCK, PERMANENT, "198.18.0.0/15") }, ONE(TCP4(), BLOCKED) },
	{ "the allowlist beats a drop rule", .rules = { R(ACT(DROP)) },
	  .lists = { L(ALLOW, PERMANENT, "198.18.0.0/15") }, ONE(TCP4(), ALLOWED) },
	{ "a live ban drops its /24 and nothing else", .lists = { L(BAN, LIVE, "198.18.0.0/24") },
	  .steps = { STEP(TCP4(), 1, BANNED), STEP(UDP4(.src = "198.18.0.250"), 1, BANNED),
		     STEP(TCP4(.src = "198.18.1.1"), 1, PASS_NONE) } },
	{ "an expired ban no longer drops", .lists = { L(BAN, EXPIRED, "198.18.0.0/24") },
	  ONE(TCP4(), PASS_NONE) },
	{ "a live ipv6 /64 ban", .lists = { L(BAN, LIVE, "2001:db8::/64") },
	  .steps = { STEP(TCP6(.src = "2001:db8::ffff"), 1, BANNED),
		     STEP(TCP6(.src = "2001:db8:0:1::1"), 1, PASS_NONE) } },
	{ "the allowlist beats a ban",
	  .lists = { L(BAN, LIVE, "198.18.0.1/32"), L(ALLOW, PERMANENT, "198.18.0.1/32") },
	  ONE(TCP4(), ALLOWED) },
	{ "a ban beats rules", .rules = { R(ACT(PASS)) },
	  .lists = { L(BAN, LIVE, "198.18.0.1/32") }, ONE(TCP4(), BANNED) },
	{ "a blocked source with a bad tcp header is blocked, not malformed",
	  .lists = { L(BLOCK, PERMANENT, "198.18.0.1/32") }, ONE(TCP4(.doff = 4), BLOCKED) },
	{ "an allowed source with a bad tcp header passes as allowed",
	  .lists = { L(ALLOW, PERMANENT, "198.18.0.1/32") }, .malformed_drop = true,
	  ONE(TCP4(.doff = 4), ALLOWED) },
	{ "a banned source with a short udp header is banned",
	  .lists = { L(BAN, LIVE, "198.18.0.1/32") }, ONE(UDP4(.len_adj = -1), BANNED) },
	{ "a blocked source with ihl 4 is malformed, before the lists",
	  .lists = { L(BLOCK, PERMANENT, "198.18.0.1/32") }, .malformed_drop = true,
	  ONE(TCP4(.ihl = 4), MALF_DROP) },

	/* Rule matching */
	{ "first match wins",
	  .rules = { R(PROTO(TCP), DPORT(80, 80), ACT(DROP)), R(PROTO(TCP), ACT(PASS)) },
	  .steps = { STEP(TCP4(), 1, ACL(0)), STEP(TCP4(.dport = 443), 1, HIT(1)),
		     STEP(UDP4(), 1, PASS_NONE) } },
	{ "first match wins, other order",
	  .rules = { R(PROTO(TCP), ACT(PASS)), R(PROTO(TCP), DPORT(80, 80), ACT(DROP)) },
	  ONE(TCP4(), HIT(0)) },
	{ "dport range 1000-2000, tcp and udp", .rules = { R(DPORT(1000, 2000), ACT(DROP)) },
	  .steps = { STEP(TCP4(.dport = 999), 1, PASS_NONE), STEP(TCP4(.dport = 1000), 1, ACL(0)),
		     STEP(UDP6(.dport = 2000), 1, ACL(0)), STEP(UDP4(.dport = 2001), 1, PASS_NONE),
		     STEP(ICMP4(), 1, PASS_NONE) } },
	{ "syn rule: syn and syn+ece, not syn+ack, ack or udp",
	  .rules = { R(.flags = SLUICE_RULE_SYN, ACT(DROP)) },
	  .steps = { STEP(TCP4(), 1, ACL(0)), STEP(TCP6(.tcp_flags = TCP_SYN | 0x40), 1, ACL(0)),
		     STEP(TCP4(.tcp_flags = TCP_SYN | TCP_ACK), 1, PASS_NONE),
		     STEP(TCP4(.tcp_flags = TCP_ACK), 1, PASS_NONE), STEP(UDP4(), 1, PASS_NONE) } },
	{ "syn rule does not match a non-first fragment",
	  .rules = { R(.flags = SLUICE_RULE_SYN, ACT(DROP)) },
	  .steps = { STEP(TCP4(.frag = FRAG_LATER), 1, PASS_NONE),
		     STEP(TCP6(.frag = FRAG_LATER), 1, PASS_NONE),
		     STEP(TCP4(.frag = FRAG_FIRST), 1, ACL(0)) } },
	{ "dport rule does not match a non-first fragment",
	  .rules = { R(DPORT(80, 80), ACT(DROP)) },
	  .steps = { STEP(TCP4(.frag = FRAG_LATER), 1, PASS_NONE),
		     STEP(UDP6(.frag = FRAG_LATER, .ext = "H"), 1, PASS_NONE),
		     STEP(UDP6(.frag = FRAG_FIRST), 1, ACL(0)) } },
	{ "family rule", .rules = { R(.family = SLUICE_FAMILY_IPV6, ACT(DROP)) },
	  .steps = { STEP(TCP4(), 1, PASS_NONE), STEP(TCP6(), 1, ACL(0)) } },
	{ "icmp rule matches icmp and icmpv6, not tcp", .rules = { R(PROTO(ICMP), ACT(DROP)) },
	  .steps = { STEP(ICMP4(), 1, ACL(0)), STEP(ICMP6(), 1, ACL(0)),
		     STEP(TCP4(), 1, PASS_NONE) } },
	{ "ipv4 dst prefix rule", .rules = { R_DST("192.0.2.0/24", ACT(DROP)) },
	  .steps = { STEP(TCP4(.dst = "192.0.2.77"), 1, ACL(0)),
		     STEP(TCP4(.dst = "198.51.100.1"), 1, PASS_NONE),
		     STEP(TCP6(), 1, PASS_NONE) } },
	{ "ipv6 dst prefix rule", .rules = { R_DST("fd00::/8", ACT(DROP)) },
	  .steps = { STEP(UDP6(.dst = "fd12::1"), 1, ACL(0)),
		     STEP(UDP6(.dst = "2001:db8::2"), 1, PASS_NONE), STEP(UDP4(), 1, PASS_NONE) } },
	{ "rules without limits: drop, monitor, pass",
	  .rules = { R(PROTO(TCP), ACT(DROP)), R(PROTO(UDP), ACT(MONITOR)), R(ACT(PASS)) },
	  .steps = { STEP(TCP4(), 1, ACL(0)), STEP(UDP4(), 1, W(1, SLOT(1), MONITOR, ACL)),
		     STEP(ICMP6(), 1, HIT(2)) } },

	/* Limits */
	{ "rate 1/s burst 10: 10 of 100 pass",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 10) } }) },
	  .steps = { STEP(TCP4(), 100, W(10, SLOT(0), PASS, NONE), LIMITED(90, 0)) } },
	{ "1000 B/s burst 3000 B: 30 of 100 100-byte frames pass",
	  .rules = { R(ACT(DROP), .limits = { { BYTES(1000, 3000) } }) },
	  .steps = { STEP(TCP4(.len = 100), 100, W(30, SLOT(0), PASS, NONE), LIMITED(70, 0)) } },
	{ "monitor passes what the limit refuses",
	  .rules = { R(ACT(MONITOR), .limits = { { PKTS(1, 5) } }) },
	  .steps = { STEP(TCP4(), 20, W(5, SLOT(0), PASS, NONE),
			  W(15, SLOT(0), MONITOR, RATELIMIT)) } },
	{ "ban bans the limit's /24, on any port",
	  .rules = { R(ACT(BAN), .limits = { { PKTS(1, 3), .prefix4 = 24 } }) },
	  .steps = { STEP(TCP4(), 4, W(3, SLOT(0), PASS, NONE), W(1, SLOT(0), BAN, RATELIMIT)),
		     STEP(UDP4(.dport = 443), 1, BANNED),
		     STEP(TCP4(.src = "198.18.0.77"), 1, BANNED),
		     STEP(TCP4(.src = "198.18.1.1"), 1, HIT(0)) },
	  .want_ban = "198.18.0.0/24" },
	{ "ban bans the limit's ipv6 /64",
	  .rules = { R(ACT(BAN), .limits = { { PKTS(1, 2), .prefix6 = 64 } }) },
	  .steps = { STEP(TCP6(), 3, W(2, SLOT(0), PASS, NONE), W(1, SLOT(0), BAN, RATELIMIT)),
		     STEP(TCP6(.src = "2001:db8::ffff"), 1, BANNED),
		     STEP(TCP6(.src = "2001:db8:0:1::1"), 1, HIT(0)) },
	  .want_ban = "2001:db8::/64" },
	{ "ban on a global limit bans the single address",
	  .rules = { R(ACT(BAN), .limits = { { PKTS(1, 1), .key = SLUICE_KEY_GLOBAL } }) },
	  .steps = { STEP(TCP4(), 2, HIT(0), W(1, SLOT(0), BAN, RATELIMIT)),
		     STEP(TCP4(.src = "198.18.0.2"), 1, W(1, SLOT(0), BAN, RATELIMIT)),
		     STEP(TCP4(), 1, BANNED) } },
	{ "prefix4 24: one /24 shares a bucket",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 2), .prefix4 = 24 } }) },
	  .steps = { STEP(TCP4(), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP4(.src = "198.18.0.200"), 1, LIMITED(1, 0)),
		     STEP(TCP4(.src = "198.18.1.1"), 2, W(2, SLOT(0), PASS, NONE)) } },
	{ "prefix4 32: each address has its bucket",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 2), .prefix4 = 32 } }) },
	  .steps = { STEP(TCP4(), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP4(.src = "198.18.0.2"), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP4(), 1, LIMITED(1, 0)) } },
	{ "prefix6 64: one /64 shares a bucket",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 2), .prefix6 = 64 } }) },
	  .steps = { STEP(TCP6(), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP6(.src = "2001:db8::beef"), 1, LIMITED(1, 0)),
		     STEP(TCP6(.src = "2001:db8:0:1::1"), 2, W(2, SLOT(0), PASS, NONE)) } },
	{ "prefix6 128: each address has its bucket",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 2) } }) },
	  .steps = { STEP(TCP6(), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP6(.src = "2001:db8::2"), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP6(), 1, LIMITED(1, 0)) } },
	{ "dport in the key: one bucket per port",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 2), .flags = SLUICE_LIMIT_DPORT } }) },
	  .steps = { STEP(TCP4(), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP4(.dport = 443), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP4(), 1, LIMITED(1, 0)) } },
	{ "no dport in the key: ports share the bucket",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 2) } }) },
	  .steps = { STEP(TCP4(), 2, W(2, SLOT(0), PASS, NONE)),
		     STEP(TCP4(.dport = 443), 1, LIMITED(1, 0)) } },
	{ "global: sources of both families share one bucket",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 2), .key = SLUICE_KEY_GLOBAL } }) },
	  .steps = { STEP(TCP4(), 1, HIT(0)), STEP(UDP4(.src = "203.0.113.5"), 1, HIT(0)),
		     STEP(TCP6(), 1, LIMITED(1, 0)) } },
	{ "three limits: the second refuses",
	  .rules = { R(ACT(DROP),
		       .limits = { { PKTS(1, 100) }, { PKTS(1, 2) }, { PKTS(1, 100) } }) },
	  .steps = { STEP(TCP4(), 5, W(2, SLOT(0), PASS, NONE), LIMITED(3, 0)) } },
	{ "three limits: a refusal by the third refunds the first",
	  .rules = { R(ACT(DROP), .limits = { { PKTS(1, 3) },
					      { PKTS(1, 100) },
					      { PKTS(1, 1), .flags = SLUICE_LIMIT_DPORT } }) },
	  .steps = { STEP(TCP4(), 6, HIT(0), LIMITED(5, 0)), STEP(TCP4(.dport = 443), 1, HIT(0)),
		     STEP(TCP4(.dport = 8080), 1, HIT(0)),
		     STEP(TCP4(.dport = 8443), 1, LIMITED(1, 0)) } },
	{ "limits of two rules are separate",
	  .rules = { R(PROTO(TCP), ACT(DROP), .limits = { { PKTS(1, 1) } }),
		     R(ACT(DROP), .limits = { { PKTS(1, 1) } }) },
	  .steps = { STEP(TCP4(), 2, HIT(0), LIMITED(1, 0)),
		     STEP(UDP4(), 2, HIT(1), LIMITED(1, 1)) } },
};

/* Frames cut at every length: each must run, and be malformed unless a list decides first. */
static const struct trunc_case {
	const char *desc;
	struct pkt_spec pkt;
	const char *block; /* a prefix holding the source */
} truncs[] = {
	{ "ipv4 tcp with options", TCP4(.ip_opts = 8, .tcp_opts = 12, .len = 100),
	  "198.18.0.0/15" },
	{ "ipv6 tcp behind 3 extension headers", TCP6(.ext = "HRD", .len = 140), "2001:db8::/32" },
	{ "vlan ipv4 udp", UDP4(.vlans = 1, .dport = 53, .len = 70), "198.18.0.0/15" },
	{ "qinq ipv4 tcp", TCP4(.vlans = 2, .len = 80), "198.18.0.0/15" },
	{ "ipv6 first fragment udp", UDP6(.frag = FRAG_FIRST, .len = 90), "2001:db8::/32" },
};

/* Sends n copies of the first len bytes of f; checks the verdicts and the counter deltas. */
static bool send_expect(const struct frame *f, __u32 len, __u32 n, const struct want *w)
{
	static struct snap before, after;
	__u32 retval = 0, passed = 0, want_passed = 0;
	int err = snap_read(&before);

	for (__u32 i = 0; i < n && !err; i++) {
		err = run_xdp(H.prog, f, len, 1, &retval, NULL);
		if (!err && retval != XDP_PASS && retval != XDP_DROP)
			err = -ERANGE;
		passed += retval == XDP_PASS;
	}
	err = err ?: snap_read(&after);
	if (err) {
		tap_diag("test run: %s", strerror(-err));
		return false;
	}
	for (int k = 0; k < WANTS_MAX; k++)
		if (w[k].verdict == SLUICE_VERDICT_PASS || w[k].verdict == SLUICE_VERDICT_MONITOR)
			want_passed += w[k].n;
	return snap_expect(&before, &after, w, len) &
	       TAP_EXPECT_EQ("XDP_PASS verdicts", passed, want_passed);
}

static bool check_ban(const char *cidr)
{
	struct sluice_ban_key key = {}, next;
	struct sluice_ban ban;
	__u32 plen, n = 0;
	__u64 now = mono_ns();

	for (void *prev = NULL; !bpf_map_get_next_key(H.bans, prev, &next); prev = &next)
		n++;
	parse_cidr(cidr, key.addr, &plen);
	key.prefixlen = plen;
	if (bpf_map_lookup_elem(H.bans, &key, &ban)) {
		tap_diag("no ban entry for %s", cidr);
		return false;
	}
	/* Stamped with the coarse clock, at most a tick behind now, a few ticks ago. */
	return TAP_EXPECT_EQ("ban entries", n, 1) &
	       TAP_EXPECT_EQ("ban slot", ban.stat_slot, SLOT(0)) &
	       TAP_EXPECT_EQ("ban expires within a second before now + ban time",
			     ban.expires_ns <= now + BAN_NS &&
				     ban.expires_ns > now + BAN_NS - 1000000000ULL,
			     1);
}

static bool run_scenario(const struct scenario *sc, __u32 active)
{
	struct frame f;
	bool ok = !scenario_apply(sc, active);

	for (int i = 0; ok && i < STEPS_MAX && sc->steps[i].n; i++) {
		build_frame(&sc->steps[i].pkt, &f);
		ok = send_expect(&f, f.len, sc->steps[i].n, sc->steps[i].want);
		if (!ok)
			tap_diag("at step %d", i + 1);
	}
	if (ok && sc->want_ban)
		ok = check_ban(sc->want_ban);
	tap_result(ok, "%s (active %u)", sc->desc, active);
	return ok;
}

static void test_classes(void)
{
	char desc[128];

	for (size_t i = 0; i < ARRAY_SIZE(classes); i++) {
		const struct class_case *c = &classes[i];
		struct scenario sc = { .desc = desc, .steps = { STEP(c->pkt, 1, c->bare) } };

		snprintf(desc, sizeof(desc), "%s, no policy", c->desc);
		run_scenario(&sc, i % 4);
		sc.rules[0] = c->rule;
		sc.steps[0].want[0] = c->ruled;
		snprintf(desc, sizeof(desc), "%s, matched by a rule", c->desc);
		run_scenario(&sc, (i + 1) % 4);
	}
}

static void test_malformed(void)
{
	char desc[128];

	for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
		const struct malformed_case *c = &malformed[i];
		struct scenario sc = { .desc = desc, .steps = { STEP(c->pkt, 1, MALF_PASS) } };

		snprintf(desc, sizeof(desc), "malformed: %s, passed", c->desc);
		run_scenario(&sc, i % 4);
		sc.malformed_drop = true;
		sc.steps[0].want[0] = (struct want)MALF_DROP;
		snprintf(desc, sizeof(desc), "malformed: %s, dropped by policy", c->desc);
		run_scenario(&sc, (i + 1) % 4);
	}
}

static void test_truncation(const struct trunc_case *c, __u32 min_len, bool drop, bool blocked)
{
	const struct want pass[WANTS_MAX] = { PASS_NONE }, block[WANTS_MAX] = { BLOCKED },
			  malf[WANTS_MAX] = { MALF_PASS }, malf_drop[WANTS_MAX] = { MALF_DROP };
	struct scenario sc = { .malformed_drop = drop };
	struct frame f;
	bool ok;

	if (blocked)
		sc.lists[0] = (struct list_spec)L(BLOCK, PERMANENT, c->block);
	build_frame(&c->pkt, &f);
	ok = !scenario_apply(&sc, blocked | drop << 1);
	for (__u32 cut = min_len; ok && cut <= f.len; cut++) {
		const struct want *w = drop ? malf_drop : malf;

		if (blocked && cut >= f.ip_hdr_end)
			w = block;
		else if (cut == f.len)
			w = pass;
		ok = send_expect(&f, cut, 1, w);
		if (!ok)
			tap_diag("cut to %u of %u bytes", cut, f.len);
	}
	tap_result(ok, "%s cut at every length, malformed %s%s", c->desc,
		   drop ? "dropped" : "passed", blocked ? ", source blocked" : "");
}

static long count_keys(int fd)
{
	struct sluice_bucket_key cur, next;
	long n = 0;

	while (!bpf_map_get_next_key(fd, n ? &cur : NULL, &next)) {
		cur = next;
		n++;
	}
	return n;
}

/*
 * Four packets of SRC4 under a burst of 3 interleaved with 2000 one-packet sources;
 * with SLOTS_LIVE every limiter slot holds another key's live state.
 */
static bool churn_run(bool slots_live, bool *ok)
{
	const struct scenario sc = { .rules = { R(ACT(DROP), .limits = { { PKTS(1, 3) } }) } };
	struct pkt_spec spec = TCP4();
	__u32 retval = 0, verdicts[4] = {};
	char src[32];
	struct frame f;

	*ok = !scenario_apply(&sc, 0) && (!slots_live || !slots_fill(1, ~0ULL));
	build_frame(&spec, &f);
	for (int i = 0; *ok && i < 2; i++)
		*ok = !run_xdp(H.prog, &f, f.len, 1, &verdicts[i], NULL);
	for (int i = 0; *ok && i < 2000; i++) {
		snprintf(src, sizeof(src), "198.19.%d.%d", i / 250, i % 250 + 1);
		spec.src = src;
		build_frame(&spec, &f);
		*ok = !run_xdp(H.prog, &f, f.len, 1, &retval, NULL) && retval == XDP_PASS;
	}
	spec.src = SRC4;
	build_frame(&spec, &f);
	for (int i = 2; *ok && i < 4; i++)
		*ok = !run_xdp(H.prog, &f, f.len, 1, &verdicts[i], NULL);
	*ok = *ok && TAP_EXPECT_EQ("1st", verdicts[0], XDP_PASS) &&
	      TAP_EXPECT_EQ("2nd", verdicts[1], XDP_PASS) &&
	      TAP_EXPECT_EQ("3rd", verdicts[2], XDP_PASS) &&
	      TAP_EXPECT_EQ("4th, over the burst of 3", verdicts[3], XDP_DROP);
	return *ok;
}

/* Keys on probation whose bucket is not full, as sluice status counts them. */
static long on_probation(void)
{
	return probation_count_live(bpf_map__fd(H.skel->maps.sluice_probation));
}

/* The new-key tier's counts, summed over CPUs. */
static struct sluice_tier_stats tier_read(void)
{
	struct sluice_tier_stats sum = {}, percpu[H.ncpus];
	__u32 zero = 0;

	if (bpf_map_lookup_elem(bpf_map__fd(H.skel->maps.sluice_tierstats), &zero, percpu))
		return sum;
	for (int c = 0; c < H.ncpus; c++) {
		sum.admitted += percpu[c].admitted;
		sum.refused += percpu[c].refused;
		sum.promoted += percpu[c].promoted;
		sum.displaced += percpu[c].displaced;
	}
	return sum;
}

/*
 * Spoofed one-packet sources stay on probation: they take no slot and no map entry,
 * free slots or not. The tracked key (two packets in a row) is given exact state on
 * its second: a free slot, or with every slot live (tag 1 is no key's: tags are odd
 * hashes, but 1 is as good as any other taken tag here) the LRU map; freed slots then
 * take the key over with that state.
 */
static void test_churn(void)
{
	struct sluice_tier_stats t0 = tier_read(), t1;
	bool ok;

	churn_run(false, &ok);
	t1 = tier_read();
	ok = ok && TAP_EXPECT_EQ("keys with live slots", slots_count_live(H.slots), 1) &&
	     TAP_EXPECT_EQ("keys in the LRU map", count_keys(H.buckets), 0) &&
	     TAP_EXPECT_EQ("keys on probation", on_probation(), 2000) &&
	     TAP_EXPECT_EQ("tier admitted", t1.admitted - t0.admitted, 2001) &&
	     TAP_EXPECT_EQ("tier refused", t1.refused - t0.refused, 0) &&
	     TAP_EXPECT_EQ("tier promoted", t1.promoted - t0.promoted, 1);
	tap_result(ok, "2000 one-packet sources stay on probation; the tracked key takes a slot "
		       "and keeps its state");

	churn_run(true, &ok);
	ok = ok && TAP_EXPECT_EQ("tracked keys", count_keys(H.buckets), 1) &&
	     TAP_EXPECT_EQ("keys on probation", on_probation(), 2000);
	tap_result(ok, "every slot live: one-packet sources stay on probation, the tracked key "
		       "moves to the LRU map and keeps its state");

	/* The slots free up: the key's next packet takes one, with the state it had. */
	if (ok) {
		const struct pkt_spec spec = TCP4();
		struct frame f;
		__u32 retval = 0;

		build_frame(&spec, &f);
		ok = !slots_fill(0, 0) && !run_xdp(H.prog, &f, f.len, 1, &retval, NULL) &&
		     TAP_EXPECT_EQ("5th, still over the burst", retval, XDP_DROP) &&
		     TAP_EXPECT_EQ("keys with live slots", slots_count_live(H.slots), 1);
	}
	tap_result(ok, "a key moving from the LRU map into a slot brings its state along");
}

/* Does the slot that holds KEY (of prefix length PLEN) hold KEY in sluice_slotkeys? */
static bool slot_key_is(const struct sluice_bucket_key *key, __u32 plen)
{
	int fd = bpf_map__fd(H.skel->maps.sluice_slotkeys);
	struct sluice_bucket_key rec;
	struct sluice_slot_ref ref;
	struct sluice_slot slot;
	int i;

	sluice_slot_ref(key, plen, &ref);
	for (i = 0; i < 2; i++)
		if (!bpf_map_lookup_elem(H.slots, &ref.idx[i], &slot) && slot.tag == ref.tag)
			break;
	if (!TAP_EXPECT_EQ("a slot holds the key's tag", i < 2, 1) ||
	    bpf_map_lookup_elem(fd, &ref.idx[i], &rec))
		return false;
	return TAP_EXPECT_EQ("its record's limit id", rec.limit_id, key->limit_id) &&
	       TAP_EXPECT_EQ("its record's family", rec.family, key->family) &&
	       TAP_EXPECT_EQ("its record's port", rec.dport, key->dport) &&
	       TAP_EXPECT_EQ("its record is the key", memcmp(&rec, key, sizeof(rec)), 0);
}

/*
 * Probation keeps a key's first packet: its second, found there, goes on from that
 * state in a slot, so the key gets its burst exactly. A key displaced from probation
 * (here every way of every line holds another key's live state) starts again from a
 * full bucket: one packet more than its burst, and the displacement is counted.
 */
static void test_probation(void)
{
	const struct scenario sc = { .rules = { R(ACT(DROP), .limits = { { PKTS(1, 3) } }) } };
	struct pkt_spec spec = TCP4(.src = "198.19.200.7");
	__u64 ahead = (mono_ns() + 60000000000ULL) << SLUICE_TIME_SHIFT;
	struct sluice_tier_stats t0, t1;
	__u32 v[5] = {};
	struct frame f;
	bool ok = !scenario_apply(&sc, 0);

	build_frame(&spec, &f);
	t0 = tier_read();
	for (int i = 0; ok && i < 5; i++) {
		ok = !run_xdp(H.prog, &f, f.len, 1, &v[i], NULL);
		ok = ok && TAP_EXPECT_EQ(i < 3 ? "within the burst" : "over the burst", v[i],
					 i < 3 ? XDP_PASS : XDP_DROP);
	}
	t1 = tier_read();
	ok = ok && TAP_EXPECT_EQ("tier admitted", t1.admitted - t0.admitted, 1) &&
	     TAP_EXPECT_EQ("tier promoted", t1.promoted - t0.promoted, 1) &&
	     TAP_EXPECT_EQ("keys with live slots", slots_count_live(H.slots), 1) &&
	     TAP_EXPECT_EQ("keys on probation", on_probation(), 0);
	tap_result(ok, "a new key gets exactly its burst: first packet on probation, then a slot");
	ok = ok && slot_key_is(&(struct sluice_bucket_key){ .limit_id = 100,
							    .family = SLUICE_FAMILY_IPV4,
							    .addr = { 0, 0, htonl(0xffff),
								      htonl(0xc613c807) } },
			       128);
	tap_result(ok, "the slot a key takes holds its bucket key for sluice limits");

	ok = !scenario_apply(&sc, 0) && !run_xdp(H.prog, &f, f.len, 1, &v[0], NULL);
	for (__u32 l = 0; ok && l < SLUICE_PROBATION_LINES; l++)
		for (__u32 w = 0; w < SLUICE_PROBATION_WAYS; w++) {
			H.probation[l].tag[w] = 1;
			H.probation[l].tat[w] = ahead;
		}
	t0 = tier_read();
	for (int i = 1; ok && i < 5; i++)
		ok = !run_xdp(H.prog, &f, f.len, 1, &v[i], NULL);
	t1 = tier_read();
	ok = ok && TAP_EXPECT_EQ("1st", v[0], XDP_PASS) &&
	     TAP_EXPECT_EQ("2nd, displaced: from a full bucket again", v[1], XDP_PASS) &&
	     TAP_EXPECT_EQ("3rd", v[2], XDP_PASS) &&
	     TAP_EXPECT_EQ("4th, the extra packet", v[3], XDP_PASS) &&
	     TAP_EXPECT_EQ("5th, over the burst", v[4], XDP_DROP) &&
	     TAP_EXPECT_EQ("tier displaced", t1.displaced - t0.displaced, 1);
	tap_result(ok, "a key displaced from probation gets at most one packet more");
}

/*
 * A limit whose burst lasts less than a tick of the coarse clock (here 8 packets at
 * 1M/s: 8 us) must still admit its rate: on the coarse clock it would refill once per
 * tick and admit about burst per tick (~2,000/s at HZ=250). One CPU runs the packet
 * flat out, far above the rate. Time the kernel spends away from the run is left out
 * of its duration but not of the clock, and may add at most a burst per interruption.
 */
static void test_fine_clock(void)
{
	const __u64 rate = 1000000, burst = 8, repeat = 4000000;
	const struct scenario sc = {
		.rules = { R(ACT(DROP), .limits = { { PKTS(rate, burst) } }) },
	};
	const struct pkt_spec spec = TCP4();
	struct snap a, b;
	struct frame f;
	__u32 retval = 0, mean_ns = 0;
	double run_s = 0, admitted = 0, expect = 0;
	bool ok = !scenario_apply(&sc, 0);

	build_frame(&spec, &f);
	ok = ok && !snap_read(&a) && !run_xdp(H.prog, &f, f.len, repeat, &retval, &mean_ns) &&
	     !snap_read(&b);
	if (ok) {
		run_s = (double)mean_ns * repeat / 1e9;
		admitted =
			b.c[sluice_stats_index(0, SLOT(0), SLUICE_VERDICT_PASS, SLUICE_REASON_NONE)]
				.packets -
			a.c[sluice_stats_index(0, SLOT(0), SLUICE_VERDICT_PASS, SLUICE_REASON_NONE)]
				.packets;
		expect = rate * run_s + burst;
		tap_diag("rate %llu/s burst %llu: admitted %.0f in %.3f s of runs, expected %.0f "
			 "(%+.2f%%)",
			 (unsigned long long)rate, (unsigned long long)burst, admitted, run_s,
			 expect, 100.0 * (admitted - expect) / expect);
		/* Offered at least twice the rate, or the test proves nothing. */
		ok = TAP_EXPECT_EQ("offered above twice the rate", repeat > 2 * rate * run_s, 1) &&
		     admitted > expect * 0.85 && admitted < expect * 1.05;
	}
	tap_result(ok,
		   "a limit with a burst shorter than a clock tick admits its rate (-15%%..+5%%)");
}

struct event_capture {
	int n;
	struct sluice_event last;
};

static int capture_event(void *ctx, void *data, size_t size)
{
	struct event_capture *cap = ctx;

	if (size == sizeof(cap->last))
		memcpy(&cap->last, data, size);
	cap->n++;
	return 0;
}

/*
 * Lists and bans drop before the L4 header is read, but their events still name the
 * protocol and ports (parsed only for the drops that make an event).
 */
static void test_early_drop_events(void)
{
	static const struct {
		const char *desc;
		struct pkt_spec pkt;
		__u8 reason;
	} cases[] = {
		{ "blocklisted udp", UDP4(.dport = 53), SLUICE_REASON_BLOCKLIST },
		{ "blocklisted tcp over ipv6 with a hop-by-hop header",
		  TCP6(.dport = 443, .ext = "H"), SLUICE_REASON_BLOCKLIST },
	};
	const struct scenario sc = {
		.lists = { L(BLOCK, PERMANENT, "198.18.0.0/16"),
			   L(BLOCK, PERMANENT, "2001:db8::/32") },
		.event_ceiling = SLUICE_DEFAULT_EVENT_CEILING,
		.event_sample = SLUICE_DEFAULT_EVENT_SAMPLE,
	};
	struct event_capture cap = {};
	struct ring_buffer *rb;

	rb = ring_buffer__new(bpf_map__fd(H.skel->maps.sluice_events), capture_event, &cap, NULL);
	if (!rb || scenario_apply(&sc, 0) || map_clear(bpf_map__fd(H.skel->maps.sluice_evseen))) {
		tap_result(false, "early-drop events: set up");
		ring_buffer__free(rb);
		return;
	}
	ring_buffer__consume(rb);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		__u32 retval = 0;
		struct frame f;

		cap.n = 0;
		build_frame(&cases[i].pkt, &f);
		if (run_xdp(H.prog, &f, f.len, 1, &retval, NULL) || ring_buffer__consume(rb) < 0) {
			tap_result(false, "%s: run", cases[i].desc);
			continue;
		}
		tap_result(retval == XDP_DROP && cap.n == 1 && cap.last.reason == cases[i].reason &&
				   cap.last.l4proto == cases[i].pkt.proto &&
				   cap.last.sport == 40000 && cap.last.dport == cases[i].pkt.dport,
			   "%s: dropped, its event names protocol %u and ports %u -> %u (got %d "
			   "events, protocol %u, ports %u -> %u)",
			   cases[i].desc, cases[i].pkt.proto, 40000, cases[i].pkt.dport, cap.n,
			   cap.last.l4proto, cap.last.sport, cap.last.dport);
	}
	ring_buffer__free(rb);
}

/*
 * An event keeps the frame's first SLUICE_EVENT_CAP bytes, or the whole frame when it is
 * shorter: a minimal 60-byte frame and one of 500 (cut at 128), their payloads a pattern
 * that a copy from the wrong offset would not match.
 */
static void test_event_head(void)
{
	static const __u16 lens[] = { 60, 500 };
	const struct scenario sc = {
		.lists = { L(BLOCK, PERMANENT, "198.18.0.0/16") },
		.event_ceiling = SLUICE_DEFAULT_EVENT_CEILING,
		.event_sample = SLUICE_DEFAULT_EVENT_SAMPLE,
	};
	struct event_capture cap = {};
	struct ring_buffer *rb;

	rb = ring_buffer__new(bpf_map__fd(H.skel->maps.sluice_events), capture_event, &cap, NULL);
	if (!rb || scenario_apply(&sc, 0)) {
		tap_result(false, "event heads: set up");
		ring_buffer__free(rb);
		return;
	}
	ring_buffer__consume(rb);
	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		const struct pkt_spec spec = UDP4(.dport = 53, .len = lens[i]);
		__u32 retval = 0, want;
		struct frame f;

		build_frame(&spec, &f);
		for (__u32 b = 42; b < f.len; b++) /* past Ethernet, IPv4 and UDP headers */
			f.data[b] = b * 7 + 1;
		want = f.len < SLUICE_EVENT_CAP ? f.len : SLUICE_EVENT_CAP;
		cap.n = 0;
		memset(&cap.last, 0, sizeof(cap.last));
		/* A first drop in its period always makes an event: forget the earlier ones. */
		if (map_clear(bpf_map__fd(H.skel->maps.sluice_evseen)) ||
		    run_xdp(H.prog, &f, f.len, 1, &retval, NULL) || ring_buffer__consume(rb) < 0) {
			tap_result(false, "event head of a %u-byte frame: run", lens[i]);
			continue;
		}
		tap_result(
			retval == XDP_DROP && cap.n == 1 && cap.last.len == f.len &&
				cap.last.cap_len == want && !memcmp(cap.last.head, f.data, want),
			"a %u-byte frame's event holds its first %u bytes (got %d events, len %u, "
			"cap_len %u, bytes %s)",
			f.len, want, cap.n, cap.last.len, cap.last.cap_len,
			memcmp(cap.last.head, f.data, want) ? "differ" : "equal");
	}
	ring_buffer__free(rb);
}

/* XDP_DROP and exit: the floor that the cost of sluice is measured against. */
static int bare_drop_prog(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_DROP },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return bpf_prog_load(BPF_PROG_TYPE_XDP, "bare_drop", "GPL", insns, ARRAY_SIZE(insns), NULL);
}

static int cmp_u32(const void *a, const void *b)
{
	return *(const __u32 *)a < *(const __u32 *)b ? -1 : *(const __u32 *)a > *(const __u32 *)b;
}

#define BENCH_REPEAT 1000000
#define BENCH_RUNS 5

/* Median of BENCH_RUNS means of BENCH_REPEAT runs, in ns; the last verdict must be as wanted. */
static int bench_ns(int prog, const struct frame *f, __u32 want_retval, __u32 *ns)
{
	__u32 d[BENCH_RUNS], retval = 0;

	for (int i = 0; i < BENCH_RUNS; i++) {
		int err = run_xdp(prog, f, f->len, BENCH_REPEAT, &retval, &d[i]);

		if (err)
			return err;
		if (retval != want_retval)
			return -EPROTO;
	}
	qsort(d, BENCH_RUNS, sizeof(d[0]), cmp_u32);
	*ns = d[BENCH_RUNS / 2];
	return 0;
}

static const struct bench_case {
	const char *desc;
	struct scenario sc;
	__u32 retval;
} benches[] = {
	{ "no rule matches",
	  { .rules = { R(PROTO(UDP), ACT(DROP)) },
	    .lists = { L(BLOCK, PERMANENT, "203.0.113.0/24") } },
	  XDP_PASS },
	{ "blocklisted", { .lists = { L(BLOCK, PERMANENT, "198.18.0.0/15") } }, XDP_DROP },
	{ "under limit",
	  { .rules = { R(.limits = { { PKTS(1000000000ULL, 10000000ULL) } }) } },
	  XDP_PASS },
	{ "over limit", { .rules = { R(ACT(DROP), .limits = { { PKTS(1, 1) } }) } }, XDP_DROP },
	/* Drop events: the default sampling, and a flood past the per-CPU ceiling. */
	{ "over limit with events",
	  { .rules = { R(ACT(DROP), .limits = { { PKTS(1, 1) } }) },
	    .event_ceiling = SLUICE_DEFAULT_EVENT_CEILING,
	    .event_sample = SLUICE_DEFAULT_EVENT_SAMPLE },
	  XDP_DROP },
	{ "over limit with events past the ceiling",
	  { .rules = { R(ACT(DROP), .limits = { { PKTS(1, 1) } }) },
	    .event_ceiling = 1,
	    .event_sample = SLUICE_DEFAULT_EVENT_SAMPLE },
	  XDP_DROP },
};

static void test_bench(void)
{
	const struct pkt_spec spec = TCP4();
	char line[256];
	struct frame f;
	__u32 ns = 0;
	int prog = bare_drop_prog(), err = prog < 0 ? -errno : 0, at;

	build_frame(&spec, &f);
	err = err ?: bench_ns(prog, &f, XDP_DROP, &ns);
	at = snprintf(line, sizeof(line), "ns/packet, median of %d x %d runs: bare XDP_DROP %u",
		      BENCH_RUNS, BENCH_REPEAT, ns);
	for (size_t i = 0; i < ARRAY_SIZE(benches) && !err; i++) {
		err = scenario_apply(&benches[i].sc, 0);
		err = err ?: bench_ns(H.prog, &f, benches[i].retval, &ns);
		at += snprintf(line + at, sizeof(line) - at, ", %s %u", benches[i].desc, ns);
	}
	if (prog >= 0)
		close(prog);
	if (err)
		tap_diag("bench: %s", strerror(-err));
	else
		tap_diag("%s", line);
	tap_result(!err, "per-packet cost measured, with the verdicts expected");
}

int main(void)
{
	__u32 min_len;

	HARNESS_OPEN_OR_SKIP("data-path tests");
	test_classes();
	test_malformed();
	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++)
		run_scenario(&scenarios[i], i % 4);
	min_len = min_test_len();
	tap_diag("the kernel runs test frames of %u bytes or more: cuts start there", min_len);
	for (size_t i = 0; i < ARRAY_SIZE(truncs); i++)
		for (int drop = 0; drop < 2; drop++)
			for (int blocked = 0; blocked < 2; blocked++)
				test_truncation(&truncs[i], min_len, drop, blocked);
	test_churn();
	test_probation();
	test_fine_clock();
	test_early_drop_events();
	test_event_head();
	test_bench();
	harness_close();
	return tap_exit();
}
