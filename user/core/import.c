// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Address feeds into list items, gzip-compressed or not: plain lists, Spamhaus DROP
 * (text and JSON), FireHOL netsets and `ipset save` output, told apart by content.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <zlib.h>
#include "import.h"
#include "text.h"

#define IMPORT_CHUNK (1U << 20) /* bytes read at a time, far more than the longest line allowed */
#define IMPORT_GZ_BUFFER (256U << 10)

/* What the first line that is neither blank nor a comment made of the file. */
enum import_format {
	FORMAT_UNKNOWN = 0,
	FORMAT_TEXT, /* plain, Spamhaus DROP text, FireHOL netsets */
	FORMAT_JSON, /* Spamhaus DROP JSON: an object a line, a metadata line at the end */
	FORMAT_IPSET, /* `ipset save`: create and add lines */
};

/* The words for a message on a line in the wrong format: "a JSON object in a text list". */
static const char *const format_line_names[] = {
	[FORMAT_TEXT] = "a text line",
	[FORMAT_JSON] = "a JSON object",
	[FORMAT_IPSET] = "an ipset line",
};
static const char *const format_file_names[] = {
	[FORMAT_TEXT] = "a text list",
	[FORMAT_JSON] = "a JSON feed",
	[FORMAT_IPSET] = "an ipset save file",
};

struct importer {
	struct policy_doc *doc;
	struct list_item item; /* kind, ttl and comment for every prefix */
	struct parse_error *err;
	/* The caller gave no comment: each entry takes its record's id or comment, if any. */
	bool record_comments;
	enum import_format format;
	unsigned int format_line; /* the line that set the format */
	size_t json_records; /* JSON records since the last metadata line */
	unsigned int json_metadata_line; /* the last metadata line; 0 before one */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
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

/*
 * The comment of the next entry when the caller gave none: the record's own, LEN
 * bytes at S (none when S is NULL). The operator cannot fix a feed, so an id or
 * comment longer than a list comment holds is cut to its first 39 bytes rather than
 * failing the whole feed. Bytes a comment cannot hold at all (control characters,
 * UTF-8) are refused: dropping them would change the text, not shorten it, and an
 * import comment replaces them. COLUMN is where S starts in the line, 0 if unknown.
 */
static int record_comment(struct importer *im, const char *s, size_t len, unsigned int column)
{
	size_t i;

	if (!im->record_comments)
		return 0;
	memset(im->item.comment, 0, sizeof(im->item.comment));
	for (i = 0; s && i < len; i++)
		if (!is_printable(s[i]))
			return import_fail(im->err, column ? column + i : 0,
					   "comment: only printable ASCII, got byte 0x%02x in %s",
					   (unsigned char)s[i], Q(s));
	if (len > SLUICE_COMMENT_LEN - 1)
		len = SLUICE_COMMENT_LEN - 1;
	if (s)
		memcpy(im->item.comment, s, len);
	return 0;
}

bool import_mask_host_bits;

/*
 * ADDR/LEN with its host bits cleared: the address is parsed alone (a full-length
 * prefix), then masked to LEN. -EINVAL, with ERR as parse_prefix sets it, if either is bad.
 */
static int parse_prefix_masked(const char *s, struct prefix *out, struct parse_error *err)
{
	const char *slash = strrchr(s, '/');
	char addr[64], *end;
	unsigned long plen;
	__u32 mask[4];
	int ret;

	if (!slash || (size_t)(slash - s) >= sizeof(addr))
		return parse_prefix(s, out, err);
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	ret = parse_prefix(addr, out, err);
	if (ret)
		return ret;
	errno = 0;
	plen = strtoul(slash + 1, &end, 10);
	if (!slash[1] || *end || errno || plen > out->plen)
		return parse_prefix(s, out, err); /* its message says what is wrong */
	out->plen = plen;
	plen128_mask(prefix_plen128(out), mask);
	for (int i = 0; i < 4; i++)
		out->addr[i] &= mask[i];
	return 0;
}

/* Appends the prefix in WORD, written at COLUMN, with the item's kind, TTL and comment. */
static int add_prefix(struct importer *im, const char *word, unsigned int column)
{
	int ret;

	im->err->column = column;
	ret = import_mask_host_bits ? parse_prefix_masked(word, &im->item.prefix, im->err) :
				      parse_prefix(word, &im->item.prefix, im->err);
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

/* Spamhaus' listing ids, "SBL" and digits: the one `;` remark that becomes a comment. */
static bool is_sbl_id(const char *s)
{
	if (strncmp(s, "SBL", 3) || !s[3])
		return false;
	return s[3 + strspn(s + 3, "0123456789")] == '\0';
}

/*
 * A plain, Spamhaus DROP or FireHOL line from P, the first byte that is not blank, to
 * END, the NUL after the last: one prefix, then maybe a `#` or `;` remark.
 */
static int text_line(struct importer *im, char *line, char *p, char *end)
{
	char *q, *word, *remark = NULL;
	int ret;

	for (q = p; q < end; q++) {
		unsigned char c = *q;

		if (c == '#' || c == ';') {
			if (c == ';')
				remark = q + 1;
			end = q;
			break;
		}
		if ((c < 0x20 && !is_blank(c)) || c >= 0x7f)
			return import_fail(im->err, q - line + 1,
					   "byte 0x%02x where an address or prefix was expected: "
					   "not a text list",
					   c);
	}
	while (end > p && is_blank(end[-1]))
		end--;
	*end = '\0';
	word = p;
	p += strcspn(p, " \t\v\f");
	if (*p)
		return import_fail(im->err, word - line + 1,
				   "expected one address or prefix a line, got \"%.48s\"", word);
	if (remark) {
		/* The line ends in a NUL already: trimming the front is enough. */
		while (is_blank(*remark))
			remark++;
		remark[strcspn(remark, " \t\r\v\f")] = '\0';
		if (!is_sbl_id(remark))
			remark = NULL;
	}
	ret = record_comment(im, remark, remark ? strlen(remark) : 0,
			     remark ? remark - line + 1 : 0);
	return ret ?: add_prefix(im, word, word - line + 1);
}

/*
 * Where the string VALUE of KEY starts in the JSON text of LINE, up to END, as a
 * column; 0 when it is written with escapes and so cannot be found as it is.
 */
static unsigned int json_value_column(const char *line, const char *end, const char *key,
				      const char *value)
{
	char quoted[GRAMMAR_LINE_MAX + 3];
	const char *at;
	int len;

	len = snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	at = memmem(line, end - line, quoted, len);
	if (!at)
		return 0;
	len = snprintf(quoted, sizeof(quoted), "\"%s\"", value);
	if (len >= (int)sizeof(quoted))
		return 0;
	at = memmem(at, end - at, quoted, len);
	return at ? at - line + 2 : 0;
}

/* A Spamhaus DROP JSON record: "cidr" is the prefix, "sblid" the listing it belongs to. */
static int json_record(struct importer *im, json_t *obj, const char *line, const char *end)
{
	json_t *cidr = json_object_get(obj, "cidr"), *sblid = json_object_get(obj, "sblid");
	const char *s;
	int ret;

	if (!json_is_string(cidr))
		return import_fail(im->err, 0, "\"cidr\": expected a string with a prefix");
	if (sblid && !json_is_string(sblid))
		return import_fail(im->err, 0, "\"sblid\": expected a string");
	if (sblid) {
		s = json_string_value(sblid);
		ret = record_comment(im, s, json_string_length(sblid),
				     json_value_column(line, end, "sblid", s));
	} else {
		ret = record_comment(im, NULL, 0, 0);
	}
	if (ret)
		return ret;
	s = json_string_value(cidr);
	ret = add_prefix(im, s, json_value_column(line, end, "cidr", s));
	if (!ret)
		im->json_records++;
	return ret;
}

/*
 * The line that closes a DROP JSON feed. When it says how many records it closes,
 * a different count means a download cut short or spliced: the feed is refused, so
 * that an import meant to refresh a list does not shrink it. Its other fields
 * (timestamp, size, copyright, terms) are not checked. Feeds concatenated into one
 * file (drop_v4.json, then drop_v6.json) each close with their own.
 */
static int json_metadata(struct importer *im, json_t *obj)
{
	json_t *records = json_object_get(obj, "records");
	json_int_t want;

	if (records) {
		if (!json_is_integer(records) || json_integer_value(records) < 0)
			return import_fail(im->err, 0,
					   "metadata: \"records\" is not a count of records");
		want = json_integer_value(records);
		if ((unsigned long long)want != im->json_records)
			return import_fail(im->err, 0,
					   "metadata says %lld records, the feed has %zu: "
					   "truncated or damaged, nothing imported",
					   (long long)want, im->json_records);
	}
	im->json_records = 0;
	im->json_metadata_line = im->err->line;
	return 0;
}

/* A line of DROP JSON from P, its `{`, to END: one record or the metadata line. */
static int json_line(struct importer *im, char *line, char *p, char *end)
{
	json_error_t jerr;
	json_t *obj, *type;
	char *c;
	int ret;

	obj = json_loadb(p, end - p, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		/* jansson quotes the bad token as it was, which may be any bytes. */
		for (c = jerr.text; *c; c++)
			if (!is_printable(*c))
				*c = '?';
		return import_fail(im->err, p - line + (jerr.position > 0 ? jerr.position : 1),
				   "JSON: %s", jerr.text);
	}
	type = json_object_get(obj, "type");
	if (json_object_get(obj, "cidr"))
		ret = json_record(im, obj, line, end);
	else if (json_is_string(type) && !strcmp(json_string_value(type), "metadata"))
		ret = json_metadata(im, obj);
	else
		ret = import_fail(im->err, p - line + 1,
				  "JSON object with neither \"cidr\" nor \"type\":\"metadata\"");
	json_decref(obj);
	return ret;
}

/* The set types whose entries are addresses and prefixes, with nothing else attached. */
static bool ipset_type_ok(const char *type)
{
	return !strcmp(type, "hash:net") || !strcmp(type, "hash:ip");
}

/*
 * `create NAME TYPE OPTIONS`: no entry, but a set of another type (hash:ip,port,
 * bitmap:...) is refused here, before its entries fail one by one. A hash:ip with a
 * netmask saves networks as bare addresses, which would read as single hosts.
 */
static int ipset_create(struct importer *im, char **w, const unsigned int *col, int n)
{
	int i;

	if (n < 3)
		return import_fail(im->err, col[0], "create: expected a set name and a type");
	if (!ipset_type_ok(w[2]))
		return import_fail(im->err, col[2],
				   "set type %s: only hash:net and hash:ip sets hold plain "
				   "addresses and prefixes",
				   Q(w[2]));
	for (i = 3; i < n; i++)
		if (!strcmp(w[2], "hash:ip") && !strcmp(w[i], "netmask"))
			return import_fail(im->err, col[i],
					   "hash:ip with netmask: its entries are networks saved "
					   "as addresses");
	return 0;
}

/*
 * `add NAME ENTRY OPTIONS`. What an option means for a list entry:
 * - comment TEXT: the entry's comment when the import gives none;
 * - timeout, packets, bytes, skbmark, skbprio, skbqueue: ignored (the TTL is the
 *   import's; counters and marks mean nothing to a list);
 * - nomatch: refused, it carves an exception out of a wider entry, which no list
 *   entry can do;
 * - anything else: refused, since what it changes is not known.
 */
static int ipset_add(struct importer *im, const char *line, char **w, const unsigned int *col,
		     int n)
{
	static const char *const ignored[] = { "timeout", "packets", "bytes",
					       "skbmark", "skbprio", "skbqueue" };
	const char *comment = NULL;
	unsigned int comment_col = 0, k;
	int i, ret;

	if (n < 3)
		return import_fail(im->err, col[0], "add: expected a set name and an entry");
	for (i = 3; i < n; i += 2) {
		bool known = !strcmp(w[i], "comment");

		for (k = 0; k < sizeof(ignored) / sizeof(ignored[0]); k++)
			known = known || !strcmp(w[i], ignored[k]);
		if (!strcmp(w[i], "nomatch"))
			return import_fail(im->err, col[i],
					   "nomatch: an exception to the set, which a list "
					   "cannot hold");
		if (!known)
			return import_fail(im->err, col[i],
					   "unknown ipset option %s (known: comment, timeout, "
					   "packets, bytes, skbmark, skbprio, skbqueue, nomatch)",
					   Q(w[i]));
		if (i + 1 == n)
			return import_fail(im->err, col[i], "%s: expected a value", w[i]);
		if (!strcmp(w[i], "comment")) {
			comment = w[i + 1];
			comment_col = col[i + 1] + (line[col[i + 1] - 1] == '"');
		}
	}
	ret = record_comment(im, comment, comment ? strlen(comment) : 0, comment_col);
	return ret ?: add_prefix(im, w[2], col[2]);
}

/* An `ipset save` line of LEN bytes: `create` or `add`. */
static int ipset_line(struct importer *im, const char *line, size_t len)
{
	char *w[GRAMMAR_MAX_TOKENS], words[GRAMMAR_LINE_MAX + 1];
	unsigned int col[GRAMMAR_MAX_TOKENS];
	int n;

	/* tokenize() unquotes in place; the line stays as it was to point into. */
	memcpy(words, line, len + 1);
	n = tokenize(words, w, col, GRAMMAR_MAX_TOKENS, im->err);
	if (n < 0)
		return n;
	if (!strcmp(w[0], "create"))
		return ipset_create(im, w, col, n);
	return ipset_add(im, line, w, col, n);
}

/* The format a line from P, its first byte that is not blank, is written in. */
static enum import_format line_format(const char *p)
{
	if (*p == '{')
		return FORMAT_JSON;
	if (!strncmp(p, "create", 6) && is_blank(p[6]))
		return FORMAT_IPSET;
	if (!strncmp(p, "add", 3) && is_blank(p[3]))
		return FORMAT_IPSET;
	return FORMAT_TEXT;
}

/*
 * One line of LEN bytes, writable up to line[len]. Blank lines and lines that start
 * with `#` or `;` are skipped in every format; the first other line sets the format
 * of the file, and every later one must be in it.
 */
static int import_line(struct importer *im, char *line, size_t len)
{
	char *p = line, *end = line + len;
	enum import_format format;

	if (len > GRAMMAR_LINE_MAX)
		return import_fail(im->err, 0, "line longer than %d bytes", GRAMMAR_LINE_MAX);
	while (p < end && is_blank(*p))
		p++;
	while (end > p && is_blank(end[-1]))
		end--;
	if (p == end || *p == '#' || *p == ';')
		return 0;
	*end = '\0';
	format = line_format(p);
	if (!im->format) {
		im->format = format;
		im->format_line = im->err->line;
	} else if (format != im->format) {
		return import_fail(
			im->err, p - line + 1, "mixed formats: %s in %s (the format of line %u)",
			format_line_names[format], format_file_names[im->format], im->format_line);
	}
	switch (format) {
	case FORMAT_JSON:
		return json_line(im, line, p, end);
	case FORMAT_IPSET:
		return ipset_line(im, line, end - line);
	default:
		return text_line(im, line, p, end);
	}
}

/* What only the end of the file can tell: a JSON feed cut before its metadata line. */
static int import_finish(struct importer *im)
{
	if (im->format != FORMAT_JSON || !im->json_records)
		return 0;
	im->err->line = 0;
	im->err->column = 0;
	if (!im->json_metadata_line)
		return import_fail(im->err, 0,
				   "JSON feed without its closing metadata line: truncated, "
				   "nothing imported");
	return import_fail(im->err, 0,
			   "%zu JSON records after the metadata line %u and no metadata line "
			   "closing them: truncated, nothing imported",
			   im->json_records, im->json_metadata_line);
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
	im.record_comments = !im.item.comment[0];
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
	ret = read_lines(&im, gz, buf) ?: import_finish(&im);
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
