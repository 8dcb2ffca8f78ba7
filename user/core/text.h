/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Internal to the grammar (values.c, grammar.c, compile.c, document.c) and the core's
 * builds (lists.c): not for front ends.
 */
#ifndef SLUICE_TEXT_H
#define SLUICE_TEXT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include "values.h"

#define NS_PER_SEC 1000000000ULL
#define QUOTE_MAX 48 /* bytes of a bad word shown in a message */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A bounded string builder: output is cut at the buffer's end, always NUL-terminated. */
struct sbuf {
	char *buf;
	size_t len;
	size_t off;
};

struct sbuf sb_init(char *buf, size_t len);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Room for QUOTE_MAX bytes escaped as \xNN, the quotes and "...". */
struct quoted {
	char s[QUOTE_MAX * 4 + 8];
};

/* S made safe to show: non-printable bytes as \xNN, long words cut, with or without quotes. */
const char *quote(struct quoted *q, const char *s, bool marks);

/* The word in double quotes, or bare (for words that are the subject of a message). */
#define Q(s) quote(&(struct quoted){ { 0 } }, (s), true)
#define QB(s) quote(&(struct quoted){ { 0 } }, (s), false)

/* Sets err->msg (when err is set) and returns -EINVAL. */
int vfail(struct parse_error *err, const char *fmt, va_list ap);
int fail(struct parse_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the decimal digits at *s, moving *s past them: -EINVAL if none, -ERANGE beyond u64. */
int read_u64(const char **s, __u64 *v);
/* Multiplies without wrapping: -ERANGE when a * b does not fit. */
int mul_u64(__u64 a, __u64 b, __u64 *out);

/*
 * Faults in the whole pages of LEN bytes at ADDR in one call, before an array of feed
 * scale is written there: a fault a page is a trip into the kernel each, dear in a
 * virtual machine (a fifth of the parse of a 1M-line feed here). Only an optimisation:
 * a kernel without MADV_POPULATE_WRITE leaves the pages to fault as they are touched.
 */
void prefault(void *addr, size_t len);

#endif /* SLUICE_TEXT_H */
