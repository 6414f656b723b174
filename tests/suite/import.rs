//! `kube-ha-sim import DIR` (issue 17, "Import what users already have"): a kubeadm HA stacked
//! cluster's files (`testdata/import/kubeadm-stacked/`), an external-etcd cluster's
//! (`kubeadm-external/`) and a keepalived VIP pair's (`keepalived-pair/`) become scenarios that
//! validate, run, and whose settings are the files' values; the written scenarios are golden files
//! (`testdata/import/NAME.golden.yaml`; `REWRITE=1 cargo test --test suite import::` regenerates
//! them, review the diff); files it cannot use are errors at `file:line:column` (the offending token's
//! column), exit 2.

use crate::common::run_bin;
use crate::datadriven::{diff, rewrite_requested};
use kube_ha_sim::engine::{MS, SEC};
use kube_ha_sim::scenario::load_scenario;
use kube_ha_sim::scenario::model::HealthPath;
use std::path::{Path, PathBuf};

const INPUT: &str = "testdata/import/kubeadm-stacked";
const GOLDEN: &str = "testdata/import/kubeadm-stacked.golden.yaml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("khs-import-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn imported_scenario_validates_runs_and_carries_the_files_settings() {
    let d = temp("ok");
    let out = d.join("cluster.yaml");
    let input = root().join(INPUT);
    let (code, _, err) = run_bin(
        None,
        &[
            "import",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote"), "{err}");
    let plan = load_scenario(&out).unwrap_or_else(|e| panic!("{e}"));
    let s = &plan.settings;
    // kubeadm-config.yaml's etcd.local.extraArgs (and the etcd manifest's flags, which agree).
    assert_eq!(s.etcd.heartbeat_interval.ns(), 250 * MS);
    assert_eq!(s.etcd.election_timeout.ns(), 2500 * MS);
    assert_eq!(s.etcd.snapshot_count, 10_000);
    assert_eq!(s.etcd.quota_backend_bytes, 8 << 30);
    // kube-apiserver: the manifest's --request-timeout and the config's --shutdown-delay-duration.
    assert_eq!(s.kube_apiserver.request_timeout.ns(), 60 * SEC);
    assert_eq!(s.kube_apiserver.shutdown_delay_duration.ns(), 15 * SEC);
    // Leader election of kube-controller-manager and kube-scheduler.
    assert_eq!(s.leader_election.lease_duration.ns(), 30 * SEC);
    assert_eq!(s.leader_election.renew_deadline.ns(), 20 * SEC);
    assert_eq!(s.leader_election.retry_period.ns(), 4 * SEC);
    assert_eq!(s.node_lifecycle.node_monitor_grace_period.ns(), 40 * SEC);
    // haproxy.cfg: http-check, default-server inter/fall/rise, retries, timeouts, redispatch.
    let lb = &s.load_balancer;
    assert_eq!(lb.check_path, HealthPath::Readyz);
    assert_eq!((lb.check_interval.ns(), lb.fall, lb.rise), (3 * SEC, 2, 3));
    assert_eq!(
        (lb.check_timeout.ns(), lb.connect_timeout.ns()),
        (10 * SEC, 5 * SEC)
    );
    assert_eq!((lb.retries, lb.redispatch), (1, true));
    // keepalived.conf: the MASTER's priority, its peer one below, advert_int and the check script.
    assert_eq!(lb.vrrp_priorities, vec![101, 100]);
    assert_eq!(lb.vrrp_advert_interval.ns(), SEC);
    assert_eq!(
        (
            lb.vrrp_script_interval.ns(),
            lb.vrrp_script_fall,
            lb.vrrp_script_rise,
            lb.vrrp_script_weight
        ),
        (3 * SEC, 10, 2, -2)
    );
    // Topology: stacked etcd, HAProxy's three servers, two keepalived load balancers behind the VIP.
    let t = plan.to_scenario().topology;
    assert_eq!(t.etcd, kube_ha_sim::scenario::model::EtcdTopology::Stacked);
    assert_eq!(t.control_plane_nodes, 3);
    assert_eq!(t.load_balancer_count(), 2);
    assert_eq!(t.endpoint, "load-balancer");
    // Every setting names its source.
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("# from haproxy.cfg:53 default-server inter 3s fall 2 rise 3"),
        "{text}"
    );
    assert!(
        text.contains("# - haproxy.cfg:26 timeout client 35s: not modelled"),
        "{text}"
    );
    // It runs, and import never overwrites without --force.
    let (code, _, err) = run_bin(Some(&d), &["run", "cluster.yaml", "--out", "out"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run_bin(
        None,
        &[
            "import",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("exists"), "{err}");
}

/// Every imported cluster of `testdata/import/` and its golden scenario: kubeadm's stacked HA guide; an
/// external etcd cluster (ClusterConfiguration `etcd.external.endpoints`, the API servers'
/// `--etcd-servers`); and a keepalived VIP pair, one keepalived.conf per load balancer with different
/// priorities, in front of HAProxy.
const GOLDENS: &[(&str, &str)] = &[
    (INPUT, GOLDEN),
    (
        "testdata/import/kubeadm-external",
        "testdata/import/kubeadm-external.golden.yaml",
    ),
    (
        "testdata/import/keepalived-pair",
        "testdata/import/keepalived-pair.golden.yaml",
    ),
];

#[test]
fn imported_scenarios_match_their_golden_files() {
    let mut failures = String::new();
    for (input, golden) in GOLDENS {
        let (code, out, err) = run_bin(Some(root()), &["import", input]);
        assert_eq!(code, 0, "{input}: {err}");
        let golden = root().join(golden);
        if rewrite_requested() {
            std::fs::write(&golden, &out).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if want != out {
            failures += &format!(
                "{} differs; REWRITE=1 cargo test --test suite import:: and review the diff\n{}\n",
                golden.display(),
                diff(&want, &out)
            );
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// Imports `testdata/import/NAME` and loads the scenario it writes.
fn import_and_load(name: &str) -> kube_ha_sim::scenario::Plan {
    let d = temp(name);
    let out = d.join("cluster.yaml");
    let input = root().join("testdata/import").join(name);
    let (code, _, err) = run_bin(
        None,
        &[
            "import",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    load_scenario(&out).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_external_etcd_cluster_imports_as_external_with_its_members() {
    let plan = import_and_load("kubeadm-external");
    let t = plan.to_scenario().topology;
    assert_eq!(t.etcd, kube_ha_sim::scenario::model::EtcdTopology::External);
    // etcd.external.endpoints lists five members (and the API server's --etcd-servers agrees).
    assert_eq!(t.etcd_nodes, 5);
    let s = &plan.settings;
    assert_eq!(s.kube_apiserver.request_timeout.ns(), 45 * SEC);
    assert_eq!(
        (
            s.leader_election.lease_duration.ns(),
            s.leader_election.renew_deadline.ns(),
            s.leader_election.retry_period.ns()
        ),
        (20 * SEC, 15 * SEC, 3 * SEC)
    );
    assert_eq!(s.node_lifecycle.node_monitor_grace_period.ns(), 50 * SEC);
}

#[test]
fn a_keepalived_pair_imports_as_two_load_balancers_with_their_priorities() {
    let plan = import_and_load("keepalived-pair");
    let t = plan.to_scenario().topology;
    assert_eq!(t.load_balancer_count(), 2);
    assert_eq!(t.control_plane_nodes, 3);
    let lb = &plan.settings.load_balancer;
    // The MASTER (priority 150) first: lb-1 starts holding the VIP; the BACKUP's 140 is its peer.
    assert_eq!(lb.vrrp_priorities, vec![150, 140]);
    assert_eq!(
        (
            lb.vrrp_script_interval.ns(),
            lb.vrrp_script_fall,
            lb.vrrp_script_rise,
            lb.vrrp_script_weight
        ),
        (2 * SEC, 3, 2, -20)
    );
    assert_eq!((lb.check_interval.ns(), lb.fall, lb.rise), (2 * SEC, 3, 2));
    assert_eq!(lb.check_path, HealthPath::Readyz);
}

/// What a file leaves out runs at the real component's default, not at kubeadm's example values
/// the scenario defaults to: a `vrrp_script` with only its `script` line is keepalived's interval
/// 1 s, fall 1, rise 1, weight 0 (FAULT while it fails), and an haproxy.cfg without `retries` or
/// `option redispatch` is HAProxy's retries 3 without redispatch.
#[test]
fn what_the_files_leave_out_is_the_real_components_default() {
    let d = temp("bare-defaults");
    let input = root().join("testdata/import/keepalived-pair");
    for f in ["keepalived-lb1.conf", "keepalived-lb2.conf", "haproxy.cfg"] {
        let text = std::fs::read_to_string(input.join(f)).unwrap();
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                let w = l.split_whitespace().next().unwrap_or("");
                !["interval", "weight", "fall", "rise", "retries", "option"].contains(&w)
                    || l.contains("httpchk")
            })
            .collect();
        std::fs::write(d.join(f), kept.join("\n")).unwrap();
    }
    let out = d.join("cluster.yaml");
    let (code, _, err) = run_bin(
        None,
        &[
            "import",
            d.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let plan = load_scenario(&out).unwrap_or_else(|e| panic!("{e}"));
    let lb = &plan.settings.load_balancer;
    assert_eq!(
        (
            lb.vrrp_script_interval.ns(),
            lb.vrrp_script_fall,
            lb.vrrp_script_rise,
            lb.vrrp_script_weight
        ),
        (SEC, 1, 1, 0)
    );
    assert_eq!((lb.retries, lb.redispatch), (3, false));
    // The server lines' `inter 2s fall 3 rise 2` are still read.
    assert_eq!((lb.check_interval.ns(), lb.fall, lb.rise), (2 * SEC, 3, 2));
}

/// A bad input: its case name, its files (name, text) and what stderr must contain.
type Bad = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
);

const BAD: &[Bad] = &[
    (
        "haproxy-time",
        &[("haproxy.cfg", "defaults\n  retries 1\nbackend api\n  default-server inter soon\n  server a 10.0.0.1:6443 check\n")],
        "haproxy.cfg:4:24: `default-server inter soon`: expected a time",
    ),
    (
        "haproxy-no-section",
        &[("haproxy.cfg", "# comment\n   retries 3\n")],
        "haproxy.cfg:2:4: `retries` before any section",
    ),
    (
        "kubeadm-unknown-kind",
        &[("kubeadm-config.yaml", "apiVersion: apps/v1\nkind: Deployment\n")],
        "kubeadm-config.yaml:2:7: kind `Deployment` is not a kubeadm configuration",
    ),
    (
        "kubeadm-bad-yaml",
        &[("kubeadm-config.yaml", "kind: ClusterConfiguration\netcd: [local\n")],
        "kubeadm-config.yaml:3:1: not valid YAML",
    ),
    (
        "kubeadm-bad-flag-value",
        &[("kubeadm-config.yaml", "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      heartbeat-interval: 100ms\n")],
        "kubeadm-config.yaml:5:27: etcd.local.extraArgs heartbeat-interval: 100ms: `100ms` is not a whole number",
    ),
    (
        "etcd-timing-the-model-refuses",
        &[("kubeadm-config.yaml", "kind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n      heartbeat-interval: \"500\"\n      election-timeout: \"1000\"\n")],
        "kubeadm-config.yaml:6:25: etcd.local.extraArgs election-timeout: 1000 (imported as `settings.etcd.election_timeout`): election_timeout (1s) must be at least 5 x heartbeat_interval (500ms)",
    ),
    (
        "keepalived-unclosed",
        &[("keepalived.conf", "vrrp_instance VI_1 {\n  priority 101\n")],
        "keepalived.conf:2:15: the file ends inside a block",
    ),
    (
        "manifest-not-a-pod",
        &[("manifests/etcd.yaml", "apiVersion: v1\nkind: Service\n")],
        "manifests/etcd.yaml:1:1: not a static pod manifest",
    ),
    (
        "haproxy-count-missing",
        &[("haproxy.cfg", "defaults\n\tretries\nbackend api\n  server a 10.0.0.1:6443 check\n")],
        "haproxy.cfg:2:10: `retries`: expected a whole number",
    ),
    (
        "keepalived-priority-not-a-number",
        &[("keepalived.conf", "vrrp_instance VI_1 {\n    state MASTER\n    priority  high\n}\n")],
        "keepalived.conf:3:15: `priority high`: expected a whole number",
    ),
    (
        "keepalived-stray-brace",
        &[("keepalived.conf", "global_defs {\n}\n  }\n")],
        "keepalived.conf:3:3: `}` without a matching `{`",
    ),
    (
        "keepalived-advert-the-model-refuses",
        &[("keepalived.conf", "vrrp_instance VI_1 {\n  priority 101\n  advert_int 0.5\n}\n")],
        "keepalived.conf:3:14: advert_int 0.5 (imported as `settings.load_balancer.vrrp_advert_interval`): 500ms is too short",
    ),
    (
        "kubeadm-extra-args-not-a-list",
        &[("kubeadm-config.yaml", "kind: ClusterConfiguration\napiServer:\n  extraArgs: yes\n")],
        "kubeadm-config.yaml:3:14: apiServer.extraArgs: expected a mapping",
    ),
    (
        "unknown-file",
        &[("notes.txt", "hello\n")],
        "notes.txt: not a file import knows",
    ),
];

#[test]
fn bad_inputs_exit_2_naming_file_line_and_column() {
    let mut failures = String::new();
    for (case, files, want) in BAD {
        let d = temp(case);
        for (name, text) in *files {
            let p = d.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let (code, out, err) = run_bin(None, &["import", d.to_str().unwrap()]);
        if code != 2 || !err.contains(want) || !out.is_empty() {
            failures += &format!("{case}: exit {code}, stderr:\n{err}\nwanted: {want}\n\n");
        }
    }
    assert!(failures.is_empty(), "{failures}");
}
