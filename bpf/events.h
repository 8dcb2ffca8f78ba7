/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Sampled drop events: a key's first drop in a period, then 1 in N, under a per-CPU ceiling. */
#ifndef SLUICE_EVENTS_H
#define SLUICE_EVENTS_H

#include "addr.h"
#include "maps.h"
#include "parse.h"
#include "stats.h"

#define EVENT_WINDOW_NS 1000000000ULL

/*
 * Every drop or monitor verdict ends up counted once in sluice_evstats: emitted,
 * suppressed (sampled out or over the ceiling) or lost (ring full). Under a flood the
 * ceiling is reached early in each window, and from then on a drop costs one per-CPU
 * array access, inline (event_suppress); event_emit, with the per-key lookup, runs
 * only below the ceiling.
 */
static __always_inline int event_suppress(const struct sluice_policy *pol, __u64 *now)
{
	__u32 zero = 0;
	struct sluice_event_stats *st = bpf_map_lookup_elem(&sluice_evstats, &zero);
	__u64 t;

	if (!st)
		return 1;
	if (!pol->event_ceiling) {
		st->suppressed++;
		return 1;
	}
	t = clock_now(now);
	if (t - st->window_start_ns >= EVENT_WINDOW_NS) {
		st->window_start_ns = t;
		st->window_events = 0;
	}
	if (st->window_events >= pol->event_ceiling) {
		st->suppressed++;
		return 1;
	}
	return 0;
}

/*
 * A drop below the ceiling (event_suppress said no): sampled, then written to the ring,
 * with the frame's first SLUICE_EVENT_CAP bytes. Those are copied only into a reserved
 * record, so only events pay for them, never the drops sampling or the ceiling leave out.
 */
__noinline int event_emit(struct xdp_md *ctx, const struct sluice_policy *pol,
			  const struct packet *p, const struct decision *d, __u64 *now)
{
	struct sluice_event_seen_key key = {};
	struct sluice_event_stats *st;
	struct sluice_event *e;
	__u32 zero = 0, sampled = 1, cap;
	__u64 t, *seen;

	if (!ctx || !pol || !p || !d || !now)
		return 0;
	st = bpf_map_lookup_elem(&sluice_evstats, &zero);
	if (!st)
		return 0;
	t = clock_now(now);

	key.reason = d->reason;
	key.rule = d->rule;
	__builtin_memcpy(key.src, p->src, sizeof(key.src));
	seen = bpf_map_lookup_elem(&sluice_evseen, &key);
	if (seen && t - *seen < pol->event_period_ns) {
		if (pol->event_sample > 1 && ++st->sample_tick % pol->event_sample) {
			st->suppressed++;
			return 0;
		}
		sampled = pol->event_sample ? pol->event_sample : 1;
	} else if (seen) {
		*seen = t;
	} else {
		bpf_map_update_elem(&sluice_evseen, &key, &t, BPF_ANY);
	}

	e = bpf_ringbuf_reserve(&sluice_events, sizeof(*e), 0);
	if (!e) {
		/* A full ring (nobody reading) counts against the ceiling too, so a flood then
		 * takes the cheap path instead of a key lookup and a failed reserve per drop. */
		st->lost++;
		st->window_events++;
		return 0;
	}
	e->time_ns = t;
	__builtin_memcpy(e->src, p->src, sizeof(e->src));
	__builtin_memcpy(e->dst, p->dst, sizeof(e->dst));
	e->ifindex = ctx->ingress_ifindex;
	e->sport = p->has_ports ? p->sport : 0;
	e->dport = p->has_ports ? p->dport : 0;
	e->family = p->family;
	e->l4proto = p->l4proto;
	e->reason = d->reason;
	e->verdict = d->verdict;
	e->rule = d->rule;
	e->limit = d->limit;
	e->len = p->len > 0xffff ? 0xffff : p->len;
	e->sampled = sampled;
	/*
	 * bpf_xdp_load_bytes, not a loop over the packet: one bounds check for any length,
	 * and a frame shorter than the cap is copied whole (the helper refuses to read past
	 * its end, so the length asked for is never more than the frame's).
	 */
	cap = p->len < SLUICE_EVENT_CAP ? p->len : SLUICE_EVENT_CAP;
	if (cap && bpf_xdp_load_bytes(ctx, 0, e->head, cap))
		cap = 0;
	e->cap_len = cap;
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_ringbuf_submit(e, 0);
	st->emitted++;
	st->window_events++;
	return 0;
}

#endif /* SLUICE_EVENTS_H */
