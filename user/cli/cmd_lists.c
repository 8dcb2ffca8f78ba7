// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* allow, block, ban */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <bpf/bpf.h>
#include "cmd.h"
#include "import.h"
#include "lockout.h"
#include "log.h"
#include "lists.h"
#include "policy.h"

static const char *const list_names[] = { [LIST_ALLOW] = "allow", [LIST_BLOCK] = "block" };

static json_t *list_item_json(const struct list_item *it)
{
	char pfx[64];
	json_t *o;

	format_prefix(&it->prefix, pfx, sizeof(pfx));
	o = json_pack("{s:s}", "prefix", pfx);
	if (it->ttl_ns)
		json_object_set_new(o, "ttl_sec", json_integer(it->ttl_ns / 1000000000ULL));
	if (it->comment[0])
		json_object_set_new(o, "comment", json_string(it->comment));
	return o;
}

/* Lists up to this many entries print in address order; longer ones as the hash yields them. */
#define LIST_SORTED_MAX 65536

struct item_printer {
	FILE *out;
	bool json;
	size_t n;
	struct list_item *held; /* entries held back for sorting, up to LIST_SORTED_MAX */
	size_t nheld;
};

static int print_one(struct item_printer *pr, const struct list_item *item)
{
	char line[GRAMMAR_LINE_MAX];

	if (pr->json) {
		json_t *o = list_item_json(item);

		fputs(pr->n ? (json_pretty ? ",\n  " : ",") : (json_pretty ? "\n  " : ""), pr->out);
		json_dumpf(o, pr->out, JSON_COMPACT);
		json_decref(o);
	} else {
		format_list_item(item, line, sizeof(line));
		fputs(line, pr->out);
		fputc('\n', pr->out);
	}
	pr->n++;
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

int list_items_stream(FILE *out, int fd, enum list_kind kind, __u64 now, bool json)
{
	struct item_printer pr = { .out = out, .json = json };
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

static int list_add(enum list_kind kind, int argc, char **argv)
{
	struct parse_error perr = {};
	struct list_item item;
	char verb[32], buf[512];
	struct pins p;
	int err;

	snprintf(verb, sizeof(verb), "%s add", list_names[kind]);
	if (argc < 2) {
		fprintf(stderr, "Usage: sluice %s PREFIX [ttl DURATION] [comment TEXT]\n", verb);
		return EXIT_USAGE;
	}
	if (parse_list_item(kind, argv + 1, NULL, argc - 1, &item, &perr)) {
		format_parse_error(&perr, buf, sizeof(buf));
		pr_warn("%s: %s", verb, buf);
		return EXIT_USAGE;
	}
	err = cmd_open_pins(verb, &p, true);
	if (err)
		return err;
	err = guard_blocks(verb, &p, &item, 1);
	if (err) {
		pins_close(&p);
		return exit_code_for(err);
	}
	err = lists_add(&p, &item);
	if (err)
		pr_warn("%s: %s: %s%s", verb, argv[1], strerror(-err),
			err == -ENOSPC || err == -E2BIG ? " (list full)" : "");
	pins_close(&p);
	return exit_code_for(err);
}

static int list_del(enum list_kind kind, int argc, char **argv)
{
	struct parse_error perr = {};
	struct prefix pfx;
	char verb[32];
	struct pins p;
	int err;

	snprintf(verb, sizeof(verb), "%s del", list_names[kind]);
	if (argc != 2) {
		fprintf(stderr, "Usage: sluice %s PREFIX\n", verb);
		return EXIT_USAGE;
	}
	if (parse_prefix(argv[1], &pfx, &perr)) {
		pr_warn("%s: %s", verb, perr.msg);
		return EXIT_USAGE;
	}
	err = cmd_open_pins(verb, &p, true);
	if (err)
		return err;
	err = lists_del(&p, kind, &pfx, NULL);
	if (err == -ENOENT)
		pr_warn("%s: %s: not listed", verb, argv[1]);
	else if (err)
		pr_warn("%s: %s: %s", verb, argv[1], strerror(-err));
	pins_close(&p);
	return exit_code_for(err);
}

static int list_show(enum list_kind kind, int argc, char **argv)
{
	char verb[32];
	struct pins p;
	int err, fds[2] = { -1, -1 };

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "Usage: sluice [-j] %s list\n", list_names[kind]);
		return EXIT_USAGE;
	}
	snprintf(verb, sizeof(verb), "%s list", list_names[kind]);
	cmd_buffer_stdout();
	err = cmd_open_pins(verb, &p, false);
	if (err)
		return err;
	err = lists_open_live(&p, NULL, fds);
	pins_close(&p);
	/* Streamed as the hash yields them: a million entries take no more memory than ten. */
	if (!err)
		err = list_items_stream(stdout, fds[kind], kind, mono_now_ns(), json_output);
	if (json_output && !err)
		fputc('\n', stdout);
	for (int k = LIST_ALLOW; k <= LIST_BLOCK; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	if (err) {
		pr_warn("%s list: %s", list_names[kind], strerror(-err));
		return EXIT_RUNTIME;
	}
	return fflush(stdout) ? EXIT_RUNTIME : EXIT_OK;
}

static int list_flush(enum list_kind kind, int argc, char **argv)
{
	char verb[32];
	struct pins p;
	long n;
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "Usage: sluice %s flush\n", list_names[kind]);
		return EXIT_USAGE;
	}
	snprintf(verb, sizeof(verb), "%s flush", list_names[kind]);
	err = cmd_open_pins(verb, &p, true);
	if (err)
		return err;
	n = lists_flush(&p, kind, NULL);
	pins_close(&p);
	if (n < 0) {
		pr_warn("%s flush: %s", list_names[kind], strerror(-n));
		return EXIT_RUNTIME;
	}
	pr_info("%s flush: removed %ld entries", list_names[kind], n);
	return EXIT_OK;
}

static int list_import(enum list_kind kind, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ttl", required_argument, NULL, 't' },
		{ "comment", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct parse_error perr = {};
	const char *comment = "";
	struct policy_doc doc;
	struct timespec t0, t1;
	char verb[32], buf[512];
	__u64 ttl = 0;
	struct pins p;
	int c, err, ret;

	snprintf(verb, sizeof(verb), "%s import", list_names[kind]);
	optind = 0; /* glibc: also resets its argument permutation */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_duration(optarg, &ttl, &perr)) {
				pr_warn("%s: --ttl: %s", verb, perr.msg);
				return EXIT_USAGE;
			}
			break;
		case 'c':
			if (strlen(optarg) >= SLUICE_COMMENT_LEN) {
				pr_warn("%s: --comment: longer than %d bytes", verb,
					SLUICE_COMMENT_LEN - 1);
				return EXIT_USAGE;
			}
			comment = optarg;
			break;
		case 'h':
			printf("Usage: sluice %s [--ttl DURATION] [--comment TEXT] FILE|-\n\n"
			       "Adds every prefix of FILE: one address or prefix a line, # and ; "
			       "comments\n(Spamhaus DROP, FireHOL netsets), gzip or not. All or "
			       "nothing: a bad line\nchanges nothing.\n",
			       verb);
			return EXIT_OK;
		default:
			return cmd_bad_option(verb, argv, NULL);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: sluice %s [--ttl DURATION] [--comment TEXT] FILE|-\n", verb);
		return EXIT_USAGE;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	policy_init(&doc);
	err = import_list(argv[optind], kind, ttl, comment, &doc, &perr);
	if (err) {
		if (err == -EINVAL) {
			format_parse_error(&perr, buf, sizeof(buf));
			pr_warn("%s", buf);
		} else {
			pr_warn("%s: %s: %s", verb, argv[optind], strerror(-err));
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
	err = lists_import(&p, doc.items, doc.nitems, kind, NULL);
	pins_close(&p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (err) {
		pr_warn("%s: %s: %s%s; nothing was added", verb, argv[optind], strerror(-err),
			err == -ENOSPC || err == -E2BIG ? " (list full)" : "");
	} else if (json_output) {
		json_print(json_pack("{s:I,s:f}", "imported", (json_int_t)doc.nitems, "seconds",
				     (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9));
	} else {
		printf("%s: %zu prefixes in %.3f s\n", verb, doc.nitems,
		       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	}
	policy_free(&doc);
	return exit_code_for(err);
}

#define LIST_VERBS(kind, name)                                                                     \
	static int name##_add(int argc, char **argv)                                               \
	{                                                                                          \
		return list_add(kind, argc, argv);                                                 \
	}                                                                                          \
	static int name##_del(int argc, char **argv)                                               \
	{                                                                                          \
		return list_del(kind, argc, argv);                                                 \
	}                                                                                          \
	static int name##_list(int argc, char **argv)                                              \
	{                                                                                          \
		return list_show(kind, argc, argv);                                                \
	}                                                                                          \
	static int name##_flush(int argc, char **argv)                                             \
	{                                                                                          \
		return list_flush(kind, argc, argv);                                               \
	}                                                                                          \
	static int name##_import(int argc, char **argv)                                            \
	{                                                                                          \
		return list_import(kind, argc, argv);                                              \
	}                                                                                          \
	static const struct cmd name##_cmds[] = {                                                  \
		{ "add", name##_add, "PREFIX [ttl DURATION] [comment TEXT]  add or update" },     \
		{ "del", name##_del, "PREFIX                                remove" },             \
		{ "list", name##_list, "                                      print entries" },  \
		{ "flush", name##_flush, "                                      remove all" },   \
		{ "import", name##_import, "[--ttl D] [--comment T] FILE|-        add a feed" },   \
		{ NULL, NULL, NULL },                                                              \
	}

LIST_VERBS(LIST_ALLOW, allow);
LIST_VERBS(LIST_BLOCK, block);

int cmd_allow(int argc, char **argv)
{
	if (argc >= 2 && cmd_is_help(argv[1])) {
		printf("Usage:\n");
		cmd_list_help(stdout, "sluice allow", allow_cmds);
		printf("\nAllowlisted sources pass before any other check.\n");
		return EXIT_OK;
	}
	return cmd_dispatch("sluice allow", allow_cmds, argc - 1, argv + 1);
}

int cmd_block(int argc, char **argv)
{
	if (argc >= 2 && cmd_is_help(argv[1])) {
		printf("Usage:\n");
		cmd_list_help(stdout, "sluice block", block_cmds);
		printf("\nBlocklisted sources are dropped whatever they send, unless allowlisted.\n");
		return EXIT_OK;
	}
	return cmd_dispatch("sluice block", block_cmds, argc - 1, argv + 1);
}

static void ban_key_prefix(const struct sluice_ban_key *key, struct prefix *pfx)
{
	struct sluice_lpm_key lpm = { .prefixlen = key->prefixlen };

	memcpy(lpm.addr, key->addr, sizeof(lpm.addr));
	key_to_prefix(&lpm, pfx);
}

static int ban_list(int argc, char **argv)
{
	struct sluice_ban_key cur, next;
	struct sluice_policy *pol = NULL;
	__u64 now = mono_now_ns();
	json_t *arr = json_array();
	bool walked = false;
	struct sluice_ban ban;
	__u32 active, slot;
	struct pins p;
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "Usage: sluice [-j] ban list\n");
		json_decref(arr);
		return EXIT_USAGE;
	}
	err = cmd_open_pins("ban list", &p, false);
	if (err) {
		json_decref(arr);
		return err;
	}
	pol = malloc(sizeof(*pol));
	if (pol && !pins_active(&p, &active)) {
		slot = SLUICE_ACTIVE_POLICY(active);
		if (bpf_map_lookup_elem(p.fds[PIN_POLICY], &slot, pol))
			pol->nrules = 0;
	}
	while (bpf_map_get_next_key(p.fds[PIN_BANS], walked ? &cur : NULL, &next) == 0) {
		char pfx[64], ttl[32];
		const char *rule = "";
		struct prefix prefix;

		cur = next;
		walked = true;
		if (bpf_map_lookup_elem(p.fds[PIN_BANS], &cur, &ban) || ban.expires_ns <= now)
			continue;
		ban_key_prefix(&cur, &prefix);
		format_prefix(&prefix, pfx, sizeof(pfx));
		for (__u32 i = 0; pol && i < pol->nrules && i < SLUICE_MAX_RULES; i++)
			if (pol->rules[i].stat_slot == ban.stat_slot)
				rule = pol->rules[i].name;
		if (json_output) {
			json_array_append_new(arr, json_pack("{s:s,s:I,s:s}", "prefix", pfx,
							     "ttl_sec",
							     (json_int_t)((ban.expires_ns - now) /
									  1000000000ULL),
							     "rule", rule));
		} else {
			format_duration((ban.expires_ns - now + 999999999ULL) / 1000000000ULL *
						1000000000ULL,
					ttl, sizeof(ttl));
			printf("%s ttl %s rule %s\n", pfx, ttl, rule[0] ? rule : "-");
		}
	}
	free(pol);
	pins_close(&p);
	if (json_output)
		json_print(arr);
	else
		json_decref(arr);
	return EXIT_OK;
}

static int ban_del(int argc, char **argv)
{
	struct parse_error perr = {};
	struct sluice_ban_key key = {};
	struct sluice_lpm_key lpm;
	struct prefix pfx;
	struct pins p;
	int err;

	if (argc != 2) {
		fprintf(stderr, "Usage: sluice ban del PREFIX\n");
		return EXIT_USAGE;
	}
	if (parse_prefix(argv[1], &pfx, &perr)) {
		pr_warn("ban del: %s", perr.msg);
		return EXIT_USAGE;
	}
	prefix_to_key(&pfx, &lpm);
	key.prefixlen = lpm.prefixlen;
	memcpy(key.addr, lpm.addr, sizeof(key.addr));
	err = cmd_open_pins("ban del", &p, true);
	if (err)
		return err;
	if (bpf_map_delete_elem(p.fds[PIN_BANS], &key)) {
		err = -errno;
		pr_warn("ban del: %s: %s", argv[1], err == -ENOENT ? "not banned" : strerror(-err));
	}
	pins_close(&p);
	return exit_code_for(err);
}

static int ban_flush(int argc, char **argv)
{
	struct sluice_ban_key first;
	struct pins p;
	long n = 0;
	int err;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "Usage: sluice ban flush\n");
		return EXIT_USAGE;
	}
	err = cmd_open_pins("ban flush", &p, true);
	if (err)
		return err;
	while (bpf_map_get_next_key(p.fds[PIN_BANS], NULL, &first) == 0 &&
	       bpf_map_delete_elem(p.fds[PIN_BANS], &first) == 0)
		n++;
	pins_close(&p);
	pr_info("ban flush: removed %ld bans", n);
	return EXIT_OK;
}

int cmd_ban(int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "list", ban_list, "         live bans with remaining time and rule" },
		{ "del", ban_del, "PREFIX   lift a ban (PREFIX as listed)" },
		{ "flush", ban_flush, "         lift every ban" },
		{ NULL, NULL, NULL },
	};

	if (argc >= 2 && cmd_is_help(argv[1])) {
		printf("Usage:\n");
		cmd_list_help(stdout, "sluice ban", cmds);
		printf("\nBans are made by rules with `action ban DURATION` and expire by "
		       "themselves.\n");
		return EXIT_OK;
	}
	return cmd_dispatch("sluice ban", cmds, argc - 1, argv + 1);
}
