//! Every accepted setting has an effect: for each field of the scenario file's `settings`, changing it
//! from its default changes the trace of a small scenario built to exercise it. The table must name
//! every setting (a new one without a row fails `every_setting_has_a_row`). Then named timing tests for
//! the behaviours these settings drive: the graceful kube-apiserver stop, its shutdown delay, the etcd
//! dial timeout at start-up, and the node startup grace period.

use crate::common::{log_times, metric, proc_id, run_json, state_times};
use kube_ha_sim::observe::{ProcState, TraceKind};
use kube_ha_sim::run::Outcome;
use kube_ha_sim::scenario::model::Settings;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const S: u64 = 1_000_000_000;

/// The small scenarios the table runs, each built to exercise a group of settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Base {
    /// The etcd leader crashes (stacked, load through HAProxy).
    EtcdCrash,
    /// The etcd leader's node is cut off from everything.
    EtcdIsolate,
    /// An etcd follower is down for a minute while 20 writes a second go straight to etcd.
    EtcdFollowerBehind,
    /// cp-1 is partitioned from cp-2 and cp-3; the load goes straight to the etcd members.
    EtcdPartitionDirect,
    /// cp-1 is partitioned from cp-2 and cp-3; HAProxy and the clients still reach it, so its API
    /// server answers slowly from an etcd member without quorum.
    ApiPartition,
    /// cp-1's kube-apiserver is stopped gracefully.
    ApiStop,
    /// cp-1's kube-apiserver restarts while its local etcd member is down.
    ApiDial,
    /// cp-1's kube-apiserver crashes.
    ApiCrash,
    /// cp-1's kube-apiserver crashes while informers watch through HAProxy: those that watched
    /// through it relist.
    ApiCrashInformers,
    /// The cp-1 host crashes.
    CpNodeCrash,
    /// External etcd: the etcd-1 host crashes (silently, for its clients).
    ExternalEtcdNodeCrash,
    /// The active kube-controller-manager crashes.
    KcmCrash,
    /// The active kube-controller-manager's node is cut off: it cannot renew and gives up.
    KcmIsolate,
    /// The active kube-scheduler is stopped gracefully.
    SchedulerStop,
    /// Two load balancers with keepalived; lb-1's HAProxy crashes.
    LbPairHaproxyCrash,
    /// A worker with pods crashes.
    WorkerCrash,
    /// A worker's host is down from the start: its kubelet never posts anything.
    WorkerNeverUp,
    /// Two workers of one zone crash together.
    TwoWorkersOneZone,
    /// Three of five nodes of zone a crash: a partial zone disruption.
    ZonePartial,
}

fn cluster(topology: Value, faults: Value, workloads: Value, load: Value, duration: &str) -> Value {
    json!({
        "name": "settings-effect",
        "duration": duration,
        "topology": topology,
        "settings": {},
        "load": load,
        "workloads": workloads,
        "faults": faults,
    })
}

fn stacked(lbs: u32, workers: u32, zones: &[&str]) -> Value {
    json!({"etcd": "stacked", "control_plane_nodes": 3, "workers": workers, "zones": zones,
           "load_balancers": lbs})
}

fn base_scenario(b: Base) -> Value {
    let abc = ["a", "b", "c"];
    let api_load = json!({"requests_per_second": 10});
    let no_load = json!({"requests_per_second": 1});
    let none = json!([]);
    let web = |n: u32| json!([{"name": "web", "replicas": n}]);
    let fault = |at: &str, kind: &str, target: &str, for_: Option<&str>| {
        let mut f = json!({"at": at, "kind": kind, "target": target});
        if let Some(d) = for_ {
            f["for"] = json!(d);
        }
        f
    };
    let partition_cp1 = json!({"at": "60s", "kind": "partition", "groups": [["cp-1"], ["cp-2", "cp-3"]], "for": "40s"});
    match b {
        Base::EtcdCrash => cluster(
            stacked(1, 0, &abc),
            json!([fault("60s", "crash", "leader:etcd", Some("30s"))]),
            none,
            api_load,
            "2m",
        ),
        Base::EtcdFollowerBehind => cluster(
            stacked(1, 0, &abc),
            json!([fault("30s", "crash", "follower:etcd", Some("60s"))]),
            none,
            json!({"target": "etcd", "requests_per_second": 20, "write_ratio": 1.0}),
            "2m",
        ),
        Base::EtcdIsolate => cluster(
            stacked(1, 0, &abc),
            json!([fault("60s", "isolate", "leader:etcd", Some("30s"))]),
            none,
            api_load,
            "2m",
        ),
        Base::EtcdPartitionDirect => cluster(
            stacked(1, 0, &abc),
            json!([partition_cp1]),
            none,
            json!({"target": "etcd", "requests_per_second": 10}),
            "2m",
        ),
        Base::ApiPartition => cluster(
            stacked(1, 0, &abc),
            json!([partition_cp1]),
            none,
            api_load,
            "2m",
        ),
        Base::ApiStop => cluster(
            stacked(1, 0, &abc),
            json!([fault("60s", "stop", "cp-1/kube-apiserver", Some("60s"))]),
            none,
            api_load,
            "2m30s",
        ),
        Base::ApiDial => cluster(
            stacked(1, 0, &abc),
            json!([
                fault("60s", "crash", "cp-1/etcd", Some("150s")),
                fault("70s", "crash", "cp-1/kube-apiserver", Some("5s"))
            ]),
            none,
            api_load,
            "4m",
        ),
        Base::ApiCrash => cluster(
            stacked(1, 0, &abc),
            json!([fault("60s", "crash", "cp-1/kube-apiserver", Some("30s"))]),
            none,
            api_load,
            "2m",
        ),
        Base::ApiCrashInformers => cluster(
            json!({"etcd": "stacked", "control_plane_nodes": 3, "zones": abc,
                   "load_balancers": 1, "endpoint": "load-balancer"}),
            json!([fault("60s", "crash", "cp-1/kube-apiserver", Some("30s"))]),
            none,
            json!({"requests_per_second": 10, "informers": {"count": 30, "objects": 500}}),
            "2m",
        ),
        Base::CpNodeCrash => cluster(
            stacked(1, 0, &abc),
            json!([fault("60s", "crash", "cp-1", Some("60s"))]),
            none,
            api_load,
            "2m30s",
        ),
        Base::ExternalEtcdNodeCrash => cluster(
            json!({"etcd": "external", "control_plane_nodes": 3, "etcd_nodes": 3, "zones": abc}),
            json!([fault("60s", "crash", "etcd-1", Some("60s"))]),
            none,
            api_load,
            "2m30s",
        ),
        Base::KcmCrash => cluster(
            stacked(1, 0, &abc),
            json!([fault(
                "60s",
                "crash",
                "leader:kube-controller-manager",
                Some("60s")
            )]),
            none,
            no_load,
            "2m30s",
        ),
        Base::KcmIsolate => cluster(
            stacked(1, 0, &abc),
            json!([fault(
                "60s",
                "isolate",
                "leader:kube-controller-manager",
                Some("30s")
            )]),
            none,
            no_load,
            "2m30s",
        ),
        Base::SchedulerStop => cluster(
            stacked(1, 0, &abc),
            json!([fault("60s", "stop", "leader:kube-scheduler", Some("60s"))]),
            none,
            no_load,
            "2m30s",
        ),
        Base::LbPairHaproxyCrash => cluster(
            stacked(2, 0, &abc),
            json!([fault("60s", "crash", "lb-1/haproxy", Some("60s"))]),
            none,
            api_load,
            "3m",
        ),
        Base::WorkerCrash => cluster(
            stacked(1, 3, &abc),
            json!([fault("30s", "crash", "worker-1", None)]),
            web(6),
            no_load,
            "3m",
        ),
        Base::WorkerNeverUp => cluster(
            stacked(1, 3, &abc),
            json!([fault("0s", "crash", "worker-3", None)]),
            none,
            no_load,
            "2m30s",
        ),
        // worker-1 and worker-4 are both in zone a, with cp-1: two of three not ready is a normal
        // zone, tainted at the eviction rate.
        Base::TwoWorkersOneZone => cluster(
            stacked(1, 6, &abc),
            json!([
                fault("30s", "crash", "worker-1", None),
                fault("30s", "crash", "worker-4", None)
            ]),
            web(6),
            no_load,
            "2m30s",
        ),
        // Zone a holds cp-1, cp-3, worker-1, worker-3, worker-5: three of five not ready.
        Base::ZonePartial => cluster(
            stacked(1, 6, &["a", "b"]),
            json!([
                fault("30s", "crash", "worker-1", None),
                fault("30s", "crash", "worker-3", None),
                fault("30s", "crash", "worker-5", None)
            ]),
            web(6),
            no_load,
            "3m",
        ),
    }
}

/// One row: a setting, the scenario that exercises it, settings that scenario needs besides the
/// defaults, and a value other than the default.
struct Row {
    setting: &'static str,
    base: Base,
    with: Value,
    changed: Value,
}

fn row(setting: &'static str, base: Base, changed: Value) -> Row {
    Row {
        setting,
        base,
        with: json!({}),
        changed,
    }
}

fn row_with(setting: &'static str, base: Base, with: Value, changed: Value) -> Row {
    Row {
        setting,
        base,
        with,
        changed,
    }
}

fn table() -> Vec<Row> {
    use Base::*;
    vec![
        // etcd
        row("etcd.heartbeat_interval", EtcdCrash, json!("50ms")),
        row("etcd.election_timeout", EtcdCrash, json!("2s")),
        row("etcd.pre_vote", EtcdCrash, json!(false)),
        row("etcd.check_quorum", EtcdIsolate, json!(false)),
        row(
            "etcd.initial_election_tick_advance",
            EtcdCrash,
            json!(false),
        ),
        row("etcd.fsync_latency", EtcdCrash, json!("10ms")),
        row("etcd.request_timeout", EtcdPartitionDirect, json!("3s")),
        // The follower misses ~1200 entries: with a short catch-up it needs the snapshot.
        row_with(
            "etcd.snapshot_count",
            EtcdFollowerBehind,
            json!({"etcd": {"snapshot_catchup_entries": 10}}),
            json!(50),
        ),
        row_with(
            "etcd.snapshot_catchup_entries",
            EtcdFollowerBehind,
            json!({"etcd": {"snapshot_count": 50}}),
            json!(10),
        ),
        // kube-apiserver
        row("kube_apiserver.request_timeout", ApiPartition, json!("3s")),
        row(
            "kube_apiserver.etcd_healthcheck_timeout",
            ApiPartition,
            json!("1s"),
        ),
        row_with(
            "kube_apiserver.etcd_readycheck_timeout",
            ApiPartition,
            json!({"load_balancer": {"check_path": "/readyz"}}),
            json!("1s"),
        ),
        row(
            "kube_apiserver.shutdown_delay_duration",
            ApiStop,
            json!("5s"),
        ),
        row("kube_apiserver.etcd_dial_timeout", ApiDial, json!("10s")),
        row(
            "kube_apiserver.etcd_keepalive_time",
            ExternalEtcdNodeCrash,
            json!("5s"),
        ),
        row(
            "kube_apiserver.etcd_keepalive_timeout",
            ExternalEtcdNodeCrash,
            json!("3s"),
        ),
        row("kube_apiserver.startup_time", ApiCrash, json!("2s")),
        row("kube_apiserver.goaway_chance", CpNodeCrash, json!(0.02)),
        row("etcd.quota_backend_bytes", ApiCrash, json!(100_000)),
        row_with(
            "etcd.bytes_per_revision",
            ApiCrash,
            json!({"etcd": {"quota_backend_bytes": 10_485_760}}),
            json!(102_400),
        ),
        // etcd's capacity: one core is busier only when requests overlap, so with a slow write.
        row_with(
            "etcd.cores",
            ApiCrash,
            json!({"etcd": {"cpu_per_write": "5ms"}}),
            json!(1),
        ),
        row("etcd.cpu_per_read", ApiCrash, json!("1ms")),
        row("etcd.cpu_per_write", ApiCrash, json!("1ms")),
        row("etcd.peer_bandwidth_bytes_per_s", ApiCrash, json!(100_000)),
        // capacity: one seat per level leaves requests queueing now and then even at the base load;
        // without APF one read and one write in flight means 429s.
        row_with(
            "kube_apiserver.max_requests_inflight",
            ApiCrash,
            json!({"kube_apiserver": {"max_mutating_requests_inflight": 1}}),
            json!(1),
        ),
        row_with(
            "kube_apiserver.max_mutating_requests_inflight",
            ApiCrash,
            json!({"kube_apiserver": {"max_requests_inflight": 1}}),
            json!(1),
        ),
        row_with(
            "kube_apiserver.enable_priority_and_fairness",
            ApiCrash,
            json!({"kube_apiserver": {"max_requests_inflight": 1, "max_mutating_requests_inflight": 1}}),
            json!(false),
        ),
        row("kube_apiserver.cores", ApiCrash, json!(1)),
        row("kube_apiserver.cpu_per_get", ApiCrash, json!("3ms")),
        row("kube_apiserver.cpu_per_write", ApiCrash, json!("5ms")),
        // The controllers read informer caches: only the scenario's informers LIST.
        row(
            "kube_apiserver.cpu_per_list_object",
            ApiCrashInformers,
            json!("1ms"),
        ),
        // leader election
        row("leader_election.enabled", KcmCrash, json!(false)),
        row("leader_election.lease_duration", KcmCrash, json!("20s")),
        row("leader_election.renew_deadline", KcmIsolate, json!("8s")),
        row("leader_election.retry_period", KcmCrash, json!("1s")),
        row(
            "leader_election.api_endpoint",
            KcmCrash,
            json!("load-balancer"),
        ),
        row(
            "leader_election.release_on_cancel",
            SchedulerStop,
            json!(false),
        ),
        // load balancers
        // /readyz fails from SIGTERM on; /healthz (the default) keeps passing until the listener
        // closes at the end of the shutdown delay. (/livez runs the same etcd check as /healthz.)
        row_with(
            "load_balancer.check_path",
            ApiStop,
            json!({"kube_apiserver": {"shutdown_delay_duration": "20s"}}),
            json!("/readyz"),
        ),
        row("load_balancer.check_interval", ApiCrash, json!("1s")),
        row("load_balancer.fall", ApiCrash, json!(2)),
        row("load_balancer.rise", ApiCrash, json!(4)),
        // The check is answered after the etcd check's own timeout; `timeout check` counts from the
        // end of the connect window (min(timeout connect, inter) = 2 s).
        row_with(
            "load_balancer.check_timeout",
            ApiPartition,
            json!({"kube_apiserver": {"etcd_healthcheck_timeout": "10s"}}),
            json!("1s"),
        ),
        row("load_balancer.connect_timeout", CpNodeCrash, json!("2s")),
        row("load_balancer.retries", ApiCrash, json!(0)),
        row("load_balancer.redispatch", ApiCrash, json!(false)),
        row(
            "load_balancer.vrrp_advert_interval",
            LbPairHaproxyCrash,
            json!("2s"),
        ),
        row(
            "load_balancer.vrrp_priorities",
            LbPairHaproxyCrash,
            json!([100, 101]),
        ),
        row(
            "load_balancer.vrrp_script_interval",
            LbPairHaproxyCrash,
            json!("1s"),
        ),
        row(
            "load_balancer.vrrp_script_fall",
            LbPairHaproxyCrash,
            json!(3),
        ),
        row(
            "load_balancer.vrrp_script_rise",
            LbPairHaproxyCrash,
            json!(5),
        ),
        row(
            "load_balancer.vrrp_script_weight",
            LbPairHaproxyCrash,
            json!(-1),
        ),
        // kubelet
        row(
            "kubelet.node_status_update_frequency",
            WorkerCrash,
            json!("4s"),
        ),
        row("kubelet.node_lease_duration", WorkerCrash, json!("20s")),
        row("kubelet.max_pods", WorkerCrash, json!(1)),
        row("kubelet.pod_startup_time", WorkerCrash, json!("2s")),
        row("kubelet.restart_backoff_initial", ApiDial, json!("5s")),
        row("kubelet.restart_backoff_max", ApiDial, json!("15s")),
        row(
            "kubelet.apiserver_liveness_probe",
            ApiPartition,
            json!(false),
        ),
        row("kubelet.etcd_probes", ApiDial, json!(false)),
        row("kubelet.controller_probes", KcmCrash, json!(false)),
        row("kubelet.liveness_period", ApiPartition, json!("3s")),
        row("kubelet.liveness_failure_threshold", ApiPartition, json!(2)),
        // node lifecycle
        row(
            "node_lifecycle.node_monitor_period",
            WorkerCrash,
            json!("2s"),
        ),
        row(
            "node_lifecycle.node_monitor_grace_period",
            WorkerCrash,
            json!("30s"),
        ),
        row(
            "node_lifecycle.node_startup_grace_period",
            WorkerNeverUp,
            json!("30s"),
        ),
        row(
            "node_lifecycle.node_eviction_rate",
            TwoWorkersOneZone,
            json!(1.0),
        ),
        row_with(
            "node_lifecycle.secondary_node_eviction_rate",
            ZonePartial,
            json!({"node_lifecycle": {"large_cluster_size_threshold": 2}}),
            json!(1.0),
        ),
        row(
            "node_lifecycle.unhealthy_zone_threshold",
            ZonePartial,
            json!(0.9),
        ),
        row(
            "node_lifecycle.large_cluster_size_threshold",
            ZonePartial,
            json!(2),
        ),
        row(
            "node_lifecycle.default_toleration",
            WorkerCrash,
            json!("30s"),
        ),
        row(
            "node_lifecycle.exclude_control_plane_from_disruption",
            ZonePartial,
            json!(true),
        ),
        // network
        row("network.local_latency", EtcdCrash, json!("100us")),
        row("network.zone_latency", EtcdCrash, json!("500us")),
        row("network.cross_zone_latency", EtcdCrash, json!("2ms")),
        row("network.jitter", EtcdCrash, json!(0.5)),
        row("network.loss", EtcdCrash, json!(0.01)),
        // nodes
        row("nodes.boot_spread", EtcdCrash, json!("2s")),
        row("nodes.os_boot_time", CpNodeCrash, json!("5s")),
    ]
}

/// Settings of how a run is computed, not of what it models: by design they leave the trace as it
/// is (lazy heartbeats: the same in distribution). Their effect is tested where they are
/// (`engine_shortcuts`: fewer events, same report; `lazy_heartbeats`: a tenth of an idle
/// cluster's events, the same failure outcomes over seeds).
const NOT_IN_THE_TRACE: [&str; 1] = ["engine"];

/// Every `section.field` of the settings that models something, from the defaults.
fn all_settings() -> BTreeSet<String> {
    let v = serde_json::to_value(Settings::default()).unwrap();
    let mut out = BTreeSet::new();
    for (section, fields) in v.as_object().unwrap() {
        if NOT_IN_THE_TRACE.contains(&section.as_str()) {
            continue;
        }
        for field in fields.as_object().unwrap().keys() {
            out.insert(format!("{section}.{field}"));
        }
    }
    out
}

fn default_of(setting: &str) -> Value {
    let v = serde_json::to_value(Settings::default()).unwrap();
    let (section, field) = setting.split_once('.').unwrap();
    v[section][field].clone()
}

fn merge(into: &mut Value, from: &Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b.clone(),
    }
}

fn trace_hash(scenario: &Value) -> u64 {
    run_json(&scenario.to_string(), 3).trace.hash()
}

#[test]
fn every_setting_has_a_row() {
    let rows: BTreeSet<String> = table().iter().map(|r| r.setting.to_string()).collect();
    let all = all_settings();
    let missing: Vec<_> = all.difference(&rows).collect();
    let unknown: Vec<_> = rows.difference(&all).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "settings without a row: {missing:?}; rows for no setting: {unknown:?}"
    );
}

#[test]
fn changing_any_setting_from_its_default_changes_the_trace() {
    let mut base_hashes: BTreeMap<(Base, String), u64> = BTreeMap::new();
    let mut unchanged = Vec::new();
    for r in table() {
        assert_ne!(
            r.changed,
            default_of(r.setting),
            "{}: the row's value is the default",
            r.setting
        );
        let mut base = base_scenario(r.base);
        merge(&mut base["settings"], &r.with);
        let key = (r.base, r.with.to_string());
        let h0 = *base_hashes.entry(key).or_insert_with(|| trace_hash(&base));
        let (section, field) = r.setting.split_once('.').unwrap();
        let mut changed = base.clone();
        merge(
            &mut changed["settings"],
            &json!({ section: { field: r.changed.clone() } }),
        );
        if trace_hash(&changed) == h0 {
            unchanged.push(format!("{} = {} on {:?}", r.setting, r.changed, r.base));
        }
    }
    assert!(
        unchanged.is_empty(),
        "settings that did not change the trace: {unchanged:#?}"
    );
}

// ---- named behaviours ----

/// Times (s) at which a load balancer marked `backend` down after `from_s`.
fn backend_down_times(o: &Outcome, backend: u16, from_s: u64) -> Vec<f64> {
    o.trace
        .events
        .iter()
        .filter(|e| e.time_ns >= from_s * S)
        .filter(|e| matches!(e.kind, TraceKind::LbBackend { backend: b, up: false, .. } if b == backend))
        .map(|e| e.time_ns as f64 / S as f64)
        .collect()
}

/// cp-1's kube-apiserver is stopped or crashed at 60s while writes take about 0.7 s (slow fsync), so
/// some are always in flight on it.
fn slow_writes(kind: &str, settings: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"2m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":1}},
            "settings":{{"etcd":{{"fsync_latency":"200ms"}}{settings}}},
            "load":{{"requests_per_second":30,"write_ratio":0.8,"timeout":"10s"}},
            "faults":[{{"at":"60s","kind":"{kind}","target":"cp-1/kube-apiserver","for":"40s"}}]}}"#
    )
}

#[test]
fn a_graceful_api_server_stop_drains_what_a_crash_fails() {
    // A crash loses the requests in flight on it: their clients time out.
    let crash = run_json(&slow_writes("crash", ""), 1);
    assert!(
        metric(&crash, "api.failed_requests") > 0.0,
        "the crash should fail the requests in flight"
    );
    // SIGTERM with the defaults (no delay, /healthz checks): the listener closes at once, so new
    // requests are refused and HAProxy redispatches them, and those in flight finish before it exits.
    let stop = run_json(&slow_writes("stop", ""), 1);
    assert_eq!(metric(&stop, "api.failed_requests"), 0.0);
    let api = proc_id(&stop, "cp-1/kube-apiserver");
    let exit = state_times(&stop, api, ProcState::Down)[0];
    // It drains its requests and its RemoveEndpoints (three etcd round trips behind 200 ms fsyncs).
    assert!((60.0..63.0).contains(&exit), "exited at {exit}s");
    assert_eq!(log_times(&stop, api, "InFlightRequestsDrained"), [exit]);
}

#[test]
fn with_a_shutdown_delay_readyz_takes_a_stopping_api_server_out_before_it_exits() {
    let settings = r#","load_balancer":{"check_path":"/readyz"},"kube_apiserver":{"shutdown_delay_duration":"15s"}"#;
    let stop = run_json(&slow_writes("stop", settings), 1);
    assert_eq!(metric(&stop, "api.failed_requests"), 0.0);
    let api = proc_id(&stop, "cp-1/kube-apiserver");
    let down = backend_down_times(&stop, api, 60)[0];
    let exit = state_times(&stop, api, ProcState::Down)[0];
    // /readyz fails at once: fall (3) checks, inter (2 s) apart after each ends, mark it DOWN; it
    // keeps serving until the 15 s delay is over, then drains and exits. Each failing check takes
    // up to 2 s here: its `etcd` and then its `etcd-readiness` read, about 1 s each behind the slow
    // fsyncs, or none when the check's rate limiter answers from the last read (the kubelet's
    // /livez probes share the `etcd` check's limiter). The first comes 0-3 s after the stop
    // depending on the check schedule's phase: 60 + [0, 3) + [0, 2] + 2 x (2 + [0, 2]) s.
    assert!((64.0..74.0).contains(&down), "marked down at {down}s");
    assert!((75.0..77.5).contains(&exit), "exited at {exit}s");
    assert!(down < exit);
}

#[test]
fn livez_keeps_passing_during_the_shutdown_delay() {
    let lb = r#","load_balancer":{"check_path":"/livez"},"kube_apiserver":{"shutdown_delay_duration":"10s"}"#;
    let o = run_json(&slow_writes("stop", lb), 1);
    let api = proc_id(&o, "cp-1/kube-apiserver");
    let down = backend_down_times(&o, api, 60)[0];
    let closed = log_times(&o, api, "HTTPServerStoppedListening")[0];
    // /livez has no shutdown check: HAProxy notices only once the listener closed and connections
    // are refused.
    assert!((closed - 70.0).abs() < 0.01, "listener closed at {closed}s");
    assert!(
        down > closed,
        "marked down at {down}s, before the listener closed"
    );
}

/// `/livez` runs the `etcd` check as `/healthz` does (k8s.io/apiserver options/etcd.go adds it with
/// `AddHealthChecks`): an API server cut off from its etcd quorum fails it, and HAProxy checking
/// `/livez` takes it out just as one checking `/healthz` does.
#[test]
fn livez_fails_without_etcd_quorum_as_healthz_does() {
    let text = |path: &str| {
        format!(
            r#"{{"name":"t","duration":"2m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":1}},
            "settings":{{"load_balancer":{{"check_path":"{path}"}}}},
            "load":{{"requests_per_second":10}},
            "faults":[{{"at":"60s","kind":"partition","groups":[["cp-1"],["cp-2","cp-3"]],"for":"40s"}}]}}"#
        )
    };
    let down = |path: &str| {
        let o = run_json(&text(path), 1);
        let api = proc_id(&o, "cp-1/kube-apiserver");
        backend_down_times(&o, api, 60)
    };
    let (livez, healthz) = (down("/livez"), down("/healthz"));
    assert!(!healthz.is_empty(), "/healthz: cp-1's API server stays up");
    assert!(!livez.is_empty(), "/livez: cp-1's API server stays up");
    // Three failed checks, each waiting out the 2 s etcd check, 2 s apart: within about 15 s.
    assert!(
        (60.0..76.0).contains(&livez[0]),
        "/livez: marked down at {}s",
        livez[0]
    );
}

#[test]
fn the_shutdown_delay_delays_the_exit() {
    let exit_after = |delay: &str| {
        let o = run_json(
            &slow_writes(
                "stop",
                &format!(r#","kube_apiserver":{{"shutdown_delay_duration":"{delay}"}}"#),
            ),
            1,
        );
        let api = proc_id(&o, "cp-1/kube-apiserver");
        let readyz_failed = log_times(&o, api, "[-]shutdown failed")[0];
        assert_eq!(readyz_failed, 60.0);
        state_times(&o, api, ProcState::Down)[0] - 60.0
    };
    let (none, delayed) = (exit_after("0s"), exit_after("15s"));
    // Without a delay it exits as soon as the writes in flight finish (about a second at most).
    assert!(none < 2.5, "exited {none}s after SIGTERM");
    assert!(
        (15.0..17.5).contains(&delayed),
        "exited {delayed}s after SIGTERM"
    );
}

#[test]
fn an_api_server_started_without_etcd_exits_at_the_dial_timeout_and_backs_off() {
    // cp-1's etcd member is down from 60s to 4m; its API server crashes at 70s and restarts at 75s.
    let o = run_json(
        r#"{"name":"t","duration":"5m",
            "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":1},
            "load":{"requests_per_second":10},
            "faults":[{"at":"60s","kind":"crash","target":"cp-1/etcd","for":"3m"},
                      {"at":"70s","kind":"crash","target":"cp-1/kube-apiserver","for":"5s"}]}"#,
        1,
    );
    let api = proc_id(&o, "cp-1/kube-apiserver");
    let serving = log_times(&o, api, "Serving securely");
    // It never serves while its etcd is down (before: it served errors from 80s on).
    assert!(
        serving.iter().all(|&t| !(70.0..240.0).contains(&t)),
        "served without etcd at {serving:?}"
    );
    // Each start exits 20 s later; the kubelet restarts it after 1 s, then 10 s, 20 s, 40 s...
    let downs: Vec<f64> = state_times(&o, api, ProcState::Down)
        .into_iter()
        .filter(|&t| t > 71.0)
        .collect();
    let expected_downs = [95.0, 116.0, 146.0, 186.0];
    for (got, want) in downs.iter().zip(expected_downs) {
        assert!(
            (got - want).abs() < 0.01,
            "exits at {downs:?}, want {expected_downs:?}"
        );
    }
    assert!(downs.len() >= expected_downs.len(), "exits at {downs:?}");
    assert_eq!(
        log_times(&o, api, "Unable to create storage backend")[..4],
        expected_downs
    );
    // The start at 226 s (40 s after the exit at 186 s) is still dialling when etcd returns at 240 s:
    // the redial connects and it serves, not before.
    let back = serving.iter().copied().find(|&t| t > 70.0).unwrap();
    assert!(back >= 240.0, "served again at {back}s");
}

#[test]
fn the_node_startup_grace_period_governs_a_node_that_never_posted_status() {
    let unknown_at = |grace: &str| {
        let o = run_json(
            &format!(
                r#"{{"name":"t","duration":"3m",
                    "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":3,"zones":["a","b","c"]}},
                    "settings":{{"node_lifecycle":{{"node_startup_grace_period":"{grace}"}}}},
                    "load":{{"requests_per_second":1}},
                    "faults":[{{"at":"0s","kind":"crash","target":"worker-3"}}]}}"#
            ),
            1,
        );
        o.trace
            .events
            .iter()
            .find(|e| {
                matches!(&e.kind, TraceKind::Log { text, .. }
                if text.contains("Condition Ready of node worker-3 was never updated by kubelet"))
            })
            .map(|e| e.time_ns as f64 / S as f64)
    };
    // Counted from the Node's creation; the controller notices at its next monitor pass (5 s).
    let default = unknown_at("1m").expect("worker-3 never marked Unknown");
    assert!((60.0..66.0).contains(&default), "Unknown at {default}s");
    let longer = unknown_at("100s").expect("worker-3 never marked Unknown");
    assert!((100.0..106.0).contains(&longer), "Unknown at {longer}s");
}

#[test]
fn a_check_path_that_is_not_a_health_endpoint_is_rejected() {
    let text = r#"{"name":"t","duration":"1m",
        "topology":{"etcd":"stacked","control_plane_nodes":3},
        "settings":{"load_balancer":{"check_path":"/metrics"}}}"#;
    let err = kube_ha_sim::scenario::parse_scenario(text, "t.json")
        .expect_err("/metrics is not a kube-apiserver health endpoint")
        .to_string();
    assert!(
        err.contains("check_path") && err.contains("/healthz, /readyz, /livez"),
        "{err}"
    );
    for ok in ["/healthz", "/readyz", "/livez"] {
        let text = text.replace("/metrics", ok);
        kube_ha_sim::scenario::parse_scenario(&text, "t.json")
            .unwrap_or_else(|e| panic!("{ok} rejected: {e}"));
    }
}

/// The kubelet's heartbeat client times out at the smaller of `node_status_update_frequency` and
/// `node_lease_duration` (k/k cmd/kubelet/app/server.go). With a 4 s lease (renewed every 1 s) and
/// etcd's quorum lost at 60 s, a renewal's 4 s timeout comes before etcd's 7 s request timeout, so
/// the second failure in a row (which closes the kubelet's connections) comes within
/// 1 + 4 + 0.2 + 4 s; with the 10 s status frequency as the timeout it took 7 + 0.2 + 7 s at least.
#[test]
fn the_kubelets_heartbeat_timeout_is_at_most_its_lease_duration() {
    let text = r#"{"name":"t","duration":"2m",
        "topology":{"etcd":"stacked","control_plane_nodes":3,"workers":1,"zones":["a","b","c"],"load_balancers":1},
        "settings":{"kubelet":{"node_lease_duration":"4s"}},
        "faults":[{"at":"60s","kind":"crash","target":"cp-2/etcd"},{"at":"60s","kind":"crash","target":"cp-3/etcd"}]}"#;
    let o = run_json(text, 1);
    let kubelet = proc_id(&o, "worker-1/kubelet");
    let closed: Vec<f64> = log_times(&o, kubelet, "onRepeatedHeartbeatFailure")
        .into_iter()
        .filter(|t| *t >= 60.0)
        .collect();
    assert!(!closed.is_empty(), "the kubelet's renewals kept succeeding");
    assert!(
        closed[0] < 60.0 + 1.0 + 4.0 + 0.2 + 4.0 + 0.5,
        "second failed renewal at {}s",
        closed[0]
    );
}
