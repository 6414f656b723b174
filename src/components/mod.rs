//! The modelled processes, each a state machine that reacts to messages and timers. Dispatch is by
//! `enum`, not trait objects, to keep the hot path direct.

pub mod apf;
pub mod apiserver;
pub mod builder;
pub mod client;
pub mod conn;
pub mod controllers;
pub mod ctx;
pub mod elector;
pub mod etcd;
pub mod etcd_client;
pub mod informers;
pub mod keepalived;
pub mod kubelet;
pub mod load_balancer;
pub mod msg;
pub mod objects;

pub use builder::{build, endpoint_proc};

use apiserver::ApiServer;
use client::LoadClient;
use ctx::{Ctx, Out, ProcId, Timer};
use elector::Elector;
use etcd::member::EtcdMember;
use keepalived::Keepalived;
use kubelet::Kubelet;
use load_balancer::Haproxy;
use msg::Msg;

/// How a process answers SIGTERM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopping {
    /// It is gone at once: whatever it does on SIGTERM was sent from `stop`.
    Now,
    /// It keeps running through a graceful shutdown and exits by itself.
    Graceful,
}

/// Every kind of process.
#[derive(Clone)]
pub enum Component {
    Etcd(Box<EtcdMember>),
    Client(LoadClient),
    ApiServer(Box<ApiServer>),
    Haproxy(Box<Haproxy>),
    Keepalived(Keepalived),
    Elector(Box<Elector>),
    Kubelet(Box<Kubelet>),
    /// The informers (`load.informers`), all in one process.
    Informers(Box<informers::Informers>),
}

impl Component {
    /// Starts the process (boot or restart). Returns false if it cannot start.
    pub fn start(&mut self, ctx: &mut Ctx) -> bool {
        match self {
            Component::Etcd(m) => return m.start(ctx),
            Component::Client(c) => c.start(ctx),
            Component::ApiServer(a) => a.start(ctx),
            Component::Haproxy(h) => h.start(ctx),
            Component::Keepalived(k) => k.start(ctx),
            Component::Elector(e) => e.start(ctx),
            Component::Kubelet(k) => k.start(ctx),
            Component::Informers(i) => i.start(ctx),
        }
        true
    }

    /// Handles a message.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        match self {
            Component::Etcd(m) => m.on_msg(ctx, from, msg),
            Component::Client(c) => c.on_msg(ctx, from, msg),
            Component::ApiServer(a) => a.on_msg(ctx, from, msg),
            Component::Haproxy(h) => h.on_msg(ctx, from, msg),
            Component::Keepalived(k) => k.on_msg(ctx, from, msg),
            Component::Elector(e) => e.on_msg(ctx, from, msg),
            Component::Kubelet(k) => k.on_msg(ctx, from, msg),
            Component::Informers(i) => i.on_msg(ctx, from, msg),
        }
    }

    /// Handles a timer: hands it to the machine that set it (a sub-machine through its parent).
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: Timer) {
        match (self, t) {
            (Component::Etcd(m), Timer::Etcd(t)) => m.on_timer(ctx, t),
            (Component::Client(c), Timer::Client(t)) => c.on_timer(ctx, t),
            (Component::ApiServer(a), Timer::ApiServer(t)) => a.on_timer(ctx, t),
            (Component::ApiServer(a), Timer::EtcdClient(t)) => a.on_etcd_client_timer(ctx, t),
            (Component::Haproxy(h), Timer::Haproxy(t)) => h.on_timer(ctx, t),
            (Component::Keepalived(k), Timer::Keepalived(t)) => k.on_timer(ctx, t),
            (Component::Elector(e), Timer::Elector(t)) => e.on_timer(ctx, t),
            (Component::Elector(e), Timer::Controllers(t)) => e.on_controllers_timer(ctx, t),
            (Component::Kubelet(k), Timer::Kubelet(t)) => k.on_timer(ctx, t),
            (Component::Informers(i), Timer::Informers(t)) => i.on_timer(ctx, t),
            // Invariant violation: a machine sets only its own timers, and the world hands a timer
            // back only to the process (of fixed kind) that set it. Every other pair is impossible.
            (_, t) => debug_assert!(
                false,
                "timer {t:?} reached a process that cannot have set it"
            ),
        }
    }

    /// A graceful stop (SIGTERM). Says whether the process goes at once (the caller takes it down
    /// like a crash, after what `stop` sent) or shuts down by itself and exits with [`Out::Exit`].
    ///
    /// [`Out::Exit`]: ctx::Out::Exit
    pub fn stop(&mut self, ctx: &mut Ctx) -> Stopping {
        match self {
            // Shutdown delay, then drain (k8s.io/apiserver pkg/server/genericapiserver.go).
            Component::ApiServer(a) => a.stop(ctx),
            // client-go ReleaseOnCancel writes the empty holder, then the process exits; the write is
            // sent before it goes.
            Component::Elector(e) => {
                e.stop(ctx);
                Stopping::Now
            }
            // keepalived sends a priority-0 advert and drops the VIP on SIGTERM, then exits.
            Component::Keepalived(k) => {
                k.stop(ctx);
                Stopping::Now
            }
            // EtcdServer.Stop: a leader transfers leadership and waits for it (MoveLeader) before it
            // exits.
            Component::Etcd(m) => {
                if m.stop(ctx) {
                    Stopping::Graceful
                } else {
                    Stopping::Now
                }
            }
            // HAProxy treats SIGTERM as a hard stop: sessions are closed at once (HAProxy management
            // guide, "Stopping and restarting HAProxy"; the soft stop is SIGUSR1).
            Component::Haproxy(_) => Stopping::Now,
            // The kubelet has no shutdown work the model sees: its containers outlive it, as in a
            // crash.
            Component::Kubelet(_) => Stopping::Now,
            // The load generator stands for the users outside the cluster; stopping it just ends it.
            Component::Client(_) => Stopping::Now,
            // Operators' informers have nothing to hand over: their watches end with them.
            Component::Informers(_) => Stopping::Now,
        }
    }

    /// Drops volatile state.
    pub fn crash(&mut self) {
        match self {
            Component::Etcd(m) => m.crash(),
            Component::Client(c) => c.crash(),
            Component::ApiServer(a) => a.crash(),
            Component::Haproxy(h) => h.crash(),
            Component::Keepalived(k) => k.crash(),
            Component::Elector(e) => e.crash(),
            Component::Kubelet(k) => k.crash(),
            Component::Informers(i) => i.crash(),
        }
    }

    /// The requests it holds open on their connections (an API server's watches), as (peer,
    /// request id): a process that dies on a live host has these connections reset by its kernel.
    pub fn held_requests(&self) -> Vec<(ProcId, u64)> {
        match self {
            Component::ApiServer(a) => a.held_requests(),
            Component::Etcd(e) => e.held_requests(),
            Component::Client(_)
            | Component::Haproxy(_)
            | Component::Keepalived(_)
            | Component::Elector(_)
            | Component::Kubelet(_)
            | Component::Informers(_) => Vec::new(),
        }
    }

    /// The host went down: state that outlives the process but not the machine is lost too.
    pub fn host_down(&mut self, me: ProcId, out: &mut Vec<Out>) {
        if let Component::Kubelet(k) = self {
            k.host_down(me, out);
        }
    }

    /// The leader-elected controller, for kube-scheduler and kube-controller-manager processes.
    pub fn elector(&self) -> Option<&elector::Elector> {
        match self {
            Component::Elector(e) => Some(e),
            Component::Client(_)
            | Component::ApiServer(_)
            | Component::Haproxy(_)
            | Component::Keepalived(_)
            | Component::Etcd(_)
            | Component::Kubelet(_)
            | Component::Informers(_) => None,
        }
    }

    /// The etcd member, for etcd processes.
    pub fn etcd(&self) -> Option<&EtcdMember> {
        match self {
            Component::Etcd(m) => Some(m),
            Component::Client(_)
            | Component::ApiServer(_)
            | Component::Haproxy(_)
            | Component::Keepalived(_)
            | Component::Elector(_)
            | Component::Kubelet(_)
            | Component::Informers(_) => None,
        }
    }

    /// The etcd member, for etcd processes, to change its disk (faults).
    pub fn etcd_mut(&mut self) -> Option<&mut EtcdMember> {
        match self {
            Component::Etcd(m) => Some(m),
            Component::Client(_)
            | Component::ApiServer(_)
            | Component::Haproxy(_)
            | Component::Keepalived(_)
            | Component::Elector(_)
            | Component::Kubelet(_)
            | Component::Informers(_) => None,
        }
    }

    /// The Raft state of an etcd member that has one (not wiped).
    pub fn raft(&self) -> Option<&etcd::raft::Raft> {
        self.etcd().and_then(|m| m.raft())
    }

    /// For leader-elected components: whether this instance believes it leads and acts.
    pub fn acting(&self) -> bool {
        matches!(self, Component::Elector(e) if e.acting())
    }

    /// For API servers: whether it serves requests (started, and its port not yet closed by a
    /// graceful stop).
    pub fn serving(&self) -> bool {
        matches!(self, Component::ApiServer(a) if a.serving())
    }

    /// For API servers: whether its readiness probe would pass: serving, and its last health check
    /// (the `etcd` check, then the post-start hook and the shutdown) passed.
    pub fn ready(&self) -> bool {
        matches!(self, Component::ApiServer(a) if a.ready())
    }

    /// For API servers: the etcd members it may use.
    pub fn etcd_endpoints(&self) -> &[ProcId] {
        match self {
            Component::ApiServer(a) => a.etcd_endpoints(),
            Component::Etcd(_)
            | Component::Client(_)
            | Component::Haproxy(_)
            | Component::Keepalived(_)
            | Component::Elector(_)
            | Component::Kubelet(_)
            | Component::Informers(_) => &[],
        }
    }

    /// For API clients inside the cluster: where their requests go.
    pub fn api_target(&self) -> Option<ProcId> {
        match self {
            Component::Elector(e) => Some(e.api_target()),
            Component::Kubelet(k) => Some(k.api_target()),
            // The load generator stands outside the cluster; the rest are not API clients.
            Component::Etcd(_)
            | Component::Client(_)
            | Component::ApiServer(_)
            | Component::Haproxy(_)
            | Component::Keepalived(_)
            | Component::Informers(_) => None,
        }
    }
}
