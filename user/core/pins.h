/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The pin directory: the pinned maps and links every controller verb works on, and its lock. */
#ifndef SLUICE_PINS_H
#define SLUICE_PINS_H

#include <stdbool.h>
#include <linux/types.h>
#include "sluice.h"

#define SLUICE_DEFAULT_PIN_PATH "/sys/fs/bpf/sluice"
#define SLUICE_TEXT_MAX 65536 /* bytes of rule and setting lines per policy generation */
#define SLUICE_IFNAME_LEN 16

/* Controller-only record of an attached interface, in the pinned map sluice_ifaces. */
struct sluice_iface {
	__u32 ifindex; /* 0: slot free */
	__u32 mode; /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
	__u32 prog_id;
	__u32 pad;
	__u64 attached; /* CLOCK_REALTIME seconds */
	char name[SLUICE_IFNAME_LEN];
};
_Static_assert(sizeof(struct sluice_iface) == 40, "sluice_iface layout");

/*
 * A named set of a list, in the controller's map sluice_sets at list x SLUICE_MAX_SETS
 * + its bit in the entries' sets word (sluice.h); name "" is a free slot. Slot 0 of each
 * list, SLUICE_SET_MANUAL, stands for the entries added by hand and has no name.
 */
struct sluice_set {
	char name[SLUICE_NAME_LEN];
	__u64 refreshed; /* CLOCK_REALTIME seconds of its last import or restore */
	__u64 entries; /* what that import or restore gave it */
};
_Static_assert(sizeof(struct sluice_set) == 48, "sluice_set layout");

/* The policy's rule and setting lines, one value per generation, in the pinned map sluice_text. */
struct sluice_text {
	__u32 len;
	char text[SLUICE_TEXT_MAX - 4];
};

/*
 * Every pinned map, once: its index, pin name, and the key and value sizes it must have
 * for this layout version (ring buffers: 0, 0). The program's maps come first; the
 * controller's own (text, ifaces, sets, baselines) last, as they are created after the
 * program's.
 */
#define SLUICE_PIN_MAPS(X)                                                                         \
	X(STATE, "sluice_state", 4, sizeof(struct sluice_state))                                   \
	X(POLICY, "sluice_policy", 4, sizeof(struct sluice_policy))                                \
	X(LISTS, "sluice_lists", 4, 4)                                                             \
	X(BUCKETS, "sluice_buckets", sizeof(struct sluice_bucket_key), sizeof(__u64))              \
	X(PROBATION, "sluice_probation", 4, sizeof(struct sluice_probation))                       \
	X(BANS, "sluice_bans", sizeof(struct sluice_ban_key), sizeof(struct sluice_ban))           \
	X(STATS, "sluice_stats", 4, sizeof(struct sluice_counter))                                 \
	X(FILTER, "sluice_filter", 4, sizeof(__u64))                                               \
	X(EVENTS, "sluice_events", 0, 0)                                                           \
	X(EVSTATS, "sluice_evstats", 4, sizeof(struct sluice_event_stats))                         \
	X(EVSEEN, "sluice_evseen", sizeof(struct sluice_event_seen_key), sizeof(__u64))            \
	X(BANFILTER, "sluice_banfilter", 4, sizeof(__u64))                                         \
	X(SLOTS, "sluice_slots", 4, sizeof(struct sluice_slot))                                    \
	X(SLOTKEYS, "sluice_slotkeys", 4, sizeof(struct sluice_bucket_key))                        \
	X(TIERSTATS, "sluice_tierstats", 4, sizeof(struct sluice_tier_stats))                      \
	X(GUARDSTATS, "sluice_guardstats", 4, sizeof(struct sluice_guard_stats))                   \
	X(GUARDSTATE, "sluice_guardstate", 4, sizeof(struct sluice_guard_state))                   \
	X(TEXT, "sluice_text", 4, sizeof(struct sluice_text))                                      \
	X(IFACES, "sluice_ifaces", 4, sizeof(struct sluice_iface))                                 \
	X(SETS, "sluice_sets", 4, sizeof(struct sluice_set))                                       \
	X(BASELINES, "sluice_baselines", 4, sizeof(struct sluice_counter))

enum pin_map {
#define PIN_MAP_ENUM(id, name, key, value) PIN_##id,
	SLUICE_PIN_MAPS(PIN_MAP_ENUM)
#undef PIN_MAP_ENUM
		PIN_MAP_COUNT,
};

extern const char *const pin_map_names[PIN_MAP_COUNT];

struct pins {
	char dir[512];
	int dir_fd; /* holds the flock */
	int fds[PIN_MAP_COUNT];
	__u32 max_entries[PIN_MAP_COUNT];
	__u64 *filter; /* sluice_filter, mapped on first use */
};

/* The pin directory in use: --pin-path, else SLUICE_DEFAULT_PIN_PATH. */
extern const char *pin_path;

/*
 * Makes sure bpffs is mounted under the pin directory (mounting /sys/fs/bpf when it
 * is not, as ip and xdp-loader do) and creates the directory (0700). A DIR inside
 * another instance's pin directory is refused, -EINVAL. -errno.
 */
int pins_prepare_dir(const char *dir);

/*
 * How long a writer waits for the lock another controller holds: seconds, or < 0 (the
 * default) for as long as it takes. The CLI's --wait sets it.
 */
extern double pins_lock_wait;

/* Called once when a writer finds the lock held, with the holder's pid (0 if unknown). */
extern void (*pins_lock_waiting)(const char *dir, int holder);

/* The pid holding DIR's flock, from /proc/locks; 0 if none or unknown. */
int pins_lock_holder(const char *dir);

/*
 * Locks the pin directory exclusively, waiting for another controller as pins_lock_wait
 * says. -ENOENT if no directory, -ETIMEDOUT when the wait ran out.
 */
int pins_lock(struct pins *p, const char *dir);

/*
 * Opens every pinned map and checks the layout version and sizes; WRITE also takes
 * the exclusive lock. -ENOENT when nothing is attached under
 * the directory, -EPROTO on a layout mismatch (with a message printed).
 */
int pins_open(struct pins *p, const char *dir, bool write);

/* Opens the pinned maps not yet open and checks their layout; the caller holds the lock. */
int pins_load_maps(struct pins *p);

/* Creates the controller-only maps (text, ifaces) if missing and pins them. */
int pins_create_user_maps(struct pins *p);

void pins_close(struct pins *p);

/* Removes every pin and the directory (after the last detach). */
int pins_remove_all(struct pins *p);

/*
 * Removes the pins of an instance with no interface linked: what an attach killed
 * half-way leaves. The directory (and its lock) stays.
 */
int pins_clear_leftovers(struct pins *p);

/* Does DIR hold a pinned XDP link, i.e. an instance with an interface attached? */
bool pins_have_links(const char *dir);

/* The live word of sluice_state: SLUICE_ACTIVE_POLICY and SLUICE_ACTIVE_LISTS bits. */
int pins_active(const struct pins *p, __u32 *active);

/* The list filter (sluice.h) of a list (0 allow, 1 block) and generation, mapped. */
struct list_filter {
	__u64 *v4, *v6; /* the regions of each family; NULL if the map could not be mapped */
};

struct list_filter pins_filter(struct pins *p, __u32 list, __u32 gen);

/*
 * Reads a hash or array map in batches, and with DELETE empties it; each batch of N values
 * goes to VISIT, whose result is summed (without VISIT, N is). Returns the sum or -errno;
 * -EOPNOTSUPP for a map type without batches (the trie).
 */
long map_batches(int fd, bool delete,
		 long (*visit)(const void *keys, const void *values, __u32 n, void *ctx),
		 void *ctx);

/* Kernel memory a map holds (its fdinfo's memlock), in bytes; -errno. */
long long map_memlock(int fd);

/* Entries in a hash or trie map: batch lookups where the map has them, else a key walk. */
long map_count_entries(int fd);

/* Limiter slots (sluice.h) that hold a key's live state: a bucket not full. -errno. */
long slots_count_live(int fd);

/* Keys on probation (sluice_probation, FD) whose bucket is not full; -errno. */
long probation_count_live(int fd);

/* Where the limiter holds its keys now, and what the new-key tier decided (sluice.h). */
struct limiter_usage {
	long slots_used; /* slots a key ever took */
	long slots_live; /* ... whose bucket is not full */
	long buckets; /* keys in the LRU map */
	long probation_live; /* keys on probation whose bucket is not full */
	struct sluice_tier_stats tier; /* summed over CPUs */
};

/* Reads U from the pinned limiter maps. -errno. */
int limiter_usage_read(const struct pins *p, struct limiter_usage *u);

/* Reads a map's max_entries from a pinned map at DIR/NAME; 0 if it is not pinned. */
__u32 pins_pinned_max_entries(const char *dir, const char *name);

/* Current CLOCK_MONOTONIC in ns, the clock the data path compares expiries against. */
__u64 mono_now_ns(void);

#endif /* SLUICE_PINS_H */
