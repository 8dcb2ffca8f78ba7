// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The value parsers and the tokenizer: the first byte picks one, the rest is its text.
 * Whatever parses must print canonically and parse back to the same value.
 */
#include "fuzz.h"
#include "grammar.h"

/*
 * A value of the grammar: its parser and its canonical printer, behind one signature so
 * that one round trip check serves them all.
 */
struct value_kind {
	const char *name;
	int (*parse)(const char *s, void *value, struct parse_error *err);
	void (*format)(const void *value, char *buf, size_t len);
};

/* What any value kind parses into: all of it compared with memcmp(), so cleared first. */
union value {
	struct prefix prefix;
	struct rate rate;
	__u64 n;
	__u16 ports[2];
};

static int prefix_parse(const char *s, void *v, struct parse_error *err)
{
	return parse_prefix(s, v, err);
}

static void prefix_format(const void *v, char *buf, size_t len)
{
	format_prefix(v, buf, len);
}

static int rate_parse(const char *s, void *v, struct parse_error *err)
{
	return parse_rate(s, v, err);
}

static void rate_format(const void *v, char *buf, size_t len)
{
	format_rate(v, buf, len);
}

static int duration_parse(const char *s, void *v, struct parse_error *err)
{
	return parse_duration(s, v, err);
}

static void duration_format(const void *v, char *buf, size_t len)
{
	format_duration(*(const __u64 *)v, buf, len);
}

static int packets_parse(const char *s, void *v, struct parse_error *err)
{
	return parse_burst(s, RATE_PACKETS, v, err);
}

static void packets_format(const void *v, char *buf, size_t len)
{
	format_burst(*(const __u64 *)v, RATE_PACKETS, buf, len);
}

static int size_parse(const char *s, void *v, struct parse_error *err)
{
	return parse_burst(s, RATE_BYTES, v, err);
}

static void size_format(const void *v, char *buf, size_t len)
{
	format_burst(*(const __u64 *)v, RATE_BYTES, buf, len);
}

static int ports_parse(const char *s, void *v, struct parse_error *err)
{
	__u16 *ports = v;

	return parse_port_range(s, &ports[0], &ports[1], err);
}

/* As format_rule() prints a dport: N when LO equals HI, else LO-HI. */
static void ports_format(const void *v, char *buf, size_t len)
{
	const __u16 *ports = v;

	if (ports[0] == ports[1])
		snprintf(buf, len, "%u", ports[0]);
	else
		snprintf(buf, len, "%u-%u", ports[0], ports[1]);
}

static const struct value_kind value_kinds[] = {
	{ "prefix", prefix_parse, prefix_format },	 { "rate", rate_parse, rate_format },
	{ "duration", duration_parse, duration_format }, { "burst", packets_parse, packets_format },
	{ "byte burst", size_parse, size_format },	 { "ports", ports_parse, ports_format },
};
#define VALUE_KINDS (sizeof(value_kinds) / sizeof(value_kinds[0]))

/* What parses prints canonically and parses back to the same value. */
static void check_value(const struct value_kind *k, const char *s)
{
	struct parse_error err = {};
	union value a, b;
	char text[128];

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (k->parse(s, &a, &err))
		return;
	k->format(&a, text, sizeof(text));
	FUZZ_ASSERT(!k->parse(text, &b, &err), "%s \"%s\" printed as \"%s\": %s", k->name, s, text,
		    err.msg);
	FUZZ_ASSERT(!memcmp(&a, &b, sizeof(a)), "%s \"%s\" came back from \"%s\" changed", k->name,
		    s, text);
}

/* Words quoted as the grammar quotes comments: in "", with \" and \\. */
static char *quote_words(char **words, int n, size_t len)
{
	char *line = malloc(2 * len + 3 * n + 1), *o = line;

	if (!line)
		abort();
	for (int i = 0; i < n; i++) {
		*o++ = '"';
		for (const char *c = words[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				*o++ = '\\';
			*o++ = *c;
		}
		*o++ = '"';
		*o++ = ' ';
	}
	*o = '\0';
	return line;
}

static void check_tokenize(const char *s)
{
	char *words[GRAMMAR_MAX_TOKENS], *words2[GRAMMAR_MAX_TOKENS];
	unsigned int cols[GRAMMAR_MAX_TOKENS];
	struct parse_error err = {};
	size_t len = strlen(s);
	char *line = strdup(s), *quoted;
	int n, n2;

	if (!line)
		abort();
	n = tokenize(line, words, cols, GRAMMAR_MAX_TOKENS, &err);
	if (n < 0) {
		FUZZ_ASSERT(err.column >= 1 && err.column <= len + 1,
			    "error column %u in %zu bytes", err.column, len);
		free(line);
		return;
	}
	for (int i = 0; i < n; i++)
		FUZZ_ASSERT(cols[i] >= 1 && cols[i] <= len && (i == 0 || cols[i] > cols[i - 1]),
			    "word %d at column %u of %zu bytes", i, cols[i], len);
	quoted = quote_words(words, n, len);
	n2 = tokenize(quoted, words2, cols, GRAMMAR_MAX_TOKENS, &err);
	FUZZ_ASSERT(n2 == n, "%d words, quoted again %d: %s", n, n2, err.msg);
	for (int i = 0; i < n; i++)
		FUZZ_ASSERT(!strcmp(words[i], words2[i]), "word %d \"%s\" quoted came back \"%s\"",
			    i, words[i], words2[i]);
	free(quoted);
	free(line);
}

/* A comment (and the TTL after a blank) through the list item line and back. */
static void check_list_item(const char *s)
{
	char *words[GRAMMAR_MAX_TOKENS], line[GRAMMAR_LINE_MAX];
	struct parse_error err = {};
	const char *blank = strchr(s, ' ');
	char comment[GRAMMAR_LINE_MAX];
	struct list_item a, b;
	int n;

	memset(&a, 0, sizeof(a)); /* padding too: the items are compared with memcmp() */
	snprintf(comment, sizeof(comment), "%.*s", blank ? (int)(blank - s) : (int)strlen(s), s);
	if (parse_comment(comment, a.comment, &err) ||
	    parse_prefix("192.0.2.0/24", &a.prefix, &err))
		return;
	if (blank && parse_duration(blank + 1, &a.ttl_ns, &err))
		return;
	a.kind = LIST_ALLOW;
	format_list_item(&a, line, sizeof(line));
	n = tokenize(line, words, NULL, GRAMMAR_MAX_TOKENS, &err);
	FUZZ_ASSERT(n >= 3, "item line \"%s\" tokenized to %d words: %s", line, n, err.msg);
	FUZZ_ASSERT(!parse_list_item(LIST_ALLOW, words + 2, NULL, n - 2, &b, &err),
		    "item line \"%s\": %s", line, err.msg);
	FUZZ_ASSERT(!memcmp(&a, &b, sizeof(a)), "item \"%s\" came back changed", line);
}

/* The first byte picks a value kind, the tokenizer or a list item; the rest is the text. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int pick;
	char *s;

	if (!size)
		return 0;
	s = fuzz_strndup(data + 1, size - 1);
	pick = data[0] % (VALUE_KINDS + 2);
	if (pick < VALUE_KINDS)
		check_value(&value_kinds[pick], s);
	else if (pick == VALUE_KINDS)
		check_tokenize(s);
	else
		check_list_item(s);
	free(s);
	return 0;
}
