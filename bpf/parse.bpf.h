/* parse.bpf.h - bounded packet parsing for the XDP program (BPF only).
 * Every read is checked against data_end; lengths taken from the packet are
 * never trusted beyond what the bounds checks allow. Owns no maps. */
#ifndef XDPBAN_PARSE_BPF_H
#define XDPBAN_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

enum xdpban_parse_result {
	XDPBAN_PARSE_V4 = 0,
	XDPBAN_PARSE_V6 = 1,
	XDPBAN_PARSE_NON_IP = 2,
	XDPBAN_PARSE_MALFORMED = 3,
};

struct xdpban_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

struct xdpban_pkt {
	void *l3;      /* IPv4 or IPv6 header */
	void *l4;      /* transport header (IPv4: after options; IPv6: fixed header only) */
	__u8 l4_proto; /* IPPROTO_* of l4 (IPv6: the first next-header) */
};

/* Parses Ethernet, up to two VLAN tags (802.1Q, 802.1ad) and the IP header.
 * Fills pkt on V4/V6. */
static __always_inline int xdpban_parse(struct xdp_md *ctx, struct xdpban_pkt *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *cur = eth + 1;
	__u16 proto;

	if (cur > data_end)
		return XDPBAN_PARSE_MALFORMED;
	proto = eth->h_proto;

#pragma unroll
	for (int i = 0; i < 2; i++) {
		struct xdpban_vlan_hdr *vh = cur;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return XDPBAN_PARSE_MALFORMED;
		proto = vh->encap_proto;
		cur = vh + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = cur;
		__u32 ihl;

		if ((void *)(ip + 1) > data_end)
			return XDPBAN_PARSE_MALFORMED;
		ihl = ip->ihl * 4;
		if (ip->version != 4 || ihl < sizeof(*ip))
			return XDPBAN_PARSE_MALFORMED;
		if (cur + ihl > data_end)
			return XDPBAN_PARSE_MALFORMED;
		pkt->l3 = ip;
		pkt->l4 = cur + ihl;
		pkt->l4_proto = ip->protocol;
		return XDPBAN_PARSE_V4;
	}
	if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = cur;

		if ((void *)(ip6 + 1) > data_end)
			return XDPBAN_PARSE_MALFORMED;
		if (ip6->version != 6)
			return XDPBAN_PARSE_MALFORMED;
		pkt->l3 = ip6;
		pkt->l4 = ip6 + 1;
		pkt->l4_proto = ip6->nexthdr;
		return XDPBAN_PARSE_V6;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return XDPBAN_PARSE_MALFORMED; /* a third tag: more than we parse */
	return XDPBAN_PARSE_NON_IP;
}

#endif /* XDPBAN_PARSE_BPF_H */
