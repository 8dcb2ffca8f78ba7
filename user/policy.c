// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "list_index.h"
#include "log.h"
#include "policy.h"
#include "rule_index.h"

/* How long in-flight packets may still be reading a generation after a switch. */
#define GENERATION_GRACE_US 20000

__u64 fnv1a64(const void *data, size_t len, __u64 seed)
{
	const unsigned char *b = data;
	__u64 h = seed;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int list_fd(const struct pins *p, enum list_kind kind, __u32 gen)
{
	if (kind == LIST_ALLOW)
		return p->fds[gen ? PIN_ALLOW1 : PIN_ALLOW0];
	return p->fds[gen ? PIN_BLOCK1 : PIN_BLOCK0];
}

/* The IPv4 and IPv6 index maps of a list. */
static int index_fd4(const struct pins *p, enum list_kind kind, __u32 gen)
{
	if (kind == LIST_ALLOW)
		return p->fds[gen ? PIN_NETS_ALLOW1 : PIN_NETS_ALLOW0];
	return p->fds[gen ? PIN_NETS_BLOCK1 : PIN_NETS_BLOCK0];
}

static int index_fd6(const struct pins *p, enum list_kind kind, __u32 gen)
{
	if (kind == LIST_ALLOW)
		return p->fds[gen ? PIN_V6_ALLOW1 : PIN_V6_ALLOW0];
	return p->fds[gen ? PIN_V6_BLOCK1 : PIN_V6_BLOCK0];
}

/* Where the indexes of a list go, with the headers of the list's (mapped) FILTER. */
static struct index_target index_target(const struct pins *p, enum list_kind kind, __u32 gen,
					struct list_filter filter)
{
	return (struct index_target){
		.fd4 = index_fd4(p, kind, gen),
		.fd6 = index_fd6(p, kind, gen),
		.h4 = (struct sluice_filter_header *)filter.v4,
		.h6 = (struct sluice_filter_header *)filter.v6,
	};
}

void prefix_to_key(const struct prefix *pfx, struct sluice_lpm_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen = pfx->plen + (pfx->family == SLUICE_FAMILY_IPV4 ? SLUICE_V4_MAPPED_PLEN : 0);
	memcpy(key->addr, pfx->addr, sizeof(key->addr));
}

void key_to_prefix(const struct sluice_lpm_key *key, struct prefix *pfx)
{
	memset(pfx, 0, sizeof(*pfx));
	memcpy(pfx->addr, key->addr, sizeof(pfx->addr));
	if (prefix128_is_v4(key->addr, key->prefixlen)) {
		pfx->family = SLUICE_FAMILY_IPV4;
		pfx->plen = key->prefixlen - SLUICE_V4_MAPPED_PLEN;
	} else {
		pfx->family = SLUICE_FAMILY_IPV6;
		pfx->plen = key->prefixlen;
	}
}

static __u32 limit_id(const char *rule_name, unsigned int index, const struct sluice_limit *lim)
{
	__u64 h = fnv1a64(rule_name, strlen(rule_name), FNV1A64_SEED);
	__u32 id;

	h = fnv1a64(&index, sizeof(index), h);
	h = fnv1a64(lim, sizeof(*lim), h); /* id is still 0 here */
	id = (__u32)(h ^ (h >> 32));
	return id ? id : 1;
}

static int add_ban_plen(__u8 *plens, __u8 *n, __u8 plen)
{
	for (unsigned int i = 0; i < *n; i++)
		if (plens[i] == plen)
			return 0;
	if (*n >= SLUICE_MAX_BAN_PLENS)
		return -E2BIG;
	plens[(*n)++] = plen;
	return 0;
}

/*
 * Bans outlive the rules that made them: the data path looks bans up only under the
 * policy's prefix lengths, so those of live bans are kept in the new policy too.
 */
static void keep_live_ban_plens(const struct pins *p, struct sluice_policy *pol)
{
	struct sluice_ban_key cur, next;
	bool walked = false, warned[129] = {};

	while (bpf_map_get_next_key(p->fds[PIN_BANS], walked ? &cur : NULL, &next) == 0) {
		bool v4 = prefix128_is_v4(next.addr, next.prefixlen);
		int err = v4 ? add_ban_plen(pol->ban_plens4, &pol->nban_plens4, next.prefixlen) :
			       add_ban_plen(pol->ban_plens6, &pol->nban_plens6, next.prefixlen);

		if (err && !warned[next.prefixlen]) {
			warned[next.prefixlen] = true;
			pr_warn("bans under more than %d prefix lengths per family: those of %s/%u "
				"are not enforced until they expire",
				SLUICE_MAX_BAN_PLENS, v4 ? "IPv4 " : "IPv6 ",
				v4 ? next.prefixlen - SLUICE_V4_MAPPED_PLEN : next.prefixlen);
		}
		cur = next;
		walked = true;
	}
}

static int old_slot_of(const struct sluice_policy *old, const char *name)
{
	if (!old)
		return -1;
	for (unsigned int i = 0; i < old->nrules && i < SLUICE_MAX_RULES; i++)
		if (strncmp(old->rules[i].name, name, SLUICE_NAME_LEN) == 0)
			return old->rules[i].stat_slot;
	return -1;
}

int policy_build(const struct policy_doc *doc, const struct sluice_policy *old,
		 struct sluice_policy *out, __u64 *fresh_slots, struct parse_error *err)
{
	__u64 used = 0, kept = 0;
	unsigned int i, j;
	int slot;

	memset(out, 0, sizeof(*out));
	*fresh_slots = 0;
	out->nrules = doc->nrules;
	out->flags = SLUICE_POLICY_FILTERED;
	out->event_period_ns = doc->event_period_ns;
	out->event_sample = doc->event_sample;
	out->event_ceiling = doc->event_ceiling;
	if (doc->malformed_drop)
		out->flags |= SLUICE_POLICY_MALFORMED_DROP;

	/* Names that stay keep their counter slot, so their counters go on counting. */
	for (i = 0; i < doc->nrules; i++) {
		slot = old_slot_of(old, doc->rules[i].name);
		if (slot >= 0)
			kept |= 1ULL << slot;
	}
	used = kept;
	for (i = 0; i < doc->nrules; i++) {
		struct sluice_rule *r = &out->rules[i];
		int ret = compile_rule(&doc->rules[i], r, err);

		if (ret)
			return ret;
		slot = old_slot_of(old, doc->rules[i].name);
		if (slot < 0) {
			/* A slot no old rule of this policy keeps: its counters start from zero. */
			for (slot = 0; slot < SLUICE_MAX_RULES && (used & (1ULL << slot)); slot++)
				;
			used |= 1ULL << slot;
			*fresh_slots |= 1ULL << slot;
		}
		r->stat_slot = slot;
		for (j = 0; j < r->nlimits; j++)
			r->limits[j].id = limit_id(r->name, j, &r->limits[j]);
		if (r->action != SLUICE_ACTION_BAN)
			continue;
		for (j = 0; j < r->nlimits; j++) {
			const struct sluice_limit *lim = &r->limits[j];
			bool global = lim->key == SLUICE_KEY_GLOBAL;

			if (add_ban_plen(out->ban_plens4, &out->nban_plens4,
					 SLUICE_V4_MAPPED_PLEN + (global ? 32 : lim->prefix4)) ||
			    add_ban_plen(out->ban_plens6, &out->nban_plens6,
					 global ? 128 : lim->prefix6)) {
				snprintf(err->msg, sizeof(err->msg),
					 "rule %s: more than %d distinct ban prefix lengths in one "
					 "policy",
					 r->name, SLUICE_MAX_BAN_PLENS);
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < doc->nitems; i++)
		out->flags |= doc->items[i].kind == LIST_ALLOW ? SLUICE_POLICY_ALLOW :
								 SLUICE_POLICY_BLOCK;
	rule_index_build(out);
	return 0;
}

int policy_rules_text(const struct policy_doc *doc, char *buf, size_t len)
{
	struct policy_doc rules_only = *doc;
	FILE *f = fmemopen(buf, len, "w");
	long n;

	if (!f)
		return -errno;
	rules_only.nitems = 0;
	policy_write(f, &rules_only);
	n = ftell(f);
	fclose(f);
	if (n < 0 || (size_t)n >= len)
		return -E2BIG;
	buf[n] = '\0';
	return 0;
}

/* Empties a list trie or index map; returns the number of entries removed or -errno. */
static long clear_map(int fd)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info), ksize;
	unsigned char *keys = NULL, *cur, *next;
	size_t n = 0, cap = 0;
	long removed = 0;
	bool walked = false;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return -errno;
	/* Hashes empty in batches of lookup-and-delete, one pass over their buckets. */
	if (info.type == BPF_MAP_TYPE_HASH) {
		removed = map_batches(fd, true, NULL, NULL);
		if (removed >= 0)
			return removed;
		removed = 0;
	}
	ksize = info.key_size;
	cur = calloc(2, ksize);
	if (!cur)
		return -ENOMEM;
	next = cur + ksize;
	/* Collect the keys, then one batch delete: a delete per key costs a syscall each. */
	while (bpf_map_get_next_key(fd, walked ? cur : NULL, next) == 0) {
		if (n == cap) {
			unsigned char *grown;

			cap = cap ? cap * 2 : 4096;
			grown = realloc(keys, cap * ksize);
			if (!grown) {
				free(keys);
				free(cur);
				return -ENOMEM;
			}
			keys = grown;
		}
		memcpy(keys + n++ * ksize, next, ksize);
		memcpy(cur, next, ksize);
		walked = true;
	}
	for (size_t i = 0; i < n;) {
		__u32 count = n - i;
		int err = bpf_map_delete_batch(fd, keys + i * ksize, &count, &opts);

		removed += count;
		i += count;
		if (!err)
			continue;
		if (errno == ENOENT) {
			i++; /* gone meanwhile: go on with the rest */
			continue;
		}
		/* No batch deletes here: one by one. */
		for (; i < n; i++)
			if (!bpf_map_delete_elem(fd, keys + i * ksize))
				removed++;
	}
	free(keys);
	free(cur);
	return removed;
}

/* Writes IX into the (empty) indexes of a list of an idle generation. */
static int write_index(const struct pins *p, enum list_kind kind, __u32 gen,
		       struct list_filter filter, struct list_index *ix)
{
	struct index_target target = index_target(p, kind, gen, filter);

	return list_index_write(ix, &target, false);
}

/* Empties a list of generation GEN: its trie and its indexes. */
static long clear_list(const struct pins *p, enum list_kind kind, __u32 gen)
{
	long n = clear_map(list_fd(p, kind, gen)), ix4 = clear_map(index_fd4(p, kind, gen));
	long ix6 = clear_map(index_fd6(p, kind, gen));

	return n < 0 ? n : ix4 < 0 ? ix4 : ix6 < 0 ? ix6 : n;
}

static void fill_entry(struct sluice_list_entry *entry, const struct list_item *item,
		       const struct sluice_lpm_key *key, __u64 now, __u64 wall)
{
	memset(entry, 0, sizeof(*entry));
	entry->expires_ns = item->ttl_ns ? now + item->ttl_ns : 0;
	entry->added = wall;
	entry->prefixlen = key->prefixlen;
	memcpy(entry->comment, item->comment, sizeof(entry->comment));
}

/* Writes list entries in batches: one bpf() call per chunk instead of per entry. */
#define LIST_BATCH 4096

struct list_writer {
	int fd;
	__u32 n;
	bool single; /* the kernel has no batch updates for this map */
	struct sluice_lpm_key keys[LIST_BATCH];
	struct sluice_list_entry values[LIST_BATCH];
};

static int writer_flush(struct list_writer *w)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 count = w->n;

	if (!w->n)
		return 0;
	w->n = 0;
	if (!w->single) {
		if (!bpf_map_update_batch(w->fd, w->keys, w->values, &count, &opts))
			return 0;
		if (errno != EINVAL && errno != 524 /* ENOTSUPP */ && errno != EOPNOTSUPP)
			return -errno;
		w->single = true;
	}
	for (__u32 i = 0; i < count; i++)
		if (bpf_map_update_elem(w->fd, &w->keys[i], &w->values[i], BPF_ANY))
			return -errno;
	return 0;
}

static int writer_put(struct list_writer *w, const struct sluice_lpm_key *key,
		      const struct sluice_list_entry *value)
{
	w->keys[w->n] = *key;
	w->values[w->n] = *value;
	return ++w->n == LIST_BATCH ? writer_flush(w) : 0;
}

/* An IPv6 entry spreads over at most 2^8 filter buckets (a /24 over its /32s). */
#define FILTER_MAX_SPREAD_LOG2 8

static void filter_set(__u64 *region, __u32 bit)
{
	__atomic_fetch_or(&region[SLUICE_FILTER_HEADER_WORDS + (bit >> 6)], 1ULL << (bit & 63),
			  __ATOMIC_RELAXED);
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
	__u64 spread = 0;

	for (__u32 i = 0; i < 32; i++)
		spread |= bits << (2 * i);
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
 * Notes KEY (expiring at EXPIRES_NS, 0 never) in its family's filter (see sluice.h).
 * IPv4: every /24 it covers or lies in gets SOME, and WHOLE when the entry is permanent
 * and covers the /24. An expiring one clears WHOLE instead, as it may replace a
 * permanent entry of the same prefix; without records (shorter than /16) its family's
 * sources that the table hands on go to the trie. IPv6: the bit of its exact prefix
 * and length, and the bits of the /32 buckets it lies in or covers: an entry shorter
 * than its bucket is spread over every bucket it covers, up to 2^8 of them; a shorter
 * one makes its family's filter pass everything, which costs lookups, never matches.
 */
static void filter_add(const struct list_filter *f, const struct sluice_lpm_key *key,
		       __u64 expires_ns)
{
	__u32 addr[4] = { key->addr[0], key->addr[1], key->addr[2], key->addr[3] };
	__u32 first, count;
	__u64 span;

	if (prefix128_is_v4(key->addr, key->prefixlen)) {
		bool whole = !expires_ns && key->prefixlen <= SLUICE_V4_MAPPED_PLEN + 24;

		if (expires_ns && key->prefixlen < SLUICE_V4_MAPPED_PLEN + SLUICE_INDEX_MIN_PLEN)
			__atomic_fetch_or(&f->v4[0], SLUICE_FILTER_UNINDEXED, __ATOMIC_RELAXED);
		key_nets(key, &first, &count);
		dir_apply(f->v4, first, count,
			  SLUICE_DIR_SOME | (whole ? SLUICE_DIR_WHOLE : 0), false);
		if (expires_ns)
			dir_apply(f->v4, first, count, SLUICE_DIR_WHOLE, true);
		return;
	}
	filter_set(f->v6, sluice_filter_bit6_len(key->prefixlen, key->addr));
	if (key->prefixlen >= SLUICE_FILTER_V6_BUCKET) {
		filter_set(f->v6, sluice_filter_bit6(addr));
		return;
	}
	if (SLUICE_FILTER_V6_BUCKET - key->prefixlen > FILTER_MAX_SPREAD_LOG2) {
		__atomic_fetch_or(&f->v6[0], SLUICE_FILTER_ALL, __ATOMIC_RELAXED);
		return;
	}
	span = 1ULL << (SLUICE_FILTER_V6_BUCKET - key->prefixlen);
	for (__u64 b = ntohl(addr[0]); b < ntohl(key->addr[0]) + span; b++) {
		addr[0] = htonl((__u32)b);
		filter_set(f->v6, sluice_filter_bit6(addr));
	}
}

/*
 * Before KEY leaves a live list: its /24s lose WHOLE, so their sources go on to the
 * index and the trie. Another entry may still cover them, and without records (an
 * entry shorter than /16) only the trie knows.
 */
static void filter_forget(const struct list_filter *f, const struct sluice_lpm_key *key)
{
	__u32 first, count;

	if (!prefix128_is_v4(key->addr, key->prefixlen))
		return;
	if (key->prefixlen < SLUICE_V4_MAPPED_PLEN + SLUICE_INDEX_MIN_PLEN)
		__atomic_fetch_or(&f->v4[0], SLUICE_FILTER_UNINDEXED, __ATOMIC_RELAXED);
	key_nets(key, &first, &count);
	dir_apply(f->v4, first, count, SLUICE_DIR_WHOLE, true);
}

/* An item's place in address order: the address as two host-order halves, then length. */
struct sort_ref {
	__u64 hi, lo;
	__u32 plen;
	__u32 index;
};

static int compare_refs(const void *a, const void *b)
{
	const struct sort_ref *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->plen < y->plen ? -1 : x->plen > y->plen;
}

/*
 * Writes the items of KIND into the trie FD in address order (each insertion then
 * walks a path the previous one left in the cache, 5x faster here than random order),
 * and notes them in the filter and the index IX.
 */
static int insert_items(int fd, struct list_filter filter, struct list_index *ix,
			const struct list_item *items, size_t n, enum list_kind kind, __u64 now)
{
	struct list_writer *w = calloc(1, sizeof(*w));
	struct sort_ref *refs = calloc(n ? n : 1, sizeof(*refs));
	__u64 wall = time(NULL);
	bool sorted = true;
	size_t count = 0;
	int ret = 0;

	if (!w || !refs || !filter.v4) {
		ret = filter.v4 ? -ENOMEM : -EIO; /* no filter: the entries would be hidden */
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct sluice_lpm_key key;

		if (items[i].kind != kind)
			continue;
		prefix_to_key(&items[i].prefix, &key);
		refs[count] = (struct sort_ref){
			.hi = (__u64)ntohl(key.addr[0]) << 32 | ntohl(key.addr[1]),
			.lo = (__u64)ntohl(key.addr[2]) << 32 | ntohl(key.addr[3]),
			.plen = key.prefixlen,
			.index = i,
		};
		if (count && compare_refs(&refs[count - 1], &refs[count]) > 0)
			sorted = false;
		count++;
	}
	if (!sorted) /* feeds usually come sorted already */
		qsort(refs, count, sizeof(*refs), compare_refs);
	w->fd = fd;
	for (size_t i = 0; i < count && !ret; i++) {
		const struct list_item *item = &items[refs[i].index];

		prefix_to_key(&item->prefix, &w->keys[w->n]);
		fill_entry(&w->values[w->n], item, &w->keys[w->n], now, wall);
		filter_add(&filter, &w->keys[w->n], w->values[w->n].expires_ns);
		ret = list_index_note(ix, &w->keys[w->n], w->values[w->n].expires_ns);
		if (!ret)
			ret = ++w->n == LIST_BATCH ? writer_flush(w) : 0;
	}
	if (!ret)
		ret = writer_flush(w);
out:
	free(w);
	free(refs);
	return ret;
}

static int zero_counters(const struct pins *p, __u64 slots)
{
	int ncpus = libbpf_num_possible_cpus();
	struct sluice_counter *zero;
	int err = 0;

	if (!slots)
		return 0;
	if (ncpus < 0)
		return ncpus;
	zero = calloc(ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	for (__u32 iface = 0; iface < SLUICE_MAX_IFACES && !err; iface++)
		for (__u32 rule = 0; rule < SLUICE_MAX_RULES && !err; rule++) {
			if (!(slots & (1ULL << rule)))
				continue;
			for (__u32 v = 0; v < SLUICE_VERDICT_COUNT && !err; v++)
				for (__u32 r = 0; r < SLUICE_REASON_COUNT; r++) {
					__u32 idx = sluice_stats_index(iface, rule, v, r);

					if (bpf_map_update_elem(p->fds[PIN_STATS], &idx, zero,
								BPF_ANY)) {
						err = -errno;
						break;
					}
				}
		}
	free(zero);
	return err;
}

/* The earliest of two expiry times, where 0 is never. */
static __u64 earlier_expiry(__u64 a, __u64 b)
{
	return !a ? b : !b ? a : a < b ? a : b;
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

/* Switches to ACTIVE; with new lists, EXPIRY is their earliest expiry (see sluice_state). */
static int write_state(const struct pins *p, __u32 active, const __u64 *expiry)
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

/* Empties the filter of a list generation that no packet reads (or an empty list). */
static struct list_filter filter_reset(struct pins *p, enum list_kind kind, __u32 gen)
{
	struct list_filter f = pins_filter(p, kind, gen);

	if (f.v4) {
		memset(f.v4, 0, SLUICE_FILTER_REGION * sizeof(*f.v4));
		memset(f.v6, 0, SLUICE_FILTER_REGION * sizeof(*f.v6));
	}
	return f;
}

static int fill_lists(struct pins *p, const struct policy_doc *doc, __u32 gen, __u64 *expiry,
		      struct parse_error *err)
{
	__u64 now = mono_now_ns();
	struct list_index *ix;
	long n;
	int ret;

	/* The inactive generation may hold leftovers of a controller that died mid-way. */
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		n = clear_list(p, kind, gen);
		if (n < 0) {
			snprintf(err->msg, sizeof(err->msg), "clear inactive lists: %s",
				 strerror(-n));
			return n;
		}
	}
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		struct list_filter filter = filter_reset(p, kind, gen);

		ix = list_index_new();
		ret = ix ? insert_items(list_fd(p, kind, gen), filter, ix, doc->items, doc->nitems,
					kind, now) :
			   -ENOMEM;
		if (!ret)
			ret = write_index(p, kind, gen, filter, ix);
		if (!ret)
			*expiry = earlier_expiry(*expiry, list_index_earliest_expiry(ix));
		list_index_free(ix);
		if (ret) {
			snprintf(err->msg, sizeof(err->msg), "%s list: %s%s",
				 kind == LIST_ALLOW ? "allow" : "block", strerror(-ret),
				 ret == -ENOSPC || ret == -E2BIG ? " (list full)" : "");
			clear_list(p, LIST_ALLOW, gen);
			clear_list(p, LIST_BLOCK, gen);
			return ret;
		}
	}
	return 0;
}

int policy_apply(struct pins *p, const struct policy_doc *doc, bool replace_lists,
		 struct parse_error *err)
{
	struct sluice_policy *old = NULL, *next_pol = NULL;
	struct sluice_text *text = NULL;
	__u32 active, next, pol_old, pol_next, lists_old;
	__u64 fresh, expiry = 0;
	int ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	pol_old = SLUICE_ACTIVE_POLICY(active);
	pol_next = !pol_old;
	lists_old = SLUICE_ACTIVE_LISTS(active);
	next = active ^ 1;
	if (replace_lists)
		next ^= 2;
	old = malloc(sizeof(*old));
	next_pol = malloc(sizeof(*next_pol));
	text = calloc(1, sizeof(*text));
	if (!old || !next_pol || !text) {
		ret = -ENOMEM;
		goto out;
	}
	if (bpf_map_lookup_elem(p->fds[PIN_POLICY], &pol_old, old)) {
		ret = -errno;
		goto out;
	}
	ret = policy_build(doc, old, next_pol, &fresh, err);
	if (ret)
		goto out;
	keep_live_ban_plens(p, next_pol);
	if (!replace_lists) {
		next_pol->flags &= ~(SLUICE_POLICY_ALLOW | SLUICE_POLICY_BLOCK);
		next_pol->flags |= old->flags & (SLUICE_POLICY_ALLOW | SLUICE_POLICY_BLOCK);
	}
	ret = policy_rules_text(doc, text->text, sizeof(text->text));
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "policy rules exceed %zu bytes",
			 sizeof(text->text));
		goto out;
	}
	text->len = strlen(text->text);
	next_pol->digest = fnv1a64(text->text, text->len, FNV1A64_SEED);

	if (replace_lists) {
		ret = fill_lists(p, doc, SLUICE_ACTIVE_LISTS(next), &expiry, err);
		if (ret)
			goto out;
	}
	ret = zero_counters(p, fresh);
	if (!ret && bpf_map_update_elem(p->fds[PIN_POLICY], &pol_next, next_pol, BPF_ANY))
		ret = -errno;
	if (!ret && bpf_map_update_elem(p->fds[PIN_TEXT], &pol_next, text, BPF_ANY))
		ret = -errno;
	if (!ret)
		ret = write_state(p, next, replace_lists ? &expiry : NULL);
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "switch policy: %s", strerror(-ret));
		goto out;
	}
	if (replace_lists) {
		/* Packets that read the old generation before the switch finish within a NAPI poll. */
		usleep(GENERATION_GRACE_US);
		clear_list(p, LIST_ALLOW, lists_old);
		clear_list(p, LIST_BLOCK, lists_old);
	}
out:
	free(old);
	free(next_pol);
	free(text);
	return ret;
}

int policy_read_rules(const struct pins *p, struct policy_doc *doc)
{
	struct parse_error err = {};
	struct sluice_text *text;
	__u32 active;
	char *line, *save = NULL;
	int ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	text = calloc(1, sizeof(*text));
	if (!text)
		return -ENOMEM;
	active = SLUICE_ACTIVE_POLICY(active);
	if (bpf_map_lookup_elem(p->fds[PIN_TEXT], &active, text)) {
		ret = -errno;
		goto out;
	}
	text->text[sizeof(text->text) - 1] = '\0';
	for (line = strtok_r(text->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		ret = policy_parse_line(doc, line, &err);
		if (ret) {
			pr_warn("%s/sluice_text: stored policy does not parse: %s", p->dir, err.msg);
			ret = -EPROTO;
			goto out;
		}
	}
out:
	free(text);
	return ret;
}

static int read_list(const struct pins *p, enum list_kind kind, __u32 gen, __u64 now,
		     struct policy_doc *doc)
{
	int fd = list_fd(p, kind, gen);
	struct sluice_lpm_key key, next;
	struct sluice_list_entry entry;
	struct list_item item;
	void *prev = NULL;
	int ret;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &entry))
			continue; /* deleted meanwhile */
		if (entry.expires_ns && entry.expires_ns <= now)
			continue;
		memset(&item, 0, sizeof(item));
		item.kind = kind;
		key_to_prefix(&key, &item.prefix);
		/* Whole seconds, rounded up, so a dump reads back without sub-second noise. */
		item.ttl_ns = entry.expires_ns ?
				      (entry.expires_ns - now + 999999999ULL) / 1000000000ULL *
					      1000000000ULL :
				      0;
		memcpy(item.comment, entry.comment, sizeof(item.comment) - 1);
		ret = policy_add_item(doc, &item);
		if (ret)
			return ret;
	}
	return 0;
}

static int compare_items(const void *a, const void *b)
{
	const struct list_item *x = a, *y = b;
	struct sluice_lpm_key kx, ky;
	int c;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	prefix_to_key(&x->prefix, &kx);
	prefix_to_key(&y->prefix, &ky);
	c = memcmp(kx.addr, ky.addr, sizeof(kx.addr));
	if (c)
		return c;
	return kx.prefixlen < ky.prefixlen ? -1 : kx.prefixlen > ky.prefixlen;
}

static int read_generation(const struct pins *p, __u64 *generation)
{
	struct sluice_state state;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state))
		return -errno;
	*generation = state.generation;
	return 0;
}

#define READ_TRIES 20

int policy_read(const struct pins *p, struct policy_doc *doc)
{
	__u64 now = mono_now_ns(), before = 0, after = 0;
	__u32 active;
	int ret;

	/*
	 * Readers take no lock. A switch during the read may clear the generation being
	 * walked, so read again until no switch happened meanwhile, as a seqlock does.
	 */
	for (int tries = 0;; tries++) {
		ret = read_generation(p, &before);
		if (!ret)
			ret = policy_read_rules(p, doc);
		if (!ret)
			ret = pins_active(p, &active);
		if (!ret)
			ret = read_list(p, LIST_ALLOW, SLUICE_ACTIVE_LISTS(active), now, doc);
		if (!ret)
			ret = read_list(p, LIST_BLOCK, SLUICE_ACTIVE_LISTS(active), now, doc);
		if (!ret)
			ret = read_generation(p, &after);
		if (ret || before == after)
			break;
		if (tries == READ_TRIES) {
			ret = -EAGAIN;
			break;
		}
		{
			struct list_item *items = doc->items;
			size_t cap = doc->items_cap;

			policy_init(doc);
			doc->items = items;
			doc->items_cap = cap;
		}
	}
	if (!ret && doc->nitems > 1)
		/* Trie walk order is an implementation detail; print in address order. */
		qsort(doc->items, doc->nitems, sizeof(*doc->items), compare_items);
	return ret;
}

/* Sets the list flag in the live policy; only that word changes, so readers see no tear. */
static int set_list_flag(struct pins *p, __u32 active, enum list_kind kind, bool on)
{
	__u32 flag = kind == LIST_ALLOW ? SLUICE_POLICY_ALLOW : SLUICE_POLICY_BLOCK;
	__u32 slot = SLUICE_ACTIVE_POLICY(active);
	struct sluice_policy *pol = malloc(sizeof(*pol));
	int ret = 0;

	if (!pol)
		return -ENOMEM;
	if (bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol)) {
		ret = -errno;
		goto out;
	}
	if (!!(pol->flags & flag) == on)
		goto out;
	pol->flags = on ? pol->flags | flag : pol->flags & ~flag;
	if (bpf_map_update_elem(p->fds[PIN_POLICY], &slot, pol, BPF_EXIST))
		ret = -errno;
out:
	free(pol);
	return ret;
}

/* Notes one entry added to (expiring at EXPIRES_NS) or, with FORGET, deleted from a live list. */
static int index_update(struct pins *p, enum list_kind kind, __u32 gen,
			const struct sluice_lpm_key *key, __u64 expires_ns, bool forget)
{
	struct list_filter filter = pins_filter(p, kind, gen);
	struct list_index *ix = list_index_new();
	struct index_target target;
	int ret;

	if (!filter.v4) {
		list_index_free(ix);
		return -EIO;
	}
	target = index_target(p, kind, gen, filter);
	ret = !ix ? -ENOMEM : forget ? list_index_forget(ix, key) : list_index_note(ix, key, expires_ns);
	if (!ret)
		ret = list_index_write(ix, &target, true);
	list_index_free(ix);
	return ret;
}

int lists_add(struct pins *p, const struct list_item *item)
{
	struct sluice_list_entry entry;
	struct list_filter filter;
	struct sluice_lpm_key key;
	__u32 active;
	int ret;

	ret = pins_active(p, &active);
	if (!ret)
		ret = set_list_flag(p, active, item->kind, true);
	if (ret)
		return ret;
	prefix_to_key(&item->prefix, &key);
	fill_entry(&entry, item, &key, mono_now_ns(), time(NULL));
	/*
	 * Index and filter first: a record or bit that is early costs nothing, one that is
	 * missing would hide the entry.
	 */
	filter = pins_filter(p, item->kind, SLUICE_ACTIVE_LISTS(active));
	if (!filter.v4)
		return -EIO;
	ret = index_update(p, item->kind, SLUICE_ACTIVE_LISTS(active), &key, entry.expires_ns,
			   false);
	if (ret)
		return ret;
	filter_add(&filter, &key, entry.expires_ns);
	if (bpf_map_update_elem(list_fd(p, item->kind, SLUICE_ACTIVE_LISTS(active)), &key, &entry,
				BPF_ANY))
		return -errno;
	return entry.expires_ns ? note_expiry(p, entry.expires_ns) : 0;
}

/* Copies the unexpired entries of one trie into another. */
static int copy_live_entries(int from, int to, struct list_filter filter, struct list_index *ix,
			     __u64 now)
{
	struct list_writer *w = calloc(1, sizeof(*w));
	struct sluice_lpm_key cur, next;
	struct sluice_list_entry entry;
	bool walked = false;
	int ret = 0;

	if (!w || !filter.v4) {
		free(w);
		return filter.v4 ? -ENOMEM : -EIO;
	}
	w->fd = to;
	while (!ret && bpf_map_get_next_key(from, walked ? &cur : NULL, &next) == 0) {
		cur = next;
		walked = true;
		if (bpf_map_lookup_elem(from, &cur, &entry))
			continue;
		if (entry.expires_ns && entry.expires_ns <= now)
			continue;
		filter_add(&filter, &cur, entry.expires_ns);
		ret = list_index_note(ix, &cur, entry.expires_ns) ?: writer_put(w, &cur, &entry);
	}
	if (!ret)
		ret = writer_flush(w);
	free(w);
	return ret;
}

int lists_import(struct pins *p, const struct list_item *items, size_t n)
{
	struct sluice_policy *pol = malloc(sizeof(*pol));
	struct sluice_text *text = malloc(sizeof(*text));
	__u32 active, lists_old, lists_next, slot_old, slot_next;
	__u64 now = mono_now_ns(), expiry = 0;
	int ret;

	if (!pol || !text) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pins_active(p, &active);
	if (ret)
		goto out;
	lists_old = SLUICE_ACTIVE_LISTS(active);
	lists_next = !lists_old;
	slot_old = SLUICE_ACTIVE_POLICY(active);
	slot_next = !slot_old;

	/* The idle generation becomes the live lists plus the new items, then one switch. */
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		long cleared = clear_list(p, kind, lists_next);
		struct list_filter filter = filter_reset(p, kind, lists_next);
		struct list_index *ix = list_index_new();

		ret = cleared < 0 ? (int)cleared : !ix ? -ENOMEM : 0;
		if (!ret)
			ret = copy_live_entries(list_fd(p, kind, lists_old),
						list_fd(p, kind, lists_next), filter, ix, now);
		if (!ret)
			ret = insert_items(list_fd(p, kind, lists_next), filter, ix, items, n, kind,
					   now);
		if (!ret)
			ret = write_index(p, kind, lists_next, filter, ix);
		if (!ret)
			expiry = earlier_expiry(expiry, list_index_earliest_expiry(ix));
		list_index_free(ix);
		if (ret)
			goto fail;
	}
	if (bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot_old, pol) ||
	    bpf_map_lookup_elem(p->fds[PIN_TEXT], &slot_old, text)) {
		ret = -errno;
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		pol->flags |= items[i].kind == LIST_ALLOW ? SLUICE_POLICY_ALLOW : SLUICE_POLICY_BLOCK;
	if (bpf_map_update_elem(p->fds[PIN_POLICY], &slot_next, pol, BPF_ANY) ||
	    bpf_map_update_elem(p->fds[PIN_TEXT], &slot_next, text, BPF_ANY)) {
		ret = -errno;
		goto fail;
	}
	ret = write_state(p, active ^ 3, &expiry);
	if (ret)
		goto fail;
	usleep(GENERATION_GRACE_US);
	clear_list(p, LIST_ALLOW, lists_old);
	clear_list(p, LIST_BLOCK, lists_old);
	goto out;
fail:
	clear_list(p, LIST_ALLOW, lists_next);
	clear_list(p, LIST_BLOCK, lists_next);
out:
	free(pol);
	free(text);
	return ret;
}

int lists_del(struct pins *p, enum list_kind kind, const struct prefix *pfx)
{
	struct sluice_list_entry entry;
	struct list_filter filter;
	struct sluice_lpm_key key;
	__u32 active;
	int fd, ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	prefix_to_key(pfx, &key);
	fd = list_fd(p, kind, SLUICE_ACTIVE_LISTS(active));
	if (bpf_map_lookup_elem(fd, &key, &entry))
		return -errno;
	/* The table and the index hand the entry's sources to the trie before it loses it. */
	filter = pins_filter(p, kind, SLUICE_ACTIVE_LISTS(active));
	if (!filter.v4)
		return -EIO;
	filter_forget(&filter, &key);
	ret = index_update(p, kind, SLUICE_ACTIVE_LISTS(active), &key, 0, true);
	if (ret)
		return ret;
	if (bpf_map_delete_elem(fd, &key))
		return -errno;
	return 0;
}

long lists_flush(struct pins *p, enum list_kind kind)
{
	__u32 active;
	long n;
	int ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	ret = set_list_flag(p, active, kind, false);
	if (ret)
		return ret;
	n = clear_list(p, kind, SLUICE_ACTIVE_LISTS(active));
	if (n >= 0) /* the list is empty: its filter may be too */
		filter_reset(p, kind, SLUICE_ACTIVE_LISTS(active));
	return n;
}

long lists_count(const struct pins *p, enum list_kind kind)
{
	struct sluice_lpm_key key, next;
	struct sluice_list_entry entry;
	__u64 now = mono_now_ns();
	void *prev = NULL;
	__u32 active;
	long count = 0;
	int fd, ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	fd = list_fd(p, kind, SLUICE_ACTIVE_LISTS(active));
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &entry) == 0 &&
		    (!entry.expires_ns || entry.expires_ns > now))
			count++;
	}
	return count;
}

/* Deletes the expired entries of a list; *EARLIEST becomes the first expiry of the rest. */
static long collect_list(int fd, __u64 now, __u64 *earliest)
{
	struct sluice_lpm_key cur, next;
	struct sluice_list_entry entry;
	bool walked = false;
	long removed = 0;

	while (bpf_map_get_next_key(fd, walked ? &cur : NULL, &next) == 0) {
		if (bpf_map_lookup_elem(fd, &next, &entry) == 0 && entry.expires_ns) {
			if (entry.expires_ns <= now && bpf_map_delete_elem(fd, &next) == 0) {
				removed++;
				continue; /* walk on from the same key */
			}
			*earliest = earlier_expiry(*earliest, entry.expires_ns);
		}
		cur = next;
		walked = true;
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
 * Lists are walked only once their earliest expiry has passed (sluice_state), so a write
 * verb beside a million permanent entries does not read them all; bans, at most the
 * ban map's capacity, are read in batches.
 */
long collect_expired(struct pins *p)
{
	struct expired_bans bans = { .fd = p->fds[PIN_BANS], .now = mono_now_ns() };
	struct sluice_state state;
	__u32 active, zero = 0;
	__u64 earliest = 0;
	long removed = 0, n;
	int ret;

	ret = pins_active(p, &active);
	if (ret)
		return ret;
	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state))
		return -errno;
	if (state.lists_expiry_ns && state.lists_expiry_ns <= bans.now) {
		removed = collect_list(list_fd(p, LIST_ALLOW, SLUICE_ACTIVE_LISTS(active)), bans.now,
				       &earliest) +
			  collect_list(list_fd(p, LIST_BLOCK, SLUICE_ACTIVE_LISTS(active)), bans.now,
				       &earliest);
		state.lists_expiry_ns = earliest;
		if (bpf_map_update_elem(p->fds[PIN_STATE], &zero, &state, BPF_EXIST))
			return -errno;
	}
	n = map_batches(bans.fd, false, delete_expired_bans, &bans);
	return n < 0 ? n : removed + n;
}
