// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "guard.h"
#include "log.h"
#include "output.h"
#include "policy.h"

bool json_output;
bool json_pretty;
bool force;

bool cmd_is_help(const char *arg)
{
	return !strcmp(arg, "help") || !strcmp(arg, "--help") || !strcmp(arg, "-h");
}

/* An object's synopsis is its verbs: "add|del|list". */
static void cmd_args(const struct cmd *c, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	if (!c->verbs) {
		snprintf(buf, len, "%s", c->args ? c->args : "");
		return;
	}
	for (const struct cmd *const *v = c->verbs; *v && n < len; v++)
		n += snprintf(buf + n, len - n, "%s%s", v == c->verbs ? "" : "|", (*v)->name);
}

/* Synopses longer than this take a line of their own, the summary going under the column. */
#define ARGS_COLUMN_MAX 32

void cmd_list_help(FILE *out, const char *prefix, const struct cmd *const *cmds)
{
	char args[256];
	int width = 0;

	for (const struct cmd *const *c = cmds; *c; c++) {
		int n;

		cmd_args(*c, args, sizeof(args));
		n = strlen(args);
		if (n <= ARGS_COLUMN_MAX && n > width)
			width = n;
	}
	for (const struct cmd *const *c = cmds; *c; c++) {
		int indent = fprintf(out, "  %s %-9s ", prefix, (*c)->name);

		cmd_args(*c, args, sizeof(args));
		if ((int)strlen(args) > width)
			fprintf(out, "%s\n%*s", args, indent + width + 1, "");
		else
			fprintf(out, "%-*s ", width, args);
		fprintf(out, "%s\n", (*c)->summary);
	}
}

int cmd_usage_error(const char *usage, const char *fmt, ...)
{
	char msg[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	/* With -j, stdout carries one JSON error and nothing else; stderr stays quiet. */
	if (log_json) {
		if (msg[0])
			pr_warn("%s; usage: %s", msg, usage);
		else
			pr_warn("usage: %s", usage);
		return EXIT_USAGE;
	}
	if (msg[0])
		pr_warn("%s", msg);
	fprintf(stderr, "Usage: %s\n", usage);
	return EXIT_USAGE;
}

static void verb_help(const char *usage, const struct cmd *c)
{
	if (c->help)
		printf("Usage: %s\n\n%s\n", usage, c->help);
	else
		printf("Usage: %s  %s\n", usage, c->summary);
}

/*
 * The one prologue of every verb: help, options, argument count, the verb's check,
 * the pins; then its body.
 */
static int verb_run(const char *prefix, const struct cmd *c, int argc, char **argv, int data)
{
	struct option longopts[CMD_MAX_OPTS + 2] = {};
	char shortopts[2 * CMD_MAX_OPTS + 4], usage[512];
	const char *object = strchr(prefix, ' ');
	struct verb v = { .data = data };
	int nopts = 0, n = 0, ch, ret;

	snprintf(usage, sizeof(usage), "%s %s%s%s", prefix, c->name,
		 c->args && c->args[0] ? " " : "", c->args ? c->args : "");
	snprintf(v.name, sizeof(v.name), "%s%s%s", object ? object + 1 : "", object ? " " : "",
		 c->name);
	if (argc >= 2 && cmd_is_help(argv[1])) {
		verb_help(usage, c);
		return EXIT_OK;
	}
	/* '+': the arguments are words that may start with '-'; ':' tells a missing value. */
	n += sprintf(shortopts + n, "%s:h", c->words ? "+" : "");
	for (const struct cmd_opt *o = c->opts; o && o->name && nopts < CMD_MAX_OPTS;
	     o++, nopts++) {
		longopts[nopts] = (struct option){ o->name,
						   o->arg ? required_argument : no_argument, NULL,
						   256 + nopts };
		if (o->letter)
			n += sprintf(shortopts + n, "%c%s", o->letter, o->arg ? ":" : "");
	}
	longopts[nopts] = (struct option){ "help", no_argument, NULL, 'h' };
	optind = 0; /* glibc: also resets its argument permutation */
	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (ch == 'h') {
			verb_help(usage, c);
			return EXIT_OK;
		}
		if (ch == '?' || ch == ':')
			return cmd_usage_error(usage, "%s: unknown option or missing argument '%s'",
					       v.name, argv[optind - 1]);
		if (ch < 256) /* a letter: the option that has it */
			for (int i = 0; i < nopts; i++)
				if (c->opts[i].letter == ch)
					ch = 256 + i;
		v.opt[ch - 256] = optarg ? optarg : "";
	}
	v.argc = argc - optind;
	v.argv = argv + optind;
	if (v.argc < c->min_args)
		return cmd_usage_error(usage, "%s: missing arguments", v.name);
	if (c->max_args >= 0 && v.argc > c->max_args)
		return cmd_usage_error(usage, "%s: too many arguments", v.name);
	if (c->check) {
		ret = c->check(&v);
		if (ret)
			return ret;
	}
	if (c->pins != CMD_PINS_NONE) {
		ret = cmd_open_pins(v.name, &v.p, c->pins == CMD_PINS_WRITE);
		if (ret)
			return ret;
	}
	ret = c->run(&v);
	if (c->pins != CMD_PINS_NONE)
		pins_close(&v.p);
	return ret;
}

int cmd_dispatch(const char *prefix, const struct cmd *const *cmds, int argc, char **argv, int data)
{
	/* Messages carry the object, not the program name the log prefix already has. */
	const char *object = strncmp(prefix, "sluice ", 7) == 0 ? prefix + 7 : NULL;
	const struct cmd *found = NULL;
	char sub[64];
	size_t len;
	int nfound = 0;

	if (argc < 1) {
		char verbs[256];
		struct cmd self = { .verbs = cmds };

		cmd_args(&self, verbs, sizeof(verbs));
		if (log_json) {
			pr_warn("%s: expected a verb: %s", object ? object : prefix, verbs);
			return EXIT_USAGE;
		}
		fprintf(stderr, "Usage:\n");
		cmd_list_help(stderr, prefix, cmds);
		return EXIT_USAGE;
	}
	len = strlen(argv[0]);
	for (const struct cmd *const *c = cmds; *c; c++) {
		if (strncmp((*c)->name, argv[0], len))
			continue;
		if (strlen((*c)->name) == len) {
			found = *c; /* an exact name beats prefixes of longer ones */
			nfound = 1;
			break;
		}
		if (!found)
			found = *c;
		nfound++;
	}
	/*
	 * A prefix of several verbs (`st`: status, stats) is refused with every candidate
	 * named, rather than resolved by table order: a guess could run a writing verb.
	 */
	if (nfound > 1) {
		char names[256];
		size_t n = 0;

		names[0] = '\0';
		for (const struct cmd *const *c = cmds; *c && n < sizeof(names); c++)
			if (!strncmp((*c)->name, argv[0], len))
				n += snprintf(names + n, sizeof(names) - n, "%s%s", n ? ", " : "",
					      (*c)->name);
		pr_warn("%s%s'%s' is ambiguous: %s", object ? object : "", object ? ": " : "",
			argv[0], names);
		return EXIT_USAGE;
	}
	if (!found) {
		pr_warn("%s%sunknown command '%s'; try '%s help'", object ? object : "",
			object ? ": " : "", argv[0], prefix);
		return EXIT_USAGE;
	}
	if (found->main) {
		if (argc >= 2 && cmd_is_help(argv[1])) {
			static char help_opt[] = "--help";

			argv[1] = help_opt; /* it prints its full usage */
		}
		return found->main(argc, argv);
	}
	if (!found->verbs)
		return verb_run(prefix, found, argc, argv, data);
	snprintf(sub, sizeof(sub), "%s %s", prefix, found->name);
	if (argc >= 2 && cmd_is_help(argv[1])) {
		printf("Usage:\n");
		cmd_list_help(stdout, sub, found->verbs);
		if (found->help)
			printf("\n%s\n", found->help);
		return EXIT_OK;
	}
	return cmd_dispatch(sub, found->verbs, argc - 1, argv + 1, found->data);
}

void cmd_notice(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *plural(long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

int cmd_bad_option(const char *verb, char **argv, void (*usage)(FILE *out))
{
	pr_warn("%s: unknown option or missing argument '%s'", verb, argv[optind - 1]);
	if (usage && !log_json)
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
	case -ETIMEDOUT: {
		int holder = pins_lock_holder(pin_path);

		if (holder > 0)
			pr_warn("%s: %s still locked by another sluice (pid %d) after --wait %g s; "
				"nothing was changed",
				what, pin_path, holder, pins_lock_wait);
		else
			pr_warn("%s: %s still locked by another sluice after --wait %g s; nothing "
				"was changed",
				what, pin_path, pins_lock_wait);
		return EXIT_RUNTIME;
	}
	default:
		pr_warn("%s: open %s: %s", what, pin_path, strerror(-err));
		return EXIT_RUNTIME;
	}
	if (write) {
		struct guard_pending g;
		long n = collect_expired(p);

		if (n > 0)
			pr_info("collected %ld expired %s", n, plural(n, "entry", "entries"));
		/*
		 * The rollback puts the whole saved policy back, lists included; a detach
		 * is not undone by it (the interface stays detached), so it is not warned.
		 */
		if (strcmp(what, "detach") && guard_pending(&g) && g.pid > 0) {
			char when[40];

			guard_format_time(g.deadline, when, sizeof(when));
			cmd_notice("%s: a rollback is pending (restore --confirm-within): at %s it "
				   "puts %s back and undoes this change, unless 'sluice confirm' "
				   "runs first",
				   what, when, g.rollback);
		}
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
