// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ban filter's rebuild (user/core/bans.c): the bits of bans that are gone are
 * cleared, and no live ban is left unseen, neither one that was there before nor one
 * inserted while the rebuild runs, by the data path or in the window the rebuild leaves.
 */
#include <pthread.h>
#include "harness.h"
#include "bans.h"
#include "policy.h"

#define STALE 20000 /* bans that come and go: more stale bits than a collection tolerates */
#define LIVE_N 3
#define TEST_DPORT 80

static const char *const live_srcs[LIVE_N] = { "198.18.0.1", "198.18.0.2", "198.18.3.4" };

/* The ban key of a single IPv4 address, as a /32 ban rule inserts it. */
static struct sluice_ban_key key_of(const char *addr)
{
	struct sluice_ban_key k = { .prefixlen = SLUICE_V4_MAPPED_PLEN + 32 };

	parse_addr(addr, k.addr);
	return k;
}

/* 198.19.X.Y for I = X * 256 + Y: the addresses of the bans that churn. */
static struct sluice_ban_key churn_key(__u32 i)
{
	char addr[32];

	snprintf(addr, sizeof(addr), "198.19.%u.%u", (i >> 8) & 0xff, i & 0xff);
	return key_of(addr);
}

static bool bit_set(const struct sluice_ban_key *k)
{
	__u32 bit = sluice_ban_bit(k->prefixlen, k->addr), idx = bit >> 6;
	__u64 word = 0;

	bpf_map_lookup_elem(H.banfilter, &idx, &word);
	return word >> (bit & 63) & 1;
}

/* A ban as the data path inserts it: its filter bit, then the entry. */
static int ban_put(const struct sluice_ban_key *k, __u64 expires)
{
	struct sluice_ban ban = { .expires_ns = expires, .stat_slot = SLOT(0) };

	return ban_filter_mark(H.banfilter, k) ?:
		       (bpf_map_update_elem(H.bans, k, &ban, BPF_ANY) ? -errno : 0);
}

/* XDP verdict of one TCP packet from SRC, of FAMILY 4 or 6. */
static __u32 send_family(__u8 family, const char *src)
{
	struct pkt_spec s = {
		.family = family, .proto = IPPROTO_TCP, .src = src, .dport = TEST_DPORT
	};
	struct frame f = {};
	__u32 retval = ~0U;

	build_frame(&s, &f);
	if (run_xdp(H.prog, &f, f.len, 1, &retval, NULL))
		return ~0U;
	return retval;
}

static __u32 send_from(const char *src)
{
	return send_family(4, src);
}

static __u32 send_from6(const char *src)
{
	return send_family(6, src);
}

/* Distinct filter bits of N keys. */
static long distinct_bits(const struct sluice_ban_key *keys, int n)
{
	long count = 0;

	for (int i = 0; i < n; i++) {
		__u32 bit = sluice_ban_bit(keys[i].prefixlen, keys[i].addr);
		bool seen = false;

		for (int j = 0; j < i && !seen; j++)
			seen = sluice_ban_bit(keys[j].prefixlen, keys[j].addr) == bit;
		count += !seen;
	}
	return count;
}

/* Every ban in the map, expired or not, has its bit: none is hidden from the data path. */
static long bans_without_bit(void)
{
	struct sluice_ban_key cur, next;
	long missing = 0;
	bool first = true;

	while (!bpf_map_get_next_key(H.bans, first ? NULL : &cur, &next)) {
		missing += !bit_set(&next);
		cur = next;
		first = false;
	}
	return missing;
}

/* A policy with one rule: every TCP packet, burst 1 per source, the next bans the source. */
static bool install(void)
{
	static const struct scenario sc = {
		.rules = { R(ACT(BAN), .limits = { { PKTS(1, 1) } }) },
	};

	return scenario_apply(&sc, 0) == 0;
}

/* Clears the filter: the maps outlive each part of the test. */
static int filter_zero(void)
{
	__u64 zero = 0;

	for (__u32 i = 0; i < SLUICE_BAN_FILTER_WORDS; i++)
		if (bpf_map_update_elem(H.banfilter, &i, &zero, BPF_ANY))
			return -errno;
	return 0;
}

/* Expired bans are collected and their bits cleared; the live bans keep theirs and drop. */
static void test_collect(void)
{
	struct sluice_ban_key live[LIVE_N];
	struct ban_filter_fill f0 = {}, f1 = {}, f2 = {};
	__u64 now = mono_ns();
	long removed, again;
	int err = filter_zero();

	for (__u32 i = 0; i < STALE && !err; i++) {
		struct sluice_ban_key k = churn_key(i);

		err = ban_put(&k, now - 1000000000ULL);
	}
	for (int i = 0; i < LIVE_N && !err; i++) {
		live[i] = key_of(live_srcs[i]);
		err = ban_put(&live[i], now + BAN_NS);
	}
	tap_result(!err, "insert %d expired and %d live bans", STALE, LIVE_N);
	if (err)
		return;
	err = ban_filter_fill(&H.pins, &f0);
	tap_result(!err && f0.bans == LIVE_N && f0.bits_total == 64L * SLUICE_BAN_FILTER_WORDS &&
			   f0.bits_set > STALE * 9 / 10 &&
			   f0.bits_needed == distinct_bits(live, LIVE_N),
		   "fill before: %ld of %ld bits set, %ld bans need %ld (%s)", f0.bits_set,
		   f0.bits_total, f0.bans, f0.bits_needed, strerror(-err));
	removed = collect_expired(&H.pins);
	err = ban_filter_fill(&H.pins, &f1);
	tap_result(removed == STALE && !err && f1.bits_set == distinct_bits(live, LIVE_N) &&
			   f1.bits_needed == f1.bits_set && f1.bans == LIVE_N,
		   "collection removes %ld expired bans and the filter keeps %ld bits, those of "
		   "the %ld live bans (%ld)",
		   removed, f1.bits_set, f1.bans, f1.bits_needed);
	for (int i = 0; i < LIVE_N; i++)
		tap_result(bit_set(&live[i]) && send_from(live_srcs[i]) == XDP_DROP,
			   "a live ban is enforced after the rebuild: %s dropped", live_srcs[i]);
	tap_result(send_from("198.19.0.5") == XDP_PASS,
		   "an expired ban's source passes (its first packet, within the burst)");
	again = collect_expired(&H.pins);
	err = ban_filter_fill(&H.pins, &f2);
	tap_result(again == 0 && !err && f2.bits_set == f1.bits_set,
		   "a collection with nothing stale leaves the filter: %ld bits", f2.bits_set);
}

/* A few stale bits are not worth a rebuild: collection leaves them. */
static void test_threshold(void)
{
	struct ban_filter_fill f0 = {}, f1 = {};
	__u64 t0;
	int err = 0;

	for (__u32 i = 0; i < 100 && !err; i++) {
		struct sluice_ban_key k = churn_key(i);

		err = ban_filter_mark(H.banfilter, &k);
	}
	err = err ?: ban_filter_fill(&H.pins, &f0);
	t0 = mono_ns();
	collect_expired(&H.pins);
	tap_diag("a collection that leaves the filter takes %llu us",
		 (unsigned long long)(mono_ns() - t0) / 1000);
	err = err ?: ban_filter_fill(&H.pins, &f1);
	tap_result(!err && f0.bits_set >= f0.bits_needed + 99 && f1.bits_set == f0.bits_set,
		   "100 stale bits are left alone by collection: %ld before, %ld after",
		   f0.bits_set, f1.bits_set);
}

struct race {
	struct sluice_ban_key stale; /* a key whose bit was stale until the rebuild cleared it */
	bool cleared; /* ... and the hook saw it cleared */
	__u32 by_datapath[2]; /* XDP verdicts of two packets from a new source during the window */
};

#define RACE_SRC "198.18.9.9"
#define DATAPATH_SRC "198.18.0.9"

/*
 * Runs between the clear and the settling passes. The data path inserted a ban whose bit it
 * had found set (stale) just before the clear, so it skipped its OR: the ban is in the map
 * with its bit clear. And a new source gets banned by the data path itself meanwhile.
 */
static void in_the_window(void *ctx)
{
	struct race *r = ctx;
	struct sluice_ban ban = { .expires_ns = mono_ns() + BAN_NS, .stat_slot = SLOT(0) };

	r->cleared = !bit_set(&r->stale);
	bpf_map_update_elem(H.bans, &r->stale, &ban, BPF_ANY);
	r->by_datapath[0] = send_from(DATAPATH_SRC);
	r->by_datapath[1] = send_from(DATAPATH_SRC);
}

static void test_window(void)
{
	struct race r = { .stale = key_of(RACE_SRC) };
	struct sluice_ban_key dp = key_of(DATAPATH_SRC), keep = key_of(live_srcs[0]);
	struct ban_filter_fill f = {};
	long cleared;
	__u64 t0;
	int err = install() ? filter_zero() : -EIO;

	/* Stale bits: the churn, and the race key's, set by a ban since lifted. */
	for (__u32 i = 0; i < STALE && !err; i++) {
		struct sluice_ban_key k = churn_key(i);

		err = ban_filter_mark(H.banfilter, &k);
	}
	err = err ?: ban_filter_mark(H.banfilter, &r.stale);
	err = err ?: ban_put(&keep, mono_ns() + BAN_NS);
	err = err ?: bit_set(&dp) ? -EEXIST : 0;
	tap_result(!err, "stale bits, one live ban (%s)", strerror(-err));
	if (err)
		return;
	t0 = mono_ns();
	cleared = ban_filter_rebuild(&H.pins, in_the_window, &r);
	tap_diag("a rebuild clearing %ld bits takes %llu us", cleared,
		 (unsigned long long)(mono_ns() - t0) / 1000);
	err = ban_filter_fill(&H.pins, &f);
	tap_result(cleared >= STALE * 9 / 10 && r.cleared,
		   "the rebuild cleared %ld stale bits, the race key's among them", cleared);
	tap_result(r.by_datapath[0] == XDP_PASS && r.by_datapath[1] == XDP_DROP,
		   "the data path banned " DATAPATH_SRC " during the rebuild (verdicts %u %u)",
		   r.by_datapath[0], r.by_datapath[1]);
	tap_result(bit_set(&r.stale) && send_from(RACE_SRC) == XDP_DROP,
		   "a ban inserted with its bit cleared under it is enforced after the rebuild");
	tap_result(bit_set(&dp) && send_from(DATAPATH_SRC) == XDP_DROP,
		   "a ban the data path made during the rebuild is enforced after it");
	tap_result(bit_set(&keep) && send_from(live_srcs[0]) == XDP_DROP,
		   "the ban that was there before is enforced");
	tap_result(!err && f.bans == 3 && f.bits_set == f.bits_needed,
		   "after the rebuild the filter holds only the bits of the %ld live bans: %ld of "
		   "%ld needed",
		   f.bans, f.bits_set, f.bits_needed);
}

/* A collection after a rebuild that was killed half-way: the live bans get their bits back. */
static void test_repair(void)
{
	struct sluice_ban_key k = key_of(RACE_SRC);
	__u32 bit = sluice_ban_bit(k.prefixlen, k.addr), idx = bit >> 6;
	__u64 word = 0;

	struct sluice_state state;
	__u32 zero = 0;

	bpf_map_lookup_elem(H.banfilter, &idx, &word);
	word &= ~(1ULL << (bit & 63));
	bpf_map_update_elem(H.banfilter, &idx, &word, BPF_ANY);
	/* What a rebuild killed after its clear leaves: the check flag set. */
	bpf_map_lookup_elem(H.state, &zero, &state);
	state.flags |= SLUICE_STATE_BAN_FILTER_CHECK;
	bpf_map_update_elem(H.state, &zero, &state, BPF_ANY);
	tap_result(send_from(RACE_SRC) != XDP_DROP, "a live ban without its bit is not seen");
	collect_expired(&H.pins);
	bpf_map_lookup_elem(H.state, &zero, &state);
	tap_result(bit_set(&k) && send_from(RACE_SRC) == XDP_DROP &&
			   !(state.flags & SLUICE_STATE_BAN_FILTER_CHECK),
		   "collection sets the missing bit again: the ban is enforced, the check done");
}

/* ---- The data path banning new sources on another CPU while rebuilds run ---- */

/* Well below the ban map's 65536, so that its LRU never evicts one of them. */
#define STRESS_SOURCES 16384

static volatile int stress_done;

static void stress_src(__u32 i, char *buf, size_t len)
{
	snprintf(buf, len, "2001:db8:1::%x", i + 1);
}

/* Two packets from each new source: the first within the burst, the second bans it. */
static void *ban_sources(void *arg)
{
	long *made = arg;

	for (__u32 i = 0; i < STRESS_SOURCES; i++) {
		char src[64];

		stress_src(i, src, sizeof(src));
		send_from6(src);
		*made += send_from6(src) == XDP_DROP;
	}
	stress_done = 1;
	return NULL;
}

static void test_concurrent(void)
{
	pthread_t t;
	long made = 0, rebuilds = 0, dropped = 0, missing;
	int err = install() ? filter_zero() : -EIO;

	err = err ?: -pthread_create(&t, NULL, ban_sources, &made);
	tap_result(!err, "start banning %d sources (%s)", STRESS_SOURCES, strerror(-err));
	if (err)
		return;
	/* Stale bits to clear each time, so every rebuild writes words the data path is setting. */
	for (__u32 round = 0; !stress_done && !err; round++) {
		for (__u32 i = 0; i < 500 && !err; i++) {
			struct sluice_ban_key k = churn_key(round * 500 + i);

			err = ban_filter_mark(H.banfilter, &k);
		}
		if (!err && ban_filter_rebuild(&H.pins, NULL, NULL) < 0)
			err = -EIO;
		rebuilds++;
	}
	pthread_join(t, NULL);
	missing = bans_without_bit();
	for (__u32 i = 0; i < STRESS_SOURCES; i++) {
		char src[64];

		stress_src(i, src, sizeof(src));
		dropped += send_from6(src) == XDP_DROP;
	}
	tap_result(!err && rebuilds > 1 && missing == 0,
		   "%ld rebuilds beside the data path: no ban without its bit (%ld)", rebuilds,
		   missing);
	tap_result(made == STRESS_SOURCES && dropped == made,
		   "every source banned during the rebuilds is dropped after them: %ld of %ld",
		   dropped, made);
}

int main(void)
{
	HARNESS_OPEN_OR_SKIP("ban filter tests");
	tap_result(install(), "install a ban policy");
	if (tap_failures)
		return tap_exit();
	test_collect();
	test_threshold();
	test_window();
	test_repair();
	test_concurrent();
	harness_close();
	return tap_exit();
}
