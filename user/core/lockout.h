/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Anti-lockout: refusing a policy that would drop the operator's own management path. */
#ifndef SLUICE_LOCKOUT_H
#define SLUICE_LOCKOUT_H

#include <stdbool.h>
#include "document.h"

#define LOCKOUT_MAX_PATHS 8

/* A source the operator manages the host from, and the TCP port it reaches. */
struct mgmt_path {
	struct prefix addr; /* a single address */
	struct prefix server; /* the address it connects to; plen 0 when unknown */
	__u16 port;
	char origin[48]; /* "your SSH client", "SLUICE_MANAGEMENT" */
};

/*
 * The management paths of this invocation: the SSH client of the session
 * ($SSH_CONNECTION, which also names the local port) and the addresses listed
 * in $SLUICE_MANAGEMENT (comma separated, port 22). Returns how many, or -EINVAL
 * with a message printed for a malformed $SLUICE_MANAGEMENT.
 */
int mgmt_paths_detect(struct mgmt_path *paths, unsigned int max);

/*
 * Would DOC drop a new TCP connection from PATH? Allowlisted sources never are;
 * a blocklist entry or an ACL rule that drops (no limits) does. Rules with limits
 * admit at least their burst and are not counted as lockouts. Returns true and
 * describes the cause in WHY.
 */
bool policy_locks_out(const struct policy_doc *doc, const struct mgmt_path *path, char *why,
		      size_t len);

/*
 * Checks DOC against every management path and prints one line per lockout.
 * Returns 0 when none is cut off (or FORCE), -ECANCELED otherwise.
 */
int lockout_check(const char *verb, const struct policy_doc *doc, bool force);

struct pins;

/*
 * The same for a change to the live policy: the live lists (looked up in their
 * tries), plus EXTRA items about to be added, and the rules of RULES (the live
 * rules, or the edited ones).
 */
int lockout_check_live(const char *verb, const struct pins *p, const struct list_item *extra,
		       size_t nextra, const struct policy_doc *rules, bool force);

#endif /* SLUICE_LOCKOUT_H */
