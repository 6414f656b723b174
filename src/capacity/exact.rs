//! The exact stationary solution of the failure process when every time to failure and repair is
//! exponential: a continuous-time Markov chain over which units are down (and, with shared crews, the
//! order in which the crews take them), solved for its stationary distribution by Gauss-Seidel, then
//! lumped into failure modes with the flow between them. Rare combinations that a few thousand
//! simulated years never meet (three of five etcd members down) get their exact weight here.
//!
//! The chain is truncated at [`MAX_DEPTH`] units down at once (transitions deeper are left out); the
//! probability of being that deep is reported so that the truncation can be judged.

use super::model::Crews;
use super::modes::ModeKey;
use super::process::{FailureModel, Sampler, HOURS_PER_YEAR};
use std::collections::{BTreeMap, HashMap};

/// At most this many units down at once in the chain.
pub const MAX_DEPTH: u32 = 6;
/// The chain is not built beyond this many states (the simulation alone answers then).
pub const MAX_STATES: usize = 400_000;

/// The stationary solution lumped into failure modes.
#[derive(Clone, Debug, Default)]
pub struct Stationary {
    /// Probability of each mode.
    pub modes: BTreeMap<ModeKey, f64>,
    /// Flow between modes (from, to) in changes per year.
    pub flows: BTreeMap<(ModeKey, ModeKey), f64>,
    /// Probability of the deepest states kept (an upper hint at what the truncation leaves out).
    pub deepest_probability: f64,
    pub states: usize,
    /// Per state of the chain: its mode, and its transitions out (state, rate per hour); state 0 is
    /// every unit up.
    pub chain_modes: Vec<ModeKey>,
    pub chain_out: Vec<Vec<(usize, f64)>>,
}

impl Stationary {
    /// Mean time in hours from every unit up until the chain first enters a mode for which `lost`
    /// holds; None when it never does.
    ///
    /// Solved around the all-up state: for every other state i, m_i = a_i + b_i m_0, where a_i is the
    /// mean time to reach all-up or a lost state and b_i the chance that all-up comes first. Both are
    /// fixed points that Gauss-Seidel reaches in a few sweeps (repairs pull the chain back to all-up
    /// fast), where the plain first-passage system would crawl at the rate of a lost state per cycle.
    pub fn mean_time_to(&self, lost: impl Fn(&ModeKey) -> bool) -> Option<f64> {
        let n = self.chain_modes.len();
        let is_lost: Vec<bool> = self.chain_modes.iter().map(&lost).collect();
        if n == 0 || is_lost[0] || !is_lost.iter().any(|&l| l) {
            return None;
        }
        let q: Vec<f64> = self
            .chain_out
            .iter()
            .map(|o| o.iter().map(|e| e.1).sum())
            .collect();
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        for _ in 0..100_000 {
            let mut change: f64 = 0.0;
            for i in 1..n {
                if is_lost[i] || q[i] == 0.0 {
                    continue;
                }
                let (mut ai, mut bi) = (1.0, 0.0);
                for &(j, r) in &self.chain_out[i] {
                    if j == 0 {
                        bi += r;
                    } else if !is_lost[j] {
                        ai += r * a[j];
                        bi += r * b[j];
                    }
                }
                let (ai, bi) = (ai / q[i], bi / q[i]);
                change = change
                    .max((ai - a[i]).abs() / ai.max(1e-300))
                    .max((bi - b[i]).abs());
                a[i] = ai;
                b[i] = bi;
            }
            if change < 1e-14 {
                break;
            }
        }
        let (mut num, mut back) = (1.0 / q[0], 0.0);
        for &(j, r) in &self.chain_out[0] {
            if !is_lost[j] {
                num += r / q[0] * a[j];
                back += r / q[0] * b[j];
            }
        }
        (back < 1.0).then(|| num / (1.0 - back))
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct State {
    mask: u64,
    /// Units waiting for or under repair by the shared crews, first failed first.
    queue: Vec<u8>,
}

/// Solves the chain, or None when a distribution is not exponential, there are too many units, or
/// the chain would be too large.
pub fn solve(model: &FailureModel) -> Option<Stationary> {
    if model.units.len() > 64 {
        return None;
    }
    let rates: Option<Vec<(f64, f64)>> = model
        .units
        .iter()
        .map(|u| match (u.ttf, u.ttr) {
            (Sampler::Exponential { mean_h: f }, Sampler::Exponential { mean_h: r }) => {
                Some((1.0 / f, 1.0 / r))
            }
            _ => None,
        })
        .collect();
    let rates = rates?;
    let (states, edges) = build(model, &rates)?;
    let pi = gauss_seidel(states.len(), &edges);
    Some(lump(model, &states, &edges, &pi))
}

/// Breadth-first over reachable states from all up; `edges[j]` lists (i, rate) into j.
#[allow(clippy::type_complexity)]
fn build(
    model: &FailureModel,
    rates: &[(f64, f64)],
) -> Option<(Vec<State>, Vec<Vec<(usize, f64)>>)> {
    let crews = match model.crews {
        Crews::PerNode => usize::MAX,
        Crews::Shared(n) => n as usize,
    };
    let mut index: HashMap<State, usize> = HashMap::new();
    let mut states = vec![State {
        mask: 0,
        queue: Vec::new(),
    }];
    index.insert(states[0].clone(), 0);
    let mut edges: Vec<Vec<(usize, f64)>> = vec![Vec::new()];
    let mut k = 0;
    while k < states.len() {
        let s = states[k].clone();
        for (i, u) in model.units.iter().enumerate() {
            let bit = 1u64 << i;
            let next = if s.mask & bit == 0 {
                if s.mask.count_ones() >= MAX_DEPTH {
                    continue;
                }
                let mut q = s.queue.clone();
                if u.needs_crew {
                    q.push(i as u8);
                }
                (
                    State {
                        mask: s.mask | bit,
                        queue: q,
                    },
                    rates[i].0,
                )
            } else if !u.needs_crew {
                (
                    State {
                        mask: s.mask & !bit,
                        queue: s.queue.clone(),
                    },
                    rates[i].1,
                )
            } else {
                match s.queue.iter().position(|&x| x as usize == i) {
                    Some(p) if p < crews => {
                        let mut q = s.queue.clone();
                        q.remove(p);
                        (
                            State {
                                mask: s.mask & !bit,
                                queue: q,
                            },
                            rates[i].1,
                        )
                    }
                    _ => continue,
                }
            };
            let j = match index.get(&next.0) {
                Some(&j) => j,
                None => {
                    if states.len() >= MAX_STATES {
                        return None;
                    }
                    index.insert(next.0.clone(), states.len());
                    states.push(next.0);
                    edges.push(Vec::new());
                    states.len() - 1
                }
            };
            edges[j].push((k, next.1));
        }
        k += 1;
    }
    Some((states, edges))
}

/// πQ = 0 by Gauss-Seidel sweeps in breadth-first order, normalised after each sweep.
fn gauss_seidel(n: usize, into: &[Vec<(usize, f64)>]) -> Vec<f64> {
    let mut out_rate = vec![0.0; n];
    for list in into {
        for &(i, r) in list {
            out_rate[i] += r;
        }
    }
    let mut pi = vec![1.0 / n as f64; n];
    for _ in 0..20_000 {
        let mut change: f64 = 0.0;
        for j in 0..n {
            if out_rate[j] == 0.0 {
                continue;
            }
            let v = into[j].iter().map(|&(i, r)| pi[i] * r).sum::<f64>() / out_rate[j];
            change = change.max((v - pi[j]).abs() / v.max(1e-300));
            pi[j] = v;
        }
        let total: f64 = pi.iter().sum();
        pi.iter_mut().for_each(|p| *p /= total);
        if change < 1e-13 {
            break;
        }
    }
    pi
}

fn key_of(model: &FailureModel, mask: u64) -> ModeKey {
    let mut zones_down = 0u64;
    for (i, u) in model.units.iter().enumerate() {
        if u.node.is_none() && mask & (1 << i) != 0 {
            zones_down |= 1 << u.zone;
        }
    }
    let mut k = ModeKey {
        zones_down,
        down: [0; 4],
    };
    for (i, u) in model.units.iter().enumerate() {
        if u.node.is_some() && mask & (1 << i) != 0 && zones_down & (1 << u.zone) == 0 {
            k.down[u.slot] += 1;
        }
    }
    k
}

fn lump(
    model: &FailureModel,
    states: &[State],
    into: &[Vec<(usize, f64)>],
    pi: &[f64],
) -> Stationary {
    let keys: Vec<ModeKey> = states.iter().map(|s| key_of(model, s.mask)).collect();
    let mut st = Stationary {
        states: states.len(),
        ..Stationary::default()
    };
    for (s, p) in states.iter().zip(pi) {
        *st.modes.entry(key_of(model, s.mask)).or_default() += p;
        if s.mask.count_ones() == MAX_DEPTH {
            st.deepest_probability += p;
        }
    }
    let mut out = vec![Vec::new(); states.len()];
    for (j, list) in into.iter().enumerate() {
        for &(i, r) in list {
            if keys[i] != keys[j] {
                *st.flows.entry((keys[i], keys[j])).or_default() += pi[i] * r * HOURS_PER_YEAR;
            }
            out[i].push((j, r));
        }
    }
    st.chain_modes = keys;
    st.chain_out = out;
    st
}
