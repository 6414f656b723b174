//! Issue 14: the control plane's capacity. API servers saturate where their cores run out (and the
//! saturation point moves with their number), a lost API server's load queues and is throttled on the
//! survivors until it returns, and APF's leader-election seats keep the leases renewed under a
//! workload flood that the max-in-flight filter lets starve them.
//!
//! The runs use a slow CPU (4 ms a GET, 8 ms a write, one core) so that saturation comes at a few
//! hundred requests a second and the tests stay cheap; the arithmetic is the same at any scale.

use crate::common::run_json;
use kube_ha_sim::run::Outcome;

const S: u64 = 1_000_000_000;
const GET_MS: f64 = 4.0;
const WRITE_MS: f64 = 8.0;
const WRITE_RATIO: f64 = 0.5;

/// The capacity model's own arithmetic: API servers x cores / mean CPU per request.
fn predicted_rps(api_servers: u32) -> f64 {
    let mean_ms = WRITE_RATIO * WRITE_MS + (1.0 - WRITE_RATIO) * GET_MS;
    api_servers as f64 * 1000.0 / mean_ms
}

fn scenario(api_servers: u32, rps: f64, duration: &str, apf: bool, faults: &str) -> String {
    format!(
        r#"{{"name":"capacity","duration":"{duration}",
        "topology":{{"etcd":"external","control_plane_nodes":{api_servers},"etcd_nodes":3,"workers":1,
                     "zones":["a","b","c"]}},
        "settings":{{"kube_apiserver":{{"cores":1,"cpu_per_get":"{GET_MS}ms","cpu_per_write":"{WRITE_MS}ms",
                     "enable_priority_and_fairness":{apf}}}}},
        "load":{{"requests_per_second":{rps},"write_ratio":{WRITE_RATIO},"identity":"service-account","start":"20s"}},
        "faults":[{faults}]}}"#
    )
}

fn between(o: &Outcome, from_s: u64, to_s: u64, name: &str) -> f64 {
    o.metrics_between(from_s * S, to_s * S)
        .get(name)
        .copied()
        .unwrap_or_else(|| panic!("no {name} in [{from_s}s, {to_s}s]"))
}

/// 2, 3 and 5 API servers: at 80% of the predicted capacity the mutating p99 stays within the 1 s SLO
/// and nothing is throttled; at 125% the SLO is missed and 429s flow.
#[test]
fn saturation_points_follow_api_servers_times_cores_over_cpu_per_request() {
    for n in [2, 3, 5] {
        let cap = predicted_rps(n);
        let under = run_json(&scenario(n, (0.8 * cap).round(), "50s", true, ""), 1);
        let over = run_json(&scenario(n, (1.25 * cap).round(), "50s", true, ""), 1);
        let p99 = "api.mutating_latency_p99_ms";
        assert!(
            between(&under, 30, 50, p99) <= 1000.0,
            "{n} API servers at 80% of {cap:.0} req/s: p99 {}",
            between(&under, 30, 50, p99)
        );
        assert_eq!(
            between(&under, 30, 50, "api.throttled_requests"),
            0.0,
            "{n}"
        );
        assert!(
            between(&over, 30, 50, p99) > 1000.0,
            "{n} API servers at 125% of {cap:.0} req/s: p99 {}",
            between(&over, 30, 50, p99)
        );
        assert!(between(&over, 30, 50, "api.throttled_requests") > 0.0);
        assert!(between(&over, 30, 50, "apiserver.utilization") > 0.8);
        assert!(between(&under, 30, 50, "apiserver.utilization") < 0.85);
    }
}

/// Three API servers carry 80% of their capacity; cp-1 dies for a minute, so two carry 120% of
/// theirs: requests queue and are throttled on the survivors; once cp-1 is back (its node booted, its
/// API server started, HAProxy's checks passed) the 429s stop and the SLO holds again.
#[test]
fn losing_one_of_three_api_servers_queues_throttles_and_recovers_when_it_returns() {
    let rps = (0.8 * predicted_rps(3)).round();
    let o = run_json(
        &scenario(
            3,
            rps,
            "4m",
            true,
            r#"{"at":"60s","kind":"crash","target":"cp-1","for":"60s"}"#,
        ),
        1,
    );
    assert_eq!(between(&o, 30, 60, "api.throttled_requests"), 0.0);
    assert!(between(&o, 75, 120, "api.throttled_requests") > 0.0);
    assert!(between(&o, 75, 120, "api.saturated_s") > 20.0);
    assert!(between(&o, 75, 120, "api.mutating_latency_p99_ms") > 1000.0);
    // The reads queue behind the same seats: the read-only SLO is missed too, and held before.
    assert!(between(&o, 30, 60, "api.readonly_latency_p99_ms") <= 1000.0);
    assert!(between(&o, 75, 120, "api.readonly_latency_p99_ms") > 1000.0);
    // The node boots (30 s), its API server starts and HAProxy's checks take it back; then the
    // backlog drains.
    assert_eq!(between(&o, 200, 240, "api.throttled_requests"), 0.0);
    assert!(between(&o, 200, 240, "api.mutating_latency_p99_ms") <= 1000.0);
    assert!(between(&o, 200, 240, "api.readonly_latency_p99_ms") <= 1000.0);
}

/// A service-account flood at three times the API servers' capacity. With APF the leader-election
/// level keeps its own 25 seats: no lease request is throttled and neither the scheduler nor the
/// controller manager loses its lease. With the max-in-flight filter the flood holds all 200
/// mutating seats and lease renewals get 429s.
#[test]
fn leader_election_seats_protect_the_leases_under_a_workload_flood() {
    let flood = (3.0 * predicted_rps(3)).round();
    let le = "api.throttled_requests.leader-election";
    let apf = run_json(&scenario(3, flood, "90s", true, ""), 1);
    assert_eq!(between(&apf, 20, 90, le), 0.0);
    assert!(between(&apf, 20, 90, "api.throttled_requests.workload-low") > 0.0);
    for m in [
        "scheduler.leader_changes",
        "controller_manager.leader_changes",
    ] {
        assert_eq!(between(&apf, 20, 90, m), 0.0, "{m} with APF");
    }
    let max_inflight = run_json(&scenario(3, flood, "90s", false, ""), 1);
    assert!(
        between(&max_inflight, 20, 90, le) > 0.0,
        "without APF the flood should take the lease renewals' seats"
    );
}

/// A small quota fills: etcd raises NOSPACE in its own words, every write after it fails with
/// "database space exceeded", reads go on.
#[test]
fn a_full_etcd_quota_raises_nospace_and_stops_writes_but_not_reads() {
    use kube_ha_sim::observe::TraceKind;
    let o = run_json(
        r#"{"name":"quota","duration":"2m",
            "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},
            "settings":{"etcd":{"quota_backend_bytes":262144,"bytes_per_revision":1024}},
            "load":{"requests_per_second":20,"write_ratio":0.5}}"#,
        1,
    );
    let raised: Vec<u64> = o
        .trace
        .events
        .iter()
        .filter(|e| {
            matches!(&e.kind, TraceKind::Log { text, .. }
            if text.contains("alarm raised") && text.contains("NOSPACE"))
        })
        .map(|e| e.time_ns)
        .collect();
    assert!(!raised.is_empty(), "no NOSPACE alarm");
    let t = raised[0] + S;
    let after: Vec<_> = o.trace.requests.iter().filter(|r| r.sent_ns > t).collect();
    let writes_ok = after.iter().filter(|r| r.write && r.ok).count();
    let reads_ok = after.iter().filter(|r| !r.write && r.ok).count();
    let reads = after.iter().filter(|r| !r.write).count();
    assert_eq!(writes_ok, 0, "a write succeeded after NOSPACE");
    assert!(
        reads > 100 && reads_ok * 10 >= reads * 9,
        "{reads_ok} of {reads} reads"
    );
    // Before it, writes worked.
    assert!(o
        .trace
        .requests
        .iter()
        .any(|r| r.write && r.ok && r.sent_ns < raised[0]));
}

/// etcd binds instead of the API servers: one core a member and 4 ms a write, so every member (each
/// applies every write) saturates at 1 / 4 ms = 250 writes a second however many members there are,
/// far below the three API servers' 3 x 4 cores / 2 ms = 6,000. At 80% of that the SLO holds; at 125%
/// etcd's cores run out (utilisation near 1, the API servers' near 0), answers queue, the SLO is
/// missed.
#[test]
fn etcd_saturates_at_cores_over_cpu_per_write_when_it_binds_first() {
    const ETCD_WRITE_MS: f64 = 4.0;
    let predicted = 1000.0 / ETCD_WRITE_MS;
    let run = |rps: f64| {
        run_json(
            &format!(
                r#"{{"name":"etcd-capacity","duration":"50s",
                "topology":{{"etcd":"external","control_plane_nodes":3,"etcd_nodes":3,"workers":1,
                             "zones":["a","b","c"]}},
                "settings":{{"etcd":{{"cores":1,"cpu_per_write":"{ETCD_WRITE_MS}ms"}}}},
                "load":{{"requests_per_second":{rps},"write_ratio":1.0,"identity":"service-account","start":"20s"}}}}"#
            ),
            1,
        )
    };
    let under = run((0.8 * predicted).round());
    let over = run((1.25 * predicted).round());
    let p99 = "api.mutating_latency_p99_ms";
    for (name, o) in [("80%", &under), ("125%", &over)] {
        eprintln!(
            "{name}: p99 {:.1} ms, etcd {:.3}, apiserver {:.3}",
            between(o, 30, 50, p99),
            between(o, 30, 50, "etcd.utilization"),
            between(o, 30, 50, "apiserver.utilization")
        );
    }
    let (u, o) = (
        between(&under, 30, 50, "etcd.utilization"),
        between(&over, 30, 50, "etcd.utilization"),
    );
    assert!(
        between(&under, 30, 50, p99) <= 1000.0,
        "at 80% of {predicted} writes/s: p99 {}",
        between(&under, 30, 50, p99)
    );
    assert!((0.75..0.9).contains(&u), "etcd at 80%: utilisation {u}");
    assert!(
        between(&over, 30, 50, p99) > 1000.0,
        "at 125% of {predicted} writes/s: p99 {}",
        between(&over, 30, 50, p99)
    );
    // Not quite 1: the API servers' /readyz (a linearizable Get queued behind the writes) times out
    // now and then, HAProxy takes a server out, and less load reaches etcd for a while.
    assert!(o > 0.9, "etcd at 125%: utilisation {o}");
    assert!(between(&over, 30, 50, "apiserver.utilization") < 0.1);
}

/// The NOSPACE alarm goes through Raft: the member whose own database passed the quota proposes it,
/// every member applies it once ("alarm raised" from that member, in etcd's words) and refuses every
/// write from then on, a member whose own database still had room too (cp-3's etcd, restarted at 70 s,
/// opened its database at the live size without history), and it survives a leader change: the new
/// leader's store holds the alarm.
#[test]
fn the_nospace_alarm_is_replicated_through_raft_and_survives_a_leader_change() {
    use kube_ha_sim::observe::TraceKind;
    let o = run_json(
        r#"{"name":"quota-raft","duration":"3m",
            "topology":{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]},
            "settings":{"etcd":{"quota_backend_bytes":1048576,"bytes_per_revision":1024}},
            "load":{"requests_per_second":20,"write_ratio":0.5},
            "faults":[{"at":"60s","kind":"crash","target":"cp-3/etcd","for":"10s"},
                      {"at":"2m","kind":"crash","target":"leader:etcd"}]}"#,
        1,
    );
    let logs = |needle: &str| -> Vec<(u64, u16, String)> {
        o.trace
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Log { proc, text } if text.contains(needle) => {
                    Some((e.time_ns, *proc, text.clone()))
                }
                _ => None,
            })
            .collect()
    };
    for l in logs("NOSPACE") {
        eprintln!("{:.3}s {} {}", l.0 as f64 / 1e9, l.1, l.2);
    }
    let full = logs("proposing alarm NOSPACE");
    let raised = logs("\"alarm raised\" alarm=NOSPACE");
    assert!(!full.is_empty(), "no member found its database full");
    let first = raised.first().expect("no alarm raised").0;
    assert!(
        first < 110 * S,
        "the alarm should rise before the leader crash"
    );
    // Each member applies each raiser's alarm once: (member, from) pairs are distinct.
    let pairs: std::collections::BTreeSet<(u16, String)> = raised
        .iter()
        .map(|(_, p, t)| (*p, t.split("from=").nth(1).unwrap_or("").to_string()))
        .collect();
    assert_eq!(pairs.len(), raised.len(), "an alarm was raised twice");
    let appliers: std::collections::BTreeSet<u16> = raised.iter().map(|r| r.1).collect();
    assert_eq!(appliers.len(), 3, "every member applies the alarm");
    let judged_full: std::collections::BTreeSet<u16> = full.iter().map(|r| r.1).collect();
    assert!(
        judged_full.len() < 3,
        "the restarted member's own database had room, yet it refuses writes"
    );
    // No write succeeds after the alarm, before or after the leader change; reads go on.
    let after: Vec<_> = o
        .trace
        .requests
        .iter()
        .filter(|r| r.sent_ns > first + S)
        .collect();
    assert_eq!(after.iter().filter(|r| r.write && r.ok).count(), 0);
    let late_reads: Vec<_> = after
        .iter()
        .filter(|r| !r.write && r.sent_ns > 130 * S)
        .collect();
    assert!(late_reads.len() > 100);
    assert!(late_reads.iter().filter(|r| r.ok).count() * 10 >= late_reads.len() * 9);
    let new_leader = o.trace.events.iter().any(|e| {
        e.time_ns > 120 * S
            && matches!(e.kind, TraceKind::EtcdRole { role, .. }
                if role == kube_ha_sim::components::etcd::types::Role::Leader)
    });
    assert!(new_leader, "no new etcd leader after the crash");
    assert_eq!(
        logs("\"alarm raised\"")
            .iter()
            .filter(|r| r.0 > 120 * S)
            .count(),
        0,
        "the new leader already had the alarm"
    );
}

/// At the default CPU (4 cores, 1 ms a GET, 2 ms a write) three API servers carry 8,000 requests a
/// second; at three quarters of that the SLO holds with nothing throttled. Each member serves its
/// linearizable reads in one ReadIndex round at a time, as etcd's `linearizableReadLoop` does;
/// when every read had a round of its own, 3,000 reads a second meant 6,000 heartbeats a second,
/// each answer sending the follower an append, and the leader's links backed up until the API
/// servers' seats all waited on etcd: this load collapsed into 429s 3.5 s after it began.
#[test]
fn three_api_servers_carry_three_quarters_of_their_predicted_load_at_the_default_cpu() {
    let o = run_json(
        r#"{"name":"capacity","duration":"40s",
            "topology":{"etcd":"external","control_plane_nodes":3,"etcd_nodes":3,"workers":1,"zones":["a","b","c"]},
            "load":{"requests_per_second":6000,"write_ratio":0.5,"identity":"service-account","start":"20s"}}"#,
        1,
    );
    let p99 = between(&o, 22, 40, "api.mutating_latency_p99_ms");
    assert!(p99 < 100.0, "mutating p99 {p99} ms");
    assert_eq!(between(&o, 20, 40, "api.throttled_requests"), 0.0);
    let util = between(&o, 22, 40, "apiserver.utilization");
    assert!((0.65..0.85).contains(&util), "utilisation {util}");
}

/// The operator's way out of NOSPACE: once kube-apiserver's compaction has dropped the history
/// (it compacts every 5 minutes to the revision of the round before, so the history written before
/// the alarm is gone at the second round after it), `defrag` shrinks each member's database to its
/// live size and `alarm-disarm` deactivates the alarm through Raft: every member logs "alarm
/// disarmed" in etcd's words and writes succeed again. A disarm with the database still past the
/// quota (no defrag) raises the alarm again at the next write.
#[test]
fn alarm_disarm_after_compaction_and_defrag_lets_writes_through_again() {
    use kube_ha_sim::observe::TraceKind;
    let run = |faults: &str| {
        run_json(
            &format!(
                r#"{{"name":"quota-disarm","duration":"12m",
                "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}},
                "settings":{{"etcd":{{"quota_backend_bytes":262144,"bytes_per_revision":1024}}}},
                "load":{{"requests_per_second":20,"write_ratio":0.5}},
                "faults":[{faults}]}}"#
            ),
            1,
        )
    };
    let logs = |o: &Outcome, needle: &str| -> Vec<(u64, u16)> {
        o.trace
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Log { proc, text } if text.contains(needle) => Some((e.time_ns, *proc)),
                _ => None,
            })
            .collect()
    };
    let writes_ok = |o: &Outcome, from_s: u64, to_s: u64| {
        o.trace
            .requests
            .iter()
            .filter(|r| r.write && r.ok && r.sent_ns > from_s * S && r.sent_ns < to_s * S)
            .count()
    };
    let disarm = r#"{"at":"11m","kind":"alarm-disarm"}"#;
    let defrags = r#"{"at":"10m30s","kind":"defrag","target":"cp-1"},
                     {"at":"10m31s","kind":"defrag","target":"cp-2"},
                     {"at":"10m32s","kind":"defrag","target":"cp-3"}"#;

    let o = run(&format!("{defrags},{disarm}"));
    let raised = logs(&o, "\"alarm raised\" alarm=NOSPACE");
    assert!(
        raised.first().is_some_and(|r| r.0 < 120 * S),
        "the quota should fill early"
    );
    assert_eq!(
        writes_ok(&o, 180, 660),
        0,
        "no write gets through the alarm"
    );
    let disarmed = logs(&o, "\"alarm disarmed\" alarm=NOSPACE");
    let members: std::collections::BTreeSet<u16> = disarmed.iter().map(|d| d.1).collect();
    assert_eq!(
        members.len(),
        3,
        "every member applies the disarm: {disarmed:?}"
    );
    assert!(disarmed.iter().all(|d| (660 * S..662 * S).contains(&d.0)));
    assert!(
        !logs(&o, "etcdctl alarm disarm: memberID:").is_empty(),
        "etcdctl prints the alarm it disarmed"
    );
    assert!(
        writes_ok(&o, 662, 690) > 20,
        "writes go through after the disarm: {}",
        writes_ok(&o, 662, 690)
    );

    // Without the defrags the database is still past the quota: the alarm comes back at once.
    let o = run(disarm);
    assert!(!logs(&o, "\"alarm disarmed\"").is_empty());
    assert!(
        logs(&o, "\"alarm raised\" alarm=NOSPACE")
            .iter()
            .any(|r| (660 * S..665 * S).contains(&r.0)),
        "the alarm is raised again"
    );
    assert!(
        writes_ok(&o, 665, 720) == 0,
        "no write after the alarm came back"
    );
}
