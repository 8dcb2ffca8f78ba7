// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "log.h"
#include "policy.h"

bool json_output;
bool json_pretty;
bool force;

bool cmd_is_help(const char *arg)
{
	return !strcmp(arg, "help") || !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

void cmd_list_help(FILE *out, const char *prefix, const struct cmd *cmds)
{
	for (const struct cmd *c = cmds; c->name; c++) {
		int indent = fprintf(out, "  %s %-9s ", prefix, c->name);

		/* A help text on two lines continues under the first. */
		for (const char *h = c->help; *h; h++) {
			fputc(*h, out);
			if (*h == '\n')
				fprintf(out, "%*s", indent, "");
		}
		fputc('\n', out);
	}
}

int cmd_dispatch(const char *prefix, const struct cmd *cmds, int argc, char **argv)
{
	/* Messages carry the object, not the program name the log prefix already has. */
	const char *object = strncmp(prefix, "sluice ", 7) == 0 ? prefix + 7 : NULL;
	const struct cmd *found = NULL;
	size_t len;

	if (argc < 1 || cmd_is_help(argv[0])) {
		FILE *out = argc < 1 ? stderr : stdout;

		fprintf(out, "Usage:\n");
		cmd_list_help(out, prefix, cmds);
		return argc < 1 ? EXIT_USAGE : EXIT_OK;
	}
	len = strlen(argv[0]);
	for (const struct cmd *c = cmds; c->name; c++) {
		if (strncmp(c->name, argv[0], len))
			continue;
		if (strlen(c->name) == len) {
			found = c; /* an exact name beats prefixes of longer ones */
			break;
		}
		if (found) {
			pr_warn("%s%s'%s' is ambiguous: %s or %s", object ? object : "",
				object ? ": " : "", argv[0], found->name, c->name);
			return EXIT_USAGE;
		}
		found = c;
	}
	if (!found) {
		pr_warn("%s%sunknown command '%s'; try '%s help'", object ? object : "",
			object ? ": " : "", argv[0], prefix);
		return EXIT_USAGE;
	}
	if (!found->object && argc >= 2 && cmd_is_help(argv[1])) {
		if (!object) {
			static char help_opt[] = "--help";

			argv[1] = help_opt; /* top-level verbs print their full usage */
		} else {
			printf("Usage: %s %s %s\n", prefix, found->name, found->help);
			return EXIT_OK;
		}
	}
	return found->fn(argc, argv);
}

int cmd_bad_option(const char *verb, char **argv, void (*usage)(FILE *out))
{
	pr_warn("%s: unknown option or missing argument '%s'", verb, argv[optind - 1]);
	if (usage)
		usage(stderr);
	return EXIT_USAGE;
}

void cmd_buffer_stdout(void)
{
	static char buf[1 << 16];

	setvbuf(stdout, buf, _IOFBF, sizeof(buf));
}

void json_print(json_t *doc)
{
	json_dumpf(doc, stdout, json_pretty ? JSON_INDENT(2) : JSON_COMPACT);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(doc);
}

int exit_code_for(int err)
{
	switch (-err) {
	case 0:
		return EXIT_OK;
	case EINVAL:
	case ENODEV:
	case ECANCELED: /* refused to cut off the management path */
	case ENAMETOOLONG:
		return EXIT_USAGE;
	default:
		return EXIT_RUNTIME;
	}
}

int cmd_open_pins(const char *what, struct pins *p, bool write)
{
	int err = pins_open(p, pin_path, write);

	switch (err) {
	case 0:
		break;
	case -ENOENT:
		pr_warn("%s: nothing attached under %s (run 'sluice attach IFACE' first)", what,
			pin_path);
		return EXIT_RUNTIME;
	case -EPERM:
	case -EACCES:
		pr_warn("%s: %s: %s (needs root, or CAP_BPF and CAP_NET_ADMIN)", what, pin_path,
			strerror(-err));
		return EXIT_RUNTIME;
	case -EPROTO:
		return EXIT_RUNTIME; /* already explained */
	default:
		pr_warn("%s: open %s: %s", what, pin_path, strerror(-err));
		return EXIT_RUNTIME;
	}
	if (write) {
		long n = collect_expired(p);

		if (n > 0)
			pr_info("collected %ld expired entries", n);
	}
	return EXIT_OK;
}

/* Parses a whole positive number no larger than MAX; false on anything else. */
bool parse_count(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return !errno && !*end && *out > 0 && *out <= max;
}
