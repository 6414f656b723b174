//! Cancellable deadlines ([`Ctx::deadline`](crate::components::ctx::Ctx::deadline)): they wait
//! beside the event queue, in an ordered map a cancel can remove from.
//!
//! Why: most request timeouts fire after their answer came and do nothing (issue 12 measured 16 % of
//! an idle control plane's events), and each sat in the queue for up to a minute. A deadline takes
//! its sequence number when it is set, exactly as a queued timer would, and the run loop takes the
//! earlier of the queue's head and the earliest deadline by (time, sequence number); so a deadline
//! that is never cancelled fires at the same place among the events as a plain timer, and the run is
//! the plain engine's run without the dead events.

use super::{Event, World};
use crate::components::ctx::{ProcId, Timer};
use crate::engine::Nanos;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// The multiply-rotate hash of rustc's `FxHasher`: a timer key is a few small integers, for which
/// SipHash's flood resistance buys nothing and costs most of a lookup. The map it keys is only
/// looked up, never iterated, so its order cannot reach a result.
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One pending deadline.
#[derive(Clone, Copy, Debug)]
struct Pending {
    proc: ProcId,
    inc: u32,
    timer: Timer,
    /// On the process's node clock, as [`Event::Timer`] carries it.
    local_at: Nanos,
}

/// Every process's pending deadlines.
#[derive(Clone, Debug, Default)]
pub(crate) struct Deadlines {
    /// By (true time, sequence number): the queue's order.
    pending: BTreeMap<(Nanos, u64), Pending>,
    /// Where each process's timer value is, for a cancel. A value set again while pending points to
    /// the latest; the earlier one fires (as it would have in the plain engine).
    by_timer: HashMap<(ProcId, Timer), (Nanos, u64), BuildHasherDefault<FxHasher>>,
}

impl Deadlines {
    /// The (time, seq) of the earliest pending deadline.
    pub(crate) fn first(&self) -> Option<(Nanos, u64)> {
        self.pending.keys().next().copied()
    }

    /// Moves deadlines earlier: each for which `due(proc, local_at)` gives a time before its own
    /// is re-keyed to that time with its own sequence number (see [`World::retime_timers`]).
    pub(crate) fn move_earlier(&mut self, due: impl Fn(ProcId, Nanos) -> Option<Nanos>) {
        let moved: Vec<((Nanos, u64), Nanos)> = self
            .pending
            .iter()
            .filter_map(|(&k, p)| due(p.proc, p.local_at).filter(|&t| t < k.0).map(|t| (k, t)))
            .collect();
        for (k, t) in moved {
            let p = self.pending.remove(&k).expect("collected from pending");
            let nk = (t, k.1);
            if self.by_timer.get(&(p.proc, p.timer)) == Some(&k) {
                self.by_timer.insert((p.proc, p.timer), nk);
            }
            self.pending.insert(nk, p);
        }
    }
}

impl World {
    /// Sets a deadline of `proc` due at `true_at` (its node clock's `local_at`).
    pub(crate) fn add_deadline(
        &mut self,
        proc: ProcId,
        true_at: Nanos,
        local_at: Nanos,
        timer: Timer,
    ) {
        let inc = self.procs[proc as usize].incarnation;
        let key = (true_at, self.queue.reserve_seq());
        let d = &mut self.deadlines;
        d.pending.insert(
            key,
            Pending {
                proc,
                inc,
                timer,
                local_at,
            },
        );
        d.by_timer.insert((proc, timer), key);
    }

    /// Cancels `proc`'s pending deadline `timer`, if any.
    pub(crate) fn cancel_deadline(&mut self, proc: ProcId, timer: Timer) {
        let d = &mut self.deadlines;
        if let Some(key) = d.by_timer.remove(&(proc, timer)) {
            d.pending.remove(&key);
        }
    }

    /// Takes the earliest deadline out, as the timer event it stands for.
    ///
    /// # Panics
    /// If none is pending: [`World::next_due`] chose it.
    pub(crate) fn pop_deadline(&mut self) -> Event {
        let d = &mut self.deadlines;
        let (key, p) = d.pending.pop_first().expect("a deadline is pending");
        if d.by_timer.get(&(p.proc, p.timer)) == Some(&key) {
            d.by_timer.remove(&(p.proc, p.timer));
        }
        Event::Timer {
            proc: p.proc,
            inc: p.inc,
            timer: p.timer,
            local_at: p.local_at,
        }
    }
}
