/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Minimal TAP output for the BPF and tool tests; assertions return bool so a test can stop early. */
#ifndef SLUICE_TAP_H
#define SLUICE_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

static int tap_count;
static int tap_failures;

static inline void tap_result(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tap_result(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		tap_failures++;
}

static inline void tap_skip(const char *name, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_count, name, why);
	fflush(stdout);
}

static inline void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Prints a diagnostic and returns false when the values differ. */
#define TAP_EXPECT_EQ(what, got, want)                                                             \
	({                                                                                         \
		unsigned long long _g = (got), _w = (want);                                        \
		if (_g != _w)                                                                      \
			tap_diag("%s: got %llu, want %llu", (what), _g, _w);                       \
		_g == _w;                                                                          \
	})

static inline int tap_exit(void)
{
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}

#endif /* SLUICE_TAP_H */
