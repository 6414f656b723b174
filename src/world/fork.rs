//! Forking a world: a world run to some time T is cloned and continued under a plan that adds faults
//! after T (and may end at another time). The capacity planner warms a design up once and forks it
//! for each transition it measures (issue 12, item 5), instead of re-running the same warm-up.
//!
//! A fork continues exactly as a plain run of the new plan would (same events in the same order, so
//! the same trace hash), because nothing the world did before T depends on the faults after T or on
//! the run's end:
//! - faults are read only when they fire, through their `FaultStart` (and a `restore`'s `Snapshot`)
//!   events, which sit in the queue's script band ([`crate::engine::EventQueue::push_script`]): a
//!   fork's added faults pop among the events of their instant exactly where a plain run's would;
//! - no fault draws from a random stream before it fires; each stream belongs to a process, a node's
//!   boot or a node's network sender, whatever the fault list holds;
//! - the end and the event bound are read only by the event loop, and a fork takes the new plan's;
//! - the one setting derived from the fault list at build, whether a leader may act past its lease
//!   (`pause` and rate-skewing `clock-skew` faults allow it), only changes how a lease overrun is
//!   counted; a fork that changes it is refused once an invariant was reported before T.
//!
//! So a fork requires the same model (topology, settings, load, workloads), the world's own faults as
//! the first faults of the new plan, and every added fault after T. [`World::fork_with`] checks all of
//! it; `tests/suite/fork.rs` compares forked runs with plain runs byte for byte.

use super::faults::ResolvedFault;
use super::World;
use crate::engine::{fmt_duration, Nanos};
use crate::scenario::Plan;

/// Why a world cannot be continued under a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForkError {
    /// The plan's cluster is not the world's: the named part of the scenario differs.
    ModelDiffers(&'static str),
    /// The plan does not start with the world's faults (fault `index` differs or is missing).
    FaultsDiffer { index: usize },
    /// An added fault (or a `restore`'s snapshot) falls at or before the time the world has run to,
    /// so a plain run would have applied it already.
    FaultTooEarly {
        index: usize,
        at_ns: Nanos,
        now_ns: Nanos,
    },
    /// The plan ends before the time the world has run to.
    EndsTooEarly { end_ns: Nanos, now_ns: Nanos },
    /// The added faults change how a lease overrun is counted, and the world already counted
    /// invariant reports before the fork.
    LeaseOverrunChanges,
    /// The world has already processed more events than the plan's run may.
    TooManyEvents { processed: u64, limit: u64 },
}

impl std::fmt::Display for ForkError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            ForkError::ModelDiffers(part) => write!(
                f,
                "cannot fork: the plan's {part} differ from the world's (only faults, duration and \
                 expectations may change)"
            ),
            ForkError::FaultsDiffer { index } => write!(
                f,
                "cannot fork: the plan's fault #{index} is not the world's (the world's faults must \
                 come first, unchanged)"
            ),
            ForkError::FaultTooEarly {
                index,
                at_ns,
                now_ns,
            } => write!(
                f,
                "cannot fork: fault #{index} at {} is not after the world's time {}",
                fmt_duration(*at_ns),
                fmt_duration(*now_ns)
            ),
            ForkError::EndsTooEarly { end_ns, now_ns } => write!(
                f,
                "cannot fork: the plan ends at {}, before the world's time {}",
                fmt_duration(*end_ns),
                fmt_duration(*now_ns)
            ),
            ForkError::LeaseOverrunChanges => write!(
                f,
                "cannot fork: the added faults change how a lease overrun is counted, and invariants \
                 were already reported"
            ),
            ForkError::TooManyEvents { processed, limit } => write!(
                f,
                "cannot fork: the world processed {processed} events, more than the plan's run may \
                 ({limit})"
            ),
        }
    }
}

/// The parts of a plan that shape the world itself, as text, to compare a fork's plan with the
/// world's. Serialised through the file's mirror: every setting takes part, and a setting added later
/// takes part without this list changing.
fn model_parts(p: &Plan) -> [(&'static str, String); 4] {
    let s = p.to_scenario();
    let text = |v: Result<String, serde_json::Error>| v.unwrap_or_default();
    [
        ("topology", text(serde_json::to_string(&s.topology))),
        ("settings", text(serde_json::to_string(&s.settings))),
        ("load", text(serde_json::to_string(&s.load))),
        ("workloads", text(serde_json::to_string(&s.workloads))),
    ]
}

/// A fault as text, to compare the world's faults with a plan's.
fn fault_text(f: &crate::scenario::plan::FaultPlan) -> String {
    serde_json::to_string(&f.spec).unwrap_or_default()
}

impl World {
    /// A copy of the world in its current state that runs on exactly as this one would: a fork with no
    /// change. The copy is deep (components, network, observers, trace, random streams, queue); only
    /// range answers shared read-only between components (`Arc`) stay shared.
    pub fn fork(&self) -> World {
        self.clone()
    }

    /// A copy of the world, continued under `plan`: the same cluster (topology, settings, load and
    /// workloads as the world's), the world's faults followed by any number of faults after the time
    /// the world has run to, and the plan's duration. Running the fork to its end gives the events, trace
    /// and outcome of a plain run of `plan` with the world's seed (see the module comment for why).
    /// The original is not touched and may run on, or be forked again.
    ///
    /// The fork's event bound is the plan's; a bound lowered with [`World::with_event_limit`] is not
    /// carried over.
    pub fn fork_with(&self, plan: &Plan) -> Result<World, ForkError> {
        let now_ns = self.now;
        for ((part, mine), (_, theirs)) in model_parts(&self.scenario)
            .into_iter()
            .zip(model_parts(plan))
        {
            if mine != theirs {
                return Err(ForkError::ModelDiffers(part));
            }
        }
        let kept = self.faults.len();
        for (index, f) in self.faults.iter().enumerate() {
            match plan.faults.get(index) {
                Some(p) if fault_text(p) == fault_text(&f.plan) => {}
                Some(_) | None => return Err(ForkError::FaultsDiffer { index }),
            }
        }
        // A world not started yet has scheduled nothing: any fault is in time.
        if self.started {
            for (index, f) in plan.faults.iter().enumerate().skip(kept) {
                let mut at_ns = f.at_ns;
                if let crate::scenario::plan::FaultAction::Restore { snapshot_at_ns } = f.action {
                    at_ns = at_ns.min(snapshot_at_ns);
                }
                if at_ns <= now_ns {
                    return Err(ForkError::FaultTooEarly {
                        index,
                        at_ns,
                        now_ns,
                    });
                }
            }
        }
        if plan.duration_ns < now_ns {
            return Err(ForkError::EndsTooEarly {
                end_ns: plan.duration_ns,
                now_ns,
            });
        }
        let overrun = crate::scenario::cert_clock::lease_overrun_possible(plan);
        if overrun != self.invariants.lease_overrun_allowed && self.invariants.violations > 0 {
            return Err(ForkError::LeaseOverrunChanges);
        }
        let limit = crate::engine::event_bound(plan.duration_ns, plan.load.requests_per_second);
        if self.events_processed > limit {
            return Err(ForkError::TooManyEvents {
                processed: self.events_processed,
                limit,
            });
        }
        let mut w = self.clone();
        w.scenario = plan.clone();
        w.end_ns = plan.duration_ns;
        w.max_events = limit;
        w.invariants.lease_overrun_allowed = overrun;
        w.faults
            .extend(plan.faults[kept..].iter().cloned().map(ResolvedFault::new));
        if w.started {
            w.schedule_faults(kept);
        }
        Ok(w)
    }
}
