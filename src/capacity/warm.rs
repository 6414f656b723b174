//! Shared warm-ups (`plan --shared-warmups`, issue 12 item 5): with [`Warmups::Shared`], sample k of
//! every transition of a design has one seed, so those runs are the same run up to their first
//! fault, and the runs that leave the same mode are the same run up to the change (the crash into
//! that mode at `first_ns`, then a window of settling). Each shared part is run once and the world is
//! forked ([`World::fork_with`]) at the last moment before the runs part:
//!
//! ```text
//! warm-up (design, k) ──┬── fork ── faults of a transition from all-up ── run to the end
//!   to first_ns - 1     ├── fork ── crash into mode M ── settle to change - 1 ──┬── fork ── change ── end
//!                       │                                                      └── fork ── change ── end
//!                       └── ...
//! ```
//!
//! A fork continues exactly as the plain run of its scenario would, so every sample, and the plan's
//! report, is byte-identical to measuring each run from the start (`--no-fork`); the suite checks it.

use super::costs::{measure_world, parallel_map, Sample};
use super::{Progress, Warmups, Work};
use crate::engine::Nanos;
use crate::scenario::Plan;
use crate::world::World;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What runs share: (design, sample) their warm-up, and with the mode they leave, their settling.
type GroupKey = (usize, u32, usize);

/// The runs (task indices) of each group.
type Groups = BTreeMap<GroupKey, Vec<usize>>;

/// The earliest moment a fault from index `kept` on acts (a `restore` acts at its snapshot), if any.
fn first_fault_ns(plan: &Plan, kept: usize) -> Option<Nanos> {
    plan.faults
        .iter()
        .skip(kept)
        .map(|f| {
            let mut at_ns = f.at_ns;
            if let crate::scenario::plan::FaultAction::Restore { snapshot_at_ns } = f.action {
                at_ns = at_ns.min(snapshot_at_ns);
            }
            at_ns
        })
        .min()
}

/// Runs `world` to just before the earliest fault of `plans` after their first `kept` (all share
/// those `kept`): the moment the runs part.
fn run_to_parting(world: &mut World, plans: &[&Plan], kept: usize) -> Result<(), String> {
    let parting = plans
        .iter()
        .filter_map(|p| first_fault_ns(p, kept))
        .min()
        .unwrap_or(0);
    // A fault at 0 parts the runs before anything ran: nothing to share, and nothing to run.
    if let Some(t) = parting.checked_sub(1) {
        world.run_until(t).map_err(|e| e.to_string())?;
    }
    Ok(())
}

impl Work {
    /// [`Work::measure`] with shared warm-ups and forks: the same samples, in the order of `which`.
    pub(super) fn measure_forked(
        &self,
        which: &[usize],
        jobs: usize,
        progress: &dyn Progress,
    ) -> Result<Vec<Sample>, String> {
        debug_assert_eq!(self.warmups, Warmups::Shared { fork: true });
        // The runs grouped by what they share: (design, sample) their warm-up, then the mode they
        // leave their settling. A BTreeMap, so the groups come in one order on every machine.
        let mut groups = Groups::new();
        for &k in which {
            let t = &self.tasks[k];
            let (from, _) = self.staged[t.design].1.interner.transitions[t.transition];
            groups
                .entry((t.design, t.sample, from))
                .or_default()
                .push(k);
        }
        let mut warm_keys: Vec<(usize, u32)> = groups.keys().map(|&(d, s, _)| (d, s)).collect();
        warm_keys.dedup();
        let warm = parallel_map(
            &warm_keys,
            jobs,
            |&(d, s)| self.warm_up(&groups, d, s),
            |_, _| {},
        );
        let units: Vec<(&GroupKey, &Vec<usize>)> = groups.iter().collect();
        let done = AtomicUsize::new(0);
        let per_unit = parallel_map(
            &units,
            jobs,
            |&(&(d, s, from), ks)| {
                let i = warm_keys
                    .binary_search(&(d, s))
                    .expect("every group has its warm-up");
                let out = self.measure_group(&warm[i], d, from, ks);
                for _ in ks {
                    progress.runs(done.fetch_add(1, Ordering::Relaxed) + 1, which.len());
                }
                out
            },
            |_, _| {},
        );
        let mut by_task: BTreeMap<usize, Result<Sample, String>> = BTreeMap::new();
        for ((_, ks), results) in units.iter().zip(per_unit) {
            by_task.extend(ks.iter().copied().zip(results));
        }
        which
            .iter()
            .map(|k| by_task.remove(k).expect("every run was measured"))
            .collect()
    }

    /// The warm-up of sample `s` of design `d`: its runs' cluster with no faults, run to just before
    /// the first of their faults.
    fn warm_up(&self, groups: &Groups, d: usize, s: u32) -> Result<World, String> {
        let tasks: Vec<&super::Task> = groups
            .range((d, s, 0)..=(d, s, usize::MAX))
            .flat_map(|(_, ks)| ks.iter().map(|&k| &self.tasks[k]))
            .collect();
        let seed = tasks[0].seed;
        debug_assert!(
            tasks.iter().all(|t| t.seed == seed),
            "shared warm-ups: one seed per design and sample"
        );
        let plans: Vec<&Plan> = tasks.iter().map(|t| &t.scenario).collect();
        let mut quiet = plans[0].clone();
        quiet.faults.clear();
        let mut world = World::build(&quiet, seed);
        run_to_parting(&mut world, &plans, 0)?;
        Ok(world)
    }

    /// The runs `ks` of design `d` that leave mode `from`, forked from their warm-up: through the
    /// crash into `from` and its settling once, then each run's change.
    fn measure_group(
        &self,
        warm: &Result<World, String>,
        d: usize,
        from: usize,
        ks: &[usize],
    ) -> Vec<Result<Sample, String>> {
        let (model, path, timing) = &self.staged[d];
        let kept = model.table.representative(path.interner.modes[from]).len();
        let settled = warm.as_ref().map_err(Clone::clone).and_then(|w| {
            if kept == 0 {
                return Ok(None);
            }
            // The runs' first `kept` faults are the crash into `from` (see `transition_scenario`).
            let mut settle = self.tasks[ks[0]].scenario.clone();
            settle.faults.truncate(kept);
            let mut world = w.fork_with(&settle).map_err(|e| e.to_string())?;
            let plans: Vec<&Plan> = ks.iter().map(|&k| &self.tasks[k].scenario).collect();
            run_to_parting(&mut world, &plans, kept)?;
            Ok(Some(world))
        });
        ks.iter()
            .map(|&k| {
                let t = &self.tasks[k];
                let base = match &settled {
                    Ok(Some(w)) => w,
                    Ok(None) => warm.as_ref().map_err(Clone::clone)?,
                    Err(e) => return Err(e.clone()),
                };
                let world = base.fork_with(&t.scenario).map_err(|e| e.to_string())?;
                measure_world(&t.scenario, world, t.change_ns, *timing)
            })
            .collect()
    }
}
