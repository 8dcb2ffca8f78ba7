// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * trafficgen: sends UDP frames, or TCP SYNs, out of a local interface from XDP, with a
 * source address varying over a key space, for `make bench` and the generator smoke test.
 *
 *   trafficgen send --dev IF [--packets N | --seconds S] [options]   transmit, print JSON
 *   trafficgen xdp IF drop|pass|tx|off                               attach a bare program
 *
 * Frames are made by bpf/trafficgen.bpf.c run through BPF_PROG_RUN with
 * BPF_F_TEST_XDP_LIVE_FRAMES: the kernel feeds one template frame through the program
 * `repeat` times, and each XDP_TX goes out of the interface named by ingress_ifindex
 * for real. On a veth the frames arrive at the peer, whose receive (XDP program, then
 * the stack) runs on the sending CPU when each batch is flushed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "trafficgen.skel.h"

#define FRAME_MAX 1514
#define CHUNK_MAX (1U << 20) /* frames per BPF_PROG_RUN call when running for a time */

struct gen_opts {
	const char *dev;
	unsigned long long packets; /* total over all threads; 0: run for seconds */
	double seconds;
	unsigned int threads;
	unsigned int first_cpu;
	unsigned int batch;
	unsigned int len; /* frame bytes without FCS */
	__u32 src[4]; /* first source; IPv4 in the 128-bit form */
	__u32 mix_src[4];
	int family;
	__u32 keys, mix_keys, mix_permille;
	bool scatter;
	__u32 dst[4];
	__u8 src_mac[ETH_ALEN], dst_mac[ETH_ALEN];
	__u16 sport, dport;
	bool syn; /* TCP SYNs with an MSS option instead of UDP */
	bool json;
};

struct worker {
	pthread_t thread;
	const struct gen_opts *o;
	int prog_fd, ifindex, cpu;
	const __u8 *frame;
	__u32 frame_len;
	unsigned long long quota; /* frames to send; 0: until deadline */
	__u64 deadline_ns;
	unsigned long long sent;
	int err;
};

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Address in the 128-bit form; returns 4, 6 or 0 when it is neither. */
static int parse_addr(const char *s, __u32 out[4])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, &out[3]) == 1) {
		out[2] = htonl(0xffff);
		return 4;
	}
	if (inet_pton(AF_INET6, s, out) == 1)
		return 6;
	return 0;
}

static int parse_mac(const char *s, __u8 mac[ETH_ALEN])
{
	unsigned int b[ETH_ALEN];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (i = 0; i < ETH_ALEN; i++)
		mac[i] = b[i];
	return 0;
}

static __u16 csum16(const __u8 *p, size_t n, __u32 sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/*
 * The template: Ethernet, IPv4 or IPv6, then UDP with zero payload or a TCP SYN with an
 * MSS option (the IP packet ends there; the frame may be longer, as Ethernet pads it);
 * checksums right for its source.
 */
static __u32 build_frame(const struct gen_opts *o, __u8 *f)
{
	__u32 ip_len, l4, len = o->len, l4_len;
	__u8 *ip = f + ETH_HLEN, *udp;
	__u8 proto = o->syn ? IPPROTO_TCP : IPPROTO_UDP;
	__u32 sum = 0;

	memset(f, 0, FRAME_MAX);
	memcpy(f, o->dst_mac, ETH_ALEN);
	memcpy(f + ETH_ALEN, o->src_mac, ETH_ALEN);
	put16(f + 12, o->family == 4 ? ETH_P_IP : ETH_P_IPV6);
	l4 = ETH_HLEN + (o->family == 4 ? 20 : 40);
	l4_len = o->syn ? 24 : len - l4;
	if (o->family == 4) {
		ip_len = 20 + l4_len;
		ip[0] = 0x45;
		put16(ip + 2, ip_len);
		ip[6] = 0x40; /* don't fragment */
		ip[8] = 64;
		ip[9] = proto;
		memcpy(ip + 12, &o->src[3], 4);
		memcpy(ip + 16, &o->dst[3], 4);
		put16(ip + 10, csum16(ip, 20, 0));
	} else {
		ip_len = l4_len;
		ip[0] = 0x60;
		put16(ip + 4, ip_len);
		ip[6] = proto;
		ip[7] = 64;
		memcpy(ip + 8, o->src, 16);
		memcpy(ip + 24, o->dst, 16);
	}
	udp = f + l4;
	put16(udp, o->sport);
	put16(udp + 2, o->dport);
	if (o->syn) {
		udp[7] = 1; /* seq */
		udp[12] = 6 << 4; /* data offset: 24 bytes */
		udp[13] = 0x02; /* SYN */
		put16(udp + 14, 64240);
		memcpy(udp + 20, "\x02\x04\x05\xb4", 4); /* MSS 1460 */
	} else {
		put16(udp + 4, l4_len);
	}
	if (o->family == 6 || o->syn) {
		/* Pseudo-header: addresses, upper-layer length, next header. */
		if (o->family == 6)
			for (int i = 8; i < 40; i += 2)
				sum += ip[i] << 8 | ip[i + 1];
		else
			for (int i = 12; i < 20; i += 2)
				sum += ip[i] << 8 | ip[i + 1];
		sum += l4_len + proto;
		put16(udp + (o->syn ? 16 : 6), csum16(udp, l4_len, sum));
	}
	return len;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct xdp_md ctx = { .data_end = w->frame_len, .ingress_ifindex = w->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = w->frame, .data_size_in = w->frame_len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = w->o->batch);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	w->err = -pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	while (!w->err) {
		unsigned long long left = w->quota ? w->quota - w->sent : CHUNK_MAX;

		if (!left || (!w->quota && mono_ns() >= w->deadline_ns))
			break;
		opts.repeat = left > CHUNK_MAX ? CHUNK_MAX : left;
		if (bpf_prog_test_run_opts(w->prog_fd, &opts)) {
			w->err = -errno;
			break;
		}
		w->sent += opts.repeat;
	}
	return NULL;
}

/* A bare program from raw instructions: r0 = ACTION; exit. Attached natively, kept after exit. */
static int cmd_xdp(int argc, char **argv)
{
	struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int ifindex, fd, err;

	if (argc != 3) {
		fprintf(stderr, "usage: trafficgen xdp IF drop|pass|tx|off\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "trafficgen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (!strcmp(argv[2], "off")) {
		err = bpf_xdp_detach(ifindex, 0, NULL);
		if (err)
			fprintf(stderr, "trafficgen: detach from %s: %s\n", argv[1],
				strerror(-err));
		return err ? 1 : 0;
	}
	if (strcmp(argv[2], "drop") && strcmp(argv[2], "pass") && strcmp(argv[2], "tx")) {
		fprintf(stderr, "trafficgen: xdp: expected drop, pass, tx or off, got %s\n",
			argv[2]);
		return 2;
	}
	/* tx sends every frame back as it came: the floor a program that answers costs. */
	insns[0].imm = !strcmp(argv[2], "drop") ? XDP_DROP :
		       !strcmp(argv[2], "tx")	? XDP_TX :
						  XDP_PASS;
	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "bench_bare", "GPL", insns, 2, NULL);
	if (fd < 0) {
		fprintf(stderr, "trafficgen: load bare program: %s\n", strerror(errno));
		return 1;
	}
	err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (err)
		fprintf(stderr, "trafficgen: attach to %s: %s\n", argv[1], strerror(-err));
	close(fd);
	return err ? 1 : 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trafficgen send --dev IF [--packets N | --seconds S] [OPTIONS]\n"
		"       trafficgen xdp IF drop|pass|tx|off\n"
		"send options:\n"
		"  --src ADDR          first source (IPv4 or IPv6; IPv6 varies its last 32 bits)\n"
		"  --keys N            distinct sources: ADDR .. ADDR+N-1 (default 1)\n"
		"  --scatter           visit the sources in a scattered order, not ascending\n"
		"  --mix-src ADDR --mix-keys N --mix-permille P\n"
		"                      P in 1000 packets come from a second range instead\n"
		"  --dst ADDR          destination address (same family as --src)\n"
		"  --dst-mac MAC --src-mac MAC --sport N --dport N\n"
		"  --syn               TCP SYNs with an MSS option instead of UDP (frames of 96 bytes at most)\n"
		"  --len N             frame bytes without FCS (default 60, 64 on the wire; IPv6 "
		"62)\n"
		"  --threads N         generator threads, on CPUs --cpu, --cpu+1, ... (default 1)\n"
		"  --cpu N             first CPU (default 0)\n"
		"  --batch N           frames per batch of the kernel's test run (default 64)\n"
		"  -j                  JSON output\n");
}

static int cmd_send(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "packets", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 's' },
		{ "src", required_argument, NULL, 'S' },
		{ "keys", required_argument, NULL, 'k' },
		{ "scatter", no_argument, NULL, 'x' },
		{ "mix-src", required_argument, NULL, 'M' },
		{ "mix-keys", required_argument, NULL, 'K' },
		{ "mix-permille", required_argument, NULL, 'P' },
		{ "dst", required_argument, NULL, 'D' },
		{ "dst-mac", required_argument, NULL, 'a' },
		{ "src-mac", required_argument, NULL, 'b' },
		{ "sport", required_argument, NULL, 'p' },
		{ "dport", required_argument, NULL, 'q' },
		{ "len", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "batch", required_argument, NULL, 'B' },
		{ "syn", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct gen_opts o = {
		.threads = 1,
		.batch = 64,
		.keys = 1,
		.mix_keys = 1,
		.sport = 40000,
		.dport = 9000,
		.src_mac = { 0x02, 0, 0, 0, 0, 0x02 },
		.dst_mac = { 0x02, 0, 0, 0, 0, 0x01 },
	};
	struct trafficgen *skel = NULL;
	struct worker *w = NULL;
	__u8 frame[FRAME_MAX];
	__u32 frame_len;
	int c, err = 0, ifindex, dst_family = 0, mix_family = 0;
	unsigned long long total = 0;
	__u64 t0, t1;
	unsigned int i;

	parse_addr("198.18.0.2", o.src);
	o.family = 4;
	parse_addr("198.18.0.1", o.dst);
	while ((c = getopt_long(argc, argv, "jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.dev = optarg;
			break;
		case 'n':
			o.packets = strtoull(optarg, NULL, 0);
			break;
		case 's':
			o.seconds = atof(optarg);
			break;
		case 'S':
			o.family = parse_addr(optarg, o.src);
			break;
		case 'k':
			o.keys = strtoul(optarg, NULL, 0);
			break;
		case 'x':
			o.scatter = true;
			break;
		case 'M':
			mix_family = parse_addr(optarg, o.mix_src);
			break;
		case 'K':
			o.mix_keys = strtoul(optarg, NULL, 0);
			break;
		case 'P':
			o.mix_permille = strtoul(optarg, NULL, 0);
			break;
		case 'D':
			dst_family = parse_addr(optarg, o.dst);
			break;
		case 'a':
			err = parse_mac(optarg, o.dst_mac);
			break;
		case 'b':
			err = parse_mac(optarg, o.src_mac);
			break;
		case 'p':
			o.sport = atoi(optarg);
			break;
		case 'q':
			o.dport = atoi(optarg);
			break;
		case 'l':
			o.len = atoi(optarg);
			break;
		case 't':
			o.threads = atoi(optarg);
			break;
		case 'c':
			o.first_cpu = atoi(optarg);
			break;
		case 'B':
			o.batch = atoi(optarg);
			break;
		case 'y':
			o.syn = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (err) {
			fprintf(stderr, "trafficgen: bad MAC address %s\n", optarg);
			return 2;
		}
	}
	if (!o.family || (dst_family && dst_family != o.family) ||
	    (o.mix_permille && mix_family != o.family)) {
		fprintf(stderr, "trafficgen: addresses must be IPv4 or IPv6, all of one family\n");
		return 2;
	}
	if (!dst_family && o.family == 6)
		parse_addr("fd00:5::1", o.dst);
	if (!o.len)
		/* 64 bytes on the wire; IPv6 + UDP needs 62, IPv6 + the SYN 78 */
		o.len = o.family == 4 ? 60 : o.syn ? 78 : 62;
	if (!o.dev || (!o.packets && o.seconds <= 0) || !o.keys || !o.mix_keys ||
	    o.mix_permille > 1000 || !o.threads ||
	    o.threads > (unsigned int)libbpf_num_possible_cpus() ||
	    o.len < (o.syn	   ? (o.family == 4 ? 58U : 78U) :
		     o.family == 4 ? 42U :
				     62U) ||
	    o.len > (o.syn ? 96U : FRAME_MAX)) {
		usage(stderr);
		return 2;
	}
	ifindex = if_nametoindex(o.dev);
	if (!ifindex) {
		fprintf(stderr, "trafficgen: %s: %s\n", o.dev, strerror(errno));
		return 1;
	}

	skel = trafficgen__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "trafficgen: open: %s\n", strerror(-err));
		goto cleanup;
	}
	skel->rodata->src_base = ntohl(o.src[3]);
	skel->rodata->src_keys = o.keys;
	skel->rodata->mix_base = ntohl(o.mix_src[3]);
	skel->rodata->mix_keys = o.mix_keys;
	skel->rodata->mix_permille = o.mix_permille;
	skel->rodata->scatter = o.scatter;
	skel->rodata->cpu0 = o.first_cpu;
	skel->rodata->ncpus = o.threads;
	frame_len = build_frame(&o, frame);
	/* A SYN gets answered in place by a guard: each is written afresh from the template. */
	if (o.syn) {
		memcpy((void *)skel->rodata->tmpl, frame, frame_len);
		skel->rodata->tmpl_len = frame_len;
	}
	err = trafficgen__load(skel);
	if (err) {
		fprintf(stderr, "trafficgen: load: %s\n", strerror(-err));
		goto cleanup;
	}

	w = calloc(o.threads, sizeof(*w));
	if (!w) {
		err = -ENOMEM;
		goto cleanup;
	}
	t0 = mono_ns();
	for (i = 0; i < o.threads; i++) {
		w[i].o = &o;
		w[i].prog_fd = bpf_program__fd(skel->progs.gen_tx);
		w[i].ifindex = ifindex;
		w[i].cpu = o.first_cpu + i;
		w[i].frame = frame;
		w[i].frame_len = frame_len;
		/* Sequence numbers interleave by CPU, so every thread sends its exact share. */
		w[i].quota = o.packets ? o.packets / o.threads + (i < o.packets % o.threads) : 0;
		w[i].deadline_ns = t0 + (__u64)(o.seconds * 1e9);
		err = -pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
		if (err) {
			fprintf(stderr, "trafficgen: thread: %s\n", strerror(-err));
			o.threads = i;
			break;
		}
	}
	for (i = 0; i < o.threads; i++) {
		pthread_join(w[i].thread, NULL);
		total += w[i].sent;
		if (w[i].err && !err) {
			err = w[i].err;
			fprintf(stderr, "trafficgen: CPU %d: %s\n", w[i].cpu, strerror(-err));
		}
	}
	t1 = mono_ns();
	if (o.json)
		printf("{\"packets\": %llu, \"seconds\": %.6f, \"mpps\": %.4f, \"threads\": %u, "
		       "\"frame_len\": %u}\n",
		       total, (t1 - t0) / 1e9, total / ((t1 - t0) / 1e3), o.threads, frame_len);
	else
		printf("sent %llu frames of %u bytes in %.3f s: %.3f Mpps (%u threads)\n", total,
		       frame_len, (t1 - t0) / 1e9, total / ((t1 - t0) / 1e3), o.threads);
cleanup:
	free(w);
	trafficgen__destroy(skel);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "send"))
		return cmd_send(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "xdp"))
		return cmd_xdp(argc - 1, argv + 1);
	usage(argc >= 2 && !strcmp(argv[1], "help") ? stdout : stderr);
	return argc >= 2 && !strcmp(argv[1], "help") ? 0 : 2;
}
