//! One run of a scenario, end to end: build the world, run it, derive timelines, metrics and verdicts.
//! Everything after the run is a pure function of the trace.

use crate::engine::Nanos;
use crate::observe::alerts::{self, AlertRun};
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
    /// Every alert the run evaluates, with its pending and firing stretches.
    pub alerts: Vec<AlertRun>,
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

/// What a finished run's metrics are computed from.
struct Finished<'a> {
    scenario: &'a Plan,
    layout: &'a Layout,
    trace: &'a Trace,
    tls: &'a [Timeline],
    alerts: &'a [AlertRun],
    end_ns: Nanos,
    acknowledged_writes_lost: u64,
}

/// The metrics of a finished run over `window` (None: from the warm-up to the end).
fn metrics_of(f: &Finished, window: Option<(Nanos, Nanos)>) -> Metrics {
    let Finished {
        scenario,
        layout,
        trace,
        tls,
        alerts,
        end_ns,
        acknowledged_writes_lost,
    } = *f;
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
                | ProcKind::Client
                | ProcKind::Informers,
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
    let mut m = metrics::compute(&MetricInputs {
        trace,
        timelines: tls,
        end_ns,
        lease_of: &lease_of,
        acknowledged_writes_lost,
        window,
        faults: &fault_spans,
        workloads: &workloads,
        lease_overrun_allowed: crate::scenario::cert_clock::lease_overrun_possible(scenario),
        api_servers: crate::engine::count32(layout.procs_of(ProcKind::ApiServer).count()),
        api_cores: scenario.settings.kube_apiserver.cores,
        etcd_members: crate::engine::count32(layout.procs_of(ProcKind::Etcd).count()),
        etcd_cores: scenario.settings.etcd.cores,
        load_timeout_ns: scenario.load.timeout.ns(),
        informers: scenario.load.informers.count > 0,
    });
    let (w, end) = window.unwrap_or_else(|| {
        let warm = metrics::warmup(tls, trace, &fault_spans).unwrap_or(end_ns);
        (warm, end_ns)
    });
    let starts: Vec<Nanos> = fault_spans.iter().map(|f| f.start_ns).collect();
    alerts::metrics(alerts, &starts, w, end.min(end_ns), &mut m);
    m
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
        let f = Finished {
            scenario: &self.scenario,
            layout: &self.layout,
            trace: &self.trace,
            tls: &self.timelines,
            alerts: &self.alerts,
            end_ns: self.end_ns,
            acknowledged_writes_lost: self.acknowledged_writes_lost,
        };
        metrics_of(&f, Some((from_ns, to_ns)))
    }
}

/// Runs a scenario with a seed.
pub fn run(scenario: &Plan, seed: u64) -> Result<Outcome, RunError> {
    run_world(scenario, World::build(scenario, seed))
}

/// Runs `world`, built for `scenario` or forked into it ([`World::fork_with`]), possibly already run
/// part of the way, to its end, and derives the outcome as [`run`] does: a fork of a world run to T
/// gives the outcome of a plain run of `scenario` with the world's seed.
pub fn run_world(scenario: &Plan, mut world: World) -> Result<Outcome, RunError> {
    let seed = world.seed();
    world.run()?;
    let end_ns = world.end_ns;
    let tls = timelines(&world.trace, end_ns);
    let lost = world.invariants.acknowledged_writes_lost;
    let warmup_ns = metrics::warmup(&tls, &world.trace, &fault_spans(scenario));
    let alert_runs = alerts::evaluate(
        &world.trace,
        &world.layout,
        warmup_ns.unwrap_or(0),
        end_ns,
        seed,
    );
    let f = Finished {
        scenario,
        layout: &world.layout,
        trace: &world.trace,
        tls: &tls,
        alerts: &alert_runs,
        end_ns,
        acknowledged_writes_lost: lost,
    };
    let of = |window| metrics_of(&f, window);
    let m = of(None);
    let verdicts = scenario
        .expect
        .iter()
        .map(|e| match e.window_ns {
            Some(w) => judge(e, &of(Some(w))),
            None => judge(e, &m),
        })
        .collect();
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
        alerts: alert_runs,
        events: world.events_processed,
        end_ns,
        acknowledged_writes_lost: lost,
    })
}
