//! Load can be off (issue 12, item 3; CONTRACT.md "Scenario additions": `load.requests_per_second`
//! may be 0): no request is sent, and `api` is judged from the cluster's state along the endpoint
//! path — the load balancer (or VIP holder) answering the endpoint, a backend it marks UP, an API
//! server that serves and can write — and the report says so.

use crate::common::{metric, run_json};
use kube_ha_sim::report::json::report;

fn scenario(topology: &str, faults: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"8m","topology":{topology},
            "load":{{"requests_per_second":0}},"faults":[{faults}]}}"#
    )
}

const STACKED: &str = r#"{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}"#;

#[test]
fn without_load_the_api_is_judged_from_the_cluster_state() {
    let o = run_json(&scenario(STACKED, ""), 1);
    assert!(o.trace.requests.is_empty(), "no request is sent");
    assert_eq!(metric(&o, "api.availability"), 1.0);
    assert_eq!(metric(&o, "api.requests"), 0.0);
    assert_eq!(metric(&o, "api.failed_requests"), 0.0);
    // No request, no latency: the latency metrics are absent rather than a vacuous 0.
    assert!(!o.metrics.contains_key("api.latency_p99_ms"));
    let r = report(&o);
    assert_eq!(r["api_measured_by"], "cluster_state");
    let text = kube_ha_sim::report::text::summary(&o);
    assert!(
        text.contains("api: judged from the cluster's state"),
        "{text}"
    );

    // With load, as before: by requests.
    let loaded = run_json(
        &scenario(STACKED, "").replace(r#""requests_per_second":0"#, r#""requests_per_second":5"#),
        1,
    );
    assert_eq!(report(&loaded)["api_measured_by"], "requests");
    assert!(metric(&loaded, "api.requests") > 0.0);
}

#[test]
fn a_crash_of_every_api_server_is_api_downtime_without_load() {
    let all = r#"{"at":"3m","kind":"crash","target":"cp-1/kube-apiserver","for":"1m"},
                 {"at":"3m","kind":"crash","target":"cp-2/kube-apiserver","for":"1m"},
                 {"at":"3m","kind":"crash","target":"cp-3/kube-apiserver","for":"1m"}"#;
    let o = run_json(&scenario(STACKED, all), 2);
    let down = metric(&o, "api.downtime_s");
    // Down from the crash until a restarted API server is back behind HAProxy (rise 2 x inter 2 s).
    assert!((60.0..75.0).contains(&down), "api down {down} s");
    assert_eq!(metric(&o, "api.outages"), 1.0);
    assert_eq!(metric(&o, "api.requests"), 0.0);
    // One of three is not an outage: HAProxy still has backends that serve.
    let one = r#"{"at":"3m","kind":"crash","target":"cp-1/kube-apiserver","for":"1m"}"#;
    assert_eq!(
        metric(&run_json(&scenario(STACKED, one), 2), "api.downtime_s"),
        0.0
    );
}

#[test]
fn the_endpoint_path_decides_direct_and_vip() {
    // A kubeconfig pointed at cp-1: its node's death is an API outage for the whole of it.
    let direct = r#"{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"endpoint":"direct:cp-1"}"#;
    let o = run_json(
        &scenario(
            direct,
            r#"{"at":"3m","kind":"crash","target":"cp-1","for":"1m"}"#,
        ),
        1,
    );
    assert!(metric(&o, "api.downtime_s") >= 60.0);
    // A keepalived pair: the VIP holder's loss costs the failover (master-down ~3.6 s), not the
    // whole fault.
    let vip =
        r#"{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":2}"#;
    let o = run_json(
        &scenario(
            vip,
            r#"{"at":"3m","kind":"crash","target":"vip-holder","for":"1m"}"#,
        ),
        1,
    );
    let down = metric(&o, "api.downtime_s");
    assert!((2.0..6.0).contains(&down), "api down {down} s");
}

#[test]
fn zero_requests_per_second_is_valid_and_negative_is_not() {
    let ok = kube_ha_sim::scenario::parse_scenario(&scenario(STACKED, ""), "t.json");
    assert!(ok.is_ok());
    let bad =
        scenario(STACKED, "").replace(r#""requests_per_second":0"#, r#""requests_per_second":-1"#);
    let e = kube_ha_sim::scenario::parse_scenario(&bad, "t.json").unwrap_err();
    assert!(e.to_string().contains("0 (no load) to 100000"), "{e}");
}
