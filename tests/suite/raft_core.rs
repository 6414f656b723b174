//! Tests of the Raft core in the style of etcd-io/raft's `raft_test.go` and `raft_paper_test.go`:
//! a synchronous in-test network (with cuts, isolation, random drops and duplicates, slow disks, crash
//! and restart from the simulated disk) plus table tests on single members, and a randomized
//! chaos test that checks Raft's safety properties and `ticks_until_event` on every tick.
//!
//! What is better told as a story — elections, pre-vote, check-quorum, log repair, read index,
//! leadership transfer — is in the transcripts of `testdata/raft/` (see `raft_transcripts`);
//! what stays here are tables, sweeps over sizes and seeds, counts, and the chaos test.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use kube_ha_sim::components::etcd::raft::*;
use kube_ha_sim::components::etcd::types::*;
use kube_ha_sim::engine::rng::{stream, Rng};
use rand::Rng as _;

const ELECTION: u32 = 10;

fn config(id: MemberId, n: u64, pre_vote: bool, check_quorum: bool) -> Config {
    Config {
        id,
        peers: (1..=n).collect(),
        election_tick: ELECTION,
        heartbeat_tick: 1,
        pre_vote,
        check_quorum,
        max_msg_entries: 64,
    }
}

fn ent(term: u64, index: u64) -> Entry {
    Entry {
        term,
        index,
        data: EntryData::Empty,
    }
}

fn put(k: u64) -> EntryData {
    EntryData::Put {
        key: k,
        value: k,
        write_id: k,
        expected_rev: None,
    }
}

/// A durable state holding a log with the given terms (index i+1 has `terms[i]`).
fn disk(terms: &[u64], term: u64, commit: u64) -> DurableState {
    DurableState {
        hard: HardState {
            term,
            vote: 0,
            commit,
        },
        entries: terms
            .iter()
            .enumerate()
            .map(|(i, &t)| ent(t, i as u64 + 1))
            .collect(),
        ..Default::default()
    }
}

fn msg(kind: MsgType, from: MemberId, to: MemberId, term: u64) -> RaftMsg {
    RaftMsg::new(kind, from, to, term)
}

/// Asserts the `ticks_until_event` contract on a copy of `r`: the first `k - 1` ticks do nothing
/// observable, and for a follower or candidate the `k`-th tick campaigns (the value is exact).
fn check_ticks_until_event(r: &Raft) {
    let k = r.ticks_until_event();
    assert!(k >= 1);
    if k == u32::MAX {
        return;
    }
    let mut c = r.clone();
    let _ = c.ready();
    let (role, term, lead) = (c.role(), c.term(), c.leader());
    for i in 1..k {
        c.tick();
        assert!(
            !c.has_ready() && c.role() == role && c.term() == term && c.leader() == lead,
            "member {}: tick {i} of the {k} announced by ticks_until_event acted (role {:?})",
            r.id(),
            role
        );
    }
    if role != Role::Leader {
        c.tick();
        assert!(
            c.has_ready() || c.role() != role,
            "member {}: tick {k} announced by ticks_until_event did nothing",
            r.id()
        );
    }
}

/// One member of the test network.
struct Node {
    raft: Raft,
    /// Everything applied, from index 1 (replayed from disk on restart).
    applied: Vec<Entry>,
    reads: Vec<ReadState>,
    dropped: Vec<u64>,
    /// Slow-disk mode: the latest write whose `persisted()` notification is still outstanding.
    unacked_write: Option<(u64, u64)>,
}

/// etcd-io/raft's test `network`, plus the invariant checks of a model checker.
struct Network {
    base: Config,
    n: u64,
    seed: u64,
    incarnation: u64,
    nodes: Vec<Option<Node>>,
    disks: Vec<DurableState>,
    cuts: BTreeSet<(MemberId, MemberId)>,
    drop_pct: u32,
    /// Probability (percent) that a delivered message is also re-queued (duplicated).
    dup_pct: u32,
    /// Slow-disk mode: `persisted()` is notified later, at random (see `ack_writes`).
    slow_disk: bool,
    rng: Rng,
    queue: VecDeque<RaftMsg>,
    /// Every message that left a member (before filtering), when `record` is set.
    trace: Vec<RaftMsg>,
    record: bool,
    /// Election safety: the one leader of each term.
    leaders: BTreeMap<u64, MemberId>,
    /// State machine safety: the committed log as seen by every apply.
    committed: Vec<Entry>,
    /// Votes as persisted: (member, term) -> vote.
    votes: BTreeMap<(MemberId, u64), MemberId>,
}

impl Network {
    fn new(n: u64, pre_vote: bool, check_quorum: bool) -> Network {
        Network::with_config(n, config(1, n, pre_vote, check_quorum))
    }

    fn with_config(n: u64, base: Config) -> Network {
        Network::with_disks(base, vec![DurableState::default(); n as usize])
    }

    fn with_disks(base: Config, disks: Vec<DurableState>) -> Network {
        let n = disks.len() as u64;
        let mut net = Network {
            base,
            n,
            seed: 1,
            incarnation: 0,
            nodes: (0..n).map(|_| None).collect(),
            disks,
            cuts: BTreeSet::new(),
            drop_pct: 0,
            dup_pct: 0,
            slow_disk: false,
            rng: stream(7, 7),
            queue: VecDeque::new(),
            trace: Vec::new(),
            record: false,
            leaders: BTreeMap::new(),
            committed: Vec::new(),
            votes: BTreeMap::new(),
        };
        for id in 1..=n {
            net.start(id);
        }
        net
    }

    fn start(&mut self, id: MemberId) {
        let i = (id - 1) as usize;
        let mut cfg = self.base.clone();
        cfg.id = id;
        cfg.peers = (1..=self.n).collect();
        self.incarnation += 1;
        let rng = stream(self.seed, id + (self.incarnation << 16));
        let disk = &self.disks[i];
        let raft = Raft::new(cfg, disk, rng);
        assert_eq!(raft.term(), disk.hard.term);
        assert_eq!(raft.commit(), disk.hard.commit);
        // The caller replays the committed prefix itself.
        let applied = disk.entries[..disk.hard.commit as usize].to_vec();
        for e in &applied {
            check_committed(&mut self.committed, e);
        }
        self.nodes[i] = Some(Node {
            raft,
            applied,
            reads: Vec::new(),
            dropped: Vec::new(),
            unacked_write: None,
        });
    }

    fn node(&self, id: MemberId) -> &Node {
        self.nodes[(id - 1) as usize]
            .as_ref()
            .expect("member is down")
    }

    fn node_mut(&mut self, id: MemberId) -> &mut Node {
        self.nodes[(id - 1) as usize]
            .as_mut()
            .expect("member is down")
    }

    fn raft(&self, id: MemberId) -> &Raft {
        &self.node(id).raft
    }

    fn raft_mut(&mut self, id: MemberId) -> &mut Raft {
        &mut self.node_mut(id).raft
    }

    fn up(&self, id: MemberId) -> bool {
        self.nodes[(id - 1) as usize].is_some()
    }

    fn ids(&self) -> Vec<MemberId> {
        (1..=self.n).filter(|&id| self.up(id)).collect()
    }

    /// Handles one Ready of member `id` as etcd's raft node loop does: persist, then send,
    /// apply, and acknowledge the write. Returns false if there was nothing ready.
    fn drain(&mut self, id: MemberId) -> bool {
        let i = (id - 1) as usize;
        let Some(node) = self.nodes[i].as_mut() else {
            return false;
        };
        if !node.raft.has_ready() {
            return false;
        }
        let rd = node.raft.ready();
        let disk = &mut self.disks[i];
        disk.apply(rd.hard_state, &rd.entries);
        assert!(
            disk.hard.commit <= disk.entries.len() as u64,
            "member {id}: durable commit past the durable log"
        );
        if let Some(h) = rd.hard_state {
            if h.vote != 0 {
                // One vote per term, durably.
                let v = *self.votes.entry((id, h.term)).or_insert(h.vote);
                assert_eq!(v, h.vote, "member {id} voted twice in term {}", h.term);
            }
        }
        if let Some(last) = rd.entries.last() {
            if self.slow_disk {
                node.unacked_write = Some((last.index, last.term));
            } else {
                node.raft.persisted(last.index, last.term);
            }
        }
        for e in rd.committed {
            assert_eq!(
                e.index,
                node.applied.len() as u64 + 1,
                "member {id}: apply gap"
            );
            check_committed(&mut self.committed, &e);
            node.applied.push(e);
        }
        node.reads.extend(rd.read_states);
        node.dropped.extend(rd.dropped_reads);
        for m in rd.messages {
            self.enqueue(m);
        }
        true
    }

    /// Slow-disk mode: delivers the outstanding `persisted()` notifications.
    fn ack_writes(&mut self, pct: u32) {
        for id in self.ids() {
            if self.rng.gen_range(0..100) < pct {
                let node = self.node_mut(id);
                if let Some((index, term)) = node.unacked_write.take() {
                    node.raft.persisted(index, term);
                }
            }
        }
    }

    fn enqueue(&mut self, m: RaftMsg) {
        assert_ne!(m.from, m.to);
        if self.record {
            self.trace.push(m.clone());
        }
        if self.cuts.contains(&(m.from, m.to)) {
            return;
        }
        if self.drop_pct > 0 && self.rng.gen_range(0..100) < self.drop_pct {
            return;
        }
        self.queue.push_back(m);
    }

    fn deliver(&mut self, m: RaftMsg) {
        let to = m.to;
        if !self.up(to) {
            return;
        }
        if self.dup_pct > 0 && self.rng.gen_range(0..100) < self.dup_pct {
            self.queue.push_back(m.clone());
        }
        self.raft_mut(to).step(m);
        self.observe(to);
    }

    /// Election safety and leader completeness, checked whenever a member may have changed role.
    fn observe(&mut self, id: MemberId) {
        let r = self.raft(id);
        if r.role() != Role::Leader {
            return;
        }
        let term = r.term();
        match self.leaders.get(&term) {
            Some(&l) => assert_eq!(l, id, "two leaders in term {term}"),
            None => {
                for e in &self.committed {
                    assert_eq!(
                        r.entry(e.index),
                        Some(e),
                        "leader {id} of term {term} lacks committed entry {}",
                        e.index
                    );
                }
                self.leaders.insert(term, id);
            }
        }
    }

    fn drain_all(&mut self) {
        for id in 1..=self.n {
            while self.drain(id) {}
        }
    }

    /// Delivers messages until nothing is in flight and nothing is ready.
    fn flush(&mut self) {
        for _ in 0..1_000_000 {
            self.drain_all();
            match self.queue.pop_front() {
                Some(m) => self.deliver(m),
                None => return,
            }
        }
        panic!("network did not quiesce");
    }

    /// Delivers `k` messages picked at random from those in flight (reordering).
    fn deliver_random(&mut self, k: usize) {
        for _ in 0..k {
            self.drain_all();
            if self.queue.is_empty() {
                return;
            }
            let at = self.rng.gen_range(0..self.queue.len());
            let m = self.queue.remove(at).unwrap();
            self.deliver(m);
        }
        self.drain_all();
    }

    fn tick(&mut self, id: MemberId) {
        check_ticks_until_event(self.raft(id));
        self.raft_mut(id).tick();
        self.observe(id);
    }

    /// `rounds` times: tick every live member once, then deliver everything.
    fn tick_all(&mut self, rounds: u32) {
        for _ in 0..rounds {
            for id in self.ids() {
                self.tick(id);
            }
            self.flush();
        }
    }

    /// Ticks until every live member follows the same leader; returns it.
    fn settle(&mut self, max_rounds: u32) -> MemberId {
        for _ in 0..max_rounds {
            if let Some(l) = self.agreed_leader() {
                return l;
            }
            self.tick_all(1);
        }
        panic!("no stable leader after {max_rounds} rounds");
    }

    fn agreed_leader(&self) -> Option<MemberId> {
        let ids = self.ids();
        let l = self.raft(ids[0]).leader()?;
        let all = ids.iter().all(|&id| {
            let r = self.raft(id);
            r.leader() == Some(l) && r.term() == self.raft(l).term()
        });
        (all && self.up(l) && self.raft(l).role() == Role::Leader).then_some(l)
    }

    fn elect(&mut self, id: MemberId) {
        self.raft_mut(id).campaign();
        self.observe(id);
        self.flush();
        assert_eq!(
            self.raft(id).role(),
            Role::Leader,
            "member {id} failed to win"
        );
    }

    fn propose(&mut self, id: MemberId, k: u64) -> Option<u64> {
        let index = self.raft_mut(id).propose(put(k));
        self.flush();
        index
    }

    fn crash(&mut self, id: MemberId) {
        self.nodes[(id - 1) as usize] = None;
    }

    fn cut(&mut self, a: MemberId, b: MemberId) {
        self.cuts.insert((a, b));
        self.cuts.insert((b, a));
    }

    fn isolate(&mut self, id: MemberId) {
        for other in 1..=self.n {
            if other != id {
                self.cut(id, other);
            }
        }
    }

    fn recover(&mut self) {
        self.cuts.clear();
        self.drop_pct = 0;
        self.dup_pct = 0;
    }

    fn log(&self, id: MemberId) -> Vec<Entry> {
        let r = self.raft(id);
        (1..=r.last_index())
            .map(|i| r.entry(i).unwrap().clone())
            .collect()
    }
}

/// State machine safety: every applied entry agrees with what anyone applied at that index.
fn check_committed(committed: &mut Vec<Entry>, e: &Entry) {
    let i = e.index as usize;
    if i <= committed.len() {
        assert_eq!(
            &committed[i - 1],
            e,
            "different entries applied at index {i}"
        );
    } else {
        assert_eq!(
            i,
            committed.len() + 1,
            "applied past the known committed log"
        );
        committed.push(e.clone());
    }
}

// ------------------------------------------------------------------------------------------------
// Leader election.

#[test]
fn leader_election_table() {
    // (cluster size, members down, expected role and term of member 1 after it campaigns once)
    for pre_vote in [false, true] {
        let (lost_role, lost_term) = if pre_vote {
            (Role::PreCandidate, 0)
        } else {
            (Role::Candidate, 1)
        };
        let cases: &[(u64, &[MemberId], Role, u64)] = &[
            (1, &[], Role::Leader, 1),
            (2, &[], Role::Leader, 1),
            (2, &[2], lost_role, lost_term),
            (3, &[], Role::Leader, 1),
            (3, &[3], Role::Leader, 1),
            (3, &[2, 3], lost_role, lost_term),
            (4, &[4], Role::Leader, 1),
            (4, &[2, 3], lost_role, lost_term),
            (5, &[2, 3], Role::Leader, 1),
            (5, &[2, 3, 4], lost_role, lost_term),
            (6, &[5, 6], Role::Leader, 1),
            (6, &[4, 5, 6], lost_role, lost_term),
            (7, &[5, 6, 7], Role::Leader, 1),
            (7, &[4, 5, 6, 7], lost_role, lost_term),
        ];
        for (i, &(n, down, role, term)) in cases.iter().enumerate() {
            let mut net = Network::new(n, pre_vote, true);
            for &d in down {
                net.crash(d);
            }
            net.raft_mut(1).campaign();
            net.flush();
            let r = net.raft(1);
            assert_eq!(r.role(), role, "case {i} (pre_vote {pre_vote}): role");
            assert_eq!(r.term(), term, "case {i} (pre_vote {pre_vote}): term");
            if role == Role::Leader {
                // Everyone up follows, and the leader's empty entry committed everywhere.
                for id in net.ids() {
                    assert_eq!(net.raft(id).leader(), Some(1), "case {i}: leader of {id}");
                    assert_eq!(net.raft(id).commit(), 1, "case {i}: commit of {id}");
                }
            }
        }
    }
}

#[test]
fn leader_is_elected_by_ticks_in_every_cluster_size() {
    for n in 1..=7 {
        for (pre_vote, check_quorum) in [(true, true), (false, false)] {
            let mut net = Network::new(n, pre_vote, check_quorum);
            let l = net.settle(20 * ELECTION);
            let term = net.raft(l).term();
            // And it stays leader while everything is connected.
            net.tick_all(5 * ELECTION);
            assert_eq!(net.agreed_leader(), Some(l), "n {n}");
            assert_eq!(
                net.raft(l).term(),
                term,
                "n {n}: term moved without a failure"
            );
        }
    }
}

#[test]
fn randomized_election_timeout_is_uniform_over_the_etcd_range_and_redrawn() {
    let mut seen = BTreeSet::new();
    let mut redrawn = 0;
    for seed in 0..400 {
        let mut r = Raft::new(
            config(1, 3, true, true),
            &DurableState::default(),
            stream(seed, 1),
        );
        let k = r.ticks_until_event();
        assert!((ELECTION..2 * ELECTION).contains(&k), "timeout {k}");
        seen.insert(k);
        // becomeFollower (here: a higher term) draws again.
        r.step(msg(MsgType::Heartbeat, 2, 1, 5));
        let k2 = r.ticks_until_event();
        assert!((ELECTION..2 * ELECTION).contains(&k2));
        if k2 != k {
            redrawn += 1;
        }
    }
    assert_eq!(
        seen,
        (ELECTION..2 * ELECTION).collect(),
        "every value in range occurs"
    );
    assert!(
        redrawn > 300,
        "the timeout must be re-drawn on reset ({redrawn})"
    );
}

// ------------------------------------------------------------------------------------------------
// Voting.

#[test]
fn vote_requires_up_to_date_log_table() {
    // etcd's TestVoter: (voter log terms, candidate last log term, candidate last index, reject)
    let cases: &[(&[u64], u64, u64, bool)] = &[
        // same last term
        (&[1], 1, 1, false),
        (&[1], 1, 2, false),
        (&[1, 1], 1, 1, true),
        // candidate has the higher last term
        (&[1], 2, 1, false),
        (&[1], 2, 2, false),
        (&[1, 1], 2, 1, false),
        // voter has the higher last term
        (&[2], 1, 1, true),
        (&[2], 1, 2, true),
        (&[2, 1], 1, 1, true),
    ];
    for kind in [MsgType::Vote, MsgType::PreVote] {
        for (i, &(terms, log_term, index, reject)) in cases.iter().enumerate() {
            let mut r = Raft::new(config(1, 2, true, true), &disk(terms, 2, 0), stream(3, 1));
            let mut m = msg(kind, 2, 1, 3);
            m.log_term = log_term;
            m.index = index;
            r.step(m);
            let rd = r.ready();
            assert_eq!(rd.messages.len(), 1, "case {i} {kind:?}");
            let resp = &rd.messages[0];
            assert_eq!(resp.reject, reject, "case {i} {kind:?}");
            if kind == MsgType::Vote {
                assert_eq!(r.term(), 3, "case {i}: a vote request moves the term");
                assert_eq!(r.vote(), (!reject).then_some(2), "case {i}");
            } else {
                // Pre-votes never change the voter's term or vote; a grant echoes the future
                // term, a rejection carries the voter's own.
                assert_eq!(r.term(), 2, "case {i}: a pre-vote must not move the term");
                assert_eq!(r.vote(), None, "case {i}");
                assert_eq!(resp.term, if reject { 2 } else { 3 }, "case {i}");
            }
        }
    }
}

#[test]
fn stale_term_messages_table() {
    // (check_quorum, pre_vote, incoming kind) -> expected reply kind (None: ignored). The member
    // is at term 3; the message comes from term 2.
    use MsgType::*;
    let cases: &[(bool, bool, MsgType, Option<MsgType>)] = &[
        (true, false, Heartbeat, Some(AppResp)),
        (false, true, App, Some(AppResp)),
        (true, true, Heartbeat, Some(AppResp)),
        (false, false, Heartbeat, None),
        (false, false, App, None),
        (false, false, PreVote, Some(PreVoteResp)),
        (true, true, PreVote, Some(PreVoteResp)),
        (true, true, Vote, None),
        (true, true, AppResp, None),
        (true, true, VoteResp, None),
    ];
    for (i, &(check_quorum, pre_vote, kind, want)) in cases.iter().enumerate() {
        let mut r = Raft::new(
            config(1, 3, pre_vote, check_quorum),
            &disk(&[1, 2], 3, 0),
            stream(4, 1),
        );
        let _ = r.ready();
        r.step(msg(kind, 2, 1, 2));
        let rd = r.ready();
        assert_eq!(r.term(), 3, "case {i}");
        assert_eq!(rd.messages.iter().map(|m| m.kind).next(), want, "case {i}");
        if let Some(m) = rd.messages.first() {
            assert_eq!(
                (m.to, m.term),
                (2, 3),
                "case {i}: the reply teaches the stale term"
            );
            if kind == PreVote {
                assert!(m.reject, "case {i}");
            }
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Log replication.

#[test]
fn follower_append_handling_table() {
    // etcd's TestHandleMsgApp: a follower at term 2 with log [1@1, 2@2] and commit 0 receives
    // MsgApp(prev index, prev term, commit, entries) from leader 2.
    // (log_term, index, commit, entries, want last index, want commit, want reject, want hint)
    type Case = (u64, u64, u64, &'static [(u64, u64)], u64, u64, bool, u64);
    let cases: &[Case] = &[
        // consistency check fails: previous entry mismatches / is missing
        (3, 2, 3, &[], 2, 0, true, 2),
        (3, 3, 3, &[], 2, 0, true, 2),
        // appends and commits
        (1, 1, 1, &[], 2, 1, false, 0),
        (0, 0, 1, &[(2, 1)], 1, 1, false, 0),
        (2, 2, 3, &[(2, 3), (2, 4)], 4, 3, false, 0),
        (2, 2, 4, &[(2, 3)], 3, 3, false, 0),
        (1, 1, 4, &[(2, 2)], 2, 2, false, 0),
        // commit never passes the last entry the message vouches for
        (1, 1, 3, &[], 2, 1, false, 0),
        (2, 2, 3, &[], 2, 2, false, 0),
        (2, 2, 4, &[], 2, 2, false, 0),
    ];
    for (i, &(log_term, index, commit, entries, w_last, w_commit, w_reject, w_hint)) in
        cases.iter().enumerate()
    {
        let mut durable = disk(&[1, 2], 2, 0);
        let mut r = Raft::new(config(1, 2, true, true), &durable, stream(5, 1));
        let mut m = msg(MsgType::App, 2, 1, 2);
        m.log_term = log_term;
        m.index = index;
        m.commit = commit;
        m.entries = entries.iter().map(|&(t, i)| ent(t, i)).collect();
        r.step(m);
        assert_eq!(r.last_index(), w_last, "case {i}: last index");
        assert_eq!(r.commit(), w_commit, "case {i}: commit");
        let rd = r.ready();
        assert_eq!(rd.messages.len(), 1, "case {i}");
        let resp = &rd.messages[0];
        assert_eq!(resp.kind, MsgType::AppResp);
        assert_eq!(resp.reject, w_reject, "case {i}: reject");
        if w_reject {
            assert_eq!(resp.index, index, "case {i}: rejected index");
            assert_eq!(resp.reject_hint, w_hint, "case {i}: hint");
        } else {
            assert_eq!(
                resp.index,
                index + entries.len() as u64,
                "case {i}: acked index"
            );
        }
        // What the ready asks to persist reproduces the in-memory log.
        durable.apply(rd.hard_state, &rd.entries);
        let log: Vec<Entry> = (1..=r.last_index())
            .map(|j| r.entry(j).unwrap().clone())
            .collect();
        assert_eq!(durable.entries, log, "case {i}: persisted log");
        assert_eq!(
            rd.committed.len() as u64,
            w_commit,
            "case {i}: entries to apply"
        );
    }
}

#[test]
fn leader_commits_only_entries_of_its_own_term_by_counting() {
    // etcd's TestLeaderOnlyCommitsLogFromCurrentTerm: log 1@1 2@2, the leader of term 3 appends
    // its empty entry at 3. (follower ack index, expected commit)
    for (ack, want) in [(1, 0), (2, 0), (3, 3)] {
        let mut r = Raft::new(
            config(1, 2, false, true),
            &disk(&[1, 2], 2, 0),
            stream(7, 1),
        );
        r.campaign();
        assert_eq!((r.role(), r.term()), (Role::Candidate, 3));
        let mut grant = msg(MsgType::VoteResp, 2, 1, 3);
        grant.reject = false;
        r.step(grant);
        assert_eq!(r.role(), Role::Leader);
        assert_eq!(r.entry(3), Some(&ent(3, 3)));
        let _ = r.ready();
        r.persisted(3, 3);
        let mut m = msg(MsgType::AppResp, 2, 1, 3);
        m.index = ack;
        r.step(m);
        assert_eq!(r.commit(), want, "ack {ack}");
    }
}

#[test]
fn leader_counts_itself_only_after_persisted() {
    // Single member: nothing commits until its own write is durable.
    let mut r = Raft::new(
        config(1, 1, true, true),
        &DurableState::default(),
        stream(8, 1),
    );
    r.campaign();
    assert_eq!((r.role(), r.term()), (Role::Leader, 1));
    let rd = r.ready();
    assert_eq!(rd.entries, vec![ent(1, 1)]);
    assert_eq!(r.commit(), 0);
    r.persisted(1, 7); // wrong term: not this write
    assert_eq!(r.commit(), 0);
    r.persisted(1, 1);
    assert_eq!(r.commit(), 1);
    let rd = r.ready();
    assert_eq!(rd.committed, vec![ent(1, 1)]);
    assert_eq!(rd.hard_state.map(|h| h.commit), Some(1));
    assert_eq!(r.propose(put(1)), Some(2));
    let _ = r.ready();
    assert_eq!(r.commit(), 1);
    r.persisted(2, 1);
    assert_eq!(r.commit(), 2);
    assert_eq!(
        r.ready().committed.len(),
        1,
        "each committed entry is handed out once"
    );

    // Two members: the follower's ack alone is not a quorum.
    let mut r = Raft::new(
        config(1, 2, false, true),
        &DurableState::default(),
        stream(9, 1),
    );
    r.campaign();
    r.step(msg(MsgType::VoteResp, 2, 1, 1));
    assert_eq!(r.role(), Role::Leader);
    let _ = r.ready();
    let mut ack = msg(MsgType::AppResp, 2, 1, 1);
    ack.index = 1;
    r.step(ack);
    assert_eq!(r.commit(), 0);
    r.persisted(1, 1);
    assert_eq!(r.commit(), 1);

    // Three members: two followers are a quorum without the leader's own write.
    let mut r = Raft::new(
        config(1, 3, false, true),
        &DurableState::default(),
        stream(10, 1),
    );
    r.campaign();
    r.step(msg(MsgType::VoteResp, 2, 1, 1));
    assert_eq!(r.role(), Role::Leader);
    for from in [2, 3] {
        let mut ack = msg(MsgType::AppResp, from, 1, 1);
        ack.index = 1;
        r.step(ack);
    }
    assert_eq!(r.commit(), 1);
}

#[test]
fn append_messages_are_capped_and_a_lagging_follower_catches_up() {
    let mut base = config(1, 3, true, true);
    base.max_msg_entries = 3;
    let mut net = Network::with_config(3, base);
    net.elect(1);
    net.crash(3);
    for k in 1..=20 {
        net.propose(1, k);
    }
    net.start(3);
    net.record = true;
    net.tick_all(3);
    assert_eq!(net.log(3), net.log(1));
    assert_eq!(net.raft(3).commit(), 21);
    let apps: Vec<&RaftMsg> = net
        .trace
        .iter()
        .filter(|m| m.kind == MsgType::App)
        .collect();
    assert!(apps.iter().all(|m| m.entries.len() <= 3));
    assert!(
        apps.iter()
            .filter(|m| m.to == 3)
            .map(|m| m.entries.len())
            .sum::<usize>()
            >= 20
    );
    // Heartbeats never carry entries, and carry at most the follower's match as commit.
    assert!(net
        .trace
        .iter()
        .filter(|m| m.kind == MsgType::Heartbeat)
        .all(|m| m.entries.is_empty()));
}

#[test]
fn flow_control_limits_appends_to_an_unresponsive_follower() {
    // Probe state: after a new leader's first append, a silent follower gets nothing more until
    // it answers (one probe in flight), however many entries are proposed.
    let mut net = Network::new(3, true, true);
    net.crash(3);
    net.record = true;
    net.elect(1);
    for k in 1..=5 {
        net.propose(1, k);
    }
    net.tick_all(3);
    let to3 = |net: &Network| {
        net.trace
            .iter()
            .filter(|m| m.kind == MsgType::App && m.to == 3)
            .count()
    };
    assert_eq!(to3(&net), 1);
    // Replicate state: appends stream optimistically, but at most 512 stay in flight.
    let mut net = Network::new(3, true, true);
    net.elect(1);
    net.propose(1, 0);
    net.crash(3);
    net.record = true;
    for k in 1..=600 {
        net.propose(1, k);
    }
    // (Commit-only appends without entries are not in flight and not limited.)
    let with_entries = net
        .trace
        .iter()
        .filter(|m| m.kind == MsgType::App && m.to == 3 && !m.entries.is_empty())
        .count();
    assert_eq!(with_entries, 512);
    // Once it is back, a heartbeat answer reopens the flow and it catches up.
    net.start(3);
    net.tick_all(2);
    assert_eq!(net.log(3), net.log(1));
    assert_eq!(net.raft(3).commit(), net.raft(1).commit());
}

// ------------------------------------------------------------------------------------------------
// ticks_until_event.

#[test]
fn ticks_until_event_is_exact_for_followers_and_safe_for_leaders() {
    // A slower heartbeat makes the leader's schedule non-trivial (heartbeat vs check-quorum).
    for check_quorum in [true, false] {
        let mut base = config(1, 3, true, check_quorum);
        base.heartbeat_tick = 3;
        let mut net = Network::with_config(3, base);
        // Network::tick checks the contract before every tick.
        let l = net.settle(10 * ELECTION);
        let mut seen = BTreeSet::new();
        for _ in 0..4 * ELECTION {
            seen.insert(net.raft(l).ticks_until_event());
            net.tick_all(1);
        }
        assert_eq!(net.agreed_leader(), Some(l));
        assert_eq!(
            seen,
            [1, 2, 3].into(),
            "the leader counts down to each heartbeat"
        );
        // A partitioned leader: the check-quorum tick must not be skipped.
        net.isolate(l);
        for _ in 0..2 * ELECTION {
            let before = net.raft(l).role();
            net.tick_all(1);
            if before != Role::Leader {
                break;
            }
        }
        assert_eq!(
            net.raft(l).role() == Role::Leader,
            !check_quorum,
            "check_quorum {check_quorum}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Randomized safety.

#[test]
fn chaos_preserves_safety_and_recovers_liveness() {
    let mut served_total = 0;
    for case in 0..64u64 {
        let mut rng = stream(4242, case);
        let n = 1 + case % 7;
        let mut base = config(1, n, rng.gen_bool(0.6), rng.gen_bool(0.6));
        base.heartbeat_tick = rng.gen_range(1..=2);
        base.max_msg_entries = rng.gen_range(1..=8);
        let ctx = format!("case {case}: n {n} {base:?}");
        let mut net = Network::with_config(n, base);
        net.seed = case;
        net.slow_disk = rng.gen_bool(0.5);
        let mut next_key = 1;
        let mut next_read = 1;
        // Read context -> highest index applied anywhere when the read was issued.
        let mut reads: BTreeMap<u64, u64> = BTreeMap::new();
        for _ in 0..1500 {
            let live = net.ids();
            let pick = |rng: &mut Rng, ids: &[MemberId]| ids[rng.gen_range(0..ids.len())];
            match rng.gen_range(0..100) {
                0..=44 => {
                    for id in live {
                        net.tick(id);
                    }
                }
                45..=64 => {
                    let leaders: Vec<MemberId> = live
                        .iter()
                        .copied()
                        .filter(|&id| net.raft(id).role() == Role::Leader)
                        .collect();
                    for l in leaders {
                        net.raft_mut(l).propose(put(next_key));
                        next_key += 1;
                    }
                }
                65..=69 if n > 1 && !live.is_empty() => {
                    let a = pick(&mut rng, &live);
                    if rng.gen_bool(0.5) {
                        net.isolate(a);
                    } else {
                        let b = 1 + rng.gen_range(0..n);
                        if a != b {
                            net.cut(a, b);
                        }
                    }
                }
                70..=74 => net.recover(),
                75..=77 if !live.is_empty() => net.crash(pick(&mut rng, &live)),
                78..=81 => {
                    if let Some(id) = (1..=n).find(|&id| !net.up(id)) {
                        net.start(id);
                    }
                }
                82..=85 => {
                    net.drop_pct = rng.gen_range(0..30);
                    net.dup_pct = rng.gen_range(0..5);
                }
                86..=93 if !live.is_empty() => {
                    let id = pick(&mut rng, &live);
                    reads.insert(next_read, net.committed.len() as u64);
                    net.raft_mut(id).read_index(next_read);
                    next_read += 1;
                }
                _ => {}
            }
            net.drain_all();
            net.ack_writes(70);
            let k = rng.gen_range(0..=net.queue.len());
            net.deliver_random(k);
            // Linearizable reads: a read never returns an index older than anything applied
            // before it was issued.
            for id in net.ids() {
                // (Duplicated messages may answer a read twice; both answers must be fresh.)
                for rs in std::mem::take(&mut net.node_mut(id).reads) {
                    served_total += 1;
                    let floor = reads[&rs.context];
                    assert!(rs.index >= floor, "{ctx}: stale read {rs:?} < {floor}");
                }
                for c in std::mem::take(&mut net.node_mut(id).dropped) {
                    assert!(reads.contains_key(&c), "{ctx}: unknown dropped read {c}");
                }
            }
        }
        // Heal everything; a leader must emerge and replicate a final entry everywhere.
        net.recover();
        net.slow_disk = false;
        net.ack_writes(100);
        for id in 1..=n {
            if !net.up(id) {
                net.start(id);
            }
        }
        net.flush();
        let l = net.settle(60 * ELECTION);
        let index = net
            .propose(l, u64::MAX)
            .unwrap_or_else(|| panic!("{ctx}: leader refused"));
        net.tick_all(2);
        for id in 1..=n {
            assert!(
                net.raft(id).commit() >= index,
                "{ctx}: member {id} did not commit"
            );
            assert_eq!(net.log(id), net.log(l), "{ctx}: member {id} log differs");
            assert_eq!(
                net.node(id).applied.len() as u64,
                net.raft(id).commit(),
                "{ctx}: member {id} applied everything committed"
            );
        }
        assert_eq!(
            net.committed.last().map(|e| e.data.clone()),
            Some(put(u64::MAX))
        );
    }
    // The linearizability check above must not be vacuous.
    assert!(served_total > 500, "only {served_total} reads served");
}

/// Members that hand every write back with `persisted_write` (as the etcd member does) and apply
/// snapshots and committed entries into a count of applied puts: a compacted leader catches a far
/// follower up by a snapshot, and every member holds each entry once.
mod snapshots {
    use super::*;
    use kube_ha_sim::components::etcd::kv::Kv;
    use std::sync::Arc;

    struct Member {
        raft: Raft,
        /// Keys written, as the store: a snapshot carries it.
        kv: Kv,
        applied: u64,
    }

    fn member(id: MemberId) -> Member {
        Member {
            raft: Raft::new(
                config(id, 3, true, true),
                &DurableState::default(),
                stream(9, id),
            ),
            kv: Kv::default(),
            applied: 0,
        }
    }

    /// Drains every ready, persisting at once, until nothing moves; members in `down` are skipped
    /// and drop what is sent to them.
    fn settle(ms: &mut [Member], down: &[MemberId], snaps: &mut u32) {
        loop {
            let mut queue = Vec::new();
            for (i, m) in ms.iter_mut().enumerate() {
                if down.contains(&(i as u64 + 1)) || !m.raft.has_ready() {
                    continue;
                }
                let rd = m.raft.ready();
                if let Some(s) = &rd.snapshot {
                    m.kv = (*s.data).clone();
                    m.applied = s.index;
                }
                for e in &rd.committed {
                    assert_eq!(e.index, m.applied + 1, "apply gap");
                    if let EntryData::Put { key, value, .. } = e.data {
                        m.kv.put(key, value, None);
                    }
                    m.applied = e.index;
                }
                m.raft
                    .persisted_write(rd.hard_state, rd.snapshot, rd.entries);
                queue.extend(rd.messages);
            }
            if queue.is_empty() {
                return;
            }
            for msg in queue {
                if msg.kind == MsgType::Snap {
                    *snaps += 1;
                    // The transport streams it and reports the end.
                    ms[(msg.from - 1) as usize]
                        .raft
                        .report_snapshot(msg.to, true);
                }
                if !down.contains(&msg.to) {
                    ms[(msg.to - 1) as usize].raft.step(msg);
                }
            }
        }
    }

    /// Snapshot the applied store and keep `keep` entries before it, as etcd's server does.
    fn snapshot(m: &mut Member, keep: u64) {
        let term = m.raft.log_term(m.applied).unwrap();
        m.raft.create_snapshot(Snapshot {
            index: m.applied,
            term,
            data: Arc::new(m.kv.clone()),
        });
        m.raft.compact(m.applied.saturating_sub(keep));
    }

    #[test]
    fn a_compacted_leader_catches_a_far_follower_up_by_snapshot() {
        let mut ms: Vec<Member> = (1..=3).map(member).collect();
        let mut snaps = 0;
        ms[0].raft.campaign();
        settle(&mut ms, &[], &mut snaps);
        assert_eq!(ms[0].raft.role(), Role::Leader);
        // Member 3 is away while 300 entries commit; everyone snapshots and keeps 50.
        for k in 1..=300 {
            ms[0].raft.propose(put(k)).unwrap();
            settle(&mut ms, &[3], &mut snaps);
        }
        for m in &mut ms[..2] {
            snapshot(m, 50);
            assert_eq!(m.raft.first_index(), m.applied - 50 + 1);
            assert_eq!(m.raft.entries_held() as u64, 50, "one copy of the 50 kept");
        }
        // Member 3 answers the next heartbeat; the leader has compacted what it needs.
        for _ in 0..2 {
            ms[0].raft.tick();
            settle(&mut ms, &[], &mut snaps);
        }
        assert_eq!(snaps, 1, "one snapshot sent");
        let (leader, far) = (&ms[0], &ms[2]);
        assert_eq!(far.raft.commit(), leader.raft.commit());
        assert_eq!(far.kv, leader.kv, "the store came with the snapshot");
        // Installing a snapshot replaces the whole log.
        assert_eq!(far.raft.first_index(), leader.applied + 1);
        // Replication carries on from the log.
        ms[0].raft.propose(put(1000)).unwrap();
        settle(&mut ms, &[], &mut snaps);
        assert_eq!(snaps, 1);
        assert_eq!(ms[2].kv.get(1000).map(|kv| kv.value), Some(1000));
        // A crash keeps the storage only: the snapshot and the entries after it.
        let durable = ms[2].raft.clone().into_durable().restart_image();
        assert_eq!(durable.snapshot.index, durable.compacted.0);
        assert_eq!(durable.last_index(), ms[2].raft.last_index());
    }
}

/// Learners (etcd v3.4+, `etcdctl member add --learner`) get the log but neither vote nor count:
/// with voters {1, 2, 3} and learner 4, losing two voters stops commits though 4 replicates, and
/// the learner never campaigns, however long it goes without a leader.
#[test]
fn a_learner_is_replicated_to_but_never_votes_campaigns_or_counts() {
    let mut net = Network::new(4, true, true);
    for id in 1..=4 {
        net.raft_mut(id).set_members(&[1, 2, 3], &[4]);
    }
    net.elect(1);
    let committed = |net: &Network| net.raft(1).commit();
    let before = committed(&net);
    net.propose(1, 7).expect("the leader accepts");
    assert!(committed(&net) > before, "two of three voters commit");
    assert_eq!(
        net.raft(4).last_index(),
        net.raft(1).last_index(),
        "the learner replicates"
    );
    // Voters 2 and 3 gone: the leader and the learner are two of four members, but only one of
    // three voters.
    net.crash(2);
    net.crash(3);
    let before = committed(&net);
    net.propose(1, 8).expect("the leader accepts");
    net.tick_all(3);
    assert_eq!(
        committed(&net),
        before,
        "a learner's match does not count towards a quorum"
    );
    assert_eq!(net.raft(4).last_index(), net.raft(1).last_index());
    // Cut off from the leader, the learner waits: it never campaigns.
    net.isolate(4);
    net.tick_all(5 * ELECTION);
    assert_eq!(net.raft(4).role(), Role::Follower);
    assert_eq!(net.raft(4).ticks_until_event(), u32::MAX);
    // Check-quorum: the leader heard from no other voter, so it stepped down.
    assert_ne!(net.raft(1).role(), Role::Leader);
    // 3 removed and 4 promoted: 1 and 4 are two of the three voters {1, 2, 4} and elect a leader,
    // whose first entry commits.
    net.recover();
    for id in [1, 4] {
        net.raft_mut(id).set_members(&[1, 2, 4], &[]);
    }
    net.tick_all(3 * ELECTION);
    assert!([1, 4]
        .into_iter()
        .any(|id| net.raft(id).role() == Role::Leader));
    assert!(net.raft(1).commit() > before, "1 and 4 commit once 4 votes");
}
