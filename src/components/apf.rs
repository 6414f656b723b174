//! kube-apiserver's capacity: API Priority and Fairness (APF) seats and queues, or, with APF off, the
//! max-in-flight filter; and the server's cores.
//!
//! - The concurrency limit is `--max-requests-inflight` + `--max-mutating-requests-inflight` (400 + 200
//!   = 600), shared among the bootstrap priority levels as seats = ceil(600 x shares / sum of shares)
//!   (k8s.io/apiserver pkg/util/flowcontrol/apf_controller.go, `computeConcurrencyLimits`; the limit
//!   comes from `utilflowcontrol.New(..., MaxRequestsInFlight+MaxMutatingRequestsInFlight, ...)`,
//!   pkg/server/options/recommended.go).
//! - A request that finds no free seat waits in one of its level's queues, chosen by shuffle sharding
//!   among `hand size` queues for its flow; a full queue (`queueLengthLimit`), or a wait longer than the
//!   request wait limit (`RequestTimeout / 4`, pkg/server/config.go `WithPriorityAndFairness(...,
//!   c.RequestTimeout/4)`), is answered 429 with `Retry-After: 1` (pkg/util/flowcontrol/fairqueuing/
//!   queueset/queueset.go `rejectOrEnqueueToBoundLocked`, `timeoutOldRequestsAndRejectOrEnqueueLocked`;
//!   pkg/server/filters/priority-and-fairness.go `tooManyRequests`). `catch-all` does not queue
//!   (LimitResponse Reject); `exempt` has no limit.
//! - Simplified here, and said so: the hand of a flow is fixed by a deterministic hash of (flow, level)
//!   instead of the shuffle-sharding dealer's draw (the same flow always gets the same hand, as
//!   upstream); dispatch takes the non-empty queues in round-robin order instead of fair queuing's
//!   virtual finish times (equal for one-seat requests of equal duration); a flow is the sending
//!   process (upstream: the user or namespace, by the schema's distinguisher method).
//! - A request takes the seats its work estimate gives ([`list_seats`] for an informer's LIST, one for
//!   anything else): it is dispatched only when that many are free, and a queue's head that does not
//!   fit holds the queues behind it until enough seats are freed, as queueset.go `dispatchLocked`
//!   does (a wide request is not starved by narrow ones).
//! - With `--enable-priority-and-fairness=false`, the max-in-flight filter: at most 400 read-only and
//!   200 mutating requests in flight, anything more 429 at once, no queues (pkg/server/filters/
//!   maxinflight.go `WithMaxInFlightLimit`).

use crate::components::msg::{keys, KvOp};
use crate::engine::Nanos;
use std::collections::VecDeque;

/// Who sends a request, as its credentials say: what APF's FlowSchemas match on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiUser {
    /// `system:kube-controller-manager`.
    ControllerManager,
    /// `system:kube-scheduler`.
    Scheduler,
    /// `system:node:NAME`, group `system:nodes` (the kubelet).
    Node,
    /// A pod's service account, group `system:serviceaccounts`.
    ServiceAccount,
    /// An authenticated person or tool with a user's kubeconfig (`kubectl`).
    User,
}

/// The bootstrap priority levels (k8s.io/apiserver pkg/apis/flowcontrol/bootstrap/default.go).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PriorityLevel {
    Exempt,
    LeaderElection,
    NodeHigh,
    System,
    WorkloadHigh,
    WorkloadLow,
    GlobalDefault,
    CatchAll,
}

/// One priority level's configuration: nominal concurrency shares, queues (0: reject at once), hand
/// size, queue length limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LevelSpec {
    pub name: &'static str,
    pub shares: u32,
    pub queues: u32,
    pub hand_size: u32,
    pub queue_length_limit: u32,
}

/// The bootstrap PriorityLevelConfigurations, one row each (k8s.io/apiserver pkg/apis/flowcontrol/
/// bootstrap/default.go: `SuggestedPriorityLevelConfiguration*`, `MandatoryPriorityLevelConfiguration*`;
/// FACTS.md "Capacity").
const LEVELS: [(PriorityLevel, LevelSpec); 8] = {
    const fn l(name: &'static str, shares: u32, queues: u32, hand_size: u32) -> LevelSpec {
        LevelSpec {
            name,
            shares,
            queues,
            hand_size,
            queue_length_limit: if queues == 0 { 0 } else { 50 },
        }
    }
    [
        (PriorityLevel::Exempt, l("exempt", 0, 0, 0)),
        (
            PriorityLevel::LeaderElection,
            l("leader-election", 10, 16, 4),
        ),
        (PriorityLevel::NodeHigh, l("node-high", 40, 64, 6)),
        (PriorityLevel::System, l("system", 30, 64, 6)),
        (PriorityLevel::WorkloadHigh, l("workload-high", 40, 128, 6)),
        (PriorityLevel::WorkloadLow, l("workload-low", 100, 128, 6)),
        (
            PriorityLevel::GlobalDefault,
            l("global-default", 20, 128, 6),
        ),
        // catch-all: LimitResponse Reject (no queues).
        (PriorityLevel::CatchAll, l("catch-all", 5, 0, 0)),
    ]
};

impl PriorityLevel {
    /// Every level, in the table's order.
    pub const ALL: [PriorityLevel; 8] = [
        PriorityLevel::Exempt,
        PriorityLevel::LeaderElection,
        PriorityLevel::NodeHigh,
        PriorityLevel::System,
        PriorityLevel::WorkloadHigh,
        PriorityLevel::WorkloadLow,
        PriorityLevel::GlobalDefault,
        PriorityLevel::CatchAll,
    ];

    /// Its configuration.
    pub fn spec(self) -> LevelSpec {
        LEVELS[self.index()].1
    }

    /// Its name, as `kubectl get prioritylevelconfigurations` shows it.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// Its position in [`PriorityLevel::ALL`].
    pub fn index(self) -> usize {
        let i = self as usize;
        debug_assert_eq!(LEVELS[i].0, self);
        i
    }

    /// Seats out of `server_limit`: ceil(limit x shares / sum of the limited levels' shares);
    /// `u32::MAX` for exempt.
    pub fn seats(self, server_limit: u32) -> u32 {
        if self == PriorityLevel::Exempt {
            return u32::MAX;
        }
        let sum: u64 = LEVELS.iter().map(|(_, s)| s.shares as u64).sum();
        // At most server_limit: the shares of one level are part of the sum.
        u32::try_from((server_limit as u64 * self.spec().shares as u64).div_ceil(sum))
            .unwrap_or(server_limit)
    }
}

/// The bootstrap FlowSchemas that match the model's requests, in precedence order
/// (k8s.io/apiserver pkg/apis/flowcontrol/bootstrap/default.go): `system-leader-election` (100:
/// kube-controller-manager and kube-scheduler on leases in kube-system), `system-node-high` (400:
/// nodes on nodes, nodes/status and leases), `system-nodes` (500: nodes on anything else),
/// `kube-controller-manager` and `kube-scheduler` (800), `service-accounts` (9000), `global-default`
/// (9900).
pub fn classify(user: ApiUser, op: &KvOp) -> PriorityLevel {
    let kind = match op {
        KvOp::Put { key, .. } | KvOp::Get { key, .. } => keys::kind_of(*key),
        KvOp::Range { start, .. } | KvOp::Watch { start, .. } => keys::kind_of(*start),
    };
    match user {
        ApiUser::ControllerManager | ApiUser::Scheduler if kind == keys::LEADER_LEASE => {
            PriorityLevel::LeaderElection
        }
        ApiUser::ControllerManager | ApiUser::Scheduler => PriorityLevel::WorkloadHigh,
        ApiUser::Node if matches!(kind, keys::NODE_LEASE | keys::NODE_STATUS | keys::NODE) => {
            PriorityLevel::NodeHigh
        }
        ApiUser::Node => PriorityLevel::System,
        ApiUser::ServiceAccount => PriorityLevel::WorkloadLow,
        ApiUser::User => PriorityLevel::GlobalDefault,
    }
}

/// Admission settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionConfig {
    /// `--enable-priority-and-fairness`.
    pub apf: bool,
    /// `--max-requests-inflight`.
    pub max_requests_inflight: u32,
    /// `--max-mutating-requests-inflight`.
    pub max_mutating_requests_inflight: u32,
    /// How long a request may wait in an APF queue: `--request-timeout` / 4.
    pub queue_wait_limit_ns: Nanos,
}

/// What admission decided for an arriving request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// A seat was free: serve it now.
    Dispatch,
    /// Waiting in a queue; [`Admission::finish`] or [`Admission::expire`] will hand it back.
    Queued,
    /// 429 Too Many Requests, `Retry-After: 1`.
    Reject,
}

/// A request's admission class: its priority level with APF, read-only or mutating without.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Level(PriorityLevel),
    ReadOnly,
    Mutating,
}

#[derive(Clone, Debug)]
struct LevelState<T> {
    seats: u32,
    in_use: u32,
    /// Each queue's waiting requests with their arrival times and seats.
    queues: Vec<VecDeque<(Nanos, T, u32)>>,
    queued: u32,
    /// The queue dispatched from last (round robin).
    next: usize,
}

/// The admission filter of one API server: seats and queues per level, or max-in-flight counters.
#[derive(Clone, Debug)]
pub struct Admission<T> {
    cfg: AdmissionConfig,
    levels: Vec<LevelState<T>>,
    readonly_in_use: u32,
    mutating_in_use: u32,
}

impl<T: Copy> Admission<T> {
    /// An idle filter.
    pub fn new(cfg: AdmissionConfig) -> Admission<T> {
        let limit = cfg.max_requests_inflight + cfg.max_mutating_requests_inflight;
        let levels = PriorityLevel::ALL
            .iter()
            .map(|l| LevelState {
                seats: l.seats(limit),
                in_use: 0,
                queues: (0..l.spec().queues).map(|_| VecDeque::new()).collect(),
                queued: 0,
                next: 0,
            })
            .collect();
        Admission {
            cfg,
            levels,
            readonly_in_use: 0,
            mutating_in_use: 0,
        }
    }

    /// The class a request of `level` that is (or not) `mutating` is admitted in.
    pub fn class(&self, level: PriorityLevel, mutating: bool) -> Class {
        match (self.cfg.apf, mutating) {
            (true, _) => Class::Level(level),
            (false, false) => Class::ReadOnly,
            (false, true) => Class::Mutating,
        }
    }

    /// A request of `class` from `flow` taking `seats` (its work estimate; the max-in-flight filter
    /// counts requests, not seats) arrives at `now`.
    pub fn arrive(&mut self, now: Nanos, class: Class, flow: u64, item: T, seats: u32) -> Admit {
        let (used, limit) = match class {
            Class::ReadOnly => (&mut self.readonly_in_use, self.cfg.max_requests_inflight),
            Class::Mutating => (
                &mut self.mutating_in_use,
                self.cfg.max_mutating_requests_inflight,
            ),
            Class::Level(level) => return self.arrive_apf(now, level, flow, item, seats),
        };
        if *used >= limit {
            return Admit::Reject;
        }
        *used += 1;
        Admit::Dispatch
    }

    fn arrive_apf(
        &mut self,
        now: Nanos,
        level: PriorityLevel,
        flow: u64,
        item: T,
        seats: u32,
    ) -> Admit {
        let spec = level.spec();
        let st = &mut self.levels[level.index()];
        // Never wider than the level (upstream caps the estimate at the level's seats too).
        let seats = seats.clamp(1, st.seats);
        if st.in_use + seats <= st.seats && st.queued == 0 {
            st.in_use += seats;
            return Admit::Dispatch;
        }
        if spec.queues == 0 {
            return Admit::Reject;
        }
        // The flow's hand: `hand_size` queues picked by a fixed hash of (flow, level); the shortest
        // of them takes the request (shuffle sharding, queueset.go `shuffleShardLocked`).
        let mut h = splitmix(flow ^ ((level as u64) << 56));
        let mut best: Option<usize> = None;
        for _ in 0..spec.hand_size {
            let q = crate::engine::usize_from(h % spec.queues as u64);
            h = splitmix(h);
            if best.is_none_or(|b| st.queues[q].len() < st.queues[b].len()) {
                best = Some(q);
            }
        }
        let q = best.unwrap_or(0);
        if crate::engine::count32(st.queues[q].len()) >= spec.queue_length_limit {
            return Admit::Reject;
        }
        st.queues[q].push_back((now, item, seats));
        st.queued += 1;
        Admit::Queued
    }

    /// A request of `class` that took `seats` finished: its seats go to the next queued requests of
    /// the level that fit, in round-robin order, which are put in `out` to be served.
    pub fn finish(&mut self, class: Class, seats: u32, out: &mut Vec<T>) {
        let level = match class {
            Class::ReadOnly => {
                self.readonly_in_use = self.readonly_in_use.saturating_sub(1);
                return;
            }
            Class::Mutating => {
                self.mutating_in_use = self.mutating_in_use.saturating_sub(1);
                return;
            }
            Class::Level(l) => l,
        };
        let st = &mut self.levels[level.index()];
        let seats = seats.clamp(1, st.seats);
        debug_assert!(st.in_use >= seats, "seats freed that were not taken");
        st.in_use = st.in_use.saturating_sub(seats);
        let n = st.queues.len();
        while st.queued > 0 {
            let Some(q) = (0..n)
                .map(|k| (st.next + k) % n)
                .find(|&q| !st.queues[q].is_empty())
            else {
                break;
            };
            let width = st.queues[q].front().map_or(1, |e| e.2);
            if st.in_use + width > st.seats {
                break;
            }
            if let Some((_, item, _)) = st.queues[q].pop_front() {
                st.next = (q + 1) % n;
                st.queued -= 1;
                st.in_use += width;
                out.push(item);
            }
        }
    }

    /// Takes out the requests that have waited the request wait limit by `now` (to be answered 429).
    pub fn expire(&mut self, now: Nanos, out: &mut Vec<T>) {
        let limit = self.cfg.queue_wait_limit_ns;
        for st in &mut self.levels {
            if st.queued == 0 {
                continue;
            }
            for q in &mut st.queues {
                while q.front().is_some_and(|(t, _, _)| t + limit <= now) {
                    if let Some((_, item, _)) = q.pop_front() {
                        out.push(item);
                        st.queued -= 1;
                    }
                }
            }
        }
    }

    /// When the oldest queued request reaches the wait limit.
    pub fn next_expiry(&self) -> Option<Nanos> {
        self.levels
            .iter()
            .filter(|st| st.queued > 0)
            .flat_map(|st| {
                st.queues
                    .iter()
                    .filter_map(|q| q.front().map(|(t, _, _)| *t))
            })
            .min()
            .map(|t| t + self.cfg.queue_wait_limit_ns)
    }

    /// Requests waiting in queues.
    pub fn queued(&self) -> u32 {
        self.levels.iter().map(|s| s.queued).sum()
    }
}

/// SplitMix64's output function: a fixed, seedless mix for the hand of a flow.
/// The seats of a LIST of `objects` objects served from the watch cache: APF's list work
/// estimator allocates one seat per 100 objects processed, at least 1 and at most 10
/// (k8s.io/apiserver pkg/util/flowcontrol/request/list_work_estimator.go `estimate`:
/// `ceil(estimatedObjectsToBeProcessed / ObjectsPerSeat)`; config.go: `minimumSeats = 1`,
/// `maximumSeats = 10`, `objectsPerSeat = 100.0`). From the cache the objects processed are the
/// stored count; a paged LIST from etcd (a relist with a resourceVersion and `limit=500`) counts
/// twice the limit, which is 10 seats from 500 objects up, as from the cache.
pub fn list_seats(objects: u32) -> u32 {
    objects
        .div_ceil(LIST_OBJECTS_PER_SEAT)
        .clamp(1, LIST_MAX_SEATS)
}

/// `objectsPerSeat` (list_work_estimator's config.go).
const LIST_OBJECTS_PER_SEAT: u32 = 100;
/// `maximumSeats` (list_work_estimator's config.go).
const LIST_MAX_SEATS: u32 = 10;

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The server's cores: each request's CPU work runs on the core that frees first (first come, first
/// served), so a busy server answers later, and past `cores / work` requests a second its backlog
/// grows until the seats run out.
#[derive(Clone, Debug)]
pub struct Cores {
    free_at: Vec<Nanos>,
}

impl Cores {
    /// `n` idle cores.
    pub fn new(n: u32) -> Cores {
        Cores {
            free_at: vec![0; n.max(1) as usize],
        }
    }

    /// Runs `work_ns` of CPU from `now` on the first free core; returns when it is done.
    pub fn run(&mut self, now: Nanos, work_ns: Nanos) -> Nanos {
        let (i, free) = self
            .free_at
            .iter()
            .enumerate()
            .min_by_key(|(_, t)| **t)
            .map(|(i, t)| (i, *t))
            .unwrap_or((0, 0));
        let done = free.max(now) + work_ns;
        self.free_at[i] = done;
        done
    }

    /// A restarted process: nothing runs.
    pub fn reset(&mut self) {
        self.free_at.iter_mut().for_each(|t| *t = 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_follow_the_shares() {
        // ceil(600 x shares / 245).
        let seats: Vec<u32> = PriorityLevel::ALL[1..]
            .iter()
            .map(|l| l.seats(600))
            .collect();
        assert_eq!(seats, vec![25, 98, 74, 98, 245, 49, 13]);
    }

    #[test]
    fn a_full_queue_rejects_and_a_freed_seat_dispatches_the_queued() {
        let cfg = AdmissionConfig {
            apf: true,
            max_requests_inflight: 4,
            max_mutating_requests_inflight: 0,
            queue_wait_limit_ns: 15,
        };
        let mut a: Admission<u32> = Admission::new(cfg);
        let c = a.class(PriorityLevel::LeaderElection, true);
        let seats = PriorityLevel::LeaderElection.seats(4);
        for i in 0..seats {
            assert_eq!(a.arrive(0, c, 1, i, 1), Admit::Dispatch);
        }
        let limit = PriorityLevel::LeaderElection.spec().queue_length_limit;
        let mut queued = 0;
        let mut rejected = 0;
        for i in 0..(4 * limit) {
            match a.arrive(1, c, 1, 100 + i, 1) {
                Admit::Queued => queued += 1,
                Admit::Reject => rejected += 1,
                Admit::Dispatch => panic!("no seat is free"),
            }
        }
        // One flow fills at most its hand's queues.
        assert!(queued <= limit * PriorityLevel::LeaderElection.spec().hand_size);
        assert!(rejected > 0);
        let mut out = Vec::new();
        a.finish(c, 1, &mut out);
        assert!(out.len() == 1 && out[0] >= 100);
        out.clear();
        a.expire(16, &mut out);
        assert_eq!(crate::engine::count32(out.len()), queued - 1);
        assert_eq!(a.queued(), 0);
    }

    #[test]
    fn list_seats_follow_the_work_estimator() {
        assert_eq!(list_seats(0), 1);
        assert_eq!(list_seats(100), 1);
        assert_eq!(list_seats(101), 2);
        assert_eq!(list_seats(950), 10);
        assert_eq!(list_seats(2000), 10);
    }

    #[test]
    fn a_wide_request_waits_for_its_seats_and_frees_them_all_at_once() {
        let cfg = AdmissionConfig {
            apf: true,
            max_requests_inflight: 600,
            max_mutating_requests_inflight: 0,
            queue_wait_limit_ns: 1_000,
        };
        let mut a: Admission<u32> = Admission::new(cfg);
        let level = PriorityLevel::LeaderElection;
        let c = a.class(level, false);
        let seats = level.seats(600);
        // Fill all but 5 seats with one-seat requests.
        for i in 0..seats - 5 {
            assert_eq!(a.arrive(0, c, 1, i, 1), Admit::Dispatch);
        }
        // A 10-seat request does not fit in 5: it waits until 10 are free.
        assert_eq!(a.arrive(1, c, 1, 1000, 10), Admit::Queued);
        let mut out = Vec::new();
        for i in 0..4 {
            a.finish(c, 1, &mut out);
            assert!(out.is_empty(), "dispatched with {} free seats", 6 + i);
        }
        a.finish(c, 1, &mut out);
        assert_eq!(out, vec![1000]);
        out.clear();
        // Every seat is taken: three one-seat requests queue, and the wide one's end lets all in.
        for i in 0..3 {
            assert_eq!(a.arrive(2, c, 2, 2000 + i, 1), Admit::Queued);
        }
        a.finish(c, 10, &mut out);
        out.sort_unstable();
        assert_eq!(out, vec![2000, 2001, 2002]);
        assert_eq!(a.queued(), 0);
    }

    #[test]
    fn cores_serve_first_come_first_served() {
        let mut c = Cores::new(2);
        assert_eq!(c.run(0, 10), 10);
        assert_eq!(c.run(0, 10), 10);
        assert_eq!(c.run(0, 10), 20);
        assert_eq!(c.run(30, 10), 40);
    }
}
