//! Issue 11 item 2: connections instead of per-request balancing. HAProxy in `mode tcp` balances a
//! client's connection once; client-go holds one HTTP/2 connection and notices a silently dead backend
//! only by its health check (30 s read-idle, then a 15 s PING); the kubelet closes its connections
//! after repeated lease update failures.

use crate::common::{metric, run_json};
use kube_ha_sim::observe::TraceKind;
use kube_ha_sim::run::Outcome;

const S: u64 = 1_000_000_000;

/// External etcd (so a control-plane node's loss costs no etcd member), one HAProxy, cp-1's host dies
/// at 60 s.
fn cluster(workers: u32, load: &str, settings: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"4m",
            "topology":{{"etcd":"external","control_plane_nodes":3,"etcd_nodes":3,"workers":{workers},"zones":["a","b","c"],"load_balancers":1}},
            "settings":{{{settings}}},
            "load":{{{load}}},
            "faults":[{{"at":"60s","kind":"crash","target":"cp-1","for":"5m"}}]}}"#
    )
}

/// (time, process name, text) of the log lines containing `needle`.
fn logs(o: &Outcome, needle: &str) -> Vec<(u64, String)> {
    o.trace
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            TraceKind::Log { proc, text } if text.contains(needle) => {
                Some((e.time_ns, o.layout.procs[*proc as usize].name.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_long_lived_client_pinned_to_a_silently_dead_api_server_fails_for_about_45_s() {
    let mut pinned = 0;
    let mut elsewhere = 0;
    for seed in 1..=10 {
        let long = run_json(
            &cluster(
                0,
                r#""requests_per_second":2,"connection":"long-lived""#,
                "",
            ),
            seed,
        );
        let out = metric(&long, "api.longest_outage_s");
        if out > 1.0 {
            // Pinned to cp-1: every request fails (HAProxy marks the server DOWN after 6 s but keeps
            // the session) until 30 s without a frame plus 15 s without a PING answer close it.
            assert!((44.0..=47.0).contains(&out), "seed {seed}: {out} s");
            assert!(
                !logs(&long, "health check failed").is_empty(),
                "seed {seed}: closed by the health check"
            );
            pinned += 1;
        } else {
            assert_eq!(metric(&long, "api.failed_requests"), 0.0, "seed {seed}");
            elsewhere += 1;
        }
        // A new connection per request is balanced afresh: a dead backend costs a slow request
        // (connect timeout, then redispatch), never a failed one.
        let per_request = run_json(&cluster(0, r#""requests_per_second":2"#, ""), seed);
        assert_eq!(
            metric(&per_request, "api.failed_requests"),
            0.0,
            "seed {seed}"
        );
    }
    assert!(
        pinned >= 1 && elsewhere >= 1,
        "{pinned} pinned, {elsewhere} not"
    );
}

#[test]
fn a_leader_elector_through_the_load_balancer_loses_its_lease_when_its_backend_dies_silently() {
    let through_lb = r#""leader_election":{"api_endpoint":"load-balancer"}"#;
    let mut lost = 0;
    for seed in 1..=10 {
        let o = run_json(&cluster(2, r#""requests_per_second":2"#, through_lb), seed);
        // An elector on a surviving node gives up after RenewDeadline (10 s) of failed renewals on
        // its connection to the dead server.
        let survivors: Vec<(u64, String)> = logs(&o, "leaderelection lost")
            .into_iter()
            .filter(|(t, name)| *t > 60 * S && !name.starts_with("cp-1/"))
            .collect();
        for (t, name) in &survivors {
            let after = (*t - 60 * S) as f64 / 1e9;
            assert!(
                (9.0..=15.0).contains(&after),
                "seed {seed}: {name} lost its lease {after} s after the crash"
            );
        }
        lost += usize::from(!survivors.is_empty());
        // kubeadm's default: each elector talks to its own node's API server, so the loss of
        // another node never costs a surviving leader its lease.
        let local = run_json(&cluster(2, r#""requests_per_second":2"#, ""), seed);
        assert!(
            logs(&local, "leaderelection lost")
                .iter()
                .all(|(t, name)| *t < 60 * S || name.starts_with("cp-1/")),
            "seed {seed}"
        );
    }
    assert!(
        lost >= 2,
        "a surviving leader lost its lease in {lost} of 10 seeds"
    );
}

#[test]
fn kubelets_close_their_connections_after_two_failed_lease_updates() {
    let mut closed = 0;
    for seed in 1..=6 {
        let o = run_json(&cluster(3, r#""requests_per_second":2"#, ""), seed);
        let closes: Vec<(u64, String)> =
            logs(&o, "closing all connections (onRepeatedHeartbeatFailure)")
                .into_iter()
                .filter(|(t, name)| *t > 60 * S && name.starts_with("worker-"))
                .collect();
        for (t, name) in &closes {
            // Two 10 s update timeouts (the first renewal may come up to 10 s after the crash), far
            // sooner than the health check's 45 s.
            let after = (*t - 60 * S) as f64 / 1e9;
            assert!(
                (10.0..=32.0).contains(&after),
                "seed {seed}: {name} closed at {after} s"
            );
        }
        closed += closes.len();
        // So no worker goes Unknown: its renewals resume on a new connection well within the 50 s
        // grace period.
        assert!(
            o.trace.events.iter().all(|e| !matches!(&e.kind,
                TraceKind::Log { text, .. } if text.contains("worker-") && text.contains("Ready is now Unknown"))),
            "seed {seed}: a worker went Unknown"
        );
    }
    assert!(
        closed >= 1,
        "no worker kubelet was pinned to cp-1 in 6 seeds"
    );
}

/// Stacked etcd; cp-1's etcd member dies for 3 minutes, so cp-1's API server is alive but fails every
/// request (its only etcd endpoint is its own member). `probe`: the
/// kubelet's liveness probe of kube-apiserver (kubeadm's, on by default).
fn broken_but_alive(goaway: f64, probe: bool) -> String {
    format!(
        r#"{{"name":"t","duration":"5m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":0,"zones":["a","b","c"],"load_balancers":1}},
            "settings":{{"kube_apiserver":{{"goaway_chance":{goaway}}},
                        "kubelet":{{"apiserver_liveness_probe":{probe}}}}},
            "load":{{"requests_per_second":5,"connection":"long-lived"}},
            "faults":[{{"at":"60s","kind":"crash","target":"cp-1/etcd","for":"3m"}}]}}"#
    )
}

/// A long-lived client that HAProxy balanced to cp-1 fails every request while cp-1's API server
/// answers errors: the HTTP/2 health check never fires, and HAProxy keeps the session although it
/// marked cp-1 DOWN. Only the server can free it: by GOAWAY (`--goaway-chance`), or by dying. With
/// kubeadm's liveness probe the kubelet kills it (its `/livez` runs the `etcd` check) after 8
/// failed probes 10 s apart, about 80-100 s in, and the client reconnects elsewhere.
#[test]
fn a_client_pinned_to_a_broken_but_alive_api_server_is_freed_by_goaway_or_the_liveness_probe() {
    let mut compared = 0;
    for seed in 1..=10 {
        let off = run_json(&broken_but_alive(0.0, false), seed);
        let out = metric(&off, "api.longest_outage_s");
        if out < 100.0 {
            continue;
        }
        // No probe, no GOAWAY: the client fails until the member is back.
        assert!(out > 170.0, "seed {seed}: pinned outage {out} s");
        assert!(logs(&off, "health check failed").is_empty(), "seed {seed}");
        assert!(
            logs(&off, "failed liveness probe").is_empty(),
            "seed {seed}"
        );
        // With --goaway-chance 0.02 one response in 50 closes the connection, and the next request
        // goes to a healthy server.
        let goaway = run_json(&broken_but_alive(0.02, false), seed);
        let freed = metric(&goaway, "api.longest_outage_s");
        assert!(
            freed < 130.0,
            "seed {seed}: {freed} s with GOAWAY, {out} s without"
        );
        // The liveness probe: killed once 8 probes failed; the SIGTERM closes the listener, what is
        // in flight drains (or the SIGKILL 30 s later ends it), and the client is freed.
        let probed = run_json(&broken_but_alive(0.0, true), seed);
        let kills = logs(&probed, "failed liveness probe, will be restarted");
        let first = kills
            .first()
            .expect("the kubelet kills the broken API server")
            .0 as f64
            / 1e9;
        assert!(
            (130.0..165.0).contains(&first),
            "seed {seed}: killed at {first} s"
        );
        let freed = metric(&probed, "api.longest_outage_s");
        assert!(
            freed < first - 60.0 + 31.0,
            "seed {seed}: {freed} s with the probe, killed at {first} s"
        );
        compared += 1;
    }
    assert!(
        compared >= 2,
        "only {compared} seeds pinned the load to cp-1"
    );
}

#[test]
fn requests_cut_by_a_short_partition_are_resent_by_tcp_and_served_after_the_heal() {
    // HAProxy loses the control plane for 2 s. What it relays meanwhile is not lost: TCP resends it
    // (RTO about 200 ms, doubling: 0.2, 0.6, 1.4, 3.0 s after the send), and it gets through at the
    // first retransmission after the heal, well within HAProxy's 5 s connect timeout. So nothing
    // fails, and the worst wait is about 3 s (a request relayed just as the cut began). Before, the
    // network dropped it: the connect timeout and a retry took 5 s or more.
    for seed in 1..=3 {
        let o = run_json(
            r#"{"name":"t","duration":"2m",
                "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":1},
                "load":{"requests_per_second":20},
                "faults":[{"at":"60s","kind":"partition","groups":[["lb-1"],["cp-1","cp-2","cp-3"]],"for":"2s"}]}"#,
            seed,
        );
        let cut: Vec<_> = o
            .trace
            .requests
            .iter()
            .filter(|r| (60 * S..62 * S).contains(&r.sent_ns))
            .collect();
        assert!(cut.len() >= 20, "seed {seed}: {} requests", cut.len());
        assert!(cut.iter().all(|r| r.ok), "seed {seed}: a request failed");
        let worst = cut.iter().map(|r| r.latency_ns).max().unwrap_or(0);
        assert!(
            (2 * S + S / 2..4 * S).contains(&worst),
            "seed {seed}: worst {worst} ns"
        );
    }
}
