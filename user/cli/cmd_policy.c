// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* restore, dump, rule */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include "cmd.h"
#include "compile.h"
#include "guard.h"
#include "lockout.h"
#include "log.h"
#include "lists.h"
#include "policy.h"

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void report_parse_error(const char *verb, const struct parse_error *err)
{
	char buf[512];

	if (!err->msg[0])
		return; /* the failure was reported where it happened */
	format_parse_error(err, buf, sizeof(buf));
	if (err->file[0])
		pr_warn("%s", buf);
	else
		pr_warn("%s: %s", verb, buf);
}

static void restore_usage(FILE *out)
{
	fprintf(out, "Usage: sluice [-f] restore [--check] [--confirm-within DURATION] FILE|-\n"
		     "\n"
		     "Replaces the whole policy (settings, rules, allowlist, blocklist) with the\n"
		     "lines of FILE, as `sluice dump` prints them. Everything is validated first;\n"
		     "the data path then switches from the complete old to the complete new policy\n"
		     "at once. Limiter state of unchanged limits, and all bans, survive.\n"
		     "A policy that would drop your SSH client ($SSH_CONNECTION) or an address of\n"
		     "$SLUICE_MANAGEMENT is refused unless -f (--force) is given.\n"
		     "  --check                      validate only; change nothing\n"
		     "  --confirm-within DURATION    put the previous policy back after DURATION\n"
		     "                               unless `sluice confirm` runs first\n");
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "confirm-within", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct parse_error perr = {};
	struct policy_doc doc;
	struct timespec t0;
	bool check = false;
	__u64 confirm_ns = 0;
	int saved = 0;
	struct pins p;
	int c, err, ret = EXIT_OK;

	optind = 0; /* glibc: also resets its argument permutation */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			check = true;
			break;
		case 'w':
			if (parse_duration(optarg, &confirm_ns, &perr) || confirm_ns < 1000000000ULL) {
				pr_warn("restore: --confirm-within: %s",
					perr.msg[0] ? perr.msg : "at least 1s");
				return EXIT_USAGE;
			}
			break;
		case 'h':
			restore_usage(stdout);
			return EXIT_OK;
		default:
			return cmd_bad_option("restore", argv, restore_usage);
		}
	}
	if (optind != argc - 1) {
		restore_usage(stderr);
		return EXIT_USAGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	policy_init(&doc);
	err = policy_parse_file(argv[optind], &doc, &perr);
	if (err) {
		if (err == -EINVAL)
			report_parse_error("restore", &perr);
		else
			pr_warn("restore: %s: %s", argv[optind], strerror(-err));
		policy_free(&doc);
		return exit_code_for(err == -ENOENT ? -EINVAL : err);
	}
	if (check) {
		struct sluice_policy *pol = malloc(sizeof(*pol));
		__u64 fresh;

		err = pol ? policy_build(&doc, NULL, pol, &fresh, &perr) : -ENOMEM;
		free(pol);
		if (!err && lockout_check("restore", &doc, force)) {
			policy_free(&doc);
			return EXIT_USAGE;
		}
		if (err) {
			snprintf(perr.file, sizeof(perr.file), "%s", argv[optind]);
			report_parse_error("restore", &perr);
			ret = exit_code_for(err);
		} else if (json_output) {
			json_print(json_pack("{s:s,s:i,s:I}", "file", argv[optind], "rules",
					     doc.nrules, "list_entries", (json_int_t)doc.nitems));
		} else {
			printf("%s: ok, %u rules, %zu list entries\n", argv[optind], doc.nrules,
			       doc.nitems);
		}
		policy_free(&doc);
		return ret;
	}

	if (lockout_check("restore", &doc, force)) {
		policy_free(&doc);
		return EXIT_USAGE;
	}
	ret = cmd_open_pins("restore", &p, true);
	if (ret) {
		policy_free(&doc);
		return ret;
	}
	saved = confirm_ns ? guard_save(&p) : 0;
	if (saved < 0) {
		err = saved;
		pr_warn("restore: save the rollback point under %s: %s", GUARD_RUN_DIR,
			strerror(-err));
		pins_close(&p);
		policy_free(&doc);
		return EXIT_RUNTIME;
	}
	err = policy_apply(&p, &doc, true, &perr);
	if (!err && confirm_ns) {
		char d[32];

		err = guard_arm(confirm_ns);
		if (err)
			perr.msg[0] = '\0'; /* reported here */
		format_duration(confirm_ns, d, sizeof(d));
		if (err)
			pr_warn("restore: start the rollback guard: %s", strerror(-err));
		else
			printf("restored; run 'sluice confirm' within %s or the previous policy "
			       "comes back\n",
			       d);
	}
	if (err && saved > 0)
		guard_discard();
	if (err) {
		snprintf(perr.file, sizeof(perr.file), "%s", err == -EINVAL ? argv[optind] : "");
		report_parse_error("restore", &perr);
		ret = exit_code_for(err);
	} else {
		pr_info("restored %u rules and %zu list entries in %.3f s", doc.nrules, doc.nitems,
			seconds_since(&t0));
	}
	pins_close(&p);
	policy_free(&doc);
	return ret;
}

int cmd_confirm(int argc, char **argv)
{
	struct pins p;
	int err;

	if (argc == 2 && cmd_is_help(argv[1])) {
		printf("Usage: sluice confirm\n\nKeeps the policy of the last `restore "
		       "--confirm-within`: its rollback guard stops.\n");
		return EXIT_OK;
	}
	if (argc != 1) {
		fprintf(stderr, "Usage: sluice confirm\n");
		return EXIT_USAGE;
	}
	err = guard_confirm(&p);
	if (err == -ENOENT) {
		pr_warn("confirm: no restore awaits confirmation under %s", pin_path);
		return EXIT_RUNTIME;
	}
	if (err) {
		pr_warn("confirm: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	printf("confirmed\n");
	return EXIT_OK;
}

static json_t *rules_json(const struct policy_doc *doc)
{
	json_t *arr = json_array();
	char line[GRAMMAR_LINE_MAX];

	for (unsigned int i = 0; i < doc->nrules; i++) {
		format_rule(&doc->rules[i], line, sizeof(line));
		json_array_append_new(arr, json_pack("{s:s,s:s}", "name", doc->rules[i].name,
						     "line", line));
	}
	return arr;
}

int cmd_dump(int argc, char **argv)
{
	__u64 now = mono_now_ns();
	struct policy_doc doc;
	struct pins p;
	int err, fds[2] = { -1, -1 };

	if (argc == 2 && cmd_is_help(argv[1])) {
		printf("Usage: sluice [-j] dump\n\nPrints the live policy as lines that `sluice "
		       "restore` reads back: settings, rules, allowlist and blocklist with their "
		       "remaining TTLs.\n");
		return EXIT_OK;
	}
	if (argc != 1) {
		fprintf(stderr, "Usage: sluice [-j] dump\n");
		return EXIT_USAGE;
	}
	cmd_buffer_stdout();
	err = cmd_open_pins("dump", &p, false);
	if (err)
		return err;
	policy_init(&doc);
	err = lists_open_live(&p, &doc, fds);
	pins_close(&p);
	if (err) {
		if (err != -EPROTO)
			pr_warn("dump: read policy: %s", strerror(-err));
		policy_free(&doc);
		return EXIT_RUNTIME;
	}
	/* Rules first, then the lists streamed: a million entries take no more memory than ten. */
	if (json_output) {
		json_t *rules = rules_json(&doc);

		printf("{\"malformed\":\"%s\",\"rules\":", doc.malformed_drop ? "drop" : "pass");
		json_dumpf(rules, stdout, JSON_COMPACT);
		json_decref(rules);
		fputs(",\"allow\":", stdout);
		err = list_items_stream(stdout, fds[LIST_ALLOW], LIST_ALLOW, now, true);
		fputs(",\"block\":", stdout);
		err = err ?: list_items_stream(stdout, fds[LIST_BLOCK], LIST_BLOCK, now, true);
		fputs("}\n", stdout);
	} else {
		policy_write(stdout, &doc);
		err = list_items_stream(stdout, fds[LIST_ALLOW], LIST_ALLOW, now, false) ?:
		      list_items_stream(stdout, fds[LIST_BLOCK], LIST_BLOCK, now, false);
	}
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++)
		if (fds[kind] >= 0)
			close(fds[kind]);
	policy_free(&doc);
	if (err) {
		pr_warn("dump: read lists: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	return fflush(stdout) ? EXIT_RUNTIME : EXIT_OK;
}

static int rule_find(const struct policy_doc *doc, const char *name)
{
	for (unsigned int i = 0; i < doc->nrules; i++)
		if (!strcmp(doc->rules[i].name, name))
			return i;
	return -1;
}

/* Reads the live rules, lets EDIT change them, and switches to the result. */
static int rule_change(const char *verb, int (*edit)(struct policy_doc *, void *), void *arg)
{
	struct parse_error perr = {};
	struct policy_doc doc;
	struct pins p;
	int err, ret;

	ret = cmd_open_pins(verb, &p, true);
	if (ret)
		return ret;
	policy_init(&doc);
	err = policy_read_rules(&p, &doc);
	if (!err)
		err = edit(&doc, arg);
	if (!err)
		err = lockout_check_live(verb, &p, NULL, 0, &doc, force);
	if (!err) {
		err = policy_apply(&p, &doc, false, &perr);
		if (err)
			report_parse_error(verb, &perr);
	} else if (err != -EPROTO && err != -EINVAL && err != -EEXIST && err != -ENOENT &&
		   err != -ECANCELED) {
		pr_warn("%s: %s", verb, strerror(-err));
	}
	pins_close(&p);
	policy_free(&doc);
	/* A name that clashes is an input error; one that is not there, like `block del`, is not. */
	return err == -EEXIST ? EXIT_USAGE : exit_code_for(err);
}

static int edit_add(struct policy_doc *doc, void *arg)
{
	const struct rule_spec *spec = arg;

	if (rule_find(doc, spec->name) >= 0) {
		pr_warn("rule add: %s: a rule of that name exists; delete it first", spec->name);
		return -EEXIST;
	}
	if (doc->nrules >= SLUICE_MAX_RULES) {
		pr_warn("rule add: %s: the policy already has %d rules", spec->name,
			SLUICE_MAX_RULES);
		return -EINVAL;
	}
	doc->rules[doc->nrules++] = *spec;
	return 0;
}

static int edit_del(struct policy_doc *doc, void *arg)
{
	const char *name = arg;
	int i = rule_find(doc, name);

	if (i < 0) {
		pr_warn("rule del: %s: no such rule", name);
		return -ENOENT;
	}
	memmove(&doc->rules[i], &doc->rules[i + 1],
		(doc->nrules - i - 1) * sizeof(doc->rules[0]));
	doc->nrules--;
	return 0;
}

static int rule_add(int argc, char **argv)
{
	struct parse_error perr = {};
	struct rule_spec spec;
	struct sluice_rule compiled;

	if (argc < 2) {
		fprintf(stderr, "Usage: sluice rule add NAME [ip|ip6] [tcp|udp|icmp] [dport N[-M]] "
				"[syn] [dst PREFIX]\n"
				"                       [limit KEY... rate RATE [burst N]]... "
				"[action drop|pass|monitor|ban DURATION]\n");
		return EXIT_USAGE;
	}
	if (parse_rule(argv + 1, NULL, argc - 1, &spec, &perr) ||
	    compile_rule(&spec, &compiled, &perr)) {
		report_parse_error("rule add", &perr);
		return EXIT_USAGE;
	}
	return rule_change("rule add", edit_add, &spec);
}

static int rule_del(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "Usage: sluice rule del NAME\n");
		return EXIT_USAGE;
	}
	return rule_change("rule del", edit_del, argv[1]);
}

static int rule_list(int argc, char **argv)
{
	char line[GRAMMAR_LINE_MAX];
	struct policy_doc doc;
	struct pins p;
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "Usage: sluice [-j] rule list\n");
		return EXIT_USAGE;
	}
	err = cmd_open_pins("rule list", &p, false);
	if (err)
		return err;
	policy_init(&doc);
	err = policy_read_rules(&p, &doc);
	pins_close(&p);
	if (err) {
		policy_free(&doc);
		return EXIT_RUNTIME;
	}
	if (json_output) {
		json_print(rules_json(&doc));
	} else {
		for (unsigned int i = 0; i < doc.nrules; i++) {
			format_rule(&doc.rules[i], line, sizeof(line));
			printf("%s\n", line);
		}
	}
	policy_free(&doc);
	return EXIT_OK;
}

int cmd_rule(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "add", rule_add, "NAME MATCH... [limit ...]... [action ...]  append a rule" },
		{ "del", rule_del, "NAME                                       delete a rule" },
		{ "list", rule_list, "                                           the rules, in order" },
		{ NULL, NULL, NULL },
	};

	if (argc >= 2 && cmd_is_help(argv[1])) {
		printf("Usage:\n");
		cmd_list_help(stdout, "sluice rule", cmds);
		printf("\nMATCH: ip | ip6, tcp | udp | icmp, dport N or N-M, syn, dst PREFIX\n"
		       "limit KEY... rate RATE [burst N]: KEY is src/N and src6/N (default src/32 "
		       "src6/64),\n  optionally dport, or global; RATE is 20/s, 1200/m, 10MB/s or "
		       "80Mbit/s.\n"
		       "First match wins; a packet passes only if every limit of its rule admits "
		       "it.\n");
		return EXIT_OK;
	}
	return cmd_dispatch("sluice rule", cmds, argc - 1, argv + 1);
}
