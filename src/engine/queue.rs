//! The event queue: ordered by (time, sequence number) so that ties break in insertion order.
//!
//! Sequence numbers come from two bands. The *script* band (the run's initial boot and its faults,
//! known before the run) sorts before the *dynamic* band (everything the run itself schedules), and
//! each band counts in push order. A run that schedules its script first and then runs gets the same
//! order either way; the bands matter to a forked world ([`crate::world::World::fork_with`]) that
//! adds faults after it has run a while: its new faults pop at their time before the events the run
//! already scheduled for that same instant, exactly as they would had they been scheduled at the start.

use super::time::Nanos;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

#[derive(Clone)]
struct Entry<E> {
    time: Nanos,
    seq: u64,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.time == other.time && self.seq == other.seq
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    // BinaryHeap is a max-heap: reverse so the earliest (time, seq) pops first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Where the dynamic band of sequence numbers starts: above any script a run could push.
const DYNAMIC_SEQ_BASE: u64 = 1 << 62;

/// A deterministic priority queue of events.
#[derive(Clone)]
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
    /// The next sequence number of the dynamic band.
    next_seq: u64,
    /// The next sequence number of the script band.
    next_script_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(1024),
            next_seq: DYNAMIC_SEQ_BASE,
            next_script_seq: 0,
        }
    }

    /// Schedules `event` at `time`; events at equal times pop in the order they were pushed.
    pub fn push(&mut self, time: Nanos, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { time, seq, event });
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
        self.heap.push(Entry { time, seq, event });
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(Nanos, E)> {
        self.heap.pop().map(|e| (e.time, e.event))
    }

    /// The time of the earliest event, if any.
    pub fn peek_time(&self) -> Option<Nanos> {
        self.heap.peek().map(|e| e.time)
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
