/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The allowlist and blocklist in the pinned maps: per list and generation, a hash of
 * entries by exact prefix (an inner map of sluice_lists, sized to what it holds) and
 * the list's filter regions (sluice.h). Whole-list changes build a new generation
 * beside the live one and switch in one step; one-entry edits write the live one.
 */
#ifndef SLUICE_LISTS_H
#define SLUICE_LISTS_H

#include "grammar.h"
#include "pins.h"

/* Entries a list hash holds at least, so small lists take live adds without growing. */
#define LIST_MIN_CAPACITY 4096

/* The permanent IPv4 /32s a build writes (host order), for the host records (sluice.h). */
struct host_table {
	__u32 *addrs;
	size_t n, cap;
};

/* The named sets of both lists, as in sluice_sets (pins.h), by list and bit. */
struct set_table {
	struct sluice_set slot[2][SLUICE_MAX_SETS];
};

/* Reads T from sluice_sets (empty when the map is missing). -errno. */
int sets_read(const struct pins *p, struct set_table *t);

/* Writes T to sluice_sets. -errno. */
int sets_write(const struct pins *p, const struct set_table *t);

/* The bit of set NAME of list KIND ("": SLUICE_SET_MANUAL), or -ENOENT. */
int set_find(const struct set_table *t, enum list_kind kind, const char *name);

/* The bit of set NAME, taking a free one for a new name; -ENOSPC when all are taken. */
int set_assign(struct set_table *t, enum list_kind kind, const char *name);

/*
 * The keys of the items a build writes into one list, by item index + 1 (0 empty): live
 * entries the items replace are not copied, and an item whose key an earlier item has
 * (the same prefix in another set) is merged into that one.
 */
struct key_set {
	__u32 *slots;
	size_t mask;
	size_t count; /* distinct keys */
};

/* A new list generation being built; the kinds with fd >= 0 get a new hash. */
struct list_gen {
	int fd[2]; /* by enum list_kind; -1: the kind keeps its live hash */
	__u32 active; /* the live word the build started from */
	__u32 next; /* the list generation being filled */
	__u64 expiry; /* earliest expiry of the entries written (0: none) */
	const struct list_item *items; /* the items the build will add (list_gen_items) */
	size_t nitems;
	__u8 *item_bit; /* by item: its set's bit, or ITEM_MERGED; NULL: all by hand */
	__u64 item_bits[2]; /* the bits of the items' sets, by list */
	__u64 clear[2]; /* set bits the copied live entries lose: a set imported or flushed */
	long cleared[2]; /* live entries that had a bit of clear[] */
	struct key_set index[2]; /* the items' keys, for builds that copy or merge */
	__u32 *merge_of; /* by item: 1 + its index in merged[], 0 none; NULL until needed */
	struct sluice_list_entry *merged; /* what other sets add to an item's entry */
	size_t nmerged, merged_cap;
	struct host_table hosts[2]; /* by enum list_kind */
};

/*
 * The ITEMS a build adds: their set names resolve through SETS (NULL: all by hand;
 * a name not in it: -ENOENT). Call before list_gen_replace, which copies live entries
 * around them.
 */
int list_gen_items(struct list_gen *g, const struct list_item *items, size_t n,
		   const struct set_table *sets);

/* Starts a build from the live word ACTIVE. */
void list_gen_begin(struct list_gen *g, __u32 active);

/*
 * Gives KIND a new, empty hash for at least WANT entries (up to the list capacity):
 * -ENOSPC when WANT exceeds it. With KEEP_LIVE, the live entries are copied in.
 */
int list_gen_replace(struct pins *p, struct list_gen *g, enum list_kind kind, size_t want,
		     bool keep_live);

/* Writes the items (list_gen_items) of the kinds being replaced into the new hashes. */
int list_gen_add(struct pins *p, struct list_gen *g);

/*
 * Puts the new hashes under the next generation, and the live hash and filter of each
 * kept kind beside them; the caller then flips the live word to G->next.
 */
int list_gen_stage(struct pins *p, struct list_gen *g);

/*
 * After the flip: the old generation's slots take the new hashes, which returns once
 * no packet can still read the old ones (an RCU grace period, the kernel's own), and
 * the old hashes are freed by the kernel in the background.
 */
int list_gen_finish(struct pins *p, struct list_gen *g);

/* Drops a build that did not switch (its hashes unpinned); the live lists are untouched. */
void list_gen_abort(const struct pins *p, struct list_gen *g);

/* An fd of the hash of KIND in list generation GEN (close it); -ENOENT when it has none. */
int list_open(const struct pins *p, enum list_kind kind, __u32 gen);

/*
 * The longest live entry of KIND in generation GEN covering address ADDR (a host
 * prefix), as NET. 1 found, 0 not, -errno.
 */
int list_lookup(const struct pins *p, enum list_kind kind, __u32 gen, const struct prefix *addr,
		struct prefix *net);

/*
 * Calls VISIT for each live entry of KIND in the live lists, as a list item with its
 * remaining TTL in whole seconds, in the hash's order and constant memory. Stops at
 * the first non-zero result, which it returns; -errno on a read error.
 */
int list_walk(int fd, enum list_kind kind, __u64 now,
	      int (*visit)(const struct list_item *item, void *ctx), void *ctx);

/*
 * For tests and benchmarks that write lists of a generation directly: clears the
 * filter of KIND in GEN; writes ENTRY under KEY into the hash FD and that filter.
 */
void list_filter_reset(struct pins *p, enum list_kind kind, __u32 gen);
int list_entry_put(struct pins *p, enum list_kind kind, __u32 gen, int fd,
		   const struct sluice_lpm_key *key, const struct sluice_list_entry *entry);

#endif /* SLUICE_LISTS_H */
