//! The command line: one function per subcommand; errors map to exit codes in one place
//! (0 ok, 1 an expectation failed, 2 bad input).

/// `println!` that ignores a closed stdout (`kube-ha-sim run ... | head`) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that ignores a closed stdout.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

pub mod bench;
pub mod check;
pub mod compare;
pub mod exercise;
pub mod import;
pub mod inspect;
pub mod lab;
pub mod library;
pub mod new;
pub mod plan;
pub mod sweep;

use crate::report;
use crate::report::print_warnings;
use crate::run;
use crate::scenario::{load_scenario, Plan};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};

/// Exit code: every expectation holds.
pub const EXIT_OK: i32 = 0;
/// Exit code: an expectation failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input.
pub const EXIT_BAD_INPUT: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "kube-ha-sim",
    version,
    about = "Deterministic simulator of Kubernetes HA control planes: break a modelled cluster, read what it cost"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario: prints a summary, writes DIR/report.json.
    Run {
        /// The scenario file.
        file: PathBuf,
        /// Overrides the file's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder (default: out/SCENARIO-NAME).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the run as a story in the components' own log words.
        #[arg(long)]
        narrate: bool,
    },
    /// Designs side by side (compare.svg/png, a report each): one file on stacked and on external
    /// etcd, or several files each as written.
    Compare {
        /// One scenario file (either topology), or several designs to compare.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Overrides the file's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Output folder (default: out/SCENARIO-NAME-compare).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run every scenario and write its report and pictures under OUT/NAME/ (for the library:
    /// `--out reports`).
    Render {
        /// Files or folders (default: scenarios/).
        paths: Vec<PathBuf>,
        /// Output folder (required: rendering over the library's `reports/` is a choice to make).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a commented starting scenario (YAML with comments, or JSON) to edit.
    New(new::NewArgs),
    /// Write a scenario from a kubeadm cluster's files (kubeadm config, haproxy.cfg, keepalived.conf,
    /// static pod manifests), each setting commented with the file and line it came from.
    Import(import::ImportArgs),
    /// Print a shell completion script: `kube-ha-sim completions bash > /etc/bash_completion.d/kube-ha-sim`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Check scenario files without running them.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Run every scenario with expectations (files or folders; default scenarios/) on all cores.
    Check(check::CheckArgs),
    /// Judge the shard files of a check split across machines (`check --shard I/N`) as one check, or
    /// write the report of a plan from its shards (`plan FILE --shard I/N`).
    Merge(check::MergeArgs),
    /// Capacity planning: availability in nines under random node and zone failures (plan.json, plan.html).
    Plan(plan::PlanArgs),
    /// Training: what kubectl, etcdctl and HAProxy would print at simulated time T.
    Inspect(inspect::InspectArgs),
    /// Training: play a scenario's exercises, grade the answers (from the terminal or --answers).
    Exercise(exercise::ExerciseArgs),
    /// Training: run a scenario by hand (step, until, faults, the views by their command lines, narrate, save).
    Lab(lab::LabArgs),
    /// Sizing: run a scenario over a range of one field (load, API servers...), with everything up and
    /// with one control-plane node lost; the largest value that keeps the API SLO (sweep.json, sizing.svg).
    Sweep(sweep::SweepArgs),
    /// Measure the engine: events per second, simulated seconds per wall second, peak memory.
    Bench {
        /// Only the quick subset.
        #[arg(long)]
        quick: bool,
        /// Run only case N and print its raw figures (each case runs in a child process this way,
        /// so that its peak memory is its own).
        #[arg(long, hide = true)]
        case: Option<usize>,
        /// Also run the SimPy twin of the idle etcd cluster (`../shared/anchors/simpy_etcd_idle.py`,
        /// `pip install simpy`) with `python3` for the same simulated day, and print the ratio of
        /// simulated seconds per wall second side by side.
        #[arg(long, value_name = "SCRIPT")]
        simpy: Option<std::path::PathBuf>,
    },
    /// Reference documentation (`help scenario`).
    Docs {
        /// Topic: `scenario`.
        topic: String,
    },
}

/// Entry point used by `main.rs`: returns the process exit code.
pub fn main_with_args(args: Vec<String>) -> i32 {
    // `help scenario` is friendlier than clap's `help <subcommand>`; route it to the docs.
    let args = if args.len() >= 3 && args[1] == "help" && args[2] == "scenario" {
        vec![args[0].clone(), "docs".into(), "scenario".into()]
    } else {
        args
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            let _ = e.print();
            return code;
        }
    };
    match cli.command {
        Command::Run {
            file,
            seed,
            out,
            narrate,
        } => cmd_run(&file, seed, out.as_deref(), narrate),
        Command::Validate { files } => cmd_validate(&files),
        Command::New(args) => new::cmd_new(&args),
        Command::Import(args) => import::cmd_import(&args),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "kube-ha-sim", &mut std::io::stdout());
            EXIT_OK
        }
        Command::Bench { quick, case, simpy } => match case {
            Some(i) => bench::run_case(i),
            None => bench::run(quick, simpy.as_deref()),
        },
        Command::Plan(args) => plan::cmd_plan(args),
        Command::Sweep(args) => sweep::cmd_sweep(args),
        Command::Check(args) => check::cmd_check(args),
        Command::Merge(args) => check::cmd_merge(args),
        Command::Inspect(args) => inspect::cmd_inspect(args),
        Command::Exercise(args) => exercise::cmd_exercise(args),
        Command::Lab(args) => lab::cmd_lab(args),
        Command::Render { paths, out } => library::cmd_render(&paths, &out),
        Command::Compare { files, seed, out } => compare::cmd_compare(&files, seed, out.as_deref()),
        Command::Docs { topic } => {
            if topic == "scenario" {
                outln!("{}", crate::scenario::help::scenario_help());
                EXIT_OK
            } else {
                eprintln!("unknown help topic `{topic}`; known: scenario");
                EXIT_BAD_INPUT
            }
        }
    }
}

fn load(file: &Path) -> Result<Plan, i32> {
    let plan = load_scenario(file).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_BAD_INPUT
    })?;
    print_warnings(&plan);
    Ok(plan)
}

fn cmd_validate(files: &[PathBuf]) -> i32 {
    let mut code = EXIT_OK;
    for f in files {
        if crate::capacity::model::is_plan_file(f) {
            code = code.max(plan::cmd_validate_plan(f));
            continue;
        }
        match load_scenario(f) {
            Ok(s) => {
                print_warnings(&s);
                outln!("{}: ok ({})", f.display(), s.name)
            }
            Err(e) => {
                eprintln!("error: {e}");
                code = EXIT_BAD_INPUT;
            }
        }
    }
    code
}

fn cmd_run(file: &Path, seed: Option<u64>, out: Option<&Path>, narrate: bool) -> i32 {
    let scenario = match load(file) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let seed = seed.unwrap_or(scenario.seed);
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("out").join(&scenario.name));
    // The output folder is prepared before the run: one that cannot be written fails at once.
    let staged = match report::OutputDir::begin(&dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let outcome = match run::run(&scenario, seed) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            return EXIT_BAD_INPUT;
        }
    };
    if narrate {
        out!("{}", report::text::narrate(&outcome));
        outln!();
    }
    out!("{}", report::text::summary(&outcome));
    let replay = format!("kube-ha-sim run {} --seed {seed}", file.display());
    if let Err(e) = write_outputs(&outcome, staged, &replay) {
        eprintln!("error: {e}");
        return EXIT_BAD_INPUT;
    }
    outln!(
        "report: {} (and report.html, timeline.svg, timeline.png)",
        dir.join("report.json").display()
    );
    outln!("replay: {replay}");
    if outcome.passed() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Writes a run's `report.json`, timeline pictures and HTML report into its staged output folder and
/// swaps the folder in.
pub fn write_outputs(
    outcome: &run::Outcome,
    staged: report::OutputDir,
    replay: &str,
) -> Result<(), String> {
    let json = report::json::report(outcome);
    let bytes =
        serde_json::to_vec_pretty(&json).map_err(|e| format!("cannot encode the report: {e}"))?;
    staged.write("report.json", &bytes)?;
    write_pictures(outcome, &staged, replay)?;
    staged.commit()
}

/// Stages the timeline (SVG, PNG) and the HTML report of a run in its output folder.
pub fn write_pictures(
    outcome: &run::Outcome,
    out: &report::OutputDir,
    replay: &str,
) -> Result<(), String> {
    out.write("timeline.svg", report::svg::render_svg(outcome).as_bytes())?;
    report::png::render_png(outcome, &out.staged("timeline.png")).map_err(|e| {
        format!(
            "cannot write {}: {e}",
            out.dir().join("timeline.png").display()
        )
    })?;
    out.sync("timeline.png")?;
    if let Some(svg) = report::capacity::render_capacity_svg(outcome) {
        out.write("capacity.svg", svg.as_bytes())?;
    }
    out.write(
        "report.html",
        report::html::render_html(outcome, replay).as_bytes(),
    )
}
