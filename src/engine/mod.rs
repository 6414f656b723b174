//! The discrete-event engine: integer time, a deterministic queue, seeded randomness.
//! It knows nothing of Kubernetes.

pub mod queue;
pub mod rng;
pub mod time;

pub use queue::EventQueue;
pub use time::{
    fmt_duration, fmt_duration_exact, parse_duration, secs, Nanos, HOUR, MIN, MS, SEC, US,
};

/// The most events one run may be estimated to take before it starts: about half an hour of wall time
/// at the engine's 5-8 million events per second on one core. Validation refuses a costlier run and
/// names the setting that drives its cost.
pub const RUN_EVENT_BUDGET: u64 = 10_000_000_000;

/// The most events one run may process: twice the budget, room for an estimate that was low.
pub const RUN_EVENT_CEILING: u64 = 2 * RUN_EVENT_BUDGET;

/// The most events one client request may take before its run counts as running away: about 22 for a
/// request through a load balancer to etcd and back, times the 11 attempts client-go makes of a request
/// answered 429 (its 10 retries), rounded up. An overloaded API answers most attempts 429, so the
/// declared load, not the cluster, sets what a run may cost.
pub const EVENTS_PER_REQUEST_BOUND: u64 = 250;

/// The bound on events a run of this length may process before it counts as running away. Generous: a
/// busy 100-worker cluster needs well under a million events per simulated minute; five times that
/// means something is storming. On top, the declared client load's own share (its requests times
/// [`EVENTS_PER_REQUEST_BOUND`]): without it a run at 20,000 requests a second hit the bound while
/// working as it should. Validation estimates a scenario's events against the same bound.
pub fn runaway_bound(duration_ns: Nanos, requests_per_second: f64) -> u64 {
    let minutes = duration_ns / MIN + 1;
    let requests = (requests_per_second.max(0.0) * duration_ns as f64 / SEC as f64) as u64;
    20_000_000u64
        .saturating_add(minutes.saturating_mul(5_000_000))
        .saturating_add(requests.saturating_mul(EVENTS_PER_REQUEST_BOUND))
}

/// The events a run of this length and load may process: the runaway bound, and never more than
/// [`RUN_EVENT_CEILING`].
pub fn event_bound(duration_ns: Nanos, requests_per_second: f64) -> u64 {
    runaway_bound(duration_ns, requests_per_second).min(RUN_EVENT_CEILING)
}
