//! Issue 11 item 1: pod readiness and Service endpoints. Users reach a workload through its Service:
//! the EndpointSlice controller publishes the pods whose Ready condition is True, every node's
//! kube-proxy routes to what it last listed, and the node lifecycle controller's `MarkPodsNotReady`
//! takes a node's pods out when the node stops being Ready.

use crate::common::{metric, run_json};
use kube_ha_sim::observe::{Capability, TraceKind};
use kube_ha_sim::run::Outcome;

const S: u64 = 1_000_000_000;
const FULL: u32 = 1_000_000;

fn cluster(faults: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"8m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":3,"zones":["a","b","c"],"load_balancers":1}},
            "load":{{"requests_per_second":2}},
            "workloads":[{{"name":"web","replicas":6}}],
            "faults":[{faults}]}}"#
    )
}

/// (time, ready, reachable_ppm) of every observer reading of the workload.
fn readings(o: &Outcome) -> Vec<(u64, u32, u32)> {
    o.trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::WorkloadReady {
                ready,
                reachable_ppm,
                ..
            } => Some((e.time_ns, ready, reachable_ppm)),
            _ => None,
        })
        .collect()
}

/// The reading in force at `t`.
fn at(o: &Outcome, t: u64) -> (u32, u32) {
    readings(o)
        .into_iter()
        .take_while(|(when, ..)| *when <= t)
        .last()
        .map(|(_, r, p)| (r, p))
        .unwrap_or((0, 0))
}

fn log_time(o: &Outcome, needle: &str) -> Option<u64> {
    o.trace
        .events
        .iter()
        .find(|e| matches!(&e.kind, TraceKind::Log { text, .. } if text.contains(needle)))
        .map(|e| e.time_ns)
}

/// The endpoint counts a process's kube-proxy programmed, with their times.
fn proxy_counts(o: &Outcome, node: &str) -> Vec<(u64, u32)> {
    let name = format!("{node}/kubelet");
    let p = o
        .layout
        .procs
        .iter()
        .position(|p| p.name == name)
        .expect("kubelet") as u16;
    o.trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::ProxyEndpoints { proc, endpoints } if proc == p => {
                Some((e.time_ns, endpoints))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_crashed_workers_pods_black_hole_requests_until_marked_not_ready() {
    for seed in 1..=3 {
        let o = run_json(
            &cluster(r#"{"at":"2m","kind":"crash","target":"worker-1"}"#),
            seed,
        );
        assert_eq!(at(&o, 119 * S), (6, FULL), "seed {seed}: steady before");
        // Right after the crash the two dead pods are still in every kube-proxy's rules: a third of
        // the requests go nowhere.
        let (ready, ppm) = at(&o, 121 * S);
        assert_eq!(ready, 4, "seed {seed}");
        assert!(
            (600_000..700_000).contains(&ppm),
            "seed {seed}: {ppm} ppm reach a pod just after the crash"
        );
        let marked = log_time(&o, "Updating ready status of pod to false")
            .expect("the node lifecycle controller marks the pods not ready");
        let after = (marked - 120 * S) as f64 / 1e9;
        assert!(
            (38.0..=60.0).contains(&after),
            "seed {seed}: marked not ready {after} s after the crash"
        );
        // Still black-holing just before, all requests served (by four pods) a few seconds after.
        assert!(at(&o, marked - S).1 < FULL, "seed {seed}");
        assert_eq!(at(&o, marked + 5 * S), (4, FULL), "seed {seed}");
        let reach = metric(&o, "workloads.reachable_ratio");
        assert!(reach < 0.995, "seed {seed}: reachable_ratio {reach}");
    }
}

#[test]
fn a_cut_off_workers_pods_leave_the_endpoints_at_the_grace_period_and_return_when_it_reconnects() {
    for seed in 1..=3 {
        let o = run_json(
            &cluster(
                r#"{"at":"2m","kind":"partition","groups":[["worker-1"],["cp-1","cp-2","cp-3","lb-1"]],"for":"3m"}"#,
            ),
            seed,
        );
        let down: Vec<(u64, bool)> = o
            .trace
            .events
            .iter()
            .filter(|e| e.time_ns > 120 * S)
            .filter_map(|e| match e.kind {
                TraceKind::Cap {
                    cap: Capability::Workloads,
                    up,
                } => Some((e.time_ns, up)),
                _ => None,
            })
            .collect();
        assert_eq!(down.len(), 2, "seed {seed}: one outage: {down:?}");
        let (start, end) = (down[0].0 as f64 / 1e9, down[1].0 as f64 / 1e9);
        // Out of the Service at the grace period (50 s, noticed by a 5 s monitor pass) ...
        assert!(
            (120.0 + 38.0..=120.0 + 62.0).contains(&start),
            "seed {seed}: out at {start}"
        );
        // ... back once the worker reconnects at 300 s and its kubelet reports the pods Ready.
        assert!((300.0..=335.0).contains(&end), "seed {seed}: back at {end}");
        // Meanwhile the pods kept running and users reached them: nothing was black-holed.
        assert_eq!(at(&o, 200 * S), (4, FULL), "seed {seed}");
        assert!(
            metric(&o, "workloads.reachable_ratio") > 0.9999,
            "seed {seed}"
        );
        // worker-2's kube-proxy dropped the two endpoints and got them back; the cut-off worker's
        // kept its rules all along (it saw no update).
        let w2: Vec<u32> = proxy_counts(&o, "worker-2").iter().map(|c| c.1).collect();
        // (One watch event per endpoint: 6, 5, 4 where a 2 s poll saw 6, 4.)
        let full = w2.iter().position(|&c| c == 6);
        let dropped = full.and_then(|i| w2[i..].iter().position(|&c| c == 4));
        assert!(dropped.is_some(), "seed {seed}: {w2:?}");
        assert_eq!(w2.last(), Some(&6), "seed {seed}: {w2:?}");
        let w1 = proxy_counts(&o, "worker-1");
        assert!(
            w1.iter()
                .filter(|(t, _)| (120 * S..300 * S).contains(t))
                .all(|(_, c)| *c == 6),
            "seed {seed}: {w1:?}"
        );
    }
}

#[test]
fn pods_are_in_the_service_only_after_the_kubelet_reports_them_ready() {
    let o = run_json(&cluster(""), 1);
    // The first reading with any reachable endpoint comes after the pods' start-up: before it,
    // the Service has no endpoints and requests are refused.
    let first = readings(&o)
        .into_iter()
        .find(|(_, _, ppm)| *ppm > 0)
        .expect("pods become reachable");
    let created = log_time(&o, "Too few replicas").expect("the ReplicaSet creates pods");
    assert!(
        first.0 > created + 5 * S,
        "reachable at {} s, created at {} s",
        first.0 as f64 / 1e9,
        created as f64 / 1e9
    );
    assert_eq!(at(&o, 7 * 60 * S), (6, FULL));
}

/// External etcd, two workers; the load runs as a pod on worker-1 and reaches the API through the
/// `kubernetes` Service (or through the load balancer, for comparison); cp-1's host dies at 60 s.
fn in_cluster(api_via: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"3m",
            "topology":{{"etcd":"external","control_plane_nodes":3,"etcd_nodes":3,"workers":2,"zones":["a","b","c"],"load_balancers":1}},
            "load":{{"requests_per_second":5,"api_via":"{api_via}"}},
            "faults":[{{"at":"60s","kind":"crash","target":"cp-1","for":"5m"}}]}}"#
    )
}

#[test]
fn the_kubernetes_service_keeps_a_dead_api_server_until_its_lease_expires() {
    for seed in 1..=4 {
        let o = run_json(&in_cluster("kubernetes-service"), seed);
        // Every API server is in the Service once serving.
        let full = log_time(&o, "endpoints=[cp-1 cp-2 cp-3]").expect("all three published");
        assert!(full < 60 * S, "seed {seed}");
        // The dead one leaves when its 15 s lease has expired and another server's 10 s reconcile
        // runs: 5-25 s after the crash (the lease was renewed up to 10 s before it).
        let removed = o
            .trace
            .events
            .iter()
            .find(|e| {
                e.time_ns > 60 * S
                    && matches!(&e.kind, TraceKind::Log { text, .. }
                        if text.contains("Resetting endpoints") && !text.contains("cp-1"))
            })
            .map(|e| e.time_ns)
            .expect("cp-1 leaves the kubernetes Service");
        let after = (removed - 60 * S) as f64 / 1e9;
        assert!(
            (5.0..=25.0).contains(&after),
            "seed {seed}: removed {after} s after"
        );
        // Meanwhile new connections DNATed to cp-1 go nowhere and time out; none after that, once
        // kube-proxy has the new endpoints.
        let failed: Vec<u64> = o
            .trace
            .requests
            .iter()
            .filter(|r| !r.ok && r.sent_ns > 60 * S)
            .map(|r| r.sent_ns)
            .collect();
        assert!(!failed.is_empty(), "seed {seed}: no request went to cp-1");
        // (worker-1's kube-proxy learns it on its next list, unless its own API connection went to
        // cp-1 too: then only once the kubelet has closed it after two failed lease updates.)
        let reconnected = o
            .trace
            .events
            .iter()
            .filter(|e| e.time_ns > 60 * S)
            .find(|e| {
                matches!(&e.kind, TraceKind::Log { proc, text }
                if o.layout.procs[*proc as usize].name == "worker-1/kubelet"
                    && text.contains("closing all connections"))
            })
            .map_or(0, |e| e.time_ns);
        let last = *failed.iter().max().unwrap();
        assert!(
            last <= removed.max(reconnected) + 5 * S,
            "seed {seed}: failures until {} s, removal at {} s",
            last as f64 / 1e9,
            removed as f64 / 1e9
        );
        // Through the load balancer, health checks take cp-1 out and redispatch covers the gap.
        let lb = run_json(&in_cluster("endpoint"), seed);
        assert_eq!(metric(&lb, "api.failed_requests"), 0.0, "seed {seed}");
    }
}
