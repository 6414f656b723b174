//! Metrics (CONTRACT.md): computed from the trace and the timelines, over the run from the end of the
//! warm-up (the first moment every modelled capability is up) to the end.

use super::catalog::{Capability, Metric};
use super::timeline::Timeline;
use super::trace::Role;
use super::trace::{Trace, TraceKind};
use crate::engine::{secs, Nanos, SEC};
use std::collections::BTreeMap;

/// The flat metric map of a report, in name order.
pub type Metrics = BTreeMap<String, f64>;

/// How long a capability must stay up (or stay up until the first fault) to count as steady.
const STEADY_SETTLE_NS: Nanos = 10 * SEC;

/// The end of the warm-up: the first moment at which every capability is up to stay (see
/// `Timeline::first_steady_up`) and every process has come up once (None: a capability never came
/// up). Nodes boot at independent times, so a capability can be up while a late node's API server is
/// still starting behind the load balancer; the run is measured from when the whole cluster has
/// started. Processes that first come up only after the first fault (say, held down by it) do not
/// delay the warm-up past it.
pub fn warmup(timelines: &[Timeline], trace: &Trace, faults: &[FaultSpan]) -> Option<Nanos> {
    // When each process last became fully up (serving, for an API server) before the first fault.
    let first_fault = faults
        .iter()
        .map(|f| f.start_ns)
        .min()
        .unwrap_or(Nanos::MAX);
    let mut w = 0;
    for t in timelines {
        w = w.max(t.first_steady_up(STEADY_SETTLE_NS, first_fault)?);
    }
    let mut up_since: std::collections::BTreeMap<u16, Option<Nanos>> = Default::default();
    for e in &trace.events {
        if e.time_ns > first_fault {
            break;
        }
        if let TraceKind::Proc { proc, state } = e.kind {
            let slot = up_since.entry(proc).or_insert(None);
            match state {
                super::ProcState::Up | super::ProcState::Leader | super::ProcState::Standby => {
                    slot.get_or_insert(e.time_ns);
                }
                super::ProcState::Down | super::ProcState::Unready | super::ProcState::Paused => {
                    *slot = None
                }
            }
        }
    }
    let started = up_since.values().flatten().max().copied().unwrap_or(0);
    Some(w.max(started))
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
    /// Every scripted fault, for the recovery metrics.
    pub faults: &'a [FaultSpan],
    /// Each declared workload's name and desired replicas, in declaration order (the index a
    /// `WorkloadReady` event names).
    pub workloads: &'a [(String, u32)],
    /// Whether the leader-election settings let a leader act past its lease (then measured).
    pub lease_overrun_allowed: bool,
    /// The API servers and the cores of each, for `apiserver.utilization`.
    pub api_servers: u32,
    pub api_cores: u32,
    /// The etcd members and the cores of each, for `etcd.utilization`.
    pub etcd_members: u32,
    pub etcd_cores: u32,
    /// The load's client timeout: a failed call counts this long in `api.mutating_latency_p99_ms`
    /// and `api.readonly_latency_p99_ms`.
    pub load_timeout_ns: Nanos,
    /// Whether the scenario has informers (`load.informers.count` > 0): then the relists are
    /// measured.
    pub informers: bool,
}

/// A fault as the recovery metric sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FaultSpan {
    pub start_ns: Nanos,
    /// When it ends: `for` after it starts, at once for an instant fault (restart, restore, wipe-data),
    /// None when it lasts to the end of the run.
    pub end_ns: Option<Nanos>,
    /// A repair (restart, restore): an operator undoing earlier faults.
    pub repair: bool,
}

/// `C.recovery_s`: for each fault that ends within `[from, to)`, the time from its end until the
/// capability is up for good; the worst over those faults (None when none ends there).
///
/// A fault is charged only for its own outages. It stops being charged at the first moment another
/// fault takes the capability over:
/// 1. an outage begins after this fault ended, and a fault that started later than this one had
///    started by then (it may have caused the outage: the outage is that fault's); an outage is dated
///    by its start plus `slack`, the time a failure can take to show (for `api`, a request in flight
///    when a fault strikes was sent up to one request latency earlier);
/// 2. a repair (restart, restore) starts while the capability is down: the repair undoes the fault
///    (CONTRACT.md: a fault lasts "until a later fault undoes it") and the outage it ends is its own.
///
/// An outage still going on at such a moment is not charged to this fault. One that is still going on
/// at `to` with nothing taking it over is charged in full: the capability had not recovered.
/// An outage already under way when a later, unrelated fault starts stays this fault's: the trace
/// cannot tell a fault that keeps the capability down from one that merely happens meanwhile, and
/// charging the earlier fault errs toward a visible failure rather than a silent pass.
pub fn recovery(
    outages: &[(Nanos, Nanos)],
    slack: Nanos,
    faults: &[FaultSpan],
    from: Nanos,
    to: Nanos,
) -> Option<Nanos> {
    let mut worst: Option<Nanos> = None;
    for (i, f) in faults.iter().enumerate() {
        let Some(e) = f.end_ns else { continue };
        if e < from || e >= to {
            continue;
        }
        let r = own_recovery(i, e, outages, slack, faults, to);
        worst = Some(worst.map_or(r, |w| w.max(r)));
    }
    worst
}

/// The recovery of fault `i`, which ended at `e` (see [`recovery`]).
fn own_recovery(
    i: usize,
    e: Nanos,
    outages: &[(Nanos, Nanos)],
    slack: Nanos,
    faults: &[FaultSpan],
    to: Nanos,
) -> Nanos {
    let start = faults[i].start_ns;
    let others = || faults.iter().enumerate().filter(move |(j, _)| *j != i);
    let down_at = |t: Nanos| outages.iter().any(|&(a, b)| a <= t && t < b);
    // 1. A new outage that a later-started fault may have caused.
    let taken = outages
        .iter()
        .filter(|&&(a, b)| b > e && a + slack >= e)
        .filter(|&&(a, _)| others().any(|(_, g)| g.start_ns > start && g.start_ns <= a + slack))
        .map(|&(a, _)| a.max(e))
        .min();
    // 2. A repair while the capability is down.
    let repaired = others()
        .map(|(_, g)| g)
        .filter(|g| g.repair && g.start_ns >= e && g.start_ns < to && down_at(g.start_ns))
        .map(|g| g.start_ns)
        .min();
    let cut = taken.into_iter().chain(repaired).min();
    let until = cut.unwrap_or(to);
    outages
        .iter()
        .filter(|&&(a, b)| b > e && a < until && (b <= until || cut.is_none()))
        .map(|&(_, b)| b.min(to) - e)
        .max()
        .unwrap_or(0)
}

fn percentile(sorted: &[Nanos], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // p in 0..=100 gives a rank in 0..=len (clamped below in any case).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// Computes every metric of the catalog that the run models, over the expectation's window if one is
/// given, else from the warm-up to the end.
pub fn compute(inp: &MetricInputs) -> Metrics {
    let mut m = Metrics::new();
    let warm = warmup(inp.timelines, inp.trace, inp.faults).unwrap_or(inp.end_ns);
    let (w, end) = inp.window.unwrap_or((warm, inp.end_ns));
    let end = end.min(inp.end_ns);
    let w = w.min(end);
    m.insert(Metric::Warmup.key().into(), secs(warm));
    capability_metrics(inp, w, end, &mut m);
    match super::timeline::api_measured_by(inp.trace) {
        Some(super::timeline::ApiMeasure::Requests) => request_metrics(inp, w, end, &mut m),
        // No load: no request was made or failed, and there is no latency to report.
        Some(super::timeline::ApiMeasure::ClusterState) => {
            m.insert(Metric::ApiRequests.key().into(), 0.0);
            m.insert(Metric::ApiFailedRequests.key().into(), 0.0);
        }
        None => {}
    }
    capacity_metrics(inp, w, end, &mut m);
    etcd_capacity_metrics(inp, w, end, &mut m);
    relist_metrics(inp, w, end, &mut m);
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
    if inp.lease_overrun_allowed {
        let past = inp
            .trace
            .events
            .iter()
            .filter(|e| e.time_ns >= w && e.time_ns <= end)
            .filter(|e| matches!(e.kind, TraceKind::PastLease { .. }))
            .count();
        m.insert(Metric::PastLeaseActions.key().into(), past as f64);
    }
    m
}

/// How long a failure can take to show on a capability's timeline: for `api`, the slowest successful
/// request (a request in flight when a fault strikes was sent up to that long before); the observers'
/// capabilities change when the state does.
fn failure_slack(inp: &MetricInputs, cap: Capability) -> Nanos {
    match cap {
        Capability::Api => inp
            .trace
            .requests
            .iter()
            .filter(|r| r.ok)
            .map(|r| r.latency_ns)
            .max()
            .unwrap_or(0),
        Capability::EtcdQuorum
        | Capability::Scheduling
        | Capability::Reconciliation
        | Capability::Workloads => 0,
    }
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
        let all = t.outages(0, end);
        let slack = failure_slack(inp, cap);
        if let Some(r) = recovery(&all, slack, inp.faults, w, end) {
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
    // The SLOs' own measure (kubernetes/community sig-scalability/slos): mutating and read-only
    // single-object calls apart, each p99 at most 1 s; a call that failed counts as taking the
    // load's whole timeout.
    let slo_latencies = |write: bool| {
        let mut v: Vec<Nanos> = after
            .iter()
            .filter(|r| r.write == write)
            .map(|r| {
                if r.ok {
                    r.latency_ns
                } else {
                    r.latency_ns.max(inp.load_timeout_ns)
                }
            })
            .collect();
        v.sort_unstable();
        percentile(&v, 99.0) / 1e6
    };
    m.insert(
        Metric::ApiMutatingLatencyP99.key().into(),
        slo_latencies(true),
    );
    m.insert(
        Metric::ApiReadonlyLatencyP99.key().into(),
        slo_latencies(false),
    );
}

/// The API servers' capacity over `[w, end)`: 429s (in all and per priority level), seconds with
/// queueing or 429s, CPU utilisation, server-side p99 latency per level. Left out when no request
/// reached an API server's admission (no API servers, or no API traffic).
fn capacity_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    use crate::components::apf::PriorityLevel;
    let served: Vec<_> = inp
        .trace
        .served
        .iter()
        .filter(|r| r.at_ns >= w && r.at_ns < end)
        .collect();
    let throttles: Vec<_> = inp
        .trace
        .throttled
        .iter()
        .filter(|r| r.at_ns >= w && r.at_ns < end)
        .collect();
    if served.is_empty() && throttles.is_empty() {
        return;
    }
    let mut per_level = [0u64; 8];
    for t in &throttles {
        for (i, c) in t.counts.iter().enumerate() {
            per_level[i] += *c as u64;
        }
    }
    m.insert(
        Metric::ApiThrottled.key().into(),
        per_level.iter().sum::<u64>() as f64,
    );
    // Saturated seconds: whole seconds of the run with a queued or a rejected request.
    let mut seconds: std::collections::BTreeSet<Nanos> = served
        .iter()
        .filter(|r| r.queued)
        .map(|r| r.at_ns / SEC)
        .collect();
    seconds.extend(throttles.iter().map(|t| t.at_ns / SEC));
    m.insert(Metric::ApiSaturated.key().into(), seconds.len() as f64);
    let cpu: u64 = served.iter().map(|r| r.cpu_ns as u64).sum();
    let capacity = (end - w) as f64 * inp.api_servers.max(1) as f64 * inp.api_cores.max(1) as f64;
    m.insert(
        Metric::ApiServerUtilization.key().into(),
        if capacity > 0.0 {
            cpu as f64 / capacity
        } else {
            0.0
        },
    );
    for level in PriorityLevel::ALL {
        let i = level.index();
        let mut lat: Vec<Nanos> = served
            .iter()
            .filter(|r| r.level as usize == i)
            .map(|r| r.latency_ns)
            .collect();
        if lat.is_empty() && per_level[i] == 0 || level == PriorityLevel::Exempt {
            continue;
        }
        lat.sort_unstable();
        m.insert(
            Metric::LevelLatencyP99.level_key(level.name()),
            percentile(&lat, 99.0) / 1e6,
        );
        m.insert(
            Metric::LevelThrottled.level_key(level.name()),
            per_level[i] as f64,
        );
    }
}

/// The informers' relists over `[w, end)`: how many, and the most begun in one second of the run
/// (the storm's peak). Only with informers.
fn relist_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    if !inp.informers {
        return;
    }
    let mut per_second: std::collections::BTreeMap<Nanos, u64> = std::collections::BTreeMap::new();
    for &t in inp.trace.relists.iter().filter(|&&t| t >= w && t < end) {
        *per_second.entry(t / SEC).or_default() += 1;
    }
    m.insert(
        Metric::ApiRelists.key().into(),
        per_second.values().sum::<u64>() as f64,
    );
    m.insert(
        Metric::ApiRelistsPeak.key().into(),
        per_second.values().copied().max().unwrap_or(0) as f64,
    );
}

/// etcd's CPU utilisation over `[w, end)`: the members' busy time (kept under client load only) over
/// their cores, by whole seconds of the window.
fn etcd_capacity_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    let busy = &inp.trace.etcd_busy_ns;
    if busy.is_empty() || end <= w {
        return;
    }
    let (from, to) = (w.div_ceil(SEC), end / SEC);
    if to <= from {
        return;
    }
    let cpu: u64 = busy.range(from..to).map(|(_, ns)| *ns).sum();
    let capacity =
        ((to - from) * SEC) as f64 * inp.etcd_members.max(1) as f64 * inp.etcd_cores.max(1) as f64;
    m.insert(Metric::EtcdUtilization.key().into(), cpu as f64 / capacity);
}

/// Time with two or more instances acting on one lease at once, within `[w, end]`.
struct SplitBrain {
    since: [Option<Nanos>; 2],
    ns: [Nanos; 2],
    w: Nanos,
    end: Nanos,
}

impl SplitBrain {
    /// Lease `l`'s instances changed at `t`: (believes it leads, stalled) per process.
    fn update(&mut self, l: usize, acting: &BTreeMap<u16, (bool, bool)>, t: Nanos) {
        let n = acting
            .values()
            .filter(|(a, stalled)| *a && !*stalled)
            .count();
        match (n >= 2, self.since[l]) {
            (true, None) => self.since[l] = Some(t),
            (false, Some(s)) => {
                self.ns[l] += t.min(self.end).saturating_sub(s.max(self.w));
                self.since[l] = None;
            }
            _ => {}
        }
    }
}

/// Leader changes, elections and split-brain time within `[w, end]`.
fn leader_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    let mut etcd_changes = 0u64;
    let mut elections = 0u64;
    let mut lease_changes = [0u64; 2];
    // Per lease, per process: (believes it leads, stalled).
    let mut acting: [BTreeMap<u16, (bool, bool)>; 2] = [BTreeMap::new(), BTreeMap::new()];
    let mut split = SplitBrain {
        since: [None, None],
        ns: [0, 0],
        w,
        end,
    };
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
                    acting[l].entry(*proc).or_default().0 = *a;
                    split.update(l, &acting[l], e.time_ns);
                }
            }
            // A process that dies stops acting; one that stalls (a `pause`) acts on nothing until it
            // runs again, believing it still leads.
            TraceKind::Proc { proc, state } => {
                if let Some(l) = (inp.lease_of)(*proc) {
                    let l = l as usize;
                    let slot = acting[l].entry(*proc).or_default();
                    if *state == super::ProcState::Down {
                        slot.0 = false;
                    }
                    slot.1 = *state == super::ProcState::Paused;
                    split.update(l, &acting[l], e.time_ns);
                }
            }
            _ => {}
        }
    }
    for (l, s) in split.since.iter().enumerate() {
        if let Some(s) = s {
            split.ns[l] += end.saturating_sub((*s).max(w));
        }
    }
    let split_ns = split.ns;
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
/// `workloads.reachable_ratio` and `workload.NAME.reachable_ratio`: the time-averaged fraction of
/// requests through the Service that reach a serving pod, weighted the same way.
fn workload_metrics(inp: &MetricInputs, w: Nanos, end: Nanos, m: &mut Metrics) {
    if inp.workloads.is_empty() {
        return;
    }
    let desired: Vec<u64> = inp.workloads.iter().map(|(_, r)| *r as u64).collect();
    let mut ready = vec![(0u64, 0u64); desired.len()];
    let mut area = vec![(0f64, 0f64); desired.len()];
    let mut last = w;
    let flush = |t: Nanos, ready: &[(u64, u64)], area: &mut [(f64, f64)], last: &mut Nanos| {
        let t = t.clamp(w, end);
        if t > *last {
            for i in 0..ready.len() {
                let (frac, reach) = if desired[i] == 0 {
                    (1.0, 1.0)
                } else {
                    let frac = ready[i].0.min(desired[i]) as f64 / desired[i] as f64;
                    (frac, ready[i].1 as f64 / 1e6)
                };
                area[i].0 += frac * (t - *last) as f64;
                area[i].1 += reach * (t - *last) as f64;
            }
            *last = t;
        }
    };
    for e in &inp.trace.events {
        if let TraceKind::WorkloadReady {
            workload,
            ready: r,
            reachable_ppm,
        } = e.kind
        {
            flush(e.time_ns, &ready, &mut area, &mut last);
            if let Some(x) = ready.get_mut(workload as usize) {
                *x = (r as u64, reachable_ppm as u64);
            }
        }
    }
    flush(end, &ready, &mut area, &mut last);
    let span = end.saturating_sub(w).max(1) as f64;
    let total_desired: u64 = desired.iter().sum();
    let mut weighted = (0.0, 0.0);
    for (i, (name, _)) in inp.workloads.iter().enumerate() {
        let (ratio, reach) = (area[i].0 / span, area[i].1 / span);
        weighted.0 += ratio * desired[i] as f64;
        weighted.1 += reach * desired[i] as f64;
        m.insert(Metric::WorkloadReadyRatio.workload_key(name), ratio);
        m.insert(Metric::WorkloadReachableRatio.workload_key(name), reach);
    }
    let overall = |x: f64| {
        if total_desired == 0 {
            1.0
        } else {
            x / total_desired as f64
        }
    };
    m.insert(
        Metric::WorkloadsReadyRatio.key().into(),
        overall(weighted.0),
    );
    m.insert(
        Metric::WorkloadsReachableRatio.key().into(),
        overall(weighted.1),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;

    fn fault(start: u64, end: Option<u64>) -> FaultSpan {
        FaultSpan {
            start_ns: start * S,
            end_ns: end.map(|e| e * S),
            repair: false,
        }
    }

    fn rec(outages: &[(u64, u64)], faults: &[FaultSpan]) -> Option<u64> {
        let o: Vec<(Nanos, Nanos)> = outages.iter().map(|(a, b)| (a * S, b * S)).collect();
        recovery(&o, 0, faults, 0, 600 * S).map(|r| r / S)
    }

    #[test]
    fn a_fault_is_not_charged_for_the_outage_of_one_that_starts_as_it_ends() {
        // A: 60-120 s, its outage over at 65 s. B starts at 120 s and takes the capability down to 180 s;
        // B ends at 170 s.
        let f = [fault(60, Some(120)), fault(120, Some(170))];
        assert_eq!(rec(&[(60, 65), (120, 180)], &f), Some(10));
        // The same when B started during A (it overlaps A's end).
        let f = [fault(60, Some(120)), fault(100, Some(170))];
        assert_eq!(rec(&[(60, 65), (120, 180)], &f), Some(10));
    }

    #[test]
    fn an_outage_still_going_when_an_unrelated_fault_starts_stays_with_its_fault() {
        // A ends at 120 s; the capability is back only at 200 s. B (150 s, never ends) changes nothing.
        let f = [fault(60, Some(120)), fault(150, None)];
        assert_eq!(rec(&[(60, 200)], &f), Some(80));
    }

    #[test]
    fn a_repair_takes_over_the_outage_it_ends() {
        // Data wiped at 120 s (instant); restored at 300 s; back at 302 s.
        let mut restore = fault(300, Some(300));
        restore.repair = true;
        let f = [fault(120, Some(120)), fault(120, Some(120)), restore];
        assert_eq!(rec(&[(120, 302)], &f), Some(2));
        // Without the repair, the wipe is charged to the end of the run.
        assert_eq!(rec(&[(120, 600)], &f[..2]), Some(480));
    }

    #[test]
    fn faults_that_start_and_end_together_share_the_outage() {
        let f = [fault(120, Some(300)), fault(120, Some(300))];
        assert_eq!(rec(&[(120, 302)], &f), Some(2));
        assert_eq!(rec(&[], &f), Some(0));
        assert_eq!(rec(&[(1, 2)], &[fault(100, None)]), None);
    }

    #[test]
    fn an_api_outage_may_show_before_the_fault_that_caused_it() {
        // B starts at 120 s, as A ends; a request sent 5 ms earlier was in flight and failed.
        let f = [fault(60, Some(120)), fault(120, Some(170))];
        let o = [(60 * S, 65 * S), (120 * S - 5_000_000, 180 * S)];
        assert_eq!(
            recovery(&o, 0, &f, 0, 600 * S),
            Some(60 * S),
            "without slack"
        );
        assert_eq!(recovery(&o, 10_000_000, &f, 0, 600 * S), Some(10 * S));
    }
}
