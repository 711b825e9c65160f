/* flood.bpf.h - the flood guard (BPF only): per-source rate limits on chosen
 * ports, so a SIP or SMTP AUTH flood is dropped in XDP and reported to the
 * daemon before the service logs a line. Owns the flood maps and the bucket
 * arithmetic; the verdict order (bans and the allow list first) is
 * xdpban.bpf.c's. Layouts and limits are in xdpban/abi.h. */
#ifndef XDPBAN_FLOOD_BPF_H
#define XDPBAN_FLOOD_BPF_H

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "classify.bpf.h"
#include "parse.bpf.h"
#include "xdpban/abi.h"

/* Set by the loader: the bucket table's lines (any count). */
const volatile __u32 xdpban_flood_buckets = 1;

/* The rule id of each (protocol, port), 4 bits each; 0 = not guarded. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XDPBAN_FLOOD_PORT_WORDS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_fports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpban_flood_rule);
	__uint(max_entries, XDPBAN_FLOOD_MAX_RULES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_frules SEC(".maps");

/* The buckets, a line of five per value; the loader sizes it from
 * flood_tracked (xdpban.conf). Mmapable, so the values start on a page and
 * each one is a cache line. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct xdpban_flood_bucket);
	__uint(max_entries, 1 << 16);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_ftable SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpban_flood_stats);
	__uint(max_entries, XDPBAN_FLOOD_MAX_RULES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_fstats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_fevents SEC(".maps");

/* The destination port of a packet the guard looks at, as an index into the
 * port table (UDP ports, then TCP ports); -1 when it never counts (other
 * protocols, a TCP segment that is not a connection attempt, a non-first IPv4
 * fragment, a short header). */
static __always_inline int xdpban_flood_port(struct xdp_md *ctx, int parsed, struct xdpban_pkt *pkt)
{
	void *data_end = (void *)(long)ctx->data_end;

	if (parsed == XDPBAN_PARSE_V4) {
		struct iphdr *ip = pkt->l3;

		if ((void *)(ip + 1) > data_end || (ip->frag_off & bpf_htons(0x1fff)))
			return -1;
	}
	if (pkt->l4_proto == IPPROTO_UDP) {
		struct udphdr *udp = pkt->l4;

		if ((void *)(udp + 1) > data_end)
			return -1;
		return XDPBAN_FLOOD_UDP * 65536 + bpf_ntohs(udp->dest);
	}
	if (pkt->l4_proto == IPPROTO_TCP) {
		struct tcphdr *tcp = pkt->l4;

		if ((void *)(tcp + 1) > data_end || !tcp->syn || tcp->ack)
			return -1;
		return XDPBAN_FLOOD_TCP * 65536 + bpf_ntohs(tcp->dest);
	}
	return -1;
}

/* The source network of `plen` bits, into net (16 bytes, zeroed beyond). */
static __always_inline void xdpban_flood_net(__u8 *net, const __u8 *saddr, int v6, __u32 plen)
{
	__u64 hi, lo;
	__u32 a;

	if (!v6) {
		a = *(const __u32 *)saddr;
		if (plen < 32)
			a &= bpf_htonl(plen ? ~0u << (32 - plen) : 0);
		*(__u32 *)net = a;
		return;
	}
	__builtin_memcpy(&hi, saddr, 8);
	__builtin_memcpy(&lo, saddr + 8, 8);
	if (plen <= 64) { /* (~0ULL << 64 is undefined: a /64 keeps hi whole) */
		if (plen < 64)
			hi &= __builtin_bswap64(plen ? ~0ULL << (64 - plen) : 0);
		lo = 0;
	} else if (plen < 128) {
		lo &= __builtin_bswap64(~0ULL << (128 - plen));
	}
	__builtin_memcpy(net, &hi, 8);
	__builtin_memcpy(net + 8, &lo, 8);
}

static __always_inline void xdpban_flood_report(const __u8 *net, int v6, __u32 plen, __u32 rule,
						struct xdpban_flood_bucket *bk, __u32 i, __u64 now,
						struct xdpban_stats *st, struct xdpban_flood_stats *fs)
{
	struct xdpban_flood_event *e = bpf_ringbuf_reserve(&xdpban_fevents, sizeof(*e), 0);

	if (!e) {
		st->flood_lost++;
		return; /* tried again at the next drop */
	}
	__builtin_memcpy(e->addr, net, 16);
	e->family = v6 ? 6 : 4;
	e->prefixlen = plen;
	e->rule = rule;
	e->pad = 0;
	e->dropped = bk->dropped[i];
	e->time_ns = now;
	bpf_ringbuf_submit(e, 0);
	bk->reported = xdpban_flood_report_set(bk->reported, i, now / 1000000000ULL);
	bk->dropped[i] = 0;
	st->flood_events++;
	if (fs)
		fs->events++;
}

/* XDP_DROP when the source is over its rule's rate, else XDP_PASS. The
 * caller has checked that the source is not banned; the allow list is read
 * only when a packet would be dropped. */
static __always_inline int xdpban_flood(struct xdp_md *ctx, int parsed, struct xdpban_pkt *pkt,
					const __u8 *saddr, struct xdpban_stats *st)
{
	__u8 net[16] = {};
	struct xdpban_flood_bucket *bk;
	struct xdpban_flood_rule *r;
	struct xdpban_flood_stats *fs;
	__u32 word, rule, plen, line, i, hit, victim;
	__u64 *ids, now, tat, h, oldest, fps, x, m;
	__u16 fp, fp4;
	int v6 = parsed == XDPBAN_PARSE_V6;
	int port = xdpban_flood_port(ctx, parsed, pkt);

	if (port < 0)
		return XDP_PASS;
	word = (__u32)port >> 4;
	ids = bpf_map_lookup_elem(&xdpban_fports, &word);
	if (!ids)
		return XDP_PASS;
	rule = (*ids >> ((port & 15) * 4)) & 15;
	if (!rule)
		return XDP_PASS;
	r = bpf_map_lookup_elem(&xdpban_frules, &rule);
	if (!r || !r->interval_ns)
		return XDP_PASS;
	fs = bpf_map_lookup_elem(&xdpban_fstats, &rule);
	st->flood_checked++;
	if (fs)
		fs->checked++;
	plen = v6 ? r->prefix6 : r->prefix4;
	if (plen > (v6 ? 128 : 32))
		plen = v6 ? 128 : 32;
	xdpban_flood_net(net, saddr, v6, plen);
	h = xdpban_flood_hash(net, v6, plen, rule, xdpban_seed);
	line = xdpban_flood_line(h, xdpban_flood_buckets);
	bk = bpf_map_lookup_elem(&xdpban_ftable, &line);
	if (!bk)
		return XDP_PASS;
	/* The fingerprints are read before the clock so that the line's cache
	 * miss overlaps the helper call. */
	fps = *(__u64 *)&bk->fp[0];
	fp4 = bk->fp[4];
	fp = xdpban_flood_fp(h);
	/* Coarse time (one tick of granularity) is plenty for rates of packets
	 * per second, and costs a tenth of the precise clock. */
	now = bpf_ktime_get_coarse_ns();
	/* The slot whose fingerprint matches, found without a branch per slot
	 * (which slot holds a source is random: a branch per slot mispredicts
	 * once a packet). m is 1 when lane j of x is zero; the lowest match
	 * wins; 5 = none. */
	x = fps ^ (fp * 0x0001000100010001ULL);
	hit = XDPBAN_FLOOD_SLOTS_PER_BUCKET;
	m = (((__u64)fp4 ^ fp) - 1) >> 63;
	hit += (4 - hit) * (__u32)m;
#pragma unroll
	for (i = 4; i-- > 0;) {
		m = (((x >> (16 * i)) & 0xffff) - 1) >> 63;
		hit += (i - hit) * (__u32)m;
	}
	if (hit >= XDPBAN_FLOOD_SLOTS_PER_BUCKET) {
		/* A source not seen (or forgotten): its bucket starts full, in
		 * an empty slot (tat 0) or the quietest one's. */
		victim = 0;
		oldest = bk->tat_ns[0];
#pragma unroll
		for (i = 1; i < XDPBAN_FLOOD_SLOTS_PER_BUCKET; i++) {
			if (bk->tat_ns[i] < oldest) {
				oldest = bk->tat_ns[i];
				victim = i;
			}
		}
		if (victim >= XDPBAN_FLOOD_SLOTS_PER_BUCKET)
			return XDP_PASS;
		bk->fp[victim] = fp;
		bk->dropped[victim] = 0;
		/* Not reported this second: its first report is not held back. */
		bk->reported = xdpban_flood_report_set(bk->reported, victim, now / 1000000000ULL + 63);
		bk->tat_ns[victim] = now + r->interval_ns;
		return XDP_PASS;
	}
	/* Concurrent CPUs may interleave these updates; a bucket then admits a
	 * packet or two more, never fewer. */
	tat = bk->tat_ns[hit];
	if (tat <= now) {
		tat = now; /* full again: the source was under its rate */
		bk->dropped[hit] = 0;
	}
	if (tat - now <= r->burst_ns) {
		bk->tat_ns[hit] = tat + r->interval_ns;
		return XDP_PASS;
	}
	if (v6 ? xdpban_allowed6(saddr) : xdpban_allowed4(saddr))
		return XDP_PASS; /* allow-listed sources are never rate limited */
	if (bk->dropped[hit] < XDPBAN_FLOOD_MAX_DROPS)
		bk->dropped[hit]++;
	st->flood_dropped++;
	if (fs)
		fs->dropped++;
	if (bk->dropped[hit] >= r->drops &&
	    xdpban_flood_report_s(bk->reported, hit) != ((now / 1000000000ULL) & 63))
		xdpban_flood_report(net, v6, plen, rule, bk, hit, now, st, fs);
	return XDP_DROP;
}

/* The whole verdict of a parsed packet, counted: bans and the allow list
 * first (a banned source costs no bucket, an allow-listed one is never rate
 * limited), then the flood guard. The production program and the flood
 * benchmark both run exactly this. */
static __always_inline int xdpban_verdict_guarded(struct xdp_md *ctx, int parsed, struct xdpban_pkt *pkt,
						  struct xdpban_stats *st)
{
	const __u8 *saddr = 0;
	int verdict = xdpban_ban_verdict(ctx, parsed, pkt, st, &saddr);

	if (verdict == XDPBAN_UNBANNED)
		verdict = saddr ? xdpban_flood(ctx, parsed, pkt, saddr, st) : XDP_PASS;
	if (verdict == XDP_PASS)
		st->passed++;
	return verdict;
}

#endif /* XDPBAN_FLOOD_BPF_H */
