/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Masking of 128-bit-form addresses to a prefix length, and the packet clock. */
#ifndef SLUICE_ADDR_H
#define SLUICE_ADDR_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __always_inline __u32 prefix_word_mask(__u32 plen, __u32 word)
{
	__u32 first = word * 32;
	__u32 bits;

	if (plen <= first)
		return 0;
	bits = plen - first;
	if (bits >= 32)
		return 0xffffffff;
	return bpf_htonl(0xffffffffU << (32 - bits));
}

static __always_inline void mask_addr(__u32 out[4], const __u32 in[4], __u32 plen)
{
	out[0] = in[0] & prefix_word_mask(plen, 0);
	out[1] = in[1] & prefix_word_mask(plen, 1);
	out[2] = in[2] & prefix_word_mask(plen, 2);
	out[3] = in[3] & prefix_word_mask(plen, 3);
}

/*
 * The coarse clock (a tick-old CLOCK_MONOTONIC) costs a load, not a clock read, and is
 * read at most once per packet, only by the paths that need a time.
 */
static __always_inline __u64 clock_now(__u64 *now)
{
	if (!*now)
		*now = bpf_ktime_get_coarse_ns();
	return *now;
}

#endif /* SLUICE_ADDR_H */
