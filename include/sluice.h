/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Map layouts, enums and constants shared by the XDP program and the controller. */
#ifndef SLUICE_H
#define SLUICE_H

#include <linux/types.h>

/*
 * Bump whenever a map key, value or meaning below changes. The controller refuses
 * to touch pinned maps whose state record carries another version.
 */
#define SLUICE_LAYOUT_VERSION 9

#define SLUICE_MAX_RULES 64
#define SLUICE_MAX_LIMITS 4
#define SLUICE_MAX_IFACES 16
#define SLUICE_MAX_BAN_PLENS 4 /* distinct ban prefix lengths per family in one policy */
#define SLUICE_NAME_LEN 32
#define SLUICE_COMMENT_LEN 40
#define SLUICE_MAX_EXT_HDRS 6 /* IPv6 extension headers skipped before giving up */
#define SLUICE_MAX_VLAN_TAGS 2
#define SLUICE_MAX_GUARDS 8

/*
 * A network-order (big-endian) u32 in host order, for the BPF target and userspace
 * alike: both compilers define __BYTE_ORDER__. Addresses in the maps stay in network
 * order; the hashes and tables below read them through this.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define sluice_ntohl(x) __builtin_bswap32(x)
#define sluice_htonl(x) __builtin_bswap32(x)
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define sluice_ntohl(x) (x)
#define sluice_htonl(x) (x)
#else
#error "unknown byte order"
#endif

/* Default capacities; the controller may change them when it first creates the maps. */
#define SLUICE_DEFAULT_LIMITER_KEYS (1U << 19)
#define SLUICE_DEFAULT_LIST_ENTRIES (1U << 20)
#define SLUICE_DEFAULT_BANS (1U << 16)

/*
 * Limiter time unit: nanoseconds << SLUICE_TIME_SHIFT. The extra bits keep byte costs
 * at 10 Gbit/s exact to 0.4%; a u64 in these units lasts 9 years of uptime.
 */
#define SLUICE_TIME_SHIFT 6
#define SLUICE_UNITS_PER_SEC (1000000000ULL << SLUICE_TIME_SHIFT)

/*
 * The largest tolerance (burst x cost) the controller accepts: a year of the rate. A
 * key's arrival time stays within tolerance of now, and a cost is below 2^53 units (a
 * day per packet, or 64 KiB at 1 B/s), so max(TAT, now) + cost cannot wrap a u64 in
 * the 7 years of uptime that 2^64 - 2^61 units last.
 */
#define SLUICE_MAX_TOLERANCE (365ULL * 86400 * SLUICE_UNITS_PER_SEC)

/*
 * A rule whose limits all tolerate at least this much (burst x interval) runs on the
 * coarse clock, which steps a tick at a time (10 ms at HZ=100, 4 ms at HZ=250). With
 * a smaller tolerance a bucket would refill only once per tick, and admit burst per
 * tick instead of the rate, so such a rule reads the nanosecond clock (~20 ns more).
 */
#define SLUICE_COARSE_CLOCK_MIN_TOLERANCE (10000000ULL << SLUICE_TIME_SHIFT)

/*
 * Addresses are kept in one 128-bit form: IPv6 as is, IPv4 mapped to ::ffff:a.b.c.d
 * with its prefix length raised by 96, so one trie and one mask routine serve both.
 */
#define SLUICE_V4_MAPPED_PLEN 96

enum sluice_family {
	SLUICE_FAMILY_ANY = 0,
	SLUICE_FAMILY_IPV4 = 4,
	SLUICE_FAMILY_IPV6 = 6,
};

enum sluice_verdict {
	SLUICE_VERDICT_PASS = 0,
	SLUICE_VERDICT_DROP,
	SLUICE_VERDICT_MONITOR, /* passed, but a drop rule would have dropped it */
	SLUICE_VERDICT_BAN, /* dropped, and its key put on the ban list */
	SLUICE_VERDICT_COOKIE, /* a SYN answered with a SYN cookie (XDP_TX), not passed */
	SLUICE_VERDICT_COUNT,
};

/* Why a packet got its verdict. Each packet is counted under exactly one reason. */
enum sluice_reason {
	SLUICE_REASON_NONE = 0, /* no rule matched, or a rule passed it */
	SLUICE_REASON_ALLOWLIST,
	SLUICE_REASON_BLOCKLIST,
	SLUICE_REASON_BAN,
	SLUICE_REASON_RATELIMIT,
	SLUICE_REASON_ACL,
	SLUICE_REASON_MALFORMED,
	SLUICE_REASON_NONIP,
	SLUICE_REASON_ERROR, /* a map update failed; the packet passed */
	SLUICE_REASON_GUARD, /* a SYN guard answered it, or refused its cookie */
	SLUICE_REASON_COUNT,
};

/* Rule action: what a rule does when one of its limits refuses, or when it has none. */
enum sluice_action {
	SLUICE_ACTION_PASS = 0,
	SLUICE_ACTION_DROP,
	SLUICE_ACTION_MONITOR,
	SLUICE_ACTION_BAN,
};

enum sluice_limit_key {
	SLUICE_KEY_SRC = 0, /* source masked to prefix4/prefix6 */
	SLUICE_KEY_GLOBAL, /* one bucket for the whole rule */
};

enum sluice_limit_flags {
	SLUICE_LIMIT_BYTES = 1 << 0, /* count bytes, not packets */
	SLUICE_LIMIT_DPORT = 1 << 1, /* key also holds the destination port */
};

enum sluice_rule_flags {
	SLUICE_RULE_SYN = 1 << 0, /* only TCP SYN without ACK */
	SLUICE_RULE_DPORT = 1 << 1, /* dport_lo..dport_hi applies (TCP and UDP only) */
	SLUICE_RULE_DST = 1 << 2, /* dst_addr/dst_mask applies */
};

/* Protocol match; ICMP matches ICMPv6 on IPv6. */
enum sluice_proto {
	SLUICE_PROTO_ANY = 0,
	SLUICE_PROTO_TCP = 6,
	SLUICE_PROTO_UDP = 17,
	SLUICE_PROTO_ICMP = 1,
};

/* A packet's protocol, as the rule index sorts it. */
enum sluice_rule_class {
	SLUICE_CLASS_TCP = 0,
	SLUICE_CLASS_UDP,
	SLUICE_CLASS_ICMP,
	SLUICE_CLASS_OTHER,
	SLUICE_RULE_CLASSES,
};

static inline __u32 sluice_rule_class(__u8 proto)
{
	return proto == SLUICE_PROTO_TCP  ? SLUICE_CLASS_TCP :
	       proto == SLUICE_PROTO_UDP  ? SLUICE_CLASS_UDP :
	       proto == SLUICE_PROTO_ICMP ? SLUICE_CLASS_ICMP :
					    SLUICE_CLASS_OTHER;
}

/* Policy flags: which lists hold entries, so empty ones cost no lookup. */
enum sluice_policy_flags {
	SLUICE_POLICY_ALLOW = 1 << 0,
	SLUICE_POLICY_BLOCK = 1 << 1,
	SLUICE_POLICY_MALFORMED_DROP = 1 << 2,
};

/* Folds V into hash H: two multiply-xorshift rounds carry every input bit to the low ones. */
static inline __attribute__((always_inline)) __u64 sluice_mix64(__u64 h, __u64 v)
{
	h = (h ^ v) * 0x9E3779B97F4A7C15ULL;
	h ^= h >> 32;
	h *= 0xD6E8FEB86659FD93ULL;
	return h ^ (h >> 32);
}

/*
 * List filters: one region per list (allow, block), generation and family, each
 * starting with its header (struct sluice_filter_header). They answer most sources
 * without touching the list's hash of entries (sluice_lists).
 *
 * IPv4 regions are a flat table of every /24, two bits each, 32 to a word (the /24s
 * of a /16 share one cache line): bit 0 (SLUICE_DIR_SOME) when an entry covers or lies
 * in the /24, bit 1 (SLUICE_DIR_WHOLE) as well when a permanent entry covers all of
 * it. A /24 with no bit is not listed and one with WHOLE is, however many prefixes the
 * list holds. SOME alone sends the source to the hash, looked up under the lengths of
 * the header's first word (longest first): every length above /24, the lengths of
 * expiring entries, and once a delete or an expiring re-add cleared WHOLE somewhere,
 * every length of /24 or less the list holds (the header's second word).
 *
 * IPv6 regions have a bit per hash of a /32 that some entry covers or lies in. A clear
 * bit proves the source is not listed; in the same bitmap each entry also sets a bit
 * per hash of its exact prefix and length, so the hash is looked up only under the
 * lengths the list holds (the header's length words) whose bit the source's prefix
 * has. SLUICE_FILTER_ALL in the header says an entry was too short to spread over
 * /32s, and every IPv6 source must be looked up. Bits are only ever cleared when a
 * whole generation is rebuilt (or, IPv4 WHOLE, by a delete).
 */
#define SLUICE_FILTER_BITS_LOG2 25
#define SLUICE_FILTER_WORDS (1U << (SLUICE_FILTER_BITS_LOG2 - 6))
#define SLUICE_FILTER_HEADER_WORDS 4
#define SLUICE_FILTER_REGION (SLUICE_FILTER_WORDS + SLUICE_FILTER_HEADER_WORDS)
#define SLUICE_FILTER_ALL 1ULL
#define SLUICE_FILTER_HOSTS 4ULL /* IPv4: the list's hash holds host records (sluice_hosts) */

/*
 * Bit L of lengths[L / 64]: IPv6 regions, the list holds an IPv6 prefix of length L.
 * IPv4 regions: lengths[0] bit L, the sources of a SOME /24 are looked up as /L;
 * lengths[1] bit L, the list holds an IPv4 /L, L <= 24. Lengths are set before the
 * entries that have them, and cleared only with their generation.
 */
struct sluice_filter_header {
	__u64 flags; /* SLUICE_FILTER_ALL */
	__u64 lengths[3];
};
_Static_assert(sizeof(struct sluice_filter_header) == SLUICE_FILTER_HEADER_WORDS * 8,
	       "sluice_filter_header layout");
#define SLUICE_FILTER_V6_BUCKET 32

#define SLUICE_FILTER_REGIONS 8
/* Words of the whole filter map (sluice_filter): every region of every list and generation. */
#define SLUICE_FILTER_MAP_WORDS (SLUICE_FILTER_REGIONS * SLUICE_FILTER_REGION)

/*
 * Region of a list (0 allow, 1 block) in generation GEN, for IPv4 (V4 1) or IPv6
 * sources: the families have regions of their own, so an IPv6 /32 that makes its
 * region pass everything leaves the IPv4 one precise.
 */
static inline __u32 sluice_filter_region(__u32 list, __u32 gen, __u32 v4)
{
	return ((list * 2 + gen) * 2 + v4) * SLUICE_FILTER_REGION;
}

/* The filter bit of an IPv6 address's /32 (network order), hashed. */
static inline __u32 sluice_filter_bit6(const __u32 addr[4])
{
	__u64 bucket = sluice_ntohl(addr[0]);

	return (__u32)((bucket * 0x9E3779B97F4A7C15ULL) >> (64 - SLUICE_FILTER_BITS_LOG2));
}

/* The filter bit of an IPv6 prefix of length PLEN (128-bit form), ADDR masked to it. */
static inline __u32 sluice_filter_bit6_len(__u32 plen, const __u32 addr[4])
{
	__u64 h = sluice_mix64(sluice_mix64(plen, addr[0] | (__u64)addr[1] << 32),
			       addr[2] | (__u64)addr[3] << 32);

	return (__u32)(h >> (64 - SLUICE_FILTER_BITS_LOG2));
}

/* The IPv4 table's two bits of a /24 (NET24, host order): word, then shift in it. */
#define SLUICE_DIR_SOME 1ULL
#define SLUICE_DIR_WHOLE 2ULL
#define SLUICE_DIR_MASK 3ULL
static inline __u32 sluice_dir_word(__u32 net24)
{
	return net24 >> 5;
}

static inline __u32 sluice_dir_shift(__u32 net24)
{
	return (net24 & 31) * 2;
}

/*
 * One token bucket, run as GCRA: the key's state is its theoretical arrival time,
 * a packet costs cost = units * interval, and is admitted while the new arrival
 * time stays within tolerance of now.
 */
struct sluice_limit {
	__u64 interval; /* packet limits: time units per packet */
	__u64 byte_rate; /* byte limits: bytes per second */
	__u64 tolerance; /* burst, in time units */
	__u32 id; /* stable while the limit is unchanged, so state survives restore */
	__u8 key; /* enum sluice_limit_key */
	__u8 prefix4; /* 1..32 */
	__u8 prefix6; /* 1..128 */
	__u8 flags; /* enum sluice_limit_flags */
};
_Static_assert(sizeof(struct sluice_limit) == 32, "sluice_limit layout");

struct sluice_rule {
	__u32 dst_addr[4]; /* network order, 128-bit form, already masked */
	__u32 dst_mask[4];
	__u64 ban_ns; /* ban duration for SLUICE_ACTION_BAN */
	__u16 dport_lo; /* host order */
	__u16 dport_hi;
	__u8 family; /* enum sluice_family */
	__u8 proto; /* enum sluice_proto */
	__u8 flags; /* enum sluice_rule_flags */
	__u8 action; /* enum sluice_action */
	__u8 nlimits;
	__u8 stat_slot; /* counter slot, stable for the rule's name across restores */
	__u8 pad[6];
	struct sluice_limit limits[SLUICE_MAX_LIMITS];
	char name[SLUICE_NAME_LEN];
};
_Static_assert(sizeof(struct sluice_rule) == 216, "sluice_rule layout");

enum sluice_guard_flags {
	SLUICE_GUARD_ALWAYS = 1 << 0, /* engaged whatever the SYN rate */
	SLUICE_GUARD_DST = 1 << 1, /* dst_addr/dst_mask applies */
};

/*
 * A SYN guard: while engaged, SYNs to its port are answered in XDP with a SYN cookie,
 * and only handshakes whose ACK carries a valid cookie reach the stack (bpf/guard.h).
 */
struct sluice_guard {
	__u32 dst_addr[4]; /* network order, 128-bit form, already masked */
	__u32 dst_mask[4];
	__u64 above; /* SYNs per second (all CPUs) that engage it; 0 with ALWAYS */
	__u16 dport; /* host order */
	__u8 family; /* of dst; ANY without it */
	__u8 flags; /* enum sluice_guard_flags */
	__u32 pad;
};
_Static_assert(sizeof(struct sluice_guard) == 48, "sluice_guard layout");

/*
 * Pressure: each CPU counts a guard's SYNs in windows of 2^SLUICE_GUARD_WINDOW_SHIFT ns;
 * when its window turns over, it sums the last full window of every CPU. At or above
 * the guard's rate it engages; it stays engaged while the rate is at least half of
 * it, and disengages once it was below half for SLUICE_GUARD_HOLD_NS.
 */
#define SLUICE_GUARD_WINDOW_SHIFT 27 /* 134 ms */
#define SLUICE_GUARD_HOLD_NS (10ULL * 1000000000ULL)

/* Per-CPU counts of a guard, in sluice_guardstats at the guard's index in the policy. */
struct sluice_guard_stats {
	__u64 answered; /* SYNs answered with a cookie SYN-ACK */
	__u64 validated; /* ACKs with a valid cookie, passed to the stack */
	__u64 refused; /* ACKs with an invalid cookie, dropped */
	__u64 passed; /* SYNs passed to the stack: not engaged, or no cookie to give */
	__u64 unanswerable; /* SYNs with IPv4 options or IPv6 extension headers, dropped */
	__u64 window; /* pressure bookkeeping: the window this CPU counts in */
	__u64 syns; /* SYNs in that window */
	__u64 prev_syns; /* in the window before it (0 if this CPU saw none then) */
};
_Static_assert(sizeof(struct sluice_guard_stats) == 64, "sluice_guard_stats layout");

/* Shared state of a guard, in sluice_guardstate; plain stores, the last writer wins. */
struct sluice_guard_state {
	__u64 engaged_ns; /* CLOCK_MONOTONIC when it engaged; 0 while disengaged */
	__u64 pressure_ns; /* last time the rate was at least half of the threshold */
	__u64 engagements; /* times it engaged */
	__u64 rate; /* SYNs per second at the last evaluation */
};
_Static_assert(sizeof(struct sluice_guard_state) == 32, "sluice_guard_state layout");

/*
 * What a SYN guard's last socket lookup found for a destination address, per CPU, in
 * sluice_guardlst (not pinned) at guard index * SLUICE_GUARD_SLOTS + a hash of it.
 */
#define SLUICE_GUARD_SLOTS 8
enum sluice_guard_listener {
	SLUICE_GUARD_LISTENER_NONE = 0, /* no listener, or no cookie from it: SYNs pass */
	SLUICE_GUARD_LISTENER_RAW, /* a listener that gives cookies: the raw helper */
	SLUICE_GUARD_LISTENER_LOOKUP, /* a listener that clamps the MSS: each SYN asks it */
};

struct sluice_guard_lst {
	__u32 dst[4];
	__u64 checked_ns; /* CLOCK_MONOTONIC (coarse) of the lookup; 0: never */
	__u8 family;
	__u8 kind; /* enum sluice_guard_listener */
	__u8 pad[6];
};
_Static_assert(sizeof(struct sluice_guard_lst) == 32, "sluice_guard_lst layout");

struct sluice_policy {
	__u32 nrules;
	__u32 flags; /* enum sluice_policy_flags */
	__u8 nban_plens4; /* entries used in ban_plens4 */
	__u8 nban_plens6;
	__u8 pad[2];
	/* 128-bit-form prefix lengths under which bans are keyed, looked up per packet */
	__u8 ban_plens4[SLUICE_MAX_BAN_PLENS];
	__u8 ban_plens6[SLUICE_MAX_BAN_PLENS];
	__u32 event_sample; /* after a key's first event in a period, 1 in N of its drops */
	__u64 digest; /* of the policy text, for status and metrics */
	__u64 event_period_ns; /* a key's first drop in each period is always reported */
	__u32 event_ceiling; /* events per second per CPU at most; 0 turns events off */
	__u32 pad2;
	/*
	 * Rule index: bit i set where rule i may match, so a packet checks only the rules
	 * in the AND of its masks. Computed from the rules by rule_index_build().
	 */
	__u64 rules_by_class[2][SLUICE_RULE_CLASSES]; /* [IPv6][enum sluice_rule_class] */
	__u64 rules_by_port[256]; /* by destination port & 0xff, for packets with ports */
	__u64 rules_portless; /* rules a packet without ports may match */
	__u64 rules_syn_only; /* rules that match only a TCP SYN */
	__u32 nguards;
	__u32 pad3;
	struct sluice_guard guards[SLUICE_MAX_GUARDS];
	struct sluice_rule rules[SLUICE_MAX_RULES]; /* last: tests patch it from the end */
};
_Static_assert(sizeof(struct sluice_policy) == 48 + 8 * (2 * SLUICE_RULE_CLASSES + 256 + 2) +
						       SLUICE_MAX_RULES * 216 + 8 +
						       SLUICE_MAX_GUARDS * 48,
	       "sluice_policy layout");

/* Event defaults, used when a policy sets none. */
#define SLUICE_DEFAULT_EVENT_PERIOD_NS 1000000000ULL
#define SLUICE_DEFAULT_EVENT_SAMPLE 1000
#define SLUICE_DEFAULT_EVENT_CEILING 2000
/*
 * 2 MiB: an event record takes 208 bytes in the ring (its 8-byte header, the 200-byte
 * struct sluice_event with its frame head), so the ring holds 10,082 events, 5 s of the
 * default ceiling on one CPU, for a reader that is slow to wake.
 */
#define SLUICE_EVENT_RING_BYTES (1U << 21)
#define SLUICE_EVENT_KEYS 65536 /* keys remembered for first-in-period sampling */

/*
 * Which policy slot and which list generation are live, in one word so a restore
 * switches both with one store; a rule change alone flips only the policy bit.
 */
struct sluice_state {
	__u32 layout_version;
	__u32 active; /* SLUICE_ACTIVE_POLICY and SLUICE_ACTIVE_LISTS bits */
	__u64 generation; /* bumped on every switch */
	/*
	 * Controller only: no entry of the live lists expires before this (CLOCK_MONOTONIC;
	 * 0, none expires), so a write verb looks for expired entries only after it.
	 */
	__u64 lists_expiry_ns;
	__u32 list_capacity; /* controller only: entries a list may grow to (attach --list-entries) */
	__u32 flags; /* controller only: SLUICE_STATE_* */
};
/*
 * Bans were removed, or a rebuild of the ban filter began, since the filter was last
 * checked: the next collection checks it (a check reads the whole filter, so write verbs
 * skip it otherwise).
 */
#define SLUICE_STATE_BAN_FILTER_CHECK (1U << 0)
#define SLUICE_ACTIVE_POLICY(active) (1 & (active))
#define SLUICE_ACTIVE_LISTS(active) (((active) >> 1) & 1)
_Static_assert(sizeof(struct sluice_state) == 32, "sluice_state layout");

/* Allowlist and blocklist key: a prefix, its length in the 128-bit form. */
struct sluice_lpm_key {
	__u32 prefixlen;
	__u32 addr[4];
};
_Static_assert(sizeof(struct sluice_lpm_key) == 20, "sluice_lpm_key layout");

/*
 * Named sets: an entry belongs to the sets whose bits its `sets` word holds, bit
 * SLUICE_SET_MANUAL for entries added by hand (no set named). The names live in the
 * controller's sluice_sets map; the data path reads neither. An entry with no bit left
 * is deleted.
 */
#define SLUICE_MAX_SETS 64 /* per list, the manual bit included */
#define SLUICE_SET_MANUAL 0

/*
 * An entry of a list's hash (sluice_lists), keyed by its prefix: 56 bytes, so a
 * kernel hash element of it (48 bytes of header, the key's 24) fills a 128-byte
 * allocation.
 */
struct sluice_list_entry {
	__u64 expires_ns; /* CLOCK_MONOTONIC; 0 never expires */
	__u64 sets; /* bit N: in set N of its list (N = SLUICE_SET_MANUAL: added by hand) */
	char comment[SLUICE_COMMENT_LEN];
};
_Static_assert(sizeof(struct sluice_list_entry) == 56, "sluice_list_entry layout");

/*
 * A host record in a list's hash, beside the entries: for a /24 holding at least
 * SLUICE_HOSTS_MIN permanent /32 entries, bit h of bits[h / 64] when .h is one of them.
 * Keyed by SLUICE_HOSTS_PLEN and the /24 (IPv4-mapped, host byte 0), a length no entry
 * has. A source of a SOME /24 is looked up here first when the IPv4 filter header says
 * SLUICE_FILTER_HOSTS: a set bit lists it, so a flood from many listed addresses of few
 * /24s reads a few records, not an entry each; a clear bit or no record says nothing,
 * and the lengths are looked up as ever. Built with the list; an add or delete of a /32
 * updates its bit, a bit is cleared before its entry goes or starts to expire.
 */
#define SLUICE_HOSTS_PLEN 255
#define SLUICE_HOSTS_MIN 4
struct sluice_hosts {
	__u64 bits[4];
	__u64 reserved[3];
};
_Static_assert(sizeof(struct sluice_hosts) == sizeof(struct sluice_list_entry),
	       "sluice_hosts layout");

/*
 * Limiter slots: an array the data path manages itself, where a key's state lives in
 * one of two slots picked by a hash of the key. The hash leaves out the key's last 8
 * prefix bits and adds them back as the low bits of the index, so the keys of one /24
 * (for /32 keys) lie side by side. A slot whose arrival time is not ahead of now holds
 * a full bucket, which is the same as no state at all: any key may take such a slot
 * over without changing what is admitted, and no other slot is ever taken. A key
 * whose two slots both hold live state of other keys falls back to sluice_buckets.
 *
 * A slot holds only its key's tag, so sluice_slotkeys holds the bucket key beside each
 * slot for `sluice limits` to name it: written when a key takes the slot, never per
 * packet, and never read by the data path. A reader checks a record against the slot's
 * tag (sluice_slot_ref of the key), as a key taking the slot writes its record after
 * the tag.
 */
#define SLUICE_SLOTS_LOG2 20
#define SLUICE_SLOTS (1U << SLUICE_SLOTS_LOG2)

struct sluice_slot {
	__u64 tag; /* hash of the bucket key, odd; 0 in a slot never used */
	__u64 tat; /* arrival time, SLUICE_TIME_SHIFT units */
};
_Static_assert(sizeof(struct sluice_slot) == 16, "sluice_slot layout");

/* Limiter key: one bucket per limit id and masked source (and port when asked). */
struct sluice_bucket_key {
	__u32 limit_id;
	__u16 dport; /* host order; 0 unless SLUICE_LIMIT_DPORT */
	__u8 family;
	__u8 pad;
	__u32 addr[4];
};
_Static_assert(sizeof(struct sluice_bucket_key) == 24, "sluice_bucket_key layout");

/* Word WORD (0..3, network order) of the mask of a 128-bit-form prefix length. */
static inline __attribute__((always_inline)) __u32 sluice_prefix_word_mask(__u32 plen, __u32 word)
{
	__u32 first = word * 32;

	if (plen <= first)
		return 0;
	if (plen - first >= 32)
		return 0xffffffff;
	return sluice_htonl(0xffffffffU << (32 - (plen - first)));
}

static inline __attribute__((always_inline)) void sluice_mask_addr(__u32 out[4], const __u32 in[4],
								   __u32 plen)
{
	out[0] = in[0] & sluice_prefix_word_mask(plen, 0);
	out[1] = in[1] & sluice_prefix_word_mask(plen, 1);
	out[2] = in[2] & sluice_prefix_word_mask(plen, 2);
	out[3] = in[3] & sluice_prefix_word_mask(plen, 3);
}

/* The two slots a bucket key may live in, and its tag (see sluice_slot). */
struct sluice_slot_ref {
	__u64 tag;
	__u32 idx[2];
};

/* KEY as bucket_key makes it, its address masked to PLEN (128-bit form; 0 for global). */
static inline __attribute__((always_inline)) void
sluice_slot_ref(const struct sluice_bucket_key *key, __u32 plen, struct sluice_slot_ref *ref)
{
	__u64 head = key->limit_id | (__u64)key->dport << 32 | (__u64)key->family << 48, h;
	__u32 group[4], near = 0, word, shift;

	/* The prefix's last 8 bits, and the prefix without them. */
	if (plen) {
		word = ((plen - 1) >> 5) & 3;
		shift = (((word + 1) << 5) - plen) & 31;
		near = (sluice_ntohl(key->addr[word]) >> shift) & 0xff;
	}
	sluice_mask_addr(group, key->addr, plen > 8 ? plen - 8 : 0);
	/*
	 * The head is mixed alone first, and the address goes in 64 bits at a time: XORed
	 * straight into the head, a limit id and an address word could cancel out, and
	 * keys of two limits shared a tag (test_fuzz_packets caught it).
	 */
	h = sluice_mix64(sluice_mix64(head, 0), group[0] | (__u64)group[1] << 32);
	h = sluice_mix64(h, group[2] | (__u64)group[3] << 32);
	ref->idx[0] = (__u32)((h << 8) | near) & (SLUICE_SLOTS - 1);
	ref->idx[1] = (__u32)(((h >> 32) << 8) | near) & (SLUICE_SLOTS - 1);
	/*
	 * The tag tells two keys apart: the group's whole 64-bit hash and the prefix's last
	 * 8 bits, mixed again so that every bit of both reaches every bit of the tag.
	 */
	ref->tag = sluice_mix64(h, near + 1) | 1;
}

/*
 * New-key tier: a key with no exact state (no slot, nothing in sluice_buckets) lives
 * on probation in a table of 64-byte lines, three (tag, arrival time) ways a line,
 * the line picked by its first slot (sluice_probation_line). Its first packet takes a
 * way (a free one, whose bucket is full, else the one with the earliest arrival time);
 * its second, found there, gives it exact state: a free slot, else sluice_buckets,
 * with the arrival time it has. So one-packet spoofed sources cost one cache line,
 * take no slot and no map entry, and only ever displace each other. A key displaced
 * from probation before its second packet (its line's three ways taken within its
 * cost) starts again with a full bucket: it may be admitted one packet more than its
 * limit, once per displacement.
 *
 * A line also notes which of its keys may be in sluice_buckets: a bit per hash of the
 * tag, set before the key goes in (and never cleared: a stale bit costs a lookup, a
 * missing one would hide the key's state). A key without a slot whose bit is clear
 * is not looked up in the LRU map at all.
 */
#define SLUICE_PROBATION_LINES_LOG2 18
#define SLUICE_PROBATION_LINES (1U << SLUICE_PROBATION_LINES_LOG2)
#define SLUICE_PROBATION_WAYS 3

struct sluice_probation {
	__u64 tag[SLUICE_PROBATION_WAYS]; /* slot tag of the key on probation; 0 free */
	__u64 tat[SLUICE_PROBATION_WAYS]; /* its arrival time, SLUICE_TIME_SHIFT units */
	__u64 in_lru[2]; /* bits of keys that may be in sluice_buckets */
};
_Static_assert(sizeof(struct sluice_probation) == 64, "sluice_probation layout");

/*
 * The probation line of a key, from its first slot: like the slots, the keys of one /24
 * (for /32 keys) lie together, one to a line, 16 KiB for the whole /24, so that the
 * other two ways are left for keys of other groups.
 */
static inline __u32 sluice_probation_line(const struct sluice_slot_ref *ref)
{
	return ref->idx[0] & (SLUICE_PROBATION_LINES - 1);
}

/* The bit of in_lru (0..127) of the key whose slot tag is TAG. */
static inline __u32 sluice_probation_lru_bit(__u64 tag)
{
	return (__u32)(tag >> 1) & 127;
}

/* Per-CPU counts of the new-key tier's decisions. */
struct sluice_tier_stats {
	__u64 admitted; /* first packets of keys without state, admitted onto probation */
	__u64 refused; /* ... refused (a cost above the limit's burst) */
	__u64 promoted; /* keys back on probation, given exact state */
	__u64 displaced; /* live keys on probation displaced by newer ones */
};
_Static_assert(sizeof(struct sluice_tier_stats) == 32, "sluice_tier_stats layout");

/* Dynamic ban key: the masked source at a prefix length of the 128-bit form. */
struct sluice_ban_key {
	__u8 prefixlen;
	__u8 pad[3];
	__u32 addr[4];
};
_Static_assert(sizeof(struct sluice_ban_key) == 20, "sluice_ban_key layout");

/*
 * Ban filter: a bit per hash of a ban key. Whoever inserts a ban sets its bit first, so
 * a clear bit proves there is no ban under that key and spares the hash lookup. The
 * data path never clears a bit (a stale one costs a lookup, never a wrong verdict); the
 * controller clears stale ones when they pile up (user/core/bans.c). The filter starts
 * empty with the maps.
 */
#define SLUICE_BAN_FILTER_BITS_LOG2 22
#define SLUICE_BAN_FILTER_WORDS (1U << (SLUICE_BAN_FILTER_BITS_LOG2 - 6))

static inline __u32 sluice_ban_bit(__u8 prefixlen, const __u32 addr[4])
{
	__u64 h = sluice_mix64(sluice_mix64(prefixlen, addr[0] | (__u64)addr[1] << 32),
			       addr[2] | (__u64)addr[3] << 32);

	return (__u32)(h >> (64 - SLUICE_BAN_FILTER_BITS_LOG2));
}

struct sluice_ban {
	__u64 expires_ns; /* CLOCK_MONOTONIC */
	__u32 stat_slot; /* the rule that banned it */
	__u32 pad;
};
_Static_assert(sizeof(struct sluice_ban) == 16, "sluice_ban layout");

/* A sampled drop (or monitor) event, sent through the sluice_events ring buffer. */
#define SLUICE_EVENT_NO_LIMIT 0xff
/* Bytes of the frame an event keeps (`sluice events -w`): Ethernet, IP and L4 headers. */
#define SLUICE_EVENT_CAP 128

/*
 * Key of sluice_evseen, when each source last had an event for a reason and rule: a
 * source hitting two rules shows both.
 */
struct sluice_event_seen_key {
	__u8 reason; /* enum sluice_reason */
	__u8 rule; /* counter slot of the rule, SLUICE_NO_RULE if none */
	__u8 pad[2];
	__u32 src[4]; /* 128-bit form */
};
_Static_assert(sizeof(struct sluice_event_seen_key) == 20, "sluice_event_seen_key layout");

struct sluice_event {
	__u64 time_ns; /* CLOCK_MONOTONIC */
	__u32 src[4]; /* 128-bit form */
	__u32 dst[4];
	__u32 ifindex;
	__u16 sport; /* host order; 0 without ports */
	__u16 dport;
	__u8 family;
	__u8 l4proto;
	__u8 reason; /* enum sluice_reason */
	__u8 verdict; /* enum sluice_verdict */
	__u8 rule; /* counter slot of the rule, SLUICE_NO_RULE if none */
	__u8 limit; /* index of the refusing limit in its rule, SLUICE_EVENT_NO_LIMIT if none */
	__u16 len; /* frame length */
	__u32 sampled; /* drops this event stands for: 1, or the sampling rate */
	__u8 cap_len; /* bytes of head[] that hold the frame: min(len, SLUICE_EVENT_CAP) */
	__u8 pad[7];
	__u8 head[SLUICE_EVENT_CAP]; /* the frame's first bytes, from its Ethernet header */
};
_Static_assert(sizeof(struct sluice_event) == 200, "sluice_event layout");

/* Per-CPU event accounting: nothing is dropped silently. */
struct sluice_event_stats {
	__u64 emitted; /* written to the ring */
	__u64 suppressed; /* left out by sampling or the per-CPU ceiling */
	__u64 lost; /* the ring was full */
	__u64 window_start_ns; /* ceiling bookkeeping, per CPU */
	__u64 window_events;
	__u64 sample_tick; /* counts drops for the 1-in-N sampling */
};
_Static_assert(sizeof(struct sluice_event_stats) == 48, "sluice_event_stats layout");

struct sluice_counter {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct sluice_counter) == 16, "sluice_counter layout");

/* Counter slot used for packets that no rule decided (lists, malformed, non-IP, no match). */
#define SLUICE_NO_RULE SLUICE_MAX_RULES
#define SLUICE_RULE_SLOTS (SLUICE_MAX_RULES + 1)
#define SLUICE_STATS_PER_IFACE (SLUICE_RULE_SLOTS * SLUICE_VERDICT_COUNT * SLUICE_REASON_COUNT)
#define SLUICE_STATS_ENTRIES (SLUICE_MAX_IFACES * SLUICE_STATS_PER_IFACE)

/* Per-CPU counter index for (interface slot, rule slot, verdict, reason). */
static inline __u32 sluice_stats_index(__u32 iface, __u32 rule, __u32 verdict, __u32 reason)
{
	return ((iface * SLUICE_RULE_SLOTS + rule) * SLUICE_VERDICT_COUNT + verdict) *
		       SLUICE_REASON_COUNT +
	       reason;
}

#endif /* SLUICE_H */
