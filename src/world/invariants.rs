//! Invariants checked while the model runs: at most one etcd leader per term, committed entries never
//! change, every acknowledged write is in every later leader's log (unless a declared data-loss fault
//! explains its loss, which is then counted), and leader completeness for committed entries.

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

/// The checker's bookkeeping.
#[derive(Default)]
pub struct Invariants {
    leaders_by_term: BTreeMap<u64, ProcId>,
    /// Term of the committed entry at each index (index 1 at position 0).
    committed: Vec<u64>,
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
    pub fn restored(&mut self, snapshot_terms: impl Iterator<Item = u64>) {
        self.committed.clear();
        self.committed.extend(snapshot_terms);
        self.leaders_by_term.clear();
        self.data_loss_declared = true;
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
                self.check_leader_log(now, proc, procs, &mut out);
            }
            Obs::Applied { index, term } => {
                let i = (index - 1) as usize;
                if i < self.committed.len() {
                    if self.committed[i] != term {
                        out.push(format!(
                            "committed entry {index} changed: term {} applied before, term {term} now on process {proc}",
                            self.committed[i]
                        ));
                    }
                } else if i == self.committed.len() {
                    self.committed.push(term);
                } else {
                    // Applied beyond what anyone applied before: entries in between are unknown here
                    // only if the applying member skipped them, which the Raft core never does.
                    out.push(format!(
                        "process {proc} applied entry {index} before entry {}",
                        self.committed.len() + 1
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

    fn check_leader_log(
        &mut self,
        now: Nanos,
        proc: ProcId,
        procs: &[Proc],
        out: &mut Vec<String>,
    ) {
        let Some(raft) = procs[proc as usize].comp.raft() else {
            return;
        };
        for (i, term) in self.committed.iter().enumerate() {
            let index = i as u64 + 1;
            if raft.entry(index).map(|e| e.term) != Some(*term) && !self.data_loss_declared {
                out.push(format!(
                    "leader completeness: new leader (process {proc}) at {} lacks committed entry {index}",
                    fmt_duration(now)
                ));
                break;
            }
        }
        for (write_id, index, term) in &self.acked {
            if raft.entry(*index).map(|e| e.term) != Some(*term) {
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
        let leader = procs
            .iter()
            .filter(|p| p.alive)
            .filter_map(|p| p.comp.raft().map(|r| (r.term(), r.role(), p.id)))
            .filter(|(_, role, _)| *role == crate::components::etcd::types::Role::Leader)
            .max();
        if let Some((_, _, proc)) = leader {
            let mut out = Vec::new();
            // The completeness part was checked at election; only the acknowledged writes here.
            let saved = std::mem::take(&mut self.committed);
            self.check_leader_log(now, proc, procs, &mut out);
            self.committed = saved;
            self.violations += out.len() as u64;
            for text in out {
                trace.push(now, crate::observe::TraceKind::Violation { text });
            }
        }
    }
}
