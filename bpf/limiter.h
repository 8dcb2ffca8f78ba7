/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Token buckets shared by all CPUs, run as GCRA over one u64 per key. */
#ifndef SLUICE_LIMITER_H
#define SLUICE_LIMITER_H

#include <linux/errno.h>
#include "addr.h"
#include "maps.h"
#include "parse.h"

/*
 * Concurrency model. A key's whole state is one u64, its theoretical arrival time
 * (TAT) in SLUICE_TIME_SHIFT units. A packet costing c at time t is admitted when
 * max(TAT, t) + c - t <= tolerance, and then TAT becomes max(TAT, t) + c. CPUs
 * race on the same key by compare-and-swap of that word, so the budget is one per
 * key across CPUs and no lock is taken. A new key is created with NOEXIST; the loser
 * of that race falls back to the CAS path. A CAS lost too often (a CPU starved by
 * others hammering the same key) is settled by an atomic add of the cost, which
 * keeps the count exact at the price of a slightly early TAT for that one packet.
 * A packet refused by a later limit of its rule gives back what earlier limits
 * took (refund), so several limits consume only for packets they all admit.
 *
 * Churn. A key's first packet is accounted in sluice_newkeys; its second moves the
 * state into sluice_buckets. Spoofed sources that send one packet each only ever
 * evict each other there, never the tracked keys of real clients.
 */
#define LIMIT_CAS_TRIES 4

enum limit_result {
	LIMIT_ADMIT = 0,
	LIMIT_REFUSE,
	LIMIT_ERROR,
};

static __always_inline void bucket_key(struct sluice_bucket_key *key, const struct sluice_limit *lim,
				       const struct packet *p)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->limit_id = lim->id;
	if (lim->key == SLUICE_KEY_GLOBAL)
		return;
	key->family = p->family;
	if (lim->flags & SLUICE_LIMIT_DPORT)
		key->dport = p->dport;
	mask_addr(key->addr, p->src,
		  p->family == SLUICE_FAMILY_IPV4 ? SLUICE_V4_MAPPED_PLEN + lim->prefix4 :
						    lim->prefix6);
}

static __always_inline __u64 limit_cost(const struct sluice_limit *lim, const struct packet *p)
{
	if (lim->flags & SLUICE_LIMIT_BYTES)
		return lim->byte_rate ? (__u64)p->len * SLUICE_UNITS_PER_SEC / lim->byte_rate : 0;
	return lim->interval;
}

/* A global function: the verifier checks it once, not once per limit of every rule. */
__noinline int limit_admit(const struct sluice_limit *lim, const struct packet *p, __u64 now,
			   __u64 *cost_out)
{
	struct sluice_bucket_key key;
	__u64 cost, *tat;
	int i, err;

	if (!lim || !p || !cost_out)
		return LIMIT_ERROR;
	cost = limit_cost(lim, p);
	*cost_out = cost;
	bucket_key(&key, lim, p);
	tat = bpf_map_lookup_elem(&sluice_buckets, &key);
	if (!tat) {
		__u64 fresh = now + cost, *seen = bpf_map_lookup_elem(&sluice_newkeys, &key);

		if (!seen) {
			/* A new key starts with a full burst, on probation. */
			if (cost > lim->tolerance)
				return LIMIT_REFUSE;
			err = bpf_map_update_elem(&sluice_newkeys, &key, &fresh, BPF_NOEXIST);
			if (!err)
				return LIMIT_ADMIT;
			if (err != -EEXIST)
				return LIMIT_ERROR;
			seen = bpf_map_lookup_elem(&sluice_newkeys, &key);
			if (!seen)
				return LIMIT_ERROR;
		}
		/* Seen before: the key is tracked from now on, with the state it has. */
		fresh = *(volatile __u64 *)seen;
		err = bpf_map_update_elem(&sluice_buckets, &key, &fresh, BPF_NOEXIST);
		if (err && err != -EEXIST)
			return LIMIT_ERROR;
		tat = bpf_map_lookup_elem(&sluice_buckets, &key);
		if (!tat)
			return LIMIT_ERROR;
	}

	for (i = 0; i < LIMIT_CAS_TRIES; i++) {
		__u64 seen = *(volatile __u64 *)tat;
		__u64 next = (seen > now ? seen : now) + cost;

		if (next - now > lim->tolerance)
			return LIMIT_REFUSE;
		if (__sync_val_compare_and_swap(tat, seen, next) == seen)
			return LIMIT_ADMIT;
	}
	__sync_fetch_and_add(tat, cost);
	return LIMIT_ADMIT;
}

__noinline int limit_refund(const struct sluice_limit *lim, const struct packet *p, __u64 cost)
{
	struct sluice_bucket_key key;
	__u64 *tat;

	if (!lim || !p)
		return 0;
	bucket_key(&key, lim, p);
	tat = bpf_map_lookup_elem(&sluice_buckets, &key);
	if (!tat)
		tat = bpf_map_lookup_elem(&sluice_newkeys, &key);
	if (tat)
		__sync_fetch_and_sub(tat, cost);
	return 0;
}

#endif /* SLUICE_LIMITER_H */
