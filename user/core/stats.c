// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach.h"
#include "stats.h"

const char *const verdict_names[SLUICE_VERDICT_COUNT] = {
	[SLUICE_VERDICT_PASS] = "pass",	      [SLUICE_VERDICT_DROP] = "drop",
	[SLUICE_VERDICT_MONITOR] = "monitor", [SLUICE_VERDICT_BAN] = "ban",
	[SLUICE_VERDICT_COOKIE] = "cookie",
};

const char *const reason_names[SLUICE_REASON_COUNT] = {
	[SLUICE_REASON_NONE] = "none",		 [SLUICE_REASON_ALLOWLIST] = "allowlist",
	[SLUICE_REASON_BLOCKLIST] = "blocklist", [SLUICE_REASON_BAN] = "ban",
	[SLUICE_REASON_RATELIMIT] = "ratelimit", [SLUICE_REASON_ACL] = "acl",
	[SLUICE_REASON_MALFORMED] = "malformed", [SLUICE_REASON_NONIP] = "nonip",
	[SLUICE_REASON_ERROR] = "error",	 [SLUICE_REASON_GUARD] = "guard",
};

#define STATS_BATCH 4096

/* The baselines of every counter; zero where the map is missing (tests without one). */
static int baselines_read(const struct pins *p, struct sluice_counter *base)
{
	struct sluice_counter *values = NULL;
	__u32 *keys = NULL, out_batch = 0;
	bool first = true;
	int ret = 0;

	memset(base, 0, SLUICE_STATS_ENTRIES * sizeof(*base));
	if (p->fds[PIN_BASELINES] < 0)
		return 0;
	keys = calloc(STATS_BATCH, sizeof(*keys));
	values = calloc(STATS_BATCH, sizeof(*values));
	while (!ret && keys && values) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = STATS_BATCH;
		int err;

		err = bpf_map_lookup_batch(p->fds[PIN_BASELINES], first ? NULL : &out_batch,
					   &out_batch, keys, values, &count, &opts);
		first = false;
		if (err && errno != ENOENT) {
			ret = -errno;
			break;
		}
		for (__u32 i = 0; i < count; i++)
			if (keys[i] < SLUICE_STATS_ENTRIES)
				base[keys[i]] = values[i];
		if (err)
			break; /* ENOENT: that was the last batch */
	}
	if (!keys || !values)
		ret = -ENOMEM;
	free(keys);
	free(values);
	return ret;
}

int stats_read(const struct pins *p, struct stats_snapshot *snap)
{
	int ncpus = libbpf_num_possible_cpus();
	struct sluice_counter *values;
	__u32 *keys, out_batch, count;
	bool first = true;
	int ret = 0;

	if (ncpus < 0)
		return ncpus;
	memset(snap->c, 0, sizeof(snap->c));
	keys = calloc(STATS_BATCH, sizeof(*keys));
	values = calloc((size_t)STATS_BATCH * ncpus, sizeof(*values));
	if (!keys || !values) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		int err;

		count = STATS_BATCH;
		err = bpf_map_lookup_batch(p->fds[PIN_STATS], first ? NULL : &out_batch, &out_batch,
					   keys, values, &count, &opts);
		first = false;
		if (err && errno != ENOENT) {
			ret = -errno;
			break;
		}
		for (__u32 i = 0; i < count; i++) {
			if (keys[i] >= SLUICE_STATS_ENTRIES)
				continue;
			for (int cpu = 0; cpu < ncpus; cpu++) {
				snap->c[keys[i]].packets += values[(size_t)i * ncpus + cpu].packets;
				snap->c[keys[i]].bytes += values[(size_t)i * ncpus + cpu].bytes;
			}
		}
		if (err)
			break; /* ENOENT: that was the last batch */
	}
	if (!ret)
		ret = event_stats_read(p, &snap->events);
	if (!ret)
		ret = baselines_read(p, snap->base);
	snap->taken_ns = mono_now_ns();
out:
	free(keys);
	free(values);
	return ret;
}

int event_stats_read(const struct pins *p, struct sluice_event_stats *sum)
{
	int ncpus = libbpf_num_possible_cpus();
	struct sluice_event_stats *percpu;
	__u32 zero = 0;
	int ret = 0;

	if (ncpus < 0)
		return ncpus;
	memset(sum, 0, sizeof(*sum));
	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(p->fds[PIN_EVSTATS], &zero, percpu))
		ret = -errno;
	for (int cpu = 0; !ret && cpu < ncpus; cpu++) {
		sum->emitted += percpu[cpu].emitted;
		sum->suppressed += percpu[cpu].suppressed;
		sum->lost += percpu[cpu].lost;
	}
	free(percpu);
	return ret;
}

int stats_rebase(const struct pins *p, __u64 slots)
{
	struct stats_snapshot *snap;
	int ret;

	if (!slots || p->fds[PIN_BASELINES] < 0)
		return 0;
	snap = malloc(sizeof(*snap));
	if (!snap)
		return -ENOMEM;
	ret = stats_read(p, snap);
	for (__u32 iface = 0; iface < SLUICE_MAX_IFACES && !ret; iface++)
		for (__u32 rule = 0; rule < SLUICE_MAX_RULES && !ret; rule++) {
			if (!(slots & (1ULL << rule)))
				continue;
			for (__u32 v = 0; v < SLUICE_VERDICT_COUNT && !ret; v++)
				for (__u32 r = 0; r < SLUICE_REASON_COUNT && !ret; r++) {
					__u32 idx = sluice_stats_index(iface, rule, v, r);

					if (bpf_map_update_elem(p->fds[PIN_BASELINES], &idx,
								&snap->c[idx], BPF_ANY))
						ret = -errno;
				}
		}
	free(snap);
	return ret;
}

struct sluice_counter stats_sum(const struct stats_snapshot *snap, __u32 iface, int rule,
				int verdict, int reason)
{
	struct sluice_counter sum = {};

	for (__u32 r = 0; r < SLUICE_RULE_SLOTS; r++) {
		if (rule >= 0 && r != (__u32)rule)
			continue;
		for (__u32 v = 0; v < SLUICE_VERDICT_COUNT; v++) {
			if (verdict >= 0 && v != (__u32)verdict)
				continue;
			for (__u32 why = 0; why < SLUICE_REASON_COUNT; why++) {
				const struct sluice_counter *c;

				if (reason >= 0 && why != (__u32)reason)
					continue;
				__u32 idx = sluice_stats_index(iface, r, v, why);

				c = &snap->c[idx];
				sum.packets += c->packets;
				sum.bytes += c->bytes;
				if (rule < 0)
					continue;
				/* Counters grow, so a baseline is never above them. */
				sum.packets -= snap->base[idx].packets;
				sum.bytes -= snap->base[idx].bytes;
			}
		}
	}
	return sum;
}

static json_t *counter_json(struct sluice_counter now, const struct sluice_counter *before,
			    double seconds)
{
	json_t *o = json_pack("{s:I,s:I}", "packets", (json_int_t)now.packets, "bytes",
			      (json_int_t)now.bytes);

	if (before && seconds > 0) {
		json_object_set_new(o, "packets_per_sec",
				    json_real((now.packets - before->packets) / seconds));
		json_object_set_new(o, "bytes_per_sec",
				    json_real((now.bytes - before->bytes) / seconds));
	}
	return o;
}

/* One object of counters by verdict, for a rule slot or (rule < 0) the whole interface. */
static json_t *by_verdict(const struct stats_snapshot *snap, const struct stats_snapshot *prev,
			  __u32 iface, int rule, double seconds)
{
	json_t *o = json_object();

	for (int v = 0; v < SLUICE_VERDICT_COUNT; v++) {
		struct sluice_counter b, n = stats_sum(snap, iface, rule, v, -1);

		if (prev)
			b = stats_sum(prev, iface, rule, v, -1);
		json_object_set_new(o, verdict_names[v],
				    counter_json(n, prev ? &b : NULL, seconds));
	}
	return o;
}

static json_t *drops_by_reason(const struct stats_snapshot *snap, const struct stats_snapshot *prev,
			       __u32 iface, double seconds)
{
	json_t *o = json_object();

	for (int why = 0; why < SLUICE_REASON_COUNT; why++) {
		struct sluice_counter n = stats_sum(snap, iface, -1, SLUICE_VERDICT_DROP, why);
		struct sluice_counter ban = stats_sum(snap, iface, -1, SLUICE_VERDICT_BAN, why);
		struct sluice_counter b = {};

		n.packets += ban.packets;
		n.bytes += ban.bytes;
		if (prev) {
			struct sluice_counter pb =
				stats_sum(prev, iface, -1, SLUICE_VERDICT_BAN, why);

			b = stats_sum(prev, iface, -1, SLUICE_VERDICT_DROP, why);
			b.packets += pb.packets;
			b.bytes += pb.bytes;
		}
		if (why == SLUICE_REASON_NONE || why == SLUICE_REASON_ALLOWLIST ||
		    why == SLUICE_REASON_NONIP || why == SLUICE_REASON_ERROR)
			continue; /* these never drop */
		json_object_set_new(o, reason_names[why],
				    counter_json(n, prev ? &b : NULL, seconds));
	}
	return o;
}

static json_t *by_reason(const struct stats_snapshot *snap, __u32 iface)
{
	json_t *o = json_object();

	for (int why = 0; why < SLUICE_REASON_COUNT; why++)
		json_object_set_new(o, reason_names[why],
				    counter_json(stats_sum(snap, iface, -1, -1, why), NULL, 0));
	return o;
}

json_t *stats_to_json(const struct pins *p, const struct stats_snapshot *snap,
		      const struct stats_snapshot *prev)
{
	double seconds = prev ? (snap->taken_ns - prev->taken_ns) / 1e9 : 0;
	struct sluice_policy *pol = malloc(sizeof(*pol));
	json_t *root = json_object(), *ifaces = json_array();
	__u32 active = 0, slot;

	if (pol && pins_active(p, &active) == 0) {
		slot = SLUICE_ACTIVE_POLICY(active);
		if (bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol))
			pol->nrules = 0;
	} else if (pol) {
		pol->nrules = 0;
	}
	for (__u32 i = 0; i < SLUICE_MAX_IFACES; i++) {
		struct sluice_iface rec;
		json_t *iface, *rules = json_array();

		if (bpf_map_lookup_elem(p->fds[PIN_IFACES], &i, &rec) || !rec.ifindex) {
			json_decref(rules);
			continue;
		}
		iface = json_pack("{s:s,s:i,s:s}", "name", rec.name, "ifindex", rec.ifindex, "mode",
				  xdp_mode_name(rec.mode));
		json_object_set_new(iface, "verdicts", by_verdict(snap, prev, i, -1, seconds));
		json_object_set_new(iface, "drops", drops_by_reason(snap, prev, i, seconds));
		json_object_set_new(iface, "reasons", by_reason(snap, i));
		for (__u32 r = 0; pol && r < pol->nrules && r < SLUICE_MAX_RULES; r++) {
			json_t *rule = json_pack("{s:s}", "name", pol->rules[r].name);

			json_object_set_new(
				rule, "verdicts",
				by_verdict(snap, prev, i, pol->rules[r].stat_slot, seconds));
			json_array_append_new(rules, rule);
		}
		json_object_set_new(iface, "rules", rules);
		json_array_append_new(ifaces, iface);
	}
	free(pol);
	json_object_set_new(root, "interfaces", ifaces);
	json_object_set_new(root, "events",
			    json_pack("{s:I,s:I,s:I}", "emitted", (json_int_t)snap->events.emitted,
				      "suppressed", (json_int_t)snap->events.suppressed, "lost",
				      (json_int_t)snap->events.lost));
	if (prev)
		json_object_set_new(root, "interval_sec", json_real(seconds));
	return root;
}
