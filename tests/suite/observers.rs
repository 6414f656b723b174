//! The observers (capabilities, workloads, scrapes) re-run only after a change that sets the world's
//! dirty flag: a traced state change, a fault, a process starting or stopping, or a leader's action
//! while scheduling or reconciliation is down. Re-running them after every event instead must give
//! the same trace, or the flag misses a change they judge and a timeline would show it late.

use kube_ha_sim::scenario::load_scenario;
use kube_ha_sim::world::World;

/// Library scenarios whose capabilities move for many reasons: leaders of the controllers lost and
/// regained (crashes, a pause, a clock), etcd's quorum lost and regained, the VIP moving, partitions
/// and a zone outage, workloads rescheduled.
#[test]
fn observing_after_every_event_traces_the_same_as_the_dirty_flag() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for name in [
        "stacked-scheduler-crash.json",
        "external-controller-manager-crash.json",
        "controller-manager-leader-paused.json",
        "clock-slow-on-controller-manager-leader.json",
        "stacked-etcd-leader-crash.json",
        "stacked-two-of-three-cp-lost.json",
        "external-vip-holder-crash.json",
        "workers-partitioned-control-plane-nodes-count.json",
        "zone-outage-spread.json",
        "worker-crash.json",
        "leader-election-disabled.json",
    ] {
        let plan = load_scenario(&dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        for seed in [1, 5] {
            let mut flagged = World::build(&plan, seed);
            flagged.run().expect("runs");
            let mut always = World::build(&plan, seed).observing_every_event();
            always.run().expect("runs");
            let (a, b) = (&flagged.trace().events, &always.trace().events);
            let first = a.iter().zip(b.iter()).position(|(x, y)| x != y);
            assert!(
                a.len() == b.len() && first.is_none(),
                "{name} seed {seed}: the traces part at event {:?} ({} and {} events): {:?} against {:?}",
                first,
                a.len(),
                b.len(),
                first.map(|i| &a[i]),
                first.map(|i| &b[i]),
            );
        }
    }
}
