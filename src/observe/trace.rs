//! The trace: every state change a person would want to see, with its time. Metrics, timelines and
//! reports are pure functions of it.

use crate::engine::Nanos;
use serde::Serialize;

/// The role of a member, as etcd-io/raft's StateType.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    /// Lowercase name for traces and reports.
    pub fn name(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre-candidate",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

pub use super::catalog::Capability;

/// A process's lifecycle state as its lane shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcState {
    /// Running and serving.
    Up,
    /// Not running.
    Down,
    /// Running but not ready (starting, or failing its readiness).
    Unready,
    /// Running and holding its role (etcd leader, lease holder, VIP holder).
    Leader,
    /// Running as a standby (not leader).
    Standby,
    /// Alive but stalled (a `pause`): it holds its state and handles nothing.
    Paused,
}

/// One state change.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TraceKind {
    /// A process's lane state changed.
    Proc { proc: u16, state: ProcState },
    /// A node went down or came back.
    Node { node: u16, up: bool },
    /// An etcd member changed Raft role or term.
    EtcdRole {
        proc: u16,
        #[serde(serialize_with = "ser_role")]
        role: Role,
        term: u64,
    },
    /// A member started an election (pre-vote or real) in `term`.
    Campaign {
        proc: u16,
        term: u64,
        pre_vote: bool,
    },
    /// A leader-elected component started or stopped acting as leader.
    Acting { proc: u16, acting: bool },
    /// The holder of a leader-election lease as written to etcd (None: released).
    LeaseHolder { lease: u16, holder: Option<u16> },
    /// A load balancer marked a backend up or down.
    LbBackend { lb: u16, backend: u16, up: bool },
    /// The VIP moved (None: nobody holds it).
    Vip { node: Option<u16> },
    /// A fault started or ended.
    Fault { index: u16, start: bool },
    /// A capability went up or down.
    Cap { cap: Capability, up: bool },
    /// A kubelet's count of ready pods changed.
    Pods { proc: u16, ready: u32 },
    /// A node's kube-proxy programmed a new set of Service endpoints (`endpoints` in all).
    ProxyEndpoints { proc: u16, endpoints: u32 },
    /// What users reach of a workload changed (counted by the observer): `ready` replicas serve
    /// through every entry node, and `reachable_ppm` parts per million of requests through the
    /// Service reach a serving pod.
    WorkloadReady {
        workload: u16,
        ready: u32,
        reachable_ppm: u32,
    },
    /// A process logged a line an operator would read.
    Log { proc: u16, text: String },
    /// An invariant was violated.
    Violation { text: String },
    /// Whether a monitoring Prometheus's scrape of the process's `/metrics` succeeds (`up`): the
    /// process runs and the monitoring vantage reaches its node (see `observe::alerts`).
    Scrape { proc: u16, up: bool },
    /// An etcd member's own metrics: `etcd_server_has_leader` (it knows a leader) and whether its sends
    /// to a peer fail (`etcd_network_peer_sent_failures_total` rising: a peer is down or unreachable).
    EtcdHealth {
        proc: u16,
        has_leader: bool,
        peer_failures: bool,
    },
    /// A Node object's stored Ready condition changed (committed by the node lifecycle controller):
    /// what kube-state-metrics exports as `kube_node_status_condition`.
    NodeReady { node: u16, ready: bool },
    /// A Node object's stored `node.kubernetes.io/unreachable:NoExecute` taint was added or removed
    /// (committed by the node lifecycle controller; the model's only node taint besides the
    /// control-plane one). Drawn in the picture's node lanes.
    NodeTaint { node: u16, tainted: bool },
    /// A leader acted past its lease, as its leader-election settings allow (retry period + renew
    /// deadline > lease duration): a hazard of those settings, not a model bug.
    PastLease { proc: u16, text: String },
}

fn ser_role<S: serde::Serializer>(r: &Role, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.name())
}

/// A traced event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceEvent {
    pub time_ns: Nanos,
    #[serde(flatten)]
    pub kind: TraceKind,
}

/// The outcome of one client request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub sent_ns: Nanos,
    pub latency_ns: Nanos,
    pub ok: bool,
    pub write: bool,
}

/// One API request an API server served (its answer sent), for the capacity metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServedRecord {
    /// When it arrived at the API server.
    pub at_ns: Nanos,
    /// From arrival to answer: queue wait, etcd, CPU.
    pub latency_ns: Nanos,
    /// CPU time it took on the server.
    pub cpu_ns: u32,
    pub proc: u16,
    /// Its priority level ([`crate::components::apf::PriorityLevel::index`]).
    pub level: u8,
    pub write: bool,
    /// It waited in an APF queue.
    pub queued: bool,
}

/// The 429s one API server answered in the second from `at_ns`, per priority level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottleRecord {
    pub at_ns: Nanos,
    pub proc: u16,
    pub counts: [u32; 8],
}

/// The whole record of a run.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    pub events: Vec<TraceEvent>,
    pub requests: Vec<RequestRecord>,
    pub served: Vec<ServedRecord>,
    pub throttled: Vec<ThrottleRecord>,
    /// When informers sent a relist (a LIST after their first successful one).
    pub relists: Vec<Nanos>,
    /// etcd's CPU work, all members together: nanoseconds busy per second of the run (by the second
    /// the work started in).
    pub etcd_busy_ns: std::collections::BTreeMap<u64, u64>,
    hash: u64,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Trace {
        Trace {
            events: Vec::new(),
            requests: Vec::new(),
            served: Vec::new(),
            throttled: Vec::new(),
            relists: Vec::new(),
            etcd_busy_ns: std::collections::BTreeMap::new(),
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }

    /// Appends an event, folding it into the trace hash (field by field, without formatting).
    pub fn push(&mut self, time_ns: Nanos, kind: TraceKind) {
        use std::hash::{Hash, Hasher};
        let mut h = Fnv(self.hash);
        time_ns.hash(&mut h);
        kind.hash(&mut h);
        self.hash = h.finish();
        self.events.push(TraceEvent { time_ns, kind });
    }

    /// Records a client request outcome.
    pub fn request(&mut self, r: RequestRecord) {
        let mut buf = [0u8; 17];
        buf[..8].copy_from_slice(&r.sent_ns.to_le_bytes());
        buf[8..16].copy_from_slice(&r.latency_ns.to_le_bytes());
        buf[16] = (r.ok as u8) | ((r.write as u8) << 1);
        self.fold(&buf);
        self.requests.push(r);
    }

    /// Records a request an API server served.
    pub fn served(&mut self, r: ServedRecord) {
        let mut buf = [0u8; 24];
        buf[..8].copy_from_slice(&r.at_ns.to_le_bytes());
        buf[8..16].copy_from_slice(&r.latency_ns.to_le_bytes());
        buf[16..20].copy_from_slice(&r.cpu_ns.to_le_bytes());
        buf[20..22].copy_from_slice(&r.proc.to_le_bytes());
        buf[22] = r.level;
        buf[23] = (r.write as u8) | ((r.queued as u8) << 1);
        self.fold(&buf);
        self.served.push(r);
    }

    /// Records `cpu_ns` of an etcd member's work started at `start_ns`.
    pub fn etcd_busy(&mut self, start_ns: Nanos, cpu_ns: Nanos) {
        self.fold(&start_ns.to_le_bytes());
        self.fold(&cpu_ns.to_le_bytes());
        *self
            .etcd_busy_ns
            .entry(start_ns / crate::engine::SEC)
            .or_default() += cpu_ns;
    }

    /// Records an API server's 429s of one second.
    pub fn throttled(&mut self, r: ThrottleRecord) {
        self.fold(&r.at_ns.to_le_bytes());
        self.fold(&r.proc.to_le_bytes());
        for c in r.counts {
            self.fold(&c.to_le_bytes());
        }
        self.throttled.push(r);
    }

    /// Records an informer's relist at `at_ns`.
    pub fn relist(&mut self, at_ns: Nanos) {
        self.fold(&at_ns.to_le_bytes());
        self.relists.push(at_ns);
    }

    fn fold(&mut self, bytes: &[u8]) {
        let mut h = Fnv(self.hash);
        std::hash::Hasher::write(&mut h, bytes);
        self.hash = h.0;
    }

    /// A hash of everything traced, for the determinism self-check.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

/// FNV-1a over the bytes `Hash` feeds it: fixed and seedless, unlike std's default hasher, so the
/// trace hash is the same on every run (integers are fed little-endian on the supported targets).
struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= *b as u64;
            self.0 = self.0.wrapping_mul(0x100_0000_01b3);
        }
    }
}
