// SPDX-License-Identifier: GPL-2.0 OR MIT
//
// Visitor isolation at the access point: one tc egress program, attached to
// the ports stations are reached through (an emulated radio's station
// ports, or the one radio interface hostapd serves), that keeps from a
// visiting station what proxy Mobile IP does not carry to it (the Aironet
// documentation: "Guest client devices do not receive broadcast and
// multicast packets"; the registration replies are the AP's business, not
// the client's):
//
//   - a frame to a visiting station's MAC that is a UDP datagram from port
//     434 (a Registration Reply, RFC 5944 3.4) is dropped;
//   - a broadcast or multicast frame is dropped on a port that serves only
//     visiting stations (a station port of its own). A radio interface
//     shared by every station cannot hold a group frame back from one of
//     them, so there it passes.
//
// The maps are updated from user space, off the daemon's loop, when a
// station starts or stops visiting; nothing else changes at run time.

#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define IP_OFFSET 0x1fff
#define REGISTRATION_PORT 434

// A MAC address as a map key, padded to eight bytes.
struct station {
	__u8 mac[6];
	__u8 pad[2];
};

// Visiting stations, by MAC.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct station);
	__type(value, __u8);
	__uint(max_entries, 4096);
} pmip_isolated_stations SEC(".maps");

// Ports (ifindex) whose only station is visiting.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, 4096);
} pmip_isolated_ports SEC(".maps");

#define DROPPED_GROUP 0
#define DROPPED_REPLIES 1
#define COUNTERS 2

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, COUNTERS);
} pmip_isolation_counters SEC(".maps");

static __always_inline int drop(__u32 counter)
{
	__u64 *c = bpf_map_lookup_elem(&pmip_isolation_counters, &counter);
	if (c)
		*c += 1;
	return TC_ACT_SHOT;
}

SEC("classifier")
int pmip_isolate(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_OK;
	if (eth->h_dest[0] & 1) {
		__u32 port = skb->ifindex;
		if (bpf_map_lookup_elem(&pmip_isolated_ports, &port))
			return drop(DROPPED_GROUP);
		return TC_ACT_OK;
	}
	struct station key = {};
	__builtin_memcpy(key.mac, eth->h_dest, 6);
	if (!bpf_map_lookup_elem(&pmip_isolated_stations, &key))
		return TC_ACT_OK;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return TC_ACT_OK;
	// Only a first (or whole) datagram carries the UDP header.
	if (ip->protocol != IPPROTO_UDP || (ip->frag_off & bpf_htons(IP_OFFSET)))
		return TC_ACT_OK;
	__u32 ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip))
		return TC_ACT_OK;
	struct udphdr *udp = (void *)ip + ihl;
	if ((void *)(udp + 1) > data_end)
		return TC_ACT_OK;
	if (udp->source == bpf_htons(REGISTRATION_PORT))
		return drop(DROPPED_REPLIES);
	return TC_ACT_OK;
}

char _license[] SEC("license") = "Dual MIT/GPL";
