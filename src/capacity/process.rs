//! The failure process of one design: every node of a class with a failure process, and every zone
//! holding nodes, alternates between up (a time to failure) and down (waiting for a crew, then a time
//! to repair). A discrete-event simulation over these up/down states (semi-Markov: any distribution)
//! gives the sequence of failure modes; nothing of the detailed model runs here, so a cluster-year
//! costs microseconds.
//!
//! Assumptions, stated in the README: failures are independent; a repaired node is as good as new
//! (its next time to failure starts at the repair); a node keeps ageing while its zone is down and can
//! fail in it; zones are repaired by their provider, not by the crews; shared crews take failed nodes
//! first failed, first repaired.

use super::model::{CapacityPlan, Crews, Distribution, FailureClass};
use super::modes::{class_slot, ModeKey, NodeTable};
use crate::engine::rng::{stream, Rng};
use crate::topology::Layout;
use rand::Rng as _;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Hours in a (365-day) year.
pub const HOURS_PER_YEAR: f64 = 8760.0;

/// Something that fails: a node or a zone.
#[derive(Clone, Debug)]
pub struct Unit {
    /// The layout node, or None for a zone.
    pub node: Option<usize>,
    /// The node's zone, or the zone itself.
    pub zone: usize,
    /// The node's class slot (0 for a zone, unused).
    pub slot: usize,
    pub ttf: Sampler,
    pub ttr: Sampler,
    /// Repaired by the shared crews (nodes, when crews are shared) or on its own (zones, per-node).
    pub needs_crew: bool,
}

/// A distribution ready to draw from.
#[derive(Clone, Copy, Debug)]
pub enum Sampler {
    Exponential { mean_h: f64 },
    Weibull { scale_h: f64, inv_shape: f64 },
    Deterministic { h: f64 },
}

impl Sampler {
    pub fn new(d: Distribution) -> Sampler {
        match d {
            Distribution::Exponential { mean_h } => Sampler::Exponential { mean_h },
            Distribution::Weibull { mean_h, shape } => Sampler::Weibull {
                // Mean of Weibull(k, λ) is λ Γ(1 + 1/k).
                scale_h: mean_h / gamma(1.0 + 1.0 / shape),
                inv_shape: 1.0 / shape,
            },
            Distribution::Deterministic { mean_h } => Sampler::Deterministic { h: mean_h },
        }
    }

    /// One draw, hours.
    pub fn draw(self, rng: &mut Rng) -> f64 {
        let mut e = || -> f64 {
            let u: f64 = rng.gen();
            -(1.0 - u).ln()
        };
        match self {
            Sampler::Exponential { mean_h } => mean_h * e(),
            Sampler::Weibull { scale_h, inv_shape } => scale_h * e().powf(inv_shape),
            Sampler::Deterministic { h } => h,
        }
    }
}

/// Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error below 1e-13 on [1, 3]).
pub fn gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI / ((std::f64::consts::PI * x).sin() * gamma(1.0 - x));
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    (2.0 * std::f64::consts::PI).sqrt() * t.powf(x + 0.5) * (-t).exp() * a
}

/// The failing units of a design and how they are repaired.
#[derive(Clone, Debug)]
pub struct FailureModel {
    pub units: Vec<Unit>,
    pub crews: Crews,
    pub table: NodeTable,
}

impl FailureModel {
    /// The units of a design's layout under the plan's failure processes, repaired by `crews`.
    pub fn new(plan: &CapacityPlan, layout: &Layout, crews: Crews) -> FailureModel {
        let table = NodeTable::new(layout);
        let mut units = Vec::new();
        let shared = matches!(crews, Crews::Shared(_));
        for (slot, nodes) in table.by_class.iter().enumerate() {
            for &n in nodes {
                let class = node_class(layout, n);
                if let Some(f) = class.and_then(|c| plan.failure(c)) {
                    debug_assert_eq!(class_slot(layout.nodes[n].kind), Some(slot));
                    units.push(Unit {
                        node: Some(n),
                        zone: table.zone_of[n],
                        slot,
                        ttf: Sampler::new(f.ttf),
                        ttr: Sampler::new(f.ttr),
                        needs_crew: shared,
                    });
                }
            }
        }
        if let Some(f) = plan.failure(FailureClass::Zone) {
            for z in table.populated_zones() {
                units.push(Unit {
                    node: None,
                    zone: z,
                    slot: 0,
                    ttf: Sampler::new(f.ttf),
                    ttr: Sampler::new(f.ttr),
                    needs_crew: false,
                });
            }
        }
        FailureModel {
            units,
            crews,
            table,
        }
    }

    /// Simulates `hours` from every unit up, calling `on_change(t_h, from, to, failure)` at each
    /// change of mode (`failure`: a unit failed, else one was repaired). Returns the number of events.
    pub fn simulate(
        &self,
        hours: f64,
        seed: u64,
        mut on_change: impl FnMut(f64, ModeKey, ModeKey, bool),
    ) -> u64 {
        let mut st = State::new(self);
        let mut mode = ModeKey::default();
        self.flips(hours, seed, |t, i, failing| {
            st.flip(self, i);
            let next = st.key();
            if next != mode {
                on_change(t, mode, next, failing);
                mode = next;
            }
        })
    }

    /// Simulates `hours` from every unit up, calling `on_flip(t_h, unit, failing)` as each unit fails
    /// or is repaired. Returns the number of events.
    pub fn flips(&self, hours: f64, seed: u64, mut on_flip: impl FnMut(f64, usize, bool)) -> u64 {
        let mut rng = stream(seed, 0x6361_7061_6369_7479); // "capacity"
        let mut down = vec![false; self.units.len()];
        let mut heap: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
        for (i, u) in self.units.iter().enumerate() {
            heap.push(Reverse((u.ttf.draw(&mut rng).to_bits(), i)));
        }
        let mut free_crews = match self.crews {
            Crews::PerNode => 0,
            Crews::Shared(n) => n,
        };
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut events = 0u64;
        while let Some(Reverse((bits, i))) = heap.pop() {
            let t = f64::from_bits(bits);
            if t >= hours {
                break;
            }
            events += 1;
            let u = &self.units[i];
            let failing = !down[i];
            down[i] = failing;
            on_flip(t, i, failing);
            if failing {
                if u.needs_crew {
                    queue.push_back(i);
                } else {
                    heap.push(Reverse(((t + u.ttr.draw(&mut rng)).to_bits(), i)));
                }
            } else {
                heap.push(Reverse(((t + u.ttf.draw(&mut rng)).to_bits(), i)));
                if u.needs_crew {
                    free_crews += 1;
                }
            }
            while free_crews > 0 {
                let Some(j) = queue.pop_front() else { break };
                free_crews -= 1;
                heap.push(Reverse((
                    (t + self.units[j].ttr.draw(&mut rng)).to_bits(),
                    j,
                )));
            }
        }
        events
    }
}

/// The failure class of a layout node.
fn node_class(layout: &Layout, n: usize) -> Option<FailureClass> {
    use crate::topology::NodeKind;
    match layout.nodes[n].kind {
        NodeKind::ControlPlane => Some(FailureClass::ControlPlane),
        NodeKind::Etcd => Some(FailureClass::Etcd),
        NodeKind::LoadBalancer => Some(FailureClass::LoadBalancer),
        NodeKind::Worker => Some(FailureClass::Worker),
        NodeKind::Client => None,
    }
}

/// Which units are down, and the counts a mode is made of.
struct State {
    down: Vec<bool>,
    zones_down: u64,
    /// Per class slot and zone: nodes down on their own.
    down_in: [Vec<u16>; 4],
}

impl State {
    fn new(m: &FailureModel) -> State {
        let nz = m.table.zones.len();
        State {
            down: vec![false; m.units.len()],
            zones_down: 0,
            down_in: std::array::from_fn(|_| vec![0; nz]),
        }
    }

    fn flip(&mut self, m: &FailureModel, i: usize) {
        let u = &m.units[i];
        self.down[i] = !self.down[i];
        match u.node {
            Some(_) => {
                let c = &mut self.down_in[u.slot][u.zone];
                if self.down[i] {
                    *c += 1;
                } else {
                    *c -= 1;
                }
            }
            None => self.zones_down ^= 1 << u.zone,
        }
    }

    fn key(&self) -> ModeKey {
        let mut k = ModeKey {
            zones_down: self.zones_down,
            down: [0; 4],
        };
        for (s, per_zone) in self.down_in.iter().enumerate() {
            k.down[s] = per_zone
                .iter()
                .enumerate()
                .filter(|(z, _)| self.zones_down & (1 << z) == 0)
                .map(|(_, &c)| c)
                .sum();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_matches_known_values() {
        assert!((gamma(1.0) - 1.0).abs() < 1e-12);
        assert!((gamma(5.0) - 24.0).abs() < 1e-9);
        assert!((gamma(0.5) - std::f64::consts::PI.sqrt()).abs() < 1e-12);
        assert!((gamma(1.5) - 0.886_226_925_452_758).abs() < 1e-12);
    }

    #[test]
    fn weibull_draws_have_the_asked_mean() {
        let s = Sampler::new(Distribution::Weibull {
            mean_h: 100.0,
            shape: 2.5,
        });
        let mut rng = stream(1, 1);
        let n = 200_000;
        let mean = (0..n).map(|_| s.draw(&mut rng)).sum::<f64>() / n as f64;
        assert!((mean - 100.0).abs() < 0.5, "{mean}");
    }
}
