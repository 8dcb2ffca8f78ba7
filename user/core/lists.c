// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bans.h"
#include "lists.h"
#include "log.h"
#include "policy.h"
#include "text.h"

static __u32 list_slot(enum list_kind kind, __u32 gen)
{
	return kind * 2 + gen;
}

/* The id of the hash of KIND in generation GEN; 0 when the slot is empty. */
static __u32 list_id(const struct pins *p, enum list_kind kind, __u32 gen)
{
	__u32 slot = list_slot(kind, gen), id;

	return bpf_map_lookup_elem(p->fds[PIN_LISTS], &slot, &id) ? 0 : id;
}

/*
 * Each list hash is pinned as sluice_list_ID beside the other maps: opening a map by id
 * takes CAP_SYS_ADMIN, which readers such as the exporter do not keep.
 */
#define LIST_PIN_PREFIX "sluice_list_"

static void list_pin_path(const struct pins *p, __u32 id, char *path, size_t len)
{
	snprintf(path, len, "%s/" LIST_PIN_PREFIX "%u", p->dir, id);
}

int list_open(const struct pins *p, enum list_kind kind, __u32 gen)
{
	__u32 id = list_id(p, kind, gen);
	char path[PATH_MAX];
	int fd;

	if (!id)
		return -ENOENT;
	if (p->dir[0]) {
		list_pin_path(p, id, path, sizeof(path));
		fd = bpf_obj_get(path);
		if (fd >= 0 || errno != ENOENT)
			return fd < 0 ? -errno : fd;
	}
	/*
	 * No pin directory (the tests' maps), or a hash a switch just replaced: by id, which
	 * takes CAP_SYS_ADMIN; without it, the hash is as good as gone (a reader looks again).
	 */
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return p->dir[0] && errno == EPERM ? -ENOENT : -errno;
	return fd;
}

/* Pins a new list hash FD; without a pin directory (tests), nothing to do. */
static int list_pin(const struct pins *p, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];

	if (!p->dir[0])
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	list_pin_path(p, info.id, path, sizeof(path));
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

/*
 * Unpins the list hashes no slot holds any more: those a switch replaced, and those of a
 * build killed half-way. The kernel frees each once no packet or reader holds it.
 */
static void list_unpin_unused(const struct pins *p)
{
	__u32 used[4], id;
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX];

	if (!p->dir[0])
		return;
	for (__u32 slot = 0; slot < 4; slot++)
		used[slot] = list_id(p, slot / 2, slot % 2);
	d = opendir(p->dir);
	while (d && (e = readdir(d))) {
		if (sscanf(e->d_name, LIST_PIN_PREFIX "%u", &id) != 1 || !id)
			continue;
		if (id == used[0] || id == used[1] || id == used[2] || id == used[3])
			continue;
		list_pin_path(p, id, path, sizeof(path));
		if (unlink(path))
			pr_debug("unpin %s: %s", path, strerror(errno));
	}
	if (d)
		closedir(d);
}

static int slot_set(const struct pins *p, enum list_kind kind, __u32 gen, int fd)
{
	__u32 slot = list_slot(kind, gen);

	if (fd < 0)
		return bpf_map_delete_elem(p->fds[PIN_LISTS], &slot) && errno != ENOENT ? -errno :
											  0;
	return bpf_map_update_elem(p->fds[PIN_LISTS], &slot, &fd, BPF_ANY) ? -errno : 0;
}

/* Entries a list may hold: attach --list-entries, kept in sluice_state. */
static __u32 list_capacity(const struct pins *p)
{
	struct sluice_state state;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state) || !state.list_capacity)
		return SLUICE_DEFAULT_LIST_ENTRIES;
	return state.list_capacity;
}

/* A hash for WANT entries with a quarter more for live adds; -ENOSPC beyond CAP. */
static int hash_create(enum list_kind kind, size_t want, __u32 cap)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	/* A quarter more for live adds, and room for host records, within the capacity. */
	size_t entries = want + want / 4 + want / SLUICE_HOSTS_MIN;
	int fd;

	if (want > cap)
		return -ENOSPC;
	if (entries < LIST_MIN_CAPACITY)
		entries = LIST_MIN_CAPACITY;
	if (entries > cap)
		entries = cap;
	fd = bpf_map_create(BPF_MAP_TYPE_HASH, kind == LIST_ALLOW ? "sluice_allow" : "sluice_block",
			    sizeof(struct sluice_lpm_key), sizeof(struct sluice_list_entry),
			    entries, &opts);
	return fd < 0 ? -errno : fd;
}

/* ---- Filters (see sluice.h) ---- */

static struct sluice_filter_header *header_of(__u64 *region)
{
	return (struct sluice_filter_header *)region;
}

static void atomic_or(__u64 *word, __u64 bits)
{
	__atomic_fetch_or(word, bits, __ATOMIC_RELAXED);
}

/* An IPv6 entry spreads over at most 2^8 filter buckets (a /24 over its /32s). */
#define FILTER_MAX_SPREAD_LOG2 8

static void filter_set(__u64 *region, __u32 bit)
{
	atomic_or(&region[SLUICE_FILTER_HEADER_WORDS + (bit >> 6)], 1ULL << (bit & 63));
}

/* The /24s of an IPv4 KEY: the first one (host order) and how many. */
static void key_nets(const struct sluice_lpm_key *key, __u32 *first, __u32 *count)
{
	__u32 plen = key->prefixlen - SLUICE_V4_MAPPED_PLEN;

	*count = plen >= 24 ? 1 : 1U << (24 - plen);
	*first = plen ? (ntohl(key->addr[3]) >> 8) & ~(*count - 1) : 0;
}

/* Sets BITS (or with CLEAR, clears them) in the IPv4 table over COUNT /24s from FIRST. */
static void dir_apply(__u64 *region, __u32 first, __u32 count, __u64 bits, bool clear)
{
	__u64 *words = region + SLUICE_FILTER_HEADER_WORDS;
	__u64 spread = bits * 0x5555555555555555ULL; /* BITS (two of them) in every /24's pair */

	for (__u32 net = first; net - first < count;) {
		__u32 w = sluice_dir_word(net), shift = sluice_dir_shift(net);
		__u32 run = count - (net - first) < 32 - shift / 2 ? count - (net - first) :
								     32 - shift / 2;
		__u64 mask = (run == 32 ? ~0ULL : ((1ULL << (2 * run)) - 1) << shift) & spread;

		if (clear)
			__atomic_fetch_and(&words[w], ~mask, __ATOMIC_RELAXED);
		else
			__atomic_fetch_or(&words[w], mask, __ATOMIC_RELAXED);
		net += run;
	}
}

/*
 * Clears WHOLE over the /24s of an IPv4 KEY (of /24 or shorter). Another entry of /24
 * or less may cover them too: from now on their sources are looked up under every
 * such length the list holds, set first so no source is unlisted meanwhile.
 */
static void dir_unwhole(__u64 *region, const struct sluice_lpm_key *key)
{
	struct sluice_filter_header *h = header_of(region);
	__u32 first, count;

	atomic_or(&h->lengths[0], __atomic_load_n(&h->lengths[1], __ATOMIC_RELAXED));
	key_nets(key, &first, &count);
	dir_apply(region, first, count, SLUICE_DIR_WHOLE, true);
}

/*
 * Notes KEY (expiring at EXPIRES_NS, 0 never) in its family's filter before it is
 * written (see sluice.h). IPv4: every /24 it covers or lies in gets SOME, and WHOLE
 * when the entry is permanent and covers the /24; an expiring one clears WHOLE
 * instead, as it may replace a permanent entry of the same prefix. IPv6: its length,
 * the bit of its exact prefix and length, and the bits of the /32 buckets it lies in
 * or covers: an entry shorter than its bucket is spread over every bucket it covers,
 * up to 2^8 of them; a shorter one makes its family's filter pass everything, which
 * costs lookups, never matches.
 */
static void filter_add(const struct list_filter *f, const struct sluice_lpm_key *key,
		       __u64 expires_ns)
{
	__u32 addr[4] = { key->addr[0], key->addr[1], key->addr[2], key->addr[3] };
	__u32 first, count, len;
	__u64 span;

	if (prefix128_is_v4(key->addr, key->prefixlen)) {
		struct sluice_filter_header *h = header_of(f->v4);

		len = key->prefixlen - SLUICE_V4_MAPPED_PLEN;
		if (len <= 24)
			atomic_or(&h->lengths[1], 1ULL << len);
		if (len > 24 || expires_ns)
			atomic_or(&h->lengths[0], 1ULL << len);
		key_nets(key, &first, &count);
		dir_apply(f->v4, first, count,
			  SLUICE_DIR_SOME | (!expires_ns && len <= 24 ? SLUICE_DIR_WHOLE : 0),
			  false);
		if (expires_ns && len <= 24)
			dir_unwhole(f->v4, key);
		return;
	}
	atomic_or(&header_of(f->v6)->lengths[key->prefixlen / 64], 1ULL << (key->prefixlen % 64));
	filter_set(f->v6, sluice_filter_bit6_len(key->prefixlen, key->addr));
	if (key->prefixlen >= SLUICE_FILTER_V6_BUCKET) {
		filter_set(f->v6, sluice_filter_bit6(addr));
		return;
	}
	if (SLUICE_FILTER_V6_BUCKET - key->prefixlen > FILTER_MAX_SPREAD_LOG2) {
		atomic_or(&header_of(f->v6)->flags, SLUICE_FILTER_ALL);
		return;
	}
	span = 1ULL << (SLUICE_FILTER_V6_BUCKET - key->prefixlen);
	for (__u64 b = ntohl(addr[0]); b < ntohl(key->addr[0]) + span; b++) {
		addr[0] = htonl((__u32)b);
		filter_set(f->v6, sluice_filter_bit6(addr));
	}
}

/* Before KEY leaves a live list: an IPv4 entry's /24s lose WHOLE (dir_unwhole). */
static void filter_forget(const struct list_filter *f, const struct sluice_lpm_key *key)
{
	if (prefix128_is_v4(key->addr, key->prefixlen) &&
	    key->prefixlen <= SLUICE_V4_MAPPED_PLEN + 24)
		dir_unwhole(f->v4, key);
}

static void filter_clear(const struct list_filter *f)
{
	memset(f->v4, 0, SLUICE_FILTER_REGION * sizeof(*f->v4));
	memset(f->v6, 0, SLUICE_FILTER_REGION * sizeof(*f->v6));
}

void list_filter_reset(struct pins *p, enum list_kind kind, __u32 gen)
{
	struct list_filter f = pins_filter(p, kind, gen);

	if (f.v4)
		filter_clear(&f);
}

int list_entry_put(struct pins *p, enum list_kind kind, __u32 gen, int fd,
		   const struct sluice_lpm_key *key, const struct sluice_list_entry *entry)
{
	struct list_filter f = pins_filter(p, kind, gen);

	if (!f.v4)
		return -EIO;
	filter_add(&f, key, entry->expires_ns);
	return bpf_map_update_elem(fd, key, entry, BPF_ANY) ? -errno : 0;
}

/* ---- Host records (sluice_hosts) ---- */

/* Whether KEY is an IPv4 /32, and its /24 (host order) and host byte. */
static bool key_host(const struct sluice_lpm_key *key, __u32 *net24, __u32 *host)
{
	if (key->prefixlen != SLUICE_V4_MAPPED_PLEN + 32 || !prefix128_is_v4(key->addr, 128))
		return false;
	*net24 = ntohl(key->addr[3]) >> 8;
	*host = ntohl(key->addr[3]) & 0xff;
	return true;
}

static struct sluice_lpm_key host_key(__u32 net24)
{
	return (struct sluice_lpm_key){
		.prefixlen = SLUICE_HOSTS_PLEN,
		.addr = { 0, 0, htonl(0xffff), htonl(net24 << 8) },
	};
}

static bool is_host_record(const struct sluice_lpm_key *key)
{
	return key->prefixlen == SLUICE_HOSTS_PLEN;
}

static void host_table_free(struct host_table *t)
{
	free(t->addrs);
	memset(t, 0, sizeof(*t));
}

/*
 * Notes permanent /32 KEY; anything else is not noted. -ENOMEM. A flat array of
 * addresses, sorted once when the records are written: a feed's /32s are mostly in
 * /24s of their own, and a table by /24 of 1M of them filled tens of MiB at random.
 */
static int host_note(struct host_table *t, const struct sluice_lpm_key *key, __u64 expires_ns)
{
	__u32 net24, host;

	if (!t || expires_ns || !key_host(key, &net24, &host))
		return 0;
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 4096;
		__u32 *addrs = realloc(t->addrs, cap * sizeof(*addrs));

		if (!addrs)
			return -ENOMEM;
		t->addrs = addrs;
		t->cap = cap;
	}
	t->addrs[t->n++] = net24 << 8 | host;
	return 0;
}

/* Sorts A (N addresses) with TMP as room for as many: a radix sort, a byte a pass. */
static void addrs_sort(__u32 *a, __u32 *tmp, size_t n)
{
	if (n < 2)
		return; /* nothing to sort, and A may be NULL, which memcpy may not be given */
	for (unsigned int shift = 0; shift < 32; shift += 8) {
		size_t count[257] = {};

		for (size_t i = 0; i < n; i++)
			count[(a[i] >> shift & 0xff) + 1]++;
		for (int b = 0; b < 256; b++)
			count[b + 1] += count[b];
		for (size_t i = 0; i < n; i++)
			tmp[count[a[i] >> shift & 0xff]++] = a[i];
		memcpy(a, tmp, n * sizeof(*a));
	}
}

/*
 * Writes the records of the /24s with SLUICE_HOSTS_MIN distinct /32s or more into FD.
 * Sorts T's addresses in place.
 */
static int host_records_write(struct host_table *t, int fd, __u64 *v4_region)
{
	__u32 *tmp = t->n ? malloc(t->n * sizeof(*tmp)) : NULL;
	bool any = false;
	size_t i = 0;

	if (t->n && !tmp)
		return -ENOMEM;
	addrs_sort(t->addrs, tmp, t->n);
	free(tmp);
	while (i < t->n) {
		__u32 net24 = t->addrs[i] >> 8, count = 0;
		struct sluice_hosts rec = {};
		struct sluice_lpm_key key;

		for (; i < t->n && t->addrs[i] >> 8 == net24; i++) {
			__u32 host = t->addrs[i] & 0xff;

			count += !(rec.bits[host >> 6] & 1ULL << (host & 63));
			rec.bits[host >> 6] |= 1ULL << (host & 63);
		}
		if (count < SLUICE_HOSTS_MIN)
			continue;
		key = host_key(net24);
		if (bpf_map_update_elem(fd, &key, &rec, BPF_ANY)) {
			if (errno != E2BIG)
				return -errno;
			break; /* a list at its capacity: records are a shortcut, not needed */
		}
		any = true;
	}
	if (any)
		atomic_or(&header_of(v4_region)->flags, SLUICE_FILTER_HOSTS);
	return 0;
}

/*
 * A one-entry edit of a live list: sets (ON) or clears the bit of /32 KEY in its /24's
 * host record, when that /24 has one. A bit is set after its entry is written and
 * cleared before the entry goes or starts to expire.
 */
static int host_bit_update(int fd, const struct sluice_lpm_key *key, bool on)
{
	struct sluice_hosts rec;
	struct sluice_lpm_key rkey;
	__u32 net24, host;
	__u64 bit;

	if (!key_host(key, &net24, &host))
		return 0;
	rkey = host_key(net24);
	if (bpf_map_lookup_elem(fd, &rkey, &rec))
		return errno == ENOENT ? 0 : -errno;
	bit = 1ULL << (host & 63);
	if (!!(rec.bits[host >> 6] & bit) == on)
		return 0;
	rec.bits[host >> 6] = on ? rec.bits[host >> 6] | bit : rec.bits[host >> 6] & ~bit;
	return bpf_map_update_elem(fd, &rkey, &rec, BPF_EXIST) ? -errno : 0;
}

/* ---- Writing entries in batches ---- */

#define LIST_BATCH 4096

struct list_writer {
	int fd;
	__u32 n;
	struct host_table *hosts; /* the build's, or NULL */
	struct sluice_lpm_key keys[LIST_BATCH];
	struct sluice_list_entry values[LIST_BATCH];
};

static int writer_flush(struct list_writer *w)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = w->n;

	w->n = 0;
	if (count && bpf_map_update_batch(w->fd, w->keys, w->values, &count, &opts))
		return errno == E2BIG ? -ENOSPC : -errno;
	return 0;
}

/* Notes KEY in FILTER, then queues it; the filter bits come before the entry. */
static int writer_put(struct list_writer *w, const struct list_filter *filter,
		      const struct sluice_lpm_key *key, const struct sluice_list_entry *entry)
{
	int ret = host_note(w->hosts, key, entry->expires_ns);

	if (ret)
		return ret;
	filter_add(filter, key, entry->expires_ns);
	w->keys[w->n] = *key;
	w->values[w->n] = *entry;
	return ++w->n == LIST_BATCH ? writer_flush(w) : 0;
}

static void fill_entry(struct sluice_list_entry *entry, const struct list_item *item, __u64 now,
		       unsigned int bit)
{
	memset(entry, 0, sizeof(*entry));
	entry->expires_ns = item->ttl_ns ? now + item->ttl_ns : 0;
	entry->sets = 1ULL << bit;
	memcpy(entry->comment, item->comment, sizeof(entry->comment));
}

static __u64 earlier_expiry(__u64 a, __u64 b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

/* The later of two expiries, 0 (never) latest of all. */
static __u64 later_expiry(__u64 a, __u64 b)
{
	return !a || !b ? 0 : a > b ? a : b;
}

/*
 * An entry in several sets is listed while any of them lists it: the union of the
 * sets, the later expiry, and the first comment given.
 */
static void entry_merge(struct sluice_list_entry *into, const struct sluice_list_entry *from)
{
	into->sets |= from->sets;
	into->expires_ns = later_expiry(into->expires_ns, from->expires_ns);
	if (!into->comment[0])
		memcpy(into->comment, from->comment, sizeof(into->comment));
}

/* ---- Named sets ---- */

int sets_read(const struct pins *p, struct set_table *t)
{
	__u32 keys[2 * SLUICE_MAX_SETS], n = 2 * SLUICE_MAX_SETS, batch;

	memset(t, 0, sizeof(*t));
	if (p->fds[PIN_SETS] < 0)
		return 0;
	/* One call for the whole array (the agent reads it per decision); slot by slot else. */
	if ((!bpf_map_lookup_batch(p->fds[PIN_SETS], NULL, &batch, keys, t->slot, &n, NULL) ||
	     errno == ENOENT) &&
	    n == 2 * SLUICE_MAX_SETS)
		return 0;
	for (__u32 i = 0; i < 2 * SLUICE_MAX_SETS; i++)
		if (bpf_map_lookup_elem(p->fds[PIN_SETS], &i,
					&t->slot[i / SLUICE_MAX_SETS][i % SLUICE_MAX_SETS]))
			return -errno;
	return 0;
}

int sets_write(const struct pins *p, const struct set_table *t)
{
	if (p->fds[PIN_SETS] < 0)
		return 0;
	for (__u32 i = 0; i < 2 * SLUICE_MAX_SETS; i++)
		if (bpf_map_update_elem(p->fds[PIN_SETS], &i,
					&t->slot[i / SLUICE_MAX_SETS][i % SLUICE_MAX_SETS],
					BPF_ANY))
			return -errno;
	return 0;
}

int set_find(const struct set_table *t, enum list_kind kind, const char *name)
{
	if (!name || !name[0])
		return SLUICE_SET_MANUAL;
	for (int bit = 1; bit < SLUICE_MAX_SETS; bit++)
		if (!strncmp(t->slot[kind][bit].name, name, SLUICE_NAME_LEN))
			return bit;
	return -ENOENT;
}

int set_assign(struct set_table *t, enum list_kind kind, const char *name)
{
	int bit = set_find(t, kind, name);

	if (bit != -ENOENT)
		return bit;
	for (bit = 1; bit < SLUICE_MAX_SETS; bit++) {
		struct sluice_set *s = &t->slot[kind][bit];

		if (!s->name[0]) {
			memset(s, 0, sizeof(*s));
			snprintf(s->name, sizeof(s->name), "%s", name);
			return bit;
		}
	}
	return -ENOSPC;
}

/* ---- Generations ---- */

void list_gen_begin(struct list_gen *g, __u32 active)
{
	memset(g, 0, sizeof(*g));
	g->fd[LIST_ALLOW] = g->fd[LIST_BLOCK] = -1;
	g->active = active;
	g->next = !SLUICE_ACTIVE_LISTS(active);
}

#define ITEM_MERGED 0xff

static size_t key_slot(const struct sluice_lpm_key *k, size_t mask)
{
	__u64 h = sluice_mix64(k->prefixlen, k->addr[0] | (__u64)k->addr[1] << 32);

	return sluice_mix64(h, k->addr[2] | (__u64)k->addr[3] << 32) & mask;
}

static void key_set_free(struct key_set *ks)
{
	free(ks->slots);
	memset(ks, 0, sizeof(*ks));
}

/* Whether ITEM's prefix is K: keys are made as they are compared, not kept by item. */
static bool item_has_key(const struct list_item *item, const struct sluice_lpm_key *k)
{
	struct sluice_lpm_key key;

	prefix_to_key(&item->prefix, &key);
	return !memcmp(&key, k, sizeof(key));
}

/* Adds ENTRY to what item I gets from other sets. -ENOMEM. */
static int merge_into(struct list_gen *g, size_t i, const struct sluice_list_entry *entry)
{
	if (!g->merge_of) {
		g->merge_of = calloc(g->nitems, sizeof(*g->merge_of));
		if (!g->merge_of)
			return -ENOMEM;
	}
	if (g->merge_of[i]) {
		entry_merge(&g->merged[g->merge_of[i] - 1], entry);
		return 0;
	}
	if (g->nmerged == g->merged_cap) {
		size_t cap = g->merged_cap ? 2 * g->merged_cap : 256;
		struct sluice_list_entry *m = realloc(g->merged, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		g->merged = m;
		g->merged_cap = cap;
	}
	g->merged[g->nmerged++] = *entry;
	g->merge_of[i] = g->nmerged;
	return 0;
}

/*
 * Indexes the keys of the items of KIND (once per build). An item whose key an earlier
 * one has is merged into it and marked ITEM_MERGED. -ENOMEM.
 */
static int key_set_fill(struct list_gen *g, enum list_kind kind)
{
	struct key_set *ks = &g->index[kind];
	size_t size = 1, n = g->nitems;
	__u64 now = mono_now_ns();

	if (ks->slots || !n)
		return 0;
	while (size < 2 * n)
		size <<= 1;
	ks->slots = calloc(size, sizeof(*ks->slots));
	if (!ks->slots || n >= UINT32_MAX) {
		key_set_free(ks);
		return -ENOMEM;
	}
	prefault(ks->slots, size * sizeof(*ks->slots)); /* filled at random, nearly every page */
	ks->mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		const struct list_item *item = &g->items[i];
		struct sluice_lpm_key key;
		size_t s;

		if (item->kind != kind)
			continue;
		prefix_to_key(&item->prefix, &key);
		for (s = key_slot(&key, ks->mask); ks->slots[s]; s = (s + 1) & ks->mask)
			if (item_has_key(&g->items[ks->slots[s] - 1], &key))
				break;
		if (!ks->slots[s]) {
			ks->slots[s] = i + 1;
			ks->count++;
		} else if (g->item_bit) {
			struct sluice_list_entry entry;
			int ret;

			fill_entry(&entry, item, now, g->item_bit[i]);
			ret = merge_into(g, ks->slots[s] - 1, &entry);
			if (ret)
				return ret;
			g->item_bit[i] = ITEM_MERGED;
		}
	}
	return 0;
}

/* The index of the item of G with key K in the index of KIND, or -1. */
static long key_set_find(const struct list_gen *g, enum list_kind kind,
			 const struct sluice_lpm_key *k)
{
	const struct key_set *ks = &g->index[kind];

	if (!ks->slots)
		return -1;
	for (size_t s = key_slot(k, ks->mask); ks->slots[s]; s = (s + 1) & ks->mask)
		if (item_has_key(&g->items[ks->slots[s] - 1], k))
			return ks->slots[s] - 1;
	return -1;
}

struct copy_ctx {
	struct list_writer *w;
	struct list_filter filter;
	struct list_gen *g;
	enum list_kind kind;
	__u64 now, expiry;
	int err;
};

/*
 * Copies live entries into the new hash: without the bits of the sets being replaced
 * (an entry left with none goes), and not those an item replaces, whose other sets are
 * merged into the item's entry instead.
 */
static long copy_live(const void *keys, const void *values, __u32 n, void *ctx)
{
	const struct sluice_lpm_key *k = keys;
	const struct sluice_list_entry *e = values;
	struct copy_ctx *c = ctx;
	struct list_gen *g = c->g;

	for (__u32 i = 0; i < n && !c->err; i++) {
		struct sluice_list_entry entry;
		long item;

		if (is_host_record(&k[i]) || (e[i].expires_ns && e[i].expires_ns <= c->now))
			continue; /* records are made again from the /32s */
		entry = e[i];
		if (entry.sets & g->clear[c->kind])
			g->cleared[c->kind]++;
		entry.sets &= ~g->clear[c->kind];
		if (!entry.sets)
			continue;
		item = key_set_find(g, c->kind, &k[i]);
		if (item >= 0) {
			entry.sets &= ~g->item_bits[c->kind];
			if (entry.sets)
				c->err = merge_into(g, item, &entry);
			continue;
		}
		c->expiry = earlier_expiry(c->expiry, entry.expires_ns);
		c->err = writer_put(c->w, &c->filter, &k[i], &entry);
	}
	return n;
}

int list_gen_items(struct list_gen *g, const struct list_item *items, size_t n,
		   const struct set_table *sets)
{
	g->items = items;
	g->nitems = n;
	for (size_t i = 0; i < n; i++) {
		int bit;

		if (!items[i].set && !g->item_bit) {
			g->item_bits[items[i].kind] |= 1ULL << SLUICE_SET_MANUAL;
			continue;
		}
		bit = sets ? set_find(sets, items[i].kind, items[i].set) : -ENOENT;
		if (bit < 0)
			return bit;
		if (!g->item_bit) {
			g->item_bit = calloc(n, 1); /* SLUICE_SET_MANUAL is 0 */
			if (!g->item_bit)
				return -ENOMEM;
		}
		g->item_bit[i] = bit;
		g->item_bits[items[i].kind] |= 1ULL << bit;
	}
	return 0;
}

int list_gen_replace(struct pins *p, struct list_gen *g, enum list_kind kind, size_t want,
		     bool keep_live)
{
	struct list_filter filter = pins_filter(p, kind, g->next);
	struct copy_ctx c = { .filter = filter, .g = g, .kind = kind, .now = mono_now_ns() };
	int live = -ENOENT, fd, ret = 0;
	__u32 cap = list_capacity(p);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	long n;

	if (!filter.v4)
		return -EIO;
	if (keep_live)
		live = list_open(p, kind, SLUICE_ACTIVE_LISTS(g->active));
	if (live >= 0 && !bpf_obj_get_info_by_fd(live, &info, &len))
		want += info.max_entries; /* its entries and some room: enough to copy them */
	if (live >= 0 && want > cap)
		want = cap;
	fd = hash_create(kind, want, cap);
	if (fd >= 0) {
		ret = list_pin(p, fd);
		if (ret) {
			close(fd);
			fd = ret;
		}
	}
	if (fd < 0) {
		if (live >= 0)
			close(live);
		return fd;
	}
	filter_clear(&filter);
	if (live >= 0) {
		c.w = malloc(sizeof(*c.w));
		ret = key_set_fill(g, kind);
		if (c.w && !ret) {
			c.w->fd = fd;
			c.w->n = 0;
			c.w->hosts = &g->hosts[kind];
			n = map_batches(live, false, copy_live, &c);
			ret = n < 0 ? (int)n : c.err ?: writer_flush(c.w);
		} else if (!ret) {
			ret = -ENOMEM;
		}
		free(c.w);
		close(live);
		g->expiry = earlier_expiry(g->expiry, c.expiry);
	}
	if (ret) {
		close(fd);
		return ret;
	}
	if (g->fd[kind] >= 0)
		close(g->fd[kind]);
	g->fd[kind] = fd;
	return 0;
}

int list_gen_add(struct pins *p, struct list_gen *g)
{
	const struct list_item *items = g->items;
	struct list_writer *w[2] = {};
	struct list_filter filter[2];
	__u64 now = mono_now_ns();
	int ret = 0;

	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK && !ret; kind++) {
		if (g->fd[kind] < 0)
			continue;
		filter[kind] = pins_filter(p, kind, g->next);
		w[kind] = malloc(sizeof(*w[kind]));
		if (!w[kind] || !filter[kind].v4) {
			ret = w[kind] ? -EIO : -ENOMEM;
			break;
		}
		w[kind]->fd = g->fd[kind];
		w[kind]->n = 0;
		w[kind]->hosts = &g->hosts[kind];
		/* Items of named sets may repeat a prefix (one line per set): merged first. */
		if (g->item_bit)
			ret = key_set_fill(g, kind);
	}
	for (size_t i = 0; i < g->nitems && !ret; i++) {
		unsigned int bit = g->item_bit ? g->item_bit[i] : SLUICE_SET_MANUAL;
		struct sluice_list_entry entry;
		struct sluice_lpm_key key;
		enum list_kind kind = items[i].kind;

		if (!w[kind]) {
			ret = -EINVAL; /* an item of a list this build keeps */
			break;
		}
		if (bit == ITEM_MERGED)
			continue;
		prefix_to_key(&items[i].prefix, &key);
		fill_entry(&entry, &items[i], now, bit);
		if (g->merge_of && g->merge_of[i])
			entry_merge(&entry, &g->merged[g->merge_of[i] - 1]);
		g->expiry = earlier_expiry(g->expiry, entry.expires_ns);
		ret = writer_put(w[kind], &filter[kind], &key, &entry);
	}
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		if (w[kind] && !ret)
			ret = writer_flush(w[kind]);
		free(w[kind]);
	}
	return ret;
}

int list_gen_stage(struct pins *p, struct list_gen *g)
{
	__u32 live_gen = SLUICE_ACTIVE_LISTS(g->active);
	int ret = 0;

	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK && !ret; kind++) {
		struct list_filter live, next;
		__u32 id;
		int fd;

		if (g->fd[kind] >= 0) {
			next = pins_filter(p, kind, g->next);
			ret = next.v4 ? host_records_write(&g->hosts[kind], g->fd[kind], next.v4) :
					-EIO;
			if (!ret)
				ret = slot_set(p, kind, g->next, g->fd[kind]);
			continue;
		}
		/* A kept list: its live hash and a copy of its filter go under the next generation. */
		live = pins_filter(p, kind, live_gen);
		next = pins_filter(p, kind, g->next);
		if (!live.v4 || !next.v4)
			return -EIO;
		memcpy(next.v4, live.v4, SLUICE_FILTER_REGION * sizeof(*live.v4));
		memcpy(next.v6, live.v6, SLUICE_FILTER_REGION * sizeof(*live.v6));
		id = list_id(p, kind, live_gen);
		if (id == list_id(p, kind, g->next))
			continue;
		fd = list_open(p, kind, live_gen);
		if (fd < 0 && fd != -ENOENT)
			return fd;
		ret = slot_set(p, kind, g->next, fd);
		if (fd >= 0)
			close(fd);
	}
	return ret;
}

/* What a build allocated besides its hashes. */
static void list_gen_free(struct list_gen *g)
{
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		host_table_free(&g->hosts[kind]);
		key_set_free(&g->index[kind]);
	}
	free(g->item_bit);
	free(g->merge_of);
	free(g->merged);
	g->item_bit = NULL;
	g->merge_of = NULL;
	g->merged = NULL;
	g->nmerged = g->merged_cap = 0;
}

int list_gen_finish(struct pins *p, struct list_gen *g)
{
	int ret = 0;

	list_gen_free(g);
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		if (g->fd[kind] < 0)
			continue;
		if (!ret)
			ret = slot_set(p, kind, SLUICE_ACTIVE_LISTS(g->active), g->fd[kind]);
		close(g->fd[kind]);
		g->fd[kind] = -1;
	}
	list_unpin_unused(p);
	return ret;
}

void list_gen_abort(const struct pins *p, struct list_gen *g)
{
	bool built = false;

	list_gen_free(g);
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		if (g->fd[kind] >= 0) {
			close(g->fd[kind]);
			built = true;
		}
		g->fd[kind] = -1;
	}
	if (built)
		list_unpin_unused(p);
}

/* ---- The live lists ---- */

int lists_state_write(const struct pins *p, __u32 active, const __u64 *expiry)
{
	struct sluice_state state;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state))
		return -errno;
	state.active = active;
	state.generation++;
	if (expiry)
		state.lists_expiry_ns = *expiry;
	if (bpf_map_update_elem(p->fds[PIN_STATE], &zero, &state, BPF_EXIST))
		return -errno;
	return 0;
}

/* Lowers the live lists' earliest expiry to EXPIRY when it is earlier (see sluice_state). */
static int note_expiry(const struct pins *p, __u64 expiry)
{
	struct sluice_state state;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state))
		return -errno;
	if (earlier_expiry(state.lists_expiry_ns, expiry) == state.lists_expiry_ns)
		return 0;
	state.lists_expiry_ns = expiry;
	return bpf_map_update_elem(p->fds[PIN_STATE], &zero, &state, BPF_EXIST) ? -errno : 0;
}

/*
 * Switches to the lists of build G with the live rules: the policy (its list flags
 * from FLAGS_ON and FLAGS_OFF) and its text are copied to the other slot, then policy
 * and lists flip together.
 */
static int lists_switch(struct pins *p, struct list_gen *g, __u32 flags_on, __u32 flags_off)
{
	__u32 slot_old = SLUICE_ACTIVE_POLICY(g->active), slot_next = !slot_old, zero = 0;
	struct sluice_policy *pol = malloc(sizeof(*pol));
	struct sluice_text *text = malloc(sizeof(*text));
	struct sluice_state state;
	int ret = 0;

	if (!pol || !text)
		ret = -ENOMEM;
	if (!ret && (bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot_old, pol) ||
		     bpf_map_lookup_elem(p->fds[PIN_TEXT], &slot_old, text) ||
		     bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state)))
		ret = -errno;
	if (!ret) {
		pol->flags = (pol->flags | flags_on) & ~flags_off;
		/* A kept list keeps its entries' expiry: the earlier of both stays a bound. */
		if (g->fd[LIST_ALLOW] < 0 || g->fd[LIST_BLOCK] < 0)
			g->expiry = earlier_expiry(g->expiry, state.lists_expiry_ns);
		ret = list_gen_stage(p, g);
	}
	if (!ret && (bpf_map_update_elem(p->fds[PIN_POLICY], &slot_next, pol, BPF_ANY) ||
		     bpf_map_update_elem(p->fds[PIN_TEXT], &slot_next, text, BPF_ANY)))
		ret = -errno;
	if (!ret)
		ret = lists_state_write(p, g->active ^ 3, &g->expiry);
	free(pol);
	free(text);
	if (ret) {
		list_gen_abort(p, g);
		return ret;
	}
	return list_gen_finish(p, g);
}

static __u32 list_flag(enum list_kind kind)
{
	return kind == LIST_ALLOW ? SLUICE_POLICY_ALLOW : SLUICE_POLICY_BLOCK;
}

/* Sets the list flag in the live policy; only that word changes, so readers see no tear. */
static int set_list_flag(struct pins *p, __u32 active, enum list_kind kind)
{
	__u32 slot = SLUICE_ACTIVE_POLICY(active);
	struct sluice_policy *pol = malloc(sizeof(*pol));
	int ret = 0;

	if (!pol)
		return -ENOMEM;
	if (bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol))
		ret = -errno;
	else if (!(pol->flags & list_flag(kind))) {
		pol->flags |= list_flag(kind);
		if (bpf_map_update_elem(p->fds[PIN_POLICY], &slot, pol, BPF_EXIST))
			ret = -errno;
	}
	free(pol);
	return ret;
}

/*
 * Rebuilds KIND with ITEM added, its hash twice the size of the full live one (which
 * list_gen_replace adds to the size asked for); -ENOSPC when that is the list capacity.
 */
static int lists_grow(struct pins *p, __u32 active, const struct list_item *item,
		      const struct set_table *sets)
{
	int fd = list_open(p, item->kind, SLUICE_ACTIVE_LISTS(active));
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct list_gen g;
	int ret;

	if (fd >= 0) {
		ret = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
		close(fd);
		if (ret)
			return ret;
		if (info.max_entries >= list_capacity(p))
			return -ENOSPC;
	}
	list_gen_begin(&g, active);
	ret = list_gen_items(&g, item, 1, sets);
	if (!ret)
		ret = list_gen_replace(p, &g, item->kind, info.max_entries ? info.max_entries : 1,
				       true);
	if (!ret)
		ret = list_gen_add(p, &g);
	if (ret) {
		list_gen_abort(p, &g);
		return ret;
	}
	return lists_switch(p, &g, list_flag(item->kind), 0);
}

/* The bit of the set ITEM names, registered in T and sluice_sets if it is new. */
static int item_set_bit(const struct pins *p, struct set_table *t, const struct list_item *item)
{
	int bit, ret;

	ret = sets_read(p, t);
	if (ret)
		return ret;
	bit = set_find(t, item->kind, item->set);
	if (bit != -ENOENT)
		return bit;
	bit = set_assign(t, item->kind, item->set);
	if (bit < 0)
		return bit;
	ret = sets_write(p, t);
	return ret ? ret : bit;
}

int lists_add(struct pins *p, const struct list_item *item)
{
	struct sluice_list_entry entry, old;
	struct list_filter filter;
	struct sluice_lpm_key key;
	struct set_table *sets;
	__u32 active, gen;
	int bit, fd, ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	sets = malloc(sizeof(*sets));
	if (!sets)
		return -ENOMEM;
	bit = item_set_bit(p, sets, item);
	if (bit < 0) {
		free(sets);
		return bit;
	}
	gen = SLUICE_ACTIVE_LISTS(active);
	fd = list_open(p, item->kind, gen);
	if (fd == -ENOENT) { /* no hash yet: a generation with one */
		ret = lists_grow(p, active, item, sets);
		free(sets);
		return ret;
	}
	if (fd < 0) {
		free(sets);
		return fd;
	}
	ret = set_list_flag(p, active, item->kind);
	prefix_to_key(&item->prefix, &key);
	fill_entry(&entry, item, mono_now_ns(), bit);
	/* Listed by other sets too: those keep it as long as they list it. */
	if (!bpf_map_lookup_elem(fd, &key, &old) && (old.sets & ~entry.sets) &&
	    (!old.expires_ns || old.expires_ns > mono_now_ns()))
		entry_merge(&entry, &old);
	filter = pins_filter(p, item->kind, gen);
	if (!ret && !filter.v4)
		ret = -EIO;
	if (!ret && entry.expires_ns)
		ret = host_bit_update(fd, &key, false);
	if (!ret) {
		filter_add(&filter, &key, entry.expires_ns);
		if (bpf_map_update_elem(fd, &key, &entry, BPF_ANY))
			ret = -errno;
	}
	if (!ret && !entry.expires_ns)
		ret = host_bit_update(fd, &key, true);
	close(fd);
	if (ret == -E2BIG) /* full: grow it */
		ret = lists_grow(p, active, item, sets);
	else if (!ret && entry.expires_ns)
		ret = note_expiry(p, entry.expires_ns);
	free(sets);
	return ret;
}

int lists_import(struct pins *p, const struct list_item *items, size_t n, enum list_kind kind,
		 const char *set, size_t *distinct)
{
	struct set_table *sets = NULL;
	struct list_gen g;
	__u32 active;
	int bit = SLUICE_SET_MANUAL, ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	list_gen_begin(&g, active);
	if (set && set[0]) {
		sets = malloc(sizeof(*sets));
		ret = sets ? sets_read(p, sets) : -ENOMEM;
		bit = ret ? ret : set_assign(sets, kind, set);
		if (bit < 0) {
			free(sets);
			return bit;
		}
		/* The set's content is replaced: live entries lose its bit, the items bring it. */
		g.clear[kind] = 1ULL << bit;
		g.item_bits[kind] = 1ULL << bit;
		g.item_bit = calloc(n ? n : 1, 1);
		if (!g.item_bit) {
			free(sets);
			return -ENOMEM;
		}
		memset(g.item_bit, bit, n);
		g.items = items;
		g.nitems = n;
		sets->slot[kind][bit].refreshed = time(NULL);
	} else {
		ret = list_gen_items(&g, items, n, NULL);
	}
	for (size_t i = 0; i < n && !ret; i++)
		if (items[i].kind != kind)
			ret = -EINVAL;
	/* The index counts the distinct prefixes; the copy of the live list uses it too. */
	if (!ret)
		ret = key_set_fill(&g, kind);
	if (!ret)
		ret = list_gen_replace(p, &g, kind, n, true);
	if (!ret)
		ret = list_gen_add(p, &g);
	if (!ret && distinct)
		*distinct = g.index[kind].count;
	/* The name goes in before the switch, so no reader sees an entry of a nameless set. */
	if (!ret && sets) {
		sets->slot[kind][bit].entries = g.index[kind].count;
		ret = sets_write(p, sets);
	}
	free(sets);
	if (ret) {
		list_gen_abort(p, &g);
		return ret;
	}
	return lists_switch(p, &g, list_flag(kind), 0);
}

int lists_del(struct pins *p, enum list_kind kind, const struct prefix *pfx, const char *set)
{
	struct sluice_list_entry entry;
	struct list_filter filter;
	struct sluice_lpm_key key;
	struct set_table *sets = NULL;
	__u32 active;
	int bit = -1, fd, ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	if (set && set[0]) {
		sets = malloc(sizeof(*sets));
		ret = sets ? sets_read(p, sets) : -ENOMEM;
		bit = ret ? ret : set_find(sets, kind, set);
		free(sets);
		if (bit < 0)
			return bit;
	}
	prefix_to_key(pfx, &key);
	fd = list_open(p, kind, SLUICE_ACTIVE_LISTS(active));
	if (fd < 0)
		return fd;
	filter = pins_filter(p, kind, SLUICE_ACTIVE_LISTS(active));
	if (bpf_map_lookup_elem(fd, &key, &entry))
		ret = -errno;
	else if (!filter.v4)
		ret = -EIO;
	else if (bit >= 0 && !(entry.sets & (1ULL << bit)))
		ret = -ENOENT;
	if (!ret && bit >= 0 && (entry.sets & ~(1ULL << bit))) {
		/* Other sets still list it: only this one lets go. */
		entry.sets &= ~(1ULL << bit);
		if (bpf_map_update_elem(fd, &key, &entry, BPF_EXIST))
			ret = -errno;
		close(fd);
		return ret;
	}
	if (!ret) {
		/* The table hands the entry's sources to the hash before the entry goes. */
		filter_forget(&filter, &key);
		ret = host_bit_update(fd, &key, false);
		if (!ret && bpf_map_delete_elem(fd, &key))
			ret = -errno;
	}
	close(fd);
	return ret;
}

long lists_count(const struct pins *p, enum list_kind kind)
{
	__u32 active;
	long n;
	int fd, ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	fd = list_open(p, kind, SLUICE_ACTIVE_LISTS(active));
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	n = list_walk(fd, kind, mono_now_ns(), NULL, NULL);
	close(fd);
	return n;
}

long lists_flush(struct pins *p, enum list_kind kind, const char *set)
{
	struct set_table *sets = malloc(sizeof(*sets));
	struct list_gen g;
	__u32 active;
	long n = 0;
	int bit = -1, ret;

	ret = sets ? sets_read(p, sets) : -ENOMEM;
	if (!ret && set && set[0]) {
		bit = set_find(sets, kind, set);
		ret = bit < 0 ? bit : 0;
	}
	if (!ret && bit < 0) {
		n = lists_count(p, kind);
		ret = n < 0 ? (int)n : 0;
	}
	if (!ret)
		ret = pins_active(p, &active);
	if (ret) {
		free(sets);
		return ret;
	}
	list_gen_begin(&g, active);
	if (bit >= 0) {
		/* The set's bit goes from every entry; entries of no other set go with it. */
		g.clear[kind] = 1ULL << bit;
		ret = list_gen_replace(p, &g, kind, 0, true);
		n = g.cleared[kind];
		memset(&sets->slot[kind][bit], 0, sizeof(sets->slot[kind][bit]));
	} else {
		/* An empty hash replaces the list; the kernel frees the old one in the background. */
		ret = list_gen_replace(p, &g, kind, 0, false);
		memset(sets->slot[kind], 0, sizeof(sets->slot[kind]));
	}
	if (!ret)
		ret = lists_switch(p, &g, 0, bit >= 0 ? 0 : list_flag(kind));
	else
		list_gen_abort(p, &g);
	/* The names go after the switch: until then the live entries may carry them. */
	if (!ret)
		ret = sets_write(p, sets);
	free(sets);
	return ret ? ret : n;
}

int list_lookup(const struct pins *p, enum list_kind kind, __u32 gen, const struct prefix *addr,
		struct prefix *net)
{
	struct sluice_list_entry entry;
	struct sluice_lpm_key host, key;
	__u64 now = mono_now_ns();
	unsigned int shortest;
	__u32 mask[4];
	int fd, found = 0;

	fd = list_open(p, kind, gen);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	prefix_to_key(addr, &host);
	shortest = prefix128_is_v4(host.addr, host.prefixlen) ? SLUICE_V4_MAPPED_PLEN : 0;
	for (int plen = host.prefixlen; plen >= (int)shortest && !found; plen--) {
		key.prefixlen = plen;
		plen128_mask(plen, mask);
		for (int w = 0; w < 4; w++)
			key.addr[w] = host.addr[w] & mask[w];
		if (bpf_map_lookup_elem(fd, &key, &entry))
			continue;
		if (entry.expires_ns && entry.expires_ns <= now)
			continue; /* expired, not yet collected */
		key_to_prefix(&key, net);
		found = 1;
	}
	close(fd);
	return found;
}

struct walk_ctx {
	enum list_kind kind;
	__u64 now;
	int (*visit)(const struct list_item *item, void *ctx);
	void *ctx;
	int stop;
};

static long walk_batch(const void *keys, const void *values, __u32 n, void *ctx)
{
	const struct sluice_lpm_key *k = keys;
	const struct sluice_list_entry *e = values;
	struct walk_ctx *c = ctx;
	struct list_item item;
	long live = 0;

	for (__u32 i = 0; i < n && !c->stop; i++) {
		if (is_host_record(&k[i]) || (e[i].expires_ns && e[i].expires_ns <= c->now))
			continue;
		live++;
		if (!c->visit)
			continue;
		memset(&item, 0, sizeof(item));
		item.kind = c->kind;
		key_to_prefix(&k[i], &item.prefix);
		/* Whole seconds, rounded up, so a dump reads back without sub-second noise. */
		item.ttl_ns = e[i].expires_ns ? (e[i].expires_ns - c->now + 999999999ULL) /
							1000000000ULL * 1000000000ULL :
						0;
		memcpy(item.comment, e[i].comment, sizeof(item.comment) - 1);
		item.sets = e[i].sets;
		c->stop = c->visit(&item, c->ctx);
	}
	return live;
}

int list_walk(int fd, enum list_kind kind, __u64 now,
	      int (*visit)(const struct list_item *item, void *ctx), void *ctx)
{
	struct walk_ctx c = { .kind = kind, .now = now, .visit = visit, .ctx = ctx };
	long n = map_batches(fd, false, walk_batch, &c);

	if (n < 0)
		return (int)n;
	return c.stop ? c.stop : visit ? 0 : (int)n;
}

struct expired_ctx {
	int fd;
	__u64 now, earliest;
};

static long delete_expired(const void *keys, const void *values, __u32 n, void *ctx)
{
	const struct sluice_lpm_key *k = keys;
	const struct sluice_list_entry *e = values;
	struct expired_ctx *c = ctx;
	long removed = 0;

	for (__u32 i = 0; i < n; i++) {
		if (is_host_record(&k[i]) || !e[i].expires_ns)
			continue;
		if (e[i].expires_ns <= c->now)
			removed += bpf_map_delete_elem(c->fd, &k[i]) == 0;
		else
			c->earliest = earlier_expiry(c->earliest, e[i].expires_ns);
	}
	return removed;
}

struct expired_bans {
	int fd;
	__u64 now;
};

static long delete_expired_bans(const void *keys, const void *values, __u32 n, void *ctx)
{
	const struct sluice_ban_key *k = keys;
	const struct sluice_ban *bans = values;
	const struct expired_bans *c = ctx;
	long removed = 0;

	for (__u32 i = 0; i < n; i++)
		removed += bans[i].expires_ns <= c->now && bpf_map_delete_elem(c->fd, &k[i]) == 0;
	return removed;
}

/*
 * Lists are read only once their earliest expiry has passed (sluice_state), so a write
 * verb beside a million permanent entries does not read them all; bans, at most the
 * ban map's capacity, are read in batches, and then the ban filter is rebuilt if it holds
 * many stale bits (bans.c). Every write verb runs this first, under the lock, so it also
 * unpins what a killed build left.
 */
long collect_expired(struct pins *p)
{
	struct expired_bans bans = { .fd = p->fds[PIN_BANS], .now = mono_now_ns() };
	struct expired_ctx c = { .now = bans.now };
	struct sluice_state state;
	__u32 active, zero = 0;
	long removed = 0, n;
	int ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	/* The hashes of a build that was killed are pinned and in no slot: free them. */
	list_unpin_unused(p);
	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state))
		return -errno;
	if (state.lists_expiry_ns && state.lists_expiry_ns <= bans.now) {
		for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
			c.fd = list_open(p, kind, SLUICE_ACTIVE_LISTS(active));
			if (c.fd == -ENOENT)
				continue;
			if (c.fd < 0)
				return c.fd;
			n = map_batches(c.fd, false, delete_expired, &c);
			close(c.fd);
			if (n < 0)
				return n;
			removed += n;
		}
		state.lists_expiry_ns = c.earliest;
		if (bpf_map_update_elem(p->fds[PIN_STATE], &zero, &state, BPF_EXIST))
			return -errno;
	}
	n = map_batches(bans.fd, false, delete_expired_bans, &bans);
	if (n < 0)
		return n;
	/*
	 * With the expired bans gone, the filter bits only they needed are stale. The check
	 * reads the whole filter, so it runs only after bans went (now or since the last
	 * check) or when a rebuild did not finish, not on every edit.
	 */
	if (n > 0 || (state.flags & SLUICE_STATE_BAN_FILTER_CHECK))
		ret = (int)ban_filter_collect(p);
	return ret < 0 ? ret : removed + n;
}
