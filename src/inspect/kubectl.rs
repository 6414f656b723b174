//! `kubectl get ...` on the admin's machine: first the request's path (the endpoint, the load
//! balancer's pick, the API server, its etcd), then the objects as the API server would list them
//! from etcd's committed state, in kubectl's table layout (k/k pkg/printers/internalversion/printers.go).

use super::format::{go_tabwriter, human_duration, rfc3339, tabwriter};
use super::names::{fnv, node_ip, pod_ip, uuid, VIP, WALL_CLOCK_EPOCH_UNIX_S};
use super::{Moment, Printed};
use crate::components::ctx::{ProcId, VIP as VIP_PROC};
use crate::components::etcd::kv::Kv;
use crate::components::msg::keys;
use crate::components::objects::{EndpointObj, NodeObj, Pod};
use crate::components::Component;
use crate::engine::{Nanos, SEC};
use crate::observe::{ProcState, TraceKind};
use crate::topology::{LoadBalancerPlacement, NodeKind, ProcKind};
use crate::world::observer::{apiserver_can_write, quorum_leader};
use crate::world::World;

/// client-go's dial timeout (`net.Dialer{Timeout: 30 * time.Second}` in k8s.io/client-go
/// transport/cache.go and `utilnet.SetTransportDefaults`).
const DIAL_TIMEOUT_NS: Nanos = 30 * SEC;
/// kube-apiserver `--request-timeout` default, 1m (FACTS.md, kube-apiserver): a request whose etcd
/// read cannot complete is answered with a 504 Timeout then.
const REQUEST_TIMEOUT_NS: Nanos = 60 * SEC;

/// The Kubernetes version the nodes report (node-monitor-grace-period 50s, as modelled, is v1.32+).
const KUBE_VERSION: &str = "v1.32.0";

/// How a request from the admin's machine through the cluster endpoint ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiAnswer {
    /// This API server answers from etcd's committed state.
    Served { api: ProcId },
    /// The API server took the request but could not read from etcd with quorum: 504 after the
    /// request timeout.
    ServerTimeout { api: ProcId },
    /// Nothing listens at the address (host up, port closed): refused at once.
    Refused { addr: String },
    /// Nothing answers at the address (host down, cut off, or nobody holds the VIP).
    DialTimeout { addr: String },
    /// The load balancer took the connection but had no backend to give it: it closes it.
    Eof { addr: String },
}

impl ApiAnswer {
    /// In words, naming the processes (for an exercise's explanation).
    pub fn describe(&self, w: &World) -> String {
        let name = |p: &ProcId| w.layout.procs[*p as usize].name.clone();
        match self {
            ApiAnswer::Served { api } => format!("{} answers from etcd's committed state", name(api)),
            ApiAnswer::ServerTimeout { api } => format!(
                "{} takes the request but cannot read from etcd with a quorum: 504 Timeout after its 1m --request-timeout",
                name(api)
            ),
            ApiAnswer::Refused { addr } => format!("nothing listens at {addr}: connection refused"),
            ApiAnswer::DialTimeout { addr } => {
                format!("nothing answers at {addr}: the dial times out after 30s")
            }
            ApiAnswer::Eof { addr } => format!(
                "HAProxy at {addr} has no backend UP and closes the connection (EOF)"
            ),
        }
    }
}

/// The endpoint's `host:port` as the kubeconfig names it.
fn endpoint_addr(w: &World, endpoint: ProcId) -> String {
    let port = match w.scenario.topology.load_balancer_placement {
        // kubeadm's Option 2 moves HAProxy's frontend to 8443 beside the local API server.
        LoadBalancerPlacement::ControlPlane if endpoint == VIP_PROC => 8443,
        LoadBalancerPlacement::ControlPlane | LoadBalancerPlacement::Separate => 6443,
    };
    if endpoint == VIP_PROC {
        format!("{VIP}:{port}")
    } else {
        let node = w.layout.procs[endpoint as usize].node;
        format!("{}:{port}", node_ip(&w.layout, node))
    }
}

/// Where a kubectl request goes and how it ends, and how long it waited for that.
pub fn api_answer(w: &World) -> (ApiAnswer, Nanos) {
    let client = w
        .layout
        .procs_of(ProcKind::Client)
        .next()
        .map_or(0, |p| w.procs[p].node);
    let endpoint = crate::components::endpoint_proc(&w.scenario);
    let addr = endpoint_addr(w, endpoint);
    let target = if endpoint == VIP_PROC {
        w.vip_target()
    } else {
        Some(endpoint)
    };
    let Some(target) = target else {
        return (ApiAnswer::DialTimeout { addr }, DIAL_TIMEOUT_NS);
    };
    let t = &w.procs[target as usize];
    if !w.net.host_up(t.node) || !w.net.reachable(client, t.node) {
        return (ApiAnswer::DialTimeout { addr }, DIAL_TIMEOUT_NS);
    }
    if !t.alive {
        return (ApiAnswer::Refused { addr }, 0);
    }
    let leader = quorum_leader(w);
    let judge = |api: ProcId| {
        if apiserver_can_write(w, api, leader) {
            (ApiAnswer::Served { api }, 0)
        } else {
            (ApiAnswer::ServerTimeout { api }, REQUEST_TIMEOUT_NS)
        }
    };
    match &t.comp {
        Component::Haproxy(h) => {
            // `balance roundrobin` over the servers marked UP; a refused or timed-out connect is
            // retried on the next (`option redispatch`).
            let mut waited = 0;
            for api in h.next_picks() {
                let a = &w.procs[api as usize];
                if !w.net.host_up(a.node) || !w.net.reachable(t.node, a.node) {
                    // `timeout connect` (kubeadm's HA guide: 5s) before the retry.
                    waited += w.scenario.settings.load_balancer.connect_timeout.ns();
                    continue;
                }
                if a.alive && a.comp.serving() {
                    let (answer, more) = judge(api);
                    return (answer, waited + more);
                }
            }
            (ApiAnswer::Eof { addr }, waited)
        }
        Component::ApiServer(_) if t.comp.serving() => judge(target),
        Component::ApiServer(_) => (ApiAnswer::Refused { addr }, 0),
        Component::Etcd(_)
        | Component::Client(_)
        | Component::Keepalived(_)
        | Component::Elector(_)
        | Component::Kubelet(_)
        | Component::Informers(_) => (ApiAnswer::Refused { addr }, 0),
    }
}

/// Runs a `kubectl get RESOURCE`: the rows from the committed store when the API answers, else the
/// error kubectl prints (exit 1).
fn get(m: &Moment, resource: &str, rows: impl FnOnce(&Kv) -> Vec<Vec<String>>) -> Printed {
    request(m, resource, |kv| Ok(tabwriter(&rows(kv))))
}

/// Runs a kubectl command that reads from the API (`get`, `describe`): `answer` makes its stdout
/// from the committed store when the API answers, or the error the server gave (a NotFound, on
/// stderr, exit 1); else the error kubectl prints when the request fails (exit 1). `resource` is
/// what kubectl names in a Timeout (`get nodes`).
fn request(
    m: &Moment,
    resource: &str,
    body: impl FnOnce(&Kv) -> Result<String, String>,
) -> Printed {
    let w = &m.world;
    let mut p = Printed::default();
    let (answer, waited) = api_answer(w);
    match answer {
        ApiAnswer::Served { .. } => {
            let store = quorum_leader(w)
                .and_then(|l| w.procs[l as usize].comp.etcd())
                .and_then(|e| e.save_snapshot())
                .map(|s| (*s.data).clone())
                .unwrap_or_default();
            if waited > 0 {
                p.wait(waited, "HAProxy's connect timeout to a dead backend, then a retry");
            }
            match body(&store) {
                Ok(text) => {
                    p.out(&text);
                    return p;
                }
                Err(e) => p.err(e),
            }
        }
        ApiAnswer::ServerTimeout { .. } => {
            p.wait(
                waited,
                if waited > REQUEST_TIMEOUT_NS {
                    "HAProxy's connect timeouts to dead backends, then kube-apiserver's \
                     --request-timeout: its etcd read cannot reach a quorum"
                } else {
                    "kube-apiserver's --request-timeout: its etcd read cannot reach a quorum"
                },
            );
            p.err(format!(
                "Error from server (Timeout): the server was unable to return a response in the time \
                 allotted, but may still be processing the request (get {resource})"
            ));
        }
        ApiAnswer::Refused { addr } => p.err(format!(
            "The connection to the server {addr} was refused - did you specify the right host or port?"
        )),
        ApiAnswer::DialTimeout { addr } => {
            p.wait(waited, "client-go's 30s dial timeout: nothing answers there");
            p.err(format!(
                "Unable to connect to the server: dial tcp {addr}: i/o timeout"
            ));
        }
        ApiAnswer::Eof { .. } => {
            if waited > 0 {
                p.wait(waited, "HAProxy's connect timeouts to its backends");
            }
            p.err("Unable to connect to the server: EOF");
        }
    }
    p.exit_code = 1;
    p
}

/// The nodes that are Kubernetes nodes (they run a kubelet).
fn kube_nodes(w: &World) -> impl Iterator<Item = usize> + '_ {
    (0..w.layout.nodes.len()).filter(|&n| {
        matches!(
            w.layout.nodes[n].kind,
            NodeKind::ControlPlane | NodeKind::Worker
        )
    })
}

/// `kubectl get nodes -o wide`. STATUS is the stored Ready condition (`NotReady` also for Unknown,
/// printers.go `printNode`); Node objects exist from the start of the run.
pub fn nodes(m: &Moment) -> Printed {
    let w = &m.world;
    get(m, "nodes", |kv| {
        let mut rows = vec![[
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        ]
        .map(String::from)
        .to_vec()];
        for n in kube_nodes(w) {
            let spec = &w.layout.nodes[n];
            let ready = kv
                .get(keys::key(keys::NODE, n as u64))
                .is_none_or(|o| NodeObj::unpack(o.value).ready);
            let role = match spec.kind {
                NodeKind::ControlPlane => "control-plane",
                NodeKind::Etcd | NodeKind::LoadBalancer | NodeKind::Worker | NodeKind::Client => {
                    "<none>"
                }
            };
            rows.push(vec![
                spec.name.clone(),
                if ready { "Ready" } else { "NotReady" }.into(),
                role.into(),
                human_duration(w.now),
                KUBE_VERSION.into(),
                node_ip(&w.layout, n),
                "<none>".into(),
                "Ubuntu 24.04.1 LTS".into(),
                "6.8.0-51-generic".into(),
                "containerd://1.7.24".into(),
            ]);
        }
        rows
    })
}

/// One static pod's life from the trace: first start, starts, last start.
struct Life {
    first_ns: Option<Nanos>,
    starts: u32,
    last_ns: Nanos,
}

/// A start is the process coming up from down: readiness changes of a running process (an API
/// server turning ready, unready and ready again) are not restarts.
fn life(w: &World, proc: usize) -> Life {
    let mut l = Life {
        first_ns: None,
        starts: 0,
        last_ns: 0,
    };
    let mut down = true;
    for e in &w.trace.events {
        if let TraceKind::Proc { proc: p, state } = e.kind {
            if p as usize != proc {
                continue;
            }
            if state == ProcState::Down {
                down = true;
            } else if std::mem::take(&mut down) {
                l.first_ns.get_or_insert(e.time_ns);
                l.starts += 1;
                l.last_ns = e.time_ns;
            }
        }
    }
    l
}

/// A static pod's row (None: the process is not a control-plane static pod, or never started).
fn static_pod_row(w: &World, kv: &Kv, i: usize) -> Option<Vec<String>> {
    let spec = &w.layout.procs[i];
    let node = &w.layout.nodes[spec.node];
    let static_pod = node.kind == NodeKind::ControlPlane
        && match spec.kind {
            ProcKind::Etcd
            | ProcKind::ApiServer
            | ProcKind::ControllerManager
            | ProcKind::Scheduler
            | ProcKind::Haproxy
            | ProcKind::Keepalived => true,
            ProcKind::Kubelet | ProcKind::Client | ProcKind::Informers => false,
        };
    if !static_pod {
        return None;
    }
    let l = life(w, i);
    let first_ns = l.first_ns?;
    let node_ready = kv
        .get(keys::key(keys::NODE, spec.node as u64))
        .is_none_or(|o| NodeObj::unpack(o.value).ready);
    let p = &w.procs[i];
    // kube-apiserver's READY is its readiness probe (kubeadm: `/readyz`), which fails without etcd.
    let ready = node_ready && p.alive && (spec.kind != ProcKind::ApiServer || p.comp.ready());
    let status = if p.alive || !node_ready {
        "Running"
    } else if p.exits > 0 {
        "CrashLoopBackOff"
    } else {
        "Error"
    };
    let restarts = l.starts - 1;
    let restarts = if restarts > 0 {
        format!("{restarts} ({} ago)", human_duration(w.now - l.last_ns))
    } else {
        "0".into()
    };
    Some(vec![
        format!("{}-{}", spec.kind.name(), node.name),
        format!("{}/1", ready as u8),
        status.into(),
        restarts,
        human_duration(w.now - first_ns),
        node_ip(&w.layout, spec.node),
        node.name.clone(),
        "<none>".into(),
        "<none>".into(),
    ])
}

/// `kubectl get pods -n kube-system -o wide`: the control-plane static pods `<component>-<node>`
/// (their mirror pods), READY and STATUS as the node's kubelet last reported them, RESTARTS counted
/// from the trace with printers.go's `N (AGE ago)` for the last one. Other kube-system pods
/// (CoreDNS, kube-proxy, the CNI) are not modelled and not listed.
pub fn pods(m: &Moment) -> Printed {
    let w = &m.world;
    get(m, "pods", |kv| {
        let mut pods: Vec<Vec<String>> = (0..w.layout.procs.len())
            .filter_map(|i| static_pod_row(w, kv, i))
            .collect();
        pods.sort();
        let mut rows = vec![[
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES",
        ]
        .map(String::from)
        .to_vec()];
        rows.extend(pods);
        rows
    })
}

/// `kubectl get leases -n kube-system`: the leader-election Leases with HOLDER `<host>_<uuid>`
/// (a new uuid on every start of the holder) and AGE since the first acquisition.
pub fn leases(m: &Moment) -> Printed {
    let w = &m.world;
    get(m, "leases", |kv| {
        let mut rows = vec![["NAME", "HOLDER", "AGE"].map(String::from).to_vec()];
        for (lease, name) in [(1u64, "kube-controller-manager"), (0, "kube-scheduler")] {
            let created = w
                .trace
                .events
                .iter()
                .find(|e| matches!(e.kind, TraceKind::LeaseHolder { lease: l, .. } if l as u64 == lease))
                .map(|e| e.time_ns);
            let (Some(created), Some(record)) =
                (created, kv.get(keys::key(keys::LEADER_LEASE, lease)))
            else {
                continue;
            };
            rows.push(vec![
                name.into(),
                holder_identity(m, (record.value >> 32) as u32),
                human_duration(w.now - created),
            ]);
        }
        rows
    })
}

/// The lease holder identity `<hostname>_<uuid>` for the model's holder number (process and start
/// count, see `Elector::start`); empty when released.
pub fn holder_identity(m: &Moment, holder: u32) -> String {
    if holder == 0 {
        return String::new();
    }
    let proc = ((holder >> 16) - 1) as usize;
    let Some(spec) = m.world.layout.procs.get(proc) else {
        return String::new();
    };
    let host = &m.world.layout.nodes[spec.node].name;
    format!(
        "{host}_{}",
        uuid(m.seed, &format!("{}#{}", spec.name, holder & 0xffff))
    )
}

/// kubectl's endpoints column: at most 3 addresses, then ` + N more...` (printers.go
/// `formatEndpoints`); `<none>` when empty.
fn endpoint_list(addrs: &[String]) -> String {
    if addrs.is_empty() {
        return "<none>".into();
    }
    let shown = addrs[..addrs.len().min(3)].join(",");
    if addrs.len() > 3 {
        format!("{shown} + {} more...", addrs.len() - 3)
    } else {
        shown
    }
}

/// `kubectl get endpoints` (namespace default): the `kubernetes` Service's API servers (the lease
/// endpoint reconciler's set) and each workload's Service (its ready pods, port 8080).
pub fn endpoints(m: &Moment) -> Printed {
    let w = &m.world;
    get(m, "endpoints", |kv| {
        let mut rows = vec![["NAME", "ENDPOINTS", "AGE"].map(String::from).to_vec()];
        let age = human_duration(w.now);
        let apis: Vec<String> = api_server_ips(w, kv)
            .into_iter()
            .map(|ip| format!("{ip}:6443"))
            .collect();
        let mut services = vec![vec!["kubernetes".into(), endpoint_list(&apis), age.clone()]];
        let (start, end) = keys::range(keys::ENDPOINT);
        let eps = kv.range(start, end);
        for (i, wl) in w.scenario.workloads.iter().enumerate() {
            let mut addrs: Vec<String> = eps
                .iter()
                .map(|e| (keys::id_of(e.key), EndpointObj::unpack(e.value)))
                .filter(|(_, e)| e.workload as usize == i)
                .map(|(uid, e)| format!("{}:8080", pod_ip(e.node as usize, uid)))
                .collect();
            addrs.sort();
            services.push(vec![wl.name.clone(), endpoint_list(&addrs), age.clone()]);
        }
        services.sort();
        rows.extend(services);
        rows
    })
}

/// The API servers the `kubernetes` Service lists: the lease endpoint reconciler's set, stored as a
/// bit per API server ordinal.
fn api_server_ips(w: &World, kv: &Kv) -> Vec<String> {
    let bits = kv
        .get(keys::key(keys::API_ENDPOINTS, 0))
        .map_or(0, |v| v.value);
    w.layout
        .procs_of(ProcKind::ApiServer)
        .enumerate()
        .filter(|(ord, _)| bits & (1 << ord) != 0)
        .map(|(_, p)| node_ip(&w.layout, w.layout.procs[p].node))
        .collect()
}

/// The EndpointSlice controller's limit (kube-controller-manager `--max-endpoints-per-slice`,
/// default 100; k/k pkg/controller/endpointslice/config/v1alpha1/defaults.go).
const MAX_ENDPOINTS_PER_SLICE: usize = 100;

/// apimachinery `util/rand.String(5)`, the suffix `generateName` adds (`web-` becomes `web-x7kqz`):
/// its alphabet has no vowels and no confusable characters (k/k
/// staging/src/k8s.io/apimachinery/pkg/util/rand/rand.go). Drawn here from (seed, name).
fn generated_suffix(seed: u64, name: &str) -> String {
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h = fnv(seed, name);
    (0..5)
        .map(|_| {
            let c = ALPHANUMS[(h % ALPHANUMS.len() as u64) as usize] as char;
            h /= ALPHANUMS.len() as u64;
            c
        })
        .collect()
}

/// kubectl's list columns of an EndpointSlice: at most 3 items, then ` + N more...`, `<unset>`
/// when empty (printers.go `listWithMoreString`, used by `formatDiscoveryPorts` and
/// `formatDiscoveryEndpoints`).
fn list_with_more(items: &[String]) -> String {
    if items.is_empty() {
        return "<unset>".into();
    }
    let shown = items[..items.len().min(3)].join(",");
    if items.len() > 3 {
        format!("{shown} + {} more...", items.len() - 3)
    } else {
        shown
    }
}

/// `kubectl get endpointslices` (namespace default), printers.go `printEndpointSlice`: NAME,
/// ADDRESSTYPE, PORTS, ENDPOINTS (addresses only, no ports, whatever their conditions), AGE.
/// - `kubernetes`: the API servers' slice, written by the same lease reconciler as the Endpoints
///   and named after the Service; port 6443.
/// - each workload's Service: the EndpointSlice controller's slices, named `generateName`-style
///   `<service>-xxxxx`, at most 100 endpoints each, port 8080. Unlike `kubectl get endpoints`, which
///   lists ready addresses only, a slice keeps every pod that is bound to a node and has an IP,
///   ready or not and terminating or not, and marks it with `ready`/`serving`/`terminating`
///   conditions that this table does not print (k/k staging/src/k8s.io/endpointslice/utils.go
///   `podToEndpoint`; terminating endpoints since v1.22): so a dead node's pods stay in the
///   ENDPOINTS column here while they leave the Endpoints. A Service with no such pod has one
///   placeholder slice with no ports and no endpoints (`<unset>`, `<unset>`). Every slice is as
///   old as the run (the Services exist from the start; the model does not time slice creation).
pub fn endpoint_slices(m: &Moment) -> Printed {
    let w = &m.world;
    get(m, "endpointslices", |kv| {
        let mut rows = vec![["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
            .map(String::from)
            .to_vec()];
        let age = human_duration(w.now);
        let mut slices = vec![vec![
            "kubernetes".into(),
            "IPv4".into(),
            "6443".into(),
            list_with_more(&api_server_ips(w, kv)),
            age.clone(),
        ]];
        let (start, end) = keys::range(keys::POD);
        let pods: Vec<(u64, Pod)> = kv
            .range(start, end)
            .iter()
            .map(|e| (keys::id_of(e.key), Pod::unpack(e.value)))
            .collect();
        for (i, wl) in w.scenario.workloads.iter().enumerate() {
            let addrs: Vec<String> = pods
                .iter()
                .filter(|(_, p)| p.workload as usize == i)
                .filter_map(|(uid, p)| p.node.map(|n| pod_ip(n as usize, *uid)))
                .collect();
            let chunks: Vec<&[String]> = if addrs.is_empty() {
                vec![&[]]
            } else {
                addrs.chunks(MAX_ENDPOINTS_PER_SLICE).collect()
            };
            for (k, chunk) in chunks.into_iter().enumerate() {
                let name = format!(
                    "{}-{}",
                    wl.name,
                    generated_suffix(m.seed, &format!("endpointslice/{}/{k}", wl.name))
                );
                let ports = if chunk.is_empty() { "<unset>" } else { "8080" };
                slices.push(vec![
                    name,
                    "IPv4".into(),
                    ports.into(),
                    list_with_more(chunk),
                    age.clone(),
                ]);
            }
        }
        slices.sort();
        rows.extend(slices);
        rows
    })
}

/// The leader-election Lease names, by the model's lease number.
fn lease_name(lease: u16) -> &'static str {
    if lease == 0 {
        "kube-scheduler"
    } else {
        "kube-controller-manager"
    }
}

/// A time on some clock of the run (ns from its start) as the wall clock it stands for.
fn wall(ns: Nanos, micros: bool) -> String {
    rfc3339(WALL_CLOCK_EPOCH_UNIX_S * SEC + ns, micros)
}

/// How many times process `proc` had started by `at_ns` (its elector's start count then, which
/// makes its identity).
fn starts_by(w: &World, proc: usize, at_ns: Nanos) -> u32 {
    let mut down = true;
    let mut starts = 0;
    for e in w.trace.events.iter().take_while(|e| e.time_ns <= at_ns) {
        if let TraceKind::Proc { proc: p, state } = e.kind {
            if p as usize == proc {
                if state == ProcState::Down {
                    down = true;
                } else if std::mem::take(&mut down) {
                    starts += 1;
                }
            }
        }
    }
    starts
}

/// Events are kept for kube-apiserver's `--event-ttl`, 1h by default.
const EVENT_TTL_NS: Nanos = 3600 * SEC;

/// `kubectl describe lease NAME -n kube-system`. kubectl has no describer of its own for Leases, so
/// it prints the object with its generic describer (k/k staging/src/k8s.io/kubectl/pkg/describe
/// describe.go `genericDescriber.Describe`: Name, Namespace, Labels, Annotations, then every field
/// but `metadata.managedFields`/`name`/`namespace`/`labels`/`annotations`, sorted, with
/// `smartLabelFor` names, then the Events) through Go's tabwriter ([`go_tabwriter`]).
/// - The record's times are client-go's: Acquire Time and Renew Time (MicroTime, RFC 3339 with
///   microseconds) as the writer's own clock read them when it sent the write (see
///   `elector::LeaseStamp`; a skewed node writes skewed times), Lease Duration Seconds its
///   setting, Lease Transitions the holder changes before this holder. Wall times count from
///   [`WALL_CLOCK_EPOCH_UNIX_S`].
/// - Creation Timestamp: the first acquisition; Resource Version: the key's etcd mod revision;
///   UID drawn from the seed.
/// - Events: client-go's `LeaseLock.RecordEvent`, one `LeaderElection` event `<identity> became
///   leader` per acquisition within the event TTL, from `default-scheduler` (the scheduler's first
///   profile, cmd/kube-scheduler/app/options/options.go) or `kube-controller-manager`. "stopped
///   leading" events and the events' own clocks are not modelled (ages from the run's time).
/// - Before the first acquisition: `Error from server (NotFound)`, exit 1.
pub fn describe_lease(m: &Moment, lease: u16) -> Printed {
    let w = &m.world;
    let name = lease_name(lease);
    request(m, &format!("leases.coordination.k8s.io {name}"), |kv| {
        let not_found = || {
            format!("Error from server (NotFound): leases.coordination.k8s.io \"{name}\" not found")
        };
        let record = kv
            .get(keys::key(keys::LEADER_LEASE, lease as u64))
            .ok_or_else(not_found)?;
        let acquisitions: Vec<(Nanos, usize)> = w
            .trace
            .events
            .iter()
            .filter_map(|e| match e.kind {
                TraceKind::LeaseHolder {
                    lease: l,
                    holder: Some(p),
                } if l == lease => Some((e.time_ns, p as usize)),
                _ => None,
            })
            .collect();
        let created = acquisitions.first().ok_or_else(not_found)?.0;
        let stamp = w
            .procs
            .iter()
            .filter_map(|p| p.comp.elector())
            .filter(|e| e.lease() == lease)
            .find_map(|e| e.lease_stamp(record.value));
        debug_assert!(
            stamp.is_some(),
            "no writer remembers the {name} Lease record"
        );
        let (acquire, renew, duration_s) = stamp.map_or((created, created, 0), |s| {
            (s.acquire_local_ns, s.renew_local_ns, s.lease_duration_s)
        });
        let mut t = format!(
            "Name:\t{name}\nNamespace:\tkube-system\nLabels:\t<none>\nAnnotations:\t<none>\n\
             API Version:\tcoordination.k8s.io/v1\nKind:\tLease\nMetadata:\n  Creation Timestamp:\t{}\n  \
             Resource Version:\t{}\n  UID:\t{}\nSpec:\n  Acquire Time:\t{}\n  Holder Identity:\t{}\n  \
             Lease Duration Seconds:\t{duration_s}\n  Lease Transitions:\t{}\n  Renew Time:\t{}\n",
            wall(created, false),
            record.mod_rev,
            uuid(m.seed, &format!("lease/{name}")),
            wall(acquire, true),
            holder_identity(m, (record.value >> 32) as u32),
            acquisitions.len().saturating_sub(1),
            wall(renew, true),
        );
        let recent: Vec<&(Nanos, usize)> = acquisitions
            .iter()
            .filter(|(at, _)| w.now.saturating_sub(*at) < EVENT_TTL_NS)
            .collect();
        if recent.is_empty() {
            t.push_str("Events:\t<none>\n");
        } else {
            t.push_str(
                "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n",
            );
            let from = if lease == 0 {
                "default-scheduler"
            } else {
                "kube-controller-manager"
            };
            for &&(at, p) in &recent {
                let identity = ((p as u32 + 1) << 16) | (starts_by(w, p, at) & 0xffff);
                t.push_str(&format!(
                    "  Normal\tLeaderElection\t{}\t{from}\t{} became leader\n",
                    human_duration(w.now - at),
                    holder_identity(m, identity)
                ));
            }
        }
        Ok(go_tabwriter(&t))
    })
}
