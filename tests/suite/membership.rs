//! etcd membership changes (`member-remove`, `member-add`): strict reconfiguration checks, one change
//! at a time, a learner that catches up and is promoted, and the replace-a-dead-member drill.

use crate::common::{metric, run_json};
use kube_ha_sim::observe::TraceKind;
use kube_ha_sim::run::Outcome;

fn cluster(etcd: &str, extra: &str, faults: &str) -> String {
    let topology = match etcd {
        "external" => r#""etcd":"external","control_plane_nodes":3,"etcd_nodes":3"#,
        _ => r#""etcd":"stacked","control_plane_nodes":3"#,
    };
    format!(
        r#"{{"name":"t","duration":"8m",
            "topology":{{{topology},"zones":["a","b","c"],"load_balancers":1,"endpoint":"load-balancer"}}{extra},
            "faults":[{faults}]}}"#
    )
}

fn logs_with<'a>(o: &'a Outcome, needle: &'a str) -> impl Iterator<Item = (u64, &'a str)> + 'a {
    o.trace.events.iter().filter_map(move |e| match &e.kind {
        TraceKind::Log { text, .. } if text.contains(needle) => Some((e.time_ns, text.as_str())),
        _ => None,
    })
}

#[test]
fn a_wiped_member_is_replaced_by_a_learner_that_catches_up_from_a_snapshot_and_is_promoted() {
    for etcd in ["stacked", "external"] {
        let node = if etcd == "stacked" { "cp-2" } else { "etcd-2" };
        let o = run_json(
            &cluster(
                etcd,
                r#","settings":{"etcd":{"snapshot_count":1000,"snapshot_catchup_entries":500}},
                   "load":{"requests_per_second":50,"write_ratio":0.5}"#,
                &format!(
                    r#"{{"at":"2m","kind":"wipe-data","target":"{node}"}},
                       {{"at":"3m","kind":"member-remove","target":"{node}"}},
                       {{"at":"4m","kind":"member-add","target":"{node}"}}"#
                ),
            ),
            3,
        );
        for f in &o.faults {
            assert!(f.did_nothing.is_none(), "{etcd}: {}", f.describe());
        }
        assert_eq!(
            logs_with(&o, "removed member 2").count(),
            2,
            "{etcd}: both survivors apply the removal"
        );
        // The new member (id 4) is a learner first, gets the compacted log as a snapshot, and is
        // promoted once in sync; every member applies the promotion.
        let snap = logs_with(&o, "4 applied snapshot").next();
        assert!(
            snap.is_some(),
            "{etcd}: the learner catches up from a snapshot"
        );
        let promoted: Vec<u64> = logs_with(&o, "promoted member 4").map(|(t, _)| t).collect();
        assert_eq!(promoted.len(), 3, "{etcd}: three voters again");
        assert!(promoted[0] >= snap.unwrap().0);
        assert!(
            promoted[0] < 250_000_000_000,
            "{etcd}: promoted within 10 s of the add"
        );
        assert_eq!(metric(&o, "etcd_quorum.downtime_s"), 0.0, "{etcd}");
        assert_eq!(metric(&o, "data.acknowledged_writes_lost"), 0.0, "{etcd}");
        assert_eq!(metric(&o, "invariants.violations"), 0.0, "{etcd}");
    }
}

#[test]
fn strict_reconfig_check_refuses_a_removal_that_would_lose_quorum() {
    // cp-3 is down: removing cp-2 would leave 2 voters of which only cp-1 runs.
    let o = run_json(
        &cluster(
            "stacked",
            "",
            r#"{"at":"2m","kind":"crash","target":"cp-3/etcd"},
               {"at":"3m","kind":"member-remove","target":"cp-2"}"#,
        ),
        1,
    );
    let why = o.faults[1].did_nothing.clone().unwrap_or_default();
    assert!(why.contains("unhealthy cluster"), "{why}");
    assert_eq!(logs_with(&o, "removed member").count(), 0);
    // Removing the dead one is allowed: the two that run are the quorum of two.
    let ok = run_json(
        &cluster(
            "stacked",
            "",
            r#"{"at":"2m","kind":"crash","target":"cp-3/etcd"},
               {"at":"3m","kind":"member-remove","target":"cp-3"}"#,
        ),
        1,
    );
    assert!(ok.faults[1].did_nothing.is_none());
    assert_eq!(logs_with(&ok, "removed member 3").count(), 2);
}

#[test]
fn one_change_at_a_time_and_a_member_is_added_only_after_its_old_self_is_removed() {
    let o = run_json(
        &cluster(
            "stacked",
            "",
            r#"{"at":"2m","kind":"wipe-data","target":"cp-2"},
               {"at":"3m","kind":"member-add","target":"cp-2"},
               {"at":"4m","kind":"member-remove","target":"cp-2"},
               {"at":"4m","kind":"member-add","target":"cp-2"}"#,
        ),
        1,
    );
    let add_first = o.faults[1].did_nothing.clone().unwrap_or_default();
    assert!(add_first.contains("peerURL exists"), "{add_first}");
    assert!(o.faults[2].did_nothing.is_none());
    // Proposed at the same instant, the add finds the removal not yet applied.
    let add_second = o.faults[3].did_nothing.clone().unwrap_or_default();
    assert!(
        add_second.contains("conf change pending") || add_second.contains("peerURL exists"),
        "{add_second}"
    );
}

#[test]
fn a_removed_leader_steps_down_and_the_others_elect_one_of_themselves() {
    let o = run_json(
        &cluster(
            "stacked",
            "",
            r#"{"at":"2m","kind":"member-remove","target":"leader:etcd"}"#,
        ),
        2,
    );
    assert!(o.faults[0].did_nothing.is_none());
    let removed = o.faults[0].resolved.clone();
    assert!(logs_with(&o, "permanently removed").count() >= 1);
    // A new leader among the two left, within a couple of election timeouts.
    assert!(metric(&o, "etcd.leader_changes") >= 1.0);
    assert!(metric(&o, "etcd_quorum.longest_outage_s") < 5.0);
    assert_eq!(metric(&o, "invariants.violations"), 0.0);
    assert_eq!(metric(&o, "data.acknowledged_writes_lost"), 0.0);
    // The removed member's process stays down: it may not start as a removed member.
    let refused =
        logs_with(&o, "may not start").count() + logs_with(&o, "permanently removed").count();
    assert!(refused >= 1, "{removed}");
}
