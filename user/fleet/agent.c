// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sluice agent: one per host, between the host's pinned maps and the fleet's Redis.
 *
 * Redis holds, per fleet F (keys sluice:{F}:...):
 *   decisions  a stream, XADD MAXLEN ~ FLEET_STREAM_MAXLEN: {op add|del, list
 *              block|allow|ban, prefix, expires (CLOCK_REALTIME ms, 0 never), comment,
 *              origin}; the entry's id is the decision's id and publishing time;
 *   active     a sorted set of the decisions in force, member "LIST|PREFIX", score the
 *              expiry, and detail, a hash of the same members: the snapshot;
 *   hosts      a hash of each host's heartbeat (JSON), which `fleet status` reads;
 *   policy, policies  the current policy version and the versions' text.
 * A decision goes into the stream and the snapshot in one script (decisions.c), so
 * no reader sees one without the other.
 *
 * The agent loops, never waiting on Redis longer than FLEET_TIMEOUT_MS a call:
 *   - XREAD BLOCK from its cursor (a file in the state directory, replaced atomically
 *     after a batch is applied, so a restart resumes where it stopped and at worst
 *     applies a batch again);
 *   - applies a batch under the pin directory's lock: block and allow entries into the
 *     named set FLEET_SET of their list (lists_add, lists_del: `list` shows the set, and
 *     the comment starts with @ORIGIN), bans into sluice_bans (ban_insert). Applying is
 *     idempotent: an entry or ban already there with a later expiry stays, so a
 *     decision delivered twice changes nothing;
 *   - every SCAN_MS, reads the ban map for bans the data path made here and publishes
 *     them. It remembers the expiry of every ban it has published or applied, and
 *     publishes only a ban that outlives that: what came from the stream is never sent
 *     back (no echo), and a restart learns it again from the snapshot;
 *   - every BEAT_MS, applies the fleet's policy if a new version was pushed (the
 *     string policy, "VERSION DIGEST"; the text in the hash policies) as `restore`
 *     does, lists left alone, unless it would cut off a management path of this host
 *     (then it keeps its policy and reports why); writes its heartbeat, and its
 *     figures for the exporter (agent-FLEET.json);
 *   - every FLEET_EXCHANGE_MS, exchanges the usage of the limits marked `fleet`
 *     (usage.c): publishes what each of their keys consumed here since the last
 *     exchange, read from the advance of its arrival time, and (then and every
 *     FLEET_RECEIVE_MS) charges each key what the other hosts published, advancing
 *     its arrival time as admitted packets would. While exchanges go through, every
 *     host enforces the limit's whole rate and burst: a client that reaches one host
 *     gets the fleet's rate there, one spread over several is held to it in all, and
 *     the overshoot is what the others admit before they hear of it: the rate over
 *     the lag (an exchange interval plus a receive interval, about 300 ms), and a
 *     burst a host for a burst that reaches them all within it. When no exchange has
 *     gone through for EXCHANGE_STALE_MS (Redis away), it splits those limits evenly
 *     among the hosts last seen (rate and burst over N, in the live policy in place):
 *     neither open nor closed; whole again once exchanges resume.
 * Only the limiter's maps change: the data path never waits on any of this.
 * An agent without a cursor, or one whose cursor is older than entries the stream
 * trimmed (XINFO STREAM), resyncs: it notes the stream's last id, then applies the
 * snapshot, takes out of the fleet set the entries the snapshot no longer has (their
 * deletions were trimmed), and goes on from that id, so what is published during the
 * resync is read from the stream after it. Bans a lost deletion lifted stay until they
 * expire.
 *
 * While Redis is unreachable, the bans to publish go to the outbox, a file appended and
 * fsynced a decision at a time, bounded at FLEET_OUTBOX_MAX (the rest are counted as
 * refused); on reconnect it is published in order and then truncated. Connection
 * attempts back off from 100 ms to BACKOFF_MAX_MS (the first is at once). The data
 * path never waits on any of this: the hosts keep enforcing what they have.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <jansson.h>
#include "bans.h"
#include "compile.h"
#include "fleet.h"
#include "lists.h"
#include "lockout.h"
#include "log.h"
#include "pins.h"
#include "policy.h"

#define SCAN_MS 100
#define BEAT_MS 1000
#define TRIM_CHECK_MS 5000
#define BACKOFF_MAX_MS 5000
#define READ_COUNT 1000
#define BLOCK_MS 20 /* well under FLEET_TIMEOUT_MS: XREAD's wait ends before the socket's */
#define SEEN_MS 10000
#define EXCHANGE_STALE_MS (4 * FLEET_EXCHANGE_MS)
#define LAT_BUCKETS 10000 /* propagation latency by ms; the last bucket holds the rest */
/* A ban read back from the maps may be off by the clocks' conversion: it is ours within this. */
#define ECHO_SLACK_MS 1000

struct known {
	struct sluice_ban_key key;
	__u64 expires_ms; /* the latest expiry published or applied; 0 never */
};

struct agent {
	const struct fleet_config *cfg;
	redisContext *c;
	char stream[160], active[160], detail[160], hosts[160], policies[160], policy[160];
	long long policy_version; /* the fleet's policy version in force here; 0 none */
	long long policy_refused; /* the last version refused: not tried again */
	char policy_digest[24]; /* of the live policy once it is the fleet's */
	char cursor[FLEET_ID_MAX];
	char cursor_path[512], outbox_path[512], status_path[512], policy_path[512];
	long hosts_seen; /* hosts whose heartbeat is younger than SEEN_MS */
	__u64 hosts_counted_ms; /* when hosts_seen was last counted */
	long share_hosts; /* the hosts fleet-wide limits are split among: the last seen */
	struct usage *usage; /* the fleet-wide limits' usage exchange */
	__u64 usage_ok_ms; /* the last exchange that went through */
	bool exchanging; /* ... recently: fleet-wide limits are whole here, else split */
	long outbox, refused;
	long published, applied;
	__u64 backoff_ms, next_connect, lag_ms;
	char error[256]; /* the last error, kept until another comes */
	__u64 error_ms; /* when */
	long timeouts; /* calls that timed out */
	void *known; /* tsearch tree of struct known */
	__u64 *lat; /* LAT_BUCKETS counts */
	__u64 nlat;
	__u64 connected_ms; /* since when: entries older waited for us, not for the network */
	bool learned; /* the snapshot's bans are known: local ones can be told apart */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void set_error(struct agent *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_error(struct agent *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->error, sizeof(a->error), fmt, ap);
	va_end(ap);
	a->error_ms = fleet_now_ms();
	pr_warn("agent: %s", a->error);
}

/*
 * The first attempt after a connection is lost is at once (a call timed out on a busy
 * server, say); the next ones wait 100 ms, doubling up to BACKOFF_MAX_MS.
 */
static void backoff(struct agent *a)
{
	a->next_connect = fleet_now_ms() + a->backoff_ms;
	a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : 100;
	if (a->backoff_ms > BACKOFF_MAX_MS)
		a->backoff_ms = BACKOFF_MAX_MS;
}

static void disconnect(struct agent *a)
{
	if (!a->c)
		return;
	redisFree(a->c);
	a->c = NULL;
	backoff(a);
}

/* A command with its reply checked: NULL (and disconnected) on an error or a timeout. */
static redisReply *command(struct agent *a, int argc, const char **argv)
{
	redisReply *r = redisCommandArgv(a->c, argc, argv, NULL);

	if (!r && a->c->err == REDIS_ERR_IO && errno == EAGAIN) {
		/* A busy server, not a lost one: counted, said at the debug level, reconnected. */
		a->timeouts++;
		pr_debug("agent: %s: timed out", argv[0]);
		disconnect(a);
		return NULL;
	}
	if (!r || r->type == REDIS_REPLY_ERROR) {
		set_error(a, "%s: %s", argv[0], r ? r->str : a->c->errstr);
		if (r)
			freeReplyObject(r);
		disconnect(a);
		return NULL;
	}
	return r;
}

static int known_cmp(const void *x, const void *y)
{
	return memcmp(&((const struct known *)x)->key, &((const struct known *)y)->key,
		      sizeof(struct sluice_ban_key));
}

static struct known *known_find(struct agent *a, const struct sluice_ban_key *key)
{
	struct known k = { .key = *key }, **found = tfind(&k, &a->known, known_cmp);

	return found ? *found : NULL;
}

/* Notes that the ban under KEY is known until EXPIRES_MS (a later expiry wins). */
static void known_note(struct agent *a, const struct sluice_ban_key *key, __u64 expires_ms)
{
	struct known *k = known_find(a, key), **slot;

	if (k) {
		if (k->expires_ms && (!expires_ms || expires_ms > k->expires_ms))
			k->expires_ms = expires_ms;
		return;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return; /* at worst the ban is published again: idempotent */
	k->key = *key;
	k->expires_ms = expires_ms;
	slot = tsearch(k, &a->known, known_cmp);
	if (!slot || *slot != k)
		free(k);
}

static void known_forget(struct agent *a, const struct sluice_ban_key *key)
{
	struct known *k = known_find(a, key);

	if (k) {
		tdelete(k, &a->known, known_cmp);
		free(k);
	}
}

/* The expired entries, gathered by twalk (which has no context argument). */
static struct known **prune_list;
static size_t prune_n, prune_cap;
static __u64 prune_now;

static void prune_visit(const void *node, VISIT which, int depth)
{
	struct known *k = *(struct known *const *)node;

	(void)depth;
	if ((which != postorder && which != leaf) || !k->expires_ms || k->expires_ms > prune_now)
		return;
	if (prune_n == prune_cap) {
		size_t cap = prune_cap ? prune_cap * 2 : 256;
		struct known **l = realloc(prune_list, cap * sizeof(*l));

		if (!l)
			return;
		prune_list = l;
		prune_cap = cap;
	}
	prune_list[prune_n++] = k;
}

static void known_prune(struct agent *a)
{
	prune_now = fleet_now_ms();
	prune_n = 0;
	twalk(a->known, prune_visit);
	for (size_t i = 0; i < prune_n; i++) {
		tdelete(prune_list[i], &a->known, known_cmp);
		free(prune_list[i]);
	}
	free(prune_list);
	prune_list = NULL;
	prune_cap = 0;
}

static void ban_key_of(const struct prefix *pfx, struct sluice_ban_key *key)
{
	struct sluice_lpm_key lpm;

	prefix_to_key(pfx, &lpm);
	memset(key, 0, sizeof(*key));
	key->prefixlen = lpm.prefixlen;
	memcpy(key->addr, lpm.addr, sizeof(key->addr));
}

/* The live policy (free it), or NULL. */
static struct sluice_policy *live_policy(const struct pins *p)
{
	struct sluice_policy *pol = malloc(sizeof(*pol));
	__u32 active, slot;

	if (pol && !pins_active(p, &active)) {
		slot = SLUICE_ACTIVE_POLICY(active);
		if (!bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol))
			return pol;
	}
	free(pol);
	return NULL;
}

/*
 * A ban's comment names the rule that made it ("rule NAME"); a host applying it counts
 * it under its own rule of that name, or under none (a slot no rule has).
 */
#define BAN_NO_RULE 0xffffffffU

static __u32 ban_slot(const struct sluice_policy *pol, const char *comment)
{
	if (!pol || strncmp(comment, "rule ", 5))
		return BAN_NO_RULE;
	for (__u32 i = 0; i < pol->nrules && i < SLUICE_MAX_RULES; i++)
		if (!strncmp(pol->rules[i].name, comment + 5, SLUICE_NAME_LEN))
			return pol->rules[i].stat_slot;
	return BAN_NO_RULE;
}

/* ---- the state directory: cursor and outbox ---- */

static int cursor_load(struct agent *a)
{
	FILE *f = fopen(a->cursor_path, "r");

	a->cursor[0] = '\0';
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	if (fgets(a->cursor, sizeof(a->cursor), f))
		a->cursor[strcspn(a->cursor, "\n")] = '\0';
	fclose(f);
	/* A stream id is MS-SEQ; anything else is a file to ignore, as if there were none. */
	if (strspn(a->cursor, "0123456789-") != strlen(a->cursor) || !strchr(a->cursor, '-'))
		a->cursor[0] = '\0';
	return 0;
}

/*
 * Replaces the cursor file in one step: a crash leaves the old cursor or the new. Not
 * synced: a cursor lost with the page cache (an empty or torn file after a power loss)
 * means a resync or an older cursor, and decisions applied twice change nothing.
 */
static int cursor_save(struct agent *a)
{
	char tmp[520];
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", a->cursor_path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (dprintf(fd, "%s\n", a->cursor) < 0)
		err = -errno;
	close(fd);
	if (!err && rename(tmp, a->cursor_path))
		err = -errno;
	if (err)
		set_error(a, "save the cursor %s: %s", a->cursor_path, strerror(-err));
	return err;
}

static long outbox_count(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int ch;

	if (!f)
		return 0;
	while ((ch = getc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static void outbox_put(struct agent *a, const struct decision *d)
{
	char line[512];
	int fd;

	if (a->outbox >= FLEET_OUTBOX_MAX) {
		a->refused++;
		return;
	}
	decision_format_line(d, line, sizeof(line));
	fd = open(a->outbox_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) || fdatasync(fd)) {
		set_error(a, "outbox %s: %s", a->outbox_path, strerror(errno));
		a->refused++;
	} else {
		a->outbox++;
	}
	if (fd >= 0)
		close(fd);
}

/* Publishes the outbox in order, then empties it; on a failure it stays, to be sent again. */
static void outbox_flush(struct agent *a)
{
	char line[512], err[256];
	struct decision d;
	FILE *f;

	if (!a->outbox)
		return;
	f = fopen(a->outbox_path, "r");
	if (!f) {
		set_error(a, "outbox %s: %s", a->outbox_path, strerror(errno));
		return;
	}
	while (a->c && fgets(line, sizeof(line), f)) {
		if (decision_parse_line(&d, line))
			continue; /* a torn last line: its ban is published by the next scan */
		if (fleet_publish(a->c, a->cfg, &d, err, sizeof(err))) {
			set_error(a, "%s", err);
			disconnect(a);
		} else {
			a->published++;
		}
	}
	fclose(f);
	if (a->c) {
		if (truncate(a->outbox_path, 0))
			set_error(a, "outbox %s: %s", a->outbox_path, strerror(errno));
		else
			a->outbox = 0;
	}
}

/* ---- applying decisions to the maps ---- */

static __u64 mono_of(__u64 expires_ms, __u64 now_ms, __u64 mono)
{
	return mono + (expires_ms - now_ms) * 1000000ULL;
}

/* Is the entry of ITEM's prefix in the fleet set already there until at least EXPIRES? */
static bool list_has(struct pins *p, const struct list_item *item, __u64 expires_ns, int bit)
{
	struct sluice_list_entry old;
	struct sluice_lpm_key key;
	__u32 active;
	bool has = false;
	int fd;

	if (bit < 0 || pins_active(p, &active))
		return false;
	fd = list_open(p, item->kind, SLUICE_ACTIVE_LISTS(active));
	if (fd < 0)
		return false;
	prefix_to_key(&item->prefix, &key);
	if (!bpf_map_lookup_elem(fd, &key, &old) && (old.sets & (1ULL << bit)) &&
	    !strcmp(old.comment, item->comment))
		has = !old.expires_ns ? true : expires_ns && old.expires_ns >= expires_ns;
	close(fd);
	return has;
}

struct batch {
	struct sluice_ban_key *keys;
	struct sluice_ban *bans;
	size_t n, cap;
	struct policy_doc rules; /* for the anti-lockout check of blocks */
	bool rules_read;
	struct sluice_policy *pol; /* for the bans' rules; NULL until a ban comes */
};

static int apply_list(struct agent *a, struct pins *p, struct batch *b, const struct decision *d,
		      const struct set_table *sets)
{
	enum list_kind kind = d->list == FLEET_ALLOW ? LIST_ALLOW : LIST_BLOCK;
	__u64 now = fleet_now_ms(), mono = mono_now_ns(), expires_ns = 0;
	struct list_item item = { .kind = kind, .prefix = d->prefix, .set = FLEET_SET };
	char pfx[64];
	int err;

	format_prefix(&d->prefix, pfx, sizeof(pfx));
	if (d->del) {
		err = lists_del(p, kind, &d->prefix, FLEET_SET);
		return err == -ENOENT ? 0 : err;
	}
	if (d->expires_ms) {
		if (d->expires_ms <= now)
			return 0;
		expires_ns = mono_of(d->expires_ms, now, mono);
		item.ttl_ns = expires_ns - mono;
	}
	snprintf(item.comment, sizeof(item.comment), "@%s%s%s", d->origin, d->comment[0] ? " " : "",
		 d->comment);
	if (list_has(p, &item, expires_ns, set_find(sets, kind, FLEET_SET)))
		return 0;
	if (kind == LIST_BLOCK) {
		if (!b->rules_read) {
			policy_init(&b->rules);
			b->rules_read = !policy_read_rules(p, &b->rules);
		}
		if (b->rules_read && lockout_check_live("agent", p, &item, 1, &b->rules, false)) {
			set_error(a,
				  "block %s from %s refused: it would cut off the management path",
				  pfx, d->origin);
			return 0;
		}
	}
	return lists_add(p, &item);
}

static int batch_ban(const struct pins *p, struct batch *b, const struct decision *d)
{
	__u64 now = fleet_now_ms();

	if (d->expires_ms && d->expires_ms <= now)
		return 0;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct sluice_ban_key *k = realloc(b->keys, cap * sizeof(*k));
		struct sluice_ban *v = k ? realloc(b->bans, cap * sizeof(*v)) : NULL;

		if (k)
			b->keys = k;
		if (!v)
			return -ENOMEM;
		b->bans = v;
		b->cap = cap;
	}
	if (!b->pol)
		b->pol = live_policy(p);
	ban_key_of(&d->prefix, &b->keys[b->n]);
	b->bans[b->n] = (struct sluice_ban){
		/* A ban never expiring lasts as long as the map's clock can say. */
		.expires_ns = d->expires_ms ? mono_of(d->expires_ms, now, mono_now_ns()) : ~0ULL,
		.stat_slot = ban_slot(b->pol, d->comment),
	};
	b->n++;
	return 0;
}

/*
 * Applies N decisions under the lock. -ENOENT when nothing is attached: the caller
 * keeps its cursor and tries again.
 */
static int apply(struct agent *a, const struct decision *ds, size_t n)
{
	struct set_table *sets = malloc(sizeof(*sets));
	struct batch b = {};
	struct pins p;
	int err;

	if (!sets)
		return -ENOMEM;
	err = pins_open(&p, a->cfg->pin_path, true);
	if (err) {
		set_error(a, "open the pins in %s: %s", a->cfg->pin_path, strerror(-err));
		free(sets);
		return err;
	}
	err = sets_read(&p, sets);
	for (size_t i = 0; i < n && !err; i++) {
		const struct decision *d = &ds[i];
		struct sluice_ban_key key;
		int e = 0;

		if (d->list != FLEET_BAN) {
			bool known_set = set_find(sets,
						  d->list == FLEET_ALLOW ? LIST_ALLOW : LIST_BLOCK,
						  FLEET_SET) >= 0;

			e = apply_list(a, &p, &b, d, sets);
			/* The first add made the set: its bit, for the next ones. */
			if (!e && !d->del && !known_set)
				e = sets_read(&p, sets);
		} else if (d->del) {
			ban_key_of(&d->prefix, &key);
			known_forget(a, &key);
			if (!bpf_map_delete_elem(p.fds[PIN_BANS], &key))
				e = ban_filter_note_removed(&p);
		} else {
			ban_key_of(&d->prefix, &key);
			known_note(a, &key, d->expires_ms);
			e = batch_ban(&p, &b, d);
		}
		if (e) {
			char pfx[64];

			format_prefix(&d->prefix, pfx, sizeof(pfx));
			set_error(a, "%s %s %s: %s", fleet_list_name(d->list),
				  d->del ? "del" : "add", pfx, strerror(-e));
		}
		a->applied++;
	}
	if (!err && b.n) {
		long r = ban_insert(&p, b.keys, b.bans, b.n);

		if (r < 0)
			set_error(a, "insert %zu bans: %s", b.n, strerror((int)-r));
	}
	if (b.rules_read)
		policy_free(&b.rules);
	free(b.keys);
	free(b.bans);
	free(b.pol);
	free(sets);
	pins_close(&p);
	return err;
}

/* ---- reading the stream and the snapshot ---- */

static __u64 id_ms(const char *id)
{
	return strtoull(id, NULL, 10);
}

/* <0, 0, >0 as stream id X is before, equal to or after Y. */
static int id_cmp(const char *x, const char *y)
{
	unsigned long long xm = 0, xs = 0, ym = 0, ys = 0;

	sscanf(x, "%llu-%llu", &xm, &xs);
	sscanf(y, "%llu-%llu", &ym, &ys);
	return xm != ym ? (xm < ym ? -1 : 1) : xs != ys ? (xs < ys ? -1 : 1) : 0;
}

static void note_latency(struct agent *a, const char *id)
{
	__u64 now = fleet_now_ms(), ms = id_ms(id);
	__u64 lat = now > ms ? now - ms : 0;

	if (ms < a->connected_ms)
		return;
	a->lat[lat < LAT_BUCKETS ? lat : LAT_BUCKETS - 1]++;
	a->nlat++;
}

static long percentile(const struct agent *a, double q)
{
	__u64 want = (__u64)(q * a->nlat), sum = 0;

	if (!a->nlat)
		return -1;
	for (long i = 0; i < LAT_BUCKETS; i++) {
		sum += a->lat[i];
		if (sum > want)
			return i;
	}
	return LAT_BUCKETS - 1;
}

/* One XREAD: applies what it returns and moves the cursor past it. */
static void read_stream(struct agent *a)
{
	char count[16], block[16];
	const char *argv[] = { "XREAD", "COUNT",   count,     "BLOCK",
			       block,	"STREAMS", a->stream, a->cursor[0] ? a->cursor : "$" };
	struct decision *ds;
	redisReply *r, *entries;
	size_t n = 0;

	snprintf(count, sizeof(count), "%d", READ_COUNT);
	snprintf(block, sizeof(block), "%d", BLOCK_MS);
	r = command(a, 8, argv);
	if (!r)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[0]->elements < 2) {
		a->lag_ms = 0;
		freeReplyObject(r);
		return;
	}
	entries = r->element[0]->element[1];
	ds = calloc(entries->elements ? entries->elements : 1, sizeof(*ds));
	if (!ds) {
		freeReplyObject(r);
		return;
	}
	for (size_t i = 0; i < entries->elements; i++) {
		redisReply *e = entries->element[i], *f;
		char *fields[32];
		size_t lens[32], nf;

		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2)
			continue;
		f = e->element[1];
		nf = f->elements < 32 ? f->elements : 32;
		for (size_t j = 0; j < nf; j++) {
			fields[j] = f->element[j]->str;
			lens[j] = f->element[j]->len;
		}
		if (decision_parse(&ds[n], fields, lens, nf)) {
			set_error(a, "stream entry %s: malformed, skipped", e->element[0]->str);
			continue;
		}
		snprintf(ds[n].id, sizeof(ds[n].id), "%s", e->element[0]->str);
		n++;
	}
	if (apply(a, ds, n)) {
		poll(NULL, 0, BLOCK_MS); /* nothing attached yet: the same batch again, later */
	} else if (entries->elements) {
		redisReply *last = entries->element[entries->elements - 1];

		for (size_t i = 0; i < n; i++)
			note_latency(a, ds[i].id);
		snprintf(a->cursor, sizeof(a->cursor), "%s", last->element[0]->str);
		cursor_save(a);
		/* A full batch: more are waiting, and we are this far behind. */
		a->lag_ms = entries->elements == READ_COUNT ? fleet_now_ms() - id_ms(a->cursor) : 0;
	}
	free(ds);
	freeReplyObject(r);
}

/* A field of a flat key-value reply (XINFO STREAM), or NULL. */
static redisReply *reply_field(redisReply *r, const char *name)
{
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STATUS ||
		    r->element[i]->type == REDIS_REPLY_STRING)
			if (!strcmp(r->element[i]->str, name))
				return r->element[i + 1];
	return NULL;
}

/*
 * Does the agent need the snapshot: no cursor, or entries after it trimmed away? Also
 * gives the stream's last id in LAST ("0-0" when there is no stream).
 */
static int needs_resync(struct agent *a, char *last, size_t len, bool *need)
{
	const char *argv[] = { "XINFO", "STREAM", a->stream };
	redisReply *r = redisCommandArgv(a->c, 3, argv, NULL), *v, *length, *added, *first;

	*need = !a->cursor[0];
	snprintf(last, len, "0-0");
	if (r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "no such key")) {
		freeReplyObject(r);
		return 0;
	}
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		set_error(a, "XINFO STREAM: %s", r && r->str ? r->str : a->c->errstr);
		if (r)
			freeReplyObject(r);
		disconnect(a);
		return -EIO;
	}
	v = reply_field(r, "last-generated-id");
	if (v && v->str)
		snprintf(last, len, "%s", v->str);
	/*
	 * Trimming takes the oldest entries, so entries after the cursor went when some
	 * went and the first left (or the last made, none left) is after the cursor. A
	 * cursor on the last entry trimmed resyncs for nothing: harmless.
	 */
	length = reply_field(r, "length");
	added = reply_field(r, "entries-added");
	first = reply_field(r, "first-entry");
	if (length && added && length->type == REDIS_REPLY_INTEGER &&
	    added->type == REDIS_REPLY_INTEGER && added->integer > length->integer &&
	    a->cursor[0]) {
		const char *after = last;

		if (length->integer && first && first->type == REDIS_REPLY_ARRAY &&
		    first->elements && first->element[0]->str)
			after = first->element[0]->str;
		*need |= id_cmp(a->cursor, after) < 0;
	}
	freeReplyObject(r);
	return 0;
}

/* The decision a snapshot member "LIST|PREFIX" and its detail "EXPIRES\tORIGIN\tCOMMENT" make. */
static int snapshot_decision(struct decision *d, const redisReply *member, const redisReply *detail)
{
	char *fields[10] = { "list", NULL,	"prefix", NULL,	    "op",
			     "add",  "expires", NULL,	  "origin", NULL };
	size_t lens[10] = { 4, 0, 6, 0, 2, 3, 7, 0, 6, 0 };
	const char *bar, *tab1, *tab2;
	int err;

	if (member->type != REDIS_REPLY_STRING || detail->type != REDIS_REPLY_STRING)
		return -EINVAL;
	bar = memchr(member->str, '|', member->len);
	tab1 = memchr(detail->str, '\t', detail->len);
	tab2 = tab1 ? memchr(tab1 + 1, '\t', detail->str + detail->len - tab1 - 1) : NULL;
	if (!bar || !tab2)
		return -EINVAL;
	fields[1] = member->str;
	lens[1] = bar - member->str;
	fields[3] = (char *)bar + 1;
	lens[3] = member->str + member->len - bar - 1;
	fields[7] = detail->str;
	lens[7] = tab1 - detail->str;
	fields[9] = (char *)tab1 + 1;
	lens[9] = tab2 - tab1 - 1;
	err = decision_parse(d, fields, lens, 10);
	if (!err) {
		size_t cl = detail->str + detail->len - tab2 - 1;

		if (cl >= sizeof(d->comment))
			cl = sizeof(d->comment) - 1;
		memcpy(d->comment, tab2 + 1, cl);
		d->comment[cl] = '\0';
	}
	return err;
}

/* A list entry of the fleet set, by list and prefix, to look the snapshot up. */
struct fleet_key {
	enum fleet_list list;
	struct prefix prefix;
};

static int fleet_key_cmp(const void *x, const void *y)
{
	const struct fleet_key *a = x, *b = y;

	if (a->list != b->list)
		return a->list < b->list ? -1 : 1;
	if (a->prefix.family != b->prefix.family)
		return a->prefix.family < b->prefix.family ? -1 : 1;
	if (a->prefix.plen != b->prefix.plen)
		return a->prefix.plen < b->prefix.plen ? -1 : 1;
	return memcmp(a->prefix.addr, b->prefix.addr, sizeof(a->prefix.addr));
}

struct stale_scan {
	const struct fleet_key *live; /* the snapshot's, sorted */
	size_t nlive;
	enum fleet_list list;
	int bit; /* the fleet set's */
	struct prefix *stale;
	size_t n, cap;
};

static int note_stale(const struct list_item *item, void *ctx)
{
	struct stale_scan *s = ctx;
	struct fleet_key k = { .list = s->list, .prefix = item->prefix };

	if (!(item->sets & (1ULL << s->bit)))
		return 0;
	if (bsearch(&k, s->live, s->nlive, sizeof(k), fleet_key_cmp))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct prefix *p = realloc(s->stale, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->stale = p;
		s->cap = cap;
	}
	s->stale[s->n++] = item->prefix;
	return 0;
}

/*
 * After a resync: the entries of the fleet set the snapshot no longer has were deleted
 * by decisions the stream lost, so they leave the set here too. -errno.
 */
static int drop_stale(struct agent *a, const struct decision *ds, size_t n)
{
	struct fleet_key *live = calloc(n ? n : 1, sizeof(*live));
	struct set_table *sets = malloc(sizeof(*sets));
	struct stale_scan s = {};
	int fds[2] = { -1, -1 }, err;
	struct pins p;

	err = live && sets ? pins_open(&p, a->cfg->pin_path, true) : -ENOMEM;
	if (err) {
		free(live);
		free(sets);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		live[i].list = ds[i].list;
		live[i].prefix = ds[i].prefix;
	}
	qsort(live, n, sizeof(*live), fleet_key_cmp);
	s.live = live;
	s.nlive = n;
	err = sets_read(&p, sets) ?: lists_open_live(&p, NULL, fds);
	for (int k = LIST_ALLOW; k <= LIST_BLOCK && !err; k++) {
		s.bit = set_find(sets, k, FLEET_SET);
		s.list = k == LIST_ALLOW ? FLEET_ALLOW : FLEET_BLOCK;
		s.n = 0;
		if (s.bit < 0 || fds[k] < 0)
			continue;
		err = list_walk(fds[k], k, mono_now_ns(), note_stale, &s);
		for (size_t i = 0; i < s.n && !err; i++) {
			int e = lists_del(&p, k, &s.stale[i], FLEET_SET);

			err = e == -ENOENT ? 0 : e;
			a->applied++;
		}
	}
	for (int k = LIST_ALLOW; k <= LIST_BLOCK; k++)
		if (fds[k] >= 0)
			close(fds[k]);
	pins_close(&p);
	free(s.stale);
	free(live);
	free(sets);
	return err;
}

/* Applies the snapshot, then reads the stream from LAST, the id noted before it. */
static void resync(struct agent *a, const char *last)
{
	char now[24];
	const char *zargv[] = { "ZRANGEBYSCORE", a->active, now, "+inf" };
	redisReply *members, *details;
	struct decision *ds;
	size_t n = 0;

	snprintf(now, sizeof(now), "%llu", (unsigned long long)fleet_now_ms());
	members = command(a, 4, zargv);
	if (!members)
		return;
	ds = calloc(members->elements ? members->elements : 1, sizeof(*ds));
	if (!ds) {
		freeReplyObject(members);
		return;
	}
	for (size_t i = 0; i < members->elements && a->c; i += 1000) {
		size_t chunk = members->elements - i < 1000 ? members->elements - i : 1000;
		const char **argv = calloc(chunk + 2, sizeof(*argv));

		if (!argv)
			break;
		argv[0] = "HMGET";
		argv[1] = a->detail;
		for (size_t j = 0; j < chunk; j++)
			argv[j + 2] = members->element[i + j]->str;
		details = command(a, (int)chunk + 2, argv);
		free(argv);
		if (!details)
			break;
		for (size_t j = 0; j < chunk && j < details->elements; j++)
			if (!snapshot_decision(&ds[n], members->element[i + j],
					       details->element[j]))
				n++;
		freeReplyObject(details);
	}
	if (a->c && !apply(a, ds, n)) {
		int err = drop_stale(a, ds, n);

		if (err)
			set_error(a, "resync: drop the entries deleted meanwhile: %s",
				  strerror(-err));
		pr_info("agent: resynced %zu %s from the snapshot, continuing from %s", n,
			n == 1 ? "decision" : "decisions", last);
		snprintf(a->cursor, sizeof(a->cursor), "%s", last);
		cursor_save(a);
	}
	free(ds);
	freeReplyObject(members);
}

/* ---- the fleet's policy ---- */

/* The digest of the live policy, as `sluice status` shows it. -errno. */
static int live_digest(const struct pins *p, __u64 *digest)
{
	struct sluice_policy *pol = live_policy(p);

	if (!pol)
		return -EIO;
	*digest = pol->digest;
	free(pol);
	return 0;
}

/*
 * The version in force is kept in a file too, so that a restarted agent still says
 * which it has when it refuses a newer one.
 */
static void policy_note(struct agent *a, long long version, __u64 digest)
{
	char tmp[520];
	FILE *f;

	a->policy_version = version;
	snprintf(a->policy_digest, sizeof(a->policy_digest), "%016llx", (unsigned long long)digest);
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->policy_path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%lld %s\n", version, a->policy_digest) < 0 || fclose(f) ||
	    rename(tmp, a->policy_path))
		set_error(a, "save %s: %s", a->policy_path, strerror(errno));
}

static void policy_load(struct agent *a)
{
	FILE *f = fopen(a->policy_path, "r");

	if (!f)
		return;
	if (fscanf(f, "%lld %16s", &a->policy_version, a->policy_digest) != 2)
		a->policy_version = 0;
	fclose(f);
}

/* Parses TEXT, a policy's lines, into DOC. -EINVAL with PERR. */
static int parse_text(const char *text, struct policy_doc *doc, struct parse_error *perr)
{
	char *copy = strdup(text), *save = NULL, *line;
	unsigned int n = 0;
	int err = copy ? 0 : -ENOMEM;

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line && !err;
	     line = strtok_r(NULL, "\n", &save)) {
		err = policy_parse_line(doc, line, perr);
		perr->line = ++n;
	}
	free(copy);
	return err;
}

/*
 * Applies version VERSION (TEXT, DIGEST) of the fleet's policy as `restore` would, the
 * lists left as they are: refused, and reported, when it would cut off a management
 * path of this host ($SLUICE_MANAGEMENT); the live policy then stays.
 */
static void apply_policy(struct agent *a, long long version, const char *text, __u64 digest)
{
	struct parse_error perr = {};
	struct policy_doc doc;
	struct pins p;
	int err;

	policy_init(&doc);
	err = parse_text(text, &doc, &perr);
	if (err) {
		set_error(a, "policy v%lld: line %u: %s", version, perr.line, perr.msg);
		a->policy_refused = version;
		policy_free(&doc);
		return;
	}
	err = pins_open(&p, a->cfg->pin_path, true);
	if (err) {
		set_error(a, "policy v%lld: open the pins in %s: %s", version, a->cfg->pin_path,
			  strerror(-err));
		policy_free(&doc);
		return;
	}
	err = lockout_check_live("agent", &p, NULL, 0, &doc, false);
	if (err == -ECANCELED) {
		set_error(a, "policy v%lld refused: it would cut off this host's management path",
			  version);
		a->policy_refused = version;
	} else if (!err) {
		err = policy_apply(&p, &doc, false, &perr);
		if (err)
			set_error(a, "policy v%lld: %s", version,
				  perr.msg[0] ? perr.msg : strerror(-err));
	}
	if (!err) {
		pr_info("agent: policy v%lld applied", version);
		policy_note(a, version, digest);
	}
	pins_close(&p);
	policy_free(&doc);
}

/* Applies the fleet's current policy version if this host has not got it yet. */
static void check_policy(struct agent *a)
{
	const char *argv[] = { "GET", a->policy };
	redisReply *r = command(a, 2, argv), *text;
	unsigned long long digest = 0;
	long long version = 0;
	__u64 live;
	char vbuf[24];
	struct pins p;

	if (!r)
		return;
	if (r->type != REDIS_REPLY_STRING || sscanf(r->str, "%lld %llx", &version, &digest) != 2 ||
	    version <= 0 || version == a->policy_version || version == a->policy_refused) {
		freeReplyObject(r);
		return;
	}
	freeReplyObject(r);
	/* Already in force (a restarted agent): nothing to apply. */
	if (!pins_open(&p, a->cfg->pin_path, false)) {
		int err = live_digest(&p, &live);

		pins_close(&p);
		if (!err && live == digest) {
			policy_note(a, version, digest);
			return;
		}
	}
	snprintf(vbuf, sizeof(vbuf), "%lld", version);
	const char *hargv[] = { "HGET", a->policies, vbuf };

	text = command(a, 3, hargv);
	if (!text)
		return;
	if (text->type == REDIS_REPLY_STRING)
		apply_policy(a, version, text->str, digest);
	else
		set_error(a, "policy v%lld: no such version in %s", version, a->policies);
	freeReplyObject(text);
}

/* ---- fleet-wide limits ---- */

/*
 * LS, a limit marked `fleet`, as this host's share when N hosts split it evenly: the
 * rate and the burst over N (at least 1). Clients spread evenly over the hosts (ECMP,
 * anycast) are then held to the fleet's rate and burst in all.
 */
static int share_limit(const struct limit_spec *ls, long n, struct sluice_limit *out)
{
	struct limit_spec share = *ls;
	struct parse_error perr = {};

	if (share.rate.kind == RATE_PACKETS)
		share.rate.period_s *= n;
	else
		share.rate.amount = share.rate.amount / n ?: 1;
	share.burst = (limit_burst(ls) + n - 1) / n;
	share.burst_given = true;
	return compile_limit(&share, out, &perr);
}

/*
 * Gives the fleet-wide limits of the live policy this host's share, in place (a
 * restore compiles them whole; the next pass splits them again). Only the rate and
 * burst words change: the limit's id, and so its keys' state, stay. With WRITE (under
 * the lock) it writes, else it only says whether a write is needed: 1, 0 or -errno.
 */
static int share_pass(struct agent *a, struct pins *p, bool write)
{
	struct sluice_policy *pol = live_policy(p);
	struct policy_doc doc;
	bool change = false;
	__u32 active, slot;
	int err;

	if (!pol)
		return -EIO;
	policy_init(&doc);
	err = policy_read_rules(p, &doc);
	for (unsigned int i = 0; i < doc.nrules && !err; i++) {
		const struct rule_spec *spec = &doc.rules[i];
		struct sluice_rule *r = NULL;

		for (__u32 k = 0; k < pol->nrules && k < SLUICE_MAX_RULES && !r; k++)
			if (!strncmp(pol->rules[k].name, spec->name, SLUICE_NAME_LEN))
				r = &pol->rules[k];
		for (unsigned int j = 0; r && j < spec->nlimits && j < r->nlimits && !err; j++) {
			struct sluice_limit want;

			if (!spec->limits[j].fleet)
				continue;
			err = share_limit(&spec->limits[j], a->exchanging ? 1 : a->share_hosts,
					  &want);
			if (err || (r->limits[j].interval == want.interval &&
				    r->limits[j].byte_rate == want.byte_rate &&
				    r->limits[j].tolerance == want.tolerance))
				continue;
			r->limits[j].interval = want.interval;
			r->limits[j].byte_rate = want.byte_rate;
			r->limits[j].tolerance = want.tolerance;
			change = true;
		}
	}
	policy_free(&doc);
	if (!err && change && write) {
		err = pins_active(p, &active);
		slot = SLUICE_ACTIVE_POLICY(active);
		if (!err && bpf_map_update_elem(p->fds[PIN_POLICY], &slot, pol, BPF_EXIST))
			err = -errno;
		if (!err && a->exchanging)
			pr_info("agent: fleet-wide limits whole");
		else if (!err)
			pr_info("agent: fleet-wide limits split among %ld %s", a->share_hosts,
				a->share_hosts == 1 ? "host" : "hosts");
	}
	free(pol);
	return err ? err : change;
}

/*
 * Gives the fleet-wide limits their whole rate and burst while usage is exchanged, else
 * splits them among the hosts last seen (unchanged while Redis is away).
 */
static void share_limits(struct agent *a)
{
	struct pins p;
	int r;

	if (a->c && a->hosts_seen > 0)
		a->share_hosts = a->hosts_seen;
	if (a->share_hosts < 1)
		a->share_hosts = 1;
	if (pins_open(&p, a->cfg->pin_path, false))
		return;
	r = share_pass(a, &p, false);
	pins_close(&p);
	if (r <= 0)
		return;
	/* Under the lock, so no restore switches the policy between the read and the write. */
	r = pins_open(&p, a->cfg->pin_path, true);
	if (!r) {
		r = share_pass(a, &p, true);
		pins_close(&p);
	}
	if (r < 0)
		set_error(a, "fleet-wide limits: %s", strerror(-r));
}

/*
 * Notes the bans of the snapshot as known, so that a restarted agent does not take the
 * bans it applied before for bans of its own. Nothing is applied.
 */
static void learn_bans(struct agent *a)
{
	char now[24];
	const char *argv[] = { "ZRANGEBYSCORE", a->active, now, "+inf", "WITHSCORES" };
	redisReply *r;

	snprintf(now, sizeof(now), "%llu", (unsigned long long)fleet_now_ms());
	r = command(a, 5, argv);
	if (!r)
		return;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const char *m = r->element[i]->str, *score = r->element[i + 1]->str;
		struct parse_error perr = {};
		struct sluice_ban_key key;
		struct prefix pfx;

		if (strncmp(m, "ban|", 4) || parse_prefix(m + 4, &pfx, &perr))
			continue;
		ban_key_of(&pfx, &key);
		known_note(a, &key, strchr(score, 'i') ? 0 : strtoull(score, NULL, 10));
	}
	freeReplyObject(r);
	a->learned = true;
}

static void check_stream(struct agent *a)
{
	char last[FLEET_ID_MAX];
	bool need;

	if (!needs_resync(a, last, sizeof(last), &need) && need)
		resync(a, last);
}

/* ---- bans made here ---- */

struct scan {
	struct agent *a;
	const struct pins *p;
	struct sluice_policy *pol; /* read once a ban to publish is found */
	__u64 now_ms, mono;
	struct decision *found;
	size_t n, cap;
};

static long scan_bans(const void *keys, const void *values, __u32 n, void *ctx)
{
	const struct sluice_ban_key *k = keys;
	const struct sluice_ban *v = values;
	struct scan *s = ctx;

	for (__u32 i = 0; i < n; i++) {
		struct known *kn;
		__u64 exp;

		if (v[i].expires_ns <= s->mono)
			continue;
		exp = v[i].expires_ns == ~0ULL ?
			      0 :
			      s->now_ms + (v[i].expires_ns - s->mono) / 1000000ULL;
		kn = known_find(s->a, &k[i]);
		if (kn && (!kn->expires_ms || (exp && exp <= kn->expires_ms + ECHO_SLACK_MS)))
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct decision *d = realloc(s->found, cap * sizeof(*d));

			if (!d)
				return -ENOMEM;
			s->found = d;
			s->cap = cap;
		}
		struct decision *d = &s->found[s->n++];
		struct sluice_lpm_key lpm = { .prefixlen = k[i].prefixlen };

		memset(d, 0, sizeof(*d));
		memcpy(lpm.addr, k[i].addr, sizeof(lpm.addr));
		key_to_prefix(&lpm, &d->prefix);
		d->list = FLEET_BAN;
		d->expires_ms = exp;
		if (!s->pol)
			s->pol = live_policy(s->p);
		for (__u32 r = 0; s->pol && r < s->pol->nrules && r < SLUICE_MAX_RULES; r++)
			if (s->pol->rules[r].stat_slot == v[i].stat_slot)
				snprintf(d->comment, sizeof(d->comment), "rule %.*s",
					 SLUICE_NAME_LEN - 1, s->pol->rules[r].name);
		snprintf(d->origin, sizeof(d->origin), "%s", s->a->cfg->host);
	}
	return n;
}

/* Publishes the bans made here since the last scan; into the outbox without Redis. */
static void publish_local_bans(struct agent *a)
{
	struct scan s = { .a = a, .now_ms = fleet_now_ms(), .mono = mono_now_ns() };
	char err[256];
	struct pins p;
	long r;

	if (pins_open(&p, a->cfg->pin_path, false))
		return; /* nothing attached: nothing to publish */
	s.p = &p;
	r = map_batches(p.fds[PIN_BANS], false, scan_bans, &s);
	pins_close(&p);
	free(s.pol);
	if (r < 0)
		set_error(a, "read the bans: %s", strerror((int)-r));
	for (size_t i = 0; i < s.n; i++) {
		struct sluice_ban_key key;

		ban_key_of(&s.found[i].prefix, &key);
		known_note(a, &key, s.found[i].expires_ms);
		if (a->c && a->outbox)
			outbox_flush(a);
		if (a->c && !fleet_publish(a->c, a->cfg, &s.found[i], err, sizeof(err))) {
			a->published++;
			continue;
		}
		if (a->c) {
			set_error(a, "%s", err);
			disconnect(a);
		}
		outbox_put(a, &s.found[i]);
	}
	free(s.found);
}

/* Counts the hosts of the fleet whose heartbeat is recent. */
static void count_hosts(struct agent *a)
{
	const char *argv[] = { "HVALS", a->hosts };
	redisReply *r = command(a, 2, argv);
	__u64 now = fleet_now_ms();
	long n = 0;

	if (!r)
		return;
	for (size_t i = 0; i < r->elements; i++) {
		json_t *o = json_loads(r->element[i]->str ? r->element[i]->str : "", 0, NULL);
		json_int_t beat = json_integer_value(json_object_get(o, "heartbeat_ms"));

		n += beat > 0 && now - (__u64)beat < SEEN_MS;
		json_decref(o);
	}
	freeReplyObject(r);
	a->hosts_seen = n;
	a->hosts_counted_ms = now;
}

/*
 * The agent's figures for `sluice exporter --fleet-state DIR` (its sluice_fleet_*
 * metrics), in a file replaced in one step: the exporter never talks to Redis.
 */
static void write_status(struct agent *a)
{
	json_t *o = json_pack(
		"{s:s, s:s, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "fleet", a->cfg->fleet,
		"host", a->cfg->host, "written_ms", (json_int_t)fleet_now_ms(), "redis_up",
		a->c != NULL, "lag_ms", (json_int_t)a->lag_ms, "published",
		(json_int_t)a->published, "applied", (json_int_t)a->applied, "outbox",
		(json_int_t)a->outbox, "refused", (json_int_t)a->refused, "hosts_seen",
		(json_int_t)a->hosts_seen, "policy_version", (json_int_t)a->policy_version);
	char tmp[520];

	if (!o)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", a->status_path);
	if (json_dump_file(o, tmp, JSON_COMPACT) || rename(tmp, a->status_path))
		pr_debug("agent: write %s: %s", a->status_path, strerror(errno));
	json_decref(o);
}

static void heartbeat(struct agent *a)
{
	json_t *o = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:s}", "heartbeat_ms",
			      (json_int_t)fleet_now_ms(), "cursor", a->cursor, "lag_ms",
			      (json_int_t)a->lag_ms, "outbox", (json_int_t)a->outbox, "refused",
			      (json_int_t)a->refused, "published", (json_int_t)a->published,
			      "applied", (json_int_t)a->applied, "error", a->error);
	char *text;

	if (!o)
		return;
	json_object_set_new(o, "timeouts", json_integer(a->timeouts));
	if (a->error_ms)
		json_object_set_new(o, "error_ms", json_integer((json_int_t)a->error_ms));
	if (a->policy_version) {
		json_object_set_new(o, "policy_version", json_integer(a->policy_version));
		json_object_set_new(o, "policy_digest", json_string(a->policy_digest));
	}
	if (a->nlat) {
		json_object_set_new(o, "latency_p50_ms", json_integer(percentile(a, 0.50)));
		json_object_set_new(o, "latency_p99_ms", json_integer(percentile(a, 0.99)));
		json_object_set_new(o, "latency_samples", json_integer((json_int_t)a->nlat));
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text) {
		const char *argv[] = { "HSET", a->hosts, a->cfg->host, text };
		redisReply *r = command(a, 4, argv);

		if (r)
			freeReplyObject(r);
		free(text);
	}
}

static void try_connect(struct agent *a)
{
	char err[256];

	a->c = fleet_connect(a->cfg, err, sizeof(err));
	if (!a->c) {
		set_error(a, "%s", err);
		backoff(a);
		return;
	}
	pr_info("agent: connected to %s as %s in fleet %s", a->cfg->redis, a->cfg->host,
		a->cfg->fleet);
	a->backoff_ms = 0;
	a->connected_ms = fleet_now_ms();
	if (!a->learned)
		learn_bans(a);
	outbox_flush(a);
	if (a->c)
		check_stream(a);
}

/* One usage exchange of the fleet-wide limits (usage.c), or only the others' with !FULL. */
static void exchange(struct agent *a, bool full)
{
	char err[256];
	int r = full ? usage_exchange(a->usage, a->c, err, sizeof(err)) :
		       usage_receive(a->usage, a->c, err, sizeof(err));

	if (r == -ETIMEDOUT) {
		a->timeouts++;
		pr_debug("agent: %s", err);
		disconnect(a);
	} else if (r) {
		set_error(a, "fleet-wide limits: %s", err);
		if (r == -EIO)
			disconnect(a);
	} else if (full) {
		a->usage_ok_ms = fleet_now_ms();
	}
}

/*
 * Exchanging while the last exchange is at most EXCHANGE_STALE_MS old: then each host
 * enforces the whole fleet-wide limits, charged what the others admitted; else its
 * share. A call that timed out, and the reconnection at once after it, do not count.
 */
static void check_exchanging(struct agent *a)
{
	bool now = fleet_now_ms() - a->usage_ok_ms <= EXCHANGE_STALE_MS;

	if (now == a->exchanging)
		return;
	a->exchanging = now;
	pr_info("agent: fleet-wide limits: %s", now ? "usage exchanged, whole on each host" :
						      "no usage exchange, split among the hosts");
	share_limits(a);
}

int fleet_agent_run(const struct fleet_config *cfg)
{
	struct sigaction sa = { .sa_handler = on_signal };
	__u64 next_scan = 0, next_beat = 0, next_check = 0, next_prune = 0, next_exchange = 0,
	      next_receive = 0;
	struct agent a = { .cfg = cfg };
	int err;

	fleet_key(cfg, "decisions", a.stream, sizeof(a.stream));
	fleet_key(cfg, "active", a.active, sizeof(a.active));
	fleet_key(cfg, "detail", a.detail, sizeof(a.detail));
	fleet_key(cfg, "hosts", a.hosts, sizeof(a.hosts));
	fleet_key(cfg, "policies", a.policies, sizeof(a.policies));
	fleet_key(cfg, "policy", a.policy, sizeof(a.policy));
	snprintf(a.cursor_path, sizeof(a.cursor_path), "%s/agent-%s.cursor", cfg->state_dir,
		 cfg->fleet);
	snprintf(a.outbox_path, sizeof(a.outbox_path), "%s/agent-%s.outbox", cfg->state_dir,
		 cfg->fleet);
	snprintf(a.status_path, sizeof(a.status_path), "%s/agent-%s.json", cfg->state_dir,
		 cfg->fleet);
	snprintf(a.policy_path, sizeof(a.policy_path), "%s/agent-%s.policy", cfg->state_dir,
		 cfg->fleet);
	if (mkdir(cfg->state_dir, 0700) && errno != EEXIST) {
		pr_warn("agent: %s: %s", cfg->state_dir, strerror(errno));
		return 1;
	}
	err = cursor_load(&a);
	if (err) {
		pr_warn("agent: %s: %s", a.cursor_path, strerror(-err));
		return 1;
	}
	a.outbox = outbox_count(a.outbox_path);
	policy_load(&a);
	a.lat = calloc(LAT_BUCKETS, sizeof(*a.lat));
	a.usage = usage_new(cfg);
	if (!a.lat || !a.usage) {
		free(a.lat);
		usage_free(a.usage);
		return 1;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	while (!stopping) {
		__u64 now = fleet_now_ms();

		if (!a.c && now >= a.next_connect)
			try_connect(&a);
		if (a.c && (now >= next_check || !a.cursor[0])) {
			check_stream(&a);
			next_check = now + TRIM_CHECK_MS;
		}
		if (a.c && a.cursor[0])
			read_stream(&a);
		else
			poll(NULL, 0, BLOCK_MS);
		now = fleet_now_ms();
		if (a.c && now >= next_exchange) {
			exchange(&a, true);
			next_exchange = now + FLEET_EXCHANGE_MS;
			next_receive = now + FLEET_RECEIVE_MS;
		} else if (a.c && now >= next_receive) {
			exchange(&a, false);
			next_receive = now + FLEET_RECEIVE_MS;
		}
		check_exchanging(&a);
		if (a.learned && now >= next_scan) {
			publish_local_bans(&a);
			next_scan = now + SCAN_MS;
		}
		if (now >= next_beat) {
			if (a.c)
				check_policy(&a);
			if (a.c)
				heartbeat(&a);
			if (a.c)
				count_hosts(&a);
			share_limits(&a);
			/*
			 * A count older than a heartbeat's lifetime says nothing any more; a
			 * call that timed out once keeps the last one, so the metric does not
			 * drop to 0 and back on a busy server.
			 */
			if (fleet_now_ms() - a.hosts_counted_ms >= SEEN_MS)
				a.hosts_seen = 0;
			write_status(&a);
			next_beat = now + BEAT_MS;
		}
		if (now >= next_prune) {
			known_prune(&a);
			next_prune = now + 10 * BEAT_MS;
		}
	}
	if (a.c)
		redisFree(a.c);
	tdestroy(a.known, free);
	free(a.lat);
	usage_free(a.usage);
	return 0;
}
