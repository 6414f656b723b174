//! The discrete-event engine: integer time, a deterministic queue, seeded randomness.
//! It knows nothing of Kubernetes.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::EventQueue;
pub use time::{
    fmt_duration, fmt_duration_exact, parse_duration, secs, Nanos, HOUR, MIN, MS, SEC, US,
};

/// The bound on events a run of this length may process before it counts as running away. Generous: a
/// busy 100-worker cluster needs well under a million events per simulated minute; five times that
/// means something is storming. Validation estimates a scenario's events against the same bound.
pub fn event_bound(duration_ns: Nanos) -> u64 {
    let minutes = duration_ns / MIN + 1;
    20_000_000u64.saturating_add(minutes.saturating_mul(5_000_000))
}
