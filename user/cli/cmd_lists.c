// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* allow, block, ban */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <bpf/bpf.h>
#include "bans.h"
#include "cmd.h"
#include "import.h"
#include "lockout.h"
#include "log.h"
#include "lists.h"
#include "policy.h"

/* The name of set BIT of list KIND; a bit whose name was lost still prints as a name. */
static const char *set_name(const struct set_table *sets, enum list_kind kind, unsigned int bit,
			    char *buf, size_t len)
{
	if (sets && sets->slot[kind][bit].name[0]) {
		snprintf(buf, len, "%.*s", SLUICE_NAME_LEN - 1, sets->slot[kind][bit].name);
		return buf;
	}
	snprintf(buf, len, "unnamed-%u", bit);
	return buf;
}

static json_t *list_item_json(const struct list_item *it, const struct set_table *sets)
{
	__u64 named = it->sets & ~(1ULL << SLUICE_SET_MANUAL);
	char pfx[64], name[SLUICE_NAME_LEN + 16];
	json_t *o;

	format_prefix(&it->prefix, pfx, sizeof(pfx));
	o = json_pack("{s:s}", "prefix", pfx);
	if (it->ttl_ns)
		json_object_set_new(o, "ttl_sec", json_integer(it->ttl_ns / 1000000000ULL));
	if (it->comment[0])
		json_object_set_new(o, "comment", json_string(it->comment));
	/* Entries of named sets say which, and whether they were also added by hand. */
	if (named) {
		json_t *arr = json_array();

		for (unsigned int bit = 1; bit < SLUICE_MAX_SETS; bit++)
			if (named & (1ULL << bit))
				json_array_append_new(arr,
						      json_string(set_name(sets, it->kind, bit,
									   name, sizeof(name))));
		json_object_set_new(o, "sets", arr);
		json_object_set_new(o, "manual",
				    json_boolean(it->sets & (1ULL << SLUICE_SET_MANUAL)));
	}
	return o;
}

/* Lists up to this many entries print in address order; longer ones as the hash yields them. */
#define LIST_SORTED_MAX 65536

struct item_printer {
	FILE *out;
	bool json;
	const struct set_table *sets; /* names of the sets' bits */
	int only_bit; /* print only the entries of this set; -1: all */
	size_t n;
	struct list_item *held; /* entries held back for sorting, up to LIST_SORTED_MAX */
	size_t nheld;
};

static int print_one(struct item_printer *pr, const struct list_item *item)
{
	char line[GRAMMAR_LINE_MAX];

	if (pr->json) {
		json_t *o = list_item_json(item, pr->sets);

		fputs(pr->n ? (json_pretty ? ",\n  " : ",") : (json_pretty ? "\n  " : ""), pr->out);
		json_dumpf(o, pr->out, JSON_COMPACT);
		json_decref(o);
		pr->n++;
		return ferror(pr->out) ? -EIO : 0;
	}
	/* A line per set that lists it, as restore reads them back into one entry. */
	for (unsigned int bit = 0; bit < SLUICE_MAX_SETS; bit++) {
		char name[SLUICE_NAME_LEN + 16];
		struct list_item one = *item;

		if (item->sets && !(item->sets & (1ULL << bit)))
			continue;
		if (pr->only_bit >= 0 && bit != (unsigned int)pr->only_bit)
			continue;
		if (bit != SLUICE_SET_MANUAL)
			one.set = set_name(pr->sets, item->kind, bit, name, sizeof(name));
		format_list_item(&one, line, sizeof(line));
		fputs(line, pr->out);
		fputc('\n', pr->out);
		pr->n++;
		if (!item->sets)
			break;
	}
	return ferror(pr->out) ? -EIO : 0;
}

static int print_held(struct item_printer *pr)
{
	int err = 0;

	for (size_t i = 0; i < pr->nheld && !err; i++)
		err = print_one(pr, &pr->held[i]);
	pr->nheld = 0;
	return err;
}

static int print_item(const struct list_item *item, void *ctx)
{
	struct item_printer *pr = ctx;
	int err;

	if (pr->only_bit >= 0 && !(item->sets & (1ULL << pr->only_bit)))
		return 0;
	if (!pr->held)
		return print_one(pr, item);
	if (pr->nheld < LIST_SORTED_MAX) {
		pr->held[pr->nheld++] = *item;
		return 0;
	}
	/* Too many to sort in bounded memory: out as they come, held ones first. */
	err = print_held(pr);
	free(pr->held);
	pr->held = NULL;
	return err ?: print_one(pr, item);
}

int list_items_stream(FILE *out, int fd, enum list_kind kind, __u64 now, bool json,
		      const struct set_table *sets, int only_bit)
{
	struct item_printer pr = { .out = out, .json = json, .sets = sets, .only_bit = only_bit };
	int err = 0;

	/* Without the memory to sort, entries still print, as they come. */
	pr.held = malloc(LIST_SORTED_MAX * sizeof(*pr.held));
	if (json)
		fputc('[', out);
	if (fd >= 0)
		err = list_walk(fd, kind, now, print_item, &pr);
	if (pr.held) {
		qsort(pr.held, pr.nheld, sizeof(*pr.held), list_items_compare);
		err = err ?: print_held(&pr);
		free(pr.held);
	}
	if (json)
		fputs(pr.n && json_pretty ? "\n]" : "]", out);
	return err;
}

/* Refuses blocks that would cut off the management path (see lockout.h). */
static int guard_blocks(const char *verb, const struct pins *p, const struct list_item *items,
			size_t n)
{
	struct policy_doc rules;
	int err;

	if (!n || items[0].kind != LIST_BLOCK)
		return 0;
	policy_init(&rules);
	err = policy_read_rules(p, &rules);
	if (err && err != -EPROTO)
		pr_warn("%s: read the live rules: %s", verb, strerror(-err));
	if (!err)
		err = lockout_check_live(verb, p, items, n, &rules, force);
	policy_free(&rules);
	return err;
}

/* "list full: N entries, see attach --list-entries": what ENOSPC means to the operator. */
static const char *list_full(const struct pins *p, char *buf, size_t len)
{
	struct sluice_state state = {};
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state) || !state.list_capacity)
		snprintf(buf, len, "list full, see attach --list-entries");
	else
		snprintf(buf, len, "list full: %u %s, see attach --list-entries",
			 state.list_capacity, plural(state.list_capacity, "entry", "entries"));
	return buf;
}

/* What the checks parsed, before the pins open. */
static struct list_item item_in;
static struct prefix prefix_in;

static const struct cmd_opt set_opt[] = { { "set", 0, true }, {} };

/* The --set NAME of verb V (option index I), checked as a name; "" when not given. */
static int set_option(struct verb *v, int i, const char **set)
{
	*set = v->opt[i] ? v->opt[i] : "";
	if (v->opt[i] && !valid_name(v->opt[i])) {
		pr_warn("%s: --set: expected a NAME of letters, digits, _ . or - (at most %d), got "
			"\"%s\"",
			v->name, SLUICE_NAME_LEN - 1, v->opt[i]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The bit of set NAME of the verb's list in the live sets, reported when there is none. */
static int set_bit_live(struct verb *v, const char *name)
{
	struct set_table *sets = malloc(sizeof(*sets));
	int bit = sets ? sets_read(&v->p, sets) : -ENOMEM;

	if (!bit)
		bit = set_find(sets, v->data, name);
	free(sets);
	if (bit == -ENOENT)
		pr_warn("%s: no set %s in the %slist", v->name, name,
			v->data == LIST_ALLOW ? "allow" : "block");
	else if (bit < 0)
		pr_warn("%s: read the sets: %s", v->name, strerror(-bit));
	return bit;
}

static int list_add_check(struct verb *v)
{
	struct parse_error perr = {};
	char buf[512];

	const char *set;

	if (parse_list_item(v->data, v->argv, NULL, v->argc, &item_in, &perr)) {
		format_parse_error(&perr, buf, sizeof(buf));
		pr_warn("%s: %s", v->name, buf);
		return EXIT_USAGE;
	}
	if (set_option(v, 0, &set))
		return EXIT_USAGE;
	if (set[0] && item_in.set && strcmp(set, item_in.set)) {
		pr_warn("%s: --set %s and set %s name two sets", v->name, set, item_in.set);
		return EXIT_USAGE;
	}
	if (set[0])
		item_in.set = set;
	return EXIT_OK;
}

static int list_add_run(struct verb *v)
{
	int err = guard_blocks(v->name, &v->p, &item_in, 1);
	char full[96];

	if (err)
		return exit_code_for(err);
	err = lists_add(&v->p, &item_in);
	if (err == -ENOSPC || err == -E2BIG)
		pr_warn("%s: %s: %s", v->name, v->argv[0], list_full(&v->p, full, sizeof(full)));
	else if (err)
		pr_warn("%s: %s: %s", v->name, v->argv[0], strerror(-err));
	return exit_code_for(err);
}

static int prefix_check(struct verb *v)
{
	struct parse_error perr = {};
	const char *set;

	if (set_option(v, 0, &set))
		return EXIT_USAGE;
	if (parse_prefix(v->argv[0], &prefix_in, &perr)) {
		pr_warn("%s: %s", v->name, perr.msg);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int list_del_run(struct verb *v)
{
	const char *set = v->opt[0];
	int err = lists_del(&v->p, v->data, &prefix_in, set);

	/* --exist, as ipset's: the prefix is to be absent, and it is. */
	if (err == -ENOENT && v->opt[1])
		return EXIT_OK;
	if (err == -ENOENT && set)
		pr_warn("%s: %s: not listed in set %s", v->name, v->argv[0], set);
	else if (err == -ENOENT)
		pr_warn("%s: %s: not listed", v->name, v->argv[0]);
	else if (err)
		pr_warn("%s: %s: %s", v->name, v->argv[0], strerror(-err));
	return exit_code_for(err);
}

static int list_show_run(struct verb *v)
{
	struct set_table *sets = malloc(sizeof(*sets));
	int bit = -1, err, fds[2] = { -1, -1 };
	const char *set;

	if (set_option(v, 0, &set)) {
		free(sets);
		return EXIT_USAGE;
	}
	err = sets ? sets_read(&v->p, sets) : -ENOMEM;
	if (!err && set[0]) {
		bit = set_bit_live(v, set);
		if (bit < 0) {
			free(sets);
			return bit == -ENOENT ? EXIT_USAGE : EXIT_RUNTIME;
		}
	}
	cmd_buffer_stdout();
	err = err ?: lists_open_live(&v->p, NULL, fds);
	/* Streamed as the hash yields them: a million entries take no more memory than ten. */
	if (!err)
		err = list_items_stream(stdout, fds[v->data], v->data, mono_now_ns(), json_output,
					sets, bit);
	free(sets);
	if (json_output && !err)
		fputc('\n', stdout);
	for (int k = LIST_ALLOW; k <= LIST_BLOCK; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	if (err) {
		pr_warn("%s: %s", v->name, strerror(-err));
		return EXIT_RUNTIME;
	}
	return fflush(stdout) ? EXIT_RUNTIME : EXIT_OK;
}

static int list_flush_run(struct verb *v)
{
	const char *set = v->opt[0];
	long n;

	if (set && !valid_name(set)) {
		pr_warn("%s: --set: not a set name: \"%s\"", v->name, set);
		return EXIT_USAGE;
	}
	n = lists_flush(&v->p, v->data, set);
	if (n == -ENOENT && set) {
		pr_warn("%s: no set %s in the %slist", v->name, set,
			v->data == LIST_ALLOW ? "allow" : "block");
		return EXIT_USAGE;
	}
	if (n < 0) {
		pr_warn("%s: %s", v->name, strerror(-n));
		return EXIT_RUNTIME;
	}
	pr_info("%s: removed %ld %s", v->name, n, plural(n, "entry", "entries"));
	return EXIT_OK;
}

static __u64 import_ttl;
static const char *import_set = "";

static int list_import_check(struct verb *v)
{
	struct parse_error perr = {};

	import_ttl = 0;
	if (v->opt[0] && parse_duration(v->opt[0], &import_ttl, &perr)) {
		pr_warn("%s: --ttl: %s", v->name, perr.msg);
		return EXIT_USAGE;
	}
	if (v->opt[1] && strlen(v->opt[1]) >= SLUICE_COMMENT_LEN) {
		pr_warn("%s: --comment: longer than %d bytes", v->name, SLUICE_COMMENT_LEN - 1);
		return EXIT_USAGE;
	}
	return set_option(v, 2, &import_set);
}

/* The pins open only once the feed is read: it may be a slow stdin, and the lock waits. */
static int list_import_run(struct verb *v)
{
	const char *verb = v->name, *file = v->argv[0];
	struct parse_error perr = {};
	struct policy_doc doc;
	struct timespec t0, t1;
	char buf[512], full[96];
	size_t distinct = 0;
	struct pins p;
	double secs;
	int err, ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	policy_init(&doc);
	import_mask_host_bits = v->opt[3] != NULL;
	err = import_list(file, v->data, import_ttl, v->opt[1] ? v->opt[1] : "", &doc, &perr);
	if (err) {
		if (err == -EINVAL) {
			format_parse_error(&perr, buf, sizeof(buf));
			pr_warn("%s", buf);
		} else {
			pr_warn("%s: %s: %s", verb, file, strerror(-err));
		}
		policy_free(&doc);
		return err == -EINVAL || err == -ENOENT ? EXIT_USAGE : EXIT_RUNTIME;
	}
	ret = cmd_open_pins(verb, &p, true);
	if (ret) {
		policy_free(&doc);
		return ret;
	}
	err = guard_blocks(verb, &p, doc.items, doc.nitems);
	if (err) {
		pins_close(&p);
		policy_free(&doc);
		return exit_code_for(err);
	}
	err = lists_import(&p, doc.items, doc.nitems, v->data, import_set, &distinct);
	if (err == -ENOSPC || err == -E2BIG)
		list_full(&p, full, sizeof(full));
	pins_close(&p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (err == -ENOSPC || err == -E2BIG) {
		pr_warn("%s: %s: %s%s; nothing was changed", verb, file, full,
			import_set[0] && err == -ENOSPC ? " (or no free set)" : "");
	} else if (err) {
		pr_warn("%s: %s: %s; nothing was changed", verb, file, strerror(-err));
	} else if (json_output) {
		json_print(json_pack("{s:I,s:I,s:f}", "imported", (json_int_t)distinct,
				     "duplicates", (json_int_t)(doc.nitems - distinct), "seconds",
				     secs));
	} else if (doc.nitems > distinct) {
		printf("%s: %zu %s in %.3f s (%zu %s listed again)\n", verb, distinct,
		       plural(distinct, "prefix", "prefixes"), secs, doc.nitems - distinct,
		       plural(doc.nitems - distinct, "was", "were"));
	} else {
		printf("%s: %zu %s in %.3f s\n", verb, distinct,
		       plural(distinct, "prefix", "prefixes"), secs);
	}
	policy_free(&doc);
	return exit_code_for(err);
}

/* The verbs of allow and block: one table, the list picked by the object's data. */
static const struct cmd list_add = {
	.name = "add",
	.args = "[--set NAME] PREFIX [ttl DURATION] [comment TEXT] [set NAME]",
	.summary = "add or update",
	.help = "Adds PREFIX by hand, or to the named set NAME (created if new). An entry that\n"
		"other sets list too stays listed as long as any of them lists it.",
	.min_args = 1,
	.max_args = -1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.opts = set_opt,
	.check = list_add_check,
	.run = list_add_run,
};

static const struct cmd list_del = {
	.name = "del",
	.args = "PREFIX [--set NAME] [--exist]",
	.summary = "remove",
	.help = "Removes PREFIX; with --set, only from that set: an entry other sets (or a\n"
		"hand) list too stays. A PREFIX not listed is an error (exit 1), or with\n"
		"--exist, as in ipset, not: the command succeeds with nothing to do.",
	.min_args = 1,
	.max_args = 1,
	.pins = CMD_PINS_WRITE,
	.opts = (const struct cmd_opt[]){ { "set", 0, true }, { "exist", 0, false }, {} },
	.check = prefix_check,
	.run = list_del_run,
};

static const struct cmd list_show = {
	.name = "list",
	.args = "[--set NAME]",
	.summary = "print entries",
	.help = "Prints the entries as `add` lines, one per set that lists an entry; with\n"
		"--set, only that set's.",
	.max_args = 0,
	.pins = CMD_PINS_READ,
	.opts = set_opt,
	.run = list_show_run,
};

static const struct cmd list_flush = {
	.name = "flush",
	.args = "[--set NAME]",
	.summary = "remove all",
	.help = "Removes every entry; with --set, takes the set's entries out (those other\n"
		"sets list stay) and forgets its name.",
	.max_args = 0,
	.pins = CMD_PINS_WRITE,
	.opts = set_opt,
	.run = list_flush_run,
};

static const struct cmd list_import = {
	.name = "import",
	.args = "[--ttl DURATION] [--comment TEXT] [--set NAME] [--mask] FILE|-",
	.summary = "add a feed, or replace a set with it",
	.help = "Adds every prefix of FILE, read by its content: one address or prefix a line\n"
		"with # and ; comments (plain, Spamhaus DROP, FireHOL netsets), Spamhaus DROP\n"
		"JSON, or ipset save output; gzip or not. Without --comment, entries keep a\n"
		"record's SBL id or ipset comment. All or nothing: a bad line changes nothing.\n"
		"With --set NAME, FILE replaces the content of set NAME in one switch: entries\n"
		"that left the feed go, entries by hand and of other sets stay.\n"
		"A prefix with host bits set (10.1.2.3/8) is an error, or with --mask, as in\n"
		"ipset, taken with them cleared (10.0.0.0/8). The summary counts distinct\n"
		"prefixes, and how many lines listed one again.",
	.min_args = 1,
	.max_args = 1,
	.opts = (const struct cmd_opt[]){ { "ttl", 0, true },
					  { "comment", 0, true },
					  { "set", 0, true },
					  { "mask", 0, false },
					  {} },
	.check = list_import_check,
	.run = list_import_run,
};

static const struct cmd *const list_verbs[] = {
	&list_add, &list_del, &list_show, &list_flush, &list_import, NULL,
};

const struct cmd cmd_allow = {
	.name = "allow",
	.summary = "the allowlist",
	.help = "Allowlisted sources pass before any other check.",
	.verbs = list_verbs,
	.data = LIST_ALLOW,
};

const struct cmd cmd_block = {
	.name = "block",
	.summary = "the blocklist",
	.help = "Blocklisted sources are dropped whatever they send, unless allowlisted.",
	.verbs = list_verbs,
	.data = LIST_BLOCK,
};

/* Live entries by set bit of one list, counted in one walk. */
struct set_counts {
	long n[SLUICE_MAX_SETS];
};

static int count_sets(const struct list_item *item, void *ctx)
{
	struct set_counts *c = ctx;

	for (unsigned int bit = 0; bit < SLUICE_MAX_SETS; bit++)
		c->n[bit] += !!(item->sets & (1ULL << bit));
	return 0;
}

static int sets_run(struct verb *v)
{
	struct set_table *sets = malloc(sizeof(*sets));
	struct set_counts counts[2] = {};
	int err, fds[2] = { -1, -1 };
	json_t *arr = json_array();

	err = sets ? sets_read(&v->p, sets) : -ENOMEM;
	err = err ?: lists_open_live(&v->p, NULL, fds);
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK && !err; kind++)
		if (fds[kind] >= 0)
			err = list_walk(fds[kind], kind, mono_now_ns(), count_sets, &counts[kind]);
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++)
		if (fds[kind] >= 0)
			close(fds[kind]);
	if (err) {
		pr_warn("sets: %s", strerror(-err));
		free(sets);
		json_decref(arr);
		return EXIT_RUNTIME;
	}
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++)
		for (unsigned int bit = 1; bit < SLUICE_MAX_SETS; bit++) {
			const struct sluice_set *set = &sets->slot[kind][bit];
			const char *list = kind == LIST_ALLOW ? "allow" : "block";
			char when[32] = "never";
			time_t t = (time_t)set->refreshed;
			struct tm tm;

			if (!set->name[0])
				continue;
			if (t && gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
			if (json_output)
				json_array_append_new(
					arr,
					json_pack("{s:s,s:s%,s:I,s:I,s:I}", "list", list, "name",
						  set->name, strnlen(set->name, SLUICE_NAME_LEN),
						  "entries", (json_int_t)counts[kind].n[bit],
						  "imported", (json_int_t)set->entries, "refreshed",
						  (json_int_t)set->refreshed));
			else
				printf("%s %.*s: %ld %s, %llu at the last import, refreshed %s\n",
				       list, SLUICE_NAME_LEN, set->name, counts[kind].n[bit],
				       plural(counts[kind].n[bit], "entry", "entries"),
				       (unsigned long long)set->entries, when);
		}
	if (json_output)
		json_print(arr);
	else
		json_decref(arr);
	free(sets);
	return EXIT_OK;
}

const struct cmd cmd_sets = {
	.name = "sets",
	.args = "",
	.summary = "the named sets of the lists",
	.help = "Lists the named sets of the allowlist and blocklist: their live entries, how\n"
		"many their last import or restore gave them, and when that was.",
	.max_args = 0,
	.pins = CMD_PINS_READ,
	.run = sets_run,
};

static void ban_key_prefix(const struct sluice_ban_key *key, struct prefix *pfx)
{
	struct sluice_lpm_key lpm = { .prefixlen = key->prefixlen };

	memcpy(lpm.addr, key->addr, sizeof(lpm.addr));
	key_to_prefix(&lpm, pfx);
}

static int ban_list_run(struct verb *v)
{
	struct sluice_ban_key cur, next;
	struct sluice_policy *pol = NULL;
	__u64 now = mono_now_ns();
	json_t *arr = json_array();
	bool walked = false;
	struct sluice_ban ban;
	struct pins *p = &v->p;
	__u32 active, slot;

	pol = malloc(sizeof(*pol));
	if (pol && !pins_active(p, &active)) {
		slot = SLUICE_ACTIVE_POLICY(active);
		if (bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol))
			pol->nrules = 0;
	}
	while (bpf_map_get_next_key(p->fds[PIN_BANS], walked ? &cur : NULL, &next) == 0) {
		char pfx[64], ttl[32];
		const char *rule = "";
		struct prefix prefix;

		cur = next;
		walked = true;
		if (bpf_map_lookup_elem(p->fds[PIN_BANS], &cur, &ban) || ban.expires_ns <= now)
			continue;
		ban_key_prefix(&cur, &prefix);
		format_prefix(&prefix, pfx, sizeof(pfx));
		for (__u32 i = 0; pol && i < pol->nrules && i < SLUICE_MAX_RULES; i++)
			if (pol->rules[i].stat_slot == ban.stat_slot)
				rule = pol->rules[i].name;
		if (json_output) {
			json_array_append_new(
				arr, json_pack("{s:s,s:I,s:s}", "prefix", pfx, "ttl_sec",
					       (json_int_t)((ban.expires_ns - now) / 1000000000ULL),
					       "rule", rule));
		} else {
			format_duration((ban.expires_ns - now + 999999999ULL) / 1000000000ULL *
						1000000000ULL,
					ttl, sizeof(ttl));
			printf("%s ttl %s rule %s\n", pfx, ttl, rule[0] ? rule : "-");
		}
	}
	free(pol);
	if (json_output)
		json_print(arr);
	else
		json_decref(arr);
	return EXIT_OK;
}

static int ban_del_run(struct verb *v)
{
	struct sluice_ban_key key = {};
	struct sluice_lpm_key lpm;
	int err = 0;

	prefix_to_key(&prefix_in, &lpm);
	key.prefixlen = lpm.prefixlen;
	memcpy(key.addr, lpm.addr, sizeof(key.addr));
	if (bpf_map_delete_elem(v->p.fds[PIN_BANS], &key)) {
		err = -errno;
		pr_warn("ban del: %s: %s", v->argv[0],
			err == -ENOENT ? "not banned" : strerror(-err));
	} else {
		/* Its filter bit is stale now: the next collection checks the filter. */
		err = ban_filter_note_removed(&v->p);
		if (err)
			pr_warn("ban del: note it for the ban filter: %s", strerror(-err));
	}
	return exit_code_for(err);
}

static int ban_flush_run(struct verb *v)
{
	int fd = v->p.fds[PIN_BANS], err = 0;
	struct sluice_ban_key key;
	long n = 0;

	/* Always the first key: each delete changes what "next" would mean. */
	while (bpf_map_get_next_key(fd, NULL, &key) == 0) {
		if (!bpf_map_delete_elem(fd, &key)) {
			n++;
		} else if (errno != ENOENT) { /* ENOENT: it expired and went meanwhile */
			struct prefix pfx;
			char text[64];

			err = -errno;
			ban_key_prefix(&key, &pfx);
			format_prefix(&pfx, text, sizeof(text));
			pr_warn("ban flush: %s: %s; %ld %s lifted before it", text, strerror(-err),
				n, plural(n, "ban", "bans"));
			break;
		}
	}
	if (!err && errno != ENOENT) { /* the walk itself failed */
		err = -errno;
		pr_warn("ban flush: read the bans: %s; %ld %s lifted", strerror(-err), n,
			plural(n, "ban", "bans"));
	}
	if (n) {
		int noted = ban_filter_note_removed(&v->p);

		if (noted)
			pr_warn("ban flush: note it for the ban filter: %s", strerror(-noted));
	}
	if (err)
		return EXIT_RUNTIME;
	if (json_output)
		json_print(json_pack("{s:I}", "lifted", (json_int_t)n));
	else
		pr_info("ban flush: removed %ld %s", n, plural(n, "ban", "bans"));
	return EXIT_OK;
}

static const struct cmd ban_list = {
	.name = "list",
	.args = "",
	.summary = "live bans with remaining time and rule",
	.max_args = 0,
	.pins = CMD_PINS_READ,
	.run = ban_list_run,
};

static const struct cmd ban_del = {
	.name = "del",
	.args = "PREFIX",
	.summary = "lift a ban (PREFIX as listed)",
	.min_args = 1,
	.max_args = 1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.check = prefix_check,
	.run = ban_del_run,
};

static const struct cmd ban_flush = {
	.name = "flush",
	.args = "",
	.summary = "lift every ban",
	.max_args = 0,
	.pins = CMD_PINS_WRITE,
	.run = ban_flush_run,
};

const struct cmd cmd_ban = {
	.name = "ban",
	.summary = "dynamic bans",
	.help = "Bans are made by rules with `action ban DURATION` and expire by themselves.",
	.verbs = (const struct cmd *const[]){ &ban_list, &ban_del, &ban_flush, NULL },
};
