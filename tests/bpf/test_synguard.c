// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * SYN guards through BPF_PROG_TEST_RUN, in a network namespace of the test's own with
 * real listeners on 127.0.0.1 and ::1: a SYN gets a well-formed cookie SYN-ACK
 * (XDP_TX) with the options the kernel will decode, plain, VLAN-tagged and over IPv6;
 * the ACK carrying that cookie passes and a forged one is dropped; extension headers
 * do not bypass the guard; ports without a listener and a resting guard pass.
 */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include "harness.h"

#define PORT 8443
#define CLIENT_TSVAL 0x01020304U
#define CLIENT_SEQ 1000U
#define WSCALE 9

static void set_knobs(struct sluice *skel)
{
	skel->rodata->guard_ncpus = libbpf_num_possible_cpus();
	skel->rodata->guard_timestamps = 1;
	skel->rodata->guard_sack = 1;
	skel->rodata->guard_wscale = WSCALE;
}

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	if (!ok)
		tap_diag("write %s: %s", path, strerror(errno));
	return ok;
}

/* A namespace of our own, lo up, cookies always and timestamps without offsets. */
static bool netns_setup(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int s;

	if (unshare(CLONE_NEWNET)) {
		tap_diag("unshare: %s", strerror(errno));
		return false;
	}
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr))
		return false;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr))
		return false;
	close(s);
	return write_file("/proc/sys/net/ipv4/tcp_syncookies", "2") &&
	       write_file("/proc/sys/net/ipv4/tcp_timestamps", "2");
}

static int listen_on(int family, int maxseg)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons(PORT) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(PORT) };
	int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, "127.0.0.1", &a4.sin_addr);
	a6.sin6_addr = in6addr_loopback;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || (maxseg && setsockopt(s, IPPROTO_TCP, TCP_MAXSEG, &maxseg, sizeof(maxseg))) ||
	    (family == AF_INET ? bind(s, (void *)&a4, sizeof(a4)) :
				 bind(s, (void *)&a6, sizeof(a6))) ||
	    listen(s, 16)) {
		tap_diag("listener: %s", strerror(errno));
		return -1;
	}
	return s;
}

/* ---- frames ---- */

struct tcp_frame {
	__u8 data[256];
	__u32 len;
	__u32 l3, l4; /* offsets of the IP and TCP headers */
};

static __u16 fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

static __u32 sum16(const __u8 *p, __u32 n, __u32 sum)
{
	for (__u32 i = 0; i + 1 < n; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += p[n - 1] << 8;
	return sum;
}

/* The TCP checksum over the pseudo header; 0xffff when the header's own is right. */
static __u16 tcp_sum(const struct tcp_frame *f, bool v6)
{
	__u32 sum, len = f->len - f->l4;
	__u8 pseudo[40] = {};

	if (v6) {
		memcpy(pseudo, f->data + f->l3 + 8, 32);
		sum = sum16(pseudo, 32, 0) + len + IPPROTO_TCP;
	} else {
		memcpy(pseudo, f->data + f->l3 + 12, 8);
		sum = sum16(pseudo, 8, 0) + len + IPPROTO_TCP;
	}
	return fold(sum16(f->data + f->l4, len, sum));
}

/* A TCP segment from the client: VLANS tags, EXT (8-byte hop-by-hop) on IPv6. */
static void build(struct tcp_frame *f, bool v6, int vlans, bool ext, __u8 flags, __u32 seq,
		  __u32 ack, __u16 dport, const __u8 *opts, __u32 optlen)
{
	static const __u8 macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	__u8 *p = f->data;
	__u32 o = 12, tcplen = 20 + optlen;

	memset(f, 0, sizeof(*f));
	memcpy(p, macs, 12);
	for (int i = 0; i < vlans; i++) {
		set16(p + o, ETH_P_8021Q);
		set16(p + o + 2, 100 + i);
		o += 4;
	}
	set16(p + o, v6 ? ETH_P_IPV6 : ETH_P_IP);
	o += 2;
	f->l3 = o;
	if (v6) {
		p[o] = 0x60;
		set16(p + o + 4, tcplen + (ext ? 8 : 0));
		p[o + 6] = ext ? IPPROTO_HOPOPTS : IPPROTO_TCP;
		p[o + 7] = 64;
		p[o + 23] = 2; /* ::2 */
		p[o + 39] = 1; /* ::1 */
		o += 40;
		if (ext) {
			p[o] = IPPROTO_TCP;
			p[o + 2] = 1; /* PadN */
			p[o + 3] = 4;
			o += 8;
		}
	} else {
		p[o] = 0x45;
		set16(p + o + 2, 20 + tcplen);
		p[o + 8] = 64;
		p[o + 9] = IPPROTO_TCP;
		inet_pton(AF_INET, "127.0.0.2", p + o + 12);
		inet_pton(AF_INET, "127.0.0.1", p + o + 16);
		set16(p + o + 10, ~fold(sum16(p + o, 20, 0)));
		o += 20;
	}
	f->l4 = o;
	set16(p + o, 40000);
	set16(p + o + 2, dport);
	for (int i = 0; i < 4; i++) {
		p[o + 4 + i] = seq >> (24 - 8 * i);
		p[o + 8 + i] = ack >> (24 - 8 * i);
	}
	p[o + 12] = (tcplen / 4) << 4;
	p[o + 13] = flags;
	set16(p + o + 14, 64240);
	memcpy(p + o + 20, opts, optlen);
	f->len = o + tcplen;
	set16(p + o + 16, ~tcp_sum(f, v6));
}

/* MSS 1460, SACK permitted, timestamps, window scale 7: what Linux sends. */
static const __u8 syn_opts[20] = {
	2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7
};

static int run(const struct tcp_frame *in, struct tcp_frame *out, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in->data, .data_size_in = in->len,
		    .data_out = out->data, .data_size_out = sizeof(out->data), .repeat = 1);

	memset(out, 0, sizeof(*out));
	if (bpf_prog_test_run_opts(H.prog, &opts))
		return -errno;
	*retval = opts.retval;
	out->len = opts.data_size_out;
	out->l3 = in->l3;
	return 0;
}

static __u32 get32(const __u8 *p)
{
	return (__u32)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

static struct sluice_guard_stats guard_counts(void)
{
	struct sluice_guard_stats sum = {}, v[H.ncpus];
	__u32 idx = 0;
	int fd = bpf_map__fd(H.skel->maps.sluice_guardstats);

	if (bpf_map_lookup_elem(fd, &idx, v))
		return sum;
	for (int c = 0; c < H.ncpus; c++) {
		sum.answered += v[c].answered;
		sum.validated += v[c].validated;
		sum.refused += v[c].refused;
		sum.passed += v[c].passed;
		sum.unanswerable += v[c].unanswerable;
	}
	return sum;
}

static int install_guard(__u64 above)
{
	static struct sluice_policy pol;

	memset(&pol, 0, sizeof(pol));
	pol.nguards = 1;
	pol.guards[0].dport = PORT;
	pol.guards[0].flags = above ? 0 : SLUICE_GUARD_ALWAYS;
	pol.guards[0].above = above;
	pol.event_ceiling = SLUICE_DEFAULT_EVENT_CEILING;
	pol.event_sample = SLUICE_DEFAULT_EVENT_SAMPLE;
	pol.event_period_ns = SLUICE_DEFAULT_EVENT_PERIOD_NS;
	return policy_install(&pol, NULL, 0, false, false, 0);
}

/* This CPU's entry of the listener cache for 127.0.0.1 (the test runs on CPU 0 alone). */
static struct sluice_guard_lst cached_v4(void)
{
	struct sluice_guard_lst v[H.ncpus];
	__u32 key;
	__u8 a[4];

	inet_pton(AF_INET, "127.0.0.1", a);
	key = (a[0] ^ a[1] ^ a[2] ^ a[3]) & (SLUICE_GUARD_SLOTS - 1);
	memset(v, 0, sizeof(v));
	bpf_map_lookup_elem(bpf_map__fd(H.skel->maps.sluice_guardlst), &key, v);
	return v[0];
}

/* Empties the listener cache: the next SYN of each destination looks up its socket. */
static bool forget_listeners(void)
{
	struct sluice_guard_lst v[H.ncpus];
	int fd = bpf_map__fd(H.skel->maps.sluice_guardlst);

	memset(v, 0, sizeof(v));
	for (__u32 k = 0; k < SLUICE_MAX_GUARDS * SLUICE_GUARD_SLOTS; k++)
		if (bpf_map_update_elem(fd, &k, v, BPF_ANY))
			return false;
	return true;
}

/*
 * Checks the SYN-ACK OUT answering IN: addresses and ports swapped, seq the cookie,
 * ack the SYN's seq + 1, checksums right, options as the kernel decodes them.
 * Returns the cookie.
 */
static __u32 check_syn_ack(const char *name, const struct tcp_frame *in, struct tcp_frame *out,
			   bool v6)
{
	const __u8 *ip = out->data + out->l3, *th;
	bool ok = true;
	__u32 ts;

	out->l4 = out->l3 + (v6 ? 40 : 20);
	th = out->data + out->l4;
	ok &= TAP_EXPECT_EQ("frame length", out->len, out->l4 + 40);
	ok &= !memcmp(out->data, in->data + 6, 6) && !memcmp(out->data + 6, in->data, 6);
	ok &= !memcmp(out->data + 12, in->data + 12, in->l3 - 12); /* VLAN tags kept */
	if (v6) {
		ok &= !memcmp(ip + 8, in->data + in->l3 + 24, 16) &&
		      !memcmp(ip + 24, in->data + in->l3 + 8, 16);
		ok &= TAP_EXPECT_EQ("payload length", ip[4] << 8 | ip[5], 40);
		ok &= TAP_EXPECT_EQ("next header", ip[6], IPPROTO_TCP);
		ok &= TAP_EXPECT_EQ("hop limit", ip[7], 64);
	} else {
		ok &= !memcmp(ip + 12, in->data + in->l3 + 16, 4) &&
		      !memcmp(ip + 16, in->data + in->l3 + 12, 4);
		ok &= TAP_EXPECT_EQ("ip checksum", fold(sum16(ip, 20, 0)), 0xffff);
		ok &= TAP_EXPECT_EQ("total length", ip[2] << 8 | ip[3], 60);
	}
	ok &= TAP_EXPECT_EQ("tcp checksum", tcp_sum(out, v6), 0xffff);
	ok &= TAP_EXPECT_EQ("sport", th[0] << 8 | th[1], PORT);
	ok &= TAP_EXPECT_EQ("dport", th[2] << 8 | th[3], 40000);
	ok &= TAP_EXPECT_EQ("ack", get32(th + 8), CLIENT_SEQ + 1);
	ok &= TAP_EXPECT_EQ("flags", th[13], TCP_SYN | TCP_ACK);
	ok &= TAP_EXPECT_EQ("data offset", th[12] >> 4, 10);
	ok &= TAP_EXPECT_EQ("MSS option", get32(th + 20), 0x02040000U | (v6 ? 1440 : 1460));
	ok &= TAP_EXPECT_EQ("SACK permitted", th[24] << 8 | th[25], 0x0402);
	ok &= TAP_EXPECT_EQ("TS option", th[26] << 8 | th[27], 0x080a);
	ts = get32(th + 28);
	/* The client's window scale 7 and SACK in the low bits, as cookie_init_timestamp. */
	ok &= TAP_EXPECT_EQ("TSval options", ts & 0x3f, 7 | 0x10);
	ok &= TAP_EXPECT_EQ("TSecr", get32(th + 32), CLIENT_TSVAL);
	ok &= TAP_EXPECT_EQ("WS option", get32(th + 36), 0x01030300U | WSCALE);
	tap_result(ok, "%s: a well-formed cookie SYN-ACK", name);
	return get32(th + 4);
}

/* The handshake of NAME: SYN, SYN-ACK, then the right ACK passes and a forged one drops. */
static void handshake(const char *name, bool v6, int vlans)
{
	struct tcp_frame syn, out, ack;
	struct sluice_guard_stats before = guard_counts(), after;
	__u8 ack_opts[12] = { 1, 1, 8, 10, 1, 2, 3, 4 };
	__u32 retval = 0, cookie;

	build(&syn, v6, vlans, false, TCP_SYN, CLIENT_SEQ, 0, PORT, syn_opts, sizeof(syn_opts));
	if (run(&syn, &out, &retval) || !TAP_EXPECT_EQ("SYN verdict", retval, XDP_TX)) {
		tap_result(false, "%s: SYN answered with XDP_TX", name);
		return;
	}
	cookie = check_syn_ack(name, &syn, &out, v6);
	/* The ACK echoes the SYN-ACK's TSval, which carries the options. */
	memcpy(ack_opts + 8, out.data + out.l4 + 28, 4);
	build(&ack, v6, vlans, false, TCP_ACK, CLIENT_SEQ + 1, cookie + 1, PORT, ack_opts,
	      sizeof(ack_opts));
	tap_result(!run(&ack, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_PASS),
		   "%s: the ACK with the cookie passes", name);
	/* Off in its high bits: the low ones of a cookie only pick an MSS from a table. */
	build(&ack, v6, vlans, false, TCP_ACK, CLIENT_SEQ + 1, (cookie ^ 0x80000000) + 1, PORT,
	      ack_opts, sizeof(ack_opts));
	tap_result(!run(&ack, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_DROP),
		   "%s: a forged ACK is dropped", name);
	after = guard_counts();
	tap_result(TAP_EXPECT_EQ("answered", after.answered - before.answered, 1) &
			   TAP_EXPECT_EQ("validated", after.validated - before.validated, 1) &
			   TAP_EXPECT_EQ("refused", after.refused - before.refused, 1),
		   "%s: counted answered, validated, refused", name);
}

struct event_capture {
	int n;
	struct sluice_event last;
};

static int capture_event(void *ctx, void *data, size_t size)
{
	struct event_capture *cap = ctx;

	if (size == sizeof(cap->last))
		memcpy(&cap->last, data, size);
	cap->n++;
	return 0;
}

/* One event, of reason guard and VERDICT, for port PORT with the SYN rate RATE. */
static bool guard_event_is(struct ring_buffer *rb, struct event_capture *cap, __u8 verdict,
			   __u64 rate)
{
	cap->n = 0;
	ring_buffer__consume(rb);
	return TAP_EXPECT_EQ("events", cap->n, 1) &
	       TAP_EXPECT_EQ("reason", cap->last.reason, SLUICE_REASON_GUARD) &
	       TAP_EXPECT_EQ("verdict", cap->last.verdict, verdict) &
	       TAP_EXPECT_EQ("dport", cap->last.dport, PORT) &
	       TAP_EXPECT_EQ("rate", cap->last.sampled, rate);
}

static __u64 window_now(void)
{
	return mono_ns() >> SLUICE_GUARD_WINDOW_SHIFT;
}

/*
 * Waits (bounded) until the next pressure window is 20 ms old: the data path reads the
 * coarse clock, up to a tick behind. False if the clock stands still.
 */
static bool next_window(void)
{
	__u64 w = window_now(), start = (w + 1) << SLUICE_GUARD_WINDOW_SHIFT;

	for (int i = 0; i < 1000000 && mono_ns() < start + 20000000; i++)
		usleep(100);
	return mono_ns() >= start + 20000000;
}

/*
 * A guard above 100/s: 200 SYNs within one window (1490/s) pass while it rests; the
 * first SYN of the next window sums them, engages it and is answered.
 */
static void pressure(struct tcp_frame *in)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .repeat = 200);
	struct sluice_guard_state st = {};
	struct sluice_guard_stats before, after;
	struct event_capture cap = {};
	struct ring_buffer *rb;
	struct tcp_frame out;
	__u32 retval = 0, idx = 0;

	rb = ring_buffer__new(bpf_map__fd(H.skel->maps.sluice_events), capture_event, &cap, NULL);
	tap_result(rb && !install_guard(100), "guard tcp dport %d above 100/s", PORT);
	if (!rb)
		return;
	ring_buffer__consume(rb);
	build(in, true, 0, false, TCP_SYN, CLIENT_SEQ, 0, PORT, syn_opts, sizeof(syn_opts));
	opts.data_in = in->data;
	opts.data_size_in = in->len;
	before = guard_counts();
	tap_result(next_window() && !bpf_prog_test_run_opts(H.prog, &opts) &&
			   TAP_EXPECT_EQ("verdict", opts.retval, XDP_PASS),
		   "200 SYNs in one window pass while the guard rests");
	tap_result(next_window() && !run(in, &out, &retval) &&
			   TAP_EXPECT_EQ("verdict", retval, XDP_TX),
		   "the next window's first SYN engages the guard and is answered");
	after = guard_counts();
	bpf_map_lookup_elem(bpf_map__fd(H.skel->maps.sluice_guardstate), &idx, &st);
	tap_result(TAP_EXPECT_EQ("passed", after.passed - before.passed, 200) &
			   TAP_EXPECT_EQ("answered", after.answered - before.answered, 1) &
			   TAP_EXPECT_EQ("engagements", st.engagements, 1) &
			   TAP_EXPECT_EQ("rate", st.rate, (200ULL * 1000000000) >> 27) &
			   (st.engaged_ns != 0),
		   "counted: 200 passed, 1 answered, engaged once at 1490 SYN/s");
	tap_result(guard_event_is(rb, &cap, SLUICE_VERDICT_COOKIE, (200ULL * 1000000000) >> 27),
		   "an event says it engaged, and at what rate");

	/* Quiet for the hold time: the first SYN after it finds the rate low and rests it. */
	for (int i = 0; i < 2000 && mono_ns() < st.pressure_ns + SLUICE_GUARD_HOLD_NS; i++)
		usleep(10000);
	tap_result(next_window() && !run(in, &out, &retval) &&
			   TAP_EXPECT_EQ("verdict", retval, XDP_PASS),
		   "after %llu s below half the rate, the guard rests: the SYN passes",
		   SLUICE_GUARD_HOLD_NS / 1000000000ULL);
	bpf_map_lookup_elem(bpf_map__fd(H.skel->maps.sluice_guardstate), &idx, &st);
	tap_result(TAP_EXPECT_EQ("engaged_ns", st.engaged_ns, 0) &
			   TAP_EXPECT_EQ("engagements", st.engagements, 1),
		   "disengaged, engaged once in all");
	tap_result(guard_event_is(rb, &cap, SLUICE_VERDICT_PASS, 0), "an event says it rests");
	ring_buffer__free(rb);
}

int main(void)
{
	struct tcp_frame in, out;
	struct sluice_guard_stats before, after;
	struct sluice_guard_lst lst;
	__u32 retval = 0;
	cpu_set_t cpu0;
	int l4, l6;

	if (geteuid() != 0) {
		tap_skip("synguard", "needs root");
		return tap_exit();
	}
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	/* On one CPU, so that its entries of the per-CPU listener cache are the ones read. */
	tap_result(!sched_setaffinity(0, sizeof(cpu0), &cpu0), "pinned to CPU 0");
	tap_result(netns_setup(), "own network namespace with tcp_syncookies=2");
	l4 = listen_on(AF_INET, 0);
	l6 = listen_on(AF_INET6, 0);
	tap_result(l4 >= 0 && l6 >= 0, "listeners on 127.0.0.1 and ::1");
	harness_before_load = set_knobs;
	HARNESS_OPEN_OR_SKIP("synguard");
	tap_result(!install_guard(0), "guard tcp dport %d always", PORT);

	handshake("IPv4", false, 0);
	lst = cached_v4();
	tap_result(TAP_EXPECT_EQ("kind", lst.kind, SLUICE_GUARD_LISTENER_RAW) &
			   TAP_EXPECT_EQ("family", lst.family, SLUICE_FAMILY_IPV4) &
			   (lst.checked_ns != 0),
		   "the first SYN's lookup found a listener that gives cookies");
	/* The second comes within the recheck time: a raw cookie, which the stack accepts. */
	handshake("IPv4 in two VLAN tags", false, 2);
	tap_result(cached_v4().checked_ns == lst.checked_ns ||
			   cached_v4().checked_ns >= lst.checked_ns + 1000000000ULL,
		   "the second SYN was answered without a lookup, unless a second had passed");
	handshake("IPv6", true, 0);
	handshake("IPv6 again, raw cookie", true, 0);

	/*
	 * tcp_syncookies=1: the listener gives no cookie while its SYN queue has room. Within
	 * the recheck time of the last lookup the SYN is still answered (no lookup asks); the
	 * first SYN after it looks up, gets no cookie and passes, and so do those after it.
	 */
	build(&in, false, 0, false, TCP_SYN, CLIENT_SEQ, 0, PORT, syn_opts, sizeof(syn_opts));
	tap_result(forget_listeners() && !run(&in, &out, &retval) &&
			   TAP_EXPECT_EQ("verdict", retval, XDP_TX),
		   "a SYN with the cache emptied looks up the listener again");
	lst = cached_v4();
	before = guard_counts();
	tap_result(write_file("/proc/sys/net/ipv4/tcp_syncookies", "1") &&
			   !run(&in, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_TX),
		   "tcp_syncookies=1 within a second of the lookup: answered from the cache");
	for (int i = 0; i < 300 && !run(&in, &out, &retval) && retval == XDP_TX; i++)
		usleep(10000);
	tap_result(TAP_EXPECT_EQ("verdict", retval, XDP_PASS) &&
			   mono_ns() - lst.checked_ns < 2500000000ULL,
		   "the SYN after the recheck time looks up, gets no cookie and passes");
	tap_result(TAP_EXPECT_EQ("kind", cached_v4().kind, SLUICE_GUARD_LISTENER_NONE) &&
			   !run(&in, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_PASS),
		   "cached: no cookie from this listener, the next SYN passes too");
	after = guard_counts();
	tap_result(TAP_EXPECT_EQ("passed", after.passed - before.passed, 2) &
				   write_file("/proc/sys/net/ipv4/tcp_syncookies", "2") &&
			   forget_listeners(),
		   "counted passed (no cookie to give)");

	before = guard_counts();
	build(&in, false, 0, false, TCP_SYN, CLIENT_SEQ, 0, PORT, syn_opts, sizeof(syn_opts));
	tap_result(write_file("/proc/sys/net/ipv4/tcp_syncookies", "1") &&
			   !run(&in, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_PASS),
		   "tcp_syncookies=1, SYN queue not full: the SYN passes to the stack");
	after = guard_counts();
	tap_result(TAP_EXPECT_EQ("passed", after.passed - before.passed, 1) &
			   TAP_EXPECT_EQ("answered", after.answered - before.answered, 0) &
			   write_file("/proc/sys/net/ipv4/tcp_syncookies", "2"),
		   "counted passed (no cookie to give)");

	before = guard_counts();
	build(&in, true, 0, true, TCP_SYN, CLIENT_SEQ, 0, PORT, syn_opts, sizeof(syn_opts));
	tap_result(!run(&in, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_DROP),
		   "IPv6 SYN with a hop-by-hop header: dropped, not passed to the stack");
	build(&in, false, 0, false, TCP_SYN | TCP_FIN, CLIENT_SEQ, 0, PORT, syn_opts,
	      sizeof(syn_opts));
	tap_result(!run(&in, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_DROP),
		   "SYN with FIN: dropped, not passed to the stack");
	build(&in, false, 0, false, TCP_SYN, CLIENT_SEQ, 0, PORT + 1, syn_opts, sizeof(syn_opts));
	tap_result(!run(&in, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_PASS),
		   "SYN to an unguarded port passes");
	after = guard_counts();
	tap_result(TAP_EXPECT_EQ("unanswerable", after.unanswerable - before.unanswerable, 2) &
			   TAP_EXPECT_EQ("answered", after.answered - before.answered, 0),
		   "counted unanswerable");

	/* No listener on 127.0.0.1: the stack resets the SYN, the guard leaves it be. */
	close(l4);
	forget_listeners();
	before = guard_counts();
	build(&in, false, 0, false, TCP_SYN, CLIENT_SEQ, 0, PORT, syn_opts, sizeof(syn_opts));
	tap_result(!run(&in, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_PASS),
		   "SYN to a guarded port without a listener passes");
	after = guard_counts();
	tap_result(TAP_EXPECT_EQ("passed", after.passed - before.passed, 1),
		   "counted passed (no listener)");

	/*
	 * A listener that clamps the MSS (TCP_MAXSEG 1000): its cookie and SYN-ACK say 536,
	 * where the raw helper would say 1460, so every SYN asks it, not only the first.
	 */
	l4 = listen_on(AF_INET, 1000);
	forget_listeners();
	for (int i = 0; i < 2; i++) {
		build(&in, false, 0, false, TCP_SYN, CLIENT_SEQ, 0, PORT, syn_opts,
		      sizeof(syn_opts));
		tap_result(l4 >= 0 && !run(&in, &out, &retval) &&
				   TAP_EXPECT_EQ("verdict", retval, XDP_TX) &&
				   TAP_EXPECT_EQ("MSS option", get32(out.data + out.l3 + 40),
						 0x02040000U | 536),
			   "SYN %d to a listener with TCP_MAXSEG 1000: MSS 536", i + 1);
	}
	tap_result(TAP_EXPECT_EQ("kind", cached_v4().kind, SLUICE_GUARD_LISTENER_LOOKUP),
		   "a clamping listener is cached as one to ask for every SYN");
	close(l4);

	/* A resting guard: far below its threshold, SYNs go to the stack. */
	tap_result(!install_guard(1000000), "guard tcp dport %d above 1000000/s", PORT);
	before = guard_counts();
	build(&in, true, 0, false, TCP_SYN, CLIENT_SEQ, 0, PORT, syn_opts, sizeof(syn_opts));
	tap_result(!run(&in, &out, &retval) && TAP_EXPECT_EQ("verdict", retval, XDP_PASS),
		   "a resting guard passes the SYN");
	after = guard_counts();
	tap_result(TAP_EXPECT_EQ("passed", after.passed - before.passed, 1) &
			   TAP_EXPECT_EQ("answered", after.answered - before.answered, 0),
		   "counted passed (not engaged)");

	pressure(&in);

	close(l6);
	harness_close();
	return tap_exit();
}
