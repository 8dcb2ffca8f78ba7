// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The list filter answers most sources without the list's hash, which is looked up
 * only under the lengths the filter names. Both must answer exactly as the list does: prefixes of every length are added, deleted,
 * imported and flushed through the controller's own functions (lists_add, lists_del,
 * lists_import, lists_flush), and after each step 20,000 sources, most of them in or
 * next to listed prefixes, are run through the program and checked against a plain
 * scan of the prefixes that are listed.
 */
#include <sys/mman.h>
#include "harness.h"
#include "grammar.h"
#include "pins.h"
#include "lists.h"
#include "policy.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_PREFIXES 4096
#define SOURCES 20000

struct listed {
	struct prefix pfx;
	bool live;
	__u64 sets; /* named_sets(): the sets that list it, bit 0 by hand */
};

static struct listed L[MAX_PREFIXES];
static int nlisted;
static unsigned int seed = 20261128;

static __u32 rnd(void)
{
	return (__u32)rand_r(&seed) ^ ((__u32)rand_r(&seed) << 16);
}

static bool covers(const struct prefix *pfx, const __u32 addr[4])
{
	__u32 mask[4];

	plen128_mask(prefix_plen128(pfx), mask);
	for (int i = 0; i < 4; i++)
		if ((addr[i] & mask[i]) != (pfx->addr[i] & mask[i]))
			return false;
	return true;
}

/* The reference: a source is listed when a live prefix of its own family covers it. */
static bool reference_listed(int family, const __u32 addr[4])
{
	for (int i = 0; i < nlisted; i++)
		if (L[i].live && L[i].pfx.family == family && covers(&L[i].pfx, addr))
			return true;
	return false;
}

/* An IPv4 prefix of length PLEN inside 198.18.0.0/15, or anywhere for those up to /20. */
static struct prefix random_prefix(int family, __u32 plen)
{
	struct prefix p = { .family = family, .plen = plen };
	__u32 mask[4];

	if (family == SLUICE_FAMILY_IPV4) {
		__u32 a = plen > 20 ? 0xc6120000 | (rnd() & 0x1ffff) : rnd();

		p.addr[2] = htonl(0xffff);
		p.addr[3] = htonl(plen ? a & (0xffffffffU << (32 - plen)) : 0);
	} else {
		p.addr[0] = htonl(0xfd000000 | (rnd() & 0xff));
		p.addr[1] = htonl(rnd() & 0xf);
		p.addr[2] = htonl(rnd() & 1);
		p.addr[3] = htonl(rnd() & 0xff);
		plen128_mask(plen, mask);
		for (int i = 0; i < 4; i++)
			p.addr[i] &= mask[i];
	}
	return p;
}

static int add(enum list_kind kind, struct prefix pfx, __u64 ttl_ns)
{
	struct list_item item = { .kind = kind, .prefix = pfx, .ttl_ns = ttl_ns };
	int ret;

	for (int i = 0; i < nlisted; i++)
		if (!memcmp(&L[i].pfx, &pfx, sizeof(pfx))) {
			L[i].live = true;
			return lists_add(&H.pins, &item);
		}
	if (nlisted == MAX_PREFIXES)
		return -ENOSPC;
	ret = lists_add(&H.pins, &item);
	if (!ret)
		L[nlisted++] = (struct listed){ .pfx = pfx, .live = true };
	return ret;
}

static int add_random(enum list_kind kind, int n, bool with_short)
{
	static const __u32 v4_plens[] = { 32, 32, 32, 31, 30, 28, 25, 24, 24, 23, 20, 17, 16 };
	static const __u32 v6_plens[] = { 128, 64, 56, 48 };
	int ret = 0;

	for (int i = 0; i < n && !ret; i++) {
		bool v6 = i % 8 == 7;
		__u32 plen = v6 ? v6_plens[rnd() % 4] : v4_plens[rnd() % ARRAY_SIZE(v4_plens)];

		/* Short IPv4 prefixes have no records; over 16 IPv6 lengths, no IPv6 index. */
		if (with_short && i % 50 == 0 && !v6)
			plen = 8 + rnd() % 8;
		if (with_short && v6)
			plen = 16 + rnd() % 113;
		/* One in five expires, in an hour: it lives now, but only the trie knows when. */
		ret = add(kind, random_prefix(v6 ? SLUICE_FAMILY_IPV6 : SLUICE_FAMILY_IPV4, plen),
			  i % 5 == 4 ? 3600ULL * 1000000000ULL : 0);
	}
	return ret;
}

/* A source near the listed prefixes: inside one, next to one, or in the same ranges. */
static void random_source(int *family, __u32 addr[4])
{
	__u32 pick = rnd() % 10;

	memset(addr, 0, 16);
	if (pick < 5 && nlisted) {
		const struct prefix *p = &L[rnd() % nlisted].pfx;
		__u32 span = 128 - prefix_plen128(p);

		*family = p->family;
		memcpy(addr, p->addr, 16);
		/* Inside, or in as much again just past its end. */
		if (span <= 30)
			addr[3] = htonl(ntohl(addr[3]) + (rnd() & ((2U << span) - 1)));
		else
			addr[3] = htonl(rnd());
		return;
	}
	if (pick < 9) {
		*family = SLUICE_FAMILY_IPV4;
		addr[2] = htonl(0xffff);
		addr[3] = htonl(0xc6120000 | (rnd() & 0x1ffff));
		return;
	}
	*family = SLUICE_FAMILY_IPV6;
	addr[0] = htonl(0xfd000000 | (rnd() & 0xff));
	addr[1] = htonl(rnd() & 0xf);
	addr[3] = htonl(rnd() & 0x1ff);
}

/* Runs SOURCES sources; the program drops exactly those the reference calls listed. */
static void check_sources(const char *step, bool allowlist)
{
	int wrong = 0, listed = 0;

	for (int i = 0; i < SOURCES; i++) {
		struct pkt_spec spec = { .proto = IPPROTO_UDP, .dport = 9 };
		char src[INET6_ADDRSTRLEN];
		__u32 addr[4], retval = 0;
		struct frame f;
		int family;
		bool want;

		random_source(&family, addr);
		spec.family = family;
		if (family == SLUICE_FAMILY_IPV4)
			inet_ntop(AF_INET, &addr[3], src, sizeof(src));
		else
			inet_ntop(AF_INET6, addr, src, sizeof(src));
		spec.src = src;
		build_frame(&spec, &f);
		if (run_xdp(H.prog, &f, f.len, 1, &retval, NULL)) {
			tap_result(false, "%s: test run failed", step);
			return;
		}
		want = reference_listed(family, addr);
		listed += want;
		/* Allowlisted passes; the block-everything list behind it drops the rest. */
		if ((retval == (allowlist ? XDP_PASS : XDP_DROP)) != want && wrong++ < 5)
			tap_diag("%s: %s is %slisted, the program says otherwise", step, src,
				 want ? "" : "not ");
	}
	tap_result(!wrong && listed > SOURCES / 20 && listed < SOURCES * 19 / 20,
		   "%s: %d sources, %d listed, %d answered wrong", step, SOURCES, listed, wrong);
}

static int start(bool allowlist)
{
	static struct sluice_policy pol;
	struct sluice_state st = { .layout_version = SLUICE_LAYOUT_VERSION };
	__u32 zero = 0;
	int ret = 0;

	memset(&pol, 0, sizeof(pol));
	for (int i = 0; i < 2 && !ret; i++)
		ret = bpf_map_update_elem(H.policy, &(__u32){ i }, &pol, BPF_ANY) ? -errno : 0;
	ret = ret ?: (bpf_map_update_elem(H.state, &zero, &st, BPF_ANY) ? -errno : 0);
	if (!ret && (lists_flush(&H.pins, LIST_ALLOW, NULL) < 0 ||
		     lists_flush(&H.pins, LIST_BLOCK, NULL) < 0))
		ret = -EIO;
	nlisted = 0;
	if (!ret && allowlist) {
		struct list_item all4 = { .kind = LIST_BLOCK }, all6 = { .kind = LIST_BLOCK };

		parse_prefix("0.0.0.0/0", &all4.prefix, NULL);
		parse_prefix("::/0", &all6.prefix, NULL);
		ret = lists_add(&H.pins, &all4) ?: lists_add(&H.pins, &all6);
	}
	return ret;
}

/* The live lists' earliest expiry, as the controller keeps it in sluice_state. */
static __u64 lists_expiry(void)
{
	struct sluice_state state = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(H.pins.fds[PIN_STATE], &zero, &state);
	return state.lists_expiry_ns;
}

/*
 * Collection deletes the EXPIRED entries whose TTL ran out and moves the earliest expiry
 * on to the first of the rest (the hour-long TTLs); until then there is nothing to walk.
 */
static void check_collection(const char *name, int expired)
{
	__u64 before = lists_expiry(), after, now = mono_ns();
	long first = collect_expired(&H.pins), second;

	after = lists_expiry();
	second = collect_expired(&H.pins);
	tap_result(before && before < now && first == expired &&
			   after > now + 3500ULL * 1000000000ULL && second == 0 &&
			   lists_expiry() == after,
		   "%s: collection: %ld expired of %d deleted, the earliest expiry moved from "
		   "%lld ms ago to %lld s ahead; again: %ld",
		   name, first, expired, (long long)(now - before) / 1000000,
		   (long long)(after - now) / 1000000000, second);
}

/* Marks PFX live or not in the reference, adding it when new. */
static void note_listed(const struct prefix *pfx, bool live)
{
	for (int j = 0; j < nlisted; j++)
		if (!memcmp(&L[j].pfx, pfx, sizeof(*pfx))) {
			L[j].live = live;
			return;
		}
	if (nlisted < MAX_PREFIXES)
		L[nlisted++] = (struct listed){ .pfx = *pfx, .live = live };
}

/* 198.18.77.HOST/32 */
static struct prefix host32(__u32 host)
{
	struct prefix p = { .family = SLUICE_FAMILY_IPV4, .plen = 32 };

	p.addr[2] = htonl(0xffff);
	p.addr[3] = htonl(0xc6124d00 | (host & 0xff));
	return p;
}

/*
 * Host records (sluice_hosts): a /24 with many /32s, imported, answers from its record;
 * deletes, TTL re-adds and new /32s of that /24 keep the record exact.
 */
static void host_records(enum list_kind kind, const char *name, bool allowlist)
{
	struct list_item items[64];
	__u32 active = 0;
	char step[96];
	int ret, n = 0;

	for (int i = 0; i < 64; i++) {
		items[i] = (struct list_item){ .kind = kind, .prefix = host32(i * 3) };
		note_listed(&items[i].prefix, true);
	}
	ret = lists_import(&H.pins, items, 64, kind, NULL, NULL);
	ret = ret ?: pins_active(&H.pins, &active);
	tap_result(
		!ret && (H.pins.filter[sluice_filter_region(kind, SLUICE_ACTIVE_LISTS(active), 1)] &
			 SLUICE_FILTER_HOSTS),
		"%s: 64 /32s of one /24 imported, the list has host records (%s)", name,
		strerror(-ret));
	snprintf(step, sizeof(step), "%s: with a host record", name);
	check_sources(step, allowlist);
	for (int i = 0; i < 64 && !ret; i += 3, n++) {
		ret = lists_del(&H.pins, kind, &items[i].prefix, NULL);
		note_listed(&items[i].prefix, false);
	}
	for (int i = 1; i < 64 && !ret; i += 6) {
		struct list_item item = items[i];

		item.ttl_ns = 1000000;
		ret = lists_add(&H.pins, &item);
		note_listed(&item.prefix, false);
	}
	for (int i = 0; i < 16 && !ret; i++) {
		struct list_item item = { .kind = kind, .prefix = host32(i * 3 + 1) };

		ret = lists_add(&H.pins, &item);
		note_listed(&item.prefix, true);
	}
	usleep(20000); /* past the TTL, and a tick of the coarse clock */
	tap_result(!ret, "%s: %d of the /32s deleted, some re-added with a 1 ms TTL, 16 new (%s)",
		   name, n, strerror(-ret));
	snprintf(step, sizeof(step), "%s: host record after edits", name);
	check_sources(step, allowlist);
}

/* Notes that set BIT lists PFX (ON) or not; the prefix is live while any set lists it. */
static void set_note(const struct prefix *pfx, int bit, bool on)
{
	int i;

	for (i = 0; i < nlisted; i++)
		if (!memcmp(&L[i].pfx, pfx, sizeof(*pfx)))
			break;
	if (i == nlisted) {
		if (!on || nlisted == MAX_PREFIXES)
			return;
		L[nlisted++] = (struct listed){ .pfx = *pfx };
	}
	L[i].sets = on ? L[i].sets | 1ULL << bit : L[i].sets & ~(1ULL << bit);
	L[i].live = L[i].sets != 0;
}

static int count_visit(const struct list_item *item, void *ctx)
{
	struct walk_count {
		int bit;
		long n;
	} *c = ctx;

	c->n += !!(item->sets & (1ULL << c->bit));
	return 0;
}

/* Prefixes the reference has in set BIT. */
static long model_in_set(int bit)
{
	long n = 0;

	for (int i = 0; i < nlisted; i++)
		n += !!(L[i].sets & (1ULL << bit));
	return n;
}

/* Entries of the live list KIND in set BIT, or -errno. */
static long count_in_set(enum list_kind kind, int bit)
{
	struct walk_count {
		int bit;
		long n;
	} c = { bit, 0 };
	int fds[2], ret;

	ret = lists_open_live(&H.pins, NULL, fds);
	if (ret)
		return ret;
	ret = list_walk(fds[kind], kind, mono_now_ns(), count_visit, &c);
	close(fds[0]);
	close(fds[1]);
	return ret < 0 ? ret : c.n;
}

/*
 * Named sets: a feed imported into its set replaces only that set's entries; entries
 * listed by hand or by another set stay, with every set they are in.
 */
static void named_sets(enum list_kind kind, const char *name, bool allowlist)
{
	static struct list_item a[300], b[60], a2[250];
	struct set_table sets;
	char step[96];
	int ret, bit_a, bit_b;
	long n, want;

	nlisted = 0;
	ret = lists_flush(&H.pins, kind, NULL) < 0 ? -EIO : 0;
	for (int i = 0; i < 300; i++) {
		bool v6 = i % 6 == 5;

		a[i] = (struct list_item){
			.kind = kind,
			.prefix = random_prefix(v6 ? SLUICE_FAMILY_IPV6 : SLUICE_FAMILY_IPV4,
						v6 ? 56 : 20 + rnd() % 13),
		};
	}
	ret = ret ?: lists_import(&H.pins, a, 300, kind, "feed-a", NULL);
	ret = ret ?: sets_read(&H.pins, &sets);
	bit_a = ret ? ret : set_find(&sets, kind, "feed-a");
	if (!ret && bit_a > 0)
		for (int i = 0; i < 300; i++)
			set_note(&a[i].prefix, bit_a, true);
	tap_result(!ret && bit_a > 0 &&
			   sets.slot[kind][bit_a].entries == (__u64)model_in_set(bit_a) &&
			   sets.slot[kind][bit_a].refreshed > 0,
		   "%s: feed-a imported as a set of %ld prefixes (bit %d, %s)", name,
		   model_in_set(bit_a), bit_a, strerror(-ret));
	if (ret || bit_a <= 0)
		return;
	/* By hand: ten of feed-a's prefixes, and ten new ones. */
	for (int i = 0; i < 20 && !ret; i++) {
		struct list_item item = { .kind = kind };

		item.prefix = i < 10 ? a[i * 7].prefix : random_prefix(SLUICE_FAMILY_IPV4, 28);
		ret = lists_add(&H.pins, &item);
		set_note(&item.prefix, SLUICE_SET_MANUAL, true);
	}
	/* feed-b: thirty of feed-a's prefixes and thirty of its own. */
	for (int i = 0; i < 60; i++)
		b[i] = (struct list_item){ .kind = kind,
					   .prefix =
						   i < 30 ? a[i * 5 + 1].prefix :
							    random_prefix(SLUICE_FAMILY_IPV4, 30) };
	ret = ret ?: lists_import(&H.pins, b, 60, kind, "feed-b", NULL);
	ret = ret ?: sets_read(&H.pins, &sets);
	bit_b = ret ? ret : set_find(&sets, kind, "feed-b");
	tap_result(!ret && bit_b > 0 && bit_b != bit_a,
		   "%s: 20 added by hand, feed-b imported (%s)", name, strerror(-ret));
	if (ret || bit_b <= 0)
		return;
	for (int i = 0; i < 60; i++)
		set_note(&b[i].prefix, bit_b, true);
	snprintf(step, sizeof(step), "%s: feed-a, feed-b and entries by hand", name);
	check_sources(step, allowlist);

	/* feed-a again: its first 150 stay, 100 are new, 150 left the feed. */
	for (int i = 0; i < 250; i++)
		a2[i] = i < 150 ? a[i] :
				  (struct list_item){ .kind = kind,
						      .prefix = random_prefix(SLUICE_FAMILY_IPV4,
									      24 + rnd() % 9) };
	ret = lists_import(&H.pins, a2, 250, kind, "feed-a", NULL);
	for (int i = 0; i < 300; i++)
		set_note(&a[i].prefix, bit_a, false);
	for (int i = 0; i < 250; i++)
		set_note(&a2[i].prefix, bit_a, true);
	n = ret ? ret : count_in_set(kind, bit_a);
	tap_result(n == model_in_set(bit_a),
		   "%s: feed-a refreshed: %ld entries in it, want %ld (%s)", name, n,
		   model_in_set(bit_a), strerror(ret < 0 ? -ret : 0));
	snprintf(step, sizeof(step), "%s: after feed-a's refresh", name);
	check_sources(step, allowlist);

	/* Out of one set: an entry by hand stays, an entry of feed-a alone goes. */
	ret = lists_del(&H.pins, kind, &a[0].prefix, "feed-a");
	set_note(&a[0].prefix, bit_a, false);
	tap_result(!ret && lists_del(&H.pins, kind, &a[0].prefix, "feed-a") == -ENOENT,
		   "%s: del from feed-a, then again: not in the set (%s)", name, strerror(-ret));
	want = model_in_set(bit_b);
	n = lists_flush(&H.pins, kind, "feed-b");
	for (int i = 0; i < 60; i++)
		set_note(&b[i].prefix, bit_b, false);
	ret = sets_read(&H.pins, &sets);
	tap_result(n == want && !ret && set_find(&sets, kind, "feed-b") == -ENOENT &&
			   set_find(&sets, kind, "feed-a") == bit_a,
		   "%s: flush of feed-b: %ld entries left it, want %ld; its name is gone", name, n,
		   want);
	snprintf(step, sizeof(step), "%s: after del from feed-a and flush of feed-b", name);
	check_sources(step, allowlist);
}

static void run(bool allowlist)
{
	enum list_kind kind = allowlist ? LIST_ALLOW : LIST_BLOCK;
	const char *name = allowlist ? "allowlist" : "blocklist";
	struct list_item items[600];
	char step[96];
	int ret, n;

	ret = start(allowlist);
	ret = ret ?: add_random(kind, 1500, false);
	snprintf(step, sizeof(step), "%s: 1500 prefixes of /16 and longer added", name);
	tap_result(!ret, "%s: set up (%s)", name, strerror(-ret));
	if (ret)
		return;
	check_sources(step, allowlist);

	/* Deletes leave records that only the trie can settle. */
	for (int i = 0, done = 0; i < nlisted && done < 500; i += 3, done++) {
		ret = lists_del(&H.pins, kind, &L[i].pfx, NULL);
		if (ret)
			break;
		L[i].live = false;
	}
	tap_result(!ret, "%s: 500 deleted (%s)", name, strerror(-ret));
	snprintf(step, sizeof(step), "%s: after the deletes", name);
	check_sources(step, allowlist);

	/* Permanent prefixes of /24 and shorter re-added with a TTL that runs out. */
	n = 0;
	for (int i = 1; i < nlisted && n < 200 && !ret; i += 3) {
		struct list_item item = { .kind = kind, .prefix = L[i].pfx, .ttl_ns = 1000000 };

		if (!L[i].live || L[i].pfx.family != SLUICE_FAMILY_IPV4 || L[i].pfx.plen > 24)
			continue;
		ret = lists_add(&H.pins, &item);
		L[i].live = false;
		n++;
	}
	usleep(20000); /* past the TTL, and a tick of the coarse clock */
	tap_result(!ret && n > 50, "%s: %d permanent prefixes re-added with a 1 ms TTL (%s)", name,
		   n, strerror(-ret));
	snprintf(step, sizeof(step), "%s: after their TTL ran out", name);
	check_sources(step, allowlist);
	check_collection(name, n);

	ret = add_random(kind, 500, true);
	tap_result(!ret, "%s: 500 more, some IPv4 shorter than /16, IPv6 of any length (%s)", name,
		   strerror(-ret));
	snprintf(step, sizeof(step), "%s: with IPv4 shorter than /16, IPv6 of 30 lengths", name);
	check_sources(step, allowlist);

	/* An import builds the other generation afresh, and switches to it. */
	for (n = 0; n < (int)ARRAY_SIZE(items); n++) {
		bool v6 = n % 10 == 9;

		items[n] = (struct list_item){
			.kind = kind,
			.prefix = random_prefix(v6 ? SLUICE_FAMILY_IPV6 : SLUICE_FAMILY_IPV4,
						v6 ? 64 : 17 + rnd() % 16),
		};
	}
	ret = lists_import(&H.pins, items, n, kind, NULL, NULL);
	for (int i = 0; i < n && !ret; i++) {
		bool known = false;

		for (int j = 0; j < nlisted && !known; j++)
			if (!memcmp(&L[j].pfx, &items[i].prefix, sizeof(items[i].prefix)))
				known = L[j].live = true;
		if (!known && nlisted < MAX_PREFIXES)
			L[nlisted++] = (struct listed){ .pfx = items[i].prefix, .live = true };
	}
	tap_result(!ret, "%s: import of 600 into the other generation (%s)", name, strerror(-ret));
	snprintf(step, sizeof(step), "%s: after the import", name);
	check_sources(step, allowlist);
	host_records(kind, name, allowlist);
	named_sets(kind, name, allowlist);
}

int main(void)
{
	HARNESS_OPEN_OR_SKIP("list index tests");
	/* lists_import copies the policy text too: the controller's own map, made here. */
	H.pins.fds[PIN_TEXT] = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_text", 4,
					      sizeof(struct sluice_text), 2, NULL);
	H.pins.fds[PIN_SETS] = bpf_map_create(BPF_MAP_TYPE_ARRAY, "sluice_sets", 4,
					      sizeof(struct sluice_set), 2 * SLUICE_MAX_SETS, NULL);
	tap_result(H.pins.fds[PIN_TEXT] >= 0 && H.pins.fds[PIN_SETS] >= 0,
		   "policy text and set maps created");
	if (H.pins.fds[PIN_TEXT] < 0 || H.pins.fds[PIN_SETS] < 0)
		return tap_exit();
	run(false);
	run(true);
	close(H.pins.fds[PIN_TEXT]);
	close(H.pins.fds[PIN_SETS]);
	H.pins.fds[PIN_SETS] = -1;
	harness_close();
	return tap_exit();
}
