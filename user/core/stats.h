/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading the per-CPU counters into totals per interface, rule, verdict and reason. */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include <jansson.h>
#include "pins.h"

extern const char *const verdict_names[SLUICE_VERDICT_COUNT];
extern const char *const reason_names[SLUICE_REASON_COUNT];

/*
 * Counters summed over CPUs, indexed by sluice_stats_index(). They only grow: a rule
 * slot a new rule takes over keeps counting, and what it had counted until then is its
 * baseline (sluice_baselines), which a rule's own counts leave out. So interface and
 * reason totals never go back, and a new rule starts from zero.
 */
struct stats_snapshot {
	__u64 taken_ns; /* CLOCK_MONOTONIC when read */
	struct sluice_event_stats events; /* emitted, suppressed, lost summed over CPUs */
	struct sluice_counter c[SLUICE_STATS_ENTRIES];
	struct sluice_counter base[SLUICE_STATS_ENTRIES];
};

int stats_read(const struct pins *p, struct stats_snapshot *snap);

/* Makes the counts of the rule SLOTS (a bit each) so far their baselines. -errno. */
int stats_rebase(const struct pins *p, __u64 slots);

/* The event counters of sluice_evstats, summed over CPUs (sampling state left zero). */
int event_stats_read(const struct pins *p, struct sluice_event_stats *sum);

/*
 * Sum of one interface's counters for a rule slot, since its rule took it, or for the
 * whole interface with rule < 0 (all it ever counted), by verdict and reason (-1: all).
 */
struct sluice_counter stats_sum(const struct stats_snapshot *snap, __u32 iface, int rule,
				int verdict, int reason);

/*
 * The stats document of `sluice stats -j`: interfaces with totals by verdict, drops
 * by reason, and per rule by verdict. With PREV (may be NULL), rates per second too.
 * Rule names come from the live policy.
 */
json_t *stats_to_json(const struct pins *p, const struct stats_snapshot *snap,
		      const struct stats_snapshot *prev);

#endif /* SLUICE_STATS_H */
