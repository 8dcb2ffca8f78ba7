// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice exporter: the verb's options and usage; the server itself is user/exporter. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "exporter.h"
#include "log.h"
#include "output.h"
#include "pins.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define EXPORTER_USAGE                                                                             \
	"Usage: sluice exporter [--listen [HOST]:PORT] [--collect INTERVAL] [--web-config FILE]\n" \
	"                       [--fleet-state DIR]\n"

static const char exporter_help[] = EXPORTER_USAGE
	"\n"
	"Serves the counters, list and map fill and the policy of the pinned maps\n"
	"as Prometheus metrics on http://HOST:PORT/metrics, and a page linking them\n"
	"on /. --listen (default " EXPORTER_LISTEN ") takes an IPv4 address, [IPV6],\n"
	"a host name (its first address) or nothing (:PORT, every address).\n"
	"\n"
	"--collect INTERVAL: every INTERVAL (default " STR(
		EXPORTER_COLLECT_SEC) "s; 0: never) it\n"
				      "deletes expired list entries and bans. INTERVAL is seconds (10) or a duration\n"
				      "(10s, 1m, 1h30m) from 1s to 1d. It never changes the policy.\n"
				      "Runs until SIGTERM or SIGINT.\n"
				      "\n"
				      "--web-config FILE, in the format of the Prometheus exporter toolkit, turns on\n"
				      "HTTPS (tls_server_config: cert_file, key_file) and basic auth\n"
				      "(basic_auth_users: USER: BCRYPT-HASH).\n"
				      "\n"
				      "--fleet-state DIR adds the sluice_fleet_* metrics of the fleet agents whose\n"
				      "--state-dir is DIR (their agent-FLEET.json files).\n"
				      "\n"
				      "One client address holds at most " STR(
					      EXPORTER_PER_IP_CONNECTIONS) " connections, all\n"
									   "together at most " STR(EXPORTER_MAX_CONNECTIONS) "; a connection idle for " STR(
										   EXPORTER_TIMEOUT_SEC) " s is closed.\n";

static void exporter_usage(FILE *out)
{
	fputs(EXPORTER_USAGE, out);
}

int cmd_exporter(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "collect", required_argument, NULL, 'c' },
		{ "web-config", required_argument, NULL, 'w' },
		{ "fleet-state", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct exporter_config cfg = {
		.listen = EXPORTER_LISTEN,
		.pin_path = pin_path,
		.collect_ns = EXPORTER_COLLECT_SEC * 1000000000ULL,
	};
	const char *web_path = NULL;
	struct web_config web;
	char msg[512];
	int c, err;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			cfg.listen = optarg;
			break;
		case 'c':
			if (!strcmp(optarg, "0")) {
				cfg.collect_ns = 0;
			} else if (parse_interval(optarg, 1000000000ULL, 86400000000000ULL,
						  &cfg.collect_ns)) {
				pr_warn("exporter: --collect: expected 0, seconds or a duration (units " INTERVAL_UNITS
					") from 1s to 1d, got \"%s\"",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'w':
			web_path = optarg;
			break;
		case 'F':
			cfg.fleet_state = optarg;
			break;
		case 'h':
			printf("%s", exporter_help);
			return EXIT_OK;
		default:
			return cmd_bad_option("exporter", argv, exporter_usage);
		}
	}
	if (optind != argc) {
		pr_warn("exporter: unexpected argument \"%s\"", argv[optind]);
		if (!log_json)
			exporter_usage(stderr);
		return EXIT_USAGE;
	}
	/* Everything wrong with the file, what it names included, is the caller's to fix: 2. */
	if (web_path) {
		err = web_config_load(web_path, &web, msg, sizeof(msg));
		if (err) {
			pr_warn("exporter: --web-config %s", msg);
			web_config_free(&web);
			return err == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
		}
		cfg.web = &web;
	}
	err = exporter_run(&cfg);
	if (web_path)
		web_config_free(&web);
	return exit_code_for(err);
}
