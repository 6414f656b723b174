//! Semantic validation: the checks serde cannot express (sizes, cross-field rules, fault targets, metric
//! names). Validation *builds* the typed [`Plan`](super::plan::Plan): nothing downstream parses strings again.
//!
//! Every error says what is wrong and what is allowed. Nothing in here panics on any input.

use super::error::{error_at, ScenarioError};
use super::plan::{Endpoint, FaultPlan, Plan, TopologyPlan};
use super::spans::Spans;
use super::suggest::{list_names, suggest};
use super::training::ExercisePlan;
use crate::engine::{fmt_duration, Nanos, HOUR, MS, SEC};
use crate::observe::Capability;
use crate::scenario::model::{
    Dur, EtcdTopology, Expectation, Fault, LoadBalancerPlacement, Scenario, Settings, Workload,
};
use crate::topology::{Layout, NodeKind, ProcKind, Selector, Target};
use std::collections::{HashMap, HashSet};

/// The longest run a scenario may ask for: 100 years of 8766 h. Whether a long run is affordable is the
/// cost estimate's call (`Validator::cost`), not this cap's.
pub const MAX_DURATION: Nanos = 100 * 8766 * HOUR;
/// Most control-plane nodes a topology may have.
pub const MAX_CONTROL_PLANE_NODES: u32 = 50;
/// Most dedicated etcd nodes a topology may have.
pub const MAX_ETCD_NODES: u32 = 9;
/// Most load balancers a topology may have.
pub const MAX_LOAD_BALANCERS: u32 = 16;
/// Most worker nodes a topology may have.
pub const MAX_WORKERS: u32 = 5000;
/// Most replicas one workload may ask for.
pub const MAX_REPLICAS: u32 = 100_000;
/// Highest client request rate.
pub const MAX_REQUESTS_PER_SECOND: f64 = 100_000.0;
/// The most informers a scenario may declare (each holds its own connection, a `u16` stream).
const MAX_INFORMERS: u32 = 20_000;
/// The most objects an informer's LIST may return.
const MAX_INFORMER_OBJECTS: u32 = 1_000_000;
/// etcd's upper limit on `--election-timeout` (50000 ms).
pub const MAX_ELECTION_TIMEOUT: Nanos = 50 * SEC;
/// Most workloads one scenario may declare (they are indexed by u16).
pub const MAX_WORKLOADS: usize = 10_000;
/// Events one client request costs, measured (see `Validator::cost`).
const EVENTS_PER_REQUEST: f64 = 22.0;
/// Memory one acknowledged write keeps: the invariant checker's record of it (24 bytes, and the
/// slack of a growing vector).
const BYTES_PER_WRITE: f64 = 40.0;
/// Memory one request keeps: the client's record (24 bytes) and the API server's served record (32
/// bytes), each with the slack of a growing vector.
const BYTES_PER_REQUEST: f64 = 88.0;
/// Memory one entry of an etcd member's in-memory log keeps (64 bytes, and the slack of a growing
/// vector).
const BYTES_PER_LOG_ENTRY: f64 = 128.0;
/// The memory a run may plan to keep (8 GiB).
const MAX_RUN_BYTES: f64 = 8.0 * (1u64 << 30) as f64;
/// The shortest timer or interval setting (1 ms).
pub const MIN_INTERVAL: Nanos = crate::engine::MS;
// Nodes, processes, workloads and faults are numbered with the model's 16-bit ids (`engine::id16`,
// u16::MAX is the VIP): the limits above keep every count below them. A control-plane node runs at most
// 8 processes (etcd, API server, controller manager, scheduler, kubelet, HAProxy, keepalived), an etcd
// node 1, a load balancer 2, a worker 1, and there is one client node.
const _: () = assert!(
    8 * MAX_CONTROL_PLANE_NODES + MAX_ETCD_NODES + 2 * MAX_LOAD_BALANCERS + MAX_WORKERS + 1
        < u16::MAX as u32
        && MAX_WORKLOADS < u16::MAX as usize
        && MAX_FAULTS < u16::MAX as usize
);

/// etcd's `--heartbeat-interval` default, at which the idle event rates were measured.
const DEFAULT_HEARTBEAT: Nanos = 100 * MS;

/// Interval settings whose real component counts in units coarser than [`MIN_INTERVAL`]: the path, the
/// least the real tool can be given, and why (the source).
const COARSER_MINIMUMS: &[(&str, Nanos, &str)] = &[
    (
        "settings.load_balancer.vrrp_advert_interval",
        SEC,
        "keepalived speaks VRRP version 2 unless vrrp_version says otherwise, and a version 2 \
         advertisement carries its interval in whole seconds, 1 to 255 (RFC 3768 section 5.3.7)",
    ),
    (
        "settings.kubelet.node_lease_duration",
        SEC,
        "the kubelet takes nodeLeaseDurationSeconds in whole seconds and refuses 0 \
         (k/k pkg/kubelet/apis/config/validation)",
    ),
];

/// The longest scenario name (it names the output folder).
pub const MAX_NAME_CHARS: usize = 100;
/// Most faults one scenario may script.
pub const MAX_FAULTS: usize = 10_000;

/// Events a simulated second of the idle cluster costs, measured (`kube-ha-sim run` of idle shapes
/// for 1 h: 5-member etcd 94, stacked 3-node 183, stacked 5-node 355, stacked 3-node with 20 workers
/// 598, with 100 workers 2,266 events a second) and fitted: per etcd follower 20 (heartbeats and
/// their answers every 100 ms) and per member 3 (ticks); per control-plane node 10, plus 4 per etcd
/// member (its API server's health checks, each a linearizable read that costs the leader a
/// heartbeat round); per kubelet 21 (lease, pod list, status); 13 for a keepalived pair. With a 25 %
/// margin.
///
/// The heartbeats' share grows as `settings.etcd.heartbeat_interval` shortens below its 100 ms default
/// (down to the 1 ms minimum: 100 times the events), and is returned by that setting's path so that a
/// refusal can name what drives the cost; the rest is the cluster's shape, driven by `duration`. (The
/// other intervals either cost far less or cannot be shorter than the measured default: keepalived's
/// advert is at least 1 s.)
fn idle_events_per_second(layout: &Layout, s: &Settings) -> [(&'static str, f64); 2] {
    let members = layout.procs_of(ProcKind::Etcd).count() as f64;
    let apiservers = layout.procs_of(ProcKind::ApiServer).count() as f64;
    let kubelets = layout.procs_of(ProcKind::Kubelet).count() as f64;
    let keepalived = if layout.procs_of(ProcKind::Keepalived).next().is_some() {
        13.0
    } else {
        0.0
    };
    // Never below the measured rate: a longer interval is not assumed to make a run cheaper.
    let faster = (DEFAULT_HEARTBEAT as f64 / s.etcd.heartbeat_interval.ns().max(1) as f64).max(1.0);
    let heartbeats = 20.0 * (members - 1.0).max(0.0) * faster;
    let shape = 3.0 * members + apiservers * (10.0 + 4.0 * members) + 21.0 * kubelets + keepalived;
    [
        ("duration", 1.25 * shape),
        ("settings.etcd.heartbeat_interval", 1.25 * heartbeats),
    ]
}

/// Every metric name an expectation of this scenario may use: the per-capability metrics, the others of
/// CONTRACT.md, and `workload.NAME.ready_ratio` for each declared workload.
pub fn known_metrics(workloads: &[Workload]) -> Vec<String> {
    let names: Vec<&str> = workloads.iter().map(|w| w.name.as_str()).collect();
    crate::observe::catalog::all_names(&names)
}

pub(crate) struct Validator<'a> {
    pub(crate) file: &'a str,
    pub(crate) spans: &'a Spans,
    pub(crate) s: &'a Scenario,
}

pub(crate) type Check = Result<(), ScenarioError>;

fn human_kind(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::ControlPlane => "control-plane nodes",
        NodeKind::Etcd => "etcd nodes",
        NodeKind::LoadBalancer => "load balancers",
        NodeKind::Worker => "workers",
        NodeKind::Client => "client nodes",
    }
}

fn in_unit(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

impl Validator<'_> {
    pub(crate) fn err(&self, path: &str, message: impl Into<String>) -> ScenarioError {
        error_at(
            self.file,
            path.to_string(),
            self.spans.value(path),
            message.into(),
        )
    }

    /// The first of `paths` that the file spells out (so the error points at what the user wrote).
    fn pick<'p>(&self, paths: &[&'p str]) -> &'p str {
        paths
            .iter()
            .copied()
            .find(|p| self.spans.has(p))
            .unwrap_or(paths[0])
    }

    /// A timer or interval setting: at least [`MIN_INTERVAL`], or the coarser minimum its real
    /// component has ([`COARSER_MINIMUMS`]). The real components take these in whole milliseconds or
    /// coarser (etcd's `--heartbeat-interval` is a whole number of milliseconds, `embed.Config.TickMs`),
    /// and a sub-millisecond timer is how a run turns into billions of events.
    fn positive(&self, path: &str, d: Dur) -> Check {
        if let Some(&(_, min, why)) = COARSER_MINIMUMS.iter().find(|(p, _, _)| *p == path) {
            if d.ns() < min {
                return Err(self.err(
                    path,
                    format!(
                        "{} is too short; allowed: at least {} ({why})",
                        crate::engine::fmt_duration_exact(d.ns()),
                        fmt_duration(min)
                    ),
                ));
            }
        }
        if d.ns() < MIN_INTERVAL {
            return Err(self.err(
                path,
                format!(
                    "{} is too short; allowed: at least 1ms (a duration such as \"1s\"), as the real \
                     components take it in whole milliseconds or coarser",
                    crate::engine::fmt_duration_exact(d.ns())
                ),
            ));
        }
        Ok(())
    }

    fn at_least_one(&self, path: &str, v: u32) -> Check {
        if v == 0 {
            return Err(self.err(path, "must be at least 1"));
        }
        Ok(())
    }

    /// Checks the scenario and builds its plan.
    pub(crate) fn run(&self) -> Result<Plan, ScenarioError> {
        self.top()?;
        let topology = self.topology()?;
        let mut layout = Layout::new(&topology);
        if self.s.load.informers.count > 0 {
            layout = layout.with_informers();
        }
        self.settings(&layout)?;
        self.load()?;
        self.workloads()?;
        let faults = self.faults(&layout)?;
        self.expectations()?;
        let exercises = self.exercises(&layout)?;
        self.cost(&layout)?;
        let s = self.s;
        Ok(Plan {
            name: s.name.clone(),
            description: s.description.clone(),
            seed: s.seed,
            duration_ns: s.duration.ns(),
            topology,
            settings: s.settings.clone(),
            load: s.load.clone(),
            workloads: s.workloads.clone(),
            faults,
            expect: s
                .expect
                .iter()
                .filter_map(super::expect::ExpectationPlan::from_spec)
                .collect(),
            exercises,
            layout,
            warnings: self.warnings(),
        })
    }

    /// The training questions: asked within the run, of a known kind, about something the
    /// cluster has, with views by their `inspect` names.
    fn exercises(&self, layout: &Layout) -> Result<Vec<ExercisePlan>, ScenarioError> {
        use super::training::{AnswerKind, Question, View, DEFAULT_TOLERANCE_NS};
        let mut out = Vec::new();
        for (i, e) in self.s.exercises.iter().enumerate() {
            let p = format!("exercises[{i}]");
            if e.at.ns() > self.s.duration.ns() {
                return Err(self.err(
                    &format!("{p}.at"),
                    format!(
                        "{} is after the end of the run (duration {}); an exercise is asked within the run",
                        crate::engine::fmt_duration(e.at.ns()),
                        crate::engine::fmt_duration(self.s.duration.ns())
                    ),
                ));
            }
            let question = Question::from_name(&e.ask).ok_or_else(|| {
                self.err(
                    &format!("{p}.ask"),
                    format!(
                        "unknown question `{}`{}; allowed: {}",
                        e.ask,
                        suggest(&e.ask, Question::ALL.map(Question::name)),
                        Question::names()
                    ),
                )
            })?;
            if question == Question::VipHolder
                && layout.procs_of(ProcKind::Keepalived).next().is_none()
            {
                return Err(self.err(
                    &format!("{p}.ask"),
                    "`vip-holder` needs a VIP: \"endpoint\": \"load-balancer\" with 2 or more load_balancers",
                ));
            }
            if e.tolerance.is_some() && question.answer_kind() != AnswerKind::Time {
                return Err(self.err(
                    &format!("{p}.tolerance"),
                    format!(
                        "`{}` is not answered with a time; only quorum-regained takes a tolerance",
                        e.ask
                    ),
                ));
            }
            let mut views = Vec::new();
            for (j, v) in e.views.iter().enumerate() {
                views.push(View::from_name(v).ok_or_else(|| {
                    self.err(
                        &format!("{p}.views[{j}]"),
                        format!(
                            "unknown view `{v}`{}; allowed: {}",
                            suggest(v, View::ALL.map(View::name)),
                            View::names()
                        ),
                    )
                })?);
            }
            out.push(ExercisePlan {
                at_ns: e.at.ns(),
                question,
                text: e.text.clone(),
                views,
                tolerance_ns: e.tolerance.map_or(DEFAULT_TOLERANCE_NS, |t| t.ns()),
                spec: e.clone(),
            });
        }
        Ok(out)
    }

    /// Settings that are valid but hazardous: the run goes ahead, and the user is told.
    fn warnings(&self) -> Vec<ScenarioError> {
        let le = &self.s.settings.leader_election;
        let mut out = Vec::new();
        if le.enabled && le.allows_lease_overrun() {
            out.push(self.err(
                self.pick(&[
                    "settings.leader_election.retry_period",
                    "settings.leader_election.renew_deadline",
                    "settings.leader_election.lease_duration",
                ]),
                format!(
                    "retry_period ({}) + renew_deadline ({}) is more than lease_duration ({}): client-go's leader \
                     gives up only that long after its last renewal, so it can act after a candidate has taken \
                     over (two acting leaders); counted in leader_election.past_lease_actions",
                    fmt_duration(le.retry_period.ns()),
                    fmt_duration(le.renew_deadline.ns()),
                    fmt_duration(le.lease_duration.ns())
                ),
            ));
        }
        out
    }

    fn top(&self) -> Check {
        let name = &self.s.name;
        if name.trim().is_empty() {
            return Err(self.err(
                "name",
                "must not be empty; name the scenario, e.g. \"stacked-etcd-leader-crash\"",
            ));
        }
        // The name becomes the output folder (`out/NAME/`): it must stay one plain path segment.
        let plain = !name
            .chars()
            .any(|c| matches!(c, '/' | '\\' | ':') || c.is_control());
        if !plain || name.starts_with('.') || name.chars().count() > MAX_NAME_CHARS {
            return Err(self.err(
                "name",
                format!(
                    "{:?} cannot name an output folder; allowed: 1 to {MAX_NAME_CHARS} characters without `/`, \
                     `\\`, `:` or control characters, not starting with `.` (e.g. \"stacked-etcd-leader-crash\")",
                    name.chars().take(MAX_NAME_CHARS + 8).collect::<String>()
                ),
            ));
        }
        let d = self.s.duration.ns();
        if d == 0 || d > MAX_DURATION {
            return Err(self.err(
                "duration",
                format!(
                    "{} is not a usable run length; the duration must be more than 0 and at most {} (100 years)",
                    fmt_duration(d),
                    fmt_duration(MAX_DURATION)
                ),
            ));
        }
        Ok(())
    }

    /// The cluster's shape, checked part by part and with the endpoint resolved into the plan.
    fn topology(&self) -> Result<TopologyPlan, ScenarioError> {
        let t = &self.s.topology;
        self.topology_sizes()?;
        self.zones()?;
        let endpoint = self.endpoint()?;
        self.placement_needs_the_load_balancer_endpoint(endpoint)?;
        Ok(TopologyPlan {
            etcd: t.etcd,
            control_plane_nodes: t.control_plane_nodes,
            etcd_nodes: t.etcd_nodes,
            workers: t.workers,
            zones: t.zones.clone(),
            load_balancers: t.load_balancer_count(),
            load_balancer_placement: t.load_balancer_placement,
            endpoint,
        })
    }

    /// With the load balancers on the control-plane nodes, every node runs one (kubeadm's static-pod
    /// option puts the same manifests on each), so an explicit count must be the node count: any other
    /// number would describe a layout that cannot be built.
    fn load_balancers_on_the_control_plane(&self) -> Check {
        let t = &self.s.topology;
        match (t.load_balancer_placement, t.load_balancers) {
            (LoadBalancerPlacement::ControlPlane, Some(n)) if n != t.control_plane_nodes => {
                Err(self.err(
                    "topology.load_balancers",
                    format!(
                        "with \"load_balancer_placement\": \"control-plane\" every control-plane node runs \
                         one HAProxy (and keepalived), so load_balancers must be the number of control-plane \
                         nodes, {cps} (got {n}); remove load_balancers or set it to {cps}",
                        cps = t.control_plane_nodes
                    ),
                ))
            }
            (LoadBalancerPlacement::ControlPlane | LoadBalancerPlacement::Separate, _) => Ok(()),
        }
    }

    /// Load balancers on the control-plane nodes exist only to serve the load-balancer endpoint; with a
    /// direct endpoint none are built, so the placement would have no effect.
    fn placement_needs_the_load_balancer_endpoint(&self, endpoint: Endpoint) -> Check {
        let t = &self.s.topology;
        match (t.load_balancer_placement, endpoint) {
            (LoadBalancerPlacement::ControlPlane, Endpoint::Direct { .. }) => Err(self.err(
                "topology.load_balancer_placement",
                format!(
                    "\"control-plane\" runs HAProxy and keepalived on the control-plane nodes, but \
                     \"endpoint\": \"{}\" sends clients straight to one API server, so no load balancers \
                     are built; remove load_balancer_placement or use \"endpoint\": \"load-balancer\"",
                    t.endpoint
                ),
            )),
            (LoadBalancerPlacement::ControlPlane, Endpoint::LoadBalancer)
            | (LoadBalancerPlacement::Separate, _) => Ok(()),
        }
    }

    /// The node counts: each within its limit, so that a typo cannot ask for a million nodes, and
    /// `etcd_nodes` only where etcd has nodes of its own.
    fn topology_sizes(&self) -> Check {
        let t = &self.s.topology;
        if t.etcd == EtcdTopology::Stacked && t.etcd_nodes > 0 {
            return Err(self.err(
                "topology.etcd_nodes",
                format!(
                    "etcd_nodes is only for external etcd; with \"etcd\": \"stacked\" every control-plane node \
                     runs an etcd member (got {}; remove the field or set \"etcd\": \"external\")",
                    t.etcd_nodes
                ),
            ));
        }
        self.load_balancers_on_the_control_plane()?;
        // On the control-plane nodes the count is the node count, bounded by that limit instead.
        let lb_limit = match t.load_balancer_placement {
            LoadBalancerPlacement::Separate => MAX_LOAD_BALANCERS,
            LoadBalancerPlacement::ControlPlane => MAX_CONTROL_PLANE_NODES,
        };
        let limits = [
            (
                "topology.control_plane_nodes",
                t.control_plane_nodes,
                MAX_CONTROL_PLANE_NODES,
                "control-plane nodes",
            ),
            (
                "topology.etcd_nodes",
                t.etcd_nodes,
                MAX_ETCD_NODES,
                "etcd nodes (etcd suggests no more than 7 members)",
            ),
            (
                "topology.load_balancers",
                t.load_balancer_count(),
                lb_limit,
                "load balancers",
            ),
            ("topology.workers", t.workers, MAX_WORKERS, "workers"),
        ];
        for (path, v, max, what) in limits {
            if v > max {
                return Err(self.err(path, format!("{v} is too many; allowed: 0 to {max} {what}")));
            }
        }
        Ok(())
    }

    /// The zones: at least one, each named and unique, because nodes are spread over them by position and
    /// faults name them (`zone:a`).
    fn zones(&self) -> Check {
        let t = &self.s.topology;
        if t.zones.is_empty() {
            return Err(self.err(
                "topology.zones",
                "must list at least one zone, e.g. [\"a\", \"b\", \"c\"]",
            ));
        }
        let mut seen = HashSet::new();
        for (i, z) in t.zones.iter().enumerate() {
            let path = format!("topology.zones[{i}]");
            if z.trim().is_empty() {
                return Err(self.err(&path, "zone names must not be empty"));
            }
            if !seen.insert(z.as_str()) {
                return Err(self.err(
                    &path,
                    format!("zone `{z}` is listed twice; zone names must be unique"),
                ));
            }
        }
        Ok(())
    }

    /// The endpoint string parsed once into an [`Endpoint`], so that nothing downstream reads
    /// `"direct:cp-N"` again.
    fn endpoint(&self) -> Result<Endpoint, ScenarioError> {
        let t = &self.s.topology;
        let cps: Vec<String> = (1..=t.control_plane_nodes)
            .map(|i| format!("cp-{i}"))
            .collect();
        let cp_list = if cps.is_empty() {
            "none: there are no control-plane nodes".to_string()
        } else {
            list_names(&cps)
        };
        if t.endpoint == "load-balancer" {
            if t.load_balancer_placement == LoadBalancerPlacement::ControlPlane
                && t.control_plane_nodes == 0
            {
                return Err(self.err(
                    "topology.load_balancer_placement",
                    "\"control-plane\" runs the load balancers on the control-plane nodes, and there are none; \
                     add control_plane_nodes or use \"load_balancer_placement\": \"separate\"",
                ));
            }
            if t.load_balancer_count() == 0 {
                return Err(self.err(
                    self.pick(&["topology.load_balancers", "topology.endpoint"]),
                    "\"endpoint\": \"load-balancer\" needs at least 1 load balancer; set load_balancers to 1 or \
                     more, or use \"direct:NODE\" with a control-plane node",
                ));
            }
            Ok(Endpoint::LoadBalancer)
        } else if let Some(node) = t.endpoint.strip_prefix("direct:") {
            match cps.iter().position(|c| c == node) {
                Some(i) => Ok(Endpoint::Direct {
                    cp: crate::engine::count32(i) + 1,
                }),
                None => Err(self.err(
                    "topology.endpoint",
                    format!(
                        "`{node}` is not a control-plane node{}; direct endpoints name one of: {cp_list}",
                        suggest(node, cps.iter().map(String::as_str))
                    ),
                )),
            }
        } else {
            Err(self.err(
                "topology.endpoint",
                format!(
                    "unknown endpoint `{}`{}; allowed: \"load-balancer\" or \"direct:NODE\" with NODE a \
                     control-plane node ({cp_list})",
                    t.endpoint,
                    suggest(&t.endpoint, ["load-balancer"])
                ),
            ))
        }
    }

    /// Each settings section in the order the file lists them, so that the first error reported is the
    /// first one a reader meets.
    fn settings(&self, layout: &Layout) -> Check {
        self.etcd_settings()?;
        self.apiserver_settings()?;
        self.leader_election_settings()?;
        self.load_balancer_settings(layout)?;
        self.kubelet_settings()?;
        self.node_lifecycle_settings()?;
        self.network_settings()?;
        self.node_settings()
    }

    /// Every timer of one settings section at once: the sections list many, and each takes the same
    /// [`positive`](Self::positive) rule.
    fn positives(&self, section: &str, timers: &[(&str, Dur)]) -> Check {
        for &(field, d) in timers {
            self.positive(&format!("{section}.{field}"), d)?;
        }
        Ok(())
    }

    /// The counts of one settings section that must be at least 1 (a threshold of 0 checks would
    /// never mark anything).
    fn at_least_ones(&self, section: &str, counts: &[(&str, u32)]) -> Check {
        for &(field, v) in counts {
            self.at_least_one(&format!("{section}.{field}"), v)?;
        }
        Ok(())
    }

    /// etcd refuses to start with an election timeout under 5 heartbeats or over 50s; so do we.
    fn etcd_settings(&self) -> Check {
        let e = &self.s.settings.etcd;
        let hb = e.heartbeat_interval.ns();
        let el = e.election_timeout.ns();
        self.positive("settings.etcd.heartbeat_interval", e.heartbeat_interval)?;
        if u128::from(el) < 5 * u128::from(hb) {
            return Err(self.err(
                self.pick(&["settings.etcd.election_timeout", "settings.etcd.heartbeat_interval"]),
                format!(
                    "election_timeout ({}) must be at least 5 x heartbeat_interval ({}) = {}, as etcd requires",
                    fmt_duration(el),
                    fmt_duration(hb),
                    fmt_duration(hb.saturating_mul(5))
                ),
            ));
        }
        if el > MAX_ELECTION_TIMEOUT {
            return Err(self.err(
                "settings.etcd.election_timeout",
                format!(
                    "{} is above etcd's maximum election timeout of 50s",
                    fmt_duration(el)
                ),
            ));
        }
        if let Some(rt) = e.request_timeout {
            self.positive("settings.etcd.request_timeout", rt)?;
        }
        for (field, v, min, max) in [
            (
                "quota_backend_bytes",
                e.quota_backend_bytes,
                1u64 << 10,
                1u64 << 40,
            ),
            ("bytes_per_revision", e.bytes_per_revision, 1, 3 << 19),
        ] {
            if !(min..=max).contains(&v) {
                return Err(self.err(
                    &format!("settings.etcd.{field}"),
                    format!("{v} is out of range; allowed: {min} to {max} bytes"),
                ));
            }
        }
        if e.snapshot_count == 0 {
            return Err(self.err(
                "settings.etcd.snapshot_count",
                "0 is out of range; etcd snapshots after at least 1 applied entry (allowed: 1 or more)",
            ));
        }
        self.etcd_capacity()
    }

    /// etcd's capacity: cores in range, CPU times from 0 (free) to 1s, a bandwidth of 0 (off) or
    /// from 1 KB/s.
    fn etcd_capacity(&self) -> Check {
        let e = &self.s.settings.etcd;
        if !(1..=1024).contains(&e.cores) {
            return Err(self.err(
                "settings.etcd.cores",
                format!("{} is out of range; allowed: 1 to 1024", e.cores),
            ));
        }
        for (field, d) in [
            ("cpu_per_read", e.cpu_per_read),
            ("cpu_per_write", e.cpu_per_write),
        ] {
            if d.ns() > crate::engine::SEC {
                return Err(self.err(
                    &format!("settings.etcd.{field}"),
                    format!(
                        "{} is out of range; allowed: 0s (free) to 1s of CPU per request",
                        crate::engine::fmt_duration_exact(d.ns())
                    ),
                ));
            }
        }
        let bw = e.peer_bandwidth_bytes_per_s;
        if bw != 0 && !(1_000..=1u64 << 40).contains(&bw) {
            return Err(self.err(
                "settings.etcd.peer_bandwidth_bytes_per_s",
                format!("{bw} is out of range; allowed: 0 (no transfer time) or 1000 to 2^40 bytes a second"),
            ));
        }
        Ok(())
    }

    /// The API server's timeouts: all timers, with no rule between them.
    fn apiserver_settings(&self) -> Check {
        let a = &self.s.settings.kube_apiserver;
        // kube-apiserver's own validation: "--goaway-chance can not be less than 0 or greater than
        // 0.02" (k/k pkg/controlplane/apiserver/options/validation.go).
        if !(0.0..=0.02).contains(&a.goaway_chance) {
            return Err(self.err(
                "settings.kube_apiserver.goaway_chance",
                format!(
                    "{} is out of range; kube-apiserver allows 0 (off) to 0.02 (one request in 50)",
                    a.goaway_chance
                ),
            ));
        }
        self.positives(
            "settings.kube_apiserver",
            &[
                ("request_timeout", a.request_timeout),
                ("etcd_healthcheck_timeout", a.etcd_healthcheck_timeout),
                ("etcd_readycheck_timeout", a.etcd_readycheck_timeout),
                ("etcd_dial_timeout", a.etcd_dial_timeout),
                ("etcd_keepalive_time", a.etcd_keepalive_time),
                ("etcd_keepalive_timeout", a.etcd_keepalive_timeout),
            ],
        )?;
        self.apiserver_capacity()
    }

    /// The API server's capacity: whole counts in range, CPU times from 1us (0 for the per-object
    /// cost) to 1s.
    fn apiserver_capacity(&self) -> Check {
        let a = &self.s.settings.kube_apiserver;
        for (field, v, max) in [
            ("max_requests_inflight", a.max_requests_inflight, 100_000),
            (
                "max_mutating_requests_inflight",
                a.max_mutating_requests_inflight,
                100_000,
            ),
            ("cores", a.cores, 1024),
        ] {
            if !(1..=max).contains(&v) {
                return Err(self.err(
                    &format!("settings.kube_apiserver.{field}"),
                    format!("{v} is out of range; allowed: 1 to {max}"),
                ));
            }
        }
        for (field, d, min) in [
            ("cpu_per_get", a.cpu_per_get, crate::engine::US),
            ("cpu_per_write", a.cpu_per_write, crate::engine::US),
            ("cpu_per_list_object", a.cpu_per_list_object, 0),
        ] {
            if d.ns() < min || d.ns() > crate::engine::SEC {
                return Err(self.err(
                    &format!("settings.kube_apiserver.{field}"),
                    format!(
                        "{} is out of range; allowed: {} to 1s of CPU per request",
                        crate::engine::fmt_duration_exact(d.ns()),
                        if min == 0 { "0s" } else { "1us" }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// client-go's leader election refuses timings outside lease_duration > renew_deadline > 1.2 x
    /// retry_period; a scenario that breaks the rule would model a cluster that cannot start.
    fn leader_election_settings(&self) -> Check {
        let le = &self.s.settings.leader_election;
        let (lease, renew, retry) = (
            le.lease_duration.ns(),
            le.renew_deadline.ns(),
            le.retry_period.ns(),
        );
        self.positive("settings.leader_election.retry_period", le.retry_period)?;
        // client-go: renewDeadline must be greater than retryPeriod * JitterFactor (1.2).
        if u128::from(renew) * 10 <= u128::from(retry) * 12 {
            return Err(self.err(
                self.pick(&[
                    "settings.leader_election.renew_deadline",
                    "settings.leader_election.retry_period",
                ]),
                format!(
                    "renew_deadline ({}) must be greater than 1.2 x retry_period ({}), as client-go's leader \
                     election requires (lease_duration > renew_deadline > 1.2 x retry_period)",
                    fmt_duration(renew),
                    fmt_duration(retry)
                ),
            ));
        }
        if lease <= renew {
            return Err(self.err(
                self.pick(&[
                    "settings.leader_election.lease_duration",
                    "settings.leader_election.renew_deadline",
                ]),
                format!(
                    "lease_duration ({}) must be greater than renew_deadline ({}), as client-go's leader \
                     election requires (lease_duration > renew_deadline > 1.2 x retry_period)",
                    fmt_duration(lease),
                    fmt_duration(renew)
                ),
            ));
        }
        Ok(())
    }

    /// HAProxy's and keepalived's settings, within the ranges keepalived accepts; priorities are needed
    /// as soon as there is a VIP to move.
    fn load_balancer_settings(&self, layout: &Layout) -> Check {
        let lb = &self.s.settings.load_balancer;
        let p = "settings.load_balancer";
        self.positives(
            p,
            &[
                ("check_interval", lb.check_interval),
                ("check_timeout", lb.check_timeout),
                ("connect_timeout", lb.connect_timeout),
                ("vrrp_advert_interval", lb.vrrp_advert_interval),
                ("vrrp_script_interval", lb.vrrp_script_interval),
            ],
        )?;
        self.at_least_ones(
            p,
            &[
                ("fall", lb.fall),
                ("rise", lb.rise),
                ("vrrp_script_fall", lb.vrrp_script_fall),
                ("vrrp_script_rise", lb.vrrp_script_rise),
            ],
        )?;
        for (i, &prio) in lb.vrrp_priorities.iter().enumerate() {
            if !(1..=254).contains(&prio) {
                return Err(self.err(
                    &format!("{p}.vrrp_priorities[{i}]"),
                    format!(
                        "VRRP priority {prio} is out of range; keepalived priorities are 1 to 254"
                    ),
                ));
            }
        }
        let lbs = layout.procs_of(ProcKind::Haproxy).count();
        if lb.vrrp_priorities.is_empty() && lbs >= 2 {
            return Err(self.err(
                &format!("{p}.vrrp_priorities"),
                "with 2 or more load balancers keepalived needs priorities: one per load balancer in order, \
                 the last repeated for the rest (default [101, 100])",
            ));
        }
        if !(-253..=253).contains(&lb.vrrp_script_weight) {
            return Err(self.err(
                &format!("{p}.vrrp_script_weight"),
                format!(
                    "{} is out of range; keepalived script weights are -253 to 253",
                    lb.vrrp_script_weight
                ),
            ));
        }
        Ok(())
    }

    /// The kubelet's timers, and a restart back-off that can only grow.
    fn kubelet_settings(&self) -> Check {
        let k = &self.s.settings.kubelet;
        self.positives(
            "settings.kubelet",
            &[
                (
                    "node_status_update_frequency",
                    k.node_status_update_frequency,
                ),
                ("node_lease_duration", k.node_lease_duration),
                ("pod_startup_time", k.pod_startup_time),
                ("restart_backoff_initial", k.restart_backoff_initial),
                ("restart_backoff_max", k.restart_backoff_max),
                ("liveness_period", k.liveness_period),
            ],
        )?;
        self.at_least_one(
            "settings.kubelet.liveness_failure_threshold",
            k.liveness_failure_threshold,
        )?;
        if k.restart_backoff_max < k.restart_backoff_initial {
            return Err(self.err(
                self.pick(&[
                    "settings.kubelet.restart_backoff_max",
                    "settings.kubelet.restart_backoff_initial",
                ]),
                format!(
                    "restart_backoff_max ({}) must be at least restart_backoff_initial ({})",
                    fmt_duration(k.restart_backoff_max.ns()),
                    fmt_duration(k.restart_backoff_initial.ns())
                ),
            ));
        }
        self.at_least_one("settings.kubelet.max_pods", k.max_pods)
    }

    /// The node lifecycle controller's timers, eviction rates and zone threshold: rates and fractions
    /// that a NaN or a negative number would turn into nonsense evictions.
    fn node_lifecycle_settings(&self) -> Check {
        let nl = &self.s.settings.node_lifecycle;
        self.positives(
            "settings.node_lifecycle",
            &[
                ("node_monitor_period", nl.node_monitor_period),
                ("node_monitor_grace_period", nl.node_monitor_grace_period),
                ("node_startup_grace_period", nl.node_startup_grace_period),
            ],
        )?;
        for (field, v) in [
            ("node_eviction_rate", nl.node_eviction_rate),
            (
                "secondary_node_eviction_rate",
                nl.secondary_node_eviction_rate,
            ),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(self.err(
                    &format!("settings.node_lifecycle.{field}"),
                    format!("{v} is not a rate; evictions per second must be 0 or more"),
                ));
            }
        }
        let th = nl.unhealthy_zone_threshold;
        if !(th > 0.0 && th <= 1.0) {
            return Err(self.err(
                "settings.node_lifecycle.unhealthy_zone_threshold",
                format!("{th} is out of range; the threshold is a fraction of a zone's nodes, more than 0 and at most 1"),
            ));
        }
        Ok(())
    }

    /// The network's jitter and loss: fractions, and a loss of 1 would be a partition in disguise.
    fn network_settings(&self) -> Check {
        let n = &self.s.settings.network;
        if !in_unit(n.jitter) {
            return Err(self.err(
                "settings.network.jitter",
                format!(
                    "{} is out of range; jitter is a fraction of the latency, 0 to 1",
                    n.jitter
                ),
            ));
        }
        if !(n.loss >= 0.0 && n.loss < 1.0) {
            return Err(self.err(
                "settings.network.loss",
                format!(
                    "{} is out of range; the loss probability on every link must be at least 0 and less than 1 \
                     (to cut links use a partition or isolate fault)",
                    n.loss
                ),
            ));
        }
        Ok(())
    }

    /// The boot times: any duration up to an hour (0 is allowed for both: every node boots at once;
    /// instant reboots). A spread longer than a short run is allowed: nodes that have not booted by
    /// the end never start. More than an hour is a unit slip.
    fn node_settings(&self) -> Check {
        let n = &self.s.settings.nodes;
        for (field, d) in [
            ("boot_spread", n.boot_spread),
            ("os_boot_time", n.os_boot_time),
        ] {
            if d.ns() > HOUR {
                return Err(self.err(
                    &format!("settings.nodes.{field}"),
                    format!("{} is out of range; allowed: 0 to 1h", fmt_duration(d.ns())),
                ));
            }
        }
        Ok(())
    }

    fn load(&self) -> Check {
        const _: () = assert!(
            MAX_INFORMERS <= u16::MAX as u32,
            "an informer's stream is a u16"
        );
        let l = &self.s.load;
        let rps = l.requests_per_second;
        if !(0.0..=MAX_REQUESTS_PER_SECOND).contains(&rps) {
            return Err(self.err(
                "load.requests_per_second",
                format!("{rps} is out of range; allowed: 0 (no load) to 100000"),
            ));
        }
        if !in_unit(l.write_ratio) {
            return Err(self.err(
                "load.write_ratio",
                format!(
                    "{} is out of range; the share of writes is 0 to 1",
                    l.write_ratio
                ),
            ));
        }
        if l.api_via == crate::scenario::model::LoadApiVia::KubernetesService {
            if l.target != crate::scenario::model::LoadTarget::Api {
                return Err(self.err(
                    "load.api_via",
                    "\"kubernetes-service\" is for API requests; with load.target \"etcd\" the load is an etcd client, so leave api_via out".to_string(),
                ));
            }
            if self.s.topology.workers == 0 {
                return Err(self.err(
                    "load.api_via",
                    "\"kubernetes-service\" runs the client as a pod on worker-1, and topology.workers is 0; add a worker or use \"endpoint\"".to_string(),
                ));
            }
        }
        if l.start.ns() >= self.s.duration.ns() {
            return Err(self.err(
                "load.start",
                format!(
                    "{} is not before the end of the run ({}); allowed: 0s up to less than duration",
                    fmt_duration(l.start.ns()),
                    fmt_duration(self.s.duration.ns())
                ),
            ));
        }
        self.informers()?;
        self.positive("load.timeout", l.timeout)
    }

    /// `load.informers`: bounded so that a run stays in its event budget (each informer PINGs its
    /// connection every 30 s) and a LIST's CPU stays within a request timeout at the defaults.
    fn informers(&self) -> Check {
        let i = &self.s.load.informers;
        if i.count > MAX_INFORMERS {
            return Err(self.err(
                "load.informers.count",
                format!(
                    "{} is out of range; allowed: 0 (no informers) to {MAX_INFORMERS}",
                    i.count
                ),
            ));
        }
        if i.objects > MAX_INFORMER_OBJECTS {
            return Err(self.err(
                "load.informers.objects",
                format!(
                    "{} is out of range; allowed: 0 to {MAX_INFORMER_OBJECTS} objects a LIST",
                    i.objects
                ),
            ));
        }
        Ok(())
    }

    /// The run's cost, estimated before it starts, against the engine's event bound for a run that long,
    /// the budget of events one run may take, and a memory ceiling: a run that cannot finish is refused
    /// at once with the setting that drives its cost, instead of failing minutes (or hours) later, or
    /// aborting on a failed allocation.
    fn cost(&self, layout: &Layout) -> Check {
        let s = self.s;
        let duration_s = s.duration.ns() as f64 / 1e9;
        let rps = s.load.requests_per_second;
        let shares = idle_events_per_second(layout, &s.settings);
        let idle: f64 = shares.iter().map(|(_, e)| e).sum();
        let events = duration_s * (idle + EVENTS_PER_REQUEST * rps);
        let bound = crate::engine::runaway_bound(s.duration.ns(), rps) as f64;
        if events > bound {
            return Err(self.err(
                "load.requests_per_second",
                format!(
                    "{rps} requests/s for {} needs about {:.0} million events, more than the engine's bound of \
                     {:.0} million for a run that long; lower load.requests_per_second or shorten duration",
                    fmt_duration(s.duration.ns()),
                    events / 1e6,
                    bound / 1e6
                ),
            ));
        }
        let budget = crate::engine::RUN_EVENT_BUDGET as f64;
        if events > budget {
            let by_load = EVENTS_PER_REQUEST * rps > idle;
            let driver = shares
                .iter()
                .fold(shares[0], |a, &b| if b.1 > a.1 { b } else { a })
                .0;
            if !by_load && driver != "duration" {
                return Err(self.short_heartbeat_cost(driver, events, idle));
            }
            let of_which = if rps > 0.0 {
                format!(
                    ", {:.0} of them for {rps} requests/s",
                    EVENTS_PER_REQUEST * rps
                )
            } else {
                String::new()
            };
            return Err(self.err(
                if by_load {
                    "load.requests_per_second"
                } else {
                    "duration"
                },
                format!(
                    "{} of this cluster needs about {:.1} billion events ({:.0} a simulated second{of_which}), \
                     more than the {:.0} billion one run may take (about half an hour of wall time); {}",
                    fmt_duration(s.duration.ns()),
                    events / 1e9,
                    idle + EVENTS_PER_REQUEST * rps,
                    budget / 1e9,
                    if by_load {
                        "lower load.requests_per_second or shorten duration"
                    } else {
                        "shorten duration"
                    }
                ),
            ));
        }
        self.memory(layout, duration_s)
    }

    /// A run over the event budget because etcd's heartbeat is short: the error names that setting.
    fn short_heartbeat_cost(&self, path: &str, events: f64, idle: f64) -> ScenarioError {
        self.err(
            path,
            format!(
                "an etcd heartbeat every {} for {} needs about {:.1} billion events ({:.0} a simulated \
                 second), more than the {:.0} billion one run may take (about half an hour of wall time); \
                 lengthen heartbeat_interval (etcd's default is {}) or shorten duration",
                fmt_duration(self.s.settings.etcd.heartbeat_interval.ns()),
                fmt_duration(self.s.duration.ns()),
                events / 1e9,
                idle,
                crate::engine::RUN_EVENT_BUDGET as f64 / 1e9,
                fmt_duration(DEFAULT_HEARTBEAT)
            ),
        )
    }

    /// The memory the run keeps: a record per request and per acknowledged write, and each etcd
    /// member's log, which compaction keeps within `snapshot_count + snapshot_catchup_entries` entries.
    fn memory(&self, layout: &Layout, duration_s: f64) -> Check {
        let s = self.s;
        let rps = s.load.requests_per_second;
        let writes = duration_s * rps * s.load.write_ratio;
        let records = writes * BYTES_PER_WRITE + duration_s * rps * BYTES_PER_REQUEST;
        let e = &s.settings.etcd;
        let members = layout.procs_of(ProcKind::Etcd).count() as f64;
        // The cluster's own writes: each leading scheduler and controller manager renews its lease
        // every 2 s, each kubelet its node lease every 10 s (measured: 4,674 entries an hour for an
        // idle stacked 3-node cluster).
        let electors = if layout.procs_of(ProcKind::Scheduler).next().is_some() {
            1.0
        } else {
            0.0
        };
        let kubelets = layout.procs_of(ProcKind::Kubelet).count() as f64;
        let entries = writes + duration_s * (electors + 0.1 * kubelets);
        let held = entries.min((e.snapshot_count as f64) + (e.snapshot_catchup_entries as f64));
        let log = members * held * BYTES_PER_LOG_ENTRY;
        let bytes = records + log;
        if bytes <= MAX_RUN_BYTES {
            return Ok(());
        }
        let gib = |b: f64| b / (1u64 << 30) as f64;
        if log > records {
            return Err(self.err(
                "settings.etcd.snapshot_count",
                format!(
                    "snapshot_count {} for {} keeps up to {:.0} entries in each of {members} etcd members' logs, \
                     about {:.1} GiB in memory, more than the {} GiB allowed; lower settings.etcd.snapshot_count \
                     (etcd compacts its log after that many entries) or shorten duration",
                    e.snapshot_count,
                    fmt_duration(s.duration.ns()),
                    held,
                    gib(bytes),
                    gib(MAX_RUN_BYTES)
                ),
            ));
        }
        Err(self.err(
            self.pick(&["load.write_ratio", "load.requests_per_second"]),
            format!(
                "{rps} requests/s with write_ratio {} for {} keeps about {:.1} GiB in memory (a record of every \
                 request and acknowledged write), more than the {} GiB allowed; lower \
                 load.requests_per_second or load.write_ratio, or shorten duration",
                s.load.write_ratio,
                fmt_duration(s.duration.ns()),
                gib(bytes),
                gib(MAX_RUN_BYTES)
            ),
        ))
    }

    fn workloads(&self) -> Check {
        // Workloads are indexed by u16 in the trace and the controllers: more than that once wrapped
        // (the 65,536th never became ready).
        if self.s.workloads.len() > MAX_WORKLOADS {
            return Err(self.err(
                &format!("workloads[{MAX_WORKLOADS}]"),
                format!(
                    "{} workloads is too many; at most {MAX_WORKLOADS}",
                    self.s.workloads.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, w) in self.s.workloads.iter().enumerate() {
            if w.name.trim().is_empty() {
                return Err(self.err(
                    &format!("workloads[{i}].name"),
                    "workload names must not be empty",
                ));
            }
            if !seen.insert(w.name.as_str()) {
                return Err(self.err(
                    &format!("workloads[{i}].name"),
                    format!(
                        "workload `{}` is declared twice; workload names must be unique",
                        w.name
                    ),
                ));
            }
            if w.replicas > MAX_REPLICAS {
                return Err(self.err(
                    &format!("workloads[{i}].replicas"),
                    format!(
                        "{} replicas is too many; allowed: 0 to {MAX_REPLICAS}",
                        w.replicas
                    ),
                ));
            }
        }
        Ok(())
    }

    fn faults(&self, layout: &Layout) -> Result<Vec<FaultPlan>, ScenarioError> {
        if self.s.faults.len() > MAX_FAULTS {
            return Err(self.err(
                &format!("faults[{MAX_FAULTS}]"),
                format!(
                    "{} faults is too many; at most {MAX_FAULTS}",
                    self.s.faults.len()
                ),
            ));
        }
        let mut out = Vec::with_capacity(self.s.faults.len());
        for (i, f) in self.s.faults.iter().enumerate() {
            self.fault_fields(i, f)?;
            out.push(FaultPlan {
                at_ns: f.at.ns(),
                for_ns: f.for_.map(Dur::ns),
                action: self.fault_action(layout, i, f)?,
                spec: f.clone(),
            });
        }
        Ok(out)
    }

    pub(crate) fn not_client(
        &self,
        layout: &Layout,
        path: &str,
        name: &str,
        r: Target,
        kind: &str,
    ) -> Check {
        let node = match r {
            Target::Node(n) => Some(n),
            Target::Proc(pi) => layout.procs.get(pi).map(|p| p.node),
            Target::Zone(_) | Target::Selector(_) => None,
        };
        if node
            .and_then(|n| layout.nodes.get(n))
            .is_some_and(|n| n.kind == NodeKind::Client)
        {
            return Err(self.err(
                path,
                format!(
                    "`{name}` is the load generator outside the cluster; a {kind} fault targets cluster nodes, \
                     processes, zones or selectors"
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn etcd_host(
        &self,
        layout: &Layout,
        path: &str,
        name: &str,
        r: Target,
        kind: &str,
    ) -> Check {
        let members: Vec<String> = layout
            .procs_of(ProcKind::Etcd)
            .filter_map(|p| layout.procs.get(p))
            .filter_map(|p| layout.nodes.get(p.node))
            .map(|n| n.name.clone())
            .collect();
        let hosts = if members.is_empty() {
            "this topology has no etcd members".to_string()
        } else {
            format!("etcd runs on {}", list_names(&members))
        };
        let ok = match r {
            Target::Node(n) => layout
                .procs
                .iter()
                .any(|p| p.node == n && p.kind == ProcKind::Etcd),
            Target::Proc(pi) => layout
                .procs
                .get(pi)
                .is_some_and(|p| p.kind == ProcKind::Etcd),
            Target::Selector(s) => s.is_etcd(),
            Target::Zone(_) => false,
        };
        if !ok {
            return Err(self.err(
                path,
                format!(
                    "`{name}` does not host an etcd member; a {kind} fault needs a node running etcd, `NODE/etcd`, \
                     `leader:etcd` or `follower:etcd` ({hosts})"
                ),
            ));
        }
        Ok(())
    }

    /// A partition/degrade member: a node or a zone, with the node indices (excluding the client) it
    /// stands for.
    fn network_nodes(
        &self,
        layout: &Layout,
        path: &str,
        name: &str,
    ) -> Result<(Target, Vec<usize>), ScenarioError> {
        match self.resolve(layout, path, name)? {
            t @ (Target::Node(_) | Target::Zone(_)) => Ok((t, t.static_nodes(layout))),
            Target::Proc(pi) => {
                let node = layout
                    .procs
                    .get(pi)
                    .and_then(|p| layout.nodes.get(p.node))
                    .map_or("NODE", |n| n.name.as_str());
                Err(self.err(
                    path,
                    format!("`{name}` is a process; network faults take nodes or zones (use its node `{node}`)"),
                ))
            }
            Target::Selector(s) => Err(self.err(
                path,
                format!(
                    "`{}` is resolved only when a fault fires; network faults take nodes (cp-1) or zones (zone:a)",
                    s.name()
                ),
            )),
        }
    }

    pub(crate) fn partition(
        &self,
        layout: &Layout,
        p: &str,
        groups: &[Vec<String>],
    ) -> Result<Vec<Vec<Target>>, ScenarioError> {
        if groups.len() < 2 {
            return Err(self.err(
                &format!("{p}.groups"),
                format!(
                    "a partition needs at least 2 groups (got {}); nodes in different groups cannot talk, e.g. \
                     [[\"zone:a\"], [\"zone:b\", \"zone:c\"]]",
                    groups.len()
                ),
            ));
        }
        let mut owner: HashMap<usize, (usize, String)> = HashMap::new();
        let mut out = Vec::with_capacity(groups.len());
        for (g, group) in groups.iter().enumerate() {
            let gpath = format!("{p}.groups[{g}]");
            if group.is_empty() {
                return Err(self.err(
                    &gpath,
                    "a partition group must name at least one node or zone",
                ));
            }
            let mut members = 0;
            let mut targets = Vec::with_capacity(group.len());
            for (j, name) in group.iter().enumerate() {
                let mpath = format!("{gpath}[{j}]");
                let (target, nodes) = self.network_nodes(layout, &mpath, name)?;
                targets.push(target);
                members += nodes.len();
                self.claim_nodes(layout, &mut owner, (g, name), &mpath, nodes)?;
            }
            if members == 0 {
                return Err(self.err(&gpath, "this group has no nodes (its zones are empty)"));
            }
            out.push(targets);
        }
        Ok(out)
    }

    /// Records which partition group each node is in, because a node in two groups would make the cut
    /// ambiguous; the error names both groups and, where a zone brought the node in, that zone.
    fn claim_nodes(
        &self,
        layout: &Layout,
        owner: &mut HashMap<usize, (usize, String)>,
        (g, name): (usize, &str),
        mpath: &str,
        nodes: Vec<usize>,
    ) -> Check {
        for n in nodes {
            if let Some((og, oname)) = owner.get(&n) {
                if *og != g {
                    let node = layout.nodes.get(n).map_or("?", |x| x.name.as_str());
                    let via = |x: &str| {
                        if x == node {
                            String::new()
                        } else {
                            format!(" (via `{x}`)")
                        }
                    };
                    return Err(self.err(
                        mpath,
                        format!(
                            "node `{node}` is in two groups: groups[{og}]{} and groups[{g}]{}; a node can \
                             be in only one group",
                            via(oname),
                            via(name)
                        ),
                    ));
                }
            } else {
                owner.insert(n, (g, name.to_string()));
            }
        }
        Ok(())
    }

    pub(crate) fn degrade(
        &self,
        layout: &Layout,
        p: &str,
        f: &Fault,
        between: &[String],
    ) -> Result<[Target; 2], ScenarioError> {
        let bpath = format!("{p}.between");
        if between.len() != 2 {
            return Err(self.err(
                &bpath,
                format!(
                    "needs exactly 2 ends, nodes or zones (got {}), e.g. [\"zone:a\", \"zone:b\"] or [\"cp-1\", \"cp-2\"]",
                    between.len()
                ),
            ));
        }
        let (ta, a) = self.network_nodes(layout, &format!("{bpath}[0]"), &between[0])?;
        let (tb, b) = self.network_nodes(layout, &format!("{bpath}[1]"), &between[1])?;
        // The ends may be the same or overlap: then the links inside (between the zone's nodes, or between
        // the processes of one node) are degraded, which is how the network applies it.
        if a.is_empty() || b.is_empty() {
            let which = if a.is_empty() { 0 } else { 1 };
            return Err(self.err(
                &format!("{bpath}[{which}]"),
                format!("`{}` has no nodes", between[which]),
            ));
        }
        if f.latency.is_none() && f.loss.is_none() {
            return Err(self.err(
                p,
                "a degrade-link fault needs `latency` (added one-way delay, e.g. \"200ms\"), `loss` (0 to 1), or both",
            ));
        }
        if let Some(loss) = f.loss {
            if !in_unit(loss) {
                return Err(self.err(
                    &format!("{p}.loss"),
                    format!("{loss} is out of range; loss is a probability, 0 to 1"),
                ));
            }
        }
        Ok([ta, tb])
    }

    /// Why a selector cannot name anything in this topology, if it cannot.
    fn selector_unavailable(layout: &Layout, sel: Selector) -> Option<String> {
        let etcd = layout.procs_of(ProcKind::Etcd).count();
        let cps = layout
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::ControlPlane)
            .count();
        let lbs = layout.procs_of(ProcKind::Haproxy).count();
        match sel {
            Selector::EtcdLeader => (etcd == 0).then(|| "there are no etcd members".into()),
            Selector::EtcdFollower => (etcd < 2).then(|| {
                format!("follower:etcd needs at least 2 etcd members; this topology has {etcd}")
            }),
            Selector::SchedulerLeader | Selector::ControllerManagerLeader => {
                (cps == 0).then(|| "there are no control-plane nodes".into())
            }
            Selector::VipHolder => (lbs < 2).then(|| {
                format!(
                    "vip-holder needs 2 or more load balancers (a VIP moved by keepalived); this topology has {lbs}"
                )
            }),
        }
    }

    fn known_targets(layout: &Layout) -> String {
        let mut nodes = Vec::new();
        for kind in [
            NodeKind::ControlPlane,
            NodeKind::Etcd,
            NodeKind::LoadBalancer,
            NodeKind::Worker,
            NodeKind::Client,
        ] {
            let names: Vec<String> = layout
                .nodes
                .iter()
                .filter(|n| n.kind == kind)
                .map(|n| n.name.clone())
                .collect();
            if !names.is_empty() {
                nodes.push(list_names(&names));
            }
        }
        let example = layout
            .procs
            .first()
            .map_or("cp-1/etcd".to_string(), |p| p.name.clone());
        let zones: Vec<String> = layout.zones.iter().map(|z| format!("zone:{z}")).collect();
        let selectors: Vec<&str> = Selector::ALL
            .into_iter()
            .filter(|s| Self::selector_unavailable(layout, *s).is_none())
            .map(Selector::name)
            .collect();
        format!(
            "known: {}; processes as NODE/PROCESS (e.g. {example}); zones {}; selectors {}",
            nodes.join(", "),
            list_names(&zones),
            if selectors.is_empty() {
                "none".to_string()
            } else {
                selectors.join(", ")
            }
        )
    }

    pub(crate) fn resolve(
        &self,
        layout: &Layout,
        path: &str,
        name: &str,
    ) -> Result<Target, ScenarioError> {
        if name.trim().is_empty() {
            return Err(self.err(
                path,
                format!("empty target; {}", Self::known_targets(layout)),
            ));
        }
        if let Some(z) = name.strip_prefix("zone:") {
            return self.resolve_zone(layout, path, name, z);
        }
        if let Some(n) = layout.node_index(name) {
            return Ok(Target::Node(n));
        }
        if let Some(p) = layout.proc_index(name) {
            return Ok(Target::Proc(p));
        }
        if let Some(sel) = Selector::from_name(name) {
            if let Some(why) = Self::selector_unavailable(layout, sel) {
                return Err(self.err(
                    path,
                    format!(
                        "`{name}` names nothing in this topology: {why}; {}",
                        Self::known_targets(layout)
                    ),
                ));
            }
            return Ok(Target::Selector(sel));
        }
        if let Some((node, proc)) = name.split_once('/') {
            if let Some(n) = layout.node_index(node) {
                return Err(self.err(path, self.missing_process(layout, n, node, proc)));
            }
        }
        Err(self.err(path, self.unknown_target(layout, name)))
    }

    /// A `zone:NAME` target; an unknown zone is answered with the zones there are.
    fn resolve_zone(
        &self,
        layout: &Layout,
        path: &str,
        name: &str,
        z: &str,
    ) -> Result<Target, ScenarioError> {
        match layout.zone_index(z) {
            Some(i) => Ok(Target::Zone(i)),
            None => {
                let zones: Vec<String> = layout.zones.iter().map(|z| format!("zone:{z}")).collect();
                Err(self.err(
                    path,
                    format!(
                        "unknown zone `{z}`{}; zones: {}",
                        suggest(name, zones.iter().map(String::as_str)),
                        zones.join(", ")
                    ),
                ))
            }
        }
    }

    /// Why `NODE/PROCESS` names nothing although the node exists: the process kind is unknown, or it
    /// does not run there (with the reason where the topology explains it), and what does run there.
    fn missing_process(&self, layout: &Layout, n: usize, node: &str, proc: &str) -> String {
        let here: Vec<&str> = layout
            .procs
            .iter()
            .filter(|p| p.node == n)
            .map(|p| p.kind.name())
            .collect();
        if ProcKind::from_name(proc).is_some() {
            let t = &self.s.topology;
            let on_cp = layout.nodes[n].kind == NodeKind::ControlPlane;
            let why = match proc {
                "etcd" if t.etcd == EtcdTopology::External => {
                    " (with external etcd the members run on the etcd-N nodes)"
                }
                "haproxy" | "keepalived"
                    if on_cp && t.load_balancer_placement == LoadBalancerPlacement::Separate =>
                {
                    " (the load balancers run on their own lb-N nodes; \"load_balancer_placement\": \
                     \"control-plane\" puts them on the control-plane nodes)"
                }
                "keepalived" => " (keepalived runs only with 2 or more load balancers)",
                _ => "",
            };
            format!(
                "`{node}` runs no {proc}{why}; processes on {node}: {}",
                here.join(", ")
            )
        } else {
            let all = crate::topology::ALL_PROC_KINDS.map(|k| k.name());
            format!(
                "unknown process `{proc}`{}; processes on {node}: {}",
                suggest(proc, all),
                here.join(", ")
            )
        }
    }

    fn unknown_target(&self, layout: &Layout, name: &str) -> String {
        let node_part = name.split('/').next().unwrap_or(name);
        let numbered = node_part
            .rsplit_once('-')
            .filter(|(_, n)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        let known = Self::known_targets(layout);
        if let Some((prefix, _)) = numbered {
            let kind = match prefix {
                "cp" => Some(NodeKind::ControlPlane),
                "etcd" => Some(NodeKind::Etcd),
                "lb" => Some(NodeKind::LoadBalancer),
                "worker" => Some(NodeKind::Worker),
                _ => None,
            };
            if let Some(kind) = kind {
                let names: Vec<String> = layout
                    .nodes
                    .iter()
                    .filter(|n| n.kind == kind)
                    .map(|n| n.name.clone())
                    .collect();
                let what = human_kind(kind);
                let have = if names.is_empty() {
                    let extra = match kind {
                        NodeKind::Etcd if self.s.topology.etcd == EtcdTopology::Stacked => {
                            " (stacked etcd runs its members on the control-plane nodes: cp-N/etcd)"
                        }
                        NodeKind::LoadBalancer
                            if self.s.topology.load_balancer_placement
                                == LoadBalancerPlacement::ControlPlane =>
                        {
                            " on nodes of their own (with \"load_balancer_placement\": \"control-plane\" \
                             they run on the control-plane nodes: cp-N/haproxy, cp-N/keepalived)"
                        }
                        NodeKind::LoadBalancer
                            if layout.procs_of(ProcKind::Haproxy).next().is_none() =>
                        {
                            " (the endpoint is direct, so there are no load balancers)"
                        }
                        NodeKind::ControlPlane
                        | NodeKind::Etcd
                        | NodeKind::LoadBalancer
                        | NodeKind::Worker
                        | NodeKind::Client => "",
                    };
                    format!("there are no {what}{extra}")
                } else {
                    format!("there are {} {what} ({})", names.len(), list_names(&names))
                };
                return format!("unknown target `{name}`: {have}; {known}");
            }
        }
        // Suggest among processes for `NODE/PROCESS`-shaped names, else among nodes, zones and selectors.
        let names = layout.target_names();
        let suggestion = suggest(
            name,
            names
                .iter()
                .map(String::as_str)
                .filter(|n| n.contains('/') == name.contains('/')),
        );
        format!("unknown target `{name}`{suggestion}; {known}")
    }

    /// Every expectation, checked when the file loads rather than when a run is judged.
    fn expectations(&self) -> Check {
        let known = known_metrics(&self.s.workloads);
        for (i, e) in self.s.expect.iter().enumerate() {
            self.expectation(&format!("expect[{i}]"), e, &known)?;
        }
        Ok(())
    }

    /// One expectation: a window and percentile that make sense, a metric that is measured, and the
    /// one bound that judges it.
    fn expectation(&self, p: &str, e: &Expectation, known: &[String]) -> Check {
        let m = e.metric.as_str();
        self.window_and_percentile(p, e)?;
        if e.alert.is_some() || e.fires_within.is_some() || e.never_fires.is_some() || m.is_empty()
        {
            return self.alert_expectation(p, e);
        }
        if e.recovered_within.is_some() {
            return self.recovery_expectation(p, e);
        }
        if !known.iter().any(|k| k == m) {
            return Err(self.err(&format!("{p}.metric"), self.unknown_metric(m, known)));
        }
        if self.s.workloads.is_empty() && (m.starts_with("workloads.")) {
            return Err(self.err(
                &format!("{p}.metric"),
                format!(
                    "`{m}` is not measured: the scenario declares no workloads; add one under `workloads` or \
                     remove this expectation"
                ),
            ));
        }
        self.one_bound(p, e)?;
        self.bound_in_range(p, e)
    }

    /// A bound outside the metric's range can never hold or always holds: `api.availability`
    /// `at_least: 99.9` is a percentage written for a fraction.
    fn bound_in_range(&self, p: &str, e: &Expectation) -> Check {
        let workloads: Vec<&str> = self.s.workloads.iter().map(|w| w.name.as_str()).collect();
        let Some(def) = crate::observe::catalog::known_metric(&e.metric, &workloads) else {
            return Ok(());
        };
        let (lo, hi, what) = def.kind.range();
        let given = [
            ("at_least", e.at_least),
            ("at_most", e.at_most),
            ("equals", e.equals),
        ];
        for (field, v) in given {
            let Some(v) = v else { continue };
            if v < lo || v > hi {
                let hint = if def.kind == crate::observe::catalog::MetricKind::Ratio
                    && v > 1.0
                    && v <= 100.0
                {
                    let fraction = format!("{:.6}", v / 100.0);
                    let fraction = fraction.trim_end_matches('0').trim_end_matches('.');
                    format!(" (a percentage? {v} % is {fraction})")
                } else {
                    String::new()
                };
                return Err(self.err(
                    &format!("{p}.{field}"),
                    format!(
                        "{v} is outside the range of `{}`, {what}{hint}: the expectation could never hold or always would",
                        e.metric
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The optional window must lie within the run, and a percentile within (0, 100]; otherwise the
    /// metric would be read over nothing.
    fn window_and_percentile(&self, p: &str, e: &Expectation) -> Check {
        if let Some([a, b]) = &e.window {
            if a.ns() >= b.ns() || b.ns() > self.s.duration.ns() {
                return Err(self.err(
                    &format!("{p}.window"),
                    format!(
                        "window must be [from, to] with from < to <= duration ({}); e.g. [\"60s\", \"3m\"]",
                        crate::engine::fmt_duration(self.s.duration.ns())
                    ),
                ));
            }
        }
        if let Some(pct) = e.percentile {
            if !(pct > 0.0 && pct <= 100.0) {
                return Err(self.err(
                    &format!("{p}.percentile"),
                    format!("percentile must be in (0, 100], got {pct}"),
                ));
            }
        }
        Ok(())
    }

    /// `recovered_within` is a bound of its own and reads a capability's recovery; a second bound
    /// beside it would be ambiguous.
    fn recovery_expectation(&self, p: &str, e: &Expectation) -> Check {
        let m = e.metric.as_str();
        let cap = m.strip_suffix(".recovery_s").unwrap_or(m);
        if Capability::from_name(cap).is_none() {
            let caps: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
            return Err(self.err(
                &format!("{p}.metric"),
                format!(
                    "`recovered_within` applies to a capability; `{m}` is not one of {}",
                    caps.join(", ")
                ),
            ));
        }
        if e.at_least.is_some() || e.at_most.is_some() || e.equals.is_some() {
            return Err(self.err(
                p,
                "`recovered_within` is the bound; remove `at_least`/`at_most`/`equals`".to_string(),
            ));
        }
        Ok(())
    }

    /// What to say about a metric name that is not measured: an undeclared workload gets the declared
    /// ones, anything else the catalog (without listing every workload's metric).
    fn unknown_metric(&self, m: &str, known: &[String]) -> String {
        if let Some(w) = m
            .strip_prefix("workload.")
            .and_then(|r| r.strip_suffix(".ready_ratio"))
        {
            let names: Vec<&str> = self.s.workloads.iter().map(|w| w.name.as_str()).collect();
            format!(
                "there is no workload `{w}`{}; declared workloads: {}",
                suggest(w, names.iter().copied()),
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )
        } else {
            format!(
                "unknown metric `{m}`{}; known: {}{}",
                suggest(m, known.iter().map(String::as_str)),
                known
                    .iter()
                    .filter(|k| !k.starts_with("workload.") && !k.starts_with("alert."))
                    .cloned()
                    .chain([
                        "alert.ALERT.firings, alert.ALERT.firing_s, alert.ALERT.detect_s".into()
                    ])
                    .collect::<Vec<_>>()
                    .join(", "),
                if self.s.workloads.is_empty() {
                    ""
                } else {
                    ", workload.NAME.ready_ratio"
                }
            )
        }
    }

    /// Exactly one of `at_least`, `at_most`, `equals`: none would judge nothing, two would be two
    /// expectations in one.
    fn one_bound(&self, p: &str, e: &Expectation) -> Check {
        let m = e.metric.as_str();
        let bounds: Vec<&str> = [
            ("at_least", e.at_least.is_some()),
            ("at_most", e.at_most.is_some()),
            ("equals", e.equals.is_some()),
        ]
        .iter()
        .filter(|(_, given)| *given)
        .map(|(n, _)| *n)
        .collect();
        match bounds.as_slice() {
            [_] => Ok(()),
            [] => Err(self.err(
                p,
                format!(
                    "expectation on `{m}` has no bound; give exactly one of `at_least`, `at_most`, `equals`"
                ),
            )),
            [first, second, ..] => Err(self.err(
                &format!("{p}.{second}"),
                format!(
                    "an expectation takes exactly one of `at_least`, `at_most`, `equals`, but this one has \
                     `{first}` and `{second}`; write a second expectation for the other bound"
                ),
            )),
        }
    }
}
