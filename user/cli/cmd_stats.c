// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* stats */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cmd.h"
#include "log.h"
#include "output.h"
#include "policy.h"
#include "stats.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void print_counter(const char *label, json_t *c)
{
	json_t *pps = json_object_get(c, "packets_per_sec");

	printf("    %-10s %14lld pkts %16lld bytes", label,
	       json_integer_value(json_object_get(c, "packets")),
	       json_integer_value(json_object_get(c, "bytes")));
	if (pps)
		printf("  %12.1f pkt/s %14.1f B/s", json_real_value(pps),
		       json_real_value(json_object_get(c, "bytes_per_sec")));
	printf("\n");
}

static void print_stats(json_t *doc)
{
	json_t *iface, *rule, *c;
	const char *key;
	size_t i, j;

	json_array_foreach(json_object_get(doc, "interfaces"), i, iface) {
		printf("interface %s (%s)\n", json_string_value(json_object_get(iface, "name")),
		       json_string_value(json_object_get(iface, "mode")));
		json_object_foreach(json_object_get(iface, "verdicts"), key, c)
			print_counter(key, c);
		printf("  drops by reason\n");
		json_object_foreach(json_object_get(iface, "drops"), key, c)
			print_counter(key, c);
		json_array_foreach(json_object_get(iface, "rules"), j, rule) {
			printf("  rule %s\n", json_string_value(json_object_get(rule, "name")));
			json_object_foreach(json_object_get(rule, "verdicts"), key, c)
				print_counter(key, c);
		}
	}
}

static __u64 watch_ns; /* --watch, 0 without */

static int stats_check(struct verb *v)
{
	watch_ns = 0;
	if (v->opt[0] && parse_interval(v->opt[0], 100000000ULL, 86400000000000ULL, &watch_ns)) {
		pr_warn("stats: --watch: expected seconds or a duration (units " INTERVAL_UNITS
			") from 100ms to 1d, got \"%s\"",
			v->opt[0]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int stats_run(struct verb *v)
{
	struct stats_snapshot *snap = NULL, *prev = NULL;
	__u64 interval = watch_ns;
	struct pins *p = &v->p;
	int err, ret = EXIT_OK;

	snap = malloc(sizeof(*snap));
	prev = malloc(sizeof(*prev));
	if (!snap || !prev) {
		pr_warn("stats: out of memory");
		ret = EXIT_RUNTIME;
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	for (bool first = true; !stop; first = false) {
		json_t *doc;

		err = stats_read(p, snap);
		if (err) {
			pr_warn("stats: read counters: %s", strerror(-err));
			ret = EXIT_RUNTIME;
			break;
		}
		doc = stats_to_json(p, snap, first ? NULL : prev);
		if (json_output) {
			json_print_short(doc, json_pretty);
		} else {
			print_stats(doc);
			json_decref(doc);
		}
		if (!interval)
			break;
		{
			struct stats_snapshot *t = prev;

			prev = snap;
			snap = t;
		}
		/* A signal cuts the wait short (EINTR), and the loop then ends. */
		nanosleep(&(struct timespec){ .tv_sec = interval / 1000000000ULL,
					      .tv_nsec = interval % 1000000000ULL },
			  NULL);
		if (!json_output && !stop)
			printf("\n");
	}
out:
	free(snap);
	free(prev);
	return ret;
}

const struct cmd cmd_stats = {
	.name = "stats",
	.args = "[--watch INTERVAL]",
	.summary = "counters by interface and rule",
	.help = "Packets and bytes per interface by verdict (pass, drop, monitor, ban,\n"
		"cookie), drops by reason, and per rule. --watch repeats every INTERVAL with\n"
		"rates, until interrupted; with -j, one JSON document a line, rates rounded to\n"
		"3 decimals. INTERVAL is seconds (2) or a duration (2s, 500ms, 1m).",
	.max_args = 0,
	.pins = CMD_PINS_READ,
	.opts = (const struct cmd_opt[]){ { "watch", 0, true }, {} },
	.check = stats_check,
	.run = stats_run,
};
