// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* attach, detach, status */
#include <dirent.h>
#include <errno.h>
#include <net/if.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include "attach.h"
#include "bans.h"
#include "cmd.h"
#include "guard.h"
#include "lists.h"
#include "log.h"
#include "policy.h"
#include "synguard.h"

/* Parsed by attach_check, before anything is touched. */
static struct attach_opts attach_in;

static const struct cmd_opt attach_opts[] = {
	{ "mode", 0, true }, { "limiter-keys", 0, true }, { "list-entries", 0, true },
	{ "bans", 0, true }, { NULL, 0, false },
};

static int attach_check(struct verb *v)
{
	struct attach_opts *o = &attach_in;
	const char *mode = v->opt[0];
	unsigned long long n;

	*o = (struct attach_opts){ .mode = ATTACH_AUTO, .force = force };
	if (!mode || !strcmp(mode, "auto"))
		o->mode = ATTACH_AUTO;
	else if (!strcmp(mode, "native") || !strcmp(mode, "drv"))
		o->mode = ATTACH_NATIVE;
	else if (!strcmp(mode, "skb") || !strcmp(mode, "generic"))
		o->mode = ATTACH_SKB;
	else {
		pr_warn("attach: --mode: expected native, skb or auto, got \"%s\"", mode);
		return EXIT_USAGE;
	}
	for (int i = 1; i <= 3; i++) {
		if (!v->opt[i])
			continue;
		if (!parse_count(v->opt[i], 1U << 28, &n)) {
			pr_warn("attach: --%s: expected a count from 1 to %u, got \"%s\"",
				attach_opts[i].name, 1U << 28, v->opt[i]);
			return EXIT_USAGE;
		}
		if (i == 1)
			o->limiter_keys = n;
		else if (i == 2)
			o->list_entries = n;
		else
			o->bans = n;
	}
	return EXIT_OK;
}

static int attach_run(struct verb *v)
{
	bool first;
	struct pins p;
	int err;

	/* The first attach creates the pins, so it locks the directory rather than open them. */
	err = pins_prepare_dir(pin_path);
	if (err)
		return err == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME; /* -EINVAL: a nested path */
	err = pins_lock(&p, pin_path);
	if (err == -ETIMEDOUT)
		return cmd_open_pins("attach", &p, true); /* it says so, with the holder */
	if (err) {
		pr_warn("attach: lock %s: %s", pin_path, strerror(-err));
		return EXIT_RUNTIME;
	}
	/*
	 * Pins are removed with the last link, so pins without a link are the leftovers of
	 * an attach that was killed: start afresh rather than build on a partial set.
	 */
	first = !pins_have_links(pin_path);
	err = first ? pins_clear_leftovers(&p) : 0;
	if (!err)
		err = attach_iface(&p, v->argv[0], &attach_in);
	/* A first attach that failed leaves nothing behind; a later one never touches the rest. */
	if (err && first)
		pins_remove_all(&p);
	pins_close(&p);
	return exit_code_for(err);
}

/* The defaults, spelled out: the help below names them as numbers. */
_Static_assert(SLUICE_DEFAULT_LIMITER_KEYS == 524288 && SLUICE_DEFAULT_LIST_ENTRIES == 1048576 &&
		       SLUICE_DEFAULT_BANS == 65536,
	       "attach help: defaults");

const struct cmd cmd_attach = {
	.name = "attach",
	.args = "IFACE [--mode native|skb|auto] [--limiter-keys N] [--list-entries N] [--bans N]",
	.summary = "load and attach to IFACE",
	.help = "Loads the XDP program onto IFACE and pins it with its maps under the pin path;\n"
		"it stays attached after sluice exits. Interfaces attached under one pin path\n"
		"share one policy and one set of lists, and keep counters of their own.\n"
		"  --mode M          native (driver), skb (generic) or auto: native, else skb\n"
		"                    (default auto)\n"
		"  --limiter-keys N  limiter keys the LRU map holds behind the 1M slots\n"
		"                    (default 524288); sizes apply when the maps are first created\n"
		"  --list-entries N  entries per list (default 1048576), and 4N IPv4 index records\n"
		"  --bans N          dynamic bans (default 65536)\n"
		"An interface that already runs another XDP program is refused; the error names\n"
		"it (a libxdp dispatcher too) and says how to free the interface.",
	.min_args = 1,
	.max_args = 1,
	.opts = attach_opts,
	.check = attach_check,
	.run = attach_run,
};

/* What the last detach is about to remove: counted before, said after. */
struct instance_content {
	long rules, entries, bans;
};

static void instance_content(const struct pins *p, struct instance_content *c)
{
	struct sluice_state state = {};
	struct sluice_policy *pol = malloc(sizeof(*pol));
	__u32 zero = 0, slot;
	long n;

	*c = (struct instance_content){};
	if (pol && !bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state)) {
		slot = SLUICE_ACTIVE_POLICY(state.active);
		if (!bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol))
			c->rules = pol->nrules;
	}
	free(pol);
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		n = lists_count(p, kind);
		c->entries += n > 0 ? n : 0;
	}
	n = map_count_entries(p->fds[PIN_BANS]); /* expired ones were collected on open */
	c->bans = n > 0 ? n : 0;
}

/*
 * The last detach takes the policy, lists, bans and counters with it. It goes ahead
 * (the service saves the state before it stops), but says what went, so an operator
 * who meant to detach one of several interfaces sees what happened.
 */
static int detach_run(struct verb *v)
{
	struct instance_content c;
	int err;

	instance_content(&v->p, &c);
	err = detach_iface(&v->p, v->argv[0]);
	if (!err && access(v->p.dir, F_OK) && errno == ENOENT)
		cmd_notice("detach: %s was the last interface: removed the policy (%ld %s), the "
			   "lists (%ld %s), %ld %s and the counters",
			   v->argv[0], c.rules, plural(c.rules, "rule", "rules"), c.entries,
			   plural(c.entries, "entry", "entries"), c.bans,
			   plural(c.bans, "ban", "bans"));
	return exit_code_for(err);
}

const struct cmd cmd_detach = {
	.name = "detach",
	.args = "IFACE",
	.summary = "detach from IFACE",
	.help = "Detaches sluice from IFACE. The last interface's detach removes the pinned\n"
		"maps: the policy, lists, bans and counters go, and it says so in one line\n"
		"(save them first with `sluice dump`).",
	.min_args = 1,
	.max_args = 1,
	.pins = CMD_PINS_WRITE,
	.run = detach_run,
};

static long popcount_words(const __u64 *w, size_t n)
{
	long bits = 0;

	for (size_t i = 0; i < n; i++)
		bits += __builtin_popcountll(w[i]);
	return bits;
}

static long count_bits(const void *keys, const void *values, __u32 n, void *ctx)
{
	(void)keys;
	(void)ctx;
	return popcount_words(values, n);
}

/* Bits set in the list filters of the live generation: both lists, both families. -errno. */
static long list_filter_bits(struct pins *p, __u32 gen)
{
	long bits = 0;

	for (__u32 list = 0; list < 2; list++) {
		struct list_filter f = pins_filter(p, list, gen);

		if (!f.v4 || !f.v6)
			return -ENOMEM;
		bits += popcount_words(f.v4 + SLUICE_FILTER_HEADER_WORDS, SLUICE_FILTER_WORDS) +
			popcount_words(f.v6 + SLUICE_FILTER_HEADER_WORDS, SLUICE_FILTER_WORDS);
	}
	return bits;
}

/*
 * A pinned map's fill: what is live in it, against what it can hold, and what is
 * counted. An array is always full of entries, so the limiter's say how many slots
 * and keys are live and the filters how many bits are set; the other arrays are
 * tables indexed by slot, shown full. -errno in *FILL if it could not be read.
 */
static const char *pinned_fill(struct pins *p, int i, const struct bpf_map_info *info,
			       const struct limiter_usage *usage, __u32 gen, long *fill,
			       long *capacity)
{
	*capacity = info->max_entries;
	switch (i) {
	case PIN_SLOTS:
		*fill = usage ? usage->slots_live : -ENODATA;
		return "live slots";
	case PIN_PROBATION:
		*fill = usage ? usage->probation_live : -ENODATA;
		*capacity = (long)info->max_entries * SLUICE_PROBATION_WAYS;
		return "live keys";
	case PIN_FILTER:
		*fill = list_filter_bits(p, gen);
		*capacity = 4L * SLUICE_FILTER_WORDS * 64; /* the live generation's regions */
		return "bits set";
	case PIN_BANFILTER:
		*fill = map_batches(p->fds[i], false, count_bits, NULL);
		*capacity = (long)info->max_entries * 64;
		return "bits set";
	}
	if (info->type == BPF_MAP_TYPE_ARRAY || info->type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	    info->type == BPF_MAP_TYPE_ARRAY_OF_MAPS)
		*fill = info->max_entries;
	else
		*fill = map_count_entries(p->fds[i]);
	return NULL;
}

/* One map's line of status: its fill ENTRIES and the kernel memory it holds. */
static json_t *map_status(const char *name, int fd, const struct bpf_map_info *info, long entries,
			  long capacity, const char *unit, long long *total)
{
	long long mem = map_memlock(fd);
	json_t *m = json_pack("{s:s,s:i}", "name", name, "id", info->id);

	if (info->type == BPF_MAP_TYPE_RINGBUF) {
		/* A ring has bytes, not entries. */
		json_object_set_new(m, "bytes", json_integer(info->max_entries));
	} else {
		json_object_set_new(m, "entries", json_integer(entries));
		json_object_set_new(m, "capacity", json_integer(capacity));
		if (unit)
			json_object_set_new(m, "counts", json_string(unit));
	}
	if (mem >= 0) {
		json_object_set_new(m, "memory_bytes", json_integer(mem));
		*total += mem;
	}
	return m;
}

static json_t *status_maps(struct pins *p, const struct limiter_usage *usage, __u32 gen,
			   long long *total)
{
	json_t *maps = json_array();
	int fds[2];

	for (int i = 0; i < PIN_MAP_COUNT; i++) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		long fill, capacity;
		const char *unit;

		if (bpf_obj_get_info_by_fd(p->fds[i], &info, &len))
			continue;
		unit = pinned_fill(p, i, &info, usage, gen, &fill, &capacity);
		if (fill < 0) {
			pr_warn("status: read %s: %s", pin_map_names[i], strerror(-fill));
			continue;
		}
		json_array_append_new(maps, map_status(pin_map_names[i], p->fds[i], &info, fill,
						       capacity, unit, total));
	}
	/* The live lists' hashes, which sluice_lists holds: sized to what they hold. */
	if (lists_open_live(p, NULL, fds))
		return maps;
	for (int kind = LIST_ALLOW; kind <= LIST_BLOCK; kind++) {
		const char *name = kind == LIST_ALLOW ? "sluice_allow" : "sluice_block";
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		json_t *m;

		if (fds[kind] < 0) /* never filled: no hash yet */
			m = json_pack("{s:s,s:i,s:i,s:i}", "name", name, "entries", 0, "capacity",
				      0, "memory_bytes", 0);
		else if (!bpf_obj_get_info_by_fd(fds[kind], &info, &len))
			/* Unexpired entries, as dump and list show them; not the host records. */
			m = map_status(name, fds[kind], &info,
				       list_walk(fds[kind], kind, mono_now_ns(), NULL, NULL),
				       info.max_entries, NULL, total);
		else
			m = NULL;
		if (m) {
			json_object_set_new(m, "live", json_true());
			json_array_append_new(maps, m);
		}
		if (fds[kind] >= 0)
			close(fds[kind]);
	}
	return maps;
}

/*
 * Links pinned without an interface record: an attach killed between the two. The
 * program runs, so status shows it (recorded: false); the next attach or detach of
 * the interface takes it off.
 */
static void add_unrecorded_links(const struct pins *p, json_t *ifaces)
{
	DIR *d = opendir(p->dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info), ifindex, slot;
		struct sluice_iface rec;
		char path[PATH_MAX], name[IF_NAMESIZE] = "";
		bool recorded = false;
		int fd;

		if (sscanf(e->d_name, "link_%u", &ifindex) != 1)
			continue;
		for (slot = 0; slot < SLUICE_MAX_IFACES && !recorded; slot++)
			recorded = !bpf_map_lookup_elem(p->fds[PIN_IFACES], &slot, &rec) &&
				   rec.ifindex == ifindex;
		if (recorded)
			continue;
		snprintf(path, sizeof(path), "%s/%s", p->dir, e->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			LIBBPF_OPTS(bpf_xdp_query_opts, query);
			bool linked = !bpf_xdp_query(ifindex, 0, &query) &&
				      query.prog_id == info.prog_id;

			if_indextoname(ifindex, name);
			json_array_append_new(
				ifaces,
				json_pack("{s:s,s:i,s:i,s:s,s:i,s:b,s:b}", "name", name, "ifindex",
					  ifindex, "slot", -1, "mode",
					  linked ? xdp_mode_name(query.attach_mode ==
										 XDP_ATTACHED_SKB ?
									 XDP_FLAGS_SKB_MODE :
									 XDP_FLAGS_DRV_MODE) :
						   "unknown",
					  "prog_id", info.prog_id, "linked", linked, "recorded",
					  false));
		}
		close(fd);
	}
	if (d)
		closedir(d);
}

/* The ban filter's fill (bans.c): bits set, of the total, against those the live bans need. */
static void status_ban_filter(const struct pins *p, json_t *doc)
{
	struct ban_filter_fill f;

	if (!ban_filter_fill(p, &f))
		json_object_set_new(
			doc, "ban_filter",
			json_pack("{s:I,s:I,s:I,s:I}", "bits_set", (json_int_t)f.bits_set,
				  "bits_total", (json_int_t)f.bits_total, "bits_needed",
				  (json_int_t)f.bits_needed, "bans", (json_int_t)f.bans));
}

/* A restore --confirm-within that awaits confirmation: when it rolls back, and to what. */
static void status_rollback(json_t *doc)
{
	struct guard_pending g;
	char when[40];

	if (!guard_pending(&g))
		return;
	guard_format_time(g.deadline, when, sizeof(when));
	json_object_set_new(
		doc, "rollback",
		json_pack("{s:s,s:I,s:s,s:I,s:i,s:b}", "restores", g.rollback, "deadline",
			  (json_int_t)g.deadline, "deadline_utc", when, "seconds_left",
			  (json_int_t)(g.deadline > time(NULL) ? g.deadline - time(NULL) : 0),
			  "guard_pid", g.pid, "guard_running", g.pid > 0));
}

/*
 * The SYN guards: the host's TCP settings their cookies depend on (read now, in the
 * controller's network namespace; the data path took them at attach), and each
 * guard's line, state and counters.
 */
static void status_guards(const struct pins *p, json_t *doc)
{
	struct policy_doc *rules = malloc(sizeof(*rules));
	struct guard_host host;
	json_t *o = json_object(), *list = json_array();
	char line[128];

	if (!guard_host_read(&host))
		json_object_set_new(o, "host",
				    json_pack("{s:i,s:i,s:i,s:i,s:b}", "tcp_syncookies",
					      host.syncookies, "tcp_timestamps", host.timestamps,
					      "tcp_sack", host.sack, "wscale", host.wscale,
					      "options", guard_host_options(&host)));
	if (rules) {
		policy_init(rules);
		if (!policy_read_rules(p, rules)) {
			for (__u32 i = 0; i < rules->nguards; i++) {
				struct sluice_guard_stats c;
				struct sluice_guard_state st;

				if (guard_counts_read(p, i, &c, &st))
					continue;
				format_guard(&rules->guards[i], line, sizeof(line));
				json_array_append_new(
					list,
					json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
						  "guard", line, "engaged",
						  rules->guards[i].always || st.engaged_ns,
						  "engagements", (json_int_t)st.engagements,
						  "syn_rate", (json_int_t)st.rate, "answered",
						  (json_int_t)c.answered, "validated",
						  (json_int_t)c.validated, "refused",
						  (json_int_t)c.refused, "passed",
						  (json_int_t)c.passed, "unanswerable",
						  (json_int_t)c.unanswerable, "engaged_seconds",
						  (json_int_t)(st.engaged_ns ?
								       (mono_now_ns() -
									st.engaged_ns) /
									       1000000000ULL :
								       0)));
			}
		}
		policy_free(rules);
		free(rules);
	}
	json_object_set_new(o, "guards", list);
	json_object_set_new(doc, "syn_guard", o);
}

/* The status document; NULL, with the failure reported, if the state cannot be read. */
static json_t *status_doc(struct pins *p)
{
	struct sluice_policy *pol;
	json_t *doc, *ifaces;
	struct sluice_state state = {};
	struct sluice_text *text;
	struct limiter_usage usage;
	bool have_usage;
	long long memory = 0;
	__u32 zero = 0, slot;

	/* Everything below hangs off the state: its layout, generation and live slots. */
	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state)) {
		pr_warn("status: read %s: %s", pin_map_names[PIN_STATE], strerror(errno));
		return NULL;
	}
	pol = malloc(sizeof(*pol));
	text = malloc(sizeof(*text));
	doc = json_object();
	ifaces = json_array();
	for (__u32 i = 0; i < SLUICE_MAX_IFACES; i++) {
		struct sluice_iface rec;
		LIBBPF_OPTS(bpf_xdp_query_opts, query);
		json_t *o;

		if (bpf_map_lookup_elem(p->fds[PIN_IFACES], &i, &rec) || !rec.ifindex)
			continue;
		o = json_pack("{s:s,s:i,s:i,s:s,s:i,s:I}", "name", rec.name, "ifindex", rec.ifindex,
			      "slot", i, "mode", xdp_mode_name(rec.mode), "prog_id", rec.prog_id,
			      "attached", (json_int_t)rec.attached);
		/* What the kernel says now, in case the interface or link went away. */
		json_object_set_new(o, "linked",
				    json_boolean(bpf_xdp_query(rec.ifindex, 0, &query) == 0 &&
						 query.prog_id == rec.prog_id));
		json_array_append_new(ifaces, o);
	}
	add_unrecorded_links(p, ifaces);
	json_object_set_new(doc, "pin_path", json_string(p->dir));
	json_object_set_new(doc, "layout_version", json_integer(state.layout_version));
	json_object_set_new(doc, "interfaces", ifaces);
	slot = SLUICE_ACTIVE_POLICY(state.active);
	if (pol && text && !bpf_map_lookup_elem(p->fds[PIN_POLICY], &slot, pol) &&
	    !bpf_map_lookup_elem(p->fds[PIN_TEXT], &slot, text)) {
		char digest[17];

		snprintf(digest, sizeof(digest), "%016llx", (unsigned long long)pol->digest);
		json_object_set_new(
			doc, "policy",
			json_pack("{s:s,s:i,s:i,s:I,s:s,s:i,s:i}", "digest", digest, "rules",
				  pol->nrules, "bytes", text->len, "generation",
				  (json_int_t)state.generation, "malformed",
				  pol->flags & SLUICE_POLICY_MALFORMED_DROP ? "drop" : "pass",
				  "policy_slot", slot, "list_generation",
				  SLUICE_ACTIVE_LISTS(state.active)));
	}
	have_usage = !limiter_usage_read(p, &usage);
	json_object_set_new(doc, "maps",
			    status_maps(p, have_usage ? &usage : NULL,
					SLUICE_ACTIVE_LISTS(state.active), &memory));
	json_object_set_new(doc, "memory_bytes", json_integer(memory));
	json_object_set_new(doc, "list_capacity", json_integer(state.list_capacity));
	if (have_usage)
		json_object_set_new(doc, "limiter",
				    json_pack("{s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I,s:I,s:I}}", "slots",
					      (json_int_t)p->max_entries[PIN_SLOTS], "slots_used",
					      (json_int_t)usage.slots_used, "slots_live",
					      (json_int_t)usage.slots_live, "lru_keys",
					      (json_int_t)usage.buckets, "probation_live",
					      (json_int_t)usage.probation_live, "new_keys",
					      "admitted", (json_int_t)usage.tier.admitted,
					      "refused", (json_int_t)usage.tier.refused, "promoted",
					      (json_int_t)usage.tier.promoted, "displaced",
					      (json_int_t)usage.tier.displaced));
	status_ban_filter(p, doc);
	status_rollback(doc);
	status_guards(p, doc);
	free(pol);
	free(text);
	return doc;
}

static void status_print(json_t *doc)
{
	json_t *v, *pol = json_object_get(doc, "policy"), *lim = json_object_get(doc, "limiter");
	size_t i;

	printf("pin path %s (layout %lld)\n", json_string_value(json_object_get(doc, "pin_path")),
	       json_integer_value(json_object_get(doc, "layout_version")));
	json_array_foreach(json_object_get(doc, "interfaces"), i, v)
		printf("interface %s ifindex %lld mode %s prog id %lld%s\n",
		       json_string_value(json_object_get(v, "name")),
		       json_integer_value(json_object_get(v, "ifindex")),
		       json_string_value(json_object_get(v, "mode")),
		       json_integer_value(json_object_get(v, "prog_id")),
		       json_is_true(json_object_get(v, "linked")) ? "" : " (NOT LINKED)");
	if (pol)
		printf("policy digest %s rules %lld bytes %lld generation %lld malformed %s\n",
		       json_string_value(json_object_get(pol, "digest")),
		       json_integer_value(json_object_get(pol, "rules")),
		       json_integer_value(json_object_get(pol, "bytes")),
		       json_integer_value(json_object_get(pol, "generation")),
		       json_string_value(json_object_get(pol, "malformed")));
	json_array_foreach(json_object_get(doc, "maps"), i, v) {
		double mib = json_integer_value(json_object_get(v, "memory_bytes")) / 1048576.0;

		if (json_object_get(v, "counts"))
			printf("map %-17s %10lld / %-10lld %8.1f MiB  %s\n",
			       json_string_value(json_object_get(v, "name")),
			       json_integer_value(json_object_get(v, "entries")),
			       json_integer_value(json_object_get(v, "capacity")), mib,
			       json_string_value(json_object_get(v, "counts")));
		else if (json_object_get(v, "entries"))
			printf("map %-17s %10lld / %-10lld %8.1f MiB\n",
			       json_string_value(json_object_get(v, "name")),
			       json_integer_value(json_object_get(v, "entries")),
			       json_integer_value(json_object_get(v, "capacity")), mib);
		else
			printf("map %-17s %10s   %-10lld %8.1f MiB\n",
			       json_string_value(json_object_get(v, "name")), "ring bytes",
			       json_integer_value(json_object_get(v, "bytes")), mib);
	}
	printf("map memory %.1f MiB; a list may hold %lld entries\n",
	       json_integer_value(json_object_get(doc, "memory_bytes")) / 1048576.0,
	       json_integer_value(json_object_get(doc, "list_capacity")));
	if (lim) {
		json_t *nk = json_object_get(lim, "new_keys");

		printf("limiter slots %lld live, %lld used / %lld; lru keys %lld; probation %lld live\n",
		       json_integer_value(json_object_get(lim, "slots_live")),
		       json_integer_value(json_object_get(lim, "slots_used")),
		       json_integer_value(json_object_get(lim, "slots")),
		       json_integer_value(json_object_get(lim, "lru_keys")),
		       json_integer_value(json_object_get(lim, "probation_live")));
		printf("new keys admitted %lld refused %lld promoted %lld displaced %lld\n",
		       json_integer_value(json_object_get(nk, "admitted")),
		       json_integer_value(json_object_get(nk, "refused")),
		       json_integer_value(json_object_get(nk, "promoted")),
		       json_integer_value(json_object_get(nk, "displaced")));
	}
	if ((v = json_object_get(doc, "rollback"))) {
		if (json_is_true(json_object_get(v, "guard_running")))
			printf("rollback pending: at %s (in %lld s) the policy goes back to %s "
			       "unless 'sluice confirm' runs first (guard pid %lld)\n",
			       json_string_value(json_object_get(v, "deadline_utc")),
			       json_integer_value(json_object_get(v, "seconds_left")),
			       json_string_value(json_object_get(v, "restores")),
			       json_integer_value(json_object_get(v, "guard_pid")));
		else
			printf("rollback point %s kept, but no guard runs to restore it "
			       "('sluice confirm' removes it)\n",
			       json_string_value(json_object_get(v, "restores")));
	}
	if ((v = json_object_get(doc, "syn_guard"))) {
		json_t *h = json_object_get(v, "host"), *g;

		if (h)
			printf("syn guard host: tcp_syncookies %lld tcp_timestamps %lld tcp_sack %lld; "
			       "cookies carry %s\n",
			       json_integer_value(json_object_get(h, "tcp_syncookies")),
			       json_integer_value(json_object_get(h, "tcp_timestamps")),
			       json_integer_value(json_object_get(h, "tcp_sack")),
			       json_is_true(json_object_get(h, "options")) ?
				       "window scaling, SACK and timestamps" :
				       "the MSS only (tcp_timestamps is not 2)");
		json_array_foreach(json_object_get(v, "guards"), i, g)
			printf("%s: %s, %lld SYN/s; answered %lld validated %lld refused %lld "
			       "passed %lld unanswerable %lld\n",
			       json_string_value(json_object_get(g, "guard")),
			       json_is_true(json_object_get(g, "engaged")) ? "engaged" : "resting",
			       json_integer_value(json_object_get(g, "syn_rate")),
			       json_integer_value(json_object_get(g, "answered")),
			       json_integer_value(json_object_get(g, "validated")),
			       json_integer_value(json_object_get(g, "refused")),
			       json_integer_value(json_object_get(g, "passed")),
			       json_integer_value(json_object_get(g, "unanswerable")));
	}
	if ((v = json_object_get(doc, "ban_filter")))
		printf("ban filter %lld / %lld bits set; %lld live bans need %lld\n",
		       json_integer_value(json_object_get(v, "bits_set")),
		       json_integer_value(json_object_get(v, "bits_total")),
		       json_integer_value(json_object_get(v, "bans")),
		       json_integer_value(json_object_get(v, "bits_needed")));
}

static int status_run(struct verb *v)
{
	json_t *doc = status_doc(&v->p);

	if (!doc)
		return EXIT_RUNTIME;
	if (json_output) {
		json_print(doc);
	} else {
		status_print(doc);
		json_decref(doc);
	}
	return EXIT_OK;
}

const struct cmd cmd_status = {
	.name = "status",
	.args = "",
	.summary = "interfaces, policy, map fill",
	.help = "Shows attached interfaces and their mode, the policy digest and size, and each\n"
		"map's fill level against its capacity: entries, or for the limiter's arrays the\n"
		"live slots and keys, and for the filters the bits set; while a restore\n"
		"--confirm-within awaits confirmation, when it rolls back and to what; and the\n"
		"TCP settings SYN guards depend on, each guard's state and its counters.",
	.max_args = 0,
	.pins = CMD_PINS_READ,
	.run = status_run,
};
