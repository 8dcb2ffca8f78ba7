// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* pcapng blocks for sampled events; the layout is the pcapng draft's (IETF opsawg). */
#include <stdbool.h>
#include <string.h>
#include "pcap.h"

#define BLOCK_SHB 0x0a0d0d0aU
#define BLOCK_IDB 0x00000001U
#define BLOCK_EPB 0x00000006U
#define BYTE_ORDER_MAGIC 0x1a2b3c4dU
#define LINKTYPE_ETHERNET 1
#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define OPT_SHB_USERAPPL 4
#define USERAPPL "sluice"

/* Block and option bodies are padded to 4 bytes. */
static size_t pad4(size_t n)
{
	return (n + 3) & ~(size_t)3;
}

static __u8 *le16(__u8 *at, __u16 v)
{
	at[0] = v;
	at[1] = v >> 8;
	return at + 2;
}

static __u8 *le32(__u8 *at, __u32 v)
{
	at[0] = v;
	at[1] = v >> 8;
	at[2] = v >> 16;
	at[3] = v >> 24;
	return at + 4;
}

/* An option's code, length and value, zero-padded. */
static __u8 *option(__u8 *at, __u16 code, const void *val, size_t len)
{
	at = le16(at, code);
	at = le16(at, len);
	memcpy(at, val, len);
	memset(at + len, 0, pad4(len) - len);
	return at + pad4(len);
}

/* Ends block START at AT: the end of options and the trailing copy of its length. */
static size_t block_end(__u8 *start, __u8 *at, bool has_options)
{
	if (has_options)
		at = le32(at, OPT_ENDOFOPT); /* code 0, length 0 */
	le32(start + 4, at + 4 - start);
	le32(at, at + 4 - start);
	return at + 4 - start;
}

size_t pcapng_head(__u8 buf[PCAPNG_HEAD_LEN])
{
	__u8 *at = buf, *idb;
	size_t n;

	at = le32(at, BLOCK_SHB);
	at += 4; /* length, by block_end */
	at = le32(at, BYTE_ORDER_MAGIC);
	at = le16(at, 1); /* version 1.0 */
	at = le16(at, 0);
	/* Section length unknown (-1): the file grows while a reader may already read it. */
	at = le32(at, 0xffffffffU);
	at = le32(at, 0xffffffffU);
	at = option(at, OPT_SHB_USERAPPL, USERAPPL, strlen(USERAPPL));
	n = block_end(buf, at, true);

	idb = at = buf + n;
	at = le32(at, BLOCK_IDB);
	at += 4;
	at = le16(at, LINKTYPE_ETHERNET);
	at = le16(at, 0);
	at = le32(at, SLUICE_EVENT_CAP);
	return n + block_end(idb, at, false);
}

size_t pcapng_event(__u8 *buf, const struct sluice_event *e, __s64 mono_to_real_ns,
		    const char *comment)
{
	__u64 us = (__u64)((__s64)e->time_ns + mono_to_real_ns) / 1000;
	/* From the ring, so not trusted. */
	__u32 cap = e->cap_len < SLUICE_EVENT_CAP ? e->cap_len : SLUICE_EVENT_CAP;
	size_t clen = comment ? strnlen(comment, PCAPNG_COMMENT_MAX) : 0;
	__u8 *at = buf;

	at = le32(at, BLOCK_EPB);
	at += 4;
	at = le32(at, 0); /* interface 0, the only one */
	at = le32(at, us >> 32);
	at = le32(at, us);
	at = le32(at, cap);
	at = le32(at, e->len > cap ? e->len : cap);
	memcpy(at, e->head, cap);
	memset(at + cap, 0, pad4(cap) - cap);
	at += pad4(cap);
	if (clen)
		at = option(at, OPT_COMMENT, comment, clen);
	return block_end(buf, at, clen);
}
