/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Attaching the data path to interfaces and detaching it. */
#ifndef SLUICE_ATTACH_H
#define SLUICE_ATTACH_H

#include "pins.h"

enum attach_mode {
	ATTACH_NATIVE = 0,
	ATTACH_SKB,
	ATTACH_AUTO, /* native, else skb */
};

struct attach_opts {
	enum attach_mode mode;
	__u32 limiter_keys; /* capacities when the maps are first created; 0: default */
	__u32 list_entries;
	__u32 bans;
	bool force; /* attach even if the live policy would cut off the management path */
};

/*
 * Loads a copy of the program for IFNAME with its own counter slot, reusing the
 * pinned maps (creating them on the first attach), and pins its link. The caller
 * holds the lock on a prepared pin directory. Refuses an interface that already
 * runs an XDP program.
 */
int attach_iface(struct pins *p, const char *ifname, const struct attach_opts *o);

/* Removes IFNAME's link; the last detach removes every pin. */
int detach_iface(struct pins *p, const char *ifname);

/* The record of an attached interface by name. -ENOENT if none. */
int iface_find(const struct pins *p, const char *name, __u32 *slot, struct sluice_iface *rec);

/* Zeroes every counter of an interface slot. */
int stats_zero_iface(const struct pins *p, __u32 slot);

const char *xdp_mode_name(__u32 mode);

#endif /* SLUICE_ATTACH_H */
