/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The ban filter (sluice.h): how full it is, and its rebuild from the live bans. */
#ifndef SLUICE_BANS_H
#define SLUICE_BANS_H

#include "pins.h"

struct ban_filter_fill {
	long bits_set; /* bits set in the filter */
	long bits_total; /* bits the filter has */
	long bits_needed; /* distinct bits of the unexpired bans: what a rebuild leaves */
	long bans; /* unexpired bans in the ban map */
};

/* Reads F from the pinned ban filter and ban map. -errno. */
int ban_filter_fill(const struct pins *p, struct ban_filter_fill *f);

/*
 * Rebuilds the filter from the live bans, without hiding a live ban (see bans.c).
 * AFTER_CLEAR, when not NULL, runs once the stale bits are cleared and before the
 * bits of bans inserted meanwhile are set again: a test's window into the race.
 * Returns the number of bits it cleared, or -errno.
 */
long ban_filter_rebuild(const struct pins *p, void (*after_clear)(void *ctx), void *ctx);

/*
 * What collecting expired entries does to the filter: a rebuild when the stale bits
 * are many and outnumber the live ones, and the bits of live bans set again if any
 * are missing (a rebuild that was killed half-way). Returns bits cleared, or -errno.
 */
long ban_filter_collect(const struct pins *p);

/*
 * Notes that bans were deleted (ban del, ban flush), so the next collection checks the
 * filter for their stale bits. -errno.
 */
int ban_filter_note_removed(const struct pins *p);

/*
 * Inserts the N bans BANS under KEYS made elsewhere (the fleet agent), each key's filter
 * bit set before its ban as the data path does; a live ban with a later expiry stays as
 * it is. Returns the number inserted, or -errno.
 */
long ban_insert(const struct pins *p, const struct sluice_ban_key *keys,
		const struct sluice_ban *bans, size_t n);

#endif /* SLUICE_BANS_H */
