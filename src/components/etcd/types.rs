//! Raft wire and storage types shared by the Raft core, the etcd member and the invariant checker.

/// A Raft member id (1-based, as etcd-io/raft ids are non-zero).
pub type MemberId = u64;

/// What a committed entry asks the key-value store to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryData {
    /// The empty entry a new leader appends to commit entries of earlier terms (Raft section 5.4.2).
    Empty,
    /// A client write: `key` set to `value`; `write_id` identifies the write for the acknowledged-write
    /// checker, and `expected_rev` (if any) makes it a compare-and-swap on the key's mod revision.
    Put {
        key: u64,
        value: u64,
        write_id: u64,
        expected_rev: Option<u64>,
    },
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

/// What survives a crash: the hard state and the log (the WAL). Everything else is volatile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DurableState {
    pub hard: HardState,
    /// Entries from index 1 upwards (`entries[i].index == i + 1`); no compaction is modelled.
    pub entries: Vec<Entry>,
}

impl DurableState {
    /// Applies a persisted batch: entries overwrite from their first index (conflict repair) and the
    /// hard state, if given, replaces the old one.
    pub fn apply(&mut self, hard: Option<HardState>, entries: &[Entry]) {
        if let Some(first) = entries.first() {
            let keep = (first.index - 1) as usize;
            if self.entries.len() > keep {
                self.entries.truncate(keep);
            }
            self.entries.extend_from_slice(entries);
        }
        if let Some(h) = hard {
            self.hard = h;
        }
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
