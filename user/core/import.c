// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Address feeds into list items: plain or gzip text, one address or prefix a line. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "import.h"

#define IMPORT_CHUNK (1U << 20) /* bytes read at a time, far more than the longest line allowed */
#define IMPORT_GZ_BUFFER (256U << 10)

struct importer {
	struct policy_doc *doc;
	struct list_item item; /* kind, ttl and comment for every prefix */
	struct parse_error *err;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int import_fail(struct parse_error *err, unsigned int column, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int import_fail(struct parse_error *err, unsigned int column, const char *fmt, ...)
{
	va_list ap;

	err->column = column;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* One line of LEN bytes, writable up to line[len]: a prefix, a comment or nothing. */
static int import_line(struct importer *im, char *line, size_t len)
{
	char *p = line, *end = line + len, *word, *q;
	int ret;

	if (len > GRAMMAR_LINE_MAX)
		return import_fail(im->err, 0, "line longer than %d bytes", GRAMMAR_LINE_MAX);
	for (q = line; q < end; q++) {
		unsigned char c = *q;

		if (c == '#' || c == ';') {
			end = q;
			break;
		}
		if ((c < 0x20 && !is_blank(c)) || c >= 0x7f)
			return import_fail(
				im->err, q - line + 1,
				"byte 0x%02x where an address or prefix was expected: not a text list",
				c);
	}
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end)
		return 0;
	*end = '\0';
	word = p;
	p += strcspn(p, " \t\v\f");
	if (*p)
		return import_fail(im->err, word - line + 1,
				   "expected one address or prefix a line, got \"%.48s\"", word);
	im->err->column = word - line + 1;
	ret = parse_prefix(word, &im->item.prefix, im->err);
	if (ret)
		return ret;
	/* Duplicates stay as listed: the list maps hold each prefix once anyway. */
	ret = policy_add_item(im->doc, &im->item);
	if (ret) {
		import_fail(im->err, 0, "out of memory after %zu items", im->doc->nitems);
		return ret;
	}
	im->err->column = 0;
	return 0;
}

/* The read error or damage gzread() met, as a message; 0 when the stream is fine so far. */
static int stream_error(gzFile gz, struct parse_error *err, int saved_errno)
{
	int errnum;
	const char *why = gzerror(gz, &errnum);

	if (errnum == Z_OK || errnum == Z_STREAM_END)
		return 0;
	err->line = 0;
	err->column = 0;
	if (errnum == Z_ERRNO) {
		saved_errno = saved_errno ? saved_errno : EIO;
		snprintf(err->msg, sizeof(err->msg), "read error: %s", strerror(saved_errno));
		return -saved_errno;
	}
	/* zlib names the stream "<fd:N>", which says less than err->file: drop it. */
	if (!strncmp(why, "<fd:", 4) && strstr(why, ">: "))
		why = strstr(why, ">: ") + 3;
	/* Z_BUF_ERROR is a stream cut short; the message says "unexpected end of file". */
	snprintf(err->msg, sizeof(err->msg), "corrupt gzip data: %s", why);
	return -EINVAL;
}

/* Splits what gzread() gives into lines; a last line without its newline counts too. */
static int read_lines(struct importer *im, gzFile gz, char *buf)
{
	struct parse_error *err = im->err;
	size_t have = 0;
	int got, ret;

	for (;;) {
		char *p = buf, *end, *nl;

		errno = 0;
		got = gzread(gz, buf + have, IMPORT_CHUNK - have);
		ret = stream_error(gz, err, errno);
		if (ret || got < 0)
			return ret ?: -EIO;
		have += got;
		end = buf + have;
		while ((nl = memchr(p, '\n', end - p))) {
			err->line++;
			ret = import_line(im, p, nl - p);
			if (ret)
				return ret;
			p = nl + 1;
		}
		have = end - p;
		/* The last line without its newline, or one too long to ever end in the buffer. */
		if (have && (!got || have > GRAMMAR_LINE_MAX)) {
			err->line++;
			return import_line(im, p, have);
		}
		if (!got)
			return 0;
		memmove(buf, p, have);
	}
}

/*
 * A damaged gzip stream can inflate to garbage for a while before zlib notices, so
 * a bad line in one is blamed on the stream when the rest of it turns out damaged.
 */
static int blame_stream(gzFile gz, char *buf, struct parse_error *err)
{
	int got;

	do {
		errno = 0;
		got = gzread(gz, buf, IMPORT_CHUNK);
	} while (got > 0);
	return stream_error(gz, err, errno);
}

int import_list(const char *path, enum list_kind kind, __u64 ttl_ns, const char *comment,
		struct policy_doc *doc, struct parse_error *err)
{
	struct importer im = { .doc = doc, .err = err };
	bool is_stdin = !strcmp(path, "-"), gzip;
	size_t nitems = doc->nitems;
	unsigned char magic[2];
	char *buf = NULL;
	gzFile gz;
	int fd, ret;

	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path);
	im.item.kind = kind;
	im.item.ttl_ns = ttl_ns;
	ret = parse_comment(comment ? comment : "", im.item.comment, err);
	if (ret)
		return ret;
	fd = is_stdin ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err->msg, sizeof(err->msg), "cannot open: %s", strerror(-ret));
		return ret;
	}
	/* A file shows its magic without losing it; a pipe's first bytes are left to zlib. */
	ret = pread(fd, magic, sizeof(magic), 0);
	gz = gzdopen(fd, "rb");
	buf = malloc(IMPORT_CHUNK + 1);
	if (!gz || !buf) {
		if (!gz)
			close(fd);
		ret = -ENOMEM;
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		goto out;
	}
	gzbuffer(gz, IMPORT_GZ_BUFFER);
	if (ret == (int)sizeof(magic))
		gzip = magic[0] == 0x1f && magic[1] == 0x8b;
	else
		gzip = !gzdirect(gz); /* zlib looks for the same 1f 8b */
	ret = read_lines(&im, gz, buf);
	if (ret == -EINVAL && gzip)
		ret = blame_stream(gz, buf, err) ?: ret;
out:
	if (ret)
		doc->nitems = nitems;
	if (gz)
		gzclose_r(gz);
	free(buf);
	return ret;
}
