//! `kube-ha-sim inspect FILE --at T [--seed N] [--view NAME...]`: what kubectl, etcdctl and HAProxy
//! would print at simulated time T (CONTRACT.md "Training views").

use super::{load, EXIT_BAD_INPUT, EXIT_OK};
use crate::engine::{fmt_duration, parse_duration, Nanos};
use crate::inspect::{print, Moment, Stream, View};
use crate::scenario::suggest::suggest;
use std::path::{Path, PathBuf};

/// The arguments of `inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// The moment to look at, as a duration from the start of the run ("2m5s").
    #[arg(long)]
    pub at: String,
    /// Overrides the file's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Views to print (repeat or separate with commas); default all.
    #[arg(long = "view", value_delimiter = ',', num_args = 1..)]
    pub views: Vec<String>,
}

/// Parses `--at` against the run's duration: a duration with a unit, at most the run's end.
pub fn parse_at(file: &Path, at: &str, duration_ns: Nanos) -> Result<Nanos, String> {
    let at_ns = parse_duration(at).map_err(|e| format!("{}: --at: {e}", file.display()))?;
    if at_ns > duration_ns {
        return Err(format!(
            "{}: --at {at} is after the end of the run (duration {}); allowed: 0s to {}",
            file.display(),
            fmt_duration(duration_ns),
            fmt_duration(duration_ns)
        ));
    }
    Ok(at_ns)
}

/// Parses view names; none means all of them.
pub fn parse_views(names: &[String]) -> Result<Vec<View>, String> {
    if names.is_empty() {
        return Ok(View::ALL.to_vec());
    }
    names
        .iter()
        .map(|n| {
            View::from_name(n.trim()).ok_or_else(|| {
                format!(
                    "--view: unknown view `{n}`{}; allowed: {}",
                    suggest(n, View::ALL.map(View::name)),
                    View::names()
                )
            })
        })
        .collect()
}

/// Writes one view's output, each line to the stream the tool wrote it to; the simulator's remarks
/// and the `$ command` line go to stdout.
pub fn write_printed(view: View, m: &Moment) {
    outln!("$ {}", view.command());
    for (stream, line) in print(view, m).lines {
        match stream {
            Stream::Stdout | Stream::Note => outln!("{line}"),
            Stream::Stderr => eprintln!("{line}"),
        }
    }
}

/// Runs `inspect`.
pub fn cmd_inspect(args: InspectArgs) -> i32 {
    let plan = match load(&args.file) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let parsed = parse_at(&args.file, &args.at, plan.duration_ns)
        .and_then(|at| Ok((at, parse_views(&args.views)?)));
    let (at_ns, views) = match parsed {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_BAD_INPUT;
        }
    };
    let seed = args.seed.unwrap_or(plan.seed);
    let moment = match Moment::at(&plan, seed, at_ns) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    for (i, v) in views.iter().enumerate() {
        if i > 0 {
            outln!();
        }
        // Flush between streams so that a terminal shows them in the order written.
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        write_printed(*v, &moment);
        let _ = std::io::stdout().flush();
    }
    EXIT_OK
}
