// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice OBJECT VERB [ARGS]: the command line, dispatching to the verbs in cmd_*.c. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "log.h"
#include "output.h"
#include "pins.h"
#include "version.h"

/* Its flags and help are its own, in user/exporter/exporter.c. */
static const struct cmd exporter_row = {
	.name = "exporter",
	.args = "[--listen [HOST]:PORT] [--collect INTERVAL] [--web-config FILE] [--fleet-state DIR]",
	.summary = "serve Prometheus metrics",
	.main = cmd_exporter,
};

/* Its flags and help are its own, in cmd_fleet.c. */
static const struct cmd agent_row = {
	.name = "agent",
	.args = "[--redis URL] [--redis-password-file FILE] [--host NAME] [--fleet NAME] "
		"[--state-dir DIR]",
	.summary = "share decisions with the fleet through Redis",
	.main = cmd_agent,
};

/* The objects and verbs, in the order of the help. */
static const struct cmd *const top_cmds[] = {
	&cmd_attach, &cmd_detach,   &cmd_status, &cmd_restore, &cmd_confirm,
	&cmd_dump,   &cmd_rule,	    &cmd_set,	 &cmd_allow,   &cmd_block,
	&cmd_sets,   &cmd_ban,	    &cmd_stats,	 &cmd_limits,  &cmd_events,
	&cmd_top,    &exporter_row, &agent_row,	 &cmd_fleet,   NULL,
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: sluice [OPTIONS] OBJECT VERB [ARGS] [OPTIONS]\n"
		"       sluice OBJECT help\n"
		"\n"
		"Options:\n"
		"  -j, --json           JSON output (errors too)\n"
		"  -p, --pretty         pretty JSON output (implies -j)\n"
		"  -v, --verbose        more messages, libbpf's debug output with -vv\n"
		"  -f, --force          apply a change that would cut off the management path\n"
		"      --pin-path DIR   pin directory (default " SLUICE_DEFAULT_PIN_PATH ")\n"
		"      --wait SECONDS   wait at most this long for another sluice's lock\n"
		"                       (default: as long as it takes; 0: not at all)\n"
		"  -V, --version        print the version\n"
		"  -h, --help           this help\n"
		"Options but -V and -h may also follow the verb and its arguments.\n"
		"\n"
		"Objects and verbs:\n");
	cmd_list_help(out, "sluice", top_cmds);
	fprintf(out, "\nExit status: 0 ok, 1 runtime failure, 2 usage or input error.\n"
		     "See sluice(8).\n");
}

/* --wait SECONDS: a number of seconds, fractions allowed; false on anything else. */
static bool set_wait(const char *s)
{
	char *end;
	double w;

	if (!s || !*s)
		return false;
	errno = 0;
	w = strtod(s, &end);
	if (errno || *end || !(w >= 0) || w > 86400 * 365.0) {
		pr_warn("--wait: expected SECONDS, a number from 0, got \"%s\"", s);
		return false;
	}
	pins_lock_wait = w;
	return true;
}

/* Said once when a writer finds the lock held; stderr, so stdout stays one document. */
static void lock_waiting(const char *dir, int holder)
{
	char who[32] = "";

	if (holder > 0)
		snprintf(who, sizeof(who), " (pid %d)", holder);
	fprintf(stderr, "sluice: waiting for another sluice%s to release %s...\n", who, dir);
}

static void more_verbose(void)
{
	log_level = log_level == LOG_WARN ? LOG_INFO : LOG_DEBUG;
}

/*
 * The global options may also follow the object and verb, as bpftool takes them
 * (`sluice status -j`, `sluice block list -j`): they are taken out of the verb's
 * arguments, up to a "--", which stays for the verb. Returns how many arguments are left.
 */
static int take_global_options(int argc, char **argv)
{
	bool verb_only = false;
	int out = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (verb_only) {
			argv[out++] = argv[i];
		} else if (!strcmp(a, "--")) {
			verb_only = true;
			argv[out++] = argv[i]; /* the verb's option parser ends there too */
		} else if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			json_output = true;
		} else if (!strcmp(a, "-p") || !strcmp(a, "--pretty")) {
			json_output = json_pretty = true;
		} else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			more_verbose();
		} else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
			force = true;
		} else if (!strcmp(a, "--pin-path") && i + 1 < argc) {
			pin_path = argv[++i];
		} else if (!strncmp(a, "--pin-path=", 11)) {
			pin_path = a + 11;
		} else if (!strcmp(a, "--wait") && i + 1 < argc) {
			if (!set_wait(argv[++i]))
				return -1;
		} else if (!strncmp(a, "--wait=", 7)) {
			if (!set_wait(a + 7))
				return -1;
		} else {
			argv[out++] = argv[i];
		}
	}
	argv[out] = NULL;
	return out;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "force", no_argument, NULL, 'f' },
		{ "pin-path", required_argument, NULL, 'P' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "wait", required_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	bool version = false;
	int c, n;

	setvbuf(stdout, NULL, _IOLBF, 0);
	output_setup(); /* before the first message: a bad option is one */
	opterr = 0; /* unknown options are reported by sluice, with its prefix */
	/* '+': options end at OBJECT, so verbs parse their own. */
	while ((c = getopt_long(argc, argv, "+jpvfVh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json_output = log_json = true;
			break;
		case 'p':
			json_output = json_pretty = log_json = true;
			break;
		case 'f':
			force = true;
			break;
		case 'v':
			more_verbose();
			break;
		case 'P':
			pin_path = optarg;
			break;
		case 'W':
			if (!set_wait(optarg))
				return EXIT_USAGE;
			break;
		case 'V':
			version = true; /* after the loop: -j may come after it */
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			return cmd_bad_option("options", argv, usage);
		}
	}
	if (version) {
		if (json_output)
			json_print(json_pack("{s:s,s:i}", "version", SLUICE_VERSION,
					     "layout_version", SLUICE_LAYOUT_VERSION));
		else
			printf("sluice %s (layout version %d)\n", SLUICE_VERSION,
			       SLUICE_LAYOUT_VERSION);
		return EXIT_OK;
	}
	pins_lock_waiting = lock_waiting;
	n = take_global_options(argc - optind, argv + optind);
	log_json = json_output;
	if (n < 0)
		return EXIT_USAGE;
	argc = optind + n;
	if (optind >= argc) {
		if (json_output) {
			pr_warn("expected an object; try 'sluice help'");
			return EXIT_USAGE;
		}
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cmd_is_help(argv[optind]) && argc - optind >= 2) {
		/* `sluice help OBJECT` is `sluice OBJECT help`, as ip takes both. */
		char *object = argv[optind + 1];

		argv[optind + 1] = argv[optind];
		argv[optind] = object;
	} else if (cmd_is_help(argv[optind])) {
		usage(stdout);
		return EXIT_OK;
	}
	return cmd_dispatch("sluice", top_cmds, argc - optind, argv + optind, 0);
}
