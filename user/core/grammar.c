// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The one parser of sluice's grammar: values, rules, list items and policy files. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "grammar.h"

#define NS_PER_SEC 1000000000ULL
#define QUOTE_MAX 48 /* bytes of a bad word shown in a message */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A bounded string builder: output is cut at the buffer's end, always NUL-terminated. */
struct sbuf {
	char *buf;
	size_t len;
	size_t off;
};

static struct sbuf sb_init(char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	return (struct sbuf){ .buf = buf, .len = len };
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int ret;

	if (b->off >= b->len)
		return;
	va_start(ap, fmt);
	ret = vsnprintf(b->buf + b->off, b->len - b->off, fmt, ap);
	va_end(ap);
	if (ret > 0)
		b->off += ret;
}

/* Room for QUOTE_MAX bytes escaped as \xNN, the quotes and "...". */
struct quoted {
	char s[QUOTE_MAX * 4 + 8];
};

/* S made safe to show: non-printable bytes as \xNN, long words cut, with or without quotes. */
static const char *quote(struct quoted *q, const char *s, bool marks)
{
	size_t i, o = 0;

	if (marks)
		q->s[o++] = '"';
	for (i = 0; s[i] && i < QUOTE_MAX; i++) {
		unsigned char c = s[i];

		if (marks && (c == '"' || c == '\\'))
			o += sprintf(q->s + o, "\\%c", c);
		else if (c >= 0x20 && c < 0x7f)
			q->s[o++] = c;
		else
			o += sprintf(q->s + o, "\\x%02x", c);
	}
	if (s[i])
		o += sprintf(q->s + o, "...");
	if (marks)
		q->s[o++] = '"';
	q->s[o] = '\0';
	return q->s;
}

/* The word in double quotes, or bare (for words that are the subject of a message). */
#define Q(s) quote(&(struct quoted){ { 0 } }, (s), true)
#define QB(s) quote(&(struct quoted){ { 0 } }, (s), false)

static int vfail(struct parse_error *err, const char *fmt, va_list ap)
{
	if (err)
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return -EINVAL;
}

static int fail(struct parse_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(struct parse_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Reads the decimal digits at *s, moving *s past them: -EINVAL if none, -ERANGE beyond u64. */
static int read_u64(const char **s, __u64 *v)
{
	const char *p = *s;
	bool overflow = false;
	__u64 n = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned int d = *p - '0';

		overflow |= n > (UINT64_MAX - d) / 10;
		n = n * 10 + d;
	}
	*s = p;
	*v = n;
	return overflow ? -ERANGE : 0;
}

/* Multiplies without wrapping: -ERANGE when a * b does not fit. */
static int mul_u64(__u64 a, __u64 b, __u64 *out)
{
	if (b && a > UINT64_MAX / b)
		return -ERANGE;
	*out = a * b;
	return 0;
}

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

#define RATE_EXPECTED \
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

#define DURATION_EXPECTED \
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

/* ---- words ---- */

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

int tokenize(char *line, char **words, unsigned int *columns, unsigned int max,
	     struct parse_error *err)
{
	unsigned int n = 0;
	char *p = line;

	for (;;) {
		char *dst, *quote_at = NULL;

		while (is_blank(*p))
			p++;
		if (!*p || *p == '#')
			return n;
		if (n == max) {
			if (err)
				err->column = p - line + 1;
			return fail(err, "too many words (at most %u)", max);
		}
		words[n] = dst = p;
		if (columns)
			columns[n] = p - line + 1;
		while (*p && (quote_at || !is_blank(*p))) {
			if (*p == '"') {
				quote_at = quote_at ? NULL : p;
				p++;
			} else if (quote_at && *p == '\\' && (p[1] == '"' || p[1] == '\\')) {
				*dst++ = p[1];
				p += 2;
			} else {
				*dst++ = *p++;
			}
		}
		if (quote_at) {
			if (err)
				err->column = quote_at - line + 1;
			return fail(err,
				    "unterminated quote: no closing \" before the end of the line");
		}
		/* dst never passes p, so the blank at p is read before it is overwritten. */
		if (*p)
			p++;
		*dst = '\0';
		n++;
	}
}

/* The words of one command, the next one to read and where errors go. */
struct words {
	char **w;
	const unsigned int *columns;
	unsigned int n;
	unsigned int i;
	struct parse_error *err;
};

/* Points an error, a value parser's or our own, at word I. */
static int wat(struct words *ws, unsigned int i, int ret)
{
	if (ret && ws->err)
		ws->err->column = ws->columns && i < ws->n ? ws->columns[i] : 0;
	return ret;
}

static int wfail(struct words *ws, unsigned int i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int wfail(struct words *ws, unsigned int i, const char *fmt, ...)
{
	va_list ap;

	wat(ws, i, -EINVAL);
	va_start(ap, fmt);
	vfail(ws->err, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define GOT(ws, i) ((i) < (ws)->n ? Q((ws)->w[i]) : "the end of the line")

/* Takes the value after the keyword just read, or fails naming what was expected. */
static int next_value(struct words *ws, const char *what, const char **val)
{
	unsigned int key = ws->i - 1;

	if (ws->i >= ws->n)
		return wfail(ws, key, "%s: expected %s, got the end of the line", QB(ws->w[key]),
			     what);
	*val = ws->w[ws->i++];
	return 0;
}

/* ---- rules ---- */

/* Words a rule may hold once; the names say what they are in messages. */
enum rule_slot {
	SLOT_FAMILY,
	SLOT_PROTO,
	SLOT_DPORT,
	SLOT_SYN,
	SLOT_DST,
	SLOT_ACTION,
	SLOT_COUNT,
};

static const char *const slot_names[SLOT_COUNT] = {
	[SLOT_FAMILY] = "family (ip or ip6)",
	[SLOT_PROTO] = "protocol (tcp, udp or icmp)",
	[SLOT_DPORT] = "dport",
	[SLOT_SYN] = "syn",
	[SLOT_DST] = "dst",
	[SLOT_ACTION] = "action",
};

/* Where each part of a rule was written (word index + 1, 0 when absent), for later checks. */
struct rule_marks {
	unsigned int slot[SLOT_COUNT];
	unsigned int limit_dport[SLUICE_MAX_LIMITS];
};

static int take_slot(struct words *ws, struct rule_marks *m, enum rule_slot slot, unsigned int i)
{
	if (m->slot[slot])
		return wfail(ws, i, "%s: only one %s per rule", QB(ws->w[i]), slot_names[slot]);
	m->slot[slot] = i + 1;
	return 0;
}

/* A word the rule may hold once, and the value after it. */
static int slot_value(struct words *ws, struct rule_marks *m, enum rule_slot slot, const char *what,
		      const char **val)
{
	return take_slot(ws, m, slot, ws->i - 1) ?: next_value(ws, what, val);
}

/* The words for protocols and actions, each read and printed from one table. */
static const struct {
	const char *name;
	enum sluice_proto proto;
} protos[] = {
	{ "tcp", SLUICE_PROTO_TCP },
	{ "udp", SLUICE_PROTO_UDP },
	{ "icmp", SLUICE_PROTO_ICMP },
};

static const char *const action_names[] = {
	[SLUICE_ACTION_PASS] = "pass",
	[SLUICE_ACTION_DROP] = "drop",
	[SLUICE_ACTION_MONITOR] = "monitor",
	[SLUICE_ACTION_BAN] = "ban",
};

/* The protocol a word names, or SLUICE_PROTO_ANY. */
static enum sluice_proto find_proto(const char *word)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(protos); i++)
		if (!strcmp(word, protos[i].name))
			return protos[i].proto;
	return SLUICE_PROTO_ANY;
}

static const char *proto_name(enum sluice_proto proto)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(protos); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return "no protocol";
}

static bool valid_name(const char *s)
{
	size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

	return len && !s[len] && len < SLUICE_NAME_LEN;
}

static __u64 default_burst(const struct rate *r)
{
	__u64 b = r->amount;

	if (r->kind == RATE_PACKETS && r->period_s)
		b = r->amount / r->period_s + (r->amount % r->period_s != 0);
	return b ? b : 1;
}

/* The burst a limit runs with: as written, or one second of its rate. */
static __u64 limit_burst(const struct limit_spec *ls)
{
	return ls->burst_given ? ls->burst : default_burst(&ls->rate);
}

static int compile_limit(const struct limit_spec *ls, struct sluice_limit *out,
			 struct parse_error *err)
{
	char rate[32], burst[32];
	unsigned __int128 t;

	memset(out, 0, sizeof(*out));
	out->key = ls->key;
	out->prefix4 = ls->key == SLUICE_KEY_GLOBAL ? 32 : ls->prefix4;
	out->prefix6 = ls->key == SLUICE_KEY_GLOBAL ? 128 : ls->prefix6;
	if (ls->dport)
		out->flags |= SLUICE_LIMIT_DPORT;
	format_rate(&ls->rate, rate, sizeof(rate));
	format_burst(limit_burst(ls), ls->rate.kind, burst, sizeof(burst));
	if (!ls->rate.amount || !ls->rate.period_s)
		return fail(err, "rate: must be at least 1, got %s", rate);
	if (!limit_burst(ls))
		return fail(err, "burst: must be at least 1, got %s", burst);
	if (ls->rate.kind == RATE_PACKETS) {
		out->interval = (unsigned __int128)ls->rate.period_s * SLUICE_UNITS_PER_SEC /
				ls->rate.amount;
		if (!out->interval)
			return fail(err, "rate: %s is too high (at most %llu per second)", rate,
				    SLUICE_UNITS_PER_SEC);
		t = (unsigned __int128)limit_burst(ls) * out->interval;
	} else {
		out->flags |= SLUICE_LIMIT_BYTES;
		out->byte_rate = ls->rate.amount;
		t = (unsigned __int128)limit_burst(ls) * SLUICE_UNITS_PER_SEC / ls->rate.amount;
		if (!t)
			return fail(err, "burst: %s is too small for rate %s", burst, rate);
	}
	if (t > UINT64_MAX)
		return fail(err, "burst: %s is too large for rate %s", burst, rate);
	out->tolerance = t;
	return 0;
}

/* Reads the N of src/N or src6/N at word I. */
static int parse_key_plen(struct words *ws, unsigned int i, const char *num, unsigned int max,
			  __u8 *out)
{
	const char *p = num;
	__u64 v;
	int ret;

	ret = read_u64(&p, &v);
	if (ret == -EINVAL || (!ret && *p))
		return wfail(ws, i,
			     "limit: expected src/N or src6/N with a prefix length N, got %s",
			     Q(ws->w[i]));
	if (ret || !v || v > max)
		return wfail(ws, i, "prefix length %s out of range for %s (1-%u)", QB(num),
			     max == 32 ? "IPv4" : "IPv6", max);
	*out = v;
	return 0;
}

/* The key words of a limit; src/ and src6/ take a prefix length after the slash. */
enum limit_word {
	KEY_SRC,
	KEY_SRC6,
	KEY_DPORT,
	KEY_GLOBAL,
	KEY_WORDS,
};

static const char *const key_words[KEY_WORDS] = {
	[KEY_SRC] = "src/",
	[KEY_SRC6] = "src6/",
	[KEY_DPORT] = "dport",
	[KEY_GLOBAL] = "global",
};

static enum limit_word find_key_word(const char *w)
{
	enum limit_word k;

	for (k = KEY_SRC; k <= KEY_SRC6; k++)
		if (!strncmp(w, key_words[k], strlen(key_words[k])))
			return k;
	for (; k < KEY_WORDS; k++)
		if (!strcmp(w, key_words[k]))
			return k;
	return KEY_WORDS;
}

/* `limit KEY... rate RATE [burst BURST]`, the word `limit` at index AT. */
static int parse_limit(struct words *ws, struct rule_spec *spec, struct rule_marks *m,
		       unsigned int at)
{
	unsigned int key_at[KEY_WORDS] = { 0 }; /* word index + 1 */
	struct sluice_limit compiled;
	struct limit_spec *ls;
	enum limit_word k;
	unsigned int value_at;
	const char *v;
	int ret = 0;

	if (spec->nlimits == SLUICE_MAX_LIMITS)
		return wfail(ws, at, "limit: at most %d limits per rule", SLUICE_MAX_LIMITS);
	ls = &spec->limits[spec->nlimits];
	ls->key = SLUICE_KEY_SRC;
	ls->prefix4 = 32;
	ls->prefix6 = 64;
	for (; ws->i < ws->n && (k = find_key_word(ws->w[ws->i])) < KEY_WORDS; ws->i++) {
		const char *w = ws->w[ws->i];

		if (key_at[k])
			return wfail(ws, ws->i, "%s: only one %s%s per limit", QB(w), key_words[k],
				     k <= KEY_SRC6 ? "N" : "");
		key_at[k] = ws->i + 1;
		if (k == KEY_SRC)
			ret = parse_key_plen(ws, ws->i, w + strlen(key_words[k]), 32, &ls->prefix4);
		else if (k == KEY_SRC6)
			ret = parse_key_plen(ws, ws->i, w + strlen(key_words[k]), 128,
					     &ls->prefix6);
		if (ret)
			return ret;
	}
	if (ws->i == at + 1)
		return wfail(ws, ws->i < ws->n ? ws->i : at,
			     "limit: expected src/N, src6/N, dport or global, got %s",
			     GOT(ws, ws->i));
	if (key_at[KEY_GLOBAL] && (key_at[KEY_SRC] || key_at[KEY_SRC6] || key_at[KEY_DPORT]))
		return wfail(
			ws, key_at[KEY_GLOBAL] - 1,
			"global: one bucket for the whole rule, so no src/N, src6/N or dport with it");
	if (key_at[KEY_GLOBAL]) {
		ls->key = SLUICE_KEY_GLOBAL;
		ls->prefix4 = 32;
		ls->prefix6 = 128;
	}
	ls->dport = key_at[KEY_DPORT] != 0;
	m->limit_dport[spec->nlimits] = key_at[KEY_DPORT];
	if (ws->i >= ws->n || strcmp(ws->w[ws->i], "rate"))
		return wfail(ws, ws->i < ws->n ? ws->i : at, "limit: expected rate RATE, got %s",
			     GOT(ws, ws->i));
	ws->i++;
	ret = next_value(ws, "RATE like 20/s or 10Mbit/s", &v);
	if (ret)
		return ret;
	value_at = ws->i - 1;
	ret = parse_rate(v, &ls->rate, ws->err);
	if (ret)
		return wat(ws, value_at, ret);
	ls->burst = default_burst(&ls->rate);
	if (ws->i < ws->n && !strcmp(ws->w[ws->i], "burst")) {
		ws->i++;
		ret = next_value(ws,
				 ls->rate.kind == RATE_PACKETS ? "a number of packets" :
								 "a size like 64KB",
				 &v);
		if (ret)
			return ret;
		value_at = ws->i - 1;
		ret = parse_burst(v, ls->rate.kind, &ls->burst, ws->err);
		if (ret)
			return wat(ws, value_at, ret);
		ls->burst_given = true;
	}
	spec->nlimits++;
	/* Refuse here, with a column, what compile_rule() would refuse later. */
	return wat(ws, value_at, compile_limit(ls, &compiled, ws->err));
}

static int parse_action(struct words *ws, struct rule_spec *spec)
{
	const char *v;
	int ret;

	ret = next_value(ws, "drop, pass, monitor or ban DURATION", &v);
	if (ret)
		return ret;
	for (spec->action = 0; spec->action < ARRAY_SIZE(action_names); spec->action++)
		if (!strcmp(v, action_names[spec->action]))
			break;
	if (spec->action == ARRAY_SIZE(action_names))
		return wfail(ws, ws->i - 1,
			     "action: expected drop, pass, monitor or ban DURATION, got %s", Q(v));
	if (spec->action != SLUICE_ACTION_BAN)
		return 0;
	ret = next_value(ws, "DURATION like 10m", &v);
	if (ret)
		return ret;
	return wat(ws, ws->i - 1, parse_duration(v, &spec->ban_ns, ws->err));
}

/* The checks that need the whole rule. */
static int check_rule(struct words *ws, struct rule_spec *spec, const struct rule_marks *m)
{
	bool ports = spec->proto == SLUICE_PROTO_TCP || spec->proto == SLUICE_PROTO_UDP;
	unsigned int k;

	if (spec->syn) {
		if (spec->proto != SLUICE_PROTO_ANY && spec->proto != SLUICE_PROTO_TCP)
			return wfail(ws, m->slot[SLOT_SYN] - 1,
				     "syn: matches TCP SYN packets, but the rule is %s",
				     proto_name(spec->proto));
		spec->proto = SLUICE_PROTO_TCP;
		ports = true;
	}
	if (spec->has_dport && !ports)
		return wfail(ws, m->slot[SLOT_DPORT] - 1,
			     "dport: needs tcp or udp in the rule, got %s",
			     proto_name(spec->proto));
	for (k = 0; k < spec->nlimits; k++)
		if (m->limit_dport[k] && !ports)
			return wfail(
				ws, m->limit_dport[k] - 1,
				"dport: a limit keyed by dport needs tcp or udp in the rule, got %s",
				proto_name(spec->proto));
	if (spec->has_dst) {
		if (spec->family != SLUICE_FAMILY_ANY && spec->family != spec->dst.family)
			return wfail(ws, m->slot[SLOT_DST], "dst %s: an IPv%u prefix in an %s rule",
				     QB(ws->w[m->slot[SLOT_DST]]), spec->dst.family,
				     spec->family == SLUICE_FAMILY_IPV4 ? "ip" : "ip6");
		spec->family = spec->dst.family;
	}
	if (spec->action == SLUICE_ACTION_BAN && !spec->nlimits)
		return wfail(ws, m->slot[SLOT_ACTION] - 1,
			     "action ban: needs at least one limit, got none");
	/* Admitted packets pass anyway; what a refusing limit does must be something else. */
	if (spec->action == SLUICE_ACTION_PASS && spec->nlimits)
		return wfail(ws, m->slot[SLOT_ACTION] - 1,
			     "action pass: a rule with limits takes drop, monitor or ban DURATION");
	return 0;
}

int parse_rule(char **words, const unsigned int *columns, unsigned int n, struct rule_spec *spec,
	       struct parse_error *err)
{
	struct words ws = { .w = words, .columns = columns, .n = n, .i = 1, .err = err };
	struct rule_marks m = { 0 };
	const char *v;
	int ret = 0;

	memset(spec, 0, sizeof(*spec));
	spec->action = SLUICE_ACTION_DROP;
	if (!n)
		return wfail(&ws, 0, "rule: expected NAME, got the end of the line");
	if (!valid_name(words[0]))
		return wfail(
			&ws, 0,
			"rule: expected a NAME of letters, digits, _ . or - (at most %d), got %s",
			SLUICE_NAME_LEN - 1, Q(words[0]));
	/* Metrics label packets that no rule decided with rule="none". */
	if (!strcmp(words[0], "none"))
		return wfail(&ws, 0, "rule: the name \"none\" is reserved for packets no rule decided");
	strcpy(spec->name, words[0]);
	while (!ret && ws.i < n) {
		unsigned int i = ws.i++;
		const char *w = words[i];

		if (!strcmp(w, "ip") || !strcmp(w, "ip6")) {
			ret = take_slot(&ws, &m, SLOT_FAMILY, i);
			spec->family = w[2] ? SLUICE_FAMILY_IPV6 : SLUICE_FAMILY_IPV4;
		} else if (find_proto(w) != SLUICE_PROTO_ANY) {
			ret = take_slot(&ws, &m, SLOT_PROTO, i);
			spec->proto = find_proto(w);
		} else if (!strcmp(w, "dport")) {
			ret = slot_value(&ws, &m, SLOT_DPORT, "PORT or LO-HI", &v);
			if (!ret)
				ret = wat(&ws, i + 1,
					  parse_port_range(v, &spec->dport_lo, &spec->dport_hi,
							   err));
			spec->has_dport = true;
		} else if (!strcmp(w, "syn")) {
			ret = take_slot(&ws, &m, SLOT_SYN, i);
			spec->syn = true;
		} else if (!strcmp(w, "dst")) {
			ret = slot_value(&ws, &m, SLOT_DST, "PREFIX", &v);
			if (!ret)
				ret = wat(&ws, i + 1, parse_prefix(v, &spec->dst, err));
			spec->has_dst = true;
		} else if (!strcmp(w, "limit")) {
			ret = parse_limit(&ws, spec, &m, i);
		} else if (!strcmp(w, "action")) {
			ret = take_slot(&ws, &m, SLOT_ACTION, i) ?: parse_action(&ws, spec);
		} else {
			ret = wfail(
				&ws, i,
				"rule: expected ip, ip6, tcp, udp, icmp, dport, syn, dst, limit or action, got %s",
				Q(w));
		}
	}
	return ret ?: check_rule(&ws, spec, &m);
}

void format_rule(const struct rule_spec *spec, char *buf, size_t len)
{
	struct sbuf b = sb_init(buf, len);
	char text[64], burst[32];
	unsigned int k;

	sb_printf(&b, "rule add %.*s", SLUICE_NAME_LEN, spec->name);
	if (spec->family != SLUICE_FAMILY_ANY)
		sb_printf(&b, " %s", spec->family == SLUICE_FAMILY_IPV4 ? "ip" : "ip6");
	if (spec->proto != SLUICE_PROTO_ANY)
		sb_printf(&b, " %s", proto_name(spec->proto));
	if (spec->has_dport && spec->dport_lo == spec->dport_hi)
		sb_printf(&b, " dport %u", spec->dport_lo);
	else if (spec->has_dport)
		sb_printf(&b, " dport %u-%u", spec->dport_lo, spec->dport_hi);
	if (spec->syn)
		sb_printf(&b, " syn");
	if (spec->has_dst) {
		format_prefix(&spec->dst, text, sizeof(text));
		sb_printf(&b, " dst %s", text);
	}
	for (k = 0; k < spec->nlimits && k < SLUICE_MAX_LIMITS; k++) {
		const struct limit_spec *ls = &spec->limits[k];

		if (ls->key == SLUICE_KEY_GLOBAL)
			sb_printf(&b, " limit global");
		else
			sb_printf(&b, " limit src/%u src6/%u%s", ls->prefix4, ls->prefix6,
				  ls->dport ? " dport" : "");
		format_rate(&ls->rate, text, sizeof(text));
		format_burst(limit_burst(ls), ls->rate.kind, burst, sizeof(burst));
		sb_printf(&b, " rate %s burst %s", text, burst);
	}
	sb_printf(&b, " action %s",
		  spec->action < ARRAY_SIZE(action_names) ? action_names[spec->action] : "drop");
	if (spec->action == SLUICE_ACTION_BAN) {
		format_duration(spec->ban_ns, text, sizeof(text));
		sb_printf(&b, " %s", text);
	}
}

int compile_rule(const struct rule_spec *spec, struct sluice_rule *out, struct parse_error *err)
{
	unsigned int i;
	int ret;

	memset(out, 0, sizeof(*out));
	if (spec->nlimits > SLUICE_MAX_LIMITS)
		return fail(err, "rule %s: %u limits, at most %d", QB(spec->name), spec->nlimits,
			    SLUICE_MAX_LIMITS);
	out->family = spec->family;
	out->proto = spec->proto;
	out->action = spec->action;
	out->nlimits = spec->nlimits;
	if (spec->action == SLUICE_ACTION_BAN)
		out->ban_ns = spec->ban_ns;
	if (spec->syn)
		out->flags |= SLUICE_RULE_SYN;
	if (spec->has_dport) {
		out->flags |= SLUICE_RULE_DPORT;
		out->dport_lo = spec->dport_lo;
		out->dport_hi = spec->dport_hi;
	}
	if (spec->has_dst) {
		out->flags |= SLUICE_RULE_DST;
		plen128_mask(prefix_plen128(&spec->dst), out->dst_mask);
		for (i = 0; i < 4; i++)
			out->dst_addr[i] = spec->dst.addr[i] & out->dst_mask[i];
	}
	memcpy(out->name, spec->name, strnlen(spec->name, SLUICE_NAME_LEN - 1));
	for (i = 0; i < spec->nlimits; i++) {
		ret = compile_limit(&spec->limits[i], &out->limits[i], err);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- list items ---- */

int parse_list_item(enum list_kind kind, char **words, const unsigned int *columns, unsigned int n,
		    struct list_item *item, struct parse_error *err)
{
	struct words ws = { .w = words, .columns = columns, .n = n, .i = 1, .err = err };
	bool has_ttl = false, has_comment = false;
	const char *v;
	int ret;

	memset(item, 0, sizeof(*item));
	item->kind = kind;
	if (!n)
		return wfail(
			&ws, 0,
			"expected PREFIX [ttl DURATION] [comment TEXT], got the end of the line");
	ret = wat(&ws, 0, parse_prefix(words[0], &item->prefix, err));
	while (!ret && ws.i < n) {
		unsigned int i = ws.i++;
		const char *w = words[i];

		if (!strcmp(w, "ttl") && !has_ttl) {
			has_ttl = true;
			ret = next_value(&ws, "DURATION like 1h", &v);
			if (!ret)
				ret = wat(&ws, i + 1, parse_duration(v, &item->ttl_ns, err));
		} else if (!strcmp(w, "comment") && !has_comment) {
			has_comment = true;
			ret = next_value(&ws, "TEXT", &v);
			if (!ret)
				ret = wat(&ws, i + 1, parse_comment(v, item->comment, err));
		} else if (!strcmp(w, "ttl") || !strcmp(w, "comment")) {
			ret = wfail(&ws, i, "%s: only one %s per item", w, w);
		} else {
			ret = wfail(
				&ws, i,
				"expected ttl DURATION or comment TEXT after the prefix, got %s",
				Q(w));
		}
	}
	return ret;
}

void format_list_item(const struct list_item *item, char *buf, size_t len)
{
	char text[64], comment[2 * SLUICE_COMMENT_LEN + 1];
	struct sbuf b = sb_init(buf, len);
	size_t i, o = 0;

	format_prefix(&item->prefix, text, sizeof(text));
	sb_printf(&b, "%s add %s", item->kind == LIST_ALLOW ? "allow" : "block", text);
	if (item->ttl_ns) {
		format_duration(item->ttl_ns, text, sizeof(text));
		sb_printf(&b, " ttl %s", text);
	}
	if (!item->comment[0])
		return;
	for (i = 0; i < SLUICE_COMMENT_LEN && item->comment[i]; i++) {
		if (item->comment[i] == '"' || item->comment[i] == '\\')
			comment[o++] = '\\';
		comment[o++] = item->comment[i];
	}
	comment[o] = '\0';
	sb_printf(&b, " comment \"%s\"", comment);
}

/* ---- policy documents ---- */

void policy_init(struct policy_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
	doc->event_period_ns = SLUICE_DEFAULT_EVENT_PERIOD_NS;
	doc->event_sample = SLUICE_DEFAULT_EVENT_SAMPLE;
	doc->event_ceiling = SLUICE_DEFAULT_EVENT_CEILING;
}

void policy_free(struct policy_doc *doc)
{
	free(doc->items);
	policy_init(doc);
}

int policy_add_item(struct policy_doc *doc, const struct list_item *item)
{
	if (doc->nitems == doc->items_cap) {
		size_t cap = doc->items_cap ? doc->items_cap * 2 : 64;
		struct list_item *items;

		if (cap > SIZE_MAX / 2 / sizeof(*items))
			return -ENOMEM;
		items = realloc(doc->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		doc->items = items;
		doc->items_cap = cap;
	}
	/* memcpy, not assignment, so padding is copied too and items compare with memcmp. */
	memcpy(&doc->items[doc->nitems++], item, sizeof(*item));
	return 0;
}

static bool same_entry(const struct list_item *a, const struct list_item *b)
{
	return a->kind == b->kind && a->prefix.family == b->prefix.family &&
	       a->prefix.plen == b->prefix.plen && !memcmp(a->prefix.addr, b->prefix.addr, 16);
}

/*
 * A hash of a doc's list items by kind and prefix, so that a long policy file finds
 * its duplicates in constant time. Items are added only through index_add() while
 * it is in use.
 */
struct item_index {
	__u64 *slots; /* hash tag << 32 | item index + 1; 0 is empty */
	size_t mask; /* slots - 1, a power of two less one */
	size_t used; /* leading items of the doc indexed so far */
};

/* 64 bits of hash: the high half is kept in the slot, so probing and growing need no item. */
static __u64 entry_hash(const struct list_item *it)
{
	__u64 h = (__u64)it->kind << 16 | it->prefix.family << 8 | it->prefix.plen;
	unsigned int i;

	for (i = 0; i < 4; i++)
		h = (h ^ it->prefix.addr[i]) * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 29);
}

#define SLOT_TAG(slot) ((slot) >> 32)
#define SLOT_ITEM(slot) ((size_t)((slot)&0xffffffff) - 1)

/* The slot holding an item equal to IT, or the empty slot where it would go. */
static __u64 *index_slot(const struct item_index *index, const struct policy_doc *doc,
			 const struct list_item *it, __u64 tag)
{
	size_t i;

	for (i = tag & index->mask;; i = (i + 1) & index->mask) {
		__u64 *slot = &index->slots[i];

		if (!*slot ||
		    (SLOT_TAG(*slot) == tag && same_entry(&doc->items[SLOT_ITEM(*slot)], it)))
			return slot;
	}
}

/* Keeps the table at most half full for WANT items. */
static int index_reserve(struct item_index *index, size_t want)
{
	size_t cap = index->slots ? index->mask + 1 : 0, old_cap = cap, i, j;
	__u64 *old = index->slots;

	if (want > 0xfffffffe)
		return -ENOMEM; /* the slots hold 32-bit item numbers */
	if (!cap)
		cap = 64;
	while (cap / 2 < want)
		cap *= 2;
	if (cap == old_cap)
		return 0;
	index->slots = calloc(cap, sizeof(*old));
	if (!index->slots) {
		index->slots = old;
		return -ENOMEM;
	}
	index->mask = cap - 1;
	for (i = 0; i < old_cap; i++) {
		if (!old[i])
			continue;
		for (j = SLOT_TAG(old[i]) & index->mask; index->slots[j]; j = (j + 1) & index->mask)
			;
		index->slots[j] = old[i];
	}
	free(old);
	return 0;
}

static void index_free(struct item_index *index)
{
	free(index->slots);
	memset(index, 0, sizeof(*index));
}

/*
 * Appends ITEM to DOC unless DOC already has an item of the same kind and prefix:
 * then returns -EEXIST and sets *dup to that item's index. -ENOMEM.
 */
static int index_add(struct policy_doc *doc, struct item_index *index, const struct list_item *item,
		     size_t *dup)
{
	__u64 *slot, tag;
	int ret;

	ret = index_reserve(index, doc->nitems + 1);
	if (ret)
		return ret;
	for (; index->used < doc->nitems; index->used++) {
		tag = entry_hash(&doc->items[index->used]) >> 32;
		slot = index_slot(index, doc, &doc->items[index->used], tag);
		if (!*slot)
			*slot = tag << 32 | (index->used + 1);
	}
	tag = entry_hash(item) >> 32;
	slot = index_slot(index, doc, item, tag);
	if (*slot) {
		*dup = SLOT_ITEM(*slot);
		return -EEXIST;
	}
	ret = policy_add_item(doc, item);
	if (ret)
		return ret;
	index->used = doc->nitems;
	*slot = tag << 32 | index->used;
	return 0;
}

/* What policy_parse_file() knows beyond the doc: duplicates and the lines they came from. */
struct file_state {
	struct item_index index;
	unsigned int *item_lines; /* line of items[first_item + i] */
	size_t first_item;
	size_t lines_cap;
	unsigned int rule_lines[SLUICE_MAX_RULES];
	unsigned int line;
};

/* Remembers the line of the item just added from a file, for duplicates found later. */
static int note_item_line(struct policy_doc *doc, struct file_state *fs)
{
	size_t n = doc->nitems - fs->first_item;

	if (n > fs->lines_cap) {
		size_t cap = fs->lines_cap ? fs->lines_cap * 2 : 256;
		unsigned int *lines = realloc(fs->item_lines, cap * sizeof(*lines));

		if (!lines)
			return -ENOMEM;
		fs->item_lines = lines;
		fs->lines_cap = cap;
	}
	fs->item_lines[n - 1] = fs->line;
	return 0;
}

/* Adds a list item; in a file (FS set), a second item of the same kind and prefix is an error. */
static int add_file_item(struct policy_doc *doc, const struct list_item *item,
			 struct parse_error *err, struct file_state *fs)
{
	size_t dup = 0;
	char text[64];
	int ret;

	ret = fs ? index_add(doc, &fs->index, item, &dup) : policy_add_item(doc, item);
	if (ret == -EEXIST) {
		format_prefix(&item->prefix, text, sizeof(text));
		if (dup >= fs->first_item)
			return fail(err, "%s: already listed at line %u", text,
				    fs->item_lines[dup - fs->first_item]);
		return fail(err, "%s: already listed", text);
	}
	if (!ret && fs)
		ret = note_item_line(doc, fs);
	if (ret)
		snprintf(err->msg, sizeof(err->msg), "out of memory");
	return ret;
}

static int add_rule(struct policy_doc *doc, const struct rule_spec *spec, struct parse_error *err,
		    struct file_state *fs)
{
	unsigned int i;

	for (i = 0; i < doc->nrules; i++) {
		if (strcmp(doc->rules[i].name, spec->name))
			continue;
		if (fs && fs->rule_lines[i])
			return fail(err, "rule %s: already defined at line %u", spec->name,
				    fs->rule_lines[i]);
		return fail(err, "rule %s: already defined", spec->name);
	}
	if (doc->nrules == SLUICE_MAX_RULES)
		return fail(err, "rule %s: more than %d rules", spec->name, SLUICE_MAX_RULES);
	if (fs)
		fs->rule_lines[doc->nrules] = fs->line;
	memcpy(&doc->rules[doc->nrules++], spec, sizeof(*spec));
	return 0;
}

/* `set events off`, or `set events [period DURATION] [sample N] [ceiling N]`. */
static int parse_set_events(struct policy_doc *doc, char **words, const unsigned int *cols,
			    unsigned int n, struct parse_error *err)
{
	struct policy_doc parsed = *doc;
	unsigned long long v;

	/* Each `set events` line is the whole setting: what it leaves out takes its default. */
	parsed.event_period_ns = SLUICE_DEFAULT_EVENT_PERIOD_NS;
	parsed.event_sample = SLUICE_DEFAULT_EVENT_SAMPLE;
	parsed.event_ceiling = SLUICE_DEFAULT_EVENT_CEILING;
	unsigned int i;
	char *end;

	if (n == 3 && !strcmp(words[2], "off")) {
		doc->event_ceiling = 0;
		doc->events_set = true;
		return 0;
	}
	if (n < 4) {
		err->column = cols[n - 1];
		return fail(err, "set events: expected off, or period DURATION, sample N and "
				 "ceiling N, got %s",
			    n > 2 ? Q(words[2]) : "the end of the line");
	}
	for (i = 2; i < n; i += 2) {
		err->column = cols[i];
		if (i + 1 >= n)
			return fail(err, "set events: %s needs a value", QB(words[i]));
		if (!strcmp(words[i], "period")) {
			if (parse_duration(words[i + 1], &parsed.event_period_ns, err)) {
				err->column = cols[i + 1];
				return -EINVAL;
			}
			continue;
		}
		if (strcmp(words[i], "sample") && strcmp(words[i], "ceiling"))
			return fail(err, "set events: expected period, sample or ceiling, got %s",
				    Q(words[i]));
		errno = 0;
		v = strtoull(words[i + 1], &end, 10);
		if (words[i + 1][0] < '1' || words[i + 1][0] > '9' || *end || errno ||
		    v > 1000000) {
			err->column = cols[i + 1];
			return fail(err, "%s: expected a whole number from 1 to 1000000, got %s",
				    words[i], Q(words[i + 1]));
		}
		if (words[i][0] == 's')
			parsed.event_sample = v;
		else
			parsed.event_ceiling = v;
	}
	parsed.events_set = true;
	*doc = parsed;
	return 0;
}

static int parse_policy_words(struct policy_doc *doc, char **words, unsigned int *cols,
			      unsigned int n, struct parse_error *err, struct file_state *fs)
{
	bool list = !strcmp(words[0], "allow") || !strcmp(words[0], "block");
	bool add = n >= 2 && !strcmp(words[1], "add");
	struct rule_spec spec;
	struct list_item item;
	int ret;

	if (add && list) {
		ret = parse_list_item(words[0][0] == 'a' ? LIST_ALLOW : LIST_BLOCK, words + 2,
				      cols + 2, n - 2, &item, err);
		if (!ret) {
			ret = add_file_item(doc, &item, err, fs);
			err->column = ret ? cols[2] : 0;
		}
	} else if (add && !strcmp(words[0], "rule")) {
		ret = parse_rule(words + 2, cols + 2, n - 2, &spec, err);
		if (!ret) {
			ret = add_rule(doc, &spec, err, fs);
			err->column = ret ? cols[2] : 0;
		}
	} else if (!strcmp(words[0], "set") && n >= 2 && !strcmp(words[1], "events")) {
		return parse_set_events(doc, words, cols, n, err);
	} else if (!strcmp(words[0], "set")) {
		unsigned int bad = n < 2 || strcmp(words[1], "malformed") ? 1 :
				   n < 3 || (strcmp(words[2], "pass") && strcmp(words[2], "drop")) ?
									    2 :
									    3;

		if (bad < n || n < 3) {
			/* At the end of the line, point at its last word. */
			err->column = cols[bad < n ? bad : n - 1];
			return fail(err,
				    "set: expected malformed pass|drop or events ..., got %s",
				    bad < n ? Q(words[bad]) : "the end of the line");
		}
		doc->malformed_drop = words[2][0] == 'd';
		return 0;
	} else {
		err->column = cols[0];
		return fail(
			err,
			"%s%s%s: only `allow add`, `block add`, `rule add` and `set` lines belong in a policy file",
			QB(words[0]), n > 1 && (list || !strcmp(words[0], "rule")) ? " " : "",
			n > 1 && (list || !strcmp(words[0], "rule")) ? QB(words[1]) : "");
	}
	/* An error with nothing to point at (`rule add` alone) points at `add`. */
	if (ret && !err->column)
		err->column = cols[1];
	return ret;
}

static int parse_policy_line(struct policy_doc *doc, char *line, struct parse_error *err,
			     struct file_state *fs)
{
	char *words[GRAMMAR_MAX_TOKENS];
	unsigned int cols[GRAMMAR_MAX_TOKENS];
	int n;

	err->column = 0;
	n = tokenize(line, words, cols, GRAMMAR_MAX_TOKENS, err);
	if (n <= 0)
		return n;
	return parse_policy_words(doc, words, cols, n, err, fs);
}

int policy_parse_line(struct policy_doc *doc, char *line, struct parse_error *err)
{
	return parse_policy_line(doc, line, err, NULL);
}

int policy_parse_file(const char *path, struct policy_doc *doc, struct parse_error *err)
{
	bool is_stdin = !strcmp(path, "-");
	struct policy_doc *before = malloc(sizeof(*before));
	struct file_state fs = { .first_item = doc->nitems };
	size_t cap = 0;
	char *line = NULL;
	ssize_t len;
	FILE *f;
	int ret = 0;

	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path);
	if (!before)
		return -ENOMEM;
	*before = *doc;
	f = is_stdin ? stdin : fopen(path, "re");
	if (!f) {
		ret = -errno;
		fail(err, "cannot open: %s", strerror(-ret));
		free(before);
		return ret;
	}
	while (!ret) {
		errno = 0;
		len = getline(&line, &cap, f);
		if (len < 0) {
			if (ferror(f)) {
				ret = errno ? -errno : -EIO;
				fail(err, "read error after line %u: %s", err->line,
				     strerror(-ret));
			}
			break;
		}
		fs.line = ++err->line;
		err->column = 0;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > GRAMMAR_LINE_MAX)
			ret = fail(err, "line of %zd bytes, longer than the %d allowed", len,
				   GRAMMAR_LINE_MAX);
		else if (strlen(line) != (size_t)len)
			ret = fail(err, "NUL byte in the line");
		else
			ret = parse_policy_line(doc, line, err, &fs);
	}
	if (ret) {
		/* Everything as it was; the item array may have moved, its old end stays. */
		before->items = doc->items;
		before->items_cap = doc->items_cap;
		*doc = *before;
	}
	free(before);
	free(line);
	free(fs.item_lines);
	index_free(&fs.index);
	if (!is_stdin)
		fclose(f);
	return ret;
}

void policy_write(FILE *out, const struct policy_doc *doc)
{
	char line[GRAMMAR_LINE_MAX];
	unsigned int kind, i;
	size_t j;

	if (doc->malformed_drop)
		fputs("set malformed drop\n", out);
	if (doc->events_set && !doc->event_ceiling) {
		fputs("set events off\n", out);
	} else if (doc->events_set) {
		format_duration(doc->event_period_ns, line, sizeof(line));
		fprintf(out, "set events period %s sample %u ceiling %u\n", line, doc->event_sample,
			doc->event_ceiling);
	}
	for (i = 0; i < doc->nrules; i++) {
		format_rule(&doc->rules[i], line, sizeof(line));
		fprintf(out, "%s\n", line);
	}
	for (kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		for (j = 0; j < doc->nitems; j++) {
			if (doc->items[j].kind != kind)
				continue;
			format_list_item(&doc->items[j], line, sizeof(line));
			fprintf(out, "%s\n", line);
		}
	}
}

void format_parse_error(const struct parse_error *err, char *buf, size_t len)
{
	struct sbuf b = sb_init(buf, len);

	if (err->file[0]) {
		sb_printf(&b, "%s:", err->file);
		if (err->line) {
			sb_printf(&b, "%u:", err->line);
			if (err->column)
				sb_printf(&b, "%u:", err->column);
		}
		sb_printf(&b, " ");
	}
	sb_printf(&b, "%s", err->msg);
}
