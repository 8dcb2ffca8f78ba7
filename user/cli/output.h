/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* How the sluice command reports: one clear line on stderr, or JSON on stdout with -j. */
#ifndef SLUICE_OUTPUT_H
#define SLUICE_OUTPUT_H

#include <stdbool.h>
#include "log.h"

extern enum log_level log_level; /* the most detailed level shown: -v, -vv */
extern bool log_json; /* errors as {"error": "..."} on stdout, as bpftool -j does */

/* Installs the handlers of the core's and libbpf's messages; libbpf debug only with -vv. */
void output_setup(void);

#endif /* SLUICE_OUTPUT_H */
