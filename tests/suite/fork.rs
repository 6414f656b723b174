//! Forking a world (issue 12, item 5): a world run to T and forked into a plan with faults after T
//! gives, byte for byte, the report of a plain run of that plan; the original runs on undisturbed.

use kube_ha_sim::engine::{Nanos, SEC};
use kube_ha_sim::report::json::report;
use kube_ha_sim::run::{run, run_world, Outcome};
use kube_ha_sim::scenario::{parse_scenario, Plan};
use kube_ha_sim::world::{ForkError, World};

/// A cluster with something of everything a fork must carry: stacked etcd, a VIP pair of load
/// balancers, workers with a workload, client load; `faults` and `duration` vary.
fn plan(duration: &str, faults: &str) -> Plan {
    let text = format!(
        r#"{{"name":"fork","duration":"{duration}",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":2,"zones":["a","b","c"],
                         "load_balancers":2}},
            "load":{{"requests_per_second":20}},
            "workloads":[{{"name":"web","replicas":4}}],
            "faults":[{faults}]}}"#
    );
    parse_scenario(&text, "fork.json").unwrap_or_else(|e| panic!("bad test scenario: {e}"))
}

/// The crash story the forks are compared on: the etcd leader's node crashes and comes back, another
/// control-plane node crashes and is restarted, the VIP holder crashes for a while.
const CRASHES: &str = r#"
    {"at":"60s","kind":"crash","target":"leader:etcd","for":"40s"},
    {"at":"75s","kind":"crash","target":"cp-2"},
    {"at":"150s","kind":"restart","target":"cp-2"},
    {"at":"170s","kind":"crash","target":"vip-holder","for":"30s"}"#;

/// The report as the user gets it, plus the trace hash it contains: equal text means an equal run.
fn text(o: &Outcome) -> String {
    serde_json::to_string_pretty(&report(o)).expect("a report serialises")
}

fn plain(p: &Plan, seed: u64) -> String {
    text(&run(p, seed).expect("the plain run"))
}

fn forked(warm: &World, p: &Plan) -> String {
    let w = warm.fork_with(p).expect("the fork");
    text(&run_world(p, w).expect("the forked run"))
}

#[test]
fn a_fork_with_the_crashes_added_equals_the_plain_run_at_every_fork_time() {
    let full = plan("4m", CRASHES);
    // The warm-up knows no faults and a shorter duration: the fork takes both from the full plan.
    let quiet = plan("60s", "");
    for seed in [1, 7] {
        let expected = plain(&full, seed);
        assert!(
            expected.contains("\"leader:etcd\""),
            "the crash is reported"
        );
        for t in [SEC / 1000, 20 * SEC, 45 * SEC, 60 * SEC - 1] {
            let mut warm = World::build(&quiet, seed);
            warm.run_until(t).expect("warm-up");
            assert!(warm.events_processed() > 0 || t < SEC);
            assert_eq!(
                forked(&warm, &full),
                expected,
                "seed {seed}: forked at {t} ns, the report differs from the plain run's"
            );
        }
    }
}

#[test]
fn a_fork_after_some_faults_fired_adds_the_rest() {
    let full = plan("4m", CRASHES);
    // The world has had its first fault (60 s) and runs to just before the second (75 s).
    let first = plan(
        "4m",
        r#"{"at":"60s","kind":"crash","target":"leader:etcd","for":"40s"}"#,
    );
    let mut warm = World::build(&first, 3);
    warm.run_until(75 * SEC - 1).expect("first part");
    assert_eq!(forked(&warm, &full), plain(&full, 3));
}

/// A fault added by the fork at the very instant an earlier fault ends: a plain run applies the
/// scripted fault first (it was queued at the start), then the end the run queued when the first fault
/// fired. The fork must keep that order although it queues the new fault last.
#[test]
fn a_fault_added_at_the_instant_another_ends_keeps_the_plain_order() {
    let first = r#"{"at":"40s","kind":"crash","target":"cp-1","for":"20s"}"#;
    let full = plan(
        "3m",
        &format!(r#"{first}, {{"at":"60s","kind":"crash","target":"cp-1","for":"30s"}}"#),
    );
    let mut warm = World::build(&plan("3m", first), 5);
    warm.run_until(50 * SEC).expect("first part");
    let expected = plain(&full, 5);
    assert_eq!(forked(&warm, &full), expected);
}

#[test]
fn forking_does_not_disturb_the_original() {
    let full = plan("4m", CRASHES);
    let more = plan(
        "5m",
        &format!(r#"{CRASHES}, {{"at":"250s","kind":"crash","target":"leader:etcd"}}"#),
    );
    let mut original = World::build(&full, 11);
    original.run_until(100 * SEC).expect("first part");
    // Two forks, each run to its end before the original goes on.
    let a = forked(&original, &more);
    let b = text(&run_world(&full, original.fork()).expect("plain fork"));
    let after_forks = text(&run_world(&full, original).expect("the original, run on"));
    let expected = plain(&full, 11);
    assert_eq!(
        after_forks, expected,
        "the original changed when it was forked"
    );
    assert_eq!(b, expected, "an unchanged fork runs on as the original");
    assert_eq!(a, plain(&more, 11), "the fork with a later fault added");
    assert_ne!(a, expected, "the added fault changed the run");
}

#[test]
fn a_fork_refuses_what_a_plain_run_would_not_match() {
    let mut warm = World::build(&plan("4m", ""), 1);
    warm.run_until(70 * SEC).expect("warm-up");
    // A fault at 60 s would already have fired in a plain run.
    assert!(matches!(
        warm.fork_with(&plan("4m", CRASHES)),
        Err(ForkError::FaultTooEarly { index: 0, .. })
    ));
    // Another cluster.
    let mut other = plan("4m", "");
    other.load.requests_per_second = 30.0;
    assert_eq!(
        warm.fork_with(&other).err(),
        Some(ForkError::ModelDiffers("load"))
    );
    // The world's faults must come first.
    let mut faulty = World::build(
        &plan("4m", r#"{"at":"10s","kind":"crash","target":"cp-1"}"#),
        1,
    );
    faulty.run_until(20 * SEC).expect("warm-up");
    assert_eq!(
        faulty
            .fork_with(&plan(
                "4m",
                r#"{"at":"30s","kind":"crash","target":"cp-1"}"#
            ))
            .err(),
        Some(ForkError::FaultsDiffer { index: 0 })
    );
    let end: Nanos = 60 * SEC;
    assert!(matches!(
        warm.fork_with(&plan("60s", "")),
        Err(ForkError::EndsTooEarly { end_ns, .. }) if end_ns == end
    ));
}
