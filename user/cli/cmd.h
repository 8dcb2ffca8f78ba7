/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The verbs of the command line and what they share: dispatch, options, output. */
#ifndef SLUICE_CMD_H
#define SLUICE_CMD_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "document.h"
#include "lists.h"
#include "pins.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1,
	EXIT_USAGE = 2,
};

/* An option of a verb: --NAME, and -LETTER too when LETTER is set. */
struct cmd_opt {
	const char *name;
	char letter;
	bool arg; /* takes a value */
};

#define CMD_MAX_OPTS 8

/* Which pins the runner opens for a verb before its body runs. */
enum cmd_pins {
	CMD_PINS_NONE, /* none: the verb opens what it needs itself, or nothing */
	CMD_PINS_READ,
	CMD_PINS_WRITE, /* under the lock, expired entries collected first */
};

/* What the runner hands a verb's body and its check. */
struct verb {
	char name[32]; /* "block add": what messages start with */
	int argc; /* the positional arguments, options taken out */
	char **argv;
	const char *opt[CMD_MAX_OPTS]; /* by index in the row's opts: its value ("" for a flag),
					  or NULL when not given; the last one given wins */
	int data; /* the object's data (which list) */
	struct pins p; /* open when the row asks for pins */
};

/*
 * A row of a verb table. The runner (cmd_dispatch) answers help, parses the options,
 * reports bad ones and wrong argument counts with the usage, calls CHECK, opens the
 * pins as PINS says, then calls RUN. Returns are exit codes.
 */
struct cmd {
	const char *name;
	const char *args; /* synopsis of the arguments and options */
	const char *summary; /* one line, in the list of verbs */
	const char *help; /* what --help prints under the usage; NULL: the summary */
	int min_args, max_args; /* positional arguments; max -1: any number */
	bool words; /* options end at the first argument: the arguments are policy words,
		       which may begin with '-' (a comment) */
	enum cmd_pins pins;
	const struct cmd_opt *opts; /* ends with a NULL name; at most CMD_MAX_OPTS */
	int (*check)(struct verb *v); /* validates input before any pin is opened; optional */
	int (*run)(struct verb *v);
	/* An object has verbs of its own instead, which get DATA. */
	const struct cmd *const *verbs;
	int data;
	/* A verb that still parses its own command line (argv[0] its name), instead of RUN. */
	int (*main)(int argc, char **argv);
};

extern bool json_output;
extern bool json_pretty;
extern bool force; /* --force: go ahead even if the management path would be cut off */

/*
 * Runs the row of CMDS (NULL-terminated) whose name argv[0] is a unique prefix of, under
 * PREFIX ("sluice", "sluice block"); "help" lists them.
 */
int cmd_dispatch(const char *prefix, const struct cmd *const *cmds, int argc, char **argv,
		 int data);
void cmd_list_help(FILE *out, const char *prefix, const struct cmd *const *cmds);
bool cmd_is_help(const char *arg);

/*
 * A usage error: the message FMT (may be NULL) and the usage line on stderr, or under -j
 * one JSON error holding both on stdout. Returns 2.
 */
int cmd_usage_error(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A warning that is not an error: one line on stderr, with -j too (stdout keeps its one
 * document, and pr_warn there would print it as a JSON error).
 */
void cmd_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ONE when N is 1, else MANY: "1 rule", "2 rules". */
const char *plural(long long n, const char *one, const char *many);

/* Prints a JSON document on stdout (compact, or indented with -p) and frees it. */
void json_print(json_t *doc);

/*
 * Opens the pinned maps for verb WHAT, printing one clear line if that fails. WRITE
 * takes the lock and first collects expired entries. Returns 0 or an exit code.
 */
int cmd_open_pins(const char *what, struct pins *p, bool write);

bool parse_count(const char *s, unsigned long long max, unsigned long long *out);

/*
 * For getopt's '?' in a verb that parses its own options: names the bad option in one
 * line, then the usage on stderr (with -j, the JSON error alone). 2.
 */
int cmd_bad_option(const char *verb, char **argv, void (*usage)(FILE *out));

/* Gives stdout a 64 KiB buffer, for verbs that print a million lines; before any output. */
void cmd_buffer_stdout(void);

/*
 * Prints the live entries of the list hash FD (-1: an empty list) as `KIND add` lines,
 * a line per set that lists an entry (names from SETS), or with JSON as an array, one
 * entry at a time; with ONLY_BIT >= 0 only the entries of that set. -errno.
 */
int list_items_stream(FILE *out, int fd, enum list_kind kind, __u64 now, bool json,
		      const struct set_table *sets, int only_bit);

/* Maps an errno from a failed operation to the exit code: input errors 2, the rest 1. */
int exit_code_for(int err);

/* The rows of the top-level table (main.c), each beside its verb. */
extern const struct cmd cmd_attach, cmd_detach, cmd_status, cmd_restore, cmd_confirm, cmd_dump,
	cmd_rule, cmd_set, cmd_allow, cmd_block, cmd_sets, cmd_ban, cmd_stats, cmd_limits,
	cmd_events, cmd_top, cmd_fleet;

int cmd_exporter(int argc, char **argv);
int cmd_agent(int argc, char **argv);

#endif /* SLUICE_CMD_H */
