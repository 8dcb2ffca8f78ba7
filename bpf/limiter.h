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
 * key across CPUs and no lock is taken. A CAS lost too often (a CPU starved by
 * others hammering the same key) is settled by an atomic add of the cost, which
 * keeps the count exact at the price of a slightly early TAT for that one packet.
 * A packet refused by a later limit of its rule gives back what earlier limits
 * took (refund), so several limits consume only for packets they all admit.
 *
 * Where the state lives. First in sluice_slots (see sluice.h): a key takes a slot
 * by compare-and-swap of its tag, and only a slot whose bucket is full (TAT not
 * ahead of now), so live state is never overwritten; two CPUs racing for one slot
 * can at worst charge one packet of the old key to the new one. A key that finds
 * no such slot falls back to the LRU maps: its first packet is accounted in
 * sluice_newkeys, its second moves it into sluice_buckets. Spoofed sources that
 * send one packet each take only free slots and then evict each other in
 * sluice_newkeys, never the state of real clients. When a key that has state in
 * the LRU maps takes a slot, the state comes along.
 */
#define LIMIT_CAS_TRIES 4

enum limit_result {
	LIMIT_ADMIT = 0,
	LIMIT_REFUSE,
	LIMIT_ERROR,
};

/* The bucket key of a packet under a limit; returns the key's prefix length (128-bit form). */
static __always_inline __u32 bucket_key(struct sluice_bucket_key *key,
					const struct sluice_limit *lim, const struct packet *p)
{
	__u32 plen;

	__builtin_memset(key, 0, sizeof(*key));
	key->limit_id = lim->id;
	if (lim->key == SLUICE_KEY_GLOBAL)
		return 0;
	key->family = p->family;
	if (lim->flags & SLUICE_LIMIT_DPORT)
		key->dport = p->dport;
	plen = p->family == SLUICE_FAMILY_IPV4 ? SLUICE_V4_MAPPED_PLEN + lim->prefix4 :
						 lim->prefix6;
	sluice_mask_addr(key->addr, p->src, plen);
	return plen;
}

static __always_inline __u64 limit_cost(const struct sluice_limit *lim, const struct packet *p)
{
	if (lim->flags & SLUICE_LIMIT_BYTES)
		return lim->byte_rate ? (__u64)p->len * SLUICE_UNITS_PER_SEC / lim->byte_rate : 0;
	return lim->interval;
}

/* One GCRA step on a key's arrival time (see the concurrency model above). */
static __always_inline int gcra_take(__u64 *tat, __u64 now, __u64 cost, __u64 tolerance)
{
	int i;

	for (i = 0; i < LIMIT_CAS_TRIES; i++) {
		__u64 seen = *(volatile __u64 *)tat;
		__u64 next = (seen > now ? seen : now) + cost;

		if (next - now > tolerance)
			return LIMIT_REFUSE;
		if (__sync_val_compare_and_swap(tat, seen, next) == seen)
			return LIMIT_ADMIT;
	}
	__sync_fetch_and_add(tat, cost);
	return LIMIT_ADMIT;
}

static __always_inline void mark_lru_used(void)
{
	__u32 zero = 0;
	__u64 *used = bpf_map_lookup_elem(&sluice_lru_used, &zero);

	if (used && !*used)
		*used = 1;
}

/* The key's own slot, else with CLAIM a slot it took over (full bucket), else NULL. */
static __always_inline __u64 *slot_find(const struct sluice_slot_ref *ref,
					const struct sluice_bucket_key *key, __u64 now, int claim)
{
	__u32 idx0 = ref->idx[0], idx1 = ref->idx[1];
	struct sluice_slot *s0, *s1, *spare;
	__u64 tag, *old, *used;
	__u32 zero = 0;

	s0 = bpf_map_lookup_elem(&sluice_slots, &idx0);
	s1 = bpf_map_lookup_elem(&sluice_slots, &idx1);
	if (!s0 || !s1)
		return NULL;
	if (s0->tag == ref->tag)
		return &s0->tat;
	if (s1->tag == ref->tag)
		return &s1->tat;
	if (!claim)
		return NULL;
	spare = s0->tat <= now ? s0 : s1->tat <= now ? s1 : NULL;
	if (!spare)
		return NULL;
	tag = spare->tag;
	if (__sync_val_compare_and_swap(&spare->tag, tag, ref->tag) != tag)
		return NULL;
	/* State the key has in the LRU maps comes along; a full bucket needs none. */
	used = bpf_map_lookup_elem(&sluice_lru_used, &zero);
	if (!used || !*used)
		return &spare->tat;
	old = bpf_map_lookup_elem(&sluice_buckets, key);
	if (!old)
		old = bpf_map_lookup_elem(&sluice_newkeys, key);
	if (old) {
		__u64 seed = *(volatile __u64 *)old, cur = *(volatile __u64 *)&spare->tat;

		if (seed > cur)
			__sync_val_compare_and_swap(&spare->tat, cur, seed);
	}
	return &spare->tat;
}

/* A global function: the verifier checks it once, not once per limit of every rule. */
__noinline int limit_admit(const struct sluice_limit *lim, const struct packet *p, __u64 now,
			   __u64 *cost_out)
{
	struct sluice_bucket_key key;
	struct sluice_slot_ref ref;
	__u64 cost, *tat;
	__u32 plen;
	int err;

	if (!lim || !p || !cost_out)
		return LIMIT_ERROR;
	cost = limit_cost(lim, p);
	*cost_out = cost;
	plen = bucket_key(&key, lim, p);
	sluice_slot_ref(&key, plen, &ref);
	tat = slot_find(&ref, &key, now, 1);
	if (tat)
		return gcra_take(tat, now, cost, lim->tolerance);

	tat = bpf_map_lookup_elem(&sluice_buckets, &key);
	if (!tat) {
		__u64 fresh = now + cost, *seen = bpf_map_lookup_elem(&sluice_newkeys, &key);

		if (!seen) {
			/* A new key starts with a full burst, on probation. */
			if (cost > lim->tolerance)
				return LIMIT_REFUSE;
			err = bpf_map_update_elem(&sluice_newkeys, &key, &fresh, BPF_NOEXIST);
			if (!err) {
				mark_lru_used();
				return LIMIT_ADMIT;
			}
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
	return gcra_take(tat, now, cost, lim->tolerance);
}

__noinline int limit_refund(const struct sluice_limit *lim, const struct packet *p, __u64 cost)
{
	struct sluice_bucket_key key;
	struct sluice_slot_ref ref;
	__u64 *tat;
	__u32 plen;

	if (!lim || !p)
		return 0;
	plen = bucket_key(&key, lim, p);
	sluice_slot_ref(&key, plen, &ref);
	tat = slot_find(&ref, &key, 0, 0);
	if (!tat)
		tat = bpf_map_lookup_elem(&sluice_buckets, &key);
	if (!tat)
		tat = bpf_map_lookup_elem(&sluice_newkeys, &key);
	if (tat)
		__sync_fetch_and_sub(tat, cost);
	return 0;
}

#endif /* SLUICE_LIMITER_H */
