//! Hardening regressions (issue 16) that are not loader messages: hazardous but valid settings are
//! reported as such, not as broken model invariants.

use crate::common::{metric, run_json};

const RISKY: &str = r#"{"name": "le", "duration": "5m",
    "topology": {"etcd": "stacked", "control_plane_nodes": 3},
    "settings": {"leader_election": {"lease_duration": "15s", "renew_deadline": "10s", "retry_period": "8s"}},
    "faults": [{"at": "60s", "kind": "isolate", "target": "leader:kube-controller-manager", "for": "60s"}]}"#;

#[test]
fn a_leader_acting_past_its_lease_under_risky_settings_is_their_hazard_not_a_violation() {
    // lease 15 s, renew 10 s, retry 8 s: client-go's leader gives up 18 s after its last renewal, so
    // it acts after a candidate may have taken over. These actions were once counted as model
    // invariant violations.
    let mut past = 0.0;
    for seed in 1..=4 {
        let o = run_json(RISKY, seed);
        assert_eq!(metric(&o, "invariants.violations"), 0.0, "seed {seed}");
        past += metric(&o, "leader_election.past_lease_actions");
    }
    assert!(past > 0.0, "the hazard shows in its own metric");
    let plan = kube_ha_sim::scenario::parse_scenario(RISKY, "le.json").unwrap();
    assert_eq!(plan.warnings.len(), 1);
    assert_eq!(
        plan.warnings[0].path,
        "settings.leader_election.retry_period"
    );
    // With the defaults (2 s + 10 s < 15 s) there is no warning and the metric is not measured.
    let safe = RISKY.replace(r#""retry_period": "8s""#, r#""retry_period": "2s""#);
    let o = run_json(&safe, 1);
    assert!(!o.metrics.contains_key("leader_election.past_lease_actions"));
    assert!(kube_ha_sim::scenario::parse_scenario(&safe, "le.json")
        .unwrap()
        .warnings
        .is_empty());
}

#[test]
fn a_toleration_beyond_u32_seconds_is_not_truncated() {
    // "1193047h" is more seconds than a u32 holds; it once wrapped to 1,904 s and pods were evicted.
    let o = run_json(
        r#"{"name": "tol", "duration": "20m",
            "topology": {"etcd": "stacked", "control_plane_nodes": 3, "workers": 2},
            "settings": {"node_lifecycle": {"default_toleration": "1193047h"}},
            "workloads": [{"name": "web", "replicas": 2}],
            "faults": [{"at": "2m", "kind": "crash", "target": "worker-1"}]}"#,
        1,
    );
    let evicted = o.trace.events.iter().any(|e| {
        matches!(&e.kind, kube_ha_sim::observe::TraceKind::Log { text, .. } if text.contains("Deleting pod"))
    });
    assert!(!evicted, "no pod outlives a toleration of 136 years");
    assert_eq!(metric(&o, "invariants.violations"), 0.0);
}

#[test]
fn a_huge_vrrp_advert_interval_does_not_overflow() {
    // keepalived's master-down interval, 3 x advert + skew, overflowed in debug builds (this test
    // crate runs with overflow checks).
    let o = run_json(
        r#"{"name": "vrrp", "duration": "2m",
            "topology": {"etcd": "stacked", "control_plane_nodes": 3, "load_balancers": 2},
            "settings": {"load_balancer": {"vrrp_advert_interval": "2000000h"}}}"#,
        1,
    );
    assert_eq!(metric(&o, "invariants.violations"), 0.0);
}

#[test]
fn a_restart_of_what_is_running_says_it_did_nothing() {
    // issue 17: `restart` of a running node or process was a silent no-op.
    let o = crate::common::run_json(
        r#"{"name":"t","duration":"2m","topology":{"etcd":"stacked","control_plane_nodes":3},
            "faults":[{"at":"60s","kind":"restart","target":"cp-1"},
                      {"at":"70s","kind":"crash","target":"cp-2/kube-scheduler"},
                      {"at":"71s","kind":"restart","target":"cp-2/kube-scheduler"},
                      {"at":"90s","kind":"restart","target":"cp-3/etcd"}]}"#,
        1,
    );
    let nothing: Vec<Option<&str>> = o.faults.iter().map(|f| f.did_nothing.as_deref()).collect();
    assert!(
        nothing[0].is_some_and(|w| w.contains("cp-1 was running")),
        "{nothing:?}"
    );
    assert_eq!(nothing[1], None, "a crash does something");
    assert_eq!(nothing[2], None, "restarting a crashed scheduler starts it");
    assert!(
        nothing[3].is_some_and(|w| w.contains("cp-3/etcd was running")),
        "{nothing:?}"
    );
    assert!(o.faults[0].describe().contains("did nothing"));
}

#[test]
fn overlapping_huge_link_latencies_and_fsyncs_do_not_overflow() {
    // Three degrade-link faults of 2,500,000 h each on one link sum beyond u64 nanoseconds; the sum
    // overflowed in debug builds (this test crate runs with overflow checks). The same for a slow disk.
    let o = run_json(
        r#"{"name": "lat", "duration": "3m",
            "topology": {"etcd": "stacked", "control_plane_nodes": 3},
            "faults": [
              {"at": "60s", "kind": "degrade-link", "between": ["cp-1", "cp-2"], "latency": "2500000h"},
              {"at": "61s", "kind": "degrade-link", "between": ["cp-1", "cp-2"], "latency": "2500000h"},
              {"at": "62s", "kind": "degrade-link", "between": ["cp-2", "cp-1"], "latency": "2500000h"},
              {"at": "63s", "kind": "slow-disk", "target": "cp-3", "fsync_latency": "2500000h"}]}"#,
        1,
    );
    assert_eq!(metric(&o, "invariants.violations"), 0.0);
}

#[test]
fn interval_minimums_are_the_real_tools_and_a_short_heartbeat_is_named_as_the_cost() {
    let with = |settings: &str, duration: &str| {
        format!(
            r#"{{"name": "m", "duration": "{duration}", "topology": {{"etcd": "stacked",
                "control_plane_nodes": 3, "load_balancers": 2}}, "settings": {settings}}}"#
        )
    };
    let err = |text: &str| kube_ha_sim::scenario::parse_scenario(text, "m.json").unwrap_err();
    // keepalived's VRRPv2 advert interval is whole seconds; the kubelet's lease whole seconds.
    let e = err(&with(
        r#"{"load_balancer": {"vrrp_advert_interval": "999ms"}}"#,
        "10m",
    ));
    assert_eq!(e.path, "settings.load_balancer.vrrp_advert_interval");
    assert!(
        e.message.contains("at least 1s") && e.message.contains("RFC 3768"),
        "{e}"
    );
    let e = err(&with(
        r#"{"kubelet": {"node_lease_duration": "500ms"}}"#,
        "10m",
    ));
    assert_eq!(e.path, "settings.kubelet.node_lease_duration");
    // A 1 ms heartbeat is allowed, but over 600 h it is what makes the run too costly, and the
    // refusal says so (it once named no setting, after 62 s and 2.3 GB).
    let fast = r#"{"etcd": {"heartbeat_interval": "1ms", "election_timeout": "10ms"}}"#;
    assert!(kube_ha_sim::scenario::parse_scenario(&with(fast, "1h"), "m.json").is_ok());
    let e = err(&with(fast, "600h"));
    assert_eq!(e.path, "settings.etcd.heartbeat_interval", "{e}");
    // With the default heartbeat the same 600 h is fine.
    assert!(kube_ha_sim::scenario::parse_scenario(&with("{}", "600h"), "m.json").is_ok());
}
