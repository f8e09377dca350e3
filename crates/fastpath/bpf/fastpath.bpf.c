// SPDX-License-Identifier: GPL-2.0 OR MIT
//
// The tunnel data plane's fast path: one tc ingress program, attached to
// every Ethernet interface of the home agent or foreign agent, that does in
// the kernel what crates/platform/src/dataplane.rs does in user space.
//
//   home agent, forward:  a packet for a bound home address is encapsulated
//                         (IP-in-IP, RFC 2003; or GRE, RFC 2784) to the
//                         care-of address and sent on towards it.
//   foreign agent:        a tunnelled packet from a visitor's home agent is
//                         decapsulated and delivered to the visitor's MAC on
//                         its link (RFC 5944 4.2.2: no ARP for a home address).
//   foreign agent, reverse: a visitor's own packet is encapsulated to its home
//                         agent (RFC 3024 5.2).
//   home agent, reverse:  a reverse-tunnelled packet from the care-of address
//                         is decapsulated and routed (RFC 3024 5.3).
//
// Whatever the fast path cannot do (TTL about to expire, IP options,
// fragments, too big for the egress MTU, GRE checksum/key/sequence, no
// route) is left to the kernel and user space (TC_ACT_OK), which handle
// it as before. Malformed tunnel packets from a known tunnel peer are
// dropped and counted (RFC 2003 section 4: a decapsulator discards what
// it cannot decapsulate).

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

// Newer than the uapi headers of some distributions (Linux 6.3).
#ifndef BPF_F_ADJ_ROOM_DECAP_L3_IPV4
#define BPF_F_ADJ_ROOM_DECAP_L3_IPV4 (1ULL << 7)
#endif

#define AF_INET 2
#define IP_MF 0x2000
#define IP_DF 0x4000
#define IP_OFFSET 0x1fff

// RFC 2784 section 2: C (checksum present), the RFC 1701 bits (routing,
// strict source route, recursion) that must be zero, and RFC 2890's K and
// S; the low three bits are the version, which must be 0.
#define GRE_CSUM 0x8000
#define GRE_ROUTING 0x4000
#define GRE_KEY 0x2000
#define GRE_SEQ 0x1000
#define GRE_STRICT 0x0800
#define GRE_RECUR 0x0700
#define GRE_VERSION 0x0007
#define GRE_PROTO_IPV4 0x0800

// Outer TTL, as the user-space encapsulator (RFC 2003 section 3.1: enough
// to reach the tunnel exit).
#define OUTER_TTL 64

#define MODE_IPIP 1
#define MODE_GRE 2

// A home agent's binding, keyed by home address (network byte order).
struct binding {
	__be32 local;   // the home agent's address: outer source
	__be32 care_of; // outer destination
	__u8 mode;      // MODE_IPIP or MODE_GRE
	__u8 reverse;   // reverse-tunnelled packets accepted from care_of
	__u8 pad[2];
};

// A foreign agent's visitor, keyed by home address.
struct visitor {
	__be32 care_of;    // our address: the tunnel's far end from the HA
	__be32 home_agent; // the only accepted outer source
	__u32 ifindex;     // the visited link
	__u8 mac[6];       // the visitor's link-layer address
	__u8 our_mac[6];   // ours on that link
	__u8 reverse_mode; // 0: no reverse tunnel, else MODE_*
	__u8 pad[3];
};

// A tunnel's two ends: packets from `remote` to `local` with protocol 4
// or 47 are ours to decapsulate (or to drop when malformed).
struct peer {
	__be32 remote;
	__be32 local;
};

struct gre_base {
	__be16 flags;
	__be16 protocol;
};

enum counter {
	ENCAP_PACKETS,
	ENCAP_BYTES,
	DECAP_PACKETS,
	DECAP_BYTES,
	MALFORMED,
	PASSED,
	COUNTERS,
};

enum config {
	CONFIG_TUN_IFINDEX,
	CONFIGS,
};

// Room for as many bindings and visitors as a home or foreign agent
// holds (a million; the tables grow as entries come, BPF_F_NO_PREALLOC,
// so an idle agent pays nothing for the room).
#define MAP_ENTRIES (1 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAP_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __be32);
	__type(value, struct binding);
} pmip_bindings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAP_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __be32);
	__type(value, struct visitor);
} pmip_visitors SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAP_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct peer);
	__type(value, __u32);
} pmip_peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} pmip_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CONFIGS);
	__type(key, __u32);
	__type(value, __u32);
} pmip_config SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&pmip_counters, &which);
	if (c)
		*c += n;
}

// Wire packets an skb stands for: a GSO skb is segmented later, into
// gso_size bytes of payload each (its gso_segs is not always filled in
// by the time it reaches ingress). `ip` is the packet's (inner) header.
static __always_inline __u64 segments(struct __sk_buff *skb, const struct iphdr *ip,
				      const void *data_end)
{
	__u32 size = skb->gso_size;
	if (!size)
		return 1;
	if (skb->gso_segs > 1)
		return skb->gso_segs;
	__u32 headers = ip->ihl * 4;
	if (ip->protocol == IPPROTO_TCP) {
		const __u8 *doff = (const __u8 *)ip + sizeof(*ip) + 12;
		if ((const void *)(doff + 1) > data_end)
			return 1;
		headers += (*doff >> 4) * 4;
	} else {
		headers += 8;
	}
	__u32 len = bpf_ntohs(ip->tot_len);
	if (len <= headers)
		return 1;
	return (len - headers + size - 1) / size;
}

static __always_inline int pass(void)
{
	count(PASSED, 1);
	return TC_ACT_OK;
}

static __always_inline int malformed(void)
{
	count(MALFORMED, 1);
	return TC_ACT_SHOT;
}

static __always_inline __u32 tun_ifindex(void)
{
	__u32 k = CONFIG_TUN_IFINDEX;
	__u32 *v = bpf_map_lookup_elem(&pmip_config, &k);
	return v ? *v : 0;
}

static __always_inline int is_fragment(const struct iphdr *ip)
{
	return (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) != 0;
}

// RFC 1812 5.3.1 forwarding decrement, with the checksum updated
// incrementally (RFC 1624) as the kernel's ip_decrease_ttl does.
static __always_inline void decrement_ttl(struct iphdr *ip)
{
	__u32 check = (__u32)ip->check;
	check += (__u32)bpf_htons(0x0100);
	ip->check = (__sum16)(check + (check >= 0xFFFF));
	ip->ttl--;
}

static __always_inline __u16 header_checksum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

// Sends the frame on to the next hop found by bpf_fib_lookup: with a
// resolved neighbour directly, else through the neighbour subsystem.
static __always_inline int forward(struct __sk_buff *skb, struct bpf_fib_lookup *fib, int rc)
{
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		__u8 macs[12];
		__builtin_memcpy(macs, fib->dmac, 6);
		__builtin_memcpy(macs + 6, fib->smac, 6);
		if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0))
			return TC_ACT_SHOT;
		return bpf_redirect(fib->ifindex, 0);
	}
	struct bpf_redir_neigh nh = {
		.nh_family = AF_INET,
		.ipv4_nh = fib->ipv4_dst,
	};
	return bpf_redirect_neigh(fib->ifindex, &nh, sizeof(nh), 0);
}

// Encapsulates the IPv4 packet after the Ethernet header towards `remote`
// (RFC 2003 section 3.1; RFC 2784 section 2 for GRE) and sends it on.
// The caller has checked the packet is one the fast path may tunnel.
static __always_inline int encapsulate(struct __sk_buff *skb, __be32 local, __be32 remote,
				       __u8 mode)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *inner = data + sizeof(struct ethhdr);
	if ((void *)(inner + 1) > data_end)
		return TC_ACT_OK;
	// The fast path reads no options and leaves fragments to the kernel;
	// a TTL that expires here needs an ICMP error (RFC 2003 3.1), which
	// the kernel sends.
	if (inner->ihl != 5 || is_fragment(inner) || inner->ttl <= 1)
		return pass();
	__u32 overhead = sizeof(struct iphdr) + (mode == MODE_GRE ? sizeof(struct gre_base) : 0);
	__u32 inner_len = bpf_ntohs(inner->tot_len);
	if (inner_len < sizeof(struct iphdr) || inner_len > skb->len - sizeof(struct ethhdr) ||
	    inner_len + overhead > 0xffff)
		return pass();

	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.ipv4_src = local,
		.ipv4_dst = remote,
		.ifindex = skb->ingress_ifindex,
	};
	int rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return pass();
	// A care-of address routed into our own TUN device: user space.
	if (fib.ifindex == tun_ifindex())
		return pass();
	// Too big for the egress link once encapsulated: the kernel's path
	// fragments or answers "fragmentation needed" (RFC 2003 section 5.1).
	// A GSO packet passes: it is segmented to the link's MTU.
	__u32 mtu = 0;
	if (bpf_check_mtu(skb, fib.ifindex, &mtu, overhead, 0) != BPF_MTU_CHK_RET_SUCCESS)
		return pass();

	// RFC 2003 section 3.1: the TOS is copied and a DF set inside is set
	// outside; the inner TTL is decremented as this is forwarding.
	struct iphdr outer = {
		.version = 4,
		.ihl = 5,
		.tos = inner->tos,
		.tot_len = bpf_htons(inner_len + overhead),
		.id = bpf_htons(bpf_get_prandom_u32() & 0xffff),
		.frag_off = inner->frag_off & bpf_htons(IP_DF),
		.ttl = OUTER_TTL,
		.protocol = mode == MODE_GRE ? IPPROTO_GRE : IPPROTO_IPIP,
		.saddr = local,
		.daddr = remote,
	};
	outer.check = header_checksum(&outer);
	__u64 segs = segments(skb, inner, data_end);

	__u64 flags = BPF_F_ADJ_ROOM_ENCAP_L3_IPV4;
	if (mode == MODE_GRE)
		flags |= BPF_F_ADJ_ROOM_ENCAP_L4_GRE;
	// Refused (an skb the helper cannot grow, or one already carrying a
	// tunnel): unchanged, it takes the slow path.
	if (bpf_skb_adjust_room(skb, overhead, BPF_ADJ_ROOM_MAC, flags))
		return pass();
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &outer, sizeof(outer), 0))
		return TC_ACT_SHOT;
	if (mode == MODE_GRE) {
		// RFC 2784 section 2.1: no checksum, version 0, protocol type
		// IPv4 (RFC 2784 section 2.4).
		struct gre_base gre = {.flags = 0, .protocol = bpf_htons(GRE_PROTO_IPV4)};
		if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr) + sizeof(struct iphdr), &gre,
					sizeof(gre), 0))
			return TC_ACT_SHOT;
	}
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	inner = data + sizeof(struct ethhdr) + overhead;
	if ((void *)(inner + 1) > data_end)
		return TC_ACT_SHOT;
	decrement_ttl(inner);
	count(ENCAP_PACKETS, segs);
	count(ENCAP_BYTES, inner_len + overhead);
	return forward(skb, &fib, rc);
}

// Removes the outer `hdr` bytes (IPv4 and GRE headers) in front of the
// inner packet. Kernels before 6.3 do not know the decap flag (EINVAL):
// both headers are IPv4, so nothing but the flag differs.
static __always_inline int strip(struct __sk_buff *skb, __u32 hdr)
{
	// The inner packets keep their size: a GSO packet is segmented as
	// it was before it entered the tunnel.
	if (!bpf_skb_adjust_room(skb, -(__s32)hdr, BPF_ADJ_ROOM_MAC,
				 BPF_F_ADJ_ROOM_FIXED_GSO | BPF_F_ADJ_ROOM_DECAP_L3_IPV4))
		return 0;
	return bpf_skb_adjust_room(skb, -(__s32)hdr, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO);
}

// A tunnel packet from a known peer to us. Validates it (RFC 2003
// section 4, RFC 2784 section 2), then decapsulates it for a visitor
// (delivered to its MAC on its link) or for a reverse-tunnelling mobile
// node (routed on, RFC 3024 section 5.3); anything else goes to user space.
static __always_inline int decapsulate(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct iphdr *outer = data + sizeof(struct ethhdr);
	if ((void *)(outer + 1) > data_end)
		return malformed();
	// Options and fragments (which need reassembly first) go the slow way.
	if (outer->ihl != 5 || is_fragment(outer))
		return pass();
	__u32 outer_len = bpf_ntohs(outer->tot_len);
	if (outer_len > skb->len - sizeof(struct ethhdr))
		return malformed();
	__be32 outer_src = outer->saddr;
	__be32 outer_dst = outer->daddr;
	__u32 hdr = sizeof(struct iphdr);
	if (outer->protocol == IPPROTO_GRE) {
		struct gre_base *gre = (void *)(outer + 1);
		if ((void *)(gre + 1) > data_end || outer_len < hdr + sizeof(*gre))
			return malformed();
		__u16 flags = bpf_ntohs(gre->flags);
		// RFC 2784 section 2.3.1: version 0 only; 2.3: the RFC 1701
		// routing bits must be zero.
		if (flags & (GRE_VERSION | GRE_ROUTING | GRE_STRICT | GRE_RECUR))
			return malformed();
		// RFC 2784 2.4: a payload that is not IPv4 is not ours to carry.
		if (gre->protocol != bpf_htons(GRE_PROTO_IPV4))
			return malformed();
		// A checksum to verify, a key or a sequence number (RFC 2890):
		// the user-space decapsulator handles them.
		if (flags & (GRE_CSUM | GRE_KEY | GRE_SEQ))
			return pass();
		hdr += sizeof(*gre);
	}
	struct iphdr *inner = data + sizeof(struct ethhdr) + hdr;
	if ((void *)(inner + 1) > data_end)
		return malformed();
	// RFC 2003 section 4: the payload of protocol 4 (and GRE's IPv4
	// payload) is an IPv4 header whose length fits in the outer packet.
	if (inner->version != 4 || inner->ihl < 5)
		return malformed();
	__u32 inner_len = bpf_ntohs(inner->tot_len);
	if (inner_len < inner->ihl * 4 || inner_len > outer_len - hdr)
		return malformed();
	if (inner->ihl != 5 || inner->ttl <= 1)
		return pass();

	__be32 inner_src = inner->saddr, inner_dst = inner->daddr;
	struct visitor *v = bpf_map_lookup_elem(&pmip_visitors, &inner_dst);
	if (v && v->care_of == outer_dst && v->home_agent == outer_src) {
		__u32 ifindex = v->ifindex;
		__u8 macs[12];
		__builtin_memcpy(macs, v->mac, 6);
		__builtin_memcpy(macs + 6, v->our_mac, 6);
		__u32 mtu = 0;
		if (bpf_check_mtu(skb, ifindex, &mtu, -(__s32)hdr, 0) != BPF_MTU_CHK_RET_SUCCESS)
			return pass();
		__u64 segs = segments(skb, inner, data_end);
		if (strip(skb, hdr))
			return pass();
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		inner = data + sizeof(struct ethhdr);
		if ((void *)(inner + 1) > data_end)
			return TC_ACT_SHOT;
		// Delivery onto the visited link is forwarding (RFC 2003 3.1).
		decrement_ttl(inner);
		if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0))
			return TC_ACT_SHOT;
		count(DECAP_PACKETS, segs);
		count(DECAP_BYTES, inner_len);
		return bpf_redirect(ifindex, 0);
	}

	struct binding *b = bpf_map_lookup_elem(&pmip_bindings, &inner_src);
	if (b && b->reverse && b->care_of == outer_src && b->local == outer_dst) {
		// To another mobile node of ours: the user-space path tunnels
		// it on.
		if (bpf_map_lookup_elem(&pmip_bindings, &inner_dst))
			return pass();
		struct bpf_fib_lookup fib = {
			.family = AF_INET,
			.tos = inner->tos,
			.l4_protocol = inner->protocol,
			// The MTU check on the inner length, unless GSO
			// segments it anyway.
			.tot_len = skb->gso_segs > 1 ? 0 : inner_len,
			.ipv4_src = inner->saddr,
			.ipv4_dst = inner->daddr,
			.ifindex = skb->ingress_ifindex,
		};
		int rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
			return pass();
		if (fib.ifindex == tun_ifindex())
			return pass();
		__u64 segs = segments(skb, inner, data_end);
		if (strip(skb, hdr))
			return pass();
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
		inner = data + sizeof(struct ethhdr);
		if ((void *)(inner + 1) > data_end)
			return TC_ACT_SHOT;
		decrement_ttl(inner);
		count(DECAP_PACKETS, segs);
		count(DECAP_BYTES, inner_len);
		return forward(skb, &fib, rc);
	}
	// Ours by its ends but for nobody the fast path knows: user space
	// decides (and counts) what to do with it.
	return pass();
}

SEC("classifier")
int pmip_tunnel(struct __sk_buff *skb)
{
	// Only frames addressed to us are routed; the rest are not ours.
	if (skb->pkt_type != PACKET_HOST || skb->protocol != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->version != 4)
		return TC_ACT_OK;

	if (ip->protocol == IPPROTO_IPIP || ip->protocol == IPPROTO_GRE) {
		struct peer p = {.remote = ip->saddr, .local = ip->daddr};
		if (bpf_map_lookup_elem(&pmip_peers, &p)) {
			// The headers to read may lie past the linear part.
			__u32 want = sizeof(struct ethhdr) + 2 * sizeof(struct iphdr) +
				     sizeof(struct gre_base);
			if (data + want > data_end && skb->len > data_end - data)
				bpf_skb_pull_data(skb, want);
			return decapsulate(skb);
		}
	}

	// Home agent: to a bound home address (RFC 5944 4.2.3).
	__be32 dst = ip->daddr;
	struct binding *b = bpf_map_lookup_elem(&pmip_bindings, &dst);
	if (b)
		return encapsulate(skb, b->local, b->care_of, b->mode);

	// Foreign agent: a visitor's own packet, on its link, into the
	// reverse tunnel (RFC 3024 section 5.2), unless it is for us (the
	// local table answers first, as for the kernel's source rule) or
	// for a multicast or broadcast group the link serves.
	__be32 src = ip->saddr;
	struct visitor *v = bpf_map_lookup_elem(&pmip_visitors, &src);
	if (!v || !v->reverse_mode || v->ifindex != skb->ingress_ifindex)
		return TC_ACT_OK;
	if ((bpf_ntohl(dst) >> 28) == 0xe || dst == 0xffffffff)
		return TC_ACT_OK;
	__be32 local = v->care_of, remote = v->home_agent;
	__u8 mode = v->reverse_mode;
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.ipv4_src = src,
		.ipv4_dst = dst,
		.ifindex = skb->ingress_ifindex,
	};
	int rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED || rc == BPF_FIB_LKUP_RET_BLACKHOLE ||
	    rc == BPF_FIB_LKUP_RET_UNREACHABLE || rc == BPF_FIB_LKUP_RET_PROHIBIT)
		return TC_ACT_OK;
	return encapsulate(skb, local, remote, mode);
}

char _license[] SEC("license") = "Dual MIT/GPL";
