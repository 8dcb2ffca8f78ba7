// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* exporter: metrics of the pinned maps for http.c to serve; collection of expired entries. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach.h"
#include "bans.h"
#include "log.h"
#include "version.h"
#include "exporter.h"
#include "fleetstate.h"
#include "http.h"
#include "metrics.h"
#include "policy.h"
#include "synguard.h"

#define EXPORTER_COUNT_NS 1000000000ULL /* how often the map fill is counted, at most */

/*
 * How full the maps are. Counting a list trie costs a syscall an entry (0.3 s for
 * 100k entries), far too slow for a scrape, so the main thread counts in the
 * background and scrapes show its last count.
 */
struct fill {
	bool valid; /* counted from the maps now pinned */
	__u64 allow, block, bans, limiter_keys, probation_keys;
	__u64 ban_filter_bits_set, ban_filter_bits;
	struct sluice_tier_stats tier;
};

/*
 * Concurrency: http.c runs every request on libmicrohttpd's one internal polling
 * thread, so scrapes run one at a time and all but fill is theirs alone. The main thread
 * waits for signals, collects expired entries and counts the fill, with map fds of
 * its own; fill is shared under fill_lock.
 */
struct exporter {
	const char *pin_path;
	const char *fleet_state;
	struct mbuf text;
	struct stats_snapshot *snap;
	struct sluice_policy *policy;
	int last_err; /* of the last scrape's open, so only changes are logged */
	pthread_mutex_t fill_lock;
	struct fill fill;
};

/* What one scrape read, pointed to by its struct metrics_input. */
struct scrape_bufs {
	struct sluice_iface recs[SLUICE_MAX_IFACES];
	struct metrics_iface ifaces[SLUICE_MAX_IFACES];
	struct metrics_rule rules[SLUICE_MAX_RULES];
	struct metrics_guard guards[SLUICE_MAX_GUARDS];
	char guard_dst[SLUICE_MAX_GUARDS][64];
};

/* Counts list entries (live generation), bans and limiter keys. */
static int count_fill(const struct pins *p, struct fill *f)
{
	struct ban_filter_fill bf;
	struct limiter_usage usage;
	long n;
	int err;

	f->allow = lists_count(p, LIST_ALLOW);
	f->block = lists_count(p, LIST_BLOCK);
	n = map_count_entries(p->fds[PIN_BANS]);
	if (n < 0)
		return n;
	f->bans = n;
	err = limiter_usage_read(p, &usage);
	if (err)
		return err;
	err = ban_filter_fill(p, &bf);
	if (err)
		return err;
	f->ban_filter_bits_set = bf.bits_set;
	f->ban_filter_bits = bf.bits_total;
	f->limiter_keys = usage.slots_live + usage.buckets;
	f->probation_keys = usage.probation_live;
	f->tier = usage.tier;
	f->valid = true;
	return 0;
}

static void publish_fill(struct exporter *e, const struct fill *f)
{
	pthread_mutex_lock(&e->fill_lock);
	e->fill = *f;
	pthread_mutex_unlock(&e->fill_lock);
}

/* Reads everything the document shows from the open maps into IN. */
static int gather(const struct pins *p, struct exporter *e, struct scrape_bufs *s,
		  struct metrics_input *in)
{
	struct sluice_policy *pol = e->policy;
	struct sluice_state state;
	__u32 zero = 0, slot;
	struct fill fill;
	int err;

	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state))
		return -errno;
	slot = SLUICE_ACTIVE_POLICY(state.active);
	if (bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol))
		return -errno;
	in->generation = state.generation;
	in->digest = pol->digest;
	for (__u32 r = 0; r < pol->nrules && r < SLUICE_MAX_RULES; r++) {
		pol->rules[r].name[SLUICE_NAME_LEN - 1] = '\0';
		s->rules[r] = (struct metrics_rule){ pol->rules[r].name, pol->rules[r].stat_slot };
		in->nrules++;
	}
	in->rules = s->rules;
	for (__u32 g = 0; g < pol->nguards && g < SLUICE_MAX_GUARDS; g++) {
		const struct sluice_guard *sg = &pol->guards[g];
		struct metrics_guard *mg = &s->guards[in->nguards];
		struct sluice_guard_state st;
		struct sluice_lpm_key key = {};
		struct prefix dst;

		s->guard_dst[g][0] = '\0';
		if (sg->flags & SLUICE_GUARD_DST) {
			for (int w = 0; w < 4; w++)
				key.prefixlen += __builtin_popcount(sg->dst_mask[w]);
			memcpy(key.addr, sg->dst_addr, sizeof(key.addr));
			key_to_prefix(&key, &dst);
			format_prefix(&dst, s->guard_dst[g], sizeof(s->guard_dst[g]));
		}
		if (guard_counts_read(p, g, &mg->counts, &st))
			continue;
		mg->port = sg->dport;
		mg->dst = s->guard_dst[g];
		mg->engaged = (sg->flags & SLUICE_GUARD_ALWAYS) || st.engaged_ns;
		mg->engagements = st.engagements;
		in->nguards++;
	}
	in->guards = s->guards;
	for (__u32 i = 0; i < SLUICE_MAX_IFACES; i++) {
		struct sluice_iface *rec = &s->recs[in->nifaces];

		if (bpf_map_lookup_elem(p->fds[PIN_IFACES], &i, rec) || !rec->ifindex)
			continue;
		rec->name[SLUICE_IFNAME_LEN - 1] = '\0';
		s->ifaces[in->nifaces++] =
			(struct metrics_iface){ rec->name, xdp_mode_name(rec->mode), i };
	}
	in->ifaces = s->ifaces;
	/* Counters and event counters through the same code as `sluice stats`, so both agree. */
	err = stats_read(p, e->snap);
	if (err)
		return err;
	in->snap = e->snap;

	in->allow_capacity = state.list_capacity;
	in->block_capacity = state.list_capacity;
	in->bans_capacity = p->max_entries[PIN_BANS];
	in->limiter_capacity = p->max_entries[PIN_BUCKETS] + p->max_entries[PIN_SLOTS];

	pthread_mutex_lock(&e->fill_lock);
	fill = e->fill;
	pthread_mutex_unlock(&e->fill_lock);
	if (!fill.valid) {
		/* Just attached: count now rather than show nothing until the next count. */
		err = count_fill(p, &fill);
		if (err)
			return err;
		publish_fill(e, &fill);
	}
	in->allow_entries = fill.allow;
	in->block_entries = fill.block;
	in->bans = fill.bans;
	in->limiter_keys = fill.limiter_keys;
	in->probation_keys = fill.probation_keys;
	in->ban_filter_bits_set = fill.ban_filter_bits_set;
	in->ban_filter_bits = fill.ban_filter_bits;
	in->tier = fill.tier;
	return 0;
}

/* Logs when the maps become unreadable or readable again, not on every scrape. */
static void note_state(struct exporter *e, int err)
{
	if (err == e->last_err)
		return;
	if (err == -ENOENT)
		pr_warn("exporter: nothing attached under %s; serving sluice_up 0", e->pin_path);
	else if (err)
		pr_warn("exporter: read maps under %s: %s; serving sluice_up 0", e->pin_path,
			strerror(-err));
	else
		pr_info("exporter: maps under %s readable", e->pin_path);
	e->last_err = err;
}

/* Fills e->text with a fresh document: maps are opened anew, so a detach or re-attach shows. */
static const struct mbuf *scrape(void *ctx)
{
	struct exporter *e = ctx;
	__u64 start = mono_now_ns();
	struct metrics_input in = { .version = SLUICE_VERSION };
	struct scrape_bufs s;
	struct pins p;
	int err;

	mbuf_reset(&e->text);
	err = pins_open(&p, e->pin_path, false);
	if (!err) {
		err = gather(&p, e, &s, &in);
		pins_close(&p);
	}
	note_state(e, err);
	in.up = !err;
	metrics_render(&e->text, &in);
	if (e->fleet_state) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fleetstate_render(&e->text, e->fleet_state,
				  (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
	}
	metrics_family(&e->text, "sluice_scrape_duration_seconds",
		       "Seconds this scrape took to read the maps and write the metrics.",
		       METRIC_GAUGE);
	metrics_sample(&e->text, "sluice_scrape_duration_seconds", NULL, NULL, 0,
		       (mono_now_ns() - start) / 1e9);
	return &e->text;
}

/* Deletes expired list entries and bans under the write lock, held only for that. */
static void collect(const char *pin_path, int *last_err)
{
	struct pins w;
	long n;
	int err = pins_open(&w, pin_path, true);

	if (err) {
		if (err != -ENOENT && err != *last_err)
			pr_warn("exporter: collect: open %s: %s", pin_path, strerror(-err));
		*last_err = err;
		return;
	}
	*last_err = 0;
	n = collect_expired(&w);
	pins_close(&w);
	if (n < 0)
		pr_warn("exporter: collect expired entries: %s", strerror((int)-n));
	else if (n > 0)
		pr_info("exporter: collected %ld expired entries", n);
}

static void refresh_fill(struct exporter *e)
{
	struct fill f = {};
	struct pins p;

	if (pins_open(&p, e->pin_path, false) == 0) {
		if (count_fill(&p, &f))
			f.valid = false;
		pins_close(&p);
	}
	publish_fill(e, &f);
}

/*
 * When to run again a task that started at START: one PERIOD on, or ten times as
 * long as it took if that is longer, so that on huge lists neither the walk nor the
 * lock it may hold takes more than a tenth of the time.
 */
static __u64 paced_next(__u64 start, __u64 period)
{
	__u64 took = mono_now_ns() - start;

	return start + (period > 10 * took ? period : 10 * took);
}

/* Collects every COLLECT_NS (0: never) and counts the fill until SIGINT or SIGTERM. */
static void run_until_stopped(struct exporter *e, const sigset_t *stop_sigs, __u64 collect_ns)
{
	__u64 next_collect = 0, next_count = 0;
	int collect_err = 0;

	for (;;) {
		struct timespec ts;
		__u64 now, wake;
		int sig;

		now = mono_now_ns();
		if (collect_ns && now >= next_collect) {
			collect(e->pin_path, &collect_err);
			next_collect = paced_next(now, collect_ns);
		}
		now = mono_now_ns();
		if (now >= next_count) {
			refresh_fill(e); /* after collecting, so it counts what is left */
			next_count = paced_next(now, EXPORTER_COUNT_NS);
		}
		wake = collect_ns && next_collect < next_count ? next_collect : next_count;
		now = mono_now_ns();
		ts.tv_sec = wake > now ? (wake - now) / 1000000000ULL : 0;
		ts.tv_nsec = wake > now ? (wake - now) % 1000000000ULL : 0;
		do
			sig = sigtimedwait(stop_sigs, NULL, &ts);
		while (sig < 0 && errno == EINTR);
		if (sig > 0)
			return;
	}
}

/*
 * Keeps CAP_BPF alone, if it is there at all, and empties the bounding set of the
 * rest. Reading maps through open fds and re-opening pins (root-owned, 0600) as
 * their owner needs no capability on Linux 6.5 and later; before 6.5, with
 * kernel.unprivileged_bpf_disabled set (Debian's default), every bpf() command,
 * map lookups included, needs CAP_BPF, so the exporter keeps it for re-opening the
 * maps after a re-attach and for the periodic collection. The socket is bound
 * already, so CAP_NET_BIND_SERVICE is not needed either. Capabilities are per
 * thread: this runs before libmicrohttpd starts its thread.
 */
static int drop_capabilities(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
	__u32 bpf_mask = CAP_TO_MASK(CAP_BPF);
	int idx = CAP_TO_INDEX(CAP_BPF);
	bool keep_bpf;

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	keep_bpf = data[idx].permitted & bpf_mask;
	/* Needs CAP_SETPCAP; without it the bounding set cannot matter to us anyway. */
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (cap != CAP_BPF)
			prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(data, 0, sizeof(data));
	if (keep_bpf)
		data[idx].permitted = data[idx].effective = bpf_mask;
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	return 0;
}

static int listen_socket(const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, v6only = 1, err;
	bool any;

	err = http_parse_listen(addr, &ss, &len, &any);
	if (err == -ENXIO) {
		pr_warn("exporter: --listen: cannot resolve the host of \"%s\"", addr);
		return err;
	}
	if (err) {
		pr_warn("exporter: --listen: expected IPV4:PORT, [IPV6]:PORT, HOST:PORT or :PORT, "
			"got \"%s\"",
			addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && any && errno == EAFNOSUPPORT) {
		/* A kernel without IPv6: every address is every IPv4 address. */
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		__be16 port = ((struct sockaddr_in6 *)&ss)->sin6_port;

		memset(&ss, 0, sizeof(ss));
		sin->sin_family = AF_INET;
		sin->sin_port = port;
		len = sizeof(*sin);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	/*
	 * [::]:PORT means IPv6 alone, on every host whatever its net.ipv6.bindv6only, so
	 * an IPv4 listener on the same port can coexist; if that cannot be set, binding
	 * would silently take IPv4 too, so it is an error. :PORT is the opposite: both
	 * families on one socket. SO_REUSEADDR only spares a restart the TIME_WAIT of the
	 * last run's connections: worth a try, no more.
	 */
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		v6only = !any;
		if (ss.ss_family == AF_INET6 &&
		    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only))) {
			err = -errno;
			pr_warn("exporter: listen on %s: set IPV6_V6ONLY: %s", addr,
				strerror(-err));
			close(fd);
			return err;
		}
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		err = -errno;
		pr_warn("exporter: listen on %s: %s", addr, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

int exporter_run(const struct exporter_config *cfg)
{
	struct exporter e = {
		.pin_path = cfg->pin_path,
		.fleet_state = cfg->fleet_state,
		.last_err = 1,
		.fill_lock = PTHREAD_MUTEX_INITIALIZER,
	};
	struct http_config hc = {
		.web = cfg->web,
		.max_connections = EXPORTER_MAX_CONNECTIONS,
		.per_ip_connections = EXPORTER_PER_IP_CONNECTIONS,
		.timeout_sec = EXPORTER_TIMEOUT_SEC,
	};
	bool tls = cfg->web && cfg->web->cert_pem;
	struct http_server *server = NULL;
	sigset_t stop_sigs;
	struct pins p;
	int fd, err;

	fd = listen_socket(cfg->listen);
	if (fd < 0)
		return fd;
	err = drop_capabilities();
	if (err)
		pr_warn("exporter: drop capabilities: %s", strerror(-err));
	e.snap = malloc(sizeof(*e.snap));
	e.policy = malloc(sizeof(*e.policy));
	mbuf_init(&e.text);
	if (!e.snap || !e.policy) {
		pr_warn("exporter: out of memory");
		err = -ENOMEM;
		goto out;
	}
	/* Say once at start whether there is anything to export. */
	err = pins_open(&p, e.pin_path, false);
	if (!err)
		pins_close(&p);
	note_state(&e, err);

	/* Blocked before the HTTP thread starts, so only sigtimedwait() below takes them. */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	hc.listen_fd = fd;
	err = http_start(&hc, scrape, &e, &server);
	if (err) {
		pr_warn("exporter: could not start the %s server on %s%s", tls ? "HTTPS" : "HTTP",
			cfg->listen, tls ? " (are cert_file and key_file a matching pair?)" : "");
		goto out;
	}
	fd = -1; /* the server's now, closed by http_stop() */
	pr_info("exporter: serving %s://%s/metrics%s", tls ? "https" : "http", cfg->listen,
		cfg->web && cfg->web->nusers ? " with basic auth" : "");
	run_until_stopped(&e, &stop_sigs, cfg->collect_ns);
out:
	http_stop(server);
	if (fd >= 0)
		close(fd);
	mbuf_free(&e.text);
	free(e.snap);
	free(e.policy);
	return err;
}
