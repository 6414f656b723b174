//! Combining the failure process with the measured transition costs. Along the simulated years, each
//! stay in a mode is entered through a transition; one of that transition's measured samples is drawn
//! for the stay. A capability the sample leaves down for good is down for the whole stay; otherwise it
//! is down for the sample's cost (at most the stay) from the moment of the change. Down stretches that
//! touch merge into one outage. Downtime, outages, their durations, the time to quorum loss and the
//! breakdown by failure mode are summed as the years go.

use super::costs::{Sample, NCAP};
use super::modes::{Interner, ModeKey};
use super::process::{FailureModel, HOURS_PER_YEAR};
use crate::engine::rng::stream;
use crate::observe::catalog::Capability;
use rand::Rng as _;

/// The changes of mode along the years: pass one of two (the second replays the same path with the
/// costs known).
pub struct Path {
    pub interner: Interner,
    /// Per transition: how often it happened.
    pub counts: Vec<u64>,
    /// Per transition: a failure (else a repair) caused it.
    pub failure: Vec<bool>,
    pub events: u64,
}

/// The distinct transitions of `years` of the failure process.
pub fn survey(model: &FailureModel, years: f64, seed: u64) -> Path {
    let mut p = Path {
        interner: Interner::default(),
        counts: Vec::new(),
        failure: Vec::new(),
        events: 0,
    };
    p.interner.mode(ModeKey::default());
    p.events = model.simulate(years * HOURS_PER_YEAR, seed, |_, from, to, failure| {
        let a = p.interner.mode(from);
        let b = p.interner.mode(to);
        let t = p.interner.transition(a, b);
        if t == p.counts.len() {
            p.counts.push(0);
            p.failure.push(failure);
        }
        p.counts[t] += 1;
    });
    p
}

/// Log-spaced histogram of outage durations (1 ms to 10^9 s, 200 bins a decade: 1.2 % resolution).
#[derive(Clone, Debug)]
pub struct Histogram {
    bins: Vec<u64>,
    count: u64,
}

const BINS_PER_DECADE: f64 = 200.0;
const DECADES: f64 = 12.0;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            bins: vec![0; (BINS_PER_DECADE * DECADES) as usize],
            count: 0,
        }
    }

    fn add(&mut self, seconds: f64) {
        let x = (seconds / 1e-3).max(1.0).log10() * BINS_PER_DECADE;
        let i = (x as usize).min(self.bins.len() - 1);
        self.bins[i] += 1;
        self.count += 1;
    }

    /// The `q` quantile (0..1), seconds: the geometric middle of its bin.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let want = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &b) in self.bins.iter().enumerate() {
            seen += b;
            if seen >= want {
                return Some(1e-3 * 10f64.powf((i as f64 + 0.5) / BINS_PER_DECADE));
            }
        }
        None
    }
}

/// What the years gave for one capability.
#[derive(Clone, Debug)]
pub struct CapabilityTotals {
    pub present: bool,
    pub down_h: f64,
    /// Of which: stays in modes that leave the capability down for good.
    pub mode_down_h: f64,
    /// Per batch of years: hours down.
    pub batch_down_h: Vec<f64>,
    pub outages: u64,
    pub outage_sum_s: f64,
    pub outage_hist: Histogram,
    open: Option<(f64, f64)>,
}

impl CapabilityTotals {
    fn new(batches: usize) -> CapabilityTotals {
        CapabilityTotals {
            present: false,
            down_h: 0.0,
            mode_down_h: 0.0,
            batch_down_h: vec![0.0; batches],
            outages: 0,
            outage_sum_s: 0.0,
            outage_hist: Histogram::new(),
            open: None,
        }
    }

    /// A down stretch `[a, b]` (hours), merged with the open outage when they touch.
    fn down(&mut self, a: f64, b: f64, batch_h: f64) {
        if b <= a {
            return;
        }
        self.down_h += b - a;
        add_to_batches(&mut self.batch_down_h, batch_h, a, b);
        match &mut self.open {
            Some((_, end)) if a <= *end + 1e-9 => *end = end.max(b),
            _ => {
                self.close();
                self.open = Some((a, b));
            }
        }
    }

    fn close(&mut self) {
        if let Some((a, b)) = self.open.take() {
            let s = (b - a) * 3600.0;
            self.outages += 1;
            self.outage_sum_s += s;
            self.outage_hist.add(s);
        }
    }
}

/// Splits `[a, b]` over the batches it overlaps.
fn add_to_batches(batches: &mut [f64], batch_h: f64, a: f64, b: f64) {
    let n = batches.len();
    let mut lo = a;
    while lo < b {
        let i = ((lo / batch_h) as usize).min(n - 1);
        let edge = if i + 1 == n {
            b
        } else {
            ((i + 1) as f64 * batch_h).min(b)
        };
        batches[i] += edge - lo;
        lo = edge;
    }
}

/// Everything the years gave for a design.
#[derive(Clone, Debug)]
pub struct Totals {
    pub caps: Vec<CapabilityTotals>,
    /// Per mode id: hours down while in it, by capability (stays down for good).
    pub by_mode_h: Vec<[f64; NCAP]>,
    /// Per transition id: hours down after it, by capability (failover and recovery costs).
    pub by_transition_h: Vec<[f64; NCAP]>,
    /// Per mode id: hours spent in it.
    pub mode_time_h: Vec<f64>,
    /// Losses of etcd quorum, and the hours from every node up (the start, or the first return to
    /// all up after a loss) to the next loss, summed, with the last unfinished stretch (censored).
    pub quorum_losses: u64,
    pub first_loss_h: f64,
    /// How many of those clocks ended in a loss.
    pub first_loss_clocks: u64,
    pub batches: usize,
}

/// A stay in a mode: since when, which mode, and the transition and sample it was entered by.
type Stay = (f64, usize, Option<(usize, Sample)>);

/// Replays the path of [`survey`] (same model, years and seed) with a sample per stay.
pub fn account(
    model: &FailureModel,
    path: &Path,
    samples: &[Vec<Sample>],
    years: f64,
    seed: u64,
) -> Totals {
    let batches = (years as usize).clamp(1, 30);
    let hours = years * HOURS_PER_YEAR;
    let batch_h = hours / batches as f64;
    let mut tot = Totals {
        caps: (0..NCAP).map(|_| CapabilityTotals::new(batches)).collect(),
        by_mode_h: vec![[0.0; NCAP]; path.interner.modes.len()],
        by_transition_h: vec![[0.0; NCAP]; path.interner.transitions.len()],
        mode_time_h: vec![0.0; path.interner.modes.len()],
        quorum_losses: 0,
        first_loss_h: 0.0,
        first_loss_clocks: 0,
        batches,
    };
    for s in samples.iter().flatten() {
        for c in 0..NCAP {
            tot.caps[c].present |= s.present[c];
        }
    }
    let mut draw = stream(seed, 0x636f_7374); // "cost"
                                              // The stay under way: since when, in which mode, entered by which transition, with which sample.
    let mut stay: Stay = (0.0, 0, None);
    // Since when the clock to the next quorum loss runs (from all up).
    let mut clock: Option<f64> = Some(0.0);
    let all_up = path
        .interner
        .mode_id(ModeKey::default())
        .expect("interned first");
    let close_stay = |tot: &mut Totals, stay: &Stay, end: f64| {
        let (start, mode, entered) = *stay;
        tot.mode_time_h[mode] += end - start;
        let Some((t, s)) = entered else { return };
        for c in 0..NCAP {
            if !s.present[c] {
                continue;
            }
            if s.down_end[c] {
                tot.caps[c].mode_down_h += end - start;
                tot.by_mode_h[mode][c] += end - start;
                tot.caps[c].down(start, end, batch_h);
            } else if s.cost_s[c] > 0.0 {
                let b = (start + s.cost_s[c] / 3600.0).min(end);
                tot.by_transition_h[t][c] += b - start;
                tot.caps[c].down(start, b, batch_h);
            }
        }
    };
    let quorum = Capability::EtcdQuorum.index();
    model.simulate(hours, seed, |at, from, to, _| {
        let a = path.interner.mode_id(from).expect("surveyed");
        let b = path.interner.mode_id(to).expect("surveyed");
        let t = path.interner.find_transition(a, b).expect("surveyed");
        close_stay(&mut tot, &stay, at);
        let was_lost = stay.2.is_some_and(|(_, s)| s.down_end[quorum]);
        let options = &samples[t];
        let s = options[draw.gen_range(0..options.len())];
        if s.down_end[quorum] && !was_lost {
            tot.quorum_losses += 1;
            if let Some(t0) = clock.take() {
                tot.first_loss_h += at - t0;
                tot.first_loss_clocks += 1;
            }
        }
        if b == all_up && clock.is_none() {
            clock = Some(at);
        }
        stay = (at, b, Some((t, s)));
    });
    close_stay(&mut tot, &stay, hours);
    if let Some(t0) = clock {
        tot.first_loss_h += hours - t0;
    }
    for c in &mut tot.caps {
        c.close();
    }
    tot
}
