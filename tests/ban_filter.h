/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Tests insert bans by hand; the data path sees them only with their ban filter bit set. */
#ifndef SLUICE_TEST_BAN_FILTER_H
#define SLUICE_TEST_BAN_FILTER_H

#include <errno.h>
#include <bpf/bpf.h>
#include "sluice.h"

static inline int ban_filter_mark(int filter_fd, const struct sluice_ban_key *key)
{
	__u32 bit = sluice_ban_bit(key->prefixlen, key->addr), idx = bit >> 6;
	__u64 word;

	if (bpf_map_lookup_elem(filter_fd, &idx, &word))
		return -errno;
	word |= 1ULL << (bit & 63);
	return bpf_map_update_elem(filter_fd, &idx, &word, BPF_ANY) ? -errno : 0;
}

#endif /* SLUICE_TEST_BAN_FILTER_H */
