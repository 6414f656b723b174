//! `kube-ha-sim lab FILE [--seed N]`: the scenario by hand (see `crate::inspect::lab`). On a
//! terminal, lines are read with rustyline (line editing, history); otherwise (a script piped in)
//! plainly, one command a line, each echoed after its prompt so the transcript reads as a session.

use super::{load, EXIT_OK};
use crate::inspect::lab::{Lab, Reply};
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

/// The arguments of `lab`.
#[derive(clap::Args, Debug)]
pub struct LabArgs {
    /// The scenario file to start from (its faults stay; typed ones are added).
    pub file: PathBuf,
    /// Overrides the file's seed.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Runs `lab`.
pub fn cmd_lab(args: LabArgs) -> i32 {
    let plan = match load(&args.file) {
        Ok(p) => p,
        Err(c) => return c,
    };
    let seed = args.seed.unwrap_or(plan.seed);
    outln!(
        "{}  (seed {seed}, {} simulated; `help` lists the commands)",
        plan.name,
        crate::engine::fmt_duration(plan.duration_ns)
    );
    let mut lab = Lab::new(plan, &args.file.display().to_string(), seed);
    if std::io::stdin().is_terminal() {
        interactive(&mut lab);
    } else {
        scripted(&mut lab);
    }
    EXIT_OK
}

fn answer(lab: &mut Lab, line: &str) -> bool {
    match lab.command(line) {
        Reply::Quit => false,
        Reply::Text(t) => {
            if !t.is_empty() {
                outln!("{t}");
            }
            true
        }
    }
}

fn interactive(lab: &mut Lab) {
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("warning: no line editing ({e}); reading plain lines");
            return scripted(lab);
        }
    };
    // Ctrl-C, Ctrl-D or a closed terminal end the session.
    while let Ok(line) = editor.readline(&lab.prompt()) {
        let _ = editor.add_history_entry(line.as_str());
        if !answer(lab, &line) {
            break;
        }
    }
}

fn scripted(lab: &mut Lab) {
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        outln!("{}{line}", lab.prompt());
        if !answer(lab, &line) {
            break;
        }
    }
}
