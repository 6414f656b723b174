//! Fault injection: resolving targets (names, zones, role selectors) when a fault fires, applying it, and
//! undoing it after its `for`.

use super::ctx::ProcId;
use super::World;
use crate::components::etcd::types::Role;
use crate::components::Component;
use crate::engine::{fmt_duration, Nanos};
use crate::net::NodeId;
use crate::observe::TraceKind;
use crate::scenario::model::{Fault, FaultKind};
use crate::topology::ProcKind;

/// A fault of the scenario with what it did when it fired.
#[derive(Clone, Debug)]
pub struct ResolvedFault {
    pub spec: Fault,
    pub at_ns: Nanos,
    pub end_ns: Option<Nanos>,
    /// Processes it stopped (process-level crash).
    pub procs: Vec<ProcId>,
    /// Nodes it took down, isolated, or slowed.
    pub nodes: Vec<NodeId>,
    /// What it resolved to, for the report ("cp-2/etcd").
    pub resolved: String,
    /// `restore`: the snapshot taken at `snapshot_at` (the committed log then).
    pub snapshot: Option<Vec<crate::components::etcd::types::Entry>>,
}

impl ResolvedFault {
    /// A fault not yet fired.
    pub fn new(spec: Fault) -> ResolvedFault {
        let at_ns = spec.at.ns();
        let end_ns = spec.for_.map(|d| at_ns + d.ns());
        ResolvedFault {
            spec,
            at_ns,
            end_ns,
            procs: Vec::new(),
            nodes: Vec::new(),
            resolved: String::new(),
            snapshot: None,
        }
    }

    /// A one-line description for summaries.
    pub fn describe(&self) -> String {
        let s = &self.spec;
        let what = match s.kind {
            FaultKind::Partition => format!(
                "partition {}",
                s.groups
                    .as_ref()
                    .map(|g| g
                        .iter()
                        .map(|x| x.join(","))
                        .collect::<Vec<_>>()
                        .join(" | "))
                    .unwrap_or_default()
            ),
            FaultKind::DegradeLink => format!(
                "degrade-link {}",
                s.between
                    .as_ref()
                    .map(|b| b.join("<->"))
                    .unwrap_or_default()
            ),
            k => format!("{} {}", k.name(), s.target.clone().unwrap_or_default()),
        };
        let resolved = if !self.resolved.is_empty() && Some(&self.resolved) != s.target.as_ref() {
            format!(" ({})", self.resolved)
        } else {
            String::new()
        };
        let dur = match s.for_ {
            Some(d) => format!(" for {}", fmt_duration(d.ns())),
            None => String::new(),
        };
        format!("{what}{resolved} at {}{dur}", fmt_duration(self.at_ns))
    }
}

/// What a target names, once resolved.
enum Resolved {
    Nodes(Vec<NodeId>),
    Proc(ProcId),
    Nothing(String),
}

impl World {
    fn resolve(&self, target: &str) -> Resolved {
        if let Some(zone) = target.strip_prefix("zone:") {
            let Some(z) = self.layout.zone_index(zone) else {
                return Resolved::Nothing(format!("no zone {zone}"));
            };
            return Resolved::Nodes(
                (0..self.layout.nodes.len())
                    .filter(|&n| {
                        self.layout.nodes[n].zone == z && self.layout.nodes[n].name != "client"
                    })
                    .map(|n| n as NodeId)
                    .collect(),
            );
        }
        if let Some(n) = self.layout.node_index(target) {
            return Resolved::Nodes(vec![n as NodeId]);
        }
        if let Some(p) = self.layout.proc_index(target) {
            return Resolved::Proc(p as ProcId);
        }
        let pick = |kind: ProcKind| -> Option<ProcId> {
            self.layout
                .procs_of(kind)
                .find(|&p| self.procs[p].alive && self.procs[p].comp.acting())
                .map(|p| p as ProcId)
        };
        match target {
            "leader:etcd" => {
                let best = self
                    .layout
                    .procs_of(ProcKind::Etcd)
                    .filter(|&p| self.procs[p].alive)
                    .filter_map(|p| match &self.procs[p].comp {
                        Component::Etcd(m) => m
                            .raft()
                            .filter(|r| r.role() == Role::Leader)
                            .map(|r| (r.term(), p)),
                        _ => None,
                    })
                    .max();
                match best {
                    Some((_, p)) => Resolved::Proc(p as ProcId),
                    None => Resolved::Nothing("no etcd member is leader".into()),
                }
            }
            "follower:etcd" => {
                let leader = match self.resolve("leader:etcd") {
                    Resolved::Proc(p) => Some(p),
                    _ => None,
                };
                match self
                    .layout
                    .procs_of(ProcKind::Etcd)
                    .find(|&p| self.procs[p].alive && Some(p as ProcId) != leader)
                {
                    Some(p) => Resolved::Proc(p as ProcId),
                    None => Resolved::Nothing("no etcd follower is running".into()),
                }
            }
            "leader:kube-scheduler" => match pick(ProcKind::Scheduler) {
                Some(p) => Resolved::Proc(p),
                None => Resolved::Nothing("no kube-scheduler holds the lease".into()),
            },
            "leader:kube-controller-manager" => match pick(ProcKind::ControllerManager) {
                Some(p) => Resolved::Proc(p),
                None => Resolved::Nothing("no kube-controller-manager holds the lease".into()),
            },
            "vip-holder" => match self.vip_holder {
                Some(n) => Resolved::Nodes(vec![n]),
                None => Resolved::Nothing("nobody holds the VIP".into()),
            },
            other => Resolved::Nothing(format!("unknown target {other}")),
        }
    }

    fn nodes_of(&self, names: &[String]) -> Vec<NodeId> {
        let mut out = Vec::new();
        for name in names {
            match self.resolve(name) {
                Resolved::Nodes(n) => out.extend(n),
                Resolved::Proc(p) => out.push(self.procs[p as usize].node),
                Resolved::Nothing(_) => {}
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn node_name(&self, n: NodeId) -> String {
        self.layout.nodes[n as usize].name.clone()
    }

    fn node_names(&self, ns: &[NodeId]) -> String {
        ns.iter()
            .map(|&n| self.node_name(n))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Sets (or clears, with None) a slow disk on the etcd member of each node.
    fn set_slow_disks(&mut self, ns: &[NodeId], fsync_ns: Option<Nanos>) {
        for &n in ns {
            if let Some(p) = self.etcd_on(n) {
                if let Component::Etcd(m) = &mut self.procs[p as usize].comp {
                    m.set_slow_disk(fsync_ns);
                }
            }
        }
    }

    fn proc_name(&self, p: ProcId) -> String {
        self.layout.procs[p as usize].name.clone()
    }

    /// Takes a host down: every process on it stops.
    pub fn node_down(&mut self, n: NodeId) {
        if !self.net.host_up(n) {
            return;
        }
        self.net.set_host_up(n, false);
        self.record(TraceKind::Node { node: n, up: false });
        for p in 0..self.procs.len() {
            if self.procs[p].node == n {
                self.crash_proc(p as ProcId);
                let mut out = Vec::new();
                self.procs[p].comp.host_down(p as ProcId, &mut out);
                for o in out {
                    if let super::ctx::Out::Trace(k) = o {
                        self.record(k);
                    }
                }
            }
        }
        if self.vip_holder == Some(n) {
            self.vip_holder = None;
            self.record(TraceKind::Vip { node: None });
        }
    }

    /// Brings a host back: its processes start (static pods and system services start at boot).
    pub fn node_up(&mut self, n: NodeId) {
        if self.net.host_up(n) {
            return;
        }
        self.net.set_host_up(n, true);
        self.record(TraceKind::Node { node: n, up: true });
        for p in 0..self.procs.len() {
            if self.procs[p].node == n && self.procs[p].held_down == 0 {
                self.start_proc(p as ProcId);
            }
        }
    }

    fn etcd_on(&self, n: NodeId) -> Option<ProcId> {
        self.procs
            .iter()
            .find(|p| p.node == n && matches!(p.comp, Component::Etcd(_)))
            .map(|p| p.id)
    }

    /// Takes the snapshot a later `restore` fault will use: the committed log of the most advanced
    /// running member (what `etcdctl snapshot save` against it would hold).
    pub(super) fn take_snapshot(&mut self, i: u16) {
        let best = self
            .layout
            .procs_of(ProcKind::Etcd)
            .filter(|&p| self.procs[p].alive)
            .filter_map(|p| match &self.procs[p].comp {
                Component::Etcd(m) => m.raft().map(|r| (r.commit(), p)),
                _ => None,
            })
            .max();
        let entries = best.and_then(|(commit, p)| match &self.procs[p].comp {
            Component::Etcd(m) => m.raft().map(|r| {
                (1..=commit)
                    .filter_map(|i| r.entry(i).cloned())
                    .collect::<Vec<_>>()
            }),
            _ => None,
        });
        let n = entries.as_ref().map(|e| e.len()).unwrap_or(0);
        let client = (self.procs.len() - 1) as ProcId;
        self.record(TraceKind::Log {
            proc: client,
            text: format!(
                "etcdctl snapshot save: snapshot of {n} committed entries taken for fault #{i}"
            ),
        });
        self.faults[i as usize].snapshot = entries;
    }

    fn restore(&mut self, i: u16) -> String {
        use crate::components::etcd::types::{DurableState, HardState};
        let Some(entries) = self.faults[i as usize].snapshot.clone() else {
            return "no snapshot could be taken (no etcd member was running)".into();
        };
        let index = entries.len() as u64;
        let term = entries.last().map(|e| e.term).unwrap_or(0);
        let members: Vec<ProcId> = self
            .layout
            .procs_of(ProcKind::Etcd)
            .map(|p| p as ProcId)
            .collect();
        for &p in &members {
            self.crash_proc(p);
            if let Component::Etcd(m) = &mut self.procs[p as usize].comp {
                m.restore(DurableState {
                    hard: HardState {
                        term,
                        vote: 0,
                        commit: index,
                    },
                    entries: entries.clone(),
                });
            }
        }
        self.invariants.restored(index);
        for &p in &members {
            self.procs[p as usize].held_down = 0;
            let name = self.proc_name(p);
            self.record(TraceKind::Log {
                proc: p,
                text: format!(
                    "{name}: etcdutl snapshot restore: new cluster from the snapshot (index {index}); later writes are gone"
                ),
            });
            self.start_proc(p);
        }
        String::new()
    }

    pub(super) fn fault_start(&mut self, i: u16) {
        let spec = self.faults[i as usize].spec.clone();
        self.record(TraceKind::Fault {
            index: i,
            start: true,
        });
        let target = spec.target.clone().unwrap_or_default();
        let mut procs = Vec::new();
        let mut nodes = Vec::new();
        let mut resolved = String::new();
        let mut skipped: Option<String> = None;
        match spec.kind {
            FaultKind::Crash | FaultKind::Stop => match self.resolve(&target) {
                Resolved::Nodes(ns) => {
                    for &n in &ns {
                        for p in 0..self.procs.len() {
                            if self.procs[p].node == n {
                                self.procs[p].held_down += 1;
                                // The host goes down right after: no graceful shutdown outlives it.
                                if spec.kind == FaultKind::Stop && self.procs[p].alive {
                                    self.dispatch(p as ProcId, |comp, ctx| {
                                        comp.stop(ctx);
                                    });
                                }
                            }
                        }
                        self.node_down(n);
                    }
                    resolved = self.node_names(&ns);
                    nodes = ns;
                }
                Resolved::Proc(p) => {
                    self.procs[p as usize].held_down += 1;
                    // A process with a graceful shutdown (kube-apiserver) keeps running and exits by
                    // itself (Out::Exit); the hold keeps the kubelet from restarting it meanwhile.
                    let mut graceful = false;
                    if spec.kind == FaultKind::Stop && self.procs[p as usize].alive {
                        self.dispatch(p, |comp, ctx| {
                            graceful = comp.stop(ctx) == crate::components::Stopping::Graceful
                        });
                    }
                    if !graceful {
                        self.crash_proc(p);
                    }
                    resolved = self.proc_name(p);
                    procs.push(p);
                }
                Resolved::Nothing(why) => skipped = Some(why),
            },
            FaultKind::Restart => match self.resolve(&target) {
                Resolved::Nodes(ns) => {
                    for &n in &ns {
                        for p in 0..self.procs.len() {
                            if self.procs[p].node == n {
                                self.procs[p].held_down = 0;
                            }
                        }
                        self.node_up(n);
                        for p in 0..self.procs.len() {
                            if self.procs[p].node == n {
                                self.start_proc(p as ProcId);
                            }
                        }
                    }
                    resolved = self.node_names(&ns);
                }
                Resolved::Proc(p) => {
                    self.procs[p as usize].held_down = 0;
                    self.start_proc(p);
                    resolved = self.proc_name(p);
                }
                Resolved::Nothing(why) => skipped = Some(why),
            },
            FaultKind::Partition => {
                let groups: Vec<Vec<NodeId>> = spec
                    .groups
                    .clone()
                    .unwrap_or_default()
                    .iter()
                    .map(|g| self.nodes_of(g))
                    .collect();
                self.net.add_partition(i, &groups);
                self.dirty = true;
            }
            FaultKind::Isolate => {
                let ns = self.nodes_of(std::slice::from_ref(&target));
                for &n in &ns {
                    self.net.isolate(n, true);
                }
                resolved = self.node_names(&ns);
                nodes = ns;
                self.dirty = true;
            }
            FaultKind::DegradeLink => {
                let between = spec.between.clone().unwrap_or_default();
                if between.len() == 2 {
                    let a = self.nodes_of(&between[..1]);
                    let b = self.nodes_of(&between[1..]);
                    let lat = spec.latency.map(|d| d.ns()).unwrap_or(0);
                    self.net
                        .add_degrade(i, &a, &b, lat, spec.loss.unwrap_or(0.0));
                }
            }
            FaultKind::SlowDisk => {
                let ns = self.nodes_of(std::slice::from_ref(&target));
                self.set_slow_disks(&ns, spec.fsync_latency.map(|d| d.ns()));
                resolved = self.node_names(&ns);
                nodes = ns;
            }
            FaultKind::Restore => {}
            FaultKind::WipeData => {
                let ns = self.nodes_of(std::slice::from_ref(&target));
                for &n in &ns {
                    if let Some(p) = self.etcd_on(n) {
                        self.crash_proc(p);
                        if let Component::Etcd(m) = &mut self.procs[p as usize].comp {
                            m.wipe();
                        }
                        self.invariants.data_loss_declared = true;
                        let name = self.proc_name(p);
                        self.record(TraceKind::Log {
                            proc: p,
                            text: format!("{name}: data directory wiped (member data lost)"),
                        });
                    }
                }
                resolved = self.node_names(&ns);
                nodes = ns;
            }
        }
        if spec.kind == FaultKind::Restore {
            let why = self.restore(i);
            if !why.is_empty() {
                skipped = Some(why);
            }
        }
        if let Some(why) = skipped {
            let client = (self.procs.len() - 1) as ProcId;
            self.record(TraceKind::Log {
                proc: client,
                text: format!(
                    "fault #{i} ({} {target}) did nothing: {why}",
                    spec.kind.name()
                ),
            });
        }
        let f = &mut self.faults[i as usize];
        f.procs = procs;
        f.nodes = nodes;
        f.resolved = resolved;
        if let Some(end) = f.end_ns {
            if end <= self.end_ns {
                self.push(end, super::Event::FaultEnd(i));
            }
        }
    }

    pub(super) fn fault_end(&mut self, i: u16) {
        let f = self.faults[i as usize].clone();
        self.record(TraceKind::Fault {
            index: i,
            start: false,
        });
        match f.spec.kind {
            FaultKind::Crash | FaultKind::Stop => {
                for &n in &f.nodes {
                    for p in 0..self.procs.len() {
                        if self.procs[p].node == n {
                            let h = &mut self.procs[p].held_down;
                            *h = h.saturating_sub(1);
                        }
                    }
                    self.node_up(n);
                }
                for &p in &f.procs {
                    let h = &mut self.procs[p as usize].held_down;
                    *h = h.saturating_sub(1);
                    if *h == 0 {
                        self.start_proc(p);
                    }
                }
            }
            FaultKind::Partition | FaultKind::DegradeLink => {
                self.net.heal(i);
                self.dirty = true;
            }
            FaultKind::Isolate => {
                for &n in &f.nodes {
                    self.net.isolate(n, false);
                }
                self.dirty = true;
            }
            FaultKind::SlowDisk => self.set_slow_disks(&f.nodes, None),
            // A restart has nothing to undo; lost data does not come back.
            FaultKind::Restart | FaultKind::WipeData | FaultKind::Restore => {}
        }
    }
}
