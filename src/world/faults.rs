//! Fault injection: resolving targets (names, zones, role selectors) when a fault fires, applying it, and
//! undoing it after its `for`.

use super::World;
use crate::components::ctx::ProcId;
use crate::components::etcd::types::Role;
use crate::engine::{fmt_duration, id16, Nanos};
use crate::net::NodeId;
use crate::observe::{ProcState, TraceKind};
use crate::scenario::model::{Fault, FaultKind};
use crate::scenario::plan::{FaultAction, FaultPlan};
use crate::topology::{ProcKind, Selector, Target};

/// A fault of the scenario with what it did when it fired.
#[derive(Clone, Debug)]
pub struct ResolvedFault {
    /// The fault as planned.
    pub plan: FaultPlan,
    pub at_ns: Nanos,
    /// When it is undone (`at + for`), if it is.
    pub end_ns: Option<Nanos>,
    /// Processes it stopped (process-level crash).
    pub procs: Vec<ProcId>,
    /// Nodes it took down, isolated, or slowed.
    pub nodes: Vec<NodeId>,
    /// What it resolved to, for the report ("cp-2/etcd").
    pub resolved: String,
    /// Why it did nothing when it fired (no etcd leader to crash, a `restart` of what was running...).
    pub did_nothing: Option<String>,
    /// `restore`: the snapshot taken at `snapshot_at` (the store at the commit index then) and the
    /// checker's record of the entries it holds.
    /// `member-add`: the id the new member joined with.
    pub joined: Option<crate::components::etcd::types::MemberId>,
    pub snapshot: Option<(
        crate::components::etcd::types::Snapshot,
        super::invariants::CommittedTerms,
    )>,
}

impl ResolvedFault {
    /// A fault not yet fired.
    pub fn new(plan: FaultPlan) -> ResolvedFault {
        let at_ns = plan.at_ns;
        let end_ns = plan.for_ns.map(|d| at_ns.saturating_add(d));
        ResolvedFault {
            plan,
            at_ns,
            end_ns,
            procs: Vec::new(),
            nodes: Vec::new(),
            resolved: String::new(),
            did_nothing: None,
            joined: None,
            snapshot: None,
        }
    }

    /// The fault as the file wrote it.
    pub fn spec(&self) -> &Fault {
        &self.plan.spec
    }

    /// The kind of fault.
    pub fn kind(&self) -> FaultKind {
        self.plan.kind()
    }

    /// A one-line description for summaries.
    pub fn describe(&self) -> String {
        let s = &self.plan.spec;
        let what = match &self.plan.action {
            FaultAction::AlarmDisarm => "alarm-disarm".to_string(),
            FaultAction::Partition { .. } => format!(
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
            FaultAction::DegradeLink { .. } => format!(
                "degrade-link {}",
                s.between
                    .as_ref()
                    .map(|b| b.join("<->"))
                    .unwrap_or_default()
            ),
            FaultAction::Crash { .. }
            | FaultAction::Stop { .. }
            | FaultAction::Restart { .. }
            | FaultAction::Isolate { .. }
            | FaultAction::SlowDisk { .. }
            | FaultAction::WipeData { .. }
            | FaultAction::Pause { .. }
            | FaultAction::Defrag { .. }
            | FaultAction::MemberRemove { .. }
            | FaultAction::MemberAdd { .. }
            | FaultAction::Restore { .. } => {
                format!(
                    "{} {}",
                    self.kind().name(),
                    s.target.clone().unwrap_or_default()
                )
            }
            FaultAction::ExpireCert { .. } | FaultAction::RenewCert { .. } => {
                let cert = s.cert.unwrap_or(crate::scenario::cert_clock::CertName::All);
                let target = s.target.clone().unwrap_or_else(|| "every node".into());
                format!("{} {} on {target}", self.kind().name(), cert.name())
            }
            FaultAction::ClockSkew {
                offset_ns,
                rate_ppm,
                ..
            } => format!(
                "clock-skew {} ({})",
                s.target.clone().unwrap_or_default(),
                crate::scenario::cert_clock::clock_text(*offset_ns, *rate_ppm)
            ),
        };
        let resolved = if !self.resolved.is_empty() && Some(&self.resolved) != s.target.as_ref() {
            format!(" ({})", self.resolved)
        } else {
            String::new()
        };
        let dur = match self.plan.for_ns {
            Some(d) => format!(" for {}", fmt_duration(d)),
            None => String::new(),
        };
        let nothing = match &self.did_nothing {
            Some(why) => format!(": did nothing ({why})"),
            None => String::new(),
        };
        format!(
            "{what}{resolved} at {}{dur}{nothing}",
            fmt_duration(self.at_ns)
        )
    }
}

/// What a target names when the fault fires.
enum Resolved {
    Nodes(Vec<NodeId>),
    Proc(ProcId),
    Nothing(&'static str),
}

impl World {
    /// Resolves a planned target against the running world: selectors name whoever holds the role now.
    fn resolve(&self, target: Target) -> Resolved {
        match target {
            Target::Zone(z) => Resolved::Nodes(self.layout.zone_nodes(z).map(id16).collect()),
            Target::Node(n) => Resolved::Nodes(vec![id16(n)]),
            Target::Proc(p) => Resolved::Proc(id16(p)),
            Target::Selector(sel) => self.resolve_selector(sel),
        }
    }

    fn resolve_selector(&self, sel: Selector) -> Resolved {
        let pick = |kind: ProcKind| -> Option<ProcId> {
            self.layout
                .procs_of(kind)
                .find(|&p| self.procs[p].alive && self.procs[p].comp.acting())
                .map(id16)
        };
        let found = match sel {
            Selector::EtcdLeader => self.etcd_leader().map(Resolved::Proc),
            Selector::EtcdFollower => {
                let leader = self.etcd_leader();
                self.layout
                    .procs_of(ProcKind::Etcd)
                    .find(|&p| self.procs[p].alive && Some(id16(p)) != leader)
                    .map(|p| Resolved::Proc(id16(p)))
            }
            Selector::SchedulerLeader => pick(ProcKind::Scheduler).map(Resolved::Proc),
            Selector::ControllerManagerLeader => {
                pick(ProcKind::ControllerManager).map(Resolved::Proc)
            }
            Selector::VipHolder => self.vip_holder.map(|n| Resolved::Nodes(vec![n])),
        };
        found.unwrap_or(Resolved::Nothing(match sel {
            Selector::EtcdLeader => "no etcd member is leader",
            Selector::EtcdFollower => "no etcd follower is running",
            Selector::SchedulerLeader => "no kube-scheduler holds the lease",
            Selector::ControllerManagerLeader => "no kube-controller-manager holds the lease",
            Selector::VipHolder => "nobody holds the VIP",
        }))
    }

    /// The running etcd leader of the highest term.
    pub(super) fn etcd_leader(&self) -> Option<ProcId> {
        self.layout
            .procs_of(ProcKind::Etcd)
            .filter(|&p| self.procs[p].alive)
            .filter_map(|p| {
                self.procs[p]
                    .comp
                    .raft()
                    .filter(|r| r.role() == Role::Leader)
                    .map(|r| (r.term(), p))
            })
            .max()
            .map(|(_, p)| id16(p))
    }

    /// The nodes the targets stand for now (a process or selector stands for its node).
    fn nodes_of(&self, targets: &[Target]) -> Vec<NodeId> {
        let mut out = Vec::new();
        for &t in targets {
            match self.resolve(t) {
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
                if let Some(m) = self.procs[p as usize].comp.etcd_mut() {
                    m.set_slow_disk(fsync_ns);
                }
            }
        }
    }

    /// The nodes a certificate fault acts on: the target's, or every node but the load generator's.
    fn cert_nodes(&self, target: Option<Target>) -> Vec<NodeId> {
        match target {
            Some(t) => self.nodes_of(&[t]),
            None => {
                let client = self.procs[self.procs.len() - 1].node;
                (0..crate::engine::id16(self.layout.nodes.len()))
                    .filter(|&n| n != client)
                    .collect()
            }
        }
    }

    /// Sets the clocks of `ns` to run at `rate_ppm` from now, their wall clocks stepped by `step_ns`.
    fn skew_clocks(&mut self, ns: &[NodeId], rate_ppm: u64, step_ns: i64) {
        for &n in ns {
            self.clocks[n as usize].change(self.now, rate_ppm, step_ns);
            let c = &self.clocks[n as usize];
            let off = c.offset_ns();
            let text = format!(
                "{}: clock runs at {} x true time from now; its wall clock is {}{} off true time \
                 plus the monotonic lead (monotonic reading {} at true {})",
                self.node_name(n),
                c.rate_ppm() as f64 / 1e6,
                if off < 0 { "-" } else { "+" },
                crate::engine::fmt_duration(off.unsigned_abs()),
                crate::engine::fmt_duration(c.local(self.now)),
                crate::engine::fmt_duration(self.now)
            );
            let client = crate::engine::id16(self.procs.len() - 1);
            self.record(TraceKind::Log { proc: client, text });
            self.retime_timers(n);
        }
        if step_ns != 0 {
            self.certs.watch = true;
        }
    }

    fn proc_name(&self, p: ProcId) -> String {
        self.layout.procs[p as usize].name.clone()
    }

    /// Takes a host down: every process on it stops. A boot under way is cut short.
    pub fn node_down(&mut self, n: NodeId) {
        if self.booting[n as usize] {
            self.booting[n as usize] = false;
            self.boot_gen[n as usize] += 1;
        }
        if !self.net.host_up(n) {
            return;
        }
        self.net.set_host_up(n, false);
        self.record(TraceKind::Node { node: n, up: false });
        for p in 0..self.procs.len() {
            if self.procs[p].node == n {
                self.crash_proc(id16(p));
                let mut out = Vec::new();
                self.procs[p].comp.host_down(id16(p), &mut out);
                for o in out {
                    if let crate::components::ctx::Out::Trace(k) = o {
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

    /// Powers a host back on: it boots its OS for `settings.nodes.os_boot_time` (off the network
    /// meanwhile), then its processes start (static pods and system services start at boot).
    pub fn node_up(&mut self, n: NodeId) {
        if self.net.host_up(n) || self.booting[n as usize] {
            return;
        }
        self.booting[n as usize] = true;
        self.boot_gen[n as usize] += 1;
        let gen = self.boot_gen[n as usize];
        let at = self
            .now
            .saturating_add(self.scenario.settings.nodes.os_boot_time.ns());
        self.push(at, super::Event::Boot { node: n, gen });
    }

    /// The OS of node `n` is up: it joins the network and its processes start, each after its own
    /// start jitter; processes a fault still holds down stay down.
    pub(super) fn boot_done(&mut self, n: NodeId, gen: u32) {
        if !self.booting[n as usize] || self.boot_gen[n as usize] != gen {
            return;
        }
        self.booting[n as usize] = false;
        self.net.set_host_up(n, true);
        self.record(TraceKind::Node { node: n, up: true });
        self.schedule_starts(n, self.now);
    }

    pub(super) fn etcd_on(&self, n: NodeId) -> Option<ProcId> {
        self.procs
            .iter()
            .find(|p| p.node == n && p.comp.etcd().is_some())
            .map(|p| p.id)
    }

    /// Takes the snapshot a later `restore` fault will use: the store at the commit index of the most
    /// advanced running member (what `etcdctl snapshot save` against it would hold).
    pub(super) fn take_snapshot(&mut self, i: u16) {
        let best = self
            .layout
            .procs_of(ProcKind::Etcd)
            .filter(|&p| self.procs[p].alive)
            .filter_map(|p| self.procs[p].comp.raft().map(|r| (r.commit(), p)))
            .max();
        let snapshot = best.and_then(|(_, p)| {
            let member = self.procs[p].comp.etcd()?;
            let snap = member.save_snapshot()?;
            let raft = member.raft()?;
            let record = self
                .invariants
                .record_up_to(snap.index, |i| raft.log_term(i));
            Some((snap, record))
        });
        let n = snapshot.as_ref().map(|(s, _)| s.index).unwrap_or(0);
        let client = id16(self.procs.len() - 1);
        self.record(TraceKind::Log {
            proc: client,
            text: format!(
                "etcdctl snapshot save: snapshot of {n} committed entries taken for fault #{i}"
            ),
        });
        self.faults[i as usize].snapshot = snapshot;
    }

    fn restore(&mut self, i: u16) -> Result<(), String> {
        use crate::components::etcd::types::{DurableState, HardState};
        let Some((snapshot, record)) = self.faults[i as usize].snapshot.clone() else {
            return Err("no snapshot could be taken (no etcd member was running)".into());
        };
        let (index, term) = (snapshot.index, snapshot.term);
        let members: Vec<ProcId> = self.layout.procs_of(ProcKind::Etcd).map(id16).collect();
        for &p in &members {
            self.crash_proc(p);
            if let Some(m) = self.procs[p as usize].comp.etcd_mut() {
                // `etcdutl snapshot restore` writes the database and a fresh WAL starting at the
                // snapshot: the log begins after it.
                m.restore(DurableState {
                    hard: HardState {
                        term,
                        vote: 0,
                        commit: index,
                    },
                    snapshot: snapshot.clone(),
                    compacted: (index, term),
                    entries: Vec::new(),
                });
            }
        }
        self.invariants.restored(record);
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
        Ok(())
    }

    pub(super) fn fault_start(&mut self, i: u16) {
        let action = self.faults[i as usize].plan.action.clone();
        self.record(TraceKind::Fault {
            index: i,
            start: true,
        });
        let mut hit = Hit::default();
        match &action {
            FaultAction::Crash { target } => self.take_down(*target, false, &mut hit),
            FaultAction::Stop { target } => self.take_down(*target, true, &mut hit),
            FaultAction::Restart { target } => self.bring_up(*target, &mut hit),
            FaultAction::Partition { groups } => {
                let groups: Vec<Vec<NodeId>> = groups.iter().map(|g| self.nodes_of(g)).collect();
                let until_ns = self.faults[i as usize].end_ns.unwrap_or(Nanos::MAX);
                self.net.add_partition(i, &groups, until_ns);
                self.dirty = true;
            }
            FaultAction::Isolate { target } => {
                hit.nodes = self.nodes_of(&[*target]);
                let until_ns = self.faults[i as usize].end_ns.unwrap_or(Nanos::MAX);
                for &n in &hit.nodes {
                    self.net.isolate(n, true, until_ns);
                }
                self.dirty = true;
            }
            FaultAction::DegradeLink {
                between,
                latency_ns,
                loss,
            } => {
                let a = self.nodes_of(&between[..1]);
                let b = self.nodes_of(&between[1..]);
                let until_ns = self.faults[i as usize].end_ns.unwrap_or(Nanos::MAX);
                self.net
                    .add_degrade(i, &a, &b, *latency_ns, *loss, until_ns);
            }
            FaultAction::SlowDisk {
                target,
                fsync_latency_ns,
            } => {
                hit.nodes = self.nodes_of(&[*target]);
                self.set_slow_disks(&hit.nodes, Some(*fsync_latency_ns));
            }
            FaultAction::WipeData { target } => {
                hit.nodes = self.nodes_of(&[*target]);
                self.wipe(&hit.nodes);
            }
            FaultAction::Restore { .. } => {
                if let Err(why) = self.restore(i) {
                    hit.skipped = Some(why);
                }
            }
            FaultAction::Pause { target } => self.pause(*target, &mut hit),
            FaultAction::MemberRemove { target } => {
                hit.nodes = self.nodes_of(&[*target]);
                if let Err(why) = self.member_remove(&hit.nodes) {
                    hit.skipped = Some(why);
                }
            }
            FaultAction::MemberAdd { target } => {
                hit.nodes = self.nodes_of(&[*target]);
                if let Err(why) = self.member_add(i, &hit.nodes) {
                    hit.skipped = Some(why);
                }
            }
            FaultAction::Defrag { target } => {
                hit.nodes = self.nodes_of(&[*target]);
                if let Err(why) = self.defrag(&hit.nodes) {
                    hit.skipped = Some(why);
                }
            }
            FaultAction::AlarmDisarm => {
                if let Err(why) = self.alarm_disarm() {
                    hit.skipped = Some(why);
                }
            }
            FaultAction::ExpireCert { certs, target } => {
                hit.nodes = self.cert_nodes(*target);
                self.expire_certs(&hit.nodes, *certs);
            }
            FaultAction::RenewCert { certs, target } => {
                hit.nodes = self.cert_nodes(*target);
                self.renew_certs(&hit.nodes, *certs);
            }
            FaultAction::ClockSkew {
                target,
                offset_ns,
                rate_ppm,
            } => {
                hit.nodes = self.nodes_of(&[*target]);
                self.skew_clocks(&hit.nodes, *rate_ppm, *offset_ns);
            }
        }
        if hit.resolved.is_empty() && !hit.nodes.is_empty() {
            hit.resolved = self.node_names(&hit.nodes);
        }
        if let Some(why) = hit.skipped.clone() {
            let client = id16(self.procs.len() - 1);
            let target = self.faults[i as usize]
                .spec()
                .target
                .clone()
                .unwrap_or_default();
            self.record(TraceKind::Log {
                proc: client,
                text: format!(
                    "fault #{i} ({} {target}) did nothing: {why}",
                    action.kind().name()
                ),
            });
        }
        let f = &mut self.faults[i as usize];
        f.procs = hit.procs;
        f.nodes = hit.nodes;
        f.resolved = hit.resolved;
        f.did_nothing = hit.skipped;
        if let Some(end) = f.end_ns {
            if end <= self.end_ns {
                self.push(end, super::Event::FaultEnd(i));
            }
        }
    }

    /// `crash` and `stop`: the target's processes go down and are held down until the fault ends.
    fn take_down(&mut self, target: Target, graceful: bool, hit: &mut Hit) {
        match self.resolve(target) {
            Resolved::Nodes(ns) => {
                for &n in &ns {
                    for p in 0..self.procs.len() {
                        if self.procs[p].node == n {
                            self.procs[p].held_down += 1;
                            // The host goes down right after: no graceful shutdown outlives it.
                            if graceful && self.procs[p].alive {
                                self.dispatch(id16(p), |comp, ctx| {
                                    comp.stop(ctx);
                                });
                            }
                        }
                    }
                    self.node_down(n);
                }
                hit.nodes = ns;
            }
            Resolved::Proc(p) => {
                self.procs[p as usize].held_down += 1;
                // A process with a graceful shutdown (kube-apiserver) keeps running and exits by
                // itself (Out::Exit); the hold keeps the kubelet from restarting it meanwhile.
                let mut draining = false;
                if graceful && self.procs[p as usize].alive {
                    self.dispatch(p, |comp, ctx| {
                        draining = comp.stop(ctx) == crate::components::Stopping::Graceful
                    });
                }
                if !draining {
                    self.crash_proc(p);
                }
                hit.resolved = self.proc_name(p);
                hit.procs.push(p);
            }
            Resolved::Nothing(why) => hit.skipped = Some(why.to_string()),
        }
    }

    /// `restart`: what the target names starts again, whatever held it down.
    /// Restarting what is running does nothing (a running process is not restarted): the fault says
    /// so rather than passing silently.
    fn bring_up(&mut self, target: Target, hit: &mut Hit) {
        match self.resolve(target) {
            Resolved::Nodes(ns) => {
                let any_down = ns.iter().any(|&n| {
                    !self.net.host_up(n) || self.procs.iter().any(|p| p.node == n && !p.alive)
                });
                if !any_down {
                    hit.skipped = Some(format!(
                        "{} was running; restart starts only what is down; to power-cycle a node, crash it with `for`",
                        self.node_names(&ns)
                    ));
                }
                for &n in &ns {
                    for p in 0..self.procs.len() {
                        if self.procs[p].node == n {
                            self.procs[p].held_down = 0;
                        }
                    }
                    self.node_up(n);
                    for p in 0..self.procs.len() {
                        if self.procs[p].node == n {
                            self.start_proc(id16(p));
                        }
                    }
                }
                hit.resolved = self.node_names(&ns);
            }
            Resolved::Proc(p) => {
                if self.procs[p as usize].alive {
                    hit.skipped = Some(format!(
                        "{} was running; restart starts only what is down; to restart a process, crash it with `for`",
                        self.proc_name(p)
                    ));
                }
                self.procs[p as usize].held_down = 0;
                self.start_proc(p);
                hit.resolved = self.proc_name(p);
            }
            Resolved::Nothing(why) => hit.skipped = Some(why.to_string()),
        }
    }

    /// `wipe-data`: the etcd member on each node loses its data directory.
    fn wipe(&mut self, nodes: &[NodeId]) {
        for &n in nodes {
            if let Some(p) = self.etcd_on(n) {
                self.crash_proc(p);
                if let Some(m) = self.procs[p as usize].comp.etcd_mut() {
                    m.wipe();
                }
                self.invariants.data_loss_declared = true;
                self.record(TraceKind::Log {
                    proc: p,
                    text: "data directory wiped (member data lost)".into(),
                });
            }
        }
    }

    pub(super) fn fault_end(&mut self, i: u16) {
        let f = self.faults[i as usize].clone();
        self.record(TraceKind::Fault {
            index: i,
            start: false,
        });
        match f.plan.action {
            FaultAction::Crash { .. } | FaultAction::Stop { .. } => {
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
            FaultAction::Partition { .. } | FaultAction::DegradeLink { .. } => {
                self.net.heal(i);
                self.dirty = true;
            }
            FaultAction::Isolate { .. } => {
                for &n in &f.nodes {
                    self.net.isolate(n, false, 0);
                }
                self.dirty = true;
            }
            FaultAction::SlowDisk { .. } => self.set_slow_disks(&f.nodes, None),
            FaultAction::Pause { .. } => {
                for p in self.stalled_by(&f) {
                    self.resume(p);
                }
            }
            FaultAction::ExpireCert { certs, .. } => self.renew_certs(&f.nodes, certs),
            FaultAction::ClockSkew { offset_ns, .. } => {
                self.skew_clocks(&f.nodes, crate::world::clock::PERFECT_PPM, -offset_ns)
            }
            // A restart has nothing to undo; lost data does not come back.
            FaultAction::Restart { .. }
            | FaultAction::WipeData { .. }
            | FaultAction::Defrag { .. }
            | FaultAction::MemberRemove { .. }
            | FaultAction::MemberAdd { .. }
            | FaultAction::Restore { .. }
            | FaultAction::AlarmDisarm
            | FaultAction::RenewCert { .. } => {}
        }
    }

    /// The processes a `pause` stalled: those it named, or every process of the nodes it named.
    fn stalled_by(&self, f: &ResolvedFault) -> Vec<ProcId> {
        let mut ps = f.procs.clone();
        for &n in &f.nodes {
            ps.extend(
                (0..self.procs.len())
                    .filter(|&p| self.procs[p].node == n)
                    .map(crate::engine::id16),
            );
        }
        ps
    }

    /// `pause`: the target's running processes stall (a node's pause stalls every process on it, as
    /// a frozen VM does).
    fn pause(&mut self, target: Target, hit: &mut Hit) {
        let procs: Vec<ProcId> = match self.resolve(target) {
            Resolved::Nodes(ns) => {
                let ps = (0..self.procs.len())
                    .filter(|&p| ns.contains(&self.procs[p].node))
                    .map(crate::engine::id16)
                    .collect();
                hit.nodes = ns;
                ps
            }
            Resolved::Proc(p) => {
                hit.resolved = self.proc_name(p);
                hit.procs.push(p);
                vec![p]
            }
            Resolved::Nothing(why) => {
                hit.skipped = Some(why.to_string());
                return;
            }
        };
        let mut any = false;
        for p in procs {
            let proc = &mut self.procs[p as usize];
            if !proc.alive {
                continue;
            }
            any = true;
            proc.paused += 1;
            if proc.paused == 1 {
                self.record(TraceKind::Proc {
                    proc: p,
                    state: ProcState::Paused,
                });
            }
        }
        if !any {
            hit.skipped = Some("nothing it names was running".into());
        }
        self.dirty = true;
    }

    /// The end of a `pause` for one process: when no other pause holds it, it runs again, and what
    /// waited is handled.
    fn resume(&mut self, p: ProcId) {
        let proc = &mut self.procs[p as usize];
        if proc.paused == 0 {
            return;
        }
        proc.paused -= 1;
        if proc.paused > 0 {
            return;
        }
        // One look back through the trace: when the stall began, and what the lane showed before it
        // (ready or not), which it shows again.
        let mut since = None;
        let mut before = ProcState::Up;
        for e in self.trace.events.iter().rev() {
            if let TraceKind::Proc { proc, state } = e.kind {
                if proc != p {
                    continue;
                }
                match (state, since) {
                    (ProcState::Paused, None) => since = Some(e.time_ns),
                    (ProcState::Paused, Some(_)) => {}
                    (s, Some(_)) => {
                        before = s;
                        break;
                    }
                    (_, None) => {}
                }
            }
        }
        let since = since.unwrap_or(self.now);
        // The member's ticks are counted on its node's clock.
        let clock = &self.clocks[self.procs[p as usize].node as usize];
        let (since, now) = (clock.local(since), clock.local(self.now));
        if let Some(m) = self.procs[p as usize].comp.etcd_mut() {
            m.stalled(since, now);
        }
        self.record(TraceKind::Proc {
            proc: p,
            state: before,
        });
        self.release_held(p);
    }

    /// `defrag`: each node's etcd member locks its backend for a time growing with its database size
    /// (see [`DEFRAG_NS_PER_MB`]); the database shrinks to its live size.
    fn defrag(&mut self, nodes: &[NodeId]) -> Result<(), String> {
        let mut any = false;
        for &n in nodes {
            let Some(p) = self.etcd_on(n) else { continue };
            if !self.procs[p as usize].running() || self.procs[p as usize].defragging {
                continue;
            }
            let local_now = self.clocks[n as usize].local(self.now);
            let Some(before) = self.procs[p as usize]
                .comp
                .etcd_mut()
                .and_then(|m| m.defragment(local_now))
            else {
                continue;
            };
            any = true;
            let took = defrag_time_ns(before);
            self.record(TraceKind::Log {
                proc: p,
                text: format!(
                    "starting to defragment the storage backend (current-db-size-bytes {before}); \
                     no client request is served for about {}",
                    fmt_duration(took)
                ),
            });
            let proc = &mut self.procs[p as usize];
            proc.defragging = true;
            let inc = proc.incarnation;
            self.record(TraceKind::Proc {
                proc: p,
                state: ProcState::Unready,
            });
            self.push(
                self.now.saturating_add(took),
                super::Event::DefragDone { proc: p, inc },
            );
        }
        if any {
            Ok(())
        } else {
            Err("no running etcd member there".into())
        }
    }

    /// The member's defrag is done (if it is the same life of it).
    pub(super) fn defrag_done(&mut self, p: ProcId, inc: u32) {
        let proc = &mut self.procs[p as usize];
        if !proc.alive || proc.incarnation != inc || !proc.defragging {
            return;
        }
        proc.defragging = false;
        let size = self.procs[p as usize]
            .comp
            .etcd()
            .map_or(0, |m| m.db_size_bytes());
        self.record(TraceKind::Log {
            proc: p,
            text: format!(
                "finished defragmenting the storage backend (current-db-size-bytes {size})"
            ),
        });
        if self.procs[p as usize].paused == 0 {
            self.record(TraceKind::Proc {
                proc: p,
                state: ProcState::Up,
            });
        }
        self.release_held(p);
    }
}

/// How long bbolt takes to rewrite a database: 2.1 GB in 27 s in the case issue 18 cites (about
/// 78 MB/s); xiang90 in kubernetes/kubernetes#45090: "defrag is a blocking operation that can block
/// etcd up to 10 seconds if you have a large dataset and slow disk"; OpenShift's etcd docs: "on small
/// etcd databases, the defragmentation process happens in less than a second".
pub const DEFRAG_NS_PER_MB: Nanos = 27 * crate::engine::SEC / 2100;

/// The time a defrag of a database of `bytes` locks the backend.
fn defrag_time_ns(bytes: u64) -> Nanos {
    (bytes / 1_000_000)
        .saturating_mul(DEFRAG_NS_PER_MB)
        .saturating_add(bytes % 1_000_000 * DEFRAG_NS_PER_MB / 1_000_000)
}

/// What a fault hit when it fired.
#[derive(Default)]
struct Hit {
    procs: Vec<ProcId>,
    nodes: Vec<NodeId>,
    resolved: String,
    skipped: Option<String>,
}
