// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet fuzzing of the data path: a million valid, mutated and random frames through
 * BPF_PROG_TEST_RUN, one run each. Every verdict, and the counter (rule slot, verdict,
 * reason) that the packet moved by exactly one packet and its length in bytes, is checked
 * against reference.h, a second implementation of the documented rules. Every counter of the
 * interface is compared at the end of each phase; a phase installs the policy afresh, with
 * malformed packets passed or dropped and each policy slot and list generation in turn.
 *
 * Generators: valid frames of every class from the harness's builder with random fields and
 * addresses mostly in or at the edges of the listed prefixes (35%); those frames mutated by
 * bit flips, byte overwrites, cuts, bogus IPv4 total length, IHL, IPv6 payload length, TCP
 * data offset and extension header lengths, random extension-header chains and VLAN stacks
 * (50%); random bytes, partly behind an IP or VLAN ethertype (15%).
 *
 * The seed is fixed, so a failure in CI repeats anywhere; SLUICE_FUZZ_SEED (random: any
 * other seed) and SLUICE_FUZZ_PACKETS override it and the packet count. The reference does
 * not model the limiter's one inexactness (a key displaced from probation before its second
 * packet starts again with a full bucket, see README): some seeds (1 of 8 tried) make the
 * generated sources crowd one probation line and disagree there, as seed 0x53bef9ba19a9 does.
 */
#include <stdlib.h>
#include "harness.h"

#define FUZZ_SEED 0x20261205ULL
#include "reference.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define DEFAULT_PACKETS 1000000ULL
#define PHASE_PACKETS 131072 /* buckets and bans a phase creates stay far below map capacity */
#define SHOW_MAX 5 /* disagreements printed in full */
#define DISAGREE_MAX 5000 /* then stop: each costs a read of every counter */

/* ---- Randomness ---- */

static __u64 rng_state;

/* splitmix64 */
static __u64 rnd64(void)
{
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 0..n-1 */
static __u32 rnd(__u32 n)
{
	return n ? (__u32)(((rnd64() >> 32) * n) >> 32) : 0;
}

static bool chance(__u32 percent)
{
	return rnd(100) < percent;
}

static void rnd_bytes(__u8 *p, __u32 n)
{
	for (__u32 i = 0; i < n; i++)
		p[i] = rnd64();
}

/* ---- The policy under test ---- */

#define HOUR_UNITS (3600 * SLUICE_UNITS_PER_SEC)
/* clang-format 14 breaks a braced macro body over four lines: */
/* clang-format off */
#define ADMIT(...) { .kind = REF_ADMIT, __VA_ARGS__ }
#define BURST(n, ...) { .kind = REF_BURST, .burst = (n), __VA_ARGS__ }
/* clang-format on */
#define PORTS(lo, hi) .dport_lo = (lo), .dport_hi = (hi)
#define P(p) .proto = SLUICE_PROTO_##p
#define A(a) .action = SLUICE_ACTION_##a

static const struct ref_rule rules[] = {
	/* ssh to a /25: three per source /24, then the /24 is banned */
	{ .family = 4,
	  P(TCP),
	  PORTS(22, 22),
	  .dst = "192.0.2.128/25",
	  A(BAN),
	  .limits = { BURST(3, .prefix4 = 24, .prefix6 = 48) } },
	/* udp 5000-5100 to an IPv6 /48: two per source /48, then it is banned */
	{ .family = 6,
	  P(UDP),
	  PORTS(5000, 5100),
	  .dst = "2001:db8:cafe::/48",
	  A(BAN),
	  .limits = { BURST(2, .prefix4 = 24, .prefix6 = 48) } },
	/* syn to a /24: one limit admitting all, then three per source /16 and port */
	{ .family = 4,
	  .syn = true,
	  .dst = "192.0.2.0/24",
	  A(DROP),
	  .limits = { ADMIT(.prefix4 = 32, .prefix6 = 128),
		      BURST(3, .prefix4 = 16, .prefix6 = 64, .by_dport = 1) } },
	/* icmp and icmpv6: four per /24 or /64 */
	{ P(ICMP), A(DROP), .limits = { BURST(4, .prefix4 = 24, .prefix6 = 64) } },
	/* dns to fd00::/8: three for the whole rule, then monitored */
	{ .family = 6,
	  P(UDP),
	  PORTS(53, 53),
	  .dst = "fd00::/8",
	  A(MONITOR),
	  .limits = { BURST(3, .global = 1) } },
	/* web over IPv4: a byte limit admitting all, then ten per address, dropped (action pass) */
	{ .family = 4,
	  P(TCP),
	  PORTS(80, 443),
	  A(PASS),
	  .limits = { { .kind = REF_ADMIT_BYTES, .prefix4 = 32, .prefix6 = 128 },
		      BURST(10, .prefix4 = 32, .prefix6 = 128) } },
	{ P(UDP), PORTS(1000, 2000), A(DROP) },
	{ .family = 6, P(TCP), PORTS(8000, 8999), A(MONITOR) },
	{ .family = 4, .dst = "198.51.100.0/24", A(PASS) },
	{ .family = 6, .dst = "2001:db8:dead::/48", A(DROP) },
	/* a port range with any protocol matches tcp and udp (the grammar wants one named) */
	{ PORTS(6000, 6010), A(DROP) },
	{ .family = 6, .syn = true, A(DROP) },
	/* tcp: three limits, the last refusing after earlier ones admitted (given back) */
	{ P(TCP), A(MONITOR),
	  .limits = { ADMIT(.global = 1), BURST(2, .prefix4 = 8, .prefix6 = 32, .by_dport = 1),
		      BURST(40, .prefix4 = 16, .prefix6 = 48) } },
	{ .family = 4,
	  P(UDP),
	  A(DROP),
	  .limits = { ADMIT(.prefix4 = 20, .prefix6 = 40, .by_dport = 1) } },
	{ .family = 6, A(PASS) },
};

static const struct list_spec lists[] = {
	{ ENTRY_ALLOW, PERMANENT, "198.18.7.0/24" }, /* inside a blocked /16 */
	{ ENTRY_ALLOW, PERMANENT, "203.0.113.5/32" },
	{ ENTRY_ALLOW, EXPIRED, "198.18.9.0/24" },
	{ ENTRY_ALLOW, PERMANENT, "2001:db8:1::/48" }, /* inside a blocked /32 */
	{ ENTRY_ALLOW, LIVE, "2001:db8:2:3::/64" },
	{ ENTRY_BLOCK, PERMANENT, "198.18.0.0/16" },
	{ ENTRY_BLOCK, PERMANENT, "10.0.0.0/8" },
	{ ENTRY_BLOCK, EXPIRED, "10.1.2.0/24" }, /* inside a permanent /8: still blocked */
	{ ENTRY_BLOCK, EXPIRED, "192.168.0.0/16" },
	{ ENTRY_BLOCK, LIVE, "100.64.0.0/10" },
	{ ENTRY_BLOCK, PERMANENT, "203.0.113.66/32" },
	{ ENTRY_BLOCK, PERMANENT, "192.0.2.64/26" },
	{ ENTRY_BLOCK, PERMANENT, "2001:db8::/32" },
	{ ENTRY_BLOCK, EXPIRED, "2001:db8:ffff::/48" },
	{ ENTRY_BLOCK, PERMANENT, "fd00:bad::1/128" },
	{ ENTRY_BAN, LIVE, "172.16.5.0/24" },
	{ ENTRY_BAN, EXPIRED, "172.16.6.0/24" },
	{ ENTRY_BAN, LIVE, "2001:db9:0:5::/64" },
	{ ENTRY_BAN, EXPIRED, "2001:db9:0:6::/64" },
};

/* Where addresses come from, besides the lists and the rules' destinations. */
static const char *const extra_prefixes[] = {
	"203.0.113.0/24", "198.18.0.0/15", "172.16.0.0/12",	 "0.0.0.0/0",
	"2001:db9::/32",  "fe80::/10",	   "2001:db8:cafe::/48", "::/0",
};

static struct ref_prefix pool[2][64]; /* [IPv6] */
static int npool[2];

static void pool_add(const char *cidr)
{
	struct ref_prefix p;

	if (!ref_prefix_parse(cidr, &p))
		abort();
	if (npool[p.family == 6] < (int)ARRAY_SIZE(pool[0]))
		pool[p.family == 6][npool[p.family == 6]++] = p;
}

static void rule_spec_of(const struct ref_rule *rr, struct rule_case *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->on = true;
	rs->dst = rr->dst;
	rs->r.family = rr->family;
	rs->r.proto = rr->proto;
	rs->r.flags = rr->syn ? SLUICE_RULE_SYN : 0;
	rs->r.dport_lo = rr->dport_lo;
	rs->r.dport_hi = rr->dport_hi;
	rs->r.action = rr->action;
	for (int i = 0; i < SLUICE_MAX_LIMITS && rr->limits[i].kind; i++) {
		const struct ref_limit *l = &rr->limits[i];
		struct sluice_limit *out = &rs->r.limits[i];

		out->key = l->global ? SLUICE_KEY_GLOBAL : SLUICE_KEY_SRC;
		out->prefix4 = l->prefix4;
		out->prefix6 = l->prefix6;
		out->flags = l->by_dport ? SLUICE_LIMIT_DPORT : 0;
		out->tolerance = HOUR_UNITS;
		if (l->kind == REF_ADMIT)
			out->interval = 1;
		else if (l->kind == REF_ADMIT_BYTES)
			out->byte_rate = 1000000000000ULL;
		else
			out->interval = HOUR_UNITS, out->tolerance = l->burst * HOUR_UNITS;
	}
}

/* The reference's reading of the same policy. */
static void ref_policy_of(struct ref_policy *rp, bool malformed_drop)
{
	memset(rp, 0, sizeof(*rp));
	rp->rules = rules;
	rp->nrules = ARRAY_SIZE(rules);
	rp->malformed_drop = malformed_drop;
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		rp->slots[i] = SLOT(i);
		if (rules[i].dst && !ref_prefix_parse(rules[i].dst, &rp->dst[i]))
			abort();
	}
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		struct ref_list_entry e = { .live = lists[i].expiry != EXPIRED };

		if (!ref_prefix_parse(lists[i].cidr, &e.p))
			abort();
		if (lists[i].kind == ENTRY_ALLOW)
			rp->allow[rp->nallow++] = e;
		else if (lists[i].kind == ENTRY_BLOCK)
			rp->block[rp->nblock++] = e;
	}
}

/* Installs phase `phase` in the data path and the reference: fresh buckets and bans. */
static int phase_install(__u32 phase, struct ref_policy *rp, struct ref_state *st)
{
	static struct sluice_policy pol;
	bool drop = phase & 1;
	struct rule_case rs;
	int err = map_drain(H.buckets) ?: map_drain(H.bans);

	memset(H.probation, 0, PROBATION_BYTES);

	memset(&pol, 0, sizeof(pol));
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++) {
		rule_spec_of(&rules[i], &rs);
		fill_rule(&pol, i, &rs);
	}
	err = err ?: policy_install(&pol, lists, ARRAY_SIZE(lists), false, drop, (phase >> 1) & 3);
	ref_policy_of(rp, drop);
	ref_state_reset(st);
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
		struct ref_prefix p;

		if (lists[i].kind == ENTRY_BAN && lists[i].expiry == LIVE &&
		    ref_prefix_parse(lists[i].cidr, &p))
			ref_ban(st, p.family, p.addr, p.plen);
	}
	return err;
}

/* ---- Addresses ---- */

/* Adds d (+1 or -1) to the big-endian number in a[from..15]. */
static void addr_step(__u8 *a, int from, int d)
{
	for (int i = 15; i >= from; i--) {
		a[i] += d;
		if ((d > 0 && a[i] != 0) || (d < 0 && a[i] != 0xff))
			break;
	}
}

/* An address in the 128-bit form: mostly in p, at its edges or just outside; a fifth random. */
static void draw_in(const struct ref_prefix *p, __u8 family, __u8 out[16])
{
	const int from = family == 6 ? 0 : 12;
	__u8 host[16];
	int r = rnd(100);

	memset(out, 0, 16);
	if (family == 4)
		out[10] = out[11] = 0xff;
	if (r < 20) {
		rnd_bytes(out + from, 16 - from);
		return;
	}
	memcpy(out, p->addr, 16);
	rnd_bytes(host, 16);
	for (int i = from; i < 16; i++) {
		__u32 bits = p->plen > 8 * (__u32)i ? p->plen - 8 * i : 0;
		__u8 mask = bits >= 8 ? 0xff : (0xff00 >> bits) & 0xff;

		if (r < 60)
			out[i] |= host[i] & ~mask;
		else if (r >= 70 && r < 90) /* the last address, and the one after it */
			out[i] |= ~mask; /* 60..69: the first address */
	}
	if (r >= 80 && r < 90)
		addr_step(out, from, 1);
	else if (r >= 90) /* the one before the first */
		addr_step(out, from, -1);
}

/* An address from the pool; on IPv6 sometimes IPv4-mapped, an IPv4 address to the lists. */
static void draw_addr(__u8 family, __u8 out[16])
{
	const int v6 = family == 6;

	if (v6 && chance(5))
		draw_addr(4, out);
	else
		draw_in(&pool[v6][rnd(npool[v6])], family, out);
}

#define HOT_SOURCES 16

/* A source: a quarter of them seen recently, so buckets fill up and bans are made. */
static void draw_source(__u8 family, __u8 out[16])
{
	static __u8 hot[2][HOT_SOURCES][16];
	static __u32 nhot[2];
	const int v6 = family == 6;

	if (nhot[v6] && chance(25)) {
		memcpy(out, hot[v6][rnd(nhot[v6] < HOT_SOURCES ? nhot[v6] : HOT_SOURCES)], 16);
		return;
	}
	draw_addr(family, out);
	if (chance(20))
		memcpy(hot[v6][nhot[v6]++ % HOT_SOURCES], out, 16);
}

/* ---- Frames ---- */

/* What a generator knows of the frame it built, for the mutations that follow. */
struct layout {
	__u8 family; /* 4, 6, or 0 for non-IP */
	__u8 proto; /* upper-layer protocol */
	__u8 next_ext; /* extension headers recorded in ext */
	__u32 ip; /* offset of the IP header */
	__u32 l4; /* of the transport header, from ip */
	__u32 ext[8]; /* of each IPv6 extension header, from ip */
	__u8 ext_type[8];
};

/* The rules' port edges, and the ends of the range */
static const __u16 ports[] = { 0,    1,	   21,	 22,   23,   52,   53,	 54,   79,   80,
			       443,  444,  999,	 1000, 2000, 2001, 4999, 5000, 5100, 5101,
			       5999, 6000, 6010, 6011, 7999, 8000, 8999, 9000, 65535 };
static const __u8 tcp_flag_picks[] = { TCP_SYN, TCP_SYN,	TCP_SYN, TCP_SYN | TCP_ACK,
				       TCP_ACK, TCP_SYN | 0x40, 0,	 TCP_FIN | TCP_ACK };
static const __u8 other4[] = { IPPROTO_GRE, IPPROTO_ESP, IPPROTO_ICMPV6, 0, IPPROTO_SCTP, 99 };
static const __u8 other6[] = { IPPROTO_NONE, IPPROTO_GRE, IPPROTO_ICMP, IPPROTO_SCTP, 99, 253 };
static const __u8 ext_types[] = { IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS, IPPROTO_AH,
				  IPPROTO_FRAGMENT };

static __u16 draw_port(void)
{
	return chance(80) ? ports[rnd(ARRAY_SIZE(ports))] : rnd(65536);
}

/* A port of a rule's range, at its edges or just outside. */
static __u16 draw_port_in(__u16 lo, __u16 hi)
{
	switch (rnd(6)) {
	case 0:
		return lo;
	case 1:
		return hi;
	case 2:
		return lo - 1;
	case 3:
		return hi + 1;
	default:
		return lo + rnd(hi - lo + 1);
	}
}

static __u16 draw_ethertype_nonip(void)
{
	__u16 type;

	do
		type = chance(50) ? 0x88cc : chance(50) ? 0x8847 : rnd(65536); /* LLDP, MPLS */
	while (type == ETH_P_IP || type == ETH_P_IPV6 || type == ETH_P_8021Q ||
	       type == ETH_P_8021AD);
	return type;
}

static __u8 draw_proto(__u8 family)
{
	int r = rnd(100);

	if (r < 40)
		return IPPROTO_TCP;
	if (r < 70)
		return IPPROTO_UDP;
	if (r < 85)
		return family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	return family == 4 ? other4[rnd(ARRAY_SIZE(other4))] : other6[rnd(ARRAY_SIZE(other6))];
}

/*
 * A well-formed frame of any class from the harness's builder, with random fields; a quarter
 * of them aimed at a rule: its family, protocol, ports, flags and destination prefix.
 */
static void gen_valid(struct frame *f, struct layout *lo, bool ip_only)
{
	struct pkt_spec s = { .vlans = chance(70) ? 0 : chance(66) ? 1 : 2 };
	const struct ref_rule *rule = chance(25) ? &rules[rnd(ARRAY_SIZE(rules))] : NULL;
	char chain[8] = "";
	__u8 *ip, flags;
	__u32 size, r = rnd(100);

	memset(lo, 0, sizeof(*lo));
	s.family = r < 45 ? 4 : r < 90 || ip_only || rule ? 6 : 0;
	if (rule && rule->family)
		s.family = rule->family;
	lo->family = s.family;
	lo->ip = ETH_HLEN + 4 * s.vlans;
	if (!s.family) {
		build_frame(&s, f);
		if (chance(50))
			set16(f->data + lo->ip - 2, draw_ethertype_nonip());
		return;
	}
	if (rule && rule->proto == SLUICE_PROTO_ICMP)
		s.proto = s.family == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	else if (rule && (rule->proto || rule->syn))
		s.proto = rule->syn ? IPPROTO_TCP : rule->proto;
	else
		s.proto = draw_proto(s.family);
	lo->proto = s.proto;
	s.frag = chance(80) ? FRAG_NONE : chance(50) ? FRAG_FIRST : FRAG_LATER;
	if (s.family == 4 && chance(25))
		s.ip_opts = 4 * (1 + rnd(10));
	if (s.proto == IPPROTO_TCP && chance(30))
		s.tcp_opts = 4 * rnd(11);
	if (s.family == 6) {
		for (__u32 i = 0, n = rnd(5); i < n; i++)
			chain[i] = "HRDA"[rnd(4)];
		s.ext = chain;
	}
	s.dport = 1; /* set below, with the source port */
	s.tcp_flags = TCP_SYN;
	s.len = chance(50) ? 0 : 60 + rnd(340);
	s.trailer = chance(15) ? 1 + rnd(20) : 0;
	build_frame(&s, f);

	ip = f->data + lo->ip;
	lo->l4 = f->ip_hdr_end - lo->ip;
	for (const char *c = chain; *c; c++, lo->next_ext++) {
		lo->ext[lo->next_ext] = lo->l4;
		lo->ext_type[lo->next_ext] = ext_type(*c, &size);
		lo->l4 += size;
	}
	if (s.family == 6 && s.frag) {
		lo->ext[lo->next_ext] = lo->l4;
		lo->ext_type[lo->next_ext++] = IPPROTO_FRAGMENT;
		lo->l4 += 8;
	}
	for (int i = 0; i < 2; i++) { /* source, destination */
		struct ref_prefix dst;
		__u8 a[16];

		if (i == 0)
			draw_source(s.family, a);
		else if (rule && rule->dst && ref_prefix_parse(rule->dst, &dst))
			draw_in(&dst, s.family, a);
		else
			draw_addr(s.family, a);
		if (s.family == 4)
			memcpy(ip + 12 + 4 * i, a + 12, 4);
		else
			memcpy(ip + 8 + 16 * i, a, 16);
	}
	if (s.proto == IPPROTO_TCP || s.proto == IPPROTO_UDP) {
		set16(ip + lo->l4, rnd(65536));
		set16(ip + lo->l4 + 2, rule && rule->dport_hi ?
					       draw_port_in(rule->dport_lo, rule->dport_hi) :
					       draw_port());
	}
	flags = chance(75) ? tcp_flag_picks[rnd(ARRAY_SIZE(tcp_flag_picks))] : rnd(256);
	if (s.proto == IPPROTO_TCP)
		ip[lo->l4 + 13] = rule && rule->syn && chance(75) ? TCP_SYN : flags;
	if (chance(30)) { /* payload that a later fragment might be mistaken to carry headers in */
		__u32 from = lo->ip + lo->l4 + 20;

		if (from < f->len)
			rnd_bytes(f->data + from, f->len - from);
	}
}

/* ---- Mutations ---- */

static __u32 min_len; /* the shortest frame the kernel will run */

static const __u8 interesting[] = { 0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x0f, 0x10, 0x11,
				    0x12, 0x2b, 0x2c, 0x32, 0x33, 0x3a, 0x3b, 0x3c, 0x40,
				    0x45, 0x4f, 0x60, 0x7f, 0x80, 0x81, 0x86, 0x88, 0xff };

/* A position in the frame, mostly within its headers. */
static __u32 draw_pos(const struct frame *f, const struct layout *lo)
{
	__u32 hdr = lo->ip + lo->l4 + 24;

	return rnd(chance(70) && hdr < f->len ? hdr : f->len);
}

/* A length field's new value: anything, near the real one, or at most `floor`. */
static __u16 bogus_len(__u16 real, __u32 floor)
{
	int r = rnd(100);

	if (r < 30)
		return rnd(65536);
	if (r < 70)
		return real + rnd(17) - 8;
	return rnd(floor + 1);
}

/* Rebuilds the IPv6 extension headers: 0-8 of random types and lengths, some cut short. */
static void mut_chain(struct frame *f, struct layout *lo)
{
	__u8 tail[FRAME_MAX], *next = f->data + lo->ip + 6;
	__u32 ntail = lo->ip + lo->l4 < f->len ? f->len - lo->ip - lo->l4 : 0;
	__u32 base = lo->ip + 40, n = rnd(9);

	memcpy(tail, f->data + lo->ip + lo->l4, ntail);
	f->len = base;
	lo->next_ext = 0;
	for (__u32 i = 0; i < n && next && f->len + 8 <= FRAME_MAX; i++) {
		__u8 type = chance(85) ? ext_types[rnd(ARRAY_SIZE(ext_types))] : rnd(256);
		__u8 *h = f->data + f->len;
		__u32 size, hl = chance(80) ? rnd(4) : rnd(256);

		*next = type;
		if (type == IPPROTO_FRAGMENT)
			size = 8;
		else if (type == IPPROTO_AH)
			size = (hl + 2) * 4;
		else
			size = (hl + 1) * 8;
		if (size > FRAME_MAX - f->len)
			size = FRAME_MAX - f->len;
		rnd_bytes(h, size);
		h[1] = hl;
		if (type == IPPROTO_FRAGMENT && chance(50))
			h[2] = 0, h[3] &= 1; /* offset 0: a first fragment, or none at all */
		lo->ext[lo->next_ext] = f->len - lo->ip;
		lo->ext_type[lo->next_ext++] = type;
		f->len += size;
		/* Any other type ends the chain: what follows is its payload. */
		next = memchr(ext_types, type, sizeof(ext_types)) ? h : NULL;
	}
	if (next)
		*next = chance(85) ? lo->proto : rnd(256);
	lo->l4 = f->len - lo->ip;
	if (ntail > FRAME_MAX - f->len)
		ntail = FRAME_MAX - f->len;
	memcpy(f->data + f->len, tail, ntail);
	f->len += ntail;
	set16(f->data + lo->ip + 4,
	      chance(80) ? f->len - base : bogus_len(f->len - base, lo->l4 - 40));
}

/* Replaces the VLAN tags with 0-3 new ones, mostly 802.1Q and 802.1ad. */
static void mut_vlans(struct frame *f, struct layout *lo)
{
	__u32 inner = lo->ip - 2, tags = rnd(4), rest = f->len - inner;
	__u8 tmp[FRAME_MAX];

	memcpy(tmp, f->data + inner, rest);
	f->len = 12;
	for (__u32 i = 0; i < tags; i++) {
		put16(f, chance(90) ? (chance(50) ? ETH_P_8021Q : ETH_P_8021AD) : rnd(65536));
		put16(f, rnd(65536));
	}
	lo->ip = f->len + 2;
	if (rest > FRAME_MAX - f->len)
		rest = FRAME_MAX - f->len;
	put(f, tmp, rest);
}

enum mutation {
	M_FLIP,
	M_BYTE,
	M_CUT,
	M_TOTLEN,
	M_IHL,
	M_PAYLEN,
	M_DOFF,
	M_EXTLEN,
	M_CHAIN,
	M_VLANS,
	M_ETHERTYPE,
	M_FRAG,
	M_COUNT,
};

/* Applies one mutation; false when it does not apply to this frame. */
static bool mutate(struct frame *f, struct layout *lo, enum mutation m)
{
	static const __u16 types[] = { ETH_P_IP, ETH_P_IPV6, ETH_P_8021Q, ETH_P_8021AD, ETH_P_ARP };
	__u8 *ip = f->data + lo->ip;
	__u32 iplen = f->len > lo->ip ? f->len - lo->ip : 0, hdr = lo->ip + lo->l4 + 24;

	switch (m) {
	case M_FLIP:
		for (__u32 n = 1 + rnd(4); n; n--)
			f->data[draw_pos(f, lo)] ^= 1 << rnd(8);
		return true;
	case M_BYTE:
		for (__u32 n = 1 + rnd(3); n; n--)
			f->data[draw_pos(f, lo)] =
				chance(60) ? interesting[rnd(ARRAY_SIZE(interesting))] : rnd(256);
		return true;
	case M_CUT:
		if (f->len <= min_len)
			return false;
		if (chance(50) && hdr < f->len)
			f->len = hdr;
		f->len = min_len + rnd(f->len - min_len + 1);
		return true;
	case M_TOTLEN:
		if (lo->family != 4 || iplen < 4)
			return false;
		set16(ip + 2, bogus_len(rd16(ip + 2), (ip[0] & 0xf) * 4));
		return true;
	case M_IHL:
		if (lo->family != 4 || iplen < 1)
			return false;
		ip[0] = (ip[0] & 0xf0) | rnd(16);
		return true;
	case M_PAYLEN:
		if (lo->family != 6 || iplen < 6)
			return false;
		set16(ip + 4, bogus_len(rd16(ip + 4), lo->l4 - 40));
		return true;
	case M_DOFF:
		if (lo->proto != IPPROTO_TCP || iplen <= lo->l4 + 12)
			return false;
		ip[lo->l4 + 12] = rnd(16) << 4 | (ip[lo->l4 + 12] & 0xf);
		return true;
	case M_EXTLEN: {
		__u32 k = rnd(lo->next_ext ?: 1), at = lo->ext[k];

		if (!lo->next_ext || iplen < at + 4)
			return false;
		if (lo->ext_type[k] == IPPROTO_FRAGMENT)
			set16(ip + at + 2, rnd(65536));
		else
			ip[at + 1] = chance(50) ? rnd(5) : rnd(256);
		return true;
	}
	case M_CHAIN:
		if (lo->family != 6 || iplen < 40)
			return false;
		mut_chain(f, lo);
		return true;
	case M_VLANS:
		if (f->len < lo->ip)
			return false;
		mut_vlans(f, lo);
		return true;
	case M_ETHERTYPE:
		if (f->len < lo->ip)
			return false;
		set16(ip - 2, chance(80) ? types[rnd(ARRAY_SIZE(types))] : rnd(65536));
		return true;
	case M_FRAG:
		if (lo->family != 4 || iplen < 8)
			return false;
		set16(ip + 6, chance(50) ? (rnd(8) << 13 | (1 + rnd(0x1fff))) : rnd(65536));
		return true;
	default:
		return false;
	}
}

/* ---- Generators ---- */

static void gen_valid_any(struct frame *f, struct layout *lo)
{
	gen_valid(f, lo, false);
}

/* A valid frame with one to four mutations. */
static void gen_mutated(struct frame *f, struct layout *lo)
{
	__u32 n = 1;

	gen_valid(f, lo, chance(95));
	while (n < 4 && chance(50))
		n++;
	while (n)
		n -= mutate(f, lo, rnd(M_COUNT));
	if (f->len < min_len)
		f->len = min_len;
}

/* Random bytes, in part behind an IP (or VLAN) ethertype and the version nibble to match. */
static void gen_random(struct frame *f, struct layout *lo)
{
	memset(lo, 0, sizeof(*lo));
	f->len = min_len + rnd((chance(50) ? 80 : FRAME_MAX) - min_len + 1);
	rnd_bytes(f->data, f->len);
	if (chance(60)) {
		__u32 at = 12, tags = chance(70) ? 0 : rnd(4);
		bool v4 = chance(50);

		for (; tags && at + 4 <= f->len; tags--, at += 4)
			set16(f->data + at, chance(50) ? ETH_P_8021Q : ETH_P_8021AD);
		if (at + 2 <= f->len)
			set16(f->data + at, v4 ? ETH_P_IP : ETH_P_IPV6);
		if (at + 2 < f->len && chance(80))
			f->data[at + 2] = (v4 ? 0x40 : 0x60) | (f->data[at + 2] & 0xf);
	}
}

struct family {
	const char *name;
	void (*gen)(struct frame *f, struct layout *lo);
	__u32 percent; /* of the packets */
	__u64 packets, disagreements;
	__u64 reasons[SLUICE_REASON_COUNT];
	__u64 verdicts[SLUICE_VERDICT_COUNT];
};

/* How often the reference gave each rule slot and verdict, and each cause of malformed. */
static __u64 rule_hits[SLUICE_RULE_SLOTS][SLUICE_VERDICT_COUNT];
static struct {
	const char *why;
	__u64 n;
} causes[32];

static void count_verdict(struct family *fam, const struct ref_verdict *v)
{
	size_t i;

	fam->packets++;
	fam->reasons[v->reason]++;
	fam->verdicts[v->verdict]++;
	rule_hits[v->rule][v->verdict]++;
	for (i = 0; v->why && i < ARRAY_SIZE(causes); i++) {
		if (!causes[i].why)
			causes[i].why = v->why;
		if (causes[i].why == v->why) {
			causes[i].n++;
			break;
		}
	}
}

static struct family families[] = {
	{ "valid frames of every class, random fields", gen_valid_any, 35 },
	{ "mutated frames: bit flips, bytes, cuts, lengths, extension chains, vlan stacks",
	  gen_mutated, 50 },
	{ "random bytes", gen_random, 15 },
};

static struct family *pick_family(void)
{
	__u32 r = rnd(100);

	for (size_t i = 0; i < ARRAY_SIZE(families) - 1; i++) {
		if (r < families[i].percent)
			return &families[i];
		r -= families[i].percent;
	}
	return &families[ARRAY_SIZE(families) - 1];
}

/* ---- Checks ---- */

struct run {
	struct ref_policy rp;
	struct ref_state st;
	struct snap want, got; /* every counter of interface slot 0 */
	struct sluice_counter *cpu; /* one counter on every CPU */
	__u32 phase;
	__u64 packet, disagreements;
};

static const char *slot_name(__u32 slot, char *buf, size_t size)
{
	if (slot == SLUICE_NO_RULE)
		return "none";
	snprintf(buf, size, "%u", slot - SLOT(0));
	return buf;
}

/* Prints (up to `show` of) the counters that differ from the reference; returns how many. */
static __u32 diff_counters(const struct snap *want, const struct snap *got, __u32 show)
{
	__u32 n = 0;
	char buf[16];

	for (__u32 i = 0; i < SLUICE_STATS_PER_IFACE; i++) {
		__u32 reason = i % SLUICE_REASON_COUNT, verdict = i / SLUICE_REASON_COUNT;
		__u32 slot = verdict / SLUICE_VERDICT_COUNT;

		if (want->c[i].packets == got->c[i].packets && want->c[i].bytes == got->c[i].bytes)
			continue;
		if (n++ < show)
			tap_diag("  counter rule %s %s %s: %+lld packets %+lld bytes against "
				 "the reference",
				 slot_name(slot, buf, sizeof(buf)),
				 verdict_names[verdict % SLUICE_VERDICT_COUNT],
				 reason_names[reason],
				 (long long)(got->c[i].packets - want->c[i].packets),
				 (long long)(got->c[i].bytes - want->c[i].bytes));
	}
	return n;
}

static void hexdump(const struct frame *f)
{
	char line[80];

	for (__u32 at = 0; at < f->len; at += 16) {
		int n = snprintf(line, sizeof(line), "  %04x ", at);

		for (__u32 i = at; i < at + 16 && i < f->len; i++)
			n += snprintf(line + n, sizeof(line) - n, " %02x", f->data[i]);
		tap_diag("%s", line);
	}
}

static const char *xdp_name(__u32 retval)
{
	return retval == XDP_PASS ? "XDP_PASS" : retval == XDP_DROP ? "XDP_DROP" : "another action";
}

/* Shows a disagreement (the first few in full) and takes the counters as they are. */
static void disagree(struct run *r, struct family *fam, const struct frame *f,
		     const struct ref_verdict *v, __u32 retval, int err)
{
	bool show = r->disagreements++ < SHOW_MAX;
	char buf[16];
	__u32 moved;

	fam->disagreements++;
	if (show) {
		tap_diag("disagreement %llu: packet %llu (%s), phase %u: policy slot %u, lists %u, "
			 "malformed %s",
			 (unsigned long long)r->disagreements, (unsigned long long)r->packet,
			 fam->name, r->phase, SLUICE_ACTIVE_POLICY(r->phase >> 1),
			 SLUICE_ACTIVE_LISTS(r->phase >> 1),
			 r->rp.malformed_drop ? "drop" : "pass");
		tap_diag("  reference: rule %s %s %s, %s", slot_name(v->rule, buf, sizeof(buf)),
			 verdict_names[v->verdict], reason_names[v->reason],
			 ref_xdp_drops(v) ? "XDP_DROP" : "XDP_PASS");
		if (err)
			tap_diag("  data path: %s", strerror(-err));
		else
			tap_diag("  data path: %s (%u)", xdp_name(retval), retval);
	}
	if (snap_read(&r->got)) {
		tap_diag("  counters unreadable");
	} else {
		moved = diff_counters(&r->want, &r->got, show ? 8 : 0);
		if (show && !moved)
			tap_diag("  counters as the reference says");
		r->want = r->got;
	}
	if (show) {
		tap_diag("  frame of %u bytes:", f->len);
		hexdump(f);
	}
}

/* One frame through the reference and the program: verdict and its counter, exactly. */
static void check_packet(struct run *r, struct family *fam, const struct frame *f)
{
	struct ref_verdict v = ref_classify(&r->st, &r->rp, f->data, f->len);
	__u32 idx = sluice_stats_index(0, v.rule, v.verdict, v.reason), retval = 0;
	struct sluice_counter *want = &r->want.c[idx], got = {};
	int err;

	want->packets++;
	want->bytes += f->len;
	count_verdict(fam, &v);
	err = run_xdp(H.prog, f, f->len, 1, &retval, NULL);
	if (!err && bpf_map_lookup_elem(H.stats, &idx, r->cpu))
		err = -errno;
	for (int cpu = 0; cpu < H.ncpus; cpu++) {
		got.packets += r->cpu[cpu].packets;
		got.bytes += r->cpu[cpu].bytes;
	}
	if (err || retval != (ref_xdp_drops(&v) ? XDP_DROP : XDP_PASS) ||
	    got.packets != want->packets || got.bytes != want->bytes)
		disagree(r, fam, f, &v, retval, err);
}

/* At a phase's end every counter of the interface must be the reference's. */
static bool phase_check(struct run *r)
{
	__u32 n;

	if (snap_read(&r->got)) {
		tap_diag("phase %u: counters unreadable", r->phase);
		return false;
	}
	n = diff_counters(&r->want, &r->got, 8);
	if (n)
		tap_diag("phase %u: %u counters differ from the reference", r->phase, n);
	if (r->st.overflow)
		tap_diag("phase %u: the reference's tables overflowed", r->phase);
	r->want = r->got;
	return !n && !r->st.overflow;
}

/* Appends to a diagnostic line, flushing it when full. */
static void line_add(char *line, size_t size, int *n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void line_add(char *line, size_t size, int *n, const char *fmt, ...)
{
	va_list ap;

	if (*n > (int)size - 40) {
		tap_diag("%s", line);
		*n = snprintf(line, size, "   ");
	}
	va_start(ap, fmt);
	*n += vsnprintf(line + *n, size - *n, fmt, ap);
	va_end(ap);
}

/* What the reference decided, to show that the generators reach every class. */
static void print_mix(void)
{
	char line[160], buf[16];
	int n;

	tap_diag("reference verdicts and reasons by generator:");
	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		const struct family *fam = &families[i];

		n = snprintf(line, sizeof(line), "  %.24s...: %llu;", fam->name,
			     (unsigned long long)fam->packets);
		for (int k = 0; k < SLUICE_VERDICT_COUNT; k++)
			line_add(line, sizeof(line), &n, " %s %llu", verdict_names[k],
				 (unsigned long long)fam->verdicts[k]);
		for (int k = 0; k < SLUICE_REASON_COUNT; k++)
			line_add(line, sizeof(line), &n, " %s %llu", reason_names[k],
				 (unsigned long long)fam->reasons[k]);
		tap_diag("%s", line);
	}
	n = snprintf(line, sizeof(line), "  by rule (pass/drop/monitor/ban):");
	for (__u32 slot = 0; slot < SLUICE_RULE_SLOTS; slot++) {
		const __u64 *h = rule_hits[slot];

		if (h[0] + h[1] + h[2] + h[3])
			line_add(line, sizeof(line), &n, " %s %llu/%llu/%llu/%llu",
				 slot_name(slot, buf, sizeof(buf)), (unsigned long long)h[0],
				 (unsigned long long)h[1], (unsigned long long)h[2],
				 (unsigned long long)h[3]);
	}
	tap_diag("%s", line);
	n = snprintf(line, sizeof(line), "  malformed by cause:");
	for (size_t i = 0; i < ARRAY_SIZE(causes) && causes[i].why; i++)
		line_add(line, sizeof(line), &n, " %s %llu;", causes[i].why,
			 (unsigned long long)causes[i].n);
	tap_diag("%s", line);
}

static __u64 env_u64(const char *name, __u64 dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

int main(void)
{
	static struct run r;
	static struct frame f;
	const char *pick = getenv("SLUICE_FUZZ_SEED");
	__u64 seed = pick && !strcmp(pick, "random") ? mono_ns() ^ (__u64)getpid() << 32 :
						       env_u64("SLUICE_FUZZ_SEED", FUZZ_SEED);
	__u64 total = env_u64("SLUICE_FUZZ_PACKETS", DEFAULT_PACKETS), start;
	bool tables_ok = true;
	double secs;
	int err = 0;

	HARNESS_OPEN_OR_SKIP("packet fuzzing of the data path");
	tap_diag("seed 0x%llx, %llu packets (SLUICE_FUZZ_SEED, SLUICE_FUZZ_PACKETS override)",
		 (unsigned long long)seed, (unsigned long long)total);
	rng_state = seed;
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		pool_add(lists[i].cidr);
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		if (rules[i].dst)
			pool_add(rules[i].dst);
	for (size_t i = 0; i < ARRAY_SIZE(extra_prefixes); i++)
		pool_add(extra_prefixes[i]);
	min_len = min_test_len();
	r.cpu = calloc(H.ncpus, sizeof(*r.cpu));
	if (!r.cpu || !ref_state_init(&r.st))
		err = -ENOMEM;
	err = err ?: snap_read(&r.want);

	start = mono_ns();
	for (r.phase = 0; !err && r.packet < total && r.disagreements < DISAGREE_MAX; r.phase++) {
		err = phase_install(r.phase, &r.rp, &r.st);
		for (__u32 i = 0; !err && i < PHASE_PACKETS && r.packet < total &&
				  r.disagreements < DISAGREE_MAX;
		     i++, r.packet++) {
			struct family *fam = pick_family();
			struct layout lo;

			fam->gen(&f, &lo);
			check_packet(&r, fam, &f);
		}
		tables_ok &= phase_check(&r);
	}
	secs = (mono_ns() - start) / 1e9;
	if (r.disagreements >= DISAGREE_MAX)
		tap_diag("stopped after %u disagreements", DISAGREE_MAX);
	if (err)
		tap_diag("setup: %s", strerror(-err));

	print_mix();
	for (size_t i = 0; i < ARRAY_SIZE(families); i++)
		tap_result(!err && !families[i].disagreements,
			   "%s: %llu packets, %llu disagreements with the reference",
			   families[i].name, (unsigned long long)families[i].packets,
			   (unsigned long long)families[i].disagreements);
	tap_result(!err && tables_ok && !r.disagreements && r.packet >= total,
		   "%llu packets in %u phases, %.1f s, %.0f packets/s; counters equal to the "
		   "reference's at every phase end",
		   (unsigned long long)r.packet, r.phase, secs, r.packet / (secs ?: 1));
	ref_state_free(&r.st);
	free(r.cpu);
	harness_close();
	return tap_exit();
}
