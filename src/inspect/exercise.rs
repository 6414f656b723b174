//! Exercises (`kube-ha-sim exercise`): the right answer to each question from the simulation, the
//! grading of a trainee's answer, and the explanation from the narration.

use super::kubectl::{api_answer, ApiAnswer};
use super::Moment;
use crate::engine::{fmt_duration, parse_duration, Nanos, SEC};
use crate::observe::{Capability, TraceKind};
use crate::report::text::{narrate_between, recovered_by};
use crate::run::Outcome;
use crate::scenario::training::{ExercisePlan, Question};
use crate::topology::ProcKind;
use crate::world::observer::quorum_leader;

/// The right answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Truth {
    /// A node (`cp-2`) or process (`cp-2/kube-scheduler`); None: none.
    Name(Option<String>),
    /// A time of the run; None: never (not before the end of the run).
    Time(Option<Nanos>),
    YesNo(bool),
}

impl std::fmt::Display for Truth {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            Truth::Name(Some(n)) => write!(f, "{n}"),
            Truth::Name(None) => write!(f, "none"),
            Truth::Time(Some(t)) => write!(f, "{}", fmt_duration(*t)),
            Truth::Time(None) => write!(f, "never (not before the end of the run)"),
            Truth::YesNo(b) => write!(f, "{}", if *b { "yes" } else { "no" }),
        }
    }
}

/// The right answer, why, and the span of the run that explains it.
pub struct Solution {
    pub truth: Truth,
    /// One line: what the simulation shows.
    pub why: String,
    /// The narration of the span that explains it (the last lines of it).
    pub story: Vec<String>,
}

/// The capability's state at `at` and when it next comes up after `at` (None: not before the end).
fn cap_at(o: &Outcome, cap: Capability, at: Nanos) -> (bool, Option<Nanos>) {
    let mut up = false;
    let mut next = None;
    for e in &o.trace.events {
        if let TraceKind::Cap { cap: c, up: u } = e.kind {
            if c != cap {
                continue;
            }
            if e.time_ns <= at {
                up = u;
            } else if u && !up && next.is_none() {
                next = Some(e.time_ns);
            }
        }
    }
    (up, next)
}

/// The process of `kind` that last started acting as leader at or before `t`.
fn acting_at(o: &Outcome, kind: ProcKind, t: Nanos) -> Option<String> {
    o.trace
        .events
        .iter()
        .filter(|e| e.time_ns <= t)
        .filter_map(|e| {
            if let TraceKind::Acting { proc, acting: true } = e.kind {
                Some(proc as usize)
            } else {
                None
            }
        })
        .rfind(|&p| o.layout.procs[p].kind == kind)
        .map(|p| o.layout.procs[p].name.clone())
}

/// Solves an exercise: `m` is the world at its moment, `o` the whole run.
pub fn solve(ex: &ExercisePlan, m: &Moment, o: &Outcome) -> Solution {
    let w = m.world();
    let at = ex.at_ns;
    let node_name = |n: usize| w.layout().nodes[n].name.clone();
    let (truth, why, until) = match ex.question {
        Question::VipHolder => {
            let holder = w.vip_holder.map(|n| node_name(n as usize));
            let why = match &holder {
                Some(h) => format!("at {} the VIP is on {h}", fmt_duration(at)),
                None => format!("at {} no node answers for the VIP", fmt_duration(at)),
            };
            (Truth::Name(holder), why, at)
        }
        Question::EtcdLeader => {
            let leader = quorum_leader(w).map(|p| node_name(w.layout().procs[p as usize].node));
            let why = match &leader {
                Some(l) => format!("at {} {l}'s member leads with a quorum", fmt_duration(at)),
                None => format!("at {} no member leads with a quorum", fmt_duration(at)),
            };
            (Truth::Name(leader), why, at)
        }
        Question::QuorumRegained => {
            let (up, next) = cap_at(o, Capability::EtcdQuorum, at);
            if up {
                let why = format!("etcd has quorum at {} already", fmt_duration(at));
                (Truth::Time(Some(at)), why, at)
            } else {
                let why = match next {
                    Some(t) => format!(
                        "etcd regains quorum at {}: {}",
                        fmt_duration(t),
                        recovered_by(o, Capability::EtcdQuorum, at, t).unwrap_or_default()
                    ),
                    None => "etcd has no quorum again before the end of the run".into(),
                };
                let until = next.unwrap_or(o.end_ns.min(at + 60 * SEC));
                (Truth::Time(next), why, until)
            }
        }
        Question::SchedulingRestoredBy => restored_by(o, Capability::Scheduling, at),
        Question::ReconciliationRestoredBy => restored_by(o, Capability::Reconciliation, at),
        Question::ApiAnswers => {
            let (answer, _) = api_answer(w);
            let served = matches!(answer, ApiAnswer::Served { .. });
            let why = format!("at {}: {}", fmt_duration(at), answer.describe(w));
            (Truth::YesNo(served), why, at)
        }
    };
    // A question about what comes next is explained by what happens until then; one about the
    // moment by the half minute before it.
    let from = if until > at {
        at
    } else {
        at.saturating_sub(30 * SEC)
    };
    let story: Vec<String> = narrate_between(o, from, until)
        .lines()
        .map(String::from)
        .collect();
    let keep = story.len().saturating_sub(12);
    Solution {
        truth,
        why,
        story: story[keep..].to_vec(),
    }
}

/// Who restores a leader-elected capability: the instance leading now if it is up, else the one
/// that leads when it next comes up.
fn restored_by(o: &Outcome, cap: Capability, at: Nanos) -> (Truth, String, Nanos) {
    let kind = match cap {
        Capability::Scheduling => ProcKind::Scheduler,
        Capability::Reconciliation
        | Capability::Api
        | Capability::EtcdQuorum
        | Capability::Workloads => ProcKind::ControllerManager,
    };
    let (up, next) = cap_at(o, cap, at);
    if up {
        let who = acting_at(o, kind, at);
        let why = format!("{} is up at {} already", cap.name(), fmt_duration(at));
        return (Truth::Name(who), why, at);
    }
    match next {
        Some(t) => {
            let who = acting_at(o, kind, t);
            let why = format!(
                "{} is back at {}: {}",
                cap.name(),
                fmt_duration(t),
                recovered_by(o, cap, at, t).unwrap_or_default()
            );
            (Truth::Name(who), why, t)
        }
        None => (
            Truth::Name(None),
            format!("{} is not back before the end of the run", cap.name()),
            o.end_ns.min(at + 60 * SEC),
        ),
    }
}

/// Whether `answer` is right: names in any of the forms a trainee may write (the node, `NODE/PROCESS`
/// or the static pod `<component>-<node>`), times within the tolerance, yes/no.
pub fn grade(ex: &ExercisePlan, truth: &Truth, answer: &str) -> bool {
    let a = answer.trim().to_lowercase();
    let none = matches!(a.as_str(), "none" | "nobody" | "never" | "-");
    match truth {
        Truth::Name(None) => none,
        Truth::Name(Some(t)) => {
            let (node, process) = match t.split_once('/') {
                Some((n, p)) => (n.to_string(), Some(p.to_string())),
                None => (t.clone(), None),
            };
            a == node
                || a.split_once('/')
                    .is_some_and(|(n, p)| n == node && process.as_deref().is_none_or(|q| q == p))
                || process
                    .as_deref()
                    .is_some_and(|p| a == format!("{p}-{node}"))
                || (ex.question == Question::EtcdLeader && a == format!("etcd-{node}"))
        }
        Truth::Time(None) => none,
        Truth::Time(Some(t)) => {
            let given = if a == "now" {
                Some(ex.at_ns)
            } else {
                parse_duration(&a).ok()
            };
            given.is_some_and(|g| g.abs_diff(*t) <= ex.tolerance_ns)
        }
        Truth::YesNo(b) => match a.as_str() {
            "yes" | "y" | "true" => *b,
            "no" | "n" | "false" => !*b,
            _ => false,
        },
    }
}
