// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* import_list(): plain, Spamhaus, FireHOL, CRLF and gzip feeds, bad lines, and its speed. */
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
		  "block add 192.0.2.0/24\nblock add 198.51.100.0/24\n");

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
	assert_string_equal(got, "block add 192.0.2.0/24\nblock add 198.51.100.0/24\n");
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

/* Imports PATH into a doc that holds one item already, expecting an error; the doc is unchanged. */
static void import_fails(const char *path, int ret, unsigned int line, unsigned int column,
			 const char *msg)
{
	struct parse_error err;
	struct policy_doc doc;
	struct list_item before;
	char text[] = "allow add 192.0.2.1 comment \"kept\"", out[GRAMMAR_ERR_LEN + 400];
	char want[GRAMMAR_ERR_LEN + 400];

	policy_init(&doc);
	assert_int_equal(policy_parse_line(&doc, text, &err), 0);
	before = doc.items[0];
	if (import_list(path, LIST_BLOCK, 0, "x", &doc, &err) != ret)
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
		cmocka_unit_test(test_plain),		cmocka_unit_test(test_spamhaus),
		cmocka_unit_test(test_firehol),		cmocka_unit_test(test_crlf_and_blanks),
		cmocka_unit_test(test_duplicates_kept), cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_stdin),		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_comment),	cmocka_unit_test(test_corrupt_gzip),
		cmocka_unit_test(test_million),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
