//! The terminal summary: what broke, when, for how long, and what recovered it, readable in ten seconds.

use crate::components::etcd::types::Role;
use crate::engine::{fmt_duration, Nanos};
use crate::observe::{Capability, ProcState, TraceEvent, TraceKind};
use crate::run::Outcome;
use crate::topology::ProcKind;
use std::fmt::Write;

/// A process's name for a line of text; an index the layout does not know still reads as something.
fn proc_name(o: &Outcome, p: u16) -> String {
    o.layout
        .procs
        .get(p as usize)
        .map(|s| s.name.clone())
        .unwrap_or_else(|| format!("process {p}"))
}

/// A node's name for a line of text; an index the layout does not know still reads as something.
fn node_name(o: &Outcome, n: u16) -> String {
    o.layout
        .nodes
        .get(n as usize)
        .map(|s| s.name.clone())
        .unwrap_or_else(|| format!("node {n}"))
}

/// Describes a trace event in an operator's words (None for events not worth a line).
pub fn describe(o: &Outcome, e: &TraceEvent) -> Option<String> {
    let pname = |p: u16| proc_name(o, p);
    let nname = |n: u16| node_name(o, n);
    Some(match &e.kind {
        TraceKind::Proc { proc, state } => match state {
            ProcState::Up => format!("{} is up", pname(*proc)),
            ProcState::Down => format!("{} stopped", pname(*proc)),
            ProcState::Paused => format!("{} stalled (paused)", pname(*proc)),
            ProcState::Unready | ProcState::Leader | ProcState::Standby => return None,
        },
        TraceKind::Node { node, up } => {
            format!(
                "node {} {}",
                nname(*node),
                if *up { "came back" } else { "went down" }
            )
        }
        TraceKind::EtcdRole {
            proc,
            role: crate::components::etcd::types::Role::Leader,
            term,
        } => format!("{} became etcd leader (term {term})", pname(*proc)),
        TraceKind::Acting { proc, acting } => {
            if *acting {
                format!("{} acquired its lease and leads", pname(*proc))
            } else {
                format!("{} stopped leading", pname(*proc))
            }
        }
        TraceKind::LbBackend { lb, backend, up } => format!(
            "{} marked {} {}",
            pname(*lb),
            pname(*backend),
            if *up { "UP" } else { "DOWN" }
        ),
        TraceKind::Vip { node } => match node {
            Some(n) => format!("VIP moved to {}", nname(*n)),
            None => "nobody holds the VIP".into(),
        },
        TraceKind::Fault { index, start } => {
            let f = &o.faults[*index as usize];
            if *start {
                format!("fault #{index} started: {}", f.describe())
            } else {
                format!("fault #{index} ended")
            }
        }
        TraceKind::WorkloadReady {
            workload,
            ready,
            reachable_ppm,
        } => {
            let wl = o.scenario.workloads.get(*workload as usize)?;
            let mut line = format!(
                "workload {}: {ready}/{} replicas ready",
                wl.name, wl.replicas
            );
            if *reachable_ppm < 1_000_000 {
                line += &format!(
                    ", {:.0}% of requests through its Service reach a pod",
                    *reachable_ppm as f64 / 1e4
                );
            }
            line
        }
        // Not narrated as a state change: campaigns and lease writes are in the components' own log
        // lines, capability changes in the summary, violations and lease overruns in their own lines.
        TraceKind::EtcdRole { .. }
        | TraceKind::Campaign { .. }
        | TraceKind::LeaseHolder { .. }
        | TraceKind::Cap { .. }
        | TraceKind::Pods { .. }
        | TraceKind::ProxyEndpoints { .. }
        | TraceKind::Log { .. }
        | TraceKind::Violation { .. }
        | TraceKind::PastLease { .. }
        | TraceKind::Scrape { .. }
        | TraceKind::EtcdHealth { .. }
        | TraceKind::NodeReady { .. }
        | TraceKind::NodeTaint { .. } => return None,
    })
}

/// How directly a traced change can bring `cap` back (None: not at all). 3: the change that makes the
/// capability itself work again (for `api`, the request path: a load-balancer backend or the VIP, or a
/// process on the path starting); 2: what it waits on (an etcd leader, an API server); 1: a node or a
/// farther dependency returning; 0: a fault ending.
fn restores(o: &Outcome, cap: Capability, e: &TraceEvent) -> Option<u8> {
    use Capability as C;
    let kind = |p: &u16| o.layout.procs.get(*p as usize).map(|s| s.kind);
    let leader_cap = |k: ProcKind| match cap {
        C::Scheduling => k == ProcKind::Scheduler,
        C::Reconciliation => k == ProcKind::ControllerManager,
        C::Api | C::EtcdQuorum | C::Workloads => false,
    };
    match &e.kind {
        TraceKind::LbBackend { up: true, .. } | TraceKind::Vip { node: Some(_) } => match cap {
            C::Api => Some(3),
            C::Scheduling | C::Reconciliation => Some(1),
            C::EtcdQuorum | C::Workloads => None,
        },
        TraceKind::EtcdRole {
            role: Role::Leader, ..
        } => match cap {
            C::EtcdQuorum => Some(3),
            C::Api | C::Scheduling | C::Reconciliation => Some(2),
            C::Workloads => None,
        },
        TraceKind::Proc {
            proc,
            state: ProcState::Up,
        } => match kind(proc)? {
            ProcKind::Haproxy | ProcKind::Keepalived => (cap == C::Api).then_some(3),
            ProcKind::ApiServer => match cap {
                C::Api => Some(3),
                C::Scheduling | C::Reconciliation => Some(2),
                C::EtcdQuorum | C::Workloads => None,
            },
            ProcKind::Etcd => match cap {
                C::EtcdQuorum => Some(2),
                C::Api | C::Scheduling | C::Reconciliation => Some(1),
                C::Workloads => None,
            },
            k @ (ProcKind::Scheduler | ProcKind::ControllerManager) => leader_cap(k).then_some(2),
            ProcKind::Kubelet => (cap == C::Workloads).then_some(1),
            ProcKind::Client | ProcKind::Informers => None,
        },
        TraceKind::Acting { proc, acting: true } => {
            kind(proc).filter(|k| leader_cap(*k)).map(|_| 3)
        }
        TraceKind::WorkloadReady { .. } => match cap {
            C::Workloads => Some(3),
            C::Api | C::EtcdQuorum | C::Scheduling | C::Reconciliation => None,
        },
        TraceKind::Node { up: true, .. } => Some(1),
        TraceKind::Fault { start: false, .. } => Some(0),
        TraceKind::Proc { .. }
        | TraceKind::Node { up: false, .. }
        | TraceKind::EtcdRole { .. }
        | TraceKind::Campaign { .. }
        | TraceKind::Acting { acting: false, .. }
        | TraceKind::LeaseHolder { .. }
        | TraceKind::LbBackend { up: false, .. }
        | TraceKind::Vip { node: None }
        | TraceKind::Fault { start: true, .. }
        | TraceKind::Cap { .. }
        | TraceKind::Pods { .. }
        | TraceKind::ProxyEndpoints { .. }
        | TraceKind::Log { .. }
        | TraceKind::Violation { .. }
        | TraceKind::PastLease { .. }
        | TraceKind::Scrape { .. }
        | TraceKind::EtcdHealth { .. }
        | TraceKind::NodeReady { .. }
        | TraceKind::NodeTaint { .. } => None,
    }
}

/// The event that brought `cap` back after the outage `[start, end]`: the latest change in it that can
/// restore the capability, the most direct one when several happen at one instant (see [`restores`]);
/// failing that, the last described change that is not itself a failure.
pub fn recovered_by(o: &Outcome, cap: Capability, start: Nanos, end: Nanos) -> Option<String> {
    let within = || {
        o.trace
            .events
            .iter()
            .filter(move |e| e.time_ns <= end && e.time_ns >= start)
    };
    let best = within()
        .filter_map(|e| Some(((e.time_ns, restores(o, cap, e)?), e)))
        .filter(|(_, e)| describe(o, e).is_some())
        .max_by_key(|(key, _)| *key)
        .map(|(_, e)| e);
    if let Some(e) = best {
        return describe(o, e);
    }
    within()
        .rev()
        .filter(|e| {
            !matches!(
                e.kind,
                TraceKind::Proc {
                    state: ProcState::Down,
                    ..
                } | TraceKind::Node { up: false, .. }
                    | TraceKind::Fault { start: true, .. }
                    | TraceKind::LbBackend { up: false, .. }
            )
        })
        .find_map(|e| describe(o, e))
}

/// Renders the summary.
pub fn summary(o: &Outcome) -> String {
    let mut s = String::new();
    header(&mut s, o);
    if !o.faults.is_empty() {
        let _ = writeln!(s, "\nfaults");
        for (i, f) in o.faults.iter().enumerate() {
            let _ = writeln!(s, "  #{i}  {}", f.describe());
        }
    }
    if o.warmup_ns.is_none() {
        let never: Vec<&str> = o
            .timelines
            .iter()
            .filter(|t| t.first_up().is_none())
            .map(|t| t.capability.name())
            .collect();
        let _ = writeln!(s, "\nnever up: {}", never.join(", "));
    }
    what_broke(&mut s, o);
    if !o.scenario.workloads.is_empty() {
        workloads(&mut s, o);
    }
    alerts(&mut s, o);
    let _ = writeln!(s, "\nmetrics");
    // Alerts that never fired are in report.json, not here (the alerts section lists what did).
    for (k, v) in o
        .metrics
        .iter()
        .filter(|(k, v)| !k.starts_with("alert.") || **v != 0.0)
    {
        let _ = writeln!(s, "  {k:<36} {}", fmt_num(*v));
    }
    if !o.verdicts.is_empty() || o.warmup_ns.is_none() {
        expectations(&mut s, o);
    }
    s
}

/// What ran and whether it settled: without a steady state every metric below covers nothing, and the
/// reader must know that first.
fn header(s: &mut String, o: &Outcome) {
    let _ = writeln!(
        s,
        "{}  (seed {}, {} simulated, {} events)",
        o.scenario.name,
        o.seed,
        fmt_duration(o.end_ns),
        o.events
    );
    if !o.scenario.description.is_empty() {
        let _ = writeln!(s, "  {}", o.scenario.description);
    }
    match o.warmup_ns {
        Some(w) => {
            let _ = writeln!(s, "steady state after {}", fmt_duration(w));
        }
        None => {
            let _ = writeln!(
                s,
                "NEVER REACHED STEADY STATE: some capability was never up; metrics cover nothing"
            );
        }
    }
    match crate::observe::timeline::api_measured_by(&o.trace) {
        Some(crate::observe::timeline::ApiMeasure::Requests) => {
            let _ = writeln!(
                s,
                "api: measured by requests ({} sent)",
                o.trace.requests.len()
            );
        }
        Some(crate::observe::timeline::ApiMeasure::ClusterState) => {
            let _ = writeln!(
                s,
                "api: judged from the cluster's state (no load), up while a request through the endpoint would reach an API server that can write"
            );
        }
        None => {}
    }
}

/// The heart of the summary: each capability's outages after warm-up, the first few with what brought
/// it back.
fn what_broke(s: &mut String, o: &Outcome) {
    let _ = writeln!(s, "\nwhat broke (after warm-up)");
    let w = o.warmup_ns.unwrap_or(o.end_ns);
    for t in &o.timelines {
        let outs = t.outages(w, o.end_ns);
        let name = t.capability.name();
        if outs.is_empty() {
            let _ = writeln!(s, "  {name:<15} up throughout");
            continue;
        }
        let total: Nanos = outs.iter().map(|(a, b)| b - a).sum();
        let _ = writeln!(
            s,
            "  {name:<15} DOWN {} in {} outage{}",
            fmt_duration(total),
            outs.len(),
            if outs.len() == 1 { "" } else { "s" }
        );
        for (a, b) in outs.iter().take(4) {
            let rec = if *b >= o.end_ns {
                "still down at the end".to_string()
            } else {
                recovered_by(o, t.capability, *a, *b)
                    .map(|r| format!("recovered: {r}"))
                    .unwrap_or_default()
            };
            let _ = writeln!(
                s,
                "  {:<15}   {} -> {} ({})  {rec}",
                "",
                fmt_duration(*a),
                fmt_duration(*b),
                fmt_duration(b - a)
            );
        }
        if outs.len() > 4 {
            let _ = writeln!(s, "  {:<15}   ... {} more", "", outs.len() - 4);
        }
    }
}

/// Each workload's time-weighted readiness and its worst moment: the ratio alone hides how deep a dip
/// went.
fn workloads(s: &mut String, o: &Outcome) {
    let _ = writeln!(s, "\nworkloads");
    for wl in &o.scenario.workloads {
        let ratio = o
            .metrics
            .get(&format!("workload.{}.ready_ratio", wl.name))
            .copied()
            .unwrap_or(0.0);
        let reach = o
            .metrics
            .get(&format!("workload.{}.reachable_ratio", wl.name))
            .copied()
            .unwrap_or(0.0);
        let min_ready = fewest_ready(o, &wl.name);
        let _ = writeln!(
            s,
            "  {:<15} {} replicas, ready {:.1}% of the time-weighted desired, fewest ready {}, {:.2}% of requests reached a pod",
            wl.name,
            wl.replicas,
            ratio * 100.0,
            min_ready
                .map(|m| m.min(wl.replicas).to_string())
                .unwrap_or_else(|| wl.replicas.to_string()),
            reach * 100.0
        );
    }
}

/// The fewest ready replicas of the workload named `name` traced after warm-up (None: no change traced).
fn fewest_ready(o: &Outcome, name: &str) -> Option<u32> {
    o.trace
        .events
        .iter()
        .filter(|e| e.time_ns >= o.warmup_ns.unwrap_or(o.end_ns))
        .filter_map(|e| match e.kind {
            TraceKind::WorkloadReady {
                workload, ready, ..
            } if o
                .scenario
                .workloads
                .get(workload as usize)
                .map(|w| w.name.as_str())
                == Some(name) =>
            {
                Some(ready)
            }
            _ => None,
        })
        .min()
}

/// The alerts that went pending or fired: when, for how long, and on what (times from the start of
/// the run, as the faults').
fn alerts(s: &mut String, o: &Outcome) {
    use crate::observe::alerts::AlertState;
    let active: Vec<_> = o.alerts.iter().filter(|a| !a.spans.is_empty()).collect();
    let _ = writeln!(
        s,
        "\nalerts (evaluated every {} from {}){}",
        fmt_duration(crate::observe::alerts::EVALUATION_INTERVAL_NS),
        fmt_duration(crate::observe::alerts::first_evaluation(
            o.warmup_ns.unwrap_or(0),
            o.seed
        )),
        if active.is_empty() {
            ": none pending or firing"
        } else {
            ""
        }
    );
    for a in active {
        let d = a.alert.def();
        let spans: Vec<String> = a
            .spans
            .iter()
            .map(|sp| {
                format!(
                    "{} {}-{}",
                    match sp.state {
                        AlertState::Firing => "FIRING",
                        AlertState::Pending | AlertState::Inactive => "pending",
                    },
                    fmt_duration(sp.start_ns),
                    if sp.end_ns >= o.end_ns {
                        "end".to_string()
                    } else {
                        fmt_duration(sp.end_ns)
                    }
                )
            })
            .collect();
        let on = if a.fired.is_empty() {
            String::new()
        } else {
            format!(" [{}]", a.fired.join(", "))
        };
        let _ = writeln!(
            s,
            "  {:<40} {:<8} for {:<4} {}{on}",
            d.name,
            d.severity,
            fmt_duration(d.for_ns),
            spans.join(", ")
        );
    }
}

/// The verdicts and the overall result, last, because that is the line a reader looks for.
fn expectations(s: &mut String, o: &Outcome) {
    let _ = writeln!(s, "\nexpectations");
    for v in &o.verdicts {
        let _ = writeln!(
            s,
            "  {} {} {} (actual {})",
            if v.passed { "PASS" } else { "FAIL" },
            v.expectation.metric,
            v.bound_text(),
            verdict_actual(v)
        );
    }
    let failed = o.verdicts.iter().filter(|v| !v.passed).count();
    let _ = writeln!(
        s,
        "result: {} ({} of {} expectations hold{})",
        if o.passed() { "PASS" } else { "FAIL" },
        o.verdicts.len() - failed,
        o.verdicts.len(),
        if o.warmup_ns.is_none() {
            "; the cluster never reached steady state"
        } else {
            ""
        }
    );
}

/// A verdict's actual value as the summary words it.
fn verdict_actual(v: &crate::run::Verdict) -> String {
    use crate::scenario::plan::Bound;
    match (v.expectation.bound, v.actual) {
        (Bound::FiresWithin(_), Some(a)) => format!("fired {} s after the fault", fmt_num(a)),
        (Bound::FiresWithin(_), None) => "did not fire".into(),
        (Bound::NeverFires, Some(a)) => format!("fired {} times", fmt_num(a)),
        (_, a) => a.map(fmt_num).unwrap_or_else(|| "not measured".into()),
    }
}

/// Formats a metric value compactly.
pub fn fmt_num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e12 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The run told as a story, one line per event in the words of the component logs.
pub fn narrate(o: &Outcome) -> String {
    narrate_between(o, 0, Nanos::MAX)
}

/// The narration of the events in `[from, to]` (`exercise` explains an answer with it).
pub fn narrate_between(o: &Outcome, from: Nanos, to: Nanos) -> String {
    let mut s = String::new();
    for e in o
        .trace
        .events
        .iter()
        .filter(|e| e.time_ns >= from && e.time_ns <= to)
    {
        let line = match &e.kind {
            TraceKind::Log { proc, text } => {
                let name = o
                    .layout
                    .procs
                    .get(*proc as usize)
                    .map(|p| p.name.as_str())
                    .unwrap_or("?");
                format!("{name}: {text}")
            }
            TraceKind::Violation { text } => format!("INVARIANT VIOLATED: {text}"),
            TraceKind::PastLease { text, .. } => {
                format!("LEADER PAST ITS LEASE (settings allow it): {text}")
            }
            _ => match describe(o, e) {
                Some(d) => d,
                None => continue,
            },
        };
        let _ = writeln!(s, "{:>10}  {line}", fmt_duration(e.time_ns));
    }
    s
}
