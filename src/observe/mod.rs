//! Observation of the model: the trace, capability timelines, metrics and invariant bookkeeping.

pub mod alerts;
pub mod catalog;
pub mod metrics;
pub mod timeline;
pub mod trace;

pub use catalog::{Capability, Metric};
pub use trace::{ProcState, RequestRecord, Trace, TraceEvent, TraceKind};
