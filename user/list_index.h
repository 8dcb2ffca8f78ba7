/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The IPv4 list index (sluice.h): /24 records gathered in memory, then written to a map. */
#ifndef SLUICE_LIST_INDEX_H
#define SLUICE_LIST_INDEX_H

#include <stdbool.h>
#include "sluice.h"

struct list_index;

struct list_index *list_index_new(void);
void list_index_free(struct list_index *ix);

/*
 * Notes what entry KEY means for the records it covers or lies in: a permanent entry
 * marks them listed, one that EXPIRES (or is being deleted, ASK) hands them to the
 * trie. IPv6 entries and IPv4 entries shorter than /16 have no records. -ENOMEM.
 */
int list_index_note(struct list_index *ix, const struct sluice_lpm_key *key, bool ask);

/*
 * Writes the records into the index map FD. With MERGE they are ORed into the records
 * already there (a live list); without, FD must hold none of them (a fresh generation).
 * A record the map takes no more sets SLUICE_FILTER_UNINDEXED in HEADER (the filter
 * header of the list's IPv4 region), so the data path asks the trie. -errno on any
 * other failure.
 */
int list_index_write(struct list_index *ix, int fd, bool merge, __u64 *header);

#endif /* SLUICE_LIST_INDEX_H */
