//! `report.json`: a stable schema (documented in the README).

use crate::engine::secs;
use crate::observe::TraceKind;
use crate::run::Outcome;
use crate::scenario::plan::Bound;
use serde_json::{json, Map, Value};

/// The report's schema version.
pub const SCHEMA_VERSION: u32 = 1;

/// Builds the JSON report of a run.
pub fn report(o: &Outcome) -> Value {
    let metrics: Map<String, Value> = o
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), json!(round(*v))))
        .collect();
    let processes: Vec<Value> = o
        .layout
        .procs
        .iter()
        .map(|p| json!({"name": p.name, "node": o.layout.nodes[p.node].name}))
        .collect();
    let nodes: Vec<Value> = o
        .layout
        .nodes
        .iter()
        .map(|n| json!({"name": n.name, "zone": o.layout.zones[n.zone]}))
        .collect();
    json!({
        "scenario": o.scenario.name,
        "description": o.scenario.description,
        "seed": o.seed,
        "version": env!("CARGO_PKG_VERSION"),
        "schema": SCHEMA_VERSION,
        "duration_s": round(secs(o.end_ns)),
        "warmup_s": o.warmup_ns.map(|w| json!(round(secs(w)))).unwrap_or(Value::Null),
        "steady_state": o.warmup_ns.is_some(),
        "api_measured_by": crate::observe::timeline::api_measured_by(&o.trace)
            .map(|m| json!(m.name()))
            .unwrap_or(Value::Null),
        "passed": o.passed(),
        "topology": serde_json::to_value(&o.scenario.topology).unwrap_or(Value::Null),
        "nodes": nodes,
        "processes": processes,
        "metrics": metrics,
        "timelines": timelines(o),
        "faults": faults(o),
        "expectations": expectations(o),
        "alerts": alerts(o),
        "violations": violations(o),
        "events": o.events,
        "trace_hash": format!("{:016x}", o.trace.hash()),
    })
}

/// Each capability's up/down intervals, keyed by capability, for plotting without the trace.
fn timelines(o: &Outcome) -> Map<String, Value> {
    let mut timelines = Map::new();
    for t in &o.timelines {
        let ivs: Vec<Value> = t
            .intervals
            .iter()
            .map(|i| json!({"start_s": round(secs(i.start_ns)), "end_s": round(secs(i.end_ns)), "up": i.up}))
            .collect();
        timelines.insert(t.capability.name().to_string(), Value::Array(ivs));
    }
    timelines
}

/// Each fault as the file wrote it, plus what it resolved to and when it ran, so that a report can be
/// read without the scenario file.
fn faults(o: &Outcome) -> Vec<Value> {
    o.faults
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let mut v = serde_json::to_value(f.spec()).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("index".into(), json!(i));
                m.insert("resolved".into(), json!(f.resolved));
                if let Some(why) = &f.did_nothing {
                    m.insert("did_nothing".into(), json!(why));
                }
                m.insert("start_s".into(), json!(round(secs(f.at_ns))));
                m.insert(
                    "end_s".into(),
                    f.end_ns
                        .map(|e| json!(round(secs(e))))
                        .unwrap_or(Value::Null),
                );
            }
            v
        })
        .collect()
}

/// Each verdict in the file's own vocabulary (`at_least`, `at_most`, `equals`) with the actual value.
fn expectations(o: &Outcome) -> Vec<Value> {
    o.verdicts
        .iter()
        .map(|v| {
            let mut m = Map::new();
            let key = if v.expectation.is_alert() {
                "alert"
            } else {
                "metric"
            };
            m.insert(key.into(), json!(v.expectation.metric));
            match v.expectation.bound {
                Bound::AtLeast(b) => {
                    m.insert("at_least".into(), json!(b));
                }
                Bound::AtMost(b) => {
                    m.insert("at_most".into(), json!(b));
                }
                Bound::Equals(b) => {
                    m.insert("equals".into(), json!(b));
                }
                // The bound of a recovery expectation shows in the metric it reads.
                Bound::RecoveredWithin(_) => {}
                Bound::FiresWithin(d) => {
                    m.insert("fires_within".into(), json!(crate::engine::fmt_duration(d)));
                }
                Bound::NeverFires => {
                    m.insert("never_fires".into(), json!(true));
                }
            }
            m.insert(
                "actual".into(),
                v.actual.map(|a| json!(round(a))).unwrap_or(Value::Null),
            );
            m.insert("passed".into(), json!(v.passed));
            Value::Object(m)
        })
        .collect()
}

/// The alerts evaluated: each with its rule (severity, `for`), the label sets that fired, and its
/// pending and firing stretches (times from the start of the run; `end_s` null: still active at the end).
fn alerts(o: &Outcome) -> Value {
    use crate::observe::alerts::{first_evaluation, AlertState, EVALUATION_INTERVAL_NS};
    let list: Vec<Value> = o
        .alerts
        .iter()
        .map(|a| {
            let d = a.alert.def();
            let spans: Vec<Value> = a
                .spans
                .iter()
                .map(|s| {
                    json!({
                        "state": match s.state {
                            AlertState::Firing => "firing",
                            AlertState::Pending | AlertState::Inactive => "pending",
                        },
                        "start_s": round(secs(s.start_ns)),
                        "end_s": if s.end_ns >= o.end_ns { Value::Null } else { json!(round(secs(s.end_ns))) },
                    })
                })
                .collect();
            json!({
                "alert": d.name,
                "severity": d.severity,
                "for_s": round(secs(d.for_ns)),
                "fired": a.fired,
                "spans": spans,
            })
        })
        .collect();
    json!({
        "evaluation_interval_s": round(secs(EVALUATION_INTERVAL_NS)),
        "first_evaluation_s": round(secs(first_evaluation(o.warmup_ns.unwrap_or(0), o.seed))),
        "rules": list,
    })
}

/// The invariant violations the run traced, with their times: the report must show them even when
/// no expectation asks.
fn violations(o: &Outcome) -> Vec<Value> {
    o.trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Violation { text } => {
                Some(json!({"t_s": round(secs(e.time_ns)), "text": text}))
            }
            _ => None,
        })
        .collect()
}

/// Rounds to microsecond precision so reports do not carry float noise.
pub fn round(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}
