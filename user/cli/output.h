/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* How the sluice command reports: one clear line on stderr, or JSON on stdout with -j. */
#ifndef SLUICE_OUTPUT_H
#define SLUICE_OUTPUT_H

#include <stdbool.h>
#include <jansson.h>
#include <linux/types.h>
#include "log.h"

extern enum log_level log_level; /* the most detailed level shown: -v, -vv */
extern bool log_json; /* errors as {"error": "..."} on stdout, as bpftool -j does */

/* Installs the handlers of the core's and libbpf's messages; libbpf debug only with -vv. */
void output_setup(void);

/*
 * The interval options (stats --watch, top --interval, exporter --collect): a bare
 * number is seconds, as before durations were taken; otherwise a duration of the
 * policy grammar. 0 and the NS between MIN_NS and MAX_NS are accepted; -EINVAL else.
 */
int parse_interval(const char *s, __u64 min_ns, __u64 max_ns, __u64 *ns);
/* The units that parse_interval takes, for the messages of its callers. */
#define INTERVAL_UNITS "d, h, m, s, ms, us or ns"

/*
 * Writes DOC (and a newline) on stdout and takes its reference. Its reals (rates,
 * intervals) are rounded to 3 decimals and printed in the fewest digits that read back
 * as the same doubles: 0.043, not 0.042999999999999997.
 */
void json_print_short(json_t *doc, bool pretty);
/* X rounded to 3 decimals. */
double round3(double x);

#endif /* SLUICE_OUTPUT_H */
