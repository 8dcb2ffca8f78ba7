/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The packet clock. */
#ifndef SLUICE_ADDR_H
#define SLUICE_ADDR_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sluice.h"

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
