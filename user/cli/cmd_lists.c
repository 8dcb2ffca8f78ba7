// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* allow, block, ban */
#include <errno.h>
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

/* What the checks parsed, before the pins open. */
static struct list_item item_in;
static struct prefix prefix_in;

static int list_add_check(struct verb *v)
{
	struct parse_error perr = {};
	char buf[512];

	if (parse_list_item(v->data, v->argv, NULL, v->argc, &item_in, &perr)) {
		format_parse_error(&perr, buf, sizeof(buf));
		pr_warn("%s: %s", v->name, buf);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int list_add_run(struct verb *v)
{
	int err = guard_blocks(v->name, &v->p, &item_in, 1);

	if (err)
		return exit_code_for(err);
	err = lists_add(&v->p, &item_in);
	if (err)
		pr_warn("%s: %s: %s%s", v->name, v->argv[0], strerror(-err),
			err == -ENOSPC || err == -E2BIG ? " (list full)" : "");
	return exit_code_for(err);
}

static int prefix_check(struct verb *v)
{
	struct parse_error perr = {};

	if (parse_prefix(v->argv[0], &prefix_in, &perr)) {
		pr_warn("%s: %s", v->name, perr.msg);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int list_del_run(struct verb *v)
{
	int err = lists_del(&v->p, v->data, &prefix_in, NULL);

	if (err == -ENOENT)
		pr_warn("%s: %s: not listed", v->name, v->argv[0]);
	else if (err)
		pr_warn("%s: %s: %s", v->name, v->argv[0], strerror(-err));
	return exit_code_for(err);
}

static int list_show_run(struct verb *v)
{
	int err, fds[2] = { -1, -1 };

	cmd_buffer_stdout();
	err = lists_open_live(&v->p, NULL, fds);
	/* Streamed as the hash yields them: a million entries take no more memory than ten. */
	if (!err)
		err = list_items_stream(stdout, fds[v->data], v->data, mono_now_ns(), json_output);
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
	long n = lists_flush(&v->p, v->data, NULL);

	if (n < 0) {
		pr_warn("%s: %s", v->name, strerror(-n));
		return EXIT_RUNTIME;
	}
	pr_info("%s: removed %ld entries", v->name, n);
	return EXIT_OK;
}

static __u64 import_ttl;

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
	return EXIT_OK;
}

/* The pins open only once the feed is read: it may be a slow stdin, and the lock waits. */
static int list_import_run(struct verb *v)
{
	const char *verb = v->name, *file = v->argv[0];
	struct parse_error perr = {};
	struct policy_doc doc;
	struct timespec t0, t1;
	char buf[512];
	struct pins p;
	int err, ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	policy_init(&doc);
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
	err = lists_import(&p, doc.items, doc.nitems, v->data, NULL);
	pins_close(&p);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (err) {
		pr_warn("%s: %s: %s%s; nothing was added", verb, file, strerror(-err),
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

/* The verbs of allow and block: one table, the list picked by the object's data. */
static const struct cmd list_add = {
	.name = "add",
	.args = "PREFIX [ttl DURATION] [comment TEXT]",
	.summary = "add or update",
	.min_args = 1,
	.max_args = -1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.check = list_add_check,
	.run = list_add_run,
};

static const struct cmd list_del = {
	.name = "del",
	.args = "PREFIX",
	.summary = "remove",
	.min_args = 1,
	.max_args = 1,
	.words = true,
	.pins = CMD_PINS_WRITE,
	.check = prefix_check,
	.run = list_del_run,
};

static const struct cmd list_show = {
	.name = "list",
	.args = "",
	.summary = "print entries",
	.max_args = 0,
	.pins = CMD_PINS_READ,
	.run = list_show_run,
};

static const struct cmd list_flush = {
	.name = "flush",
	.args = "",
	.summary = "remove all",
	.max_args = 0,
	.pins = CMD_PINS_WRITE,
	.run = list_flush_run,
};

static const struct cmd list_import = {
	.name = "import",
	.args = "[--ttl DURATION] [--comment TEXT] FILE|-",
	.summary = "add a feed",
	.help = "Adds every prefix of FILE: one address or prefix a line, # and ; comments\n"
		"(Spamhaus DROP, FireHOL netsets), gzip or not. All or nothing: a bad line\n"
		"changes nothing.",
	.min_args = 1,
	.max_args = 1,
	.opts = (const struct cmd_opt[]){ { "ttl", 0, true }, { "comment", 0, true }, {} },
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
			pr_warn("ban flush: %s: %s; %ld bans lifted before it", text, strerror(-err),
				n);
			break;
		}
	}
	if (!err && errno != ENOENT) { /* the walk itself failed */
		err = -errno;
		pr_warn("ban flush: read the bans: %s; %ld bans lifted", strerror(-err), n);
	}
	if (err)
		return EXIT_RUNTIME;
	if (json_output)
		json_print(json_pack("{s:I}", "lifted", (json_int_t)n));
	else
		pr_info("ban flush: removed %ld bans", n);
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
