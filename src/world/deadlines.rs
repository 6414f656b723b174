//! Cancellable deadlines ([`Ctx::deadline`](crate::components::ctx::Ctx::deadline)): they wait
//! beside the event queue, in a heap whose entries know their place, so that a cancel removes one.
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
use std::collections::HashMap;
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

/// A pending deadline in its slot: its key in the queue's order and where it sits in the heap.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// (true time, sequence number): the queue's order, unique.
    key: (Nanos, u64),
    /// Its index in `Deadlines::heap`.
    pos: u32,
    p: Pending,
}

/// Every process's pending deadlines: a binary min-heap of slots by key, each slot knowing its
/// place in the heap, so that a cancel removes its deadline in O(log n) without a search. (An
/// ordered map did the same in the same order, at about twice the cost of an insert and a remove,
/// which most deadlines are: a request timeout set and cancelled when the answer comes.)
#[derive(Clone, Debug, Default)]
pub(crate) struct Deadlines {
    /// Slot indices, a min-heap by the slots' keys.
    heap: Vec<u32>,
    /// The slots; a free one is listed in `free`.
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// Where each process's timer value is, for a cancel. A value set again while pending points to
    /// the latest; the earlier one fires (as it would have in the plain engine).
    by_timer: HashMap<(ProcId, Timer), u32, BuildHasherDefault<FxHasher>>,
}

/// A heap position or slot index as stored: validation bounds pending events far below 2^32 (the
/// run's event ceiling is checked first).
fn index32(i: usize) -> u32 {
    u32::try_from(i).expect("fewer than 4 billion deadlines pending")
}

impl Deadlines {
    /// The (time, seq) of the earliest pending deadline.
    pub(crate) fn first(&self) -> Option<(Nanos, u64)> {
        self.heap.first().map(|&s| self.slots[s as usize].key)
    }

    fn key_at(&self, pos: usize) -> (Nanos, u64) {
        self.slots[self.heap[pos] as usize].key
    }

    fn place(&mut self, pos: usize, slot: u32) {
        self.heap[pos] = slot;
        self.slots[slot as usize].pos = index32(pos);
    }

    /// Moves the slot at `pos` up while its key is below its parent's; returns where it ends.
    fn sift_up(&mut self, mut pos: usize) -> usize {
        let slot = self.heap[pos];
        let key = self.slots[slot as usize].key;
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.key_at(parent) <= key {
                break;
            }
            let up = self.heap[parent];
            self.place(pos, up);
            pos = parent;
        }
        self.place(pos, slot);
        pos
    }

    /// Moves the slot at `pos` down while a child's key is below its own.
    fn sift_down(&mut self, mut pos: usize) {
        let slot = self.heap[pos];
        let key = self.slots[slot as usize].key;
        let n = self.heap.len();
        loop {
            let left = 2 * pos + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && self.key_at(right) < self.key_at(left) {
                right
            } else {
                left
            };
            if key <= self.key_at(child) {
                break;
            }
            let down = self.heap[child];
            self.place(pos, down);
            pos = child;
        }
        self.place(pos, slot);
    }

    fn insert(&mut self, key: (Nanos, u64), p: Pending) -> u32 {
        let slot = Slot {
            key,
            pos: index32(self.heap.len()),
            p,
        };
        let s = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = slot;
                s
            }
            None => {
                self.slots.push(slot);
                index32(self.slots.len() - 1)
            }
        };
        self.heap.push(s);
        self.sift_up(self.heap.len() - 1);
        s
    }

    /// Takes slot `s` out of the heap and frees it.
    fn remove(&mut self, s: u32) -> Slot {
        let slot = self.slots[s as usize];
        let pos = slot.pos as usize;
        let last = self.heap.pop().expect("a pending slot is in the heap");
        if last != s {
            self.place(pos, last);
            if self.sift_up(pos) == pos {
                self.sift_down(pos);
            }
        }
        self.free.push(s);
        slot
    }

    /// Moves deadlines earlier: each for which `due(proc, local_at)` gives a time before its own
    /// is re-keyed to that time with its own sequence number (see [`World::retime_timers`]).
    pub(crate) fn move_earlier(&mut self, due: impl Fn(ProcId, Nanos) -> Option<Nanos>) {
        let mut moved = false;
        for &s in &self.heap {
            let slot = &mut self.slots[s as usize];
            if let Some(t) = due(slot.p.proc, slot.p.local_at).filter(|&t| t < slot.key.0) {
                slot.key.0 = t;
                moved = true;
            }
        }
        if moved {
            // Keys only went down: rebuild the heap from the bottom up.
            for pos in (0..self.heap.len() / 2).rev() {
                self.sift_down(pos);
            }
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
        let slot = d.insert(
            key,
            Pending {
                proc,
                inc,
                timer,
                local_at,
            },
        );
        d.by_timer.insert((proc, timer), slot);
    }

    /// Cancels `proc`'s pending deadline `timer`, if any.
    pub(crate) fn cancel_deadline(&mut self, proc: ProcId, timer: Timer) {
        let d = &mut self.deadlines;
        if let Some(slot) = d.by_timer.remove(&(proc, timer)) {
            d.remove(slot);
        }
    }

    /// Takes the earliest deadline out, as the timer event it stands for.
    ///
    /// # Panics
    /// If none is pending: [`World::next_due`] chose it.
    pub(crate) fn pop_deadline(&mut self) -> Event {
        let d = &mut self.deadlines;
        let s = *d.heap.first().expect("a deadline is pending");
        let p = d.remove(s).p;
        if d.by_timer.get(&(p.proc, p.timer)) == Some(&s) {
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

#[cfg(test)]
mod tests {
    use super::{Deadlines, Pending};
    use crate::components::ctx::{ProcId, Timer};
    use crate::components::kubelet::KubeletTimer;
    use crate::engine::Nanos;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, HashMap};

    fn timer(id: u64) -> Timer {
        Timer::Kubelet(KubeletTimer::ProbeTimeout { id })
    }

    /// The ordered map the heap replaced: the reference order.
    #[derive(Default)]
    struct Reference {
        /// Each deadline's process, timer and local time.
        pending: BTreeMap<(Nanos, u64), (ProcId, Timer, Nanos)>,
        by_timer: HashMap<(ProcId, Timer), (Nanos, u64)>,
    }

    proptest! {
        /// Adds (a timer set again while pending included), cancels, pops and clock moves give the
        /// same earliest deadline after every step and the same pops, in the same order, as the
        /// ordered map.
        #[test]
        fn the_heap_pops_as_the_ordered_map_did(
            steps in proptest::collection::vec((0u8..8, 0u16..3, 0u64..4, 0u64..1000), 1..400),
        ) {
            let mut d = Deadlines::default();
            let mut r = Reference::default();
            let mut seq = 0u64;
            for (op, proc, id, t) in steps {
                let key = (proc, timer(id));
                match op {
                    0..=3 => {
                        seq += 1;
                        let p = Pending { proc, inc: 0, timer: timer(id), local_at: t };
                        let slot = d.insert((t, seq), p);
                        d.by_timer.insert(key, slot);
                        r.pending.insert((t, seq), (proc, timer(id), t));
                        r.by_timer.insert(key, (t, seq));
                    }
                    4 | 5 => {
                        if let Some(slot) = d.by_timer.remove(&key) {
                            d.remove(slot);
                        }
                        if let Some(k) = r.by_timer.remove(&key) {
                            r.pending.remove(&k);
                        }
                    }
                    6 => {
                        let got = d.heap.first().copied().map(|s| {
                            let slot = d.remove(s);
                            let k = (slot.p.proc, slot.p.timer);
                            if d.by_timer.get(&k) == Some(&s) {
                                d.by_timer.remove(&k);
                            }
                            (slot.key, k)
                        });
                        let want = r.pending.pop_first().map(|(k, (p, tm, _))| {
                            if r.by_timer.get(&(p, tm)) == Some(&k) {
                                r.by_timer.remove(&(p, tm));
                            }
                            (k, (p, tm))
                        });
                        prop_assert_eq!(got, want);
                    }
                    _ => {
                        // Process `proc`'s clock sped up: its deadlines fall due at half their
                        // local time, if that is sooner.
                        let due = |p: ProcId, local: Nanos| (p == proc).then_some(local / 2);
                        d.move_earlier(due);
                        let moved: Vec<_> = r
                            .pending
                            .iter()
                            .filter(|(k, e)| e.0 == proc && e.2 / 2 < k.0)
                            .map(|(&k, &e)| (k, e))
                            .collect();
                        for (k, e) in moved {
                            let nk = (e.2 / 2, k.1);
                            r.pending.remove(&k);
                            if r.by_timer.get(&(e.0, e.1)) == Some(&k) {
                                r.by_timer.insert((e.0, e.1), nk);
                            }
                            r.pending.insert(nk, e);
                        }
                    }
                }
                prop_assert_eq!(d.first(), r.pending.keys().next().copied());
                prop_assert_eq!(d.heap.len(), r.pending.len());
            }
        }
    }
}
