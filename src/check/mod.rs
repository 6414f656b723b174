//! `kube-ha-sim check`: finds scenario files, runs each one (over one seed or a sweep of seeds, optionally
//! twice to check determinism) on all cores, judges the expectations, compares with baselines, and returns
//! a structured [`CheckReport`] that renders as text, as JUnit XML, and as an exit code.
//!
//! - **Discovery** ([`discover()`]): each path is a scenario file, or a folder searched recursively for
//!   `*.json` files (hidden entries, symbolic links to folders and `*.baseline.json` files are left out).
//!   The files are run in the order of their sorted paths, whatever order the runs finish in.
//! - **Seeds** ([`seeds::SeedSpec`]): the file's seed, `--seeds A..B` or `--seeds N`. An expectation passes
//!   only if it holds on every seed; the report gives the worst seed and percentiles ([`stats`]).
//! - **Steady state**: a run whose cluster never reaches steady state (no warm-up end) fails.
//! - **Determinism** (`--twice`): every run is done twice; a different trace hash or JSON report fails.
//! - **Baselines** (`--baseline DIR`, `--update`): see [`baseline`].
//! - **Exit code** ([`CheckReport::exit_code`]): 0 all pass, 1 any fails, 2 bad input (an invalid scenario
//!   or baseline file, a path that does not exist, a run the model could not finish). Invalid files are
//!   reported and the valid ones still run.
//!
//! Files without expectations are not run (`SKIP`).
//!
//! This file holds the types and the [`check`] entry point; `discover.rs` finds and loads the scenario
//! files, `runner.rs` runs the seeds (twice with `--twice`) and merges them into results, and
//! `render.rs` writes the report as text and as JUnit.

pub mod baseline;
mod discover;
mod render;
mod runner;
pub mod seeds;
pub mod shard;
pub mod stats;

pub use discover::discover;
pub use render::shell_quote;
pub use runner::{json_difference, run_seed};

use crate::observe::metrics::Metrics;
use baseline::{BaselineDiff, Tolerances};
use seeds::SeedSpec;
use stats::ExpectationSummary;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Exit code: every scenario passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: a scenario failed (an expectation, steady state, determinism or a baseline).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input.
pub const EXIT_BAD_INPUT: i32 = 2;

/// The folder searched when no path is given.
pub const DEFAULT_PATH: &str = "scenarios";

/// Stack size of the worker threads (a run is deep in places; the main thread has 8 MiB too).
const WORKER_STACK: usize = 16 << 20;

/// What to check and how.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Scenario files and folders; empty means [`DEFAULT_PATH`].
    pub paths: Vec<PathBuf>,
    /// The seeds of each scenario.
    pub seeds: SeedSpec,
    /// Runs at once; None means one per core (`available_parallelism`).
    pub jobs: Option<usize>,
    /// The baseline folder, if any.
    pub baseline: Option<PathBuf>,
    /// Rewrite the baselines instead of comparing with them.
    pub update: bool,
    /// Run every seed twice and compare.
    pub twice: bool,
    /// Baseline tolerances.
    pub tolerances: Tolerances,
    /// Run only this shard's runs ([`run_shard`]); they keep their metrics for the merge's baselines.
    pub shard: Option<shard::Shard>,
    /// Take the runs from shard files instead of running them (`merge`): the check they were part
    /// of, and each run by its index.
    pub merge_from: Option<(shard::CheckIdentity, BTreeMap<usize, SeedRun>)>,
}

/// What [`check_streaming`] hands its caller as the check goes: the unusable files and the scenarios'
/// results, in path order, each as soon as it and everything before it is known.
#[derive(Clone, Copy, Debug)]
pub enum Streamed<'a> {
    /// A path or file that could not be used.
    Invalid(&'a InputError),
    /// A scenario's result, once all its seeds finished.
    Scenario(&'a ScenarioResult),
}

impl Streamed<'_> {
    /// The file it is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Streamed::Invalid(e) => &e.path,
            Streamed::Scenario(r) => &r.path,
        }
    }
}

/// What a caller of [`check_streaming`] is told as the check goes.
pub trait CheckProgress {
    /// The check starts `total` runs (each seed, twice with `--twice`).
    fn start(&mut self, _total: usize) {}
    /// `done` of the runs have finished.
    fn run_done(&mut self, _done: usize) {}
    /// The next item of the summary, in path order; `flags` renders it ([`CheckReport::render_item`]).
    fn item(&mut self, _flags: &CheckReport, _item: Streamed) {}
}

/// A caller that wants only the final report.
pub struct Quiet;
impl CheckProgress for Quiet {}

/// A path or file that could not be used.
#[derive(Clone, Debug, PartialEq)]
pub struct InputError {
    /// The path.
    pub path: PathBuf,
    /// What is wrong with it (names the file).
    pub message: String,
}

/// How a scenario ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Everything held.
    Passed,
    /// An expectation, steady state, determinism or the baseline failed.
    Failed,
    /// A run could not finish, or its baseline file is unusable.
    Error,
    /// Not run: the file has no expectations.
    Skipped,
}

/// One run (one seed) of a scenario, kept small: a sweep keeps one per seed.
#[derive(Clone, Debug)]
pub struct SeedRun {
    /// The seed.
    pub seed: u64,
    /// The metrics (empty when the run failed).
    pub metrics: Metrics,
    /// The value and verdict of each expectation, in the scenario's order.
    pub verdicts: Vec<(Option<f64>, bool)>,
    /// True when the cluster reached steady state.
    pub steady: bool,
    /// The trace hash.
    pub trace_hash: u64,
    /// Wall-clock seconds (both runs with `--twice`).
    pub time_s: f64,
    /// Why the run could not finish, if it could not.
    pub error: Option<String>,
    /// With `--twice`: how the second run differed from the first, if it did.
    pub nondeterminism: Option<String>,
}

/// What happened with a scenario's baseline.
#[derive(Clone, Debug, PartialEq)]
pub enum BaselineOutcome {
    /// Compared with the file.
    Compared {
        /// The baseline file.
        path: PathBuf,
        /// The differences.
        diff: BaselineDiff,
    },
    /// There is no baseline file.
    Missing {
        /// Where it was expected.
        path: PathBuf,
    },
    /// `--update` wrote it.
    Updated {
        /// The file written.
        path: PathBuf,
    },
    /// The file could not be read, parsed or written.
    Unusable {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

/// The result for one scenario file.
#[derive(Clone, Debug)]
pub struct ScenarioResult {
    /// The file, as found.
    pub path: PathBuf,
    /// The scenario's name.
    pub name: String,
    /// The seeds it ran with.
    pub seeds: Vec<u64>,
    /// Each expectation over the seeds that finished.
    pub expectations: Vec<ExpectationSummary>,
    /// Seeds whose cluster never reached steady state.
    pub unsteady_seeds: Vec<u64>,
    /// Seeds whose run could not finish, with why.
    pub errors: Vec<(u64, String)>,
    /// Seeds whose two runs differed (`--twice`), with how.
    pub nondeterministic: Vec<(u64, String)>,
    /// The baseline, when `--baseline` was given and the runs finished.
    pub baseline: Option<BaselineOutcome>,
    /// Wall-clock seconds of all its runs.
    pub time_s: f64,
    /// The verdict.
    pub status: Status,
}

impl ScenarioResult {
    /// The command that replays `seed` of this scenario.
    pub fn replay(&self, seed: u64) -> String {
        format!(
            "kube-ha-sim run {} --seed {seed}",
            shell_quote(&self.path.display().to_string())
        )
    }
}

/// Everything a check found.
#[derive(Clone, Debug, Default)]
pub struct CheckReport {
    /// Paths and files that could not be used.
    pub input_errors: Vec<InputError>,
    /// One result per valid scenario file, sorted by path.
    pub scenarios: Vec<ScenarioResult>,
    /// True when `--seeds` was given.
    pub sweep: bool,
    /// True with `--twice`.
    pub twice: bool,
    /// True with `--baseline` but without `--update`.
    pub compared_baselines: bool,
    /// Runs done (each seed, twice with `--twice`).
    pub runs: usize,
    /// Worker threads used.
    pub jobs: usize,
    /// Wall-clock seconds of the whole check.
    pub wall_s: f64,
}

impl CheckReport {
    fn count(&self, s: Status) -> usize {
        self.scenarios.iter().filter(|r| r.status == s).count()
    }

    /// Scenarios that passed.
    pub fn passed(&self) -> usize {
        self.count(Status::Passed)
    }

    /// Scenarios that did not pass: failed, errors and invalid files.
    pub fn failed(&self) -> usize {
        self.count(Status::Failed) + self.count(Status::Error) + self.input_errors.len()
    }

    /// Scenario files without expectations.
    pub fn skipped(&self) -> usize {
        self.count(Status::Skipped)
    }

    /// 2 for any bad input or run error, else 1 for any failure, else 0.
    pub fn exit_code(&self) -> i32 {
        if !self.input_errors.is_empty() || self.count(Status::Error) > 0 {
            EXIT_BAD_INPUT
        } else if self.count(Status::Failed) > 0 {
            EXIT_FAILED
        } else {
            EXIT_OK
        }
    }
}

/// Validates the options before anything runs; returns the number of jobs.
fn validate(opts: &CheckOptions) -> Result<usize, String> {
    if opts.update && opts.baseline.is_none() {
        return Err("--update rewrites baselines: it needs --baseline DIR".into());
    }
    match opts.jobs {
        Some(0) => Err("--jobs 0: at least one job is needed".into()),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)),
    }
}

/// Runs the check. Err only for options that make no sense together (`--update` without `--baseline`,
/// `--jobs 0`); everything else, bad files included, is in the report.
pub fn check(opts: &CheckOptions) -> Result<CheckReport, String> {
    check_streaming(opts, &mut Quiet)
}

/// [`check`], telling `progress` about each finished run and handing it the summary's items in path
/// order as soon as each is known (a scenario once all its seeds ran and every file before it is done).
pub fn check_streaming(
    opts: &CheckOptions,
    progress: &mut dyn CheckProgress,
) -> Result<CheckReport, String> {
    let jobs = validate(opts)?;
    let started = Instant::now();
    let Work {
        loaded,
        seed_lists,
        tasks,
        input_errors,
    } = Work::find(opts);
    let mut report = CheckReport {
        sweep: opts.seeds.is_sweep(),
        twice: opts.twice,
        compared_baselines: opts.baseline.is_some() && !opts.update,
        runs: tasks.len() * if opts.twice { 2 } else { 1 },
        ..CheckReport::default()
    };
    let mut stream = InOrder {
        loaded: &loaded,
        seed_lists: &seed_lists,
        runs: tasks.iter().map(|_| None).collect(),
        left: seed_lists.iter().map(Vec::len).collect(),
        next: 0,
        first: 0,
        next_error: 0,
        done: 0,
    };
    progress.start(tasks.len());
    stream.emit_ready(opts, &input_errors, &mut report, progress);
    let mut on_done = |k: usize, run: SeedRun| {
        stream.runs[k] = Some(run);
        stream.left[tasks[k].0] -= 1;
        stream.done += 1;
        progress.run_done(stream.done);
        stream.emit_ready(opts, &input_errors, &mut report, progress);
    };
    let workers = match &opts.merge_from {
        Some((identity, runs)) => {
            let files: Vec<PathBuf> = loaded.iter().map(|(p, _)| p.clone()).collect();
            if *identity != shard::identity(opts, &files, tasks.len()) {
                return Err(
                    "the shards were made from other scenario files or options than this merge's \
                     (same paths, --seeds and --twice are needed, from the same checkout)"
                        .into(),
                );
            }
            for (&k, run) in runs {
                on_done(k, run.clone());
            }
            0
        }
        None => runner::run_tasks(&loaded, &tasks, jobs, opts, &mut on_done),
    };
    stream.emit_ready(opts, &input_errors, &mut report, progress);
    debug_assert_eq!(stream.next, loaded.len(), "every scenario was merged");
    report.jobs = workers;
    report.input_errors = input_errors;
    report.wall_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// A check's work, found before anything runs: the loaded scenarios in path order, each one's seeds,
/// the runs (scenario index, seed) in single-machine order, and the files that could not be used.
struct Work {
    loaded: Vec<(PathBuf, crate::scenario::Plan)>,
    seed_lists: Vec<Vec<u64>>,
    tasks: Vec<(usize, u64)>,
    input_errors: Vec<InputError>,
}

impl Work {
    fn find(opts: &CheckOptions) -> Work {
        let paths = if opts.paths.is_empty() {
            vec![PathBuf::from(DEFAULT_PATH)]
        } else {
            opts.paths.clone()
        };
        let (files, mut input_errors) = discover(&paths);
        let mut loaded = discover::load_all(files, &mut input_errors);
        if opts.baseline.is_some() {
            discover::reject_duplicate_names(&mut loaded, &mut input_errors);
        }
        input_errors.sort_by(|a, b| a.path.cmp(&b.path));
        let seed_lists: Vec<Vec<u64>> = loaded
            .iter()
            .map(|(_, s)| {
                if s.expect.is_empty() {
                    Vec::new()
                } else {
                    opts.seeds.seeds(s.seed)
                }
            })
            .collect();
        let tasks: Vec<(usize, u64)> = seed_lists
            .iter()
            .enumerate()
            .flat_map(|(i, seeds)| seeds.iter().map(move |&s| (i, s)))
            .collect();
        Work {
            loaded,
            seed_lists,
            tasks,
            input_errors,
        }
    }
}

/// Runs one shard's share of a check (`check --shard I/N`): its shard file, and the files that could
/// not be used (reported by every shard; the merge reports them once).
pub fn run_shard(
    opts: &CheckOptions,
    shard: shard::Shard,
    progress: &mut dyn CheckProgress,
) -> Result<(shard::ShardFile, Vec<InputError>), String> {
    let jobs = validate(opts)?;
    let work = Work::find(opts);
    // This shard's runs, and for each its index among all the check's runs.
    let index: Vec<usize> = (0..work.tasks.len()).filter(|&k| shard.owns(k)).collect();
    let mine: Vec<(usize, u64)> = index.iter().map(|&k| work.tasks[k]).collect();
    progress.start(mine.len());
    let mut runs: Vec<(usize, SeedRun)> = Vec::with_capacity(mine.len());
    runner::run_tasks(&work.loaded, &mine, jobs, opts, &mut |j, run| {
        runs.push((index[j], run));
        progress.run_done(runs.len());
    });
    runs.sort_by_key(|(k, _)| *k);
    let files: Vec<PathBuf> = work.loaded.iter().map(|(p, _)| p.clone()).collect();
    let identity = shard::identity(opts, &files, work.tasks.len());
    Ok((
        shard::ShardFile::new(shard, identity, &runs),
        work.input_errors,
    ))
}

/// The runs as they finish, merged into each scenario's result and handed on in path order.
struct InOrder<'a> {
    loaded: &'a [(PathBuf, crate::scenario::Plan)],
    seed_lists: &'a [Vec<u64>],
    /// A slot per task (the tasks of scenario 0, then 1...).
    runs: Vec<Option<SeedRun>>,
    /// Per scenario, the runs still to finish.
    left: Vec<usize>,
    /// The next scenario to merge, the first of its runs' slots, and the next input error to hand on.
    next: usize,
    first: usize,
    next_error: usize,
    /// Runs finished.
    done: usize,
}

impl InOrder<'_> {
    /// Merges and hands on every scenario whose runs are all done and all before it are, with the
    /// input errors whose paths sort before it; at the end (all merged) the remaining input errors.
    fn emit_ready(
        &mut self,
        opts: &CheckOptions,
        errors: &[InputError],
        report: &mut CheckReport,
        progress: &mut dyn CheckProgress,
    ) {
        while self.next < self.loaded.len() && self.left[self.next] == 0 {
            let (path, scenario) = &self.loaded[self.next];
            while let Some(e) = errors.get(self.next_error).filter(|e| e.path < *path) {
                progress.item(report, Streamed::Invalid(e));
                self.next_error += 1;
            }
            let first = self.first;
            let seeds = &self.seed_lists[self.next];
            self.first += seeds.len();
            let mine: Vec<SeedRun> = self.runs[first..first + seeds.len()]
                .iter_mut()
                .filter_map(Option::take)
                .collect();
            let r = runner::merge(path, scenario, seeds, mine, opts);
            progress.item(report, Streamed::Scenario(&r));
            report.scenarios.push(r);
            self.next += 1;
        }
        if self.next == self.loaded.len() {
            for e in &errors[self.next_error..] {
                progress.item(report, Streamed::Invalid(e));
            }
            self.next_error = errors.len();
        }
    }
}

#[cfg(test)]
mod tests;
