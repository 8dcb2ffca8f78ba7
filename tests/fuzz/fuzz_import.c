// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Feed import (plain, DROP text and JSON, ipset save): the bytes as a file (gzip when
 * they start with 1f 8b), the same bytes gzip-compressed here, and the bytes through
 * a pipe on stdin. All or nothing: on an error the doc is as it was. The three ways
 * must agree with each other. Inputs of odd length are imported with a comment, the
 * others without, so that the ids and comments of records reach the items.
 */
#include <fcntl.h>
#include <zlib.h>
#include "fuzz.h"
#include "import.h"

#define PIPE_MAX 65536 /* a pipe takes this much without a reader */
#define TTL_NS 3600000000000ULL
#define COMMENT "fuzz feed"

struct outcome {
	int ret;
	struct parse_error err;
	struct policy_doc doc;
};

/* Items the doc holds before every import, so a failed one can be seen to leave them. */
static void prefill(struct policy_doc *doc)
{
	struct parse_error err;
	struct list_item item;

	policy_init(doc);
	memset(&item, 0, sizeof(item));
	item.kind = LIST_ALLOW;
	if (parse_prefix("198.51.100.0/24", &item.prefix, &err) || policy_add_item(doc, &item) ||
	    parse_prefix("2001:db8::/32", &item.prefix, &err) || policy_add_item(doc, &item))
		abort();
}

static void import(struct outcome *o, const char *path, const char *comment)
{
	struct list_item first[2];
	struct parse_error err;
	char canon[SLUICE_COMMENT_LEN];
	size_t n;

	prefill(&o->doc);
	n = o->doc.nitems;
	memcpy(first, o->doc.items, sizeof(first));
	o->ret = import_list(path, LIST_BLOCK, TTL_NS, comment, &o->doc, &o->err);
	if (o->ret) {
		FUZZ_ASSERT(o->err.msg[0], "error %d without a message", o->ret);
		FUZZ_ASSERT(o->doc.nitems == n, "failed import (%s) left %zu items, had %zu",
			    o->err.msg, o->doc.nitems, n);
	}
	FUZZ_ASSERT(o->doc.nitems >= n, "import lost items: %zu, had %zu", o->doc.nitems, n);
	/* The items that were there are untouched; realloc() may have moved them. */
	FUZZ_ASSERT(!memcmp(first, o->doc.items, sizeof(first)),
		    "the items before the import changed");
	for (size_t i = n; i < o->doc.nitems; i++) {
		const struct list_item *it = &o->doc.items[i];

		FUZZ_ASSERT(it->kind == LIST_BLOCK && it->ttl_ns == TTL_NS &&
				    (!comment || !strcmp(it->comment, comment)),
			    "item %zu: kind %d ttl %llu comment \"%s\"", i, it->kind, it->ttl_ns,
			    it->comment);
		/* A record's own comment obeys the grammar's rules, NUL padding included. */
		FUZZ_ASSERT(memchr(it->comment, '\0', sizeof(it->comment)) &&
				    !parse_comment(it->comment, canon, &err) &&
				    !memcmp(canon, it->comment, sizeof(canon)),
			    "item %zu: comment \"%.*s\" breaks the comment rules", i,
			    (int)sizeof(it->comment), it->comment);
	}
}

static void import_bytes(struct outcome *o, const void *data, size_t size, const char *comment)
{
	char path[64];
	int fd = fuzz_file(data, size, path, sizeof(path));

	import(o, path, comment);
	close(fd);
}

/* Through a pipe on stdin, where import_list() cannot peek at the magic bytes. */
static void import_pipe(struct outcome *o, const void *data, size_t size, const char *comment)
{
	int fds[2], saved = dup(STDIN_FILENO);

	if (saved < 0 || pipe(fds) || (size && write(fds[1], data, size) != (ssize_t)size))
		abort();
	close(fds[1]);
	if (dup2(fds[0], STDIN_FILENO) < 0)
		abort();
	close(fds[0]);
	import(o, "-", comment);
	if (dup2(saved, STDIN_FILENO) < 0)
		abort();
	close(saved);
}

static void gzip_bytes(const uint8_t *data, size_t size, uint8_t **out, size_t *out_len)
{
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	/* 16 + MAX_WBITS: a gzip header and trailer around the deflate stream. */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	*out_len = deflateBound(&zs, size) + 32;
	*out = malloc(*out_len);
	if (!*out)
		abort();
	zs.next_in = (Bytef *)data;
	zs.avail_in = size;
	zs.next_out = *out;
	zs.avail_out = *out_len;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	*out_len = zs.total_out;
	deflateEnd(&zs);
}

/* Two imports of the same content: same result, same error, same items. */
static void check_same(const char *what, const struct outcome *a, const struct outcome *b)
{
	FUZZ_ASSERT(a->ret == b->ret, "%s: %d (%s) against %d (%s)", what, a->ret, a->err.msg,
		    b->ret, b->err.msg);
	FUZZ_ASSERT(a->err.line == b->err.line && a->err.column == b->err.column &&
			    !strcmp(a->err.msg, b->err.msg),
		    "%s: error at %u:%u (%s) against %u:%u (%s)", what, a->err.line, a->err.column,
		    a->err.msg, b->err.line, b->err.column, b->err.msg);
	FUZZ_ASSERT(
		a->doc.nitems == b->doc.nitems && !memcmp(a->doc.items, b->doc.items,
							  a->doc.nitems * sizeof(a->doc.items[0])),
		"%s: %zu items against %zu, or different ones", what, a->doc.nitems, b->doc.nitems);
}

static struct outcome plain, gz, piped;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool magic = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
	const char *comment = size % 2 ? COMMENT : NULL;
	uint8_t *packed;
	size_t packed_len;

	import_bytes(&plain, data, size, comment);
	gzip_bytes(data, size, &packed, &packed_len);
	import_bytes(&gz, packed, packed_len, comment);
	/* Bytes that are themselves gzip decompress to other content the second time. */
	if (!magic)
		check_same("plain and gzip", &plain, &gz);
	if (size <= PIPE_MAX) {
		import_pipe(&piped, data, size, comment);
		check_same("file and pipe", &plain, &piped);
	}
	free(packed);
	policy_free(&plain.doc);
	policy_free(&gz.doc);
	policy_free(&piped.doc);
	return 0;
}
