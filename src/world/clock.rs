//! Node clocks (`clock-skew`): each node's monotonic clock and its wall clock, as functions of the
//! simulated (true) time.
//!
//! A process sees its node's *monotonic* clock as `Ctx::now`: Go's timers, `time.Since` and
//! `time.Until` read the monotonic reading (Go `time` package, "Monotonic Clocks"), so every duration
//! and deadline a component computes runs at its node's clock *rate*. A wall-clock *step* (an offset,
//! as `date -s` or a bad NTP step makes) does not move the monotonic clock: it changes only what the
//! node reads as the date, which the model uses where the date matters (certificate validity, see
//! `world/tls.rs`). The trace, the reports and the invariants stay in true time: the world converts a
//! component's local deadlines back to true time when it queues a timer, and the local times inside
//! records (requests, served requests, a leader's last renewal) when it receives them.
//!
//! A clock is piecewise linear: a perfect clock until the first change, then one segment per change
//! (a `clock-skew` fault starting or ending). The monotonic reading is continuous across changes.

use crate::engine::Nanos;

/// Parts per million: a rate of exactly 1.
pub const PERFECT_PPM: u64 = 1_000_000;

/// One stretch of a clock: from `true_ns` (when it began, in true time) it read `local_ns` and ran at
/// `rate_ppm` millionths of true time, with the wall clock `offset_ns` ahead of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Segment {
    true_ns: Nanos,
    local_ns: Nanos,
    rate_ppm: u64,
    offset_ns: i64,
}

/// One node's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeClock {
    /// Oldest first; the first begins at 0, perfect. Bounded by the number of clock faults (two
    /// changes each).
    segments: Vec<Segment>,
}

impl Default for NodeClock {
    fn default() -> NodeClock {
        NodeClock {
            segments: vec![Segment {
                true_ns: 0,
                local_ns: 0,
                rate_ppm: PERFECT_PPM,
                offset_ns: 0,
            }],
        }
    }
}

impl NodeClock {
    /// True for a clock that has always been perfect: local time is true time (the fast path).
    pub fn is_perfect(&self) -> bool {
        self.segments.len() == 1
    }

    /// The segment in force at true time `t`.
    fn at_true(&self, t: Nanos) -> &Segment {
        let i = self.segments.partition_point(|s| s.true_ns <= t);
        &self.segments[i.saturating_sub(1)]
    }

    /// The segment in force when the clock read `l`.
    fn at_local(&self, l: Nanos) -> &Segment {
        let i = self.segments.partition_point(|s| s.local_ns <= l);
        &self.segments[i.saturating_sub(1)]
    }

    /// The monotonic reading at true time `t`.
    pub fn local(&self, t: Nanos) -> Nanos {
        if self.segments.len() == 1 {
            return t;
        }
        let s = self.at_true(t);
        let run = (t.saturating_sub(s.true_ns) as u128 * s.rate_ppm as u128) / PERFECT_PPM as u128;
        s.local_ns
            .saturating_add(Nanos::try_from(run).unwrap_or(Nanos::MAX))
    }

    /// The first true time at which the monotonic clock reads `l` or more (the inverse of
    /// [`NodeClock::local`]): when a timer set for local time `l` fires, and when a local time a
    /// component recorded happened. A reading past the end of time stays there.
    pub fn true_of(&self, l: Nanos) -> Nanos {
        if self.segments.len() == 1 || l == Nanos::MAX {
            return l;
        }
        let s = self.at_local(l);
        let ppm = s.rate_ppm as u128;
        let run = ((l - s.local_ns) as u128 * PERFECT_PPM as u128).div_ceil(ppm);
        let t = s
            .true_ns
            .saturating_add(Nanos::try_from(run).unwrap_or(Nanos::MAX));
        debug_assert!(self.local(t) >= l, "true_of must reach the reading");
        t
    }

    /// The wall-clock reading at true time `t`, in nanoseconds since the run began (negative for a
    /// clock stepped back past its start).
    pub fn wall(&self, t: Nanos) -> i128 {
        self.local(t) as i128 + self.at_true(t).offset_ns as i128
    }

    /// The clock's rate now, in parts per million of true time.
    pub fn rate_ppm(&self) -> u64 {
        self.segments.last().map_or(PERFECT_PPM, |s| s.rate_ppm)
    }

    /// The wall clock's offset from the monotonic clock now.
    pub fn offset_ns(&self) -> i64 {
        self.segments.last().map_or(0, |s| s.offset_ns)
    }

    /// From true time `now` on, the clock runs at `rate_ppm`; its wall clock is stepped by
    /// `step_ns`. The monotonic reading does not jump.
    pub fn change(&mut self, now: Nanos, rate_ppm: u64, step_ns: i64) {
        debug_assert!(rate_ppm > 0, "a clock that stands still is not a clock");
        let local_ns = self.local(now);
        let offset_ns = self.offset_ns().saturating_add(step_ns);
        // A change at the same moment as the last one replaces it (the reading is the same).
        if self.segments.len() > 1 && self.segments.last().is_some_and(|s| s.true_ns == now) {
            self.segments.pop();
        }
        if self.rate_ppm() != rate_ppm || self.offset_ns() != offset_ns {
            self.segments.push(Segment {
                true_ns: now,
                local_ns,
                rate_ppm,
                offset_ns,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const S: Nanos = crate::engine::SEC;

    #[test]
    fn a_perfect_clock_reads_true_time() {
        let c = NodeClock::default();
        assert!(c.is_perfect());
        assert_eq!(c.local(42 * S), 42 * S);
        assert_eq!(c.true_of(42 * S), 42 * S);
        assert_eq!(c.wall(42 * S), (42 * S) as i128);
    }

    #[test]
    fn a_fast_clock_runs_ahead_and_its_timers_fire_early() {
        let mut c = NodeClock::default();
        c.change(10 * S, 1_100_000, 0);
        assert!(!c.is_perfect());
        assert_eq!(c.local(10 * S), 10 * S);
        assert_eq!(c.local(20 * S), 21 * S);
        // A 15 s timer armed at true 20 s (local 21 s) fires after 15/1.1 s of true time.
        let fire = c.true_of(36 * S);
        assert_eq!(fire, 20 * S + 13_636_363_637);
        // Back to a perfect rate: the reading stays continuous, the lead stays.
        c.change(30 * S, PERFECT_PPM, 0);
        assert_eq!(c.local(30 * S), 32 * S);
        assert_eq!(c.local(40 * S), 42 * S);
        assert_eq!(c.true_of(c.local(35 * S)), 35 * S);
        // A time recorded before the change maps back through the old rate.
        assert_eq!(c.true_of(21 * S), 20 * S);
    }

    #[test]
    fn an_offset_moves_the_wall_clock_only() {
        let mut c = NodeClock::default();
        c.change(5 * S, PERFECT_PPM, 300 * S as i64);
        assert_eq!(c.local(10 * S), 10 * S);
        assert_eq!(c.wall(10 * S), (310 * S) as i128);
        // The step is history: a connection set up at 4 s saw the old date.
        assert_eq!(c.wall(4 * S), (4 * S) as i128);
        c.change(6 * S, PERFECT_PPM, -(300 * S as i64));
        assert_eq!(c.wall(7 * S), (7 * S) as i128);
    }
}
