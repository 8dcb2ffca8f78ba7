// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The Prometheus text format and the sluice document in it; serving it is http.c's. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include "metrics.h"

void mbuf_init(struct mbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void mbuf_free(struct mbuf *b)
{
	free(b->data);
	mbuf_init(b);
}

void mbuf_reset(struct mbuf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data)
		b->data[0] = '\0';
}

/* Room for N more bytes and the NUL; false (and failed set) when memory ran out. */
static bool mbuf_reserve(struct mbuf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *data;

	if (b->failed)
		return false;
	if (b->len + n < b->cap)
		return true;
	while (cap <= b->len + n)
		cap *= 2;
	data = realloc(b->data, cap);
	if (!data) {
		b->failed = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

void mbuf_append(struct mbuf *b, const char *s, size_t n)
{
	if (!mbuf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if (!mbuf_reserve(b, n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, n + 1, fmt, ap);
	va_end(ap);
	b->len += n;
}

/* Appends S with backslash and newline escaped, and double quotes too when QUOTES. */
static void escape(struct mbuf *b, const char *s, bool quotes)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (*s == '"' && quotes)
			rep = "\\\"";
		else
			continue;
		mbuf_append(b, run, s - run);
		mbuf_append(b, rep, 2);
		run = s + 1;
	}
	mbuf_append(b, run, s - run);
}

void metrics_escape_label(struct mbuf *b, const char *value)
{
	escape(b, value, true);
}

void metrics_escape_help(struct mbuf *b, const char *help)
{
	escape(b, help, false);
}

/* [a-zA-Z_], and digits too with DIGITS, and ':' too with COLON. */
static bool name_char(char c, bool digits, bool colon)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (digits && c >= '0' && c <= '9') || (colon && c == ':');
}

bool metrics_valid_name(const char *name, bool label)
{
	if (!name || !name_char(name[0], false, !label))
		return false;
	/* Label names starting with __ are reserved for Prometheus itself. */
	if (label && name[0] == '_' && name[1] == '_')
		return false;
	for (const char *p = name + 1; *p; p++)
		if (!name_char(*p, true, !label))
			return false;
	return true;
}

void metrics_format_double(char out[32], double v)
{
	if (isnan(v)) {
		strcpy(out, "NaN");
		return;
	}
	if (isinf(v)) {
		strcpy(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* The fewest digits that read back as the same double, as Go's FormatFloat(v, 'g', -1). */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

static const char *const type_names[] = {
	[METRIC_COUNTER] = "counter",
	[METRIC_GAUGE] = "gauge",
};

void metrics_family(struct mbuf *b, const char *name, const char *help, enum metric_type type)
{
	if (!metrics_valid_name(name, false)) {
		b->failed = true;
		return;
	}
	mbuf_printf(b, "# HELP %s ", name);
	metrics_escape_help(b, help);
	mbuf_printf(b, "\n# TYPE %s %s\n", name, type_names[type]);
}

/* name{labels} and the space before the value. */
static void sample_start(struct mbuf *b, const char *name, const char *const names[],
			 const char *const values[], size_t n)
{
	mbuf_append(b, name, strlen(name));
	for (size_t i = 0; i < n; i++) {
		if (!metrics_valid_name(names[i], true)) {
			b->failed = true;
			return;
		}
		mbuf_append(b, i ? "," : "{", 1);
		mbuf_append(b, names[i], strlen(names[i]));
		mbuf_append(b, "=\"", 2);
		metrics_escape_label(b, values[i]);
		mbuf_append(b, "\"", 1);
	}
	mbuf_append(b, n ? "} " : " ", n ? 2 : 1);
}

void metrics_sample(struct mbuf *b, const char *name, const char *const names[],
		    const char *const values[], size_t n, double value)
{
	char num[32];

	metrics_format_double(num, value);
	sample_start(b, name, names, values, n);
	mbuf_printf(b, "%s\n", num);
}

void metrics_sample_u64(struct mbuf *b, const char *name, const char *const names[],
			const char *const values[], size_t n, __u64 value)
{
	sample_start(b, name, names, values, n);
	mbuf_printf(b, "%llu\n", (unsigned long long)value);
}

/* ---- the sluice document ---- */

static const char *const traffic_labels[] = { "interface", "rule", "verdict" };
static const char *const reason_labels[] = { "interface", "reason" };

/* A family of one sample without labels. */
static void single(struct mbuf *b, const char *name, const char *help, enum metric_type type,
		   __u64 value)
{
	metrics_family(b, name, help, type);
	metrics_sample_u64(b, name, NULL, NULL, 0, value);
}

/* A gauge family with one sample per list: allow and block. */
static void per_list(struct mbuf *b, const char *name, const char *help, __u64 allow, __u64 block)
{
	static const char *const list_label[] = { "list" };
	static const char *const allow_v[] = { "allow" }, *const block_v[] = { "block" };

	metrics_family(b, name, help, METRIC_GAUGE);
	metrics_sample_u64(b, name, list_label, allow_v, 1, allow);
	metrics_sample_u64(b, name, list_label, block_v, 1, block);
}

/* The reasons that come with a drop or ban verdict (as in `sluice stats` drops). */
static bool reason_drops(int why)
{
	return why != SLUICE_REASON_NONE && why != SLUICE_REASON_ALLOWLIST &&
	       why != SLUICE_REASON_NONIP && why != SLUICE_REASON_ERROR;
}

/* sluice_packets_total or sluice_bytes_total by interface, rule and verdict. */
static void render_traffic(struct mbuf *b, const struct metrics_input *in, bool bytes)
{
	const char *name = bytes ? "sluice_bytes_total" : "sluice_packets_total";

	metrics_family(b, name,
		       bytes ? "Bytes of the frames sluice saw, by interface, deciding rule "
			       "(\"none\" when no rule decided) and verdict." :
			       "Packets sluice saw, by interface, deciding rule (\"none\" when no "
			       "rule decided) and verdict.",
		       METRIC_COUNTER);
	/* The grammar reserves the rule name "none" for this label value. */
	for (size_t i = 0; i < in->nifaces; i++) {
		for (size_t r = 0; r <= in->nrules; r++) {
			bool undecided = r == in->nrules;
			int slot = undecided ? SLUICE_NO_RULE : (int)in->rules[r].slot;

			for (int v = 0; v < SLUICE_VERDICT_COUNT; v++) {
				struct sluice_counter c =
					stats_sum(in->snap, in->ifaces[i].slot, slot, v, -1);
				const char *values[] = { in->ifaces[i].name,
							 undecided ? METRICS_NO_RULE :
								     in->rules[r].name,
							 verdict_names[v] };

				metrics_sample_u64(b, name, traffic_labels, values, 3,
						   bytes ? c.bytes : c.packets);
			}
		}
	}
}

/* Drops (drop and ban verdicts) by reason, and all packets by reason. */
static void render_reasons(struct mbuf *b, const struct metrics_input *in)
{
	metrics_family(b, "sluice_drops_total",
		       "Packets dropped (verdicts drop and ban) by interface and reason.",
		       METRIC_COUNTER);
	for (size_t i = 0; i < in->nifaces; i++) {
		for (int why = 0; why < SLUICE_REASON_COUNT; why++) {
			__u32 slot = in->ifaces[i].slot;
			const char *values[] = { in->ifaces[i].name, reason_names[why] };

			if (!reason_drops(why))
				continue;
			metrics_sample_u64(
				b, "sluice_drops_total", reason_labels, values, 2,
				stats_sum(in->snap, slot, -1, SLUICE_VERDICT_DROP, why).packets +
					stats_sum(in->snap, slot, -1, SLUICE_VERDICT_BAN, why)
						.packets);
		}
	}
	metrics_family(b, "sluice_packets_by_reason_total",
		       "Packets by interface and the reason for their verdict, every verdict.",
		       METRIC_COUNTER);
	for (size_t i = 0; i < in->nifaces; i++) {
		for (int why = 0; why < SLUICE_REASON_COUNT; why++) {
			const char *values[] = { in->ifaces[i].name, reason_names[why] };

			metrics_sample_u64(
				b, "sluice_packets_by_reason_total", reason_labels, values, 2,
				stats_sum(in->snap, in->ifaces[i].slot, -1, -1, why).packets);
		}
	}
}

static const char *const guard_labels[] = { "port", "dst" };

/* One family of the SYN guards' counters: the field at OFFSET of struct sluice_guard_stats. */
static void guard_family(struct mbuf *b, const struct metrics_input *in, const char *name,
			 const char *help, size_t offset)
{
	char port[8];

	metrics_family(b, name, help, METRIC_COUNTER);
	for (size_t i = 0; i < in->nguards; i++) {
		const char *values[] = { port, in->guards[i].dst };
		__u64 v;

		memcpy(&v, (const char *)&in->guards[i].counts + offset, sizeof(v));
		snprintf(port, sizeof(port), "%u", in->guards[i].port);
		metrics_sample_u64(b, name, guard_labels, values, 2, v);
	}
}

static void render_guards(struct mbuf *b, const struct metrics_input *in)
{
	char port[8];

	metrics_family(b, "sluice_guard_engaged",
		       "1 while a SYN guard answers SYNs to its port with cookies.", METRIC_GAUGE);
	for (size_t i = 0; i < in->nguards; i++) {
		const char *values[] = { port, in->guards[i].dst };

		snprintf(port, sizeof(port), "%u", in->guards[i].port);
		metrics_sample_u64(b, "sluice_guard_engaged", guard_labels, values, 2,
				   in->guards[i].engaged);
	}
	metrics_family(b, "sluice_guard_engagements_total",
		       "Times a SYN guard engaged on the SYN rate to its port.", METRIC_COUNTER);
	for (size_t i = 0; i < in->nguards; i++) {
		const char *values[] = { port, in->guards[i].dst };

		snprintf(port, sizeof(port), "%u", in->guards[i].port);
		metrics_sample_u64(b, "sluice_guard_engagements_total", guard_labels, values, 2,
				   in->guards[i].engagements);
	}
	guard_family(b, in, "sluice_guard_syns_answered_total",
		     "SYNs a guard answered with a SYN cookie (XDP_TX).",
		     offsetof(struct sluice_guard_stats, answered));
	guard_family(b, in, "sluice_guard_cookies_validated_total",
		     "ACKs with a valid cookie a guard passed to the stack.",
		     offsetof(struct sluice_guard_stats, validated));
	guard_family(b, in, "sluice_guard_cookies_refused_total",
		     "ACKs with an invalid cookie a guard dropped.",
		     offsetof(struct sluice_guard_stats, refused));
	guard_family(b, in, "sluice_guard_syns_passed_total",
		     "SYNs a guard passed to the stack: resting, or no cookie to give.",
		     offsetof(struct sluice_guard_stats, passed));
}

void metrics_render(struct mbuf *b, const struct metrics_input *in)
{
	static const char *const version_label[] = { "version" };
	static const char *const info_labels[] = { "interface", "mode" };
	static const char *const digest_label[] = { "digest" };
	char digest[17];

	metrics_family(b, "sluice_build_info", "The sluice exporter's version; always 1.",
		       METRIC_GAUGE);
	metrics_sample(b, "sluice_build_info", version_label, &in->version, 1, 1);
	single(b, "sluice_up",
	       "1 when the pinned sluice maps were read, 0 when nothing is attached or they "
	       "could not be opened.",
	       METRIC_GAUGE, in->up);
	if (!in->up)
		return;

	metrics_family(b, "sluice_interface_info",
		       "An interface sluice is attached to, with its XDP mode; always 1.",
		       METRIC_GAUGE);
	for (size_t i = 0; i < in->nifaces; i++) {
		const char *values[] = { in->ifaces[i].name, in->ifaces[i].mode };

		metrics_sample(b, "sluice_interface_info", info_labels, values, 2, 1);
	}
	render_traffic(b, in, false);
	render_traffic(b, in, true);
	render_reasons(b, in);

	single(b, "sluice_policy_reloads_total",
	       "Policy switches (restores, rule changes, imports) since the maps were created.",
	       METRIC_COUNTER, in->generation);
	single(b, "sluice_policy_rules", "Rules in the live policy.", METRIC_GAUGE, in->nrules);
	snprintf(digest, sizeof(digest), "%016llx", (unsigned long long)in->digest);
	metrics_family(b, "sluice_policy_info", "Digest of the live policy's text; always 1.",
		       METRIC_GAUGE);
	metrics_sample(b, "sluice_policy_info", digest_label, (const char *const[]){ digest }, 1,
		       1);

	per_list(b, "sluice_list_entries",
		 "Entries in the live allowlist and blocklist, expired ones until collected; "
		 "counted in the background every second (less often for huge lists).",
		 in->allow_entries, in->block_entries);
	per_list(b, "sluice_list_capacity", "Entries the allowlist and blocklist can hold.",
		 in->allow_capacity, in->block_capacity);
	single(b, "sluice_bans",
	       "Dynamic bans, expired ones until collected; counted in the background.",
	       METRIC_GAUGE, in->bans);
	single(b, "sluice_bans_capacity", "Dynamic bans the ban map can hold.", METRIC_GAUGE,
	       in->bans_capacity);
	metrics_family(
		b, "sluice_ban_filter_fill_ratio",
		"Share of the ban filter's bits set: the filter spares the lookup of a source "
		"with no ban, and is rebuilt from the live bans when stale bits pile up.",
		METRIC_GAUGE);
	metrics_sample(b, "sluice_ban_filter_fill_ratio", NULL, NULL, 0,
		       in->ban_filter_bits ? (double)in->ban_filter_bits_set / in->ban_filter_bits :
					     0);
	single(b, "sluice_limiter_keys",
	       "Rate limiter keys with state (a bucket not full, or in the LRU map); counted in "
	       "the background.",
	       METRIC_GAUGE, in->limiter_keys);
	single(b, "sluice_limiter_keys_capacity",
	       "Rate limiter keys the slots and the LRU map hold before the LRU map evicts.",
	       METRIC_GAUGE, in->limiter_capacity);
	single(b, "sluice_limiter_probation_keys",
	       "New rate limiter keys on probation (one packet seen, bucket not full); counted "
	       "in the background.",
	       METRIC_GAUGE, in->probation_keys);
	single(b, "sluice_limiter_probation_capacity",
	       "Keys the probation table holds before new keys displace each other.", METRIC_GAUGE,
	       (__u64)SLUICE_PROBATION_LINES * SLUICE_PROBATION_WAYS);
	single(b, "sluice_limiter_new_keys_admitted_total",
	       "First packets of keys without limiter state, admitted onto probation.",
	       METRIC_COUNTER, in->tier.admitted);
	single(b, "sluice_limiter_new_keys_refused_total",
	       "First packets of keys without limiter state, refused (cost above the burst).",
	       METRIC_COUNTER, in->tier.refused);
	single(b, "sluice_limiter_new_keys_promoted_total",
	       "Keys back on probation and given exact limiter state.", METRIC_COUNTER,
	       in->tier.promoted);
	single(b, "sluice_limiter_new_keys_displaced_total",
	       "Keys on probation displaced by newer ones before their bucket was full.",
	       METRIC_COUNTER, in->tier.displaced);

	render_guards(b, in);

	single(b, "sluice_events_emitted_total", "Drop events written to the event ring.",
	       METRIC_COUNTER, in->snap->events.emitted);
	single(b, "sluice_events_suppressed_total",
	       "Drop events left out by sampling or the per-CPU ceiling.", METRIC_COUNTER,
	       in->snap->events.suppressed);
	single(b, "sluice_events_lost_total", "Drop events lost because the event ring was full.",
	       METRIC_COUNTER, in->snap->events.lost);
}
