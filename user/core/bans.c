// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ban filter (sluice.h) is a bit per hash of a ban key. The data path sets a key's
 * bit (an atomic OR, and only when it finds the bit clear) before it inserts the ban,
 * and a lookup that finds the bit clear skips the ban map. Nothing in the data path
 * clears a bit, so as bans come and go the filter fills with the bits of bans that
 * are gone and saves fewer lookups. The controller clears them here, without a change
 * to the data path and without leaving a live ban's bit clear once it returns.
 *
 * The rebuild:
 *   (a) read the filter F, then the ban map: the bits L of the unexpired bans;
 *   (b) for each word, clear the bits that were set in F and are not in L (a read and
 *       a write of the word: not atomic against the data path);
 *   (c) wait for an RCU grace period;
 *   (d) read the filter and the ban map again and set the bit of every unexpired ban
 *       that lacks it; after any such write, back to (c); done after a pass that
 *       writes nothing.
 *
 * The races, for a ban inserted by the data path at any time. Its program reads the
 * word at time r (and ORs the bit at time o if it was clear), then inserts the ban,
 * all inside one RCU read-side section. Only our writes can take a bit away:
 *   1. it read the bit as set (a stale bit, or one shared with another ban) at r, we
 *      cleared it in (b) after r, and the ban is inserted with its bit clear;
 *   2. it ORed the bit between our read and our write of that word, in (b) or (d),
 *      and our write put back the word without it.
 * Either way its section began before our write ended, so the grace period of (c),
 * which starts after that write, ends only after its insert, and the next pass of (d)
 * sees the ban and sets its bit. (d) only adds bits, so it cannot cause case 1; a pass
 * of (d) that writes nothing cannot cause case 2; so when we stop, every ban that was
 * in the map at the last pass has its bit, and every ban inserted later was inserted
 * by a program that ORed (or found set) a bit we no longer clear. A ban that was in
 * the map when (a) read it keeps its bit throughout: (b) clears only bits not in L.
 *
 * What this cannot avoid without a data-path change: in case 1 the new ban is not
 * seen between our clear and the pass of (d) after the next grace period, a few
 * milliseconds. Only a ban whose insert races the clearing of its own bit is exposed,
 * and the packets of that source in that window still meet the limit that banned it,
 * whose refusal bans it again, this time setting the bit.
 *
 * Our own failures: if a write fails half-way, every bit is set (each lookup then
 * reads the map: slower, never wrong). If we are killed between (b) and (d), the next
 * collection (ban_filter_collect, run by every write verb and the exporter) finds a
 * live ban without its bit and sets it. Two rebuilds never run at once: collection
 * runs under the pin directory's lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "bans.h"
#include "log.h"

#define FILTER_WORDS SLUICE_BAN_FILTER_WORDS
#define FILTER_BITS ((long)FILTER_WORDS * 64)
/*
 * Stale bits worth a rebuild: at this many, one source in 256 that is not banned reads
 * the ban map for nothing. A full ban map (65536 bans by default) needs about 1 bit in 64.
 */
#define STALE_MIN (FILTER_BITS / 256)
/* Passes of (d) before we give up and set every bit; each needs a ban inserted during the last. */
#define SETTLE_PASSES 8

static long copy_words(const void *keys, const void *values, __u32 n, void *ctx)
{
	const __u32 *k = keys;
	const __u64 *v = values;
	__u64 *words = ctx;

	for (__u32 i = 0; i < n; i++)
		if (k[i] < FILTER_WORDS)
			words[k[i]] = v[i];
	return n;
}

static int filter_read(const struct pins *p, __u64 *words)
{
	long n = map_batches(p->fds[PIN_BANFILTER], false, copy_words, words);

	return n < 0 ? (int)n : n == FILTER_WORDS ? 0 : -EIO;
}

struct live_scan {
	__u64 *need; /* the bits of the unexpired bans */
	__u64 now;
	long bans;
};

static long mark_live(const void *keys, const void *values, __u32 n, void *ctx)
{
	const struct sluice_ban_key *k = keys;
	const struct sluice_ban *b = values;
	struct live_scan *s = ctx;

	for (__u32 i = 0; i < n; i++) {
		__u32 bit;

		/* The data path ignores an expired ban, so its bit is not needed. */
		if (b[i].expires_ns <= s->now)
			continue;
		bit = sluice_ban_bit(k[i].prefixlen, k[i].addr);
		s->need[bit >> 6] |= 1ULL << (bit & 63);
		s->bans++;
	}
	return n;
}

/* NEED: the bits of the unexpired bans; BANS: how many there are. -errno. */
static int live_scan(const struct pins *p, __u64 *need, long *bans)
{
	struct live_scan s = { .need = need, .now = mono_now_ns() };
	long n;

	memset(need, 0, FILTER_WORDS * sizeof(*need));
	n = map_batches(p->fds[PIN_BANS], false, mark_live, &s);
	if (n < 0)
		return (int)n;
	*bans = s.bans;
	return 0;
}

static long popcount_words(const __u64 *w)
{
	long n = 0;

	for (__u32 i = 0; i < FILTER_WORDS; i++)
		n += __builtin_popcountll(w[i]);
	return n;
}

/*
 * An RCU grace period, the kernel's: an update of an array-of-maps returns only after
 * synchronize_rcu(), so every XDP program running when it began has returned. A map
 * of our own, so no slot the data path reads changes.
 */
struct grace {
	int inner, outer;
};

static int grace_open(struct grace *g)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts);

	g->outer = -1;
	g->inner = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_grace_in", 4, 4, 1, NULL);
	if (g->inner < 0)
		return -errno;
	opts.inner_map_fd = g->inner;
	g->outer = bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "sluice_grace", 4, 4, 1, &opts);
	if (g->outer < 0) {
		int err = -errno;

		close(g->inner);
		return err;
	}
	return 0;
}

static int grace_wait(const struct grace *g)
{
	__u32 zero = 0;

	return bpf_map_update_elem(g->outer, &zero, &g->inner, BPF_ANY) ? -errno : 0;
}

static void grace_close(struct grace *g)
{
	close(g->outer);
	close(g->inner);
}

/* Word IDX of the filter, read now: the data path may have set bits since the batch read. */
static int word_get(const struct pins *p, __u32 idx, __u64 *word)
{
	return bpf_map_lookup_elem(p->fds[PIN_BANFILTER], &idx, word) ? -errno : 0;
}

static int word_put(const struct pins *p, __u32 idx, __u64 word)
{
	return bpf_map_update_elem(p->fds[PIN_BANFILTER], &idx, &word, BPF_EXIST) ? -errno : 0;
}

/* One pass of (d): sets the bits of unexpired bans the filter lacks. Words written, or -errno. */
static long settle_pass(const struct pins *p, __u64 *words, __u64 *need)
{
	long bans, written = 0;
	int err = filter_read(p, words) ?: live_scan(p, need, &bans);

	for (__u32 i = 0; i < FILTER_WORDS && !err; i++) {
		__u64 cur;

		if (!(need[i] & ~words[i]))
			continue;
		err = word_get(p, i, &cur);
		if (err || (cur & need[i]) == need[i])
			continue;
		err = word_put(p, i, cur | need[i]);
		written++;
	}
	return err ? err : written;
}

/* Every bit set: correct whatever the races, at the cost of a map lookup per ban length. */
static int filter_saturate(const struct pins *p)
{
	int err = 0;

	for (__u32 i = 0; i < FILTER_WORDS && !err; i++)
		err = word_put(p, i, ~0ULL);
	return err;
}

/*
 * (c) and (d) until a pass of (d) writes nothing; WROTE: whether a write came before,
 * so that the first pass needs a grace period first. On any failure, saturates.
 */
static int settle(const struct pins *p, const struct grace *g, __u64 *words, __u64 *need,
		  bool wrote)
{
	int err = 0;

	for (int pass = 0; pass < SETTLE_PASSES; pass++) {
		long n;

		if (wrote) {
			err = grace_wait(g);
			if (err)
				break;
		}
		n = settle_pass(p, words, need);
		if (n == 0)
			return 0;
		if (n < 0) {
			err = (int)n;
			break;
		}
		wrote = true;
	}
	pr_warn("ban filter: %s; setting every bit", err ? strerror(-err) : "bans keep coming");
	return filter_saturate(p) ?: err;
}

int ban_filter_fill(const struct pins *p, struct ban_filter_fill *f)
{
	__u64 *words = calloc(FILTER_WORDS, sizeof(*words));
	__u64 *need = calloc(FILTER_WORDS, sizeof(*need));
	int err = words && need ? 0 : -ENOMEM;

	memset(f, 0, sizeof(*f));
	err = err ?: filter_read(p, words) ?: live_scan(p, need, &f->bans);
	if (!err) {
		f->bits_set = popcount_words(words);
		f->bits_needed = popcount_words(need);
		f->bits_total = FILTER_BITS;
	}
	free(words);
	free(need);
	return err;
}

/* Sets or clears SLUICE_STATE_BAN_FILTER_CHECK in the state record. -errno. */
static int check_flag_set(const struct pins *p, bool on)
{
	struct sluice_state state;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state))
		return -errno;
	if (!!(state.flags & SLUICE_STATE_BAN_FILTER_CHECK) == on)
		return 0;
	state.flags ^= SLUICE_STATE_BAN_FILTER_CHECK;
	return bpf_map_update_elem(p->fds[PIN_STATE], &zero, &state, BPF_EXIST) ? -errno : 0;
}

int ban_filter_note_removed(const struct pins *p)
{
	return check_flag_set(p, true);
}

long ban_filter_rebuild(const struct pins *p, void (*after_clear)(void *ctx), void *ctx)
{
	__u64 *words = calloc(FILTER_WORDS, sizeof(*words));
	__u64 *need = calloc(FILTER_WORDS, sizeof(*need));
	struct grace g = { -1, -1 };
	long bans = 0, cleared = 0;
	bool wrote = false;
	int err = words && need ? 0 : -ENOMEM;

	/*
	 * Before anything is cleared: a failure here changes nothing. The check flag stays
	 * set until the caller's collection ends well, so a rebuild killed half-way is
	 * settled by the next collection.
	 */
	err = err			      ?:
		      check_flag_set(p, true) ?:
		      grace_open(&g)	      ?:
		      filter_read(p, words)   ?:
						live_scan(p, need, &bans);
	if (err)
		goto out;
	for (__u32 i = 0; i < FILTER_WORDS && !err; i++) {
		__u64 stale = words[i] & ~need[i], cur;

		if (!stale)
			continue;
		err = word_get(p, i, &cur);
		/* Only bits set at (a): one set since may belong to a ban inserted since. */
		if (!err && (cur & stale)) {
			err = word_put(p, i, cur & ~stale);
			cleared += __builtin_popcountll(cur & stale);
			wrote = true;
		}
	}
	if (err) {
		pr_warn("ban filter: clear stale bits: %s; setting every bit", strerror(-err));
		err = filter_saturate(p) ?: err;
		goto out;
	}
	if (after_clear)
		after_clear(ctx);
	err = settle(p, &g, words, need, wrote);
out:
	if (g.outer >= 0)
		grace_close(&g);
	free(words);
	free(need);
	return err ? err : cleared;
}

long ban_filter_collect(const struct pins *p)
{
	__u64 *words = calloc(FILTER_WORDS, sizeof(*words));
	__u64 *need = calloc(FILTER_WORDS, sizeof(*need));
	long bans = 0, stale = 0, needed, ret = 0;
	bool missing = false;
	struct grace g;
	int err = words && need ? 0 : -ENOMEM;

	err = err ?: filter_read(p, words) ?: live_scan(p, need, &bans);
	if (err) {
		ret = err;
		goto out;
	}
	needed = popcount_words(need);
	for (__u32 i = 0; i < FILTER_WORDS; i++) {
		stale += __builtin_popcountll(words[i] & ~need[i]);
		missing |= (need[i] & ~words[i]) != 0;
	}
	if (stale >= STALE_MIN && stale >= needed) {
		ret = ban_filter_rebuild(p, NULL, NULL);
		if (ret >= 0)
			pr_info("ban filter: cleared %ld stale bits, %ld bans need %ld", ret, bans,
				needed);
	} else if (missing) {
		/* A rebuild killed between (b) and (d), or a ban being inserted right now. */
		ret = grace_open(&g);
		if (!ret) {
			ret = settle(p, &g, words, need, false);
			grace_close(&g);
		}
	}
	if (ret >= 0)
		ret = check_flag_set(p, false) ?: ret;
out:
	free(words);
	free(need);
	return ret;
}

long ban_insert(const struct pins *p, const struct sluice_ban_key *keys,
		const struct sluice_ban *bans, size_t n)
{
	__u64 *words = calloc(FILTER_WORDS, sizeof(*words));
	__u64 *need = calloc(FILTER_WORDS, sizeof(*need));
	struct grace g = { -1, -1 };
	long inserted = 0;
	int err = words && need ? 0 : -ENOMEM;

	err = err ?: grace_open(&g);
	for (size_t i = 0; i < n && !err; i++) {
		__u32 bit = sluice_ban_bit(keys[i].prefixlen, keys[i].addr);
		struct sluice_ban old;
		__u64 word;

		if (!bpf_map_lookup_elem(p->fds[PIN_BANS], &keys[i], &old) &&
		    old.expires_ns >= bans[i].expires_ns)
			continue;
		/* The bit before the ban, as the data path sets it. */
		err = word_get(p, bit >> 6, &word);
		if (!err && !(word & (1ULL << (bit & 63))))
			err = word_put(p, bit >> 6, word | 1ULL << (bit & 63));
		if (!err && bpf_map_update_elem(p->fds[PIN_BANS], &keys[i], &bans[i], BPF_ANY))
			err = -errno;
		inserted += !err;
	}
	/*
	 * Our read and write of a word are not atomic against the data path's OR: a bit it
	 * set in between is put back by (c) and (d), as after a rebuild's clearing.
	 */
	if (inserted)
		err = settle(p, &g, words, need, true) ?: err;
	if (g.outer >= 0)
		grace_close(&g);
	free(words);
	free(need);
	return err ? err : inserted;
}
