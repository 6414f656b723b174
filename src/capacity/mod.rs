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
pub mod shard;
mod warm;

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

/// How the detailed runs of a plan get their steady state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Warmups {
    /// Every run warms its cluster up with its own seed (derived from the plan seed, the design, the
    /// transition and the sample): the samples of different transitions are independent. The
    /// default, and what `reports/plans/` hold.
    #[default]
    PerRun,
    /// Sample k of every transition of a design uses one seed (from the plan seed, the design and k),
    /// so the runs share their warm-up, and the runs leaving the same mode share the crash into it
    /// and the settling after it: the planner runs each shared part once and forks the world
    /// ([`crate::world::World::fork_with`]) for each run (`plan --shared-warmups`). `fork: false`
    /// runs every run from the start instead (`--no-fork`): the same samples, byte for byte, slower.
    Shared { fork: bool },
}

/// One detailed run to do: (design, transition, sample).
struct Task {
    design: usize,
    transition: usize,
    sample: u32,
    scenario: crate::scenario::Plan,
    change_ns: crate::engine::Nanos,
    seed: u64,
}

/// A plan's work before any detailed run: every design's failure process surveyed and the detailed
/// runs its transitions need, in a fixed order. The runs are what is expensive, so this is where a
/// plan is cut across machines (`plan --shard I/N`): each machine measures its share of
/// [`Work::tasks`], and [`Work::finish`] combines the samples, from one machine or from many, the same way.
pub struct Work {
    staged: Vec<(FailureModel, Path, Timing)>,
    tasks: Vec<Task>,
    years: u64,
    seed: u64,
    warmups: Warmups,
}

/// Surveys every design's failure process with `years` and `seed` and lists the detailed runs, with
/// their seeds as `warmups` says.
pub fn prepare(
    plan: &CapacityPlan,
    years: u64,
    seed: u64,
    warmups: Warmups,
    progress: &dyn Progress,
) -> Result<Work, String> {
    let mut staged = Vec::new();
    let mut tasks = Vec::new();
    for (d, design) in plan.designs.iter().enumerate() {
        progress.stage(&format!(
            "design {}: failure process, {years} years",
            design.name
        ));
        let model = FailureModel::new(plan, &design.scenario.layout, design.crews);
        let path = survey(&model, years as f64, seed);
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
                let seed = match warmups {
                    Warmups::PerRun => seed_of(&[&ss, &design.name, &la, &lb, &ks]),
                    Warmups::Shared { .. } => seed_of(&[&ss, &design.name, "shared warm-up", &ks]),
                };
                tasks.push(Task {
                    design: d,
                    transition: t,
                    sample: k,
                    scenario: scenario.clone(),
                    change_ns,
                    seed,
                });
            }
        }
        staged.push((model, path, timing));
    }
    Ok(Work {
        staged,
        tasks,
        years,
        seed,
        warmups,
    })
}

impl Work {
    /// How many detailed runs the plan needs.
    pub fn tasks(&self) -> usize {
        self.tasks.len()
    }

    /// What the detailed runs are, as one number: each run's scenario, change time and seed. Two
    /// machines with the same fingerprint measure the same samples, so shards with different
    /// fingerprints (another plan file, seed or `--years`, or an edited plan) must not be merged.
    pub fn fingerprint(&self) -> u64 {
        let parts: Vec<String> = self
            .tasks
            .iter()
            .map(|t| {
                let scenario = serde_json::to_string(&t.scenario.to_scenario()).unwrap_or_default();
                format!("{}/{}/{}/{scenario}", t.change_ns, t.seed, t.design)
            })
            .collect();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        seed_of(&refs)
    }

    /// The failing designs with their failure models, as `--brute-force` needs them.
    pub fn brute_designs(&self, plan: &CapacityPlan) -> Vec<(crate::scenario::Plan, FailureModel)> {
        plan.designs
            .iter()
            .zip(&self.staged)
            .map(|(d, (m, _, _))| (d.scenario.clone(), m.clone()))
            .collect()
    }

    /// Measures the detailed runs `which` (indices into the task list) on `jobs` threads; samples in
    /// the order of `which`. The first failed run (in that order) is the error.
    pub fn measure(
        &self,
        which: &[usize],
        jobs: usize,
        progress: &dyn Progress,
    ) -> Result<Vec<Sample>, String> {
        progress.stage(&format!("{} detailed runs of the transitions", which.len()));
        if self.warmups == (Warmups::Shared { fork: true }) {
            return self.measure_forked(which, jobs, progress);
        }
        let results = parallel_map(
            which,
            jobs,
            |&k| {
                let t = &self.tasks[k];
                costs::measure(&t.scenario, t.change_ns, t.seed, self.staged[t.design].2)
            },
            |done, total| progress.runs(done, total),
        );
        results.into_iter().collect()
    }

    /// Combines the samples of every detailed run (in task order) into each design's analysis.
    pub fn finish(
        self,
        plan: &CapacityPlan,
        all: Vec<Sample>,
        progress: &dyn Progress,
    ) -> Vec<DesignAnalysis> {
        assert_eq!(all.len(), self.tasks.len(), "one sample per detailed run");
        let years_f = self.years as f64;
        let mut samples: Vec<Vec<Vec<Sample>>> = self
            .staged
            .iter()
            .map(|(_, p, _)| vec![Vec::new(); p.interner.transitions.len()])
            .collect();
        for (task, s) in self.tasks.iter().zip(all) {
            debug_assert_eq!(
                samples[task.design][task.transition].len(),
                task.sample as usize
            );
            samples[task.design][task.transition].push(s);
        }
        let mut out = Vec::new();
        for ((design, (model, path, timing)), samples) in
            plan.designs.iter().zip(self.staged).zip(samples)
        {
            progress.stage(&format!("design {}: combining", design.name));
            let totals = account(&model, &path, &samples, years_f, self.seed);
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
        out
    }
}

/// Analyses every design of the plan with `years` (the plan's, or the command line's) and `seed`, on
/// one machine.
pub fn analyse(
    plan: &CapacityPlan,
    years: u64,
    seed: u64,
    warmups: Warmups,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<DesignAnalysis>, String> {
    let work = prepare(plan, years, seed, warmups, progress)?;
    let all: Vec<usize> = (0..work.tasks()).collect();
    let samples = work.measure(&all, jobs, progress)?;
    Ok(work.finish(plan, samples, progress))
}
