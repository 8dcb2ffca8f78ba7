/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Sampled events as pcapng blocks, for `sluice events -w`: tcpdump -r and Wireshark read them. */
#ifndef SLUICE_PCAP_H
#define SLUICE_PCAP_H

#include <stddef.h>
#include "sluice.h"

/*
 * pcapng rather than classic pcap: an Enhanced Packet Block carries a comment, and the
 * comment keeps what the event says of the packet (verdict, reason, rule, sampling)
 * beside its bytes, in one file; Wireshark shows it, tcpdump reads past it. Blocks are
 * little-endian, whatever the host (readers take either; a fixed order makes the bytes
 * testable). Timestamps are in microseconds, the format's default: the events' coarse
 * clock has no finer digits to keep.
 */

/* Bytes of the Section Header and Interface Description blocks that open a file. */
#define PCAPNG_HEAD_LEN 64

/*
 * The blocks that open a file, one section with one Ethernet interface whose snapshot
 * length is SLUICE_EVENT_CAP, into BUF (PCAPNG_HEAD_LEN bytes). Returns their length.
 */
size_t pcapng_head(__u8 buf[PCAPNG_HEAD_LEN]);

/* The longest comment kept: a longer one is cut there. */
#define PCAPNG_COMMENT_MAX 256

/* Room for any Enhanced Packet Block of pcapng_event. */
#define PCAPNG_EVENT_MAX (28 + SLUICE_EVENT_CAP + 4 + PCAPNG_COMMENT_MAX + 4 + 4)

/*
 * Event E as an Enhanced Packet Block into BUF (PCAPNG_EVENT_MAX bytes of room): its
 * captured head, the frame's length as the original one, stamped with its time plus
 * MONO_TO_REAL_NS (CLOCK_REALTIME - CLOCK_MONOTONIC), and COMMENT (NULL: none).
 * Returns the block's length.
 */
size_t pcapng_event(__u8 *buf, const struct sluice_event *e, __s64 mono_to_real_ns,
		    const char *comment);

#endif /* SLUICE_PCAP_H */
