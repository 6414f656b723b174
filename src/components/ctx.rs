//! What a component sees of the world while it handles one event: the time, its own random stream, and
//! an outbox for messages, timers and trace lines. It cannot see any other component.

use crate::components::msg::Msg;
use crate::engine::rng::Rng;
use crate::engine::Nanos;
use crate::observe::{RequestRecord, TraceKind};

/// Index of a process.
pub type ProcId = u16;

/// The address of the VIP (keepalived's virtual IP): delivered to the HAProxy on the node holding it.
pub const VIP: ProcId = u16::MAX;

/// A timer a component set for itself: `tag` says what for, `arg` carries a token or id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timer {
    pub tag: u32,
    pub arg: u64,
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
#[derive(Debug)]
pub enum Out {
    Send {
        to: ProcId,
        msg: Msg,
    },
    Timer {
        at: Nanos,
        timer: Timer,
    },
    Trace(TraceKind),
    Obs(Obs),
    Request(RequestRecord),
    /// keepalived takes (true) or drops (false) the VIP on its node (gratuitous ARP).
    Vip(bool),
    /// The process exits on its own (e.g. kube-controller-manager after losing its lease); the kubelet
    /// restarts it with back-off.
    Exit,
}

/// The handle a component gets for one event.
pub struct Ctx<'a> {
    pub now: Nanos,
    pub me: ProcId,
    pub rng: &'a mut Rng,
    pub out: &'a mut Vec<Out>,
}

impl Ctx<'_> {
    /// Sends a message over the simulated network.
    pub fn send(&mut self, to: ProcId, msg: Msg) {
        self.out.push(Out::Send { to, msg });
    }

    /// Sets a timer `after` from now.
    pub fn timer(&mut self, after: Nanos, tag: u32, arg: u64) {
        self.out.push(Out::Timer {
            at: self.now + after,
            timer: Timer { tag, arg },
        });
    }

    /// Sets a timer at an absolute time (not before now).
    pub fn timer_at(&mut self, at: Nanos, tag: u32, arg: u64) {
        self.out.push(Out::Timer {
            at: at.max(self.now),
            timer: Timer { tag, arg },
        });
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
