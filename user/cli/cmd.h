/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The verbs of the command line and what they share: dispatch, options, output. */
#ifndef SLUICE_CMD_H
#define SLUICE_CMD_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "document.h"
#include "pins.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
};

/* A verb: argv[0] is its own name, as for main(). Returns an exit code. */
struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help; /* "ARGS   what it does" */
	bool object; /* has verbs of its own, and its own help */
};

extern bool json_output;
extern bool json_pretty;
extern bool force; /* --force: go ahead even if the management path would be cut off */

/*
 * Runs the command whose name argv[0] is a unique prefix of; "help" lists them.
 * `help` after a verb asks the verb for its usage.
 */
int cmd_dispatch(const char *prefix, const struct cmd *cmds, int argc, char **argv);
void cmd_list_help(FILE *out, const char *prefix, const struct cmd *cmds);
bool cmd_is_help(const char *arg);

/* Prints a JSON document on stdout (compact, or indented with -p) and frees it. */
void json_print(json_t *doc);

/*
 * Opens the pinned maps for verb WHAT, printing one clear line if that fails. WRITE
 * takes the lock and first collects expired entries. Returns 0 or an exit code.
 */
int cmd_open_pins(const char *what, struct pins *p, bool write);

bool parse_count(const char *s, unsigned long long max, unsigned long long *out);

/* For getopt's '?': names the bad option in one line, then the usage on stderr. */
int cmd_bad_option(const char *verb, char **argv, void (*usage)(FILE *out));

/* A list's items as the JSON array of `list -j` and `dump -j`. */
/* Gives stdout a 64 KiB buffer, for verbs that print a million lines; before any output. */
void cmd_buffer_stdout(void);

/*
 * Prints the live entries of the list hash FD (-1: an empty list) as `KIND add` lines,
 * or with JSON as an array, one entry at a time. -errno.
 */
int list_items_stream(FILE *out, int fd, enum list_kind kind, __u64 now, bool json);

/* Maps an errno from a failed operation to the exit code: input errors 2, the rest 1. */
int exit_code_for(int err);

int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_confirm(int argc, char **argv);
int cmd_rule(int argc, char **argv);
int cmd_allow(int argc, char **argv);
int cmd_block(int argc, char **argv);
int cmd_ban(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_exporter(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_top(int argc, char **argv);

#endif /* SLUICE_CMD_H */
