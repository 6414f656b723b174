//! Stalls: `pause` (SIGSTOP, a VM freeze, a long GC or I/O stall) and `defrag` (an etcd member's
//! backend locked while bbolt rewrites it), pinned against what the real processes do.

use crate::common::{metric, run_json};
use kube_ha_sim::components::etcd::types::Role;
use kube_ha_sim::observe::{ProcState, TraceKind};
use kube_ha_sim::run::Outcome;

fn stacked(duration: &str, extra: &str, faults: &str) -> String {
    format!(
        r#"{{"name":"t","duration":"{duration}",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],
                         "load_balancers":1,"endpoint":"load-balancer"}}{extra},
            "faults":[{faults}]}}"#
    )
}

fn proc_named(o: &Outcome, name: &str) -> u16 {
    o.layout.procs.iter().position(|p| p.name == name).unwrap() as u16
}

/// The process a fault resolved to ("cp-2/etcd").
fn resolved(o: &Outcome, i: usize) -> String {
    o.faults[i].resolved.clone()
}

#[test]
fn a_paused_etcd_leader_is_replaced_and_steps_down_without_campaigning_when_it_runs_again() {
    for seed in 1..=5 {
        let o = run_json(
            &stacked(
                "3m",
                "",
                r#"{"at":"60s","kind":"pause","target":"leader:etcd","for":"5s"}"#,
            ),
            seed,
        );
        let old = proc_named(&o, &resolved(&o, 0));
        let (pause, resume) = (60_000_000_000u64, 65_000_000_000u64);
        // Another member leads before the pause ends: the stalled leader sends no heartbeats.
        let replaced = o.trace.events.iter().any(|e| {
            e.time_ns > pause
                && e.time_ns < resume
                && matches!(e.kind, TraceKind::EtcdRole { proc, role: Role::Leader, .. } if proc != old)
        });
        assert!(
            replaced,
            "seed {seed}: a new leader is elected during the stall"
        );
        // When it runs again it follows: the one tick its ticker kept does not make it campaign (the
        // 50 ticks that fell due meanwhile are dropped, as Go's time.Ticker drops them).
        let campaigned = o.trace.events.iter().any(|e| {
            e.time_ns >= resume && matches!(e.kind, TraceKind::Campaign { proc, .. } if proc == old)
        });
        assert!(
            !campaigned,
            "seed {seed}: the old leader campaigned on resume"
        );
        let stepped_down = o.trace.events.iter().any(|e| {
            e.time_ns == resume
                && matches!(e.kind, TraceKind::EtcdRole { proc, role: Role::Follower, .. } if proc == old)
        });
        assert!(stepped_down, "seed {seed}: it steps down as it runs again");
        assert_eq!(metric(&o, "etcd.leader_changes"), 1.0, "seed {seed}");
        assert_eq!(metric(&o, "invariants.violations"), 0.0, "seed {seed}");
        assert_eq!(metric(&o, "data.acknowledged_writes_lost"), 0.0);
    }
}

#[test]
fn a_stalled_process_is_drawn_paused_and_not_restarted_though_it_answers_nothing() {
    let o = run_json(
        &stacked(
            "2m",
            "",
            r#"{"at":"60s","kind":"pause","target":"cp-1/kube-apiserver","for":"20s"}"#,
        ),
        1,
    );
    let api = proc_named(&o, "cp-1/kube-apiserver");
    let states: Vec<(u64, ProcState)> = o
        .trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Proc { proc, state } if proc == api && e.time_ns >= 60_000_000_000 => {
                Some((e.time_ns, state))
            }
            _ => None,
        })
        .collect();
    assert_eq!(states[0], (60_000_000_000, ProcState::Paused));
    assert_eq!(
        states[1].0, 80_000_000_000,
        "it runs again when the pause ends"
    );
    assert_ne!(states[1].1, ProcState::Paused);
    assert!(
        !states.iter().any(|(_, s)| *s == ProcState::Down),
        "a stalled process is not restarted: nothing killed it"
    );
}

#[test]
fn a_kcm_leader_that_stalls_past_its_lease_acts_for_one_renew_deadline_after_it_resumes() {
    // client-go: the stalled leader's next renew cycle gets a fresh RenewDeadline (10 s); every
    // renewal fails against the new holder, then it gives up ("leaderelection lost") and exits.
    let o = run_json(
        &stacked(
            "4m",
            "",
            r#"{"at":"60s","kind":"pause","target":"leader:kube-controller-manager","for":"30s"}"#,
        ),
        3,
    );
    assert_eq!(metric(&o, "controller_manager.leader_changes"), 1.0);
    let split = metric(&o, "reconciliation.split_brain_s");
    assert!((9.0..=10.5).contains(&split), "split brain {split} s");
    // While it is stalled it acts on nothing: a standby that took over is the only one acting.
    let short = run_json(
        &stacked(
            "4m",
            "",
            r#"{"at":"60s","kind":"pause","target":"leader:kube-controller-manager","for":"8s"}"#,
        ),
        3,
    );
    assert_eq!(
        metric(&short, "controller_manager.leader_changes"),
        0.0,
        "a stall shorter than the lease duration (15 s) moves no lease"
    );
    assert_eq!(metric(&short, "reconciliation.split_brain_s"), 0.0);
}

#[test]
fn defrag_locks_one_members_clients_for_a_time_by_its_size_and_raft_goes_on() {
    let scenario = |bytes: u64| {
        stacked(
            "6m",
            &format!(
                r#","settings":{{"etcd":{{"bytes_per_revision":{bytes}}}}},
                   "load":{{"requests_per_second":20,"write_ratio":0.5}}"#
            ),
            r#"{"at":"5m","kind":"defrag","target":"leader:etcd"}"#,
        )
    };
    let took = |o: &Outcome| {
        let member = proc_named(o, &format!("{}/etcd", resolved(o, 0)));
        let start = o.trace.events.iter().find_map(|e| match &e.kind {
            TraceKind::Log { proc, text }
                if *proc == member && text.starts_with("starting to defragment") =>
            {
                Some(e.time_ns)
            }
            _ => None,
        });
        let end = o.trace.events.iter().find_map(|e| match &e.kind {
            TraceKind::Log { proc, text }
                if *proc == member && text.starts_with("finished defragmenting") =>
            {
                Some(e.time_ns)
            }
            _ => None,
        });
        (end.unwrap() - start.unwrap()) as f64 / 1e9
    };
    let small = run_json(&scenario(1024), 1);
    let big = run_json(&scenario(128 * 1024), 1);
    let (t_small, t_big) = (took(&small), took(&big));
    assert!(
        t_small < 0.5,
        "a small database defragments in well under a second: {t_small}"
    );
    // 128 times the bytes per revision: about 128 times as long (13 ms a MB).
    assert!(
        t_big > 50.0 * t_small && t_big > 3.0,
        "{t_small} s vs {t_big} s"
    );
    for o in [&small, &big] {
        assert_eq!(
            metric(o, "etcd.leader_changes"),
            0.0,
            "Raft goes on: no election"
        );
        assert_eq!(metric(o, "etcd_quorum.downtime_s"), 0.0);
        assert_eq!(metric(o, "data.acknowledged_writes_lost"), 0.0);
    }
    // The member is drawn unready (serving no client) for the defrag, then up again.
    let member = proc_named(&big, &format!("{}/etcd", resolved(&big, 0)));
    let states: Vec<ProcState> = big
        .trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            TraceKind::Proc { proc, state } if proc == member && e.time_ns >= 300_000_000_000 => {
                Some(state)
            }
            _ => None,
        })
        .collect();
    assert_eq!(states, vec![ProcState::Unready, ProcState::Up]);
}

#[test]
fn a_leader_still_stalled_at_the_end_is_not_taken_for_the_current_one() {
    // The stalled leader of term 1 still believes it leads when the run ends; the leader of term 2
    // lost its quorum to a partition. Writes acknowledged in term 2 are not "missing" from the
    // stalled one: only a leader of the latest term must hold them (swarm seed 48).
    let o = run_json(
        &stacked(
            "90s",
            r#","load":{"requests_per_second":30,"write_ratio":1.0}"#,
            r#"{"at":"21s","kind":"pause","target":"leader:etcd"},
               {"at":"59s","kind":"partition","groups":[["cp-1"],["cp-2","cp-3","lb-1"]]}"#,
        ),
        48,
    );
    assert!(metric(&o, "api.requests") > 0.0);
    assert_eq!(metric(&o, "invariants.violations"), 0.0);
    assert_eq!(metric(&o, "data.acknowledged_writes_lost"), 0.0);
}
