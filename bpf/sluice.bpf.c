// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The sluice XDP program: parse, allowlist, blocklist, bans, SYN guards, rules and
 * their limits, in that order. Every packet leaves through one exit that counts it.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sluice.h"
#include "maps.h"
#include "parse.h"
#include "addr.h"
#include "lists.h"
#include "limiter.h"
#include "stats.h"
#include "events.h"
#include "guard.h"

/* Counter slot of the interface this copy of the program is attached to; set at load. */
const volatile __u32 iface_slot = 0;

static __always_inline int rule_matches(const struct sluice_rule *r, const struct packet *p)
{
	if (r->family && r->family != p->family)
		return 0;
	if (r->proto && r->proto != p->proto_class)
		return 0;
	if ((r->flags & SLUICE_RULE_DPORT) &&
	    (!p->has_ports || p->dport < r->dport_lo || p->dport > r->dport_hi))
		return 0;
	if ((r->flags & SLUICE_RULE_SYN) &&
	    (p->l4proto != IPPROTO_TCP || !p->has_ports ||
	     (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN))
		return 0;
	if (r->flags & SLUICE_RULE_DST) {
		if ((p->dst[0] & r->dst_mask[0]) != r->dst_addr[0] ||
		    (p->dst[1] & r->dst_mask[1]) != r->dst_addr[1] ||
		    (p->dst[2] & r->dst_mask[2]) != r->dst_addr[2] ||
		    (p->dst[3] & r->dst_mask[3]) != r->dst_addr[3])
			return 0;
	}
	return 1;
}

/* A refusing limit's action: drop, pass as monitor, or drop and ban the limit's key. */
static __always_inline void refuse(const struct sluice_rule *r, const struct sluice_limit *lim,
				   const struct packet *p, __u64 now, struct decision *d)
{
	__u32 plen;

	d->reason = SLUICE_REASON_RATELIMIT;
	switch (r->action) {
	case SLUICE_ACTION_MONITOR:
		d->verdict = SLUICE_VERDICT_MONITOR;
		return;
	case SLUICE_ACTION_BAN:
		/* A global limit has no source prefix; ban the single address. */
		if (p->family == SLUICE_FAMILY_IPV4)
			plen = SLUICE_V4_MAPPED_PLEN +
			       (lim->key == SLUICE_KEY_GLOBAL ? 32 : lim->prefix4);
		else
			plen = lim->key == SLUICE_KEY_GLOBAL ? 128 : lim->prefix6;
		if (ban_insert(plen, p->src, now + r->ban_ns, r->stat_slot)) {
			d->verdict = SLUICE_VERDICT_DROP;
			return;
		}
		d->verdict = SLUICE_VERDICT_BAN;
		return;
	default:
		d->verdict = SLUICE_VERDICT_DROP;
	}
}

/*
 * A rule's limits are checked global ones first: a packet is admitted only when every
 * limit admits it, and a refused packet gives back what earlier limits took, so the
 * order does not change what is admitted; but a global cap that refuses most of a
 * flood then spares the per-source lookups, and the new-key tier, whose charges are
 * not given back, is charged only for packets the caps let through.
 */
static __always_inline __u32 limit_order(const struct sluice_rule *r, __u32 k)
{
	__u32 i, n = 0;

	for (i = 0; i < SLUICE_MAX_LIMITS; i++) {
		if (i >= r->nlimits)
			break;
		if (r->limits[i].key == SLUICE_KEY_GLOBAL && n++ == k)
			return i;
	}
	for (i = 0; i < SLUICE_MAX_LIMITS; i++) {
		if (i >= r->nlimits)
			break;
		if (r->limits[i].key != SLUICE_KEY_GLOBAL && n++ == k)
			return i;
	}
	return 0;
}

/* Global, like limit_admit, to keep verification linear in the number of limits. */
__noinline int apply_rule(const struct sluice_rule *r, const struct packet *p, __u64 *now,
			  struct decision *d)
{
	struct limit_charge charges[SLUICE_MAX_LIMITS] = {};
	__u32 order[SLUICE_MAX_LIMITS] = {};
	__u64 t = 0, now_units;
	int i, j, k, res;

	if (!r || !p || !now || !d)
		return 0;
	d->rule = r->stat_slot;
	if (r->nlimits == 0) {
		d->reason = r->action == SLUICE_ACTION_PASS ? SLUICE_REASON_NONE :
							      SLUICE_REASON_ACL;
		d->verdict = r->action == SLUICE_ACTION_PASS	? SLUICE_VERDICT_PASS :
			     r->action == SLUICE_ACTION_MONITOR ? SLUICE_VERDICT_MONITOR :
								  SLUICE_VERDICT_DROP;
		return 0;
	}

	/* One clock for the whole rule; a limit always runs on the same one. */
	for (i = 0; i < SLUICE_MAX_LIMITS; i++) {
		if (i >= r->nlimits)
			break;
		if (r->limits[i].tolerance < SLUICE_COARSE_CLOCK_MIN_TOLERANCE) {
			t = bpf_ktime_get_ns();
			break;
		}
	}
	/* The packet's coarse time, read once and shared with the lists and events. */
	if (!t)
		t = clock_now(now);
	now_units = t << SLUICE_TIME_SHIFT;
	for (k = 0; k < SLUICE_MAX_LIMITS; k++) {
		if (k >= r->nlimits)
			break;
		i = limit_order(r, k) & (SLUICE_MAX_LIMITS - 1);
		order[k] = i;
		res = limit_admit(&r->limits[i], p, now_units, &charges[i]);
		if (res == LIMIT_ADMIT)
			continue;
		for (j = 0; j < SLUICE_MAX_LIMITS; j++) {
			if (j >= k)
				break;
			i = order[j] & (SLUICE_MAX_LIMITS - 1);
			limit_refund(&r->limits[i], p, &charges[i]);
		}
		if (res == LIMIT_ERROR) {
			d->verdict = SLUICE_VERDICT_PASS;
			d->reason = SLUICE_REASON_ERROR;
			return 0;
		}
		i = order[k] & (SLUICE_MAX_LIMITS - 1);
		d->limit = i;
		refuse(r, &r->limits[i], p, t, d);
		return 0;
	}
	d->verdict = SLUICE_VERDICT_PASS;
	d->reason = SLUICE_REASON_NONE;
	return 0;
}

/*
 * Index of the first rule that matches, or SLUICE_MAX_RULES. The policy's rule index
 * names the rules that may match the packet's class and port; only those are checked,
 * in order.
 */
__noinline __u32 find_rule(const struct sluice_policy *pol, const struct packet *p)
{
	__u64 candidates;
	__u32 i;

	if (!pol || !p)
		return SLUICE_MAX_RULES;
	candidates = pol->rules_by_class[p->family == SLUICE_FAMILY_IPV6]
					[sluice_rule_class(p->proto_class) & 3];
	candidates &= p->has_ports ? pol->rules_by_port[p->dport & 0xff] : pol->rules_portless;
	if (p->l4proto != IPPROTO_TCP || !p->has_ports ||
	    (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) != TCP_FLAG_SYN)
		candidates &= ~pol->rules_syn_only;
	for (i = 0; i < SLUICE_MAX_RULES; i++) {
		if (!(candidates >> i) || i >= pol->nrules)
			break;
		if (((candidates >> i) & 1) && rule_matches(&pol->rules[i], p))
			return i;
	}
	return SLUICE_MAX_RULES;
}

/*
 * The L4 header of a packet the lists or bans dropped before it was read: parsed only
 * for the event of such a drop (below the event ceiling), so that the event names its
 * protocol and ports, and a flood of them never pays for it.
 */
static __noinline int parse_l4_for_event(struct cursor *c, const struct l3_span *l3,
					 struct packet *p)
{
	if (!c || !l3 || !p)
		return PARSE_MALFORMED;
	return parse_l4(c, l3, p);
}

/* Decides P's verdict; an early drop (lists, bans) leaves *L4_PENDING set. */
static __always_inline void decide(struct xdp_md *ctx, struct cursor *cur, struct l3_span *l3p,
				   struct packet *p, struct decision *d,
				   const struct sluice_policy **polp, __u64 *now, int *l4_pending)
{
	struct cursor c = *cur;
	struct l3_span l3 = {};
	const struct sluice_policy *pol;
	struct sluice_state *state;
	__u32 zero = 0, active, policy_slot, i;
	__u16 ethertype;
	int res;

	res = parse_eth(&c, &ethertype);
	if (res == PARSE_OK)
		res = parse_ip_header(&c, ethertype, p, &l3);
	if (res == PARSE_NONIP) {
		d->reason = SLUICE_REASON_NONIP;
		return;
	}

	state = bpf_map_lookup_elem(&sluice_state, &zero);
	if (!state)
		goto error;
	active = state->active;
	policy_slot = SLUICE_ACTIVE_POLICY(active);
	pol = bpf_map_lookup_elem(&sluice_policy, &policy_slot);
	if (!pol)
		goto error;
	*polp = pol;

	if (res != PARSE_OK)
		goto malformed;

	if ((pol->flags & SLUICE_POLICY_ALLOW) &&
	    source_listed(0, SLUICE_ACTIVE_LISTS(active), p, now)) {
		d->reason = SLUICE_REASON_ALLOWLIST;
		return;
	}
	if ((pol->flags & SLUICE_POLICY_BLOCK) &&
	    source_listed(1, SLUICE_ACTIVE_LISTS(active), p, now)) {
		d->verdict = SLUICE_VERDICT_DROP;
		d->reason = SLUICE_REASON_BLOCKLIST;
		goto early_drop;
	}
	if ((pol->nban_plens4 || pol->nban_plens6) && source_banned(pol, p, now)) {
		d->verdict = SLUICE_VERDICT_DROP;
		d->reason = SLUICE_REASON_BAN;
		goto early_drop;
	}

	if (parse_l4(&c, &l3, p) != PARSE_OK)
		goto malformed;

	/*
	 * After the lists, so allowlisted sources need no cookie and blocked ones get no
	 * SYN-ACK; before the rules, so that while a guard is engaged `syn` limits count
	 * the handshakes a source completed with a valid cookie, as if they were its SYNs,
	 * and a spoofed source never gets limiter state.
	 */
	if (pol->nguards && p->l4proto == IPPROTO_TCP && p->has_ports) {
		__u32 l3_off = l3.start - (void *)(long)ctx->data;
		__u32 l4_off = c.pos - (void *)(long)ctx->data;

		res = guard_run(ctx, pol, p, (l3_off & 0xffff) | l4_off << 16, d);
		if (res == GUARD_DONE)
			return;
		if (res == GUARD_PROVEN)
			p->tcp_flags = TCP_FLAG_SYN;
	}

	i = find_rule(pol, p);
	if (i < SLUICE_MAX_RULES)
		apply_rule(&pol->rules[i], p, now, d);
	return;

early_drop:
	*cur = c;
	*l3p = l3;
	*l4_pending = 1;
	return;
malformed:
	d->reason = SLUICE_REASON_MALFORMED;
	if (pol->flags & SLUICE_POLICY_MALFORMED_DROP)
		d->verdict = SLUICE_VERDICT_DROP;
	return;
error:
	d->reason = SLUICE_REASON_ERROR;
}

SEC("xdp")
int sluice_xdp(struct xdp_md *ctx)
{
	const struct sluice_policy *pol = NULL;
	struct packet p = {};
	struct decision d = {
		.verdict = SLUICE_VERDICT_PASS,
		.reason = SLUICE_REASON_NONE,
		.rule = SLUICE_NO_RULE,
		.limit = SLUICE_EVENT_NO_LIMIT,
	};
	struct cursor c = { .pos = (void *)(long)ctx->data, .end = (void *)(long)ctx->data_end };
	struct l3_span l3 = {};
	int l4_pending = 0;
	__u64 now = 0;

	p.len = ctx->data_end - ctx->data;
	decide(ctx, &c, &l3, &p, &d, &pol, &now, &l4_pending);
	stats_count(iface_slot, d.rule, d.verdict, d.reason, p.len);
	if (d.verdict == SLUICE_VERDICT_COOKIE)
		return XDP_TX;
	if (d.verdict != SLUICE_VERDICT_PASS && pol && !event_suppress(pol, &now)) {
		if (l4_pending)
			parse_l4_for_event(&c, &l3, &p);
		event_emit(ctx, pol, &p, &d, &now);
	}
	return d.verdict == SLUICE_VERDICT_DROP || d.verdict == SLUICE_VERDICT_BAN ? XDP_DROP :
										     XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
