/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* SYN guards: SYNs answered in XDP with the kernel's SYN cookies, returning ACKs checked. */
#ifndef SLUICE_GUARD_H
#define SLUICE_GUARD_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sluice.h"
#include "maps.h"
#include "parse.h"
#include "addr.h"
#include "stats.h"

/*
 * What the kernel's cookie check will decode, read from the host at attach: the
 * options a cookie can carry live in the low bits of its TSval, and the kernel
 * subtracts a per-connection offset from the echo unless tcp_timestamps is 2, so
 * with any other setting a cookie carries the MSS alone (no window scaling, no SACK).
 */
const volatile __u32 guard_ncpus = 1;
const volatile __u8 guard_timestamps = 0; /* net.ipv4.tcp_timestamps == 2 */
const volatile __u8 guard_sack = 0; /* net.ipv4.tcp_sack */
const volatile __u8 guard_wscale = 7; /* the window scale the kernel gives a cookie's socket */

#define GUARD_MAX_CPUS 256
#define GUARD_TCP_LEN 40 /* the SYN-ACK's TCP header: 20 bytes, and options padded to 20 */
#define GUARD_TS_OPT_BITS 6 /* the kernel's TSBITS */
#define GUARD_TS_NO_WSCALE 0xf
#define GUARD_TS_SACK 0x10
#define GUARD_TTL 64
#define BPF_TCP_LISTEN_STATE 10 /* BPF_TCP_LISTEN of enum bpf_sock's state */
#define TCP_FLAG_RST 0x04

/* TCP option kinds and lengths (RFC 9293, RFC 7323, RFC 2018). */
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WINDOW 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_TIMESTAMP 8
#define TCPOLEN_MSS 4
#define TCPOLEN_WINDOW 3
#define TCPOLEN_SACK_PERM 2
#define TCPOLEN_TIMESTAMP 10

enum guard_result {
	GUARD_PASS = 0, /* not the guard's: rules as usual */
	GUARD_PROVEN, /* the ACK of a handshake with a valid cookie: counts as its SYN */
	GUARD_DONE, /* decided here (d holds the verdict) */
};

/* Index of the first guard for P's destination, or -1. */
static __always_inline int guard_find(const struct sluice_policy *pol, const struct packet *p)
{
	int i;

	for (i = 0; i < SLUICE_MAX_GUARDS; i++) {
		const struct sluice_guard *g = &pol->guards[i];

		if (i >= pol->nguards)
			break;
		if (g->dport != p->dport)
			continue;
		if ((g->flags & SLUICE_GUARD_DST) &&
		    (g->family != p->family || (p->dst[0] & g->dst_mask[0]) != g->dst_addr[0] ||
		     (p->dst[1] & g->dst_mask[1]) != g->dst_addr[1] ||
		     (p->dst[2] & g->dst_mask[2]) != g->dst_addr[2] ||
		     (p->dst[3] & g->dst_mask[3]) != g->dst_addr[3]))
			continue;
		return i;
	}
	return -1;
}

/*
 * A guard engaging (VERDICT cookie) or coming to rest (pass), as an event of reason
 * guard: the SYN that tipped it, with the SYN rate in place of the sampling rate. Not
 * sampled (it happens seldom: the hysteresis sees to that), but off with events.
 */
static __always_inline void guard_event(const struct sluice_policy *pol, const struct packet *p,
					__u32 ifindex, __u64 now, __u8 verdict, __u64 rate)
{
	struct sluice_event_stats *es;
	struct sluice_event *e;
	__u32 zero = 0;

	if (!pol->event_ceiling)
		return;
	es = bpf_map_lookup_elem(&sluice_evstats, &zero);
	e = bpf_ringbuf_reserve(&sluice_events, sizeof(*e), 0);
	if (!e) {
		if (es)
			es->lost++;
		return;
	}
	e->time_ns = now;
	__builtin_memcpy(e->src, p->src, sizeof(e->src));
	__builtin_memcpy(e->dst, p->dst, sizeof(e->dst));
	e->ifindex = ifindex;
	e->sport = p->sport;
	e->dport = p->dport;
	e->family = p->family;
	e->l4proto = p->l4proto;
	e->reason = SLUICE_REASON_GUARD;
	e->verdict = verdict;
	e->rule = SLUICE_NO_RULE;
	e->limit = SLUICE_EVENT_NO_LIMIT;
	e->len = p->len > 0xffff ? 0xffff : p->len;
	e->sampled = rate > 0xffffffff ? 0xffffffff : rate;
	bpf_ringbuf_submit(e, 0);
	if (es)
		es->emitted++;
}

/* What guard_pressure says: engaged now, and whether that changed with this SYN. */
#define GUARD_ENGAGED 1
#define GUARD_CHANGED 2

/*
 * Counts a SYN of guard IDX and, when this CPU's window turns over, sums every CPU's
 * last full window into the rate that engages or disengages the guard (sluice.h).
 * Other CPUs' counters are read without a lock: a window is off by a few SYNs at most.
 */
static __noinline int guard_pressure(const struct sluice_guard *g, __u32 idx, __u64 now)
{
	struct sluice_guard_stats *st, *o;
	struct sluice_guard_state *gs;
	__u64 win = now >> SLUICE_GUARD_WINDOW_SHIFT, sum = 0;
	__u32 cpu;

	if (!g)
		return 0;
	st = bpf_map_lookup_elem(&sluice_guardstats, &idx);
	gs = bpf_map_lookup_elem(&sluice_guardstate, &idx);
	if (!st || !gs)
		return 0;
	if (st->window == win) {
		st->syns++;
		return gs->engaged_ns || (g->flags & SLUICE_GUARD_ALWAYS) ? GUARD_ENGAGED : 0;
	}
	st->prev_syns = st->window + 1 == win ? st->syns : 0;
	st->syns = 1;
	st->window = win;
	for (cpu = 0; cpu < GUARD_MAX_CPUS; cpu++) {
		if (cpu >= guard_ncpus)
			break;
		o = bpf_map_lookup_percpu_elem(&sluice_guardstats, &idx, cpu);
		if (!o)
			continue;
		if (o->window == win)
			sum += o->prev_syns;
		else if (o->window + 1 == win)
			sum += o->syns;
	}
	gs->rate = (sum * 1000000000ULL) >> SLUICE_GUARD_WINDOW_SHIFT;
	/* Measured all the same, so that status shows the rate an always guard answers. */
	if (g->flags & SLUICE_GUARD_ALWAYS)
		return GUARD_ENGAGED;
	if (gs->rate >= g->above) {
		gs->pressure_ns = now;
		if (!gs->engaged_ns) {
			gs->engaged_ns = now;
			gs->engagements++;
			return GUARD_ENGAGED | GUARD_CHANGED;
		}
	} else if (gs->rate * 2 >= g->above) {
		gs->pressure_ns = now;
	} else if (gs->engaged_ns && now - gs->pressure_ns >= SLUICE_GUARD_HOLD_NS) {
		gs->engaged_ns = 0;
		return GUARD_CHANGED;
	}
	return gs->engaged_ns ? GUARD_ENGAGED : 0;
}

/* The headers of a packet, copied out so the kernel's cookie helpers can read them. */
struct guard_hdrs {
	union {
		struct iphdr ip4;
		struct ipv6hdr ip6;
	};
	union {
		struct tcphdr th;
		__u8 tcp[64]; /* 60 at most, rounded up for the masked indices of parse_syn_opts */
	};
};

/* The TCP options of a SYN that a cookie can carry. */
struct syn_opts {
	__be32 tsval;
	__u8 ts;
	__u8 sack;
	__u8 ws; /* GUARD_TS_NO_WSCALE when the client offered no window scaling */
	__u8 pad;
};

/*
 * Reads the options of the SYN copied to H (LEN bytes of TCP header). Global, so the
 * verifier walks its loop once, not once per path that leads to it.
 */
__noinline int parse_syn_opts(const struct guard_hdrs *h, __u32 len, struct syn_opts *o)
{
	__u32 i = sizeof(struct tcphdr), k;
	const __u8 *th;

	if (!h || !o)
		return 0;
	th = h->tcp;
	o->ws = GUARD_TS_NO_WSCALE;
	for (k = 0; k < 40; k++) {
		__u8 kind, olen;

		if (i >= len || i >= 60)
			break;
		kind = th[i & 63];
		if (kind == TCPOPT_EOL)
			break;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			break;
		olen = th[(i + 1) & 63];
		if (olen < 2 || i + olen > len)
			break;
		if (kind == TCPOPT_WINDOW && olen == TCPOLEN_WINDOW)
			o->ws = th[(i + 2) & 63] > 14 ? 14 : th[(i + 2) & 63];
		else if (kind == TCPOPT_SACK_PERM && olen == TCPOLEN_SACK_PERM)
			o->sack = 1;
		else if (kind == TCPOPT_TIMESTAMP && olen == TCPOLEN_TIMESTAMP && i <= 50) {
			o->ts = 1;
			__builtin_memcpy(&o->tsval, &th[(i + 2) & 63], 4);
		}
		i += olen;
	}
	return 0;
}

static __always_inline __u16 csum_fold(__s64 sum)
{
	__u64 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s;
}

/*
 * The SYN-ACK: the TCP header and 20 bytes of options as the kernel's cookie check will
 * decode them (MSS; with timestamps, SACK-permitted, TS with the options in the low
 * bits of TSval, and window scale), NOP-padded, so every reply has the same length.
 */
static __always_inline void build_syn_ack(struct tcphdr *r, const struct tcphdr *syn,
					  const struct syn_opts *o, __u32 cookie, __u16 mss,
					  __u64 now)
{
	__u8 *opt = (__u8 *)(r + 1);
	__u32 ts, ts_now;

	r->source = syn->dest;
	r->dest = syn->source;
	r->seq = bpf_htonl(cookie);
	r->ack_seq = bpf_htonl(bpf_ntohl(syn->seq) + 1);
	r->doff = GUARD_TCP_LEN / 4;
	r->syn = 1;
	r->ack = 1;
	/* Unscaled in a SYN-ACK; whole segments, as the kernel rounds its first window. */
	r->window = bpf_htons(65535 / mss * mss);
	__builtin_memset(opt, TCPOPT_NOP, 20);
	opt[0] = TCPOPT_MSS;
	opt[1] = TCPOLEN_MSS;
	opt[2] = mss >> 8;
	opt[3] = mss & 0xff;
	if (!o->ts || !guard_timestamps)
		return;
	if (o->sack && guard_sack) {
		opt[4] = TCPOPT_SACK_PERM;
		opt[5] = TCPOLEN_SACK_PERM;
	}
	/*
	 * The kernel's cookie_init_timestamp: its millisecond clock, options in the low bits.
	 * The coarse clock is at most a tick behind it, so the connection's later TSvals,
	 * which the kernel takes from its own clock, never go back.
	 */
	ts_now = now / 1000000;
	ts = (ts_now >> GUARD_TS_OPT_BITS) << GUARD_TS_OPT_BITS;
	ts |= o->ws | (o->sack && guard_sack ? GUARD_TS_SACK : 0);
	if (ts > ts_now)
		ts -= 1U << GUARD_TS_OPT_BITS;
	opt[6] = TCPOPT_TIMESTAMP;
	opt[7] = TCPOLEN_TIMESTAMP;
	ts = bpf_htonl(ts);
	__builtin_memcpy(&opt[8], &ts, 4);
	__builtin_memcpy(&opt[12], &o->tsval, 4);
	if (o->ws != GUARD_TS_NO_WSCALE) {
		opt[17] = TCPOPT_WINDOW;
		opt[18] = TCPOLEN_WINDOW;
		opt[19] = guard_wscale;
	}
}

/*
 * Answers a SYN with the cookie SYN-ACK, in place: the frame is cut to its Ethernet
 * and VLAN headers, a fixed IP header and the 40-byte TCP header. -1 if it cannot.
 */
static __always_inline int guard_reply(struct xdp_md *ctx, const struct guard_hdrs *h, __u32 l3_off,
				       __u32 tcp_len, __s64 cookie, __u64 now)
{
	struct {
		struct tcphdr th;
		__u8 opts[20];
	} r = {};
	struct syn_opts o = {};
	__u32 ip_len = h->ip4.version == 4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	__u32 l4_off = l3_off + ip_len, frame = l4_off + GUARD_TCP_LEN;
	__u16 mss = cookie >> 32;
	struct ethhdr *eth;
	void *data, *end;
	__u8 mac[ETH_ALEN];
	__s64 sum;

	parse_syn_opts(h, tcp_len, &o);
	if (!mss)
		mss = 536;
	build_syn_ack(&r.th, &h->th, &o, (__u32)cookie, mss, now);

	if (bpf_xdp_adjust_tail(ctx, (int)frame - (int)bpf_xdp_get_buff_len(ctx)))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (l3_off > 64 || data + l3_off + ip_len + GUARD_TCP_LEN > end)
		return -1;
	eth = data;
	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);

	if (h->ip4.version == 4) {
		struct iphdr *ip = data + l3_off;
		struct {
			__be32 saddr, daddr;
			__u8 zero, proto;
			__be16 len;
		} ph = { h->ip4.daddr, h->ip4.saddr, 0, IPPROTO_TCP, bpf_htons(GUARD_TCP_LEN) };

		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0;
		ip->tot_len = bpf_htons(sizeof(*ip) + GUARD_TCP_LEN);
		ip->id = 0;
		ip->frag_off = bpf_htons(0x4000); /* DF */
		ip->ttl = GUARD_TTL;
		ip->protocol = IPPROTO_TCP;
		ip->check = 0;
		ip->saddr = h->ip4.daddr;
		ip->daddr = h->ip4.saddr;
		ip->check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)ip, sizeof(*ip), 0));
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	} else {
		struct ipv6hdr *ip6 = data + l3_off;
		struct {
			struct in6_addr saddr, daddr;
			__be32 len;
			__u8 zero[3], nexthdr;
		} ph = { h->ip6.daddr, h->ip6.saddr, bpf_htonl(GUARD_TCP_LEN), {}, IPPROTO_TCP };

		*(__be32 *)ip6 = bpf_htonl(0x60000000);
		ip6->payload_len = bpf_htons(GUARD_TCP_LEN);
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = GUARD_TTL;
		ip6->saddr = h->ip6.daddr;
		ip6->daddr = h->ip6.saddr;
		sum = bpf_csum_diff(NULL, 0, (__be32 *)&ph, sizeof(ph), 0);
	}
	r.th.check = csum_fold(bpf_csum_diff(NULL, 0, (__be32 *)&r, sizeof(r), sum));
	if (data + l4_off + sizeof(r) > end || l4_off > 128)
		return -1;
	__builtin_memcpy(data + l4_off, &r, sizeof(r));
	return 0;
}

/*
 * What the last socket lookup found for a guard's destination address, per CPU, so that
 * the other SYNs of a flood need none: the lookup searches the established table first
 * (a cache miss for each spoofed source), then the listeners. A listener is marked as
 * flooded by bpf_tcp_gen_syncookie (tcp_synq_overflow, at most once a second) and the
 * kernel accepts cookies for TCP_SYNCOOKIE_VALID (2 minutes) after the mark; the raw
 * helper makes the same cookie (same secret, same MSS table) without a socket and marks
 * nothing. So a SYN does the lookup once a second per destination and CPU; the others
 * use the raw helper while that lookup found a listener which gave a cookie, and pass
 * while it found none (no listener: the stack resets; no cookie to give: the stack's).
 * Not pinned: a cache, each loaded program its own (sluice.h).
 */
#define GUARD_RECHECK_NS 1000000000ULL
#define GUARD_RAW_MSS 1440 /* the least MSS of a SYN whose cookie shows a listener's clamp */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_MAX_GUARDS *SLUICE_GUARD_SLOTS);
	__type(key, __u32);
	__type(value, struct sluice_guard_lst);
} sluice_guardlst SEC(".maps");

static __always_inline struct sluice_guard_lst *guard_listener(__u32 idx, const struct packet *p)
{
	__u32 x = p->dst[0] ^ p->dst[1] ^ p->dst[2] ^ p->dst[3], slot;

	x ^= x >> 16;
	x ^= x >> 8;
	slot = idx * SLUICE_GUARD_SLOTS + (x & (SLUICE_GUARD_SLOTS - 1));
	return bpf_map_lookup_elem(&sluice_guardlst, &slot);
}

static __always_inline int guard_listener_fresh(const struct sluice_guard_lst *gl,
						const struct packet *p, __u64 now)
{
	return gl->checked_ns && now - gl->checked_ns < GUARD_RECHECK_NS &&
	       gl->family == p->family && gl->dst[0] == p->dst[0] && gl->dst[1] == p->dst[1] &&
	       gl->dst[2] == p->dst[2] && gl->dst[3] == p->dst[3];
}

static __always_inline void guard_listener_set(struct sluice_guard_lst *gl, const struct packet *p,
					       __u64 now, __u8 kind)
{
	__builtin_memcpy(gl->dst, p->dst, sizeof(gl->dst));
	gl->family = p->family;
	gl->kind = kind;
	gl->checked_ns = now;
}

/* The cookie of the SYN in H without a socket: the MSS from its option, unclamped. */
static __always_inline __s64 guard_raw_cookie(struct guard_hdrs *h, __u32 tcp_len)
{
	if (tcp_len < sizeof(h->th) || tcp_len > sizeof(h->tcp))
		return -1;
	if (h->ip4.version == 4)
		return bpf_tcp_raw_gen_syncookie_ipv4(&h->ip4, &h->th, tcp_len);
	return bpf_tcp_raw_gen_syncookie_ipv6(&h->ip6, &h->th, tcp_len);
}

static __always_inline struct sluice_guard_stats *guard_stats(__u32 idx)
{
	return bpf_map_lookup_elem(&sluice_guardstats, &idx);
}

/*
 * The guard of a TCP packet P whose IP header is at offset OFFS & 0xffff and TCP header
 * at OFFS >> 16 (five arguments at most for a BPF function):
 * a SYN while engaged gets a cookie SYN-ACK, an ACK to a listener must carry a valid
 * cookie; packets of other sockets, and any while the guard rests, are not its own.
 * Global, like apply_rule, so that it is verified once.
 */
__noinline int guard_run(struct xdp_md *ctx, const struct sluice_policy *pol, struct packet *p,
			 __u32 offs, struct decision *d)
{
	__u32 l3_off = offs & 0xffff, l4_off = offs >> 16;
	struct guard_hdrs h = {};
	struct sluice_guard_stats *st;
	const struct sluice_guard *g;
	struct sluice_guard_state *gs;
	__u32 ip_len, tcp_len, idx;
	__u64 now = bpf_ktime_get_coarse_ns();
	__u8 syn, ack, odd, engaged;
	struct sluice_guard_lst *gl = NULL;
	struct bpf_sock *sk;
	__s64 cookie;
	int i, ret;

	if (!ctx || !pol || !p || !d)
		return GUARD_PASS;
	i = guard_find(pol, p);
	if (i < 0)
		return GUARD_PASS;
	idx = i & (SLUICE_MAX_GUARDS - 1);
	g = &pol->guards[idx];
	syn = (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST | TCP_FLAG_FIN)) ==
	      TCP_FLAG_SYN;
	ack = (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_ACK;
	/* A SYN with FIN or RST, which a listener discards: the guard drops it instead. */
	odd = (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN && !syn;
	if (!syn && !ack && !odd)
		return GUARD_PASS;
	if (syn) {
		ret = guard_pressure(g, idx, now);
		engaged = (ret & GUARD_ENGAGED) || (g->flags & SLUICE_GUARD_ALWAYS);
		if (ret & GUARD_CHANGED) {
			gs = bpf_map_lookup_elem(&sluice_guardstate, &idx);
			guard_event(pol, p, ctx->ingress_ifindex, now,
				    engaged ? SLUICE_VERDICT_COOKIE : SLUICE_VERDICT_PASS,
				    gs ? gs->rate : 0);
		}
	} else if (g->flags & SLUICE_GUARD_ALWAYS) {
		engaged = 1;
	} else {
		gs = bpf_map_lookup_elem(&sluice_guardstate, &idx);
		engaged = gs && gs->engaged_ns;
	}
	st = guard_stats(idx);
	if (!st)
		return GUARD_PASS;
	if (!engaged) {
		if (syn)
			st->passed++;
		return GUARD_PASS;
	}
	if (odd) {
		st->unanswerable++;
		d->verdict = SLUICE_VERDICT_DROP;
		d->reason = SLUICE_REASON_GUARD;
		return GUARD_DONE;
	}

	/* The headers, copied: the cookie helpers read them, and the reply overwrites them. */
	ip_len = p->family == SLUICE_FAMILY_IPV4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
	if (l3_off > 64 || bpf_xdp_load_bytes(ctx, l3_off, &h, ip_len) ||
	    bpf_xdp_load_bytes(ctx, l4_off, &h.th, sizeof(h.th)))
		return GUARD_PASS;
	tcp_len = h.th.doff * 4;
	if (tcp_len < sizeof(h.th) || tcp_len > sizeof(h.tcp) ||
	    bpf_xdp_load_bytes(ctx, l4_off, h.tcp, tcp_len))
		return GUARD_PASS;
	/* A SYN-ACK echoes neither IPv4 options nor extension headers: such SYNs get none. */
	if (syn && l4_off != l3_off + ip_len) {
		st->unanswerable++;
		d->verdict = SLUICE_VERDICT_DROP;
		d->reason = SLUICE_REASON_GUARD;
		return GUARD_DONE;
	}

	if (syn) {
		gl = guard_listener(idx, p);
		if (gl && guard_listener_fresh(gl, p, now)) {
			if (gl->kind == SLUICE_GUARD_LISTENER_NONE) {
				st->passed++;
				return GUARD_PASS;
			}
			if (gl->kind == SLUICE_GUARD_LISTENER_RAW) {
				cookie = guard_raw_cookie(&h, tcp_len);
				if (cookie >= 0)
					goto answer;
			}
		}
	}

	/* In a scope of its own, so that the reply may reuse its stack (512 bytes in all). */
	{
		struct bpf_sock_tuple tuple = {};
		__u32 tuple_len;

		if (p->family == SLUICE_FAMILY_IPV4) {
			tuple.ipv4.saddr = h.ip4.saddr;
			tuple.ipv4.daddr = h.ip4.daddr;
			tuple.ipv4.sport = h.th.source;
			tuple.ipv4.dport = h.th.dest;
			tuple_len = sizeof(tuple.ipv4);
		} else {
			__builtin_memcpy(tuple.ipv6.saddr, &h.ip6.saddr, 16);
			__builtin_memcpy(tuple.ipv6.daddr, &h.ip6.daddr, 16);
			tuple.ipv6.sport = h.th.source;
			tuple.ipv6.dport = h.th.dest;
			tuple_len = sizeof(tuple.ipv6);
		}
		sk = bpf_skc_lookup_tcp(ctx, &tuple, tuple_len, BPF_F_CURRENT_NETNS, 0);
	}
	if (!sk) {
		/* No socket: the stack answers with a reset, and keeps no state for it. */
		if (syn) {
			if (gl)
				guard_listener_set(gl, p, now, SLUICE_GUARD_LISTENER_NONE);
			st->passed++;
		}
		return GUARD_PASS;
	}
	if (sk->state != BPF_TCP_LISTEN_STATE) {
		bpf_sk_release(sk);
		if (syn)
			st->passed++;
		return GUARD_PASS;
	}
	if (ack) {
		ret = bpf_tcp_check_syncookie(sk, &h, ip_len, &h.th, tcp_len);
		bpf_sk_release(sk);
		if (ret == 0) {
			st->validated++;
			return GUARD_PROVEN;
		}
		st->refused++;
		d->verdict = SLUICE_VERDICT_DROP;
		d->reason = SLUICE_REASON_GUARD;
		return GUARD_DONE;
	}
	cookie = bpf_tcp_gen_syncookie(sk, &h, ip_len, &h.th, tcp_len);
	bpf_sk_release(sk);
	/* No cookie to give (tcp_syncookies 1 and the SYN queue not full): the stack's SYN. */
	if (cookie < 0) {
		if (gl)
			guard_listener_set(gl, p, now, SLUICE_GUARD_LISTENER_NONE);
		st->passed++;
		return GUARD_PASS;
	}
	/*
	 * The raw helper takes the SYN's MSS as it is; a listener's TCP_MAXSEG clamps it. The
	 * raw path is for listeners whose cookie for a large MSS is the raw one; until such a
	 * SYN shows it, and for a second after one shows a clamp, each SYN looks up its
	 * listener.
	 */
	if (gl && !(gl->kind == SLUICE_GUARD_LISTENER_LOOKUP && guard_listener_fresh(gl, p, now))) {
		__s64 raw = guard_raw_cookie(&h, tcp_len);

		if (raw >= 0 && raw >> 32 >= GUARD_RAW_MSS)
			guard_listener_set(gl, p, now,
					   raw >> 32 == cookie >> 32 ?
						   SLUICE_GUARD_LISTENER_RAW :
						   SLUICE_GUARD_LISTENER_LOOKUP);
	}
answer:
	if (guard_reply(ctx, &h, l3_off, tcp_len, cookie, now)) {
		/* The frame may be cut already: nothing of it may go on. */
		d->verdict = SLUICE_VERDICT_DROP;
		d->reason = SLUICE_REASON_ERROR;
		return GUARD_DONE;
	}
	st = guard_stats(idx);
	if (st)
		st->answered++;
	d->verdict = SLUICE_VERDICT_COOKIE;
	d->reason = SLUICE_REASON_GUARD;
	return GUARD_DONE;
}

#endif /* SLUICE_GUARD_H */
