// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* SYN guards on the host side: the TCP settings their cookies depend on, and their counters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "synguard.h"

/* The first NMAX whitespace-separated numbers of a /proc/sys file; how many it read, or -errno. */
static int read_sysctl(const char *name, long *v, int nmax)
{
	char path[128];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/sys/%s", name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (n < nmax && fscanf(f, "%ld", &v[n]) == 1)
		n++;
	fclose(f);
	return n ? n : -EINVAL;
}

int guard_host_read(struct guard_host *h)
{
	long v[3], space, rmem_max;
	int ret, log2;

	memset(h, 0, sizeof(*h));
	ret = read_sysctl("net/ipv4/tcp_syncookies", v, 1);
	if (ret < 0)
		return ret;
	h->syncookies = v[0];
	ret = read_sysctl("net/ipv4/tcp_timestamps", v, 1);
	if (ret < 0)
		return ret;
	h->timestamps = v[0];
	ret = read_sysctl("net/ipv4/tcp_sack", v, 1);
	if (ret < 0)
		return ret;
	h->sack = v[0];
	/*
	 * As tcp_select_initial_window() scales a window: the larger of tcp_rmem's maximum
	 * and rmem_max, at most 14 shifts. A listener that sets a smaller SO_RCVBUF does not
	 * change it, as the kernel's scale comes from these alone.
	 */
	ret = read_sysctl("net/ipv4/tcp_rmem", v, 3);
	if (ret < 3)
		return ret < 0 ? ret : -EINVAL;
	space = v[2];
	ret = read_sysctl("net/core/rmem_max", &rmem_max, 1);
	if (ret < 0)
		return ret;
	if (rmem_max > space)
		space = rmem_max;
	for (log2 = 0; (space >> 1) >= (1L << log2) && log2 < 62; log2++)
		;
	h->wscale = log2 <= 15 ? 0 : log2 - 15 > 14 ? 14 : log2 - 15;
	return 0;
}

int guard_host_check(const struct guard_host *h, int nguards, const char *what)
{
	if (nguards <= 0 || h->syncookies != 0)
		return 0;
	pr_warn("%s: a guard needs SYN cookies, but net.ipv4.tcp_syncookies is 0 in this "
		"network namespace, so the kernel would refuse every cookie it hands out; set "
		"it to 2 (or 1: cookies only once a listener's SYN queue is full)",
		what);
	return -EOPNOTSUPP;
}

int guard_live_count(const struct pins *p)
{
	struct sluice_policy *pol = malloc(sizeof(*pol));
	__u32 active;
	int n = 0;

	if (pol && !pins_active(p, &active)) {
		active = SLUICE_ACTIVE_POLICY(active);
		if (!bpf_map_lookup_elem(p->fds[PIN_POLICY], &active, pol))
			n = pol->nguards;
	}
	free(pol);
	return n;
}

bool guard_host_options(const struct guard_host *h)
{
	return h->timestamps == 2;
}

int guard_counts_read(const struct pins *p, __u32 idx, struct sluice_guard_stats *sum,
		      struct sluice_guard_state *state)
{
	int ncpus = libbpf_num_possible_cpus(), ret = 0;
	struct sluice_guard_stats *v;

	memset(sum, 0, sizeof(*sum));
	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	v = calloc(ncpus, sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (bpf_map_lookup_elem(p->fds[PIN_GUARDSTATS], &idx, v) ||
	    bpf_map_lookup_elem(p->fds[PIN_GUARDSTATE], &idx, state))
		ret = -errno;
	for (int c = 0; c < ncpus && !ret; c++) {
		sum->answered += v[c].answered;
		sum->validated += v[c].validated;
		sum->refused += v[c].refused;
		sum->passed += v[c].passed;
		sum->unanswerable += v[c].unanswerable;
	}
	free(v);
	return ret;
}

int guard_counts_reset_changed(const struct pins *p, const struct sluice_policy *old,
			       const struct sluice_policy *new)
{
	int ncpus = libbpf_num_possible_cpus(), ret = 0;
	struct sluice_guard_state zero_state = {};
	struct sluice_guard_stats *zero;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	zero = calloc(ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	for (__u32 i = 0; i < SLUICE_MAX_GUARDS && !ret; i++) {
		bool was = i < old->nguards, is = i < new->nguards;

		if (was == is &&
		    (!is || !memcmp(&old->guards[i], &new->guards[i], sizeof(new->guards[i]))))
			continue;
		if (bpf_map_update_elem(p->fds[PIN_GUARDSTATS], &i, zero, BPF_ANY) ||
		    bpf_map_update_elem(p->fds[PIN_GUARDSTATE], &i, &zero_state, BPF_ANY))
			ret = -errno;
	}
	free(zero);
	return ret;
}
