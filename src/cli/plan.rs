//! `kube-ha-sim plan FILE [--years N] [--seed N] [--out DIR]`: capacity planning (issue 13); with
//! `--shard I/N --shard-out FILE` one machine's share of it, which `kube-ha-sim merge` combines.

use super::{EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::capacity::brute::{self, run_all};
use crate::capacity::costs::seed_of;
use crate::capacity::model::{load_plan, CapacityPlan};
use crate::capacity::process::FailureModel;
use crate::capacity::report::{self, design_result, judge};
use crate::capacity::shard::{PlanIdentity, PlanShardFile};
use crate::capacity::{analyse, prepare, DesignAnalysis, Progress, Quiet, Warmups, Work};
use crate::check::shard::Shard;
use crate::report::OutputDir;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
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
    /// Run only shard I of N (I from 1): every N-th detailed run of this plan; needs --shard-out.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Where the shard's runs are written, for `kube-ha-sim merge`.
    #[arg(long, value_name = "FILE")]
    pub shard_out: Option<PathBuf>,
    /// Sample k of every transition of a design starts from one warm-up (one seed per design and
    /// sample), run once and forked for each run, with the settling in the mode a run leaves shared
    /// the same way: faster, and the samples of different transitions share their steady state.
    #[arg(long)]
    pub shared_warmups: bool,
    /// With --shared-warmups, run every detailed run from the start instead of forking the shared
    /// parts: the same report, byte for byte, slower (a check of the forks, and their timing).
    #[arg(long)]
    pub no_fork: bool,
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

/// The command line's shard options, checked before anything runs: both or neither, a writable
/// shard file, and no `--out` (a shard writes no report; `merge` does).
fn shard_option(args: &PlanArgs) -> Result<Option<(Shard, PathBuf)>, String> {
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    match (shard, &args.shard_out) {
        (Some(_), None) => Err("--shard I/N writes a shard file: it needs --shard-out FILE".into()),
        (None, Some(_)) => Err("--shard-out FILE needs --shard I/N".into()),
        (Some(_), Some(_)) if args.out.is_some() => Err(
            "--out belongs to `merge`, which writes the plan's report from all the shards".into(),
        ),
        (Some(shard), Some(file)) => {
            crate::report::probe_writable(file)
                .map_err(|e| format!("cannot write the shard file {}: {e}", file.display()))?;
            Ok(Some((shard, file.clone())))
        }
        (None, None) => Ok(None),
    }
}

/// Runs the command.
pub fn cmd_plan(args: PlanArgs) -> i32 {
    let shard = match shard_option(&args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
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
    let jobs = args
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1);
    let line = Line {
        on: std::io::stderr().is_terminal(),
        last: Mutex::new(String::new()),
    };
    let brute_runs = args.brute_force.unwrap_or(0);
    let run = Run {
        file: &args.file,
        plan: &plan,
        years,
        seed,
        brute_runs,
        warmups: warmups(args.shared_warmups, !args.no_fork),
    };
    if let Some((shard, out)) = shard {
        return write_shard(&run, shard, &out, jobs, &line);
    }
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
    let analysed = analyse(&plan, years, seed, run.warmups, jobs, &line).and_then(|analyses| {
        let brute = match brute_runs {
            0 => None,
            runs => Some(run_all(&designs_of(&analyses), runs, seed, jobs, &line)?),
        };
        Ok((analyses, brute))
    });
    line.finish();
    match analysed {
        Ok((analyses, brute)) => conclude(&run, &analyses, brute, staged, &dir),
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            EXIT_BAD_INPUT
        }
    }
}

/// What one plan run is: the plan, its file and the options that decide its runs.
struct Run<'a> {
    file: &'a Path,
    plan: &'a CapacityPlan,
    years: u64,
    seed: u64,
    /// `--brute-force RUNS`, 0 without it.
    brute_runs: usize,
    /// `--shared-warmups` and `--no-fork`.
    warmups: Warmups,
}

/// The warm-ups the options ask for. Without shared warm-ups every run has its own seed, so there
/// is nothing to fork and `--no-fork` changes nothing.
fn warmups(shared: bool, fork: bool) -> Warmups {
    if shared {
        Warmups::Shared { fork }
    } else {
        Warmups::PerRun
    }
}

/// The designs and failure models the brute-force runs are made from.
fn designs_of(analyses: &[DesignAnalysis]) -> Vec<(crate::scenario::Plan, FailureModel)> {
    analyses
        .iter()
        .map(|a| (a.design.scenario.clone(), a.model.clone()))
        .collect()
}

/// Every run of a plan, prepared and fingerprinted, as the shards and the merge both see them.
struct Prepared {
    work: Work,
    brute_designs: Vec<(crate::scenario::Plan, FailureModel)>,
    brute: Vec<brute::BruteTask>,
    identity: PlanIdentity,
}

/// Surveys the failure processes and lists every run of the plan (transition runs, then brute-force
/// runs), with the identity a shard file records.
fn prepare_runs(run: &Run, line: &Line) -> Result<Prepared, String> {
    let work = prepare(run.plan, run.years, run.seed, run.warmups, line)?;
    let brute_designs = work.brute_designs(run.plan);
    let brute = match run.brute_runs {
        0 => Vec::new(),
        n => brute::tasks(&brute_designs, n, run.seed)?,
    };
    let identity = PlanIdentity {
        file: run.file.display().to_string(),
        name: run.plan.name.clone(),
        seed: run.seed,
        years: run.years,
        brute_force: run.brute_runs,
        shared_warmups: run.warmups != Warmups::PerRun,
        transition_runs: work.tasks(),
        brute_force_runs: brute.len(),
        fingerprint: seed_of(&[
            &work.fingerprint().to_string(),
            &brute::fingerprint(&brute).to_string(),
        ]),
    };
    Ok(Prepared {
        work,
        brute_designs,
        brute,
        identity,
    })
}

/// `plan FILE --shard I/N --shard-out FILE`: measures this shard's share of the plan's runs and
/// writes them; 0, or 2 when the plan cannot be run or the file cannot be written.
fn write_shard(run: &Run, shard: Shard, out: &Path, jobs: usize, line: &Line) -> i32 {
    let started = std::time::Instant::now();
    let measured = prepare_runs(run, line).and_then(|p| {
        let n = p.identity.transition_runs;
        let mine: Vec<usize> = (0..p.identity.runs()).filter(|&k| shard.owns(k)).collect();
        let (transitions, brute_runs): (Vec<usize>, Vec<usize>) =
            mine.iter().partition(|&&k| k < n);
        let samples = p.work.measure(&transitions, jobs, line)?;
        let brute_local: Vec<usize> = brute_runs.iter().map(|k| k - n).collect();
        let avail = brute::measure(&p.brute, &brute_local, jobs, line)?;
        let file = PlanShardFile::new(
            shard,
            p.identity,
            &transitions.into_iter().zip(samples).collect::<Vec<_>>(),
            &brute_runs.into_iter().zip(avail).collect::<Vec<_>>(),
        );
        Ok(file)
    });
    line.finish();
    let file = match measured {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {}: {e}", run.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    let bytes = serde_json::to_vec(&file).unwrap_or_default();
    if let Err(e) = crate::report::write_atomic(out, &bytes) {
        eprintln!("error: cannot write the shard file {}: {e}", out.display());
        return EXIT_BAD_INPUT;
    }
    eprintln!(
        "plan {} shard {}/{}: {} of {} runs in {:.1}s, written to {} (combine the shards with `kube-ha-sim merge`)",
        run.plan.name,
        shard.index,
        shard.count,
        file.runs(),
        file.identity.runs(),
        started.elapsed().as_secs_f64(),
        out.display()
    );
    EXIT_OK
}

/// `kube-ha-sim merge SHARD...` on plan shards: the plan's report, written to `out` (default
/// out/PLAN-NAME) exactly as `plan` on one machine writes it, with the same summary and exit code.
pub fn cmd_merge_plan(shards: &[PathBuf], out: Option<PathBuf>) -> i32 {
    let combined = shards
        .iter()
        .map(|p| PlanShardFile::read(p).map(|f| (p.clone(), f)))
        .collect::<Result<Vec<_>, String>>()
        .and_then(crate::capacity::shard::combine);
    let c = match combined {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let file = PathBuf::from(&c.identity.file);
    let plan = match load_plan(&file) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e} (the plan file the shards were cut from)");
            return EXIT_BAD_INPUT;
        }
    };
    let run = Run {
        file: &file,
        plan: &plan,
        years: c.identity.years,
        seed: c.identity.seed,
        brute_runs: c.identity.brute_force,
        // The merge runs nothing it could fork: only the seeds matter.
        warmups: warmups(c.identity.shared_warmups, true),
    };
    let line = Line {
        on: std::io::stderr().is_terminal(),
        last: Mutex::new(String::new()),
    };
    let prepared = prepare_runs(&run, &line);
    line.finish();
    let p = match prepared {
        Ok(p) if p.identity == c.identity => p,
        Ok(p) => {
            eprintln!(
                "error: {}: the plan's runs differ from the shards' ({} transition runs and fingerprint \
                 {:016x} now, {} and {:016x} in the shards): the plan file changed since the shards ran; \
                 run the shards again",
                file.display(),
                p.identity.transition_runs,
                p.identity.fingerprint,
                c.identity.transition_runs,
                c.identity.fingerprint
            );
            return EXIT_BAD_INPUT;
        }
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return EXIT_BAD_INPUT;
        }
    };
    // The report folder is staged only once the shards are known to fit the plan: bad input leaves
    // nothing behind.
    let dir = out.unwrap_or_else(|| PathBuf::from("out").join(&plan.name));
    let staged = match OutputDir::begin(&dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let brute = (run.brute_runs > 0)
        .then(|| brute::collect(&p.brute_designs, run.brute_runs, &p.brute, c.brute_force));
    let analyses = p.work.finish(&plan, c.samples, &Quiet);
    conclude(&run, &analyses, brute, staged, &dir)
}

/// The plan's outcome from its analyses: the summary on stdout, the report in `dir`, the exit code.
fn conclude(
    run: &Run,
    analyses: &[DesignAnalysis],
    brute: Option<Vec<brute::BruteForce>>,
    staged: OutputDir,
    dir: &Path,
) -> i32 {
    let (plan, years, seed) = (run.plan, run.years, run.seed);
    let mut results: Vec<_> = analyses
        .iter()
        .map(|a| design_result(a, years as f64))
        .collect();
    if let Some(b) = brute {
        for (r, b) in results.iter_mut().zip(b) {
            r.brute_force = Some(b);
        }
    }
    let verdicts = judge(plan, &results);
    out!(
        "{}",
        report::summary(plan, years, seed, &results, &verdicts)
    );
    let json = report::plan_json(plan, years, seed, &results, &verdicts);
    let bytes = serde_json::to_vec_pretty(&json).unwrap_or_default();
    if let Err(e) = write_all(staged, &bytes, plan, years, seed, &results, &verdicts) {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    outln!(
        "report: {} (and plan.html, downtime.svg/.png, nines.svg/.png)",
        dir.join("plan.json").display()
    );
    outln!(
        "replay: kube-ha-sim plan {} --years {years} --seed {seed}{}{}",
        run.file.display(),
        match run.brute_runs {
            0 => String::new(),
            n => format!(" --brute-force {n}"),
        },
        match run.warmups {
            Warmups::PerRun => "",
            Warmups::Shared { .. } => " --shared-warmups",
        }
    );
    if verdicts.iter().all(|v| v.passed) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
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
