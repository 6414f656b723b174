//! The discrete-event engine: integer time, a deterministic queue, seeded randomness.
//! It knows nothing of Kubernetes.

pub mod queue;
pub mod rng;
pub mod small_map;
pub mod time;

pub use queue::EventQueue;
pub use small_map::SmallMap;
pub use time::{
    fmt_duration, fmt_duration_exact, parse_duration, secs, Nanos, HOUR, MIN, MS, SEC, US,
};

/// A float count of nanoseconds (a jittered or scaled delay) as [`Nanos`], with Rust's `as`
/// semantics stated once: rounded toward zero, negative and NaN give 0, beyond `u64::MAX` gives
/// `u64::MAX`. Every float-to-time conversion of the model goes through here, so that a truncation is
/// one reviewed choice instead of a cast at each call site.
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
pub fn ns_from_f64(ns: f64) -> Nanos {
    ns as Nanos
}

/// A `u64` index or count (a Raft log position, an offset into a log held in memory) as `usize`:
/// lossless, since the crate builds only for 64-bit targets (see `lib.rs`).
#[allow(clippy::cast_possible_truncation)]
pub fn usize_from(i: u64) -> usize {
    i as usize
}

/// An index that validation bounds below 65,535 (a node, process, zone, workload or fault: see the
/// `MAX_*` limits in `scenario::validate`) as the model's 16-bit id; `u16::MAX` stays free for the
/// VIP's address.
///
/// # Panics
/// If the index does not fit: validation let through an input it bounds, a bug and not an input error.
pub fn id16(i: usize) -> u16 {
    match u16::try_from(i) {
        Ok(v) if v != u16::MAX => v,
        _ => panic!(
            "index {i} beyond the model's 16-bit ids; validation bounds every count below 65,535"
        ),
    }
}

/// A count (of endpoints, ready pods, queued requests) as `u32`, saturating: no count the model keeps
/// in memory comes near it.
pub fn count32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

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
    // A count; the conversion saturates, as a bound should.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate_or_refuse_instead_of_wrapping() {
        assert_eq!(ns_from_f64(f64::NAN), 0);
        assert_eq!(ns_from_f64(-5.0), 0);
        assert_eq!(ns_from_f64(1.9), 1);
        assert_eq!(ns_from_f64(1e30), Nanos::MAX);
        assert_eq!(usize_from(1 << 40), 1usize << 40);
        assert_eq!(id16(65_534), 65_534);
        assert!(
            std::panic::catch_unwind(|| id16(65_535)).is_err(),
            "u16::MAX is the VIP"
        );
        assert!(std::panic::catch_unwind(|| id16(70_000)).is_err());
        assert_eq!(count32(usize::MAX), u32::MAX);
    }
}
