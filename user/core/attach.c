// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Loading the XDP program onto interfaces with pinned links, and taking it off again. */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach.h"
#include "lockout.h"
#include "log.h"
#include "policy.h"
#include "sluice.skel.h"
#include "synguard.h"

static void link_pin_path(const struct pins *p, __u32 ifindex, char *buf, size_t len)
{
	snprintf(buf, len, "%s/link_%u", p->dir, ifindex);
}

const char *xdp_mode_name(__u32 mode)
{
	switch (mode) {
	case XDP_FLAGS_DRV_MODE:
		return "native";
	case XDP_FLAGS_SKB_MODE:
		return "skb";
	default:
		return "unknown";
	}
}

int iface_find(const struct pins *p, const char *name, __u32 *slot, struct sluice_iface *rec)
{
	for (__u32 i = 0; i < SLUICE_MAX_IFACES; i++) {
		if (bpf_map_lookup_elem(p->fds[PIN_IFACES], &i, rec))
			return -errno;
		if (rec->ifindex && strncmp(rec->name, name, SLUICE_IFNAME_LEN) == 0) {
			*slot = i;
			return 0;
		}
	}
	return -ENOENT;
}

static int free_slot(const struct pins *p, __u32 *slot)
{
	struct sluice_iface rec;

	for (__u32 i = 0; i < SLUICE_MAX_IFACES; i++) {
		if (bpf_map_lookup_elem(p->fds[PIN_IFACES], &i, &rec))
			return -errno;
		if (!rec.ifindex) {
			*slot = i;
			return 0;
		}
	}
	return -ENOSPC;
}

static void set_capacity(struct bpf_map *map, const char *dir, __u32 wanted)
{
	__u32 pinned = pins_pinned_max_entries(dir, bpf_map__name(map));

	/* Maps already pinned keep their size; libbpf reuses them only if ours matches. */
	if (pinned)
		bpf_map__set_max_entries(map, pinned);
	else if (wanted)
		bpf_map__set_max_entries(map, wanted);
}

static int link_xdp(int prog_fd, __u32 ifindex, enum attach_mode mode, __u32 *mode_out)
{
	static const __u32 order[][2] = {
		[ATTACH_NATIVE] = { XDP_FLAGS_DRV_MODE, 0 },
		[ATTACH_SKB] = { XDP_FLAGS_SKB_MODE, 0 },
		[ATTACH_AUTO] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE },
	};
	int fd = -EINVAL;

	for (int i = 0; i < 2 && order[mode][i]; i++) {
		LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = order[mode][i]);

		fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
		if (fd >= 0) {
			*mode_out = order[mode][i];
			return fd;
		}
		fd = -errno;
		pr_debug("attach in %s mode: %s", xdp_mode_name(order[mode][i]), strerror(-fd));
	}
	return fd;
}

/*
 * Stamps the layout version into a state map that has none yet: one just created by
 * the load, or one left by an attach that died before stamping it.
 */
static int stamp_new_state(const struct pins *p, __u32 list_capacity)
{
	struct sluice_state state;
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", p->dir, pin_map_names[PIN_STATE]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_map_lookup_elem(fd, &zero, &state))
		err = -errno;
	else if (state.layout_version == 0) {
		memset(&state, 0, sizeof(state));
		state.layout_version = SLUICE_LAYOUT_VERSION;
		state.list_capacity = list_capacity ? list_capacity : SLUICE_DEFAULT_LIST_ENTRIES;
		if (bpf_map_update_elem(fd, &zero, &state, BPF_ANY))
			err = -errno;
	}
	close(fd);
	return err;
}

static int open_all_maps(struct pins *p, __u32 list_capacity)
{
	int err = stamp_new_state(p, list_capacity);

	if (!err)
		err = pins_create_user_maps(p);
	if (!err)
		err = pins_load_maps(p);
	return err;
}

/*
 * Names the first kernel feature the program needs and this kernel lacks, so the
 * error says more than a verifier log would. sluice needs Linux 6.0 or newer.
 */
static int probe_kernel(void)
{
	static const struct {
		enum bpf_map_type type;
		const char *what;
	} maps[] = {
		{ BPF_MAP_TYPE_ARRAY_OF_MAPS, "array-of-maps maps" },
		{ BPF_MAP_TYPE_LRU_HASH, "LRU hash maps" },
		{ BPF_MAP_TYPE_PERCPU_ARRAY, "per-CPU array maps" },
		{ BPF_MAP_TYPE_RINGBUF, "BPF ring buffers (Linux 5.8)" },
	};
	static const struct {
		enum bpf_func_id id;
		const char *what;
	} helpers[] = {
		{ BPF_FUNC_ktime_get_coarse_ns, "the bpf_ktime_get_coarse_ns helper (Linux 5.11)" },
		{ BPF_FUNC_ringbuf_reserve, "the bpf_ringbuf_reserve helper (Linux 5.8)" },
		{ BPF_FUNC_loop, "the bpf_loop helper (Linux 5.17)" },
		/* The SYN guard's (bpf/guard.h). */
		{ BPF_FUNC_tcp_gen_syncookie, "the bpf_tcp_gen_syncookie helper (Linux 5.3)" },
		{ BPF_FUNC_xdp_load_bytes, "the bpf_xdp_load_bytes helper (Linux 5.18)" },
		{ BPF_FUNC_map_lookup_percpu_elem,
		  "the bpf_map_lookup_percpu_elem helper (Linux 5.19)" },
		{ BPF_FUNC_tcp_raw_gen_syncookie_ipv4,
		  "the bpf_tcp_raw_gen_syncookie_ipv4 helper (Linux 6.0)" },
		{ BPF_FUNC_tcp_raw_gen_syncookie_ipv6,
		  "the bpf_tcp_raw_gen_syncookie_ipv6 helper (Linux 6.0)" },
	};
	int ret;

	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		ret = libbpf_probe_bpf_map_type(maps[i].type, NULL);
		if (ret == 0) {
			pr_warn("attach: this kernel lacks %s; sluice needs Linux 6.0 or newer",
				maps[i].what);
			return -EOPNOTSUPP;
		}
		if (ret < 0)
			return 0; /* cannot probe (no privilege): the load will say why */
	}
	for (size_t i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, helpers[i].id, NULL) == 0) {
			pr_warn("attach: this kernel lacks %s; sluice needs Linux 6.0 or newer",
				helpers[i].what);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* A policy is already live for other interfaces: it must not cut off the operator. */
static int guard_live_policy(const struct pins *p, bool force)
{
	struct policy_doc rules;
	int err;

	policy_init(&rules);
	err = policy_read_rules(p, &rules);
	if (!err)
		err = lockout_check_live("attach", p, NULL, 0, &rules, force);
	policy_free(&rules);
	return err;
}

/*
 * A link pinned for IFINDEX with no interface record is what an attach killed
 * between the two leaves behind: take it off, so the interface can be attached
 * (or counts as detached). Returns true if there was one.
 */
static bool drop_stale_link(const struct pins *p, __u32 ifindex)
{
	char path[PATH_MAX];
	int fd;

	link_pin_path(p, ifindex, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	bpf_link_detach(fd);
	close(fd);
	unlink(path);
	pr_info("removed the link of an attach that did not finish (%s)", path);
	return true;
}

/*
 * The id of the BPF link that holds IFINDEX's XDP hook with PROG_ID; 0 if a netlink
 * attach holds it. Link info names no network namespace: the program id tells our
 * interface from one with the same index elsewhere.
 */
static __u32 xdp_link_id(__u32 ifindex, __u32 prog_id)
{
	__u32 id = 0;

	while (bpf_link_get_next_id(id, &id) == 0) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_link_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    info.type == BPF_LINK_TYPE_XDP && info.xdp.ifindex == ifindex &&
		    info.prog_id == prog_id) {
			close(fd);
			return id;
		}
		close(fd);
	}
	return 0;
}

static const char *attached_mode_name(__u8 attach_mode)
{
	switch (attach_mode) {
	case XDP_ATTACHED_DRV:
		return "native";
	case XDP_ATTACHED_SKB:
		return "skb";
	case XDP_ATTACHED_HW:
		return "offloaded";
	default:
		return "unknown";
	}
}

/*
 * Says what holds IFNAME's XDP hook and how the operator frees it. sluice runs alone
 * on an interface: libxdp's dispatcher runs its programs as freplace (BPF_PROG_TYPE_EXT)
 * extensions, which kernels that refuse BPF trampolines do not load.
 */
static void refuse_occupied(const char *ifname, __u32 ifindex, const struct bpf_xdp_query_opts *q)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), link_id = xdp_link_id(ifindex, q->prog_id);
	int fd = bpf_prog_get_fd_by_id(q->prog_id);
	char held[32] = "";

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		snprintf(info.name, sizeof(info.name), "?");
	if (fd >= 0)
		close(fd);
	if (link_id)
		snprintf(held, sizeof(held), ", BPF link id %u", link_id);

	if (strcmp(info.name, "xdp_dispatcher") == 0)
		pr_warn("attach: %s: already runs libxdp's multi-program dispatcher (program id %u, "
			"%s mode%s); sluice does not attach behind it: xdp-loader status %s lists "
			"its programs, xdp-loader unload %s --all removes them",
			ifname, q->prog_id, attached_mode_name(q->attach_mode), held, ifname,
			ifname);
	else if (strcmp(info.name, "sluice_xdp") == 0)
		pr_warn("attach: %s: already runs XDP program sluice_xdp (id %u, %s mode%s) of "
			"another sluice pin path; detach it there first",
			ifname, q->prog_id, attached_mode_name(q->attach_mode), held);
	else if (link_id)
		pr_warn("attach: %s: already runs XDP program %s (id %u, %s mode%s); sluice does "
			"not replace it or run beside it: the process that holds the link must "
			"detach it first",
			ifname, info.name, q->prog_id, attached_mode_name(q->attach_mode), held);
	else
		pr_warn("attach: %s: already runs XDP program %s (id %u, %s mode, attached by "
			"netlink); sluice does not replace it or run beside it: unload it with the "
			"tool that loaded it (xdp-loader unload %s --all for libxdp tools such as "
			"xdp-filter) or ip link set dev %s xdp off",
			ifname, info.name, q->prog_id, attached_mode_name(q->attach_mode), ifname,
			ifname);
}

int attach_iface(struct pins *p, const char *ifname, const struct attach_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .pin_root_path = p->dir);
	LIBBPF_OPTS(bpf_xdp_query_opts, query);
	struct sluice_iface rec = {};
	char path[PATH_MAX];
	struct sluice *skel = NULL;
	__u32 ifindex, slot, mode = 0;
	struct guard_host host;
	bool fresh;
	int link_fd, err;

	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		pr_warn("attach: %s: no such interface", ifname);
		return -ENODEV;
	}
	if (strlen(ifname) >= SLUICE_IFNAME_LEN) {
		pr_warn("attach: %s: interface name too long", ifname);
		return -EINVAL;
	}

	snprintf(path, sizeof(path), "%s/%s", p->dir, pin_map_names[PIN_STATE]);
	fresh = access(path, F_OK) != 0;
	if (!fresh) {
		err = open_all_maps(p, o->list_entries);
		if (err) {
			if (err != -EPROTO)
				pr_warn("attach: %s: %s", p->dir, strerror(-err));
			return err;
		}
		err = guard_live_policy(p, o->force);
		if (err)
			return err;
		if (iface_find(p, ifname, &slot, &rec) != 0)
			drop_stale_link(p, ifindex);
		if (iface_find(p, ifname, &slot, &rec) == 0) {
			pr_warn("attach: %s: already attached (program id %u)", ifname,
				rec.prog_id);
			return -EEXIST;
		}
		err = free_slot(p, &slot);
		if (err) {
			pr_warn("attach: %s: all %d interface slots in use", ifname,
				SLUICE_MAX_IFACES);
			return err;
		}
	} else {
		slot = 0;
	}

	err = bpf_xdp_query(ifindex, 0, &query);
	if (err == 0 && query.prog_id) {
		refuse_occupied(ifname, ifindex, &query);
		return -EBUSY;
	}

	err = probe_kernel();
	if (err)
		return err;
	skel = sluice__open_opts(&open_opts);
	if (!skel) {
		err = -errno;
		pr_warn("attach: open BPF object: %s", strerror(-err));
		return err;
	}
	skel->rodata->iface_slot = slot;
	err = guard_host_read(&host);
	if (err && !fresh && guard_live_count(p) > 0) {
		pr_warn("attach: read the TCP settings of this network namespace, which the "
			"policy's SYN guards depend on: %s",
			strerror(-err));
		goto out;
	}
	if (err) {
		/* No guard yet: a restore with one reads them again and says why it cannot. */
		pr_info("attach: read the TCP settings of this network namespace: %s; SYN "
			"guards' cookies will carry the MSS alone",
			strerror(-err));
		memset(&host, 0, sizeof(host));
		host.syncookies = 1;
	}
	err = fresh ? 0 : guard_host_check(&host, guard_live_count(p), "attach");
	if (err)
		goto out;
	skel->rodata->guard_ncpus = libbpf_num_possible_cpus();
	skel->rodata->guard_timestamps = guard_host_options(&host);
	skel->rodata->guard_sack = host.sack != 0;
	skel->rodata->guard_wscale = host.wscale;
	set_capacity(skel->maps.sluice_buckets, p->dir, o->limiter_keys);
	set_capacity(skel->maps.sluice_bans, p->dir, o->bans);

	err = sluice__load(skel);
	if (err) {
		err = err < 0 ? err : -errno;
		if (err == -EPERM)
			pr_warn("attach: load BPF program: %s (needs root, or CAP_BPF and "
				"CAP_NET_ADMIN)",
				strerror(-err));
		else
			pr_warn("attach: load BPF program: %s (run with -v for the verifier log; "
				"sluice needs Linux 6.0 or newer with BTF)",
				strerror(-err));
		goto out;
	}

	if (fresh) {
		err = open_all_maps(p, o->list_entries);
		if (err) {
			pr_warn("attach: initialise maps in %s: %s", p->dir, strerror(-err));
			goto out;
		}
	}

	link_fd = link_xdp(bpf_program__fd(skel->progs.sluice_xdp), ifindex, o->mode, &mode);
	if (link_fd < 0) {
		err = link_fd;
		pr_warn("attach: %s: attach XDP in %s mode: %s", ifname,
			o->mode == ATTACH_NATIVE ? "native" :
			o->mode == ATTACH_SKB	 ? "skb" :
						   "native or skb",
			strerror(-err));
		goto out;
	}
	link_pin_path(p, ifindex, path, sizeof(path));
	if (bpf_obj_pin(link_fd, path)) {
		err = -errno;
		pr_warn("attach: pin link %s: %s", path, strerror(-err));
		bpf_link_detach(link_fd);
		close(link_fd);
		goto out;
	}

	memset(&rec, 0, sizeof(rec));
	rec.ifindex = ifindex;
	rec.mode = mode;
	rec.attached = time(NULL);
	snprintf(rec.name, sizeof(rec.name), "%s", ifname);
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.sluice_xdp), &info, &len) ==
		    0)
			rec.prog_id = info.id;
	}
	err = stats_zero_iface(p, slot);
	if (!err && bpf_map_update_elem(p->fds[PIN_IFACES], &slot, &rec, BPF_ANY))
		err = -errno;
	if (err) {
		pr_warn("attach: record %s: %s", ifname, strerror(-err));
		bpf_link_detach(link_fd);
		unlink(path);
	}
	close(link_fd);
	if (!err)
		pr_info("attached to %s in %s mode (program id %u)", ifname, xdp_mode_name(mode),
			rec.prog_id);
out:
	sluice__destroy(skel);
	return err;
}

int detach_iface(struct pins *p, const char *ifname)
{
	struct sluice_iface rec, empty = {};
	char path[PATH_MAX];
	__u32 slot, i;
	int fd, err;
	bool any = false;

	err = iface_find(p, ifname, &slot, &rec);
	if (err && if_nametoindex(ifname) && drop_stale_link(p, if_nametoindex(ifname)))
		goto last; /* the link of an attach that did not finish: off it goes */
	if (err) {
		pr_warn("detach: %s: not attached by sluice under %s", ifname, p->dir);
		return err;
	}
	link_pin_path(p, rec.ifindex, path, sizeof(path));
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		/* Fails harmlessly when the interface is already gone with its link. */
		bpf_link_detach(fd);
		close(fd);
	}
	if (unlink(path) && errno != ENOENT) {
		err = -errno;
		pr_warn("detach: unpin %s: %s", path, strerror(-err));
		return err;
	}
	if (bpf_map_update_elem(p->fds[PIN_IFACES], &slot, &empty, BPF_ANY))
		return -errno;
last:
	err = 0;
	any = pins_have_links(p->dir);
	for (i = 0; i < SLUICE_MAX_IFACES; i++)
		if (bpf_map_lookup_elem(p->fds[PIN_IFACES], &i, &rec) == 0 && rec.ifindex)
			any = true;
	if (!any) {
		err = pins_remove_all(p);
		if (err)
			pr_warn("detach: remove %s: %s", p->dir, strerror(-err));
	}
	return err;
}

int stats_zero_iface(const struct pins *p, __u32 slot)
{
	int ncpus = libbpf_num_possible_cpus();
	struct sluice_counter *zero;
	int err = 0;

	if (ncpus < 0)
		return ncpus;
	zero = calloc(ncpus, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	for (__u32 i = 0; i < SLUICE_STATS_PER_IFACE; i++) {
		__u32 idx = slot * SLUICE_STATS_PER_IFACE + i;

		if (bpf_map_update_elem(p->fds[PIN_STATS], &idx, zero, BPF_ANY)) {
			err = -errno;
			break;
		}
	}
	free(zero);
	return err;
}
