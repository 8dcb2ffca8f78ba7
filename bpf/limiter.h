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
 * That add skips the tolerance check, so it may admit a packet the bucket would
 * refuse. It is bounded: refusals never write the word, so a CPU loses a race only
 * to another CPU's admission (or refund), and reaches the add only after losing
 * LIMIT_CAS_TRIES of them during one packet; near the tolerance that is at most one
 * packet per CPU beyond the burst. test_limiter_mt holds two CPUs flat out on one
 * key to rate x time + burst within 2%. The controller caps tolerances at
 * SLUICE_MAX_TOLERANCE, so max(TAT, now) + cost cannot wrap.
 * A packet refused by a later limit of its rule gives back what earlier limits
 * took (refund), so several limits consume only for packets they all admit.
 *
 * Where the state lives. First in sluice_slots (see sluice.h): a key takes a slot
 * by compare-and-swap of its tag, then writes its key beside it in sluice_slotkeys
 * for `sluice limits`, and only a slot whose bucket is full (TAT not
 * ahead of now), so live state is never overwritten; two CPUs racing for one slot
 * can at worst charge one packet of the old key to the new one. A key whose two
 * slots both hold live state of others goes to sluice_buckets (LRU). A key found in
 * neither is new: its first packet puts it on probation (sluice_probation, see
 * sluice.h), and only its second gives it a slot or an LRU entry, so spoofed
 * one-packet sources take no slot and never evict the state of real clients. When a
 * key that has state in the LRU map finds a free slot, the state comes along.
 */
#define LIMIT_CAS_TRIES 4

enum limit_result {
	LIMIT_ADMIT = 0,
	LIMIT_REFUSE,
	LIMIT_ERROR,
};

/* What an admitted packet took from a limit, so a later refusal can give it back. */
struct limit_charge {
	__u64 cost; /* the packet's cost */
	__u64 probation_tag; /* non-zero: the key went on probation in way probation_way */
	__u64 probation_tat; /* ... with this arrival time */
	__u32 probation_line;
	__u32 probation_way;
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

/* Whether the key of TAG may be in sluice_buckets, by its bit in its probation line. */
static __always_inline int lru_may_hold(const struct sluice_probation *line, __u64 tag)
{
	__u32 b = sluice_probation_lru_bit(tag);

	return (line->in_lru[(b >> 6) & 1] >> (b & 63)) & 1;
}

/* Notes that the key of TAG goes into sluice_buckets: before it does, or it would be missed. */
static __always_inline void lru_note(struct sluice_probation *line, __u64 tag)
{
	__u32 b = sluice_probation_lru_bit(tag);
	__u64 bit = 1ULL << (b & 63), *word = &line->in_lru[(b >> 6) & 1];

	if (!(*word & bit))
		__sync_fetch_and_or(word, bit);
}

/* Raises *WORD to at least VALUE; others may raise it meanwhile, never lower it. */
static __always_inline void raise_to(__u64 *word, __u64 value)
{
	int i;

	for (i = 0; i < LIMIT_CAS_TRIES; i++) {
		__u64 seen = *(volatile __u64 *)word;

		if (seen >= value || __sync_val_compare_and_swap(word, seen, value) == seen)
			return;
	}
}

/*
 * The key's own slot, else with KEY a slot it took over (full bucket), its record in
 * sluice_slotkeys then written, else NULL.
 */
static __always_inline __u64 *slot_find(const struct sluice_slot_ref *ref, __u64 now,
					const struct sluice_bucket_key *key)
{
	__u32 idx0 = ref->idx[0], idx1 = ref->idx[1], idx;
	struct sluice_slot *s0, *s1, *spare;
	struct sluice_bucket_key *rec;
	__u64 tag;

	s0 = bpf_map_lookup_elem(&sluice_slots, &idx0);
	s1 = bpf_map_lookup_elem(&sluice_slots, &idx1);
	if (!s0 || !s1)
		return NULL;
	if (s0->tag == ref->tag)
		return &s0->tat;
	if (s1->tag == ref->tag)
		return &s1->tat;
	if (!key)
		return NULL;
	if (s0->tat <= now) {
		spare = s0;
		idx = idx0;
	} else if (s1->tat <= now) {
		spare = s1;
		idx = idx1;
	} else {
		return NULL;
	}
	tag = spare->tag;
	if (__sync_val_compare_and_swap(&spare->tag, tag, ref->tag) != tag)
		return NULL;
	rec = bpf_map_lookup_elem(&sluice_slotkeys, &idx);
	if (rec)
		__builtin_memcpy(rec, key, sizeof(*rec));
	return &spare->tat;
}

static __always_inline struct sluice_tier_stats *tier_stats(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&sluice_tierstats, &zero);
}

/* The way of LINE that holds TAG, or SLUICE_PROBATION_WAYS. */
static __always_inline __u32 probation_find(const struct sluice_probation *line, __u64 tag)
{
	__u32 w;

	for (w = 0; w < SLUICE_PROBATION_WAYS; w++)
		if (line->tag[w] == tag)
			return w;
	return SLUICE_PROBATION_WAYS;
}

/* The way a new key takes: a free one (full bucket), else the earliest arrival time. */
static __always_inline __u32 probation_pick(const struct sluice_probation *line, __u64 now)
{
	__u32 w, pick = 0;

	for (w = 0; w < SLUICE_PROBATION_WAYS; w++) {
		if (line->tat[w] <= now)
			return w;
		if (line->tat[w] < line->tat[pick])
			pick = w;
	}
	return pick;
}

/*
 * A key back on probation gets exact state with the arrival time it had there: a free
 * slot, else sluice_buckets. Its way is freed for others.
 */
static __always_inline __u64 *probation_promote(struct sluice_probation *line, __u32 w,
						const struct sluice_slot_ref *ref,
						const struct sluice_bucket_key *key, __u64 now)
{
	__u64 seed, *tat;

	if (w >= SLUICE_PROBATION_WAYS)
		return NULL;
	seed = *(volatile __u64 *)&line->tat[w];
	__sync_val_compare_and_swap(&line->tag[w], ref->tag, 0);
	tat = slot_find(ref, now, key);
	if (tat) {
		raise_to(tat, seed);
		return tat;
	}
	lru_note(line, ref->tag);
	bpf_map_update_elem(&sluice_buckets, key, &seed, BPF_NOEXIST);
	return bpf_map_lookup_elem(&sluice_buckets, key);
}

/*
 * The first packet of a key without state: a full bucket admits it when its cost fits
 * the limit's burst, and the key goes on probation with the arrival time it leaves.
 */
static __always_inline int probation_take(struct sluice_probation *line, __u32 line_idx,
					  const struct sluice_slot_ref *ref, __u64 now, __u64 cost,
					  __u64 tolerance, struct limit_charge *charge,
					  struct sluice_tier_stats *st)
{
	__u32 w = probation_pick(line, now);
	__u64 old;

	if (cost > tolerance) {
		st->refused++;
		return LIMIT_REFUSE;
	}
	st->admitted++;
	if (w >= SLUICE_PROBATION_WAYS)
		return LIMIT_ADMIT;
	old = line->tag[w];
	if (line->tat[w] > now)
		st->displaced++;
	/* A way another CPU took meanwhile stays theirs; the packet is admitted all the same. */
	if (__sync_val_compare_and_swap(&line->tag[w], old, ref->tag) != old)
		return LIMIT_ADMIT;
	*(volatile __u64 *)&line->tat[w] = now + cost;
	charge->probation_tag = ref->tag;
	charge->probation_tat = now + cost;
	charge->probation_line = line_idx;
	charge->probation_way = w;
	return LIMIT_ADMIT;
}

/* A global function: the verifier checks it once, not once per limit of every rule. */
__noinline int limit_admit(const struct sluice_limit *lim, const struct packet *p, __u64 now,
			   struct limit_charge *charge)
{
	struct sluice_probation *line;
	struct sluice_tier_stats *st;
	struct sluice_bucket_key key;
	struct sluice_slot_ref ref;
	__u64 cost, *tat, *old;
	__u32 plen, line_idx, w;

	if (!lim || !p || !charge)
		return LIMIT_ERROR;
	cost = limit_cost(lim, p);
	charge->cost = cost;
	charge->probation_tag = 0;
	plen = bucket_key(&key, lim, p);
	sluice_slot_ref(&key, plen, &ref);
	tat = slot_find(&ref, now, NULL);
	if (tat)
		return gcra_take(tat, now, cost, lim->tolerance);

	line_idx = sluice_probation_line(&ref);
	line = bpf_map_lookup_elem(&sluice_probation, &line_idx);
	st = tier_stats();
	if (!line || !st)
		return LIMIT_ERROR;
	old = lru_may_hold(line, ref.tag) ? bpf_map_lookup_elem(&sluice_buckets, &key) : NULL;
	if (old) {
		/* State the key has in the LRU map moves into a free slot. */
		tat = slot_find(&ref, now, &key);
		if (tat)
			raise_to(tat, *(volatile __u64 *)old);
		else
			tat = old;
		return gcra_take(tat, now, cost, lim->tolerance);
	}
	w = probation_find(line, ref.tag);
	if (w >= SLUICE_PROBATION_WAYS)
		return probation_take(line, line_idx, &ref, now, cost, lim->tolerance, charge, st);
	tat = probation_promote(line, w, &ref, &key, now);
	if (!tat)
		return LIMIT_ERROR;
	st->promoted++;
	return gcra_take(tat, now, cost, lim->tolerance);
}

/*
 * Gives back what CHARGE took: from the key's exact state, or from its way on
 * probation while the key still holds it as this packet left it.
 */
__noinline int limit_refund(const struct sluice_limit *lim, const struct packet *p,
			    const struct limit_charge *charge)
{
	struct sluice_probation *line;
	struct sluice_bucket_key key;
	struct sluice_slot_ref ref;
	__u32 plen, idx, w;
	__u64 *tat;

	if (!lim || !p || !charge)
		return 0;
	if (charge->probation_tag) {
		idx = charge->probation_line;
		w = charge->probation_way;
		line = bpf_map_lookup_elem(&sluice_probation, &idx);
		if (line && w < SLUICE_PROBATION_WAYS && line->tag[w] == charge->probation_tag)
			__sync_val_compare_and_swap(&line->tat[w], charge->probation_tat,
						    charge->probation_tat - charge->cost);
		return 0;
	}
	plen = bucket_key(&key, lim, p);
	sluice_slot_ref(&key, plen, &ref);
	tat = slot_find(&ref, 0, NULL);
	if (!tat)
		tat = bpf_map_lookup_elem(&sluice_buckets, &key);
	if (tat)
		__sync_fetch_and_sub(tat, charge->cost);
	return 0;
}

#endif /* SLUICE_LIMITER_H */
