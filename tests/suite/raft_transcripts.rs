//! Raft protocol stories as data-driven transcripts (`testdata/raft/*.txt`), in the style of
//! etcd-io/raft's `interaction_env`: members driven through their Ready contract, every message
//! and state change printed, the output compared exactly. `REWRITE=1` regenerates the outputs.
//!
//! Commands (ids are 1-based member ids):
//!
//! - `add-nodes N [pre-vote=true] [check-quorum=true] [election-tick=10] [heartbeat-tick=1]
//!   [max-msg-entries=64] [seed=1]`: a new cluster of N voters (replacing any earlier one, so a
//!   file may tell the same story under several configurations).
//! - `set-disk ID log=(T,T,..) [term=T] [vote=V] [commit=C]`: replaces a member's disk (log terms
//!   from index 1) and restarts it from it.
//! - `campaign ID`, `propose ID KEY`, `read-index ID CTX`, `transfer-leadership ID`.
//! - `tick ID [N]`, `tick-heartbeat ID`, `tick-election ID` (a follower or candidate: until its
//!   randomized election timeout fires; a leader: one election timeout, i.e. a check-quorum).
//! - `stabilize [ID..] [quiet=true]`: handle Readies and deliver messages until nothing moves,
//!   printing both (quiet: only state changes).
//!   `process-ready ID..` and `deliver-msgs ID..` do one half, once.
//! - `tick-all N`: N rounds of one tick per live member followed by a silent stabilize; prints
//!   only state changes, with the round they happened in.
//! - `send A->B MsgKind field=..`: puts a hand-made message in flight (same format as printed).
//! - `isolate ID`, `cut A B`, `partition ID..` (those against the rest), `ignore MsgKind`,
//!   `recover`: messages are filtered when sent; a filtered message is printed `(dropped)`.
//! - `crash ID` (loses volatile state and the messages in flight to it), `restart ID`.
//! - `raft-state`, `status ID`, `log ID`: observe.
//!
//! The harness also asserts, on every step, what a model checker would: one leader per term,
//! leader completeness, one durable vote per term, applied entries never differ, and the durable
//! log equals the in-memory one after each Ready.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use kube_ha_sim::components::etcd::raft::{Config, Raft, Ready};
use kube_ha_sim::components::etcd::types::{
    DurableState, Entry, EntryData, HardState, MemberId, MsgType, RaftMsg, Role, CAMPAIGN_TRANSFER,
};
use kube_ha_sim::engine::rng::stream;

use crate::datadriven::{files_in, run_file, TestData};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/raft");

// ------------------------------------------------------------------------------------------------
// Formatting, and parsing what is formatted (for `send`).

/// The etcd name of a message type.
fn msg_name(kind: MsgType) -> &'static str {
    match kind {
        MsgType::App => "MsgApp",
        MsgType::AppResp => "MsgAppResp",
        MsgType::Vote => "MsgVote",
        MsgType::VoteResp => "MsgVoteResp",
        MsgType::PreVote => "MsgPreVote",
        MsgType::PreVoteResp => "MsgPreVoteResp",
        MsgType::Heartbeat => "MsgHeartbeat",
        MsgType::HeartbeatResp => "MsgHeartbeatResp",
        MsgType::ReadIndex => "MsgReadIndex",
        MsgType::ReadIndexResp => "MsgReadIndexResp",
        MsgType::TimeoutNow => "MsgTimeoutNow",
        MsgType::Snap => "MsgSnap",
    }
}

/// The message type named `name` (what `msg_name` prints).
fn msg_kind(name: &str) -> MsgType {
    use MsgType::*;
    [
        App,
        AppResp,
        Vote,
        VoteResp,
        PreVote,
        PreVoteResp,
        Heartbeat,
        HeartbeatResp,
        ReadIndex,
        ReadIndexResp,
        TimeoutNow,
        Snap,
    ]
    .into_iter()
    .find(|&k| msg_name(k) == name)
    .unwrap_or_else(|| panic!("unknown message type `{name}`"))
}

/// `term/index data`, as etcd prints entries.
fn fmt_entry(e: &Entry) -> String {
    let data = match &e.data {
        EntryData::Empty => "empty".to_string(),
        EntryData::ConfChange(cc) => format!("{cc:?}"),
        EntryData::Put {
            key,
            value,
            write_id,
            expected_rev: None,
        } if key == value && key == write_id => format!("put({key})"),
        EntryData::Put {
            key,
            value,
            write_id,
            expected_rev,
        } => format!("put(key={key},value={value},write={write_id},rev={expected_rev:?})"),
        EntryData::Alarm { member } => format!("alarm(NOSPACE,from={member})"),
        EntryData::Disarm { member } => format!("disarm(NOSPACE,from={member})"),
    };
    format!("{}/{} {data}", e.term, e.index)
}

fn fmt_entries(es: &[Entry]) -> String {
    es.iter().map(fmt_entry).collect::<Vec<_>>().join(", ")
}

/// A message with the fields its type uses (see `RaftMsg`), `term/index` pairs as etcd prints.
fn fmt_msg(m: &RaftMsg) -> String {
    let mut s = format!("{}->{} {} term={}", m.from, m.to, msg_name(m.kind), m.term);
    match m.kind {
        MsgType::App => {
            let _ = write!(s, " log={}/{} commit={}", m.log_term, m.index, m.commit);
            if !m.entries.is_empty() {
                let _ = write!(s, " entries=[{}]", fmt_entries(&m.entries));
            }
        }
        MsgType::AppResp => {
            let _ = write!(s, " index={}", m.index);
            if m.reject {
                let _ = write!(s, " reject hint={}/{}", m.log_term, m.reject_hint);
            }
        }
        MsgType::Vote | MsgType::PreVote => {
            let _ = write!(s, " log={}/{}", m.log_term, m.index);
            if m.context == CAMPAIGN_TRANSFER {
                s.push_str(" transfer");
            }
        }
        MsgType::VoteResp | MsgType::PreVoteResp => {
            if m.reject {
                s.push_str(" reject");
            }
        }
        MsgType::Heartbeat => {
            let _ = write!(s, " commit={}", m.commit);
        }
        MsgType::HeartbeatResp | MsgType::ReadIndex | MsgType::TimeoutNow => {}
        MsgType::Snap => {
            if let Some(snap) = &m.snapshot {
                let _ = write!(s, " snapshot={}/{}", snap.term, snap.index);
            }
        }
        MsgType::ReadIndexResp => {
            let _ = write!(s, " index={}", m.index);
        }
    }
    if m.context != 0 && m.context != CAMPAIGN_TRANSFER {
        let _ = write!(s, " ctx={}", m.context);
    }
    s
}

fn parse_pair(s: &str, pos: &str) -> (u64, u64) {
    let (a, b) = s
        .split_once('/')
        .unwrap_or_else(|| panic!("{pos}: expected T/I, got `{s}`"));
    let num = |x: &str| {
        x.parse()
            .unwrap_or_else(|_| panic!("{pos}: bad number `{x}`"))
    };
    (num(a), num(b))
}

fn parse_entry(s: &str, pos: &str) -> Entry {
    let (ti, data) = s.trim().split_once(' ').unwrap_or((s.trim(), "empty"));
    let (term, index) = parse_pair(ti, pos);
    let data = match data.strip_prefix("put(").and_then(|d| d.strip_suffix(')')) {
        Some(k) => put(k.parse().unwrap_or_else(|_| panic!("{pos}: bad key `{k}`"))),
        None if data == "empty" => EntryData::Empty,
        None => panic!("{pos}: bad entry data `{data}`"),
    };
    Entry { term, index, data }
}

/// The message `send` describes: the printed format read back.
fn parse_msg(td: &TestData) -> RaftMsg {
    let pos = td.pos.as_str();
    let p = td.positional();
    let [route, kind, flags @ ..] = p.as_slice() else {
        panic!("{pos}: send A->B MsgKind [field=value..]");
    };
    let (from, to) = route
        .split_once("->")
        .unwrap_or_else(|| panic!("{pos}: expected A->B, got `{route}`"));
    let id = |x: &str| {
        x.parse()
            .unwrap_or_else(|_| panic!("{pos}: bad member `{x}`"))
    };
    let mut m = RaftMsg::new(msg_kind(kind), id(from), id(to), td.scan_or("term", 0));
    td.only_keys(&["term", "log", "commit", "index", "hint", "ctx", "entries"]);
    if let Some([v]) = td.vals("log") {
        (m.log_term, m.index) = parse_pair(v, pos);
    }
    if let Some([v]) = td.vals("hint") {
        (m.log_term, m.reject_hint) = parse_pair(v, pos);
    }
    m.commit = td.scan_or("commit", 0);
    m.index = td.scan_or("index", m.index);
    m.context = td.scan_or("ctx", 0);
    if let Some([v]) = td.vals("entries") {
        m.entries = v.split(',').map(|e| parse_entry(e, pos)).collect();
    }
    for f in flags {
        match *f {
            "reject" => m.reject = true,
            "transfer" => m.context = CAMPAIGN_TRANSFER,
            other => panic!("{pos}: unknown flag `{other}`"),
        }
    }
    m
}

fn put(k: u64) -> EntryData {
    EntryData::Put {
        key: k,
        value: k,
        write_id: k,
        expected_rev: None,
    }
}

/// A change of role or term ("became"), or of the known leader alone ("follows", "lost").
fn fmt_change(id: MemberId, was: Shown, now: Shown) -> String {
    let (role, term, lead) = now;
    if (role, term) != (was.0, was.1) {
        let mut s = format!("{id} became {} at term {term}", role.name());
        if let (Role::Follower, Some(l)) = (role, lead) {
            let _ = write!(s, ", leader {l}");
        }
        return s;
    }
    match lead {
        Some(l) => format!("{id} follows leader {l} at term {term}"),
        None => format!("{id} lost its leader at term {term}"),
    }
}

/// Role, term and known leader of a member.
type Shown = (Role, u64, Option<MemberId>);

// ------------------------------------------------------------------------------------------------
// The environment.

/// State machine safety: an entry applied anywhere agrees with everything applied at its index.
fn check_committed(committed: &mut Vec<Entry>, id: MemberId, e: &Entry) {
    let i = e.index as usize;
    if i <= committed.len() {
        assert_eq!(
            &committed[i - 1],
            e,
            "member {id} applied a different entry at {i}"
        );
    } else {
        assert_eq!(i, committed.len() + 1, "member {id} applied past a gap");
        committed.push(e.clone());
    }
}

/// One live member.
struct Node {
    raft: Raft,
    /// Entries handed out as committed (replayed from disk on restart), from index 1.
    applied: u64,
    /// Reads served (`context@index`) and dropped, in order.
    reads: Vec<String>,
    dropped_reads: Vec<u64>,
    /// Role, term and leader as last printed.
    shown: Shown,
}

#[derive(Default)]
struct Env {
    base: Option<Config>,
    seed: u64,
    incarnation: u64,
    nodes: Vec<Option<Node>>,
    disks: Vec<DurableState>,
    /// Messages in flight, oldest first.
    in_flight: Vec<RaftMsg>,
    cuts: BTreeSet<(MemberId, MemberId)>,
    ignored: Vec<MsgType>,
    /// Election safety: the leader of each term.
    leaders: BTreeMap<u64, MemberId>,
    /// State machine safety: the applied log as everyone must see it.
    committed: Vec<Entry>,
    /// Durable votes: (member, term) -> vote.
    votes: BTreeMap<(MemberId, u64), MemberId>,
    /// Output of the running command.
    out: String,
    /// Prefix of state-change lines ("  " inside stabilize, "round N: " in tick-all).
    prefix: String,
    /// tick-all: print state changes only.
    quiet: bool,
}

impl Env {
    fn n(&self) -> u64 {
        self.nodes.len() as u64
    }

    fn ids(&self) -> Vec<MemberId> {
        (1..=self.n()).collect()
    }

    fn up(&self, id: MemberId) -> bool {
        self.nodes
            .get((id as usize).wrapping_sub(1))
            .is_some_and(Option::is_some)
    }

    fn node(&mut self, id: MemberId) -> &mut Node {
        self.nodes
            .get_mut((id as usize).wrapping_sub(1))
            .and_then(Option::as_mut)
            .unwrap_or_else(|| panic!("member {id} is not up"))
    }

    fn line(&mut self, s: &str) {
        self.out.push_str(s);
        self.out.push('\n');
    }

    fn start(&mut self, id: MemberId) {
        let base = self.base.clone().expect("add-nodes first");
        let i = (id - 1) as usize;
        let cfg = Config {
            id,
            peers: self.ids(),
            ..base
        };
        self.incarnation += 1;
        let rng = stream(self.seed, id + (self.incarnation << 16));
        let disk = &self.disks[i];
        let raft = Raft::new(cfg, disk, rng);
        // The caller replays the committed prefix itself.
        let applied = raft.commit();
        for e in &disk.entries[..applied as usize] {
            check_committed(&mut self.committed, id, e);
        }
        let shown = (raft.role(), raft.term(), raft.leader());
        self.nodes[i] = Some(Node {
            raft,
            applied,
            reads: Vec::new(),
            dropped_reads: Vec::new(),
            shown,
        });
    }

    /// Prints a change of role, term or leader, and checks election safety and leader
    /// completeness whenever a member leads.
    fn observe(&mut self, id: MemberId) {
        let node = self.node(id);
        let now = (node.raft.role(), node.raft.term(), node.raft.leader());
        let was = std::mem::replace(&mut node.shown, now);
        if now != was {
            let s = format!("{}{}", self.prefix, fmt_change(id, was, now));
            self.line(&s);
        }
        if now.0 != Role::Leader {
            return;
        }
        let term = now.1;
        if let Some(&l) = self.leaders.get(&term) {
            assert_eq!(l, id, "two leaders in term {term}");
            return;
        }
        let committed = self.committed.clone();
        let r = &self.node(id).raft;
        for e in &committed {
            assert_eq!(
                r.entry(e.index),
                Some(e),
                "leader {id} of term {term} lacks committed entry {}",
                e.index
            );
        }
        self.leaders.insert(term, id);
    }

    fn blocked(&self, m: &RaftMsg) -> bool {
        !self.up(m.to) || self.cuts.contains(&(m.from, m.to)) || self.ignored.contains(&m.kind)
    }

    /// Handles one Ready as etcd's node loop does with a synchronous disk: persist, acknowledge
    /// the write, apply, send. Returns false if nothing was ready.
    fn process_ready(&mut self, id: MemberId) -> bool {
        if !self.up(id) || !self.node(id).raft.has_ready() {
            return false;
        }
        let rd: Ready = self.node(id).raft.ready();
        let disk = &mut self.disks[(id - 1) as usize];
        disk.apply(rd.hard_state, &rd.entries);
        if let Some(HardState { term, vote, .. }) = rd.hard_state {
            if vote != 0 {
                let v = *self.votes.entry((id, term)).or_insert(vote);
                assert_eq!(v, vote, "member {id} voted twice in term {term}");
            }
        }
        let node = self.nodes[(id - 1) as usize].as_mut().expect("up");
        if let Some(last) = rd.entries.last() {
            node.raft.persisted(last.index, last.term);
        }
        let log: Vec<Entry> = (1..=node.raft.last_index())
            .map(|i| node.raft.entry(i).expect("in log").clone())
            .collect();
        assert_eq!(
            self.disks[(id - 1) as usize].entries,
            log,
            "member {id}: durable log"
        );
        for e in &rd.committed {
            assert_eq!(e.index, node.applied + 1, "member {id}: apply gap");
            node.applied += 1;
        }
        for r in &rd.read_states {
            node.reads.push(format!("{}@{}", r.context, r.index));
        }
        node.dropped_reads.extend(&rd.dropped_reads);
        for e in &rd.committed {
            check_committed(&mut self.committed, id, e);
        }
        if !self.quiet {
            self.print_ready(id, &rd);
        }
        for m in rd.messages {
            assert_ne!(m.from, m.to, "member {id} sent to itself");
            if !self.blocked(&m) {
                self.in_flight.push(m);
            }
        }
        true
    }

    fn print_ready(&mut self, id: MemberId, rd: &Ready) {
        self.line(&format!("> {id} handling Ready"));
        if let Some(h) = rd.hard_state {
            self.line(&format!(
                "  hard-state term={} vote={} commit={}",
                h.term, h.vote, h.commit
            ));
        }
        if !rd.entries.is_empty() {
            self.line(&format!("  entries: {}", fmt_entries(&rd.entries)));
        }
        if !rd.committed.is_empty() {
            self.line(&format!("  committed: {}", fmt_entries(&rd.committed)));
        }
        if !rd.read_states.is_empty() {
            let rs: Vec<String> = rd
                .read_states
                .iter()
                .map(|r| format!("{}@{}", r.context, r.index))
                .collect();
            self.line(&format!("  read-states: {}", rs.join(", ")));
        }
        if !rd.dropped_reads.is_empty() {
            self.line(&format!("  dropped-reads: {:?}", rd.dropped_reads));
        }
        for m in &rd.messages {
            let dropped = if self.blocked(m) { " (dropped)" } else { "" };
            self.line(&format!("  {}{dropped}", fmt_msg(m)));
        }
    }

    /// Delivers every message in flight to `id`, in the order sent. Returns false if none.
    fn deliver_msgs(&mut self, id: MemberId) -> bool {
        let (mine, rest) = std::mem::take(&mut self.in_flight)
            .into_iter()
            .partition(|m| m.to == id);
        let mine: Vec<RaftMsg> = mine;
        self.in_flight = rest;
        if mine.is_empty() {
            return false;
        }
        if !self.quiet {
            self.line(&format!("> {id} receiving messages"));
        }
        for m in mine {
            if !self.quiet {
                self.line(&format!("  {}", fmt_msg(&m)));
            }
            self.node(id).raft.step(m);
            self.observe(id);
        }
        true
    }

    fn stabilize(&mut self, ids: &[MemberId]) {
        for _ in 0..10_000 {
            let mut moved = false;
            for &id in ids {
                moved |= self.process_ready(id);
            }
            for &id in ids {
                moved |= self.deliver_msgs(id);
            }
            if !moved {
                return;
            }
        }
        panic!("the network did not quiesce");
    }

    fn tick(&mut self, id: MemberId, n: u32) {
        for _ in 0..n {
            self.node(id).raft.tick();
            self.observe(id);
        }
    }

    fn cut(&mut self, a: MemberId, b: MemberId) {
        self.cuts.insert((a, b));
        self.cuts.insert((b, a));
    }

    fn status(&mut self, id: MemberId) -> String {
        if !self.up(id) {
            return format!("{id}: down");
        }
        let n = self.node(id);
        let r = &n.raft;
        let h = r.hard_state();
        let mut s = format!(
            "{id}: {} term={} vote={} lead={} commit={} applied={} last={}",
            r.role().name(),
            h.term,
            h.vote,
            r.leader().unwrap_or(0),
            h.commit,
            n.applied,
            r.last_index()
        );
        if !n.reads.is_empty() {
            let _ = write!(s, " reads=[{}]", n.reads.join(", "));
        }
        if !n.dropped_reads.is_empty() {
            let _ = write!(s, " dropped-reads={:?}", n.dropped_reads);
        }
        s
    }

    // --------------------------------------------------------------------------------------------
    // Commands.

    fn ids_arg(&self, td: &TestData) -> Vec<MemberId> {
        let p = td.positional();
        if p.is_empty() {
            return self.ids();
        }
        (0..p.len()).map(|i| td.pos_arg(i)).collect()
    }

    fn add_nodes(&mut self, td: &TestData) {
        // A new cluster replaces the old one and everything known about it.
        *self = Env::default();
        td.only_keys(&[
            "pre-vote",
            "check-quorum",
            "election-tick",
            "heartbeat-tick",
            "max-msg-entries",
            "seed",
        ]);
        let n: u64 = td.pos_arg(0);
        self.base = Some(Config {
            id: 1,
            peers: Vec::new(),
            election_tick: td.scan_or("election-tick", 10),
            heartbeat_tick: td.scan_or("heartbeat-tick", 1),
            pre_vote: td.scan_or("pre-vote", true),
            check_quorum: td.scan_or("check-quorum", true),
            max_msg_entries: td.scan_or("max-msg-entries", 64),
        });
        self.seed = td.scan_or("seed", 1);
        self.nodes = (0..n).map(|_| None).collect();
        self.disks = vec![DurableState::default(); n as usize];
        for id in 1..=n {
            self.start(id);
        }
        self.raft_state();
    }

    fn set_disk(&mut self, td: &TestData) {
        td.only_keys(&["log", "term", "vote", "commit"]);
        let id: MemberId = td.pos_arg(0);
        let terms: Vec<u64> = td.vals("log").map_or(Vec::new(), |v| {
            v.iter()
                .filter(|t| !t.is_empty())
                .map(|t| t.parse().expect("log term"))
                .collect()
        });
        let last_term = terms.last().copied().unwrap_or(0);
        self.disks[(id - 1) as usize] = DurableState {
            hard: HardState {
                term: td.scan_or("term", last_term),
                vote: td.scan_or("vote", 0),
                commit: td.scan_or("commit", 0),
            },
            entries: terms
                .iter()
                .enumerate()
                .map(|(i, &term)| Entry {
                    term,
                    index: i as u64 + 1,
                    data: EntryData::Empty,
                })
                .collect(),
            ..Default::default()
        };
        self.in_flight.retain(|m| m.to != id);
        self.start(id);
        let s = self.status(id);
        self.line(&s);
    }

    fn raft_state(&mut self) {
        for id in self.ids() {
            if !self.up(id) {
                self.line(&format!("{id}: down"));
                continue;
            }
            let r = &self.node(id).raft;
            let mut s = format!("{id}: {} term={}", r.role().name(), r.term());
            if let Some(l) = r.leader() {
                let _ = write!(s, " leader={l}");
            }
            self.line(&s);
        }
    }

    fn tick_all(&mut self, rounds: u32) {
        self.quiet = true;
        for round in 1..=rounds {
            self.prefix = format!("round {round}: ");
            for id in self.ids() {
                if self.up(id) {
                    self.tick(id, 1);
                }
            }
            let ids = self.ids();
            self.stabilize(&ids);
        }
        self.quiet = false;
    }

    /// Runs one command and returns what it printed.
    fn run(&mut self, td: &TestData) -> String {
        self.out.clear();
        self.prefix.clear();
        let known = if td.cmd == "add-nodes" {
            self.add_nodes(td);
            true
        } else {
            self.member_cmd(td) || self.network_cmd(td) || self.observe_cmd(td)
        };
        assert!(known, "{}: unknown command `{}`", td.pos, td.cmd);
        std::mem::take(&mut self.out)
    }

    /// Commands that act on one member. Returns false for a command that is not one of them.
    fn member_cmd(&mut self, td: &TestData) -> bool {
        match td.cmd.as_str() {
            "set-disk" => self.set_disk(td),
            "campaign" => {
                let id = td.pos_arg(0);
                self.node(id).raft.campaign();
                self.observe(id);
            }
            "propose" => {
                let (id, key) = (td.pos_arg(0), td.pos_arg(1));
                match self.node(id).raft.propose(put(key)) {
                    Some(index) => self.line(&format!("index {index}")),
                    None => self.line(&format!(
                        "dropped: {id} does not accept proposals (not the leader, or transferring)"
                    )),
                }
            }
            "read-index" => {
                let (id, ctx) = (td.pos_arg(0), td.pos_arg(1));
                self.node(id).raft.read_index(ctx);
            }
            "transfer-leadership" => {
                let (id, to) = (td.pos_arg(0), td.pos_arg(1));
                if self.node(id).raft.transfer_leadership(to) {
                    self.line(&format!("transferring to {to}"));
                } else {
                    self.line("no transfer");
                }
            }
            "tick" => {
                let id = td.pos_arg(0);
                let n = if td.positional().len() > 1 {
                    td.pos_arg(1)
                } else {
                    1
                };
                self.tick(id, n);
            }
            "tick-heartbeat" => {
                let id = td.pos_arg(0);
                let n = self.base.as_ref().expect("add-nodes first").heartbeat_tick;
                self.tick(id, n);
            }
            "tick-election" => {
                let id = td.pos_arg(0);
                let r = &self.node(id).raft;
                let n = if r.role() == Role::Leader {
                    self.base.as_ref().expect("add-nodes first").election_tick
                } else {
                    r.ticks_until_event()
                };
                self.tick(id, n);
            }
            "crash" => {
                let id: MemberId = td.pos_arg(0);
                self.node(id);
                self.nodes[(id - 1) as usize] = None;
                self.in_flight.retain(|m| m.to != id);
            }
            "restart" => {
                let id = td.pos_arg(0);
                assert!(!self.up(id), "{}: member {id} is up", td.pos);
                self.start(id);
                let s = self.status(id);
                self.line(&s);
            }
            _ => return false,
        }
        true
    }

    /// Commands that move or filter messages. Returns false for a command that is not one of them.
    fn network_cmd(&mut self, td: &TestData) -> bool {
        match td.cmd.as_str() {
            "tick-all" => self.tick_all(td.pos_arg(0)),
            "stabilize" => {
                td.only_keys(&["quiet"]);
                self.quiet = td.scan_or("quiet", false);
                if !self.quiet {
                    self.prefix = "  ".into();
                }
                let ids = self.ids_arg(td);
                self.stabilize(&ids);
                self.quiet = false;
            }
            "process-ready" => {
                self.prefix = "  ".into();
                for id in self.ids_arg(td) {
                    self.process_ready(id);
                }
            }
            "deliver-msgs" => {
                self.prefix = "  ".into();
                for id in self.ids_arg(td) {
                    self.deliver_msgs(id);
                }
            }
            "send" => {
                let m = parse_msg(td);
                self.in_flight.push(m);
            }
            "isolate" => {
                let id = td.pos_arg(0);
                for other in self.ids() {
                    if other != id {
                        self.cut(id, other);
                    }
                }
            }
            "cut" => self.cut(td.pos_arg(0), td.pos_arg(1)),
            "partition" => {
                let group = self.ids_arg(td);
                for &a in &group {
                    for b in self.ids() {
                        if !group.contains(&b) {
                            self.cut(a, b);
                        }
                    }
                }
            }
            "ignore" => {
                let kind = msg_kind(td.positional().first().copied().unwrap_or_default());
                self.ignored.push(kind);
            }
            "recover" => {
                self.cuts.clear();
                self.ignored.clear();
            }
            _ => return false,
        }
        true
    }

    /// Commands that only print. Returns false for a command that is not one of them.
    fn observe_cmd(&mut self, td: &TestData) -> bool {
        match td.cmd.as_str() {
            "raft-state" => self.raft_state(),
            "status" => {
                for id in self.ids_arg(td) {
                    let s = self.status(id);
                    self.line(&s);
                }
            }
            "log" => {
                let id = td.pos_arg(0);
                let r = &self.node(id).raft;
                let log: Vec<String> = (1..=r.last_index())
                    .map(|i| fmt_entry(r.entry(i).expect("in log")))
                    .collect();
                if log.is_empty() {
                    self.line("(empty)");
                }
                for l in log {
                    self.line(&l);
                }
            }
            _ => return false,
        }
        true
    }
}

fn run_transcript(name: &str) {
    let mut env = Env::default();
    run_file(&Path::new(TESTDATA).join(name), |td| env.run(td));
}

/// One test per transcript, so that a failure names its story.
macro_rules! transcripts {
    ($($test:ident => $file:literal,)*) => {
        $(
            #[test]
            fn $test() {
                run_transcript($file);
            }
        )*

        /// Every file in testdata/raft is run by one of the tests above.
        #[test]
        fn every_transcript_has_a_test() {
            let listed = [$($file),*];
            for f in files_in(Path::new(TESTDATA), "txt") {
                let name = f.file_name().unwrap().to_string_lossy().into_owned();
                assert!(listed.contains(&name.as_str()), "{name} is not listed in transcripts!");
            }
        }
    };
}

transcripts! {
    basic_election => "basic_election.txt",
    check_quorum => "check_quorum.txt",
    check_quorum_lease => "check_quorum_lease.txt",
    conflict_repair => "conflict_repair.txt",
    election_lost_to_longer_logs => "election_lost_to_longer_logs.txt",
    figure7 => "figure7.txt",
    figure8 => "figure8.txt",
    heartbeat_commit => "heartbeat_commit.txt",
    leader_change_keeps_committed_entries => "leader_change_keeps_committed_entries.txt",
    leader_transfer => "leader_transfer.txt",
    partitioned_rejoin_checkquorum => "partitioned_rejoin_checkquorum.txt",
    partitioned_rejoin_plain => "partitioned_rejoin_plain.txt",
    partitioned_rejoin_prevote => "partitioned_rejoin_prevote.txt",
    partitioned_rejoin_prevote_checkquorum => "partitioned_rejoin_prevote_checkquorum.txt",
    read_index => "read_index.txt",
    rejection_hints => "rejection_hints.txt",
    restart => "restart.txt",
    single_member => "single_member.txt",
    two_members => "two_members.txt",
    vote_once_per_term => "vote_once_per_term.txt",
}
