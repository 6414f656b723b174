//! The kubelet's probes of the kube-apiserver static pod (kubeadm's manifest: liveness and startup
//! probes of `/livez`) and the API server's `rbac/bootstrap-roles` post-start hook: what keeps an
//! API server without etcd quorum from simply waiting for it.

use crate::common::{log_times, proc_id, run_json, state_times};
use kube_ha_sim::observe::{ProcState, TraceKind};
use kube_ha_sim::run::Outcome;

/// External etcd (3 members); etcd-2 and etcd-3 die at 60 s for `outage`, so every API server
/// loses quorum while its own process and host stay up.
fn quorum_lost(outage: &str, duration: &str, probe: bool) -> String {
    format!(
        r#"{{"name":"t","duration":"{duration}",
            "topology":{{"etcd":"external","control_plane_nodes":3,"etcd_nodes":3,"zones":["a","b","c"],"load_balancers":1}},
            "settings":{{"kubelet":{{"apiserver_liveness_probe":{probe}}}}},
            "faults":[{{"at":"60s","kind":"crash","target":"etcd-2","for":"{outage}"}},
                      {{"at":"60s","kind":"crash","target":"etcd-3","for":"{outage}"}}]}}"#
    )
}

/// The times (s) of the log lines of the process named `proc` containing `needle`.
fn logs(o: &Outcome, proc: &str, needle: &str) -> Vec<f64> {
    log_times(o, proc_id(o, proc), needle)
}

/// When (s) the process named `proc` went down.
fn downs(o: &Outcome, proc: &str) -> Vec<f64> {
    state_times(o, proc_id(o, proc), ProcState::Down)
}

/// /livez runs the `etcd` check, so without quorum every probe fails (a 500 after the check's 2 s
/// timeout). The kubelet kills the container after 8 failed probes 10 s apart: the first failing
/// probe comes within one period of the loss, so the kill comes 70-92 s after it. Its SIGTERM
/// closes the listener; what is in flight drains, or the SIGKILL 30 s later ends it. With the
/// probe off the server just waits.
#[test]
fn without_quorum_the_kubelet_kills_kube_apiserver_after_eight_failed_liveness_probes() {
    for seed in 1..=3 {
        let o = run_json(&quorum_lost("10m", "8m", true), seed);
        for cp in ["cp-1", "cp-2", "cp-3"] {
            let kubelet = format!("{cp}/kubelet");
            let kills = logs(&o, &kubelet, "failed liveness probe, will be restarted");
            let kill = *kills
                .first()
                .unwrap_or_else(|| panic!("seed {seed}: {cp} never killed"));
            assert!(
                (130.0..=152.0).contains(&kill),
                "seed {seed}: {cp} killed at {kill} s"
            );
            let failed = logs(&o, &kubelet, "probeType=\"Liveness\"")
                .into_iter()
                .filter(|&t| t <= kill)
                .count();
            assert_eq!(
                failed, 8,
                "seed {seed}: {cp}: failed probes before the kill"
            );
            // Nothing failed before the fault: the probes pass on a healthy server.
            assert!(logs(&o, &kubelet, "Probe failed").iter().all(|&t| t > 60.0));
            let api = format!("{cp}/kube-apiserver");
            let down = downs(&o, &api);
            let first_down = *down.first().expect("the API server went down");
            assert!(
                first_down >= kill && first_down <= kill + 31.0,
                "seed {seed}: {cp} down at {first_down} s, killed at {kill} s"
            );
        }
        let off = run_json(&quorum_lost("10m", "8m", false), seed);
        for cp in ["cp-1", "cp-2", "cp-3"] {
            assert!(logs(&off, &format!("{cp}/kubelet"), "Probe failed").is_empty());
            assert!(
                downs(&off, &format!("{cp}/kube-apiserver")).is_empty(),
                "seed {seed}"
            );
        }
    }
}

/// A restarted API server serves, but its `rbac/bootstrap-roles` post-start hook cannot read the
/// bootstrap roles without quorum: after 30 s of polling (and the try in flight, a GET held up to
/// the 60 s request timeout) the hook fails and the process exits, and the kubelet starts it again
/// after its back-off (10 s, doubling). So through a long quorum loss the API servers crash-loop,
/// and once quorum returns one that is in its back-off serves only when the back-off ends. With the
/// probe off, nothing restarts them and they serve as soon as etcd does.
#[test]
fn through_a_long_quorum_loss_the_api_servers_crash_loop_on_their_bootstrap_hook() {
    let on = run_json(&quorum_lost("20m", "25m", true), 1);
    let back = 20.0 * 60.0 + 60.0;
    for cp in ["cp-1", "cp-2", "cp-3"] {
        let api = format!("{cp}/kube-apiserver");
        let served = logs(&on, &api, "Serving securely");
        let hooks = logs(&on, &api, "PostStartHook \"rbac/bootstrap-roles\" failed");
        assert!(hooks.len() >= 4, "{cp}: {} hook failures", hooks.len());
        for &h in &hooks {
            assert!(h > 60.0 && h < back + 60.0, "{cp}: hook failed at {h} s");
            let start = served
                .iter()
                .copied()
                .filter(|&s| s < h)
                .max_by(f64::total_cmp)
                .expect("served before");
            let after = h - start;
            assert!(
                (31.0..=62.0).contains(&after),
                "{cp}: hook failed {after} s after serving"
            );
        }
        // Each exit is restarted after a longer back-off: the gaps between exits grow, and the
        // kubelet says which back-off it waits out (10 s doubling, Go's duration format).
        let gaps: Vec<f64> = hooks.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] >= g[0]), "{cp}: gaps {gaps:?}");
        let kubelet = proc_id(&on, &format!("{cp}/kubelet"));
        let backoffs: Vec<String> = on
            .trace
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Log { proc, text }
                    if *proc == kubelet && text.contains("CrashLoopBackOff") =>
                {
                    text.split("back-off ")
                        .nth(1)
                        .and_then(|t| t.split(' ').next())
                        .map(String::from)
                }
                _ => None,
            })
            .collect();
        assert_eq!(backoffs[..4], ["10s", "20s", "40s", "1m20s"], "{cp}");
    }
    // A healthy cluster's hooks finish at boot: no API server of the probe-off run ever exits.
    let off = run_json(&quorum_lost("20m", "25m", false), 1);
    for cp in ["cp-1", "cp-2", "cp-3"] {
        let api = format!("{cp}/kube-apiserver");
        assert!(logs(&off, &api, "PostStartHook").is_empty());
        assert!(downs(&off, &api).is_empty());
    }
    // The back-off is capped at 5 minutes: the API is back at most that long after quorum (plus a
    // start-up and HAProxy's rise), later than without the probe.
    let recovery = |o: &Outcome| o.metrics["api.recovery_s"];
    let quorum = |o: &Outcome| o.metrics["etcd_quorum.recovery_s"];
    assert!(recovery(&off) - quorum(&off) < 10.0);
    let late = recovery(&on) - quorum(&on);
    assert!(late < 300.0 + 20.0, "API back {late} s after quorum");
    assert!(
        recovery(&on) > recovery(&off),
        "{} {}",
        recovery(&on),
        recovery(&off)
    );
}

/// Stacked etcd: cp-2 and cp-3 die at 60 s (cp-2 for `outage`, cp-3 for good), so cp-1's member
/// has no quorum; with `restart`, it also crashes at 120 s and is back 5 s later.
fn member_alone(outage: &str, duration: &str, restart: bool, probes: bool) -> String {
    let restart = if restart {
        r#",{"at":"120s","kind":"crash","target":"cp-1/etcd","for":"5s"}"#
    } else {
        ""
    };
    format!(
        r#"{{"name":"t","duration":"{duration}",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":1}},
            "settings":{{"kubelet":{{"etcd_probes":{probes}}}}},
            "faults":[{{"at":"60s","kind":"crash","target":"cp-2","for":"{outage}"}},
                      {{"at":"60s","kind":"crash","target":"cp-3"}}{restart}]}}"#
    )
}

/// etcd's `/livez` (kubeadm's liveness probe) is a serializable read: a member that lost quorum
/// but runs passes it, and its kubelet leaves it alone however long the loss lasts.
#[test]
fn a_running_etcd_member_without_quorum_passes_its_liveness_probe() {
    for seed in 1..=2 {
        let o = run_json(&member_alone("20m", "15m", false, true), seed);
        assert!(
            logs(&o, "cp-1/kubelet", "containerName=\"etcd\"").is_empty(),
            "seed {seed}: an etcd probe failed"
        );
        assert!(downs(&o, "cp-1/etcd").is_empty(), "seed {seed}");
    }
}

/// A started container gets a startup probe first, and etcd's is `/readyz`: a linearizable read,
/// which without quorum fails (a 503 when etcd's 7 s request timeout ends). The member restarted
/// without quorum at 125 s is killed after 24 failed startup probes 10 s apart, the first 10 s
/// after it started: about 247 s later. Then it crash-loops, each life as long, with the restart
/// back-off between. With `etcd_probes` off it just waits.
#[test]
fn an_etcd_member_started_without_quorum_is_killed_after_24_failed_startup_probes() {
    for seed in 1..=3 {
        let o = run_json(&member_alone("30m", "20m", true, true), seed);
        let kills = logs(
            &o,
            "cp-1/kubelet",
            "Container etcd failed startup probe, will be restarted",
        );
        assert!(kills.len() >= 3, "seed {seed}: kills at {kills:?}");
        let first = kills[0];
        assert!(
            (125.0 + 240.0..=125.0 + 262.0).contains(&first),
            "seed {seed}: first kill at {first} s"
        );
        let failed = logs(
            &o,
            "cp-1/kubelet",
            "probeType=\"Startup\" containerName=\"etcd\"",
        );
        assert_eq!(
            failed.iter().filter(|&&t| t <= first).count(),
            24,
            "seed {seed}: failed startup probes before the kill"
        );
        assert!(
            failed.iter().all(|&t| t > 125.0),
            "seed {seed}: a startup probe failed before the restart"
        );
        // Every life lasts the startup probe's 4 minutes; the gaps between kills grow by the
        // doubling back-off.
        let gaps: Vec<f64> = kills.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.windows(2).all(|g| g[1] > g[0]),
            "seed {seed}: {gaps:?}"
        );
        assert!(
            gaps.iter().all(|&g| g > 240.0),
            "seed {seed}: gaps {gaps:?}"
        );
        let off = run_json(&member_alone("30m", "20m", true, false), seed);
        assert!(logs(&off, "cp-1/kubelet", "containerName=\"etcd\"").is_empty());
        assert_eq!(
            downs(&off, "cp-1/etcd").len(),
            1,
            "seed {seed}: only the crash"
        );
    }
}

/// When cp-2 returns, quorum needs cp-1's member: if it is waiting out its back-off, etcd commits
/// only when it starts. Later than with the probes off, by at most the 5-minute cap (plus a
/// start). cp-2 is back about 1440 s in, just after cp-1's member is killed the fifth time (about
/// 1431 s: lives of 247 s from 125 s, with back-offs of 1, 10, 20 and 40 s between), so it waits
/// out the next back-off, 80 s.
#[test]
fn an_etcd_member_in_its_crash_loop_back_off_holds_quorum_back() {
    let back = |o: &Outcome| o.metrics["etcd_quorum.longest_outage_s"];
    let mut later = 0;
    for seed in 1..=3 {
        let on = run_json(&member_alone("22m30s", "30m", true, true), seed);
        let off = run_json(&member_alone("22m30s", "30m", true, false), seed);
        let delay = back(&on) - back(&off);
        assert!(
            (-1.0..=300.0 + 15.0).contains(&delay),
            "seed {seed}: quorum back {delay} s later"
        );
        if delay > 10.0 {
            later += 1;
        }
    }
    assert!(later > 0, "the back-off never held quorum back");
}

/// cp-1's kube-controller-manager and cp-2's kube-scheduler are paused (SIGSTOP) from 60 s for 5
/// minutes, with `controller_probes` on or off.
fn controllers_paused(probes: bool) -> String {
    format!(
        r#"{{"name":"t","duration":"7m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}},
            "settings":{{"kubelet":{{"controller_probes":{probes}}}}},
            "faults":[{{"at":"60s","kind":"pause","target":"cp-1/kube-controller-manager","for":"5m"}},
                      {{"at":"60s","kind":"pause","target":"cp-2/kube-scheduler","for":"5m"}}]}}"#
    )
}

/// kubeadm probes kube-controller-manager's and kube-scheduler's `/healthz`: a paused process answers
/// nothing, so each probe fails on its 15 s timeout. The worker's ticker (10 s) holds the tick that
/// fell due meanwhile, so the next probe goes as soon as one times out: failures 15 s apart, the
/// first within 10 + 15 s of the pause, the container killed at the 8th (120-130 s after the
/// pause), SIGKILLed after the 30 s grace period (a stopped process leaves SIGTERM pending), and
/// started again. Running, they pass. With the probes off, the processes stay paused to the end
/// of the fault.
#[test]
fn a_paused_controller_manager_or_scheduler_is_killed_after_eight_probe_timeouts() {
    for seed in 1..=2 {
        let on = run_json(&controllers_paused(true), seed);
        for (kubelet, container, proc) in [
            (
                "cp-1/kubelet",
                "kube-controller-manager",
                "cp-1/kube-controller-manager",
            ),
            ("cp-2/kubelet", "kube-scheduler", "cp-2/kube-scheduler"),
        ] {
            let named = format!("containerName=\"{container}\"");
            let failed = logs(&on, kubelet, &named);
            assert!(
                failed.iter().all(|&t| t > 60.0),
                "seed {seed}: {container}: a probe failed before the pause: {failed:?}"
            );
            let kills = logs(
                &on,
                kubelet,
                &format!("Container {container} failed liveness probe"),
            );
            assert_eq!(kills.len(), 1, "seed {seed}: {container}: kills {kills:?}");
            let kill = kills[0];
            assert!(
                (60.0 + 120.0..=60.0 + 130.0).contains(&kill),
                "seed {seed}: {container} killed at {kill} s"
            );
            let before: Vec<f64> = failed.into_iter().filter(|&t| t <= kill).collect();
            assert_eq!(before.len(), 8, "seed {seed}: {container}: {before:?}");
            assert!(
                before[0] <= 60.0 + 25.0 + 0.01,
                "seed {seed}: {container}: first failure at {}",
                before[0]
            );
            for pair in before.windows(2) {
                assert!(
                    (pair[1] - pair[0] - 15.0).abs() < 0.01,
                    "seed {seed}: {container}: failures {before:?}"
                );
            }
            let down = downs(&on, proc);
            assert!(
                down.iter().any(|&t| (t - kill - 30.0).abs() < 0.5),
                "seed {seed}: {container}: down at {down:?}, killed at {kill}"
            );
            let up = state_times(&on, proc_id(&on, proc), ProcState::Up);
            assert!(
                up.iter().any(|&t| t > kill + 30.0 && t < kill + 45.0),
                "seed {seed}: {container}: up at {up:?}"
            );
        }
        let off = run_json(&controllers_paused(false), seed);
        for proc in ["cp-1/kube-controller-manager", "cp-2/kube-scheduler"] {
            assert!(
                downs(&off, proc)
                    .iter()
                    .all(|&t| !(60.0..360.0).contains(&t)),
                "seed {seed}: {proc} went down with the probes off"
            );
        }
        assert!(logs(&off, "cp-1/kubelet", "kube-controller-manager").is_empty());
    }
}
