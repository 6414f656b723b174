//! The discrete-event engine: integer time, a deterministic queue, seeded randomness.
//! It knows nothing of Kubernetes.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::EventQueue;
pub use time::{
    fmt_duration, fmt_duration_exact, parse_duration, secs, Nanos, HOUR, MIN, MS, SEC, US,
};
