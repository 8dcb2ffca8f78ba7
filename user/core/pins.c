// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "log.h"
#include "pins.h"

const char *pin_path = SLUICE_DEFAULT_PIN_PATH;

const char *const pin_map_names[PIN_MAP_COUNT] = {
#define PIN_MAP_NAME(id, name, key, value) [PIN_##id] = name,
	SLUICE_PIN_MAPS(PIN_MAP_NAME)
#undef PIN_MAP_NAME
};

static const struct {
	__u32 key;
	__u32 value;
} pin_map_sizes[PIN_MAP_COUNT] = {
#define PIN_MAP_SIZES(id, name, key, value) [PIN_##id] = { key, value },
	SLUICE_PIN_MAPS(PIN_MAP_SIZES)
#undef PIN_MAP_SIZES
};

__u64 mono_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* True when this process does not share init's mount namespace. */
static bool in_private_mount_ns(void)
{
	struct stat self, init;

	return stat("/proc/self/ns/mnt", &self) == 0 && stat("/proc/1/ns/mnt", &init) == 0 &&
	       self.st_ino != init.st_ino;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

int pins_prepare_dir(const char *dir)
{
	char parent[PATH_MAX];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent) {
		pr_warn("pin path %s: must be a directory below a bpffs mount", dir);
		return -EINVAL;
	}
	*slash = '\0';
	/*
	 * A pin directory inside another instance's would be removed with it by that
	 * instance's last detach, and its lock would not keep that one's verbs out.
	 */
	for (char *up = parent; is_bpffs(up);) {
		char state[PATH_MAX + 16];

		snprintf(state, sizeof(state), "%s/%s", up, pin_map_names[PIN_STATE]);
		if (access(state, F_OK) == 0) {
			pr_warn("pin path %s: inside %s, the pin directory of another instance",
				dir, up);
			return -EINVAL;
		}
		slash = strrchr(up, '/');
		if (!slash || slash == up)
			break;
		*slash = '\0';
	}
	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	if (!is_bpffs(parent)) {
		if (strcmp(parent, "/sys/fs/bpf") != 0) {
			pr_warn("pin path %s: %s is not a bpffs mount", dir, parent);
			return -ENOTSUP;
		}
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			int err = -errno;

			pr_warn("mount bpffs on /sys/fs/bpf: %s", strerror(-err));
			return err;
		}
		pr_info("mounted bpffs on /sys/fs/bpf");
		if (in_private_mount_ns())
			pr_warn("mounted bpffs in a private mount namespace: pins under %s vanish "
				"with it (ip netns exec does this; use nsenter --net instead)",
				dir);
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		int err = -errno;

		pr_warn("create pin directory %s: %s", dir, strerror(-err));
		return err;
	}
	/* mkdir's mode passes through the umask, and an existing directory keeps its own. */
	if (chmod(dir, 0700)) {
		int err = -errno;

		pr_warn("pin directory %s: chmod 0700: %s", dir, strerror(-err));
		return err;
	}
	return 0;
}

double pins_lock_wait = -1;
void (*pins_lock_waiting)(const char *dir, int holder);

int pins_lock_holder(const char *dir)
{
	unsigned int maj, min;
	unsigned long ino;
	struct stat st;
	char line[256];
	int pid = 0;
	FILE *f;

	if (stat(dir, &st) || !(f = fopen("/proc/locks", "re")))
		return 0;
	/*
	 * "1: FLOCK  ADVISORY  WRITE 1234 00:2f:5678 0 EOF"; lines of waiters have a "->"
	 * after the number and are skipped, as they hold nothing.
	 */
	while (!pid && fgets(line, sizeof(line), f)) {
		int holder;

		if (strstr(line, "->") || !strstr(line, "FLOCK"))
			continue;
		if (sscanf(line, "%*d: FLOCK %*s %*s %d %x:%x:%lu", &holder, &maj, &min, &ino) ==
			    4 &&
		    ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev))
			pid = holder;
	}
	fclose(f);
	return pid;
}

/*
 * Takes the directory's flock. When another controller holds it, says so once (through
 * pins_lock_waiting) and waits as pins_lock_wait says: as long as it takes, or up to
 * that many seconds, polling every 20 ms (flock has no timeout), then -ETIMEDOUT.
 */
static int lock_dir(struct pins *p, const char *dir, int how)
{
	struct timespec tick = { 0, 20 * 1000000L };
	__u64 deadline = mono_now_ns() + (pins_lock_wait > 0 ? (__u64)(pins_lock_wait * 1e9) : 0);
	int err;

	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	p->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dir_fd < 0)
		return -errno;
	if (!flock(p->dir_fd, how | LOCK_NB))
		return 0;
	err = -errno;
	if (err == -EWOULDBLOCK) {
		if (pins_lock_waiting)
			pins_lock_waiting(dir, pins_lock_holder(dir));
		err = 0;
		if (pins_lock_wait < 0) {
			if (flock(p->dir_fd, how))
				err = -errno;
		} else {
			while (flock(p->dir_fd, how | LOCK_NB)) {
				if (errno != EWOULDBLOCK) {
					err = -errno;
					break;
				}
				if (mono_now_ns() >= deadline) {
					err = -ETIMEDOUT;
					break;
				}
				nanosleep(&tick, NULL);
			}
		}
	}
	if (err) {
		close(p->dir_fd);
		p->dir_fd = -1;
	}
	return err;
}

int pins_lock(struct pins *p, const char *dir)
{
	p->filter = NULL;
	for (int i = 0; i < PIN_MAP_COUNT; i++)
		p->fds[i] = -1;
	return lock_dir(p, dir, LOCK_EX);
}

static int open_map(struct pins *p, int i)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", p->dir, pin_map_names[i]);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	if (info.key_size != pin_map_sizes[i].key || info.value_size != pin_map_sizes[i].value) {
		pr_warn("%s: key/value size %u/%u, this sluice expects %u/%u: pinned by another "
			"version of sluice; detach every interface with that version first",
			path, info.key_size, info.value_size, pin_map_sizes[i].key,
			pin_map_sizes[i].value);
		close(fd);
		return -EPROTO;
	}
	p->fds[i] = fd;
	p->max_entries[i] = info.max_entries;
	return 0;
}

int pins_open(struct pins *p, const char *dir, bool write)
{
	int err, i;

	p->filter = NULL;
	for (i = 0; i < PIN_MAP_COUNT; i++)
		p->fds[i] = -1;
	/*
	 * Readers take no lock: a writer fills only the inactive generation and switches
	 * with one store, so a reader always sees one whole generation.
	 */
	if (write) {
		err = lock_dir(p, dir, LOCK_EX);
	} else {
		snprintf(p->dir, sizeof(p->dir), "%s", dir);
		p->dir_fd = -1;
		err = access(dir, F_OK) ? -errno : 0;
	}
	if (err)
		return err;
	err = pins_load_maps(p);
	if (err)
		pins_close(p);
	return err;
}

int pins_load_maps(struct pins *p)
{
	struct sluice_state state;
	__u32 zero = 0;
	int err, i;

	for (i = 0; i < PIN_MAP_COUNT; i++) {
		if (p->fds[i] >= 0)
			continue;
		err = open_map(p, i);
		if (err)
			goto fail;
	}
	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state)) {
		err = -errno;
		goto fail;
	}
	if (state.layout_version != SLUICE_LAYOUT_VERSION) {
		pr_warn("%s: maps have layout version %u, this sluice expects %u: detach every "
			"interface with the sluice that attached them first",
			p->dir, state.layout_version, SLUICE_LAYOUT_VERSION);
		err = -EPROTO;
		goto fail;
	}
	return 0;
fail:
	for (i = 0; i < PIN_MAP_COUNT; i++) {
		if (p->fds[i] >= 0)
			close(p->fds[i]);
		p->fds[i] = -1;
	}
	return err;
}

static int create_user_map(struct pins *p, int i, __u32 max_entries)
{
	char path[PATH_MAX];
	int fd, err;

	err = open_map(p, i);
	if (err != -ENOENT)
		return err;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, pin_map_names[i], pin_map_sizes[i].key,
			    pin_map_sizes[i].value, max_entries, NULL);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/%s", p->dir, pin_map_names[i]);
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		close(fd);
		return err;
	}
	p->fds[i] = fd;
	p->max_entries[i] = max_entries;
	return 0;
}

int pins_create_user_maps(struct pins *p)
{
	int err = create_user_map(p, PIN_TEXT, 2);

	if (!err)
		err = create_user_map(p, PIN_IFACES, SLUICE_MAX_IFACES);
	if (!err)
		err = create_user_map(p, PIN_SETS, 2 * SLUICE_MAX_SETS);
	if (!err)
		err = create_user_map(p, PIN_BASELINES, SLUICE_STATS_ENTRIES);
	return err;
}

static size_t filter_bytes(void)
{
	return SLUICE_FILTER_MAP_WORDS * sizeof(__u64);
}

struct list_filter pins_filter(struct pins *p, __u32 list, __u32 gen)
{
	struct list_filter f = {};

	if (!p->filter) {
		void *mem = mmap(NULL, filter_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED,
				 p->fds[PIN_FILTER], 0);

		if (mem == MAP_FAILED)
			return f;
		p->filter = mem;
	}
	f.v4 = p->filter + sluice_filter_region(list, gen, 1);
	f.v6 = p->filter + sluice_filter_region(list, gen, 0);
	return f;
}

void pins_close(struct pins *p)
{
	if (p->filter)
		munmap(p->filter, filter_bytes());
	p->filter = NULL;
	for (int i = 0; i < PIN_MAP_COUNT; i++) {
		if (p->fds[i] >= 0)
			close(p->fds[i]);
		p->fds[i] = -1;
	}
	if (p->dir_fd >= 0)
		close(p->dir_fd); /* drops the flock */
	p->dir_fd = -1;
}

/* Unlinks every pin whose name starts with PREFIX ("" for all); returns how many, or -errno. */
static int unlink_pins(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0, err = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		char path[PATH_MAX];

		if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) && !err)
			err = -errno;
		n++;
	}
	closedir(d);
	return err ? err : n;
}

int pins_remove_all(struct pins *p)
{
	int err = unlink_pins(p->dir, "");

	if (err >= 0 && rmdir(p->dir))
		err = -errno;
	return err < 0 ? err : 0;
}

int pins_clear_leftovers(struct pins *p)
{
	int n = unlink_pins(p->dir, "");

	if (n > 0)
		pr_info("removed %d %s left by an attach that did not finish", n,
			n == 1 ? "pin" : "pins");
	return n < 0 ? n : 0;
}

bool pins_have_links(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d)))
		found = !strncmp(e->d_name, "link_", 5);
	closedir(d);
	return found;
}

int pins_active(const struct pins *p, __u32 *active)
{
	struct sluice_state state;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(p->fds[PIN_STATE], &zero, &state))
		return -errno;
	*active = state.active & 3;
	return 0;
}

long map_batches(int fd, bool delete,
		 long (*visit)(const void *keys, const void *values, __u32 n, void *ctx), void *ctx)
{
	const __u32 chunk = 8192;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	unsigned char cursor[64];
	void *keys = NULL, *values = NULL;
	bool first = true;
	long total = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if ((info.type != BPF_MAP_TYPE_HASH && info.type != BPF_MAP_TYPE_LRU_HASH &&
	     info.type != BPF_MAP_TYPE_ARRAY) ||
	    info.key_size > sizeof(cursor))
		return -EOPNOTSUPP;
	keys = calloc(chunk, info.key_size);
	values = calloc(chunk, info.value_size);
	if (!keys || !values)
		total = -ENOMEM;
	while (total >= 0) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = chunk;
		int err = delete ?
				  bpf_map_lookup_and_delete_batch(fd, first ? NULL : cursor, cursor,
								  keys, values, &count, &opts) :
				  bpf_map_lookup_batch(fd, first ? NULL : cursor, cursor, keys,
						       values, &count, &opts);

		first = false;
		total += visit ? visit(keys, values, count, ctx) : count;
		if (err) {
			if (errno != ENOENT) /* ENOENT: that was the last batch */
				total = -errno;
			break;
		}
	}
	free(keys);
	free(values);
	return total;
}

long long map_memlock(int fd)
{
	char path[64], line[128];
	long long bytes = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lld", &bytes) == 1)
			break;
	fclose(f);
	return bytes;
}

long map_count_entries(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	unsigned char cur[64], next[64];
	bool walked = false;
	long total = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.key_size > sizeof(cur))
		return -EINVAL;
	/* Hashes answer in batches; one call per entry would cost a syscall each. */
	if (info.type == BPF_MAP_TYPE_HASH || info.type == BPF_MAP_TYPE_LRU_HASH)
		return map_batches(fd, false, NULL, NULL);
	while (bpf_map_get_next_key(fd, walked ? cur : NULL, next) == 0) {
		memcpy(cur, next, info.key_size);
		walked = true;
		total++;
	}
	return total;
}

struct slot_counts {
	__u64 now;
	long used, live;
};

static long count_slots(const void *keys, const void *values, __u32 n, void *ctx)
{
	const struct sluice_slot *slots = values;
	struct slot_counts *c = ctx;

	(void)keys;
	for (__u32 i = 0; i < n; i++) {
		c->used += slots[i].tag != 0;
		c->live += slots[i].tag && slots[i].tat > c->now;
	}
	return n;
}

long slots_count_live(int fd)
{
	struct slot_counts c = { .now = mono_now_ns() << SLUICE_TIME_SHIFT };
	long n = map_batches(fd, false, count_slots, &c);

	return n < 0 ? n : c.live;
}

long probation_count_live(int fd)
{
	__u64 now = mono_now_ns() << SLUICE_TIME_SHIFT;
	size_t bytes = (size_t)SLUICE_PROBATION_LINES * sizeof(struct sluice_probation);
	const struct sluice_probation *lines;
	long live = 0;

	lines = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
	if (lines == MAP_FAILED)
		return -errno;
	for (__u32 l = 0; l < SLUICE_PROBATION_LINES; l++)
		for (__u32 w = 0; w < SLUICE_PROBATION_WAYS; w++)
			live += lines[l].tag[w] && lines[l].tat[w] > now;
	munmap((void *)lines, bytes);
	return live;
}

int limiter_usage_read(const struct pins *p, struct limiter_usage *u)
{
	__u64 now = mono_now_ns() << SLUICE_TIME_SHIFT;
	struct slot_counts slots = { .now = now };
	int ncpus = libbpf_num_possible_cpus();
	struct sluice_tier_stats *percpu;
	__u32 zero = 0;
	int err = 0;
	long n;

	memset(u, 0, sizeof(*u));
	if (ncpus < 0)
		return ncpus;
	n = map_batches(p->fds[PIN_SLOTS], false, count_slots, &slots);

	u->slots_used = slots.used;
	u->slots_live = slots.live;
	u->buckets = map_count_entries(p->fds[PIN_BUCKETS]);
	u->probation_live = probation_count_live(p->fds[PIN_PROBATION]);
	if (n < 0 || u->buckets < 0 || u->probation_live < 0)
		return n < 0 ? (int)n : u->buckets < 0 ? (int)u->buckets : (int)u->probation_live;
	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	if (bpf_map_lookup_elem(p->fds[PIN_TIERSTATS], &zero, percpu))
		err = -errno;
	for (int c = 0; c < ncpus && !err; c++) {
		u->tier.admitted += percpu[c].admitted;
		u->tier.refused += percpu[c].refused;
		u->tier.promoted += percpu[c].promoted;
		u->tier.displaced += percpu[c].displaced;
	}
	free(percpu);
	return err;
}

__u32 pins_pinned_max_entries(const char *dir, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}
