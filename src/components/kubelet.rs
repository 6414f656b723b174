//! The kubelet: renews its node Lease every 0.25 x nodeLeaseDurationSeconds (10 s; k/k
//! pkg/kubelet/apis/config/v1beta1/defaults.go), watches the pods bound to its node (the field
//! selector `spec.nodeName`, k/k pkg/kubelet/config/apiserver.go), starts them (ready after the pod
//! start-up time), reports their Ready condition and stops those marked for deletion.
//!
//! Its watches (and its kube-proxy's) are client-go reflectors: the API server sends the current
//! list when the watch opens and every change after. A watch that ends (a reset, the HTTP/2 health
//! check closing the connection, the kubelet closing its connections after failed lease updates,
//! an error answer, an end before its first event) is opened again after the reflector's back-off
//! (800 ms doubling to 30 s, jittered, see `informers`); an established one the server ended
//! cleanly (a graceful stop) at once. A watch still dialling outlives `closeAllConns`, which closes
//! only connections whose dial has returned.
//!
//! Containers belong to the container runtime: they keep running while the kubelet cannot reach the
//! API, and even while the kubelet process is down; they die with the node.
//!
//! The node's kube-proxy rides along: it watches the Services' endpoints, syncs them into its rules
//! at most once a second (burst 2) and keeps the rules it last programmed (iptables rules live in
//! the kernel: they outlast both processes and a lost API connection, and go with the node). The model folds the two DaemonSets into one
//! process; a crashed kubelet therefore also stops the node's endpoint updates.
//!
//! kube-proxy also carries the node's pods' connections to the `kubernetes` Service (in-cluster
//! clients): a new connection is DNATed to one of the API servers in the Service's endpoints, chosen
//! at random as the iptables rules' `statistic` match does, and conntrack keeps every later packet of
//! that connection on it, also after the endpoint leaves the Service; a Service with no endpoints
//! REJECTs (connection refused). The model relays these connections through this process, so they
//! also stop while the kubelet process is down (in a real node the kernel would carry them on).

use crate::components::conn::{ApiConn, ConnEvent, ConnTimer};
use crate::components::ctx::{Ctx, IdGen, IdSpace, Out, ProcId};
use crate::components::msg::{keys, ApiUser, KvOp, KvResult, Msg};
use crate::components::objects::{EndpointObj, Pod};
use crate::engine::Nanos;
use crate::observe::TraceKind;
use crate::scenario::model::HealthPath;
use std::collections::BTreeMap;

/// The kubelet's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KubeletTimer {
    /// The next node Lease renewal.
    Lease,
    /// Open the watches that are not open (after the reflector's back-off).
    Watch,
    /// A pod may have become ready.
    Ready,
    /// API request `id` got no answer in time.
    Timeout { id: u64 },
    /// The next node status computation (nodeStatusUpdateFrequency).
    Status,
    /// The status manager's periodic reconcile of pod statuses.
    Reconcile,
    /// kube-proxy may sync its rules again (its minimum sync period is over).
    ProxySync,
    /// The API connection's health check.
    Conn(ConnTimer),
    /// The prober's next probe of probed container `c` (an index into the kubelet's probes; its
    /// worker's ticker, of probe generation `gen`).
    Probe { c: u8, gen: u64 },
    /// Probe `id` got no answer within the probe's timeout.
    ProbeTimeout { id: u64 },
}

/// A static pod kubeadm writes with probes (k/k cmd/kubeadm/app/util/staticpod/utils.go
/// `LivenessProbe`/`StartupProbe`): initialDelaySeconds 10, timeoutSeconds 15, periodSeconds 10,
/// failureThreshold 8; the startup probe the same with failureThreshold 24 (kubeadm's
/// `ControlPlaneComponentHealthCheck` timeout, 4 minutes, over the 10 s period). Liveness probing
/// starts once the startup probe has passed (k/k pkg/kubelet/prober/worker.go).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbedContainer {
    /// kube-apiserver (phases/controlplane/manifests.go): both probes GET `/livez` on 6443, which
    /// runs the etcd check.
    ApiServer,
    /// etcd (phases/etcd/local.go `GetEtcdPodSpec`, kubeadm#3039): liveness GET `/livez` on the
    /// metrics port 2381, which needs no quorum (a serializable read); startup GET `/readyz`, a
    /// linearizable read, which does.
    Etcd,
    /// kube-controller-manager (phases/controlplane/manifests.go): both probes GET `/healthz` on its
    /// secure port 10257. Its checks are the leader-election watchdog
    /// (`leaderelection.NewLeaderHealthzAdaptor(20s)`: a leader that has not renewed for its lease
    /// duration plus 20 s) and the controllers' own; a running process passes them, since it exits
    /// on a lease it could not renew well before the watchdog would fail. A paused (SIGSTOPped) one
    /// answers nothing, and is killed after the failure threshold.
    ControllerManager,
    /// kube-scheduler (same file): both probes GET `/healthz` on 10259, with the same watchdog.
    Scheduler,
}

impl ProbedContainer {
    /// The container's name, as the kubelet logs it.
    pub fn name(self) -> &'static str {
        match self {
            ProbedContainer::ApiServer => "kube-apiserver",
            ProbedContainer::Etcd => "etcd",
            ProbedContainer::ControllerManager => "kube-controller-manager",
            ProbedContainer::Scheduler => "kube-scheduler",
        }
    }

    /// The path the startup probe (`startup`) or the liveness probe GETs.
    fn path(self, startup: bool) -> HealthPath {
        match self {
            ProbedContainer::Etcd if startup => HealthPath::Readyz,
            ProbedContainer::ApiServer | ProbedContainer::Etcd => HealthPath::Livez,
            ProbedContainer::ControllerManager | ProbedContainer::Scheduler => HealthPath::Healthz,
        }
    }

    /// The port the probes dial, for the prober's "connection refused" output.
    fn port(self) -> u16 {
        match self {
            ProbedContainer::ApiServer => 6443,
            ProbedContainer::Etcd => 2381,
            ProbedContainer::ControllerManager => 10257,
            ProbedContainer::Scheduler => 10259,
        }
    }

    /// The prober's output for a failing answer: the API server's /livez answers 500, etcd's
    /// health handler 503 (`http.StatusServiceUnavailable`), a controller's /healthz 500.
    fn failed_status(self) -> &'static str {
        match self {
            ProbedContainer::ApiServer
            | ProbedContainer::ControllerManager
            | ProbedContainer::Scheduler => "HTTP probe failed with statuscode: 500",
            ProbedContainer::Etcd => "HTTP probe failed with statuscode: 503",
        }
    }
}

/// kubeadm's probes of one static pod on this node (see [`ProbedContainer`]).
#[derive(Clone, Copy, Debug)]
pub struct ContainerProbe {
    pub container: ProbedContainer,
    /// The node's process in that container.
    pub target: ProcId,
    pub initial_delay_ns: Nanos,
    pub period_ns: Nanos,
    pub timeout_ns: Nanos,
    pub failure_threshold: u32,
    pub startup_failure_threshold: u32,
}

/// A probe worker's index as its timer carries it (a kubelet probes at most four containers).
fn probe_index(c: usize) -> u8 {
    u8::try_from(c).expect("a kubelet probes at most four containers")
}

/// The prober's worker for one container: which container life it probes and how.
#[derive(Clone, Copy, Debug, Default)]
struct Prober {
    /// Bumped when the container starts or stops, and when the kubelet kills it: a ticker of an
    /// earlier generation stops.
    gen: u64,
    /// The startup probe has not passed yet.
    startup: bool,
    /// Consecutive failures.
    failures: u32,
    /// The probe in flight (one at a time: the worker runs it synchronously).
    inflight: Option<u64>,
    /// A tick of the worker's ticker fell due while a probe was in flight. Go's `time.Ticker`
    /// holds one tick in its channel, so the worker's loop (k/k pkg/kubelet/prober/worker.go
    /// `run`: `for w.doProbe(ctx) { select { ... case <-probeTicker.C: } }`) probes again as soon
    /// as the slow probe returns: probes that time out after 15 s follow each other every 15 s,
    /// not every second period.
    tick_buffered: bool,
}

impl Prober {
    /// A new worker for a container that (re)started: startup probe first.
    fn restart(&mut self) {
        *self = Prober {
            gen: self.gen + 1,
            startup: true,
            failures: 0,
            inflight: None,
            tick_buffered: false,
        };
    }
}

impl From<ConnTimer> for KubeletTimer {
    fn from(t: ConnTimer) -> KubeletTimer {
        KubeletTimer::Conn(t)
    }
}

/// How long a watch waits for its first event (the initial list) before the reflector gives up on
/// it: client-go's dial timeout, `net.Dialer{Timeout: 30 * time.Second}`
/// (k8s.io/client-go/transport/cache.go), since what holds a watch up is a connection that cannot be
/// opened (the kubelet's main client sets no request timeout). The network resends the request
/// meanwhile, as TCP does (`net`: a SYN at 1, 3, 7 and 15 s, or the RTO on an open connection).
const WATCH_FIRST_EVENT_NS: Nanos = crate::components::msg::CLIENT_GO_DIAL_TIMEOUT_NS;

/// kube-proxy's `iptables.minSyncPeriod` (1 s; k/k pkg/proxy/apis/config/v1alpha1/defaults.go): its
/// sync runner (`async.NewBoundedFrequencyRunner`, pkg/proxy/iptables/proxier.go) syncs the rules at
/// most once per period, with a burst of [`PROXY_BURST`], so a stream of endpoint changes reaches
/// the rules in batches.
const PROXY_MIN_SYNC_NS: Nanos = crate::engine::SEC;
/// The sync runner's burst (`burstSyncs = 2`, pkg/proxy/iptables/proxier.go).
const PROXY_BURST: Nanos = 2;

/// The status manager's reconcile period: pods whose stored status differs from the kubelet's are
/// written again (`syncPeriod = 10 * time.Second`, k/k pkg/kubelet/status/status_manager.go). This is
/// how pods that `MarkPodsNotReady` set not ready become Ready again once the kubelet reconnects.
const STATUS_RECONCILE_NS: Nanos = 10 * crate::engine::SEC;

/// Kubelet settings.
#[derive(Clone, Debug)]
pub struct KubeletConfig {
    /// The node this kubelet runs on (layout index).
    pub node: u16,
    /// Where API requests go.
    pub api: ProcId,
    pub lease_renew_ns: Nanos,
    pub pod_startup_ns: Nanos,
    pub request_timeout_ns: Nanos,
    /// nodeStatusUpdateFrequency (10 s): how often the kubelet computes its node status.
    pub status_update_ns: Nanos,
    /// nodeStatusReportFrequency (5 m): with node leases, an unchanged status is posted only this often.
    pub status_report_ns: Nanos,
    /// The API servers by ordinal (the addresses behind the `kubernetes` Service's endpoints).
    pub apiservers: Vec<ProcId>,
    /// On a control-plane node, the probes of its static pods: kube-apiserver unless
    /// `settings.kubelet.apiserver_liveness_probe` is off, then a stacked etcd member unless
    /// `settings.kubelet.etcd_probes` is off, then kube-controller-manager and kube-scheduler unless
    /// `settings.kubelet.controller_probes` is off.
    pub probes: Vec<ContainerProbe>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Req {
    Status,
    Lease,
    /// The watch of its pods.
    Pods,
    Delete,
    /// The Ready condition of the pod with this uid.
    PodStatus(u64),
    /// kube-proxy's watch of the Service endpoints.
    Endpoints,
}

/// A container the runtime runs.
#[derive(Clone, Copy, Debug)]
pub struct RunningPod {
    pub workload: u16,
    pub ready_at_ns: Nanos,
    /// The pod's key and mod revision as last read or written.
    key: u64,
    rev: u64,
    /// The Ready condition as stored in the API, as last read or written.
    api_ready: bool,
}

/// The kubelet process (and the node's container runtime).
#[derive(Clone)]
pub struct Kubelet {
    cfg: KubeletConfig,
    /// Survives a kubelet crash (containerd keeps the containers), not a node crash.
    pub running: BTreeMap<u64, RunningPod>,
    /// Bumped whenever `running` gains or loses a pod: observers that summarise which pods serve
    /// reuse their summary while no kubelet's version moved (see `world::observer`).
    pub serving_version: u64,
    renew_seq: u64,
    ids: IdGen,
    pending: BTreeMap<u64, Req>,
    last_ready: u32,
    /// When the status was last posted successfully (None: not since start).
    status_posted_ns: Option<Nanos>,
    status_seq: u64,
    /// Back-off of failed lease renewals (0: none failed since the last success).
    lease_backoff_ns: Nanos,
    /// The next successful renewal is the first of this kubelet's life: its periodic loop takes an
    /// independent phase.
    lease_phase_pending: bool,
    /// kube-proxy's programmed rules: the Service endpoints it last listed, by pod uid. Kept in the
    /// kernel, so they survive a kubelet crash, not a node crash.
    /// In uid order, as the list returns them.
    pub proxy: std::sync::Arc<[(u64, EndpointObj)]>,
    /// kube-proxy has programmed its rules since the node booted: until then its health check
    /// (`/healthz` on port 10256, k/k pkg/proxy/healthcheck/proxier_health.go) fails, so load
    /// balancers in front of the nodes send no users to it.
    pub proxy_synced: bool,
    /// A fingerprint of `proxy` (FNV-1a over its entries), so that observers can treat the identical
    /// tables of many nodes once.
    pub proxy_fp: u64,
    /// The list `proxy` was last programmed from, as etcd shared it.
    proxy_listed: Option<std::sync::Arc<[crate::components::msg::KeyValue]>>,
    /// The endpoints kube-proxy has been sent but not yet synced into its rules.
    proxy_pending: Option<std::sync::Arc<[crate::components::msg::KeyValue]>>,
    /// kube-proxy's sync runner's token bucket, in nanoseconds of [`PROXY_MIN_SYNC_NS`] (one token
    /// each), as of `proxy_budget_at`.
    proxy_budget_ns: Nanos,
    proxy_budget_at: Nanos,
    /// A [`KubeletTimer::ProxySync`] is armed.
    proxy_sync_armed: bool,
    /// The kubelet's API connection.
    conn: ApiConn,
    /// Lease updates that failed in a row.
    lease_failures: u32,
    /// kube-proxy's rules for the `kubernetes` Service: a bit per API server ordinal.
    pub kube_api: u64,
    /// Connections of in-cluster clients to the `kubernetes` Service (conntrack): client -> (its
    /// connection number, the API server it was DNATed to).
    conntrack: BTreeMap<ProcId, (crate::components::msg::ConnId, ProcId)>,
    /// Relayed requests and PINGs: relay id -> (client, the client's id, its connection).
    relayed: BTreeMap<u64, (ProcId, u64, crate::components::msg::ConnId)>,
    /// Relay ids (kept apart from the kubelet's own request ids).
    relay_ids: IdGen,
    /// The reflectors' back-off before a watch is opened again.
    watch_backoff: crate::components::informers::ReflectorBackoff,
    /// A [`KubeletTimer::Watch`] is armed.
    watch_armed: bool,
    /// The newest event of each watch (pods, endpoints) as (watch id, revision): the network may
    /// deliver two events of one watch out of order (its latencies are drawn per message), where
    /// the real watch stream is one TCP connection and the reflector keeps its resourceVersion.
    watch_rev: [(u64, u64); 2],
    /// The prober's worker for each of `cfg.probes`, by index.
    probers: Vec<Prober>,
}

impl Kubelet {
    /// A stopped kubelet.
    pub fn new(cfg: KubeletConfig) -> Kubelet {
        let probes = cfg.probes.len();
        Kubelet {
            cfg,
            running: BTreeMap::new(),
            serving_version: 0,
            renew_seq: 0,
            ids: IdGen::default(),
            pending: BTreeMap::new(),
            last_ready: 0,
            status_posted_ns: None,
            status_seq: 0,
            lease_backoff_ns: 0,
            lease_phase_pending: false,
            proxy: std::sync::Arc::from(Vec::new()),
            proxy_synced: false,
            proxy_fp: 0,
            proxy_listed: None,
            proxy_pending: None,
            proxy_budget_ns: PROXY_BURST * PROXY_MIN_SYNC_NS,
            proxy_budget_at: 0,
            proxy_sync_armed: false,
            conn: ApiConn::new(true),
            lease_failures: 0,
            kube_api: 0,
            conntrack: BTreeMap::new(),
            relayed: BTreeMap::new(),
            relay_ids: IdGen::new(IdSpace::Controllers),
            watch_backoff: Default::default(),
            watch_armed: false,
            watch_rev: [(0, 0); 2],
            probers: vec![Prober::default(); probes],
        }
    }

    /// The node it serves.
    pub fn node(&self) -> u16 {
        self.cfg.node
    }

    /// Where its API requests go.
    pub fn api_target(&self) -> ProcId {
        self.cfg.api
    }

    /// Whether the pod with this uid runs here and is ready at `now`.
    pub fn serves(&self, uid: u64, now: Nanos) -> bool {
        self.ready_at(uid).is_some_and(|at| at <= now)
    }

    /// When the pod with this uid, if it runs here, is (or becomes) ready.
    pub fn ready_at(&self, uid: u64) -> Option<Nanos> {
        self.running.get(&uid).map(|p| p.ready_at_ns)
    }

    /// Ready pods per workload at `now`.
    pub fn ready_pods(&self, now: Nanos, out: &mut BTreeMap<u16, u32>) {
        for p in self.running.values() {
            if p.ready_at_ns <= now {
                *out.entry(p.workload).or_default() += 1;
            }
        }
    }

    /// Starts: registers by renewing its lease at once, then loops.
    pub fn start(&mut self, ctx: &mut Ctx) {
        // The run begins in a cluster whose kubelets have been running for a while, so their lease
        // loops (`wait.JitterUntil(sync, renewInterval, 0.04, ...)` in k8s.io/component-helpers/
        // apimachinery/lease/controller.go) are at independent phases, not lined up on the moment
        // the simulation started them. Only the first life: a restarted kubelet's phase is its
        // (already independent) start time.
        self.lease_phase_pending = self.renew_seq == 0;
        self.pending.clear();
        self.status_posted_ns = None;
        self.watch_armed = false;
        self.watch_rev = [(0, 0); 2];
        self.proxy_pending = None;
        self.proxy_sync_armed = false;
        self.conn.restart();
        self.lease_failures = 0;
        // A restarted kubelet probes the containers it finds running as new workers do: startup
        // probe first, its first probe one period in (the container's initial delay is long past;
        // a container that is not running is refused, and the kubelet starts it anyway when the
        // runtime reports it).
        for c in 0..self.probers.len() {
            self.new_worker(ctx, c, self.cfg.probes[c].period_ns);
        }
        self.renew(ctx);
        self.post_status(ctx);
        ctx.timer(self.cfg.status_update_ns, KubeletTimer::Status);
        self.open_watches(ctx);
        // The status manager's ticker starts with the process: its phase is the start time.
        ctx.timer(STATUS_RECONCILE_NS, KubeletTimer::Reconcile);
        for p in self.running.values() {
            if p.ready_at_ns > ctx.now {
                ctx.timer_at(p.ready_at_ns, KubeletTimer::Ready);
            }
        }
    }

    /// The kubelet process dies; its containers do not.
    pub fn crash(&mut self) {
        self.pending.clear();
        for p in &mut self.probers {
            p.inflight = None;
        }
    }

    /// The runtime reports that the container of process `target` started (PLEG): a new probe
    /// worker, startup probe first, after the initial delay.
    pub fn container_started(&mut self, ctx: &mut Ctx, target: ProcId) {
        if let Some(c) = self.worker_of(target) {
            self.new_worker(ctx, c, self.cfg.probes[c].initial_delay_ns);
        }
    }

    /// A new probe worker `c` (startup probe first), its first probe `after_ns` from now.
    fn new_worker(&mut self, ctx: &mut Ctx, c: usize, after_ns: Nanos) {
        self.probers[c].restart();
        ctx.timer(
            after_ns,
            KubeletTimer::Probe {
                c: probe_index(c),
                gen: self.probers[c].gen,
            },
        );
    }

    /// The container of process `target` stopped: its probe worker stops.
    pub fn container_stopped(&mut self, target: ProcId) {
        if let Some(c) = self.worker_of(target) {
            self.probers[c].gen += 1;
            self.probers[c].inflight = None;
        }
    }

    /// The probe worker of process `target`'s container.
    fn worker_of(&self, target: ProcId) -> Option<usize> {
        self.cfg.probes.iter().position(|p| p.target == target)
    }

    /// The probe worker whose probe in flight is `id`.
    fn worker_probing(&self, id: u64) -> Option<usize> {
        self.probers.iter().position(|w| w.inflight == Some(id))
    }

    /// Probe worker `c`'s ticker: a probe, unless the last one is still running.
    fn probe(&mut self, ctx: &mut Ctx, c: usize, gen: u64) {
        let (Some(p), Some(w)) = (self.cfg.probes.get(c).copied(), self.probers.get(c)) else {
            return;
        };
        if gen != w.gen {
            return;
        }
        ctx.timer(
            p.period_ns,
            KubeletTimer::Probe {
                c: probe_index(c),
                gen,
            },
        );
        if w.inflight.is_some() {
            self.probers[c].tick_buffered = true;
            return;
        }
        self.send_probe(ctx, c);
    }

    /// Worker `c` sends its probe.
    fn send_probe(&mut self, ctx: &mut Ctx, c: usize) {
        let p = self.cfg.probes[c];
        let id = self.ids.next_id();
        let startup = self.probers[c].startup;
        self.probers[c].inflight = Some(id);
        ctx.send(
            p.target,
            Msg::HealthReq {
                id,
                path: p.container.path(startup),
            },
        );
        ctx.deadline(p.timeout_ns, KubeletTimer::ProbeTimeout { id });
    }

    /// Probe `id` of worker `c` ended: `ok`, or failed with `why` (the prober's output). Enough
    /// failures in a row kill the container (SIGTERM, then SIGKILL after the grace period); the
    /// runtime restarts it with the restart back-off.
    fn probed(&mut self, ctx: &mut Ctx, c: usize, id: u64, ok: bool, why: &str) {
        let p = self.cfg.probes[c];
        let w = &mut self.probers[c];
        w.inflight = None;
        ctx.cancel(KubeletTimer::ProbeTimeout { id });
        let kind = if w.startup { "Startup" } else { "Liveness" };
        // The tick that fell due meanwhile: the next probe goes now, unless this one kills.
        let again = std::mem::take(&mut w.tick_buffered);
        let killed = if ok {
            w.failures = 0;
            w.startup = false;
            false
        } else {
            w.failures += 1;
            let name = p.container.name();
            ctx.log(format!(
                "\"Probe failed\" probeType=\"{kind}\" containerName=\"{name}\" probeResult=\"failure\" output=\"{why}\""
            ));
            let threshold = if w.startup {
                p.startup_failure_threshold
            } else {
                p.failure_threshold
            };
            let kill = w.failures >= threshold;
            if kill {
                ctx.log(format!(
                    "\"Container {name} failed {} probe, will be restarted\"",
                    kind.to_lowercase()
                ));
                w.gen += 1;
                ctx.out.push(Out::Kill(p.target));
            }
            kill
        };
        if again && !killed {
            self.send_probe(ctx, c);
        }
    }

    /// The node dies: so do its containers, its kube-proxy rules and its connections.
    pub fn host_down(&mut self, ctx_me: ProcId, out: &mut Vec<Out>) {
        self.running.clear();
        self.serving_version += 1;
        self.kube_api = 0;
        self.conntrack.clear();
        self.relayed.clear();
        self.proxy_synced = false;
        self.proxy_listed = None;
        if !self.proxy.is_empty() {
            self.proxy = std::sync::Arc::from(Vec::new());
            out.push(Out::Trace(TraceKind::ProxyEndpoints {
                proc: ctx_me,
                endpoints: 0,
            }));
        }
        if self.last_ready != 0 {
            self.last_ready = 0;
            out.push(Out::Trace(TraceKind::Pods {
                proc: ctx_me,
                ready: 0,
            }));
        }
    }

    /// A write id unique across processes: the process in the high bits, below it the number of the
    /// request that will carry the write.
    fn write_id(&self, ctx: &Ctx) -> u64 {
        ((ctx.me as u64 + 1) << 40) | (self.ids.peek_seq() & 0xff_ffff_ffff)
    }

    /// Sends a request with the request timeout. A watch's timeout is for its first event (the
    /// initial list, which the API server sends at once): a watch that got none in time (its
    /// request went nowhere) is opened again.
    fn send(&mut self, ctx: &mut Ctx, req: Req, op: KvOp) {
        self.send_within(ctx, req, op, self.cfg.request_timeout_ns);
    }

    /// Sends a request that is given up after `timeout_ns`.
    fn send_within(&mut self, ctx: &mut Ctx, req: Req, op: KvOp, timeout_ns: Nanos) {
        let id = self.ids.next_id();
        self.pending.insert(id, req);
        let conn = self.conn.for_request::<KubeletTimer>(ctx);
        ctx.send(
            self.cfg.api,
            Msg::ApiReq {
                id,
                op,
                conn,
                user: ApiUser::Node,
            },
        );
        ctx.deadline(timeout_ns, KubeletTimer::Timeout { id });
    }

    /// Opens the pod watch and kube-proxy's endpoints watch, whichever is not open.
    /// (The pods: only its node's; the endpoints: see [`keys::PROXY_WATCHED`].)
    fn open_watches(&mut self, ctx: &mut Ctx) {
        for req in [Req::Pods, Req::Endpoints] {
            if self.pending.values().any(|r| *r == req) {
                continue;
            }
            let ((start, end), node) = if req == Req::Pods {
                (keys::range(keys::POD), Some(self.cfg.node))
            } else {
                (keys::PROXY_WATCHED, None)
            };
            let op = KvOp::Watch { start, end, node };
            self.send_within(ctx, req, op, WATCH_FIRST_EVENT_NS);
        }
    }

    /// Whether watch `id` has had its first event (it is established).
    fn watching(&self, id: u64) -> bool {
        self.watch_rev.iter().any(|(seen, _)| *seen == id)
    }

    /// A watch ended with an error: it is opened again after the reflector's back-off
    /// (`wait.BackoffUntil` around `ListAndWatch`).
    fn rewatch_later(&mut self, ctx: &mut Ctx) {
        if std::mem::replace(&mut self.watch_armed, true) {
            return;
        }
        let unit = rand::Rng::gen::<f64>(ctx.rng);
        let wait = self.watch_backoff.next(ctx.now, unit);
        ctx.timer(wait, KubeletTimer::Watch);
    }

    fn renew(&mut self, ctx: &mut Ctx) {
        self.renew_seq += 1;
        let write_id = self.write_id(ctx);
        self.send(
            ctx,
            Req::Lease,
            KvOp::Put {
                key: keys::key(keys::NODE_LEASE, self.cfg.node as u64),
                value: self.renew_seq,
                expected_rev: None,
                write_id,
            },
        );
    }

    /// The node lease controller (k8s.io/component-helpers/apimachinery/lease/controller.go): after a
    /// success the next renewal comes `renewInterval` later with 4% jitter; after a failure it retries
    /// with a back-off from 200 ms doubling to 7 s.
    fn lease_done(&mut self, ctx: &mut Ctx, ok: bool) {
        // onRepeatedHeartbeatFailure: from the second update in a row that fails, the kubelet closes
        // all its API connections (`closeAllConns`, k/k pkg/kubelet/kubelet.go; called from
        // retryUpdateLease in k8s.io/component-helpers/apimachinery/lease/controller.go), so the
        // next request is balanced afresh instead of waiting on a dead backend.
        self.lease_failures = if ok { 0 } else { self.lease_failures + 1 };
        if self.lease_failures == 2 {
            ctx.log(
                "controller.go: \"Failed to update lease\"; closing all connections (onRepeatedHeartbeatFailure)"
                    .into(),
            );
        }
        if self.lease_failures >= 2 {
            self.close_connection(ctx);
        }
        if ok && std::mem::take(&mut self.lease_phase_pending) {
            self.lease_backoff_ns = 0;
            let phase = rand::Rng::gen_range(ctx.rng, 1..=self.cfg.lease_renew_ns);
            ctx.timer(phase, KubeletTimer::Lease);
        } else if ok {
            self.lease_backoff_ns = 0;
            let jitter = crate::engine::ns_from_f64(
                rand::Rng::gen::<f64>(ctx.rng) * 0.04 * self.cfg.lease_renew_ns as f64,
            );
            ctx.timer(self.cfg.lease_renew_ns + jitter, KubeletTimer::Lease);
        } else {
            self.lease_backoff_ns =
                (self.lease_backoff_ns * 2).clamp(200 * crate::engine::MS, 7 * crate::engine::SEC);
            ctx.timer(self.lease_backoff_ns, KubeletTimer::Lease);
        }
    }

    fn post_status(&mut self, ctx: &mut Ctx) {
        self.status_seq += 1;
        let write_id = self.write_id(ctx);
        self.send(
            ctx,
            Req::Status,
            KvOp::Put {
                key: keys::key(keys::NODE_STATUS, self.cfg.node as u64),
                value: self.status_seq,
                expected_rev: None,
                write_id,
            },
        );
    }

    fn note_ready(&mut self, ctx: &mut Ctx) {
        let ready = self
            .running
            .values()
            .filter(|p| p.ready_at_ns <= ctx.now)
            .count();
        let ready = crate::engine::count32(ready);
        if ready != self.last_ready {
            self.last_ready = ready;
            ctx.trace(TraceKind::Pods {
                proc: ctx.me,
                ready,
            });
        }
    }

    /// Timers.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: KubeletTimer) {
        match t {
            KubeletTimer::Lease => self.renew(ctx),
            KubeletTimer::Status => {
                // The status itself does not change in the model (the node stays Ready while the
                // kubelet runs), so it is posted at start and then every nodeStatusReportFrequency.
                let due = self
                    .status_posted_ns
                    .is_none_or(|t| ctx.now >= t + self.cfg.status_report_ns);
                if due && !self.pending.values().any(|r| *r == Req::Status) {
                    self.post_status(ctx);
                }
                ctx.timer(self.cfg.status_update_ns, KubeletTimer::Status);
            }
            KubeletTimer::Watch => {
                self.watch_armed = false;
                self.open_watches(ctx);
            }
            KubeletTimer::Conn(t) => {
                let api = self.cfg.api;
                let ev = self
                    .conn
                    .on_timer::<KubeletTimer>(ctx, &mut self.ids, api, t);
                if ev == ConnEvent::Closed {
                    self.close_connection(ctx);
                }
            }
            KubeletTimer::ProxySync => {
                self.proxy_sync_armed = false;
                self.proxy_try_sync(ctx);
            }
            KubeletTimer::Probe { c, gen } => self.probe(ctx, usize::from(c), gen),
            KubeletTimer::ProbeTimeout { id } => {
                if let Some(c) = self.worker_probing(id) {
                    let why =
                        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)";
                    self.probed(ctx, c, id, false, why);
                }
            }
            KubeletTimer::Reconcile => {
                self.report_ready(ctx, true);
                ctx.timer(STATUS_RECONCILE_NS, KubeletTimer::Reconcile);
            }
            KubeletTimer::Ready => {
                self.note_ready(ctx);
                // The prober's result reaches the status manager at once, which writes it.
                self.report_ready(ctx, false);
            }
            // The timed-out request is dropped whatever it was; a lease renewal retries, and a
            // watch is opened again after the back-off.
            // An established watch's first-event deadline was cancelled; the plain engine still
            // fires it.
            KubeletTimer::Timeout { id } if self.watching(id) => {}
            KubeletTimer::Timeout { id } => match self.pending.remove(&id) {
                Some(Req::Lease) => self.lease_done(ctx, false),
                Some(Req::Pods | Req::Endpoints) => self.rewatch_later(ctx),
                _ => {}
            },
        }
    }

    /// API answers.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        let answer = match &msg {
            Msg::HealthResp { id, .. }
            | Msg::ConnRefused { id }
            | Msg::TlsFailed { id }
            | Msg::ProxyAccepted { id } => Some(*id),
            _ => None,
        };
        if let Some(c) = answer.and_then(|a| self.worker_probing(a)) {
            let container = self.cfg.probes[c].container;
            match msg {
                Msg::HealthResp { id, ok } => {
                    return self.probed(ctx, c, id, ok, container.failed_status());
                }
                Msg::ConnRefused { id } => {
                    let port = container.port();
                    let why = format!("dial tcp :{port}: connect: connection refused");
                    return self.probed(ctx, c, id, false, &why);
                }
                Msg::TlsFailed { id } => {
                    return self.probed(ctx, c, id, false, "remote error: tls");
                }
                Msg::ProxyAccepted { .. } => return,
                _ => {}
            }
        }
        match msg {
            Msg::ApiReq { id, op, conn, user } => {
                return self.relay_out(ctx, from, id, Some((op, user)), conn)
            }
            Msg::ApiPing { id, conn } => return self.relay_out(ctx, from, id, None, conn),
            Msg::ApiPong { id } if IdSpace::of(id) == IdSpace::Controllers => {
                if let Some((client, cid, _)) = self.relayed.remove(&id) {
                    ctx.send(client, Msg::ApiPong { id: cid });
                }
                return;
            }
            Msg::GoAway { id } if IdSpace::of(id) == IdSpace::Controllers => {
                if let Some(&(client, cid, conn)) = self.relayed.get(&id) {
                    if self.conntrack.get(&client).is_some_and(|c| c.0.same(&conn)) {
                        self.conntrack.remove(&client);
                    }
                    ctx.send(client, Msg::GoAway { id: cid });
                }
                return;
            }
            // Its own connection: the next request opens a new one. On an established watch it is
            // the server's clean end of it (a graceful stop): the watch opens again at once. A
            // watch that ends before its first event (HAProxy closing the connection for want of a
            // backend) is the reflector's "very short watch", an error: again after the back-off.
            Msg::GoAway { id } => {
                self.conn.close();
                if matches!(self.pending.get(&id), Some(Req::Pods | Req::Endpoints)) {
                    self.pending.remove(&id);
                    if self.watching(id) {
                        self.open_watches(ctx);
                    } else {
                        self.rewatch_later(ctx);
                    }
                }
                return;
            }
            Msg::WatchEvent { id, values, rev } if IdSpace::of(id) == IdSpace::Controllers => {
                if let Some(&(client, cid, _)) = self.relayed.get(&id) {
                    ctx.send(
                        client,
                        Msg::WatchEvent {
                            id: cid,
                            values,
                            rev,
                        },
                    );
                }
                return;
            }
            Msg::WatchEvent { id, values, rev } => {
                self.conn.read(ctx.now);
                let req = self.pending.get(&id).copied();
                let slot = match req {
                    Some(Req::Pods) => 0,
                    Some(Req::Endpoints) => 1,
                    _ => return,
                };
                ctx.cancel(KubeletTimer::Timeout { id });
                let seen = &mut self.watch_rev[slot];
                if seen.0 == id && seen.1 > rev {
                    return;
                }
                *seen = (id, rev);
                match req {
                    Some(Req::Pods) => self.pods_listed(ctx, &values),
                    Some(Req::Endpoints) => self.proxy_update(ctx, values),
                    _ => {}
                }
                return;
            }
            Msg::ApiPong { id } => {
                self.conn.pong(id, ctx.now);
                return;
            }
            Msg::ApiResp { id, result } if IdSpace::of(id) == IdSpace::Controllers => {
                if let Some((client, cid, _)) = self.relayed.remove(&id) {
                    ctx.send(client, Msg::ApiResp { id: cid, result });
                }
                return;
            }
            Msg::ConnRefused { id } if IdSpace::of(id) == IdSpace::Controllers => {
                // The API server's host reset the connection: so does the client's.
                if let Some((client, cid, conn)) = self.relayed.remove(&id) {
                    if self.conntrack.get(&client).is_some_and(|c| c.0.same(&conn)) {
                        self.conntrack.remove(&client);
                    }
                    ctx.send(client, Msg::ConnRefused { id: cid });
                }
                return;
            }
            // kube-proxy only translates addresses: the TLS session is the pod's own.
            Msg::TlsFailed { id } if IdSpace::of(id) == IdSpace::Controllers => {
                if let Some((client, cid, conn)) = self.relayed.remove(&id) {
                    if self.conntrack.get(&client).is_some_and(|c| c.0.same(&conn)) {
                        self.conntrack.remove(&client);
                    }
                    ctx.send(client, Msg::TlsFailed { id: cid });
                }
                return;
            }
            _ => {}
        }
        let Some((id, answer)) = msg.into_api_answer() else {
            return;
        };
        if answer.is_some() {
            self.conn.read(ctx.now);
        }
        let Some(req) = self.pending.remove(&id) else {
            if answer.is_none() {
                self.conn.close();
            }
            return;
        };
        if answer.is_none() {
            // A reset: the connection is gone, and every request on it with it (a watch that
            // was refused fails too).
            if matches!(req, Req::Pods | Req::Endpoints) {
                self.rewatch_later(ctx);
            } else {
                self.pending.insert(id, req);
            }
            self.close_connection(ctx);
            return;
        }
        ctx.cancel(KubeletTimer::Timeout { id });
        let result = answer.and_then(Result::ok);
        if req == Req::Status {
            if result.is_some() {
                self.status_posted_ns = Some(ctx.now);
            }
            return;
        }
        if req == Req::Lease {
            self.lease_done(ctx, result.is_some());
            return;
        }
        if let Req::PodStatus(uid) = req {
            if let (Some(KvResult::Written { rev, .. }), Some(p)) =
                (result, self.running.get_mut(&uid))
            {
                p.api_ready = true;
                p.rev = rev;
            }
            return;
        }
        if matches!(req, Req::Pods | Req::Endpoints) {
            // A watch answered: an error (no backend, a failed server), or its clean end.
            if result.is_some() {
                self.open_watches(ctx);
            } else {
                self.rewatch_later(ctx);
            }
        }
    }

    /// Its pods as the watch now shows them: start the new, stop the gone and terminating.
    fn pods_listed(&mut self, ctx: &mut Ctx, pods: &[crate::components::msg::KeyValue]) {
        let me = self.cfg.node;
        let mut desired: BTreeMap<u64, (u16, bool, u64, u64)> = BTreeMap::new();
        for kv in pods.iter() {
            let p = Pod::unpack(kv.value);
            if p.node == Some(me) {
                let uid = keys::id_of(kv.key);
                desired.insert(uid, (p.workload, p.terminating, kv.key, kv.mod_rev));
                if let Some(r) = self.running.get_mut(&uid) {
                    r.rev = kv.mod_rev;
                    r.api_ready = p.ready;
                }
            }
        }
        // Stop containers whose pods are gone or terminating; finish the deletion of terminating pods.
        let running: Vec<u64> = self.running.keys().copied().collect();
        for uid in running {
            let wanted = desired
                .get(&uid)
                .is_some_and(|(_, terminating, _, _)| !terminating);
            if !wanted {
                self.running.remove(&uid);
                self.serving_version += 1;
            }
        }
        for (uid, (workload, terminating, key, rev)) in desired {
            if terminating {
                let write_id = self.write_id(ctx);
                self.send(
                    ctx,
                    Req::Delete,
                    KvOp::Put {
                        key,
                        value: 0,
                        expected_rev: Some(rev),
                        write_id,
                    },
                );
            } else if !self.running.contains_key(&uid) {
                let ready_at_ns = ctx.now + self.cfg.pod_startup_ns;
                self.serving_version += 1;
                self.running.insert(
                    uid,
                    RunningPod {
                        workload,
                        ready_at_ns,
                        key,
                        rev,
                        api_ready: false,
                    },
                );
                ctx.timer_at(ready_at_ns, KubeletTimer::Ready);
            }
        }
        self.note_ready(ctx);
    }

    /// The status manager: writes Ready=True for pods whose containers are ready and whose stored
    /// condition is not. `reconcile` also rewrites pods it had already reported (someone else, the
    /// node lifecycle controller, set them not ready); otherwise only new transitions are written.
    fn report_ready(&mut self, ctx: &mut Ctx, reconcile: bool) {
        let me = self.cfg.node;
        let due: Vec<(u64, Pod, u64, u64)> = self
            .running
            .iter()
            .filter(|(uid, p)| {
                p.ready_at_ns <= ctx.now
                    && !p.api_ready
                    && (reconcile || p.ready_at_ns == ctx.now)
                    && !self.pending.values().any(|r| *r == Req::PodStatus(**uid))
            })
            .map(|(uid, p)| {
                let pod = Pod {
                    workload: p.workload,
                    node: Some(me),
                    terminating: false,
                    ready: true,
                };
                (*uid, pod, p.key, p.rev)
            })
            .collect();
        for (uid, pod, key, rev) in due {
            let write_id = self.write_id(ctx);
            self.send(
                ctx,
                Req::PodStatus(uid),
                KvOp::Put {
                    key,
                    value: pod.pack(),
                    expected_rev: Some(rev),
                    write_id,
                },
            );
        }
    }

    /// Closes the API connection: the requests waiting on it fail at once (a lease renewal is then
    /// retried with its back-off; the periodic ones go again on their next tick).
    /// The established watches fail with it and are opened again after the reflector's back-off. A
    /// watch still waiting for its first event is still dialling its own connection, which
    /// `closeAllConns` does not know yet (client-go's `connrotation.Dialer` tracks a connection
    /// once its dial returns), so it carries on.
    fn close_connection(&mut self, ctx: &mut Ctx) {
        self.conn.close();
        let lease = self.pending.values().any(|r| *r == Req::Lease);
        let established = self.watch_rev.map(|(id, _)| id);
        let mut watch_failed = false;
        self.pending.retain(|id, r| match r {
            Req::Pods | Req::Endpoints if !established.contains(id) => true,
            Req::Pods | Req::Endpoints => {
                watch_failed = true;
                false
            }
            _ => false,
        });
        if lease {
            self.lease_done(ctx, false);
        }
        if watch_failed {
            self.rewatch_later(ctx);
        }
    }

    /// kube-proxy's DNAT of an in-cluster client's packet to the `kubernetes` Service: an established
    /// connection keeps its API server (conntrack); a new one gets a random endpoint; none: REJECT.
    fn relay_out(
        &mut self,
        ctx: &mut Ctx,
        client: ProcId,
        id: u64,
        op: Option<(KvOp, ApiUser)>,
        conn: crate::components::msg::ConnId,
    ) {
        let to = match self.conntrack.get(&client) {
            Some(&(open, to)) if open.same(&conn) => Some(to),
            _ => {
                // A new connection: the old one's relayed requests are gone with it.
                self.relayed.retain(|_, r| r.0 != client || r.2.same(&conn));
                let live: Vec<ProcId> = self
                    .cfg
                    .apiservers
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| self.kube_api & (1 << (*i).min(62)) != 0)
                    .map(|(_, p)| *p)
                    .collect();
                if live.is_empty() || op.is_none() {
                    None
                } else {
                    let to = live[rand::Rng::gen_range(ctx.rng, 0..live.len())];
                    self.conntrack.insert(client, (conn, to));
                    Some(to)
                }
            }
        };
        let Some(to) = to else {
            ctx.send(client, Msg::ConnRefused { id });
            return;
        };
        let rid = self.relay_ids.next_id();
        self.relayed.insert(rid, (client, id, conn));
        let msg = match op {
            Some((op, user)) => Msg::ApiReq {
                id: rid,
                op,
                conn,
                user,
            },
            None => Msg::ApiPing { id: rid, conn },
        };
        ctx.send(to, msg);
    }

    /// kube-proxy: programs the listed endpoints as its rules.
    /// kube-proxy's endpoints watch sent a change: its sync runner applies it now, or at its next
    /// token, with every change that arrives meanwhile.
    fn proxy_update(
        &mut self,
        ctx: &mut Ctx,
        values: std::sync::Arc<[crate::components::msg::KeyValue]>,
    ) {
        self.proxy_pending = Some(values);
        if !self.proxy_sync_armed {
            self.proxy_try_sync(ctx);
        }
    }

    /// Syncs the pending endpoints if the token bucket has a token, or arms the timer for the next.
    fn proxy_try_sync(&mut self, ctx: &mut Ctx) {
        let refill = ctx.now.saturating_sub(self.proxy_budget_at);
        self.proxy_budget_ns = (self.proxy_budget_ns + refill).min(PROXY_BURST * PROXY_MIN_SYNC_NS);
        self.proxy_budget_at = ctx.now;
        if self.proxy_pending.is_none() {
            return;
        }
        if self.proxy_budget_ns < PROXY_MIN_SYNC_NS {
            self.proxy_sync_armed = true;
            ctx.timer(
                PROXY_MIN_SYNC_NS - self.proxy_budget_ns,
                KubeletTimer::ProxySync,
            );
            return;
        }
        self.proxy_budget_ns -= PROXY_MIN_SYNC_NS;
        if let Some(values) = self.proxy_pending.take() {
            self.program_proxy(ctx, values);
        }
    }

    fn program_proxy(
        &mut self,
        ctx: &mut Ctx,
        shared: std::sync::Arc<[crate::components::msg::KeyValue]>,
    ) {
        // The same shared answer as last time (no write landed in the range since, so etcd handed
        // out the same list): nothing to compare or program.
        if self.proxy_synced
            && self
                .proxy_listed
                .as_ref()
                .is_some_and(|l| std::sync::Arc::ptr_eq(l, &shared))
        {
            return;
        }
        let view = proxy_view(&shared);
        self.kube_api = view.kube_api;
        // Compared before anything is programmed: most lists return what is already programmed,
        // and then, in steady state, as the very table this kube-proxy holds.
        let same = std::sync::Arc::ptr_eq(&view.table, &self.proxy) || view.table == self.proxy;
        // The same rules under another name are held as the shared table, so that the next
        // comparison is of pointers.
        self.proxy = view.table.clone();
        if !same || !self.proxy_synced {
            self.proxy_synced = true;
            self.proxy_fp = view.fp;
            ctx.trace(TraceKind::ProxyEndpoints {
                proc: ctx.me,
                endpoints: crate::engine::count32(self.proxy.len()),
            });
        }
        self.proxy_listed = Some(shared);
    }
}

/// What kube-proxy derives from one endpoints answer: the `kubernetes` Service's API servers, the
/// workloads' endpoint table and its fingerprint.
struct ProxyView {
    kube_api: u64,
    table: std::sync::Arc<[(u64, EndpointObj)]>,
    fp: u64,
}

thread_local! {
    /// The last few answers [`proxy_view`] derived from (newest last), and what it derived. Each
    /// etcd member shares one answer until a write lands in its range, so a thousand workers derive
    /// it once instead of a thousand times; and an answer whose table equals the previous one
    /// (only an API server's lease moved) shares that table, so each kube-proxy compares a
    /// pointer. A cache of a pure function of the answer, holding the answer so that its address
    /// is not reused: what each kube-proxy programs is the same with or without it.
    static PROXY_VIEW: std::cell::RefCell<Vec<(SharedAnswer, std::sync::Arc<ProxyView>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// An answer as etcd shares it among its readers.
type SharedAnswer = std::sync::Arc<[crate::components::msg::KeyValue]>;

/// [`ProxyView`] of an endpoints answer (see [`PROXY_VIEW`]).
fn proxy_view(
    shared: &std::sync::Arc<[crate::components::msg::KeyValue]>,
) -> std::sync::Arc<ProxyView> {
    PROXY_VIEW.with(|memo| {
        let mut memo = memo.borrow_mut();
        if let Some((_, view)) = memo
            .iter()
            .find(|(of, _)| std::sync::Arc::ptr_eq(of, shared))
        {
            return view.clone();
        }
        let listed = &**shared;
        let kube_api = listed
            .iter()
            .rev()
            .find(|kv| keys::kind_of(kv.key) == keys::API_ENDPOINTS)
            .map_or(0, |kv| {
                kv.value & !crate::components::apiserver::API_ENDPOINTS_PRESENT
            });
        let split = listed.partition_point(|kv| keys::kind_of(kv.key) == keys::ENDPOINT);
        let eps = &listed[..split];
        let previous = memo.last().map(|(_, v)| v.clone());
        let view = match previous {
            Some(p)
                if p.table.len() == eps.len()
                    && eps.iter().zip(p.table.iter()).all(|(kv, (uid, e))| {
                        keys::id_of(kv.key) == *uid && kv.value == e.pack()
                    }) =>
            {
                ProxyView {
                    kube_api,
                    table: p.table.clone(),
                    fp: p.fp,
                }
            }
            _ => {
                let table: std::sync::Arc<[(u64, EndpointObj)]> = eps
                    .iter()
                    .map(|kv| (keys::id_of(kv.key), EndpointObj::unpack(kv.value)))
                    .collect();
                let fp = table.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, (uid, e)| {
                    [*uid, e.pack()]
                        .iter()
                        .fold(h, |h, x| (h ^ x).wrapping_mul(0x0100_0000_01b3))
                });
                ProxyView {
                    kube_api,
                    table,
                    fp,
                }
            }
        };
        let view = std::sync::Arc::new(view);
        // One answer per etcd member is current at a time; a few more cover the moments when
        // a write has reached some members and not others.
        const KEPT: usize = 8;
        if memo.len() == KEPT {
            memo.remove(0);
        }
        memo.push((shared.clone(), view.clone()));
        view
    })
}

#[cfg(test)]
mod tests {
    use super::{proxy_view, SharedAnswer};
    use super::{ContainerProbe, Kubelet, KubeletConfig, KubeletTimer, ProbedContainer};
    use crate::components::ctx::{Ctx, Out, Timer};
    use crate::components::msg::Msg;
    use crate::engine::rng::stream;
    use crate::scenario::model::HealthPath;

    const API: u16 = 7;

    fn prober_kubelet() -> Kubelet {
        Kubelet::new(KubeletConfig {
            node: 0,
            api: API,
            lease_renew_ns: 10,
            pod_startup_ns: 1,
            request_timeout_ns: 10,
            status_update_ns: 10,
            status_report_ns: 10,
            apiservers: vec![API],
            probes: vec![ContainerProbe {
                container: ProbedContainer::ApiServer,
                target: API,
                initial_delay_ns: 10,
                period_ns: 10,
                timeout_ns: 15,
                failure_threshold: 8,
                startup_failure_threshold: 24,
            }],
        })
    }

    /// What `f` hands the world, run on a context at time 1.
    fn outputs(f: impl FnOnce(&mut Ctx)) -> Vec<Out> {
        let mut rng = stream(1, 1);
        let mut out = Vec::new();
        f(&mut Ctx {
            now: 1,
            me: 3,
            rng: &mut rng,
            out: &mut out,
            quiet_ok: false,
        });
        out
    }

    /// The probe timer among `out`.
    fn probe_timer(out: &[Out]) -> Option<KubeletTimer> {
        out.iter().find_map(|o| match o {
            Out::Timer {
                timer: Timer::Kubelet(t @ KubeletTimer::Probe { .. }),
                ..
            } => Some(*t),
            _ => None,
        })
    }

    /// Runs one prober tick, answers its probe with `ok`, and returns the probe timer to fire next
    /// and whether the kubelet asked for the container to be killed.
    fn tick(k: &mut Kubelet, timer: KubeletTimer, ok: bool) -> (Option<KubeletTimer>, bool) {
        let out = outputs(|ctx| {
            k.on_timer(ctx, timer);
            let id = ctx.out.iter().find_map(|o| match o {
                Out::Send {
                    to: API,
                    msg: Msg::HealthReq { id, .. },
                } => Some(*id),
                _ => None,
            });
            if let Some(id) = id {
                k.on_msg(ctx, API, Msg::HealthResp { id, ok });
            }
        });
        let kill = out.iter().any(|o| matches!(o, Out::Kill(API)));
        (probe_timer(&out), kill)
    }

    /// Failures in a row until the kubelet kills the container, starting from `timer`.
    fn failures_to_kill(k: &mut Kubelet, mut timer: KubeletTimer) -> u32 {
        for n in 1..=100 {
            let (next, kill) = tick(k, timer, false);
            if kill {
                return n;
            }
            timer = next.expect("the prober keeps ticking");
        }
        panic!("never killed");
    }

    /// kubeadm's probes: a started container gets the startup probe (24 failures) until one probe
    /// passes, then the liveness probe (8); a kill stops the worker until the runtime reports the
    /// container started again.
    #[test]
    fn the_startup_probe_allows_24_failures_and_liveness_8() {
        let mut k = prober_kubelet();
        let out = outputs(|ctx| k.container_started(ctx, API));
        // The first probe comes the initial delay after the start.
        assert!(matches!(out[..], [Out::Timer { at: 11, .. }]), "{out:?}");
        let first = probe_timer(&out).expect("a probe timer");
        assert_eq!(failures_to_kill(&mut k, first), 24);
        // The killed container's worker is stopped: its ticker does nothing.
        assert_eq!(tick(&mut k, first, false), (None, false));
        // Started again: one success ends the startup probe, then 8 failures kill.
        let again =
            probe_timer(&outputs(|ctx| k.container_started(ctx, API))).expect("a probe timer");
        let (next, kill) = tick(&mut k, again, true);
        assert!(!kill);
        assert_eq!(failures_to_kill(&mut k, next.expect("ticking")), 8);
    }

    /// The probe the kubelet sends to `to` when `timer` fires, with its id and path.
    fn probe_sent(k: &mut Kubelet, timer: KubeletTimer, to: u16) -> (u64, HealthPath, Vec<Out>) {
        let out = outputs(|ctx| k.on_timer(ctx, timer));
        let (id, path) = out
            .iter()
            .find_map(|o| match o {
                Out::Send {
                    to: t,
                    msg: Msg::HealthReq { id, path },
                } if *t == to => Some((*id, *path)),
                _ => None,
            })
            .expect("a probe sent");
        (id, path, out)
    }

    /// kubeadm's etcd manifest: the startup probe GETs `/readyz` (which needs quorum), liveness
    /// `/livez` (which does not); the API server's probes beside it keep their own worker.
    #[test]
    fn the_etcd_startup_probe_gets_readyz_and_liveness_livez() {
        const ETCD: u16 = 5;
        let mut k = prober_kubelet();
        let api = k.cfg.probes[0];
        k.cfg.probes.push(ContainerProbe {
            container: ProbedContainer::Etcd,
            target: ETCD,
            ..api
        });
        k.probers.push(super::Prober::default());
        let first =
            probe_timer(&outputs(|ctx| k.container_started(ctx, ETCD))).expect("a probe timer");
        assert!(
            matches!(first, KubeletTimer::Probe { c: 1, .. }),
            "{first:?}"
        );
        let (id, path, out) = probe_sent(&mut k, first, ETCD);
        assert_eq!(path, HealthPath::Readyz);
        let next = probe_timer(&out).expect("ticking");
        // A failure counts against etcd's worker only; a pass ends its startup probe.
        let failed = outputs(|ctx| k.on_msg(ctx, ETCD, Msg::HealthResp { id, ok: false }));
        assert!(failed.iter().any(|o| matches!(o, Out::Trace(crate::observe::TraceKind::Log { text, .. }) if text.contains("containerName=\"etcd\"") && text.contains("statuscode: 503"))), "{failed:?}");
        assert_eq!((k.probers[1].failures, k.probers[0].failures), (1, 0));
        let (id, path, out) = probe_sent(&mut k, next, ETCD);
        assert_eq!(path, HealthPath::Readyz);
        outputs(|ctx| k.on_msg(ctx, ETCD, Msg::HealthResp { id, ok: true }));
        let (_, path, _) = probe_sent(&mut k, probe_timer(&out).expect("ticking"), ETCD);
        assert_eq!(path, HealthPath::Livez);
    }

    use crate::components::apiserver::API_ENDPOINTS_PRESENT;
    use crate::components::msg::{keys, KeyValue};
    use crate::components::objects::EndpointObj;

    fn answer(eps: &[(u64, u16, u64)], lease_rev: u64, api: u64) -> SharedAnswer {
        let mut v: Vec<KeyValue> = eps
            .iter()
            .map(|&(uid, node, mod_rev)| KeyValue {
                key: keys::key(keys::ENDPOINT, uid),
                value: EndpointObj { workload: 0, node }.pack(),
                mod_rev,
            })
            .collect();
        v.push(KeyValue {
            key: keys::key(keys::MASTER_LEASE, 0),
            value: 1,
            mod_rev: lease_rev,
        });
        v.push(KeyValue {
            key: keys::key(keys::API_ENDPOINTS, 0),
            value: api | API_ENDPOINTS_PRESENT,
            mod_rev: 3,
        });
        v.into()
    }

    #[test]
    fn proxy_view_derives_the_answer_and_shares_unchanged_tables() {
        let a = answer(&[(1, 4, 10), (2, 5, 11)], 20, 0b101);
        let va = proxy_view(&a);
        assert_eq!(va.kube_api, 0b101);
        let uids: Vec<(u64, u16)> = va.table.iter().map(|(u, e)| (*u, e.node)).collect();
        assert_eq!(uids, vec![(1, 4), (2, 5)]);
        // The same answer again: the very view.
        assert!(std::sync::Arc::ptr_eq(&proxy_view(&a), &va));
        // Only the API server's lease moved: another answer, the same table.
        let b = answer(&[(1, 4, 10), (2, 5, 11)], 30, 0b101);
        let vb = proxy_view(&b);
        assert!(std::sync::Arc::ptr_eq(&vb.table, &va.table));
        assert_eq!(vb.fp, va.fp);
        // An endpoint moved: a new table and fingerprint.
        let c = answer(&[(1, 4, 10), (2, 6, 31)], 30, 0b101);
        let vc = proxy_view(&c);
        assert!(!std::sync::Arc::ptr_eq(&vc.table, &va.table));
        assert_eq!(vc.table[1].1.node, 6);
        assert_ne!(vc.fp, va.fp);
        // The older answer is still remembered, with its own table.
        assert!(std::sync::Arc::ptr_eq(&proxy_view(&a).table, &va.table));
    }
}
