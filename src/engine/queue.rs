//! The event queue: ordered by (time, sequence number) so that ties break in insertion order.
//!
//! Two structures behind one order. A binary heap is fastest while the queue is small (an idle
//! cluster keeps tens of events pending: its timers and the messages in flight). A radix heap
//! (Ahuja, Mehlhorn, Orlin and Tarjan 1990) is faster once it holds thousands (a thousand kubelets,
//! or 20,000 requests a second with their timeouts): a discrete-event run only schedules at or after
//! the event it handles, so keys are monotone, and a monotone queue can bucket each pending key by
//! the highest bit in which it differs from the last key taken out; a push is a bucket index and a
//! `Vec::push`, and each entry moves to a lower bucket at most once per bit. The queue changes
//! structure when its size crosses a threshold (with hysteresis), moving every entry.
//!
//! Keys are unique (the sequence number), so both give exactly the same pops: a different data
//! structure, never a different schedule. The tests below check it against a plain binary heap.
//!
//! Sequence numbers come from two bands. The *script* band (the run's initial boot and its faults,
//! known before the run) sorts before the *dynamic* band (everything the run itself schedules), and
//! each band counts in push order. A run that schedules its script first and then runs gets the same
//! order either way; the bands matter to a forked world ([`crate::world::World::fork_with`]) that
//! adds faults after it has run a while: its new faults pop at their time before the events the run
//! already scheduled for that same instant, exactly as they would had they been scheduled at the start.

use super::time::Nanos;
use std::collections::BinaryHeap;

/// Above this many pending events the queue becomes a radix heap.
const TO_RADIX: usize = 1024;
/// Below this many it becomes a binary heap again.
const TO_HEAP: usize = 256;

/// Where the dynamic band of sequence numbers starts: above any script a run could push.
const DYNAMIC_SEQ_BASE: u64 = 1 << 62;

/// Bits of the (time, seq) key: a bucket per bit plus bucket 0 for the key equal to the last popped.
const BUCKETS: usize = 129;

/// (time, seq) as one integer: time in the high half, so the integer order is the queue's order.
fn key(time: Nanos, seq: u64) -> u128 {
    (u128::from(time) << 64) | u128::from(seq)
}

/// The time half of a key.
#[allow(clippy::cast_possible_truncation)]
fn time_of(k: u128) -> Nanos {
    (k >> 64) as Nanos
}

/// The sequence half of a key.
#[allow(clippy::cast_possible_truncation)]
fn seq_of(k: u128) -> u64 {
    k as u64
}

#[derive(Clone)]
struct Entry<E> {
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // BinaryHeap is a max-heap: reverse so the earliest key pops first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.key.cmp(&self.key)
    }
}

/// The bucket of `k` relative to `last`: 0 when equal, else one past the highest differing bit.
fn bucket(k: u128, last: u128) -> usize {
    // At most 128, so the cast is lossless.
    (128 - (k ^ last).leading_zeros()) as usize
}

/// A radix heap over keys at least `last`.
#[derive(Clone)]
struct Radix<E> {
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit `i - 1` set: bucket `i` (1 to 128) is not empty.
    occupied: u128,
    /// The key last moved to bucket 0: every key pending is at least this.
    last: u128,
}

impl<E> Radix<E> {
    fn new(last: u128) -> Radix<E> {
        Radix {
            buckets: (0..BUCKETS).map(|_| Vec::new()).collect(),
            occupied: 0,
            last,
        }
    }

    fn push(&mut self, e: Entry<E>) {
        if e.key < self.last {
            // Only outside a run's own order: something scheduled before a peeked minimum (a
            // fault added to a world stopped by `run_until`). Re-bucket around it.
            self.rebase(e.key);
        }
        self.put(bucket(e.key, self.last), e);
    }

    fn put(&mut self, b: usize, e: Entry<E>) {
        if b > 0 {
            self.occupied |= 1 << (b - 1);
        }
        self.buckets[b].push(e);
    }

    /// Moves the minimum to bucket 0 (if there is one).
    fn settle(&mut self) {
        if !self.buckets[0].is_empty() || self.occupied == 0 {
            return;
        }
        // At most 128, so the cast is lossless.
        let i = self.occupied.trailing_zeros() as usize + 1;
        self.occupied &= !(1 << (i - 1));
        let mut from = std::mem::take(&mut self.buckets[i]);
        let min = from
            .iter()
            .map(|e| e.key)
            .min()
            .expect("an occupied bucket is not empty");
        self.last = min;
        // Every entry of the first occupied bucket agrees with the new minimum above bit i-1, so
        // each lands in a lower bucket.
        for e in from.drain(..) {
            self.put(bucket(e.key, min), e);
        }
        // Keep the bucket's allocation for the entries to come.
        self.buckets[i] = from;
    }

    fn rebase(&mut self, k: u128) {
        let all: Vec<Entry<E>> = self.drain();
        self.last = k;
        for e in all {
            self.put(bucket(e.key, k), e);
        }
    }

    fn drain(&mut self) -> Vec<Entry<E>> {
        self.occupied = 0;
        self.buckets.iter_mut().flat_map(std::mem::take).collect()
    }

    fn pop(&mut self) -> Option<Entry<E>> {
        self.settle();
        self.buckets[0].pop()
    }

    fn peek(&mut self) -> Option<u128> {
        self.settle();
        self.buckets[0].last().map(|e| e.key)
    }
}

#[derive(Clone)]
enum Imp<E> {
    Heap(BinaryHeap<Entry<E>>),
    Radix(Radix<E>),
}

/// A deterministic priority queue of events.
#[derive(Clone)]
pub struct EventQueue<E> {
    imp: Imp<E>,
    len: usize,
    /// The next sequence number of the dynamic band.
    next_seq: u64,
    /// The next sequence number of the script band.
    next_script_seq: u64,
    /// The last key popped: a radix heap built now starts from it.
    last_popped: u128,
    to_radix: usize,
    to_heap: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_thresholds(TO_RADIX, TO_HEAP)
    }

    /// An empty queue that becomes a radix heap above `to_radix` entries and a binary heap again
    /// below `to_heap` (tests: small thresholds exercise both).
    fn with_thresholds(to_radix: usize, to_heap: usize) -> Self {
        EventQueue {
            imp: Imp::Heap(BinaryHeap::with_capacity(1024)),
            len: 0,
            next_seq: DYNAMIC_SEQ_BASE,
            next_script_seq: 0,
            last_popped: 0,
            to_radix,
            to_heap,
        }
    }

    /// Schedules `event` at `time`; events at equal times pop in the order they were pushed.
    pub fn push(&mut self, time: Nanos, event: E) {
        let seq = self.reserve_seq();
        self.push_reserved(time, seq, event);
    }

    /// Schedules a scripted `event` (the run's boot or a fault) at `time`: it pops before every
    /// [`EventQueue::push`]ed event at the same time, and after the scripted events pushed before it.
    pub fn push_script(&mut self, time: Nanos, event: E) {
        let seq = self.next_script_seq;
        self.next_script_seq += 1;
        debug_assert!(
            seq < DYNAMIC_SEQ_BASE,
            "the script band stays below the dynamic one"
        );
        self.push_reserved(time, seq, event);
    }

    /// Takes the next sequence number, as a push now would, for an event pushed later with
    /// [`EventQueue::push_reserved`] or kept outside the queue (the world's cancellable deadlines):
    /// it then comes exactly where it would have had it been pushed now.
    pub fn reserve_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules `event` at `time` with a sequence number from [`EventQueue::reserve_seq`].
    pub fn push_reserved(&mut self, time: Nanos, seq: u64, event: E) {
        let e = Entry {
            key: key(time, seq),
            event,
        };
        self.len += 1;
        match &mut self.imp {
            Imp::Heap(h) => {
                h.push(e);
                if self.len > self.to_radix {
                    let mut r = Radix::new(self.last_popped);
                    for e in std::mem::take(h) {
                        r.push(e);
                    }
                    self.imp = Imp::Radix(r);
                }
            }
            Imp::Radix(r) => r.push(e),
        }
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(Nanos, E)> {
        let e = match &mut self.imp {
            Imp::Heap(h) => h.pop(),
            Imp::Radix(r) => {
                let e = r.pop();
                if self.len <= self.to_heap {
                    let h: BinaryHeap<Entry<E>> = r.drain().into();
                    self.imp = Imp::Heap(h);
                }
                e
            }
        }?;
        self.len -= 1;
        self.last_popped = e.key;
        Some((time_of(e.key), e.event))
    }

    /// The (time, seq) of the earliest event, if any.
    pub fn peek_key(&mut self) -> Option<(Nanos, u64)> {
        let k = match &mut self.imp {
            Imp::Heap(h) => h.peek().map(|e| e.key),
            Imp::Radix(r) => r.peek(),
        }?;
        Some((time_of(k), seq_of(k)))
    }

    /// Moves events earlier: each event for which `earlier(time, event)` gives a time before its
    /// own is re-keyed to that time with its own sequence number, so it keeps its place among
    /// events at its new time as if it had been scheduled there. Rebuilds the queue: for rare
    /// changes (a node's clock speeding up), not for the run's own scheduling.
    pub fn move_earlier(&mut self, mut earlier: impl FnMut(Nanos, &E) -> Option<Nanos>) {
        let entries: Vec<Entry<E>> = match &mut self.imp {
            Imp::Heap(h) => std::mem::take(h).into_vec(),
            Imp::Radix(r) => r.drain(),
        };
        self.imp = Imp::Heap(BinaryHeap::with_capacity(entries.len()));
        self.len = 0;
        for mut e in entries {
            let t = time_of(e.key);
            if let Some(to) = earlier(t, &e.event).filter(|&to| to < t) {
                e.key = key(to, seq_of(e.key));
            }
            self.push_reserved(time_of(e.key), seq_of(e.key), e.event);
        }
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Reverse;

    #[test]
    fn orders_by_time_then_insertion() {
        let mut q = EventQueue::new();
        q.push(5, "b");
        q.push(1, "a");
        q.push(5, "c");
        q.push(3, "x");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(1, "a"), (3, "x"), (5, "b"), (5, "c")]);
    }

    #[test]
    fn a_reserved_sequence_number_pops_where_a_push_then_would_have() {
        let mut q = EventQueue::new();
        let early = q.reserve_seq();
        q.push(7, "pushed after the reservation");
        q.push(3, "three");
        assert_eq!(q.pop(), Some((3, "three")));
        q.push_reserved(7, early, "reserved first");
        assert_eq!(q.pop(), Some((7, "reserved first")));
        assert_eq!(q.pop(), Some((7, "pushed after the reservation")));
        assert!(q.pop().is_none() && q.is_empty());
    }

    #[test]
    fn scripted_events_pop_before_dynamic_ones_at_the_same_time() {
        let mut q = EventQueue::new();
        q.push(5, "dynamic");
        q.push_script(5, "script-1");
        q.push(4, "early");
        q.push_script(5, "script-2");
        q.push_script(6, "late script");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            vec![
                (4, "early"),
                (5, "script-1"),
                (5, "script-2"),
                (5, "dynamic"),
                (6, "late script")
            ]
        );
    }

    proptest! {
        /// Against a binary heap on (time, seq), with thresholds low enough that the queue changes
        /// structure many times: a run of steps that each pop or push at or after the last popped
        /// time (as a simulation does), with pushes before a peeked minimum (a world stopped and
        /// given a fault), gives the same pops in the same order.
        #[test]
        fn pops_as_a_binary_heap_does(
            steps in proptest::collection::vec((0u8..10, 0u64..5_000_000_000, 0u64..40), 1..600),
            to_radix in 2usize..40,
        ) {
            let mut q = EventQueue::with_thresholds(to_radix, to_radix / 2);
            let mut h = BinaryHeap::new();
            let mut seq = 0u64;
            let mut now = 0u64;
            for (i, (op, delay, small)) in steps.into_iter().enumerate() {
                match op {
                    0..=2 => {
                        let got = q.pop();
                        let want = h.pop().map(|Reverse((t, _, v))| (t, v));
                        prop_assert_eq!(got, want);
                        if let Some((t, _)) = got {
                            now = t;
                        }
                    }
                    3 => {
                        // A peek, then a push before the peeked minimum but not before now.
                        let peeked = q.peek_key().map(|k| k.0);
                        prop_assert_eq!(peeked, h.peek().map(|Reverse((t, _, _))| *t));
                        let t = now + small;
                        q.push(t, i);
                        h.push(Reverse((t, seq, i)));
                        seq += 1;
                    }
                    _ => {
                        // Many ties: a small delay, or a large one.
                        let t = now + if op % 2 == 0 { small } else { delay };
                        q.push(t, i);
                        h.push(Reverse((t, seq, i)));
                        seq += 1;
                    }
                }
                prop_assert_eq!(q.len(), h.len());
            }
            while let Some(Reverse((t, _, v))) = h.pop() {
                prop_assert_eq!(q.pop(), Some((t, v)));
            }
            prop_assert!(q.pop().is_none());
        }
    }
}
