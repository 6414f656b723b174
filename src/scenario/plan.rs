//! The typed, resolved plan of a run: what validation builds from the file ("parse, don't validate").
//!
//! The serde mirror in [`model`](super::model) is what the file says; the plan is what it means. Targets
//! are resolved to nodes, processes, zones or role selectors; the endpoint is an enum; each fault is an
//! action with its own fields; the layout is built once. `World::build`, the run, the reports, help and
//! `compare` consume only the plan, so nothing downstream parses a string again.

pub use super::expect::{Bound, ExpectationPlan};
pub use super::faults::{FaultAction, FaultPlan};
use super::model::{Dur, Load, Scenario, Settings, Topology, Workload};
use crate::engine::Nanos;
use crate::topology::Layout;
pub use crate::topology::{Endpoint, TopologyPlan};

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
    pub expect: Vec<ExpectationPlan>,
    /// Training questions (`exercise`), not used by the run.
    pub exercises: Vec<super::training::ExercisePlan>,
    /// Which nodes exist, in which zones, and which processes run on each.
    pub layout: Layout,
    /// Valid but hazardous settings, for the user to read (`warning: ...`).
    pub warnings: Vec<super::error::ScenarioError>,
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
                load_balancers: Some(t.load_balancers),
                load_balancer_placement: t.load_balancer_placement,
                endpoint: t.endpoint.name(),
            },
            settings: self.settings.clone(),
            load: self.load.clone(),
            workloads: self.workloads.clone(),
            faults: self.faults.iter().map(|f| f.spec.clone()).collect(),
            expect: self.expect.iter().map(ExpectationPlan::to_spec).collect(),
            exercises: self.exercises.iter().map(|e| e.spec.clone()).collect(),
        }
    }
}
