/* classify.bpf.h - the ban maps and the source-address classifier (BPF only).
 * Shared by the production program (xdpban.bpf.c) and the benchmark program,
 * so what is measured is what runs. Owns the map definitions and the lookup
 * order; does not own parsing (parse.bpf.h) or the verdict policy's counters.
 *
 * Lookup order, cheapest first, so legitimate traffic stays in cache:
 *   host prefilter (a Bloom word in cache) -> IPv4: host index (one cache
 *   line: exact address and a coarse expiry), the host hash map only when the
 *   index says so; IPv6: the host hash map -> network prefilter -> network
 *   LPM trie.
 * The allow tries are consulted only when a ban matched; an allow hit wins. */
#ifndef XDPBAN_CLASSIFY_BPF_H
#define XDPBAN_CLASSIFY_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpban/abi.h"

/* Set by the loader between open and load (from the pinned meta map). */
const volatile __u32 xdpban_seed = 0;
const volatile __u32 xdpban_hidx4_lines = XDPBAN_HIDX_MIN_LINES;
const volatile __u32 xdpban_bloom4_words = 1; /* power of two */
const volatile __u32 xdpban_bloom6_words = 1;

/* Default sizes; the loader overrides max_entries from its configuration or
 * from already pinned maps. */
/* Preallocated: 88 B per IPv4 host of capacity (72 B element, 16 B bucket)
 * against ~131 B allocated per entry without preallocation, and faster
 * inserts. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct xdpban_host4_key);
	__type(value, struct xdpban_ban);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_hosts4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct xdpban_host6_key);
	__type(value, struct xdpban_ban);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_hosts6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xdpban_hidx4_line);
	__uint(max_entries, XDPBAN_HIDX_MIN_LINES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_hidx4 SEC(".maps");

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

/* The exact answer for a host: its entry in a host hash map. */
static __always_inline int xdpban_host_map_lookup(void *map, const void *key, __u64 *now,
						   struct xdpban_stats *st)
{
	struct xdpban_ban *b = bpf_map_lookup_elem(map, key);

	st->host_exact++;
	if (!b)
		return XDPBAN_MATCH_NONE;
	return xdpban_live(b->expires_ns, now) ? XDPBAN_MATCH_BANNED : XDPBAN_MATCH_EXPIRED;
}

/* The slot of line l holding quotient q (displaced or not), or -1, and its
 * expiry code. The header is read before the slots and again after them: a
 * reader stalled while the writer freed a slot and gave it to a host of the
 * other home would otherwise pair the old header with the new host (unless
 * the slot changed hands twice meanwhile). When the header changed, the code
 * sends the lookup to the hash map (code 1 proves nothing). Loads stay in
 * program order on x86; the barriers keep the compiler from moving them. */
static __always_inline int xdpban_hidx_probe(const struct xdpban_hidx4_line *l, __u32 q, int displaced,
					     __u32 *code)
{
	__u32 hdr = *(volatile const __u32 *)&l->header;
	int i;

	asm volatile("" ::: "memory");
	i = xdpban_hidx_find_in(l, hdr, q, displaced);
	*code = ((const __u32 *)l)[i & 15] & 0xffff;
	asm volatile("" ::: "memory");
	if (*(volatile const __u32 *)&l->header != hdr)
		*code = 1;
	return i;
}

/* IPv4 host lookup: the index line (and its neighbour when the line
 * overflowed); the hash map only when the line spilled or the expiry code
 * cannot prove the ban live. */
static __always_inline int xdpban_host4_lookup(const __u8 *saddr_bytes, __u64 *now, struct xdpban_stats *st)
{
	__u32 h = xdpban_perm4(saddr_bytes, xdpban_seed);
	__u32 n = xdpban_hidx4_lines;
	__u32 line = xdpban_hidx_line(h, n), q = xdpban_hidx_quotient(h, n), zero = 0, code = 0;
	struct xdpban_hidx4_line *l = bpf_map_lookup_elem(&xdpban_hidx4, &line);
	struct xdpban_host4_key key;
	struct xdpban_meta *meta;
	int i;

	st->host_probes++;
	if (!l)
		return XDPBAN_MATCH_NONE;
	/* Slot numbers are masked to 0..15: word 15 of a line is its header. */
	i = xdpban_hidx_probe(l, q, 0, &code);
	if (i < 0 && (l->header & XDPBAN_HIDX_OVERFLOW)) {
		__u32 next = line + 1 < n ? line + 1 : 0;
		struct xdpban_hidx4_line *l2 = bpf_map_lookup_elem(&xdpban_hidx4, &next);

		i = l2 ? xdpban_hidx_probe(l2, q, 1, &code) : -1;
	}
	__builtin_memcpy(key.addr, saddr_bytes, 4);
	if (i < 0)
		return (l->header & XDPBAN_HIDX_SPILL) ? xdpban_host_map_lookup(&xdpban_hosts4, &key, now, st)
						       : XDPBAN_MATCH_NONE;
	if (code == XDPBAN_HIDX_PERMANENT)
		return XDPBAN_MATCH_BANNED;
	meta = bpf_map_lookup_elem(&xdpban_meta, &zero);
	if (!*now)
		*now = xdpban_boot_now();
	if (meta && *now >= meta->epoch_ns && ((*now - meta->epoch_ns) >> XDPBAN_HIDX_UNIT_SHIFT) + 1 < code)
		return XDPBAN_MATCH_BANNED;
	return xdpban_host_map_lookup(&xdpban_hosts4, &key, now, st);
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
static __always_inline int xdpban_classify4(const __u8 *saddr_bytes, struct xdpban_stats *st)
{
	__u64 now = 0;
	__u64 h = xdpban_hash4(saddr_bytes, xdpban_seed);
	int host = XDPBAN_MATCH_NONE, net = XDPBAN_MATCH_NONE;
	__u32 block = ((__u32)saddr_bytes[0] << 12) | ((__u32)saddr_bytes[1] << 4) | (saddr_bytes[2] >> 4);

	if (xdpban_bloom_test(&xdpban_bloom4, h, xdpban_bloom4_words))
		host = xdpban_host4_lookup(saddr_bytes, &now, st);
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
	__u64 h = xdpban_hash6(saddr_bytes, xdpban_seed);
	int host = XDPBAN_MATCH_NONE, net = XDPBAN_MATCH_NONE;
	__u32 block = (__u32)xdpban_hash6_block(saddr_bytes, xdpban_seed) & ((1u << XDPBAN_NGUARD4_BITS) - 1);

	if (xdpban_bloom_test(&xdpban_bloom6, h, xdpban_bloom6_words)) {
		struct xdpban_host6_key key;

		__builtin_memcpy(key.addr, saddr_bytes, 16);
		st->host_probes++;
		host = xdpban_host_map_lookup(&xdpban_hosts6, &key, &now, st);
	}
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
		m = xdpban_classify4((const __u8 *)&ip->saddr, st);
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
