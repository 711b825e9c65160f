/* bench_addr.h - the deterministic source addresses of the datapath benchmark,
 * shared by the bench BPF program (which generates them per packet) and
 * bench_datapath (which bans them). Plain C, BPF and C++ alike.
 * Index i < N names a banned host; any index >= N names a host that is never
 * banned as a host (the maps are bijections, so addresses never collide).
 * Does not own the ban maps or the lookups (bpf/classify.bpf.h). */
#ifndef XDPBAN_BENCH_ADDR_H
#define XDPBAN_BENCH_ADDR_H

#include <linux/types.h>

#include "xdpban/abi.h" /* xdpban_mix64: the bijective 64-bit mixer */

/* Bijective 32-bit mixer (lowbias32). */
static inline __u32 bench_mix32(__u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* IPv4 host i, as a host-order integer (a.b.c.d = bytes from the top). */
static inline __u32 bench_host4(__u32 i)
{
	return bench_mix32(i ^ 0x2545f491U);
}

/* IPv4 banned network j (prefix len plen), host order, host bits zero. */
static inline __u32 bench_net4(__u32 j, __u32 plen)
{
	return bench_mix32(j ^ 0x9e3779b9U) & ~((1U << (32 - plen)) - 1);
}

/* IPv6 host i: the two 64-bit halves, host order (bytes from the top). */
static inline __u64 bench_host6_hi(__u64 i)
{
	return xdpban_mix64(i ^ 0x243f6a8885a308d3ULL);
}

static inline __u64 bench_host6_lo(__u64 i)
{
	return xdpban_mix64(i ^ 0x13198a2e03707344ULL);
}

/* IPv6 banned network j: its upper 64 bits (prefix lengths <= 64). */
static inline __u64 bench_net6_hi(__u64 j, __u32 plen)
{
	__u64 mask = plen >= 64 ? ~0ULL : ~((1ULL << (64 - plen)) - 1);

	return xdpban_mix64(j ^ 0xa4093822299f31d0ULL) & mask;
}

/* An index in [lo, lo + n) from a 32-bit random number (multiply-shift). */
static inline __u32 bench_pick(__u32 rnd, __u32 lo, __u64 n)
{
	return lo + (__u32)(((__u64)rnd * n) >> 32);
}

#endif /* XDPBAN_BENCH_ADDR_H */
