// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The fleet's forms of a decision (stream entry, outbox line), names and Redis URLs. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "fleet.h"

static void test_line_round_trip(void **state)
{
	struct decision d = { .list = FLEET_BLOCK, .expires_ms = 1796525918668ULL };
	struct decision back;
	struct parse_error perr = {};
	char line[512], pfx[64];

	(void)state;
	assert_int_equal(parse_prefix("203.0.113.0/24", &d.prefix, &perr), 0);
	strcpy(d.comment, "scanners, \"quoted\"");
	strcpy(d.origin, "edge-1");
	decision_format_line(&d, line, sizeof(line));
	assert_string_equal(
		line, "add\tblock\t203.0.113.0/24\t1796525918668\tedge-1\tscanners, \"quoted\"\n");
	assert_int_equal(decision_parse_line(&back, line), 0);
	assert_false(back.del);
	assert_int_equal(back.list, FLEET_BLOCK);
	assert_int_equal(back.expires_ms, d.expires_ms);
	assert_string_equal(back.comment, d.comment);
	assert_string_equal(back.origin, "edge-1");
	format_prefix(&back.prefix, pfx, sizeof(pfx));
	assert_string_equal(pfx, "203.0.113.0/24");

	/* A deletion of an IPv6 ban, never expiring, no comment. */
	assert_int_equal(decision_parse_line(&back, "del\tban\t2001:db8::1\t0\th2\t\n"), 0);
	assert_true(back.del);
	assert_int_equal(back.list, FLEET_BAN);
	assert_int_equal(back.expires_ms, 0);
	assert_string_equal(back.comment, "");
	format_prefix(&back.prefix, pfx, sizeof(pfx));
	assert_string_equal(pfx, "2001:db8::1");
}

static void test_line_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"add\tblock\t203.0.113.0/24\t0\th1\n", /* a field short: a torn line */
		"put\tblock\t203.0.113.0/24\t0\th1\t\n",
		"add\tdeny\t203.0.113.0/24\t0\th1\t\n",
		"add\tblock\t203.0.113.1/24\t0\th1\t\n", /* host bits */
		"add\tblock\t203.0.113.0/24\t-5\th1\t\n",
		"add\tblock\t203.0.113.0/24\t12x\th1\t\n",
	};
	struct decision d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (decision_parse_line(&d, bad[i]) != -EINVAL)
			fail_msg("\"%s\": accepted", bad[i]);
}

static void test_entry_fields(void **state)
{
	/* A stream entry's fields in any order; control characters do not get through. */
	char *fields[] = { "origin", "h\t3", "prefix", "198.51.100.0/24", "extra",   "x",
			   "op",     "add",  "list",   "allow",		  "comment", "a\nb" };
	size_t lens[12];
	struct decision d;

	(void)state;
	for (int i = 0; i < 12; i++)
		lens[i] = strlen(fields[i]);
	assert_int_equal(decision_parse(&d, fields, lens, 12), 0);
	assert_int_equal(d.list, FLEET_ALLOW);
	assert_int_equal(d.expires_ms, 0);
	assert_string_equal(d.origin, "h?3");
	assert_string_equal(d.comment, "a?b");
	/* Without a prefix: refused. */
	assert_int_equal(decision_parse(&d, fields + 4, lens + 4, 8), -EINVAL);
}

static void test_names(void **state)
{
	char long_name[FLEET_NAME_MAX + 1];

	(void)state;
	assert_true(fleet_valid_name("edge-1.example_2"));
	assert_false(fleet_valid_name(""));
	assert_false(fleet_valid_name("a b"));
	assert_false(fleet_valid_name("a}b"));
	memset(long_name, 'a', FLEET_NAME_MAX);
	long_name[FLEET_NAME_MAX] = '\0';
	assert_false(fleet_valid_name(long_name));
	long_name[FLEET_NAME_MAX - 1] = '\0';
	assert_true(fleet_valid_name(long_name));
}

static void test_keys(void **state)
{
	struct fleet_config cfg;
	char key[160];

	(void)state;
	fleet_config_init(&cfg);
	strcpy(cfg.fleet, "edge");
	assert_string_equal(fleet_key(&cfg, "decisions", key, sizeof(key)),
			    "sluice:{edge}:decisions");
}

static void test_bad_urls(void **state)
{
	static const char *const bad[][2] = {
		{ "http://192.0.2.1",
		  "http://192.0.2.1: expected redis://HOST[:PORT][/DB] or unix:PATH" },
		{ "redis://", "redis://: expected redis://HOST[:PORT][/DB] or unix:PATH" },
		{ "redis://192.0.2.1:0", "redis://192.0.2.1:0: bad port" },
		{ "redis://192.0.2.1:65536", "redis://192.0.2.1:65536: bad port" },
		{ "redis://192.0.2.1:6379x", "redis://192.0.2.1:6379x: bad port" },
		{ "redis://192.0.2.1/db", "redis://192.0.2.1/db: bad database number" },
	};
	struct fleet_config cfg;
	char err[300];

	(void)state;
	fleet_config_init(&cfg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cfg.redis = bad[i][0];
		err[0] = '\0';
		assert_null(fleet_connect(&cfg, err, sizeof(err)));
		assert_string_equal(err, bad[i][1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_round_trip),
		cmocka_unit_test(test_line_rejects),
		cmocka_unit_test(test_entry_fields),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_bad_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
