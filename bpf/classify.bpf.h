/* classify.bpf.h - the ban maps and the source-address classifier (BPF only).
 * Shared by the production program (xdpban.bpf.c) and the benchmark program,
 * so what is measured is what runs. Owns the map definitions and the lookup
 * order; does not own parsing (parse.bpf.h) or the verdict policy's counters.
 *
 * Lookup order, cheapest first, so legitimate traffic stays in cache:
 *   host prefilter (1 bit test in an in-cache Bloom filter) -> host table
 *   (one cache line per probe) -> network prefilter -> network LPM trie.
 * The allow tries are consulted only when a ban matched; an allow hit wins. */
#ifndef XDPBAN_CLASSIFY_BPF_H
#define XDPBAN_CLASSIFY_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpban/abi.h"

/* Set by the loader between open and load (from the pinned meta map). */
const volatile __u32 xdpban_seed = 0;
const volatile __u32 xdpban_host4_buckets = 1; /* power of two */
const volatile __u32 xdpban_host6_buckets = 1;
const volatile __u32 xdpban_bloom4_words = 1; /* power of two */
const volatile __u32 xdpban_bloom6_words = 1;

/* Default sizes; the loader overrides max_entries from its configuration or
 * from already pinned maps. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xdpban_host4);
	__uint(max_entries, 1 << 21);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_hosts4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xdpban_host6);
	__uint(max_entries, 1 << 21);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_hosts6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1 << 17);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_bloom4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1 << 17);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_bloom6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdpban_lpm4_key);
	__type(value, struct xdpban_ban);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_nets4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdpban_lpm6_key);
	__type(value, struct xdpban_ban);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_nets6 SEC(".maps");

#define XDPBAN_NGUARD_WORDS (1 << (XDPBAN_NGUARD4_BITS - 6))

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XDPBAN_NGUARD_WORDS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_nguard4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XDPBAN_NGUARD_WORDS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_nguard6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdpban_lpm4_key);
	__type(value, struct xdpban_allow);
	__uint(max_entries, 1 << 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_allow4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdpban_lpm6_key);
	__type(value, struct xdpban_allow);
	__uint(max_entries, 1 << 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_allow6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpban_stats);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpban_meta);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_meta SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpban_jail);
	__uint(max_entries, XDPBAN_MAX_JAILS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_jails SEC(".maps");

enum xdpban_match {
	XDPBAN_MATCH_NONE = 0,
	XDPBAN_MATCH_BANNED = 1,
	XDPBAN_MATCH_EXPIRED = 2, /* only expired entries matched */
};

/* Boot time, cheaply. bpf_ktime_get_boot_ns() costs ~40 ns per banned packet
 * (and waits behind the table's cache miss); the coarse monotonic clock costs
 * ~3 ns. Boot time = monotonic + time spent suspended, and that offset only
 * changes across a suspend, so each CPU caches it and refreshes it every
 * second. A ban therefore ends at most one scheduler tick late. Not pinned:
 * private scratch of each loaded program. */
struct xdpban_clock {
	__u64 boot_offset_ns; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC */
	__u64 refreshed_ns;   /* coarse monotonic time of the last refresh */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpban_clock);
	__uint(max_entries, 1);
} xdpban_clock SEC(".maps");

static __always_inline __u64 xdpban_boot_now(void)
{
	__u32 zero = 0;
	struct xdpban_clock *c = bpf_map_lookup_elem(&xdpban_clock, &zero);
	__u64 mono = bpf_ktime_get_coarse_ns();

	if (!c)
		return bpf_ktime_get_boot_ns();
	if (!c->refreshed_ns || mono - c->refreshed_ns > 1000000000ULL) {
		c->boot_offset_ns = bpf_ktime_get_boot_ns() - bpf_ktime_get_ns();
		c->refreshed_ns = mono;
	}
	return mono + c->boot_offset_ns;
}

static __always_inline int xdpban_live(__u64 expires_ns, __u64 *now)
{
	if (!expires_ns)
		return 1;
	if (!*now)
		*now = xdpban_boot_now();
	return *now < expires_ns;
}

static __always_inline int xdpban_bloom_test(void *bloom, __u64 h, __u32 nwords)
{
	__u32 w = xdpban_bloom_word(h, nwords);
	__u64 bits = xdpban_bloom_bits(h);
	__u64 *word = bpf_map_lookup_elem(bloom, &w);

	return word && (*word & bits) == bits;
}

static __always_inline int xdpban_guard_test(void *guard, __u32 bit)
{
	__u32 w = bit >> 6;
	__u64 *word = bpf_map_lookup_elem(guard, &w);

	return word && (*word & (1ULL << (bit & 63)));
}

/* Host table probe: linear over slots from the home bucket's first slot,
 * ending at the first empty slot. */
static __always_inline int xdpban_host4_lookup(__u32 saddr, __u64 h, __u64 *now, struct xdpban_stats *st)
{
	__u32 base = xdpban_bucket(h, xdpban_host4_buckets) * XDPBAN_HOST4_PER_BUCKET;
	__u32 mask = xdpban_host4_buckets * XDPBAN_HOST4_PER_BUCKET - 1;

	st->host_probes++;
	for (__u32 i = 0; i < XDPBAN_MAX_PROBE * XDPBAN_HOST4_PER_BUCKET; i++) {
		__u32 idx = (base + i) & mask;
		struct xdpban_host4 *s = bpf_map_lookup_elem(&xdpban_hosts4, &idx);

		if (!s || s->state == XDPBAN_SLOT_EMPTY)
			return XDPBAN_MATCH_NONE;
		if (s->state == XDPBAN_SLOT_USED && *(__u32 *)s->addr == saddr)
			return xdpban_live(s->expires_ns, now) ? XDPBAN_MATCH_BANNED : XDPBAN_MATCH_EXPIRED;
	}
	return XDPBAN_MATCH_NONE;
}

static __always_inline int xdpban_host6_lookup(const __u64 *saddr, __u64 h, __u64 *now,
					       struct xdpban_stats *st)
{
	__u32 base = xdpban_bucket(h, xdpban_host6_buckets) * XDPBAN_HOST6_PER_BUCKET;
	__u32 mask = xdpban_host6_buckets * XDPBAN_HOST6_PER_BUCKET - 1;

	st->host_probes++;
	for (__u32 i = 0; i < XDPBAN_MAX_PROBE * XDPBAN_HOST6_PER_BUCKET; i++) {
		__u32 idx = (base + i) & mask;
		struct xdpban_host6 *s = bpf_map_lookup_elem(&xdpban_hosts6, &idx);

		if (!s || s->state == XDPBAN_SLOT_EMPTY)
			return XDPBAN_MATCH_NONE;
		if (s->state == XDPBAN_SLOT_USED && ((__u64 *)s->addr)[0] == saddr[0] &&
		    ((__u64 *)s->addr)[1] == saddr[1])
			return xdpban_live(s->expires_ns, now) ? XDPBAN_MATCH_BANNED : XDPBAN_MATCH_EXPIRED;
	}
	return XDPBAN_MATCH_NONE;
}

/* Longest-prefix match on a network trie; when the match has expired, a
 * shorter (enclosing) network may still be live, so look again below it. */
static __always_inline int xdpban_net_lookup(void *trie, void *key, __u64 *now)
{
	int res = XDPBAN_MATCH_NONE;

	for (int i = 0; i < XDPBAN_MAX_NESTED; i++) {
		struct xdpban_ban *b = bpf_map_lookup_elem(trie, key);

		if (!b)
			return res;
		if (xdpban_live(b->expires_ns, now))
			return XDPBAN_MATCH_BANNED;
		res = XDPBAN_MATCH_EXPIRED;
		if (b->prefixlen == 0)
			return res;
		*(__u32 *)key = b->prefixlen - 1; /* prefixlen is the key's first field */
	}
	return res;
}

/* A host entry wins over a network only when it is live; an expired host
 * entry still lets a covering network ban apply. */
static __always_inline int xdpban_combine(int host, int net)
{
	if (host == XDPBAN_MATCH_BANNED || net == XDPBAN_MATCH_BANNED)
		return XDPBAN_MATCH_BANNED;
	if (host == XDPBAN_MATCH_EXPIRED || net == XDPBAN_MATCH_EXPIRED)
		return XDPBAN_MATCH_EXPIRED;
	return XDPBAN_MATCH_NONE;
}

/* The source address is read as it sits in the packet (network byte order);
 * the tables store addresses as bytes, so both compare byte for byte. */
static __always_inline int xdpban_classify4(const __u8 *saddr_bytes, __u32 saddr, struct xdpban_stats *st)
{
	__u64 now = 0;
	__u64 h = xdpban_hash4(saddr_bytes, xdpban_seed);
	int host = XDPBAN_MATCH_NONE, net = XDPBAN_MATCH_NONE;
	__u32 block = ((__u32)saddr_bytes[0] << 12) | ((__u32)saddr_bytes[1] << 4) | (saddr_bytes[2] >> 4);

	if (xdpban_bloom_test(&xdpban_bloom4, h, xdpban_bloom4_words))
		host = xdpban_host4_lookup(saddr, h, &now, st);
	if (host != XDPBAN_MATCH_BANNED && xdpban_guard_test(&xdpban_nguard4, block)) {
		struct xdpban_lpm4_key k = {.prefixlen = 32};

		__builtin_memcpy(k.addr, saddr_bytes, 4);
		st->net_probes++;
		net = xdpban_net_lookup(&xdpban_nets4, &k, &now);
	}
	return xdpban_combine(host, net);
}

static __always_inline int xdpban_classify6(const __u8 *saddr_bytes, struct xdpban_stats *st)
{
	__u64 now = 0;
	__u64 saddr[2];
	__u64 h = xdpban_hash6(saddr_bytes, xdpban_seed);
	int host = XDPBAN_MATCH_NONE, net = XDPBAN_MATCH_NONE;
	__u32 block = (__u32)xdpban_hash6_block(saddr_bytes, xdpban_seed) & ((1u << XDPBAN_NGUARD4_BITS) - 1);

	__builtin_memcpy(saddr, saddr_bytes, 16);
	if (xdpban_bloom_test(&xdpban_bloom6, h, xdpban_bloom6_words))
		host = xdpban_host6_lookup(saddr, h, &now, st);
	if (host != XDPBAN_MATCH_BANNED && xdpban_guard_test(&xdpban_nguard6, block)) {
		struct xdpban_lpm6_key k = {.prefixlen = 128};

		__builtin_memcpy(k.addr, saddr_bytes, 16);
		st->net_probes++;
		net = xdpban_net_lookup(&xdpban_nets6, &k, &now);
	}
	return xdpban_combine(host, net);
}

static __always_inline int xdpban_allowed4(const __u8 *saddr_bytes)
{
	struct xdpban_lpm4_key k = {.prefixlen = 32};

	__builtin_memcpy(k.addr, saddr_bytes, 4);
	return bpf_map_lookup_elem(&xdpban_allow4, &k) != NULL;
}

static __always_inline int xdpban_allowed6(const __u8 *saddr_bytes)
{
	struct xdpban_lpm6_key k = {.prefixlen = 128};

	__builtin_memcpy(k.addr, saddr_bytes, 16);
	return bpf_map_lookup_elem(&xdpban_allow6, &k) != NULL;
}

static __always_inline struct xdpban_stats *xdpban_stats_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&xdpban_stats, &zero);
}

/* What the bans say about a parsed packet: XDP_DROP (banned), XDP_PASS
 * (decided: allow-listed, not IP, malformed), or XDPBAN_UNBANNED (an IP
 * packet no ban covers: later checks may still drop it; *saddr points at its
 * source address). Counts everything but `passed`, which the caller counts
 * once it has decided. */
#define XDPBAN_UNBANNED (-1)

static __always_inline int xdpban_ban_verdict(struct xdp_md *ctx, int parsed, struct xdpban_pkt *pkt,
					      struct xdpban_stats *st, const __u8 **saddr)
{
	void *data_end = (void *)(long)ctx->data_end;
	int m;

	if (parsed == XDPBAN_PARSE_NON_IP) {
		st->non_ip++;
		return XDP_PASS;
	}
	if (parsed == XDPBAN_PARSE_MALFORMED) {
		st->malformed++;
		return XDP_PASS;
	}
	if (parsed == XDPBAN_PARSE_V4) {
		struct iphdr *ip = pkt->l3;

		if ((void *)(ip + 1) > data_end)
			return XDP_PASS;
		*saddr = (const __u8 *)&ip->saddr;
		m = xdpban_classify4((const __u8 *)&ip->saddr, ip->saddr, st);
		if (m == XDPBAN_MATCH_BANNED) {
			if (!xdpban_allowed4((const __u8 *)&ip->saddr)) {
				st->dropped_v4++;
				return XDP_DROP;
			}
			st->allow_hits++;
			return XDP_PASS;
		}
	} else {
		struct ipv6hdr *ip6 = pkt->l3;

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		*saddr = (const __u8 *)&ip6->saddr;
		m = xdpban_classify6((const __u8 *)&ip6->saddr, st);
		if (m == XDPBAN_MATCH_BANNED) {
			if (!xdpban_allowed6((const __u8 *)&ip6->saddr)) {
				st->dropped_v6++;
				return XDP_DROP;
			}
			st->allow_hits++;
			return XDP_PASS;
		}
	}
	if (m == XDPBAN_MATCH_EXPIRED)
		st->expired_hits++;
	return XDPBAN_UNBANNED;
}

/* The bans' verdict alone (no flood guard), counted: what the classifier
 * benchmarks measure. */
static __always_inline int xdpban_verdict(struct xdp_md *ctx, int parsed, struct xdpban_pkt *pkt,
					  struct xdpban_stats *st)
{
	const __u8 *saddr = 0;
	int v = xdpban_ban_verdict(ctx, parsed, pkt, st, &saddr);

	if (v == XDP_DROP)
		return XDP_DROP;
	st->passed++;
	return XDP_PASS;
}

#endif /* XDPBAN_CLASSIFY_BPF_H */
