// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The keys each limit holds state for, read from the limiter's maps: the slots (named
 * by sluice_slotkeys) and the LRU map. Keys on probation are tags only and stay out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <bpf/bpf.h>
#include "document.h"
#include "limits_report.h"
#include "policy.h"

const char *const limits_bin_names[LIMITS_BINS] = {
	[LIMITS_BIN_0_25] = "0-25%",   [LIMITS_BIN_25_50] = "25-50%",
	[LIMITS_BIN_50_75] = "50-75%", [LIMITS_BIN_75_100] = "75-100%",
	[LIMITS_BIN_OVER] = "over",
};

/* A key with live state, as found in a slot or the LRU map. */
struct found {
	struct sluice_bucket_key key;
	__u64 tat;
	__u32 entry; /* index in the report */
	__u32 in_lru;
};

/* A limit id and its entry in the report, sorted by id for lookups. */
struct id_entry {
	__u32 id;
	__u32 entry;
};

struct gather {
	struct limits_report *r;
	struct id_entry ids[SLUICE_MAX_RULES * SLUICE_MAX_LIMITS];
	bool (*want)(const struct limits_entry *e); /* the limits to read keys of; NULL all */
	struct sluice_slot *slots;
	const struct sluice_bucket_key *recs; /* sluice_slotkeys, mapped */
	struct found *found;
	size_t nfound, cap;
};

static __u64 clock_units(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ((__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec) << SLUICE_TIME_SHIFT;
}

/*
 * Whether the data path runs rule R on the fine clock: as apply_rule decides. The
 * coarse one is bpf_ktime_get_coarse_ns, which is CLOCK_MONOTONIC_COARSE.
 */
static bool rule_fine_clock(const struct sluice_rule *r)
{
	for (unsigned int k = 0; k < r->nlimits && k < SLUICE_MAX_LIMITS; k++)
		if (r->limits[k].tolerance < SLUICE_COARSE_CLOCK_MIN_TOLERANCE)
			return true;
	return false;
}

static int id_compare(const void *a, const void *b)
{
	const struct id_entry *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The report entry of limit ID, or -1 when the live policy has no such limit. */
static int entry_of(const struct gather *g, __u32 id)
{
	const struct id_entry want = { .id = id }, *e;

	e = bsearch(&want, g->ids, g->r->n, sizeof(g->ids[0]), id_compare);
	return e ? (int)e->entry : -1;
}

/* The slots KEY may live in under its limit, and its tag; false for a key it cannot make. */
static bool key_ref(const struct limits_entry *e, const struct sluice_bucket_key *key,
		    struct sluice_slot_ref *ref)
{
	__u32 plen;

	if (e->lim.key == SLUICE_KEY_GLOBAL)
		plen = 0;
	else if (key->family == SLUICE_FAMILY_IPV4)
		plen = SLUICE_V4_MAPPED_PLEN + e->lim.prefix4;
	else if (key->family == SLUICE_FAMILY_IPV6)
		plen = e->lim.prefix6;
	else
		return false;
	sluice_slot_ref(key, plen, ref);
	return true;
}

static int found_add(struct gather *g, const struct sluice_bucket_key *key, __u64 tat, __u32 entry,
		     bool in_lru)
{
	if (g->nfound == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 1024;
		struct found *f = realloc(g->found, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		g->found = f;
		g->cap = cap;
	}
	g->found[g->nfound++] =
		(struct found){ .key = *key, .tat = tat, .entry = entry, .in_lru = in_lru };
	return 0;
}

static long copy_slots(const void *keys, const void *values, __u32 n, void *ctx)
{
	const __u32 *idx = keys;
	struct gather *g = ctx;

	for (__u32 i = 0; i < n; i++)
		if (idx[i] < SLUICE_SLOTS)
			g->slots[idx[i]] = ((const struct sluice_slot *)values)[i];
	return n;
}

/*
 * The keys of live slots. A key writes its record after taking the slot's tag, so a
 * record that does not give the tag back belongs to a key taking the slot over now.
 */
static int gather_slots(struct gather *g)
{
	for (__u32 i = 0; i < SLUICE_SLOTS; i++) {
		const struct sluice_slot *s = &g->slots[i];
		struct sluice_bucket_key key;
		struct sluice_slot_ref ref;
		int entry, err;

		if (!s->tag)
			continue;
		memcpy(&key, &g->recs[i], sizeof(key));
		entry = entry_of(g, key.limit_id);
		/* A limit no longer in the policy, whose state runs out unused. */
		if (entry < 0)
			continue;
		if (s->tat <= g->r->entries[entry].now)
			continue;
		if (!key_ref(&g->r->entries[entry], &key, &ref) || ref.tag != s->tag ||
		    (ref.idx[0] != i && ref.idx[1] != i)) {
			g->r->unnamed++;
			continue;
		}
		err = found_add(g, &key, s->tat, entry, false);
		if (err)
			return err;
	}
	return 0;
}

/* Keys in the LRU map; one a slot holds too has its state there, where the data path looks first. */
static long visit_lru(const void *keys, const void *values, __u32 n, void *ctx)
{
	const struct sluice_bucket_key *key = keys;
	const __u64 *tat = values;
	struct gather *g = ctx;

	for (__u32 i = 0; i < n; i++) {
		struct sluice_slot_ref ref;
		int entry = entry_of(g, key[i].limit_id);

		if (entry < 0 || (g->want && !g->want(&g->r->entries[entry])) ||
		    tat[i] <= g->r->entries[entry].now ||
		    !key_ref(&g->r->entries[entry], &key[i], &ref) ||
		    g->slots[ref.idx[0]].tag == ref.tag || g->slots[ref.idx[1]].tag == ref.tag)
			continue;
		if (found_add(g, &key[i], tat[i], entry, true))
			return -ENOMEM;
	}
	return n;
}

/* By limit, then fullest first, then by key, so the order is the same on every read. */
static int found_compare(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->entry != y->entry)
		return x->entry < y->entry ? -1 : 1;
	if (x->tat != y->tat)
		return x->tat > y->tat ? -1 : 1;
	return memcmp(&x->key, &y->key, sizeof(x->key));
}

/* How full the bucket of a key with arrival time TAT is at NOW (TAT ahead of it). */
static enum limits_bin measure(const struct sluice_limit *lim, __u64 now, __u64 tat,
			       struct limits_key *k)
{
	__u64 tol = lim->tolerance, d = tat - now, room = tol > d ? tol - d : 0;

	if (lim->flags & SLUICE_LIMIT_BYTES)
		k->tokens =
			(__u64)((unsigned __int128)room * lim->byte_rate / SLUICE_UNITS_PER_SEC);
	else
		k->tokens = lim->interval ? room / lim->interval : 0;
	k->used = d >= tol ? 1.0 : (double)d / (double)tol;
	if (!k->tokens)
		return LIMITS_BIN_OVER;
	/* d < tol <= SLUICE_MAX_TOLERANCE < 2^62 here, so d * 4 cannot wrap. */
	return (enum limits_bin)(d * 4 / tol);
}

static int summarize(struct gather *g, unsigned int top)
{
	struct limits_report *r = g->r;

	for (size_t i = 0; i < g->nfound; i++) {
		const struct found *f = &g->found[i];
		struct limits_entry *e = &r->entries[f->entry];
		struct limits_key k = { .key = f->key, .tat = f->tat, .in_lru = f->in_lru };

		e->bins[measure(&e->lim, e->now, f->tat, &k)]++;
		e->keys++;
		e->in_lru += f->in_lru;
		e->in_slots += !f->in_lru;
		if (e->ntop >= top)
			continue;
		if (!e->top) {
			e->top = calloc(top, sizeof(*e->top));
			if (!e->top)
				return -ENOMEM;
		}
		e->top[e->ntop++] = k;
	}
	return 0;
}

/* The report's entries: every limit of the live policy, with its rule's text. */
static int entries_read(const struct pins *p, struct gather *g, const char *rule)
{
	struct limits_report *r = g->r;
	__u64 fine = clock_units(CLOCK_MONOTONIC), coarse = clock_units(CLOCK_MONOTONIC_COARSE);
	struct sluice_policy *pol = malloc(sizeof(*pol));
	struct policy_doc *doc = malloc(sizeof(*doc));
	bool rule_found = !rule;
	__u32 active, slot;
	int err;

	if (!pol || !doc) {
		free(pol);
		free(doc);
		return -ENOMEM;
	}
	policy_init(doc);
	err = pins_active(p, &active);
	slot = SLUICE_ACTIVE_POLICY(active);
	if (!err && bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol))
		err = -errno;
	err = err ?: policy_read_rules(p, doc);
	for (__u32 i = 0; !err && i < pol->nrules && i < SLUICE_MAX_RULES; i++) {
		const struct sluice_rule *sr = &pol->rules[i];
		int at = policy_rule_find(doc, sr->name);

		rule_found = rule_found || !strncmp(sr->name, rule, SLUICE_NAME_LEN);
		for (__u32 k = 0; k < sr->nlimits && k < SLUICE_MAX_LIMITS; k++) {
			struct limits_entry *e = &r->entries[r->n];

			memcpy(e->rule, sr->name, SLUICE_NAME_LEN);
			e->rule[SLUICE_NAME_LEN - 1] = '\0';
			e->limit = k;
			e->action = sr->action;
			e->lim = sr->limits[k];
			/* The text of the same generation, unless a restore came in between. */
			if (at >= 0 && k < doc->rules[at].nlimits) {
				e->spec = doc->rules[at].limits[k];
				format_limit(&e->spec, e->spec_text, sizeof(e->spec_text));
			}
			e->fine_clock = rule_fine_clock(sr);
			e->now = e->fine_clock ? fine : coarse;
			g->ids[r->n] = (struct id_entry){ .id = e->lim.id, .entry = r->n };
			r->n++;
		}
	}
	if (!err && !rule_found)
		err = -ENOENT;
	qsort(g->ids, r->n, sizeof(g->ids[0]), id_compare);
	policy_free(doc);
	free(doc);
	free(pol);
	return err;
}

/* Keeps the entries of RULE only, moving their keys along. */
static void entries_filter(struct limits_report *r, const char *rule)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < r->n; i++) {
		if (strcmp(r->entries[i].rule, rule)) {
			free(r->entries[i].top);
			continue;
		}
		if (n != i)
			r->entries[n] = r->entries[i];
		n++;
	}
	r->n = n;
}

/*
 * The slots whose record names a limit G wants, read one by one: cheaper than copying
 * them all when those limits hold few (the others stay zero, as never used).
 */
static long slots_wanted(const struct pins *p, struct gather *g)
{
	for (__u32 i = 0; i < SLUICE_SLOTS; i++) {
		int entry;

		if (!g->recs[i].limit_id)
			continue;
		entry = entry_of(g, g->recs[i].limit_id);
		if (entry >= 0 && g->want(&g->r->entries[entry]) &&
		    bpf_map_lookup_elem(p->fds[PIN_SLOTS], &i, &g->slots[i]))
			return -errno;
	}
	return 0;
}

/* The entries of the live policy (RULE's, unless NULL) and the keys with live state. */
static int gather(const struct pins *p, const char *rule, struct gather *g)
{
	size_t recs_bytes = (size_t)SLUICE_SLOTS * sizeof(struct sluice_bucket_key);
	void *recs = MAP_FAILED;
	long n;
	int err;

	err = entries_read(p, g, rule);
	if (err)
		return err;
	if (p->max_entries[PIN_SLOTS] != SLUICE_SLOTS ||
	    p->max_entries[PIN_SLOTKEYS] != SLUICE_SLOTS)
		return -EPROTO;
	g->slots = calloc(SLUICE_SLOTS, sizeof(*g->slots));
	recs = mmap(NULL, recs_bytes, PROT_READ, MAP_SHARED, p->fds[PIN_SLOTKEYS], 0);
	if (!g->slots || recs == MAP_FAILED) {
		err = g->slots ? -errno : -ENOMEM;
		goto out;
	}
	g->recs = recs;
	n = g->want ? slots_wanted(p, g) : map_batches(p->fds[PIN_SLOTS], false, copy_slots, g);
	err = n < 0 ? (int)n : gather_slots(g);
	if (!err) {
		n = map_batches(p->fds[PIN_BUCKETS], false, visit_lru, g);
		err = n < 0 ? (int)n : 0;
	}
out:
	if (recs != MAP_FAILED)
		munmap(recs, recs_bytes);
	free(g->slots);
	g->slots = NULL;
	return err;
}

int limits_read(const struct pins *p, const char *rule, unsigned int top, struct limits_report *r)
{
	struct gather *g = calloc(1, sizeof(*g));
	int err;

	memset(r, 0, sizeof(*r));
	if (!g)
		return -ENOMEM;
	g->r = r;
	err = gather(p, rule, g);
	if (!err) {
		if (g->nfound) /* found is NULL until the first key, and qsort's array may not be */
			qsort(g->found, g->nfound, sizeof(g->found[0]), found_compare);
		err = summarize(g, top);
	}
	if (!err && rule)
		entries_filter(r, rule);
	free(g->found);
	free(g);
	if (err)
		limits_free(r);
	return err;
}

int limits_keys(const struct pins *p, struct limits_report *r,
		bool (*want)(const struct limits_entry *e), limits_key_fn fn, void *ctx)
{
	struct gather *g = calloc(1, sizeof(*g));
	int err;

	memset(r, 0, sizeof(*r));
	if (!g)
		return -ENOMEM;
	g->r = r;
	g->want = want;
	err = gather(p, NULL, g);
	for (size_t i = 0; !err && i < g->nfound; i++)
		err = fn(&r->entries[g->found[i].entry], &g->found[i].key, g->found[i].tat, ctx);
	free(g->found);
	free(g);
	return err;
}

__u64 limits_now(const struct limits_entry *e)
{
	return clock_units(e->fine_clock ? CLOCK_MONOTONIC : CLOCK_MONOTONIC_COARSE);
}

void limits_free(struct limits_report *r)
{
	for (unsigned int i = 0; i < r->n; i++) {
		free(r->entries[i].top);
		r->entries[i].top = NULL;
	}
	r->n = 0;
}

void limits_key_format(const struct limits_entry *e, const struct sluice_bucket_key *key, char *buf,
		       size_t len)
{
	struct prefix pfx = { .family = key->family };

	if (e->lim.key == SLUICE_KEY_GLOBAL) {
		snprintf(buf, len, "global");
		return;
	}
	pfx.plen = key->family == SLUICE_FAMILY_IPV4 ? e->lim.prefix4 : e->lim.prefix6;
	memcpy(pfx.addr, key->addr, sizeof(pfx.addr));
	format_prefix(&pfx, buf, len);
}
