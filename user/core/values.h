/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The values of the grammar and the errors its parsers report. */
#ifndef SLUICE_VALUES_H
#define SLUICE_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include "sluice.h"

#define GRAMMAR_ERR_LEN 256

/* Where parsing failed and why; line and column are 1-based, 0 when unknown. */
struct parse_error {
	char file[256]; /* "" for the command line, "-" for stdin */
	unsigned int line;
	unsigned int column;
	char msg[GRAMMAR_ERR_LEN]; /* "rate: expected NUMBER/s, ... got \"20\"" */
};

/* A prefix in the 128-bit form of sluice.h: IPv4 mapped to ::ffff:0:0/96. */
struct prefix {
	__u8 family; /* SLUICE_FAMILY_IPV4 or SLUICE_FAMILY_IPV6 */
	__u8 plen; /* in the address's own family: 0..32 or 0..128 */
	__u32 addr[4]; /* network order, host bits zero */
};

enum rate_kind {
	RATE_PACKETS = 0, /* N/s, N/m, N/h, N/d */
	RATE_BYTES, /* N B/s, KB/s, MB/s, GB/s (powers of 1000), KiB/s... (powers of 1024) */
	RATE_BITS, /* N bit/s, kbit/s, Mbit/s, Gbit/s (powers of 1000); stored as bytes/s */
};

struct rate {
	enum rate_kind kind;
	__u64 amount; /* packets per period; bytes per second for RATE_BYTES and RATE_BITS */
	__u32 period_s; /* 1, 60, 3600 or 86400 for packets; 1 for bytes */
	__u64 display; /* the number as written, in its unit, for canonical printing */
	char unit[8]; /* "", "KB", "MiB", "Mbit", ...: the unit as written */
};

/* The prefix length of P in the 128-bit form (IPv4 plus 96). */
unsigned int prefix_plen128(const struct prefix *p);

/* Network-order mask words of a 128-bit-form prefix length. */
void plen128_mask(unsigned int bits, __u32 mask[4]);

/* Is ADDR (128-bit form) an IPv4 address, ::ffff:a.b.c.d? */
bool addr_is_v4_mapped(const __u32 addr[4]);

/* Is the 128-bit-form prefix ADDR/PLEN128 an IPv4 prefix (of /0 to /32)? */
bool prefix128_is_v4(const __u32 addr[4], unsigned int plen128);

/* Value parsers: 0 on success, -EINVAL with a message in err->msg (line/column untouched). */
int parse_prefix(const char *s, struct prefix *out, struct parse_error *err);
int parse_rate(const char *s, struct rate *out, struct parse_error *err);
int parse_duration(const char *s, __u64 *ns, struct parse_error *err); /* 30s 10m 1h 1d 1h30m */
int parse_burst(const char *s, enum rate_kind kind, __u64 *out, struct parse_error *err);
int parse_port_range(const char *s, __u16 *lo, __u16 *hi, struct parse_error *err);
/* A list item's comment: at most 39 bytes of printable ASCII; OUT gets it NUL-padded. */
int parse_comment(const char *s, char out[SLUICE_COMMENT_LEN], struct parse_error *err);

/* Canonical printing: what the parsers above read back to the same value. */
void format_prefix(const struct prefix *p, char *buf, size_t len); /* bare address for /32, /128 */
void format_rate(const struct rate *r, char *buf, size_t len);
void format_duration(__u64 ns, char *buf, size_t len); /* largest exact units: 1h30m, 45s */
void format_burst(__u64 burst, enum rate_kind kind, char *buf, size_t len);

/* "FILE:LINE:COLUMN: MSG", or just MSG when there is no file. */
void format_parse_error(const struct parse_error *err, char *buf, size_t len);

#endif /* SLUICE_VALUES_H */
