/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one grammar of sluice: command lines and policy files are the same words.
 * A policy file is a list of `allow add`, `block add`, `rule add` and `set` lines;
 * `sluice dump` prints exactly that form back.
 */
#ifndef SLUICE_GRAMMAR_H
#define SLUICE_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "sluice.h"

#define GRAMMAR_MAX_TOKENS 128
#define GRAMMAR_ERR_LEN 256
#define GRAMMAR_LINE_MAX 4096

/* Where parsing failed and why; line and column are 1-based, 0 when unknown. */
struct parse_error {
	char file[256]; /* "" for the command line, "-" for stdin */
	unsigned int line;
	unsigned int column;
	char msg[GRAMMAR_ERR_LEN]; /* "rate: expected NUMBER/s, ... got \"20\"" */
};

/* A prefix in the 128-bit form of sluice.h: IPv4 mapped to ::ffff:0:0/96. */
struct prefix {
	__u8 family; /* SLUICE_FAMILY_IPV4 or SLUICE_FAMILY_IPV6 */
	__u8 plen; /* in the address's own family: 0..32 or 0..128 */
	__u32 addr[4]; /* network order, host bits zero */
};

enum rate_kind {
	RATE_PACKETS = 0, /* N/s, N/m, N/h, N/d */
	RATE_BYTES, /* N B/s, KB/s, MB/s, GB/s (powers of 1000), KiB/s... (powers of 1024) */
	RATE_BITS, /* N bit/s, kbit/s, Mbit/s, Gbit/s (powers of 1000); stored as bytes/s */
};

struct rate {
	enum rate_kind kind;
	__u64 amount; /* packets per period; bytes per second for RATE_BYTES and RATE_BITS */
	__u32 period_s; /* 1, 60, 3600 or 86400 for packets; 1 for bytes */
	__u64 display; /* the number as written, in its unit, for canonical printing */
	char unit[8]; /* "", "KB", "MiB", "Mbit", ...: the unit as written */
};

struct limit_spec {
	enum sluice_limit_key key; /* SLUICE_KEY_SRC or SLUICE_KEY_GLOBAL */
	__u8 prefix4; /* default 32 */
	__u8 prefix6; /* default 64 */
	bool dport; /* key also holds the destination port */
	struct rate rate;
	__u64 burst; /* packets, or bytes for byte rates; default: one second of rate, at least 1 */
	bool burst_given;
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
};

/* A whole policy as read from a file or built from the live maps. */
struct policy_doc {
	unsigned int nrules;
	struct rule_spec rules[SLUICE_MAX_RULES];
	struct list_item *items; /* malloc'd, grown by the parser */
	size_t nitems;
	size_t items_cap;
	bool malformed_drop; /* `set malformed drop`; default pass */
	bool events_set; /* a `set events` line was given (dump prints it back) */
	__u64 event_period_ns; /* `set events period D sample N ceiling N`; ceiling 0: off */
	__u32 event_sample;
	__u32 event_ceiling;
};

/* The prefix length of P in the 128-bit form (IPv4 plus 96). */
unsigned int prefix_plen128(const struct prefix *p);

/* Network-order mask words of a 128-bit-form prefix length. */
void plen128_mask(unsigned int bits, __u32 mask[4]);

/* Is ADDR (128-bit form) an IPv4 address, ::ffff:a.b.c.d? */
bool addr_is_v4_mapped(const __u32 addr[4]);

/* Is the 128-bit-form prefix ADDR/PLEN128 an IPv4 prefix (of /0 to /32)? */
bool prefix128_is_v4(const __u32 addr[4], unsigned int plen128);

/* Value parsers: 0 on success, -EINVAL with a message in err->msg (line/column untouched). */
int parse_prefix(const char *s, struct prefix *out, struct parse_error *err);
int parse_rate(const char *s, struct rate *out, struct parse_error *err);
int parse_duration(const char *s, __u64 *ns, struct parse_error *err); /* 30s 10m 1h 1d 1h30m */
int parse_burst(const char *s, enum rate_kind kind, __u64 *out, struct parse_error *err);
int parse_port_range(const char *s, __u16 *lo, __u16 *hi, struct parse_error *err);
/* A list item's comment: at most 39 bytes of printable ASCII; OUT gets it NUL-padded. */
int parse_comment(const char *s, char out[SLUICE_COMMENT_LEN], struct parse_error *err);

/* Canonical printing: what the parsers above read back to the same value. */
void format_prefix(const struct prefix *p, char *buf, size_t len); /* bare address for /32, /128 */
void format_rate(const struct rate *r, char *buf, size_t len);
void format_duration(__u64 ns, char *buf, size_t len); /* largest exact units: 1h30m, 45s */
void format_burst(__u64 burst, enum rate_kind kind, char *buf, size_t len);

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

/* Parses the words after `allow add` or `block add`: PREFIX [ttl DURATION] [comment TEXT]. */
int parse_list_item(enum list_kind kind, char **words, const unsigned int *columns,
		    unsigned int n, struct list_item *item, struct parse_error *err);

/* The canonical line for a rule (`rule add NAME ...`) and a list item (`block add ...`). */
void format_rule(const struct rule_spec *spec, char *buf, size_t len);
void format_list_item(const struct list_item *item, char *buf, size_t len);

/*
 * Turns a parsed rule into its data-path form. Leaves stat_slot and the limits'
 * ids zero: the controller assigns those. Returns -EINVAL with err->msg when the
 * rule cannot be expressed (e.g. a byte rate too small for the time unit).
 */
int compile_rule(const struct rule_spec *spec, struct sluice_rule *out, struct parse_error *err);

void policy_init(struct policy_doc *doc);
void policy_free(struct policy_doc *doc);
int policy_add_item(struct policy_doc *doc, const struct list_item *item); /* -ENOMEM */

/*
 * Parses one policy line (allow add, block add, rule add, set malformed pass|drop;
 * blank and comment lines are fine) into doc. A second rule of the same name or
 * more than SLUICE_MAX_RULES rules are errors. err->line is left to the caller.
 */
int policy_parse_line(struct policy_doc *doc, char *line, struct parse_error *err);

/* Reads a whole policy file ("-" for stdin) into doc; stops at the first error. */
int policy_parse_file(const char *path, struct policy_doc *doc, struct parse_error *err);

/* Writes doc as policy lines: settings, then rules in order, then allow, then block. */
void policy_write(FILE *out, const struct policy_doc *doc);

/* "FILE:LINE:COLUMN: MSG", or just MSG when there is no file. */
void format_parse_error(const struct parse_error *err, char *buf, size_t len);

#endif /* SLUICE_GRAMMAR_H */
