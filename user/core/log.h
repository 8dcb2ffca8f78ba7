/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* One clear line per message, prefixed with the program name; JSON when -j asks for it. */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_WARN = 0,
	LOG_INFO,
	LOG_DEBUG,
};

extern enum log_level log_level;
extern bool log_json; /* errors as {"error": "..."} on stdout, as bpftool -j does */

void log_print(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(...) log_print(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_print(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_print(LOG_DEBUG, __VA_ARGS__)

/* Routes libbpf's own messages through log_print; its debug output only at LOG_DEBUG. */
void log_setup_libbpf(void);

#endif /* SLUICE_LOG_H */
