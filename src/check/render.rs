//! The check report as text for the terminal and as JUnit test suites for CI: a line per file, with
//! what failed, by how much and the command that replays it.

use super::baseline::{fmt_num, seeds_text};
use super::stats::ExpectationSummary;
use super::{BaselineOutcome, CheckReport, InputError, ScenarioResult, Status, Streamed};
use crate::report::json::round;
use crate::report::junit::{CaseResult, TestCase, TestSuite, TestSuites};
use std::fmt::Write as _;

/// The indent of the lines under a scenario's line.
const IND: &str = "      ";

impl CheckReport {
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
        let mut items: Vec<Streamed> = self
            .input_errors
            .iter()
            .map(Streamed::Invalid)
            .chain(self.scenarios.iter().map(Streamed::Scenario))
            .collect();
        items.sort_by(|a, b| a.path().cmp(b.path()));
        let mut out = String::new();
        for item in items {
            out.push_str(&self.render_item(&item));
        }
        out.push_str(&self.closing_line());
        out.push('\n');
        out
    }

    /// One item of the summary: an unusable file's `INVALID` line, or a scenario's lines. The flags
    /// of `self` (sweep, baselines) decide the form, so a streaming caller renders with a report
    /// that has only those set ([`crate::check::check_streaming`]).
    pub fn render_item(&self, item: &Streamed) -> String {
        let mut out = String::new();
        match item {
            Streamed::Invalid(e) => {
                let first = e.message.lines().next().unwrap_or("");
                let _ = writeln!(out, "INVALID {}: {first}", e.path.display());
            }
            Streamed::Scenario(r) => self.render_scenario(&mut out, r),
        }
        out
    }

    /// A scenario's line (status, file, name, seeds), then a line for each thing that went wrong, each
    /// followed by the command that replays it.
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
        for (seed, e) in &r.errors {
            let _ = writeln!(out, "{IND}error on seed {seed}: {e}");
        }
        if let Some((seed, _)) = r.errors.first() {
            let _ = writeln!(out, "{IND}replay: {}", r.replay(*seed));
        }
        for e in &r.expectations {
            if self.sweep {
                render_sweep_expectation(out, r, e);
            } else if !e.passed {
                render_failed_expectation(out, r, e);
            }
        }
        if !r.unsteady_seeds.is_empty() {
            let _ = writeln!(
                out,
                "{IND}the cluster never reached steady state on seed(s) {}",
                seeds_text(&r.unsteady_seeds)
            );
            let _ = writeln!(out, "{IND}replay: {}", r.replay(r.unsteady_seeds[0]));
        }
        for (seed, how) in &r.nondeterministic {
            let _ = writeln!(out, "{IND}not deterministic on seed {seed}: {how}");
            let _ = writeln!(out, "{IND}replay: {}", r.replay(*seed));
        }
        if let Some(b) = &r.baseline {
            render_baseline(out, b);
        }
    }
}

/// In a sweep, every expectation gets a line (passed or not) with its worst seed and percentiles over
/// the seeds, and the command that replays the worst seed.
fn render_sweep_expectation(out: &mut String, r: &ScenarioResult, e: &ExpectationSummary) {
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
        "{IND}{verdict} {} {}: {failed}worst seed {}: {}{stats}",
        e.expectation.metric,
        e.bound,
        e.worst_seed,
        value_text(e.worst_value)
    );
    let _ = writeln!(out, "{IND}     replay: {}", r.replay(e.worst_seed));
}

/// On one seed, only a failed expectation gets a line: metric, bound, actual, and the replay command.
fn render_failed_expectation(out: &mut String, r: &ScenarioResult, e: &ExpectationSummary) {
    let _ = writeln!(
        out,
        "{IND}{} {}: actual {}",
        e.expectation.metric,
        e.bound,
        value_text(e.worst_value)
    );
    let _ = writeln!(out, "{IND}replay: {}", r.replay(e.worst_seed));
}

/// What happened with the baseline: the drift (or the notes of a comparison that passed), a missing
/// or unusable file, or the file written.
fn render_baseline(out: &mut String, b: &BaselineOutcome) {
    match b {
        BaselineOutcome::Compared { path, diff } => {
            let lines = diff.lines();
            if !diff.is_ok() {
                let _ = writeln!(out, "{IND}baseline drift ({}):", path.display());
            } else if !lines.is_empty() {
                let _ = writeln!(out, "{IND}baseline ({}):", path.display());
            }
            for l in lines {
                let _ = writeln!(out, "{IND}  {l}");
            }
        }
        BaselineOutcome::Missing { path } => {
            let _ = writeln!(
                out,
                "{IND}no baseline {}: record one with --update",
                path.display()
            );
        }
        BaselineOutcome::Updated { path } => {
            let _ = writeln!(out, "{IND}baseline written: {}", path.display());
        }
        BaselineOutcome::Unusable { message, .. } => {
            let _ = writeln!(out, "{IND}baseline error: {message}");
        }
    }
}

impl CheckReport {
    /// The report as JUnit test suites: one suite per scenario file (named after the scenario), one test
    /// case per expectation (class name = the scenario's name) whose failure message is
    /// `metric bound actual` and whose body holds the replay command; plus a case for steady state when it
    /// failed, for determinism with `--twice`, for the baseline with `--baseline`, for runs that could not
    /// finish (an `error`), and one `error` suite per invalid file.
    pub fn junit(&self) -> TestSuites {
        let mut suites: Vec<TestSuite> = self.input_errors.iter().map(invalid_suite).collect();
        for r in &self.scenarios {
            suites.push(self.junit_suite(r));
        }
        suites.sort_by(|a, b| a.file.cmp(&b.file));
        TestSuites {
            name: "kube-ha-sim check".into(),
            suites,
        }
    }

    /// A scenario's suite: a case for each thing checked, in the order the text report gives them,
    /// with the scenario's time spread evenly over them.
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
            let message = "the scenario has no expectations".into();
            cases.push(case("expectations".into(), CaseResult::Skipped { message }));
        }
        if let Some(result) = run_error_result(r) {
            cases.push(case("run".into(), result));
        }
        for e in &r.expectations {
            let name = format!("{} {}", e.expectation.metric, e.bound);
            cases.push(case(name, self.expectation_result(r, e)));
        }
        if let Some(result) = steady_state_result(r) {
            cases.push(case("reaches steady state".into(), result));
        }
        if self.twice && r.status != Status::Skipped {
            cases.push(case(
                "deterministic (--twice)".into(),
                determinism_result(r),
            ));
        }
        if let Some(result) = r.baseline.as_ref().and_then(baseline_result) {
            cases.push(case("baseline".into(), result));
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

    /// An expectation's case: passed, or a failure whose message is `metric bound actual` (with the
    /// worst seed in a sweep) and whose body gives the percentiles and the replay command.
    fn expectation_result(&self, r: &ScenarioResult, e: &ExpectationSummary) -> CaseResult {
        if e.passed {
            return CaseResult::Passed;
        }
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
    }
}

/// An invalid file's suite: one `error` case with the whole message in its body.
fn invalid_suite(e: &InputError) -> TestSuite {
    let p = e.path.display().to_string();
    TestSuite {
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
    }
}

/// An `error` case when a run could not finish: every such seed with its replay command.
fn run_error_result(r: &ScenarioResult) -> Option<CaseResult> {
    let (seed, error) = r.errors.first()?;
    let body: Vec<String> = r
        .errors
        .iter()
        .map(|(s, e)| format!("seed {s}: {e}\nreplay: {}", r.replay(*s)))
        .collect();
    Some(CaseResult::Error {
        message: format!("the run could not finish on seed {seed}: {error}"),
        kind: "run-error".into(),
        body: body.join("\n"),
    })
}

/// A failure when the cluster never reached steady state on some seed.
fn steady_state_result(r: &ScenarioResult) -> Option<CaseResult> {
    let first = *r.unsteady_seeds.first()?;
    Some(CaseResult::Failure {
        message: format!(
            "the cluster never reached steady state on seed(s) {}",
            seeds_text(&r.unsteady_seeds)
        ),
        kind: "steady-state".into(),
        body: format!("replay: {}", r.replay(first)),
    })
}

/// With `--twice`: passed, or a failure naming the seeds whose two runs differed and how.
fn determinism_result(r: &ScenarioResult) -> CaseResult {
    match r.nondeterministic.first() {
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
    }
}

/// The baseline's case; none when `--update` wrote it (there was nothing to compare).
fn baseline_result(b: &BaselineOutcome) -> Option<CaseResult> {
    Some(match b {
        BaselineOutcome::Updated { .. } => return None,
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
    })
}

/// A metric value as printed: rounded to 1e-6 like `report.json`.
fn num(v: f64) -> String {
    if v.is_finite() {
        fmt_num(round(v))
    } else {
        fmt_num(v)
    }
}

/// An expectation's actual value, or why there is none.
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

impl CheckReport {
    /// The report as one JSON document (`check --format json`), for tooling: the counts and exit code,
    /// the unusable files, and per scenario its status, seeds, each expectation over the seeds (worst
    /// seed, percentiles, the replay command), the problem seeds and the baseline outcome. Wall-clock
    /// times are left out, so the same check gives the same document.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        let scenarios: Vec<_> = self.scenarios.iter().map(scenario_json).collect();
        let invalid: Vec<_> = self
            .input_errors
            .iter()
            .map(|e| json!({"path": e.path.display().to_string(), "message": e.message}))
            .collect();
        json!({
            "schema": 1,
            "passed": self.passed(),
            "failed": self.failed(),
            "skipped": self.skipped(),
            "invalid_files": self.input_errors.len(),
            "exit_code": self.exit_code(),
            "runs": self.runs,
            "sweep": self.sweep,
            "twice": self.twice,
            "invalid": invalid,
            "scenarios": scenarios,
        })
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Passed => "passed",
        Status::Failed => "failed",
        Status::Error => "error",
        Status::Skipped => "skipped",
    }
}

fn scenario_json(r: &ScenarioResult) -> serde_json::Value {
    use serde_json::json;
    let expectations: Vec<_> = r
        .expectations
        .iter()
        .map(|e| {
            let stats = e.stats.map(|p| {
                json!({"count": p.count, "min": round(p.min), "p10": round(p.p10), "p50": round(p.p50),
                       "p90": round(p.p90), "max": round(p.max)})
            });
            json!({
                "metric": e.expectation.metric,
                "bound": e.bound,
                "passed": e.passed,
                "seeds": e.seeds,
                "failed_seeds": e.failed_seeds,
                "worst_seed": e.worst_seed,
                "worst_value": e.worst_value.map(round),
                "stats": stats,
                "replay": r.replay(e.worst_seed),
            })
        })
        .collect();
    let baseline = r.baseline.as_ref().map(|b| match b {
        BaselineOutcome::Compared { path, diff } => json!({
            "outcome": if diff.is_ok() { "matched" } else { "drifted" },
            "path": path.display().to_string(),
            "differences": diff.lines(),
        }),
        BaselineOutcome::Missing { path } => {
            json!({"outcome": "missing", "path": path.display().to_string()})
        }
        BaselineOutcome::Updated { path } => {
            json!({"outcome": "updated", "path": path.display().to_string()})
        }
        BaselineOutcome::Unusable { path, message } => json!({
            "outcome": "unusable", "path": path.display().to_string(), "message": message,
        }),
    });
    json!({
        "path": r.path.display().to_string(),
        "name": r.name,
        "status": status_name(r.status),
        "seeds": r.seeds,
        "expectations": expectations,
        "unsteady_seeds": r.unsteady_seeds,
        "errors": r.errors.iter().map(|(seed, m)| json!({"seed": seed, "message": m})).collect::<Vec<_>>(),
        "nondeterministic": r.nondeterministic.iter().map(|(seed, how)| json!({"seed": seed, "how": how})).collect::<Vec<_>>(),
        "baseline": baseline,
    })
}
