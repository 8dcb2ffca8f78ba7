// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Fleet-wide limits while Redis is reachable (see agent.c's header for the whole):
 * every host enforces the fleet's rate and burst, and the agents exchange what the
 * keys of those limits consumed, each charging its own keys what the others did.
 *
 * What a key consumed here is read from its arrival time (TAT): GCRA advances it by
 * the cost of each admitted packet, so between two reads it moved by exactly what was
 * admitted while the key stayed ahead of the clock (near or over its limit). A key
 * whose bucket refilled in between shows less than it took; it was far from its limit,
 * where the error does not matter. Its TAT as read, plus what we charged it since, is
 * the base the next read subtracts.
 *
 * Amounts go out in the limit's own unit (packets, or bytes), so a host whose limit is
 * compiled otherwise for a while (split while Redis was away) charges what was meant.
 * Each exchange is one XADD to the stream usage (MAXLEN ~ USAGE_MAXLEN), fields
 * "host" then "RULE LIMIT FAMILY DPORT ADDR" and the amount, and one XREAD of what
 * came since the last.
 *
 * Charging a key writes its state where the data path looks for it: its slot, else
 * its sluice_buckets entry, else a new entry there (its bit in its probation line set
 * first, as the data path does, and seeded from probation if it is on it). The slots
 * are not mmapable, so a charge is a lookup and an update: a packet admitted here in
 * the microseconds between them is not charged, and a slot another key takes over in
 * between (possible only when the key's bucket was full) gets its tag back, that key
 * then starting over with a full bucket: one packet, as slot races in the data path.
 */
#include <errno.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "fleet.h"
#include "limits_report.h"
#include "pins.h"
#include "policy.h"

#define USAGE_MAXLEN 1000 /* entries: a few minutes of a few hosts */
#define USAGE_READ_COUNT 1000
/*
 * The furthest a charge moves a key's arrival time ahead of now: four bursts. Others
 * admit within their own view, so the fleet's overshoot is a burst a host at most and
 * this never forgives; and with tolerances at most SLUICE_MAX_TOLERANCE the data path's
 * max(TAT, now) + cost stays clear of wrapping.
 */
#define CHARGE_MAX(lim) (4 * (lim)->tolerance)

/* A key of a fleet-wide limit with live state here. */
struct tracked {
	struct sluice_bucket_key key; /* this host's limit id */
	__u64 base; /* its TAT as last read, plus what was charged since */
	__u64 round; /* the last exchange that saw it */
};

struct usage {
	const struct fleet_config *cfg;
	char stream[160];
	char cursor[FLEET_ID_MAX]; /* "" until the first exchange */
	void *tracked; /* tsearch tree of struct tracked */
	__u64 round;
	__u64 last_read; /* CLOCK_MONOTONIC of the last read, SLUICE_TIME_SHIFT units */
	struct limits_report *r;
	/* The fields to publish, and their text. */
	char **fields;
	size_t nfields, cap;
	const struct pins *p;
	struct sluice_probation *lines; /* mapped while charging */
	__u64 read_now; /* CLOCK_MONOTONIC of this read */
};

static int tracked_cmp(const void *x, const void *y)
{
	return memcmp(&((const struct tracked *)x)->key, &((const struct tracked *)y)->key,
		      sizeof(struct sluice_bucket_key));
}

static struct tracked *tracked_get(struct usage *u, const struct sluice_bucket_key *key,
				   bool create)
{
	struct tracked want = { .key = *key }, **found = tfind(&want, &u->tracked, tracked_cmp), *t;

	if (found || !create)
		return found ? *found : NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->key = *key;
	found = tsearch(t, &u->tracked, tracked_cmp);
	if (!found || *found != t) {
		free(t);
		return found ? *found : NULL;
	}
	return t;
}

struct usage *usage_new(const struct fleet_config *cfg)
{
	struct usage *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->r = calloc(1, sizeof(*u->r));
	if (!u->r) {
		free(u);
		return NULL;
	}
	u->cfg = cfg;
	fleet_key(cfg, "usage", u->stream, sizeof(u->stream));
	return u;
}

static void fields_clear(struct usage *u)
{
	for (size_t i = 0; i < u->nfields; i++)
		free(u->fields[i]);
	u->nfields = 0;
}

void usage_free(struct usage *u)
{
	if (!u)
		return;
	fields_clear(u);
	free(u->fields);
	tdestroy(u->tracked, free);
	free(u->r);
	free(u);
}

static int field_add(struct usage *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int field_add(struct usage *u, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (u->nfields == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 64;
		char **f = realloc(u->fields, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		u->fields = f;
		u->cap = cap;
	}
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	u->fields[u->nfields++] = s;
	return 0;
}

/* Time units of limit LIM to packets or bytes, and back. */
static double units_to_amount(const struct sluice_limit *lim, __u64 units)
{
	if (lim->flags & SLUICE_LIMIT_BYTES)
		return (double)units * (double)lim->byte_rate / (double)SLUICE_UNITS_PER_SEC;
	return lim->interval ? (double)units / (double)lim->interval : 0;
}

static __u64 amount_to_units(const struct sluice_limit *lim, double amount)
{
	double units;

	if (lim->flags & SLUICE_LIMIT_BYTES)
		units = lim->byte_rate ?
				amount * (double)SLUICE_UNITS_PER_SEC / (double)lim->byte_rate :
				0;
	else
		units = amount * (double)lim->interval;
	return units < 0 ? 0 : units > (double)CHARGE_MAX(lim) ? CHARGE_MAX(lim) : (__u64)units;
}

/* A key's prefix length in the 128-bit form, as bucket_key makes it. */
static __u32 key_plen(const struct sluice_limit *lim, __u8 family)
{
	if (lim->key == SLUICE_KEY_GLOBAL)
		return 0;
	return family == SLUICE_FAMILY_IPV4 ? SLUICE_V4_MAPPED_PLEN + lim->prefix4 : lim->prefix6;
}

static bool is_fleet(const struct limits_entry *e)
{
	return e->spec.fleet;
}

static int visit_key(const struct limits_entry *e, const struct sluice_bucket_key *key, __u64 tat,
		     void *ctx)
{
	struct usage *u = ctx;
	struct tracked *t;
	__u64 start;
	int err;

	t = tracked_get(u, key, true);
	if (!t)
		return -ENOMEM;
	/*
	 * A key new here took its first packet since the last read: halfway between, at a
	 * guess, which is off by half an exchange of its rate at most, once.
	 */
	start = t->round ? t->base : e->now - (u->read_now - u->last_read) / 2;
	t->base = tat;
	t->round = u->round;
	if (tat <= start)
		return 0;
	err = field_add(u, "%s %u %u %u %08x%08x%08x%08x", e->rule, e->limit, key->family,
			key->dport, key->addr[0], key->addr[1], key->addr[2], key->addr[3]);
	return err ? err : field_add(u, "%.3f", units_to_amount(&e->lim, tat - start));
}

/* The keys no read saw this round: their buckets refilled, nothing to learn from them. */
static struct tracked **stale;
static size_t nstale, stale_cap;
static __u64 stale_round;

static void stale_visit(const void *node, VISIT which, int depth)
{
	struct tracked *t = *(struct tracked *const *)node;

	(void)depth;
	if ((which != postorder && which != leaf) || t->round == stale_round)
		return;
	if (nstale == stale_cap) {
		size_t cap = stale_cap ? stale_cap * 2 : 256;
		struct tracked **l = realloc(stale, cap * sizeof(*l));

		if (!l)
			return;
		stale = l;
		stale_cap = cap;
	}
	stale[nstale++] = t;
}

static void tracked_prune(struct usage *u)
{
	stale_round = u->round;
	nstale = 0;
	twalk(u->tracked, stale_visit);
	for (size_t i = 0; i < nstale; i++) {
		tdelete(stale[i], &u->tracked, tracked_cmp);
		free(stale[i]);
	}
	free(stale);
	stale = NULL;
	stale_cap = 0;
}

/* Raises a TAT read as CUR by COST at NOW, as an admitted packet would. */
static __u64 charged(const struct sluice_limit *lim, __u64 cur, __u64 now, __u64 cost)
{
	__u64 next = (cur > now ? cur : now) + cost;

	return next - now > CHARGE_MAX(lim) ? now + CHARGE_MAX(lim) : next;
}

/* Charges KEY of limit E COST time units, where the data path keeps its state. */
static int charge(struct usage *u, const struct limits_entry *e,
		  const struct sluice_bucket_key *key, __u64 cost)
{
	const struct pins *p = u->p;
	__u64 now = limits_now(e), cur, next;
	struct sluice_slot_ref ref;
	struct sluice_probation *line;
	struct tracked *t;

	sluice_slot_ref(key, key_plen(&e->lim, key->family), &ref);
	for (int i = 0; i < 2; i++) {
		struct sluice_slot s;

		if (bpf_map_lookup_elem(p->fds[PIN_SLOTS], &ref.idx[i], &s))
			return -errno;
		if (s.tag != ref.tag)
			continue;
		cur = s.tat;
		s.tat = next = charged(&e->lim, cur, now, cost);
		if (bpf_map_update_elem(p->fds[PIN_SLOTS], &ref.idx[i], &s, BPF_EXIST))
			return -errno;
		goto done;
	}
	line = &u->lines[sluice_probation_line(&ref)];
	__u32 bit = sluice_probation_lru_bit(ref.tag);

	/* Set before the entry goes in, as lru_note does: a key whose bit is clear is not looked up. */
	__atomic_fetch_or(&line->in_lru[(bit >> 6) & 1], 1ULL << (bit & 63), __ATOMIC_SEQ_CST);
	if (!bpf_map_lookup_elem(p->fds[PIN_BUCKETS], key, &cur)) {
		next = charged(&e->lim, cur, now, cost);
		if (bpf_map_update_elem(p->fds[PIN_BUCKETS], key, &next, BPF_EXIST))
			return -errno;
		goto done;
	}
	/* No state: what it has on probation, if anything, and the charge. */
	cur = 0;
	for (int w = 0; w < SLUICE_PROBATION_WAYS; w++)
		if (line->tag[w] == ref.tag)
			cur = line->tat[w];
	next = charged(&e->lim, cur, now, cost);
	if (bpf_map_update_elem(p->fds[PIN_BUCKETS], key, &next, BPF_NOEXIST) && errno != EEXIST)
		return -errno;
done:
	/* The next read counts only what this host admits after the charge. */
	t = tracked_get(u, key, true);
	if (!t)
		return -ENOMEM;
	if (t->round == u->round)
		t->base += next - cur;
	else
		t->base = next;
	t->round = u->round;
	return 0;
}

static const struct limits_entry *entry_find(const struct limits_report *r, const char *rule,
					     unsigned int limit)
{
	for (unsigned int i = 0; i < r->n; i++)
		if (r->entries[i].limit == limit && !strcmp(r->entries[i].rule, rule))
			return r->entries[i].spec.fleet ? &r->entries[i] : NULL;
	return NULL;
}

/* Charges what one field of another host's entry says a key consumed. */
static int charge_field(struct usage *u, const char *field, const char *value)
{
	char rule[SLUICE_NAME_LEN], hex[33];
	struct sluice_bucket_key key = {};
	const struct limits_entry *e;
	unsigned int limit, family, dport;
	double amount;
	__u32 addr[4];

	if (sscanf(field, "%31s %u %u %u %32s", rule, &limit, &family, &dport, hex) != 5 ||
	    strlen(hex) != 32 ||
	    sscanf(hex, "%8x%8x%8x%8x", &addr[0], &addr[1], &addr[2], &addr[3]) != 4 ||
	    sscanf(value, "%lf", &amount) != 1 || !(amount > 0))
		return 0; /* not ours to understand: a newer agent's, say */
	e = entry_find(u->r, rule, limit);
	if (!e)
		return 0;
	key.limit_id = e->lim.id;
	if (e->lim.key != SLUICE_KEY_GLOBAL) {
		if (family != SLUICE_FAMILY_IPV4 && family != SLUICE_FAMILY_IPV6)
			return 0;
		key.family = (__u8)family;
		if (e->lim.flags & SLUICE_LIMIT_DPORT)
			key.dport = (__u16)dport;
		sluice_mask_addr(key.addr, addr, key_plen(&e->lim, key.family));
	}
	return charge(u, e, &key, amount_to_units(&e->lim, amount));
}

static redisReply *call(redisContext *c, int argc, const char **argv, int *err, char *ebuf,
			size_t len)
{
	redisReply *r = redisCommandArgv(c, argc, argv, NULL);

	if (!r && c->err == REDIS_ERR_IO && errno == EAGAIN) {
		*err = -ETIMEDOUT;
		snprintf(ebuf, len, "%s %s: timed out", argv[0], argv[1]);
		return NULL;
	}
	if (!r || r->type == REDIS_REPLY_ERROR) {
		*err = -EIO;
		snprintf(ebuf, len, "%s %s: %s", argv[0], argv[1], r ? r->str : c->errstr);
		if (r)
			freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* The cursor at the stream's end, so only what is published from now on is read. */
static int cursor_init(struct usage *u, redisContext *c, char *ebuf, size_t len)
{
	const char *argv[] = { "XREVRANGE", u->stream, "+", "-", "COUNT", "1" };
	redisReply *r;
	int err = 0;

	r = call(c, 6, argv, &err, ebuf, len);
	if (!r)
		return err;
	snprintf(u->cursor, sizeof(u->cursor), "%s",
		 r->elements && r->element[0]->elements ? r->element[0]->element[0]->str : "0-0");
	freeReplyObject(r);
	return 0;
}

static int publish(struct usage *u, redisContext *c, char *ebuf, size_t len)
{
	const char **argv = malloc((u->nfields + 8) * sizeof(*argv));
	char maxlen[16];
	redisReply *r;
	int argc = 0, err = 0;

	if (!argv)
		return -ENOMEM;
	snprintf(maxlen, sizeof(maxlen), "%d", USAGE_MAXLEN);
	argv[argc++] = "XADD";
	argv[argc++] = u->stream;
	argv[argc++] = "MAXLEN";
	argv[argc++] = "~";
	argv[argc++] = maxlen;
	argv[argc++] = "*";
	argv[argc++] = "host";
	argv[argc++] = u->cfg->host;
	for (size_t i = 0; i < u->nfields; i++)
		argv[argc++] = u->fields[i];
	r = call(c, argc, argv, &err, ebuf, len);
	if (r)
		freeReplyObject(r);
	free(argv);
	return err;
}

/* Reads what the other hosts published since the cursor and charges it. */
static int receive(struct usage *u, redisContext *c, char *ebuf, size_t len)
{
	char count[16];
	const char *argv[] = { "XREAD", "COUNT", count, "STREAMS", u->stream, u->cursor };
	size_t bytes = (size_t)SLUICE_PROBATION_LINES * sizeof(struct sluice_probation);
	redisReply *r, *entries;
	int err = 0;

	snprintf(count, sizeof(count), "%d", USAGE_READ_COUNT);
	r = call(c, 6, argv, &err, ebuf, len);
	if (!r)
		return err;
	if (r->type != REDIS_REPLY_ARRAY || !r->elements) {
		freeReplyObject(r);
		return 0;
	}
	entries = r->element[0]->element[1];
	u->lines =
		mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, u->p->fds[PIN_PROBATION], 0);
	if (u->lines == MAP_FAILED) {
		err = -errno;
		snprintf(ebuf, len, "map sluice_probation: %s", strerror(errno));
		u->lines = NULL;
	}
	for (size_t i = 0; !err && i < entries->elements; i++) {
		redisReply *id = entries->element[i]->element[0],
			   *kv = entries->element[i]->element[1];

		snprintf(u->cursor, sizeof(u->cursor), "%s", id->str);
		if (kv->elements < 2 || strcmp(kv->element[0]->str, "host") ||
		    !strcmp(kv->element[1]->str, u->cfg->host))
			continue;
		for (size_t j = 2; !err && j + 1 < kv->elements; j += 2)
			err = charge_field(u, kv->element[j]->str, kv->element[j + 1]->str);
		if (err)
			snprintf(ebuf, len, "charge the usage of %s: %s", kv->element[1]->str,
				 strerror(-err));
	}
	if (u->lines)
		munmap(u->lines, bytes);
	u->lines = NULL;
	freeReplyObject(r);
	return err;
}

/* Whether the live policy has a fleet-wide limit: else there is nothing to read. */
static bool has_fleet_limits(const struct pins *p)
{
	struct policy_doc doc;
	bool has = false;

	policy_init(&doc);
	if (!policy_read_rules(p, &doc))
		for (unsigned int i = 0; i < doc.nrules && !has; i++)
			for (unsigned int j = 0; j < doc.rules[i].nlimits && !has; j++)
				has = doc.rules[i].limits[j].fleet;
	policy_free(&doc);
	return has;
}

int usage_receive(struct usage *u, redisContext *c, char *ebuf, size_t len)
{
	struct pins p;
	int err;

	if (!u->cursor[0] || !u->r->n || pins_open(&p, u->cfg->pin_path, false))
		return 0;
	u->p = &p;
	err = receive(u, c, ebuf, len);
	pins_close(&p);
	u->p = NULL;
	return err;
}

int usage_exchange(struct usage *u, redisContext *c, char *ebuf, size_t len)
{
	struct pins p;
	int err = 0;

	if (!u->cursor[0]) {
		err = cursor_init(u, c, ebuf, len);
		if (err)
			return err;
	}
	if (pins_open(&p, u->cfg->pin_path, false))
		return 0; /* nothing attached: nothing to enforce */
	u->p = &p;
	u->round++;
	u->read_now = mono_now_ns() << SLUICE_TIME_SHIFT;
	if (!u->last_read)
		u->last_read = u->read_now;
	if (has_fleet_limits(&p)) {
		err = limits_keys(&p, u->r, is_fleet, visit_key, u);
		if (err)
			snprintf(ebuf, len, "read the limiter: %s", strerror(-err));
		if (!err && u->nfields)
			err = publish(u, c, ebuf, len);
		/* Published, or to publish next time: at least once, as no one sees it else. */
		if (!err)
			fields_clear(u);
		if (!err)
			err = receive(u, c, ebuf, len);
	} else {
		u->r->n = 0;
		fields_clear(u);
		/* Still a call, so that the agent knows Redis answers; from the stream's end. */
		err = cursor_init(u, c, ebuf, len);
	}
	u->last_read = u->read_now;
	tracked_prune(u);
	pins_close(&p);
	u->p = NULL;
	return err;
}
