// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Decisions: their forms in the stream, the snapshot and the outbox; publishing one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fleet.h"

static const char *const list_names[] = {
	[FLEET_BLOCK] = "block",
	[FLEET_ALLOW] = "allow",
	[FLEET_BAN] = "ban",
};

const char *fleet_list_name(enum fleet_list l)
{
	return list_names[l];
}

static int list_parse(const char *s, size_t n, enum fleet_list *l)
{
	for (size_t i = 0; i < sizeof(list_names) / sizeof(list_names[0]); i++)
		if (strlen(list_names[i]) == n && !memcmp(s, list_names[i], n)) {
			*l = i;
			return 0;
		}
	return -EINVAL;
}

/* Copies N bytes of S into BUF as a string, control characters (a tab, a newline) as '?'. */
static void copy_text(char *buf, size_t len, const char *s, size_t n)
{
	if (n >= len)
		n = len - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	buf[n] = '\0';
}

static int prefix_of(const char *s, size_t n, struct prefix *pfx)
{
	struct parse_error perr = {};
	char buf[64];

	if (n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return parse_prefix(buf, pfx, &perr) ? -EINVAL : 0;
}

static int number_of(const char *s, size_t n, __u64 *v)
{
	char buf[24], *end;

	if (!n || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	*v = strtoull(buf, &end, 10);
	return errno || *end || buf[0] == '-' ? -EINVAL : 0;
}

#define FIELD_IS(name) (lens[i] == strlen(name) && !memcmp(fields[i], name, lens[i]))

int decision_parse(struct decision *d, char *const *fields, const size_t *lens, size_t n)
{
	unsigned int seen = 0;
	int err = 0;

	memset(d, 0, sizeof(*d));
	for (size_t i = 0; i + 1 < n && !err; i += 2) {
		const char *v = fields[i + 1];
		size_t vl = lens[i + 1];

		if (FIELD_IS("op")) {
			if (vl == 3 && !memcmp(v, "del", 3))
				d->del = true;
			else if (vl != 3 || memcmp(v, "add", 3))
				err = -EINVAL;
			seen |= 1;
		} else if (FIELD_IS("list")) {
			err = list_parse(v, vl, &d->list);
			seen |= 2;
		} else if (FIELD_IS("prefix")) {
			err = prefix_of(v, vl, &d->prefix);
			seen |= 4;
		} else if (FIELD_IS("expires")) {
			err = number_of(v, vl, &d->expires_ms);
		} else if (FIELD_IS("comment")) {
			copy_text(d->comment, sizeof(d->comment), v, vl);
		} else if (FIELD_IS("origin")) {
			copy_text(d->origin, sizeof(d->origin), v, vl);
		}
	}
	return err ? err : seen == 7 ? 0 : -EINVAL;
}

void decision_format_line(const struct decision *d, char *buf, size_t len)
{
	char pfx[64];

	format_prefix(&d->prefix, pfx, sizeof(pfx));
	snprintf(buf, len, "%s\t%s\t%s\t%llu\t%s\t%s\n", d->del ? "del" : "add",
		 fleet_list_name(d->list), pfx, (unsigned long long)d->expires_ms, d->origin,
		 d->comment);
}

int decision_parse_line(struct decision *d, const char *line)
{
	char *fields[12];
	size_t lens[12], n = 0;
	static const char *const names[] = {
		"op", "list", "prefix", "expires", "origin", "comment"
	};

	for (const char *s = line; n < 12; n += 2) {
		size_t l = strcspn(s, "\t\n");

		fields[n] = (char *)names[n / 2];
		lens[n] = strlen(names[n / 2]);
		fields[n + 1] = (char *)s;
		lens[n + 1] = l;
		if (s[l] != '\t')
			break;
		s += l + 1;
	}
	return n == 10 ? decision_parse(d, fields, lens, 12) : -EINVAL;
}

/*
 * The stream entry and the snapshot in one step (a script runs atomically). In the
 * snapshot a later expiry wins, as in the maps (0 never expires: +inf); expired members
 * are trimmed as decisions come. The detail hash holds "EXPIRES\tORIGIN\tCOMMENT".
 * KEYS: decisions, active, detail; ARGV: maxlen, op, list, prefix, expires, comment,
 * origin, now.
 */
static const char publish_script[] =
	"local member = ARGV[3] .. '|' .. ARGV[4]\n"
	"local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'op', ARGV[2],\n"
	"  'list', ARGV[3], 'prefix', ARGV[4], 'expires', ARGV[5], 'comment', ARGV[6],\n"
	"  'origin', ARGV[7])\n"
	"if ARGV[2] == 'del' then\n"
	"  redis.call('ZREM', KEYS[2], member)\n"
	"  redis.call('HDEL', KEYS[3], member)\n"
	"else\n"
	"  local score = ARGV[5] == '0' and math.huge or tonumber(ARGV[5])\n"
	"  local cur = redis.call('ZSCORE', KEYS[2], member)\n"
	"  if not cur or (tonumber(cur) or math.huge) < score then\n"
	"    redis.call('ZADD', KEYS[2], ARGV[5] == '0' and '+inf' or ARGV[5], member)\n"
	"    redis.call('HSET', KEYS[3], member, ARGV[5] .. '\\t' .. ARGV[7] .. '\\t' .. ARGV[6])\n"
	"  end\n"
	"end\n"
	"local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[8], 'LIMIT', 0, 64)\n"
	"if #old > 0 then\n"
	"  redis.call('ZREM', KEYS[2], unpack(old))\n"
	"  redis.call('HDEL', KEYS[3], unpack(old))\n"
	"end\n"
	"return id\n";

int fleet_publish(redisContext *c, const struct fleet_config *cfg, const struct decision *d,
		  char *err, size_t len)
{
	char stream[160], active[160], detail[160], pfx[64], maxlen[24], expires[24], now[24];
	const char *argv[] = { "EVAL",
			       publish_script,
			       "3",
			       fleet_key(cfg, "decisions", stream, sizeof(stream)),
			       fleet_key(cfg, "active", active, sizeof(active)),
			       fleet_key(cfg, "detail", detail, sizeof(detail)),
			       maxlen,
			       d->del ? "del" : "add",
			       fleet_list_name(d->list),
			       pfx,
			       expires,
			       d->comment,
			       d->origin,
			       now };
	redisReply *r;
	int ret = 0;

	format_prefix(&d->prefix, pfx, sizeof(pfx));
	snprintf(maxlen, sizeof(maxlen), "%d", FLEET_STREAM_MAXLEN);
	snprintf(expires, sizeof(expires), "%llu", (unsigned long long)d->expires_ms);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)fleet_now_ms());
	r = redisCommandArgv(c, sizeof(argv) / sizeof(argv[0]), argv, NULL);
	if (!r || r->type == REDIS_REPLY_ERROR) {
		snprintf(err, len, "publish: %s", r ? r->str : c->errstr);
		ret = -EIO;
	}
	if (r)
		freeReplyObject(r);
	return ret;
}

/*
 * The version's text and digest in the hash "policies" (field seq counts versions),
 * and "VERSION DIGEST" in "policy", which agents poll. KEYS: policies, policy; ARGV:
 * text, digest (hex), versions kept.
 */
static const char push_script[] = "local v = redis.call('HINCRBY', KEYS[1], 'seq', 1)\n"
				  "redis.call('HSET', KEYS[1], tostring(v), ARGV[1])\n"
				  "redis.call('HDEL', KEYS[1], tostring(v - tonumber(ARGV[3])))\n"
				  "redis.call('SET', KEYS[2], v .. ' ' .. ARGV[2])\n"
				  "return v\n";

int fleet_push_policy(redisContext *c, const struct fleet_config *cfg, const char *text,
		      __u64 digest, long long *version, char *err, size_t len)
{
	char policies[160], policy[160], hex[24], keep[16];
	const char *argv[] = { "EVAL",
			       push_script,
			       "2",
			       fleet_key(cfg, "policies", policies, sizeof(policies)),
			       fleet_key(cfg, "policy", policy, sizeof(policy)),
			       text,
			       hex,
			       keep };
	redisReply *r;
	int ret = 0;

	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)digest);
	snprintf(keep, sizeof(keep), "%d", FLEET_POLICY_KEEP);
	r = redisCommandArgv(c, sizeof(argv) / sizeof(argv[0]), argv, NULL);
	if (!r || r->type != REDIS_REPLY_INTEGER) {
		snprintf(err, len, "push: %s", r && r->str ? r->str : c->errstr);
		ret = -EIO;
	} else {
		*version = r->integer;
	}
	if (r)
		freeReplyObject(r);
	return ret;
}
