// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "lists.h"
#include "lockout.h"
#include "log.h"
#include "policy.h"

#define SSH_PORT 22

static int add_path(struct mgmt_path *paths, unsigned int max, unsigned int *n, const char *addr,
		    __u16 port, const char *origin)
{
	struct parse_error err = {};
	struct prefix pfx;

	if (*n >= max)
		return 0;
	if (parse_prefix(addr, &pfx, &err) ||
	    pfx.plen != (pfx.family == SLUICE_FAMILY_IPV4 ? 32 : 128)) {
		pr_warn("%s: %s: expected an IPv4 or IPv6 address", origin, addr);
		return -EINVAL;
	}
	paths[*n].addr = pfx;
	paths[*n].port = port;
	snprintf(paths[*n].origin, sizeof(paths[*n].origin), "%s", origin);
	(*n)++;
	return 0;
}

int mgmt_paths_detect(struct mgmt_path *paths, unsigned int max)
{
	const char *ssh = getenv("SSH_CONNECTION"), *mgmt = getenv("SLUICE_MANAGEMENT");
	unsigned int n = 0;
	int err;

	if (ssh && *ssh) {
		/* "CLIENT_ADDR CLIENT_PORT SERVER_ADDR SERVER_PORT" */
		char client[64], server[64];
		unsigned int cport, sport;

		if (sscanf(ssh, "%63s %u %63s %u", client, &cport, server, &sport) == 4 && sport &&
		    sport <= 0xffff) {
			struct parse_error perr = {};

			err = add_path(paths, max, &n, client, sport, "your SSH client");
			if (err)
				return err;
			if (parse_prefix(server, &paths[n - 1].server, &perr))
				memset(&paths[n - 1].server, 0, sizeof(paths[n - 1].server));
		}
	}
	if (mgmt && *mgmt) {
		char *copy = strdup(mgmt), *save = NULL, *tok;

		if (!copy)
			return -ENOMEM;
		for (tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			err = add_path(paths, max, &n, tok, SSH_PORT, "SLUICE_MANAGEMENT");
			if (err) {
				free(copy);
				return err;
			}
		}
		free(copy);
	}
	return n;
}

static bool prefix_contains(const struct prefix *net, const struct prefix *addr)
{
	__u32 mask[4];

	if (net->family != addr->family)
		return false;
	plen128_mask(prefix_plen128(net), mask);
	for (unsigned int w = 0; w < 4; w++)
		if ((addr->addr[w] & mask[w]) != net->addr[w])
			return false;
	return true;
}

static const char *const action_words[] = {
	[SLUICE_ACTION_PASS] = "pass",
	[SLUICE_ACTION_DROP] = "drop",
	[SLUICE_ACTION_MONITOR] = "monitor",
	[SLUICE_ACTION_BAN] = "ban",
};

/* The rule that decides a SYN from PATH, if it drops it whatever the rate. */
static bool rules_lock_out(const struct policy_doc *rules, const struct mgmt_path *path, char *why,
			   size_t len)
{
	/* First match wins: the first rule a SYN to the port matches decides. */
	for (unsigned int i = 0; i < rules->nrules; i++) {
		const struct rule_spec *r = &rules->rules[i];

		if (r->family && r->family != path->addr.family)
			continue;
		if (r->proto && r->proto != SLUICE_PROTO_TCP)
			continue;
		if (r->has_dport && (path->port < r->dport_lo || path->port > r->dport_hi))
			continue;
		/* Without the server address, a rule for some VIP may be ours: assume it is. */
		if (r->has_dst && path->server.plen && !prefix_contains(&r->dst, &path->server))
			continue;
		if (r->nlimits || r->action == SLUICE_ACTION_PASS ||
		    r->action == SLUICE_ACTION_MONITOR)
			return false;
		snprintf(why, len, "rule %s matches it with action %s", r->name,
			 action_words[r->action]);
		return true;
	}
	return false;
}

/* The first item of KIND in ITEMS that covers ADDR, or NULL. */
static const struct list_item *covering_item(const struct list_item *items, size_t n,
					     enum list_kind kind, const struct prefix *addr)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].kind == kind && prefix_contains(&items[i].prefix, addr))
			return &items[i];
	return NULL;
}

static void blocked_by(const struct prefix *net, char *why, size_t len)
{
	char text[64];

	format_prefix(net, text, sizeof(text));
	snprintf(why, len, "block %s covers it", text);
}

bool policy_locks_out(const struct policy_doc *doc, const struct mgmt_path *path, char *why,
		      size_t len)
{
	const struct list_item *block;

	if (covering_item(doc->items, doc->nitems, LIST_ALLOW, &path->addr))
		return false;
	block = covering_item(doc->items, doc->nitems, LIST_BLOCK, &path->addr);
	if (block) {
		blocked_by(&block->prefix, why, len);
		return true;
	}
	return rules_lock_out(doc, path, why, len);
}

/* Checks every management path with LOCKS_OUT; one line per path cut off. */
static int check_paths(const char *verb, bool force,
		       bool (*locks_out)(const struct mgmt_path *, void *, char *, size_t),
		       void *ctx)
{
	struct mgmt_path paths[LOCKOUT_MAX_PATHS];
	int n = mgmt_paths_detect(paths, LOCKOUT_MAX_PATHS);
	bool locked = false;
	char why[160], addr[64];

	if (n < 0)
		return force ? 0 : n;
	for (int i = 0; i < n; i++) {
		if (!locks_out(&paths[i], ctx, why, sizeof(why)))
			continue;
		format_prefix(&paths[i].addr, addr, sizeof(addr));
		pr_warn("%s: would cut off %s %s (tcp port %u): %s; allowlist it, or use --force",
			verb, paths[i].origin, addr, paths[i].port, why);
		locked = true;
	}
	if (locked && force) {
		pr_info("%s: --force: going ahead", verb);
		return 0;
	}
	return locked ? -ECANCELED : 0;
}

static bool doc_locks_out(const struct mgmt_path *path, void *ctx, char *why, size_t len)
{
	return policy_locks_out(ctx, path, why, len);
}

int lockout_check(const char *verb, const struct policy_doc *doc, bool force)
{
	return check_paths(verb, force, doc_locks_out, (void *)doc);
}

struct live_ctx {
	const struct pins *p;
	__u32 lists;
	const struct list_item *extra;
	size_t nextra;
	const struct policy_doc *rules;
};

/* Longest live entry of a list covering ADDR, as NET. */
static bool live_match(const struct live_ctx *c, enum list_kind kind, const struct prefix *addr,
		       struct prefix *net)
{
	return list_lookup(c->p, kind, c->lists, addr, net) == 1;
}

static bool live_locks_out(const struct mgmt_path *path, void *ctx, char *why, size_t len)
{
	const struct live_ctx *c = ctx;
	const struct list_item *block;
	struct prefix net;

	if (live_match(c, LIST_ALLOW, &path->addr, &net) ||
	    covering_item(c->extra, c->nextra, LIST_ALLOW, &path->addr))
		return false;
	block = covering_item(c->extra, c->nextra, LIST_BLOCK, &path->addr);
	if (block) {
		blocked_by(&block->prefix, why, len);
		return true;
	}
	if (live_match(c, LIST_BLOCK, &path->addr, &net)) {
		blocked_by(&net, why, len);
		return true;
	}
	return rules_lock_out(c->rules, path, why, len);
}

int lockout_check_live(const char *verb, const struct pins *p, const struct list_item *extra,
		       size_t nextra, const struct policy_doc *rules, bool force)
{
	struct live_ctx c = { .p = p, .extra = extra, .nextra = nextra, .rules = rules };
	__u32 active;
	int err = pins_active(p, &active);

	if (err)
		return err;
	c.lists = SLUICE_ACTIVE_LISTS(active);
	return check_paths(verb, force, live_locks_out, &c);
}
