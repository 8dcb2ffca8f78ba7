/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The maps of the sluice data path. All are pinned by name, so every attached
 * interface and every controller run shares one set. */
#ifndef SLUICE_MAPS_H
#define SLUICE_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "sluice.h"

/* Layout version and active generation; written by the controller only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_state SEC(".maps");

/* Two policies; sluice_state.active names the live one, the controller fills the other. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct sluice_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_policy SEC(".maps");

/*
 * Allowlist and blocklist: the hash of each list's entries by exact prefix, at index
 * list * 2 + generation, so a restore switches lists and rules in one step. The
 * controller creates each hash sized to what it holds and swaps it in whole; an empty
 * index is an empty list. Read per packet only where the filter sends a source.
 */
struct sluice_list_hash {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(struct sluice_lpm_key));
	__uint(value_size, sizeof(struct sluice_list_entry));
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct sluice_list_hash);
} sluice_lists SEC(".maps");

/*
 * Limiter state: one u64 arrival time per key, shared by all CPUs and updated with
 * compare-and-swap (see limiter.h). LRU, so new keys evict old ones and never fail.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_DEFAULT_LIMITER_KEYS);
	__type(key, struct sluice_bucket_key);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_buckets SEC(".maps");

/* Limiter slots (see sluice.h), written by the data path only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_SLOTS);
	__type(key, __u32);
	__type(value, struct sluice_slot);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_slots SEC(".maps");

/* The bucket key of each limiter slot (see sluice.h), written by the data path only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_SLOTS);
	__type(key, __u32);
	__type(value, struct sluice_bucket_key);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_slotkeys SEC(".maps");

/* New-key tier (see sluice.h): keys on probation, written by the data path only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_PROBATION_LINES);
	__type(key, __u32);
	__type(value, struct sluice_probation);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_probation SEC(".maps");

/* Per-CPU counts of the new-key tier's decisions. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_tier_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_tierstats SEC(".maps");

/* Dynamic bans, written by the data path on a ban action and by the controller. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_DEFAULT_BANS);
	__type(key, struct sluice_ban_key);
	__type(value, struct sluice_ban);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_bans SEC(".maps");

/* Ban filter (see sluice.h): set by the data path before each ban it inserts. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_BAN_FILTER_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_banfilter SEC(".maps");

/* Per-CPU packet and byte counters by (interface, rule, verdict, reason). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct sluice_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_stats SEC(".maps");

/* List filters (see sluice.h), written by the controller through mmap; read per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_FILTER_MAP_WORDS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_filter SEC(".maps");

/* Sampled drop events for `sluice events` and `sluice top`; read by the controller. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, SLUICE_EVENT_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_events SEC(".maps");

/* Per-CPU event counts and sampling state, written by the data path. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sluice_event_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_evstats SEC(".maps");

/* When each key last had an event reported, for first-in-period sampling; per-CPU LRU. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SLUICE_EVENT_KEYS);
	__type(key, struct sluice_event_seen_key);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_evseen SEC(".maps");

/* Per-CPU counts and pressure windows of each SYN guard, by its index in the policy. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SLUICE_MAX_GUARDS);
	__type(key, __u32);
	__type(value, struct sluice_guard_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_guardstats SEC(".maps");

/* Whether each SYN guard is engaged, written by the data path as pressure comes and goes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLUICE_MAX_GUARDS);
	__type(key, __u32);
	__type(value, struct sluice_guard_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sluice_guardstate SEC(".maps");

#endif /* SLUICE_MAPS_H */
