//! Property: over random fault schedules (crashes, partitions, lossy links, slow disks, restarts), no
//! invariant is ever violated (one leader per term, committed entries never change, acknowledged writes
//! survive, at most one lease holder acting past its lease) and, once every fault has healed, etcd elects
//! a leader again within a bounded time.

use crate::common::run_json;
use proptest::prelude::*;

fn fault_strategy(members: u32) -> impl Strategy<Value = String> {
    let node = (1..=members).prop_map(|i| format!("cp-{i}"));
    let at = 10u32..100;
    let dur = 1u32..40;
    prop_oneof![
        (at.clone(), dur.clone(), node.clone()).prop_map(|(a, d, n)| format!(
            r#"{{"at":"{a}s","kind":"crash","target":"{n}","for":"{d}s"}}"#
        )),
        (at.clone(), dur.clone()).prop_map(|(a, d)| format!(
            r#"{{"at":"{a}s","kind":"crash","target":"leader:etcd","for":"{d}s"}}"#
        )),
        (at.clone(), dur.clone()).prop_map(|(a, d)| format!(
            r#"{{"at":"{a}s","kind":"stop","target":"leader:etcd","for":"{d}s"}}"#
        )),
        (at.clone(), dur.clone(), node.clone()).prop_map(|(a, d, n)| format!(
            r#"{{"at":"{a}s","kind":"isolate","target":"{n}","for":"{d}s"}}"#
        )),
        (at.clone(), dur.clone(), node.clone(), node.clone(), 0.05f64..0.6).prop_map(|(a, d, x, y, l)| format!(
            r#"{{"at":"{a}s","kind":"degrade-link","between":["{x}","{y}"],"loss":{l:.2},"latency":"20ms","for":"{d}s"}}"#
        )),
        (at.clone(), dur.clone(), node.clone(), 10u32..1500).prop_map(|(a, d, n, ms)| format!(
            r#"{{"at":"{a}s","kind":"slow-disk","target":"{n}","fsync_latency":"{ms}ms","for":"{d}s"}}"#
        )),
        (at.clone(), dur.clone(), 1..=members).prop_map(move |(a, d, k)| {
            let left: Vec<String> = (1..=k).map(|i| format!("\"cp-{i}\"")).collect();
            let right: Vec<String> = (k + 1..=members).map(|i| format!("\"cp-{i}\"")).collect();
            format!(
                r#"{{"at":"{a}s","kind":"partition","groups":[[{}],[{}]],"for":"{d}s"}}"#,
                left.join(","),
                if right.is_empty() { "\"client\"".to_string() } else { right.join(",") }
            )
        }),
    ]
}

/// `compaction`: etcd's snapshot count and catch-up entries; small ones make members snapshot every
/// few seconds and send followers snapshots after short outages.
fn scenario(members: u32, pre_vote: bool, compaction: (u64, u64), faults: &[String]) -> String {
    let (count, catchup) = compaction;
    format!(
        r#"{{"name":"prop","duration":"200s",
            "topology":{{"etcd":"stacked","control_plane_nodes":{members},"zones":["a","b","c"]}},
            "settings":{{"etcd":{{"pre_vote":{pre_vote},"snapshot_count":{count},"snapshot_catchup_entries":{catchup}}}}},
            "load":{{"requests_per_second":20}},
            "faults":[{}]}}"#,
        faults.join(",")
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_invariant_violated_and_quorum_returns(
        members in prop_oneof![Just(3u32), Just(5u32)],
        pre_vote in any::<bool>(),
        compaction in prop_oneof![Just((10_000u64, 5_000u64)), Just((30, 10)), Just((200, 50))],
        faults in prop::collection::vec(fault_strategy(3), 1..6),
        seed in 1u64..1_000_000,
    ) {
        let o = run_json(&scenario(members, pre_vote, compaction, &faults), seed);
        let violations: Vec<String> = o.trace.events.iter().filter_map(|e| match &e.kind {
            kube_ha_sim::observe::TraceKind::Violation { text } => Some(text.clone()),
            _ => None,
        }).collect();
        prop_assert!(violations.is_empty(), "violations: {:?}", violations);
        prop_assert_eq!(o.metrics.get("data.acknowledged_writes_lost").copied(), Some(0.0));
        // Every fault ends by 140 s; a crashed node then boots its OS (settings.nodes.os_boot_time,
        // 30 s); quorum must be back within 15 s of that (a few randomized election timeouts, plus a
        // member whose slow disk delayed its log) and stay to the end.
        let t = o.timelines.iter().find(|t| t.capability == kube_ha_sim::observe::Capability::EtcdQuorum).unwrap();
        prop_assert!(t.up_at(185_000_000_000) && t.up_at(199_000_000_000),
            "etcd quorum not back after faults healed: {:?}", t.intervals);
    }
}

/// A follower on a lossy link took a leader's snapshot while an fsync was in flight; the snapshot
/// check run when that fsync finished found the store's applied index before Raft's log (a debug
/// assertion fired). Found by the property above (seed 101016); kept as its own case, with lazy
/// heartbeats off, on a seed that still sends a follower a snapshot (101018 once TCP streams kept
/// their order in the world, 101011 since the kubelets probe kube-apiserver; the path moves with the
/// draws).
#[test]
fn a_snapshot_taken_behind_an_fsync_waits_for_its_apply() {
    let text = scenario(
        3,
        true,
        (200, 50),
        &[r#"{"at":"78s","kind":"degrade-link","between":["cp-1","cp-2"],"loss":0.59,"latency":"20ms","for":"18s"}"#.to_string()],
    );
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["settings"]["engine"] = serde_json::json!({ "lazy_heartbeats": false });
    let o = run_json(&v.to_string(), 101_011);
    assert_eq!(
        o.metrics.get("data.acknowledged_writes_lost").copied(),
        Some(0.0)
    );
    let snapshots = o
        .trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, kube_ha_sim::observe::TraceKind::Log { text, .. } if text.contains("applied snapshot")))
        .count();
    assert!(
        snapshots > 0,
        "the case must still send a follower a snapshot"
    );
}
