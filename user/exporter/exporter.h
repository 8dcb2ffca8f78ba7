/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The Prometheus exporter as a library: serve the pinned maps' metrics until SIGTERM or SIGINT. */
#ifndef SLUICE_EXPORTER_H
#define SLUICE_EXPORTER_H

#define EXPORTER_LISTEN "127.0.0.1:9741"
#define EXPORTER_COLLECT_SEC 10

#define EXPORTER_MAX_CONNECTIONS 64
#define EXPORTER_TIMEOUT_SEC 10 /* an idle connection is closed after this */

struct exporter_config {
	const char *listen; /* IPV4:PORT or [IPV6]:PORT */
	const char *pin_path;
	unsigned int collect_sec; /* delete expired entries this often; 0: never */
};

/*
 * Serves http://LISTEN/metrics until SIGTERM or SIGINT. 0 once stopped by a
 * signal; -EINVAL for a bad listen address; another -errno when the socket or the
 * server could not be set up. Each error is logged once.
 */
int exporter_run(const struct exporter_config *cfg);

#endif /* SLUICE_EXPORTER_H */
