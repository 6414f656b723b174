//! The modelled processes, each a state machine that reacts to messages and timers. Dispatch is by
//! `enum`, not trait objects, to keep the hot path direct.

pub mod apiserver;
pub mod client;
pub mod controllers;
pub mod elector;
pub mod etcd;
pub mod etcd_client;
pub mod keepalived;
pub mod kubelet;
pub mod load_balancer;
pub mod msg;
pub mod objects;

use crate::scenario::model::ApiEndpoint;
use crate::scenario::Plan as Scenario;
use crate::topology::{Layout, ProcKind};
use crate::world::ctx::{Ctx, ProcId, Timer};
use crate::world::World;
use apiserver::{ApiServer, ApiServerConfig};
use client::LoadClient;
use controllers::{ControllerConfig, Controllers, NodeInfo, WorkloadSpec};
use elector::{Elector, ElectorConfig};
use etcd::member::EtcdMember;
use etcd_client::EtcdClientConfig;
use keepalived::{Keepalived, KeepalivedConfig};
use kubelet::{Kubelet, KubeletConfig};
use load_balancer::{Haproxy, HaproxyConfig};
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
pub enum Component {
    Etcd(Box<EtcdMember>),
    Client(LoadClient),
    ApiServer(Box<ApiServer>),
    Haproxy(Box<Haproxy>),
    Keepalived(Keepalived),
    Elector(Box<Elector>),
    Kubelet(Box<Kubelet>),
    /// A process with nothing to simulate.
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
            Component::Kubelet(k) => k.start(ctx),
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
            Component::Kubelet(k) => k.on_msg(ctx, from, msg),
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
            Component::Kubelet(k) => k.on_timer(ctx, t.tag, t.arg),
            Component::Idle => {}
        }
    }

    /// A graceful stop (SIGTERM). Says whether the process goes at once (the caller takes it down
    /// like a crash, after what `stop` sent) or shuts down by itself and exits with [`Out::Exit`].
    ///
    /// [`Out::Exit`]: crate::world::ctx::Out::Exit
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
            // EtcdServer.Stop transfers leadership (MsgTimeoutNow is sent) before it exits.
            Component::Etcd(m) => {
                m.stop(ctx);
                Stopping::Now
            }
            // HAProxy treats SIGTERM as a hard stop: sessions are closed at once (HAProxy management
            // guide, "Stopping and restarting HAProxy"; the soft stop is SIGUSR1).
            Component::Haproxy(_) => Stopping::Now,
            // The kubelet has no shutdown work the model sees: its containers outlive it, as in a
            // crash.
            Component::Kubelet(_) => Stopping::Now,
            // The load generator stands for the users outside the cluster; stopping it just ends it.
            Component::Client(_) => Stopping::Now,
            Component::Idle => Stopping::Now,
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
            Component::Idle => {}
        }
    }

    /// The host went down: state that outlives the process but not the machine is lost too.
    pub fn host_down(&mut self, me: ProcId, out: &mut Vec<crate::world::ctx::Out>) {
        if let Component::Kubelet(k) = self {
            k.host_down(me, out);
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
            | Component::Idle => None,
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
            | Component::Idle => None,
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
            Component::Kubelet(k) => Some(k.api_target()),
            _ => None,
        }
    }
}

/// Ready replicas per workload: pods whose containers run and passed start-up on a node that is up and
/// that the users (the `client` node) can reach. Pods on a node cut off from the control plane but not
/// from its users still count: they serve their traffic.
pub fn ready_replicas(w: &World) -> Vec<u32> {
    let mut counts = std::collections::BTreeMap::new();
    let users = w
        .layout
        .nodes
        .iter()
        .position(|n| n.kind == crate::topology::NodeKind::Client)
        .map(|n| n as u16);
    for p in &w.procs {
        if let Component::Kubelet(k) = &p.comp {
            let served = users.is_none_or(|u| w.net.reachable(u, p.node));
            if w.net.host_up(p.node) && served {
                k.ready_pods(w.now, &mut counts);
            }
        }
    }
    (0..w.scenario.workloads.len())
        .map(|i| counts.get(&(i as u16)).copied().unwrap_or(0))
        .collect()
}

/// Whether every desired workload replica is ready (None when the scenario declares no workloads).
pub fn workload_ready(w: &World) -> Option<bool> {
    if w.scenario.workloads.is_empty() {
        return None;
    }
    let ready = ready_replicas(w);
    Some(
        w.scenario
            .workloads
            .iter()
            .zip(ready)
            .all(|(wl, r)| r >= wl.replicas),
    )
}

/// Builds a control-plane component (API server, controllers, load balancers, kubelets) with the
/// configuration its real counterpart gets from kubeadm's manifests.
pub fn build_control_plane(
    scenario: &Scenario,
    layout: &Layout,
    id: ProcId,
    kind: ProcKind,
) -> Component {
    let s = &scenario.settings;
    let node = layout.procs[id as usize].node;
    let local = |k: ProcKind| -> Option<ProcId> {
        layout
            .procs
            .iter()
            .position(|p| p.node == node && p.kind == k)
            .map(|p| p as ProcId)
    };
    let apiservers: Vec<ProcId> = layout
        .procs_of(ProcKind::ApiServer)
        .map(|p| p as ProcId)
        .collect();
    match kind {
        ProcKind::ApiServer => {
            // Stacked (kubeadm): --etcd-servers is the local member only. External: the whole list.
            let endpoints = match local(ProcKind::Etcd) {
                Some(e) => vec![e],
                None => layout
                    .procs_of(ProcKind::Etcd)
                    .map(|p| p as ProcId)
                    .collect(),
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
                shutdown_delay_ns: s.kube_apiserver.shutdown_delay_duration.ns(),
                etcd_dial_timeout_ns: s.kube_apiserver.etcd_dial_timeout.ns(),
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
            let controllers = Some(Controllers::new(
                controller_config(scenario, layout, kind),
                api,
            ));
            Component::Elector(Box::new(Elector::new(
                ElectorConfig {
                    lease,
                    lease_name,
                    api,
                    enabled: le.enabled,
                    lease_duration_ns: le.lease_duration.ns(),
                    renew_deadline_ns: le.renew_deadline.ns(),
                    retry_period_ns: le.retry_period.ns(),
                    // kube-scheduler sets ReleaseOnCancel (cmd/kube-scheduler/app/options/options.go);
                    // kube-controller-manager does not (cmd/kube-controller-manager/app/controllermanager.go).
                    release_on_cancel: le.release_on_cancel && kind == ProcKind::Scheduler,
                },
                controllers,
            )))
        }
        ProcKind::Kubelet => {
            // Workers reach the cluster endpoint; control-plane kubelets their local API server.
            let api = local(ProcKind::ApiServer)
                .unwrap_or_else(|| crate::world::build::endpoint_proc(scenario, layout));
            let k = &s.kubelet;
            Component::Kubelet(Box::new(Kubelet::new(KubeletConfig {
                node: node as u16,
                api,
                // The lease is renewed every 0.25 x its duration (k/k pkg/kubelet/nodelease).
                lease_renew_ns: k.node_lease_duration.ns() / 4,
                sync_ns: 2 * crate::engine::SEC,
                pod_startup_ns: k.pod_startup_time.ns(),
                request_timeout_ns: 10 * crate::engine::SEC,
                status_update_ns: k.node_status_update_frequency.ns(),
                // nodeStatusReportFrequency default 5m (k/k pkg/kubelet/apis/config/v1beta1/defaults.go).
                status_report_ns: 300 * crate::engine::SEC,
            })))
        }
        ProcKind::Haproxy => {
            let lb = &s.load_balancer;
            let check_path = lb.check_path;
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

fn controller_config(scenario: &Scenario, layout: &Layout, kind: ProcKind) -> ControllerConfig {
    let s = &scenario.settings;
    let nl = &s.node_lifecycle;
    let nodes = layout
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let has_kubelet = layout
                .procs
                .iter()
                .any(|p| p.node == i && p.kind == ProcKind::Kubelet);
            has_kubelet.then_some(NodeInfo {
                zone: n.zone as u16,
                control_plane: n.kind == crate::topology::NodeKind::ControlPlane,
            })
        })
        .collect();
    ControllerConfig {
        role: if kind == ProcKind::Scheduler {
            controllers::Role::Scheduler
        } else {
            controllers::Role::ControllerManager
        },
        workloads: scenario
            .workloads
            .iter()
            .map(|w| WorkloadSpec {
                name: w.name.clone(),
                replicas: w.replicas,
                spread: w.spread,
                on_control_plane: w.on_control_plane,
            })
            .collect(),
        nodes,
        node_names: layout.nodes.iter().map(|n| n.name.clone()).collect(),
        resync_ns: crate::engine::SEC,
        node_monitor_period_ns: nl.node_monitor_period.ns(),
        grace_ns: nl.node_monitor_grace_period.ns(),
        startup_grace_ns: nl.node_startup_grace_period.ns(),
        eviction_rate: nl.node_eviction_rate,
        secondary_eviction_rate: nl.secondary_node_eviction_rate,
        unhealthy_zone_threshold: nl.unhealthy_zone_threshold,
        large_cluster_size_threshold: nl.large_cluster_size_threshold,
        toleration_ns: nl.default_toleration.ns(),
        exclude_control_plane: nl.exclude_control_plane_from_disruption,
        max_pods: s.kubelet.max_pods,
        request_timeout_ns: s.leader_election.renew_deadline.ns(),
        leader_election: s.leader_election.enabled,
    }
}
