//! Workers and workloads: what users of the running applications see during control-plane and worker
//! failures, with the real node-lifecycle timings (grace 50 s, tolerations 300 s).

use crate::common::{metric, run_json};
use kube_ha_sim::observe::TraceKind;
use kube_ha_sim::run::Outcome;

const S: u64 = 1_000_000_000;

fn cluster(
    workers: u32,
    zones: &str,
    workloads: &str,
    settings: &str,
    faults: &str,
    duration: &str,
) -> String {
    format!(
        r#"{{"name":"t","duration":"{duration}",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":{workers},"zones":{zones}}},
            "settings":{{{settings}}},
            "load":{{"requests_per_second":5}},
            "workloads":[{workloads}],
            "faults":[{faults}]}}"#
    )
}

fn log_time(o: &Outcome, needle: &str) -> Option<f64> {
    o.trace
        .events
        .iter()
        .find(|e| matches!(&e.kind, TraceKind::Log { text, .. } if text.contains(needle)))
        .map(|e| e.time_ns as f64 / 1e9)
}

#[test]
fn worker_failure_follows_the_real_timeline() {
    for seed in 1..=3 {
        let o = run_json(
            &cluster(
                3,
                r#"["a","b","c"]"#,
                r#"{"name":"web","replicas":6}"#,
                "",
                r#"{"at":"2m","kind":"crash","target":"worker-1"}"#,
                "15m",
            ),
            seed,
        );
        // Ready=Unknown once no lease renewal was seen for the grace period (50 s); the last renewal
        // came up to 10 s before the crash and is observed every 5 s.
        let unknown = log_time(&o, "Ready is now Unknown").expect("node goes Unknown") - 120.0;
        assert!(
            (38.0..=56.0).contains(&unknown),
            "seed {seed}: Unknown after {unknown}s"
        );
        // Pods evicted 300 s after the taint.
        let evicted = log_time(&o, "Deleting pod").expect("pods evicted") - 120.0;
        assert!(
            (unknown + 299.0..=unknown + 301.5).contains(&evicted),
            "seed {seed}: {evicted}"
        );
        // Replacements ready after scheduling (<= 1 s loops), the kubelet's sync (2 s) and start-up (5 s).
        let down = metric(&o, "workloads.longest_outage_s");
        assert!(
            (evicted + 5.0..=evicted + 12.0).contains(&down),
            "seed {seed}: outage {down}s, evicted {evicted}"
        );
        assert_eq!(metric(&o, "workloads.outages"), 1.0);
        assert!(metric(&o, "workloads.ready_ratio") > 0.8);
    }
}

#[test]
fn nothing_is_replaced_while_no_controller_manager_leads() {
    let faults = r#"{"at":"60s","kind":"crash","target":"cp-1/kube-controller-manager","for":"10m"},
                    {"at":"60s","kind":"crash","target":"cp-2/kube-controller-manager","for":"10m"},
                    {"at":"60s","kind":"crash","target":"cp-3/kube-controller-manager","for":"10m"},
                    {"at":"2m","kind":"crash","target":"worker-1"}"#;
    let o = run_json(
        &cluster(
            3,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":6}"#,
            "",
            faults,
            "25m",
        ),
        1,
    );
    // The worker's pods are gone at 2 m; no controller manager until 11 m, then a fresh grace period and
    // the 300 s toleration: at least 9 + 5 minutes of missing replicas.
    let down = metric(&o, "workloads.longest_outage_s");
    assert!(down >= 540.0 + 300.0, "{down}");
    assert!(log_time(&o, "Deleting pod").unwrap() > 660.0);
}

#[test]
fn workloads_keep_serving_while_the_whole_control_plane_is_down() {
    let faults = r#"{"at":"2m","kind":"crash","target":"cp-1","for":"10m"},
                    {"at":"2m","kind":"crash","target":"cp-2","for":"10m"},
                    {"at":"2m","kind":"crash","target":"cp-3","for":"10m"},
                    {"at":"5m","kind":"crash","target":"worker-1"}"#;
    let o = run_json(
        &cluster(
            3,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":6}"#,
            "",
            faults,
            "30m",
        ),
        1,
    );
    // The API is gone for the ten minutes...
    assert!(metric(&o, "api.longest_outage_s") >= 590.0);
    // ...workloads lose only worker-1's share at 5 m, and it is healed only after the control plane is
    // back (12 m) + grace + tolerations.
    let tl = o
        .timelines
        .iter()
        .find(|t| t.capability == kube_ha_sim::observe::Capability::Workloads)
        .unwrap();
    assert!(
        tl.up_at(250 * S),
        "still serving with the control plane down"
    );
    assert!(
        !tl.up_at(1000 * S),
        "not healed while control plane just came back"
    );
    assert!(
        tl.up_at(1400 * S),
        "healed after the control plane returned"
    );
    assert!(metric(&o, "workloads.ready_ratio") > 0.6);
}

#[test]
fn a_worker_cut_off_from_the_control_plane_keeps_its_pods_running() {
    // The users (`client`) are in no group: they still reach every worker.
    let faults = r#"{"at":"2m","kind":"partition","groups":[["worker-1"],["cp-1","cp-2","cp-3","lb-1"]],"for":"3m"}"#;
    let o = run_json(
        &cluster(
            3,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":6}"#,
            "",
            faults,
            "10m",
        ),
        1,
    );
    // Tainted but not evicted within 3 minutes (tolerations 300 s); its pods run all along, so no
    // request is lost, though they leave the Service while the node is not Ready (see
    // service_endpoints.rs).
    assert!(log_time(&o, "adding taint").is_some());
    assert!(log_time(&o, "Deleting pod").is_none());
    assert!(metric(&o, "workloads.reachable_ratio") > 0.9999);
    assert_eq!(metric(&o, "workloads.outages"), 1.0);
}

#[test]
fn full_disruption_of_every_zone_evicts_nothing() {
    // Every node the controller manager counts is cut off (control-plane nodes excluded from the
    // disruption computation by label, as the zone rule then sees only workers).
    let faults = r#"{"at":"2m","kind":"partition","groups":[["worker-1","worker-2","worker-3"],["cp-1","cp-2","cp-3","lb-1"]],"for":"8m"}"#;
    let labelled = r#""node_lifecycle":{"exclude_control_plane_from_disruption":true}"#;
    let o = run_json(
        &cluster(
            3,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":6}"#,
            labelled,
            faults,
            "14m",
        ),
        1,
    );
    assert!(log_time(&o, "Entering master disruption mode").is_some());
    assert!(log_time(&o, "Deleting pod").is_none());
    // The workers' kube-proxies keep routing by their rules all through the partition; the only dip
    // comes after it heals, when they learn that every pod was marked not ready, until the kubelets
    // report them Ready again (status manager reconcile, 10 s). A kubelet learns it from its pod
    // watch, which its reflector opens again after a back-off grown to [30, 60) s over the
    // partition, after a dial that can miss the heal by up to 15 s: about 90 s at most.
    let tl = o
        .timelines
        .iter()
        .find(|t| t.capability == kube_ha_sim::observe::Capability::Workloads)
        .expect("workloads timeline");
    assert!(tl.up_at(599 * S), "served through the partition");
    assert!(metric(&o, "workloads.longest_outage_s") <= 100.0);
    // Without the label, the ready control-plane nodes keep every zone Normal: evictions proceed.
    let o = run_json(
        &cluster(
            3,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":6}"#,
            "",
            faults,
            "14m",
        ),
        1,
    );
    assert!(log_time(&o, "Deleting pod").is_some());
}

#[test]
fn zone_outage_spread_over_zones_versus_packed_into_one() {
    let fault = r#"{"at":"2m","kind":"crash","target":"zone:a","for":"4m"}"#;
    let spread = run_json(
        &cluster(
            6,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":6,"spread":"zones"}"#,
            "",
            fault,
            "10m",
        ),
        1,
    );
    let packed = run_json(
        &cluster(
            6,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":6,"spread":"first-zone"}"#,
            "",
            fault,
            "10m",
        ),
        1,
    );
    let (s, p) = (
        metric(&spread, "workloads.ready_ratio"),
        metric(&packed, "workloads.ready_ratio"),
    );
    assert!(s > p + 0.2, "spread {s} vs packed {p}");
}

#[test]
fn workloads_on_control_plane_nodes_share_their_fate() {
    let fault = r#"{"at":"2m","kind":"crash","target":"cp-1","for":"3m"}"#;
    let on_cp = run_json(
        &cluster(
            0,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":3,"on_control_plane":true}"#,
            "",
            fault,
            "8m",
        ),
        1,
    );
    assert!(metric(&on_cp, "workloads.downtime_s") > 100.0);
    let dedicated = run_json(
        &cluster(
            3,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":3}"#,
            "",
            fault,
            "8m",
        ),
        1,
    );
    assert_eq!(metric(&dedicated, "workloads.downtime_s"), 0.0);
}

#[test]
fn an_isolated_worker_serves_nobody() {
    let faults = r#"{"at":"2m","kind":"isolate","target":"worker-1","for":"2m"}"#;
    let o = run_json(
        &cluster(
            3,
            r#"["a","b","c"]"#,
            r#"{"name":"web","replicas":6}"#,
            "",
            faults,
            "8m",
        ),
        1,
    );
    // Down from the isolation (users lose the node) until after it ends: its pods were marked not
    // ready meanwhile, and come back when its kubelet's status manager reports them Ready.
    let down = metric(&o, "workloads.longest_outage_s");
    assert!((120.0..=150.0).contains(&down), "{down}");
    assert_eq!(metric(&o, "workloads.outages"), 1.0);
}

/// The observer reuses its proxy-table summaries while no kubelet's pods and no node's power
/// changed; what it traces must be what a fresh computation gives at every moment, through a worker
/// crash, a partition of workers and a zone outage.
#[test]
fn the_observers_cached_readiness_equals_a_fresh_computation_at_every_moment() {
    use kube_ha_sim::scenario::load_scenario;
    use kube_ha_sim::world::{observer::ready_replicas, World};
    for file in [
        "scenarios/worker-crash.json",
        "scenarios/workers-partitioned-full-disruption.json",
        "scenarios/zone-outage-spread.json",
    ] {
        let plan = load_scenario(std::path::Path::new(file)).unwrap();
        let mut w = World::build(&plan, plan.seed);
        let step = 1_000_000_000;
        let mut at = 0;
        let mut checked = 0;
        while at <= plan.duration_ns {
            w.run_until(at).unwrap();
            let mut traced = vec![None; plan.workloads.len()];
            for e in &w.trace().events {
                if let TraceKind::WorkloadReady {
                    workload,
                    ready,
                    reachable_ppm,
                } = e.kind
                {
                    traced[workload as usize] = Some((ready, reachable_ppm));
                }
            }
            let fresh = ready_replicas(&w);
            for (i, t) in traced.iter().enumerate() {
                if let Some(t) = t {
                    assert_eq!(*t, fresh[i], "{file} at {at} ns, workload {i}");
                    checked += 1;
                }
            }
            at += step;
        }
        assert!(checked > 100, "{file}: {checked}");
    }
}

/// The API CPU of the requests at APF levels `levels` from minute 5 (when the pods have started) of a
/// stacked cluster of `workers` workers running `pods` pods for `minutes` minutes, beside a light
/// client load (its requests are at global-default).
fn steady_cpu_at_levels(
    workers: u32,
    pods: u32,
    minutes: u32,
    seed: u64,
    levels: &[kube_ha_sim::components::apf::PriorityLevel],
) -> f64 {
    let o = run_json(
        &format!(
            r#"{{"name":"t","duration":"{minutes}m",
                "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":{workers},"zones":["a","b","c"]}},
                "load":{{"requests_per_second":5}},
                "workloads":[{{"name":"web","replicas":{pods}}}]}}"#
        ),
        seed,
    );
    assert!(o.metrics["workloads.ready_ratio"] > 0.9, "{pods} pods");
    let levels: Vec<usize> = levels.iter().map(|l| l.index()).collect();
    o.trace
        .served
        .iter()
        .filter(|r| r.at_ns >= 300 * S && levels.contains(&usize::from(r.level)))
        .map(|r| f64::from(r.cpu_ns))
        .sum::<f64>()
}

/// The kubelets and kube-proxies watch their pods and endpoints: once the pods run, the API
/// servers' work for them does not grow with the number of pods. (When 2 s LISTs costed as full
/// LISTs stood in for the watches, ten times the pods made about seven times the work, and 1000
/// workers with 5000 pods saturated the API servers.) Measured as the CPU of the nodes' requests
/// (APF levels node-high and system); the controllers' own requests are at workload-high (see the
/// next test).
#[test]
fn steady_api_work_does_not_grow_with_the_pods_the_kubelets_watch() {
    use kube_ha_sim::components::apf::PriorityLevel::{NodeHigh, System};
    let node_cpu = |pods| steady_cpu_at_levels(100, pods, 20, 1, &[NodeHigh, System]);
    let (few, many) = (node_cpu(100), node_cpu(1000));
    assert!(few > 0.0, "{few}");
    assert!(many < 1.2 * few, "100 pods: {few} ns, 1000 pods: {many} ns");
}

/// The controllers read the caches of their informers, which watch through the API server (as a
/// leading kube-controller-manager and kube-scheduler do): in a steady cluster they send the API
/// nothing, however many pods they hold. Their requests are at APF level workload-high (their
/// writes; their lease traffic is leader-election): the pods' creations and bindings while the
/// workload comes up, none from minute 5. (When LISTs every period stood in for the informers, each
/// minute of the steady state had hundreds, costed as the changes since the last.)
#[test]
fn steady_controllers_send_no_requests_however_many_pods_their_informers_hold() {
    use kube_ha_sim::components::apf::PriorityLevel::WorkloadHigh;
    for pods in [50u32, 1000] {
        let o = run_json(
            &format!(
                r#"{{"name":"t","duration":"10m",
                    "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":50,"zones":["a","b","c"]}},
                    "load":{{"requests_per_second":5}},
                    "workloads":[{{"name":"web","replicas":{pods}}}]}}"#
            ),
            2,
        );
        assert!(o.metrics["workloads.ready_ratio"] > 0.9, "{pods} pods");
        let level = WorkloadHigh.index();
        let count = |from: u64, to: u64| {
            o.trace
                .served
                .iter()
                .filter(|r| usize::from(r.level) == level && (from..to).contains(&r.at_ns))
                .count()
        };
        let (early, steady) = (count(0, 300 * S), count(300 * S, u64::MAX));
        // Each pod is created, then bound.
        assert!(early >= 2 * pods as usize, "{pods} pods: {early} requests");
        assert_eq!(steady, 0, "{pods} pods");
    }
}

/// With two of three stacked control-plane nodes down for 20 minutes, etcd has no quorum, every API
/// server fails its readiness, and HAProxy closes each connection for want of a backend. A kubelet's
/// watch that ends so, before its first event, is the reflector's "very short watch": it is opened
/// again after the back-off, not at once. (Re-watching at once made 5.4 M watch requests in this
/// run, 90 times its events.)
#[test]
fn kubelets_back_off_their_watches_while_no_api_server_serves() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/alerts-etcd-quorum-lost.json"),
    )
    .expect("library scenario");
    let broken = run_json(&text, 3);
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    v["faults"] = serde_json::json!([]);
    v["expect"] = serde_json::json!([]);
    let healthy = run_json(&v.to_string(), 3);
    assert!(
        broken.events < 2 * healthy.events,
        "{} events with the API down, {} healthy",
        broken.events,
        healthy.events
    );
}
