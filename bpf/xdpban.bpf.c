// SPDX-License-Identifier: GPL-2.0
/* xdpban.bpf.c - the XDP program: drop packets whose source is banned, then
 * those over a flood guard rate. Parsing lives in parse.bpf.h, the ban maps
 * and lookups in classify.bpf.h, the guard in flood.bpf.h. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "parse.bpf.h"
#include "classify.bpf.h"
#include "flood.bpf.h"

SEC("xdp")
int xdpban_xdp(struct xdp_md *ctx)
{
	struct xdpban_stats *st = xdpban_stats_get();
	struct xdpban_pkt pkt = {};

	if (!st)
		return XDP_PASS;
	return xdpban_verdict_guarded(ctx, xdpban_parse(ctx, &pkt), &pkt, st);
}

/* libxdp: run early in a multi-program chain; continue the chain on PASS. */
struct {
	__uint(priority, 5);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(xdpban_xdp);

char LICENSE[] SEC("license") = "GPL";
