//! `kube-ha-sim check [PATH...]`: a thin adapter from the command line to [`crate::check`], which finds,
//! runs and judges the scenarios. The summary goes to stdout as it is known, scenario by scenario in
//! path order (or as one JSON document with `--format json`); errors and progress go to stderr (a
//! progress bar on a terminal, a plain line every 10 s otherwise, so CI logs are never silent for long);
//! the exit code is 0 when every scenario passes, 1 when any fails, 2 on bad input.

use crate::check::baseline::Tolerances;
use crate::check::seeds::SeedSpec;
use crate::check::{
    self, CheckOptions, CheckProgress, CheckReport, ScenarioResult, Status, Streamed,
    EXIT_BAD_INPUT,
};
use crate::report;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How the summary is written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// Lines for people, streamed in path order.
    #[default]
    Text,
    /// One JSON document at the end, for tooling (see the README, "CI regression with check").
    Json,
}

/// The options that judge a check's runs and write its outcome: the same for `check` and for `merge`,
/// which judges the runs of a check's shards.
#[derive(clap::Args, Debug)]
pub struct JudgeArgs {
    /// Also write a JUnit XML report to FILE (one test case per expectation).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Compare each scenario with DIR/SCENARIO-NAME.baseline.json; fail on drift beyond --tolerance.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Rewrite the baselines in --baseline DIR from this check instead of comparing.
    #[arg(long)]
    pub update: bool,
    /// Baseline tolerance, repeatable: [METRIC=]VALUE (absolute) or [METRIC=]VALUE% (relative). Defaults:
    /// 0.005 for availability and ratios; 0.5 or 10% for *_s and *_ms; 1 or 10% for counts.
    #[arg(long, value_name = "[METRIC=]VALUE[%]")]
    pub tolerance: Vec<String>,
    /// The summary's form on stdout: text (streamed as results come in) or json (one document).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Where a failing scenario's worst seeds get their report and pictures, in DIR/NAME/seed-N/
    /// (default out/check); merging plan shards: the plan's report folder (default out/PLAN-NAME).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

impl JudgeArgs {
    /// The folder for the failing seeds' reports.
    fn worst_seeds_dir(&self) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| PathBuf::from("out").join("check"))
    }
}

/// The options of `kube-ha-sim check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario files, or folders searched recursively for *.json files (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Seed sweep: an inclusive range START..END (e.g. 1..200), or a number N of seeds derived from each
    /// file's seed (the file's seed first). An expectation passes only if it holds on every seed.
    #[arg(long, value_name = "RANGE|N")]
    pub seeds: Option<String>,
    /// How the outcome is judged and written (shared with `merge`).
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// Run every seed twice and fail on any difference (trace hash or JSON report).
    #[arg(long)]
    pub twice: bool,
    /// Runs at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run only shard I of N (I from 1): every N-th run of this check; needs --shard-out.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Where the shard's runs are written, for `kube-ha-sim merge`.
    #[arg(long, value_name = "FILE")]
    pub shard_out: Option<PathBuf>,
}

/// At most this many seeds of one failing scenario get a report (the worst of each failed
/// expectation first), and at most this many reports in all: a check where everything fails should
/// not spend longer on pictures than on the check.
const WORST_SEEDS_PER_SCENARIO: usize = 3;
const WORST_SEED_REPORTS: usize = 20;

/// The seeds worth looking at in a failing scenario: the worst seed of each failed expectation, then
/// the first seed that never reached steady state and the first that was not deterministic.
fn worst_seeds(r: &ScenarioResult) -> Vec<u64> {
    let mut seeds: Vec<u64> = Vec::new();
    let candidates = r
        .expectations
        .iter()
        .filter(|e| !e.passed)
        .map(|e| e.worst_seed)
        .chain(r.unsteady_seeds.first().copied())
        .chain(r.nondeterministic.first().map(|(s, _)| *s));
    for s in candidates {
        if !seeds.contains(&s) && seeds.len() < WORST_SEEDS_PER_SCENARIO {
            seeds.push(s);
        }
    }
    seeds
}

/// Re-runs the worst seeds of each failing scenario and writes their reports under `dir`, so that a
/// red CI job leaves something to look at. Returns (file, seed, folder) per report written; a
/// report that cannot be written is said on stderr and does not change the verdict.
fn write_worst_seed_reports(report: &CheckReport, dir: &Path) -> Vec<(PathBuf, u64, PathBuf)> {
    let mut written = Vec::new();
    for r in report
        .scenarios
        .iter()
        .filter(|r| r.status == Status::Failed)
    {
        let Ok(plan) = crate::scenario::load_scenario(&r.path) else {
            continue;
        };
        for seed in worst_seeds(r) {
            if written.len() >= WORST_SEED_REPORTS {
                return written;
            }
            let folder = dir.join(&r.name).join(format!("seed-{seed}"));
            let result = report::OutputDir::begin(&folder).and_then(|staged| {
                let outcome = crate::run::run(&plan, seed).map_err(|e| e.to_string())?;
                super::write_outputs(&outcome, staged, &r.replay(seed))
            });
            match result {
                Ok(()) => written.push((r.path.clone(), seed, folder)),
                Err(e) => eprintln!(
                    "warning: {} seed {seed}: no report written: {e}",
                    r.path.display()
                ),
            }
        }
    }
    written
}

/// How often a plain progress line is printed when stderr is not a terminal.
const PLAIN_PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The check's progress on the command line: the summary's items on stdout as they come (text
/// format), and on stderr a progress bar (terminal) or a plain line every 10 s (a CI log).
struct CliProgress {
    format: Format,
    /// No bar or progress lines (a merge runs nothing).
    quiet_progress: bool,
    bar: Option<indicatif::ProgressBar>,
    total: usize,
    started: Instant,
    last_line: Instant,
}

impl CliProgress {
    fn new(format: Format) -> CliProgress {
        CliProgress {
            format,
            quiet_progress: false,
            bar: None,
            total: 0,
            started: Instant::now(),
            last_line: Instant::now(),
        }
    }
}

impl CheckProgress for CliProgress {
    fn start(&mut self, total: usize) {
        self.total = total;
        if std::io::stderr().is_terminal() && total > 0 && !self.quiet_progress {
            let bar = indicatif::ProgressBar::new(total as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} runs  {elapsed_precise} elapsed, ETA {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            self.bar = Some(bar);
        }
    }

    fn run_done(&mut self, done: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(done as u64);
        } else if self.last_line.elapsed() >= PLAIN_PROGRESS_EVERY
            && done < self.total
            && !self.quiet_progress
        {
            self.last_line = Instant::now();
            let elapsed = self.started.elapsed().as_secs_f64();
            let left = elapsed / done as f64 * (self.total - done) as f64;
            eprintln!(
                "check: {done} of {} runs done, {elapsed:.0}s elapsed, about {left:.0}s left",
                self.total
            );
        }
    }

    fn item(&mut self, flags: &CheckReport, item: Streamed) {
        if self.format != Format::Text {
            return;
        }
        let text = flags.render_item(&item);
        match &self.bar {
            // Printed above the bar, which redraws below.
            Some(bar) => bar.suspend(|| out!("{text}")),
            None => out!("{text}"),
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
}

/// Runs `check` and returns the exit code.
pub fn cmd_check(args: CheckArgs) -> i32 {
    let (seeds, tolerances, shard) = match parse_options(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let opts = CheckOptions {
        paths: args.paths,
        seeds,
        jobs: args.jobs,
        baseline: args.judge.baseline.clone(),
        update: args.judge.update,
        twice: args.twice,
        tolerances,
        shard,
        merge_from: None,
    };
    let mut progress = CliProgress::new(args.judge.format);
    if let (Some(shard), Some(file)) = (shard, &args.shard_out) {
        return write_shard(&opts, shard, file, &mut progress);
    }
    let report = check::check_streaming(&opts, &mut progress);
    conclude(report, &progress, &args.judge)
}

/// `check --shard I/N --shard-out FILE`: runs this shard's share and writes its file; 0, or 2 when a
/// file could not be used or the shard file cannot be written.
fn write_shard(
    opts: &CheckOptions,
    shard: check::shard::Shard,
    file: &Path,
    progress: &mut CliProgress,
) -> i32 {
    let result = check::run_shard(opts, shard, progress);
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let (shard_file, input_errors) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let bytes = serde_json::to_vec(&shard_file).unwrap_or_default();
    if let Err(e) = report::write_atomic(file, &bytes) {
        eprintln!("error: cannot write the shard file {}: {e}", file.display());
        return EXIT_BAD_INPUT;
    }
    for e in &input_errors {
        eprintln!("error: {}", e.message);
    }
    eprintln!(
        "shard {}/{}: {} of {} runs in {:.1}s, written to {} (combine the shards with `kube-ha-sim merge`)",
        shard.index,
        shard.count,
        shard_file.runs(),
        shard_file.identity.runs,
        progress.started.elapsed().as_secs_f64(),
        file.display()
    );
    if input_errors.is_empty() {
        check::EXIT_OK
    } else {
        EXIT_BAD_INPUT
    }
}

/// Writes the JUnit file, the unusable files, the worst seeds' reports and the closing line (or the
/// JSON document) of a finished check; returns its exit code.
fn conclude(
    report: Result<CheckReport, String>,
    progress: &CliProgress,
    outputs: &JudgeArgs,
) -> i32 {
    if let Some(bar) = &progress.bar {
        bar.finish_and_clear();
    }
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let mut code = report.exit_code();
    if let Some(path) = &outputs.junit {
        let xml = crate::report::junit::render(&report.junit());
        if let Err(e) = crate::report::write_atomic(path, xml.as_bytes()) {
            eprintln!(
                "error: cannot write the JUnit report {}: {e}",
                path.display()
            );
            code = EXIT_BAD_INPUT;
        }
    }
    for e in &report.input_errors {
        eprintln!("error: {}", e.message);
    }
    let worst = write_worst_seed_reports(&report, &outputs.worst_seeds_dir());
    for (path, seed, folder) in &worst {
        eprintln!(
            "worst seed {seed} of {}: {}",
            path.display(),
            folder.join("report.html").display()
        );
    }
    // stderr first, so that with both streams merged the closing line stays the last line.
    eprintln!(
        "{} run(s) of {} scenario file(s) in {:.1}s on {} thread(s)",
        report.runs,
        report.scenarios.len(),
        report.wall_s,
        report.jobs
    );
    match outputs.format {
        Format::Text => outln!("{}", report.closing_line()),
        Format::Json => {
            let mut doc = report.to_json();
            doc["worst_seed_reports"] = worst
                .iter()
                .map(|(path, seed, folder)| {
                    serde_json::json!({"path": path.display().to_string(), "seed": seed,
                                       "folder": folder.display().to_string()})
                })
                .collect();
            outln!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
    }
    code
}

/// The options of `kube-ha-sim merge`.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shard files (`check --shard I/N --shard-out FILE` or `plan FILE --shard I/N --shard-out
    /// FILE`), one per shard.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// How the outcome is judged and written, as for `check`.
    #[command(flatten)]
    pub judge: JudgeArgs,
}

/// `kube-ha-sim merge SHARD...`: the check the shards were cut from, judged from their runs: the same
/// summary, JUnit, baselines and exit code as one machine running it.
pub fn cmd_merge(args: MergeArgs) -> i32 {
    match plan_shards(&args) {
        Ok(true) => return super::plan::cmd_merge_plan(&args.shards, args.judge.out),
        Ok(false) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    }
    if let Err(e) = probe_judge_outputs(&args.judge) {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    let combined = args
        .shards
        .iter()
        .map(|p| check::shard::ShardFile::read(p).map(|f| (p.clone(), f)))
        .collect::<Result<Vec<_>, String>>()
        .and_then(check::shard::combine);
    let (identity, runs) = match combined {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let tolerances = match Tolerances::parse(&args.judge.tolerance) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    if args.judge.update && args.judge.baseline.is_none() {
        eprintln!("error: --update rewrites baselines: it needs --baseline DIR");
        return EXIT_BAD_INPUT;
    }
    let opts = CheckOptions {
        paths: identity.paths.iter().map(PathBuf::from).collect(),
        seeds: identity.seeds,
        jobs: None,
        baseline: args.judge.baseline.clone(),
        update: args.judge.update,
        twice: identity.twice,
        tolerances,
        shard: None,
        merge_from: Some((identity, runs)),
    };
    let mut progress = CliProgress::new(args.judge.format);
    progress.quiet_progress = true;
    let report = check::check_streaming(&opts, &mut progress);
    conclude(report, &progress, &args.judge)
}

/// Whether the merge is of plan shards (`plan --shard`): all of them are, and none of the options that
/// only judge a check is given. A mix of plan and check shards is an error naming the first odd file.
fn plan_shards(args: &MergeArgs) -> Result<bool, String> {
    use crate::capacity::shard::is_plan_shard_file;
    let Some(first) = args.shards.first() else {
        return Ok(false);
    };
    let plan = is_plan_shard_file(first);
    if let Some(odd) = args.shards.iter().find(|p| is_plan_shard_file(p) != plan) {
        let (is, was) = if plan { ("not", "") } else { ("", " not") };
        return Err(format!(
            "{}: {is} a plan shard, and {} is{was}: merge the shards of one check or of one plan",
            odd.display(),
            first.display()
        ));
    }
    let j = &args.judge;
    if plan
        && (j.junit.is_some()
            || j.baseline.is_some()
            || j.update
            || !j.tolerance.is_empty()
            || j.format != Format::Text)
    {
        return Err(format!(
            "{}: plan shards make a plan report: --junit, --baseline, --update, --tolerance and --format              belong to merging check shards; merging plan shards takes only --out DIR",
            first.display()
        ));
    }
    Ok(plan)
}

/// Everything about the options that can be wrong, found before any scenario runs: a bad seed range,
/// tolerance or JUnit path fails at once, not after minutes of runs.
fn parse_options(
    args: &CheckArgs,
) -> Result<(SeedSpec, Tolerances, Option<check::shard::Shard>), String> {
    let shard = args
        .shard
        .as_deref()
        .map(check::shard::Shard::parse)
        .transpose()?;
    match (&shard, &args.shard_out) {
        (Some(_), None) => {
            return Err("--shard I/N writes a shard file: it needs --shard-out FILE".into())
        }
        (None, Some(_)) => return Err("--shard-out FILE needs --shard I/N".into()),
        (Some(_), Some(file)) => crate::report::probe_writable(file)
            .map_err(|e| format!("cannot write the shard file {}: {e}", file.display()))?,
        (None, None) => {}
    }
    if shard.is_some() && (args.judge.baseline.is_some() || args.judge.junit.is_some()) {
        return Err(
            "--baseline and --junit belong to `merge`, which judges the shards together".into(),
        );
    }
    let seeds = args
        .seeds
        .as_deref()
        .map(SeedSpec::parse)
        .transpose()?
        .unwrap_or_default();
    let tolerances = Tolerances::parse(&args.judge.tolerance)?;
    if !args.judge.tolerance.is_empty() && args.judge.baseline.is_none() {
        return Err("--tolerance applies to baselines: it needs --baseline DIR".to_string());
    }
    probe_judge_outputs(&args.judge)?;
    Ok((seeds, tolerances, shard))
}

/// The outputs `check` and `merge` write after judging, probed before anything runs: the JUnit
/// report, and the folder for the failing seeds' reports (written only when a scenario fails, so
/// checked without creating it).
fn probe_judge_outputs(judge: &JudgeArgs) -> Result<(), String> {
    if let Some(path) = &judge.junit {
        crate::report::probe_writable(path)
            .map_err(|e| format!("cannot write the JUnit report {}: {e}", path.display()))?;
    }
    let dir = judge.worst_seeds_dir();
    crate::report::probe_folder(&dir).map_err(|e| {
        format!(
            "cannot write the failing seeds' reports in {}: {e}",
            dir.display()
        )
    })
}
