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

/* An IPv6 entry to write, or to delete. */
struct index_v6 {
	struct sluice_lpm_key key;
	__u64 expires_ns;
	bool deleted;
};

struct list_index {
	struct index_slot *slots;
	size_t cap, n;
	struct index_v6 *v6;
	size_t v6_n, v6_cap;
	__u32 plen_count[129]; /* IPv6 entries noted by prefix length */
	__u64 earliest_expiry; /* of the entries noted; 0 none expires */
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
	free(ix->v6);
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

static int note_v6(struct list_index *ix, const struct sluice_lpm_key *key, __u64 expires_ns,
		   bool deleted)
{
	if (ix->v6_n == ix->v6_cap) {
		size_t cap = ix->v6_cap ? ix->v6_cap * 2 : 64;
		struct index_v6 *grown = realloc(ix->v6, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		ix->v6 = grown;
		ix->v6_cap = cap;
	}
	ix->v6[ix->v6_n++] = (struct index_v6){ *key, expires_ns, deleted };
	if (!deleted && key->prefixlen <= 128)
		ix->plen_count[key->prefixlen]++;
	return 0;
}

static int note_v4(struct list_index *ix, const struct sluice_lpm_key *key, bool ask)
{
	__u32 plen = key->prefixlen - SLUICE_V4_MAPPED_PLEN, addr, first, count;
	struct sluice_net *rec;

	if (key->prefixlen < SLUICE_V4_MAPPED_PLEN + SLUICE_INDEX_MIN_PLEN)
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

int list_index_note(struct list_index *ix, const struct sluice_lpm_key *key, __u64 expires_ns)
{
	if (expires_ns && (!ix->earliest_expiry || expires_ns < ix->earliest_expiry))
		ix->earliest_expiry = expires_ns;
	if (prefix128_is_v4(key->addr, key->prefixlen))
		return note_v4(ix, key, expires_ns != 0);
	return note_v6(ix, key, expires_ns, false);
}

__u64 list_index_earliest_expiry(const struct list_index *ix)
{
	return ix->earliest_expiry;
}

int list_index_forget(struct list_index *ix, const struct sluice_lpm_key *key)
{
	if (prefix128_is_v4(key->addr, key->prefixlen))
		return note_v4(ix, key, true);
	return note_v6(ix, key, 0, true);
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

static int write_v4(struct list_index *ix, int fd, bool merge, __u64 *header)
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

/* Makes PLEN one of the lengths the data path looks up; a full list marks the region. */
static void register_plen(struct sluice_filter_header *h, __u8 plen)
{
	__u32 n = __atomic_load_n(&h->nplens, __ATOMIC_ACQUIRE);

	for (__u32 i = 0; i < n && i < SLUICE_V6_INDEX_PLENS; i++)
		if (h->plens[i] == plen)
			return;
	if (n >= SLUICE_V6_INDEX_PLENS) {
		__atomic_fetch_or(&h->flags, SLUICE_FILTER_UNINDEXED, __ATOMIC_RELAXED);
		return;
	}
	/* The length before the count that makes readers look at it. */
	h->plens[n] = plen;
	__atomic_store_n(&h->nplens, n + 1, __ATOMIC_RELEASE);
}

static int write_v6_entry(int fd, const struct index_v6 *e, struct sluice_filter_header *h)
{
	if (e->deleted)
		return bpf_map_delete_elem(fd, &e->key) && errno != ENOENT ? -errno : 0;
	if (!bpf_map_update_elem(fd, &e->key, &e->expires_ns, BPF_ANY))
		return 0;
	if (errno != E2BIG && errno != ENOSPC && errno != ENOMEM)
		return -errno;
	__atomic_fetch_or(&h->flags, SLUICE_FILTER_UNINDEXED, __ATOMIC_RELAXED);
	return 0;
}

static int write_v6(struct list_index *ix, int fd, bool merge, struct sluice_filter_header *h)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct sluice_lpm_key *keys = calloc(INDEX_BATCH, sizeof(*keys));
	__u64 *values = calloc(INDEX_BATCH, sizeof(*values));
	__u32 order[129], norder = 0, n = 0, count;
	int ret = keys && values ? 0 : -ENOMEM;

	/* Entries first: a length is looked up only once its entries are there. */
	for (size_t i = 0; i <= ix->v6_n && !ret; i++) {
		bool last = i == ix->v6_n;

		if (!last && (merge || ix->v6[i].deleted)) {
			ret = write_v6_entry(fd, &ix->v6[i], h);
			continue;
		}
		if (!last) {
			keys[n] = ix->v6[i].key;
			values[n++] = ix->v6[i].expires_ns;
		}
		if (!n || (n < INDEX_BATCH && !last))
			continue;
		count = n;
		if (bpf_map_update_batch(fd, keys, values, &count, &opts))
			for (__u32 k = 0; k < n && !ret; k++)
				ret = write_v6_entry(fd, &(struct index_v6){ keys[k], values[k], false },
						     h);
		n = 0;
	}
	/* The most common lengths first: most listed sources are found in one lookup. */
	for (__u32 plen = 0; plen <= 128; plen++)
		if (ix->plen_count[plen])
			order[norder++] = plen;
	for (__u32 i = 1; i < norder; i++)
		for (__u32 j = i; j > 0 && ix->plen_count[order[j]] > ix->plen_count[order[j - 1]];
		     j--) {
			__u32 t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	for (__u32 i = 0; i < norder && !ret; i++)
		register_plen(h, order[i]);
	free(keys);
	free(values);
	return ret;
}

int list_index_write(struct list_index *ix, const struct index_target *t, bool merge)
{
	return write_v4(ix, t->fd4, merge, &t->h4->flags) ?: write_v6(ix, t->fd6, merge, t->h6);
}
