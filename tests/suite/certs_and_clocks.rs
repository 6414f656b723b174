//! Certificates and node clocks (issue 18, items 2 and 3): `expire-cert`, `renew-cert`, `clock-skew`.
//! Each behaviour is pinned against its upstream rule (cited at the test); each test fails on a model
//! without the TLS layer or with one clock for every node.

use crate::common::{metric, run_json};
use kube_ha_sim::observe::TraceKind;
use kube_ha_sim::run::Outcome;
use kube_ha_sim::scenario::parse_scenario;

const S: u64 = 1_000_000_000;

/// A stacked three-node cluster with three workers and a workload, behind one load balancer.
fn cluster(duration: &str, settings: &str, faults: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"{duration}",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":3,
                        "zones":["a","b","c"],"load_balancers":1}},
            "settings":{{{settings}}},
            "workloads":[{{"name":"web","replicas":6}}],
            "faults":[{faults}]}}"#
    )
}

/// The times of the log lines containing every one of `words`.
fn logs(o: &Outcome, words: &[&str]) -> Vec<u64> {
    o.trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Log { text, .. } if words.iter().all(|w| text.contains(w)) => {
                Some(e.time_ns)
            }
            _ => None,
        })
        .collect()
}

// ---- certificates ----

/// An expired kubelet client certificate fails every request (kube-apiserver's x509 authenticator
/// verifies per request: 401), the node lease is not renewed, and the node lifecycle controller
/// marks the node Unknown after node-monitor-grace-period (50 s) plus at most a 5 s monitor pass.
/// Renewal (`for`) restarts the kubelet and the node comes back.
#[test]
fn an_expired_kubelet_client_cert_takes_the_node_not_ready_after_the_grace_period() {
    let o = run_json(
        &cluster(
            "4m",
            "",
            r#"{"at":"60s","kind":"expire-cert","cert":"kubelet-client","target":"worker-1","for":"2m"}"#,
        ),
        7,
    );
    let unauthorized = logs(&o, &["Failed to update lease", "Unauthorized"]);
    assert!(
        unauthorized
            .first()
            .is_some_and(|&t| (60 * S..72 * S).contains(&t)),
        "the kubelet's next lease renewal is refused: {unauthorized:?}"
    );
    let unknown = logs(
        &o,
        &["worker-1 hasn't been updated", "Ready is now Unknown"],
    );
    let t = *unknown.first().expect("worker-1 goes Unknown");
    assert!(
        (100 * S..=125 * S).contains(&t),
        "Unknown 50 s after the last renewal before 60 s: {t}"
    );
    let back = logs(&o, &["removing taint", "worker-1"]);
    assert!(
        back.iter().any(|&t| t > 180 * S && t < 200 * S),
        "renewed at 3m, the kubelet restarts and the node is Ready again: {back:?}"
    );
    // Without the fault: nothing of the kind.
    let healthy = run_json(&cluster("4m", "", ""), 7);
    assert!(logs(&healthy, &["Ready is now Unknown"]).is_empty());
}

/// etcd verifies certificates at the TLS handshake (Go crypto/tls), so running peer streams outlive
/// an expired peer certificate; the member is cut off when it restarts and must dial again.
#[test]
fn an_expired_etcd_peer_cert_bites_only_when_the_member_restarts() {
    let expire = r#"{"at":"60s","kind":"expire-cert","cert":"etcd-peer","target":"cp-1"}"#;
    let quiet = run_json(&cluster("3m", "", expire), 7);
    assert!(logs(&quiet, &["rejected connection"]).is_empty());
    assert_eq!(metric(&quiet, "etcd.leader_changes"), 0.0);

    let restart =
        format!(r#"{expire},{{"at":"90s","kind":"crash","target":"cp-1/etcd","for":"5s"}}"#);
    let o = run_json(&cluster("3m", "", &restart), 7);
    let rejected = logs(&o, &["rejected connection", "tls:"]);
    assert!(
        rejected.first().is_some_and(|&t| t >= 95 * S),
        "the restarted member's handshakes fail: {rejected:?}"
    );
    assert!(
        !logs(
            &o,
            &["rafthttp: failed to dial", "x509: certificate has expired"]
        )
        .is_empty()
            || !logs(&o, &["rafthttp: failed to dial", "bad certificate"]).is_empty()
    );
}

/// A kube-apiserver whose etcd client certificate expired keeps its connection until it restarts;
/// then the handshake fails ("transport: authentication handshake failed"), it cannot build its
/// storage backend within the 20 s dial timeout and exits, again and again, until `renew-cert`.
#[test]
fn a_restarted_apiserver_with_an_expired_etcd_client_cert_crashloops_until_renewed() {
    let o = run_json(
        &cluster(
            "5m",
            "",
            r#"{"at":"60s","kind":"expire-cert","cert":"apiserver-etcd-client","target":"cp-1"},
               {"at":"90s","kind":"crash","target":"cp-1/kube-apiserver","for":"5s"},
               {"at":"4m","kind":"renew-cert","target":"cp-1"}"#,
        ),
        7,
    );
    assert!(!logs(&o, &["authentication handshake failed", "bad certificate"]).is_empty());
    let exits = logs(&o, &["Unable to create storage backend"]);
    assert!(exits.len() >= 2, "crash loop: {exits:?}");
    assert!(
        exits.iter().all(|&t| t > 95 * S && t < 240 * S),
        "{exits:?}"
    );
    let serving = logs(&o, &["Serving securely"]);
    assert!(
        serving.iter().any(|&t| t >= 240 * S),
        "after renew-cert the API server starts: {serving:?}"
    );
}

/// kubeadm's HAProxy example checks backends with `check verify none`: a backend whose serving
/// certificate expired stays UP, and the clients balanced to it fail their handshake.
#[test]
fn haproxy_keeps_a_backend_with_an_expired_serving_cert_up_and_its_clients_fail() {
    let o = run_json(
        &cluster(
            "3m",
            "",
            r#"{"at":"60s","kind":"expire-cert","cert":"apiserver","target":"cp-2","for":"1m"}"#,
        ),
        7,
    );
    let down = logs(&o, &["marked cp-2/kube-apiserver DOWN"]);
    assert!(
        down.iter().all(|&t| t < 60 * S),
        "no DOWN during the fault: {down:?}"
    );
    let failed = metric(&o, "api.failed_requests");
    let sent = metric(&o, "api.requests");
    // Round robin over three backends for a minute of a run of about 2.5 minutes after warm-up.
    assert!(
        failed > 0.05 * sent && failed < 0.3 * sent,
        "failed {failed} of {sent}"
    );
    assert!(!logs(&o, &["TLS handshake error", "bad certificate"]).is_empty());
}

/// Certificates are judged on the verifying node's wall clock: a node whose clock is a year and an
/// hour ahead sees kubeadm's one-year certificates as expired (its kubelet rejects the API server's
/// serving certificate); an hour ahead changes nothing.
#[test]
fn a_clock_ahead_by_more_than_the_time_left_sees_certificates_expired() {
    let skew = |offset: &str| {
        run_json(
            &cluster(
                "3m",
                "",
                &format!(
                    r#"{{"at":"60s","kind":"clock-skew","target":"worker-1","offset":"{offset}"}}"#
                ),
            ),
            7,
        )
    };
    let ahead = skew("+8761h");
    assert!(!logs(
        &ahead,
        &["Failed to update lease", "x509: certificate has expired"]
    )
    .is_empty());
    assert!(!logs(&ahead, &["worker-1 hasn't been updated"]).is_empty());
    let hour = skew("+1h");
    assert!(logs(&hour, &["x509"]).is_empty());
    assert!(logs(&hour, &["worker-1 hasn't been updated"]).is_empty());
}

// ---- clocks ----

/// client-go's leader election counts the lease on each candidate's own clock (observedTime is
/// local), so it tolerates an offset but not a rate error. A leader whose clock runs at half speed
/// keeps acting for its RenewDeadline (10 s) on its clock, 20 s of true time, while a candidate takes
/// over 15-19 s after the last renewal it saw: two acting leaders. With a perfect clock the leader
/// gives up first and there is no overlap.
#[test]
fn a_slow_clock_on_the_controller_manager_leader_gives_two_acting_leaders() {
    let run = |rate: &str, seed: u64| {
        run_json(
            &cluster(
                "3m",
                "",
                &format!(
                    r#"{{"at":"60s","kind":"clock-skew","target":"leader:kube-controller-manager","rate":{rate}}},
                       {{"at":"90s","kind":"isolate","target":"leader:kube-controller-manager","for":"60s"}}"#
                ),
            ),
            seed,
        )
    };
    for seed in [7, 8, 9] {
        let slow = run("0.5", seed);
        let split = metric(&slow, "reconciliation.split_brain_s");
        assert!(
            (1.0..=10.0).contains(&split),
            "seed {seed}: split brain {split} s"
        );
        // A hazard of the fault, not a fault of the model: counted, not a violation.
        assert_eq!(metric(&slow, "invariants.violations"), 0.0);
        assert!(metric(&slow, "leader_election.past_lease_actions") > 0.0);
        let perfect = run("1.0", seed);
        assert_eq!(
            metric(&perfect, "reconciliation.split_brain_s"),
            0.0,
            "seed {seed}"
        );
    }
}

/// A wall-clock step moves no timer (Go's timers read the monotonic clock) and leader election
/// never compares timestamps across nodes: an offset of an hour either way changes nothing. Seed
/// for seed, so with lazy heartbeats off: any fault, even one that changes nothing, ends their
/// streams and so moves the latency draws after it.
#[test]
fn leader_election_tolerates_a_wall_clock_offset() {
    let run = |fault: &str| {
        run_json(
            &cluster(
                "3m",
                r#""engine":{"lazy_heartbeats":false}"#,
                &format!(
                    r#"{fault}{{"at":"90s","kind":"isolate","target":"leader:kube-controller-manager","for":"60s"}}"#
                ),
            ),
            7,
        )
    };
    let plain = run("");
    for offset in ["+1h", "-1h"] {
        let skewed = run(&format!(
            r#"{{"at":"60s","kind":"clock-skew","target":"leader:kube-controller-manager","offset":"{offset}"}},"#
        ));
        for m in [
            "reconciliation.split_brain_s",
            "reconciliation.downtime_s",
            "controller_manager.leader_changes",
            "api.availability",
            "workloads.availability",
        ] {
            assert_eq!(metric(&skewed, m), metric(&plain, m), "{offset}: {m}");
        }
    }
}

/// etcd's election timer runs on the member's own clock: a follower whose clock runs 20 times fast
/// times out (1.0-1.9 s of its ticks is 50-95 ms) between the leader's 100 ms heartbeats. Without
/// pre-vote it campaigns with a higher term and disrupts the leader; with pre-vote (etcd's default
/// since v3.5) the others, who hear from the leader, refuse it and nothing changes.
#[test]
fn prevote_keeps_a_fast_clock_follower_from_disrupting_the_leader() {
    let run = |pre_vote: bool| {
        run_json(
            &cluster(
                "3m",
                &format!(r#""etcd":{{"pre_vote":{pre_vote}}}"#),
                r#"{"at":"60s","kind":"clock-skew","target":"follower:etcd","rate":20,"for":"1m"}"#,
            ),
            7,
        )
    };
    let without = run(false);
    assert!(
        metric(&without, "etcd.leader_changes") >= 1.0,
        "a fast follower without pre-vote disrupts the leader"
    );
    let with = run(true);
    assert_eq!(metric(&with, "etcd.leader_changes"), 0.0);
    assert_eq!(metric(&with, "etcd.elections"), 0.0);
}

// ---- validation ----

fn invalid(faults: &str) -> String {
    match parse_scenario(&cluster("3m", "", faults), "t.json") {
        Ok(_) => panic!("accepted: {faults}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn certificate_and_clock_faults_are_validated_with_what_is_allowed() {
    let e = invalid(r#"{"at":"60s","kind":"expire-cert","target":"cp-1"}"#);
    assert!(
        e.contains("faults[0].cert") && e.contains("apiserver-etcd-client, etcd-server"),
        "{e}"
    );
    let e = invalid(r#"{"at":"60s","kind":"expire-cert","cert":"front-proxy"}"#);
    assert!(e.contains("front-proxy") && e.contains("etcd-peer"), "{e}");
    let e = invalid(r#"{"at":"60s","kind":"expire-cert","cert":"etcd-peer","target":"worker-1"}"#);
    assert!(e.contains("worker-1` runs no etcd"), "{e}");
    let e = invalid(r#"{"at":"60s","kind":"clock-skew","target":"cp-1"}"#);
    assert!(e.contains("`offset`") && e.contains("`rate`"), "{e}");
    let e = invalid(r#"{"at":"60s","kind":"clock-skew","target":"cp-1","rate":50}"#);
    assert!(
        e.contains("faults[0].rate") && e.contains("0.05 to 20"),
        "{e}"
    );
    let e = invalid(r#"{"at":"60s","kind":"clock-skew","target":"cp-1","offset":"5"}"#);
    assert!(e.contains("no unit"), "{e}");
    let e = invalid(r#"{"at":"60s","kind":"renew-cert","target":"cp-1","for":"1m"}"#);
    assert!(
        e.contains("`for` does not belong to a fault of kind renew-cert"),
        "{e}"
    );
    // Accepted forms.
    for ok in [
        r#"{"at":"60s","kind":"expire-cert","cert":"all"}"#,
        r#"{"at":"60s","kind":"expire-cert","cert":"scheduler.conf","target":"cp-2","for":"1m"}"#,
        r#"{"at":"60s","kind":"renew-cert"}"#,
        r#"{"at":"60s","kind":"clock-skew","target":"leader:etcd","offset":"-30s","rate":0.9995}"#,
    ] {
        parse_scenario(&cluster("3m", "", ok), "t.json").unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

/// The other direction: a fast clock on the leader's node (issue 18: "show what a fast clock on the
/// leader's node does"). It renews twice as often and gives up its lease after RenewDeadline on its
/// own clock, 5 s of true time, before any candidate may take over: harmless for the lease, no
/// overlap, while the etcd member on the same node ticks twice as fast and, as leader, only sends
/// heartbeats more often.
#[test]
fn a_fast_clock_on_the_leaders_node_renews_more_often_and_never_overlaps() {
    let run = |faults: &str| run_json(&cluster("3m", "", faults), 7);
    let fast = run(
        r#"{"at":"60s","kind":"clock-skew","target":"leader:kube-controller-manager","rate":2.0},
           {"at":"90s","kind":"isolate","target":"leader:kube-controller-manager","for":"60s"}"#,
    );
    assert_eq!(metric(&fast, "reconciliation.split_brain_s"), 0.0);
    assert_eq!(metric(&fast, "leader_election.past_lease_actions"), 0.0);
    assert_eq!(metric(&fast, "invariants.violations"), 0.0);
    let quiet = run(r#"{"at":"60s","kind":"clock-skew","target":"leader:etcd","rate":2.0}"#);
    assert_eq!(
        metric(&quiet, "etcd.leader_changes"),
        0.0,
        "a fast leader keeps leading"
    );
    assert_eq!(metric(&quiet, "controller_manager.leader_changes"), 0.0);
    assert_eq!(metric(&quiet, "scheduler.leader_changes"), 0.0);
}

/// A Go timer fires when the monotonic clock reaches it, so a timer set before its node's clock sped
/// up fires sooner in true time. An etcd-only cluster with no clients and its leader paused at 59.5 s:
/// nothing reaches the followers, and only their election timers can wake them, set for 1-1.9 s after
/// the last heartbeat. The follower whose clock runs 20 times fast from 60 s campaigns within
/// 1.9 s / 20 = 95 ms of the change; had its election timer kept the true time it was set for, the
/// first campaign would come at 60.5 s or later (seed 2: at 61 s, by the other follower).
#[test]
fn a_timer_set_before_the_clock_sped_up_fires_when_the_fast_clock_reaches_it() {
    let text = r#"{"name":"t","duration":"75s",
        "topology":{"etcd":"external","control_plane_nodes":0,"etcd_nodes":3,"zones":["a","b","c"],"load_balancers":1},
        "settings":{"etcd":{"pre_vote":false}},
        "load":{"requests_per_second":0,"target":"etcd"},
        "faults":[{"at":"59.5s","kind":"pause","target":"leader:etcd","for":"10s"},
                  {"at":"60s","kind":"clock-skew","target":"follower:etcd","rate":20,"for":"10s"}]}"#;
    for seed in [1, 2, 3] {
        let o = run_json(text, seed);
        let first = logs(&o, &["became candidate"])
            .into_iter()
            .find(|&t| t >= 59 * S + S / 2)
            .expect("a follower campaigns while the leader is paused");
        assert!(
            (60 * S..=60 * S + S / 10).contains(&first),
            "seed {seed}: first campaign at {} ms; the fast clock reaches its election timeout \
             within 100 ms of the change",
            first / 1_000_000
        );
    }
}
