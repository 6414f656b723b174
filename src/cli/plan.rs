//! `kube-ha-sim plan FILE [--years N] [--seed N] [--out DIR]`: capacity planning (issue 13).

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::capacity::model::load_plan;
use crate::capacity::report::{self, design_result, judge};
use crate::capacity::{analyse, Progress};
use crate::report::OutputDir;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// The command's arguments.
#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// The plan file.
    pub file: PathBuf,
    /// Cluster-years to simulate per design (overrides the file's `years`).
    #[arg(long)]
    pub years: Option<u64>,
    /// Overrides the file's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output folder (default: out/PLAN-NAME).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also run this many plain simulations per design, each as long as the design's `duration`, with
    /// the failure process as fault script, and show their availability beside the plan's.
    #[arg(long, value_name = "RUNS")]
    pub brute_force: Option<usize>,
    /// Detailed runs in parallel (default: the number of cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

/// A progress line on stderr, redrawn in place; only on a terminal.
struct Line {
    on: bool,
    last: Mutex<String>,
}

impl Line {
    fn draw(&self, s: String) {
        if !self.on {
            return;
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if *last != s {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K{s}");
            let _ = err.flush();
            *last = s;
        }
    }

    fn finish(&self) {
        if self.on {
            let _ = writeln!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

impl Progress for Line {
    fn stage(&self, what: &str) {
        self.draw(format!("plan: {what}"));
    }
    fn runs(&self, done: usize, total: usize) {
        let width = 30;
        let filled = done * width / total.max(1);
        self.draw(format!(
            "plan: detailed runs [{}{}] {done}/{total}",
            "#".repeat(filled),
            "-".repeat(width - filled)
        ));
    }
}

/// `validate` on a plan file: loads it (every design validated as a scenario) without running it.
pub fn cmd_validate_plan(file: &std::path::Path) -> i32 {
    match load_plan(file) {
        Ok(p) => {
            outln!(
                "{}: ok (plan {}, {} designs)",
                file.display(),
                p.name,
                p.designs.len()
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_BAD_INPUT
        }
    }
}

/// Runs the command.
pub fn cmd_plan(args: PlanArgs) -> i32 {
    let plan = match load_plan(&args.file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let years = args.years.unwrap_or(plan.years);
    if !(1..=100_000_000).contains(&years) {
        eprintln!("error: --years {years} is out of range; allowed: 1 to 100000000 cluster-years");
        return EXIT_BAD_INPUT;
    }
    let seed = args.seed.unwrap_or(plan.seed);
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("out").join(&plan.name));
    let staged = match OutputDir::begin(&dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let line = Line {
        on: std::io::stderr().is_terminal(),
        last: Mutex::new(String::new()),
    };
    let analyses = match analyse(&plan, years, seed, jobs.max(1), &line) {
        Ok(a) => a,
        Err(e) => {
            line.finish();
            eprintln!("error: {}: {e}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    let mut results: Vec<_> = analyses
        .iter()
        .map(|a| design_result(a, years as f64))
        .collect();
    if let Some(runs) = args.brute_force.filter(|&r| r > 0) {
        if let Err(e) = add_brute_force(&analyses, &mut results, runs, seed, jobs, &line) {
            line.finish();
            eprintln!("error: {}: {e}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    }
    line.finish();
    let verdicts = judge(&plan, &results);
    out!(
        "{}",
        report::summary(&plan, years, seed, &results, &verdicts)
    );
    let json = report::plan_json(&plan, years, seed, &results, &verdicts);
    let bytes = serde_json::to_vec_pretty(&json).unwrap_or_default();
    if let Err(e) = write_all(staged, &bytes, &plan, years, seed, &results, &verdicts) {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    outln!(
        "report: {} (and plan.html, downtime.svg/.png, nines.svg/.png)",
        dir.join("plan.json").display()
    );
    outln!(
        "replay: kube-ha-sim plan {} --years {years} --seed {seed}",
        args.file.display()
    );
    if verdicts.iter().all(|v| v.passed) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// `--brute-force`: plain runs of every design, their availabilities put beside the plan's.
fn add_brute_force(
    analyses: &[crate::capacity::DesignAnalysis],
    results: &mut [report::DesignResult],
    runs: usize,
    seed: u64,
    jobs: usize,
    line: &Line,
) -> Result<(), String> {
    let designs: Vec<_> = analyses
        .iter()
        .map(|a| (a.design.scenario.clone(), a.model.clone()))
        .collect();
    let b = crate::capacity::brute::run_all(&designs, runs, seed, jobs.max(1), line)?;
    for (r, b) in results.iter_mut().zip(b) {
        r.brute_force = Some(b);
    }
    Ok(())
}

fn write_all(
    staged: OutputDir,
    json: &[u8],
    plan: &crate::capacity::model::CapacityPlan,
    years: u64,
    seed: u64,
    results: &[report::DesignResult],
    verdicts: &[report::PlanVerdict],
) -> Result<(), String> {
    staged.write("plan.json", json)?;
    staged.write(
        "plan.html",
        report::plan_html(plan, years, seed, results, verdicts).as_bytes(),
    )?;
    staged.write("downtime.svg", report::downtime_svg(results).as_bytes())?;
    staged.write("nines.svg", report::nines_svg(results).as_bytes())?;
    report::downtime_png(results, &staged.staged("downtime.png"))?;
    staged.sync("downtime.png")?;
    report::nines_png(results, &staged.staged("nines.png"))?;
    staged.sync("nines.png")?;
    staged.commit()
}
