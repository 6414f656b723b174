//! Restart storms of relisting clients (issue 14 item 3): informers (`load.informers`) LIST, then
//! WATCH; when an API server dies on a live host its kernel resets their watches at once (HAProxy
//! passing the reset on), and they relist after client-go's reflector back-off. A node that loses its
//! power sends no reset: its informers find out by the HTTP/2 health check, 30-45 s later.

use crate::common::{metric, run_json};
use kube_ha_sim::components::informers::{
    ReflectorBackoff, BACKOFF_INITIAL_NS, BACKOFF_MAX_NS, BACKOFF_RESET_NS,
};
use kube_ha_sim::run::Outcome;

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;
/// When the scenarios below kill cp-1's API server (or its node).
const CRASH_NS: u64 = 120 * S;

fn storm(target: &str, kind: &str, informers: &str) -> String {
    format!(
        r#"{{"name":"storm","duration":"4m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":1}},
            "load":{{"requests_per_second":5,"start":"45s","informers":{{{informers}}}}},
            "faults":[{{"at":"2m","kind":"{kind}","target":"{target}"}}]}}"#
    )
}

fn relists_in(o: &Outcome, from_ns: u64, to_ns: u64) -> Vec<u64> {
    o.trace
        .relists
        .iter()
        .copied()
        .filter(|&t| t >= from_ns && t < to_ns)
        .collect()
}

#[test]
fn an_apiserver_crash_resets_its_watches_into_a_relist_storm_a_power_loss_does_not() {
    let informers = r#""count":300,"objects":1000"#;
    let crash = run_json(&storm("cp-1/kube-apiserver", "crash", informers), 3);
    let power = run_json(&storm("cp-1", "crash", informers), 3);
    // About a third of the informers watched through cp-1: all relist within 2 s of the reset.
    let burst = relists_in(&crash, CRASH_NS, CRASH_NS + 2 * S).len();
    assert!((70..=130).contains(&burst), "burst of {burst} relists");
    assert!(metric(&crash, "api.relists_peak_per_s") >= 50.0);
    // Without a reset nobody relists at once; the health check (30 s idle + 15 s PING) ends the
    // dead node's watches later, and they relist then.
    assert_eq!(relists_in(&power, CRASH_NS, CRASH_NS + 10 * S).len(), 0);
    let late = relists_in(&power, CRASH_NS + 10 * S, CRASH_NS + 50 * S).len();
    assert!(
        (70..=130).contains(&late),
        "{late} relists after the health check"
    );
    // Leader election keeps its seats through the storm.
    assert_eq!(
        metric(&crash, "api.throttled_requests.leader-election"),
        0.0
    );
    assert_eq!(metric(&crash, "scheduler.leader_changes"), 0.0);
    assert_eq!(metric(&crash, "controller_manager.leader_changes"), 0.0);
}

#[test]
fn relists_follow_the_reflector_backoff_after_the_reset() {
    let o = run_json(
        &storm(
            "cp-1/kube-apiserver",
            "crash",
            r#""count":300,"objects":1000"#,
        ),
        5,
    );
    let first = relists_in(&o, CRASH_NS, CRASH_NS + 10 * S);
    assert!(!first.is_empty());
    // No relist before the first wait (0.8 s), and the first wait is at most 1.6 s (plus the
    // reset's and the LIST's way over the network, well under 50 ms here).
    assert!(first.iter().all(|&t| t >= CRASH_NS + 800 * MS), "{first:?}");
    let in_first_wait = first.iter().filter(|&&t| t < CRASH_NS + 1650 * MS).count();
    assert!(
        in_first_wait * 10 >= first.len() * 9,
        "{in_first_wait} of {} in [0.8 s, 1.65 s)",
        first.len()
    );
    // Jittered: spread over the wait, not all at one instant.
    let (lo, hi) = (first[0], first[in_first_wait - 1]);
    assert!(hi - lo > 400 * MS, "spread {} ms", (hi - lo) / MS);
}

#[test]
fn a_rewatch_from_the_watch_cache_or_a_graceful_stop_relists_nothing() {
    let rewatch = run_json(
        &storm(
            "cp-1/kube-apiserver",
            "crash",
            r#""count":300,"after_broken_watch":"rewatch""#,
        ),
        3,
    );
    assert_eq!(metric(&rewatch, "api.relists"), 0.0);
    // A graceful stop ends the watches cleanly (GOAWAY): they watch again elsewhere, no LIST.
    let stop = run_json(&storm("cp-1/kube-apiserver", "stop", r#""count":300"#), 3);
    assert_eq!(metric(&stop, "api.relists"), 0.0);
    // Without informers the metrics are absent.
    let none = run_json(&storm("cp-1/kube-apiserver", "crash", ""), 3);
    assert!(!none.metrics.contains_key("api.relists"));
}

#[test]
fn every_informer_field_changes_the_run() {
    let base = r#""count":60,"objects":500,"after_broken_watch":"relist""#;
    let hash = |informers: &str| {
        run_json(&storm("cp-1/kube-apiserver", "crash", informers), 2)
            .trace
            .hash()
    };
    let h = hash(base);
    for other in [
        r#""count":61,"objects":500,"after_broken_watch":"relist""#,
        r#""count":60,"objects":5000,"after_broken_watch":"relist""#,
        r#""count":60,"objects":500,"after_broken_watch":"rewatch""#,
    ] {
        assert_ne!(h, hash(other), "{other} changed nothing");
    }
}

#[test]
fn reflector_backoff_is_client_gos() {
    let mut b = ReflectorBackoff::default();
    let mut now = 0;
    let mut last = 0;
    let mut d = BACKOFF_INITIAL_NS;
    // Doubling from 800 ms, each wait jittered into [d, 2d), capped at 30 s ([30, 60) s).
    for (k, unit) in [0.0, 0.5, 0.999, 0.25, 0.0, 0.75, 0.5, 0.1]
        .into_iter()
        .enumerate()
    {
        last = now;
        let w = b.next(now, unit);
        assert!(w >= d && w < 2 * d, "wait {k}: {w} for d {d}");
        now += w;
        d = (d * 2).min(BACKOFF_MAX_NS);
    }
    assert_eq!(d, BACKOFF_MAX_NS);
    // Two quiet minutes reset it to 800 ms; exactly two minutes do not.
    let mut c = b;
    assert!(c.next(last + BACKOFF_RESET_NS, 0.0) >= BACKOFF_MAX_NS);
    assert_eq!(b.next(last + BACKOFF_RESET_NS + 1, 0.0), BACKOFF_INITIAL_NS);
}
