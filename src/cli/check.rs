//! `kube-ha-sim check [PATH...]`: a thin adapter from the command line to [`crate::check`], which finds,
//! runs and judges the scenarios. The summary goes to stdout, errors (and progress, on a terminal) to
//! stderr; the exit code is 0 when every scenario passes, 1 when any fails, 2 on bad input.

use crate::check::baseline::Tolerances;
use crate::check::seeds::SeedSpec;
use crate::check::{self, CheckOptions, EXIT_BAD_INPUT};
use std::io::IsTerminal;
use std::path::PathBuf;

/// The options of `kube-ha-sim check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// Scenario files, or folders searched recursively for *.json files (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Seed sweep: an inclusive range START..END (e.g. 1..200), or a number N of seeds derived from each
    /// file's seed (the file's seed first). An expectation passes only if it holds on every seed.
    #[arg(long, value_name = "RANGE|N")]
    pub seeds: Option<String>,
    /// Also write a JUnit XML report to FILE (one test case per expectation).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Compare each scenario with DIR/SCENARIO-NAME.baseline.json; fail on drift beyond --tolerance.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Rewrite the baselines in --baseline DIR from this check instead of comparing.
    #[arg(long)]
    pub update: bool,
    /// Run every seed twice and fail on any difference (trace hash or JSON report).
    #[arg(long)]
    pub twice: bool,
    /// Runs at once (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Baseline tolerance, repeatable: [METRIC=]VALUE (absolute) or [METRIC=]VALUE% (relative). Defaults:
    /// 0.005 for availability and ratios; 0.5 or 10% for *_s and *_ms; 1 or 10% for counts.
    #[arg(long, value_name = "[METRIC=]VALUE[%]")]
    pub tolerance: Vec<String>,
}

/// Runs `check` and returns the exit code.
pub fn cmd_check(args: CheckArgs) -> i32 {
    let (seeds, tolerances) = match parse_options(&args) {
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
        baseline: args.baseline,
        update: args.update,
        twice: args.twice,
        tolerances,
        progress: std::io::stderr().is_terminal(),
    };
    let report = match check::check(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let mut code = report.exit_code();
    if let Some(path) = &args.junit {
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
    // stderr first, so that with both streams merged the closing line stays the last line.
    eprintln!(
        "{} run(s) of {} scenario file(s) in {:.1}s on {} thread(s)",
        report.runs,
        report.scenarios.len(),
        report.wall_s,
        report.jobs
    );
    out!("{}", report.render_text());
    code
}

/// Everything about the options that can be wrong, found before any scenario runs: a bad seed range,
/// tolerance or JUnit path fails at once, not after minutes of runs.
fn parse_options(args: &CheckArgs) -> Result<(SeedSpec, Tolerances), String> {
    let seeds = args
        .seeds
        .as_deref()
        .map(SeedSpec::parse)
        .transpose()?
        .unwrap_or_default();
    let tolerances = Tolerances::parse(&args.tolerance)?;
    if !args.tolerance.is_empty() && args.baseline.is_none() {
        return Err("--tolerance applies to baselines: it needs --baseline DIR".to_string());
    }
    if let Some(path) = &args.junit {
        crate::report::probe_writable(path)
            .map_err(|e| format!("cannot write the JUnit report {}: {e}", path.display()))?;
    }
    Ok((seeds, tolerances))
}
