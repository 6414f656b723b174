//! The HA guidance table, pinned with the real timings: API server loss, scheduler and controller
//! manager failover, load balancer loss, VIP failover, and stacked against external etcd.

use crate::common::{log_times, metric, proc_id, run_json};
use kube_ha_sim::observe::TraceKind;
use kube_ha_sim::run::Outcome;

const S: u64 = 1_000_000_000;

fn cluster(etcd: &str, lbs: u32, settings: &str, faults: &str) -> String {
    let etcd_nodes = if etcd == "external" { 3 } else { 0 };
    format!(
        r#"{{"name":"t","duration":"4m",
            "topology":{{"etcd":"{etcd}","control_plane_nodes":3,"etcd_nodes":{etcd_nodes},"zones":["a","b","c"],"load_balancers":{lbs}}},
            "settings":{{{settings}}},
            "load":{{"requests_per_second":10}},
            "faults":[{faults}]}}"#
    )
}

fn proc_name(o: &Outcome, p: u16) -> &str {
    &o.layout.procs[p as usize].name
}

/// Time (s after `from_s`) of the first event matching `f`.
fn first_after(o: &Outcome, from_s: u64, f: impl Fn(&TraceKind) -> bool) -> Option<f64> {
    o.trace
        .events
        .iter()
        .find(|e| e.time_ns >= from_s * S && f(&e.kind))
        .map(|e| (e.time_ns - from_s * S) as f64 / 1e9)
}

#[test]
fn one_api_server_crash_costs_only_requests_before_the_checks_notice() {
    let o = run_json(
        &cluster(
            "stacked",
            1,
            "",
            r#"{"at":"60s","kind":"crash","target":"cp-1/kube-apiserver","for":"60s"}"#,
        ),
        1,
    );
    // A dead process refuses connections: every check fails at once, so DOWN after fall (3) checks
    // spaced by inter (2 s): about 4-6 s.
    let down = first_after(&o, 60, |k| {
        matches!(k, TraceKind::LbBackend { up: false, .. })
    })
    .unwrap();
    assert!((3.9..=6.5).contains(&down), "marked down after {down}s");
    // Requests sent to it meanwhile are refused and redispatched: the API stays up.
    assert!(
        metric(&o, "api.availability") >= 0.995,
        "{}",
        metric(&o, "api.availability")
    );
    assert_eq!(metric(&o, "scheduling.downtime_s"), 0.0);
}

#[test]
fn a_silent_node_death_is_noticed_after_check_timeouts() {
    let o = run_json(
        &cluster(
            "external",
            1,
            "",
            r#"{"at":"60s","kind":"crash","target":"cp-1","for":"60s"}"#,
        ),
        2,
    );
    // No RST from a dead host: each check times out after min(timeout connect, inter) = 2 s and the
    // next starts inter later, so DOWN after about 3 x (2 + 2) s.
    let down = first_after(&o, 60, |k| {
        matches!(k, TraceKind::LbBackend { up: false, .. })
    })
    .unwrap();
    assert!((7.0..=13.0).contains(&down), "marked down after {down}s");
    // Requests to it wait out `timeout connect` (5 s) and are redispatched: slow, not failed.
    assert!(metric(&o, "api.availability") >= 0.99);
    assert!(metric(&o, "api.latency_p99_ms") >= 4_000.0);
}

fn takeover_after_crash(kind: &str, target: &str, seed: u64) -> f64 {
    let o = run_json(
        &cluster(
            "stacked",
            1,
            "",
            &format!(r#"{{"at":"60s","kind":"{kind}","target":"{target}","for":"60s"}}"#),
        ),
        seed,
    );
    let stopped = o
        .trace
        .events
        .iter()
        .find(|e| e.time_ns >= 60 * S && matches!(e.kind, TraceKind::Fault { start: true, .. }))
        .unwrap();
    let victim = o.faults[0].resolved.clone();
    let _ = stopped;
    first_after(&o, 60, |k| {
        matches!(k, TraceKind::Acting { proc, acting: true } if proc_name(&o, *proc) != victim && proc_name(&o, *proc).ends_with(target.trim_start_matches("leader:")))
    })
    .expect("a standby takes over")
}

#[test]
fn scheduler_and_controller_manager_take_over_after_the_lease_expires() {
    let mut seen = Vec::new();
    for seed in 1..=6 {
        for target in ["leader:kube-scheduler", "leader:kube-controller-manager"] {
            let t = takeover_after_crash("crash", target, seed);
            // Lease 15 s observed by the candidate's own clock, retried every 2-4.4 s: 13-20 s
            // typically, a little more when the last renewal was seen late.
            assert!((12.0..=24.5).contains(&t), "{target} seed {seed}: {t}s");
            seen.push(t);
        }
    }
    let mean = seen.iter().sum::<f64>() / seen.len() as f64;
    assert!((13.0..=20.0).contains(&mean), "mean takeover {mean}s");
}

#[test]
fn a_clean_stop_releases_the_lease_and_a_standby_takes_over_at_once() {
    for seed in 1..=3 {
        let t = takeover_after_crash("stop", "leader:kube-scheduler", seed);
        // The next candidate retry (2-4.4 s) finds an empty holder.
        assert!(t <= 4.6, "seed {seed}: {t}s");
    }
}

#[test]
fn losing_the_single_load_balancer_stops_the_api_for_exactly_its_outage() {
    let o = run_json(
        &cluster(
            "stacked",
            1,
            r#""nodes":{"os_boot_time":"0s"}"#,
            r#"{"at":"60s","kind":"crash","target":"lb-1","for":"60s"}"#,
        ),
        1,
    );
    let down = metric(&o, "api.longest_outage_s");
    assert!((59.5..=61.5).contains(&down), "{down}");
    // kubeadm's controllers use their local API server: they never notice.
    assert_eq!(metric(&o, "scheduling.downtime_s"), 0.0);
    assert_eq!(metric(&o, "reconciliation.downtime_s"), 0.0);
}

#[test]
fn losing_the_vip_holder_costs_the_master_down_timer() {
    let o = run_json(
        &cluster(
            "stacked",
            2,
            "",
            r#"{"at":"60s","kind":"crash","target":"vip-holder","for":"60s"}"#,
        ),
        1,
    );
    let down = metric(&o, "api.longest_outage_s");
    // 3 x advert (1 s) + skew (256-100)/256 s = 3.6 s after the last advert.
    assert!((2.5..=5.0).contains(&down), "{down}");
    let moved = first_after(&o, 60, |k| matches!(k, TraceKind::Vip { node: Some(_) })).unwrap();
    assert!((2.6..=4.7).contains(&moved), "{moved}");
}

#[test]
fn two_of_three_control_plane_nodes_lost_stacked_loses_writes_external_does_not() {
    let faults = r#"{"at":"60s","kind":"crash","target":"cp-1","for":"2m"},{"at":"60s","kind":"crash","target":"cp-2","for":"2m"}"#;
    let stacked = run_json(&cluster("stacked", 1, "", faults), 1);
    let external = run_json(&cluster("external", 1, "", faults), 1);
    assert!(metric(&stacked, "etcd_quorum.longest_outage_s") >= 119.0);
    assert!(metric(&stacked, "api.longest_outage_s") >= 110.0);
    assert_eq!(metric(&external, "etcd_quorum.downtime_s"), 0.0);
    assert!(
        metric(&external, "api.availability") >= 0.97,
        "{}",
        metric(&external, "api.availability")
    );
    assert_eq!(metric(&external, "invariants.violations"), 0.0);
    assert_eq!(metric(&stacked, "invariants.violations"), 0.0);
}

#[test]
fn leader_election_disabled_shows_duplicate_work() {
    let o = run_json(
        &cluster("stacked", 1, r#""leader_election":{"enabled":false}"#, ""),
        1,
    );
    assert!(metric(&o, "scheduling.split_brain_s") > 200.0);
    assert!(metric(&o, "reconciliation.split_brain_s") > 200.0);
    let on = run_json(&cluster("stacked", 1, "", ""), 1);
    assert_eq!(metric(&on, "scheduling.split_brain_s"), 0.0);
}

#[test]
fn kubeconfig_pointed_at_one_node_dies_with_it() {
    let text = r#"{"name":"t","duration":"3m",
        "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"endpoint":"direct:cp-1"},
        "faults":[{"at":"60s","kind":"crash","target":"cp-1","for":"60s"}]}"#;
    let o = run_json(text, 1);
    assert!(metric(&o, "api.longest_outage_s") >= 60.0);
}

#[test]
fn without_redispatch_requests_to_a_dead_backend_fail_until_the_checks_notice() {
    let fault = r#"{"at":"60s","kind":"crash","target":"cp-1/kube-apiserver","for":"60s"}"#;
    let with = run_json(&cluster("stacked", 1, "", fault), 3);
    let without = run_json(
        &cluster(
            "stacked",
            1,
            r#""load_balancer":{"redispatch":false,"retries":0}"#,
            fault,
        ),
        3,
    );
    // Round robin over 3 servers at 10 req/s: about a third of the ~4-6 s before DOWN.
    let failed = metric(&without, "api.failed_requests");
    assert!((8.0..=25.0).contains(&failed), "{failed}");
    assert!(metric(&with, "api.failed_requests") < failed);
}

#[test]
fn keepalived_stop_hands_over_at_the_skew_time_and_a_crash_keeps_the_address() {
    let stop = run_json(
        &cluster(
            "stacked",
            2,
            "",
            r#"{"at":"60s","kind":"stop","target":"lb-1/keepalived","for":"60s"}"#,
        ),
        1,
    );
    // Priority 0 advert: the backup (priority 100) takes over after (256-100)/256 s = 0.61 s.
    let moved = first_after(&stop, 60, |k| matches!(k, TraceKind::Vip { node: Some(_) })).unwrap();
    assert!((0.5..=0.8).contains(&moved), "{moved}");
    assert!(metric(&stop, "api.longest_outage_s") < 1.0);
    let crash = run_json(
        &cluster(
            "stacked",
            2,
            "",
            r#"{"at":"60s","kind":"crash","target":"lb-1/keepalived","for":"60s"}"#,
        ),
        1,
    );
    // The address stays on lb-1 (its HAProxy still serves) until lb-2 claims it 3.6 s later.
    assert_eq!(metric(&crash, "api.downtime_s"), 0.0);
    let moved = first_after(&crash, 60, |k| {
        matches!(k, TraceKind::Vip { node: Some(_) })
    })
    .unwrap();
    assert!((2.6..=4.7).contains(&moved), "{moved}");
}

#[test]
fn a_stopped_controller_manager_keeps_its_lease_until_it_expires() {
    // kube-controller-manager does not set ReleaseOnCancel: unlike the scheduler, a clean stop still
    // costs the lease duration.
    let t = takeover_after_crash("stop", "leader:kube-controller-manager", 2);
    assert!(t >= 12.0, "{t}s");
}

/// kube-scheduler starts its informers and waits for their caches to sync before it runs leader
/// election (`WaitForCacheSync`, then `leaderElector.Run`, k/k cmd/kube-scheduler/app/server.go);
/// kube-controller-manager builds its informers only once it leads. Both restarted while their
/// API server is stopped: the controller manager campaigns at once ("attempting to acquire leader
/// lease"), the scheduler only once that server is back and its reflectors, retrying after their
/// back-off (at most 30 s), have had their first events.
#[test]
fn a_scheduler_campaigns_only_once_its_caches_have_synced() {
    for seed in 1..=2 {
        let o = run_json(
            r#"{"name":"t","duration":"3m",
                "topology":{"etcd":"stacked","control_plane_nodes":3,"workers":3,"zones":["a","b","c"],"load_balancers":1},
                "workloads":[{"name":"web","replicas":6}],
                "faults":[{"at":"60s","kind":"stop","target":"cp-1/kube-apiserver","for":"40s"},
                          {"at":"70s","kind":"crash","target":"cp-1/kube-scheduler","for":"5s"},
                          {"at":"70s","kind":"crash","target":"cp-1/kube-controller-manager","for":"5s"}]}"#,
            seed,
        );
        let campaign = |name: &str| -> f64 {
            log_times(&o, proc_id(&o, name), "attempting to acquire leader lease")
                .into_iter()
                .find(|&t| t > 74.0)
                .unwrap_or_else(|| panic!("seed {seed}: {name} never campaigned after its restart"))
        };
        let kcm = campaign("cp-1/kube-controller-manager");
        assert!((75.0..75.1).contains(&kcm), "seed {seed}: {kcm}");
        let scheduler = campaign("cp-1/kube-scheduler");
        assert!(
            (100.0..131.0).contains(&scheduler),
            "seed {seed}: the scheduler campaigned at {scheduler} s"
        );
    }
}
