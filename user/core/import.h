/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading address lists in the forms feeds publish them, gzip-compressed or not. */
#ifndef SLUICE_IMPORT_H
#define SLUICE_IMPORT_H

#include "document.h"

/*
 * Reads PATH ("-" for stdin), plain or gzip (detected by its magic bytes). The first
 * line that is neither blank nor a comment (`#` or `;` first) sets the format:
 * - `{`: Spamhaus DROP JSON, an object a line: {"cidr":PREFIX,"sblid":ID,...}, each
 *   feed closed by {"type":"metadata",...}. A metadata line's "records" must equal
 *   the records read since the one before, and the file must end with one: a feed
 *   cut short is refused.
 * - `create ` or `add `: `ipset save` output. Sets must be hash:net or hash:ip;
 *   `add SET ENTRY` gives a prefix, and its comment option the record's comment;
 *   timeout, counters and skb* options are ignored; nomatch and unknown options fail.
 * - anything else: one address or prefix a line, `#` and `;` starting comments
 *   (plain lists, FireHOL netsets, Spamhaus DROP text `203.0.113.0/24 ; SBL123`).
 * A line in another format than the first is an error. Every prefix becomes an item
 * of KIND with TTL_NS and COMMENT appended to DOC. When COMMENT is NULL or "", each
 * item takes its record's comment instead: the SBL id of DROP text and JSON, the
 * comment of an ipset entry, cut to 39 bytes (refused if not printable ASCII).
 * All or nothing: on the first bad line returns -EINVAL with err->file, err->line,
 * err->column and err->msg set (err->line 0 for the file as a whole), and DOC is as
 * it was. -errno when the file cannot be read.
 */
/*
 * When set (import --mask), a prefix with host bits set (10.1.2.3/8) is taken with them
 * cleared (10.0.0.0/8), as ipset does; by default it is an error, since a feed that
 * writes one may mean another prefix.
 */
extern bool import_mask_host_bits;

int import_list(const char *path, enum list_kind kind, __u64 ttl_ns, const char *comment,
		struct policy_doc *doc, struct parse_error *err);

#endif /* SLUICE_IMPORT_H */
