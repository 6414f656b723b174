//! etcd snapshots and log compaction (issue 12, item 1): every member snapshots its store after
//! `snapshot_count` applied entries and compacts its log to `snapshot_catchup_entries` before the
//! snapshot; a follower that needs a compacted entry gets the snapshot, whose stream takes its size
//! over the peer bandwidth; each member keeps one copy of its log, so memory stays flat.

use crate::common::{metric, run_json};
use kube_ha_sim::components::etcd::member::{snapshot_transfer_ns, SNAPSHOT_BYTES_PER_KEY};
use kube_ha_sim::engine::Nanos;
use kube_ha_sim::observe::TraceKind;
use kube_ha_sim::run::Outcome;
use kube_ha_sim::scenario::parse_scenario;
use kube_ha_sim::world::observer::{etcd_logs, EtcdLogView};
use kube_ha_sim::world::World;

/// Runs a scenario to its end and returns the etcd members' logs then.
fn logs_at_end(text: &str, seed: u64) -> Vec<EtcdLogView> {
    let plan = parse_scenario(text, "test.json").unwrap_or_else(|e| panic!("bad scenario: {e}"));
    let mut w = World::build(&plan, seed);
    w.run().unwrap_or_else(|e| panic!("run failed: {e}"));
    etcd_logs(&w)
}

/// A stacked cluster whose load writes 20 times a second straight to etcd, with cp-2's member down
/// from 30 s for `down` (about 20 x `down` entries behind when it returns).
fn follower_down(count: u64, catchup: u64, down: &str, workloads: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"2m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}},
            "settings":{{"etcd":{{"snapshot_count":{count},"snapshot_catchup_entries":{catchup}}}}},
            "load":{{"target":"etcd","requests_per_second":20,"write_ratio":1.0}},
            "workloads":[{workloads}],
            "faults":[{{"at":"30s","kind":"crash","target":"cp-2/etcd","for":"{down}"}}]}}"#
    )
}

/// A snapshot stream seen in the trace: when it started, its size, and when the follower applied it.
#[derive(Debug)]
struct Stream {
    sent_ns: Nanos,
    keys: u64,
    bytes: u64,
    applied_ns: Nanos,
}

/// The log lines of the snapshots sent, in order, each with the follower's apply.
fn streams(o: &Outcome) -> Vec<Stream> {
    let mut out: Vec<Stream> = Vec::new();
    for e in &o.trace.events {
        let TraceKind::Log { text, .. } = &e.kind else {
            continue;
        };
        if text.contains("sending database snapshot") {
            let field = |name: &str| -> u64 {
                let at = text.find(name).expect("field in the log line");
                let digits: String = text[..at]
                    .trim_end()
                    .rsplit(' ')
                    .next()
                    .unwrap()
                    .to_string();
                digits.parse().unwrap()
            };
            out.push(Stream {
                sent_ns: e.time_ns,
                keys: field(" keys"),
                bytes: field(" bytes"),
                applied_ns: 0,
            });
        } else if text.contains("applied snapshot") {
            if let Some(s) = out.iter_mut().rev().find(|s| s.applied_ns == 0) {
                s.applied_ns = e.time_ns;
            }
        }
    }
    out
}

#[test]
fn a_follower_behind_the_compacted_log_catches_up_by_a_snapshot_that_streams_by_its_size() {
    // Down for 60 s: ~1200 entries behind, far more than snapshot_count + catch-up (300).
    let o = run_json(&follower_down(100, 200, "60s", ""), 1);
    let s = streams(&o);
    assert_eq!(s.len(), 1, "one snapshot sent: {s:?}");
    let s = &s[0];
    assert!(
        s.sent_ns >= 90 * 1_000_000_000,
        "sent after the member is back"
    );
    assert_eq!(s.bytes, s.keys * SNAPSHOT_BYTES_PER_KEY);
    let took = s.applied_ns - s.sent_ns;
    let stream = snapshot_transfer_ns(s.bytes);
    assert!(
        stream > 10_000_000,
        "a stream worth measuring ({stream} ns)"
    );
    // The stream, then at most a network hop and the follower's WAL write.
    assert!(
        took >= stream && took <= stream + 20_000_000,
        "applied {took} ns after the send; the stream alone takes {stream} ns"
    );
    assert_eq!(metric(&o, "invariants.violations"), 0.0);
    assert_eq!(metric(&o, "data.acknowledged_writes_lost"), 0.0);

    // More keys (a workload's pods and their endpoints), a bigger snapshot, a longer stream.
    let bigger = run_json(
        &follower_down(
            100,
            200,
            "60s",
            r#"{"name":"web","replicas":30,"on_control_plane":true}"#,
        ),
        1,
    );
    let b = streams(&bigger);
    assert_eq!(b.len(), 1, "{b:?}");
    assert!(b[0].keys > s.keys + 30, "{} vs {} keys", b[0].keys, s.keys);
    let took_b = b[0].applied_ns - b[0].sent_ns;
    assert!(took_b >= snapshot_transfer_ns(b[0].bytes) && took_b > took);

    // The follower caught up: it holds the leader's commit and its log starts after the snapshot.
    let logs = logs_at_end(&follower_down(100, 200, "60s", ""), 1);
    let top = logs.iter().map(|l| l.commit).max().unwrap();
    assert!(logs.iter().all(|l| l.commit + 5 >= top), "{logs:?}");
}

#[test]
fn a_follower_within_the_catch_up_entries_catches_up_from_the_log() {
    // ~1200 entries behind, within the 5000 kept (etcd's default), although snapshots were taken.
    let o = run_json(&follower_down(100, 5000, "60s", ""), 1);
    assert!(streams(&o).is_empty());
    let logs = logs_at_end(&follower_down(100, 5000, "60s", ""), 1);
    assert!(logs.iter().all(|l| l.snapshot_index > 0), "{logs:?}");
}

#[test]
fn every_members_log_stays_bounded_over_a_long_run() {
    // An idle stacked cluster writes about 4,700 entries an hour (leases); the log never holds
    // more than a snapshot's worth plus the catch-up entries, and holds each entry once.
    let (count, catchup) = (200u64, 100u64);
    let text = format!(
        r#"{{"name":"t","duration":"1h",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}},
            "settings":{{"etcd":{{"snapshot_count":{count},"snapshot_catchup_entries":{catchup}}}}},
            "load":{{"requests_per_second":0}},
            "faults":[{{"at":"20m","kind":"crash","target":"cp-3","for":"5m"}}]}}"#
    );
    let logs = logs_at_end(&text, 2);
    assert_eq!(logs.len(), 3);
    for l in &logs {
        assert!(l.last_index > 10 * (count + catchup), "{l:?}");
        assert!(
            l.entries_held as u64 <= count + catchup + 2,
            "member log holds {} entries: {l:?}",
            l.entries_held
        );
        assert_eq!(
            l.entries_held as u64,
            l.last_index + 1 - l.first_index,
            "one copy of each entry: {l:?}"
        );
    }
}
