//! The typed, resolved plan of a run: what validation builds from the file ("parse, don't validate").
//!
//! The serde mirror in [`model`](super::model) is what the file says; the plan is what it means. Targets
//! are resolved to nodes, processes, zones or role selectors; the endpoint is an enum; each fault is an
//! action with its own fields; the layout is built once. `World::build`, the run, the reports, help and
//! `compare` consume only the plan, so nothing downstream parses a string again.

use super::model::{
    Dur, Expectation, Fault, FaultKind, Load, Scenario, Settings, Topology, Workload,
};
use crate::engine::Nanos;
pub use crate::topology::{Endpoint, TopologyPlan};
use crate::topology::{Layout, Target};

/// What a fault does, with the fields its kind takes and nothing else.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultAction {
    /// Processes lose volatile state and stay down (for `for`, or until restarted).
    Crash { target: Target },
    /// A graceful stop (SIGTERM), then down as a crash.
    Stop { target: Target },
    /// Starts what was crashed or stopped.
    Restart { target: Target },
    /// No traffic between the groups (each a list of nodes or zones).
    Partition { groups: Vec<Vec<Target>> },
    /// No traffic to or from one node (a node, or the node of a process or selector).
    Isolate { target: Target },
    /// Slower or lossy links between two ends (nodes or zones).
    DegradeLink {
        between: [Target; 2],
        latency_ns: Nanos,
        loss: f64,
    },
    /// Every etcd WAL fsync on the target's node takes `fsync_latency_ns`.
    SlowDisk {
        target: Target,
        fsync_latency_ns: Nanos,
    },
    /// The etcd member's data directory on the target's node is lost.
    WipeData { target: Target },
    /// `etcdutl snapshot restore` on every member from the snapshot taken at `snapshot_at_ns`.
    Restore { snapshot_at_ns: Nanos },
}

impl FaultAction {
    /// The kind of this action (its row in the fault-kind table).
    pub fn kind(&self) -> FaultKind {
        match self {
            FaultAction::Crash { .. } => FaultKind::Crash,
            FaultAction::Stop { .. } => FaultKind::Stop,
            FaultAction::Restart { .. } => FaultKind::Restart,
            FaultAction::Partition { .. } => FaultKind::Partition,
            FaultAction::Isolate { .. } => FaultKind::Isolate,
            FaultAction::DegradeLink { .. } => FaultKind::DegradeLink,
            FaultAction::SlowDisk { .. } => FaultKind::SlowDisk,
            FaultAction::WipeData { .. } => FaultKind::WipeData,
            FaultAction::Restore { .. } => FaultKind::Restore,
        }
    }

    /// The single target of a targeted fault.
    pub fn target(&self) -> Option<Target> {
        match self {
            FaultAction::Crash { target }
            | FaultAction::Stop { target }
            | FaultAction::Restart { target }
            | FaultAction::Isolate { target }
            | FaultAction::SlowDisk { target, .. }
            | FaultAction::WipeData { target } => Some(*target),
            FaultAction::Partition { .. }
            | FaultAction::DegradeLink { .. }
            | FaultAction::Restore { .. } => None,
        }
    }

    /// The same action with every target passed through `f` (used to carry a fault script over to
    /// another topology).
    pub fn map_targets(&self, mut f: impl FnMut(Target) -> Target) -> FaultAction {
        match self {
            FaultAction::Crash { target } => FaultAction::Crash { target: f(*target) },
            FaultAction::Stop { target } => FaultAction::Stop { target: f(*target) },
            FaultAction::Restart { target } => FaultAction::Restart { target: f(*target) },
            FaultAction::Partition { groups } => FaultAction::Partition {
                groups: groups
                    .iter()
                    .map(|g| g.iter().map(|t| f(*t)).collect())
                    .collect(),
            },
            FaultAction::Isolate { target } => FaultAction::Isolate { target: f(*target) },
            FaultAction::DegradeLink {
                between,
                latency_ns,
                loss,
            } => FaultAction::DegradeLink {
                between: [f(between[0]), f(between[1])],
                latency_ns: *latency_ns,
                loss: *loss,
            },
            FaultAction::SlowDisk {
                target,
                fsync_latency_ns,
            } => FaultAction::SlowDisk {
                target: f(*target),
                fsync_latency_ns: *fsync_latency_ns,
            },
            FaultAction::WipeData { target } => FaultAction::WipeData { target: f(*target) },
            FaultAction::Restore { snapshot_at_ns } => FaultAction::Restore {
                snapshot_at_ns: *snapshot_at_ns,
            },
        }
    }
}

/// One scripted fault of the plan.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// When it fires, from the start of the run.
    pub at_ns: Nanos,
    /// How long until it is undone (None: to the end of the run, or until a later fault undoes it).
    pub for_ns: Option<Nanos>,
    /// What it does.
    pub action: FaultAction,
    /// The fault as the file wrote it, for reports.
    pub spec: Fault,
}

impl FaultPlan {
    /// The kind of fault.
    pub fn kind(&self) -> FaultKind {
        self.action.kind()
    }

    /// When the fault is over, for recovery measurements: its `for` end, or its moment for a repair;
    /// None while it lasts to the end of the run (or, for a wipe, until something repairs it).
    pub fn end_ns(&self) -> Option<Nanos> {
        match self.for_ns {
            Some(d) => Some(self.at_ns.saturating_add(d)),
            None => self.kind().is_repair().then_some(self.at_ns),
        }
    }
}

/// A whole run, resolved.
#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration_ns: Nanos,
    pub topology: TopologyPlan,
    pub settings: Settings,
    pub load: Load,
    pub workloads: Vec<Workload>,
    pub faults: Vec<FaultPlan>,
    pub expect: Vec<Expectation>,
    /// Which nodes exist, in which zones, and which processes run on each.
    pub layout: Layout,
}

impl Plan {
    /// The scenario file this plan stands for (the inverse of validation), for designs derived from a
    /// plan in code, which go through validation again. Durations keep their nanoseconds exactly.
    pub fn to_scenario(&self) -> Scenario {
        let t = &self.topology;
        Scenario {
            name: self.name.clone(),
            description: self.description.clone(),
            seed: self.seed,
            duration: Dur(self.duration_ns),
            topology: Topology {
                etcd: t.etcd,
                control_plane_nodes: t.control_plane_nodes,
                etcd_nodes: t.etcd_nodes,
                workers: t.workers,
                zones: t.zones.clone(),
                load_balancers: t.load_balancers,
                endpoint: t.endpoint.name(),
            },
            settings: self.settings.clone(),
            load: self.load.clone(),
            workloads: self.workloads.clone(),
            faults: self.faults.iter().map(|f| f.spec.clone()).collect(),
            expect: self.expect.clone(),
        }
    }
}
