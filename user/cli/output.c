// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "output.h"
#include "values.h"

enum log_level log_level = LOG_WARN;
bool log_json;

static void print_message(enum log_level level, const char *msg)
{
	if (level > log_level)
		return;
	if (log_json && level == LOG_WARN) {
		json_t *obj = json_pack("{s:s}", "error", msg);

		json_dumpf(obj, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		fflush(stdout);
		json_decref(obj);
		return;
	}
	fprintf(stderr, "sluice: %s\n", msg);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if ((level == LIBBPF_DEBUG || level == LIBBPF_INFO) && log_level < LOG_DEBUG)
		return 0;
	if (level == LIBBPF_WARN && log_level < LOG_INFO)
		return 0; /* sluice reports the failure itself, with context */
	fputs("libbpf: ", stderr);
	return vfprintf(stderr, fmt, ap);
}

void output_setup(void)
{
	log_set_handler(print_message);
	libbpf_set_print(libbpf_print);
}

int parse_interval(const char *s, __u64 min_ns, __u64 max_ns, __u64 *ns)
{
	struct parse_error perr = {};
	unsigned long long sec;
	char *end;
	__u64 v;

	if (*s >= '0' && *s <= '9' && s[strspn(s, "0123456789")] == '\0') {
		errno = 0;
		sec = strtoull(s, &end, 10);
		/* Past max_ns in seconds is out of range too; checked so that * cannot wrap. */
		if (errno || sec > max_ns / 1000000000ULL + 1)
			return -EINVAL;
		v = sec * 1000000000ULL;
	} else if (parse_duration(s, &v, &perr)) {
		return -EINVAL;
	}
	if (v < min_ns || v > max_ns)
		return -EINVAL;
	*ns = v;
	return 0;
}

double round3(double x)
{
	/*
	 * Without libm, through a long long. From 1e15 on a double has no thousandths
	 * to round (and x * 1000 could overflow the long long), so it is left as it is.
	 */
	if (!(x > -1e15 && x < 1e15))
		return x;
	return (double)(long long)(x * 1000 + (x < 0 ? -0.5 : 0.5)) / 1000;
}

/* The fewest significant digits %g needs for X to read back as X (at most 17). */
static int real_digits(double x)
{
	char buf[40];

	for (int p = 1; p < 17; p++) {
		snprintf(buf, sizeof(buf), "%.*g", p, x);
		if (strtod(buf, NULL) == x)
			return p;
	}
	return 17;
}

/*
 * Rounds every real in DOC to 3 decimals and returns the most digits any of them then
 * needs: jansson prints every real of a document at one precision.
 */
static int doc_digits(json_t *doc)
{
	const char *key;
	json_t *v;
	size_t i;
	int d = 1, n;

	if (json_is_real(doc)) {
		json_real_set(doc, round3(json_real_value(doc)));
		return real_digits(json_real_value(doc));
	}
	if (json_is_object(doc)) {
		json_object_foreach(doc, key, v) {
			n = doc_digits(v);
			d = n > d ? n : d;
		}
	} else if (json_is_array(doc)) {
		json_array_foreach(doc, i, v) {
			n = doc_digits(v);
			d = n > d ? n : d;
		}
	}
	return d;
}

void json_print_short(json_t *doc, bool pretty)
{
	size_t flags = pretty ? JSON_INDENT(2) : JSON_COMPACT;

	/* jansson's default is 17 digits, which writes 0.043 as 0.042999999999999997. */
	json_dumpf(doc, stdout, flags | JSON_REAL_PRECISION(doc_digits(doc)));
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(doc);
}
