//! An etcd member process: the Raft core driven by a tick clock, a WAL with fsync latency, the key-value
//! store, and the client API (puts proposed through Raft, linearizable reads through ReadIndex).

use super::capacity::{EtcdCapacity, Links};
use super::kv::{Kv, PutOutcome};
use super::raft::{Config as RaftConfig, Raft, Ready};
use super::types::{
    ConfChange, DurableState, Entry, EntryData, HardState, MemberId, MsgType, RaftMsg, Role,
    Snapshot,
};
use crate::components::ctx::{Ctx, IdGen, Obs, ProcId};
use crate::components::msg::{EtcdError, Key, KeyValue, KvOp, KvResult, Msg};
use crate::engine::Nanos;
use crate::engine::SmallMap;
use crate::observe::{ProcState, TraceKind};
use crate::scenario::model::HealthPath;
use std::sync::Arc;

/// An etcd member's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EtcdTimer {
    /// The first tick that can do anything is due, if `token` is still the armed wake-up.
    Tick { token: u64 },
    /// The WAL write in flight is fsynced.
    Fsync,
    /// The client write proposed as `write_id` timed out.
    WriteTimeout { write_id: u64 },
    /// The linearizable read with Raft read context `read_ctx` timed out.
    ReadTimeout { read_ctx: u64 },
    /// Poll number `poll` of the start-up tick adjustment.
    AdjustTicks { poll: u64 },
    /// The read with context `read_ctx` has waited `READ_INDEX_RETRY_NS` for its read index: send
    /// the ReadIndex again.
    ReadRetry { read_ctx: u64 },
    /// A stopping leader polls, once a tick, whether its leadership transfer finished.
    TransferPoll,
    /// The snapshot stream numbered `token` has been sent in full.
    SnapshotSent { token: u64 },
    /// The CPU work of the answer numbered `token` is done: it goes out.
    CpuDone { token: u64 },
    /// The Raft message numbered `token` has left on its link to the follower.
    LinkSent { token: u64 },
}

/// One ReadIndex round (see `EtcdMember::start_read_round`).
#[derive(Clone, Debug)]
struct ReadRound {
    /// The context its ReadIndex carries.
    ctx: u64,
    /// The reads it serves, until its read index comes.
    reads: Vec<u64>,
    /// Its read index, once known: the round ends when the member has applied up to it.
    index: Option<u64>,
}

/// etcd re-sends a ReadIndex that got no answer every 500 ms (`readIndexRetryTime`,
/// etcd server/etcdserver/v3_server.go, `requestCurrentIndex`): a ReadIndex dropped by a member
/// without a leader, or forwarded to a leader that died, is sent again until a leader answers or the
/// request times out.
const READ_INDEX_RETRY_NS: Nanos = 500 * crate::engine::MS;

/// The size a snapshot stands for, per key of the store. Assumption, not a measured figure: every key
/// of the model stands for a Kubernetes object (a Lease, Node, Pod, Endpoints) or a data key, which
/// etcd stores as a few KiB of protobuf plus its MVCC key; 4 KiB each. The model holds no base set of
/// cluster objects (RBAC, ConfigMaps, CRDs), so real databases are larger.
pub const SNAPSHOT_BYTES_PER_KEY: u64 = 4096;

/// How fast a snapshot streams to a follower: 10 MB/s, the peer bandwidth etcd's hardware guide
/// reasons with ("10MB/s will recover 100MB data within 15 seconds", etcd op-guide/hardware.md).
pub const SNAPSHOT_BYTES_PER_SEC: u64 = 10_000_000;

/// The time a snapshot of `bytes` takes to stream at [`SNAPSHOT_BYTES_PER_SEC`].
pub fn snapshot_transfer_ns(bytes: u64) -> Nanos {
    // 100 ns a byte: beyond u64 only for more than 184 PB; saturate.
    Nanos::try_from((bytes as u128 * crate::engine::SEC as u128) / SNAPSHOT_BYTES_PER_SEC as u128)
        .unwrap_or(Nanos::MAX)
}

/// Static configuration of a member (its flags and the initial cluster).
#[derive(Clone, Debug)]
pub struct EtcdConfig {
    pub member_id: MemberId,
    /// Every member's Raft id and process, including this one.
    pub peers: Vec<(MemberId, ProcId)>,
    /// `--heartbeat-interval`: one Raft tick.
    pub tick_ns: Nanos,
    /// `--election-timeout` in ticks.
    pub election_tick: u32,
    pub pre_vote: bool,
    pub check_quorum: bool,
    pub initial_election_tick_advance: bool,
    pub fsync_latency_ns: Nanos,
    pub request_timeout_ns: Nanos,
    /// `--snapshot-count`: a snapshot once more than this many entries were applied since the last.
    pub snapshot_count: u64,
    /// `--snapshot-catchup-entries`: entries kept before the snapshot for slow followers.
    pub snapshot_catchup_entries: u64,
    /// `--quota-backend-bytes` and the size the model gives a revision.
    pub quota: super::quota::QuotaConfig,
    /// Its cores, the CPU per request, the bandwidth to each peer.
    pub capacity: EtcdCapacity,
}

/// A client request waiting for its entry to apply or its read index to be reached.
#[derive(Clone, Debug)]
struct Waiting {
    client: ProcId,
    req_id: u64,
    op: KvOp,
    /// A `/readyz` check's linearizable read: its answer is the endpoint's status, not a range.
    health: bool,
}

impl Waiting {
    /// Answers a read that failed: the client gets `err`, a health check a 503.
    fn fail(self, ctx: &mut Ctx, err: EtcdError) {
        let msg = if self.health {
            Msg::HealthResp {
                id: self.req_id,
                ok: false,
            }
        } else {
            Msg::EtcdResp {
                id: self.req_id,
                result: Err(err),
            }
        };
        ctx.send(self.client, msg);
    }
}

/// A client's watch of a key range: what changed is sent after the event that applied it.
#[derive(Clone, Debug)]
struct Watcher {
    client: ProcId,
    id: u64,
    start: Key,
    end: Key,
    /// A write landed in the range (or the watch is new) since the last event was sent.
    dirty: bool,
}

/// A batch of WAL writes and the messages that must wait for them.
#[derive(Clone, Debug, Default)]
struct Batch {
    hard: Option<HardState>,
    snapshot: Option<Snapshot>,
    entries: Vec<Entry>,
    held: Vec<RaftMsg>,
}

/// What is lost in a crash.
#[derive(Clone)]
struct Volatile {
    raft: Raft,
    kv: Kv,
    /// The backend's size against its quota.
    backend: super::quota::Backend,
    /// The member's cores: reads and applied writes take their CPU on them.
    cores: crate::components::apf::Cores,
    /// Answers waiting for their CPU work, by token: the client, its request id, the answer.
    answers: SmallMap<u64, (ProcId, u64, Result<KvResult, EtcdError>)>,
    /// The links to the followers, and the messages on them, by token.
    links: Links,
    link_sends: SmallMap<u64, RaftMsg>,
    next_token: u64,
    /// When the ticker first fires; tick k (from 0) fires at `first_tick_ns + k x heartbeat`.
    first_tick_ns: Nanos,
    ticks_done: u64,
    wake_at: Nanos,
    wake_token: u64,
    /// The pending wake is a deadline (see `arm_tick`).
    wake_cancellable: bool,
    inflight: Option<Vec<Batch>>,
    /// Writes proposed on behalf of clients, by write id.
    writes: SmallMap<u64, (u64, Waiting)>,
    /// Reads waiting for a read index, by read context.
    reads: SmallMap<u64, (u64, Waiting)>,
    /// Reads whose index is known, waiting for apply.
    ready_reads: Vec<(u64, u64, Waiting)>,
    /// The ReadIndex round in flight (etcd's `linearizableReadLoop` runs one at a time).
    read_round: Option<ReadRound>,
    /// Reads that came while a round was in flight: they wait for the next one.
    read_next: Vec<u64>,
    /// Proposals waiting for a leader, by write id (etcd-io/raft node.go `run`: `propc = nil` while
    /// there is no leader, so `Propose` blocks until one is known or its context times out).
    blocked: Vec<(u64, EntryData)>,
    /// A tick waits in the ticker's one-slot channel while the raftNode loop is blocked in an fsync.
    tick_buffered: bool,
    /// Ranges answered since the last write into them, with their answer: a thousand kube-proxies
    /// list the same endpoints every 2 s, and walking the store for each was a fifth of such a
    /// run. Dropped by a write into the range and by a snapshot install.
    ranges: Vec<(Key, Key, std::sync::Arc<[KeyValue]>)>,
    /// The clients' watches (the API servers' watch caches), served by this member from what it has
    /// applied, as etcd's watchable store serves them (not linearizable: a member cut off from the
    /// leader sends nothing new).
    watchers: Vec<Watcher>,
    /// Ticks (by number, from..to) that fell due while the process was stalled and were dropped.
    dropped_ticks: (u64, u64),
    /// Quiet streams that started or ended in ticks run since the last event, with the tick's time,
    /// for the world (see [`Out::Quiet`](crate::components::ctx::Out::Quiet)).
    quiet_ticks: Vec<QuietTick>,
    /// Per peer, since when its connection has been active and when it last sent anything
    /// (etcd's rafthttp `ActiveSince`, used by `longestConnected`).
    peer_seen: SmallMap<MemberId, (Nanos, Nanos)>,
    /// A graceful stop waits for its leadership transfer: (transferee, give-up time).
    stopping: Option<(MemberId, Nanos)>,
    next_ctx: u64,
    /// The start-up probes of peers in flight: probe id -> the probed member.
    probes: SmallMap<u64, MemberId>,
    /// Peers that answered the start-up probe (etcd's transport.ActivePeers).
    active_peers: u64,
    /// The start-up tick adjustment is done (or given up).
    adjusted: bool,
    /// The last entry applied to the store (commit may run ahead while the WAL is busy).
    applied: u64,
    /// The index of the last snapshot (etcd's `ep.snapi`).
    snapshot_index: u64,
    /// Snapshots streaming to followers, by token: the message goes out when the stream ends.
    snapshot_sends: SmallMap<u64, RaftMsg>,
    next_snapshot_token: u64,
    role: Role,
    term: u64,
    leader: Option<MemberId>,
}

/// The membership a member's store holds, and the peer routes (id to process) it knows.
pub type Membership = (Vec<super::kv::MemberRecord>, Vec<(MemberId, ProcId)>);

/// An etcd member.
#[derive(Clone)]
pub struct EtcdMember {
    cfg: EtcdConfig,
    /// The data directory while the process is down; while it runs, its Raft core holds it as the
    /// log's storage (one copy) and this is empty.
    durable: DurableState,
    wiped: bool,
    /// Removed from the cluster by a committed membership change: it may not start as this member.
    removed: bool,
    slow_fsync_ns: Option<Nanos>,
    /// Ids of its start-up probes of peers (the member sends no other requests).
    ids: IdGen,
    v: Option<Volatile>,
}

impl EtcdMember {
    /// A member with an empty data directory.
    pub fn new(cfg: EtcdConfig) -> EtcdMember {
        EtcdMember {
            cfg,
            durable: DurableState::default(),
            wiped: false,
            removed: false,
            slow_fsync_ns: None,
            ids: IdGen::default(),
            v: None,
        }
    }

    /// The Raft core, when running (for the invariant checker and the observer only).
    pub fn raft(&self) -> Option<&Raft> {
        self.v.as_ref().map(|v| &v.raft)
    }

    /// What is on disk.
    pub fn durable(&self) -> &DurableState {
        match &self.v {
            Some(v) => v.raft.storage(),
            None => &self.durable,
        }
    }

    /// A snapshot of the store at the commit index (what `etcdctl snapshot save` against this member
    /// would hold), when running.
    pub fn save_snapshot(&self) -> Option<Snapshot> {
        let v = self.v.as_ref()?;
        let commit = v.raft.commit();
        let mut kv = v.kv.clone();
        for index in v.applied + 1..=commit {
            if let Some(e) = v.raft.entry(index) {
                put(&mut kv, &e.data, &self.cfg.peers);
            }
        }
        Some(Snapshot {
            index: commit,
            term: v.raft.log_term(commit)?,
            data: Arc::new(kv),
        })
    }

    /// This member's Raft id.
    pub fn member_id(&self) -> MemberId {
        self.cfg.member_id
    }

    /// The processes of the voting members, as this member's store knows the membership.
    pub fn voter_procs(&self) -> Vec<ProcId> {
        let ms = match &self.v {
            Some(v) => v.kv.members_or(&self.cfg.peers),
            // Down: the initial cluster it was configured with.
            None => Kv::default().members_or(&self.cfg.peers),
        };
        ms.iter().filter(|r| !r.learner).map(|r| r.proc).collect()
    }

    /// The membership this running member's store holds, and every peer route it knows.
    pub fn membership(&self) -> Option<Membership> {
        let v = self.v.as_ref()?;
        Some((v.kv.members_or(&self.cfg.peers), self.cfg.peers.clone()))
    }

    /// The alarms this running member's store holds (the members with a NOSPACE alarm in force, as
    /// applied through Raft), by member id; None while it is down.
    pub fn alarms(&self) -> Option<&[MemberId]> {
        self.v.as_ref().map(|v| v.kv.nospace.as_slice())
    }

    /// `etcdctl member add/promote/remove` reaching this member: as leader it proposes the change
    /// (one at a time: refused while an earlier one is unapplied). Err: etcd's answer.
    pub fn propose_conf(&mut self, ctx: &mut Ctx, cc: ConfChange) -> Result<u64, &'static str> {
        let v = self.v.as_mut().ok_or("etcdserver: request timed out")?;
        if v.raft.role() != Role::Leader {
            return Err("etcdserver: not leader");
        }
        if v.raft.conf_change_pending() {
            return Err(
                "etcdserver: unhandled conf change pending (one membership change at a time)",
            );
        }
        let index = v
            .raft
            .propose(EntryData::ConfChange(cc))
            .ok_or("etcdserver: leader changed")?;
        self.after_event(ctx);
        Ok(index)
    }

    /// `etcdctl alarm disarm` at the leader: proposes the deactivation of every alarm its store
    /// holds, one entry each; returns the members whose alarm it proposes to deactivate.
    pub fn propose_disarm(&mut self, ctx: &mut Ctx) -> Result<Vec<MemberId>, &'static str> {
        let v = self.v.as_mut().ok_or("etcdserver: request timed out")?;
        if v.raft.role() != Role::Leader {
            return Err("etcdserver: not leader");
        }
        let members = v.kv.nospace.clone();
        for &member in &members {
            v.raft
                .propose(EntryData::Disarm { member })
                .ok_or("etcdserver: leader changed")?;
        }
        self.after_event(ctx);
        Ok(members)
    }

    /// The process is set up as a new member joining an existing cluster (`etcdctl member add`,
    /// then etcd started with an empty data directory and `--initial-cluster-state=existing`): a new
    /// id, no data, and the membership it is told, itself a learner. Call while it is down.
    pub fn join_as(
        &mut self,
        id: MemberId,
        members: Vec<super::kv::MemberRecord>,
        routes: Vec<(MemberId, ProcId)>,
    ) {
        debug_assert!(self.v.is_none(), "join_as on a running member");
        self.cfg.member_id = id;
        self.cfg.peers = routes;
        let mut kv = Kv::default();
        kv.members = Some(members);
        self.durable = DurableState {
            snapshot: Snapshot {
                index: 0,
                term: 0,
                data: Arc::new(kv),
            },
            ..DurableState::default()
        };
        self.wiped = false;
        self.removed = false;
    }

    /// Sets or clears a slow disk.
    pub fn set_slow_disk(&mut self, fsync_ns: Option<Nanos>) {
        self.slow_fsync_ns = fsync_ns;
    }

    /// The process was stalled (SIGSTOP, a VM freeze) from `from_ns` to `to_ns`. Go's `time.Ticker`
    /// keeps one tick in its channel and drops the rest ("it adjusts the intervals or drops ticks to
    /// make up for slow receivers", Go time.NewTicker), so of the ticks that fell due meanwhile only
    /// the last runs, when the process runs again; those before the stall run as usual.
    pub fn stalled(&mut self, from_ns: Nanos, to_ns: Nanos) {
        let tick = self.cfg.tick_ns;
        let Some(v) = self.v.as_mut() else { return };
        let due = |t: Nanos| t.checked_sub(v.first_tick_ns).map_or(0, |s| s / tick + 1);
        let (first, last) = (due(from_ns), due(to_ns));
        if last > first + 1 {
            v.dropped_ticks = (first, last - 1);
        }
    }

    /// `etcdctl defrag` of a running member at `now` on its clock: its database shrinks to its live
    /// size. Returns the size before (None when the member is not running).
    pub fn defragment(&mut self, now: Nanos) -> Option<u64> {
        let v = self.v.as_mut()?;
        Some(
            v.backend
                .defragment(self.cfg.quota, now, v.kv.len() as u64, v.kv.rev),
        )
    }

    /// The backend's database size (`etcdctl endpoint status`'s DB SIZE), 0 when not running.
    pub fn db_size_bytes(&self) -> u64 {
        self.v.as_ref().map_or(0, |v| v.backend.high_water_bytes)
    }

    /// Loses the data directory (the `wipe-data` fault); the member cannot rejoin as itself.
    pub fn wipe(&mut self) {
        self.durable = DurableState::default();
        self.wiped = true;
        self.v = None;
    }

    /// Replaces the data directory with a restored snapshot (`etcdutl snapshot restore`): the member
    /// starts as part of a new logical cluster with exactly that data.
    pub fn restore(&mut self, durable: DurableState) {
        self.durable = durable;
        self.wiped = false;
        self.v = None;
    }

    /// Whether the data was wiped.
    pub fn is_wiped(&self) -> bool {
        self.wiped
    }

    fn proc_of(&self, id: MemberId) -> Option<ProcId> {
        self.cfg
            .peers
            .iter()
            .find(|(m, _)| *m == id)
            .map(|(_, p)| *p)
    }

    /// Starts the process from its data directory. Returns false if it cannot start.
    pub fn start(&mut self, ctx: &mut Ctx) -> bool {
        if self.removed {
            ctx.log(format!(
                "etcdserver: the member has been permanently removed from the cluster; member {:x} may not start",
                self.cfg.member_id
            ));
            return false;
        }
        if self.wiped {
            ctx.log(
                "etcd: member's data directory is gone; it must be removed (etcdctl member remove) and re-added before it can rejoin"
                    .into(),
            );
            return false;
        }
        let rc = RaftConfig {
            id: self.cfg.member_id,
            peers: self.cfg.peers.iter().map(|(m, _)| *m).collect(),
            election_tick: self.cfg.election_tick,
            heartbeat_tick: 1,
            pre_vote: self.cfg.pre_vote,
            check_quorum: self.cfg.check_quorum,
            max_msg_entries: 64,
        };
        // etcd's ticker (`time.NewTicker(heartbeat)` in server/etcdserver/raft.go newRaftNode) starts
        // when the process has replayed its WAL, so each member ticks at its own phase: the first tick
        // comes at an independent offset in (0, heartbeat]. Drawn before Raft's stream is cloned, so
        // the phase is not one of Raft's own timeout draws.
        let first_tick_ns = ctx.now + rand::Rng::gen_range(ctx.rng, 1..=self.cfg.tick_ns);
        let durable = std::mem::take(&mut self.durable);
        // Load the snapshot and replay the WAL after it up to the commit index into the store, as
        // etcd does on start.
        let mut kv = (*durable.snapshot.data).clone();
        let snapshot_index = durable.snapshot.index;
        let raft = Raft::restart(rc, durable, ctx.rng.clone());
        // Advance the rng so the next start of this member draws differently.
        let _: u64 = rand::Rng::gen(ctx.rng);
        let commit = raft.commit();
        for index in snapshot_index + 1..=commit {
            if let Some(e) = raft.entry(index) {
                put(&mut kv, &e.data, &self.cfg.peers);
            }
        }
        let mut raft = raft;
        // The membership the store holds (changes since `--initial-cluster` included).
        learn_members(&mut self.cfg.peers, &kv);
        set_raft_members(&mut raft, &kv, &self.cfg.peers);
        let mut probes = SmallMap::new();
        // etcd's adjustTicks (server/etcdserver/server.go; --initial-election-tick-advance): a single
        // member fast-forwards at once; otherwise etcd polls every 50 ms for up to 5 s until more than
        // one peer connection is active, then fast-forwards leaving 2 ticks. Peer connections are
        // modelled by probing every peer and counting the answers.
        if self.cfg.peers.len() == 1 {
            for _ in 0..self.cfg.election_tick.saturating_sub(1) {
                raft.tick();
            }
        } else if self.cfg.initial_election_tick_advance {
            probes = self.probe_peers(ctx);
        }
        let term = raft.term();
        let backend = super::quota::Backend::open(self.cfg.quota, ctx.now, kv.len() as u64, kv.rev);
        self.v = Some(Volatile {
            probes,
            raft,
            kv,
            backend,
            cores: crate::components::apf::Cores::new(self.cfg.capacity.cores),
            answers: SmallMap::new(),
            links: Links::default(),
            link_sends: SmallMap::new(),
            next_token: 1,
            first_tick_ns,
            ticks_done: 0,
            wake_at: u64::MAX,
            wake_cancellable: false,
            wake_token: 0,
            inflight: None,
            writes: SmallMap::new(),
            reads: SmallMap::new(),
            ready_reads: Vec::new(),
            read_round: None,
            read_next: Vec::new(),
            blocked: Vec::new(),
            tick_buffered: false,
            ranges: Vec::new(),
            watchers: Vec::new(),
            dropped_ticks: (0, 0),
            quiet_ticks: Vec::new(),
            peer_seen: SmallMap::new(),
            stopping: None,
            next_ctx: 1,
            active_peers: 0,
            adjusted: false,
            applied: commit,
            snapshot_index,
            snapshot_sends: SmallMap::new(),
            next_snapshot_token: 1,
            role: Role::Follower,
            term,
            leader: None,
        });
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state: ProcState::Unready,
        });
        self.after_event(ctx);
        true
    }

    /// Probes every peer (standing for its peer connection) and starts polling for the answers.
    fn probe_peers(&mut self, ctx: &mut Ctx) -> SmallMap<u64, MemberId> {
        let mut probes = SmallMap::new();
        for (m, p) in &self.cfg.peers {
            if *m != self.cfg.member_id {
                let id = self.ids.next_id();
                probes.insert(id, *m);
                // A probe stands for opening the peer connection, polled for by the prober.
                ctx.send(
                    *p,
                    Msg::EtcdPing {
                        id,
                        conn: 0,
                        syn: true,
                    },
                );
            }
        }
        ctx.timer(50 * crate::engine::MS, EtcdTimer::AdjustTicks { poll: 1 });
        probes
    }

    /// A graceful stop, as etcd's `EtcdServer.Stop` (server/etcdserver/server.go): a leader first
    /// hands leadership to the follower whose peer connection has been active longest
    /// (`TransferLeadership`, `longestConnected` in server/etcdserver/util.go) and waits, polling once
    /// a tick, until it sees that member lead or the request timeout passes (`MoveLeader`), then
    /// exits (`HardStop`). Returns true if it keeps running for the transfer (it then exits with
    /// [`Out::Exit`](crate::components::ctx::Out::Exit)).
    pub fn stop(&mut self, ctx: &mut Ctx) -> bool {
        if self.v.is_none() {
            return false;
        }
        self.catch_up(ctx.now);
        let target = self.longest_connected(ctx.now);
        let v = self.v.as_mut().unwrap();
        if v.stopping.is_some() {
            return true;
        }
        let started = match target {
            Some(to) if v.raft.role() == Role::Leader => v.raft.transfer_leadership(to),
            Some(_) | None => false,
        };
        if !started {
            return false;
        }
        let to = target.unwrap_or_default();
        v.stopping = Some((to, ctx.now + self.cfg.request_timeout_ns));
        ctx.log(format!(
            "etcdserver: {:x} leadership transfer starting, transferee {to:x} (stopping)",
            self.cfg.member_id
        ));
        ctx.timer(self.cfg.tick_ns, EtcdTimer::TransferPoll);
        self.after_event(ctx);
        true
    }

    /// The voting peer whose connection has been active longest; ties go to the lower id, as the
    /// sorted member list does in etcd's `longestConnected`. A peer silent for an election timeout
    /// counts as inactive (its stream would have broken).
    fn longest_connected(&self, now: Nanos) -> Option<MemberId> {
        let v = self.v.as_ref()?;
        let gone = self.cfg.tick_ns * self.cfg.election_tick as u64;
        v.peer_seen
            .iter()
            .filter(|(_, (_, last))| last + gone >= now)
            .min_by_key(|(m, (since, _))| (*since, **m))
            .map(|(m, _)| *m)
    }

    /// `MoveLeader`'s poll: done once the transferee leads, or given up at the request timeout.
    fn transfer_poll(&mut self, ctx: &mut Ctx) {
        let v = self.v.as_mut().unwrap();
        let Some((to, give_up_at)) = v.stopping else {
            return;
        };
        if v.raft.leader() == Some(to) {
            ctx.log(format!(
                "etcdserver: {:x} leadership transfer finished, new leader {to:x}; stopping",
                self.cfg.member_id
            ));
            ctx.out.push(crate::components::ctx::Out::Exit);
        } else if ctx.now >= give_up_at {
            ctx.log(format!(
                "etcdserver: {:x} leadership transfer failed: etcdserver: timed out leadership transfer; stopping",
                self.cfg.member_id
            ));
            ctx.out.push(crate::components::ctx::Out::Exit);
        } else {
            ctx.timer(self.cfg.tick_ns, EtcdTimer::TransferPoll);
        }
    }

    /// Drops everything volatile (a crash); the WAL batch not yet fsynced is lost. The data directory
    /// keeps the snapshot and the WAL after it.
    pub fn crash(&mut self) {
        if let Some(v) = self.v.take() {
            self.durable = v.raft.into_durable().restart_image();
        }
    }

    /// Handles a message.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        if self.v.is_none() {
            return;
        }
        self.begin_event(ctx);
        match msg {
            Msg::Raft(m) => {
                let v = self.v.as_mut().unwrap();
                note_peer(&mut v.peer_seen, m.from, ctx.now, &self.cfg);
                v.raft.step(m);
            }
            Msg::Forward(data) => {
                let v = self.v.as_mut().unwrap();
                // Only a leader accepts forwarded proposals; elsewhere they are dropped and the
                // origin member times the request out, as etcd does.
                if v.raft.role() == Role::Leader {
                    v.raft.propose(data);
                }
            }
            Msg::EtcdReq { id, op, .. } => self.client_request(ctx, from, id, op),
            Msg::EtcdPing { id, .. } => ctx.send(from, Msg::EtcdPong { id }),
            Msg::HealthReq { id, path } => self.health_check(ctx, from, id, path),
            Msg::EtcdPong { id } => {
                let v = self.v.as_mut().unwrap();
                if let Some(m) = v.probes.get(&id) {
                    v.active_peers |= 1 << (m % 64);
                }
            }
            // Not its protocol: a member serves etcd clients and its peers, and sends no other
            // requests, so no other answers (nor a refused connection to a probe) need handling.
            Msg::EtcdResp { .. }
            | Msg::ApiReq { .. }
            | Msg::ApiPing { .. }
            | Msg::ApiPong { .. }
            | Msg::GoAway { .. }
            | Msg::ProxyReq { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::ApiResp { .. }
            | Msg::HealthResp { .. }
            | Msg::ConnRefused { .. }
            | Msg::TlsFailed { .. }
            | Msg::WatchEvent { .. }
            | Msg::Vrrp { .. } => {}
        }
        self.after_event(ctx);
    }

    /// Handles a timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: EtcdTimer) {
        let Some(v) = self.v.as_mut() else { return };
        v.raft.set_quiet_allowed(ctx.quiet_ok);
        match t {
            EtcdTimer::Tick { token } => {
                if token != v.wake_token {
                    return;
                }
                v.wake_at = u64::MAX;
                self.catch_up(ctx.now);
            }
            EtcdTimer::Fsync => {
                self.catch_up(ctx.now);
                self.fsync_done(ctx);
            }
            EtcdTimer::ReadRetry { read_ctx } => {
                self.catch_up(ctx.now);
                let v = self.v.as_mut().unwrap();
                if v.read_round
                    .as_ref()
                    .is_some_and(|r| r.ctx == read_ctx && r.index.is_none())
                {
                    v.raft.read_index(read_ctx);
                    ctx.deadline(READ_INDEX_RETRY_NS, EtcdTimer::ReadRetry { read_ctx });
                }
            }
            EtcdTimer::TransferPoll => {
                self.catch_up(ctx.now);
                self.transfer_poll(ctx);
            }
            EtcdTimer::SnapshotSent { token } => {
                self.catch_up(ctx.now);
                self.snapshot_sent(ctx, token);
            }
            EtcdTimer::CpuDone { token } => {
                if let Some((client, id, result)) = v.answers.remove(&token) {
                    ctx.send(client, Msg::EtcdResp { id, result });
                }
            }
            EtcdTimer::LinkSent { token } => {
                if let Some(m) = v.link_sends.remove(&token) {
                    send_raft(ctx, &self.cfg, m);
                }
            }
            EtcdTimer::WriteTimeout { write_id } => {
                let w = v.writes.remove(&write_id).map(|(_, w)| w);
                timed_out(ctx, w);
            }
            EtcdTimer::ReadTimeout { read_ctx } => {
                ctx.cancel(EtcdTimer::ReadRetry { read_ctx });
                let w = v.take_read(read_ctx);
                timed_out(ctx, w);
            }
            EtcdTimer::AdjustTicks { poll } => {
                self.catch_up(ctx.now);
                let election_tick = self.cfg.election_tick;
                let v = self.v.as_mut().unwrap();
                if !v.adjusted {
                    if v.active_peers.count_ones() > 1 {
                        v.adjusted = true;
                        for _ in 0..election_tick.saturating_sub(2) {
                            v.raft.tick();
                        }
                    } else if poll < 100 {
                        // rafthttp.ConnReadTimeout (5 s) in 50 ms polls.
                        ctx.timer(
                            50 * crate::engine::MS,
                            EtcdTimer::AdjustTicks { poll: poll + 1 },
                        );
                    } else {
                        v.adjusted = true;
                    }
                }
            }
        }
        self.after_event(ctx);
    }

    /// What every message's handling starts with: the ticks due, and the quiet followers counted
    /// as heard from now (their stood-in answers).
    fn begin_event(&mut self, ctx: &mut Ctx) {
        self.v
            .as_mut()
            .unwrap()
            .raft
            .set_quiet_allowed(ctx.quiet_ok);
        self.catch_up(ctx.now);
    }

    /// The world ended this leader's quiet streams (a fault, a process stopping): heartbeats are
    /// sent again from the next tick.
    pub fn quiet_off(&mut self, ctx: &mut Ctx) {
        let Some(v) = self.v.as_mut() else { return };
        v.raft.set_quiet_allowed(false);
        self.catch_up(ctx.now);
        let v = self.v.as_mut().unwrap();
        v.raft.end_quiet();
        self.after_event(ctx);
    }

    /// The stood-in heartbeats of a quiet stream from `leader` reached this follower, the last at
    /// `at` (no later than now): it heard from its leader then. Run by the world before this
    /// member's next event; it sends nothing. The ticks up to the previous stood-in heartbeat
    /// (one tick earlier) each did nothing, since a heartbeat came every tick; the ones after run
    /// as usual.
    pub fn heard_quietly(&mut self, at: Nanos, leader: MemberId, term: u64, commit: u64) {
        let tick = self.cfg.tick_ns;
        let Some(v) = self.v.as_mut() else { return };
        if v.raft.role() != Role::Follower
            || v.raft.term() != term
            || v.raft.leader() != Some(leader)
        {
            return;
        }
        let due_before = match at.saturating_sub(tick).checked_sub(v.first_tick_ns) {
            Some(since) => since / tick + 1,
            None => 0,
        };
        if v.ticks_done < due_before {
            if v.inflight.is_some() {
                v.tick_buffered = true;
            }
            v.ticks_done = due_before;
            v.raft.heard_quietly(leader, term, commit);
        }
        self.catch_up(at);
        let v = self.v.as_mut().unwrap();
        v.raft.heard_quietly(leader, term, commit);
        let e = v.peer_seen.get_or_insert_with(leader, || (at, at));
        e.1 = e.1.max(at);
    }

    /// Runs the ticks that fell due since the last event. Ticks before now are no-ops by construction:
    /// the wake timer is set at the first tick that can do anything.
    fn catch_up(&mut self, now: Nanos) {
        let tick = self.cfg.tick_ns;
        let v = self.v.as_mut().unwrap();
        let due = match now.checked_sub(v.first_tick_ns) {
            Some(since) => since / tick + 1,
            None => 0,
        };
        while v.ticks_done < due {
            if (v.dropped_ticks.0..v.dropped_ticks.1).contains(&v.ticks_done) {
                v.ticks_done += 1;
                continue;
            }
            // etcd's raftNode loop calls `Tick` from the same goroutine that blocks in the WAL's
            // fsync (server/etcdserver/raft.go `start`); its `time.Ticker` channel holds one tick,
            // so the ticks that fall due during a slow fsync are dropped but one.
            if v.inflight.is_some() {
                v.tick_buffered = true;
            } else {
                v.raft.tick();
                if v.raft.has_quiet_changes() {
                    let at = v.first_tick_ns + v.ticks_done * tick;
                    let Volatile {
                        raft, quiet_ticks, ..
                    } = v;
                    let (term, commit) = (raft.term(), raft.commit());
                    quiet_ticks.extend(
                        raft.take_quiet_changes()
                            .map(|(m, s)| (m, s, at, term, commit)),
                    );
                }
            }
            v.ticks_done += 1;
        }
        if v.raft.any_quiet() {
            // The quiet followers' stood-in answers keep their connections active.
            for m in v.raft.quiet_peers() {
                if let Some(e) = v.peer_seen.get_mut(&m) {
                    e.1 = e.1.max(now);
                }
            }
        }
    }

    /// The metrics listener's health endpoints (`--listen-metrics-urls`, port 2381, which kubeadm's
    /// probes GET; etcd server/etcdserver/api/etcdhttp/health.go). `/livez` checks the alarms but
    /// NOSPACE, then a serializable range: it passes without a leader or quorum. `/readyz` and
    /// `/health` check every alarm, then a linearizable range (`checkAPI` with the request timeout),
    /// which waits for a ReadIndex round like a client's read: without quorum it fails when the
    /// timeout ends, with a 503.
    fn health_check(&mut self, ctx: &mut Ctx, from: ProcId, id: u64, path: HealthPath) {
        let timeout = self.cfg.request_timeout_ns;
        let v = self.v.as_mut().unwrap();
        if path == HealthPath::Livez {
            ctx.send(from, Msg::HealthResp { id, ok: true });
            return;
        }
        if !v.kv.nospace.is_empty() {
            ctx.send(from, Msg::HealthResp { id, ok: false });
            return;
        }
        let waiting = Waiting {
            client: from,
            req_id: id,
            op: KvOp::Get {
                key: 0,
                linearizable: true,
            },
            health: true,
        };
        v.queue_read(ctx, waiting, timeout);
    }

    fn client_request(&mut self, ctx: &mut Ctx, from: ProcId, id: u64, op: KvOp) {
        let timeout = self.cfg.request_timeout_ns;
        let leader_proc = {
            let v = self.v.as_ref().unwrap();
            v.raft.leader().and_then(|l| self.proc_of(l))
        };
        let v = self.v.as_mut().unwrap();
        let waiting = Waiting {
            client: from,
            req_id: id,
            op: op.clone(),
            health: false,
        };
        match op {
            KvOp::Put {
                key,
                value,
                expected_rev,
                write_id,
            } => {
                let (admitted, newly_full) = v.backend.admit_put(self.cfg.quota, value);
                if newly_full {
                    ctx.log(format!(
                        "etcdserver: {:x} database size {} bytes would pass --quota-backend-bytes {}: \"etcdserver: mvcc: database space exceeded\"; proposing alarm NOSPACE",
                        self.cfg.member_id, v.backend.high_water_bytes, self.cfg.quota.quota_backend_bytes
                    ));
                }
                if !admitted {
                    // quotaKVServer proposes the alarm for every refused request until its own
                    // alarm is in the store (server/etcdserver/api/v3rpc/quota.go `check`).
                    let me = self.cfg.member_id;
                    if v.kv.nospace.binary_search(&me).is_err() {
                        let alarm = EntryData::Alarm { member: me };
                        if v.raft.role() == Role::Leader {
                            v.raft.propose(alarm);
                        } else if let Some(lp) = leader_proc {
                            ctx.send(lp, Msg::Forward(alarm));
                        }
                    }
                    ctx.send(
                        from,
                        Msg::EtcdResp {
                            id,
                            result: Err(EtcdError::NoSpace),
                        },
                    );
                    return;
                }
                let data = EntryData::Put {
                    key,
                    value,
                    write_id,
                    expected_rev,
                };
                if v.raft.role() == Role::Leader {
                    v.raft.propose(data);
                } else if let Some(lp) = leader_proc {
                    ctx.send(lp, Msg::Forward(data));
                } else {
                    // etcd-io/raft node.go `run`: without a leader `propc` is nil, so the proposal
                    // waits in `Propose` until a leader is known or the request times out.
                    v.blocked.push((write_id, data));
                }
                let seq = v.next_ctx;
                v.next_ctx += 1;
                v.writes.insert(write_id, (seq, waiting));
                ctx.deadline(timeout, EtcdTimer::WriteTimeout { write_id });
            }
            KvOp::Get {
                key,
                linearizable: false,
            } => {
                let kv = v.kv.get(key);
                let cpu = self.cfg.capacity.read_cpu_ns;
                v.answer_after(ctx, cpu, from, id, Ok(KvResult::Value(kv)));
            }
            KvOp::Get { .. } | KvOp::Range { .. } => {
                // The read waits for the next ReadIndex round (`linearizableReadNotify` signals
                // `readwaitc` and waits on the current notifier); the round starts now if none is
                // in flight (`after_event`).
                v.queue_read(ctx, waiting, timeout);
            }
            // The API server's watch (its watch cache's reflector): held, and sent the range now
            // (the cache's initial list) and after every change. A client watches a range once
            // per member: a watch it opens again replaces the one it left behind.
            KvOp::Watch { start, end, .. } => {
                v.watchers
                    .retain(|w| !(w.client == from && w.start == start && w.end == end));
                v.watchers.push(Watcher {
                    client: from,
                    id,
                    start,
                    end,
                    dirty: true,
                });
            }
        }
    }

    /// Drains Raft's ready, applies, persists, sends, and re-arms the tick timer.
    ///
    /// Like etcd's raftNode loop, a new Ready is taken only after the previous one's WAL write has been
    /// fsynced: while the disk is busy, Raft keeps stepping messages and ticks, but nothing it wants to
    /// send leaves the member. A slow disk therefore delays heartbeats, as in the real server.
    fn after_event(&mut self, ctx: &mut Ctx) {
        self.drain_ready(ctx);
        // A new leader may have taken proposals that waited for one: hand them to the loop now.
        // Without a change nothing new is ready, and the check is a tenth of an idle member's cost.
        if self.note_role(ctx) {
            self.drain_ready(ctx);
        }
        loop {
            self.serve_reads(ctx);
            if !self.start_read_round(ctx) {
                break;
            }
            self.drain_ready(ctx);
        }
        self.send_watch_events(ctx);
        self.report_quiet(ctx);
        self.arm_tick(ctx);
    }

    /// Sends each watch whose range changed during this event the range as it now is.
    fn send_watch_events(&mut self, ctx: &mut Ctx) {
        let v = self.v.as_mut().unwrap();
        for i in 0..v.watchers.len() {
            if !std::mem::take(&mut v.watchers[i].dirty) {
                continue;
            }
            let (client, id, start, end) = {
                let w = &v.watchers[i];
                (w.client, w.id, w.start, w.end)
            };
            let values = v.range(start, end);
            let rev = v.kv.rev;
            ctx.send(client, Msg::WatchEvent { id, values, rev });
        }
    }

    /// The watches it holds open, as (client, request id): its kernel resets them when it dies.
    pub fn held_requests(&self) -> Vec<(ProcId, u64)> {
        self.v.as_ref().map_or_else(Vec::new, |v| {
            v.watchers.iter().map(|w| (w.client, w.id)).collect()
        })
    }

    /// Hands the world the quiet streams that started or ended (in ticks, or since).
    fn report_quiet(&mut self, ctx: &mut Ctx) {
        let tick_ns = self.cfg.tick_ns;
        let from = self.cfg.member_id;
        let v = self.v.as_mut().unwrap();
        if v.quiet_ticks.is_empty() && !v.raft.has_quiet_changes() {
            return;
        }
        let now = ctx.now;
        let (term, commit) = (v.raft.term(), v.raft.commit());
        let mut changes = std::mem::take(&mut v.quiet_ticks);
        changes.extend(
            v.raft
                .take_quiet_changes()
                .map(|(m, s)| (m, s, now, term, commit)),
        );
        for &(to, start, at, term, commit) in &changes {
            if let Some(peer) = self.proc_of(to) {
                ctx.out.push(crate::components::ctx::Out::Quiet(
                    crate::components::ctx::QuietChange {
                        peer,
                        from,
                        to,
                        term,
                        commit,
                        start,
                        at,
                        tick_ns,
                    },
                ));
            }
        }
        changes.clear();
        self.v.as_mut().unwrap().quiet_ticks = changes;
    }

    fn drain_ready(&mut self, ctx: &mut Ctx) {
        loop {
            let rd = {
                let v = self.v.as_mut().unwrap();
                if v.inflight.is_some() || !v.raft.has_ready() {
                    break;
                }
                if v.raft.only_messages() {
                    // What `handle_ready` does with a Ready of messages alone (nothing to persist,
                    // so a follower sends at once too), without building one: most of an idle
                    // cluster's Readies are a heartbeat or its answer.
                    let mut msgs = v.raft.take_messages();
                    for m in msgs.drain(..) {
                        self.send_raft(ctx, m);
                    }
                    self.v.as_mut().unwrap().raft.recycle(msgs);
                    continue;
                }
                v.raft.ready()
            };
            self.handle_ready(ctx, rd);
        }
    }

    fn handle_ready(&mut self, ctx: &mut Ctx, rd: Ready) {
        let is_leader = self.v.as_ref().unwrap().raft.role() == Role::Leader;
        // A snapshot from the leader replaces the store; committed entries apply at once after it.
        // etcd applies concurrently with persisting.
        if let Some(s) = &rd.snapshot {
            self.apply_snapshot(ctx, s);
        }
        for e in &rd.committed {
            self.apply(ctx, e);
        }
        // A ReadIndex raft dropped (no leader known) gets no answer in etcd either (etcd-io/raft
        // `stepFollower`: "no leader at term; dropping index reading msg"); the read waits for its
        // retry, a leader change, or its timeout.
        let _ = rd.dropped_reads;
        for rs in rd.read_states {
            let v = self.v.as_mut().unwrap();
            let Some(round) = v.read_round.as_mut() else {
                continue;
            };
            if round.ctx != rs.context || round.index.is_some() {
                continue;
            }
            // The round's read index came: no more retries; its reads wait for apply.
            round.index = Some(rs.index);
            ctx.cancel(EtcdTimer::ReadRetry {
                read_ctx: rs.context,
            });
            for rid in std::mem::take(&mut round.reads) {
                if let Some((_, w)) = v.reads.remove(&rid) {
                    v.ready_reads.push((rs.index, rid, w));
                }
            }
        }
        if let Some(first) = rd.entries.first() {
            let stored = self.v.as_ref().unwrap().raft.storage().last_index();
            if first.index <= stored {
                ctx.observe(Obs::Truncated { index: first.index });
            }
        }
        let persist = rd.must_sync;
        if !persist && rd.hard_state.is_some() {
            // A new commit index only: written to the WAL without an fsync (etcd's `wal.Save` syncs
            // only when `raft.MustSync`), so nothing waits for the disk.
            let v = self.v.as_mut().unwrap();
            v.raft.persisted_write(rd.hard_state, None, Vec::new());
            self.maybe_snapshot();
        }
        let mut msgs = rd.messages;
        // etcd's raftNode: a leader sends before its own WAL write (in parallel); a follower sends only
        // after it has persisted what its messages acknowledge.
        if is_leader || !persist {
            for m in msgs.drain(..) {
                self.send_raft(ctx, m);
            }
            let v = self.v.as_mut().unwrap();
            v.raft.recycle(std::mem::take(&mut msgs));
        }
        // With a synced write pending, the snapshot check waits for its fsync (`fsync_done`).
        if persist {
            let latency = self.slow_fsync_ns.unwrap_or(self.cfg.fsync_latency_ns);
            let v = self.v.as_mut().unwrap();
            v.inflight = Some(vec![Batch {
                hard: rd.hard_state,
                snapshot: rd.snapshot,
                entries: rd.entries,
                held: msgs,
            }]);
            ctx.timer(latency, EtcdTimer::Fsync);
        }
    }

    /// etcd's `snapshotIfNeededAndCompactRaftLog` (server/etcdserver/server.go), run after each
    /// applied batch once its WAL write is done (etcd's `applyAll` waits on `notifyc` first, "or
    /// applied index might be greater than the last index in raft storage"): once more than `--snapshot-count` entries were applied since the last snapshot,
    /// snapshot the store at the applied index, then compact the in-memory log to
    /// `--snapshot-catchup-entries` before it (`compactRaftLog`), unless a snapshot is streaming to a
    /// follower ("skip compaction since there is an inflight snapshot").
    fn maybe_snapshot(&mut self) {
        let (count, catchup) = (self.cfg.snapshot_count, self.cfg.snapshot_catchup_entries);
        let v = self.v.as_mut().unwrap();
        if v.applied.saturating_sub(v.snapshot_index) <= count {
            return;
        }
        let Some(term) = v.raft.log_term(v.applied) else {
            // A leader's snapshot arrived while an fsync was in flight: Raft's log already starts
            // after it, but the store waits for the next Ready to be replaced by it, so the applied
            // index lies before the log. There is nothing to snapshot from; the check runs again
            // once that snapshot is applied. (Found by `invariants_prop`: a follower on a lossy
            // link with a 200-entry snapshot count.)
            debug_assert!(
                v.applied < v.raft.first_index(),
                "applied entry {} not in the log ({}..={})",
                v.applied,
                v.raft.first_index(),
                v.raft.last_index()
            );
            return;
        };
        v.raft.create_snapshot(Snapshot {
            index: v.applied,
            term,
            data: Arc::new(v.kv.clone()),
        });
        v.snapshot_index = v.applied;
        if v.snapshot_sends.is_empty() {
            v.raft.compact(v.applied.saturating_sub(catchup).max(1));
        }
    }

    /// A snapshot from the leader replaces the store (etcd's `applySnapshot`).
    fn apply_snapshot(&mut self, ctx: &mut Ctx, s: &Snapshot) {
        ctx.observe(Obs::SnapshotApplied {
            index: s.index,
            term: s.term,
        });
        ctx.log(format!(
            "etcdserver: {:x} applied snapshot [index {}, term {}, {} keys] from the leader",
            self.cfg.member_id,
            s.index,
            s.term,
            s.data.len()
        ));
        let v = self.v.as_mut().unwrap();
        v.kv = (*s.data).clone();
        v.ranges.clear();
        for w in &mut v.watchers {
            w.dirty = true;
        }
        v.applied = s.index;
        v.snapshot_index = s.index;
        // The snapshot carries the membership as of its index.
        self.sync_members();
    }

    /// Takes the membership the running store holds: the peer routes it names, then Raft's voters
    /// and learners.
    fn sync_members(&mut self) {
        let v = self.v.as_mut().unwrap();
        learn_members(&mut self.cfg.peers, &v.kv);
        set_raft_members(&mut v.raft, &v.kv, &self.cfg.peers);
    }

    /// Applies a committed membership change: the store's membership, then Raft's.
    fn apply_conf(&mut self, ctx: &mut Ctx, cc: ConfChange) {
        let v = self.v.as_mut().unwrap();
        v.kv.apply_conf(cc, &self.cfg.peers);
        self.sync_members();
        let me = self.cfg.member_id;
        let (verb, id) = match cc {
            ConfChange::AddLearner { id, .. } => ("added member (learner)", id),
            ConfChange::Promote { id } => ("promoted member", id),
            ConfChange::Remove { id } => ("removed member", id),
        };
        ctx.log(format!("membership: {verb} {id:x} (local member {me:x})"));
        if let ConfChange::Remove { id } = cc {
            if id == me {
                // etcd: "the member has been permanently removed from the cluster"; the server
                // stops, and its data directory no longer lets it rejoin.
                ctx.log(
                    "etcdserver: the member has been permanently removed from the cluster".into(),
                );
                self.removed = true;
                ctx.out.push(crate::components::ctx::Out::Exit);
            }
        }
    }

    /// Sends a Raft message; a snapshot streams first, taking its size over the peer bandwidth
    /// (etcd's rafthttp `snapshotSender`), and only then arrives.
    fn send_raft(&mut self, ctx: &mut Ctx, m: RaftMsg) {
        if m.kind != MsgType::Snap {
            self.send_on_link(ctx, m);
            return;
        }
        let Some(s) = m.snapshot.as_deref() else {
            return;
        };
        let keys = s.data.len() as u64;
        let bytes = keys * SNAPSHOT_BYTES_PER_KEY;
        let took = snapshot_transfer_ns(bytes);
        ctx.log(format!(
            "rafthttp: {:x} sending database snapshot [index {}, term {}, {keys} keys, {bytes} bytes] to {:x}; the stream takes {}",
            self.cfg.member_id,
            s.index,
            s.term,
            m.to,
            crate::engine::fmt_duration(took)
        ));
        let v = self.v.as_mut().unwrap();
        let token = v.next_snapshot_token;
        v.next_snapshot_token += 1;
        v.snapshot_sends.insert(token, m);
        ctx.timer(took, EtcdTimer::SnapshotSent { token });
    }

    /// Sends a Raft message over its link to the peer: an append takes the size of its writes over
    /// the peer bandwidth, and a message behind one on the same link waits for it.
    fn send_on_link(&mut self, ctx: &mut Ctx, m: RaftMsg) {
        let cap = self.cfg.capacity;
        let v = self.v.as_mut().unwrap();
        let took = cap.transfer_ns(cap.wire_bytes(&m));
        let at = v.links.send(m.to, ctx.now, took);
        if at <= ctx.now {
            send_raft(ctx, &self.cfg, m);
            return;
        }
        let token = v.next_token;
        v.next_token += 1;
        v.link_sends.insert(token, m);
        ctx.timer_at(at, EtcdTimer::LinkSent { token });
    }

    /// The snapshot stream ended: the message goes out and the leader probes on from past it
    /// (`ReportSnapshot(SnapshotFinish)`).
    fn snapshot_sent(&mut self, ctx: &mut Ctx, token: u64) {
        let v = self.v.as_mut().unwrap();
        let Some(m) = v.snapshot_sends.remove(&token) else {
            return;
        };
        let to = m.to;
        v.raft.report_snapshot(to, true);
        ctx.log(format!(
            "rafthttp: {:x} sent database snapshot to {to:x}",
            self.cfg.member_id
        ));
        send_raft(ctx, &self.cfg, m);
    }

    fn fsync_done(&mut self, ctx: &mut Ctx) {
        let batches = {
            let v = self.v.as_mut().unwrap();
            match v.inflight.take() {
                Some(b) => b,
                None => return,
            }
        };
        for b in batches {
            let v = self.v.as_mut().unwrap();
            v.raft.persisted_write(b.hard, b.snapshot, b.entries);
            for m in b.held {
                self.send_raft(ctx, m);
            }
        }
        self.maybe_snapshot();
        // The loop is free again: the tick that waited in the ticker's channel runs now.
        let v = self.v.as_mut().unwrap();
        if std::mem::take(&mut v.tick_buffered) {
            v.raft.tick();
        }
    }

    fn apply(&mut self, ctx: &mut Ctx, e: &Entry) {
        ctx.observe(Obs::Applied {
            index: e.index,
            term: e.term,
        });
        let v = self.v.as_mut().unwrap();
        v.applied = e.index;
        if let EntryData::ConfChange(cc) = &e.data {
            self.apply_conf(ctx, *cc);
            return;
        }
        if let EntryData::Alarm { member } = e.data {
            if v.kv.activate_nospace(member) {
                // etcd's applyAlarm: `lg.Warn("alarm raised", zap.String("alarm", ...),
                // zap.String("from", types.ID(m.MemberID).String()))`, on every member.
                ctx.log(format!(
                    "etcdserver: {:x} \"alarm raised\" alarm=NOSPACE from={member:x}; \"etcdserver: mvcc: database space exceeded\" for every Put until the alarm is disarmed",
                    self.cfg.member_id
                ));
            }
            return;
        }
        if let EntryData::Disarm { member } = e.data {
            if v.kv.deactivate_nospace(member) {
                if v.kv.nospace.binary_search(&self.cfg.member_id).is_err() {
                    // With no alarm of its own in force, the member judges its quota afresh at its
                    // next Put (etcd checks it on every request, `quotaKVServer`): a database still
                    // past it raises the alarm again. (Its own alarm may still be on its way
                    // through Raft: then it has room now or proposes it once more.)
                    v.backend.full = false;
                }
                // etcd's applyAlarm on DEACTIVATE: once no NOSPACE alarm is left, `lg.Info("alarm
                // disarmed", ...)` and the capped applier is lifted.
                if v.kv.nospace.is_empty() {
                    ctx.log(format!(
                        "etcdserver: {:x} \"alarm disarmed\" alarm=NOSPACE from={member:x}",
                        self.cfg.member_id
                    ));
                }
            }
            return;
        }
        if let EntryData::Put { write_id, key, .. } = &e.data {
            let outcome = put(&mut v.kv, &e.data, &self.cfg.peers);
            if let PutOutcome::Written(_) = outcome {
                // The answers kept of ranges holding the key take the write: a copy of the slice
                // with one entry changed, not a walk of the store (a thousand node leases are
                // watched, and one is renewed every 10 ms).
                let now = v.kv.get(*key);
                for (start, end, kvs) in &mut v.ranges {
                    if (*start..*end).contains(key) {
                        *kvs = patched(kvs, *key, now);
                    }
                }
                // Only a write is a watch event: a transaction whose compare failed (a
                // conflict) or that the quota refused changed nothing and bumped no revision.
                for w in &mut v.watchers {
                    w.dirty |= (w.start..w.end).contains(key);
                }
            }
            v.backend
                .applied(self.cfg.quota, ctx.now, v.kv.len() as u64, v.kv.rev);
            let result = match outcome {
                PutOutcome::Written(rev) => Ok(KvResult::Written {
                    index: e.index,
                    term: e.term,
                    rev,
                }),
                PutOutcome::Conflict => Err(EtcdError::Conflict),
                PutOutcome::NoSpace => Err(EtcdError::NoSpace),
            };
            // Every member applies the write on its cores; the member the client asked answers
            // when that is done.
            let cpu = self.cfg.capacity.write_cpu_ns;
            match v.writes.remove(write_id) {
                Some((_, w)) => {
                    ctx.cancel(EtcdTimer::WriteTimeout {
                        write_id: *write_id,
                    });
                    v.answer_after(ctx, cpu, w.client, w.req_id, result)
                }
                None => {
                    v.charge(ctx, cpu);
                }
            }
        }
    }

    /// Starts a ReadIndex round for the reads waiting for one, unless a round is in flight:
    /// etcd's `linearizableReadLoop` takes every read that came since its last round
    /// (`s.readNotifier`), sends one ReadIndex for them all (`requestCurrentIndex`, re-sent every
    /// `readIndexRetryTime`), waits for its ReadState and for apply to reach its index, notifies
    /// them, and only then loops. So concurrent reads share one round of heartbeats, and a read
    /// that comes during a round waits for the next. Whether a round started.
    fn start_read_round(&mut self, ctx: &mut Ctx) -> bool {
        let v = self.v.as_mut().unwrap();
        if let Some(round) = &v.read_round {
            // A round whose reads have all gone (timed out) and whose index has not come ends:
            // the loop's own wait is bounded by the request timeout too.
            if round.index.is_some() || round.reads.iter().any(|r| v.reads.contains_key(r)) {
                return false;
            }
            let round = v.read_round.take().expect("checked");
            ctx.cancel(EtcdTimer::ReadRetry {
                read_ctx: round.ctx,
            });
        }
        v.read_next.retain(|r| v.reads.contains_key(r));
        if v.read_next.is_empty() {
            return false;
        }
        let rctx = v.next_ctx;
        v.next_ctx += 1;
        v.read_round = Some(ReadRound {
            ctx: rctx,
            reads: std::mem::take(&mut v.read_next),
            index: None,
        });
        v.raft.read_index(rctx);
        ctx.deadline(READ_INDEX_RETRY_NS, EtcdTimer::ReadRetry { read_ctx: rctx });
        true
    }

    fn serve_reads(&mut self, ctx: &mut Ctx) {
        let v = self.v.as_mut().unwrap();
        // The round ends once applied up to its index: the loop may start the next.
        if v.read_round
            .as_ref()
            .is_some_and(|r| r.index.is_some_and(|i| i <= v.applied))
        {
            v.read_round = None;
        }
        if v.ready_reads.is_empty() {
            return;
        }
        let applied = v.applied;
        let read_cpu_ns = self.cfg.capacity.read_cpu_ns;
        let mut i = 0;
        while i < v.ready_reads.len() {
            if v.ready_reads[i].0 <= applied {
                let (_, read_ctx, w) = v.ready_reads.remove(i);
                ctx.cancel(EtcdTimer::ReadTimeout { read_ctx });
                if w.health {
                    ctx.send(
                        w.client,
                        Msg::HealthResp {
                            id: w.req_id,
                            ok: true,
                        },
                    );
                    continue;
                }
                let result = match w.op {
                    KvOp::Get { key, .. } => KvResult::Value(v.kv.get(key)),
                    KvOp::Range { start, end, .. } => KvResult::Values(v.range(start, end)),
                    KvOp::Put { .. } | KvOp::Watch { .. } => continue,
                };
                v.answer_after(ctx, read_cpu_ns, w.client, w.req_id, Ok(result));
            } else {
                i += 1;
            }
        }
    }

    /// Traces and logs a change of role, term or known leader; returns whether there was one.
    fn note_role(&mut self, ctx: &mut Ctx) -> bool {
        let v = self.v.as_mut().unwrap();
        let (role, term, leader) = (v.raft.role(), v.raft.term(), v.raft.leader());
        if role == v.role && term == v.term && leader == v.leader {
            return false;
        }
        let was = v.role;
        let old_term = v.term;
        let old_leader = v.leader;
        v.role = role;
        v.term = term;
        v.leader = leader;
        if role != was || term != old_term {
            ctx.trace(TraceKind::EtcdRole {
                proc: ctx.me,
                role,
                term,
            });
        }
        match role {
            Role::Leader if was != Role::Leader => {
                ctx.observe(Obs::BecameLeader { term });
                ctx.log(format!(
                    "raft.node: {:x} elected leader {:x} at term {term}",
                    self.cfg.member_id, self.cfg.member_id
                ));
            }
            Role::PreCandidate if was != Role::PreCandidate => {
                ctx.trace(TraceKind::Campaign {
                    proc: ctx.me,
                    term: term + 1,
                    pre_vote: true,
                });
                ctx.log(format!(
                    "raft: {:x} is starting a new election at term {term} (pre-vote)",
                    self.cfg.member_id
                ));
            }
            Role::Candidate if was != Role::Candidate || term != old_term => {
                ctx.trace(TraceKind::Campaign {
                    proc: ctx.me,
                    term,
                    pre_vote: false,
                });
                ctx.log(format!(
                    "raft: {:x} became candidate at term {term}",
                    self.cfg.member_id
                ));
            }
            Role::Follower if was == Role::Leader => {
                ctx.log(format!(
                    "raft: {:x} stepped down to follower at term {term} (lost quorum or saw a higher term)",
                    self.cfg.member_id
                ));
            }
            // No change worth a log line.
            Role::Leader | Role::PreCandidate | Role::Candidate | Role::Follower => {}
        }
        if leader != old_leader && role != Role::Leader {
            match leader {
                Some(l) => ctx.log(format!(
                    "raft.node: {:x} elected leader {l:x} at term {term}",
                    self.cfg.member_id
                )),
                None if old_leader.is_some() => ctx.log(format!(
                    "raft.node: {:x} lost leader {:x} at term {term}",
                    self.cfg.member_id,
                    old_leader.unwrap_or(0)
                )),
                None => {}
            }
        }
        let state = match role {
            Role::Leader => ProcState::Leader,
            Role::Follower | Role::PreCandidate | Role::Candidate if leader.is_some() => {
                ProcState::Standby
            }
            Role::Follower | Role::PreCandidate | Role::Candidate => ProcState::Unready,
        };
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state,
        });
        if leader != old_leader && leader.is_some() {
            self.leader_changed(ctx);
        }
        let v = self.v.as_mut().unwrap();
        if role != Role::Leader {
            // Proposals this member forwarded or made as leader may now never apply; etcd answers
            // "leader changed" to waiting writes only on the old leader when its term ends.
            if was == Role::Leader {
                let pending: Vec<u64> = v.writes.keys().copied().collect();
                for wid in pending {
                    if let Some((_, w)) = v.writes.remove(&wid) {
                        ctx.cancel(EtcdTimer::WriteTimeout { write_id: wid });
                        ctx.send(
                            w.client,
                            Msg::EtcdResp {
                                id: w.req_id,
                                result: Err(EtcdError::LeaderChanged),
                            },
                        );
                    }
                }
            }
        }
        true
    }

    /// A new leader is known. The reads of the ReadIndex round still waiting for its index get the
    /// retryable "leader changed" (etcd `requestCurrentIndex` returns `ErrLeaderChanged` on
    /// `leaderChangedNotifier`, which fires whenever the Ready's SoftState names a new, non-empty
    /// leader, and the loop notifies that round's reads of the error); reads queued for the next
    /// round go on to it; proposals blocked for want of a leader go on to the new leader.
    fn leader_changed(&mut self, ctx: &mut Ctx) {
        let leader_proc = {
            let v = self.v.as_ref().unwrap();
            v.raft.leader().and_then(|l| self.proc_of(l))
        };
        let v = self.v.as_mut().unwrap();
        // The round waiting for its read index fails; reads queued for the next round go on to it.
        if let Some(round) = v.read_round.take_if(|r| r.index.is_none()) {
            ctx.cancel(EtcdTimer::ReadRetry {
                read_ctx: round.ctx,
            });
            for rid in round.reads {
                if let Some((_, w)) = v.reads.remove(&rid) {
                    w.fail(ctx, EtcdError::LeaderChanged);
                }
            }
        }
        for (write_id, data) in std::mem::take(&mut v.blocked) {
            if !v.writes.contains_key(&write_id) {
                continue; // timed out while blocked
            }
            if v.raft.role() == Role::Leader {
                v.raft.propose(data);
            } else if let Some(lp) = leader_proc {
                ctx.send(lp, Msg::Forward(data));
            }
        }
    }

    fn arm_tick(&mut self, ctx: &mut Ctx) {
        let tick = self.cfg.tick_ns;
        let v = self.v.as_mut().unwrap();
        let n = v.raft.ticks_until_event().max(1) as u64;
        let at = v.first_tick_ns + (v.ticks_done + n - 1) * tick;
        // The wake moves earlier when a tick may act sooner; the old one's token is void. A
        // leader's wakes move often (every read and write wakes it for the next tick while its
        // followers are quiet), so they are deadlines and a void one is cancelled rather than fired
        // to do nothing; a follower's seldom move, and a plain timer is cheaper to set. A wake that
        // could move later stays put and re-arms when it fires: moving a leader's later (after a
        // read is answered, to its next check-quorum) was tried and changed the member-replacement
        // runs, unexplained.
        if at < v.wake_at {
            if v.wake_at != u64::MAX && v.wake_cancellable {
                ctx.cancel(EtcdTimer::Tick {
                    token: v.wake_token,
                });
            }
            v.wake_at = at;
            v.wake_token += 1;
            let wake = EtcdTimer::Tick {
                token: v.wake_token,
            };
            v.wake_cancellable = v.raft.role() == Role::Leader;
            if v.wake_cancellable {
                ctx.deadline_at(at, wake);
            } else {
                ctx.timer_at(at, wake);
            }
        }
    }
}

impl Volatile {
    /// Queues a linearizable read for the next ReadIndex round, answered or failed by
    /// `timeout_ns` at the latest.
    fn queue_read(&mut self, ctx: &mut Ctx, waiting: Waiting, timeout_ns: Nanos) {
        let rctx = self.next_ctx;
        self.next_ctx += 1;
        self.reads.insert(rctx, (rctx, waiting));
        self.read_next.push(rctx);
        ctx.deadline(timeout_ns, EtcdTimer::ReadTimeout { read_ctx: rctx });
    }

    /// Runs `cpu_ns` of work on the first free core and sends the answer when it is done (at once
    /// when the work is free).
    fn answer_after(
        &mut self,
        ctx: &mut Ctx,
        cpu_ns: Nanos,
        client: ProcId,
        id: u64,
        result: Result<KvResult, EtcdError>,
    ) {
        if cpu_ns == 0 {
            ctx.send(client, Msg::EtcdResp { id, result });
            return;
        }
        let done = self.charge(ctx, cpu_ns);
        let token = self.next_token;
        self.next_token += 1;
        self.answers.insert(token, (client, id, result));
        ctx.timer_at(done, EtcdTimer::CpuDone { token });
    }

    /// Runs `cpu_ns` of work on the first free core; returns when it is done. The busy time goes
    /// to the world for `etcd.utilization`.
    fn charge(&mut self, ctx: &mut Ctx, cpu_ns: Nanos) -> Nanos {
        if cpu_ns == 0 {
            return ctx.now;
        }
        let done = self.cores.run(ctx.now, cpu_ns);
        ctx.out.push(crate::components::ctx::Out::EtcdBusy {
            start_ns: done - cpu_ns,
            cpu_ns,
        });
        done
    }

    /// Keys in `[start, end)`: the store's answer, from `ranges` while no write landed there.
    fn range(&mut self, start: Key, end: Key) -> std::sync::Arc<[KeyValue]> {
        if let Some((_, _, kvs)) = self.ranges.iter().find(|r| r.0 == start && r.1 == end) {
            return kvs.clone();
        }
        let kvs: std::sync::Arc<[KeyValue]> = self.kv.range(start, end).into();
        // A handful of kinds are listed (pods, endpoints, leases); keep the latest few.
        if self.ranges.len() >= 8 {
            self.ranges.remove(0);
        }
        self.ranges.push((start, end, kvs.clone()));
        kvs
    }

    /// Takes the read with context `read_ctx`, waiting for its read index or for apply.
    fn take_read(&mut self, read_ctx: u64) -> Option<Waiting> {
        if let Some((_, w)) = self.reads.remove(&read_ctx) {
            return Some(w);
        }
        let pos = self
            .ready_reads
            .iter()
            .position(|(_, c, _)| *c == read_ctx)?;
        Some(self.ready_reads.remove(pos).2)
    }
}

/// `kvs` (sorted by key) with `key`'s entry replaced by `now`, inserted, or (None) removed.
fn patched(kvs: &[KeyValue], key: Key, now: Option<KeyValue>) -> std::sync::Arc<[KeyValue]> {
    let (at, past) = match kvs.binary_search_by_key(&key, |kv| kv.key) {
        Ok(i) => (i, i + 1),
        Err(i) => (i, i),
    };
    kvs[..at]
        .iter()
        .copied()
        .chain(now)
        .chain(kvs[past..].iter().copied())
        .collect()
}

/// Applies an entry's write to the store (an empty entry writes nothing; a membership change
/// changes the membership the store keeps, starting from `initial`, the `--initial-cluster`).
fn put(kv: &mut Kv, data: &EntryData, initial: &[(MemberId, ProcId)]) -> PutOutcome {
    match data {
        EntryData::ConfChange(cc) => {
            kv.apply_conf(*cc, initial);
            PutOutcome::Written(kv.rev)
        }
        EntryData::Put {
            key,
            value,
            expected_rev,
            ..
        } => kv.put(*key, *value, *expected_rev),
        EntryData::Alarm { member } => {
            kv.activate_nospace(*member);
            PutOutcome::Written(kv.rev)
        }
        EntryData::Disarm { member } => {
            kv.deactivate_nospace(*member);
            PutOutcome::Written(kv.rev)
        }
        EntryData::Empty => PutOutcome::Written(kv.rev),
    }
}

/// Answers a client request that timed out (if it still waited).
fn timed_out(ctx: &mut Ctx, w: Option<Waiting>) {
    if let Some(w) = w {
        w.fail(ctx, EtcdError::Timeout);
    }
}

/// Notes that `peer` sent something now: its connection is active since now unless it already was
/// (heard from within an election timeout).
/// A quiet stream's start or end in a tick: (follower, started, the tick's time, term, commit).
type QuietTick = (MemberId, bool, Nanos, u64, u64);

fn note_peer(
    seen: &mut SmallMap<MemberId, (Nanos, Nanos)>,
    peer: MemberId,
    now: Nanos,
    cfg: &EtcdConfig,
) {
    let gone = cfg.tick_ns * cfg.election_tick as u64;
    let e = seen.get_or_insert_with(peer, || (now, now));
    if e.1 + gone < now {
        e.0 = now;
    }
    e.1 = now;
}

/// Learns the peer URLs of members the store names (a member added later is known from its conf
/// change, as etcd's cluster store learns it).
fn learn_members(peers: &mut Vec<(MemberId, ProcId)>, kv: &Kv) {
    for r in kv.members.iter().flatten() {
        if !peers.iter().any(|(id, _)| *id == r.id) {
            peers.push((r.id, r.proc));
        }
    }
}

/// Gives Raft the membership the store holds.
fn set_raft_members(raft: &mut Raft, kv: &Kv, initial: &[(MemberId, ProcId)]) {
    let ms = kv.members_or(initial);
    let voters: Vec<MemberId> = ms.iter().filter(|r| !r.learner).map(|r| r.id).collect();
    let learners: Vec<MemberId> = ms.iter().filter(|r| r.learner).map(|r| r.id).collect();
    raft.set_members(&voters, &learners);
}

#[inline]
fn send_raft(ctx: &mut Ctx, cfg: &EtcdConfig, m: RaftMsg) {
    if let Some((_, p)) = cfg.peers.iter().find(|(id, _)| *id == m.to) {
        ctx.send(*p, Msg::Raft(m));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A kept range answer patched with each write equals the store's range read afresh:
        /// updates, inserts and deletions (value 0), inside and outside the range.
        #[test]
        fn a_patched_range_is_the_range_read_again(
            writes in proptest::collection::vec((0u64..40, 0u64..4), 1..200),
        ) {
            let mut kv = Kv::default();
            let (start, end) = (10, 30);
            let mut kept: std::sync::Arc<[KeyValue]> = kv.range(start, end).into();
            for (key, value) in writes {
                if let PutOutcome::Written(_) = kv.put(key, value, None) {
                    if (start..end).contains(&key) {
                        kept = patched(&kept, key, kv.get(key));
                    }
                }
                prop_assert_eq!(&kept[..], &kv.range(start, end)[..]);
            }
        }
    }
}
