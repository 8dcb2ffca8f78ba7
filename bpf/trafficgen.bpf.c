// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test-only traffic generator, never attached to an interface. Run through BPF_PROG_RUN
 * with BPF_F_TEST_XDP_LIVE_FRAMES (tests/tools/trafficgen), gen_tx gives every frame a
 * new source address from a key space and returns XDP_TX, which the kernel turns into a
 * transmission out of the ingress interface named in the test context. gen_tail does the
 * same rewrite and tail-calls the program in gen_next instead, so tests/tools/bench_prog
 * can time a program under a stream of distinct sources with a plain repeat count.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/*
 * The source is base + index with index < keys: IPv4 the whole address, IPv6 its last
 * 32 bits. With mix_permille set, that many packets in a thousand take their source from
 * the second range instead. Host order; set through rodata before load.
 */
const volatile __u32 src_base = 0;
const volatile __u32 src_keys = 1;
const volatile __u32 mix_base = 0;
const volatile __u32 mix_keys = 1;
const volatile __u32 mix_permille = 0;
/* 0: index = sequence number; 1: a multiplicative permutation of it (scattered sources). */
const volatile __u32 scatter = 0;
/*
 * Generator CPUs cpu0 .. cpu0 + ncpus - 1: CPU cpu0 + c takes indexes c, c + ncpus, ...
 * so that CPUs never repeat each other.
 */
const volatile __u32 cpu0 = 0;
const volatile __u32 ncpus = 1;

/*
 * With tmpl_len set, each frame is first written afresh from this template: a device
 * that answers in XDP on a veth (XDP_TX) rewrites the generator's own pages in place,
 * and the kernel hands them to the next batch as they were left.
 */
#define TMPL_MAX 96
const volatile __u8 tmpl[TMPL_MAX] = {};
const volatile __u32 tmpl_len = 0;

/* Per-CPU sequence number of the next frame; written only by the generator on that CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_seq SEC(".maps");

/* The program gen_tail hands each rewritten frame to; filled by bench_prog. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} gen_next SEC(".maps");

/* RFC 1624 incremental update of a ones-complement checksum for a changed 32-bit word. */
static __always_inline __u16 csum_replace4(__u16 sum, __u32 from, __u32 to)
{
	__u32 s = (__u16)~sum;

	s += (~from & 0xffff) + (~from >> 16);
	s += (to & 0xffff) + (to >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return ~s;
}

static __always_inline __u32 next_source(void)
{
	__u32 zero = 0, idx;
	__u64 *seq = bpf_map_lookup_elem(&gen_seq, &zero);

	if (!seq)
		return src_base;
	idx = *seq * ncpus + (bpf_get_smp_processor_id() - cpu0);
	*seq += 1;
	if (mix_permille && idx % 1000 < mix_permille)
		return mix_base + idx % mix_keys;
	if (scatter)
		idx *= 0x9e3779b1; /* odd: a bijection on every power-of-two window */
	return src_base + idx % src_keys;
}

/* A TCP segment's checksum, after its source address word went from OLD to SRC. */
static __always_inline int tcp_fix(void *l4, void *end, __u32 old, __u32 src)
{
	struct tcphdr *tcph = l4;

	if ((void *)(tcph + 1) > end)
		return -1;
	tcph->check = csum_replace4(tcph->check, old, src);
	return 0;
}

/* Writes the next source into an Ethernet + IPv4 or IPv6 frame, fixing the checksums. */
static __always_inline int rewrite(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 src = bpf_htonl(next_source()), old;

	if ((void *)(eth + 1) > end)
		return -1;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);
		struct udphdr *udph = (void *)(iph + 1);

		if ((void *)(udph + 1) > end || iph->ihl != 5)
			return -1;
		old = iph->saddr;
		iph->saddr = src;
		iph->check = csum_replace4(iph->check, old, src);
		if (iph->protocol == IPPROTO_TCP)
			return tcp_fix(udph, end, old, src);
		/* A zero UDP checksum over IPv4 means none. */
		if (iph->protocol == IPPROTO_UDP && udph->check) {
			udph->check = csum_replace4(udph->check, old, src);
			if (!udph->check)
				udph->check = 0xffff;
		}
		return 0;
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6h = (void *)(eth + 1);
		struct udphdr *udph = (void *)(ip6h + 1);

		if ((void *)(udph + 1) > end)
			return -1;
		old = ip6h->saddr.in6_u.u6_addr32[3];
		ip6h->saddr.in6_u.u6_addr32[3] = src;
		if (ip6h->nexthdr == IPPROTO_TCP)
			return tcp_fix(udph, end, old, src);
		if (ip6h->nexthdr == IPPROTO_UDP) {
			udph->check = csum_replace4(udph->check, old, src);
			if (!udph->check)
				udph->check = 0xffff;
		}
		return 0;
	}
	return -1;
}

static __always_inline int restore(struct xdp_md *ctx)
{
	__u32 len = bpf_xdp_get_buff_len(ctx), i;
	__u8 *data, *end;

	if (len != tmpl_len && bpf_xdp_adjust_tail(ctx, (int)tmpl_len - (int)len))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	for (i = 0; i < TMPL_MAX && i < tmpl_len; i++) {
		if (data + i + 1 > end)
			return -1;
		data[i] = tmpl[i];
	}
	return 0;
}

SEC("xdp")
int gen_tx(struct xdp_md *ctx)
{
	if (tmpl_len && restore(ctx))
		return XDP_ABORTED;
	return rewrite(ctx) ? XDP_ABORTED : XDP_TX;
}

SEC("xdp")
int gen_tail(struct xdp_md *ctx)
{
	if (rewrite(ctx))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &gen_next, 0);
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
