//! Scenario loading and validation: every rule class has a test that would fail if the rule were missing,
//! and every error names the field path (and, where the value is in the file, its line and column).

use kube_ha_sim::scenario::help::scenario_help;
use kube_ha_sim::scenario::load::known_metrics;
use kube_ha_sim::scenario::model::{
    ApiServerSettings, EtcdSettings, KubeletSettings, LeaderElectionSettings, Load,
    LoadBalancerSettings, NetworkSettings, NodeLifecycleSettings,
};
use kube_ha_sim::scenario::{load_scenario, parse_scenario, Plan, ScenarioError};
use serde_json::{json, Value};

/// The example of CONTRACT.md, verbatim.
const CONTRACT_EXAMPLE: &str = r#"{
  "name": "stacked-etcd-leader-crash",
  "description": "The node hosting the etcd leader dies; the rest of the control plane takes over.",
  "seed": 7,
  "duration": "10m",
  "topology": {
    "etcd": "stacked",
    "control_plane_nodes": 3,
    "etcd_nodes": 0,
    "workers": 3,
    "zones": ["a", "b", "c"],
    "load_balancers": 1,
    "endpoint": "load-balancer"
  },
  "settings": {
    "etcd": { "heartbeat_interval": "100ms", "election_timeout": "1s", "pre_vote": true, "check_quorum": true },
    "leader_election": { "enabled": true, "lease_duration": "15s", "renew_deadline": "10s",
                         "retry_period": "2s", "api_endpoint": "local" }
  },
  "load": { "requests_per_second": 10, "write_ratio": 0.5, "timeout": "10s" },
  "workloads": [ { "name": "web", "replicas": 6 } ],
  "faults": [
    { "at": "60s", "kind": "crash", "target": "leader:etcd", "for": "2m" }
  ],
  "expect": [
    { "metric": "api.availability", "at_least": 0.99 },
    { "metric": "etcd_quorum.longest_outage_s", "at_most": 3 }
  ]
}"#;

/// A small valid scenario to modify.
fn base() -> Value {
    json!({
        "name": "t",
        "duration": "10m",
        "topology": { "etcd": "stacked", "control_plane_nodes": 3, "workers": 3, "zones": ["a", "b", "c"] },
        "workloads": [ { "name": "web", "replicas": 6 } ],
        "faults": [],
        "expect": []
    })
}

/// `base()` with the values at the JSON pointers replaced (or added).
fn with(changes: &[(&str, Value)]) -> String {
    let mut v = base();
    for (pointer, value) in changes {
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        let target = v.pointer_mut(parent).expect("parent exists");
        match target {
            Value::Object(m) => {
                m.insert(key.to_string(), value.clone());
            }
            Value::Array(a) => {
                let i: usize = key.parse().expect("index");
                if i < a.len() {
                    a[i] = value.clone();
                } else {
                    a.push(value.clone());
                }
            }
            _ => panic!("bad pointer {pointer}"),
        }
    }
    serde_json::to_string_pretty(&v).expect("serializes")
}

fn ok(text: &str) -> Plan {
    match parse_scenario(text, "t.json") {
        Ok(s) => s,
        Err(e) => panic!("expected a valid scenario, got: {e}\n{text}"),
    }
}

fn err(text: &str) -> ScenarioError {
    match parse_scenario(text, "t.json") {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

fn fault(f: Value) -> String {
    with(&[("/faults/0", f)])
}

fn expect(e: Value) -> String {
    with(&[("/expect/0", e)])
}

#[test]
fn contract_example_parses_with_its_values() {
    let s = ok(CONTRACT_EXAMPLE);
    assert_eq!(s.name, "stacked-etcd-leader-crash");
    assert_eq!(s.seed, 7);
    assert_eq!(s.duration_ns, 600_000_000_000);
    assert_eq!(s.topology.control_plane_nodes, 3);
    assert_eq!(s.faults.len(), 1);
    assert_eq!(s.faults[0].for_ns, Some(120_000_000_000));
    assert_eq!(s.expect.len(), 2);
}

#[test]
fn minimal_scenario_gets_the_real_defaults() {
    let s = ok(
        r#"{"name": "m", "duration": "1m", "topology": {"etcd": "stacked", "control_plane_nodes": 3}}"#,
    );
    assert_eq!(s.settings.etcd.heartbeat_interval.ns(), 100_000_000);
    assert_eq!(
        s.settings.leader_election.lease_duration.ns(),
        15_000_000_000
    );
    assert_eq!(s.topology.zones, vec!["a".to_string()]);
    assert_eq!(s.topology.load_balancers, 1);
    assert_eq!(
        s.topology.endpoint,
        kube_ha_sim::scenario::plan::Endpoint::LoadBalancer
    );
}

#[test]
fn malformed_json_reports_line_and_column() {
    // Missing comma after "10m" on line 3; the parser notices at the next key on line 4.
    let text = "{\n  \"name\": \"x\",\n  \"duration\": \"10m\"\n  \"topology\": {}\n}";
    let e = err(text);
    assert_eq!(e.path, "");
    assert_eq!((e.line, e.column), (Some(4), Some(3)));
    assert!(e.message.contains("malformed JSON"), "{e}");
    assert!(
        e.to_string().starts_with("t.json:4:3: malformed JSON"),
        "{e}"
    );

    let e = err("{\"name\": \"x\",}");
    assert!(e.message.contains("trailing comma"), "{e}");
    assert_eq!(e.line, Some(1));

    let e = err("");
    assert!(e.message.contains("empty"), "{e}");

    let e = err("{\"name\": \"x\", \"duration\": ");
    assert!(e.message.contains("ends too early"), "{e}");
}

#[test]
fn unknown_field_is_named_with_suggestion_and_allowed_list() {
    let text = "{\n  \"name\": \"x\",\n  \"duration\": \"1m\",\n  \"topology\": {\"etcd\": \"stacked\", \"control_plane_nodes\": 3},\n  \"settings\": {\"etcd\": {\"electon_timeout\": \"2s\"}}\n}";
    let e = err(text);
    assert_eq!(e.path, "settings.etcd.electon_timeout");
    assert_eq!(e.line, Some(5));
    assert_eq!(e.column, Some(25), "points at the key");
    assert!(
        e.message.contains("did you mean `election_timeout`?"),
        "{e}"
    );
    assert!(
        e.message.contains("heartbeat_interval"),
        "lists the allowed fields: {e}"
    );

    // A swap of neighbouring letters counts as one edit.
    let e = err(&base().to_string().replace("\"name\"", "\"nmae\""));
    assert_eq!(e.path, "nmae");
    assert!(e.message.contains("did you mean `name`?"), "{e}");

    let e = err(&fault(
        json!({"at": "1m", "kind": "crash", "target": "cp-1", "fro": "1m"}),
    ));
    assert_eq!(e.path, "faults[0].fro");
    assert!(e.message.contains("did you mean `for`?"), "{e}");
}

#[test]
fn unitless_duration_reports_path_and_position() {
    let text = "{\"name\": \"x\", \"duration\": \"1m\",\n \"topology\": {\"etcd\": \"stacked\", \"control_plane_nodes\": 3},\n \"load\": {\"timeout\": 10}}";
    let e = err(text);
    assert_eq!(e.path, "load.timeout");
    assert_eq!((e.line, e.column), (Some(3), Some(22)));
    assert!(e.message.contains("no unit"), "{e}");
    assert!(e.message.contains("\"10s\""), "shows how to write it: {e}");

    let e = err(&fault(json!({"at": 60, "kind": "crash", "target": "cp-1"})));
    assert_eq!(e.path, "faults[0].at");
    assert!(e.line.is_some());

    let e = err(&with(&[("/duration", json!("10"))]));
    assert_eq!(e.path, "duration");
    assert!(e.message.contains("no unit"), "{e}");
}

#[test]
fn wrong_enum_values_list_the_allowed_ones() {
    let e = err(&with(&[("/topology/etcd", json!("stacked-ish"))]));
    assert_eq!(e.path, "topology.etcd");
    assert!(e.message.contains("stacked, external"), "{e}");
    assert!(e.line.is_some());

    let e = err(&fault(
        json!({"at": "1m", "kind": "explode", "target": "cp-1"}),
    ));
    assert_eq!(e.path, "faults[0].kind");
    assert!(e.message.contains("unknown fault kind `explode`"), "{e}");
    assert!(e.message.contains("degrade-link"), "{e}");
    assert!(e.message.contains("stop"), "{e}");

    // A non-string where an enum goes is a type error, not "malformed JSON".
    let e = err(&fault(json!({"at": "1m", "kind": 5, "target": "cp-1"})));
    assert_eq!(e.path, "faults[0].kind");
    assert!(e.message.contains("crash, stop, restart"), "{e}");
    assert!(!e.message.contains("malformed"), "{e}");

    let e = err(&with(&[("/topology/workers", json!(-1))]));
    assert_eq!(e.path, "topology.workers");
    assert!(e.message.contains("whole number"), "{e}");
}

#[test]
fn missing_required_fields_are_named() {
    let e = err(r#"{"name": "x", "duration": "1m"}"#);
    assert_eq!(e.path, "topology");
    assert!(e.message.contains("missing"), "{e}");
    let e = err(&fault(json!({"kind": "crash", "target": "cp-1"})));
    assert_eq!(e.path, "faults[0].at");
}

#[test]
fn lists_where_objects_belong_are_rejected() {
    let e = err(&with(&[("/topology", json!(["stacked", 3]))]));
    assert_eq!(e.path, "topology");
    assert!(e.message.contains("object"), "{e}");
    let e = err("[1, 2]");
    assert_eq!(e.path, "");
    assert!(e.message.contains("object"), "{e}");
}

#[test]
fn unknown_fault_target_points_at_the_value() {
    let text = "{\"name\": \"x\", \"duration\": \"10m\",\n\"topology\": {\"etcd\": \"stacked\", \"control_plane_nodes\": 3},\n\"faults\": [\n  {\"at\": \"1m\", \"kind\": \"crash\", \"target\": \"cp-1\"},\n  {\"at\": \"2m\", \"kind\": \"crash\", \"target\": \"cp-9\"}\n]}";
    let e = err(text);
    assert_eq!(e.path, "faults[1].target");
    assert_eq!((e.line, e.column), (Some(5), Some(43)));
    assert!(e.message.contains("unknown target `cp-9`"), "{e}");
    assert!(
        e.message.contains("cp-1, cp-2, cp-3"),
        "lists the known nodes: {e}"
    );
    assert!(
        e.to_string()
            .starts_with("t.json:5:43: field `faults[1].target`: "),
        "{e}"
    );

    let e = err(&fault(
        json!({"at": "1m", "kind": "crash", "target": "leader:etc"}),
    ));
    assert!(e.message.contains("did you mean `leader:etcd`?"), "{e}");

    let e = err(&fault(
        json!({"at": "1m", "kind": "crash", "target": "cp-1/kube-apiservr"}),
    ));
    assert!(e.message.contains("did you mean `kube-apiserver`?"), "{e}");

    let e = err(&fault(
        json!({"at": "1m", "kind": "crash", "target": "zone:d"}),
    ));
    assert!(e.message.contains("zone:a"), "{e}");

    // Processes, zones and selectors that exist are accepted.
    for t in [
        "cp-2",
        "cp-2/kube-apiserver",
        "zone:b",
        "leader:etcd",
        "leader:kube-scheduler",
        "lb-1",
    ] {
        for kind in ["crash", "stop", "restart"] {
            ok(&fault(json!({"at": "1m", "kind": kind, "target": t})));
        }
    }
}

#[test]
fn selectors_need_something_to_select() {
    let e = err(&fault(
        json!({"at": "1m", "kind": "crash", "target": "vip-holder"}),
    ));
    assert!(e.message.contains("2 or more load balancers"), "{e}");
    ok(&with(&[
        ("/topology/load_balancers", json!(2)),
        (
            "/faults/0",
            json!({"at": "1m", "kind": "crash", "target": "vip-holder"}),
        ),
    ]));

    let e = err(&with(&[
        ("/topology/etcd", json!("external")),
        ("/topology/control_plane_nodes", json!(0)),
        ("/topology/etcd_nodes", json!(3)),
        (
            "/faults/0",
            json!({"at": "1m", "kind": "crash", "target": "leader:kube-scheduler"}),
        ),
    ]));
    assert_eq!(e.path, "faults[0].target");
    assert!(e.message.contains("no control-plane nodes"), "{e}");

    let e = err(&with(&[
        ("/topology/control_plane_nodes", json!(1)),
        (
            "/faults/0",
            json!({"at": "1m", "kind": "crash", "target": "follower:etcd"}),
        ),
    ]));
    assert!(e.message.contains("at least 2 etcd members"), "{e}");
}

#[test]
fn stacked_with_etcd_nodes_is_rejected() {
    let e = err(&with(&[("/topology/etcd_nodes", json!(3))]));
    assert_eq!(e.path, "topology.etcd_nodes");
    assert!(e.message.contains("only for external etcd"), "{e}");
    assert!(e.line.is_some());
    ok(&with(&[("/topology/etcd_nodes", json!(0))]));
}

#[test]
fn even_and_zero_sized_clusters_are_allowed() {
    for n in [0, 1, 2, 4, 6] {
        let s = ok(&with(&[
            ("/topology/etcd", json!("external")),
            ("/topology/etcd_nodes", json!(n)),
        ]));
        assert_eq!(s.topology.etcd_nodes, n);
    }
    ok(&with(&[("/topology/control_plane_nodes", json!(4))]));
    ok(&with(&[
        ("/topology/control_plane_nodes", json!(0)),
        ("/topology/endpoint", json!("load-balancer")),
    ]));
}

#[test]
fn topology_sizes_and_zones_are_bounded() {
    let e = err(&with(&[("/topology/control_plane_nodes", json!(51))]));
    assert_eq!(e.path, "topology.control_plane_nodes");
    assert!(e.message.contains("50"), "{e}");
    ok(&with(&[("/topology/control_plane_nodes", json!(50))]));

    let e = err(&with(&[
        ("/topology/etcd", json!("external")),
        ("/topology/etcd_nodes", json!(10)),
    ]));
    assert_eq!(e.path, "topology.etcd_nodes");
    assert_eq!(
        err(&with(&[("/topology/workers", json!(5001))])).path,
        "topology.workers"
    );
    assert_eq!(
        err(&with(&[("/topology/load_balancers", json!(17))])).path,
        "topology.load_balancers"
    );

    assert_eq!(
        err(&with(&[("/topology/zones", json!([]))])).path,
        "topology.zones"
    );
    let e = err(&with(&[("/topology/zones", json!(["a", "b", "a"]))]));
    assert_eq!(e.path, "topology.zones[2]");
    assert!(e.message.contains("twice"), "{e}");
    assert_eq!(
        err(&with(&[("/topology/zones", json!(["a", ""]))])).path,
        "topology.zones[1]"
    );
}

#[test]
fn endpoint_must_name_a_control_plane_node_or_the_load_balancers() {
    ok(&with(&[("/topology/endpoint", json!("direct:cp-2"))]));
    let e = err(&with(&[("/topology/endpoint", json!("direct:cp-9"))]));
    assert_eq!(e.path, "topology.endpoint");
    assert!(e.message.contains("cp-1, cp-2, cp-3"), "{e}");
    let e = err(&with(&[("/topology/endpoint", json!("direct:worker-1"))]));
    assert_eq!(e.path, "topology.endpoint");
    let e = err(&with(&[("/topology/endpoint", json!("vip"))]));
    assert!(e.message.contains("load-balancer"), "{e}");
    let e = err(&with(&[("/topology/load_balancers", json!(0))]));
    assert_eq!(e.path, "topology.load_balancers");
    ok(&with(&[
        ("/topology/load_balancers", json!(0)),
        ("/topology/endpoint", json!("direct:cp-1")),
    ]));
}

/// kubeadm's static-pod option puts HAProxy and keepalived on every control-plane node, so with that
/// placement the count is the node count: omitted, or given equal to it; anything else is refused at
/// `topology.load_balancers`, as is the placement without the load-balancer endpoint or without nodes.
#[test]
fn load_balancers_on_the_control_plane_are_one_per_node() {
    let cp = |extra: &[(&str, Value)]| {
        let mut changes = vec![("/topology/load_balancer_placement", json!("control-plane"))];
        changes.extend(extra.iter().cloned());
        with(&changes)
    };
    let plan = ok(&cp(&[]));
    assert_eq!(plan.topology.load_balancers, 3);
    let names: Vec<&str> = plan.layout.procs.iter().map(|p| p.name.as_str()).collect();
    for n in 1..=3 {
        assert!(
            names.contains(&format!("cp-{n}/haproxy").as_str()),
            "{names:?}"
        );
        assert!(
            names.contains(&format!("cp-{n}/keepalived").as_str()),
            "{names:?}"
        );
    }
    assert!(plan.layout.node_index("lb-1").is_none());
    ok(&cp(&[("/topology/load_balancers", json!(3))]));
    // A single control-plane node gets HAProxy only: there is no VIP to move.
    let one = ok(&cp(&[("/topology/control_plane_nodes", json!(1))]));
    assert!(one.layout.proc_index("cp-1/haproxy").is_some());
    assert!(one.layout.proc_index("cp-1/keepalived").is_none());

    for wrong in [0, 1, 2, 4] {
        let e = err(&cp(&[("/topology/load_balancers", json!(wrong))]));
        assert_eq!(e.path, "topology.load_balancers", "{e}");
        assert!(
            e.message
                .contains("must be the number of control-plane nodes, 3")
                && e.message.contains(&format!("(got {wrong})")),
            "{e}"
        );
        assert!(e.to_string().starts_with("t.json:"), "{e}");
    }
    let e = err(&cp(&[("/topology/endpoint", json!("direct:cp-1"))]));
    assert_eq!(e.path, "topology.load_balancer_placement");
    let e = err(&cp(&[("/topology/control_plane_nodes", json!(0))]));
    assert_eq!(e.path, "topology.load_balancer_placement");
    let e = err(&with(&[("/topology/load_balancer_placement", json!("cp"))]));
    assert_eq!(e.path, "topology.load_balancer_placement");
    assert!(e.message.contains("separate, control-plane"), "{e}");
    // The separate default is unchanged: one lb-1 node, and no load balancer on the control plane.
    let plan = ok(&base().to_string());
    assert!(plan.layout.node_index("lb-1").is_some());
    assert!(plan.layout.proc_index("cp-1/haproxy").is_none());
}

#[test]
fn name_and_absurd_durations_are_rejected() {
    assert_eq!(err(&with(&[("/name", json!(" "))])).path, "name");
    let e = err(&with(&[("/duration", json!("876601h"))]));
    assert_eq!(e.path, "duration");
    assert!(e.message.contains("100 years"), "{e}");
    assert_eq!(err(&with(&[("/duration", json!("0s"))])).path, "duration");
    ok(&with(&[("/duration", json!("169h"))]));
}

#[test]
fn a_long_run_is_judged_by_its_cost_not_its_length() {
    // Years of an idle cluster are affordable (issue 12, item 2)...
    let run = |d: &str, load: Value, settings: Value| {
        with(&[
            ("/duration", json!(d)),
            ("/load", load),
            ("/settings", settings),
            ("/workloads", json!([])),
            ("/faults", json!([])),
            ("/expect", json!([])),
        ])
    };
    let idle = json!({"requests_per_second": 0.001});
    ok(&run("8766h", idle.clone(), json!({})));
    // ...a century is not: the error names the setting that drives the cost.
    let e = err(&run("876600h", idle, json!({})));
    assert_eq!(e.path, "duration");
    assert!(e.message.contains("billion events"), "{e}");
    // With load, the load drives it.
    let e = err(&run(
        "8766h",
        json!({"requests_per_second": 100}),
        json!({}),
    ));
    assert_eq!(e.path, "load.requests_per_second");
    assert!(e.message.contains("billion events"), "{e}");
    // A log that compaction cannot bound names its setting.
    let writes = json!({"requests_per_second": 200, "write_ratio": 1});
    let unbounded = json!({"etcd": {"snapshot_count": 1_000_000_000u64}});
    let e = err(&run("48h", writes.clone(), unbounded));
    assert_eq!(e.path, "settings.etcd.snapshot_count");
    ok(&run("48h", writes, json!({})));
}

#[test]
fn a_run_that_outgrows_its_estimate_stops_with_a_clear_error() {
    let e = kube_ha_sim::world::RunError::TooManyEvents {
        limit: kube_ha_sim::engine::RUN_EVENT_CEILING,
        at_ns: 3_600_000_000_000,
        drivers: "duration = 8766h".into(),
    };
    let text = e.to_string();
    assert!(
        text.contains("the most one run may take") && text.contains("duration = 8766h"),
        "{text}"
    );
}

#[test]
fn leader_election_follows_client_go_validation() {
    let le = |v: Value| with(&[("/settings", json!({ "leader_election": v }))]);
    let e = err(&le(json!({"lease_duration": "10s"})));
    assert_eq!(e.path, "settings.leader_election.lease_duration");
    assert!(e.message.contains("greater than renew_deadline"), "{e}");
    // renew_deadline must exceed 1.2 x retry_period: 2.4s is not enough with 2s, 2.5s is.
    let e = err(&le(json!({"renew_deadline": "2.4s"})));
    assert_eq!(e.path, "settings.leader_election.renew_deadline");
    assert!(e.message.contains("1.2 x retry_period"), "{e}");
    ok(&le(json!({"renew_deadline": "2.5s"})));
    assert_eq!(
        err(&le(json!({"retry_period": "0s"}))).path,
        "settings.leader_election.retry_period"
    );
    let e = err(&le(json!({"api_endpoint": "vip"})));
    assert!(e.message.contains("local, load-balancer"), "{e}");
}

#[test]
fn etcd_timing_follows_etcd_checks() {
    let etcd = |v: Value| with(&[("/settings", json!({ "etcd": v }))]);
    // election_timeout (default 1s) must be at least 5 x heartbeat_interval.
    let e = err(&etcd(json!({"heartbeat_interval": "300ms"})));
    assert_eq!(
        e.path, "settings.etcd.heartbeat_interval",
        "the field the user wrote"
    );
    assert!(e.message.contains("5 x heartbeat_interval"), "{e}");
    ok(&etcd(json!({"heartbeat_interval": "200ms"})));
    assert_eq!(
        err(&etcd(json!({"heartbeat_interval": "0s"}))).path,
        "settings.etcd.heartbeat_interval"
    );
    let e = err(&etcd(json!({"election_timeout": "51s"})));
    assert_eq!(e.path, "settings.etcd.election_timeout");
    assert!(e.message.contains("50s"), "{e}");
}

#[test]
fn component_settings_ranges() {
    let set = |section: &str, v: Value| with(&[("/settings", json!({ section: v }))]);
    let cases = [
        set("load_balancer", json!({"fall": 0})),
        set("load_balancer", json!({"rise": 0})),
        set("load_balancer", json!({"check_interval": "0s"})),
        set("load_balancer", json!({"vrrp_advert_interval": "0s"})),
        set("load_balancer", json!({"vrrp_priorities": [101, 255]})),
        set("network", json!({"jitter": 1.5})),
        set("network", json!({"loss": 1.0})),
        set("node_lifecycle", json!({"node_eviction_rate": -0.1})),
        set("node_lifecycle", json!({"unhealthy_zone_threshold": 0.0})),
        set("kubelet", json!({"max_pods": 0})),
        set("kubelet", json!({"node_lease_duration": "0s"})),
        set("kubelet", json!({"liveness_period": "0s"})),
        set("kubelet", json!({"liveness_failure_threshold": 0})),
        set("kube_apiserver", json!({"request_timeout": "0s"})),
    ];
    let paths = [
        "settings.load_balancer.fall",
        "settings.load_balancer.rise",
        "settings.load_balancer.check_interval",
        "settings.load_balancer.vrrp_advert_interval",
        "settings.load_balancer.vrrp_priorities[1]",
        "settings.network.jitter",
        "settings.network.loss",
        "settings.node_lifecycle.node_eviction_rate",
        "settings.node_lifecycle.unhealthy_zone_threshold",
        "settings.kubelet.max_pods",
        "settings.kubelet.node_lease_duration",
        "settings.kubelet.liveness_period",
        "settings.kubelet.liveness_failure_threshold",
        "settings.kube_apiserver.request_timeout",
    ];
    for (text, path) in cases.iter().zip(paths) {
        let e = err(text);
        assert_eq!(e.path, path, "{e}");
        assert!(e.line.is_some(), "{e}");
    }
    ok(&set("network", json!({"jitter": 1.0, "loss": 0.5})));
    ok(&set(
        "node_lifecycle",
        json!({"unhealthy_zone_threshold": 1.0, "node_eviction_rate": 0.0}),
    ));
}

#[test]
fn load_ranges() {
    let e = err(&with(&[("/load", json!({"requests_per_second": -1}))]));
    assert_eq!(e.path, "load.requests_per_second");
    // 0 is no load (issue 12, item 3).
    ok(&with(&[("/load", json!({"requests_per_second": 0}))]));
    assert_eq!(
        err(&with(&[("/load", json!({"requests_per_second": 100001}))])).path,
        "load.requests_per_second"
    );
    // The highest rate is valid for a run short enough to stay under the engine's event bound.
    ok(&with(&[
        ("/load", json!({"requests_per_second": 100000})),
        ("/duration", json!("10s")),
    ]));
    assert_eq!(
        err(&with(&[("/load", json!({"write_ratio": 1.1}))])).path,
        "load.write_ratio"
    );
    assert_eq!(
        err(&with(&[("/load", json!({"timeout": "0s"}))])).path,
        "load.timeout"
    );
}

#[test]
fn workloads_are_named_uniquely_and_bounded() {
    let e = err(&with(&[(
        "/workloads/1",
        json!({"name": "web", "replicas": 1}),
    )]));
    assert_eq!(e.path, "workloads[1].name");
    assert!(e.message.contains("twice"), "{e}");
    assert_eq!(
        err(&with(&[(
            "/workloads/0",
            json!({"name": "", "replicas": 1})
        )]))
        .path,
        "workloads[0].name"
    );
    let e = err(&with(&[(
        "/workloads/0",
        json!({"name": "w", "replicas": 100001}),
    )]));
    assert_eq!(e.path, "workloads[0].replicas");
}

#[test]
fn fault_timing() {
    let e = err(&fault(
        json!({"at": "11m", "kind": "crash", "target": "cp-1"}),
    ));
    assert_eq!(e.path, "faults[0].at");
    assert!(e.message.contains("after the end"), "{e}");
    ok(&fault(
        json!({"at": "10m", "kind": "crash", "target": "cp-1"}),
    ));
    let e = err(&fault(
        json!({"at": "1m", "kind": "crash", "target": "cp-1", "for": "0s"}),
    ));
    assert_eq!(e.path, "faults[0].for");
}

#[test]
fn partition_groups() {
    let e = err(&fault(
        json!({"at": "1m", "kind": "partition", "groups": [["zone:a"], ["cp-1", "zone:b"]]}),
    ));
    assert_eq!(e.path, "faults[0].groups[1][0]");
    assert!(e.message.contains("`cp-1` is in two groups"), "{e}");
    assert!(e.line.is_some());

    let e = err(&fault(
        json!({"at": "1m", "kind": "partition", "groups": [["cp-1", "cp-2", "cp-3"]]}),
    ));
    assert_eq!(e.path, "faults[0].groups");
    assert!(e.message.contains("at least 2 groups"), "{e}");

    let e = err(&fault(
        json!({"at": "1m", "kind": "partition", "groups": [["cp-1"], []]}),
    ));
    assert_eq!(e.path, "faults[0].groups[1]");

    let e = err(&fault(
        json!({"at": "1m", "kind": "partition", "groups": [["cp-1/etcd"], ["cp-2"]]}),
    ));
    assert!(e.message.contains("use its node `cp-1`"), "{e}");

    let e = err(&fault(json!({"at": "1m", "kind": "partition"})));
    assert_eq!(e.path, "faults[0].groups");

    ok(&fault(
        json!({"at": "1m", "kind": "partition", "groups": [["zone:a"], ["zone:b", "zone:c"]], "for": "1m"}),
    ));
    ok(&fault(
        json!({"at": "1m", "kind": "partition", "groups": [["cp-1", "worker-1"], ["cp-2"], ["zone:c"]]}),
    ));
}

#[test]
fn fields_must_belong_to_the_fault_kind() {
    let e = err(&fault(
        json!({"at": "1m", "kind": "crash", "target": "cp-1", "groups": [["cp-1"], ["cp-2"]]}),
    ));
    assert_eq!(e.path, "faults[0].groups");
    assert!(
        e.message
            .contains("does not belong to a fault of kind crash"),
        "{e}"
    );
    assert!(
        e.message.contains("target, for"),
        "names what crash takes: {e}"
    );

    // A kind without fields of its own takes `at` and `kind` alone, listed without a dangling comma.
    let e = err(&fault(
        json!({"at": "1m", "kind": "alarm-disarm", "target": "cp-1"}),
    ));
    assert_eq!(e.path, "faults[0].target");
    assert!(e.message.ends_with("alarm-disarm takes: at, kind"), "{e}");
    ok(&fault(json!({"at": "1m", "kind": "alarm-disarm"})));

    let e = err(&fault(
        json!({"at": "1m", "kind": "partition", "target": "cp-1", "groups": [["cp-1"], ["cp-2"]]}),
    ));
    assert_eq!(e.path, "faults[0].target");

    let e = err(&fault(
        json!({"at": "1m", "kind": "isolate", "target": "cp-1", "latency": "1s"}),
    ));
    assert_eq!(e.path, "faults[0].latency");

    let e = err(&fault(json!({"at": "1m", "kind": "crash"})));
    assert_eq!(e.path, "faults[0].target");
    assert!(e.message.contains("needs `target`"), "{e}");
}

#[test]
fn isolate_slow_disk_and_wipe_data_targets() {
    let e = err(&fault(
        json!({"at": "1m", "kind": "isolate", "target": "zone:a"}),
    ));
    assert!(e.message.contains("partition"), "{e}");
    ok(&fault(
        json!({"at": "1m", "kind": "isolate", "target": "leader:etcd"}),
    ));
    ok(&fault(
        json!({"at": "1m", "kind": "isolate", "target": "cp-3/kube-scheduler"}),
    ));

    let e = err(&fault(
        json!({"at": "1m", "kind": "slow-disk", "target": "cp-1"}),
    ));
    assert_eq!(e.path, "faults[0].fsync_latency");
    ok(&fault(
        json!({"at": "1m", "kind": "slow-disk", "target": "cp-1", "fsync_latency": "500ms"}),
    ));
    let e = err(&fault(
        json!({"at": "1m", "kind": "slow-disk", "target": "worker-1", "fsync_latency": "500ms"}),
    ));
    assert!(e.message.contains("does not host an etcd member"), "{e}");

    ok(&fault(
        json!({"at": "1m", "kind": "wipe-data", "target": "follower:etcd"}),
    ));
    ok(&fault(
        json!({"at": "1m", "kind": "wipe-data", "target": "cp-2/etcd"}),
    ));
    let e = err(&fault(
        json!({"at": "1m", "kind": "wipe-data", "target": "leader:kube-scheduler"}),
    ));
    assert_eq!(e.path, "faults[0].target");
    // With external etcd the control-plane nodes host no member.
    let external = |t: &str| {
        with(&[
            ("/topology/etcd", json!("external")),
            ("/topology/etcd_nodes", json!(3)),
            (
                "/faults/0",
                json!({"at": "1m", "kind": "wipe-data", "target": t}),
            ),
        ])
    };
    let e = err(&external("cp-1"));
    assert!(e.message.contains("etcd-1"), "{e}");
    let e = err(&external("cp-1/etcd"));
    assert!(e.message.contains("runs no etcd"), "{e}");
    ok(&external("etcd-2"));
}

#[test]
fn degrade_link_ends_and_values() {
    let e = err(&fault(
        json!({"at": "1m", "kind": "degrade-link", "between": ["cp-1", "cp-2", "cp-3"], "latency": "50ms"}),
    ));
    assert_eq!(e.path, "faults[0].between");
    assert!(e.message.contains("exactly 2"), "{e}");
    let e = err(&fault(
        json!({"at": "1m", "kind": "degrade-link", "between": ["zone:a", "zone:b"]}),
    ));
    assert!(e.message.contains("latency"), "{e}");
    let e = err(&fault(
        json!({"at": "1m", "kind": "degrade-link", "between": ["zone:a", "zone:b"], "loss": 1.5}),
    ));
    assert_eq!(e.path, "faults[0].loss");
    // The same end twice degrades the links inside it (the network applies it that way).
    ok(&fault(
        json!({"at": "1m", "kind": "degrade-link", "between": ["cp-3", "cp-3"], "loss": 0.5}),
    ));
    let e = err(&fault(
        json!({"at": "1m", "kind": "degrade-link", "between": ["zone:a", "leader:etcd"], "loss": 0.5}),
    ));
    assert_eq!(e.path, "faults[0].between[1]");
    ok(&fault(
        json!({"at": "1m", "kind": "degrade-link", "between": ["zone:a", "cp-2"], "latency": "100ms", "loss": 0.1}),
    ));
}

#[test]
fn expectation_metrics_and_bounds() {
    let e = err(&expect(
        json!({"metric": "api.availabilty", "at_least": 0.9}),
    ));
    assert_eq!(e.path, "expect[0].metric");
    assert!(
        e.message.contains("did you mean `api.availability`?"),
        "{e}"
    );
    assert!(e.line.is_some());

    let e = err(&expect(
        json!({"metric": "api.availability", "at_least": 0.9, "at_most": 1.0}),
    ));
    assert_eq!(e.path, "expect[0].at_most");
    let e = err(&expect(json!({"metric": "api.availability"})));
    assert_eq!(e.path, "expect[0]");
    assert!(e.message.contains("exactly one"), "{e}");

    ok(&expect(
        json!({"metric": "workload.web.ready_ratio", "equals": 1}),
    ));
    let e = err(&expect(
        json!({"metric": "workload.wbe.ready_ratio", "equals": 1}),
    ));
    assert!(e.message.contains("did you mean `web`?"), "{e}");

    let e = err(&with(&[
        ("/workloads", json!([])),
        (
            "/expect/0",
            json!({"metric": "workloads.availability", "at_least": 0.9}),
        ),
    ]));
    assert!(e.message.contains("no workloads"), "{e}");
    ok(&expect(json!({"metric": "warmup_s", "at_most": 30})));
}

#[test]
fn known_metrics_cover_the_contract() {
    let s = ok(CONTRACT_EXAMPLE);
    let m = known_metrics(&s.workloads);
    for name in [
        "api.availability",
        "etcd_quorum.downtime_s",
        "scheduling.longest_outage_s",
        "reconciliation.outages",
        "workloads.availability",
        "api.latency_p99_ms",
        "controller_manager.leader_changes",
        "data.acknowledged_writes_lost",
        "invariants.violations",
        "warmup_s",
        "workload.web.ready_ratio",
        "workload.web.reachable_ratio",
        "workloads.reachable_ratio",
    ] {
        assert!(m.iter().any(|x| x == name), "missing {name}");
    }
    // Five per-capability metrics (with recovery_s) for five capabilities, 24 others (with
    // leader_election.past_lease_actions, workloads.reachable_ratio, etcd.utilization,
    // api.relists, api.relists_peak_per_s, api.readonly_latency_p99_ms), 2 per workload, 2 per
    // priority level but exempt, and 3 per alert rule (firings, firing_s, detect_s).
    let alerts = kube_ha_sim::observe::alerts::Alert::ALL.len();
    assert_eq!(m.len(), 5 * 5 + 24 + 2 + 2 * 7 + 3 * alerts);
    assert!(m.iter().any(|x| x == "api.readonly_latency_p99_ms"));
    assert!(m.iter().any(|x| x == "alert.etcdNoLeader.detect_s"));
    assert!(m.iter().any(|x| x == "etcd_quorum.recovery_s"));
}

#[test]
fn display_format_and_unreadable_file() {
    let e = ScenarioError {
        file: "a.json".into(),
        path: "faults[2].target".into(),
        line: Some(3),
        column: Some(7),
        message: "bad".into(),
        source_line: None,
    };
    assert_eq!(e.to_string(), "a.json:3:7: field `faults[2].target`: bad");
    let e = ScenarioError {
        line: None,
        column: None,
        path: String::new(),
        ..e
    };
    assert_eq!(e.to_string(), "a.json: bad");

    let missing = std::path::Path::new("/nonexistent/dir/scenario.json");
    let e = load_scenario(missing).expect_err("no such file");
    assert_eq!(e.file, "/nonexistent/dir/scenario.json");
    assert!(
        e.to_string().contains("/nonexistent/dir/scenario.json"),
        "{e}"
    );

    let dir = std::env::temp_dir().join(format!("kube-ha-sim-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("ok.json");
    std::fs::write(&file, CONTRACT_EXAMPLE).expect("write");
    assert_eq!(load_scenario(&file).expect("loads").seed, 7);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn no_input_panics() {
    // Every prefix of a valid file, and single-character corruptions of it, give Ok or an error.
    let text = CONTRACT_EXAMPLE;
    for (i, _) in text.char_indices() {
        let _ = parse_scenario(&text[..i], "p.json");
    }
    for (i, _) in text.char_indices().step_by(3) {
        for c in ['"', '{', '}', '[', ']', ',', ':', '0', 'x', '\\', 'é'] {
            let mut t = String::with_capacity(text.len() + 2);
            t.push_str(&text[..i]);
            t.push(c);
            t.push_str(&text[i..]);
            let _ = parse_scenario(&t, "p.json");
        }
    }
    let deep = format!(
        "{{\"name\": 5, \"x\": {}{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert!(parse_scenario(&deep, "p.json").is_err());
}

/// The help must list every settings field with its default as the model has it.
#[test]
fn help_lists_every_field_with_its_default() {
    let sections: [(&str, Value); 8] = [
        (
            "[settings.etcd]",
            serde_json::to_value(EtcdSettings::default()).unwrap(),
        ),
        (
            "[settings.kube_apiserver]",
            serde_json::to_value(ApiServerSettings::default()).unwrap(),
        ),
        (
            "[settings.leader_election]",
            serde_json::to_value(LeaderElectionSettings::default()).unwrap(),
        ),
        (
            "[settings.load_balancer]",
            serde_json::to_value(LoadBalancerSettings::default()).unwrap(),
        ),
        (
            "[settings.kubelet]",
            serde_json::to_value(KubeletSettings::default()).unwrap(),
        ),
        (
            "[settings.node_lifecycle]",
            serde_json::to_value(NodeLifecycleSettings::default()).unwrap(),
        ),
        (
            "[settings.network]",
            serde_json::to_value(NetworkSettings::default()).unwrap(),
        ),
        ("[load]", serde_json::to_value(Load::default()).unwrap()),
    ];
    let help = scenario_help();
    let lines: Vec<&str> = help.lines().collect();
    for (header, defaults) in sections {
        let start = lines
            .iter()
            .position(|l| l.starts_with(header))
            .unwrap_or_else(|| panic!("no section {header}"));
        let body: Vec<&str> = lines[start + 1..]
            .iter()
            .take_while(|l| !l.starts_with('['))
            .copied()
            .collect();
        let Value::Object(fields) = defaults else {
            panic!("{header} is not an object")
        };
        for (field, value) in fields {
            let at = body
                .iter()
                .position(|l| l.split_whitespace().next() == Some(field.as_str()))
                .unwrap_or_else(|| panic!("{header} does not list `{field}`"));
            // A name too long for the column stands alone; its default starts the next line.
            let line = if body[at].split_whitespace().count() == 1 {
                body.get(at + 1).copied().unwrap_or_default()
            } else {
                body[at]
            };
            let shown = match &value {
                Value::Null => "unset".to_string(),
                Value::Number(n) => match n.as_f64() {
                    Some(f) => format!("{f}"),
                    None => n.to_string(),
                },
                other => other.to_string(),
            };
            let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            assert!(
                squeezed.contains(&shown),
                "{header} `{field}`: default {shown} not on its line: {line}"
            );
        }
    }
    for field in [
        "control_plane_nodes",
        "etcd_nodes",
        "load_balancers",
        "load_balancer_placement",
        "control-plane",
        "endpoint",
        "replicas",
        "spread",
        "on_control_plane",
        "fsync_latency",
        "between",
        "groups",
        "at_least",
        "at_most",
        "equals",
        "vip-holder",
        "follower:etcd",
        "wipe-data",
        "degrade-link",
    ] {
        assert!(
            scenario_help().contains(field),
            "help does not mention {field}"
        );
    }
}

#[test]
fn load_balancer_check_path_is_one_of_the_api_servers_health_endpoints() {
    // `/metrics` once ran silently as `/healthz`; it is now refused, naming what is allowed.
    let e = err(&with(&[(
        "/settings",
        json!({ "load_balancer": { "check_path": "/metrics" } }),
    )]));
    assert_eq!(e.path, "settings.load_balancer.check_path");
    assert!(
        e.message.contains("/healthz, /readyz, /livez"),
        "{}",
        e.message
    );
    for path in ["/healthz", "/readyz", "/livez"] {
        let s = ok(&with(&[(
            "/settings",
            json!({ "load_balancer": { "check_path": path } }),
        )]));
        assert_eq!(
            serde_json::to_value(s.settings.load_balancer.check_path).unwrap(),
            json!(path)
        );
    }
}

#[test]
fn errors_show_the_offending_line_with_a_caret_under_the_value() {
    let text = "{\n  \"name\": \"t\",\n  \"duration\": \"10m\",\n  \"topology\": {\"etcd\": \"stacked\", \"control_plane_nodes\": 3},\n  \"faults\": [{\"at\": \"1m\", \"kind\": \"crash\", \"target\": \"cp-9\"}]\n}";
    let e = err(text);
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert!(lines[0].starts_with("t.json:5:"), "{shown}");
    let source = lines
        .iter()
        .position(|l| l.contains("\"target\": \"cp-9\""))
        .expect("the offending line is shown");
    let caret = lines[source + 1];
    let col = caret.find('^').expect("a caret line");
    assert_eq!(&lines[source][col..col + 6], "\"cp-9\"", "{shown}");
    assert_eq!(caret.matches('^').count(), 6, "{shown}");
}
