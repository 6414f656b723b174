//! The controllers the leader runs: in kube-controller-manager the ReplicaSet controller, the node
//! lifecycle controller (with its taint-based eviction and `MarkPodsNotReady`) and the EndpointSlice
//! controller, in kube-scheduler the scheduling loop. Each loop reads the process's informer caches,
//! decides, writes, and goes again: periodically, and at once when a watch shows a change it
//! reacts to (a pod for the ReplicaSet, EndpointSlice and scheduling loops, a Node for the
//! scheduler), as the real controllers' event handlers queue work.
//!
//! The informers are client-go reflectors (k8s.io/client-go tools/cache/reflector.go), one per
//! resource, shared by the process's controllers and started when it begins leading (kube-controller-
//! manager's `InformerFactory.Start` runs in its `OnStartedLeading`): a WATCH on the process's API
//! connection, which the API server answers from its watch cache with the current list and then
//! every change. A loop runs only once every cache it reads has synced (`WaitForCacheSync`). A watch
//! that breaks (a reset, the connection's health check, no first event in time) is opened again
//! after the reflector's back-off; the cache keeps serving meanwhile, stale, as a real informer's
//! store does. The process's own writes overlay its caches until its watch shows them (the
//! ReplicaSet controller's expectations, the scheduler's assumed pods), so a loop that runs again
//! before its watch caught up does not create or bind twice. Node lifecycle defaults from k/k
//! cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go; zone rules from k/k
//! pkg/controller/nodelifecycle/node_lifecycle_controller.go (ComputeZoneState, handleDisruption,
//! setLimiterInZone).

use crate::components::ctx::{Ctx, IdGen, IdSpace, Obs, ProcId};
use crate::components::msg::{keys, KeyValue, KvOp, KvResult, Msg};
use crate::components::objects::{EndpointObj, NodeObj, Pod};
use crate::engine::{fmt_duration, Nanos, SEC};
use crate::scenario::model::Spread;
use std::collections::BTreeMap;

/// The controllers' timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ControllerTimer {
    /// The next run of loop `which`, if `generation` is still the current one (every start of the
    /// controllers begins a new generation, so that an earlier leadership's timers are ignored).
    Loop { generation: u64, which: Loop },
    /// Controller request `id` got no answer in time.
    Timeout { id: u64 },
    /// A NoExecute toleration runs out at `at_ns`: the taint-eviction pass runs at that moment.
    Evict { at_ns: Nanos },
    /// The reflector of resource `kind` (a kind of [`keys`]) watches again after its back-off.
    Rewatch { generation: u64, kind: u64 },
}
/// When the scenario's Deployments are applied at the latest, even if some node never registered.
const DEPLOY_DEADLINE_NS: Nanos = 60 * SEC;
/// The Node objects of the scenario's nodes exist from the start of the run (their CreationTimestamp):
/// the cluster was provisioned, so a node whose kubelet never comes up is still a Node to watch.
const NODE_CREATED_NS: Nanos = 0;

/// A workload as the controllers know it (its Deployment spec).
#[derive(Clone, Debug)]
pub struct WorkloadSpec {
    pub name: String,
    pub replicas: u32,
    pub spread: Spread,
    pub on_control_plane: bool,
}

/// A node as the controllers know it (its labels).
#[derive(Clone, Copy, Debug)]
pub struct NodeInfo {
    pub zone: u16,
    pub control_plane: bool,
}

/// Which controllers a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    ControllerManager,
    Scheduler,
}

/// Controller settings.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    pub role: Role,
    pub workloads: Vec<WorkloadSpec>,
    /// Every node by layout index (None: no kubelet, never a Kubernetes node).
    pub nodes: Vec<Option<NodeInfo>>,
    /// Node names by layout index, for logs.
    pub node_names: Vec<String>,
    pub resync_ns: Nanos,
    pub node_monitor_period_ns: Nanos,
    /// `--node-monitor-grace-period`: for a node that has posted its status.
    pub grace_ns: Nanos,
    /// `--node-startup-grace-period`: for a node whose kubelet never posted its status.
    pub startup_grace_ns: Nanos,
    pub eviction_rate: f64,
    pub secondary_eviction_rate: f64,
    pub unhealthy_zone_threshold: f64,
    pub large_cluster_size_threshold: u32,
    pub toleration_ns: Nanos,
    /// Control-plane nodes carry `node.kubernetes.io/exclude-disruption`.
    pub exclude_control_plane: bool,
    pub max_pods: u32,
    pub request_timeout_ns: Nanos,
    /// Whether leader election is on (then every leader-only write is checked against the lease).
    pub leader_election: bool,
}

/// A control loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Loop {
    ReplicaSet,
    NodeLifecycle,
    /// The EndpointSlice controller: publishes the ready, non-terminating pods of each workload as
    /// its Service's endpoints (k/k pkg/controller/endpointslice; a pod whose Ready condition is
    /// False is published as not ready, which kube-proxy does not route to, so the model leaves it
    /// out).
    Endpoints,
    Scheduler,
}

#[derive(Clone, Default)]
struct LoopState {
    writes_out: usize,
    running: bool,
    /// This run was triggered out of the periodic schedule (a watch event, an eviction deadline):
    /// finishing it does not start another periodic chain.
    extra: bool,
    /// Something it reacts to changed while it ran: it runs again when it finishes.
    again: bool,
    /// Its periodic timer fired while it ran: the periodic run (which re-arms the chain) follows.
    periodic_owed: bool,
}

/// One reflector of the process: the watch of one resource and the cache it fills.
#[derive(Clone, Debug, Default)]
struct Reflector {
    /// The watch in flight or held (0: none).
    id: u64,
    /// The watch has had its first event.
    established: bool,
    /// The resource as the newest event showed it (None until the first: not synced).
    cache: Option<std::sync::Arc<[KeyValue]>>,
    /// The store revision of that event.
    rev: u64,
    /// Its back-off before it watches again: each reflector has its own
    /// (`backoffManager: wait.NewExponentialBackoffManager(800*time.Millisecond, 30*time.Second,
    /// ...)` in client-go tools/cache/reflector.go `NewReflectorWithOptions`), so reflectors that
    /// fail together each wait 0.8-1.6 s first, not a shared wait that doubles per reflector.
    backoff: crate::components::informers::ReflectorBackoff,
}

/// How long a controllers' watch waits for its first event (the API server sends the current list
/// at once) before the reflector gives up on it and watches again after its back-off.
const WATCH_FIRST_EVENT_NS: Nanos = crate::components::msg::CLIENT_GO_DIAL_TIMEOUT_NS;

/// The resources loop `l` reads.
fn loop_kinds(l: Loop) -> &'static [u64] {
    match l {
        Loop::ReplicaSet => &[keys::NODE_LEASE, keys::POD],
        Loop::NodeLifecycle => &[keys::NODE_LEASE, keys::NODE, keys::POD, keys::NODE_STATUS],
        Loop::Endpoints => &[keys::POD, keys::ENDPOINT],
        Loop::Scheduler => &[keys::NODE_LEASE, keys::NODE, keys::POD],
    }
}

/// The loops that react at once to a change of `kind` (their informers' event handlers).
fn reacting(kind: u64) -> &'static [Loop] {
    match kind {
        keys::POD => &[Loop::ReplicaSet, Loop::Endpoints, Loop::Scheduler],
        keys::NODE => &[Loop::Scheduler],
        _ => &[],
    }
}

/// The key range a process watches for `kind`: the endpoints come in kube-proxy's range, the one
/// the API server caches them in.
fn watched_range(kind: u64) -> (u64, u64) {
    if kind == keys::ENDPOINT {
        keys::PROXY_WATCHED
    } else {
        keys::range(kind)
    }
}

#[derive(Clone, Copy, Debug)]
enum Pending {
    /// The watch of a resource (a kind of [`keys`]).
    Watch(u64),
    Write(Loop),
    /// A `MarkPodsNotReady` write for a pod on this node: a failure queues the node for a retry
    /// (`nodesToRetry` in node_lifecycle_controller.go).
    MarkNotReady(u16),
    /// A write of a Node object (node, its Ready condition, and its unreachable taint when the write
    /// adds or removes it): once committed, traced as the stored condition kube-state-metrics exports
    /// and, for the picture's node lane, as the taint change.
    NodeStatus(u16, bool, Option<bool>),
}

impl Pending {
    /// The loop the request belongs to (None: a watch, which serves them all).
    fn of(self) -> Option<Loop> {
        match self {
            Pending::Watch(_) => None,
            Pending::Write(l) => Some(l),
            Pending::MarkNotReady(_) | Pending::NodeStatus(..) => Some(Loop::NodeLifecycle),
        }
    }
}

/// What the node lifecycle controller remembers of a node (nodeHealthData in
/// node_lifecycle_controller.go): the last lease renewal and status post it saw, and when it last saw
/// either change (probeTimestamp, by this process's clock).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NodeHealth {
    lease: Option<u64>,
    status: Option<u64>,
    probe_ns: Nanos,
    /// The kubelet renewed its lease or posted a status since this process first saw the node.
    /// Until then the stored Ready condition stands: a new leader starts with an empty nodeHealthMap
    /// and "Assuming now as a timestamp" gives the node a fresh grace period, but it does not set
    /// Ready=True (only a kubelet does) nor remove a taint (tryUpdateNodeHealth and
    /// processTaintBaseEviction in k/k pkg/controller/nodelifecycle/node_lifecycle_controller.go).
    heard: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ZoneState {
    Normal,
    Partial,
    Full,
}

/// The controllers of one leader.
#[derive(Clone)]
pub struct Controllers {
    cfg: ControllerConfig,
    api: ProcId,
    identity: u64,
    /// Request ids (in their own space, apart from the elector's) and write ids draw from one count.
    ids: IdGen,
    next_uid: u64,
    pending: BTreeMap<u64, Pending>,
    loops: BTreeMap<Loop, LoopState>,
    /// Node lifecycle: what it saw of each node and when.
    probe: BTreeMap<u16, NodeHealth>,
    /// Node lifecycle: when the next NoExecute taint may be added in each zone (rate limiter).
    next_taint: BTreeMap<u16, Nanos>,
    master_disruption: bool,
    last_renew_ns: Nanos,
    lease: u16,
    /// Generation of the loops' timers (bumped on every start, so stale timers are ignored).
    generation: u64,
    /// The armed eviction deadline, if any.
    evict_at: Option<Nanos>,
    /// Taint eviction: when this process first saw each pod (by key) on a NoExecute-tainted node.
    /// The toleration counts from then (`startTime := now` in processPodOnNode, k/k
    /// pkg/controller/tainteviction/taint_eviction.go), so a new leader restarts the count.
    taint_seen: BTreeMap<u64, Nanos>,
    /// Node lifecycle: nodes whose pods must be marked not ready again (a marking write failed).
    mark_retry: std::collections::BTreeSet<u16>,
    /// The process's API connection number, kept current by the elector that owns the connection.
    pub conn: crate::components::msg::ConnId,
    /// The informers, by resource.
    reflectors: BTreeMap<u64, Reflector>,
    /// A re-watch after the back-off is armed for these resources.
    rewatch_armed: std::collections::BTreeSet<u64>,
    /// This process's writes its caches do not show yet, by key: the value written, and the store
    /// revision that wrote it once the answer came (None while in flight). Read over the caches;
    /// dropped when the resource's watch reaches that revision, or when the write failed.
    own: BTreeMap<u64, (u64, Option<u64>)>,
    /// The in-flight writes' keys, by request id.
    own_by_id: BTreeMap<u64, u64>,
    /// The informers run before and regardless of leadership (kube-scheduler's, see
    /// [`Controllers::start_informers`]); leading then starts only the loops.
    early: bool,
}

impl Controllers {
    /// Controllers that will send their requests to `api`.
    pub fn new(cfg: ControllerConfig, api: ProcId) -> Controllers {
        Controllers {
            cfg,
            api,
            identity: 0,
            ids: IdGen::new(IdSpace::Controllers),
            next_uid: 1,
            pending: BTreeMap::new(),
            loops: BTreeMap::new(),
            probe: BTreeMap::new(),
            next_taint: BTreeMap::new(),
            master_disruption: false,
            last_renew_ns: 0,
            lease: 0,
            generation: 0,
            evict_at: None,
            taint_seen: BTreeMap::new(),
            mark_retry: std::collections::BTreeSet::new(),
            conn: crate::components::msg::ConnId::default(),
            reflectors: BTreeMap::new(),
            rewatch_armed: std::collections::BTreeSet::new(),
            own: BTreeMap::new(),
            own_by_id: BTreeMap::new(),
            early: false,
        }
    }

    /// The loops this role runs while it leads (with workloads; the node lifecycle controller
    /// always).
    fn role_loops(&self) -> Vec<Loop> {
        let loops: &[Loop] = match self.cfg.role {
            Role::ControllerManager => &[Loop::ReplicaSet, Loop::NodeLifecycle, Loop::Endpoints],
            Role::Scheduler => &[Loop::Scheduler],
        };
        loops
            .iter()
            .copied()
            .filter(|&l| l == Loop::NodeLifecycle || !self.cfg.workloads.is_empty())
            .collect()
    }

    /// Everything but the informers' state back to a fresh process's, for `lease`.
    fn reset_loops(&mut self, lease: u16) {
        self.lease = lease;
        self.loops.clear();
        self.probe.clear();
        self.next_taint.clear();
        self.master_disruption = false;
        self.evict_at = None;
        self.taint_seen.clear();
        self.mark_retry.clear();
    }

    /// A clean slate with an informer, not yet watching, for every resource the role's loops read;
    /// timers of the previous slate are void.
    fn reset_informers(&mut self) {
        self.pending.clear();
        self.generation += 1;
        self.reflectors.clear();
        self.rewatch_armed.clear();
        self.own.clear();
        self.own_by_id.clear();
        for l in self.role_loops() {
            for k in loop_kinds(l) {
                self.reflectors.entry(*k).or_default();
            }
        }
    }

    /// Opens every informer's watch.
    fn open_watches(&mut self, ctx: &mut Ctx) {
        let kinds: Vec<u64> = self.reflectors.keys().copied().collect();
        for k in kinds {
            self.watch(ctx, k);
        }
    }

    /// kube-scheduler starts its informers and waits for their caches to sync before it runs leader
    /// election at all (`cc.InformerFactory.Start`, then `WaitForCacheSync`, then
    /// `leaderElector.Run`, k/k cmd/kube-scheduler/app/server.go), so a standby's caches are warm
    /// when it takes over. kube-controller-manager builds its informers inside `OnStartedLeading`
    /// (cmd/kube-controller-manager/app/controllermanager.go), as [`Controllers::start`] does.
    /// The elector then waits for them to sync ([`Controllers::informers_synced`]) before it
    /// campaigns. Nothing happens unless [`Controllers::informs_early`].
    pub fn start_informers(&mut self, ctx: &mut Ctx, lease: u16) {
        if !self.informs_early() {
            return;
        }
        self.reset_loops(lease);
        self.reset_informers();
        self.open_watches(ctx);
        self.early = true;
    }

    /// Whether its informers start with the process, before leader election: kube-scheduler's,
    /// when it has loops to run (the model runs kube-scheduler's loop only with workloads).
    pub fn informs_early(&self) -> bool {
        self.cfg.role == Role::Scheduler && !self.role_loops().is_empty()
    }

    /// Every informer has had its first event (a process without informers: trivially).
    pub fn informers_synced(&self) -> bool {
        self.reflectors.values().all(|r| r.cache.is_some())
    }

    /// Whether its informers run while it does not lead (see [`Controllers::start_informers`]).
    pub fn informing(&self) -> bool {
        self.early
    }

    /// Starts the loops of this role (on becoming leader), and their informers unless they run
    /// already.
    pub fn start(&mut self, ctx: &mut Ctx, identity: u32, lease: u16) {
        self.identity = identity as u64;
        self.reset_loops(lease);
        if !self.early {
            self.reset_informers();
        }
        for l in self.role_loops() {
            self.loops.insert(l, LoopState::default());
            ctx.timer(
                1,
                ControllerTimer::Loop {
                    generation: self.generation,
                    which: l,
                },
            );
        }
        if !self.early {
            self.open_watches(ctx);
        }
    }

    /// Stops everything (leadership lost or process gone).
    pub fn stop(&mut self) {
        self.pending.clear();
        self.loops.clear();
        self.reflectors.clear();
        self.rewatch_armed.clear();
        self.own.clear();
        self.own_by_id.clear();
        self.early = false;
    }

    /// Records the elector's last successful renewal (reported with every leader-only action).
    pub fn set_last_renew(&mut self, t: Nanos) {
        self.last_renew_ns = t;
    }

    fn period(&self, l: Loop) -> Nanos {
        match l {
            Loop::NodeLifecycle => self.cfg.node_monitor_period_ns,
            Loop::ReplicaSet | Loop::Endpoints | Loop::Scheduler => self.cfg.resync_ns,
        }
    }

    fn send(&mut self, ctx: &mut Ctx, p: Pending, op: KvOp) -> u64 {
        self.send_within(ctx, p, op, self.cfg.request_timeout_ns)
    }

    /// Sends a request that is given up after `timeout_ns` (for a watch: without its first event).
    fn send_within(&mut self, ctx: &mut Ctx, p: Pending, op: KvOp, timeout_ns: Nanos) -> u64 {
        let id = self.ids.next_id();
        self.pending.insert(id, p);
        ctx.send(
            self.api,
            Msg::ApiReq {
                id,
                op,
                conn: self.conn,
                user: super::elector::lease_user(self.lease),
            },
        );
        ctx.deadline(timeout_ns, ControllerTimer::Timeout { id });
        id
    }

    /// Opens the watch of `kind` (its reflector's `ListAndWatch`: the API server's first event is
    /// the list).
    fn watch(&mut self, ctx: &mut Ctx, kind: u64) {
        let (start, end) = watched_range(kind);
        let op = KvOp::Watch {
            start,
            end,
            node: None,
        };
        let id = self.send_within(ctx, Pending::Watch(kind), op, WATCH_FIRST_EVENT_NS);
        if let Some(r) = self.reflectors.get_mut(&kind) {
            r.id = id;
            r.established = false;
        }
    }

    /// The watch of `kind` ended: at once again after a clean end of an established watch (the
    /// server's graceful stop), after the reflector's back-off otherwise.
    fn watch_ended(&mut self, ctx: &mut Ctx, kind: u64, clean: bool) {
        let Some(r) = self.reflectors.get_mut(&kind) else {
            return;
        };
        let established = r.established;
        r.id = 0;
        r.established = false;
        if clean && established {
            self.watch(ctx, kind);
        } else if self.rewatch_armed.insert(kind) {
            let unit = rand::Rng::gen::<f64>(ctx.rng);
            let wait = r.backoff.next(ctx.now, unit);
            ctx.timer(
                wait,
                ControllerTimer::Rewatch {
                    generation: self.generation,
                    kind,
                },
            );
        }
    }

    /// The process's API connection closed (its HTTP/2 health check gave up on it): the watches on
    /// it are broken.
    pub fn conn_lost(&mut self, ctx: &mut Ctx) {
        let open: Vec<(u64, u64)> = self
            .reflectors
            .iter()
            .filter(|(_, r)| r.id != 0)
            .map(|(k, r)| (*k, r.id))
            .collect();
        for (kind, id) in open {
            self.drop_watch(ctx, kind, id, false);
        }
    }

    /// Watch `id` of `kind` is over without an answer to wait for: forget the request, then
    /// [`Controllers::watch_ended`].
    fn drop_watch(&mut self, ctx: &mut Ctx, kind: u64, id: u64, clean: bool) {
        self.pending.remove(&id);
        ctx.cancel(ControllerTimer::Timeout { id });
        self.watch_ended(ctx, kind, clean);
    }

    /// GOAWAY came with the answer to request `id`: on a watch, the server ended it cleanly (a
    /// graceful stop): it is opened again at once (on a new connection), as client-go's reflector
    /// watches again without a LIST.
    pub fn on_goaway(&mut self, ctx: &mut Ctx, id: u64) {
        if let Some(Pending::Watch(kind)) = self.pending.get(&id).copied() {
            self.drop_watch(ctx, kind, id, true);
        }
    }

    /// An event of one of the process's watches: the resource as the API server's cache now holds
    /// it, at store revision `rev`.
    pub fn on_watch_event(
        &mut self,
        ctx: &mut Ctx,
        id: u64,
        values: std::sync::Arc<[KeyValue]>,
        rev: u64,
    ) {
        let Some((&kind, r)) = self
            .reflectors
            .iter_mut()
            .find(|(_, r)| r.id == id && id != 0)
        else {
            return;
        };
        if r.established && rev < r.rev {
            // Two events of one watch crossed on the network; its stream keeps their order.
            return;
        }
        if !r.established {
            r.established = true;
            ctx.cancel(ControllerTimer::Timeout { id });
        }
        r.rev = rev;
        let values = if kind == keys::ENDPOINT {
            values
                .iter()
                .filter(|kv| keys::kind_of(kv.key) == keys::ENDPOINT)
                .copied()
                .collect()
        } else {
            values
        };
        let synced = r.cache.is_none();
        // Only the loops that run here react; a standby scheduler's informers run none, and the
        // comparison is of the whole resource (five thousand pods in a large cluster).
        let mut kicks: Vec<Loop> = reacting(kind)
            .iter()
            .copied()
            .filter(|l| self.loops.contains_key(l))
            .collect();
        if !kicks.is_empty() && r.cache.as_deref() == Some(&*values) {
            kicks.clear();
        }
        r.cache = Some(values);
        // Own writes the watch now shows are the cache's from here on.
        self.own
            .retain(|k, (_, at)| keys::kind_of(*k) != kind || at.is_none_or(|at| at > rev));
        if synced {
            // A loop starts as soon as every cache it reads has synced (`WaitForCacheSync`, then
            // its first pass), not at its next period: the taint-eviction clock, say, starts then.
            kicks.extend(
                self.loops
                    .keys()
                    .copied()
                    .filter(|&l| loop_kinds(l).contains(&kind) && self.synced(l)),
            );
        }
        kicks.sort();
        kicks.dedup();
        for l in kicks {
            self.kick(ctx, l);
        }
    }

    /// Runs loop `l` now if it is idle (an out-of-schedule run), or again when it finishes.
    fn kick(&mut self, ctx: &mut Ctx, l: Loop) {
        let Some(st) = self.loops.get_mut(&l) else {
            return;
        };
        if st.running {
            st.again = true;
        } else {
            self.run(ctx, l, true);
        }
    }

    /// Every cache loop `l` reads has had its first event.
    fn synced(&self, l: Loop) -> bool {
        loop_kinds(l)
            .iter()
            .all(|k| self.reflectors.get(k).is_some_and(|r| r.cache.is_some()))
    }

    /// What loop `l` reads: each resource's cache with this process's writes it does not show yet
    /// laid over it. None until every one has synced.
    fn reads(&self, l: Loop) -> Option<BTreeMap<u64, std::sync::Arc<[KeyValue]>>> {
        let mut reads = BTreeMap::new();
        for &kind in loop_kinds(l) {
            let cache = self.reflectors.get(&kind)?.cache.clone()?;
            let mut own = self
                .own
                .range(keys::range(kind).0..keys::range(kind).1)
                .peekable();
            if own.peek().is_none() {
                reads.insert(kind, cache);
                continue;
            }
            // Both sorted by key: one merge, not a map of the whole cache (five thousand pods while
            // the ReplicaSet controller's creations are in flight).
            let mut view: Vec<KeyValue> = Vec::with_capacity(cache.len() + 8);
            let mut cached = cache.iter().peekable();
            for (&key, &(value, at)) in own {
                let mut old = None;
                while let Some(kv) = cached.next_if(|kv| kv.key <= key) {
                    if kv.key == key {
                        old = Some(kv.mod_rev);
                    } else {
                        view.push(*kv);
                    }
                }
                if value != 0 {
                    // In flight, its revision is not known: an update carries on from the cached
                    // one (so a write that depends on it is refused if this one lands first).
                    let mod_rev = at.unwrap_or(old.unwrap_or(0));
                    view.push(KeyValue {
                        key,
                        value,
                        mod_rev,
                    });
                }
            }
            view.extend(cached.copied());
            reads.insert(kind, view.into());
        }
        Some(reads)
    }

    fn write_id(&mut self, ctx: &Ctx) -> u64 {
        let id = self.ids.next_seq();
        ((ctx.me as u64 + 1) << 48) | ((self.identity & 0xffff) << 32) | (id & 0xffff_ffff)
    }

    /// Runs loop `l` on the caches: periodic (`extra` false) or out of schedule. Not before every
    /// cache it reads has synced; a periodic run then just keeps its schedule.
    fn run(&mut self, ctx: &mut Ctx, l: Loop, extra: bool) {
        let reads = self.reads(l);
        let Some(st) = self.loops.get_mut(&l) else {
            return;
        };
        debug_assert!(!st.running);
        st.running = true;
        st.extra = extra;
        st.writes_out = 0;
        if let Some(reads) = reads {
            self.decide(ctx, l, reads);
        }
        if self.loops.get(&l).is_some_and(|st| st.writes_out == 0) {
            self.finish(ctx, l);
        }
    }

    fn finish(&mut self, ctx: &mut Ctx, l: Loop) {
        let period = self.period(l);
        let generation = self.generation;
        let Some(st) = self.loops.get_mut(&l) else {
            return;
        };
        st.running = false;
        if !std::mem::take(&mut st.extra) {
            ctx.timer(
                period,
                ControllerTimer::Loop {
                    generation,
                    which: l,
                },
            );
        }
        if std::mem::take(&mut st.periodic_owed) {
            st.again = false;
            self.run(ctx, l, false);
        } else if std::mem::take(&mut st.again) {
            self.run(ctx, l, true);
        }
    }

    /// The controllers' timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: ControllerTimer) {
        match t {
            ControllerTimer::Loop { generation, which } => {
                if generation != self.generation {
                    return;
                }
                match self.loops.get_mut(&which) {
                    Some(st) if st.running => st.periodic_owed = true,
                    Some(_) => self.run(ctx, which, false),
                    None => {}
                }
            }
            ControllerTimer::Evict { at_ns } => {
                if self.evict_at == Some(at_ns) {
                    self.evict_at = None;
                    self.kick(ctx, Loop::NodeLifecycle);
                }
            }
            ControllerTimer::Rewatch { generation, kind } => {
                if generation == self.generation && self.rewatch_armed.remove(&kind) {
                    self.watch(ctx, kind);
                }
            }
            // An established watch's first-event deadline was cancelled; the plain engine still
            // fires it.
            ControllerTimer::Timeout { id }
                if self
                    .reflectors
                    .values()
                    .any(|r| r.id == id && r.established) => {}
            ControllerTimer::Timeout { id } => {
                if let Some(p) = self.pending.remove(&id) {
                    self.failed(ctx, id, p);
                }
            }
        }
    }

    fn failed(&mut self, ctx: &mut Ctx, id: u64, p: Pending) {
        if let Pending::MarkNotReady(n) = p {
            self.mark_retry.insert(n);
        }
        // A failed write changed nothing: the cache stands.
        if let Some(key) = self.own_by_id.remove(&id) {
            self.own.remove(&key);
        }
        let Some(l) = p.of() else {
            if let Pending::Watch(kind) = p {
                self.watch_ended(ctx, kind, false);
            }
            return;
        };
        let Some(st) = self.loops.get_mut(&l) else {
            return;
        };
        st.writes_out = st.writes_out.saturating_sub(1);
        if st.writes_out == 0 {
            self.finish(ctx, l);
        }
    }

    /// API answers for the controllers (ids of [`IdSpace::Controllers`]).
    pub fn on_msg(&mut self, ctx: &mut Ctx, id: u64, result: Option<KvResult>) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        ctx.cancel(ControllerTimer::Timeout { id });
        match p {
            // The server ended the watch: cleanly with an answer, or with an error or a reset.
            Pending::Watch(kind) => self.watch_ended(ctx, kind, result.is_some()),
            Pending::MarkNotReady(_) if result.is_none() => self.failed(ctx, id, p),
            Pending::Write(_) | Pending::MarkNotReady(_) | Pending::NodeStatus(..) => {
                match (&result, self.own_by_id.remove(&id)) {
                    (Some(KvResult::Written { rev, .. }), Some(key)) => {
                        // Shown over the cache until the watch reaches the revision it wrote.
                        let seen = self
                            .reflectors
                            .get(&keys::kind_of(key))
                            .map_or(0, |r| r.rev);
                        match self.own.get_mut(&key) {
                            Some(e) if *rev > seen => e.1 = Some(*rev),
                            Some(_) => {
                                self.own.remove(&key);
                            }
                            None => {}
                        }
                    }
                    (_, Some(key)) => {
                        self.own.remove(&key);
                    }
                    (_, None) => {}
                }
                if let (Pending::NodeStatus(node, ready, taint), Some(KvResult::Written { .. })) =
                    (p, &result)
                {
                    ctx.trace(crate::observe::TraceKind::NodeReady { node, ready });
                    if let Some(tainted) = taint {
                        ctx.trace(crate::observe::TraceKind::NodeTaint { node, tainted });
                    }
                }
                let Some(l) = p.of() else { return };
                if let Some(st) = self.loops.get_mut(&l) {
                    st.writes_out = st.writes_out.saturating_sub(1);
                    if st.writes_out == 0 {
                        self.finish(ctx, l);
                    }
                }
            }
        }
    }

    fn put(&mut self, ctx: &mut Ctx, l: Loop, key: u64, value: u64, expected_rev: Option<u64>) {
        self.put_as(ctx, Pending::Write(l), key, value, expected_rev);
    }

    fn put_as(
        &mut self,
        ctx: &mut Ctx,
        p: Pending,
        key: u64,
        value: u64,
        expected_rev: Option<u64>,
    ) {
        let Some(l) = p.of() else { return };
        let write_id = self.write_id(ctx);
        let id = self.send(
            ctx,
            p,
            KvOp::Put {
                key,
                value,
                expected_rev,
                write_id,
            },
        );
        self.own.insert(key, (value, None));
        self.own_by_id.insert(id, key);
        if let Some(st) = self.loops.get_mut(&l) {
            st.writes_out += 1;
        }
        if self.cfg.leader_election {
            ctx.observe(Obs::LeaderAction {
                lease: self.lease,
                last_renew_ns: self.last_renew_ns,
            });
        }
    }

    fn decide(&mut self, ctx: &mut Ctx, l: Loop, reads: BTreeMap<u64, std::sync::Arc<[KeyValue]>>) {
        let empty: std::sync::Arc<[KeyValue]> = std::sync::Arc::from(Vec::new());
        let pods = reads.get(&keys::POD).unwrap_or(&empty);
        match l {
            Loop::ReplicaSet => {
                let leases = reads.get(&keys::NODE_LEASE).unwrap_or(&empty);
                // The scenario's Deployments are applied to a running cluster: once every node has
                // registered (or a minute into the run), not while kubelets are still joining, which
                // would pack every replica onto the first node to register.
                let nodes = self.cfg.nodes.iter().filter(|n| n.is_some()).count();
                if leases.len() >= nodes || ctx.now >= DEPLOY_DEADLINE_NS || !pods.is_empty() {
                    self.replicaset(ctx, pods)
                }
            }
            Loop::NodeLifecycle => {
                let leases = reads.get(&keys::NODE_LEASE).unwrap_or(&empty);
                let nodes = reads.get(&keys::NODE).unwrap_or(&empty);
                let statuses = reads.get(&keys::NODE_STATUS).unwrap_or(&empty);
                let health = self.node_health(ctx.now, leases, statuses);
                self.node_lifecycle(ctx, health, nodes, pods);
            }
            Loop::Endpoints => {
                let endpoints = reads.get(&keys::ENDPOINT).unwrap_or(&empty);
                self.endpoints(ctx, pods, endpoints);
            }
            Loop::Scheduler => {
                let leases = reads.get(&keys::NODE_LEASE).unwrap_or(&empty);
                let nodes = reads.get(&keys::NODE).unwrap_or(&empty);
                self.schedule(ctx, leases, nodes, pods);
            }
        }
    }

    fn replicaset(&mut self, ctx: &mut Ctx, pods: &[KeyValue]) {
        let n = self.cfg.workloads.len();
        // Counted first: most passes find every workload at its count and write nothing, and the
        // pods of a workload are gathered only to scale it down.
        let mut counts = vec![0usize; n];
        for kv in pods {
            let p = Pod::unpack(kv.value);
            if !p.terminating && (p.workload as usize) < n {
                counts[p.workload as usize] += 1;
            }
        }
        for (w, &have) in counts.iter().enumerate() {
            let want = self.cfg.workloads[w].replicas as usize;
            if have < want {
                for _ in 0..(want - have) {
                    let uid = (self.identity << 24) | (self.next_uid & 0xff_ffff);
                    self.next_uid += 1;
                    let pod = Pod {
                        workload: crate::engine::id16(w),
                        node: None,
                        terminating: false,
                        ready: false,
                    };
                    self.put(
                        ctx,
                        Loop::ReplicaSet,
                        keys::key(keys::POD, uid),
                        pod.pack(),
                        Some(0),
                    );
                }
                ctx.log(format!(
                    "replica_set.go: \"Too few replicas\" replicaSet=\"default/{}\" need={want} creating={}",
                    self.cfg.workloads[w].name,
                    want - have
                ));
            } else if have > want {
                let mut act: Vec<(u64, u64, Pod)> = pods
                    .iter()
                    .filter_map(|kv| {
                        let p = Pod::unpack(kv.value);
                        (!p.terminating && p.workload as usize == w)
                            .then_some((kv.key, kv.mod_rev, p))
                    })
                    .collect();
                // Scale down the pending ones first.
                act.sort_by_key(|(k, _, p)| (p.node.is_some(), *k));
                for (key, rev, mut p) in act.iter().take(have - want).copied() {
                    p.terminating = true;
                    self.put(ctx, Loop::ReplicaSet, key, p.pack(), Some(rev));
                }
            }
        }
    }

    /// The EndpointSlice controller's sync: every bound, non-terminating pod whose Ready condition is
    /// True is an endpoint of its workload's Service; entries for any other pod are removed. Writes
    /// go only where the published entry differs (the controller compares desired and existing
    /// slices before it writes).
    fn endpoints(&mut self, ctx: &mut Ctx, pods: &[KeyValue], published: &[KeyValue]) {
        // Both sides in uid order (a cache is sorted by key, and a key's low bits are its uid): one
        // merge. The writes keep the order a map of the desired entries gave: the published
        // entries' changes and removals in their order, then the new entries in uid order.
        let mut desired = pods.iter().filter_map(|kv| {
            let p = Pod::unpack(kv.value);
            match (p.node, p.ready, p.terminating) {
                (Some(node), true, false) => Some((
                    keys::id_of(kv.key),
                    EndpointObj {
                        workload: p.workload,
                        node,
                    },
                )),
                _ => None,
            }
        });
        let mut new: Vec<(u64, EndpointObj)> = Vec::new();
        let mut next = desired.next();
        let mut added = 0;
        let mut removed = 0;
        for kv in published {
            let uid = keys::id_of(kv.key);
            while let Some(d) = next.filter(|d| d.0 < uid) {
                new.push(d);
                next = desired.next();
            }
            match next.filter(|d| d.0 == uid) {
                Some((_, e)) => {
                    next = desired.next();
                    if e.pack() != kv.value {
                        self.put(ctx, Loop::Endpoints, kv.key, e.pack(), Some(kv.mod_rev));
                        added += 1;
                    }
                }
                None => {
                    self.put(ctx, Loop::Endpoints, kv.key, 0, Some(kv.mod_rev));
                    removed += 1;
                }
            }
        }
        new.extend(next);
        new.extend(desired);
        for (uid, e) in new {
            let key = keys::key(keys::ENDPOINT, uid);
            self.put(ctx, Loop::Endpoints, key, e.pack(), Some(0));
            added += 1;
        }
        if removed > 0 {
            ctx.log(format!(
                "endpointslice_controller.go: \"Updating EndpointSlices\" removed={removed} added={added} (pods not ready or terminating)"
            ));
        }
    }

    /// Which nodes are healthy, by the lease renewals and status posts this process has observed
    /// (tryUpdateNodeHealth in k/k pkg/controller/nodelifecycle/node_lifecycle_controller.go): a node
    /// is healthy while `now <= probeTimestamp + gracePeriod`, where the grace period is
    /// `--node-startup-grace-period` for a node whose kubelet never posted a Ready condition and
    /// `--node-monitor-grace-period` otherwise. probeTimestamp moves to now whenever the lease is
    /// renewed or the status changes; a node first seen with neither starts from its creation.
    fn node_health(
        &mut self,
        now: Nanos,
        leases: &[KeyValue],
        statuses: &[KeyValue],
    ) -> BTreeMap<u16, bool> {
        let by_node = |kvs: &[KeyValue]| -> BTreeMap<u16, u64> {
            kvs.iter()
                .map(|kv| (keys::id16_of(kv.key), kv.value))
                .collect()
        };
        let (leases, statuses) = (by_node(leases), by_node(statuses));
        let registered = self
            .cfg
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.is_some())
            .map(|(i, _)| crate::engine::id16(i));
        let mut health = BTreeMap::new();
        for n in registered {
            let (lease, status) = (leases.get(&n).copied(), statuses.get(&n).copied());
            let seen = lease.is_some() || status.is_some();
            // First sight ("Missing timestamp for Node ... Assuming now as a timestamp"): what it
            // sees now is its starting point, not news from the kubelet.
            let h = self.probe.entry(n).or_insert(NodeHealth {
                lease,
                status,
                probe_ns: if seen { now } else { NODE_CREATED_NS },
                heard: false,
            });
            if h.status != status || (lease.is_some() && h.lease != lease) {
                h.probe_ns = now;
                h.heard = true;
            }
            h.lease = lease;
            h.status = status;
            let grace = if status.is_some() {
                self.cfg.grace_ns
            } else {
                self.cfg.startup_grace_ns
            };
            health.insert(n, now.saturating_sub(h.probe_ns) <= grace);
        }
        health
    }

    /// A node this process has not heard from since it first saw it keeps its stored Ready condition:
    /// within the fresh grace period it is Ready only if the stored object says so (the observed
    /// condition that processTaintBaseEviction and ComputeZoneState read), so a new leader neither
    /// marks a dead node Ready nor removes its taint.
    fn keep_stored_conditions(
        &self,
        health: &mut BTreeMap<u16, bool>,
        objs: &BTreeMap<u16, (NodeObj, u64)>,
    ) {
        for (n, ok) in health.iter_mut() {
            let heard = self.probe.get(n).is_some_and(|h| h.heard);
            if let Some((obj, _)) = objs.get(n) {
                if *ok && !heard && !obj.ready {
                    *ok = false;
                }
            }
        }
    }

    fn node_lifecycle(
        &mut self,
        ctx: &mut Ctx,
        mut health: BTreeMap<u16, bool>,
        nodes: &[KeyValue],
        pods: &[KeyValue],
    ) {
        let now = ctx.now;
        let objs: BTreeMap<u16, (NodeObj, u64)> = nodes
            .iter()
            .map(|kv| {
                (
                    keys::id16_of(kv.key),
                    (NodeObj::unpack(kv.value), kv.mod_rev),
                )
            })
            .collect();
        self.keep_stored_conditions(&mut health, &objs);
        // Zone states (ComputeZoneState).
        let mut per_zone: BTreeMap<u16, (u32, u32)> = BTreeMap::new();
        for (&n, &ok) in &health {
            let info = self.cfg.nodes.get(n as usize).copied().flatten();
            if self.cfg.exclude_control_plane && info.is_some_and(|i| i.control_plane) {
                continue;
            }
            let z = info.map(|i| i.zone).unwrap_or(0);
            let e = per_zone.entry(z).or_default();
            if ok {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
        let zone_state = |ready: u32, not_ready: u32| -> ZoneState {
            let total = ready + not_ready;
            if ready == 0 && not_ready > 0 {
                ZoneState::Full
            } else if not_ready > 2
                && not_ready as f64 / total.max(1) as f64 >= self.cfg.unhealthy_zone_threshold
            {
                ZoneState::Partial
            } else {
                ZoneState::Normal
            }
        };
        let states: BTreeMap<u16, (ZoneState, u32)> = per_zone
            .iter()
            .map(|(z, (r, nr))| (*z, (zone_state(*r, *nr), r + nr)))
            .collect();
        let all_full = !states.is_empty() && states.values().all(|(s, _)| *s == ZoneState::Full);
        if all_full && !self.master_disruption {
            ctx.log("node_lifecycle_controller.go: Controller detected that all Nodes are not-Ready. Entering master disruption mode".into());
        } else if !all_full && self.master_disruption {
            ctx.log("node_lifecycle_controller.go: Controller detected that some Nodes are Ready. Exiting master disruption mode".into());
            // handleDisruption gives every node a fresh grace period on leaving disruption mode.
            for e in self.probe.values_mut() {
                e.probe_ns = now;
            }
            for ok in health.values_mut() {
                *ok = true;
            }
        }
        self.master_disruption = all_full;
        let mut tainted: BTreeMap<u16, u32> = BTreeMap::new();
        for (&n, &ok) in &health {
            let (obj, rev) = objs.get(&n).map(|(o, r)| (*o, Some(*r))).unwrap_or((
                NodeObj {
                    ready: true,
                    unreachable_taint: false,
                    taint_added_s: 0,
                },
                None,
            ));
            let expected = Some(rev.unwrap_or(0));
            let name = self
                .cfg
                .node_names
                .get(n as usize)
                .cloned()
                .unwrap_or_default();
            let zone = self
                .cfg
                .nodes
                .get(n as usize)
                .copied()
                .flatten()
                .map(|i| i.zone)
                .unwrap_or(0);
            let mut new = obj;
            if ok {
                new.ready = true;
                new.unreachable_taint = false;
            } else {
                new.ready = false;
                if all_full {
                    // markNodeAsReachable: in master disruption nothing is tainted or evicted.
                    new.unreachable_taint = false;
                } else if !obj.unreachable_taint {
                    let (state, size) =
                        states.get(&zone).copied().unwrap_or((ZoneState::Normal, 0));
                    let rate = match state {
                        ZoneState::Normal | ZoneState::Full => self.cfg.eviction_rate,
                        ZoneState::Partial => {
                            if size > self.cfg.large_cluster_size_threshold {
                                self.cfg.secondary_eviction_rate
                            } else {
                                0.0
                            }
                        }
                    };
                    let next = self.next_taint.get(&zone).copied().unwrap_or(0);
                    if rate > 0.0 && now >= next {
                        new.unreachable_taint = true;
                        // Whole seconds of a run of at most 100 years (validation's MAX_DURATION):
                        // 3.2e9, within u32.
                        new.taint_added_s = u32::try_from(now / SEC).unwrap_or(u32::MAX);
                        self.next_taint
                            .insert(zone, now + crate::engine::ns_from_f64(SEC as f64 / rate));
                    }
                }
            }
            if new != obj || rev.is_none() {
                if obj.ready && !new.ready {
                    let h = self.probe.get(&n).copied();
                    if h.is_some_and(|h| h.status.is_none()) {
                        ctx.log(format!(
                            "node_lifecycle_controller.go: Condition Ready of node {name} was never updated by kubelet; Ready is now Unknown (NodeStatusNeverUpdated)"
                        ));
                    } else {
                        ctx.log(format!(
                            "node_lifecycle_controller.go: {name} hasn't been updated for {}; Ready is now Unknown",
                            fmt_duration(now.saturating_sub(h.map(|h| h.probe_ns).unwrap_or(now)))
                        ));
                    }
                }
                if !obj.unreachable_taint && new.unreachable_taint {
                    ctx.log(format!(
                        "node_lifecycle_controller.go: adding taint node.kubernetes.io/unreachable:NoExecute to {name}"
                    ));
                }
                if obj.unreachable_taint && !new.unreachable_taint {
                    ctx.log(format!(
                        "node_lifecycle_controller.go: removing taint node.kubernetes.io/unreachable from {name}"
                    ));
                }
                self.put_as(
                    ctx,
                    Pending::NodeStatus(
                        n,
                        new.ready,
                        (obj.unreachable_taint != new.unreachable_taint)
                            .then_some(new.unreachable_taint),
                    ),
                    keys::key(keys::NODE, n as u64),
                    new.pack(),
                    expected,
                );
            }
            // MarkPodsNotReady when the node's Ready condition leaves True, and again for a node
            // whose earlier marking failed (monitorNodeHealth in node_lifecycle_controller.go).
            let retry = !new.ready && self.mark_retry.remove(&n);
            if (obj.ready && !new.ready) || retry {
                self.mark_pods_not_ready(ctx, n, &name, pods);
            }
            if new.unreachable_taint {
                tainted.insert(n, new.taint_added_s);
            }
        }
        // The taint manager: pods that do not tolerate the taint past tolerationSeconds are deleted.
        // Seconds for the log line only; a u32 once wrapped "1193047h" to 1,904 s.
        let tol_s = self.cfg.toleration_ns / SEC;
        let deadlines = self.toleration_deadlines(now, &tainted, pods);
        let mut evicted = 0;
        for kv in pods {
            let mut p = Pod::unpack(kv.value);
            if deadlines.get(&kv.key).is_some_and(|&t| now >= t) {
                p.terminating = true;
                self.put(ctx, Loop::NodeLifecycle, kv.key, p.pack(), Some(kv.mod_rev));
                evicted += 1;
            }
        }
        // The taint-eviction controller deletes each pod exactly when its toleration runs out: arm a
        // timer at the next deadline instead of waiting for the next monitor pass.
        let next = deadlines.values().copied().filter(|&t| t > now).min();
        if let Some(t) = next {
            if self.evict_at.is_none_or(|a| a > t || a <= now) {
                self.evict_at = Some(t);
                ctx.timer_at(t, ControllerTimer::Evict { at_ns: t });
            }
        }
        if evicted > 0 {
            ctx.log(format!(
                "taint_eviction.go: \"Deleting pod\" count={evicted} (NoExecute taint past tolerationSeconds={tol_s})"
            ));
        }
    }

    /// `MarkPodsNotReady` (k/k pkg/controller/util/node/controller_utils.go): every pod bound to the
    /// node whose Ready condition is True gets Ready=False, so the EndpointSlice controller drops it
    /// from its Service until the kubelet reports it Ready again.
    fn mark_pods_not_ready(&mut self, ctx: &mut Ctx, n: u16, name: &str, pods: &[KeyValue]) {
        let mut marked = 0;
        for kv in pods {
            let mut p = Pod::unpack(kv.value);
            if p.node == Some(n) && p.ready {
                p.ready = false;
                self.put_as(
                    ctx,
                    Pending::MarkNotReady(n),
                    kv.key,
                    p.pack(),
                    Some(kv.mod_rev),
                );
                marked += 1;
            }
        }
        if marked > 0 {
            ctx.log(format!(
                "controller_utils.go: \"Updating ready status of pod to false\" node=\"{name}\" pods={marked}"
            ));
        }
    }

    /// When each live pod on a tainted node runs out of toleration: `toleration` after this process
    /// first saw it there (processPodOnNode's `startTime := now`; the work is cancelled when the pod
    /// leaves the tainted node or the taint goes, so those entries are forgotten).
    fn toleration_deadlines(
        &mut self,
        now: Nanos,
        tainted: &BTreeMap<u16, u32>,
        pods: &[KeyValue],
    ) -> BTreeMap<u64, Nanos> {
        let mut seen = BTreeMap::new();
        for kv in pods {
            let p = Pod::unpack(kv.value);
            let on_tainted = p.node.is_some_and(|n| tainted.contains_key(&n));
            if on_tainted && !p.terminating {
                let start = self.taint_seen.get(&kv.key).copied().unwrap_or(now);
                seen.insert(kv.key, start);
            }
        }
        self.taint_seen = seen;
        self.taint_seen
            .iter()
            .map(|(&k, &start)| (k, start.saturating_add(self.cfg.toleration_ns)))
            .collect()
    }

    fn schedule(
        &mut self,
        ctx: &mut Ctx,
        leases: &[KeyValue],
        nodes: &[KeyValue],
        pods: &[KeyValue],
    ) {
        // Most passes during a rollout are kicked by pods already bound (their status, their
        // readiness): with none pending the pass binds nothing, and its maps need not be built.
        if !pods.iter().any(|kv| {
            let p = Pod::unpack(kv.value);
            p.node.is_none() && !p.terminating
        }) {
            return;
        }
        let objs: BTreeMap<u16, NodeObj> = nodes
            .iter()
            .map(|kv| (keys::id16_of(kv.key), NodeObj::unpack(kv.value)))
            .collect();
        let mut load: BTreeMap<u16, u32> = BTreeMap::new();
        let mut per_wl_zone: BTreeMap<(u16, u16), u32> = BTreeMap::new();
        let zone_of = |n: u16| {
            self.cfg
                .nodes
                .get(n as usize)
                .copied()
                .flatten()
                .map(|i| i.zone)
                .unwrap_or(0)
        };
        for kv in pods {
            let p = Pod::unpack(kv.value);
            if let Some(n) = p.node {
                *load.entry(n).or_default() += 1;
                if !p.terminating {
                    *per_wl_zone.entry((p.workload, zone_of(n))).or_default() += 1;
                }
            }
        }
        let candidates: Vec<(u16, NodeInfo)> = leases
            .iter()
            .filter_map(|kv| {
                let n = keys::id16_of(kv.key);
                let info = self.cfg.nodes.get(n as usize).copied().flatten()?;
                let ok = objs
                    .get(&n)
                    .map(|o| o.ready && !o.unreachable_taint)
                    .unwrap_or(true);
                ok.then_some((n, info))
            })
            .collect();
        let mut bound = 0;
        for kv in pods {
            let mut p = Pod::unpack(kv.value);
            if p.node.is_some() || p.terminating {
                continue;
            }
            let Some(w) = self.cfg.workloads.get(p.workload as usize) else {
                continue;
            };
            let fits = |(n, info): &(u16, NodeInfo)| -> bool {
                (!info.control_plane || w.on_control_plane)
                    && load.get(n).copied().unwrap_or(0) < self.cfg.max_pods
                    && (w.spread != Spread::FirstZone || info.zone == 0)
            };
            let best = candidates
                .iter()
                .filter(|c| fits(c))
                .min_by_key(|(n, info)| {
                    let spread = if w.spread == Spread::Zones {
                        per_wl_zone
                            .get(&(p.workload, info.zone))
                            .copied()
                            .unwrap_or(0)
                    } else {
                        0
                    };
                    (spread, load.get(n).copied().unwrap_or(0), *n)
                })
                .copied();
            let Some((n, info)) = best else {
                continue;
            };
            p.node = Some(n);
            *load.entry(n).or_default() += 1;
            *per_wl_zone.entry((p.workload, info.zone)).or_default() += 1;
            self.put(ctx, Loop::Scheduler, kv.key, p.pack(), Some(kv.mod_rev));
            bound += 1;
        }
        if bound > 0 {
            ctx.log(format!(
                "schedule_one.go: \"Successfully bound pods\" count={bound}"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scheduler() -> Controllers {
        let cfg = ControllerConfig {
            role: Role::Scheduler,
            workloads: Vec::new(),
            nodes: Vec::new(),
            node_names: Vec::new(),
            resync_ns: SEC,
            node_monitor_period_ns: 5 * SEC,
            grace_ns: 50 * SEC,
            startup_grace_ns: 60 * SEC,
            eviction_rate: 0.1,
            secondary_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
            toleration_ns: 300 * SEC,
            exclude_control_plane: false,
            max_pods: 110,
            request_timeout_ns: 60 * SEC,
            leader_election: true,
        };
        Controllers::new(cfg, 0)
    }

    proptest! {
        /// What a loop reads is its cache with the process's own writes laid over it, key by key:
        /// a written value replaces or adds the key (with the revision it wrote, or the cached
        /// one while in flight), a deletion removes it; every other key is the cache's.
        #[test]
        fn own_writes_read_over_the_cache(
            cached in proptest::collection::btree_map(0u64..60, (1u64..9, 1u64..500), 0..40),
            own in proptest::collection::btree_map(0u64..60, (0u64..9, proptest::option::of(500u64..900)), 0..20),
        ) {
            let mut c = scheduler();
            let key = |id| keys::key(keys::POD, id);
            let cache: std::sync::Arc<[KeyValue]> = cached
                .iter()
                .map(|(&id, &(value, mod_rev))| KeyValue { key: key(id), value, mod_rev })
                .collect();
            for kind in loop_kinds(Loop::Scheduler) {
                c.reflectors.insert(
                    *kind,
                    Reflector { cache: Some(std::sync::Arc::from([])), ..Reflector::default() },
                );
            }
            c.reflectors.get_mut(&keys::POD).unwrap().cache = Some(cache);
            for (&id, &w) in &own {
                c.own.insert(key(id), w);
            }
            let reads = c.reads(Loop::Scheduler).expect("every cache synced");
            let mut want: BTreeMap<u64, (u64, u64)> =
                cached.iter().map(|(&id, &v)| (key(id), v)).collect();
            for (&id, &(value, at)) in &own {
                if value == 0 {
                    want.remove(&key(id));
                } else {
                    let rev = at.unwrap_or(want.get(&key(id)).map_or(0, |v| v.1));
                    want.insert(key(id), (value, rev));
                }
            }
            let got: BTreeMap<u64, (u64, u64)> = reads[&keys::POD]
                .iter()
                .map(|kv| (kv.key, (kv.value, kv.mod_rev)))
                .collect();
            prop_assert_eq!(got, want);
            prop_assert!(reads[&keys::POD].windows(2).all(|w| w[0].key < w[1].key));
        }
    }

    /// The watches a batch of outputs opens, as (request id, start of the watched range).
    fn watches(out: &[crate::components::ctx::Out]) -> Vec<(u64, u64)> {
        requests(out)
            .filter_map(|(id, op)| match op {
                KvOp::Watch { start, .. } => Some((id, *start)),
                _ => None,
            })
            .collect()
    }

    /// The API requests a batch of outputs sends, as (request id, operation), in order.
    fn requests(out: &[crate::components::ctx::Out]) -> impl Iterator<Item = (u64, &KvOp)> {
        out.iter().filter_map(|o| match o {
            crate::components::ctx::Out::Send {
                msg: Msg::ApiReq { id, op, .. },
                ..
            } => Some((*id, op)),
            _ => None,
        })
    }

    /// kube-scheduler's informers start with the process and sync before it campaigns; leading
    /// then runs its loop on the warm caches at once, without watching again. (The controller
    /// manager's start only when it leads.)
    #[test]
    fn the_scheduler_informs_before_it_leads_and_leads_on_warm_caches() {
        let mut c = scheduler();
        c.cfg.workloads = vec![WorkloadSpec {
            name: "web".into(),
            replicas: 1,
            spread: Spread::Zones,
            on_control_plane: false,
        }];
        let mut rng = crate::engine::rng::stream(1, 1);
        let mut out = Vec::new();
        let mut ctx = Ctx {
            now: 1,
            me: 7,
            rng: &mut rng,
            out: &mut out,
            quiet_ok: false,
        };
        assert!(c.informs_early());
        c.start_informers(&mut ctx, 0);
        let opened = watches(ctx.out);
        assert_eq!(opened.len(), loop_kinds(Loop::Scheduler).len());
        assert!(c.informing() && !c.informers_synced());
        for (i, (id, _)) in opened.iter().enumerate() {
            assert!(
                !c.informers_synced(),
                "synced after {i} of the first events"
            );
            c.on_watch_event(&mut ctx, *id, std::sync::Arc::from([]), 5);
        }
        assert!(c.informers_synced());
        assert!(c.loops.is_empty(), "no loop runs before it leads");
        ctx.out.clear();
        c.start(&mut ctx, 3, 0);
        assert!(watches(ctx.out).is_empty(), "leading opens no watch");
        assert!(c.reads(Loop::Scheduler).is_some(), "its caches are warm");
        assert!(c.loops.contains_key(&Loop::Scheduler));
        c.stop();
        assert!(!c.informing() && c.reflectors.is_empty());

        let mut kcm = scheduler();
        kcm.cfg.role = Role::ControllerManager;
        assert!(!kcm.informs_early());
        ctx.out.clear();
        kcm.start_informers(&mut ctx, 1);
        assert!(ctx.out.is_empty() && !kcm.informing());
    }

    /// The (key, value, expected revision) of every Put a batch of outputs sends, in order.
    fn puts(out: &[crate::components::ctx::Out]) -> Vec<(u64, u64, Option<u64>)> {
        requests(out)
            .filter_map(|(_, op)| match op {
                KvOp::Put {
                    key,
                    value,
                    expected_rev,
                    ..
                } => Some((*key, *value, *expected_rev)),
                _ => None,
            })
            .collect()
    }

    proptest! {
        /// The EndpointSlice sync's merge of two sorted lists writes what a map of the desired
        /// entries wrote, in the same order: changes and removals of published entries in their
        /// order, then the new ones by uid.
        #[test]
        fn the_endpoint_sync_writes_what_a_map_of_desired_entries_wrote(
            pods in proptest::collection::btree_map(0u64..80, (0u16..3, proptest::option::of(0u16..4), any::<bool>(), any::<bool>()), 0..50),
            published in proptest::collection::btree_map(0u64..80, (0u16..3, 0u16..4), 0..40),
        ) {
            let pods: Vec<KeyValue> = pods
                .iter()
                .map(|(&uid, &(workload, node, terminating, ready))| KeyValue {
                    key: keys::key(keys::POD, uid),
                    value: Pod { workload, node, terminating, ready }.pack(),
                    mod_rev: 1,
                })
                .collect();
            let published: Vec<KeyValue> = published
                .iter()
                .map(|(&uid, &(workload, node))| KeyValue {
                    key: keys::key(keys::ENDPOINT, uid),
                    value: EndpointObj { workload, node }.pack(),
                    mod_rev: 7 + uid,
                })
                .collect();
            // The map-based sync this replaced.
            let mut desired: BTreeMap<u64, EndpointObj> = BTreeMap::new();
            for kv in &pods {
                let p = Pod::unpack(kv.value);
                if let (Some(node), true, false) = (p.node, p.ready, p.terminating) {
                    desired.insert(keys::id_of(kv.key), EndpointObj { workload: p.workload, node });
                }
            }
            let mut want = Vec::new();
            for kv in &published {
                match desired.remove(&keys::id_of(kv.key)) {
                    Some(e) if e.pack() == kv.value => {}
                    Some(e) => want.push((kv.key, e.pack(), Some(kv.mod_rev))),
                    None => want.push((kv.key, 0, Some(kv.mod_rev))),
                }
            }
            for (uid, e) in desired {
                want.push((keys::key(keys::ENDPOINT, uid), e.pack(), Some(0)));
            }
            let mut c = scheduler();
            c.cfg.role = Role::ControllerManager;
            c.loops.insert(Loop::Endpoints, LoopState::default());
            let mut rng = crate::engine::rng::stream(1, 1);
            let mut out = Vec::new();
            let mut ctx = Ctx { now: 1, me: 7, rng: &mut rng, out: &mut out, quiet_ok: false };
            c.endpoints(&mut ctx, &pods, &published);
            prop_assert_eq!(puts(ctx.out), want);
        }
    }

    #[test]
    fn a_loop_does_not_read_before_every_cache_it_reads_has_synced() {
        let mut c = scheduler();
        c.reflectors.insert(keys::POD, Reflector::default());
        assert!(c.reads(Loop::Scheduler).is_none());
    }
}
