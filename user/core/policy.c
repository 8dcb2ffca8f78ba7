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
#include "lists.h"
#include "log.h"
#include "compile.h"
#include "policy.h"
#include "stats.h"
#include "rule_index.h"
#include "synguard.h"

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

void prefix_to_key(const struct prefix *pfx, struct sluice_lpm_key *key)
{
	memset(key, 0, sizeof(*key));
	key->prefixlen =
		pfx->plen + (pfx->family == SLUICE_FAMILY_IPV4 ? SLUICE_V4_MAPPED_PLEN : 0);
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
	out->event_period_ns = doc->event_period_ns;
	out->event_sample = doc->event_sample;
	out->event_ceiling = doc->event_ceiling;
	if (doc->malformed_drop)
		out->flags |= SLUICE_POLICY_MALFORMED_DROP;

	out->nguards = doc->nguards;
	for (i = 0; i < doc->nguards && i < SLUICE_MAX_GUARDS; i++) {
		int ret = compile_guard(&doc->guards[i], &out->guards[i], err);

		if (ret)
			return ret;
	}

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
			/* A slot no old rule of this policy keeps: its counts so far become its baseline. */
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

/* New hashes for both lists, holding DOC's items, under the next generation of G. */
static int fill_lists(struct pins *p, struct list_gen *g, const struct policy_doc *doc,
		      struct set_table *sets, struct parse_error *err)
{
	size_t want[2] = {};
	int ret = 0, kind;

	/* The doc names the sets afresh: bits in the order the names first appear. */
	memset(sets, 0, sizeof(*sets));
	for (size_t i = 0; i < doc->nitems && !ret; i++) {
		const struct list_item *it = &doc->items[i];
		int bit;

		want[it->kind]++;
		if (!it->set)
			continue;
		bit = set_assign(sets, it->kind, it->set);
		if (bit < 0) {
			snprintf(err->msg, sizeof(err->msg),
				 "set %.*s: more than %d named sets in the %s list",
				 SLUICE_NAME_LEN - 1, it->set, SLUICE_MAX_SETS - 1,
				 it->kind == LIST_ALLOW ? "allow" : "block");
			return bit;
		}
		sets->slot[it->kind][bit].refreshed = time(NULL);
		sets->slot[it->kind][bit].entries++;
	}
	ret = list_gen_items(g, doc->items, doc->nitems, sets);
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "lists: %s", strerror(-ret));
		return ret;
	}
	for (kind = LIST_ALLOW; kind <= LIST_BLOCK && !ret; kind++) {
		ret = list_gen_replace(p, g, kind, want[kind], false);
		if (ret)
			snprintf(err->msg, sizeof(err->msg), "%s list: %s%s",
				 kind == LIST_ALLOW ? "allow" : "block", strerror(-ret),
				 ret == -ENOSPC ? " (list full: see attach --list-entries)" : "");
	}
	if (!ret) {
		ret = list_gen_add(p, g);
		if (ret)
			snprintf(err->msg, sizeof(err->msg), "lists: %s", strerror(-ret));
	}
	return ret;
}

int policy_apply(struct pins *p, const struct policy_doc *doc, bool replace_lists,
		 struct parse_error *err)
{
	struct sluice_policy *old = NULL, *next_pol = NULL;
	struct sluice_text *text = NULL;
	struct set_table *sets = NULL;
	__u32 active, next, pol_old, pol_next;
	struct list_gen g;
	__u64 fresh;
	int ret;

	if (doc->nguards) {
		struct guard_host host;

		ret = guard_host_read(&host);
		if (ret) {
			snprintf(err->msg, sizeof(err->msg),
				 "guard: read the TCP settings of this network namespace: %s",
				 strerror(-ret));
			return ret;
		}
		if (host.syncookies == 0) {
			snprintf(
				err->msg, sizeof(err->msg),
				"guard: net.ipv4.tcp_syncookies is 0 in this network namespace, so "
				"the kernel would refuse every cookie; set it to 2 (or 1)");
			return -EOPNOTSUPP;
		}
	}
	ret = pins_active(p, &active);
	if (ret)
		return ret;
	pol_old = SLUICE_ACTIVE_POLICY(active);
	pol_next = !pol_old;
	next = active ^ 1;
	list_gen_begin(&g, active);
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
		sets = malloc(sizeof(*sets));
		ret = sets ? fill_lists(p, &g, doc, sets, err) : -ENOMEM;
		if (ret)
			goto out;
	}
	ret = stats_rebase(p, fresh);
	if (!ret && bpf_map_update_elem(p->fds[PIN_POLICY], &pol_next, next_pol, BPF_ANY))
		ret = -errno;
	if (!ret && bpf_map_update_elem(p->fds[PIN_TEXT], &pol_next, text, BPF_ANY))
		ret = -errno;
	if (!ret && replace_lists)
		ret = list_gen_stage(p, &g);
	if (!ret)
		ret = lists_state_write(p, next, replace_lists ? &g.expiry : NULL);
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "switch policy: %s", strerror(-ret));
		goto out;
	}
	ret = guard_counts_reset_changed(p, old, next_pol);
	if (ret) {
		snprintf(err->msg, sizeof(err->msg), "reset the guards' counters: %s",
			 strerror(-ret));
		goto out;
	}
	/* After the switch: the old entries' bits meant the old names until then. */
	if (replace_lists) {
		ret = sets_write(p, sets);
		if (ret) {
			snprintf(err->msg, sizeof(err->msg), "write the set names: %s",
				 strerror(-ret));
			goto out;
		}
	}
	ret = list_gen_finish(p, &g);
	if (ret)
		snprintf(err->msg, sizeof(err->msg), "free the old lists: %s", strerror(-ret));
out:
	list_gen_abort(p, &g);
	free(sets);
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
			pr_warn("%s/sluice_text: stored policy does not parse: %s", p->dir,
				err.msg);
			ret = -EPROTO;
			goto out;
		}
	}
out:
	free(text);
	return ret;
}

int list_items_compare(const void *a, const void *b)
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

int lists_open_live(const struct pins *p, struct policy_doc *rules, int fds[2])
{
	__u64 before = 0, after = 0;
	__u32 active;
	int ret;

	/*
	 * Readers take no lock. The rules and the lists' hashes are taken from one
	 * generation: again until no switch happened meanwhile, as a seqlock does. An open
	 * hash stays readable even after a switch frees it from the maps.
	 */
	for (int tries = 0;; tries++) {
		fds[0] = fds[1] = -1;
		ret = read_generation(p, &before);
		if (!ret && rules)
			ret = policy_read_rules(p, rules);
		if (!ret)
			ret = pins_active(p, &active);
		for (int kind = LIST_ALLOW; kind <= LIST_BLOCK && !ret; kind++) {
			fds[kind] = list_open(p, kind, SLUICE_ACTIVE_LISTS(active));
			if (fds[kind] == -ENOENT)
				fds[kind] = -1;
			else if (fds[kind] < 0)
				ret = fds[kind];
		}
		if (!ret)
			ret = read_generation(p, &after);
		if (!ret && before == after)
			return 0;
		for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++)
			if (fds[kind] >= 0)
				close(fds[kind]);
		if (ret && ret != -ENOENT)
			return ret;
		if (tries == READ_TRIES)
			return -EAGAIN;
		if (rules) {
			policy_free(rules);
			policy_init(rules);
		}
	}
}

static int add_to_doc(const struct list_item *item, void *ctx)
{
	return policy_add_item(ctx, item);
}

int policy_read(const struct pins *p, struct policy_doc *doc)
{
	__u64 now = mono_now_ns();
	int fds[2], ret;

	ret = lists_open_live(p, doc, fds);
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		if (fds[kind] < 0)
			continue;
		if (!ret)
			ret = list_walk(fds[kind], kind, now, add_to_doc, doc);
		close(fds[kind]);
	}
	if (!ret && doc->nitems > 1)
		/* Hash order is an implementation detail; a document is in address order. */
		qsort(doc->items, doc->nitems, sizeof(*doc->items), list_items_compare);
	return ret;
}
