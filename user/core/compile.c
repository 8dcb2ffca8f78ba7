// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A parsed rule turned into the data path's form (struct sluice_rule of sluice.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include "compile.h"
#include "text.h"

int compile_limit(const struct limit_spec *ls, struct sluice_limit *out, struct parse_error *err)
{
	char rate[32], burst[32];
	unsigned __int128 t;

	memset(out, 0, sizeof(*out));
	out->key = ls->key;
	out->prefix4 = ls->key == SLUICE_KEY_GLOBAL ? 32 : ls->prefix4;
	out->prefix6 = ls->key == SLUICE_KEY_GLOBAL ? 128 : ls->prefix6;
	if (ls->dport)
		out->flags |= SLUICE_LIMIT_DPORT;
	format_rate(&ls->rate, rate, sizeof(rate));
	format_burst(limit_burst(ls), ls->rate.kind, burst, sizeof(burst));
	if (!ls->rate.amount || !ls->rate.period_s)
		return fail(err, "rate: must be at least 1, got %s", rate);
	if (!limit_burst(ls))
		return fail(err, "burst: must be at least 1, got %s", burst);
	if (ls->rate.kind == RATE_PACKETS) {
		out->interval = (unsigned __int128)ls->rate.period_s * SLUICE_UNITS_PER_SEC /
				ls->rate.amount;
		if (!out->interval)
			return fail(err, "rate: %s is too high (at most %llu per second)", rate,
				    SLUICE_UNITS_PER_SEC);
		t = (unsigned __int128)limit_burst(ls) * out->interval;
	} else {
		out->flags |= SLUICE_LIMIT_BYTES;
		out->byte_rate = ls->rate.amount;
		t = (unsigned __int128)limit_burst(ls) * SLUICE_UNITS_PER_SEC / ls->rate.amount;
		if (!t)
			return fail(err, "burst: %s is too small for rate %s", burst, rate);
	}
	if (t > SLUICE_MAX_TOLERANCE)
		return fail(err, "burst: %s is too large for rate %s (at most a year of the rate)",
			    burst, rate);
	out->tolerance = t;
	return 0;
}

int compile_rule(const struct rule_spec *spec, struct sluice_rule *out, struct parse_error *err)
{
	unsigned int i;
	int ret;

	memset(out, 0, sizeof(*out));
	if (spec->nlimits > SLUICE_MAX_LIMITS)
		return fail(err, "rule %s: %u limits, at most %d", QB(spec->name), spec->nlimits,
			    SLUICE_MAX_LIMITS);
	out->family = spec->family;
	out->proto = spec->proto;
	out->action = spec->action;
	out->nlimits = spec->nlimits;
	if (spec->action == SLUICE_ACTION_BAN)
		out->ban_ns = spec->ban_ns;
	if (spec->syn)
		out->flags |= SLUICE_RULE_SYN;
	if (spec->has_dport) {
		out->flags |= SLUICE_RULE_DPORT;
		out->dport_lo = spec->dport_lo;
		out->dport_hi = spec->dport_hi;
	}
	if (spec->has_dst) {
		out->flags |= SLUICE_RULE_DST;
		plen128_mask(prefix_plen128(&spec->dst), out->dst_mask);
		for (i = 0; i < 4; i++)
			out->dst_addr[i] = spec->dst.addr[i] & out->dst_mask[i];
	}
	memcpy(out->name, spec->name, strnlen(spec->name, SLUICE_NAME_LEN - 1));
	for (i = 0; i < spec->nlimits; i++) {
		ret = compile_limit(&spec->limits[i], &out->limits[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

int compile_guard(const struct guard_spec *spec, struct sluice_guard *out, struct parse_error *err)
{
	unsigned int i;

	memset(out, 0, sizeof(*out));
	out->dport = spec->dport;
	if (spec->always) {
		out->flags |= SLUICE_GUARD_ALWAYS;
	} else {
		/* The data path measures per second: 30/m engages at 1/s. */
		out->above = spec->above.amount / spec->above.period_s +
			     (spec->above.amount % spec->above.period_s != 0);
		if (!out->above)
			return fail(err, "guard: above: must be at least 1/s");
	}
	if (spec->has_dst) {
		out->flags |= SLUICE_GUARD_DST;
		out->family = spec->dst.family;
		plen128_mask(prefix_plen128(&spec->dst), out->dst_mask);
		for (i = 0; i < 4; i++)
			out->dst_addr[i] = spec->dst.addr[i] & out->dst_mask[i];
	}
	return 0;
}
