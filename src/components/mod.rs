//! The modelled processes, each a state machine that reacts to messages and timers. Dispatch is by
//! `enum`, not trait objects, to keep the hot path direct.

pub mod client;
pub mod etcd;
pub mod msg;

use crate::world::ctx::{Ctx, ProcId, Timer};
use crate::world::World;
use client::LoadClient;
use etcd::member::EtcdMember;
use msg::Msg;

/// Every kind of process.
pub enum Component {
    Etcd(Box<EtcdMember>),
    Client(LoadClient),
}

impl Component {
    /// Starts the process (boot or restart). Returns false if it cannot start.
    pub fn start(&mut self, ctx: &mut Ctx) -> bool {
        match self {
            Component::Etcd(m) => m.start(ctx),
            Component::Client(c) => {
                c.start(ctx);
                true
            }
        }
    }

    /// Handles a message.
    pub fn on_msg(&mut self, ctx: &mut Ctx, from: ProcId, msg: Msg) {
        match self {
            Component::Etcd(m) => m.on_msg(ctx, from, msg),
            Component::Client(c) => c.on_msg(ctx, from, msg),
        }
    }

    /// Handles a timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: Timer) {
        match self {
            Component::Etcd(m) => m.on_timer(ctx, t.tag, t.arg),
            Component::Client(c) => c.on_timer(ctx, t.tag, t.arg),
        }
    }

    /// Drops volatile state.
    pub fn crash(&mut self) {
        match self {
            Component::Etcd(m) => m.crash(),
            Component::Client(c) => c.crash(),
        }
    }

    /// True for HAProxy.
    pub fn is_haproxy(&self) -> bool {
        false
    }

    /// True for keepalived.
    pub fn is_keepalived(&self) -> bool {
        false
    }

    /// For leader-elected components: whether this instance believes it leads and acts.
    pub fn acting(&self) -> bool {
        false
    }

    /// For API servers: whether it serves requests (started, not shutting down).
    pub fn serving(&self) -> bool {
        false
    }

    /// For API servers: the etcd members it may use.
    pub fn etcd_endpoints(&self) -> &[ProcId] {
        &[]
    }

    /// For API clients inside the cluster: where their requests go.
    pub fn api_target(&self) -> Option<ProcId> {
        None
    }
}

/// Whether every desired workload replica is ready (None when the scenario declares no workloads).
pub fn workload_ready(_w: &World) -> Option<bool> {
    None
}

/// Builds a control-plane component (API server, controllers, load balancers, kubelets).
pub fn build_control_plane(
    _scenario: &crate::scenario::Scenario,
    _layout: &crate::topology::Layout,
    _id: ProcId,
    _kind: crate::topology::ProcKind,
) -> Component {
    unimplemented!("control-plane components arrive with the next issue")
}

/// Adds the per-workload metrics (none until workloads are modelled).
pub fn workload_metrics(_w: &World, _m: &mut crate::observe::metrics::Metrics) {}
