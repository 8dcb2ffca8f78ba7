// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* limits */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "limits_report.h"
#include "log.h"
#include "output.h"

static unsigned long long limits_top;

static int limits_check(struct verb *v)
{
	limits_top = 10;
	if (v->opt[0] && !parse_count(v->opt[0], 10000, &limits_top)) {
		pr_warn("limits: --top: expected a count from 1 to 10000, got \"%s\"", v->opt[0]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static const char *unit_of(const struct limits_entry *e)
{
	return e->lim.flags & SLUICE_LIMIT_BYTES ? "bytes" : "packets";
}

static json_t *entry_json(const struct limits_entry *e)
{
	json_t *bins = json_object(), *top = json_array();
	char source[64];

	for (int b = 0; b < LIMITS_BINS; b++)
		json_object_set_new(bins, limits_bin_names[b], json_integer(e->bins[b]));
	for (unsigned int i = 0; i < e->ntop; i++) {
		const struct limits_key *k = &e->top[i];
		json_t *o;

		limits_key_format(e, &k->key, source, sizeof(source));
		o = json_pack("{s:s,s:f,s:I,s:b,s:s}", "source", source, "used", round3(k->used),
			      "tokens", (json_int_t)k->tokens, "over", k->tokens == 0, "in",
			      k->in_lru ? "lru" : "slot");
		if (e->lim.flags & SLUICE_LIMIT_DPORT)
			json_object_set_new(o, "dport", json_integer(k->key.dport));
		json_array_append_new(top, o);
	}
	return json_pack("{s:s,s:i,s:s,s:s,s:s,s:I,s:I,s:I,s:o,s:o}", "rule", e->rule, "limit",
			 e->limit, "spec", e->spec_text, "action", action_name(e->action), "unit",
			 unit_of(e), "keys", (json_int_t)e->keys, "in_slots",
			 (json_int_t)e->in_slots, "in_lru", (json_int_t)e->in_lru, "histogram",
			 bins, "top", top);
}

static void entry_print(const struct limits_entry *e)
{
	char source[64];

	printf("rule %s limit %u: %s, action %s\n", e->rule, e->limit, e->spec_text,
	       action_name(e->action));
	printf("  %ld %s with state (%ld in slots, %ld in the LRU map)\n", e->keys,
	       plural(e->keys, "key", "keys"), e->in_slots, e->in_lru);
	if (!e->keys)
		return;
	printf("  used ");
	for (int b = 0; b < LIMITS_BINS; b++)
		printf(" %8s", limits_bin_names[b]);
	printf("\n  keys ");
	for (int b = 0; b < LIMITS_BINS; b++)
		printf(" %8ld", e->bins[b]);
	printf("\n  %-40s %6s %14s\n", "fullest", "used", unit_of(e));
	for (unsigned int i = 0; i < e->ntop; i++) {
		const struct limits_key *k = &e->top[i];
		char who[80];

		limits_key_format(e, &k->key, source, sizeof(source));
		if (e->lim.flags & SLUICE_LIMIT_DPORT)
			snprintf(who, sizeof(who), "%s dport %u", source, k->key.dport);
		else
			snprintf(who, sizeof(who), "%s", source);
		printf("    %-38s %5.1f%% %14llu%s%s\n", who, 100 * k->used,
		       (unsigned long long)k->tokens, k->tokens ? "" : "  over",
		       k->in_lru ? "  (lru)" : "");
	}
}

static int limits_run(struct verb *v)
{
	const char *rule = v->argc ? v->argv[0] : NULL;
	struct limits_report *r = malloc(sizeof(*r));
	int err;

	if (!r) {
		pr_warn("limits: out of memory");
		return EXIT_RUNTIME;
	}
	err = limits_read(&v->p, rule, limits_top, r);
	if (err == -ENOENT && rule) {
		pr_warn("limits: rule \"%s\": no such rule in the live policy", rule);
		free(r);
		return EXIT_USAGE;
	}
	if (err) {
		pr_warn("limits: read the limiter: %s", strerror(-err));
		free(r);
		return EXIT_RUNTIME;
	}
	if (r->unnamed)
		cmd_notice("limits: %ld %s being taken over by another key left out", r->unnamed,
			   plural(r->unnamed, "slot", "slots"));
	if (json_output) {
		json_t *list = json_array();

		for (unsigned int i = 0; i < r->n; i++)
			json_array_append_new(list, entry_json(&r->entries[i]));
		json_print(json_pack("{s:o}", "limits", list));
	} else {
		for (unsigned int i = 0; i < r->n; i++) {
			if (i)
				printf("\n");
			entry_print(&r->entries[i]);
		}
	}
	limits_free(r);
	free(r);
	return EXIT_OK;
}

const struct cmd cmd_limits = {
	.name = "limits",
	.args = "[RULE] [--top N]",
	.summary = "keys each limit holds state for, and how full",
	.help = "For each limit of the live policy (of rule RULE only, if given): how many\n"
		"keys hold state (a bucket not full), how many have used 0-25%, 25-50%,\n"
		"50-75%, 75-100% of their burst or are over (not one more packet, or byte for\n"
		"a byte rate, fits), and the N (default 10) fullest keys with what they have\n"
		"left. Under action monitor it shows what the limit would drop. Keys seen\n"
		"once (on probation) hold no named state and are not counted.",
	.min_args = 0,
	.max_args = 1,
	.pins = CMD_PINS_READ,
	.opts = (const struct cmd_opt[]){ { "top", 0, true }, {} },
	.check = limits_check,
	.run = limits_run,
};
