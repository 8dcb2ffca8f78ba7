/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The core reports through a handler its front end installs, as libbpf does with
 * libbpf_set_print(): the CLI prints one line (or JSON), a daemon may log. Without a
 * handler the core says nothing.
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

enum log_level {
	LOG_WARN = 0,
	LOG_INFO,
	LOG_DEBUG,
};

/* MSG is one line without a trailing newline or the program's name. */
typedef void (*log_handler_fn)(enum log_level level, const char *msg);

/* Installs FN (NULL: silence); returns the one it replaces. */
log_handler_fn log_set_handler(log_handler_fn fn);

void log_print(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(...) log_print(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log_print(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log_print(LOG_DEBUG, __VA_ARGS__)

#endif /* SLUICE_LOG_H */
