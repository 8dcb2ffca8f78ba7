/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The fleet layer: hosts share bans and list entries through a Redis server (see
 * agent.c for the design). Like the core, it prints nothing and logs through log.h.
 */
#ifndef SLUICE_FLEET_H
#define SLUICE_FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include <hiredis.h>
#include "grammar.h"
#include "values.h"

#define FLEET_DEFAULT_REDIS "redis://127.0.0.1:6379"
#define FLEET_DEFAULT_NAME "default"
#define FLEET_DEFAULT_STATE_DIR "/var/lib/sluice"
/* Every Redis call gives up after this long; the agent then backs off. */
#define FLEET_TIMEOUT_MS 100
/* Entries the decision stream keeps (XADD MAXLEN ~): agents further behind resync. */
#define FLEET_STREAM_MAXLEN 100000
/* Decisions the outbox holds while Redis is unreachable; more are refused and counted. */
#define FLEET_OUTBOX_MAX 100000
/* The named set of both lists that holds the entries applied from the fleet. */
#define FLEET_SET "fleet"
#define FLEET_NAME_MAX 64
#define FLEET_ID_MAX 48 /* a stream id, "MS-SEQ" */

/* Where and as whom: the options of `sluice agent` and `sluice fleet`. */
struct fleet_config {
	const char *redis; /* redis://[:PASSWORD@]HOST[:PORT][/DB] or unix:PATH */
	const char *password_file; /* NULL: none (or the URL's) */
	char host[FLEET_NAME_MAX]; /* this host's name in the fleet */
	char fleet[FLEET_NAME_MAX];
	const char *state_dir;
	const char *pin_path;
};

/* Fills the defaults: the hostname, fleet "default", FLEET_DEFAULT_REDIS. */
void fleet_config_init(struct fleet_config *cfg);

/* Is S a host or fleet name: letters, digits, _ . - and no more than FLEET_NAME_MAX - 1? */
bool fleet_valid_name(const char *s);

/*
 * Connects to the configured Redis with FLEET_TIMEOUT_MS on the connect and on every
 * call after it, authenticates and selects the database. NULL on failure, with why in
 * ERR.
 */
redisContext *fleet_connect(const struct fleet_config *cfg, char *err, size_t len);

/* Is URL a Redis URL fleet_connect takes? -EINVAL with why in ERR if not. */
int fleet_check_url(const char *url, char *err, size_t len);

/* The name of the fleet's key WHAT ("decisions", "active", "detail", "hosts") in BUF. */
const char *fleet_key(const struct fleet_config *cfg, const char *what, char *buf, size_t len);

enum fleet_list {
	FLEET_BLOCK,
	FLEET_ALLOW,
	FLEET_BAN,
};

/* A decision: a stream entry and, while active, a member of the snapshot. */
struct decision {
	bool del; /* op del, else add */
	enum fleet_list list;
	struct prefix prefix;
	__u64 expires_ms; /* CLOCK_REALTIME ms; 0: never */
	char comment[SLUICE_COMMENT_LEN];
	char origin[FLEET_NAME_MAX];
	char id[FLEET_ID_MAX]; /* the stream entry's id, once read back */
};

const char *fleet_list_name(enum fleet_list l);

/* Milliseconds of CLOCK_REALTIME, the clock decisions carry expiries in. */
__u64 fleet_now_ms(void);

/*
 * Publishes D atomically: the stream entry, and the snapshot (a later expiry wins there
 * as in the maps; a deletion removes it). 0, or -EIO with why in ERR.
 */
int fleet_publish(redisContext *c, const struct fleet_config *cfg, const struct decision *d,
		  char *err, size_t len);

/*
 * Reads a decision from the field-value pairs of a stream entry or snapshot record
 * (N strings). -EINVAL when a field is missing or malformed.
 */
int decision_parse(struct decision *d, char *const *fields, const size_t *lens, size_t n);

/* One line of the outbox: the decision, tab-separated, ending in '\n'. */
void decision_format_line(const struct decision *d, char *buf, size_t len);
int decision_parse_line(struct decision *d, const char *line);

/*
 * Stores TEXT, a policy's rule and setting lines whose digest (as in `sluice status`)
 * is DIGEST, as the fleet's next policy version and makes it current; *VERSION is the
 * version. Agents apply it. 0, or -EIO with why in ERR.
 */
int fleet_push_policy(redisContext *c, const struct fleet_config *cfg, const char *text,
		      __u64 digest, long long *version, char *err, size_t len);

/* Policy versions the fleet keeps: older ones are removed as new ones are pushed. */
#define FLEET_POLICY_KEEP 10

/* How often agents publish the usage of fleet-wide limits, and read the others'. */
#define FLEET_EXCHANGE_MS 250
#define FLEET_RECEIVE_MS 50

/* The usage exchange of fleet-wide limits (usage.c), one an agent. */
struct usage;

struct usage *usage_new(const struct fleet_config *cfg);
void usage_free(struct usage *u);

/*
 * One exchange: publishes what the keys of the live policy's fleet-wide limits consumed
 * here since the last one, and charges them what the other hosts published since. 0;
 * -ETIMEDOUT or -EIO when a Redis call timed out or failed (drop the connection);
 * another -errno for the maps. Why in ERR.
 */
int usage_exchange(struct usage *u, redisContext *c, char *err, size_t len);

/*
 * Only charges what the other hosts published since, with the limits of the last
 * exchange: more often than exchanges, so a host learns of the others' sooner.
 */
int usage_receive(struct usage *u, redisContext *c, char *err, size_t len);

/* Runs the agent until SIGTERM or SIGINT: 0, or an exit code. */
int fleet_agent_run(const struct fleet_config *cfg);

#endif /* SLUICE_FLEET_H */
