//! What a change of failure mode costs each capability, measured with the detailed simulator: the
//! design runs to steady state, the nodes of the mode it leaves are crashed and it settles there, then
//! the nodes of the mode it enters are crashed or powered back on, and every capability is watched for
//! a window long enough for its slowest recovery (elections, lease takeovers, HAProxy checks, VRRP,
//! node boots, and with workloads the eviction of pods from a lost node). Each distinct transition is
//! run with a few seeds; every run is one sample of (is the capability down for good in the new mode,
//! how long was it down after the change).

use super::modes::NodeTable;
use crate::engine::{Nanos, MIN, SEC};
use crate::scenario::model::Scenario;
use crate::scenario::{plan_scenario, Plan};
use crate::world::World;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The number of capabilities (array width of samples).
pub const NCAP: usize = 5;

/// One detailed run of one transition.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Per capability: still down at the end of the window, so down for as long as the new mode lasts.
    pub down_end: [bool; NCAP],
    /// Per capability: seconds down between the change and the end of the window.
    pub cost_s: [f64; NCAP],
    /// Per capability: the run modelled it (workloads only when declared; api when there is a load).
    pub present: [bool; NCAP],
}

/// When things happen in a detailed run of a transition.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// The first crash: after every design's warm-up (the slowest library design is up in ~35 s).
    pub first_ns: Nanos,
    /// How long the run watches after each change.
    pub window_ns: Nanos,
    /// The state "at the end" is read this long before the end, so that requests still in flight at
    /// the end (up to the load's timeout) are not taken for failures.
    pub margin_ns: Nanos,
}

impl Timing {
    /// The window a design needs: a node's boot and the control plane's recovery (3 minutes covers
    /// etcd catch-up, API server start with its etcd dial, lease expiry and HAProxy rise), and with
    /// workloads the node lifecycle's grace period and the pods' toleration before eviction, then a
    /// minute to reschedule and start the replacements.
    pub fn for_design(d: &Plan) -> Timing {
        let s = &d.settings;
        let mut window = 3 * MIN + s.nodes.os_boot_time.ns();
        if !d.workloads.is_empty() {
            window += s.node_lifecycle.node_monitor_grace_period.ns()
                + s.node_lifecycle.default_toleration.ns()
                + MIN;
        }
        let margin = d.load.timeout.ns() + 5 * SEC;
        Timing {
            first_ns: 90 * SEC,
            window_ns: window + margin,
            margin_ns: margin,
        }
    }
}

/// The scenario of one transition: the `from` nodes crash at `first_ns`; at the change (right away
/// when `from` is empty, else one window later) the nodes only in `from` are powered back on and those
/// only in `to` crash. Returns the plan and the time of the change.
pub fn transition_scenario(
    design: &Plan,
    table: &NodeTable,
    from: &[usize],
    to: &[usize],
    t: Timing,
) -> Result<(Plan, Nanos), String> {
    let change = if from.is_empty() {
        t.first_ns
    } else {
        t.first_ns + t.window_ns
    };
    let fault = |at: Nanos, kind: &str, n: usize| json!({"at": format!("{}ms", at / 1_000_000), "kind": kind, "target": table.names[n]});
    let mut faults: Vec<Value> = from
        .iter()
        .map(|&n| fault(t.first_ns, "crash", n))
        .collect();
    faults.extend(
        from.iter()
            .filter(|n| !to.contains(n))
            .map(|&n| fault(change, "restart", n)),
    );
    faults.extend(
        to.iter()
            .filter(|n| !from.contains(n))
            .map(|&n| fault(change, "crash", n)),
    );
    let mut v = serde_json::to_value(design.to_scenario()).map_err(|e| e.to_string())?;
    v["faults"] = Value::Array(faults);
    v["expect"] = Value::Array(Vec::new());
    v["duration"] = Value::String(format!("{}ms", (change + t.window_ns) / 1_000_000));
    let s: Scenario = serde_json::from_value(v).map_err(|e| e.to_string())?;
    let label = format!("design {} (transition run)", design.name);
    let plan = plan_scenario(&s, &label).map_err(|e| e.to_string())?;
    Ok((plan, change))
}

/// Runs one transition scenario and reads its sample. Capabilities the design does not model are
/// left up with no cost.
pub fn measure(plan: &Plan, change_ns: Nanos, seed: u64, t: Timing) -> Result<Sample, String> {
    measure_world(plan, World::build(plan, seed), change_ns, t)
}

/// [`measure`] on a world built for the transition scenario or forked into it
/// ([`World::fork_with`]), possibly run part of the way: the same sample as a plain run with the
/// world's seed.
pub fn measure_world(
    plan: &Plan,
    world: World,
    change_ns: Nanos,
    t: Timing,
) -> Result<Sample, String> {
    let seed = world.seed();
    let o = crate::run::run_world(plan, world).map_err(|e| e.to_string())?;
    match o.warmup_ns {
        Some(w) if w <= t.first_ns => {}
        _ => {
            return Err(format!(
                "design {} does not reach steady state (every capability up) within {} s with seed {seed}, \
                 before the first failure; replay: kube-ha-sim run with its scenario and --seed {seed}",
                plan.name,
                t.first_ns / SEC
            ))
        }
    }
    let probe = o.end_ns - t.margin_ns;
    let mut s = Sample {
        down_end: [false; NCAP],
        cost_s: [0.0; NCAP],
        present: [false; NCAP],
    };
    for tl in &o.timelines {
        let c = tl.capability.index();
        s.present[c] = true;
        s.down_end[c] = !tl.up_at(probe);
        s.cost_s[c] = tl
            .outages(change_ns, probe)
            .iter()
            .map(|(a, b)| (b - a) as f64 / 1e9)
            .sum();
    }
    Ok(s)
}

/// Runs `tasks` on up to `jobs` threads, results in task order; `progress(done, total)` after each.
pub fn parallel_map<T: Sync, R: Send>(
    tasks: &[T],
    jobs: usize,
    f: impl Fn(&T) -> R + Sync,
    progress: impl Fn(usize, usize) + Sync,
) -> Vec<R> {
    let slots: Vec<Mutex<Option<R>>> = tasks.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let work = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(task) = tasks.get(k) else { break };
        let r = f(task);
        *slots[k].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        progress(done.fetch_add(1, Ordering::Relaxed) + 1, tasks.len());
    };
    let workers = jobs.min(tasks.len()).max(1);
    std::thread::scope(|s| {
        let spawned = (0..workers)
            .filter(|_| {
                std::thread::Builder::new()
                    .name("plan-worker".into())
                    .stack_size(16 << 20)
                    .spawn_scoped(s, work)
                    .is_ok()
            })
            .count();
        if spawned == 0 {
            work();
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every task ran")
        })
        .collect()
}

/// FNV-1a over text: a seed for one sample that depends only on what it measures, not on the order in
/// which transitions were met.
pub fn seed_of(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
