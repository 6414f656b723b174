//! The names the model does not have but the tools print: addresses, etcd member IDs, lease holder
//! identities, pod IPs. Each is a fixed function of the layout (and, for random-looking ones, of the
//! seed), so that the same run prints the same text.

use crate::topology::{Layout, NodeKind, ProcKind};

/// The VIP (or, with one load balancer, nothing: clients use lb-1's own address).
pub const VIP: &str = "10.0.0.100";

/// A node's InternalIP: one /24 per kind of node, the node's ordinal as the host part
/// (`cp-2` is 10.0.1.2, `etcd-1` 10.0.2.1, `lb-1` 10.0.3.1, `worker-3` 10.0.4.3; the admin's machine,
/// where kubectl and etcdctl run, 10.0.9.1).
pub fn node_ip(layout: &Layout, node: usize) -> String {
    let n = &layout.nodes[node];
    let net = match n.kind {
        NodeKind::ControlPlane => 1,
        NodeKind::Etcd => 2,
        NodeKind::LoadBalancer => 3,
        NodeKind::Worker => 4,
        NodeKind::Client => 9,
    };
    format!("10.0.{net}.{}", n.ordinal)
}

/// FNV-1a of the seed and a name, mixed with splitmix64's finalizer so that similar names give
/// unrelated values: the source of every random-looking identifier here.
pub fn fnv(seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.to_le_bytes().iter().chain(name.as_bytes()) {
        h ^= *b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A version-4 UUID drawn from (seed, name): client-go's leader election identity is
/// `hostname + "_" + string(uuid.NewUUID())` (k/k cmd/kube-scheduler/app/options/options.go and
/// cmd/kube-controller-manager/app/controllermanager.go), new on every start of the process.
pub fn uuid(seed: u64, name: &str) -> String {
    let a = fnv(seed, name);
    let b = fnv(a, name);
    let hex = format!("{a:016x}{b:016x}");
    let v = |r: std::ops::Range<usize>| &hex[r];
    // Version 4, variant 10xx.
    let variant = ["8", "9", "a", "b"][(b & 3) as usize];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        v(0..8),
        v(8..12),
        v(13..16),
        v(17..20),
        v(20..32)
    )
}

/// An etcd member ID as etcdctl prints it (`%x`, no leading zeros): etcd derives it from the member's
/// peer URLs and the cluster token (server/etcdserver/api/membership/member.go `computeMemberId`);
/// here from (seed, member name).
pub fn member_id(seed: u64, name: &str) -> String {
    format!("{:x}", fnv(seed, &format!("etcd-member/{name}")))
}

/// The model id of the etcd process `proc` as the scenario founded it: its place among the
/// scenario's etcd processes, from 1.
pub fn founding_member_id(layout: &Layout, proc: usize) -> u64 {
    layout
        .procs_of(ProcKind::Etcd)
        .position(|q| q == proc)
        .map_or(0, |i| i as u64 + 1)
}

/// The ID etcdctl prints (hexadecimal) for the etcd process `proc` whose model id is `raft_id`: a
/// founding member keeps the one its node's name gives; a member that joined later (`member-add`)
/// has a new one, as etcd derives it from the peer URLs and the time of the add.
pub fn etcdctl_member_id(layout: &Layout, seed: u64, proc: usize, raft_id: u64) -> String {
    let name = &layout.nodes[layout.procs[proc].node].name;
    if raft_id == founding_member_id(layout, proc) {
        member_id(seed, name)
    } else {
        member_id(seed, &format!("{name}#{raft_id}"))
    }
}

/// A pod's IP on its node's pod CIDR (kubeadm with a /16 pod network and a /24 per node).
pub fn pod_ip(node: usize, uid: u64) -> String {
    format!("10.244.{}.{}", node, 2 + uid % 250)
}

/// The wall-clock time of the run's start, for the absolute times the tools print (`kubectl
/// describe lease`'s Acquire Time and Renew Time): 2026-01-01T00:00:00Z, in Unix seconds. A fixed
/// choice so that the same run prints the same text; a node's clock reads this plus its own
/// (possibly skewed) time since the start.
pub const WALL_CLOCK_EPOCH_UNIX_S: u64 = 1_767_225_600;
