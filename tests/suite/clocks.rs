//! Independent clocks and start-up (issue 10, items 1 and 5): nodes boot at independent moments, etcd
//! members tick at independent phases, kubelets renew their leases at independent phases, and a node
//! powered back on boots its OS before its processes start. Each test failed on the old model, where
//! every process started at t = 0 and a node came back instantly (checked by running them against it).

use crate::common::{etcd_scenario, metric, run_json};
use kube_ha_sim::observe::trace::Role;
use kube_ha_sim::observe::{ProcState, TraceKind};
use kube_ha_sim::run::Outcome;
use std::collections::{BTreeMap, BTreeSet};

const S: u64 = 1_000_000_000;

fn leader_crash(seed: u64) -> Outcome {
    run_json(
        &etcd_scenario(
            "1m",
            "",
            r#"{"at":"30s","kind":"crash","target":"leader:etcd","for":"20s"}"#,
        ),
        seed,
    )
}

/// The old model gave quorum outages of exactly 0.908 s + k x 100 ms: every tick of every member fell
/// on the same 100 ms grid as the whole-second crash. With independent tick phases the outage is
/// continuous, so its remainder modulo 100 ms takes many values.
#[test]
fn quorum_outage_after_a_leader_crash_is_not_on_a_100ms_grid() {
    let mut remainders_ms = BTreeSet::new();
    for seed in 1..=40 {
        let o = leader_crash(seed);
        let out_s = metric(&o, "etcd_quorum.longest_outage_s");
        assert!(out_s > 0.5 && out_s < 6.0, "seed {seed}: outage {out_s}");
        remainders_ms.insert((out_s * 1000.0).round() as u64 % 100);
    }
    assert!(
        remainders_ms.len() > 10,
        "outage modulo 100 ms over 40 seeds: {remainders_ms:?}"
    );
}

/// The old model made the last member the first leader in almost every seed (28 of 30), so a seed
/// sweep never put the leader elsewhere. Booting at independent moments, each member leads first in
/// some seeds.
#[test]
fn the_first_etcd_leader_varies_over_seeds() {
    let mut first: BTreeMap<u16, u32> = BTreeMap::new();
    for seed in 1..=30 {
        let o = run_json(&etcd_scenario("30s", "", ""), seed);
        let leader = o.trace.events.iter().find_map(|e| match e.kind {
            TraceKind::EtcdRole {
                proc,
                role: Role::Leader,
                ..
            } => Some(proc),
            _ => None,
        });
        *first
            .entry(leader.expect("a leader is elected"))
            .or_default() += 1;
    }
    assert_eq!(first.len(), 3, "first leader per member: {first:?}");
    assert!(first.values().all(|&n| n < 20), "{first:?}");
}

/// Ten workers of a lost zone: real nodes trickle into Unknown over two or three 5 s monitor passes
/// because their leases were renewed at independent moments; the old model had all ten go Unknown in
/// one pass in every seed.
#[test]
fn workers_of_a_lost_zone_go_unknown_over_several_monitor_passes() {
    let cluster = |duration: &str, faults: &str| {
        format!(
            r#"{{"name":"t","duration":"{duration}",
                "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":30,
                            "zones":["a","b","c"],"load_balancers":1}},
                "faults":[{faults}]}}"#
        )
    };
    // The ten workers of zone a die together (their zone's control-plane node and the load balancer
    // stay up, so that no controller failover or API outage lines the nodes up instead).
    let layout = run_json(&cluster("1s", ""), 1).layout;
    let zone_a: Vec<&str> = layout
        .nodes
        .iter()
        .filter(|n| n.zone == 0 && n.name.starts_with("worker-"))
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(zone_a.len(), 10, "ten workers in zone a");
    let faults: Vec<String> = zone_a
        .iter()
        .map(|w| format!(r#"{{"at":"60s","kind":"crash","target":"{w}"}}"#))
        .collect();
    for seed in 1..=4 {
        let o = run_json(&cluster("3m", &faults.join(",")), seed);
        let unknown: Vec<u64> = o
            .trace
            .events
            .iter()
            .filter_map(|e| match &e.kind {
                TraceKind::Log { text, .. }
                    if text.contains("Ready is now Unknown")
                        && zone_a
                            .iter()
                            .any(|w| text.contains(&format!(": {w} hasn't"))) =>
                {
                    Some(e.time_ns)
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            unknown.len(),
            10,
            "seed {seed}: the ten zone-a workers go Unknown"
        );
        let passes: BTreeSet<u64> = unknown.into_iter().collect();
        assert!(
            passes.len() >= 2,
            "seed {seed}: all in one monitor pass {passes:?}"
        );
    }
}

/// First time after `from_ns` that a process of node `node` comes up.
fn first_start_on(o: &Outcome, node: usize, from_ns: u64) -> Option<u64> {
    o.trace.events.iter().find_map(|e| match e.kind {
        TraceKind::Proc {
            proc,
            state: ProcState::Up | ProcState::Unready,
        } if e.time_ns >= from_ns && o.layout.procs[proc as usize].node == node => Some(e.time_ns),
        _ => None,
    })
}

/// A node powered back on (the end of a crash with `for`, or a `restart`) boots its OS first: its
/// processes start `settings.nodes.os_boot_time` later (plus the start jitter of under 1 s), and not
/// at once as before.
#[test]
fn a_node_powered_back_on_boots_before_its_processes_start() {
    for (boot, fault) in [
        (
            None,
            r#"{"at":"30s","kind":"crash","target":"cp-1","for":"30s"}"#,
        ),
        (
            Some("5s"),
            r#"{"at":"30s","kind":"crash","target":"cp-1","for":"30s"}"#,
        ),
        (
            Some("12s"),
            r#"{"at":"30s","kind":"crash","target":"cp-1"},{"at":"60s","kind":"restart","target":"cp-1"}"#,
        ),
    ] {
        let settings = boot
            .map(|b| format!(r#""nodes":{{"os_boot_time":"{b}"}}"#))
            .unwrap_or_default();
        let o = run_json(
            &format!(
                r#"{{"name":"t","duration":"2m",
                    "topology":{{"etcd":"stacked","control_plane_nodes":3,"zones":["a","b","c"]}},
                    "settings":{{{settings}}},
                    "faults":[{fault}]}}"#
            ),
            3,
        );
        let boot_ns = boot.map_or(30 * S, |b| {
            b.trim_end_matches('s').parse::<u64>().unwrap() * S
        });
        let node = o
            .layout
            .nodes
            .iter()
            .position(|n| n.name == "cp-1")
            .unwrap();
        let up = first_start_on(&o, node, 60 * S).expect("cp-1's processes start again");
        assert!(
            up >= 60 * S + boot_ns && up < 60 * S + boot_ns + S,
            "boot {boot:?}: first process up at {up} ns"
        );
        let node_up = o.trace.events.iter().find_map(|e| match e.kind {
            TraceKind::Node { node: n, up: true } if n as usize == node => Some(e.time_ns),
            _ => None,
        });
        assert_eq!(node_up, Some(60 * S + boot_ns), "boot {boot:?}: node back");
    }
}

/// At the start of the run the nodes boot within `settings.nodes.boot_spread`: with a 20 s spread the
/// processes' first starts spread over more than a few seconds, with none at t = 0; with a zero spread
/// they all start within the 1 s start jitter.
#[test]
fn nodes_boot_within_the_boot_spread() {
    let starts = |spread: &str| -> Vec<u64> {
        let o = run_json(
            &format!(
                r#"{{"name":"t","duration":"40s",
                    "topology":{{"etcd":"stacked","control_plane_nodes":3,"workers":6,"zones":["a","b","c"]}},
                    "settings":{{"nodes":{{"boot_spread":"{spread}"}}}}}}"#
            ),
            5,
        );
        let mut first: BTreeMap<u16, u64> = BTreeMap::new();
        for e in &o.trace.events {
            if let TraceKind::Proc {
                proc,
                state: ProcState::Up | ProcState::Unready,
            } = e.kind
            {
                first.entry(proc).or_insert(e.time_ns);
            }
        }
        first.into_values().collect()
    };
    let wide = starts("20s");
    let (lo, hi) = (wide.iter().min().unwrap(), wide.iter().max().unwrap());
    assert!(*lo > 0, "nothing starts at t = 0");
    assert!(hi - lo > 5 * S && *hi <= 21 * S, "{lo}..{hi}");
    let tight = starts("0s");
    assert!(tight.iter().all(|&t| t < S), "{tight:?}");
    assert!(tight.iter().collect::<BTreeSet<_>>().len() > 1, "{tight:?}");
}

/// A reference for the seed sweeps: what etcd-io/raft's election rules give after a leader crash when
/// members tick at independent phases. A small discrete-event Monte Carlo, independent of the model's
/// Raft core, of the rules that matter (each cited to etcd-io/raft `raft.go`):
/// - ticks every heartbeat interval (100 ms) at an independent phase per member (etcd's
///   `time.NewTicker` in server/etcdserver/raft.go starts with the process);
/// - the leader broadcasts a heartbeat every tick (`tickHeartbeat`, heartbeatTimeout 1); a follower
///   sets `electionElapsed = 0` on a heartbeat (`stepFollower`, `MsgHeartbeat`);
/// - `tickElection`: `electionElapsed++`, campaign when it reaches `randomizedElectionTimeout`, drawn
///   uniformly in [electionTimeout, 2 x electionTimeout - 1] = [10, 19] ticks by `reset` (that is, on
///   every term change or state change through `becomeFollower`/`becomeCandidate`, not on heartbeats);
/// - pre-vote (`becomePreCandidate` keeps term, vote and timeout; `lead = None`); a pre-vote is
///   granted when `m.Term > r.Term` and real votes when `Vote == None && lead == None` or already for
///   the sender (`Step`, `canVote`);
/// - check-quorum's lease: a vote or pre-vote request from a higher term is ignored while
///   `lead != None && electionElapsed < electionTimeout` (`Step`, `inLease`);
/// - a candidate at the same term rejects another's vote; a pre-candidate beaten by a quorum of
///   rejections falls back to follower (`stepCandidate`, `poll`); a heartbeat makes a candidate follow.
///
/// One-way latency is the scenario's: 100 us in a zone, 1 ms across zones, plus a uniform 0-20 %
/// jitter. Logs are equal (a quiet cluster), so every voter's log check passes.
pub mod reference {
    use kube_ha_sim::engine::rng::stream;
    use rand::Rng;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    const TICK_NS: u64 = 100_000_000;
    const ELECTION_TICK: u32 = 10;
    const FSYNC_NS: u64 = 1_000_000;

    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
    enum Kind {
        Heartbeat,
        PreVote,
        PreVoteResp,
        Vote,
        VoteResp,
    }

    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    enum Role {
        Follower,
        PreCandidate,
        Candidate,
        Leader,
    }

    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
    enum Ev {
        Tick(usize),
        Msg {
            from: usize,
            to: usize,
            kind: Kind,
            term: u64,
            reject: bool,
        },
    }

    struct Member {
        term: u64,
        vote: Option<usize>,
        lead: Option<usize>,
        role: Role,
        elapsed: u32,
        timeout: u32,
        granted: usize,
        rejected: usize,
        /// The end of the WAL fsync in flight: what this member steps meanwhile is answered only
        /// after it (etcd's raftNode loop takes the next Ready once `storage.Save` returned).
        busy_until: u64,
    }

    struct Sim<'a> {
        m: Vec<Member>,
        zone_of: &'a [usize],
        rng: kube_ha_sim::engine::rng::Rng,
        q: BinaryHeap<Reverse<(u64, u64, Ev)>>,
        seq: u64,
        now: u64,
        dead: usize,
        crash_ns: u64,
        elections: u32,
        elected_ns: Option<u64>,
        elected_term: u64,
    }

    impl Sim<'_> {
        fn push(&mut self, at: u64, ev: Ev) {
            self.seq += 1;
            self.q.push(Reverse((at, self.seq, ev)));
        }

        /// A message from what `from` stepped just now. A follower or candidate in the middle of a
        /// WAL fsync sends it only once the fsync is done: etcd's raftNode loop (server/etcdserver/
        /// raft.go `start`) sends a non-leader's messages after `storage.Save`, and etcd-io/raft's
        /// `node.run` hands out the next Ready only after `Advance`, so a reply stepped during the
        /// fsync waits for it. A leader sends before its own write.
        fn send(&mut self, from: usize, to: usize, kind: Kind, term: u64, reject: bool) {
            self.send_after(self.hold(from), from, to, kind, term, reject);
        }

        /// How long what `from` steps now waits for its fsync in flight (none for a leader).
        fn hold(&self, from: usize) -> u64 {
            if self.m[from].role == Role::Leader {
                0
            } else {
                self.m[from].busy_until.saturating_sub(self.now)
            }
        }

        /// Starts a WAL fsync of a new term or vote on member `i` (after the one in flight, if any);
        /// returns how long from now until it is durable.
        fn fsync(&mut self, i: usize) -> u64 {
            let start = self.m[i].busy_until.max(self.now);
            self.m[i].busy_until = start + FSYNC_NS;
            self.m[i].busy_until - self.now
        }

        /// A message that goes out `after_ns` from now: a candidate's vote requests and a voter's
        /// granted vote wait for the WAL fsync of the new term and vote (etcd
        /// server/etcdserver/raft.go: only a leader sends before `storage.Save`; the model's default
        /// fsync is 1 ms).
        fn send_after(
            &mut self,
            after_ns: u64,
            from: usize,
            to: usize,
            kind: Kind,
            term: u64,
            reject: bool,
        ) {
            let base = if self.zone_of[from] == self.zone_of[to] {
                100_000.0
            } else {
                1_000_000.0
            };
            let d = (base * (1.0 + 0.2 * self.rng.gen::<f64>())) as u64;
            let ev = Ev::Msg {
                from,
                to,
                kind,
                term,
                reject,
            };
            self.push(self.now + after_ns + d, ev);
        }

        fn others(&self, me: usize) -> Vec<usize> {
            (0..self.m.len()).filter(|&j| j != me).collect()
        }

        /// `reset`: a new randomized election timeout in [10, 19] ticks.
        fn reset(&mut self, i: usize, term: u64) {
            let t = ELECTION_TICK + self.rng.gen_range(0..ELECTION_TICK);
            let m = &mut self.m[i];
            if m.term != term {
                m.term = term;
                m.vote = None;
            }
            m.lead = None;
            m.elapsed = 0;
            m.timeout = t;
        }

        fn become_follower(&mut self, i: usize, term: u64, lead: Option<usize>) {
            self.reset(i, term);
            self.m[i].role = Role::Follower;
            self.m[i].lead = lead;
        }

        fn campaign(&mut self, i: usize, pre: bool) {
            let term = if pre {
                let m = &mut self.m[i];
                m.role = Role::PreCandidate;
                m.lead = None;
                m.term + 1
            } else {
                let t = self.m[i].term + 1;
                self.reset(i, t);
                self.m[i].role = Role::Candidate;
                self.m[i].vote = Some(i);
                if self.now >= self.crash_ns {
                    self.elections += 1;
                }
                t
            };
            self.m[i].granted = 1;
            self.m[i].rejected = 0;
            // A pre-vote changes nothing durable; a vote request waits for the new term and vote.
            let (kind, after) = if pre {
                (Kind::PreVote, self.hold(i))
            } else {
                (Kind::Vote, self.fsync(i))
            };
            for j in self.others(i) {
                self.send_after(after, i, j, kind, term, false);
            }
        }

        fn tick(&mut self, i: usize) {
            self.push(self.now + TICK_NS, Ev::Tick(i));
            if self.m[i].role == Role::Leader {
                let term = self.m[i].term;
                for j in self.others(i) {
                    self.send(i, j, Kind::Heartbeat, term, false);
                }
                return;
            }
            let m = &mut self.m[i];
            m.elapsed += 1;
            if m.elapsed >= m.timeout {
                m.elapsed = 0;
                self.campaign(i, true);
            }
        }

        fn step(&mut self, to: usize, from: usize, kind: Kind, term: u64, reject: bool) {
            let quorum = self.m.len() / 2 + 1;
            let me = &self.m[to];
            let in_lease = me.lead.is_some() && me.elapsed < ELECTION_TICK;
            if term > me.term {
                if matches!(kind, Kind::Vote | Kind::PreVote) && in_lease {
                    return;
                }
                match kind {
                    Kind::PreVote => {}
                    Kind::PreVoteResp if !reject => {}
                    Kind::Heartbeat => self.become_follower(to, term, Some(from)),
                    _ => self.become_follower(to, term, None),
                }
            } else if term < me.term {
                if kind == Kind::PreVote {
                    let t = me.term;
                    self.send(to, from, Kind::PreVoteResp, t, true);
                }
                return;
            }
            let me = &self.m[to];
            match kind {
                Kind::PreVote | Kind::Vote => {
                    let can = me.vote == Some(from)
                        || (me.vote.is_none() && me.lead.is_none())
                        || (kind == Kind::PreVote && term > me.term);
                    let resp = if kind == Kind::PreVote {
                        Kind::PreVoteResp
                    } else {
                        Kind::VoteResp
                    };
                    if can {
                        if kind == Kind::Vote {
                            self.m[to].elapsed = 0;
                            self.m[to].vote = Some(from);
                            let fsync = self.fsync(to);
                            self.send_after(fsync, to, from, resp, term, false);
                        } else {
                            self.send(to, from, resp, term, false);
                        }
                    } else {
                        let t = me.term;
                        self.send(to, from, resp, t, true);
                    }
                }
                Kind::Heartbeat => {
                    if me.role != Role::Follower {
                        self.become_follower(to, term, Some(from));
                    }
                    self.m[to].elapsed = 0;
                    self.m[to].lead = Some(from);
                }
                Kind::PreVoteResp | Kind::VoteResp => {
                    let want = if kind == Kind::PreVoteResp {
                        Role::PreCandidate
                    } else {
                        Role::Candidate
                    };
                    if me.role != want {
                        return;
                    }
                    let m = &mut self.m[to];
                    if reject {
                        m.rejected += 1;
                    } else {
                        m.granted += 1;
                    }
                    if m.granted >= quorum {
                        if want == Role::PreCandidate {
                            self.campaign(to, false);
                        } else {
                            m.role = Role::Leader;
                            self.elected_term = m.term;
                            self.elected_ns.get_or_insert(self.now);
                        }
                    } else if m.rejected >= quorum {
                        let t = m.term;
                        self.become_follower(to, t, None);
                    }
                }
            }
        }
    }

    /// One trial: `zone_of.len()` members, a random one leading at term 1, crashed at a random moment
    /// 3-4 s in. Returns (time from the crash to the next leader, elections after the crash, the new
    /// leader's term: 2 unless a round of voting failed).
    pub fn trial(zone_of: &[usize], seed: u64) -> (u64, u32, u64) {
        let n = zone_of.len();
        let mut rng = stream(seed, 0x5eed);
        let leader = rng.gen_range(0..n);
        let crash_ns = 3_000_000_000 + rng.gen_range(0..1_000_000_000);
        let mut sim = Sim {
            m: Vec::new(),
            zone_of,
            rng,
            q: BinaryHeap::new(),
            seq: 0,
            now: 0,
            dead: leader,
            crash_ns,
            elections: 0,
            elected_ns: None,
            elected_term: 0,
        };
        for i in 0..n {
            sim.m.push(Member {
                term: 0,
                vote: None,
                lead: None,
                role: Role::Follower,
                elapsed: 0,
                timeout: 0,
                granted: 0,
                rejected: 0,
                busy_until: 0,
            });
            sim.become_follower(i, 1, Some(leader));
            let phase = sim.rng.gen_range(1..=TICK_NS);
            sim.push(phase, Ev::Tick(i));
        }
        sim.m[leader].role = Role::Leader;
        while let Some(Reverse((t, _, ev))) = sim.q.pop() {
            sim.now = t;
            if t >= crash_ns + 60_000_000_000 || sim.elected_ns.is_some() {
                break;
            }
            match ev {
                Ev::Tick(i) if i == sim.dead && t >= crash_ns => {}
                Ev::Tick(i) => sim.tick(i),
                Ev::Msg { to, .. } if to == sim.dead && t >= crash_ns => {}
                Ev::Msg {
                    from,
                    to,
                    kind,
                    term,
                    reject,
                } => sim.step(to, from, kind, term, reject),
            }
        }
        let elected = sim.elected_ns.expect("a new leader within a minute");
        (elected - crash_ns, sim.elections, sim.elected_term)
    }

    /// Over `trials`: (share with more than one election, share where a round of voting failed, p50
    /// s, p90 s, max s) of the time to a new leader.
    pub fn sweep(zone_of: &[usize], trials: u64) -> (f64, f64, f64, f64, f64) {
        let mut outs = Vec::new();
        let (mut multi, mut split) = (0, 0);
        for seed in 0..trials {
            let (out, elections, term) = trial(zone_of, seed);
            outs.push(out as f64 / 1e9);
            if elections > 1 {
                multi += 1;
            }
            if term > 2 {
                split += 1;
            }
        }
        outs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let pct = |p: f64| outs[((outs.len() - 1) as f64 * p).round() as usize];
        (
            multi as f64 / trials as f64,
            split as f64 / trials as f64,
            pct(0.5),
            pct(0.9),
            *outs.last().unwrap(),
        )
    }
}

/// The reference itself: etcd-io/raft's rules with independent phases give rare split votes and a
/// continuous outage of 1-2 s (the figures in the README's "Election timing"; print them with
/// `cargo test --test suite clocks::reference_table -- --nocapture`).
#[test]
fn reference_table() {
    for (name, zones) in [
        ("3 members, zones a b c", vec![0, 1, 2]),
        ("5 members, zones a b c a b", vec![0, 1, 2, 0, 1]),
    ] {
        // More trials for the README's figures: REFERENCE_TRIALS=100000 (2 s in release).
        let trials = std::env::var("REFERENCE_TRIALS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(4000);
        let (multi, split, p50, p90, max) = reference::sweep(&zones, trials);
        println!(
            "{name}: more than one election {:.2} %, failed rounds {:.2} %, p50 {p50:.3} s, p90 {p90:.3} s, max {max:.3} s",
            multi * 100.0,
            split * 100.0
        );
        assert!(split <= multi && multi < 0.02, "{name}: {multi} {split}");
        assert!(p50 > 0.9 && p50 < 1.6, "{name}: p50 {p50}");
        assert!(p90 > p50 && p90 < 2.1, "{name}: p90 {p90}");
    }
}

#[test]
fn the_warm_up_lasts_until_every_process_has_started() {
    // With nodes booting at independent times, every capability can be up while a late node's API
    // server is still starting behind HAProxy (seed 40: 8 failed requests right after a 9.4 s
    // "warm-up"). Steady state now also waits for every process to come up once.
    let text = std::fs::read_to_string("scenarios/stacked-scheduler-crash.json").unwrap();
    let o = run_json(&text, 40);
    assert_eq!(metric(&o, "api.failed_requests"), 0.0);
    let last_serving = o
        .trace
        .events
        .iter()
        .filter(|e| e.time_ns < 60 * 1_000_000_000)
        .filter(
            |e| matches!(&e.kind, TraceKind::Log { text, .. } if text.contains("Serving securely")),
        )
        .map(|e| e.time_ns)
        .max()
        .unwrap();
    assert!(metric(&o, "warmup_s") * 1e9 >= last_serving as f64);
}
