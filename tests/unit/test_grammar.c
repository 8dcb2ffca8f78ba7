// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The grammar: value parsers, words, rules, list items, compile_rule and policy files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "compile.h"
#include "document.h"

#define UPS SLUICE_UNITS_PER_SEC
#define NS 1000000000ULL

/* Table rows fail with the row's input in the message. */
#define check_str(row, got, want)                                                                  \
	do {                                                                                       \
		if (strcmp((got), (want)))                                                         \
			fail_msg("%s: got \"%s\", want \"%s\"\n", (row), (got), (want));           \
	} while (0)
#define check_int(row, got, want)                                                                  \
	do {                                                                                       \
		unsigned long long got_ = (got), want_ = (want);                                   \
		if (got_ != want_)                                                                 \
			fail_msg("%s: %s is %llu, want %llu\n", (row), #got, got_, want_);         \
	} while (0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A value parser and its printer behind one signature, so that one runner checks every
 * table: good input reads, prints in canonical form, and that form reads back the same.
 */
struct value_kind {
	size_t size;
	int (*parse)(const char *s, void *out, struct parse_error *err);
	void (*format)(const void *value, char *buf, size_t len); /* NULL: no printer */
};

static int prefix_parse(const char *s, void *out, struct parse_error *err)
{
	return parse_prefix(s, out, err);
}

static void prefix_format(const void *value, char *buf, size_t len)
{
	format_prefix(value, buf, len);
}

static int rate_parse(const char *s, void *out, struct parse_error *err)
{
	return parse_rate(s, out, err);
}

static void rate_format(const void *value, char *buf, size_t len)
{
	format_rate(value, buf, len);
}

static int duration_parse(const char *s, void *out, struct parse_error *err)
{
	return parse_duration(s, out, err);
}

static void duration_format(const void *value, char *buf, size_t len)
{
	format_duration(*(const __u64 *)value, buf, len);
}

static int packets_parse(const char *s, void *out, struct parse_error *err)
{
	return parse_burst(s, RATE_PACKETS, out, err);
}

static void packets_format(const void *value, char *buf, size_t len)
{
	format_burst(*(const __u64 *)value, RATE_PACKETS, buf, len);
}

static int bytes_parse(const char *s, void *out, struct parse_error *err)
{
	return parse_burst(s, RATE_BYTES, out, err);
}

static void bytes_format(const void *value, char *buf, size_t len)
{
	format_burst(*(const __u64 *)value, RATE_BYTES, buf, len);
}

static int port_parse(const char *s, void *out, struct parse_error *err)
{
	__u16 *range = out;

	return parse_port_range(s, &range[0], &range[1], err);
}

static const struct value_kind prefix_kind = { sizeof(struct prefix), prefix_parse, prefix_format };
static const struct value_kind rate_kind = { sizeof(struct rate), rate_parse, rate_format };
static const struct value_kind duration_kind = { sizeof(__u64), duration_parse, duration_format };
static const struct value_kind packets_kind = { sizeof(__u64), packets_parse, packets_format };
static const struct value_kind bytes_kind = { sizeof(__u64), bytes_parse, bytes_format };
static const struct value_kind port_kind = { 2 * sizeof(__u16), port_parse, NULL };

/* Parses IN into OUT, checks the canonical form CANONICAL and that it reads back the same. */
static void check_good(const struct value_kind *kind, const char *in, const char *canonical,
		       void *out)
{
	_Alignas(16) unsigned char again[64];
	struct parse_error err = { 0 };
	char buf[64];

	if (kind->parse(in, out, &err))
		fail_msg("%s: %s\n", in, err.msg);
	if (!kind->format)
		return;
	kind->format(out, buf, sizeof(buf));
	check_str(in, buf, canonical);
	memset(again, 0, sizeof(again));
	if (kind->parse(buf, again, &err))
		fail_msg("%s: canonical form %s does not parse: %s\n", in, buf, err.msg);
	if (memcmp(out, again, kind->size))
		fail_msg("%s: does not survive format and parse\n", in);
}

#define RATE_EXPECTED                                                                              \
	"rate: expected NUMBER/s, /m, /h, /d or a byte rate like 10MB/s or 80Mbit/s, got "

#define DURATION_EXPECTED                                                                          \
	"duration: expected NUMBER and unit d, h, m, s or ms, like 30s or 1h30m, got "

/* Every row fails with -EINVAL and exactly its message; value parsers set no column. */
static void test_value_errors(void **state)
{
	static const struct {
		const struct value_kind *kind;
		const char *in, *msg;
	} rows[] = {
		{ &prefix_kind, "",
		  "prefix: expected an IPv4 or IPv6 address or prefix, got \"\"" },
		{ &prefix_kind, "300.1.2.3", "300.1.2.3: not an IPv4 or IPv6 prefix" },
		{ &prefix_kind, "garbage", "garbage: not an IPv4 or IPv6 prefix" },
		{ &prefix_kind, "1.2.3", "1.2.3: not an IPv4 or IPv6 prefix" },
		{ &prefix_kind, " 1.2.3.4", " 1.2.3.4: not an IPv4 or IPv6 prefix" },
		{ &prefix_kind, "/24", "/24: not an IPv4 or IPv6 prefix" },
		{ &prefix_kind, "2001:db8::g", "2001:db8::g: not an IPv4 or IPv6 prefix" },
		{ &prefix_kind, "1.2.3.4\x01", "1.2.3.4\\x01: not an IPv4 or IPv6 prefix" },
		{ &prefix_kind, "192.0.2.1/24",
		  "192.0.2.1/24: host bits set (did you mean 192.0.2.0/24?)" },
		{ &prefix_kind, "2001:db8::1/64",
		  "2001:db8::1/64: host bits set (did you mean 2001:db8::/64?)" },
		{ &prefix_kind, "::ffff:192.0.2.1/120",
		  "::ffff:192.0.2.1/120: host bits set (did you mean 192.0.2.0/24?)" },
		{ &prefix_kind, "192.0.2.0/33", "prefix length 33 out of range for IPv4 (0-32)" },
		{ &prefix_kind, "2001:db8::/129",
		  "prefix length 129 out of range for IPv6 (0-128)" },
		{ &prefix_kind, "10.0.0.0/99999999999999999999999",
		  "prefix length 99999999999999999999999 out of range for IPv4 (0-32)" },
		{ &prefix_kind, "192.0.2.0/",
		  "192.0.2.0/: expected a prefix length after \"/\", got \"\"" },
		{ &prefix_kind, "192.0.2.0/x",
		  "192.0.2.0/x: expected a prefix length after \"/\", got \"x\"" },
		{ &prefix_kind, "192.0.2.0/-1",
		  "192.0.2.0/-1: expected a prefix length after \"/\", got \"-1\"" },
		{ &prefix_kind, "192.0.2.0/24/8",
		  "192.0.2.0/24/8: expected a prefix length after \"/\", got \"24/8\"" },
		{ &rate_kind, "20", RATE_EXPECTED "\"20\"" },
		{ &rate_kind, "", RATE_EXPECTED "\"\"" },
		{ &rate_kind, "abc/s", RATE_EXPECTED "\"abc/s\"" },
		{ &rate_kind, "/s", RATE_EXPECTED "\"/s\"" },
		{ &rate_kind, "-5/s", RATE_EXPECTED "\"-5/s\"" },
		{ &rate_kind, "1.5/s", RATE_EXPECTED "\"1.5/s\"" },
		{ &rate_kind, "20/x", RATE_EXPECTED "\"20/x\"" },
		{ &rate_kind, "20/s/s", RATE_EXPECTED "\"20/s/s\"" },
		{ &rate_kind, "10mb/s", RATE_EXPECTED "\"10mb/s\"" },
		{ &rate_kind, "10Mbps", RATE_EXPECTED "\"10Mbps\"" },
		{ &rate_kind, "10MB/m",
		  "rate: byte and bit rates are per second only, got \"10MB/m\"" },
		{ &rate_kind, "0/s", "rate: must be at least 1, got \"0/s\"" },
		{ &rate_kind, "0MB/s", "rate: must be at least 1, got \"0MB/s\"" },
		{ &rate_kind, "99999999999999999999/s",
		  "rate: \"99999999999999999999/s\" is too large" },
		{ &rate_kind, "18446744073709551615MB/s",
		  "rate: \"18446744073709551615MB/s\" is too large" },
		{ &rate_kind, "18446744073709551615Tbit/s",
		  "rate: \"18446744073709551615Tbit/s\" is too large" },
		{ &rate_kind, "12bit/s",
		  "rate: \"12bit/s\" is not a whole number of bytes per second" },
		{ &rate_kind, "64000000001/s",
		  "rate: \"64000000001/s\" is too high (at most 64000000000 per second)" },
		{ &rate_kind, "3840000000001/m",
		  "rate: \"3840000000001/m\" is too high (at most 64000000000 per second)" },
		{ &duration_kind, "", DURATION_EXPECTED "\"\"" },
		{ &duration_kind, "30", DURATION_EXPECTED "\"30\"" },
		{ &duration_kind, "10x", DURATION_EXPECTED "\"10x\"" },
		{ &duration_kind, "m", DURATION_EXPECTED "\"m\"" },
		{ &duration_kind, "s30", DURATION_EXPECTED "\"s30\"" },
		{ &duration_kind, "-1s", DURATION_EXPECTED "\"-1s\"" },
		{ &duration_kind, "1.5h", DURATION_EXPECTED "\"1.5h\"" },
		{ &duration_kind, "1h30", DURATION_EXPECTED "\"1h30\"" },
		{ &duration_kind, "0s", "duration: must be longer than 0, got \"0s\"" },
		{ &duration_kind, "0h0m", "duration: must be longer than 0, got \"0h0m\"" },
		{ &duration_kind, "1m1h",
		  "duration: units go from largest to smallest, each once, got \"1m1h\"" },
		{ &duration_kind, "1h1h",
		  "duration: units go from largest to smallest, each once, got \"1h1h\"" },
		{ &duration_kind, "99999999999999999999s",
		  "duration: \"99999999999999999999s\" is too long" },
		{ &duration_kind, "213504d", "duration: \"213504d\" is too long" },
		{ &duration_kind, "213503d23h59m59s",
		  "duration: \"213503d23h59m59s\" is too long" },
		{ &packets_kind, "0", "burst: must be at least 1, got \"0\"" },
		{ &packets_kind, "", "burst: expected a number of packets, got \"\"" },
		{ &packets_kind, "1MB", "burst: expected a number of packets, got \"1MB\"" },
		{ &packets_kind, "-1", "burst: expected a number of packets, got \"-1\"" },
		{ &packets_kind, "1.5", "burst: expected a number of packets, got \"1.5\"" },
		{ &packets_kind, "99999999999999999999",
		  "burst: \"99999999999999999999\" is too large" },
		{ &bytes_kind, "0KB", "burst: must be at least 1, got \"0KB\"" },
		{ &bytes_kind, "KB", "burst: expected a size like 1500, 64KB or 1MiB, got \"KB\"" },
		{ &bytes_kind, "1Mbit",
		  "burst: expected a size like 1500, 64KB or 1MiB, got \"1Mbit\"" },
		{ &bytes_kind, "10kb",
		  "burst: expected a size like 1500, 64KB or 1MiB, got \"10kb\"" },
		{ &bytes_kind, "18446744073709551615KB",
		  "burst: \"18446744073709551615KB\" is too large" },
		{ &port_kind, "0", "port 0 out of range (1-65535)" },
		{ &port_kind, "65536", "port 65536 out of range (1-65535)" },
		{ &port_kind, "99999999999999999999",
		  "port 99999999999999999999 out of range (1-65535)" },
		{ &port_kind, "1-70000", "port range 1-70000 out of range (1-65535)" },
		{ &port_kind, "0-0", "port range 0-0 out of range (1-65535)" },
		{ &port_kind, "9000-8000", "port range 9000-8000: 9000 is above 8000" },
		{ &port_kind, "", "port: expected a port 1-65535 or a range LO-HI, got \"\"" },
		{ &port_kind, "http",
		  "port: expected a port 1-65535 or a range LO-HI, got \"http\"" },
		{ &port_kind, "80-",
		  "port: expected a port 1-65535 or a range LO-HI, got \"80-\"" },
		{ &port_kind, "-80",
		  "port: expected a port 1-65535 or a range LO-HI, got \"-80\"" },
		{ &port_kind, "80,443",
		  "port: expected a port 1-65535 or a range LO-HI, got \"80,443\"" },
		{ &port_kind, "1-2-3",
		  "port: expected a port 1-65535 or a range LO-HI, got \"1-2-3\"" },
	};
	_Alignas(16) unsigned char out[64];
	struct parse_error err;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		memset(&err, 0, sizeof(err));
		check_int(rows[i].in, rows[i].kind->parse(rows[i].in, out, &err),
			  (unsigned long long)-EINVAL);
		check_str(rows[i].in, err.msg, rows[i].msg);
		check_int(rows[i].in, err.column, 0);
	}
}

/* ---- prefixes ---- */

static void test_prefix_good(void **state)
{
	static const struct {
		const char *in;
		int family, plen;
		const char *out;
	} rows[] = {
		{ "192.0.2.0/24", 4, 24, "192.0.2.0/24" },
		{ "192.0.2.1", 4, 32, "192.0.2.1" },
		{ "192.0.2.1/32", 4, 32, "192.0.2.1" },
		{ "0.0.0.0/0", 4, 0, "0.0.0.0/0" },
		{ "10.0.0.0/8", 4, 8, "10.0.0.0/8" },
		{ "2001:db8::/32", 6, 32, "2001:db8::/32" },
		{ "2001:DB8:0:0::1", 6, 128, "2001:db8::1" },
		{ "2001:db8::1/128", 6, 128, "2001:db8::1" },
		{ "::/0", 6, 0, "::/0" },
		{ "::1", 6, 128, "::1" },
		{ "::ffff:192.0.2.1", 4, 32, "192.0.2.1" },
		{ "::ffff:192.0.2.0/120", 4, 24, "192.0.2.0/24" },
		{ "::ffff:0:0/96", 4, 0, "0.0.0.0/0" },
	};
	struct parse_error err = { 0 };
	struct prefix p;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		check_good(&prefix_kind, rows[i].in, rows[i].out, &p);
		check_int(rows[i].in, p.family, rows[i].family);
		check_int(rows[i].in, p.plen, rows[i].plen);
	}
	/* IPv4 in the 128-bit form, host bits zero. */
	assert_int_equal(parse_prefix("192.0.2.0/24", &p, &err), 0);
	assert_int_equal(p.addr[0], 0);
	assert_int_equal(p.addr[1], 0);
	assert_int_equal(p.addr[2], htonl(0xffff));
	assert_int_equal(p.addr[3], htonl(0xc0000200));
	assert_int_equal(parse_prefix("2001:db8::/32", &p, &err), 0);
	assert_int_equal(p.addr[0], htonl(0x20010db8));
	assert_int_equal(p.addr[1] | p.addr[2] | p.addr[3], 0);
}

/* ---- rates ---- */

static void test_rate_good(void **state)
{
	static const struct {
		const char *in;
		enum rate_kind kind;
		unsigned long long amount;
		unsigned int period;
		const char *out;
	} rows[] = {
		{ "20/s", RATE_PACKETS, 20, 1, "20/s" },
		{ "1200/m", RATE_PACKETS, 1200, 60, "1200/m" },
		{ "5/h", RATE_PACKETS, 5, 3600, "5/h" },
		{ "1/d", RATE_PACKETS, 1, 86400, "1/d" },
		{ "20/sec", RATE_PACKETS, 20, 1, "20/s" },
		{ "20/second", RATE_PACKETS, 20, 1, "20/s" },
		{ "3/min", RATE_PACKETS, 3, 60, "3/m" },
		{ "3/minute", RATE_PACKETS, 3, 60, "3/m" },
		{ "2/hour", RATE_PACKETS, 2, 3600, "2/h" },
		{ "1/day", RATE_PACKETS, 1, 86400, "1/d" },
		{ "64000000000/s", RATE_PACKETS, 64000000000ULL, 1, "64000000000/s" },
		{ "3840000000000/m", RATE_PACKETS, 3840000000000ULL, 60, "3840000000000/m" },
		{ "1B/s", RATE_BYTES, 1, 1, "1B/s" },
		{ "10MB/s", RATE_BYTES, 10000000, 1, "10MB/s" },
		{ "10MB/sec", RATE_BYTES, 10000000, 1, "10MB/s" },
		{ "3KB/s", RATE_BYTES, 3000, 1, "3KB/s" },
		{ "64KiB/s", RATE_BYTES, 65536, 1, "64KiB/s" },
		{ "5MiB/s", RATE_BYTES, 5 << 20, 1, "5MiB/s" },
		{ "2GiB/s", RATE_BYTES, 2ULL << 30, 1, "2GiB/s" },
		{ "2GB/s", RATE_BYTES, 2000000000, 1, "2GB/s" },
		{ "1TB/s", RATE_BYTES, 1000000000000ULL, 1, "1TB/s" },
		{ "8bit/s", RATE_BITS, 1, 1, "8bit/s" },
		{ "1kbit/s", RATE_BITS, 125, 1, "1kbit/s" },
		{ "80Mbit/s", RATE_BITS, 10000000, 1, "80Mbit/s" },
		{ "1Gbit/s", RATE_BITS, 125000000, 1, "1Gbit/s" },
		{ "1Tbit/s", RATE_BITS, 125000000000ULL, 1, "1Tbit/s" },
	};
	struct rate r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		check_good(&rate_kind, rows[i].in, rows[i].out, &r);
		check_int(rows[i].in, r.kind, rows[i].kind);
		check_int(rows[i].in, r.amount, rows[i].amount);
		check_int(rows[i].in, r.period_s, rows[i].period);
	}
}

/* ---- durations ---- */

static void test_duration_good(void **state)
{
	static const struct {
		const char *in;
		unsigned long long ns;
		const char *out;
	} rows[] = {
		{ "30s", 30 * NS, "30s" },
		{ "10m", 600 * NS, "10m" },
		{ "1h", 3600 * NS, "1h" },
		{ "1d", 86400 * NS, "1d" },
		{ "1h30m", 5400 * NS, "1h30m" },
		{ "1d12h", 129600 * NS, "1d12h" },
		{ "500ms", 500000000, "500ms" },
		{ "90m", 5400 * NS, "1h30m" },
		{ "3600s", 3600 * NS, "1h" },
		{ "1500ms", 1500000000, "1s500ms" },
		{ "1d0h", 86400 * NS, "1d" },
		{ "1d2h3m4s5ms6us7ns", 93784005006007ULL, "1d2h3m4s5ms6us7ns" },
		{ "1ns", 1, "1ns" },
		{ "213503d", 213503ULL * 86400 * NS, "213503d" },
	};
	char buf[16];
	__u64 ns;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		check_good(&duration_kind, rows[i].in, rows[i].out, &ns);
		check_int(rows[i].in, ns, rows[i].ns);
	}
	format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
}

/* ---- bursts ---- */

static void test_burst_good(void **state)
{
	static const struct {
		const char *in;
		const struct value_kind *kind;
		unsigned long long value;
		const char *out;
	} rows[] = {
		{ "40", &packets_kind, 40, "40" },
		{ "1", &packets_kind, 1, "1" },
		{ "1500", &bytes_kind, 1500, "1500B" },
		{ "1500B", &bytes_kind, 1500, "1500B" },
		{ "64KB", &bytes_kind, 64000, "64KB" },
		{ "64KiB", &bytes_kind, 65536, "64KiB" },
		{ "10MB", &bytes_kind, 10000000, "10MB" },
		{ "1MiB", &bytes_kind, 1048576, "1MiB" },
		{ "1024KiB", &bytes_kind, 1048576, "1MiB" },
		{ "2048000", &bytes_kind, 2048000, "2000KiB" },
		{ "1000000B", &bytes_kind, 1000000, "1MB" },
		{ "3GiB", &bytes_kind, 3ULL << 30, "3GiB" },
		{ "2TB", &bytes_kind, 2000000000000ULL, "2TB" },
	};
	struct parse_error err = { 0 };
	__u64 value;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		check_good(rows[i].kind, rows[i].in, rows[i].out, &value);
		check_int(rows[i].in, value, rows[i].value);
	}
	/* Bit rates take their burst in bytes too. */
	assert_int_equal(parse_burst("64KB", RATE_BITS, &value, &err), 0);
	assert_int_equal(value, 64000);
}

/* ---- ports and comments ---- */

static void test_port_range(void **state)
{
	static const struct {
		const char *in;
		unsigned int lo, hi;
	} good[] = {
		{ "443", 443, 443 },	     { "1", 1, 1 },	      { "65535", 65535, 65535 },
		{ "8000-8999", 8000, 8999 }, { "1-65535", 1, 65535 }, { "53-53", 53, 53 },
	};
	__u16 range[2];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		check_good(&port_kind, good[i].in, NULL, range);
		check_int(good[i].in, range[0], good[i].lo);
		check_int(good[i].in, range[1], good[i].hi);
	}
}

static void test_comment(void **state)
{
	char out[SLUICE_COMMENT_LEN], want[SLUICE_COMMENT_LEN] = "abuse";
	char longest[SLUICE_COMMENT_LEN], too_long[SLUICE_COMMENT_LEN + 1];
	struct parse_error err = { 0 };

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_int_equal(parse_comment("abuse", out, &err), 0);
	assert_memory_equal(out, want, sizeof(out)); /* NUL-padded */
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_int_equal(parse_comment(longest, out, &err), 0);
	assert_string_equal(out, longest);
	memset(too_long, 'a', sizeof(too_long) - 1);
	too_long[sizeof(too_long) - 1] = '\0';
	assert_int_equal(parse_comment(too_long, out, &err), -EINVAL);
	assert_string_equal(err.msg, "comment: at most 39 bytes, got 40 in "
				     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"");
	assert_int_equal(parse_comment("bell\a", out, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "comment: only printable ASCII, got byte 0x07 in \"bell\\x07\"");
	assert_int_equal(parse_comment("caf\xc3\xa9", out, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "comment: only printable ASCII, got byte 0xc3 in \"caf\\xc3\\xa9\"");
}

/* ---- words ---- */

static void test_tokenize(void **state)
{
	static const struct {
		const char *in;
		int n;
		const char *words[6];
		unsigned int columns[6];
	} rows[] = {
		{ "rule add  x tcp", 4, { "rule", "add", "x", "tcp" }, { 1, 6, 11, 13 } },
		{ "block add 1.2.3.4 comment \"two words\" # trailing",
		  5,
		  { "block", "add", "1.2.3.4", "comment", "two words" },
		  { 1, 7, 11, 19, 27 } },
		{ "a \"b \\\"c\\\" \\\\d\" e", 3, { "a", "b \"c\" \\d", "e" }, { 1, 3, 17 } },
		{ "x#y #z", 1, { "x#y" }, { 1 } },
		{ "# full comment", 0, { NULL }, { 0 } },
		{ "   ", 0, { NULL }, { 0 } },
		{ "", 0, { NULL }, { 0 } },
		{ "\"\" a", 2, { "", "a" }, { 1, 4 } },
		{ "\ta\tb\r\n", 2, { "a", "b" }, { 2, 4 } },
		{ "pre\"fix q\"post", 1, { "prefix qpost" }, { 1 } },
		{ "back\\slash", 1, { "back\\slash" }, { 1 } },
	};
	char line[128], *words[8];
	unsigned int columns[8];
	struct parse_error err = { 0 };
	size_t i;
	int n, k;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		snprintf(line, sizeof(line), "%s", rows[i].in);
		n = tokenize(line, words, columns, 8, &err);
		check_int(rows[i].in, n, rows[i].n);
		for (k = 0; k < n; k++) {
			check_str(rows[i].in, words[k], rows[i].words[k]);
			check_int(rows[i].in, columns[k], rows[i].columns[k]);
		}
	}

	snprintf(line, sizeof(line), "a \"bc");
	assert_int_equal(tokenize(line, words, columns, 8, &err), -EINVAL);
	assert_int_equal(err.column, 3);
	assert_string_equal(err.msg,
			    "unterminated quote: no closing \" before the end of the line");

	snprintf(line, sizeof(line), "a b c");
	assert_int_equal(tokenize(line, words, columns, 2, &err), -EINVAL);
	assert_int_equal(err.column, 5);
	assert_string_equal(err.msg, "too many words (at most 2)");
	snprintf(line, sizeof(line), "a b # c d e");
	assert_int_equal(tokenize(line, words, NULL, 2, &err), 2);
}

/* ---- rules ---- */

/* Tokenizes a whole `rule add ...` line and parses the words after `rule add`. */
static int rule_from_line(const char *text, struct rule_spec *spec, struct parse_error *err,
			  unsigned int *columns)
{
	char line[GRAMMAR_LINE_MAX], *words[GRAMMAR_MAX_TOKENS];
	int n;

	memset(err, 0, sizeof(*err));
	snprintf(line, sizeof(line), "%s", text);
	n = tokenize(line, words, columns, GRAMMAR_MAX_TOKENS, err);
	if (n < 2 || strcmp(words[0], "rule") || strcmp(words[1], "add"))
		fail_msg("%s: not a `rule add` line\n", text);
	return parse_rule(words + 2, columns + 2, n - 2, spec, err);
}

/* A spec as its canonical line reads back: format always writes the burst. */
static void burst_written(struct rule_spec *spec)
{
	unsigned int k;

	for (k = 0; k < spec->nlimits; k++)
		spec->limits[k].burst_given = true;
}

static void test_rule_good(void **state)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{ "rule add web tcp dport 443 limit src/24 rate 20/s burst 40",
		  "rule add web tcp dport 443 limit src/24 src6/64 rate 20/s burst 40 action drop" },
		{ "rule add syn-flood syn limit global rate 1000/s",
		  "rule add syn-flood tcp syn limit global rate 1000/s burst 1000 action drop" },
		{ "rule add dns udp dport 53 dst 192.0.2.0/24 limit src/32 dport rate 1200/m action ban 10m",
		  "rule add dns ip udp dport 53 dst 192.0.2.0/24 limit src/32 src6/64 dport rate 1200/m burst 20 action ban 10m" },
		{ "rule add acl ip6 icmp action pass", "rule add acl ip6 icmp action pass" },
		{ "rule add bytes limit src6/48 rate 1Gbit/s burst 10MB action monitor",
		  "rule add bytes limit src/32 src6/48 rate 1Gbit/s burst 10MB action monitor" },
		{ "rule add four limit global rate 1/s limit src/8 rate 2/m limit src/16 rate 3/h limit src6/56 rate 10MB/s",
		  "rule add four limit global rate 1/s burst 1 limit src/8 src6/64 rate 2/m burst 1 limit src/16 src6/64 rate 3/h burst 1 limit src/32 src6/56 rate 10MB/s burst 10MB action drop" },
		{ "rule add any", "rule add any action drop" },
		{ "rule add r dport 8000-8999 udp", "rule add r udp dport 8000-8999 action drop" },
		{ "rule add v6 dst 2001:db8::/32 action monitor",
		  "rule add v6 ip6 dst 2001:db8::/32 action monitor" },
		{ "rule add a.b_c-1 action ban 1h30m limit src/24 rate 90/m",
		  "rule add a.b_c-1 limit src/24 src6/64 rate 90/m burst 2 action ban 1h30m" },
		{ "rule add q limit src/24 rate 64KiB/s",
		  "rule add q limit src/24 src6/64 rate 64KiB/s burst 64KiB action drop" },
		{ "rule add big tcp limit src/24 dport rate 100Mbit/s burst 1500",
		  "rule add big tcp limit src/24 src6/64 dport rate 100Mbit/s burst 1500B action drop" },
		{ "rule add shared udp dport 53 limit src/32 rate 100/s burst 300 fleet action ban 1h",
		  "rule add shared udp dport 53 limit src/32 src6/64 rate 100/s burst 300 fleet action ban 1h" },
		{ "rule add two limit global rate 1/s fleet limit src/24 rate 10MB/s",
		  "rule add two limit global rate 1/s burst 1 fleet limit src/24 src6/64 rate 10MB/s burst 10MB action drop" },
		{ "rule add noted comment \"ticket \\\"42\\\"\" tcp dport 22 action pass",
		  "rule add noted tcp dport 22 action pass comment \"ticket \\\"42\\\"\"" },
	};
	struct rule_spec spec, again;
	struct parse_error err;
	unsigned int columns[GRAMMAR_MAX_TOKENS];
	char buf[GRAMMAR_LINE_MAX], buf2[GRAMMAR_LINE_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		if (rule_from_line(rows[i].in, &spec, &err, columns))
			fail_msg("%s: %s\n", rows[i].in, err.msg);
		format_rule(&spec, buf, sizeof(buf));
		check_str(rows[i].in, buf, rows[i].out);
		if (rule_from_line(buf, &again, &err, columns))
			fail_msg("%s: canonical form does not parse: %s\n", buf, err.msg);
		burst_written(&spec);
		if (memcmp(&spec, &again, sizeof(spec)))
			fail_msg("%s: does not survive format and parse\n", rows[i].in);
		format_rule(&again, buf2, sizeof(buf2));
		check_str(rows[i].in, buf2, buf);
	}

	/* The fields of one rule. */
	assert_int_equal(rule_from_line(rows[0].in, &spec, &err, columns), 0);
	assert_string_equal(spec.name, "web");
	assert_int_equal(spec.family, SLUICE_FAMILY_ANY);
	assert_int_equal(spec.proto, SLUICE_PROTO_TCP);
	assert_true(spec.has_dport);
	assert_int_equal(spec.dport_lo, 443);
	assert_int_equal(spec.dport_hi, 443);
	assert_false(spec.syn);
	assert_false(spec.has_dst);
	assert_int_equal(spec.nlimits, 1);
	assert_int_equal(spec.limits[0].key, SLUICE_KEY_SRC);
	assert_int_equal(spec.limits[0].prefix4, 24);
	assert_int_equal(spec.limits[0].prefix6, 64);
	assert_false(spec.limits[0].dport);
	assert_int_equal(spec.limits[0].burst, 40);
	assert_true(spec.limits[0].burst_given);
	assert_int_equal(spec.action, SLUICE_ACTION_DROP);

	/* Defaults: burst one second of rate, global keys at full length. */
	assert_int_equal(rule_from_line(rows[1].in, &spec, &err, columns), 0);
	assert_int_equal(spec.limits[0].key, SLUICE_KEY_GLOBAL);
	assert_int_equal(spec.limits[0].prefix4, 32);
	assert_int_equal(spec.limits[0].prefix6, 128);
	assert_int_equal(spec.limits[0].burst, 1000);
	assert_false(spec.limits[0].burst_given);
	assert_true(spec.syn);

	/* A 31-character name is the longest. */
	assert_int_equal(
		rule_from_line("rule add ABCDEFGHIJKLMNOPQRSTUVWXYZ01234", &spec, &err, columns),
		0);
	assert_string_equal(spec.name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234");
}

static void test_rule_bad(void **state)
{
	static const struct {
		const char *in;
		int word; /* index of the word the column points at; -1 for column 0 */
		const char *msg;
	} rows[] = {
		{ "rule add web tcp limit src/24 rate 20", 7, RATE_EXPECTED "\"20\"" },
		{ "rule add x dport 80", 3,
		  "dport: needs tcp or udp in the rule, got no protocol" },
		{ "rule add x icmp dport 80", 4, "dport: needs tcp or udp in the rule, got icmp" },
		{ "rule add x dport", 3, "dport: expected PORT or LO-HI, got the end of the line" },
		{ "rule add x tcp dport 0", 5, "port 0 out of range (1-65535)" },
		{ "rule add x udp syn", 4, "syn: matches TCP SYN packets, but the rule is udp" },
		{ "rule add x icmp syn", 4, "syn: matches TCP SYN packets, but the rule is icmp" },
		{ "rule add x limit global src/24 rate 1/s", 4,
		  "global: one bucket for the whole rule, so no src/N, src6/N or dport with it" },
		{ "rule add x tcp limit src/24 dport global rate 1/s", 7,
		  "global: one bucket for the whole rule, so no src/N, src6/N or dport with it" },
		{ "rule add x limit global dport rate 1/s", 4,
		  "global: one bucket for the whole rule, so no src/N, src6/N or dport with it" },
		{ "rule add x limit global rate 1/s limit global rate 2/s limit global rate 3/s "
		  "limit global rate 4/s limit global rate 5/s",
		  19, "limit: at most 4 limits per rule" },
		{ "rule add x tcp tcp", 4, "tcp: only one protocol (tcp, udp or icmp) per rule" },
		{ "rule add x tcp udp", 4, "udp: only one protocol (tcp, udp or icmp) per rule" },
		{ "rule add x ip ip6", 4, "ip6: only one family (ip or ip6) per rule" },
		{ "rule add x syn syn", 4, "syn: only one syn per rule" },
		{ "rule add x tcp dport 1 dport 2", 6, "dport: only one dport per rule" },
		{ "rule add x dst 10.0.0.0/8 dst 10.0.0.0/8", 5, "dst: only one dst per rule" },
		{ "rule add x action drop action pass", 5, "action: only one action per rule" },
		{ "rule add x action ban 10m", 3,
		  "action ban: needs at least one limit, got none" },
		{ "rule add x limit rate 1/s", 4,
		  "limit: expected src/N, src6/N, dport or global, got \"rate\"" },
		{ "rule add x limit", 3,
		  "limit: expected src/N, src6/N, dport or global, got the end of the line" },
		{ "rule add x limit src/33 rate 1/s", 4,
		  "prefix length 33 out of range for IPv4 (1-32)" },
		{ "rule add x limit src/0 rate 1/s", 4,
		  "prefix length 0 out of range for IPv4 (1-32)" },
		{ "rule add x limit src6/0 rate 1/s", 4,
		  "prefix length 0 out of range for IPv6 (1-128)" },
		{ "rule add x limit src6/129 rate 1/s", 4,
		  "prefix length 129 out of range for IPv6 (1-128)" },
		{ "rule add x limit src/abc rate 1/s", 4,
		  "limit: expected src/N or src6/N with a prefix length N, got \"src/abc\"" },
		{ "rule add x limit src/24 src/16 rate 1/s", 5,
		  "src/16: only one src/N per limit" },
		{ "rule add x limit dport rate 1/s", 4,
		  "dport: a limit keyed by dport needs tcp or udp in the rule, got no protocol" },
		{ "rule add x limit src/24", 3,
		  "limit: expected rate RATE, got the end of the line" },
		{ "rule add x limit src/24 burst 5", 5,
		  "limit: expected rate RATE, got \"burst\"" },
		{ "rule add x limit src/24 rate", 5,
		  "rate: expected RATE like 20/s or 10Mbit/s, got the end of the line" },
		{ "rule add x limit src/24 rate 0/s", 6, "rate: must be at least 1, got \"0/s\"" },
		{ "rule add x limit src/24 rate 1/s burst", 7,
		  "burst: expected a number of packets, got the end of the line" },
		{ "rule add x limit src/24 rate 1/s burst 1MB", 8,
		  "burst: expected a number of packets, got \"1MB\"" },
		{ "rule add x limit src/24 rate 100GB/s burst 1", 8,
		  "burst: 1B is too small for rate 100GB/s" },
		{ "rule add x limit src/24 rate 1B/s burst 1TB", 8,
		  "burst: 1TB is too large for rate 1B/s (at most a year of the rate)" },
		{ "rule add x limit src/24 rate 1/d burst 18446744073709551615", 8,
		  "burst: 18446744073709551615 is too large for rate 1/d (at most a year of the rate)" },
		{ "rule add x limit src/24 rate 1/d burst 366", 8,
		  "burst: 366 is too large for rate 1/d (at most a year of the rate)" },
		{ "rule add x limit src/24 rate 1B/s burst 31536001B", 8,
		  "burst: 31536001B is too large for rate 1B/s (at most a year of the rate)" },
		{ "rule add x ip dst 2001:db8::/32", 5,
		  "dst 2001:db8::/32: an IPv6 prefix in an ip rule" },
		{ "rule add x dst 192.0.2.0/24 ip6", 4,
		  "dst 192.0.2.0/24: an IPv4 prefix in an ip6 rule" },
		{ "rule add x dst 192.0.2.1/24", 4,
		  "192.0.2.1/24: host bits set (did you mean 192.0.2.0/24?)" },
		{ "rule add bad!name", 2,
		  "rule: expected a NAME of letters, digits, _ . or - (at most 31), got \"bad!name\"" },
		/* A leading '-' would read as an option on the command line. */
		{ "rule add -web tcp", 2,
		  "rule: expected a NAME of letters, digits, _ . or - (at most 31), got \"-web\"" },
		{ "rule add ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", 2,
		  "rule: expected a NAME of letters, digits, _ . or - (at most 31), got "
		  "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345\"" },
		{ "rule add", -1, "rule: expected NAME, got the end of the line" },
		{ "rule add x comment a comment b", 5, "comment: only one comment per rule" },
		{ "rule add x comment", 3, "comment: expected TEXT, got the end of the line" },
		{ "rule add x foo", 3,
		  "rule: expected ip, ip6, tcp, udp, icmp, dport, syn, dst, limit, action or comment, got \"foo\"" },
		{ "rule add x action", 3,
		  "action: expected drop, pass, monitor or ban DURATION, got the end of the line" },
		{ "rule add x action kill", 4,
		  "action: expected drop, pass, monitor or ban DURATION, got \"kill\"" },
		{ "rule add x limit src/24 rate 1/s action ban", 8,
		  "ban: expected DURATION like 10m, got the end of the line" },
		{ "rule add x limit src/24 rate 1/s action ban 0s", 9,
		  "duration: must be longer than 0, got \"0s\"" },
	};
	unsigned int columns[GRAMMAR_MAX_TOKENS];
	struct parse_error err;
	struct rule_spec spec;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		check_int(rows[i].in, rule_from_line(rows[i].in, &spec, &err, columns),
			  (unsigned long long)-EINVAL);
		check_str(rows[i].in, err.msg, rows[i].msg);
		check_int(rows[i].in, err.column, rows[i].word < 0 ? 0 : columns[rows[i].word]);
	}
	/* The column of the bad rate, counted by hand. */
	assert_int_equal(rule_from_line(rows[0].in, &spec, &err, columns), -EINVAL);
	assert_int_equal(err.column, 36);

	/* Without columns, errors have column 0. */
	{
		char *words[] = { "x", "limit", "src/24", "rate", "20" };

		err.column = 99;
		assert_int_equal(parse_rule(words, NULL, 5, &spec, &err), -EINVAL);
		assert_int_equal(err.column, 0);
		assert_string_equal(err.msg, RATE_EXPECTED "\"20\"");
	}
}

/* ---- compile_rule ---- */

static void compile_line(const char *text, struct sluice_rule *out)
{
	unsigned int columns[GRAMMAR_MAX_TOKENS];
	struct parse_error err;
	struct rule_spec spec;

	if (rule_from_line(text, &spec, &err, columns))
		fail_msg("%s: %s\n", text, err.msg);
	if (compile_rule(&spec, out, &err))
		fail_msg("%s: %s\n", text, err.msg);
}

static void test_compile_rule(void **state)
{
	struct sluice_rule r;
	const struct sluice_limit *l = &r.limits[0];
	struct parse_error err = { 0 };
	struct rule_spec spec;
	unsigned int i;

	(void)state;
	compile_line(
		"rule add a tcp dport 80-90 syn dst 192.0.2.0/24 limit src/24 rate 20/s burst 40 action ban 1h",
		&r);
	assert_int_equal(r.family, SLUICE_FAMILY_IPV4);
	assert_int_equal(r.proto, SLUICE_PROTO_TCP);
	assert_int_equal(r.flags, SLUICE_RULE_SYN | SLUICE_RULE_DPORT | SLUICE_RULE_DST);
	assert_int_equal(r.dport_lo, 80);
	assert_int_equal(r.dport_hi, 90);
	assert_int_equal(r.dst_addr[0], 0);
	assert_int_equal(r.dst_addr[1], 0);
	assert_int_equal(r.dst_addr[2], htonl(0xffff));
	assert_int_equal(r.dst_addr[3], htonl(0xc0000200));
	assert_int_equal(r.dst_mask[0], 0xffffffff);
	assert_int_equal(r.dst_mask[1], 0xffffffff);
	assert_int_equal(r.dst_mask[2], 0xffffffff);
	assert_int_equal(r.dst_mask[3], htonl(0xffffff00));
	assert_int_equal(r.action, SLUICE_ACTION_BAN);
	assert_int_equal(r.ban_ns, 3600 * NS);
	assert_int_equal(r.nlimits, 1);
	assert_int_equal(r.stat_slot, 0);
	assert_string_equal(r.name, "a");
	assert_int_equal(l->key, SLUICE_KEY_SRC);
	assert_int_equal(l->prefix4, 24);
	assert_int_equal(l->prefix6, 64);
	assert_int_equal(l->flags, 0);
	assert_int_equal(l->interval, UPS / 20);
	assert_int_equal(l->tolerance, 40 * (UPS / 20));
	assert_int_equal(l->byte_rate, 0);
	assert_int_equal(l->id, 0);

	/* A year of the rate is the largest tolerance (SLUICE_MAX_TOLERANCE), and taken. */
	compile_line("rule add y limit src/24 rate 1/d burst 365", &r);
	assert_int_equal(l->tolerance, SLUICE_MAX_TOLERANCE);
	compile_line("rule add y limit src/24 rate 1B/s burst 31536000B", &r);
	assert_int_equal(l->tolerance, SLUICE_MAX_TOLERANCE);

	compile_line("rule add b limit global rate 1Gbit/s burst 10MB", &r);
	assert_int_equal(r.family, SLUICE_FAMILY_ANY);
	assert_int_equal(r.proto, SLUICE_PROTO_ANY);
	assert_int_equal(r.flags, 0);
	assert_int_equal(r.action, SLUICE_ACTION_DROP);
	assert_int_equal(r.ban_ns, 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(r.dst_addr[i] | r.dst_mask[i], 0);
	assert_int_equal(l->key, SLUICE_KEY_GLOBAL);
	assert_int_equal(l->prefix4, 32);
	assert_int_equal(l->prefix6, 128);
	assert_int_equal(l->flags, SLUICE_LIMIT_BYTES);
	assert_int_equal(l->byte_rate, 125000000);
	assert_int_equal(l->interval, 0);
	assert_int_equal(l->tolerance, 10000000ULL * UPS / 125000000);
	assert_int_equal(l->tolerance, 5120000000ULL);

	compile_line("rule add c ip6 udp dst 2001:db8::/32 limit src6/48 dport rate 1200/m "
		     "limit src/16 rate 64KiB/s",
		     &r);
	assert_int_equal(r.family, SLUICE_FAMILY_IPV6);
	assert_int_equal(r.proto, SLUICE_PROTO_UDP);
	assert_int_equal(r.flags, SLUICE_RULE_DST);
	assert_int_equal(r.dst_addr[0], htonl(0x20010db8));
	assert_int_equal(r.dst_mask[0], 0xffffffff);
	assert_int_equal(r.dst_mask[1] | r.dst_mask[2] | r.dst_mask[3], 0);
	assert_int_equal(r.nlimits, 2);
	assert_int_equal(l->flags, SLUICE_LIMIT_DPORT);
	assert_int_equal(l->prefix4, 32);
	assert_int_equal(l->prefix6, 48);
	assert_int_equal(l->interval, 60 * UPS / 1200);
	assert_int_equal(l->tolerance, 20 * (60 * UPS / 1200)); /* default burst: 20 a second */
	assert_int_equal(r.limits[1].flags, SLUICE_LIMIT_BYTES);
	assert_int_equal(r.limits[1].byte_rate, 65536);
	assert_int_equal(r.limits[1].tolerance, UPS); /* default burst: one second */
	assert_int_equal(r.limits[1].prefix4, 16);

	/* An IPv4 dst of length 0 still matches only IPv4: the mask covers the mapped /96. */
	compile_line("rule add d dst 0.0.0.0/0", &r);
	assert_int_equal(r.dst_mask[0] & r.dst_mask[1] & r.dst_mask[2], 0xffffffff);
	assert_int_equal(r.dst_mask[3], 0);

	/* Specs built by hand get the same checks. */
	assert_int_equal(rule_from_line("rule add e limit src/24 rate 20/s", &spec, &err,
					(unsigned int[GRAMMAR_MAX_TOKENS]){ 0 }),
			 0);
	spec.nlimits = 5;
	assert_int_equal(compile_rule(&spec, &r, &err), -EINVAL);
	assert_string_equal(err.msg, "rule e: 5 limits, at most 4");
	spec.nlimits = 1;
	spec.limits[0].rate.amount = 100000000000ULL;
	spec.limits[0].rate.display = 100000000000ULL;
	assert_int_equal(compile_rule(&spec, &r, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "rate: 100000000000/s is too high (at most 64000000000 per second)");
	spec.limits[0].rate.amount = 0;
	spec.limits[0].rate.display = 0;
	assert_int_equal(compile_rule(&spec, &r, &err), -EINVAL);
	assert_string_equal(err.msg, "rate: must be at least 1, got 0/s");
	spec.limits[0].rate.amount = 20;
	spec.limits[0].rate.display = 20;
	spec.limits[0].burst_given = true;
	spec.limits[0].burst = 0;
	assert_int_equal(compile_rule(&spec, &r, &err), -EINVAL);
	assert_string_equal(err.msg, "burst: must be at least 1, got 0");
	/* Without a burst of its own, a limit gets one second of its rate, as it is now. */
	spec.limits[0].burst_given = false;
	spec.limits[0].rate.amount = 50;
	spec.limits[0].rate.display = 50;
	assert_int_equal(compile_rule(&spec, &r, &err), 0);
	assert_int_equal(l->interval, UPS / 50);
	assert_int_equal(l->tolerance, 50 * (UPS / 50));
}

/* ---- list items ---- */

static int item_from_line(const char *text, struct list_item *item, struct parse_error *err,
			  unsigned int *columns)
{
	/* The item's set points into the line: two lines live at once, for parse and reparse. */
	static char lines[2][GRAMMAR_LINE_MAX];
	static unsigned int next;
	char *line = lines[next++ % 2], *words[GRAMMAR_MAX_TOKENS];
	int n;

	memset(err, 0, sizeof(*err));
	snprintf(line, GRAMMAR_LINE_MAX, "%s", text);
	n = tokenize(line, words, columns, GRAMMAR_MAX_TOKENS, err);
	if (n < 2 || strcmp(words[1], "add"))
		fail_msg("%s: not an `add` line\n", text);
	return parse_list_item(words[0][0] == 'a' ? LIST_ALLOW : LIST_BLOCK, words + 2, columns + 2,
			       n - 2, item, err);
}

static void test_list_item(void **state)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "block add 198.51.100.0/24 ttl 1h comment abuse",
		  "block add 198.51.100.0/24 ttl 1h comment \"abuse\"" },
		{ "allow add 2001:db8::1", "allow add 2001:db8::1" },
		{ "allow add 192.0.2.7/32 comment \"monitoring host\" ttl 90m",
		  "allow add 192.0.2.7 ttl 1h30m comment \"monitoring host\"" },
		{ "block add 10.0.0.0/8 comment \"say \\\"hi\\\" \\\\o/ #1\"",
		  "block add 10.0.0.0/8 comment \"say \\\"hi\\\" \\\\o/ #1\"" },
		{ "block add 10.0.0.0/8 comment \"\"", "block add 10.0.0.0/8" },
		{ "block add 192.0.2.0/24 set drop-v4 ttl 1h",
		  "block add 192.0.2.0/24 ttl 1h set drop-v4" },
		{ "allow add 2001:db8::/32 set partners comment x",
		  "allow add 2001:db8::/32 comment \"x\" set partners" },
	};
	static const struct {
		const char *in;
		int word;
		const char *msg;
	} bad[] = {
		{ "block add", -1,
		  "expected PREFIX [ttl DURATION] [comment TEXT] [set NAME], got the end of the line" },
		{ "block add 300.1.2.3", 2, "300.1.2.3: not an IPv4 or IPv6 prefix" },
		{ "block add 1.2.3.4 ttl", 3,
		  "ttl: expected DURATION like 1h, got the end of the line" },
		{ "block add 1.2.3.4 ttl 1x", 4,
		  "duration: expected NUMBER and unit d, h, m, s or ms, like 30s or 1h30m, got \"1x\"" },
		{ "block add 1.2.3.4 ttl 1h ttl 2h", 5, "ttl: only one ttl per item" },
		{ "block add 1.2.3.4 comment a comment b", 5,
		  "comment: only one comment per item" },
		{ "block add 1.2.3.4 comment", 3,
		  "comment: expected TEXT, got the end of the line" },
		{ "block add 1.2.3.4 comment \"0123456789012345678901234567890123456789\"", 4,
		  "comment: at most 39 bytes, got 40 in \"0123456789012345678901234567890123456789\"" },
		{ "block add 1.2.3.4 set a set b", 5, "set: only one set per item" },
		{ "block add 1.2.3.4 set", 3, "set: expected a set NAME, got the end of the line" },
		{ "block add 1.2.3.4 set bad/name", 4,
		  "set: expected a NAME of letters, digits, _ . or - (at most 31), got \"bad/name\"" },
		{ "block add 1.2.3.4 set -feed", 4,
		  "set: expected a NAME of letters, digits, _ . or - (at most 31), got \"-feed\"" },
		{ "block add 1.2.3.4 expires 1h", 3,
		  "expected ttl DURATION, comment TEXT or set NAME after the prefix, got \"expires\"" },
	};
	unsigned int columns[GRAMMAR_MAX_TOKENS];
	struct list_item item, again;
	struct parse_error err;
	char buf[GRAMMAR_LINE_MAX];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(good); i++) {
		if (item_from_line(good[i].in, &item, &err, columns))
			fail_msg("%s: %s\n", good[i].in, err.msg);
		format_list_item(&item, buf, sizeof(buf));
		check_str(good[i].in, buf, good[i].out);
		if (item_from_line(buf, &again, &err, columns))
			fail_msg("%s: canonical form does not parse: %s\n", buf, err.msg);
		/* The set names point into each line's own words: compared as strings. */
		if (!item.set != !again.set || (item.set && strcmp(item.set, again.set)))
			fail_msg("%s: the set does not survive format and parse\n", good[i].in);
		item.set = again.set = NULL;
		if (memcmp(&item, &again, sizeof(item)))
			fail_msg("%s: does not survive format and parse\n", good[i].in);
	}
	assert_int_equal(item_from_line(good[0].in, &item, &err, columns), 0);
	assert_int_equal(item.kind, LIST_BLOCK);
	assert_int_equal(item.ttl_ns, 3600 * NS);
	assert_string_equal(item.comment, "abuse");
	assert_int_equal(item.prefix.plen, 24);
	assert_int_equal(item_from_line(good[3].in, &item, &err, columns), 0);
	assert_string_equal(item.comment, "say \"hi\" \\o/ #1");

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		check_int(bad[i].in, item_from_line(bad[i].in, &item, &err, columns),
			  (unsigned long long)-EINVAL);
		check_str(bad[i].in, err.msg, bad[i].msg);
		check_int(bad[i].in, err.column, bad[i].word < 0 ? 0 : columns[bad[i].word]);
	}
}

/* ---- policy lines, files and output ---- */

static int parse_line_text(struct policy_doc *doc, const char *text, struct parse_error *err)
{
	char line[GRAMMAR_LINE_MAX];

	memset(err, 0, sizeof(*err));
	snprintf(line, sizeof(line), "%s", text);
	return policy_parse_line(doc, line, err);
}

static void test_policy_line(void **state)
{
	static const struct {
		const char *in;
		unsigned int column;
		const char *msg;
	} bad[] = {
		{ "delete x", 1,
		  "delete: only `allow add`, `block add`, `rule add`, `guard` and `set` lines belong in a policy file" },
		{ "rule del x", 1,
		  "rule del: only `allow add`, `block add`, `rule add`, `guard` and `set` lines belong in a policy file" },
		{ "  allow", 3,
		  "allow: only `allow add`, `block add`, `rule add`, `guard` and `set` lines belong in a policy file" },
		{ "set malformed maybe", 15,
		  "set: expected malformed pass|drop or events ..., got \"maybe\"" },
		{ "set malformed", 5,
		  "set: expected malformed pass|drop or events ..., got the end of the line" },
		{ "set malformed drop now", 20,
		  "set: expected malformed pass|drop or events ..., got \"now\"" },
		{ "set", 1,
		  "set: expected malformed pass|drop or events ..., got the end of the line" },
		{ "set ttl 1h", 5, "set: expected malformed pass|drop or events ..., got \"ttl\"" },
		{ "set events", 5,
		  "set events: expected off, or period DURATION, sample N and ceiling N, got the end of the line" },
		{ "set events often", 12,
		  "set events: expected off, or period DURATION, sample N and ceiling N, got \"often\"" },
		{ "set events rate 5", 12,
		  "set events: expected period, sample or ceiling, got \"rate\"" },
		{ "set events sample 0", 19,
		  "sample: expected a whole number from 1 to 1000000, got \"0\"" },
		{ "set events ceiling 5 period", 22, "set events: period needs a value" },
		{ "rule add p udp limit src/32 rate 5/s action pass", 38,
		  "action pass: a rule with limits takes drop, monitor or ban DURATION" },
		{ "rule add", 6, "rule: expected NAME, got the end of the line" },
		{ "rule add none udp", 10,
		  "rule: the name \"none\" is reserved for packets no rule decided" },
		{ "block add", 7,
		  "expected PREFIX [ttl DURATION] [comment TEXT] [set NAME], got the end of the line" },
		{ "rule add web tcp", 10, "rule web: already defined" },
		{ "block add 1.2.3.4 comment \"x", 27,
		  "unterminated quote: no closing \" before the end of the line" },
	};
	struct parse_error err;
	struct policy_doc doc;
	char name[64];
	size_t i;

	(void)state;
	policy_init(&doc);
	assert_int_equal(parse_line_text(&doc, "", &err), 0);
	assert_int_equal(parse_line_text(&doc, "   # just a comment", &err), 0);
	assert_int_equal(parse_line_text(&doc, "set malformed drop", &err), 0);
	assert_true(doc.malformed_drop);
	assert_int_equal(parse_line_text(&doc, "set malformed pass", &err), 0);
	assert_false(doc.malformed_drop);
	assert_false(doc.events_set);
	assert_int_equal(doc.event_ceiling, SLUICE_DEFAULT_EVENT_CEILING);
	assert_int_equal(parse_line_text(&doc, "set events sample 10 period 2m ceiling 7", &err),
			 0);
	assert_true(doc.events_set);
	assert_int_equal(doc.event_sample, 10);
	assert_int_equal(doc.event_ceiling, 7);
	assert_int_equal(doc.event_period_ns, 120000000000ULL);
	assert_int_equal(parse_line_text(&doc, "set events off", &err), 0);
	assert_int_equal(doc.event_ceiling, 0);
	assert_int_equal(parse_line_text(&doc, "rule add web tcp dport 443 # https", &err), 0);
	assert_int_equal(parse_line_text(&doc, "block add 198.51.100.0/24 ttl 1h", &err), 0);
	assert_int_equal(parse_line_text(&doc, "allow add 192.0.2.1", &err), 0);
	assert_int_equal(doc.nrules, 1);
	assert_string_equal(doc.rules[0].name, "web");
	assert_int_equal(doc.nitems, 2);
	assert_int_equal(doc.items[0].kind, LIST_BLOCK);
	assert_int_equal(doc.items[1].kind, LIST_ALLOW);

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		check_int(bad[i].in, parse_line_text(&doc, bad[i].in, &err),
			  (unsigned long long)-EINVAL);
		check_str(bad[i].in, err.msg, bad[i].msg);
		check_int(bad[i].in, err.column, bad[i].column);
		check_int(bad[i].in, err.line, 0);
	}
	assert_int_equal(doc.nrules, 1);
	assert_int_equal(doc.nitems, 2);

	for (i = 1; i < SLUICE_MAX_RULES; i++) {
		snprintf(name, sizeof(name), "rule add r%zu", i);
		assert_int_equal(parse_line_text(&doc, name, &err), 0);
	}
	assert_int_equal(parse_line_text(&doc, "rule add one-too-many", &err), -EINVAL);
	assert_string_equal(err.msg, "rule one-too-many: more than 64 rules");
	assert_int_equal(err.column, 10);
	policy_free(&doc);
	assert_null(doc.items);
	assert_int_equal(doc.nitems, 0);
	assert_int_equal(doc.nrules, 0);
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void parse_file_error(const char *text, size_t len, const char *want)
{
	char path[] = "/tmp/sluice-policy-XXXXXX", got[GRAMMAR_ERR_LEN + 300], full[512];
	struct parse_error err;
	struct policy_doc doc;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	write_text(path, text, len);
	policy_init(&doc);
	assert_int_equal(parse_line_text(&doc, "rule add before", &err), 0);
	assert_int_equal(parse_line_text(&doc, "block add 192.0.2.0/24", &err), 0);
	assert_int_equal(policy_parse_file(path, &doc, &err), -EINVAL);
	format_parse_error(&err, got, sizeof(got));
	snprintf(full, sizeof(full), "%s:%s", path, want);
	check_str(want, got, full);
	assert_string_equal(err.file, path);
	/* All or nothing: what the doc held before is all it holds. */
	assert_int_equal(doc.nrules, 1);
	assert_int_equal(doc.nitems, 1);
	assert_false(doc.malformed_drop);
	policy_free(&doc);
	unlink(path);
}

#define POLICY_HEAD                                                                                \
	"# a policy\n"                                                                             \
	"set malformed drop\n"                                                                     \
	"rule add web tcp dport 443 limit src/24 rate 20/s\n"

static void test_policy_file_errors(void **state)
{
	char long_line[GRAMMAR_LINE_MAX + 64], *big;
	struct parse_error err;
	struct policy_doc doc;
	unsigned int i;
	size_t off;

	(void)state;
	parse_file_error(POLICY_HEAD "rule add web2 tcp limit src/24 rate 20\n",
			 sizeof(POLICY_HEAD "rule add web2 tcp limit src/24 rate 20\n") - 1,
			 "4:37: " RATE_EXPECTED "\"20\"");
	parse_file_error(
		POLICY_HEAD "block add 198.51.100.0/24\nblock add 198.51.100.0/24\n",
		sizeof(POLICY_HEAD "block add 198.51.100.0/24\nblock add 198.51.100.0/24\n") - 1,
		"5:11: 198.51.100.0/24: already listed at line 4");
	/* Allow and block lists are separate, so only the second block line is a duplicate. */
	parse_file_error(
		"allow add 10.0.0.0/8\nblock add 10.0.0.0/8\nblock add 10.0.0.0/8\n",
		sizeof("allow add 10.0.0.0/8\nblock add 10.0.0.0/8\nblock add 10.0.0.0/8\n") - 1,
		"3:11: 10.0.0.0/8: already listed at line 2");
	parse_file_error("block add 192.0.2.0/24 ttl 1h\n",
			 sizeof("block add 192.0.2.0/24 ttl 1h\n") - 1,
			 "1:11: 192.0.2.0/24: already listed");
	parse_file_error(POLICY_HEAD "rule add web\n", sizeof(POLICY_HEAD "rule add web\n") - 1,
			 "4:10: rule web: already defined at line 3");
	parse_file_error("rule add before\n", sizeof("rule add before\n") - 1,
			 "1:10: rule before: already defined");
	parse_file_error(
		"\n\r\nbogus line\r\n", sizeof("\n\r\nbogus line\r\n") - 1,
		"3:1: bogus: only `allow add`, `block add`, `rule add`, `guard` and `set` lines belong in a policy file");
	parse_file_error("block add 1.2.3.4\0 x\n", sizeof("block add 1.2.3.4\0 x\n") - 1,
			 "1: NUL byte in the line");
	memset(long_line, 'a', sizeof(long_line));
	long_line[sizeof(long_line) - 1] = '\n';
	parse_file_error(long_line, sizeof(long_line),
			 "1: line of 4159 bytes, longer than the 4096 allowed");

	/* Enough lines that duplicates are looked up in a grown index, not a short list. */
	big = malloc(5000 * 32 + 64);
	assert_non_null(big);
	for (i = 0, off = 0; i < 5000; i++)
		off += sprintf(big + off, "block add 10.0.%u.%u\n", i / 256, i % 256);
	off += sprintf(big + off, "allow add 10.0.4.210\nblock add 10.0.4.210 ttl 1h\n");
	parse_file_error(big, off, "5002:11: 10.0.4.210: already listed at line 1235");
	free(big);

	policy_init(&doc);
	assert_int_equal(policy_parse_file("/nonexistent/policy", &doc, &err), -ENOENT);
	assert_string_equal(err.file, "/nonexistent/policy");
	assert_string_equal(err.msg, "cannot open: No such file or directory");
	policy_free(&doc);
}

/* Parses TEXT as a whole file, read through stdin when VIA_STDIN. */
static int parse_text_file(const char *text, struct policy_doc *doc, struct parse_error *err,
			   bool via_stdin)
{
	char path[] = "/tmp/sluice-policy-XXXXXX";
	int fd = mkstemp(path), saved, ret;

	assert_true(fd >= 0);
	close(fd);
	write_text(path, text, strlen(text));
	if (!via_stdin) {
		ret = policy_parse_file(path, doc, err);
		unlink(path);
		return ret;
	}
	saved = dup(STDIN_FILENO);
	fd = open(path, O_RDONLY);
	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	clearerr(stdin);
	ret = policy_parse_file("-", doc, err);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	clearerr(stdin);
	unlink(path);
	return ret;
}

static const char policy_text[] =
	"# the policy of a small web server\n"
	"set malformed drop\n"
	"set events period 5s sample 50 ceiling 300\n"
	"rule add web tcp dport 443 limit src/24 rate 20/s burst 40 limit global rate 1Gbit/s\n"
	"rule add ssh tcp dport 22 syn limit src/32 src6/64 rate 5/m action ban 1h\n"
	"rule add dns ip6 udp dport 53 limit src6/48 dport rate 100/s burst 200 action monitor\n"
	"rule add icmp icmp action pass\n"
	"guard   tcp dport 443 dst 203.0.113.0/24 above 20000/s\n"
	"guard tcp dport 8443 always # behind the flood\n"
	"allow add 192.0.2.0/24 comment \"office\"\n"
	"allow add 2001:db8:1::/48\n"
	"block add 198.51.100.0/24 ttl 1d comment \"abuse \\\"x\\\"\"\n"
	"block add 203.0.113.7 ttl 30m\n";

static void assert_same_doc(const struct policy_doc *a, const struct policy_doc *b)
{
	struct rule_spec ra, rb;
	unsigned int i;

	assert_int_equal(a->malformed_drop, b->malformed_drop);
	assert_int_equal(a->events_set, b->events_set);
	assert_int_equal(a->event_period_ns, b->event_period_ns);
	assert_int_equal(a->event_sample, b->event_sample);
	assert_int_equal(a->event_ceiling, b->event_ceiling);
	assert_int_equal(a->nrules, b->nrules);
	for (i = 0; i < a->nrules; i++) {
		ra = a->rules[i];
		rb = b->rules[i];
		burst_written(&ra);
		burst_written(&rb);
		if (memcmp(&ra, &rb, sizeof(ra)))
			fail_msg("rule %s differs\n", ra.name);
	}
	assert_int_equal(a->nguards, b->nguards);
	assert_memory_equal(a->guards, b->guards, a->nguards * sizeof(a->guards[0]));
	assert_int_equal(a->nitems, b->nitems);
	assert_memory_equal(a->items, b->items, a->nitems * sizeof(a->items[0]));
}

static void test_policy_write_round_trip(void **state)
{
	struct policy_doc doc, again, stdin_doc;
	char *text = NULL, *text2 = NULL;
	struct parse_error err;
	size_t len = 0, len2 = 0;
	FILE *out;

	(void)state;
	policy_init(&doc);
	policy_init(&again);
	policy_init(&stdin_doc);
	if (parse_text_file(policy_text, &doc, &err, false))
		fail_msg("%s:%u:%u: %s\n", err.file, err.line, err.column, err.msg);
	assert_int_equal(doc.nrules, 4);
	assert_int_equal(doc.nitems, 4);
	assert_true(doc.malformed_drop);
	assert_int_equal(parse_text_file(policy_text, &stdin_doc, &err, true), 0);
	assert_string_equal(err.file, "-");
	assert_same_doc(&doc, &stdin_doc);

	out = open_memstream(&text, &len);
	assert_non_null(out);
	policy_write(out, &doc);
	assert_int_equal(fclose(out), 0);
	assert_string_equal(
		text,
		"set malformed drop\n"
		"set events period 5s sample 50 ceiling 300\n"
		"guard tcp dport 443 dst 203.0.113.0/24 above 20000/s\n"
		"guard tcp dport 8443 always\n"
		"rule add web tcp dport 443 limit src/24 src6/64 rate 20/s burst 40 limit global rate 1Gbit/s burst 125MB action drop\n"
		"rule add ssh tcp dport 22 syn limit src/32 src6/64 rate 5/m burst 1 action ban 1h\n"
		"rule add dns ip6 udp dport 53 limit src/32 src6/48 dport rate 100/s burst 200 action monitor\n"
		"rule add icmp icmp action pass\n"
		"allow add 192.0.2.0/24 comment \"office\"\n"
		"allow add 2001:db8:1::/48\n"
		"block add 198.51.100.0/24 ttl 1d comment \"abuse \\\"x\\\"\"\n"
		"block add 203.0.113.7 ttl 30m\n");
	assert_int_equal(parse_text_file(text, &again, &err, false), 0);
	assert_same_doc(&doc, &again);

	/* The written form is a fixed point. */
	out = open_memstream(&text2, &len2);
	assert_non_null(out);
	policy_write(out, &again);
	assert_int_equal(fclose(out), 0);
	assert_string_equal(text2, text);

	free(text);
	free(text2);
	policy_free(&doc);
	policy_free(&again);
	policy_free(&stdin_doc);
}

static void test_policy_write_order(void **state)
{
	struct policy_doc doc;
	struct parse_error err;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	(void)state;
	policy_init(&doc);
	assert_int_equal(parse_line_text(&doc, "block add 10.0.0.0/8", &err), 0);
	assert_int_equal(parse_line_text(&doc, "allow add 10.1.0.0/16", &err), 0);
	assert_int_equal(parse_line_text(&doc, "rule add z", &err), 0);
	out = open_memstream(&text, &len);
	assert_non_null(out);
	policy_write(out, &doc);
	assert_int_equal(fclose(out), 0);
	/* malformed pass is the default and is not written */
	assert_string_equal(text, "rule add z action drop\n"
				  "allow add 10.1.0.0/16\n"
				  "block add 10.0.0.0/8\n");
	free(text);
	policy_free(&doc);
}

/* Guard lines: what they accept, what they refuse and where, and their data-path form. */
static void test_guard(void **state)
{
	static const struct {
		const char *in;
		unsigned int column;
		const char *msg;
	} bad[] = {
		{ "guard", 1, "guard: expected tcp, got the end of the line" },
		{ "guard udp dport 53 always", 7, "guard: expected tcp, got \"udp\"" },
		{ "guard tcp always", 11, "guard tcp: expected dport PORT, got \"always\"" },
		{ "guard tcp dport", 11, "dport: expected PORT, got the end of the line" },
		{ "guard tcp dport 80-90 always", 17, "guard: one port per guard, got \"80-90\"" },
		{ "guard tcp dport 443", 17,
		  "guard: expected dst PREFIX, always or above RATE, got the end of the line" },
		{ "guard tcp dport 443 dst 192.0.2.0/24", 25,
		  "guard: expected always or above RATE, got the end of the line" },
		{ "guard tcp dport 443 above 1Mbit/s", 27,
		  "above: expected SYNs per time like 20000/s, got \"1Mbit/s\"" },
		{ "guard tcp dport 443 above", 21,
		  "above: expected RATE like 20000/s, got the end of the line" },
		{ "guard tcp dport 443 always now", 28,
		  "guard: nothing may follow always, got \"now\"" },
		{ "guard tcp dport 22 always", 1,
		  "guard: this port and destination already have one: guard tcp dport 22 always" },
	};
	struct sluice_guard g;
	struct parse_error err;
	struct policy_doc doc;
	char line[64];
	size_t i;

	(void)state;
	policy_init(&doc);
	assert_int_equal(parse_line_text(&doc, "guard tcp dport 22 always", &err), 0);
	assert_int_equal(
		parse_line_text(&doc, "guard tcp dport 22 dst 2001:db8::/32 above 30/m", &err), 0);
	assert_int_equal(doc.nguards, 2);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		check_int(bad[i].in, parse_line_text(&doc, bad[i].in, &err),
			  (unsigned long long)-EINVAL);
		check_str(bad[i].in, err.msg, bad[i].msg);
		check_int(bad[i].in, err.column, bad[i].column);
	}
	assert_int_equal(doc.nguards, 2);

	assert_int_equal(compile_guard(&doc.guards[0], &g, &err), 0);
	assert_int_equal(g.dport, 22);
	assert_int_equal(g.flags, SLUICE_GUARD_ALWAYS);
	assert_int_equal(g.above, 0);
	assert_int_equal(compile_guard(&doc.guards[1], &g, &err), 0);
	assert_int_equal(g.flags, SLUICE_GUARD_DST);
	assert_int_equal(g.family, SLUICE_FAMILY_IPV6);
	assert_int_equal(g.above, 1); /* 30/m, rounded up to a whole SYN per second */
	assert_int_equal(g.dst_addr[0], htonl(0x20010db8));
	assert_int_equal(g.dst_mask[0], 0xffffffff);
	assert_int_equal(g.dst_mask[1], 0);
	format_guard(&doc.guards[1], line, sizeof(line));
	assert_string_equal(line, "guard tcp dport 22 dst 2001:db8::/32 above 30/m");

	for (i = 2; i < SLUICE_MAX_GUARDS; i++) {
		snprintf(line, sizeof(line), "guard tcp dport %zu always", 1000 + i);
		assert_int_equal(parse_line_text(&doc, line, &err), 0);
	}
	assert_int_equal(parse_line_text(&doc, "guard tcp dport 9 always", &err), -EINVAL);
	assert_string_equal(err.msg, "guard: more than 8 guards");
	policy_free(&doc);
}

/* Rules placed, replaced and taken out by name, as rule insert, replace and del do. */
static void test_rule_edits(void **state)
{
	struct policy_doc doc;
	struct rule_spec spec;
	char names[8 * SLUICE_NAME_LEN];

	(void)state;
	policy_init(&doc);
	memset(&spec, 0, sizeof(spec));
	strcpy(spec.name, "b");
	assert_int_equal(policy_rule_insert(&doc, &spec, 0), 0);
	strcpy(spec.name, "d");
	assert_int_equal(policy_rule_insert(&doc, &spec, 1), 0);
	strcpy(spec.name, "a");
	assert_int_equal(policy_rule_insert(&doc, &spec, 0), 0);
	strcpy(spec.name, "c");
	assert_int_equal(policy_rule_insert(&doc, &spec, 2), 0);
	assert_int_equal(policy_rule_insert(&doc, &spec, 0), -EEXIST);
	strcpy(spec.name, "e");
	assert_int_equal(policy_rule_insert(&doc, &spec, 5), -ERANGE);
	names[0] = '\0';
	for (unsigned int i = 0; i < doc.nrules; i++)
		strcat(names, doc.rules[i].name);
	assert_string_equal(names, "abcd");

	strcpy(spec.name, "c");
	spec.action = SLUICE_ACTION_PASS;
	assert_int_equal(policy_rule_replace(&doc, &spec), 0);
	assert_int_equal(policy_rule_find(&doc, "c"), 2);
	assert_int_equal(doc.rules[2].action, SLUICE_ACTION_PASS);
	strcpy(spec.name, "z");
	assert_int_equal(policy_rule_replace(&doc, &spec), -ENOENT);

	assert_int_equal(policy_rule_delete(&doc, "b"), 0);
	assert_int_equal(policy_rule_delete(&doc, "b"), -ENOENT);
	assert_int_equal(doc.nrules, 3);
	assert_int_equal(policy_rule_find(&doc, "d"), 2);

	while (doc.nrules < SLUICE_MAX_RULES) {
		snprintf(spec.name, sizeof(spec.name), "r%u", doc.nrules);
		assert_int_equal(policy_rule_insert(&doc, &spec, doc.nrules), 0);
	}
	strcpy(spec.name, "full");
	assert_int_equal(policy_rule_insert(&doc, &spec, 0), -ENOSPC);
	policy_free(&doc);
}

static void test_format_parse_error(void **state)
{
	static const struct {
		struct parse_error err;
		const char *out;
	} rows[] = {
		{ { "policy.conf", 4, 37, "rate: bad" }, "policy.conf:4:37: rate: bad" },
		{ { "policy.conf", 4, 0, "NUL byte in the line" },
		  "policy.conf:4: NUL byte in the line" },
		{ { "-", 0, 0, "cannot open: x" }, "-: cannot open: x" },
		{ { "", 0, 12, "tcp: only one protocol" }, "tcp: only one protocol" },
	};
	char buf[GRAMMAR_ERR_LEN + 300], small[8];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(rows); i++) {
		format_parse_error(&rows[i].err, buf, sizeof(buf));
		check_str(rows[i].out, buf, rows[i].out);
	}
	format_parse_error(&rows[0].err, small, sizeof(small));
	assert_string_equal(small, "policy.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_prefix_good),
		cmocka_unit_test(test_rate_good),
		cmocka_unit_test(test_duration_good),
		cmocka_unit_test(test_burst_good),
		cmocka_unit_test(test_port_range),
		cmocka_unit_test(test_comment),
		cmocka_unit_test(test_tokenize),
		cmocka_unit_test(test_rule_good),
		cmocka_unit_test(test_rule_bad),
		cmocka_unit_test(test_compile_rule),
		cmocka_unit_test(test_list_item),
		cmocka_unit_test(test_policy_line),
		cmocka_unit_test(test_policy_file_errors),
		cmocka_unit_test(test_policy_write_round_trip),
		cmocka_unit_test(test_policy_write_order),
		cmocka_unit_test(test_rule_edits),
		cmocka_unit_test(test_guard),
		cmocka_unit_test(test_format_parse_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
