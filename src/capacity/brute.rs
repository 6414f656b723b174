//! Brute force, to check the method: plain runs of the detailed simulator, each as long as the
//! design's `duration`, whose fault script is a stretch of the failure process itself (every node and
//! zone failure and repair, by name, as crash and restart faults). Their availabilities, averaged over
//! the runs with a confidence interval, are what `plan` estimates without running the years.
//! (`plan --brute-force RUNS`; with failure rates raised, the failures are frequent enough for a few
//! runs of a day to see many of them.)

use super::costs::{parallel_map, seed_of, NCAP};
use super::process::FailureModel;
use super::Progress;
use crate::engine::{Nanos, SEC};
use crate::observe::catalog::Capability;
use crate::scenario::model::Scenario;
use crate::scenario::{plan_scenario, Plan};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The failure process from `start_ns` to the design's end as crash and restart faults of nodes: a
/// node is down while it or its zone is.
pub fn scenario(
    design: &Plan,
    model: &FailureModel,
    seed: u64,
    start_ns: Nanos,
) -> Result<Plan, String> {
    let hours = design.duration_ns.saturating_sub(start_ns) as f64 / 3.6e12;
    let table = &model.table;
    let mut own = vec![false; table.names.len()];
    let mut zone_down = vec![false; table.zones.len()];
    let mut faults: Vec<Value> = Vec::new();
    let nodes: Vec<usize> = table.by_class.iter().flatten().copied().collect();
    model.flips(hours, seed, |t, i, failing| {
        let u = &model.units[i];
        let before: Vec<bool> = nodes
            .iter()
            .map(|&n| own[n] || zone_down[table.zone_of[n]])
            .collect();
        match u.node {
            Some(n) => own[n] = failing,
            None => zone_down[u.zone] = failing,
        }
        let at_ms = (start_ns + (t * 3.6e12) as Nanos) / 1_000_000;
        for (k, &n) in nodes.iter().enumerate() {
            let now = own[n] || zone_down[table.zone_of[n]];
            if now != before[k] {
                let kind = if now { "crash" } else { "restart" };
                faults.push(
                    json!({"at": format!("{at_ms}ms"), "kind": kind, "target": table.names[n]}),
                );
            }
        }
    });
    let mut v = serde_json::to_value(design.to_scenario()).map_err(|e| e.to_string())?;
    v["faults"] = Value::Array(faults);
    v["expect"] = Value::Array(Vec::new());
    let s: Scenario = serde_json::from_value(v).map_err(|e| e.to_string())?;
    plan_scenario(&s, &format!("design {} (brute-force run)", design.name))
        .map_err(|e| e.to_string())
}

/// The runs' availabilities per capability: mean and a 95 % interval over the runs.
#[derive(Clone, Debug, Default)]
pub struct BruteForce {
    pub runs: usize,
    pub duration_s: f64,
    /// Capability name → every run's availability.
    pub availability: BTreeMap<String, Vec<f64>>,
}

impl BruteForce {
    /// (mean, half-width of the 95 % interval) of a capability's availability over the runs.
    pub fn estimate(&self, cap: &str) -> Option<(f64, f64)> {
        let xs = self.availability.get(cap)?;
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        if xs.len() < 2 {
            return Some((mean, f64::NAN));
        }
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        Some((mean, super::report::t95(xs.len() - 1) * (var / n).sqrt()))
    }

    /// The `brute_force` object of `plan.json`.
    pub fn to_json(&self) -> Value {
        let mut m = BTreeMap::new();
        for cap in self.availability.keys() {
            if let Some((mean, half)) = self.estimate(cap) {
                m.insert(format!("{cap}.availability"), json!(mean));
                if half.is_finite() {
                    m.insert(format!("{cap}.availability_ci95_low"), json!(mean - half));
                    m.insert(format!("{cap}.availability_ci95_high"), json!(mean + half));
                }
            }
        }
        json!({"runs": self.runs, "duration_s": self.duration_s, "metrics": m})
    }
}

/// One brute-force run to do: its design, scenario and seed.
pub struct BruteTask {
    design: usize,
    plan: Plan,
    seed: u64,
}

/// Per capability (in [`Capability::ALL`] order), a brute-force run's availability, when the run
/// modelled it: all that a run contributes to the plan, and what a shard file carries.
pub type RunAvailability = [Option<f64>; NCAP];

/// The `runs` brute-force runs of each design (the failure process starts at 90 s, after the
/// warm-up), in a fixed order: design by design, run by run.
pub fn tasks(
    designs: &[(Plan, FailureModel)],
    runs: usize,
    seed: u64,
) -> Result<Vec<BruteTask>, String> {
    let ss = seed.to_string();
    let mut tasks = Vec::new();
    for (d, (design, model)) in designs.iter().enumerate() {
        for k in 0..runs {
            let s = seed_of(&["brute-force", &ss, &design.name, &k.to_string()]);
            tasks.push(BruteTask {
                design: d,
                plan: scenario(design, model, s, 90 * SEC)?,
                seed: s,
            });
        }
    }
    Ok(tasks)
}

/// What the brute-force runs are, as one number (see [`super::Work::fingerprint`]).
pub fn fingerprint(tasks: &[BruteTask]) -> u64 {
    let parts: Vec<String> = tasks
        .iter()
        .map(|t| {
            let scenario = serde_json::to_string(&t.plan.to_scenario()).unwrap_or_default();
            format!("{}/{}/{scenario}", t.seed, t.design)
        })
        .collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    seed_of(&refs)
}

/// Runs the brute-force runs `which` (indices into `tasks`) on `jobs` threads; results in the order
/// of `which`; the first failed run (in that order) is the error.
pub fn measure(
    tasks: &[BruteTask],
    which: &[usize],
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<RunAvailability>, String> {
    progress.stage(&format!("{} brute-force runs", which.len()));
    let results = parallel_map(
        which,
        jobs,
        |&k| {
            let t = &tasks[k];
            let metrics = crate::run::run(&t.plan, t.seed)
                .map(|o| o.metrics)
                .map_err(|e| e.to_string())?;
            let mut a: RunAvailability = [None; NCAP];
            for (slot, cap) in a.iter_mut().zip(Capability::ALL.iter()) {
                *slot = metrics
                    .get(&format!("{}.availability", cap.name()))
                    .copied();
            }
            Ok(a)
        },
        |done, total| progress.runs(done, total),
    );
    results.into_iter().collect()
}

/// Every brute-force run's availabilities (in task order) gathered per design in plan order.
pub fn collect(
    designs: &[(Plan, FailureModel)],
    runs: usize,
    tasks: &[BruteTask],
    results: Vec<RunAvailability>,
) -> Vec<BruteForce> {
    assert_eq!(tasks.len(), results.len(), "one result per brute-force run");
    let mut out: Vec<BruteForce> = designs
        .iter()
        .map(|(d, _)| BruteForce {
            runs,
            duration_s: d.duration_ns as f64 / 1e9,
            ..BruteForce::default()
        })
        .collect();
    for (t, a) in tasks.iter().zip(results) {
        for (cap, v) in Capability::ALL.iter().zip(a) {
            if let Some(v) = v {
                out[t.design]
                    .availability
                    .entry(cap.name().to_string())
                    .or_default()
                    .push(v);
            }
        }
    }
    out
}

/// `runs` brute-force runs of each design, in parallel on one machine; results per design in plan
/// order.
pub fn run_all(
    designs: &[(Plan, FailureModel)],
    runs: usize,
    seed: u64,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<BruteForce>, String> {
    let tasks = tasks(designs, runs, seed)?;
    let all: Vec<usize> = (0..tasks.len()).collect();
    let results = measure(&tasks, &all, jobs, progress)?;
    Ok(collect(designs, runs, &tasks, results))
}
