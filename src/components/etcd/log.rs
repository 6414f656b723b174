//! The Raft log as etcd-io/raft keeps it (`log.go`, `log_unstable.go`): the caller's storage (what it
//! made durable and handed back; etcd's `MemoryStorage`) overlaid by the entries that are not durable
//! yet (`unstable`) and by a snapshot received from the leader that is not durable yet.
//!
//! The storage is the one copy of the durable log: a caller that hands its writes back (as the etcd
//! member does) keeps no second copy, and after a crash the storage is exactly what was on disk.

use super::types::{DurableState, Entry, Snapshot};
use crate::engine::usize_from;

/// A member's log: storage, then the unstable entries, which win where the two overlap.
#[derive(Clone, Debug)]
pub struct RaftLog {
    storage: DurableState,
    /// Index of `unstable[0]`, or where the next unstable entry goes when there is none.
    offset: u64,
    unstable: Vec<Entry>,
    /// A snapshot received from the leader and not yet durable: it replaces everything up to its
    /// index (etcd's `unstable.snapshot`).
    pending_snapshot: Option<Snapshot>,
}

impl RaftLog {
    /// A log whose storage is `storage` (what a restarted member finds on disk).
    pub fn new(storage: DurableState) -> RaftLog {
        let offset = storage.last_index() + 1;
        RaftLog {
            storage,
            offset,
            unstable: Vec::new(),
            pending_snapshot: None,
        }
    }

    /// The durable part.
    pub fn storage(&self) -> &DurableState {
        &self.storage
    }

    /// The durable part, to record a write the caller made durable.
    pub fn storage_mut(&mut self) -> &mut DurableState {
        &mut self.storage
    }

    /// The durable part alone (a crash loses the rest).
    pub fn into_storage(self) -> DurableState {
        self.storage
    }

    /// The first index still held: one past the compaction point or the pending snapshot.
    pub fn first_index(&self) -> u64 {
        match &self.pending_snapshot {
            Some(s) => s.index + 1,
            None => self.storage.compacted.0 + 1,
        }
    }

    /// The last index (the snapshot's or the compaction point's when no entry follows it).
    pub fn last_index(&self) -> u64 {
        if let Some(e) = self.unstable.last() {
            return e.index;
        }
        match &self.pending_snapshot {
            Some(s) => s.index,
            None => self.storage.last_index(),
        }
    }

    /// The term at `index`: known for held entries and for the entry just before the first one
    /// (the compaction point or snapshot); `None` below it (compacted) and past the end.
    pub fn term(&self, index: u64) -> Option<u64> {
        if index >= self.offset {
            return self
                .unstable
                .get(usize_from(index - self.offset))
                .map(|e| e.term);
        }
        match &self.pending_snapshot {
            Some(s) => (index == s.index).then_some(s.term),
            None => self.storage.term(index),
        }
    }

    /// The entry at `index`, if held.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        if index >= self.offset {
            return self.unstable.get(usize_from(index - self.offset));
        }
        match &self.pending_snapshot {
            Some(_) => None,
            None => self.storage.entry(index),
        }
    }

    /// The entries `lo..=hi`, which must all be held.
    pub fn slice(&self, lo: u64, hi: u64) -> Vec<Entry> {
        if lo > hi {
            return Vec::new();
        }
        debug_assert!(
            lo >= self.first_index() && hi <= self.last_index(),
            "slice {lo}..={hi} outside the log {}..={}",
            self.first_index(),
            self.last_index()
        );
        let mut out = Vec::with_capacity(usize_from(hi - lo + 1));
        let stored_hi = hi.min(self.offset.saturating_sub(1));
        if lo <= stored_hi && self.pending_snapshot.is_none() {
            let first = self.storage.compacted.0 + 1;
            out.extend_from_slice(
                &self.storage.entries[usize_from(lo - first)..=usize_from(stored_hi - first)],
            );
        }
        if hi >= self.offset {
            let from = lo.max(self.offset);
            out.extend_from_slice(
                &self.unstable[usize_from(from - self.offset)..=usize_from(hi - self.offset)],
            );
        }
        out
    }

    /// Appends one entry at the end.
    pub fn append(&mut self, e: Entry) {
        debug_assert_eq!(e.index, self.last_index() + 1, "append not at the end");
        if self.unstable.is_empty() {
            self.offset = e.index;
        }
        self.unstable.push(e);
    }

    /// Appends `entries`, replacing everything from their first index on (conflict repair; etcd's
    /// `unstable.truncateAndAppend`). Entries in storage at and after that index stay there until
    /// the caller's write of the new ones replaces them, but the log no longer shows them.
    pub fn truncate_and_append(&mut self, entries: Vec<Entry>) {
        let Some(from) = entries.first().map(|e| e.index) else {
            return;
        };
        debug_assert!(
            from >= self.first_index() && from <= self.last_index() + 1,
            "append at {from} outside the log"
        );
        let end = self.offset + self.unstable.len() as u64;
        if from == end {
            self.unstable.extend(entries);
        } else if from <= self.offset {
            self.offset = from;
            self.unstable = entries;
        } else {
            self.unstable.truncate(usize_from(from - self.offset));
            self.unstable.extend(entries);
        }
    }

    /// The entries up to `index` (of `term`) are in storage now: they leave the unstable part (etcd's
    /// `stableTo`). Nothing happens when the log has changed there since.
    pub fn stable_to(&mut self, index: u64, term: u64) {
        if index < self.offset || self.term(index) != Some(term) {
            return;
        }
        let n = usize_from(index - self.offset + 1).min(self.unstable.len());
        self.unstable.drain(..n);
        self.offset = index + 1;
    }

    /// A snapshot from the leader replaces the log (etcd's `raftLog.restore`).
    pub fn restore(&mut self, s: Snapshot) {
        self.offset = s.index + 1;
        self.unstable.clear();
        self.pending_snapshot = Some(s);
    }

    /// The snapshot not yet durable, if any.
    pub fn pending_snapshot(&self) -> Option<&Snapshot> {
        self.pending_snapshot.as_ref()
    }

    /// The snapshot at `index` is in storage now.
    pub fn stable_snapshot_to(&mut self, index: u64) {
        if self.pending_snapshot.as_ref().map(|s| s.index) == Some(index) {
            self.pending_snapshot = None;
        }
    }

    /// The latest snapshot (pending or stored), if there is one.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.pending_snapshot
            .as_ref()
            .or((self.storage.snapshot.index > 0).then_some(&self.storage.snapshot))
    }

    /// Drops stored entries up to `index` (never unstable ones).
    pub fn compact(&mut self, index: u64) {
        if self.pending_snapshot.is_none() {
            self.storage.compact(index.min(self.offset - 1));
        }
    }

    /// How many entries are held in memory (storage and unstable, counting an overlap once per copy).
    pub fn held(&self) -> usize {
        self.storage.entries.len() + self.unstable.len()
    }
}
