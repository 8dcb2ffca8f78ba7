// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy grammar: arbitrary bytes as policy lines (policy_parse_line, as the
 * controller reads its stored rules) and as a policy file (policy_parse_file, as
 * restore reads one). Whatever parses must compile, and write out as text that parses
 * again to the same text; a file that does not parse must leave the doc as it was.
 */
#include "fuzz.h"
#include "compile.h"
#include "document.h"

/* What every doc holds before the input: a rule and an item the input may clash with. */
static const char *const prefill[] = {
	"rule add pre tcp dport 22 limit src/24 rate 10/s action drop",
	"block add 192.0.2.0/24 ttl 1h comment \"pre\"",
};

static char *write_doc(const struct policy_doc *doc)
{
	char *text = NULL;
	size_t len = 0;

	FUZZ_CAPTURE(text, len, policy_write, doc);
	return text;
}

/* The parts of a doc a line can change, besides the rule and item arrays themselves. */
struct doc_marks {
	unsigned int nrules, nguards;
	size_t nitems;
	bool malformed_drop, events_set;
	__u64 event_period_ns;
	__u32 event_sample, event_ceiling;
};

static void mark(const struct policy_doc *doc, struct doc_marks *m)
{
	memset(m, 0, sizeof(*m)); /* compared with memcmp(), padding and all */
	m->nrules = doc->nrules;
	m->nguards = doc->nguards;
	m->nitems = doc->nitems;
	m->malformed_drop = doc->malformed_drop;
	m->events_set = doc->events_set;
	m->event_period_ns = doc->event_period_ns;
	m->event_sample = doc->event_sample;
	m->event_ceiling = doc->event_ceiling;
}

/* Feeds each line of TEXT to policy_parse_line(); with STRICT every line must parse. */
static void parse_lines(struct policy_doc *doc, const char *text, bool strict)
{
	char *copy = strdup(text), *rest = copy, *line;

	if (!copy)
		abort();
	while ((line = strsep(&rest, "\n"))) {
		char *orig = strict ? strdup(line) : NULL;
		struct parse_error err = {};
		struct doc_marks before, after;
		int ret;

		mark(doc, &before);
		ret = policy_parse_line(doc, line, &err);

		FUZZ_ASSERT(!strict || !ret, "written line \"%s\" does not parse: %s", orig,
			    err.msg);
		free(orig);
		if (!ret)
			continue;
		FUZZ_ASSERT(ret == -EINVAL && err.msg[0], "error %d without a message", ret);
		mark(doc, &after);
		FUZZ_ASSERT(!memcmp(&before, &after, sizeof(before)),
			    "a line that failed (%s) changed the doc", err.msg);
	}
	free(copy);
}

static void init_doc(struct policy_doc *doc)
{
	policy_init(doc);
	for (size_t i = 0; i < sizeof(prefill) / sizeof(prefill[0]); i++)
		parse_lines(doc, prefill[i], true);
}

static void check_compiles(const struct policy_doc *doc)
{
	struct parse_error err = {};
	struct sluice_guard guard;
	struct sluice_rule out;

	for (unsigned int i = 0; i < doc->nrules; i++)
		FUZZ_ASSERT(!compile_rule(&doc->rules[i], &out, &err),
			    "rule %s parsed but does not compile: %s", doc->rules[i].name, err.msg);
	for (unsigned int i = 0; i < doc->nguards; i++)
		FUZZ_ASSERT(!compile_guard(&doc->guards[i], &guard, &err),
			    "guard %u parsed but does not compile: %s", i, err.msg);
}

/* Parses a file of SIZE bytes into DOC; returns what policy_parse_file() returned. */
static int parse_file(struct policy_doc *doc, const void *data, size_t size,
		      struct parse_error *err)
{
	char path[64];
	int fd = fuzz_file(data, size, path, sizeof(path)), ret;

	ret = policy_parse_file(path, doc, err);
	close(fd);
	return ret;
}

static struct policy_doc lines_doc, file_doc, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = fuzz_strndup(data, size), *text, *text2, *before;
	struct parse_error err;
	int ret;

	/* Lines, as the stored rule text is read back: bad lines are skipped. */
	init_doc(&lines_doc);
	parse_lines(&lines_doc, input, false);
	check_compiles(&lines_doc);
	text = write_doc(&lines_doc);
	policy_init(&again); /* the prefilled lines come back from the text */
	parse_lines(&again, text, true);
	text2 = write_doc(&again);
	FUZZ_ASSERT(!strcmp(text, text2), "lines written:\n%s\nread back and written:\n%s", text,
		    text2);
	free(text2);
	policy_free(&again);

	/* A file, as restore reads one: all or nothing. */
	init_doc(&file_doc);
	before = write_doc(&file_doc);
	ret = parse_file(&file_doc, data, size, &err);
	if (ret) {
		text2 = write_doc(&file_doc);
		FUZZ_ASSERT(ret == -EINVAL && err.msg[0] && err.line >= 1,
			    "error %d at line %u without a message", ret, err.line);
		FUZZ_ASSERT(!strcmp(before, text2), "a file that failed (%s) changed the doc",
			    err.msg);
		free(text2);
	} else {
		check_compiles(&file_doc);
		text2 = write_doc(&file_doc);
		/* A file that parses is lines that each parse, to the same policy. */
		FUZZ_ASSERT(!strcmp(text, text2), "as lines:\n%s\nas a file:\n%s", text, text2);
		policy_init(&again);
		ret = parse_file(&again, text2, strlen(text2), &err);
		FUZZ_ASSERT(!ret, "written file does not parse: line %u: %s\n%s", err.line, err.msg,
			    text2);
		free(text);
		text = write_doc(&again);
		FUZZ_ASSERT(!strcmp(text, text2), "file written:\n%s\nread back and written:\n%s",
			    text2, text);
		free(text2);
		policy_free(&again);
	}
	free(before);
	free(text);
	policy_free(&file_doc);
	policy_free(&lines_doc);
	free(input);
	return 0;
}
