//! Invariants checked while the model runs: at most one etcd leader per term, committed entries never
//! change, every acknowledged write is in every later leader's log (unless a declared data-loss fault
//! explains its loss, which is then counted), and leader completeness for committed entries.
//!
//! The checker never needs a member's whole log: it keeps the terms of the committed entries (one run
//! per term, since terms only grow along the log), and a member that compacted its log applied (or
//! installed as a snapshot) everything it dropped, which the checker compared with its record then.

use super::Proc;
use crate::components::ctx::{Obs, ProcId};
use crate::engine::{fmt_duration, Nanos};
use crate::observe::Trace;
use std::collections::{BTreeMap, BTreeSet};

/// What one observation revealed.
pub struct Findings {
    /// Broken model invariants, described.
    pub violations: Vec<String>,
    /// A leader acting past its lease under settings that allow it (the settings' hazard).
    pub past_lease: Option<String>,
}

/// The terms of the committed entries from index 1, run-length encoded: `(first index, term)` per
/// run. Terms never decrease along a log, so this grows with the elections, not with the entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommittedTerms {
    runs: Vec<(u64, u64)>,
    len: u64,
}

impl CommittedTerms {
    /// How many entries are recorded (the highest committed index seen applied).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The term of the committed entry at `index`, if recorded.
    pub fn term(&self, index: u64) -> Option<u64> {
        if index == 0 || index > self.len {
            return None;
        }
        let run = self.runs.partition_point(|&(first, _)| first <= index);
        Some(self.runs[run - 1].1)
    }

    /// Records the next entry's term.
    pub fn push(&mut self, term: u64) {
        self.len += 1;
        if self.runs.last().map(|r| r.1) != Some(term) {
            self.runs.push((self.len, term));
        }
    }

    /// The record of the first `n` entries.
    pub fn prefix(&self, n: u64) -> CommittedTerms {
        let n = n.min(self.len);
        CommittedTerms {
            runs: self
                .runs
                .iter()
                .copied()
                .filter(|&(first, _)| first <= n)
                .collect(),
            len: n,
        }
    }
}

/// The checker's bookkeeping.
#[derive(Clone, Default)]
pub struct Invariants {
    leaders_by_term: BTreeMap<u64, ProcId>,
    /// Terms of the committed entries.
    committed: CommittedTerms,
    /// The highest leader term seen so far (since the last restore).
    max_leader_term: u64,
    /// For the committed entries, an upper bound of the term in which each was committed: the
    /// highest leader term seen when it was first applied. As (first index, bound) runs; the bound
    /// never falls with the index, and an entry before the first run has bound 0.
    commit_bounds: Vec<(u64, u64)>,
    /// Acknowledged writes: (write id, index, term).
    acked: Vec<(u64, u64, u64)>,
    lost_ids: BTreeSet<u64>,
    /// Set once a `wipe-data` (or restore) fault has destroyed data.
    pub data_loss_declared: bool,
    /// Violations found.
    pub violations: u64,
    /// Acknowledged writes lost to a declared data-loss fault.
    pub acknowledged_writes_lost: u64,
    /// The leader-election lease duration: no holder may act longer than this after its last renewal.
    pub lease_duration_ns: u64,
    /// Whether the leader-election settings let a leader act past its lease by design (retry period +
    /// renew deadline > lease duration): such actions are then the settings' hazard, reported on
    /// their own, not a broken model invariant.
    pub lease_overrun_allowed: bool,
}

impl Invariants {
    /// A snapshot restore replaced the cluster: its committed log is now the snapshot's (which may
    /// differ from what this run committed since, when the snapshot predates an earlier restore) and a
    /// new logical cluster starts its own terms; the loss is declared, so missing acknowledged writes
    /// are counted.
    pub fn restored(&mut self, snapshot_terms: CommittedTerms) {
        self.committed = snapshot_terms;
        self.leaders_by_term.clear();
        // A new logical cluster: its terms start again, and what the snapshot holds was committed
        // before any of its leaders.
        self.max_leader_term = 0;
        self.commit_bounds.clear();
        self.data_loss_declared = true;
    }

    /// The committed record of a snapshot at `index` taken now: the record so far, continued with
    /// `term_at` (the snapshot member's log) for entries it committed that nobody applied yet.
    pub fn record_up_to(&self, index: u64, term_at: impl Fn(u64) -> Option<u64>) -> CommittedTerms {
        let mut record = self.committed.prefix(index);
        for i in record.len() + 1..=index {
            record.push(term_at(i).unwrap_or(0));
        }
        record
    }

    /// Checks one observation; returns what it found: violations, and leaders acting past their lease
    /// under settings that allow it.
    pub fn observe(&mut self, now: Nanos, proc: ProcId, obs: Obs, procs: &[Proc]) -> Findings {
        let mut out = Vec::new();
        let mut past_lease = None;
        match obs {
            Obs::BecameLeader { term } => {
                if let Some(other) = self.leaders_by_term.get(&term) {
                    if *other != proc {
                        out.push(format!(
                            "two etcd leaders in term {term}: process {other} and process {proc} (at {})",
                            fmt_duration(now)
                        ));
                    }
                } else {
                    self.leaders_by_term.insert(term, proc);
                }
                self.check_leader_log(now, proc, term, procs, &mut out);
                self.max_leader_term = self.max_leader_term.max(term);
            }
            Obs::Applied { index, term } => {
                if let Some(before) = self.committed.term(index) {
                    if before != term {
                        out.push(format!(
                            "committed entry {index} changed: term {before} applied before, term {term} now on process {proc}",
                        ));
                    }
                } else if index == self.committed.len() + 1 {
                    self.committed.push(term);
                    if self.commit_bounds.last().map_or(0, |r| r.1) != self.max_leader_term {
                        self.commit_bounds.push((index, self.max_leader_term));
                    }
                } else {
                    // Applied beyond what anyone applied before: entries in between are unknown here
                    // only if the applying member skipped them, which the Raft core never does.
                    out.push(format!(
                        "process {proc} applied entry {index} before entry {}",
                        self.committed.len() + 1
                    ));
                }
            }
            Obs::SnapshotApplied { index, term } => {
                // A snapshot holds applied, so committed, entries: its last must be the record's.
                if self.committed.term(index) != Some(term) {
                    out.push(format!(
                        "process {proc} installed a snapshot at entry {index} of term {term}, but the committed entry there is {}",
                        self.committed
                            .term(index)
                            .map_or("not known".to_string(), |t| format!("of term {t}"))
                    ));
                }
            }
            Obs::WriteAcked {
                write_id,
                index,
                term,
            } => {
                self.acked.push((write_id, index, term));
            }
            Obs::LeaderAction {
                lease,
                last_renew_ns,
            } => {
                // client-go gives up leading after RenewDeadline < LeaseDuration without a renewal, so
                // an instance acting past its lease means a candidate may already lead too.
                if self.lease_duration_ns > 0 && now > last_renew_ns + self.lease_duration_ns {
                    let text = format!(
                        "process {proc} acted as leader of lease {lease} {} after its last renewal, past the lease duration",
                        fmt_duration(now - last_renew_ns)
                    );
                    if self.lease_overrun_allowed {
                        past_lease = Some(text);
                    } else {
                        out.push(text);
                    }
                }
            }
            Obs::Truncated { .. } => {}
        }
        self.violations += out.len() as u64;
        Findings {
            violations: out,
            past_lease,
        }
    }

    /// The committed entries a leader of `term` must hold: Raft's leader completeness is about
    /// entries committed in earlier terms. A candidate's vote can arrive late (a lossy link's
    /// retransmissions), so a leader of an old term can be elected after a newer leader committed
    /// entries it never had; it is deposed as soon as it hears of the newer term. The entries
    /// whose commit-term bound is below `term` form a prefix: its length.
    fn required_len(&self, term: u64) -> u64 {
        // The bounds never fall: the runs whose bound is below `term` come first.
        let later = self
            .commit_bounds
            .partition_point(|&(_, bound)| bound < term);
        let first_later = self.commit_bounds.get(later).map_or(u64::MAX, |r| r.0);
        self.committed.len().min(first_later.saturating_sub(1))
    }

    fn check_leader_log(
        &mut self,
        now: Nanos,
        proc: ProcId,
        term: u64,
        procs: &[Proc],
        out: &mut Vec<String>,
    ) {
        let Some(raft) = procs[proc as usize].comp.raft() else {
            return;
        };
        let required = self.required_len(term);
        if !self.data_loss_declared {
            // What the leader compacted it applied (or installed as a snapshot) and the checker
            // compared then, so completeness is checked from its compaction point on.
            let from = raft.first_index().saturating_sub(1).max(1);
            for index in from..=required {
                if raft.log_term(index) != self.committed.term(index) {
                    out.push(format!(
                        "leader completeness: new leader (process {proc}) at {} lacks committed entry {index}",
                        fmt_duration(now)
                    ));
                    break;
                }
            }
        }
        self.check_acked(now, proc, raft, required, out);
    }

    /// Every acknowledged write is in the leader's log; below its compaction point the log is the
    /// committed record.
    fn check_acked(
        &mut self,
        now: Nanos,
        proc: ProcId,
        raft: &crate::components::etcd::raft::Raft,
        required: u64,
        out: &mut Vec<String>,
    ) {
        let compacted = raft.first_index().saturating_sub(1);
        for (write_id, index, term) in &self.acked {
            if *index > required {
                // Perhaps committed in the new leader's term or later (see `required_len`).
                continue;
            }
            let held = if *index < compacted {
                self.committed.term(*index)
            } else {
                raft.log_term(*index)
            };
            if held != Some(*term) {
                if self.data_loss_declared {
                    if self.lost_ids.insert(*write_id) {
                        self.acknowledged_writes_lost += 1;
                    }
                } else {
                    out.push(format!(
                        "acknowledged write {write_id:#x} (entry {index}, term {term}) is missing from the log of new leader process {proc} at {}",
                        fmt_duration(now)
                    ));
                }
            }
        }
    }

    /// The final check: the last leader standing must hold every acknowledged write.
    pub fn finish(&mut self, now: Nanos, procs: &[Proc], trace: &mut Trace) {
        // Only a leader of the latest term holds what was acknowledged: a deposed leader that has
        // not heard of the newer term yet (it stalled in a `pause`, or is cut off without
        // check-quorum) legitimately lacks later writes.
        let latest = procs
            .iter()
            .filter(|p| p.alive)
            .filter_map(|p| p.comp.raft().map(|r| r.term()))
            .max();
        let leader = procs
            .iter()
            .filter(|p| p.running())
            .filter_map(|p| p.comp.raft().map(|r| (r.term(), r.role(), p.id)))
            .filter(|(term, role, _)| {
                *role == crate::components::etcd::types::Role::Leader && Some(*term) == latest
            })
            .max();
        if let Some((_, _, proc)) = leader {
            let mut out = Vec::new();
            // The completeness part was checked at election; only the acknowledged writes here.
            if let Some(raft) = procs[proc as usize].comp.raft() {
                self.check_acked(now, proc, raft, u64::MAX, &mut out);
            }
            self.violations += out.len() as u64;
            for text in out {
                trace.push(now, crate::observe::TraceKind::Violation { text });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies the next `n` entries of `term` as the checker sees them.
    fn apply(inv: &mut Invariants, n: u64, term: u64) {
        for _ in 0..n {
            let index = inv.committed.len() + 1;
            let found = inv.observe(0, 0, Obs::Applied { index, term }, &[]);
            assert!(found.violations.is_empty(), "{:?}", found.violations);
        }
    }

    /// A leader must hold what was committed in earlier terms; what was applied after a leader of
    /// its term or a later one was seen may have been committed in a later term (a late vote made
    /// an old term's leader after a newer leader committed), and is not required of it.
    #[test]
    fn a_leader_is_held_to_the_entries_committed_before_its_term() {
        let mut inv = Invariants {
            max_leader_term: 12,
            ..Invariants::default()
        };
        apply(&mut inv, 10, 12);
        inv.max_leader_term = 14;
        apply(&mut inv, 2, 14);
        assert_eq!(inv.required_len(13), 10);
        assert_eq!(inv.required_len(14), 10);
        assert_eq!(inv.required_len(15), 12);
        assert_eq!(inv.required_len(1), 0);
        // A restore starts a new logical cluster: everything in its snapshot is required.
        inv.restored(inv.committed.prefix(11));
        assert_eq!(inv.required_len(1), 11);
    }
}
