// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * import_list(): plain, Spamhaus DROP text and JSON, FireHOL, ipset save, CRLF and gzip
 * feeds, bad lines, truncated and mixed feeds, and its speed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "import.h"

#define NS 1000000000ULL
#define MILLION 1000000
#ifdef __SANITIZE_ADDRESS__
#define IMPORT_SECONDS_MAX 6.0 /* SANITIZE=1 builds check every access and run slower */
#else
#define IMPORT_SECONDS_MAX 2.0
#endif

/* A scratch directory for the group, and a path in it. */
static char dir[] = "/tmp/sluice-import-XXXXXX";
static char path_buf[sizeof(dir) + 64];

static const char *path_of(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
	return path_buf;
}

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int group_teardown(void **state)
{
	(void)state;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *write_file(const char *name, const void *data, size_t len)
{
	const char *path = path_of(name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

#define WRITE_TEXT(name, text) write_file((name), (text), sizeof(text) - 1)

static const char *write_gzip(const char *name, const char *text)
{
	const char *path = path_of(name);
	gzFile gz = gzopen(path, "wb");

	assert_non_null(gz);
	assert_int_equal(gzwrite(gz, text, strlen(text)), (int)strlen(text));
	assert_int_equal(gzclose(gz), Z_OK);
	return path;
}

static void *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *data;
	long size;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	data = malloc(size);
	assert_non_null(data);
	assert_int_equal(fread(data, 1, size, f), (size_t)size);
	fclose(f);
	*len = size;
	return data;
}

/* The items of DOC from FIRST on, as list lines joined by newlines. */
static char *doc_lines(const struct policy_doc *doc, size_t first)
{
	char *text = NULL, line[GRAMMAR_LINE_MAX];
	size_t len = 0, i;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	for (i = first; i < doc->nitems; i++) {
		format_list_item(&doc->items[i], line, sizeof(line));
		fprintf(out, "%s\n", line);
	}
	assert_int_equal(fclose(out), 0);
	return text;
}

static void import_ok(const char *path, enum list_kind kind, __u64 ttl, const char *comment,
		      const char *want)
{
	struct parse_error err;
	struct policy_doc doc;
	char *got;

	policy_init(&doc);
	if (import_list(path, kind, ttl, comment, &doc, &err))
		fail_msg("%s:%u:%u: %s\n", err.file, err.line, err.column, err.msg);
	got = doc_lines(&doc, 0);
	assert_string_equal(got, want);
	free(got);
	policy_free(&doc);
}

/*
 * Imports PATH with COMMENT into a doc that holds one item already, expecting an
 * error; the doc is unchanged.
 */
static void import_refused(const char *path, const char *comment, int ret, unsigned int line,
			   unsigned int column, const char *msg)
{
	struct parse_error err;
	struct policy_doc doc;
	struct list_item before;
	char text[] = "allow add 192.0.2.1 comment \"kept\"", out[GRAMMAR_ERR_LEN + 400];
	char want[GRAMMAR_ERR_LEN + 400];

	policy_init(&doc);
	assert_int_equal(policy_parse_line(&doc, text, &err), 0);
	before = doc.items[0];
	if (import_list(path, LIST_BLOCK, 0, comment, &doc, &err) != ret)
		fail_msg("%s: want %d, got %s\n", path, ret, err.msg);
	assert_string_equal(err.file, path);
	assert_string_equal(err.msg, msg);
	assert_int_equal(err.line, line);
	assert_int_equal(err.column, column);
	assert_int_equal(doc.nitems, 1);
	assert_memory_equal(&doc.items[0], &before, sizeof(before));
	if (line && column)
		snprintf(want, sizeof(want), "%s:%u:%u: %s", path, line, column, msg);
	else if (line)
		snprintf(want, sizeof(want), "%s:%u: %s", path, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", path, msg);
	format_parse_error(&err, out, sizeof(out));
	assert_string_equal(out, want);
	policy_free(&doc);
}

static void import_fails(const char *path, int ret, unsigned int line, unsigned int column,
			 const char *msg)
{
	import_refused(path, "x", ret, line, column, msg);
}

static void test_plain(void **state)
{
	(void)state;
	import_ok(WRITE_TEXT("plain",
			     "192.0.2.0/24\n198.51.100.7\n2001:db8::/32\n::ffff:203.0.113.9\n"),
		  LIST_BLOCK, 3600 * NS, "feed",
		  "block add 192.0.2.0/24 ttl 1h comment \"feed\"\n"
		  "block add 198.51.100.7 ttl 1h comment \"feed\"\n"
		  "block add 2001:db8::/32 ttl 1h comment \"feed\"\n"
		  "block add 203.0.113.9 ttl 1h comment \"feed\"\n");
	import_ok(path_of("plain"), LIST_ALLOW, 0, NULL,
		  "allow add 192.0.2.0/24\n"
		  "allow add 198.51.100.7\n"
		  "allow add 2001:db8::/32\n"
		  "allow add 203.0.113.9\n");
	import_ok(WRITE_TEXT("empty", ""), LIST_BLOCK, 0, "", "");
}

static void test_spamhaus(void **state)
{
	(void)state;
	import_ok(WRITE_TEXT("spamhaus",
			     "; Spamhaus DROP List 2024/01/01 - (c) 2024 The Spamhaus Project\n"
			     "; https://www.spamhaus.org/drop/drop.txt\n"
			     "; Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\n"
			     "; Expires: Mon, 01 Jan 2024 01:00:00 GMT\n"
			     "203.0.113.0/24 ; SBL123\n"
			     "198.51.100.0/22 ; SBL456\n"),
		  LIST_BLOCK, 0, "spamhaus",
		  "block add 203.0.113.0/24 comment \"spamhaus\"\n"
		  "block add 198.51.100.0/22 comment \"spamhaus\"\n");
	/* Without a comment of the import's own, each entry keeps its SBL id. */
	import_ok(path_of("spamhaus"), LIST_BLOCK, 0, NULL,
		  "block add 203.0.113.0/24 comment \"SBL123\"\n"
		  "block add 198.51.100.0/22 comment \"SBL456\"\n");
	import_ok(path_of("spamhaus"), LIST_BLOCK, 0, "",
		  "block add 203.0.113.0/24 comment \"SBL123\"\n"
		  "block add 198.51.100.0/22 comment \"SBL456\"\n");
	/* Other remarks are no ids: dropped as before. */
	import_ok(WRITE_TEXT("remarks", "192.0.2.0/24;SBL583049\r\n"
					"198.51.100.0/24 ; not an id\n"
					"203.0.113.0/24 ; SBL\n"
					"203.0.113.128/25 ; SBL12x\n"
					"2001:db8::/32 # SBL999\n"
					"2001:db8:1::/48 ; SBL1 SBL2\n"),
		  LIST_BLOCK, 0, NULL,
		  "block add 192.0.2.0/24 comment \"SBL583049\"\n"
		  "block add 198.51.100.0/24\n"
		  "block add 203.0.113.0/24\n"
		  "block add 203.0.113.128/25\n"
		  "block add 2001:db8::/32\n"
		  "block add 2001:db8:1::/48 comment \"SBL1\"\n");
}

/* A Spamhaus DROP v4 JSON feed as published: a record a line, then the metadata. */
#define DROP_V4_JSON                                                                               \
	"{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL583049\",\"rir\":\"arin\"}\n"                   \
	"{\"cidr\":\"198.51.100.0/22\",\"sblid\":\"SBL604112\",\"rir\":\"ripencc\"}\n"             \
	"{\"cidr\":\"203.0.113.0/24\",\"sblid\":\"SBL211796\",\"rir\":\"apnic\"}\n"                \
	"{\"type\":\"metadata\",\"timestamp\":1733356800,\"size\":181,\"records\":3,"              \
	"\"copyright\":\"(c) 2024 The Spamhaus Project SLU\","                                     \
	"\"terms\":\"https://www.spamhaus.org/drop/terms/\"}\n"
static const char drop_v4_json[] = DROP_V4_JSON;

static const char drop_v6_json[] =
	"{\"cidr\":\"2001:db8::/32\",\"sblid\":\"SBL303633\",\"rir\":\"lacnic\"}\n"
	"{\"type\":\"metadata\",\"timestamp\":1733356800,\"size\":65,\"records\":1,"
	"\"copyright\":\"(c) 2024 The Spamhaus Project SLU\","
	"\"terms\":\"https://www.spamhaus.org/drop/terms/\"}\n";

static void test_spamhaus_json(void **state)
{
	char both[sizeof(drop_v4_json) + sizeof(drop_v6_json)];

	(void)state;
	import_ok(WRITE_TEXT("drop_v4.json", drop_v4_json), LIST_BLOCK, 86400 * NS, NULL,
		  "block add 192.0.2.0/24 ttl 1d comment \"SBL583049\"\n"
		  "block add 198.51.100.0/22 ttl 1d comment \"SBL604112\"\n"
		  "block add 203.0.113.0/24 ttl 1d comment \"SBL211796\"\n");
	/* The import's comment wins over the ids. */
	import_ok(path_of("drop_v4.json"), LIST_BLOCK, 0, "drop",
		  "block add 192.0.2.0/24 comment \"drop\"\n"
		  "block add 198.51.100.0/22 comment \"drop\"\n"
		  "block add 203.0.113.0/24 comment \"drop\"\n");
	/* Gzipped, and the two feeds one after the other, each closed by its metadata. */
	snprintf(both, sizeof(both), "%s%s", drop_v4_json, drop_v6_json);
	import_ok(write_gzip("drop.json.gz", both), LIST_BLOCK, 0, NULL,
		  "block add 192.0.2.0/24 comment \"SBL583049\"\n"
		  "block add 198.51.100.0/22 comment \"SBL604112\"\n"
		  "block add 203.0.113.0/24 comment \"SBL211796\"\n"
		  "block add 2001:db8::/32 comment \"SBL303633\"\n");
	/* CRLF, blanks, a record without an id, a metadata line without a count, key order. */
	import_ok(WRITE_TEXT("loose.json", "\r\n"
					   "# fetched 2024-12-05\r\n"
					   "  { \"rir\": \"arin\", \"cidr\": \"192.0.2.0/25\" }\r\n"
					   "{\"sblid\":\"SBL1\",\"cidr\":\"192.0.2.128/25\"}\r\n"
					   "\r\n"
					   "{\"type\":\"metadata\"}"),
		  LIST_ALLOW, 0, NULL,
		  "allow add 192.0.2.0/25\n"
		  "allow add 192.0.2.128/25 comment \"SBL1\"\n");
	/* Nothing but the metadata of an empty feed. */
	import_ok(WRITE_TEXT("empty.json", "{\"type\":\"metadata\",\"records\":0}\n"), LIST_BLOCK,
		  0, NULL, "");
}

static void test_spamhaus_json_refused(void **state)
{
	char cut[sizeof(drop_v4_json)];
	const char *nl;

	(void)state;
	/* A download cut at a line's end: no metadata line. */
	nl = strstr(drop_v4_json, "{\"type\"");
	assert_non_null(nl);
	import_fails(write_file("cut.json", drop_v4_json, nl - drop_v4_json), -EINVAL, 0, 0,
		     "JSON feed without its closing metadata line: truncated, nothing imported");
	snprintf(cut, sizeof(cut), "%.*s", (int)(nl - drop_v4_json), drop_v4_json);
	import_fails(write_gzip("cut.json.gz", cut), -EINVAL, 0, 0,
		     "JSON feed without its closing metadata line: truncated, nothing imported");
	/* Cut in the middle of a line. */
	import_fails(write_file("cut.json", drop_v4_json, 70), -EINVAL, 2, 13,
		     "JSON: premature end of input near '\"198.'");
	/* A record lost, and the count says so. */
	snprintf(cut, sizeof(cut), "%s", strchr(drop_v4_json, '\n') + 1);
	import_fails(write_file("short.json", cut, strlen(cut)), -EINVAL, 3, 0,
		     "metadata says 3 records, the feed has 2: truncated or damaged, nothing "
		     "imported");
	/* The second feed of two cut short. */
	import_fails(WRITE_TEXT("two.json", "{\"type\":\"metadata\",\"records\":0}\n"
					    "{\"cidr\":\"2001:db8::/32\"}\n"),
		     -EINVAL, 0, 0,
		     "1 JSON records after the metadata line 1 and no metadata line closing "
		     "them: truncated, nothing imported");
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":\"192.0.2.0/24\"}\n"
					    "{\"type\":\"metadata\",\"records\":\"1\"}\n"),
		     -EINVAL, 2, 0, "metadata: \"records\" is not a count of records");
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":\"192.0.2.0/24\"}\n"
					    "{\"type\":\"metadata\",\"records\":-1}\n"),
		     -EINVAL, 2, 0, "metadata: \"records\" is not a count of records");
	/* Objects that are neither records nor metadata. */
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":\"192.0.2.0/24\"}\n"
					    "  {\"sblid\":\"SBL1\",\"rir\":\"arin\"}\n"),
		     -EINVAL, 2, 3, "JSON object with neither \"cidr\" nor \"type\":\"metadata\"");
	import_fails(WRITE_TEXT("bad.json", "{\"type\":\"header\",\"records\":0}\n"), -EINVAL, 1, 1,
		     "JSON object with neither \"cidr\" nor \"type\":\"metadata\"");
	/* Bad values, pointed at where the line has them. */
	import_fails(WRITE_TEXT("bad.json", "{\"sblid\":\"SBL1\",\"cidr\":\"192.0.2.1/24\"}\n"),
		     -EINVAL, 1, 25, "192.0.2.1/24: host bits set (did you mean 192.0.2.0/24?)");
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":\"300.0.2.0/24\"}\n"), -EINVAL, 1, 10,
		     "300.0.2.0/24: not an IPv4 or IPv6 prefix");
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":24}\n"), -EINVAL, 1, 0,
		     "\"cidr\": expected a string with a prefix");
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":\"192.0.2.0/24\",\"sblid\":1}\n"), -EINVAL,
		     1, 0, "\"sblid\": expected a string");
	/* Not JSON, or more than one object; jansson points at the token it stopped in. */
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":\"192.0.2.0/24\",}\n"), -EINVAL, 1, 24,
		     "JSON: string or '}' expected near '}'");
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":\"192.0.2.0/24\"} {}\n"), -EINVAL, 1, 25,
		     "JSON: end of file expected near '{'");
	import_fails(
		WRITE_TEXT("bad.json", "{\"cidr\":\"192.0.2.0/24\",\"cidr\":\"2001:db8::/32\"}\n"),
		-EINVAL, 1, 29, "JSON: duplicate object key near '\"cidr\"'");
	import_fails(WRITE_TEXT("bad.json", "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"\xff\"}\n"),
		     -EINVAL, 1, 32, "JSON: unable to decode byte 0xff near '\"'");
}

static void test_firehol(void **state)
{
	(void)state;
	import_ok(WRITE_TEXT("firehol", "#\n"
					"# firehol_level1\n"
					"#\n"
					"# ipv4 hash:net ipset\n"
					"#\n"
					"# Maintainer      : FireHOL\n"
					"#\n"
					"0.0.0.0/8\n"
					"192.0.2.1\n"
					"\n"
					"224.0.0.0/3\n"),
		  LIST_BLOCK, 86400 * NS, NULL,
		  "block add 0.0.0.0/8 ttl 1d\n"
		  "block add 192.0.2.1 ttl 1d\n"
		  "block add 224.0.0.0/3 ttl 1d\n");
}

/* firehol_level1.netset as update-ipsets.sh writes it, with documentation prefixes. */
static const char firehol_netset[] = "#\n"
				     "# firehol_level1\n"
				     "#\n"
				     "# ipv4 hash:net ipset\n"
				     "#\n"
				     "# A firewall blacklist composed from IP lists, providing\n"
				     "# maximum protection with minimum false positives. Suitable\n"
				     "# for basic protection on all internet facing servers,\n"
				     "# routers and firewalls. (includes: bambenek_c2 dshield\n"
				     "# feodo fullbogons spamhaus_drop spamhaus_edrop sslbl)\n"
				     "#\n"
				     "# Maintainer      : FireHOL\n"
				     "# Maintainer URL  : http://iplists.firehol.org/\n"
				     "# List source URL : \n"
				     "# Source File Date: Thu Dec  5 23:52:11 UTC 2024\n"
				     "#\n"
				     "# Category        : attacks\n"
				     "# Version         : 40196\n"
				     "#\n"
				     "# This File Date  : Thu Dec  5 23:59:02 UTC 2024\n"
				     "# Update Frequency: 1 min\n"
				     "# Aggregation     : none\n"
				     "# Entries         : 3 subnets, 385 unique IPs\n"
				     "#\n"
				     "# Full list analysis, including geolocation map, history,\n"
				     "# retention policy, overlaps with other lists, etc.\n"
				     "# available at:\n"
				     "#\n"
				     "#  http://iplists.firehol.org/?ipset=firehol_level1\n"
				     "#\n"
				     "# Generated by FireHOL's update-ipsets.sh\n"
				     "# Processed with FireHOL's iprange\n"
				     "#\n"
				     "192.0.2.0/24\n"
				     "198.51.100.7\n"
				     "203.0.113.0/25\n";

static void test_firehol_header(void **state)
{
	(void)state;
	/* The header's ": " and "(includes: ...)" are comments, not ids or entries. */
	import_ok(WRITE_TEXT("firehol_level1.netset", firehol_netset), LIST_BLOCK, 0, NULL,
		  "block add 192.0.2.0/24\n"
		  "block add 198.51.100.7\n"
		  "block add 203.0.113.0/25\n");
	import_ok(write_gzip("firehol_level1.netset.gz", firehol_netset), LIST_BLOCK, 0, "firehol",
		  "block add 192.0.2.0/24 comment \"firehol\"\n"
		  "block add 198.51.100.7 comment \"firehol\"\n"
		  "block add 203.0.113.0/25 comment \"firehol\"\n");
}

/* `ipset save` of two sets, with the options sets made with timeout, counters, comment. */
static const char ipset_save[] =
	"create sluice-drop hash:net family inet hashsize 1024 maxelem 65536 timeout 600 "
	"counters comment bucketsize 12 initval 0x5c3b2e1f\n"
	"add sluice-drop 192.0.2.0/24 timeout 412 packets 0 bytes 0 comment \"SBL583049\"\n"
	"add sluice-drop 198.51.100.7 timeout 598 packets 12 bytes 720 comment \"ssh scanner #4\"\n"
	"add sluice-drop 203.0.113.0/25 timeout 0 packets 0 bytes 0\n"
	"create sluice-hosts6 hash:ip family inet6 hashsize 1024 maxelem 65536\n"
	"add sluice-hosts6 2001:db8::1\n"
	"add sluice-hosts6 2001:db8::53 skbmark 0x1/0xff skbprio 1:10 skbqueue 3\n";

static void test_ipset(void **state)
{
	(void)state;
	import_ok(WRITE_TEXT("ipset.save", ipset_save), LIST_BLOCK, 3600 * NS, NULL,
		  "block add 192.0.2.0/24 ttl 1h comment \"SBL583049\"\n"
		  "block add 198.51.100.7 ttl 1h comment \"ssh scanner #4\"\n"
		  "block add 203.0.113.0/25 ttl 1h\n"
		  "block add 2001:db8::1 ttl 1h\n"
		  "block add 2001:db8::53 ttl 1h\n");
	import_ok(write_gzip("ipset.save.gz", ipset_save), LIST_ALLOW, 0, "from ipset",
		  "allow add 192.0.2.0/24 comment \"from ipset\"\n"
		  "allow add 198.51.100.7 comment \"from ipset\"\n"
		  "allow add 203.0.113.0/25 comment \"from ipset\"\n"
		  "allow add 2001:db8::1 comment \"from ipset\"\n"
		  "allow add 2001:db8::53 comment \"from ipset\"\n");
	/* `add` lines alone, as an ipset restore file may have them; tabs and CRLF. */
	import_ok(WRITE_TEXT("ipset.restore",
			     "# saved by hand\n"
			     "add\tdrop 192.0.2.0/24 comment unquoted\r\n"
			     "add drop 198.51.100.0/24 comment \"a \\\"quoted\\\" word\"\n"),
		  LIST_BLOCK, 0, NULL,
		  "block add 192.0.2.0/24 comment \"unquoted\"\n"
		  "block add 198.51.100.0/24 comment \"a \\\"quoted\\\" word\"\n");
}

static void test_ipset_refused(void **state)
{
	(void)state;
	import_fails(WRITE_TEXT("bad.save", "create s hash:net family inet\n"
					    "add s 192.0.2.0/24\n"
					    "add s 198.51.100.0/24 nomatch\n"),
		     -EINVAL, 3, 23, "nomatch: an exception to the set, which a list cannot hold");
	import_fails(WRITE_TEXT("bad.save", "add s 192.0.2.0/24 timeout 60 expires 5\n"), -EINVAL,
		     1, 31,
		     "unknown ipset option \"expires\" (known: comment, timeout, packets, bytes, "
		     "skbmark, skbprio, skbqueue, nomatch)");
	import_fails(WRITE_TEXT("bad.save", "add s 192.0.2.0/24 timeout\n"), -EINVAL, 1, 20,
		     "timeout: expected a value");
	import_fails(WRITE_TEXT("bad.save", "create svc hash:ip,port family inet\n"
					    "add svc 192.0.2.1,tcp:80\n"),
		     -EINVAL, 1, 12,
		     "set type \"hash:ip,port\": only hash:net and hash:ip sets hold plain "
		     "addresses and prefixes");
	import_fails(WRITE_TEXT("bad.save", "create nets hash:ip family inet netmask 24\n"),
		     -EINVAL, 1, 33,
		     "hash:ip with netmask: its entries are networks saved as addresses");
	import_fails(WRITE_TEXT("bad.save", "create s\n"), -EINVAL, 1, 1,
		     "create: expected a set name and a type");
	import_fails(WRITE_TEXT("bad.save", "add s\n"), -EINVAL, 1, 1,
		     "add: expected a set name and an entry");
	import_fails(WRITE_TEXT("bad.save", "add s 192.0.2.0-192.0.2.255\n"), -EINVAL, 1, 7,
		     "192.0.2.0-192.0.2.255: not an IPv4 or IPv6 prefix");
	import_fails(WRITE_TEXT("bad.save", "add s 192.0.2.0/24 comment \"open\n"), -EINVAL, 1, 28,
		     "unterminated quote: no closing \" before the end of the line");
}

/* The first line that says anything sets the format; a line in another is refused. */
static void test_mixed_formats(void **state)
{
	(void)state;
	import_fails(WRITE_TEXT("mixed", "# feed\n192.0.2.0/24\n{\"cidr\":\"198.51.100.0/24\"}\n"),
		     -EINVAL, 3, 1,
		     "mixed formats: a JSON object in a text list (the format of line 2)");
	import_fails(WRITE_TEXT("mixed", "192.0.2.0/24\n  add s 198.51.100.0/24\n"), -EINVAL, 2, 3,
		     "mixed formats: an ipset line in a text list (the format of line 1)");
	import_fails(WRITE_TEXT("mixed", DROP_V4_JSON "203.0.113.0/24 ; SBL1\n"), -EINVAL, 5, 1,
		     "mixed formats: a text line in a JSON feed (the format of line 1)");
	import_fails(WRITE_TEXT("mixed", "{\"cidr\":\"192.0.2.0/24\"}\ncreate s hash:net\n"),
		     -EINVAL, 2, 1,
		     "mixed formats: an ipset line in a JSON feed (the format of line 1)");
	import_fails(WRITE_TEXT("mixed", "\n; x\nadd s 192.0.2.0/24\n192.0.2.0/24\n"), -EINVAL, 4,
		     1, "mixed formats: a text line in an ipset save file (the format of line 3)");
	import_fails(WRITE_TEXT("mixed", "add s 192.0.2.0/24\n{\"type\":\"metadata\"}\n"), -EINVAL,
		     2, 1,
		     "mixed formats: a JSON object in an ipset save file (the format of line 1)");
	/* Gzip changes nothing. */
	import_fails(write_gzip("mixed.gz", "192.0.2.0/24\n{}\n"), -EINVAL, 2, 1,
		     "mixed formats: a JSON object in a text list (the format of line 1)");
}

/* Ids and comments from records: cut to 39 bytes, refused when not printable ASCII. */
static void test_record_comments(void **state)
{
	(void)state;
	import_ok(WRITE_TEXT("long.save", "add s 192.0.2.0/24 comment "
					  "\"blocked after 300 failed logins from here\"\n"),
		  LIST_BLOCK, 0, NULL,
		  "block add 192.0.2.0/24 comment \"blocked after 300 failed logins from he\"\n");
	import_ok(WRITE_TEXT("long.json",
			     "{\"cidr\":\"2001:db8::/32\","
			     "\"sblid\":\"SBL0123456789012345678901234567890123456789\"}\n"
			     "{\"type\":\"metadata\",\"records\":1}\n"),
		  LIST_BLOCK, 0, NULL,
		  "block add 2001:db8::/32 comment \"SBL012345678901234567890123456789012345\"\n");
	import_ok(WRITE_TEXT("long.txt",
			     "192.0.2.0/24 ; SBL0123456789012345678901234567890123456789\n"),
		  LIST_BLOCK, 0, NULL,
		  "block add 192.0.2.0/24 comment \"SBL012345678901234567890123456789012345\"\n");
	import_refused(WRITE_TEXT("utf8.save", "add s 192.0.2.0/24 comment \"caf\xc3\xa9\"\n"),
		       NULL, -EINVAL, 1, 32,
		       "comment: only printable ASCII, got byte 0xc3 in \"caf\\xc3\\xa9\"");
	import_refused(
		WRITE_TEXT("tab.json", "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL\\t1\"}\n"), NULL,
		-EINVAL, 1, 0, "comment: only printable ASCII, got byte 0x09 in \"SBL\\x091\"");
	/* The import's own comment replaces them, so such a feed can still be read. */
	import_ok(path_of("utf8.save"), LIST_BLOCK, 0, "cafe",
		  "block add 192.0.2.0/24 comment \"cafe\"\n");
}

static void test_crlf_and_blanks(void **state)
{
	(void)state;
	/* CRLF, trailing and leading blanks, comments after a prefix, no final newline. */
	import_ok(WRITE_TEXT("crlf", "192.0.2.0/24\r\n"
				     "198.51.100.1  \r\n"
				     "\t10.0.0.0/8\t\r\n"
				     "   \r\n"
				     "2001:db8::1 # a host\r\n"
				     "172.16.0.0/12"),
		  LIST_ALLOW, 0, NULL,
		  "allow add 192.0.2.0/24\n"
		  "allow add 198.51.100.1\n"
		  "allow add 10.0.0.0/8\n"
		  "allow add 2001:db8::1\n"
		  "allow add 172.16.0.0/12\n");
}

static void test_duplicates_kept(void **state)
{
	char block[] = "block add 10.0.0.0/8 ttl 1h";
	struct parse_error err;
	struct policy_doc doc;
	char *got;

	(void)state;
	/* Items go to the list maps, which hold a prefix once: import drops nothing. */
	WRITE_TEXT("dups", "192.0.2.0/24\n10.0.0.0/8\n192.0.2.0/24\n");
	policy_init(&doc);
	assert_int_equal(policy_parse_line(&doc, block, &err), 0);
	assert_int_equal(import_list(path_of("dups"), LIST_BLOCK, 0, NULL, &doc, &err), 0);
	got = doc_lines(&doc, 0);
	assert_string_equal(got, "block add 10.0.0.0/8 ttl 1h\n"
				 "block add 192.0.2.0/24\n"
				 "block add 10.0.0.0/8\n"
				 "block add 192.0.2.0/24\n");
	free(got);
	policy_free(&doc);
}

static const char gz_text[] = "# compressed feed\n"
			      "192.0.2.0/24\n"
			      "198.51.100.0/24 ; SBL1\n";

static void test_gzip(void **state)
{
	char *text = malloc(200000 * 16 + 1), *got;
	struct parse_error err;
	struct policy_doc doc;
	size_t i, off = 0;

	(void)state;
	import_ok(write_gzip("list.gz", gz_text), LIST_BLOCK, 0, NULL,
		  "block add 192.0.2.0/24\nblock add 198.51.100.0/24 comment \"SBL1\"\n");

	/* Over a MiB inflated, so lines are carried from one read to the next. */
	assert_non_null(text);
	for (i = 0; i < 200000; i++)
		off += sprintf(text + off, "10.%zu.%zu.%zu\n", i >> 16, i >> 8 & 0xff, i & 0xff);
	assert_true(off > (1 << 20));
	write_gzip("list.gz", text);
	free(text);
	policy_init(&doc);
	assert_int_equal(import_list(path_of("list.gz"), LIST_BLOCK, 0, NULL, &doc, &err), 0);
	assert_int_equal(doc.nitems, 200000);
	got = doc_lines(&doc, 199999);
	assert_string_equal(got, "block add 10.3.13.63\n"); /* 199999 = 0x30d3f */
	free(got);
	policy_free(&doc);
}

/* Runs import_list() on "-" with FD as standard input. */
static int import_stdin(int fd, struct policy_doc *doc, struct parse_error *err)
{
	int saved = dup(STDIN_FILENO), ret;

	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDIN_FILENO), STDIN_FILENO);
	close(fd);
	ret = import_list("-", LIST_BLOCK, 0, NULL, doc, err);
	assert_int_equal(dup2(saved, STDIN_FILENO), STDIN_FILENO);
	close(saved);
	return ret;
}

/* Imports LEN bytes of DATA from a pipe as stdin into an empty DOC. */
static int import_pipe(const void *data, size_t len, struct policy_doc *doc,
		       struct parse_error *err)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], data, len), (ssize_t)len);
	close(fds[1]);
	doc->nitems = 0;
	return import_stdin(fds[0], doc, err);
}

static void test_stdin(void **state)
{
	struct parse_error err;
	struct policy_doc doc;
	size_t len;
	unsigned char *gz = read_whole(write_gzip("list.gz", gz_text), &len);
	char *got;

	(void)state;
	policy_init(&doc);
	/* A regular file as stdin: its magic is read in place. */
	assert_int_equal(import_stdin(open(path_of("list.gz"), O_RDONLY), &doc, &err), 0);
	assert_string_equal(err.file, "-");
	assert_int_equal(doc.nitems, 2);

	/* A pipe cannot be peeked at: zlib sees the magic instead. */
	assert_int_equal(import_pipe(gz, len, &doc, &err), 0);
	got = doc_lines(&doc, 0);
	assert_string_equal(got,
			    "block add 192.0.2.0/24\nblock add 198.51.100.0/24 comment \"SBL1\"\n");
	free(got);
	assert_int_equal(import_pipe("2001:db8::/48\n", 14, &doc, &err), 0);
	got = doc_lines(&doc, 0);
	assert_string_equal(got, "block add 2001:db8::/48\n");
	free(got);

	/* A corrupt stream through a pipe is still a gzip error. */
	gz[len / 2] ^= 0xff;
	gz[len / 2 + 1] ^= 0xff;
	assert_int_equal(import_pipe(gz, len, &doc, &err), -EINVAL);
	assert_int_equal(strncmp(err.msg, "corrupt gzip data: ", 19), 0);
	assert_int_equal(err.line, 0);
	assert_int_equal(doc.nitems, 0);
	free(gz);
	policy_free(&doc);
}

static void test_bad_lines(void **state)
{
#define TEXT(s) s, sizeof(s) - 1
	static const struct {
		const char *text;
		size_t len;
		unsigned int line, column;
		const char *msg;
	} rows[] = {
		{ TEXT("192.0.2.0/24\n198.51.100.0/24\n300.1.2.3\n10.0.0.0/8\n"), 3, 1,
		  "300.1.2.3: not an IPv4 or IPv6 prefix" },
		{ TEXT("; header\n192.0.2.1/24 ; SBL9\n"), 2, 1,
		  "192.0.2.1/24: host bits set (did you mean 192.0.2.0/24?)" },
		{ TEXT("10.0.0.0/8\n  10.0.0.0/33\n"), 2, 3,
		  "prefix length 33 out of range for IPv4 (0-32)" },
		{ TEXT("192.0.2.1 198.51.100.1\n"), 1, 1,
		  "expected one address or prefix a line, got \"192.0.2.1 198.51.100.1\"" },
		{ TEXT("192.0.2.1\n\n10.0.0.0/8 junk ; x\r\n"), 3, 1,
		  "expected one address or prefix a line, got \"10.0.0.0/8 junk\"" },
		{ TEXT("10.0.0.1\n\x01\x02garbage\n"), 2, 1,
		  "byte 0x01 where an address or prefix was expected: not a text list" },
		{ TEXT("10.0.0.1\n10.0.\0.2\n"), 2, 6,
		  "byte 0x00 where an address or prefix was expected: not a text list" },
	};
#undef TEXT
	char lines[GRAMMAR_LINE_MAX + 100];
	size_t off, i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		import_fails(write_file("bad", rows[i].text, rows[i].len), -EINVAL, rows[i].line,
			     rows[i].column, rows[i].msg);

	off = snprintf(lines, sizeof(lines), "192.0.2.0/24\n");
	memset(lines + off, ' ', GRAMMAR_LINE_MAX + 1);
	off += GRAMMAR_LINE_MAX + 1;
	lines[off++] = '\n';
	import_fails(write_file("long", lines, off), -EINVAL, 2, 0, "line longer than 4096 bytes");
	/* Without its newline at the end of the file. */
	import_fails(write_file("long", lines, off - 1), -EINVAL, 2, 0,
		     "line longer than 4096 bytes");

	import_fails(path_of("missing"), -ENOENT, 0, 0, "cannot open: No such file or directory");
}

static void test_bad_comment(void **state)
{
	struct parse_error err;
	struct policy_doc doc;

	(void)state;
	policy_init(&doc);
	assert_int_equal(import_list(path_of("missing"), LIST_BLOCK, 0,
				     "a comment that is longer than thirty-nine bytes", &doc, &err),
			 -EINVAL);
	assert_string_equal(err.msg, "comment: at most 39 bytes, got 47 in "
				     "\"a comment that is longer than thirty-nine bytes\"");
	assert_int_equal(import_list(path_of("missing"), LIST_BLOCK, 0, "tab\there", &doc, &err),
			 -EINVAL);
	assert_string_equal(err.msg,
			    "comment: only printable ASCII, got byte 0x09 in \"tab\\x09here\"");
	assert_int_equal(doc.nitems, 0);
	policy_free(&doc);
}

/* Imports a damaged gzip file: the error names the stream, not a line, and the doc is unchanged. */
static void import_damaged(const char *name, const void *data, size_t len, const char *want)
{
	struct parse_error err;
	struct policy_doc doc;

	policy_init(&doc);
	write_file(name, data, len);
	assert_int_equal(import_list(path_of(name), LIST_BLOCK, 0, NULL, &doc, &err), -EINVAL);
	assert_string_equal(err.file, path_of(name));
	if (strncmp(err.msg, want, strlen(want)))
		fail_msg("%s: \"%s\" does not start with \"%s\"\n", name, err.msg, want);
	assert_int_equal(err.line, 0);
	assert_int_equal(doc.nitems, 0);
	policy_free(&doc);
}

static void test_corrupt_gzip(void **state)
{
	char *text = malloc(20000 * 16 + 1);
	unsigned char *gz, *damaged;
	size_t i, off = 0, len;

	(void)state;
	/* Enough text that the damage falls in compressed data, not in its header. */
	assert_non_null(text);
	for (i = 0; i < 20000; i++)
		off += sprintf(text + off, "10.%zu.%zu.%zu\n", i / 65536, i / 256 % 256, i % 256);
	gz = read_whole(write_gzip("list.gz", text), &len);
	free(text);
	damaged = malloc(len);
	assert_non_null(damaged);

	/* Flipped bytes in the middle. */
	memcpy(damaged, gz, len);
	for (i = len / 2; i < len / 2 + 8; i++)
		damaged[i] ^= 0x5a;
	import_damaged("corrupt.gz", damaged, len, "corrupt gzip data: ");
	/* A wrong checksum only shows at the very end. */
	memcpy(damaged, gz, len);
	damaged[len - 8] ^= 0x01;
	import_damaged("corrupt.gz", damaged, len, "corrupt gzip data: incorrect data check");
	/*
	 * Stored, not compressed, and longer than a read: a damaged byte inflates to a
	 * bad first line, and only the checksum at the end tells. The stream gets the
	 * blame, not the line.
	 */
	{
		gzFile out = gzopen(path_of("stored.gz"), "wb0");
		unsigned char *stored, *at;
		size_t stored_len;

		assert_non_null(out);
		assert_int_equal(gzputs(out, "198.51.100.0/24\n"), 16);
		for (i = 0; i < 100000; i++)
			assert_true(gzprintf(out, "10.%zu.%zu.%zu\n", i >> 16, i >> 8 & 0xff,
					     i & 0xff) > 0);
		assert_int_equal(gzclose(out), Z_OK);
		stored = read_whole(path_of("stored.gz"), &stored_len);
		at = memmem(stored, stored_len, "198.51", 6);
		assert_non_null(at);
		*at = 'x';
		import_damaged("corrupt.gz", stored, stored_len,
			       "corrupt gzip data: incorrect data check");
		free(stored);
	}
	/* Cut short: the last lines and the trailer are missing. */
	import_damaged("truncated.gz", gz, len - 100, "corrupt gzip data: unexpected end of file");
	/* The magic and nothing sensible after it. */
	import_damaged("corrupt.gz", "\x1f\x8bnot really gzip\n", 17,
		       "corrupt gzip data: unknown compression method");
	import_fails(path_of("corrupt.gz"), -EINVAL, 0, 0,
		     "corrupt gzip data: unknown compression method");
	free(damaged);
	free(gz);
}

static void test_million(void **state)
{
	const char *path = path_of("million");
	struct timespec t0, t1;
	struct parse_error err;
	struct policy_doc doc;
	double secs;
	FILE *f = fopen(path, "w");
	unsigned int i;
	char *last;

	(void)state;
	assert_non_null(f);
	fputs("# generated: a million prefixes, a quarter of them /24s, some IPv6\n", f);
	for (i = 0; i < MILLION; i++) {
		if (i % 4 == 3)
			fprintf(f, "%u.%u.%u.0/24\n", 100 + i / 65536 % 100, i / 256 % 256,
				i % 256);
		else if (i % 16 == 5)
			fprintf(f, "2001:db8:%x:%x::/64\n", i >> 16, i & 0xffff);
		else
			fprintf(f, "%u.%u.%u.%u\n", 10 + (i >> 24), i >> 16 & 0xff, i >> 8 & 0xff,
				i & 0xff);
	}
	assert_int_equal(fclose(f), 0);

	policy_init(&doc);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(import_list(path, LIST_BLOCK, 0, NULL, &doc, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# import of %d lines: %.3f s\n", MILLION, secs);
	assert_int_equal(doc.nitems, MILLION);
	last = doc_lines(&doc, MILLION - 1);
	assert_string_equal(last, "block add 115.66.63.0/24\n"); /* i = 999999 */
	free(last);
	assert_true(secs < IMPORT_SECONDS_MAX);
	policy_free(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_spamhaus),
		cmocka_unit_test(test_firehol),
		cmocka_unit_test(test_crlf_and_blanks),
		cmocka_unit_test(test_duplicates_kept),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_stdin),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_comment),
		cmocka_unit_test(test_corrupt_gzip),
		cmocka_unit_test(test_million),
		cmocka_unit_test(test_spamhaus_json),
		cmocka_unit_test(test_spamhaus_json_refused),
		cmocka_unit_test(test_firehol_header),
		cmocka_unit_test(test_ipset),
		cmocka_unit_test(test_ipset_refused),
		cmocka_unit_test(test_mixed_formats),
		cmocka_unit_test(test_record_comments),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
