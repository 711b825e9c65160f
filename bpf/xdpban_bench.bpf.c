// SPDX-License-Identifier: GPL-2.0
/* xdpban_bench.bpf.c - benchmark entry points around the production classifier.
 * Includes parse.bpf.h and classify.bpf.h unchanged, so what is measured is
 * what runs; each entry point rewrites the source address of the frame with a
 * per-packet random address before classifying (a fixed packet hits one
 * cache-hot key and understates the cost). Addresses come from
 * tools/bench/bench_addr.h, which bench_datapath uses to ban the same hosts.
 * Also: a live-frames traffic generator and drop-all / pass-all receivers.
 * Owns no production state; built only in tools/bench. */
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "parse.bpf.h"
#include "classify.bpf.h"
#include "flood.bpf.h"
#include "../tools/bench/bench_addr.h"

/* Set by bench_datapath between open and load. */
const volatile __u32 bench_hosts = 0;  /* host indexes [0, bench_hosts) are banned */
const volatile __u32 bench_nets = 0;   /* network indexes [0, bench_nets) are banned */
const volatile __u32 bench_plen4 = 24; /* prefix length of the IPv4 networks */
const volatile __u32 bench_plen6 = 64; /* prefix length of the IPv6 networks (<= 64) */
const volatile __u32 bench_span = 1;   /* bench_part_span: cache lines of bench_area it touches (power of two) */
const volatile __u32 bench_flood_sources = 1; /* bench_flood: sources [0, n) of bench_addr.h */
const volatile __u32 bench_part_pass = 0; /* bench_part_*: keep the frame's source and pass (live misses) */

enum bench_kind {
	BENCH_MISS = 0, /* a host index >= bench_hosts: not banned as a host */
	BENCH_HIT = 1,	/* a banned host */
	BENCH_NET = 2,	/* a random address inside a banned network */
};

enum bench_counter {
	BENCH_CNT_GEN = 0,
	BENCH_CNT_DROP = 1,
	BENCH_CNT_PASS = 2,
	BENCH_CNT_PARSE = 3,
	BENCH_CNT_PART = 4,
	BENCH_CNT_MAX = 8,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, BENCH_CNT_MAX);
} bench_counts SEC(".maps");

/* 32 MiB of memory for bench_part_span: what reading one random line of a
 * table of a given footprint costs. */
#define BENCH_AREA_LINES (1u << 19)
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpban_hidx4_line);
	__uint(max_entries, BENCH_AREA_LINES);
} bench_area SEC(".maps");

/* The same 32 MiB as 1024 arrays of 32 KiB (header included), which the
 * kernel allocates with kmalloc (physically contiguous, mapped with huge
 * pages) rather than vmalloc: bench_part_mim, to compare with bench_part_span. */
#define BENCH_MIM_INNER 4057 /* u64 words: 312-byte array header + 4057 * 8 = 32 KiB */
#define BENCH_MIM_LINES 507  /* 64-byte aligned lines per inner array (from word 1) */
struct bench_mim_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, BENCH_MIM_INNER);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__array(values, struct bench_mim_inner);
} bench_mim SEC(".maps");

static __always_inline void bench_count(__u32 which)
{
	__u64 *c = bpf_map_lookup_elem(&bench_counts, &which);

	if (c)
		(*c)++;
}

static __always_inline __u32 bench_index(int kind)
{
	__u32 r = bpf_get_prandom_u32();

	if (kind == BENCH_HIT)
		return bench_pick(r, 0, bench_hosts);
	return bench_pick(r, bench_hosts, (1ULL << 32) - bench_hosts);
}

/* Rewrites the parsed frame's source address; 0 on success. */
static __always_inline int bench_set_source(struct xdp_md *ctx, int parsed, struct xdpban_pkt *pkt, int kind)
{
	void *data_end = (void *)(long)ctx->data_end;

	if (parsed == XDPBAN_PARSE_V4) {
		struct iphdr *ip = pkt->l3;
		__u32 a;

		if ((void *)(ip + 1) > data_end)
			return -1;
		if (kind == BENCH_NET) {
			__u32 j = bench_pick(bpf_get_prandom_u32(), 0, bench_nets);

			a = bench_net4(j, bench_plen4) |
			    (bpf_get_prandom_u32() & ((1U << (32 - bench_plen4)) - 1));
		} else {
			a = bench_host4(bench_index(kind));
		}
		ip->saddr = bpf_htonl(a);
		return 0;
	}
	if (parsed == XDPBAN_PARSE_V6) {
		struct ipv6hdr *ip6 = pkt->l3;
		__u64 hi, lo;

		if ((void *)(ip6 + 1) > data_end)
			return -1;
		if (kind == BENCH_NET) {
			__u32 j = bench_pick(bpf_get_prandom_u32(), 0, bench_nets);
			__u64 r = ((__u64)bpf_get_prandom_u32() << 32) | bpf_get_prandom_u32();

			hi = bench_net6_hi(j, bench_plen6);
			if (bench_plen6 < 64)
				hi |= r & ((1ULL << (64 - bench_plen6)) - 1);
			lo = xdpban_mix64(r);
		} else {
			__u32 i = bench_index(kind);

			hi = bench_host6_hi(i);
			lo = bench_host6_lo(i);
		}
		((__u64 *)&ip6->saddr)[0] = __builtin_bswap64(hi);
		((__u64 *)&ip6->saddr)[1] = __builtin_bswap64(lo);
		return 0;
	}
	return -1;
}

/* The floor: the same parse, random source and counter as the classifying
 * entry points, but no lookup. */
SEC("xdp")
int bench_floor(struct xdp_md *ctx)
{
	struct xdpban_stats *st = xdpban_stats_get();
	struct xdpban_pkt pkt = {};
	int parsed;

	if (!st)
		return XDP_PASS;
	parsed = xdpban_parse(ctx, &pkt);
	if (bench_set_source(ctx, parsed, &pkt, BENCH_MISS))
		return XDP_ABORTED;
	st->passed++;
	return XDP_PASS;
}

static __always_inline int bench_classify(struct xdp_md *ctx, int kind)
{
	struct xdpban_stats *st = xdpban_stats_get();
	struct xdpban_pkt pkt = {};
	int parsed;

	if (!st)
		return XDP_PASS;
	parsed = xdpban_parse(ctx, &pkt);
	if (bench_set_source(ctx, parsed, &pkt, kind))
		return XDP_ABORTED;
	return xdpban_verdict(ctx, parsed, &pkt, st);
}

SEC("xdp")
int bench_miss(struct xdp_md *ctx)
{
	return bench_classify(ctx, BENCH_MISS);
}

SEC("xdp")
int bench_hit(struct xdp_md *ctx)
{
	return bench_classify(ctx, BENCH_HIT);
}

SEC("xdp")
int bench_net(struct xdp_md *ctx)
{
	return bench_classify(ctx, BENCH_NET);
}

/* The production verdict with the flood guard, exactly as xdpban.bpf.c runs
 * it, for a random source among the first bench_flood_sources hosts (the frame
 * goes to UDP 5060). With those hosts' buckets present, this is the cost of a
 * tracked source: under its rate (pass) or over it (drop), by the rule the
 * benchmark wrote. */
SEC("xdp")
int bench_flood(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct xdpban_stats *st = xdpban_stats_get();
	struct xdpban_pkt pkt = {};
	struct iphdr *ip;
	int parsed;

	if (!st)
		return XDP_PASS;
	parsed = xdpban_parse(ctx, &pkt);
	if (parsed != XDPBAN_PARSE_V4)
		return XDP_ABORTED;
	ip = pkt.l3;
	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	ip->saddr = bpf_htonl(bench_host4(bench_pick(bpf_get_prandom_u32(), 0, bench_flood_sources)));
	return xdpban_verdict_guarded(ctx, parsed, &pkt, st);
}

/* Components of the IPv4 hit path, each alone on a banned source (floor +
 * one piece), to attribute the classifier's cost: the Bloom word, the host
 * table probe, the allow-trie lookup, the clock read an expiring ban needs.
 * They drop, so the live run can use them as receivers too. */
enum bench_part {
	BENCH_PART_BLOOM = 0,
	BENCH_PART_TABLE = 1,
	BENCH_PART_ALLOW = 2,
	BENCH_PART_CLOCK = 3,
	BENCH_PART_COARSE = 4, /* not used by the classifier: the cheaper clock, for comparison */
	BENCH_PART_SPAN = 5,   /* one line read within the first bench_span lines of a 32 MiB area */
	BENCH_PART_LINE = 6,   /* the host's index line read, nothing else */
	BENCH_PART_MIM = 7,    /* like SPAN, in kmalloc'd 32 KiB arrays (bench_mim) */
	BENCH_PART_GUARD = 8,  /* the network prefilter's word */
	BENCH_PART_NONE = 9,   /* nothing: parse, counters */
};

static __always_inline int bench_part(struct xdp_md *ctx, int part)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct xdpban_stats *st = xdpban_stats_get();
	struct xdpban_pkt pkt = {};
	struct iphdr *ip;
	__u64 now = 0, h;
	int parsed;

	if (!st)
		return XDP_PASS;
	parsed = xdpban_parse(ctx, &pkt);
	if (parsed != XDPBAN_PARSE_V4 || (!bench_part_pass && bench_set_source(ctx, parsed, &pkt, BENCH_HIT)))
		return XDP_ABORTED;
	ip = pkt.l3;
	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	h = xdpban_hash4((const __u8 *)&ip->saddr, xdpban_seed);
	if (part == BENCH_PART_BLOOM)
		st->passed += xdpban_bloom_test(&xdpban_bloom4, h, xdpban_bloom4_words);
	else if (part == BENCH_PART_TABLE)
		st->passed += xdpban_host4_lookup((const __u8 *)&ip->saddr, &now, st);
	else if (part == BENCH_PART_ALLOW)
		st->passed += xdpban_allowed4((const __u8 *)&ip->saddr);
	else if (part == BENCH_PART_SPAN) {
		__u32 idx = (__u32)h & (bench_span - 1);
		struct xdpban_hidx4_line *line = bpf_map_lookup_elem(&bench_area, &idx);

		st->passed += line && line->slot[0] == ip->saddr;
	} else if (part == BENCH_PART_GUARD) {
		__u32 block = ((__u32)((__u8 *)&ip->saddr)[0] << 12) | ((__u32)((__u8 *)&ip->saddr)[1] << 4) |
			      (((__u8 *)&ip->saddr)[2] >> 4);

		st->passed += xdpban_guard_test(&xdpban_nguard4, block);
	} else if (part == BENCH_PART_NONE) {
		st->passed += 1;
	} else if (part == BENCH_PART_MIM) {
		__u32 idx = (__u32)h & (bench_span - 1);
		__u32 outer = idx / BENCH_MIM_LINES, word = 1 + (idx % BENCH_MIM_LINES) * 8;
		void *inner = bpf_map_lookup_elem(&bench_mim, &outer);
		__u64 *v = inner ? bpf_map_lookup_elem(inner, &word) : 0;

		st->passed += v && *v == ip->saddr;
	} else if (part == BENCH_PART_LINE) {
		__u32 hp = xdpban_perm4((const __u8 *)&ip->saddr, xdpban_seed);
		__u32 idx = xdpban_hidx_line(hp, xdpban_hidx4_lines);
		struct xdpban_hidx4_line *line = bpf_map_lookup_elem(&xdpban_hidx4, &idx);

		st->passed += line && line->header == ip->saddr;
	} else if (part == BENCH_PART_CLOCK)
		st->passed += bpf_ktime_get_boot_ns() & 1;
	else
		st->passed += bpf_ktime_get_coarse_ns() & 1;
	bench_count(BENCH_CNT_PART);
	return bench_part_pass ? XDP_PASS : XDP_DROP; /* so they also serve as live receivers */
}

SEC("xdp")
int bench_part_bloom(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_BLOOM);
}

SEC("xdp")
int bench_part_table(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_TABLE);
}

SEC("xdp")
int bench_part_allow(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_ALLOW);
}

SEC("xdp")
int bench_part_clock(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_CLOCK);
}

SEC("xdp")
int bench_part_coarse(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_COARSE);
}

SEC("xdp")
int bench_part_guard(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_GUARD);
}

SEC("xdp")
int bench_part_none(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_NONE);
}

SEC("xdp")
int bench_part_mim(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_MIM);
}

SEC("xdp")
int bench_part_line(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_LINE);
}

SEC("xdp")
int bench_part_span(struct xdp_md *ctx)
{
	return bench_part(ctx, BENCH_PART_SPAN);
}

/* Live-frames generator: a random IPv4 source of the given kind, a valid
 * header checksum (so the frame also survives the IP stack for netfilter and
 * pass-all runs), out of the same interface. */
static __always_inline int bench_generate(struct xdp_md *ctx, int kind)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct xdpban_pkt pkt = {};
	struct iphdr *ip;
	__u16 *w;
	__u32 sum = 0;

	if (xdpban_parse(ctx, &pkt) != XDPBAN_PARSE_V4)
		return XDP_ABORTED;
	ip = pkt.l3;
	if ((void *)(ip + 1) > data_end)
		return XDP_ABORTED;
	ip->saddr = bpf_htonl(bench_host4(bench_index(kind)));
	ip->check = 0;
	w = (__u16 *)ip;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = (__u16)~sum;
	bench_count(BENCH_CNT_GEN);
	return XDP_TX;
}

/* Banned sources (never-banned ones when no host is banned). */
SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	return bench_generate(ctx, bench_hosts ? BENCH_HIT : BENCH_MISS);
}

/* Sources never banned: the common case of legitimate traffic. */
SEC("xdp")
int bench_gen_miss(struct xdp_md *ctx)
{
	return bench_generate(ctx, BENCH_MISS);
}

/* Receivers for the live run: the drop-all ceiling, and pass-all (counts what
 * reaches the IP stack, for nftables and ipset runs). */
SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	bench_count(BENCH_CNT_DROP);
	return XDP_DROP;
}

/* Drop-all that first parses the frame and reads the source like the
 * classifier does: the share of the gap that any packet filter pays. */
SEC("xdp")
int bench_parse_drop(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct xdpban_stats *st = xdpban_stats_get();
	struct xdpban_pkt pkt = {};
	struct iphdr *ip;

	if (!st || xdpban_parse(ctx, &pkt) != XDPBAN_PARSE_V4)
		return XDP_PASS;
	ip = pkt.l3;
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	st->reserved[0] += ip->saddr & 1; /* keep the read */
	bench_count(BENCH_CNT_PARSE);
	return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	bench_count(BENCH_CNT_PASS);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
