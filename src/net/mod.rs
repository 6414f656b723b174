//! The simulated network: hosts placed in zones, one-way latency with jitter, loss, partitions,
//! isolation and degraded links. Nothing reaches or leaves a host that is down.

use crate::engine::rng::{stream, Rng};
use crate::engine::Nanos;
use rand::Rng as _;

/// The network's random streams, one per sending node: `stream(seed, SENDER_STREAMS | node)`. A
/// message's delay and loss are drawn from its sender's stream, so a message added on one node does not
/// shift the draws of every later message in the run.
pub const SENDER_STREAMS: u64 = 1 << 63;

/// Index of a node (host).
pub type NodeId = u16;

/// An active partition: the group of each node (`None`: in no group, unaffected).
#[derive(Clone, Debug)]
struct Partition {
    fault: u16,
    group_of: Vec<Option<u16>>,
}

/// An active degraded link between two sets of nodes.
#[derive(Clone, Debug)]
struct Degrade {
    fault: u16,
    side_a: Vec<bool>,
    side_b: Vec<bool>,
    extra_latency_ns: Nanos,
    loss: f64,
}

/// The base behaviour of every link (the scenario's `settings.network`).
#[derive(Clone, Copy, Debug)]
pub struct LinkConfig {
    /// One-way latency between processes on the same node.
    pub local_latency_ns: Nanos,
    /// One-way latency inside a zone.
    pub zone_latency_ns: Nanos,
    /// One-way latency across zones.
    pub cross_zone_latency_ns: Nanos,
    /// Jitter as a fraction of the latency, drawn uniformly in [0, jitter x latency].
    pub jitter: f64,
    /// Probability that a message between two nodes is lost.
    pub loss: f64,
}

/// The network between hosts.
pub struct Network {
    zone_of: Vec<u16>,
    host_up: Vec<bool>,
    isolated: Vec<u32>,
    partitions: Vec<Partition>,
    degrades: Vec<Degrade>,
    local_latency_ns: Nanos,
    zone_latency_ns: Nanos,
    cross_zone_latency_ns: Nanos,
    jitter: f64,
    loss: f64,
    /// Per sending node.
    rngs: Vec<Rng>,
}

impl Network {
    /// A network of hosts in the given zones, all up and connected; `seed` is the run's root seed.
    pub fn new(zone_of: Vec<u16>, settings: &LinkConfig, seed: u64) -> Network {
        let n = zone_of.len();
        let rngs = (0..n as u64)
            .map(|node| stream(seed, SENDER_STREAMS | node))
            .collect();
        Network {
            zone_of,
            host_up: vec![true; n],
            isolated: vec![0; n],
            partitions: Vec::new(),
            degrades: Vec::new(),
            local_latency_ns: settings.local_latency_ns,
            zone_latency_ns: settings.zone_latency_ns,
            cross_zone_latency_ns: settings.cross_zone_latency_ns,
            jitter: settings.jitter,
            loss: settings.loss,
            rngs,
        }
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.zone_of.len()
    }

    /// The zone of a host.
    pub fn zone(&self, node: NodeId) -> u16 {
        self.zone_of[node as usize]
    }

    /// Whether the host is powered and running.
    pub fn host_up(&self, node: NodeId) -> bool {
        self.host_up[node as usize]
    }

    /// Powers a host down or up.
    pub fn set_host_up(&mut self, node: NodeId, up: bool) {
        self.host_up[node as usize] = up;
    }

    /// Whether traffic between two hosts is cut (by a partition or an isolation). Both hosts must also
    /// be up for anything to pass; that is checked separately.
    pub fn blocked(&self, a: NodeId, b: NodeId) -> bool {
        if a == b {
            return false;
        }
        if self.isolated[a as usize] > 0 || self.isolated[b as usize] > 0 {
            return true;
        }
        self.partitions.iter().any(|p| {
            matches!((p.group_of[a as usize], p.group_of[b as usize]), (Some(x), Some(y)) if x != y)
        })
    }

    /// Whether a message can currently pass from `a` to `b`.
    pub fn reachable(&self, a: NodeId, b: NodeId) -> bool {
        self.host_up(a) && self.host_up(b) && !self.blocked(a, b)
    }

    /// Draws the one-way delay of a message from `a` to `b`, or None if it is lost. Reachability is
    /// checked by the caller at send and at delivery time.
    pub fn draw_delay(&mut self, a: NodeId, b: NodeId) -> Option<Nanos> {
        let base = if a == b {
            self.local_latency_ns
        } else if self.zone_of[a as usize] == self.zone_of[b as usize] {
            self.zone_latency_ns
        } else {
            self.cross_zone_latency_ns
        };
        let mut extra = 0;
        let mut loss = if a == b { 0.0 } else { self.loss };
        for d in &self.degrades {
            let (ai, bi) = (a as usize, b as usize);
            if (d.side_a[ai] && d.side_b[bi]) || (d.side_b[ai] && d.side_a[bi]) {
                // Many overlapping degrade-link faults with huge latencies must not wrap.
                extra = d.extra_latency_ns.saturating_add(extra);
                loss = 1.0 - (1.0 - loss) * (1.0 - d.loss);
            }
        }
        let rng = &mut self.rngs[a as usize];
        if loss > 0.0 && rng.gen::<f64>() < loss {
            return None;
        }
        let jitter = if self.jitter > 0.0 && base > 0 {
            (rng.gen::<f64>() * self.jitter * base as f64) as Nanos
        } else {
            0
        };
        Some(base.saturating_add(jitter).saturating_add(extra))
    }

    /// Starts a partition between groups of hosts (hosts in no group are unaffected).
    pub fn add_partition(&mut self, fault: u16, groups: &[Vec<NodeId>]) {
        let mut group_of = vec![None; self.hosts()];
        for (g, nodes) in groups.iter().enumerate() {
            for n in nodes {
                group_of[*n as usize] = Some(g as u16);
            }
        }
        self.partitions.push(Partition { fault, group_of });
    }

    /// Cuts a host off from every other.
    pub fn isolate(&mut self, node: NodeId, on: bool) {
        let c = &mut self.isolated[node as usize];
        if on {
            *c += 1;
        } else {
            *c = c.saturating_sub(1);
        }
    }

    /// Degrades the links between two sets of hosts.
    pub fn add_degrade(
        &mut self,
        fault: u16,
        a: &[NodeId],
        b: &[NodeId],
        extra_latency_ns: Nanos,
        loss: f64,
    ) {
        let mut side_a = vec![false; self.hosts()];
        let mut side_b = vec![false; self.hosts()];
        for n in a {
            side_a[*n as usize] = true;
        }
        for n in b {
            side_b[*n as usize] = true;
        }
        self.degrades.push(Degrade {
            fault,
            side_a,
            side_b,
            extra_latency_ns,
            loss,
        });
    }

    /// Ends whatever partition or degradation fault `fault` started.
    pub fn heal(&mut self, fault: u16) {
        self.partitions.retain(|p| p.fault != fault);
        self.degrades.retain(|d| d.fault != fault);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> Network {
        let links = LinkConfig {
            local_latency_ns: 50_000,
            zone_latency_ns: 250_000,
            cross_zone_latency_ns: 1_000_000,
            jitter: 0.2,
            loss: 0.0,
        };
        Network::new(vec![0, 1, 0, 2], &links, 1)
    }

    #[test]
    fn partitions_cut_only_across_groups() {
        let mut n = net();
        n.add_partition(0, &[vec![0, 2], vec![1]]);
        assert!(n.blocked(0, 1));
        assert!(!n.blocked(0, 2));
        assert!(!n.blocked(0, 3), "a host in no group is unaffected");
        n.heal(0);
        assert!(!n.blocked(0, 1));
    }

    #[test]
    fn isolation_and_down_hosts() {
        let mut n = net();
        n.isolate(1, true);
        assert!(!n.reachable(0, 1));
        n.isolate(1, false);
        assert!(n.reachable(0, 1));
        n.set_host_up(2, false);
        assert!(!n.reachable(0, 2));
    }

    #[test]
    fn zone_latency_is_smaller_than_cross_zone() {
        let mut n = net();
        let same = n.draw_delay(0, 2).unwrap();
        let cross = n.draw_delay(0, 1).unwrap();
        assert!(same < cross, "{same} < {cross}");
    }

    #[test]
    fn each_sender_draws_from_its_own_stream() {
        // Node 0's delays are the same whether or not node 1 sent messages in between.
        let (mut quiet, mut busy) = (net(), net());
        let a: Vec<_> = (0..5).map(|_| quiet.draw_delay(0, 1)).collect();
        let b: Vec<_> = (0..5)
            .map(|_| {
                busy.draw_delay(1, 3);
                busy.draw_delay(0, 1)
            })
            .collect();
        assert_eq!(a, b);
        assert!(a.windows(2).any(|w| w[0] != w[1]), "jitter varies: {a:?}");
    }

    #[test]
    fn degraded_link_loses_and_slows() {
        let mut n = net();
        n.add_degrade(3, &[0], &[1], 50_000_000, 1.0);
        assert_eq!(n.draw_delay(0, 1), None);
        assert_eq!(n.draw_delay(1, 0), None);
        assert!(n.draw_delay(0, 2).is_some());
        n.heal(3);
        n.add_degrade(4, &[0], &[1], 50_000_000, 0.0);
        assert!(n.draw_delay(0, 1).unwrap() >= 50_000_000);
    }
}
