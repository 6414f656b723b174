//! `kube-ha-sim check`: finds scenario files, runs each one (over one seed or a sweep of seeds, optionally
//! twice to check determinism) on all cores, judges the expectations, compares with baselines, and returns
//! a structured [`CheckReport`] that renders as text, as JUnit XML, and as an exit code.
//!
//! - **Discovery** ([`discover`]): each path is a scenario file, or a folder searched recursively for
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

pub mod baseline;
pub mod seeds;
pub mod stats;

use crate::observe::metrics::Metrics;
use crate::report::json::round;
use crate::report::junit::{CaseResult, TestCase, TestSuite, TestSuites};
use crate::scenario::{load_scenario, Plan};
use baseline::{fmt_num, seeds_text, Baseline, BaselineDiff, Tolerances};
use seeds::SeedSpec;
use serde_json::Value;
use stats::{ExpectationSummary, SeedValue};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
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
    /// Print a line to stderr as each run finishes.
    pub progress: bool,
}

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

    /// The closing line: `N passed, N failed` (and `, N skipped` when some were).
    pub fn closing_line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            let _ = write!(s, ", {} skipped", self.skipped());
        }
        s
    }

    /// The summary for stdout: a line per file (in path order), a line per failed expectation (metric,
    /// bound, actual, the replay command), in a sweep a line per expectation with its worst seed and
    /// percentiles, and the closing line.
    pub fn render_text(&self) -> String {
        enum Item<'a> {
            Invalid(&'a InputError),
            Scenario(&'a ScenarioResult),
        }
        let mut items: Vec<(&Path, Item)> = self
            .input_errors
            .iter()
            .map(|e| (e.path.as_path(), Item::Invalid(e)))
            .chain(
                self.scenarios
                    .iter()
                    .map(|r| (r.path.as_path(), Item::Scenario(r))),
            )
            .collect();
        items.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::new();
        for (_, item) in items {
            match item {
                Item::Invalid(e) => {
                    let first = e.message.lines().next().unwrap_or("");
                    let _ = writeln!(out, "INVALID {}: {first}", e.path.display());
                }
                Item::Scenario(r) => self.render_scenario(&mut out, r),
            }
        }
        out.push_str(&self.closing_line());
        out.push('\n');
        out
    }

    fn render_scenario(&self, out: &mut String, r: &ScenarioResult) {
        let tag = match r.status {
            Status::Passed => "PASS ",
            Status::Failed => "FAIL ",
            Status::Error => "ERROR",
            Status::Skipped => "SKIP ",
        };
        if r.status == Status::Skipped {
            let _ = writeln!(
                out,
                "{tag} {} ({}): no expectations",
                r.path.display(),
                r.name
            );
            return;
        }
        let seeds = if self.sweep {
            format!("{} seeds {}", r.seeds.len(), seeds_text(&r.seeds))
        } else {
            format!("seed {}", seeds_text(&r.seeds))
        };
        let _ = writeln!(out, "{tag} {} ({}, {seeds})", r.path.display(), r.name);
        let ind = "      ";
        for (seed, e) in &r.errors {
            let _ = writeln!(out, "{ind}error on seed {seed}: {e}");
        }
        if let Some((seed, _)) = r.errors.first() {
            let _ = writeln!(out, "{ind}replay: {}", r.replay(*seed));
        }
        for e in &r.expectations {
            if self.sweep {
                let verdict = if e.passed { "ok  " } else { "FAIL" };
                let failed = if e.passed {
                    String::new()
                } else {
                    format!("failed on {}/{} seeds; ", e.failed_seeds, e.seeds)
                };
                let stats = e
                    .stats
                    .map(|p| {
                        format!(
                            "; min {} p10 {} p50 {} p90 {} max {}",
                            num(p.min),
                            num(p.p10),
                            num(p.p50),
                            num(p.p90),
                            num(p.max)
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{ind}{verdict} {} {}: {failed}worst seed {}: {}{stats}",
                    e.expectation.metric,
                    e.bound,
                    e.worst_seed,
                    value_text(e.worst_value)
                );
                let _ = writeln!(out, "{ind}     replay: {}", r.replay(e.worst_seed));
            } else if !e.passed {
                let _ = writeln!(
                    out,
                    "{ind}{} {}: actual {}",
                    e.expectation.metric,
                    e.bound,
                    value_text(e.worst_value)
                );
                let _ = writeln!(out, "{ind}replay: {}", r.replay(e.worst_seed));
            }
        }
        if !r.unsteady_seeds.is_empty() {
            let _ = writeln!(
                out,
                "{ind}the cluster never reached steady state on seed(s) {}",
                seeds_text(&r.unsteady_seeds)
            );
            let _ = writeln!(out, "{ind}replay: {}", r.replay(r.unsteady_seeds[0]));
        }
        for (seed, how) in &r.nondeterministic {
            let _ = writeln!(out, "{ind}not deterministic on seed {seed}: {how}");
            let _ = writeln!(out, "{ind}replay: {}", r.replay(*seed));
        }
        match &r.baseline {
            None => {}
            Some(BaselineOutcome::Compared { path, diff }) => {
                let lines = diff.lines();
                if !diff.is_ok() {
                    let _ = writeln!(out, "{ind}baseline drift ({}):", path.display());
                } else if !lines.is_empty() {
                    let _ = writeln!(out, "{ind}baseline ({}):", path.display());
                }
                for l in lines {
                    let _ = writeln!(out, "{ind}  {l}");
                }
            }
            Some(BaselineOutcome::Missing { path }) => {
                let _ = writeln!(
                    out,
                    "{ind}no baseline {}: record one with --update",
                    path.display()
                );
            }
            Some(BaselineOutcome::Updated { path }) => {
                let _ = writeln!(out, "{ind}baseline written: {}", path.display());
            }
            Some(BaselineOutcome::Unusable { message, .. }) => {
                let _ = writeln!(out, "{ind}baseline error: {message}");
            }
        }
    }

    /// The report as JUnit test suites: one suite per scenario file (named after the scenario), one test
    /// case per expectation (class name = the scenario's name) whose failure message is
    /// `metric bound actual` and whose body holds the replay command; plus a case for steady state when it
    /// failed, for determinism with `--twice`, for the baseline with `--baseline`, for runs that could not
    /// finish (an `error`), and one `error` suite per invalid file.
    pub fn junit(&self) -> TestSuites {
        let mut suites = Vec::new();
        for e in &self.input_errors {
            let p = e.path.display().to_string();
            suites.push(TestSuite {
                name: p.clone(),
                file: Some(p.clone()),
                cases: vec![TestCase {
                    classname: p.clone(),
                    name: "valid scenario file".into(),
                    file: Some(p),
                    result: CaseResult::Error {
                        message: e.message.lines().next().unwrap_or("").to_string(),
                        kind: "invalid-input".into(),
                        body: e.message.clone(),
                    },
                    ..TestCase::default()
                }],
            });
        }
        for r in &self.scenarios {
            suites.push(self.junit_suite(r));
        }
        suites.sort_by(|a, b| a.file.cmp(&b.file));
        TestSuites {
            name: "kube-ha-sim check".into(),
            suites,
        }
    }

    fn junit_suite(&self, r: &ScenarioResult) -> TestSuite {
        let file = r.path.display().to_string();
        let case = |name: String, result: CaseResult| TestCase {
            classname: r.name.clone(),
            name,
            file: Some(file.clone()),
            result,
            ..TestCase::default()
        };
        let mut cases = Vec::new();
        if r.status == Status::Skipped {
            cases.push(case(
                "expectations".into(),
                CaseResult::Skipped {
                    message: "the scenario has no expectations".into(),
                },
            ));
        }
        if !r.errors.is_empty() {
            let body: Vec<String> = r
                .errors
                .iter()
                .map(|(s, e)| format!("seed {s}: {e}\nreplay: {}", r.replay(*s)))
                .collect();
            cases.push(case(
                "run".into(),
                CaseResult::Error {
                    message: format!(
                        "the run could not finish on seed {}: {}",
                        r.errors[0].0, r.errors[0].1
                    ),
                    kind: "run-error".into(),
                    body: body.join("\n"),
                },
            ));
        }
        for e in &r.expectations {
            let name = format!("{} {}", e.expectation.metric, e.bound);
            let result = if e.passed {
                CaseResult::Passed
            } else {
                let mut message = format!(
                    "{} {} actual {}",
                    e.expectation.metric,
                    e.bound,
                    value_text(e.worst_value)
                );
                let mut body = String::new();
                if self.sweep {
                    let _ = write!(
                        message,
                        " (worst seed {}; failed on {}/{} seeds)",
                        e.worst_seed, e.failed_seeds, e.seeds
                    );
                    if let Some(p) = e.stats {
                        let _ = writeln!(
                            body,
                            "over {} seeds: min {} p10 {} p50 {} p90 {} max {}",
                            p.count,
                            num(p.min),
                            num(p.p10),
                            num(p.p50),
                            num(p.p90),
                            num(p.max)
                        );
                    }
                }
                let _ = writeln!(
                    body,
                    "{} {}: actual {} on seed {}",
                    e.expectation.metric,
                    e.bound,
                    value_text(e.worst_value),
                    e.worst_seed
                );
                let _ = write!(body, "replay: {}", r.replay(e.worst_seed));
                CaseResult::Failure {
                    message,
                    kind: "expectation".into(),
                    body,
                }
            };
            cases.push(case(name, result));
        }
        if !r.unsteady_seeds.is_empty() {
            cases.push(case(
                "reaches steady state".into(),
                CaseResult::Failure {
                    message: format!(
                        "the cluster never reached steady state on seed(s) {}",
                        seeds_text(&r.unsteady_seeds)
                    ),
                    kind: "steady-state".into(),
                    body: format!("replay: {}", r.replay(r.unsteady_seeds[0])),
                },
            ));
        }
        if self.twice && r.status != Status::Skipped {
            let result = match r.nondeterministic.first() {
                None => CaseResult::Passed,
                Some((seed, how)) => CaseResult::Failure {
                    message: format!("two runs of seed {seed} differ: {how}"),
                    kind: "nondeterminism".into(),
                    body: r
                        .nondeterministic
                        .iter()
                        .map(|(s, h)| format!("seed {s}: {h}\nreplay: {}", r.replay(*s)))
                        .collect::<Vec<_>>()
                        .join("\n"),
                },
            };
            cases.push(case("deterministic (--twice)".into(), result));
        }
        match &r.baseline {
            None | Some(BaselineOutcome::Updated { .. }) => {}
            Some(b) => {
                let result = match b {
                    BaselineOutcome::Compared { diff, .. } if diff.is_ok() => CaseResult::Passed,
                    BaselineOutcome::Compared { path, diff } => CaseResult::Failure {
                        message: format!(
                            "drift from {}: {}",
                            path.display(),
                            diff.lines().first().cloned().unwrap_or_default()
                        ),
                        kind: "baseline".into(),
                        body: diff.lines().join("\n"),
                    },
                    BaselineOutcome::Missing { path } => CaseResult::Failure {
                        message: format!("no baseline {}", path.display()),
                        kind: "baseline".into(),
                        body: "record one with --update".into(),
                    },
                    BaselineOutcome::Unusable { message, .. } => CaseResult::Error {
                        message: message.clone(),
                        kind: "baseline".into(),
                        body: String::new(),
                    },
                    BaselineOutcome::Updated { .. } => CaseResult::Passed,
                };
                cases.push(case("baseline".into(), result));
            }
        }
        let each = if cases.is_empty() {
            0.0
        } else {
            r.time_s / cases.len() as f64
        };
        for c in &mut cases {
            c.time_s = each;
        }
        TestSuite {
            name: r.name.clone(),
            file: Some(file),
            cases,
        }
    }
}

/// A metric value as printed: rounded to 1e-6 like `report.json`.
fn num(v: f64) -> String {
    if v.is_finite() {
        fmt_num(round(v))
    } else {
        fmt_num(v)
    }
}

fn value_text(v: Option<f64>) -> String {
    v.map(num)
        .unwrap_or_else(|| "missing (the run has no such metric)".into())
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '/' | '.' | '_' | '-' | '+' | ':' | ',' | '=' | '@' | '%')
        });
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Finds the scenario files under `paths` (see the module documentation): sorted, without duplicates.
/// A path that does not exist, or a folder without any `*.json` file, is an input error.
pub fn discover(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<InputError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        match std::fs::metadata(p) {
            Err(e) => errors.push(InputError {
                path: p.clone(),
                message: format!("{}: cannot read it: {e}", p.display()),
            }),
            Ok(m) if m.is_dir() => {
                let before = files.len();
                walk(p, &mut files, &mut errors);
                if files.len() == before {
                    errors.push(InputError {
                        path: p.clone(),
                        message: format!(
                            "{}: no scenario files (*.json) in this folder",
                            p.display()
                        ),
                    });
                }
            }
            Ok(_) => files.push(p.clone()),
        }
    }
    let mut seen = BTreeSet::new();
    files.retain(|f| seen.insert(std::fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    files.sort();
    (files, errors)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            errors.push(InputError {
                path: dir.to_path_buf(),
                message: format!("{}: cannot list the folder: {e}", dir.display()),
            });
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&path, files, errors);
        } else if name.ends_with(".json") && !name.ends_with(".baseline.json") {
            // A symbolic link counts when it leads to a file; links to folders are not followed.
            if ft.is_file() || std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                files.push(path);
            }
        }
    }
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".into()
    }
}

/// Loads a scenario file; a loader that panics is reported as an error, not passed on.
fn load(path: &Path) -> Result<Plan, String> {
    match catch_unwind(AssertUnwindSafe(|| load_scenario(path))) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => {
            let msg = e.to_string();
            let shown = path.display().to_string();
            Err(if msg.contains(&shown) {
                msg
            } else {
                format!("{shown}: {msg}")
            })
        }
        Err(p) => Err(format!(
            "{}: the scenario loader {}",
            path.display(),
            panic_text(p)
        )),
    }
}

/// Runs one seed (twice with `twice`), catching panics.
pub fn run_seed(scenario: &Plan, seed: u64, twice: bool) -> SeedRun {
    let start = Instant::now();
    let mut r = SeedRun {
        seed,
        metrics: Metrics::new(),
        verdicts: Vec::new(),
        steady: false,
        trace_hash: 0,
        time_s: 0.0,
        error: None,
        nondeterminism: None,
    };
    let once = || -> Result<(crate::run::Outcome, Option<Value>), String> {
        match catch_unwind(AssertUnwindSafe(|| crate::run::run(scenario, seed))) {
            Ok(Ok(o)) => {
                let json = twice.then(|| crate::report::json::report(&o));
                Ok((o, json))
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(p) => Err(format!("the simulator {}", panic_text(p))),
        }
    };
    match once() {
        Err(e) => r.error = Some(e),
        Ok((o, json)) => {
            r.metrics = o.metrics.clone();
            r.verdicts = o.verdicts.iter().map(|v| (v.actual, v.passed)).collect();
            r.steady = o.warmup_ns.is_some();
            r.trace_hash = o.trace.hash();
            drop(o);
            if twice {
                match once() {
                    Err(e) => r.nondeterminism = Some(format!("the second run failed: {e}")),
                    Ok((o2, json2)) => {
                        if o2.trace.hash() != r.trace_hash {
                            r.nondeterminism = Some(format!(
                                "trace hash {:016x} then {:016x}",
                                r.trace_hash,
                                o2.trace.hash()
                            ));
                        } else if let (Some(a), Some(b)) = (&json, &json2) {
                            r.nondeterminism = json_difference(a, b, "")
                                .map(|d| format!("the JSON reports differ at {d}"));
                        }
                    }
                }
            }
        }
    }
    r.time_s = start.elapsed().as_secs_f64();
    r
}

/// The first place where two JSON values differ: `/metrics/api.availability: 0.99 vs 0.98`.
pub fn json_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    let here = || {
        if at.is_empty() {
            "/".to_string()
        } else {
            at.to_string()
        }
    };
    let short = |v: &Value| {
        let s = v.to_string();
        if s.chars().count() > 60 {
            format!("{}...", s.chars().take(60).collect::<String>())
        } else {
            s
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().find_map(|k| {
                let p = format!("{at}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => json_difference(u, v, &p),
                    (Some(_), None) => Some(format!("{p}: only in the first run")),
                    _ => Some(format!("{p}: only in the second run")),
                }
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            let first = x
                .iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (u, v))| json_difference(u, v, &format!("{at}/{i}")));
            first.or_else(|| {
                (x.len() != y.len())
                    .then(|| format!("{}: {} items vs {}", here(), x.len(), y.len()))
            })
        }
        _ if a == b => None,
        _ => Some(format!("{}: {} vs {}", here(), short(a), short(b))),
    }
}

/// Validates the options before anything runs.
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
    let jobs = validate(opts)?;
    let started = Instant::now();
    let paths = if opts.paths.is_empty() {
        vec![PathBuf::from(DEFAULT_PATH)]
    } else {
        opts.paths.clone()
    };
    let (files, mut input_errors) = discover(&paths);

    // Load every file; the invalid ones are reported, the rest still run.
    let mut loaded: Vec<(PathBuf, Plan)> = Vec::new();
    for f in files {
        match load(&f) {
            Ok(s) => loaded.push((f, s)),
            Err(message) => input_errors.push(InputError { path: f, message }),
        }
    }
    if opts.baseline.is_some() {
        // Baselines are named after scenarios: two files with one name would share a baseline.
        let mut by_name: BTreeMap<&str, &Path> = BTreeMap::new();
        let mut dups = Vec::new();
        for (i, (p, s)) in loaded.iter().enumerate() {
            if s.expect.is_empty() {
                continue;
            }
            if let Some(first) = by_name.insert(&s.name, p) {
                dups.push((i, format!(
                    "{}: scenario name {:?} is also used by {}; baselines are named after scenarios, so names must be unique",
                    p.display(),
                    s.name,
                    first.display()
                )));
            }
        }
        for (i, message) in dups.into_iter().rev() {
            let (path, _) = loaded.remove(i);
            input_errors.push(InputError { path, message });
        }
    }

    // The work: one task per (scenario, seed), results in a slot per task.
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
    let slots: Vec<Mutex<Option<SeedRun>>> = tasks.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let workers = jobs.min(tasks.len()).max(1);
    let work = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(&(i, seed)) = tasks.get(k) else {
            break;
        };
        let (path, scenario) = &loaded[i];
        let mut r = run_seed(scenario, seed, opts.twice);
        if opts.baseline.is_none() {
            // Only baselines need every metric of every seed; a long sweep should not hold them all.
            r.metrics = Metrics::new();
        }
        if opts.progress {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            let verdict = if r.error.is_some() {
                "error"
            } else if r.verdicts.iter().all(|v| v.1) && r.steady && r.nondeterminism.is_none() {
                "ok"
            } else {
                "FAIL"
            };
            eprintln!(
                "[{n}/{}] {} seed {seed}: {verdict} ({:.1}s)",
                tasks.len(),
                path.display(),
                r.time_s
            );
        }
        *slots[k].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    };
    std::thread::scope(|s| {
        let spawned = (0..workers)
            .filter(|_| {
                std::thread::Builder::new()
                    .name("check-worker".into())
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(s, work)
                    .is_ok()
            })
            .count();
        if spawned == 0 {
            work();
        }
    });
    let mut runs: Vec<Option<SeedRun>> = slots
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect();

    // Merge per scenario, in path order.
    let mut scenarios = Vec::new();
    let mut k = 0;
    for ((path, scenario), seeds) in loaded.iter().zip(&seed_lists) {
        let mine: Vec<SeedRun> = runs[k..k + seeds.len()]
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        k += seeds.len();
        scenarios.push(merge(path, scenario, seeds, mine, opts));
    }
    scenarios.sort_by(|a, b| a.path.cmp(&b.path));
    input_errors.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(CheckReport {
        input_errors,
        scenarios,
        sweep: opts.seeds.is_sweep(),
        twice: opts.twice,
        compared_baselines: opts.baseline.is_some() && !opts.update,
        runs: tasks.len() * if opts.twice { 2 } else { 1 },
        jobs: workers,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// Builds a scenario's result from its runs (and does its baseline).
fn merge(
    path: &Path,
    scenario: &Plan,
    seeds: &[u64],
    runs: Vec<SeedRun>,
    opts: &CheckOptions,
) -> ScenarioResult {
    let mut r = ScenarioResult {
        path: path.to_path_buf(),
        name: scenario.name.clone(),
        seeds: seeds.to_vec(),
        expectations: Vec::new(),
        unsteady_seeds: Vec::new(),
        errors: Vec::new(),
        nondeterministic: Vec::new(),
        baseline: None,
        time_s: runs.iter().map(|x| x.time_s).sum(),
        status: Status::Skipped,
    };
    if scenario.expect.is_empty() {
        return r;
    }
    let ok: Vec<&SeedRun> = runs.iter().filter(|x| x.error.is_none()).collect();
    for x in &runs {
        if let Some(e) = &x.error {
            r.errors.push((x.seed, e.clone()));
        } else if !x.steady {
            r.unsteady_seeds.push(x.seed);
        }
        if let Some(d) = &x.nondeterminism {
            r.nondeterministic.push((x.seed, d.clone()));
        }
    }
    if runs.len() != seeds.len() {
        r.errors.push((
            seeds.first().copied().unwrap_or(0),
            "a run was lost (a worker stopped)".into(),
        ));
    }
    if !ok.is_empty() {
        for (j, e) in scenario.expect.iter().enumerate() {
            let values: Vec<SeedValue> = ok
                .iter()
                .map(|x| {
                    let (actual, passed) = x.verdicts.get(j).copied().unwrap_or((None, false));
                    SeedValue {
                        seed: x.seed,
                        actual,
                        passed,
                    }
                })
                .collect();
            let bound = crate::run::judge(e, &Metrics::new()).bound_text();
            r.expectations.push(stats::summarize(e, bound, &values));
        }
    }
    let failed = r.expectations.iter().any(|e| !e.passed)
        || !r.unsteady_seeds.is_empty()
        || !r.nondeterministic.is_empty();
    r.status = if !r.errors.is_empty() {
        Status::Error
    } else if failed {
        Status::Failed
    } else {
        Status::Passed
    };
    if let (Some(dir), true) = (&opts.baseline, r.errors.is_empty()) {
        let metrics = if ok.len() == 1 {
            ok[0]
                .metrics
                .iter()
                .map(|(k, &v)| (k.clone(), v.is_finite().then(|| round(v))))
                .collect()
        } else {
            let all: Vec<&Metrics> = ok.iter().map(|x| &x.metrics).collect();
            baseline::worst_metrics(&all, &scenario.expect)
        };
        let now = Baseline::new(&scenario.name, seeds, r.status == Status::Passed, metrics);
        let file = baseline::baseline_path(dir, &scenario.name);
        let outcome = if opts.update {
            match crate::report::write_atomic(&file, &now.to_json()) {
                Ok(()) => BaselineOutcome::Updated { path: file },
                Err(e) => BaselineOutcome::Unusable {
                    message: format!("{}: cannot write the baseline: {e}", file.display()),
                    path: file,
                },
            }
        } else {
            match baseline::load_baseline(&file) {
                Ok(None) => BaselineOutcome::Missing { path: file },
                Ok(Some(b)) => BaselineOutcome::Compared {
                    diff: baseline::compare(&b, &now, &opts.tolerances),
                    path: file,
                },
                Err(message) => BaselineOutcome::Unusable {
                    path: file,
                    message,
                },
            }
        };
        match &outcome {
            BaselineOutcome::Unusable { .. } => r.status = Status::Error,
            BaselineOutcome::Missing { .. } => r.status = Status::Failed,
            BaselineOutcome::Compared { diff, .. } if !diff.is_ok() => r.status = Status::Failed,
            _ => {}
        }
        r.baseline = Some(outcome);
    }
    r
}

#[cfg(test)]
mod tests;
