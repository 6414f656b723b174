//! One run of a scenario, end to end: build the world, run it, derive timelines, metrics and verdicts.
//! Everything after the run is a pure function of the trace.

use crate::engine::Nanos;
use crate::observe::metrics::{self, FaultSpan, MetricInputs, Metrics};
use crate::observe::timeline::{timelines, Timeline};
use crate::observe::Trace;
use crate::scenario::plan::ExpectationPlan;
use crate::scenario::Plan;
use crate::topology::{Layout, ProcKind};
use crate::world::faults::ResolvedFault;
use crate::world::{RunError, World};

/// An expectation with its verdict.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub expectation: ExpectationPlan,
    /// None when the metric does not exist in this run (a capability not modelled): a failure.
    pub actual: Option<f64>,
    pub passed: bool,
}

impl Verdict {
    /// The bound as text: `>= 0.99`.
    pub fn bound_text(&self) -> String {
        self.expectation.bound_text()
    }
}

/// Everything a run produced.
pub struct Outcome {
    pub scenario: Plan,
    pub seed: u64,
    pub layout: Layout,
    pub trace: Trace,
    pub timelines: Vec<Timeline>,
    pub metrics: Metrics,
    pub warmup_ns: Option<Nanos>,
    pub faults: Vec<ResolvedFault>,
    pub verdicts: Vec<Verdict>,
    pub events: u64,
    pub end_ns: Nanos,
    pub acknowledged_writes_lost: u64,
}

impl Outcome {
    /// True when every expectation held and the cluster reached steady state (a run that never did
    /// fails even without expectations: its metrics cover nothing).
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(|v| v.passed) && self.warmup_ns.is_some()
    }
}

/// Judges one expectation against the metrics (already computed over the expectation's window).
pub fn judge(e: &ExpectationPlan, metrics: &Metrics) -> Verdict {
    let (actual, passed) = e.judge(metrics);
    Verdict {
        expectation: e.clone(),
        actual,
        passed,
    }
}

/// The metrics of a finished run over `window` (None: from the warm-up to the end).
fn metrics_of(
    scenario: &Plan,
    layout: &Layout,
    trace: &Trace,
    tls: &[Timeline],
    end_ns: Nanos,
    acknowledged_writes_lost: u64,
    window: Option<(Nanos, Nanos)>,
) -> Metrics {
    let lease_of = |p: u16| -> Option<u16> {
        match layout.procs.get(p as usize).map(|s| s.kind) {
            Some(ProcKind::Scheduler) => Some(0),
            Some(ProcKind::ControllerManager) => Some(1),
            Some(
                ProcKind::Etcd
                | ProcKind::ApiServer
                | ProcKind::Kubelet
                | ProcKind::Haproxy
                | ProcKind::Keepalived
                | ProcKind::Client,
            )
            | None => None,
        }
    };
    let fault_spans: Vec<FaultSpan> = fault_spans(scenario);
    let workloads: Vec<(String, u32)> = scenario
        .workloads
        .iter()
        .map(|w| (w.name.clone(), w.replicas))
        .collect();
    metrics::compute(&MetricInputs {
        trace,
        timelines: tls,
        end_ns,
        lease_of: &lease_of,
        acknowledged_writes_lost,
        window,
        faults: &fault_spans,
        workloads: &workloads,
        lease_overrun_allowed: scenario.settings.leader_election.allows_lease_overrun(),
        api_servers: crate::engine::count32(layout.procs_of(ProcKind::ApiServer).count()),
        api_cores: scenario.settings.kube_apiserver.cores,
        load_timeout_ns: scenario.load.timeout.ns(),
    })
}

fn fault_spans(scenario: &Plan) -> Vec<FaultSpan> {
    scenario
        .faults
        .iter()
        .map(|f| FaultSpan {
            start_ns: f.at_ns,
            end_ns: f.end_ns(),
            repair: f.kind().is_repair(),
        })
        .collect()
}

impl Outcome {
    /// The metrics over `[from_ns, to_ns]` of the run (as an expectation's `window` measures them).
    pub fn metrics_between(&self, from_ns: Nanos, to_ns: Nanos) -> Metrics {
        metrics_of(
            &self.scenario,
            &self.layout,
            &self.trace,
            &self.timelines,
            self.end_ns,
            self.acknowledged_writes_lost,
            Some((from_ns, to_ns)),
        )
    }
}

/// Runs a scenario with a seed.
pub fn run(scenario: &Plan, seed: u64) -> Result<Outcome, RunError> {
    let mut world = World::build(scenario, seed);
    world.run()?;
    let end_ns = world.end_ns;
    let tls = timelines(&world.trace, end_ns);
    let lost = world.invariants.acknowledged_writes_lost;
    let of = |window| {
        metrics_of(
            scenario,
            &world.layout,
            &world.trace,
            &tls,
            end_ns,
            lost,
            window,
        )
    };
    let m = of(None);
    let verdicts = scenario
        .expect
        .iter()
        .map(|e| match e.window_ns {
            Some(w) => judge(e, &of(Some(w))),
            None => judge(e, &m),
        })
        .collect();
    let warmup_ns = metrics::warmup(&tls, &world.trace, &fault_spans(scenario));
    Ok(Outcome {
        scenario: scenario.clone(),
        seed,
        layout: world.layout.clone(),
        trace: std::mem::take(&mut world.trace),
        timelines: tls,
        metrics: m,
        warmup_ns,
        faults: world.faults.clone(),
        verdicts,
        events: world.events_processed,
        end_ns,
        acknowledged_writes_lost: lost,
    })
}
