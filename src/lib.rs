//! kube-ha-sim: a deterministic discrete-event simulator of Kubernetes high-availability control planes.
//!
//! Data flows one way: scenario file → [`scenario`] → [`world`] (hosts, components, network) → the
//! engine runs events → [`observe::Trace`] → timelines and metrics → verdicts → reports.

pub mod capacity;
pub mod check;
pub mod cli;
pub mod components;
pub mod engine;
pub mod inspect;
pub mod net;
pub mod observe;
pub mod report;
pub mod run;
pub mod scenario;
pub mod topology;
pub mod world;
