//! Building every process of the plan with the configuration its real counterpart gets (from kubeadm's
//! manifests, etcd's flags, the scenario's load): one exhaustive `match` over [`ProcKind`], so a new
//! process kind cannot be forgotten here.

use super::apiserver::{ApiServer, ApiServerConfig};
use super::client::{interval_for, ClientConfig, ClientTarget, LoadClient};
use super::controllers::{self, ControllerConfig, Controllers, NodeInfo, WorkloadSpec};
use super::ctx::{ProcId, VIP};
use super::elector::{Elector, ElectorConfig};
use super::etcd::member::{EtcdConfig, EtcdMember};
use super::etcd_client::EtcdClientConfig;
use super::informers::{Informers, InformersConfig};
use super::keepalived::{Keepalived, KeepalivedConfig};
use super::kubelet::{ContainerProbe, Kubelet, KubeletConfig, ProbedContainer};
use super::load_balancer::{Haproxy, HaproxyConfig};
use super::Component;
use crate::components::apf::{AdmissionConfig, ApiUser};
use crate::components::apiserver::ApiCapacity;
use crate::engine::id16;
use crate::scenario::model::{ApiEndpoint, LoadApiVia, LoadTarget};
use crate::scenario::plan::{Endpoint, Plan};
use crate::topology::{Layout, NodeKind, ProcKind};

/// Builds process `id` of the plan's layout, of kind `kind`.
pub fn build(plan: &Plan, id: ProcId, kind: ProcKind) -> Component {
    debug_assert_eq!(plan.layout.procs[id as usize].kind, kind);
    match kind {
        ProcKind::Etcd => Component::Etcd(Box::new(etcd_member(plan, id))),
        ProcKind::ApiServer => Component::ApiServer(Box::new(api_server(plan, id))),
        ProcKind::ControllerManager | ProcKind::Scheduler => {
            Component::Elector(Box::new(elector(plan, id, kind)))
        }
        ProcKind::Kubelet => Component::Kubelet(Box::new(kubelet(plan, id))),
        ProcKind::Haproxy => Component::Haproxy(Box::new(haproxy(plan))),
        ProcKind::Keepalived => Component::Keepalived(keepalived(plan, id)),
        ProcKind::Client => Component::Client(load_client(plan)),
        ProcKind::Informers => Component::Informers(Box::new(Informers::new(InformersConfig {
            api: endpoint_proc(plan),
            count: plan.load.informers.count,
            start_ns: plan.load.start.ns(),
            after_broken_watch: plan.load.informers.after_broken_watch,
        }))),
    }
}

/// The process clients reach for the cluster endpoint.
pub fn endpoint_proc(plan: &Plan) -> ProcId {
    let layout = &plan.layout;
    match plan.topology.endpoint {
        Endpoint::Direct { cp } => layout
            .proc_index(&format!("cp-{cp}/kube-apiserver"))
            .map_or(VIP, id16),
        Endpoint::LoadBalancer => {
            let mut lbs = layout.procs_of(ProcKind::Haproxy);
            match (lbs.next(), lbs.next()) {
                // One load balancer and no VIP: clients talk to it directly.
                (Some(only), None) => id16(only),
                // Two or more: the VIP, answered by whichever holds it.
                (Some(_), Some(_)) | (None, _) => VIP,
            }
        }
    }
}

/// The process of kind `kind` on the same node as `id`, if there is one.
fn local(layout: &Layout, id: ProcId, kind: ProcKind) -> Option<ProcId> {
    let node = layout.procs[id as usize].node;
    layout
        .procs
        .iter()
        .position(|p| p.node == node && p.kind == kind)
        .map(id16)
}

fn procs_of(layout: &Layout, kind: ProcKind) -> Vec<ProcId> {
    layout.procs_of(kind).map(id16).collect()
}

/// An etcd member with the cluster's flags; Raft ids are 1.. in layout order.
fn etcd_member(plan: &Plan, id: ProcId) -> EtcdMember {
    let s = &plan.settings;
    let peers: Vec<(u64, ProcId)> = procs_of(&plan.layout, ProcKind::Etcd)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (i as u64 + 1, p))
        .collect();
    let member_id = peers
        .iter()
        .find(|(_, p)| *p == id)
        .map(|(m, _)| *m)
        .unwrap_or(0);
    let tick_ns = s.etcd.heartbeat_interval.ns().max(1);
    // Validation bounds the heartbeat below (1 ms) and the election timeout above (50 s), so the
    // tick count fits easily; saturate rather than wrap if that ever changes.
    let election_tick = u32::try_from(s.etcd.election_timeout.ns() / tick_ns)
        .unwrap_or(u32::MAX)
        .max(1);
    EtcdMember::new(EtcdConfig {
        member_id,
        peers,
        tick_ns,
        election_tick,
        pre_vote: s.etcd.pre_vote,
        check_quorum: s.etcd.check_quorum,
        initial_election_tick_advance: s.etcd.initial_election_tick_advance,
        fsync_latency_ns: s.etcd.fsync_latency.ns(),
        request_timeout_ns: s.etcd.effective_request_timeout(),
        snapshot_count: s.etcd.snapshot_count,
        snapshot_catchup_entries: s.etcd.snapshot_catchup_entries,
        quota: crate::components::etcd::quota::QuotaConfig {
            quota_backend_bytes: s.etcd.quota_backend_bytes,
            bytes_per_revision: s.etcd.bytes_per_revision,
        },
        capacity: crate::components::etcd::capacity::EtcdCapacity {
            cores: s.etcd.cores,
            read_cpu_ns: s.etcd.cpu_per_read.ns(),
            write_cpu_ns: s.etcd.cpu_per_write.ns(),
            peer_bytes_per_s: s.etcd.peer_bandwidth_bytes_per_s,
            entry_bytes: s.etcd.bytes_per_revision,
        },
    })
}

/// The scenario's load generator.
fn load_client(plan: &Plan) -> LoadClient {
    let target = match plan.load.target {
        LoadTarget::Etcd => ClientTarget::Etcd(procs_of(&plan.layout, ProcKind::Etcd)),
        LoadTarget::Api => match plan.load.api_via {
            LoadApiVia::Endpoint => ClientTarget::Api(endpoint_proc(plan)),
            // The client pod runs on worker-1; its kube-proxy carries the connection.
            LoadApiVia::KubernetesService => ClientTarget::Api(
                plan.layout
                    .proc_index("worker-1/kubelet")
                    .map_or_else(|| endpoint_proc(plan), id16),
            ),
        },
    };
    LoadClient::new(ClientConfig {
        target,
        // No load (0 requests a second): the client never sends.
        interval_ns: if plan.load.requests_per_second > 0.0 {
            interval_for(plan.load.requests_per_second)
        } else {
            crate::engine::Nanos::MAX
        },
        write_ratio: plan.load.write_ratio,
        timeout_ns: plan.load.timeout.ns(),
        start_ns: plan.load.start.ns(),
        long_lived: plan.load.connection == crate::scenario::model::LoadConnection::LongLived,
        user: match plan.load.identity {
            crate::scenario::model::LoadIdentity::User => ApiUser::User,
            crate::scenario::model::LoadIdentity::ServiceAccount => ApiUser::ServiceAccount,
        },
    })
}

/// kube-apiserver with kubeadm's flags.
fn api_server(plan: &Plan, id: ProcId) -> ApiServer {
    let s = &plan.settings;
    let layout = &plan.layout;
    // Stacked (kubeadm): --etcd-servers is the local member only. External: the whole list.
    let endpoints = match local(layout, id, ProcKind::Etcd) {
        Some(e) => vec![e],
        None => procs_of(layout, ProcKind::Etcd),
    };
    ApiServer::new(ApiServerConfig {
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
        goaway_chance: s.kube_apiserver.goaway_chance,
        capacity: ApiCapacity {
            admission: AdmissionConfig {
                apf: s.kube_apiserver.enable_priority_and_fairness,
                max_requests_inflight: s.kube_apiserver.max_requests_inflight,
                max_mutating_requests_inflight: s.kube_apiserver.max_mutating_requests_inflight,
                // `c.RequestTimeout/4` (k8s.io/apiserver pkg/server/config.go,
                // DefaultBuildHandlerChain: WithPriorityAndFairness).
                queue_wait_limit_ns: s.kube_apiserver.request_timeout.ns() / 4,
            },
            cores: s.kube_apiserver.cores,
            get_cpu_ns: s.kube_apiserver.cpu_per_get.ns(),
            write_cpu_ns: s.kube_apiserver.cpu_per_write.ns(),
            list_object_cpu_ns: s.kube_apiserver.cpu_per_list_object.ns(),
            informed_objects: plan.load.informers.objects,
        },
        ordinal: procs_of(layout, ProcKind::ApiServer)
            .iter()
            .position(|&p| p == id)
            .map_or(0, id16),
    })
}

/// kube-controller-manager or kube-scheduler: leader election around its controllers.
fn elector(plan: &Plan, id: ProcId, kind: ProcKind) -> Elector {
    let le = &plan.settings.leader_election;
    let api = match le.api_endpoint {
        ApiEndpoint::Local => local(&plan.layout, id, ProcKind::ApiServer).unwrap_or(0),
        ApiEndpoint::LoadBalancer => endpoint_proc(plan),
    };
    let (lease, lease_name) = if kind == ProcKind::Scheduler {
        (0, "kube-scheduler")
    } else {
        (1, "kube-controller-manager")
    };
    let controllers = Some(Controllers::new(controller_config(plan, kind), api));
    Elector::new(
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
    )
}

/// The kubelet of the node `id` runs on.
fn kubelet(plan: &Plan, id: ProcId) -> Kubelet {
    let node = plan.layout.procs[id as usize].node;
    // kubeadm: `kubeadm init` writes the first control-plane node's kubelet.conf with the
    // control-plane endpoint (getKubeConfigSpecsBase in k/k cmd/kubeadm/app/phases/kubeconfig/
    // kubeconfig.go), while `kubeadm join --control-plane` points the kubelet at the local API
    // server (runKubeletStartJoinPhase in cmd/kubeadm/app/cmd/phases/join/kubelet.go, feature gate
    // ControlPlaneKubeletLocalMode, beta and on by default since v1.33). Workers reach the endpoint.
    let spec = &plan.layout.nodes[node];
    let first_cp = spec.kind == NodeKind::ControlPlane && spec.ordinal == 1;
    let api = local(&plan.layout, id, ProcKind::ApiServer)
        .filter(|_| !first_cp)
        .unwrap_or_else(|| endpoint_proc(plan));
    let k = &plan.settings.kubelet;
    Kubelet::new(KubeletConfig {
        node: id16(node),
        api,
        // The lease is renewed every 0.25 x its duration (k/k pkg/kubelet/nodelease).
        lease_renew_ns: k.node_lease_duration.ns() / 4,
        pod_startup_ns: k.pod_startup_time.ns(),
        // The heartbeat client's timeout: nodeStatusUpdateFrequency, at most the lease duration
        // (k/k cmd/kubelet/app/server.go, "The timeout is the minimum of the lease duration and
        // status update frequency"): 10 s at the defaults.
        request_timeout_ns: k
            .node_status_update_frequency
            .ns()
            .min(k.node_lease_duration.ns()),
        status_update_ns: k.node_status_update_frequency.ns(),
        // nodeStatusReportFrequency default 5m (k/k pkg/kubelet/apis/config/v1beta1/defaults.go).
        status_report_ns: 300 * crate::engine::SEC,
        apiservers: procs_of(&plan.layout, ProcKind::ApiServer),
        // kubeadm's manifests (k/k cmd/kubeadm/app/util/staticpod/utils.go `LivenessProbe` and
        // `StartupProbe(..., 10s, 24)`): initialDelaySeconds 10, timeoutSeconds 15, periodSeconds
        // 10, failureThreshold 8 (startup 24), for kube-apiserver, kube-controller-manager and
        // kube-scheduler (phases/controlplane/manifests.go) and a stacked etcd member
        // (phases/etcd/local.go). External etcd hosts run
        // no kubelet here: their etcd is a service without probes.
        probes: [
            (
                ProbedContainer::ApiServer,
                ProcKind::ApiServer,
                k.apiserver_liveness_probe,
            ),
            (ProbedContainer::Etcd, ProcKind::Etcd, k.etcd_probes),
            (
                ProbedContainer::ControllerManager,
                ProcKind::ControllerManager,
                k.controller_probes,
            ),
            (
                ProbedContainer::Scheduler,
                ProcKind::Scheduler,
                k.controller_probes,
            ),
        ]
        .into_iter()
        .filter(|&(_, _, on)| on)
        .filter_map(|(container, kind, _)| {
            local(&plan.layout, id, kind).map(|target| ContainerProbe {
                container,
                target,
                initial_delay_ns: 10 * crate::engine::SEC,
                period_ns: k.liveness_period.ns(),
                timeout_ns: 15 * crate::engine::SEC,
                failure_threshold: k.liveness_failure_threshold,
                startup_failure_threshold: 24,
            })
        })
        .collect(),
    })
}

/// HAProxy in front of every API server, as kubeadm's HA guide configures it.
fn haproxy(plan: &Plan) -> Haproxy {
    let layout = &plan.layout;
    let lb = &plan.settings.load_balancer;
    let apiservers = procs_of(layout, ProcKind::ApiServer);
    Haproxy::new(HaproxyConfig {
        backend_names: apiservers
            .iter()
            .map(|p| layout.nodes[layout.procs[*p as usize].node].name.clone())
            .collect(),
        backends: apiservers,
        check_path: lb.check_path,
        inter_ns: lb.check_interval.ns(),
        fall: lb.fall,
        rise: lb.rise,
        connect_timeout_ns: lb.connect_timeout.ns(),
        check_timeout_ns: lb.check_timeout.ns(),
        retries: lb.retries,
        redispatch: lb.redispatch,
    })
}

/// keepalived with kubeadm's VRRP instance and check script.
fn keepalived(plan: &Plan, id: ProcId) -> Keepalived {
    let layout = &plan.layout;
    let lb = &plan.settings.load_balancer;
    let node = layout.procs[id as usize].node;
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
        .map(id16)
        .collect();
    Keepalived::new(KeepalivedConfig {
        peers,
        priority,
        local_haproxy: local(layout, id, ProcKind::Haproxy).unwrap_or(0),
        advert_ns: lb.vrrp_advert_interval.ns(),
        script_interval_ns: lb.vrrp_script_interval.ns(),
        script_fall: lb.vrrp_script_fall,
        script_rise: lb.vrrp_script_rise,
        script_weight: lb.vrrp_script_weight,
        ordinal,
    })
}

fn controller_config(plan: &Plan, kind: ProcKind) -> ControllerConfig {
    let layout = &plan.layout;
    let s = &plan.settings;
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
                zone: id16(n.zone),
                control_plane: n.kind == NodeKind::ControlPlane,
            })
        })
        .collect();
    ControllerConfig {
        role: if kind == ProcKind::Scheduler {
            controllers::Role::Scheduler
        } else {
            controllers::Role::ControllerManager
        },
        workloads: plan
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
