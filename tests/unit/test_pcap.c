// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The pcapng blocks of `sluice events -w`, byte for byte as the pcapng draft lays them
 * out (little-endian): the head of a file, and events with and without a comment.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include "pcap.h"

/* 2023-11-14T22:13:20.123456789Z on the wall clock, 1 s on the monotonic one. */
#define MONO_NS 1000000000ULL
#define MONO_TO_REAL_NS (1700000000123456789LL - 1000000000LL)

/* The bytes are strings: sizeof counts their NUL too. */
static void test_head(void **state)
{
	static const char want[] =
		/* Section Header Block, 44 bytes */
		"\x0a\x0d\x0d\x0a\x2c\0\0\0" /* type, length */
		"\x4d\x3c\x2b\x1a\1\0\0\0" /* byte-order magic, version 1.0 */
		"\xff\xff\xff\xff\xff\xff\xff\xff" /* section length unknown */
		"\4\0\6\0sluice\0\0" /* shb_userappl, padded */
		"\0\0\0\0\x2c\0\0\0" /* end of options, length */
		/* Interface Description Block, 20 bytes */
		"\1\0\0\0\x14\0\0\0" /* type, length */
		"\1\0\0\0" /* LINKTYPE_ETHERNET, reserved */
		"\x80\0\0\0\x14\0\0\0"; /* snapshot length 128, length */
	__u8 buf[PCAPNG_HEAD_LEN];

	(void)state;
	assert_int_equal(sizeof(want) - 1, PCAPNG_HEAD_LEN);
	assert_int_equal(pcapng_head(buf), sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
}

static void test_event(void **state)
{
	static const char want[] = "\6\0\0\0\x38\0\0\0" /* type, length 56 */
				   "\0\0\0\0" /* interface 0 */
				   "\x24\x0a\x06\0\x40\x22\x20\x18" /* 1700000000123456 us */
				   "\6\0\0\0\xe8\3\0\0" /* captured 6, original 1000 */
				   "\1\2\3\4\5\6\0\0" /* the head, padded */
				   "\1\0\6\0rule=x\0\0" /* opt_comment, padded */
				   "\0\0\0\0\x38\0\0\0"; /* end of options, length */
	struct sluice_event e = { .time_ns = MONO_NS, .len = 1000, .cap_len = 6 };
	__u8 buf[PCAPNG_EVENT_MAX];

	(void)state;
	memcpy(e.head, "\1\2\3\4\5\6", 6);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(pcapng_event(buf, &e, MONO_TO_REAL_NS, "rule=x"), sizeof(want) - 1);
	assert_memory_equal(buf, want, sizeof(want) - 1);
}

/* No comment, no options; a full head; a cap_len past the cap (the ring is not trusted). */
static void test_event_bare(void **state)
{
	struct sluice_event e = { .time_ns = MONO_NS, .len = 60, .cap_len = 60 };
	__u8 buf[PCAPNG_EVENT_MAX], want[32 + 128];

	(void)state;
	for (int i = 0; i < SLUICE_EVENT_CAP; i++)
		e.head[i] = i + 1;
	assert_int_equal(pcapng_event(buf, &e, MONO_TO_REAL_NS, NULL), 28 + 60 + 4);
	assert_memory_equal(buf, "\6\0\0\0\x5c\0\0\0", 8);
	assert_memory_equal(buf + 20, "\x3c\0\0\0\x3c\0\0\0", 8);
	assert_memory_equal(buf + 28, e.head, 60);
	assert_memory_equal(buf + 88, "\x5c\0\0\0", 4);
	assert_int_equal(pcapng_event(buf, &e, MONO_TO_REAL_NS, ""), 28 + 60 + 4);

	e.len = 1500;
	e.cap_len = 200;
	assert_int_equal(pcapng_event(buf, &e, MONO_TO_REAL_NS, NULL), sizeof(want));
	memcpy(want, "\6\0\0\0\xa0\0\0\0", 8);
	assert_memory_equal(buf, want, 8);
	assert_memory_equal(buf + 20, "\x80\0\0\0\xdc\x05\0\0", 8);
	assert_memory_equal(buf + 28, e.head, 128);
	assert_memory_equal(buf + 156, "\xa0\0\0\0", 4);
}

/* A comment longer than PCAPNG_COMMENT_MAX is cut there; the block still fits. */
static void test_long_comment(void **state)
{
	struct sluice_event e = { .time_ns = MONO_NS, .len = 1000, .cap_len = 128 };
	char comment[PCAPNG_COMMENT_MAX + 50];
	__u8 buf[PCAPNG_EVENT_MAX];

	(void)state;
	memset(comment, 'c', sizeof(comment) - 1);
	comment[sizeof(comment) - 1] = 0;
	assert_int_equal(pcapng_event(buf, &e, MONO_TO_REAL_NS, comment), PCAPNG_EVENT_MAX);
	assert_memory_equal(buf + 28 + 128, "\1\0\0\1", 4); /* opt_comment, 256 bytes */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_event),
		cmocka_unit_test(test_event_bare),
		cmocka_unit_test(test_long_comment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
