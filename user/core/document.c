// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Policy documents: a whole policy read from a file, indexed, and written back. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "document.h"
#include "text.h"

void policy_init(struct policy_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
	doc->event_period_ns = SLUICE_DEFAULT_EVENT_PERIOD_NS;
	doc->event_sample = SLUICE_DEFAULT_EVENT_SAMPLE;
	doc->event_ceiling = SLUICE_DEFAULT_EVENT_CEILING;
}

void policy_free(struct policy_doc *doc)
{
	for (size_t i = 0; i < doc->nset_names; i++)
		free(doc->set_names[i]);
	free(doc->set_names);
	free(doc->items);
	policy_init(doc);
}

/* DOC's own copy of set name NAME. NULL with errno on failure. */
static const char *intern_set_name(struct policy_doc *doc, const char *name)
{
	char **names, *copy;

	for (size_t i = 0; i < doc->nset_names; i++)
		if (!strcmp(doc->set_names[i], name))
			return doc->set_names[i];
	if (doc->nset_names == DOC_MAX_SET_NAMES) {
		errno = E2BIG;
		return NULL;
	}
	names = realloc(doc->set_names, (doc->nset_names + 1) * sizeof(*names));
	if (!names)
		return NULL;
	doc->set_names = names;
	copy = strdup(name);
	if (!copy)
		return NULL;
	names[doc->nset_names++] = copy;
	return copy;
}

/* Items are written front to back: the pages ahead of them are faulted in this much at a time. */
#define ITEMS_PREFAULT (2U << 20)

int policy_add_item(struct policy_doc *doc, const struct list_item *item)
{
	size_t at = doc->nitems * sizeof(*doc->items), left;
	const char *set = NULL;

	if (item->set && item->set[0]) {
		set = intern_set_name(doc, item->set);
		if (!set)
			return -errno;
	}
	if (doc->nitems == doc->items_cap) {
		size_t cap = doc->items_cap ? doc->items_cap * 2 : 64;
		struct list_item *items;

		if (cap > SIZE_MAX / 2 / sizeof(*items))
			return -ENOMEM;
		items = realloc(doc->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		doc->items = items;
		doc->items_cap = cap;
	}
	left = doc->items_cap * sizeof(*doc->items) - at;
	if (at % ITEMS_PREFAULT < sizeof(*doc->items) && left >= ITEMS_PREFAULT)
		prefault((char *)doc->items + at, ITEMS_PREFAULT);
	/* memcpy, not assignment, so padding is copied too and items compare with memcmp. */
	memcpy(&doc->items[doc->nitems], item, sizeof(*item));
	doc->items[doc->nitems++].set = set;
	return 0;
}

/* The same prefix in the same list and set: a prefix may be listed once per set. */
static bool same_entry(const struct list_item *a, const struct list_item *b)
{
	return a->kind == b->kind && a->prefix.family == b->prefix.family &&
	       a->prefix.plen == b->prefix.plen && !memcmp(a->prefix.addr, b->prefix.addr, 16) &&
	       !strcmp(a->set ? a->set : "", b->set ? b->set : "");
}

/*
 * A hash of a doc's list items by kind and prefix, so that a long policy file finds
 * its duplicates in constant time. Items are added only through index_add() while
 * it is in use.
 */
struct item_index {
	__u64 *slots; /* hash tag << 32 | item index + 1; 0 is empty */
	size_t mask; /* slots - 1, a power of two less one */
	size_t used; /* leading items of the doc indexed so far */
};

/* 64 bits of hash: the high half is kept in the slot, so probing and growing need no item. */
static __u64 entry_hash(const struct list_item *it)
{
	__u64 h = (__u64)it->kind << 16 | it->prefix.family << 8 | it->prefix.plen;
	unsigned int i;

	for (i = 0; i < 4; i++)
		h = (h ^ it->prefix.addr[i]) * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 29);
}

#define SLOT_TAG(slot) ((slot) >> 32)
#define SLOT_ITEM(slot) ((size_t)((slot)&0xffffffff) - 1)

/* The slot holding an item equal to IT, or the empty slot where it would go. */
static __u64 *index_slot(const struct item_index *index, const struct policy_doc *doc,
			 const struct list_item *it, __u64 tag)
{
	size_t i;

	for (i = tag & index->mask;; i = (i + 1) & index->mask) {
		__u64 *slot = &index->slots[i];

		if (!*slot ||
		    (SLOT_TAG(*slot) == tag && same_entry(&doc->items[SLOT_ITEM(*slot)], it)))
			return slot;
	}
}

/* Keeps the table at most half full for WANT items. */
static int index_reserve(struct item_index *index, size_t want)
{
	size_t cap = index->slots ? index->mask + 1 : 0, old_cap = cap, i, j;
	__u64 *old = index->slots;

	if (want > 0xfffffffe)
		return -ENOMEM; /* the slots hold 32-bit item numbers */
	if (!cap)
		cap = 64;
	while (cap / 2 < want)
		cap *= 2;
	if (cap == old_cap)
		return 0;
	index->slots = calloc(cap, sizeof(*old));
	if (!index->slots) {
		index->slots = old;
		return -ENOMEM;
	}
	index->mask = cap - 1;
	for (i = 0; i < old_cap; i++) {
		if (!old[i])
			continue;
		for (j = SLOT_TAG(old[i]) & index->mask; index->slots[j]; j = (j + 1) & index->mask)
			;
		index->slots[j] = old[i];
	}
	free(old);
	return 0;
}

static void index_free(struct item_index *index)
{
	free(index->slots);
	memset(index, 0, sizeof(*index));
}

/*
 * Appends ITEM to DOC unless DOC already has an item of the same kind and prefix:
 * then returns -EEXIST and sets *dup to that item's index. -ENOMEM.
 */
static int index_add(struct policy_doc *doc, struct item_index *index, const struct list_item *item,
		     size_t *dup)
{
	__u64 *slot, tag;
	int ret;

	ret = index_reserve(index, doc->nitems + 1);
	if (ret)
		return ret;
	for (; index->used < doc->nitems; index->used++) {
		tag = entry_hash(&doc->items[index->used]) >> 32;
		slot = index_slot(index, doc, &doc->items[index->used], tag);
		if (!*slot)
			*slot = tag << 32 | (index->used + 1);
	}
	tag = entry_hash(item) >> 32;
	slot = index_slot(index, doc, item, tag);
	if (*slot) {
		*dup = SLOT_ITEM(*slot);
		return -EEXIST;
	}
	ret = policy_add_item(doc, item);
	if (ret)
		return ret;
	index->used = doc->nitems;
	*slot = tag << 32 | index->used;
	return 0;
}

/* What policy_parse_file() knows beyond the doc: duplicates and the lines they came from. */
struct file_state {
	struct item_index index;
	unsigned int *item_lines; /* line of items[first_item + i] */
	size_t first_item;
	size_t lines_cap;
	unsigned int rule_lines[SLUICE_MAX_RULES];
	unsigned int line;
};

/* Remembers the line of the item just added from a file, for duplicates found later. */
static int note_item_line(struct policy_doc *doc, struct file_state *fs)
{
	size_t n = doc->nitems - fs->first_item;

	if (n > fs->lines_cap) {
		size_t cap = fs->lines_cap ? fs->lines_cap * 2 : 256;
		unsigned int *lines = realloc(fs->item_lines, cap * sizeof(*lines));

		if (!lines)
			return -ENOMEM;
		fs->item_lines = lines;
		fs->lines_cap = cap;
	}
	fs->item_lines[n - 1] = fs->line;
	return 0;
}

/* Adds a list item; in a file (FS set), a second item of the same kind and prefix is an error. */
static int add_file_item(struct policy_doc *doc, const struct list_item *item,
			 struct parse_error *err, struct file_state *fs)
{
	size_t dup = 0;
	char text[128];
	int ret;

	ret = fs ? index_add(doc, &fs->index, item, &dup) : policy_add_item(doc, item);
	if (ret == -EEXIST) {
		format_prefix(&item->prefix, text, sizeof(text));
		if (item->set)
			snprintf(text + strlen(text), sizeof(text) - strlen(text), " (set %.*s)",
				 SLUICE_NAME_LEN - 1, item->set);
		if (dup >= fs->first_item)
			return fail(err, "%s: already listed at line %u", text,
				    fs->item_lines[dup - fs->first_item]);
		return fail(err, "%s: already listed", text);
	}
	if (ret == -E2BIG)
		return fail(err, "set %.*s: more than %d set names in one policy",
			    SLUICE_NAME_LEN - 1, item->set, DOC_MAX_SET_NAMES);
	if (!ret && fs)
		ret = note_item_line(doc, fs);
	if (ret)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	return ret;
}

static int add_rule(struct policy_doc *doc, const struct rule_spec *spec, struct parse_error *err,
		    struct file_state *fs)
{
	unsigned int i;

	for (i = 0; i < doc->nrules; i++) {
		if (strcmp(doc->rules[i].name, spec->name))
			continue;
		if (fs && fs->rule_lines[i])
			return fail(err, "rule %s: already defined at line %u", spec->name,
				    fs->rule_lines[i]);
		return fail(err, "rule %s: already defined", spec->name);
	}
	if (doc->nrules == SLUICE_MAX_RULES)
		return fail(err, "rule %s: more than %d rules", spec->name, SLUICE_MAX_RULES);
	if (fs)
		fs->rule_lines[doc->nrules] = fs->line;
	memcpy(&doc->rules[doc->nrules++], spec, sizeof(*spec));
	return 0;
}

static int add_guard(struct policy_doc *doc, const struct guard_spec *spec, struct parse_error *err)
{
	char line[128];

	for (unsigned int i = 0; i < doc->nguards; i++) {
		if (!guard_same_place(&doc->guards[i], spec))
			continue;
		format_guard(&doc->guards[i], line, sizeof(line));
		return fail(err, "guard: this port and destination already have one: %s", line);
	}
	if (doc->nguards == SLUICE_MAX_GUARDS)
		return fail(err, "guard: more than %d guards", SLUICE_MAX_GUARDS);
	doc->guards[doc->nguards++] = *spec;
	return 0;
}

/* `set events off`, or `set events [period DURATION] [sample N] [ceiling N]`. */
static int parse_set_events(struct policy_doc *doc, char **words, const unsigned int *cols,
			    unsigned int n, struct parse_error *err)
{
	struct policy_doc parsed = *doc;
	unsigned long long v;

	/* Each `set events` line is the whole setting: what it leaves out takes its default. */
	parsed.event_period_ns = SLUICE_DEFAULT_EVENT_PERIOD_NS;
	parsed.event_sample = SLUICE_DEFAULT_EVENT_SAMPLE;
	parsed.event_ceiling = SLUICE_DEFAULT_EVENT_CEILING;
	unsigned int i;
	char *end;

	if (n == 3 && !strcmp(words[2], "off")) {
		doc->event_ceiling = 0;
		doc->events_set = true;
		return 0;
	}
	if (n < 4) {
		err->column = cols[n - 1];
		return fail(err,
			    "set events: expected off, or period DURATION, sample N and "
			    "ceiling N, got %s",
			    n > 2 ? Q(words[2]) : "the end of the line");
	}
	for (i = 2; i < n; i += 2) {
		err->column = cols[i];
		if (i + 1 >= n)
			return fail(err, "set events: %s needs a value", QB(words[i]));
		if (!strcmp(words[i], "period")) {
			if (parse_duration(words[i + 1], &parsed.event_period_ns, err)) {
				err->column = cols[i + 1];
				return -EINVAL;
			}
			continue;
		}
		if (strcmp(words[i], "sample") && strcmp(words[i], "ceiling"))
			return fail(err, "set events: expected period, sample or ceiling, got %s",
				    Q(words[i]));
		errno = 0;
		v = strtoull(words[i + 1], &end, 10);
		if (words[i + 1][0] < '1' || words[i + 1][0] > '9' || *end || errno ||
		    v > 1000000) {
			err->column = cols[i + 1];
			return fail(err, "%s: expected a whole number from 1 to 1000000, got %s",
				    words[i], Q(words[i + 1]));
		}
		if (words[i][0] == 's')
			parsed.event_sample = v;
		else
			parsed.event_ceiling = v;
	}
	parsed.events_set = true;
	*doc = parsed;
	return 0;
}

static int parse_policy_words(struct policy_doc *doc, char **words, unsigned int *cols,
			      unsigned int n, struct parse_error *err, struct file_state *fs)
{
	bool list = !strcmp(words[0], "allow") || !strcmp(words[0], "block");
	bool add = n >= 2 && !strcmp(words[1], "add");
	struct rule_spec spec;
	struct list_item item;
	int ret;

	if (add && list) {
		ret = parse_list_item(words[0][0] == 'a' ? LIST_ALLOW : LIST_BLOCK, words + 2,
				      cols + 2, n - 2, &item, err);
		if (!ret) {
			ret = add_file_item(doc, &item, err, fs);
			err->column = ret ? cols[2] : 0;
		}
	} else if (add && !strcmp(words[0], "rule")) {
		ret = parse_rule(words + 2, cols + 2, n - 2, &spec, err);
		if (!ret) {
			ret = add_rule(doc, &spec, err, fs);
			err->column = ret ? cols[2] : 0;
		}
	} else if (!strcmp(words[0], "guard")) {
		struct guard_spec guard;

		ret = parse_guard(words + 1, cols + 1, n - 1, &guard, err);
		if (!ret) {
			ret = add_guard(doc, &guard, err);
			err->column = ret ? cols[0] : 0;
		}
		if (ret && !err->column)
			err->column = cols[0];
		return ret;
	} else if (!strcmp(words[0], "set") && n >= 2 && !strcmp(words[1], "events")) {
		return parse_set_events(doc, words, cols, n, err);
	} else if (!strcmp(words[0], "set")) {
		unsigned int bad = n < 2 || strcmp(words[1], "malformed") ? 1 :
				   n < 3 || (strcmp(words[2], "pass") && strcmp(words[2], "drop")) ?
									    2 :
									    3;

		if (bad < n || n < 3) {
			/* At the end of the line, point at its last word. */
			err->column = cols[bad < n ? bad : n - 1];
			return fail(err, "set: expected malformed pass|drop or events ..., got %s",
				    bad < n ? Q(words[bad]) : "the end of the line");
		}
		doc->malformed_drop = words[2][0] == 'd';
		return 0;
	} else {
		err->column = cols[0];
		return fail(
			err,
			"%s%s%s: only `allow add`, `block add`, `rule add`, `guard` and `set` lines belong in a policy file",
			QB(words[0]), n > 1 && (list || !strcmp(words[0], "rule")) ? " " : "",
			n > 1 && (list || !strcmp(words[0], "rule")) ? QB(words[1]) : "");
	}
	/* An error with nothing to point at (`rule add` alone) points at `add`. */
	if (ret && !err->column)
		err->column = cols[1];
	return ret;
}

static int parse_policy_line(struct policy_doc *doc, char *line, struct parse_error *err,
			     struct file_state *fs)
{
	char *words[GRAMMAR_MAX_TOKENS];
	unsigned int cols[GRAMMAR_MAX_TOKENS];
	int n;

	err->column = 0;
	n = tokenize(line, words, cols, GRAMMAR_MAX_TOKENS, err);
	if (n <= 0)
		return n;
	doc->nlines++;
	return parse_policy_words(doc, words, cols, n, err, fs);
}

int policy_parse_line(struct policy_doc *doc, char *line, struct parse_error *err)
{
	return parse_policy_line(doc, line, err, NULL);
}

int policy_parse_file(const char *path, struct policy_doc *doc, struct parse_error *err)
{
	bool is_stdin = !strcmp(path, "-");
	struct policy_doc *before = malloc(sizeof(*before));
	struct file_state fs = { .first_item = doc->nitems };
	size_t cap = 0;
	char *line = NULL;
	ssize_t len;
	FILE *f;
	int ret = 0;

	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path);
	if (!before)
		return -ENOMEM;
	*before = *doc;
	f = is_stdin ? stdin : fopen(path, "re");
	if (!f) {
		ret = -errno;
		fail(err, "cannot open: %s", strerror(-ret));
		free(before);
		return ret;
	}
	while (!ret) {
		errno = 0;
		len = getline(&line, &cap, f);
		if (len < 0) {
			if (ferror(f)) {
				ret = errno ? -errno : -EIO;
				fail(err, "read error after line %u: %s", err->line,
				     strerror(-ret));
			}
			break;
		}
		fs.line = ++err->line;
		err->column = 0;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > GRAMMAR_LINE_MAX)
			ret = fail(err, "line of %zd bytes, longer than the %d allowed", len,
				   GRAMMAR_LINE_MAX);
		else if (strlen(line) != (size_t)len)
			ret = fail(err, "NUL byte in the line");
		else
			ret = parse_policy_line(doc, line, err, &fs);
	}
	if (ret) {
		/*
		 * Everything as it was; the item array may have moved, its old end stays, and
		 * the set names stay (the array may have moved too; unused names are harmless).
		 */
		before->items = doc->items;
		before->items_cap = doc->items_cap;
		before->set_names = doc->set_names;
		before->nset_names = doc->nset_names;
		*doc = *before;
	}
	free(before);
	free(line);
	free(fs.item_lines);
	index_free(&fs.index);
	if (!is_stdin)
		fclose(f);
	return ret;
}

void policy_write(FILE *out, const struct policy_doc *doc)
{
	char line[GRAMMAR_LINE_MAX];
	unsigned int kind, i;
	size_t j;

	if (doc->malformed_drop)
		fputs("set malformed drop\n", out);
	if (doc->events_set && !doc->event_ceiling) {
		fputs("set events off\n", out);
	} else if (doc->events_set) {
		format_duration(doc->event_period_ns, line, sizeof(line));
		fprintf(out, "set events period %s sample %u ceiling %u\n", line, doc->event_sample,
			doc->event_ceiling);
	}
	for (i = 0; i < doc->nguards; i++) {
		format_guard(&doc->guards[i], line, sizeof(line));
		fprintf(out, "%s\n", line);
	}
	for (i = 0; i < doc->nrules; i++) {
		format_rule(&doc->rules[i], line, sizeof(line));
		fprintf(out, "%s\n", line);
	}
	for (kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		for (j = 0; j < doc->nitems; j++) {
			if (doc->items[j].kind != kind)
				continue;
			format_list_item(&doc->items[j], line, sizeof(line));
			fprintf(out, "%s\n", line);
		}
	}
}

int policy_rule_find(const struct policy_doc *doc, const char *name)
{
	for (unsigned int i = 0; i < doc->nrules; i++)
		if (!strncmp(doc->rules[i].name, name, SLUICE_NAME_LEN))
			return (int)i;
	return -ENOENT;
}

int policy_rule_insert(struct policy_doc *doc, const struct rule_spec *spec, unsigned int at)
{
	if (policy_rule_find(doc, spec->name) >= 0)
		return -EEXIST;
	if (doc->nrules >= SLUICE_MAX_RULES)
		return -ENOSPC;
	if (at > doc->nrules)
		return -ERANGE;
	memmove(&doc->rules[at + 1], &doc->rules[at], (doc->nrules - at) * sizeof(doc->rules[0]));
	doc->rules[at] = *spec;
	doc->nrules++;
	return 0;
}

int policy_rule_replace(struct policy_doc *doc, const struct rule_spec *spec)
{
	int i = policy_rule_find(doc, spec->name);

	if (i < 0)
		return i;
	doc->rules[i] = *spec;
	return 0;
}

int policy_rule_delete(struct policy_doc *doc, const char *name)
{
	int i = policy_rule_find(doc, name);

	if (i < 0)
		return i;
	memmove(&doc->rules[i], &doc->rules[i + 1], (doc->nrules - i - 1) * sizeof(doc->rules[0]));
	doc->nrules--;
	return 0;
}
