/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reference classifier for the packet fuzz test: the verdict rules of doc/sluice.8, written
 * again from the rules and the protocol specs (IEEE 802.1Q, RFC 791, 8200, 4302, 9293, 768,
 * 792, 4443), sharing no code with bpf/. It reads frames as byte arrays, keeps its own list,
 * ban and bucket state, and names the counter each packet must move.
 *
 * What it models exactly:
 * - parsing: Ethernet, at most two 802.1Q/802.1ad tags, IPv4 (options, fragments), IPv6 and
 *   up to six extension headers (hop-by-hop, routing, destination options, AH, fragment),
 *   the TCP, UDP, ICMP and ICMPv6 headers, and which failures count before the lists (the
 *   frame cannot show the source) and which after (lengths, extension chain, L4 header);
 * - allowlist and blocklist by longest live prefix, in the 128-bit form of include/sluice.h
 *   (an IPv6 source ::ffff:a.b.c.d is the IPv4 address a.b.c.d to the lists), expired
 *   entries stepped over;
 * - bans per address family: those set up before the run and those the rules' ban action
 *   adds, keyed by the refusing limit's source prefix (the whole address for a global limit);
 * - rules in order, first match: family, protocol (icmp is protocol 1, and ICMPv6, 58, on
 *   IPv6 only, as doc/sluice.8 and include/sluice.h say), port range and syn only with a
 *   transport header (never on a non-first fragment), destination prefix;
 * - limits of two kinds whose outcome does not depend on time: REF_ADMIT (rate and burst so
 *   high that nothing a test can send is refused, in packets or bytes) and REF_BURST (rate 1
 *   an hour, burst K: within a run shorter than an hour a bucket admits exactly its first K
 *   packets). Buckets are kept per limit and key: the source masked to the limit's prefix in
 *   its family, and the destination port (0 without one) when the limit says so; one bucket
 *   for a global limit. A packet refused by a later limit takes nothing from earlier ones.
 * Not modelled: limits whose verdict depends on elapsed time (real rates, byte budgets), map
 * capacity (LRU eviction of buckets and bans, full lists), more than three expired list
 * entries on one address's path, event sampling, and the error reason.
 */
#ifndef SLUICE_TEST_REFERENCE_H
#define SLUICE_TEST_REFERENCE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "sluice.h"

enum ref_limit_kind {
	REF_ADMIT = 1, /* always admits */
	REF_ADMIT_BYTES, /* always admits; a byte limit in the data path */
	REF_BURST, /* admits the first `burst` packets of each bucket */
};

struct ref_limit {
	__u8 kind; /* enum ref_limit_kind */
	__u8 global; /* one bucket for the rule */
	__u8 by_dport; /* a bucket per destination port too */
	__u8 prefix4; /* source prefix of a bucket, 1..32 */
	__u8 prefix6; /* 1..128 */
	__u32 burst;
};

/* A rule as the policy grammar states it; 0 is "any" for every match field. */
struct ref_rule {
	__u8 family; /* 4 or 6 */
	__u8 proto; /* enum sluice_proto */
	__u16 dport_lo, dport_hi; /* a range when dport_hi != 0 */
	bool syn;
	const char *dst; /* a prefix; its family must be the rule's */
	__u8 action; /* enum sluice_action */
	struct ref_limit limits[SLUICE_MAX_LIMITS];
};

/* A prefix in the 128-bit form, with the family it was written in. */
struct ref_prefix {
	__u8 addr[16];
	__u8 plen; /* 0..128, IPv4 prefixes raised by 96 */
	__u8 family;
};

#define REF_LIST_MAX 32
#define REF_RULES_MAX 32

struct ref_list_entry {
	struct ref_prefix p;
	bool live;
};

struct ref_policy {
	const struct ref_rule *rules;
	int nrules;
	__u32 slots[REF_RULES_MAX]; /* counter slot of each rule */
	struct ref_prefix dst[REF_RULES_MAX]; /* parsed rules[i].dst */
	struct ref_list_entry allow[REF_LIST_MAX], block[REF_LIST_MAX];
	int nallow, nblock;
	bool malformed_drop;
};

/* Bans and buckets: open addressing on a 24-byte key, cleared with the policy. */
struct ref_key {
	__u8 addr[16];
	__u8 family;
	__u8 plen;
	__u8 rule;
	__u8 limit;
	__u16 dport;
	__u16 pad;
};

struct ref_slot {
	struct ref_key key;
	__u32 value;
	__u32 used;
};

struct ref_table {
	struct ref_slot *slots;
	__u32 size; /* a power of two */
	__u32 count;
};

#define REF_BANS_LOG2 16
#define REF_BUCKETS_LOG2 19

struct ref_state {
	struct ref_table bans, buckets;
	__u8 ban_plens[2][129]; /* [family is IPv6][plen]: some ban has this length */
	bool overflow; /* a table filled up: the run is too long for a phase */
};

/* The decision for one frame: the counter it moves and what XDP returns. */
struct ref_verdict {
	__u32 rule; /* counter slot, or SLUICE_NO_RULE */
	__u32 verdict; /* enum sluice_verdict */
	__u32 reason; /* enum sluice_reason */
	const char *why; /* what made it malformed */
};

/* ---- Addresses ---- */

/* "a.b.c.d/n", "x::/n" or an address alone to the 128-bit form. */
static inline bool ref_prefix_parse(const char *text, struct ref_prefix *p)
{
	char buf[64], *slash;
	long plen = -1;

	memset(p, 0, sizeof(*p));
	snprintf(buf, sizeof(buf), "%s", text);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		plen = strtol(slash + 1, NULL, 10);
	}
	if (inet_pton(AF_INET, buf, p->addr + 12) == 1) {
		p->addr[10] = p->addr[11] = 0xff;
		p->family = 4;
		p->plen = 96 + (plen < 0 ? 32 : plen);
		return plen <= 32;
	}
	if (inet_pton(AF_INET6, buf, p->addr) == 1) {
		p->family = 6;
		p->plen = plen < 0 ? 128 : plen;
		return plen <= 128;
	}
	return false;
}

/* Do the first plen bits of a and b agree? */
static inline bool ref_bits_equal(const __u8 *a, const __u8 *b, __u32 plen)
{
	__u32 bytes = plen / 8, rest = plen % 8;

	if (memcmp(a, b, bytes))
		return false;
	return !rest || !((a[bytes] ^ b[bytes]) & (0xff00 >> rest));
}

static inline void ref_mask(__u8 *addr, __u32 plen)
{
	for (__u32 i = 0; i < 16; i++, plen = 8 < plen ? plen - 8 : 0)
		addr[i] &= plen >= 8 ? 0xff : (0xff00 >> plen) & 0xff;
}

/* ---- Tables ---- */

static inline bool ref_table_init(struct ref_table *t, __u32 log2)
{
	t->size = 1U << log2;
	t->count = 0;
	t->slots = calloc(t->size, sizeof(*t->slots));
	return t->slots != NULL;
}

static inline void ref_table_clear(struct ref_table *t)
{
	memset(t->slots, 0, t->size * sizeof(*t->slots));
	t->count = 0;
}

/* FNV-1a over the key. */
static inline __u32 ref_hash(const struct ref_key *k)
{
	const __u8 *b = (const __u8 *)k;
	__u32 h = 2166136261U;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 16777619U;
	return h;
}

/* The slot of key, added with value 0 when absent; NULL when the table is too full. */
static inline struct ref_slot *ref_table_get(struct ref_table *t, const struct ref_key *k, bool add)
{
	for (__u32 i = ref_hash(k) & (t->size - 1);; i = (i + 1) & (t->size - 1)) {
		struct ref_slot *s = &t->slots[i];

		if (s->used && !memcmp(&s->key, k, sizeof(*k)))
			return s;
		if (s->used)
			continue;
		if (!add || t->count * 4 >= t->size * 3)
			return NULL;
		s->used = 1;
		s->key = *k;
		s->value = 0;
		t->count++;
		return s;
	}
}

static inline bool ref_state_init(struct ref_state *st)
{
	memset(st, 0, sizeof(*st));
	return ref_table_init(&st->bans, REF_BANS_LOG2) &&
	       ref_table_init(&st->buckets, REF_BUCKETS_LOG2);
}

static inline void ref_state_free(struct ref_state *st)
{
	free(st->bans.slots);
	free(st->buckets.slots);
}

/* Forgets every bucket and ban, as a fresh policy install does. */
static inline void ref_state_reset(struct ref_state *st)
{
	ref_table_clear(&st->bans);
	ref_table_clear(&st->buckets);
	memset(st->ban_plens, 0, sizeof(st->ban_plens));
	st->overflow = false;
}

/* Bans `addr` of a family at a prefix length of the 128-bit form. */
static inline void ref_ban(struct ref_state *st, __u8 family, const __u8 *addr, __u32 plen)
{
	struct ref_key k = { .family = family, .plen = plen };

	memcpy(k.addr, addr, 16);
	ref_mask(k.addr, plen);
	if (!ref_table_get(&st->bans, &k, true))
		st->overflow = true;
	st->ban_plens[family == 6][plen] = 1;
}

static inline bool ref_banned(const struct ref_state *st, __u8 family, const __u8 *addr)
{
	struct ref_table *t = (struct ref_table *)&st->bans;

	for (__u32 plen = 0; plen <= 128; plen++) {
		struct ref_key k = { .family = family, .plen = plen };

		if (!st->ban_plens[family == 6][plen])
			continue;
		memcpy(k.addr, addr, 16);
		ref_mask(k.addr, plen);
		if (ref_table_get(t, &k, false))
			return true;
	}
	return false;
}

/* Is addr under a live entry? Expired ones do not match; shorter ones still may. */
static inline bool ref_listed(const struct ref_list_entry *list, int n, const __u8 *addr)
{
	for (int i = 0; i < n; i++)
		if (list[i].live && ref_bits_equal(list[i].p.addr, addr, list[i].p.plen))
			return true;
	return false;
}

/* ---- Parsing ---- */

#define REF_ETH_IPV4 0x0800
#define REF_ETH_IPV6 0x86dd
#define REF_ETH_VLAN 0x8100 /* 802.1Q C-tag */
#define REF_ETH_QINQ 0x88a8 /* 802.1ad S-tag */
#define REF_VLAN_TAGS_MAX 2
#define REF_EXT_HDRS_MAX 6

enum ref_parse {
	REF_IP = 0, /* an IP packet with readable addresses */
	REF_NONIP,
	REF_MALFORMED, /* before the lists: no source to look up */
};

/* What the verdict rules read of a packet. */
struct ref_packet {
	__u8 family;
	__u8 src[16], dst[16]; /* 128-bit form */
	const char *bad; /* why it is malformed; after the lists when the parse gave REF_IP */
	bool fragment; /* not the first fragment: no transport header */
	bool has_ports; /* a TCP or UDP header was read */
	__u8 proto; /* upper-layer protocol number */
	__u16 dport;
	__u8 tcp_flags;
};

static inline __u16 rd16(const __u8 *p)
{
	return p[0] << 8 | p[1];
}

static inline int ref_bad(struct ref_packet *p, const char *why, int parse)
{
	p->bad = why;
	return parse;
}

/* Reads the transport header at off, which must end within both the frame and the IP packet. */
static inline void ref_parse_l4(const __u8 *f, __u32 off, __u32 ip_end, struct ref_packet *p)
{
	bool icmp = p->proto == IPPROTO_ICMP || (p->family == 6 && p->proto == IPPROTO_ICMPV6);

	switch (p->proto) {
	case IPPROTO_TCP: /* RFC 9293: 20 bytes, data offset in words, at least 5 */
		if (off + 20 > ip_end)
			p->bad = "tcp header cut";
		else if (f[off + 12] >> 4 < 5)
			p->bad = "tcp data offset below 5";
		else
			p->tcp_flags = f[off + 13];
		break;
	case IPPROTO_UDP: /* RFC 768: 8 bytes */
		if (off + 8 > ip_end)
			p->bad = "udp header cut";
		break;
	}
	if ((p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) && !p->bad) {
		p->dport = rd16(f + off + 2);
		p->has_ports = true;
	}
	if (icmp && off + 4 > ip_end) /* type, code, checksum */
		p->bad = "icmp header cut";
}

static inline bool ref_is_ext_hdr(__u8 nh)
{
	return nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS ||
	       nh == IPPROTO_AH || nh == IPPROTO_FRAGMENT;
}

/* RFC 791. */
static inline int ref_parse_ipv4(const __u8 *f, __u32 len, __u32 ip, struct ref_packet *p)
{
	__u32 ihl, total;

	if (ip + 20 > len)
		return ref_bad(p, "ipv4 header cut", REF_MALFORMED);
	if (f[ip] >> 4 != 4)
		return ref_bad(p, "ipv4 version", REF_MALFORMED);
	ihl = (f[ip] & 0xf) * 4;
	if (ihl < 20)
		return ref_bad(p, "ipv4 header length below 20", REF_MALFORMED);
	if (ip + ihl > len)
		return ref_bad(p, "ipv4 options cut", REF_MALFORMED);
	p->family = 4;
	p->src[10] = p->src[11] = p->dst[10] = p->dst[11] = 0xff;
	memcpy(p->src + 12, f + ip + 12, 4);
	memcpy(p->dst + 12, f + ip + 16, 4);
	p->proto = f[ip + 9];
	total = rd16(f + ip + 2);
	if (total < ihl)
		return ref_bad(p, "ipv4 total length below header", REF_IP);
	if (ip + total > len)
		return ref_bad(p, "ipv4 total length beyond frame", REF_IP);
	p->fragment = (rd16(f + ip + 6) & 0x1fff) != 0;
	if (!p->fragment)
		ref_parse_l4(f, ip + ihl, ip + total, p);
	return REF_IP;
}

/* RFC 8200 with its extension headers; AH (RFC 4302) counts its length in 4-byte words. */
static inline int ref_parse_ipv6(const __u8 *f, __u32 len, __u32 ip, struct ref_packet *p)
{
	__u32 off = ip + 40, end, skipped = 0;
	__u8 nh;

	if (ip + 40 > len)
		return ref_bad(p, "ipv6 header cut", REF_MALFORMED);
	if (f[ip] >> 4 != 6)
		return ref_bad(p, "ipv6 version", REF_MALFORMED);
	p->family = 6;
	memcpy(p->src, f + ip + 8, 16);
	memcpy(p->dst, f + ip + 24, 16);
	end = ip + 40 + rd16(f + ip + 4);
	if (end > len)
		return ref_bad(p, "ipv6 payload length beyond frame", REF_IP);
	for (nh = f[ip + 6]; ref_is_ext_hdr(nh); skipped++) {
		__u32 size;

		if (skipped == REF_EXT_HDRS_MAX)
			return ref_bad(p, "ipv6 more than 6 extension headers", REF_IP);
		if (off + 8 > end)
			return ref_bad(p, "ipv6 extension header cut", REF_IP);
		if (nh == IPPROTO_FRAGMENT) {
			/* The offset, in 8-byte units, sits above 3 flag bits. */
			if (rd16(f + off + 2) >> 3) {
				p->proto = f[off];
				p->fragment = true;
				return REF_IP;
			}
			size = 8;
		} else if (nh == IPPROTO_AH) {
			size = (f[off + 1] + 2) * 4;
		} else {
			size = (f[off + 1] + 1) * 8;
		}
		if (off + size > end)
			return ref_bad(p, "ipv6 extension header longer than payload", REF_IP);
		nh = f[off];
		off += size;
	}
	p->proto = nh;
	ref_parse_l4(f, off, end, p);
	return REF_IP;
}

static inline int ref_parse(const __u8 *f, __u32 len, struct ref_packet *p)
{
	__u32 off = 12, tags = 0;
	__u16 type;

	memset(p, 0, sizeof(*p));
	if (len < 14)
		return ref_bad(p, "frame shorter than ethernet", REF_MALFORMED);
	type = rd16(f + 12);
	while (type == REF_ETH_VLAN || type == REF_ETH_QINQ) {
		/* A tag is the TPID just read, the TCI, then the next type. */
		if (tags == REF_VLAN_TAGS_MAX)
			return ref_bad(p, "third vlan tag", REF_MALFORMED);
		if (off + 6 > len)
			return ref_bad(p, "vlan tag cut", REF_MALFORMED);
		type = rd16(f + off + 4);
		off += 4;
		tags++;
	}
	off += 2;
	if (type == REF_ETH_IPV4)
		return ref_parse_ipv4(f, len, off, p);
	if (type == REF_ETH_IPV6)
		return ref_parse_ipv6(f, len, off, p);
	return REF_NONIP;
}

/* ---- Verdict ---- */

static inline bool ref_rule_matches(const struct ref_rule *r, const struct ref_prefix *dst,
				    const struct ref_packet *p)
{
	if (r->family && r->family != p->family)
		return false;
	switch (r->proto) {
	case SLUICE_PROTO_TCP:
	case SLUICE_PROTO_UDP:
		if (p->proto != r->proto)
			return false;
		break;
	case SLUICE_PROTO_ICMP: /* "icmp also matches ICMPv6 on IPv6": not protocol 58 on IPv4 */
		if (p->proto != IPPROTO_ICMP && !(p->family == 6 && p->proto == IPPROTO_ICMPV6))
			return false;
		break;
	}
	if (r->dport_hi && (!p->has_ports || p->dport < r->dport_lo || p->dport > r->dport_hi))
		return false;
	if (r->syn && (p->proto != IPPROTO_TCP || !p->has_ports || !(p->tcp_flags & 0x02) ||
		       (p->tcp_flags & 0x10)))
		return false;
	return !r->dst ||
	       (dst->family == p->family && ref_bits_equal(dst->addr, p->dst, dst->plen));
}

/* The limit's source prefix in the 128-bit form, the whole address for a global limit. */
static inline __u32 ref_limit_plen(const struct ref_limit *l, __u8 family)
{
	if (family == 4)
		return 96 + (l->global ? 32 : l->prefix4);
	return l->global ? 128 : l->prefix6;
}

static inline struct ref_key ref_bucket(int rule, int limit, const struct ref_limit *l,
					const struct ref_packet *p)
{
	struct ref_key k = { .rule = rule, .limit = limit };

	if (l->global)
		return k;
	k.family = p->family;
	k.plen = ref_limit_plen(l, p->family);
	memcpy(k.addr, p->src, 16);
	ref_mask(k.addr, k.plen);
	if (l->by_dport)
		k.dport = p->has_ports ? p->dport : 0;
	return k;
}

/* The rule's limits, then its action: what the matching rule i does with p. */
static inline struct ref_verdict ref_apply_rule(struct ref_state *st, const struct ref_policy *pol,
						int i, const struct ref_packet *p)
{
	const struct ref_rule *r = &pol->rules[i];
	struct ref_verdict v = { pol->slots[i], SLUICE_VERDICT_PASS, SLUICE_REASON_NONE };
	struct ref_slot *taken[SLUICE_MAX_LIMITS] = {};
	int n;

	for (n = 0; n < SLUICE_MAX_LIMITS && r->limits[n].kind; n++) {
		const struct ref_limit *l = &r->limits[n];
		struct ref_key k;

		if (l->kind != REF_BURST)
			continue;
		k = ref_bucket(i, n, l, p);
		taken[n] = ref_table_get(&st->buckets, &k, true);
		if (!taken[n]) {
			st->overflow = true;
			return v;
		}
		if (taken[n]->value < l->burst)
			continue;
		/* Refused: earlier limits keep what they had, the action decides. */
		v.reason = SLUICE_REASON_RATELIMIT;
		v.verdict = r->action == SLUICE_ACTION_MONITOR ? SLUICE_VERDICT_MONITOR :
			    r->action == SLUICE_ACTION_BAN     ? SLUICE_VERDICT_BAN :
								 SLUICE_VERDICT_DROP;
		if (r->action == SLUICE_ACTION_BAN)
			ref_ban(st, p->family, p->src, ref_limit_plen(l, p->family));
		return v;
	}
	if (n == 0 && r->action != SLUICE_ACTION_PASS) {
		v.reason = SLUICE_REASON_ACL;
		v.verdict = r->action == SLUICE_ACTION_MONITOR ? SLUICE_VERDICT_MONITOR :
								 SLUICE_VERDICT_DROP;
	}
	for (int j = 0; j < n; j++)
		if (taken[j])
			taken[j]->value++;
	return v;
}

/* Parse, allowlist, blocklist, bans, transport header, first matching rule, limits, action. */
static inline struct ref_verdict ref_classify(struct ref_state *st, const struct ref_policy *pol,
					      const __u8 *frame, __u32 len)
{
	struct ref_verdict v = { SLUICE_NO_RULE, SLUICE_VERDICT_PASS, SLUICE_REASON_NONE };
	struct ref_verdict malformed = { SLUICE_NO_RULE,
					 pol->malformed_drop ? SLUICE_VERDICT_DROP :
							       SLUICE_VERDICT_PASS,
					 SLUICE_REASON_MALFORMED };
	struct ref_packet p;

	switch (ref_parse(frame, len, &p)) {
	case REF_NONIP:
		v.reason = SLUICE_REASON_NONIP;
		return v;
	case REF_MALFORMED:
		malformed.why = p.bad;
		return malformed;
	}
	if (ref_listed(pol->allow, pol->nallow, p.src)) {
		v.reason = SLUICE_REASON_ALLOWLIST;
		return v;
	}
	v.verdict = SLUICE_VERDICT_DROP;
	if (ref_listed(pol->block, pol->nblock, p.src)) {
		v.reason = SLUICE_REASON_BLOCKLIST;
		return v;
	}
	if (ref_banned(st, p.family, p.src)) {
		v.reason = SLUICE_REASON_BAN;
		return v;
	}
	malformed.why = p.bad;
	if (p.bad)
		return malformed;
	for (int i = 0; i < pol->nrules; i++)
		if (ref_rule_matches(&pol->rules[i], &pol->dst[i], &p))
			return ref_apply_rule(st, pol, i, &p);
	v.verdict = SLUICE_VERDICT_PASS;
	return v;
}

static inline bool ref_xdp_drops(const struct ref_verdict *v)
{
	return v->verdict == SLUICE_VERDICT_DROP || v->verdict == SLUICE_VERDICT_BAN;
}

#endif /* SLUICE_TEST_REFERENCE_H */
