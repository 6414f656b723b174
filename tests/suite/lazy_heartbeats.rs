//! Lazy heartbeats (issue 12, `settings.engine.lazy_heartbeats`, src/world/quiet.rs): an etcd
//! leader's empty heartbeats to caught-up followers are stood in for while nothing in the world
//! could stop them. A run then takes other latency draws, so it is compared with the plain engine
//! in distribution over seeds, not byte for byte.

use kube_ha_sim::report::json::report;
use kube_ha_sim::run::run;
use kube_ha_sim::scenario::parse_scenario;
use serde_json::Value;

/// The report of `text` with lazy heartbeats `on` (the exact shortcuts stay on).
fn report_with(text: &str, on: bool, seed: u64) -> Value {
    let mut v: Value = serde_json::from_str(text).expect("test scenario is JSON");
    v["settings"]["engine"] = serde_json::json!({ "lazy_heartbeats": on });
    let s = parse_scenario(&v.to_string(), "lazy.json")
        .unwrap_or_else(|e| panic!("bad test scenario: {e}"));
    let o = run(&s, seed).unwrap_or_else(|e| panic!("run failed: {e}"));
    report(&o)
}

fn metric(r: &Value, name: &str) -> f64 {
    r["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("metric {name} missing"))
}

/// The two-sample Kolmogorov-Smirnov statistic: the largest gap between the samples' empirical
/// distribution functions.
fn ks(a: &[f64], b: &[f64]) -> f64 {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / a.len() as f64 - j as f64 / b.len() as f64).abs());
    }
    d
}

/// The KS critical value for two samples of `n` at significance 0.001 (c = 1.95).
fn ks_critical(n: usize) -> f64 {
    1.95 * (2.0 / n as f64).sqrt()
}

#[test]
fn ks_statistic_sees_a_shift_and_not_a_reordering() {
    let a: Vec<f64> = (0..40).map(f64::from).collect();
    let mut b = a.clone();
    b.reverse();
    assert_eq!(ks(&a, &b), 0.0);
    let shifted: Vec<f64> = a.iter().map(|x| x + 30.0).collect();
    assert!(ks(&a, &shifted) > ks_critical(40));
}

const IDLE_ETCD: &str = r#"{"name":"idle-etcd","duration":"1h",
    "topology":{"etcd":"external","control_plane_nodes":0,"etcd_nodes":5,"zones":["a","b","c"],"load_balancers":1},
    "load":{"requests_per_second":0,"target":"etcd"}}"#;

/// The point of the shortcut: an idle cluster's heartbeats are most of its events.
#[test]
fn an_idle_cluster_takes_a_tenth_of_the_events_and_keeps_its_leader() {
    let plain = report_with(IDLE_ETCD, false, 3);
    let lazy = report_with(IDLE_ETCD, true, 3);
    let (pe, le) = (
        plain["events"].as_u64().unwrap(),
        lazy["events"].as_u64().unwrap(),
    );
    assert!(le * 10 < pe, "{le} events lazy against {pe} plain");
    for r in [&plain, &lazy] {
        assert_eq!(metric(r, "etcd.leader_changes"), 0.0);
        assert_eq!(metric(r, "etcd.elections"), 0.0);
        assert_eq!(metric(r, "etcd_quorum.availability"), 1.0);
    }
}

/// Failures that heartbeats reveal, each hitting a cluster whose streams run (the faults come
/// after a quiet minute; on the bare etcd cluster every follower is quiet then, on the control
/// plane the lease writes end and restart them): what the followers' timers and the leader's
/// check-quorum make of them has the same distribution with and without the shortcut.
#[test]
fn failures_come_out_the_same_in_distribution() {
    let etcd_only = |faults: &str| {
        format!(
            r#"{{"name":"lazy-faults","duration":"2m",
            "topology":{{"etcd":"external","control_plane_nodes":0,"etcd_nodes":5,"zones":["a","b","c"],"load_balancers":1}},
            "load":{{"requests_per_second":0,"target":"etcd"}},
            "faults":[{faults}]}}"#
        )
    };
    let stacked = |faults: &str| {
        format!(
            r#"{{"name":"lazy-faults","duration":"2m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}},
            "faults":[{faults}]}}"#
        )
    };
    let cases = [
        (
            "etcd leader crash",
            etcd_only(r#"{"at":"60s","kind":"crash","target":"leader:etcd","for":"30s"}"#),
            "etcd_quorum.longest_outage_s",
        ),
        (
            "etcd leader isolated",
            etcd_only(r#"{"at":"60s","kind":"isolate","target":"leader:etcd","for":"20s"}"#),
            "etcd_quorum.longest_outage_s",
        ),
        (
            "etcd leader paused",
            etcd_only(r#"{"at":"60s","kind":"pause","target":"leader:etcd","for":"5s"}"#),
            "etcd_quorum.longest_outage_s",
        ),
        (
            "control plane: etcd leader crash",
            stacked(r#"{"at":"60s","kind":"crash","target":"leader:etcd","for":"30s"}"#),
            "etcd_quorum.longest_outage_s",
        ),
        (
            "control plane: etcd leader paused",
            stacked(r#"{"at":"60s","kind":"pause","target":"leader:etcd","for":"5s"}"#),
            "api.downtime_s",
        ),
    ];
    let n = 30;
    for (what, text, name) in &cases {
        let mut plain = Vec::new();
        let mut lazy = Vec::new();
        let (mut changes_plain, mut changes_lazy) = (0.0, 0.0);
        for seed in 1..=n {
            let p = report_with(text, false, seed);
            let l = report_with(text, true, seed);
            plain.push(metric(&p, name));
            lazy.push(metric(&l, name));
            changes_plain += metric(&p, "etcd.leader_changes");
            changes_lazy += metric(&l, "etcd.leader_changes");
        }
        let d = ks(&plain, &lazy);
        assert!(
            d <= ks_critical(n as usize),
            "{what}: {name} differs (KS {d:.2}): plain {plain:?}, lazy {lazy:?}"
        );
        // Every seed changes leader (a crash, an isolation and a 5 s stall all outlast the
        // election timeout), with or without the shortcut.
        assert!(
            changes_plain >= n as f64 && changes_lazy >= n as f64,
            "{what}: {changes_plain} leader changes plain, {changes_lazy} lazy"
        );
        assert!(
            plain.iter().chain(&lazy).all(|&x| x > 0.0),
            "{what}: {name}"
        );
    }
}

/// Linearizable reads under client load: each needs a ReadIndex round, whose heartbeats to quiet
/// followers the world stands in for (a latency there and back, drawn as the real messages'). The
/// reads' latency has the same distribution with and without the shortcut, and so does a follower
/// crash's effect on them.
#[test]
fn reads_come_out_the_same_in_distribution() {
    let cases = [
        (
            "quiet",
            r#"{"name":"lazy-reads","duration":"1m",
            "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},
            "load":{"requests_per_second":40,"write_ratio":0.1}}"#,
        ),
        (
            "etcd follower crash",
            r#"{"name":"lazy-reads","duration":"1m",
            "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},
            "load":{"requests_per_second":40,"write_ratio":0.1},
            "faults":[{"at":"30s","kind":"crash","target":"follower:etcd","for":"10s"}]}"#,
        ),
    ];
    let n = 30;
    for (what, text) in cases {
        for name in ["api.latency_p50_ms", "api.latency_p99_ms"] {
            let (mut plain, mut lazy) = (Vec::new(), Vec::new());
            for seed in 1..=n {
                plain.push(metric(&report_with(text, false, seed), name));
                lazy.push(metric(&report_with(text, true, seed), name));
            }
            let d = ks(&plain, &lazy);
            assert!(
                d <= ks_critical(n as usize),
                "{what}: {name} differs (KS {d:.2}): plain {plain:?}, lazy {lazy:?}"
            );
            assert!(
                plain.iter().chain(&lazy).all(|&x| x > 0.0),
                "{what}: {name}"
            );
        }
    }
}
