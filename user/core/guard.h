/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The rollback guard of `restore --confirm-within`: the old policy comes back unless confirmed. */
#ifndef SLUICE_GUARD_H
#define SLUICE_GUARD_H

#include "values.h"
#include "pins.h"

#define GUARD_RUN_DIR "/run/sluice"

/*
 * Saves the live policy of P as the rollback point, unless an earlier restore still
 * awaits confirmation (then its rollback point, the last confirmed policy, stays).
 * Call before switching to the new policy. 1 if it saved one, 0 if it kept the
 * earlier one, -errno.
 */
int guard_save(const struct pins *p);

/* Removes a rollback point that guard_save just made, when the switch did not happen. */
void guard_discard(void);

/*
 * Puts the rollback point back live in P (whose lock the caller holds) and removes it,
 * as the guard does when time is up. -ENOENT if there is none; -errno with PERR.
 */
int guard_roll_back(struct pins *p, struct parse_error *perr);

/*
 * Starts a detached process that, after TIMEOUT_NS, restores the rollback point
 * unless `sluice confirm` removed it first. Replaces an earlier guard. -errno.
 * The guard holds an flock on its pid file while it lives; confirm signals it only
 * then, through a pidfd. SLUICE_TEST_GUARD_ARM_FAIL set in the environment makes
 * arming fail (-EIO), for the tests of restore's fail-closed path.
 */
int guard_arm(__u64 timeout_ns);

/* A restore --confirm-within that awaits confirmation, as guard_pending reads it. */
struct guard_pending {
	char rollback[256]; /* the saved policy the rollback puts back */
	long long deadline; /* CLOCK_REALTIME seconds of the rollback; 0 if unknown */
	int pid; /* the guard's; 0 if no guard lives (it was killed: nothing rolls back) */
};

/*
 * Is a rollback pending for the pin path? Fills G and returns 1, or 0 if none, without
 * any lock: for status and for the warnings of edits made in the window.
 */
int guard_pending(struct guard_pending *g);

/* Writes T (CLOCK_REALTIME seconds) as "2026-12-06 00:52:10 UTC" into BUF. */
void guard_format_time(long long t, char *buf, size_t len);

/* Confirms: removes the rollback point and stops the guard. -ENOENT if none waits. */
int guard_confirm(struct pins *p);

#endif /* SLUICE_GUARD_H */
