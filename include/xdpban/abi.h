/* abi.h - the one contract between the XDP program and userspace.
 * Owns: map names, pin directory, key/value layouts, stats counters, the host
 * table hash. Plain C with __uN types so both clang -target bpf and C++ include
 * it; every struct has explicit padding and a size assert on both sides.
 * Does not own: how userspace or the program use these (see bpf/ and src/bpf/). */
#ifndef XDPBAN_ABI_H
#define XDPBAN_ABI_H

#include <linux/types.h>

#define XDPBAN_ABI_VERSION 2
#define XDPBAN_PIN_DIR "/sys/fs/bpf/xdpban"

/* Map names (kernel object names are limited to 15 characters). */
#define XDPBAN_MAP_HOSTS4 "xdpban_hosts4"   /* banned IPv4 hosts: hash map, address -> ban */
#define XDPBAN_MAP_HOSTS6 "xdpban_hosts6"   /* banned IPv6 hosts: hash map */
#define XDPBAN_MAP_HIDX4 "xdpban_hidx4"     /* compact index of hosts4 that the program reads */
#define XDPBAN_MAP_BLOOM4 "xdpban_bloom4"   /* in-cache prefilter in front of hidx4 */
#define XDPBAN_MAP_BLOOM6 "xdpban_bloom6"
#define XDPBAN_MAP_NETS4 "xdpban_nets4"     /* banned IPv4 networks: LPM trie */
#define XDPBAN_MAP_NETS6 "xdpban_nets6"
#define XDPBAN_MAP_NGUARD4 "xdpban_nguard4" /* in-cache prefilter in front of nets4 */
#define XDPBAN_MAP_NGUARD6 "xdpban_nguard6"
#define XDPBAN_MAP_ALLOW4 "xdpban_allow4"   /* never-ban networks: LPM trie */
#define XDPBAN_MAP_ALLOW6 "xdpban_allow6"
#define XDPBAN_MAP_STATS "xdpban_stats"     /* per-CPU counters */
#define XDPBAN_MAP_META "xdpban_meta"       /* geometry and hash seed of the tables */
#define XDPBAN_MAP_JAILS "xdpban_jails"     /* jail id -> name, so listings need no daemon */
#define XDPBAN_MAP_FPORTS "xdpban_fports"   /* flood guard: rule id of each (protocol, port) */
#define XDPBAN_MAP_FRULES "xdpban_frules"   /* flood guard: rule id -> rate, burst, prefixes */
#define XDPBAN_MAP_FTABLE "xdpban_ftable"   /* flood guard: per-source token buckets */
#define XDPBAN_MAP_FSTATS "xdpban_fstats"   /* flood guard: per-CPU counters per rule */
#define XDPBAN_MAP_FEVENTS "xdpban_fevents" /* flood guard: ring buffer of over-rate sources */

#define XDPBAN_PROG_NAME "xdpban_xdp"

/* Host bans live in hash maps (xdpban_hosts4/6: key = the address, value =
 * struct xdpban_ban), which bpftool dumps and looks up by address. The
 * program does not read xdpban_hosts4 on its fast path: it reads
 * xdpban_hidx4, an exact index of the same hosts in 4 bytes each, so 1M bans
 * take ~5 MiB and a lookup reads one cache line.
 *
 * Index of IPv4 hosts. h = xdpban_perm4(address) is a bijection of the 32
 * address bits; with H = h * lines (64 bits), the line is H >> 32 and the
 * quotient bits 16-31 of H. Hosts of one line differ in H by multiples of
 * lines >= 2^16, so their quotients differ: a slot stores only the quotient,
 * a match is exact, and no division is needed. A line holds 15 slots; a host
 * lives in its home line, or in the
 * next line when its home is full (marked "displaced" there, and its home
 * marked "overflow"), or else only in the hash map (its home marked "spill",
 * and the program then looks in the hash map). A slot's low 16 bits say how
 * long the ban is certainly live (see xdpban_hidx_code); near and after that
 * time the program reads the exact expiry from the hash map, so a coarse code
 * never ends or extends a ban. */
#define XDPBAN_HIDX_SLOTS 15
#define XDPBAN_HIDX_MIN_LINES 65536 /* quotients stay exact (see above) */
#define XDPBAN_HIDX_USED(i) (1u << (i))                     /* header: slot i holds a host */
#define XDPBAN_HIDX_DISPLACED(i) (1u << (XDPBAN_HIDX_SLOTS + (i))) /* ... whose home is the previous line */
#define XDPBAN_HIDX_OVERFLOW (1u << 30) /* hosts of this line sit in the next line */
#define XDPBAN_HIDX_SPILL (1u << 31)    /* hosts of this line sit only in the hash map */
/* Expiry codes count units of 2^36 ns (68.7 s) after meta.epoch_ns. */
#define XDPBAN_HIDX_UNIT_SHIFT 36
#define XDPBAN_HIDX_PERMANENT 0

struct xdpban_hidx4_line {
	__u32 slot[XDPBAN_HIDX_SLOTS]; /* quotient << 16 | expiry code */
	__u32 header;                  /* XDPBAN_HIDX_* bits */
};

/* Ban flags (origin of a ban, for listing and reconciliation). */
enum xdpban_ban_flags {
	XDPBAN_BAN_MANUAL = 1 << 0, /* xdpban ban, or written while the daemon was down */
	XDPBAN_BAN_FLOOD = 1 << 1,  /* flood guard */
	XDPBAN_BAN_IMPORT = 1 << 2, /* blocklist import */
	XDPBAN_BAN_FLEET = 1 << 3,  /* applied from the fleet: another node published it */
};

/* Expiry times are CLOCK_BOOTTIME nanoseconds (bpf_ktime_get_boot_ns);
 * 0 means permanent. An entry whose expiry has passed is ignored by the
 * program, so bans end on time even when no daemon runs. */

struct xdpban_host4_key {
	__u8 addr[4];
};

struct xdpban_host6_key {
	__u8 addr[16];
};

struct xdpban_lpm4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct xdpban_lpm6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of the host maps and the banned-network tries. prefixlen repeats the
 * key's (32 or 128 for hosts), so when the longest match has expired the
 * program can look for a shorter live one. */
struct xdpban_ban {
	__u64 expires_ns;
	__u16 jail;
	__u8 flags;
	__u8 prefixlen;
	__u8 pad[4];
};

/* How many nested networks the program walks past expired ones. */
#define XDPBAN_MAX_NESTED 4

/* Value of the allow tries. */
struct xdpban_allow {
	__u32 flags;
};

/* Per-CPU counters; userspace sums them over CPUs. Reserved fields keep the
 * value size stable while counters are added. */
struct xdpban_stats {
	__u64 passed;       /* every packet that left with XDP_PASS */
	__u64 dropped_v4;   /* dropped: IPv4 source banned */
	__u64 dropped_v6;   /* dropped: IPv6 source banned */
	__u64 allow_hits;   /* banned but allow-listed: passed */
	__u64 expired_hits; /* matched an expired entry: ignored */
	__u64 non_ip;       /* not IPv4/IPv6: passed */
	__u64 malformed;    /* truncated or invalid headers: passed */
	__u64 host_probes;  /* prefilter said maybe: host table probed */
	__u64 net_probes;   /* prefilter said maybe: network trie looked up */
	__u64 flood_checked; /* to a guarded port: token bucket consulted */
	__u64 flood_dropped; /* over its rate on a guarded port: dropped */
	__u64 flood_events;  /* over-rate sources reported to the daemon */
	__u64 flood_lost;    /* reports lost: the ring buffer was full */
	__u64 host_exact;    /* host hash map read (IPv6 hosts; IPv4 when the index cannot decide) */
	__u64 reserved[2];
};

/* Jail names by id; id 0 is "manual". */
#define XDPBAN_MAX_JAILS 1024
#define XDPBAN_JAIL_NAME_LEN 32
struct xdpban_jail {
	char name[XDPBAN_JAIL_NAME_LEN]; /* NUL-terminated; empty = unused id */
};

/* Flood guard: per-source rate limits on chosen ports, in front of the
 * services (SIP, SMTP AUTH) that log too late. A packet to a guarded port
 * (UDP: every datagram; TCP: connection attempts, SYN without ACK) from a
 * source that is not banned or allow-listed is charged to the token bucket of
 * (rule, source network); over the rate it is dropped, and a source that keeps
 * going is reported through the ring buffer (at most once a second) so the
 * daemon bans it. The bucket is GCRA: tat is when the bucket is full again.
 *
 * The port table holds a 4-bit rule id per (protocol, port): 16 per word, one
 * word read per packet, 64 KiB in all. The bucket table is open addressing in
 * cache lines: a source hashes to one line of five slots (one 64-byte map
 * value, read with one lookup), found by a 16-bit fingerprint; a new source
 * takes an empty slot or the one whose bucket refilled longest ago (the
 * quietest source), so a flooder, whose tat lies ahead, is the last to be
 * forgotten. Slots are 12 bytes (absolute 64-bit tat, so no wrap and no loss
 * of precision; fingerprint; drop counter) plus 6 bits of report time, so
 * 100k sources at load 1/2 take 2.44 MiB instead of 4 MiB (at 100k the
 * line's cache miss is about half the guard's cost). What the small
 * fields give up: a new source matches a tracked one of its line by
 * fingerprint with probability 1/65535 per occupied slot (it then shares that
 * bucket); the report second is kept mod 64, so a source reported at second s
 * and due again at s + 64k waits one second more. One line read per packet,
 * no locks, no allocation, whatever the sources do. */
#define XDPBAN_FLOOD_MAX_RULES 16 /* rule id 0 = not guarded */
#define XDPBAN_FLOOD_PORT_WORDS (2 * 65536 / 16) /* UDP ports, then TCP ports; 4 bits each */
#define XDPBAN_FLOOD_SLOTS_PER_BUCKET 5
#define XDPBAN_FLOOD_REPORT_BITS 6 /* per slot in xdpban_flood_bucket.reported */
#define XDPBAN_FLOOD_MAX_DROPS 65535 /* the slot's drop counter saturates here */

enum xdpban_flood_proto {
	XDPBAN_FLOOD_UDP = 0,
	XDPBAN_FLOOD_TCP = 1,
};

struct xdpban_flood_rule {
	__u64 interval_ns; /* 1 s / rate: what one packet costs */
	__u64 burst_ns;    /* interval_ns * (burst - 1): how far ahead a source may get */
	__u32 drops;       /* over-rate packets before the source is reported (<= XDPBAN_FLOOD_MAX_DROPS) */
	__u8 prefix4;      /* sources are counted (and reported) by this network */
	__u8 prefix6;
	__u8 pad[2];
};

/* One line of the bucket table: five slots, as parallel arrays so each field
 * is aligned. An empty slot has fp 0 and tat 0 (taken first). */
struct xdpban_flood_bucket {
	__u64 tat_ns[XDPBAN_FLOOD_SLOTS_PER_BUCKET];  /* CLOCK_MONOTONIC (coarse): when the bucket is full again */
	__u16 fp[XDPBAN_FLOOD_SLOTS_PER_BUCKET];      /* fingerprint of (network, prefix, rule); 0 = empty */
	__u16 dropped[XDPBAN_FLOOD_SLOTS_PER_BUCKET]; /* over-rate packets since last full or reported */
	__u32 reported; /* slot i's bits [6i, 6i+6): coarse second mod 64 of its last report */
};

struct xdpban_flood_stats {
	__u64 checked;
	__u64 dropped;
	__u64 events;
	__u64 reserved;
};

/* One report: this network kept sending over its rule's rate. */
struct xdpban_flood_event {
	__u8 addr[16];
	__u8 family;
	__u8 prefixlen;
	__u8 rule;
	__u8 pad;
	__u32 dropped; /* over-rate packets since the last report */
	__u64 time_ns; /* CLOCK_MONOTONIC */
};

/* Geometry and seed, written once when the maps are created. */
struct xdpban_meta {
	__u32 abi_version;
	__u32 hash_seed;
	__u32 hidx4_lines;  /* lines of xdpban_hidx4 (>= XDPBAN_HIDX_MIN_LINES) */
	__u32 reserved;
	__u32 bloom4_words; /* power of two, 64-bit words */
	__u32 bloom6_words;
	__u32 nguard_words;  /* power of two, per family */
	__u32 spilled_hosts; /* IPv4 hosts only in xdpban_hosts4 (their index lines were full) */
	__u64 epoch_ns;      /* CLOCK_BOOTTIME origin of the index's expiry codes */
};

/* Network prefilter: one bit per 2^(32 - XDPBAN_NGUARD4_BITS) IPv4 block
 * (top 20 bits) and per hashed IPv6 /32. A network shorter than the block sets
 * every block it covers. */
#define XDPBAN_NGUARD4_BITS 20
#define XDPBAN_NGUARD6_PREFIX 32

/* The hash shared by the program and userspace (64-bit finalizer of
 * splitmix64: cheap, bijective, good avalanche). */
static inline __u64 xdpban_mix64(__u64 x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Bytes from the top (network order) as a host-order integer. */
static inline __u32 xdpban_load32(const __u8 *a)
{
	return ((__u32)a[0] << 24) | ((__u32)a[1] << 16) | ((__u32)a[2] << 8) | a[3];
}

static inline __u64 xdpban_load64(const __u8 *a)
{
	__u64 w = 0;
	for (int i = 0; i < 8; i++)
		w = (w << 8) | a[i];
	return w;
}

static inline __u64 xdpban_hash4(const __u8 *a, __u32 seed)
{
	return xdpban_mix64(xdpban_load32(a) ^ ((__u64)seed << 32));
}

static inline __u64 xdpban_hash6(const __u8 *a, __u32 seed)
{
	return xdpban_mix64(xdpban_load64(a) ^ xdpban_mix64(xdpban_load64(a + 8) ^ seed));
}

/* Hash of an IPv6 /32 for the network prefilter. */
static inline __u64 xdpban_hash6_block(const __u8 *a, __u32 seed)
{
	return xdpban_mix64(xdpban_load32(a) ^ ((__u64)(seed ^ 0x5bd1e995u) << 32));
}

/* Where a hash lands: bucket from the low bits, the two prefilter bits from
 * the high bits, so the two uses are independent. */
static inline __u32 xdpban_bucket(__u64 h, __u32 nbuckets)
{
	return (__u32)h & (nbuckets - 1);
}

static inline __u32 xdpban_bloom_word(__u64 h, __u32 nwords)
{
	return (__u32)(h >> 32) & (nwords - 1);
}

static inline __u64 xdpban_bloom_bits(__u64 h)
{
	return (1ULL << ((h >> 52) & 63)) | (1ULL << ((h >> 58) & 63));
}

/* The index's bijection of an IPv4 address (network byte order, read as
 * bytes from the top): xor with the seed, then an invertible mixer. */
static inline __u32 xdpban_perm4(const __u8 *a, __u32 seed)
{
	__u32 x = xdpban_load32(a) ^ seed;

	x ^= x >> 16;
	x *= 0x21f0aaadU;
	x ^= x >> 15;
	x *= 0x735a2d97U;
	x ^= x >> 15;
	return x;
}

/* Home line and quotient of h in an index of n lines. */
static inline __u32 xdpban_hidx_line(__u32 h, __u32 n)
{
	return (__u32)(((__u64)h * n) >> 32);
}

static inline __u32 xdpban_hidx_quotient(__u32 h, __u32 n)
{
	return (__u32)((__u64)h * n) >> 16;
}

static inline __u32 xdpban_popcount32(__u32 x)
{
	x = x - ((x >> 1) & 0x55555555);
	x = (x & 0x33333333) + ((x >> 2) & 0x33333333);
	x = (x + (x >> 4)) & 0x0f0f0f0f;
	return (x * 0x01010101) >> 24;
}

/* Bit i set for each slot i of the line whose quotient is q (bit 15: junk
 * from the header). Branch-free: the line is read as 8 words of two slots;
 * the expiry lanes are forced to all ones and a zero quotient lane after the
 * xor is found with the borrow trick, which is exact here because the lane
 * below every quotient lane is all ones and never borrows. */
static inline __u32 xdpban_hidx_matches(const struct xdpban_hidx4_line *l, __u32 q)
{
	__u64 qq = ((__u64)q << 48) | ((__u64)q << 16);
	__u32 m = 0;

#ifdef __bpf__
#pragma unroll
#endif
	for (int k = 0; k < 8; k++) {
#ifdef __bpf__
		__u64 w = ((const __u64 *)l->slot)[k]; /* the line is 8-byte aligned */
#else
		__u64 w;
		__builtin_memcpy(&w, (const char *)l->slot + 8 * k, 8); /* no type punning in C++ */
#endif
		__u64 z = (w ^ qq) | 0x0000ffff0000ffffULL;
		__u64 t = (z - 0x0001000100010001ULL) & ~z & 0x8000800080008000ULL;

		m |= ((__u32)(t >> 31) & 1) << (2 * k) | (__u32)(t >> 63) << (2 * k + 1);
	}
	return m;
}

/* The slot of line l holding quotient q among its used slots that are
 * displaced (or not) by header hdr, or -1; the slot number is masked to 0..15
 * (word 15 of a line is its header). Quotients are unique among a line's own
 * hosts and among its displaced ones, so at most one bit survives the mask. */
static inline int xdpban_hidx_find_in(const struct xdpban_hidx4_line *l, __u32 hdr, __u32 q, int displaced)
{
	__u32 used = hdr & ((1u << XDPBAN_HIDX_SLOTS) - 1);
	__u32 disp = (hdr >> XDPBAN_HIDX_SLOTS) & ((1u << XDPBAN_HIDX_SLOTS) - 1);
	__u32 m = xdpban_hidx_matches(l, q) & used & (displaced ? disp : ~disp);

	return m ? (int)(xdpban_popcount32(m - 1) & 15) : -1;
}

static inline int xdpban_hidx_find(const struct xdpban_hidx4_line *l, __u32 q, int displaced)
{
	return xdpban_hidx_find_in(l, l->header, q, displaced);
}

/* Expiry code of a ban for the index: 0 = permanent; else 1 + the whole
 * units between the epoch and the expiry (at most 0xfffe), so "now is fewer
 * than code - 1 units past the epoch" proves the ban live. */
static inline __u32 xdpban_hidx_code(__u64 expires_ns, __u64 epoch_ns)
{
	__u64 units;

	if (!expires_ns)
		return XDPBAN_HIDX_PERMANENT;
	units = expires_ns > epoch_ns ? (expires_ns - epoch_ns) >> XDPBAN_HIDX_UNIT_SHIFT : 0;
	return 1 + (__u32)(units < 0xfffe ? units : 0xfffe);
}

/* The bucket of a source network: 64 bits of hash, the low ones pick the
 * line, the high ones make the fingerprint (never 0). */
static inline __u64 xdpban_flood_hash(const __u8 *net, int v6, __u32 plen, __u32 rule, __u32 seed)
{
	__u32 salt = seed ^ (rule << 8 | plen) * 0x9e3779b9u;

	return v6 ? xdpban_hash6(net, salt) : xdpban_hash4(net, salt);
}

/* The line of a source: the low 32 bits of its hash scaled to [0, nlines)
 * (any line count, not only powers of two). */
static inline __u32 xdpban_flood_line(__u64 h, __u32 nlines)
{
	return (__u32)(((h & 0xffffffffULL) * nlines) >> 32);
}

/* Its fingerprint: the top 16 bits, independent of the line; never 0. */
static inline __u16 xdpban_flood_fp(__u64 h)
{
	__u16 fp = (__u16)(h >> 48);

	return fp ? fp : 1;
}

/* The lines for `tracked` sources at load <= 1/2. */
static inline __u32 xdpban_flood_lines(__u32 tracked)
{
	__u64 n = ((__u64)tracked * 2 + XDPBAN_FLOOD_SLOTS_PER_BUCKET - 1) / XDPBAN_FLOOD_SLOTS_PER_BUCKET;

	return n ? (__u32)n : 1;
}

/* Slot i's report second (mod 64) in a line's `reported` word, and the word
 * with it set to second s. */
static inline __u32 xdpban_flood_report_s(__u32 reported, __u32 i)
{
	return (reported >> (i * XDPBAN_FLOOD_REPORT_BITS)) & ((1u << XDPBAN_FLOOD_REPORT_BITS) - 1);
}

static inline __u32 xdpban_flood_report_set(__u32 reported, __u32 i, __u64 s)
{
	__u32 mask = (1u << XDPBAN_FLOOD_REPORT_BITS) - 1;
	__u32 shift = i * XDPBAN_FLOOD_REPORT_BITS;

	return (reported & ~(mask << shift)) | (((__u32)s & mask) << shift);
}

#ifdef __cplusplus
static_assert(sizeof(struct xdpban_host4_key) == 4, "host4 key");
static_assert(sizeof(struct xdpban_host6_key) == 16, "host6 key");
static_assert(sizeof(struct xdpban_hidx4_line) == 64, "index line is one cache line");
static_assert(sizeof(struct xdpban_lpm4_key) == 8, "lpm4 key");
static_assert(sizeof(struct xdpban_lpm6_key) == 20, "lpm6 key");
static_assert(sizeof(struct xdpban_ban) == 16, "ban value");
static_assert(sizeof(struct xdpban_allow) == 4, "allow value");
static_assert(sizeof(struct xdpban_stats) == 128, "stats value");
static_assert(sizeof(struct xdpban_meta) == 40, "meta value");
static_assert(sizeof(struct xdpban_jail) == 32, "jail value");
static_assert(sizeof(struct xdpban_flood_rule) == 24, "flood rule");
static_assert(sizeof(struct xdpban_flood_bucket) == 64, "flood bucket: one cache line");
static_assert(sizeof(struct xdpban_flood_stats) == 32, "flood stats");
static_assert(sizeof(struct xdpban_flood_event) == 32, "flood event");
#else
_Static_assert(sizeof(struct xdpban_host4_key) == 4, "host4 key");
_Static_assert(sizeof(struct xdpban_host6_key) == 16, "host6 key");
_Static_assert(sizeof(struct xdpban_hidx4_line) == 64, "index line is one cache line");
_Static_assert(sizeof(struct xdpban_lpm4_key) == 8, "lpm4 key");
_Static_assert(sizeof(struct xdpban_lpm6_key) == 20, "lpm6 key");
_Static_assert(sizeof(struct xdpban_ban) == 16, "ban value");
_Static_assert(sizeof(struct xdpban_allow) == 4, "allow value");
_Static_assert(sizeof(struct xdpban_stats) == 128, "stats value");
_Static_assert(sizeof(struct xdpban_meta) == 40, "meta value");
_Static_assert(sizeof(struct xdpban_jail) == 32, "jail value");
_Static_assert(sizeof(struct xdpban_flood_rule) == 24, "flood rule");
_Static_assert(sizeof(struct xdpban_flood_bucket) == 64, "flood bucket: one cache line");
_Static_assert(sizeof(struct xdpban_flood_stats) == 32, "flood stats");
_Static_assert(sizeof(struct xdpban_flood_event) == 32, "flood event");
#endif

#endif /* XDPBAN_ABI_H */
