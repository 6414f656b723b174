//! Metrics (CONTRACT.md): computed from the trace and the timelines, over the run from the end of the
//! warm-up (the first moment every modelled capability is up) to the end.

use super::catalog::{Capability, Metric};
use super::timeline::Timeline;
use super::trace::{Trace, TraceKind};
use crate::components::etcd::types::Role;
use crate::engine::{secs, Nanos};
use std::collections::BTreeMap;

/// The flat metric map of a report, in name order.
pub type Metrics = BTreeMap<String, f64>;

/// The end of the warm-up: the first moment at which every capability is up (None: never).
pub fn warmup(timelines: &[Timeline]) -> Option<Nanos> {
    let mut w = 0;
    for t in timelines {
        w = w.max(t.first_up()?);
    }
    Some(w)
}

/// What metrics need besides the trace.
pub struct MetricInputs<'a> {
    pub trace: &'a Trace,
    pub timelines: &'a [Timeline],
    pub end_ns: Nanos,
    /// The lease a process competes for, if any.
    pub lease_of: &'a dyn Fn(u16) -> Option<u16>,
    pub acknowledged_writes_lost: u64,
    /// Measure over this window instead of from the warm-up to the end.
    pub window: Option<(Nanos, Nanos)>,
    /// Each fault's start and end (None: lasts to the end), for the recovery metrics.
    pub faults: &'a [(Nanos, Option<Nanos>)],
    /// Each declared workload's name and desired replicas, in declaration order (the index a
    /// `WorkloadReady` event names).
    pub workloads: &'a [(String, u32)],
}

/// Time from the end of each fault until the capability is up for good (until the next fault starts
/// or the run ends); the worst over faults. A capability still down when the next fault starts counts
/// the whole gap.
pub fn recovery(t: &Timeline, faults: &[(Nanos, Option<Nanos>)], end_ns: Nanos) -> Option<Nanos> {
    let mut worst = None;
    for &(_, fend) in faults {
        let Some(e) = fend else { continue };
        if e >= end_ns {
            continue;
        }
        let next = faults
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| *s > e)
            .min()
            .unwrap_or(end_ns)
            .min(end_ns);
        let r = t.outages(e, next).last().map(|(_, oe)| oe - e).unwrap_or(0);
        worst = Some(worst.map_or(r, |w: Nanos| w.max(r)));
    }
    worst
}

fn percentile(sorted: &[Nanos], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// Computes every metric of the catalog that the run models, over the expectation's window if one is
/// given, else from the warm-up to the end.
pub fn compute(inp: &MetricInputs) -> Metrics {
    let mut m = Metrics::new();
    let warm = warmup(inp.timelines).unwrap_or(inp.end_ns);
    let (w, end) = inp.window.unwrap_or((warm, inp.end_ns));
    let end = end.min(inp.end_ns);
    let w = w.min(end);
    m.insert(Metric::Warmup.key().into(), secs(warm));
    capability_metrics(inp, w, end, &mut m);
    if inp
        .timelines
        .iter()
        .any(|t| t.capability == Capability::Api)
    {
        request_metrics(inp, w, end, &mut m);
    }
    leader_metrics(inp, w, end, &mut m);
    workload_metrics(inp, w, end, &mut m);
    m.insert(
        Metric::AcknowledgedWritesLost.key().into(),
        inp.acknowledged_writes_lost as f64,
    );
    let violations = inp
        .trace
        .events
        .iter()
        .filter(|e| matches!(e.kind, TraceKind::Violation { .. }))
        .count();
    m.insert(Metric::InvariantViolations.key().into(), violations as f64);
    m
}

/// `C.availability`, `C.downtime_s`, `C.longest_outage_s`, `C.outages` and `C.recovery_s` over
/// `[w, end)`.
fn capability_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    let span = end.saturating_sub(w);
    for t in inp.timelines {
        let cap = t.capability;
        let outages = t.outages(w, end);
        let down: Nanos = outages.iter().map(|(s, e)| e - s).sum();
        let longest = outages.iter().map(|(s, e)| e - s).max().unwrap_or(0);
        let availability = if span == 0 {
            0.0
        } else {
            1.0 - down as f64 / span as f64
        };
        m.insert(Metric::Availability.cap_key(cap), availability);
        m.insert(Metric::Downtime.cap_key(cap), secs(down));
        m.insert(Metric::LongestOutage.cap_key(cap), secs(longest));
        m.insert(Metric::Outages.cap_key(cap), outages.len() as f64);
        if let Some(r) = recovery(t, inp.faults, inp.end_ns) {
            m.insert(Metric::Recovery.cap_key(cap), secs(r));
        }
    }
}

/// The request counts and latencies of requests sent in `[w, end)`.
fn request_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    let after: Vec<_> = inp
        .trace
        .requests
        .iter()
        .filter(|r| r.sent_ns >= w && r.sent_ns < end)
        .collect();
    let failed = after.iter().filter(|r| !r.ok).count();
    let mut lat: Vec<Nanos> = after
        .iter()
        .filter(|r| r.ok)
        .map(|r| r.latency_ns)
        .collect();
    lat.sort_unstable();
    m.insert(Metric::ApiRequests.key().into(), after.len() as f64);
    m.insert(Metric::ApiFailedRequests.key().into(), failed as f64);
    m.insert(
        Metric::ApiLatencyP50.key().into(),
        percentile(&lat, 50.0) / 1e6,
    );
    m.insert(
        Metric::ApiLatencyP99.key().into(),
        percentile(&lat, 99.0) / 1e6,
    );
}

/// Leader changes, elections and split-brain time within `[w, end]`.
fn leader_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    let mut etcd_changes = 0u64;
    let mut elections = 0u64;
    let mut lease_changes = [0u64; 2];
    let mut acting: [BTreeMap<u16, bool>; 2] = [BTreeMap::new(), BTreeMap::new()];
    let mut split_since: [Option<Nanos>; 2] = [None, None];
    let mut split_ns = [0u64; 2];
    let mut has_lease = [false; 2];
    for e in &inp.trace.events {
        // Changes at the warm-up instant are what ended the warm-up, not changes.
        let after = e.time_ns > w && e.time_ns <= end;
        match &e.kind {
            TraceKind::EtcdRole {
                role: Role::Leader, ..
            } if after => etcd_changes += 1,
            TraceKind::Campaign {
                pre_vote: false, ..
            } if after => elections += 1,
            TraceKind::Acting { proc, acting: a } => {
                if let Some(l) = (inp.lease_of)(*proc) {
                    let l = l as usize;
                    has_lease[l] = true;
                    if *a && after {
                        lease_changes[l] += 1;
                    }
                    acting[l].insert(*proc, *a);
                    let n = acting[l].values().filter(|v| **v).count();
                    match (n >= 2, split_since[l]) {
                        (true, None) => split_since[l] = Some(e.time_ns),
                        (false, Some(s)) => {
                            split_ns[l] += e.time_ns.min(end).saturating_sub(s.max(w));
                            split_since[l] = None;
                        }
                        _ => {}
                    }
                }
            }
            // A process that dies stops acting.
            TraceKind::Proc { proc, state } if *state == super::ProcState::Down => {
                if let Some(l) = (inp.lease_of)(*proc) {
                    let l = l as usize;
                    acting[l].insert(*proc, false);
                    let n = acting[l].values().filter(|v| **v).count();
                    if n < 2 {
                        if let Some(s) = split_since[l].take() {
                            split_ns[l] += e.time_ns.min(end).saturating_sub(s.max(w));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (l, s) in split_since.iter().enumerate() {
        if let Some(s) = s {
            split_ns[l] += end.saturating_sub((*s).max(w));
        }
    }
    m.insert(Metric::EtcdLeaderChanges.key().into(), etcd_changes as f64);
    m.insert(Metric::EtcdElections.key().into(), elections as f64);
    if has_lease[0] {
        m.insert(
            Metric::SchedulerLeaderChanges.key().into(),
            lease_changes[0] as f64,
        );
        m.insert(Metric::SchedulingSplitBrain.key().into(), secs(split_ns[0]));
    }
    if has_lease[1] {
        m.insert(
            Metric::ControllerManagerLeaderChanges.key().into(),
            lease_changes[1] as f64,
        );
        m.insert(
            Metric::ReconciliationSplitBrain.key().into(),
            secs(split_ns[1]),
        );
    }
}

/// `workloads.ready_ratio` and `workload.NAME.ready_ratio`: the time-averaged fraction of desired
/// replicas that were ready over `[w, end)`, from the observer's `WorkloadReady` events. The overall
/// ratio weighs each workload by its desired replicas; a workload that wants none counts as ready.
fn workload_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    if inp.workloads.is_empty() {
        return;
    }
    let desired: Vec<u64> = inp.workloads.iter().map(|(_, r)| *r as u64).collect();
    let mut ready = vec![0u64; desired.len()];
    let mut area = vec![0f64; desired.len()];
    let mut last = w;
    let flush = |t: Nanos, ready: &[u64], area: &mut [f64], last: &mut Nanos| {
        let t = t.clamp(w, end);
        if t > *last {
            for i in 0..ready.len() {
                let frac = if desired[i] == 0 {
                    1.0
                } else {
                    ready[i].min(desired[i]) as f64 / desired[i] as f64
                };
                area[i] += frac * (t - *last) as f64;
            }
            *last = t;
        }
    };
    for e in &inp.trace.events {
        if let TraceKind::WorkloadReady { workload, ready: r } = e.kind {
            flush(e.time_ns, &ready, &mut area, &mut last);
            if let Some(x) = ready.get_mut(workload as usize) {
                *x = r as u64;
            }
        }
    }
    flush(end, &ready, &mut area, &mut last);
    let span = end.saturating_sub(w).max(1) as f64;
    let total_desired: u64 = desired.iter().sum();
    let mut weighted = 0.0;
    for (i, (name, _)) in inp.workloads.iter().enumerate() {
        let ratio = area[i] / span;
        weighted += ratio * desired[i] as f64;
        m.insert(Metric::WorkloadReadyRatio.workload_key(name), ratio);
    }
    let overall = if total_desired == 0 {
        1.0
    } else {
        weighted / total_desired as f64
    };
    m.insert(Metric::WorkloadsReadyRatio.key().into(), overall);
}
