//! What a component sees of the world while it handles one event: the time, its own random stream, and
//! an outbox for messages, timers and trace lines. It cannot see any other component.

use super::apiserver::ApiServerTimer;
use super::client::ClientTimer;
use super::controllers::ControllerTimer;
use super::elector::ElectorTimer;
use super::etcd::member::EtcdTimer;
use super::etcd_client::EtcdClientTimer;
use super::keepalived::KeepalivedTimer;
use super::kubelet::KubeletTimer;
use super::load_balancer::HaproxyTimer;
use super::msg::Msg;
use crate::engine::rng::Rng;
use crate::engine::Nanos;
use crate::observe::{RequestRecord, TraceKind};

/// Index of a process.
pub type ProcId = u16;

/// The address of the VIP (keepalived's virtual IP): delivered to the HAProxy on the node holding it.
pub const VIP: ProcId = u16::MAX;

/// A timer a machine set for itself: one variant per machine (component or sub-machine), each wrapping
/// that machine's own timer enum with its own fields. `Component::on_timer` hands each variant to the
/// machine that set it; a parent forwards its sub-machine's variant by matching it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    Etcd(EtcdTimer),
    /// The etcd client inside kube-apiserver.
    EtcdClient(EtcdClientTimer),
    ApiServer(ApiServerTimer),
    Haproxy(HaproxyTimer),
    Keepalived(KeepalivedTimer),
    /// Leader election of kube-controller-manager and kube-scheduler.
    Elector(ElectorTimer),
    /// The controllers an elector runs while it leads.
    Controllers(ControllerTimer),
    Kubelet(KubeletTimer),
    Client(ClientTimer),
    /// The informers (`load.informers`).
    Informers(crate::components::informers::InformerTimer),
}

macro_rules! timer_from {
    ($($machine:ident($t:ty)),* $(,)?) => {
        $(impl From<$t> for Timer {
            fn from(t: $t) -> Timer {
                Timer::$machine(t)
            }
        })*
    };
}

timer_from!(
    Etcd(EtcdTimer),
    EtcdClient(EtcdClientTimer),
    ApiServer(ApiServerTimer),
    Haproxy(HaproxyTimer),
    Keepalived(KeepalivedTimer),
    Elector(ElectorTimer),
    Controllers(ControllerTimer),
    Informers(crate::components::informers::InformerTimer),
    Kubelet(KubeletTimer),
    Client(ClientTimer),
);

/// Which machine of a process a request id belongs to, where two machines share the process's address
/// and its answers: the elector's own Lease requests and its controllers' requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdSpace {
    /// The process's own requests (every process but a leader-elected one has only these).
    Process,
    /// The requests of the controllers a leader-elected process runs.
    Controllers,
}

impl IdSpace {
    /// The bit that marks the controllers' ids: far above any count a run reaches.
    const CONTROLLERS_BIT: u64 = 1 << 62;

    /// The machine an id of this process belongs to.
    pub fn of(id: u64) -> IdSpace {
        if id & IdSpace::CONTROLLERS_BIT != 0 {
            IdSpace::Controllers
        } else {
            IdSpace::Process
        }
    }

    fn bits(self) -> u64 {
        match self {
            IdSpace::Process => 0,
            IdSpace::Controllers => IdSpace::CONTROLLERS_BIT,
        }
    }
}

/// The one source of request ids of a machine: each request takes the next number of a counter that runs
/// on across restarts, so an answer meant for an earlier request never completes a later one. The ids
/// of machines that share a process are kept apart by their [`IdSpace`].
#[derive(Clone, Debug)]
pub struct IdGen {
    space: IdSpace,
    next: u64,
}

impl Default for IdGen {
    fn default() -> IdGen {
        IdGen::new(IdSpace::Process)
    }
}

impl IdGen {
    /// How far a restarted machine's counter jumps ahead of its previous life's (see [`IdGen::restarted`]).
    const RESTART_GAP: u64 = 1_000_000;

    /// A counter whose first id is number 1 in `space`.
    pub fn new(space: IdSpace) -> IdGen {
        IdGen { space, next: 1 }
    }

    /// The next request id.
    pub fn next_id(&mut self) -> u64 {
        let n = self.next_seq();
        debug_assert_eq!(
            n & IdSpace::CONTROLLERS_BIT,
            0,
            "id counter overflowed its space"
        );
        self.space.bits() | n
    }

    /// Takes the next number for something that is not a request but must be unique with the
    /// requests' (the controllers' write ids draw from the same count).
    pub fn next_seq(&mut self) -> u64 {
        let n = self.next;
        self.next += 1;
        n
    }

    /// The number the next request id will carry, without taking it (a write id named after the
    /// request that carries it).
    pub fn peek_seq(&self) -> u64 {
        self.next
    }

    /// The counter of a sub-machine that is built afresh when its process restarts: it continues after
    /// the previous life's with a wide gap.
    pub fn restarted(&self) -> IdGen {
        IdGen {
            space: self.space,
            next: self.next + IdGen::RESTART_GAP,
        }
    }
}

/// Facts a component reports to the invariant checker (not to any other component).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Obs {
    /// An etcd member became leader of `term`.
    BecameLeader { term: u64 },
    /// An etcd member applied the committed entry at `index` of `term`.
    Applied { index: u64, term: u64 },
    /// An etcd member's log was truncated from `index` onwards (conflict repair).
    Truncated { index: u64 },
    /// An etcd member replaced its store with the leader's snapshot at `index` (of `term`).
    SnapshotApplied { index: u64, term: u64 },
    /// A client got an acknowledgement for the write at (`index`, `term`).
    WriteAcked {
        write_id: u64,
        index: u64,
        term: u64,
    },
    /// A leader-elected component performed an action only a leader may (a reconcile or a bind);
    /// `last_renew_ns` is when it last renewed its lease successfully.
    LeaderAction { lease: u16, last_renew_ns: u64 },
}

/// Something a component asks the world to do.
#[derive(Clone, Debug)]
pub enum Out {
    Send {
        to: ProcId,
        msg: Msg,
    },
    Timer {
        at: Nanos,
        timer: Timer,
    },
    /// A timer the component may cancel ([`Ctx::deadline`]).
    Deadline {
        at: Nanos,
        timer: Timer,
    },
    /// The pending deadline with this value will not fire ([`Ctx::cancel`]).
    Cancel(Timer),
    Trace(TraceKind),
    Obs(Obs),
    Request(RequestRecord),
    /// An API server answered a request it admitted.
    Served(crate::observe::trace::ServedRecord),
    /// An API server's 429s of one second.
    Throttled(crate::observe::trace::ThrottleRecord),
    /// An etcd member ran `cpu_ns` of work on one of its cores from `start_ns`.
    EtcdBusy {
        start_ns: Nanos,
        cpu_ns: Nanos,
    },
    /// An informer sent a relist (a LIST after its first successful one), now.
    Relist,
    /// keepalived takes (true) or drops (false) the VIP on its node (gratuitous ARP).
    Vip(bool),
    /// The process exits on its own (e.g. kube-controller-manager after losing its lease); the kubelet
    /// restarts it with back-off.
    Exit,
    /// The kubelet kills this container of its node (a failed liveness or startup probe): SIGTERM,
    /// SIGKILL after the grace period; restarted with the back-off.
    Kill(ProcId),
    /// An etcd leader's quiet stream to a follower started or ended (lazy heartbeats, the engine's
    /// shortcut: see [`crate::components::etcd::raft::Raft::set_quiet_allowed`]).
    Quiet(QuietChange),
}

/// A quiet stream's start or end, as an etcd leader reports it to the world.
#[derive(Clone, Copy, Debug)]
pub struct QuietChange {
    /// The follower's process.
    pub peer: ProcId,
    /// The leader's and the follower's member ids.
    pub from: u64,
    pub to: u64,
    /// The leader's term and commit index (what each stood-in heartbeat carries).
    pub term: u64,
    pub commit: u64,
    /// Started (the first stood-in heartbeat is the one of the tick at `at`) or ended (nothing
    /// after `at` is stood in for).
    pub start: bool,
    /// The tick's time (a start) or the moment it ended, on the leader's clock.
    pub at: Nanos,
    /// The leader's tick (one stood-in heartbeat per tick).
    pub tick_ns: Nanos,
}

/// The handle a component gets for one event.
pub struct Ctx<'a> {
    pub now: Nanos,
    pub me: ProcId,
    pub rng: &'a mut Rng,
    pub out: &'a mut Vec<Out>,
    /// The engine stands in for an etcd leader's empty heartbeats to caught-up followers (lazy
    /// heartbeats: on, and nothing in the world that a heartbeat could reveal, such as a fault).
    pub quiet_ok: bool,
}

impl Ctx<'_> {
    /// Sends a message over the simulated network.
    pub fn send(&mut self, to: ProcId, msg: Msg) {
        self.out.push(Out::Send { to, msg });
    }

    /// Sets a timer `after` from now (saturating: a timer set beyond the end of time never fires).
    pub fn timer(&mut self, after: Nanos, timer: impl Into<Timer>) {
        self.out.push(Out::Timer {
            at: self.now.saturating_add(after),
            timer: timer.into(),
        });
    }

    /// Sets a timer at an absolute time (not before now).
    pub fn timer_at(&mut self, at: Nanos, timer: impl Into<Timer>) {
        self.out.push(Out::Timer {
            at: at.max(self.now),
            timer: timer.into(),
        });
    }

    /// Sets a deadline: a timer guarding something the component expects to finish first (a request's
    /// timeout, a retry of a request still unanswered), which it [`Ctx::cancel`]s when that finishes.
    /// Until cancelled it is exactly [`Ctx::timer`]: same moment, same place among events at that
    /// moment.
    ///
    /// Cancelling is an engine shortcut (issue 12: most request timeouts fire after the answer came,
    /// and did nothing but cost an event), so the contract is the component's: a deadline is cancelled
    /// only once its firing would do nothing. The plain engine (`settings.engine.shortcuts: false`)
    /// ignores the cancel and fires it, and the run must come out byte-identical.
    pub fn deadline(&mut self, after: Nanos, timer: impl Into<Timer>) {
        self.out.push(Out::Deadline {
            at: self.now.saturating_add(after),
            timer: timer.into(),
        });
    }

    /// [`Ctx::deadline`] at a time (not before now).
    pub fn deadline_at(&mut self, at: Nanos, timer: impl Into<Timer>) {
        self.out.push(Out::Deadline {
            at: at.max(self.now),
            timer: timer.into(),
        });
    }

    /// Cancels the pending deadline with this value (see [`Ctx::deadline`]); nothing if there is none.
    pub fn cancel(&mut self, timer: impl Into<Timer>) {
        self.out.push(Out::Cancel(timer.into()));
    }

    /// Records a state change.
    pub fn trace(&mut self, kind: TraceKind) {
        self.out.push(Out::Trace(kind));
    }

    /// Logs a line as the component would.
    pub fn log(&mut self, text: String) {
        let proc = self.me;
        self.out.push(Out::Trace(TraceKind::Log { proc, text }));
    }

    /// Reports a fact to the invariant checker.
    pub fn observe(&mut self, obs: Obs) {
        self.out.push(Out::Obs(obs));
    }
}
