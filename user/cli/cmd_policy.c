// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* restore, dump, rule */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include "cmd.h"
#include "output.h"
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

static __u64 restore_confirm_ns; /* --confirm-within, 0 without */

static int restore_check(struct verb *v)
{
	struct parse_error perr = {};
	const char *d = v->opt[1];

	restore_confirm_ns = 0;
	if (d &&
	    (parse_duration(d, &restore_confirm_ns, &perr) || restore_confirm_ns < 1000000000ULL)) {
		pr_warn("restore: --confirm-within: %s", perr.msg[0] ? perr.msg : "at least 1s");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* What a restore takes away: live rules and list entries its file does not have. */
struct removals {
	long rules, entries;
};

/* The doc's list items by list and prefix, to find the live entries it lacks. */
struct item_set {
	size_t mask;
	const struct list_item **slots;
};

static size_t item_slot(enum list_kind kind, const struct prefix *pfx, size_t mask)
{
	__u64 h = sluice_mix64(kind ^ (__u64)pfx->plen << 8,
			       pfx->addr[0] | (__u64)pfx->addr[1] << 32);

	return sluice_mix64(h, pfx->addr[2] | (__u64)pfx->addr[3] << 32) & mask;
}

static bool item_set_has(const struct item_set *set, enum list_kind kind, const struct prefix *pfx)
{
	for (size_t s = item_slot(kind, pfx, set->mask); set->slots[s]; s = (s + 1) & set->mask)
		if (set->slots[s]->kind == kind && set->slots[s]->prefix.plen == pfx->plen &&
		    !memcmp(set->slots[s]->prefix.addr, pfx->addr, sizeof(pfx->addr)))
			return true;
	return false;
}

struct removal_walk {
	const struct item_set *set;
	long n;
};

static int note_removed(const struct list_item *item, void *ctx)
{
	struct removal_walk *w = ctx;
	char text[64];

	if (item_set_has(w->set, item->kind, &item->prefix))
		return 0;
	w->n++;
	if (log_level < LOG_INFO)
		return 0; /* a million removals are counted, not formatted */
	format_prefix(&item->prefix, text, sizeof(text));
	pr_info("restore: removes %s %s", item->kind == LIST_ALLOW ? "allow" : "block", text);
	return 0;
}

/* Counts (and with -v names) what restoring DOC removes from the live policy. -errno. */
static int removals_count(const struct pins *p, const struct policy_doc *doc, struct removals *gone)
{
	struct item_set set = {};
	struct policy_doc live;
	int fds[2] = { -1, -1 }, err;
	size_t size = 64;

	policy_init(&live);
	err = lists_open_live(p, &live, fds);
	for (unsigned int i = 0; !err && i < live.nrules; i++)
		if (policy_rule_find(doc, live.rules[i].name) < 0) {
			gone->rules++;
			pr_info("restore: removes rule %s", live.rules[i].name);
		}
	while (size < 2 * doc->nitems)
		size <<= 1;
	set.mask = size - 1;
	set.slots = err ? NULL : calloc(size, sizeof(*set.slots));
	if (!err && !set.slots)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < doc->nitems; i++) {
		const struct list_item *it = &doc->items[i];
		size_t s = item_slot(it->kind, &it->prefix, set.mask);

		while (set.slots[s])
			s = (s + 1) & set.mask;
		set.slots[s] = it;
	}
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		struct removal_walk w = { .set = &set };

		if (!err && fds[kind] >= 0) {
			err = list_walk(fds[kind], kind, mono_now_ns(), note_removed, &w);
			gone->entries += w.n;
		}
		if (fds[kind] >= 0)
			close(fds[kind]);
	}
	free(set.slots);
	policy_free(&live);
	return err;
}

static void removals_print(const char *what, const struct removals *gone)
{
	if (json_output)
		json_print(json_pack("{s:I,s:I}", "removed_rules", (json_int_t)gone->rules,
				     "removed_list_entries", (json_int_t)gone->entries));
	else if (gone->rules || gone->entries)
		printf("%s: removed %ld rule%s and %ld list entr%s it does not have\n", what,
		       gone->rules, gone->rules == 1 ? "" : "s", gone->entries,
		       gone->entries == 1 ? "y" : "ies");
}

/*
 * After a restore --confirm-within went live: starts the rollback guard, or, failing
 * that, puts the previous policy back at once, so a risky policy never stays unguarded.
 */
static int arm_or_roll_back(struct pins *p, __u64 confirm_ns, const struct removals *gone)
{
	struct parse_error perr = {};
	int err = guard_arm(confirm_ns), back;
	char d[32];

	format_duration(confirm_ns, d, sizeof(d));
	if (!err) {
		if (json_output) {
			json_print(json_pack("{s:b,s:s,s:I,s:I,s:I}", "restored", 1,
					     "confirm_within", d, "confirm_within_sec",
					     (json_int_t)(confirm_ns / 1000000000ULL),
					     "removed_rules", (json_int_t)gone->rules,
					     "removed_list_entries", (json_int_t)gone->entries));
		} else {
			removals_print("restore", gone);
			printf("restored; run 'sluice confirm' within %s or the previous policy "
			       "comes back\n",
			       d);
		}
		return EXIT_OK;
	}
	back = guard_roll_back(p, &perr);
	if (back)
		pr_warn("restore: start the rollback guard: %s; putting the previous policy back "
			"failed too: %s",
			strerror(-err), perr.msg[0] ? perr.msg : strerror(-back));
	else
		pr_warn("restore: start the rollback guard: %s; the previous policy is back",
			strerror(-err));
	return EXIT_RUNTIME;
}

/* The pins open only once the file is valid: it may be a slow stdin, and the lock waits. */
static int restore_run(struct verb *v)
{
	struct parse_error perr = {};
	struct policy_doc doc;
	struct timespec t0;
	bool check = v->opt[0];
	__u64 confirm_ns = restore_confirm_ns;
	const char *file = v->argv[0];
	struct removals gone = {};
	int saved = 0;
	struct pins p;
	int err, ret = EXIT_OK;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	policy_init(&doc);
	err = policy_parse_file(file, &doc, &perr);
	if (err) {
		if (err == -EINVAL)
			report_parse_error("restore", &perr);
		else
			pr_warn("restore: %s: %s", file, strerror(-err));
		policy_free(&doc);
		return exit_code_for(err == -ENOENT ? -EINVAL : err);
	}
	/* A failed download or a truncated pipe must not wipe every rule and list. */
	if (!doc.nlines && !v->opt[2]) {
		pr_warn("restore: %s: no policy lines; restoring it would remove every rule and "
			"list entry (--allow-empty does that)",
			file);
		policy_free(&doc);
		return EXIT_USAGE;
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
			snprintf(perr.file, sizeof(perr.file), "%s", file);
			report_parse_error("restore", &perr);
			ret = exit_code_for(err);
		} else if (json_output) {
			json_print(json_pack("{s:s,s:i,s:I}", "file", file, "rules", doc.nrules,
					     "list_entries", (json_int_t)doc.nitems));
		} else {
			printf("%s: ok, %u %s, %zu list %s\n", file, doc.nrules,
			       plural(doc.nrules, "rule", "rules"), doc.nitems,
			       plural((long long)doc.nitems, "entry", "entries"));
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
	err = removals_count(&p, &doc, &gone);
	if (err)
		pr_warn("restore: count what it removes: %s", strerror(-err));
	err = policy_apply(&p, &doc, true, &perr);
	if (err) {
		if (saved > 0)
			guard_discard();
		snprintf(perr.file, sizeof(perr.file), "%s", err == -EINVAL ? file : "");
		report_parse_error("restore", &perr);
		ret = exit_code_for(err);
	} else if (confirm_ns) {
		ret = arm_or_roll_back(&p, confirm_ns, &gone);
	} else {
		removals_print(file, &gone);
	}
	if (!ret)
		pr_info("restored %u %s and %zu list %s in %.3f s", doc.nrules,
			plural(doc.nrules, "rule", "rules"), doc.nitems,
			plural((long long)doc.nitems, "entry", "entries"), seconds_since(&t0));
	pins_close(&p);
	policy_free(&doc);
	return ret;
}

static const struct cmd_opt restore_opts[] = {
	{ "check", 0, false },
	{ "confirm-within", 0, true },
	{ "allow-empty", 0, false },
	{ NULL, 0, false },
};

const struct cmd cmd_restore = {
	.name = "restore",
	.args = "[--check] [--confirm-within DURATION] [--allow-empty] FILE|-",
	.summary = "replace the whole policy",
	.help = "Replaces the whole policy (settings, SYN guards, rules, allowlist, blocklist)\n"
		"with the lines of FILE, as `sluice dump` prints them. Everything is validated\n"
		"first; the data path then switches from the complete old to the complete new\n"
		"policy at once. Limiter state of unchanged limits, and all bans, survive.\n"
		"A policy that would drop your SSH client ($SSH_CONNECTION) or an address of\n"
		"$SLUICE_MANAGEMENT is refused unless -f (--force) is given. A FILE with no\n"
		"policy lines is refused unless --allow-empty is given. Prints how many rules\n"
		"and list entries the restore removed (-v names them).\n"
		"  --check                      validate only; change nothing\n"
		"  --confirm-within DURATION    put the previous policy back after DURATION\n"
		"                               unless `sluice confirm` runs first\n"
		"  --allow-empty                take a FILE with no policy lines: remove\n"
		"                               every rule and list entry",
	.min_args = 1,
	.max_args = 1,
	.opts = restore_opts,
	.check = restore_check,
	.run = restore_run,
};

/* guard_confirm takes the pin lock itself: the guard's files are what it works on. */
static int confirm_run(struct verb *v)
{
	int err;

	err = guard_confirm(&v->p);
	if (err == -ENOENT) {
		pr_warn("confirm: no restore awaits confirmation under %s", pin_path);
		return EXIT_RUNTIME;
	}
	if (err) {
		pr_warn("confirm: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	if (json_output)
		json_print(json_pack("{s:b}", "confirmed", 1));
	else
		printf("confirmed\n");
	return EXIT_OK;
}

const struct cmd cmd_confirm = {
	.name = "confirm",
	.args = "",
	.summary = "keep a restore --confirm-within",
	.help = "Keeps the policy of the last `restore --confirm-within`: its rollback guard stops.",
	.max_args = 0,
	.run = confirm_run,
};

static json_t *rules_json(const struct policy_doc *doc)
{
	json_t *arr = json_array();
	char line[GRAMMAR_LINE_MAX];

	for (unsigned int i = 0; i < doc->nrules; i++) {
		format_rule(&doc->rules[i], line, sizeof(line));
		json_array_append_new(
			arr, json_pack("{s:s,s:s}", "name", doc->rules[i].name, "line", line));
	}
	return arr;
}

static int dump_run(struct verb *v)
{
	struct set_table *sets;
	__u64 now = mono_now_ns();
	struct policy_doc doc;
	int err, fds[2] = { -1, -1 };

	cmd_buffer_stdout();
	policy_init(&doc);
	err = lists_open_live(&v->p, &doc, fds);
	if (err) {
		if (err != -EPROTO)
			pr_warn("dump: read policy: %s", strerror(-err));
		policy_free(&doc);
		return EXIT_RUNTIME;
	}
	sets = malloc(sizeof(*sets));
	err = sets ? sets_read(&v->p, sets) : -ENOMEM;
	if (err) {
		pr_warn("dump: read the set names: %s", strerror(-err));
		for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++)
			if (fds[kind] >= 0)
				close(fds[kind]);
		free(sets);
		policy_free(&doc);
		return EXIT_RUNTIME;
	}
	/* Rules first, then the lists streamed: a million entries take no more memory than ten. */
	if (json_output) {
		json_t *rules = rules_json(&doc);

		json_t *guards = json_array();
		char line[GRAMMAR_LINE_MAX];

		printf("{\"malformed\":\"%s\",\"rules\":", doc.malformed_drop ? "drop" : "pass");
		json_dumpf(rules, stdout, JSON_COMPACT);
		json_decref(rules);
		for (unsigned int i = 0; i < doc.nguards; i++) {
			format_guard(&doc.guards[i], line, sizeof(line));
			json_array_append_new(guards, json_string(line));
		}
		fputs(",\"guards\":", stdout);
		json_dumpf(guards, stdout, JSON_COMPACT);
		json_decref(guards);
		fputs(",\"allow\":", stdout);
		err = list_items_stream(stdout, fds[LIST_ALLOW], LIST_ALLOW, now, true, sets, -1);
		fputs(",\"block\":", stdout);
		err = err   ?:
			      list_items_stream(stdout, fds[LIST_BLOCK], LIST_BLOCK, now, true,
						sets, -1);
		fputs("}\n", stdout);
	} else {
		policy_write(stdout, &doc);
		err = list_items_stream(stdout, fds[LIST_ALLOW], LIST_ALLOW, now, false, sets, -1) ?:
			      list_items_stream(stdout, fds[LIST_BLOCK], LIST_BLOCK, now, false,
						sets, -1);
	}
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++)
		if (fds[kind] >= 0)
			close(fds[kind]);
	free(sets);
	policy_free(&doc);
	if (err) {
		pr_warn("dump: read lists: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	return fflush(stdout) ? EXIT_RUNTIME : EXIT_OK;
}

const struct cmd cmd_dump = {
	.name = "dump",
	.args = "",
	.summary = "print the policy as restore reads it",
	.help = "Prints the live policy as lines that `sluice restore` reads back: settings, SYN "
		"guards, rules, allowlist and blocklist with their remaining TTLs.",
	.max_args = 0,
	.pins = CMD_PINS_READ,
	.run = dump_run,
};

/* Reads the live rules, lets EDIT change them, and switches to the result. */
static int rule_change(struct verb *v, int (*edit)(struct verb *, struct policy_doc *))
{
	const char *verb = v->name;
	struct parse_error perr = {};
	struct policy_doc doc;
	struct pins *p = &v->p;
	int err;

	policy_init(&doc);
	err = policy_read_rules(p, &doc);
	if (!err)
		err = edit(v, &doc);
	if (!err)
		err = lockout_check_live(verb, p, NULL, 0, &doc, force);
	if (!err) {
		err = policy_apply(p, &doc, false, &perr);
		if (err)
			report_parse_error(verb, &perr);
	} else if (err != -EPROTO && err != -EINVAL && err != -EEXIST && err != -ENOENT &&
		   err != -ECANCELED && err != -ENOSPC && err != -ERANGE) {
		pr_warn("%s: %s", verb, strerror(-err));
	}
	policy_free(&doc);
	/* A name that clashes is an input error; one that is not there, like `block del`, is not. */
	return err == -EEXIST || err == -ENOSPC || err == -ERANGE ? EXIT_USAGE : exit_code_for(err);
}

static struct rule_spec rule_in; /* the rule of add, insert or replace, parsed before the pins */
static const char *rule_where; /* insert: "before", "after" or "at" */
static const char *rule_other; /* insert: the rule or position it names */

/* Puts rule_in at position AT, with the messages of verb V. */
static int rule_put(struct verb *v, struct policy_doc *doc, unsigned int at)
{
	int err = policy_rule_insert(doc, &rule_in, at);

	if (err == -EEXIST)
		pr_warn("%s: %s: a rule of that name exists; replace it, or delete it first",
			v->name, rule_in.name);
	else if (err == -ENOSPC)
		pr_warn("%s: %s: the policy already has %d rules", v->name, rule_in.name,
			SLUICE_MAX_RULES);
	else if (err == -ERANGE)
		pr_warn("%s: %s: position %u is past the end (%u %s)", v->name, rule_in.name,
			at + 1, doc->nrules, plural(doc->nrules, "rule", "rules"));
	return err;
}

static int edit_add(struct verb *v, struct policy_doc *doc)
{
	return rule_put(v, doc, doc->nrules);
}

static int edit_insert(struct verb *v, struct policy_doc *doc)
{
	unsigned long long n;
	int other;

	if (!strcmp(rule_where, "at")) {
		/* Positions count from 1, as rule list prints the rules. */
		if (!parse_count(rule_other, SLUICE_MAX_RULES, &n) || !n) {
			pr_warn("%s: at: expected a position from 1 to %d, got \"%s\"", v->name,
				SLUICE_MAX_RULES, rule_other);
			return -EINVAL;
		}
		return rule_put(v, doc, (unsigned int)n - 1);
	}
	other = policy_rule_find(doc, rule_other);
	if (other < 0) {
		pr_warn("%s: %s: no such rule", v->name, rule_other);
		return -ENOENT;
	}
	return rule_put(v, doc, other + !strcmp(rule_where, "after"));
}

static int edit_replace(struct verb *v, struct policy_doc *doc)
{
	int err = policy_rule_replace(doc, &rule_in);

	if (err == -ENOENT)
		pr_warn("%s: %s: no such rule; rule add makes one", v->name, rule_in.name);
	return err;
}

static int edit_del(struct verb *v, struct policy_doc *doc)
{
	int err = policy_rule_delete(doc, v->argv[0]);

	if (err == -ENOENT)
		pr_warn("%s: %s: no such rule", v->name, v->argv[0]);
	return err;
}

/* Parses the rule words ARGV[0..ARGC) into rule_in, as compiled later. */
static int rule_words_check(struct verb *v, char **argv, int argc)
{
	struct parse_error perr = {};
	struct sluice_rule compiled;

	if (parse_rule(argv, NULL, argc, &rule_in, &perr) ||
	    compile_rule(&rule_in, &compiled, &perr)) {
		report_parse_error(v->name, &perr);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int rule_add_check(struct verb *v)
{
	return rule_words_check(v, v->argv, v->argc);
}

/* insert NAME before|after OTHER WORDS..., or NAME at N WORDS...: NAME and WORDS a rule. */
static int rule_insert_check(struct verb *v)
{
	char **words = v->argv + 2;
	int ret;

	rule_where = v->argv[1];
	if (strcmp(rule_where, "before") && strcmp(rule_where, "after") &&
	    strcmp(rule_where, "at")) {
		pr_warn("%s: expected before, after or at after the name, got \"%s\"", v->name,
			rule_where);
		return EXIT_USAGE;
	}
	rule_other = v->argv[2];
	/* The rule's words are NAME and what follows OTHER: NAME takes OTHER's place. */
	words[0] = v->argv[0];
	ret = rule_words_check(v, words, v->argc - 2);
	v->argv[2] = (char *)rule_other;
	return ret;
}

static int rule_add_run(struct verb *v)
{
	return rule_change(v, edit_add);
}

static int rule_insert_run(struct verb *v)
{
	return rule_change(v, edit_insert);
}

static int rule_replace_run(struct verb *v)
{
	return rule_change(v, edit_replace);
}

static int rule_del_run(struct verb *v)
{
	return rule_change(v, edit_del);
}

/* `set ...` on the command line: the words of a policy file's set line. */
static char set_line[GRAMMAR_LINE_MAX];

static int set_check(struct verb *v)
{
	struct parse_error perr = {};
	struct policy_doc doc;
	char line[GRAMMAR_LINE_MAX];
	size_t off = snprintf(set_line, sizeof(set_line), "set");
	int err;

	for (int i = 0; i < v->argc && off < sizeof(set_line); i++)
		off += snprintf(set_line + off, sizeof(set_line) - off, " %s", v->argv[i]);
	if (off >= sizeof(set_line)) {
		pr_warn("set: the line is too long");
		return EXIT_USAGE;
	}
	/* Parsed once here, so a bad setting is refused before the pins open. */
	policy_init(&doc);
	snprintf(line, sizeof(line), "%s", set_line);
	err = policy_parse_line(&doc, line, &perr);
	policy_free(&doc);
	if (err) {
		report_parse_error("set", &perr);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int edit_set(struct verb *v, struct policy_doc *doc)
{
	struct parse_error perr = {};
	char line[GRAMMAR_LINE_MAX];
	int err;

	snprintf(line, sizeof(line), "%s", set_line);
	err = policy_parse_line(doc, line, &perr);
	if (err)
		report_parse_error(v->name, &perr);
	return err;
}

static int set_run(struct verb *v)
{
	return rule_change(v, edit_set);
}

const struct cmd cmd_set = {
	.name = "set",
	.args = "malformed drop|pass | events off | events [period D] [sample N] [ceiling N]",
	.summary = "change a setting of the live policy",
	.help = "Changes one setting, as the policy file's set lines do; the rules and lists\n"
		"stay as they are.",
	.min_args = 1,
	.max_args = -1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.check = set_check,
	.run = set_run,
};

static int rule_list_run(struct verb *v)
{
	char line[GRAMMAR_LINE_MAX];
	struct policy_doc doc;
	int err;

	policy_init(&doc);
	err = policy_read_rules(&v->p, &doc);
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

static const struct cmd rule_add = {
	.name = "add",
	.args = "NAME MATCH... [limit ...]... [action ...]",
	.summary = "append a rule",
	.help = "  NAME [ip|ip6] [tcp|udp|icmp] [dport N[-M]] [syn] [dst PREFIX]\n"
		"  [limit KEY... rate RATE [burst N]]... [action drop|pass|monitor|ban DURATION]\n"
		"  [comment TEXT]\n"
		"Appends a rule; see `sluice rule help` for the words.",
	.min_args = 1,
	.max_args = -1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.check = rule_add_check,
	.run = rule_add_run,
};

static const struct cmd rule_insert = {
	.name = "insert",
	.args = "NAME before|after OTHER|at N MATCH... [limit ...]... [action ...]",
	.summary = "place a rule",
	.help = "Puts the rule NAME before or after rule OTHER, or at position N (1 first),\n"
		"as nft's insert does; the rules from there on move down one.",
	.min_args = 3,
	.max_args = -1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.check = rule_insert_check,
	.run = rule_insert_run,
};

static const struct cmd rule_replace = {
	.name = "replace",
	.args = "NAME MATCH... [limit ...]... [action ...]",
	.summary = "change a rule in place",
	.help = "Replaces rule NAME, keeping its position, its counters and the limiter state\n"
		"of every limit left unchanged.",
	.min_args = 1,
	.max_args = -1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.check = rule_add_check,
	.run = rule_replace_run,
};

static const struct cmd rule_del = {
	.name = "del",
	.args = "NAME",
	.summary = "delete a rule",
	.min_args = 1,
	.max_args = 1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.run = rule_del_run,
};

static const struct cmd rule_list = {
	.name = "list",
	.args = "",
	.summary = "the rules, in order",
	.max_args = 0,
	.pins = CMD_PINS_READ,
	.run = rule_list_run,
};

const struct cmd cmd_rule = {
	.name = "rule",
	.summary = "rate-limit and ACL rules",
	.help = "MATCH: ip | ip6, tcp | udp | icmp, dport N or N-M, syn, dst PREFIX\n"
		"limit KEY... rate RATE [burst N]: KEY is src/N and src6/N (default src/32 src6/64),\n"
		"  optionally dport, or global; RATE is 20/s, 1200/m, 10MB/s or 80Mbit/s.\n"
		"First match wins; a packet passes only if every limit of its rule admits it.",
	.verbs = (const struct cmd *const[]){ &rule_add, &rule_insert, &rule_replace, &rule_del,
					      &rule_list, NULL },
};
