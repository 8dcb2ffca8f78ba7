/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Allowlist, blocklist and dynamic-ban lookups on the source address. */
#ifndef SLUICE_LISTS_H
#define SLUICE_LISTS_H

#include "addr.h"
#include "maps.h"
#include "parse.h"

/* The ban filter's word for KEY, and its bit in it. */
static __always_inline __u64 *ban_filter_word(const struct sluice_ban_key *key, __u64 *bit)
{
	__u32 b = sluice_ban_bit(key->prefixlen, key->addr), idx = b >> 6;

	*bit = 1ULL << (b & 63);
	return bpf_map_lookup_elem(&sluice_banfilter, &idx);
}

static __always_inline int ban_lookup(__u32 plen, const __u32 src[4], __u64 *now)
{
	struct sluice_ban_key key = { .prefixlen = plen };
	struct sluice_ban *ban;
	__u64 *word, bit;

	sluice_mask_addr(key.addr, src, plen);
	word = ban_filter_word(&key, &bit);
	if (word && !(*word & bit))
		return 0;
	ban = bpf_map_lookup_elem(&sluice_bans, &key);
	return ban && ban->expires_ns > clock_now(now);
}

/*
 * Is the source banned under any of the prefix lengths the policy bans by? Global,
 * like the other lookups below, so the verifier checks it once rather than on every
 * path through the parser.
 */
__noinline int source_banned(const struct sluice_policy *pol, const struct packet *p, __u64 *now)
{
	const __u8 *plens;
	__u32 n;
	int i;

	if (!pol || !p || !now)
		return 0;
	plens = p->family == SLUICE_FAMILY_IPV4 ? pol->ban_plens4 : pol->ban_plens6;
	n = p->family == SLUICE_FAMILY_IPV4 ? pol->nban_plens4 : pol->nban_plens6;
	for (i = 0; i < SLUICE_MAX_BAN_PLENS; i++) {
		if (i >= n)
			break;
		if (ban_lookup(plens[i], p->src, now))
			return 1;
	}
	return 0;
}

/* Word IDX of REGION's header (see sluice_filter_header), or -1. */
static __always_inline int header_word(__u32 region, __u32 idx, __u64 *out)
{
	__u32 key = region + idx;
	__u64 *word = bpf_map_lookup_elem(&sluice_filter, &key);

	if (!word)
		return -1;
	*out = *word;
	return 0;
}

/* The two bits of the IPv4 source's /24 in the flat table of REGION (see sluice.h). */
static __always_inline int dir_code(__u32 region, __u32 net24, __u64 *code)
{
	__u32 idx = region + SLUICE_FILTER_HEADER_WORDS + sluice_dir_word(net24);
	__u64 *word = bpf_map_lookup_elem(&sluice_filter, &idx);

	if (!word)
		return -1;
	*code = (*word >> sluice_dir_shift(net24)) & SLUICE_DIR_MASK;
	return 0;
}

/* Whether REGION's bitmap has bit BIT (missing map word: yes, so nothing is skipped). */
static __always_inline int filter_has(__u32 region, __u32 bit)
{
	__u32 idx = region + SLUICE_FILTER_HEADER_WORDS + (bit >> 6);
	__u64 *word = bpf_map_lookup_elem(&sluice_filter, &idx);

	return !word || ((*word >> (bit & 63)) & 1);
}

/* The highest set bit of X, which is not 0. */
static __always_inline __u32 top_bit(__u64 x)
{
	__u32 n = 0;

	if (x >> 32) {
		n += 32;
		x >>= 32;
	}
	if (x >> 16) {
		n += 16;
		x >>= 16;
	}
	if (x >> 8) {
		n += 8;
		x >>= 8;
	}
	if (x >> 4) {
		n += 4;
		x >>= 4;
	}
	if (x >> 2) {
		n += 2;
		x >>= 2;
	}
	return n + (x >> 1);
}

/* A lookup of the source under several prefix lengths (see probe_length). */
struct probe {
	void *entries; /* the list's hash */
	const struct packet *p;
	__u64 *now;
	__u64 lengths; /* bit L: the 128-bit length base + L, still to look up */
	__u32 base;
	__u32 region; /* IPv6 only: the filter region that has the lengths' bits */
	int v6;
	int found;
};

/*
 * One step of bpf_loop over the lengths of a probe, longest first: 1 (stop) once a
 * live entry covers the source or no length is left. With V6, a length whose filter
 * bit the source's prefix lacks is not looked up. bpf_loop has the verifier check one
 * step, not every number of lengths a list may hold.
 */
static long probe_length(__u32 index, void *ctx)
{
	struct probe *pr = ctx;
	struct sluice_list_entry *entry;
	struct sluice_lpm_key key;
	__u32 plen;

	(void)index;
	if (!pr->lengths)
		return 1;
	plen = top_bit(pr->lengths);
	pr->lengths &= ~(1ULL << plen);
	plen += pr->base;
	if (plen > 128)
		return 1;
	key.prefixlen = plen;
	sluice_mask_addr(key.addr, pr->p->src, plen);
	if (pr->v6 && !filter_has(pr->region, sluice_filter_bit6_len(plen, key.addr)))
		return 0;
	entry = bpf_map_lookup_elem(pr->entries, &key);
	if (entry && (!entry->expires_ns || entry->expires_ns > clock_now(pr->now))) {
		pr->found = 1;
		return 1;
	}
	return 0;
}

static __always_inline int probe_lengths(struct probe *pr, __u64 lengths, __u32 base)
{
	pr->lengths = lengths;
	pr->base = base;
	if (lengths)
		bpf_loop(64, probe_length, pr, 0);
	return pr->found;
}

/* Whether the host record of the IPv4 source ADDR's /24 (see sluice_hosts) lists it. */
static __always_inline int host_listed(void *entries, __u32 addr)
{
	struct sluice_lpm_key key = {
		.prefixlen = SLUICE_HOSTS_PLEN,
		.addr = { 0, 0, bpf_htonl(0xffff), bpf_htonl(addr & 0xffffff00) },
	};
	struct sluice_hosts *rec = bpf_map_lookup_elem(entries, &key);
	__u32 host = addr & 0xff;

	return rec && ((rec->bits[(host >> 6) & 3] >> (host & 63)) & 1);
}

/*
 * Is the source on the allowlist (BLOCK 0) or blocklist (BLOCK 1) of list generation
 * GEN? The filter answers most sources; the rest are looked up in the list's hash
 * under the lengths its filter header names (see sluice.h).
 */
__noinline int source_listed(__u32 block, __u32 gen, const struct packet *p, __u64 *now)
{
	__u32 slot = block * 2 + gen, region, addr;
	__u64 code, lengths, flags;
	struct probe pr = {};
	int w;

	if (!p || !now)
		return 0;
	pr.entries = bpf_map_lookup_elem(&sluice_lists, &slot);
	if (!pr.entries)
		return 0;
	pr.p = p;
	pr.now = now;
	/* By the address's form: an IPv6 ::ffff:a.b.c.d is IPv4 here, as in the lists. */
	if (p->src[0] == 0 && p->src[1] == 0 && p->src[2] == bpf_htonl(0xffff)) {
		region = sluice_filter_region(block, gen, 1);
		addr = bpf_ntohl(p->src[3]);
		if (dir_code(region, addr >> 8, &code))
			return 0;
		if (code & SLUICE_DIR_WHOLE)
			return 1;
		if (!code || header_word(region, 0, &flags) || header_word(region, 1, &lengths))
			return 0;
		if ((flags & SLUICE_FILTER_HOSTS) && host_listed(pr.entries, addr))
			return 1;
		return probe_lengths(&pr, lengths, SLUICE_V4_MAPPED_PLEN);
	}
	region = sluice_filter_region(block, gen, 0);
	if (header_word(region, 0, &flags))
		return 0;
	if (!(flags & SLUICE_FILTER_ALL) && !filter_has(region, sluice_filter_bit6(p->src)))
		return 0;
	pr.v6 = 1;
	pr.region = region;
	for (w = 2; w >= 0; w--) {
		if (header_word(region, 1 + w, &lengths))
			return 0;
		if (probe_lengths(&pr, lengths, w * 64))
			return 1;
	}
	return 0;
}

static __always_inline int ban_insert(__u32 plen, const __u32 src[4], __u64 expires_ns,
				      __u32 stat_slot)
{
	struct sluice_ban_key key = { .prefixlen = plen };
	struct sluice_ban ban = { .expires_ns = expires_ns, .stat_slot = stat_slot };
	__u64 *word, bit;

	sluice_mask_addr(key.addr, src, plen);
	/* The bit before the ban: a ban whose bit is missing would not be seen. */
	word = ban_filter_word(&key, &bit);
	if (!word)
		return -1;
	if (!(*word & bit))
		__sync_fetch_and_or(word, bit);
	return bpf_map_update_elem(&sluice_bans, &key, &ban, BPF_ANY);
}

#endif /* SLUICE_LISTS_H */
