/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Data-path test harness: loads sluice unpinned, builds frames, writes policies, reads counters. */
#ifndef SLUICE_TEST_HARNESS_H
#define SLUICE_TEST_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "sluice.h"
#include "rule_index.h"
#include "ban_filter.h"
#include "lists.h"
#include "pins.h"
#include "sluice.skel.h"
#include "tap.h"

/* ---- Frames ---- */

#define FRAME_MAX 512
#define SRC4 "198.18.0.1"
#define DST4 "192.0.2.1"
#define SRC6 "2001:db8::1"
#define DST6 "fd00::1"
#define TCP_SYN 0x02
#define TCP_FIN 0x01
#define TCP_ACK 0x10

enum frag_kind {
	FRAG_NONE = 0,
	FRAG_FIRST, /* offset 0, more fragments: carries the L4 header */
	FRAG_LATER, /* offset 1480: its payload merely looks like an L4 header */
};

/* A frame to build; zero fields take the defaults named here. */
struct pkt_spec {
	__u8 family; /* 4, 6, or 0 for ARP */
	__u8 proto; /* IPPROTO_* after the IP header and its extension headers */
	__u8 vlans; /* 0..3 tags; with two or more the outer one is 802.1ad */
	__u8 frag; /* enum frag_kind; IPv6 gets a fragment header at the end of the chain */
	const char *src; /* SRC4 or SRC6 */
	const char *dst; /* DST4 or DST6 */
	const char *ext; /* IPv6 extension headers: H hop-by-hop, R routing, D dest-opts, A AH */
	__u16 dport; /* 80 */
	__u8 tcp_flags; /* TCP_SYN */
	__u8 ip_opts; /* bytes of IPv4 options, a multiple of 4 */
	__u8 tcp_opts; /* bytes of TCP options, a multiple of 4 */
	__u16 len; /* pad the payload up to this frame length */
	__u8 trailer; /* bytes after the IP packet (Ethernet padding) */
	/* Damage, for the malformed cases */
	__u8 version; /* IP version nibble instead of the family's */
	__u8 ihl; /* IPv4 header words instead of the real count */
	__u8 doff; /* TCP data offset instead of the real one */
	__s16 len_adj; /* added to the IPv4 total or IPv6 payload length */
};

struct frame {
	__u8 data[FRAME_MAX];
	__u32 len;
	__u32 ip_hdr_end; /* offset past the fixed IP header and IPv4 options */
};

/* Address in the 128-bit form of sluice.h; aborts on a typo in a test table. */
static inline int parse_addr(const char *s, __u32 out[4])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, &out[3]) == 1) {
		out[2] = htonl(0xffff);
		return SLUICE_FAMILY_IPV4;
	}
	if (inet_pton(AF_INET6, s, out) == 1)
		return SLUICE_FAMILY_IPV6;
	tap_diag("bad address in test table: %s", s);
	abort();
}

static inline void mask128(__u32 addr[4], __u32 plen)
{
	for (int i = 0; i < 4; i++, plen = 32 < plen ? plen - 32 : 0)
		addr[i] &= plen >= 32 ? 0xffffffff : plen ? htonl(0xffffffffU << (32 - plen)) : 0;
}

/* "a.b.c.d/n" or "x::/n" to a masked address and a prefix length, both in the 128-bit form. */
static inline void parse_cidr(const char *cidr, __u32 addr[4], __u32 *plen)
{
	char buf[64];
	char *slash;

	snprintf(buf, sizeof(buf), "%s", cidr);
	slash = strchr(buf, '/');
	if (!slash)
		abort();
	*slash = 0;
	*plen = atoi(slash + 1);
	if (parse_addr(buf, addr) == SLUICE_FAMILY_IPV4)
		*plen += SLUICE_V4_MAPPED_PLEN;
	mask128(addr, *plen);
}

/* Appends n bytes (zeros when src is NULL) and returns where they went. */
static inline __u8 *put(struct frame *f, const void *src, __u32 n)
{
	__u8 *at = f->data + f->len;

	if (f->len + n > FRAME_MAX)
		abort();
	if (src)
		memcpy(at, src, n);
	f->len += n;
	return at;
}

static inline void set16(__u8 *at, __u16 v)
{
	at[0] = v >> 8;
	at[1] = v;
}

static inline void put16(struct frame *f, __u16 v)
{
	set16(put(f, NULL, 2), v);
}

static inline void put_addr(struct frame *f, const char *s, __u8 family)
{
	__u32 a[4];

	parse_addr(s, a);
	put(f, family == 4 ? (void *)&a[3] : (void *)a, family == 4 ? 4 : 16);
}

static inline void build_arp(struct frame *f)
{
	static const __u8 arp[8] = { 0, 1, 8, 0, 6, 4, 0, 1 }; /* Ethernet, IPv4, request */

	put(f, arp, sizeof(arp));
	put(f, NULL, 6);
	put_addr(f, SRC4, 4);
	put(f, NULL, 6);
	put_addr(f, DST4, 4);
}

static inline void build_ipv4(const struct pkt_spec *s, struct frame *f)
{
	__u8 *h = put(f, NULL, 12);

	h[0] = (s->version ?: 4) << 4 | (s->ihl ?: (20 + s->ip_opts) / 4);
	h[5] = 0x34; /* id */
	if (s->frag == FRAG_FIRST)
		h[6] = 0x20; /* more fragments, offset 0 */
	if (s->frag == FRAG_LATER)
		h[7] = 185; /* offset 1480 */
	h[8] = 64;
	h[9] = s->proto;
	put_addr(f, s->src ?: SRC4, 4);
	put_addr(f, s->dst ?: DST4, 4);
	memset(put(f, NULL, s->ip_opts), 1, s->ip_opts); /* NOPs */
}

/* Next-header value and size of one extension header letter. */
static inline __u8 ext_type(char c, __u32 *size)
{
	switch (c) {
	case 'H':
		*size = 8;
		return IPPROTO_HOPOPTS;
	case 'R':
		*size = 24;
		return IPPROTO_ROUTING;
	case 'D':
		*size = 16;
		return IPPROTO_DSTOPTS;
	case 'A':
		*size = 16;
		return IPPROTO_AH;
	case 'F':
		*size = 8;
		return IPPROTO_FRAGMENT;
	}
	abort();
}

static inline void build_ipv6(const struct pkt_spec *s, struct frame *f)
{
	char chain[16];
	__u8 *h = put(f, NULL, 8), *next = &h[6];
	__u32 size;

	snprintf(chain, sizeof(chain), "%s%s", s->ext ?: "", s->frag ? "F" : "");
	h[0] = (s->version ?: 6) << 4;
	h[7] = 64;
	put_addr(f, s->src ?: SRC6, 6);
	put_addr(f, s->dst ?: DST6, 6);
	f->ip_hdr_end = f->len;
	for (const char *c = chain; *c; c++) {
		*next = ext_type(*c, &size);
		h = put(f, NULL, size);
		next = &h[0];
		if (*c == 'F') {
			h[2] = s->frag == FRAG_LATER ? 0x05 : 0; /* offset 1480 */
			h[3] = s->frag == FRAG_LATER ? 0xc8 : 1; /* or offset 0, more fragments */
		} else {
			h[1] = *c == 'A' ? size / 4 - 2 : size / 8 - 1;
			h[2] = *c == 'A' ? 0 : 1; /* PadN over the rest */
			h[3] = *c == 'A' ? 0 : size - 4;
		}
	}
	*next = s->proto;
}

/* The L4 header; a FRAG_LATER fragment carries the same bytes as mere payload. */
static inline void build_l4(const struct pkt_spec *s, struct frame *f)
{
	__u8 *h;

	switch (s->proto) {
	case IPPROTO_TCP:
		h = put(f, NULL, 20 + s->tcp_opts);
		set16(h, 40000);
		set16(h + 2, s->dport ?: 80);
		h[7] = 1; /* seq */
		h[12] = (s->doff ?: (20 + s->tcp_opts) / 4) << 4;
		h[13] = s->tcp_flags ?: TCP_SYN;
		h[14] = h[15] = 0xff; /* window */
		if (s->tcp_opts >= 4)
			memcpy(h + 20, "\x02\x04\x05\xb4", 4); /* MSS 1460 */
		for (int i = 24; i < 20 + s->tcp_opts; i++)
			h[i] = 1; /* NOP */
		break;
	case IPPROTO_UDP:
		h = put(f, NULL, 8); /* length set by build_frame, no checksum */
		set16(h, 40000);
		set16(h + 2, s->dport ?: 80);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		h = put(f, NULL, 8);
		h[0] = s->proto == IPPROTO_ICMP ? 8 : 128; /* echo request */
		break;
	}
}

static inline void build_frame(const struct pkt_spec *s, struct frame *f)
{
	static const __u8 macs[12] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1 };
	__u32 ip, l4, iplen;

	memset(f, 0, sizeof(*f));
	put(f, macs, sizeof(macs));
	for (int i = 0; i < s->vlans; i++) {
		put16(f, i == 0 && s->vlans > 1 ? ETH_P_8021AD : ETH_P_8021Q);
		put16(f, 100 + i);
	}
	put16(f, s->family == 4 ? ETH_P_IP : s->family == 6 ? ETH_P_IPV6 : ETH_P_ARP);
	ip = f->len;
	if (!s->family) {
		build_arp(f);
		f->ip_hdr_end = f->len;
		return;
	}
	if (s->family == 4) {
		build_ipv4(s, f);
		f->ip_hdr_end = f->len;
	} else {
		build_ipv6(s, f);
	}
	l4 = f->len;
	build_l4(s, f);
	if (s->len > f->len)
		put(f, NULL, s->len - f->len);
	if (s->proto == IPPROTO_UDP)
		set16(f->data + l4 + 4, f->len - l4);
	iplen = f->len - ip - (s->family == 6 ? 40 : 0) + s->len_adj;
	set16(f->data + ip + (s->family == 6 ? 4 : 2), iplen);
	put(f, NULL, s->trailer);
}

/* ---- The loaded program ---- */

struct harness {
	struct sluice *skel;
	int prog;
	int state, policy, buckets, bans, banfilter, slots, stats;
	int lists[2][2]; /* the hash of each list (enum list_kind) and generation */
	struct pins pins; /* the skeleton's maps, as the controller's functions take them */
	int ncpus;
	struct sluice_probation *probation; /* the new-key tier, mapped */
	struct sluice_counter *percpu; /* lookup buffer for one interface's counters */
};

static struct harness H;

/* Called between open and load when set, for a test's load-time knobs (rodata). */
static void (*harness_before_load)(struct sluice *skel);

#define PROBATION_BYTES (SLUICE_PROBATION_LINES * sizeof(struct sluice_probation))

/* Loads the program with pinning off, so the tests never touch /sys/fs/bpf. */
static inline bool harness_open(void)
{
	struct bpf_map *map;
	int err;

	H.ncpus = libbpf_num_possible_cpus();
	H.skel = sluice__open();
	if (!H.skel || H.ncpus <= 0) {
		tap_diag("open: %s", strerror(errno));
		return false;
	}
	bpf_object__for_each_map(map, H.skel->obj)
		bpf_map__set_pin_path(map, NULL);
	if (harness_before_load)
		harness_before_load(H.skel);
	err = sluice__load(H.skel);
	if (err) {
		tap_diag("load: %s", strerror(-err));
		return false;
	}
	H.prog = bpf_program__fd(H.skel->progs.sluice_xdp);
	H.state = bpf_map__fd(H.skel->maps.sluice_state);
	H.policy = bpf_map__fd(H.skel->maps.sluice_policy);
	/* A pin set without a directory: the skeleton's maps by name, as pins_open finds them. */
	H.pins.dir_fd = -1;
	for (int i = 0; i < PIN_MAP_COUNT; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(H.skel->obj, pin_map_names[i]);

		H.pins.fds[i] = m ? bpf_map__fd(m) : -1;
		H.pins.max_entries[i] = m ? bpf_map__max_entries(m) : 0;
	}
	for (__u32 kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++)
		for (__u32 gen = 0; gen < 2; gen++) {
			LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
			__u32 slot = kind * 2 + gen;
			int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "test_list",
						sizeof(struct sluice_lpm_key),
						sizeof(struct sluice_list_entry), 65536, &o);

			H.lists[kind][gen] = fd;
			if (fd < 0 ||
			    bpf_map_update_elem(H.pins.fds[PIN_LISTS], &slot, &fd, BPF_ANY)) {
				tap_diag("list hash: %s", strerror(errno));
				return false;
			}
		}
	H.buckets = bpf_map__fd(H.skel->maps.sluice_buckets);
	H.bans = bpf_map__fd(H.skel->maps.sluice_bans);
	H.banfilter = bpf_map__fd(H.skel->maps.sluice_banfilter);
	H.slots = bpf_map__fd(H.skel->maps.sluice_slots);
	H.stats = bpf_map__fd(H.skel->maps.sluice_stats);
	H.probation = mmap(NULL, PROBATION_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
			   bpf_map__fd(H.skel->maps.sluice_probation), 0);
	if (H.probation == MAP_FAILED) {
		tap_diag("mmap sluice_probation: %s", strerror(errno));
		return false;
	}
	H.percpu = calloc((size_t)SLUICE_STATS_PER_IFACE * H.ncpus, sizeof(*H.percpu));
	return H.percpu != NULL;
}

static inline void harness_close(void)
{
	munmap(H.probation, PROBATION_BYTES);
	if (H.pins.filter)
		munmap(H.pins.filter, SLUICE_FILTER_REGIONS * SLUICE_FILTER_REGION * sizeof(__u64));
	for (int kind = 0; kind < 2; kind++)
		for (int gen = 0; gen < 2; gen++)
			close(H.lists[kind][gen]);
	free(H.percpu);
	sluice__destroy(H.skel);
}

/* The harness_open of a test's main: skips the whole program when not root. */
#define HARNESS_OPEN_OR_SKIP(name)                                                                 \
	do {                                                                                       \
		if (geteuid() != 0) {                                                              \
			tap_skip(name, "needs root");                                              \
			return tap_exit();                                                         \
		}                                                                                  \
		tap_result(harness_open(), "load sluice with pinning off");                        \
		if (tap_failures)                                                                  \
			return tap_exit();                                                         \
	} while (0)

static inline int run_xdp(int prog, const struct frame *f, __u32 len, __u32 repeat, __u32 *retval,
			  __u32 *duration)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f->data, .data_size_in = len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(prog, &opts))
		return -errno;
	*retval = opts.retval;
	if (duration)
		*duration = opts.duration;
	return 0;
}

/*
 * The shortest frame BPF_PROG_TEST_RUN accepts: kernels refuse input shorter than an
 * Ethernet header (EINVAL), even behind XDP metadata, and no NIC delivers such a runt.
 */
static inline __u32 min_test_len(void)
{
	struct frame f = {};
	__u32 len, retval;

	for (len = 0; len < ETH_HLEN; len++)
		if (run_xdp(H.prog, &f, len, 1, &retval, NULL) != -EINVAL)
			break;
	return len;
}

/* ---- Counters ---- */

struct snap {
	struct sluice_counter c[SLUICE_STATS_PER_IFACE]; /* interface slot 0, summed over CPUs */
};

static const char *const verdict_names[SLUICE_VERDICT_COUNT] = { "PASS", "DROP", "MONITOR", "BAN",
								 "COOKIE" };
static const char *const reason_names[SLUICE_REASON_COUNT] = {
	"NONE", "ALLOWLIST", "BLOCKLIST", "BAN",   "RATELIMIT",
	"ACL",	"MALFORMED", "NONIP",	  "ERROR", "GUARD"
};

static inline int snap_read(struct snap *s)
{
	static __u32 keys[SLUICE_STATS_PER_IFACE];
	__u32 count = SLUICE_STATS_PER_IFACE, next;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	if (bpf_map_lookup_batch(H.stats, NULL, &next, keys, H.percpu, &count, &opts) &&
	    errno != ENOENT)
		return -errno;
	if (count != SLUICE_STATS_PER_IFACE)
		return -EIO;
	memset(s, 0, sizeof(*s));
	for (__u32 i = 0; i < count; i++) {
		for (int cpu = 0; cpu < H.ncpus; cpu++) {
			s->c[i].packets += H.percpu[i * H.ncpus + cpu].packets;
			s->c[i].bytes += H.percpu[i * H.ncpus + cpu].bytes;
		}
	}
	return 0;
}

/* n packets counted under (rule slot, verdict, reason). */
struct want {
	__u32 n, rule, verdict, reason;
};

#define WANTS_MAX 2

/*
 * Checks that between two snapshots exactly the wanted counters moved, each by its
 * packets and packets * len bytes, and every other counter of the interface stayed.
 */
static inline bool snap_expect(const struct snap *a, const struct snap *b, const struct want *w,
			       __u32 len)
{
	bool ok = true;

	for (__u32 i = 0; i < SLUICE_STATS_PER_IFACE; i++) {
		__u64 pkts = 0, dp = b->c[i].packets - a->c[i].packets;
		__u64 db = b->c[i].bytes - a->c[i].bytes;
		__u32 reason = i % SLUICE_REASON_COUNT, verdict = i / SLUICE_REASON_COUNT;
		__u32 rule = verdict / SLUICE_VERDICT_COUNT;

		verdict %= SLUICE_VERDICT_COUNT;
		for (int k = 0; k < WANTS_MAX; k++)
			if (sluice_stats_index(0, w[k].rule, w[k].verdict, w[k].reason) == i)
				pkts += w[k].n;
		if (dp == pkts && db == pkts * len)
			continue;
		tap_diag("counter rule %u %s %s: +%llu packets +%llu bytes, want +%llu +%llu", rule,
			 verdict_names[verdict], reason_names[reason], (unsigned long long)dp,
			 (unsigned long long)db, (unsigned long long)pkts,
			 (unsigned long long)pkts * len);
		ok = false;
	}
	return ok;
}

/* ---- Policies ---- */

enum entry_kind {
	ENTRY_ALLOW = 1,
	ENTRY_BLOCK,
	ENTRY_BAN,
};

enum expiry {
	PERMANENT = 0, /* lists only: a ban with expires_ns 0 is no ban */
	EXPIRED, /* a second ago */
	LIVE, /* in an hour */
};

struct list_spec {
	__u8 kind; /* enum entry_kind */
	__u8 expiry; /* enum expiry */
	const char *cidr;
};

struct rule_case {
	bool on;
	const char *dst; /* sets SLUICE_RULE_DST */
	struct sluice_rule r; /* flags DPORT and BYTES, ids, slots and defaults are filled in */
};

struct step {
	struct pkt_spec pkt;
	__u32 n; /* copies sent back to back */
	struct want want[WANTS_MAX];
};

#define RULES_MAX 3
#define LISTS_MAX 4
#define STEPS_MAX 5

/* One table row: a policy, lists and bans, then packets with the counters they must move. */
struct scenario {
	const char *desc;
	struct rule_case rules[RULES_MAX];
	struct list_spec lists[LISTS_MAX];
	bool malformed_drop;
	bool lists_off; /* entries in the lists but not the policy flags that enable them */
	__u32 event_ceiling; /* drop events per second per CPU; 0, the default here: off */
	__u32 event_sample;
	struct step steps[STEPS_MAX];
	const char *want_ban; /* the single ban entry the steps must leave */
};

#define SLOT(i) (10 + (i)) /* counter slot of a scenario's i-th rule */
#define POISON_SLOT 63 /* the drop-all rule of the inactive policy slot */
#define NR SLUICE_NO_RULE
#define BAN_NS (3600ULL * 1000000000ULL)
/* clang-format 14 breaks a braced macro body over four lines: */
/* clang-format off */
#define W(n_, slot_, verdict_, reason_)                                                            \
	{ (n_), (slot_), SLUICE_VERDICT_##verdict_, SLUICE_REASON_##reason_ }
#define R(...) { .on = true, .r = { __VA_ARGS__ } }
#define R_DST(cidr, ...) { .on = true, .dst = (cidr), .r = { __VA_ARGS__ } }
/* clang-format on */
#define PROTO(p) .proto = SLUICE_PROTO_##p
#define ACT(a) .action = SLUICE_ACTION_##a
#define DPORT(lo, hi) .dport_lo = (lo), .dport_hi = (hi)
#define PKTS(rate, burst)                                                                          \
	.interval = SLUICE_UNITS_PER_SEC / (rate),                                                 \
	.tolerance = (burst) * (SLUICE_UNITS_PER_SEC / (rate))
#define BYTES(rate, burst) .byte_rate = (rate), .tolerance = (burst)*SLUICE_UNITS_PER_SEC / (rate)

static inline __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline int map_clear(int fd)
{
	__u8 key[64];

	while (!bpf_map_get_next_key(fd, NULL, key))
		if (bpf_map_delete_elem(fd, key))
			return -errno;
	return errno == ENOENT ? 0 : -errno;
}

/*
 * Sets every limiter slot to (TAG, TAT); slots_fill(0, 0) frees them all, which
 * policy_install does, as the data path otherwise keeps state there across tests.
 */
static inline int slots_fill(__u64 tag, __u64 tat)
{
	static struct sluice_slot slots[65536];
	static __u32 keys[65536];
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	for (__u32 i = 0; i < 65536; i++)
		slots[i] = (struct sluice_slot){ .tag = tag, .tat = tat };
	for (__u32 base = 0; base < SLUICE_SLOTS; base += 65536) {
		__u32 count = 65536;

		for (__u32 i = 0; i < 65536; i++)
			keys[i] = base + i;
		if (bpf_map_update_batch(H.slots, keys, slots, &count, &opts))
			return -errno;
	}
	return 0;
}

static inline void add_plen(__u8 *plens, __u8 *n, __u32 plen)
{
	for (int i = 0; i < *n; i++)
		if (plens[i] == plen)
			return;
	if (*n < SLUICE_MAX_BAN_PLENS)
		plens[(*n)++] = plen;
}

static inline void fill_rule(struct sluice_policy *pol, __u32 i, const struct rule_case *rs)
{
	struct sluice_rule *r = &pol->rules[i];

	*r = rs->r;
	r->stat_slot = SLOT(i);
	snprintf(r->name, sizeof(r->name), "rule%u", i);
	if (r->dport_hi)
		r->flags |= SLUICE_RULE_DPORT;
	if (rs->dst) {
		__u32 plen;

		parse_cidr(rs->dst, r->dst_addr, &plen);
		memset(r->dst_mask, 0xff, sizeof(r->dst_mask));
		mask128(r->dst_mask, plen);
		r->flags |= SLUICE_RULE_DST;
	}
	for (r->nlimits = 0; r->nlimits < SLUICE_MAX_LIMITS; r->nlimits++) {
		struct sluice_limit *l = &r->limits[r->nlimits];

		if (!l->tolerance)
			break;
		l->id = 100 + i * SLUICE_MAX_LIMITS + r->nlimits;
		l->prefix4 = l->prefix4 ?: 32;
		l->prefix6 = l->prefix6 ?: 128;
		if (l->byte_rate)
			l->flags |= SLUICE_LIMIT_BYTES;
		if (r->action != SLUICE_ACTION_BAN)
			continue;
		/* The controller looks bans up under every length a ban rule can insert. */
		add_plen(pol->ban_plens4, &pol->nban_plens4,
			 SLUICE_V4_MAPPED_PLEN + (l->key == SLUICE_KEY_GLOBAL ? 32 : l->prefix4));
		add_plen(pol->ban_plens6, &pol->nban_plens6,
			 l->key == SLUICE_KEY_GLOBAL ? 128 : l->prefix6);
	}
	if (r->action == SLUICE_ACTION_BAN)
		r->ban_ns = BAN_NS;
	pol->nrules = i + 1;
}

static inline int add_entry(struct sluice_policy *pol, __u32 gen, const struct list_spec *ls,
			    __u64 now)
{
	__u64 expires = ls->expiry == EXPIRED ? now - 1000000000ULL :
			ls->expiry == LIVE    ? now + BAN_NS :
						0;
	struct sluice_lpm_key key = {};
	struct sluice_list_entry entry = { .expires_ns = expires,
					   .sets = 1ULL << SLUICE_SET_MANUAL };
	struct sluice_ban_key bkey = {};
	struct sluice_ban ban = { .expires_ns = expires, .stat_slot = NR };
	enum list_kind kind;

	parse_cidr(ls->cidr, key.addr, &key.prefixlen);
	if (ls->kind == ENTRY_BAN) {
		bkey.prefixlen = key.prefixlen;
		memcpy(bkey.addr, key.addr, sizeof(bkey.addr));
		if (key.addr[2] == htonl(0xffff) && !key.addr[0] && !key.addr[1])
			add_plen(pol->ban_plens4, &pol->nban_plens4, key.prefixlen);
		else
			add_plen(pol->ban_plens6, &pol->nban_plens6, key.prefixlen);
		return ban_filter_mark(H.banfilter, &bkey) ?:
			       (bpf_map_update_elem(H.bans, &bkey, &ban, BPF_ANY) ? -errno : 0);
	}
	pol->flags |= ls->kind == ENTRY_ALLOW ? SLUICE_POLICY_ALLOW : SLUICE_POLICY_BLOCK;
	kind = ls->kind == ENTRY_ALLOW ? LIST_ALLOW : LIST_BLOCK;
	return list_entry_put(&H.pins, kind, gen, H.lists[kind][gen], &key, &entry);
}

/*
 * Empties a hash map of any size in batches. map_clear restarts its walk at the first bucket
 * after every delete, which is quadratic in a large map's buckets; this is one pass.
 */
static inline int map_drain(int fd)
{
	struct bpf_map_info info = {};
	__u32 info_len = sizeof(info), in = 0, out = 0, count;
	const __u32 chunk = 4096;
	void *keys, *values;
	int err = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &info_len))
		return -errno;
	keys = calloc(chunk, info.key_size);
	values = calloc(chunk, ((info.value_size + 7) & ~7U) * H.ncpus);
	for (bool first = true; keys && values; first = false, in = out) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		count = chunk;
		if (bpf_map_lookup_and_delete_batch(fd, first ? NULL : &in, &out, keys, values,
						    &count, &opts)) {
			err = errno == ENOENT ? 0 : -errno;
			break;
		}
	}
	if (!keys || !values)
		err = -ENOMEM;
	free(keys);
	free(values);
	return err;
}

/*
 * Clears every list, bucket and ban, then writes pol (its rules filled in) and the lists into
 * the policy slot and the list generation that the state word `active` (0..3) names. The
 * other policy slot drops everything, and the other lists allow and block every address, so
 * reading the wrong one cannot go unseen. Lists and bans add their flags and ban lengths to pol.
 */
static inline int policy_install(struct sluice_policy *pol, const struct list_spec *lists,
				 int nlists, bool lists_off, bool malformed_drop, __u32 active)
{
	static struct sluice_policy poison;
	struct sluice_state state = { .layout_version = SLUICE_LAYOUT_VERSION, .active = active };
	struct list_spec allow_all = { ENTRY_ALLOW, PERMANENT, "::/0" };
	struct list_spec block_all = { ENTRY_BLOCK, PERMANENT, "::/0" };
	struct list_spec allow_all4 = { ENTRY_ALLOW, PERMANENT, "0.0.0.0/0" };
	struct list_spec block_all4 = { ENTRY_BLOCK, PERMANENT, "0.0.0.0/0" };
	__u32 zero = 0, slot = SLUICE_ACTIVE_POLICY(active), other = !slot;
	__u32 gen = SLUICE_ACTIVE_LISTS(active);
	__u64 now = mono_ns();
	int err = 0;

	for (int kind = 0; kind < 2 && !err; kind++)
		for (int gen = 0; gen < 2 && !err; gen++) {
			err = map_drain(H.lists[kind][gen]);
			list_filter_reset(&H.pins, kind, gen);
		}
	err = err ?: map_clear(H.buckets) ?: map_clear(H.bans);
	err = err ?: slots_fill(0, 0);
	memset(H.probation, 0, PROBATION_BYTES);
	memset(&poison, 0, sizeof(poison));
	for (int i = 0; i < nlists && !err; i++)
		err = add_entry(pol, gen, &lists[i], now);
	if (lists_off)
		pol->flags = 0;
	if (malformed_drop)
		pol->flags |= SLUICE_POLICY_MALFORMED_DROP;
	fill_rule(&poison, 0, &(struct rule_case){ .on = true, .r = { ACT(DROP) } });
	poison.rules[0].stat_slot = POISON_SLOT;
	rule_index_build(pol);
	rule_index_build(&poison);
	err = err ?: add_entry(&poison, !gen, &allow_all, now);
	err = err ?: add_entry(&poison, !gen, &block_all, now);
	err = err ?: add_entry(&poison, !gen, &allow_all4, now);
	err = err ?: add_entry(&poison, !gen, &block_all4, now);
	poison.flags |= SLUICE_POLICY_MALFORMED_DROP;
	if (!err && (bpf_map_update_elem(H.policy, &slot, pol, BPF_ANY) ||
		     bpf_map_update_elem(H.policy, &other, &poison, BPF_ANY) ||
		     bpf_map_update_elem(H.state, &zero, &state, BPF_ANY)))
		err = -errno;
	if (err)
		tap_diag("policy setup: %s", strerror(-err));
	return err;
}

/* policy_install for a scenario: its rules, its lists and bans, its settings. */
static inline int scenario_apply(const struct scenario *sc, __u32 active)
{
	static struct sluice_policy pol;
	int nlists = 0;

	memset(&pol, 0, sizeof(pol));
	for (int i = 0; i < RULES_MAX && sc->rules[i].on; i++)
		fill_rule(&pol, i, &sc->rules[i]);
	pol.event_ceiling = sc->event_ceiling;
	pol.event_sample = sc->event_sample;
	pol.event_period_ns = SLUICE_DEFAULT_EVENT_PERIOD_NS;
	while (nlists < LISTS_MAX && sc->lists[nlists].cidr)
		nlists++;
	return policy_install(&pol, sc->lists, nlists, sc->lists_off, sc->malformed_drop, active);
}

#endif /* SLUICE_TEST_HARNESS_H */
