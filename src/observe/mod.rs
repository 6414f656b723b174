//! Observation of the model: the trace, capability timelines, metrics and invariant bookkeeping.

pub mod metrics;
pub mod timeline;
pub mod trace;

pub use trace::{Capability, ProcState, RequestRecord, Trace, TraceEvent, TraceKind, CAPABILITIES};
