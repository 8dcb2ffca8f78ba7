// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "output.h"

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
