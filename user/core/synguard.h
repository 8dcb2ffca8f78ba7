/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* SYN guards on the host side: the TCP settings their cookies depend on, and their counters. */
#ifndef SLUICE_SYNGUARD_H
#define SLUICE_SYNGUARD_H

#include "pins.h"

/* The TCP settings of the controller's network namespace that a guard's cookies depend on. */
struct guard_host {
	int syncookies; /* net.ipv4.tcp_syncookies: 0 refuses cookies, 2 gives them always */
	int timestamps; /* net.ipv4.tcp_timestamps: only 2 lets a cookie carry options */
	int sack; /* net.ipv4.tcp_sack */
	__u8 wscale; /* the window scale the kernel gives a socket made from a cookie */
};

/* Reads H from /proc/sys. -errno. */
int guard_host_read(struct guard_host *h);

/*
 * Refuses NGUARDS guards (with a message starting with WHAT) where the kernel would
 * refuse their cookies: tcp_syncookies 0. -EOPNOTSUPP.
 */
int guard_host_check(const struct guard_host *h, int nguards, const char *what);

/* Guards in the live policy of P; 0 when it cannot be read. */
int guard_live_count(const struct pins *p);

/* Whether cookies carry window scaling and SACK under H (tcp_timestamps 2). */
bool guard_host_options(const struct guard_host *h);

/* Guard IDX's counters summed over CPUs, and its shared state. -errno. */
int guard_counts_read(const struct pins *p, __u32 idx, struct sluice_guard_stats *sum,
		      struct sluice_guard_state *state);

/*
 * Zeroes the counters and state of every guard index whose guard differs between OLD and
 * NEW policies (counters are kept by position), so a guard's counters are its own. -errno.
 */
int guard_counts_reset_changed(const struct pins *p, const struct sluice_policy *old,
			       const struct sluice_policy *new);

#endif /* SLUICE_SYNGUARD_H */
