// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* events, top: reading the sampled drop events of the data path. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cmd.h"
#include "log.h"
#include "output.h"
#include "pcap.h"
#include "policy.h"
#include "stats.h"

/* The signal that ends a reader, 0 until one comes. */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

/* What turns an event's numbers into names: interfaces and rules of the live policy. */
struct event_names {
	struct sluice_iface ifaces[SLUICE_MAX_IFACES];
	char rules[SLUICE_RULE_SLOTS][SLUICE_NAME_LEN];
	__s64 mono_to_real_ns; /* CLOCK_REALTIME - CLOCK_MONOTONIC, measured once (clock_offset) */
};

/*
 * What to add to a CLOCK_MONOTONIC time (an event's) for the wall-clock time. Measured
 * once per reader, so that every event of a run is stamped with the same offset: the
 * realtime reading taken between two monotonic ones, from the closest of three pairs.
 */
static __s64 clock_offset(void)
{
	__s64 best = 0, best_gap = INT64_MAX;

	for (int i = 0; i < 3; i++) {
		struct timespec m0, r, m1;
		__s64 mid, gap;

		clock_gettime(CLOCK_MONOTONIC, &m0);
		clock_gettime(CLOCK_REALTIME, &r);
		clock_gettime(CLOCK_MONOTONIC, &m1);
		gap = (m1.tv_sec - m0.tv_sec) * 1000000000LL + m1.tv_nsec - m0.tv_nsec;
		mid = m0.tv_sec * 1000000000LL + m0.tv_nsec + gap / 2;
		if (gap < best_gap) {
			best_gap = gap;
			best = r.tv_sec * 1000000000LL + r.tv_nsec - mid;
		}
	}
	return best;
}

/* Loads the names; the clock offset is left as it is. */
static void names_load(const struct pins *p, struct event_names *n)
{
	struct sluice_policy *pol = malloc(sizeof(*pol));
	__u32 active, slot;

	memset(n->ifaces, 0, sizeof(n->ifaces));
	memset(n->rules, 0, sizeof(n->rules));
	for (__u32 i = 0; i < SLUICE_MAX_IFACES; i++)
		bpf_map_lookup_elem(p->fds[PIN_IFACES], &i, &n->ifaces[i]);
	if (pol && !pins_active(p, &active)) {
		slot = SLUICE_ACTIVE_POLICY(active);
		if (!bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol))
			for (__u32 r = 0; r < pol->nrules && r < SLUICE_MAX_RULES; r++) {
				__u8 slot = pol->rules[r].stat_slot;

				/* Read from the map, so not trusted: rules[] has a row per slot. */
				if (slot >= SLUICE_MAX_RULES)
					continue;
				memcpy(n->rules[slot], pol->rules[r].name, SLUICE_NAME_LEN);
				n->rules[slot][SLUICE_NAME_LEN - 1] = 0;
			}
	}
	free(pol);
}

static const char *iface_name(const struct event_names *n, __u32 ifindex)
{
	for (int i = 0; i < SLUICE_MAX_IFACES; i++)
		if (n->ifaces[i].ifindex == ifindex)
			return n->ifaces[i].name;
	return "?";
}

static const char *proto_name(__u8 proto)
{
	switch (proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	default:
		return NULL;
	}
}

static void addr_text(const __u32 addr[4], char *buf, size_t len)
{
	struct sluice_lpm_key key = { .prefixlen = 128 };
	struct prefix pfx;

	memcpy(key.addr, addr, sizeof(key.addr));
	key_to_prefix(&key, &pfx);
	format_prefix(&pfx, buf, len);
}

static const char *rule_name(const struct event_names *n, __u8 rule)
{
	if (rule >= SLUICE_MAX_RULES || !n->rules[rule][0])
		return "";
	return n->rules[rule];
}

static json_t *event_json(const struct sluice_event *e, const struct event_names *n)
{
	char src[64], dst[64], when[40];
	__s64 real = (__s64)e->time_ns + n->mono_to_real_ns;
	time_t secs = real / 1000000000LL;
	struct tm tm;
	const char *proto = proto_name(e->l4proto);
	json_t *o;

	/*
	 * Milliseconds: the data path stamps events with the kernel's coarse clock, which
	 * moves once a tick (1 to 10 ms with HZ 1000 to 100), so finer digits would be noise.
	 */
	gmtime_r(&secs, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + strlen(when), sizeof(when) - strlen(when), ".%03lldZ",
		 (long long)(real % 1000000000LL) / 1000000);
	addr_text(e->src, src, sizeof(src));
	addr_text(e->dst, dst, sizeof(dst));
	o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i}", "time", when, "interface",
		      iface_name(n, e->ifindex), "verdict",
		      e->verdict < SLUICE_VERDICT_COUNT ? verdict_names[e->verdict] : "?", "reason",
		      e->reason < SLUICE_REASON_COUNT ? reason_names[e->reason] : "?", "rule",
		      rule_name(n, e->rule), "src", src, "dst", dst, "len", e->len, "sampled",
		      e->sampled);
	if (proto)
		json_object_set_new(o, "proto", json_string(proto));
	else
		json_object_set_new(o, "proto", json_integer(e->l4proto));
	if (e->limit != SLUICE_EVENT_NO_LIMIT)
		json_object_set_new(o, "limit", json_integer(e->limit));
	if (e->sport || e->dport) {
		json_object_set_new(o, "sport", json_integer(e->sport));
		json_object_set_new(o, "dport", json_integer(e->dport));
	}
	return o;
}

static void event_print(const struct sluice_event *e, const struct event_names *n)
{
	json_t *o = event_json(e, n);
	json_t *sport = json_object_get(o, "sport");
	json_t *proto = json_object_get(o, "proto");
	char pbuf[16];

	if (json_is_string(proto))
		snprintf(pbuf, sizeof(pbuf), "%s", json_string_value(proto));
	else
		snprintf(pbuf, sizeof(pbuf), "proto %lld", json_integer_value(proto));
	printf("%s %s %s %s", json_string_value(json_object_get(o, "time")),
	       json_string_value(json_object_get(o, "interface")),
	       json_string_value(json_object_get(o, "verdict")),
	       json_string_value(json_object_get(o, "reason")));
	if (e->rule < SLUICE_MAX_RULES)
		printf(" rule %s", json_string_value(json_object_get(o, "rule")));
	if (e->limit != SLUICE_EVENT_NO_LIMIT)
		printf(" limit %u", e->limit);
	if (sport) {
		const char *src = json_string_value(json_object_get(o, "src"));
		const char *dst = json_string_value(json_object_get(o, "dst"));
		/* An IPv6 address takes brackets before a port, as in a URL: [fd00::1]:56440. */
		bool v6 = strchr(src, ':');

		printf(" %s %s%s%s:%u > %s%s%s:%u", pbuf, v6 ? "[" : "", src, v6 ? "]" : "",
		       e->sport, v6 ? "[" : "", dst, v6 ? "]" : "", e->dport);
	} else
		printf(" %s %s > %s", pbuf, json_string_value(json_object_get(o, "src")),
		       json_string_value(json_object_get(o, "dst")));
	printf(" len %u", e->len);
	/* A SYN guard engaging or coming to rest carries the SYN rate in place of a sampling. */
	if (e->reason == SLUICE_REASON_GUARD && e->verdict != SLUICE_VERDICT_DROP)
		printf(" %s at %u SYN/s",
		       e->verdict == SLUICE_VERDICT_COOKIE ? "guard engaged" : "guard rests",
		       e->sampled);
	else if (e->sampled > 1)
		printf(" sampled 1/%u", e->sampled);
	printf("\n");
	json_decref(o);
}

struct events_ctx {
	struct event_names names;
	__u64 drain_until; /* after a signal: the events made before this time are printed */
	FILE *pcap; /* -w: the events go there as pcapng, and nothing to stdout */
	unsigned long long written;
	int write_err; /* errno of a failed write to pcap, which ends the reader */
};

/*
 * What an event says of its packet, as the packet's comment in the capture. Its longest,
 * with a 15-byte interface name and a 31-byte rule name, is 124 bytes: never cut.
 */
_Static_assert(PCAPNG_COMMENT_MAX >= 128, "an event's comment fits in a pcapng comment");
static void event_comment(const struct sluice_event *e, const struct event_names *n, char *buf,
			  size_t len)
{
	int at = snprintf(buf, len, "interface=%s verdict=%s reason=%s", iface_name(n, e->ifindex),
			  e->verdict < SLUICE_VERDICT_COUNT ? verdict_names[e->verdict] : "?",
			  e->reason < SLUICE_REASON_COUNT ? reason_names[e->reason] : "?");

	if (e->rule < SLUICE_MAX_RULES)
		at += snprintf(buf + at, len - at, " rule=%s", rule_name(n, e->rule));
	if (e->limit != SLUICE_EVENT_NO_LIMIT)
		at += snprintf(buf + at, len - at, " limit=%u", e->limit);
	snprintf(buf + at, len - at, " sampled=%u", e->sampled);
}

/* Flushed per block, like the lines, so that tcpdump -r reads a live file up to the last. */
static int pcap_put(struct events_ctx *c, const void *block, size_t len)
{
	errno = 0;
	if (fwrite(block, len, 1, c->pcap) != 1 || fflush(c->pcap)) {
		c->write_err = errno ?: EIO;
		return -ECANCELED;
	}
	return 0;
}

static int event_write(struct events_ctx *c, const struct sluice_event *e)
{
	__u8 block[PCAPNG_EVENT_MAX];
	char comment[PCAPNG_COMMENT_MAX];

	event_comment(e, &c->names, comment, sizeof(comment));
	if (pcap_put(c, block, pcapng_event(block, e, c->names.mono_to_real_ns, comment)))
		return -ECANCELED;
	c->written++;
	return 0;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct events_ctx *c = ctx;

	if (size < sizeof(struct sluice_event))
		return 0;
	/* An event made after the signal ends the drain, so that a flood cannot prolong it. */
	if (c->drain_until && ((const struct sluice_event *)data)->time_ns > c->drain_until)
		return -ECANCELED;
	if (c->pcap)
		return event_write(c, data);
	if (json_output) {
		json_t *o = event_json(data, &c->names);

		json_dumpf(o, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		event_print(data, &c->names);
	}
	/* Flushed per event so a pipe into jq or a log shipper sees it at once. */
	fflush(stdout);
	return 0;
}

static int open_ring(const char *verb, struct pins *p, ring_buffer_sample_fn fn, void *ctx,
		     struct ring_buffer **rb)
{
	int err = cmd_open_pins(verb, p, false);

	if (err)
		return err;
	*rb = ring_buffer__new(p->fds[PIN_EVENTS], fn, ctx, NULL);
	if (!*rb) {
		pr_warn("%s: open the event ring: %s", verb, strerror(errno));
		pins_close(p);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/* Once a reader is ready: a test waits for these handlers to know it is. */
static void catch_signals(void)
{
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, on_signal);
}

static int events_check(struct verb *v)
{
	if (v->opt[0] && json_output) {
		pr_warn("events: -w and -j: a capture file has no JSON form");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Opens -w's file, "-" for stdout, and writes its head. */
static int pcap_open(struct events_ctx *c, const char *path)
{
	__u8 head[PCAPNG_HEAD_LEN];

	c->pcap = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!c->pcap) {
		pr_warn("events: -w %s: %s", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	if (pcap_put(c, head, pcapng_head(head))) {
		pr_warn("events: -w %s: %s", path, strerror(c->write_err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

/*
 * Closes -w's file: at exit, like tcpdump -w, the count on stderr (stdout may be the
 * capture). A failed write is an error, but not one to a reader that went away (EPIPE).
 */
static int pcap_close(struct events_ctx *c, const char *path)
{
	if (c->pcap != stdout && fclose(c->pcap) && !c->write_err)
		c->write_err = errno;
	if (c->write_err && c->write_err != EPIPE) {
		pr_warn("events: -w %s: %s", path, strerror(c->write_err));
		return EXIT_RUNTIME;
	}
	cmd_notice("events: %llu %s written to %s", c->written,
		   plural(c->written, "packet", "packets"), strcmp(path, "-") ? path : "stdout");
	return EXIT_OK;
}

/* The pins open with the event ring (open_ring). */
static int events_run(struct verb *v)
{
	struct events_ctx ctx = {};
	struct ring_buffer *rb;
	__u64 last_names = 0;
	struct pins p;
	int err, ret;

	err = open_ring("events", &p, on_event, &ctx, &rb);
	if (err)
		return err;
	/* After the ring: no empty file is left behind when sluice is not attached. */
	if (v->opt[0]) {
		err = pcap_open(&ctx, v->opt[0]);
		if (err) {
			if (ctx.pcap && ctx.pcap != stdout)
				fclose(ctx.pcap);
			ring_buffer__free(rb);
			pins_close(&p);
			return err;
		}
	}
	catch_signals();
	ctx.drain_until = 0;
	ctx.names.mono_to_real_ns = clock_offset();
	while (!stop) {
		/* Rule and interface names change with restores; reload them now and then. */
		if (mono_now_ns() - last_names > 1000000000ULL) {
			names_load(&p, &ctx.names);
			last_names = mono_now_ns();
		}
		err = ring_buffer__poll(rb, 200);
		if (ctx.write_err)
			break;
		if (err < 0 && err != -EINTR) {
			pr_warn("events: %s", strerror(-err));
			break;
		}
	}
	/*
	 * SIGTERM or SIGINT: print what the ring holds first, so that stopping a reader loses
	 * no event it was sent. Not after SIGPIPE: nobody reads our output any more.
	 */
	if ((stop == SIGTERM || stop == SIGINT) && !ctx.write_err && !(err < 0 && err != -EINTR)) {
		ctx.drain_until = mono_now_ns();
		err = ring_buffer__consume(rb);
		if (err == -ECANCELED)
			err = 0;
		else if (err < 0)
			pr_warn("events: %s", strerror(-err));
	}
	ret = err < 0 && err != -EINTR && !ctx.write_err ? EXIT_RUNTIME : EXIT_OK;
	if (ctx.pcap)
		ret = pcap_close(&ctx, v->opt[0]) ?: ret;
	ring_buffer__free(rb);
	pins_close(&p);
	return ret;
}

const struct cmd cmd_events = {
	.name = "events",
	.args = "[-w FILE]",
	.summary = "stream sampled drop events",
	.help = "Streams the data path's sampled drop and monitor events, one line each\n"
		"(JSON lines with -j), until interrupted. Times are UTC to the millisecond,\n"
		"from the kernel's coarse clock (it moves every 1 to 10 ms, by its HZ).\n"
		"Sampling and its ceiling are set with `set events ...` in the policy; what\n"
		"sampling leaves out is counted (sluice_events_suppressed_total). One reader\n"
		"at a time: two would share the events between them.\n"
		"\n"
		"-w, --write FILE writes the events' packets to FILE (- for stdout) as\n"
		"pcapng instead, for tcpdump -r or Wireshark: each packet's first 128 bytes,\n"
		"its length, and a comment with its interface, verdict, reason, rule and\n"
		"sampling; the count written goes to stderr at exit. Not with -j.",
	.max_args = 0,
	.opts = (const struct cmd_opt[]){ { "write", 'w', true }, {} },
	.check = events_check,
	.run = events_run,
};

/* `top`: drops per key over the last interval, from the events weighted by their sampling. */
struct top_entry {
	__u32 src[4];
	__u8 rule;
	__u8 reason;
	__u64 drops;
	__u64 bytes;
};

struct top_ctx {
	struct event_names names;
	struct top_entry *entries;
	size_t n, cap;
	__u64 events;
	/* while the ring's backlog is drained at start: the time top started, else 0 */
	__u64 drain_until;
};

static int on_top_event(void *ctx, void *data, size_t size)
{
	struct top_ctx *t = ctx;
	const struct sluice_event *e = data;
	size_t i;

	if (size < sizeof(*e))
		return 0;
	/*
	 * What the ring holds when top starts was dropped before it: not part of its first
	 * interval. The first event made after the start ends that drain, and counts.
	 */
	if (t->drain_until && e->time_ns <= t->drain_until)
		return 0;
	/* Monitored packets pass: only drop and ban verdicts are drops. */
	if (e->verdict != SLUICE_VERDICT_DROP && e->verdict != SLUICE_VERDICT_BAN)
		return t->drain_until ? -ECANCELED : 0;
	t->events++;
	for (i = 0; i < t->n; i++)
		if (!memcmp(t->entries[i].src, e->src, sizeof(e->src)) &&
		    t->entries[i].rule == e->rule && t->entries[i].reason == e->reason)
			break;
	if (i == t->n) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 256;
			struct top_entry *grown = realloc(t->entries, cap * sizeof(*grown));

			if (!grown)
				return -ENOMEM;
			t->entries = grown;
			t->cap = cap;
		}
		memset(&t->entries[i], 0, sizeof(t->entries[i]));
		memcpy(t->entries[i].src, e->src, sizeof(e->src));
		t->entries[i].rule = e->rule;
		t->entries[i].reason = e->reason;
		t->n++;
	}
	t->entries[i].drops += e->sampled;
	t->entries[i].bytes += (__u64)e->sampled * e->len;
	return t->drain_until ? -ECANCELED : 0;
}

static int by_drops(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	return x->drops < y->drops ? 1 : x->drops > y->drops ? -1 : 0;
}

static json_t *top_json(struct top_ctx *t, unsigned int limit, double seconds,
			const struct stats_snapshot *now, const struct stats_snapshot *before)
{
	json_t *keys = json_array(), *doc;
	__u64 drops = 0, passes = 0;

	if (t->n) /* entries is NULL until the first drop, and qsort's array may not be */
		qsort(t->entries, t->n, sizeof(*t->entries), by_drops);
	for (size_t i = 0; i < t->n && i < limit; i++) {
		char src[64];

		addr_text(t->entries[i].src, src, sizeof(src));
		json_array_append_new(
			keys, json_pack("{s:s,s:s,s:s,s:f,s:I}", "src", src, "rule",
					rule_name(&t->names, t->entries[i].rule), "reason",
					reason_names[t->entries[i].reason % SLUICE_REASON_COUNT],
					"drops_per_sec", t->entries[i].drops / seconds, "drops",
					(json_int_t)t->entries[i].drops));
	}
	for (__u32 i = 0; i < SLUICE_MAX_IFACES; i++) {
		struct sluice_counter d1 = stats_sum(now, i, -1, SLUICE_VERDICT_DROP, -1);
		struct sluice_counter b1 = stats_sum(now, i, -1, SLUICE_VERDICT_BAN, -1);
		struct sluice_counter p1 = stats_sum(now, i, -1, SLUICE_VERDICT_PASS, -1);
		struct sluice_counter d0 = stats_sum(before, i, -1, SLUICE_VERDICT_DROP, -1);
		struct sluice_counter b0 = stats_sum(before, i, -1, SLUICE_VERDICT_BAN, -1);
		struct sluice_counter p0 = stats_sum(before, i, -1, SLUICE_VERDICT_PASS, -1);

		drops += d1.packets + b1.packets - d0.packets - b0.packets;
		passes += p1.packets - p0.packets;
	}
	doc = json_pack("{s:f,s:f,s:f,s:I,s:o}", "interval_sec", seconds, "drops_per_sec",
			drops / seconds, "passes_per_sec", passes / seconds, "events",
			(json_int_t)t->events, "top", keys);
	t->n = 0;
	t->events = 0;
	return doc;
}

static struct termios saved_tty;
static bool tty_raw;

static void tty_restore(void)
{
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
		printf("\033[?25h"); /* cursor back */
		fflush(stdout);
		tty_raw = false;
	}
}

static void tty_setup(void)
{
	struct termios raw;

	/* Raw keys and a hidden cursor only for a screen that top redraws. */
	if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tty))
		return;
	raw = saved_tty;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw))
		return;
	tty_raw = true;
	atexit(tty_restore);
	printf("\033[?25l");
}

static void top_draw(json_t *doc, unsigned int limit, bool first)
{
	json_t *k;
	size_t i;

	/* On a terminal the screen is redrawn; into a pipe or a file, a block a snapshot. */
	if (isatty(STDOUT_FILENO))
		printf("\033[H\033[2J");
	else if (!first)
		printf("\n");
	printf("sluice top  every %.1fs  drops %.0f/s  passes %.0f/s  events %lld%s\n\n",
	       json_real_value(json_object_get(doc, "interval_sec")),
	       json_real_value(json_object_get(doc, "drops_per_sec")),
	       json_real_value(json_object_get(doc, "passes_per_sec")),
	       json_integer_value(json_object_get(doc, "events")), tty_raw ? "   (q quits)" : "");
	printf("%-40s %-20s %-10s %12s\n", "SOURCE", "RULE", "REASON", "DROPS/S");
	json_array_foreach(json_object_get(doc, "top"), i, k) {
		if (i >= limit)
			break;
		printf("%-40s %-20s %-10s %12.1f\n", json_string_value(json_object_get(k, "src")),
		       json_string_value(json_object_get(k, "rule")),
		       json_string_value(json_object_get(k, "reason")),
		       json_real_value(json_object_get(k, "drops_per_sec")));
	}
	fflush(stdout);
}

static bool quit_pressed(void)
{
	char c;

	return tty_raw && read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q');
}

static unsigned long long top_limit;
static __u64 top_interval_ns;

static int top_check(struct verb *v)
{
	top_limit = 20;
	top_interval_ns = 1000000000ULL;
	if (v->opt[0] && !parse_count(v->opt[0], 10000, &top_limit)) {
		pr_warn("top: -n: expected a count from 1 to 10000, got \"%s\"", v->opt[0]);
		return EXIT_USAGE;
	}
	if (v->opt[1] &&
	    parse_interval(v->opt[1], 100000000ULL, 3600000000000ULL, &top_interval_ns)) {
		pr_warn("top: --interval: expected seconds or a duration (units " INTERVAL_UNITS
			") from 100ms to 1h, got \"%s\"",
			v->opt[1]);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* The pins open with the event ring (open_ring). */
static int top_run(struct verb *v)
{
	struct stats_snapshot *now = malloc(sizeof(*now)), *before = malloc(sizeof(*before));
	unsigned long long limit = top_limit;
	__u64 interval_ns = top_interval_ns;
	bool first = true;
	struct top_ctx t = {};
	struct ring_buffer *rb = NULL;
	struct pins p;
	int err, ret = EXIT_OK;

	(void)v;
	if (!now || !before) {
		pr_warn("top: out of memory");
		ret = EXIT_RUNTIME;
		goto out_free;
	}
	ret = open_ring("top", &p, on_top_event, &t, &rb);
	if (ret)
		goto out_free;
	names_load(&p, &t.names);
	/*
	 * The baseline: counters as they are now, and the events already in the ring
	 * drained unread, so that the first interval starts with top.
	 */
	err = stats_read(&p, before);
	t.drain_until = mono_now_ns();
	if (!err) {
		err = ring_buffer__consume(rb);
		err = err == -ECANCELED || err >= 0 ? 0 : err;
	}
	t.drain_until = 0;
	catch_signals();
	if (!json_output)
		tty_setup();
	while (!stop && !err) {
		__u64 end = mono_now_ns() + interval_ns;
		json_t *doc;

		while (!stop && mono_now_ns() < end) {
			err = ring_buffer__poll(rb, 100);
			if (err < 0 && err != -EINTR)
				break;
			err = 0;
			if (quit_pressed())
				stop = 1;
		}
		if (err || stats_read(&p, now))
			break;
		doc = top_json(&t, limit, (now->taken_ns - before->taken_ns) / 1e9, now, before);
		if (json_output) {
			json_print_short(doc, json_pretty);
		} else {
			top_draw(doc, limit, first);
			json_decref(doc);
		}
		first = false;
		memcpy(before, now, sizeof(*now));
		names_load(&p, &t.names);
	}
	tty_restore();
	if (err) {
		pr_warn("top: %s", strerror(-err));
		ret = EXIT_RUNTIME;
	}
	ring_buffer__free(rb);
	pins_close(&p);
out_free:
	free(t.entries);
	free(now);
	free(before);
	return ret;
}

const struct cmd cmd_top = {
	.name = "top",
	.args = "[-n N] [--interval INTERVAL]",
	.summary = "top dropped sources, live",
	.help = "A live view of the N (default 20) source addresses dropped most, with\n"
		"their rule and reason, refreshed every INTERVAL (seconds, or a duration\n"
		"such as 500ms or 2s; default 1s); q or Ctrl-C quits. Only drop and ban\n"
		"verdicts count, from the moment top starts. With -j, one JSON snapshot\n"
		"per interval instead; not on a terminal, plain text blocks, no escapes.\n"
		"Rates come from the sampled events, weighted by their sampling.",
	.max_args = 0,
	.opts = (const struct cmd_opt[]){ { "n", 'n', true }, { "interval", 0, true }, {} },
	.check = top_check,
	.run = top_run,
};
