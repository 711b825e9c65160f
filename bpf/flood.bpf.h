/* flood.bpf.h - the flood guard (BPF only): per-source rate limits on chosen
 * ports, so a SIP or SMTP AUTH flood is dropped in XDP and reported to the
 * daemon before the service logs a line. Owns the flood maps and the bucket
 * arithmetic; the verdict order (bans and the allow list first) is
 * xdpban.bpf.c's. Layouts and limits are in xdpban/abi.h. */
#ifndef XDPBAN_FLOOD_BPF_H
#define XDPBAN_FLOOD_BPF_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "parse.bpf.h"
#include "classify.bpf.h"
#include "xdpban/abi.h"

/* Which (protocol, port) pairs are guarded: one bit each, so a packet to an
 * unguarded port costs one in-cache bit test. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, XDPBAN_FLOOD_PORT_WORDS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_fports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct xdpban_flood_svc);
	__type(value, __u32); /* rule id */
	__uint(max_entries, 1024);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_fsvc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct xdpban_flood_rule);
	__uint(max_entries, XDPBAN_FLOOD_MAX_RULES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_frules SEC(".maps");

/* The loader sizes it (flood_tracked in xdpban.conf); the least recently seen
 * sources are forgotten first. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct xdpban_flood_key);
	__type(value, struct xdpban_flood_bucket);
	__uint(max_entries, 131072);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdpban_fbucket SEC(".maps");

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

/* The destination port of a packet the guard looks at, as a bit index into
 * xdpban_fports; -1 when it never counts (other protocols, a TCP segment that
 * is not a connection attempt, a non-first IPv4 fragment, a short header). */
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

/* The bucket key: the source with its host bits beyond `plen` cleared. */
static __always_inline void xdpban_flood_key_of(struct xdpban_flood_key *k, const __u8 *saddr, int v6,
						__u32 plen, __u32 rule)
{
	__u32 n = v6 ? 16 : 4;

	if (plen > n * 8)
		plen = n * 8;
#pragma unroll
	for (__u32 i = 0; i < 16; i++) {
		__u32 bits = plen > i * 8 ? plen - i * 8 : 0;

		if (i < n)
			k->addr[i] = bits >= 8 ? saddr[i] : saddr[i] & (__u8)(0xff00 >> bits);
	}
	k->family = v6 ? 6 : 4;
	k->prefixlen = plen;
	k->rule = rule;
}

static __always_inline void xdpban_flood_report(const struct xdpban_flood_key *k,
						struct xdpban_flood_bucket *b, __u64 now,
						struct xdpban_stats *st, struct xdpban_flood_stats *fs)
{
	struct xdpban_flood_event *e = bpf_ringbuf_reserve(&xdpban_fevents, sizeof(*e), 0);

	if (!e) {
		st->flood_lost++;
		return; /* tried again at the next drop */
	}
	__builtin_memcpy(e->addr, k->addr, 16);
	e->family = k->family;
	e->prefixlen = k->prefixlen;
	e->rule = k->rule;
	e->pad = 0;
	e->dropped = b->dropped;
	e->time_ns = now;
	bpf_ringbuf_submit(e, 0);
	b->reported_ns = now;
	b->dropped = 0;
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
	struct xdpban_flood_key k = {};
	struct xdpban_flood_bucket *b;
	struct xdpban_flood_rule *r;
	struct xdpban_flood_stats *fs;
	struct xdpban_flood_svc svc = {};
	__u32 *rule, word;
	__u64 *bits, now, tat;
	int v6 = parsed == XDPBAN_PARSE_V6;
	int port = xdpban_flood_port(ctx, parsed, pkt);

	if (port < 0)
		return XDP_PASS;
	word = (__u32)port >> 6;
	bits = bpf_map_lookup_elem(&xdpban_fports, &word);
	if (!bits || !(*bits & (1ULL << (port & 63))))
		return XDP_PASS;
	svc.port = port & 0xffff;
	svc.proto = port >> 16;
	rule = bpf_map_lookup_elem(&xdpban_fsvc, &svc);
	if (!rule)
		return XDP_PASS;
	r = bpf_map_lookup_elem(&xdpban_frules, rule);
	if (!r || !r->interval_ns)
		return XDP_PASS;
	fs = bpf_map_lookup_elem(&xdpban_fstats, rule);
	st->flood_checked++;
	if (fs)
		fs->checked++;
	xdpban_flood_key_of(&k, saddr, v6, v6 ? r->prefix6 : r->prefix4, *rule);
	/* Coarse time (one tick of granularity) is plenty for rates of packets
	 * per second, and costs a tenth of the precise clock. */
	now = bpf_ktime_get_coarse_ns();
	b = bpf_map_lookup_elem(&xdpban_fbucket, &k);
	if (!b) {
		struct xdpban_flood_bucket fresh = {.tat_ns = now + r->interval_ns};

		bpf_map_update_elem(&xdpban_fbucket, &k, &fresh, BPF_NOEXIST);
		return XDP_PASS;
	}
	/* Concurrent CPUs may interleave these updates; a bucket then admits a
	 * packet or two more, never fewer. */
	tat = b->tat_ns;
	if (tat <= now) {
		tat = now; /* full again: the source was under its rate */
		b->dropped = 0;
	}
	if (tat - now <= r->burst_ns) {
		b->tat_ns = tat + r->interval_ns;
		return XDP_PASS;
	}
	if (v6 ? xdpban_allowed6(saddr) : xdpban_allowed4(saddr))
		return XDP_PASS; /* allow-listed sources are never rate limited */
	b->dropped++;
	st->flood_dropped++;
	if (fs)
		fs->dropped++;
	if (b->dropped >= r->drops && now - b->reported_ns >= XDPBAN_FLOOD_EVENT_GAP_NS)
		xdpban_flood_report(&k, b, now, st, fs);
	return XDP_DROP;
}

#endif /* XDPBAN_FLOOD_BPF_H */
