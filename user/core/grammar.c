// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The words of a command: tokenizing, rules and list items, parsed and printed back. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include "compile.h"
#include "grammar.h"
#include "text.h"

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
	SLOT_COMMENT,
	SLOT_COUNT,
};

static const char *const slot_names[SLOT_COUNT] = {
	[SLOT_FAMILY] = "family (ip or ip6)",
	[SLOT_PROTO] = "protocol (tcp, udp or icmp)",
	[SLOT_DPORT] = "dport",
	[SLOT_SYN] = "syn",
	[SLOT_DST] = "dst",
	[SLOT_ACTION] = "action",
	[SLOT_COMMENT] = "comment",
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

bool valid_name(const char *s)
{
	size_t len = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-");

	/* A leading '-' would read as an option on the command line (`rule del -x`). */
	return len && !s[len] && len < SLUICE_NAME_LEN && s[0] != '-';
}

static __u64 default_burst(const struct rate *r)
{
	__u64 b = r->amount;

	if (r->kind == RATE_PACKETS && r->period_s)
		b = r->amount / r->period_s + (r->amount % r->period_s != 0);
	return b ? b : 1;
}
/* The burst a limit runs with: as written, or one second of its rate. */
__u64 limit_burst(const struct limit_spec *ls)
{
	return ls->burst_given ? ls->burst : default_burst(&ls->rate);
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

/* `limit KEY... rate RATE [burst BURST] [fleet]`, the word `limit` at index AT. */
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
	/* Only the fleet agent reads it (user/fleet/agent.c): compiled, the limit is whole. */
	if (ws->i < ws->n && !strcmp(ws->w[ws->i], "fleet")) {
		ls->fleet = true;
		ws->i++;
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
		return wfail(&ws, 0,
			     "rule: the name \"none\" is reserved for packets no rule decided");
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
				ret = wat(
					&ws, i + 1,
					parse_port_range(v, &spec->dport_lo, &spec->dport_hi, err));
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
		} else if (!strcmp(w, "comment")) {
			ret = slot_value(&ws, &m, SLOT_COMMENT, "TEXT", &v);
			if (!ret)
				ret = wat(&ws, i + 1, parse_comment(v, spec->comment, err));
		} else {
			ret = wfail(
				&ws, i,
				"rule: expected ip, ip6, tcp, udp, icmp, dport, syn, dst, limit, "
				"action or comment, got %s",
				Q(w));
		}
	}
	return ret ?: check_rule(&ws, spec, &m);
}

/* ` comment "TEXT"`, with " and \\ escaped so the line reads back the same. */
static void sb_comment(struct sbuf *b, const char comment[SLUICE_COMMENT_LEN])
{
	char text[2 * SLUICE_COMMENT_LEN + 1];
	size_t i, o = 0;

	if (!comment[0])
		return;
	for (i = 0; i < SLUICE_COMMENT_LEN && comment[i]; i++) {
		if (comment[i] == '"' || comment[i] == '\\')
			text[o++] = '\\';
		text[o++] = comment[i];
	}
	text[o] = '\0';
	sb_printf(b, " comment \"%s\"", text);
}

const char *action_name(enum sluice_action action)
{
	return action < ARRAY_SIZE(action_names) ? action_names[action] : "drop";
}

void format_limit(const struct limit_spec *ls, char *buf, size_t len)
{
	struct sbuf b = sb_init(buf, len);
	char rate[64], burst[32];

	if (ls->key == SLUICE_KEY_GLOBAL)
		sb_printf(&b, "global");
	else
		sb_printf(&b, "src/%u src6/%u%s", ls->prefix4, ls->prefix6,
			  ls->dport ? " dport" : "");
	format_rate(&ls->rate, rate, sizeof(rate));
	format_burst(limit_burst(ls), ls->rate.kind, burst, sizeof(burst));
	sb_printf(&b, " rate %s burst %s%s", rate, burst, ls->fleet ? " fleet" : "");
}

void format_rule(const struct rule_spec *spec, char *buf, size_t len)
{
	struct sbuf b = sb_init(buf, len);
	char text[128];
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
		format_limit(&spec->limits[k], text, sizeof(text));
		sb_printf(&b, " limit %s", text);
	}
	sb_printf(&b, " action %s", action_name(spec->action));
	if (spec->action == SLUICE_ACTION_BAN) {
		format_duration(spec->ban_ns, text, sizeof(text));
		sb_printf(&b, " %s", text);
	}
	sb_comment(&b, spec->comment);
}

/* ---- guards ---- */

int parse_guard(char **words, const unsigned int *columns, unsigned int n, struct guard_spec *spec,
		struct parse_error *err)
{
	struct words ws = { .w = words, .columns = columns, .n = n, .i = 0, .err = err };
	__u16 hi;
	const char *v;
	int ret;

	memset(spec, 0, sizeof(*spec));
	if (!n || strcmp(words[0], "tcp"))
		return wfail(&ws, 0, "guard: expected tcp, got %s", GOT(&ws, 0));
	if (n < 2 || strcmp(words[1], "dport"))
		return wfail(&ws, n < 2 ? 0 : 1, "guard tcp: expected dport PORT, got %s",
			     GOT(&ws, 1));
	ws.i = 2;
	ret = next_value(&ws, "PORT", &v);
	if (ret)
		return ret;
	ret = wat(&ws, 2, parse_port_range(v, &spec->dport, &hi, err));
	if (ret)
		return ret;
	if (hi != spec->dport)
		return wfail(&ws, 2, "guard: one port per guard, got %s", Q(v));
	if (ws.i < n && !strcmp(words[ws.i], "dst")) {
		ws.i++;
		ret = next_value(&ws, "PREFIX", &v);
		if (!ret)
			ret = wat(&ws, ws.i - 1, parse_prefix(v, &spec->dst, err));
		if (ret)
			return ret;
		spec->has_dst = true;
	}
	if (ws.i < n && !strcmp(words[ws.i], "always")) {
		spec->always = true;
		ws.i++;
	} else if (ws.i < n && !strcmp(words[ws.i], "above")) {
		ws.i++;
		ret = next_value(&ws, "RATE like 20000/s", &v);
		if (!ret)
			ret = wat(&ws, ws.i - 1, parse_rate(v, &spec->above, err));
		if (ret)
			return ret;
		if (spec->above.kind != RATE_PACKETS || !spec->above.amount)
			return wfail(&ws, ws.i - 1,
				     "above: expected SYNs per time like 20000/s, got %s", Q(v));
	} else {
		return wfail(&ws, ws.i < n ? ws.i : n - 1,
			     "guard: expected %salways or above RATE, got %s",
			     spec->has_dst ? "" : "dst PREFIX, ", GOT(&ws, ws.i));
	}
	if (ws.i < n)
		return wfail(&ws, ws.i, "guard: nothing may follow %s, got %s",
			     spec->always ? "always" : "above RATE", Q(words[ws.i]));
	return 0;
}

bool guard_same_place(const struct guard_spec *a, const struct guard_spec *b)
{
	return a->dport == b->dport && a->has_dst == b->has_dst &&
	       (!a->has_dst || (a->dst.family == b->dst.family && a->dst.plen == b->dst.plen &&
				!memcmp(a->dst.addr, b->dst.addr, sizeof(a->dst.addr))));
}

void format_guard(const struct guard_spec *spec, char *buf, size_t len)
{
	struct sbuf b = sb_init(buf, len);
	char text[64];

	sb_printf(&b, "guard tcp dport %u", spec->dport);
	if (spec->has_dst) {
		format_prefix(&spec->dst, text, sizeof(text));
		sb_printf(&b, " dst %s", text);
	}
	if (spec->always) {
		sb_printf(&b, " always");
	} else {
		format_rate(&spec->above, text, sizeof(text));
		sb_printf(&b, " above %s", text);
	}
}

/* ---- list items ---- */

int parse_list_item(enum list_kind kind, char **words, const unsigned int *columns, unsigned int n,
		    struct list_item *item, struct parse_error *err)
{
	struct words ws = { .w = words, .columns = columns, .n = n, .i = 1, .err = err };
	bool has_ttl = false, has_comment = false, has_set = false;
	const char *v;
	int ret;

	memset(item, 0, sizeof(*item));
	item->kind = kind;
	if (!n)
		return wfail(
			&ws, 0,
			"expected PREFIX [ttl DURATION] [comment TEXT] [set NAME], got the end of the line");
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
		} else if (!strcmp(w, "set") && !has_set) {
			has_set = true;
			ret = next_value(&ws, "a set NAME", &v);
			if (!ret && !valid_name(v))
				ret = wfail(&ws, i + 1,
					    "set: expected a NAME of letters, digits, _ . or - (at "
					    "most 31), got %s",
					    Q(v));
			if (!ret)
				item->set = v;
		} else if (!strcmp(w, "ttl") || !strcmp(w, "comment") || !strcmp(w, "set")) {
			ret = wfail(&ws, i, "%s: only one %s per item", w, w);
		} else {
			ret = wfail(&ws, i,
				    "expected ttl DURATION, comment TEXT or set NAME after the "
				    "prefix, got %s",
				    Q(w));
		}
	}
	return ret;
}

void format_list_item(const struct list_item *item, char *buf, size_t len)
{
	struct sbuf b = sb_init(buf, len);
	char text[64];

	format_prefix(&item->prefix, text, sizeof(text));
	sb_printf(&b, "%s add %s", item->kind == LIST_ALLOW ? "allow" : "block", text);
	if (item->ttl_ns) {
		format_duration(item->ttl_ns, text, sizeof(text));
		sb_printf(&b, " ttl %s", text);
	}
	sb_comment(&b, item->comment);
	if (item->set && item->set[0])
		sb_printf(&b, " set %.*s", SLUICE_NAME_LEN - 1, item->set);
}
