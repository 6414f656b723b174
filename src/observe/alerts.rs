//! Alerts: the standard alerting rules operators run (the etcd mixin, the kubernetes-mixin as
//! kube-prometheus ships it, kube-prometheus's general rules), evaluated on the run as a Prometheus
//! would evaluate them: each rule's expression is a step function of time derived from the trace, read
//! at every evaluation, and an alert fires once its expression has held at consecutive evaluations for
//! its `for:` duration.
//!
//! One declaration per alert: a variant of [`Alert`] and its row in [`Alert::def`] (name, severity,
//! `for:`, the upstream expression, what the model reads for it, the source). Help, "allowed: ..."
//! lists, the README table, metric names and expectations all derive from it.
//!
//! Prometheus's rule semantics (prometheus/rules/alerting.go `AlertingRule.Eval`): at each evaluation a
//! series whose expression holds and that has no active alert becomes *pending* with `ActiveAt` = now;
//! a pending alert becomes *firing* at the first evaluation with `now - ActiveAt >= for`; at the first
//! evaluation where the expression no longer holds, the alert is resolved (a pending one simply
//! disappears). Each label set (each etcd member, each node...) has its own alert; the alert as shown
//! here is firing while any of its series fires, pending while one is pending and none fires.

use super::trace::{Role, Trace, TraceKind};
use crate::engine::{Nanos, SEC};
use crate::topology::{Layout, NodeKind, ProcKind};
use std::collections::BTreeMap;

const MIN: Nanos = 60 * SEC;
const HOUR: Nanos = 60 * MIN;

/// How often Prometheus scrapes each target: 30 s, the `interval` of every kube-prometheus
/// ServiceMonitor (kube-prometheus manifests/kubernetesControlPlane-serviceMonitorApiserver.yaml,
/// -serviceMonitorKubeScheduler.yaml, -serviceMonitorKubelet.yaml, kubeStateMetrics-serviceMonitor.yaml:
/// `interval: 30s`) and the Prometheus CRD's default `scrapeInterval`.
pub const SCRAPE_INTERVAL_NS: Nanos = 30 * SEC;

/// How often the rules are evaluated: the Prometheus CRD's default `evaluationInterval: 30s`
/// (prometheus-operator pkg/apis/monitoring/v1/prometheus_types.go, `+kubebuilder:default:="30s"`).
/// The model takes each evaluation's samples at the evaluation instant (scrapes aligned with
/// evaluations), so a condition is seen at most one interval after it starts.
pub const EVALUATION_INTERVAL_NS: Nanos = 30 * SEC;

/// The API server availability SLO of the kubernetes-mixin (config.libsonnet `SLOs.apiserver.target:
/// 0.99`): the error budget is 1 %.
const API_SLO_ERROR_BUDGET: f64 = 0.01;

/// The latency above which the kubernetes-mixin counts a request against the SLO
/// (rules/kube_apiserver-burnrate.libsonnet: writes over 1 s, resource-scoped reads over 1 s; the
/// load's reads are single-object reads).
const API_SLO_SLOW_NS: Nanos = SEC;

/// Every alert the simulator evaluates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Alert {
    EtcdNoLeader,
    EtcdInsufficientMembers,
    EtcdMembersDown,
    EtcdHighNumberOfLeaderChanges,
    KubeApiDown,
    KubeApiInstanceUnreachable,
    KubeApiErrorBudgetBurn,
    KubeControllerManagerDown,
    KubeControllerManagerInstanceUnreachable,
    KubeSchedulerDown,
    KubeSchedulerInstanceUnreachable,
    KubeNodeNotReady,
    KubeNodeUnreachable,
    TargetDown,
}

/// One alerting rule's row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlertDef {
    pub alert: Alert,
    /// The alert's name, as Alertmanager shows it.
    pub name: &'static str,
    pub severity: &'static str,
    /// The rule's `for:`.
    pub for_ns: Nanos,
    /// The upstream expression (abridged where long).
    pub expr: &'static str,
    /// What the model reads for it.
    pub modelled: &'static str,
    /// Where the rule comes from.
    pub source: &'static str,
}

const ETCD_MIXIN: &str =
    "etcd-io/etcd contrib/mixin/mixin.libsonnet (monitoring-mixins assets/etcd/alerts.yaml)";
const KUBE_MIXIN_APISERVER: &str = "kubernetes-mixin alerts/kube_apiserver.libsonnet, lib/absent_alert.libsonnet, lib/instance_unreachable_alert.libsonnet (kube-prometheus manifests/kubernetesControlPlane-prometheusRule.yaml)";
const KUBE_MIXIN_SCHEDULER: &str = "kubernetes-mixin alerts/kube_scheduler.libsonnet (kube-prometheus manifests/kubernetesControlPlane-prometheusRule.yaml)";
const KUBE_MIXIN_KCM: &str = "kubernetes-mixin alerts/kube_controller_manager.libsonnet (kube-prometheus manifests/kubernetesControlPlane-prometheusRule.yaml)";
const KUBE_MIXIN_KUBELET: &str = "kubernetes-mixin alerts/kubelet.libsonnet (kube-prometheus manifests/kubernetesControlPlane-prometheusRule.yaml)";
const KUBE_PROMETHEUS_GENERAL: &str =
    "kube-prometheus jsonnet/kube-prometheus/components/mixin/alerts/general.libsonnet";

/// A row of the table.
const fn row(
    alert: Alert,
    name: &'static str,
    severity: &'static str,
    for_ns: Nanos,
    expr: &'static str,
    modelled: &'static str,
    source: &'static str,
) -> AlertDef {
    AlertDef {
        alert,
        name,
        severity,
        for_ns,
        expr,
        modelled,
        source,
    }
}

macro_rules! row {
    ($($arg:tt)*) => {{
        const ROW: AlertDef = row($($arg)*);
        &ROW
    }};
}

impl Alert {
    /// Every alert, in report order (a test checks it lists every variant once).
    pub const ALL: &'static [Alert] = &[
        Alert::EtcdNoLeader,
        Alert::EtcdInsufficientMembers,
        Alert::EtcdMembersDown,
        Alert::EtcdHighNumberOfLeaderChanges,
        Alert::KubeApiDown,
        Alert::KubeApiInstanceUnreachable,
        Alert::KubeApiErrorBudgetBurn,
        Alert::KubeControllerManagerDown,
        Alert::KubeControllerManagerInstanceUnreachable,
        Alert::KubeSchedulerDown,
        Alert::KubeSchedulerInstanceUnreachable,
        Alert::KubeNodeNotReady,
        Alert::KubeNodeUnreachable,
        Alert::TargetDown,
    ];

    /// The table: one row per alert (variant, name, severity, `for:`, expression, what the model
    /// reads, source).
    #[rustfmt::skip]
    pub const fn def(self) -> &'static AlertDef {
        use Alert as A;
        match self {
            A::EtcdNoLeader => row!(A::EtcdNoLeader, "etcdNoLeader", "critical", MIN,
                "etcd_server_has_leader{job=~\".*etcd.*\"} == 0",
                "per member that Prometheus scrapes: the member's own raft view knows no leader",
                ETCD_MIXIN),
            A::EtcdInsufficientMembers => row!(A::EtcdInsufficientMembers, "etcdInsufficientMembers", "critical", 3 * MIN,
                "sum(up{job=~\".*etcd.*\"} == bool 1) without (instance) < ((count(up{job=~\".*etcd.*\"}) without (instance) + 1) / 2)",
                "members whose scrape succeeds < (members + 1) / 2",
                ETCD_MIXIN),
            A::EtcdMembersDown => row!(A::EtcdMembersDown, "etcdMembersDown", "warning", 10 * MIN,
                "max without (endpoint) (sum without (instance) (up{job=~\".*etcd.*\"} == bool 0) or count without (To) (sum without (instance) (rate(etcd_network_peer_sent_failures_total{job=~\".*etcd.*\"}[120s])) > 0.01)) > 0",
                "a member's scrape fails, or a scraped member cannot reach a peer (dead or cut off)",
                ETCD_MIXIN),
            A::EtcdHighNumberOfLeaderChanges => row!(A::EtcdHighNumberOfLeaderChanges, "etcdHighNumberOfLeaderChanges", "warning", 5 * MIN,
                "increase((max without (instance) (etcd_server_leader_changes_seen_total{job=~\".*etcd.*\"}) or 0*absent(etcd_server_leader_changes_seen_total{job=~\".*etcd.*\"}))[15m:1m]) >= 4",
                "members became leader 4 or more times in the last 15 minutes (counted since monitoring started)",
                ETCD_MIXIN),
            A::KubeApiDown => row!(A::KubeApiDown, "KubeAPIDown", "critical", 15 * MIN,
                "absent(up{job=\"apiserver\"} == 1)",
                "no API server's scrape succeeds (the rule up to kubernetes-mixin #1120; today absent(up{job=\"apiserver\"}), which needs the targets gone from discovery)",
                KUBE_MIXIN_APISERVER),
            A::KubeApiInstanceUnreachable => row!(A::KubeApiInstanceUnreachable, "KubeAPIInstanceUnreachable", "warning", 15 * MIN,
                "up{job=\"apiserver\"} == 0",
                "per API server: its scrape fails",
                KUBE_MIXIN_APISERVER),
            A::KubeApiErrorBudgetBurn => row!(A::KubeApiErrorBudgetBurn, "KubeAPIErrorBudgetBurn", "critical", 2 * MIN,
                "apiserver_request:burnrate1h > 14.4*0.01 and burnrate5m > 14.4*0.01 (for 2m); 6h/30m > 6*0.01 (for 15m); 1d/2h > 3*0.01 (for 1h, warning); 3d/6h > 1*0.01 (for 3h, warning)",
                "the share of the load's requests, by completion time, that failed or took over 1 s, over each window (only with load)",
                KUBE_MIXIN_APISERVER),
            A::KubeControllerManagerDown => row!(A::KubeControllerManagerDown, "KubeControllerManagerDown", "critical", 15 * MIN,
                "absent(up{job=\"kube-controller-manager\"} == 1)",
                "no kube-controller-manager's scrape succeeds (the rule up to kubernetes-mixin #1120)",
                KUBE_MIXIN_KCM),
            A::KubeControllerManagerInstanceUnreachable => row!(A::KubeControllerManagerInstanceUnreachable, "KubeControllerManagerInstanceUnreachable", "warning", 15 * MIN,
                "up{job=\"kube-controller-manager\"} == 0",
                "per kube-controller-manager: its scrape fails",
                KUBE_MIXIN_KCM),
            A::KubeSchedulerDown => row!(A::KubeSchedulerDown, "KubeSchedulerDown", "critical", 15 * MIN,
                "absent(up{job=\"kube-scheduler\"} == 1)",
                "no kube-scheduler's scrape succeeds (the rule up to kubernetes-mixin #1120)",
                KUBE_MIXIN_SCHEDULER),
            A::KubeSchedulerInstanceUnreachable => row!(A::KubeSchedulerInstanceUnreachable, "KubeSchedulerInstanceUnreachable", "warning", 15 * MIN,
                "up{job=\"kube-scheduler\"} == 0",
                "per kube-scheduler: its scrape fails",
                KUBE_MIXIN_SCHEDULER),
            A::KubeNodeNotReady => row!(A::KubeNodeNotReady, "KubeNodeNotReady", "warning", 15 * MIN,
                "kube_node_status_condition{job=\"kube-state-metrics\",condition=\"Ready\",status=\"true\"} == 0 and on (cluster, node) kube_node_spec_unschedulable == 0",
                "per node: the Node object's stored Ready condition is not True (nodes are never cordoned)",
                KUBE_MIXIN_KUBELET),
            A::KubeNodeUnreachable => row!(A::KubeNodeUnreachable, "KubeNodeUnreachable", "warning", 15 * MIN,
                "(kube_node_spec_taint{job=\"kube-state-metrics\",key=\"node.kubernetes.io/unreachable\",effect=\"NoSchedule\"} unless ignoring(key,value) kube_node_spec_taint{key=~\"ToBeDeletedByClusterAutoscaler|...\"}) == 1",
                "per node: the stored Ready condition is Unknown, which the node lifecycle controller's NoSchedule tainting pass marks with the unreachable taint at once",
                KUBE_MIXIN_KUBELET),
            A::TargetDown => row!(A::TargetDown, "TargetDown", "warning", 10 * MIN,
                "100 * (count(up == 0) BY (cluster, job, namespace, service) / count(up) BY (cluster, job, namespace, service)) > 10",
                "per job (etcd, apiserver, kube-scheduler, kube-controller-manager, kubelet): over 10 % of its targets' scrapes fail",
                KUBE_PROMETHEUS_GENERAL),
        }
    }

    /// The alert's name.
    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// The alert with this name.
    pub fn from_name(name: &str) -> Option<Alert> {
        Alert::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// Every alert name, for "allowed: ..." lists.
    pub fn names() -> Vec<&'static str> {
        Alert::ALL.iter().map(|a| a.name()).collect()
    }
}

/// The processes Prometheus scrapes (kube-prometheus's ServiceMonitors, plus etcd as the etcd mixin
/// assumes).
pub fn scraped(kind: ProcKind) -> bool {
    match kind {
        ProcKind::Etcd
        | ProcKind::ApiServer
        | ProcKind::Scheduler
        | ProcKind::ControllerManager
        | ProcKind::Kubelet => true,
        ProcKind::Haproxy | ProcKind::Keepalived | ProcKind::Client | ProcKind::Informers => false,
    }
}

/// The job label of a scraped process.
fn job(kind: ProcKind) -> &'static str {
    match kind {
        ProcKind::Etcd => "etcd",
        ProcKind::ApiServer => "apiserver",
        ProcKind::Scheduler => "kube-scheduler",
        ProcKind::ControllerManager => "kube-controller-manager",
        ProcKind::Kubelet => "kubelet",
        ProcKind::Haproxy | ProcKind::Keepalived | ProcKind::Client | ProcKind::Informers => "",
    }
}

/// An alert's state between two evaluations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    Inactive,
    Pending,
    Firing,
}

/// A stretch of time an alert was pending or firing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlertSpan {
    pub start_ns: Nanos,
    pub end_ns: Nanos,
    pub state: AlertState,
}

/// One alert's evaluation over the run.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertRun {
    pub alert: Alert,
    /// Pending and firing stretches in time order (inactive time left out); a stretch that lasts to
    /// the end of the run ends at the run's end.
    pub spans: Vec<AlertSpan>,
    /// The label sets (`cp-1/etcd`, `worker-2`, `job=kubelet`) that fired, in order of first firing.
    pub fired: Vec<String>,
}

impl AlertRun {
    /// The starts of its firing stretches.
    pub fn firing_starts(&self) -> impl Iterator<Item = Nanos> + '_ {
        let mut prev: Option<AlertSpan> = None;
        self.spans.iter().filter_map(move |s| {
            let starts = s.state == AlertState::Firing
                && !prev.is_some_and(|p| p.state == AlertState::Firing && p.end_ns == s.start_ns);
            prev = Some(*s);
            starts.then_some(s.start_ns)
        })
    }

    /// Whether it ever fired.
    pub fn fired(&self) -> bool {
        self.spans.iter().any(|s| s.state == AlertState::Firing)
    }
}

/// A step function of time: the value changes at each `(time, value)`, `initial` before the first.
#[derive(Clone, Debug, Default)]
struct Steps {
    initial: bool,
    changes: Vec<(Nanos, bool)>,
}

impl Steps {
    fn new(initial: bool) -> Steps {
        Steps {
            initial,
            changes: Vec::new(),
        }
    }

    fn set(&mut self, t: Nanos, v: bool) {
        self.changes.push((t, v));
    }

    /// The value at `t` (a change at `t` counts).
    fn at(&self, t: Nanos) -> bool {
        let i = self.changes.partition_point(|(c, _)| *c <= t);
        if i == 0 {
            self.initial
        } else {
            self.changes[i - 1].1
        }
    }
}

/// What the rules read, derived from the trace once.
struct Signals {
    /// Per scraped process: `up`.
    up: BTreeMap<u16, Steps>,
    /// Per etcd member: `etcd_server_has_leader == 0`.
    no_leader: BTreeMap<u16, Steps>,
    /// Per etcd member: peer send failures.
    peer_failures: BTreeMap<u16, Steps>,
    /// Per Kubernetes node: the stored Ready condition is not True.
    not_ready: BTreeMap<u16, Steps>,
    /// When a member became leader, in time order.
    leader_elections: Vec<Nanos>,
    /// The load's requests by completion time, with the running count of bad ones (failed or slow).
    completions: Vec<Nanos>,
    bad_before: Vec<u32>,
}

fn signals(trace: &Trace, layout: &Layout) -> Signals {
    let mut s = Signals {
        up: BTreeMap::new(),
        no_leader: BTreeMap::new(),
        peer_failures: BTreeMap::new(),
        not_ready: BTreeMap::new(),
        leader_elections: Vec::new(),
        completions: Vec::new(),
        bad_before: Vec::new(),
    };
    for (i, p) in layout.procs.iter().enumerate() {
        if scraped(p.kind) {
            s.up.insert(crate::engine::id16(i), Steps::new(false));
        }
        if p.kind == ProcKind::Etcd {
            s.no_leader
                .insert(crate::engine::id16(i), Steps::new(false));
            s.peer_failures
                .insert(crate::engine::id16(i), Steps::new(false));
        }
    }
    for (n, node) in layout.nodes.iter().enumerate() {
        if matches!(node.kind, NodeKind::ControlPlane | NodeKind::Worker) {
            s.not_ready
                .insert(crate::engine::id16(n), Steps::new(false));
        }
    }
    for e in &trace.events {
        let t = e.time_ns;
        match e.kind {
            TraceKind::Scrape { proc, up } => s.up.entry(proc).or_default().set(t, up),
            TraceKind::EtcdHealth {
                proc,
                has_leader,
                peer_failures,
            } => {
                s.no_leader.entry(proc).or_default().set(t, !has_leader);
                s.peer_failures
                    .entry(proc)
                    .or_default()
                    .set(t, peer_failures);
            }
            TraceKind::NodeReady { node, ready } => {
                s.not_ready.entry(node).or_default().set(t, !ready)
            }
            TraceKind::EtcdRole {
                role: Role::Leader, ..
            } => s.leader_elections.push(t),
            _ => {}
        }
    }
    let mut done: Vec<(Nanos, bool)> = trace
        .requests
        .iter()
        .map(|r| {
            let bad = !r.ok || r.latency_ns > API_SLO_SLOW_NS;
            (r.sent_ns + r.latency_ns, bad)
        })
        .collect();
    done.sort_unstable();
    let mut bad = 0u32;
    for (t, b) in done {
        s.bad_before.push(bad);
        bad += b as u32;
        s.completions.push(t);
    }
    s.bad_before.push(bad);
    s
}

impl Signals {
    /// The share of requests completed in `(t - window, t]` (not before `from`) that were bad, or None
    /// with no requests in it.
    fn error_ratio(&self, from: Nanos, t: Nanos, window: Nanos) -> Option<f64> {
        let lo = t.saturating_sub(window).max(from);
        let a = self.completions.partition_point(|c| *c <= lo);
        let b = self.completions.partition_point(|c| *c <= t);
        (b > a).then(|| (self.bad_before[b] - self.bad_before[a]) as f64 / (b - a) as f64)
    }
}

/// One series of a rule: its label and its expression's value at an evaluation.
struct Series<'a> {
    label: String,
    holds: Box<dyn Fn(Nanos) -> bool + 'a>,
    for_ns: Nanos,
}

/// The multi-window burn-rate rules of `KubeAPIErrorBudgetBurn` (kubernetes-mixin config.libsonnet
/// `SLOs.apiserver.windows`): `(long, short, factor, for)`.
const BURN_WINDOWS: [(Nanos, Nanos, f64, Nanos); 4] = [
    (HOUR, 5 * MIN, 14.4, 2 * MIN),
    (6 * HOUR, 30 * MIN, 6.0, 15 * MIN),
    (24 * HOUR, 2 * HOUR, 3.0, HOUR),
    (72 * HOUR, 6 * HOUR, 1.0, 3 * HOUR),
];

/// The series of one alert in this run (none: the run has nothing the rule reads).
fn series<'a>(a: Alert, s: &'a Signals, layout: &'a Layout, from: Nanos) -> Vec<Series<'a>> {
    let for_ns = a.def().for_ns;
    let pname = |p: u16| layout.procs[p as usize].name.clone();
    let of_kind = |k: ProcKind| -> Vec<u16> {
        s.up.keys()
            .copied()
            .filter(|p| layout.procs[*p as usize].kind == k)
            .collect()
    };
    let one = |label: String, holds: Box<dyn Fn(Nanos) -> bool + 'a>| {
        vec![Series {
            label,
            holds,
            for_ns,
        }]
    };
    let members = of_kind(ProcKind::Etcd);
    match a {
        Alert::EtcdNoLeader => members
            .iter()
            .map(|&m| Series {
                label: pname(m),
                holds: Box::new(move |t| s.up[&m].at(t) && s.no_leader[&m].at(t)),
                for_ns,
            })
            .collect(),
        Alert::EtcdInsufficientMembers if !members.is_empty() => one(
            "job=etcd".into(),
            Box::new(move |t| {
                let up = members.iter().filter(|m| s.up[m].at(t)).count() as f64;
                up < (members.len() as f64 + 1.0) / 2.0
            }),
        ),
        Alert::EtcdMembersDown if !members.is_empty() => one(
            "job=etcd".into(),
            Box::new(move |t| {
                members
                    .iter()
                    .any(|m| !s.up[m].at(t) || (s.up[m].at(t) && s.peer_failures[m].at(t)))
            }),
        ),
        Alert::EtcdHighNumberOfLeaderChanges if !members.is_empty() => one(
            "job=etcd".into(),
            Box::new(move |t| {
                let lo = t.saturating_sub(15 * MIN).max(from);
                let n = s
                    .leader_elections
                    .iter()
                    .filter(|e| **e > lo && **e <= t)
                    .count();
                n >= 4 && members.iter().any(|m| s.up[m].at(t))
            }),
        ),
        Alert::KubeApiDown => all_down(of_kind(ProcKind::ApiServer), s, for_ns),
        Alert::KubeControllerManagerDown => {
            all_down(of_kind(ProcKind::ControllerManager), s, for_ns)
        }
        Alert::KubeSchedulerDown => all_down(of_kind(ProcKind::Scheduler), s, for_ns),
        Alert::KubeApiInstanceUnreachable => {
            each_down(of_kind(ProcKind::ApiServer), s, layout, for_ns)
        }
        Alert::KubeControllerManagerInstanceUnreachable => {
            each_down(of_kind(ProcKind::ControllerManager), s, layout, for_ns)
        }
        Alert::KubeSchedulerInstanceUnreachable => {
            each_down(of_kind(ProcKind::Scheduler), s, layout, for_ns)
        }
        Alert::KubeApiErrorBudgetBurn if !s.completions.is_empty() => BURN_WINDOWS
            .iter()
            .map(|&(long, short, factor, for_ns)| Series {
                label: format!(
                    "long={} short={}",
                    crate::engine::fmt_duration(long),
                    crate::engine::fmt_duration(short)
                ),
                holds: Box::new(move |t| {
                    let over = |w| {
                        s.error_ratio(from, t, w)
                            .is_some_and(|r| r > factor * API_SLO_ERROR_BUDGET)
                    };
                    over(long) && over(short)
                }),
                for_ns,
            })
            .collect(),
        Alert::KubeNodeNotReady | Alert::KubeNodeUnreachable => s
            .not_ready
            .keys()
            .map(|&n| Series {
                label: layout.nodes[n as usize].name.clone(),
                holds: Box::new(move |t| s.not_ready[&n].at(t)),
                for_ns,
            })
            .collect(),
        Alert::TargetDown => [
            ProcKind::Etcd,
            ProcKind::ApiServer,
            ProcKind::Scheduler,
            ProcKind::ControllerManager,
            ProcKind::Kubelet,
        ]
        .into_iter()
        .filter_map(|k| {
            let procs = of_kind(k);
            (!procs.is_empty()).then(|| Series {
                label: format!("job={}", job(k)),
                holds: Box::new(move |t| {
                    let down = procs.iter().filter(|p| !s.up[p].at(t)).count();
                    100.0 * down as f64 / procs.len() as f64 > 10.0
                }),
                for_ns,
            })
        })
        .collect(),
        Alert::EtcdInsufficientMembers
        | Alert::EtcdMembersDown
        | Alert::EtcdHighNumberOfLeaderChanges
        | Alert::KubeApiErrorBudgetBurn => Vec::new(),
    }
}

/// `absent(up{job} == 1)`: no instance of the job is scraped.
fn all_down<'a>(procs: Vec<u16>, s: &'a Signals, for_ns: Nanos) -> Vec<Series<'a>> {
    if procs.is_empty() {
        return Vec::new();
    }
    vec![Series {
        label: "absent".into(),
        holds: Box::new(move |t| !procs.iter().any(|p| s.up[p].at(t))),
        for_ns,
    }]
}

/// `up{job} == 0`: one series per instance.
fn each_down<'a>(
    procs: Vec<u16>,
    s: &'a Signals,
    layout: &Layout,
    for_ns: Nanos,
) -> Vec<Series<'a>> {
    procs
        .into_iter()
        .map(|p| Series {
            label: layout.procs[p as usize].name.clone(),
            holds: Box::new(move |t| !s.up[&p].at(t)),
            for_ns,
        })
        .collect()
}

/// The first evaluation instant: monitoring starts at `from` (the end of the warm-up: the monitoring
/// stack is deployed on a running cluster), and evaluations fall every [`EVALUATION_INTERVAL_NS`] after
/// an offset drawn from the seed (Prometheus staggers rule groups by a hash of their name), in whole
/// milliseconds, so runs with one seed are byte-identical.
pub fn first_evaluation(from: Nanos, seed: u64) -> Nanos {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ 0xa1e7_5a1e;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let offset_ms = z % (EVALUATION_INTERVAL_NS / 1_000_000);
    from + offset_ms * 1_000_000
}

/// Evaluates every alert over `[from, end)`, with evaluations from [`first_evaluation`].
pub fn evaluate(
    trace: &Trace,
    layout: &Layout,
    from: Nanos,
    end: Nanos,
    seed: u64,
) -> Vec<AlertRun> {
    let s = signals(trace, layout);
    let first = first_evaluation(from, seed);
    let evals: Vec<Nanos> = (0..)
        .map(|k| first + k * EVALUATION_INTERVAL_NS)
        .take_while(|t| *t < end)
        .collect();
    Alert::ALL
        .iter()
        .filter_map(|&a| {
            let series = series(a, &s, layout, from);
            (!series.is_empty()).then(|| run_rule(a, &series, &evals, end))
        })
        .collect()
}

/// Prometheus's `for:` state machine over the evaluations, per series, merged into the alert's spans.
fn run_rule(alert: Alert, series: &[Series], evals: &[Nanos], end: Nanos) -> AlertRun {
    let mut active: Vec<Option<Nanos>> = vec![None; series.len()];
    let mut fired: Vec<String> = Vec::new();
    let mut states: Vec<(Nanos, AlertState)> = Vec::new();
    for &t in evals {
        let mut state = AlertState::Inactive;
        for (i, sr) in series.iter().enumerate() {
            if !(sr.holds)(t) {
                active[i] = None;
                continue;
            }
            let since = *active[i].get_or_insert(t);
            let st = if t - since >= sr.for_ns {
                if !fired.contains(&sr.label) {
                    fired.push(sr.label.clone());
                }
                AlertState::Firing
            } else {
                AlertState::Pending
            };
            state = state.max(st);
        }
        if states.last().map(|(_, s)| *s) != Some(state) {
            states.push((t, state));
        }
    }
    let mut spans = Vec::new();
    for (i, &(t, state)) in states.iter().enumerate() {
        let until = states.get(i + 1).map(|(u, _)| *u).unwrap_or(end);
        if state != AlertState::Inactive {
            debug_assert!(until > t, "spans are non-empty");
            spans.push(AlertSpan {
                start_ns: t,
                end_ns: until,
                state,
            });
        }
    }
    AlertRun {
        alert,
        spans,
        fired,
    }
}

/// The alert metrics over `[w, end)`: `alert.NAME.firings` (firing stretches that began in it),
/// `alert.NAME.firing_s`, and `alert.NAME.detect_s` (from the first fault that starts in it, or `w`
/// without one, to the alert's first firing after that; left out when it did not fire).
pub fn metrics(
    alerts: &[AlertRun],
    fault_starts: &[Nanos],
    w: Nanos,
    end: Nanos,
    m: &mut super::metrics::Metrics,
) {
    use super::catalog::Metric;
    let reference = fault_starts
        .iter()
        .copied()
        .filter(|f| *f >= w && *f < end)
        .min()
        .unwrap_or(w);
    for a in alerts {
        let name = a.alert.name();
        let firings = a.firing_starts().filter(|t| *t >= w && *t < end).count();
        let firing_ns: Nanos = a
            .spans
            .iter()
            .filter(|s| s.state == AlertState::Firing)
            .map(|s| s.end_ns.min(end).saturating_sub(s.start_ns.max(w)))
            .sum();
        m.insert(Metric::AlertFirings.alert_key(name), firings as f64);
        m.insert(
            Metric::AlertFiringTime.alert_key(name),
            crate::engine::secs(firing_ns),
        );
        if let Some(t) = a.firing_starts().find(|t| *t >= reference && *t < end) {
            m.insert(
                Metric::AlertDetect.alert_key(name),
                crate::engine::secs(t - reference),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_variant_once() {
        for (i, a) in Alert::ALL.iter().enumerate() {
            assert_eq!(a.def().alert, *a, "row {i} describes another alert");
            assert_eq!(Alert::from_name(a.name()), Some(*a));
        }
        assert_eq!(Alert::ALL.len(), Alert::TargetDown as usize + 1);
    }

    fn rule(changes: &[(u64, bool)], for_s: u64, evals: &[u64]) -> Vec<(u64, u64, AlertState)> {
        let mut st = Steps::new(false);
        for &(t, v) in changes {
            st.set(t * SEC, v);
        }
        let series = [Series {
            label: "x".into(),
            holds: Box::new(move |t| st.at(t)),
            for_ns: for_s * SEC,
        }];
        let evals: Vec<Nanos> = evals.iter().map(|e| e * SEC).collect();
        run_rule(Alert::EtcdNoLeader, &series, &evals, 1000 * SEC)
            .spans
            .iter()
            .map(|s| (s.start_ns / SEC, s.end_ns / SEC, s.state))
            .collect()
    }

    #[test]
    fn pending_then_firing_after_for_then_resolved() {
        use AlertState::{Firing, Pending};
        let evals: Vec<u64> = (0..20).map(|k| 5 + 30 * k).collect();
        // Condition from 100 s to 300 s; evaluations at 5, 35, ..., so first seen at 125 s.
        assert_eq!(
            rule(&[(100, true), (300, false)], 60, &evals),
            vec![(125, 185, Pending), (185, 305, Firing)]
        );
        // Shorter than `for`: pending only.
        assert_eq!(
            rule(&[(100, true), (170, false)], 60, &evals),
            vec![(125, 185, Pending)]
        );
        // A blip between evaluations is never seen.
        assert_eq!(rule(&[(100, true), (110, false)], 60, &evals), vec![]);
    }
}
