// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* sluice agent, and sluice fleet: decisions published to the fleet's Redis, and its status. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "fleet.h"
#include "log.h"
#include "lockout.h"
#include "output.h"
#include "policy.h"

#define AGENT_USAGE                                                                                \
	"Usage: sluice agent [--redis URL] [--redis-password-file FILE] [--host NAME]\n"           \
	"                    [--fleet NAME] [--state-dir DIR]\n"

static const char agent_help[] = AGENT_USAGE
	"\n"
	"Runs until SIGTERM or SIGINT, sharing this host's decisions with the other hosts\n"
	"of the fleet through Redis: bans the rules make here are published, and the\n"
	"bans, blocks and allows published by any host or by `sluice fleet` are applied\n"
	"to the maps under --pin-path (blocks and allows in the set " FLEET_SET ").\n"
	"\n"
	"--redis URL   redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:PATH\n"
	"              (default $SLUICE_REDIS, else " FLEET_DEFAULT_REDIS ")\n"
	"--redis-password-file FILE  the password, on the file's first line\n"
	"              (default $SLUICE_REDIS_PASSWORD_FILE)\n"
	"--host NAME   this host in the fleet (default $SLUICE_HOST, else the hostname)\n"
	"--fleet NAME  fleets sharing one Redis are apart (default $SLUICE_FLEET, else\n"
	"              " FLEET_DEFAULT_NAME ")\n"
	"--state-dir DIR  the stream cursor and the outbox (default $SLUICE_STATE_DIR,\n"
	"              else " FLEET_DEFAULT_STATE_DIR ")\n";

/* The defaults, then the environment (/etc/default/sluice through systemd). */
static void config_from_env(struct fleet_config *cfg)
{
	const char *v;

	fleet_config_init(cfg);
	cfg->pin_path = pin_path;
	if ((v = getenv("SLUICE_REDIS")) && *v)
		cfg->redis = v;
	if ((v = getenv("SLUICE_REDIS_PASSWORD_FILE")) && *v)
		cfg->password_file = v;
	if ((v = getenv("SLUICE_HOST")) && *v)
		snprintf(cfg->host, sizeof(cfg->host), "%s", v);
	if ((v = getenv("SLUICE_FLEET")) && *v)
		snprintf(cfg->fleet, sizeof(cfg->fleet), "%s", v);
	if ((v = getenv("SLUICE_STATE_DIR")) && *v)
		cfg->state_dir = v;
}

static int bad_name(const char *verb, const char *opt, const char *v)
{
	pr_warn("%s: --%s: expected a NAME of letters, digits, _ . or - (at most %d), got \"%s\"",
		verb, opt, FLEET_NAME_MAX - 1, v);
	return EXIT_USAGE;
}

/* Takes a --host or --fleet NAME into BUF; 2 with a message when it is not a name. */
static int set_name(const char *verb, const char *opt, const char *v, char *buf, size_t len)
{
	if (!fleet_valid_name(v))
		return bad_name(verb, opt, v);
	snprintf(buf, len, "%s", v);
	return EXIT_OK;
}

/*
 * Names and the URL from the environment are checked too: a URL no retry can mend is
 * the caller's to fix, before the agent would retry it forever.
 */
static int check_names(const char *verb, struct fleet_config *cfg)
{
	char err[300];

	if (!fleet_valid_name(cfg->host))
		return bad_name(verb, "host", cfg->host);
	if (!fleet_valid_name(cfg->fleet))
		return bad_name(verb, "fleet", cfg->fleet);
	if (fleet_check_url(cfg->redis, err, sizeof(err))) {
		pr_warn("%s: %s", verb, err);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static void agent_usage(FILE *out)
{
	fputs(AGENT_USAGE, out);
}

int cmd_agent(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "redis", required_argument, NULL, 'r' },
		{ "redis-password-file", required_argument, NULL, 'w' },
		{ "host", required_argument, NULL, 'H' },
		{ "fleet", required_argument, NULL, 'F' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct fleet_config cfg;
	int c, rc;

	config_from_env(&cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		rc = EXIT_OK;
		switch (c) {
		case 'r':
			cfg.redis = optarg;
			break;
		case 'w':
			cfg.password_file = optarg;
			break;
		case 'H':
			rc = set_name("agent", "host", optarg, cfg.host, sizeof(cfg.host));
			break;
		case 'F':
			rc = set_name("agent", "fleet", optarg, cfg.fleet, sizeof(cfg.fleet));
			break;
		case 's':
			cfg.state_dir = optarg;
			break;
		case 'h':
			fputs(agent_help, stdout);
			return EXIT_OK;
		default:
			return cmd_bad_option("agent", argv, agent_usage);
		}
		if (rc)
			return rc;
	}
	if (optind < argc) {
		pr_warn("agent: unexpected argument \"%s\"", argv[optind]);
		if (!log_json)
			agent_usage(stderr);
		return EXIT_USAGE;
	}
	rc = check_names("agent", &cfg);
	return rc ? rc : fleet_agent_run(&cfg);
}

/* ---- sluice fleet ---- */

/* The options every fleet verb takes, by index in struct verb's opt[]. */
enum { OPT_REDIS, OPT_PASSWORD, OPT_FLEET, OPT_HOST };

static const struct cmd_opt fleet_opts[] = {
	{ "redis", 0, true },
	{ "redis-password-file", 0, true },
	{ "fleet", 0, true },
	{ "host", 0, true },
	{},
};

#define FLEET_OPTS "[--redis URL] [--redis-password-file FILE] [--fleet NAME]"

static struct fleet_config fleet_cfg;

static int fleet_config_check(struct verb *v)
{
	int rc = EXIT_OK;

	config_from_env(&fleet_cfg);
	if (v->opt[OPT_REDIS])
		fleet_cfg.redis = v->opt[OPT_REDIS];
	if (v->opt[OPT_PASSWORD])
		fleet_cfg.password_file = v->opt[OPT_PASSWORD];
	if (v->opt[OPT_FLEET])
		rc = set_name(v->name, "fleet", v->opt[OPT_FLEET], fleet_cfg.fleet,
			      sizeof(fleet_cfg.fleet));
	if (!rc && v->opt[OPT_HOST])
		rc = set_name(v->name, "host", v->opt[OPT_HOST], fleet_cfg.host,
			      sizeof(fleet_cfg.host));
	return rc ?: check_names(v->name, &fleet_cfg);
}

static redisContext *fleet_open(const char *verb)
{
	char err[300];
	redisContext *c = fleet_connect(&fleet_cfg, err, sizeof(err));

	if (!c)
		pr_warn("%s: %s", verb, err);
	return c;
}

static struct decision decision_in;

static int decision_add_check(struct verb *v)
{
	struct parse_error perr = {};
	struct list_item item;
	char buf[512];
	int rc = fleet_config_check(v);

	if (rc)
		return rc;
	memset(&decision_in, 0, sizeof(decision_in));
	/* The words of `block add`: a prefix, a ttl and a comment, but no set of ours. */
	if (parse_list_item(v->data == FLEET_ALLOW ? LIST_ALLOW : LIST_BLOCK, v->argv, NULL,
			    v->argc, &item, &perr)) {
		format_parse_error(&perr, buf, sizeof(buf));
		pr_warn("%s: %s", v->name, buf);
		return EXIT_USAGE;
	}
	if (item.set) {
		pr_warn("%s: fleet entries are in the set " FLEET_SET ", not %s", v->name,
			item.set);
		return EXIT_USAGE;
	}
	decision_in.list = v->data;
	decision_in.prefix = item.prefix;
	decision_in.expires_ms = item.ttl_ns ? fleet_now_ms() + item.ttl_ns / 1000000ULL : 0;
	memcpy(decision_in.comment, item.comment, sizeof(decision_in.comment));
	snprintf(decision_in.origin, sizeof(decision_in.origin), "%s", fleet_cfg.host);
	return EXIT_OK;
}

static int decision_del_check(struct verb *v)
{
	struct parse_error perr = {};
	int rc = fleet_config_check(v);

	if (rc)
		return rc;
	memset(&decision_in, 0, sizeof(decision_in));
	if (parse_prefix(v->argv[0], &decision_in.prefix, &perr)) {
		pr_warn("%s: %s", v->name, perr.msg);
		return EXIT_USAGE;
	}
	decision_in.del = true;
	decision_in.list = v->data;
	snprintf(decision_in.origin, sizeof(decision_in.origin), "%s", fleet_cfg.host);
	return EXIT_OK;
}

static int decision_publish_run(struct verb *v)
{
	redisContext *c = fleet_open(v->name);
	char err[300];
	int ret;

	if (!c)
		return EXIT_RUNTIME;
	ret = fleet_publish(c, &fleet_cfg, &decision_in, err, sizeof(err));
	redisFree(c);
	if (ret) {
		pr_warn("%s: %s: %s", v->name, v->argv[0], err);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static const struct cmd decision_add = {
	.name = "add",
	.args = FLEET_OPTS " [--host NAME] PREFIX [ttl DURATION] [comment TEXT]",
	.summary = "publish an entry to every host",
	.help = "Publishes the entry to the fleet's Redis; each host's agent adds it to its list,\n"
		"in the set " FLEET_SET ". Fails when Redis is unreachable.",
	.min_args = 1,
	.max_args = -1,
	.words = true,
	.opts = fleet_opts,
	.check = decision_add_check,
	.run = decision_publish_run,
};

static const struct cmd decision_del = {
	.name = "del",
	.args = "PREFIX " FLEET_OPTS " [--host NAME]",
	.summary = "withdraw an entry from every host",
	.min_args = 1,
	.max_args = 1,
	.opts = fleet_opts,
	.check = decision_del_check,
	.run = decision_publish_run,
};

static const struct cmd fleet_block = {
	.name = "block",
	.summary = "blocklist entries of every host",
	.verbs = (const struct cmd *const[]){ &decision_add, &decision_del, NULL },
	.data = FLEET_BLOCK,
};

static const struct cmd fleet_allow = {
	.name = "allow",
	.summary = "allowlist entries of every host",
	.verbs = (const struct cmd *const[]){ &decision_add, &decision_del, NULL },
	.data = FLEET_ALLOW,
};

static const struct cmd fleet_ban = {
	.name = "ban",
	.summary = "bans of every host",
	.verbs = (const struct cmd *const[]){ &decision_del, NULL },
	.data = FLEET_BAN,
};

static struct policy_doc push_doc;

/* The file as `restore --check` takes it; lists are the decisions' business, not the policy's. */
static int push_check(struct verb *v)
{
	struct sluice_policy *pol;
	struct parse_error perr = {};
	char buf[512];
	__u64 fresh;
	int err, rc = fleet_config_check(v);

	if (rc)
		return rc;
	policy_init(&push_doc);
	err = policy_parse_file(v->argv[0], &push_doc, &perr);
	if (err == -EINVAL) {
		format_parse_error(&perr, buf, sizeof(buf));
		pr_warn("%s: %s", v->name, buf);
	} else if (err) {
		pr_warn("%s: %s: %s", v->name, v->argv[0], strerror(-err));
	} else if (!push_doc.nlines) {
		pr_warn("%s: %s: no policy lines", v->name, v->argv[0]);
		err = -EINVAL;
	} else if (push_doc.nitems) {
		pr_warn("%s: %s: %zu list %s: the fleet shares lists with `sluice fleet block|allow "
			"add`, not in its policy",
			v->name, v->argv[0], push_doc.nitems,
			plural((long long)push_doc.nitems, "entry", "entries"));
		err = -EINVAL;
	} else {
		pol = malloc(sizeof(*pol));
		err = pol ? policy_build(&push_doc, NULL, pol, &fresh, &perr) : -ENOMEM;
		free(pol);
		if (err == -EINVAL) {
			snprintf(perr.file, sizeof(perr.file), "%s", v->argv[0]);
			format_parse_error(&perr, buf, sizeof(buf));
			pr_warn("%s: %s", v->name, buf);
		}
		if (!err && lockout_check(v->name, &push_doc, force))
			err = -EINVAL;
	}
	if (err)
		policy_free(&push_doc);
	return err ? exit_code_for(err == -ENOENT ? -EINVAL : err) : EXIT_OK;
}

static int push_run(struct verb *v)
{
	char *text = malloc(SLUICE_TEXT_MAX), err[300];
	redisContext *c = NULL;
	long long version = 0;
	int ret = text ? policy_rules_text(&push_doc, text, SLUICE_TEXT_MAX) : -ENOMEM;

	policy_free(&push_doc);
	if (ret) {
		pr_warn("%s: %s: %s", v->name, v->argv[0], strerror(-ret));
		free(text);
		return EXIT_RUNTIME;
	}
	c = fleet_open(v->name);
	if (c)
		ret = fleet_push_policy(c, &fleet_cfg, text,
					fnv1a64(text, strlen(text), FNV1A64_SEED), &version, err,
					sizeof(err));
	if (c && ret)
		pr_warn("%s: %s: %s", v->name, v->argv[0], err);
	if (c && !ret) {
		if (json_output)
			json_print(json_pack("{s:s, s:I, s:s}", "fleet", fleet_cfg.fleet, "version",
					     (json_int_t)version, "file", v->argv[0]));
		else
			printf("%s: fleet %s policy version %lld\n", v->argv[0], fleet_cfg.fleet,
			       version);
	}
	if (c)
		redisFree(c);
	free(text);
	return c && !ret ? EXIT_OK : EXIT_RUNTIME;
}

static const struct cmd fleet_push = {
	.name = "push",
	.args = "FILE " FLEET_OPTS,
	.summary = "make a policy the fleet's: every host applies it",
	.help = "Checks FILE as `restore --check` does (it may hold rules and settings, not\n"
		"list entries), stores it as the fleet's next policy version and makes it\n"
		"current. Each agent applies it as `restore` would, leaving the lists as they\n"
		"are; a host where it would cut off the management path refuses it, keeps its\n"
		"policy and says why in `fleet status`.",
	.min_args = 1,
	.max_args = 1,
	.opts = fleet_opts,
	.check = push_check,
	.run = push_run,
};

static json_t *host_json(const char *name, const char *text, __u64 now)
{
	json_t *o = json_loads(text, 0, NULL), *beat;

	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	json_object_set_new(o, "host", json_string(name));
	beat = json_object_get(o, "heartbeat_ms");
	if (json_is_integer(beat))
		json_object_set_new(o, "heartbeat_age_ms",
				    json_integer((json_int_t)now - json_integer_value(beat)));
	return o;
}

static int status_run(struct verb *v)
{
	redisContext *c = fleet_open(v->name);
	char key[160];
	const char *argv[] = { "HGETALL", fleet_key(&fleet_cfg, "hosts", key, sizeof(key)) };
	json_t *hosts = json_array(), *h;
	redisReply *r;
	__u64 now = fleet_now_ms();
	size_t i;

	if (!c) {
		json_decref(hosts);
		return EXIT_RUNTIME;
	}
	r = redisCommandArgv(c, 2, argv, NULL);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		pr_warn("%s: HGETALL: %s", v->name, r && r->str ? r->str : c->errstr);
		if (r)
			freeReplyObject(r);
		redisFree(c);
		json_decref(hosts);
		return EXIT_RUNTIME;
	}
	for (i = 0; i + 1 < r->elements; i += 2)
		json_array_append_new(hosts,
				      host_json(r->element[i]->str, r->element[i + 1]->str, now));
	freeReplyObject(r);
	redisFree(c);
	if (json_output) {
		json_print(json_pack("{s:s, s:o}", "fleet", fleet_cfg.fleet, "hosts", hosts));
		return EXIT_OK;
	}
	printf("%-20s %10s %8s %8s %10s %10s %7s  %s\n", "HOST", "HEARTBEAT", "LAG", "OUTBOX",
	       "PUBLISHED", "APPLIED", "POLICY", "LAST ERROR");
	json_array_foreach(hosts, i, h) {
		const char *err = json_string_value(json_object_get(h, "error"));
		json_int_t pv = json_integer_value(json_object_get(h, "policy_version"));
		json_int_t err_ms = json_integer_value(json_object_get(h, "error_ms"));
		char age[32], policy[24] = "-", when[32] = "";

		snprintf(age, sizeof(age), "%.1fs ago",
			 json_integer_value(json_object_get(h, "heartbeat_age_ms")) / 1000.0);
		if (pv)
			snprintf(policy, sizeof(policy), "v%lld", (long long)pv);
		if (err_ms)
			snprintf(when, sizeof(when),
				 "%.0fs ago: ", ((double)now - err_ms) / 1000.0);
		printf("%-20s %10s %7.1fs %8lld %10lld %10lld %7s  %s%s\n",
		       json_string_value(json_object_get(h, "host")), age,
		       json_integer_value(json_object_get(h, "lag_ms")) / 1000.0,
		       (long long)json_integer_value(json_object_get(h, "outbox")),
		       (long long)json_integer_value(json_object_get(h, "published")),
		       (long long)json_integer_value(json_object_get(h, "applied")), policy,
		       err && *err ? when : "", err && *err ? err : "-");
	}
	json_decref(hosts);
	return EXIT_OK;
}

static const struct cmd fleet_status = {
	.name = "status",
	.args = FLEET_OPTS,
	.summary = "each host's heartbeat, sync lag, outbox, policy and last error",
	.max_args = 0,
	.opts = fleet_opts,
	.check = fleet_config_check,
	.run = status_run,
};

const struct cmd cmd_fleet = {
	.name = "fleet",
	.summary = "decisions shared by every host, through Redis",
	.help = "Options --redis, --redis-password-file and --fleet as `sluice agent`'s;\n"
		"--host NAME: the origin the decisions carry (default the hostname).",
	.verbs = (const struct cmd *const[]){ &fleet_block, &fleet_allow, &fleet_ban, &fleet_push,
					      &fleet_status, NULL },
};
