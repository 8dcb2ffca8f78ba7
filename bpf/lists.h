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

static __always_inline int ban_lookup(__u32 plen, const __u32 src[4], __u64 *now)
{
	struct sluice_ban_key key = { .prefixlen = plen };
	struct sluice_ban *ban;

	mask_addr(key.addr, src, plen);
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

/* False when the list's filter proves the source is not on it. */
static __always_inline int filter_may_list(__u32 block, __u32 gen, const struct packet *p)
{
	/* By the address's form, as the trie sees it: an IPv6 ::ffff:a.b.c.d is IPv4 here. */
	__u32 v4 = p->src[0] == 0 && p->src[1] == 0 && p->src[2] == bpf_htonl(0xffff);
	__u32 region = sluice_filter_region(block, gen, v4), bit, idx;
	__u64 *word;

	word = bpf_map_lookup_elem(&sluice_filter, &region);
	if (!word || (*word & SLUICE_FILTER_ALL))
		return 1;
	bit = sluice_filter_bit(p->src, v4);
	idx = region + 1 + (bit >> 6);
	word = bpf_map_lookup_elem(&sluice_filter, &idx);
	return !word || (*word >> (bit & 63)) & 1;
}

/*
 * Is the source on the allowlist (BLOCK 0) or blocklist (BLOCK 1) of list generation
 * GEN? With FILTERED, the filter is asked first.
 */
__noinline int source_listed(__u32 block, __u32 gen, __u32 filtered, const struct packet *p,
			     __u64 *now)
{
	void *trie;

	if (!p || !now)
		return 0;
	if (filtered && !filter_may_list(block, gen, p))
		return 0;
	if (block)
		trie = gen ? (void *)&sluice_block1 : (void *)&sluice_block0;
	else
		trie = gen ? (void *)&sluice_allow1 : (void *)&sluice_allow0;
	return list_match(trie, p->src, now);
}

static __always_inline int ban_insert(__u32 plen, const __u32 src[4], __u64 expires_ns,
				      __u32 stat_slot)
{
	struct sluice_ban_key key = { .prefixlen = plen };
	struct sluice_ban ban = { .expires_ns = expires_ns, .stat_slot = stat_slot };

	mask_addr(key.addr, src, plen);
	return bpf_map_update_elem(&sluice_bans, &key, &ban, BPF_ANY);
}

#endif /* SLUICE_LISTS_H */
