//! The scenario file format (CONTRACT.md). Every field but `name`, `duration` and `topology` has a default,
//! and the defaults are the real components' defaults (cited per field from FACTS.md's sources).

use crate::engine::{parse_duration, Nanos, MS, SEC, US};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written with a unit in the file (`"100ms"`, `"1m30s"`); a bare number is rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Nanos);

impl Dur {
    /// The duration in nanoseconds.
    pub fn ns(self) -> Nanos {
        self.0
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration string with a unit (ns, us, ms, s, m, h), e.g. \"10s\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Dur, E> {
                parse_duration(v).map(Dur).map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "{v} has no unit; durations are strings with one of ns, us, ms, s, m, h (e.g. \"{v}s\")"
                )))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "{v} has no unit; durations are strings with one of ns, us, ms, s, m, h (e.g. \"{v}s\")"
                )))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "{v} has no unit; durations are strings with one of ns, us, ms, s, m, h (e.g. \"{v}s\")"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::engine::fmt_duration_exact(self.0))
    }
}

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub duration: Dur,
    pub topology: Topology,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub load: Load,
    #[serde(default)]
    pub workloads: Vec<Workload>,
    #[serde(default)]
    pub faults: Vec<Fault>,
    #[serde(default)]
    pub expect: Vec<Expectation>,
    /// Questions for `kube-ha-sim exercise` (training); the run itself ignores them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exercises: Vec<super::training::Exercise>,
}

fn default_seed() -> u64 {
    1
}

pub use crate::topology::{EtcdTopology, LoadBalancerPlacement};

/// The cluster's shape.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub etcd: EtcdTopology,
    pub control_plane_nodes: u32,
    #[serde(default)]
    pub etcd_nodes: u32,
    #[serde(default)]
    pub workers: u32,
    #[serde(default = "default_zones")]
    pub zones: Vec<String>,
    /// How many load balancers; unset means 1 on their own nodes, and one per control-plane node with
    /// `load_balancer_placement` "control-plane" (see [`Topology::load_balancer_count`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancers: Option<u32>,
    /// Where HAProxy and keepalived run. Default "separate" (their own `lb-N` nodes, kubeadm's
    /// "Option 1: Run the services on the operating system", "if they will be running on dedicated
    /// hosts"); "control-plane" is its "Option 2: Run the services as static pods" on the control-plane
    /// hosts (kubernetes/kubeadm docs/ha-considerations.md).
    #[serde(default)]
    pub load_balancer_placement: LoadBalancerPlacement,
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
}

impl Topology {
    /// The number of load balancers the file asks for, with the default filled in: 1 on their own
    /// nodes (one HAProxy, no VIP), and on the control-plane nodes one per node, as kubeadm's static-pod
    /// option puts one in every control-plane node's manifests. Validation rejects any other explicit
    /// count with control-plane placement.
    pub fn load_balancer_count(&self) -> u32 {
        match (self.load_balancers, self.load_balancer_placement) {
            (Some(n), _) => n,
            (None, LoadBalancerPlacement::Separate) => 1,
            (None, LoadBalancerPlacement::ControlPlane) => self.control_plane_nodes,
        }
    }
}

fn default_zones() -> Vec<String> {
    vec!["a".into()]
}
fn default_endpoint() -> String {
    "load-balancer".into()
}

/// Per-component overrides; every default is the real component's default.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub etcd: EtcdSettings,
    #[serde(default)]
    pub kube_apiserver: ApiServerSettings,
    #[serde(default)]
    pub leader_election: LeaderElectionSettings,
    #[serde(default)]
    pub load_balancer: LoadBalancerSettings,
    #[serde(default)]
    pub kubelet: KubeletSettings,
    #[serde(default)]
    pub node_lifecycle: NodeLifecycleSettings,
    #[serde(default)]
    pub network: NetworkSettings,
    #[serde(default)]
    pub nodes: NodeSettings,
    #[serde(default)]
    pub engine: EngineSettings,
}

/// etcd flags (etcd-io/website content/en/docs/v3.5/op-guide/configuration.md).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EtcdSettings {
    /// `--heartbeat-interval`, 100 ms.
    pub heartbeat_interval: Dur,
    /// `--election-timeout`, 1000 ms.
    pub election_timeout: Dur,
    /// `--pre-vote`, true since v3.5 (etcd PR #12770).
    pub pre_vote: bool,
    /// Check-quorum, always on in etcd (server/etcdserver/bootstrap.go).
    pub check_quorum: bool,
    /// `--initial-election-tick-advance`, true: a (re)started member fast-forwards its election ticks.
    pub initial_election_tick_advance: bool,
    /// WAL fsync latency of a healthy disk. 1 ms: etcd op-guide/performance.md, "for SSDs, the
    /// [fdatasync] latency is often lower than 1ms" (its hardware guide asks for a p99 under 10 ms).
    pub fsync_latency: Dur,
    /// Server-side request timeout: 5 s + 2 x election timeout (etcd server/config/config.go) unless set.
    pub request_timeout: Option<Dur>,
    /// `--snapshot-count`: a snapshot of the store once more than this many entries were applied
    /// since the last one, after which the in-memory log is compacted. 10000: kubeadm sets
    /// `--snapshot-count=10000`, and it is etcd's default since v3.6 (`DefaultSnapshotCount`, etcd
    /// server/etcdserver/server.go; 100000 in v3.5) (FACTS.md, "etcd snapshots").
    pub snapshot_count: u64,
    /// `--snapshot-catchup-entries` (`--experimental-snapshot-catchup-entries` from v3.5.14): entries
    /// kept before each snapshot so that a slow follower can catch up from the log rather than by a
    /// snapshot; 5000 (`DefaultSnapshotCatchUpEntries`, etcd server/etcdserver/server.go).
    pub snapshot_catchup_entries: u64,
    /// `--quota-backend-bytes`: 2 GiB (etcd server/storage/quota.go `DefaultQuotaBytes`; 8 GiB is the
    /// suggested maximum, op-guide/maintenance.md). Past it the NOSPACE alarm refuses every Put.
    pub quota_backend_bytes: u64,
    /// What one revision of an object adds to the database: 1 KiB, a modelling choice (a Lease is about
    /// 300 bytes, a Pod a few KiB); with 5-10 minutes of history kept by kube-apiserver's compaction.
    /// Also the size of a write's Raft entry, for `peer_bandwidth_bytes_per_s`.
    pub bytes_per_revision: u64,
    /// The member's cores: 4, the top of "typical clusters need two to four cores to run smoothly"
    /// (etcd op-guide/hardware.md, "CPUs"), the same node size as the API server's default.
    pub cores: u32,
    /// CPU a linearizable or serializable read (a Get or a Range, whatever its size) takes on the
    /// member that serves it: 40 us, a modelling choice bounded by etcd's benchmark, 185,000
    /// serializable reads a second on 8 vCPUs (op-guide/performance.md) being at most 43 us a read.
    pub cpu_per_read: Dur,
    /// CPU applying a write takes on every member (the leader's proposal and replication and the
    /// client's gRPC handling folded in): 150 us, a modelling choice bounded by the same benchmark,
    /// 44,000-50,000 writes a second on 8 vCPUs being at most 160 us a write.
    pub cpu_per_write: Dur,
    /// The leader's bandwidth to each follower: append entries take their size
    /// (`bytes_per_revision` a write) over this, one after another per link. 125,000,000 (1 Gbit/s):
    /// "1GbE is sufficient for common etcd deployments" (op-guide/hardware.md, "Network"). A modelling choice for the link; snapshots stream at
    /// their own 10 MB/s.
    pub peer_bandwidth_bytes_per_s: u64,
}

impl Default for EtcdSettings {
    fn default() -> Self {
        EtcdSettings {
            heartbeat_interval: Dur(100 * MS),
            election_timeout: Dur(1000 * MS),
            pre_vote: true,
            check_quorum: true,
            initial_election_tick_advance: true,
            // With `zone_latency` below this gives the op-guide's benchmark figure: one client writing to
            // the leader of 3 members, 1.6 ms a write (etcd op-guide/performance.md).
            fsync_latency: Dur(MS),
            request_timeout: None,
            snapshot_count: 10_000,
            snapshot_catchup_entries: 5_000,
            quota_backend_bytes: 2 << 30,
            bytes_per_revision: 1024,
            cores: 4,
            cpu_per_read: Dur(40 * crate::engine::US),
            cpu_per_write: Dur(150 * crate::engine::US),
            peer_bandwidth_bytes_per_s: 125_000_000,
        }
    }
}

impl EtcdSettings {
    /// The effective server-side request timeout.
    pub fn effective_request_timeout(&self) -> Nanos {
        self.request_timeout
            .map(|d| d.ns())
            .unwrap_or(5 * SEC + 2 * self.election_timeout.ns())
    }
}

/// kube-apiserver flags (kubernetes/website command-line-tools-reference/kube-apiserver.md).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiServerSettings {
    /// `--request-timeout`, 1m.
    pub request_timeout: Dur,
    /// `--etcd-healthcheck-timeout`, 2s.
    pub etcd_healthcheck_timeout: Dur,
    /// `--etcd-readycheck-timeout`, 2s.
    pub etcd_readycheck_timeout: Dur,
    /// `--shutdown-delay-duration`, 0s.
    pub shutdown_delay_duration: Dur,
    /// etcd client dial timeout, 20s (k8s.io/apiserver storagebackend/factory/etcd3.go).
    pub etcd_dial_timeout: Dur,
    /// etcd client keepalive time, 30s (same file).
    pub etcd_keepalive_time: Dur,
    /// etcd client keepalive timeout, 10s (same file).
    pub etcd_keepalive_timeout: Dur,
    /// Time from process start until the API server serves (static pod start-up).
    pub startup_time: Dur,
    /// `--goaway-chance`, 0 (off): the chance that a request's response also closes its HTTP/2
    /// connection (GOAWAY), so that long-lived clients are rebalanced; at most 0.02 (k/k PR #88567).
    pub goaway_chance: f64,
    /// `--max-requests-inflight`, 400 (k8s.io/apiserver pkg/server/options/server_run_options.go).
    pub max_requests_inflight: u32,
    /// `--max-mutating-requests-inflight`, 200 (same file). With APF the two are summed into its
    /// concurrency limit (600 seats shared by the priority levels).
    pub max_mutating_requests_inflight: u32,
    /// `--enable-priority-and-fairness`, true (same file); false: the max-in-flight filter.
    pub enable_priority_and_fairness: bool,
    /// The API server's cores (4: a common control-plane node size; kubeadm's minimum is 2 CPUs).
    pub cores: u32,
    /// CPU a GET takes in the API server (authn, authz, admission, decode, encode; not the etcd round
    /// trip): 1 ms, the order that kube-apiserver's CPU profiles at a few thousand requests a second
    /// per core-second show; a modelling choice, not an upstream constant.
    pub cpu_per_get: Dur,
    /// CPU a write takes: 2 ms (admission chains, conversion, validation, both encodings), twice a GET.
    pub cpu_per_write: Dur,
    /// CPU each object of a LIST adds to a GET's: 20 us (serialization).
    pub cpu_per_list_object: Dur,
}

impl Default for ApiServerSettings {
    fn default() -> Self {
        ApiServerSettings {
            request_timeout: Dur(60 * SEC),
            etcd_healthcheck_timeout: Dur(2 * SEC),
            etcd_readycheck_timeout: Dur(2 * SEC),
            shutdown_delay_duration: Dur(0),
            etcd_dial_timeout: Dur(20 * SEC),
            etcd_keepalive_time: Dur(30 * SEC),
            etcd_keepalive_timeout: Dur(10 * SEC),
            startup_time: Dur(5 * SEC),
            goaway_chance: 0.0,
            max_requests_inflight: 400,
            max_mutating_requests_inflight: 200,
            enable_priority_and_fairness: true,
            cores: 4,
            cpu_per_get: Dur(MS),
            cpu_per_write: Dur(2 * MS),
            cpu_per_list_object: Dur(20 * crate::engine::US),
        }
    }
}

/// Where kube-controller-manager and kube-scheduler send their API requests.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ApiEndpoint {
    /// Their own node's API server, as kubeadm configures them.
    Local,
    /// The cluster endpoint (load balancer / VIP).
    LoadBalancer,
}

/// client-go leader election (k/k staging/src/k8s.io/component-base/config/v1alpha1/defaults.go).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaderElectionSettings {
    /// `--leader-elect`, true.
    pub enabled: bool,
    /// `--leader-elect-lease-duration`, 15s.
    pub lease_duration: Dur,
    /// `--leader-elect-renew-deadline`, 10s.
    pub renew_deadline: Dur,
    /// `--leader-elect-retry-period`, 2s.
    pub retry_period: Dur,
    /// `local` (kubeadm) or `load-balancer`.
    pub api_endpoint: ApiEndpoint,
    /// Whether a graceful stop releases the lease (client-go ReleaseOnCancel). Applies to
    /// kube-scheduler only: kube-controller-manager never sets it, so its lease always runs out.
    pub release_on_cancel: bool,
}

impl LeaderElectionSettings {
    /// Whether a leader may act past its lease: client-go's renew loop (tools/leaderelection
    /// leaderelection.go `renew`: `wait.Until(.., RetryPeriod)` around a `PollImmediateUntil` bounded by
    /// `RenewDeadline`) gives up only `RetryPeriod + RenewDeadline` after the last successful renewal,
    /// while a candidate may take over `LeaseDuration` after it observed that renewal.
    pub fn allows_lease_overrun(&self) -> bool {
        self.retry_period
            .ns()
            .saturating_add(self.renew_deadline.ns())
            > self.lease_duration.ns()
    }
}

impl Default for LeaderElectionSettings {
    fn default() -> Self {
        LeaderElectionSettings {
            enabled: true,
            lease_duration: Dur(15 * SEC),
            renew_deadline: Dur(10 * SEC),
            retry_period: Dur(2 * SEC),
            api_endpoint: ApiEndpoint::Local,
            release_on_cancel: true,
        }
    }
}

/// Health endpoints of kube-apiserver: the paths a load balancer may check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum HealthPath {
    /// `/healthz`: deprecated, kept for compatibility (kubeadm's HAProxy example checks it): the
    /// health checks, without the shutdown check.
    #[serde(rename = "/healthz")]
    Healthz,
    /// `/livez`: liveness: the health checks (the `etcd` check among them, as in `/healthz`: k8s.io/apiserver
    /// options/etcd.go adds it with `AddHealthChecks`), without the shutdown check, so it passes during a
    /// graceful shutdown.
    #[serde(rename = "/livez")]
    Livez,
    /// `/readyz`: readiness: the health checks, then `etcd-readiness` (`--etcd-readycheck-timeout`,
    /// k/k PR #111399), then `shutdown`, which fails from SIGTERM on (k8s.io/apiserver
    /// pkg/server/healthz.go addReadyzShutdownCheck).
    #[serde(rename = "/readyz")]
    Readyz,
}

impl HealthPath {
    /// Every health endpoint, for "allowed: ..." lists.
    pub const ALL: [HealthPath; 3] = [HealthPath::Healthz, HealthPath::Readyz, HealthPath::Livez];

    /// The HTTP path.
    pub fn path(self) -> &'static str {
        match self {
            HealthPath::Healthz => "/healthz",
            HealthPath::Livez => "/livez",
            HealthPath::Readyz => "/readyz",
        }
    }
}

/// HAProxy and keepalived (haproxy include/haproxy/defaults.h; kubeadm docs/ha-considerations.md).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadBalancerSettings {
    /// Health-check path (kubeadm's example: `GET /healthz`): `/healthz`, `/readyz` or `/livez`.
    pub check_path: HealthPath,
    /// `inter`, 2000 ms.
    pub check_interval: Dur,
    /// `fall`, 3.
    pub fall: u32,
    /// `rise`, 2.
    pub rise: u32,
    /// `timeout check`, 10s (kubeadm's example).
    pub check_timeout: Dur,
    /// `timeout connect`, 5s (kubeadm's example).
    pub connect_timeout: Dur,
    /// `retries`, 1 in kubeadm's example (HAProxy's own default is 3).
    pub retries: u32,
    /// `option redispatch` (kubeadm's example sets it).
    pub redispatch: bool,
    /// keepalived `advert_int`, 1s.
    pub vrrp_advert_interval: Dur,
    /// keepalived priorities of lb-1, lb-2, ... (or cp-1, cp-2, ... with the load balancers on the
    /// control-plane nodes; kubeadm's example: 101 for the first, 100 for the rest).
    pub vrrp_priorities: Vec<u32>,
    /// kubeadm's `vrrp_script check_apiserver` interval, 3s.
    pub vrrp_script_interval: Dur,
    /// kubeadm's vrrp_script fall, 10.
    pub vrrp_script_fall: u32,
    /// kubeadm's vrrp_script rise, 2.
    pub vrrp_script_rise: u32,
    /// kubeadm's vrrp_script weight, -2: added to the priority while the script fails (a positive
    /// weight: while it succeeds); 0 puts the instance in FAULT while it fails (keepalived.conf(5)).
    pub vrrp_script_weight: i32,
}

impl Default for LoadBalancerSettings {
    fn default() -> Self {
        LoadBalancerSettings {
            check_path: HealthPath::Healthz,
            check_interval: Dur(2 * SEC),
            fall: 3,
            rise: 2,
            check_timeout: Dur(10 * SEC),
            connect_timeout: Dur(5 * SEC),
            retries: 1,
            redispatch: true,
            vrrp_advert_interval: Dur(SEC),
            vrrp_priorities: vec![101, 100],
            vrrp_script_interval: Dur(3 * SEC),
            vrrp_script_fall: 10,
            vrrp_script_rise: 2,
            vrrp_script_weight: -2,
        }
    }
}

/// kubelet (k/k pkg/kubelet/apis/config/v1beta1/defaults.go).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubeletSettings {
    /// `nodeStatusUpdateFrequency`, 10s.
    pub node_status_update_frequency: Dur,
    /// `nodeLeaseDurationSeconds`, 40s; renewed every 0.25 x duration.
    pub node_lease_duration: Dur,
    /// `maxPods`, 110.
    pub max_pods: u32,
    /// Time from binding to a pod being ready (image present, container start, readiness probe).
    pub pod_startup_time: Dur,
    /// Container restart back-off: initial 10s, doubling, capped at 5m (k/k pkg/kubelet/kubelet.go).
    pub restart_backoff_initial: Dur,
    /// Cap of the container restart back-off.
    pub restart_backoff_max: Dur,
    /// kubeadm's liveness and startup probes of the kube-apiserver static pod (`/livez`, which
    /// runs the `etcd` check): on. Off: the kubelet never restarts a running API server.
    pub apiserver_liveness_probe: bool,
    /// kubeadm's probes of a stacked etcd member's static pod (k/k cmd/kubeadm/app/phases/etcd/
    /// local.go): liveness `/livez` (a serializable read: no quorum needed), startup `/readyz` (a
    /// linearizable read: a member started without quorum is killed after 24 failures). On.
    pub etcd_probes: bool,
    /// kubeadm's liveness and startup probes of kube-controller-manager and kube-scheduler
    /// (`/healthz` on 10257 and 10259): a process paused past the failure threshold is killed and
    /// restarted. On.
    pub controller_probes: bool,
    /// The probes' `periodSeconds`, 10s (kubeadm staticpod/utils.go `LivenessProbe`).
    pub liveness_period: Dur,
    /// The liveness probe's `failureThreshold`, 8 (same; the startup probe's is 24).
    pub liveness_failure_threshold: u32,
}

impl Default for KubeletSettings {
    fn default() -> Self {
        KubeletSettings {
            node_status_update_frequency: Dur(10 * SEC),
            node_lease_duration: Dur(40 * SEC),
            max_pods: 110,
            pod_startup_time: Dur(5 * SEC),
            restart_backoff_initial: Dur(10 * SEC),
            restart_backoff_max: Dur(300 * SEC),
            apiserver_liveness_probe: true,
            etcd_probes: true,
            controller_probes: true,
            liveness_period: Dur(10 * SEC),
            liveness_failure_threshold: 8,
        }
    }
}

/// kube-controller-manager node lifecycle (k/k cmd/kube-controller-manager/app/options/nodelifecyclecontroller.go).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeLifecycleSettings {
    /// `--node-monitor-period`, 5s.
    pub node_monitor_period: Dur,
    /// `--node-monitor-grace-period`, 50s since v1.32 (40s before; k/k PR #126287).
    pub node_monitor_grace_period: Dur,
    /// `--node-startup-grace-period`, 1m.
    pub node_startup_grace_period: Dur,
    /// `--node-eviction-rate`, 0.1 nodes/s.
    pub node_eviction_rate: f64,
    /// `--secondary-node-eviction-rate`, 0.01 nodes/s.
    pub secondary_node_eviction_rate: f64,
    /// `--unhealthy-zone-threshold`, 0.55.
    pub unhealthy_zone_threshold: f64,
    /// `--large-cluster-size-threshold`, 50.
    pub large_cluster_size_threshold: u32,
    /// DefaultTolerationSeconds admission: 300s for not-ready and unreachable.
    pub default_toleration: Dur,
    /// Label control-plane nodes `node.kubernetes.io/exclude-disruption` so that they do not count in
    /// zone disruption states (off by default, as kubeadm does not set it).
    pub exclude_control_plane_from_disruption: bool,
}

impl Default for NodeLifecycleSettings {
    fn default() -> Self {
        NodeLifecycleSettings {
            node_monitor_period: Dur(5 * SEC),
            node_monitor_grace_period: Dur(50 * SEC),
            node_startup_grace_period: Dur(60 * SEC),
            node_eviction_rate: 0.1,
            secondary_node_eviction_rate: 0.01,
            unhealthy_zone_threshold: 0.55,
            large_cluster_size_threshold: 50,
            default_toleration: Dur(300 * SEC),
            exclude_control_plane_from_disruption: false,
        }
    }
}

/// The simulated network's links.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSettings {
    /// One-way latency between processes on the same node.
    pub local_latency: Dur,
    /// One-way latency inside a zone (same data centre).
    pub zone_latency: Dur,
    /// One-way latency across zones (nearby data centres of one region).
    pub cross_zone_latency: Dur,
    /// Jitter as a fraction of the latency, drawn uniformly in [0, jitter x latency].
    pub jitter: f64,
    /// Probability that a packet between two nodes is lost (0..1). Not a measured default: real links
    /// lose next to nothing. Messages ride TCP, so a loss costs a retransmission and holds up the
    /// connection rather than dropping the message (see `net`).
    pub loss: f64,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            local_latency: Dur(50 * US),
            // etcd op-guide/performance.md: "the RTT within a datacenter may be as long as several
            // hundred microseconds"; 100 us one-way is a 200 us round trip, what a cloud zone gives.
            zone_latency: Dur(100 * US),
            cross_zone_latency: Dur(MS),
            jitter: 0.2,
            loss: 0.0,
        }
    }
}

impl NetworkSettings {
    /// The links' configuration for the simulated network.
    pub fn links(&self) -> crate::net::LinkConfig {
        crate::net::LinkConfig {
            local_latency_ns: self.local_latency.ns(),
            zone_latency_ns: self.zone_latency.ns(),
            cross_zone_latency_ns: self.cross_zone_latency.ns(),
            jitter: self.jitter,
            loss: self.loss,
        }
    }
}

/// The hosts' power-on and boot (issue 10: independent clocks and start-up).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeSettings {
    /// The run starts as the nodes are powered on; each finishes booting at an independent moment,
    /// uniform in [0, boot_spread]. Assumption, not a measured figure: machines started together (one
    /// provisioning call, or a rack powered on) reach userspace seconds apart, and real clusters never
    /// start their processes in the same nanosecond. 10 s is one kubelet lease interval, so node lease
    /// phases come out uniform; it is 100 etcd heartbeats, so etcd tick phases do too.
    pub boot_spread: Dur,
    /// Time from powering a node back on (a `restart`, or the end of a node `crash` with `for`) until
    /// its OS is up and its services and static pods start; the node is off the network meanwhile.
    /// Measured on EC2 (ec2-boot-bench, daemonology.net 2021-08-12, c5.xlarge, median of 9 boots of an
    /// example Linux AMI): pending to running 4.9 s, running to the kernel answering TCP 17.2 s, then
    /// 5.6 s until sshd listens: about 28 s from power-on to userspace services, so 30 s. Bare metal
    /// with firmware POST takes minutes; set it per platform.
    pub os_boot_time: Dur,
}

impl Default for NodeSettings {
    fn default() -> Self {
        NodeSettings {
            boot_spread: Dur(10 * SEC),
            os_boot_time: Dur(30 * SEC),
        }
    }
}

/// The simulation engine (not a cluster setting: it changes how the run is computed, not what it
/// models).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSettings {
    /// The engine's shortcuts for speed (issue 12): cancelled request deadlines leave the event queue.
    /// Off, every timer fires as set; a run comes out byte-identical either way (same report, same
    /// trace hash) but for the count of events processed. The switch is kept so that this can be
    /// checked on any scenario.
    pub shortcuts: bool,
    /// Lazy heartbeats (issue 12): while nothing in the world could stop or delay them, an etcd
    /// leader's empty heartbeats to caught-up followers and their answers are stood in for rather
    /// than sent (src/world/quiet.rs). Not byte-identical (the skipped latency draws move later
    /// ones): outcome distributions over seeds are the same. Needs `shortcuts`.
    pub lazy_heartbeats: bool,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            shortcuts: true,
            lazy_heartbeats: true,
        }
    }
}

/// Where the load generator sends its requests.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LoadTarget {
    /// Through `topology.endpoint` to the Kubernetes API.
    Api,
    /// Straight to the etcd members as an etcd client (for etcd-only studies).
    Etcd,
}

/// How the load generator connects to the API.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LoadConnection {
    /// A new connection per request, as separate `kubectl` invocations make.
    PerRequest,
    /// One long-lived HTTP/2 connection, as a client-go controller or operator holds.
    LongLived,
}

/// How the load's API requests find an API server.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LoadApiVia {
    /// `topology.endpoint`: a client outside the cluster with a kubeconfig.
    Endpoint,
    /// The `kubernetes` Service, through the kube-proxy of the node it runs on (worker-1): a pod
    /// using client-go's in-cluster configuration.
    KubernetesService,
}

/// Whose credentials the load generator's API requests carry, which decides their APF priority level.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LoadIdentity {
    /// A person's kubeconfig (`kubectl`): FlowSchema `global-default`, priority level `global-default`.
    User,
    /// A pod's service account: FlowSchema `service-accounts`, priority level `workload-low`.
    ServiceAccount,
}

/// The clients' request load.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Load {
    /// Requests a second; 0 is no load (CONTRACT.md "Scenario additions"): `api` is then judged from
    /// the cluster's state.
    pub requests_per_second: f64,
    pub write_ratio: f64,
    /// Client-side timeout of one request.
    pub timeout: Dur,
    pub target: LoadTarget,
    /// Connections of API requests (etcd requests always use the etcd client's own).
    pub connection: LoadConnection,
    /// How API requests reach an API server.
    pub api_via: LoadApiVia,
    /// Whose credentials its API requests carry (their priority level).
    pub identity: LoadIdentity,
    /// When the load begins (0s: at once, while the cluster boots). A capacity study starts it after
    /// the warm-up, so that the requests the booting cluster could not serve do not pile up first.
    /// The informers start then too.
    pub start: Dur,
    /// Watch clients (operators' and controllers' informers): none by default.
    #[serde(skip_serializing_if = "Informers::is_none")]
    pub informers: Informers,
}

/// What an informer does when its watch breaks (its connection reset, or closed by the HTTP/2
/// health check).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AfterBrokenWatch {
    /// LIST again after the reflector's back-off, then watch: what client-go's reflector does when
    /// the server it reaches no longer holds its resourceVersion (410 Gone, "too old resource
    /// version": `ListAndWatch` returns and `wait.BackoffUntil` runs it again after the back-off
    /// manager's wait, k8s.io/client-go tools/cache/reflector.go). Every broken watch relisting is
    /// the upper bound of a restart storm.
    Relist,
    /// Watch again at once from its resourceVersion, no LIST: what the reflector does when the
    /// watch simply closed and the survivor's watch cache still holds that resourceVersion (the
    /// common case with bookmarks); a failed watch request waits the back-off and tries again.
    Rewatch,
}

/// Informer clients: each LISTs `objects` objects through `topology.endpoint` on its own long-lived
/// connection, then WATCHes on it (client-go's reflector, `ListAndWatch`), as a service account
/// (APF level `workload-low`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Informers {
    /// How many informers (0: none).
    pub count: u32,
    /// Objects each LIST returns; the API server's CPU for it is `cpu_per_get + objects x
    /// cpu_per_list_object`.
    pub objects: u32,
    /// What a broken watch leads to.
    pub after_broken_watch: AfterBrokenWatch,
}

impl Informers {
    /// No informers (then the field is left out of a written scenario).
    pub fn is_none(&self) -> bool {
        self.count == 0
    }
}

impl Default for Informers {
    fn default() -> Self {
        Informers {
            count: 0,
            // One page of client-go's pager (`defaultPageSize` 500, k8s.io/client-go tools/pager/
            // pager.go): a modest custom resource; a modelling choice, set it to the resource's size.
            objects: 500,
            // The upper bound (see `AfterBrokenWatch::Relist`).
            after_broken_watch: AfterBrokenWatch::Relist,
        }
    }
}

impl Default for Load {
    fn default() -> Self {
        Load {
            requests_per_second: 10.0,
            write_ratio: 0.5,
            timeout: Dur(10 * SEC),
            target: LoadTarget::Api,
            connection: LoadConnection::PerRequest,
            api_via: LoadApiVia::Endpoint,
            identity: LoadIdentity::User,
            start: Dur(0),
            informers: Informers::default(),
        }
    }
}

/// How a workload's replicas are placed.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Spread {
    /// The scheduler's default: least-allocated node first.
    #[default]
    None,
    /// A topology spread constraint over zones (maxSkew 1).
    Zones,
    /// Packed into the first zone (a node affinity to it).
    FirstZone,
}

/// A Deployment/ReplicaSet.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub name: String,
    pub replicas: u32,
    #[serde(default)]
    pub spread: Spread,
    /// Whether the pods tolerate the control-plane taint (run on control-plane nodes too).
    #[serde(default)]
    pub on_control_plane: bool,
}

pub use super::faults::{Fault, FaultKind};

/// A bound on a metric that the run must meet.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// The metric bounded (empty for an alert expectation).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metric: String,
    /// An alert (`observe::alerts`) instead of a metric, with `fires_within` or `never_fires`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// The alert fires within this long of the first fault's start (reads `alert.NAME.detect_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fires_within: Option<Dur>,
    /// `true`: the alert never fires in the measured run (reads `alert.NAME.firings`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_fires: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_least: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_most: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<f64>,
    /// Measure the metric over `[from, to]` of the run instead of from the warm-up to the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<[Dur; 2]>,
    /// For a capability (`"metric": "api"`): after every fault that ends, the capability is back up
    /// for good within this long (the actual value is `CAPABILITY.recovery_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered_within: Option<Dur>,
    /// In a seed sweep (`check --seeds`), bound this percentile of the metric over the seeds instead
    /// of every seed's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentile: Option<f64>,
}
