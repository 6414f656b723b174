//! Alert timings pinned against the rules' own arithmetic (`observe::alerts`): an alert whose
//! expression starts holding at `t` goes pending at the first evaluation at or after `t` and fires
//! `for:` later, so it fires between `for` and `for` plus one evaluation interval after `t`; it resolves
//! at the first evaluation at which the expression no longer holds.

use kube_ha_sim::engine::{Nanos, SEC};
use kube_ha_sim::observe::alerts::{
    first_evaluation, Alert, AlertRun, AlertState, EVALUATION_INTERVAL_NS,
};
use kube_ha_sim::observe::TraceKind;
use kube_ha_sim::run::{run, Outcome};
use kube_ha_sim::scenario::{load_scenario, parse_scenario};

fn library(name: &str, seed: Option<u64>) -> Outcome {
    let s = load_scenario(std::path::Path::new(&format!("scenarios/{name}.json"))).unwrap();
    run(&s, seed.unwrap_or(s.seed)).unwrap()
}

fn alert(o: &Outcome, a: Alert) -> &AlertRun {
    o.alerts
        .iter()
        .find(|r| r.alert == a)
        .unwrap_or_else(|| panic!("{} not evaluated", a.name()))
}

/// The first evaluation at or after `t`.
fn eval_after(o: &Outcome, t: Nanos) -> Nanos {
    let first = first_evaluation(o.warmup_ns.unwrap(), o.seed);
    if t <= first {
        return first;
    }
    first + (t - first).div_ceil(EVALUATION_INTERVAL_NS) * EVALUATION_INTERVAL_NS
}

/// When the surviving member (cp-3's) lost its leader after the fault, and when it next knew one.
fn leader_lost_and_back(o: &Outcome, fault_ns: Nanos) -> (Nanos, Nanos) {
    let member = o
        .layout
        .procs
        .iter()
        .position(|p| p.name == "cp-3/etcd")
        .unwrap() as u16;
    let mut lost = None;
    for e in &o.trace.events {
        if let TraceKind::EtcdHealth {
            proc, has_leader, ..
        } = e.kind
        {
            if proc != member || e.time_ns < fault_ns {
                continue;
            }
            match (lost, has_leader) {
                (None, false) => lost = Some(e.time_ns),
                (Some(l), true) => return (l, e.time_ns),
                _ => {}
            }
        }
    }
    panic!("cp-3/etcd never lost and regained its leader")
}

#[test]
fn etcd_no_leader_fires_one_minute_plus_up_to_one_interval_after_the_leader_loss() {
    for seed in [7, 8] {
        let o = library("alerts-etcd-quorum-lost", Some(seed));
        let fault = 120 * SEC;
        let (lost, back) = leader_lost_and_back(&o, fault);
        let a = alert(&o, Alert::EtcdNoLeader);
        let fired = a.firing_starts().next().expect("etcdNoLeader fired");
        let pending = eval_after(&o, lost);
        assert_eq!(
            a.spans[0].start_ns, pending,
            "pending from the first evaluation seeing it"
        );
        assert_eq!(a.spans[0].state, AlertState::Pending);
        assert_eq!(
            fired,
            pending + 60 * SEC,
            "fires when pending has lasted for: 1m"
        );
        let delay = fired - lost;
        assert!(
            (60 * SEC..90 * SEC).contains(&delay),
            "seed {seed}: fired {delay} ns after the loss; the rule allows 1m to 1m30s"
        );
        // Resolved at the first evaluation after the member knows a leader again.
        let last = a.spans.last().unwrap();
        assert_eq!(last.end_ns, eval_after(&o, back));
        assert_eq!(a.fired, vec!["cp-3/etcd".to_string()]);
    }
}

#[test]
fn each_rule_fires_for_after_its_condition_is_first_seen() {
    // Both nodes crash at 2 m: every scrape of their processes fails from that instant.
    let o = library("alerts-etcd-quorum-lost", None);
    let seen = eval_after(&o, 120 * SEC);
    for (a, for_s) in [
        (Alert::EtcdInsufficientMembers, 180),
        (Alert::EtcdMembersDown, 600),
        (Alert::TargetDown, 600),
        (Alert::KubeApiInstanceUnreachable, 900),
        (Alert::KubeSchedulerInstanceUnreachable, 900),
    ] {
        assert_eq!(a.def().for_ns, for_s * SEC, "{}", a.name());
        let r = alert(&o, a);
        assert_eq!(r.spans[0].start_ns, seen, "{} pending", a.name());
        assert_eq!(
            r.firing_starts().next(),
            Some(seen + for_s * SEC),
            "{} firing",
            a.name()
        );
        // The nodes return at 22 m: resolved at the first evaluation after their processes answer.
        assert!(r.spans.last().unwrap().end_ns > 22 * 60 * SEC);
    }
    // One API server is still scraped: absent(up == 1) never holds.
    assert!(!alert(&o, Alert::KubeApiDown).fired());
    // With no quorum the node lifecycle controller cannot write NotReady: kube-state-metrics never
    // sees it.
    assert!(!alert(&o, Alert::KubeNodeNotReady).fired());
    // The metrics agree with the spans.
    let detect = o.metrics["alert.etcdInsufficientMembers.detect_s"];
    assert_eq!(detect, (seen + 180 * SEC - 120 * SEC) as f64 / 1e9);
    assert_eq!(o.metrics["alert.KubeAPIDown.firings"], 0.0);
}

#[test]
fn node_not_ready_fires_fifteen_minutes_after_the_stored_condition_changes() {
    let o = library("alerts-worker-down", None);
    let worker = o
        .layout
        .nodes
        .iter()
        .position(|n| n.name == "worker-1")
        .unwrap() as u16;
    let unknown = o
        .trace
        .events
        .iter()
        .find_map(|e| match e.kind {
            TraceKind::NodeReady { node, ready: false } if node == worker => Some(e.time_ns),
            _ => None,
        })
        .expect("worker-1 went NotReady in the API");
    // node-monitor-grace-period (50 s) after the last lease renewal the controller saw (renewed every
    // 10 s, so up to 10 s before the crash at 2 m), plus the controller's 5 s period and the write.
    assert!((160 * SEC..190 * SEC).contains(&unknown), "{unknown}");
    for a in [Alert::KubeNodeNotReady, Alert::KubeNodeUnreachable] {
        let r = alert(&o, a);
        assert_eq!(
            r.firing_starts().next(),
            Some(eval_after(&o, unknown) + 15 * 60 * SEC),
            "{}",
            a.name()
        );
        assert_eq!(r.fired, vec!["worker-1".to_string()]);
    }
    // Half the kubelets' scrapes fail from the crash: over TargetDown's 10 %.
    assert_eq!(
        alert(&o, Alert::TargetDown).firing_starts().next(),
        Some(eval_after(&o, 120 * SEC) + 600 * SEC)
    );
    assert!(!alert(&o, Alert::EtcdNoLeader).fired());
}

#[test]
fn evaluations_are_seeded_and_repeatable() {
    let a = first_evaluation(10 * SEC, 7);
    assert_eq!(a, first_evaluation(10 * SEC, 7));
    assert!((10 * SEC..40 * SEC).contains(&a));
    assert_ne!(a, first_evaluation(10 * SEC, 8));
    assert_eq!(a % 1_000_000, 0, "whole milliseconds");
}

fn scenario_with(expect: &str) -> String {
    format!(
        r#"{{"name": "x", "duration": "5m",
  "topology": {{"etcd": "stacked", "control_plane_nodes": 3}},
  "expect": [{expect}]}}"#
    )
}

#[test]
fn alert_expectations_are_validated_with_suggestions() {
    let err = |e: &str| {
        parse_scenario(&scenario_with(e), "x.json")
            .err()
            .unwrap_or_else(|| panic!("{e} accepted"))
            .to_string()
    };
    let e = err(r#"{"alert": "etcdNoLeadr", "fires_within": "2m"}"#);
    assert!(e.contains("did you mean `etcdNoLeader`"), "{e}");
    assert!(e.contains("expect[0].alert"), "{e}");
    assert!(
        e.contains("allowed: etcdNoLeader, etcdInsufficientMembers"),
        "{e}"
    );
    assert!(e.contains("x.json:3:"), "{e}");
    let e = err(r#"{"alert": "etcdNoLeader"}"#);
    assert!(e.contains("no bound"), "{e}");
    let e = err(r#"{"alert": "etcdNoLeader", "at_most": 3}"#);
    assert!(e.contains("expect[0].at_most"), "{e}");
    let e = err(r#"{"alert": "etcdNoLeader", "never_fires": false}"#);
    assert!(e.contains("takes only `true`"), "{e}");
    let e = err(r#"{"metric": "api.availability", "fires_within": "1m"}"#);
    assert!(e.contains("applies to an alert"), "{e}");
    let e = err(r#"{"at_least": 1}"#);
    assert!(e.contains("needs `metric`"), "{e}");
    parse_scenario(
        &scenario_with(r#"{"alert": "KubeAPIDown", "never_fires": true}"#),
        "x.json",
    )
    .unwrap();
}

#[test]
fn a_late_alert_fails_fires_within_and_the_report_says_so() {
    let text = std::fs::read_to_string("scenarios/alerts-worker-down.json").unwrap();
    let text = text.replace(
        r#"{ "alert": "TargetDown", "fires_within": "10m30s" }"#,
        r#"{ "alert": "TargetDown", "fires_within": "5m" }"#,
    );
    let s = parse_scenario(&text, "w.json").unwrap();
    let o = run(&s, s.seed).unwrap();
    let v = &o.verdicts[0];
    assert!(!v.passed);
    assert!(v.actual.unwrap() > 600.0);
    let summary = kube_ha_sim::report::text::summary(&o);
    assert!(
        summary.contains("FAIL TargetDown fires within 5m of the first fault (actual fired"),
        "{summary}"
    );
    let json = kube_ha_sim::report::json::report(&o);
    assert_eq!(json["expectations"][0]["alert"], "TargetDown");
    assert_eq!(json["expectations"][0]["passed"], false);
    assert_eq!(
        json["alerts"]["rules"].as_array().unwrap().len(),
        o.alerts.len()
    );
}

#[test]
fn the_alert_bands_say_pending_and_firing() {
    let o = library("alerts-worker-down", None);
    let svg = kube_ha_sim::report::svg::render_svg(&o);
    let band = svg
        .split("class=\"band alert\" data-alert=\"KubeNodeNotReady\"")
        .nth(1)
        .expect("a band for the alert that fired");
    let band = &band[..band.find("</g>").unwrap_or(band.len())];
    assert!(band.contains("<title>pending "), "{band}");
    assert!(band.contains("<title>firing "), "{band}");
    assert!(!band.contains("<title>unready ") && !band.contains("<title>down "));
}
