//! Issue 10 items 3 and 4 and the control-plane half of item 5: a new kube-controller-manager leader
//! keeps dead nodes tainted and restarts the toleration clock; keepalived never leaves the VIP with
//! nobody while a keepalived is up; kubeadm's kubelet endpoints; client-go's renew fallback. Issue 11:
//! HAProxy and keepalived on the control-plane nodes (`load_balancer_placement`).

use crate::common::{metric, run_json};
use kube_ha_sim::observe::{Capability, TraceKind};
use kube_ha_sim::run::Outcome;

const S: u64 = 1_000_000_000;

fn procs_named(o: &Outcome, suffix: &str) -> Vec<u16> {
    (0..o.layout.procs.len() as u16)
        .filter(|&p| o.layout.procs[p as usize].name.ends_with(suffix))
        .collect()
}

/// Times (ns) of the log lines containing `needle`.
fn log_times(o: &Outcome, needle: &str) -> Vec<u64> {
    o.trace
        .events
        .iter()
        .filter(|e| matches!(&e.kind, TraceKind::Log { text, .. } if text.contains(needle)))
        .map(|e| e.time_ns)
        .collect()
}

/// Worker crash at 60 s (for good), then the acting kube-controller-manager crashes after the node
/// has been tainted.
fn worker_crash_then_kcm_failover(seed: u64) -> Outcome {
    run_json(
        r#"{"name":"t","duration":"12m",
            "topology":{"etcd":"stacked","control_plane_nodes":3,"workers":3,"zones":["a","b","c"],"load_balancers":1},
            "workloads":[{"name":"web","replicas":6}],
            "faults":[{"at":"60s","kind":"crash","target":"worker-1"},
                      {"at":"150s","kind":"crash","target":"leader:kube-controller-manager","for":"5m"}]}"#,
        seed,
    )
}

#[test]
fn a_new_controller_manager_leader_keeps_the_taint_and_restarts_the_toleration_clock() {
    for seed in 1..=3 {
        let o = worker_crash_then_kcm_failover(seed);
        let tainted = log_times(
            &o,
            "adding taint node.kubernetes.io/unreachable:NoExecute to worker-1",
        );
        // The taint is on before the failover, so the new leader inherits a tainted dead node.
        assert!(
            tainted.first().is_some_and(|&t| t < 150 * S),
            "seed {seed}: {tainted:?}"
        );
        let untaints = log_times(
            &o,
            "removing taint node.kubernetes.io/unreachable from worker-1",
        );
        assert!(
            untaints.is_empty(),
            "seed {seed}: dead node un-tainted at {untaints:?}"
        );
        let kcms = procs_named(&o, "/kube-controller-manager");
        let takeover = o
            .trace
            .events
            .iter()
            .find(|e| {
                e.time_ns > 150 * S
                    && matches!(e.kind, TraceKind::Acting { proc, acting: true } if kcms.contains(&proc))
            })
            .map(|e| e.time_ns)
            .expect("a standby takes over");
        let deleted = log_times(&o, "\"Deleting pod\"");
        let first = *deleted.first().expect("the dead node's pods are evicted");
        let after_s = (first - takeover) as f64 / 1e9;
        // The new leader first sees the pods on the tainted node on its first monitor pass, a few
        // milliseconds after taking over; the old clock (taint time + 300 s) would give ~240 s.
        assert!(
            (300.0..300.5).contains(&after_s),
            "seed {seed}: evicted {after_s} s after takeover"
        );
    }
}

/// Stacked, two load balancers with keepalived, two etcd members down for 5 minutes: both check
/// scripts fail and recover at different moments, so both keepalived instances pass through MASTER.
fn two_lbs_two_members_down(seed: u64) -> Outcome {
    let text = std::fs::read_to_string("scenarios/stacked-two-lbs-etcd-quorum-lost.json")
        .expect("library scenario");
    run_json(&text, seed)
}

#[test]
fn a_live_keepalived_always_holds_the_vip_and_the_api_comes_back() {
    let lbs_alive_whole_run =
        |o: &Outcome| o.faults.iter().all(|f| !format!("{f:?}").contains("lb-"));
    for seed in 1..=50 {
        let o = two_lbs_two_members_down(seed);
        assert!(lbs_alive_whole_run(&o));
        // Both keepalived instances are up and their nodes healthy for the whole run: after the first
        // claim, any moment without a holder must end within one master-down interval (3 x 1 s + skew,
        // at most 3.62 s at the lowest effective priority 98).
        let mut none_since: Option<u64> = None;
        let mut claimed = false;
        for e in &o.trace.events {
            if let TraceKind::Vip { node } = e.kind {
                match node {
                    Some(_) => {
                        if let Some(t) = none_since.take() {
                            let gap = (e.time_ns - t) as f64 / 1e9;
                            assert!(gap <= 3.7, "seed {seed}: nobody held the VIP for {gap} s");
                        }
                        claimed = true;
                    }
                    None if claimed => none_since = none_since.or(Some(e.time_ns)),
                    None => {}
                }
            }
        }
        assert!(
            none_since.is_none(),
            "seed {seed}: the run ends with nobody holding the VIP"
        );
        let api_up_at_end = o
            .trace
            .events
            .iter()
            .rev()
            .find_map(|e| match e.kind {
                TraceKind::Cap {
                    cap: Capability::Api,
                    up,
                } => Some(up),
                _ => None,
            })
            .unwrap_or(true);
        assert!(api_up_at_end, "seed {seed}: the API stays down to the end");
    }
}

mod renew {
    use kube_ha_sim::components::ctx::{Ctx, Out, ProcId};
    use kube_ha_sim::components::elector::{Elector, ElectorConfig, ElectorTimer};
    use kube_ha_sim::components::msg::{ApiError, KeyValue, KvOp, KvResult, Msg};
    use kube_ha_sim::engine::rng::{stream, Rng};

    const S: u64 = 1_000_000_000;
    const API: ProcId = 9;

    /// Runs one event on the elector and returns what it asked for.
    fn step(
        e: &mut Elector,
        rng: &mut Rng,
        now: u64,
        f: impl FnOnce(&mut Elector, &mut Ctx),
    ) -> Vec<Out> {
        let mut out = Vec::new();
        let mut ctx = Ctx {
            now,
            me: 1,
            rng,
            out: &mut out,
            quiet_ok: false,
        };
        f(e, &mut ctx);
        out
    }

    /// The API requests among `out`: (id, op).
    fn requests(out: &[Out]) -> Vec<(u64, KvOp)> {
        out.iter()
            .filter_map(|o| match o {
                Out::Send {
                    to: API,
                    msg: Msg::ApiReq { id, op, .. },
                } => Some((*id, op.clone())),
                _ => None,
            })
            .collect()
    }

    fn answer(id: u64, result: Result<KvResult, ApiError>) -> Msg {
        Msg::ApiResp { id, result }
    }

    fn written(rev: u64) -> Result<KvResult, ApiError> {
        Ok(KvResult::Written {
            index: rev,
            term: 1,
            rev,
        })
    }

    /// client-go's tryAcquireOrRenew: when the leader's optimistic update fails, the same attempt
    /// GETs the lease and updates it again, instead of waiting a RetryPeriod for the next attempt.
    #[test]
    fn a_failed_optimistic_renew_falls_back_to_get_and_update_in_the_same_attempt() {
        let mut rng = stream(1, 1);
        let mut e = Elector::new(
            ElectorConfig {
                lease: 1,
                lease_name: "kube-controller-manager",
                api: API,
                enabled: true,
                lease_duration_ns: 15 * S,
                renew_deadline_ns: 10 * S,
                retry_period_ns: 2 * S,
                release_on_cancel: false,
            },
            None,
        );
        step(&mut e, &mut rng, 0, |e, c| e.start(c));
        // Acquire: GET (absent) then update.
        let out = step(&mut e, &mut rng, 1, |e, c| e.on_timer(c, ElectorTimer::Try));
        let (get, _) = requests(&out)[0];
        let out = step(&mut e, &mut rng, 2, |e, c| {
            e.on_msg(c, API, answer(get, Ok(KvResult::Value(None))))
        });
        let (put, _) = requests(&out)[0];
        step(&mut e, &mut rng, 3, |e, c| {
            e.on_msg(c, API, answer(put, written(5)))
        });
        assert!(e.acting());
        // Renew: the fast path is an update of the cached record.
        let out = step(&mut e, &mut rng, 2 * S, |e, c| {
            e.on_timer(c, ElectorTimer::Renew)
        });
        let (fast, op) = requests(&out).remove(0);
        let KvOp::Put {
            key,
            value,
            expected_rev: Some(5),
            ..
        } = op
        else {
            panic!("fast path is not an update at the cached revision: {op:?}");
        };
        // It fails; the answer to the failure is a GET right away, not only a retry timer.
        let out = step(&mut e, &mut rng, 2 * S + 1, |e, c| {
            e.on_msg(c, API, answer(fast, Err(ApiError::Conflict)))
        });
        let reqs = requests(&out);
        assert!(
            matches!(reqs[..], [(_, KvOp::Get { .. })]),
            "no GET in the same attempt: {out:?}"
        );
        // The lease still names this leader, at a newer revision: the same attempt updates it there.
        let current = KeyValue {
            key,
            value,
            mod_rev: 6,
        };
        let out = step(&mut e, &mut rng, 2 * S + 2, |e, c| {
            e.on_msg(
                c,
                API,
                answer(reqs[0].0, Ok(KvResult::Value(Some(current)))),
            )
        });
        let reqs = requests(&out);
        assert!(
            matches!(
                reqs[..],
                [(
                    _,
                    KvOp::Put {
                        expected_rev: Some(6),
                        ..
                    }
                )]
            ),
            "{reqs:?}"
        );
        step(&mut e, &mut rng, 2 * S + 3, |e, c| {
            e.on_msg(c, API, answer(reqs[0].0, written(7)))
        });
        // Renewed: the round's RenewDeadline passes without losing the lease.
        step(&mut e, &mut rng, 12 * S, |e, c| {
            e.on_timer(
                c,
                ElectorTimer::Deadline {
                    round_start_ns: 2 * S,
                },
            )
        });
        assert!(e.acting());
    }
}

/// A stacked cluster with one load balancer whose API server on `node` is down for two minutes.
fn api_server_down_on(node: &str) -> Outcome {
    run_json(
        &format!(
            r#"{{"name":"t","duration":"4m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":1}},
            "faults":[{{"at":"60s","kind":"crash","target":"{node}/kube-apiserver","for":"2m"}}]}}"#
        ),
        1,
    )
}

/// kubeadm: the `kubeadm init` node's kubelet.conf points at the control-plane endpoint, joined
/// control-plane nodes' kubelets at their local API server (ControlPlaneKubeletLocalMode). So losing
/// the first node's API server leaves its node Ready, while losing a joined node's API server makes
/// that node's kubelet miss its lease renewals and the node go Unknown after the grace period.
#[test]
fn the_init_nodes_kubelet_uses_the_endpoint_and_joined_nodes_their_local_api_server() {
    let unknown = |o: &Outcome, node: &str| {
        !log_times(o, &format!("{node} hasn't been updated for")).is_empty()
    };
    let first = api_server_down_on("cp-1");
    assert!(
        !unknown(&first, "cp-1"),
        "cp-1's kubelet should reach the load balancer"
    );
    let joined = api_server_down_on("cp-2");
    assert!(
        unknown(&joined, "cp-2"),
        "cp-2's kubelet should talk only to its local API server"
    );
}

/// kubeadm's "Option 2: Run the services as static pods" (kubernetes/kubeadm
/// docs/ha-considerations.md): HAProxy and keepalived on every control-plane node of a stacked
/// cluster. `faults` is the scenario's JSON fault list.
fn lbs_on_the_control_plane(faults: &str, seed: u64) -> Outcome {
    run_json(
        &format!(
            r#"{{"name":"t","duration":"5m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],
                         "load_balancer_placement":"control-plane"}},
            "faults":{faults}}}"#
        ),
        seed,
    )
}

/// The VIP's moves after `from_ns`: (time, node name), None while nobody holds it.
fn vip_moves(o: &Outcome, from_ns: u64) -> Vec<(u64, Option<String>)> {
    o.trace
        .events
        .iter()
        .filter(|e| e.time_ns >= from_ns)
        .filter_map(|e| match e.kind {
            TraceKind::Vip { node } => Some((
                e.time_ns,
                node.map(|n| o.layout.nodes[n as usize].name.clone()),
            )),
            _ => None,
        })
        .collect()
}

/// Who holds the VIP at `t_ns` (the last move before it).
fn vip_holder_at(o: &Outcome, t_ns: u64) -> Option<String> {
    vip_moves(o, 0)
        .into_iter()
        .take_while(|(t, _)| *t <= t_ns)
        .last()
        .and_then(|(_, n)| n)
}

/// The first moment after `from_ns` at which a node other than `not` holds the VIP.
fn vip_moved_away(o: &Outcome, from_ns: u64, not: &str) -> Option<(u64, String)> {
    vip_moves(o, from_ns)
        .into_iter()
        .find_map(|(t, n)| n.filter(|n| n != not).map(|n| (t, n)))
}

/// The library's `stacked-lb-on-control-plane-vip-holder-crash` (the control-plane node holding the
/// VIP crashes at 2m for 2m) on seeds 1..50. `cargo test --test suite failover_and_vip::losing --
/// --nocapture` prints the VIP move and API outage distributions the README quotes.
#[test]
fn losing_the_control_plane_node_that_holds_the_vip_moves_it_and_the_api_returns() {
    let text =
        std::fs::read_to_string("scenarios/stacked-lb-on-control-plane-vip-holder-crash.json")
            .expect("library scenario");
    let crash = 120 * S;
    let (mut moves, mut outages) = (Vec::new(), Vec::new());
    for seed in 1..=50 {
        let o = run_json(&text, seed);
        // The load balancers are the control-plane nodes' own processes; there is no lb-N node.
        assert!(o.layout.nodes.iter().all(|n| !n.name.starts_with("lb-")));
        assert!(o.layout.proc_index("cp-3/haproxy").is_some());
        assert!(o.layout.proc_index("cp-3/keepalived").is_some());
        // `vip-holder` resolved to the control-plane node holding the VIP (cp-1, priority 101).
        let holder = vip_holder_at(&o, crash - 1).expect("someone holds the VIP");
        assert_eq!(holder, "cp-1", "seed {seed}");
        assert_eq!(o.faults[0].resolved, holder, "seed {seed}");
        // A backup keepalived on another control-plane node claims it after its master-down timer:
        // 3 x 1 s + (256 - 100)/256 s after the last advert it heard (up to 1 s before the crash).
        let (at, to) = vip_moved_away(&o, crash, &holder).expect("the VIP moves");
        let after_s = (at - crash) as f64 / 1e9;
        assert!(
            to == "cp-2" || to == "cp-3",
            "seed {seed}: VIP moved to {to}"
        );
        assert!(
            (2.5..=3.7).contains(&after_s),
            "seed {seed}: VIP moved {after_s} s after the crash"
        );
        // Clients lose the API while nobody answers for the VIP, and only then: the new holder's
        // HAProxy redispatches what it sends to the dead API server until its checks mark it DOWN.
        let longest = metric(&o, "api.longest_outage_s");
        assert!(
            (1.0..=after_s + 0.5).contains(&longest),
            "seed {seed}: API outage {longest} s, VIP moved after {after_s} s"
        );
        assert_eq!(metric(&o, "api.outages"), 1.0, "seed {seed}");
        assert!(metric(&o, "api.availability") >= 0.99, "seed {seed}");
        moves.push(after_s);
        outages.push(longest);
    }
    for (what, v) in [
        ("VIP moved after", &mut moves),
        ("API outage", &mut outages),
    ] {
        v.sort_by(f64::total_cmp);
        eprintln!(
            "{what} (s), seeds 1..50: min {:.2} p50 {:.2} p90 {:.2} max {:.2}",
            v[0],
            v[v.len() / 2],
            v[v.len() * 9 / 10],
            v[v.len() - 1]
        );
    }
}

#[test]
fn a_crashed_keepalived_on_the_vip_holder_hands_the_vip_to_another_control_plane_node() {
    let crash = 120 * S;
    for seed in 1..=5 {
        let o = lbs_on_the_control_plane(
            r#"[{"at":"2m","kind":"crash","target":"cp-1/keepalived","for":"1m"}]"#,
            seed,
        );
        assert_eq!(o.faults[0].resolved, "cp-1/keepalived");
        assert_eq!(vip_holder_at(&o, crash - 1).as_deref(), Some("cp-1"));
        let (at, to) = vip_moved_away(&o, crash, "cp-1").expect("the VIP moves");
        assert!(to == "cp-2" || to == "cp-3", "seed {seed}: {to}");
        assert!(
            at - crash <= 4 * S,
            "seed {seed}: moved {} s late",
            at - crash
        );
        // The address stays on cp-1, whose HAProxy still serves, until a backup claims it.
        assert_eq!(metric(&o, "api.outages"), 0.0, "seed {seed}");
    }
}

/// kubeadm's check script curls the local HAProxy: a crashed HAProxy on the VIP holder fails it,
/// and after `fall` 10 runs 3 s apart the holder's priority drops below the backups' (101 - 2 < 100),
/// so the VIP moves after about 30 s (FACTS.md, keepalived). Until then clients reach a dead port.
#[test]
fn a_crashed_haproxy_on_the_vip_holder_moves_the_vip_after_the_check_script_fails() {
    let crash = 120 * S;
    for seed in 1..=5 {
        let o = lbs_on_the_control_plane(
            r#"[{"at":"2m","kind":"crash","target":"cp-1/haproxy","for":"2m"}]"#,
            seed,
        );
        assert_eq!(o.faults[0].resolved, "cp-1/haproxy");
        let (at, to) = vip_moved_away(&o, crash, "cp-1").expect("the VIP moves");
        let after_s = (at - crash) as f64 / 1e9;
        assert!(to == "cp-2" || to == "cp-3", "seed {seed}: {to}");
        assert!(
            (27.0..=37.0).contains(&after_s),
            "seed {seed}: VIP moved {after_s} s after the crash"
        );
        let longest = metric(&o, "api.longest_outage_s");
        assert!(
            (after_s - 3.0..=after_s + 1.0).contains(&longest),
            "seed {seed}: API outage {longest} s, VIP moved after {after_s} s"
        );
    }
}

/// Two load balancers with keepalived; lb-1's HAProxy crashes at 60 s for 2 minutes, with the
/// check script's `settings` (interval 1 s, fall 2, rise 2 and the weight given).
fn lb_pair_haproxy_crash(weight: i32) -> Outcome {
    run_json(
        &format!(
            r#"{{"name":"t","duration":"4m",
            "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"],"load_balancers":2}},
            "settings":{{"load_balancer":{{"vrrp_script_interval":"1s","vrrp_script_fall":2,
                "vrrp_script_rise":2,"vrrp_script_weight":{weight}}}}},
            "faults":[{{"at":"60s","kind":"crash","target":"lb-1/haproxy","for":"2m"}}]}}"#
        ),
        1,
    )
}

/// keepalived.conf(5): a script of weight 0 puts the instance in FAULT while it fails. lb-1 (the
/// master) leaves for FAULT after two failed runs, sends a priority-0 advert and drops the VIP;
/// lb-2 takes over after its skew time. Once HAProxy is back and the script succeeds twice, lb-1
/// returns to BACKUP and, with the higher priority, preempts.
#[test]
fn a_failing_script_of_weight_zero_puts_keepalived_in_fault_and_moves_the_vip() {
    let o = lb_pair_haproxy_crash(0);
    assert_eq!(vip_holder_at(&o, 59 * S).as_deref(), Some("lb-1"));
    let (at, to) = vip_moved_away(&o, 60 * S, "lb-1").expect("the VIP moves");
    assert_eq!(to, "lb-2");
    // Two failed runs 1 s apart (each curl gives up within 1 s), then lb-2's skew (< 1 s).
    let after = (at - 60 * S) as f64 / 1e9;
    assert!(
        (1.0..5.0).contains(&after),
        "VIP moved {after} s after the crash"
    );
    let kp = procs_named(&o, "lb-1/keepalived")[0];
    let fault = o.trace.events.iter().any(|e| {
        e.time_ns > 60 * S
            && matches!(&e.kind, TraceKind::Log { proc, text } if *proc == kp && text.contains("Entering FAULT STATE"))
    });
    assert!(fault, "lb-1's keepalived entered FAULT");
    // HAProxy is back at 180 s: two good runs, then a master-down interval (3 x 1 s + skew).
    assert_eq!(
        vip_holder_at(&o, 200 * S).as_deref(),
        Some("lb-1"),
        "lb-1 preempts once healthy"
    );
}

/// A positive weight counts while the script succeeds (keepalived.conf(5)): priorities 101 and 100
/// with weight +2 are 103 and 102 while both succeed, and lb-1's failing script leaves it at 101,
/// below lb-2's 102, so the VIP moves. (Counted while failing, as a negative weight is, lb-1 would
/// rise to 103 and keep the VIP in front of a dead HAProxy.)
#[test]
fn a_positive_script_weight_counts_while_the_script_succeeds() {
    let o = lb_pair_haproxy_crash(2);
    let (_, to) = vip_moved_away(&o, 60 * S, "lb-1").expect("the VIP moves");
    assert_eq!(to, "lb-2");
}

/// The controllers react to their watches: when the node lifecycle controller marks a dead node's
/// pods not ready, the EndpointSlice controller drops them a watch round trip later, and when the
/// taint-eviction controller deletes them, the ReplicaSet controller creates replacements as
/// quickly, as their informers' event handlers queue the work. (When each loop listed every
/// second, each waited up to a second.)
#[test]
fn the_controllers_react_to_pod_changes_within_a_watch_round_trip() {
    for seed in 1..=3 {
        let o = worker_crash_then_kcm_failover(seed);
        let after = |cause: &str, effect: &str| -> f64 {
            let c = *log_times(&o, cause).first().expect(cause);
            let e = log_times(&o, effect)
                .into_iter()
                .find(|&t| t >= c)
                .expect(effect);
            (e - c) as f64 / 1e9
        };
        let dropped = after(
            "\"Updating ready status of pod to false\"",
            "\"Updating EndpointSlices\" removed=",
        );
        assert!(dropped < 0.1, "seed {seed}: endpoints {dropped} s after");
        let replaced = after("\"Deleting pod\"", "\"Too few replicas\"");
        assert!(
            replaced < 0.1,
            "seed {seed}: replacements {replaced} s after"
        );
    }
}

/// The controllers reach the API servers through the load balancer, and each API server in turn is
/// stopped gracefully: it ends the watches it serves with GOAWAY, and the controllers' reflectors
/// watch again at once through another. So their caches stay current: when a worker then dies, only
/// it goes Unknown, after the grace period. (Were a watch ended by GOAWAY left for dead, the node
/// lifecycle controller would read leases frozen at the stop and take every node for dead.)
#[test]
fn controllers_watch_again_when_an_api_server_stops_gracefully() {
    for seed in 1..=2 {
        let o = run_json(
            r#"{"name":"t","duration":"5m",
                "topology":{"etcd":"stacked","control_plane_nodes":3,"workers":3,"zones":["a","b","c"],"load_balancers":1},
                "settings":{"leader_election":{"api_endpoint":"load-balancer"}},
                "workloads":[{"name":"web","replicas":6}],
                "faults":[{"at":"60s","kind":"stop","target":"cp-1/kube-apiserver","for":"20s"},
                          {"at":"100s","kind":"stop","target":"cp-2/kube-apiserver","for":"20s"},
                          {"at":"140s","kind":"stop","target":"cp-3/kube-apiserver","for":"20s"},
                          {"at":"180s","kind":"crash","target":"worker-2"}]}"#,
            seed,
        );
        let unknown: Vec<(u64, String)> = o
            .trace
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Log { text, .. } if text.contains("Ready is now Unknown") => {
                    Some((e.time_ns, text.clone()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(unknown.len(), 1, "seed {seed}: {unknown:?}");
        let (at, text) = &unknown[0];
        assert!(text.contains("worker-2"), "seed {seed}: {text}");
        let after_s = (at - 180 * S) as f64 / 1e9;
        assert!((50.0..61.0).contains(&after_s), "seed {seed}: {after_s} s");
    }
}
