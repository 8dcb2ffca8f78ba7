/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The Prometheus exporter as a library: serve the pinned maps' metrics until SIGTERM or SIGINT. */
#ifndef SLUICE_EXPORTER_H
#define SLUICE_EXPORTER_H

#include <linux/types.h>
#include "webconfig.h"

#define EXPORTER_LISTEN "127.0.0.1:9741"
#define EXPORTER_COLLECT_SEC 10

/*
 * Connection limits. One client address holds at most EXPORTER_PER_IP_CONNECTIONS,
 * well under EXPORTER_MAX_CONNECTIONS, so an address that opens connections and
 * sends nothing cannot take every slot from a real scrape; an idle or half-sent
 * connection is closed after EXPORTER_TIMEOUT_SEC, which a Prometheus scrape (one
 * request answered at once) never comes near.
 */
#define EXPORTER_MAX_CONNECTIONS 64
#define EXPORTER_PER_IP_CONNECTIONS 8
#define EXPORTER_TIMEOUT_SEC 3

struct exporter_config {
	const char *listen; /* IPV4:PORT, [IPV6]:PORT, HOST:PORT or :PORT */
	const char *pin_path;
	__u64 collect_ns; /* delete expired entries this often; 0: never */
	/* TLS and basic auth; NULL or empty: plain HTTP, no auth. Must outlive the call. */
	struct web_config *web;
	/* The fleet agents' status files (agent-FLEET.json) under it; NULL: no fleet metrics. */
	const char *fleet_state;
};

/*
 * Serves http(s)://LISTEN/metrics until SIGTERM or SIGINT. 0 once stopped by a
 * signal; -EINVAL for a bad listen address; another -errno when the socket or the
 * server could not be set up. Each error is logged once.
 */
int exporter_run(const struct exporter_config *cfg);

#endif /* SLUICE_EXPORTER_H */
