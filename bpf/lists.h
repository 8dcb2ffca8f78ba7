/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Allowlist, blocklist and dynamic-ban lookups on the source address. */
#ifndef SLUICE_LISTS_H
#define SLUICE_LISTS_H

#include "addr.h"
#include "maps.h"
#include "parse.h"

/* How many expired entries on one address's path are stepped over before giving up. */
#define LIST_EXPIRED_FALLBACKS 4

/*
 * Longest-prefix match that ignores expired entries: the trie only returns the
 * longest match, so on an expired one we look again for strictly shorter prefixes.
 */
static __always_inline int list_match(void *trie, const __u32 addr[4], __u64 *now)
{
	struct sluice_lpm_key key = {
		.prefixlen = 128,
		.addr = { addr[0], addr[1], addr[2], addr[3] },
	};
	int i;

	for (i = 0; i < LIST_EXPIRED_FALLBACKS; i++) {
		struct sluice_list_entry *entry = bpf_map_lookup_elem(trie, &key);

		if (!entry)
			return 0;
		if (!entry->expires_ns || entry->expires_ns > clock_now(now))
			return 1;
		if (entry->prefixlen == 0 || entry->prefixlen > 128)
			return 0;
		key.prefixlen = entry->prefixlen - 1;
	}
	return 0;
}

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

/* The header word of a filter region: SLUICE_FILTER_ALL, SLUICE_FILTER_UNINDEXED. */
static __always_inline int filter_header(__u32 region, __u64 *header)
{
	__u64 *word = bpf_map_lookup_elem(&sluice_filter, &region);

	if (!word)
		return -1;
	*header = *word;
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

/* The IPv6 source's filter bit in REGION. */
static __always_inline int filter_bit6(__u32 region, const struct packet *p, __u32 *bit_set)
{
	__u32 bit = sluice_filter_bit6(p->src), idx;
	__u64 *word;

	idx = region + SLUICE_FILTER_HEADER_WORDS + (bit >> 6);
	word = bpf_map_lookup_elem(&sluice_filter, &idx);
	if (!word)
		return -1;
	*bit_set = (*word >> (bit & 63)) & 1;
	return 0;
}

/*
 * What the IPv4 index says of a source whose /24 the flat table marks SOME only (see
 * sluice.h): 1 listed, 0 not listed, -1 ask the trie. Such a /24 without a record
 * holds an entry shorter than /16 or one the index could not take: the trie decides.
 */
static __always_inline int index_says(void *index, __u64 header, __u32 addr)
{
	__u32 net = addr >> 8, host = addr & 0xff;
	struct sluice_net *rec;

	rec = bpf_map_lookup_elem(index, &net);
	if (!rec || (rec->flags & SLUICE_NET_ASK))
		return -1;
	if ((rec->flags & SLUICE_NET_WHOLE) || ((rec->hosts[(host >> 6) & 3] >> (host & 63)) & 1))
		return 1;
	return header & (SLUICE_FILTER_ALL | SLUICE_FILTER_UNINDEXED) ? -1 : 0;
}

/* Whether the filter of REGION has the bit of the IPv6 prefix KEY. */
static __always_inline int filter_has6(__u32 region, const struct sluice_lpm_key *key)
{
	__u32 bit = sluice_filter_bit6_len(key->prefixlen, key->addr), idx;
	__u64 *word;

	idx = region + SLUICE_FILTER_HEADER_WORDS + (bit >> 6);
	word = bpf_map_lookup_elem(&sluice_filter, &idx);
	return !word || ((*word >> (bit & 63)) & 1);
}

/*
 * What the IPv6 index says of the source (see sluice.h): 1 listed, 0 not listed,
 * -1 ask the trie. The lengths are read after their count, which the controller
 * writes last; a length whose filter bit the source's prefix lacks is not looked up.
 */
static __always_inline int v6_index_says(void *index, __u32 region, __u64 header,
					 const struct packet *p, __u64 *now)
{
	__u32 idx = region + 3, i, n, plen;
	struct sluice_lpm_key key;
	__u64 *word, lo, hi, *expires;

	if (header & SLUICE_FILTER_UNINDEXED)
		return -1;
	word = bpf_map_lookup_elem(&sluice_filter, &idx);
	if (!word)
		return -1;
	n = (__u32)*word;
	idx = region + 1;
	word = bpf_map_lookup_elem(&sluice_filter, &idx);
	if (!word)
		return -1;
	lo = *word;
	idx = region + 2;
	word = bpf_map_lookup_elem(&sluice_filter, &idx);
	if (!word)
		return -1;
	hi = *word;
	for (i = 0; i < SLUICE_V6_INDEX_PLENS; i++) {
		if (i >= n)
			break;
		plen = ((i < 8 ? lo >> (i * 8) : hi >> ((i - 8) * 8))) & 0xff;
		if (plen > 128)
			return -1;
		key.prefixlen = plen;
		sluice_mask_addr(key.addr, p->src, plen);
		if (!filter_has6(region, &key))
			continue;
		expires = bpf_map_lookup_elem(index, &key);
		if (expires && (!*expires || *expires > clock_now(now)))
			return 1;
	}
	return 0;
}

/*
 * Is the source on the allowlist (BLOCK 0) or blocklist (BLOCK 1) of list generation
 * GEN? With FILTERED the controller keeps the filters and the indexes, which answer
 * most sources; the rest are looked up in the trie.
 */
__noinline int source_listed(__u32 block, __u32 gen, __u32 filtered, const struct packet *p,
			     __u64 *now)
{
	__u32 region, bit_set = 1, addr;
	void *trie, *index, *index6;
	__u64 header, code;
	int says;

	if (!p || !now)
		return 0;
	if (block) {
		trie = gen ? (void *)&sluice_block1 : (void *)&sluice_block0;
		index = gen ? (void *)&sluice_nets_block1 : (void *)&sluice_nets_block0;
		index6 = gen ? (void *)&sluice_v6_block1 : (void *)&sluice_v6_block0;
	} else {
		trie = gen ? (void *)&sluice_allow1 : (void *)&sluice_allow0;
		index = gen ? (void *)&sluice_nets_allow1 : (void *)&sluice_nets_allow0;
		index6 = gen ? (void *)&sluice_v6_allow1 : (void *)&sluice_v6_allow0;
	}
	if (!filtered)
		return list_match(trie, p->src, now);
	/* By the address's form, as the trie sees it: an IPv6 ::ffff:a.b.c.d is IPv4 here. */
	if (p->src[0] == 0 && p->src[1] == 0 && p->src[2] == bpf_htonl(0xffff)) {
		region = sluice_filter_region(block, gen, 1);
		addr = bpf_ntohl(p->src[3]);
		if (dir_code(region, addr >> 8, &code))
			return list_match(trie, p->src, now);
		if (code & SLUICE_DIR_WHOLE)
			return 1;
		if (!code)
			return 0;
		if (filter_header(region, &header))
			return list_match(trie, p->src, now);
		says = index_says(index, header, addr);
	} else {
		region = sluice_filter_region(block, gen, 0);
		if (filter_header(region, &header) || filter_bit6(region, p, &bit_set))
			return list_match(trie, p->src, now);
		if (!(header & SLUICE_FILTER_ALL) && !bit_set)
			return 0;
		says = v6_index_says(index6, region, header, p, now);
	}
	if (says >= 0)
		return says;
	return list_match(trie, p->src, now);
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
