// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "log.h"

static log_handler_fn handler;

log_handler_fn log_set_handler(log_handler_fn fn)
{
	log_handler_fn old = handler;

	handler = fn;
	return old;
}

void log_print(enum log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!handler)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	buf[strcspn(buf, "\n")] = '\0';
	handler(level, buf);
}
