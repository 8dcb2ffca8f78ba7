// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* exporter: Prometheus metrics from the pinned maps over HTTP; collection of expired entries. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <microhttpd.h>
#include "attach.h"
#include "cmd.h"
#include "log.h"
#include "version.h"
#include "metrics.h"
#include "policy.h"

#define EXPORTER_LISTEN "127.0.0.1:9741"
#define EXPORTER_COLLECT_SEC 10
#define EXPORTER_COUNT_NS 1000000000ULL /* how often the map fill is counted, at most */
#define EXPORTER_USAGE "Usage: sluice exporter [--listen ADDR:PORT] [--collect SECONDS]\n"

static const char exporter_help[] =
	EXPORTER_USAGE
	"\n"
	"Serves the counters, list and map fill and the policy of the pinned maps\n"
	"as Prometheus metrics on http://ADDR:PORT/metrics (default " EXPORTER_LISTEN ";\n"
	"[::1]:PORT for IPv6). Every SECONDS (default 10, 0: never) it deletes\n"
	"expired list entries and bans. It never changes the policy. Runs until\n"
	"SIGTERM or SIGINT.\n";

static void exporter_usage(FILE *out)
{
	fputs(EXPORTER_USAGE, out);
}

/*
 * How full the maps are. Counting a list trie costs a syscall an entry (0.3 s for
 * 100k entries), far too slow for a scrape, so the main thread counts in the
 * background and scrapes show its last count.
 */
struct fill {
	bool valid; /* counted from the maps now pinned */
	__u64 allow, block, bans, limiter_keys, probation_keys;
	struct sluice_tier_stats tier;
};

/*
 * Concurrency: libmicrohttpd runs every request on its one internal polling thread,
 * so scrapes run one at a time and all but fill is theirs alone. The main thread
 * waits for signals, collects expired entries and counts the fill, with map fds of
 * its own; fill is shared under fill_lock.
 */
struct exporter {
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
};

/* Counts list entries (live generation), bans and limiter keys. */
static int count_fill(const struct pins *p, struct fill *f)
{
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
	in->tier = fill.tier;
	return 0;
}

/* Logs when the maps become unreadable or readable again, not on every scrape. */
static void note_state(struct exporter *e, int err)
{
	if (err == e->last_err)
		return;
	if (err == -ENOENT)
		pr_warn("exporter: nothing attached under %s; serving sluice_up 0", pin_path);
	else if (err)
		pr_warn("exporter: read maps under %s: %s; serving sluice_up 0", pin_path,
			strerror(-err));
	else
		pr_info("exporter: maps under %s readable", pin_path);
	e->last_err = err;
}

/* Fills e->text with a fresh document: maps are opened anew, so a detach or re-attach shows. */
static void scrape(struct exporter *e)
{
	__u64 start = mono_now_ns();
	struct metrics_input in = { .version = SLUICE_VERSION };
	struct scrape_bufs s;
	struct pins p;
	int err;

	mbuf_reset(&e->text);
	err = pins_open(&p, pin_path, false);
	if (!err) {
		err = gather(&p, e, &s, &in);
		pins_close(&p);
	}
	note_state(e, err);
	in.up = !err;
	metrics_render(&e->text, &in);
	metrics_family(&e->text, "sluice_scrape_duration_seconds",
		       "Seconds this scrape took to read the maps and write the metrics.",
		       METRIC_GAUGE);
	metrics_sample(&e->text, "sluice_scrape_duration_seconds", NULL, NULL, 0,
		       (mono_now_ns() - start) / 1e9);
}

static enum MHD_Result reply(struct MHD_Connection *conn, struct MHD_Response *resp,
			     unsigned int status, const char *content_type)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *conn, unsigned int status,
				  const char *text, const char *allow)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);

	if (resp && allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return reply(conn, resp, status, "text/plain; charset=utf-8");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct exporter *e = cls;
	struct MHD_Response *resp;
	const char *accept;
	void *gz;
	size_t gz_len;

	(void)version;
	(void)upload_data;
	if (!*req_cls) {
		*req_cls = e; /* first call: headers only; answer once the request is read */
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a body is not wanted: read past it */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics"))
		return reply_text(conn, MHD_HTTP_NOT_FOUND, "404 page not found\n", NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "405 method not allowed\n",
				  "GET, HEAD");
	scrape(e);
	if (e->text.failed)
		return reply_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				  "500 could not write the metrics\n", NULL);
	accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					     MHD_HTTP_HEADER_ACCEPT_ENCODING);
	if (metrics_accepts_gzip(accept) &&
	    !metrics_gzip(e->text.data, e->text.len, &gz, &gz_len)) {
		resp = MHD_create_response_from_buffer(gz_len, gz, MHD_RESPMEM_MUST_FREE);
		if (resp)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
		else
			free(gz);
	} else {
		resp = MHD_create_response_from_buffer(e->text.len, e->text.data,
						       MHD_RESPMEM_MUST_COPY);
	}
	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	return reply(conn, resp, MHD_HTTP_OK, METRICS_CONTENT_TYPE);
}

static void on_http_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	pr_warn("exporter: http: %s", buf);
}

/* Deletes expired list entries and bans under the write lock, held only for that. */
static void collect(int *last_err)
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

	if (pins_open(&p, pin_path, false) == 0) {
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
			collect(&collect_err);
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
	int fd, one = 1;

	if (metrics_parse_listen(addr, &ss, &len)) {
		pr_warn("exporter: --listen: expected IPV4:PORT or [IPV6]:PORT, got \"%s\"", addr);
		return -EINVAL;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ss.ss_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		int err = -errno;

		pr_warn("exporter: listen on %s: %s", addr, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	return fd;
}

int cmd_exporter(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "collect", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long collect_sec = EXPORTER_COLLECT_SEC;
	const char *listen_addr = EXPORTER_LISTEN;
	struct exporter e = { .last_err = 1, .fill_lock = PTHREAD_MUTEX_INITIALIZER };
	struct MHD_Daemon *d = NULL;
	int c, fd, err, ret = EXIT_RUNTIME;
	sigset_t stop_sigs;
	struct pins p;

	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_addr = optarg;
			break;
		case 'c':
			if (!strcmp(optarg, "0")) {
				collect_sec = 0;
			} else if (!parse_count(optarg, 86400, &collect_sec)) {
				pr_warn("exporter: --collect: expected whole seconds from 0 to 86400, "
					"got \"%s\"",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			printf("%s", exporter_help);
			return EXIT_OK;
		default:
			return cmd_bad_option("exporter", argv, exporter_usage);
		}
	}
	if (optind != argc) {
		exporter_usage(stderr);
		return EXIT_USAGE;
	}
	fd = listen_socket(listen_addr);
	if (fd < 0)
		return exit_code_for(fd);
	err = drop_capabilities();
	if (err)
		pr_warn("exporter: drop capabilities: %s", strerror(-err));
	e.snap = malloc(sizeof(*e.snap));
	e.policy = malloc(sizeof(*e.policy));
	mbuf_init(&e.text);
	if (!e.snap || !e.policy) {
		pr_warn("exporter: out of memory");
		goto out;
	}
	/* Say once at start whether there is anything to export. */
	err = pins_open(&p, pin_path, false);
	if (!err)
		pins_close(&p);
	note_state(&e, err);

	/* Blocked before the HTTP thread starts, so only sigtimedwait() below takes them. */
	sigemptyset(&stop_sigs);
	sigaddset(&stop_sigs, SIGINT);
	sigaddset(&stop_sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	d = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
			     on_request, &e, MHD_OPTION_EXTERNAL_LOGGER, on_http_log, NULL,
			     MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT, 64,
			     MHD_OPTION_CONNECTION_TIMEOUT, 10, MHD_OPTION_END);
	if (!d) {
		pr_warn("exporter: could not start the HTTP server on %s", listen_addr);
		goto out;
	}
	fd = -1; /* the daemon's now, closed by MHD_stop_daemon() */
	pr_info("exporter: serving http://%s/metrics", listen_addr);
	run_until_stopped(&e, &stop_sigs, collect_sec * 1000000000ULL);
	ret = EXIT_OK;
out:
	if (d)
		MHD_stop_daemon(d);
	if (fd >= 0)
		close(fd);
	mbuf_free(&e.text);
	free(e.snap);
	free(e.policy);
	return ret;
}
