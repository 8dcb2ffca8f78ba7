// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * limits_read (sluice limits) against the state the data path itself leaves: a key in a
 * slot, a key in the LRU map, a key in both counted once, slots whose record does not
 * match their tag left out, and a rule asked for by name.
 */
#include <string.h>
#include <sys/mman.h>
#include "harness.h"
#include "limits_report.h"
#include "pins.h"

/* clang-format off */
#define UDP4(...) { .family = 4, .proto = IPPROTO_UDP, __VA_ARGS__ }
/* clang-format on */

#define RECS_BYTES ((size_t)SLUICE_SLOTS * sizeof(struct sluice_bucket_key))

/* Rule 0 of the harness is "rule0"; its first limit has id 100 (fill_rule). */
static const struct scenario sc = {
	.rules = { R(PROTO(UDP), ACT(DROP), .limits = { { PKTS(1, 3) } }) },
};
static const char policy_text[] = "rule add rule0 udp limit src/32 rate 1/s burst 3 action drop\n";

/* The bucket key of 198.19.7.LOW under limit 100. */
static struct sluice_bucket_key key_of(__u8 low)
{
	return (struct sluice_bucket_key){
		.limit_id = 100,
		.family = SLUICE_FAMILY_IPV4,
		.addr = { 0, 0, htonl(0xffff), htonl(0xc6130700 | low) },
	};
}

static struct limits_report report;
static struct sluice_bucket_key *recs; /* sluice_slotkeys, mapped */

/* Installs the scenario and its text, every slot record cleared. */
static bool setup(void)
{
	static struct sluice_text text;
	__u32 zero = 0;

	memset(recs, 0, RECS_BYTES);
	text.len = sizeof(policy_text) - 1;
	memcpy(text.text, policy_text, sizeof(policy_text));
	return !scenario_apply(&sc, 0) &&
	       !bpf_map_update_elem(H.pins.fds[PIN_TEXT], &zero, &text, BPF_ANY);
}

/* Sends N packets of 198.19.7.1; true if each had verdict WANT[i]. */
static bool send_a(int n, const __u32 *want)
{
	struct pkt_spec spec = UDP4(.src = "198.19.7.1");
	struct frame f;
	__u32 got = 0;

	build_frame(&spec, &f);
	for (int i = 0; i < n; i++)
		if (run_xdp(H.prog, &f, f.len, 1, &got, NULL) ||
		    !TAP_EXPECT_EQ("verdict", got, want[i]))
			return false;
	return true;
}

static bool read_all(void)
{
	int err;

	limits_free(&report);
	err = limits_read(&H.pins, NULL, 5, &report);
	if (err)
		tap_diag("limits_read: %s", strerror(-err));
	return !err && TAP_EXPECT_EQ("limits", report.n, 1);
}

/* The one limit's keys: in slots, in the LRU map, and the fullest's tokens left. */
static bool expect_keys(long slots, long lru, __u64 tokens, long unnamed)
{
	const struct limits_entry *e = &report.entries[0];
	struct sluice_bucket_key a = key_of(1);

	return TAP_EXPECT_EQ("keys", e->keys, slots + lru) &&
	       TAP_EXPECT_EQ("in slots", e->in_slots, slots) &&
	       TAP_EXPECT_EQ("in the LRU map", e->in_lru, lru) &&
	       TAP_EXPECT_EQ("unnamed slots", report.unnamed, unnamed) &&
	       TAP_EXPECT_EQ("fullest keys", e->ntop, 1) &&
	       TAP_EXPECT_EQ("the fullest is the source", memcmp(&e->top[0].key, &a, sizeof(a)),
			     0) &&
	       TAP_EXPECT_EQ("its tokens", e->top[0].tokens, tokens) &&
	       TAP_EXPECT_EQ("where it is", e->top[0].in_lru, lru > 0);
}

static void test_slot(void)
{
	static const __u32 want[] = { XDP_PASS, XDP_PASS };
	const struct limits_entry *e = &report.entries[0];
	bool ok = setup() && send_a(2, want) && read_all() && expect_keys(1, 0, 1, 0);

	ok = ok && TAP_EXPECT_EQ("rule", strcmp(e->rule, "rule0"), 0) &&
	     TAP_EXPECT_EQ("spec", strcmp(e->spec_text, "src/32 src6/64 rate 1/s burst 3"), 0) &&
	     TAP_EXPECT_EQ("2 of 3 used: 50-75%", e->bins[LIMITS_BIN_50_75], 1);
	tap_result(ok, "a key in a slot: named, 2 of a burst of 3 used, 1 left");
}

/* Every slot live (tag 1 is no key's): the key's state goes to the LRU map. */
static void test_lru(void)
{
	static const __u32 want[] = { XDP_PASS, XDP_PASS, XDP_PASS, XDP_DROP, XDP_DROP };
	struct sluice_bucket_key a = key_of(1);
	__u64 tat;
	bool ok = setup() && !slots_fill(1, ~0ULL) && send_a(4, want) && read_all() &&
		  expect_keys(0, 1, 0, 0) &&
		  TAP_EXPECT_EQ("over", report.entries[0].bins[LIMITS_BIN_OVER], 1);

	tap_result(ok, "a key in the LRU map: found there, over its burst");

	/* Freed slots: its next packet takes one with its state; the LRU copy stays behind. */
	ok = ok && !slots_fill(0, 0) && send_a(1, want + 4) &&
	     TAP_EXPECT_EQ("the LRU map still holds it", !bpf_map_lookup_elem(H.buckets, &a, &tat),
			   1) &&
	     read_all() && expect_keys(1, 0, 0, 0);
	tap_result(ok, "a key in a slot and in the LRU map is counted once, from its slot");
}

/*
 * A live slot whose record gives another tag back (a key taking it over) is left out
 * and counted; one whose record names a limit of no rule is left out silently.
 */
static void test_unnamed(void)
{
	static const __u32 want[] = { XDP_PASS, XDP_PASS };
	struct sluice_bucket_key a = key_of(1);
	struct sluice_slot_ref ref;
	__u32 i, j;
	bool ok = setup() && send_a(2, want);

	sluice_slot_ref(&a, 128, &ref);
	for (i = 0; i == ref.idx[0] || i == ref.idx[1]; i++)
		;
	for (j = i + 1; j == ref.idx[0] || j == ref.idx[1]; j++)
		;
	recs[i] = key_of(2);
	recs[j] = key_of(3);
	recs[j].limit_id = 7;
	ok = ok && !bpf_map_update_elem(H.slots, &i, &(struct sluice_slot){ 3, ~0ULL }, BPF_ANY) &&
	     !bpf_map_update_elem(H.slots, &j, &(struct sluice_slot){ 5, ~0ULL }, BPF_ANY) &&
	     read_all() && expect_keys(1, 0, 1, 1);
	tap_result(ok, "slots whose record does not match are left out");
}

static void test_rule(void)
{
	int err;
	bool ok;

	limits_free(&report);
	err = limits_read(&H.pins, "rule0", 5, &report);
	ok = TAP_EXPECT_EQ("rule0", err, 0) && TAP_EXPECT_EQ("limits", report.n, 1);

	limits_free(&report);
	err = limits_read(&H.pins, "nope", 5, &report);
	ok = ok && TAP_EXPECT_EQ("an unknown rule", err, -ENOENT);
	tap_result(ok, "a rule by name; an unknown one is -ENOENT");
}

int main(void)
{
	HARNESS_OPEN_OR_SKIP("limits report tests");
	H.pins.fds[PIN_TEXT] = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_text", 4,
					      sizeof(struct sluice_text), 2, NULL);
	recs = mmap(NULL, RECS_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
		    bpf_map__fd(H.skel->maps.sluice_slotkeys), 0);
	tap_result(H.pins.fds[PIN_TEXT] >= 0 && recs != MAP_FAILED,
		   "policy text map made, slot records mapped");
	if (H.pins.fds[PIN_TEXT] < 0 || recs == MAP_FAILED)
		return tap_exit();
	test_slot();
	test_lru();
	test_unnamed();
	test_rule();
	limits_free(&report);
	munmap(recs, RECS_BYTES);
	close(H.pins.fds[PIN_TEXT]);
	harness_close();
	return tap_exit();
}
