/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The list indexes (sluice.h): IPv4 /24 records and IPv6 exact prefixes, gathered in
 * memory, then written to a list's index maps and filter headers.
 */
#ifndef SLUICE_LIST_INDEX_H
#define SLUICE_LIST_INDEX_H

#include <stdbool.h>
#include "sluice.h"

struct list_index;

/* Where one list of one generation keeps its indexes. */
struct index_target {
	int fd4, fd6; /* sluice_nets_*, sluice_v6_* */
	struct sluice_filter_header *h4, *h6; /* the list's filter headers, mapped */
};

struct list_index *list_index_new(void);
void list_index_free(struct list_index *ix);

/*
 * Notes entry KEY, expiring at EXPIRES_NS (0: never). An IPv4 entry of /16 or longer
 * marks its records listed, or hands them to the trie (ASK) if it expires; shorter
 * IPv4 entries have no records. An IPv6 entry is indexed as it is. -ENOMEM.
 */
int list_index_note(struct list_index *ix, const struct sluice_lpm_key *key, __u64 expires_ns);

/* The earliest expiry of the entries noted in IX; 0 when none expires. */
__u64 list_index_earliest_expiry(const struct list_index *ix);

/* Notes that entry KEY is being deleted: its IPv4 records go to the trie (ASK). -ENOMEM. */
int list_index_forget(struct list_index *ix, const struct sluice_lpm_key *key);

/*
 * Writes what was noted. With MERGE it is ORed into the indexes already there (a live
 * list); without, they must be empty (a fresh generation). What a full map will not
 * take marks the family's filter header SLUICE_FILTER_UNINDEXED, so the data path
 * asks the trie. -errno on any other failure.
 */
int list_index_write(struct list_index *ix, const struct index_target *t, bool merge);

#endif /* SLUICE_LIST_INDEX_H */
