//! The engine's exact shortcuts (issue 12, `settings.engine.shortcuts`) change how a run is computed,
//! never what it computes: with them on and off, a scenario gives the same report (outcomes,
//! timelines, trace hash) but for the count of events processed. Lazy heartbeats, the one shortcut
//! that is only the same in distribution, are off here (tests/suite/lazy_heartbeats.rs).

use kube_ha_sim::report::json::report;
use kube_ha_sim::run::run;
use kube_ha_sim::scenario::parse_scenario;
use serde_json::Value;

/// The report of `text` with the shortcuts set to `on`, and its event count.
fn report_with(text: &str, on: bool, seed: u64) -> (Value, u64) {
    let mut v: Value = serde_json::from_str(text).expect("test scenario is JSON");
    v["settings"]["engine"] = serde_json::json!({ "shortcuts": on, "lazy_heartbeats": false });
    let s = parse_scenario(&v.to_string(), "shortcuts.json")
        .unwrap_or_else(|e| panic!("bad test scenario: {e}"));
    let o = run(&s, seed).unwrap_or_else(|e| panic!("run failed: {e}"));
    let mut r = report(&o);
    let events = r["events"].as_u64().expect("events is a count");
    r.as_object_mut().unwrap().remove("events");
    (r, events)
}

/// Same report both ways, and fewer events with the shortcuts.
fn same_outcome(text: &str, name: &str, seed: u64) {
    let (plain, plain_events) = report_with(text, false, seed);
    let (fast, fast_events) = report_with(text, true, seed);
    assert!(
        plain == fast,
        "{name} seed {seed}: the shortcuts changed the report (trace hash {} plain, {} with shortcuts)",
        plain["trace_hash"],
        fast["trace_hash"]
    );
    assert!(
        fast_events < plain_events,
        "{name} seed {seed}: {fast_events} events with the shortcuts, {plain_events} without"
    );
}

/// Library scenarios chosen for what can move a deadline: stalls (timers held while paused), skewed
/// node clocks (timers re-queued on the slowed clock), lossy links (retries), a defrag (client
/// requests held), partitions, crashes and restarts (incarnations), and workloads.
#[test]
fn library_scenarios_come_out_the_same_with_and_without_the_shortcuts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for name in [
        "etcd-leader-paused.json",
        "controller-manager-leader-paused.json",
        "clock-slow-on-controller-manager-leader.json",
        "clock-fast-etcd-follower-no-prevote.json",
        "etcd-lossy-links.json",
        "etcd-defrag-leader.json",
        "etcd-minority-partition.json",
        "stacked-etcd-leader-crash.json",
        "external-vip-holder-crash.json",
        "worker-crash.json",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("library scenario");
        for seed in [1, 7] {
            same_outcome(&text, name, seed);
        }
    }
}

/// Under overload most requests are answered 429 and retried, and timeouts fire for real: the
/// shortcuts must not change which ones.
#[test]
fn an_overloaded_api_comes_out_the_same_with_and_without_the_shortcuts() {
    let text = r#"{"name":"overload","duration":"40s",
        "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},
        "settings":{"kube_apiserver":{"cores":1,"cpu_per_get":"4ms","cpu_per_write":"8ms"}},
        "load":{"requests_per_second":800,"start":"15s","timeout":"2s"},
        "faults":[{"at":"25s","kind":"crash","target":"cp-1","for":"10s"}]}"#;
    same_outcome(text, "overload", 3);
}
