//! kube-ha-sim: a deterministic discrete-event simulator of Kubernetes high-availability control planes.
//!
//! Data flows one way: scenario file → [`scenario`] → [`world`] (hosts, components, network) → the
//! engine runs events → [`observe::Trace`] → timelines and metrics → verdicts → reports.

// The model's arithmetic (engine, network, components, world, observation, scenario, topology) may not
// narrow a number silently: a truncating cast once turned an accepted election timeout into 0 ticks and
// a 136-year toleration into 32 minutes (issue 16). Conversions go through checked or documented helpers
// (`engine::ns_from_f64`, `engine::id16`, `engine::usize_from`, `engine::count32`) or `try_from`.
// Reports and pictures (pixel arithmetic) are outside it.
#[cfg(not(target_pointer_width = "64"))]
compile_error!(
    "kube-ha-sim indexes memory with u64 counts (engine::usize_from): 64-bit targets only"
);

pub mod capacity;
pub mod check;
pub mod cli;
#[warn(clippy::cast_possible_truncation)]
pub mod components;
#[warn(clippy::cast_possible_truncation)]
pub mod engine;
pub mod import;
pub mod inspect;
#[warn(clippy::cast_possible_truncation)]
pub mod net;
#[warn(clippy::cast_possible_truncation)]
pub mod observe;
pub mod report;
#[warn(clippy::cast_possible_truncation)]
pub mod run;
#[warn(clippy::cast_possible_truncation)]
pub mod scenario;
#[warn(clippy::cast_possible_truncation)]
pub mod topology;
#[warn(clippy::cast_possible_truncation)]
pub mod world;
