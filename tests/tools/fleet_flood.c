// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * fleet_flood: publishes COUNT block decisions (198.19.0.0/16 hosts, 10 minutes) to a
 * fleet at RATE a second, as `sluice fleet block add` does, for bench/fleet.sh.
 *
 *   fleet_flood REDIS-URL FLEET COUNT RATE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fleet.h"

int main(int argc, char **argv)
{
	struct fleet_config cfg;
	struct timespec t0, t;
	struct decision d = { .list = FLEET_BLOCK };
	redisContext *c;
	char err[300];
	long count, rate;

	if (argc != 5) {
		fprintf(stderr, "usage: fleet_flood REDIS-URL FLEET COUNT RATE\n");
		return 2;
	}
	fleet_config_init(&cfg);
	cfg.redis = argv[1];
	snprintf(cfg.fleet, sizeof(cfg.fleet), "%s", argv[2]);
	count = atol(argv[3]);
	rate = atol(argv[4]);
	if (count < 1 || count > 65536 || rate < 1) {
		fprintf(stderr, "fleet_flood: COUNT 1 to 65536, RATE from 1\n");
		return 2;
	}
	c = fleet_connect(&cfg, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "fleet_flood: %s\n", err);
		return 1;
	}
	snprintf(d.origin, sizeof(d.origin), "bench");
	d.prefix.family = SLUICE_FAMILY_IPV4;
	d.prefix.plen = 32;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		struct parse_error perr = {};
		char addr[32];
		double due = (double)i / rate, now;

		/* Paced against the start, so a slow publish is caught up, not accumulated. */
		do {
			clock_gettime(CLOCK_MONOTONIC, &t);
			now = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
			if (now < due) {
				struct timespec ts = { 0, (long)((due - now) * 1e9) };

				nanosleep(&ts, NULL);
			}
		} while (now < due);
		snprintf(addr, sizeof(addr), "198.19.%ld.%ld", i >> 8, i & 255);
		parse_prefix(addr, &d.prefix, &perr);
		d.expires_ms = fleet_now_ms() + 600000;
		/* A call that timed out on a busy machine is made again on a new connection. */
		for (int tries = 0; fleet_publish(c, &cfg, &d, err, sizeof(err)); tries++) {
			redisFree(c);
			c = tries < 3 ? fleet_connect(&cfg, err, sizeof(err)) : NULL;
			if (!c) {
				fprintf(stderr, "fleet_flood: %s\n", err);
				return 1;
			}
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	printf("{\"published\": %ld, \"seconds\": %.3f}\n", count,
	       (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9);
	redisFree(c);
	return 0;
}
