/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Reading address lists in the forms feeds publish them, gzip-compressed or not. */
#ifndef SLUICE_IMPORT_H
#define SLUICE_IMPORT_H

#include "document.h"

/*
 * Reads PATH ("-" for stdin), plain or gzip (detected by its magic bytes), one
 * address or prefix a line: `#` and `;` start comments (so the Spamhaus DROP form
 * `203.0.113.0/24 ; SBL123` and FireHOL netsets read as they are), blank lines are
 * skipped. Every prefix becomes an item of KIND with TTL_NS and COMMENT appended to
 * DOC. All or nothing: on the first bad line returns -EINVAL with err->file,
 * err->line, err->column and err->msg set, and DOC is as it was. -errno when the
 * file cannot be read.
 */
int import_list(const char *path, enum list_kind kind, __u64 ttl_ns, const char *comment,
		struct policy_doc *doc, struct parse_error *err);

#endif /* SLUICE_IMPORT_H */
