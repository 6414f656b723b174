//! Raft wire and storage types shared by the Raft core, the etcd member and the invariant checker.

use super::kv::Kv;
use crate::engine::usize_from;
use std::sync::Arc;

/// A Raft member id (1-based, as etcd-io/raft ids are non-zero).
pub type MemberId = u64;

/// What a committed entry asks the key-value store to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryData {
    /// The empty entry a new leader appends to commit entries of earlier terms (Raft section 5.4.2).
    Empty,
    /// A membership change (etcd's `raftpb.ConfChange`), applied when committed.
    ConfChange(ConfChange),
    /// A client write: `key` set to `value`; `write_id` identifies the write for the acknowledged-write
    /// checker, and `expected_rev` (if any) makes it a compare-and-swap on the key's mod revision.
    Put {
        key: u64,
        value: u64,
        write_id: u64,
        expected_rev: Option<u64>,
    },
    /// An `AlarmRequest{Action: ACTIVATE, Alarm: NOSPACE}` from `member`, the member whose database
    /// reached its quota (etcd server/etcdserver/api/v3rpc/quota.go proposes it through Raft); every
    /// member that applies it refuses writes from then on.
    Alarm { member: MemberId },
    /// An `AlarmRequest{Action: DEACTIVATE, Alarm: NOSPACE}` for `member`'s alarm (`etcdctl alarm
    /// disarm`); once no member's alarm is left, every member applies writes again.
    Disarm { member: MemberId },
}

/// A membership change, one at a time (etcd `etcdctl member add --learner` / `promote` / `remove`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfChange {
    /// A new member joins as a learner; `proc` is where its peer URL points.
    AddLearner { id: MemberId, proc: u16 },
    /// A learner becomes a voter.
    Promote { id: MemberId },
    /// A member leaves.
    Remove { id: MemberId },
}

/// A log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub term: u64,
    pub index: u64,
    pub data: EntryData,
}

/// Raft message types, as etcd-io/raft names them (MsgApp, MsgAppResp, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MsgType {
    App,
    AppResp,
    Vote,
    VoteResp,
    PreVote,
    PreVoteResp,
    Heartbeat,
    HeartbeatResp,
    /// A follower forwards a linearizable read to the leader.
    ReadIndex,
    /// The leader answers a forwarded read with the index to wait for.
    ReadIndexResp,
    /// Leadership transfer: the leader tells an up-to-date follower to campaign at once (etcd's
    /// MsgTimeoutNow, sent when a stopping leader hands over).
    TimeoutNow,
    /// The leader sends its latest snapshot to a follower that needs entries it has compacted
    /// (etcd-io/raft MsgSnap).
    Snap,
}

/// The `context` of a MsgVote sent after MsgTimeoutNow: voters grant it even while they still hear
/// from the old leader (etcd-io/raft's campaignTransfer).
pub const CAMPAIGN_TRANSFER: u64 = u64::MAX;

/// A Raft message between members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftMsg {
    pub kind: MsgType,
    pub from: MemberId,
    pub to: MemberId,
    pub term: u64,
    /// MsgApp: term of the entry at `index`; MsgVote/PreVote: candidate's last log term.
    pub log_term: u64,
    /// MsgApp: index preceding `entries`; MsgAppResp: the follower's match (or rejected index);
    /// MsgVote/PreVote: candidate's last log index; ReadIndexResp: the read index.
    pub index: u64,
    pub entries: Vec<Entry>,
    /// Leader's commit index (MsgApp, MsgHeartbeat).
    pub commit: u64,
    /// MsgAppResp/MsgVoteResp/MsgPreVoteResp: rejection.
    pub reject: bool,
    /// MsgAppResp rejection hint: the follower's last index.
    pub reject_hint: u64,
    /// Read-index request context (MsgHeartbeat carries it for read-index confirmation, as etcd does).
    pub context: u64,
    /// MsgSnap: the snapshot (boxed: every other message leaves it out).
    pub snapshot: Option<Box<Snapshot>>,
}

impl RaftMsg {
    /// A message with every optional field empty.
    pub fn new(kind: MsgType, from: MemberId, to: MemberId, term: u64) -> RaftMsg {
        RaftMsg {
            kind,
            from,
            to,
            term,
            log_term: 0,
            index: 0,
            entries: Vec::new(),
            commit: 0,
            reject: false,
            reject_hint: 0,
            context: 0,
            snapshot: None,
        }
    }
}

/// The durable part of a member's Raft state (etcd's HardState).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: u64,
    pub vote: MemberId,
    pub commit: u64,
}

/// A snapshot: the store with every entry up to `index` applied, and the term of that entry (etcd's
/// raftpb.Snapshot together with the backend database it stands for). Index 0 is "no snapshot".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub index: u64,
    pub term: u64,
    /// The store at `index`. Shared: the same snapshot sits in storage, on disk and in flight.
    pub data: Arc<Kv>,
}

/// What survives a crash: the hard state, the latest snapshot and the log after its compaction point
/// (the WAL and the snap files). Everything else is volatile.
///
/// While a member runs, its Raft core holds this as its storage (etcd's `MemoryStorage`, which holds
/// exactly what the WAL holds): the one copy of the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurableState {
    pub hard: HardState,
    /// The latest snapshot (index 0: none yet).
    pub snapshot: Snapshot,
    /// Index and term of the last compacted entry: `entries` start right after it ((0, 0) for a log
    /// that starts at index 1). etcd's MemoryStorage keeps it as the dummy entry `ents[0]`.
    pub compacted: (u64, u64),
    /// The entries after the compaction point, contiguous.
    pub entries: Vec<Entry>,
}

impl DurableState {
    /// Index of the last entry (the compaction point when there is none).
    pub fn last_index(&self) -> u64 {
        self.compacted.0 + self.entries.len() as u64
    }

    /// Term of the entry at `index`: the compaction point's term there, `None` below it (compacted)
    /// and past the end.
    pub fn term(&self, index: u64) -> Option<u64> {
        if index == self.compacted.0 {
            return Some(self.compacted.1);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The entry at `index`, if it is held (not compacted, not past the end).
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let first = self.compacted.0 + 1;
        if index < first {
            return None;
        }
        self.entries.get(usize_from(index - first))
    }

    /// Applies a persisted batch: entries overwrite from their first index (conflict repair) and the
    /// hard state, if given, replaces the old one.
    pub fn apply(&mut self, hard: Option<HardState>, entries: &[Entry]) {
        self.append(entries.first().map(|e| e.index), entries.iter().cloned());
        if let Some(h) = hard {
            self.hard = h;
        }
    }

    /// [`DurableState::apply`] taking the entries by value (no copy).
    pub fn apply_owned(&mut self, hard: Option<HardState>, entries: Vec<Entry>) {
        self.append(entries.first().map(|e| e.index), entries);
        if let Some(h) = hard {
            self.hard = h;
        }
    }

    fn append(&mut self, first: Option<u64>, entries: impl IntoIterator<Item = Entry>) {
        let Some(first) = first else { return };
        // Committed entries are never rewritten, and compaction stays below the commit index.
        assert!(
            first > self.compacted.0,
            "append at {first} at or below the compaction point {}",
            self.compacted.0
        );
        let keep = usize_from(first - self.compacted.0 - 1);
        if self.entries.len() > keep {
            self.entries.truncate(keep);
        }
        self.entries.extend(entries);
        debug_assert_eq!(
            self.entries.last().map(|e| e.index),
            Some(self.last_index()),
            "durable log not contiguous"
        );
    }

    /// Installs a snapshot received from the leader: it replaces the whole log (etcd's
    /// `MemoryStorage.ApplySnapshot`).
    pub fn apply_snapshot(&mut self, s: Snapshot) {
        self.compacted = (s.index, s.term);
        self.entries.clear();
        self.snapshot = s;
    }

    /// Drops the entries up to `index` (etcd's `MemoryStorage.Compact`); a point outside the held
    /// entries is clamped.
    pub fn compact(&mut self, index: u64) {
        let index = index.min(self.last_index());
        if index <= self.compacted.0 {
            return;
        }
        let term = self.term(index).unwrap_or(0);
        self.entries.drain(..usize_from(index - self.compacted.0));
        self.compacted = (index, term);
    }

    /// What a restart finds: the snapshot and the WAL's entries after it (etcd replays only the WAL
    /// records after the snapshot it loaded, so the catch-up entries kept in memory before it are
    /// gone).
    pub fn restart_image(mut self) -> DurableState {
        if self.snapshot.index > self.compacted.0 && self.snapshot.index <= self.last_index() {
            self.compact(self.snapshot.index);
        }
        self
    }
}

/// The role of a member: part of the trace's vocabulary, so it is declared there.
pub use crate::observe::trace::Role;

/// A linearizable read that may now be served once the member has applied up to `index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadState {
    pub context: u64,
    pub index: u64,
}
