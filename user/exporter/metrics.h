/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The Prometheus text format 0.0.4: a growing buffer, families, samples and the sluice document. */
#ifndef SLUICE_METRICS_H
#define SLUICE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "stats.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Text that grows as it is appended to; always NUL-terminated once anything was added. */
struct mbuf {
	char *data;
	size_t len;
	size_t cap;
	bool failed; /* an allocation failed or a name was invalid: do not serve the text */
};

void mbuf_init(struct mbuf *b);
void mbuf_free(struct mbuf *b);
/* Empties the text but keeps the memory, for the next scrape. */
void mbuf_reset(struct mbuf *b);
void mbuf_append(struct mbuf *b, const char *s, size_t n);
void mbuf_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A label value with backslash, double quote and newline escaped. */
void metrics_escape_label(struct mbuf *b, const char *value);
/* HELP text with backslash and newline escaped. */
void metrics_escape_help(struct mbuf *b, const char *help);

/* [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; no colons for label names. */
bool metrics_valid_name(const char *name, bool label);

/* A sample value as Prometheus writes it: shortest round-trip form, NaN, +Inf, -Inf. */
void metrics_format_double(char out[32], double v);

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
};

/* The HELP and TYPE lines that open a family; its samples follow. */
void metrics_family(struct mbuf *b, const char *name, const char *help, enum metric_type type);

/* name{names[0]="values[0]",...} value; no braces when n is 0. */
void metrics_sample(struct mbuf *b, const char *name, const char *const names[],
		    const char *const values[], size_t n, double value);
/* The same with an exact integer value, for counters beyond 2^53. */
void metrics_sample_u64(struct mbuf *b, const char *name, const char *const names[],
			const char *const values[], size_t n, __u64 value);

/* What one scrape read from the pinned maps, for metrics_render(). */
struct metrics_iface {
	const char *name;
	const char *mode;
	__u32 slot; /* counter slot in the stats map */
};

struct metrics_rule {
	const char *name;
	__u32 slot; /* stat_slot */
};

/* A SYN guard of the live policy, its counters summed over CPUs. */
struct metrics_guard {
	__u16 port;
	const char *dst; /* its dst PREFIX, "" without one */
	bool engaged;
	__u64 engagements;
	struct sluice_guard_stats counts;
};

struct metrics_input {
	const char *version;
	bool up; /* false: only sluice_build_info and sluice_up 0 */
	const struct metrics_iface *ifaces;
	size_t nifaces;
	const struct metrics_rule *rules; /* the live policy's rules */
	size_t nrules;
	const struct stats_snapshot *snap; /* counters and event counters */
	__u64 generation;
	__u64 digest;
	__u64 allow_entries, allow_capacity;
	__u64 block_entries, block_capacity;
	__u64 bans, bans_capacity;
	__u64 ban_filter_bits_set, ban_filter_bits; /* the ban filter's fill (bans.h) */
	__u64 limiter_keys, limiter_capacity;
	__u64 probation_keys; /* new keys on probation, bucket not full */
	struct sluice_tier_stats tier; /* the new-key tier's decisions */
	const struct metrics_guard *guards;
	size_t nguards;
};

/* Label of the counter slot no rule decided (SLUICE_NO_RULE). */
#define METRICS_NO_RULE "none"

/* Appends every sluice family for IN, except sluice_scrape_duration_seconds. */
void metrics_render(struct mbuf *b, const struct metrics_input *in);

#endif /* SLUICE_METRICS_H */
