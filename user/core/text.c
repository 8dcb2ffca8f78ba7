// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What the parts of the grammar share: bounded output, quoting bad words, failing with a message. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/mman.h>
#include "text.h"

struct sbuf sb_init(char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	return (struct sbuf){ .buf = buf, .len = len };
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
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

/* S made safe to show: non-printable bytes as \xNN, long words cut, with or without quotes. */
const char *quote(struct quoted *q, const char *s, bool marks)
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

int vfail(struct parse_error *err, const char *fmt, va_list ap)
{
	if (err)
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return -EINVAL;
}

int fail(struct parse_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Reads the decimal digits at *s, moving *s past them: -EINVAL if none, -ERANGE beyond u64. */
int read_u64(const char **s, __u64 *v)
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
int mul_u64(__u64 a, __u64 b, __u64 *out)
{
	if (b && a > UINT64_MAX / b)
		return -ERANGE;
	*out = a * b;
	return 0;
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

void prefault(void *addr, size_t len)
{
	uintptr_t page = sysconf(_SC_PAGESIZE), start = ((uintptr_t)addr + page - 1) & ~(page - 1);
	uintptr_t end = ((uintptr_t)addr + len) & ~(page - 1);

	if (end > start)
		madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}
