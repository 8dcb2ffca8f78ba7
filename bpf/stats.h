/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The one place a packet is counted: per-CPU, so plain increments suffice. */
#ifndef SLUICE_STATS_H
#define SLUICE_STATS_H

#include "maps.h"

/* What the pipeline decided for a packet: the one thing counted, and reported as an event. */
struct decision {
	__u32 verdict;
	__u32 reason;
	__u32 rule; /* counter slot of the deciding rule, or SLUICE_NO_RULE */
	__u32 limit; /* index of the refusing limit in its rule, or SLUICE_EVENT_NO_LIMIT */
};

static __always_inline void stats_count(__u32 iface, __u32 rule, __u32 verdict, __u32 reason,
					__u32 len)
{
	__u32 idx;
	struct sluice_counter *c;

	if (iface >= SLUICE_MAX_IFACES || rule >= SLUICE_RULE_SLOTS ||
	    verdict >= SLUICE_VERDICT_COUNT || reason >= SLUICE_REASON_COUNT)
		return;
	idx = sluice_stats_index(iface, rule, verdict, reason);
	c = bpf_map_lookup_elem(&sluice_stats, &idx);
	if (!c)
		return;
	c->packets++;
	c->bytes += len;
}

#endif /* SLUICE_STATS_H */
