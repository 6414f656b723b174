//! The Raft consensus core, modelled on etcd-io/raft (`raft.go`, `tracker/progress.go`,
//! `read_only.go`) as etcd configures it: pre-vote, check-quorum, `ReadOnlySafe` read index.
//!
//! [`Raft`] is a pure state machine: no IO and no clock. The caller drives it with [`Raft::tick`]
//! (one logical tick, 100 ms in etcd) and [`Raft::step`] (one received message), and collects the
//! results with [`Raft::ready`]. The caller's contract is etcd's synchronous `Ready` contract:
//!
//! 1. persist `Ready::snapshot`, `Ready::entries` and `Ready::hard_state` (in that order, see
//!    [`DurableState::apply`]),
//! 2. then send `Ready::messages` (a leader may send its `MsgApp`s before its own write finishes,
//!    as etcd does, because it only counts itself in the commit quorum after [`Raft::persisted`];
//!    every other message — votes, append acknowledgements — must wait for the write),
//! 3. apply `Ready::snapshot` (it replaces the store) and then `Ready::committed`, serve
//!    `Ready::read_states` once applied up to their index,
//! 4. once the write is durable, hand it back with [`Raft::persisted_write`]: Raft keeps it as its
//!    storage (etcd's `MemoryStorage`), the one in-memory copy of the log. A caller that keeps its
//!    own copy of the disk may instead call [`Raft::persisted`] with the last persisted entry; Raft
//!    then keeps every entry in its unstable part.
//!
//! Snapshots and compaction are the caller's (etcd's server): [`Raft::create_snapshot`] records a
//! snapshot of the applied state and [`Raft::compact`] drops stored entries up to an index. A
//! follower whose next entry was compacted gets the latest snapshot (`MsgSnap`); the caller reports
//! the end of its transfer with [`Raft::report_snapshot`].
//!
//! Everything is deterministic: the only randomness is the election-timeout draw from the
//! caller-supplied [`Rng`], and peers are always visited in ascending id order.

use crate::engine::usize_from;
use std::collections::VecDeque;

use rand::Rng as _;

use super::log::RaftLog;
use super::types::{
    DurableState, Entry, EntryData, HardState, MemberId, MsgType, RaftMsg, ReadState, Role,
    Snapshot, CAMPAIGN_TRANSFER,
};
use crate::engine::rng::Rng;

/// etcd's election timeout in ticks (1000 ms at etcd's 100 ms tick).
pub const ETCD_ELECTION_TICK: u32 = 10;
/// etcd's heartbeat interval in ticks (100 ms).
pub const ETCD_HEARTBEAT_TICK: u32 = 1;
/// Cap on in-flight `MsgApp`s per follower in replicate state: etcd server's `maxInflightMsgs`
/// (4096 / 8). Not configurable here because it only bounds a burst; it never changes safety.
const MAX_INFLIGHT_MSGS: usize = 512;

/// "No member": etcd-io/raft's `None` (ids are non-zero).
const NONE: MemberId = 0;

/// Static configuration of one Raft member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This member's id (non-zero).
    pub id: MemberId,
    /// All voters, including `id`. A member not in this list never campaigns.
    pub peers: Vec<MemberId>,
    /// Election timeout in ticks; the effective timeout is drawn uniformly from
    /// `[election_tick, 2 * election_tick - 1]` on every reset. Must exceed `heartbeat_tick`.
    pub election_tick: u32,
    /// Leader heartbeat interval in ticks (at least 1).
    pub heartbeat_tick: u32,
    /// Pre-vote (Raft thesis 9.6): campaign for `term + 1` without bumping the term first.
    pub pre_vote: bool,
    /// Check-quorum (thesis 6.2): a leader that has not heard from a quorum within an election
    /// timeout steps down, and followers ignore vote requests while their leader lease holds.
    pub check_quorum: bool,
    /// Maximum number of entries per `MsgApp` (etcd caps by bytes; 0 is treated as 1).
    pub max_msg_entries: usize,
}

impl Config {
    /// etcd's defaults: election 10 ticks, heartbeat 1 tick, pre-vote and check-quorum on.
    pub fn etcd(id: MemberId, peers: Vec<MemberId>) -> Config {
        Config {
            id,
            peers,
            election_tick: ETCD_ELECTION_TICK,
            heartbeat_tick: ETCD_HEARTBEAT_TICK,
            pre_vote: true,
            check_quorum: true,
            // etcd's MaxSizePerMsg is 1 MiB; with ~1 KiB entries that is about a thousand.
            max_msg_entries: 1024,
        }
    }
}

/// What accumulated since the last [`Raft::ready`]: see the module docs for the order in which
/// the caller must handle the fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    /// Messages to send.
    pub messages: Vec<RaftMsg>,
    /// A snapshot received from the leader: persist it before the entries (it replaces the log) and
    /// apply it before the committed entries (it replaces the store).
    pub snapshot: Option<Snapshot>,
    /// Appended or overwritten entries to persist, in index order. After conflict repair this may
    /// start below the previously persisted last index; everything from its first index on
    /// replaces the stored log (as [`DurableState::apply`] does).
    pub entries: Vec<Entry>,
    /// The hard state to persist, when it changed since the last ready.
    pub hard_state: Option<HardState>,
    /// Whether the write must be fsynced before the messages that depend on it go out: entries, a
    /// snapshot, or a new term or vote (etcd-io/raft `MustSync`; etcd's `wal.Save` syncs only then).
    /// A commit index alone is written without a sync: losing it loses nothing Raft needs.
    pub must_sync: bool,
    /// Newly committed entries to apply, in order, each exactly once.
    pub committed: Vec<Entry>,
    /// Linearizable reads that may be served once applied up to their index.
    pub read_states: Vec<ReadState>,
    /// Read contexts that cannot be served: no leader was known, or the leader holding them lost
    /// its leadership. (Reads forwarded to a leader that then fails are lost silently, as in
    /// etcd; the caller retries on a timeout like etcd's `linearizableReadLoop`.)
    pub dropped_reads: Vec<u64>,
}

/// Replication state of a follower as the leader sees it (etcd's `StateProbe`/`StateReplicate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProgressState {
    /// Next index unknown: at most one non-empty `MsgApp` in flight until the follower answers.
    Probe,
    /// Follower is known to match: stream entries optimistically, bounded by the in-flight cap.
    Replicate,
    /// A snapshot is on its way to the follower: nothing more is sent until it answers or the
    /// transfer is reported (etcd's `StateSnapshot`).
    Snapshot,
}

/// The leader's view of one voter (etcd's `tracker.Progress`); also holds the vote tally.
#[derive(Clone, Debug)]
struct Progress {
    id: MemberId,
    /// Highest index known to be replicated (for the leader itself: persisted).
    matched: u64,
    /// Next index to send.
    next: u64,
    state: ProgressState,
    /// Probe state: a non-empty probe is outstanding, so further sends wait.
    probe_sent: bool,
    /// Replicate state: last index of each in-flight `MsgApp`, oldest first.
    inflight: VecDeque<u64>,
    /// Heard from since the last check-quorum.
    recent_active: bool,
    /// Highest commit index already sent, capped at `next - 1` (etcd's `pendingCommit`); used to
    /// avoid redundant empty appends that only carry the commit index.
    pending_commit: u64,
    /// Vote received in the current (pre-)election.
    vote: Option<bool>,
    /// Snapshot state: the index of the snapshot sent (0: its transfer failed).
    pending_snapshot: u64,
    /// A learner (etcd v3.4+): replicated to, but neither votes nor counts towards any quorum.
    learner: bool,
    /// Lazy heartbeats (the engine's shortcut, not etcd's): the follower is caught up, so its empty
    /// heartbeats are not sent but stand for themselves in the world's quiet stream (see
    /// [`Raft::set_quiet_allowed`]). Counts as active for check-quorum.
    quiet: bool,
}

impl Progress {
    fn new(id: MemberId, next: u64) -> Progress {
        Progress {
            id,
            matched: 0,
            next,
            state: ProgressState::Probe,
            probe_sent: false,
            inflight: VecDeque::new(),
            recent_active: false,
            pending_commit: 0,
            vote: None,
            pending_snapshot: 0,
            learner: false,
            quiet: false,
        }
    }

    /// Back to the fresh state of etcd's `reset()`, keeping the in-flight buffer's allocation.
    fn reset(&mut self, next: u64) {
        self.matched = 0;
        self.next = next;
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflight.clear();
        self.recent_active = false;
        self.pending_commit = 0;
        self.vote = None;
        self.pending_snapshot = 0;
    }

    /// Back to probing; after a snapshot from just past it (etcd-io/raft `BecomeProbe`).
    fn become_probe(&mut self) {
        self.next = match self.state {
            ProgressState::Snapshot => (self.matched + 1).max(self.pending_snapshot + 1),
            ProgressState::Probe | ProgressState::Replicate => self.matched + 1,
        };
        self.state = ProgressState::Probe;
        self.probe_sent = false;
        self.inflight.clear();
        self.pending_snapshot = 0;
        self.pending_commit = self.pending_commit.min(self.next - 1);
    }

    /// A snapshot at `index` is sent (etcd-io/raft `BecomeSnapshot`).
    fn become_snapshot(&mut self, index: u64) {
        self.state = ProgressState::Snapshot;
        self.probe_sent = false;
        self.inflight.clear();
        self.pending_snapshot = index;
        self.next = index + 1;
        self.pending_commit = self.pending_commit.min(self.matched);
    }

    fn become_replicate(&mut self) {
        self.state = ProgressState::Replicate;
        self.probe_sent = false;
        self.inflight.clear();
        self.next = self.matched + 1;
        self.pending_snapshot = 0;
        self.pending_commit = self.pending_commit.min(self.matched);
    }

    fn is_paused(&self) -> bool {
        match self.state {
            ProgressState::Probe => self.probe_sent,
            ProgressState::Replicate => self.inflight.len() >= MAX_INFLIGHT_MSGS,
            ProgressState::Snapshot => true,
        }
    }

    /// A positive acknowledgement of `n`; false if it is stale.
    fn maybe_update(&mut self, n: u64) -> bool {
        if n <= self.matched {
            return false;
        }
        self.matched = n;
        self.next = self.next.max(n + 1);
        self.probe_sent = false;
        true
    }

    /// A rejection of the append after `rejected`, with the follower's hint; false if stale.
    fn maybe_decr_to(&mut self, rejected: u64, match_hint: u64) -> bool {
        if self.state == ProgressState::Replicate {
            // In replicate state a rejection at or below match is a reordered old message.
            if rejected <= self.matched {
                return false;
            }
            self.next = self.matched + 1;
            self.pending_commit = self.pending_commit.min(self.matched);
            return true;
        }
        // Probes go out one at a time, so only a rejection of the latest probe is current.
        if self.next - 1 != rejected {
            return false;
        }
        self.next = rejected.min(match_hint + 1).max(self.matched + 1);
        self.pending_commit = self.pending_commit.min(self.next - 1);
        self.probe_sent = false;
        true
    }

    /// Records that entries up to `last_sent` (`n` of them) went out in a `MsgApp`.
    fn sent_entries(&mut self, n: usize, last_sent: u64) {
        if n == 0 {
            return;
        }
        match self.state {
            ProgressState::Replicate => {
                self.next = last_sent + 1;
                self.inflight.push_back(last_sent);
            }
            ProgressState::Probe => self.probe_sent = true,
            // Paused: nothing is sent in this state.
            ProgressState::Snapshot => {}
        }
    }

    fn sent_commit(&mut self, commit: u64) {
        self.pending_commit = self.pending_commit.max(commit).min(self.next - 1);
    }

    /// Sending `commit` could advance the follower's commit index.
    fn can_bump_commit(&self, commit: u64) -> bool {
        self.pending_commit < commit.min(self.next - 1)
    }

    fn free_le(&mut self, index: u64) {
        while self.inflight.front().is_some_and(|&i| i <= index) {
            self.inflight.pop_front();
        }
    }
}

/// Outcome of a vote tally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum VoteResult {
    Pending,
    Won,
    Lost,
}

/// A `ReadOnlySafe` read waiting for a quorum of heartbeat acknowledgements.
#[derive(Clone, Debug)]
struct PendingRead {
    /// Internal id carried in the heartbeat's `context` (not the caller's context, so that
    /// callers and different followers need not coordinate unique contexts).
    seq: u64,
    /// Commit index when the read arrived: the index the read must wait for.
    index: u64,
    /// Who asked (this member or a follower that forwarded it).
    from: MemberId,
    /// The caller's read context.
    context: u64,
    /// Acknowledgements, one bit per position in the sorted voter list.
    acks: u64,
}

/// The Raft state machine of one member. See the module docs.
#[derive(Clone, Debug)]
pub struct Raft {
    id: MemberId,
    election_tick: u32,
    heartbeat_tick: u32,
    pre_vote: bool,
    check_quorum: bool,
    max_msg_entries: usize,
    rng: Rng,

    term: u64,
    vote: MemberId,
    lead: MemberId,
    role: Role,

    /// The log: storage (durable, handed back by the caller) and the entries not yet durable.
    log: RaftLog,
    /// A snapshot received from the leader waits to be handed out in the next ready.
    snapshot_unsent: bool,
    commit: u64,
    /// Highest index handed out in `Ready::committed` (or applied by the caller before `new`).
    applied: u64,
    /// Highest index known durable with the same contents as `log` (etcd's stable index).
    stable: u64,
    /// Lowest index changed since the last ready (`None`: nothing to persist).
    unstable_from: Option<u64>,
    /// Hard state as of the last ready, to detect changes.
    prev_hard: HardState,

    election_elapsed: u32,
    heartbeat_elapsed: u32,
    randomized_election_timeout: u32,

    /// One entry per voter, sorted by id.
    prs: Vec<Progress>,
    /// Position of this member in `prs`, if it is a voter.
    self_pos: Option<usize>,

    msgs: Vec<RaftMsg>,
    read_states: Vec<ReadState>,
    dropped_reads: Vec<u64>,
    /// Leader: reads waiting for their heartbeat quorum, in arrival order.
    read_queue: VecDeque<PendingRead>,
    /// Leader: reads that arrived before an entry of this term committed, as (from, context).
    postponed_reads: Vec<(MemberId, u64)>,
    next_read_seq: u64,
    /// Leader: the member leadership is being handed to (`NONE`: no transfer), etcd-io/raft's
    /// `leadTransferee`.
    lead_transferee: MemberId,
    /// Reused buffer for the commit computation.
    scratch: Vec<u64>,
    /// Leader: caught-up followers may stop getting empty heartbeats (the world's quiet streams).
    quiet_allowed: bool,
    /// Followers whose quiet stream started (true) or ended (false) since the caller last took them.
    quiet_changes: Vec<(MemberId, bool)>,
    /// How many followers are quiet now.
    quiet_count: u32,
}

impl Raft {
    /// Restarts (or starts) a member from its durable state: a follower of term
    /// `durable.hard.term` with vote `durable.hard.vote`, log `durable.entries`, and commit
    /// `durable.hard.commit`. Entries up to that commit count as applied: the caller replays them.
    ///
    /// # Panics
    ///
    /// On an invalid configuration (zero id, `heartbeat_tick` 0, `election_tick` not above
    /// `heartbeat_tick`, more than 64 voters) or a durable log that is not contiguous from 1.
    pub fn new(cfg: Config, durable: &DurableState, rng: Rng) -> Raft {
        Raft::restart(cfg, durable.clone(), rng)
    }

    /// [`Raft::new`] taking the durable state by value: it becomes the log's storage, uncopied.
    ///
    /// # Panics
    ///
    /// As [`Raft::new`].
    pub fn restart(cfg: Config, durable: DurableState, rng: Rng) -> Raft {
        assert!(cfg.id != NONE, "raft: member id must be non-zero");
        assert!(
            cfg.heartbeat_tick >= 1,
            "raft: heartbeat tick must be at least 1"
        );
        assert!(
            cfg.election_tick > cfg.heartbeat_tick,
            "raft: election tick must be greater than heartbeat tick"
        );
        let mut peers = cfg.peers.clone();
        peers.sort_unstable();
        peers.dedup();
        assert!(!peers.contains(&NONE), "raft: peer ids must be non-zero");
        assert!(
            peers.len() <= 64,
            "raft: at most 64 voters (read acks are a bit set)"
        );
        for (i, e) in durable.entries.iter().enumerate() {
            assert_eq!(
                e.index,
                durable.compacted.0 + i as u64 + 1,
                "raft: durable log must be contiguous from its compaction point"
            );
        }
        let last = durable.last_index();
        // A hard state whose commit runs past the log cannot be honoured; the caller replays only
        // what it has, so clamp rather than claim entries that do not exist. Compacted entries were
        // applied, so committed, even if the hard state written with them lags.
        let commit = durable.hard.commit.max(durable.compacted.0).min(last);
        let (term, vote, prev_hard) = (durable.hard.term, durable.hard.vote, durable.hard);
        let self_pos = peers.iter().position(|&p| p == cfg.id);
        let prs = peers.iter().map(|&p| Progress::new(p, last + 1)).collect();
        let mut r = Raft {
            id: cfg.id,
            election_tick: cfg.election_tick,
            heartbeat_tick: cfg.heartbeat_tick,
            pre_vote: cfg.pre_vote,
            check_quorum: cfg.check_quorum,
            max_msg_entries: cfg.max_msg_entries.max(1),
            rng,
            term,
            vote,
            lead: NONE,
            role: Role::Follower,
            log: RaftLog::new(durable),
            snapshot_unsent: false,
            commit,
            applied: commit,
            stable: last,
            unstable_from: None,
            prev_hard,
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            randomized_election_timeout: cfg.election_tick,
            prs,
            self_pos,
            msgs: Vec::new(),
            read_states: Vec::new(),
            dropped_reads: Vec::new(),
            lead_transferee: NONE,
            read_queue: VecDeque::new(),
            postponed_reads: Vec::new(),
            next_read_seq: 1,
            scratch: Vec::new(),
            quiet_allowed: false,
            quiet_changes: Vec::new(),
            quiet_count: 0,
        };
        // Same term, so the persisted vote survives the reset.
        r.become_follower(r.term, NONE);
        r
    }

    // ----------------------------------------------------------------------------------------
    // Public driving API.

    /// Advances the logical clock by one tick: followers and candidates may campaign, a leader
    /// may send heartbeats and check its quorum.
    pub fn tick(&mut self) {
        if self.role == Role::Leader {
            self.tick_heartbeat();
        } else {
            self.tick_election();
        }
    }

    /// Starts an election now, as if the election timeout had elapsed (etcd's `MsgHup`): a
    /// pre-election when pre-vote is on. Ignored by a leader and by a non-voter.
    pub fn campaign(&mut self) {
        self.hup();
    }

    /// Handles one message received from a peer.
    pub fn step(&mut self, m: RaftMsg) {
        if m.to != self.id || m.from == self.id {
            return;
        }
        if m.term == 0 {
            // Only a forwarded read is term-less (etcd treats it as a local message); any other
            // term-0 message is malformed.
            if m.kind != MsgType::ReadIndex {
                return;
            }
        } else if m.term > self.term {
            let transfer = m.kind == MsgType::Vote && m.context == CAMPAIGN_TRANSFER;
            if matches!(m.kind, MsgType::Vote | MsgType::PreVote) && self.in_lease() && !transfer {
                // Thesis 6.2 / 4.2.3: within the minimum election timeout of hearing from a
                // current leader, neither update the term nor grant the vote.
                return;
            }
            match m.kind {
                // Never change the term for a pre-vote: the candidate has not bumped its own.
                MsgType::PreVote => {}
                // A granted pre-vote carries the pre-candidate's future term; the term moves only
                // when the real election starts. A rejection's term is the voter's real term.
                MsgType::PreVoteResp if !m.reject => {}
                MsgType::App | MsgType::Heartbeat | MsgType::Snap => {
                    self.become_follower(m.term, m.from)
                }
                // Anything else from a higher term: follow, with the leader still unknown.
                MsgType::AppResp
                | MsgType::Vote
                | MsgType::VoteResp
                | MsgType::PreVoteResp
                | MsgType::HeartbeatResp
                | MsgType::ReadIndex
                | MsgType::ReadIndexResp
                | MsgType::TimeoutNow => self.become_follower(m.term, NONE),
            }
        } else if m.term < self.term {
            if (self.check_quorum || self.pre_vote)
                && matches!(m.kind, MsgType::Heartbeat | MsgType::App)
            {
                // A stale leader. With check-quorum we do not bump terms on votes, and with
                // pre-vote a partitioned node never bumps its term in the first place, so the
                // stale leader must learn the new term from this reply (etcd raft.go).
                self.send(RaftMsg::new(MsgType::AppResp, self.id, m.from, self.term));
            } else if m.kind == MsgType::PreVote {
                // Reject explicitly so a pre-candidate with a stale term is not left waiting.
                let mut resp = RaftMsg::new(MsgType::PreVoteResp, self.id, m.from, self.term);
                resp.reject = true;
                self.send(resp);
            }
            return;
        }

        match m.kind {
            MsgType::Vote | MsgType::PreVote => self.handle_vote_request(&m),
            MsgType::App
            | MsgType::AppResp
            | MsgType::VoteResp
            | MsgType::PreVoteResp
            | MsgType::Heartbeat
            | MsgType::HeartbeatResp
            | MsgType::ReadIndex
            | MsgType::ReadIndexResp
            | MsgType::TimeoutNow
            | MsgType::Snap => match self.role {
                Role::Leader => self.step_leader(m),
                Role::PreCandidate | Role::Candidate => self.step_candidate(m),
                Role::Follower => self.step_follower(m),
            },
        }
    }

    /// Proposes a new entry. Returns its index if this member is the leader and appended it.
    pub fn propose(&mut self, data: EntryData) -> Option<u64> {
        // etcd-io/raft stepLeader: "transfer leadership to %x is in progress; dropping proposal".
        if self.role != Role::Leader || self.lead_transferee != NONE {
            return None;
        }
        // etcd-io/raft stepLeader: "propose conf ... ignored since pending unapplied configuration":
        // one membership change at a time, the next only once the last is applied.
        if matches!(data, EntryData::ConfChange(_)) && self.conf_change_pending() {
            return None;
        }
        let index = self.append_entry(data);
        self.bcast_append();
        Some(index)
    }

    /// Whether a membership change in the log is not yet applied (etcd-io/raft `pendingConfIndex`).
    pub fn conf_change_pending(&self) -> bool {
        (self.applied + 1..=self.last_index()).any(|i| {
            matches!(
                self.entry(i).map(|e| &e.data),
                Some(EntryData::ConfChange(_))
            )
        })
    }

    /// Switches to a membership (etcd-io/raft `applyConfChange` / `switchToConfig`), as the caller
    /// applies a committed change (or loads the membership its store holds at start): `voters` vote
    /// and count towards quorums, `learners` are only replicated to. Progress of members that stay
    /// is kept. A leader that is no longer a voter steps down; pending read confirmations, counted
    /// by voter position, are dropped to be retried.
    pub fn set_members(&mut self, voters: &[MemberId], learners: &[MemberId]) {
        self.end_quiet();
        let next = self.last_index() + 1;
        let mut prs: Vec<Progress> = Vec::with_capacity(voters.len() + learners.len());
        for (&id, learner) in voters
            .iter()
            .map(|v| (v, false))
            .chain(learners.iter().map(|l| (l, true)))
        {
            if prs.iter().any(|p| p.id == id) {
                continue;
            }
            let mut pr = match self.prs.iter().position(|p| p.id == id) {
                Some(i) => self.prs[i].clone(),
                None => Progress::new(id, next),
            };
            pr.learner = learner;
            prs.push(pr);
        }
        prs.sort_unstable_by_key(|p| p.id);
        assert!(
            prs.iter().filter(|p| !p.learner).count() <= 64,
            "raft: at most 64 voters (read acks are a bit set)"
        );
        self.prs = prs;
        self.self_pos = self.prs.iter().position(|p| p.id == self.id && !p.learner);
        for r in std::mem::take(&mut self.read_queue) {
            self.dropped_reads.push(r.context);
        }
        if self.self_pos.is_none() && self.role != Role::Follower {
            self.become_follower(self.term, NONE);
        } else if self.role == Role::Leader {
            if self.maybe_commit() {
                self.bcast_append();
            }
            // New learners start probing from the leader's last index.
            self.bcast_append();
        }
    }

    /// The leader's view of how far `id` has replicated (etcd's `Progress.Match`), if it tracks it.
    pub fn progress_match(&self, id: MemberId) -> Option<u64> {
        self.prs.iter().find(|p| p.id == id).map(|p| p.matched)
    }

    /// The voters and the learners, by id.
    pub fn members(&self) -> (Vec<MemberId>, Vec<MemberId>) {
        let v = self
            .prs
            .iter()
            .filter(|p| !p.learner)
            .map(|p| p.id)
            .collect();
        let l = self
            .prs
            .iter()
            .filter(|p| p.learner)
            .map(|p| p.id)
            .collect();
        (v, l)
    }

    /// Requests a linearizable read (etcd `ReadOnlySafe`). The answer arrives as a
    /// [`ReadState`] with the same context, or in `Ready::dropped_reads` when no leader is known.
    pub fn read_index(&mut self, context: u64) {
        match self.role {
            Role::Leader => self.leader_read_request(self.id, context),
            Role::Follower if self.lead != NONE => {
                // Forwarded term-less, as etcd does, so that it survives a term change of the
                // forwarder and the leader answers the original requester directly.
                let mut m = RaftMsg::new(MsgType::ReadIndex, self.id, self.lead, 0);
                m.context = context;
                self.send(m);
            }
            // No leader known: the read is dropped (etcd's ErrProposalDropped for reads).
            Role::Follower | Role::PreCandidate | Role::Candidate => {
                self.dropped_reads.push(context)
            }
        }
    }

    /// Whether [`Raft::ready`] would return anything.
    pub fn has_ready(&self) -> bool {
        !self.msgs.is_empty()
            || self.unstable_from.is_some()
            || self.hard_state() != self.prev_hard
            || self.commit > self.applied
            || self.snapshot_unsent
            || !self.read_states.is_empty()
            || !self.dropped_reads.is_empty()
    }

    /// Whether messages are all a [`Raft::ready`] would hold now: no entries, snapshot, hard state
    /// change, commit to apply or read state (a heartbeat, its answer, an empty append). The caller
    /// then takes them with [`Raft::take_messages`] and skips building a `Ready`.
    pub fn only_messages(&self) -> bool {
        self.unstable_from.is_none()
            && !self.snapshot_unsent
            && self.commit <= self.applied
            && self.read_states.is_empty()
            && self.dropped_reads.is_empty()
            && self.hard_state() == self.prev_hard
    }

    /// The messages to send (see [`Raft::only_messages`]); hand the buffer back with
    /// [`Raft::recycle`].
    pub fn take_messages(&mut self) -> Vec<RaftMsg> {
        std::mem::take(&mut self.msgs)
    }

    /// Hands back an emptied message buffer from an earlier [`Ready`], so that steady-state message
    /// traffic allocates nothing.
    pub fn recycle(&mut self, mut buf: Vec<RaftMsg>) {
        buf.clear();
        if self.msgs.is_empty() && self.msgs.capacity() < buf.capacity() {
            self.msgs = buf;
        }
    }

    /// Drains everything that accumulated since the last call.
    pub fn ready(&mut self) -> Ready {
        let entries = match self.unstable_from.take() {
            Some(from) if from <= self.last_index() => self.log.slice(from, self.last_index()),
            Some(_) | None => Vec::new(),
        };
        let snapshot = if std::mem::take(&mut self.snapshot_unsent) {
            self.log.pending_snapshot().cloned()
        } else {
            None
        };
        if let Some(s) = &snapshot {
            // The snapshot is the state up to its index: applying it applies those entries.
            self.applied = self.applied.max(s.index);
        }
        let hard = self.hard_state();
        let must_sync = !entries.is_empty()
            || snapshot.is_some()
            || hard.term != self.prev_hard.term
            || hard.vote != self.prev_hard.vote;
        let hard_state = if hard != self.prev_hard {
            self.prev_hard = hard;
            Some(hard)
        } else {
            None
        };
        let committed = if self.commit > self.applied {
            self.log.slice(self.applied + 1, self.commit)
        } else {
            Vec::new()
        };
        self.applied = self.applied.max(self.commit);
        Ready {
            messages: std::mem::take(&mut self.msgs),
            snapshot,
            entries,
            hard_state,
            must_sync,
            committed,
            read_states: std::mem::take(&mut self.read_states),
            dropped_reads: std::mem::take(&mut self.dropped_reads),
        }
    }

    /// The caller's write of entries up to `index` (whose entry has term `term`) is durable.
    /// Only then does a leader count itself towards the commit quorum; for followers this just
    /// tracks what is durable (their acknowledgements are already gated by the Ready contract).
    pub fn persisted(&mut self, index: u64, term: u64) {
        if index == 0 || self.term_at(index) != Some(term) {
            // Overwritten since it was handed out: that write no longer describes our log.
            return;
        }
        // Entries changed but not yet handed out cannot be durable (log matching makes this a
        // no-op in practice, but it keeps `stable` honest).
        let index = match self.unstable_from {
            Some(from) => index.min(from - 1),
            None => index,
        };
        if index <= self.stable {
            return;
        }
        self.stable = index;
        if self.role == Role::Leader {
            if let Some(pos) = self.self_pos {
                if self.prs[pos].maybe_update(self.stable) && self.maybe_commit() {
                    self.release_postponed_reads();
                    self.bcast_append();
                }
            }
        }
    }

    /// The caller's write of a ready is durable, handed back as it was handed out: Raft keeps it as
    /// its storage (etcd's raftNode appends it to `MemoryStorage` after the WAL write) and drops the
    /// entries from its unstable part. Then as [`Raft::persisted`].
    pub fn persisted_write(
        &mut self,
        hard: Option<HardState>,
        snapshot: Option<Snapshot>,
        entries: Vec<Entry>,
    ) {
        if let Some(s) = snapshot {
            let index = s.index;
            self.log.storage_mut().apply_snapshot(s);
            self.log.stable_snapshot_to(index);
            self.stable = self.stable.max(index);
        }
        let last = entries.last().map(|e| (e.index, e.term));
        self.log.storage_mut().apply_owned(hard, entries);
        if let Some((index, term)) = last {
            self.persisted(index, term);
            self.log.stable_to(index, term);
        }
    }

    /// What is durable: the storage alone (a crash loses the unstable part and a pending snapshot).
    pub fn into_durable(self) -> DurableState {
        self.log.into_storage()
    }

    /// Records a snapshot of the applied state (etcd's `MemoryStorage.CreateSnapshot`): the one a
    /// follower behind the compacted log gets. Its index must be applied and above the last
    /// snapshot's; its term must be the log's there.
    pub fn create_snapshot(&mut self, s: Snapshot) {
        let storage = self.log.storage();
        if s.index <= storage.snapshot.index
            || s.index > self.applied
            || s.index > storage.last_index()
        {
            debug_assert!(
                false,
                "snapshot at {} (last {}, applied {}, stored up to {})",
                s.index,
                storage.snapshot.index,
                self.applied,
                storage.last_index()
            );
            return;
        }
        debug_assert_eq!(self.log.term(s.index), Some(s.term), "snapshot term");
        self.log.storage_mut().snapshot = s;
    }

    /// Drops the stored entries up to `index` (at most the applied index; etcd's
    /// `MemoryStorage.Compact`).
    pub fn compact(&mut self, index: u64) {
        self.log.compact(index.min(self.applied));
    }

    /// The transfer of the snapshot sent to `to` ended (etcd's `ReportSnapshot`, `MsgSnapStatus`):
    /// the leader probes again, from past the snapshot if it went through, and waits for the
    /// follower's answer or a heartbeat response before it sends more.
    pub fn report_snapshot(&mut self, to: MemberId, ok: bool) {
        if self.role != Role::Leader {
            return;
        }
        let Some(pr) = self.prs.iter_mut().find(|p| p.id == to) else {
            return;
        };
        if pr.state != ProgressState::Snapshot {
            return;
        }
        if !ok {
            pr.pending_snapshot = 0;
        }
        pr.become_probe();
        pr.probe_sent = true;
    }

    // ----------------------------------------------------------------------------------------
    // Accessors.

    /// Current role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// Vote cast in the current term, if any.
    pub fn vote(&self) -> Option<MemberId> {
        (self.vote != NONE).then_some(self.vote)
    }

    /// The leader this member knows of in its current term.
    pub fn leader(&self) -> Option<MemberId> {
        (self.lead != NONE).then_some(self.lead)
    }

    /// Commit index.
    pub fn commit(&self) -> u64 {
        self.commit
    }

    /// Index of the last log entry (0 when empty).
    pub fn last_index(&self) -> u64 {
        self.log.last_index()
    }

    /// The first index still in the log (1 until something is compacted).
    pub fn first_index(&self) -> u64 {
        self.log.first_index()
    }

    /// The entry at `index`, if present (not compacted).
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        self.log.entry(index)
    }

    /// The term of the entry at `index`: known from the first index minus one (the compaction
    /// point or snapshot) to the last; `None` elsewhere.
    pub fn log_term(&self, index: u64) -> Option<u64> {
        self.log.term(index)
    }

    /// The latest snapshot, if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.log.snapshot()
    }

    /// Entries held in memory (storage and unstable part).
    pub fn entries_held(&self) -> usize {
        self.log.held()
    }

    /// The durable part of the log (the storage).
    pub fn storage(&self) -> &DurableState {
        self.log.storage()
    }

    /// Highest index handed out as committed (or as a snapshot).
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// This member's id.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The current hard state (term, vote, commit).
    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.commit,
        }
    }

    /// How many `tick()` calls, counting the one that acts, until a tick does anything
    /// (campaign, heartbeat, check-quorum); always >= 1, never larger than the true value, so
    /// the caller may batch that many ticks. The caller must still account every skipped tick
    /// (call `tick()` for it) before stepping a message, as the lease depends on the count.
    pub fn ticks_until_event(&self) -> u32 {
        match self.role {
            Role::Leader
                if self.lead_transferee == NONE
                    && self.read_queue.is_empty()
                    && self.all_followers_quiet() =>
            {
                // No heartbeat to send: only check-quorum acts.
                if self.check_quorum {
                    self.election_tick
                        .saturating_sub(self.election_elapsed)
                        .max(1)
                } else {
                    u32::MAX
                }
            }
            Role::Leader => {
                let heartbeat = self.heartbeat_tick.saturating_sub(self.heartbeat_elapsed);
                let n = if self.check_quorum {
                    heartbeat.min(self.election_tick.saturating_sub(self.election_elapsed))
                } else {
                    heartbeat
                };
                n.max(1)
            }
            // A member outside the voters never campaigns.
            Role::Follower | Role::PreCandidate | Role::Candidate if self.self_pos.is_none() => {
                u32::MAX
            }
            Role::Follower | Role::PreCandidate | Role::Candidate => self
                .randomized_election_timeout
                .saturating_sub(self.election_elapsed)
                .max(1),
        }
    }

    /// Every member but this one is quiet (so a heartbeat tick sends nothing).
    fn all_followers_quiet(&self) -> bool {
        self.quiet_count > 0
            && self.quiet_count as usize + 1 == self.prs.len()
            && self.self_pos.is_some()
    }

    // ----------------------------------------------------------------------------------------
    // Log helpers.

    fn last_term(&self) -> u64 {
        self.log.term(self.last_index()).unwrap_or(0)
    }

    /// Term of the entry at `index` (0 for index 0 of an uncompacted log), `None` past the end and
    /// below the compaction point.
    fn term_at(&self, index: u64) -> Option<u64> {
        self.log.term(index)
    }

    fn mark_unstable(&mut self, from: u64) {
        self.unstable_from = Some(self.unstable_from.map_or(from, |u| u.min(from)));
    }

    fn append_entry(&mut self, data: EntryData) -> u64 {
        let index = self.last_index() + 1;
        self.log.append(Entry {
            term: self.term,
            index,
            data,
        });
        self.mark_unstable(index);
        index
    }

    fn commit_to(&mut self, index: u64) {
        if index > self.commit {
            debug_assert!(index <= self.last_index(), "commit past the log");
            self.commit = index;
        }
    }

    /// Candidate log `(index, term)` is at least as up to date as ours (Raft 5.4.1).
    fn is_up_to_date(&self, index: u64, term: u64) -> bool {
        let last_term = self.last_term();
        term > last_term || (term == last_term && index >= self.last_index())
    }

    /// The largest index <= `index` whose term is <= `term`, with that term (etcd's
    /// `findConflictByTerm`), used to skip a whole divergent term per probe. Where the term is not
    /// known (past the end, compacted) the index may match: it is returned with term 0.
    fn find_conflict_by_term(&self, index: u64, term: u64) -> (u64, u64) {
        let mut i = index;
        while i > 0 {
            let Some(t) = self.term_at(i) else {
                return (i, 0);
            };
            if t <= term {
                return (i, t);
            }
            i -= 1;
        }
        (0, 0)
    }

    /// Appends `entries` following `(prev_index, prev_term)` if that matches, repairing
    /// conflicts; returns the index of the last new entry.
    fn maybe_append(
        &mut self,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        leader_commit: u64,
    ) -> Option<u64> {
        if self.term_at(prev_index) != Some(prev_term) {
            return None;
        }
        let last_new = prev_index + entries.len() as u64;
        let conflict = entries
            .iter()
            .position(|e| self.term_at(e.index) != Some(e.term));
        if let Some(pos) = conflict {
            let ci = entries[pos].index;
            debug_assert_eq!(
                ci,
                prev_index + 1 + pos as u64,
                "MsgApp entries not contiguous"
            );
            // Committed entries are never overwritten: the leader completeness property
            // guarantees the leader has them, so a conflict there is a broken invariant.
            assert!(
                ci > self.commit,
                "raft {}: entry {ci} conflicts with committed entry (commit {})",
                self.id,
                self.commit
            );
            if ci <= self.last_index() {
                self.stable = self.stable.min(ci - 1);
            }
            self.log
                .truncate_and_append(entries.into_iter().skip(pos).collect());
            self.mark_unstable(ci);
        }
        self.commit_to(leader_commit.min(last_new));
        Some(last_new)
    }

    // ----------------------------------------------------------------------------------------
    // Role transitions.

    fn hard_reset_progress(&mut self) {
        let next = self.last_index() + 1;
        for pr in &mut self.prs {
            pr.reset(next);
        }
        if let Some(pos) = self.self_pos {
            // Our own match is what is durable: etcd self-acknowledges only after the write.
            self.prs[pos].matched = self.stable.min(self.last_index());
        }
    }

    /// etcd's `reset(term)`: new term clears the vote; timers restart with a fresh draw.
    fn reset(&mut self, term: u64) {
        if self.term != term {
            self.term = term;
            self.vote = NONE;
        }
        self.lead = NONE;
        self.lead_transferee = NONE;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.reset_randomized_election_timeout();
        self.end_quiet();
        self.hard_reset_progress();
        self.abandon_reads();
    }

    fn reset_randomized_election_timeout(&mut self) {
        self.randomized_election_timeout =
            self.election_tick + self.rng.gen_range(0..self.election_tick);
    }

    /// A leader losing its role cannot answer its pending reads any more; its own are reported as
    /// dropped, forwarded ones are lost (the forwarder's caller retries, as etcd's does).
    fn abandon_reads(&mut self) {
        for r in self.read_queue.drain(..) {
            if r.from == self.id {
                self.dropped_reads.push(r.context);
            }
        }
        for (from, context) in self.postponed_reads.drain(..) {
            if from == self.id {
                self.dropped_reads.push(context);
            }
        }
    }

    fn become_follower(&mut self, term: u64, lead: MemberId) {
        self.reset(term);
        self.lead = lead;
        self.role = Role::Follower;
    }

    fn become_pre_candidate(&mut self) {
        debug_assert!(self.role != Role::Leader);
        // As in etcd: neither the term, the vote nor the timers change (tick_election already
        // zeroed the elapsed count; the randomized timeout keeps its last draw).
        for pr in &mut self.prs {
            pr.vote = None;
        }
        self.lead = NONE;
        self.role = Role::PreCandidate;
    }

    fn become_candidate(&mut self) {
        debug_assert!(self.role != Role::Leader);
        self.reset(self.term + 1);
        self.vote = self.id;
        self.role = Role::Candidate;
    }

    fn become_leader(&mut self) {
        debug_assert!(self.role != Role::Follower);
        self.reset(self.term);
        self.lead = self.id;
        self.role = Role::Leader;
        if let Some(pos) = self.self_pos {
            let pr = &mut self.prs[pos];
            pr.become_replicate();
            pr.recent_active = true;
        }
        // Raft 5.4.2: earlier-term entries commit only through an entry of the leader's term.
        self.append_entry(EntryData::Empty);
    }

    /// Hands leadership to `to` (etcd-io/raft `MsgTransferLeader` at the leader, which etcd's
    /// `MoveLeader` sends): if `to`'s log matches ours it gets MsgTimeoutNow at once, otherwise it is
    /// caught up first and gets MsgTimeoutNow when its append response shows a full match. Proposals
    /// are dropped meanwhile; the transfer is abandoned after an election timeout. Returns whether a
    /// transfer started (only a leader transfers, and only to another voter).
    pub fn transfer_leadership(&mut self, to: MemberId) -> bool {
        if self.role != Role::Leader || to == self.id {
            return false;
        }
        let Some(pos) = self.prs.iter().position(|p| p.id == to && !p.learner) else {
            return false;
        };
        self.lead_transferee = to;
        // "Transfer leadership should be finished in one electionTimeout, so reset
        // r.electionElapsed." (etcd-io/raft raft.go, stepLeader MsgTransferLeader)
        self.election_elapsed = 0;
        if self.prs[pos].matched == self.last_index() {
            self.send_timeout_now(to);
        } else {
            self.send_append(pos);
        }
        true
    }

    fn send_timeout_now(&mut self, to: MemberId) {
        self.send(RaftMsg::new(MsgType::TimeoutNow, self.id, to, self.term));
    }

    fn hup(&mut self) {
        if self.role == Role::Leader || self.self_pos.is_none() {
            return;
        }
        self.start_campaign(self.pre_vote);
    }

    fn start_campaign(&mut self, pre: bool) {
        self.start_campaign_ctx(pre, 0);
    }

    fn start_campaign_ctx(&mut self, pre: bool, context: u64) {
        let (kind, term) = if pre {
            self.become_pre_candidate();
            // Pre-votes are asked for the next term before incrementing ours.
            (MsgType::PreVote, self.term + 1)
        } else {
            self.become_candidate();
            (MsgType::Vote, self.term)
        };
        // Our own vote counts at once (etcd's synchronous mode: the Ready contract persists the
        // vote before any request leaves, so no grant can arrive before it is durable).
        if self.poll(self.id, true) == VoteResult::Won {
            // Only possible in a single-voter cluster.
            if pre {
                self.start_campaign(false);
            } else {
                self.become_leader();
            }
            return;
        }
        let (last_index, last_term) = (self.last_index(), self.last_term());
        for i in 0..self.prs.len() {
            let to = self.prs[i].id;
            if to == self.id || self.prs[i].learner {
                continue;
            }
            let mut m = RaftMsg::new(kind, self.id, to, term);
            m.index = last_index;
            m.log_term = last_term;
            m.context = context;
            self.send(m);
        }
    }

    fn poll(&mut self, from: MemberId, granted: bool) -> VoteResult {
        if let Some(pr) = self.prs.iter_mut().find(|p| p.id == from) {
            // Only the first answer of each voter counts.
            if pr.vote.is_none() {
                pr.vote = Some(granted);
            }
        }
        let granted = self
            .prs
            .iter()
            .filter(|p| !p.learner && p.vote == Some(true))
            .count();
        let missing = self
            .prs
            .iter()
            .filter(|p| !p.learner && p.vote.is_none())
            .count();
        let q = self.quorum();
        if granted >= q {
            VoteResult::Won
        } else if granted + missing >= q {
            VoteResult::Pending
        } else {
            VoteResult::Lost
        }
    }

    fn quorum(&self) -> usize {
        self.voters() / 2 + 1
    }

    /// How many members vote (learners do not).
    fn voters(&self) -> usize {
        self.prs.iter().filter(|p| !p.learner).count()
    }

    /// Lazy heartbeats, the engine's shortcut (issue 12): while `allowed`, a leader stops sending
    /// empty heartbeats to a follower that has every entry and knows the commit index, and reports
    /// it in [`Raft::take_quiet_changes`]; the world then stands in for those heartbeats (the
    /// follower hears from the leader every tick, the leader counts the follower active). The
    /// stream ends, and real heartbeats resume, on anything else sent to that follower, on a role
    /// or membership change, or on [`Raft::end_quiet`]. Set before every event.
    pub fn set_quiet_allowed(&mut self, allowed: bool) {
        self.quiet_allowed = allowed;
    }

    /// Ends every quiet stream (the world ended them: a fault, a process stopping).
    pub fn end_quiet(&mut self) {
        for pos in 0..self.prs.len() {
            self.end_quiet_at(pos);
        }
    }

    /// Whether any follower is quiet.
    pub fn any_quiet(&self) -> bool {
        self.quiet_count > 0
    }

    /// The quiet followers.
    pub fn quiet_peers(&self) -> impl Iterator<Item = MemberId> + '_ {
        self.prs.iter().filter(|p| p.quiet).map(|p| p.id)
    }

    /// Followers whose quiet stream started (true) or ended (false) since the last call, in order.
    pub fn take_quiet_changes(&mut self) -> std::vec::Drain<'_, (MemberId, bool)> {
        self.quiet_changes.drain(..)
    }

    /// Whether quiet streams started or ended since [`Raft::take_quiet_changes`].
    pub fn has_quiet_changes(&self) -> bool {
        !self.quiet_changes.is_empty()
    }

    /// As [`Raft::step`] for the empty heartbeats of a quiet stream the world stands in for: the
    /// last one reached this follower now, so it heard from its leader (of `term`, with `commit`).
    /// Nothing is sent back (the leader counts the stream's follower active). Ignored unless this
    /// member still follows `leader` in `term`.
    pub fn heard_quietly(&mut self, leader: MemberId, term: u64, commit: u64) {
        if self.role != Role::Follower || self.term != term || self.lead != leader {
            return;
        }
        self.election_elapsed = 0;
        self.commit_to(commit.min(self.last_index()));
    }

    /// The follower at `pos` has every entry, knows the commit index, and nothing else is under way
    /// with it: its empty heartbeats would change nothing but its election timer.
    fn quiet_eligible(&self, pos: usize) -> bool {
        let pr = &self.prs[pos];
        let last = self.last_index();
        self.quiet_allowed
            && self.role == Role::Leader
            && self.lead_transferee == NONE
            && pr.state == ProgressState::Replicate
            && pr.matched == last
            && self.commit == last
            && pr.pending_commit >= self.commit
            && pr.inflight.is_empty()
    }

    fn end_quiet_at(&mut self, pos: usize) {
        let pr = &mut self.prs[pos];
        if pr.quiet {
            pr.quiet = false;
            // The stream's virtual answers kept it active until now.
            pr.recent_active = true;
            self.quiet_count -= 1;
            self.quiet_changes.push((pr.id, false));
        }
    }

    /// Heard from a leader within the minimum election timeout (check-quorum's lease).
    fn in_lease(&self) -> bool {
        self.check_quorum && self.lead != NONE && self.election_elapsed < self.election_tick
    }

    // ----------------------------------------------------------------------------------------
    // Ticks.

    fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.self_pos.is_some() && self.election_elapsed >= self.randomized_election_timeout {
            self.election_elapsed = 0;
            self.hup();
        }
    }

    fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.election_tick {
            self.election_elapsed = 0;
            if self.check_quorum {
                self.check_quorum_active();
            }
            // etcd-io/raft tickHeartbeat: a transfer not done within an election timeout is aborted.
            if self.role == Role::Leader {
                self.lead_transferee = NONE;
            }
        }
        if self.role != Role::Leader {
            return;
        }
        if self.heartbeat_elapsed >= self.heartbeat_tick {
            self.heartbeat_elapsed = 0;
            let ctx = self.read_queue.back().map_or(0, |r| r.seq);
            self.bcast_heartbeat(ctx);
        }
    }

    fn check_quorum_active(&mut self) {
        let active = self
            .prs
            .iter()
            .filter(|p| !p.learner && (p.id == self.id || p.recent_active || p.quiet))
            .count();
        if active < self.quorum() {
            self.become_follower(self.term, NONE);
        }
        // Everyone but us must prove activity again before the next check.
        for pr in &mut self.prs {
            pr.recent_active = pr.id == self.id;
        }
    }

    // ----------------------------------------------------------------------------------------
    // Message handling.

    fn send(&mut self, m: RaftMsg) {
        if self.quiet_count > 0
            && matches!(m.kind, MsgType::App | MsgType::Snap | MsgType::TimeoutNow)
        {
            if let Some(pos) = self.prs.iter().position(|p| p.id == m.to) {
                self.end_quiet_at(pos);
            }
        }
        self.msgs.push(m);
    }

    fn handle_vote_request(&mut self, m: &RaftMsg) {
        let pre = m.kind == MsgType::PreVote;
        let resp_kind = if pre {
            MsgType::PreVoteResp
        } else {
            MsgType::VoteResp
        };
        // A repeat of the vote we cast, or no vote and no leader in this term yet, or a pre-vote
        // for a future term (which binds nothing).
        let can_vote = self.vote == m.from
            || (self.vote == NONE && self.lead == NONE)
            || (pre && m.term > self.term);
        if can_vote && self.is_up_to_date(m.index, m.log_term) {
            // Reply with the message's term: for a pre-vote ours may be older, and the
            // pre-candidate would drop a reply carrying a term below its own.
            self.send(RaftMsg::new(resp_kind, self.id, m.from, m.term));
            if !pre {
                self.election_elapsed = 0;
                self.vote = m.from;
            }
        } else {
            let mut resp = RaftMsg::new(resp_kind, self.id, m.from, self.term);
            resp.reject = true;
            self.send(resp);
        }
    }

    fn step_follower(&mut self, m: RaftMsg) {
        match m.kind {
            MsgType::App => {
                self.election_elapsed = 0;
                self.lead = m.from;
                self.handle_append(m);
            }
            MsgType::Heartbeat => {
                self.election_elapsed = 0;
                self.lead = m.from;
                self.handle_heartbeat(&m);
            }
            MsgType::Snap => {
                self.election_elapsed = 0;
                self.lead = m.from;
                self.handle_snapshot(m);
            }
            // A read forwarded to us by someone who thought we lead: pass it on if we know
            // better, else (below) drop it as etcd does.
            MsgType::ReadIndex if self.lead != NONE => {
                let mut fwd = m;
                fwd.to = self.lead;
                self.send(fwd);
            }
            MsgType::ReadIndexResp => self.read_states.push(ReadState {
                context: m.context,
                index: m.index,
            }),
            // The leader hands over: campaign now, without pre-vote and past the voters' lease.
            MsgType::TimeoutNow if self.self_pos.is_some() => {
                self.start_campaign_ctx(false, CAMPAIGN_TRANSFER)
            }
            // Answers to a leader's or a candidate's requests (stale here), vote requests (handled
            // in `step`), a read with no leader to forward it to, a hand-over to a non-voter.
            MsgType::AppResp
            | MsgType::Vote
            | MsgType::VoteResp
            | MsgType::PreVote
            | MsgType::PreVoteResp
            | MsgType::HeartbeatResp
            | MsgType::ReadIndex
            | MsgType::TimeoutNow => {}
        }
    }

    fn step_candidate(&mut self, m: RaftMsg) {
        let my_resp = if self.role == Role::PreCandidate {
            MsgType::PreVoteResp
        } else {
            MsgType::VoteResp
        };
        match m.kind {
            MsgType::App => {
                // Same term (higher terms were handled in step): a leader exists.
                self.become_follower(m.term, m.from);
                self.handle_append(m);
            }
            MsgType::Heartbeat => {
                self.become_follower(m.term, m.from);
                self.handle_heartbeat(&m);
            }
            MsgType::Snap => {
                self.become_follower(m.term, m.from);
                self.handle_snapshot(m);
            }
            MsgType::PreVoteResp | MsgType::VoteResp if m.kind == my_resp => self.tally(m),
            // Answers of the other phase or to a leader's requests (stale), vote requests (handled
            // in `step`), reads and hand-overs (no leader here to serve or forward them).
            MsgType::AppResp
            | MsgType::Vote
            | MsgType::VoteResp
            | MsgType::PreVote
            | MsgType::PreVoteResp
            | MsgType::HeartbeatResp
            | MsgType::ReadIndex
            | MsgType::ReadIndexResp
            | MsgType::TimeoutNow => {}
        }
    }

    /// Counts a vote (or pre-vote) answer of the current campaign.
    fn tally(&mut self, m: RaftMsg) {
        match self.poll(m.from, !m.reject) {
            VoteResult::Won => {
                if self.role == Role::PreCandidate {
                    self.start_campaign(false);
                } else {
                    self.become_leader();
                    self.bcast_append();
                }
            }
            // A pre-vote response may carry our future term; stay in ours.
            VoteResult::Lost => self.become_follower(self.term, NONE),
            VoteResult::Pending => {}
        }
    }

    fn handle_append(&mut self, m: RaftMsg) {
        if m.index < self.commit {
            // Everything up to our commit is already known to match the leader.
            let mut resp = RaftMsg::new(MsgType::AppResp, self.id, m.from, self.term);
            resp.index = self.commit;
            self.send(resp);
            return;
        }
        let (from, prev_index, prev_term) = (m.from, m.index, m.log_term);
        if let Some(last_new) = self.maybe_append(prev_index, prev_term, m.entries, m.commit) {
            let mut resp = RaftMsg::new(MsgType::AppResp, self.id, from, self.term);
            resp.index = last_new;
            self.send(resp);
            return;
        }
        // Hint the leader at the largest (index, term) that may match: skip our whole tail of
        // terms above the leader's prev term in one round trip.
        let hint = prev_index.min(self.last_index());
        let (hint_index, hint_term) = self.find_conflict_by_term(hint, prev_term);
        let mut resp = RaftMsg::new(MsgType::AppResp, self.id, from, self.term);
        resp.index = prev_index;
        resp.reject = true;
        resp.reject_hint = hint_index;
        resp.log_term = hint_term;
        self.send(resp);
    }

    /// A snapshot from the leader (etcd-io/raft `handleSnapshot`): installed unless the log already
    /// holds its last entry; either way the leader learns how far this member's log now goes.
    fn handle_snapshot(&mut self, mut m: RaftMsg) {
        let s = m.snapshot.take().map(|s| *s).unwrap_or_default();
        let mut resp = RaftMsg::new(MsgType::AppResp, self.id, m.from, self.term);
        resp.index = if self.restore(s) {
            self.last_index()
        } else {
            self.commit
        };
        self.send(resp);
    }

    /// etcd-io/raft `restore`: a snapshot at or below the commit index is stale; one whose last
    /// entry the log holds only moves the commit index; any other replaces the log.
    fn restore(&mut self, s: Snapshot) -> bool {
        if s.index <= self.commit {
            return false;
        }
        if self.role != Role::Follower {
            // "attempted to restore snapshot as leader; should never happen"
            debug_assert!(false, "raft {}: snapshot while {:?}", self.id, self.role);
            self.become_follower(self.term + 1, NONE);
            return false;
        }
        if self.term_at(s.index) == Some(s.term) {
            self.commit_to(s.index);
            return false;
        }
        self.commit = s.index;
        self.stable = self.stable.min(s.index);
        self.unstable_from = None;
        self.snapshot_unsent = true;
        self.log.restore(s);
        true
    }

    fn handle_heartbeat(&mut self, m: &RaftMsg) {
        // The leader sends min(match, commit), so this never commits unverified entries; the
        // clamp only guards a log that is shorter than what we acknowledged (lost writes).
        self.commit_to(m.commit.min(self.last_index()));
        let mut resp = RaftMsg::new(MsgType::HeartbeatResp, self.id, m.from, self.term);
        resp.context = m.context;
        self.send(resp);
    }

    fn step_leader(&mut self, m: RaftMsg) {
        if m.kind == MsgType::ReadIndex {
            self.leader_read_request(m.from, m.context);
            return;
        }
        let Some(pos) = self.prs.iter().position(|p| p.id == m.from) else {
            return;
        };
        match m.kind {
            MsgType::AppResp => self.handle_append_response(pos, &m),
            MsgType::HeartbeatResp => self.handle_heartbeat_response(pos, &m),
            // A leader of this term ignores the rest: appends and heartbeats of this term cannot
            // come from another leader, votes were answered in `step`, reads were served above,
            // and stale campaign answers or hand-overs do not concern it.
            MsgType::App
            | MsgType::Vote
            | MsgType::VoteResp
            | MsgType::PreVote
            | MsgType::PreVoteResp
            | MsgType::Heartbeat
            | MsgType::ReadIndex
            | MsgType::ReadIndexResp
            | MsgType::TimeoutNow
            | MsgType::Snap => {}
        }
    }

    fn handle_append_response(&mut self, pos: usize, m: &RaftMsg) {
        self.prs[pos].recent_active = true;
        if m.reject {
            let mut next_probe = m.reject_hint;
            if m.log_term > 0 {
                // Skip every index whose term in our log exceeds the follower's term there.
                next_probe = self.find_conflict_by_term(m.reject_hint, m.log_term).0;
            }
            let pr = &mut self.prs[pos];
            if pr.maybe_decr_to(m.index, next_probe) {
                if pr.state == ProgressState::Replicate {
                    pr.become_probe();
                }
                self.send_append(pos);
            }
            return;
        }
        // An acknowledgement beyond our log can only come from a confused peer; clamp it.
        let index = m.index.min(self.last_index());
        let pr = &mut self.prs[pos];
        if pr.maybe_update(index) || (pr.matched == index && pr.state == ProgressState::Probe) {
            let first = self.log.first_index();
            let pr = &mut self.prs[pos];
            match pr.state {
                ProgressState::Probe => pr.become_replicate(),
                ProgressState::Replicate => pr.free_le(index),
                // The follower installed the snapshot (or caught up otherwise) and the log can
                // carry it on from its match.
                ProgressState::Snapshot if pr.matched + 1 >= first => {
                    pr.become_probe();
                    pr.become_replicate();
                }
                ProgressState::Snapshot => {}
            }
            if self.maybe_commit() {
                // The commit moved within our term, so postponed reads may proceed.
                self.release_postponed_reads();
                self.bcast_append();
            } else if self.prs[pos].can_bump_commit(self.commit) {
                // The follower may miss the latest commit index; tell it now rather than wait
                // for the next heartbeat.
                self.send_append(pos);
            }
            // Flow control may have opened up (probe -> replicate, freed in-flight slots).
            while self.maybe_send_append(pos, false) {}
            // etcd-io/raft stepLeader MsgAppResp: the transferee caught up, hand over now.
            if m.from == self.lead_transferee && self.prs[pos].matched == self.last_index() {
                self.send_timeout_now(m.from);
            }
        }
    }

    fn handle_heartbeat_response(&mut self, pos: usize, m: &RaftMsg) {
        let last = self.last_index();
        let pr = &mut self.prs[pos];
        pr.recent_active = true;
        pr.probe_sent = false;
        if pr.state == ProgressState::Replicate && pr.inflight.len() >= MAX_INFLIGHT_MSGS {
            // All in-flight appends may have been lost; free a slot so one more can go out and
            // be either acknowledged or rejected (etcd 3.5's FreeFirstOne).
            pr.inflight.pop_front();
        }
        if pr.matched < last || pr.state == ProgressState::Probe {
            self.send_append(pos);
        }
        if m.context != 0 {
            self.ack_read(pos, m.context);
        }
    }

    /// Advances the commit index to the quorum's match if that entry is of our term.
    fn maybe_commit(&mut self) -> bool {
        self.scratch.clear();
        self.scratch
            .extend(self.prs.iter().filter(|p| !p.learner).map(|p| p.matched));
        self.scratch.sort_unstable_by(|a, b| b.cmp(a));
        let mci = self.scratch[self.quorum() - 1];
        // Raft 5.4.2: never commit an earlier term's entry by counting replicas.
        if mci > self.commit && self.term_at(mci) == Some(self.term) {
            self.commit = mci;
            true
        } else {
            false
        }
    }

    fn bcast_append(&mut self) {
        for pos in 0..self.prs.len() {
            if Some(pos) != self.self_pos {
                self.send_append(pos);
            }
        }
    }

    fn send_append(&mut self, pos: usize) {
        self.maybe_send_append(pos, true);
    }

    /// Sends the next `MsgApp` to the voter at `pos` unless flow control forbids it; an empty
    /// one (carrying just the commit index) only if `send_if_empty`.
    fn maybe_send_append(&mut self, pos: usize, send_if_empty: bool) -> bool {
        let last = self.last_index();
        let pr = &self.prs[pos];
        if pr.is_paused() {
            return false;
        }
        let next = pr.next;
        let prev_index = next - 1;
        let Some(prev_term) = self.term_at(prev_index) else {
            if prev_index < self.log.first_index() {
                // etcd-io/raft maybeSendAppend: "the log probably got truncated at >= pr.Next, so we
                // can't catch up the follower log anymore. Send a snapshot instead."
                return self.maybe_send_snapshot(pos);
            }
            // Cannot happen (next <= last + 1 always); stay silent rather than send garbage.
            debug_assert!(false, "progress next {next} beyond log end {last}");
            return false;
        };
        let hi = if next <= last {
            last.min(next + self.max_msg_entries as u64 - 1)
        } else {
            prev_index
        };
        let n = usize_from(hi - prev_index);
        if n == 0 && !send_if_empty {
            return false;
        }
        let to = pr.id;
        let mut m = RaftMsg::new(MsgType::App, self.id, to, self.term);
        m.index = prev_index;
        m.log_term = prev_term;
        m.commit = self.commit;
        if n > 0 {
            m.entries = self.log.slice(next, hi);
        }
        self.send(m);
        let commit = self.commit;
        let pr = &mut self.prs[pos];
        pr.sent_entries(n, hi);
        pr.sent_commit(commit);
        true
    }

    /// Sends the latest snapshot to the voter at `pos`, unless it has not been heard from lately
    /// (etcd-io/raft `maybeSendSnapshot`: "ignore sending snapshot to %x since it is not recently
    /// active").
    fn maybe_send_snapshot(&mut self, pos: usize) -> bool {
        if !self.prs[pos].recent_active {
            return false;
        }
        let Some(s) = self.log.snapshot().cloned() else {
            debug_assert!(false, "compacted log without a snapshot");
            return false;
        };
        let to = self.prs[pos].id;
        self.prs[pos].become_snapshot(s.index);
        let mut m = RaftMsg::new(MsgType::Snap, self.id, to, self.term);
        m.snapshot = Some(Box::new(s));
        self.send(m);
        true
    }

    fn bcast_heartbeat(&mut self, ctx: u64) {
        for pos in 0..self.prs.len() {
            if Some(pos) == self.self_pos {
                continue;
            }
            if ctx == 0 {
                if self.prs[pos].quiet {
                    continue;
                }
                if self.quiet_eligible(pos) {
                    self.prs[pos].quiet = true;
                    self.quiet_count += 1;
                    self.quiet_changes.push((self.prs[pos].id, true));
                    continue;
                }
            }
            let pr = &self.prs[pos];
            // Never let the heartbeat commit entries the follower is not known to match.
            let commit = pr.matched.min(self.commit);
            let mut m = RaftMsg::new(MsgType::Heartbeat, self.id, pr.id, self.term);
            m.commit = commit;
            m.context = ctx;
            self.send(m);
            self.prs[pos].sent_commit(commit);
        }
    }

    // ----------------------------------------------------------------------------------------
    // Read index (ReadOnlySafe).

    fn committed_entry_in_current_term(&self) -> bool {
        self.term_at(self.commit) == Some(self.term)
    }

    fn leader_read_request(&mut self, from: MemberId, context: u64) {
        // Until an entry of our term commits, our commit index may lag what the previous leader
        // committed, so it is not a safe read index yet.
        if !self.committed_entry_in_current_term() {
            self.postponed_reads.push((from, context));
            return;
        }
        if self.voters() == 1 {
            // A single voter is its own quorum.
            self.respond_read(from, context, self.commit);
            return;
        }
        let seq = self.next_read_seq;
        self.next_read_seq += 1;
        let acks = self.self_pos.map_or(0, |p| 1u64 << p);
        self.read_queue.push_back(PendingRead {
            seq,
            index: self.commit,
            from,
            context,
            acks,
        });
        self.bcast_heartbeat(seq);
    }

    fn release_postponed_reads(&mut self) {
        if self.postponed_reads.is_empty() || !self.committed_entry_in_current_term() {
            return;
        }
        let reads = std::mem::take(&mut self.postponed_reads);
        for (from, context) in reads {
            self.leader_read_request(from, context);
        }
    }

    fn ack_read(&mut self, pos: usize, seq: u64) {
        let Some(at) = self.read_queue.iter().position(|r| r.seq == seq) else {
            return;
        };
        let quorum = self.quorum();
        if self.prs[pos].learner {
            return;
        }
        let read = &mut self.read_queue[at];
        read.acks |= 1u64 << pos;
        if (read.acks.count_ones() as usize) < quorum {
            return;
        }
        // A quorum answered a heartbeat sent after every earlier read too, so they are all
        // confirmed (etcd's readOnly.advance).
        for _ in 0..=at {
            if let Some(r) = self.read_queue.pop_front() {
                self.respond_read(r.from, r.context, r.index);
            }
        }
    }

    fn respond_read(&mut self, from: MemberId, context: u64, index: u64) {
        if from == self.id {
            self.read_states.push(ReadState { context, index });
        } else {
            let mut m = RaftMsg::new(MsgType::ReadIndexResp, self.id, from, self.term);
            m.index = index;
            m.context = context;
            self.send(m);
        }
    }
}
