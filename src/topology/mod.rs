//! Stacked and external layouts: which nodes exist, where they sit in the zones, and which processes run
//! on each. Names follow CONTRACT.md (`cp-1`, `etcd-1`, `lb-1`, `worker-1`, `NODE/PROCESS`).

use serde::{Deserialize, Serialize, Serializer};

/// Where etcd runs.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EtcdTopology {
    /// An etcd member on each control-plane node (kubeadm's default).
    Stacked,
    /// Dedicated etcd nodes.
    External,
}

/// Where HAProxy and keepalived run (`topology.load_balancer_placement`).
///
/// kubeadm's HA guide (kubernetes/kubeadm docs/ha-considerations.md, "keepalived and haproxy") runs
/// them either as services on dedicated hosts ("Option 1: Run the services on the operating system")
/// or as static pods on the control-plane hosts ("Option 2: Run the services as static pods", "an
/// elegant solution, in particular with the setup described under Stacked control plane and etcd
/// nodes"). The service configuration is identical in both; only where they run differs.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerPlacement {
    /// Their own `lb-N` nodes (Option 1). The default, as before this setting existed: the guide
    /// lists it first and it keeps the load balancers' failures apart from the control plane's.
    #[default]
    Separate,
    /// `cp-N/haproxy` and `cp-N/keepalived` on every control-plane node (Option 2). HAProxy's
    /// frontend then listens on its own port (the guide's example: 8443, with `kubeadm init
    /// --control-plane-endpoint VIP:8443`), because the local kube-apiserver holds 6443; ports are
    /// not modelled beyond the log lines, as processes are addressed directly.
    ControlPlane,
}

impl LoadBalancerPlacement {
    /// Every placement, for "allowed: ..." lists.
    pub const ALL: [LoadBalancerPlacement; 2] = [
        LoadBalancerPlacement::Separate,
        LoadBalancerPlacement::ControlPlane,
    ];

    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            LoadBalancerPlacement::Separate => "separate",
            LoadBalancerPlacement::ControlPlane => "control-plane",
        }
    }
}

/// How clients reach the API (`topology.endpoint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// Through the load balancers (with 2 or more, a VIP moved by VRRP).
    LoadBalancer,
    /// A kubeconfig pointed at one control-plane node: `cp-N` with this 1-based ordinal.
    Direct { cp: u32 },
}

impl Endpoint {
    /// The name used in files.
    pub fn name(self) -> String {
        match self {
            Endpoint::LoadBalancer => "load-balancer".into(),
            Endpoint::Direct { cp } => format!("direct:cp-{cp}"),
        }
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// The cluster's shape, with the endpoint resolved.
#[derive(Clone, Debug, Serialize)]
pub struct TopologyPlan {
    pub etcd: EtcdTopology,
    pub control_plane_nodes: u32,
    pub etcd_nodes: u32,
    pub workers: u32,
    pub zones: Vec<String>,
    /// How many HAProxy instances there are (with `ControlPlane` placement, one per control-plane
    /// node).
    pub load_balancers: u32,
    pub load_balancer_placement: LoadBalancerPlacement,
    pub endpoint: Endpoint,
}

/// What a node is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    ControlPlane,
    Etcd,
    LoadBalancer,
    Worker,
    /// The machine the load generator and users run on (outside the cluster).
    Client,
}

/// The kinds of modelled processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProcKind {
    Etcd,
    ApiServer,
    ControllerManager,
    Scheduler,
    Kubelet,
    Haproxy,
    Keepalived,
    /// The scenario's load generator.
    Client,
    /// The scenario's informers (`load.informers`), all in one process on the client node.
    Informers,
}

impl ProcKind {
    /// The process name used in targets and reports.
    pub fn name(self) -> &'static str {
        match self {
            ProcKind::Etcd => "etcd",
            ProcKind::ApiServer => "kube-apiserver",
            ProcKind::ControllerManager => "kube-controller-manager",
            ProcKind::Scheduler => "kube-scheduler",
            ProcKind::Kubelet => "kubelet",
            ProcKind::Haproxy => "haproxy",
            ProcKind::Keepalived => "keepalived",
            ProcKind::Client => "client",
            ProcKind::Informers => "informers",
        }
    }

    /// Parses a process name.
    pub fn from_name(name: &str) -> Option<ProcKind> {
        ALL_PROC_KINDS.iter().copied().find(|k| k.name() == name)
    }
}

/// Every process kind, in a fixed order.
pub const ALL_PROC_KINDS: [ProcKind; 9] = [
    ProcKind::Etcd,
    ProcKind::ApiServer,
    ProcKind::ControllerManager,
    ProcKind::Scheduler,
    ProcKind::Kubelet,
    ProcKind::Haproxy,
    ProcKind::Keepalived,
    ProcKind::Client,
    ProcKind::Informers,
];

/// A node of the layout.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub name: String,
    pub kind: NodeKind,
    /// Index into `Layout::zones`.
    pub zone: usize,
    /// 1-based number within its kind (`cp-2` has 2).
    pub ordinal: u32,
}

/// A process of the layout.
#[derive(Clone, Debug)]
pub struct ProcSpec {
    /// `NODE/PROCESS`.
    pub name: String,
    pub kind: ProcKind,
    /// Index into `Layout::nodes`.
    pub node: usize,
}

/// The whole placement.
#[derive(Clone, Debug)]
pub struct Layout {
    pub zones: Vec<String>,
    pub nodes: Vec<NodeSpec>,
    pub procs: Vec<ProcSpec>,
}

impl Layout {
    /// Builds the placement for a topology (assumed validated). Nodes of each kind go over the zones in
    /// order: the first in the first zone, the second in the second, wrapping around.
    pub fn new(topo: &TopologyPlan) -> Layout {
        let zones = if topo.zones.is_empty() {
            vec!["a".to_string()]
        } else {
            topo.zones.clone()
        };
        let nz = zones.len();
        let mut layout = Layout {
            zones,
            nodes: Vec::new(),
            procs: Vec::new(),
        };
        for (prefix, kind, count, kinds) in Self::node_groups(topo) {
            for i in 0..count {
                let name = format!("{prefix}-{}", i + 1);
                layout.add_node(name, kind, i + 1, i as usize % nz, &kinds);
            }
        }
        layout.add_node(
            "client".to_string(),
            NodeKind::Client,
            1,
            0,
            &[ProcKind::Client],
        );
        layout
    }

    /// The cluster's nodes as one row per kind (name prefix, kind, how many, the processes on each), in
    /// the order they are numbered, so that the placement rule is written once for every kind.
    fn node_groups(topo: &TopologyPlan) -> [(&'static str, NodeKind, u32, Vec<ProcKind>); 4] {
        let stacked = topo.etcd == EtcdTopology::Stacked;
        let mut cp = Vec::new();
        if stacked {
            cp.push(ProcKind::Etcd);
        }
        cp.extend([
            ProcKind::ApiServer,
            ProcKind::ControllerManager,
            ProcKind::Scheduler,
            ProcKind::Kubelet,
        ]);
        let etcd_nodes = if stacked { 0 } else { topo.etcd_nodes };
        let load_balancers = if topo.endpoint == Endpoint::LoadBalancer {
            topo.load_balancers
        } else {
            0
        };
        let lb = if load_balancers >= 2 {
            vec![ProcKind::Haproxy, ProcKind::Keepalived]
        } else {
            vec![ProcKind::Haproxy]
        };
        let lb_nodes = match topo.load_balancer_placement {
            LoadBalancerPlacement::Separate => load_balancers,
            LoadBalancerPlacement::ControlPlane => {
                // Static pods beside the control plane's own (kubeadm's Option 2): one per node.
                debug_assert!(
                    load_balancers == 0 || load_balancers == topo.control_plane_nodes,
                    "validation makes load_balancers the control-plane node count"
                );
                if load_balancers > 0 {
                    cp.extend(lb.iter().copied());
                }
                0
            }
        };
        [
            ("cp", NodeKind::ControlPlane, topo.control_plane_nodes, cp),
            ("etcd", NodeKind::Etcd, etcd_nodes, vec![ProcKind::Etcd]),
            ("lb", NodeKind::LoadBalancer, lb_nodes, lb),
            (
                "worker",
                NodeKind::Worker,
                topo.workers,
                vec![ProcKind::Kubelet],
            ),
        ]
    }

    /// Adds the informers' process to the client node (`load.informers.count` > 0). It comes last,
    /// so that every other process keeps the id it has without informers.
    pub fn with_informers(mut self) -> Layout {
        let node = self
            .nodes
            .iter()
            .position(|n| n.kind == NodeKind::Client)
            .expect("every layout has the client node");
        self.procs.push(ProcSpec {
            name: format!("{}/{}", self.nodes[node].name, ProcKind::Informers.name()),
            kind: ProcKind::Informers,
            node,
        });
        self
    }

    /// Adds one node and its processes, so that a process's `node` index and `NODE/PROCESS` name always
    /// agree with the node it was placed on.
    fn add_node(
        &mut self,
        name: String,
        kind: NodeKind,
        ordinal: u32,
        zone: usize,
        kinds: &[ProcKind],
    ) {
        let node = self.nodes.len();
        for k in kinds {
            self.procs.push(ProcSpec {
                name: format!("{name}/{}", k.name()),
                kind: *k,
                node,
            });
        }
        self.nodes.push(NodeSpec {
            name,
            kind,
            zone,
            ordinal,
        });
    }

    /// The node with this name.
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The zone with this name.
    pub fn zone_index(&self, name: &str) -> Option<usize> {
        self.zones.iter().position(|z| z == name)
    }

    /// The process with this `NODE/PROCESS` name.
    pub fn proc_index(&self, name: &str) -> Option<usize> {
        self.procs.iter().position(|p| p.name == name)
    }

    /// The cluster nodes of a zone (the load generator's machine is not one).
    pub fn zone_nodes(&self, zone: usize) -> impl Iterator<Item = usize> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.zone == zone && n.kind != NodeKind::Client)
            .map(|(i, _)| i)
    }

    /// The process of one kind on a node, if it runs one.
    pub fn proc_on(&self, node: usize, kind: ProcKind) -> Option<usize> {
        self.procs
            .iter()
            .position(|p| p.node == node && p.kind == kind)
    }

    /// The process that answers for the VIP when this node holds it: its HAProxy.
    pub fn vip_responder(&self, node: usize) -> Option<usize> {
        self.proc_on(node, ProcKind::Haproxy)
    }

    /// Processes of one kind, in layout order.
    pub fn procs_of(&self, kind: ProcKind) -> impl Iterator<Item = usize> + '_ {
        self.procs
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.kind == kind)
            .map(|(i, _)| i)
    }

    /// Every name a target may use: nodes, processes, zones (`zone:NAME`) and the role selectors.
    pub fn target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.nodes.iter().map(|n| n.name.clone()).collect();
        names.extend(self.procs.iter().map(|p| p.name.clone()));
        names.extend(self.zones.iter().map(|z| format!("zone:{z}")));
        names.extend(Selector::ALL.iter().map(|s| s.name().to_string()));
        names
    }
}

/// A role selector: names whoever holds a role when the fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Selector {
    /// `leader:etcd`: the etcd leader of the highest term.
    EtcdLeader,
    /// `follower:etcd`: the lowest-numbered running etcd member that is not the leader.
    EtcdFollower,
    /// `leader:kube-scheduler`: the kube-scheduler acting as leader.
    SchedulerLeader,
    /// `leader:kube-controller-manager`: the kube-controller-manager acting as leader.
    ControllerManagerLeader,
    /// `vip-holder`: the node holding the VIP (a load balancer, or a control-plane node when the load
    /// balancers run there).
    VipHolder,
}

impl Selector {
    /// Every selector, in the order help lists them.
    pub const ALL: [Selector; 5] = [
        Selector::EtcdLeader,
        Selector::EtcdFollower,
        Selector::SchedulerLeader,
        Selector::ControllerManagerLeader,
        Selector::VipHolder,
    ];

    /// The name used in files.
    pub fn name(self) -> &'static str {
        match self {
            Selector::EtcdLeader => "leader:etcd",
            Selector::EtcdFollower => "follower:etcd",
            Selector::SchedulerLeader => "leader:kube-scheduler",
            Selector::ControllerManagerLeader => "leader:kube-controller-manager",
            Selector::VipHolder => "vip-holder",
        }
    }

    /// Parses a selector name.
    pub fn from_name(name: &str) -> Option<Selector> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the selector names an etcd member (so it may be the target of an etcd-only fault).
    pub fn is_etcd(self) -> bool {
        match self {
            Selector::EtcdLeader | Selector::EtcdFollower => true,
            Selector::SchedulerLeader | Selector::ControllerManagerLeader | Selector::VipHolder => {
                false
            }
        }
    }
}

/// What a fault target names: resolved from its name once, at validation. Selectors are resolved to a
/// process or node only when the fault fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A node, by index into `Layout::nodes`.
    Node(usize),
    /// A process, by index into `Layout::procs`.
    Proc(usize),
    /// Every node of a zone, by index into `Layout::zones`.
    Zone(usize),
    /// Whoever holds a role when the fault fires.
    Selector(Selector),
}

impl Target {
    /// The name as written in files (`cp-1`, `cp-1/etcd`, `zone:a`, `leader:etcd`).
    pub fn name(self, layout: &Layout) -> String {
        match self {
            Target::Node(n) => layout.nodes[n].name.clone(),
            Target::Proc(p) => layout.procs[p].name.clone(),
            Target::Zone(z) => format!("zone:{}", layout.zones[z]),
            Target::Selector(s) => s.name().to_string(),
        }
    }

    /// The nodes a network fault member stands for (a node, or every cluster node of a zone); a
    /// process or selector stands for no fixed node.
    pub fn static_nodes(self, layout: &Layout) -> Vec<usize> {
        match self {
            Target::Node(n) => vec![n],
            Target::Zone(z) => layout.zone_nodes(z).collect(),
            Target::Proc(_) | Target::Selector(_) => Vec::new(),
        }
    }
}
