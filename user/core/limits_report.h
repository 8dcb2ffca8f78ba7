/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What each limit of the live policy holds: keys with state, how full, and the fullest. */
#ifndef SLUICE_LIMITS_REPORT_H
#define SLUICE_LIMITS_REPORT_H

#include <stdbool.h>
#include "grammar.h"
#include "pins.h"

/* How much of its burst a key has used: by quarters, and over (not one more unit fits). */
enum limits_bin {
	LIMITS_BIN_0_25,
	LIMITS_BIN_25_50,
	LIMITS_BIN_50_75,
	LIMITS_BIN_75_100,
	LIMITS_BIN_OVER,
	LIMITS_BINS,
};

extern const char *const limits_bin_names[LIMITS_BINS]; /* "0-25%" ... "over" */

/* A key with state under a limit. */
struct limits_key {
	struct sluice_bucket_key key;
	__u64 tat; /* its arrival time, SLUICE_TIME_SHIFT units */
	double used; /* of the burst, 0..1 */
	__u64 tokens; /* packets (bytes, for a byte rate) the bucket would admit now */
	bool in_lru; /* held in sluice_buckets, not a slot */
};

/* One limit of a rule of the live policy, and the keys that hold state under it. */
struct limits_entry {
	char rule[SLUICE_NAME_LEN];
	unsigned int limit; /* its index in the rule */
	enum sluice_action action;
	struct sluice_limit lim;
	bool fine_clock; /* the data path runs its rule on CLOCK_MONOTONIC, else the coarse one */
	__u64 now; /* that clock when the keys were read, SLUICE_TIME_SHIFT units */
	struct limit_spec spec; /* as the policy text has it */
	char spec_text[128]; /* format_limit of spec */
	long keys; /* keys with state: a bucket not full */
	long in_slots, in_lru; /* ... held in a slot, in sluice_buckets */
	long bins[LIMITS_BINS];
	unsigned int ntop;
	struct limits_key *top; /* the fullest keys first, at most the top asked for */
};

struct limits_report {
	unsigned int n;
	struct limits_entry entries[SLUICE_MAX_RULES * SLUICE_MAX_LIMITS];
	/* Live slots whose key record does not match their tag: being taken over right now. */
	long unnamed;
};

/*
 * Reads the limits of the live policy (only those of rule RULE unless NULL) and the
 * keys holding state under them, keeping the TOP fullest keys of each. -ENOENT when
 * RULE is not a rule of the live policy; -errno.
 */
int limits_read(const struct pins *p, const char *rule, unsigned int top, struct limits_report *r);

void limits_free(struct limits_report *r);

/* A key with live state under limit E, its arrival time TAT: 0, or an error to stop with. */
typedef int (*limits_key_fn)(const struct limits_entry *e, const struct sluice_bucket_key *key,
			     __u64 tat, void *ctx);

/*
 * Reads the limits of the live policy into R (no keys kept there) and calls FN for
 * every key with live state under the limits WANT takes (all with NULL), in no order.
 * 0, FN's error, or -errno.
 */
int limits_keys(const struct pins *p, struct limits_report *r,
		bool (*want)(const struct limits_entry *e), limits_key_fn fn, void *ctx);

/* The clock the data path runs E's rule on, now, in SLUICE_TIME_SHIFT units. */
__u64 limits_now(const struct limits_entry *e);

/* The source a key stands for under its limit: its prefix, or "global". */
void limits_key_format(const struct limits_entry *e, const struct sluice_bucket_key *key, char *buf,
		       size_t len);

#endif /* SLUICE_LIMITS_REPORT_H */
