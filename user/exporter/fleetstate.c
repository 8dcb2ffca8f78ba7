// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The sluice_fleet_* metrics, from the status files the fleet agents write. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "fleetstate.h"

#define FLEETSTATE_MAX 64 /* fleets one exporter reports: agents on one host */

struct family {
	const char *name;
	const char *help;
	enum metric_type type;
	const char *field; /* in the status file */
	double scale;
};

static const struct family families[] = {
	{ "sluice_fleet_redis_up", "Whether the agent is connected to the fleet's Redis.",
	  METRIC_GAUGE, "redis_up", 1 },
	{ "sluice_fleet_sync_lag_seconds",
	  "How far behind the decision stream the agent is (0 when it has read it all).",
	  METRIC_GAUGE, "lag_ms", 1e-3 },
	{ "sluice_fleet_decisions_published_total",
	  "Decisions (bans made here) the agent published to the fleet.", METRIC_COUNTER,
	  "published", 1 },
	{ "sluice_fleet_decisions_applied_total",
	  "Decisions of the fleet the agent applied to this host's maps.", METRIC_COUNTER,
	  "applied", 1 },
	{ "sluice_fleet_decisions_queued",
	  "Decisions in the agent's outbox, waiting for Redis to be reachable.", METRIC_GAUGE,
	  "outbox", 1 },
	{ "sluice_fleet_decisions_refused_total",
	  "Decisions the agent could not keep because its outbox was full.", METRIC_COUNTER,
	  "refused", 1 },
	{ "sluice_fleet_hosts_seen", "Hosts of the fleet with a heartbeat in the last 10 s.",
	  METRIC_GAUGE, "hosts_seen", 1 },
	{ "sluice_fleet_policy_version",
	  "The fleet's policy version in force on this host (0: none pushed or applied).",
	  METRIC_GAUGE, "policy_version", 1 },
};

static double number(json_t *v)
{
	if (json_is_boolean(v))
		return json_is_true(v);
	return json_number_value(v);
}

void fleetstate_render(struct mbuf *b, const char *dir, __u64 now_ms)
{
	json_t *docs[FLEETSTATE_MAX];
	const char *names[] = { "fleet" };
	size_t n = 0;
	char pattern[600];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/agent-*.json", dir);
	if (glob(pattern, 0, NULL, &g))
		return;
	for (size_t i = 0; i < g.gl_pathc && n < FLEETSTATE_MAX; i++) {
		json_t *o = json_load_file(g.gl_pathv[i], 0, NULL);

		if (json_is_string(json_object_get(o, "fleet")))
			docs[n++] = o;
		else
			json_decref(o);
	}
	globfree(&g);
	for (size_t f = 0; f < sizeof(families) / sizeof(families[0]) && n; f++) {
		metrics_family(b, families[f].name, families[f].help, families[f].type);
		for (size_t i = 0; i < n; i++) {
			const char *values[] = { json_string_value(
				json_object_get(docs[i], "fleet")) };

			metrics_sample(b, families[f].name, names, values, 1,
				       number(json_object_get(docs[i], families[f].field)) *
					       families[f].scale);
		}
	}
	if (n)
		metrics_family(b, "sluice_fleet_status_age_seconds",
			       "Seconds since the agent last wrote its status (every second).",
			       METRIC_GAUGE);
	for (size_t i = 0; i < n; i++) {
		const char *values[] = { json_string_value(json_object_get(docs[i], "fleet")) };
		json_int_t written = json_integer_value(json_object_get(docs[i], "written_ms"));

		metrics_sample(b, "sluice_fleet_status_age_seconds", names, values, 1,
			       ((double)now_ms - (double)written) / 1000.0);
		json_decref(docs[i]);
	}
}
