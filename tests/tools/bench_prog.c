// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_prog: what one packet costs the sluice XDP program, measured with
 * BPF_PROG_TEST_RUN against a bare XDP_DROP program in the same run, under a realistic
 * load written straight into unpinned maps (nothing touches /sys/fs/bpf). Prints one
 * JSON document; scripts/bench.sh turns it into tables.
 *
 *   bench_prog [--runs N] [--repeat N] [--quick] [--only cost,ablation,micro,churn,
 *              rotating,scale-lists,scale-keys,accuracy,guard]
 *
 * Every figure is the median over runs of the kernel's mean ns per repeat; scenarios
 * with several sources take the mean over their sources in each run first. Before it is
 * timed, each scenario's packet is run once and the counter it moved is checked against
 * the path the scenario means to measure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>
#include "sluice.h"
#include "grammar.h"
#include "lists.h"
#include "pins.h"
#include "ban_filter.h"
#include "policy.h"
#include "sluice.skel.h"
#include "trafficgen.skel.h"

#define MAX_SRCS 8
#define FRAME_LEN 60 /* 64 bytes on the wire with the FCS */
#define SEED 0x5eed5eedULL

/* ---- options and output ---- */

static struct {
	int runs;
	__u32 repeat;
	bool quick;
	char only[256];
} opt = { .runs = 5, .repeat = 1000000 };

static json_t *out;

static bool want(const char *section)
{
	char buf[256], *tok, *save = NULL;

	if (!opt.only[0])
		return true;
	snprintf(buf, sizeof(buf), "%s", opt.only);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (!strcmp(tok, section))
			return true;
	return false;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_prog: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}

static __u64 now_ns(void)
{
	return mono_now_ns();
}

/* splitmix64: deterministic lists and sources from one seed. */
static __u64 rng_state = SEED;
static __u64 rnd(void)
{
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long mem_available_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- addresses and frames ---- */

static void v4_mapped(__u32 out[4], __u32 host_addr)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = htonl(0xffff);
	out[3] = htonl(host_addr);
}

static void mask128(__u32 a[4], __u32 plen)
{
	for (int i = 0; i<4; i++, plen = plen> 32 ? plen - 32 : 0)
		a[i] &= plen >= 32 ? 0xffffffff : plen ? htonl(0xffffffffU << (32 - plen)) : 0;
}

static void fmt_addr(const __u32 a[4], char *buf, size_t len)
{
	if (a[0] == 0 && a[1] == 0 && a[2] == htonl(0xffff))
		inet_ntop(AF_INET, &a[3], buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}

static bool is_v4(const __u32 a[4])
{
	return a[0] == 0 && a[1] == 0 && a[2] == htonl(0xffff);
}

struct frame {
	__u8 data[128];
	__u32 len;
};

enum damage {
	DAMAGE_NONE = 0,
	DAMAGE_IHL, /* IPv4 header length 4: refused while reading the IP header */
	DAMAGE_LENGTH, /* IPv4 total length past the frame: refused after the lists */
};

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/* Ethernet + IPv4 or IPv6 + UDP, FRAME_LEN bytes, from SRC (128-bit form) to DPORT. */
static void build_udp(struct frame *f, const __u32 src[4], __u16 dport, enum damage damage)
{
	static const __u8 macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	__u8 *ip = f->data + ETH_HLEN, *udp;
	__u32 dst4 = htonl(0xc6120001); /* 198.18.0.1 */
	__u8 dst6[16] = { 0xfd, 0, 0, 5, [15] = 1 }; /* fd00:5::1 */

	memset(f, 0, sizeof(*f));
	f->len = FRAME_LEN;
	memcpy(f->data, macs, sizeof(macs));
	if (is_v4(src)) {
		put16(f->data + 12, ETH_P_IP);
		ip[0] = damage == DAMAGE_IHL ? 0x44 : 0x45;
		put16(ip + 2, FRAME_LEN - ETH_HLEN + (damage == DAMAGE_LENGTH ? 100 : 0));
		ip[8] = 64;
		ip[9] = IPPROTO_UDP;
		memcpy(ip + 12, &src[3], 4);
		memcpy(ip + 16, &dst4, 4);
		udp = ip + 20;
	} else {
		put16(f->data + 12, ETH_P_IPV6);
		ip[0] = 0x60;
		put16(ip + 4, FRAME_LEN - ETH_HLEN - 40);
		ip[6] = IPPROTO_UDP;
		ip[7] = 64;
		memcpy(ip + 8, src, 16);
		memcpy(ip + 24, dst6, 16);
		udp = ip + 40;
	}
	put16(udp, 40000);
	put16(udp + 2, dport);
	put16(udp + 4, f->data + FRAME_LEN - udp);
}

/* ---- raw probe programs ---- */

struct insns {
	struct bpf_insn i[64];
	int n;
};

static void emit(struct insns *p, struct bpf_insn insn)
{
	if (p->n < 64)
		p->i[p->n++] = insn;
}

#define INSN(c, d, s, o, im)                                                                       \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (im) })

static void emit_ret(struct insns *p, int action)
{
	emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, action));
	emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
}

/* r1 = map, r2 = fp - size with KEY stored there, call bpf_map_lookup_elem. */
static void emit_lookup(struct insns *p, int map_fd, const void *key, __u32 size)
{
	__u32 words[8] = {};
	__u32 slot = (size + 7) & ~7U;

	memcpy(words, key, size);
	for (__u32 i = 0; i < slot / 4; i++)
		emit(p,
		     INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -(int)slot + 4 * i, words[i]));
	emit(p, INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd));
	emit(p, INSN(0, 0, 0, 0, 0));
	emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0));
	emit(p, INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -(int)slot));
	emit(p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
}

static int load_insns(const struct insns *p)
{
	char log[4096] = "";
	LIBBPF_OPTS(bpf_prog_load_opts, lo, .log_buf = log, .log_size = sizeof(log),
		    .expected_attach_type =
			    BPF_XDP); /* as libbpf loads SEC("xdp"): tail calls need it */
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_probe", "GPL", p->i, p->n, &lo);

	if (fd < 0) {
		int err = -errno;

		lo.log_level = 1;
		bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_probe", "GPL", p->i, p->n, &lo);
		note("load probe: %s\n%s", strerror(-err), log);
		return err;
	}
	return fd;
}

static int probe_bare(int action)
{
	struct insns p = {};

	emit_ret(&p, action);
	return load_insns(&p);
}

static int probe_helper(int func)
{
	struct insns p = {};

	emit(&p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, func));
	emit_ret(&p, XDP_DROP);
	return load_insns(&p);
}

enum probe_then {
	THEN_NOTHING = 0,
	THEN_INC, /* plain increment of the u64 found, as a per-CPU counter is bumped */
	THEN_CAS, /* compare-and-swap of the u64 found, as a shared bucket is updated */
};

static int probe_lookup(int map_fd, const void *key, __u32 size, enum probe_then then)
{
	struct insns p = {};

	emit_lookup(&p, map_fd, key, size);
	if (then == THEN_INC) {
		emit(&p, INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 3, 0));
		emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_1, BPF_REG_0, 0, 0));
		emit(&p, INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 1));
		emit(&p, INSN(BPF_STX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_1, 0, 0));
	} else if (then == THEN_CAS) {
		emit(&p, INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 5, 0));
		emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_0, 0, 0));
		emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_0, BPF_REG_6, 0, 0));
		emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_0, 0, 0));
		emit(&p, INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, 0));
		emit(&p, INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_6, BPF_REG_1, 0, BPF_CMPXCHG));
	}
	emit_ret(&p, XDP_DROP);
	return load_insns(&p);
}

/* Keys a probe builds from the packet's IPv4 source, as the data path builds them. */
enum src_key {
	SRC_KEY_LPM, /* struct sluice_lpm_key, /128 of the 128-bit form */
	SRC_KEY_ADDR, /* the 16-byte 128-bit form alone */
	SRC_KEY_BUCKET, /* struct sluice_bucket_key of an IPv4 /32 limit */
	SRC_KEY_SLASH16, /* u32 index: the first two bytes of the address */
};

/*
 * A probe that looks up the source of the packet it is given: timed behind gen_tail, it
 * shows what one lookup costs when every packet brings another source.
 */
static int probe_src_lookup(int map_fd, enum src_key form, __u32 limit_id)
{
	struct insns p = {};
	int jump;

	emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0)); /* data */
	emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 4, 0)); /* data_end */
	emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_2, 0, 0));
	emit(&p, INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, ETH_HLEN + 20));
	jump = p.n;
	emit(&p, INSN(BPF_JMP | BPF_JGT | BPF_X, BPF_REG_4, BPF_REG_3, 0, 0));
	emit(&p, INSN(BPF_LDX | BPF_MEM | (form == SRC_KEY_SLASH16 ? BPF_H : BPF_W), BPF_REG_5,
		      BPF_REG_2, ETH_HLEN + 12, 0));
	switch (form) {
	case SRC_KEY_LPM:
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -24, 128));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -20, 0));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -16, 0));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -12, htonl(0xffff)));
		emit(&p, INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_5, -8, 0));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0));
		break;
	case SRC_KEY_ADDR:
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -24, 0));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -20, 0));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -16, htonl(0xffff)));
		emit(&p, INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_5, -12, 0));
		break;
	case SRC_KEY_BUCKET:
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -24, limit_id));
		/* dport 0, family 4, pad 0, in memory order */
		emit(&p,
		     INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -20, SLUICE_FAMILY_IPV4 << 16));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -16, 0));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -12, 0));
		emit(&p, INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -8, htonl(0xffff)));
		emit(&p, INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_5, -4, 0));
		break;
	case SRC_KEY_SLASH16:
		emit(&p, INSN(BPF_STX | BPF_MEM | BPF_W, BPF_REG_10, BPF_REG_5, -24, 0));
		break;
	}
	emit(&p, INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd));
	emit(&p, INSN(0, 0, 0, 0, 0));
	emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0));
	emit(&p, INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -24));
	emit(&p, INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem));
	p.i[jump].off = p.n - jump - 1;
	emit_ret(&p, XDP_DROP);
	return load_insns(&p);
}

/* ---- timing ---- */

/* Mean ns per run of PROG on F over REPEAT runs, as the kernel timed it; -errno. */
static int time_prog(int prog, const struct frame *f, __u32 repeat, double *ns, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->data, .data_size_in = f->len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(prog, &o))
		return -errno;
	*ns = o.duration;
	if (retval)
		*retval = o.retval;
	return 0;
}

/*
 * One timed case: PROG over its frames. `value` is the median over runs of the mean over
 * frames; `bare` the median of the bare program timed in the same rounds.
 */
struct tcase {
	const char *name;
	const char *label; /* what the row means, for the table */
	int prog;
	struct frame f[MAX_SRCS];
	int nf;
	double runs[32];
	double bare_runs[32];
	double value, bare;
	__u32 retval;
	char path[96]; /* the counter the packet moved: "DROP/BLOCKLIST rule -" */
	int err;
};

static int bare_drop_fd = -1;
static struct frame bare_frame;

/* Interleaves the cases with the bare program, round after round, so drift hits all alike. */
static void time_cases(struct tcase *c, int n)
{
	int r, i, j;

	for (r = 0; r < opt.runs; r++) {
		for (i = 0; i < n; i++) {
			double sum = 0, ns;

			if (c[i].err)
				continue;
			for (j = 0; j < c[i].nf; j++) {
				c[i].err = time_prog(c[i].prog, &c[i].f[j], opt.repeat, &ns,
						     &c[i].retval);
				if (c[i].err) {
					note("%s: test run: %s", c[i].name, strerror(-c[i].err));
					break;
				}
				sum += ns;
			}
			c[i].runs[r] = sum / c[i].nf;
			if (!c[i].err &&
			    !time_prog(bare_drop_fd, &bare_frame, opt.repeat, &ns, NULL))
				c[i].bare_runs[r] = ns;
		}
	}
	for (i = 0; i < n; i++) {
		double tmp[32];

		memcpy(tmp, c[i].runs, sizeof(tmp));
		c[i].value = median(tmp, opt.runs);
		memcpy(tmp, c[i].bare_runs, sizeof(tmp));
		c[i].bare = median(tmp, opt.runs);
	}
}

static json_t *case_json(const struct tcase *c)
{
	json_t *o = json_object(), *runs = json_array();

	for (int r = 0; r < opt.runs; r++)
		json_array_append_new(runs, json_real(c->runs[r]));
	json_object_set_new(o, "name", json_string(c->name));
	if (c->label)
		json_object_set_new(o, "label", json_string(c->label));
	if (c->err) {
		json_object_set_new(o, "error", json_string(strerror(-c->err)));
		return o;
	}
	json_object_set_new(o, "ns", json_real(c->value));
	json_object_set_new(o, "bare_ns", json_real(c->bare));
	json_object_set_new(o, "over_bare_ns", json_real(c->value - c->bare));
	json_object_set_new(o, "sources", json_integer(c->nf));
	json_object_set_new(o, "runs", runs);
	json_object_set_new(o, "retval",
			    json_string(c->retval == XDP_DROP ? "XDP_DROP" :
					c->retval == XDP_PASS ? "XDP_PASS" :
								"other"));
	if (c->path[0])
		json_object_set_new(o, "path", json_string(c->path));
	return o;
}

/* ---- the loaded sluice program and its maps ---- */

struct env {
	struct sluice *skel;
	int prog, state, policy, allow, block, buckets, bans, stats;
	struct sluice_policy pol; /* slot 0 as written */
	int ncpus;
	/* sources chosen while filling, for the scenarios */
	__u32 block_src[MAX_SRCS][4];
	__u32 block6_src[MAX_SRCS][4];
	__u32 allow_src[MAX_SRCS][4];
	int nblock_src, nblock6_src, nallow_src;
	__u32 limit_under, limit_three[3];
	__u32 tracked; /* bucket keys written */
	long long buckets_memlock;
	__u32 buckets_max;
	struct pins pins; /* the skeleton's maps, for the controller's own list functions */
};

struct load_cfg {
	__u32 block4, block6, allow4, allow6, bans, tracked, buckets_max;
};

/* The policy of the program-cost scenarios: 16 rules, the measured ones last. */
static const char *const policy_lines[] = {
	"set malformed drop",
	"rule add ssh tcp dport 22 syn limit src/32 rate 10/m burst 5 action ban 10m",
	"rule add http tcp dport 80 syn limit src/32 rate 50/s burst 100",
	"rule add https tcp dport 443 syn limit src/32 rate 50/s burst 100",
	"rule add dns udp dport 53 limit src/32 rate 100/s burst 200 limit src/24 rate 1000/s "
	"burst 2000",
	"rule add ntp udp dport 123 limit global rate 1000/s",
	"rule add ping icmp limit src/32 rate 10/s burst 20",
	"rule add admin tcp dport 8443 action drop",
	"rule add mgmt tcp dport 9100-9200 action drop",
	"rule add smtp tcp dport 25 syn limit src/24 rate 20/s",
	"rule add quic udp dport 443 limit src/32 rate 1000/s burst 2000",
	"rule add memcached udp dport 11211 action drop",
	"rule add ssdp udp dport 1900 action drop",
	"rule add v6udp ip6 udp dport 5000-5100 limit src6/64 rate 100/s",
	/*
	 * 1e9/s with a burst of 1e11 (100 s): a key never runs dry, so every packet takes
	 * the CAS, on the coarse clock (a burst under 10 ms would read the ns clock, +23 ns),
	 * and a tracked key 50 s into its burst holds live state through the bench.
	 */
	"rule add under udp dport 7000 limit src/32 rate 1000000000/s burst 100000000000",
	"rule add over udp dport 7001 limit src/32 rate 1/h burst 1",
	"rule add three udp dport 7002 limit src/32 rate 1000000000/s burst 100000000 "
	"limit src/24 rate 1000000000/s burst 100000000 "
	"limit global rate 1000000000/s burst 100000000",
};
#define DPORT_NOMATCH 7777
#define DPORT_UNDER 7000
#define DPORT_OVER 7001
#define DPORT_THREE 7002
#define DPORT_ACC 7003
#define TRACKED_BASE 0x0a000000U /* 10.0.0.0: pre-tracked keys, up to 10.255.255.255 */
#define CHURN_BASE 0x0a800000U /* 10.128.0.0: never tracked, for the churn flood */

static int build_policy(const char *const *lines, int n, struct sluice_policy *pol)
{
	static struct policy_doc doc;
	struct parse_error err = {};
	char line[GRAMMAR_LINE_MAX];
	__u64 fresh;
	int ret;

	policy_init(&doc);
	for (int i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%s", lines[i]);
		ret = policy_parse_line(&doc, line, &err);
		if (ret) {
			note("policy line %d: %s", i + 1, err.msg);
			goto out;
		}
	}
	ret = policy_build(&doc, NULL, pol, &fresh, &err);
	if (ret)
		note("policy: %s", err.msg);
out:
	policy_free(&doc);
	return ret;
}

static int rule_index(const struct sluice_policy *pol, const char *name)
{
	for (__u32 i = 0; i < pol->nrules; i++)
		if (!strcmp(pol->rules[i].name, name))
			return i;
	return -1;
}

/* Is a 128-bit-form prefix inside one of the ranges the scenarios' own sources use? */
static bool v4_reserved(__u32 host_addr, __u32 plen4)
{
	static const struct {
		__u32 net, plen;
	} reserved[] = {
		{ 0x0a000000, 8 }, /* 10/8: tracked and churn keys */
		{ 0xc6120000, 15 }, /* 198.18/15: the bench's own addresses */
		{ 0x00000000, 8 },
		{ 0x7f000000, 8 },
	};

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		__u32 p = plen4 < reserved[i].plen ? plen4 : reserved[i].plen;
		__u32 m = p ? 0xffffffffU << (32 - p) : 0;

		if ((host_addr & m) == (reserved[i].net & m))
			return true;
	}
	return false;
}

/*
 * Prefix lengths of a blocklist feed: mostly single addresses, then /24s, a few
 * wider networks (they cover about 1% of the IPv4 space at 100k entries).
 */
static __u32 pick_plen4(void)
{
	__u32 r = rnd() % 100;

	if (r < 70)
		return 32;
	if (r < 90)
		return 24;
	if (r < 98)
		return 21 + rnd() % 3;
	return 16 + rnd() % 5;
}

static __u32 pick_plen6(void)
{
	__u32 r = rnd() % 100;

	if (r < 40)
		return 128;
	if (r < 80)
		return 64;
	if (r < 90)
		return 56;
	if (r < 98)
		return 48;
	return 32;
}

/* A random prefix: IPv4 anywhere but the reserved ranges, IPv6 in 2000::/3. */
static void random_prefix(int family, struct sluice_lpm_key *k)
{
	__u64 a = rnd(), b = rnd();

	memset(k, 0, sizeof(*k));
	if (family == 4) {
		__u32 plen4, addr;

		do {
			plen4 = pick_plen4();
			addr = (__u32)a & (0xffffffffU << (32 - plen4));
			a = rnd();
		} while (v4_reserved(addr, plen4));
		v4_mapped(k->addr, addr);
		k->prefixlen = SLUICE_V4_MAPPED_PLEN + plen4;
	} else {
		k->addr[0] = htonl(0x20000000 | ((__u32)a & 0x1fffffff));
		k->addr[1] = htonl((__u32)(a >> 32));
		k->addr[2] = htonl((__u32)b);
		k->addr[3] = htonl((__u32)(b >> 32));
		k->prefixlen = pick_plen6();
		mask128(k->addr, k->prefixlen);
	}
}

/*
 * Lists one prefix as the controller does (lists_add: the hash entry, the list's filter
 * bits, the policy's list flag); -EEXIST when the prefix is already listed.
 */
static int list_insert(struct env *e, enum list_kind kind, const struct sluice_lpm_key *k)
{
	struct sluice_list_entry v = { .sets = 1ULL << SLUICE_SET_MANUAL };
	struct list_item item = { .kind = kind };

	/* The hash's own NOEXIST tells a new prefix; lists_add then writes it properly. */
	if (bpf_map_update_elem(kind == LIST_ALLOW ? e->allow : e->block, k, &v, BPF_NOEXIST))
		return -errno;
	key_to_prefix(k, &item.prefix);
	return lists_add(&e->pins, &item);
}

/* Fills N distinct random prefixes; records up to MAX_SRCS sources inside evenly spaced ones. */
static int fill_list(struct env *env, enum list_kind kind, int family, __u32 n, __u32 (*srcs)[4],
		     int *nsrcs)
{
	struct sluice_lpm_key k;
	__u32 done = 0, stride = n / MAX_SRCS ? n / MAX_SRCS : 1;
	int ret;

	while (done < n) {
		random_prefix(family, &k);
		ret = list_insert(env, kind, &k);
		if (ret == -EEXIST)
			continue;
		if (ret) {
			note("fill list: %s after %u entries", strerror(-ret), done);
			return ret;
		}
		if (srcs && done % stride == stride / 2 && *nsrcs < MAX_SRCS) {
			__u32 *s = srcs[(*nsrcs)++];

			/* The prefix with random host bits: a source the entry matches. */
			__u32 m[4] = { ~0U, ~0U, ~0U, ~0U };

			mask128(m, k.prefixlen);
			for (int i = 0; i < 4; i++)
				s[i] = (k.addr[i] & m[i]) | (htonl((__u32)rnd()) & ~m[i]);
		}
		done++;
	}
	return 0;
}

/* Whether a live entry of KIND covers the host key K, found as the controller finds it. */
static bool listed(const struct env *e, enum list_kind kind, const struct sluice_lpm_key *k)
{
	struct prefix host, net;

	key_to_prefix(k, &host);
	return list_lookup(&e->pins, kind, 0, &host, &net) == 1;
}

/* The key of the entry of KIND covering the host key K (K itself when none does). */
static struct sluice_lpm_key covering_key(struct env *e, enum list_kind kind,
					  const struct sluice_lpm_key *k)
{
	struct sluice_lpm_key key = *k;
	struct prefix host, net;

	key_to_prefix(k, &host);
	if (list_lookup(&e->pins, kind, 0, &host, &net) == 1)
		prefix_to_key(&net, &key);
	return key;
}

/* A random IPv4 source that neither list matches: the no-match and limiter scenarios use these. */
static void unlisted_v4(const struct env *e, __u32 out[4])
{
	struct sluice_lpm_key k = { .prefixlen = 128 };

	for (;;) {
		__u32 a = (__u32)rnd();

		if (v4_reserved(a, 32))
			continue;
		v4_mapped(k.addr, a);
		if (listed(e, LIST_BLOCK, &k) || listed(e, LIST_ALLOW, &k))
			continue;
		memcpy(out, k.addr, 16);
		return;
	}
}

/* How far ahead of now the pre-tracked keys' arrival times are: live state for seconds. */
#define TRACKED_AHEAD_UNITS (50 * SLUICE_UNITS_PER_SEC)

/*
 * Tracks N keys under LIMIT_ID as the data path would: each in the first free one of its
 * two slots, the rest in the LRU map, noted in their probation lines (so the data path
 * knows it must search the LRU map for them).
 */
static int fill_buckets(struct env *e, __u32 n, __u32 limit_id)
{
	const __u32 chunk = 65536;
	struct sluice_bucket_key *keys = calloc(chunk, sizeof(*keys));
	struct sluice_slot *slots = calloc(chunk, sizeof(*slots));
	__u32 *idx = calloc(chunk, sizeof(*idx));
	__u64 *vals = calloc(chunk, sizeof(*vals));
	__u64 *taken = calloc(SLUICE_SLOTS / 64, sizeof(*taken));
	size_t probation_bytes = (size_t)SLUICE_PROBATION_LINES * sizeof(struct sluice_probation);
	struct sluice_probation *lines = mmap(NULL, probation_bytes, PROT_READ | PROT_WRITE,
					      MAP_SHARED, e->pins.fds[PIN_PROBATION], 0);
	__u64 tat = (now_ns() << SLUICE_TIME_SHIFT) + TRACKED_AHEAD_UNITS;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int ret = 0;

	if (!keys || !slots || !idx || !vals || !taken || lines == MAP_FAILED) {
		ret = lines == MAP_FAILED ? -errno : -ENOMEM;
		goto out;
	}
	for (__u32 base = 0; base < n && !ret; base += chunk) {
		__u32 cnt = n - base < chunk ? n - base : chunk, nslots = 0, nlru = 0;

		for (__u32 i = 0; i < cnt; i++) {
			struct sluice_bucket_key k = { .limit_id = limit_id,
						       .family = SLUICE_FAMILY_IPV4 };
			struct sluice_slot_ref ref;
			int c;

			v4_mapped(k.addr, TRACKED_BASE + base + i);
			sluice_slot_ref(&k, 128, &ref);
			for (c = 0; c < 2 && (taken[ref.idx[c] / 64] >> (ref.idx[c] % 64)) & 1; c++)
				;
			if (c < 2) {
				taken[ref.idx[c] / 64] |= 1ULL << (ref.idx[c] % 64);
				idx[nslots] = ref.idx[c];
				slots[nslots++] =
					(struct sluice_slot){ .tag = ref.tag, .tat = tat };
			} else {
				__u32 b = sluice_probation_lru_bit(ref.tag);

				lines[sluice_probation_line(&ref)].in_lru[b / 64] |= 1ULL
										     << (b % 64);
				keys[nlru] = k;
				vals[nlru++] = tat;
			}
		}
		if (nslots &&
		    bpf_map_update_batch(e->pins.fds[PIN_SLOTS], idx, slots, &nslots, &bo))
			ret = -errno;
		if (!ret && nlru && bpf_map_update_batch(e->buckets, keys, vals, &nlru, &bo))
			ret = -errno;
		if (ret)
			note("fill buckets: %s after %u keys", strerror(-ret), base);
	}
	e->tracked = n;
out:
	if (lines != MAP_FAILED)
		munmap(lines, probation_bytes);
	free(keys);
	free(slots);
	free(idx);
	free(vals);
	free(taken);
	return ret;
}

static int fill_bans(struct env *e, __u32 n, const __u32 extra[4])
{
	struct sluice_ban ban = { .expires_ns = now_ns() + 3600ULL * 1000000000ULL };
	struct sluice_ban_key k = { .prefixlen = 128 };
	int ssh = rule_index(&e->pol, "ssh"), ret;

	ban.stat_slot = ssh >= 0 ? e->pol.rules[ssh].stat_slot : 0;
	for (__u32 i = 0; i <= n; i++) {
		if (i < n)
			v4_mapped(k.addr, (__u32)rnd());
		else
			memcpy(k.addr, extra, 16);
		ret = ban_filter_mark(e->pins.fds[PIN_BANFILTER], &k);
		if (ret)
			return ret;
		if (bpf_map_update_elem(e->bans, &k, &ban, BPF_ANY))
			return -errno;
	}
	return 0;
}

static int write_policy(struct env *e, const struct sluice_policy *pol)
{
	__u32 zero = 0;

	return bpf_map_update_elem(e->policy, &zero, pol, BPF_ANY) ? -errno : 0;
}

static void env_close(struct env *e)
{
	if (e->allow > 0)
		close(e->allow);
	if (e->block > 0)
		close(e->block);
	if (e->pins.filter)
		munmap(e->pins.filter, bpf_map__max_entries(e->skel->maps.sluice_filter) * 8ULL);
	sluice__destroy(e->skel);
	memset(e, 0, sizeof(*e));
}

static int env_open(struct env *e, const struct load_cfg *cfg)
{
	struct sluice_state st = { .layout_version = SLUICE_LAYOUT_VERSION, .active = 0 };
	struct bpf_map *map;
	__u32 zero = 0;
	int ret, i;

	memset(e, 0, sizeof(*e));
	rng_state = SEED;
	e->ncpus = libbpf_num_possible_cpus();
	e->skel = sluice__open();
	if (!e->skel) {
		ret = -errno;
		note("open sluice: %s", strerror(-ret));
		return ret;
	}
	bpf_object__for_each_map(map, e->skel->obj)
		bpf_map__set_pin_path(map, NULL);
	if (cfg->buckets_max)
		bpf_map__set_max_entries(e->skel->maps.sluice_buckets, cfg->buckets_max);
	ret = sluice__load(e->skel);
	if (ret) {
		note("load sluice: %s", strerror(-ret));
		goto fail;
	}
	e->prog = bpf_program__fd(e->skel->progs.sluice_xdp);
	e->state = bpf_map__fd(e->skel->maps.sluice_state);
	e->policy = bpf_map__fd(e->skel->maps.sluice_policy);
	e->buckets = bpf_map__fd(e->skel->maps.sluice_buckets);
	e->bans = bpf_map__fd(e->skel->maps.sluice_bans);
	e->stats = bpf_map__fd(e->skel->maps.sluice_stats);
	e->buckets_max = bpf_map__max_entries(e->skel->maps.sluice_buckets);
	/* A pin set without a directory: the maps by name, as pins_open would find them. */
	e->pins.dir_fd = -1;
	for (i = 0; i < PIN_MAP_COUNT; i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(e->skel->obj, pin_map_names[i]);

		e->pins.fds[i] = m ? bpf_map__fd(m) : -1;
		e->pins.max_entries[i] = m ? bpf_map__max_entries(m) : 0;
	}
	/* Each list's hash, sized for what the run lists, as the controller sizes them. */
	st.list_capacity = cfg->block4 + cfg->block6 > SLUICE_DEFAULT_LIST_ENTRIES ?
				   cfg->block4 + cfg->block6 :
				   SLUICE_DEFAULT_LIST_ENTRIES;
	for (__u32 slot = 0; slot < 4; slot++) {
		LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
		__u32 want = (slot >> 1 ? cfg->block4 + cfg->block6 : cfg->allow4 + cfg->allow6);
		int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_list",
					sizeof(struct sluice_lpm_key),
					sizeof(struct sluice_list_entry),
					want + want / 4 + 65536 + LIST_MIN_CAPACITY, &mo);

		if (fd < 0 || bpf_map_update_elem(e->pins.fds[PIN_LISTS], &slot, &fd, BPF_ANY)) {
			ret = -errno;
			note("list hash: %s", strerror(-ret));
			goto fail;
		}
		if (slot == 0)
			e->allow = fd;
		else if (slot == 2)
			e->block = fd;
		else
			close(fd); /* the idle generation: the outer map keeps it */
	}

	ret = build_policy(policy_lines, sizeof(policy_lines) / sizeof(policy_lines[0]), &e->pol);
	if (ret)
		goto fail;
	e->pol.flags |= SLUICE_POLICY_ALLOW | SLUICE_POLICY_BLOCK;
	i = rule_index(&e->pol, "under");
	e->limit_under = e->pol.rules[i].limits[0].id;
	i = rule_index(&e->pol, "three");
	for (int j = 0; j < 3; j++)
		e->limit_three[j] = e->pol.rules[i].limits[j].id;
	ret = write_policy(e, &e->pol);
	if (!ret && bpf_map_update_elem(e->state, &zero, &st, BPF_ANY))
		ret = -errno;
	if (ret)
		goto fail;

	ret = fill_list(e, LIST_ALLOW, 4, cfg->allow4, e->allow_src, &e->nallow_src)	     ?:
		      fill_list(e, LIST_ALLOW, 6, cfg->allow6, NULL, NULL)		     ?:
		      fill_list(e, LIST_BLOCK, 4, cfg->block4, e->block_src, &e->nblock_src) ?:
		      fill_list(e, LIST_BLOCK, 6, cfg->block6, e->block6_src, &e->nblock6_src);
	if (ret)
		goto fail;
	/* lists_add set the list flags in the live policy; keep the copy in step. */
	e->pol.flags |= SLUICE_POLICY_ALLOW | SLUICE_POLICY_BLOCK;
	ret = write_policy(e, &e->pol);
	if (ret)
		goto fail;
	if (cfg->tracked) {
		ret = fill_buckets(e, cfg->tracked, e->limit_under);
		if (ret)
			goto fail;
	}
	e->buckets_memlock = map_memlock(e->buckets);
	return 0;
fail:
	env_close(e);
	return ret ? ret : -EINVAL;
}

/* ---- counters: which (rule, verdict, reason) a packet moved ---- */

static const char *const verdict_names[] = { "PASS", "DROP", "MONITOR", "BAN" };
static const char *const reason_names[] = { "NONE", "ALLOWLIST", "BLOCKLIST", "BAN",  "RATELIMIT",
					    "ACL",  "MALFORMED", "NONIP",     "ERROR" };

static int read_counts(const struct env *e, __u64 *pk)
{
	struct sluice_counter *v = calloc(e->ncpus, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (__u32 i = 0; i < SLUICE_STATS_PER_IFACE; i++) {
		pk[i] = 0;
		if (bpf_map_lookup_elem(e->stats, &i, v)) {
			free(v);
			return -errno;
		}
		for (int c = 0; c < e->ncpus; c++)
			pk[i] += v[c].packets;
	}
	free(v);
	return 0;
}

/* Runs F once and names the counter it moved: "VERDICT/REASON rule NAME". */
static int packet_path(const struct env *e, int prog, const struct frame *f, char *buf, size_t len)
{
	static __u64 before[SLUICE_STATS_PER_IFACE], after[SLUICE_STATS_PER_IFACE];
	double ns;
	int ret;

	ret = read_counts(e, before) ?: time_prog(prog, f, 1, &ns, NULL) ?: read_counts(e, after);
	if (ret)
		return ret;
	snprintf(buf, len, "none");
	for (__u32 i = 0; i < SLUICE_STATS_PER_IFACE; i++) {
		__u32 reason = i % SLUICE_REASON_COUNT,
		      verdict = i / SLUICE_REASON_COUNT % SLUICE_VERDICT_COUNT,
		      rule = i / SLUICE_REASON_COUNT / SLUICE_VERDICT_COUNT;
		const char *rname = "-";

		if (after[i] == before[i])
			continue;
		for (__u32 r = 0; r < e->pol.nrules; r++)
			if (e->pol.rules[r].stat_slot == rule)
				rname = e->pol.rules[r].name;
		snprintf(buf, len, "%s/%s rule %s", verdict_names[verdict], reason_names[reason],
			 rname);
	}
	return 0;
}

/* ---- sections ---- */

struct scenario {
	const char *name;
	const char *label;
	const char *expect; /* the path the scenario must take, as packet_path names it */
	__u16 dport;
	enum damage damage;
	int kind; /* which sources */
};

enum { SRC_UNLISTED, SRC_ALLOW, SRC_BLOCK4, SRC_BLOCK6, SRC_BANNED };

static int set_sources(struct env *e, struct tcase *c, const struct scenario *s,
		       __u32 (*unlisted)[4], const __u32 banned[4])
{
	__u32(*srcs)[4] = unlisted;
	int n = MAX_SRCS;

	switch (s->kind) {
	case SRC_ALLOW:
		srcs = e->allow_src;
		n = e->nallow_src;
		break;
	case SRC_BLOCK4:
		srcs = e->block_src;
		n = e->nblock_src;
		break;
	case SRC_BLOCK6:
		srcs = e->block6_src;
		n = e->nblock6_src;
		break;
	case SRC_BANNED:
		srcs = (__u32(*)[4])banned;
		n = 1;
		break;
	}
	if (!n)
		return -ENOENT;
	c->nf = n;
	for (int i = 0; i < n; i++)
		build_udp(&c->f[i], srcs[i], s->dport, s->damage);
	return 0;
}

static const struct scenario cost_scenarios[] = {
	{ "nomatch", "no rule matches (v4, 16 rules checked)", "PASS/NONE rule -", DPORT_NOMATCH },
	{ "allow", "allowlisted", "PASS/ALLOWLIST rule -", DPORT_NOMATCH, 0, SRC_ALLOW },
	{ "block_v4", "blocklisted v4", "DROP/BLOCKLIST rule -", DPORT_NOMATCH, 0, SRC_BLOCK4 },
	{ "block_v6", "blocklisted v6", "DROP/BLOCKLIST rule -", DPORT_NOMATCH, 0, SRC_BLOCK6 },
	{ "banned", "banned", "DROP/BAN rule -", DPORT_NOMATCH, 0, SRC_BANNED },
	{ "under", "rate-limited key under its limit (pass)", "PASS/NONE rule under", DPORT_UNDER },
	{ "over", "rate-limited key over its limit (drop)", "DROP/RATELIMIT rule over",
	  DPORT_OVER },
	{ "three", "rule with three limits (pass)", "PASS/NONE rule three", DPORT_THREE },
	{ "malformed_ihl", "malformed: IPv4 ihl 4 (before lists)", "DROP/MALFORMED rule -",
	  DPORT_NOMATCH, DAMAGE_IHL },
	{ "malformed_len", "malformed: IPv4 length past frame (after lists)",
	  "DROP/MALFORMED rule -", DPORT_NOMATCH, DAMAGE_LENGTH },
};
#define NCOST (sizeof(cost_scenarios) / sizeof(cost_scenarios[0]))

static void make_cases(struct env *e, const struct scenario *sc, int n, struct tcase *c,
		       __u32 (*unlisted)[4], const __u32 banned[4])
{
	for (int i = 0; i < n; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].name = sc[i].name;
		c[i].label = sc[i].label;
		c[i].prog = e->prog;
		c[i].err = set_sources(e, &c[i], &sc[i], unlisted, banned);
		if (c[i].err)
			continue;
		/* Warm up: the first packet of a limiter key creates its bucket. */
		for (int j = 0; j < c[i].nf; j++) {
			double ns;

			time_prog(e->prog, &c[i].f[j], 2, &ns, NULL);
		}
		packet_path(e, e->prog, &c[i].f[0], c[i].path, sizeof(c[i].path));
		if (sc[i].expect && strcmp(c[i].path, sc[i].expect)) {
			note("%s: packet took %s, expected %s", c[i].name, c[i].path, sc[i].expect);
			c[i].err = -EPROTO;
		}
	}
}

/* Share of set bits in a list's IPv4 filter (generation 0); -1 when it passes everything. */
static double filter_fill(struct env *e, enum list_kind kind)
{
	const __u64 *r = pins_filter(&e->pins, kind, 0).v4;
	__u64 set = 0;

	if (!r)
		return -1;
	if (r[0] & SLUICE_FILTER_ALL)
		return -1;
	for (__u32 i = SLUICE_FILTER_HEADER_WORDS; i < SLUICE_FILTER_REGION; i++)
		set += __builtin_popcountll(r[i]);
	return (double)set / (SLUICE_FILTER_WORDS * 64.0);
}

static json_t *env_json(struct env *e, const struct load_cfg *cfg)
{
	json_t *o = json_object();

	json_object_set_new(o, "block_v4", json_integer(cfg->block4));
	json_object_set_new(o, "block_v6", json_integer(cfg->block6));
	json_object_set_new(o, "allow_v4", json_integer(cfg->allow4));
	json_object_set_new(o, "allow_v6", json_integer(cfg->allow6));
	json_object_set_new(o, "bans", json_integer(cfg->bans + 1));
	json_object_set_new(o, "rules", json_integer(e->pol.nrules));
	json_object_set_new(o, "tracked_keys", json_integer(e->tracked));
	json_object_set_new(o, "buckets_max_entries", json_integer(e->buckets_max));
	json_object_set_new(o, "allow_filter_fill", json_real(filter_fill(e, LIST_ALLOW)));
	json_object_set_new(o, "block_filter_fill", json_real(filter_fill(e, LIST_BLOCK)));
	return o;
}

static int churn(struct env *e);

static const struct load_cfg realistic = {
	.block4 = 100000,
	.block6 = 100000,
	.allow4 = 500,
	.allow6 = 500,
	.bans = 1000,
	.tracked = 1000000,
};

/*
 * Program cost of every scenario, then an ablation of the no-match path (the same
 * packet with parts of the policy switched off) to show where its time goes.
 */
static int section_cost(void)
{
	static struct tcase c[NCOST + 8];
	__u32 unlisted[MAX_SRCS][4], banned[4];
	struct env e;
	json_t *arr = json_array();
	int ret, i;
	char buf[64];

	note("cost: loading 100k+100k block prefixes, 1k allow, 1M tracked keys");
	ret = env_open(&e, &realistic);
	if (ret)
		return ret;
	for (i = 0; i < MAX_SRCS; i++)
		unlisted_v4(&e, unlisted[i]);
	unlisted_v4(&e, banned);
	ret = fill_bans(&e, realistic.bans, banned);
	if (ret)
		goto out;
	json_object_set_new(out, "load", env_json(&e, &realistic));

	if (want("cost")) {
		make_cases(&e, cost_scenarios, NCOST, c, unlisted, banned);
		note("cost: timing %zu scenarios, %d runs of %u", NCOST, opt.runs, opt.repeat);
		time_cases(c, NCOST);
		for (i = 0; i < (int)NCOST; i++)
			json_array_append_new(arr, case_json(&c[i]));
		json_object_set_new(out, "cost", arr);
	}

	if (want("ablation")) {
		/* The no-match packet with the policy cut down, step by step. */
		struct sluice_policy *p = malloc(sizeof(*p));
		static const char *const steps[] = {
			"parse, state, policy, count (no lists, no rules)",
			"+ 16 rules checked (one with a ban action: +1 ban lookup)",
			"+ allowlist check (1k prefixes)",
			"+ blocklist check (200k prefixes) = full no-match path",
		};
		json_t *ab = json_array();

		if (!p) {
			ret = -ENOMEM;
			goto out;
		}
		for (i = 0; i < 4; i++) {
			struct tcase *t = &c[NCOST + i];

			*p = e.pol;
			p->flags &= ~(SLUICE_POLICY_ALLOW | SLUICE_POLICY_BLOCK);
			if (i == 0) {
				p->nrules = 0;
				p->nban_plens4 = p->nban_plens6 = 0;
			}
			if (i >= 2)
				p->flags |= SLUICE_POLICY_ALLOW;
			if (i >= 3)
				p->flags |= SLUICE_POLICY_BLOCK;
			write_policy(&e, p);
			memset(t, 0, sizeof(*t));
			t->name = steps[i];
			t->prog = e.prog;
			t->nf = MAX_SRCS;
			for (int j = 0; j < MAX_SRCS; j++)
				build_udp(&t->f[j], unlisted[j], DPORT_NOMATCH, DAMAGE_NONE);
			time_cases(t, 1);
			json_array_append_new(ab, case_json(t));
		}
		write_policy(&e, &e.pol);
		free(p);
		json_object_set_new(out, "ablation", ab);
	}

	if (want("micro")) {
		/* Single operations, each in a program of its own, against the same maps. */
		struct sluice_lpm_key lk = { .prefixlen = 128 };
		struct sluice_bucket_key bk = { .limit_id = e.limit_under,
						.family = SLUICE_FAMILY_IPV4 };
		__u32 idx = 0;
		struct {
			const char *name;
			int fd;
		} probes[16];
		int np = 0;
		json_t *mi = json_array();
		struct tcase t;
		int hfd, tfd;

		probes[np].name = "bpf_ktime_get_ns()";
		probes[np++].fd = probe_helper(BPF_FUNC_ktime_get_ns);
		probes[np].name = "bpf_ktime_get_coarse_ns()";
		probes[np++].fd = probe_helper(BPF_FUNC_ktime_get_coarse_ns);
		probes[np].name = "per-CPU array lookup + increment (sluice_stats)";
		probes[np++].fd = probe_lookup(e.stats, &idx, 4, THEN_INC);
		probes[np].name = "array lookup (sluice_state)";
		probes[np++].fd = probe_lookup(e.state, &idx, 4, THEN_NOTHING);
		memcpy(lk.addr, e.block_src[0], 16);
		lk = covering_key(&e, LIST_BLOCK, &lk);
		probes[np].name = "list hash lookup, hit (blocklist, 200k prefixes)";
		probes[np++].fd = probe_lookup(e.block, &lk, sizeof(lk), THEN_NOTHING);
		lk.prefixlen = 128;
		memcpy(lk.addr, unlisted[0], 16);
		probes[np].name = "list hash lookup, miss (blocklist, 200k prefixes)";
		probes[np++].fd = probe_lookup(e.block, &lk, sizeof(lk), THEN_NOTHING);
		probes[np].name = "list hash lookup, miss (allowlist, 1k prefixes)";
		probes[np++].fd = probe_lookup(e.allow, &lk, sizeof(lk), THEN_NOTHING);
		v4_mapped(bk.addr, TRACKED_BASE + 12345);
		probes[np].name = "LRU hash lookup, hit (sluice_buckets, 1M keys)";
		probes[np++].fd = probe_lookup(e.buckets, &bk, sizeof(bk), THEN_NOTHING);
		probes[np].name = "LRU hash lookup + CAS (sluice_buckets, 1M keys)";
		probes[np++].fd = probe_lookup(e.buckets, &bk, sizeof(bk), THEN_CAS);
		{
			/* A plain hash of exact IPv4 sources: a candidate for /32 block entries. */
			LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
			__u32 key[4];
			__u64 v = 0;

			hfd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_hash", 16, 8, 200000, &mo);
			for (__u32 k = 0; hfd >= 0 && k < 140000; k++) {
				v4_mapped(key, (__u32)rnd());
				bpf_map_update_elem(hfd, key, &v, BPF_ANY);
			}
			memcpy(key, unlisted[0], 16);
			bpf_map_update_elem(hfd, key, &v, BPF_ANY);
			probes[np].name = "hash lookup, 16-byte key, hit (140k entries)";
			probes[np++].fd = hfd >= 0 ? probe_lookup(hfd, key, 16, THEN_NOTHING) : -1;
		}
		{
			/* The same IPv4 prefixes in a trie of 32-bit keys, not the 128-bit form. */
			LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
			struct sluice_lpm_key k;
			__u32 key4[2] = {}, v4key[2] = { 32 };
			__u64 v = 0;
			int n = 0;

			tfd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "bench_lpm4", 8, 8, 200000,
					     &mo);
			rng_state = SEED ^ 4;
			while (tfd >= 0 && n < 100000) {
				random_prefix(4, &k);
				key4[0] = k.prefixlen - SLUICE_V4_MAPPED_PLEN;
				key4[1] = k.addr[3];
				if (!bpf_map_update_elem(tfd, key4, &v, BPF_NOEXIST))
					n++;
			}
			v4key[1] = unlisted[0][3];
			probes[np].name =
				"LPM trie lookup, miss (IPv4-only 32-bit keys, 100k prefixes)";
			probes[np++].fd = tfd >= 0 ? probe_lookup(tfd, v4key, 8, THEN_NOTHING) : -1;
			v4key[1] = key4[1];
			probes[np].name =
				"LPM trie lookup, hit (IPv4-only 32-bit keys, 100k prefixes)";
			probes[np++].fd = tfd >= 0 ? probe_lookup(tfd, v4key, 8, THEN_NOTHING) : -1;
		}
		for (i = 0; i < np; i++) {
			memset(&t, 0, sizeof(t));
			build_udp(&t.f[0], unlisted[0], DPORT_NOMATCH, DAMAGE_NONE);
			t.name = probes[i].name;
			t.nf = 1;
			t.prog = probes[i].fd;
			t.err = probes[i].fd < 0 ? probes[i].fd : 0;
			time_cases(&t, 1);
			json_array_append_new(mi, case_json(&t));
			if (probes[i].fd >= 0)
				close(probes[i].fd);
		}
		if (hfd >= 0)
			close(hfd);
		if (tfd >= 0)
			close(tfd);
		json_object_set_new(out, "micro", mi);
	}

	/* Last: the flood evicts the tracked keys the other sections use. */
	if (want("churn"))
		ret = churn(&e);
	fmt_addr(unlisted[0], buf, sizeof(buf));
	json_object_set_new(out, "nomatch_source", json_string(buf));
out:
	env_close(&e);
	return ret;
}

/* ---- churn: a stream of distinct sources through gen_tail ---- */

struct wrapper {
	struct trafficgen *skel;
	int prog;
};

static int wrapper_open(struct wrapper *w, int target, __u32 base, __u32 keys, bool scatter)
{
	__u32 zero = 0;
	int ret;

	w->skel = trafficgen__open();
	if (!w->skel)
		return -errno;
	w->skel->rodata->src_base = base;
	w->skel->rodata->src_keys = keys;
	w->skel->rodata->scatter = scatter;
	w->skel->rodata->ncpus = 1;
	ret = trafficgen__load(w->skel);
	if (ret)
		goto fail;
	w->prog = bpf_program__fd(w->skel->progs.gen_tail);
	if (bpf_map_update_elem(bpf_map__fd(w->skel->maps.gen_next), &zero, &target, BPF_ANY)) {
		ret = -errno;
		goto fail;
	}
	return 0;
fail:
	note("generator wrapper: %s", strerror(-ret));
	trafficgen__destroy(w->skel);
	w->skel = NULL;
	return ret;
}

/* Of every 100th pre-tracked key, how many still have their state, in a slot or the LRU map. */
static double tracked_survival(const struct env *e)
{
	struct sluice_bucket_key k = { .limit_id = e->limit_under, .family = SLUICE_FAMILY_IPV4 };
	__u32 seen = 0, found = 0;
	struct sluice_slot slot;
	__u64 v;

	for (__u32 i = 0; i < e->tracked; i += 100, seen++) {
		struct sluice_slot_ref ref;
		bool in_slot = false;

		v4_mapped(k.addr, TRACKED_BASE + i);
		sluice_slot_ref(&k, 128, &ref);
		for (int c = 0; c < 2 && !in_slot; c++)
			in_slot =
				!bpf_map_lookup_elem(e->pins.fds[PIN_SLOTS], &ref.idx[c], &slot) &&
				slot.tag == ref.tag;
		if (in_slot || !bpf_map_lookup_elem(e->buckets, &k, &v))
			found++;
	}
	return seen ? (double)found / seen : 0;
}

/* Frees every limiter slot, empties the LRU map and probation: as a fresh attach has them. */
static int limiter_reset(const struct env *e)
{
	static struct sluice_slot zero_slots[65536];
	static __u32 idx[65536];
	size_t probation_bytes = (size_t)SLUICE_PROBATION_LINES * sizeof(struct sluice_probation);
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	struct sluice_bucket_key k;
	void *lines;

	for (__u32 base = 0; base < SLUICE_SLOTS; base += 65536) {
		__u32 n = 65536;

		for (__u32 i = 0; i < n; i++)
			idx[i] = base + i;
		if (bpf_map_update_batch(e->pins.fds[PIN_SLOTS], idx, zero_slots, &n, &bo))
			return -errno;
	}
	while (!bpf_map_get_next_key(e->buckets, NULL, &k))
		if (bpf_map_delete_elem(e->buckets, &k))
			break;
	lines = mmap(NULL, probation_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
		     e->pins.fds[PIN_PROBATION], 0);
	if (lines == MAP_FAILED)
		return -errno;
	memset(lines, 0, probation_bytes);
	munmap(lines, probation_bytes);
	return 0;
}

static void wrapper_case(struct tcase *t, const char *name, const char *label, int prog,
			 __u16 dport)
{
	__u32 any[4];

	memset(t, 0, sizeof(*t));
	v4_mapped(any, TRACKED_BASE);
	t->name = name;
	t->label = label;
	t->prog = prog;
	t->nf = 1;
	build_udp(&t->f[0], any, dport, DAMAGE_NONE);
}

static int churn(struct env *e)
{
	struct wrapper bare = {}, one = {}, hot = {}, flood = {};
	struct tcase t[5];
	json_t *o = json_object(), *arr = json_array();
	__u32 hot_keys = e->tracked < 65536 ? e->tracked : 65536;
	double before, after;
	int ret, i;

	ret = wrapper_open(&bare, bare_drop_fd, TRACKED_BASE, 1, false)		?:
		      wrapper_open(&one, e->prog, TRACKED_BASE, 1, false)	?:
		      wrapper_open(&hot, e->prog, TRACKED_BASE, hot_keys, true) ?:
		      wrapper_open(&flood, e->prog, CHURN_BASE, 1U << 23, false);
	if (ret)
		goto out;
	wrapper_case(&t[0], "wrap_bare", "generator rewrite + tail call + XDP_DROP", bare.prog,
		     DPORT_UNDER);
	wrapper_case(&t[1], "steady_one_key", "under limit, one tracked key", one.prog,
		     DPORT_UNDER);
	wrapper_case(&t[2], "steady_64k_keys", "under limit, 64k tracked keys in turn", hot.prog,
		     DPORT_UNDER);
	wrapper_case(&t[3], "churn", "under limit, every packet a new source (one-packet flood)",
		     flood.prog, DPORT_UNDER);
	wrapper_case(&t[4], "churn_free",
		     "under limit, every packet a new source, limiter slots free (fresh attach)",
		     flood.prog, DPORT_UNDER);
	before = tracked_survival(e);
	time_cases(t, 3);
	/* The flood last, alone: it evicts tracked keys. Its sequence runs on: fresh keys every run. */
	time_cases(&t[3], 1);
	after = tracked_survival(e);
	ret = limiter_reset(e);
	if (ret)
		goto out;
	time_cases(&t[4], 1);
	for (i = 0; i < 5; i++) {
		json_t *c = case_json(&t[i]);

		if (i > 0)
			json_object_set_new(c, "over_wrapped_bare_ns",
					    json_real(t[i].value - t[0].value));
		json_array_append_new(arr, c);
	}
	json_object_set_new(o, "cases", arr);
	json_object_set_new(o, "flood_packets", json_integer((json_int_t)opt.runs * opt.repeat));
	json_object_set_new(o, "tracked_keys", json_integer(e->tracked));
	json_object_set_new(o, "buckets_max_entries", json_integer(e->buckets_max));
	json_object_set_new(o, "tracked_surviving_before", json_real(before));
	json_object_set_new(o, "tracked_surviving_after", json_real(after));
	json_object_set_new(out, "churn", o);
out:
	trafficgen__destroy(bare.skel);
	trafficgen__destroy(one.skel);
	trafficgen__destroy(hot.skel);
	trafficgen__destroy(flood.skel);
	return ret;
}

/*
 * The end-to-end traffic, without the veth: sources rotate over 64k addresses as the
 * generator sends them, so list and bucket lookups meet cold cache lines as they do on
 * the wire. Same load as the cost section, plus the 64k sources of 198.19.0.0/16 as /32
 * block entries, as the end-to-end block scenario has them.
 */
static int section_rotating(void)
{
	struct {
		const char *name, *label;
		int target;
		__u32 base, keys;
		__u16 dport;
	} w[] = {
		{ "wrap_bare", "generator rewrite + tail call + XDP_DROP", 0, 0xc6130000, 65536,
		  DPORT_NOMATCH },
		{ "block_one", "blocklisted, one source", 1, 0xc6130000, 1, DPORT_NOMATCH },
		{ "block_64k", "blocklisted, 64k sources in turn", 1, 0xc6130000, 65536,
		  DPORT_NOMATCH },
		{ "nomatch_one", "no match, one source", 1, 0xc6120000, 1, DPORT_NOMATCH },
		{ "nomatch_64k", "no match, 64k sources in turn", 1, 0xc6120000, 65536,
		  DPORT_NOMATCH },
		{ "over_one", "over limit (drop), one source", 1, 0xc6120000, 1, DPORT_OVER },
		{ "over_64k", "over limit (drop), 64k sources in turn", 1, 0xc6120000, 65536,
		  DPORT_OVER },
	};
	enum { NW = sizeof(w) / sizeof(w[0]), NP = 4 };
	static const char *const probe_names[NP][2] = {
		{ "lpm_64k", "lookup alone: the list hash (265k prefixes), 64k sources in turn" },
		{ "hash_64k",
		  "lookup alone: hash of 16-byte addresses (265k), 64k sources in turn" },
		{ "array16_64k", "lookup alone: array indexed by the /16, 64k sources in turn" },
		{ "bucket_64k", "lookup alone: LRU bucket (1M keys), 64k tracked sources in turn" },
	};
	int probe_fd[NP] = { -1, -1, -1, -1 }, hash_fd = -1, arr_fd = -1;
	struct wrapper pw[NP] = {};
	static struct tcase pc[NP];
	struct wrapper wr[NW] = {};
	static struct tcase c[NW];
	struct sluice_lpm_key k = { .prefixlen = 128 };
	json_t *arr = json_array();
	struct env e;
	int ret, i;

	note("rotating: loading the cost section's state plus 64k /32 block entries");
	ret = env_open(&e, &realistic);
	if (ret)
		return ret;
	for (__u32 a = 0; a < 65536; a++) {
		v4_mapped(k.addr, 0xc6130000 + a);
		ret = list_insert(&e, LIST_BLOCK, &k);
		if (ret && ret != -EEXIST)
			goto out;
		ret = 0;
	}
	for (i = 0; i < NW; i++) {
		__u32 any[4];

		ret = wrapper_open(&wr[i], w[i].target ? e.prog : bare_drop_fd, w[i].base,
				   w[i].keys, false);
		if (ret)
			goto out;
		memset(&c[i], 0, sizeof(c[i]));
		c[i].name = w[i].name;
		c[i].label = w[i].label;
		c[i].prog = wr[i].prog;
		c[i].nf = 1;
		v4_mapped(any, w[i].base);
		build_udp(&c[i].f[0], any, w[i].dport, DAMAGE_NONE);
	}
	{
		LIBBPF_OPTS(bpf_map_create_opts, mo, .map_flags = BPF_F_NO_PREALLOC);
		__u32 key[4];
		__u64 v = 0;

		hash_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_hash", 16, 8, 300000, &mo);
		arr_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench_arr16", 4, 8, 65536, NULL);
		for (__u32 a = 0; hash_fd >= 0 && a < 265536; a++) {
			v4_mapped(key, a < 65536 ? 0xc6130000 + a : (__u32)rnd());
			bpf_map_update_elem(hash_fd, key, &v, BPF_ANY);
		}
		probe_fd[0] = probe_src_lookup(e.block, SRC_KEY_LPM, 0);
		probe_fd[1] = hash_fd >= 0 ? probe_src_lookup(hash_fd, SRC_KEY_ADDR, 0) : -1;
		probe_fd[2] = arr_fd >= 0 ? probe_src_lookup(arr_fd, SRC_KEY_SLASH16, 0) : -1;
		probe_fd[3] = probe_src_lookup(e.buckets, SRC_KEY_BUCKET, e.limit_under);
	}
	for (i = 0; i < NP; i++) {
		__u32 base = i == 3 ? TRACKED_BASE : 0xc6130000, any[4];

		memset(&pc[i], 0, sizeof(pc[i]));
		pc[i].name = probe_names[i][0];
		pc[i].label = probe_names[i][1];
		pc[i].nf = 1;
		pc[i].err = probe_fd[i] < 0 ?
				    -EINVAL :
				    wrapper_open(&pw[i], probe_fd[i], base, 65536, i == 3);
		pc[i].prog = pw[i].skel ? pw[i].prog : -1;
		v4_mapped(any, base);
		build_udp(&pc[i].f[0], any, DPORT_NOMATCH, DAMAGE_NONE);
	}
	/* A first pass over every source: the over-limit buckets exist and are empty. */
	for (i = 0; i < NW; i++) {
		double ns;

		time_prog(c[i].prog, &c[i].f[0], 2 * 65536, &ns, NULL);
	}
	time_cases(c, NW);
	time_cases(pc, NP);
	for (i = 0; i < NW + NP; i++) {
		struct tcase *t = i < NW ? &c[i] : &pc[i - NW];
		json_t *o = case_json(t);

		if (i)
			json_object_set_new(o, "over_wrapped_bare_ns",
					    json_real(t->value - c[0].value));
		json_array_append_new(arr, o);
	}
	json_object_set_new(out, "rotating", arr);
out:
	for (i = 0; i < NW; i++)
		trafficgen__destroy(wr[i].skel);
	for (i = 0; i < NP; i++) {
		trafficgen__destroy(pw[i].skel);
		if (probe_fd[i] >= 0)
			close(probe_fd[i]);
	}
	if (hash_fd >= 0)
		close(hash_fd);
	if (arr_fd >= 0)
		close(arr_fd);
	env_close(&e);
	return ret;
}

/* ---- scale ---- */

static int section_scale_lists(void)
{
	static const __u32 sizes[] = { 1000, 10000, 100000, 1000000 };
	json_t *arr = json_array();
	int ret = 0;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct load_cfg cfg = { .block4 = sizes[s] / 2,
					.block6 = sizes[s] / 2,
					.allow4 = 500,
					.allow6 = 500,
					.tracked = 10000 };
		static const struct scenario sc[] = {
			{ "block_v4", NULL, "DROP/BLOCKLIST rule -", DPORT_NOMATCH, 0, SRC_BLOCK4 },
			{ "block_v6", NULL, "DROP/BLOCKLIST rule -", DPORT_NOMATCH, 0, SRC_BLOCK6 },
			{ "nomatch", NULL, "PASS/NONE rule -", DPORT_NOMATCH },
		};
		static struct tcase c[4];
		__u32 unlisted[MAX_SRCS][4];
		struct sluice_lpm_key lk = { .prefixlen = 128 };
		json_t *row = json_object();
		struct env e;

		if (opt.quick && sizes[s] == 1000000)
			break;
		note("scale: blocklist of %u prefixes", sizes[s]);
		ret = env_open(&e, &cfg);
		if (ret)
			break;
		for (int i = 0; i < MAX_SRCS; i++)
			unlisted_v4(&e, unlisted[i]);
		make_cases(&e, sc, 3, c, unlisted, NULL);
		/* The hash lookup alone, of the entry covering the first blocklisted source. */
		memset(&c[3], 0, sizeof(c[3]));
		c[3].name = "lpm_hit";
		memcpy(lk.addr, e.block_src[0], 16);
		lk = covering_key(&e, LIST_BLOCK, &lk);
		c[3].prog = probe_lookup(e.block, &lk, sizeof(lk), THEN_NOTHING);
		c[3].err = c[3].prog < 0 ? c[3].prog : 0;
		c[3].nf = 1;
		build_udp(&c[3].f[0], e.block_src[0], DPORT_NOMATCH, DAMAGE_NONE);
		time_cases(c, 4);
		json_object_set_new(row, "prefixes", json_integer(sizes[s]));
		json_object_set_new(row, "block_filter_fill",
				    json_real(filter_fill(&e, LIST_BLOCK)));
		for (int i = 0; i < 4; i++)
			json_object_set_new(row, c[i].name, case_json(&c[i]));
		json_object_set_new(row, "trie_memlock", json_integer(map_memlock(e.block)));
		lk.prefixlen = 128;
		json_array_append_new(arr, row);
		if (c[3].prog >= 0)
			close(c[3].prog);
		env_close(&e);
	}
	json_object_set_new(out, "scale_lists", arr);
	return ret;
}

static int section_scale_keys(void)
{
	static const __u32 sizes[] = { 10000, 100000, 1000000, 10000000 };
	json_t *arr = json_array();
	int ret = 0;

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		struct load_cfg cfg = { .block4 = 100000,
					.block6 = 100000,
					.allow4 = 500,
					.allow6 = 500,
					.tracked = sizes[s] };
		struct wrapper one = {}, all = {};
		static struct tcase c[3];
		json_t *row = json_object();
		long mem0, mem1;
		struct env e;

		if (opt.quick && sizes[s] == 10000000)
			break;
		/* Room for every key: the shipped 2^20 up to 1M, 10 x 2^20 for 10M. */
		cfg.buckets_max = sizes[s] > SLUICE_DEFAULT_LIMITER_KEYS ?
					  10 * SLUICE_DEFAULT_LIMITER_KEYS :
					  SLUICE_DEFAULT_LIMITER_KEYS;
		note("scale: %u tracked keys", sizes[s]);
		mem0 = mem_available_kb();
		ret = env_open(&e, &cfg);
		if (ret)
			break;
		mem1 = mem_available_kb();
		ret = wrapper_open(&one, e.prog, TRACKED_BASE, 1, false) ?:
			      wrapper_open(&all, e.prog, TRACKED_BASE, sizes[s], true);
		if (!ret) {
			static struct wrapper bare;

			if (!bare.skel)
				ret = wrapper_open(&bare, bare_drop_fd, TRACKED_BASE, 1, false);
			wrapper_case(&c[0], "wrap_bare", NULL, bare.prog, DPORT_UNDER);
			wrapper_case(&c[1], "one_key", NULL, one.prog, DPORT_UNDER);
			wrapper_case(&c[2], "all_keys", NULL, all.prog, DPORT_UNDER);
			time_cases(c, 3);
			json_object_set_new(row, "keys", json_integer(sizes[s]));
			json_object_set_new(row, "max_entries", json_integer(e.buckets_max));
			for (int i = 0; i < 3; i++)
				json_object_set_new(row, c[i].name, case_json(&c[i]));
			json_object_set_new(row, "buckets_memlock",
					    json_integer(e.buckets_memlock));
			json_object_set_new(row, "memlock_per_entry",
					    json_real((double)e.buckets_memlock / e.buckets_max));
			json_object_set_new(row, "memavailable_drop_kb", json_integer(mem0 - mem1));
			json_array_append_new(arr, row);
		}
		trafficgen__destroy(one.skel);
		trafficgen__destroy(all.skel);
		env_close(&e);
		if (ret)
			break;
	}
	json_object_set_new(out, "scale_keys", arr);
	return ret;
}

/* ---- accuracy: two CPUs on one key ---- */

#define ACC_RATE 50000ULL
#define ACC_BURST 1000ULL
#define ACC_REPEAT 4096
#define ACC_NS 2500000000ULL

struct acc_worker {
	pthread_t thread;
	int cpu, prog, err;
	pthread_barrier_t *start;
	const struct frame *f;
	__u64 first, last, runs;
};

static void *acc_main(void *arg)
{
	struct acc_worker *w = arg;
	cpu_set_t set;
	double ns;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	pthread_barrier_wait(w->start);
	w->first = now_ns();
	do {
		w->err = time_prog(w->prog, w->f, ACC_REPEAT, &ns, NULL);
		w->runs++;
		w->last = now_ns();
	} while (!w->err && w->last - w->first < ACC_NS);
	return NULL;
}

/* One counter summed over CPUs. */
static __u64 read_one(const struct env *e, __u32 idx)
{
	struct sluice_counter v[256];
	__u64 sum = 0;

	if (e->ncpus > 256 || bpf_map_lookup_elem(e->stats, &idx, v))
		return 0;
	for (int c = 0; c < e->ncpus; c++)
		sum += v[c].packets;
	return sum;
}

static int section_accuracy(void)
{
	static const char *const lines[] = {
		"rule add acc udp dport 7003 limit src/32 rate 50000/s burst 1000",
	};
	struct load_cfg cfg = { .block4 = 100000, .block6 = 100000, .allow4 = 500, .allow6 = 500 };
	__u64 before[SLUICE_STATS_PER_IFACE], after[SLUICE_STATS_PER_IFACE];
	struct acc_worker w[2] = {};
	pthread_barrier_t start;
	struct sluice_policy *pol = calloc(1, sizeof(*pol));
	__u32 src[4];
	struct frame f;
	struct env e;
	__u64 pass = 0, drop = 0, first, last;
	int ret, ncpu = libbpf_num_possible_cpus() >= 2 ? 2 : 1;
	json_t *o = json_object();
	double expect, mid_rate;
	struct {
		__u64 t, pass;
	} mid[2] = {};

	if (!pol)
		return -ENOMEM;
	ret = env_open(&e, &cfg);
	if (ret) {
		free(pol);
		return ret;
	}
	ret = build_policy(lines, 1, pol);
	if (ret)
		goto out;
	pol->flags |= SLUICE_POLICY_ALLOW | SLUICE_POLICY_BLOCK;
	e.pol = *pol;
	ret = write_policy(&e, pol);
	if (ret)
		goto out;
	unlisted_v4(&e, src);
	build_udp(&f, src, DPORT_ACC, DAMAGE_NONE);
	ret = read_counts(&e, before);
	if (ret)
		goto out;
	pthread_barrier_init(&start, NULL, ncpu);
	for (int i = 0; i < ncpu; i++) {
		w[i] = (struct acc_worker){ .cpu = i, .prog = e.prog, .start = &start, .f = &f };
		pthread_create(&w[i].thread, NULL, acc_main, &w[i]);
	}
	/*
	 * Mid-run rate: the admitted counter read twice while both CPUs keep the key
	 * saturated, leaving out the burst and the start and end of the run.
	 */
	{
		__u32 idx = sluice_stats_index(0, pol->rules[0].stat_slot, SLUICE_VERDICT_PASS,
					       SLUICE_REASON_NONE);
		__u64 t0 = now_ns();

		usleep(250000);
		mid[0].t = now_ns();
		mid[0].pass = read_one(&e, idx);
		while (now_ns() - t0 < ACC_NS - 250000000ULL)
			usleep(10000);
		mid[1].t = now_ns();
		mid[1].pass = read_one(&e, idx);
	}
	for (int i = 0; i < ncpu; i++)
		pthread_join(w[i].thread, NULL);
	pthread_barrier_destroy(&start);
	ret = read_counts(&e, after);
	if (ret)
		goto out;
	for (__u32 i = 0; i < SLUICE_STATS_PER_IFACE; i++) {
		__u32 verdict = i / SLUICE_REASON_COUNT % SLUICE_VERDICT_COUNT;

		if (verdict == SLUICE_VERDICT_PASS)
			pass += after[i] - before[i];
		else
			drop += after[i] - before[i];
	}
	first = w[0].first < w[1].first || ncpu == 1 ? w[0].first : w[1].first;
	last = w[0].last > w[1].last || ncpu == 1 ? w[0].last : w[1].last;
	expect = ACC_BURST + ACC_RATE * (last - first) / 1e9;
	json_object_set_new(o, "cpus", json_integer(ncpu));
	json_object_set_new(o, "rate", json_integer(ACC_RATE));
	json_object_set_new(o, "burst", json_integer(ACC_BURST));
	json_object_set_new(o, "seconds", json_real((last - first) / 1e9));
	json_object_set_new(o, "offered", json_integer(pass + drop));
	json_object_set_new(o, "admitted", json_integer(pass));
	json_object_set_new(o, "expected", json_real(expect));
	json_object_set_new(o, "error_pct", json_real(100.0 * (pass - expect) / expect));
	mid_rate = (mid[1].pass - mid[0].pass) / ((mid[1].t - mid[0].t) / 1e9);
	json_object_set_new(o, "mid_seconds", json_real((mid[1].t - mid[0].t) / 1e9));
	json_object_set_new(o, "mid_rate", json_real(mid_rate));
	json_object_set_new(o, "mid_error_pct",
			    json_real(100.0 * (mid_rate - ACC_RATE) / ACC_RATE));
	json_object_set_new(out, "accuracy", o);
out:
	free(pol);
	env_close(&e);
	return ret;
}

/* ---- SYN guard: ns per SYN from a new source each, against a bare XDP_TX ---- */

#define GUARD_PORT 8443
#define GUARD_SYNS 200000

/* A SYN from SRC (random each call) to 127.0.0.1 or ::1, with Linux's options. */
static void build_syn(struct frame *f, bool v6)
{
	static const __u8 opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 1, 2,
				       3, 4, 0,	   0,	 0, 0, 1, 3,  3, 7 };
	static const __u8 macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	__u8 *ip = f->data + ETH_HLEN, *th;
	__u64 r = rnd();

	memset(f, 0, sizeof(*f));
	memcpy(f->data, macs, sizeof(macs));
	if (v6) {
		put16(f->data + 12, ETH_P_IPV6);
		ip[0] = 0x60;
		put16(ip + 4, 40);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		ip[8] = 0xfd;
		memcpy(ip + 16, &r, 8);
		ip[39] = 1; /* ::1 */
		th = ip + 40;
	} else {
		put16(f->data + 12, ETH_P_IP);
		ip[0] = 0x45;
		put16(ip + 2, 60);
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		ip[12] = 198;
		ip[13] = 19;
		memcpy(ip + 14, &r, 2);
		ip[16] = 127;
		ip[19] = 1;
		th = ip + 20;
	}
	memcpy(th, &r, 2); /* the source port */
	put16(th + 2, GUARD_PORT);
	memcpy(th + 4, (__u8 *)&r + 4, 4);
	th[12] = 10 << 4;
	th[13] = 0x02; /* SYN */
	put16(th + 14, 64240);
	memcpy(th + 20, opts, sizeof(opts));
	f->len = th + 40 - f->data;
}

/* Mean ns of PROG over GUARD_SYNS SYNs, each from a new source; -1 unless all got WANT. */
static double time_syns(int prog, bool v6, __u32 want)
{
	__u64 total = 0;
	struct frame f;
	__u8 out[128];

	for (int i = 0; i < GUARD_SYNS; i++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_out = out, .data_size_out = sizeof(out),
			    .repeat = 1);

		build_syn(&f, v6);
		o.data_in = f.data;
		o.data_size_in = f.len;
		if (bpf_prog_test_run_opts(prog, &o) || o.retval != want)
			return -1;
		total += o.duration;
	}
	return (double)total / GUARD_SYNS;
}

static bool write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Listeners on 127.0.0.1 and ::1 at GUARD_PORT, with TCP_MAXSEG MAXSEG unless 0. */
static bool guard_listen(int fds[2], int maxseg)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons(GUARD_PORT),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons(GUARD_PORT),
				   .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	int one = 1;

	for (int i = 0; i < 2; i++) {
		fds[i] = socket(i ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
		    (maxseg &&
		     setsockopt(fds[i], IPPROTO_TCP, TCP_MAXSEG, &maxseg, sizeof(maxseg))) ||
		    (i ? bind(fds[i], (void *)&a6, sizeof(a6)) :
			 bind(fds[i], (void *)&a4, sizeof(a4))) ||
		    listen(fds[i], 16))
			return false;
	}
	return true;
}

/*
 * In a network namespace of its own (lo up, tcp_syncookies=2), `guard tcp dport 8443
 * always` with listeners on 127.0.0.1 and ::1: the cookie path as it runs under a flood
 * (a lookup once a second, the raw helper for the rest), and with a listener that clamps
 * the MSS, whose every SYN looks it up; both against a bare XDP_TX on the same SYNs.
 */
static int section_guard(void)
{
	static const char *const cases[] = { "bare_xdp_tx", "guard_raw", "guard_lookup" };
	double v[2][3][32];
	struct env e;
	struct load_cfg cfg = {};
	json_t *res = json_object();
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), bare = -1, fds[2] = { -1, -1 };
	int ret = -1;

	if (self < 0 || unshare(CLONE_NEWNET)) {
		note("guard: own network namespace: %s", strerror(errno));
		goto out;
	}
	if (system("ip link set lo up") || !write_text("/proc/sys/net/ipv4/tcp_syncookies", "2")) {
		note("guard: lo up, tcp_syncookies=2 failed");
		goto out;
	}
	bare = probe_bare(XDP_TX);
	if (bare < 0 || env_open(&e, &cfg))
		goto out;
	e.pol.nguards = 1;
	e.pol.guards[0].dport = GUARD_PORT;
	e.pol.guards[0].flags = SLUICE_GUARD_ALWAYS;
	if (write_policy(&e, &e.pol))
		goto close;
	for (int c = 1; c < 3; c++) {
		if (!guard_listen(fds, c == 2 ? 1000 : 0)) {
			note("guard: listeners: %s", strerror(errno));
			goto close;
		}
		for (int r = 0; r < opt.runs; r++)
			for (int f = 0; f < 2; f++) {
				v[f][c][r] = time_syns(e.prog, f, XDP_TX);
				v[f][0][r] = time_syns(bare, f, XDP_TX);
				if (v[f][c][r] < 0 || v[f][0][r] < 0) {
					note("guard: a SYN not answered with XDP_TX");
					goto close;
				}
			}
		close(fds[0]);
		close(fds[1]);
		fds[0] = fds[1] = -1;
	}
	for (int f = 0; f < 2; f++) {
		json_t *o = json_object();

		for (int c = 0; c < 3; c++)
			json_object_set_new(o, cases[c], json_real(median(v[f][c], opt.runs)));
		json_object_set_new(res, f ? "ipv6" : "ipv4", o);
	}
	json_object_set_new(out, "guard_ns_per_syn", res);
	res = NULL;
	ret = 0;
close:
	env_close(&e);
out:
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (bare >= 0)
		close(bare);
	json_decref(res);
	if (self >= 0) {
		if (setns(self, CLONE_NEWNET))
			ret = -1;
		close(self);
	}
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	int c, ret = 0, failed = 0;
	json_t *cfg;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			opt.runs = atoi(optarg);
			break;
		case 'n':
			opt.repeat = strtoul(optarg, NULL, 0);
			break;
		case 'q':
			opt.quick = true;
			break;
		case 'o':
			snprintf(opt.only, sizeof(opt.only), "%s", optarg);
			break;
		case 'h':
			printf("usage: bench_prog [--runs N] [--repeat N] [--quick] [--only "
			       "SECTIONS]\n"
			       "sections: cost ablation micro churn rotating scale-lists "
			       "scale-keys accuracy guard\n");
			return 0;
		default:
			return 2;
		}
	}
	if (opt.runs < 1 || opt.runs > 31 || !opt.repeat) {
		note("--runs must be 1..31 and --repeat positive");
		return 2;
	}
	if (geteuid() != 0) {
		note("needs root (BPF_PROG_TEST_RUN on XDP programs)");
		return 1;
	}
	if (!getenv("BENCH_VERBOSE"))
		libbpf_set_print(NULL);
	bare_drop_fd = probe_bare(XDP_DROP);
	if (bare_drop_fd < 0)
		return 1;
	{
		__u32 any[4];

		v4_mapped(any, 0xc6120002);
		build_udp(&bare_frame, any, DPORT_NOMATCH, DAMAGE_NONE);
	}
	out = json_object();
	cfg = json_object();
	json_object_set_new(cfg, "runs", json_integer(opt.runs));
	json_object_set_new(cfg, "repeat", json_integer(opt.repeat));
	json_object_set_new(cfg, "frame_len", json_integer(FRAME_LEN));
	json_object_set_new(out, "config", cfg);

	if (want("cost") || want("ablation") || want("micro") || want("churn"))
		failed |= section_cost() != 0;
	if (want("rotating"))
		failed |= section_rotating() != 0;
	if (want("scale-lists"))
		failed |= section_scale_lists() != 0;
	if (want("scale-keys"))
		failed |= section_scale_keys() != 0;
	if (want("accuracy"))
		failed |= section_accuracy() != 0;
	if (want("guard"))
		failed |= section_guard() != 0;
	json_dumpf(out, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
	printf("\n");
	json_decref(out);
	close(bare_drop_fd);
	ret = failed ? 1 : 0;
	return ret;
}
