/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A whole policy: rules, list items and settings, read from a file or the live maps. */
#ifndef SLUICE_DOCUMENT_H
#define SLUICE_DOCUMENT_H

#include <stdio.h>
#include "grammar.h"

/* A whole policy as read from a file or built from the live maps. */
struct policy_doc {
	unsigned int nrules;
	struct rule_spec rules[SLUICE_MAX_RULES];
	unsigned int nguards;
	struct guard_spec guards[SLUICE_MAX_GUARDS];
	struct list_item *items; /* malloc'd, grown by the parser */
	size_t nitems;
	size_t nlines; /* policy lines read (not blank or comment lines) */
	size_t items_cap;
	bool malformed_drop; /* `set malformed drop`; default pass */
	bool events_set; /* a `set events` line was given (dump prints it back) */
	__u64 event_period_ns; /* `set events period D sample N ceiling N`; ceiling 0: off */
	__u32 event_sample;
	__u32 event_ceiling;
	char **set_names; /* the set names its items point to, one copy each */
	size_t nset_names;
};

void policy_init(struct policy_doc *doc);
void policy_free(struct policy_doc *doc);
/*
 * Appends a copy of ITEM; its set name, if any, is kept once in DOC, so items may
 * come from a buffer that is reused. -ENOMEM; -E2BIG past DOC_MAX_SET_NAMES names.
 */
int policy_add_item(struct policy_doc *doc, const struct list_item *item);

/* Distinct set names a document holds: far more than a restore can use (63 a list). */
#define DOC_MAX_SET_NAMES 1024

/*
 * Parses one policy line (allow add, block add, rule add, guard, set malformed pass|drop;
 * blank and comment lines are fine) into doc. A second rule of the same name or
 * more than SLUICE_MAX_RULES rules are errors. err->line is left to the caller.
 */
int policy_parse_line(struct policy_doc *doc, char *line, struct parse_error *err);

/* Reads a whole policy file ("-" for stdin) into doc; stops at the first error. */
int policy_parse_file(const char *path, struct policy_doc *doc, struct parse_error *err);

/* The index of rule NAME in DOC, or -ENOENT. */
int policy_rule_find(const struct policy_doc *doc, const char *name);

/*
 * Puts SPEC at position AT (0 first, DOC->nrules last), the rules from there on moving
 * down one. -EEXIST when a rule has its name, -ENOSPC when DOC holds SLUICE_MAX_RULES,
 * -ERANGE when AT is past the end.
 */
int policy_rule_insert(struct policy_doc *doc, const struct rule_spec *spec, unsigned int at);

/* Puts SPEC in place of the rule of the same name, at its position. -ENOENT. */
int policy_rule_replace(struct policy_doc *doc, const struct rule_spec *spec);

/* Takes rule NAME out of DOC, the rules after it moving up one. -ENOENT. */
int policy_rule_delete(struct policy_doc *doc, const char *name);

/* Writes doc as policy lines: settings, guards, rules in order, then allow, then block. */
void policy_write(FILE *out, const struct policy_doc *doc);

#endif /* SLUICE_DOCUMENT_H */
