/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet parsing with a cursor: Ethernet, VLAN, IPv4, IPv6 extension headers, L4 ports. */
#ifndef SLUICE_PARSE_H
#define SLUICE_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "sluice.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_ACK 0x10

#define IPV4_FRAG_OFFSET_MASK 0x1fff
#define IPV6_FRAG_OFFSET_MASK 0xfff8

enum parse_result {
	PARSE_OK = 0,
	PARSE_NONIP,
	PARSE_MALFORMED,
};

struct cursor {
	void *pos;
	void *end;
};

/* What the verdict needs of a packet; addresses in the 128-bit form of sluice.h. */
struct packet {
	__u32 src[4];
	__u32 dst[4];
	__u16 dport; /* host order; valid when has_ports */
	__u8 family; /* SLUICE_FAMILY_IPV4 or _IPV6 */
	__u8 l4proto; /* from the IP header (after IPv6 extension headers) */
	__u8 proto_class; /* enum sluice_proto, ICMPv6 folded into ICMP */
	__u8 has_ports; /* TCP or UDP header seen: not a non-first fragment */
	__u8 tcp_flags;
	__u8 fragment; /* non-first fragment: no L4 header */
	__u8 nexthdr; /* while walking IPv6 extension headers */
	__u16 sport; /* host order; valid when has_ports */
	__u32 len; /* frame length */
};

/* Where the IP packet lies, left by parse_ip_header for parse_l4. */
struct l3_span {
	void *start;
	__u32 len; /* IP total length from the header; 0 if inconsistent */
};

static __always_inline int parse_eth(struct cursor *c, __u16 *ethertype)
{
	struct ethhdr *eth = c->pos;
	int i;

	if ((void *)(eth + 1) > c->end)
		return PARSE_MALFORMED;
	*ethertype = eth->h_proto;
	c->pos = eth + 1;

	for (i = 0; i < SLUICE_MAX_VLAN_TAGS; i++) {
		__be16 *tag;

		if (*ethertype != bpf_htons(ETH_P_8021Q) && *ethertype != bpf_htons(ETH_P_8021AD))
			return PARSE_OK;
		tag = c->pos; /* TCI, then the inner ethertype */
		if ((void *)(tag + 2) > c->end)
			return PARSE_MALFORMED;
		*ethertype = tag[1];
		c->pos = tag + 2;
	}
	/* A third tag hides the source address; treat it like any header we cannot read. */
	if (*ethertype == bpf_htons(ETH_P_8021Q) || *ethertype == bpf_htons(ETH_P_8021AD))
		return PARSE_MALFORMED;
	return PARSE_OK;
}

static __always_inline void set_v4_mapped(__u32 out[4], __be32 addr)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = bpf_htonl(0xffff);
	out[3] = addr;
}

/*
 * Reads the fixed IP header, enough for the addresses. Consistency of lengths and
 * the L4 header are checked later by parse_l4, after the lists saw the source.
 */
static __always_inline int parse_ip_header(struct cursor *c, __u16 ethertype, struct packet *p,
					   struct l3_span *l3)
{
	if (ethertype == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = c->pos;
		__u32 hdr_len;

		if ((void *)(iph + 1) > c->end)
			return PARSE_MALFORMED;
		if (iph->version != 4 || iph->ihl < 5)
			return PARSE_MALFORMED;
		hdr_len = iph->ihl * 4;
		if (c->pos + hdr_len > c->end)
			return PARSE_MALFORMED;
		p->family = SLUICE_FAMILY_IPV4;
		set_v4_mapped(p->src, iph->saddr);
		set_v4_mapped(p->dst, iph->daddr);
		p->l4proto = iph->protocol;
		p->nexthdr = iph->protocol;
		l3->start = iph;
		l3->len = bpf_ntohs(iph->tot_len);
		p->fragment = (bpf_ntohs(iph->frag_off) & IPV4_FRAG_OFFSET_MASK) != 0;
		if (l3->len < hdr_len)
			l3->len = 0; /* flagged malformed by parse_l4 */
		c->pos += hdr_len;
		return PARSE_OK;
	}
	if (ethertype == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = c->pos;

		if ((void *)(ip6h + 1) > c->end)
			return PARSE_MALFORMED;
		if (ip6h->version != 6)
			return PARSE_MALFORMED;
		p->family = SLUICE_FAMILY_IPV6;
		__builtin_memcpy(p->src, &ip6h->saddr, 16);
		__builtin_memcpy(p->dst, &ip6h->daddr, 16);
		p->nexthdr = ip6h->nexthdr;
		l3->start = ip6h;
		l3->len = sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len);
		c->pos = ip6h + 1;
		return PARSE_OK;
	}
	return PARSE_NONIP;
}

/* Skips IPv6 extension headers; stops at the upper-layer header or a non-first fragment. */
static __always_inline int skip_ipv6_ext(struct cursor *c, void *l3_end, struct packet *p)
{
	int i;

	for (i = 0; i < SLUICE_MAX_EXT_HDRS; i++) {
		__u8 *hdr = c->pos;
		__u32 len;

		switch (p->nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
		case IPPROTO_FRAGMENT:
			break;
		default:
			p->l4proto = p->nexthdr;
			return PARSE_OK;
		}
		if ((void *)(hdr + 8) > c->end || (void *)(hdr + 8) > l3_end)
			return PARSE_MALFORMED;
		if (p->nexthdr == IPPROTO_FRAGMENT) {
			__be16 frag_off = *(__be16 *)(hdr + 2);

			len = 8;
			if (bpf_ntohs(frag_off) & IPV6_FRAG_OFFSET_MASK) {
				p->l4proto = hdr[0];
				p->fragment = 1;
				return PARSE_OK;
			}
		} else if (p->nexthdr == IPPROTO_AH) {
			len = (hdr[1] + 2) * 4;
		} else {
			len = (hdr[1] + 1) * 8;
		}
		p->nexthdr = hdr[0];
		c->pos += len;
		/* The header's own length may run past the packet, whatever follows it. */
		if (c->pos > l3_end)
			return PARSE_MALFORMED;
	}
	/* Too long a chain to find the upper layer: we cannot apply port rules to it. */
	switch (p->nexthdr) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_FRAGMENT:
		return PARSE_MALFORMED;
	}
	p->l4proto = p->nexthdr;
	return PARSE_OK;
}

/*
 * Checks that the frame holds the whole IP packet, then reads the L4 header of a
 * first or only fragment: ports of TCP and UDP, flags of TCP, the type of ICMP.
 */
static __always_inline int parse_l4(struct cursor *c, const struct l3_span *l3, struct packet *p)
{
	void *l3_end;

	if (l3->len == 0 || l3->start + l3->len > c->end)
		return PARSE_MALFORMED;
	l3_end = l3->start + l3->len;

	if (p->family == SLUICE_FAMILY_IPV6) {
		int err = skip_ipv6_ext(c, l3_end, p);

		if (err)
			return err;
	}
	p->proto_class = p->l4proto;
	/* ICMPv6 is ICMP on IPv6 only; protocol 58 on IPv4 is just a number. */
	if (p->l4proto == IPPROTO_ICMPV6 && p->family == SLUICE_FAMILY_IPV6)
		p->proto_class = SLUICE_PROTO_ICMP;
	if (p->fragment)
		return PARSE_OK;

	switch (p->l4proto) {
	case IPPROTO_TCP: {
		struct tcphdr *tcph = c->pos;

		if ((void *)(tcph + 1) > c->end || (void *)(tcph + 1) > l3_end || tcph->doff < 5)
			return PARSE_MALFORMED;
		p->sport = bpf_ntohs(tcph->source);
		p->dport = bpf_ntohs(tcph->dest);
		p->tcp_flags = ((__u8 *)tcph)[13];
		p->has_ports = 1;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *udph = c->pos;

		if ((void *)(udph + 1) > c->end || (void *)(udph + 1) > l3_end)
			return PARSE_MALFORMED;
		p->sport = bpf_ntohs(udph->source);
		p->dport = bpf_ntohs(udph->dest);
		p->has_ports = 1;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 *icmp = c->pos;

		if (p->proto_class != SLUICE_PROTO_ICMP)
			break;
		/* type, code and checksum */
		if ((void *)(icmp + 4) > c->end || (void *)(icmp + 4) > l3_end)
			return PARSE_MALFORMED;
		break;
	}
	}
	return PARSE_OK;
}

#endif /* SLUICE_PARSE_H */
