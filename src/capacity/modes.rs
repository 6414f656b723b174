//! Failure modes: the set of down nodes, canonicalised by role. Nodes of one class are taken as
//! interchangeable (the detailed runs draw which node leads etcd, holds a lease or the VIP), zones are
//! not (each holds its own nodes). A mode is the zones that are down plus, per class, how many nodes
//! outside those zones are down; its representative crashes the whole zones and the lowest-numbered
//! such nodes of each class.

use crate::topology::{Layout, NodeKind};

/// The node classes a mode counts, in the order labels name them.
pub const NODE_CLASSES: [NodeKind; 4] = [
    NodeKind::ControlPlane,
    NodeKind::Etcd,
    NodeKind::LoadBalancer,
    NodeKind::Worker,
];

/// The slot of a node kind in [`NODE_CLASSES`] (None for the client).
pub fn class_slot(kind: NodeKind) -> Option<usize> {
    match kind {
        NodeKind::ControlPlane => Some(0),
        NodeKind::Etcd => Some(1),
        NodeKind::LoadBalancer => Some(2),
        NodeKind::Worker => Some(3),
        NodeKind::Client => None,
    }
}

fn class_word(slot: usize) -> &'static str {
    ["control-plane", "etcd", "load-balancer", "worker"][slot]
}

/// A failure mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ModeKey {
    /// Bit z: zone z (index into the layout's zones) is down.
    pub zones_down: u64,
    /// Per class slot: nodes down outside the down zones.
    pub down: [u16; 4],
}

impl ModeKey {
    /// Every node up.
    pub fn all_up(self) -> bool {
        self == ModeKey::default()
    }

    /// How many things are down (zones count once each), a measure of how deep the mode is.
    pub fn depth(self) -> u32 {
        self.zones_down.count_ones() + self.down.iter().map(|&d| d as u32).sum::<u32>()
    }
}

/// The cluster nodes of a layout by class and zone, for labels and representatives.
#[derive(Clone, Debug)]
pub struct NodeTable {
    pub zones: Vec<String>,
    /// Per class slot: the layout's node indices, in ordinal order.
    pub by_class: [Vec<usize>; 4],
    /// Per layout node: its zone (clients included, never failed).
    pub zone_of: Vec<usize>,
    pub names: Vec<String>,
}

impl NodeTable {
    pub fn new(layout: &Layout) -> NodeTable {
        let mut by_class: [Vec<usize>; 4] = Default::default();
        for (i, n) in layout.nodes.iter().enumerate() {
            if let Some(s) = class_slot(n.kind) {
                by_class[s].push(i);
            }
        }
        for c in &mut by_class {
            c.sort_by_key(|&i| layout.nodes[i].ordinal);
        }
        NodeTable {
            zones: layout.zones.clone(),
            by_class,
            zone_of: layout.nodes.iter().map(|n| n.zone).collect(),
            names: layout.nodes.iter().map(|n| n.name.clone()).collect(),
        }
    }

    /// Zones holding at least one cluster node (only these can take anything down).
    pub fn populated_zones(&self) -> Vec<usize> {
        let mut z: Vec<usize> = self
            .by_class
            .iter()
            .flatten()
            .map(|&n| self.zone_of[n])
            .collect();
        z.sort_unstable();
        z.dedup();
        z
    }

    /// The mode's label: "all up", "2 of 3 etcd down", "zone a down, 1 of 3 worker down".
    pub fn label(&self, m: ModeKey) -> String {
        if m.all_up() {
            return "all up".into();
        }
        let mut parts = Vec::new();
        for (z, name) in self.zones.iter().enumerate() {
            if m.zones_down & (1 << z) != 0 {
                parts.push(format!("zone {name} down"));
            }
        }
        for (s, &d) in m.down.iter().enumerate() {
            if d > 0 {
                parts.push(format!(
                    "{d} of {} {} down",
                    self.by_class[s].len(),
                    class_word(s)
                ));
            }
        }
        parts.join(", ")
    }

    /// The representative's down nodes (layout indices, sorted): every node of the down zones and the
    /// lowest-numbered nodes of each class outside them.
    pub fn representative(&self, m: ModeKey) -> Vec<usize> {
        let in_down_zone = |n: usize| m.zones_down & (1 << self.zone_of[n]) != 0;
        let mut out: Vec<usize> = Vec::new();
        for (s, nodes) in self.by_class.iter().enumerate() {
            out.extend(nodes.iter().copied().filter(|&n| in_down_zone(n)));
            out.extend(
                nodes
                    .iter()
                    .copied()
                    .filter(|&n| !in_down_zone(n))
                    .take(m.down[s] as usize),
            );
        }
        out.sort_unstable();
        out
    }
}

/// Interns modes and transitions into dense ids in first-seen order (deterministic for a given path).
#[derive(Clone, Debug, Default)]
pub struct Interner {
    pub modes: Vec<ModeKey>,
    mode_ids: std::collections::BTreeMap<ModeKey, usize>,
    /// (from, to) mode ids.
    pub transitions: Vec<(usize, usize)>,
    transition_ids: std::collections::BTreeMap<(usize, usize), usize>,
}

impl Interner {
    pub fn mode(&mut self, m: ModeKey) -> usize {
        if let Some(&i) = self.mode_ids.get(&m) {
            return i;
        }
        self.modes.push(m);
        self.mode_ids.insert(m, self.modes.len() - 1);
        self.modes.len() - 1
    }

    pub fn transition(&mut self, from: usize, to: usize) -> usize {
        if let Some(&i) = self.transition_ids.get(&(from, to)) {
            return i;
        }
        self.transitions.push((from, to));
        self.transition_ids
            .insert((from, to), self.transitions.len() - 1);
        self.transitions.len() - 1
    }

    pub fn mode_id(&self, m: ModeKey) -> Option<usize> {
        self.mode_ids.get(&m).copied()
    }

    pub fn find_transition(&self, from: usize, to: usize) -> Option<usize> {
        self.transition_ids.get(&(from, to)).copied()
    }
}
