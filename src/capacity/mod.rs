//! Capacity planning (`kube-ha-sim plan`, issue 13): availability under random node and zone failures,
//! with the failover mechanics of the detailed simulator.
//!
//! The module is named `capacity` because `Plan` already names a validated scenario
//! (`scenario::Plan`). How it works, in three steps per design:
//! 1. [`process`]: the failure process (every failing node and zone, repair crews) is simulated for the
//!    plan's years, giving the sequence of failure modes ([`modes`]), canonicalised by role. A first
//!    pass only collects which transitions between modes happen and how often ([`episodes::survey`]).
//! 2. [`costs`]: every distinct transition is run a few times (seeds) in the detailed simulator, from the
//!    steady state of the mode it leaves: what it costs each capability, and whether the new mode
//!    leaves the capability down for good.
//! 3. [`episodes::account`]: the same path is replayed with one measured sample per stay, summing
//!    downtime, outages and the breakdown by failure mode; [`report`] turns the totals into `plan.json`
//!    metrics, with batch-means confidence intervals over the years.
//!
//! [`exact`] solves the failure process's Markov chain where every distribution is exponential, for
//! the mode part of the unavailability (the closed-form check) and for modes too rare to meet in the
//! simulated years.

pub mod brute;
pub mod costs;
pub mod episodes;
pub mod exact;
pub mod model;
pub mod modes;
pub mod process;
pub mod report;

use costs::{parallel_map, seed_of, transition_scenario, Sample, Timing};
use episodes::{account, survey, Path, Totals};
use model::{CapacityPlan, Design};
use process::FailureModel;

/// One design's analysis.
pub struct DesignAnalysis {
    pub design: Design,
    pub model: FailureModel,
    pub path: Path,
    /// Per transition: the measured samples.
    pub samples: Vec<Vec<Sample>>,
    pub totals: Totals,
    pub timing: Timing,
    /// The failure process's exact stationary solution, when every distribution is exponential.
    pub exact: Option<exact::Stationary>,
}

/// Progress callbacks (the command line draws a line on a terminal; tests pass nothing).
pub trait Progress: Sync {
    fn stage(&self, _what: &str) {}
    fn runs(&self, _done: usize, _total: usize) {}
}

/// No progress output.
pub struct Quiet;
impl Progress for Quiet {}

/// One detailed run to do: (design, transition, sample).
struct Task {
    design: usize,
    transition: usize,
    sample: u32,
    scenario: crate::scenario::Plan,
    change_ns: crate::engine::Nanos,
    seed: u64,
}

/// Analyses every design of the plan with `years` (the plan's, or the command line's) and `seed`.
pub fn analyse(
    plan: &CapacityPlan,
    years: u64,
    seed: u64,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<DesignAnalysis>, String> {
    let years_f = years as f64;
    let mut staged = Vec::new();
    let mut tasks = Vec::new();
    for (d, design) in plan.designs.iter().enumerate() {
        progress.stage(&format!(
            "design {}: failure process, {years} years",
            design.name
        ));
        let model = FailureModel::new(plan, &design.scenario.layout, design.crews);
        let path = survey(&model, years_f, seed);
        let timing = Timing::for_design(&design.scenario);
        for (t, &(a, b)) in path.interner.transitions.iter().enumerate() {
            let from = model.table.representative(path.interner.modes[a]);
            let to = model.table.representative(path.interner.modes[b]);
            let (scenario, change_ns) =
                transition_scenario(&design.scenario, &model.table, &from, &to, timing)?;
            let (la, lb) = (
                model.table.label(path.interner.modes[a]),
                model.table.label(path.interner.modes[b]),
            );
            for k in 0..plan.transition_samples {
                let ks = k.to_string();
                let ss = seed.to_string();
                tasks.push(Task {
                    design: d,
                    transition: t,
                    sample: k,
                    scenario: scenario.clone(),
                    change_ns,
                    seed: seed_of(&[&ss, &design.name, &la, &lb, &ks]),
                });
            }
        }
        staged.push((model, path, timing));
    }
    progress.stage(&format!("{} detailed runs of the transitions", tasks.len()));
    let results = parallel_map(
        &tasks,
        jobs,
        |t| {
            let timing = staged[t.design].2;
            costs::measure(&t.scenario, t.change_ns, t.seed, timing)
        },
        |done, total| progress.runs(done, total),
    );
    let mut samples: Vec<Vec<Vec<Sample>>> = staged
        .iter()
        .map(|(_, p, _)| vec![Vec::new(); p.interner.transitions.len()])
        .collect();
    for (task, r) in tasks.iter().zip(results) {
        let s = r?;
        debug_assert_eq!(
            samples[task.design][task.transition].len(),
            task.sample as usize
        );
        samples[task.design][task.transition].push(s);
    }
    let mut out = Vec::new();
    for ((design, (model, path, timing)), samples) in plan.designs.iter().zip(staged).zip(samples) {
        progress.stage(&format!("design {}: combining", design.name));
        let totals = account(&model, &path, &samples, years_f, seed);
        let exact = exact::solve(&model);
        out.push(DesignAnalysis {
            design: design.clone(),
            model,
            path,
            samples,
            totals,
            timing,
            exact,
        });
    }
    Ok(out)
}
