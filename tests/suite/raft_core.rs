//! Tests of the Raft core in the style of etcd-io/raft's `raft_test.go` and `raft_paper_test.go`:
//! a synchronous in-test network (with cuts, isolation, message-type filters, random drops, crash
//! and restart from the simulated disk) plus table tests on single members, and a randomized
//! chaos test that checks Raft's safety properties and `ticks_until_event` on every tick.

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
    ignored: Vec<MsgType>,
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
            ignored: Vec::new(),
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
        if self.cuts.contains(&(m.from, m.to)) || self.ignored.contains(&m.kind) {
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

    /// Cuts every link between `group` and the rest.
    fn partition(&mut self, group: &[MemberId]) {
        for &a in group {
            for b in 1..=self.n {
                if !group.contains(&b) {
                    self.cut(a, b);
                }
            }
        }
    }

    fn ignore(&mut self, kind: MsgType) {
        self.ignored.push(kind);
    }

    fn recover(&mut self) {
        self.cuts.clear();
        self.ignored.clear();
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
fn election_lost_to_more_up_to_date_logs_table() {
    // etcd's TestLeaderElection last case: 2, 3, 4 are further along (in the same term), so they
    // reject member 1, which falls back to follower at their term.
    for pre_vote in [false, true] {
        let disks = vec![
            DurableState::default(),
            disk(&[1], 1, 0),
            disk(&[1], 1, 0),
            disk(&[1, 1], 1, 0),
            DurableState::default(),
        ];
        let mut net = Network::with_disks(config(1, 5, pre_vote, false), disks);
        net.raft_mut(1).campaign();
        net.flush();
        assert_eq!(net.raft(1).role(), Role::Follower, "pre_vote {pre_vote}");
        assert_eq!(net.raft(1).term(), 1, "pre_vote {pre_vote}");
        assert!(net.leaders.is_empty());
    }
}

#[test]
fn single_member_elects_itself_on_its_election_timeout() {
    for pre_vote in [false, true] {
        let mut net = Network::new(1, pre_vote, true);
        let k = net.raft(1).ticks_until_event();
        assert!((ELECTION..2 * ELECTION).contains(&k));
        for _ in 1..k {
            net.tick_all(1);
            assert_eq!(net.raft(1).role(), Role::Follower);
        }
        net.tick_all(1);
        assert_eq!(net.raft(1).role(), Role::Leader);
        assert_eq!(net.raft(1).term(), 1);
        assert_eq!(net.raft(1).commit(), 1);
        assert_eq!(net.propose(1, 5), Some(2));
        assert_eq!(net.raft(1).commit(), 2);
        assert_eq!(net.node(1).applied.len(), 2);
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
fn one_vote_per_term_survives_restart() {
    let cfg = config(1, 3, false, true);
    let mut r = Raft::new(cfg.clone(), &DurableState::default(), stream(1, 1));
    let vote = |from, term| {
        let mut m = msg(MsgType::Vote, from, 1, term);
        m.index = 0;
        m.log_term = 0;
        m
    };
    let answer = |r: &mut Raft| {
        let rd = r.ready();
        assert_eq!(rd.messages.len(), 1);
        assert_eq!(rd.messages[0].kind, MsgType::VoteResp);
        let granted = !rd.messages[0].reject;
        (rd, granted)
    };
    r.step(vote(2, 2));
    let (rd, granted) = answer(&mut r);
    assert!(granted);
    let hard = rd.hard_state.expect("vote must be persisted");
    assert_eq!((hard.term, hard.vote), (2, 2));
    // A second candidate in the same term is refused; the first may ask again.
    r.step(vote(3, 2));
    assert!(!answer(&mut r).1);
    r.step(vote(2, 2));
    assert!(answer(&mut r).1);
    // After a restart from the durable state, the vote still binds.
    let durable = DurableState {
        hard,
        entries: Vec::new(),
    };
    let mut r = Raft::new(cfg, &durable, stream(2, 1));
    assert_eq!(r.vote(), Some(2));
    r.step(vote(3, 2));
    assert!(!answer(&mut r).1);
    // A new term frees the vote.
    r.step(vote(3, 3));
    assert!(answer(&mut r).1);
    assert_eq!(r.vote(), Some(3));
}

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
fn check_quorum_lease_ignores_higher_term_votes_table() {
    // A follower that heard from its leader within the election timeout ignores (pre-)vote
    // requests from a higher term, without updating its term; after the lease it grants them.
    for kind in [MsgType::Vote, MsgType::PreVote] {
        for check_quorum in [true, false] {
            // Already in term 1, so the heartbeat below does not reset (and re-draw) the timer;
            // pick a seed whose timeout leaves room between lease expiry and campaign.
            let mut r = (0..)
                .map(|seed| {
                    Raft::new(
                        config(2, 3, false, check_quorum),
                        &disk(&[], 1, 0),
                        stream(seed, 2),
                    )
                })
                .find(|r| r.ticks_until_event() > ELECTION + 1)
                .unwrap();
            r.step(msg(MsgType::Heartbeat, 1, 2, 1));
            assert_eq!(r.leader(), Some(1));
            let _ = r.ready();
            let request = msg(kind, 3, 2, 2);
            r.step(request.clone());
            let rd = r.ready();
            if check_quorum {
                assert!(
                    rd.messages.is_empty(),
                    "{kind:?}: in lease the request is ignored"
                );
                assert_eq!(r.term(), 1, "{kind:?}: in lease the term is kept");
                assert_eq!(r.leader(), Some(1));
            } else {
                assert_eq!(rd.messages.len(), 1);
                assert!(
                    !rd.messages[0].reject,
                    "{kind:?}: without check-quorum it is granted"
                );
            }
            if !check_quorum {
                continue;
            }
            for _ in 0..ELECTION {
                r.tick();
            }
            assert_eq!(r.role(), Role::Follower, "still waiting to campaign");
            let _ = r.ready();
            r.step(request);
            let rd = r.ready();
            assert_eq!(rd.messages.len(), 1, "{kind:?}: lease expired");
            assert!(!rd.messages[0].reject, "{kind:?}: granted after the lease");
            let want_term = if kind == MsgType::Vote { 2 } else { 1 };
            assert_eq!(r.term(), want_term);
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
// Pre-vote and check-quorum at cluster level.

#[test]
fn rejoining_partitioned_member_disrupts_only_without_pre_vote_table() {
    // (pre_vote, check_quorum, rejoin disrupts the leader)
    for (pre_vote, check_quorum, disrupts) in [
        (true, true, false),
        (true, false, false),
        (false, true, true),
        (false, false, true),
    ] {
        let ctx = format!("pre_vote {pre_vote} check_quorum {check_quorum}");
        let mut net = Network::new(3, pre_vote, check_quorum);
        net.elect(1);
        net.propose(1, 1);
        net.isolate(3);
        // Member 3 misses this entry, so its log is behind and it can never win.
        net.propose(1, 2);
        let term = net.raft(1).term();
        net.tick_all(6 * ELECTION);
        if pre_vote {
            assert_eq!(
                net.raft(3).term(),
                term,
                "{ctx}: pre-vote keeps the isolated term"
            );
        } else {
            assert!(
                net.raft(3).term() > term,
                "{ctx}: the isolated member bumps its term"
            );
        }
        assert_eq!(net.raft(1).role(), Role::Leader, "{ctx}");
        assert_eq!(
            net.raft(1).term(),
            term,
            "{ctx}: majority unaffected while partitioned"
        );

        net.recover();
        net.tick_all(3 * ELECTION);
        if disrupts {
            assert!(
                net.raft(1).term() > term,
                "{ctx}: the old leader must have stepped down"
            );
            let l = net.settle(20 * ELECTION);
            assert_ne!(l, 3, "{ctx}: the stale member cannot win");
            assert!(net.raft(l).term() > term);
        } else {
            assert_eq!(net.agreed_leader(), Some(1), "{ctx}: leader undisturbed");
            assert_eq!(net.raft(1).term(), term, "{ctx}");
            assert_eq!(net.raft(3).term(), term, "{ctx}");
        }
        // Either way member 3 catches up.
        assert_eq!(net.raft(3).commit(), net.raft(1).commit(), "{ctx}");
    }
}

#[test]
fn check_quorum_steps_down_a_minority_leader_table() {
    // (cluster size, the leader's side of the partition)
    let cases: &[(u64, &[MemberId])] = &[(3, &[1]), (5, &[1, 2]), (2, &[1]), (4, &[1, 2])];
    for &(n, side) in cases {
        for check_quorum in [true, false] {
            let ctx = format!("n {n} side {side:?} check_quorum {check_quorum}");
            let mut net = Network::new(n, true, check_quorum);
            net.elect(1);
            let term = net.raft(1).term();
            // A fully connected leader keeps its role across many election timeouts.
            net.tick_all(5 * ELECTION);
            assert_eq!(net.raft(1).role(), Role::Leader, "{ctx}");
            net.partition(side);
            // Entries proposed on the minority side never commit.
            let index = net.propose(1, 9).unwrap();
            // The first check after the cut may still count the answers to the heartbeat sent
            // just before it, so stepping down takes at most two election timeouts.
            let mut ticks = 0;
            while net.raft(1).role() == Role::Leader && ticks < 5 * ELECTION {
                net.tick_all(1);
                ticks += 1;
                assert!(net.raft(1).commit() < index, "{ctx}");
            }
            if check_quorum {
                assert!(
                    ticks > ELECTION && ticks <= 2 * ELECTION,
                    "{ctx}: {ticks} ticks"
                );
                assert_eq!(net.raft(1).role(), Role::Follower, "{ctx}: must step down");
                assert_eq!(
                    net.raft(1).term(),
                    term,
                    "{ctx}: stepping down keeps the term"
                );
            } else {
                assert_eq!(
                    net.raft(1).role(),
                    Role::Leader,
                    "{ctx}: no check, no step down"
                );
            }
        }
    }
}

#[test]
fn two_member_cluster_needs_both() {
    for (pre_vote, check_quorum) in [(true, true), (false, false)] {
        // One member down from the start: no leader, ever.
        let mut net = Network::new(2, pre_vote, check_quorum);
        net.crash(2);
        net.tick_all(20 * ELECTION);
        assert!(net.leaders.is_empty());
        assert_ne!(net.raft(1).role(), Role::Leader);

        // A leader whose follower crashes cannot commit.
        let mut net = Network::new(2, pre_vote, check_quorum);
        net.elect(1);
        net.crash(2);
        let index = net.propose(1, 1).unwrap();
        net.tick_all(3 * ELECTION);
        assert!(net.raft(1).commit() < index);
        assert_eq!(
            net.raft(1).role() == Role::Leader,
            !check_quorum,
            "only check-quorum makes the lone leader step down"
        );
        // The follower returns: member 1 has the longer log, so only it can win; its new-term
        // entry then commits the old proposal too (Raft 5.4.2).
        net.start(2);
        let l = net.settle(30 * ELECTION);
        assert_eq!(l, 1);
        assert!(net.raft(1).commit() >= index);
        assert_eq!(net.raft(2).entry(index).unwrap().data, put(1));
        assert!(net.node(2).applied.len() as u64 >= index);
    }
}

// ------------------------------------------------------------------------------------------------
// Log replication.

#[test]
fn committed_entries_survive_leader_changes() {
    let mut net = Network::new(5, true, true);
    net.elect(1);
    for k in 1..=3 {
        net.propose(1, k);
    }
    let committed = net.raft(1).commit();
    assert_eq!(committed, 4);
    // The old leader and one follower are cut off; the old leader accepts proposals that can
    // never commit.
    net.partition(&[1, 2]);
    let doomed = net.propose(1, 100).unwrap();
    net.propose(1, 101);
    net.tick_all(3 * ELECTION);
    let l = (3..=5)
        .find(|&id| net.raft(id).role() == Role::Leader)
        .expect("majority elects");
    for k in 4..=6 {
        net.propose(l, k);
    }
    net.recover();
    let l2 = net.settle(10 * ELECTION);
    assert_ne!(l2, 1, "member 1 lacks the majority's entries");
    let final_log = net.log(l2);
    for id in 1..=5 {
        assert_eq!(net.log(id), final_log, "member {id} converged");
        assert_eq!(net.raft(id).commit(), net.raft(l2).commit());
        // Entries committed under the first leader are still there.
        for i in 1..=committed {
            assert_eq!(net.raft(id).entry(i), final_log.get(i as usize - 1));
        }
    }
    assert_ne!(
        final_log[doomed as usize - 1].data,
        put(100),
        "uncommitted entry overwritten"
    );
    let keys: Vec<u64> = final_log
        .iter()
        .filter_map(|e| match e.data {
            EntryData::Put { key, .. } => Some(key),
            EntryData::Empty => None,
        })
        .collect();
    assert_eq!(keys, vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn figure7_follower_logs_are_repaired() {
    // etcd's TestLeaderSyncFollowerLog (Raft paper figure 7): the leader of term 8 with the log
    // below meets followers with missing, extra and conflicting entries.
    let leader: &[u64] = &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let followers: &[&[u64]] = &[
        &[1, 1, 1, 4, 4, 5, 5, 6, 6],          // a: missing one
        &[1, 1, 1, 4],                         // b: missing many
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],    // c: one extra
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // d: extra of a newer term
        &[1, 1, 1, 4, 4, 4, 4],                // e: conflicting tail
        &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],    // f: long conflicting tail
    ];
    for (i, f) in followers.iter().enumerate() {
        for pre_vote in [true, false] {
            let disks = vec![
                disk(leader, 8, leader.len() as u64),
                disk(f, 7, 0),
                // The third member's vote lets 1 win when 2's log is "more up to date".
                DurableState::default(),
            ];
            let mut net = Network::with_disks(config(1, 3, pre_vote, true), disks);
            net.elect(1);
            assert_eq!(net.raft(1).term(), 9);
            net.propose(1, 42);
            let want = net.log(1);
            assert_eq!(want.len(), leader.len() + 2);
            assert_eq!(net.log(2), want, "follower {i}: log repaired");
            assert_eq!(net.log(3), want, "follower {i}: empty log filled");
            assert_eq!(net.raft(2).commit(), want.len() as u64);
            assert_eq!(
                net.disks[1].entries, want,
                "follower {i}: durable log repaired too"
            );
        }
    }
}

#[test]
fn rejection_hints_skip_whole_terms() {
    // etcd's example: leader terms 1 3 3 3 5 5 5 5 5, follower 1 1 1 1 2 2. Probing entry by
    // entry would take 8 rejections; the hints find index 1 after a single one.
    let disks = vec![
        disk(&[1, 3, 3, 3, 5, 5, 5, 5, 5], 5, 1),
        disk(&[1, 1, 1, 1, 2, 2], 5, 1),
        DurableState::default(),
    ];
    let mut net = Network::with_disks(config(1, 3, false, true), disks);
    net.record = true;
    net.elect(1);
    let rejections = net
        .trace
        .iter()
        .filter(|m| m.kind == MsgType::AppResp && m.from == 2 && m.reject)
        .count();
    assert_eq!(rejections, 1);
    assert_eq!(net.log(2), net.log(1));
}

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
fn conflict_repair_overwrites_from_below_the_old_last_index_but_never_committed_entries() {
    // Follower log 1@1 1@2 1@3 1@4 with commit 2; a term-3 leader overwrites from index 3.
    let mut durable = disk(&[1, 1, 1, 1], 2, 2);
    let mut r = Raft::new(config(1, 2, true, true), &durable, stream(6, 1));
    assert!(!r.has_ready(), "a restart replays nothing");
    let mut m = msg(MsgType::App, 2, 1, 3);
    m.index = 2;
    m.log_term = 1;
    m.entries = vec![ent(3, 3)];
    m.commit = 2;
    r.step(m);
    let rd = r.ready();
    assert_eq!(rd.entries, vec![ent(3, 3)], "persist from the conflict on");
    durable.apply(rd.hard_state, &rd.entries);
    assert_eq!(durable.entries, vec![ent(1, 1), ent(1, 2), ent(3, 3)]);
    assert_eq!(r.last_index(), 3);
    // A (delayed) append whose previous index is below the commit index cannot touch the
    // committed prefix: the follower just reports its commit.
    let mut m = msg(MsgType::App, 2, 1, 3);
    m.index = 1;
    m.log_term = 1;
    m.entries = vec![ent(3, 2)];
    r.step(m);
    let rd = r.ready();
    assert_eq!(r.entry(2), Some(&ent(1, 2)));
    assert!(rd.entries.is_empty());
    assert_eq!((rd.messages[0].reject, rd.messages[0].index), (false, 2));
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

#[test]
fn heartbeat_commit_is_capped_at_the_followers_match() {
    let mut net = Network::new(3, true, true);
    net.elect(1);
    // 3 misses two entries that 1 and 2 commit.
    net.cut(1, 3);
    net.propose(1, 1);
    net.propose(1, 2);
    assert_eq!(net.raft(1).commit(), 3);
    // 3 is reachable again but appends to it are lost: only heartbeats reach it, and they must
    // not carry a commit index past what 3 is known to match.
    net.recover();
    net.ignore(MsgType::App);
    net.record = true;
    net.tick_all(2);
    let hb: Vec<&RaftMsg> = net
        .trace
        .iter()
        .filter(|m| m.kind == MsgType::Heartbeat && m.to == 3)
        .collect();
    assert_eq!(hb.len(), 2);
    assert!(hb.iter().all(|m| m.commit == 1 && m.entries.is_empty()));
    assert_eq!(net.raft(3).commit(), 1);
    assert!(net
        .trace
        .iter()
        .filter(|m| m.kind == MsgType::Heartbeat && m.to == 2)
        .all(|m| m.commit == 3));
}

#[test]
fn restart_keeps_term_vote_log_and_treats_commit_as_applied() {
    let mut net = Network::new(3, true, true);
    net.elect(1);
    net.propose(1, 1);
    net.propose(1, 2);
    let before = net.log(2);
    let hard = net.disks[1].hard;
    net.crash(2);
    net.start(2);
    let r = net.raft(2);
    assert_eq!(r.hard_state(), hard);
    assert_eq!(r.vote(), Some(1));
    assert_eq!(net.log(2), before);
    assert_eq!(r.role(), Role::Follower);
    assert_eq!(r.leader(), None);
    assert!(!r.has_ready(), "nothing to re-apply or re-persist");
    // It rejoins and receives the next entry.
    net.propose(1, 3);
    assert_eq!(net.log(2), net.log(1));
}

// ------------------------------------------------------------------------------------------------
// Read index.

#[test]
fn read_index_is_served_only_by_a_leader_with_quorum() {
    let mut net = Network::new(5, true, true);
    net.elect(1);
    net.propose(1, 1);
    let commit = net.raft(1).commit();
    // On the leader: after one heartbeat round.
    net.record = true;
    net.raft_mut(1).read_index(7);
    net.flush();
    assert_eq!(
        net.node(1).reads,
        vec![ReadState {
            context: 7,
            index: commit
        }]
    );
    assert!(net
        .trace
        .iter()
        .any(|m| m.kind == MsgType::Heartbeat && m.context != 0));
    // On a follower: forwarded, answered with the leader's commit index.
    net.raft_mut(2).read_index(8);
    net.flush();
    assert_eq!(
        net.node(2).reads,
        vec![ReadState {
            context: 8,
            index: commit
        }]
    );
    // A leader that still hears from one follower, but not from a quorum, cannot confirm its
    // leadership, neither for its own reads nor for forwarded ones.
    net.partition(&[1, 2]);
    net.raft_mut(1).read_index(9);
    net.raft_mut(2).read_index(10);
    let mut ticks = 0;
    while net.raft(1).role() == Role::Leader {
        assert_eq!(
            net.node(1).reads.len(),
            1,
            "no read served without a quorum"
        );
        assert_eq!(
            net.node(2).reads.len(),
            1,
            "no read served without a quorum"
        );
        assert!(net.node(1).dropped.is_empty());
        net.tick_all(1);
        ticks += 1;
    }
    // Check-quorum deposes it within two election timeouts (the first check may still see the
    // activity from before the partition); its own pending read is reported as dropped.
    assert!(ticks <= 2 * ELECTION, "took {ticks} ticks");
    assert_eq!(net.raft(1).role(), Role::Follower);
    assert_eq!(net.node(1).dropped, vec![9]);
    assert_eq!(net.node(1).reads.len(), 1);
    assert_eq!(net.node(2).reads.len(), 1);
}

#[test]
fn read_index_without_a_leader_is_dropped() {
    let mut net = Network::new(3, true, true);
    net.raft_mut(2).read_index(5);
    net.flush();
    assert_eq!(net.node(2).dropped, vec![5]);
    assert!(net.node(2).reads.is_empty());
    // Neither does a (pre-)candidate serve reads.
    net.crash(2);
    net.crash(3);
    net.raft_mut(1).campaign();
    net.flush();
    assert_eq!(net.raft(1).role(), Role::PreCandidate);
    net.raft_mut(1).read_index(6);
    net.flush();
    assert_eq!(net.node(1).dropped, vec![6]);
}

#[test]
fn read_index_waits_for_a_commit_in_the_leaders_term() {
    // Without check-quorum so that member 2 can take over from a healthy leader at once.
    let mut net = Network::new(3, true, false);
    // Make the previous term commit something, then elect a new leader whose empty entry
    // cannot commit yet (acks are lost).
    net.elect(1);
    net.propose(1, 1);
    net.ignore(MsgType::AppResp);
    net.raft_mut(2).campaign();
    net.flush();
    assert_eq!(net.raft(2).role(), Role::Leader);
    assert_eq!(net.raft(2).commit(), 2, "own-term entry not committed yet");
    net.raft_mut(2).read_index(11);
    net.raft_mut(3).read_index(12);
    net.flush();
    assert!(net.node(2).reads.is_empty(), "read postponed");
    assert!(net.node(3).reads.is_empty(), "forwarded read postponed");
    net.recover();
    net.tick_all(2);
    let commit = net.raft(2).commit();
    assert_eq!(commit, 3);
    assert_eq!(
        net.node(2).reads,
        vec![ReadState {
            context: 11,
            index: commit
        }]
    );
    assert_eq!(
        net.node(3).reads,
        vec![ReadState {
            context: 12,
            index: commit
        }]
    );
}

#[test]
fn single_member_read_index() {
    let mut net = Network::new(1, true, true);
    net.elect(1);
    net.raft_mut(1).read_index(3);
    net.flush();
    assert_eq!(
        net.node(1).reads,
        vec![ReadState {
            context: 3,
            index: 1
        }]
    );
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
