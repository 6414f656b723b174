//! kube-apiserver: active-active; serves reads and writes by talking to etcd through its etcd client
//! (linearizable), answers `/livez`, `/readyz` and `/healthz`; the etcd check is a linearizable read
//! that must answer within `--etcd-healthcheck-timeout`.
//!
//! Start-up: the storage backend dials etcd with `grpc.WithBlock()` and a 20 s dial timeout
//! (k8s.io/apiserver pkg/storage/storagebackend/factory/etcd3.go, newETCD3Client). The secure port opens
//! once the dial returned and the start-up time passed; if no etcd endpoint connects within the dial
//! timeout, creating the storage fails and the process exits, and the kubelet restarts it with its
//! back-off.
//!
//! Graceful stop (SIGTERM), as k8s.io/apiserver pkg/server/genericapiserver.go (RunWithContext) and
//! lifecycle_signals.go run it with the default `--shutdown-send-retry-after=false`:
//! 1. ShutdownInitiated: `/readyz` fails at once (its `shutdown` check, healthz.go
//!    addReadyzShutdownCheck); `/livez` and `/healthz` have no shutdown check and keep passing; requests
//!    are served as before, for `--shutdown-delay-duration`.
//! 2. AfterShutdownDelayDuration: the HTTP server's `Shutdown` closes the listener: new connections are
//!    refused; requests in flight go on, for at most ShutdownTimeout (= `--request-timeout`, config.go).
//! 3. InFlightRequestsDrained: the process exits.
//!
//! The `kubernetes` Service's endpoints are kept by the lease endpoint reconciler (k/k
//! pkg/controlplane/reconcilers/lease.go, the default `--endpoint-reconciler-type=lease`): every
//! `DefaultEndpointReconcilerInterval` (10 s) each serving API server renews its lease with a TTL of
//! `DefaultEndpointReconcilerTTL` (15 s) and rewrites the Endpoints to the API servers whose leases
//! have not expired (k/k pkg/controlplane/instance.go). A dead API server stays in the `kubernetes`
//! Service until its lease expires and another one reconciles; a graceful stop removes it at once.

use super::apf::{
    classify, Admission, AdmissionConfig, Admit, ApiUser, Class, Cores, PriorityLevel,
};
use super::etcd_client::{
    Completion, EtcdClient, EtcdClientConfig, EtcdClientTimer, Event, OwnerTag,
};
use super::Stopping;
use crate::components::ctx::{Ctx, IdGen, Out, ProcId};
use crate::components::msg::{
    keys, ApiError, EtcdError, HealthPath, Key, KeyValue, KvOp, KvResult, Msg,
};
use crate::components::objects::Pod;
use crate::engine::SmallMap;
use crate::engine::{fmt_duration, Nanos};
use crate::observe::{ProcState, TraceKind};
use std::collections::BTreeMap;

/// API server settings.
#[derive(Clone, Debug)]
pub struct ApiServerConfig {
    pub etcd: EtcdClientConfig,
    pub request_timeout_ns: Nanos,
    pub healthcheck_timeout_ns: Nanos,
    pub readycheck_timeout_ns: Nanos,
    pub startup_ns: Nanos,
    /// `--shutdown-delay-duration`: how long `/readyz` fails before the listener closes.
    pub shutdown_delay_ns: Nanos,
    /// The etcd client's dial timeout: how long start-up waits for a first etcd connection.
    pub etcd_dial_timeout_ns: Nanos,
    /// Its ordinal among the API servers (its bit in the `kubernetes` Service's endpoints).
    pub ordinal: u16,
    /// `--goaway-chance` (k8s.io/apiserver pkg/server/filters/goaway.go, `WithProbabilisticGoaway`).
    pub goaway_chance: f64,
    /// Its capacity: admission (APF or max-in-flight), cores, CPU per request.
    pub capacity: ApiCapacity,
}

/// What the API server can serve: its admission filter, its cores, and the CPU each kind of request
/// takes (decoding, admission, conversion, encoding; the etcd round trip is apart).
#[derive(Clone, Copy, Debug)]
pub struct ApiCapacity {
    pub admission: AdmissionConfig,
    pub cores: u32,
    pub get_cpu_ns: Nanos,
    pub write_cpu_ns: Nanos,
    /// A LIST costs a GET plus this per object returned.
    pub list_object_cpu_ns: Nanos,
    /// How many objects the informers' resource holds (`load.informers.objects`): a LIST of it
    /// costs as if etcd had returned that many (the model's etcd does not store them).
    pub informed_objects: u32,
}

impl ApiCapacity {
    /// The CPU a request takes, given what it answers.
    fn cpu_ns(&self, op: OpKind, result: &Result<KvResult, ApiError>) -> Nanos {
        match (op, result) {
            (OpKind::Write, _) => self.write_cpu_ns,
            (OpKind::Get, _) => self.get_cpu_ns,
            (OpKind::List, Ok(KvResult::Values(v))) => {
                self.get_cpu_ns + self.list_object_cpu_ns * v.len() as Nanos
            }
            (OpKind::List, _) => self.get_cpu_ns,
            (OpKind::InformedList, _) => {
                self.get_cpu_ns + self.list_object_cpu_ns * Nanos::from(self.informed_objects)
            }
        }
    }
}

/// The kinds of request that cost differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpKind {
    Get,
    List,
    /// A LIST of the informers' resource (its size is the server's `informed_objects`).
    InformedList,
    Write,
}

impl OpKind {
    fn of(op: &KvOp) -> OpKind {
        match op {
            KvOp::Put { .. } => OpKind::Write,
            // A watch is held, not served (`ApiServer::api_request`); should one be costed, it
            // costs what its initial GET from the watch cache would.
            KvOp::Get { .. } | KvOp::Watch { .. } => OpKind::Get,
            KvOp::Range { start, .. } if keys::kind_of(*start) == keys::INFORMED => {
                OpKind::InformedList
            }
            KvOp::Range { .. } => OpKind::List,
        }
    }
}

/// `DefaultEndpointReconcilerInterval` (k/k pkg/controlplane/instance.go).
pub const ENDPOINT_RECONCILER_INTERVAL_NS: Nanos = 10 * crate::engine::SEC;
/// `DefaultEndpointReconcilerTTL` (k/k pkg/controlplane/instance.go).
pub const ENDPOINT_RECONCILER_TTL_NS: Nanos = 15 * crate::engine::SEC;
/// The bit that keeps an empty endpoints set a stored (non-zero) value.
pub const API_ENDPOINTS_PRESENT: u64 = 1 << 63;

/// The API server's own timers (its etcd client has its own, [`EtcdClientTimer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiServerTimer {
    /// The start-up time has passed (static pod start, post-start hooks).
    Booted,
    /// The etcd dial timeout has passed.
    DialTimeout,
    /// `--shutdown-delay-duration` has passed since SIGTERM.
    ShutdownDelay,
    /// ShutdownTimeout has passed since the listener closed.
    ShutdownTimeout,
    /// The next run of the lease endpoint reconciler.
    Reconcile,
    /// The CPU work of request `tag` is done: answer it.
    CpuDone { tag: u64 },
    /// The oldest queued request reaches the request wait limit.
    QueueExpiry,
    /// The second of 429s that began at `at_ns` is over: report its counts.
    ThrottleFlush { at_ns: Nanos },
    /// The `rbac/bootstrap-roles` post-start hook tries again.
    BootstrapPoll,
}

/// The `rbac/bootstrap-roles` post-start hook polls every second for up to 30 s, and if it never
/// gets through, fails, and kube-apiserver exits (`klog.Fatalf("PostStartHook %q failed")`): k/k
/// pkg/registry/rbac/rest/storage_rbac.go `EnsureRBACPolicy` (v1.36.2 L162-181), `wait.Poll(1*time.Second,
/// 30*time.Second, ...)` (the first try after one interval), k/k PR #39149 "retry RBAC initialization for up to 30 seconds, kill server
/// on failure". So a server that starts while etcd has no quorum exits about 30 s later and the
/// kubelet restarts it with its back-off. A try in progress is waited for (the poll checks its
/// timeout between tries).
const RBAC_BOOTSTRAP_POLL_NS: Nanos = crate::engine::SEC;
const RBAC_BOOTSTRAP_TIMEOUT_NS: Nanos = 30 * crate::engine::SEC;

/// The read the etcd health checks and the bootstrap hook send: a linearizable GET, which fails
/// without quorum.
fn quorum_read() -> KvOp {
    KvOp::Get {
        key: keys::key(keys::DATA, 0),
        linearizable: true,
    }
}

/// Where the process is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Started; the port opens once the storage dial returned (`storage`) and the start-up time
    /// passed (`booted`).
    Starting { storage: bool, booted: bool },
    /// Serving.
    Serving,
    /// SIGTERM received: `/readyz` fails, everything is still served, for the shutdown delay.
    ShutdownDelay,
    /// The listener is closed; requests in flight finish, then the process exits.
    Draining,
}

#[derive(Clone, Copy, Debug)]
enum Waiter {
    Api(ApiWaiter),
    Health {
        client: ProcId,
        id: u64,
        path: HealthPath,
        /// Which of the endpoint's etcd checks this probe runs.
        check: EtcdCheckName,
        /// Whether the endpoint's earlier checks passed.
        passed: bool,
        /// When its etcd probe was sent.
        sent_ns: Nanos,
    },
    /// A step of the endpoint reconciler.
    Reconcile(ReconcileStep),
    /// A try of the `rbac/bootstrap-roles` post-start hook (its reads of the bootstrap roles).
    Bootstrap,
}

/// The API server's two etcd health checks (k8s.io/apiserver pkg/server/options/etcd.go
/// `addEtcdHealthEndpoint`): `etcd` is added with `AddHealthChecks`, so `/healthz`, `/livez` and
/// `/readyz` all run it; `etcd-readiness` with `AddReadyzChecks`, so only `/readyz` runs it, after
/// `etcd` (the handler runs every check in order, even after one failed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EtcdCheckName {
    /// `etcd`: `--etcd-healthcheck-timeout`, its own rate limiter.
    Etcd,
    /// `etcd-readiness`: `--etcd-readycheck-timeout`, its own rate limiter.
    Readiness,
}

impl EtcdCheckName {
    fn name(self) -> &'static str {
        match self {
            EtcdCheckName::Etcd => "etcd",
            EtcdCheckName::Readiness => "etcd-readiness",
        }
    }
}

/// An admitted (or queued) client request.
#[derive(Clone, Copy, Debug)]
struct ApiWaiter {
    client: ProcId,
    id: u64,
    /// The response closes the connection (GOAWAY).
    goaway: bool,
    class: Class,
    level: PriorityLevel,
    kind: OpKind,
    /// The APF seats it takes (its work estimate).
    seats: u32,
    arrived_ns: Nanos,
    queued: bool,
}

/// The endpoint reconciler's requests: renew (or, stopping, delete) its lease, list the leases and
/// the Endpoints, write the Endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReconcileStep {
    Lease { removing: bool },
    List { removing: bool },
    Write,
}

/// One etcd health check (`etcd` for /healthz, `etcd-readiness` for /readyz), rate limited as
/// k8s.io/apiserver storagebackend/factory/etcd3.go `newETCD3Check` does: at most one etcd Get every
/// timeout/2 (`rate.NewLimiter(rate.Every(timeout/2), 1)`); a check the limiter refuses answers at
/// once with the result of the last probe *sent* that has completed (`atomicLastError`).
#[derive(Clone, Copy, Debug, Default)]
struct EtcdCheck {
    /// When the limiter last allowed a probe.
    last_allowed_ns: Option<Nanos>,
    /// The newest completed probe: when it was sent and whether it passed. None: the initial
    /// "etcd client connection not yet established".
    last: Option<(Nanos, bool)>,
}

impl EtcdCheck {
    /// Whether the limiter lets a probe go now (burst 1, one token per timeout/2).
    fn allow(&mut self, now: Nanos, timeout_ns: Nanos) -> bool {
        match self.last_allowed_ns {
            Some(t) if now < t + timeout_ns / 2 => false,
            Some(_) | None => {
                self.last_allowed_ns = Some(now);
                true
            }
        }
    }

    /// Stores a completed probe's result unless a later-sent probe's is already stored.
    fn store(&mut self, sent_ns: Nanos, ok: bool) {
        if self.last.is_none_or(|(t, _)| t < sent_ns) {
            self.last = Some((sent_ns, ok));
        }
    }

    fn last_ok(&self) -> bool {
        self.last.is_some_and(|(_, ok)| ok)
    }
}

/// The kube-apiserver process.
#[derive(Clone)]
pub struct ApiServer {
    cfg: ApiServerConfig,
    phase: Phase,
    etcd: EtcdClient,
    waiters: SmallMap<OwnerTag, Waiter>,
    tags: IdGen,
    /// Last `/readyz` outcome, to trace readiness changes.
    last_ready: Option<bool>,
    /// The `etcd` health check (/healthz) and the `etcd-readiness` check (/readyz).
    health_check: EtcdCheck,
    ready_check: EtcdCheck,
    /// APF (or max-in-flight) seats and queues.
    admission: Admission<OwnerTag>,
    /// The ops of queued requests, sent to etcd when a seat frees.
    parked: SmallMap<OwnerTag, KvOp>,
    /// Requests etcd answered, waiting for their CPU work: the request, its answer, its CPU time.
    answering: SmallMap<OwnerTag, Answer>,
    cores: Cores,
    /// The queue-expiry timer is armed for this time.
    expiry_armed: Option<Nanos>,
    /// 429s of the current second, per priority level, and when that second began.
    throttled: Option<(Nanos, [u32; 8])>,
    /// Watches held open: (the peer the connection comes from, its request id). The peer is the
    /// client, or HAProxy relaying it.
    watches: std::collections::BTreeSet<(ProcId, u64)>,
    /// The watch cache: each of [`WATCHED`] as etcd last sent it (None until its watch's first
    /// event), and a fingerprint of what its watchers are shown of it.
    cache: [Option<(std::sync::Arc<[KeyValue]>, Fingerprint)>; WATCHED.len()],
    /// The store revision each was sent at.
    cache_rev: [u64; WATCHED.len()],
    /// The held watches of a cached range (kubelets' pods, kube-proxies' endpoints), by (peer,
    /// request id), with what each was last sent.
    pushing: BTreeMap<(ProcId, u64), PushWatch>,
    /// The keys of `pushing` by stream: a node lease's renewal is pushed to the few watchers of the
    /// leases, not looked for among a thousand kubelets' watches.
    pushing_by_stream: [std::collections::BTreeSet<(ProcId, u64)>; WATCHED.len()],
    /// The keys of the pods' watches by their field selector (`None`: all pods, the controllers'
    /// informers): a pod's change is pushed to the kubelets of the nodes it changed, not looked
    /// for among a thousand. The watch cache does the same: the pods' storage registers a trigger
    /// on `spec.nodeName` (`NodeNameTriggerFunc`, k/k pkg/registry/core/pod/strategy.go), and the
    /// cacher hands an event only to the watchers whose selector names the object's old or new
    /// node, plus those without one (k8s.io/apiserver pkg/storage/cacher/cacher.go,
    /// `triggerValuesThreadUnsafe`).
    pod_watches_by_node: BTreeMap<Option<u16>, std::collections::BTreeSet<(ProcId, u64)>>,
    /// The watch cache's pods split by the node they are bound to, for the kubelets'
    /// field-selected watches: rebuilt only when the cache's pods change, so a kubelet's watch event
    /// costs its own pods, not the cluster's.
    pods_by_node: Derived<PodsByNode>,
    /// The `rbac/bootstrap-roles` post-start hook has not finished: when it gives up. Until it
    /// finishes, its health check (`poststarthook/rbac/bootstrap-roles`, in /healthz, /livez and
    /// /readyz: `AddBootSequenceHealthChecks`) fails.
    bootstrap_deadline: Option<Nanos>,
}

/// What is derived from one shared answer, with the answer it was derived from: rebuilt only when
/// etcd hands out another (it shares one answer until a write lands in the range). The answer is
/// held, so that its address cannot be reused while the pointer comparison relies on it.
type Derived<T> = Option<(std::sync::Arc<[KeyValue]>, T)>;

/// `build(answer)`, from `cache` when it was derived from this very answer.
fn derived<'a, T>(
    cache: &'a mut Derived<T>,
    answer: &std::sync::Arc<[KeyValue]>,
    build: impl FnOnce(&[KeyValue]) -> T,
) -> &'a T {
    if !cache
        .as_ref()
        .is_some_and(|(of, _)| std::sync::Arc::ptr_eq(of, answer))
    {
        *cache = Some((answer.clone(), build(answer)));
    }
    &cache.as_ref().expect("set above").1
}

/// An answer's pods by the node they are bound to (see [`pods_on`]).
type PodsByNode = BTreeMap<u16, std::sync::Arc<[KeyValue]>>;

/// The pods of `all` bound to `node`, in key order: what a watch with the field selector
/// `spec.nodeName=<node>` is shown. `cache` is the server's `pods_by_node`.
fn pods_on(
    cache: &mut Derived<PodsByNode>,
    node: u16,
    all: &std::sync::Arc<[KeyValue]>,
) -> std::sync::Arc<[KeyValue]> {
    let nodes = derived(cache, all, |all| {
        let mut split: BTreeMap<u16, Vec<KeyValue>> = BTreeMap::new();
        for kv in all {
            if let Some(n) = Pod::unpack(kv.value).node {
                split.entry(n).or_default().push(*kv);
            }
        }
        split.into_iter().map(|(n, v)| (n, v.into())).collect()
    });
    // One empty answer for every node without pods, not an allocation per poll.
    static NONE: std::sync::LazyLock<std::sync::Arc<[KeyValue]>> =
        std::sync::LazyLock::new(|| std::sync::Arc::from([]));
    nodes.get(&node).unwrap_or(&NONE).clone()
}

/// The nodes whose field-selected view of the pods differs between two answers, each in key order
/// (as etcd returns a range): a pod added, removed or changed is a change to the node it was bound
/// to and to the node it is bound to now. In node order, without repeats.
fn nodes_changed(old: &[KeyValue], new: &[KeyValue]) -> Vec<u16> {
    let mut nodes = Vec::new();
    let mut note = |kv: &KeyValue| {
        if let Some(n) = Pod::unpack(kv.value).node {
            nodes.push(n);
        }
    };
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a.key == b.key => {
                if a != b {
                    note(a);
                    note(b);
                }
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a.key < b.key => {
                note(a);
                i += 1;
            }
            (Some(a), None) => {
                note(a);
                i += 1;
            }
            (_, Some(b)) => {
                note(b);
                j += 1;
            }
            (None, None) => unreachable!("the loop runs while either has more"),
        }
    }
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// Moves `cache` (the split of `old`) to the split of `new`, rebuilding only the `changed` nodes'
/// slices: a pod's binding changes a node or two, and rebuilding a thousand nodes' slices for it
/// was most of a large cluster's API server cost. A split of another answer, or a change to many
/// nodes, is left to be rebuilt whole when next read.
fn patch_split(
    cache: &mut Derived<PodsByNode>,
    old: &std::sync::Arc<[KeyValue]>,
    new: &std::sync::Arc<[KeyValue]>,
    changed: &[u16],
) {
    const PATCH_AT_MOST: usize = 16;
    let Some((of, split)) = cache else {
        return;
    };
    if !std::sync::Arc::ptr_eq(of, old) || changed.len() > PATCH_AT_MOST {
        *cache = None;
        return;
    }
    for &n in changed {
        let pods: std::sync::Arc<[KeyValue]> = new
            .iter()
            .filter(|kv| Pod::unpack(kv.value).node == Some(n))
            .copied()
            .collect();
        if pods.is_empty() {
            split.remove(&n);
        } else {
            split.insert(n, pods);
        }
    }
    *of = new.clone();
}

/// The ranges the watch cache holds, each filled by its own etcd watch (a cacher per resource,
/// k8s.io/apiserver pkg/storage/cacher): the pods; the Services' endpoints with the API servers'
/// leases and the `kubernetes` Service's endpoints (adjacent kinds, as a kube-proxy watches them);
/// and the node leases, the Nodes and their status, which the controllers' informers watch.
const WATCHED: [(Key, Key); 5] = [
    keys::range(keys::POD),
    keys::PROXY_WATCHED,
    keys::range(keys::NODE_LEASE),
    keys::range(keys::NODE),
    keys::range(keys::NODE_STATUS),
];

/// The index of the pods in [`WATCHED`].
const POD_STREAM: usize = 0;
const _: () = assert!(WATCHED[POD_STREAM].0 == keys::range(keys::POD).0);

/// What a watcher is shown of a range, up to equality: how many objects and the newest
/// modification. A write raises the newest revision and a deletion lowers the count, so two views
/// of one range with the same fingerprint hold the same objects.
type Fingerprint = (usize, u64);

/// The fingerprint of a view, leaving out the API servers' leases: no watcher is shown them
/// (kube-proxy watches EndpointSlices, not the leases the endpoint reconciler keeps).
fn fingerprint(v: &[KeyValue]) -> Fingerprint {
    v.iter()
        .filter(|kv| keys::kind_of(kv.key) != keys::MASTER_LEASE)
        .fold((0, 0), |(n, rev), kv| (n + 1, rev.max(kv.mod_rev)))
}

/// [`fingerprint`] of an answer to stream `stream` of [`WATCHED`]: for a range that cannot hold an
/// API server's lease, its length and its newest modification, one plain pass (a watch event of
/// the pods or the node leases is a pass over a thousand objects or more).
fn stream_fingerprint(stream: usize, v: &[KeyValue]) -> Fingerprint {
    let (start, end) = WATCHED[stream];
    let (lease_start, lease_end) = keys::range(keys::MASTER_LEASE);
    if start < lease_end && lease_start < end {
        return fingerprint(v);
    }
    (v.len(), v.iter().map(|kv| kv.mod_rev).max().unwrap_or(0))
}

/// A held watch that the cache feeds.
#[derive(Clone, Debug)]
struct PushWatch {
    /// Which of [`WATCHED`].
    stream: usize,
    /// The pods' field selector.
    node: Option<u16>,
    /// The client (not the HAProxy relaying it): a client watches each range once, so a watch it
    /// opens replaces the one it left behind on a broken connection.
    origin: ProcId,
    /// What it was last sent.
    sent: Option<Fingerprint>,
}

/// A request whose answer waits for its CPU work.
type Answer = (ApiWaiter, Result<KvResult, ApiError>, Nanos);

impl ApiServer {
    /// A stopped API server.
    pub fn new(cfg: ApiServerConfig) -> ApiServer {
        let etcd = EtcdClient::new(cfg.etcd.clone());
        let (cfg_admission, cfg_cores) = (cfg.capacity.admission, cfg.capacity.cores);
        ApiServer {
            cfg,
            phase: Phase::Starting {
                storage: false,
                booted: false,
            },
            etcd,
            waiters: SmallMap::new(),
            tags: IdGen::default(),
            last_ready: None,
            health_check: EtcdCheck::default(),
            ready_check: EtcdCheck::default(),
            admission: Admission::new(cfg_admission),
            parked: SmallMap::new(),
            answering: SmallMap::new(),
            cores: Cores::new(cfg_cores),
            expiry_armed: None,
            throttled: None,
            watches: std::collections::BTreeSet::new(),
            cache: Default::default(),
            cache_rev: [0; WATCHED.len()],
            pushing: BTreeMap::new(),
            pushing_by_stream: Default::default(),
            pod_watches_by_node: BTreeMap::new(),
            pods_by_node: None,
            bootstrap_deadline: None,
        }
    }

    /// Forgets everything in flight (a crash or a restart).
    fn reset_capacity(&mut self) {
        self.admission = Admission::new(self.cfg.capacity.admission);
        self.parked.clear();
        self.answering.clear();
        self.cores.reset();
        self.expiry_armed = None;
        self.throttled = None;
        self.watches.clear();
        self.forget_pushed_watches();
    }

    /// The requests held open on their connections (watches), as (peer, request id): when the
    /// process dies on a live host, its kernel resets these connections and the peers learn it at
    /// once (a connection with nothing in flight is reset too, but its client sees that only on
    /// its next request, as the model has it).
    pub fn held_requests(&self) -> Vec<(ProcId, u64)> {
        self.watches.iter().copied().collect()
    }

    /// Whether it serves requests: started, and its listener not yet closed by a graceful stop.
    pub fn serving(&self) -> bool {
        matches!(self.phase, Phase::Serving | Phase::ShutdownDelay)
    }

    /// Serving, and ready as its last health check found it (kubeadm's readiness probe, `/readyz`
    /// every second, sees the same checks).
    pub fn ready(&self) -> bool {
        self.serving() && self.last_ready == Some(true)
    }

    /// The etcd members it uses.
    pub fn etcd_endpoints(&self) -> &[ProcId] {
        self.etcd.endpoints()
    }

    /// Boots: the storage backend dials etcd; the port opens after the start-up time (static pod start,
    /// storage init, post-start hooks) once the dial returned.
    pub fn start(&mut self, ctx: &mut Ctx) {
        self.phase = Phase::Starting {
            storage: false,
            booted: false,
        };
        self.etcd = EtcdClient::restarted(&self.etcd);
        self.waiters.clear();
        self.reset_capacity();
        self.last_ready = None;
        self.bootstrap_deadline = None;
        self.health_check = EtcdCheck::default();
        self.ready_check = EtcdCheck::default();
        self.etcd.start(ctx);
        // The watch cache's reflectors: one etcd watch per cached resource.
        self.cache = Default::default();
        self.cache_rev = [0; WATCHED.len()];
        for (start, end) in WATCHED {
            self.etcd.watch(ctx, start, end);
        }
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state: ProcState::Unready,
        });
        ctx.timer(self.cfg.startup_ns, ApiServerTimer::Booted);
        ctx.timer(self.cfg.etcd_dial_timeout_ns, ApiServerTimer::DialTimeout);
    }

    /// Crash: all in-flight requests die with the process.
    pub fn crash(&mut self) {
        self.phase = Phase::Starting {
            storage: false,
            booted: false,
        };
        self.bootstrap_deadline = None;
        self.waiters.clear();
        self.reset_capacity();
    }

    /// SIGTERM: a graceful shutdown that ends with [`Out::Exit`], or, before the port opened (nothing
    /// to drain), an immediate exit.
    pub fn stop(&mut self, ctx: &mut Ctx) -> Stopping {
        match self.phase {
            Phase::Starting { .. } => Stopping::Now,
            // A second SIGTERM changes nothing: the shutdown is under way.
            Phase::ShutdownDelay | Phase::Draining => Stopping::Graceful,
            Phase::Serving => {
                self.phase = Phase::ShutdownDelay;
                ctx.log(
                    "\"[graceful-termination] shutdown event\" name=\"ShutdownInitiated\"".into(),
                );
                ctx.log("readyz: [-]shutdown failed: process is shutting down".into());
                // RemoveEndpoints: the server takes itself out of the `kubernetes` Service.
                self.reconcile_lease(ctx, true);
                self.last_ready = Some(false);
                ctx.trace(TraceKind::Proc {
                    proc: ctx.me,
                    state: ProcState::Unready,
                });
                if self.cfg.shutdown_delay_ns == 0 {
                    self.close_listener(ctx);
                } else {
                    ctx.timer(self.cfg.shutdown_delay_ns, ApiServerTimer::ShutdownDelay);
                }
                Stopping::Graceful
            }
        }
    }

    /// AfterShutdownDelayDuration: the listener closes; what is in flight drains, bounded by
    /// ShutdownTimeout (= `--request-timeout`; k8s.io/apiserver pkg/server/config.go).
    fn close_listener(&mut self, ctx: &mut Ctx) {
        debug_assert_eq!(self.phase, Phase::ShutdownDelay);
        self.phase = Phase::Draining;
        ctx.log(
            "\"[graceful-termination] shutdown event\" name=\"AfterShutdownDelayDuration\"".into(),
        );
        ctx.log(
            "\"[graceful-termination] shutdown event\" name=\"HTTPServerStoppedListening\"".into(),
        );
        self.end_watches(ctx);
        if self.drained() {
            self.exit_drained(ctx);
        } else {
            ctx.timer(self.cfg.request_timeout_ns, ApiServerTimer::ShutdownTimeout);
        }
    }

    /// A graceful stop ends the watches cleanly (the HTTP/2 server's GOAWAY, which also ends each
    /// watch's stream; `--shutdown-watch-termination-grace-period` defaults to 0, k8s.io/apiserver
    /// pkg/server/options/server_run_options.go): their clients watch again elsewhere, without a
    /// LIST. One message, so that nothing can overtake the GOAWAY on the way.
    fn end_watches(&mut self, ctx: &mut Ctx) {
        self.forget_pushed_watches();
        for (client, id) in std::mem::take(&mut self.watches) {
            ctx.send(client, Msg::GoAway { id });
        }
    }

    fn exit_drained(&mut self, ctx: &mut Ctx) {
        debug_assert!(self.drained());
        ctx.log(
            "\"[graceful-termination] shutdown event\" name=\"InFlightRequestsDrained\"".into(),
        );
        ctx.out.push(Out::Exit);
    }

    /// The API server's own timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: ApiServerTimer) {
        match t {
            ApiServerTimer::Booted => {
                if let Phase::Starting { storage, .. } = self.phase {
                    self.phase = Phase::Starting {
                        storage,
                        booted: true,
                    };
                    self.open_port_if_ready(ctx);
                }
            }
            ApiServerTimer::DialTimeout => {
                if let Phase::Starting { storage: false, .. } = self.phase {
                    // clientv3.New returns "context deadline exceeded"; the storage factory fails and
                    // kube-apiserver exits.
                    ctx.log(format!(
                        "\"Unable to create storage backend\" err=\"context deadline exceeded\" (no etcd endpoint connected within the {} dial timeout); exiting",
                        fmt_duration(self.cfg.etcd_dial_timeout_ns)
                    ));
                    ctx.out.push(Out::Exit);
                }
            }
            ApiServerTimer::ShutdownDelay => {
                if self.phase == Phase::ShutdownDelay {
                    self.close_listener(ctx);
                }
            }
            ApiServerTimer::Reconcile => {
                if self.phase == Phase::Serving {
                    self.reconcile_lease(ctx, false);
                    ctx.timer(ENDPOINT_RECONCILER_INTERVAL_NS, ApiServerTimer::Reconcile);
                }
            }
            ApiServerTimer::CpuDone { tag } => self.cpu_done(ctx, OwnerTag(tag)),
            ApiServerTimer::QueueExpiry => {
                if self.expiry_armed == Some(ctx.now) {
                    self.expire_queued(ctx);
                }
            }
            ApiServerTimer::ThrottleFlush { at_ns } => {
                if let Some((start, counts)) = self.throttled {
                    if start == at_ns {
                        self.throttled = None;
                        ctx.out.push(crate::components::ctx::Out::Throttled(
                            crate::observe::trace::ThrottleRecord {
                                at_ns,
                                proc: ctx.me,
                                counts,
                            },
                        ));
                    }
                }
            }
            // Armed only when the port opens and after a failed try: no try is in flight.
            ApiServerTimer::BootstrapPoll => {
                if self.bootstrap_deadline.is_some() {
                    let tag = OwnerTag(self.tags.next_id());
                    self.waiters.insert(tag, Waiter::Bootstrap);
                    // The hook's GETs of the bootstrap roles read through to etcd.
                    let op = quorum_read();
                    if let Some(ev) = self.etcd.request(ctx, tag, op, self.cfg.request_timeout_ns) {
                        self.etcd_event(ctx, ev);
                    }
                }
            }
            ApiServerTimer::ShutdownTimeout => {
                if self.phase == Phase::Draining {
                    ctx.log(
                        "[graceful-termination] in-flight requests did not drain within ShutdownTimeout; exiting".into(),
                    );
                    ctx.out.push(Out::Exit);
                }
            }
        }
    }

    /// Its etcd client's timers.
    pub fn on_etcd_client_timer(&mut self, ctx: &mut Ctx, t: EtcdClientTimer) {
        if let Some(ev) = self.etcd.on_timer(ctx, t) {
            self.etcd_event(ctx, ev);
        }
    }

    fn open_port_if_ready(&mut self, ctx: &mut Ctx) {
        if self.phase
            != (Phase::Starting {
                storage: true,
                booted: true,
            })
        {
            return;
        }
        self.phase = Phase::Serving;
        ctx.log("Serving securely on [::]:6443".into());
        // The reconciler starts with the server (a post-start hook) and runs at once.
        ctx.timer(1, ApiServerTimer::Reconcile);
        self.bootstrap_deadline = Some(ctx.now + RBAC_BOOTSTRAP_TIMEOUT_NS);
        ctx.timer(RBAC_BOOTSTRAP_POLL_NS, ApiServerTimer::BootstrapPoll);
        // Serving, but its health endpoints fail until the post-start hook is done.
        self.note_ready(ctx, false);
    }

    /// Records a change of readiness (what its health checks last found) in the trace; says whether
    /// it changed.
    fn note_ready(&mut self, ctx: &mut Ctx, ready: bool) -> bool {
        if self.last_ready == Some(ready) {
            return false;
        }
        self.last_ready = Some(ready);
        ctx.trace(TraceKind::Proc {
            proc: ctx.me,
            state: if ready {
                ProcState::Up
            } else {
                ProcState::Unready
            },
        });
        true
    }

    fn etcd_event(&mut self, ctx: &mut Ctx, ev: Event) {
        match ev {
            Event::Done(done) => self.complete(ctx, done),
            Event::Watched {
                stream,
                values,
                rev,
            } => {
                if self.cache_rev[stream] > rev {
                    // From a member that has applied less than the one the watch left.
                    return;
                }
                self.cache_rev[stream] = rev;
                let fp = stream_fingerprint(stream, &values);
                // The pods' watchers whose view can have changed: those of every pod and those of
                // the nodes a pod changed on. Each other kubelet's view is what it was last sent
                // (every watcher was pushed the previous answer), so visiting it sent nothing.
                let changed = match &self.cache[stream] {
                    Some((old, _)) if stream == POD_STREAM => {
                        let nodes = nodes_changed(old, &values);
                        patch_split(&mut self.pods_by_node, old, &values, &nodes);
                        Some(nodes)
                    }
                    _ => None,
                };
                self.cache[stream] = Some((values, fp));
                let keys: Vec<(ProcId, u64)> = match changed {
                    Some(nodes) => {
                        let by_node = &self.pod_watches_by_node;
                        let mut keys: Vec<(ProcId, u64)> = std::iter::once(None)
                            .chain(nodes.into_iter().map(Some))
                            .filter_map(|n| by_node.get(&n))
                            .flatten()
                            .copied()
                            .collect();
                        // In the order every watcher was visited in.
                        keys.sort_unstable();
                        keys
                    }
                    None => self.pushing_by_stream[stream].iter().copied().collect(),
                };
                for k in keys {
                    self.push(ctx, k);
                }
            }
            Event::Connected => {
                if let Phase::Starting { booted, .. } = self.phase {
                    self.phase = Phase::Starting {
                        storage: true,
                        booted,
                    };
                    self.open_port_if_ready(ctx);
                }
            }
        }
    }

    /// Messages: client requests, probes, and etcd answers.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        match msg {
            Msg::ApiReq { id, op, user, .. } => {
                self.api_request(ctx, (from, from), id, (op, user), false)
            }
            // The HTTP/2 layer answers PINGs while the port is open, whatever the server's health.
            Msg::ApiPing { id, .. } => {
                let answer = if self.serving() {
                    Msg::ApiPong { id }
                } else {
                    Msg::ConnRefused { id }
                };
                ctx.send(from, answer);
            }
            Msg::ProxyReq {
                id,
                op,
                user,
                origin,
                ..
            } => self.api_request(ctx, (from, origin), id, (op, user), true),
            Msg::HealthReq { id, path } => self.health_request(ctx, from, id, path),
            Msg::EtcdResp { .. }
            | Msg::EtcdPong { .. }
            | Msg::WatchEvent { .. }
            | Msg::ConnRefused { .. }
            | Msg::TlsFailed { .. } => {
                if let Some(ev) = self.etcd.on_msg(ctx, from, &msg) {
                    self.etcd_event(ctx, ev);
                }
            }
            // Not its protocol: it serves the API and is an etcd client, nothing else.
            Msg::Raft(_)
            | Msg::Forward(_)
            | Msg::EtcdReq { .. }
            | Msg::EtcdPing { .. }
            | Msg::ProxyAccepted { .. }
            | Msg::ApiResp { .. }
            | Msg::ApiPong { .. }
            | Msg::GoAway { .. }
            | Msg::HealthResp { .. }
            | Msg::Vrrp { .. } => {}
        }
    }

    /// Forgets every watch the cache feeds, with its index by stream.
    fn forget_pushed_watches(&mut self) {
        self.pushing.clear();
        self.pushing_by_stream = Default::default();
        self.pod_watches_by_node.clear();
    }

    /// Drops a pods' watch from the index by field selector.
    fn unindex_pod_watch(&mut self, node: Option<u16>, key: (ProcId, u64)) {
        if let Some(keys) = self.pod_watches_by_node.get_mut(&node) {
            keys.remove(&key);
            if keys.is_empty() {
                self.pod_watches_by_node.remove(&node);
            }
        }
    }

    /// Sends held watch `key` its view of the cache, if it changed since it was last sent.
    /// Not charged to the server's cores: the watch cache encodes an event once for all its
    /// watchers, and the model does not cost that.
    fn push(&mut self, ctx: &mut Ctx, key: (ProcId, u64)) {
        let Some(w) = self.pushing.get(&key) else {
            return;
        };
        // Not filled yet: the watch waits for the cache, as a watch on an unready cache does.
        let Some((all, all_fp)) = &self.cache[w.stream] else {
            return;
        };
        let w_stream = w.stream;
        let (values, fp) = match w.node {
            Some(node) => {
                let v = pods_on(&mut self.pods_by_node, node, all);
                let fp = fingerprint(&v);
                (v, fp)
            }
            None => (all.clone(), *all_fp),
        };
        if w.sent == Some(fp) {
            return;
        }
        if let Some(w) = self.pushing.get_mut(&key) {
            w.sent = Some(fp);
        }
        let rev = self.cache_rev[w_stream];
        ctx.send(
            key.0,
            Msg::WatchEvent {
                id: key.1,
                values,
                rev,
            },
        );
    }

    /// Nothing in flight: no request waits for etcd, a seat, or its CPU.
    fn drained(&self) -> bool {
        self.waiters.is_empty() && self.answering.is_empty()
    }

    fn api_request(
        &mut self,
        ctx: &mut Ctx,
        (from, origin): (ProcId, ProcId),
        id: u64,
        (op, user): (KvOp, ApiUser),
        proxied: bool,
    ) {
        if !self.serving() {
            // The secure port is not open yet, or closed by a graceful stop: the kernel refuses the
            // connection.
            ctx.send(from, Msg::ConnRefused { id });
            return;
        }
        if proxied {
            ctx.send(from, Msg::ProxyAccepted { id });
        }
        if let KvOp::Watch { start, end, node } = op {
            // Served from the watch cache and held open until the connection breaks or the server
            // stops. Not modelled: the seats APF gives a watch while it initializes, its bookmarks,
            // and the server closing it after its timeoutSeconds (5-10 min from client-go's
            // reflector, which then watches again without a LIST). A watch of a range the cache
            // holds is sent the range at once (its initial list; a client that watches again
            // after a broken connection is sent it too, and compares) and then every change.
            self.watches.insert((from, id));
            if let Some(stream) = WATCHED.iter().position(|r| *r == (start, end)) {
                let stale: Vec<(ProcId, u64)> = self.pushing_by_stream[stream]
                    .iter()
                    .filter(|k| self.pushing.get(k).is_some_and(|w| w.origin == origin))
                    .copied()
                    .collect();
                for k in stale {
                    if let Some(w) = self.pushing.remove(&k) {
                        if stream == POD_STREAM {
                            self.unindex_pod_watch(w.node, k);
                        }
                    }
                    self.pushing_by_stream[stream].remove(&k);
                    self.watches.remove(&k);
                }
                self.pushing_by_stream[stream].insert((from, id));
                if stream == POD_STREAM {
                    self.pod_watches_by_node
                        .entry(node)
                        .or_default()
                        .insert((from, id));
                }
                self.pushing.insert(
                    (from, id),
                    PushWatch {
                        stream,
                        node,
                        origin,
                        sent: None,
                    },
                );
                self.push(ctx, (from, id));
            }
            return;
        }
        let tag = OwnerTag(self.tags.next_id());
        // The filter draws for every request it serves (only when the chance is set, so that runs
        // without it keep their random streams).
        let goaway =
            self.cfg.goaway_chance > 0.0 && rand::Rng::gen::<f64>(ctx.rng) < self.cfg.goaway_chance;
        let level = classify(user, &op);
        let class = self.admission.class(level, op.is_write());
        let kind = OpKind::of(&op);
        // Only an informer's LIST is estimated wider than one seat: the model's other LISTs (the
        // endpoint reconciler's) return a handful of objects.
        let seats = match kind {
            OpKind::InformedList => {
                crate::components::apf::list_seats(self.cfg.capacity.informed_objects)
            }
            OpKind::Get | OpKind::List | OpKind::Write => 1,
        };
        let w = ApiWaiter {
            client: from,
            id,
            goaway,
            class,
            level,
            kind,
            seats,
            arrived_ns: ctx.now,
            queued: false,
        };
        // The flow: the user (all the model's clients of one kind share credentials).
        match self
            .admission
            .arrive(ctx.now, class, user as u64, tag, seats)
        {
            Admit::Dispatch => {
                self.waiters.insert(tag, Waiter::Api(w));
                self.dispatch(ctx, tag, op);
            }
            Admit::Queued => {
                self.waiters
                    .insert(tag, Waiter::Api(ApiWaiter { queued: true, ..w }));
                self.parked.insert(tag, op);
                self.arm_expiry(ctx);
            }
            Admit::Reject => self.too_many_requests(ctx, w),
        }
    }

    /// A request took a seat: it goes to etcd.
    fn dispatch(&mut self, ctx: &mut Ctx, tag: OwnerTag, op: KvOp) {
        if let Some(ev) = self.etcd.request(ctx, tag, op, self.cfg.request_timeout_ns) {
            self.etcd_event(ctx, ev);
        }
    }

    /// 429 with `Retry-After: 1`, counted in this second's throttle record. The GOAWAY filter wraps
    /// APF (it is added after it in `DefaultBuildHandlerChain`, so it runs first): a 429 closes the
    /// connection with the same chance as any answer.
    fn too_many_requests(&mut self, ctx: &mut Ctx, w: ApiWaiter) {
        if w.goaway {
            ctx.send(w.client, Msg::GoAway { id: w.id });
        }
        ctx.send(
            w.client,
            Msg::ApiResp {
                id: w.id,
                result: Err(ApiError::TooManyRequests),
            },
        );
        let (_, counts) = self.throttled.get_or_insert_with(|| {
            ctx.out.push(crate::components::ctx::Out::Timer {
                at: ctx.now + crate::engine::SEC,
                timer: ApiServerTimer::ThrottleFlush { at_ns: ctx.now }.into(),
            });
            (ctx.now, [0; 8])
        });
        counts[w.level.index()] += 1;
    }

    /// Keeps the queue-expiry timer armed for the oldest queued request.
    fn arm_expiry(&mut self, ctx: &mut Ctx) {
        let next = self.admission.next_expiry();
        if next.is_some() && (self.expiry_armed.is_none() || next < self.expiry_armed) {
            self.expiry_armed = next;
            if let Some(at) = next {
                ctx.timer_at(at, ApiServerTimer::QueueExpiry);
            }
        }
    }

    /// Requests that waited the request wait limit in their queues: 429.
    fn expire_queued(&mut self, ctx: &mut Ctx) {
        self.expiry_armed = None;
        let mut out = Vec::new();
        self.admission.expire(ctx.now, &mut out);
        for tag in out {
            self.parked.remove(&tag);
            if let Some(Waiter::Api(w)) = self.waiters.remove(&tag) {
                self.too_many_requests(ctx, w);
            }
        }
        self.arm_expiry(ctx);
    }

    /// etcd answered an admitted request: its CPU work runs on the first free core, then it is
    /// answered.
    fn api_answered(
        &mut self,
        ctx: &mut Ctx,
        tag: OwnerTag,
        w: ApiWaiter,
        result: Result<KvResult, EtcdError>,
    ) {
        let result = result.map_err(|e| match e {
            EtcdError::Conflict => ApiError::Conflict,
            e @ (EtcdError::Timeout
            | EtcdError::NoLeader
            | EtcdError::LeaderChanged
            | EtcdError::Unavailable
            | EtcdError::NoSpace) => ApiError::Storage(e),
        });
        let cpu_ns = self.cfg.capacity.cpu_ns(w.kind, &result);
        let done = self.cores.run(ctx.now, cpu_ns);
        self.answering.insert(tag, (w, result, cpu_ns));
        ctx.timer_at(done, ApiServerTimer::CpuDone { tag: tag.0 });
    }

    /// The CPU work is done: the answer goes out, the seat goes to the next queued request.
    fn cpu_done(&mut self, ctx: &mut Ctx, tag: OwnerTag) {
        let Some((w, result, cpu_ns)) = self.answering.remove(&tag) else {
            return;
        };
        if w.goaway {
            // "Connection: close" on an HTTP/2 response: the GOAWAY frame precedes nothing
            // new on the connection; the answer itself still arrives.
            ctx.send(w.client, Msg::GoAway { id: w.id });
        }
        ctx.send(w.client, Msg::ApiResp { id: w.id, result });
        ctx.out.push(crate::components::ctx::Out::Served(
            crate::observe::trace::ServedRecord {
                at_ns: w.arrived_ns,
                latency_ns: ctx.now - w.arrived_ns,
                cpu_ns: u32::try_from(cpu_ns).unwrap_or(u32::MAX),
                proc: ctx.me,
                level: w.level as u8,
                write: w.kind == OpKind::Write,
                queued: w.queued,
            },
        ));
        let mut next = Vec::new();
        self.admission.finish(w.class, w.seats, &mut next);
        for tag in next {
            if let Some(op) = self.parked.remove(&tag) {
                self.dispatch(ctx, tag, op);
            }
        }
        if self.phase == Phase::Draining && self.drained() {
            self.exit_drained(ctx);
        }
    }

    fn health_request(&mut self, ctx: &mut Ctx, from: ProcId, id: u64, path: HealthPath) {
        if !self.serving() {
            ctx.send(from, Msg::ConnRefused { id });
            return;
        }
        // The TCP handshake completes before the probe is answered.
        ctx.send(from, Msg::ProxyAccepted { id });
        // Every endpoint runs the `etcd` check first (see `EtcdCheckName`).
        self.run_etcd_check(ctx, (from, id, path), EtcdCheckName::Etcd, true);
    }

    /// Runs etcd check `check` of health request `id` from `client` on `path`; `passed` is what
    /// the endpoint's earlier checks gave.
    fn run_etcd_check(
        &mut self,
        ctx: &mut Ctx,
        (client, id, path): (ProcId, u64, HealthPath),
        check: EtcdCheckName,
        passed: bool,
    ) {
        let (timeout, state) = match check {
            EtcdCheckName::Etcd => (self.cfg.healthcheck_timeout_ns, &mut self.health_check),
            EtcdCheckName::Readiness => (self.cfg.readycheck_timeout_ns, &mut self.ready_check),
        };
        if !state.allow(ctx.now, timeout) {
            let ok = state.last_ok();
            self.etcd_check_done(ctx, (client, id, path), check, passed && ok);
            return;
        }
        let tag = OwnerTag(self.tags.next_id());
        self.waiters.insert(
            tag,
            Waiter::Health {
                client,
                id,
                path,
                check,
                passed,
                sent_ns: ctx.now,
            },
        );
        // The etcd check is a linearizable read: it fails without quorum. During a graceful stop the
        // checks still run (readyz runs all its checks), and `shutdown` fails /readyz.
        if let Some(ev) = self.etcd.request(ctx, tag, quorum_read(), timeout) {
            self.etcd_event(ctx, ev);
        }
    }

    /// Etcd check `check` of a health request is done (`passed`: it and the checks before it
    /// passed): `/readyz` goes on to `etcd-readiness`, then fails during a shutdown (its `shutdown`
    /// check); the endpoint answers.
    fn etcd_check_done(
        &mut self,
        ctx: &mut Ctx,
        (client, id, path): (ProcId, u64, HealthPath),
        check: EtcdCheckName,
        passed: bool,
    ) {
        if path == HealthPath::Readyz && check == EtcdCheckName::Etcd {
            self.run_etcd_check(ctx, (client, id, path), EtcdCheckName::Readiness, passed);
            return;
        }
        let ok = passed
            && self.bootstrap_deadline.is_none()
            && !(path == HealthPath::Readyz && self.shutting_down());
        ctx.send(client, Msg::HealthResp { id, ok });
    }

    /// First step of the endpoint reconciler: renew its lease, or delete it when stopping.
    fn reconcile_lease(&mut self, ctx: &mut Ctx, removing: bool) {
        let expiry_ms = (ctx.now + ENDPOINT_RECONCILER_TTL_NS) / 1_000_000;
        let op = KvOp::Put {
            key: keys::key(keys::MASTER_LEASE, self.cfg.ordinal as u64),
            value: if removing { 0 } else { expiry_ms.max(1) },
            expected_rev: None,
            write_id: self.write_id(ctx),
        };
        self.reconcile_request(ctx, ReconcileStep::Lease { removing }, op);
    }

    /// A write id unique across processes: the process in the high bits, below it the number of the
    /// request that will carry the write.
    fn write_id(&self, ctx: &Ctx) -> u64 {
        ((ctx.me as u64 + 1) << 40) | (self.tags.peek_seq() & 0xff_ffff_ffff)
    }

    fn reconcile_request(&mut self, ctx: &mut Ctx, step: ReconcileStep, op: KvOp) {
        let tag = OwnerTag(self.tags.next_id());
        self.waiters.insert(tag, Waiter::Reconcile(step));
        if let Some(ev) = self.etcd.request(ctx, tag, op, self.cfg.request_timeout_ns) {
            self.etcd_event(ctx, ev);
        }
    }

    /// The reconciler's next step after `step` completed with `result`.
    fn reconciled(
        &mut self,
        ctx: &mut Ctx,
        step: ReconcileStep,
        result: Result<KvResult, EtcdError>,
    ) {
        match (step, result) {
            (ReconcileStep::Lease { removing }, Ok(_)) => {
                let op = KvOp::Range {
                    start: keys::key(keys::MASTER_LEASE, 0),
                    end: keys::key(keys::API_ENDPOINTS + 1, 0),
                };
                self.reconcile_request(ctx, ReconcileStep::List { removing }, op);
            }
            (ReconcileStep::List { removing }, Ok(KvResult::Values(kvs))) => {
                let now_ms = ctx.now / 1_000_000;
                let mut live = API_ENDPOINTS_PRESENT;
                let mut stored = None;
                for kv in kvs.iter() {
                    match keys::kind_of(kv.key) {
                        keys::MASTER_LEASE if kv.value > now_ms => {
                            live |= 1 << keys::id_of(kv.key).min(62);
                        }
                        keys::API_ENDPOINTS => stored = Some(kv.value),
                        _ => {}
                    }
                }
                if removing {
                    live &= !(1 << (self.cfg.ordinal as u64).min(62));
                }
                if stored != Some(live) {
                    let members: Vec<String> = (0..62)
                        .filter(|i| live & (1 << i) != 0)
                        .map(|i| format!("cp-{}", i + 1))
                        .collect();
                    ctx.log(format!(
                        "lease.go: \"Resetting endpoints for master service\" service=\"kubernetes\" endpoints=[{}]",
                        members.join(" ")
                    ));
                    let op = KvOp::Put {
                        key: keys::key(keys::API_ENDPOINTS, 0),
                        value: live,
                        expected_rev: None,
                        write_id: self.write_id(ctx),
                    };
                    self.reconcile_request(ctx, ReconcileStep::Write, op);
                }
            }
            // A failed step ends this run; the next comes with the interval.
            (
                ReconcileStep::Lease { .. } | ReconcileStep::List { .. } | ReconcileStep::Write,
                _,
            ) => {}
        }
    }

    /// A try of the `rbac/bootstrap-roles` hook ended: done, again in a second, or (past its 30 s)
    /// the hook fails and the process exits.
    fn bootstrap_tried(&mut self, ctx: &mut Ctx, ok: bool) {
        let Some(deadline) = self.bootstrap_deadline else {
            return;
        };
        if ok {
            self.bootstrap_deadline = None;
            if self.phase == Phase::Serving {
                self.note_ready(ctx, true);
            }
        } else if ctx.now >= deadline {
            // klog.Fatalf in k8s.io/apiserver pkg/server/hooks.go: the process exits with status 255.
            ctx.log("PostStartHook \"rbac/bootstrap-roles\" failed: unable to initialize roles: timed out waiting for the condition".into());
            self.bootstrap_deadline = None;
            ctx.out.push(Out::Exit);
        } else {
            ctx.timer(RBAC_BOOTSTRAP_POLL_NS, ApiServerTimer::BootstrapPoll);
        }
    }

    fn shutting_down(&self) -> bool {
        matches!(self.phase, Phase::ShutdownDelay | Phase::Draining)
    }

    fn complete(&mut self, ctx: &mut Ctx, done: Completion) {
        let (tag, result) = done;
        let Some(w) = self.waiters.remove(&tag) else {
            return;
        };
        match w {
            Waiter::Api(w) => self.api_answered(ctx, tag, w, result),
            Waiter::Reconcile(step) => self.reconciled(ctx, step, result),
            Waiter::Bootstrap => self.bootstrap_tried(ctx, result.is_ok()),
            Waiter::Health {
                client,
                id,
                path,
                check,
                passed,
                sent_ns,
            } => {
                let etcd_ok = result.is_ok();
                match check {
                    EtcdCheckName::Etcd => self.health_check.store(sent_ns, etcd_ok),
                    EtcdCheckName::Readiness => self.ready_check.store(sent_ns, etcd_ok),
                }
                let ready = etcd_ok && self.bootstrap_deadline.is_none();
                // The failure is logged when it makes the server unready.
                if self.phase == Phase::Serving && self.note_ready(ctx, ready) && !etcd_ok {
                    ctx.log(format!(
                        "[-]{} failed: {}",
                        check.name(),
                        result.err().map(|e| e.text()).unwrap_or("error")
                    ));
                }
                self.etcd_check_done(ctx, (client, id, path), check, passed && etcd_ok);
            }
        }
        if self.phase == Phase::Draining && self.drained() {
            self.exit_drained(ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{
        fingerprint, nodes_changed, patch_split, pods_on, stream_fingerprint, KeyValue, WATCHED,
    };
    use crate::components::objects::Pod;
    use proptest::prelude::*;

    /// The plain field-selector filter: `all`'s pods bound to `node`, in key order.
    fn plain(all: &[KeyValue], node: u16) -> Vec<KeyValue> {
        all.iter()
            .filter(|kv| Pod::unpack(kv.value).node == Some(node))
            .copied()
            .collect()
    }

    /// An answer in key order from (key, (node, ready, mod_rev)).
    fn answer_of(
        pods: &std::collections::BTreeMap<u64, (Option<u16>, bool, u64)>,
    ) -> std::sync::Arc<[KeyValue]> {
        pods.iter()
            .map(|(&key, &(node, ready, mod_rev))| KeyValue {
                key,
                value: Pod {
                    node,
                    ready,
                    ..Pod::unpack(0)
                }
                .pack(),
                mod_rev,
            })
            .collect()
    }

    fn pods() -> impl Strategy<Value = std::collections::BTreeMap<u64, (Option<u16>, bool, u64)>> {
        proptest::collection::btree_map(
            0u64..30,
            (proptest::option::of(0u16..6), any::<bool>(), 1u64..4),
            0..25,
        )
    }

    proptest! {
        /// Each stream's one-pass fingerprint is the filtered one, on any answer in its range
        /// (the endpoints' range holds the API servers' leases, which the filter leaves out).
        #[test]
        fn a_streams_fingerprint_is_the_filtered_one(
            objects in proptest::collection::btree_map((0u64..3, 0u64..20), 1u64..50, 0..30),
        ) {
            for (stream, (start, end)) in WATCHED.iter().enumerate() {
                let answer: Vec<KeyValue> = objects
                    .iter()
                    .map(|(&(kind, id), &mod_rev)| KeyValue { key: start + (kind << 56) + id, value: 1, mod_rev })
                    .filter(|kv| kv.key < *end)
                    .collect();
                prop_assert_eq!(stream_fingerprint(stream, &answer), fingerprint(&answer));
            }
        }

        /// The nodes a change is pushed to are exactly those whose filtered view changed, and the
        /// split patched for them is the plain filter of the new answer for every node, whether the
        /// split was of the old answer, of another one, or not built.
        #[test]
        fn the_patched_split_and_its_changed_nodes_are_the_plain_filters(
            old in pods(),
            new in pods(),
            built in 0u8..3,
        ) {
            let (old, new) = (answer_of(&old), answer_of(&new));
            let changed = nodes_changed(&old, &new);
            for node in 0..7 {
                prop_assert_eq!(
                    changed.contains(&node),
                    plain(&old, node) != plain(&new, node),
                    "node {}", node
                );
            }
            let mut cache = None;
            match built {
                0 => {}
                1 => {
                    pods_on(&mut cache, 0, &old);
                }
                _ => {
                    let other: std::sync::Arc<[KeyValue]> = old.iter().copied().collect();
                    pods_on(&mut cache, 0, &other);
                }
            }
            patch_split(&mut cache, &old, &new, &changed);
            for node in 0..7 {
                prop_assert_eq!(&*pods_on(&mut cache, node, &new), &*plain(&new, node));
            }
        }
    }

    /// A node's pods from the shared split are the plain filter of etcd's answer, for each node,
    /// with the split kept or rebuilt as the answer changes.
    #[test]
    fn pods_on_is_the_field_selectors_filter() {
        let answer = |nodes: &[Option<u16>]| -> std::sync::Arc<[KeyValue]> {
            nodes
                .iter()
                .enumerate()
                .map(|(i, &node)| KeyValue {
                    key: i as u64,
                    value: Pod {
                        node,
                        ..Pod::unpack(0)
                    }
                    .pack(),
                    mod_rev: i as u64 + 1,
                })
                .collect()
        };
        let mut cache = None;
        for all in [
            answer(&[Some(1), None, Some(2), Some(1), Some(3)]),
            answer(&[Some(2), Some(2), None]),
            answer(&[]),
        ] {
            for node in 0..5 {
                assert_eq!(*pods_on(&mut cache, node, &all), *plain(&all, node));
            }
        }
    }
}
