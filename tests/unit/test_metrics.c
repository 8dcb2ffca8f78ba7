// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The exposition serializer (buffer, escaping, names, values, families, documents) and http.c's
 * helpers (Accept-Encoding, gzip, --listen). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <zlib.h>
#include "http.h"
#include "metrics.h"

#define check_str(row, got, want)                                                                  \
	do {                                                                                       \
		if (strcmp((got), (want)))                                                         \
			fail_msg("%s: got \"%s\", want \"%s\"", (row), (got), (want));             \
	} while (0)

static void test_mbuf_grows(void **state)
{
	struct mbuf b;
	char want[10001];

	(void)state;
	mbuf_init(&b);
	for (int i = 0; i < 1000; i++)
		mbuf_append(&b, "0123456789", 10);
	memset(want, 0, sizeof(want));
	for (int i = 0; i < 10000; i++)
		want[i] = '0' + i % 10;
	assert_false(b.failed);
	assert_int_equal(b.len, 10000);
	assert_string_equal(b.data, want);
	mbuf_printf(&b, "%s=%d", "x", 42);
	assert_string_equal(b.data + 10000, "x=42");
	mbuf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	assert_true(b.cap > 10000); /* memory kept for the next scrape */
	mbuf_free(&b);
	assert_null(b.data);
}

static void test_escape_label(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		{ "eth0", "eth0" },
		{ "", "" },
		{ "a\\b", "a\\\\b" },
		{ "say \"hi\"", "say \\\"hi\\\"" },
		{ "two\nlines", "two\\nlines" },
		{ "\\\"\n", "\\\\\\\"\\n" },
		{ "tab\tstays", "tab\tstays" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct mbuf b;

		mbuf_init(&b);
		mbuf_append(&b, "", 0);
		metrics_escape_label(&b, rows[i].in);
		check_str(rows[i].in, b.data, rows[i].want);
		mbuf_free(&b);
	}
}

static void test_escape_help(void **state)
{
	struct mbuf b;

	(void)state;
	mbuf_init(&b);
	metrics_escape_help(&b, "a \"quoted\" C:\\path\nand more");
	/* HELP keeps double quotes as they are. */
	assert_string_equal(b.data, "a \"quoted\" C:\\\\path\\nand more");
	mbuf_free(&b);
}

static void test_valid_name(void **state)
{
	static const struct {
		const char *name;
		bool metric, label;
	} rows[] = {
		{ "sluice_up", true, true },   { "_x", true, true },	{ "a:b", true, false },
		{ ":a", true, false },	       { "a1", true, true },	{ "1a", false, false },
		{ "", false, false },	       { "a-b", false, false }, { "a b", false, false },
		{ "__name__", true, false }, /* reserved label name */
		{ "r\xc3\xa9", false, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (metrics_valid_name(rows[i].name, false) != rows[i].metric)
			fail_msg("metric name \"%s\": want %d", rows[i].name, rows[i].metric);
		if (metrics_valid_name(rows[i].name, true) != rows[i].label)
			fail_msg("label name \"%s\": want %d", rows[i].name, rows[i].label);
	}
	assert_false(metrics_valid_name(NULL, false));
}

static void test_format_double(void **state)
{
	static const struct {
		double v;
		const char *want;
	} rows[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ -2.5, "-2.5" },
		{ 0.1, "0.1" },
		{ 0.004499522, "0.004499522" },
		{ 1e-05, "1e-05" },
		{ 123456789, "123456789" },
		{ 1e21, "1e+21" },
		{ 9007199254740993.0, "9007199254740992" }, /* 2^53 + 1 is not a double */
		{ 1.0 / 3, "0.3333333333333333" },
	};
	char out[32];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		metrics_format_double(out, rows[i].v);
		check_str(rows[i].want, out, rows[i].want);
	}
	metrics_format_double(out, NAN);
	assert_string_equal(out, "NaN");
	metrics_format_double(out, INFINITY);
	assert_string_equal(out, "+Inf");
	metrics_format_double(out, -INFINITY);
	assert_string_equal(out, "-Inf");
}

static void test_family_and_samples(void **state)
{
	static const char *const names[] = { "a", "b" };
	static const char *const values[] = { "x", "y\"z" };
	struct mbuf b;

	(void)state;
	mbuf_init(&b);
	metrics_family(&b, "t_total", "Help.", METRIC_COUNTER);
	metrics_sample_u64(&b, "t_total", NULL, NULL, 0, UINT64_MAX);
	metrics_sample_u64(&b, "t_total", names, values, 2, 0);
	metrics_sample(&b, "t_total", names, values, 1, 0.25);
	assert_false(b.failed);
	assert_string_equal(b.data, "# HELP t_total Help.\n"
				    "# TYPE t_total counter\n"
				    "t_total 18446744073709551615\n"
				    "t_total{a=\"x\",b=\"y\\\"z\"} 0\n"
				    "t_total{a=\"x\"} 0.25\n");
	mbuf_free(&b);

	mbuf_init(&b);
	metrics_family(&b, "bad-name", "Help.", METRIC_GAUGE);
	assert_true(b.failed);
	mbuf_free(&b);
	mbuf_init(&b);
	metrics_sample(&b, "g", (const char *const[]){ "0bad" }, values, 1, 1);
	assert_true(b.failed);
	mbuf_free(&b);
}

/* A whole small document, byte for byte. */
static void test_document(void **state)
{
	static const char *const iface[] = { "interface", "reason" };
	static const char *const rule[] = { "rule" };
	struct mbuf b;

	(void)state;
	mbuf_init(&b);
	metrics_family(&b, "demo_drops_total", "Dropped packets.\nBy \"reason\" \\ interface.",
		       METRIC_COUNTER);
	metrics_sample_u64(&b, "demo_drops_total", iface, (const char *const[]){ "eth0", "acl" }, 2,
			   7);
	metrics_sample_u64(&b, "demo_drops_total", iface, (const char *const[]){ "eth0", "ban" }, 2,
			   12345678901234ULL);
	metrics_family(&b, "demo_rule_info", "A rule.", METRIC_GAUGE);
	metrics_sample(&b, "demo_rule_info", rule, (const char *const[]){ "we\\ird\n\"one\"" }, 1,
		       1);
	metrics_family(&b, "demo_seconds", "Time.", METRIC_GAUGE);
	metrics_sample(&b, "demo_seconds", NULL, NULL, 0, 0.0015);
	metrics_sample(&b, "demo_seconds", rule, (const char *const[]){ "" }, 1, -INFINITY);
	assert_false(b.failed);
	assert_int_equal(b.len, strlen(b.data));
	assert_string_equal(b.data, "# HELP demo_drops_total Dropped packets.\\nBy \"reason\" \\\\ "
				    "interface.\n"
				    "# TYPE demo_drops_total counter\n"
				    "demo_drops_total{interface=\"eth0\",reason=\"acl\"} 7\n"
				    "demo_drops_total{interface=\"eth0\",reason=\"ban\"} "
				    "12345678901234\n"
				    "# HELP demo_rule_info A rule.\n"
				    "# TYPE demo_rule_info gauge\n"
				    "demo_rule_info{rule=\"we\\\\ird\\n\\\"one\\\"\"} 1\n"
				    "# HELP demo_seconds Time.\n"
				    "# TYPE demo_seconds gauge\n"
				    "demo_seconds 0.0015\n"
				    "demo_seconds{rule=\"\"} -Inf\n");
	mbuf_free(&b);
}

static void test_render_down(void **state)
{
	struct metrics_input in = { .version = "0.1.0", .up = false };
	struct mbuf b;

	(void)state;
	mbuf_init(&b);
	metrics_render(&b, &in);
	assert_false(b.failed);
	assert_string_equal(b.data, "# HELP sluice_build_info The sluice exporter's version; "
				    "always 1.\n"
				    "# TYPE sluice_build_info gauge\n"
				    "sluice_build_info{version=\"0.1.0\"} 1\n"
				    "# HELP sluice_up 1 when the pinned sluice maps were read, 0 "
				    "when "
				    "nothing is attached or they could not be opened.\n"
				    "# TYPE sluice_up gauge\n"
				    "sluice_up 0\n");
	mbuf_free(&b);
}

/* Whether LINE is a whole line of TEXT. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define assert_line(text, line)                                                                    \
	do {                                                                                       \
		if (!has_line((text), (line)))                                                     \
			fail_msg("missing line: %s", (line));                                      \
	} while (0)

/*
 * Checks that every family opens with HELP then TYPE of its name, that every sample
 * belongs to the family above it and every line ends in a newline; returns the families.
 */
static int check_families(const char *text)
{
	char family[128] = "";
	int n = 0;

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = strlen(family);

		assert_non_null(nl);
		if (!strncmp(p, "# HELP ", 7)) {
			size_t name_len = strcspn(p + 7, " ");

			assert_true(name_len < sizeof(family));
			memcpy(family, p + 7, name_len);
			family[name_len] = '\0';
			p = nl + 1;
			nl = strchr(p, '\n');
			assert_non_null(nl);
			if (strncmp(p, "# TYPE ", 7) || strncmp(p + 7, family, name_len) ||
			    p[7 + name_len] != ' ')
				fail_msg("family %s: no TYPE line after HELP", family);
			n++;
		} else if (!len || strncmp(p, family, len) || !strchr("{ ", p[len])) {
			fail_msg("sample outside its family %s: %.*s", family, (int)(nl - p), p);
		}
		p = nl + 1;
	}
	return n;
}

static void set_counter(struct stats_snapshot *s, __u32 iface, __u32 rule, __u32 verdict,
			__u32 reason, __u64 packets, __u64 bytes)
{
	s->c[sluice_stats_index(iface, rule, verdict, reason)] =
		(struct sluice_counter){ packets, bytes };
}

static void test_render_up(void **state)
{
	struct stats_snapshot *snap = calloc(1, sizeof(*snap));
	struct metrics_iface ifaces[] = { { "eth0", "native", 2 } };
	struct metrics_rule rules[] = { { "web", 5 }, { "dns", 0 } };
	struct metrics_guard guards[] = {
		{ 443, "", true, 2, { .answered = 1000, .validated = 20, .refused = 3 } },
		{ 8443, "203.0.113.0/24", false, 0, { .passed = 9 } },
	};
	struct metrics_input in = {
		.version = "0.1.0",
		.up = true,
		.ifaces = ifaces,
		.nifaces = 1,
		.rules = rules,
		.nrules = 2,
		.snap = snap,
		.generation = 3,
		.digest = 0xabcdef0123ULL,
		.block_entries = 2,
		.block_capacity = 1048576,
		.bans = 1,
		.bans_capacity = 65536,
		.ban_filter_bits_set = 1048576,
		.ban_filter_bits = 4194304,
		.probation_keys = 12,
		.tier = { .admitted = 40, .refused = 1, .promoted = 6, .displaced = 2 },
		.guards = guards,
		.nguards = 2,
	};
	static const char *const want[] = {
		"sluice_up 1",
		"sluice_interface_info{interface=\"eth0\",mode=\"native\"} 1",
		"sluice_packets_total{interface=\"eth0\",rule=\"web\",verdict=\"drop\"} 10",
		"sluice_bytes_total{interface=\"eth0\",rule=\"web\",verdict=\"pass\"} 700",
		"sluice_packets_total{interface=\"eth0\",rule=\"web\",verdict=\"ban\"} 0",
		"sluice_packets_total{interface=\"eth0\",rule=\"dns\",verdict=\"ban\"} 1",
		"sluice_packets_total{interface=\"eth0\",rule=\"none\",verdict=\"drop\"} 3",
		/* drops by reason add drop and ban verdicts */
		"sluice_drops_total{interface=\"eth0\",reason=\"ratelimit\"} 11",
		"sluice_drops_total{interface=\"eth0\",reason=\"ban\"} 5",
		"sluice_drops_total{interface=\"eth0\",reason=\"blocklist\"} 3",
		"sluice_drops_total{interface=\"eth0\",reason=\"acl\"} 0",
		"sluice_packets_by_reason_total{interface=\"eth0\",reason=\"none\"} 7",
		"sluice_policy_reloads_total 3",
		"sluice_policy_rules 2",
		"sluice_policy_info{digest=\"000000abcdef0123\"} 1",
		"sluice_list_entries{list=\"block\"} 2",
		"sluice_list_capacity{list=\"block\"} 1048576",
		"sluice_bans 1",
		"sluice_bans_capacity 65536",
		"sluice_ban_filter_fill_ratio 0.25",
		"sluice_limiter_probation_keys 12",
		"sluice_limiter_probation_capacity 786432",
		"sluice_limiter_new_keys_admitted_total 40",
		"sluice_limiter_new_keys_refused_total 1",
		"sluice_limiter_new_keys_promoted_total 6",
		"sluice_limiter_new_keys_displaced_total 2",
		"sluice_guard_engaged{port=\"443\",dst=\"\"} 1",
		"sluice_guard_engaged{port=\"8443\",dst=\"203.0.113.0/24\"} 0",
		"sluice_guard_engagements_total{port=\"443\",dst=\"\"} 2",
		"sluice_guard_syns_answered_total{port=\"443\",dst=\"\"} 1000",
		"sluice_guard_cookies_validated_total{port=\"443\",dst=\"\"} 20",
		"sluice_guard_cookies_refused_total{port=\"443\",dst=\"\"} 3",
		"sluice_guard_syns_passed_total{port=\"8443\",dst=\"203.0.113.0/24\"} 9",
		"sluice_events_emitted_total 4",
		"sluice_events_suppressed_total 0",
		"sluice_events_lost_total 1",
	};
	struct mbuf b;
	int samples = 0;

	(void)state;
	assert_non_null(snap);
	snap->events.emitted = 4;
	snap->events.lost = 1;
	set_counter(snap, 2, 5, SLUICE_VERDICT_DROP, SLUICE_REASON_RATELIMIT, 10, 1000);
	set_counter(snap, 2, 5, SLUICE_VERDICT_PASS, SLUICE_REASON_NONE, 7, 700);
	set_counter(snap, 2, 0, SLUICE_VERDICT_BAN, SLUICE_REASON_RATELIMIT, 1, 64);
	set_counter(snap, 2, 0, SLUICE_VERDICT_DROP, SLUICE_REASON_BAN, 5, 320);
	set_counter(snap, 2, SLUICE_NO_RULE, SLUICE_VERDICT_DROP, SLUICE_REASON_BLOCKLIST, 3, 180);
	set_counter(snap, 1, 5, SLUICE_VERDICT_DROP, SLUICE_REASON_RATELIMIT, 99,
		    99); /* not shown */
	mbuf_init(&b);
	metrics_render(&b, &in);
	assert_false(b.failed);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_line(b.data, want[i]);
	/* drops are only the reasons that drop */
	assert_null(strstr(b.data, "sluice_drops_total{interface=\"eth0\",reason=\"allowlist\"}"));
	/* 2 rules and the undecided slot, 4 verdicts each */
	for (const char *p = b.data; (p = strstr(p, "\nsluice_packets_total{")); p++)
		samples++;
	assert_int_equal(samples, 3 * SLUICE_VERDICT_COUNT);
	assert_int_equal(check_families(b.data), 32);
	mbuf_free(&b);

	free(snap);
}

static void test_accepts_gzip(void **state)
{
	static const struct {
		const char *in;
		bool want;
	} rows[] = {
		{ "gzip", true },
		{ "GZIP", true },
		{ "x-gzip", true },
		{ "deflate, gzip", true },
		{ "gzip;q=1.0, identity; q=0.5, *;q=0", true },
		{ "br ; q=0.9 , gzip ; q=0.1", true },
		{ "*", true },
		{ "", false },
		{ "identity", false },
		{ "deflate, br", false },
		{ "gzip;q=0", false },
		{ "gzip; q=0.000", false },
		{ "*;q=0", false },
		{ "gzip;q=0, *", false },
		{ "gzipped", false },
		{ "x-gzip2", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (http_accepts_gzip(rows[i].in) != rows[i].want)
			fail_msg("Accept-Encoding \"%s\": want %d", rows[i].in, rows[i].want);
	assert_false(http_accepts_gzip(NULL));
}

static void test_gzip_round_trip(void **state)
{
	struct mbuf b;
	unsigned char *gz, back[200000];
	size_t gz_len;
	z_stream zs = {};

	(void)state;
	mbuf_init(&b);
	for (int i = 0; i < 2000; i++)
		mbuf_printf(&b, "sluice_packets_total{interface=\"eth0\",rule=\"r%d\"} %d\n", i, i);
	assert_int_equal(http_gzip(b.data, b.len, (void **)&gz, &gz_len), 0);
	assert_true(gz_len > 18 && gz_len < b.len / 4);
	assert_int_equal(gz[0], 0x1f); /* gzip magic */
	assert_int_equal(gz[1], 0x8b);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = gz;
	zs.avail_in = gz_len;
	zs.next_out = back;
	zs.avail_out = sizeof(back);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.total_out, b.len);
	assert_memory_equal(back, b.data, b.len);
	inflateEnd(&zs);
	free(gz);
	mbuf_free(&b);
}

static void test_parse_listen(void **state)
{
	static const struct {
		const char *in;
		int family;
		const char *addr;
		int port;
	} good[] = {
		{ "127.0.0.1:9741", AF_INET, "127.0.0.1", 9741 },
		{ "0.0.0.0:1", AF_INET, "0.0.0.0", 1 },
		{ "[::1]:9741", AF_INET6, "::1", 9741 },
		{ "[::]:65535", AF_INET6, "::", 65535 },
		{ "[fd00:5::1]:80", AF_INET6, "fd00:5::1", 80 },
		/* node_exporter's form: no host is every address, bound as [::] dual-stack */
		{ ":9741", AF_INET6, "::", 9741 },
	};
	static const char *const bad[] = {
		"",
		"9741",
		":",
		"[]:9741",
		"bad_name:80",
		"a b:80",
		"127.0.0.1",
		"127.0.0.1:",
		"127.0.0.1:0",
		"127.0.0.1:65536",
		"::1:9741",
		"[::1]9741",
		"[::1]:",
		"1.2.3.4:12x",
		"[1.2.3.4]:80",
		"127.0.0.1:+80",
		"127.0.0.1:-1",
		"127.0.0.1: 80",
		"[::1:9741",
		"300.0.0.1:80",
		"127.0.0.1:99999999999999999999",
	};
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[INET6_ADDRSTRLEN];

	(void)state;
	bool any;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (http_parse_listen(good[i].in, &ss, &len, &any))
			fail_msg("%s: rejected", good[i].in);
		assert_int_equal(any, good[i].in[0] == ':');
		assert_int_equal(ss.ss_family, good[i].family);
		if (good[i].family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			assert_int_equal(len, sizeof(*sin));
			assert_int_equal(ntohs(sin->sin_port), good[i].port);
			inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			assert_int_equal(len, sizeof(*sin6));
			assert_int_equal(ntohs(sin6->sin6_port), good[i].port);
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr, sizeof(addr));
		}
		check_str(good[i].in, addr, good[i].addr);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (http_parse_listen(bad[i], &ss, &len, &any) != -EINVAL)
			fail_msg("\"%s\": accepted", bad[i]);
	/* A host name is resolved: localhost is a loopback address of either family. */
	if (http_parse_listen("localhost:9741", &ss, &len, &any))
		fail_msg("localhost:9741: rejected");
	assert_false(any);
	if (ss.ss_family == AF_INET) {
		assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9741);
		assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr),
				 INADDR_LOOPBACK);
	} else {
		assert_int_equal(ss.ss_family, AF_INET6);
		assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9741);
		assert_true(IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)&ss)->sin6_addr));
	}
	assert_int_equal(http_parse_listen("no-such-host.invalid:80", &ss, &len, &any), -ENXIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mbuf_grows),	cmocka_unit_test(test_escape_label),
		cmocka_unit_test(test_escape_help),	cmocka_unit_test(test_valid_name),
		cmocka_unit_test(test_format_double),	cmocka_unit_test(test_family_and_samples),
		cmocka_unit_test(test_document),	cmocka_unit_test(test_render_down),
		cmocka_unit_test(test_render_up),	cmocka_unit_test(test_accepts_gzip),
		cmocka_unit_test(test_gzip_round_trip), cmocka_unit_test(test_parse_listen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
