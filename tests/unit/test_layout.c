// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Golden vectors for every hash and bit placement that pinned maps depend on: where a
 * key's limiter slots, probation line and LRU bit are, its ban-filter bit, which IPv6
 * filter bit and which IPv4 table word a source reads, and how the list hashes and
 * filter headers are laid out. A controller of one version
 * beside maps filled by another would read them wrongly, so a change to any of these
 * must bump SLUICE_LAYOUT_VERSION: this test fails until the vectors and the version
 * move together.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include "sluice.h"

/* The version these vectors were taken at. */
#define GOLDEN_LAYOUT_VERSION 9

static void test_version(void **state)
{
	(void)state;
	assert_int_equal(SLUICE_LAYOUT_VERSION, GOLDEN_LAYOUT_VERSION);
}

static void test_slot_ref(void **state)
{
	struct sluice_bucket_key v4 = {
		.limit_id = 7,
		.dport = 443,
		.family = SLUICE_FAMILY_IPV4,
		.addr = { 0, 0, htonl(0xffff), htonl(0xc6120001) },
	};
	struct sluice_bucket_key global = { .limit_id = 9 };
	struct sluice_bucket_key v6 = {
		.limit_id = 3,
		.family = SLUICE_FAMILY_IPV6,
		.addr = { htonl(0x20010db8), htonl(0x12345678), 0, 0 },
	};
	struct sluice_slot_ref r;

	(void)state;
	sluice_slot_ref(&v4, 128, &r);
	assert_int_equal(r.tag, 0x04aaf468a44dbf29ULL);
	assert_int_equal(r.idx[0], 482305);
	assert_int_equal(r.idx[1], 1042689);
	sluice_slot_ref(&global, 0, &r);
	assert_int_equal(r.tag, 0x69c5647ca8d7249dULL);
	assert_int_equal(r.idx[0], 256512);
	assert_int_equal(r.idx[1], 342528);
	sluice_slot_ref(&v6, 64, &r);
	assert_int_equal(r.tag, 0x8b6f3996c7c80c33ULL);
	assert_int_equal(r.idx[0], 362360);
	assert_int_equal(r.idx[1], 906360);
	assert_int_equal(sluice_probation_line(&r), 100216);
	assert_int_equal(sluice_probation_lru_bit(r.tag), 25);
}

static void test_filters(void **state)
{
	const __u32 v4[4] = { 0, 0, htonl(0xffff), htonl(0xc6120001) };
	const __u32 v6[4] = { htonl(0x20010db8), htonl(0x12345678), 0, htonl(1) };

	(void)state;
	assert_int_equal(sluice_ban_bit(120, v4), 1922012);
	assert_int_equal(sluice_filter_bit6(v6), 6644079);
	assert_int_equal(sluice_filter_bit6_len(64, v6), 13137722);
	/* 198.18.0.0/24 is /24 number 0xc61200: word 0x63090, bits 0-1. */
	assert_int_equal(sluice_dir_word(0xc61200), 0x63090);
	assert_int_equal(sluice_dir_shift(0xc61200), 0);
	assert_int_equal(sluice_dir_shift(0xc6121f), 62);
	assert_int_equal(sluice_filter_region(1, 1, 1), 7 * SLUICE_FILTER_REGION);
	assert_int_equal(
		sluice_stats_index(1, 2, 3, 4),
		((1 * SLUICE_RULE_SLOTS + 2) * SLUICE_VERDICT_COUNT + 3) * SLUICE_REASON_COUNT + 4);
}

/* The list hash's entry and the filter header's length words (see sluice.h). */
static void test_lists(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct sluice_lpm_key), 20);
	assert_int_equal(sizeof(struct sluice_list_entry), 56);
	assert_int_equal(offsetof(struct sluice_list_entry, sets), 8);
	assert_int_equal(offsetof(struct sluice_list_entry, comment), 16);
	assert_int_equal(sizeof(struct sluice_hosts), 56);
	assert_int_equal(offsetof(struct sluice_filter_header, lengths), 8);
	assert_int_equal(sizeof(struct sluice_state), 32);
	assert_int_equal(offsetof(struct sluice_state, list_capacity), 24);
	assert_int_equal(offsetof(struct sluice_state, flags), 28);
	assert_int_equal(SLUICE_STATE_BAN_FILTER_CHECK, 1);
}

/* The event-seen key: what sluice_evseen's entries mean to a reader of the pinned map. */
static void test_event_seen_key(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct sluice_event_seen_key, reason), 0);
	assert_int_equal(offsetof(struct sluice_event_seen_key, rule), 1);
	assert_int_equal(offsetof(struct sluice_event_seen_key, src), 4);
	assert_int_equal(sizeof(struct sluice_event_seen_key), 20);
	assert_int_equal(SLUICE_EVENT_NO_LIMIT, 0xff);
}

/* The ring's record: what a reader of the pinned sluice_events takes from it. */
static void test_event(void **state)
{
	(void)state;
	assert_int_equal(offsetof(struct sluice_event, len), 54);
	assert_int_equal(offsetof(struct sluice_event, sampled), 56);
	assert_int_equal(offsetof(struct sluice_event, cap_len), 60);
	assert_int_equal(offsetof(struct sluice_event, head), 68);
	assert_int_equal(sizeof(struct sluice_event), 200);
	assert_int_equal(SLUICE_EVENT_CAP, 128);
	assert_int_equal(SLUICE_EVENT_RING_BYTES, 2 << 20);
}

/* The SYN guards in the policy and their counters, as the controller reads them. */
static void test_guards(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct sluice_guard), 48);
	assert_int_equal(offsetof(struct sluice_guard, above), 32);
	assert_int_equal(offsetof(struct sluice_guard, dport), 40);
	assert_int_equal(offsetof(struct sluice_policy, guards),
			 offsetof(struct sluice_policy, nguards) + 8);
	assert_int_equal(offsetof(struct sluice_policy, rules),
			 offsetof(struct sluice_policy, guards) + SLUICE_MAX_GUARDS * 48);
	assert_int_equal(sizeof(struct sluice_policy),
			 offsetof(struct sluice_policy, rules) + SLUICE_MAX_RULES * 216);
	assert_int_equal(offsetof(struct sluice_guard_stats, unanswerable), 32);
	assert_int_equal(offsetof(struct sluice_guard_state, rate), 24);
	assert_int_equal(SLUICE_VERDICT_COOKIE, 4);
	assert_int_equal(SLUICE_REASON_GUARD, 9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),	       cmocka_unit_test(test_slot_ref),
		cmocka_unit_test(test_filters),	       cmocka_unit_test(test_lists),
		cmocka_unit_test(test_event_seen_key), cmocka_unit_test(test_event),
		cmocka_unit_test(test_guards),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
