/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Moving policies between their text form and the pinned maps: restore, dump, list edits. */
#ifndef SLUICE_POLICY_H
#define SLUICE_POLICY_H

#include "document.h"
#include "pins.h"

/*
 * Compiles DOC into OUT. Rules keep the counter slot of the rule of the same name in
 * OLD (may be NULL); new names take free slots, reported in *fresh_slots (a bit a
 * slot) so their counters can be cleared. -EINVAL with err->msg on a rule that does
 * not compile or on too many distinct ban prefix lengths.
 */
int policy_build(const struct policy_doc *doc, const struct sluice_policy *old,
		 struct sluice_policy *out, __u64 *fresh_slots, struct parse_error *err);

/* The rule and setting lines of DOC (no list items), as stored in sluice_text. */
int policy_rules_text(const struct policy_doc *doc, char *buf, size_t len);

/* 64-bit FNV-1a, for digests and stable limit ids. */
__u64 fnv1a64(const void *data, size_t len, __u64 seed);
#define FNV1A64_SEED 0xcbf29ce484222325ULL

/*
 * Replaces the live policy with DOC in one switch: fills the inactive policy slot
 * (and, with REPLACE_LISTS, the inactive list generation from DOC's items), then
 * flips sluice_state.active. Without REPLACE_LISTS the live lists stay as they are.
 * Limiter state of unchanged limits and all bans survive. Needs the write lock. On
 * error the live policy is untouched.
 */
int policy_apply(struct pins *p, const struct policy_doc *doc, bool replace_lists,
		 struct parse_error *err);

/* Reads the live policy (rules, settings and unexpired list items with their remaining TTL). */
int policy_read(const struct pins *p, struct policy_doc *doc);

/* Reads only the live rules and settings (no list items). */
int policy_read_rules(const struct pins *p, struct policy_doc *doc);

/*
 * Adds one item to a live list (to its set, registered if new), or updates its TTL and
 * comment if it is listed; an entry other sets list too keeps the later expiry.
 */
int lists_add(struct pins *p, const struct list_item *item);

/*
 * Adds the ITEMS (all of list KIND) in one switch: a new hash gets the live entries and
 * the items, then policy and lists flip together. All or nothing, even if the
 * controller is killed half-way; the cost is a copy of the list. With SET, the items
 * replace the set's content: live entries leave it, the items join it, entries of no
 * other set (and none added by hand) go. DISTINCT, unless NULL, gets how many
 * prefixes the items list once each.
 */
int lists_import(struct pins *p, const struct list_item *items, size_t n, enum list_kind kind,
		 const char *set, size_t *distinct);

/*
 * Deletes one prefix from a live list: -ENOENT when it is not listed (in SET, if
 * given). With SET, an entry other sets list too only leaves SET.
 */
int lists_del(struct pins *p, enum list_kind kind, const struct prefix *pfx, const char *set);

/*
 * Empties a live list, or with SET takes the set's entries out of it (those of other
 * sets stay) and forgets its name; returns the number of entries removed from the
 * list or set, or -errno (-ENOENT: no such set).
 */
long lists_flush(struct pins *p, enum list_kind kind, const char *set);

/* Number of live (unexpired) entries in a list of the active generation. */
long lists_count(const struct pins *p, enum list_kind kind);

/* Deletes expired list entries and bans; returns how many were removed, or -errno. */
long collect_expired(struct pins *p);

/*
 * Opens the live lists' hashes (FDS by enum list_kind; -1 for a list without one; the
 * caller closes them) and, unless RULES is NULL, reads the rules and settings of the
 * same generation into RULES. -errno.
 */
int lists_open_live(const struct pins *p, struct policy_doc *rules, int fds[2]);

/* Makes ACTIVE the live word (with new lists, EXPIRY their earliest expiry). -errno. */
int lists_state_write(const struct pins *p, __u32 active, const __u64 *expiry);

/* qsort order of list items: by list, then address, then prefix length. */
int list_items_compare(const void *a, const void *b);

/* Converts between the grammar's prefix and the list key. */
void prefix_to_key(const struct prefix *pfx, struct sluice_lpm_key *key);
void key_to_prefix(const struct sluice_lpm_key *key, struct prefix *pfx);

#endif /* SLUICE_POLICY_H */
