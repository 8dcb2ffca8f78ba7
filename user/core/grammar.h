/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one grammar of sluice: command lines and policy files are the same words.
 * A policy file is a list of `allow add`, `block add`, `rule add` and `set` lines
 * (document.h); `sluice dump` prints exactly that form back.
 */
#ifndef SLUICE_GRAMMAR_H
#define SLUICE_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include "values.h"

#define GRAMMAR_MAX_TOKENS 128
#define GRAMMAR_LINE_MAX 4096

struct limit_spec {
	enum sluice_limit_key key; /* SLUICE_KEY_SRC or SLUICE_KEY_GLOBAL */
	__u8 prefix4; /* default 32 */
	__u8 prefix6; /* default 64 */
	bool dport; /* key also holds the destination port */
	struct rate rate;
	__u64 burst; /* packets, or bytes for byte rates; default: one second of rate, at least 1 */
	bool burst_given;
	bool fleet; /* `fleet`: the rate and burst are the fleet's, each host enforces its share */
};

struct rule_spec {
	char name[SLUICE_NAME_LEN]; /* [A-Za-z0-9_.-]+, at most 31 characters */
	enum sluice_family family; /* `ip` or `ip6`; ANY when neither is given */
	enum sluice_proto proto; /* `tcp`, `udp`, `icmp`; ANY when none */
	bool has_dport; /* `dport N` or `dport N-M` */
	__u16 dport_lo, dport_hi;
	bool syn; /* `syn`: TCP SYN without ACK; implies tcp */
	bool has_dst; /* `dst PREFIX` */
	struct prefix dst;
	unsigned int nlimits; /* 0..SLUICE_MAX_LIMITS `limit ...` clauses */
	struct limit_spec limits[SLUICE_MAX_LIMITS];
	enum sluice_action action; /* `action drop|pass|monitor|ban DURATION`; default drop */
	__u64 ban_ns; /* for SLUICE_ACTION_BAN */
	char comment[SLUICE_COMMENT_LEN]; /* `comment TEXT`; "" when none */
};

/* `guard tcp dport PORT [dst PREFIX] always|above RATE`: a SYN guard (sluice.h). */
struct guard_spec {
	__u16 dport;
	bool has_dst;
	struct prefix dst;
	bool always;
	struct rate above; /* packets per period; SYNs to the port that engage it */
};

enum list_kind {
	LIST_ALLOW = 0,
	LIST_BLOCK,
};

struct list_item {
	enum list_kind kind;
	struct prefix prefix;
	__u64 ttl_ns; /* 0: permanent */
	char comment[SLUICE_COMMENT_LEN]; /* "" when none; at most 39 bytes, no control characters */
	const char *set; /* `set NAME`: its named set, NULL when added by hand; points into the
			    words parsed (a document keeps its own copy, see document.h) */
	__u64 sets; /* read from the maps: the bits of its sets (sluice.h); 0 when parsed */
};

/*
 * Splits a line into words: blanks separate, "double quotes" group (with \" and \\),
 * and # starts a comment outside quotes. Columns are 1-based byte offsets of each
 * word in the line. Returns the number of words, or -EINVAL (unterminated quote,
 * too many words) with err->column set.
 */
int tokenize(char *line, char **words, unsigned int *columns, unsigned int max,
	     struct parse_error *err);

/*
 * Parses the words after `rule add` (NAME and the rest) into spec. On error returns
 * -EINVAL and sets err->msg and err->column (from columns[], or 0 when columns is NULL).
 */
int parse_rule(char **words, const unsigned int *columns, unsigned int n, struct rule_spec *spec,
	       struct parse_error *err);

/* Parses the words after `guard` into spec; -EINVAL with err as parse_rule. */
int parse_guard(char **words, const unsigned int *columns, unsigned int n, struct guard_spec *spec,
		struct parse_error *err);

/* The same port and destination: one guard each. */
bool guard_same_place(const struct guard_spec *a, const struct guard_spec *b);

/*
 * Parses the words after `allow add` or `block add`:
 * PREFIX [ttl DURATION] [comment TEXT] [set NAME].
 */
int parse_list_item(enum list_kind kind, char **words, const unsigned int *columns, unsigned int n,
		    struct list_item *item, struct parse_error *err);

/* The canonical line for a rule (`rule add NAME ...`) and a list item (`block add ...`). */
void format_rule(const struct rule_spec *spec, char *buf, size_t len);

/* A limit clause without its `limit` word: `src/32 src6/64 rate 20/s burst 40`. */
void format_limit(const struct limit_spec *ls, char *buf, size_t len);

/* The policy word of an action: drop, pass, monitor, ban. */
const char *action_name(enum sluice_action action);
void format_list_item(const struct list_item *item, char *buf, size_t len);
void format_guard(const struct guard_spec *spec, char *buf, size_t len);

/* Is NAME a valid rule or set name: [A-Za-z0-9_.-], 1 to 31 characters? */
bool valid_name(const char *s);

/* The burst a limit runs with: as written, or one second of its rate. */
__u64 limit_burst(const struct limit_spec *ls);

#endif /* SLUICE_GRAMMAR_H */
