//! Running the work: every (scenario, seed) on a pool of worker threads (each run twice with
//! `--twice`, to check determinism), then merging each scenario's runs into its result, judged over all
//! its seeds and compared with its baseline.

use super::baseline::{self, Baseline};
use super::stats::{self, SeedValue};
use super::{BaselineOutcome, CheckOptions, ScenarioResult, SeedRun, Status, WORKER_STACK};
use crate::observe::metrics::Metrics;
use crate::report::json::round;
use crate::run::Outcome;
use crate::scenario::Plan;
use serde_json::Value;
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

/// A caught panic's message, as `panicked: ...`.
pub(super) fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = p.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".into()
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
    match run_once(scenario, seed, twice) {
        Err(e) => r.error = Some(e),
        Ok((o, json)) => {
            r.metrics = o.metrics.clone();
            r.verdicts = o.verdicts.iter().map(|v| (v.actual, v.passed)).collect();
            r.steady = o.warmup_ns.is_some();
            r.trace_hash = o.trace.hash();
            drop(o);
            if twice {
                r.nondeterminism = second_run_difference(scenario, seed, r.trace_hash, &json);
            }
        }
    }
    r.time_s = start.elapsed().as_secs_f64();
    r
}

/// One run, catching panics; with `twice`, also its JSON report, to compare with the second run's.
fn run_once(scenario: &Plan, seed: u64, twice: bool) -> Result<(Outcome, Option<Value>), String> {
    match catch_unwind(AssertUnwindSafe(|| crate::run::run(scenario, seed))) {
        Ok(Ok(o)) => {
            let json = twice.then(|| crate::report::json::report(&o));
            Ok((o, json))
        }
        Ok(Err(e)) => Err(e.to_string()),
        Err(p) => Err(format!("the simulator {}", panic_text(p))),
    }
}

/// Runs the seed again and says how it differed from the first run (its trace hash, then its JSON
/// report), if it did.
fn second_run_difference(
    scenario: &Plan,
    seed: u64,
    trace_hash: u64,
    json: &Option<Value>,
) -> Option<String> {
    match run_once(scenario, seed, true) {
        Err(e) => Some(format!("the second run failed: {e}")),
        Ok((o2, json2)) => {
            if o2.trace.hash() != trace_hash {
                Some(format!(
                    "trace hash {:016x} then {:016x}",
                    trace_hash,
                    o2.trace.hash()
                ))
            } else if let (Some(a), Some(b)) = (json, &json2) {
                json_difference(a, b, "").map(|d| format!("the JSON reports differ at {d}"))
            } else {
                None
            }
        }
    }
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

/// Runs every task `(scenario index, seed)` on up to `jobs` worker threads (on this thread if none
/// can be started) and hands each finished run to `on_done` on this thread, with its task index, in the
/// order they finish. Returns the number of workers.
pub(super) fn run_tasks(
    loaded: &[(PathBuf, Plan)],
    tasks: &[(usize, u64)],
    jobs: usize,
    opts: &CheckOptions,
    on_done: &mut dyn FnMut(usize, SeedRun),
) -> usize {
    let next = AtomicUsize::new(0);
    let workers = jobs.min(tasks.len()).max(1);
    let run_next = || {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let &(i, seed) = tasks.get(k)?;
        let mut r = run_seed(&loaded[i].1, seed, opts.twice);
        if opts.baseline.is_none() && opts.shard.is_none() {
            // Only baselines need every metric of every seed; a long sweep should not hold them all.
            // A shard keeps them: the merge may compare baselines.
            r.metrics = Metrics::new();
        }
        Some((k, r))
    };
    let (tx, rx) = mpsc::channel::<(usize, SeedRun)>();
    std::thread::scope(|s| {
        let spawned = (0..workers)
            .filter(|_| {
                let tx = tx.clone();
                let run_next = &run_next;
                std::thread::Builder::new()
                    .name("check-worker".into())
                    .stack_size(WORKER_STACK)
                    .spawn_scoped(s, move || {
                        // The receiver lives until every worker is done; a send cannot fail before.
                        while let Some(done) = run_next() {
                            if tx.send(done).is_err() {
                                break;
                            }
                        }
                    })
                    .is_ok()
            })
            .count();
        drop(tx);
        if spawned == 0 {
            while let Some((k, r)) = run_next() {
                on_done(k, r);
            }
        }
        for (k, r) in rx {
            on_done(k, r);
        }
    });
    workers
}

/// Builds a scenario's result from its runs (and does its baseline).
pub(super) fn merge(
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
    note_problems(&mut r, &runs, seeds);
    if !ok.is_empty() {
        judge_expectations(&mut r, scenario, &ok);
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
        let outcome = do_baseline(dir, scenario, seeds, r.status, &ok, opts);
        match &outcome {
            BaselineOutcome::Unusable { .. } => r.status = Status::Error,
            BaselineOutcome::Missing { .. } => r.status = Status::Failed,
            BaselineOutcome::Compared { diff, .. } if !diff.is_ok() => r.status = Status::Failed,
            BaselineOutcome::Compared { .. } | BaselineOutcome::Updated { .. } => {}
        }
        r.baseline = Some(outcome);
    }
    r
}

/// Records the runs that could not finish, never reached steady state or were not deterministic, and
/// a run that was lost altogether.
fn note_problems(r: &mut ScenarioResult, runs: &[SeedRun], seeds: &[u64]) {
    for x in runs {
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
}

/// Summarizes each expectation over the runs that finished: it passes only if it held on every seed.
fn judge_expectations(r: &mut ScenarioResult, scenario: &Plan, ok: &[&SeedRun]) {
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

/// Writes the scenario's baseline (`--update`) or compares with it. The baseline holds the one run's
/// metrics, or in a sweep the worst of each over the seeds.
fn do_baseline(
    dir: &Path,
    scenario: &Plan,
    seeds: &[u64],
    status: Status,
    ok: &[&SeedRun],
    opts: &CheckOptions,
) -> BaselineOutcome {
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
    let now = Baseline::new(&scenario.name, seeds, status == Status::Passed, metrics);
    let file = baseline::baseline_path(dir, &scenario.name);
    if opts.update {
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
    }
}
