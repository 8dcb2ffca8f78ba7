// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Values of the grammar: prefixes, rates, bursts, durations, ports and comments. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "text.h"

/* ---- prefixes ---- */

static unsigned int family_bits(__u8 family)
{
	return family == SLUICE_FAMILY_IPV4 ? 32 : 128;
}

unsigned int prefix_plen128(const struct prefix *p)
{
	return p->family == SLUICE_FAMILY_IPV4 ? SLUICE_V4_MAPPED_PLEN + p->plen : p->plen;
}

void plen128_mask(unsigned int bits, __u32 mask[4])
{
	for (unsigned int i = 0; i < 4; i++)
		mask[i] = sluice_prefix_word_mask(bits, i);
}

bool addr_is_v4_mapped(const __u32 addr[4])
{
	return !addr[0] && !addr[1] && addr[2] == htonl(0xffff);
}

bool prefix128_is_v4(const __u32 addr[4], unsigned int plen128)
{
	return plen128 >= SLUICE_V4_MAPPED_PLEN && addr_is_v4_mapped(addr);
}

int parse_prefix(const char *s, struct prefix *out, struct parse_error *err)
{
	const char *slash = strchr(s, '/');
	size_t len = slash ? (size_t)(slash - s) : strlen(s);
	char text[INET6_ADDRSTRLEN], hint[INET6_ADDRSTRLEN + 4];
	struct prefix p, masked;
	unsigned int max, i;
	__u32 mask[4];
	__u64 plen;
	bool v6;

	if (!*s)
		return fail(err, "prefix: expected an IPv4 or IPv6 address or prefix, got \"\"");
	if (!len || len >= sizeof(text))
		return fail(err, "%s: not an IPv4 or IPv6 prefix", QB(s));
	memcpy(text, s, len);
	text[len] = '\0';
	memset(&p, 0, sizeof(p));
	v6 = memchr(text, ':', len) != NULL;
	if (v6 ? inet_pton(AF_INET6, text, p.addr) != 1 : inet_pton(AF_INET, text, &p.addr[3]) != 1)
		return fail(err, "%s: not an IPv4 or IPv6 prefix", QB(s));
	if (!v6)
		p.addr[2] = htonl(0xffff);
	max = v6 ? 128 : 32;
	plen = max;
	if (slash) {
		const char *num = slash + 1;
		int ret = read_u64(&num, &plen);

		if (ret == -EINVAL || (!ret && *num))
			return fail(err, "%s: expected a prefix length after \"/\", got %s", QB(s),
				    Q(slash + 1));
		if (ret || plen > max)
			return fail(err, "prefix length %s out of range for %s (0-%u)",
				    QB(slash + 1), v6 ? "IPv6" : "IPv4", max);
	}
	p.family = v6 ? SLUICE_FAMILY_IPV6 : SLUICE_FAMILY_IPV4;
	p.plen = plen;
	if (v6 && addr_is_v4_mapped(p.addr) && plen >= SLUICE_V4_MAPPED_PLEN) {
		p.family = SLUICE_FAMILY_IPV4;
		p.plen = plen - SLUICE_V4_MAPPED_PLEN;
	}
	plen128_mask(prefix_plen128(&p), mask);
	masked = p;
	for (i = 0; i < 4; i++)
		masked.addr[i] &= mask[i];
	if (memcmp(masked.addr, p.addr, sizeof(p.addr))) {
		format_prefix(&masked, hint, sizeof(hint));
		/* A full-length prefix cannot have host bits, so the hint always has its "/N". */
		return fail(err, "%s: host bits set (did you mean %s?)", QB(s), hint);
	}
	memcpy(out, &p, sizeof(p));
	return 0;
}

void format_prefix(const struct prefix *p, char *buf, size_t len)
{
	bool v4 = p->family == SLUICE_FAMILY_IPV4;
	char text[INET6_ADDRSTRLEN];
	struct sbuf b = sb_init(buf, len);

	if (!inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? (const void *)&p->addr[3] : p->addr, text,
		       sizeof(text)))
		snprintf(text, sizeof(text), "?");
	sb_printf(&b, "%s", text);
	if (p->plen != family_bits(p->family))
		sb_printf(&b, "/%u", p->plen);
}

/* ---- units ---- */

struct unit {
	const char *name;
	__u64 scale;
};

/* Sizes, ascending, so that the last exact one is the largest. */
static const struct unit byte_units[] = {
	{ "B", 1 },
	{ "KB", 1000ULL },
	{ "KiB", 1ULL << 10 },
	{ "MB", 1000000ULL },
	{ "MiB", 1ULL << 20 },
	{ "GB", 1000000000ULL },
	{ "GiB", 1ULL << 30 },
	{ "TB", 1000000000000ULL },
	{ "TiB", 1ULL << 40 },
};

static const struct unit bit_units[] = {
	{ "bit", 1 },
	{ "kbit", 1000ULL },
	{ "Mbit", 1000000ULL },
	{ "Gbit", 1000000000ULL },
	{ "Tbit", 1000000000000ULL },
};

/* Periods of packet rates; the first name of each period is the one printed. */
static const struct unit periods[] = {
	{ "s", 1 },	  { "sec", 1 },	 { "second", 1 },  { "m", 60 },	   { "min", 60 },
	{ "minute", 60 }, { "h", 3600 }, { "hour", 3600 }, { "d", 86400 }, { "day", 86400 },
};

/* Durations, descending: the order they must be written in. */
static const struct unit time_units[] = {
	{ "d", 86400 * NS_PER_SEC },
	{ "h", 3600 * NS_PER_SEC },
	{ "m", 60 * NS_PER_SEC },
	{ "s", NS_PER_SEC },
	{ "ms", 1000000ULL },
	{ "us", 1000ULL },
	{ "ns", 1 },
};

/* The unit of TABLE named by the LEN bytes at NAME, or NULL. */
static const struct unit *find_unit(const struct unit *table, size_t n, const char *name,
				    size_t len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(table[i].name) == len && !strncmp(table[i].name, name, len))
			return &table[i];
	return NULL;
}

#define FIND_UNIT(table, name, len) find_unit(table, ARRAY_SIZE(table), name, len)

/* ---- rates, bursts, durations, ports, comments ---- */

#define RATE_EXPECTED                                                                              \
	"rate: expected NUMBER/s, /m, /h, /d or a byte rate like 10MB/s or 80Mbit/s, got %s"

static const char *period_name(__u32 period_s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(periods); i++)
		if (periods[i].scale == period_s)
			return periods[i].name;
	return "?";
}

int parse_rate(const char *s, struct rate *out, struct parse_error *err)
{
	const char *p = s, *slash;
	const struct unit *period, *u;
	size_t ulen;
	__u64 n, bits;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = read_u64(&p, &n);
	if (ret == -ERANGE)
		return fail(err, "rate: %s is too large", Q(s));
	slash = strchr(p, '/');
	if (ret || !slash)
		return fail(err, RATE_EXPECTED, Q(s));
	ulen = slash - p;
	period = FIND_UNIT(periods, slash + 1, strlen(slash + 1));
	if (!period || ulen >= sizeof(out->unit))
		return fail(err, RATE_EXPECTED, Q(s));
	if (!n)
		return fail(err, "rate: must be at least 1, got %s", Q(s));
	out->display = n;
	if (!ulen) {
		/* The limiter's interval, period / n in its time units, must not round to 0. */
		if (n > (unsigned __int128)period->scale * SLUICE_UNITS_PER_SEC)
			return fail(err, "rate: %s is too high (at most %llu per second)", Q(s),
				    SLUICE_UNITS_PER_SEC);
		out->kind = RATE_PACKETS;
		out->amount = n;
		out->period_s = period->scale;
		return 0;
	}
	if (period->scale != 1)
		return fail(err, "rate: byte and bit rates are per second only, got %s", Q(s));
	out->period_s = 1;
	memcpy(out->unit, p, ulen);
	if ((u = FIND_UNIT(byte_units, p, ulen))) {
		out->kind = RATE_BYTES;
		if (mul_u64(n, u->scale, &out->amount))
			return fail(err, "rate: %s is too large", Q(s));
		return 0;
	}
	if ((u = FIND_UNIT(bit_units, p, ulen))) {
		out->kind = RATE_BITS;
		if (mul_u64(n, u->scale, &bits))
			return fail(err, "rate: %s is too large", Q(s));
		if (bits % 8)
			return fail(err, "rate: %s is not a whole number of bytes per second",
				    Q(s));
		out->amount = bits / 8;
		return 0;
	}
	return fail(err, RATE_EXPECTED, Q(s));
}

void format_rate(const struct rate *r, char *buf, size_t len)
{
	if (r->kind == RATE_PACKETS)
		snprintf(buf, len, "%llu/%s", r->display, period_name(r->period_s));
	else
		snprintf(buf, len, "%llu%s/s", r->display, r->unit);
}

#define DURATION_EXPECTED                                                                          \
	"duration: expected NUMBER and unit d, h, m, s or ms, like 30s or 1h30m, got %s"

int parse_duration(const char *s, __u64 *ns, struct parse_error *err)
{
	size_t next = 0; /* units must come in the order of time_units, each once */
	const char *p = s;
	__u64 total = 0, n, part;
	int ret;

	if (!*s)
		return fail(err, DURATION_EXPECTED, Q(s));
	while (*p) {
		const struct unit *u;
		size_t len;

		ret = read_u64(&p, &n);
		if (ret == -ERANGE)
			return fail(err, "duration: %s is too long", Q(s));
		if (ret)
			return fail(err, DURATION_EXPECTED, Q(s));
		len = strcspn(p, "0123456789");
		u = FIND_UNIT(time_units, p, len);
		if (!u)
			return fail(err, DURATION_EXPECTED, Q(s));
		if ((size_t)(u - time_units) < next)
			return fail(
				err,
				"duration: units go from largest to smallest, each once, got %s",
				Q(s));
		if (mul_u64(n, u->scale, &part) || part > UINT64_MAX - total)
			return fail(err, "duration: %s is too long", Q(s));
		total += part;
		next = u - time_units + 1;
		p += len;
	}
	if (!total)
		return fail(err, "duration: must be longer than 0, got %s", Q(s));
	*ns = total;
	return 0;
}

void format_duration(__u64 ns, char *buf, size_t len)
{
	struct sbuf b = sb_init(buf, len);
	size_t i;

	if (!ns)
		sb_printf(&b, "0s");
	for (i = 0; i < ARRAY_SIZE(time_units); i++) {
		if (ns >= time_units[i].scale) {
			sb_printf(&b, "%llu%s", ns / time_units[i].scale, time_units[i].name);
			ns %= time_units[i].scale;
		}
	}
}

int parse_burst(const char *s, enum rate_kind kind, __u64 *out, struct parse_error *err)
{
	const struct unit *u = &byte_units[0];
	const char *p = s;
	__u64 n;
	int ret;

	ret = read_u64(&p, &n);
	if (kind == RATE_PACKETS) {
		if (!ret && *p)
			ret = -EINVAL;
		if (ret == -EINVAL)
			return fail(err, "burst: expected a number of packets, got %s", Q(s));
	} else {
		if (!ret && *p)
			u = FIND_UNIT(byte_units, p, strlen(p));
		if (ret == -EINVAL || !u)
			return fail(err, "burst: expected a size like 1500, 64KB or 1MiB, got %s",
				    Q(s));
	}
	if (ret || mul_u64(n, u->scale, &n))
		return fail(err, "burst: %s is too large", Q(s));
	if (!n)
		return fail(err, "burst: must be at least 1, got %s", Q(s));
	*out = n;
	return 0;
}

void format_burst(__u64 burst, enum rate_kind kind, char *buf, size_t len)
{
	const struct unit *best = &byte_units[0];
	size_t i;

	if (kind == RATE_PACKETS) {
		snprintf(buf, len, "%llu", burst);
		return;
	}
	for (i = 1; burst && i < ARRAY_SIZE(byte_units); i++)
		if (burst % byte_units[i].scale == 0)
			best = &byte_units[i];
	snprintf(buf, len, "%llu%s", burst / best->scale, best->name);
}

int parse_port_range(const char *s, __u16 *lo, __u16 *hi, struct parse_error *err)
{
	const char *p = s;
	__u64 a, b;
	int ra, rb;

	ra = read_u64(&p, &a);
	if (ra == -EINVAL || (*p && *p != '-'))
		return fail(err, "port: expected a port 1-65535 or a range LO-HI, got %s", Q(s));
	if (!*p) {
		if (ra || !a || a > 65535)
			return fail(err, "port %s out of range (1-65535)", QB(s));
		*lo = *hi = a;
		return 0;
	}
	p++;
	rb = read_u64(&p, &b);
	if (rb == -EINVAL || *p)
		return fail(err, "port: expected a port 1-65535 or a range LO-HI, got %s", Q(s));
	/* Ports are 1-65535 in ranges too, so every range prints back as it parses. */
	if (ra || rb || !a || a > 65535 || b > 65535)
		return fail(err, "port range %s out of range (1-65535)", QB(s));
	if (a > b)
		return fail(err, "port range %s: %llu is above %llu", QB(s), a, b);
	*lo = a;
	*hi = b;
	return 0;
}

int parse_comment(const char *s, char out[SLUICE_COMMENT_LEN], struct parse_error *err)
{
	size_t i, len = strlen(s);

	if (len >= SLUICE_COMMENT_LEN)
		return fail(err, "comment: at most %d bytes, got %zu in %s", SLUICE_COMMENT_LEN - 1,
			    len, Q(s));
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return fail(err, "comment: only printable ASCII, got byte 0x%02x in %s",
				    (unsigned char)s[i], Q(s));
	memset(out, 0, SLUICE_COMMENT_LEN);
	memcpy(out, s, len);
	return 0;
}
