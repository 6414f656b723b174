//! Expectations beyond single numbers: a bound within a time window, recovery within a duration after
//! the fault ends; and the compare command's mapping of one fault script onto both topologies.

use crate::common::run_json;

fn scenario(expect: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"3m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}},
            "settings":{{"nodes":{{"os_boot_time":"0s"}}}},
            "load":{{"target":"etcd","requests_per_second":20}},
            "faults":[{{"at":"60s","kind":"crash","target":"cp-1","for":"30s"}},
                      {{"at":"60s","kind":"crash","target":"cp-2","for":"30s"}}],
            "expect":[{expect}]}}"#
    )
}

#[test]
fn a_window_measures_only_its_span() {
    let o = run_json(
        &scenario(
            r#"{"metric":"etcd_quorum.availability","at_most":0.01,"window":["65s","85s"]},
               {"metric":"etcd_quorum.availability","at_least":0.999,"window":["100s","170s"]},
               {"metric":"etcd_quorum.availability","at_least":0.999}"#,
        ),
        1,
    );
    assert!(
        o.verdicts[0].passed,
        "down throughout 65-85 s: {:?}",
        o.verdicts[0].actual
    );
    assert!(
        o.verdicts[1].passed,
        "up after recovery: {:?}",
        o.verdicts[1].actual
    );
    assert!(
        !o.verdicts[2].passed,
        "over the whole run the outage counts"
    );
}

#[test]
fn recovered_within_reads_the_time_to_recover_after_the_fault_ends() {
    let o = run_json(
        &scenario(
            r#"{"metric":"etcd_quorum","recovered_within":"5s"},
               {"metric":"etcd_quorum","recovered_within":"10ms"}"#,
        ),
        1,
    );
    let r = o.verdicts[0].actual.expect("recovery measured");
    // Both members restart at 90 s and need an election (1-2 s after the tick advance).
    assert!(r > 0.01 && r < 5.0, "{r}");
    assert!(o.verdicts[0].passed);
    assert!(!o.verdicts[1].passed);
    assert_eq!(o.metrics.get("etcd_quorum.recovery_s").copied(), Some(r));
}

#[test]
fn bad_windows_are_rejected_with_the_field() {
    let text = scenario(r#"{"metric":"api.availability","at_least":0.5,"window":["2m","1m"]}"#);
    let e = kube_ha_sim::scenario::parse_scenario(&text, "w.json").unwrap_err();
    assert!(e.to_string().contains("expect[0].window"), "{e}");
    let text = scenario(r#"{"metric":"api.latency_p50_ms","recovered_within":"5s"}"#);
    let e = kube_ha_sim::scenario::parse_scenario(&text, "w.json").unwrap_err();
    assert!(e.to_string().contains("capability"), "{e}");
}

#[test]
fn compare_maps_etcd_targets_and_shows_the_difference() {
    use kube_ha_sim::cli::compare::on_topology;
    use kube_ha_sim::scenario::model::EtcdTopology;
    let text = r#"{"name":"c","duration":"3m","topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},
        "faults":[{"at":"60s","kind":"crash","target":"cp-1","for":"60s"},{"at":"60s","kind":"crash","target":"cp-2","for":"60s"},
                  {"at":"150s","kind":"crash","target":"cp-3/etcd","for":"10s"}]}"#;
    let s = kube_ha_sim::scenario::parse_scenario(text, "c.json").unwrap();
    let ext = on_topology(&s, EtcdTopology::External, "c.json (external)").unwrap();
    assert_eq!(ext.topology.etcd_nodes, 3);
    assert_eq!(ext.faults[0].spec.target.as_deref(), Some("cp-1"));
    assert_eq!(ext.faults[2].spec.target.as_deref(), Some("etcd-3/etcd"));
    let a = kube_ha_sim::run::run(&s, 1).unwrap();
    let b = kube_ha_sim::run::run(&ext, 1).unwrap();
    assert!(a.metrics["etcd_quorum.longest_outage_s"] >= 59.0);
    // External etcd keeps quorum through the node crashes; the crash of etcd-3 costs at most one
    // election (if it happened to lead).
    assert!(b.metrics["etcd_quorum.longest_outage_s"] < 4.0);
    let table =
        kube_ha_sim::cli::compare::metrics_table(&[(&a, "stacked etcd"), (&b, "external etcd")]);
    assert!(table.contains("* etcd_quorum.downtime_s"), "{table}");
}

/// A stacked cluster behind one load balancer, 10 requests a second, with workers running `web`.
fn lb_cluster(faults: &str, expect: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"5m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":3,"zones":["a","b","c"],
                         "load_balancers":1,"endpoint":"load-balancer"}},
            "settings":{{"nodes":{{"os_boot_time":"0s"}}}},
            "load":{{"requests_per_second":10}},
            "workloads":[{{"name":"web","replicas":6}}],
            "faults":[{faults}],
            "expect":[{expect}]}}"#
    )
}

#[test]
fn each_fault_is_charged_only_its_own_recovery() {
    // A crashes the etcd leader's node from 60 s to 120 s: the API is back within a couple of seconds.
    // B crashes the load balancer from 120 s (as A ends) to 180 s: the API is down for B's minute,
    // and back as soon as HAProxy is. Neither fault took more than a few seconds to recover from; B's
    // outage is not A's (it used to be charged to A as 60 s).
    for seed in 1..=3 {
        let o = run_json(
            &lb_cluster(
                r#"{"at":"60s","kind":"crash","target":"leader:etcd","for":"60s"},
                   {"at":"120s","kind":"crash","target":"lb-1","for":"60s"}"#,
                r#"{"metric":"api","recovered_within":"10s"}"#,
            ),
            seed,
        );
        let r = o.metrics["api.recovery_s"];
        assert!(r < 10.0, "seed {seed}: api.recovery_s {r}");
        assert!(o.verdicts[0].passed, "seed {seed}");
        assert!(o.metrics["api.longest_outage_s"] >= 59.0, "seed {seed}");
    }
}

#[test]
fn windows_measure_workload_ready_ratios_too() {
    // A worker dies at 60 s and its pods are replaced only after the 300 s toleration: inside the window
    // some replicas are missing; before the fault every replica was ready.
    let o = run_json(
        &lb_cluster(
            r#"{"at":"60s","kind":"crash","target":"worker-1"}"#,
            r#"{"metric":"workloads.ready_ratio","at_most":0.9,"window":["2m","4m"]},
               {"metric":"workload.web.ready_ratio","at_most":0.9,"window":["2m","4m"]},
               {"metric":"workload.web.ready_ratio","at_least":0.999,"window":["40s","60s"]}"#,
        ),
        1,
    );
    for v in &o.verdicts {
        assert!(
            v.passed,
            "{} {}: actual {:?}",
            v.expectation.metric,
            v.bound_text(),
            v.actual
        );
    }
}

#[test]
fn the_summary_names_the_change_that_brought_the_api_back() {
    // Zone a (cp-1, the only load balancer, two workers) is lost for 10 minutes. At 12 m everything in
    // it returns at one instant: HAProxy brings the API back, and at that same instant the workload
    // observer traces new replica counts. The API's line must name HAProxy (it used to name the last
    // change at that instant: "workload web: 0/6 replicas ready").
    let s = kube_ha_sim::scenario::load_scenario(std::path::Path::new(
        "scenarios/zone-outage-takes-the-single-lb.json",
    ))
    .unwrap();
    let o = kube_ha_sim::run::run(&s, s.seed).unwrap();
    let text = kube_ha_sim::report::text::summary(&o);
    let line = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("api "))
        .nth(1)
        .unwrap_or_default();
    assert!(
        line.contains("2m -> 12m") && line.contains("recovered: lb-1/haproxy is up"),
        "{line}\n{text}"
    );
}
