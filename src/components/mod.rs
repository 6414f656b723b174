//! The modelled processes, each a state machine that reacts to messages and timers. Dispatch is by
//! `enum`, not trait objects, to keep the hot path direct.

pub mod apiserver;
pub mod client;
pub mod elector;
pub mod etcd;
pub mod etcd_client;
pub mod keepalived;
pub mod load_balancer;
pub mod msg;

use crate::scenario::model::ApiEndpoint;
use crate::scenario::Scenario;
use crate::topology::{Layout, ProcKind};
use crate::world::ctx::{Ctx, ProcId, Timer};
use crate::world::World;
use apiserver::{ApiServer, ApiServerConfig};
use client::LoadClient;
use elector::{Elector, ElectorConfig};
use etcd::member::EtcdMember;
use etcd_client::EtcdClientConfig;
use keepalived::{Keepalived, KeepalivedConfig};
use load_balancer::{Haproxy, HaproxyConfig};
use msg::{HealthPath, Msg};

/// Every kind of process.
pub enum Component {
    Etcd(Box<EtcdMember>),
    Client(LoadClient),
    ApiServer(Box<ApiServer>),
    Haproxy(Box<Haproxy>),
    Keepalived(Keepalived),
    Elector(Elector),
    /// A process the model does not simulate yet (kubelet before workers are modelled).
    Idle,
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
            Component::Idle => {}
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
            Component::Idle => {}
        }
    }

    /// Handles a timer.
    pub fn on_timer(&mut self, ctx: &mut Ctx, t: Timer) {
        match self {
            Component::Etcd(m) => m.on_timer(ctx, t.tag, t.arg),
            Component::Client(c) => c.on_timer(ctx, t.tag, t.arg),
            Component::ApiServer(a) => a.on_timer(ctx, t.tag, t.arg),
            Component::Haproxy(h) => h.on_timer(ctx, t.tag, t.arg),
            Component::Keepalived(k) => k.on_timer(ctx, t.tag, t.arg),
            Component::Elector(e) => e.on_timer(ctx, t.tag, t.arg),
            Component::Idle => {}
        }
    }

    /// A graceful stop (SIGTERM) before the process goes away.
    pub fn stop(&mut self, ctx: &mut Ctx) {
        if let Component::Elector(e) = self {
            e.stop(ctx);
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
            Component::Idle => {}
        }
    }

    /// True for HAProxy.
    pub fn is_haproxy(&self) -> bool {
        matches!(self, Component::Haproxy(_))
    }

    /// True for keepalived.
    pub fn is_keepalived(&self) -> bool {
        matches!(self, Component::Keepalived(_))
    }

    /// For leader-elected components: whether this instance believes it leads and acts.
    pub fn acting(&self) -> bool {
        matches!(self, Component::Elector(e) if e.acting())
    }

    /// For API servers: whether it serves requests (started, not shutting down).
    pub fn serving(&self) -> bool {
        matches!(self, Component::ApiServer(a) if a.serving())
    }

    /// For API servers: the etcd members it may use.
    pub fn etcd_endpoints(&self) -> &[ProcId] {
        match self {
            Component::ApiServer(a) => a.etcd_endpoints(),
            _ => &[],
        }
    }

    /// For API clients inside the cluster: where their requests go.
    pub fn api_target(&self) -> Option<ProcId> {
        match self {
            Component::Elector(e) => Some(e.api_target()),
            _ => None,
        }
    }
}

/// Whether every desired workload replica is ready (None when the scenario declares no workloads).
pub fn workload_ready(_w: &World) -> Option<bool> {
    None
}

/// Adds the per-workload metrics (none until workloads are modelled).
pub fn workload_metrics(_w: &World, _m: &mut crate::observe::metrics::Metrics) {}

/// Builds a control-plane component (API server, controllers, load balancers, kubelets) with the
/// configuration its real counterpart gets from kubeadm's manifests.
pub fn build_control_plane(scenario: &Scenario, layout: &Layout, id: ProcId, kind: ProcKind) -> Component {
    let s = &scenario.settings;
    let node = layout.procs[id as usize].node;
    let local = |k: ProcKind| -> Option<ProcId> {
        layout
            .procs
            .iter()
            .position(|p| p.node == node && p.kind == k)
            .map(|p| p as ProcId)
    };
    let apiservers: Vec<ProcId> = layout.procs_of(ProcKind::ApiServer).map(|p| p as ProcId).collect();
    match kind {
        ProcKind::ApiServer => {
            // Stacked (kubeadm): --etcd-servers is the local member only. External: the whole list.
            let endpoints = match local(ProcKind::Etcd) {
                Some(e) => vec![e],
                None => layout.procs_of(ProcKind::Etcd).map(|p| p as ProcId).collect(),
            };
            Component::ApiServer(Box::new(ApiServer::new(ApiServerConfig {
                etcd: EtcdClientConfig {
                    endpoints,
                    keepalive_time_ns: s.kube_apiserver.etcd_keepalive_time.ns(),
                    keepalive_timeout_ns: s.kube_apiserver.etcd_keepalive_timeout.ns(),
                },
                request_timeout_ns: s.kube_apiserver.request_timeout.ns(),
                healthcheck_timeout_ns: s.kube_apiserver.etcd_healthcheck_timeout.ns(),
                readycheck_timeout_ns: s.kube_apiserver.etcd_readycheck_timeout.ns(),
                startup_ns: s.kube_apiserver.startup_time.ns(),
            })))
        }
        ProcKind::ControllerManager | ProcKind::Scheduler => {
            let le = &s.leader_election;
            let api = match le.api_endpoint {
                ApiEndpoint::Local => local(ProcKind::ApiServer).unwrap_or(0),
                ApiEndpoint::LoadBalancer => crate::world::build::endpoint_proc(scenario, layout),
            };
            let (lease, lease_name) = if kind == ProcKind::Scheduler {
                (0, "kube-scheduler")
            } else {
                (1, "kube-controller-manager")
            };
            Component::Elector(Elector::new(ElectorConfig {
                lease,
                lease_name,
                api,
                enabled: le.enabled,
                lease_duration_ns: le.lease_duration.ns(),
                renew_deadline_ns: le.renew_deadline.ns(),
                retry_period_ns: le.retry_period.ns(),
                release_on_cancel: le.release_on_cancel,
            }))
        }
        ProcKind::Haproxy => {
            let lb = &s.load_balancer;
            let check_path = match lb.check_path.as_str() {
                "/readyz" => HealthPath::Readyz,
                "/livez" => HealthPath::Livez,
                _ => HealthPath::Healthz,
            };
            Component::Haproxy(Box::new(Haproxy::new(HaproxyConfig {
                backend_names: apiservers
                    .iter()
                    .map(|p| layout.nodes[layout.procs[*p as usize].node].name.clone())
                    .collect(),
                backends: apiservers,
                check_path,
                inter_ns: lb.check_interval.ns(),
                fall: lb.fall,
                rise: lb.rise,
                connect_timeout_ns: lb.connect_timeout.ns(),
                check_timeout_ns: lb.check_timeout.ns(),
                retries: lb.retries,
                redispatch: lb.redispatch,
            })))
        }
        ProcKind::Keepalived => {
            let lb = &s.load_balancer;
            let ordinal = layout.nodes[node].ordinal;
            let priority = lb
                .vrrp_priorities
                .get(ordinal as usize - 1)
                .or(lb.vrrp_priorities.last())
                .copied()
                .unwrap_or(100);
            let peers = layout
                .procs_of(ProcKind::Keepalived)
                .filter(|&p| p != id as usize)
                .map(|p| p as ProcId)
                .collect();
            Component::Keepalived(Keepalived::new(KeepalivedConfig {
                peers,
                priority,
                local_haproxy: local(ProcKind::Haproxy).unwrap_or(0),
                advert_ns: lb.vrrp_advert_interval.ns(),
                script_interval_ns: lb.vrrp_script_interval.ns(),
                script_fall: lb.vrrp_script_fall,
                script_rise: lb.vrrp_script_rise,
                script_weight: lb.vrrp_script_weight,
                ordinal,
            }))
        }
        _ => Component::Idle,
    }
}
