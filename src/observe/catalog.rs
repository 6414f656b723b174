//! The catalog of what a report measures: every capability and every metric, each declared once.
//!
//! A capability is one variant of [`Capability`]; a metric family is one variant of [`Metric`] whose row
//! in [`Metric::def`] gives its name, documentation, kind (ratio, seconds, milliseconds, count) and the
//! way it gets worse. Everything else derives from those two declarations: the names validation accepts
//! and lists as "known: ..." ([`known_metric`], [`allowed_list`]), the baseline tolerances
//! ([`MetricKind::tolerance`]), the direction a seed sweep takes the worst value in, the help text
//! ([`help_rows`]) and the keys `metrics::compute` writes (CONTRACT.md, "Metrics").

use serde::Serialize;

/// The capabilities the report measures (CONTRACT.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Api,
    EtcdQuorum,
    Scheduling,
    Reconciliation,
    Workloads,
}

impl Capability {
    /// Every capability, in report order (`index` order; a test checks the two agree).
    pub const ALL: &'static [Capability] = &[
        Capability::Api,
        Capability::EtcdQuorum,
        Capability::Scheduling,
        Capability::Reconciliation,
        Capability::Workloads,
    ];

    /// The metric prefix.
    pub const fn name(self) -> &'static str {
        match self {
            Capability::Api => "api",
            Capability::EtcdQuorum => "etcd_quorum",
            Capability::Scheduling => "scheduling",
            Capability::Reconciliation => "reconciliation",
            Capability::Workloads => "workloads",
        }
    }

    /// What "up" means, for help and reports (CONTRACT.md).
    pub const fn doc(self) -> &'static str {
        match self {
            Capability::Api => "a client request through the endpoint succeeds",
            Capability::EtcdQuorum => {
                "etcd has a leader that can commit (a quorum of members reachable)"
            }
            Capability::Scheduling => {
                "a kube-scheduler holds a valid lease, is alive and reaches a writable API"
            }
            Capability::Reconciliation => "the same for kube-controller-manager",
            Capability::Workloads => {
                "every desired replica is ready and in the endpoints users reach (needs workloads)"
            }
        }
    }

    /// The position in [`Capability::ALL`], for per-capability arrays.
    pub const fn index(self) -> usize {
        match self {
            Capability::Api => 0,
            Capability::EtcdQuorum => 1,
            Capability::Scheduling => 2,
            Capability::Reconciliation => 3,
            Capability::Workloads => 4,
        }
    }

    /// The capability with this metric prefix.
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.iter().copied().find(|c| c.name() == name)
    }
}

/// What kind of number a metric is. Its unit and its baseline tolerance follow from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A fraction, 0 to 1.
    Ratio,
    /// A duration in seconds.
    Seconds,
    /// A duration in milliseconds.
    Millis,
    /// A number of things (requests, leader changes, outages).
    Count,
}

impl MetricKind {
    /// The values a metric of this kind can take, and how to say so: a bound outside them can never
    /// hold (or always holds), so validation rejects it.
    pub const fn range(self) -> (f64, f64, &'static str) {
        match self {
            MetricKind::Ratio => (0.0, 1.0, "a fraction from 0 to 1"),
            MetricKind::Seconds => (0.0, f64::INFINITY, "a duration in seconds, 0 or more"),
            MetricKind::Millis => (0.0, f64::INFINITY, "a duration in milliseconds, 0 or more"),
            MetricKind::Count => (0.0, f64::INFINITY, "a count, 0 or more"),
        }
    }

    /// The default drift a baseline comparison allows (`check --baseline`, see `check::baseline`):
    /// fractions 0.005 absolute; durations half a unit or 10%; counts one or 10%.
    pub const fn tolerance(self) -> Tolerance {
        match self {
            MetricKind::Ratio => Tolerance {
                abs: 0.005,
                rel: 0.0,
            },
            MetricKind::Seconds | MetricKind::Millis => Tolerance {
                abs: 0.5,
                rel: 0.10,
            },
            MetricKind::Count => Tolerance {
                abs: 1.0,
                rel: 0.10,
            },
        }
    }

    /// The unit, as help shows it.
    pub const fn unit(self) -> &'static str {
        match self {
            MetricKind::Ratio => "0..1",
            MetricKind::Seconds => "s",
            MetricKind::Millis => "ms",
            MetricKind::Count => "count",
        }
    }
}

/// What the difference between a baseline value and a new one may be: `max(abs, rel * |baseline|)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute part, in the metric's unit.
    pub abs: f64,
    /// Relative part, a fraction of the baseline value (0.1 = 10%).
    pub rel: f64,
}

impl Tolerance {
    /// The drift allowed from `baseline`.
    pub fn allowed(&self, baseline: f64) -> f64 {
        self.abs.max(self.rel * baseline.abs())
    }
}

/// Which way a metric gets worse (a seed sweep keeps the worst value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worse {
    Lower,
    Higher,
}

/// What a metric family is measured for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `C.NAME` for every modelled capability C.
    PerCapability,
    /// `NAME`, once per run.
    Run,
    /// `api.NAME.LEVEL` for every APF priority level LEVEL that saw requests.
    PerLevel,
    /// `workload.W.NAME` for every declared workload W.
    PerWorkload,
    /// `alert.A.NAME` for every alert A the run evaluates (`observe::alerts`).
    PerAlert,
}

/// One metric family's row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MetricDef {
    pub metric: Metric,
    pub scope: Scope,
    /// The suffix for per-capability and per-workload families, else the full name.
    pub name: &'static str,
    pub kind: MetricKind,
    pub worse: Worse,
    pub doc: &'static str,
}

impl MetricDef {
    /// The name as help and error messages show it: `C.availability`, `api.requests`,
    /// `workload.NAME.ready_ratio`.
    pub fn pattern(&self) -> String {
        match self.scope {
            Scope::PerCapability => format!("C.{}", self.name),
            Scope::Run => self.name.to_string(),
            Scope::PerWorkload => format!("workload.NAME.{}", self.name),
            Scope::PerLevel => format!("api.{}.LEVEL", self.name),
            Scope::PerAlert => format!("alert.ALERT.{}", self.name),
        }
    }
}

/// Every metric family (CONTRACT.md "Metrics", plus `C.recovery_s`, `workload.NAME.ready_ratio` and
/// `warmup_s`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    Availability,
    Downtime,
    LongestOutage,
    Outages,
    Recovery,
    ApiRequests,
    ApiFailedRequests,
    ApiLatencyP50,
    ApiLatencyP99,
    ApiMutatingLatencyP99,
    ApiReadonlyLatencyP99,
    ApiThrottled,
    ApiSaturated,
    ApiRelists,
    ApiRelistsPeak,
    ApiServerUtilization,
    EtcdUtilization,
    LevelLatencyP99,
    LevelThrottled,
    EtcdLeaderChanges,
    EtcdElections,
    SchedulerLeaderChanges,
    ControllerManagerLeaderChanges,
    SchedulingSplitBrain,
    ReconciliationSplitBrain,
    WorkloadsReadyRatio,
    WorkloadReadyRatio,
    WorkloadsReachableRatio,
    WorkloadReachableRatio,
    AcknowledgedWritesLost,
    InvariantViolations,
    Warmup,
    AlertFirings,
    AlertFiringTime,
    AlertDetect,
    PastLeaseActions,
}

/// A `&'static` row of the table (a constant, so the reference is to static data).
macro_rules! row {
    ($($arg:tt)*) => {{
        const ROW: MetricDef = row($($arg)*);
        &ROW
    }};
}

/// A row of the table, written once per variant in [`Metric::def`].
const fn row(
    metric: Metric,
    scope: Scope,
    name: &'static str,
    kind: MetricKind,
    worse: Worse,
    doc: &'static str,
) -> MetricDef {
    MetricDef {
        metric,
        scope,
        name,
        kind,
        worse,
        doc,
    }
}

use MetricKind::{Count, Millis, Ratio, Seconds};
use Scope::{PerAlert, PerCapability, PerLevel, PerWorkload, Run};
use Worse::{Higher, Lower};

impl Metric {
    /// Every family, in help order (a test checks it lists every variant once).
    pub const ALL: &'static [Metric] = &[
        Metric::Availability,
        Metric::Downtime,
        Metric::LongestOutage,
        Metric::Outages,
        Metric::Recovery,
        Metric::ApiRequests,
        Metric::ApiFailedRequests,
        Metric::ApiLatencyP50,
        Metric::ApiLatencyP99,
        Metric::ApiMutatingLatencyP99,
        Metric::ApiReadonlyLatencyP99,
        Metric::ApiThrottled,
        Metric::ApiSaturated,
        Metric::ApiRelists,
        Metric::ApiRelistsPeak,
        Metric::ApiServerUtilization,
        Metric::EtcdUtilization,
        Metric::LevelLatencyP99,
        Metric::LevelThrottled,
        Metric::EtcdLeaderChanges,
        Metric::EtcdElections,
        Metric::SchedulerLeaderChanges,
        Metric::ControllerManagerLeaderChanges,
        Metric::SchedulingSplitBrain,
        Metric::ReconciliationSplitBrain,
        Metric::WorkloadsReadyRatio,
        Metric::WorkloadReadyRatio,
        Metric::WorkloadsReachableRatio,
        Metric::WorkloadReachableRatio,
        Metric::AcknowledgedWritesLost,
        Metric::InvariantViolations,
        Metric::Warmup,
        Metric::AlertFirings,
        Metric::AlertFiringTime,
        Metric::AlertDetect,
        Metric::PastLeaseActions,
    ];

    /// The table: one row per family (variant, scope, name, kind, which way is worse; then the doc).
    #[rustfmt::skip]
    pub const fn def(self) -> &'static MetricDef {
        use Metric as M;
        match self {
            M::Availability => row!(M::Availability, PerCapability, "availability", Ratio, Lower,
                "fraction of the measured run it was up, 0 to 1"),
            M::Downtime => row!(M::Downtime, PerCapability, "downtime_s", Seconds, Higher,
                "seconds it was down"),
            M::LongestOutage => row!(M::LongestOutage, PerCapability, "longest_outage_s", Seconds, Higher,
                "longest single outage, seconds"),
            M::Outages => row!(M::Outages, PerCapability, "outages", Count, Higher,
                "number of outages"),
            M::Recovery => row!(M::Recovery, PerCapability, "recovery_s", Seconds, Higher,
                "worst time from a fault's end until C is up for good (when a fault ends)"),
            M::ApiRequests => row!(M::ApiRequests, Run, "api.requests", Count, Lower,
                "client requests sent"),
            M::ApiFailedRequests => row!(M::ApiFailedRequests, Run, "api.failed_requests", Count, Higher,
                "client requests that failed or timed out"),
            M::ApiLatencyP50 => row!(M::ApiLatencyP50, Run, "api.latency_p50_ms", Millis, Higher,
                "median latency of successful requests"),
            M::ApiLatencyP99 => row!(M::ApiLatencyP99, Run, "api.latency_p99_ms", Millis, Higher,
                "99th percentile latency of successful requests"),
            M::ApiMutatingLatencyP99 => row!(M::ApiMutatingLatencyP99, Run, "api.mutating_latency_p99_ms", Millis, Higher,
                "99th percentile latency of the load's writes, retries included, a failed write counted as the load's timeout (the SLO: at most 1000)"),
            M::ApiReadonlyLatencyP99 => row!(M::ApiReadonlyLatencyP99, Run, "api.readonly_latency_p99_ms", Millis, Higher,
                "99th percentile latency of the load's reads (single-object GETs), retries included, a failed read counted as the load's timeout (the SLO: at most 1000)"),
            M::ApiThrottled => row!(M::ApiThrottled, Run, "api.throttled_requests", Count, Higher,
                "429 Too Many Requests answers of the API servers (APF or max-in-flight), every client"),
            M::ApiSaturated => row!(M::ApiSaturated, Run, "api.saturated_s", Seconds, Higher,
                "seconds in which an API server queued or rejected a request for want of a seat"),
            M::ApiRelists => row!(M::ApiRelists, Run, "api.relists", Count, Higher,
                "LISTs the informers sent after their first successful one (after a broken watch; with load.informers)"),
            M::ApiRelistsPeak => row!(M::ApiRelistsPeak, Run, "api.relists_peak_per_s", Count, Higher,
                "the most informer relists begun in one second of the run: the storm's peak (with load.informers)"),
            M::ApiServerUtilization => row!(M::ApiServerUtilization, Run, "apiserver.utilization", Ratio, Higher,
                "CPU the API servers spent serving, as a fraction of all their cores"),
            M::EtcdUtilization => row!(M::EtcdUtilization, Run, "etcd.utilization", Ratio, Higher,
                "CPU the etcd members spent on reads and applied writes, as a fraction of all their cores (with client load)"),
            M::LevelLatencyP99 => row!(M::LevelLatencyP99, PerLevel, "latency_p99_ms", Millis, Higher,
                "99th percentile server-side latency (queue, etcd, CPU) of one APF priority level's requests"),
            M::LevelThrottled => row!(M::LevelThrottled, PerLevel, "throttled_requests", Count, Higher,
                "429s of one APF priority level"),
            M::EtcdLeaderChanges => row!(M::EtcdLeaderChanges, Run, "etcd.leader_changes", Count, Higher,
                "times an etcd member became leader"),
            M::EtcdElections => row!(M::EtcdElections, Run, "etcd.elections", Count, Higher,
                "etcd elections started (pre-votes not counted)"),
            M::SchedulerLeaderChanges => row!(M::SchedulerLeaderChanges, Run, "scheduler.leader_changes", Count, Higher,
                "times a kube-scheduler started leading"),
            M::ControllerManagerLeaderChanges => row!(M::ControllerManagerLeaderChanges, Run, "controller_manager.leader_changes", Count, Higher,
                "times a kube-controller-manager started leading"),
            M::SchedulingSplitBrain => row!(M::SchedulingSplitBrain, Run, "scheduling.split_brain_s", Seconds, Higher,
                "time with two acting kube-schedulers"),
            M::ReconciliationSplitBrain => row!(M::ReconciliationSplitBrain, Run, "reconciliation.split_brain_s", Seconds, Higher,
                "time with two acting kube-controller-managers"),
            M::WorkloadsReadyRatio => row!(M::WorkloadsReadyRatio, Run, "workloads.ready_ratio", Ratio, Lower,
                "time-averaged fraction of desired replicas ready, all workloads (needs workloads)"),
            M::WorkloadsReachableRatio => row!(M::WorkloadsReachableRatio, Run, "workloads.reachable_ratio", Ratio, Lower,
                "time-averaged fraction of requests through the workloads' Services that reach a serving pod (needs workloads)"),
            M::WorkloadReachableRatio => row!(M::WorkloadReachableRatio, PerWorkload, "reachable_ratio", Ratio, Lower,
                "the same for one declared workload"),
            M::WorkloadReadyRatio => row!(M::WorkloadReadyRatio, PerWorkload, "ready_ratio", Ratio, Lower,
                "the same for one declared workload"),
            M::AcknowledgedWritesLost => row!(M::AcknowledgedWritesLost, Run, "data.acknowledged_writes_lost", Count, Higher,
                "acknowledged writes later missing"),
            M::InvariantViolations => row!(M::InvariantViolations, Run, "invariants.violations", Count, Higher,
                "invariant violations seen"),
            M::Warmup => row!(M::Warmup, Run, "warmup_s", Seconds, Higher,
                "the first moment every capability is up; metrics are measured from there"),
            M::AlertFirings => row!(M::AlertFirings, PerAlert, "firings", Count, Higher,
                "times the alert started firing (see Alerts)"),
            M::AlertFiringTime => row!(M::AlertFiringTime, PerAlert, "firing_s", Seconds, Higher,
                "seconds the alert was firing"),
            M::AlertDetect => row!(M::AlertDetect, PerAlert, "detect_s", Seconds, Higher,
                "time to detect: from the first fault's start to the alert's first firing after it (absent when it did not fire); `fires_within` reads it"),
            M::PastLeaseActions => row!(M::PastLeaseActions, Run, "leader_election.past_lease_actions", Count, Higher,
                "actions of a scheduler or controller manager past its lease, which leader-election settings with retry_period + renew_deadline > lease_duration allow (measured only with such settings)"),
        }
    }

    /// The full name of a run-wide metric (`api.requests`).
    pub fn key(self) -> &'static str {
        let d = self.def();
        debug_assert_eq!(
            d.scope,
            Scope::Run,
            "{self:?} needs a capability or workload"
        );
        d.name
    }

    /// The full name of a per-capability metric for `c` (`api.availability`).
    pub fn cap_key(self, c: Capability) -> String {
        let d = self.def();
        debug_assert_eq!(
            d.scope,
            Scope::PerCapability,
            "{self:?} is not per capability"
        );
        format!("{}.{}", c.name(), d.name)
    }

    /// The full name of a per-level metric for priority level `level` (`api.latency_p99_ms.workload-low`).
    pub fn level_key(self, level: &str) -> String {
        let d = self.def();
        debug_assert_eq!(d.scope, Scope::PerLevel, "{self:?} is not per level");
        format!("api.{}.{level}", d.name)
    }

    /// The full name of a per-alert metric for alert `a` (`alert.etcdNoLeader.firings`).
    pub fn alert_key(self, a: &str) -> String {
        let d = self.def();
        debug_assert_eq!(d.scope, Scope::PerAlert, "{self:?} is not per alert");
        format!("alert.{a}.{}", d.name)
    }

    /// The full name of a per-workload metric for workload `w` (`workload.web.ready_ratio`).
    pub fn workload_key(self, w: &str) -> String {
        let d = self.def();
        debug_assert_eq!(d.scope, Scope::PerWorkload, "{self:?} is not per workload");
        format!("workload.{w}.{}", d.name)
    }
}

/// The family of a full metric name, for any workload name (baselines and sweeps, which do not know the
/// scenario's workloads).
pub fn lookup(name: &str) -> Option<&'static MetricDef> {
    parse(name, |_| true)
}

/// Every full metric name of a run declaring these workloads, in catalog order (for "did you mean"
/// suggestions and "known: ..." lists).
pub fn all_names(workloads: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for c in Capability::ALL {
        for m in Metric::ALL
            .iter()
            .filter(|m| m.def().scope == Scope::PerCapability)
        {
            out.push(m.cap_key(*c));
        }
    }
    for m in Metric::ALL {
        match m.def().scope {
            Scope::PerCapability => {}
            Scope::Run => out.push(m.key().to_string()),
            Scope::PerWorkload => out.extend(workloads.iter().map(|w| m.workload_key(w))),
            Scope::PerLevel => out.extend(LEVEL_NAMES.iter().map(|l| m.level_key(l))),
            Scope::PerAlert => out.extend(
                super::alerts::Alert::ALL
                    .iter()
                    .map(|a| m.alert_key(a.name())),
            ),
        }
    }
    out
}

/// The family of a metric an expectation may name in a scenario declaring `workloads`: per-capability
/// names for every capability, run-wide names, and `workload.W.ready_ratio` for a declared W. Whether the
/// run models the capability (a scenario with no workloads has no `workloads.*`) is the caller's rule.
pub fn known_metric(name: &str, workloads: &[&str]) -> Option<&'static MetricDef> {
    parse(name, |w| workloads.contains(&w))
}

fn parse(name: &str, workload_ok: impl Fn(&str) -> bool) -> Option<&'static MetricDef> {
    let by_scope = |scope: Scope, n: &str| {
        Metric::ALL
            .iter()
            .map(|m| m.def())
            .find(|d| d.scope == scope && d.name == n)
    };
    if let Some(d) = by_scope(Scope::Run, name) {
        return Some(d);
    }
    if let Some((family, level)) = name.strip_prefix("api.").and_then(|r| r.rsplit_once('.')) {
        if LEVEL_NAMES.contains(&level) {
            return by_scope(Scope::PerLevel, family);
        }
    }
    if let Some(rest) = name.strip_prefix("alert.") {
        let (a, suffix) = rest.rsplit_once('.')?;
        super::alerts::Alert::from_name(a)?;
        return by_scope(Scope::PerAlert, suffix);
    }
    if let Some(rest) = name.strip_prefix("workload.") {
        let (w, suffix) = rest.rsplit_once('.')?;
        return by_scope(Scope::PerWorkload, suffix).filter(|_| workload_ok(w));
    }
    let (cap, suffix) = name.split_once('.')?;
    Capability::from_name(cap)?;
    by_scope(Scope::PerCapability, suffix)
}

/// Every metric name an expectation may use, with per-workload families as patterns
/// (`workload.NAME.ready_ratio`): the "known: ..." list of validation errors.
pub fn allowed_list() -> String {
    let mut out: Vec<String> = Vec::new();
    for c in Capability::ALL {
        for m in Metric::ALL {
            if m.def().scope == Scope::PerCapability {
                out.push(m.cap_key(*c));
            }
        }
    }
    for m in Metric::ALL {
        match m.def().scope {
            Scope::Run => out.push(m.key().to_string()),
            Scope::PerWorkload | Scope::PerLevel | Scope::PerAlert => out.push(m.def().pattern()),
            Scope::PerCapability => {}
        }
    }
    out.join(", ")
}

/// The help text's rows, `(name, text)`: the per-capability families, the capabilities, then the other
/// metrics, each text ending with its unit.
pub fn help_rows() -> Vec<(String, String)> {
    let with_unit = |d: &MetricDef| format!("{} [{}]", d.doc, d.kind.unit());
    let defs = || Metric::ALL.iter().map(|m| m.def());
    let mut rows: Vec<(String, String)> = defs()
        .filter(|d| d.scope == Scope::PerCapability)
        .map(|d| (d.pattern(), with_unit(d)))
        .collect();
    rows.extend(
        Capability::ALL
            .iter()
            .map(|c| (c.name().to_string(), c.doc().to_string())),
    );
    rows.extend(
        defs()
            .filter(|d| d.scope != Scope::PerCapability)
            .map(|d| (d.pattern(), with_unit(d))),
    );
    rows
}

/// The priority levels a per-level metric may name (every bootstrap level but `exempt`).
pub const LEVEL_NAMES: [&str; 7] = [
    "leader-election",
    "node-high",
    "system",
    "workload-high",
    "workload-low",
    "global-default",
    "catch-all",
];

/// The names of [`Capability::ALL`], as a constant (for code that wants `&[&str]`).
pub const CAPABILITY_NAMES: [&str; Capability::ALL.len()] = {
    let mut out = [""; Capability::ALL.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = Capability::ALL[i].name();
        i += 1;
    }
    out
};

const fn count(scope: Scope) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < Metric::ALL.len() {
        if same_scope(Metric::ALL[i].def().scope, scope) {
            n += 1;
        }
        i += 1;
    }
    n
}

const fn same_scope(a: Scope, b: Scope) -> bool {
    a as u8 == b as u8
}

const fn names<const N: usize>(scope: Scope) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut n) = (0, 0);
    while i < Metric::ALL.len() {
        let d = Metric::ALL[i].def();
        if same_scope(d.scope, scope) {
            out[n] = d.name;
            n += 1;
        }
        i += 1;
    }
    out
}

/// The per-capability suffixes (`availability`, ...), as a constant.
pub const PER_CAPABILITY_SUFFIXES: [&str; count(Scope::PerCapability)] =
    names(Scope::PerCapability);

/// The run-wide metric names (`api.requests`, ...), as a constant.
pub const RUN_METRIC_NAMES: [&str; count(Scope::Run)] = names(Scope::Run);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lists_name_every_variant_once_in_index_order() {
        for (i, c) in Capability::ALL.iter().enumerate() {
            assert_eq!(c.index(), i, "{c:?}");
            assert_eq!(Capability::from_name(c.name()), Some(*c));
        }
        for (i, m) in Metric::ALL.iter().enumerate() {
            assert_eq!(m.def().metric, *m, "row {i} describes another metric");
            assert_eq!(Metric::ALL.iter().filter(|x| *x == m).count(), 1, "{m:?}");
        }
        // A new variant must be added to ALL: the last variant closes the list.
        assert_eq!(Capability::ALL.last(), Some(&Capability::Workloads));
        assert_eq!(Metric::ALL.len(), Metric::PastLeaseActions as usize + 1);
    }

    #[test]
    fn names_resolve_to_their_rows() {
        let k = |n: &str| known_metric(n, &["web"]).map(|d| d.metric);
        assert_eq!(k("api.availability"), Some(Metric::Availability));
        assert_eq!(k("workloads.recovery_s"), Some(Metric::Recovery));
        assert_eq!(
            k("workloads.ready_ratio"),
            Some(Metric::WorkloadsReadyRatio)
        );
        assert_eq!(
            k("workload.web.ready_ratio"),
            Some(Metric::WorkloadReadyRatio)
        );
        assert_eq!(k("workload.db.ready_ratio"), None);
        assert_eq!(k("warmup_s"), Some(Metric::Warmup));
        assert_eq!(k("etcd.availability"), None);
        assert_eq!(k("api.ready_ratio"), None);
        assert_eq!(k("api"), None);
        assert_eq!(
            lookup("workload.a.b.ready_ratio").map(|d| d.metric),
            Some(Metric::WorkloadReadyRatio)
        );
        assert_eq!(
            lookup("api.latency_p99_ms").map(|d| d.kind),
            Some(MetricKind::Millis)
        );
    }

    #[test]
    fn derived_lists_follow_the_table() {
        assert_eq!(
            CAPABILITY_NAMES,
            [
                "api",
                "etcd_quorum",
                "scheduling",
                "reconciliation",
                "workloads"
            ]
        );
        assert_eq!(PER_CAPABILITY_SUFFIXES.len(), 5);
        assert_eq!(RUN_METRIC_NAMES.len(), 24);
        for (i, l) in LEVEL_NAMES.iter().enumerate() {
            assert_eq!(crate::components::apf::PriorityLevel::ALL[i + 1].name(), *l);
        }
        assert_eq!(
            known_metric("api.latency_p99_ms.workload-low", &[]).map(|d| d.metric),
            Some(Metric::LevelLatencyP99)
        );
        assert_eq!(known_metric("api.latency_p99_ms.exempt", &[]), None);
        let all = allowed_list();
        assert!(all.starts_with("api.availability, api.downtime_s"), "{all}");
        assert!(all.ends_with("leader_election.past_lease_actions"), "{all}");
        assert!(all.contains("workload.NAME.ready_ratio"), "{all}");
        assert!(all.contains("workload.NAME.reachable_ratio"), "{all}");
        let rows = help_rows();
        assert_eq!(rows.len(), 5 + 5 + 31);
        assert!(rows
            .iter()
            .any(|(n, t)| n == "C.recovery_s" && t.ends_with("[s]")));
    }
}
