// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "grammar.h"
#include "list_index.h"

/* Records by /24, open-addressed; the table doubles at half full. */
struct index_slot {
	__u32 net;
	bool used;
	struct sluice_net rec;
};

struct list_index {
	struct index_slot *slots;
	size_t cap, n;
};

struct list_index *list_index_new(void)
{
	struct list_index *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return NULL;
	ix->cap = 1024;
	ix->slots = calloc(ix->cap, sizeof(*ix->slots));
	if (!ix->slots) {
		free(ix);
		return NULL;
	}
	return ix;
}

void list_index_free(struct list_index *ix)
{
	if (!ix)
		return;
	free(ix->slots);
	free(ix);
}

static size_t slot_of(const struct list_index *ix, __u32 net)
{
	size_t i = (size_t)((net * 0x9E3779B97F4A7C15ULL) >> 20) & (ix->cap - 1);

	while (ix->slots[i].used && ix->slots[i].net != net)
		i = (i + 1) & (ix->cap - 1);
	return i;
}

static int grow(struct list_index *ix)
{
	struct list_index bigger = { .cap = ix->cap * 2 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->slots[i].used)
			bigger.slots[slot_of(&bigger, ix->slots[i].net)] = ix->slots[i];
	free(ix->slots);
	ix->slots = bigger.slots;
	ix->cap = bigger.cap;
	return 0;
}

static struct sluice_net *record(struct list_index *ix, __u32 net)
{
	size_t i;

	if (2 * (ix->n + 1) > ix->cap && grow(ix))
		return NULL;
	i = slot_of(ix, net);
	if (!ix->slots[i].used) {
		ix->slots[i].used = true;
		ix->slots[i].net = net;
		ix->n++;
	}
	return &ix->slots[i].rec;
}

int list_index_note(struct list_index *ix, const struct sluice_lpm_key *key, bool ask)
{
	__u32 plen = key->prefixlen - SLUICE_V4_MAPPED_PLEN, addr, first, count;
	struct sluice_net *rec;

	if (key->prefixlen < SLUICE_V4_MAPPED_PLEN + SLUICE_INDEX_MIN_PLEN ||
	    !addr_is_v4_mapped(key->addr))
		return 0;
	addr = ntohl(key->addr[3]);
	if (plen <= 24) {
		first = addr >> 8;
		count = 1U << (24 - plen);
		for (__u32 net = first; net < first + count; net++) {
			rec = record(ix, net);
			if (!rec)
				return -ENOMEM;
			rec->flags |= ask ? SLUICE_NET_ASK : SLUICE_NET_WHOLE;
		}
		return 0;
	}
	rec = record(ix, addr >> 8);
	if (!rec)
		return -ENOMEM;
	if (ask) {
		rec->flags |= SLUICE_NET_ASK;
		return 0;
	}
	first = addr & 0xff;
	count = 1U << (32 - plen);
	for (__u32 h = first; h < first + count && h < 256; h++)
		rec->hosts[h / 64] |= 1ULL << (h % 64);
	return 0;
}

/* One record into the map; a full map marks the region unindexed instead of failing. */
static int write_one(int fd, __u32 net, struct sluice_net *rec, bool merge, __u64 *header)
{
	struct sluice_net old;

	if (merge && !bpf_map_lookup_elem(fd, &net, &old)) {
		for (int w = 0; w < 4; w++)
			rec->hosts[w] |= old.hosts[w];
		rec->flags |= old.flags;
	}
	if (!bpf_map_update_elem(fd, &net, rec, BPF_ANY))
		return 0;
	if (errno != E2BIG && errno != ENOSPC && errno != ENOMEM)
		return -errno;
	__atomic_fetch_or(header, SLUICE_FILTER_UNINDEXED, __ATOMIC_RELAXED);
	return 0;
}

#define INDEX_BATCH 4096

int list_index_write(struct list_index *ix, int fd, bool merge, __u64 *header)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 *nets = calloc(INDEX_BATCH, sizeof(*nets)), n = 0, count;
	struct sluice_net *recs = calloc(INDEX_BATCH, sizeof(*recs));
	int ret = nets && recs ? 0 : -ENOMEM;

	for (size_t i = 0; i <= ix->cap && !ret; i++) {
		bool last = i == ix->cap;

		if (!last && ix->slots[i].used) {
			if (merge) {
				ret = write_one(fd, ix->slots[i].net, &ix->slots[i].rec, true,
						header);
				continue;
			}
			nets[n] = ix->slots[i].net;
			recs[n++] = ix->slots[i].rec;
		}
		if (!n || (n < INDEX_BATCH && !last))
			continue;
		/* A fresh map takes a batch; where it will not, one by one. */
		count = n;
		if (bpf_map_update_batch(fd, nets, recs, &count, &opts))
			for (__u32 k = 0; k < n && !ret; k++)
				ret = write_one(fd, nets[k], &recs[k], false, header);
		n = 0;
	}
	free(nets);
	free(recs);
	return ret;
}
