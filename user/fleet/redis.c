// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The fleet's Redis: configuration, connection with timeouts, key names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fleet.h"

void fleet_config_init(struct fleet_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->redis = FLEET_DEFAULT_REDIS;
	cfg->state_dir = FLEET_DEFAULT_STATE_DIR;
	snprintf(cfg->fleet, sizeof(cfg->fleet), "%s", FLEET_DEFAULT_NAME);
	if (gethostname(cfg->host, sizeof(cfg->host)) || !fleet_valid_name(cfg->host))
		snprintf(cfg->host, sizeof(cfg->host), "localhost");
	cfg->host[sizeof(cfg->host) - 1] = '\0';
}

bool fleet_valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= FLEET_NAME_MAX)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

const char *fleet_key(const struct fleet_config *cfg, const char *what, char *buf, size_t len)
{
	/* The braces make every key of a fleet hash to one slot of a Redis Cluster. */
	snprintf(buf, len, "sluice:{%s}:%s", cfg->fleet, what);
	return buf;
}

__u64 fleet_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The password: the file's first line, without its newline. */
static int read_password(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	int err = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		err = ferror(f) ? -EIO : -ENODATA;
	fclose(f);
	buf[strcspn(buf, "\r\n")] = '\0';
	return err;
}

/* A command's reply is an error, or none came: false, with why in ERR. */
static bool reply_ok(redisContext *c, redisReply *r, const char *what, char *err, size_t len)
{
	bool ok = r && r->type != REDIS_REPLY_ERROR;

	if (!r)
		snprintf(err, len, "%s: %s", what, c->errstr[0] ? c->errstr : "no reply");
	else if (!ok)
		snprintf(err, len, "%s: %s", what, r->str);
	if (r)
		freeReplyObject(r);
	return ok;
}

/*
 * Takes URL apart: a unix socket path (HOST empty, the path in *PATH), or HOST, PORT and
 * DB, with the password it carries in PASSWORD. -EINVAL, with why in ERR.
 */
static int parse_url(const char *url, const char **path, char *host, size_t hostlen, long *port,
		     long *db, char *password, size_t pwlen, char *err, size_t len)
{
	const char *at, *rest;

	host[0] = '\0';
	*port = 6379;
	*db = 0;
	if (!strncmp(url, "unix:", 5) && url[5]) {
		*path = url + 5;
		return 0;
	}
	if (strncmp(url, "redis://", 8)) {
		snprintf(err, len, "%s: expected redis://HOST[:PORT][/DB] or unix:PATH", url);
		return -EINVAL;
	}
	rest = url + 8;
	at = strrchr(rest, '@');
	if (at) {
		const char *colon = memchr(rest, ':', at - rest);
		const char *pw = colon ? colon + 1 : rest;

		snprintf(password, pwlen, "%.*s", (int)(at - pw), pw);
		rest = at + 1;
	}
	size_t hl = strcspn(rest, ":/");

	if (!hl || hl >= hostlen) {
		snprintf(err, len, "%s: expected redis://HOST[:PORT][/DB] or unix:PATH", url);
		return -EINVAL;
	}
	snprintf(host, hostlen, "%.*s", (int)hl, rest);
	rest += hl;
	if (*rest == ':') {
		char *end;

		*port = strtol(rest + 1, &end, 10);
		if (end == rest + 1 || *port < 1 || *port > 65535 || (*end && *end != '/')) {
			snprintf(err, len, "%s: bad port", url);
			return -EINVAL;
		}
		rest = end;
	}
	if (*rest == '/' && rest[1]) {
		char *end;

		*db = strtol(rest + 1, &end, 10);
		if (*end || *db < 0 || *db > 1000000) {
			snprintf(err, len, "%s: bad database number", url);
			return -EINVAL;
		}
	}
	return 0;
}

int fleet_check_url(const char *url, char *err, size_t len)
{
	char host[256], password[512] = "";
	const char *path;
	long port, db;
	int ret = parse_url(url, &path, host, sizeof(host), &port, &db, password, sizeof(password),
			    err, len);

	explicit_bzero(password, sizeof(password));
	return ret;
}

redisContext *fleet_connect(const struct fleet_config *cfg, char *err, size_t len)
{
	struct timeval tv = { 0, FLEET_TIMEOUT_MS * 1000 };
	char host[256], password[512] = "";
	const char *url = cfg->redis, *path = NULL;
	redisContext *c;
	long port, db;

	if (parse_url(url, &path, host, sizeof(host), &port, &db, password, sizeof(password), err,
		      len))
		return NULL;
	if (path)
		c = redisConnectUnixWithTimeout(path, tv);
	else
		c = redisConnectWithTimeout(host, (int)port, tv);
	if (!c || c->err) {
		snprintf(err, len, "connect to %s: %s", url, c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, len, "connect to %s: set the timeout: %s", url, c->errstr);
		redisFree(c);
		return NULL;
	}
	if (cfg->password_file) {
		int e = read_password(cfg->password_file, password, sizeof(password));

		if (e) {
			snprintf(err, len, "%s: %s", cfg->password_file, strerror(-e));
			redisFree(c);
			return NULL;
		}
	}
	if ((password[0] && !reply_ok(c, redisCommand(c, "AUTH %s", password), "AUTH", err, len)) ||
	    (db && !reply_ok(c, redisCommand(c, "SELECT %ld", db), "SELECT", err, len))) {
		redisFree(c);
		return NULL;
	}
	explicit_bzero(password, sizeof(password));
	return c;
}
