//! `kube-ha-sim exercise FILE [--answers FILE] [--seed N]`: plays the scenario to each of its
//! exercises, shows the views it names, asks, reads the answer (from the terminal, or one per line
//! from `--answers` for CI), grades it against the simulation and explains it from the narration.

use super::{load, EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK};
use crate::engine::fmt_duration;
use crate::inspect::exercise::{grade, solve};
use crate::inspect::{transcript, Moment};
use crate::run;
use crate::scenario::training::ExercisePlan;
use std::io::BufRead;
use std::path::PathBuf;

/// The arguments of `exercise`.
#[derive(clap::Args, Debug)]
pub struct ExerciseArgs {
    /// The scenario file (with `exercises`).
    pub file: PathBuf,
    /// Answers, one per line in the order of the exercises (lines starting with `#` and blank
    /// lines are skipped); without it, the answers are read from the terminal.
    #[arg(long)]
    pub answers: Option<PathBuf>,
    /// Overrides the file's seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Where answers come from.
enum Answers {
    Scripted(std::vec::IntoIter<String>),
    Terminal,
}

impl Answers {
    /// The next answer (None: no more).
    fn next(&mut self) -> Option<String> {
        match self {
            Answers::Scripted(lines) => {
                let a = lines.next();
                // Echo a scripted answer, as if typed.
                outln!("{}", a.as_deref().unwrap_or(""));
                a
            }
            Answers::Terminal => {
                let mut line = String::new();
                match std::io::stdin().lock().read_line(&mut line) {
                    Ok(0) | Err(_) => None,
                    Ok(_) => Some(line.trim_end().to_string()),
                }
            }
        }
    }
}

/// The answers' source: the `--answers` file's lines (without blank and `#` lines), else the terminal.
fn open_answers(args: &ExerciseArgs) -> Result<Answers, i32> {
    let Some(f) = &args.answers else {
        return Ok(Answers::Terminal);
    };
    match std::fs::read_to_string(f) {
        Ok(t) => Ok(Answers::Scripted(
            t.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect::<Vec<_>>()
                .into_iter(),
        )),
        Err(e) => {
            eprintln!("error: {}: cannot read it: {e}", f.display());
            Err(EXIT_BAD_INPUT)
        }
    }
}

/// Plays one exercise: the moment's text and views, the question, the answer, the grade and why.
fn ask(
    ex: &ExercisePlan,
    (number, total): (usize, usize),
    moment: &Moment,
    outcome: &run::Outcome,
    answers: &mut Answers,
) -> bool {
    outln!();
    outln!(
        "Exercise {number} of {total}, at {} of the run",
        fmt_duration(ex.at_ns)
    );
    if !ex.text.is_empty() {
        outln!("  {}", ex.text);
    }
    if !ex.views.is_empty() {
        outln!();
        out!("{}", transcript(&ex.views, moment));
        outln!();
    }
    outln!("{}", ex.question.prompt());
    out!("> ");
    {
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
    let answer = answers.next().unwrap_or_default();
    let solution = solve(ex, moment, outcome);
    let right = grade(ex, &solution.truth, &answer);
    if right {
        outln!("right: {}", solution.truth);
    } else {
        outln!("wrong: the answer is {}", solution.truth);
    }
    outln!("  {}", solution.why);
    if !solution.story.is_empty() {
        outln!("  what happened (kube-ha-sim run --narrate):");
        for l in &solution.story {
            outln!("  {l}");
        }
    }
    right
}

/// Runs `exercise`.
pub fn cmd_exercise(args: ExerciseArgs) -> i32 {
    let plan = match load(&args.file) {
        Ok(p) => p,
        Err(c) => return c,
    };
    if plan.exercises.is_empty() {
        eprintln!(
            "error: {}: the scenario has no `exercises`; add some (see `kube-ha-sim help scenario`)",
            args.file.display()
        );
        return EXIT_BAD_INPUT;
    }
    let mut answers = match open_answers(&args) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let seed = args.seed.unwrap_or(plan.seed);
    let outcome = match run::run(&plan, seed) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return EXIT_BAD_INPUT;
        }
    };
    outln!("{}  (seed {seed})", plan.name);
    if !plan.description.is_empty() {
        outln!("  {}", plan.description);
    }
    let total = plan.exercises.len();
    let mut right = 0;
    for (i, ex) in plan.exercises.iter().enumerate() {
        let moment = match Moment::at(&plan, seed, ex.at_ns) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("error: {}: {e}", args.file.display());
                return EXIT_BAD_INPUT;
            }
        };
        right += ask(ex, (i + 1, total), &moment, &outcome, &mut answers) as usize;
    }
    outln!();
    outln!("score: {right} of {total} right");
    if right == total {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
